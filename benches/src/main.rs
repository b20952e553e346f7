//! `msgscan-bench`: the driver `benches/compare.sh` runs.
//!
//! ```text
//! msgscan-bench scan [--threads N] [--select ID,ID..] [--counts] [--include-vendored] PATH
//!     a full scan through the facade, rendered to JSON in memory (as `msgscan scan
//!     --format json` minus the write), optionally with a subset of the rules (the CLI
//!     has no --select yet); --counts prints per-pattern match counts
//! msgscan-bench stages [--repeat N] [--include-vendored] PATH
//!     each stage on its own, on one thread, N rounds (the compared measurements in
//!     rotating order); prints the medians and the ratios to parsing alone of a bare
//!     traversal after each parse and of the per-file work (prefilter + parse + detect)
//! msgscan-bench prefilter-check [--include-vendored] PATH
//!     parses every file and runs each detector alone with the prefilter off: fails if a
//!     detector finds something in a file without syntax errors that its prefilter rules
//!     out (unsound; in a file with errors it is listed, not counted), and prints,
//!     per detector, the files and bytes it admits and those where it finds something
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use msgscan::{Fact, Report, Scanner};
use msgscan_bench as stages;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        return usage("missing command");
    };
    let mut threads = 1;
    let mut repeat = 5;
    let mut select = Vec::new();
    let mut counts = false;
    let mut include_vendored = false;
    let mut path = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) => threads = n,
                None => return usage("--threads needs a number"),
            },
            "--repeat" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => repeat = n,
                _ => return usage("--repeat needs a positive number"),
            },
            "--select" => match args.next() {
                Some(v) => select = v.split(',').map(str::to_string).collect(),
                None => return usage("--select needs rule ids"),
            },
            "--counts" => counts = true,
            "--include-vendored" => include_vendored = true,
            _ if a.starts_with("--") => return usage(&format!("unknown flag {a}")),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let Some(path) = path else {
        return usage("missing PATH");
    };
    match cmd.as_str() {
        "scan" => scan(&path, threads, &select, counts, include_vendored),
        "stages" => run_stages(&path, repeat, include_vendored),
        "prefilter-check" => prefilter_check(&path, include_vendored),
        _ => usage(&format!("unknown command {cmd}")),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "error: {problem}\nusage: msgscan-bench scan [--threads N] [--select ID,..] [--counts] [--include-vendored] PATH\n       msgscan-bench stages [--repeat N] [--include-vendored] PATH\n       msgscan-bench prefilter-check [--include-vendored] PATH"
    );
    ExitCode::from(2)
}

fn scan(
    path: &Path,
    threads: usize,
    select: &[String],
    counts: bool,
    include_vendored: bool,
) -> ExitCode {
    let book = match stages::rulebook_subset(select) {
        Ok(b) => b,
        Err(e) => return usage(&e),
    };
    let options = msgscan::ScanOptions {
        include_vendored,
        ..stages::options(threads)
    };
    let scanner = Scanner::with_rulebook(options, book);
    let report = match scanner.scan(&[path]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Serialise as the CLI would, so the output stage is paid for too.
    let mut out = Vec::new();
    if msgscan::render::json(&report, &mut out).is_err() {
        return ExitCode::from(2);
    }
    println!(
        "files scanned {} parsed {} facts {} findings {} json {} bytes",
        report.files.scanned,
        report.files.parsed,
        report.facts.len(),
        report.findings.len(),
        out.len()
    );
    if counts {
        for (pattern, n) in pattern_counts(&report) {
            match n {
                Some(n) => println!("count {pattern} {n}"),
                None => println!("count {pattern} n/a"),
            }
        }
    }
    ExitCode::SUCCESS
}

/// The ten comparison patterns (benches/peers/), counted from msgscan's facts and
/// findings. `None`: no detector of this build emits the fact kind the pattern needs.
///
/// msgscan's facts are not syntactic matches: `.on(...)`/`.emit(...)` count only on values
/// known to be emitters, task decorators only on Celery apps, so counts differ from the
/// peers' by design.
fn pattern_counts(report: &Report) -> BTreeMap<&'static str, Option<usize>> {
    let known = |kind: &str| msgscan_detect::kind(kind).is_some();
    let facts = |kind: &str, keep: &dyn Fn(&Fact) -> bool| {
        known(kind).then(|| {
            report
                .facts
                .iter()
                .filter(|f| f.kind == kind && keep(f))
                .count()
        })
    };
    let attr = |f: &Fact, k: &str| f.attrs.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let is_python = |f: &Fact| f.language == msgscan::Language::Python;
    let mut m = BTreeMap::new();
    m.insert(
        "01-celery-task-decorator",
        facts("celery_task", &|f| {
            attr(f, "decorator").is_some_and(|d| d != "class" && d != "call")
        }),
    );
    m.insert(
        "02-celery-delay-apply-async",
        facts("celery_call", &|f| {
            attr(f, "method").is_some_and(|d| d == "delay" || d == "apply_async")
        }),
    );
    m.insert(
        "03-celery-pickle-serializer",
        Some(
            report
                .findings
                .iter()
                .filter(|f| f.rule.contains("pickle"))
                .count(),
        ),
    );
    m.insert("04-py-listen-execute", facts("pg_listen", &is_python));
    m.insert("05-new-eventemitter", facts("emitter_instance", &|_| true));
    m.insert("06-extends-eventemitter", facts("emitter_class", &|_| true));
    m.insert(
        "07-emitter-on",
        facts("emitter_listen", &|f| {
            attr(f, "method").as_deref() == Some("on")
        }),
    );
    m.insert("08-emitter-emit", facts("emitter_emit", &|_| true));
    m.insert("09-js-query-listen", facts("pg_listen", &|f| !is_python(f)));
    m.insert(
        "10-supabase-postgres-changes",
        facts("supabase_subscribe", &|f| {
            f.name.as_deref() == Some("postgres_changes")
                || attr(f, "event").as_deref() == Some("postgres_changes")
                || f.attrs
                    .values()
                    .any(|v| v.as_str() == Some("postgres_changes"))
        }),
    );
    m
}

fn run_stages(path: &Path, repeat: usize, include_vendored: bool) -> ExitCode {
    let root = match path.canonicalize() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let book = match stages::rulebook_subset(&[]) {
        Ok(b) => b,
        Err(e) => return usage(&e),
    };
    let options = msgscan::ScanOptions {
        include_vendored,
        ..stages::options(1)
    };
    let scanner = Scanner::with_rulebook(options, book.clone());
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let time =
        |times: &mut BTreeMap<&'static str, Vec<Duration>>, name: &'static str, t: Instant| {
            times.entry(name).or_default().push(t.elapsed());
        };
    let mut parser = stages::parser();
    let mut summary = String::new();
    for round in 0..repeat {
        let t = Instant::now();
        let files = match stages::walk(&root, include_vendored) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        time(&mut times, "1 walk", t);
        let t = Instant::now();
        let project = stages::read(&root, &files, include_vendored);
        time(&mut times, "2 read", t);
        let t = Instant::now();
        let which = stages::prefilter(&project);
        time(&mut times, "3 prefilter", t);
        let measure_floor = |parser: &mut msgscan_lang::FileParser| {
            let t = Instant::now();
            let nodes = stages::parse_only(parser, &project, &which);
            (t.elapsed(), nodes)
        };
        let measure_work = |parser: &mut msgscan_lang::FileParser| {
            let t = Instant::now();
            let facts = stages::analyze(parser, &project);
            (t.elapsed(), facts)
        };
        let measure_walk = |parser: &mut msgscan_lang::FileParser| {
            let t = Instant::now();
            std::hint::black_box(stages::parse_traverse(parser, &project, &which));
            t.elapsed()
        };
        // Rotate the order of the three compared measurements between rounds.
        let (mut floor, mut walked, mut work) = Default::default();
        for k in 0..3 {
            match (round + k) % 3 {
                0 => floor = measure_floor(&mut parser),
                1 => walked = measure_walk(&mut parser),
                _ => work = measure_work(&mut parser),
            }
        }
        let ((floor, nodes), (work, _)) = (floor, work);
        times
            .entry("4 parse only (parsed files)")
            .or_default()
            .push(floor);
        times
            .entry("4 parse + bare traversal (parsed files)")
            .or_default()
            .push(walked);
        times
            .entry("5 prefilter+parse+detect (all files)")
            .or_default()
            .push(work);
        let t = Instant::now();
        let parsed = stages::parse(&mut parser, &project, &which);
        time(&mut times, "6 parse (kept trees)", t);
        let t = Instant::now();
        let facts = stages::detect(&project, &which, &parsed);
        time(&mut times, "7 detect", t);
        let t = Instant::now();
        std::hint::black_box(stages::traverse_only(&parsed));
        time(&mut times, "7 traverse only (no detector)", t);
        drop(parsed);
        let t = Instant::now();
        let (facts, topology) = stages::link(facts);
        time(&mut times, "8 link", t);
        let t = Instant::now();
        let findings = stages::judge(&book, &facts, &topology);
        time(&mut times, "9 judge", t);
        let t = Instant::now();
        let report = match stages::scan(&scanner, &root) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        time(&mut times, "a full scan, 1 thread", t);
        let t = Instant::now();
        let rendered = stages::render(&report);
        time(&mut times, "b render json+human", t);
        if round == 0 {
            summary = format!(
                "{} files, {:.1} MB read; {} parsed ({:.1} MB, {} nodes); {} facts, {} findings, {} rendered bytes",
                project.files.len(),
                project.bytes as f64 / 1e6,
                which.len(),
                which
                    .iter()
                    .map(|&i| project.files[i].text.len())
                    .sum::<usize>() as f64
                    / 1e6,
                nodes,
                facts.len(),
                findings.len(),
                rendered
            );
        }
    }
    println!("{}", root.display());
    println!("{summary}");
    println!("median of {repeat} rounds, one thread:");
    let mut medians = BTreeMap::new();
    for (name, ts) in &mut times {
        let m = stages::median(ts);
        medians.insert(*name, m);
        println!("  {:<40} {:>9.1} ms", &name[2..], m.as_secs_f64() * 1e3);
    }
    let ms = |k: &str| medians.get(k).map_or(0.0, |d| d.as_secs_f64());
    let floor = ms("4 parse only (parsed files)");
    if floor > 0.0 {
        println!(
            "ratio parse+bare traversal / parse-only: {:.3} (the floor of one traversal)",
            ms("4 parse + bare traversal (parsed files)") / floor
        );
        println!(
            "ratio prefilter+parse+detect / parse-only: {:.3}",
            ms("5 prefilter+parse+detect (all files)") / floor
        );
        println!(
            "ratio full scan (1 thread) / parse-only: {:.3}",
            ms("a full scan, 1 thread") / floor
        );
    }
    ExitCode::SUCCESS
}

/// Per detector: (files, bytes) admitted, (files, bytes) with facts.
type Admitted = BTreeMap<&'static str, [(usize, usize); 2]>;

fn prefilter_check(path: &Path, include_vendored: bool) -> ExitCode {
    let project = match stages::load(path, include_vendored) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut parser = stages::parser();
    let mut per: Admitted = BTreeMap::new();
    let (mut parsed, mut parsed_bytes, mut useful, mut useful_bytes) = (0, 0, 0, 0);
    let mut unsound = 0;
    for f in &project.files {
        let Ok(tree) = parser.parse(f.language, &f.text) else {
            eprintln!("skip {}: parse timeout", f.rel);
            continue;
        };
        let each = msgscan_detect::fuzzing::detect_each(&f.rel, &f.text, &tree);
        let admitted = each.iter().any(|(_, admits, _)| *admits);
        let found = each.iter().any(|(_, _, facts)| !facts.is_empty());
        let len = f.text.len();
        for (name, admits, facts) in &each {
            let e = per.entry(name).or_default();
            if *admits {
                e[0].0 += 1;
                e[0].1 += len;
            }
            if !facts.is_empty() {
                e[1].0 += 1;
                e[1].1 += len;
                if !admits {
                    let at: Vec<String> = facts
                        .iter()
                        .map(|x| format!("{}:{}", x.kind, x.line))
                        .collect();
                    // Soundness is promised for code without syntax errors only.
                    let what = if tree.first_error().is_some() {
                        "MISSED-IN-ERROR-TREE"
                    } else {
                        unsound += 1;
                        "UNSOUND"
                    };
                    println!("{what} {name} {}: {}", f.rel, at.join(" "));
                }
            }
        }
        if admitted {
            parsed += 1;
            parsed_bytes += len;
        }
        if found {
            useful += 1;
            useful_bytes += len;
        }
    }
    println!(
        "files {} ({} B); admitted {parsed} ({parsed_bytes} B); with facts {useful} ({useful_bytes} B)",
        project.files.len(),
        project.bytes
    );
    println!(
        "{:<14} {:>9} {:>12} {:>9} {:>12}",
        "detector", "admitted", "bytes", "found", "bytes"
    );
    for (name, [a, y]) in &per {
        println!("{name:<14} {:>9} {:>12} {:>9} {:>12}", a.0, a.1, y.0, y.1);
    }
    if unsound > 0 {
        println!("prefilter-check: {unsound} unsound (detector, file) pairs");
        return ExitCode::FAILURE;
    }
    println!("prefilter-check: sound on every file");
    ExitCode::SUCCESS
}
