//! Derived views of a [`Report`] shared by the document renderers and the narrative
//! templates: technologies present, top findings, roadmap phases, coverage gaps.
//! Everything here is a pure, deterministic function of the report.

use std::collections::{BTreeMap, BTreeSet};

use msgscan_detect::{Channel, Fact};
use msgscan_rulebook::{Finding, Severity};

use crate::Report;

/// A technology family of the report (a section of the inventory and of the guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Technology {
    /// Sort key and anchor: `celery`, `node`, `postgres`, `supabase`, `socketio`, `python-web`.
    pub key: &'static str,
    pub title: &'static str,
}

/// The technology a transport belongs to.
pub fn technology(transport: &str) -> Technology {
    let (key, title) = match transport {
        "celery" => ("celery", "Flask / Celery (Python)"),
        "node_events" | "worker_threads" | "cluster" | "stream" => ("node", "Node.js"),
        "pg_notify" => ("postgres", "Postgres LISTEN / NOTIFY"),
        t if t.starts_with("supabase") => ("supabase", "Supabase"),
        "socketio" => ("socketio", "Socket.IO"),
        "webhook" | "thread" => ("python-web", "Python web handlers and threads"),
        _ => ("other", "Other transports"),
    };
    Technology { key, title }
}

/// A transport's display name.
pub fn transport_title(transport: &str) -> String {
    match transport {
        "celery" => "Celery tasks".into(),
        "node_events" => "Node.js EventEmitter events".into(),
        "worker_threads" => "Node.js worker threads".into(),
        "cluster" => "Node.js cluster".into(),
        "stream" => "Node.js streams".into(),
        "pg_notify" => "Postgres NOTIFY channels".into(),
        "supabase_realtime" => "Supabase Realtime".into(),
        "supabase_edge" => "Supabase Edge Functions".into(),
        "socketio" => "Socket.IO events".into(),
        other => other.replace('_', " "),
    }
}

/// Facts by id.
pub fn fact_index(report: &Report) -> BTreeMap<&str, &Fact> {
    report.facts.iter().map(|f| (f.id.as_str(), f)).collect()
}

/// Technologies present in the facts, in a stable order, each with its facts.
pub fn inventory(report: &Report) -> BTreeMap<Technology, Vec<&Fact>> {
    let mut out: BTreeMap<Technology, Vec<&Fact>> = BTreeMap::new();
    for f in &report.facts {
        out.entry(technology(&f.transport)).or_default().push(f);
    }
    out
}

/// Which technology a finding belongs to: that of its fact, else guessed from the rule id.
pub fn finding_technology(finding: &Finding, facts: &BTreeMap<&str, &Fact>) -> Technology {
    if let Some(f) = finding.fact.as_deref().and_then(|id| facts.get(id)) {
        return technology(&f.transport);
    }
    let prefix = finding.rule.split('-').next().unwrap_or("");
    match prefix {
        "celery" => technology("celery"),
        "node" => technology("node_events"),
        "pg" | "postgres" => technology("pg_notify"),
        "supabase" => technology("supabase_realtime"),
        "socketio" => technology("socketio"),
        _ => technology(""),
    }
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 3,
        Severity::Warning => 2,
        Severity::Info => 1,
    }
}

/// How much a category weighs when two findings have the same severity: failures that
/// lose or corrupt messages first.
fn category_rank(c: &str) -> u8 {
    match c {
        "security" => 7,
        "correctness" => 6,
        "reliability" => 5,
        "backpressure" => 4,
        "resource-management" => 3,
        "scalability" => 2,
        "observability" => 1,
        _ => 0,
    }
}

/// The `n` most important findings: by severity, then category, then how often the rule
/// fires (a widespread problem first), then position. At most one per rule while other
/// rules remain, so the summary is not three copies of the same problem.
pub fn top_findings(report: &Report, n: usize) -> Vec<&Finding> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        *count.entry(f.rule.as_str()).or_insert(0) += 1;
    }
    let mut all: Vec<&Finding> = report.findings.iter().collect();
    all.sort_by(|a, b| {
        let ka = (
            severity_rank(a.severity),
            category_rank(&a.category),
            count.get(a.rule.as_str()).copied().unwrap_or(0),
        );
        let kb = (
            severity_rank(b.severity),
            category_rank(&b.category),
            count.get(b.rule.as_str()).copied().unwrap_or(0),
        );
        kb.cmp(&ka).then_with(|| {
            (&a.path, a.line, a.column, &a.rule).cmp(&(&b.path, b.line, b.column, &b.rule))
        })
    });
    let mut out: Vec<&Finding> = Vec::new();
    let mut rules: BTreeSet<&str> = BTreeSet::new();
    for f in &all {
        if out.len() == n {
            break;
        }
        if rules.insert(f.rule.as_str()) {
            out.push(f);
        }
    }
    for f in &all {
        if out.len() == n {
            break;
        }
        if !out.iter().any(|o| std::ptr::eq(*o, *f)) {
            out.push(f);
        }
    }
    out
}

/// One rule's findings, as a unit of work.
#[derive(Debug, Clone)]
pub struct WorkItem<'a> {
    pub rule: &'a str,
    pub title: &'a str,
    pub severity: Severity,
    pub category: &'a str,
    pub help: &'a str,
    pub docs_url: &'a str,
    pub findings: Vec<&'a Finding>,
    /// `small` (1–2 sites), `medium` (3–9), `large` (10 or more).
    pub effort: &'static str,
}

impl WorkItem<'_> {
    pub fn files(&self) -> BTreeSet<&str> {
        self.findings.iter().map(|f| f.path.as_str()).collect()
    }
}

/// The findings of each rule, grouped (sorted by severity, category, then rule id).
pub fn work_items(report: &Report) -> Vec<WorkItem<'_>> {
    let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_rule.entry(f.rule.as_str()).or_default().push(f);
    }
    let mut items: Vec<WorkItem<'_>> = by_rule
        .into_values()
        .filter_map(|findings| {
            let first = *findings.first()?;
            let effort = match findings.len() {
                0..=2 => "small",
                3..=9 => "medium",
                _ => "large",
            };
            Some(WorkItem {
                rule: &first.rule,
                title: &first.title,
                severity: first.severity,
                category: &first.category,
                help: &first.help,
                docs_url: &first.docs_url,
                findings,
                effort,
            })
        })
        .collect();
    items.sort_by(|a, b| {
        (severity_rank(b.severity), category_rank(b.category))
            .cmp(&(severity_rank(a.severity), category_rank(a.category)))
            .then_with(|| a.rule.cmp(b.rule))
    });
    items
}

/// A phase of the roadmap.
#[derive(Debug, Clone)]
pub struct Phase<'a> {
    pub number: usize,
    pub title: &'static str,
    pub goal: &'static str,
    pub items: Vec<WorkItem<'a>>,
}

/// Work items grouped into phases by severity and effort:
/// 1. errors (message loss, security, deadlocks) — whatever the effort;
/// 2. warnings in reliability, security and correctness;
/// 3. the remaining warnings and every info finding.
///
/// Phases with no work are left out.
pub fn phases(report: &Report) -> Vec<Phase<'_>> {
    let mut p1 = Vec::new();
    let mut p2 = Vec::new();
    let mut p3 = Vec::new();
    for item in work_items(report) {
        match item.severity {
            Severity::Error => p1.push(item),
            Severity::Warning
                if matches!(item.category, "reliability" | "security" | "correctness") =>
            {
                p2.push(item)
            }
            _ => p3.push(item),
        }
    }
    // Within a phase, quick wins first.
    let effort_rank = |e: &str| match e {
        "small" => 0,
        "medium" => 1,
        _ => 2,
    };
    for p in [&mut p1, &mut p2, &mut p3] {
        p.sort_by(|a, b| {
            (severity_rank(b.severity), effort_rank(a.effort))
                .cmp(&(severity_rank(a.severity), effort_rank(b.effort)))
                .then_with(|| a.rule.cmp(b.rule))
        });
    }
    let mut out = Vec::new();
    for (title, goal, items) in [
        (
            "Stop message loss and unsafe behaviour",
            "fix every error-level finding before the next release",
            p1,
        ),
        (
            "Harden delivery",
            "retries, timeouts and acknowledgements on every path that crosses a process boundary",
            p2,
        ),
        (
            "Tune and observe",
            "backpressure, observability and the remaining improvements",
            p3,
        ),
    ] {
        if !items.is_empty() {
            out.push(Phase {
                number: out.len() + 1,
                title,
                goal,
                items,
            });
        }
    }
    out
}

/// Producers and consumers whose channel name is not a literal: the topology cannot show
/// where they lead.
pub fn dynamic_facts(report: &Report) -> Vec<&Fact> {
    report
        .facts
        .iter()
        .filter(|f| {
            matches!(
                f.role,
                msgscan_detect::Role::Producer | msgscan_detect::Role::Consumer
            ) && !is_canvas(f)
                && (f.name.is_none()
                    || f.attr("literal").and_then(serde_json::Value::as_bool) == Some(false))
        })
        .collect()
}

/// A Celery canvas primitive (`chain`, `group`, `chord`, `|`): it has no channel of its
/// own, the calls inside it do.
pub fn is_canvas(f: &Fact) -> bool {
    f.kind == "celery_call"
        && f.attr("method")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|m| matches!(m, "chain" | "group" | "chord" | "pipe"))
}

/// How an inventory lists a fact without a name.
pub fn unnamed(f: &Fact) -> String {
    if is_canvas(f) {
        let m = f
            .attr("method")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("canvas");
        format!("(canvas: {m})")
    } else {
        "(dynamic)".to_string()
    }
}

/// Events Node.js itself emits (on `process`, streams, sockets, servers, child processes):
/// a listener for one without an `emit` in the code is normal.
const NODE_RUNTIME_EVENTS: &[&str] = &[
    "error",
    "close",
    "end",
    "finish",
    "drain",
    "data",
    "readable",
    "open",
    "message",
    "connect",
    "connection",
    "listening",
    "exit",
    "beforeExit",
    "uncaughtException",
    "unhandledRejection",
    "warning",
    "newListener",
    "removeListener",
    "timeout",
    "pipe",
    "unpipe",
    "disconnect",
    "online",
    "fork",
    "spawn",
    "upgrade",
    "request",
    "response",
];

/// Whether the code is expected to show a producer for the channel: not for events that
/// Node.js emits itself (see `NODE_RUNTIME_EVENTS`, signals, anything on `process`).
pub fn expects_producer(c: &Channel) -> bool {
    if c.transport != "node_events" {
        return true;
    }
    let on_process = channel_scope(c).is_some_and(|s| s.ends_with("#process"));
    !(on_process || c.name.starts_with("SIG") || NODE_RUNTIME_EVENTS.contains(&c.name.as_str()))
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A channel's display name: its name plus its scope (the emitter) where it has one.
pub fn channel_scope(c: &Channel) -> Option<&str> {
    let prefix = format!("{}:{}@", c.transport, c.name);
    c.id.strip_prefix(&prefix)
}

/// Findings about the facts of a channel.
pub fn channel_findings<'a>(report: &'a Report, c: &Channel) -> Vec<&'a Finding> {
    report
        .findings
        .iter()
        .filter(|f| {
            f.fact
                .as_deref()
                .is_some_and(|id| c.producers.iter().chain(&c.consumers).any(|p| p == id))
        })
        .collect()
}

/// `celery_task 3 · celery_call 5`: facts per kind, in first-seen order of the kinds.
pub fn kind_counts<'a>(facts: &[&'a Fact]) -> Vec<(&'a str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for f in facts {
        match out.iter_mut().find(|(k, _)| *k == f.kind) {
            Some((_, n)) => *n += 1,
            None => out.push((f.kind.as_str(), 1)),
        }
    }
    out
}

/// How many sites of one rule the guide lists before pointing to the full list.
pub const GUIDE_SITES: usize = 8;

/// Numbers that say how complex the messaging is.
#[derive(Debug, Clone, Default)]
pub struct Complexity {
    pub channels: usize,
    pub transports: BTreeSet<String>,
    pub languages: BTreeSet<String>,
    pub producers: usize,
    pub consumers: usize,
    /// Names of channels with producers but no consumer in the code.
    pub without_consumer: Vec<String>,
    /// Names of channels with consumers but no producer in the code.
    pub without_producer: Vec<String>,
    /// Channels whose producers and consumers are in different files.
    pub cross_file: usize,
    /// The channel with the most producers plus consumers, and that number.
    pub busiest: Option<(String, usize)>,
}

pub fn complexity(report: &Report) -> Complexity {
    let facts = fact_index(report);
    let mut c = Complexity {
        channels: report.topology.channels.len(),
        ..Complexity::default()
    };
    for f in &report.facts {
        c.languages.insert(f.language.name().to_string());
        c.transports.insert(f.transport.clone());
        match f.role {
            msgscan_detect::Role::Producer => c.producers += 1,
            msgscan_detect::Role::Consumer => c.consumers += 1,
            _ => {}
        }
    }
    for ch in &report.topology.channels {
        // Names, once each (an event name can be open on several emitters).
        if ch.consumers.is_empty()
            && !ch.producers.is_empty()
            && !c.without_consumer.contains(&ch.name)
        {
            c.without_consumer.push(ch.name.clone());
        }
        if ch.producers.is_empty()
            && !ch.consumers.is_empty()
            && expects_producer(ch)
            && !c.without_producer.contains(&ch.name)
        {
            c.without_producer.push(ch.name.clone());
        }
        let files = |ids: &[String]| -> BTreeSet<&str> {
            ids.iter()
                .filter_map(|id| facts.get(id.as_str()).map(|f| f.path.as_str()))
                .collect()
        };
        let (p, q) = (files(&ch.producers), files(&ch.consumers));
        if !p.is_empty() && !q.is_empty() && p != q {
            c.cross_file += 1;
        }
        let n = ch.producers.len() + ch.consumers.len();
        if c.busiest.as_ref().is_none_or(|(_, m)| n > *m) {
            c.busiest = Some((ch.name.clone(), n));
        }
    }
    c
}

/// The category a score belongs to, worst first (ties by name).
pub fn categories_worst_first(report: &Report) -> Vec<(&str, u32, usize)> {
    let mut v: Vec<(&str, u32, usize)> = report
        .scores
        .categories
        .iter()
        .map(|(k, c)| (k.as_str(), c.score, c.findings))
        .collect();
    v.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    v
}

/// A verdict for a score.
pub fn grade(score: u32) -> &'static str {
    match score {
        90..=100 => "good",
        75..=89 => "fair",
        50..=74 => "at risk",
        _ => "poor",
    }
}

/// `n thing` / `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(transport: &str, name: &str, scope: Option<&str>) -> Channel {
        Channel {
            id: match scope {
                Some(s) => format!("{transport}:{name}@{s}"),
                None => format!("{transport}:{name}"),
            },
            transport: transport.into(),
            name: name.into(),
            producers: Vec::new(),
            consumers: vec!["x".into()],
        }
    }

    #[test]
    fn runtime_events_need_no_producer_in_code() {
        assert!(!expects_producer(&channel(
            "node_events",
            "error",
            Some("a.js#bus")
        )));
        assert!(!expects_producer(&channel(
            "node_events",
            "SIGTERM",
            Some("a.js#process")
        )));
        assert!(!expects_producer(&channel(
            "node_events",
            "job",
            Some("a.js#process")
        )));
        assert!(expects_producer(&channel(
            "node_events",
            "order.created",
            Some("a.js#bus")
        )));
        assert!(expects_producer(&channel("celery", "error", None)));
        assert_eq!(
            channel_scope(&channel("node_events", "a@b", Some("x.js#bus"))),
            Some("x.js#bus")
        );
    }

    #[test]
    fn join_and_plural() {
        assert_eq!(join_and(&["a", "b", "c"]), "a, b and c");
        assert_eq!(join_and(&["a"]), "a");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(2, "file", "files"), "2 files");
    }
}
