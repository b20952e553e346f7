//! The fact cache through the real binary: a repeat scan gives the same report, an edited
//! file is analysed afresh, a corrupt or foreign cache is never trusted, `--no-cache`
//! neither reads nor writes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn scan_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = msgscan()
        .args(["scan", "--format", "json", "--fail-on", "never"])
        .args(extra)
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(".msgscan-cache"))
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("facts-")
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A copy of the bundled fixtures, so the cache goes into a temporary directory.
fn fixture_copy(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let src = Path::new(FIXTURES).join("rules");
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let to = dir.join(p.strip_prefix(&src).unwrap());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&p, to).unwrap();
            }
        }
    }
    dir
}

#[test]
fn warm_scan_equals_cold_and_the_cache_is_git_ignored() {
    let dir = fixture_copy("warm");
    let uncached = scan_json(&dir, &["--no-cache"]);
    assert!(
        !dir.join(".msgscan-cache").exists(),
        "--no-cache writes nothing"
    );
    let cold = scan_json(&dir, &[]);
    let files = cache_files(&dir);
    assert_eq!(files.len(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.join(".msgscan-cache/.gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    let stamp = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    let warm = scan_json(&dir, &[]);
    assert_eq!(uncached, cold);
    assert_eq!(cold, warm);
    assert!(!findings(&warm).is_empty());
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        stamp,
        "an unchanged project does not rewrite the cache"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cache_is_used_and_an_edited_file_is_analysed_afresh() {
    let dir = temp_dir("edit");
    write(&dir.join("tasks.py"), CLEAN_TASK);
    assert!(findings(&scan_json(&dir, &[])).is_empty());
    write(&dir.join("tasks.py"), PICKLE_TASK);
    assert_eq!(
        findings(&scan_json(&dir, &[])),
        vec![("celery-task-pickle-serializer".into(), "tasks.py".into(), 4)]
    );
    // Back to the clean text: the old entry's hash no longer matches either way.
    write(&dir.join("tasks.py"), CLEAN_TASK);
    assert!(findings(&scan_json(&dir, &[])).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rewrites the cache with `edit` applied to its JSON body and a checksum that matches
/// the edited body (so only the header's other fields can reject it).
fn rewrite_cache(
    file: &Path,
    edit: impl Fn(&mut serde_json::Value),
    header: impl Fn(&str) -> String,
) {
    let bytes = std::fs::read(file).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let head = std::str::from_utf8(&bytes[..nl]).unwrap().to_string();
    let mut body: serde_json::Value = serde_json::from_slice(&bytes[nl + 1..]).unwrap();
    edit(&mut body);
    let body = serde_json::to_vec(&body).unwrap();
    let mut parts: Vec<String> = header(&head).split(' ').map(str::to_string).collect();
    parts[4] = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&body));
    let mut out = parts.join(" ").into_bytes();
    out.push(b'\n');
    out.extend_from_slice(&body);
    std::fs::write(file, out).unwrap();
}

fn drop_facts(body: &mut serde_json::Value) {
    for entry in body.as_object_mut().unwrap().values_mut() {
        entry.as_object_mut().unwrap().remove("facts");
    }
}

#[test]
fn a_well_formed_cache_is_trusted_but_a_foreign_or_corrupt_one_never() {
    let dir = temp_dir("trust");
    write(&dir.join("tasks.py"), PICKLE_TASK);
    let expected = findings(&scan_json(&dir, &[]));
    assert_eq!(expected.len(), 1);
    let file = cache_files(&dir).remove(0);

    // Proof the cache is read: a well-formed cache without the facts hides the finding.
    rewrite_cache(&file, drop_facts, str::to_string);
    assert!(findings(&scan_json(&dir, &[])).is_empty());
    // ... which --no-cache does not read.
    assert_eq!(findings(&scan_json(&dir, &["--no-cache"])), expected);

    // The same poisoned body written by another msgscan build (version or detector code):
    // ignored, recomputed, and rewritten for this build.
    rewrite_cache(&file, drop_facts, |h| {
        let mut p: Vec<&str> = h.split(' ').collect();
        p[2] = "0123456789abcdef";
        p.join(" ")
    });
    assert_eq!(findings(&scan_json(&dir, &[])), expected);
    assert_eq!(findings(&scan_json(&dir, &[])), expected);

    // Another cache format version: ignored.
    rewrite_cache(&file, drop_facts, |h| {
        h.replacen("msgscan-cache 1 ", "msgscan-cache 2 ", 1)
    });
    assert_eq!(findings(&scan_json(&dir, &[])), expected);

    // A body that does not match its checksum (bit rot, a hand edit, a torn write).
    rewrite_cache(&file, drop_facts, str::to_string);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = b' ';
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(findings(&scan_json(&dir, &[])), expected);

    // Garbage, truncation, an empty file, a directory in its place.
    for junk in [&b"\x00\xff garbage"[..], &bytes[..bytes.len() / 2], b""] {
        std::fs::write(&file, junk).unwrap();
        assert_eq!(findings(&scan_json(&dir, &[])), expected);
    }
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    assert_eq!(findings(&scan_json(&dir, &[])), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn settings_that_change_facts_use_another_cache() {
    let dir = temp_dir("settings");
    write(&dir.join("tasks.py"), PICKLE_TASK);
    let expected = findings(&scan_json(&dir, &[]));
    let file = cache_files(&dir).remove(0);
    rewrite_cache(&file, drop_facts, str::to_string);
    // --include-vendored changes what a file's analysis yields (minified bundles): its
    // cache is separate, so the poisoned one is not read.
    assert_eq!(
        findings(&scan_json(&dir, &["--include-vendored"])),
        expected
    );
    assert_eq!(cache_files(&dir).len(), 2);
    // Rule selection is not a fact setting: rules are judged afresh from cached facts.
    let book = scan_json(
        &dir,
        &[
            "--include-vendored",
            "--ignore",
            "celery-task-pickle-serializer",
        ],
    );
    assert!(findings(&book).is_empty());
    assert_eq!(
        findings(&scan_json(&dir, &["--include-vendored"])),
        expected
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
