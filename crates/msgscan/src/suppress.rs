//! Inline suppressions, read from the text the analyze step already holds:
//! `msgscan: ignore[rule-id, ...]` on a finding's line or the line above, and
//! `msgscan: ignore-file[rule-id, ...]` anywhere in the file, in any comment syntax
//! (`#`, `//`, `--`, `/* */`). Ids may be prefixes (`celery-` or `celery`).

/// One suppression comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suppression {
    /// 1-based line and columns (characters) of the `msgscan: ...` directive.
    pub line: u32,
    pub column: u32,
    pub end_column: u32,
    pub rules: Vec<String>,
    pub file_level: bool,
}

impl Suppression {
    /// Whether this suppression covers a finding of `rule` starting on `line`.
    pub fn covers(&self, rule: &str, line: u32) -> bool {
        (self.file_level || line == self.line || line == self.line + 1)
            && self
                .rules
                .iter()
                .any(|r| msgscan_config::specificity(r, rule).is_some())
    }
}

const COMMENT_OPENERS: &[&str] = &["#", "//", "--", "/*"];

/// Every suppression in `text`. Cheap on files without the marker (one substring search).
pub(crate) fn parse(text: &str) -> Vec<Suppression> {
    let mut out = Vec::new();
    if !text.contains("msgscan:") {
        return out;
    }
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find("msgscan:") {
            let start = from + pos;
            from = start + "msgscan:".len();
            // Only inside a comment: a comment opener before the directive on this line.
            let before = &line[..start];
            if !COMMENT_OPENERS.iter().any(|o| before.contains(o)) {
                continue;
            }
            let rest = line[from..].trim_start();
            let (file_level, rest) = if let Some(r) = rest.strip_prefix("ignore-file") {
                (true, r)
            } else if let Some(r) = rest.strip_prefix("ignore") {
                (false, r)
            } else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix('[') else {
                continue;
            };
            let Some(close) = rest.find(']') else {
                continue;
            };
            let rules: Vec<String> = rest[..close]
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            if rules.is_empty() {
                continue;
            }
            let end_byte = line.len() - rest.len() + close + 1;
            out.push(Suppression {
                line: i as u32 + 1,
                column: line[..start].chars().count() as u32 + 1,
                end_column: line[..end_byte].chars().count() as u32 + 1,
                rules,
                file_level,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_comment_syntax() {
        let text = "x = 1  # msgscan: ignore[celery-unbounded-retries]\n\
                    // msgscan: ignore[a, b-c]\n\
                    -- msgscan: ignore-file[topology-]\n\
                    /* msgscan: ignore[node] */\n\
                    s = 'msgscan: ignore[not-a-comment]'\n\
                    # msgscan: ignore\n";
        let s = parse(text);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].rules, vec!["celery-unbounded-retries"]);
        assert_eq!((s[0].line, s[0].column), (1, 10));
        assert_eq!(s[1].rules, vec!["a", "b-c"]);
        assert!(s[2].file_level);
        assert_eq!(s[3].rules, vec!["node"]);
        assert!(s[3].covers("node-emitter-async-listener", 5));
        assert!(!s[3].covers("node-emitter-async-listener", 6));
        assert!(!s[0].covers("celery-unbounded", 1));
        assert!(s[2].covers("topology-orphan-producer", 99));
    }
}
