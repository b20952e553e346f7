//! Determinism: the same tree gives byte-identical JSON and SARIF across runs, thread
//! counts (1, 2, 8) and the order in which the file system lists directory entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use msgscan::{ScanOptions, Scanner};

/// Every file of the project fixtures, as (relative path, bytes), sorted.
fn fixture_files() -> Vec<(PathBuf, Vec<u8>)> {
    let root = msgscan_tests::fixtures_dir().join("projects");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&root).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Writes `files` under `dir` in the given order (so directory entries are created in
/// that order), plus files that produce errors, whose order must not leak either.
fn build(dir: &Path, files: &[(PathBuf, Vec<u8>)]) {
    let _ = std::fs::remove_dir_all(dir);
    for (rel, bytes) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::fs::write(dir.join("broken.py"), "import celery\ndef (:\n").unwrap();
    std::fs::write(dir.join("latin1.js"), b"require('events'); // \xe9\n").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("nowhere.py"), dir.join("dangling.py")).unwrap();
        std::os::unix::fs::symlink(dir.join("gone.js"), dir.join("dangling.js")).unwrap();
    }
}

fn render(dir: &Path, threads: usize) -> (Vec<u8>, Vec<u8>) {
    let scanner = Scanner::new(ScanOptions {
        threads: Some(threads),
        root: Some(dir.to_path_buf()),
        ..ScanOptions::default()
    })
    .unwrap();
    let report = scanner.scan(&[dir]).unwrap();
    assert!(report.findings.len() > 10, "a real workload");
    assert!(report.errors.len() >= 2, "{:?}", report.errors);
    let mut json = Vec::new();
    msgscan::render::json(&report, &mut json).unwrap();
    let mut sarif = Vec::new();
    msgscan::render::sarif(&report, scanner.rulebook().rules(), &mut sarif).unwrap();
    (json, sarif)
}

#[test]
fn same_bytes_across_runs_threads_and_directory_order() {
    let dir = std::env::temp_dir().join(format!("msgscan-determinism-{}", std::process::id()));
    let mut files = fixture_files();
    assert!(files.len() > 20);

    build(&dir, &files);
    let reference = render(&dir, 1);
    for threads in [1, 2, 8, 8] {
        let got = render(&dir, threads);
        assert!(got.0 == reference.0, "JSON differs with {threads} threads");
        assert!(got.1 == reference.1, "SARIF differs with {threads} threads");
    }

    // The same tree created in the opposite order, then in an interleaved order: directory
    // entries are listed differently (tmpfs lists newest first, ext4 by hash).
    files.reverse();
    build(&dir, &files);
    for threads in [1, 8] {
        let got = render(&dir, threads);
        assert!(
            got.0 == reference.0,
            "JSON differs in reverse creation order"
        );
        assert!(
            got.1 == reference.1,
            "SARIF differs in reverse creation order"
        );
    }
    let (even, odd): (Vec<_>, Vec<_>) = files
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let interleaved: Vec<_> = odd.into_iter().chain(even).map(|(_, f)| f).collect();
    build(&dir, &interleaved);
    let got = render(&dir, 2);
    assert!(
        got.0 == reference.0,
        "JSON differs in interleaved creation order"
    );
    assert!(
        got.1 == reference.1,
        "SARIF differs in interleaved creation order"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
