//! Safe output: secrets written in scanned code (broker passwords, API keys, tokens) never
//! appear in any output format, and names from scanned code cannot inject markup or
//! terminal escapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use msgscan::render::{self, DocumentOptions, HumanOptions};
use msgscan::{Report, ScanOptions, Scanner};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msgscan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every output format of a report, by name.
fn outputs(scanner: &Scanner, report: &Report) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    render::json(report, &mut buf).unwrap();
    out.push(("json", String::from_utf8(std::mem::take(&mut buf)).unwrap()));
    render::sarif(report, scanner.rulebook().rules(), &mut buf).unwrap();
    out.push((
        "sarif",
        String::from_utf8(std::mem::take(&mut buf)).unwrap(),
    ));
    render::human(report, HumanOptions::default(), &mut buf).unwrap();
    out.push((
        "human",
        String::from_utf8(std::mem::take(&mut buf)).unwrap(),
    ));
    render::human(
        report,
        HumanOptions {
            color: true,
            ..HumanOptions::default()
        },
        &mut buf,
    )
    .unwrap();
    out.push((
        "human-color",
        String::from_utf8(std::mem::take(&mut buf)).unwrap(),
    ));
    render::github(report, &mut buf).unwrap();
    out.push((
        "github",
        String::from_utf8(std::mem::take(&mut buf)).unwrap(),
    ));
    render::asyncapi(report, &mut buf).unwrap();
    out.push((
        "asyncapi",
        String::from_utf8(std::mem::take(&mut buf)).unwrap(),
    ));
    let options = DocumentOptions::default();
    out.push(("markdown", render::markdown_string(report, &options)));
    out.push(("html", render::html_string(report, &options)));
    out
}

const BROKER_PASSWORD: &str = "Br0kerPassw0rdXYZ";
const BACKEND_PASSWORD: &str = "R3disPassw0rdQRS";
const RABBIT_PASSWORD: &str = "RabbitS3cretLMN";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const STRIPE_KEY: &str = "sk_live_51HxYzSECRETstripeKEY0123456789";
const WEBHOOK_SECRET: &str = "whsec_SECRETsigningKEY0123456789abcd";
// {"alg":"HS256","typ":"JWT"} . {"role":"service_role"} . signature
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlX3NlY3JldF94eXo";

fn secret_project(dir: &Path) {
    write(
        dir,
        "worker/celery_app.py",
        &format!(
            "import boto3\nfrom celery import Celery\n\nAWS_ACCESS_KEY_ID = '{AWS_KEY}'\nAWS_SECRET_ACCESS_KEY = '{AWS_SECRET}'\n\napp = Celery('worker', broker='redis://user:{BROKER_PASSWORD}@redis.prod.example.net:6379/0', backend='redis://:{BACKEND_PASSWORD}@cache.prod.example.net:6379/1')\napp.conf.broker_url = 'amqp://admin:{RABBIT_PASSWORD}@mq.example.com:5672//'\n\n\n@app.task(max_retries=None)\ndef sync(account_id):\n    s3 = boto3.client('s3', aws_access_key_id='{AWS_KEY}', aws_secret_access_key='{AWS_SECRET}')\n    return s3\n"
        ),
    );
    write(
        dir,
        "web/supabase.ts",
        &format!(
            "import {{ createClient }} from '@supabase/supabase-js';\n\nexport const supabase = createClient('https://abcd.supabase.co', '{JWT}');\n\nsupabase.channel('room').on('broadcast', {{ event: 'msg' }}, (p) => console.log(p)).subscribe();\n"
        ),
    );
    write(
        dir,
        "web/webhook.js",
        &format!(
            "const express = require('express');\nconst stripe = require('stripe')('{STRIPE_KEY}');\nconst endpointSecret = '{WEBHOOK_SECRET}';\nconst app = express();\n\napp.post('/webhook', express.json(), (req, res) => {{\n  const event = req.body; // '{STRIPE_KEY}'\n  if (event.type === 'payment_intent.succeeded') {{ fulfil(event.data.object); }}\n  res.json({{ received: true, key: '{AWS_KEY}' }});\n}});\n"
        ),
    );
}

#[test]
fn secrets_in_code_are_masked_in_every_output() {
    let dir = tempdir("secrets");
    secret_project(&dir);
    let scanner = Scanner::new(ScanOptions::default()).unwrap();
    let report = scanner.scan(&[&dir]).unwrap();
    // The secrets sit on lines with findings, so snippets would show them.
    let rules: Vec<(&str, &str, u32)> = report
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.path.as_str(), f.line))
        .collect();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.path == "worker/celery_app.py" && f.line == 7),
        "a finding on the broker URL line: {rules:#?} {:#?} {:?}",
        report.errors,
        report.files
    );
    assert!(
        report.findings.iter().any(|f| f.path == "web/supabase.ts"),
        "a finding on the Supabase client: {rules:#?}"
    );
    assert!(
        report.findings.iter().any(|f| f.path == "web/webhook.js"),
        "a finding on the webhook: {rules:#?}"
    );
    for (format, text) in outputs(&scanner, &report) {
        for secret in [
            BROKER_PASSWORD,
            BACKEND_PASSWORD,
            RABBIT_PASSWORD,
            AWS_KEY,
            AWS_SECRET,
            STRIPE_KEY,
            WEBHOOK_SECRET,
            JWT,
            // The JWT's signature alone is a secret too.
            "c2lnbmF0dXJlX3NlY3JldF94eXo",
        ] {
            assert!(
                !text.contains(secret),
                "{format} output shows the secret {secret}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Names from scanned code with markup, Markdown, terminal escapes and workflow-command
/// syntax are neutralised in every format that would interpret them.
#[test]
fn hostile_names_are_escaped_in_every_output() {
    let dir = tempdir("names");
    let evil = "<img src=x onerror=alert(1)>\u{1b}]8;;http://evil\u{7}click\u{1b}]8;;\u{7}\u{1b}[2J`|*[x](javascript:alert(1))%0A::error::pwned";
    write(
        &dir,
        "tasks.py",
        &format!(
            "from celery import shared_task\n\n\n@shared_task(name='{evil}', max_retries=None)\ndef sync(account_id):\n    return account_id\n\n\nsync.delay(1)\n"
        ),
    );
    let scanner = Scanner::new(ScanOptions::default()).unwrap();
    let report = scanner.scan(&[&dir]).unwrap();
    assert!(
        report.facts.iter().any(|f| f.name.as_deref() == Some(evil)),
        "the name is read as written: {:#?}",
        report.facts
    );
    for (format, text) in outputs(&scanner, &report) {
        match format {
            "human" | "human-color" | "github" | "markdown" | "html" => {
                assert!(
                    !text.contains('\u{1b}') || format == "human-color",
                    "{format}: raw ESC from the scanned code"
                );
                assert!(!text.contains('\u{7}'), "{format}: raw BEL");
            }
            _ => {}
        }
        match format {
            "html" => assert!(!text.contains("<img src=x"), "html: raw markup"),
            "markdown" => {
                // Rendered as CommonMark, the name is text: no tag, no live link.
                let mut html = String::new();
                pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new(&text));
                assert!(!html.contains("<img"), "markdown renders an <img> tag");
                assert!(
                    !html.contains("href=\"javascript:"),
                    "markdown renders a javascript: link"
                );
            }
            "github" => {
                // One workflow command per finding or error: the name's `%0A::error::`
                // stays inside its line, where GitHub does not read commands.
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len(), report.findings.len() + report.errors.len());
                assert!(lines.iter().all(|l| l.starts_with("::")), "{text}");
                assert!(!lines.iter().any(|l| l.starts_with("::error::pwned")));
            }
            "human-color" => {
                // Colour codes are msgscan's own SGR sequences; none come from the name.
                for (i, _) in text.match_indices('\u{1b}') {
                    let rest = &text[i + 1..];
                    let sgr = rest.strip_prefix('[').is_some_and(|r| {
                        let end = r.find(|c: char| !c.is_ascii_digit() && c != ';');
                        end.is_some_and(|e| r[e..].starts_with('m'))
                    });
                    assert!(
                        sgr,
                        "human-color: non-SGR escape {:?}",
                        &rest[..rest.len().min(12)]
                    );
                }
            }
            _ => {}
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Only the lines snippets can show are kept until the report is written: the lines around
/// each fact (two on each side) and the first line; every other line is emptied, so the
/// kept lines keep their line numbers, and a large file costs memory by its facts, not its
/// size. A secret on a kept line is masked.
#[test]
fn kept_source_is_the_lines_around_facts() {
    let dir = tempdir("kept-source");
    let mut text = String::from("from celery import Celery\n");
    for i in 2..=400 {
        text.push_str(&match i {
            200 => "app = Celery('jobs', broker='redis://:hunter2secret@cache:6379/0')\n".into(),
            300 => "app.conf.task_serializer = 'pickle'\n".into(),
            _ => format!("filler_{i} = {i}  # padding line {i}\n"),
        });
    }
    write(&dir, "jobs.py", &text);
    let scanner = Scanner::new(ScanOptions::default()).unwrap();
    let report = scanner.scan(std::slice::from_ref(&dir)).unwrap();
    let fact_lines: Vec<u32> = report.facts.iter().map(|f| f.line).collect();
    assert!(fact_lines.contains(&200), "facts at {fact_lines:?}");
    assert!(
        report.findings.iter().any(|f| f.path == "jobs.py"),
        "a finding keeps the source"
    );
    let kept = &report.sources["jobs.py"];
    let original: Vec<&str> = text.lines().collect();
    let lines: Vec<&str> = kept.lines().collect();
    assert_eq!(lines.len(), original.len(), "line numbers are the file's");
    for (i, line) in lines.iter().enumerate() {
        let n = i as u32 + 1;
        let near = n == 1 || fact_lines.iter().any(|&f| f.abs_diff(n) <= 2);
        match (near, n) {
            (true, 200) => {
                assert!(line.starts_with("app = Celery('jobs', broker='redis://:"));
                assert!(!line.contains("hunter2secret"), "secret masked: {line}");
            }
            (true, _) => assert_eq!(*line, original[i], "line {n} kept"),
            (false, _) => assert_eq!(*line, "", "line {n} emptied"),
        }
    }
    assert!(
        kept.len() < text.len() / 10,
        "{} of {} bytes kept",
        kept.len(),
        text.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
