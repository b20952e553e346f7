//! msgscan finds the messaging patterns of a codebase (Celery tasks and calls, Node.js
//! EventEmitters, ...) with tree-sitter, judges them against a TOML rulebook of best
//! practices, and returns a [`Report`].
//!
//! This crate is the facade other tools embed: options in, a `Report` value out, errors
//! as `Result`s. It never prints and never exits, and it keeps no global state.
//!
//! ```
//! use msgscan::{ScanOptions, Scanner};
//!
//! let dir = std::env::temp_dir().join(format!("msgscan-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(
//!     dir.join("tasks.py"),
//!     "from celery import shared_task\n\n@shared_task(max_retries=None)\ndef sync(account_id):\n    pass\n",
//! )?;
//!
//! let scanner = Scanner::new(ScanOptions::default())?;
//! let report = scanner.scan(&[&dir])?;
//!
//! assert_eq!(report.facts[0].kind, "celery_task");
//! assert_eq!(report.findings[0].rule, "celery-unbounded-retries");
//! msgscan::render::json(&report, &mut Vec::new())?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The stages are separate crates: `msgscan-lang` (grammars, parsing), `msgscan-detect`
//! (facts, topology), `msgscan-rulebook` (rules, findings, scores) and `msgscan-report`
//! (the report and its renderers); their main types are re-exported here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use msgscan_detect::{Channel, Fact, Role, Topology};
pub use msgscan_lang::Language;
pub use msgscan_report::{FileError, FileStats, Report, Tool};
pub use msgscan_rulebook::{Finding, Rule, Rulebook, RulebookError, Scores, Severity};

mod analyze;
mod redact;
mod walk;

/// Renderers of a [`Report`]: `human`, `json`, `sarif` (needs the rules, e.g.
/// `scanner.rulebook().rules()`), `markdown` and `html` (the Messaging Architecture
/// Analysis Report), `asyncapi` and `github`.
pub mod render {
    pub use msgscan_report::narrative::{self, Narrative};
    pub use msgscan_report::{
        DocumentOptions, HumanOptions, ReportContext, asyncapi, asyncapi_value, escape, github,
        html, html_string, human, json, markdown, markdown_string, sarif, sarif_value, topology,
        view,
    };
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Files larger than this many bytes are not read; each is reported in `errors`.
    pub max_file_size: u64,
    /// Wall-time budget for parsing one file; a file over it is reported in `errors`.
    pub parse_timeout: Duration,
    /// Also scan vendored trees (`node_modules`, `.venv`, `dist`, ...) and minified bundles.
    pub include_vendored: bool,
    /// Paths are relative to this directory in the report. Default: the deepest directory
    /// that holds every path scanned.
    pub root: Option<PathBuf>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: None,
            max_file_size: 2 * 1024 * 1024,
            parse_timeout: Duration::from_secs(10),
            include_vendored: false,
            root: None,
        }
    }
}

/// Why a scan could not run at all (problems with single files are not errors: they are
/// entries in [`Report::errors`]).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ScanError {
    #[error("path not found: {}", .0.display())]
    #[diagnostic(
        code(msgscan::path),
        help("check the path; msgscan scans files and directories")
    )]
    PathNotFound(PathBuf),
    #[error("could not start {threads} worker threads: {message}")]
    #[diagnostic(code(msgscan::threads))]
    ThreadPool { threads: usize, message: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Rulebook(#[from] Box<RulebookError>),
}

/// A configured scanner: options and a rulebook. Cheap to reuse for many scans.
#[derive(Debug, Clone)]
pub struct Scanner {
    options: ScanOptions,
    rulebook: Rulebook,
}

impl Scanner {
    /// A scanner with the built-in rulebook.
    pub fn new(options: ScanOptions) -> Result<Self, ScanError> {
        let rulebook = Rulebook::builtin()?;
        Ok(Scanner { options, rulebook })
    }

    /// A scanner with the given rulebook (built-in rules plus custom ones, or a subset).
    pub fn with_rulebook(options: ScanOptions, rulebook: Rulebook) -> Self {
        Scanner { options, rulebook }
    }

    pub fn rulebook(&self) -> &Rulebook {
        &self.rulebook
    }

    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// Scans directories (walked, honouring `.gitignore`) and files (taken as given, as
    /// pre-commit passes them).
    pub fn scan<P: AsRef<Path>>(&self, paths: &[P]) -> Result<Report, ScanError> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        for p in &paths {
            if std::fs::symlink_metadata(p).is_err() {
                return Err(ScanError::PathNotFound(p.clone()));
            }
        }
        let root = self.root_for(&paths);
        let threads = self.options.threads.unwrap_or(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| ScanError::ThreadPool {
                threads,
                message: e.to_string(),
            })?;
        let walked = walk::collect(&paths, &root, &self.options);
        let outcomes = pool.install(|| analyze::analyze_all(&walked.files, &self.options));
        Ok(self.assemble(root, walked, outcomes))
    }

    fn root_for(&self, paths: &[PathBuf]) -> PathBuf {
        if let Some(r) = &self.options.root {
            return r.clone();
        }
        // The deepest directory that holds every path.
        let dir_of = |p: &PathBuf| {
            if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            }
        };
        let mut dirs = paths.iter().map(dir_of);
        let Some(mut root) = dirs.next() else {
            return PathBuf::from(".");
        };
        for d in dirs {
            while !d.starts_with(&root) {
                if !root.pop() {
                    return PathBuf::from(".");
                }
            }
        }
        root
    }

    fn assemble(
        &self,
        root: PathBuf,
        walked: walk::Walked,
        outcomes: Vec<analyze::Outcome>,
    ) -> Report {
        let mut files = FileStats {
            skipped_by_reason: walked.skipped,
            ..FileStats::default()
        };
        let mut facts = Vec::new();
        let mut errors = walked.errors;
        let mut sources: BTreeMap<String, Arc<str>> = BTreeMap::new();
        for o in outcomes {
            if let Some(lang) = o.language
                && o.read
            {
                files.scanned += 1;
                *files
                    .by_language
                    .entry(lang.name().to_string())
                    .or_insert(0) += 1;
            }
            if o.parsed {
                files.parsed += 1;
            }
            if let Some(reason) = o.skipped {
                *files
                    .skipped_by_reason
                    .entry(reason.to_string())
                    .or_insert(0) += 1;
            }
            errors.extend(o.error);
            if let Some(src) = o.source {
                sources.insert(o.path.clone(), src);
            }
            facts.extend(o.facts);
        }
        files.skipped = files.skipped_by_reason.values().sum();
        facts.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        msgscan_detect::link::assign_ids(&mut facts);
        msgscan_detect::link::enrich(&mut facts);
        let topology = msgscan_detect::link::link(&facts);
        let findings = self.rulebook.judge(&facts);
        let scores = msgscan_rulebook::score(&findings);
        sources.retain(|path, _| findings.iter().any(|f| &f.path == path));
        errors.sort_by(|a, b| (&a.path, &a.kind, &a.message).cmp(&(&b.path, &b.kind, &b.message)));
        Report {
            schema_version: msgscan_report::SCHEMA_VERSION,
            tool: Tool {
                name: "msgscan".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            root: walk::display_path(&root),
            files,
            facts,
            topology,
            findings,
            scores,
            errors,
            suppressed: 0,
            sources,
        }
    }
}

/// Scans `paths` with default options and the built-in rulebook.
pub fn scan<P: AsRef<Path>>(paths: &[P]) -> Result<Report, ScanError> {
    Scanner::new(ScanOptions::default())?.scan(paths)
}
