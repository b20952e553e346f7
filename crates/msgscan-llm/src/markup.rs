//! The light text format exchanged with the model: paragraphs separated by blank lines,
//! bullet lines starting with `- `, `code` for names and `**bold**`. Parsing never produces
//! raw Markdown or HTML: the result is a structured [`Section`] whose text every renderer
//! escapes.

use msgscan_report::narrative::{Block, Inline, Section};

/// A section as markup (the draft the model is given).
pub fn to_markup(section: &Section) -> String {
    let mut out = String::new();
    for block in &section.blocks {
        if !out.is_empty() {
            out.push('\n');
        }
        match block {
            Block::Paragraph(run) => {
                out.push_str(&inline(run));
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    out.push_str(&inline(item));
                    out.push('\n');
                }
            }
        }
    }
    out
}

fn inline(run: &[Inline]) -> String {
    run.iter()
        .map(|i| match i {
            Inline::Text(s) => s.clone(),
            Inline::Code(s) => format!("`{s}`"),
            Inline::Strong(s) => format!("**{s}**"),
        })
        .collect()
}

/// Parses the model's text. Headings and horizontal rules are dropped (the report has its
/// own); numbered items become bullets.
pub fn parse(text: &str) -> Section {
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let flush_para = |para: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if !para.is_empty() {
            blocks.push(Block::Paragraph(parse_inline(&para.join(" "))));
            para.clear();
        }
    };
    let flush_items = |items: &mut Vec<String>, blocks: &mut Vec<Block>| {
        if !items.is_empty() {
            blocks.push(Block::List(
                std::mem::take(items)
                    .iter()
                    .map(|i| parse_inline(i))
                    .collect(),
            ));
        }
    };
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            flush_para(&mut para, &mut blocks);
            flush_items(&mut items, &mut blocks);
            continue;
        }
        if line.starts_with('#') || line.chars().all(|c| matches!(c, '-' | '*' | '_' | '=')) {
            flush_para(&mut para, &mut blocks);
            flush_items(&mut items, &mut blocks);
            continue;
        }
        if let Some(rest) = bullet(line) {
            flush_para(&mut para, &mut blocks);
            items.push(rest.to_string());
            continue;
        }
        if !items.is_empty() && raw.starts_with([' ', '\t']) {
            // Continuation of the last bullet.
            if let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(line);
            }
            continue;
        }
        flush_items(&mut items, &mut blocks);
        para.push(line);
    }
    flush_para(&mut para, &mut blocks);
    flush_items(&mut items, &mut blocks);
    Section { blocks }
}

fn bullet(line: &str) -> Option<&str> {
    for p in ["- ", "* ", "• ", "+ "] {
        if let Some(rest) = line.strip_prefix(p) {
            return Some(rest.trim_start());
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits <= 2 {
        let rest = &line[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r.trim_start());
        }
    }
    None
}

/// `code`, **strong**; everything else is text.
pub fn parse_inline(s: &str) -> Vec<Inline> {
    let mut out: Vec<Inline> = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find('`')
        {
            push_text(&mut out, &mut text);
            out.push(Inline::Code(after[..end].to_string()));
            rest = &after[end + 1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("**")
            && let Some(end) = after.find("**")
            && end > 0
        {
            push_text(&mut out, &mut text);
            out.push(Inline::Strong(after[..end].to_string()));
            rest = &after[end + 2..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            text.push(c);
        }
        rest = chars.as_str();
    }
    push_text(&mut out, &mut text);
    out
}

fn push_text(out: &mut Vec<Inline>, text: &mut String) {
    if !text.is_empty() {
        out.push(Inline::Text(std::mem::take(text)));
    }
}

/// The spans of a section that are names (code), with the text around them.
pub fn code_spans(section: &Section) -> Vec<&str> {
    let mut out = Vec::new();
    for b in &section.blocks {
        let runs: Vec<&Vec<Inline>> = match b {
            Block::Paragraph(r) => vec![r],
            Block::List(items) => items.iter().collect(),
        };
        for r in runs {
            for i in r {
                if let Inline::Code(c) = i {
                    out.push(c.as_str());
                }
            }
        }
    }
    out
}

/// The prose of a section (text and strong, code spans replaced by a space).
pub fn prose(section: &Section) -> String {
    let mut out = String::new();
    for b in &section.blocks {
        let runs: Vec<&Vec<Inline>> = match b {
            Block::Paragraph(r) => vec![r],
            Block::List(items) => items.iter().collect(),
        };
        for r in runs {
            for i in r {
                match i {
                    Inline::Text(s) | Inline::Strong(s) => out.push_str(s),
                    Inline::Code(_) => out.push(' '),
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_structure() {
        let text = "## Summary\n\nThe project has **3 findings** in `app/tasks.py`.\nSecond line.\n\n- first `a-b`\n- second\n  continued\n1. third\n";
        let s = parse(text);
        assert_eq!(s.blocks.len(), 2);
        match &s.blocks[0] {
            Block::Paragraph(r) => {
                assert!(r.contains(&Inline::Strong("3 findings".into())));
                assert!(r.contains(&Inline::Code("app/tasks.py".into())));
                assert!(r.contains(&Inline::Text(" in ".into())));
            }
            other => panic!("{other:?}"),
        }
        match &s.blocks[1] {
            Block::List(items) => {
                assert_eq!(items.len(), 3);
                assert_eq!(items[0][1], Inline::Code("a-b".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(code_spans(&s), vec!["app/tasks.py", "a-b"]);
        let again = parse(&to_markup(&s));
        assert_eq!(again, s);
    }

    #[test]
    fn html_stays_text() {
        let s = parse("<script>alert(1)</script> and `x`");
        match &s.blocks[0] {
            Block::Paragraph(r) => {
                assert_eq!(r[0], Inline::Text("<script>alert(1)</script> and ".into()))
            }
            other => panic!("{other:?}"),
        }
    }
}
