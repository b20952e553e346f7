//! The [`Report`] value and its renderers.
//!
//! Every output comes from the same `Report`: [`json`] writes the JSON contract
//! (`schema_version` 1), [`human`] writes rustc/ruff-style diagnostics with source snippets
//! (through miette) and a summary, [`markdown`] and [`html`] write the Messaging
//! Architecture Analysis Report, [`sarif`] SARIF 2.1.0, [`asyncapi`] an AsyncAPI 3.0
//! document of the topology and [`github`] GitHub Actions annotations. Renderers write to
//! `&mut dyn Write`; nothing here prints.
//!
//! Names from the scanned code are untrusted text: each renderer escapes them for its
//! syntax ([`escape`]).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

use msgscan_detect::{Fact, Topology};
use msgscan_rulebook::{Finding, Scores};
use serde::{Deserialize, Serialize};

mod asyncapi;
pub mod escape;
mod github;
mod html;
mod human;
mod markdown;
pub mod narrative;
mod sarif;
pub mod topology;
pub mod view;

pub use asyncapi::{asyncapi, asyncapi_value};
pub use github::github;
pub use html::{html, html_string};
pub use human::{HumanOptions, human};
pub use markdown::{markdown, markdown_string};
pub use narrative::Narrative;
pub use sarif::{sarif, sarif_value};

/// The version of the JSON report's shape. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// What was read and what was not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// Files read and analysed (including those the literal prefilter found nothing in).
    pub scanned: usize,
    /// Files and directories not read, by reason (see `skipped_by_reason`).
    pub skipped: usize,
    /// `vendored-dir` (node_modules, .venv, ...), `minified`, `unsupported` (no analyser for
    /// the extension).
    pub skipped_by_reason: BTreeMap<String, usize>,
    /// Scanned files per language.
    pub by_language: BTreeMap<String, usize>,
    /// Scanned files that were parsed (the others contained no token any detector needs).
    pub parsed: usize,
}

/// A file that could not be read or parsed (fully).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub path: String,
    /// `io`, `binary`, `encoding`, `too-large`, `syntax`, `timeout`, `internal`.
    pub kind: String,
    pub message: String,
    /// For syntax errors: where the first one is (1-based).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u32>,
}

/// Everything one scan found: the value every renderer reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// The scan root, as given.
    pub root: String,
    pub files: FileStats,
    pub facts: Vec<Fact>,
    pub topology: Topology,
    pub findings: Vec<Finding>,
    pub scores: Scores,
    pub errors: Vec<FileError>,
    pub suppressed: usize,
    /// Source text of the files with findings, for snippets: the lines around facts,
    /// findings and suppressions (two on each side), secrets masked, every other line
    /// empty, so line numbers are the file's. Not serialised.
    #[serde(skip)]
    pub sources: BTreeMap<String, Arc<str>>,
}

impl Report {
    /// Whether any finding is at or above `severity`.
    pub fn has_findings_at_least(&self, severity: msgscan_rulebook::Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= severity)
    }
}

/// What the project says about itself (`msgscan.toml`'s report context). Every field is
/// optional: the report says "not configured" where one is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportContext {
    /// `prototype`, `production`, ...
    pub stage: Option<String>,
    /// Expected message volume, as the project words it.
    pub expected_volume: Option<String>,
    pub constraints: Vec<String>,
}

/// Options of the document renderers ([`markdown`], [`html`]).
#[derive(Debug, Clone, Default)]
pub struct DocumentOptions {
    pub context: ReportContext,
    /// The narrative sections; `None` renders the template narrative
    /// ([`Narrative::from_report`]). A later pass (an LLM) passes its own here.
    pub narrative: Option<Narrative>,
}

/// Writes the JSON report (pretty, with a trailing newline). Deterministic: the report's
/// vectors are sorted and its maps are ordered.
pub fn json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
