//! The raw TOML model of a rulebook file, as written by people. Validated into
//! [`crate::Rule`]s by [`crate::Rulebook::load`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
}

pub(crate) type When = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

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
    /// Fact selectors (alternatives).
    #[serde(rename = "match", default)]
    pub matches: Option<Spanned<Vec<RawMatch>>>,
    /// A channel selector.
    #[serde(default)]
    pub channel: Option<Spanned<RawChannel>>,
    /// A tree-sitter query.
    #[serde(default)]
    pub query: Option<Spanned<String>>,
    /// Literal tokens without which a query rule cannot match (the parse prefilter).
    #[serde(default)]
    pub needles: Option<Spanned<Vec<String>>>,
    /// A check implemented in Rust (`unused-suppression`).
    #[serde(default)]
    pub native: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExample {
    pub bad: String,
    pub good: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawMatch {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub when: When,
    #[serde(default)]
    pub unless_exists: Vec<Spanned<RawExists>>,
    #[serde(default)]
    pub if_exists: Vec<Spanned<RawExists>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawChannel {
    #[serde(default)]
    pub when: When,
    /// `producer` or `consumer`: which side's first fact the finding is reported at.
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// The channel is selected only if one of its producers matches; the finding is
    /// reported at the first such producer.
    #[serde(default)]
    pub producer: Option<RawSide>,
    /// The same for consumers.
    #[serde(default)]
    pub consumer: Option<RawSide>,
    /// The channel is skipped if one of its producers matches.
    #[serde(default)]
    pub producer_unless: Option<RawSide>,
    /// The channel is skipped if one of its consumers matches.
    #[serde(default)]
    pub consumer_unless: Option<RawSide>,
    #[serde(default)]
    pub unless_exists: Vec<Spanned<RawExists>>,
    #[serde(default)]
    pub if_exists: Vec<Spanned<RawExists>>,
}

/// A project-level condition: some fact (or channel) matching `when`, and whose fields
/// named by the keys of `same` equal the selected item's fields named by the values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawExists {
    /// The fact kind (fact rules); absent in channel rules, which look at channels.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    #[serde(default)]
    pub when: When,
    #[serde(default)]
    pub same: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Compare `same` fields case-insensitively.
    #[serde(default)]
    pub ignore_case: bool,
    /// Fields whose values must differ (exactly) between the two.
    #[serde(default)]
    pub distinct: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSide {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub when: When,
}
