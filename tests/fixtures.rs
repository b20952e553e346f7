//! The fixture harness: every project under `fixtures/rules/` and `fixtures/projects/` is
//! scanned on its own, and its findings must match its `ruleid:` annotations line for
//! line, with no finding on any line annotated `ok:` and no finding that is not annotated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::BTreeSet;

use msgscan::{Rulebook, ScanOptions, Scanner};
use msgscan_tests::{annotations, finding_keys, fixture_projects};

#[test]
fn every_fixture_matches_its_annotations() {
    let scanner = Scanner::new(ScanOptions::default()).unwrap();
    let mut failures = Vec::new();
    for project in fixture_projects() {
        let report = scanner.scan(&[&project]).unwrap();
        assert!(
            report.errors.is_empty(),
            "{}: {:?}",
            project.display(),
            report.errors
        );
        let notes = annotations(&project);
        let expected: BTreeSet<(String, u32, String)> = notes
            .iter()
            .filter(|a| a.fires)
            .map(|a| (a.path.clone(), a.line, a.rule.clone()))
            .collect();
        let actual = finding_keys(&report);
        let name = project.file_name().unwrap().to_string_lossy().to_string();
        for missing in expected.difference(&actual) {
            failures.push(format!(
                "{name}/{}:{}: expected `{}` to fire; it did not",
                missing.0, missing.1, missing.2
            ));
        }
        for extra in actual.difference(&expected) {
            let why = if notes
                .iter()
                .any(|a| !a.fires && a.path == extra.0 && a.line == extra.1 && a.rule == extra.2)
            {
                "annotated `ok:`"
            } else {
                "not annotated"
            };
            failures.push(format!(
                "{name}/{}:{}: `{}` fired ({why})",
                extra.0, extra.1, extra.2
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_firing_and_non_firing_fixtures() {
    let book = Rulebook::builtin().unwrap();
    let all = annotations(&msgscan_tests::fixtures_dir());
    for a in &all {
        assert!(
            book.rule(&a.rule).is_some(),
            "{}:{}: annotation names unknown rule `{}`",
            a.path,
            a.line,
            a.rule
        );
    }
    for rule in book.rules() {
        assert!(
            all.iter().any(|a| a.rule == rule.id && a.fires),
            "rule `{}` has no `ruleid:` fixture",
            rule.id
        );
        assert!(
            all.iter().any(|a| a.rule == rule.id && !a.fires),
            "rule `{}` has no `ok:` fixture",
            rule.id
        );
    }
}

#[test]
fn readme_rules_table_lists_every_rule() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("\n## Rules\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<(String, String, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.strip_prefix("| `")?.split('|').map(str::trim).collect();
            Some((
                cells[0].trim_end_matches('`').to_string(),
                cells[1].to_string(),
                cells[2].to_string(),
            ))
        })
        .collect();
    let book = Rulebook::builtin().unwrap();
    let expected: Vec<(String, String, String)> = book
        .rules()
        .iter()
        .map(|r| (r.id.clone(), r.category.clone(), r.severity.to_string()))
        .collect();
    assert_eq!(rows, expected, "README.md's rules table is out of date");
}
