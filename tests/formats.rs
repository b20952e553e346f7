//! The document and interchange formats on real scans of the bundled fixtures: SARIF
//! against the official 2.1.0 schema, AsyncAPI through the official parser, the HTML report
//! in a real headless Chromium, names from scanned code escaped in every format, and
//! snapshots of the Markdown report and of SARIF/AsyncAPI summaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use msgscan::render::{self, DocumentOptions};
use msgscan::{Report, ScanOptions, Scanner};
use msgscan_tests::fixtures_dir;
use serde_json::Value;

const XSS: &str = "<script>alert(1)</script>";
const XSS_IMG: &str = "<img src=x onerror=alert(2)>&amp;";

fn scanner(threads: usize) -> Scanner {
    Scanner::new(ScanOptions {
        threads: Some(threads),
        ..ScanOptions::default()
    })
    .unwrap()
}

fn scan(path: &Path) -> Report {
    scanner(2).scan(&[path]).unwrap()
}

fn project(name: &str) -> PathBuf {
    fixtures_dir().join("projects").join(name)
}

fn sarif_text(report: &Report) -> String {
    let mut out = Vec::new();
    render::sarif(report, scanner(1).rulebook().rules(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn asyncapi_text(report: &Report) -> String {
    let mut out = Vec::new();
    render::asyncapi(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn github_text(report: &Report) -> String {
    let mut out = Vec::new();
    render::github(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn tmp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msgscan-formats-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Markdown → HTML the way GitHub does (CommonMark + GFM tables), to see what a reader gets.
fn markdown_to_html(md: &str) -> String {
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    let parser = pulldown_cmark::Parser::new_ext(md, opts);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

fn mermaid_blocks(md: &str) -> Vec<&str> {
    md.split("```mermaid\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect()
}

#[test]
fn names_from_scanned_code_are_escaped_in_every_format() {
    let report = scan(&project("xss-names"));
    assert!(report.facts.iter().any(|f| f.name.as_deref() == Some(XSS)));
    assert!(report.findings.iter().any(|f| f.message.contains(XSS)));
    let options = DocumentOptions::default();

    // HTML: no live markup from the code, and the names are there as text.
    let html = render::html_string(&report, &options);
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "raw <script> in HTML");
    assert!(!lower.contains("<img"), "raw <img> in HTML");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;&amp;amp;"));
    assert!(html.contains("a|b]&quot;quoted&quot;`tick`"));

    // Markdown: rendered as GitHub would, the names are text, never elements.
    let md = render::markdown_string(&report, &options);
    let rendered = markdown_to_html(&md).to_lowercase();
    assert!(
        !rendered.contains("<script"),
        "markdown renders a <script> element"
    );
    assert!(
        !rendered.contains("<img"),
        "markdown renders an <img> element"
    );
    assert!(rendered.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The name with `|` and backticks neither splits a table cell nor opens code: its row
    // in section 7 has exactly the table's six cells.
    let row = rendered
        .lines()
        .find(|l| l.contains("<td>") && l.contains("quoted"))
        .unwrap_or_default()
        .to_string();
    let integration = rendered
        .split("<h2>7. integration specifications</h2>")
        .nth(1)
        .unwrap();
    let quoted_row = integration
        .split("<tr>")
        .find(|r| r.contains("quoted"))
        .expect("channel row in section 7");
    assert_eq!(quoted_row.matches("<td").count(), 6, "{quoted_row}\n{row}");
    // Mermaid labels carry entity codes only.
    let blocks = mermaid_blocks(&md);
    assert!(!blocks.is_empty());
    for b in &blocks {
        for line in b.lines() {
            if let Some(label) = line.split("[\"").nth(1) {
                let label = label.split("\"]").next().unwrap();
                assert!(
                    !label.contains(['<', '>', '"', '`', '|', '[', ']']),
                    "unescaped mermaid label: {line}"
                );
            }
        }
    }
    assert!(md.contains("#60;script#62;alert#40;1#41;#60;/script#62;"));

    // SARIF and AsyncAPI: valid JSON whose strings are the names, with <>& as \u escapes.
    for (format, text) in [
        ("sarif", sarif_text(&report)),
        ("asyncapi", asyncapi_text(&report)),
    ] {
        assert!(
            !text.contains('<') && !text.contains('>') && !text.contains('&'),
            "{format}"
        );
        assert!(
            text.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"),
            "{format}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.to_string().contains(XSS), "{format} lost the name");
    }
    let sarif: Value = serde_json::from_str(&sarif_text(&report)).unwrap();
    let messages: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["text"].as_str().unwrap())
        .collect();
    assert!(messages.iter().any(|m| m.contains(XSS)));
    let doc: Value = serde_json::from_str(&asyncapi_text(&report)).unwrap();
    let addresses: Vec<&str> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert!(addresses.contains(&XSS) && addresses.contains(&XSS_IMG));

    // GitHub annotations: one command per line, whatever the text.
    let gh = github_text(&report);
    assert_eq!(
        gh.lines().count(),
        report.findings.len() + report.errors.len()
    );
    assert!(gh.lines().all(|l| l.starts_with("::error ")
        || l.starts_with("::warning ")
        || l.starts_with("::notice ")));
}

#[test]
fn github_annotations_have_positions_and_escape_newlines() {
    let report = scan(&project("xss-names"));
    let gh = github_text(&report);
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "celery-unbounded-retries")
        .unwrap();
    let line = gh
        .lines()
        .find(|l| l.contains("celery-unbounded-retries"))
        .unwrap();
    assert!(line.starts_with(&format!(
        "::warning file=worker/celery_app.py,line={},col={},endLine={}",
        f.line, f.column, f.end_line
    )));
    // The message, help and docs link are one line: newlines are %0A.
    let message = line.split_once("::").unwrap().1.split_once("::").unwrap().1;
    assert!(message.starts_with("Task `<script>alert(1)</script>` sets `max_retries=None`"));
    assert_eq!(message.matches("%0A").count(), 2);
    assert!(line.contains("title=Task retries forever (celery-unbounded-retries)"));
}

fn sarif_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/sarif-2.1.0.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("sarif-2.1.0.schema.json", schema)
        .unwrap();
    let index = compiler
        .compile("sarif-2.1.0.schema.json", &mut schemas)
        .unwrap();
    (schemas, index)
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let (schemas, index) = sarif_schema();
    let root = fixtures_dir();
    let report = scan(&root);
    assert!(report.findings.len() > 10);
    let text = sarif_text(&report);
    let sarif: Value = serde_json::from_str(&text).unwrap();
    if let Err(e) = schemas.validate(&sarif, index) {
        panic!("SARIF does not match the 2.1.0 schema: {e:#}");
    }
    // The schema is not vacuous.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(schemas.validate(&broken, index).is_err());
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert!(schemas.validate(&broken, index).is_err());

    // Contents: every rule described, results tied to them, 1-based regions, fingerprints.
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), scanner(1).rulebook().rules().len());
    for r in rules {
        for field in [
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "helpUri",
            "defaultConfiguration",
        ] {
            assert!(!r[field].is_null(), "rule {} lacks {field}", r["id"]);
        }
        assert!(r["help"]["markdown"].as_str().unwrap().contains("**Fix:**"));
        assert!(r["properties"]["tags"].as_array().unwrap().len() >= 2);
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    for (res, f) in results.iter().zip(&report.findings) {
        assert_eq!(res["ruleId"], f.rule.as_str());
        assert_eq!(
            rules[res["ruleIndex"].as_u64().unwrap() as usize]["id"],
            f.rule.as_str()
        );
        assert_eq!(
            res["partialFingerprints"]["msgscanFingerprint/v1"],
            f.fingerprint.as_str()
        );
        let region = &res["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], f.line);
        assert_eq!(region["startColumn"], f.column);
        assert!(region["endLine"].as_u64().unwrap() >= u64::from(f.line));
        assert_eq!(
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            f.path.as_str()
        );
    }
    // Deterministic across thread counts.
    let one = sarif_text(&scanner(1).scan(&[&root]).unwrap());
    assert_eq!(one, text);
}

#[test]
fn sarif_reports_unanalysable_files_as_notifications() {
    let dir = tmp_dir("sarif-errors");
    std::fs::write(
        dir.join("tasks.py"),
        b"from celery import shared_task\n\x00\x01binary",
    )
    .unwrap();
    std::fs::write(
        dir.join("ok.py"),
        "from celery import shared_task\n\n@shared_task(max_retries=None)\ndef f():\n    pass\n",
    )
    .unwrap();
    let report = scan(&dir);
    assert!(!report.errors.is_empty());
    let sarif: Value = serde_json::from_str(&sarif_text(&report)).unwrap();
    let (schemas, index) = sarif_schema();
    schemas.validate(&sarif, index).unwrap();
    let notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), report.errors.len());
    assert!(
        notes[0]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("binary")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn asyncapi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asyncapi")
}

/// Runs the official parser on a document; `None` when its node_modules are not installed.
fn validate_asyncapi(doc: &str, tag: &str) -> Option<Value> {
    let dir = asyncapi_dir();
    if !dir.join("node_modules/@asyncapi/parser").is_dir() {
        eprintln!(
            "SKIPPED: {}/node_modules is absent; run `npm ci --prefix tests/asyncapi` (CI does) to validate AsyncAPI with @asyncapi/parser",
            dir.display()
        );
        return None;
    }
    let tmp = tmp_dir(&format!("asyncapi-{tag}"));
    let file = tmp.join("asyncapi.json");
    std::fs::write(&file, doc).unwrap();
    let out = Command::new("node")
        .arg(dir.join("validate.mjs"))
        .arg(&file)
        .output()
        .expect("node is needed when tests/asyncapi/node_modules is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "validator output is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_dir_all(&tmp);
    Some(result)
}

#[test]
fn asyncapi_is_valid_for_the_official_parser() {
    for (tag, path) in [("fixtures", fixtures_dir()), ("xss", project("xss-names"))] {
        let report = scan(&path);
        let doc = asyncapi_text(&report);
        let Some(result) = validate_asyncapi(&doc, tag) else {
            return;
        };
        assert_eq!(result["valid"], true, "{tag}: {result:#}");
        assert_eq!(result["channels"], report.topology.channels.len(), "{tag}");
        let sends = report
            .topology
            .channels
            .iter()
            .filter(|c| !c.producers.is_empty())
            .count();
        let receives = report
            .topology
            .channels
            .iter()
            .filter(|c| !c.consumers.is_empty())
            .count();
        assert_eq!(result["sends"], sends, "{tag}");
        assert_eq!(result["receives"], receives, "{tag}");
    }
    // The check can fail: a broken reference is an error for the parser.
    let report = scan(&project("flask-celery"));
    let mut doc = render::asyncapi_value(&report);
    let op = doc["operations"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    op["channel"]["$ref"] = "#/channels/does_not_exist".into();
    if let Some(result) = validate_asyncapi(&doc.to_string(), "broken") {
        assert_eq!(result["valid"], false, "{result:#}");
    }
}

fn find_chromium() -> Option<PathBuf> {
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// What Chromium made of a page: the console messages it logged (script errors, CSP
/// violations, blocked loads), the screenshot and the DOM.
struct Rendered {
    console: Vec<String>,
    png: Vec<u8>,
    dom: String,
}

fn render_in_chromium(chromium: &Path, html: &str, tag: &str) -> Rendered {
    let dir = tmp_dir(tag);
    let page = dir.join("page.html");
    std::fs::write(&page, html).unwrap();
    let png = dir.join("page.png");
    let url = format!("file://{}", page.display());
    let shot = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg("--enable-logging=stderr")
        .arg("--v=0")
        .arg(&url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "chromium failed: {stderr}");
    // Chromium logs every console message as `INFO:CONSOLE(...)`; a CSP violation, a
    // blocked load or a script error is one.
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Content Security Policy"))
        .map(str::to_string)
        .collect();
    let dom = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let rendered = Rendered {
        console,
        png: std::fs::read(&png).unwrap_or_default(),
        dom: String::from_utf8_lossy(&dom.stdout).into_owned(),
    };
    if let Ok(keep) = std::env::var("MSGSCAN_SCREENSHOT") {
        std::fs::write(format!("{keep}.{tag}.png"), &rendered.png).unwrap();
        std::fs::write(format!("{keep}.{tag}.html"), html).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
    rendered
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(chromium) = find_chromium() else {
        eprintln!(
            "SKIPPED: no chromium on PATH; `.ci/run` installs Debian's `chromium` so CI runs this test"
        );
        return;
    };
    let report = scan(&fixtures_dir());
    let html = render::html_string(&report, &DocumentOptions::default());
    // Self-contained: nothing is loaded from anywhere.
    for needle in [
        "<script",
        "<link",
        "@import",
        "src=\"http",
        "url(http",
        "href=\"//",
    ] {
        assert!(!html.contains(needle), "HTML references {needle}");
    }
    let page = render_in_chromium(&chromium, &html, "fixtures");
    assert!(
        page.console.is_empty(),
        "console messages: {:#?}",
        page.console
    );
    assert_eq!(&page.png[1..4], b"PNG");
    assert!(
        page.png.len() > 50_000,
        "screenshot is nearly empty: {} bytes",
        page.png.len()
    );

    // The DOM as Chromium built it: every section, the score cards and the SVG topology.
    for heading in [
        "1. Executive Summary",
        "2. Current State Analysis",
        "3. Messaging Architecture Strategy",
        "4. Technology-Specific Implementation Guide",
        "5. Implementation Roadmap",
        "6. Monitoring &amp; Reliability Framework",
        "7. Integration Specifications",
        "8. Analyzer coverage",
    ] {
        assert!(
            page.dom.contains(&format!("{heading}</h2>")),
            "DOM lacks {heading}"
        );
    }
    assert!(page.dom.contains("class=\"overall\""));
    assert_eq!(
        page.dom.matches("<svg class=\"topology\"").count(),
        render::topology::panels(&report).len()
    );
    assert!(page.dom.contains(&report.findings[0].rule));
}

#[test]
fn chromium_check_catches_scripts_and_remote_loads() {
    // The console check above can fail: the same report with one injected script and one
    // remote image is caught by the page's Content-Security-Policy and logged.
    let Some(chromium) = find_chromium() else {
        eprintln!("SKIPPED: no chromium on PATH; `.ci/run` installs it");
        return;
    };
    let report = scan(&project("xss-names"));
    let html = render::html_string(&report, &DocumentOptions::default()).replace(
        "</main>",
        "<script>document.title='ran'</script><img src=\"https://example.invalid/x.png\"></main>",
    );
    let page = render_in_chromium(&chromium, &html, "injected");
    assert!(
        page.console.len() >= 2,
        "violations not logged: {:#?}",
        page.console
    );
    assert!(!page.dom.contains("<title>ran</title>"));
}

#[test]
fn xss_report_loads_in_chromium_without_running_anything() {
    let Some(chromium) = find_chromium() else {
        eprintln!("SKIPPED: no chromium on PATH; `.ci/run` installs it");
        return;
    };
    let report = scan(&project("xss-names"));
    let html = render::html_string(&report, &DocumentOptions::default());
    let page = render_in_chromium(&chromium, &html, "xss");
    let dom = page.dom.to_lowercase();
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !dom.contains("<script") && !dom.contains("<img"),
        "the DOM holds an element from scanned code"
    );
    assert!(page.console.is_empty(), "{:#?}", page.console);
}

#[test]
fn documents_are_deterministic_and_complete() {
    let root = fixtures_dir();
    let a = scanner(1).scan(&[&root]).unwrap();
    let b = scanner(2).scan(&[&root]).unwrap();
    let options = DocumentOptions::default();
    assert_eq!(
        render::markdown_string(&a, &options),
        render::markdown_string(&b, &options)
    );
    assert_eq!(
        render::html_string(&a, &options),
        render::html_string(&b, &options)
    );
    assert_eq!(asyncapi_text(&a), asyncapi_text(&b));
    assert_eq!(github_text(&a), github_text(&b));

    let md = render::markdown_string(&a, &options);
    for h in [
        "## 1. Executive Summary",
        "## 2. Current State Analysis",
        "## 3. Messaging Architecture Strategy",
        "## 4. Technology-Specific Implementation Guide",
        "## 5. Implementation Roadmap",
        "## 6. Monitoring & Reliability Framework",
        "## 7. Integration Specifications",
        "## 8. Analyzer coverage",
    ] {
        assert!(md.contains(h), "{h}");
    }
    // Every finding appears in the appendix; every channel in section 7.
    for f in &a.findings {
        assert!(
            md.contains(&format!("`{}:{}`", f.path, f.line)),
            "{}:{}",
            f.path,
            f.line
        );
    }
    assert_eq!(
        md.matches("```mermaid").count(),
        render::topology::panels(&a).len()
    );
}

#[test]
fn narrative_is_specific_to_the_project_and_replaceable() {
    let all = scan(&fixtures_dir());
    let summary = render::Narrative::from_report(&all, &Default::default())
        .executive_summary
        .plain_text();
    let top = render::view::top_findings(&all, 3);
    assert_eq!(top.len(), 3);
    assert_eq!(top[0].severity, msgscan::Severity::Error);
    for f in top {
        assert!(summary.contains(&f.rule), "{summary}");
        assert!(
            summary.contains(&format!("{}:{}", f.path, f.line)),
            "{summary}"
        );
    }
    assert!(
        summary.contains(&format!("{}/100", all.scores.overall)),
        "{summary}"
    );

    let report = scan(&project("flask-celery"));
    let n = render::Narrative::from_report(&report, &Default::default());
    let summary = n.executive_summary.plain_text();
    assert!(
        summary.contains(&format!("{}/100", report.scores.overall)),
        "{summary}"
    );
    // Its one finding (an info) is named with its place.
    assert!(
        summary.contains("celery-acks-late-without-reject-on-worker-lost at app/worker.py:8"),
        "{summary}"
    );
    let strategy = n.strategy.plain_text();
    assert!(
        strategy.contains("billing.charge"),
        "names the channel without consumer: {strategy}"
    );
    let monitoring = n.monitoring.plain_text();
    assert!(monitoring.contains("3 tasks"), "{monitoring}");
    assert!(
        n.roadmap
            .plain_text()
            .contains("celery-acks-late-without-reject-on-worker-lost"),
        "{}",
        n.roadmap.plain_text()
    );
    let xss = scan(&project("xss-names"));
    let roadmap = render::Narrative::from_report(&xss, &Default::default())
        .roadmap
        .plain_text();
    assert!(roadmap.contains("Phase 1: Harden delivery"), "{roadmap}");
    assert!(
        roadmap.contains("celery-unbounded-retries (1 site, small effort)"),
        "{roadmap}"
    );

    // A later pass replaces exactly the narrative sections; the data sections stay.
    let mut other = n.clone();
    other.origin = render::narrative::NarrativeOrigin::Model {
        name: "test-model".into(),
    };
    other.executive_summary = render::narrative::Section {
        blocks: vec![render::narrative::Block::Paragraph(vec![
            render::narrative::Inline::Text("Rewritten summary.".into()),
        ])],
    };
    other
        .notes
        .push("The model's strategy failed validation; the template text is kept.".into());
    let options = DocumentOptions {
        narrative: Some(other),
        ..DocumentOptions::default()
    };
    let md = render::markdown_string(&report, &options);
    let template = render::markdown_string(&report, &DocumentOptions::default());
    assert!(md.contains("Rewritten summary."));
    assert!(md.contains("test\\-model") || md.contains("`test-model`"));
    assert!(!md.contains("msgscan analysed") && template.contains("msgscan analysed"));
    let tail = |s: &str| {
        s.split("## 2. Current State Analysis")
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(tail(&md), tail(&template));
}

#[test]
fn report_without_messaging_code_says_so() {
    let dir = tmp_dir("empty");
    std::fs::write(dir.join("app.py"), "print('hello')\n").unwrap();
    std::fs::write(dir.join("notes.rb"), "puts 1\n").unwrap();
    let report = scan(&dir);
    let md = render::markdown_string(&report, &DocumentOptions::default());
    assert!(md.contains("found no messaging construct"));
    assert!(md.contains("No channels were linked."));
    assert!(md.contains("Files in languages msgscan has no analyser for: 1."));
    let html = render::html_string(&report, &DocumentOptions::default());
    assert!(html.contains("No channels were linked."));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A compact, reviewable summary of a SARIF log.
fn sarif_summary(sarif: &Value) -> String {
    let run = &sarif["runs"][0];
    let mut out = String::new();
    out.push_str(&format!(
        "schema {}\nversion {}\n",
        sarif["$schema"], sarif["version"]
    ));
    for r in run["tool"]["driver"]["rules"].as_array().unwrap() {
        out.push_str(&format!(
            "rule {} {} level={} category={}\n",
            r["id"].as_str().unwrap(),
            r["name"].as_str().unwrap(),
            r["defaultConfiguration"]["level"].as_str().unwrap(),
            r["properties"]["category"].as_str().unwrap()
        ));
    }
    for r in run["results"].as_array().unwrap() {
        let loc = &r["locations"][0]["physicalLocation"];
        let reg = &loc["region"];
        out.push_str(&format!(
            "result {} {} {}:{}:{}-{}:{} fp={} {}\n",
            r["ruleId"].as_str().unwrap(),
            r["level"].as_str().unwrap(),
            loc["artifactLocation"]["uri"].as_str().unwrap(),
            reg["startLine"],
            reg["startColumn"],
            reg["endLine"],
            reg["endColumn"],
            r["partialFingerprints"]["msgscanFingerprint/v1"]
                .as_str()
                .unwrap(),
            r["message"]["text"].as_str().unwrap()
        ));
    }
    out
}

fn asyncapi_summary(doc: &Value) -> String {
    let mut out = format!("asyncapi {}\n", doc["asyncapi"]);
    for (k, c) in doc["channels"].as_object().unwrap() {
        out.push_str(&format!("channel {k} address={}\n", c["address"]));
    }
    for (k, o) in doc["operations"].as_object().unwrap() {
        out.push_str(&format!(
            "operation {k} {} {} {}\n",
            o["action"].as_str().unwrap(),
            o["channel"]["$ref"].as_str().unwrap(),
            o["description"].as_str().unwrap()
        ));
    }
    out
}

#[test]
fn snapshot_markdown_report() {
    for name in ["flask-celery", "xss-names"] {
        let mut report = scan(&project(name));
        // The root is the absolute path scanned; keep the snapshot machine-independent.
        report.root = name.to_string();
        insta::assert_snapshot!(
            format!("markdown_{}", name.replace('-', "_")),
            render::markdown_string(&report, &DocumentOptions::default())
        );
    }
}

#[test]
fn snapshot_sarif_and_asyncapi_summaries() {
    let mut report = scan(&project("flask-celery"));
    report.root = "flask-celery".into();
    let sarif: Value = serde_json::from_str(&sarif_text(&report)).unwrap();
    insta::assert_snapshot!("sarif_summary_flask_celery", sarif_summary(&sarif));
    let doc: Value = serde_json::from_str(&asyncapi_text(&report)).unwrap();
    insta::assert_snapshot!("asyncapi_summary_flask_celery", asyncapi_summary(&doc));
    let mut xss = scan(&project("xss-names"));
    xss.root = "xss-names".into();
    let sarif: Value = serde_json::from_str(&sarif_text(&xss)).unwrap();
    insta::assert_snapshot!("sarif_summary_xss_names", sarif_summary(&sarif));
    insta::assert_snapshot!("github_xss_names", github_text(&xss));
}

/// A project with dozens of channels: 60 Celery tasks called from 3 modules and 30
/// EventEmitter events.
fn large_project() -> PathBuf {
    let dir = tmp_dir("large");
    let mut tasks = String::from("from celery import shared_task\n\n");
    for i in 0..60 {
        tasks.push_str(&format!(
            "\n@shared_task(name=\"billing.step_{i:02}\", max_retries={})\ndef step_{i:02}(x):\n    return x\n\n",
            if i % 7 == 0 { "None" } else { "3" }
        ));
    }
    std::fs::write(dir.join("tasks.py"), tasks).unwrap();
    for m in 0..3 {
        let mut views = String::from("from celery import current_app as app\n\n\ndef run(x):\n");
        for i in (m..60).step_by(3) {
            views.push_str(&format!(
                "    app.send_task(\"billing.step_{i:02}\", args=[x])\n"
            ));
        }
        std::fs::write(dir.join(format!("views_{m}.py")), views).unwrap();
    }
    let mut js = String::from(
        "const { EventEmitter } = require('events');\nconst bus = new EventEmitter();\nbus.on('error', () => {});\n",
    );
    for i in 0..30 {
        js.push_str(&format!(
            "bus.on('order.event_{i:02}', (o) => o);\nbus.emit('order.event_{i:02}', {{}});\n"
        ));
    }
    std::fs::write(dir.join("bus.js"), js).unwrap();
    dir
}

#[test]
fn large_topology_is_split_into_readable_panels() {
    let dir = large_project();
    let report = scan(&dir);
    assert_eq!(
        report
            .topology
            .channels
            .iter()
            .filter(|c| c.transport == "celery")
            .count(),
        60
    );
    let panels = render::topology::panels(&report);
    let sizes: Vec<(String, usize, usize)> = panels
        .iter()
        .map(|p| (p.transport.clone(), p.part, p.channels.len()))
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("celery".to_string(), 1, 24),
            ("celery".to_string(), 2, 24),
            ("celery".to_string(), 3, 12),
            ("node_events".to_string(), 1, 24),
            ("node_events".to_string(), 2, 7),
        ]
    );
    for p in &panels {
        // Every channel keeps its edges inside its panel.
        assert!(
            p.produce
                .iter()
                .all(|(a, b)| *a < p.producers.len() && *b < p.channels.len())
        );
        assert!(
            p.consume
                .iter()
                .all(|(a, b)| *a < p.channels.len() && *b < p.consumers.len())
        );
        assert!(
            p.producers.len() <= 3 && p.consumers.len() == 1,
            "{}",
            p.heading()
        );
    }
    // Findings are marked on the nodes: every 7th task retries forever.
    let marked: usize = panels
        .iter()
        .flat_map(|p| &p.channels)
        .filter(|c| c.marks.count > 0)
        .count();
    assert_eq!(marked, 9);
    let md = render::markdown_string(&report, &DocumentOptions::default());
    assert_eq!(mermaid_blocks(&md).len(), 5);
    assert!(md.contains("#### Celery tasks (part 3 of 3)"));
    let html = render::html_string(&report, &DocumentOptions::default());
    assert_eq!(html.matches("<svg class=\"topology\"").count(), 5);
    if let Some(chromium) = find_chromium() {
        let page = render_in_chromium(&chromium, &html, "large");
        assert!(page.console.is_empty(), "{:#?}", page.console);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Renders the Markdown report's Mermaid diagrams with Mermaid itself (the npm package in
/// `tests/mermaid/`, as GitHub does in the browser) in headless Chromium. `None` when
/// Chromium or the package is missing.
fn render_mermaid(md: &str, tag: &str) -> Option<(Value, String)> {
    let Some(chromium) = find_chromium() else {
        eprintln!("SKIPPED: no chromium on PATH; `.ci/run` installs it");
        return None;
    };
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("mermaid/node_modules/mermaid/dist/mermaid.min.js");
    if !js.is_file() {
        eprintln!(
            "SKIPPED: {} is absent; run `npm ci --prefix tests/mermaid` (CI does)",
            js.display()
        );
        return None;
    }
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script src=\"file://{}\"></script></head><body>\n",
        js.display()
    );
    for (i, block) in mermaid_blocks(md).iter().enumerate() {
        page.push_str(&format!(
            "<pre class=\"mermaid\" id=\"d{i}\">{}</pre>\n",
            escape(block)
        ));
    }
    page.push_str(
        r#"<script>
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
(async () => {
  const errors = [];
  for (const el of document.querySelectorAll('pre.mermaid')) {
    try { await mermaid.parse(el.textContent); } catch (e) { errors.push(el.id + ': ' + e.message); }
  }
  try { await mermaid.run({ querySelector: 'pre.mermaid' }); } catch (e) { errors.push('run: ' + e.message); }
  const r = document.createElement('div');
  r.id = 'result';
  r.textContent = JSON.stringify({ errors, diagrams: document.querySelectorAll('pre.mermaid').length, svgs: document.querySelectorAll('pre.mermaid svg').length });
  document.body.appendChild(r);
})();
</script></body></html>
"#,
    );
    let dir = tmp_dir(&format!("mermaid-{tag}"));
    let file = dir.join("page.html");
    std::fs::write(&file, &page).unwrap();
    let out = Command::new(&chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--allow-file-access-from-files")
        .arg("--virtual-time-budget=20000")
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Ok(keep) = std::env::var("MSGSCAN_SCREENSHOT") {
        std::fs::write(format!("{keep}.mermaid-{tag}.dom.html"), &dom).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let result = dom
        .split("<div id=\"result\">")
        .nth(1)
        .and_then(|r| r.split("</div>").next())
        .unwrap_or_else(|| {
            panic!(
                "mermaid did not finish: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let result = result
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    Some((serde_json::from_str(&result).unwrap(), dom))
}

#[test]
fn mermaid_diagrams_render_with_mermaid() {
    for (tag, path) in [("xss", project("xss-names")), ("fixtures", fixtures_dir())] {
        let report = scan(&path);
        let md = render::markdown_string(&report, &DocumentOptions::default());
        let Some((result, dom)) = render_mermaid(&md, tag) else {
            return;
        };
        let panels = render::topology::panels(&report).len();
        assert_eq!(result["errors"], serde_json::json!([]), "{tag}: {result:#}");
        assert_eq!(result["diagrams"], panels, "{tag}");
        assert_eq!(result["svgs"], panels, "{tag}");
        if tag == "xss" {
            // The labels show the names as text; no element came out of them.
            let start = dom.find("<pre class=\"mermaid\"").unwrap();
            let end = dom.rfind("</pre>").unwrap();
            let svg = dom[start..end].to_lowercase();
            assert!(
                svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "label text missing"
            );
            assert!(!svg.contains("<script"), "an element came out of a label");
            assert!(!svg.contains("<img"), "an element came out of a label");
        }
    }
    // The check can fail: a broken diagram is reported.
    if let Some((result, _)) = render_mermaid(
        "```mermaid\nflowchart LR\n  a[\"x\"] --> \n  b[[[\n```\n",
        "broken",
    ) {
        assert_ne!(result["errors"], serde_json::json!([]), "{result:#}");
    }
}
