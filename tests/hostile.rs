//! Hostile input: files and trees built to break a scanner (binary content, odd encodings,
//! special files, links that lead nowhere, pathological nesting and sizes), scanned together
//! with real project fixtures whose findings must all still be reported. Each case is an
//! `errors` entry, a counted skip, or analysed normally: never a panic, a hang or a lost
//! finding. `bad_input.rs` covers the first, simpler cases; this file extends it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use msgscan::{Report, ScanOptions, Scanner};

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

/// Copies a directory tree (regular files only).
fn copy_tree(from: &Path, to: &Path) {
    let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = stack.pop() {
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            let target = dst.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push((entry.path(), target));
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
}

fn scan(options: ScanOptions, paths: &[PathBuf]) -> Report {
    Scanner::new(options).unwrap().scan(paths).unwrap()
}

/// (rule, path, line) of every finding.
fn findings(report: &Report) -> Vec<(String, String, u32)> {
    report
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.path.clone(), f.line))
        .collect()
}

fn error_of<'r>(report: &'r Report, path: &str) -> &'r msgscan::FileError {
    report
        .errors
        .iter()
        .find(|e| e.path.ends_with(path))
        .unwrap_or_else(|| panic!("no error entry for {path}: {:#?}", report.errors))
}

const GOOD_TASKS: &str = "from celery import shared_task\n\n\n@shared_task(max_retries=None)\ndef sync(account_id):\n    return account_id\n";

/// Source nested `depth` levels deep in each language, in the shapes detectors look into
/// (call arguments, string concatenations, blocks), each with the language's needles.
fn deep_sources(depth: usize) -> Vec<(&'static str, String)> {
    // One construct per line: a 50,000-level one-liner would be skipped as minified.
    let concat = |q: &str| vec![format!("{q}a{q}"); depth].join(" +\n");
    vec![
        (
            "deep_call.py",
            format!(
                "from celery import shared_task\napp.send_task({}'t'{})\n",
                "f(".repeat(depth),
                ")".repeat(depth)
            ),
        ),
        (
            "deep_concat.py",
            format!("import celery\napp.send_task({})\n", concat("'")),
        ),
        (
            "deep_dict.py",
            format!(
                "import celery\nCELERY = {}1{}\n",
                "{'a': ".repeat(depth),
                "}".repeat(depth)
            ),
        ),
        (
            "deep_concat.js",
            format!(
                "const EventEmitter = require('events');\nbus.emit({});\n",
                concat("'")
            ),
        ),
        (
            "deep_jsx.tsx",
            format!(
                "import {{ EventEmitter }} from 'events';\nconst v = {}{};\n",
                "<a>\n".repeat(depth),
                "</a>\n".repeat(depth)
            ),
        ),
        (
            "deep_parens.sql",
            format!(
                "SELECT pg_notify('ch', {}'x'{});\n",
                "(".repeat(depth),
                ")".repeat(depth)
            ),
        ),
        (
            "deep_concat.sql",
            format!("SELECT pg_notify('ch', {});\n", concat("'")),
        ),
        (
            "deep_plpgsql.sql",
            format!(
                "CREATE FUNCTION f() RETURNS trigger AS $$\n{}PERFORM pg_notify('ch', 'x');\n{}$$ LANGUAGE plpgsql;\n",
                "BEGIN\n".repeat(depth),
                "END;\n".repeat(depth)
            ),
        ),
    ]
}

/// Every hostile file of the issue at once, beside two real projects. Each is an error
/// entry, a counted skip or normally analysed, and the projects' findings are unchanged.
#[test]
fn hostile_tree_beside_real_projects_loses_no_finding() {
    let fixtures = msgscan_tests::fixtures_dir().join("projects");
    let dir = tempdir("hostile");
    copy_tree(&fixtures.join("flask-celery"), &dir.join("flask-celery"));
    copy_tree(&fixtures.join("node-service"), &dir.join("node-service"));
    let options = || ScanOptions {
        root: Some(dir.clone()),
        ..ScanOptions::default()
    };
    let baseline = findings(&scan(options(), std::slice::from_ref(&dir)));
    assert!(
        baseline.len() >= 3,
        "the projects have findings: {baseline:?}"
    );

    let h = dir.join("hostile");
    // Binary: an ELF header (NUL bytes), and random-looking bytes without NUL.
    write(&h, "elf.py", b"\x7fELF\x02\x01\x01\x00\x00\x00celery");
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 0x80)
        .collect();
    write(&h, "noise.ts", &noise);
    // Invalid UTF-8 in each language.
    write(
        &h,
        "latin1.sql",
        b"-- caf\xe9\nSELECT pg_notify('a', 'b');\n",
    );
    write(&h, "overlong.py", b"import celery # \xc0\xaf\n");
    write(&h, "surrogate.tsx", b"import 'events'; // \xed\xa0\x80\n");
    // A NUL byte past the binary sniff window: valid UTF-8, parsed like any text.
    write(
        &h,
        "late_nul.js",
        format!(
            "const EventEmitter = require('events');\n{}const s = '\u{0}';\n",
            "// padding\n".repeat(1_000)
        ),
    );
    // BOM and CRLF in JS and SQL (Python is in bad_input.rs).
    write(
        &h,
        "bom_crlf.js",
        "\u{feff}const EventEmitter = require('events');\r\nconst e = new EventEmitter();\r\n",
    );
    write(
        &h,
        "bom_crlf.sql",
        "\u{feff}LISTEN jobs;\r\nSELECT pg_notify('jobs', 'x');\r\n",
    );
    // Empty files of every language.
    for ext in ["py", "js", "ts", "tsx", "sql"] {
        write(&h, &format!("empty.{ext}"), b"");
    }
    // Far above the size limit: a sparse 3 GiB file costs no disk.
    let huge = std::fs::File::create(h.join("huge.py")).unwrap();
    huge.set_len(3 << 30).unwrap();
    drop(huge);
    // A 5 MB minified bundle on one line.
    write(
        &h,
        "bundle.js",
        format!(
            "const EventEmitter=require('events');{}",
            "var a=new EventEmitter();a.on('x',function(){});".repeat(110_000)
        ),
    );
    // Syntactically broken files of each language, each with a construct a detector
    // reports (so the prefilter lets it be parsed).
    write(
        &h,
        "broken.js",
        "const EventEmitter = require('events');\nconst bus = new EventEmitter();\nbus.on('x', => {\n",
    );
    write(
        &h,
        "broken.tsx",
        "import { EventEmitter } from 'events';\nconst bus = new EventEmitter();\nconst v = <div>{bus.emit('x'}</span>;\n",
    );
    write(&h, "broken.py", "import celery\ndef (:\n");
    write(
        &h,
        "broken.ts",
        "import { EventEmitter } from 'events';\nconst bus = new EventEmitter();\nclass { on( }\n",
    );
    write(&h, "broken.sql", "LISTEN ;\nNOTIFY ,,;\n");
    // Unterminated dollar quotes, tagged and not, at the end of a file and mid-file.
    write(
        &h,
        "dollar_eof.sql",
        "CREATE FUNCTION g() RETURNS trigger AS $$ BEGIN PERFORM pg_notify('c', 'x');",
    );
    write(
        &h,
        "dollar_tag.sql",
        "CREATE FUNCTION g() RETURNS void AS $fn$ BEGIN NOTIFY c; END $other$ LANGUAGE plpgsql;\nSELECT 1;\n",
    );
    write(&h, "dollar_bare.sql", "NOTIFY c, $");
    // Nested 50,000 levels deep, in each language.
    for (name, text) in deep_sources(50_000) {
        write(&h, &format!("deep/{name}"), text);
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::symlink;
        // A symlink loop (a -> b -> a), a link to an ancestor, a dangling link.
        symlink(h.join("loop_b.py"), h.join("loop_a.py")).unwrap();
        symlink(h.join("loop_a.py"), h.join("loop_b.py")).unwrap();
        symlink(&dir, h.join("ancestor")).unwrap();
        symlink(h.join("missing.py"), h.join("dangling.py")).unwrap();
        // A FIFO: opening it for reading would block forever.
        let fifo = h.join("pipe.py");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // A file name that is not UTF-8, holding a real finding.
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9_tasks.py");
        std::fs::write(h.join(name), GOOD_TASKS).unwrap();
    }

    let start = Instant::now();
    let report = scan(options(), std::slice::from_ref(&dir));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(120), "scan took {elapsed:?}");

    // The real projects' findings are all still there, at the same places.
    let all = findings(&report);
    for f in &baseline {
        assert!(all.contains(f), "lost {f:?} beside hostile files");
    }

    assert_eq!(error_of(&report, "hostile/elf.py").kind, "binary");
    assert_eq!(error_of(&report, "hostile/noise.ts").kind, "encoding");
    for name in ["latin1.sql", "overlong.py", "surrogate.tsx"] {
        assert_eq!(error_of(&report, name).kind, "encoding", "{name}");
    }
    assert_eq!(error_of(&report, "hostile/huge.py").kind, "too-large");
    for name in ["broken.js", "broken.tsx", "broken.py", "broken.ts"] {
        assert_eq!(error_of(&report, name).kind, "syntax", "{name}");
    }
    // Each SQL file with a dollar quote problem is a syntax error entry, not a hang.
    for name in ["dollar_eof.sql", "dollar_tag.sql"] {
        assert_eq!(error_of(&report, name).kind, "syntax", "{name}");
    }
    assert!(
        report
            .errors
            .iter()
            .all(|e| !e.path.contains("empty.") && !e.path.ends_with("bom_crlf.js")),
        "empty and BOM/CRLF files are fine: {:#?}",
        report.errors
    );
    // BOM + CRLF SQL is read: LISTEN on line 1 and the notify on line 2.
    let bom_sql: Vec<(&str, u32)> = report
        .facts
        .iter()
        .filter(|f| f.path.ends_with("bom_crlf.sql"))
        .map(|f| (f.kind.as_str(), f.line))
        .collect();
    assert!(bom_sql.contains(&("pg_listen", 1)), "{bom_sql:?}");
    assert!(bom_sql.contains(&("pg_notify", 2)), "{bom_sql:?}");
    // The 5 MB bundle is above the 2 MiB default size limit: an error entry, not parsed.
    assert_eq!(error_of(&report, "hostile/bundle.js").kind, "too-large");
    // Deep files: analysed (possibly with a syntax error entry), never a crash.
    for (name, _) in deep_sources(1) {
        let internal = report
            .errors
            .iter()
            .find(|e| e.path.ends_with(name) && e.kind == "internal");
        assert!(internal.is_none(), "{internal:?}");
    }
    #[cfg(unix)]
    {
        // Links lead nowhere: reported, not silently skipped; the others are counted.
        for name in ["loop_a.py", "loop_b.py", "dangling.py"] {
            let e = error_of(&report, &format!("hostile/{name}"));
            assert_eq!(e.kind, "io", "{e:?}");
            assert!(e.message.contains("symbolic link"), "{e:?}");
        }
        assert_eq!(report.files.skipped_by_reason.get("symlink"), Some(&1));
        assert_eq!(report.files.skipped_by_reason.get("special-file"), Some(&1));
        // The non-UTF-8 name is scanned; its path is shown with a replacement character.
        assert!(
            all.iter()
                .any(|(rule, path, line)| rule == "celery-unbounded-retries"
                    && path == "hostile/caf\u{fffd}_tasks.py"
                    && *line == 4),
            "{all:?}"
        );
    }
    // No file crashed the analysis.
    let internal: Vec<_> = report
        .errors
        .iter()
        .filter(|e| e.kind == "internal")
        .collect();
    assert!(internal.is_empty(), "{internal:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A FIFO given explicitly (as a hook would) is an error entry; the scan does not block.
#[cfg(unix)]
#[test]
fn explicit_fifo_does_not_block() {
    let dir = tempdir("fifo");
    let fifo = dir.join("pipe.py");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    write(&dir, "tasks.py", GOOD_TASKS);
    let (tx, rx) = std::sync::mpsc::channel();
    let paths = vec![fifo.clone(), dir.join("tasks.py")];
    std::thread::spawn(move || {
        let _ = tx.send(scan(ScanOptions::default(), &paths));
    });
    let report = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("scanning a FIFO must not block");
    let e = error_of(&report, "pipe.py");
    assert_eq!(e.kind, "io");
    assert!(e.message.contains("not a regular file"), "{e:?}");
    assert!(report.findings.iter().any(|f| f.path == "tasks.py"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file the process may not read. Root ignores permission bits, so when the file can be
/// read anyway the case is skipped with a message (documented in the README).
#[cfg(unix)]
#[test]
fn unreadable_file_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("unreadable");
    write(&dir, "secret.py", GOOD_TASKS);
    write(&dir, "tasks.py", GOOD_TASKS);
    let secret = dir.join("secret.py");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&secret).is_ok() {
        eprintln!(
            "SKIPPED unreadable_file_is_an_io_error: this process reads a mode-000 file (running as root), so no unreadable file can be made"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    let report = scan(ScanOptions::default(), std::slice::from_ref(&dir));
    assert_eq!(error_of(&report, "secret.py").kind, "io");
    assert!(report.findings.iter().any(|f| f.path == "tasks.py"));
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Pathological but well-formed files: detectors stay linear. 200,000 listener
/// registrations, a giant single line, many NOTIFY statements and tasks.
#[test]
fn pathological_files_are_bounded() {
    let dir = tempdir("patho");
    write(
        &dir,
        "listeners.js",
        format!(
            "const EventEmitter = require('events');\nconst bus = new EventEmitter();\n{}",
            "bus.on('x', () => {});\n".repeat(200_000)
        ),
    );
    write(
        &dir,
        "oneline.ts",
        format!(
            "import {{ EventEmitter }} from 'events'; const bus = new EventEmitter(); {}\n",
            "bus.emit('x', 1); ".repeat(100_000)
        ),
    );
    write(
        &dir,
        "notify.sql",
        "SELECT pg_notify('jobs', 'x'); LISTEN jobs;\n".repeat(60_000),
    );
    write(
        &dir,
        "tasks.py",
        "from celery import shared_task\n".to_string()
            + &(0..20_000)
                .map(|i| format!("@shared_task(max_retries=None)\ndef t{i}():\n    t{i}.delay()\n"))
                .collect::<String>(),
    );
    let options = ScanOptions {
        max_file_size: 16 << 20,
        include_vendored: true,
        // The budget is for detectors here: parsing 8 MB in a debug build on a busy machine
        // may exceed the default 10 s.
        parse_timeout: Duration::from_secs(200),
        detect_timeout: Duration::from_secs(200),
        ..ScanOptions::default()
    };
    let start = Instant::now();
    let report = scan(options, std::slice::from_ref(&dir));
    let elapsed = start.elapsed();
    eprintln!("pathological files scanned in {elapsed:?}");
    // Linear work on ~8 MB of source; a quadratic detector would take hours.
    assert!(elapsed < Duration::from_secs(240), "took {elapsed:?}");
    let listeners = report
        .facts
        .iter()
        .filter(|f| f.path == "listeners.js" && f.kind == "emitter_listen")
        .count();
    assert_eq!(listeners, 200_000, "{:#?}", report.errors);
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.path == "tasks.py" && f.rule == "celery-unbounded-retries")
            .count()
            == 20_000
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The parse budget holds: a file that takes longer than `parse_timeout` to parse is a
/// `timeout` error for that file, not a stall.
#[test]
fn parse_timeout_is_a_per_file_error() {
    let dir = tempdir("timeout");
    write(
        &dir,
        "big.js",
        format!(
            "const EventEmitter = require('events');\n{}",
            "const e = new EventEmitter(); e.on('x', () => { f(a, b, c); });\n".repeat(30_000)
        ),
    );
    write(&dir, "tasks.py", GOOD_TASKS);
    let options = ScanOptions {
        parse_timeout: Duration::from_micros(1),
        max_file_size: 16 << 20,
        ..ScanOptions::default()
    };
    let report = scan(options, std::slice::from_ref(&dir));
    assert_eq!(error_of(&report, "big.js").kind, "timeout");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The detection budget holds too: a file whose detection runs past `detect_timeout` is a
/// `timeout` error for that file with no facts (a half-read file would give wrong
/// conclusions), and the other files are analysed as usual.
#[test]
fn detect_timeout_is_a_per_file_error() {
    let dir = tempdir("detect-timeout");
    write(
        &dir,
        "bus.js",
        "const EventEmitter = require('events');\nconst e = new EventEmitter();\ne.on('x', () => {});\n",
    );
    write(&dir, "tasks.py", GOOD_TASKS);
    let options = ScanOptions {
        detect_timeout: Duration::ZERO,
        ..ScanOptions::default()
    };
    let report = scan(options, std::slice::from_ref(&dir));
    for path in ["bus.js", "tasks.py"] {
        let e = error_of(&report, path);
        assert_eq!(e.kind, "timeout", "{path}: {e:?}");
        assert!(e.message.contains("time budget"), "{}", e.message);
        assert!(
            report.facts.iter().all(|f| f.path != path),
            "{path} has no facts"
        );
    }
    // With the default budget the same files are analysed.
    let report = scan(ScanOptions::default(), std::slice::from_ref(&dir));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.facts.iter().any(|f| f.path == "bus.js"));
    assert!(report.facts.iter().any(|f| f.path == "tasks.py"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// JS/TS nested 50,000 levels in blocks or arrow functions, with the emitter's use at the
/// bottom. Detectors walk up from deep nodes; tree-sitter's `Node::parent()` searches down
/// from the root (O(depth)), which made those walks O(depth²) and stalled the scan for over
/// ten minutes. The traversal now keeps the path from the root (`FileCx::parent`,
/// `FileCx::ancestors`), so each step up is O(1); the constructs at the bottom are found.
fn deep_js_sources(depth: usize) -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "deep_blocks.js",
            format!(
                "const EventEmitter = require('events');\nconst bus = new EventEmitter();\n{}bus.on('x', () => {{}});{}\n",
                "{\n".repeat(depth),
                "}\n".repeat(depth)
            ),
            "emitter_listen",
        ),
        (
            "deep_arrows.ts",
            format!(
                "import {{ EventEmitter }} from 'events';\nconst bus = new EventEmitter();\nconst f = {}bus.emit('x'){};\n",
                "() => (\n".repeat(depth),
                ")\n".repeat(depth)
            ),
            "emitter_emit",
        ),
    ]
}

#[test]
fn deep_js_blocks_and_arrows_are_bounded() {
    let dir = tempdir("deep-js");
    for (name, text, kind) in deep_js_sources(50_000) {
        write(&dir, name, text);
        let start = Instant::now();
        let report = scan(ScanOptions::default(), &[dir.join(name)]);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name}: {:?}",
            start.elapsed()
        );
        assert!(report.errors.is_empty(), "{name}: {:?}", report.errors);
        let deep = report
            .facts
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("{name}: no {kind} fact in {:?}", report.facts));
        assert_eq!(deep.line, 50_003, "{name}: {kind} at the bottom");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each deeply nested file alone: analysed in bounded time, no internal error.
#[test]
fn each_deep_file_is_bounded() {
    let dir = tempdir("deep-each");
    for (name, text) in deep_sources(50_000) {
        write(&dir, name, text);
        let start = Instant::now();
        let report = scan(ScanOptions::default(), &[dir.join(name)]);
        let elapsed = start.elapsed();
        eprintln!("{name}: {elapsed:?} {:?}", report.errors);
        assert!(elapsed < Duration::from_secs(30), "{name} took {elapsed:?}");
        assert!(report.errors.iter().all(|e| e.kind != "internal"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
