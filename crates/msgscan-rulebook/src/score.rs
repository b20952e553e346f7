//! Scores: 0–100 per category and overall, computed from findings only.
//!
//! Each finding costs its category a penalty by severity ([`SEVERITY_WEIGHTS`]:
//! error 10, warning 4, info 1). A category scores `round(100 × K / (K + penalty))` with
//! `K = 20`: no finding is 100, one error is 67, five warnings are 50, and the curve never
//! reaches 0, so one more finding always costs something. The overall score is the mean of
//! the category scores, rounded. Adding a finding never raises any score (monotonic), and
//! every lost point is traceable to the findings listed under its category.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CATEGORIES, Finding, Severity};

/// Penalty per finding, by severity.
pub const SEVERITY_WEIGHTS: [(Severity, u32); 3] = [
    (Severity::Error, 10),
    (Severity::Warning, 4),
    (Severity::Info, 1),
];

const K: f64 = 20.0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub score: u32,
    pub penalty: u32,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    pub overall: u32,
    pub categories: BTreeMap<String, CategoryScore>,
}

fn weight(s: Severity) -> u32 {
    SEVERITY_WEIGHTS
        .iter()
        .find(|(sev, _)| *sev == s)
        .map_or(0, |(_, w)| *w)
}

/// Scores a project's findings.
pub fn score(findings: &[Finding]) -> Scores {
    let mut categories: BTreeMap<String, CategoryScore> = CATEGORIES
        .iter()
        .map(|c| {
            (
                (*c).to_string(),
                CategoryScore {
                    score: 100,
                    penalty: 0,
                    findings: 0,
                },
            )
        })
        .collect();
    for f in findings {
        let entry = categories
            .entry(f.category.clone())
            .or_insert(CategoryScore {
                score: 100,
                penalty: 0,
                findings: 0,
            });
        entry.penalty += weight(f.severity);
        entry.findings += 1;
    }
    for c in categories.values_mut() {
        c.score = (100.0 * K / (K + f64::from(c.penalty))).round() as u32;
    }
    let overall = if categories.is_empty() {
        100
    } else {
        let sum: u32 = categories.values().map(|c| c.score).sum();
        (f64::from(sum) / categories.len() as f64).round() as u32
    };
    Scores {
        overall,
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(category: &str, severity: Severity) -> Finding {
        Finding {
            rule: "r".into(),
            title: String::new(),
            severity,
            category: category.into(),
            path: "a.py".into(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 2,
            message: String::new(),
            help: String::new(),
            docs_url: String::new(),
            fact: None,
            fingerprint: String::new(),
        }
    }

    #[test]
    fn clean_project_scores_100() {
        let s = score(&[]);
        assert_eq!(s.overall, 100);
        assert!(s.categories.values().all(|c| c.score == 100));
    }

    #[test]
    fn pinned_values_and_monotonicity() {
        let one_error = score(&[finding("security", Severity::Error)]);
        assert_eq!(one_error.categories["security"].score, 67);
        let mut findings = Vec::new();
        let mut last = score(&findings);
        for sev in [
            Severity::Info,
            Severity::Warning,
            Severity::Error,
            Severity::Info,
        ] {
            findings.push(finding("reliability", sev));
            let next = score(&findings);
            assert!(next.overall <= last.overall);
            assert!(next.categories["reliability"].score < last.categories["reliability"].score);
            last = next;
        }
        assert_eq!(last.categories["reliability"].penalty, 16);
    }
}
