//! Per-stage and whole-scan benchmarks on the fixtures and, when it has been built
//! (`benches/corpus.sh`), on the real-code corpus: `cargo bench -p msgscan-bench`.
//!
//! Stages run on one thread over a project held in memory (see `msgscan_bench`); the full
//! scans go through the facade with 1 and 2 worker threads. Compare within one run only.
#![allow(clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::{Bencher, black_box};
use msgscan::Scanner;
use msgscan_bench as stages;
use msgscan_bench::Project;

fn main() {
    if stages::corpus_dir().is_none() {
        eprintln!(
            "msgscan-bench: benches/corpus/ is absent, benchmarking fixtures/ only (build it with benches/corpus.sh)"
        );
    }
    divan::main();
}

/// The projects benchmarked: the fixtures always, the corpus when present.
fn inputs() -> Vec<&'static str> {
    let mut v = vec!["fixtures"];
    if stages::corpus_dir().is_some() {
        v.push("corpus");
    }
    v
}

/// Scan options for an input: the corpus is scanned with its `dist/` and `build/` code
/// (npm packages keep their code there), as `benches/compare.sh` does.
fn scanner(name: &str, threads: usize) -> Scanner {
    let options = msgscan::ScanOptions {
        include_vendored: name == "corpus",
        ..stages::options(threads)
    };
    Scanner::new(options).unwrap()
}

fn root(name: &str) -> PathBuf {
    let dir = match name {
        "corpus" => stages::corpus_dir().expect("corpus present"),
        _ => stages::fixtures_dir(),
    };
    dir.canonicalize().expect("input directory")
}

/// Each input read once and kept for the whole run.
fn project(name: &str) -> &'static Project {
    static FIXTURES: OnceLock<Project> = OnceLock::new();
    static CORPUS: OnceLock<Project> = OnceLock::new();
    let cell = if name == "corpus" { &CORPUS } else { &FIXTURES };
    cell.get_or_init(|| stages::load(&root(name), name == "corpus").expect("readable input"))
}

fn parsed_set(name: &str) -> &'static [usize] {
    static FIXTURES: OnceLock<Vec<usize>> = OnceLock::new();
    static CORPUS: OnceLock<Vec<usize>> = OnceLock::new();
    let cell = if name == "corpus" { &CORPUS } else { &FIXTURES };
    cell.get_or_init(|| stages::prefilter(project(name)))
}

const OPTS_SAMPLES: u32 = 10;

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn walk(name: &str) -> usize {
    stages::walk(&root(name), name == "corpus").unwrap().len()
}

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn read(bencher: Bencher, name: &str) {
    let root = root(name);
    let files = stages::walk(&root, name == "corpus").unwrap();
    bencher.bench(|| stages::read(&root, &files, name == "corpus").bytes);
}

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn prefilter(bencher: Bencher, name: &str) {
    let p = project(name);
    bencher.bench(|| stages::prefilter(p).len());
}

/// The floor: parsing the files a scan parses, and nothing else.
#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn parse_only(bencher: Bencher, name: &str) {
    let (p, which) = (project(name), parsed_set(name));
    let mut parser = stages::parser();
    bencher.bench_local(|| stages::parse_only(&mut parser, p, which));
}

/// Parsing plus a bare cursor walk of each tree: the floor of one traversal per file.
#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn parse_traverse(bencher: Bencher, name: &str) {
    let (p, which) = (project(name), parsed_set(name));
    let mut parser = stages::parser();
    bencher.bench_local(|| stages::parse_traverse(&mut parser, p, which));
}

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn detect(bencher: Bencher, name: &str) {
    let (p, which) = (project(name), parsed_set(name));
    let mut parser = stages::parser();
    bencher
        .with_inputs(|| stages::parse(&mut parser, p, which))
        .bench_local_refs(|parsed| stages::detect(p, which, parsed).len());
}

/// Prefilter + parse + detect over every file, one thread: compare with `parse_only`.
#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn analyze(bencher: Bencher, name: &str) {
    let p = project(name);
    let mut parser = stages::parser();
    bencher.bench_local(|| stages::analyze(&mut parser, p).len());
}

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn link(bencher: Bencher, name: &str) {
    let p = project(name);
    let facts = stages::analyze(&mut stages::parser(), p);
    bencher
        .with_inputs(|| facts.clone())
        .bench_local_values(|f| stages::link(f).1.channels.len());
}

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn judge(bencher: Bencher, name: &str) {
    let p = project(name);
    let (facts, topology) = stages::link(stages::analyze(&mut stages::parser(), p));
    let book = stages::rulebook_subset(&[]).unwrap();
    bencher.bench(|| stages::judge(&book, &facts, &topology).len());
}

#[divan::bench(args = inputs(), sample_count = OPTS_SAMPLES, sample_size = 1)]
fn render(bencher: Bencher, name: &str) {
    let scanner = scanner(name, 2);
    let report = stages::scan(&scanner, &root(name)).unwrap();
    bencher.bench(|| stages::render(&report));
}

/// The whole scan through the facade (walk, read, analyse, link, judge), 1 and 2 threads.
#[divan::bench(args = inputs(), consts = [1, 2], sample_count = OPTS_SAMPLES, sample_size = 1)]
fn full_scan<const THREADS: usize>(bencher: Bencher, name: &str) {
    let scanner = scanner(name, THREADS);
    let root = root(name);
    bencher.bench(|| black_box(stages::scan(&scanner, &root).unwrap().facts.len()));
}
