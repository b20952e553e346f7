//! Helpers for the workspace tests: fixture discovery and `ruleid:` / `ok:` annotations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .canonicalize()
        .unwrap()
}

/// One expectation written in a fixture: `<comment> ruleid: a, b` (the rules must fire on
/// the next non-annotation line) or `<comment> ok: a` (they must not).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Annotation {
    pub path: String,
    pub line: u32,
    pub rule: String,
    pub fires: bool,
}

fn parse_annotation(line: &str) -> Option<(bool, Vec<String>)> {
    let t = line.trim_start();
    let body = ["#", "//", "--", "/*"]
        .iter()
        .find_map(|m| t.strip_prefix(m))?;
    let body = body.trim().trim_end_matches("*/").trim();
    let (fires, list) = if let Some(rest) = body.strip_prefix("ruleid:") {
        (true, rest)
    } else if let Some(rest) = body.strip_prefix("ok:") {
        (false, rest)
    } else {
        return None;
    };
    Some((
        fires,
        list.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

/// Reads every annotation of the files under `dir`; paths are relative to `dir`.
pub fn annotations(dir: &Path) -> Vec<Annotation> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let lines: Vec<&str> = text.lines().collect();
            let mut pending: Vec<(bool, String)> = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                if let Some((fires, rules)) = parse_annotation(line) {
                    pending.extend(rules.into_iter().map(|r| (fires, r)));
                    continue;
                }
                for (fires, rule) in pending.drain(..) {
                    out.push(Annotation {
                        path: rel.clone(),
                        line: i as u32 + 1,
                        rule,
                        fires,
                    });
                }
            }
            assert!(
                pending.is_empty(),
                "{rel}: annotation at the end of the file annotates nothing"
            );
        }
    }
    out.sort();
    out
}

/// `(path, line, rule)` of the findings in a report.
pub fn finding_keys(report: &msgscan::Report) -> BTreeSet<(String, u32, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.path.clone(), f.line, f.rule.clone()))
        .collect()
}

/// The directories under `fixtures/` that are scanned as one project each.
pub fn fixture_projects() -> Vec<PathBuf> {
    let root = fixtures_dir();
    let mut out = Vec::new();
    for group in ["rules", "projects"] {
        let Ok(entries) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
