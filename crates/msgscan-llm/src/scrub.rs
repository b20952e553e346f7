//! Masks anything secret-looking in text before it leaves the machine.
//!
//! Detectors already mask some values (a broker URL's password becomes `***`), but the
//! payload sent to a model also carries finding messages, fact attributes and, when the
//! user opts in, source lines. This pass runs over every string that is sent, whatever its
//! origin: credentials in URLs, `key = value` assignments whose key names a secret, and
//! tokens with a recognisable shape (cloud keys, API keys, JWTs, private key blocks) or a
//! long high-entropy run.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a masked value is replaced with.
pub const MASK: &str = "***";

static URL_USERINFO: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // scheme://user:password@host  (the password may be empty; `***` is left alone)
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s:/@'\x22`]*):([^\s@/'\x22`]+)@").ok()
});

static PRIVATE_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)")
        .ok()
});

static ASSIGNMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // password = "x", "api_key": "x", SECRET_KEY='x', token: x, Authorization: Bearer x
    Regex::new(
        r#"(?i)((?:[a-z0-9_.\-]*(?:passw(?:or)?d|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|client[_\-]?secret|credentials?|auth(?:orization)?|signing[_\-]?key|service[_\-]?role[_\-]?key|anon[_\-]?key)[a-z0-9_.\-]*)["']?\s*(?:=|:|=>)\s*(?:bearer\s+|basic\s+)?)(["'`]?)([^\s"'`,;})\]]+)"#,
    )
    .ok()
});

static TOKEN_SHAPES: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:",
        r"sk-ant-[A-Za-z0-9_\-]{8,}",                     // Anthropic
        r"|sk-(?:proj-|live-|test-)?[A-Za-z0-9_\-]{16,}", // OpenAI and look-alikes
        r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}",   // Stripe
        r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}", // GitHub
        r"|xox[abprs]-[A-Za-z0-9\-]{10,}",                // Slack
        r"|(?:AKIA|ASIA)[0-9A-Z]{16}",                    // AWS access key id
        r"|AIza[0-9A-Za-z_\-]{30,}",                      // Google API key
        r"|glpat-[A-Za-z0-9_\-]{16,}",                    // GitLab
        r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", // JWT
        r")"
    ))
    .ok()
});

static LONG_RUN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/=_\-]{32,}").ok());

/// `text` with every secret-looking value replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if let Some(re) = PRIVATE_KEY.as_ref() {
        out = replace(out, re, |_| format!("-----{MASK} PRIVATE KEY-----"));
    }
    if let Some(re) = URL_USERINFO.as_ref() {
        out = replace(out, re, |c| {
            if &c[3] == MASK {
                c[0].to_string()
            } else {
                format!("{}{}:{MASK}@", &c[1], &c[2])
            }
        });
    }
    if let Some(re) = TOKEN_SHAPES.as_ref() {
        out = replace(out, re, |_| MASK.to_string());
    }
    if let Some(re) = ASSIGNMENT.as_ref() {
        out = replace(out, re, |c| {
            let value = &c[3];
            // Leave already-masked values, references to other variables and calls alone:
            // `password = os.environ["X"]` is how it should be done.
            if value == MASK || value.starts_with(MASK) || looks_like_reference(value) {
                c[0].to_string()
            } else {
                format!("{}{}{MASK}", &c[1], &c[2])
            }
        });
    }
    if let Some(re) = LONG_RUN.as_ref() {
        out = replace(out, re, |c| {
            if high_entropy(&c[0]) {
                MASK.to_string()
            } else {
                c[0].to_string()
            }
        });
    }
    out
}

fn replace<'a>(
    text: Cow<'a, str>,
    re: &Regex,
    f: impl Fn(&Captures<'_>) -> String,
) -> Cow<'a, str> {
    if !re.is_match(&text) {
        return text;
    }
    Cow::Owned(re.replace_all(&text, |c: &Captures<'_>| f(c)).into_owned())
}

/// `os.environ[...]`, `process.env.X`, `settings.SECRET`, `getenv(`: a name, not a value.
fn looks_like_reference(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    v.starts_with("os.")
        || v.starts_with("process.env")
        || v.starts_with("env")
        || v.starts_with("getenv")
        || v.starts_with("settings.")
        || v.starts_with("config")
        || v.starts_with("${")
        || v.contains('(')
        || v == "none"
        || v == "null"
        || v == "undefined"
        || v == "true"
        || v == "false"
        || v.len() < 4
}

/// A run that mixes letters and digits with a high character entropy: a key, not a word or
/// a path segment.
fn high_entropy(s: &str) -> bool {
    let has_digit = s.bytes().any(|b| b.is_ascii_digit());
    let has_alpha = s.bytes().any(|b| b.is_ascii_alphabetic());
    if !(has_digit && has_alpha) {
        return false;
    }
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy > 3.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords() {
        assert_eq!(
            scrub("amqp://guest:hunter2@rabbit:5672//"),
            "amqp://guest:***@rabbit:5672//"
        );
        assert_eq!(
            scrub("dsn postgresql://app:s3cr3t-pw@db.internal/app?sslmode=require"),
            "dsn postgresql://app:***@db.internal/app?sslmode=require"
        );
        // Already masked by the detector: unchanged.
        assert_eq!(
            scrub("redis://:***@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        // No credentials: unchanged.
        assert_eq!(scrub("redis://cache:6379/0"), "redis://cache:6379/0");
    }

    #[test]
    fn masks_assignments_to_secret_names() {
        let s = scrub(r#"SECRET_KEY = "django-insecure-abc123" and api_key: 'k-9f8e7d6c'"#);
        assert!(!s.contains("django-insecure-abc123"), "{s}");
        assert!(!s.contains("k-9f8e7d6c"), "{s}");
        let s = scrub(r#"{"password": "pw0rd!", "user": "bob"}"#);
        assert!(!s.contains("pw0rd!"), "{s}");
        assert!(s.contains("bob"), "{s}");
        let s = scrub("headers: {Authorization: Bearer abc.def.ghi123}");
        assert!(!s.contains("abc.def.ghi123"), "{s}");
        // References to the environment are how secrets should be passed: kept.
        let s = scrub("password = os.environ['DB_PASSWORD']");
        assert_eq!(s, "password = os.environ['DB_PASSWORD']");
        let s = scrub("const token = process.env.TOKEN");
        assert_eq!(s, "const token = process.env.TOKEN");
    }

    #[test]
    fn masks_token_shapes() {
        for secret in [
            "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2",
            "sk-ant-api03-abcdefghijklmnop",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-123456789012-abcdefghij",
            "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXZhbHVl",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ] {
            let text = format!("client = make({secret})");
            let s = scrub(&text);
            assert!(!s.contains(secret), "{secret} survived: {s}");
            assert!(s.contains(MASK), "{s}");
        }
    }

    #[test]
    fn masks_private_keys_and_random_runs_but_not_names() {
        let s = scrub("-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----");
        assert!(!s.contains("MIIEabc"), "{s}");
        let s = scrub("key 9fA3kQ7zL0pX2mV8bN4cR6tY1wE5uI0o used");
        assert!(!s.contains("9fA3kQ7zL0pX2mV8bN4cR6tY1wE5uI0o"), "{s}");
        // Names, rule ids and paths stay.
        for keep in [
            "celery-task-without-retry-policy at app/tasks/process_payment_notifications.py:12",
            "orders.created",
            "supabase-service-role-key-in-client",
            "`send_welcome_email` has no retry policy",
        ] {
            assert_eq!(scrub(keep), keep);
        }
    }
}
