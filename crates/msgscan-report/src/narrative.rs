//! The narrative sections of the report, written by deterministic templates over the
//! [`Report`].
//!
//! A [`Narrative`] has one field per narrative section (Executive Summary, Messaging
//! Architecture Strategy, Implementation Roadmap, the prose of Monitoring & Reliability);
//! everything else in the report is data and is rendered from the `Report` itself. An
//! optional later pass (an LLM) may replace exactly these fields: it builds a `Narrative`
//! (it is `Serialize`/`Deserialize`), sets [`Narrative::origin`], adds a note when it falls
//! back to the template, and hands it to the renderers through
//! [`DocumentOptions::narrative`](crate::DocumentOptions).
//!
//! Text is structured (paragraphs, lists, inline code) rather than Markdown, so the same
//! narrative renders safely to Markdown and HTML: names from the scanned code are always
//! [`Inline::Code`] or [`Inline::Text`] and are escaped by each renderer.

use std::collections::{BTreeMap, BTreeSet};

use msgscan_rulebook::Severity;
use serde::{Deserialize, Serialize};

use crate::view::{self, plural};
use crate::{Report, ReportContext};

/// A piece of inline text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inline {
    Text(String),
    /// A name, path or identifier (rendered as code).
    Code(String),
    /// Emphasised text.
    Strong(String),
}

/// A block of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// A bulleted list; each item is a run of inline text.
    List(Vec<Vec<Inline>>),
}

/// One narrative section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub blocks: Vec<Block>,
}

/// Who wrote the narrative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NarrativeOrigin {
    /// msgscan's deterministic templates.
    #[default]
    Template,
    /// A language model, named as configured.
    Model { name: String },
}

/// The narrative sections of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrative {
    pub origin: NarrativeOrigin,
    /// Shown under the report's title, e.g. why a model's rewrite was not used.
    pub notes: Vec<String>,
    /// Section 1.
    pub executive_summary: Section,
    /// Section 3.
    pub strategy: Section,
    /// Section 5 (the phase table below it is data).
    pub roadmap: Section,
    /// Section 6 (the table of gaps below it is data).
    pub monitoring: Section,
}

/// Builds a paragraph or a list item.
#[derive(Debug, Default)]
struct Run(Vec<Inline>);

impl Run {
    fn t(mut self, s: impl Into<String>) -> Self {
        self.0.push(Inline::Text(s.into()));
        self
    }
    fn c(mut self, s: impl Into<String>) -> Self {
        self.0.push(Inline::Code(s.into()));
        self
    }
    fn s(mut self, s: impl Into<String>) -> Self {
        self.0.push(Inline::Strong(s.into()));
        self
    }
    /// `a`, `b` and 3 more (as code).
    fn names<'a>(mut self, names: impl IntoIterator<Item = &'a str>, max: usize) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        let shown = names.len().min(max);
        for (i, n) in names.iter().take(shown).enumerate() {
            if i > 0 {
                let last = i + 1 == shown && names.len() == shown;
                self = self.t(if last { " and " } else { ", " });
            }
            self = self.c(*n);
        }
        if names.len() > shown {
            self = self.t(format!(" and {} more", names.len() - shown));
        }
        self
    }
    /// A finding message: backticked names become code.
    fn msg(mut self, m: &str) -> Self {
        for (piece, code) in crate::escape::code_pieces(m) {
            self = if code { self.c(piece) } else { self.t(piece) };
        }
        self
    }
    fn p(self) -> Block {
        Block::Paragraph(self.0)
    }
}

fn list_of(category: &str) -> String {
    category.replace('-', " ")
}

fn severity_counts(report: &Report) -> BTreeMap<Severity, usize> {
    msgscan_rulebook::count_by_severity(&report.findings)
}

impl Narrative {
    /// The template narrative of a report.
    pub fn from_report(report: &Report, context: &ReportContext) -> Narrative {
        Narrative {
            origin: NarrativeOrigin::Template,
            notes: Vec::new(),
            executive_summary: executive_summary(report, context),
            strategy: strategy(report, context),
            roadmap: roadmap(report),
            monitoring: monitoring(report),
        }
    }
}

fn executive_summary(report: &Report, context: &ReportContext) -> Section {
    let cx = view::complexity(report);
    let mut blocks = Vec::new();
    let languages: Vec<String> = report
        .files
        .by_language
        .iter()
        .map(|(l, n)| format!("{n} {l}"))
        .collect();
    let mut p = Run::default()
        .t("msgscan analysed ")
        .c(report.root.clone())
        .t(format!(
            ": {} ({}). ",
            plural(report.files.scanned, "file", "files"),
            if languages.is_empty() {
                "none in a supported language".to_string()
            } else {
                languages.join(", ")
            }
        ));
    if report.facts.is_empty() {
        p = p.t("It found no messaging construct it recognises, so the scores below say nothing about the messaging architecture; section 8 lists what could not be analysed.");
    } else {
        let techs: Vec<&str> = view::inventory(report).keys().map(|t| t.title).collect();
        p = p
            .t(format!(
                "It found {} in {} and linked them into {}",
                plural(
                    report.facts.len(),
                    "messaging construct",
                    "messaging constructs"
                ),
                view::join_and(&techs),
                plural(cx.channels, "channel", "channels"),
            ))
            .t(if cx.cross_file > 0 {
                format!(
                    ", {} of which connect code in different files.",
                    cx.cross_file
                )
            } else {
                ".".to_string()
            });
    }
    blocks.push(p.p());

    let counts = severity_counts(report);
    let n = |s| counts.get(&s).copied().unwrap_or(0);
    let mut p = Run::default()
        .t("Overall score ")
        .s(format!("{}/100", report.scores.overall))
        .t(format!(" ({}). ", view::grade(report.scores.overall)));
    if report.findings.is_empty() {
        p = p.t("No rule fired: every category scores 100.");
    } else {
        let worst: Vec<(&str, u32, usize)> = view::categories_worst_first(report)
            .into_iter()
            .filter(|(_, _, f)| *f > 0)
            .take(2)
            .collect();
        let parts: Vec<String> = [
            (Severity::Error, "error", "errors"),
            (Severity::Warning, "warning", "warnings"),
            (Severity::Info, "info", "info"),
        ]
        .iter()
        .filter(|(s, _, _)| n(*s) > 0)
        .map(|(s, one, many)| plural(n(*s), one, many))
        .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        p = p.t(format!("msgscan reports {}", view::join_and(&parts)));
        for (i, (cat, score, count)) in worst.iter().enumerate() {
            p = p
                .t(if i == 0 {
                    "; the weakest area is "
                } else {
                    ", then "
                })
                .t(format!(
                    "{} at {score}/100 ({})",
                    list_of(cat),
                    plural(*count, "finding", "findings")
                ));
        }
        p = p.t(".");
    }
    if let Some(stage) = &context.stage {
        p = p.t(" Stage given by the project: ").c(stage.clone()).t(".");
    }
    blocks.push(p.p());

    let top = view::top_findings(report, 3);
    if !top.is_empty() {
        blocks.push(
            Run::default()
                .t(if top.len() == 1 {
                    "The finding that matters most:"
                } else {
                    "The findings that matter most:"
                })
                .p(),
        );
        blocks.push(Block::List(
            top.iter()
                .map(|f| {
                    Run::default()
                        .s(f.severity.as_str())
                        .t(" ")
                        .c(f.rule.clone())
                        .t(" at ")
                        .c(format!("{}:{}", f.path, f.line))
                        .t(": ")
                        .msg(&f.message)
                        .0
                })
                .collect(),
        ));
    }
    Section { blocks }
}

fn strategy(report: &Report, context: &ReportContext) -> Section {
    let cx = view::complexity(report);
    let items = view::work_items(report);
    let inventory = view::inventory(report);
    let mut blocks = Vec::new();
    let mut points: Vec<Vec<Inline>> = Vec::new();

    if report.facts.is_empty() {
        blocks.push(
            Run::default()
                .t("There is no messaging code to build a strategy on. If the project does use a broker or events, check section 8: its files may be in a language or a pattern msgscan does not analyse yet.")
                .p(),
        );
        return Section { blocks };
    }

    let techs: Vec<&str> = inventory.keys().map(|t| t.title).collect();
    let mut lead = Run::default().t(format!(
        "The project moves messages over {} ({}), with {} and {}.",
        plural(cx.transports.len(), "transport", "transports"),
        view::join_and(&techs),
        plural(cx.producers, "producer", "producers"),
        plural(cx.consumers, "consumer", "consumers"),
    ));
    if let Some((name, n)) = &cx.busiest
        && *n > 2
    {
        lead = lead
            .t(" The busiest channel is ")
            .c(name.clone())
            .t(format!(" with {n} producers and consumers."));
    }
    if let Some(v) = &context.expected_volume {
        lead = lead.t(" Expected volume: ").c(v.clone()).t(".");
    }
    blocks.push(lead.p());

    if !cx.without_consumer.is_empty() {
        points.push(
            Run::default()
                .s("Close open loops. ")
                .t(format!(
                    "{} a producer but no consumer in the scanned code: ",
                    if cx.without_consumer.len() == 1 {
                        "1 channel has".to_string()
                    } else {
                        format!("{} channels have", cx.without_consumer.len())
                    }
                ))
                .names(cx.without_consumer.iter().map(String::as_str), 5)
                .t(". Either another service consumes them (document it in the integration specification) or these messages are lost.")
                .0,
        );
    }
    if !cx.without_producer.is_empty() {
        points.push(
            Run::default()
                .s("Check idle consumers. ")
                .names(cx.without_producer.iter().map(String::as_str), 5)
                .t(format!(
                    " {} consumed but never produced in the scanned code: dead handlers, or producers outside this repository.",
                    if cx.without_producer.len() == 1 { "is" } else { "are" }
                ))
                .0,
        );
    }
    let by_cat = |cat: &str| -> Vec<&view::WorkItem<'_>> {
        items.iter().filter(|i| i.category == cat).collect()
    };
    for (cat, lead, advice) in [
        (
            "security",
            "Treat messages as untrusted input. ",
            "Serializers that execute code on load let anyone who can publish run code on the workers.",
        ),
        (
            "correctness",
            "Keep producers and consumers decoupled. ",
            "These findings make behaviour depend on timing or configuration rather than on the messages.",
        ),
        (
            "reliability",
            "Design every consumer for failure. ",
            "Each of these is a path where a transient error loses a message or retries it wrongly; make handlers idempotent, bound their retries and give every network call a timeout.",
        ),
        (
            "backpressure",
            "Shape the load. ",
            "Retries without backoff and unbounded queues turn a slow dependency into an outage.",
        ),
        (
            "observability",
            "Make failures visible. ",
            "A failure nobody sees is a message nobody replays.",
        ),
    ] {
        let found = by_cat(cat);
        if found.is_empty() {
            continue;
        }
        let sites: usize = found.iter().map(|i| i.findings.len()).sum();
        points.push(
            Run::default()
                .s(lead)
                .t(format!(
                    "{} ({}): ",
                    plural(
                        sites,
                        &format!("{} finding", list_of(cat)),
                        &format!("{} findings", list_of(cat))
                    ),
                    plural(found.len(), "rule", "rules")
                ))
                .names(found.iter().map(|i| i.rule), 4)
                .t(". ")
                .t(advice)
                .0,
        );
    }
    let in_process: Vec<&str> = report
        .topology
        .channels
        .iter()
        .filter(|c| c.transport == "node_events" && c.name != "error")
        .map(|c| c.name.as_str())
        .collect();
    if !in_process.is_empty() {
        let durable = inventory
            .keys()
            .any(|t| matches!(t.key, "celery" | "postgres" | "supabase"));
        points.push(
            Run::default()
                .s("Know which events are durable. ")
                .names(in_process.iter().copied(), 4)
                .t(format!(
                    " {} in-process EventEmitter {}: lost on a crash or restart and invisible to other instances.",
                    if in_process.len() == 1 { "is an" } else { "are" },
                    if in_process.len() == 1 { "event" } else { "events" }
                ))
                .t(if durable {
                    " Anything that must survive belongs on the project's durable transport."
                } else {
                    " If one must survive a restart, move it to a broker or a database-backed queue."
                })
                .0,
        );
    }
    if inventory.len() > 1 {
        points.push(
            Run::default()
                .s("Own the boundaries. ")
                .t(format!(
                    "{} technologies meet in this codebase; name each channel in one place (a shared module or the AsyncAPI document) so both sides agree on its name and payload.",
                    inventory.len()
                ))
                .0,
        );
    }
    if points.is_empty() {
        points.push(
            Run::default()
                .s("Keep it that way. ")
                .t("No rule fired and every channel has both sides in the code; add msgscan to CI (`--format github` or SARIF) so new findings show up in review.")
                .0,
        );
    }
    blocks.push(Block::List(points));
    Section { blocks }
}

fn roadmap(report: &Report) -> Section {
    let phases = view::phases(report);
    let mut blocks = Vec::new();
    if phases.is_empty() {
        blocks.push(
            Run::default()
                .t("No finding needs work. Keep the scan in CI and revisit this roadmap when new messaging code lands.")
                .p(),
        );
        return Section { blocks };
    }
    let total_rules: usize = phases.iter().map(|p| p.items.len()).sum();
    blocks.push(
        Run::default()
            .t(format!(
                "The {} group into {} of work by severity, then effort (small: one or two sites, medium: up to nine, large: ten or more). Each item is one rule to fix everywhere it fires.",
                plural(report.findings.len(), "finding", "findings"),
                plural(phases.len(), "phase", "phases"),
            ))
            .t(if total_rules > 1 {
                " Within a phase, quick wins come first."
            } else {
                ""
            })
            .p(),
    );
    let mut list = Vec::new();
    for p in &phases {
        let sites: usize = p.items.iter().map(|i| i.findings.len()).sum();
        let files: BTreeSet<&str> = p.items.iter().flat_map(|i| i.files()).collect();
        let mut run = Run::default()
            .s(format!("Phase {}: {}. ", p.number, p.title))
            .t(format!(
                "Goal: {}. {} in {}: ",
                p.goal,
                plural(sites, "site", "sites"),
                plural(files.len(), "file", "files")
            ));
        for (i, item) in p.items.iter().enumerate() {
            if i > 0 {
                run = run.t("; ");
            }
            run = run.c(item.rule).t(format!(
                " ({}, {} effort)",
                plural(item.findings.len(), "site", "sites"),
                item.effort
            ));
        }
        list.push(run.t(".").0);
    }
    blocks.push(Block::List(list));
    Section { blocks }
}

fn monitoring(report: &Report) -> Section {
    let mut blocks = Vec::new();
    let mut points: Vec<Vec<Inline>> = Vec::new();
    let tasks: Vec<&msgscan_detect::Fact> = report
        .facts
        .iter()
        .filter(|f| f.kind == "celery_task")
        .collect();
    let name = |f: &&msgscan_detect::Fact| f.name.clone().unwrap_or_else(|| "?".into());
    if !tasks.is_empty() {
        let no_retry: Vec<String> = tasks
            .iter()
            .filter(|f| {
                let auto = f
                    .attr("autoretry_for")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                let manual =
                    f.attr("calls_retry").and_then(serde_json::Value::as_bool) == Some(true);
                !auto && !manual
            })
            .map(name)
            .collect();
        let no_limit: Vec<String> = tasks
            .iter()
            .filter(|f| f.attr("time_limit").is_none() && f.attr("soft_time_limit").is_none())
            .map(name)
            .collect();
        let mut run = Run::default().s("Celery workers. ").t(format!(
            "{}: {} without any retry policy",
            plural(tasks.len(), "task", "tasks"),
            no_retry.len()
        ));
        if !no_retry.is_empty() {
            run = run
                .t(" (")
                .names(no_retry.iter().map(String::as_str), 4)
                .t(")");
        }
        run = run.t(format!(", {} without a time limit", no_limit.len()));
        if !no_limit.is_empty() && no_limit.len() < tasks.len() {
            run = run
                .t(" (")
                .names(no_limit.iter().map(String::as_str), 4)
                .t(")");
        }
        run = run.t(". Export task failure, retry and runtime counts (Celery events, Flower or a Prometheus exporter) and alert on a rising failure rate and on queue length.");
        points.push(run.0);
    }
    let instances: Vec<&msgscan_detect::Fact> = report
        .facts
        .iter()
        .filter(|f| f.kind == "emitter_instance")
        .collect();
    if !instances.is_empty() {
        let without: Vec<String> = instances
            .iter()
            .filter(|f| {
                f.attr("has_error_listener")
                    .and_then(serde_json::Value::as_bool)
                    != Some(true)
            })
            .map(name)
            .collect();
        let mut run = Run::default().s("Node.js emitters. ").t(format!(
            "{}, {} without an ",
            plural(instances.len(), "emitter instance", "emitter instances"),
            without.len()
        ));
        run = run.c("'error'").t(" listener");
        if !without.is_empty() {
            run = run
                .t(" (")
                .names(without.iter().map(String::as_str), 4)
                .t(")");
        }
        run = run.t(". An emitted ").c("'error'").t(" with no listener crashes the process; log every listener failure with the event name so a dropped event can be traced.");
        points.push(run.0);
    }
    for cat in ["observability", "reliability"] {
        let found: Vec<&msgscan_rulebook::Finding> = report
            .findings
            .iter()
            .filter(|f| f.category == cat)
            .collect();
        let score = report.scores.categories.get(cat).map_or(100, |c| c.score);
        let rules: BTreeSet<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        let mut run = Run::default()
            .s(format!("{} {score}/100. ", capitalise(cat)))
            .t(plural(found.len(), "finding", "findings"));
        if rules.is_empty() {
            run = run.t(".");
        } else {
            run = run
                .t(" from ")
                .names(rules.iter().copied(), 4)
                .t("; the table below lists each site.");
        }
        points.push(run.0);
    }
    let without_consumer = view::complexity(report).without_consumer;
    if !without_consumer.is_empty() {
        points.push(
            Run::default()
                .s("Dead letters. ")
                .names(without_consumer.iter().map(String::as_str), 4)
                .t(" have no consumer in the code: monitor them at the broker (unrouted or unacknowledged messages) until their consumer is known.")
                .0,
        );
    }
    blocks.push(
        Run::default()
            .t("What the code shows about failure handling and visibility:")
            .p(),
    );
    blocks.push(Block::List(points));
    Section { blocks }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl Section {
    /// The section as plain text (for tests and for checking a rewrite).
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            let runs: Vec<&Vec<Inline>> = match b {
                Block::Paragraph(r) => vec![r],
                Block::List(items) => items.iter().collect(),
            };
            for r in runs {
                for i in r {
                    match i {
                        Inline::Text(s) | Inline::Code(s) | Inline::Strong(s) => out.push_str(s),
                    }
                }
                out.push('\n');
            }
        }
        out
    }
}
