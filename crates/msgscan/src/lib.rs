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

pub use msgscan_config::{CliOverrides, ConfigError, FailOn, Settings};
pub use msgscan_detect::{Channel, Fact, Role, Topology};
pub use msgscan_lang::Language;
pub use msgscan_report::{FileError, FileStats, Report, Tool};
pub use msgscan_rulebook::{Finding, Rule, Rulebook, RulebookError, Scores, Severity};

mod analyze;
mod baseline;
mod cache;
mod redact;
mod select;
mod suppress;
mod walk;

pub use baseline::{BASELINE_VERSION, Baseline, BaselineApplied, BaselineEntry, BaselineError};
pub use cache::CACHE_DIR_NAME;
pub use select::{SelectError, nearest, select_rules, selector_matches};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    /// Parses the suppression comments of `text` and checks what the parser promises:
    /// every directive lies on a line of `text`, its columns are ordered and inside the
    /// line, and it names at least one non-empty rule id. Panics when a promise is broken.
    pub fn suppressions(text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        for s in crate::suppress::parse(text) {
            let line = lines
                .get(s.line as usize - 1)
                .unwrap_or_else(|| panic!("suppression on line {} of {}", s.line, lines.len()));
            let width = line.chars().count() as u32 + 1;
            assert!(
                1 <= s.column && s.column < s.end_column && s.end_column <= width,
                "columns {}..{} on a line of {width}",
                s.column,
                s.end_column
            );
            assert!(!s.rules.is_empty() && s.rules.iter().all(|r| !r.is_empty()));
            assert!(s.rules.iter().all(|r| s.covers(r, s.line)));
        }
    }
}

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
    /// Wall-time budget for detecting one parsed file's constructs; a file over it is a
    /// `timeout` entry in `errors` and contributes no facts.
    pub detect_timeout: Duration,
    /// Also scan vendored trees (`node_modules`, `.venv`, `dist`, ...) and minified bundles.
    pub include_vendored: bool,
    /// Paths are relative to this directory in the report. Default: the deepest directory
    /// that holds every path scanned.
    pub root: Option<PathBuf>,
    /// Project settings (rule selection, severities, include/exclude, per-path
    /// overrides). The default is "no configuration file"; the CLI loads them with
    /// `msgscan_config::load_for` and applies its flags with `Settings::apply_overrides`.
    pub settings: Settings,
    /// Honour `msgscan: ignore[...]` comments (default true).
    pub suppressions: bool,
    /// Keep the facts of each file in this directory, keyed by the file's path and content
    /// hash, the msgscan build and the options that change facts, and reuse them while the
    /// file is unchanged. A relative path is relative to the scan root. `None` (the
    /// default) analyses every file afresh. The CLI uses [`CACHE_DIR_NAME`] (at the scan
    /// root). Rules are always judged afresh.
    pub cache_dir: Option<PathBuf>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: None,
            max_file_size: 2 * 1024 * 1024,
            parse_timeout: Duration::from_secs(10),
            detect_timeout: Duration::from_secs(10),
            include_vendored: false,
            root: None,
            settings: Settings::default(),
            suppressions: true,
            cache_dir: None,
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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
}

/// Hears how a scan advances (for a progress bar). Called from worker threads.
pub trait Progress: Sync {
    /// The files are known; `files` of them will be analysed.
    fn start(&self, files: usize) {
        let _ = files;
    }
    /// One file is done.
    fn file_done(&self) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A configured scanner: options and a rulebook. Cheap to reuse for many scans.
#[derive(Debug, Clone)]
pub struct Scanner {
    options: ScanOptions,
    rulebook: Rulebook,
}

impl Scanner {
    /// A scanner with the built-in rulebook plus the settings' `extend` files, keeping
    /// the rules the settings can turn on somewhere. Rule ids the settings name are checked.
    pub fn new(options: ScanOptions) -> Result<Self, ScanError> {
        let rulebook = options.settings.rulebook()?;
        Ok(Self::with_rulebook(options, rulebook))
    }

    /// A scanner with the given rulebook (built-in rules plus custom ones, or a subset).
    /// The settings still select rules and set severities per path.
    pub fn with_rulebook(options: ScanOptions, mut rulebook: Rulebook) -> Self {
        let settings = &options.settings;
        rulebook.retain(|r| settings.rule_enabled_somewhere(&r.id));
        Scanner { options, rulebook }
    }

    pub fn rulebook(&self) -> &Rulebook {
        &self.rulebook
    }

    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// Scans directories (walked, honouring `.gitignore`) and files (taken as given).
    pub fn scan<P: AsRef<Path>>(&self, paths: &[P]) -> Result<Report, ScanError> {
        self.scan_with_progress(paths, &NoProgress)
    }

    /// [`Scanner::scan`], telling `progress` how it advances.
    pub fn scan_with_progress<P: AsRef<Path>>(
        &self,
        paths: &[P],
        progress: &dyn Progress,
    ) -> Result<Report, ScanError> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self.run(&paths, None, progress)
    }

    /// Scans the whole `project` but reports only the findings located in `files` (as a
    /// pre-commit hook does with the staged files): facts from every file of the project
    /// still feed the topology and cross-file rules, so a change to one file is judged
    /// against the rest of the project, and findings in files not given are left out (and
    /// not scored). The `files` are analysed even when the walk would skip them
    /// (git-ignored, hidden), unless vendored or minified. With a cache, the unchanged
    /// rest of the project costs little more than hashing.
    pub fn scan_changed<P: AsRef<Path>>(
        &self,
        project: &Path,
        files: &[P],
        progress: &dyn Progress,
    ) -> Result<Report, ScanError> {
        let files: Vec<PathBuf> = files.iter().map(|p| p.as_ref().to_path_buf()).collect();
        for f in &files {
            if std::fs::symlink_metadata(f).is_err() {
                return Err(ScanError::PathNotFound(f.clone()));
            }
        }
        self.run(&[project.to_path_buf()], Some(&files), progress)
    }

    fn run(
        &self,
        paths: &[PathBuf],
        focus: Option<&[PathBuf]>,
        progress: &dyn Progress,
    ) -> Result<Report, ScanError> {
        for p in paths {
            if std::fs::symlink_metadata(p).is_err() {
                return Err(ScanError::PathNotFound(p.clone()));
            }
        }
        let root = self.root_for(paths);
        let threads = self.options.threads.unwrap_or(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| ScanError::ThreadPool {
                threads,
                message: e.to_string(),
            })?;
        let mut walked = walk::collect(paths, &root, &self.options);
        let to_settings = self.settings_prefix(&root);
        if self.options.settings.filters_paths() {
            let before = walked.files.len();
            walked.files.retain(|f| {
                self.options
                    .settings
                    .path_included(&settings_path(&to_settings, &f.rel))
            });
            let excluded = before - walked.files.len();
            if excluded > 0 {
                *walked.skipped.entry("excluded".into()).or_insert(0) += excluded;
            }
        }
        let focus_rel: Option<std::collections::BTreeSet<String>> = focus.map(|files| {
            let extra = walk::collect(files, &root, &self.options);
            let rels = extra.files.iter().map(|f| f.rel.clone()).collect();
            walk::merge(&mut walked, extra);
            rels
        });
        let cache = self
            .options
            .cache_dir
            .as_ref()
            .map(|dir| cache::Cache::open(&root.join(dir), &self.options));
        progress.start(walked.files.len());
        let outcomes = pool.install(|| {
            analyze::analyze_all(
                &walked.files,
                &self.options,
                &self.rulebook,
                cache.as_ref(),
                progress,
            )
        });
        if let Some(cache) = cache {
            let entries = outcomes
                .iter()
                .filter_map(|o| o.cache_entry.clone().map(|e| (o.path.clone(), e)))
                .collect();
            // Entries of files outside this scan are kept unless the scan covered the
            // whole root.
            let complete = paths.iter().any(|p| p.is_dir() && *p == root);
            cache.store(entries, complete);
        }
        let mut report = self.assemble(root, walked, outcomes, &to_settings);
        if let Some(keep) = focus_rel {
            report.findings.retain(|f| keep.contains(&f.path));
            report.scores = msgscan_rulebook::score_project(&report.findings, &report.facts);
            let findings = &report.findings;
            report
                .sources
                .retain(|path, _| findings.iter().any(|f| &f.path == path));
        }
        Ok(report)
    }

    /// The path of the scan root relative to the settings' base directory, `/`-separated
    /// with a trailing `/` (empty when they are the same or unrelated).
    fn settings_prefix(&self, root: &Path) -> String {
        let Some(base) = &self.options.settings.base else {
            return String::new();
        };
        let (Ok(base), Ok(root)) = (std::fs::canonicalize(base), std::fs::canonicalize(root))
        else {
            return String::new();
        };
        match root.strip_prefix(&base) {
            Ok(rel) if !rel.as_os_str().is_empty() => {
                let mut s = walk::display_path(rel).replace('\\', "/");
                s.push('/');
                s
            }
            _ => String::new(),
        }
    }

    /// The walk stage alone: the files a [`scan`](Self::scan) of `paths` would analyse,
    /// sorted, with the same filters (`.gitignore`, vendored directories, minified names).
    /// For benchmarks and profiling of the stages; a scan does not need it.
    pub fn files<P: AsRef<Path>>(&self, paths: &[P]) -> Result<Vec<PathBuf>, ScanError> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        for p in &paths {
            if std::fs::symlink_metadata(p).is_err() {
                return Err(ScanError::PathNotFound(p.clone()));
            }
        }
        let root = self.root_for(&paths);
        let walked = walk::collect(&paths, &root, &self.options);
        Ok(walked.files.into_iter().map(|f| f.abs).collect())
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
        to_settings: &str,
    ) -> Report {
        let mut files = FileStats {
            skipped_by_reason: walked.skipped,
            ..FileStats::default()
        };
        let mut facts = Vec::new();
        let mut errors = walked.errors;
        let mut sources: BTreeMap<String, Arc<str>> = BTreeMap::new();
        let mut query_findings = Vec::new();
        let mut suppressions: BTreeMap<String, Vec<suppress::Suppression>> = BTreeMap::new();
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
            query_findings.extend(o.findings);
            if !o.suppressions.is_empty() {
                suppressions.insert(o.path.clone(), o.suppressions);
            }
        }
        files.skipped = files.skipped_by_reason.values().sum();
        facts.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        msgscan_detect::link::assign_ids(&mut facts);
        msgscan_detect::link::enrich(&mut facts);
        let topology = msgscan_detect::link::link(&facts);
        let mut findings = self.rulebook.judge_with_topology(&facts, &topology);
        findings.extend(query_findings);
        let settings = &self.options.settings;
        // Per-path selection and severities (`[[overrides]]`, `severity`).
        findings.retain_mut(|f| {
            match settings.severity_for(&f.rule, f.severity, &settings_path(to_settings, &f.path)) {
                Some(s) => {
                    f.severity = s;
                    true
                }
                None => false,
            }
        });
        let mut suppressed = 0;
        if self.options.suppressions {
            suppressed = self.apply_suppressions(&mut findings, &suppressions, to_settings);
        }
        msgscan_rulebook::finish_findings(&mut findings);
        let scores = msgscan_rulebook::score_project(&findings, &facts);
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
            suppressed,
            sources,
        }
    }
}

impl Scanner {
    /// Drops suppressed findings (returning how many) and adds an `unused-suppression`
    /// finding for each suppression that matched nothing.
    fn apply_suppressions(
        &self,
        findings: &mut Vec<Finding>,
        suppressions: &BTreeMap<String, Vec<suppress::Suppression>>,
        to_settings: &str,
    ) -> usize {
        let mut used: std::collections::BTreeSet<(String, usize)> = Default::default();
        let before = findings.len();
        findings.retain(|f| {
            let Some(list) = suppressions.get(&f.path) else {
                return true;
            };
            let mut hit = false;
            for (i, s) in list.iter().enumerate() {
                if s.covers(&f.rule, f.line) {
                    used.insert((f.path.clone(), i));
                    hit = true;
                }
            }
            !hit
        });
        let mut count = before - findings.len();
        let Some(rule) = self.rulebook.rule("unused-suppression") else {
            return count;
        };
        let settings = &self.options.settings;
        let mut unused = Vec::new();
        for (path, list) in suppressions {
            let spath = settings_path(to_settings, path);
            for (i, s) in list.iter().enumerate() {
                if used.contains(&(path.clone(), i)) {
                    continue;
                }
                // A suppression for a rule that is off here is not "unused": it is dormant.
                let dormant = s.rules.iter().any(|r| {
                    self.rulebook.rules().iter().any(|rule| {
                        msgscan_config::specificity(r, &rule.id).is_some()
                            && settings
                                .severity_for(&rule.id, rule.severity, &spath)
                                .is_none()
                    })
                }) || s.rules.iter().any(|r| {
                    self.rulebook.rule(r).is_none()
                        && !self
                            .rulebook
                            .rules()
                            .iter()
                            .any(|rule| msgscan_config::specificity(r, &rule.id).is_some())
                        && settings.severity_for(r, Severity::Info, &spath).is_none()
                });
                if dormant {
                    continue;
                }
                let Some(severity) = settings.severity_for(&rule.id, rule.severity, &spath) else {
                    continue;
                };
                let directive = if s.file_level {
                    "ignore-file"
                } else {
                    "ignore"
                };
                let rules = s.rules.join(", ");
                let message = rule
                    .message
                    .replace("{rules}", &format!("{directive}[{rules}]"))
                    .replace("{path}", path);
                let f = Finding {
                    rule: rule.id.clone(),
                    title: rule.title.clone(),
                    severity,
                    category: rule.category.clone(),
                    path: path.clone(),
                    line: s.line,
                    column: s.column,
                    end_line: s.line,
                    end_column: s.end_column,
                    message,
                    help: rule.fix.clone(),
                    docs_url: rule.docs_url(),
                    fact: None,
                    fingerprint: String::new(),
                };
                // `ignore[unused-suppression]` / `ignore-file[unused-suppression]` still work.
                if list.iter().any(|o| o != s && o.covers(&f.rule, f.line)) {
                    count += 1;
                    continue;
                }
                unused.push(f);
            }
        }
        findings.extend(unused);
        count
    }
}

/// A report path (relative to the scan root) as the settings see it (relative to their
/// base directory).
fn settings_path<'a>(prefix: &str, rel: &'a str) -> std::borrow::Cow<'a, str> {
    if prefix.is_empty() {
        std::borrow::Cow::Borrowed(rel)
    } else {
        std::borrow::Cow::Owned(format!("{prefix}{rel}"))
    }
}

/// Scans `paths` with default options and the built-in rulebook.
pub fn scan<P: AsRef<Path>>(paths: &[P]) -> Result<Report, ScanError> {
    Scanner::new(ScanOptions::default())?.scan(paths)
}
