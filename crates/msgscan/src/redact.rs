//! Masking of secrets written in scanned code (passwords in URLs, API keys, tokens) in the
//! source text kept for report snippets. Masking keeps every byte offset: each masked byte
//! becomes `*`, so spans and line/column positions into the text stay valid.

/// Prefixes of well-known credential formats; the token that follows is masked.
const KEY_PREFIXES: &[&str] = &[
    "AKIA",
    "ASIA", // AWS access key ids
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_", // Stripe
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_", // GitHub
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",  // Slack
    "AIza",   // Google API keys
    "glpat-", // GitLab
    "SG.",    // SendGrid
];

/// Words that make a quoted value on the same line a secret.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "credential",
    "service_role",
    "anon_key",
];

/// Visible characters kept at the start of a masked value (a prefix such as `sk_l`).
const KEEP: usize = 4;

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'+' | b'=')
}

/// `text` with secrets masked, same length in bytes, same line breaks. Each line is masked
/// on its own (no pattern reads across a line break), so masking some lines of a file masks
/// them as masking the whole file would.
pub(crate) fn redact(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mask = |from: usize, to: usize, bytes: &mut Vec<u8>| {
        for b in bytes.iter_mut().take(to).skip(from) {
            // Only ASCII bytes are replaced, so the text stays valid UTF-8.
            if b.is_ascii() && !b.is_ascii_whitespace() {
                *b = b'*';
            }
        }
    };
    let src = text.as_bytes();
    // Passwords in URLs: scheme://user:PASSWORD@host
    let mut at = 0;
    while let Some(i) = text[at..].find("://") {
        let start = at + i + 3;
        let end = src[start..]
            .iter()
            .position(|&b| {
                b.is_ascii_whitespace() || matches!(b, b'/' | b'"' | b'\'' | b'`' | b'?' | b'#')
            })
            .map_or(src.len(), |p| start + p);
        if let Some(rel_at) = src[start..end].iter().rposition(|&b| b == b'@')
            && let Some(colon) = src[start..start + rel_at].iter().position(|&b| b == b':')
        {
            mask(start + colon + 1, start + rel_at, &mut bytes);
        }
        at = start;
    }
    // Well-known key formats and JWTs, at token starts.
    let mut i = 0;
    while i < src.len() {
        let at_start = i == 0 || !is_token_byte(src[i - 1]);
        if at_start {
            let rest = &src[i..];
            let keyed = KEY_PREFIXES.iter().any(|p| rest.starts_with(p.as_bytes()));
            let jwt = rest.starts_with(b"eyJ");
            if keyed || jwt {
                let len = src[i..].iter().take_while(|&&b| is_token_byte(b)).count();
                let token = &src[i..i + len];
                let dots = token.iter().filter(|&&b| b == b'.').count();
                if (keyed && len >= 16) || (jwt && dots >= 2 && len >= 24) {
                    mask(i + KEEP, i + len, &mut bytes);
                    i += len;
                    continue;
                }
            }
        }
        i += 1;
    }
    // Quoted values on lines that name a secret (`AWS_SECRET_ACCESS_KEY = '...'`).
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
            let lb = line.as_bytes();
            let mut j = 0;
            while j < lb.len() {
                let q = lb[j];
                if matches!(q, b'"' | b'\'' | b'`') {
                    let Some(len) = lb[j + 1..].iter().position(|&b| b == q) else {
                        break;
                    };
                    let value = &lb[j + 1..j + 1 + len];
                    // Secret-looking: long, one token, letters and digits mixed (so
                    // `"stripe-signature"` or `"socket.io"` beside a `secret` stay).
                    let looks_random = len >= 16
                        && value.iter().all(|&b| is_token_byte(b))
                        && value.iter().any(u8::is_ascii_digit)
                        && value.iter().any(u8::is_ascii_alphabetic);
                    if looks_random {
                        let from = line_start + j + 1;
                        mask(from + KEEP, from + len, &mut bytes);
                    }
                    j += len + 2;
                } else {
                    j += 1;
                }
            }
        }
        line_start += line.len();
    }
    // Only ASCII bytes were replaced by ASCII bytes.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_secrets_keeping_offsets() {
        let cases = [
            ("broker='redis://user:hunter22@host:6379/0'", "hunter22"),
            ("x = 'amqp://:p%40ss@mq:5672//'", "p%40ss"),
            ("key = 'AKIAIOSFODNN7EXAMPLE'", "IOSFODNN7EXAMPLE"),
            ("stripe('sk_live_51HxYzSECRETstripeKEY')", "SECRETstripeKEY"),
            (
                "const t = eyJhbGciOi.eyJyb2xlIjoi.c2lnbmF0dXJl;",
                "c2lnbmF0dXJl",
            ),
            (
                "AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG'",
                "XUtnFEMI/K7MDENG",
            ),
        ];
        for (text, secret) in cases {
            let out = redact(text);
            assert_eq!(out.len(), text.len(), "{text}");
            assert!(!out.contains(secret), "{text} -> {out}");
        }
        // Code without secrets is unchanged, multi-byte text included.
        let plain = "app = Celery('café', broker='redis://cache:6379/0')\nname = 'orders.sync'\n";
        assert_eq!(redact(plain), plain);
        assert_eq!(redact("s = 'http://user@host/'"), "s = 'http://user@host/'");
        let named = "sig = req.headers['stripe-signature'] # secret, socket.io credentials";
        assert_eq!(redact(named), named);
        // Line by line: the whole text masks as its lines do one by one.
        let lines: Vec<&str> = cases
            .iter()
            .map(|(t, _)| *t)
            .chain([plain, named])
            .collect();
        let whole = redact(&lines.join("\n"));
        let each: Vec<String> = lines.iter().map(|l| redact(l)).collect();
        assert_eq!(whole, each.join("\n"));
    }
}
