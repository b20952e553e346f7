//! Each realistic mini-project under `fixtures/projects/` has its expected facts and
//! channels written next to it (`expected.txt`); this test checks them exactly.
//!
//! Format, one item per line (`#` comments allowed):
//!   fact <kind> <name or -> <path>:<line> <role>
//!   channel <id> producers=<n> consumers=<n>
//! Set `MSGSCAN_BLESS=1` to rewrite the files from the current output, then review the diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write;

use msgscan::{Report, ScanOptions, Scanner};
use msgscan_tests::fixtures_dir;

fn render(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.facts {
        let name = f.name.as_deref().unwrap_or("-").replace(' ', "\\x20");
        writeln!(
            out,
            "fact {} {} {}:{} {}",
            f.kind,
            name,
            f.path,
            f.line,
            f.role.as_str()
        )
        .unwrap();
    }
    for c in &report.topology.channels {
        let id = c.id.replace(' ', "\\x20");
        writeln!(
            out,
            "channel {id} producers={} consumers={}",
            c.producers.len(),
            c.consumers.len()
        )
        .unwrap();
    }
    out
}

fn strip(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn projects_match_their_expected_facts_and_channels() {
    let scanner = Scanner::new(ScanOptions::default()).unwrap();
    let projects = fixtures_dir().join("projects");
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&projects).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let expected_path = dir.join("expected.txt");
        let report = scanner.scan(&[&dir]).unwrap();
        let actual = render(&report);
        if std::env::var_os("MSGSCAN_BLESS").is_some() {
            // Keep the hand-written notes at the top of the file.
            let old = std::fs::read_to_string(&expected_path).unwrap_or_default();
            let notes: String = old
                .lines()
                .take_while(|l| l.starts_with('#') || l.trim().is_empty())
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&expected_path, format!("{notes}{actual}")).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no expected.txt", dir.display()));
        let (e, a) = (strip(&expected), strip(&actual));
        if e != a {
            let missing: Vec<_> = e.iter().filter(|l| !a.contains(l)).collect();
            let extra: Vec<_> = a.iter().filter(|l| !e.contains(l)).collect();
            failures.push(format!(
                "{}:\n  missing: {missing:#?}\n  unexpected: {extra:#?}",
                dir.display()
            ));
        }
        checked += 1;
    }
    assert!(checked > 0, "no projects under {}", projects.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
