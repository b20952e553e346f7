//! AsyncAPI 3.0 (`--format asyncapi`): the topology as an API description.
//!
//! Each channel of the topology is a channel (its address is the channel name; `null` when
//! the name holds `{` or `}`, which AsyncAPI reads as parameters) with one message; a
//! channel with producers gets a `send` operation and one with consumers a `receive`
//! operation. Where the code produces and consumes is kept in `x-msgscan` extensions.
//! Payload schemas are not inferred, so messages carry none. Keys are sanitised names
//! (`[A-Za-z0-9_]`), unique and deterministic.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::escape::json_html_safe;
use crate::{Report, view};

fn key_of(transport: &str, name: &str, used: &mut BTreeSet<String>) -> String {
    let mut base: String = format!("{transport}_{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while base.contains("__") {
        base = base.replace("__", "_");
    }
    let base = base.trim_matches('_').to_string();
    let base = if base.is_empty() {
        "channel".to_string()
    } else {
        base
    };
    let mut key = base.clone();
    let mut n = 2;
    while !used.insert(key.clone()) {
        key = format!("{base}_{n}");
        n += 1;
    }
    key
}

/// The AsyncAPI document as a JSON value.
pub fn asyncapi_value(report: &Report) -> Value {
    let facts = view::fact_index(report);
    let mut used = BTreeSet::new();
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for c in &report.topology.channels {
        let key = key_of(&c.transport, &c.name, &mut used);
        let sites = |ids: &[String]| -> Vec<Value> {
            ids.iter()
                .filter_map(|id| facts.get(id.as_str()))
                .map(|f| json!({ "kind": f.kind, "path": f.path, "line": f.line, "language": f.language.name() }))
                .collect()
        };
        let address = if c.name.contains(['{', '}']) {
            Value::Null
        } else {
            Value::from(c.name.clone())
        };
        let scope = view::channel_scope(c);
        let mut description = format!("{} `{}`", view::transport_title(&c.transport), c.name);
        if let Some(s) = scope {
            description.push_str(&format!(" on `{s}`"));
        }
        description.push_str(&format!(
            ": {} producer(s), {} consumer(s) in the scanned code.",
            c.producers.len(),
            c.consumers.len()
        ));
        messages.insert(
            key.clone(),
            json!({
                "name": c.name,
                "title": c.name,
                "summary": format!("A message on {} `{}`; its payload schema is not inferred.", view::transport_title(&c.transport), c.name),
            }),
        );
        let mut ch_messages = Map::new();
        ch_messages.insert(
            key.clone(),
            json!({ "$ref": format!("#/components/messages/{key}") }),
        );
        channels.insert(
            key.clone(),
            json!({
                "address": address,
                "title": c.name,
                "description": description,
                "messages": ch_messages,
                "x-msgscan": {
                    "id": c.id,
                    "transport": c.transport,
                    "scope": scope,
                    "producers": sites(&c.producers),
                    "consumers": sites(&c.consumers),
                },
            }),
        );
        for (action, ids) in [("send", &c.producers), ("receive", &c.consumers)] {
            if ids.is_empty() {
                continue;
            }
            let where_: Vec<String> = ids
                .iter()
                .filter_map(|id| facts.get(id.as_str()))
                .map(|f| format!("{}:{}", f.path, f.line))
                .collect();
            operations.insert(
                format!("{action}_{key}"),
                json!({
                    "action": action,
                    "channel": { "$ref": format!("#/channels/{key}") },
                    "messages": [{ "$ref": format!("#/channels/{key}/messages/{key}") }],
                    "summary": format!("{} `{}`", if action == "send" { "Produce to" } else { "Consume from" }, c.name),
                    "description": format!("In the code at {}.", where_.join(", ")),
                }),
            );
        }
    }
    let mut doc = json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": format!("Messaging of {}", report.root),
            "version": "0.0.0",
            "description": format!(
                "Channels, operations and messages found by static analysis ({} {}): {} channels, {} findings. Generated; payload schemas are not inferred.",
                report.tool.name, report.tool.version, report.topology.channels.len(), report.findings.len()
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
    });
    if !messages.is_empty() {
        doc["components"] = json!({ "messages": messages });
    }
    doc
}

/// Writes the AsyncAPI document as JSON (pretty, trailing newline, `<>&` as `\u` escapes).
pub fn asyncapi(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&asyncapi_value(report))?;
    out.write_all(json_html_safe(&text).as_bytes())?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sanitised_and_unique() {
        let mut used = BTreeSet::new();
        assert_eq!(
            key_of("celery", "app.tasks.add", &mut used),
            "celery_app_tasks_add"
        );
        assert_eq!(
            key_of("celery", "app/tasks/add", &mut used),
            "celery_app_tasks_add_2"
        );
        assert_eq!(
            key_of("node_events", "<script>alert(1)</script>", &mut used),
            "node_events_script_alert_1_script"
        );
    }
}
