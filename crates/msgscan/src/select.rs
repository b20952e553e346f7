//! Choosing rules by id or prefix, as `--select` / `--ignore` (and a project's
//! configuration) do.
//!
//! A selector is a rule id (`celery-pickle-serializer`) or a prefix of ids that ends at a
//! `-` boundary (`celery`, `celery-`, `node-emitter`; a trailing `*` is allowed). A
//! selector that matches no rule is an error with a suggestion, so a typo never silently
//! disables checking.

use msgscan_rulebook::{Rule, Rulebook};

/// A selector that names no rule.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("unknown rule or prefix `{selector}` in {flag}")]
#[diagnostic(code(msgscan::select), help("{help}"))]
pub struct SelectError {
    pub selector: String,
    /// Where it came from (`--select`, `--ignore`, a configuration key).
    pub flag: String,
    pub help: String,
}

fn normalise(selector: &str) -> &str {
    selector.trim().trim_end_matches('*').trim_end_matches('-')
}

/// Whether `selector` (an id or a `-`-boundary prefix) covers `rule_id`.
pub fn selector_matches(selector: &str, rule_id: &str) -> bool {
    let s = normalise(selector);
    !s.is_empty()
        && (rule_id == s
            || rule_id
                .strip_prefix(s)
                .is_some_and(|rest| rest.starts_with('-')))
}

fn check(book: &Rulebook, selectors: &[String], flag: &str) -> Result<(), SelectError> {
    for s in selectors {
        if book.rules().iter().any(|r| selector_matches(s, &r.id)) {
            continue;
        }
        let candidates = book.rules().iter().map(|r| r.id.as_str()).chain(
            book.rules()
                .iter()
                .filter_map(|r| r.id.split_once('-').map(|(family, _)| family)),
        );
        let help = match nearest(normalise(s), candidates) {
            Some(near) => format!("did you mean `{near}`? `msgscan rules` lists the rules"),
            None => "`msgscan rules` lists the rules; a prefix such as `celery` selects a family"
                .to_string(),
        };
        return Err(SelectError {
            selector: s.clone(),
            flag: flag.to_string(),
            help,
        });
    }
    Ok(())
}

/// Keeps the rules that `select` covers (all rules when it is empty) and that `ignore`
/// does not cover. Every selector must match at least one rule of `book`.
pub fn select_rules(
    book: &mut Rulebook,
    select: &[String],
    ignore: &[String],
) -> Result<(), SelectError> {
    check(book, select, "--select")?;
    check(book, ignore, "--ignore")?;
    book.retain(|r: &Rule| {
        (select.is_empty() || select.iter().any(|s| selector_matches(s, &r.id)))
            && !ignore.iter().any(|s| selector_matches(s, &r.id))
    });
    Ok(())
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = levenshtein(word, c);
        if best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    (d <= (word.chars().count() / 3).max(2)).then_some(c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_and_prefixes_at_dash_boundaries() {
        assert!(selector_matches("celery", "celery-pickle-serializer"));
        assert!(selector_matches("celery-", "celery-pickle-serializer"));
        assert!(selector_matches("celery*", "celery-pickle-serializer"));
        assert!(selector_matches(
            "celery-pickle-serializer",
            "celery-pickle-serializer"
        ));
        assert!(!selector_matches("cel", "celery-pickle-serializer"));
        assert!(!selector_matches("celery-p", "celery-pickle-serializer"));
        assert!(!selector_matches("", "celery-pickle-serializer"));
    }

    #[test]
    fn select_then_ignore_and_typos_are_errors() {
        let mut book = Rulebook::builtin().unwrap();
        select_rules(
            &mut book,
            &["celery".into()],
            &["celery-pickle-serializer".into()],
        )
        .unwrap();
        assert!(book.rules().iter().all(|r| r.id.starts_with("celery-")));
        assert!(book.rule("celery-pickle-serializer").is_none());
        assert!(book.rule("celery-unbounded-retries").is_some());

        let mut book = Rulebook::builtin().unwrap();
        let err = select_rules(&mut book, &["celery-unbounded-retry".into()], &[]).unwrap_err();
        assert_eq!(err.flag, "--select");
        assert!(
            err.help.contains("`celery-unbounded-retries`"),
            "{}",
            err.help
        );
        let err = select_rules(&mut book, &[], &["celry".into()]).unwrap_err();
        assert_eq!(err.flag, "--ignore");
        assert!(err.help.contains("`celery`"), "{}", err.help);
        // Nothing was removed by the failed calls.
        assert_eq!(
            book.rules().len(),
            Rulebook::builtin().unwrap().rules().len()
        );
    }
}
