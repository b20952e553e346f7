//! Bad input is reported per file and the scan goes on: real files of each kind, scanned
//! together with a normal project whose findings must all still be reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use msgscan::{ScanOptions, Scanner};

const GOOD_TASKS: &str = "from celery import shared_task\n\n\n@shared_task(max_retries=None)\ndef sync(account_id):\n    return account_id\n";

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msgscan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn every_bad_file_is_an_error_entry_and_good_findings_survive() {
    let dir = tempdir("bad-input");
    write(&dir, "app/tasks.py", GOOD_TASKS);
    write(&dir, "binary.py", b"import celery\x00\x01\x02\x03task");
    write(
        &dir,
        "latin1.js",
        b"const EventEmitter = require('events'); // caf\xe9\n",
    );
    write(&dir, "empty.ts", b"");
    write(
        &dir,
        "huge.py",
        format!("# celery task\n{}", "x = 1\n".repeat(2_000)),
    );
    write(
        &dir,
        "broken.py",
        "from celery import shared_task\n\n@shared_task(max_retries=None\ndef broken(:\n    pass\n",
    );
    write(
        &dir,
        "broken.ts",
        "import { EventEmitter } from 'events';\nconst bus = new EventEmitter(;\nbus.on('x', async () => { await f(); }\n",
    );
    write(
        &dir,
        "broken.sql",
        "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN PERFORM pg_notify('a', 'b'); END $$ LANGUAGE plpgsql;\nCREATE TABLE (;\n",
    );
    write(
        &dir,
        "unterminated.sql",
        "CREATE FUNCTION f() RETURNS void AS $body$ BEGIN NOTIFY x;\n",
    );
    write(
        &dir,
        "bom.py",
        "\u{feff}from celery import shared_task\n\n\n@shared_task(max_retries=None)\ndef bom_task():\n    pass\n",
    );
    write(
        &dir,
        "crlf.py",
        "from celery import shared_task\r\n\r\n\r\n@shared_task(max_retries=None)\r\ndef crlf_task():\r\n    pass\r\n",
    );
    write(&dir, "notes.md", "# not code\n");
    let dangling = dir.join("dangling.py");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("does-not-exist.py"), &dangling).unwrap();

    let options = ScanOptions {
        max_file_size: 4096,
        ..ScanOptions::default()
    };
    let scanner = Scanner::new(options).unwrap();
    // The directory, plus the dangling symlink passed explicitly (as pre-commit would).
    let report = scanner.scan(&[dir.clone(), dangling]).unwrap();

    let error_of = |path: &str| {
        report
            .errors
            .iter()
            .find(|e| e.path.ends_with(path))
            .unwrap_or_else(|| panic!("no error entry for {path}: {:#?}", report.errors))
    };
    assert_eq!(error_of("binary.py").kind, "binary");
    assert_eq!(error_of("latin1.js").kind, "encoding");
    assert_eq!(error_of("huge.py").kind, "too-large");
    assert_eq!(error_of("broken.py").kind, "syntax");
    assert_eq!(error_of("broken.py").line, Some(3));
    assert_eq!(error_of("broken.ts").kind, "syntax");
    // Broken SQL is parsed (both files mention NOTIFY) and reported; an unterminated
    // dollar quote is an error entry, not a hang or a panic.
    assert_eq!(report.files.by_language.get("sql"), Some(&2));
    assert_eq!(error_of("broken.sql").kind, "syntax");
    assert_eq!(error_of("broken.sql").line, Some(2));
    assert_eq!(error_of("unterminated.sql").kind, "syntax");
    // What precedes the error in broken.sql is still read.
    assert!(report.facts.iter().any(|f| f.path == "broken.sql"
        && f.kind == "pg_notify"
        && f.name.as_deref() == Some("a")));
    #[cfg(unix)]
    assert_eq!(error_of("dangling.py").kind, "io");
    assert!(
        report.errors.iter().all(|e| !e.path.ends_with("empty.ts")),
        "an empty file is fine"
    );

    // The good files' findings are all there, BOM and CRLF included, at the right lines.
    let found: Vec<(String, u32)> = report
        .findings
        .iter()
        .filter(|f| f.rule == "celery-unbounded-retries")
        .map(|f| (f.path.clone(), f.line))
        .collect();
    for (path, line) in [("app/tasks.py", 4), ("bom.py", 4), ("crlf.py", 4)] {
        assert!(
            found.contains(&(path.to_string(), line)),
            "missing {path}:{line} in {found:?}"
        );
    }
    // A broken file still yields what can be read before its error.
    assert!(
        report
            .facts
            .iter()
            .any(|f| f.path == "broken.ts" && f.kind == "emitter_instance")
    );
    // The markdown file is counted, not silently dropped.
    assert_eq!(report.files.skipped_by_reason.get("unsupported"), Some(&1));

    // Human output names each bad file.
    let mut human = Vec::new();
    msgscan::render::human(&report, Default::default(), &mut human).unwrap();
    let human = String::from_utf8(human).unwrap();
    for name in [
        "binary.py",
        "latin1.js",
        "huge.py",
        "broken.py",
        "broken.ts",
        "broken.sql",
        "unterminated.sql",
    ] {
        assert!(human.contains(name), "human output does not mention {name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deeply_nested_source_does_not_overflow() {
    let dir = tempdir("deep");
    let depth = 50_000;
    write(
        &dir,
        "deep.py",
        format!(
            "import celery\nx = {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    write(
        &dir,
        "deep.js",
        format!(
            "const EventEmitter = require('events');\nconst x = {}1{};\n",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
    );
    write(&dir, "tasks.py", GOOD_TASKS);
    let report = Scanner::new(ScanOptions::default())
        .unwrap()
        .scan(&[&dir])
        .unwrap();
    assert!(report.findings.iter().any(|f| f.path == "tasks.py"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vendored_and_minified_files_are_skipped_and_counted() {
    let dir = tempdir("vendored");
    write(
        &dir,
        "node_modules/lib/index.js",
        "const EventEmitter = require('events');\nconst e = new EventEmitter();\ne.emit('error', 1);\n",
    );
    write(&dir, ".venv/lib/site.py", GOOD_TASKS);
    write(
        &dir,
        "static/app.min.js",
        "const EventEmitter=require('events');",
    );
    write(
        &dir,
        "static/bundle.js",
        format!(
            "const EventEmitter=require('events');{}\n",
            "var a=1;".repeat(5_000)
        ),
    );
    write(&dir, "ignored/tasks.py", GOOD_TASKS);
    write(&dir, ".gitignore", "ignored/\n");
    write(&dir, "tasks.py", GOOD_TASKS);
    let report = Scanner::new(ScanOptions::default())
        .unwrap()
        .scan(&[&dir])
        .unwrap();
    let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["tasks.py"]);
    assert_eq!(
        report.files.skipped_by_reason.get("vendored-dir"),
        Some(&1),
        "{:?}",
        report.files
    );
    assert_eq!(
        report.files.skipped_by_reason.get("minified"),
        Some(&2),
        "{:?}",
        report.files
    );

    let all = ScanOptions {
        include_vendored: true,
        ..ScanOptions::default()
    };
    let report = Scanner::new(all).unwrap().scan(&[&dir]).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.path == "node_modules/lib/index.js")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
