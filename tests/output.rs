//! Output contracts on the bundled fixtures: the JSON report validates against
//! `schemas/report.schema.json`, is byte-identical across runs and thread counts, and the
//! human and JSON renderings are pinned by snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use msgscan::render::{self, HumanOptions};
use msgscan::{Report, ScanOptions, Scanner};
use msgscan_tests::fixtures_dir;

fn scan(path: PathBuf, threads: usize) -> Report {
    let options = ScanOptions {
        threads: Some(threads),
        ..ScanOptions::default()
    };
    Scanner::new(options).unwrap().scan(&[path]).unwrap()
}

fn json(report: &Report) -> String {
    let mut out = Vec::new();
    render::json(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn json_is_identical_across_runs_and_thread_counts() {
    let one = json(&scan(fixtures_dir(), 1));
    let two = json(&scan(fixtures_dir(), 2));
    let again = json(&scan(fixtures_dir(), 2));
    assert_eq!(one, two);
    assert_eq!(two, again);
}

#[test]
fn json_report_validates_against_the_schema() {
    let schema_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("report.schema.json", schema).unwrap();
    let index = compiler
        .compile("report.schema.json", &mut schemas)
        .unwrap();

    let report: serde_json::Value = serde_json::from_str(&json(&scan(fixtures_dir(), 2))).unwrap();
    if let Err(e) = schemas.validate(&report, index) {
        panic!("report does not match the schema: {e:#}");
    }
    // The schema is not vacuous: a wrong type is rejected.
    let mut broken = report.clone();
    broken["findings"][0]["severity"] = "fatal".into();
    assert!(schemas.validate(&broken, index).is_err());
}

#[test]
fn json_contract_on_the_fixtures() {
    let report = scan(fixtures_dir(), 2);
    let value: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
    assert_eq!(value["schema_version"], 1);
    let kinds: std::collections::BTreeSet<&str> = value["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "celery_task",
        "celery_call",
        "emitter_listen",
        "emitter_emit",
    ] {
        assert!(kinds.contains(kind), "no `{kind}` fact in {kinds:?}");
    }
    let rules: std::collections::BTreeSet<&str> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.len() >= 8,
        "only {} distinct rules fired: {rules:?}",
        rules.len()
    );
    // Every finding's fact id names a fact of the report.
    let ids: std::collections::BTreeSet<&str> = value["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    for f in value["findings"].as_array().unwrap() {
        if let Some(fact) = f["fact"].as_str() {
            assert!(ids.contains(fact));
        } else {
            let rule = f["rule"].as_str().unwrap();
            assert!(rule == "unused-suppression", "{rule} has no fact");
        }
    }
}

#[test]
fn snapshot_json() {
    let dir = fixtures_dir().join("rules/celery-result-get-in-task");
    // The scan root is absolute: pin it independently of where the repository lives.
    let out = json(&scan(dir, 1)).replace(&fixtures_dir().display().to_string(), "<fixtures>");
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_human() {
    let mut out = Vec::new();
    let report = scan(fixtures_dir().join("rules"), 2);
    render::human(
        &report,
        HumanOptions {
            color: false,
            width: 100,
        },
        &mut out,
    )
    .unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}
