//! `cargo run --example scan` as a user runs it: the real example binary, its output and
//! its exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// The example binary cargo built next to this test (`target/<profile>/examples/scan`).
fn example() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    Command::new(dir.join(format!("scan{}", std::env::consts::EXE_SUFFIX)))
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

#[test]
fn no_argument_scans_the_bundled_fixtures() {
    let out = example().output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "error-level findings exit 1\n{stdout}"
    );
    assert!(stdout.contains("celery-pickle-serializer"));
    assert!(stdout.contains("node-emitter-missing-error-listener"));
    assert!(
        stdout.contains("Scanned "),
        "summary line missing:\n{stdout}"
    );
}

#[test]
fn json_format_prints_the_report() {
    let out = example()
        .arg(fixtures())
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert!(report["findings"].as_array().unwrap().len() >= 8);
}

#[test]
fn clean_project_exits_zero_and_bad_usage_exits_two() {
    let clean = fixtures().join("rules/node-emitter-unbounded-max-listeners");
    let dir = std::env::temp_dir().join(format!("msgscan-example-clean-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ok.py"),
        "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
    )
    .unwrap();
    assert_eq!(example().arg(&dir).output().unwrap().status.code(), Some(0));
    // Warnings only: still 0.
    assert_eq!(
        example().arg(&clean).output().unwrap().status.code(),
        Some(0)
    );
    assert_eq!(
        example().arg("--bogus").output().unwrap().status.code(),
        Some(2)
    );
    assert_eq!(
        example()
            .arg(dir.join("missing"))
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
