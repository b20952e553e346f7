//! The raw TOML model of a rulebook file, as written by people. Validated into
//! [`crate::Rule`]s by [`crate::Rulebook::load`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawRule {
    pub id: Spanned<String>,
    pub title: String,
    pub category: Spanned<String>,
    pub severity: Spanned<String>,
    pub languages: Vec<Spanned<String>>,
    pub message: Spanned<String>,
    pub why: String,
    pub fix: String,
    pub references: Vec<Spanned<String>>,
    pub example: RawExample,
    #[serde(rename = "match")]
    pub matches: Spanned<Vec<RawMatch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExample {
    pub bad: String,
    pub good: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub when: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}
