//! Linking: the facts of a whole project become channels with producers and consumers.
//!
//! Each family links its own facts (`celery::link`, `node_events::link`, ...) through a
//! [`Linker`]; channel names are normalised per transport by the family that owns it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::fact::Fact;

/// One channel of the topology: a task, an event on one emitter, a Postgres channel...
/// A channel with no producers or no consumers is one whose other side the code does not
/// show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `transport:name`, plus `@scope` where names are scoped (per emitter, per namespace).
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

/// Collects channels while families link their facts; ids and fact lists come out sorted.
#[derive(Debug, Default)]
pub struct Linker {
    channels: BTreeMap<String, Channel>,
}

impl Linker {
    fn channel(&mut self, transport: &str, name: &str, scope: Option<&str>) -> &mut Channel {
        let id = match scope {
            Some(s) => format!("{transport}:{name}@{s}"),
            None => format!("{transport}:{name}"),
        };
        self.channels.entry(id.clone()).or_insert_with(|| Channel {
            id,
            transport: transport.to_string(),
            name: name.to_string(),
            producers: Vec::new(),
            consumers: Vec::new(),
        })
    }

    pub fn producer(&mut self, transport: &str, name: &str, scope: Option<&str>, fact: &Fact) {
        self.channel(transport, name, scope)
            .producers
            .push(fact.id.clone());
    }

    pub fn consumer(&mut self, transport: &str, name: &str, scope: Option<&str>, fact: &Fact) {
        self.channel(transport, name, scope)
            .consumers
            .push(fact.id.clone());
    }

    pub fn finish(self) -> Topology {
        let mut channels: Vec<Channel> = self.channels.into_values().collect();
        for c in &mut channels {
            c.producers.sort();
            c.producers.dedup();
            c.consumers.sort();
            c.consumers.dedup();
        }
        Topology { channels }
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

/// Adds the attributes that need the whole project (facts merged, sorted, with ids), so
/// that rules, which judge one fact at a time, can use them.
pub fn enrich(facts: &mut [Fact]) {
    crate::celery::enrich(facts);
    crate::supabase_sql::enrich(facts);
    crate::supabase_config::enrich(facts);
}

/// Builds the topology of a project's facts (sorted, with ids).
pub fn link(facts: &[Fact]) -> Topology {
    let mut linker = Linker::default();
    crate::celery::link(facts, &mut linker);
    crate::node_events::link(facts, &mut linker);
    crate::pg::link(facts, &mut linker);
    crate::node_runtime::link(facts, &mut linker);
    crate::supabase::link(facts, &mut linker);
    crate::socketio::link(facts, &mut linker);
    crate::webhook::link(facts, &mut linker);
    linker.finish()
}
