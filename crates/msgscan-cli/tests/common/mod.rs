//! Helpers for the tests that run the real `msgscan` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn msgscan() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msgscan"));
    // The tests decide about colour and CI themselves.
    c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    c
}

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("msgscan-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// `(rule, path, line)` of every finding of a JSON report.
pub fn findings(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A task with an error-level finding (pickle) on line 4.
pub const PICKLE_TASK: &str = "from celery import shared_task\n\n\n@shared_task(serializer=\"pickle\")\ndef render(report):\n    return report\n";
/// The same task, fixed.
pub const CLEAN_TASK: &str = "from celery import shared_task\n\n\n@shared_task\ndef render(report_id):\n    return report_id\n";
/// A task with a warning-level finding only (unbounded retries) on line 4.
pub const WARNING_TASK: &str = "from celery import shared_task\n\n\n@shared_task(autoretry_for=(ConnectionError,), max_retries=None, retry_backoff=True)\ndef sync(account_id):\n    return account_id\n";
