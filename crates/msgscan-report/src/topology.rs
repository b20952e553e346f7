//! The topology picture: producers → channels → consumers, one panel per transport (split
//! into parts of at most [`MAX_CHANNELS_PER_PANEL`] channels), so a project with dozens of
//! channels stays readable. Producers and consumers are grouped by file: an edge means
//! "code in this file produces to / consumes from this channel".
//!
//! Rendered as Mermaid (Markdown; GitHub renders it) and as a hand-laid-out inline SVG
//! (HTML). Nodes with findings carry a badge with the count, coloured by the worst severity.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use msgscan_rulebook::Severity;

use crate::Report;
use crate::escape::{html, mermaid, truncate_left};
use crate::view;

/// Channels per panel; a transport with more is split into parts.
pub const MAX_CHANNELS_PER_PANEL: usize = 24;

/// Findings on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    pub count: usize,
    pub worst: Option<Severity>,
}

impl Marks {
    fn add(&mut self, s: Severity) {
        self.count += 1;
        self.worst = Some(self.worst.map_or(s, |w| w.max(s)));
    }
}

/// A file on one side of a panel.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub path: String,
    pub marks: Marks,
}

/// A channel node.
#[derive(Debug, Clone)]
pub struct ChannelNode {
    pub name: String,
    /// The emitter or namespace the name is scoped to, if any.
    pub scope: Option<String>,
    pub marks: Marks,
    pub producers: usize,
    pub consumers: usize,
    /// False where producers are not expected in code (Node's own `'error'` events).
    pub expects_producer: bool,
}

impl ChannelNode {
    /// `(css class, note)` for a channel missing a side in the code.
    fn missing(&self) -> Option<(&'static str, &'static str)> {
        if self.producers == 0 && self.expects_producer {
            Some(("no-producer", " (no producer in code)"))
        } else if self.consumers == 0 {
            Some(("no-consumer", " (no consumer in code)"))
        } else {
            None
        }
    }
}

/// One picture: a transport, or a part of one.
#[derive(Debug, Clone)]
pub struct Panel {
    pub transport: String,
    pub title: String,
    pub part: usize,
    pub parts: usize,
    pub producers: Vec<Endpoint>,
    pub channels: Vec<ChannelNode>,
    pub consumers: Vec<Endpoint>,
    /// (producer index, channel index)
    pub produce: Vec<(usize, usize)>,
    /// (channel index, consumer index)
    pub consume: Vec<(usize, usize)>,
}

/// The panels of a report's topology, by transport then part.
pub fn panels(report: &Report) -> Vec<Panel> {
    let facts = view::fact_index(report);
    let mut finding_marks: BTreeMap<&str, Marks> = BTreeMap::new();
    for f in &report.findings {
        if let Some(id) = f.fact.as_deref() {
            finding_marks.entry(id).or_default().add(f.severity);
        }
    }
    let mut by_transport: BTreeMap<&str, Vec<&msgscan_detect::Channel>> = BTreeMap::new();
    for c in &report.topology.channels {
        by_transport
            .entry(c.transport.as_str())
            .or_default()
            .push(c);
    }
    let mut out = Vec::new();
    for (transport, mut channels) in by_transport {
        channels.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        let chunks: Vec<&[&msgscan_detect::Channel]> =
            channels.chunks(MAX_CHANNELS_PER_PANEL).collect();
        let parts = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut producers: BTreeMap<String, Marks> = BTreeMap::new();
            let mut consumers: BTreeMap<String, Marks> = BTreeMap::new();
            let mut produce = BTreeSet::new();
            let mut consume = BTreeSet::new();
            let mut nodes = Vec::new();
            for (ci, c) in chunk.iter().enumerate() {
                let mut marks = Marks::default();
                for (ids, side) in [(&c.producers, true), (&c.consumers, false)] {
                    for id in ids {
                        let Some(f) = facts.get(id.as_str()) else {
                            continue;
                        };
                        let m = finding_marks.get(id.as_str()).copied().unwrap_or_default();
                        let map = if side { &mut producers } else { &mut consumers };
                        let e = map.entry(f.path.clone()).or_default();
                        if let Some(w) = m.worst {
                            for _ in 0..m.count {
                                e.add(w);
                                marks.add(w);
                            }
                        }
                        if side {
                            produce.insert((f.path.clone(), ci));
                        } else {
                            consume.insert((ci, f.path.clone()));
                        }
                    }
                }
                nodes.push(ChannelNode {
                    expects_producer: view::expects_producer(c),
                    name: c.name.clone(),
                    scope: view::channel_scope(c).map(str::to_string),
                    marks,
                    producers: c.producers.len(),
                    consumers: c.consumers.len(),
                });
            }
            let p_index: BTreeMap<&str, usize> = producers
                .keys()
                .enumerate()
                .map(|(i, k)| (k.as_str(), i))
                .collect();
            let q_index: BTreeMap<&str, usize> = consumers
                .keys()
                .enumerate()
                .map(|(i, k)| (k.as_str(), i))
                .collect();
            let produce = produce
                .iter()
                .filter_map(|(p, c)| Some((*p_index.get(p.as_str())?, *c)))
                .collect();
            let consume = consume
                .iter()
                .filter_map(|(c, q)| Some((*c, *q_index.get(q.as_str())?)))
                .collect();
            out.push(Panel {
                transport: transport.to_string(),
                title: view::transport_title(transport),
                part: i + 1,
                parts,
                producers: producers
                    .into_iter()
                    .map(|(path, marks)| Endpoint { path, marks })
                    .collect(),
                channels: nodes,
                consumers: consumers
                    .into_iter()
                    .map(|(path, marks)| Endpoint { path, marks })
                    .collect(),
                produce,
                consume,
            });
        }
    }
    out
}

impl Panel {
    pub fn heading(&self) -> String {
        if self.parts > 1 {
            format!("{} (part {} of {})", self.title, self.part, self.parts)
        } else {
            self.title.clone()
        }
    }
}

fn badge_text(m: &Marks) -> String {
    match m.worst {
        Some(s) => format!(" ⚠ {} {}", m.count, s.as_str()),
        None => String::new(),
    }
}

fn channel_label(c: &ChannelNode) -> String {
    let mut s = truncate_left(&c.name, 48);
    if let Some(scope) = &c.scope {
        s.push_str(" @ ");
        s.push_str(&truncate_left(scope, 40));
    }
    s
}

/// A Mermaid flowchart of one panel. Every label is entity-encoded.
pub fn mermaid_panel(p: &Panel) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "flowchart LR");
    let class = |m: &Marks| match m.worst {
        Some(Severity::Error) => ":::err",
        Some(Severity::Warning) => ":::warn",
        Some(Severity::Info) => ":::info",
        None => "",
    };
    let _ = writeln!(out, "  subgraph P[\"producers\"]");
    for (i, e) in p.producers.iter().enumerate() {
        let _ = writeln!(
            out,
            "    p{i}[\"{}\"]{}",
            mermaid(&format!(
                "{}{}",
                truncate_left(&e.path, 60),
                badge_text(&e.marks)
            )),
            class(&e.marks)
        );
    }
    let _ = writeln!(out, "  end");
    let _ = writeln!(out, "  subgraph C[\"{}\"]", mermaid(&p.heading()));
    for (i, c) in p.channels.iter().enumerate() {
        let mut label = channel_label(c);
        if let Some((_, note)) = c.missing() {
            label.push_str(note);
        }
        label.push_str(&badge_text(&c.marks));
        let _ = writeln!(
            out,
            "    c{i}([\"{}\"]){}",
            mermaid(&label),
            class(&c.marks)
        );
    }
    let _ = writeln!(out, "  end");
    let _ = writeln!(out, "  subgraph Q[\"consumers\"]");
    for (i, e) in p.consumers.iter().enumerate() {
        let _ = writeln!(
            out,
            "    q{i}[\"{}\"]{}",
            mermaid(&format!(
                "{}{}",
                truncate_left(&e.path, 60),
                badge_text(&e.marks)
            )),
            class(&e.marks)
        );
    }
    let _ = writeln!(out, "  end");
    for (a, b) in &p.produce {
        let _ = writeln!(out, "  p{a} --> c{b}");
    }
    for (a, b) in &p.consume {
        let _ = writeln!(out, "  c{a} --> q{b}");
    }
    let _ = writeln!(out, "  classDef err stroke:#c62828,stroke-width:3px");
    let _ = writeln!(out, "  classDef warn stroke:#ef6c00,stroke-width:3px");
    let _ = writeln!(out, "  classDef info stroke:#1565c0,stroke-width:2px");
    out
}

const ROW: u32 = 36;
const NODE_H: u32 = 26;
const COL_W: u32 = 320;
const GAP: u32 = 70;
const TOP: u32 = 34;

fn sev_color(s: Option<Severity>) -> &'static str {
    match s {
        Some(Severity::Error) => "#c62828",
        Some(Severity::Warning) => "#ef6c00",
        Some(Severity::Info) => "#1565c0",
        None => "#9aa5b1",
    }
}

fn column_offset(rows: usize, max_rows: usize) -> u32 {
    // Centre a shorter column against the tallest one.
    ((max_rows - rows) as u32 * ROW) / 2
}

/// An inline SVG of one panel: three columns (producer files, channels, consumer files),
/// curved edges, a badge on every node with findings, a `<title>` tooltip with the full
/// name. All text is HTML-escaped.
pub fn svg_panel(p: &Panel) -> String {
    let max_rows = p
        .producers
        .len()
        .max(p.channels.len())
        .max(p.consumers.len())
        .max(1);
    let width = 3 * COL_W + 2 * GAP + 20;
    let height = TOP + max_rows as u32 * ROW + 12;
    let x = [10, 10 + COL_W + GAP, 10 + 2 * (COL_W + GAP)];
    let y_of = |col_rows: usize, i: usize| TOP + column_offset(col_rows, max_rows) + i as u32 * ROW;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="topology" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        html(&format!("Topology: {}", p.heading()))
    );
    for (i, label) in ["producers (files)", "channels", "consumers (files)"]
        .iter()
        .enumerate()
    {
        let _ = write!(
            s,
            r#"<text x="{}" y="18" class="col">{label}</text>"#,
            x[i] + COL_W / 2
        );
    }
    // Edges first, so nodes are drawn over them.
    let edge = |s: &mut String, x1: u32, y1: u32, x2: u32, y2: u32, dashed: bool| {
        let mid = (x1 + x2) / 2;
        let _ = write!(
            s,
            r#"<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" class="edge{}"/>"#,
            if dashed { " dashed" } else { "" }
        );
    };
    for (a, b) in &p.produce {
        let y1 = y_of(p.producers.len(), *a) + NODE_H / 2;
        let y2 = y_of(p.channels.len(), *b) + NODE_H / 2;
        edge(&mut s, x[0] + COL_W, y1, x[1], y2, false);
    }
    for (a, b) in &p.consume {
        let y1 = y_of(p.channels.len(), *a) + NODE_H / 2;
        let y2 = y_of(p.consumers.len(), *b) + NODE_H / 2;
        edge(&mut s, x[1] + COL_W, y1, x[2], y2, false);
    }
    let node = |s: &mut String,
                x: u32,
                y: u32,
                full: &str,
                label: &str,
                kind: &str,
                m: &Marks,
                missing: &str| {
        let _ = write!(
            s,
            r#"<g class="node {kind}{missing}"><title>{}</title>"#,
            html(full)
        );
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{y}" width="{COL_W}" height="{NODE_H}" rx="{}"{}/>"#,
            if kind == "channel" { 13 } else { 4 },
            match m.worst {
                Some(_) => format!(r#" style="stroke:{};stroke-width:2""#, sev_color(m.worst)),
                None => String::new(),
            }
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            x + 10,
            y + NODE_H / 2 + 4,
            html(label)
        );
        if let Some(w) = m.worst {
            let cx = x + COL_W - 14;
            let _ = write!(
                s,
                r#"<circle cx="{cx}" cy="{}" r="10" fill="{}"/><text x="{cx}" y="{}" class="badge">{}</text>"#,
                y + NODE_H / 2,
                sev_color(Some(w)),
                y + NODE_H / 2 + 4,
                m.count
            );
        }
        s.push_str("</g>");
    };
    for (i, e) in p.producers.iter().enumerate() {
        let y = y_of(p.producers.len(), i);
        node(
            &mut s,
            x[0],
            y,
            &e.path,
            &truncate_left(&e.path, if e.marks.worst.is_some() { 37 } else { 41 }),
            "file",
            &e.marks,
            "",
        );
    }
    for (i, c) in p.channels.iter().enumerate() {
        let y = y_of(p.channels.len(), i);
        // The emitter (`path#bus` → `bus`) tells same-named events apart.
        let short_scope = c
            .scope
            .as_deref()
            .map(|s| s.rsplit('#').next().unwrap_or(s));
        let room = if c.marks.worst.is_some() { 37 } else { 41 };
        let label = match short_scope {
            Some(sc)
                if !sc.is_empty() && c.name.chars().count() + sc.chars().count() + 3 <= room =>
            {
                format!("{} · {sc}", c.name)
            }
            _ => truncate_left(&c.name, room),
        };
        let mut full = c.name.clone();
        if let Some(scope) = &c.scope {
            full.push_str(" @ ");
            full.push_str(scope);
        }
        let (missing, note) = match c.missing() {
            Some((class, note)) => (format!(" {class}"), note),
            None => (String::new(), ""),
        };
        node(
            &mut s,
            x[1],
            y,
            &format!("{full}{note}"),
            &label,
            "channel",
            &c.marks,
            &missing,
        );
    }
    for (i, e) in p.consumers.iter().enumerate() {
        let y = y_of(p.consumers.len(), i);
        node(
            &mut s,
            x[2],
            y,
            &e.path,
            &truncate_left(&e.path, if e.marks.worst.is_some() { 37 } else { 41 }),
            "file",
            &e.marks,
            "",
        );
    }
    s.push_str("</svg>");
    s
}
