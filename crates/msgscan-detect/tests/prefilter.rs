//! The prefilter is sound on every fixture without syntax errors: no detector finds
//! anything in a file it rules out. (The same check runs on the benchmark corpus with
//! `msgscan-bench prefilter-check` and under the fuzzers.) In a tree with syntax errors,
//! tree-sitter's recovery can read tokens the text does not hold as such (`add.1s(1)` as a
//! call of `add.s`); there the prefilter may miss what recovery made up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use msgscan_lang::{FileParser, Language};

fn sources(dir: &Path, out: &mut Vec<(PathBuf, Language)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if let Some(lang) = Language::from_path(&path) {
            out.push((path, lang));
        }
    }
}

#[test]
fn no_detector_finds_anything_in_a_file_it_rules_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let mut parser = FileParser::new(Duration::from_secs(10));
    let (mut found, mut ruled_out, mut with_errors) = (0, 0, 0);
    let mut unsound = Vec::new();
    for (path, lang) in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let rel = path.strip_prefix(&root).unwrap().to_string_lossy();
        let parsed = parser.parse(*lang, &text).unwrap();
        if parsed.first_error().is_some() {
            with_errors += 1;
            continue;
        }
        for (name, admits, facts) in msgscan_detect::fuzzing::detect_each(&rel, &text, &parsed) {
            found += usize::from(!facts.is_empty());
            ruled_out += usize::from(!admits);
            if !admits && !facts.is_empty() {
                let at: Vec<String> = facts
                    .iter()
                    .map(|f| format!("{}:{}", f.kind, f.line))
                    .collect();
                unsound.push(format!("{name} {rel}: {}", at.join(" ")));
            }
        }
        let mut filtered = msgscan_detect::detect(&rel, &text, &parsed);
        let mut all = msgscan_detect::fuzzing::detect_unfiltered(&rel, &text, &parsed);
        filtered.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        assert_eq!(
            filtered, all,
            "{rel}: detection with and without the prefilter"
        );
    }
    assert!(
        unsound.is_empty(),
        "prefilter unsound:\n{}",
        unsound.join("\n")
    );
    // The check is not vacuous: detectors find things, and the prefilter rules files out.
    assert!(found > 150, "(detector, file) pairs with facts: {found}");
    assert!(
        with_errors < files.len() / 10,
        "fixtures with syntax errors: {with_errors}"
    );
    assert!(
        ruled_out > 600,
        "(detector, file) pairs ruled out: {ruled_out}"
    );
}
