//! The Messaging Architecture Analysis Report as ONE self-contained HTML file: inline CSS,
//! inline SVG topology, no script, no external font, image or stylesheet, so it works
//! offline and from `file://`. A Content-Security-Policy forbids scripts and every remote
//! load, a second line of defence behind escaping: every name from the scanned code goes
//! through [`crate::escape::html`].

use std::fmt::Write as _;
use std::io::{self, Write};

use msgscan_rulebook::Severity;

use crate::escape::{html as h, html_message as hm};
use crate::narrative::{Block, Inline, Narrative, NarrativeOrigin, Section};
use crate::{DocumentOptions, Report, topology, view};

const CSS: &str = r#"
:root{--fg:#1d2733;--muted:#5b6b7b;--line:#dde3ea;--bg:#f5f7fa;--card:#fff;--accent:#2450a6;
--err:#c62828;--warn:#e65100;--info:#1565c0;--good:#2e7d32;--fair:#9e9d24}
*{box-sizing:border-box}
html{font-size:15px}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.55;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",Arial,sans-serif}
code,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;font-size:.88em}
code{background:#eef1f5;border-radius:4px;padding:.05em .35em;overflow-wrap:anywhere}
header{background:#15233b;color:#fff;padding:28px 40px 22px}
header h1{margin:0 0 6px;font-size:1.9rem;font-weight:650;letter-spacing:-.01em}
header .meta{color:#b8c4d6;margin:0}
header .meta code{background:#22355a;color:#fff}
header .note{margin:10px 0 0;color:#ffe0b2}
nav.toc{background:#fff;border-bottom:1px solid var(--line);padding:10px 40px;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:.92rem}
nav.toc a{color:var(--accent);text-decoration:none}
nav.toc a:hover{text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:8px 40px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:8px 28px 20px;margin:22px 0}
h2{font-size:1.4rem;margin:18px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:1.12rem;margin:22px 0 8px}
h4{font-size:1rem;margin:18px 0 6px}
p{margin:8px 0}
ul{margin:8px 0;padding-left:22px}
li{margin:4px 0}
.cards{display:grid;grid-template-columns:220px 1fr;gap:16px;margin:16px 0}
.overall{border:1px solid var(--line);border-radius:10px;padding:18px;text-align:center;background:#fafbfd}
.ring{width:128px;height:128px;border-radius:50%;margin:4px auto 8px;display:grid;place-items:center}
.ring span{width:100px;height:100px;border-radius:50%;background:#fff;display:grid;place-items:center;font-size:2.3rem;font-weight:700}
.overall .label{font-weight:600}
.grade{color:var(--muted);font-size:.9rem}
.cats{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.cat{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fafbfd}
.cat .name{font-size:.85rem;color:var(--muted);text-transform:capitalize}
.cat .score{font-size:1.6rem;font-weight:700;line-height:1.2}
.cat .bar{height:6px;border-radius:3px;background:#e6eaf0;margin:6px 0 4px;overflow:hidden}
.cat .bar i{display:block;height:100%;border-radius:3px}
.cat .n{font-size:.8rem;color:var(--muted)}
.s-good{color:var(--good)}.b-good{background:var(--good)}
.s-fair{color:var(--fair)}.b-fair{background:var(--fair)}
.s-risk{color:var(--warn)}.b-risk{background:var(--warn)}
.s-poor{color:var(--err)}.b-poor{background:var(--err)}
table{border-collapse:collapse;width:100%;margin:10px 0 14px;font-size:.92rem}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f0f3f7;font-weight:600;font-size:.85rem;color:#3a4a5c}
tr:hover td{background:#fafcff}
td.msg{max-width:520px}
td.kind{white-space:nowrap}
details{margin:6px 0 12px}
summary{cursor:pointer;color:var(--accent);font-size:.92rem;margin:4px 0}
.kv th{width:220px;background:none;color:var(--fg)}
.pill{display:inline-block;border-radius:10px;padding:1px 9px;font-size:.78rem;font-weight:650;color:#fff;white-space:nowrap}
.pill.error{background:var(--err)}.pill.warning{background:var(--warn)}.pill.info{background:var(--info)}
.item{border-left:4px solid var(--line);padding:2px 0 2px 14px;margin:14px 0}
.item.error{border-color:var(--err)}.item.warning{border-color:var(--warn)}.item.info{border-color:var(--info)}
.item h4{margin:6px 0 2px}
.item .sub{color:var(--muted);font-size:.88rem}
.fix{background:#f1f8f2;border:1px solid #cfe6d2;border-radius:6px;padding:8px 12px;margin:8px 0}
.panel{border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:14px 0;overflow-x:auto;background:#fcfdff}
.panel h4{margin:2px 0 6px}
svg.topology{max-width:100%;height:auto;display:block}
svg.topology text{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:12px;fill:#1d2733}
svg.topology text.col{font-family:system-ui,Arial,sans-serif;text-anchor:middle;fill:#5b6b7b;font-size:12px;letter-spacing:.06em;text-transform:uppercase}
svg.topology text.badge{fill:#fff;font-size:11px;font-weight:700;text-anchor:middle;font-family:system-ui,Arial,sans-serif}
svg.topology rect{fill:#fff;stroke:#9aa5b1;stroke-width:1.3}
svg.topology .channel rect{fill:#eaf1ff;stroke:#7d97c6}
svg.topology .no-consumer rect,svg.topology .no-producer rect{stroke-dasharray:5 3;fill:#fff7e6}
svg.topology .edge{fill:none;stroke:#9fb0c3;stroke-width:1.5}
.legend{color:var(--muted);font-size:.85rem}
.muted{color:var(--muted)}
footer{color:var(--muted);text-align:center;font-size:.85rem;padding:10px 0 30px}
@media print{body{background:#fff}section{break-inside:avoid-page;border:none}nav.toc{display:none}}
"#;

fn inline(out: &mut String, run: &[Inline]) {
    for i in run {
        match i {
            Inline::Text(s) => out.push_str(&h(s)),
            Inline::Code(s) => {
                let _ = write!(out, "<code>{}</code>", h(s));
            }
            Inline::Strong(s) => {
                let _ = write!(out, "<strong>{}</strong>", h(s));
            }
        }
    }
}

fn section_html(out: &mut String, s: &Section) {
    for b in &s.blocks {
        match b {
            Block::Paragraph(run) => {
                out.push_str("<p>");
                inline(out, run);
                out.push_str("</p>\n");
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str("<li>");
                    inline(out, item);
                    out.push_str("</li>\n");
                }
                out.push_str("</ul>\n");
            }
        }
    }
}

fn grade_class(score: u32) -> &'static str {
    match score {
        90..=100 => "good",
        75..=89 => "fair",
        50..=74 => "risk",
        _ => "poor",
    }
}

fn ring_color(score: u32) -> &'static str {
    match score {
        90..=100 => "#2e7d32",
        75..=89 => "#9e9d24",
        50..=74 => "#e65100",
        _ => "#c62828",
    }
}

fn pill(s: Severity) -> String {
    format!(r#"<span class="pill {0}">{0}</span>"#, s.as_str())
}

fn loc(path: &str, line: u32) -> String {
    format!("<code>{}:{line}</code>", h(path))
}

/// Writes the HTML report.
pub fn html(report: &Report, options: &DocumentOptions, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(html_string(report, options).as_bytes())
}

/// The HTML report as a string.
pub fn html_string(report: &Report, options: &DocumentOptions) -> String {
    let narrative = options
        .narrative
        .clone()
        .unwrap_or_else(|| Narrative::from_report(report, &options.context));
    let facts = view::fact_index(report);
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"{} {}\">\n\
<title>Messaging Architecture Analysis Report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        h(&report.tool.name),
        h(&report.tool.version),
        h(&report.root)
    );
    let _ = write!(
        o,
        "<header>\n<h1>Messaging Architecture Analysis Report</h1>\n<p class=\"meta\">Project <code>{}</code> · {} {} · {} · {} · {}</p>\n",
        h(&report.root),
        h(&report.tool.name),
        h(&report.tool.version),
        view::plural(report.files.scanned, "file scanned", "files scanned"),
        view::plural(report.topology.channels.len(), "channel", "channels"),
        view::plural(report.findings.len(), "finding", "findings"),
    );
    if let NarrativeOrigin::Model { name } = &narrative.origin {
        let _ = writeln!(
            o,
            "<p class=\"note\">Narrative sections written by <code>{}</code>.</p>",
            h(name)
        );
    }
    for note in &narrative.notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", h(note));
    }
    o.push_str("</header>\n<nav class=\"toc\">");
    for (id, title) in [
        ("s1", "1. Executive Summary"),
        ("s2", "2. Current State"),
        ("s3", "3. Strategy"),
        ("s4", "4. Implementation Guide"),
        ("s5", "5. Roadmap"),
        ("s6", "6. Monitoring & Reliability"),
        ("s7", "7. Integration"),
        ("s8", "8. Coverage"),
        ("findings", "All findings"),
    ] {
        let _ = write!(o, "<a href=\"#{id}\">{}</a>", h(title));
    }
    o.push_str("</nav>\n<main>\n");

    // 1
    o.push_str("<section id=\"s1\">\n<h2>1. Executive Summary</h2>\n<div class=\"cards\">\n");
    let overall = report.scores.overall;
    let _ = write!(
        o,
        "<div class=\"overall\"><div class=\"ring\" style=\"background:conic-gradient({} {}%, #e6eaf0 0)\"><span class=\"s-{}\">{overall}</span></div><div class=\"label\">Overall score</div><div class=\"grade\">{} · out of 100</div></div>\n<div class=\"cats\">\n",
        ring_color(overall),
        overall,
        grade_class(overall),
        view::grade(overall)
    );
    for (name, c) in &report.scores.categories {
        let g = grade_class(c.score);
        let _ = writeln!(
            o,
            "<div class=\"cat\"><div class=\"name\">{}</div><div class=\"score s-{g}\">{}</div><div class=\"bar\"><i class=\"b-{g}\" style=\"width:{}%\"></i></div><div class=\"n\">{}{}</div></div>",
            h(&name.replace('-', " ")),
            c.score,
            c.score,
            view::plural(c.findings, "finding", "findings"),
            if c.penalty > 0 {
                format!(" · −{} penalty", c.penalty)
            } else {
                String::new()
            }
        );
    }
    o.push_str("</div>\n</div>\n");
    section_html(&mut o, &narrative.executive_summary);
    o.push_str("<p class=\"legend\">Each finding costs its category 10 (error), 4 (warning) or 1 (info) penalty points; a category scores round(100 × 20 / (20 + penalty)); the overall score is the mean of the categories.</p>\n</section>\n");

    // 2
    o.push_str("<section id=\"s2\">\n<h2>2. Current State Analysis</h2>\n<h3>Project assessment</h3>\n<table class=\"kv\">\n");
    let cx = view::complexity(report);
    let row = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "<tr><th>{}</th><td>{v}</td></tr>", h(k));
    };
    row(
        &mut o,
        "Files scanned",
        format!(
            "{} ({} parsed, {} skipped)",
            report.files.scanned, report.files.parsed, report.files.skipped
        ),
    );
    let langs: Vec<String> = report
        .files
        .by_language
        .iter()
        .map(|(l, n)| format!("{} {n}", h(l)))
        .collect();
    row(
        &mut o,
        "Languages",
        if langs.is_empty() {
            "none".into()
        } else {
            langs.join(", ")
        },
    );
    let transports: Vec<String> = cx
        .transports
        .iter()
        .map(|t| format!("<code>{}</code>", h(t)))
        .collect();
    row(
        &mut o,
        "Transports",
        if transports.is_empty() {
            "none".into()
        } else {
            transports.join(", ")
        },
    );
    row(
        &mut o,
        "Messaging constructs",
        format!(
            "{} ({} producers, {} consumers)",
            report.facts.len(),
            cx.producers,
            cx.consumers
        ),
    );
    row(
        &mut o,
        "Channels",
        format!(
            "{} ({} across files, {} without consumer, {} without producer)",
            cx.channels,
            cx.cross_file,
            cx.without_consumer.len(),
            cx.without_producer.len()
        ),
    );
    if let Some((name, n)) = &cx.busiest {
        row(
            &mut o,
            "Busiest channel",
            format!("<code>{}</code> ({n} producers and consumers)", h(name)),
        );
    }
    let ctx = &options.context;
    row(
        &mut o,
        "Stage",
        ctx.stage.as_deref().map_or_else(
            || {
                "<span class=\"muted\">not configured (set it in <code>msgscan.toml</code>)</span>"
                    .to_string()
            },
            |s| format!("<code>{}</code>", h(s)),
        ),
    );
    if let Some(v) = &ctx.expected_volume {
        row(&mut o, "Expected volume", h(v));
    }
    for c in &ctx.constraints {
        row(&mut o, "Constraint", h(c));
    }
    o.push_str("</table>\n<h3>Topology</h3>\n");
    let panels = topology::panels(report);
    if panels.is_empty() {
        o.push_str("<p>No channels were linked.</p>\n");
    } else {
        let _ = writeln!(
            o,
            "<p class=\"legend\">Producer files → channels → consumer files, one picture per transport (at most {} channels each). A badge counts the findings on a node (red: error, orange: warning, blue: info); a dashed channel has no producer or no consumer in the scanned code. Hover a node for its full name.</p>",
            topology::MAX_CHANNELS_PER_PANEL
        );
    }
    for p in &panels {
        let _ = writeln!(
            o,
            "<div class=\"panel\"><h4>{}</h4>{}</div>",
            h(&p.heading()),
            topology::svg_panel(p)
        );
    }
    o.push_str("<h3>Inventory</h3>\n");
    let inventory = view::inventory(report);
    if inventory.is_empty() {
        o.push_str("<p>No messaging constructs found.</p>\n");
    }
    for (tech, list) in &inventory {
        let counts: Vec<String> = view::kind_counts(list)
            .into_iter()
            .map(|(k, n)| format!("<code>{}</code> {n}", h(k)))
            .collect();
        let _ = writeln!(
            o,
            "<h4>{}</h4>\n<p>{}</p>\n<details{}><summary>All {} constructs</summary>\n<table><tr><th>kind</th><th>name</th><th>role</th><th>location</th></tr>",
            h(tech.title),
            counts.join(" · "),
            if list.len() <= 12 { " open" } else { "" },
            list.len()
        );
        for f in list {
            let _ = writeln!(
                o,
                "<tr><td class=\"kind\"><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                h(&f.kind),
                f.name.as_deref().map_or_else(
                    || format!("<span class=\"muted\">{}</span>", h(&view::unnamed(f))),
                    |n| format!("<code>{}</code>", h(n))
                ),
                f.role.as_str(),
                loc(&f.path, f.line)
            );
        }
        o.push_str("</table>\n</details>\n");
    }
    o.push_str("</section>\n");

    // 3
    o.push_str("<section id=\"s3\">\n<h2>3. Messaging Architecture Strategy</h2>\n");
    section_html(&mut o, &narrative.strategy);
    o.push_str("</section>\n");

    // 4
    o.push_str("<section id=\"s4\">\n<h2>4. Technology-Specific Implementation Guide</h2>\n");
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
        o.push_str("<p>No technology to report on.</p>\n");
    }
    for tech in &techs {
        let _ = writeln!(o, "<h3>{}</h3>", h(tech.title));
        let mine: Vec<&view::WorkItem<'_>> = items
            .iter()
            .filter(|i| {
                i.findings
                    .first()
                    .is_some_and(|f| view::finding_technology(f, &facts) == *tech)
            })
            .collect();
        if mine.is_empty() {
            o.push_str("<p class=\"muted\">No findings.</p>\n");
            continue;
        }
        for item in mine {
            let _ = write!(
                o,
                "<div class=\"item {}\"><h4><code>{}</code> {}</h4><div class=\"sub\">{} · {} · {} · <a href=\"{}\">rule docs</a></div><ul>",
                item.severity.as_str(),
                h(item.rule),
                h(item.title),
                pill(item.severity),
                h(item.category),
                view::plural(item.findings.len(), "site", "sites"),
                h(item.docs_url)
            );
            for f in item.findings.iter().take(view::GUIDE_SITES) {
                let _ = write!(o, "<li>{}: {}</li>", loc(&f.path, f.line), hm(&f.message));
            }
            if item.findings.len() > view::GUIDE_SITES {
                let _ = write!(
                    o,
                    "<li class=\"muted\">and {} more: see <a href=\"#findings\">All findings</a></li>",
                    item.findings.len() - view::GUIDE_SITES
                );
            }
            let _ = writeln!(
                o,
                "</ul><div class=\"fix\"><strong>Fix:</strong> {}</div></div>",
                hm(item.help)
            );
        }
    }
    o.push_str("</section>\n");

    // 5
    o.push_str("<section id=\"s5\">\n<h2>5. Implementation Roadmap</h2>\n");
    section_html(&mut o, &narrative.roadmap);
    let phases = view::phases(report);
    if !phases.is_empty() {
        o.push_str("<table><tr><th>phase</th><th>rule</th><th>severity</th><th>category</th><th>sites</th><th>effort</th></tr>\n");
        for p in &phases {
            for i in &p.items {
                let _ = writeln!(
                    o,
                    "<tr><td>{}: {}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    p.number,
                    h(p.title),
                    h(i.rule),
                    pill(i.severity),
                    h(i.category),
                    i.findings.len(),
                    i.effort
                );
            }
        }
        o.push_str("</table>\n");
    }
    o.push_str("</section>\n");

    // 6
    o.push_str("<section id=\"s6\">\n<h2>6. Monitoring &amp; Reliability Framework</h2>\n");
    section_html(&mut o, &narrative.monitoring);
    let gaps: Vec<&msgscan_rulebook::Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f.category.as_str(), "observability" | "reliability"))
        .collect();
    if !gaps.is_empty() {
        o.push_str(
            "<table><tr><th>category</th><th>rule</th><th>location</th><th>message</th></tr>\n",
        );
        for f in gaps {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"msg\">{}</td></tr>",
                h(&f.category),
                h(&f.rule),
                loc(&f.path, f.line),
                hm(&f.message)
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</section>\n");

    // 7
    o.push_str("<section id=\"s7\">\n<h2>7. Integration Specifications</h2>\n");
    if report.topology.channels.is_empty() {
        o.push_str("<p>No channels.</p>\n");
    } else {
        o.push_str("<table><tr><th>transport</th><th>channel</th><th>scope</th><th>producers</th><th>consumers</th><th>findings</th></tr>\n");
        for c in &report.topology.channels {
            let list = |ids: &[String]| -> String {
                if ids.is_empty() {
                    return "<span class=\"muted\">none in code</span>".into();
                }
                ids.iter()
                    .filter_map(|id| facts.get(id.as_str()))
                    .map(|f| loc(&f.path, f.line))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                h(&c.transport),
                h(&c.name),
                view::channel_scope(c)
                    .map_or_else(String::new, |s| format!("<code>{}</code>", h(s))),
                list(&c.producers),
                list(&c.consumers),
                view::channel_findings(report, c).len()
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<p>An AsyncAPI 3.0 document of these channels (operations <code>send</code> for producers, <code>receive</code> for consumers) is produced by <code>msgscan scan --format asyncapi</code>.</p>\n</section>\n");

    // 8
    o.push_str("<section id=\"s8\">\n<h2>8. Analyzer coverage</h2>\n<p>What msgscan could not see; findings and topology are silent about it.</p>\n<ul>\n");
    if report.errors.is_empty() {
        o.push_str("<li>Files that could not be analysed: none.</li>\n");
    } else {
        let _ = write!(
            o,
            "<li>Files that could not be analysed ({}):<ul>",
            report.errors.len()
        );
        for e in &report.errors {
            let at = match e.line {
                Some(l) => loc(&e.path, l),
                None => format!("<code>{}</code>", h(&e.path)),
            };
            let _ = write!(
                o,
                "<li>{at} <code>{}</code>: {}</li>",
                h(&e.kind),
                h(&e.message)
            );
        }
        o.push_str("</ul></li>\n");
    }
    if report.files.skipped_by_reason.is_empty() {
        o.push_str("<li>Skipped files: none.</li>\n");
    } else {
        let reasons: Vec<String> = report
            .files
            .skipped_by_reason
            .iter()
            .map(|(r, n)| format!("<code>{}</code> {n}", h(r)))
            .collect();
        let _ = writeln!(o, "<li>Skipped files: {}.</li>", reasons.join(", "));
    }
    let unsupported = report
        .files
        .skipped_by_reason
        .get("unsupported")
        .copied()
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "<li>Files in languages msgscan has no analyser for: {}.</li>",
        if unsupported == 0 {
            "none".to_string()
        } else {
            unsupported.to_string()
        }
    );
    let dynamic = view::dynamic_facts(report);
    if dynamic.is_empty() {
        o.push_str("<li>Producers and consumers with a dynamic channel name: none.</li>\n");
    } else {
        let _ = write!(
            o,
            "<li>Producers and consumers with a dynamic channel name ({}), not linked in the topology:<ul>",
            dynamic.len()
        );
        for f in dynamic {
            let _ = write!(
                o,
                "<li>{} <code>{}</code></li>",
                loc(&f.path, f.line),
                h(&f.kind)
            );
        }
        o.push_str("</ul></li>\n");
    }
    if report.suppressed > 0 {
        let _ = writeln!(
            o,
            "<li>Findings suppressed in the code: {}.</li>",
            report.suppressed
        );
    }
    o.push_str("</ul>\n</section>\n");

    o.push_str("<section id=\"findings\">\n<h2>All findings</h2>\n");
    if report.findings.is_empty() {
        o.push_str("<p>None.</p>\n");
    } else {
        o.push_str(
            "<table><tr><th>severity</th><th>rule</th><th>location</th><th>message</th></tr>\n",
        );
        for f in &report.findings {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><a href=\"{}\"><code>{}</code></a></td><td>{}</td><td class=\"msg\">{}</td></tr>",
                pill(f.severity),
                h(&f.docs_url),
                h(&f.rule),
                loc(&f.path, f.line),
                hm(&f.message)
            );
        }
        o.push_str("</table>\n");
    }
    let _ = write!(
        o,
        "</section>\n</main>\n<footer>Generated by {} {} from static analysis; narrative: {}.</footer>\n</body>\n</html>\n",
        h(&report.tool.name),
        h(&report.tool.version),
        match &narrative.origin {
            NarrativeOrigin::Template => "msgscan templates".to_string(),
            NarrativeOrigin::Model { name } => h(name),
        }
    );
    o
}
