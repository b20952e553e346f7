//! The raw serde model of `msgscan.toml` (and `[tool.msgscan]` in `pyproject.toml`).
//! Every table denies unknown keys; values keep their spans for error messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub(crate) type Ids = Vec<Spanned<String>>;
pub(crate) type SeverityMap = BTreeMap<Spanned<String>, Spanned<String>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub select: Option<Ids>,
    #[serde(default)]
    pub ignore: Ids,
    #[serde(default)]
    pub severity: SeverityMap,
    #[serde(default)]
    pub extend: Ids,
    #[serde(default)]
    pub include: Ids,
    #[serde(default)]
    pub exclude: Ids,
    #[serde(default)]
    pub fail_on: Option<Spanned<String>>,
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
    #[serde(default)]
    pub report: RawReport,
    #[serde(default)]
    pub llm: RawLlm,
}

/// Every key of the model, by table: the JSON Schema test checks it against the schema.
pub const KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "select",
            "ignore",
            "severity",
            "extend",
            "include",
            "exclude",
            "fail-on",
            "overrides",
            "report",
            "llm",
        ],
    ),
    ("overrides", &["files", "select", "ignore", "severity"]),
    ("report", &["stage", "expected-volume", "constraints"]),
    ("llm", &["provider", "base-url", "model", "send-source"]),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawOverride {
    pub files: Ids,
    #[serde(default)]
    pub select: Ids,
    #[serde(default)]
    pub ignore: Ids,
    #[serde(default)]
    pub severity: SeverityMap,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawReport {
    #[serde(default)]
    pub stage: Option<Spanned<String>>,
    #[serde(default)]
    pub expected_volume: Option<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLlm {
    #[serde(default)]
    pub provider: Option<Spanned<String>>,
    #[serde(default)]
    pub base_url: Option<Spanned<String>>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub send_source: Option<bool>,
}

/// `pyproject.toml`: only `[tool.msgscan]` is read.
#[derive(Debug, Deserialize)]
pub(crate) struct Pyproject {
    #[serde(default)]
    pub tool: Option<PyTool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PyTool {
    #[serde(default)]
    pub msgscan: Option<RawConfig>,
}
