//! Baselines: the fingerprints of known findings, so a team can adopt msgscan on an
//! existing codebase and fail only on new findings.
//!
//! A baseline is a JSON file listing each accepted finding's fingerprint, with its rule,
//! path and message for the humans who review it. Fingerprints hash the rule, the path and
//! the message (plus an occurrence counter), not the line, so code moving up or down a file
//! keeps its findings baselined; a finding whose message changes (a renamed task) is new.
//!
//! ```
//! # use msgscan::{Baseline, ScanOptions, Scanner};
//! # let dir = std::env::temp_dir().join(format!("msgscan-doc-baseline-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # std::fs::write(dir.join("tasks.py"), "from celery import shared_task\n\n@shared_task(max_retries=None)\ndef sync(a):\n    pass\n")?;
//! let scanner = Scanner::new(ScanOptions::default())?;
//! let known = Baseline::from_findings(&scanner.scan(&[&dir])?.findings);
//! let text = known.to_json();
//!
//! let mut report = scanner.scan(&[&dir])?;
//! let applied = Baseline::parse(&text)?.apply(&mut report);
//! assert_eq!(applied.hidden, 1);
//! assert!(report.findings.is_empty());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use msgscan_report::Report;
use msgscan_rulebook::Finding;
use serde::{Deserialize, Serialize};

/// The baseline file format version.
pub const BASELINE_VERSION: u32 = 1;

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub rule: String,
    pub path: String,
    /// Where it was when the baseline was written (informative: matching ignores it).
    #[serde(default)]
    pub line: u32,
    pub message: String,
}

/// A set of accepted findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub msgscan_baseline: u32,
    /// The msgscan version that wrote it (informative).
    #[serde(default)]
    pub tool_version: String,
    pub findings: Vec<BaselineEntry>,
}

/// What applying a baseline did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BaselineApplied {
    /// Findings of the report that the baseline accepts, removed from it.
    pub hidden: usize,
    /// Baseline entries that matched no finding (fixed since, or their message changed).
    pub stale: usize,
}

/// A baseline file that cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BaselineError {
    #[error("cannot read baseline {}: {message}", path.display())]
    #[diagnostic(
        code(msgscan::baseline),
        help("check the path, or create the file with `msgscan scan --write-baseline {}`", path.display())
    )]
    Read { path: PathBuf, message: String },
    #[error("{}is not a msgscan baseline: {message}", path.as_ref().map(|p| format!("{} ", p.display())).unwrap_or_default())]
    #[diagnostic(
        code(msgscan::baseline),
        help(
            "a baseline is the JSON written by `msgscan scan --write-baseline FILE`; regenerate it"
        )
    )]
    Invalid {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("cannot write baseline {}: {message}", path.display())]
    #[diagnostic(
        code(msgscan::baseline),
        help("check that the directory exists and is writable")
    )]
    Write { path: PathBuf, message: String },
}

impl Baseline {
    /// A baseline accepting `findings`.
    pub fn from_findings(findings: &[Finding]) -> Baseline {
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .map(|f| BaselineEntry {
                fingerprint: f.fingerprint.clone(),
                rule: f.rule.clone(),
                path: f.path.clone(),
                line: f.line,
                message: f.message.clone(),
            })
            .collect();
        entries.sort_by(|a, b| {
            (&a.path, a.line, &a.rule, &a.fingerprint).cmp(&(
                &b.path,
                b.line,
                &b.rule,
                &b.fingerprint,
            ))
        });
        entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        Baseline {
            msgscan_baseline: BASELINE_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            findings: entries,
        }
    }

    /// Parses a baseline's JSON text.
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        let invalid = |message: String| BaselineError::Invalid {
            path: None,
            message,
        };
        let b: Baseline = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if b.msgscan_baseline != BASELINE_VERSION {
            return Err(invalid(format!(
                "format version {} (this msgscan reads version {BASELINE_VERSION})",
                b.msgscan_baseline
            )));
        }
        Ok(b)
    }

    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|e| BaselineError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Baseline::parse(&text).map_err(|e| match e {
            BaselineError::Invalid { message, .. } => BaselineError::Invalid {
                path: Some(path.to_path_buf()),
                message,
            },
            other => other,
        })
    }

    /// Pretty JSON, one entry per finding, sorted by path and line: diffs of a baseline
    /// read well in review.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Writes the baseline to `path`.
    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        std::fs::write(path, self.to_json()).map_err(|e| BaselineError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Removes the accepted findings from `report`, counts them in `report.suppressed` and
    /// rescores the findings that remain.
    pub fn apply(&self, report: &mut Report) -> BaselineApplied {
        let known: BTreeSet<&str> = self
            .findings
            .iter()
            .map(|e| e.fingerprint.as_str())
            .collect();
        let before = report.findings.len();
        let mut matched: BTreeSet<String> = BTreeSet::new();
        report.findings.retain(|f| {
            if known.contains(f.fingerprint.as_str()) {
                matched.insert(f.fingerprint.clone());
                false
            } else {
                true
            }
        });
        let hidden = before - report.findings.len();
        report.suppressed += hidden;
        report.scores = msgscan_rulebook::score_project(&report.findings, &report.facts);
        let findings = &report.findings;
        report
            .sources
            .retain(|path, _| findings.iter().any(|f| &f.path == path));
        BaselineApplied {
            hidden,
            stale: known.len() - matched.len(),
        }
    }
}
