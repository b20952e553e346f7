//! Embedding msgscan: scan a path and print the report.
//!
//! ```text
//! cargo run --example scan                          # the bundled fixtures/
//! cargo run --example scan -- PATH                  # your project
//! cargo run --example scan -- PATH --format json    # the JSON report
//! ```
//! Exit code: 0 no error-level finding, 1 error-level findings, 2 bad usage or no scan.
#![allow(clippy::print_stderr, clippy::exit)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::exit;

use msgscan::{ScanOptions, Scanner, Severity, render};

const USAGE: &str = "usage: scan [PATH] [--format human|json]";

fn main() {
    let mut path = None;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--format" => match args.next().as_deref() {
                Some("json") => json = true,
                Some("human") => json = false,
                other => usage(&format!("unknown format {other:?}")),
            },
            "-h" | "--help" => usage(""),
            flag if flag.starts_with('-') => usage(&format!("unknown flag {flag}")),
            _ if path.is_some() => usage("one path at a time"),
            p => path = Some(PathBuf::from(p)),
        }
    }
    // No path: the fixtures bundled with msgscan.
    let path = path
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures")));

    let report = match Scanner::new(ScanOptions::default()).and_then(|s| s.scan(&[path])) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            exit(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        render::json(&report, &mut out)
    } else {
        let color = out.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        render::human(
            &report,
            render::HumanOptions {
                color,
                ..Default::default()
            },
            &mut out,
        )
    };
    if written.and_then(|()| out.flush()).is_err() {
        exit(2);
    }
    exit(i32::from(report.has_findings_at_least(Severity::Error)));
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("{USAGE}");
    exit(2);
}
