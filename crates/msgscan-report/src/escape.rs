//! Escaping of text from scanned code for each output syntax.
//!
//! Task, event and channel names, paths and messages come from the code msgscan reads, so
//! as far as a report is concerned they are untrusted: an event named
//! `<script>alert(1)</script>` must show as text in every format.

/// Text for HTML element content and attribute values (quoted with `"`).
/// Control characters are dropped.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Characters that can start inline syntax in CommonMark/GFM (HTML tags and entities,
/// links and images, emphasis, code spans, strikethrough, table cells, GitHub math).
const MD_INLINE: &[char] = &[
    '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '$', '!',
];

/// Plain Markdown text (CommonMark/GFM) inside a line: every character that can start
/// inline syntax is backslash-escaped, so nothing in it can open an HTML tag, a link,
/// emphasis, a code span or a table cell; line breaks become spaces. At the start of a
/// block use [`md_block_start`] too.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if MD_INLINE.contains(&c) {
            out.push('\\');
            out.push(c);
        } else if c == '\n' || c == '\r' || c == '\t' {
            out.push(' ');
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// Escapes what would make already-escaped text at the start of a paragraph or list item a
/// block (a heading, list, quote, thematic break or setext underline).
pub fn md_block_start(escaped: &str) -> String {
    let first = escaped.chars().next();
    if let Some(c) = first
        && matches!(c, '#' | '-' | '+' | '=' | '>' | '*')
    {
        return format!("\\{escaped}");
    }
    let digits = escaped.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        let rest = &escaped[digits..];
        if rest.starts_with('.') || rest.starts_with(')') {
            return format!("{}\\{}", &escaped[..digits], rest);
        }
    }
    escaped.to_string()
}

/// A name as Markdown inline code when that is safe (no backtick, no `|` that would split a
/// table cell, no line break), else as escaped plain text. Either way it renders as the
/// literal text.
pub fn md_code(s: &str) -> String {
    let plain = s.chars().all(|c| c != '`' && c != '|' && !c.is_control());
    if plain && !s.is_empty() && !s.starts_with(' ') && !s.ends_with(' ') {
        format!("`{s}`")
    } else {
        md_text(s)
    }
}

/// A Mermaid label (to be put inside `"..."`): everything outside a small safe set becomes
/// a numeric entity code (`#60;`), which Mermaid renders as the character, so a label can
/// contain neither markup nor Mermaid syntax.
pub fn mermaid(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '-' | '/' | ':' | '@' | ',') {
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push_str(&format!("#{};", u32::from(c)));
        }
    }
    out
}

/// The message part of a GitHub Actions workflow command (`::error ...::<message>`).
pub fn gh_data(s: &str) -> String {
    // GitHub renders ANSI escapes in logs: control characters from scanned code go.
    s.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r') {
                '?'
            } else {
                c
            }
        })
        .collect::<String>()
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of a GitHub Actions workflow command (`file=<value>,...`).
pub fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Makes serialised JSON safe to embed or display in HTML tooling: `<`, `>` and `&`
/// (which in JSON can only occur inside strings) become `\u003c`, `\u003e`, `\u0026`. The
/// JSON value is unchanged.
pub fn json_html_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// Shortens `s` to at most `max` characters, with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Shortens `s` to at most `max` characters by cutting its start (the end of a path or a
/// dotted task name is the informative part).
pub fn truncate_left(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - max.saturating_sub(1)));
    out
}

/// Splits a message at backticks: `(text, is_code)` pieces, code where the rule's message
/// template quoted a name. An unbalanced backtick leaves the rest as text.
pub fn code_pieces(s: &str) -> Vec<(&str, bool)> {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return vec![(s, false)];
    }
    parts
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, p)| (p, i % 2 == 1))
        .collect()
}

/// A message as HTML, with its backticked names as `<code>`.
pub fn html_message(s: &str) -> String {
    code_pieces(s)
        .into_iter()
        .map(|(p, code)| {
            if code {
                format!("<code>{}</code>", html(p))
            } else {
                html(p)
            }
        })
        .collect()
}

/// A message as Markdown, with its backticked names as code spans.
pub fn md_message(s: &str) -> String {
    code_pieces(s)
        .into_iter()
        .map(|(p, code)| if code { md_code(p) } else { md_text(p) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XSS: &str = "<script>alert(1)</script>";

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(XSS),
            "&lt;script&gt;alert(1)&lt;/script&gt;".to_string()
        );
        assert_eq!(html("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
    }

    #[test]
    fn markdown_text_escapes_every_punctuation() {
        assert_eq!(md_text(XSS), "\\<script\\>alert(1)\\</script\\>");
        assert_eq!(
            md_text("[x](javascript:y) *a* $b$"),
            "\\[x\\](javascript:y) \\*a\\* \\$b\\$"
        );
        assert_eq!(md_block_start("# title"), "\\# title");
        assert_eq!(md_block_start("12. item"), "12\\. item");
        assert_eq!(md_block_start("2 findings"), "2 findings");
        assert_eq!(md_text("a|b\nc"), "a\\|b c");
        assert_eq!(md_code("orders.created"), "`orders.created`");
        assert_eq!(md_code("a`b"), "a\\`b");
        assert_eq!(md_code("a|b"), "a\\|b");
    }

    #[test]
    fn mermaid_labels_use_entity_codes() {
        let m = mermaid("<b>\"x\"</b>]");
        assert!(!m.contains('<') && !m.contains('"') && !m.contains(']'));
        assert_eq!(mermaid("a<b"), "a#60;b");
    }

    #[test]
    fn github_commands_escape_percent_newlines_and_separators() {
        assert_eq!(gh_data("100%\r\n::error::x"), "100%25%0D%0A::error::x");
        assert_eq!(gh_property("a:b,c\n"), "a%3Ab%2Cc%0A");
    }

    #[test]
    fn messages_keep_their_code_spans_escaped() {
        assert_eq!(
            html_message("Task `<b>` sets `x`"),
            "Task <code>&lt;b&gt;</code> sets <code>x</code>"
        );
        assert_eq!(html_message("odd ` tick"), "odd ` tick");
        assert_eq!(md_message("Task `a|b` ok"), "Task a\\|b ok");
        assert_eq!(truncate_left("abcdef", 4), "…def");
    }

    #[test]
    fn json_stays_json() {
        let s =
            serde_json::to_string(&serde_json::json!({ "n": XSS, "a": "&" })).unwrap_or_default();
        let safe = json_html_safe(&s);
        assert!(!safe.contains('<') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
        assert_eq!(back["n"], XSS);
    }
}
