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

/// The prefilter reads raw text before any parser has vetted it, with hand-written scans in
/// some detectors: it must not panic on any text. Fixtures cut and spliced with the
/// characters those scans branch on (quotes, brackets, comment marks, multi-byte line
/// breaks...), with a fixed seed.
#[test]
fn the_prefilter_never_panics_on_mangled_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let texts: Vec<(Language, String)> = files
        .iter()
        .filter_map(|(p, l)| Some((*l, std::fs::read_to_string(p).ok()?)))
        .collect();
    let pieces: &[&str] = &[
        "\"",
        "'",
        "`",
        "(",
        ")",
        "/",
        "\\",
        "#",
        "\n",
        "<",
        ">",
        "?.",
        ".",
        " ",
        "*/",
        "/*",
        "//",
        "$",
        "é",
        "{",
        "}",
        "\u{2028}",
        "\u{feff}",
        "==",
        "@app.post(\"/",
        "webhook",
        "export default",
        "serve(",
        "def ",
        "request",
        "import ",
        "from ",
        ".on(",
        ".pipe(",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as usize
    };
    let mut admitted = 0;
    for _ in 0..20_000 {
        let (lang, text) = &texts[next() % texts.len()];
        let mut b = text.clone().into_bytes();
        for _ in 0..1 + next() % 6 {
            let at = next() % (b.len() + 1);
            if next() % 2 == 0 {
                let piece = pieces[next() % pieces.len()].as_bytes();
                b.splice(at..at, piece.iter().copied());
            } else {
                let end = (at + 1 + next() % 12).min(b.len());
                b.drain(at..end);
            }
        }
        if let Ok(text) = String::from_utf8(b) {
            admitted += usize::from(msgscan_detect::may_match(*lang, "m/index.ts", &text));
        }
    }
    assert!(admitted > 1000, "mangled texts admitted: {admitted}");
}
