//! The TOML rulebook: loading with validation, judging facts, scoring.
//!
//! A rule selects facts by kind and states conditions on their fields; [`Rulebook::judge`]
//! turns the facts of a project into [`Finding`]s and [`score`] turns findings into
//! per-category scores. The built-in rules (`rules/*.toml` in the repository) are embedded
//! in the library ([`Rulebook::builtin`]); more files can be added with
//! [`Rulebook::load`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use msgscan_detect::{COMMON_FIELDS, Fact};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod cond;
mod error;
mod model;
mod score;

pub use cond::{Condition, OPERATORS, Test};
pub use error::RulebookError;
pub use score::{CategoryScore, SEVERITY_WEIGHTS, Scores, score};

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

/// One selector of a rule: facts of `kind` whose fields pass every condition.
#[derive(Debug, Clone)]
pub struct Match {
    pub kind: String,
    pub conditions: Vec<Condition>,
}

impl Match {
    pub fn selects(&self, fact: &Fact) -> bool {
        fact.kind == self.kind
            && self
                .conditions
                .iter()
                .all(|c| c.holds(fact.field(&c.field).as_ref()))
    }
}

/// A validated rule.
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
    /// The rulebook file the rule came from.
    pub source: String,
}

impl Rule {
    pub fn docs_url(&self) -> String {
        format!("{DOCS_BASE}{}.md", self.id)
    }

    /// The message with `{field}` placeholders filled from `fact`.
    pub fn render_message(&self, fact: &Fact) -> String {
        let mut out = String::with_capacity(self.message.len() + 16);
        let mut rest = self.message.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    out.push_str(&display(fact.field(&after[..close]).as_ref()));
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
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
    }

    /// Parses and validates one rulebook file and adds its rules. Nothing is added if the
    /// file has an error.
    pub fn load(&mut self, file: &str, text: &str) -> Result<(), Box<RulebookError>> {
        let raw: model::RawFile = toml::from_str(text).map_err(|e| {
            RulebookError::new(
                file,
                text,
                e.span().unwrap_or(0..0),
                format!("invalid rulebook: {}", e.message()),
                "here",
                None,
            )
        })?;
        let mut added = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            let rule = compile(file, text, r)?;
            if self.rule(&rule.id).is_some() || added.iter().any(|a: &Rule| a.id == rule.id) {
                let at = text.find(&format!("\"{}\"", rule.id)).unwrap_or(0);
                return Err(RulebookError::new(
                    file,
                    text,
                    at..at + rule.id.len() + 2,
                    format!("duplicate rule id `{}`", rule.id),
                    "defined again here",
                    Some("rule ids are unique and never reused".into()),
                ));
            }
            added.push(rule);
        }
        self.rules.extend(added);
        self.rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(())
    }

    /// Judges the facts of a project (sorted, with ids). Findings come out sorted by path,
    /// position and rule id.
    pub fn judge(&self, facts: &[Fact]) -> Vec<Finding> {
        let mut by_kind: HashMap<&str, Vec<&Fact>> = HashMap::new();
        for f in facts {
            by_kind.entry(f.kind.as_str()).or_default().push(f);
        }
        let mut findings = Vec::new();
        for rule in &self.rules {
            let mut seen = std::collections::HashSet::new();
            for m in &rule.matches {
                for fact in by_kind.get(m.kind.as_str()).into_iter().flatten() {
                    if !rule.languages.iter().any(|l| l == fact.language.name()) {
                        continue;
                    }
                    if !m.selects(fact) || !seen.insert(fact.id.as_str()) {
                        continue;
                    }
                    findings.push(Finding {
                        rule: rule.id.clone(),
                        title: rule.title.clone(),
                        severity: rule.severity,
                        category: rule.category.clone(),
                        path: fact.path.clone(),
                        line: fact.line,
                        column: fact.column,
                        end_line: fact.end_line,
                        end_column: fact.end_column,
                        message: rule.render_message(fact),
                        help: rule.fix.clone(),
                        docs_url: rule.docs_url(),
                        fact: Some(fact.id.clone()),
                        fingerprint: String::new(),
                    });
                }
            }
        }
        sort_findings(&mut findings);
        assign_fingerprints(&mut findings);
        findings
    }
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

fn compile(file: &str, text: &str, r: model::RawRule) -> Result<Rule, Box<RulebookError>> {
    let err = |span: std::ops::Range<usize>, msg: String, label: &str, help: Option<String>| {
        RulebookError::new(file, text, span, msg, label, help)
    };
    let id = r.id.get_ref().clone();
    let id_ok = !id.is_empty()
        && id.split('-').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !id_ok {
        return Err(err(r.id.span(), format!("rule id `{id}` is not kebab-case"), "here", Some("use lower-case words joined by `-`, prefixed by the family (`celery-`, `node-`, ...)".into())));
    }
    let category = r.category.get_ref();
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(err(
            r.category.span(),
            format!("unknown category `{category}`"),
            "not a category",
            suggest(category, CATEGORIES.iter().copied())
                .or_else(|| Some(format!("one of: {}", CATEGORIES.join(", ")))),
        ));
    }
    let severity = Severity::parse(r.severity.get_ref()).ok_or_else(|| {
        err(
            r.severity.span(),
            format!("unknown severity `{}`", r.severity.get_ref()),
            "not a severity",
            Some("one of: error, warning, info".into()),
        )
    })?;
    for lang in &r.languages {
        if !LANGUAGES.contains(&lang.get_ref().as_str()) {
            return Err(err(
                lang.span(),
                format!("unknown language `{}`", lang.get_ref()),
                "not a language",
                suggest(lang.get_ref(), LANGUAGES.iter().copied()),
            ));
        }
    }
    for reference in &r.references {
        if !reference.get_ref().starts_with("https://") {
            return Err(err(
                reference.span(),
                "references must be https URLs to the primary source".into(),
                "not a URL",
                None,
            ));
        }
    }
    if r.references.is_empty() {
        return Err(err(
            r.id.span(),
            format!("rule `{id}` has no references"),
            "this rule",
            Some("cite the primary source of the practice".into()),
        ));
    }
    let matches_span = r.matches.span();
    let raw_matches = r.matches.into_inner();
    if raw_matches.is_empty() {
        return Err(err(
            matches_span,
            format!("rule `{id}` selects nothing"),
            "empty",
            Some("add a `[[rule.match]]` with a fact `kind`".into()),
        ));
    }
    let mut matches = Vec::new();
    let mut kinds = Vec::new();
    for m in raw_matches {
        let kind_name = m.kind.get_ref();
        let Some(spec) = msgscan_detect::kind(kind_name) else {
            return Err(err(
                m.kind.span(),
                format!("unknown fact kind `{kind_name}`"),
                "no detector emits this",
                suggest(kind_name, msgscan_detect::kinds().map(|k| k.kind)),
            ));
        };
        kinds.push(spec);
        let mut conditions = Vec::new();
        for (field, test) in &m.when {
            let field_name = field.get_ref();
            let attr = spec.attr(field_name);
            if attr.is_none() && !COMMON_FIELDS.contains(&field_name.as_str()) {
                let candidates = spec
                    .attrs
                    .iter()
                    .map(|a| a.name)
                    .chain(COMMON_FIELDS.iter().copied());
                return Err(err(
                    field.span(),
                    format!("`{kind_name}` facts have no field `{field_name}`"),
                    "unknown field",
                    suggest(field_name, candidates).or_else(|| {
                        Some(format!(
                            "fields of `{kind_name}`: {}",
                            spec.attrs
                                .iter()
                                .map(|a| a.name)
                                .chain(COMMON_FIELDS.iter().copied())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                ));
            }
            let tests = match test.get_ref() {
                toml::Value::Table(ops) => {
                    let mut tests = Vec::new();
                    for (op, arg) in ops {
                        let t = cond::compile_op(op, arg).map_err(|msg| {
                            let help = if OPERATORS.contains(&op.as_str()) {
                                None
                            } else {
                                suggest(op, OPERATORS.iter().copied())
                            };
                            err(
                                test.span(),
                                format!("in `{field_name}`: {msg}"),
                                "this condition",
                                help,
                            )
                        })?;
                        tests.push(t);
                    }
                    tests
                }
                toml::Value::Array(_) => {
                    return Err(err(
                        test.span(),
                        format!("`{field_name}` is compared with an array"),
                        "ambiguous",
                        Some(format!(
                            "write `{field_name} = {{ in = [...] }}` or `{{ contains = ... }}`"
                        )),
                    ));
                }
                literal => {
                    if let (Some(a), toml::Value::String(_)) = (attr, literal)
                        && a.ty == msgscan_detect::AttrType::Bool
                    {
                        return Err(err(
                            test.span(),
                            format!("`{field_name}` is a boolean"),
                            "a string",
                            Some("write `true` or `false` without quotes".into()),
                        ));
                    }
                    vec![Test::Eq(cond::json(literal))]
                }
            };
            conditions.push(Condition {
                field: field_name.clone(),
                tests,
            });
        }
        matches.push(Match {
            kind: kind_name.clone(),
            conditions,
        });
    }
    // Placeholders must name a field every selected kind has.
    let msg = r.message.get_ref();
    let mut rest = msg.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let known = COMMON_FIELDS.contains(&name) || kinds.iter().all(|k| k.attr(name).is_some());
        if !known {
            // Span of the placeholder inside the TOML string (best effort: the message span).
            let base = r.message.span();
            let at = text[base.clone()]
                .find(&format!("{{{name}}}"))
                .map(|i| base.start + i..base.start + i + name.len() + 2)
                .unwrap_or(base);
            let candidates: Vec<&str> = kinds
                .iter()
                .flat_map(|k| k.attrs.iter().map(|a| a.name))
                .chain(COMMON_FIELDS.iter().copied())
                .collect();
            return Err(err(
                at,
                format!("placeholder `{{{name}}}` is not a field of every selected fact kind"),
                "unknown placeholder",
                suggest(name, candidates),
            ));
        }
        offset += open + close + 1;
        rest = &msg[offset..];
    }
    Ok(Rule {
        id,
        title: r.title,
        category: category.clone(),
        severity,
        languages: r.languages.into_iter().map(|l| l.into_inner()).collect(),
        message: msg.clone(),
        why: r.why.trim().to_string(),
        fix: r.fix.trim().to_string(),
        references: r.references.into_iter().map(|s| s.into_inner()).collect(),
        example_bad: r.example.bad,
        example_good: r.example.good,
        matches,
        source: file.to_string(),
    })
}

/// Counts of findings per severity, in [`Severity::ALL`] order.
pub fn count_by_severity(findings: &[Finding]) -> BTreeMap<Severity, usize> {
    let mut out = BTreeMap::new();
    for f in findings {
        *out.entry(f.severity).or_insert(0) += 1;
    }
    out
}
