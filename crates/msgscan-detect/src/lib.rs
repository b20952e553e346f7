//! Detectors: syntax trees in, messaging facts out.
//!
//! Each detector ([`Detector`]) covers one family of messaging constructs, subscribes to the
//! node kinds it needs, and emits [`Fact`]s during a single traversal of each file
//! ([`detect`]). Facts never carry a severity; judging them is the rulebook's job.
//! [`link`] merges the facts of a project into a [`Topology`].

mod celery;
mod engine;
mod fact;
mod js;
pub mod link;
mod node_events;
mod node_runtime;
mod pg;
mod pg_clients;
mod pg_text;
mod py;
mod socketio;
mod supabase;
mod supabase_config;
mod supabase_py;
mod supabase_sql;
mod walk;
mod webhook;

pub use engine::{Detector, FactBuilder, FileCx, Visitor, detect, may_match};
pub use fact::{AttrSpec, AttrType, COMMON_FIELDS, Fact, KindSpec, Role};
pub use link::{Channel, Linker, Topology};
pub use supabase_config::{UnverifiedEdgeFunction, edge_functions_without_verification};
pub use supabase_sql::{UnprotectedTable, realtime_tables_without_rls};

/// Every detector, in a fixed order (the order of the dispatch bitmask).
pub fn detectors() -> &'static [&'static dyn Detector] {
    &[
        &celery::Celery,
        &node_events::NodeEvents,
        &pg::PgSql,
        &pg_clients::PgPython,
        &pg_clients::PgNode,
        &node_runtime::NodeRuntime,
        &supabase::Supabase,
        &supabase_sql::SupabaseSql,
        &supabase_py::SupabasePy,
        &supabase_config::SupabaseConfig,
        &socketio::SocketIoPy,
        &socketio::SocketIoJs,
        &webhook::WebhookPy,
        &webhook::WebhookJs,
    ]
}

/// Every fact kind msgscan emits, with its documented attributes.
pub fn kinds() -> impl Iterator<Item = &'static KindSpec> {
    celery::KINDS
        .iter()
        .chain(node_events::KINDS.iter())
        .chain(pg::KINDS.iter())
        .chain(node_runtime::KINDS.iter())
        .chain(supabase::KINDS.iter())
        .chain(supabase_sql::KINDS.iter())
        .chain(supabase_config::KINDS.iter())
        .chain(socketio::KINDS.iter())
        .chain(webhook::KINDS.iter())
}

/// The spec of one fact kind.
pub fn kind(name: &str) -> Option<&'static KindSpec> {
    kinds().find(|k| k.kind == name)
}
