//! Human output: findings grouped by file, each with its source snippet, the span
//! underlined, a help line and the rule's docs link (rendered by miette), then a summary.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
};
use msgscan_lang::LineIndex;
use msgscan_rulebook::{Finding, Severity};

use crate::Report;

/// How to render human output.
#[derive(Debug, Clone, Copy)]
pub struct HumanOptions {
    /// ANSI colours (only on a terminal; the CLI decides, honouring `NO_COLOR`).
    pub color: bool,
    /// Wrap width.
    pub width: usize,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            width: 100,
        }
    }
}

/// Replaces control characters (terminal escape sequences included) by `?`, keeping byte
/// offsets, so text from scanned files cannot drive the reader's terminal.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

struct Rendered<'a> {
    finding: &'a Finding,
    message: String,
    help: String,
    source: Option<NamedSource<String>>,
    span: Option<(usize, usize)>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("rule", &self.finding.rule)
            .finish()
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl Diagnostic for Rendered<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.finding.rule))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.finding.docs_url))
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (start, len) = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(self.finding.title.clone()),
            start,
            len,
        ))))
    }
}

/// Byte offset of a 1-based (line, column-in-characters) position.
fn offset(text: &str, index: &LineIndex, line: u32, column: u32) -> usize {
    let Some(range) = index.line_range(text, line) else {
        return text.len();
    };
    let line_text = &text[range.clone()];
    let skip = column.saturating_sub(1) as usize;
    range.start
        + line_text
            .char_indices()
            .nth(skip)
            .map_or(line_text.len(), |(i, _)| i)
}

/// Writes findings grouped by file, file errors, and the summary.
pub fn human(report: &Report, options: HumanOptions, out: &mut dyn Write) -> io::Result<()> {
    let theme = match (options.color, true) {
        (true, _) => GraphicalTheme::unicode(),
        (false, _) => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
        .with_context_lines(1);

    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_file.entry(f.path.as_str()).or_default().push(f);
    }
    for (path, findings) in &by_file {
        file_header(path, findings, options.color, out)?;
        let source = report.sources.get(*path).map(|s| sanitize(s));
        let index = source.as_deref().map(LineIndex::new);
        for f in findings {
            let span = match (&source, &index) {
                (Some(text), Some(idx)) => {
                    let start = offset(text, idx, f.line, f.column);
                    let end = if f.end_line == f.line {
                        offset(text, idx, f.end_line, f.end_column)
                    } else {
                        // Underline to the end of the first line: multi-line spans are noisy.
                        idx.line_range(text, f.line).map_or(start, |r| r.end)
                    };
                    Some((start, end.saturating_sub(start).max(1)))
                }
                _ => None,
            };
            let diag = Rendered {
                finding: f,
                message: sanitize(&f.message),
                help: sanitize(&f.help),
                source: source
                    .as_ref()
                    .map(|s| NamedSource::new(sanitize(path), s.clone())),
                span,
            };
            let mut buf = String::new();
            handler
                .render_report(&mut buf, &diag)
                .map_err(|e| io::Error::other(e.to_string()))?;
            if source.is_none() {
                writeln!(out, "  --> {}:{}:{}", sanitize(path), f.line, f.column)?;
            }
            out.write_all(buf.as_bytes())?;
            writeln!(out)?;
        }
    }
    for e in &report.errors {
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!(":{l}:{c}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "  ! {}{at}: {} ({}); other files were still scanned",
            sanitize(&e.path),
            sanitize(&e.message),
            e.kind
        )?;
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
    }
    summary(report, out)
}

/// `── path ── 2 findings (1 error, 1 warning)`: where a file's findings start.
fn file_header(
    path: &str,
    findings: &[&Finding],
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity).or_insert(0) += 1;
    }
    let parts: Vec<String> = Severity::ALL
        .iter()
        .filter_map(|s| counts.get(s).map(|n| format!("{n} {s}")))
        .collect();
    let n = findings.len();
    let (bold, reset) = if color {
        ("\u{1b}[1m", "\u{1b}[0m")
    } else {
        ("", "")
    };
    writeln!(
        out,
        "── {bold}{}{reset} ── {n} finding{} ({})\n",
        sanitize(path),
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

fn summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let files = &report.files;
    let langs: Vec<String> = files
        .by_language
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    write!(out, "Scanned {} files", files.scanned)?;
    if !langs.is_empty() {
        write!(out, " ({})", langs.join(", "))?;
    }
    if files.skipped > 0 {
        let reasons: Vec<String> = files
            .skipped_by_reason
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        write!(out, "; skipped {} ({})", files.skipped, reasons.join(", "))?;
    }
    if !report.errors.is_empty() {
        write!(out, "; {} could not be analysed fully", report.errors.len())?;
    }
    writeln!(out)?;
    let mut by_transport: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.facts {
        *by_transport.entry(f.transport.as_str()).or_insert(0) += 1;
    }
    let facts: Vec<String> = by_transport
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    writeln!(
        out,
        "Facts: {}{}",
        report.facts.len(),
        if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        }
    )?;
    let counts = msgscan_rulebook::count_by_severity(&report.findings);
    let parts: Vec<String> = Severity::ALL
        .iter()
        .map(|s| format!("{} {}", counts.get(s).copied().unwrap_or(0), s))
        .collect();
    write!(
        out,
        "Findings: {} ({})",
        report.findings.len(),
        parts.join(", ")
    )?;
    if report.suppressed > 0 {
        write!(
            out,
            "; {} suppressed (inline or by a baseline)",
            report.suppressed
        )?;
    }
    writeln!(out)?;
    let cats: Vec<String> = report
        .scores
        .categories
        .iter()
        .map(|(c, s)| format!("{c} {}", s.score))
        .collect();
    writeln!(
        out,
        "Scores: overall {} · {}",
        report.scores.overall,
        cats.join(" · ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_escapes_keeping_offsets() {
        let s = "a\u{1b}[31mred\u{7}";
        let clean = sanitize(s);
        assert_eq!(clean.len(), s.len());
        assert!(!clean.contains('\u{1b}'));
        assert_eq!(clean, "a?[31mred?");
    }
}
