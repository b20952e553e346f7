//! Checks the model's text against the report: every number, rule id, file path and name
//! it writes must be one the report states. The first problems found are returned in
//! words, for the report's note.

use msgscan_report::narrative::Section;

use crate::digest::Evidence;
use crate::markup;

const SOURCE_EXTENSIONS: &[&str] = &[
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".sql", ".toml",
    ".json", ".yaml", ".yml", ".go", ".rb", ".java", ".rs",
];

/// Words that look like identifiers but are ordinary prose or technology names.
const PROSE_TOKENS: &[&str] = &[
    "e.g",
    "i.e",
    "etc",
    "vs",
    "node.js",
    "socket.io",
    "next.js",
    "asp.net",
    "n/a",
    "and/or",
    "i/o",
    "read/write",
    "producer/consumer",
    "producers/consumers",
    "send/receive",
    "publish/subscribe",
    "pub/sub",
    "request/response",
    "24/7",
];

const NUMBER_WORDS: &[(&str, u32)] = &[
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
];

/// Numbers written in `s` (digit runs, with a decimal part), normalised. Digits inside
/// identifiers (`v2`, `sha256`, `utf-8`) are not numbers.
pub fn numbers_in(s: &str) -> Vec<String> {
    numbers_with_pos(s).into_iter().map(|(n, _, _)| n).collect()
}

/// Numbers written as words (`two` to `twenty`) in `s`.
pub fn number_words_in(s: &str) -> Vec<u32> {
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter_map(|w| {
            let w = w.to_ascii_lowercase();
            NUMBER_WORDS.iter().find(|(n, _)| *n == w).map(|(_, v)| *v)
        })
        .collect()
}

/// (normalised number, start byte, end byte)
fn numbers_with_pos(s: &str) -> Vec<(String, usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        let end = i;
        let prev_ok = start == 0 || {
            let p = b[start - 1];
            !(p.is_ascii_alphanumeric() || p == b'_' || p == b'-' || p == b'.')
        };
        let next = b.get(end).copied();
        let ordinal = s[end..].starts_with("st")
            || s[end..].starts_with("nd")
            || s[end..].starts_with("rd")
            || s[end..].starts_with("th");
        let next_ok = match next {
            None => true,
            Some(c) => !(c.is_ascii_alphanumeric() || c == b'_') || ordinal,
        };
        if prev_ok && next_ok {
            out.push((normalise(&s[start..end]), start, end));
        }
    }
    out
}

fn normalise(n: &str) -> String {
    match n.split_once('.') {
        Some((int, frac)) => {
            let int = int.trim_start_matches('0');
            let frac = frac.trim_end_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            if frac.is_empty() {
                int.to_string()
            } else {
                format!("{int}.{frac}")
            }
        }
        None => {
            let t = n.trim_start_matches('0');
            if t.is_empty() { "0".into() } else { t.into() }
        }
    }
}

/// Tokens that look like identifiers, paths or ids: words containing `_`, `/`, `.`, `:`,
/// `-` or `@` between other characters. Trailing punctuation is trimmed.
pub fn identifier_tokens(s: &str) -> Vec<&str> {
    s.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '(' | ')'
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | ','
                    | ';'
                    | '"'
                    | '`'
                    | '\''
                    | '<'
                    | '>'
                    | '*'
                    | '!'
                    | '?'
                    | '='
            )
    })
    .map(|t| t.trim_matches(|c: char| matches!(c, '.' | ':' | '-' | '/' | '@')))
    .filter(|t| {
        t.len() > 1
            && t.chars().any(|c| c.is_ascii_alphabetic())
            && t.contains(['_', '/', '.', ':', '-', '@'])
    })
    .collect()
}

fn is_pathlike(t: &str) -> bool {
    (t.contains('/') && !t.contains("://"))
        || SOURCE_EXTENSIONS
            .iter()
            .any(|e| t.to_ascii_lowercase().ends_with(e))
}

fn is_kebab(t: &str) -> bool {
    t.contains('-')
        && t.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

struct Checker<'a> {
    ev: &'a Evidence,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn problem(&mut self, p: String) {
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    fn known_name(&self, t: &str) -> bool {
        let ev = self.ev;
        ev.names.contains(t)
            || ev.paths.contains(t)
            || ev.fired_rules.contains(t)
            || ev.tokens.contains(t)
            || PROSE_TOKENS.contains(&t.to_ascii_lowercase().as_str())
            // A name with a backtick cannot be written as one code span: accept its pieces.
            || ev.names.iter().any(|n| n.contains('`') && n.contains(t))
    }

    fn known_path(&self, t: &str) -> bool {
        self.ev.paths.contains(t)
            || self
                .ev
                .paths
                .iter()
                .any(|p| p.ends_with(t) && p[..p.len() - t.len()].ends_with('/'))
    }

    /// `path:line` where the path is known.
    fn location(&mut self, t: &str) -> bool {
        let Some((path, line)) = t.rsplit_once(':') else {
            return false;
        };
        let Ok(line) = line.parse::<u32>() else {
            return false;
        };
        if !self.known_path(path) {
            return false;
        }
        let ok = self
            .ev
            .lines
            .iter()
            .filter(|(p, _)| *p == path || p.ends_with(&format!("/{path}")))
            .any(|(_, lines)| lines.contains(&line));
        if !ok {
            self.problem(format!(
                "it points at `{t}`, a line the report does not mention"
            ));
        }
        true
    }

    /// A name the model wrote as code, or an identifier-like token in its prose.
    fn name(&mut self, t: &str, in_code: bool) {
        let t = t.trim();
        if t.is_empty() || self.known_name(t) {
            return;
        }
        if self.location(t) {
            return;
        }
        let family = t.split('-').next().unwrap_or("");
        if is_kebab(t) && self.ev.rule_families.contains(family) {
            if self.ev.known_rules.contains(t) {
                self.problem(format!(
                    "it names rule `{t}`, which did not fire in this project"
                ));
                return;
            }
            if in_code || t.matches('-').count() >= 2 {
                self.problem(format!(
                    "it names `{t}`, which is not a rule id msgscan knows"
                ));
                return;
            }
        }
        if is_pathlike(t) {
            if !self.known_path(t) {
                self.problem(format!(
                    "it names the file `{t}`, which is not in the report"
                ));
            }
            return;
        }
        if in_code {
            if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
                self.number(&normalise(t), false);
                return;
            }
            self.problem(format!("it names `{t}`, which is not in the report"));
            return;
        }
        // Prose: dotted or snake_case identifiers must be known; kebab-case words are prose.
        if t.contains(['_', '.', ':', '@']) && !t.contains("://") {
            self.problem(format!("it names `{t}`, which is not in the report"));
        }
    }

    fn number(&mut self, n: &str, score: bool) {
        if score {
            let ok = n.parse::<u32>().is_ok_and(|v| self.ev.scores.contains(&v));
            if !ok {
                self.problem(format!(
                    "it gives a score of {n}/100, which is not one of the report's scores"
                ));
            }
            return;
        }
        if !self.ev.numbers.contains(n) {
            self.problem(format!(
                "it states the number {n}, which is not in the report"
            ));
        }
    }

    fn prose(&mut self, text: &str) {
        // Identifier-like tokens first; their digits are not numbers.
        let mut blanked = text.to_string();
        for t in identifier_tokens(text) {
            self.name(t, false);
            if t.chars().any(|c| c.is_ascii_alphabetic()) {
                blanked = blanked.replace(t, " ");
            }
        }
        for (n, start, end) in numbers_with_pos(&blanked) {
            let before = blanked[..start].trim_end().to_ascii_lowercase();
            if (before.ends_with("section") || before.ends_with("sections"))
                && n.parse::<u32>().is_ok_and(|v| (1..=8).contains(&v))
            {
                continue;
            }
            let after = &blanked[end..];
            let score = after.trim_start().starts_with("/100")
                || after.trim_start().starts_with("/ 100")
                || after.trim_start().starts_with("out of 100");
            if n == "100" && before.ends_with('/') {
                continue;
            }
            self.number(&n, score);
        }
        for word in text.split(|c: char| !c.is_ascii_alphabetic()) {
            let w = word.to_ascii_lowercase();
            if let Some((_, v)) = NUMBER_WORDS.iter().find(|(name, _)| *name == w)
                && !self.ev.numbers.contains(&v.to_string())
            {
                self.problem(format!(
                    "it states the number {w} ({v}), which is not in the report"
                ));
            }
        }
    }
}

/// Problems with a section the model wrote; empty when every claim checks out.
pub fn check(section: &Section, ev: &Evidence) -> Vec<String> {
    let mut c = Checker {
        ev,
        problems: Vec::new(),
    };
    for span in markup::code_spans(section) {
        c.name(span, true);
    }
    c.prose(&markup::prose(section));
    c.problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_not_identifier_digits() {
        assert_eq!(
            numbers_in("3 findings, score 62/100, v2 and sha256, 2.50 GB, 1st, 25%"),
            vec!["3", "62", "100", "2.5", "1", "25"]
        );
    }

    #[test]
    fn finds_identifier_tokens() {
        assert_eq!(
            identifier_tokens(
                "See app/tasks.py:12, the orders.created event and send_email; well-known."
            ),
            vec![
                "app/tasks.py:12",
                "orders.created",
                "send_email",
                "well-known"
            ]
        );
    }
}
