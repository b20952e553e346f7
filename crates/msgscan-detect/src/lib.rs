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
mod prefilter;
mod py;
mod socketio;
mod supabase;
mod supabase_config;
mod supabase_py;
mod supabase_sql;
mod walk;
mod webhook;

pub use engine::{
    Ancestors, DetectTimeout, Detector, FactBuilder, FileCx, Prefiltered, Visitor, detect,
    detect_until, may_match, prefilter,
};
pub use fact::{AttrSpec, AttrType, COMMON_FIELDS, Fact, KindSpec, Role};
pub use link::{Channel, Linker, Topology};
pub use prefilter::Candidate;
pub use supabase_config::{UnverifiedEdgeFunction, edge_functions_without_verification};
pub use supabase_sql::{UnprotectedTable, realtime_tables_without_rls};

/// Entry points for the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use std::ops::Range;

    /// Detection with the prefilter off: every detector of the language runs. The prefilter
    /// is sound if and only if this equals [`crate::detect`] on every input.
    pub fn detect_unfiltered(
        path: &str,
        text: &str,
        parsed: &msgscan_lang::ParsedFile,
    ) -> Vec<crate::Fact> {
        crate::engine::detect_unfiltered(path, text, parsed)
    }

    /// Each detector of the file's language alone, prefilter off: (name, whether the
    /// prefilter admits the file for it, its facts).
    pub fn detect_each(
        path: &str,
        text: &str,
        parsed: &msgscan_lang::ParsedFile,
    ) -> Vec<(&'static str, bool, Vec<crate::Fact>)> {
        crate::engine::detect_each(path, text, parsed)
    }

    /// Runs the SQL text scanner of Postgres statements (LISTEN / NOTIFY / `pg_notify`,
    /// dollar quotes, payload classification, `EXECUTE` text building) over `s` and returns
    /// the byte ranges of the items and tokens it found, for the caller to check.
    pub fn pg_text(s: &str) -> Vec<Range<usize>> {
        let mut ranges = Vec::new();
        let toks = crate::pg_text::lex(s);
        for t in &toks {
            ranges.push(t.start..t.end);
            if let Some(text) = s.get(t.start..t.end) {
                let _ = crate::pg_text::str_content(text);
            }
        }
        let _ = crate::pg_text::classify_payload(s, &toks, 0);
        for item in crate::pg_text::scan(s) {
            ranges.push(item.range);
        }
        let _ = crate::pg_text::built_sql(s);
        let _ = crate::pg_text::compact(s);
        ranges
    }
}

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
