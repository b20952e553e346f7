//! The TOML rulebook: loading with validation, judging facts, scoring.
//!
//! A rule selects facts by kind and states conditions on their fields; [`Rulebook::judge`]
//! turns the facts of a project into [`Finding`]s and [`score`] turns findings into
//! per-category scores. The built-in rules (`rules/*.toml` in the repository) are embedded
//! in the library ([`Rulebook::builtin`]); more files can be added with
//! [`Rulebook::load`].

use std::collections::{BTreeMap, HashMap};

use std::fmt;

use msgscan_detect::{Fact, Topology};
use msgscan_lang::Language;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod compile;
mod cond;
pub mod docs;
mod error;
mod judge;
mod model;
mod query;
mod score;

pub use cond::{Condition, OPERATORS, Test};
pub use error::RulebookError;
pub use query::{MATCH_CAPTURE, QueryRule};
pub use score::{
    CategoryScore, Cost, K, SEVERITY_WEIGHTS, SIZE_FLOOR, Scores, scale_for, score, score_project,
    weight,
};

use error::suggest;

/// Where a rule's documentation lives.
pub const DOCS_BASE: &str = "https://github.com/msgscan/msgscan/blob/main/docs/rules/";

/// The rulebook files shipped with msgscan: `(file name, contents)`.
pub const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The categories findings are scored in.
pub const CATEGORIES: &[&str] = &[
    "reliability",
    "security",
    "backpressure",
    "observability",
    "resource-management",
    "scalability",
    "correctness",
];

/// Languages a rule can name.
pub const LANGUAGES: &[&str] = &["python", "javascript", "typescript", "tsx", "sql"];

/// Fields of a channel usable in channel rules (conditions, `same`, placeholders).
pub const CHANNEL_FIELDS: &[&str] = &[
    "id",
    "transport",
    "name",
    "scope",
    "producers",
    "consumers",
    "producer_count",
    "consumer_count",
    "producer_kinds",
    "consumer_kinds",
    "languages",
];

/// Checks implemented in Rust whose metadata lives in TOML (`native = "..."`).
pub const NATIVE_CHECKS: &[&str] = &["unused-suppression"];

/// A project-level condition: whether some fact of `kind` (or, in channel rules, some
/// channel) passes `conditions` and agrees with the selected item on the `same` fields.
#[derive(Debug, Clone)]
pub struct Exists {
    /// `None` in channel rules.
    pub kind: Option<String>,
    pub conditions: Vec<Condition>,
    /// `(their field, our field)` pairs that must be equal.
    pub same: Vec<(String, String)>,
    /// Compare the `same` fields case-insensitively.
    pub ignore_case: bool,
    /// Fields whose values must differ exactly.
    pub distinct: Vec<String>,
}

/// One selector of a rule: facts of `kind` whose fields pass every condition, when no fact
/// of the project matches an `unless` entry and some fact matches every `requires` entry.
#[derive(Debug, Clone)]
pub struct Match {
    pub kind: String,
    pub conditions: Vec<Condition>,
    pub unless: Vec<Exists>,
    pub requires: Vec<Exists>,
}

impl Match {
    /// The per-fact conditions (project-level ones are checked by [`Rulebook::judge`]).
    pub fn selects(&self, fact: &Fact) -> bool {
        fact.kind == self.kind
            && self
                .conditions
                .iter()
                .all(|c| c.holds(fact.field(&c.field).as_ref()))
    }
}

/// Where a channel rule reports: the first producer, the first consumer, or (auto) the
/// first producer if there is one, else the first consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Auto,
    Producer,
    Consumer,
}

/// A condition on the facts at one side of a channel.
#[derive(Debug, Clone)]
pub struct SideMatch {
    pub kind: String,
    pub conditions: Vec<Condition>,
}

impl SideMatch {
    pub fn selects(&self, fact: &Fact) -> bool {
        fact.kind == self.kind
            && self
                .conditions
                .iter()
                .all(|c| c.holds(fact.field(&c.field).as_ref()))
    }
}

/// A channel selector: topology channels whose fields pass every condition.
#[derive(Debug, Clone)]
pub struct ChannelMatch {
    pub conditions: Vec<Condition>,
    pub at: At,
    /// Some producer must be a fact of this kind passing these conditions.
    pub producer: Option<SideMatch>,
    /// Some consumer must be a fact of this kind passing these conditions.
    pub consumer: Option<SideMatch>,
    /// No producer may be a fact of this kind passing these conditions.
    pub producer_unless: Option<SideMatch>,
    /// No consumer may be a fact of this kind passing these conditions.
    pub consumer_unless: Option<SideMatch>,
    pub unless: Vec<Exists>,
    pub requires: Vec<Exists>,
}

/// A validated rule. It selects with exactly one of `matches` (facts), `channel`
/// (topology channels), `query` (a tree-sitter query) or `native` (a check in Rust).
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub category: String,
    pub severity: Severity,
    pub languages: Vec<String>,
    pub message: String,
    pub why: String,
    pub fix: String,
    pub references: Vec<String>,
    pub example_bad: String,
    pub example_good: String,
    pub matches: Vec<Match>,
    pub channel: Option<ChannelMatch>,
    pub query: Option<QueryRule>,
    pub native: Option<String>,
    /// The rulebook file the rule came from.
    pub source: String,
}

impl Rule {
    pub fn docs_url(&self) -> String {
        format!("{DOCS_BASE}{}.md", self.id)
    }

    /// The message with `{field}` placeholders filled from `fact`.
    pub fn render_message(&self, fact: &Fact) -> String {
        query::render(&self.message, |k| Some(display(fact.field(k).as_ref())))
    }

    /// What the rule selects, in words: `facts`, `channels`, `query` or `native`.
    pub fn scope(&self) -> &'static str {
        if self.channel.is_some() {
            "channels"
        } else if self.query.is_some() {
            "query"
        } else if self.native.is_some() {
            "native"
        } else {
            "facts"
        }
    }
}

/// How a value reads in a message.
pub fn display(v: Option<&Value>) -> String {
    match v {
        None => "?".into(),
        Some(Value::Null) => "None".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| display(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(m)) => m
            .get("expr")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        Some(other) => other.to_string(),
    }
}

/// A rule that fired, at a place, with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub category: String,
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    pub help: String,
    pub docs_url: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fact: Option<String>,
    pub fingerprint: String,
}

/// A set of validated rules.
#[derive(Debug, Clone, Default)]
pub struct Rulebook {
    rules: Vec<Rule>,
    queries: query::QuerySets,
}

impl Rulebook {
    /// The rules shipped with msgscan.
    pub fn builtin() -> Result<Rulebook, Box<RulebookError>> {
        let mut book = Rulebook::default();
        for (file, text) in BUILTIN {
            book.load(file, text)?;
        }
        Ok(book)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Keeps only the rules for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Rule) -> bool) {
        self.rules.retain(keep);
        self.queries = query::QuerySets::build(&self.rules);
    }

    /// Parses and validates one rulebook file and adds its rules. Nothing is added if the
    /// file has an error.
    pub fn load(&mut self, file: &str, text: &str) -> Result<(), Box<RulebookError>> {
        let raw: model::RawFile = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            let help = unknown_key_help(&message);
            RulebookError::new(
                file,
                text,
                e.span().unwrap_or(0..0),
                format!("invalid rulebook: {message}"),
                "here",
                help,
            )
        })?;
        let mut added = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            let id_span = r.get_ref().id.span();
            let rule = compile::compile(file, text, r)?;
            if self.rule(&rule.id).is_some() || added.iter().any(|a: &Rule| a.id == rule.id) {
                return Err(RulebookError::new(
                    file,
                    text,
                    id_span,
                    format!("duplicate rule id `{}`", rule.id),
                    "defined again here",
                    Some("rule ids are unique and never reused".into()),
                ));
            }
            added.push(rule);
        }
        self.rules.extend(added);
        self.rules.sort_by(|a, b| a.id.cmp(&b.id));
        self.queries = query::QuerySets::build(&self.rules);
        Ok(())
    }

    /// Whether some query rule applies to `language` files.
    pub fn has_queries(&self, language: Language) -> bool {
        self.queries.has(language)
    }

    /// Whether a file of `language` with this text must be parsed for the query rules
    /// (some query rule of the language has no needles, or one of its needles occurs).
    pub fn queries_may_match(&self, language: Language, text: &str) -> bool {
        self.queries.has(language)
            && self.rules.iter().any(|r| {
                r.query
                    .as_ref()
                    .is_some_and(|q| q.languages().contains(&language) && q.may_match(text))
            })
    }

    /// Runs the query rules over one parsed file (its main tree). Call this in the per-file
    /// step, while the tree is alive; the findings still need [`finish_findings`].
    pub fn run_queries(
        &self,
        language: Language,
        path: &str,
        text: &str,
        tree: &tree_sitter::Tree,
    ) -> Vec<Finding> {
        self.queries.run(&self.rules, language, path, text, tree)
    }

    /// Judges the facts of a project (sorted, with ids), linking them first. Findings come
    /// out sorted, with fingerprints.
    pub fn judge(&self, facts: &[Fact]) -> Vec<Finding> {
        let topology = msgscan_detect::link::link(facts);
        self.judge_with_topology(facts, &topology)
    }

    /// Judges facts and channels: fact rules (with their project-level conditions) and
    /// channel rules. Query and native rules are run elsewhere (see [`Rulebook::run_queries`]).
    pub fn judge_with_topology(&self, facts: &[Fact], topology: &Topology) -> Vec<Finding> {
        let mut findings = judge::judge(&self.rules, facts, topology);
        finish_findings(&mut findings);
        findings
    }
}

/// Sorts findings and gives them fingerprints; call after merging findings from several
/// sources (facts, channels, queries, native checks).
pub fn finish_findings(findings: &mut [Finding]) {
    sort_findings(findings);
    assign_fingerprints(findings);
}

/// A hint for serde's "unknown field" errors: the closest expected key.
fn unknown_key_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (word, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    suggest(word, expected.iter().copied())
}

/// Sorts findings by path, position, rule id and message.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.rule, &a.message)
            .cmp(&(&b.path, b.line, b.column, &b.rule, &b.message))
    });
}

/// Fingerprints survive edits elsewhere in the file: they hash the rule, the path and the
/// message (which names the task/event/setting), plus an occurrence counter, not the line.
pub fn assign_fingerprints(findings: &mut [Finding]) {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for f in findings.iter_mut() {
        let base = fnv1a(&[f.rule.as_bytes(), f.path.as_bytes(), f.message.as_bytes()]);
        let n = seen.entry(base).or_insert(0);
        f.fingerprint = format!("{:016x}", fnv1a(&[&base.to_le_bytes(), &n.to_le_bytes()]));
        *n += 1;
    }
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Counts of findings per severity, in [`Severity::ALL`] order.
pub fn count_by_severity(findings: &[Finding]) -> BTreeMap<Severity, usize> {
    let mut out = BTreeMap::new();
    for f in findings {
        *out.entry(f.severity).or_insert(0) += 1;
    }
    out
}
