//! The real `msgscan` binary: scan, rules, exit codes.

use std::process::Command;

fn msgscan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_msgscan"))
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");

#[test]
fn scan_fixtures_exits_one_with_findings() {
    let out = msgscan().args(["scan", FIXTURES]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("celery-result-get-in-task"));
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour when not on a terminal"
    );
}

#[test]
fn fail_on_never_exits_zero_and_json_parses() {
    let out = msgscan()
        .args(["scan", FIXTURES, "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tool"]["name"], "msgscan");
}

#[test]
fn rules_list_and_explain() {
    let out = msgscan().arg("rules").output().unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.lines().count() >= 8);
    let out = msgscan()
        .args(["rules", "node-emitter-async-listener"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("https://nodejs.org/api/events.html#capture-rejections-of-promises"));
    let out = msgscan().args(["rules", "no-such-rule"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("msgscan rules")
    );
}

#[test]
fn missing_path_is_a_usage_error() {
    let out = msgscan()
        .args(["scan", "/definitely/not/here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("path not found")
    );
}
