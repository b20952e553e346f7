//! The facade as an embedder uses it: the fact cache through `ScanOptions::cache_dir`,
//! `scan_changed` (findings only in the given files, the project as context), rule
//! selection and progress.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use msgscan::{Progress, Rulebook, ScanOptions, Scanner, render, select_rules};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("msgscan-embed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const PICKLE: &str = "from celery import shared_task\n\n\n@shared_task(serializer=\"pickle\")\ndef render(report):\n    return report\n";

fn json(report: &msgscan::Report) -> String {
    let mut v = Vec::new();
    render::json(report, &mut v).unwrap();
    String::from_utf8(v).unwrap()
}

#[derive(Default)]
struct Count {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl Progress for Count {
    fn start(&self, files: usize) {
        self.total.store(files, Ordering::Relaxed);
    }
    fn file_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn cached_scans_match_uncached_ones_and_progress_counts_files() {
    let dir = temp("cache");
    write(&dir.join("a/tasks.py"), PICKLE);
    write(&dir.join("b/other.py"), "print('no messaging here')\n");
    let plain = Scanner::new(ScanOptions::default()).unwrap();
    let cached = Scanner::new(ScanOptions {
        cache_dir: Some(".cache-here".into()),
        ..ScanOptions::default()
    })
    .unwrap();
    let expected = json(&plain.scan(&[&dir]).unwrap());
    let progress = Count::default();
    let cold = json(&cached.scan_with_progress(&[&dir], &progress).unwrap());
    assert_eq!(progress.total.load(Ordering::Relaxed), 2);
    assert_eq!(progress.done.load(Ordering::Relaxed), 2);
    assert!(
        dir.join(".cache-here/.gitignore").exists(),
        "relative to the root"
    );
    let warm = json(&cached.scan(&[&dir]).unwrap());
    assert_eq!(expected, cold);
    assert_eq!(expected, warm);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scan_changed_reports_only_the_given_files() {
    let dir = temp("changed");
    write(&dir.join("a/tasks.py"), PICKLE);
    write(&dir.join("b/tasks.py"), PICKLE);
    let scanner = Scanner::new(ScanOptions::default()).unwrap();
    let report = scanner
        .scan_changed(&dir, &[dir.join("b/tasks.py")], &msgscan::NoProgress)
        .unwrap();
    let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["b/tasks.py"]);
    assert!(report.facts.iter().any(|f| f.path == "a/tasks.py"));
    assert_eq!(report.files.scanned, 2);
    // Scores follow the findings that are reported.
    assert_eq!(report.scores.categories["security"].findings, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn selected_rulebooks_judge_cached_facts_afresh() {
    let dir = temp("select");
    write(&dir.join("tasks.py"), PICKLE);
    let options = ScanOptions {
        cache_dir: Some(dir.join("cache")),
        ..ScanOptions::default()
    };
    let all = Scanner::new(options.clone())
        .unwrap()
        .scan(&[&dir])
        .unwrap();
    assert_eq!(all.findings.len(), 1);
    let mut book = Rulebook::builtin().unwrap();
    select_rules(&mut book, &[], &["celery-task-pickle-serializer".into()]).unwrap();
    let some = Scanner::with_rulebook(options, book).scan(&[&dir]).unwrap();
    assert!(some.findings.is_empty());
    assert_eq!(some.facts, all.facts);
    std::fs::remove_dir_all(&dir).unwrap();
}
