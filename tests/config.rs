//! Project configuration on fixture projects: discovery, precedence (command line > file >
//! defaults), per-path overrides, include/exclude, `extend` with custom rules (a predicate
//! rule with a project-level condition and a tree-sitter query rule), errors with their
//! location and a suggestion, and the JSON Schema of the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use msgscan::{CliOverrides, ConfigError, FailOn, ScanOptions, Scanner, Settings, Severity};
use msgscan_tests::fixtures_dir;

fn project() -> PathBuf {
    fixtures_dir().join("config/project")
}

fn scan_with(settings: Settings, dir: &Path) -> msgscan::Report {
    let options = ScanOptions {
        threads: Some(1),
        settings,
        ..ScanOptions::default()
    };
    Scanner::new(options).unwrap().scan(&[dir]).unwrap()
}

fn keys(report: &msgscan::Report) -> BTreeSet<(String, u32, String, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.path.clone(), f.line, f.rule.clone(), f.severity))
        .collect()
}

fn set(items: &[(&str, u32, &str, Severity)]) -> BTreeSet<(String, u32, String, Severity)> {
    items
        .iter()
        .map(|(p, l, r, s)| (p.to_string(), *l, r.to_string(), *s))
        .collect()
}

#[test]
fn project_file_is_found_upward_and_applied() {
    // Discovery starts at the scan root and walks up: from `src/` it finds the project's file.
    let found = msgscan_config::discover(&project().join("src")).unwrap();
    assert!(found.ends_with("config/project/msgscan.toml"), "{found:?}");

    let settings = msgscan_config::load_for(&project()).unwrap();
    assert_eq!(settings.fail_on, FailOn::Warning);
    assert_eq!(settings.report.stage.as_deref(), Some("production"));
    assert_eq!(settings.report.constraints.len(), 2);
    assert_eq!(settings.llm.provider.as_deref(), Some("ollama"));
    assert!(!settings.llm.send_source);

    let report = scan_with(settings, &project());
    // - `celery-io-without-timeout` is ignored, `celery-unbounded-retries` raised to error;
    // - tests/** ignores `celery-` and `custom-` rules; vendor/ is excluded (not scanned);
    // - the custom predicate rule fires (no `task_reject_on_worker_lost` anywhere) and the
    //   query rule fires on `time.sleep(5)`; the `time.sleep(1)` one is suppressed.
    assert_eq!(
        keys(&report),
        set(&[
            (
                "src/tasks.py",
                7,
                "celery-network-io-without-retry",
                Severity::Warning
            ),
            (
                "src/tasks.py",
                7,
                "celery-unbounded-retries",
                Severity::Error
            ),
            (
                "src/tasks.py",
                7,
                "custom-acks-late-without-reject-on-worker-lost",
                Severity::Info
            ),
            ("src/tasks.py", 10, "custom-time-sleep", Severity::Warning),
        ])
    );
    let sleep = report
        .findings
        .iter()
        .find(|f| f.rule == "custom-time-sleep")
        .unwrap();
    assert_eq!(
        sleep.message,
        "`time.sleep(5)` blocks the whole worker process for `5`"
    );
    assert_eq!((sleep.column, sleep.end_column), (5, 18));
    assert_eq!(report.suppressed, 1);
    assert_eq!(report.files.skipped_by_reason.get("excluded"), Some(&1));
    assert!(report.files.by_language["python"] == 2);
}

#[test]
fn command_line_outranks_the_file() {
    let mut settings = msgscan_config::load_for(&project()).unwrap();
    settings
        .apply_overrides(CliOverrides {
            select: Some(vec!["celery-unbounded-retries".into(), "custom-".into()]),
            severity: vec![("celery-unbounded-retries".into(), "info".into())],
            fail_on: Some("never".into()),
            exclude: vec!["tests".into()],
            ..CliOverrides::default()
        })
        .unwrap();
    assert_eq!(settings.fail_on, FailOn::Never);
    let report = scan_with(settings, &project());
    assert_eq!(
        keys(&report),
        set(&[
            (
                "src/tasks.py",
                7,
                "celery-unbounded-retries",
                Severity::Info
            ),
            (
                "src/tasks.py",
                7,
                "custom-acks-late-without-reject-on-worker-lost",
                Severity::Info
            ),
            ("src/tasks.py", 10, "custom-time-sleep", Severity::Warning),
        ])
    );
    assert_eq!(report.files.skipped_by_reason.get("excluded"), Some(&2));

    // A bad command-line value is an error too, without a file location.
    let mut s = Settings::default();
    let err = s
        .apply_overrides(CliOverrides {
            fail_on: Some("warnings".into()),
            ..CliOverrides::default()
        })
        .unwrap_err();
    assert!(matches!(err, ConfigError::Cli { .. }), "{err:?}");
    let mut s = Settings::default();
    s.apply_overrides(CliOverrides {
        ignore: vec!["celery-unbounded-retrys".into()],
        ..CliOverrides::default()
    })
    .unwrap();
    match s.rulebook().unwrap_err() {
        ConfigError::Cli { message, help } => {
            assert!(message.contains("celery-unbounded-retrys"), "{message}");
            assert_eq!(
                help.as_deref(),
                Some("did you mean `celery-unbounded-retries`?")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_without_a_file() {
    let settings = Settings::default();
    assert_eq!(settings.fail_on, FailOn::Error);
    assert_eq!(
        settings.severity_for("celery-unbounded-retries", Severity::Warning, "a.py"),
        Some(Severity::Warning)
    );
    let report = scan_with(settings, &project());
    // Everything is scanned, every built-in rule is on, the custom rules do not exist.
    assert!(report.findings.iter().any(|f| f.path == "vendor/lib.py"));
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.rule.starts_with("custom-"))
    );
}

#[test]
fn pyproject_tool_table() {
    let dir = fixtures_dir().join("config/pyproject");
    let found = msgscan_config::discover(&dir.join("app")).unwrap();
    assert!(found.ends_with("pyproject.toml"));
    let settings = msgscan_config::load_for(&dir).unwrap();
    assert_eq!(settings.fail_on, FailOn::Never);
    let report = scan_with(settings, &dir);
    let rules: BTreeSet<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, BTreeSet::from(["celery-unbounded-retries"]));
}

/// Parses `text` as `msgscan.toml`, checks its rule ids against the rulebook, and returns
/// the error: its line, message and help.
fn error_of(text: &str) -> (usize, String, String) {
    let base = std::env::temp_dir();
    let err = match Settings::parse("msgscan.toml", text, &base) {
        Err(e) => e,
        Ok(s) => s.rulebook().map(|_| ()).unwrap_err(),
    };
    let line = err.line().unwrap_or(0);
    let (message, help) = match &err {
        ConfigError::Invalid(e) => (e.message.clone(), e.help.clone().unwrap_or_default()),
        other => (other.to_string(), String::new()),
    };
    (line, message, help)
}

#[test]
fn errors_point_at_the_key_with_a_suggestion() {
    let (line, message, help) = error_of("fail-on = \"error\"\nselct = [\"celery-\"]\n");
    assert_eq!(line, 2);
    assert!(message.contains("unknown field `selct`"), "{message}");
    assert_eq!(help, "did you mean `select`?");

    let (line, message, help) = error_of("\n[severity]\ncelery-unbounded-retries = \"warn\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("unknown severity `warn`"), "{message}");
    assert_eq!(help, "did you mean `warning`?");

    let (line, message, help) =
        error_of("ignore = [\n  \"celery-\",\n  \"celery-unbounded-retrys\",\n]\n");
    assert_eq!(line, 3);
    assert!(
        message.contains("`celery-unbounded-retrys` is not a rule id"),
        "{message}"
    );
    assert_eq!(help, "did you mean `celery-unbounded-retries`?");

    let (line, _, help) = error_of("[report]\nstage = \"prod\"\n");
    assert_eq!(line, 2);
    assert!(help.contains("production"), "{help}");

    let (line, message, _) = error_of("[[overrides]]\nfiles = [\"tests/[\"]\n");
    assert_eq!(line, 2);
    assert!(message.contains("invalid glob"), "{message}");

    let (line, message, help) = error_of("[llm]\nprovider = \"openai\"\napi-key = \"sk-...\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("unknown field `api-key`"), "{message}");
    assert!(help.contains("base-url"), "{help}");

    let (line, message, _) = error_of("fail-on = \"sometimes\"\n");
    assert_eq!(line, 1);
    assert!(message.contains("fail-on"), "{message}");
}

#[test]
fn selection_specificity_and_overrides() {
    let s = Settings::parse(
        "msgscan.toml",
        "select = [\"celery\"]\nignore = [\"celery-unbounded-retries\"]\n\
         [severity]\n\"celery-\" = \"info\"\ncelery-pickle-serializer = \"error\"\n\
         [[overrides]]\nfiles = [\"legacy/**\"]\nselect = [\"celery-unbounded-retries\"]\nseverity = { celery-pickle-serializer = \"off\" }\n",
        Path::new("."),
    )
    .unwrap();
    // Most specific pattern wins.
    assert_eq!(
        s.severity_for("celery-unbounded-retries", Severity::Warning, "a.py"),
        None
    );
    assert_eq!(
        s.severity_for("celery-io-without-timeout", Severity::Warning, "a.py"),
        Some(Severity::Info)
    );
    assert_eq!(
        s.severity_for("celery-pickle-serializer", Severity::Warning, "a.py"),
        Some(Severity::Error)
    );
    // Not selected: `node-` rules are off.
    assert_eq!(
        s.severity_for("node-emitter-async-listener", Severity::Warning, "a.py"),
        None
    );
    // The override turns the ignored rule back on under legacy/, and a rule off there.
    assert_eq!(
        s.severity_for(
            "celery-unbounded-retries",
            Severity::Warning,
            "legacy/x/a.py"
        ),
        Some(Severity::Info)
    );
    assert_eq!(
        s.severity_for("celery-pickle-serializer", Severity::Error, "legacy/a.py"),
        None
    );
    assert!(s.rule_enabled_somewhere("celery-unbounded-retries"));
    assert!(!s.rule_enabled_somewhere("node-emitter-async-listener"));
}

fn schema() -> (boon::Schemas, boon::SchemaIndex, serde_json::Value) {
    let path = fixtures_dir().join("../schemas/config.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("config.schema.json", schema.clone())
        .unwrap();
    let index = compiler
        .compile("config.schema.json", &mut schemas)
        .unwrap();
    (schemas, index, schema)
}

#[test]
fn example_configs_validate_against_the_schema() {
    let (schemas, index, _) = schema();
    let mut examples = vec![std::fs::read_to_string(project().join("msgscan.toml")).unwrap()];
    // The README's example.
    let readme = std::fs::read_to_string(fixtures_dir().join("../README.md")).unwrap();
    let start = readme
        .find("```toml\n# msgscan.toml")
        .expect("README config example");
    let body = &readme[start + 8..];
    examples.push(body[..body.find("```").unwrap()].to_string());
    for text in &examples {
        // Accepted by the serde model ...
        Settings::parse("msgscan.toml", text, Path::new(".")).unwrap();
        // ... and by the schema.
        let value: serde_json::Value = toml::from_str(text).unwrap();
        if let Err(e) = schemas.validate(&value, index) {
            panic!("example does not match the schema: {e:#}\n{text}");
        }
    }
    // The schema is not vacuous.
    let bad: serde_json::Value = toml::from_str("fail-on = \"sometimes\"").unwrap();
    assert!(schemas.validate(&bad, index).is_err());
    let bad: serde_json::Value = toml::from_str("[llm]\napi-key = \"x\"").unwrap();
    assert!(schemas.validate(&bad, index).is_err());
}

#[test]
fn schema_keys_match_the_serde_model() {
    let (_, _, schema) = schema();
    let props = |v: &serde_json::Value| -> BTreeSet<String> {
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for (table, keys) in msgscan_config::KEYS {
        let node = match *table {
            "" => schema.clone(),
            "overrides" => schema["properties"]["overrides"]["items"].clone(),
            t => schema["properties"][t].clone(),
        };
        let want: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(props(&node), want, "table `{table}`");
        assert_eq!(node["additionalProperties"], false, "table `{table}`");
        // Every key the model lists is accepted by it (deny_unknown_fields rejects others).
        for key in *keys {
            let snippet = match (*table, *key) {
                ("", "overrides") => "[[overrides]]\nfiles = [\"x\"]\n".to_string(),
                ("", "report" | "llm") => format!("[{key}]\n"),
                ("", "severity") => "[severity]\n".into(),
                ("", "fail-on") => "fail-on = \"never\"\n".into(),
                ("", _) => format!("{key} = []\n"),
                ("overrides", "files") => "[[overrides]]\nfiles = [\"x\"]\n".into(),
                ("overrides", "severity") => {
                    "[[overrides]]\nfiles = [\"x\"]\nseverity = {}\n".into()
                }
                ("overrides", k) => format!("[[overrides]]\nfiles = [\"x\"]\n{k} = []\n"),
                ("report", "constraints") => "[report]\nconstraints = []\n".into(),
                ("report", k) => format!("[report]\n{k} = \"mvp\"\n"),
                ("llm", "send-source") => "[llm]\nsend-source = true\n".into(),
                ("llm", "base-url") => "[llm]\nbase-url = \"http://localhost\"\n".into(),
                ("llm", "provider") => "[llm]\nprovider = \"openai\"\n".into(),
                ("llm", k) => format!("[llm]\n{k} = \"x\"\n"),
                _ => unreachable!(),
            };
            if let Err(e) = Settings::parse("msgscan.toml", &snippet, Path::new(".")) {
                panic!("`{table}.{key}` is in KEYS but not accepted: {e}\n{snippet}");
            }
        }
    }
}
