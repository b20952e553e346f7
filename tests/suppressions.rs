//! Suppression comments on fixture projects: line and line-above suppressions, file-level
//! suppressions, prefixes, `unused-suppression`, the `suppressed` count, and suppressions
//! of rules the settings turn off (dormant, not unused).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use msgscan::{ScanOptions, Scanner, Settings};
use msgscan_tests::fixtures_dir;

fn scan(dir: &Path, options: ScanOptions) -> msgscan::Report {
    Scanner::new(options).unwrap().scan(&[dir]).unwrap()
}

fn rules_at(report: &msgscan::Report) -> Vec<(String, u32, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.path.clone(), f.line, f.rule.clone()))
        .collect()
}

#[test]
fn suppressed_findings_are_counted_and_unused_ones_reported() {
    let dir = fixtures_dir().join("rules/unused-suppression");
    let report = scan(&dir, ScanOptions::default());
    // Same-line and line-above suppressions of `celery-unbounded-retries`.
    assert_eq!(report.suppressed, 2);
    let unused: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "unused-suppression")
        .map(|f| (f.path.as_str(), f.line, f.message.as_str()))
        .collect();
    assert_eq!(unused.len(), 3, "{unused:?}");
    assert!(
        unused[0]
            .2
            .starts_with("`msgscan: ignore-file[node-emitter-missing-error-listener]`")
    );
    assert!(
        unused
            .iter()
            .any(|u| u.2.contains("celery-unbounded-retrys"))
    );
    // Unused suppressions cost points like any finding.
    assert_eq!(report.scores.categories["correctness"].findings, 3);

    // Turning suppressions off brings the findings back and reports nothing as unused.
    let off = scan(
        &dir,
        ScanOptions {
            suppressions: false,
            ..ScanOptions::default()
        },
    );
    assert_eq!(off.suppressed, 0);
    let rules = rules_at(&off);
    assert!(rules.iter().all(|r| r.2 != "unused-suppression"));
    assert_eq!(
        rules
            .iter()
            .filter(|r| r.2 == "celery-unbounded-retries")
            .count(),
        2
    );
    // A suppression never raises a score above the unsuppressed one... it can only lower
    // the penalty of the suppressed rule's category.
    assert!(
        report.scores.categories["reliability"].score >= off.scores.categories["reliability"].score
    );
}

#[test]
fn file_level_and_prefix_suppressions() {
    let dir = std::env::temp_dir().join(format!("msgscan-suppress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bus.js"),
        "// msgscan: ignore-file[node-emitter-missing-error-listener]\n\
         const EventEmitter = require('node:events');\n\
         const a = new EventEmitter();\n\
         const b = new EventEmitter();\n\
         function fail(err) { a.emit('error', err); b.emit('error', err); }\n\
         module.exports = { fail };\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tasks.py"),
        "from celery import shared_task\n\n\
         @shared_task(max_retries=None)  # msgscan: ignore[celery]\n\
         def a(x):\n    pass\n\n\
         -- not a comment in Python, but the marker needs a comment opener: msgscan: ignore[celery]\n",
    )
    .unwrap();
    let report = scan(&dir, ScanOptions::default());
    assert_eq!(report.suppressed, 3, "{:?}", rules_at(&report));
    // The last line is SQL-style `--`: still a comment opener, and it suppresses nothing.
    assert_eq!(
        rules_at(&report),
        vec![("tasks.py".to_string(), 7, "unused-suppression".to_string())]
    );

    // A suppression of a rule the settings turn off is dormant, not unused.
    let settings = Settings::parse(
        "msgscan.toml",
        "ignore = [\"node-emitter-missing-error-listener\"]\n",
        &dir,
    )
    .unwrap();
    let report = scan(
        &dir,
        ScanOptions {
            settings,
            ..ScanOptions::default()
        },
    );
    assert_eq!(
        rules_at(&report),
        vec![("tasks.py".to_string(), 7, "unused-suppression".to_string())]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
