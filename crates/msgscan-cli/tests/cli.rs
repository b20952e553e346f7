//! The real `msgscan` binary: scan, output, rule selection, fail-on, baselines, rules,
//! exit codes and the errors a user can act on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn scan_fixtures_exits_one_with_findings_grouped_by_file() {
    let out = msgscan()
        .args(["scan", FIXTURES, "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("celery-result-get-in-task"));
    assert!(!text.contains('\u{1b}'), "no colour when not on a terminal");
    // A header per file, then the summary.
    assert!(
        text.contains("── rules/celery-result-get-in-task/tasks.py ── 3 findings (3 error)"),
        "{text}"
    );
    let summary = text.lines().rev().take(4).collect::<Vec<_>>().join("\n");
    assert!(summary.contains("Scores: overall"), "{summary}");
    assert!(summary.contains("Findings:"), "{summary}");
}

#[test]
fn clicolor_force_colours_and_no_color_wins() {
    let dir = temp_dir("color");
    write(&dir.join("tasks.py"), PICKLE_TASK);
    let out = msgscan()
        .args(["scan", "--no-cache"])
        .arg(&dir)
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(stdout(&out).contains('\u{1b}'), "{}", stdout(&out));
    let out = msgscan()
        .args(["scan", "--no-cache"])
        .arg(&dir)
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&out).contains('\u{1b}'));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fail_on_thresholds() {
    let dir = temp_dir("failon");
    write(&dir.join("tasks.py"), WARNING_TASK);
    let code = |fail_on: Option<&str>| {
        let mut c = msgscan();
        c.args(["scan", "--no-cache"]).arg(&dir);
        if let Some(f) = fail_on {
            c.args(["--fail-on", f]);
        }
        c.output().unwrap().status.code()
    };
    assert_eq!(code(None), Some(0), "a warning does not fail by default");
    assert_eq!(code(Some("error")), Some(0));
    assert_eq!(code(Some("warning")), Some(1));
    assert_eq!(code(Some("info")), Some(1));
    assert_eq!(code(Some("never")), Some(0));
    assert_eq!(
        code(Some("fatal")),
        Some(2),
        "an unknown value is a usage error"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_output_and_output_file() {
    let out = msgscan()
        .args([
            "scan",
            FIXTURES,
            "--format",
            "json",
            "--fail-on",
            "never",
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["tool"]["name"], "msgscan");
    assert!(findings(&v).len() > 10);

    let dir = temp_dir("output");
    let file = dir.join("report.json");
    let out = msgscan()
        .args(["scan", FIXTURES, "--format", "json", "--no-cache", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the exit code still follows the findings"
    );
    assert!(out.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(findings(&written), findings(&v));

    let out = msgscan()
        .args(["scan", FIXTURES, "--no-cache", "-o"])
        .arg(dir.join("no/such/dir/report.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot write the report"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_path_scans_the_current_directory() {
    let dir = temp_dir("cwd");
    write(&dir.join("app/tasks.py"), PICKLE_TASK);
    let out = msgscan()
        .args(["scan", "--format", "json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        findings(&json(&out)),
        vec![(
            "celery-task-pickle-serializer".into(),
            "app/tasks.py".into(),
            4
        )]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn select_and_ignore_by_id_and_prefix() {
    let rules_of = |args: &[&str]| {
        let out = msgscan()
            .args(["scan", FIXTURES, "--format", "json", "--no-cache"])
            .args(args)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        let mut rules: Vec<String> = findings(&json(&out)).into_iter().map(|f| f.0).collect();
        rules.dedup();
        rules
    };
    assert_eq!(
        rules_of(&["--select", "celery-result-get-in-task"]),
        vec!["celery-result-get-in-task"]
    );
    let node = rules_of(&["--select", "node"]);
    assert!(
        !node.is_empty() && node.iter().all(|r| r.starts_with("node-")),
        "{node:?}"
    );
    let some = rules_of(&[
        "--select",
        "celery-pickle-serializer,celery-unbounded-retries",
        "--ignore",
        "celery-unbounded-retries",
    ]);
    assert!(
        some.iter().all(|r| r == "celery-pickle-serializer"),
        "{some:?}"
    );
    assert!(!some.is_empty());
    let no_celery = rules_of(&["--ignore", "celery"]);
    assert!(no_celery.iter().all(|r| !r.starts_with("celery-")));
    assert!(!no_celery.is_empty());
}

#[test]
fn unknown_rule_in_select_or_ignore_is_a_usage_error_with_a_suggestion() {
    let out = msgscan()
        .args(["scan", FIXTURES, "--select", "celery-unbounded-retry"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown rule or prefix `celery-unbounded-retry` in --select"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `celery-unbounded-retries`?"),
        "{err}"
    );
    let out = msgscan()
        .args(["scan", FIXTURES, "--ignore", "nodee"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `node`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn baseline_hides_known_findings_across_line_shifts_and_reports_new_ones() {
    let dir = temp_dir("baseline");
    let project = dir.join("project");
    write(&project.join("tasks.py"), PICKLE_TASK);
    let baseline = dir.join("baseline.json");

    // Writing the baseline accepts the current findings: exit 0.
    let out = msgscan()
        .args(["scan", "--write-baseline"])
        .arg(&baseline)
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("wrote 1 finding(s) to the baseline"));
    assert!(stdout(&out).contains("1 suppressed"), "{}", stdout(&out));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    assert_eq!(written["msgscan_baseline"], 1);
    assert_eq!(
        written["findings"][0]["rule"],
        "celery-task-pickle-serializer"
    );
    assert_eq!(written["findings"][0]["path"], "tasks.py");

    // The code moves down: still known.
    write(
        &project.join("tasks.py"),
        &format!("\"\"\"Rendering tasks.\"\"\"\nimport os\n\n{PICKLE_TASK}"),
    );
    let scan = || {
        msgscan()
            .args(["scan", "--format", "json", "--baseline"])
            .arg(&baseline)
            .arg(&project)
            .output()
            .unwrap()
    };
    let out = scan();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v = json(&out);
    assert!(findings(&v).is_empty(), "{:?}", findings(&v));
    assert_eq!(v["suppressed"], 1);

    // A new finding is reported, and fails.
    let mut text = std::fs::read_to_string(project.join("tasks.py")).unwrap();
    text.push_str(
        "\n\n@shared_task(serializer=\"pickle\")\ndef export(report):\n    return report\n",
    );
    write(&project.join("tasks.py"), &text);
    let out = scan();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        findings(&json(&out)),
        vec![(
            "celery-task-pickle-serializer".into(),
            "tasks.py".into(),
            12
        )]
    );

    // The known one is fixed: its entry is stale, and msgscan says so.
    write(&project.join("tasks.py"), CLEAN_TASK);
    let out = scan();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("1 entry of the baseline"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_baseline_files_are_usage_errors_that_say_what_to_do() {
    let dir = temp_dir("badbaseline");
    write(&dir.join("tasks.py"), PICKLE_TASK);
    let run = |baseline: &std::path::Path| {
        msgscan()
            .args(["scan", "--baseline"])
            .arg(baseline)
            .arg(dir.join("tasks.py"))
            .output()
            .unwrap()
    };
    let out = run(&dir.join("missing.json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read baseline"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("create the file with"),
        "{}",
        stderr(&out)
    );

    write(&dir.join("garbage.json"), "{\"findings\": 3}");
    let out = run(&dir.join("garbage.json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a msgscan baseline"),
        "{}",
        stderr(&out)
    );

    write(
        &dir.join("future.json"),
        "{\"msgscan_baseline\": 99, \"findings\": []}",
    );
    let out = run(&dir.join("future.json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("format version 99"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rules_list_explain_family_and_suggest() {
    let out = msgscan().arg("rules").output().unwrap();
    let list = stdout(&out);
    assert!(list.lines().count() >= 8);
    assert!(list.contains("celery-pickle-serializer"));
    let out = msgscan()
        .args(["rules", "node-emitter-async-listener"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("https://nodejs.org/api/events.html#capture-rejections-of-promises"));
    assert!(text.contains("Fix:"));
    let out = msgscan().args(["rules", "node"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let family = stdout(&out);
    assert!(family.lines().count() >= 3);
    assert!(family.lines().all(|l| l.starts_with("node-")), "{family}");
    let out = msgscan()
        .args(["rules", "celery-pickle-serialiser"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `celery-pickle-serializer`?"));
}

#[test]
fn missing_path_and_bad_flags_are_usage_errors() {
    let out = msgscan()
        .args(["scan", "/definitely/not/here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("path not found"));
    let out = msgscan().args(["scan", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = msgscan()
        .args(["scan", "--format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_and_help() {
    let out = msgscan().arg("--version").output().unwrap();
    assert_eq!(
        stdout(&out).trim(),
        format!("msgscan {}", env!("CARGO_PKG_VERSION"))
    );
    let out = msgscan().args(["scan", "--help"]).output().unwrap();
    let help = stdout(&out);
    for flag in [
        "--format",
        "--output",
        "--select",
        "--ignore",
        "--fail-on",
        "--baseline",
        "--write-baseline",
        "--threads",
        "--no-cache",
        "--include-vendored",
        "Examples:",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn every_report_format_is_available_from_the_cli() {
    let project = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/projects/flask-celery"
    );
    let run = |format: &str| {
        let o = msgscan()
            .args(["scan", project, "--format", format, "--fail-on", "never"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        stdout(&o)
    };
    let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(
        !sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(run("markdown").contains("## 8. Analyzer coverage"));
    assert!(run("html").starts_with("<!DOCTYPE html>"));
    let asyncapi: serde_json::Value = serde_json::from_str(&run("asyncapi")).unwrap();
    assert_eq!(asyncapi["asyncapi"], "3.0.0");
    let github = run("github");
    assert!(github.lines().all(|l| l.starts_with("::")), "{github}");
    assert!(github.contains("file=app/worker.py"), "{github}");
}

#[test]
fn project_configuration_is_read_and_the_command_line_outranks_it() {
    let dir = temp_dir("config");
    write(
        &dir.join("tasks.py"),
        "from celery import shared_task\n\n@shared_task(max_retries=None)\ndef sync(a):\n    return a\n\n@shared_task(serializer='pickle')\ndef render(r):\n    return r\n",
    );
    let scan = |extra: &[&str]| {
        let mut c = msgscan();
        c.args(["scan", "--format", "json", "--no-cache"])
            .arg(&dir)
            .args(extra);
        c.output().unwrap()
    };
    let rules = |o: &std::process::Output| -> Vec<String> {
        findings(&json(o))
            .into_iter()
            .map(|(rule, _, _)| rule)
            .collect()
    };
    // No configuration: both rules fire; the pickle error fails the scan.
    let o = scan(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(rules(&o).len(), 2);
    // The project file turns one rule off and never fails...
    write(
        &dir.join("msgscan.toml"),
        "ignore = [\"celery-task-pickle-serializer\"]\nfail-on = \"never\"\n",
    );
    let o = scan(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(rules(&o), ["celery-unbounded-retries"]);
    // ...and `--fail-on` on the command line outranks its `fail-on`.
    let o = scan(&["--fail-on", "warning"]);
    assert_eq!(o.status.code(), Some(1));
    // A file given with --config replaces discovery; an unknown key is a usage error with
    // a suggestion.
    let bad = dir.join("bad.toml");
    write(&bad, "ignor = [\"x\"]\n");
    let o = scan(&["--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `ignore`?"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn init_writes_a_config_tuned_to_the_project_that_scan_accepts() {
    let dir = temp_dir("init");
    write(
        &dir.join("app/tasks.py"),
        "from celery import shared_task\n\n@shared_task(max_retries=None)\ndef sync(a):\n    return a\n",
    );
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    let o = msgscan().arg("init").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("msgscan.toml")).unwrap();
    assert!(text.contains("celery     1 constructs"), "{text}");
    assert!(
        text.contains("# \"celery-unbounded-retries\",  # 1 finding(s), warning"),
        "{text}"
    );
    assert!(text.contains("files = [\"tests/**\"]"), "{text}");
    // The file it wrote is valid, also with its suggested `select` switched on.
    let o = msgscan()
        .args(["scan", "--no-cache"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let selected = text.replace("# select = ", "select = ");
    write(&dir.join("msgscan.toml"), &selected);
    let o = msgscan()
        .args(["scan", "--no-cache", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(findings(&json(&o)).len(), 1);
    // It never overwrites without --force.
    let o = msgscan().arg("init").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"));
    let o = msgscan()
        .args(["init", "--force"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A one-model OpenAI-compatible server on 127.0.0.1 that answers every chat completion
/// with `text`; returns its base URL.
fn fake_openai(text: &'static str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let reply = serde_json::json!({
                "id": "x", "object": "chat.completion", "model": "test",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}]
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    url
}

#[test]
fn llm_flag_rewrites_only_the_narrative_of_the_report() {
    let project = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/projects/flask-celery"
    );
    let url = fake_openai("The messaging design is sound; keep the retries as they are.");
    let o = msgscan()
        .args([
            "scan",
            project,
            "--format",
            "markdown",
            "--fail-on",
            "never",
            "--no-cache",
            "--llm",
        ])
        .env("MSGSCAN_LLM_PROVIDER", "openai")
        .env("MSGSCAN_LLM_BASE_URL", &url)
        .env("MSGSCAN_LLM_MODEL", "test-model")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.contains("The messaging design is sound"), "{md}");
    assert!(
        md.contains("test-model") || md.contains("test\\-model"),
        "{md}"
    );
    // The data sections still come from the rules.
    assert!(
        md.contains("celery-acks-late-without-reject-on-worker-lost"),
        "{md}"
    );

    // --llm without a provider is a configuration error the user can act on.
    let o = msgscan()
        .args([
            "scan",
            project,
            "--format",
            "markdown",
            "--no-cache",
            "--llm",
        ])
        .env_remove("MSGSCAN_LLM_PROVIDER")
        .env_remove("MSGSCAN_LLM_MODEL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("MSGSCAN_LLM_PROVIDER"),
        "{}",
        stderr(&o)
    );
}
