//! `msgscan init`: write a commented `msgscan.toml` tuned to what a scan of the project
//! finds (which families are present, which rules fire, where tests live).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use msgscan::Report;

/// The rule-id prefix of the family a transport belongs to.
fn families(transport: &str) -> &'static [&'static str] {
    match transport {
        "celery" => &["celery"],
        "node_events" | "worker_threads" | "cluster" | "stream" => &["node"],
        "pg_notify" => &["pg"],
        "socketio" => &["socketio"],
        "thread" => &["flask"],
        "webhook" => &["webhook"],
        t if t.starts_with("supabase") => &["supabase"],
        _ => &[],
    }
}

/// Test directories at the top of the project that exist.
fn test_dirs(root: &Path) -> Vec<&'static str> {
    ["tests", "test", "spec", "__tests__"]
        .into_iter()
        .filter(|d| root.join(d).is_dir())
        .collect()
}

/// The text of a `msgscan.toml` for the scanned project.
pub fn template(root: &Path, report: &Report) -> String {
    let mut by_family: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.facts {
        for fam in families(&f.transport) {
            *by_family.entry(fam).or_insert(0) += 1;
        }
    }
    let mut by_rule: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for f in &report.findings {
        let e = by_rule
            .entry(f.rule.as_str())
            .or_insert((0, f.severity.as_str()));
        e.0 += 1;
    }
    let mut t = String::new();
    let _ = writeln!(t, "# msgscan configuration, written by `msgscan init`.");
    let _ = writeln!(
        t,
        "# Every key is optional; the command line outranks this file. Reference: the\n# \"Configuration\" section of msgscan's README and schemas/config.schema.json.\n"
    );
    if by_family.is_empty() {
        let _ = writeln!(
            t,
            "# The scan found no messaging construct yet: every rule stays on."
        );
    } else {
        let _ = writeln!(t, "# What the scan found ({} files):", report.files.scanned);
        for (fam, n) in &by_family {
            let _ = writeln!(t, "#   {fam:<10} {n} constructs");
        }
    }
    let mut select: Vec<String> = by_family.keys().map(|f| format!("\"{f}\"")).collect();
    select.push("\"topology\"".into());
    select.push("\"unused-suppression\"".into());
    let _ = writeln!(
        t,
        "# To judge only these families (new families then need adding here), uncomment:\n# select = [{}]\n",
        select.join(", ")
    );
    let _ = writeln!(t, "# Exit 1 when a finding is at or above this severity.");
    let _ = writeln!(t, "fail-on = \"error\"\n");
    if by_rule.is_empty() {
        let _ = writeln!(t, "# No rule fires today.\nignore = []\n");
    } else {
        let _ = writeln!(
            t,
            "# Rules that fire today (`msgscan rules <id>` explains each). Fix them, or ignore\n# a rule here, or adopt a baseline: `msgscan scan --write-baseline .msgscan-baseline.json`."
        );
        let _ = writeln!(t, "ignore = [");
        for (rule, (n, severity)) in &by_rule {
            let _ = writeln!(t, "  # \"{rule}\",  # {n} finding(s), {severity}");
        }
        let _ = writeln!(t, "]\n");
    }
    let tests = test_dirs(root);
    if tests.is_empty() {
        let _ = writeln!(
            t,
            "# Paths not to read, e.g. generated code:\nexclude = []\n"
        );
    } else {
        let _ = writeln!(
            t,
            "# Test code often uses eager tasks and local emitters on purpose:"
        );
        let _ = writeln!(t, "[[overrides]]");
        let globs: Vec<String> = tests.iter().map(|d| format!("\"{d}/**\"")).collect();
        let _ = writeln!(t, "files = [{}]", globs.join(", "));
        let _ = writeln!(t, "ignore = [\"celery-always-eager-outside-tests\"]\n");
    }
    let _ = writeln!(
        t,
        "# Context for the report's narrative (`msgscan scan --format html`).\n[report]\n# stage = \"production\"            # prototype | mvp | production | scale\n# expected-volume = \"50 tasks/s at peak\"\n# constraints = [\"Redis broker\"]\n"
    );
    let _ = writeln!(
        t,
        "# Optional LLM narrative; keys only from the environment, source is never sent by default.\n# [llm]\n# provider = \"ollama\"\n# base-url = \"http://localhost:11434/v1\"\n# model = \"llama3.1\""
    );
    t
}
