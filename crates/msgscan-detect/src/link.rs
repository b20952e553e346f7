//! Linking: the facts of a whole project become channels with producers and consumers.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::fact::{Fact, Role};

/// One channel of the topology: a task, an event on one emitter, a Postgres channel...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `transport:name` (plus `@scope` where names are scoped, e.g. per emitter).
    pub id: String,
    pub transport: String,
    pub name: String,
    /// Fact ids.
    pub producers: Vec<String>,
    pub consumers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub channels: Vec<Channel>,
}

impl Topology {
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }
}

/// Gives every fact its stable id (`kind@path:line:column`, with `#n` for repeats). Facts
/// must already be sorted.
pub fn assign_ids(facts: &mut [Fact]) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for f in facts.iter_mut() {
        let base = format!("{}@{}:{}:{}", f.kind, f.path, f.line, f.column);
        let n = seen.entry(base.clone()).or_insert(0);
        f.id = if *n == 0 { base } else { format!("{base}#{n}") };
        *n += 1;
    }
}

/// Builds the topology. Celery: a call reaches the task whose registered name it names, or,
/// failing that, the only task whose function has the call's last name segment. Node
/// events: channels are per emitter (binding or class) and per file, since in-process
/// events do not cross modules unless the emitter is shared.
pub fn link(facts: &[Fact]) -> Topology {
    let mut channels: BTreeMap<String, Channel> = BTreeMap::new();
    let mut add =
        |transport: &str, name: &str, scope: Option<&str>, fact: &Fact, producer: bool| {
            let id = match scope {
                Some(s) => format!("{transport}:{name}@{s}"),
                None => format!("{transport}:{name}"),
            };
            let ch = channels.entry(id.clone()).or_insert_with(|| Channel {
                id,
                transport: transport.to_string(),
                name: name.to_string(),
                producers: Vec::new(),
                consumers: Vec::new(),
            });
            if producer {
                ch.producers.push(fact.id.clone());
            } else {
                ch.consumers.push(fact.id.clone());
            }
        };

    // Celery task names and function names.
    let tasks: Vec<&Fact> = facts.iter().filter(|f| f.kind == "celery_task").collect();
    let mut by_function: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &tasks {
        if let (Some(func), Some(name)) = (
            t.attr("function").and_then(|v| v.as_str()),
            t.name.as_deref(),
        ) {
            by_function.entry(func).or_default().push(name);
        }
    }
    for f in facts {
        match (f.kind.as_str(), f.role) {
            ("celery_task", _) => {
                if let Some(name) = &f.name {
                    add("celery", name, None, f, false);
                }
            }
            ("celery_call", Role::Producer) => {
                let Some(name) = &f.name else { continue };
                let resolved = if tasks.iter().any(|t| t.name.as_deref() == Some(name)) {
                    Some(name.as_str())
                } else {
                    let last = name.rsplit('.').next().unwrap_or(name);
                    match by_function.get(last).map(Vec::as_slice) {
                        Some([only]) => Some(*only),
                        _ => None,
                    }
                };
                add("celery", resolved.unwrap_or(name), None, f, true);
            }
            ("emitter_listen" | "emitter_emit", role) => {
                let (Some(event), Some(emitter)) =
                    (&f.name, f.attr("emitter").and_then(|v| v.as_str()))
                else {
                    continue;
                };
                let scope = format!("{}#{}", f.path, emitter);
                add(
                    "node_events",
                    event,
                    Some(&scope),
                    f,
                    role == Role::Producer,
                );
            }
            _ => {}
        }
    }
    Topology {
        channels: channels.into_values().collect(),
    }
}
