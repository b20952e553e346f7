//! The `msgscan` command line.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use msgscan::{ScanOptions, Scanner, Severity, render};

#[derive(Parser)]
#[command(
    name = "msgscan",
    version,
    about = "Find and judge the messaging patterns of a codebase"
)]
#[command(
    after_help = "Examples:\n  msgscan scan .\n  msgscan scan services/ --format json > report.json\n  msgscan rules\n  msgscan rules celery-pickle-serializer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files and directories (default: the current directory).
    Scan {
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Exit 1 when a finding is at or above this severity.
        #[arg(long, value_enum, default_value_t = FailOn::Error)]
        fail_on: FailOn,
        /// Also scan vendored trees (node_modules, .venv, dist, ...) and minified bundles.
        #[arg(long)]
        include_vendored: bool,
    },
    /// List the rules, or explain one.
    Rules { id: Option<String> },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan {
            paths,
            format,
            threads,
            fail_on,
            include_vendored,
        } => {
            let paths = if paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                paths
            };
            let options = ScanOptions {
                threads,
                include_vendored,
                ..ScanOptions::default()
            };
            let report = match Scanner::new(options).and_then(|s| s.scan(&paths)) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{:?}", miette::Report::new(e));
                    return ExitCode::from(2);
                }
            };
            let mut out = std::io::stdout().lock();
            let written = match format {
                Format::Json => render::json(&report, &mut out),
                Format::Human => {
                    let color = out.is_terminal() && std::env::var_os("NO_COLOR").is_none();
                    render::human(
                        &report,
                        render::HumanOptions {
                            color,
                            ..Default::default()
                        },
                        &mut out,
                    )
                }
            };
            if written.and_then(|()| out.flush()).is_err() {
                return ExitCode::from(2);
            }
            let threshold = match fail_on {
                FailOn::Error => Some(Severity::Error),
                FailOn::Warning => Some(Severity::Warning),
                FailOn::Info => Some(Severity::Info),
                FailOn::Never => None,
            };
            ExitCode::from(u8::from(
                threshold.is_some_and(|t| report.has_findings_at_least(t)),
            ))
        }
        Command::Rules { id } => {
            let book = match msgscan::Rulebook::builtin() {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{:?}", miette::Report::new_boxed(e));
                    return ExitCode::from(2);
                }
            };
            match id {
                None => {
                    for r in book.rules() {
                        println!("{:<48} {:<20} {}", r.id, r.category, r.severity);
                    }
                    ExitCode::SUCCESS
                }
                Some(id) => match book.rule(&id) {
                    Some(r) => {
                        println!(
                            "{} ({}, {})\n\n{}\n\n{}\n\nFix: {}\n\nExample:\n{}\nInstead:\n{}\nReferences:",
                            r.id,
                            r.category,
                            r.severity,
                            r.title,
                            r.why,
                            r.fix,
                            r.example_bad,
                            r.example_good
                        );
                        for reference in &r.references {
                            println!("  {reference}");
                        }
                        ExitCode::SUCCESS
                    }
                    None => {
                        eprintln!("error: unknown rule `{id}`; `msgscan rules` lists them");
                        ExitCode::from(2)
                    }
                },
            }
        }
    }
}
