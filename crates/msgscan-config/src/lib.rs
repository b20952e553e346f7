//! Project configuration: `msgscan.toml` (or `[tool.msgscan]` in `pyproject.toml`), found
//! upward from the scan root, validated into [`Settings`].
//!
//! Precedence: command line > project file > defaults. The CLI builds [`CliOverrides`]
//! from its flags and calls [`Settings::apply_overrides`]; then [`Settings::rulebook`]
//! loads the built-in rules plus the `extend` files and checks every rule id the settings
//! name. A bad file is a [`ConfigError`]: a miette diagnostic at the offending key or
//! value, with a suggestion. Nothing here prints or exits.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use miette::{Diagnostic, NamedSource, SourceSpan};
use msgscan_rulebook::{Rulebook, RulebookError, Severity};
use thiserror::Error;
use toml::Spanned;

mod raw;

pub use raw::KEYS;

/// The file names looked for, in order, in each directory from the scan root upward.
pub const FILE_NAMES: &[&str] = &["msgscan.toml", ".msgscan.toml", "pyproject.toml"];

/// A bad key or value in a configuration file, with its location.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(msgscan::config))]
pub struct InvalidConfig {
    pub message: String,
    #[source_code]
    pub source_code: NamedSource<String>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
}

/// A configuration problem.
#[derive(Debug, Error, Diagnostic)]
pub enum ConfigError {
    /// A bad key or value in a configuration file.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Box<InvalidConfig>),
    /// A bad value given on the command line.
    #[error("{message}")]
    #[diagnostic(code(msgscan::config))]
    Cli {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("cannot read {}: {message}", path.display())]
    #[diagnostic(code(msgscan::config::io))]
    Io { path: PathBuf, message: String },
    /// An `extend` rulebook file is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Rulebook(#[from] Box<RulebookError>),
}

impl ConfigError {
    /// The 1-based line of a file error, if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid(e) => {
                let text = e.source_code.inner();
                Some(
                    text[..e.span.offset().min(text.len())]
                        .matches('\n')
                        .count()
                        + 1,
                )
            }
            _ => None,
        }
    }
}

/// A per-rule severity setting: a severity or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    On(Severity),
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        if s == "off" {
            return Some(Level::Off);
        }
        Severity::parse(s).map(Level::On)
    }
}

/// The `fail-on` threshold: the exit status is 1 when a finding is at or above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub fn parse(s: &str) -> Option<FailOn> {
        Some(match s {
            "error" => FailOn::Error,
            "warning" => FailOn::Warning,
            "info" => FailOn::Info,
            "never" => FailOn::Never,
            _ => return None,
        })
    }

    /// The lowest severity that fails, or `None` for `never`.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

/// Where a rule id was written, to point at it if it names no rule.
#[derive(Debug, Clone)]
struct Origin {
    id: String,
    span: Option<Range<usize>>,
}

/// Rule selection by id or prefix (`celery` and `celery-` select every `celery-...` rule).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `None`: every rule.
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    /// Per rule id or prefix.
    pub severity: BTreeMap<String, Level>,
}

/// How specifically `pattern` names `id`: `None` if not at all, else the pattern length.
pub fn specificity(pattern: &str, id: &str) -> Option<usize> {
    if pattern == id {
        return Some(usize::MAX);
    }
    if pattern.is_empty() || !id.starts_with(pattern) {
        return None;
    }
    (pattern.ends_with('-') || id[pattern.len()..].starts_with('-')).then_some(pattern.len())
}

fn best(patterns: &[String], id: &str) -> Option<usize> {
    patterns.iter().filter_map(|p| specificity(p, id)).max()
}

impl Selection {
    /// Whether the selection turns `id` on (`Some(true)`), off (`Some(false)`) or says
    /// nothing about it. The most specific pattern wins; `ignore` wins a tie. At the top
    /// level (`top`), no `select` means every rule, and a rule `select` does not name is off;
    /// in an override, a rule neither list names keeps its top-level state.
    fn decide(&self, id: &str, top: bool) -> Option<bool> {
        let sel = match &self.select {
            Some(s) => best(s, id),
            None if top => Some(0),
            None => None,
        };
        let ign = best(&self.ignore, id);
        match (sel, ign) {
            (None, None) => top.then_some(false),
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(s), Some(i)) => Some(s > i),
        }
    }

    fn level(&self, id: &str) -> Option<Level> {
        self.severity
            .iter()
            .filter_map(|(p, l)| specificity(p, id).map(|s| (s, *l)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, l)| l)
    }
}

/// Settings for files matching `files`.
#[derive(Debug, Clone)]
pub struct Override {
    pub files: Vec<String>,
    matcher: GlobSet,
    pub selection: Selection,
}

/// Report context (`[report]`): used by the report's narrative.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportContext {
    /// `prototype`, `mvp`, `production` or `scale`.
    pub stage: Option<String>,
    /// Free text, e.g. "200 messages/s at peak".
    pub expected_volume: Option<String>,
    pub constraints: Vec<String>,
}

/// `[llm]`: how to reach a model for the narrative. Keys come from the environment only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmSettings {
    /// `openai`, `anthropic`, `ollama` or `openai-compatible`.
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// Whether source snippets may be sent to the model (default false).
    pub send_source: bool,
}

/// Stages `[report] stage` accepts.
pub const STAGES: &[&str] = &["prototype", "mvp", "production", "scale"];
/// Providers `[llm] provider` accepts.
pub const PROVIDERS: &[&str] = &["openai", "anthropic", "ollama", "openai-compatible"];

/// Validated project settings. `Settings::default()` is "no configuration file".
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The configuration file, if one was found.
    pub file: Option<PathBuf>,
    /// The directory globs and `extend` paths are relative to (the file's directory).
    pub base: Option<PathBuf>,
    pub selection: Selection,
    /// Extra rulebook files, absolute or relative to `base`.
    pub extend: Vec<PathBuf>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    include_set: Option<GlobSet>,
    exclude_set: Option<GlobSet>,
    pub fail_on: FailOn,
    pub overrides: Vec<Override>,
    pub report: ReportContext,
    pub llm: LlmSettings,
    origins: Vec<Origin>,
    source: Option<(String, String)>,
}

/// Values from the command line; each `Some` replaces the file's value.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    /// `--select`: replaces `select`.
    pub select: Option<Vec<String>>,
    /// `--ignore`: added to `ignore`.
    pub ignore: Vec<String>,
    /// `--extend-select`-like additions to `select` (kept when `select` is all rules).
    pub extend_select: Vec<String>,
    /// `--severity RULE=LEVEL`.
    pub severity: Vec<(String, String)>,
    /// `--fail-on`.
    pub fail_on: Option<String>,
    /// `--exclude` globs, added.
    pub exclude: Vec<String>,
    /// `--llm` / model settings.
    pub llm_provider: Option<String>,
    pub llm_model: Option<String>,
    pub llm_base_url: Option<String>,
}

/// Finds the configuration file for a scan root: the nearest `msgscan.toml`,
/// `.msgscan.toml`, or `pyproject.toml` with a `[tool.msgscan]` table, from `start` upward.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let start = if start.is_file() {
        start.parent()?.to_path_buf()
    } else {
        start.to_path_buf()
    };
    let start = std::fs::canonicalize(&start).unwrap_or(start);
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        for name in FILE_NAMES {
            let candidate = d.join(name);
            if !candidate.is_file() {
                continue;
            }
            if *name == "pyproject.toml" {
                let has =
                    std::fs::read_to_string(&candidate).is_ok_and(|t| t.contains("[tool.msgscan"));
                if !has {
                    continue;
                }
            }
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// Discovers and loads the settings for a scan root (defaults when there is no file).
pub fn load_for(root: &Path) -> Result<Settings, ConfigError> {
    match discover(root) {
        Some(path) => Settings::load(&path),
        None => Ok(Settings::default()),
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, (usize, String)> {
    let mut b = GlobSetBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        let p = p.trim_start_matches("./");
        let mut add = |pat: &str| -> Result<(), (usize, String)> {
            let g = GlobBuilder::new(pat)
                .literal_separator(true)
                .build()
                .map_err(|e| (i, e.kind().to_string()))?;
            b.add(g);
            Ok(())
        };
        add(p)?;
        if !p.contains('/') {
            add(&format!("**/{p}"))?;
        }
    }
    b.build().map_err(|e| (0, e.to_string()))
}

fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

struct Cx<'a> {
    name: &'a str,
    text: &'a str,
}

impl Cx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        label: &str,
        help: Option<String>,
    ) -> ConfigError {
        ConfigError::Invalid(Box::new(InvalidConfig {
            message: message.into(),
            source_code: NamedSource::new(self.name, self.text.to_string()),
            span: span.into(),
            label: label.into(),
            help,
        }))
    }
}

impl Settings {
    /// Reads and validates a configuration file (`msgscan.toml`, or a `pyproject.toml`
    /// whose `[tool.msgscan]` table is used).
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut s = Settings::parse(&path.display().to_string(), &text, &base)?;
        s.file = Some(path.to_path_buf());
        Ok(s)
    }

    /// Validates configuration text. `name` is shown in errors; a name ending in
    /// `pyproject.toml` reads the `[tool.msgscan]` table. `base` is the directory globs and
    /// `extend` paths are relative to.
    pub fn parse(name: &str, text: &str, base: &Path) -> Result<Settings, ConfigError> {
        let cx = Cx { name, text };
        let toml_err = |e: toml::de::Error| {
            let message = e.message().to_string();
            let help = unknown_key_help(&message);
            cx.err(
                e.span().unwrap_or(0..0),
                format!("invalid configuration: {message}"),
                "here",
                help,
            )
        };
        let raw: raw::RawConfig = if name.ends_with("pyproject.toml") {
            let py: raw::Pyproject = toml::from_str(text).map_err(toml_err)?;
            py.tool.and_then(|t| t.msgscan).unwrap_or_default()
        } else {
            toml::from_str(text).map_err(toml_err)?
        };
        let mut origins = Vec::new();
        let mut ids = |v: &[Spanned<String>]| -> Result<Vec<String>, ConfigError> {
            let mut out = Vec::new();
            for id in v {
                if id.get_ref().is_empty() {
                    return Err(cx.err(id.span(), "empty rule id", "here", None));
                }
                origins.push(Origin {
                    id: id.get_ref().clone(),
                    span: Some(id.span()),
                });
                out.push(id.get_ref().clone());
            }
            Ok(out)
        };
        let select = raw.select.as_deref().map(&mut ids).transpose()?;
        let ignore = ids(&raw.ignore)?;
        let severity = severity_map(&cx, &raw.severity, &mut origins)?;
        let mut overrides = Vec::new();
        for o in &raw.overrides {
            let files: Vec<String> = o.files.iter().map(|f| f.get_ref().clone()).collect();
            if files.is_empty() {
                return Err(cx.err(
                    0..0,
                    "an `[[overrides]]` entry has no `files`",
                    "here",
                    Some("add `files = [\"tests/**\"]`".into()),
                ));
            }
            let matcher = glob_set(&files).map_err(|(i, m)| {
                cx.err(
                    o.files[i].span(),
                    format!("invalid glob: {m}"),
                    "this glob",
                    None,
                )
            })?;
            let mut o_ids = |v: &[Spanned<String>]| -> Vec<String> {
                v.iter()
                    .map(|id| {
                        origins.push(Origin {
                            id: id.get_ref().clone(),
                            span: Some(id.span()),
                        });
                        id.get_ref().clone()
                    })
                    .collect()
            };
            let select = o_ids(&o.select);
            let ignore = o_ids(&o.ignore);
            let severity = severity_map(&cx, &o.severity, &mut origins)?;
            overrides.push(Override {
                files,
                matcher,
                selection: Selection {
                    select: Some(select),
                    ignore,
                    severity,
                },
            });
        }
        let strings =
            |v: &[Spanned<String>]| v.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
        let include = strings(&raw.include);
        let exclude = strings(&raw.exclude);
        let include_set = if include.is_empty() {
            None
        } else {
            Some(glob_set(&include).map_err(|(i, m)| {
                cx.err(
                    raw.include[i].span(),
                    format!("invalid glob: {m}"),
                    "this glob",
                    None,
                )
            })?)
        };
        let exclude_set = if exclude.is_empty() {
            None
        } else {
            Some(glob_set(&exclude).map_err(|(i, m)| {
                cx.err(
                    raw.exclude[i].span(),
                    format!("invalid glob: {m}"),
                    "this glob",
                    None,
                )
            })?)
        };
        let fail_on = match &raw.fail_on {
            None => FailOn::Error,
            Some(f) => FailOn::parse(f.get_ref()).ok_or_else(|| {
                cx.err(
                    f.span(),
                    format!("unknown `fail-on` value `{}`", f.get_ref()),
                    "not a threshold",
                    suggest(f.get_ref(), ["error", "warning", "info", "never"])
                        .or_else(|| Some("one of: error, warning, info, never".into())),
                )
            })?,
        };
        let stage = match &raw.report.stage {
            None => None,
            Some(st) if STAGES.contains(&st.get_ref().as_str()) => Some(st.get_ref().clone()),
            Some(st) => {
                return Err(cx.err(
                    st.span(),
                    format!("unknown stage `{}`", st.get_ref()),
                    "not a stage",
                    suggest(st.get_ref(), STAGES.iter().copied())
                        .or_else(|| Some(format!("one of: {}", STAGES.join(", ")))),
                ));
            }
        };
        let provider = match &raw.llm.provider {
            None => None,
            Some(p) if PROVIDERS.contains(&p.get_ref().as_str()) => Some(p.get_ref().clone()),
            Some(p) => {
                return Err(cx.err(
                    p.span(),
                    format!("unknown LLM provider `{}`", p.get_ref()),
                    "not a provider",
                    suggest(p.get_ref(), PROVIDERS.iter().copied())
                        .or_else(|| Some(format!("one of: {}", PROVIDERS.join(", ")))),
                ));
            }
        };
        if let Some(url) = &raw.llm.base_url
            && !(url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://"))
        {
            return Err(cx.err(
                url.span(),
                "`base-url` must be an http(s) URL",
                "not a URL",
                Some("e.g. `http://localhost:11434/v1` for Ollama".into()),
            ));
        }
        Ok(Settings {
            file: None,
            base: Some(base.to_path_buf()),
            selection: Selection {
                select,
                ignore,
                severity,
            },
            extend: raw.extend.iter().map(|p| base.join(p.get_ref())).collect(),
            include,
            exclude,
            include_set,
            exclude_set,
            fail_on,
            overrides,
            report: ReportContext {
                stage,
                expected_volume: raw.report.expected_volume,
                constraints: raw.report.constraints,
            },
            llm: LlmSettings {
                provider,
                base_url: raw.llm.base_url.map(|u| u.into_inner()),
                model: raw.llm.model,
                send_source: raw.llm.send_source.unwrap_or(false),
            },
            origins,
            source: Some((name.to_string(), text.to_string())),
        })
    }

    /// Applies command-line values over the file's (command line > file > defaults).
    pub fn apply_overrides(&mut self, cli: CliOverrides) -> Result<(), ConfigError> {
        let origin = |id: &String| Origin {
            id: id.clone(),
            span: None,
        };
        if let Some(select) = cli.select {
            self.origins.extend(select.iter().map(origin));
            self.selection.select = Some(select);
        }
        if !cli.extend_select.is_empty() {
            self.origins.extend(cli.extend_select.iter().map(origin));
            if let Some(s) = &mut self.selection.select {
                s.extend(cli.extend_select);
            }
        }
        self.origins.extend(cli.ignore.iter().map(origin));
        self.selection.ignore.extend(cli.ignore);
        for (id, level) in cli.severity {
            let l = Level::parse(&level).ok_or_else(|| ConfigError::Cli {
                message: format!("unknown severity `{level}` for `{id}`"),
                help: Some("one of: error, warning, info, off".into()),
            })?;
            self.origins.push(origin(&id));
            self.selection.severity.insert(id, l);
        }
        if let Some(f) = cli.fail_on {
            self.fail_on = FailOn::parse(&f).ok_or_else(|| ConfigError::Cli {
                message: format!("unknown `--fail-on` value `{f}`"),
                help: Some("one of: error, warning, info, never".into()),
            })?;
        }
        if !cli.exclude.is_empty() {
            self.exclude.extend(cli.exclude);
            self.exclude_set =
                Some(glob_set(&self.exclude).map_err(|(i, m)| ConfigError::Cli {
                    message: format!(
                        "invalid glob `{}`: {m}",
                        self.exclude.get(i).map_or("", |s| s.as_str())
                    ),
                    help: None,
                })?);
        }
        if cli.llm_provider.is_some() {
            self.llm.provider = cli.llm_provider;
        }
        if cli.llm_model.is_some() {
            self.llm.model = cli.llm_model;
        }
        if cli.llm_base_url.is_some() {
            self.llm.base_url = cli.llm_base_url;
        }
        Ok(())
    }

    /// The built-in rulebook plus the `extend` files, with every rule id the settings name
    /// checked against it (an id or prefix that names no rule is an error).
    pub fn rulebook(&self) -> Result<Rulebook, ConfigError> {
        let mut book = Rulebook::builtin()?;
        for path in &self.extend {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
                path: path.clone(),
                message: e.to_string(),
            })?;
            book.load(&path.display().to_string(), &text)?;
        }
        self.check_ids(&book)?;
        Ok(book)
    }

    /// Checks that every rule id or prefix in the settings names some rule of `book`.
    pub fn check_ids(&self, book: &Rulebook) -> Result<(), ConfigError> {
        for o in &self.origins {
            if book
                .rules()
                .iter()
                .any(|r| specificity(&o.id, &r.id).is_some())
            {
                continue;
            }
            let help = suggest(&o.id, book.rules().iter().map(|r| r.id.as_str()))
                .or_else(|| Some("`msgscan rules` lists the rule ids".into()));
            let message = format!("`{}` is not a rule id or prefix", o.id);
            return Err(match (&o.span, &self.source) {
                (Some(span), Some((name, text))) => {
                    Cx { name, text }.err(span.clone(), message, "no such rule", help)
                }
                _ => ConfigError::Cli { message, help },
            });
        }
        Ok(())
    }

    /// Whether the rule can fire anywhere (top level, or some override turns it on).
    pub fn rule_enabled_somewhere(&self, id: &str) -> bool {
        let top = self.selection.decide(id, true).unwrap_or(true)
            && self.selection.level(id) != Some(Level::Off);
        top || self.overrides.iter().any(|o| {
            o.selection.decide(id, false) == Some(true)
                || matches!(o.selection.level(id), Some(Level::On(_)))
        })
    }

    /// The severity of rule `id` (default `default`) for a finding in `path` (relative to
    /// [`Settings::base`]), or `None` when the rule is off there.
    pub fn severity_for(&self, id: &str, default: Severity, path: &str) -> Option<Severity> {
        let mut on = self.selection.decide(id, true).unwrap_or(true);
        let mut level = self.selection.level(id);
        for o in &self.overrides {
            if !o.matcher.is_match(path) {
                continue;
            }
            if let Some(b) = o.selection.decide(id, false) {
                on = b;
            }
            if let Some(l) = o.selection.level(id) {
                level = Some(l);
            }
        }
        if !on {
            return None;
        }
        match level {
            Some(Level::Off) => None,
            Some(Level::On(s)) => Some(s),
            None => Some(default),
        }
    }

    /// Whether a file (path relative to [`Settings::base`], `/`-separated) is scanned under
    /// `include` / `exclude`. A pattern without `/` matches at any depth; an excluded
    /// directory excludes everything below it.
    pub fn path_included(&self, path: &str) -> bool {
        if let Some(ex) = &self.exclude_set {
            let mut p = path;
            loop {
                if ex.is_match(p) {
                    return false;
                }
                match p.rfind('/') {
                    Some(i) => p = &p[..i],
                    None => break,
                }
            }
        }
        self.include_set
            .as_ref()
            .is_none_or(|inc| inc.is_match(path))
    }

    /// Whether the settings filter paths at all.
    pub fn filters_paths(&self) -> bool {
        self.include_set.is_some() || self.exclude_set.is_some()
    }
}

fn severity_map(
    cx: &Cx<'_>,
    raw: &raw::SeverityMap,
    origins: &mut Vec<Origin>,
) -> Result<BTreeMap<String, Level>, ConfigError> {
    let mut out = BTreeMap::new();
    for (id, level) in raw {
        let l = Level::parse(level.get_ref()).ok_or_else(|| {
            cx.err(
                level.span(),
                format!("unknown severity `{}`", level.get_ref()),
                "not a severity",
                suggest(level.get_ref(), ["error", "warning", "info", "off"])
                    .or_else(|| Some("one of: error, warning, info, off".into())),
            )
        })?;
        origins.push(Origin {
            id: id.get_ref().clone(),
            span: Some(id.span()),
        });
        out.insert(id.get_ref().clone(), l);
    }
    Ok(out)
}

/// A hint for serde's "unknown field" errors: the closest expected key.
fn unknown_key_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (word, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    suggest(word, expected.iter().copied()).or_else(|| {
        (!expected.is_empty()).then(|| format!("expected one of: {}", expected.join(", ")))
    })
}
