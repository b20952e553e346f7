//! What a scan will do, resolved from built-in defaults and the command line.
//!
//! Precedence (DESIGN): command line > project configuration (`msgscan.toml`, read by
//! `msgscan_config`) > defaults. The project file's rule selection, severities,
//! include/exclude and overrides travel in `ScanOptions::settings`; the command line's
//! `--select`/`--ignore` then narrow the rulebook, and `--fail-on` replaces its `fail-on`.

use std::path::PathBuf;

use crate::args::{CommonArgs, FailOn, Format};

#[derive(Debug, Clone)]
pub struct Settings {
    pub format: Format,
    pub output: Option<PathBuf>,
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub fail_on: FailOn,
    /// `--fail-on` was given (it outranks the project file's `fail-on`).
    pub fail_on_flag: bool,
    pub baseline: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub threads: Option<usize>,
    pub cache: bool,
    pub include_vendored: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            format: Format::Human,
            output: None,
            select: Vec::new(),
            ignore: Vec::new(),
            fail_on: FailOn::Error,
            fail_on_flag: false,
            baseline: None,
            config: None,
            threads: None,
            cache: true,
            include_vendored: false,
        }
    }
}

impl Settings {
    /// Defaults, then the command line.
    pub fn resolve(flags: &CommonArgs) -> Settings {
        let mut s = Settings::default();
        s.apply_flags(flags);
        s
    }

    /// Flags given on the command line replace what is set.
    pub fn apply_flags(&mut self, f: &CommonArgs) {
        if let Some(format) = f.format {
            self.format = format;
        }
        if f.output.is_some() {
            self.output.clone_from(&f.output);
        }
        if !f.select.is_empty() {
            self.select.clone_from(&f.select);
        }
        if !f.ignore.is_empty() {
            self.ignore.clone_from(&f.ignore);
        }
        if let Some(fail_on) = f.fail_on {
            self.fail_on = fail_on;
            self.fail_on_flag = true;
        }
        if f.config.is_some() {
            self.config.clone_from(&f.config);
        }
        if f.baseline.is_some() {
            self.baseline.clone_from(&f.baseline);
        }
        if f.threads.is_some_and(|n| n > 0) {
            self.threads = f.threads;
        }
        if f.no_cache {
            self.cache = false;
        }
        if f.include_vendored {
            self.include_vendored = true;
        }
    }
}
