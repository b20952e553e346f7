//! Per-rule documentation pages, generated from the rulebook: `docs/rules/<id>.md` and the
//! index `docs/rules/README.md`. `cargo run -p msgscan-rulebook --example generate-docs`
//! writes them; a test regenerates them in memory and fails when the files are stale.

use std::fmt::Write;

use crate::cond::Test;
use crate::{At, Condition, Exists, Rule, Rulebook};

/// The directory of the pages, relative to the repository root.
pub const DOCS_DIR: &str = "docs/rules";

/// Every page: `(file name, contents)`, the index last.
pub fn pages(book: &Rulebook) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = book
        .rules()
        .iter()
        .map(|r| (format!("{}.md", r.id), page(r)))
        .collect();
    out.push(("README.md".into(), index(book)));
    out
}

fn fence_language(rule: &Rule) -> &'static str {
    match rule.languages.first().map(String::as_str) {
        Some("python") => "python",
        Some("javascript") => "js",
        Some("typescript") => "ts",
        Some("tsx") => "tsx",
        Some("sql") => "sql",
        _ => "text",
    }
}

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("`\"{s}\"`"),
        other => format!("`{other}`"),
    }
}

fn values(vs: &[serde_json::Value]) -> String {
    vs.iter().map(value).collect::<Vec<_>>().join(", ")
}

fn test(t: &Test) -> String {
    match t {
        Test::Eq(v) => format!("is {}", value(v)),
        Test::Ne(v) => format!("is not {}", value(v)),
        Test::In(vs) => format!("is one of {}", values(vs)),
        Test::NotIn(vs) => format!("is none of {}", values(vs)),
        Test::Contains(v) => format!("contains {}", value(v)),
        Test::ContainsAny(vs) => format!("contains any of {}", values(vs)),
        Test::NotContains(v) => format!("does not contain {}", value(v)),
        Test::Matches(re) => format!("matches `{}`", re.as_str()),
        Test::NotMatches(re) => format!("does not match `{}`", re.as_str()),
        Test::Present(true) => "is present".into(),
        Test::Present(false) => "is absent".into(),
        Test::IsNone => "is `None`".into(),
        Test::Empty(true) => "is empty".into(),
        Test::Empty(false) => "is not empty".into(),
        Test::Cmp(ord, eq, n) => {
            let op = match (ord, eq) {
                (std::cmp::Ordering::Greater, false) => ">",
                (std::cmp::Ordering::Greater, true) => "≥",
                (_, false) => "<",
                (_, true) => "≤",
            };
            format!("{op} {n}")
        }
    }
}

fn conditions(cs: &[Condition]) -> String {
    cs.iter()
        .map(|c| {
            let tests: Vec<String> = c.tests.iter().map(test).collect();
            format!("`{}` {}", c.field, tests.join(" and "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn exists(e: &Exists, what: &str) -> String {
    let mut s = match &e.kind {
        Some(k) => format!("a `{k}` fact"),
        None => "another channel".into(),
    };
    if !e.conditions.is_empty() {
        let _ = write!(s, " where {}", conditions(&e.conditions));
    }
    if !e.same.is_empty() {
        let pairs: Vec<String> = e
            .same
            .iter()
            .map(|(theirs, ours)| format!("its `{theirs}` equals this {what}'s `{ours}`"))
            .collect();
        let _ = write!(
            s,
            ", {}{}",
            pairs.join(", "),
            if e.ignore_case {
                " (ignoring case)"
            } else {
                ""
            }
        );
    }
    if !e.distinct.is_empty() {
        let _ = write!(
            s,
            ", with a different {}",
            e.distinct
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s
}

fn selection(rule: &Rule) -> String {
    let mut s = String::new();
    if let Some(ch) = &rule.channel {
        s.push_str("Topology channels");
        if !ch.conditions.is_empty() {
            let _ = write!(s, " where {}", conditions(&ch.conditions));
        }
        s.push_str(".\n");
        if let Some(p) = &ch.producer {
            let _ = writeln!(
                s,
                "- some producer is a `{}` fact{}",
                p.kind,
                where_(&p.conditions)
            );
        }
        if let Some(c) = &ch.consumer {
            let _ = writeln!(
                s,
                "- some consumer is a `{}` fact{}",
                c.kind,
                where_(&c.conditions)
            );
        }
        if let Some(p) = &ch.producer_unless {
            let _ = writeln!(
                s,
                "- no producer is a `{}` fact{}",
                p.kind,
                where_(&p.conditions)
            );
        }
        if let Some(c) = &ch.consumer_unless {
            let _ = writeln!(
                s,
                "- no consumer is a `{}` fact{}",
                c.kind,
                where_(&c.conditions)
            );
        }
        for e in &ch.requires {
            let _ = writeln!(s, "- and the project has {}", exists(e, "channel"));
        }
        for e in &ch.unless {
            let _ = writeln!(s, "- unless the project has {}", exists(e, "channel"));
        }
        let at = match ch.at {
            At::Auto => "its first producer (or first consumer if it has none)",
            At::Producer => "its first producer",
            At::Consumer => "its first consumer",
        };
        let _ = write!(s, "\nReported once per channel, at {at}.\n");
    } else if let Some(q) = &rule.query {
        let _ = writeln!(
            s,
            "Syntax matching this tree-sitter query (reported at `@match`):\n"
        );
        let _ = writeln!(s, "```scheme\n{}\n```", q.source.trim());
        if !q.needles.is_empty() {
            let _ = writeln!(
                s,
                "\nOnly files containing {} are parsed for it.",
                q.needles
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
    } else if let Some(n) = &rule.native {
        let _ = writeln!(s, "A check built into msgscan (`{n}`).");
    } else {
        for (i, m) in rule.matches.iter().enumerate() {
            let lead = if i == 0 { "" } else { "or " };
            let _ = writeln!(s, "- {lead}`{}` facts{}", m.kind, where_(&m.conditions));
            for e in &m.requires {
                let _ = writeln!(s, "  - when the project has {}", exists(e, "fact"));
            }
            for e in &m.unless {
                let _ = writeln!(s, "  - unless the project has {}", exists(e, "fact"));
            }
        }
    }
    s
}

fn where_(cs: &[Condition]) -> String {
    if cs.is_empty() {
        String::new()
    } else {
        format!(" where {}", conditions(cs))
    }
}

/// The page of one rule.
pub fn page(rule: &Rule) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# `{}`\n", rule.id);
    let _ = writeln!(s, "**{}**\n", rule.title);
    let _ = writeln!(
        s,
        "| category | severity | languages | defined in |\n|---|---|---|---|\n| {} | {} | {} | `{}` |\n",
        rule.category,
        rule.severity,
        rule.languages.join(", "),
        rule.source
    );
    let _ = writeln!(s, "## What it does\n");
    let _ = writeln!(s, "{}", selection(rule));
    let _ = writeln!(s, "Message: {}\n", rule.message);
    let _ = writeln!(s, "## Why it matters\n\n{}\n", rule.why.trim());
    let lang = fence_language(rule);
    let _ = writeln!(s, "## Example\n");
    let _ = writeln!(
        s,
        "Flagged:\n\n```{lang}\n{}\n```\n",
        rule.example_bad.trim_end()
    );
    let _ = writeln!(
        s,
        "Instead:\n\n```{lang}\n{}\n```\n",
        rule.example_good.trim_end()
    );
    let _ = writeln!(s, "## Fix\n\n{}\n", rule.fix.trim());
    let _ = writeln!(
        s,
        "To accept a finding, add `msgscan: ignore[{}]` in a comment on its line or the line above.\n",
        rule.id
    );
    let _ = writeln!(s, "## References\n");
    for r in &rule.references {
        let _ = writeln!(s, "- <{r}>");
    }
    s
}

/// The index of every rule.
pub fn index(book: &Rulebook) -> String {
    let mut s = String::from(
        "# Rules\n\nGenerated from `rules/*.toml` by `cargo run -p msgscan-rulebook --example generate-docs`; do not edit.\n\n| id | title | category | severity | selects |\n|---|---|---|---|---|\n",
    );
    for r in book.rules() {
        let _ = writeln!(
            s,
            "| [`{}`]({}.md) | {} | {} | {} | {} |",
            r.id,
            r.id,
            r.title.replace('|', "\\|"),
            r.category,
            r.severity,
            r.scope()
        );
    }
    s
}
