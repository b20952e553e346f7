//! SARIF 2.1.0 (`--format sarif`), for GitHub code scanning and other SARIF viewers.
//!
//! One run; `tool.driver.rules` holds every rule of the rulebook (sorted by id) with its
//! metadata, results reference them by `ruleId` and `ruleIndex`. Regions are 1-based with
//! columns in Unicode code points (`columnKind`); `partialFingerprints` carry the finding's
//! fingerprint, so code scanning tracks a finding across edits. Files that could not be
//! analysed are `toolExecutionNotifications`. Output is deterministic and the characters
//! `<`, `>`, `&` are written as `\u` escapes (the JSON value is unchanged).

use std::collections::BTreeMap;
use std::io::{self, Write};

use msgscan_rulebook::{Finding, Rule, Severity};
use serde_json::{Value, json};

use crate::Report;
use crate::escape::json_html_safe;

/// The `$schema` of the log.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/msgscan/msgscan";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `celery-unbounded-retries` → `CeleryUnboundedRetries`.
fn pascal(id: &str) -> String {
    id.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rule_descriptor(r: &Rule) -> Value {
    let mut text = format!(
        "{}\n\nWhy: {}\n\nFix: {}",
        r.title,
        r.why.trim(),
        r.fix.trim()
    );
    let mut md = format!(
        "**{}**\n\n{}\n\n**Fix:** {}",
        r.title,
        r.why.trim(),
        r.fix.trim()
    );
    if !r.example_bad.trim().is_empty() {
        md.push_str(&format!(
            "\n\nBad:\n\n```\n{}\n```",
            r.example_bad.trim_end()
        ));
    }
    if !r.example_good.trim().is_empty() {
        md.push_str(&format!(
            "\n\nGood:\n\n```\n{}\n```",
            r.example_good.trim_end()
        ));
    }
    if !r.references.is_empty() {
        text.push_str("\n\nReferences:");
        md.push_str("\n\nReferences:\n");
        for u in &r.references {
            text.push_str(&format!("\n- {u}"));
            md.push_str(&format!("\n- <{u}>"));
        }
    }
    let mut tags = vec![Value::from("messaging"), Value::from(r.category.clone())];
    tags.extend(r.languages.iter().map(|l| Value::from(l.clone())));
    let mut seen = std::collections::BTreeSet::new();
    tags.retain(|t| seen.insert(t.to_string()));
    let mut properties = json!({
        "category": r.category,
        "tags": tags,
        "precision": "high",
    });
    if r.category == "security" {
        // GitHub code scanning ranks security alerts by this (CVSS-like, 0.0–10.0).
        properties["security-severity"] = match r.severity {
            Severity::Error => "8.0",
            Severity::Warning => "5.0",
            Severity::Info => "2.0",
        }
        .into();
    }
    json!({
        "id": r.id,
        "name": pascal(&r.id),
        "shortDescription": { "text": r.title },
        "fullDescription": { "text": r.why.trim() },
        "help": { "text": text, "markdown": md },
        "helpUri": r.docs_url(),
        "defaultConfiguration": { "level": level(r.severity) },
        "properties": properties,
    })
}

/// A descriptor for a finding whose rule is not in the rulebook given (a native check).
fn finding_descriptor(f: &Finding) -> Value {
    json!({
        "id": f.rule,
        "name": pascal(&f.rule),
        "shortDescription": { "text": f.title },
        "fullDescription": { "text": f.title },
        "help": { "text": f.help, "markdown": f.help },
        "helpUri": f.docs_url,
        "defaultConfiguration": { "level": level(f.severity) },
        "properties": { "category": f.category, "tags": ["messaging", f.category] },
    })
}

fn region(line: u32, column: u32, end_line: u32, end_column: u32) -> Value {
    let line = line.max(1);
    let column = column.max(1);
    let end_line = end_line.max(line);
    let end_column = if end_line == line {
        end_column.max(column + 1)
    } else {
        end_column.max(1)
    };
    json!({
        "startLine": line,
        "startColumn": column,
        "endLine": end_line,
        "endColumn": end_column,
    })
}

/// The SARIF log as a JSON value.
pub fn sarif_value(report: &Report, rules: &[Rule]) -> Value {
    let mut descriptors: BTreeMap<String, Value> = rules
        .iter()
        .map(|r| (r.id.clone(), rule_descriptor(r)))
        .collect();
    for f in &report.findings {
        descriptors
            .entry(f.rule.clone())
            .or_insert_with(|| finding_descriptor(f));
    }
    let index: BTreeMap<&str, usize> = descriptors
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "ruleIndex": index.get(f.rule.as_str()).copied().unwrap_or(0),
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.path, "uriBaseId": "%SRCROOT%" },
                        "region": region(f.line, f.column, f.end_line, f.end_column),
                    }
                }],
                "partialFingerprints": { "msgscanFingerprint/v1": f.fingerprint },
                "properties": { "category": f.category },
            })
        })
        .collect();
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut phys =
                json!({ "artifactLocation": { "uri": e.path, "uriBaseId": "%SRCROOT%" } });
            if let Some(l) = e.line {
                phys["region"] =
                    json!({ "startLine": l.max(1), "startColumn": e.column.unwrap_or(1).max(1) });
            }
            json!({
                "level": "warning",
                "message": { "text": format!("{}: {}", e.kind, e.message) },
                "locations": [{ "physicalLocation": phys }],
                "descriptor": { "id": format!("msgscan/{}", e.kind) },
            })
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": report.tool.name,
                    "version": report.tool.version,
                    "semanticVersion": report.tool.version,
                    "informationUri": INFORMATION_URI,
                    "rules": descriptors.into_values().collect::<Vec<_>>(),
                }
            },
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "originalUriBaseIds": {
                "%SRCROOT%": { "description": { "text": format!("The scan root: {}", report.root) } }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "scores": report.scores,
                "suppressed": report.suppressed,
            },
        }]
    })
}

/// Writes the SARIF log (pretty, with a trailing newline).
pub fn sarif(report: &Report, rules: &[Rule], out: &mut dyn Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&sarif_value(report, rules))?;
    out.write_all(json_html_safe(&text).as_bytes())?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels() {
        assert_eq!(pascal("celery-unbounded-retries"), "CeleryUnboundedRetries");
        assert_eq!(level(Severity::Info), "note");
        let r = region(3, 5, 3, 5);
        assert_eq!(r["endColumn"], 6);
        let r = region(3, 5, 4, 1);
        assert_eq!(r["endLine"], 4);
        assert_eq!(r["endColumn"], 1);
    }
}
