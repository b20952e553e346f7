//! Scores: 0–100 per category and overall, computed from findings and the project's size.
//!
//! Each finding costs its category a penalty by severity ([`SEVERITY_WEIGHTS`]: error 10,
//! warning 4, info 1). The penalty is divided by a size factor
//! `scale = max(1, sqrt(facts / 20))`, where `facts` is the number of messaging constructs
//! found: up to 20 facts nothing changes, and a project four times bigger tolerates twice
//! the findings for the same score (sub-linear, so a big project with many findings of one
//! kind still scores low). A category scores
//!
//! ```text
//! score = round(100 × K / (K + penalty / scale)),  K = 20
//! ```
//!
//! so with up to 20 facts no finding is 100, one error 67, five warnings 50; the curve never
//! reaches 0. The overall score is the mean of the category scores, rounded. For a given
//! project (same facts) adding a finding never raises any score (monotonic), and each
//! category lists the findings (fingerprint, rule, penalty) that cost it points.

use std::collections::BTreeMap;

use msgscan_detect::Fact;
use serde::{Deserialize, Serialize};

use crate::{CATEGORIES, Finding, Severity};

/// Penalty per finding, by severity.
pub const SEVERITY_WEIGHTS: [(Severity, u32); 3] = [
    (Severity::Error, 10),
    (Severity::Warning, 4),
    (Severity::Info, 1),
];

/// The score curve's half-point: a category with this (scaled) penalty scores 50.
pub const K: f64 = 20.0;
/// Projects with up to this many facts are not scaled.
pub const SIZE_FLOOR: f64 = 20.0;

/// One finding's cost to its category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub fingerprint: String,
    pub rule: String,
    pub severity: Severity,
    /// The unscaled penalty ([`SEVERITY_WEIGHTS`]).
    pub penalty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub score: u32,
    /// Sum of the unscaled penalties of the category's findings.
    pub penalty: u32,
    pub findings: usize,
    /// What cost the points, in finding order.
    #[serde(default)]
    pub costs: Vec<Cost>,
}

impl Eq for CategoryScore {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub overall: u32,
    /// The size factor the penalties were divided by (`max(1, sqrt(facts / 20))`).
    #[serde(default = "one")]
    pub scale: f64,
    pub categories: BTreeMap<String, CategoryScore>,
}

fn one() -> f64 {
    1.0
}

impl Eq for Scores {}

/// The penalty of one finding of `s`.
pub fn weight(s: Severity) -> u32 {
    SEVERITY_WEIGHTS
        .iter()
        .find(|(sev, _)| *sev == s)
        .map_or(0, |(_, w)| *w)
}

/// The size factor for a project with `facts` facts.
pub fn scale_for(facts: usize) -> f64 {
    (facts as f64 / SIZE_FLOOR).sqrt().max(1.0)
}

/// Scores findings without a size factor (a project of at most 20 facts).
pub fn score(findings: &[Finding]) -> Scores {
    score_scaled(findings, 1.0)
}

/// Scores a project's findings, normalised by its number of facts.
pub fn score_project(findings: &[Finding], facts: &[Fact]) -> Scores {
    score_scaled(findings, scale_for(facts.len()))
}

fn score_scaled(findings: &[Finding], scale: f64) -> Scores {
    let empty = || CategoryScore {
        score: 100,
        penalty: 0,
        findings: 0,
        costs: Vec::new(),
    };
    let mut categories: BTreeMap<String, CategoryScore> = CATEGORIES
        .iter()
        .map(|c| ((*c).to_string(), empty()))
        .collect();
    for f in findings {
        let entry = categories.entry(f.category.clone()).or_insert_with(empty);
        let w = weight(f.severity);
        entry.penalty += w;
        entry.findings += 1;
        entry.costs.push(Cost {
            fingerprint: f.fingerprint.clone(),
            rule: f.rule.clone(),
            severity: f.severity,
            penalty: w,
        });
    }
    for c in categories.values_mut() {
        c.score = (100.0 * K / (K + f64::from(c.penalty) / scale)).round() as u32;
    }
    let overall = if categories.is_empty() {
        100
    } else {
        let sum: u32 = categories.values().map(|c| c.score).sum();
        (f64::from(sum) / categories.len() as f64).round() as u32
    };
    // Two decimals are enough to recompute the scores and keep the JSON stable.
    let scale = (scale * 100.0).round() / 100.0;
    Scores {
        overall,
        scale,
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
        assert_eq!(last.categories["reliability"].costs.len(), 4);
    }

    #[test]
    fn size_normalises_penalties() {
        assert_eq!(scale_for(0), 1.0);
        assert_eq!(scale_for(20), 1.0);
        assert_eq!(scale_for(80), 2.0);
        let errors: Vec<Finding> = (0..2)
            .map(|_| finding("security", Severity::Error))
            .collect();
        // Two errors in a small project: 100 × 20 / 40 = 50.
        assert_eq!(
            score_scaled(&errors, scale_for(10)).categories["security"].score,
            50
        );
        // The same two errors in a project four times the size of the floor: 67.
        assert_eq!(
            score_scaled(&errors, scale_for(80)).categories["security"].score,
            67
        );
        // Monotonic at every size: one more finding never raises a score.
        for facts in [0usize, 19, 20, 21, 500, 100_000] {
            let mut fs = Vec::new();
            let mut last = score_scaled(&fs, scale_for(facts));
            for i in 0..30 {
                let sev = [Severity::Info, Severity::Warning, Severity::Error][i % 3];
                fs.push(finding(CATEGORIES[i % CATEGORIES.len()], sev));
                let next = score_scaled(&fs, scale_for(facts));
                assert!(next.overall <= last.overall, "facts={facts} i={i}");
                for (c, s) in &next.categories {
                    assert!(s.score <= last.categories[c].score);
                }
                last = next;
            }
        }
    }
}
