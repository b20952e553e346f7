//! PostgreSQL LISTEN / NOTIFY from application code.
//!
//! - Python: psycopg2 (`cursor.execute("LISTEN x")`, `conn.poll()` / `conn.notifies`,
//!   `set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)`, `.autocommit = True`), psycopg 3
//!   (`connect(..., autocommit=True)`, `conn.notifies()`, `add_notify_handler`), asyncpg
//!   (`add_listener`, `remove_listener`, `add_termination_listener`, connections from
//!   `pool.acquire()`), SQLAlchemy `text(...)` and `psycopg.sql.SQL(...)`.
//! - Node: node-postgres `Client` / `Pool` (`query('LISTEN x')`, `query('SELECT
//!   pg_notify($1, $2)', [...])`, `.on('notification')`, `'error'` / `'end'` listeners,
//!   clients from `pool.connect()`), pg-listen (`createSubscriber`, `listenTo`, `notify`,
//!   `notifications.on(ch)`, `events.on('error')`).
//!
//! SQL text is read from string literals, f-strings and template literals (spliced values
//! become holes: dynamic channel names, `string_built`), `+` / `%` / `.format` / `||`
//! assembly, and constants assigned earlier in the file. Query parameters given as literals
//! (`[channel, payload]`) resolve `$1` / `%s` channel names.
//!
//! Connections are resolved within the file by binding name (`conn`, `self.conn`, a cursor
//! taken from a connection, a client taken from a pool); a call on a receiver the file does
//! not bind (a function parameter) leaves connection attributes absent, so rules do not
//! guess.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::Role;
use crate::pg::{TRANSPORT, chan_fact, item_kind, payload_fact};
use crate::pg_text::{self, Chan, HOLE, Item, ItemKind, Payload};
use crate::prefilter::{
    Candidate, Present, Words, identifier_around, py_attribute_of, py_names_module, word_around,
    word_span,
};
use crate::{js, py};

/// SQL text assembled from source: literal parts plus holes for spliced values.
#[derive(Clone, Debug)]
struct Sql {
    text: String,
    with: &'static str,
    unsafe_splice: bool,
}

/// `a + b` where at least one side is SQL text: the sides joined, a side that is not
/// text becoming a `HOLE`. The splice is unsafe if a side's own text is, or a hole is not
/// quoted (`quotes`: the expression is wrapped in a quoting call).
fn concat_sql<'t>(
    sides: [(Option<Sql>, Node<'t>); 2],
    quotes: impl Fn(Node<'t>) -> bool,
) -> Option<Sql> {
    if sides.iter().all(|(s, _)| s.is_none()) {
        return None;
    }
    let mut text = String::new();
    let mut unsafe_splice = false;
    for (s, side) in sides {
        match s {
            Some(s) => {
                unsafe_splice |= s.unsafe_splice;
                text.push_str(&s.text);
            }
            None => {
                unsafe_splice |= !quotes(side);
                text.push(HOLE);
            }
        }
    }
    Some(Sql {
        text,
        with: "concat",
        unsafe_splice,
    })
}

/// A connection, pool, cursor alias or pooled client seen in the file.
#[derive(Debug, Default)]
struct Conn {
    binding: Option<String>,
    at: Range<usize>,
    library: &'static str,
    class: String,
    pool: bool,
    /// Emitted as a `pg_connection` fact (constructors only, not pooled clients).
    emit: bool,
    /// The pool it came from.
    parent: Option<usize>,
    autocommit: bool,
    commits: bool,
    dsn_pooler: bool,
    has_error: bool,
    has_end: bool,
    reconnect: bool,
    listens: bool,
    /// Passed to another function, which may register handlers on it.
    escapes: bool,
}

/// A fact waiting for the whole file (connection attributes are set anywhere in it).
struct Pending {
    kind: &'static str,
    role: Role,
    at: Range<usize>,
    chan: Option<Chan>,
    payload: Option<Payload>,
    attrs: BTreeMap<String, Value>,
    conn: Option<usize>,
    /// Names of the functions around the fact, innermost first.
    funcs: Vec<String>,
    /// A retry loop or decorator around the fact was seen locally.
    retry_local: bool,
}

#[derive(Default)]
struct State {
    conns: Vec<Conn>,
    bindings: HashMap<String, usize>,
    pending: Vec<Pending>,
    consts: HashMap<String, Sql>,
    /// Functions called inside a retry loop (a loop whose body catches errors).
    retried_calls: HashSet<String>,
    imports: HashSet<&'static str>,
}

impl State {
    /// The connection a receiver denotes inside the functions starting at bytes `scopes`
    /// (innermost first): a plain name bound in the nearest of them, else at module level
    /// (scope 0); attribute paths (`self.conn`) are file-wide.
    fn conn_of(&self, recv: &str, scopes: &[usize]) -> Option<usize> {
        scopes
            .iter()
            .chain(std::iter::once(&0))
            .find_map(|s| self.bindings.get(&scoped(recv, *s)))
            .copied()
    }

    fn bind(&mut self, name: &str, scope: usize, conn: usize) {
        self.bindings.insert(scoped(name, scope), conn);
    }

    fn add_conn(&mut self, conn: Conn, scope: usize) -> usize {
        let i = self.conns.len();
        if let Some(b) = &conn.binding {
            self.bindings.insert(scoped(b, scope), i);
        }
        self.conns.push(conn);
        i
    }

    /// The connection root (a pooled client's pool is not its root: it is its own).
    fn library_guess(&self, conn: Option<usize>) -> Option<&'static str> {
        if let Some(c) = conn.and_then(|i| self.conns.get(i)) {
            return Some(c.library);
        }
        let libs: Vec<&&str> = self
            .imports
            .iter()
            .filter(|l| {
                matches!(
                    **l,
                    "psycopg2" | "psycopg" | "asyncpg" | "sqlalchemy" | "pg"
                )
            })
            .collect();
        match libs.as_slice() {
            [one] => Some(**one),
            _ => None,
        }
    }

    fn finish(mut self, cx: &mut FileCx<'_>, language: &'static str) {
        // propagate listens to the connection a client / cursor came from
        for p in &self.pending {
            if p.kind == "pg_listen"
                && let Some(c) = p.conn
            {
                if let Some(conn) = self.conns.get_mut(c) {
                    conn.listens = true;
                }
                if let Some(parent) = self.conns.get(c).and_then(|c| c.parent)
                    && let Some(pc) = self.conns.get_mut(parent)
                {
                    pc.listens = true;
                }
            }
        }
        for p in &self.pending {
            let conn = p.conn.and_then(|i| self.conns.get(i));
            let mut b = cx.fact_range(p.kind, TRANSPORT, p.role, p.at.clone());
            if let Some(chan) = &p.chan {
                b = chan_fact(b, chan);
            }
            if let Some(payload) = &p.payload {
                b = payload_fact(b, payload);
            }
            b = b.attrs(p.attrs.clone()).attr("context", language);
            let wants_conn = matches!(p.kind, "pg_listen" | "pg_notification_handler");
            if let Some(conn) = conn
                && wants_conn
            {
                b = b
                    .attr_opt("connection", conn.binding.clone())
                    .attr("pool", conn.pool);
                if matches!(conn.library, "psycopg2" | "psycopg") && p.kind == "pg_listen" {
                    b = b
                        .attr("autocommit", conn.autocommit)
                        .attr("commits", conn.commits);
                }
                let dsn_pooler = conn.dsn_pooler
                    || conn
                        .parent
                        .and_then(|i| self.conns.get(i))
                        .is_some_and(|c| c.dsn_pooler);
                if p.kind == "pg_listen" {
                    b = b.attr("dsn_pooler", dsn_pooler);
                }
                if language == "javascript"
                    && p.kind == "pg_notification_handler"
                    && (conn.has_error || !conn.escapes)
                {
                    b = b.attr("has_error_handler", conn.has_error);
                }
            }
            let wants_reconnect = p.kind == "pg_notification_handler"
                || p.attrs.get("method").and_then(Value::as_str) == Some("add_listener");
            if wants_reconnect {
                let by_conn = conn.map(|c| c.reconnect || c.has_end || c.library == "pg-listen");
                let retried =
                    p.retry_local || p.funcs.iter().any(|f| self.retried_calls.contains(f));
                let reconnect = match by_conn {
                    Some(r) => Some(r || retried),
                    None if retried => Some(true),
                    // the connection is not created here: unknown
                    None => None,
                };
                b = b.attr_opt("reconnect", reconnect);
            }
            cx.emit(b);
        }
        for c in &self.conns {
            if !c.emit {
                continue;
            }
            let mut b = cx
                .fact_range("pg_connection", TRANSPORT, Role::Definition, c.at.clone())
                .name_opt(c.binding.clone())
                .attr("library", c.library)
                .attr("class", c.class.clone())
                .attr("pool", c.pool)
                .attr("listens", c.listens)
                .attr("dsn_pooler", c.dsn_pooler);
            if language == "javascript" && (c.has_error || !c.escapes) {
                b = b.attr("has_error_handler", c.has_error);
            } else if matches!(c.library, "psycopg2" | "psycopg") {
                b = b.attr("autocommit", c.autocommit);
            }
            cx.emit(b);
        }
        self.pending.clear();
    }
}

fn scoped(name: &str, scope: usize) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        format!("{scope}:{name}")
    }
}

/// Start bytes of the functions around `node`, innermost first.
fn scopes_of<'t>(
    node: Node<'t>,
    cx: &FileCx<'t>,
    is_function: impl Fn(Node<'_>) -> bool,
) -> Vec<usize> {
    cx.ancestors(node)
        .filter(|&p| is_function(p))
        .map(|p| p.start_byte())
        .collect()
}

fn py_scopes<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Vec<usize> {
    scopes_of(node, cx, |p| p.kind() == "function_definition")
}

fn js_scopes<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Vec<usize> {
    scopes_of(node, cx, js::is_function)
}

/// The innermost function around `node` (0 at module level): where a binding lives.
fn py_scope<'t>(node: Node<'t>, cx: &FileCx<'t>) -> usize {
    cx.ancestors(node)
        .find(|p| p.kind() == "function_definition")
        .map_or(0, |p| p.start_byte())
}

fn js_scope<'t>(node: Node<'t>, cx: &FileCx<'t>) -> usize {
    cx.ancestors(node)
        .find(|&p| js::is_function(p))
        .map_or(0, |p| p.start_byte())
}

fn dsn_is_pooler(dsn: &str) -> bool {
    let l = dsn.to_ascii_lowercase();
    l.contains(":6543") || l.contains("port=6543") || l.contains("pgbouncer=true")
}

/// Query parameters given as literals: positional (`[ch, payload]`, `(ch, payload)`, asyncpg
/// varargs) and named (`{"channel": "jobs"}`).
#[derive(Default)]
struct Params {
    positional: Vec<Option<Value>>,
    named: HashMap<String, Value>,
}

/// Turns recognised SQL items into pending facts.
#[allow(clippy::too_many_arguments)]
fn sql_facts(
    st: &mut State,
    sql: &Sql,
    at: Range<usize>,
    params: &Params,
    library: Option<&'static str>,
    method: &str,
    receiver: Option<String>,
    conn: Option<usize>,
    funcs: &[String],
    retry_local: bool,
) {
    for item in pg_text::scan(&blank_escapes(&sql.text)) {
        let Item {
            kind,
            chan,
            payload,
            form,
            ..
        } = item.clone();
        let mut chan = chan;
        if let Some(k) = chan.param {
            let value = match &chan.param_name {
                Some(n) => params.named.get(n).cloned().map(Some),
                None => params.positional.get(k - 1).cloned(),
            };
            match value.as_ref() {
                Some(Some(Value::String(v))) => chan.name = Some(v.clone()),
                Some(Some(Value::Object(m))) => {
                    chan.pattern = m.get("pattern").and_then(Value::as_str).map(str::to_string);
                }
                _ => {}
            }
        }
        let mut payload = payload;
        if let Some(p) = payload.as_mut()
            && let Some(k) = p.param
        {
            match params.positional.get(k - 1) {
                Some(Some(Value::String(v))) if v == "json" => p.kind = "json",
                Some(Some(Value::String(_))) => p.kind = "constant",
                _ => {}
            }
        }
        let (fkind, role) = item_kind(&item);
        let mut attrs = BTreeMap::new();
        attrs.insert("method".to_string(), Value::from(method));
        attrs.insert("string_built".to_string(), Value::from(sql.unsafe_splice));
        if kind != ItemKind::Unlisten {
            attrs.insert("built_with".to_string(), Value::from(sql.with));
        } else {
            attrs.remove("method");
        }
        if kind == ItemKind::Notify {
            attrs.insert("form".to_string(), Value::from(form));
            attrs.remove("method");
        }
        if let Some(l) = library {
            attrs.insert("library".to_string(), Value::from(l));
        }
        if let Some(r) = &receiver
            && kind != ItemKind::Unlisten
        {
            attrs.insert("receiver".to_string(), Value::from(r.clone()));
        }
        st.pending.push(Pending {
            kind: fkind,
            role,
            at: at.clone(),
            chan: Some(chan),
            payload,
            attrs,
            conn,
            funcs: funcs.to_vec(),
            retry_local,
        });
    }
}

/// SQL taken from string literals with the escapes of white space (`\n`, `\r`, `\t`, `\f`,
/// `\v`) turned into blanks, two bytes for two (offsets stay): `"LISTEN jobs\n"` and
/// `"\nLISTEN jobs"` are statements at run time. Other escapes stay as written.
fn blank_escapes(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('\\') {
        return sql.into();
    }
    let b = sql.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'n' | b'r' | b't' | b'f' | b'v')) => out.extend_from_slice(b"  "),
            (b'\\', Some(b'\\')) => out.extend_from_slice(b"\\\\"),
            (c, _) => {
                out.push(c);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    // Only ASCII pairs were replaced by ASCII pairs.
    String::from_utf8(out).map_or_else(|_| sql.into(), Into::into)
}

/// Whether a word of `text` starting at `at` may follow a white-space escape (`\n`...):
/// its first letter is the escape's.
fn after_escape(text: &str, at: usize) -> bool {
    let b = text.as_bytes();
    at > 0 && b[at - 1] == b'\\' && matches!(b.get(at), Some(b'n' | b'r' | b't' | b'f' | b'v'))
}

const SQL_LIST: &[&str] = &["listen", "notify"];
static SQL_WORDS: Words = Words::new(SQL_LIST);

/// Whether the text may hold SQL in which `pg_text::scan` finds an item (any case):
/// - a statement: a whole word `LISTEN`, `UNLISTEN` or `NOTIFY` that starts a statement.
///   The SQL is the raw text of string literals (escape sequences stay raw but for white
///   space, below), joined, with holes (word bytes) for spliced values, so what the lexer
///   sees around a keyword is what the source has, but at the edge of a literal (a quote, a
///   `{...}` placeholder, a `$tag$`).
///   The lexer's word ends at a non-word byte on both sides, and a statement starts after
///   `;`, after an opening word (`BEGIN`, `THEN`, `DO`, ...), at the start of the text or of
///   a dollar-quoted body, with blanks and comments between. So before the keyword, blanks
///   skipped, the source has a newline (a comment may end there), the start of the file, a
///   quote, `;`, `/` (`*/`), `{` / `}`, `$` or an opening word.
/// - a word ending in `pg_notify` (a `%s` / `$1` placeholder may stick to its front).
///
/// Escapes of white space are blanks to the lexer (`blank_escapes`): a keyword may start
/// right after one (`\nLISTEN`), and one may follow a word (`pg_notify\n(`).
///
/// The SQL is taken to be written in one literal: a keyword assembled from pieces
/// (`"LIS" + "TEN x"`) is not looked for.
fn sql_keyword(text: &str) -> bool {
    SQL_WORDS.find_in(text).any(|r| {
        let m = text.get(r.clone()).unwrap_or_default();
        if !SQL_LIST.iter().any(|k| k.eq_ignore_ascii_case(m)) {
            return true; // the automaton could not be built
        }
        let mut span = word_span(text, r);
        // `\nLISTEN`: the lexer reads the escape as blanks (`blank_escapes`), so the word
        // starts after it, at a statement's start as far as this check can tell.
        let escaped = after_escape(text, span.start);
        span.start += usize::from(escaped);
        let w = text.get(span.clone()).unwrap_or_default();
        let next = text.as_bytes()[span.end..]
            .iter()
            .copied()
            .find(|c| !c.is_ascii_whitespace() && *c != 0x0b);
        if ["listen", "unlisten", "notify"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
        {
            // a channel follows (a word, quoted name, placeholder, hole or `*`), or a
            // comment, or the literal ends: not punctuation or an operator
            return (escaped || starts_statement(text, span.start))
                && !next.is_some_and(|c| b"(),.;[]=<>~!@#^&|?+".contains(&c));
        }
        // `(` follows, or a comment, or the literal ends (`{}`: a placeholder)
        w.len() >= 9
            && w.as_bytes()[w.len() - 9..].eq_ignore_ascii_case(b"pg_notify")
            && next.is_none_or(|c| b"(/-'\"`{\\".contains(&c))
    })
}

/// Whether a keyword at byte `at` may start an SQL statement (see [`sql_keyword`]).
fn starts_statement(text: &str, at: usize) -> bool {
    // pg_text's statement openers
    const OPENERS: &[&str] = &["begin", "then", "else", "loop", "as", "do"];
    let b = text.as_bytes();
    let mut i = at.min(b.len());
    while i > 0 && (b[i - 1].is_ascii_whitespace() || b[i - 1] == 0x0b) {
        if b[i - 1] == b'\n' {
            return true;
        }
        i -= 1;
    }
    if i == 0
        || matches!(
            b[i - 1],
            b'\'' | b'"' | b'`' | b';' | b'/' | b'{' | b'}' | b'$'
        )
    {
        return true;
    }
    // the word that ends there
    let end = i;
    while i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        i -= 1;
    }
    // An escape of white space is blank to the lexer (`blank_escapes`): `\n LISTEN`,
    // `\nBEGIN LISTEN`.
    if after_escape(text, i) {
        if end - i == 1 {
            return true;
        }
        i += 1;
    }
    let before = text.get(i..end).unwrap_or_default();
    OPENERS.iter().any(|o| before.eq_ignore_ascii_case(o))
}

// ---------------------------------------------------------------------------------------
// Python

pub(crate) struct PgPython;

impl Detector for PgPython {
    fn name(&self) -> &'static str {
        "pg-python"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Python]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "import_from_statement",
            "assignment",
            "call",
            "attribute",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        // One of these is a conjunct of every path in `admits`.
        &[
            "Connection",
            "psycopg",
            "asyncpg",
            "aiopg",
            "execute",
            "mogrify",
            "fetch",
            "exec_driver_sql",
            "add_listener",
            "remove_listener",
            "notifies",
            "add_notify_handler",
        ]
    }
    /// A necessary condition of each way `PyVisitor` emits a fact:
    /// - `pg_connection` (`constructor`): a pool class (`ConnectionPool`, `AsyncConnectionPool`,
    ///   `SimpleConnectionPool`, `ThreadedConnectionPool`) of psycopg / psycopg_pool /
    ///   psycopg2 (by module name or imported from it), or `connect` called on `Connection` / `AsyncConnection` or
    ///   on a module psycopg2 / psycopg / psycopg_pool / asyncpg / aiopg (by name, or
    ///   imported from it), or asyncpg's `create_pool`;
    /// - `pg_listen` / `pg_unlisten` / `pg_notify` from SQL (`sql_facts`): an execute-like
    ///   method (`PY_EXEC`) and a LISTEN / UNLISTEN / NOTIFY / pg_notify word;
    /// - asyncpg `add_listener` / `remove_listener`: asyncpg in the file, or a connection
    ///   from `acquire()` (taken to be asyncpg's);
    /// - `pg_notification_handler` (`notifies`, `add_notify_handler`): psycopg / aiopg in the
    ///   file, or a connection of the file (a constructor above, or `acquire()`,
    ///   `getconn()`, `connection()`).
    ///
    /// The driver modules count only where named as modules are (imported, or the head of a
    /// dotted name), which `postgresql+psycopg2://` in a docstring is not.
    fn admits(&self, file: &Candidate<'_>) -> bool {
        let text = file.text;
        let w = Present::of(text, &PY_WORDS, PY_WORD_LIST, word_around);
        // A driver module the visitor knows (`py_module_lib`; sqlalchemy aside), named as
        // modules are: imported, or the head of a dotted name.
        let named = |m: &str| w.has(m) && py_names_module(text, m);
        let psycopg = named("psycopg2") || named("psycopg") || named("psycopg_pool");
        let asyncpg = named("asyncpg");
        let lib = psycopg || asyncpg || named("aiopg");
        let constructor = w.any(&[
            "ConnectionPool",
            "AsyncConnectionPool",
            "SimpleConnectionPool",
            "ThreadedConnectionPool",
        ]) && psycopg
            || w.has("connect")
                && (lib || py_attribute_of(text, "connect", &["Connection", "AsyncConnection"]))
            || w.has("create_pool") && asyncpg;
        if constructor {
            return true;
        }
        if w.any(PY_EXEC) && sql_keyword(text) {
            return true;
        }
        if w.any(&["add_listener", "remove_listener"]) && (asyncpg || w.has("acquire")) {
            return true;
        }
        w.any(&["notifies", "add_notify_handler"])
            && (psycopg || named("aiopg") || w.any(&["acquire", "getconn", "connection"]))
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<PyVisitor>::default()
    }
}

/// The Python identifiers `PgPython::admits` looks for; the first eight are [`PY_EXEC`].
const PY_WORD_LIST: &[&str] = &[
    "execute",
    "executemany",
    "executescript",
    "mogrify",
    "fetch",
    "fetchrow",
    "fetchval",
    "exec_driver_sql",
    "psycopg2",
    "psycopg",
    "psycopg_pool",
    "asyncpg",
    "aiopg",
    "connect",
    "Connection",
    "AsyncConnection",
    "create_pool",
    "ConnectionPool",
    "AsyncConnectionPool",
    "SimpleConnectionPool",
    "ThreadedConnectionPool",
    "add_listener",
    "remove_listener",
    "acquire",
    "notifies",
    "add_notify_handler",
    "getconn",
    "connection",
];
static PY_WORDS: Words = Words::new(PY_WORD_LIST);

#[derive(Default)]
struct PyVisitor {
    st: State,
    /// Local names bound by `from <driver module> import ...` (`connect`, `pool`,
    /// `ConnectionPool`...): name → library.
    from_driver: HashMap<String, &'static str>,
    /// psycopg2 `.notifies` read per receiver (one handler fact each).
    notifies_seen: HashSet<String>,
    /// Loop node id → whether the loop calls something named `*connect*`.
    loop_connects: HashMap<usize, bool>,
}

/// Execute-like methods whose first argument is SQL.
const PY_EXEC: &[&str] = PY_WORD_LIST.split_at(8).0;

fn py_module_lib(module: &str) -> Option<&'static str> {
    let root = module.split('.').next().unwrap_or(module);
    match root {
        "psycopg2" => Some("psycopg2"),
        "psycopg" | "psycopg_pool" => Some("psycopg"),
        "asyncpg" => Some("asyncpg"),
        "aiopg" => Some("aiopg"),
        "sqlalchemy" => Some("sqlalchemy"),
        _ => None,
    }
}

/// Names of the functions around `node`, innermost first, and whether a retry loop (a
/// loop that also connects) or a retry decorator surrounds it.
fn py_context<'t>(node: Node<'t>, cx: &FileCx<'t>) -> (Vec<String>, bool) {
    let mut funcs = Vec::new();
    let mut retry = false;
    for p in cx.ancestors(node) {
        match p.kind() {
            "function_definition" => {
                if let Some(name) = p.field("name") {
                    funcs.push(cx.text(name).to_string());
                }
                if let Some(d) = cx.parent(p)
                    && d.kind() == "decorated_definition"
                {
                    let mut c = d.walk();
                    for dec in d.named_children(&mut c).filter(|x| x.kind() == "decorator") {
                        let t = cx.text(dec).to_ascii_lowercase();
                        if t.contains("retry") || t.contains("backoff") {
                            retry = true;
                        }
                    }
                }
            }
            "while_statement" | "for_statement" if !retry && loop_connects(p, cx) => {
                retry = true;
            }
            _ => {}
        }
    }
    (funcs, retry)
}

/// Whether a loop calls something named `*connect*` (a retry loop that re-opens the
/// connection). Iterative over the loop's subtree.
fn loop_connects(lp: Node<'_>, cx: &FileCx<'_>) -> bool {
    let mut cursor = lp.walk();
    loop {
        let n = cursor.node();
        if n.kind() == "call"
            && let Some(f) = n.field("function")
        {
            let name = match f.kind() {
                "attribute" => f.field("attribute").map(|a| cx.text(a)),
                "identifier" => Some(cx.text(f)),
                _ => None,
            };
            if name.is_some_and(|t| t.to_ascii_lowercase().contains("connect")) {
                return true;
            }
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == lp.id() {
                return false;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return false;
            }
        }
    }
}

/// psycopg2: for a `conn.notifies` read inside a loop that calls `.poll()`, whether that
/// loop never waits for the socket (`select.select`, `selectors`, `wait`, `sleep`): it
/// spins a CPU core. `None` when there is no polling loop around the read.
fn py_busy_poll<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Option<bool> {
    let mut polling_loop = None;
    for p in cx.ancestors(node) {
        match p.kind() {
            // the innermost loop that polls
            "while_statement" | "for_statement"
                if polling_loop.is_none() && loop_calls(p, cx, |name| name == "poll") =>
            {
                polling_loop = Some(p);
            }
            "function_definition" | "class_definition" => break,
            _ => {}
        }
    }
    let lp = polling_loop?;
    let waits = loop_calls(lp, cx, |name| {
        let l = name.to_ascii_lowercase();
        l.contains("select") || l.contains("wait") || l.contains("sleep") || l == "add_reader"
    });
    Some(!waits)
}

/// Whether a subtree calls a function or method whose name satisfies `pred`. Iterative.
fn loop_calls(root: Node<'_>, cx: &FileCx<'_>, pred: impl Fn(&str) -> bool) -> bool {
    let mut cursor = root.walk();
    loop {
        let n = cursor.node();
        if n.kind() == "call"
            && let Some(f) = n.field("function")
        {
            let name = match f.kind() {
                "attribute" => f.field("attribute").map(|a| cx.text(a)),
                "identifier" => Some(cx.text(f)),
                _ => None,
            };
            if name.is_some_and(&pred) {
                return true;
            }
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == root.id() {
                return false;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return false;
            }
        }
    }
}

/// Whether `node` sits in a `try` inside a loop (a retry loop): calls made there are retried.
fn py_in_retry_loop<'t>(node: Node<'t>, cx: &FileCx<'t>) -> bool {
    let mut in_try = false;
    for p in cx.ancestors(node) {
        match p.kind() {
            "try_statement" => in_try = true,
            "while_statement" | "for_statement" if in_try => return true,
            "function_definition" | "class_definition" => return false,
            _ => {}
        }
    }
    false
}

/// Whether a call is the value of a `with` item (`with x() as y`).
fn in_with_item<'t>(node: Node<'t>, cx: &FileCx<'t>) -> bool {
    for p in cx.ancestors(node) {
        match p.kind() {
            "await" | "parenthesized_expression" => {}
            "as_pattern" | "with_item" => return true,
            _ => return false,
        }
    }
    false
}

/// The binding a value is assigned to: `x = <v>`, `x = await <v>`, `with <v> as x`.
fn py_binding<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Option<String> {
    for p in cx.ancestors(node) {
        match p.kind() {
            "await" | "parenthesized_expression" => {}
            "assignment" => {
                let left = p.field("left")?;
                return py::dotted(left, cx).map(|d| d.join("."));
            }
            "as_pattern" => {
                let alias = p.field("alias")?;
                let id = alias.named_child(0).unwrap_or(alias);
                return py::dotted(id, cx).map(|d| d.join("."));
            }
            "call" => {
                // `await X.connect(...)` used as `async with await ...` or `.__aenter__`
                return None;
            }
            _ => return None,
        }
    }
    None
}

impl PyVisitor {
    fn sql_of(&self, node: Node<'_>, cx: &FileCx<'_>) -> Option<Sql> {
        let mut stack_guard = 0;
        let mut node = node;
        // unwrap text(...), sql.SQL(...) without .format
        loop {
            stack_guard += 1;
            if stack_guard > 8 {
                return None;
            }
            if node.kind() == "call"
                && let Some(f) = node.field("function")
            {
                let path = py::dotted(f, cx).map(|d| d.join("."));
                if let Some(p) = path.as_deref()
                    && matches!(
                        p,
                        "text" | "sqlalchemy.text" | "sa.text" | "sql.SQL" | "SQL"
                    )
                    && let Some(arg) = py::positional(node).into_iter().next()
                {
                    node = arg;
                    continue;
                }
            }
            break;
        }
        match node.kind() {
            "string" | "concatenated_string" => {
                let mut text = String::new();
                let mut holes = false;
                let mut stack = vec![node];
                let mut parts = Vec::new();
                while let Some(n) = stack.pop() {
                    if n.kind() == "concatenated_string" {
                        let mut c = n.walk();
                        let ch: Vec<Node<'_>> = n.named_children(&mut c).collect();
                        stack.extend(ch.into_iter().rev());
                    } else {
                        parts.push(n);
                    }
                }
                for part in parts {
                    let mut c = part.walk();
                    for child in part.children(&mut c) {
                        match child.kind() {
                            "string_content" | "escape_sequence" => text.push_str(cx.text(child)),
                            "interpolation" => {
                                let quoted = child
                                    .field("expression")
                                    .or_else(|| child.named_child(0))
                                    .is_some_and(|e| py_quotes(e, cx));
                                if !quoted {
                                    holes = true;
                                }
                                text.push(HOLE);
                            }
                            _ => {}
                        }
                    }
                }
                let with = if text.contains(HOLE) {
                    "fstring"
                } else {
                    "literal"
                };
                Some(Sql {
                    text,
                    with,
                    unsafe_splice: holes,
                })
            }
            "identifier" => self.st.consts.get(cx.text(node)).cloned(),
            "parenthesized_expression" => self.sql_of(node.named_child(0)?, cx),
            "binary_operator" => {
                let op = node.field("operator").map(|o| cx.text(o))?;
                let left = node.field("left")?;
                let right = node.field("right")?;
                match op {
                    "+" => concat_sql(
                        [
                            (self.sql_of(left, cx), left),
                            (self.sql_of(right, cx), right),
                        ],
                        |side| py_quotes(side, cx),
                    ),
                    "%" => {
                        let l = self.sql_of(left, cx)?;
                        Some(Sql {
                            text: replace_percent(&l.text),
                            with: "percent",
                            unsafe_splice: true,
                        })
                    }
                    _ => None,
                }
            }
            "call" => {
                // "...".format(...) / sql.SQL("...").format(sql.Identifier(x))
                let f = node.field("function")?;
                if f.kind() != "attribute" {
                    return None;
                }
                let attr = f.field("attribute").map(|a| cx.text(a))?;
                if attr != "format" {
                    return None;
                }
                let obj = f.field("object")?;
                let composed = obj.kind() == "call"
                    && obj
                        .field("function")
                        .is_some_and(|g| matches!(cx.text(g), "sql.SQL" | "SQL"));
                let base = self.sql_of(obj, cx)?;
                // Static arguments fill their placeholder: sql.Identifier("Jobs") is the
                // quoted identifier "Jobs", sql.Literal("x") and plain strings their text.
                let statics: Vec<Option<String>> = py::positional(node)
                    .into_iter()
                    .map(|a| static_format_arg(a, composed, cx))
                    .collect();
                let mut text = String::with_capacity(base.text.len());
                let mut k = 0;
                let mut all_static = true;
                for ch in replace_braces(&base.text).chars() {
                    if ch != HOLE {
                        text.push(ch);
                        continue;
                    }
                    match statics.get(k).cloned().flatten() {
                        Some(v) => text.push_str(&v),
                        None => {
                            all_static = false;
                            text.push(HOLE);
                        }
                    }
                    k += 1;
                }
                Some(Sql {
                    text,
                    with: if composed { "psycopg.sql" } else { "format" },
                    unsafe_splice: !composed && !all_static,
                })
            }
            _ => None,
        }
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        if node.kind() == "import_statement" {
            let mut c = node.walk();
            for n in node.named_children(&mut c) {
                let name = match n.kind() {
                    "aliased_import" => n.field("name").map(|x| cx.text(x)),
                    _ => Some(cx.text(n)),
                };
                if let Some(lib) = name.and_then(py_module_lib) {
                    self.st.imports.insert(lib);
                }
            }
            return;
        }
        let Some(module) = node.field("module_name").map(|m| cx.text(m)) else {
            return;
        };
        let Some(lib) = py_module_lib(module) else {
            return;
        };
        self.st.imports.insert(lib);
        for (_, local) in py::import_bindings(node, cx) {
            self.from_driver.insert(local.to_string(), lib);
        }
    }

    fn on_assignment(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(left), Some(right)) = (node.field("left"), node.field("right")) else {
            return;
        };
        let Some(target) = py::dotted(left, cx).map(|d| d.join(".")) else {
            return;
        };
        // conn.autocommit = True
        if let Some((recv, "autocommit")) = target.rsplit_once('.')
            && cx.text(right) == "True"
        {
            if let Some(c) = self.st.conn_of(recv, &py_scopes(node, cx)) {
                self.st.conns[c].autocommit = true;
            }
            return;
        }
        if let Some(sql) = self.sql_of(right, cx) {
            self.st.consts.insert(target, sql);
        }
    }

    /// A connection constructor: `psycopg2.connect(...)`, `asyncpg.create_pool(...)`, ...
    fn constructor(&self, path: &str) -> Option<(&'static str, &'static str, bool)> {
        let parts: Vec<&str> = path.split('.').collect();
        let last = *parts.last()?;
        let first = parts.first()?;
        let lib_of_prefix = py_module_lib(first).or_else(|| self.from_driver.get(*first).copied());
        let psycopg = matches!(lib_of_prefix, Some("psycopg" | "psycopg2"));
        match (last, parts.as_slice()) {
            ("connect", [.., "AsyncConnection" | "Connection", _]) => {
                Some(("psycopg", "connect", false))
            }
            ("connect", _) => match lib_of_prefix {
                Some(l) if l != "sqlalchemy" => Some((l, "connect", false)),
                _ => None,
            },
            ("create_pool", _) if lib_of_prefix == Some("asyncpg") => {
                Some(("asyncpg", "create_pool", true))
            }
            // Pool classes of psycopg_pool / psycopg2.pool only: redis and kombu have a
            // `ConnectionPool` too.
            ("ConnectionPool", _) if psycopg => Some(("psycopg", "ConnectionPool", true)),
            ("AsyncConnectionPool", _) if psycopg => Some(("psycopg", "AsyncConnectionPool", true)),
            ("SimpleConnectionPool" | "ThreadedConnectionPool", _) if psycopg => {
                Some(("psycopg2", "ConnectionPool", true))
            }
            _ => None,
        }
    }

    fn on_call(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        if py_in_retry_loop(node, cx) || self.in_connecting_loop(node, cx) {
            let name = match func.kind() {
                "identifier" => Some(cx.text(func)),
                "attribute" => func.field("attribute").map(|a| cx.text(a)),
                _ => None,
            };
            if let Some(n) = name {
                self.st.retried_calls.insert(n.to_string());
            }
        }
        let path = py::dotted(func, cx).map(|d| d.join("."));
        if let Some(path) = path.as_deref()
            && let Some((library, class, pool)) = self.constructor(path)
        {
            let autocommit =
                py::kwarg(node, "autocommit", cx).is_some_and(|v| cx.text(v) == "True");
            let dsn = py::positional(node)
                .into_iter()
                .next()
                .or_else(|| py::kwarg(node, "dsn", cx))
                .or_else(|| py::kwarg(node, "conninfo", cx))
                .and_then(|d| py::string_value(d, cx));
            let port6543 = py::kwarg(node, "port", cx).is_some_and(|v| cx.text(v).contains("6543"));
            let binding = py_binding(node, cx);
            self.st.add_conn(
                Conn {
                    binding,
                    at: node.byte_range(),
                    library,
                    class: class.to_string(),
                    pool,
                    emit: true,
                    autocommit,
                    dsn_pooler: port6543 || dsn.as_deref().is_some_and(dsn_is_pooler),
                    ..Conn::default()
                },
                py_scope(node, cx),
            );
            return;
        }
        if func.kind() != "attribute" {
            return;
        }
        let (Some(obj), Some(attr)) = (func.field("object"), func.field("attribute")) else {
            return;
        };
        let method = cx.text(attr);
        let recv_conn = self.resolve(obj, cx);
        let receiver = py::dotted(obj, cx).map(|d| d.join("."));
        match method {
            "cursor" | "acquire" | "getconn" | "connection" => {
                let binding = py_binding(node, cx);
                let Some(binding) = binding else { return };
                match (method, recv_conn) {
                    ("cursor", Some(c)) => {
                        self.st.bind(&binding, py_scope(node, cx), c);
                    }
                    ("acquire" | "getconn" | "connection", _) => {
                        let library = recv_conn
                            .and_then(|c| self.st.conns.get(c))
                            .map(|c| c.library)
                            .or_else(|| {
                                if method == "acquire" {
                                    Some("asyncpg")
                                } else {
                                    Some("psycopg")
                                }
                            })
                            .unwrap_or("asyncpg");
                        // `async with pool.acquire() as conn` / `with pool.connection() as conn` give
                        // the connection back (reset, UNLISTEN) at the end of the block; a
                        // connection acquired and kept is in effect a dedicated one.
                        let released = in_with_item(node, cx) || method == "getconn";
                        let autocommit = recv_conn
                            .and_then(|c| self.st.conns.get(c))
                            .is_some_and(|c| c.autocommit);
                        self.st.add_conn(
                            Conn {
                                binding: Some(binding),
                                at: node.byte_range(),
                                library,
                                class: method.to_string(),
                                pool: released,
                                parent: recv_conn,
                                autocommit,
                                ..Conn::default()
                            },
                            py_scope(node, cx),
                        );
                    }
                    _ => {}
                }
            }
            "set_isolation_level" => {
                let arg = py::positional(node).into_iter().next().map(|a| cx.text(a));
                if let (Some(c), Some(a)) = (recv_conn, arg)
                    && (a.contains("AUTOCOMMIT") || a == "0")
                {
                    self.st.conns[c].autocommit = true;
                }
            }
            "set_session" | "set_autocommit" => {
                let on = py::kwarg(node, "autocommit", cx)
                    .or_else(|| py::positional(node).into_iter().next())
                    .is_some_and(|v| cx.text(v) == "True");
                if let (Some(c), true) = (recv_conn, on) {
                    self.st.conns[c].autocommit = true;
                }
            }
            "commit" => {
                if let Some(c) = recv_conn {
                    self.st.conns[c].commits = true;
                }
            }
            "add_termination_listener" => {
                if let Some(c) = recv_conn {
                    self.st.conns[c].reconnect = true;
                }
            }
            "add_listener" | "remove_listener" => {
                let asyncpg_conn = recv_conn
                    .and_then(|c| self.st.conns.get(c))
                    .is_some_and(|c| c.library == "asyncpg");
                if !asyncpg_conn && !self.st.imports.contains("asyncpg") {
                    return; // APScheduler, Qt, ... have add_listener too
                }
                let args = py::positional(node);
                let Some(ch) = args.first() else { return };
                let chan = py_chan(*ch, cx);
                let (funcs, retry) = py_context(node, cx);
                let mut attrs = BTreeMap::new();
                attrs.insert("library".into(), Value::from("asyncpg"));
                let kind = if method == "add_listener" {
                    attrs.insert("method".into(), Value::from(method));
                    attrs.insert("has_handler".into(), Value::from(args.len() > 1));
                    attrs.insert("string_built".into(), Value::from(false));
                    if let Some(r) = &receiver {
                        attrs.insert("receiver".into(), Value::from(r.clone()));
                    }
                    ("pg_listen", Role::Consumer)
                } else {
                    ("pg_unlisten", Role::Consumer)
                };
                self.st.pending.push(Pending {
                    kind: kind.0,
                    role: kind.1,
                    at: node.byte_range(),
                    chan: Some(chan),
                    payload: None,
                    attrs,
                    conn: recv_conn,
                    funcs,
                    retry_local: retry,
                });
            }
            "notifies" | "add_notify_handler" => {
                if recv_conn.is_none() && !self.imports_psycopg() {
                    return;
                }
                self.handler(node, method, receiver, recv_conn, Some("psycopg"), cx);
            }
            _ if PY_EXEC.contains(&method) => {
                let args = py::positional(node);
                let Some(first) = args.first() else { return };
                let Some(sql) = self.sql_of(*first, cx) else {
                    return;
                };
                // parameters: a tuple/list second argument (DB-API) or varargs (asyncpg)
                let mut params = Params::default();
                match args.get(1).map(|a| a.kind()) {
                    Some("tuple" | "list") if args.len() == 2 => {
                        let mut c = args[1].walk();
                        params.positional = args[1]
                            .named_children(&mut c)
                            .map(|n| py_param(n, cx))
                            .collect();
                    }
                    Some("dictionary") => {
                        let mut c = args[1].walk();
                        for pair in args[1].named_children(&mut c) {
                            if let (Some(k), Some(v)) = (
                                pair.field("key").and_then(|k| py::string_value(k, cx)),
                                pair.field("value").and_then(|v| py_param(v, cx)),
                            ) {
                                params.named.insert(k, v);
                            }
                        }
                    }
                    _ => params.positional = args[1..].iter().map(|n| py_param(*n, cx)).collect(),
                }
                let library = self.st.library_guess(recv_conn).or_else(|| {
                    let t = cx.text(*first);
                    (t.starts_with("text(") || t.starts_with("sqlalchemy.text("))
                        .then_some("sqlalchemy")
                });
                let (funcs, retry) = py_context(node, cx);
                sql_facts(
                    &mut self.st,
                    &sql,
                    node.byte_range(),
                    &params,
                    library,
                    method,
                    receiver,
                    recv_conn,
                    &funcs,
                    retry,
                );
            }
            _ => {}
        }
    }

    fn imports_psycopg(&self) -> bool {
        ["psycopg2", "psycopg", "aiopg"]
            .iter()
            .any(|l| self.st.imports.contains(l))
    }

    /// Whether a loop around `node` (in the same function) also (re)connects: functions
    /// called there run again after a reconnect.
    fn in_connecting_loop<'t>(&mut self, node: Node<'t>, cx: &FileCx<'t>) -> bool {
        for p in cx.ancestors(node) {
            match p.kind() {
                "while_statement" | "for_statement" => {
                    let hit = *self
                        .loop_connects
                        .entry(p.id())
                        .or_insert_with(|| loop_connects(p, cx));
                    if hit {
                        return true;
                    }
                }
                "function_definition" | "class_definition" => return false,
                _ => {}
            }
        }
        false
    }

    fn handler(
        &mut self,
        node: Node<'_>,
        method: &str,
        receiver: Option<String>,
        conn: Option<usize>,
        default_lib: Option<&'static str>,
        cx: &FileCx<'_>,
    ) {
        let (funcs, retry) = py_context(node, cx);
        let library = conn
            .and_then(|c| self.st.conns.get(c))
            .map(|c| c.library)
            .or(default_lib);
        let mut attrs = BTreeMap::new();
        attrs.insert("method".into(), Value::from(method));
        if let Some(l) = library {
            attrs.insert("library".into(), Value::from(l));
        }
        if let Some(r) = receiver {
            attrs.insert("receiver".into(), Value::from(r));
        }
        self.st.pending.push(Pending {
            kind: "pg_notification_handler",
            role: Role::Consumer,
            at: node.byte_range(),
            chan: None,
            payload: None,
            attrs,
            conn,
            funcs,
            retry_local: retry,
        });
    }

    /// psycopg2: reading `conn.notifies` (not calling it).
    fn on_attribute(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(attr) = node.field("attribute") else {
            return;
        };
        if cx.text(attr) != "notifies" {
            return;
        }
        if cx
            .parent(node)
            .is_some_and(|p| p.kind() == "call" && p.field("function") == Some(node))
        {
            return; // psycopg 3 notifies(): handled as a call
        }
        let Some(obj) = node.field("object") else {
            return;
        };
        let receiver = py::dotted(obj, cx).map(|d| d.join("."));
        let (funcs, _) = py_context(node, cx);
        let key = format!(
            "{}@{}",
            receiver.as_deref().unwrap_or_default(),
            funcs.first().map(String::as_str).unwrap_or_default()
        );
        if !self.notifies_seen.insert(key) {
            return;
        }
        let conn = self.resolve(obj, cx);
        if conn.is_none() && !self.imports_psycopg() {
            return;
        }
        let default = if self.st.imports.contains("aiopg") {
            "aiopg"
        } else {
            "psycopg2"
        };
        self.handler(node, "notifies", receiver, conn, Some(default), cx);
        if let Some(busy) = py_busy_poll(node, cx)
            && let Some(last) = self.st.pending.last_mut()
        {
            last.attrs.insert("busy_poll".into(), Value::from(busy));
        }
    }

    fn resolve(&self, obj: Node<'_>, cx: &FileCx<'_>) -> Option<usize> {
        let mut obj = obj;
        // conn.cursor().execute(...)
        for _ in 0..4 {
            if obj.kind() == "call"
                && let Some(f) = obj.field("function")
                && f.kind() == "attribute"
                && let Some(o) = f.field("object")
            {
                obj = o;
                continue;
            }
            if obj.kind() == "await"
                && let Some(o) = obj.named_child(0)
            {
                obj = o;
                continue;
            }
            break;
        }
        let path = py::dotted(obj, cx)?.join(".");
        self.st.conn_of(&path, &py_scopes(obj, cx))
    }
}

/// A call that quotes a value for SQL: `quote_ident(x, conn)`, `sql.Identifier(x)`,
/// `sql.Literal(x)`, `escape_identifier`.
fn py_quotes(expr: Node<'_>, cx: &FileCx<'_>) -> bool {
    if expr.kind() != "call" {
        return false;
    }
    let Some(f) = expr.field("function") else {
        return false;
    };
    let name = match f.kind() {
        "attribute" => f.field("attribute").map(|a| cx.text(a)),
        "identifier" => Some(cx.text(f)),
        _ => None,
    };
    name.is_some_and(|n| quoting_name(n) || n == "Identifier")
}

/// The SQL text a `.format(...)` argument stands for, when static.
fn static_format_arg(arg: Node<'_>, composed: bool, cx: &FileCx<'_>) -> Option<String> {
    if !composed {
        return py::string_value(arg, cx);
    }
    if arg.kind() != "call" {
        return None;
    }
    let f = cx.text(arg.field("function")?);
    let value = py::string_value(py::positional(arg).into_iter().next()?, cx)?;
    match f.rsplit('.').next()? {
        "Identifier" => Some(format!("\"{}\"", value.replace('"', "\"\""))),
        "Literal" => Some(format!("'{}'", value.replace('\'', "''"))),
        _ => None,
    }
}

/// An interpolated string (`f"job_{q}"`, `` `job_${q}` ``) as `{"pattern": "job_*"}`: its
/// literal parts, each interpolation a `*`. `None` when nothing literal is left.
fn interpolated_pattern(
    node: Node<'_>,
    cx: &FileCx<'_>,
    literal: &str,
    hole: &str,
) -> Option<Value> {
    let mut pattern = String::new();
    let mut c = node.walk();
    for child in node.named_children(&mut c) {
        match child.kind() {
            k if k == literal => pattern.push_str(cx.text(child)),
            k if k == hole && !pattern.ends_with('*') => pattern.push('*'),
            _ => {}
        }
    }
    (pattern != "*" && !pattern.is_empty()).then(|| serde_json::json!({ "pattern": pattern }))
}

/// A query parameter as a value: a string literal, `"json"` for `json.dumps(...)`.
fn py_param(node: Node<'_>, cx: &FileCx<'_>) -> Option<Value> {
    if let Some(s) = py::string_value(node, cx) {
        return Some(Value::String(s));
    }
    if node.kind() == "string" {
        // f"job_{queue}": a pattern
        return interpolated_pattern(node, cx, "string_content", "interpolation");
    }
    if node.kind() == "call"
        && node
            .field("function")
            .is_some_and(|f| cx.text(f).ends_with("dumps"))
    {
        return Some(Value::String("json".into()));
    }
    None
}

fn py_chan(node: Node<'_>, cx: &FileCx<'_>) -> Chan {
    match py::string_value(node, cx) {
        Some(s) => Chan {
            raw: cx.text(node).to_string(),
            name: Some(s),
            source: "string",
            ..Chan::default()
        },
        None => Chan {
            raw: pg_text::compact(cx.text(node)),
            source: "expr",
            ..Chan::default()
        },
    }
}

fn replace_percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 1 < b.len() {
            match b[i + 1] {
                b's' | b'd' | b'r' => {
                    out.push(HOLE);
                    i += 2;
                    continue;
                }
                b'%' => {
                    out.push('%');
                    i += 2;
                    continue;
                }
                b'(' => {
                    if let Some(p) = text[i..].find(')') {
                        out.push(HOLE);
                        i += p + 1;
                        // the conversion letter after `)`, if ASCII
                        if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                            i += 1;
                        }
                        continue;
                    }
                }
                _ => {}
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn replace_braces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push(HOLE);
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

impl<'t> Visitor<'t> for PyVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" | "import_from_statement" => self.on_import(node, cx),
            "assignment" => self.on_assignment(node, cx),
            "call" => self.on_call(node, cx),
            "attribute" => self.on_attribute(node, cx),
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        self.st.finish(cx, "python");
    }
}

// ---------------------------------------------------------------------------------------
// Node

pub(crate) struct PgNode;

impl Detector for PgNode {
    fn name(&self) -> &'static str {
        "pg-node"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::JavaScript, Language::TypeScript, Language::Tsx]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "variable_declarator",
            "assignment_expression",
            "new_expression",
            "call_expression",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        // One of these is a conjunct of every path in `admits`.
        &[
            "'pg'",
            "\"pg\"",
            "`pg`",
            "'pg-pool'",
            "\"pg-pool\"",
            "`pg-pool`",
            "'pg-listen'",
            "\"pg-listen\"",
            "`pg-listen`",
            "LISTEN",
            "NOTIFY",
            "pg_notify",
        ]
    }
    /// A necessary condition of each way `JsVisitor` emits a fact. Modules are recognised by
    /// the exact string (`js::string_value` is the raw text between the quotes) as an import
    /// source or a `require` argument:
    /// - pg-listen imported: subscribers, `listenTo` / `notify` / `unlisten`, handlers;
    /// - `pg_connection` from `new`: pg or pg-pool imported, and `Client` / `Pool` named (a
    ///   pg-pool default import may have any name);
    /// - `pg_notification_handler` (`.on('notification')`): pg / pg-pool (or pg-listen)
    ///   imported, since the receiver must be a connection of the file or pg imported;
    /// - SQL through `.query(...)`: a LISTEN / UNLISTEN / NOTIFY / pg_notify word, pg
    ///   imported or the argument as written containing `LISTEN`, `NOTIFY` or `pg_notify`,
    ///   and a call of a method `query`.
    fn admits(&self, file: &Candidate<'_>) -> bool {
        // `bind` reads modules from import sources and `require(...)` arguments only.
        let imported = |quoted: &[&str], module: &str| {
            file.any(quoted) && crate::node_runtime::imported(file.text, &[module])
        };
        if imported(
            &["'pg-listen'", "\"pg-listen\"", "`pg-listen`"],
            "pg-listen",
        ) {
            return true;
        }
        let pool = imported(&["'pg-pool'", "\"pg-pool\"", "`pg-pool`"], "pg-pool");
        let pg = pool || imported(&["'pg'", "\"pg\"", "`pg`"], "pg");
        let w = Present::of(file.text, &JS_PG_WORDS, JS_PG_WORD_LIST, identifier_around);
        if pg && w.has("new") && (pool || w.any(&["Client", "Pool"])) {
            return true;
        }
        if pg && file.any(&["'notification'", "\"notification\"", "`notification`"]) {
            return true;
        }
        w.has("query")
            && (pg || file.any(&["LISTEN", "NOTIFY", "pg_notify"]))
            && sql_keyword(file.text)
            && crate::node_runtime::method_call_with(file.text, "query", &|_| true)
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<JsVisitor>::default()
    }
}

/// The JS identifiers `PgNode::admits` looks for.
const JS_PG_WORD_LIST: &[&str] = &["new", "Client", "Pool", "query"];
static JS_PG_WORDS: Words = Words::new(JS_PG_WORD_LIST);

#[derive(Default)]
struct JsVisitor {
    st: State,
    /// Local names of the `pg` module.
    pg_module: HashSet<String>,
    /// Local names of `Client` / `Pool` classes → class.
    classes: HashMap<String, &'static str>,
    /// Local names of pg-listen's `createSubscriber`.
    subscriber_fns: HashSet<String>,
    /// The file imports pg or pg-listen.
    imports_pg: bool,
}

/// Whether a listener body reconnects, re-listens, retries or exits the process: it calls
/// something named so (`connect`, `listen`, `retry`, `restart`, `setTimeout`, `exit`,
/// `start`, `init`, `setup`, `subscribe`, `kill`) or throws. Iterative.
fn js_reconnects(handler: Node<'_>, cx: &FileCx<'_>) -> bool {
    const WORDS: &[&str] = &[
        "connect",
        "listen",
        "retry",
        "restart",
        "settimeout",
        "exit",
        "start",
        "init",
        "setup",
        "subscribe",
        "kill",
    ];
    let mut cursor = handler.walk();
    loop {
        let n = cursor.node();
        if n.kind() == "throw_statement" {
            return true;
        }
        if n.kind() == "call_expression"
            && let Some(f) = n.field("function")
        {
            let name = match f.kind() {
                "member_expression" => f.field("property").map(|a| cx.text(a)),
                "identifier" => Some(cx.text(f)),
                _ => None,
            };
            if let Some(name) = name {
                let l = name.to_ascii_lowercase();
                if WORDS.iter().any(|w| l.contains(w)) {
                    return true;
                }
            }
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == handler.id() {
                return false;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return false;
            }
        }
    }
}

impl JsVisitor {
    fn bind(&mut self, local: &str, imported: Option<&str>, source: &str) {
        match source {
            "pg" | "pg-pool" => {
                self.imports_pg = true;
                self.st.imports.insert("pg");
                match imported {
                    None | Some("default") | Some("*") => {
                        self.pg_module.insert(local.to_string());
                        if source == "pg-pool" {
                            self.classes.insert(local.to_string(), "Pool");
                        }
                    }
                    Some("Client") => {
                        self.classes.insert(local.to_string(), "Client");
                    }
                    Some("Pool") => {
                        self.classes.insert(local.to_string(), "Pool");
                    }
                    Some("native") => {
                        self.pg_module.insert(local.to_string());
                    }
                    _ => {}
                }
            }
            "pg-listen" => {
                self.imports_pg = true;
                self.subscriber_fns.insert(local.to_string());
            }
            _ => {}
        }
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(source) = node.field("source").and_then(|s| js::string_value(s, cx)) else {
            return;
        };
        for (local, imported) in js::import_bindings(node, cx) {
            self.bind(local, imported, &source);
        }
    }

    fn on_declarator(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        let value = js::unwrap_expr(value);
        // require('pg'), require('pg').Pool
        let (call, prop) = match value.kind() {
            "call_expression" => (Some(value), None),
            "member_expression" => (
                value
                    .field("object")
                    .filter(|o| o.kind() == "call_expression"),
                value.field("property").map(|p| cx.text(p)),
            ),
            _ => (None, None),
        };
        if let Some(call) = call
            && call
                .field("function")
                .is_some_and(|f| cx.text(f) == "require")
            && let Some(src) = js::arguments(call)
                .first()
                .and_then(|a| js::string_value(*a, cx))
        {
            match name.kind() {
                "identifier" => self.bind(cx.text(name), prop, &src),
                "object_pattern" => {
                    for (local, key) in js::destructured(name, cx) {
                        self.bind(local, Some(key), &src);
                    }
                }
                _ => {}
            }
            return;
        }
        if name.kind() == "identifier"
            && let Some(sql) = self.sql_of(value, cx)
        {
            self.st.consts.insert(cx.text(name).to_string(), sql);
        }
    }

    fn class_of(&self, ctor: Node<'_>, cx: &FileCx<'_>) -> Option<&'static str> {
        let path = js::member_path(ctor, cx)?;
        if let Some(c) = self.classes.get(&path) {
            return Some(c);
        }
        let (module, prop) = path.rsplit_once('.')?;
        let module_ok = self.pg_module.contains(module)
            || module
                .strip_suffix(".native")
                .is_some_and(|m| self.pg_module.contains(m));
        match (module_ok, prop) {
            (true, "Client") => Some("Client"),
            (true, "Pool") => Some("Pool"),
            _ => None,
        }
    }

    fn on_new(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(ctor) = node.field("constructor") else {
            return;
        };
        let Some(class) = self.class_of(ctor, cx) else {
            return;
        };
        let options = js::arguments(node).into_iter().next();
        let dsn = options.and_then(|o| {
            js::string_value(o, cx).or_else(|| {
                js::object_property(o, "connectionString", cx).and_then(|v| js::string_value(v, cx))
            })
        });
        let port = options
            .and_then(|o| js::object_property(o, "port", cx))
            .is_some_and(|p| cx.text(p).contains("6543"));
        let binding = js::binding_of(node, cx);
        self.st.add_conn(
            Conn {
                binding,
                at: node.byte_range(),
                library: "pg",
                class: class.to_string(),
                pool: class == "Pool",
                emit: true,
                dsn_pooler: port || dsn.as_deref().is_some_and(dsn_is_pooler),
                ..Conn::default()
            },
            js_scope(node, cx),
        );
    }

    fn sql_of(&self, node: Node<'_>, cx: &FileCx<'_>) -> Option<Sql> {
        let node = js::unwrap_expr(node);
        match node.kind() {
            "string" => Some(Sql {
                text: js::string_value(node, cx)?,
                with: "literal",
                unsafe_splice: false,
            }),
            "template_string" => {
                let mut text = String::new();
                let mut holes = false;
                let mut c = node.walk();
                for child in node.named_children(&mut c) {
                    match child.kind() {
                        "string_fragment" | "escape_sequence" => text.push_str(cx.text(child)),
                        "template_substitution" => {
                            if !child.named_child(0).is_some_and(|e| js_quotes(e, cx)) {
                                holes = true;
                            }
                            text.push(HOLE);
                        }
                        _ => {}
                    }
                }
                let with = if text.contains(HOLE) {
                    "template"
                } else {
                    "literal"
                };
                Some(Sql {
                    text,
                    with,
                    unsafe_splice: holes,
                })
            }
            "identifier" => self.st.consts.get(cx.text(node)).cloned(),
            "binary_expression" => {
                let op = node.field("operator").map(|o| cx.text(o))?;
                if op != "+" {
                    return None;
                }
                let (left, right) = (node.field("left")?, node.field("right")?);
                concat_sql(
                    [
                        (self.sql_of(left, cx), left),
                        (self.sql_of(right, cx), right),
                    ],
                    |side| js_quotes(side, cx),
                )
            }
            "object" => self.sql_of(js::object_property(node, "text", cx)?, cx),
            _ => None,
        }
    }

    fn resolve(&self, obj: Node<'_>, cx: &FileCx<'_>) -> Option<usize> {
        let path = js::member_path(obj, cx)?;
        self.st.conn_of(&path, &js_scopes(obj, cx))
    }

    /// A client or pool passed to a function may get its handlers there.
    fn mark_escapes(&mut self, args: &[Node<'_>], cx: &FileCx<'_>) {
        for a in args {
            let a = js::unwrap_expr(*a);
            if !matches!(a.kind(), "identifier" | "member_expression") {
                continue;
            }
            if let Some(c) = self.resolve(a, cx) {
                self.st.conns[c].escapes = true;
            }
        }
    }

    fn on_call(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        let func = js::unwrap_expr(func);
        if !self.st.conns.is_empty() {
            let args = js::arguments(node);
            self.mark_escapes(&args, cx);
        }
        if func.kind() == "identifier" && self.subscriber_fns.contains(cx.text(func)) {
            let binding = js::binding_of(node, cx);
            let dsn = js::arguments(node).into_iter().next().and_then(|o| {
                js::object_property(o, "connectionString", cx).and_then(|v| js::string_value(v, cx))
            });
            self.st.add_conn(
                Conn {
                    binding,
                    at: node.byte_range(),
                    library: "pg-listen",
                    class: "subscriber".into(),
                    emit: true,
                    reconnect: true,
                    dsn_pooler: dsn.as_deref().is_some_and(dsn_is_pooler),
                    ..Conn::default()
                },
                js_scope(node, cx),
            );
            return;
        }
        if func.kind() != "member_expression" {
            return;
        }
        let (Some(obj), Some(prop)) = (func.field("object"), func.field("property")) else {
            return;
        };
        let method = cx.text(prop);
        let receiver = js::member_path(obj, cx);
        let recv_conn = self.resolve(obj, cx);
        let args = js::arguments(node);
        match method {
            "connect" => {
                // client from a pool: `const c = await pool.connect()` or the callback form
                let is_pool = match recv_conn.and_then(|c| self.st.conns.get(c)) {
                    Some(c) => c.pool,
                    None => {
                        self.imports_pg
                            && receiver
                                .as_deref()
                                .is_some_and(|r| r.to_ascii_lowercase().ends_with("pool"))
                    }
                };
                if !is_pool {
                    return;
                }
                let binding = js::binding_of(node, cx)
                    .map(|b| (b, js_scope(node, cx)))
                    .or_else(|| {
                        // pool.connect((err, client, release) => ...): bound in the callback
                        let cb = args.first().map(|a| js::unwrap_expr(*a))?;
                        if !js::is_function(cb) {
                            return None;
                        }
                        let params = cb.field("parameters")?;
                        let mut c = params.walk();
                        let p = params.named_children(&mut c).nth(1)?;
                        Some((cx.text(p).to_string(), cb.start_byte()))
                    });
                if let Some((binding, scope)) = binding {
                    self.st.add_conn(
                        Conn {
                            binding: Some(binding),
                            at: node.byte_range(),
                            library: "pg",
                            class: "PoolClient".into(),
                            pool: true,
                            parent: recv_conn,
                            ..Conn::default()
                        },
                        scope,
                    );
                }
            }
            "query" => {
                let Some(first) = args.first() else { return };
                if recv_conn.is_none() && !self.imports_pg {
                    // without pg in the file, only unmistakable SQL counts
                    let t = cx.text(*first);
                    if !t.contains("LISTEN") && !t.contains("NOTIFY") && !t.contains("pg_notify") {
                        return;
                    }
                }
                let Some(sql) = self.sql_of(*first, cx) else {
                    return;
                };
                let values = args
                    .get(1)
                    .copied()
                    .or_else(|| js::object_property(js::unwrap_expr(*first), "values", cx));
                let positional: Vec<Option<Value>> = match values.map(js::unwrap_expr) {
                    Some(arr) if arr.kind() == "array" => {
                        let mut c = arr.walk();
                        arr.named_children(&mut c)
                            .filter(|n| n.kind() != "comment")
                            .map(|n| js_param(n, cx))
                            .collect()
                    }
                    _ => Vec::new(),
                };
                let params = Params {
                    positional,
                    named: HashMap::new(),
                };
                sql_facts(
                    &mut self.st,
                    &sql,
                    node.byte_range(),
                    &params,
                    Some("pg"),
                    "query",
                    receiver,
                    recv_conn,
                    &[],
                    false,
                );
            }
            "on" | "once" | "addListener" => {
                let Some(event) = args.first().and_then(|a| js::string_value(*a, cx)) else {
                    return;
                };
                let handler = args.get(1).map(|h| js::unwrap_expr(*h));
                // pg-listen: subscriber.notifications.on(ch) / subscriber.events.on('error')
                if let Some(inner) = js::unwrap_expr(obj).field("object")
                    && obj.kind() == "member_expression"
                    && let Some(sub) = self.resolve(inner, cx)
                    && self.st.conns[sub].library == "pg-listen"
                {
                    let part = obj
                        .field("property")
                        .map(|p| cx.text(p))
                        .unwrap_or_default();
                    if part == "events" && event == "error" {
                        self.st.conns[sub].has_error = true;
                    } else if part == "notifications" {
                        let chan = Chan {
                            raw: cx.text(args[0]).to_string(),
                            name: Some(event),
                            source: "string",
                            ..Chan::default()
                        };
                        self.js_handler(
                            node,
                            "on",
                            receiver,
                            Some(sub),
                            "pg-listen",
                            handler,
                            Some(chan),
                        );
                    }
                    return;
                }
                match event.as_str() {
                    "notification" => {
                        if recv_conn.is_none() && !self.imports_pg {
                            return;
                        }
                        self.js_handler(node, method, receiver, recv_conn, "pg", handler, None);
                    }
                    "error" | "end" => {
                        if let Some(c) = recv_conn {
                            // a handler passed by reference is not followed: assume it copes
                            let reconnects = handler
                                .is_some_and(|h| !js::is_function(h) || js_reconnects(h, cx));
                            let conn = &mut self.st.conns[c];
                            if event == "error" {
                                conn.has_error = true;
                            } else {
                                conn.has_end = reconnects;
                            }
                            if reconnects {
                                conn.reconnect = true;
                            }
                        }
                    }
                    _ => {}
                }
            }
            "listenTo" | "notify" | "unlisten" | "unlistenAll" => {
                let Some(c) = recv_conn else { return };
                if self.st.conns[c].library != "pg-listen" {
                    return;
                }
                let chan = match args.first() {
                    Some(a) => match js::string_value(*a, cx) {
                        Some(s) => Chan {
                            raw: cx.text(*a).to_string(),
                            name: Some(s),
                            source: "string",
                            ..Chan::default()
                        },
                        None => Chan {
                            raw: pg_text::compact(cx.text(*a)),
                            source: "expr",
                            ..Chan::default()
                        },
                    },
                    None => Chan {
                        raw: "*".into(),
                        name: Some("*".into()),
                        source: "all",
                        ..Chan::default()
                    },
                };
                let mut attrs = BTreeMap::new();
                attrs.insert("library".into(), Value::from("pg-listen"));
                let (kind, role, payload) = match method {
                    "listenTo" => {
                        attrs.insert("method".into(), Value::from(method));
                        attrs.insert("string_built".into(), Value::from(false));
                        if let Some(r) = &receiver {
                            attrs.insert("receiver".into(), Value::from(r.clone()));
                        }
                        ("pg_listen", Role::Consumer, None)
                    }
                    "notify" => {
                        attrs.insert("form".into(), Value::from("client"));
                        attrs.insert("string_built".into(), Value::from(false));
                        if let Some(r) = &receiver {
                            attrs.insert("receiver".into(), Value::from(r.clone()));
                        }
                        let payload = match args.get(1) {
                            Some(p) => Payload {
                                kind: "json",
                                text: pg_text::compact(cx.text(*p)),
                                fields: None,
                                param: None,
                            },
                            None => Payload::none(),
                        };
                        ("pg_notify", Role::Producer, Some(payload))
                    }
                    _ => ("pg_unlisten", Role::Consumer, None),
                };
                self.st.pending.push(Pending {
                    kind,
                    role,
                    at: node.byte_range(),
                    chan: Some(chan),
                    payload,
                    attrs,
                    conn: Some(c),
                    funcs: Vec::new(),
                    retry_local: false,
                });
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn js_handler(
        &mut self,
        node: Node<'_>,
        method: &str,
        receiver: Option<String>,
        conn: Option<usize>,
        library: &'static str,
        handler: Option<Node<'_>>,
        chan: Option<Chan>,
    ) {
        let mut attrs = BTreeMap::new();
        attrs.insert("method".into(), Value::from(method));
        attrs.insert("library".into(), Value::from(library));
        if let Some(r) = receiver {
            attrs.insert("receiver".into(), Value::from(r));
        }
        let is_async = handler.is_some_and(|h| js::is_function(h) && js::is_async(h));
        attrs.insert("handler_async".into(), Value::from(is_async));
        let end = handler.map_or(node.end_byte(), |h| h.start_byte());
        self.st.pending.push(Pending {
            kind: "pg_notification_handler",
            role: Role::Consumer,
            at: node.start_byte()..end.max(node.start_byte()),
            chan,
            payload: None,
            attrs,
            conn,
            funcs: Vec::new(),
            retry_local: false,
        });
    }
}

/// A call that quotes a value for SQL: `format.ident(x)`, `client.escapeIdentifier(x)`,
/// `escapeLiteral`, pg-format `format('%I', x)`, `quoteIdent(x)`.
fn js_quotes(expr: Node<'_>, cx: &FileCx<'_>) -> bool {
    let expr = js::unwrap_expr(expr);
    if expr.kind() != "call_expression" {
        return false;
    }
    let Some(f) = expr.field("function") else {
        return false;
    };
    let name = match f.kind() {
        "member_expression" => f.field("property").map(|p| cx.text(p)),
        "identifier" => Some(cx.text(f)),
        _ => None,
    };
    name.is_some_and(quoting_name)
}

fn quoting_name(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    ["ident", "literal", "escape", "quote"]
        .iter()
        .any(|w| l.contains(w))
}

fn js_param(node: Node<'_>, cx: &FileCx<'_>) -> Option<Value> {
    let node = js::unwrap_expr(node);
    if let Some(s) = js::string_value(node, cx) {
        return Some(Value::String(s));
    }
    if node.kind() == "template_string" {
        // `job_${queue}`: a pattern
        return interpolated_pattern(node, cx, "string_fragment", "template_substitution");
    }
    if node.kind() == "call_expression"
        && node
            .field("function")
            .is_some_and(|f| cx.text(f) == "JSON.stringify")
    {
        return Some(Value::String("json".into()));
    }
    None
}

impl<'t> Visitor<'t> for JsVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" => self.on_import(node, cx),
            "variable_declarator" => self.on_declarator(node, cx),
            "new_expression" => self.on_new(node, cx),
            "call_expression" => self.on_call(node, cx),
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        self.st.finish(cx, "javascript");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{replace_braces, replace_percent};
    use crate::pg_text::HOLE;
    use crate::prefilter::check_admits as check;
    use msgscan_lang::Language;

    #[test]
    fn python_prefilter_admits_each_path_and_rules_out_near_misses() {
        check(
            Language::Python,
            "pg-python",
            &[
                // pg_connection: module.connect, connect imported, Connection.connect, a
                // psycopg pool class, asyncpg.create_pool
                "import psycopg2\nconn = psycopg2.connect('dbname=x')\n",
                "from psycopg import connect\nconn = connect('')\n",
                "conn = Connection.connect('')\n",
                "conn = (psycopg.AsyncConnection  # async\n    .connect(''))\n",
                "import os, aiopg\nconn = aiopg.connect('')\n",
                "from psycopg_pool import ConnectionPool\npool = ConnectionPool('')\n",
                "from psycopg2 import pool\np = pool.ThreadedConnectionPool(1, 5, '')\n",
                "import asyncpg\nasync def f():\n    pool = await asyncpg.create_pool('')\n",
                // SQL through an execute-like method: no import needed
                "cur.execute('LISTEN jobs')\n",
                // escapes of white space are blanks
                "cur.execute(\"\\nLISTEN jobs\")\n",
                "cur.execute(\"BEGIN\\n  \\tNOTIFY jobs\")\n",
                "cur.execute(\"select pg_notify(%s, %s)\", ('jobs', 'x'))\n",
                "cur.execute(\"BEGIN;unlisten *\")\n",
                "cur.execute(\"\"\"\n    -- wait for jobs\n    LISTEN jobs\n\"\"\")\n",
                "Q = 'NOTIFY jobs'\ndb.execute(text(Q))\n",
                "cur.execute('{}LISTEN jobs'.format('BEGIN;'))\n",
                // asyncpg listeners: a connection from acquire(), or asyncpg imported
                "conn = pool.acquire()\nconn.add_listener('jobs', cb)\n",
                "import asyncpg\nconn.remove_listener('jobs', cb)\n",
                // psycopg notifications: psycopg imported, or a connection of the file
                "import psycopg2\nfor n in conn.notifies:\n    pass\n",
                "conn = pool.getconn()\nfor n in conn.notifies():\n    pass\n",
            ],
            &[
                "sock.listen(5)\ncur.execute('SELECT 1')\n",
                "cond.notify()\ncur.execute(q)\n",
                "# listen for changes\ncursor.execute(sql)\n",
                "def listen(self, channel):\n    self.cursor.execute(sql)\n",
                "x = 'listener'\nobserver.notify_all()\ncur.fetch()\n",
                "import sqlalchemy\nconn = engine.connect()\n",
                "conn = AsyncAdapt_asyncpg_connection.connect()\n",
                "scheduler.add_listener(cb, EVENT_JOB_ERROR)\n",
                "for n in self.notifies:\n    pass\n",
                // driver names in docs and URLs; connect on other connections
                "'''Use postgresql+psycopg2://u@h/db or asyncpg'''\nc = engine.connect()\n",
                "class Connection:\n    def connect(self):\n        self.connect_timeout = 1\n",
                // redis's and kombu's pools are no Postgres connections
                "import redis\npool = redis.ConnectionPool()\n",
                "return ConnectionPool(self, limit)\n",
            ],
        );
    }

    #[test]
    fn node_prefilter_admits_each_path_and_rules_out_near_misses() {
        check(
            Language::JavaScript,
            "pg-node",
            &[
                "const { Client } = require('pg');\nconst c = new Client();\n",
                "import Pool from 'pg-pool';\nconst p = new Pool();\n",
                "const createSubscriber = require(`pg-listen`);\nconst s = createSubscriber({});\n",
                "import pg from \"pg\";\nclient.on('notification', (m) => {});\n",
                "db.query('LISTEN jobs');\n",
                "import pg from 'pg';\nclient.query('select pg_notify($1, $2)', ['a', 'b']);\n",
                "import pg from 'pg';\nconst q = `listen jobs`;\nclient.query(q);\n",
                "const { Pool } = require( /* driver */ 'pg');\nconst p = new Pool();\n",
                "db /* main */\n  .query('LISTEN jobs');\n",
                "db.query('\\r\\nLISTEN jobs');\n",
            ],
            &[
                "window.addEventListener('click', f);\ndb.query('select 1');\n",
                "server.listen(3000);\nemitter.notify(x);\n",
                "const pg = require('pgx');\nconst c = new pg.Client();\n",
                "db.query('listen jobs');\n",
                "emitter.on('notification', (m) => {});\n",
                // data, not code: module names and SQL words in strings
                "Search.setIndex({\"pg\": [\"notification\", \"new Client\"], \"q\": \"query LISTEN x\"});\n",
            ],
        );
    }

    #[test]
    fn escapes_of_white_space_are_blanks_in_sql() {
        let src = "cur.execute(\"LISTEN jobs\\n\")\ncur.execute(\"\\nLISTEN other\")\n\
                   cur.execute(\"LISTEN\\tthird\")\ncur.execute(\"NOTIFY fourth, 'a\\\\nb'\")\n";
        let mut p = msgscan_lang::FileParser::new(std::time::Duration::from_secs(5));
        let parsed = p.parse(Language::Python, src).unwrap();
        let names: Vec<(String, Option<String>)> = crate::detect("t.py", src, &parsed)
            .into_iter()
            .map(|f| (f.kind, f.name))
            .collect();
        let expected = [
            ("pg_listen", "jobs"),
            ("pg_listen", "other"),
            ("pg_listen", "third"),
            ("pg_notify", "fourth"),
        ];
        for (kind, name) in expected {
            assert!(
                names.contains(&(kind.to_string(), Some(name.to_string()))),
                "{kind} {name} in {names:?}"
            );
        }
        assert_eq!(
            super::blank_escapes("a\\\\nb \\x0a \\n"),
            "a\\\\nb \\x0a   "
        );
    }

    #[test]
    fn placeholders_become_holes() {
        assert_eq!(
            replace_percent("NOTIFY %s, '%s'"),
            format!("NOTIFY {HOLE}, '{HOLE}'")
        );
        assert_eq!(replace_percent("LISTEN %(ch)s"), format!("LISTEN {HOLE}"));
        assert_eq!(replace_braces("LISTEN {channel}"), format!("LISTEN {HOLE}"));
        // never slices inside a multi-byte character
        let _ = replace_percent("NOTIFY %(x)é %(y)");
        let _ = replace_percent("%");
    }
}
