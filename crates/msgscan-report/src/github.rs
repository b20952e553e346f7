//! GitHub Actions workflow-command annotations (`--format github`): one line per finding,
//! `::error file=...,line=...,col=...,endLine=...,endColumn=...,title=...::message`, and a
//! `::warning` per file that could not be analysed. Property values escape `%`, `\r`,
//! `\n`, `:` and `,`; the message escapes `%`, `\r` and `\n`, so text from the scanned
//! code cannot end a command or start another.

use std::io::{self, Write};

use msgscan_rulebook::Severity;

use crate::Report;
use crate::escape::{gh_data, gh_property};

/// Writes one annotation per finding and per file error.
pub fn github(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = format!(
            "file={},line={},col={},endLine={}",
            gh_property(&f.path),
            f.line,
            f.column,
            f.end_line.max(f.line)
        );
        // GitHub uses columns only within one line.
        if f.end_line <= f.line {
            props.push_str(&format!(",endColumn={}", f.end_column.max(f.column)));
        }
        props.push_str(&format!(
            ",title={}",
            gh_property(&format!("{} ({})", f.title, f.rule))
        ));
        writeln!(
            out,
            "::{command} {props}::{}",
            gh_data(&format!("{}\n{}\n{}", f.message, f.help, f.docs_url))
        )?;
    }
    for e in &report.errors {
        let mut props = format!("file={}", gh_property(&e.path));
        if let Some(l) = e.line {
            props.push_str(&format!(",line={l}"));
        }
        props.push_str(&format!(
            ",title={}",
            gh_property(&format!("msgscan could not analyse this file ({})", e.kind))
        ));
        writeln!(out, "::warning {props}::{}", gh_data(&e.message))?;
    }
    Ok(())
}
