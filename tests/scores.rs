//! Scores on fixture projects: every lost point is traceable to a finding, the formula is
//! the documented one, size normalises penalties, and removing findings never lowers a
//! score (monotonic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use msgscan::{ScanOptions, Scanner, Settings};
use msgscan_rulebook::{K, scale_for, score_project, weight};
use msgscan_tests::{fixture_projects, fixtures_dir};

fn scanner(settings: Settings) -> Scanner {
    Scanner::new(ScanOptions {
        threads: Some(1),
        settings,
        ..ScanOptions::default()
    })
    .unwrap()
}

#[test]
fn every_lost_point_is_a_listed_finding() {
    let scanner = scanner(Settings::default());
    for project in fixture_projects() {
        let report = scanner.scan(&[&project]).unwrap();
        let scale = scale_for(report.facts.len());
        assert_eq!(report.scores.scale, (scale * 100.0).round() / 100.0);
        let mut listed = 0;
        for (name, cat) in &report.scores.categories {
            let sum: u32 = cat.costs.iter().map(|c| c.penalty).sum();
            assert_eq!(sum, cat.penalty, "{name} in {}", project.display());
            assert_eq!(cat.costs.len(), cat.findings);
            for cost in &cat.costs {
                let f = report
                    .findings
                    .iter()
                    .find(|f| f.fingerprint == cost.fingerprint)
                    .expect("cost names a finding of the report");
                assert_eq!(
                    (&f.rule, &f.category, f.severity),
                    (&cost.rule, name, cost.severity)
                );
                assert_eq!(cost.penalty, weight(f.severity));
            }
            // The documented formula.
            let expected = (100.0 * K / (K + f64::from(cat.penalty) / scale)).round() as u32;
            assert_eq!(cat.score, expected);
            assert_eq!(cat.score == 100, cat.penalty == 0);
            listed += cat.costs.len();
        }
        assert_eq!(listed, report.findings.len());
    }
}

#[test]
fn a_project_is_not_punished_for_its_size() {
    // The same findings in a project with more messaging constructs cost less, by the
    // square root of the size ratio: 4x the facts halve the penalty.
    let report = scanner(Settings::default())
        .scan(&[fixtures_dir().join("projects/flask-celery")])
        .unwrap();
    assert!(!report.findings.is_empty());
    let small = score_project(
        &report.findings,
        &report.facts[..report.facts.len().min(20)],
    );
    let mut many = report.facts.clone();
    while many.len() < 80 {
        many.extend(report.facts.iter().cloned());
    }
    many.truncate(80);
    let big = score_project(&report.findings, &many);
    assert_eq!(big.scale, 2.0);
    assert!(big.overall >= small.overall);
    for (name, c) in &big.categories {
        assert!(c.score >= small.categories[name].score);
        if c.penalty > 0 {
            let expected = (100.0 * K / (K + f64::from(c.penalty) / 2.0)).round() as u32;
            assert_eq!(c.score, expected);
        }
    }
}

#[test]
fn turning_rules_off_never_lowers_a_score() {
    let dir = fixtures_dir().join("rules");
    let all = scanner(Settings::default()).scan(&[&dir]).unwrap();
    let mut previous = all.scores.clone();
    // Remove rule families one by one: each step removes findings, scores never go down.
    let mut ignore = Vec::new();
    let families: std::collections::BTreeSet<String> = msgscan::Rulebook::builtin()
        .unwrap()
        .rules()
        .iter()
        .map(|r| r.id.split('-').next().unwrap().to_string())
        .collect();
    for family in families {
        ignore.push(format!("\"{family}\""));
        let text = format!("ignore = [{}]\n", ignore.join(", "));
        let settings = Settings::parse("msgscan.toml", &text, &dir).unwrap();
        let report = scanner(settings).scan(&[&dir]).unwrap();
        assert!(report.scores.overall >= previous.overall, "{text}");
        for (name, c) in &report.scores.categories {
            assert!(c.score >= previous.categories[name].score, "{name}: {text}");
        }
        previous = report.scores.clone();
    }
    assert_eq!(previous.overall, 100);
}
