//! The Messaging Architecture Analysis Report as GitHub-flavoured Markdown, with the
//! topology as Mermaid diagrams. Every name from the scanned code goes through
//! [`md_code`]/[`md_text`] (or [`mermaid`](crate::escape::mermaid) inside diagrams).

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::escape::{md_block_start, md_code, md_message, md_text};
use crate::narrative::{Block, Inline, Narrative, NarrativeOrigin, Section};
use crate::{DocumentOptions, Report, topology, view};

/// A run of inline text that starts a paragraph or list item.
fn inline(out: &mut String, run: &[Inline]) {
    for (n, i) in run.iter().enumerate() {
        match i {
            Inline::Text(s) if n == 0 => out.push_str(&md_block_start(&md_text(s))),
            Inline::Text(s) => out.push_str(&md_text(s)),
            Inline::Code(s) => out.push_str(&md_code(s)),
            Inline::Strong(s) => {
                let t = md_text(s.trim());
                if !t.is_empty() {
                    let _ = write!(out, "**{t}**");
                }
                if s.ends_with(' ') {
                    out.push(' ');
                }
            }
        }
    }
}

fn section(out: &mut String, s: &Section) {
    for b in &s.blocks {
        match b {
            Block::Paragraph(run) => {
                inline(out, run);
                out.push_str("\n\n");
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    inline(out, item);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
    }
}

fn loc(path: &str, line: u32) -> String {
    md_code(&format!("{path}:{line}"))
}

/// Writes the Markdown report.
pub fn markdown(report: &Report, options: &DocumentOptions, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(markdown_string(report, options).as_bytes())
}

/// The Markdown report as a string.
pub fn markdown_string(report: &Report, options: &DocumentOptions) -> String {
    let narrative = options
        .narrative
        .clone()
        .unwrap_or_else(|| Narrative::from_report(report, &options.context));
    let facts = view::fact_index(report);
    let mut o = String::new();
    let _ = writeln!(o, "# Messaging Architecture Analysis Report\n");
    let _ = writeln!(
        o,
        "Project {} · {} {} · {} · {} · {}\n",
        md_code(&report.root),
        md_text(&report.tool.name),
        md_text(&report.tool.version),
        view::plural(report.files.scanned, "file scanned", "files scanned"),
        view::plural(report.topology.channels.len(), "channel", "channels"),
        view::plural(report.findings.len(), "finding", "findings"),
    );
    if let NarrativeOrigin::Model { name } = &narrative.origin {
        let _ = writeln!(o, "> Narrative sections written by {}.\n", md_code(name));
    }
    for note in &narrative.notes {
        let _ = writeln!(o, "> {}\n", md_text(note));
    }
    let _ = writeln!(
        o,
        "**Contents:** [1. Executive Summary](#1-executive-summary) · [2. Current State Analysis](#2-current-state-analysis) · [3. Messaging Architecture Strategy](#3-messaging-architecture-strategy) · [4. Technology-Specific Implementation Guide](#4-technology-specific-implementation-guide) · [5. Implementation Roadmap](#5-implementation-roadmap) · [6. Monitoring & Reliability Framework](#6-monitoring--reliability-framework) · [7. Integration Specifications](#7-integration-specifications) · [8. Analyzer coverage](#8-analyzer-coverage)\n"
    );

    // 1
    let _ = writeln!(o, "## 1. Executive Summary\n");
    section(&mut o, &narrative.executive_summary);
    let _ = writeln!(
        o,
        "| Overall | {} |",
        report
            .scores
            .categories
            .keys()
            .map(|k| md_text(k))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(o, "|---|{}", "---|".repeat(report.scores.categories.len()));
    let _ = writeln!(
        o,
        "| **{}** | {} |\n",
        report.scores.overall,
        report
            .scores
            .categories
            .values()
            .map(|c| if c.findings > 0 {
                format!("{} ({})", c.score, c.findings)
            } else {
                c.score.to_string()
            })
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        o,
        "Scores are 0–100; a category's number in brackets is its findings. Each finding costs its category 10 (error), 4 (warning) or 1 (info) penalty points; a category scores round(100 × 20 / (20 + penalty)).\n"
    );

    // 2
    let _ = writeln!(o, "## 2. Current State Analysis\n");
    let _ = writeln!(o, "### Project assessment\n");
    let cx = view::complexity(report);
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| Files scanned | {} ({} parsed, {} skipped) |",
        report.files.scanned, report.files.parsed, report.files.skipped
    );
    let langs: Vec<String> = report
        .files
        .by_language
        .iter()
        .map(|(l, n)| format!("{} {n}", md_text(l)))
        .collect();
    let _ = writeln!(
        o,
        "| Languages | {} |",
        if langs.is_empty() {
            "none".into()
        } else {
            langs.join(", ")
        }
    );
    let transports: Vec<String> = cx.transports.iter().map(|t| md_code(t)).collect();
    let _ = writeln!(
        o,
        "| Transports | {} |",
        if transports.is_empty() {
            "none".into()
        } else {
            transports.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "| Messaging constructs | {} ({} producers, {} consumers) |",
        report.facts.len(),
        cx.producers,
        cx.consumers
    );
    let _ = writeln!(
        o,
        "| Channels | {} ({} across files, {} without consumer, {} without producer) |",
        cx.channels,
        cx.cross_file,
        cx.without_consumer.len(),
        cx.without_producer.len()
    );
    if let Some((name, n)) = &cx.busiest {
        let _ = writeln!(
            o,
            "| Busiest channel | {} ({n} producers and consumers) |",
            md_code(name)
        );
    }
    let ctx = &options.context;
    let _ = writeln!(
        o,
        "| Stage | {} |",
        ctx.stage.as_deref().map_or_else(
            || "not configured (set it in `msgscan.toml`)".to_string(),
            md_code
        )
    );
    if let Some(v) = &ctx.expected_volume {
        let _ = writeln!(o, "| Expected volume | {} |", md_text(v));
    }
    for c in &ctx.constraints {
        let _ = writeln!(o, "| Constraint | {} |", md_text(c));
    }
    o.push('\n');

    let _ = writeln!(o, "### Inventory\n");
    let inventory = view::inventory(report);
    if inventory.is_empty() {
        let _ = writeln!(o, "No messaging constructs found.\n");
    }
    for (tech, list) in &inventory {
        let _ = writeln!(o, "#### {}\n", md_text(tech.title));
        let counts: Vec<String> = view::kind_counts(list)
            .into_iter()
            .map(|(k, n)| format!("{} {n}", md_code(k)))
            .collect();
        let _ = writeln!(o, "{}\n", counts.join(" · "));
        let collapse = list.len() > 12;
        if collapse {
            let _ = writeln!(
                o,
                "<details><summary>All {} constructs</summary>\n",
                list.len()
            );
        }
        let _ = writeln!(o, "| kind | name | role | location |\n|---|---|---|---|");
        for f in list {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                md_code(&f.kind),
                f.name
                    .as_deref()
                    .map_or_else(|| md_text(&view::unnamed(f)), md_code),
                f.role.as_str(),
                loc(&f.path, f.line)
            );
        }
        o.push('\n');
        if collapse {
            let _ = writeln!(o, "</details>\n");
        }
    }

    let _ = writeln!(o, "### Topology\n");
    let panels = topology::panels(report);
    if panels.is_empty() {
        let _ = writeln!(o, "No channels were linked.\n");
    } else {
        let _ = writeln!(
            o,
            "Producers (files) → channels → consumers (files), one diagram per transport (at most {} channels each). ⚠ marks nodes with findings.\n",
            topology::MAX_CHANNELS_PER_PANEL
        );
    }
    for p in &panels {
        let _ = writeln!(o, "#### {}\n", md_text(&p.heading()));
        let _ = writeln!(o, "```mermaid\n{}```\n", topology::mermaid_panel(p));
    }

    // 3
    let _ = writeln!(o, "## 3. Messaging Architecture Strategy\n");
    section(&mut o, &narrative.strategy);

    // 4
    let _ = writeln!(o, "## 4. Technology-Specific Implementation Guide\n");
    let items = view::work_items(report);
    let mut techs: Vec<view::Technology> = inventory.keys().copied().collect();
    for i in &items {
        for f in &i.findings {
            let t = view::finding_technology(f, &facts);
            if !techs.contains(&t) {
                techs.push(t);
            }
        }
    }
    techs.sort();
    if techs.is_empty() {
        let _ = writeln!(o, "No technology to report on.\n");
    }
    for tech in &techs {
        let _ = writeln!(o, "### {}\n", md_text(tech.title));
        let mine: Vec<&view::WorkItem<'_>> = items
            .iter()
            .filter(|i| {
                i.findings
                    .first()
                    .is_some_and(|f| view::finding_technology(f, &facts) == *tech)
            })
            .collect();
        if mine.is_empty() {
            let _ = writeln!(o, "No findings.\n");
            continue;
        }
        for item in mine {
            let _ = writeln!(o, "#### {} {}\n", md_code(item.rule), md_text(item.title));
            let _ = writeln!(
                o,
                "**{}** · {} · {} · [rule docs]({})\n",
                item.severity.as_str(),
                md_text(item.category),
                view::plural(item.findings.len(), "site", "sites"),
                item.docs_url
            );
            for f in item.findings.iter().take(view::GUIDE_SITES) {
                let _ = writeln!(o, "- {}: {}", loc(&f.path, f.line), md_message(&f.message));
            }
            if item.findings.len() > view::GUIDE_SITES {
                let _ = writeln!(
                    o,
                    "- and {} more: see [all findings](#appendix-all-findings)",
                    item.findings.len() - view::GUIDE_SITES
                );
            }
            let _ = writeln!(o, "\n**Fix:** {}\n", md_message(item.help));
        }
    }

    // 5
    let _ = writeln!(o, "## 5. Implementation Roadmap\n");
    section(&mut o, &narrative.roadmap);
    let phases = view::phases(report);
    if !phases.is_empty() {
        let _ = writeln!(
            o,
            "| phase | rule | severity | category | sites | effort |\n|---|---|---|---|---|---|"
        );
        for p in &phases {
            for i in &p.items {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    p.number,
                    md_code(i.rule),
                    i.severity.as_str(),
                    md_text(i.category),
                    i.findings.len(),
                    i.effort
                );
            }
        }
        o.push('\n');
    }

    // 6
    let _ = writeln!(o, "## 6. Monitoring & Reliability Framework\n");
    section(&mut o, &narrative.monitoring);
    let gaps: Vec<&msgscan_rulebook::Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f.category.as_str(), "observability" | "reliability"))
        .collect();
    if !gaps.is_empty() {
        let _ = writeln!(
            o,
            "| category | rule | location | message |\n|---|---|---|---|"
        );
        for f in gaps {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                md_text(&f.category),
                md_code(&f.rule),
                loc(&f.path, f.line),
                md_message(&f.message)
            );
        }
        o.push('\n');
    }

    // 7
    let _ = writeln!(o, "## 7. Integration Specifications\n");
    if report.topology.channels.is_empty() {
        let _ = writeln!(o, "No channels.\n");
    } else {
        let _ = writeln!(
            o,
            "| transport | channel | scope | producers | consumers | findings |\n|---|---|---|---|---|---|"
        );
        for c in &report.topology.channels {
            let list = |ids: &[String]| -> String {
                if ids.is_empty() {
                    return "none in code".into();
                }
                ids.iter()
                    .filter_map(|id| facts.get(id.as_str()))
                    .map(|f| loc(&f.path, f.line))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                md_code(&c.transport),
                md_code(&c.name),
                view::channel_scope(c).map_or_else(String::new, md_code),
                list(&c.producers),
                list(&c.consumers),
                view::channel_findings(report, c).len()
            );
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "An AsyncAPI 3.0 document of these channels (operations `send` for producers, `receive` for consumers) is produced by `msgscan scan --format asyncapi`.\n"
    );

    // 8
    let _ = writeln!(o, "## 8. Analyzer coverage\n");
    let _ = writeln!(
        o,
        "What msgscan could not see; findings and topology are silent about it.\n"
    );
    if report.errors.is_empty() {
        let _ = writeln!(o, "- Files that could not be analysed: none.");
    } else {
        let _ = writeln!(
            o,
            "- Files that could not be analysed ({}):",
            report.errors.len()
        );
        for e in &report.errors {
            let at = match e.line {
                Some(l) => loc(&e.path, l),
                None => md_code(&e.path),
            };
            let _ = writeln!(
                o,
                "  - {} {}: {}",
                at,
                md_code(&e.kind),
                md_text(&e.message)
            );
        }
    }
    if report.files.skipped_by_reason.is_empty() {
        let _ = writeln!(o, "- Skipped files: none.");
    } else {
        let reasons: Vec<String> = report
            .files
            .skipped_by_reason
            .iter()
            .map(|(r, n)| format!("{} {n}", md_code(r)))
            .collect();
        let _ = writeln!(o, "- Skipped files: {}.", reasons.join(", "));
    }
    let unsupported = report
        .files
        .skipped_by_reason
        .get("unsupported")
        .copied()
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "- Files in languages msgscan has no analyser for: {}.",
        if unsupported == 0 {
            "none".to_string()
        } else {
            unsupported.to_string()
        }
    );
    let dynamic = view::dynamic_facts(report);
    if dynamic.is_empty() {
        let _ = writeln!(
            o,
            "- Producers and consumers with a dynamic channel name: none."
        );
    } else {
        let _ = writeln!(
            o,
            "- Producers and consumers with a dynamic channel name ({}), not linked in the topology:",
            dynamic.len()
        );
        for f in dynamic {
            let _ = writeln!(o, "  - {} {}", loc(&f.path, f.line), md_code(&f.kind));
        }
    }
    if report.suppressed > 0 {
        let _ = writeln!(
            o,
            "- Findings suppressed in the code: {}.",
            report.suppressed
        );
    }
    o.push('\n');

    let _ = writeln!(o, "## Appendix: all findings\n");
    if report.findings.is_empty() {
        let _ = writeln!(o, "None.");
    } else {
        let _ = writeln!(
            o,
            "| severity | rule | location | message |\n|---|---|---|---|"
        );
        for f in &report.findings {
            let _ = writeln!(
                o,
                "| {} | [{}]({}) | {} | {} |",
                f.severity.as_str(),
                md_text(&f.rule),
                f.docs_url,
                loc(&f.path, f.line),
                md_message(&f.message)
            );
        }
    }
    o
}
