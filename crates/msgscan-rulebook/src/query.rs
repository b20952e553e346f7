//! Rules written as tree-sitter queries, for patterns no detector models.
//!
//! Each query rule is compiled once per language when the rulebook loads (a bad query is a
//! diagnostic pointing into the TOML). The query rules of one language are then combined
//! into one [`tree_sitter::Query`], so a file costs one extra query-cursor pass over its
//! already-parsed tree, whatever the number of query rules, and no second read or parse.

use std::collections::BTreeMap;
use std::sync::Arc;

use msgscan_lang::{Language, LineIndex};
use tree_sitter::{Query, QueryCursor, StreamingIterator, Tree};

use crate::{Finding, Rule};

/// The name of the capture whose node a finding is reported at.
pub const MATCH_CAPTURE: &str = "match";

/// A compiled query rule.
#[derive(Debug, Clone)]
pub struct QueryRule {
    /// The query as written.
    pub source: String,
    /// Literal tokens without one of which the rule cannot match; empty means every file
    /// of the rule's languages is parsed.
    pub needles: Vec<String>,
    capture_names: Vec<String>,
    languages: Vec<Language>,
}

/// Why a query did not compile.
#[derive(Debug)]
pub(crate) struct QueryCompileError {
    pub language: &'static str,
    /// Byte offset in the query source.
    pub offset: usize,
    pub message: String,
    pub help: Option<String>,
}

pub(crate) fn language(name: &str) -> Option<Language> {
    Language::ALL.into_iter().find(|l| l.name() == name)
}

impl QueryRule {
    pub(crate) fn compile(
        source: &str,
        languages: &[&str],
        needles: Vec<String>,
    ) -> Result<QueryRule, QueryCompileError> {
        let mut capture_names: Vec<String> = Vec::new();
        let mut langs = Vec::new();
        for name in languages {
            let Some(lang) = language(name) else { continue };
            let q = Query::new(&lang.grammar(), source).map_err(|e| QueryCompileError {
                language: lang.name(),
                offset: e.offset,
                message: format!("{:?} error: {}", e.kind, e.message.trim()),
                help: Some(
                    "check the node and field names against the grammar (`tree-sitter parse` \
                     shows them); a query must be valid in every language the rule lists"
                        .into(),
                ),
            })?;
            if q.capture_index_for_name(MATCH_CAPTURE).is_none() {
                return Err(QueryCompileError {
                    language: lang.name(),
                    offset: 0,
                    message: "the query has no `@match` capture".into(),
                    help: Some("capture the node to report with `@match`".into()),
                });
            }
            for n in q.capture_names() {
                if !capture_names.iter().any(|c| c == n) {
                    capture_names.push((*n).to_string());
                }
            }
            langs.push(lang);
        }
        Ok(QueryRule {
            source: source.to_string(),
            needles,
            capture_names,
            languages: langs,
        })
    }

    /// Capture names usable as message placeholders.
    pub fn capture_names(&self) -> Vec<String> {
        self.capture_names.clone()
    }

    pub fn languages(&self) -> &[Language] {
        &self.languages
    }

    /// Whether a file with this text could match (the rule's needles).
    pub fn may_match(&self, text: &str) -> bool {
        self.needles.is_empty() || self.needles.iter().any(|n| text.contains(n.as_str()))
    }
}

/// The query rules of one language, combined into one query.
#[derive(Debug)]
pub(crate) struct Combined {
    query: Query,
    /// `(first pattern index, index of the rule in the rulebook)`, ascending.
    rules: Vec<(usize, usize)>,
}

/// Per language, the combined queries (normally one per language).
#[derive(Debug, Clone, Default)]
pub(crate) struct QuerySets {
    by_language: BTreeMap<Language, Arc<Vec<Combined>>>,
}

impl QuerySets {
    pub(crate) fn build(rules: &[Rule]) -> QuerySets {
        let mut by_language = BTreeMap::new();
        for lang in Language::ALL {
            let members: Vec<(usize, &QueryRule)> = rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.query.as_ref().map(|q| (i, q)))
                .filter(|(_, q)| q.languages.contains(&lang))
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut sets = Vec::new();
            if let Some(c) = combine(lang, &members) {
                sets.push(c);
            } else {
                // Cannot happen for queries that compiled alone; stay correct anyway.
                sets.extend(members.iter().filter_map(|m| combine(lang, &[*m])));
            }
            by_language.insert(lang, Arc::new(sets));
        }
        QuerySets { by_language }
    }

    pub(crate) fn has(&self, lang: Language) -> bool {
        self.by_language.contains_key(&lang)
    }

    /// Runs the query rules of `lang` over one parsed file.
    pub(crate) fn run(
        &self,
        rules: &[Rule],
        lang: Language,
        path: &str,
        text: &str,
        tree: &Tree,
    ) -> Vec<Finding> {
        let Some(sets) = self.by_language.get(&lang) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut lines: Option<LineIndex> = None;
        let mut cursor = QueryCursor::new();
        for set in sets.iter() {
            // Rules whose needles the file lacks are not run on it.
            let active: Vec<bool> = set
                .rules
                .iter()
                .map(|(_, i)| {
                    rules
                        .get(*i)
                        .and_then(|r| r.query.as_ref())
                        .is_some_and(|q| q.may_match(text))
                })
                .collect();
            if !active.iter().any(|a| *a) {
                continue;
            }
            let Some(match_idx) = set.query.capture_index_for_name(MATCH_CAPTURE) else {
                continue;
            };
            let names = set.query.capture_names();
            let mut matches = cursor.matches(&set.query, tree.root_node(), text.as_bytes());
            while let Some(m) = matches.next() {
                let slot = set
                    .rules
                    .partition_point(|(start, _)| *start <= m.pattern_index)
                    .saturating_sub(1);
                if !active.get(slot).copied().unwrap_or(false) {
                    continue;
                }
                let Some(rule) = set.rules.get(slot).and_then(|(_, i)| rules.get(*i)) else {
                    continue;
                };
                let Some(node) = m.nodes_for_capture_index(match_idx).next() else {
                    continue;
                };
                let index = lines.get_or_insert_with(|| LineIndex::new(text));
                let start = index.line_col(text, node.start_byte());
                let end = index.line_col(text, node.end_byte());
                let message = render(&rule.message, |key| match key {
                    "path" => Some(path.to_string()),
                    "language" => Some(lang.name().to_string()),
                    _ => {
                        let idx = names.iter().position(|n| *n == key)? as u32;
                        let n = m.nodes_for_capture_index(idx).next()?;
                        Some(snippet(text.get(n.byte_range()).unwrap_or_default()))
                    }
                });
                out.push(Finding {
                    rule: rule.id.clone(),
                    title: rule.title.clone(),
                    severity: rule.severity,
                    category: rule.category.clone(),
                    path: path.to_string(),
                    line: start.line,
                    column: start.column,
                    end_line: end.line,
                    end_column: end.column,
                    message,
                    help: rule.fix.clone(),
                    docs_url: rule.docs_url(),
                    fact: None,
                    fingerprint: String::new(),
                });
            }
        }
        out.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
        out.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.rule == b.rule);
        out
    }
}

fn combine(lang: Language, members: &[(usize, &QueryRule)]) -> Option<Combined> {
    let mut source = String::new();
    let mut starts = Vec::new();
    for (_, q) in members {
        starts.push(source.len());
        source.push_str(&q.source);
        source.push('\n');
    }
    let query = Query::new(&lang.grammar(), &source).ok()?;
    let mut rules = Vec::new();
    let mut pattern = 0;
    for ((i, _), start) in members.iter().zip(&starts) {
        while pattern < query.pattern_count() && query.start_byte_for_pattern(pattern) < *start {
            pattern += 1;
        }
        rules.push((pattern, *i));
    }
    Some(Combined { query, rules })
}

/// Source text for a message: the first line, at most 80 characters.
fn snippet(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(80).collect();
    if out.len() < line.len() || s.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

/// Fills `{key}` placeholders.
pub(crate) fn render(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&value(&after[..close]).unwrap_or_else(|| "?".into()));
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
