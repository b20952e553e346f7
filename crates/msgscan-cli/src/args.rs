//! The command line, as clap parses it. Flags that the project configuration can also set
//! are `Option`s, so [`crate::settings::Settings::resolve`] can tell "not given" from a
//! value and let the command line outrank the configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  msgscan scan                                  scan the current directory
  msgscan scan services/ worker.py              scan a directory and a file
  msgscan scan --format json -o report.json     the JSON report, to a file
  msgscan scan --select celery --ignore celery-retry-without-backoff
  msgscan scan --fail-on warning                exit 1 on warnings too
  msgscan scan --write-baseline msgscan-baseline.json
  msgscan scan --baseline msgscan-baseline.json report only findings not in the baseline
  msgscan hook tasks.py                         as the pre-commit hook: judge tasks.py
                                                in the context of the whole repository
  msgscan rules                                 list the rules
  msgscan rules celery-pickle-serializer        explain one

Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it,
            2 usage error (bad path, unknown rule, unreadable baseline, bad rulebook).";

#[derive(Debug, Parser)]
#[command(
    name = "msgscan",
    version,
    about = "Find and judge the messaging patterns of a codebase (Celery, Node.js EventEmitter, ...)",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files and directories (default: the current directory).
    #[command(after_help = EXAMPLES)]
    Scan(ScanArgs),
    /// Judge the given files in the context of their whole repository (the pre-commit hook).
    ///
    /// Every file of the project feeds the topology and cross-file rules (from the fact
    /// cache, so unchanged files cost little), but only findings located in FILES are
    /// reported and decide the exit code.
    Hook(HookArgs),
    /// List the rules, or explain one (an id), or list a family (a prefix such as `celery`).
    Rules { id: Option<String> },
    /// Write a commented `msgscan.toml` tuned to what a scan of DIR finds.
    Init {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
        /// Overwrite an existing msgscan.toml.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan. Directories are walked honouring .gitignore.
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write a baseline of the current findings to FILE (they are then reported as
    /// suppressed); later scans with `--baseline FILE` report only new findings.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Let an LLM rewrite the narrative sections of the markdown/html report (provider,
    /// base URL and model from `[llm]` or MSGSCAN_LLM_*; key from the environment). Every
    /// fact, finding and score still comes from the rules.
    #[arg(long)]
    pub llm: bool,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The files to judge (pre-commit passes the staged files).
    pub files: Vec<PathBuf>,
    /// The project the files belong to. Default: the enclosing git repository (or the
    /// current directory outside one).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags shared by `scan` and `hook`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Output format [default: human].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only these rules: ids or prefixes (`celery`, `node-emitter`), comma-separated or repeated.
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Not these rules: ids or prefixes, comma-separated or repeated.
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Exit 1 when a finding is at or above this severity [default: error].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Report only the findings not in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Project configuration file (default: `msgscan.toml`, `.msgscan.toml` or
    /// `[tool.msgscan]` in `pyproject.toml`, found upward from the scan root).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Analyse every file afresh, neither reading nor writing the fact cache
    /// (.msgscan-cache/ at the scan root).
    #[arg(long)]
    pub no_cache: bool,
    /// Also scan vendored trees (node_modules, .venv, dist, ...) and minified bundles.
    #[arg(long)]
    pub include_vendored: bool,
}

/// Output formats. Each has one arm in [`crate::output::render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics with source snippets, grouped by file, and a summary.
    Human,
    /// The JSON report (schemas/report.schema.json).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// The Messaging Architecture Analysis Report in Markdown (Mermaid topology).
    Markdown,
    /// The same report as one self-contained HTML file (inline SVG topology).
    Html,
    /// An AsyncAPI 3.0 document of the topology's channels and operations.
    Asyncapi,
    /// GitHub Actions workflow-command annotations.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<msgscan::Severity> {
        match self {
            FailOn::Error => Some(msgscan::Severity::Error),
            FailOn::Warning => Some(msgscan::Severity::Warning),
            FailOn::Info => Some(msgscan::Severity::Info),
            FailOn::Never => None,
        }
    }
}
