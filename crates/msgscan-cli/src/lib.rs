//! The `msgscan` command line: argument parsing, settings, output and exit codes around the
//! `msgscan` library. Only this crate prints or exits.
//!
//! It is a library as well as a binary so that the repository's root package can build the
//! pre-commit hook's `msgscan-hook` binary from the same code (pre-commit runs
//! `cargo install --path .` at the repository root, which needs a package there).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use msgscan::{Baseline, Report, Rulebook, ScanOptions, Scanner};

pub mod args;
mod init;
pub mod output;
mod progress;
pub mod settings;

use args::{Cli, Command, FailOn, Format, HookArgs, ScanArgs};
use settings::Settings;

/// Exit code for usage, configuration and rulebook errors.
const USAGE_ERROR: u8 = 2;

/// `msgscan ...`
pub fn main() -> ExitCode {
    run(Cli::parse())
}

/// `msgscan-hook FILES...`: the same as `msgscan hook FILES...`.
pub fn hook_main() -> ExitCode {
    let mut argv = std::env::args_os();
    let _program = argv.next();
    let args = ["msgscan".into(), "hook".into()].into_iter().chain(argv);
    run(Cli::parse_from(args))
}

fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Scan(args) => scan(args),
        Command::Hook(args) => hook(args),
        Command::Rules { id } => rules(id.as_deref()),
        Command::Init { dir, force } => init(dir, force),
    };
    result.unwrap_or_else(|code| code)
}

/// Prints a diagnostic for an error the user can act on and gives the usage exit code.
fn usage_error(e: impl miette::Diagnostic + Send + Sync + 'static) -> ExitCode {
    eprintln!("{:?}", miette::Report::new(e));
    ExitCode::from(USAGE_ERROR)
}

/// The scanner for a scan rooted at `root`: the project configuration (`--config`, or the
/// file found upward from `root`), then the command line on top of it.
fn scanner(settings: &mut Settings, root: &Path) -> Result<Scanner, ExitCode> {
    let project = match &settings.config {
        Some(path) => msgscan::Settings::load(path),
        None => msgscan_config::load_for(root),
    }
    .map_err(usage_error)?;
    if !settings.fail_on_flag {
        settings.fail_on = match project.fail_on {
            msgscan_config::FailOn::Error => FailOn::Error,
            msgscan_config::FailOn::Warning => FailOn::Warning,
            msgscan_config::FailOn::Info => FailOn::Info,
            msgscan_config::FailOn::Never => FailOn::Never,
        };
    }
    let mut book = project.rulebook().map_err(usage_error)?;
    msgscan::select_rules(&mut book, &settings.select, &settings.ignore).map_err(usage_error)?;
    let options = ScanOptions {
        threads: settings.threads,
        include_vendored: settings.include_vendored,
        // Relative: at the scan root.
        cache_dir: settings
            .cache
            .then(|| PathBuf::from(msgscan::CACHE_DIR_NAME)),
        settings: project,
        ..ScanOptions::default()
    };
    Ok(Scanner::with_rulebook(options, book))
}

fn load_baseline(settings: &Settings) -> Result<Option<Baseline>, ExitCode> {
    settings
        .baseline
        .as_deref()
        .map(Baseline::load)
        .transpose()
        .map_err(usage_error)
}

fn scan(args: ScanArgs) -> Result<ExitCode, ExitCode> {
    let mut settings = Settings::resolve(&args.common);
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let root = paths
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .or_else(|| {
            paths
                .first()
                .and_then(|p| p.parent())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let scanner = scanner(&mut settings, &root)?;
    let baseline = load_baseline(&settings)?;
    let mut report = with_progress(&settings, |p| scanner.scan_with_progress(&paths, p))?;
    if let Some(path) = &args.write_baseline {
        let written = Baseline::from_findings(&report.findings);
        written.save(path).map_err(usage_error)?;
        let applied = written.apply(&mut report);
        eprintln!(
            "msgscan: wrote {} finding(s) to the baseline {}; scan with `--baseline {}` to report only new findings",
            applied.hidden,
            path.display(),
            path.display()
        );
    }
    finish(&settings, &scanner, baseline.as_ref(), report, args.llm)
}

fn hook(args: HookArgs) -> Result<ExitCode, ExitCode> {
    let mut settings = Settings::resolve(&args.common);
    let cwd = std::env::current_dir().map_err(|e| {
        eprintln!("error: cannot read the current directory: {e}");
        ExitCode::from(USAGE_ERROR)
    })?;
    let project = match &args.project {
        Some(p) => cwd.join(p),
        None => git_root(&cwd).unwrap_or_else(|| cwd.clone()),
    };
    // Absolute paths on both sides, so the files' paths relative to the project agree
    // with the walk's whatever the current directory.
    let project = project
        .canonicalize()
        .map_err(|_| usage_error(msgscan::ScanError::PathNotFound(project.clone())))?;
    let scanner = scanner(&mut settings, &project)?;
    let baseline = load_baseline(&settings)?;
    let mut files = Vec::with_capacity(args.files.len());
    for f in &args.files {
        let abs = cwd.join(f);
        let abs = abs
            .canonicalize()
            .map_err(|_| usage_error(msgscan::ScanError::PathNotFound(f.clone())))?;
        if !abs.starts_with(&project) {
            eprintln!(
                "error: {} is outside the project {}\n  help: run the hook from the repository, or pass `--project DIR`",
                f.display(),
                project.display()
            );
            return Err(ExitCode::from(USAGE_ERROR));
        }
        files.push(abs);
    }
    let report = with_progress(&settings, |p| scanner.scan_changed(&project, &files, p))?;
    let scanned = report.files.scanned;
    let code = finish(&settings, &scanner, baseline.as_ref(), report, false);
    if settings.format == args::Format::Human {
        eprintln!(
            "msgscan: judged {} given file(s) in the context of the {} files of {}",
            files.len(),
            scanned,
            project.display()
        );
    }
    code
}

/// The nearest enclosing directory with a `.git` (directory, or file for worktrees).
fn git_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

fn with_progress(
    settings: &Settings,
    scan: impl FnOnce(&dyn msgscan::Progress) -> Result<Report, msgscan::ScanError>,
) -> Result<Report, ExitCode> {
    let result = if output::progress_allowed(settings.format) {
        let bar = progress::Bar::new();
        let r = scan(&bar);
        bar.finish();
        r
    } else {
        scan(&msgscan::NoProgress)
    };
    result.map_err(usage_error)
}

/// Applies the baseline, writes the report and decides the exit code.
/// The document options of the markdown/html report: the project's `[report]` context and,
/// with `--llm`, the narrative the model rewrote (checked against the report; the template
/// text stays for any section that fails).
fn document(
    settings: &Settings,
    scanner: &Scanner,
    report: &Report,
    llm: bool,
) -> Result<msgscan::render::DocumentOptions, ExitCode> {
    let project = &scanner.options().settings;
    let context = msgscan::render::ReportContext {
        stage: project.report.stage.clone(),
        expected_volume: project.report.expected_volume.clone(),
        constraints: project.report.constraints.clone(),
    };
    if !llm {
        return Ok(msgscan::render::DocumentOptions {
            context,
            narrative: None,
        });
    }
    if !matches!(settings.format, Format::Markdown | Format::Html) {
        eprintln!(
            "msgscan: --llm only changes the markdown and html reports; ignored for this format"
        );
        return Ok(msgscan::render::DocumentOptions {
            context,
            narrative: None,
        });
    }
    let config = msgscan_llm::LlmConfig {
        // Ollama, vLLM and llama.cpp speak the OpenAI chat-completions protocol.
        provider: project.llm.provider.as_deref().map(|p| match p {
            "anthropic" => "anthropic".to_string(),
            _ => "openai".to_string(),
        }),
        base_url: project.llm.base_url.clone(),
        model: project.llm.model.clone(),
        send_source: Some(project.llm.send_source),
        ..msgscan_llm::LlmConfig::default()
    };
    let llm_settings = msgscan_llm::Settings::from_env(&config).map_err(|e| {
        eprintln!("error: --llm: {e}\n  help: set `[llm]` in msgscan.toml or MSGSCAN_LLM_PROVIDER / MSGSCAN_LLM_MODEL; keys only from the environment");
        ExitCode::from(USAGE_ERROR)
    })?;
    let narrative = msgscan_llm::rewrite(report, &context, &llm_settings);
    Ok(msgscan::render::DocumentOptions {
        context,
        narrative: Some(narrative),
    })
}

fn finish(
    settings: &Settings,
    scanner: &Scanner,
    baseline: Option<&Baseline>,
    mut report: Report,
    llm: bool,
) -> Result<ExitCode, ExitCode> {
    let rules = scanner.rulebook().rules();
    if let (Some(b), Some(path)) = (baseline, &settings.baseline) {
        let applied = b.apply(&mut report);
        if applied.stale > 0 {
            eprintln!(
                "msgscan: {} entr{} of the baseline {} matched no finding (fixed, or the message changed); `--write-baseline` refreshes it",
                applied.stale,
                if applied.stale == 1 { "y" } else { "ies" },
                path.display()
            );
        }
    }
    let doc = document(settings, scanner, &report, llm)?;
    let written = match &settings.output {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                eprintln!(
                    "error: cannot write the report to {}: {e}\n  help: check that the directory exists and is writable",
                    path.display()
                );
                ExitCode::from(USAGE_ERROR)
            })?;
            let mut out = std::io::BufWriter::new(file);
            let color = output::use_color(false);
            output::render(&report, rules, &doc, settings.format, color, &mut out)
                .and_then(|()| out.flush())
        }
        None => {
            let stdout = std::io::stdout();
            let color = output::use_color(stdout.is_terminal());
            let mut out = stdout.lock();
            output::render(&report, rules, &doc, settings.format, color, &mut out)
                .and_then(|()| out.flush())
        }
    };
    if let Err(e) = written {
        // A closed pipe (`msgscan scan | head`) is not worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write the report: {e}");
        }
        return Err(ExitCode::from(USAGE_ERROR));
    }
    let failed = settings
        .fail_on
        .threshold()
        .is_some_and(|t| report.has_findings_at_least(t));
    Ok(ExitCode::from(u8::from(failed)))
}

fn init(dir: Option<PathBuf>, force: bool) -> Result<ExitCode, ExitCode> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        return Err(usage_error(msgscan::ScanError::PathNotFound(dir)));
    }
    let target = dir.join("msgscan.toml");
    if target.exists() && !force {
        eprintln!(
            "error: {} already exists\n  help: edit it, or run `msgscan init --force` to replace it",
            target.display()
        );
        return Err(ExitCode::from(USAGE_ERROR));
    }
    let scanner = Scanner::new(ScanOptions::default()).map_err(usage_error)?;
    let report = scanner.scan(&[&dir]).map_err(usage_error)?;
    let text = init::template(&dir, &report);
    std::fs::write(&target, text).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", target.display());
        ExitCode::from(USAGE_ERROR)
    })?;
    eprintln!(
        "msgscan: wrote {} ({} findings today); `msgscan scan` reads it from now on",
        target.display(),
        report.findings.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn rules(id: Option<&str>) -> Result<ExitCode, ExitCode> {
    let book = Rulebook::builtin().map_err(|e| {
        eprintln!("{:?}", miette::Report::new_boxed(e));
        ExitCode::from(USAGE_ERROR)
    })?;
    // Written through a locked stdout: `msgscan rules | head` must not panic on a closed
    // pipe.
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let list = |rules: &mut dyn Iterator<Item = &msgscan::Rule>, out: &mut dyn Write| {
        for r in rules {
            writeln!(
                out,
                "{:<40} {:<8} {:<20} {}",
                r.id, r.severity, r.category, r.title
            )?;
        }
        Ok::<(), std::io::Error>(())
    };
    let Some(id) = id else {
        let _ = list(&mut book.rules().iter(), &mut out);
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(r) = book.rule(id) {
        let mut text = format!("{} ({}, {})\n\n", r.id, r.severity, r.category);
        text.push_str(&format!("{}\n\n{}\n\nFix: {}\n\n", r.title, r.why, r.fix));
        text.push_str(&format!(
            "Example:\n{}\nInstead:\n{}\n",
            r.example_bad, r.example_good
        ));
        text.push_str(&format!("Languages: {}\n", r.languages.join(", ")));
        text.push_str(&format!("Docs: {}\nReferences:\n", r.docs_url()));
        for reference in &r.references {
            text.push_str(&format!("  {reference}\n"));
        }
        let _ = out.write_all(text.as_bytes());
        return Ok(ExitCode::SUCCESS);
    }
    let family: Vec<&msgscan::Rule> = book
        .rules()
        .iter()
        .filter(|r| msgscan::selector_matches(id, &r.id))
        .collect();
    if !family.is_empty() {
        let _ = list(&mut family.into_iter(), &mut out);
        return Ok(ExitCode::SUCCESS);
    }
    let near = msgscan::nearest(id, book.rules().iter().map(|r| r.id.as_str()));
    match near {
        Some(n) => eprintln!(
            "error: unknown rule `{id}`\n  help: did you mean `{n}`? `msgscan rules` lists them"
        ),
        None => eprintln!("error: unknown rule `{id}`\n  help: `msgscan rules` lists them"),
    }
    Err(ExitCode::from(USAGE_ERROR))
}
