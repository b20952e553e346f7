//! Shared driver of the fuzz targets: parse + detect + link + judge one file, checking the
//! invariants every stage promises (no panic, facts inside the file, findings on facts).

use std::sync::OnceLock;
use std::time::Duration;

use msgscan_detect::Fact;
use msgscan_lang::{FileParser, Language};
use msgscan_rulebook::Rulebook;

/// The built-in rulebook, loaded once.
pub fn builtin() -> &'static Rulebook {
    static RULES: OnceLock<Rulebook> = OnceLock::new();
    RULES.get_or_init(|| Rulebook::builtin().expect("built-in rulebook loads"))
}

/// Runs the whole per-file pipeline on `data` as `language` (every detector runs, and the
/// prefilter must not change their facts), then links and judges the facts.
pub fn parse_detect(language: Language, data: &[u8]) -> Vec<Fact> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Vec::new();
    };
    let mut parser = FileParser::new(Duration::from_secs(5));
    let Ok(parsed) = parser.parse(language, text) else {
        return Vec::new();
    };
    let path = match language {
        Language::Python => "fuzz.py",
        Language::JavaScript => "fuzz.js",
        Language::TypeScript => "fuzz.ts",
        Language::Tsx => "fuzz.tsx",
        Language::Sql => "fuzz.sql",
        Language::Toml => "supabase/config.toml",
    };
    // The prefilter is sound on code without syntax errors: it changes no fact. (In a tree
    // with errors, tree-sitter's recovery can read tokens the text does not hold as such,
    // `add.1s(1)` as a call of `add.s`; such files are reported as syntax errors, with
    // constructs near the error possibly missed.)
    let mut facts = msgscan_detect::fuzzing::detect_unfiltered(path, text, &parsed);
    facts.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    if parsed.first_error().is_none() {
        let mut filtered = msgscan_detect::detect(path, text, &parsed);
        filtered.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        assert_eq!(facts, filtered, "detection with and without the prefilter");
    }
    let lines = text.lines().count().max(1) as u32 + 1;
    for f in &facts {
        assert!(
            f.line >= 1 && f.line <= lines,
            "fact {} at line {} of a {lines}-line file",
            f.kind,
            f.line
        );
    }
    msgscan_detect::link::assign_ids(&mut facts);
    msgscan_detect::link::enrich(&mut facts);
    let _ = msgscan_detect::link::link(&facts);
    let findings = builtin().judge(&facts);
    for finding in &findings {
        assert!(finding.line >= 1 && finding.line <= lines);
    }
    facts
}

/// Facts of a small fixed project, for judging fuzzed rulebooks against.
pub fn sample_facts() -> &'static [Fact] {
    static FACTS: OnceLock<Vec<Fact>> = OnceLock::new();
    FACTS.get_or_init(|| {
        let mut facts = parse_detect(
            Language::Python,
            b"from celery import shared_task\n\n@shared_task(max_retries=None, acks_late=True)\ndef sync(a):\n    requests.get(a)\n\nsync.delay(1)\n",
        );
        facts.extend(parse_detect(
            Language::JavaScript,
            b"const EventEmitter = require('events');\nconst e = new EventEmitter();\ne.on('x', async () => { await f(); });\ne.emit('error', 1);\n",
        ));
        facts
    })
}
