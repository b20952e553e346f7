//! What the model is given: a digest of the report's JSON (bounded in size, scrubbed of
//! secrets, without source code unless the user opted in), and the evidence its text is
//! checked against.

use std::collections::{BTreeMap, BTreeSet};

use msgscan_report::{Narrative, Report, ReportContext, view};
use serde_json::{Map, Value, json};

use crate::markup;
use crate::scrub::scrub;

/// Caps that keep a request small whatever the project's size.
const MAX_FINDINGS: usize = 60;
const MAX_CHANNELS: usize = 60;
const MAX_FACTS: usize = 80;
const MAX_ATTR_LEN: usize = 120;
const SOURCE_CONTEXT: u32 = 2;

/// The payload and what the model's text may mention.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The report digest, scrubbed, as pretty JSON.
    pub json: String,
    pub evidence: Evidence,
}

/// Everything the model may legitimately mention.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Numbers stated in the report (counts, scores, phase numbers), not line numbers.
    pub numbers: BTreeSet<String>,
    /// Overall and category scores.
    pub scores: BTreeSet<u32>,
    /// Rule ids of the project's findings.
    pub fired_rules: BTreeSet<String>,
    /// Every rule id msgscan knows (to tell "did not fire" from "does not exist").
    pub known_rules: BTreeSet<String>,
    /// First segments of known rule ids (`celery`, `node`, ...).
    pub rule_families: BTreeSet<String>,
    /// Paths of files in the report.
    pub paths: BTreeSet<String>,
    /// `path` → lines that the report points at in it.
    pub lines: BTreeMap<String, BTreeSet<u32>>,
    /// Names: channels, tasks, events, transports, the root, fact kinds, words in code spans
    /// of the template narrative.
    pub names: BTreeSet<String>,
    /// Identifier-like tokens found anywhere in the payload.
    pub tokens: BTreeSet<String>,
}

impl Evidence {
    fn add_text_numbers(&mut self, s: &str) {
        for n in crate::check::numbers_in(s) {
            self.numbers.insert(n);
        }
        for n in crate::check::number_words_in(s) {
            self.numbers.insert(n.to_string());
        }
    }
    fn add_tokens(&mut self, s: &str) {
        for t in crate::check::identifier_tokens(s) {
            self.tokens.insert(t.to_string());
        }
    }
    fn add_location(&mut self, path: &str, line: u32) {
        self.paths.insert(path.to_string());
        self.lines.entry(path.to_string()).or_default().insert(line);
    }
}

fn loc(path: &str, line: u32) -> String {
    format!("{path}:{line}")
}

/// Builds the digest of a report for the model.
pub fn build(
    report: &Report,
    context: &ReportContext,
    template: &Narrative,
    send_source: bool,
) -> Digest {
    let mut ev = Evidence::default();
    let facts: BTreeMap<&str, &msgscan_detect::Fact> =
        report.facts.iter().map(|f| (f.id.as_str(), f)).collect();
    let fact_loc =
        |id: &str| -> Option<(String, u32)> { facts.get(id).map(|f| (f.path.clone(), f.line)) };

    let counts = msgscan_rulebook::count_by_severity(&report.findings);
    let cx = view::complexity(report);
    let project = json!({
        "root": report.root,
        "files_scanned": report.files.scanned,
        "files_parsed": report.files.parsed,
        "files_skipped": report.files.skipped,
        "files_by_language": report.files.by_language,
        "messaging_constructs": report.facts.len(),
        "channels": report.topology.channels.len(),
        "producers": cx.producers,
        "consumers": cx.consumers,
        "cross_file_channels": cx.cross_file,
        "channels_without_consumer": cx.without_consumer,
        "channels_without_producer": cx.without_producer,
        "findings": report.findings.len(),
        "findings_by_severity": counts.iter().map(|(s, n)| (s.as_str().to_string(), *n)).collect::<BTreeMap<_, _>>(),
        "suppressed": report.suppressed,
        "files_with_errors": report.errors.len(),
        "stage": context.stage,
        "expected_volume": context.expected_volume,
        "constraints": context.constraints,
    });
    let scores = json!({
        "overall": report.scores.overall,
        "grade": view::grade(report.scores.overall),
        "scale": "0-100, higher is better",
        "categories": report.scores.categories.iter().map(|(k, c)| {
            (k.clone(), json!({"score": c.score, "findings": c.findings}))
        }).collect::<Map<String, Value>>(),
    });
    ev.scores.insert(report.scores.overall);
    for c in report.scores.categories.values() {
        ev.scores.insert(c.score);
    }

    let mut by_rule: BTreeMap<&str, (&msgscan_rulebook::Finding, usize)> = BTreeMap::new();
    for f in &report.findings {
        by_rule.entry(f.rule.as_str()).or_insert((f, 0)).1 += 1;
        ev.fired_rules.insert(f.rule.clone());
        ev.add_location(&f.path, f.line);
    }
    let rules: Vec<Value> = by_rule
        .iter()
        .map(|(id, (f, n))| {
            json!({"id": id, "title": f.title, "severity": f.severity.as_str(), "category": f.category, "sites": n, "fix": f.help})
        })
        .collect();
    let mut ordered: Vec<&msgscan_rulebook::Finding> = report.findings.iter().collect();
    ordered.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let findings: Vec<Value> = ordered
        .iter()
        .take(MAX_FINDINGS)
        .map(|f| {
            json!({"rule": f.rule, "severity": f.severity.as_str(), "category": f.category, "at": loc(&f.path, f.line), "message": f.message})
        })
        .collect();

    let channels: Vec<Value> = report
        .topology
        .channels
        .iter()
        .take(MAX_CHANNELS)
        .map(|c| {
            let side = |ids: &[String]| -> Vec<String> {
                ids.iter()
                    .filter_map(|id| fact_loc(id))
                    .map(|(p, l)| loc(&p, l))
                    .collect()
            };
            json!({"name": c.name, "transport": c.transport, "producers": side(&c.producers), "consumers": side(&c.consumers)})
        })
        .collect();
    for c in &report.topology.channels {
        ev.names.insert(c.name.clone());
        ev.names.insert(c.transport.clone());
    }

    let mut fact_list = Vec::new();
    for f in &report.facts {
        ev.add_location(&f.path, f.line);
        ev.names.insert(f.kind.clone());
        ev.names.insert(f.transport.clone());
        if let Some(n) = &f.name {
            ev.names.insert(n.clone());
        }
        if fact_list.len() >= MAX_FACTS {
            continue;
        }
        let attrs: Map<String, Value> = f
            .attrs
            .iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    Value::Bool(_) | Value::Number(_) => v.clone(),
                    Value::String(s) if s.len() <= MAX_ATTR_LEN => v.clone(),
                    Value::Array(a)
                        if a.len() <= 8
                            && a.iter().all(|x| x.as_str().is_some_and(|s| s.len() <= 60)) =>
                    {
                        v.clone()
                    }
                    _ => return None,
                };
                Some((k.clone(), v))
            })
            .collect();
        fact_list.push(json!({"kind": f.kind, "name": f.name, "role": f.role, "transport": f.transport, "at": loc(&f.path, f.line), "attrs": attrs}));
    }
    for e in &report.errors {
        ev.paths.insert(e.path.clone());
    }
    let errors: Vec<Value> = report
        .errors
        .iter()
        .take(20)
        .map(|e| json!({"path": e.path, "kind": e.kind}))
        .collect();

    let phases: Vec<Value> = view::phases(report)
        .iter()
        .map(|p| {
            json!({"phase": p.number, "title": p.title, "goal": p.goal, "rules": p.items.iter().map(|i| json!({"rule": i.rule, "sites": i.findings.len(), "effort": i.effort.to_string()})).collect::<Vec<_>>()})
        })
        .collect();

    let mut digest = json!({
        "project": project,
        "scores": scores,
        "rules_fired": rules,
        "findings": findings,
        "channels": channels,
        "messaging_constructs": fact_list,
        "roadmap_phases": phases,
        "unreadable_files": errors,
    });
    let mut truncated = Map::new();
    if report.findings.len() > MAX_FINDINGS {
        truncated.insert("findings".into(), json!(report.findings.len()));
    }
    if report.topology.channels.len() > MAX_CHANNELS {
        truncated.insert("channels".into(), json!(report.topology.channels.len()));
    }
    if report.facts.len() > MAX_FACTS {
        truncated.insert("messaging_constructs".into(), json!(report.facts.len()));
    }
    if send_source {
        digest["source_excerpts"] = Value::Array(source_excerpts(report));
    }
    if !truncated.is_empty() {
        digest["lists_truncated_total_sizes"] = Value::Object(truncated);
    }

    // Scrub every string, then collect evidence from what is actually sent.
    scrub_value(&mut digest);
    collect(&digest, None, &mut ev);
    for section in [
        &template.executive_summary,
        &template.strategy,
        &template.roadmap,
        &template.monitoring,
    ] {
        let text = section.plain_text();
        ev.add_text_numbers(&text);
        ev.add_tokens(&text);
        for c in markup::code_spans(section) {
            ev.names.insert(c.to_string());
        }
    }
    ev.names.insert(report.root.clone());
    if let Ok(book) = msgscan_rulebook::Rulebook::builtin() {
        for r in book.rules() {
            ev.known_rules.insert(r.id.clone());
        }
    }
    for id in ev.known_rules.iter().chain(ev.fired_rules.iter()) {
        if let Some(first) = id.split('-').next() {
            ev.rule_families.insert(first.to_string());
        }
    }
    let json = serde_json::to_string_pretty(&digest).unwrap_or_default();
    Digest { json, evidence: ev }
}

/// Source lines around each finding (only with `send_source`), scrubbed like the rest.
fn source_excerpts(report: &Report) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for f in report.findings.iter().take(MAX_FINDINGS) {
        if !seen.insert((f.path.as_str(), f.line)) {
            continue;
        }
        let Some(src) = report.sources.get(&f.path) else {
            continue;
        };
        let from = f.line.saturating_sub(SOURCE_CONTEXT).max(1);
        let to = f.line + SOURCE_CONTEXT;
        let lines: Vec<&str> = src
            .lines()
            .enumerate()
            .filter(|(i, _)| {
                let n = *i as u32 + 1;
                n >= from && n <= to
            })
            .map(|(_, l)| l)
            .collect();
        out.push(
            json!({"at": loc(&f.path, f.line), "first_line": from, "lines": lines.join("\n")}),
        );
    }
    out
}

fn scrub_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            let clean = scrub(s).into_owned();
            *s = clean;
        }
        Value::Array(a) => a.iter_mut().for_each(scrub_value),
        Value::Object(m) => m.values_mut().for_each(scrub_value),
        _ => {}
    }
}

/// Numbers and tokens of the sent digest. Locations (`at`, producers, consumers) and source
/// line numbers are not numbers the model may state as counts.
fn collect(v: &Value, key: Option<&str>, ev: &mut Evidence) {
    let is_location = matches!(
        key,
        Some("at" | "producers" | "consumers" | "first_line" | "lines" | "path")
    );
    match v {
        Value::Number(n) if !is_location => {
            ev.numbers.insert(n.to_string());
        }
        Value::String(s) => {
            ev.add_tokens(s);
            if !is_location {
                ev.add_text_numbers(s);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect(x, key, ev)),
        Value::Object(m) => {
            for (k, x) in m {
                collect(x, Some(k), ev);
            }
        }
        _ => {}
    }
}
