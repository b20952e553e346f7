//! PostgreSQL LISTEN / NOTIFY in SQL files: `NOTIFY`, `LISTEN`, `UNLISTEN` and
//! `pg_notify(...)` at top level and in function bodies (PL/pgSQL bodies are parsed in place;
//! their statements are opaque text read with [`crate::pg_text`]; bodies of `LANGUAGE sql`
//! functions and single-quoted bodies are read as text too), dynamic `EXECUTE` of built
//! NOTIFY strings, and `CREATE TRIGGER ... EXECUTE FUNCTION f()` linked to `f` when `f` is
//! defined in the same file.
//!
//! The fact kinds of the whole Postgres family (also those of [`crate::pg_clients`]) are
//! declared here, in [`KINDS`], and linked by [`link`].
//!
//! Channel names are normalised as Postgres does: an unquoted identifier folds to lower
//! case, a quoted one keeps its case, and a `pg_notify('X', ...)` string is taken as is.
//! The as-written name is kept in `raw_name`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::engine::{Detector, FactBuilder, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::pg_text::{self, Chan, Item, ItemKind, Payload};

pub(crate) const TRANSPORT: &str = "pg_notify";

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "pg_notify",
        transport: TRANSPORT,
        doc: "A notification sent: `NOTIFY ch [, payload]` or `pg_notify(ch, payload)` in SQL, PL/pgSQL, or SQL text run from Python / Node, and client helpers (`subscriber.notify`). Name: the normalised channel, absent when dynamic.",
        attrs: attrs! {
            "raw_name": String = "the channel as written (`Orders`, `\"Orders\"`, `'orders'`, `$1`)",
            "name_source": String = "`identifier` (unquoted, folded to lower case), `quoted`, `string` (pg_notify literal, case kept), `param` (bound from the query's parameters), `variable` (PL/pgSQL variable with a constant default), `expr` (not known)",
            "dynamic": Bool = "the channel name is not known statically",
            "pattern": String = "glob of a partly static channel (`orders_*`)",
            "form": String = "`statement` (NOTIFY), `function` (pg_notify), `client` (a library helper)",
            "context": String = "`sql` (top level), `plpgsql` (function or DO body), `sql-function` (LANGUAGE sql body), `dynamic-sql` (EXECUTE of a built string), `python`, `javascript`",
            "payload_kind": String = "`none`, `constant`, `key` (a column of NEW/OLD), `row` (the whole row: row_to_json(NEW), to_jsonb(NEW), NEW::text), `object` (json_build_object), `aggregate` (json_agg, array_agg...), `param`, `interpolated`, `json` (JSON.stringify / json.dumps in the app), `expr`",
            "payload": String = "the payload expression as written (compacted)",
            "payload_fields": Int = "number of fields of a json_build_object payload",
            "string_built": Bool = "the SQL text is assembled at run time with values spliced in unquoted (`||` of a bare value, format %s, f-string, template literal, `+`, `%`, `.format`)",
            "built_with": String = "how the SQL text was assembled: `literal`, `concat`, `format`, `fstring`, `template`, `percent`, `psycopg.sql`",
            "function": String = "the SQL function whose body holds it",
            "trigger_function": Bool = "that function `RETURNS trigger`",
            "trigger_level": String = "`row` if a FOR EACH ROW trigger of the same file executes that function, else `statement` if a statement-level one does",
            "library": String = "client library: `psycopg2`, `psycopg`, `asyncpg`, `aiopg`, `sqlalchemy`, `pg`, `pg-listen`",
            "receiver": String = "the object the call is made on, as written",
        },
    },
    KindSpec {
        kind: "pg_listen",
        transport: TRANSPORT,
        doc: "A LISTEN: `LISTEN ch` in SQL or run from Python / Node, asyncpg `add_listener(ch, cb)`, pg-listen `listenTo(ch)`. Name: the normalised channel, absent when dynamic.",
        attrs: attrs! {
            "raw_name": String = "the channel as written",
            "name_source": String = "as for pg_notify",
            "dynamic": Bool = "the channel name is not known statically",
            "pattern": String = "glob of a partly static channel",
            "context": String = "as for pg_notify",
            "string_built": Bool = "the LISTEN text is assembled with values spliced in unquoted",
            "built_with": String = "how the SQL text was assembled",
            "library": String = "client library",
            "method": String = "the call: `execute`, `query`, `add_listener`, `listenTo`, ...",
            "receiver": String = "the connection, cursor or pool as written",
            "connection": String = "the binding of the connection it runs on, when resolved in the file",
            "pool": Bool = "it runs on a pooled connection (`pool.query`, a client from `pool.connect()`, a connection from `pool.acquire()`); absent when unknown",
            "autocommit": Bool = "psycopg: the connection is in autocommit mode (`autocommit=True`, `.autocommit = True`, `set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)`); absent when the connection is not resolved",
            "commits": Bool = "psycopg: the file calls `.commit()` on that connection",
            "dsn_pooler": Bool = "the connection string literal points at a transaction pooler (port 6543, `pgbouncer=true`)",
            "reconnect": Bool = "a reconnect path exists (see pg_notification_handler)",
            "has_handler": Bool = "a callback is registered with it (asyncpg add_listener)",
        },
    },
    KindSpec {
        kind: "pg_unlisten",
        transport: TRANSPORT,
        doc: "An UNLISTEN (`UNLISTEN ch`, `UNLISTEN *`, asyncpg `remove_listener`, pg-listen `unlisten`). Name: the channel, `*` for all.",
        attrs: attrs! {
            "raw_name": String = "the channel as written",
            "name_source": String = "as for pg_notify, or `all`",
            "dynamic": Bool = "the channel name is not known statically",
            "context": String = "as for pg_notify",
            "library": String = "client library",
            "string_built": Bool = "the text is assembled with values spliced in unquoted",
        },
    },
    KindSpec {
        kind: "pg_notification_handler",
        transport: TRANSPORT,
        doc: "Code that receives notifications: node-postgres `client.on('notification', fn)`, pg-listen `subscriber.notifications.on(ch, fn)`, psycopg2 `conn.notifies` / `conn.poll()`, psycopg 3 `conn.notifies()` / `add_notify_handler`. Name: the channel where the API names one.",
        attrs: attrs! {
            "raw_name": String = "pg-listen: the channel as written",
            "name_source": String = "pg-listen: `string` or `expr`",
            "dynamic": Bool = "pg-listen: the channel name is not known statically",
            "pattern": String = "glob of a partly static channel",
            "context": String = "`python` or `javascript`",
            "library": String = "client library",
            "method": String = "how: `on`, `notifies`, `add_notify_handler`",
            "receiver": String = "the client or connection as written",
            "connection": String = "the binding of the connection, when resolved in the file",
            "pool": Bool = "the receiver is a pool or a pooled client; absent when unknown",
            "has_error_handler": Bool = "node: an `'error'` listener is registered on the same client",
            "reconnect": Bool = "a reconnect path exists: node, an `'error'`/`'end'` listener on the client that reconnects, re-listens, retries, throws or exits (a handler passed by reference counts); pg-listen (reconnects itself); asyncpg, `add_termination_listener`; Python, the code runs in a loop that also connects, in a function called from a retry loop (a loop around a `try`, or a loop that connects), or in a function decorated with `retry`/`backoff`. Absent when the connection is not created in the file and no retry is seen",
            "handler_async": Bool = "node: the callback is an async function",
            "busy_poll": Bool = "psycopg2: the loop that calls `conn.poll()` around this `conn.notifies` read never waits for the socket (no `select`, `selectors`, `wait`, `sleep`); absent when there is no polling loop",
        },
    },
    KindSpec {
        kind: "pg_connection",
        transport: TRANSPORT,
        doc: "A Postgres client, connection or pool: node-postgres `new Client/Pool`, pg-listen `createSubscriber`, psycopg2 / psycopg `connect`, asyncpg `connect` / `create_pool`. Name: the binding.",
        attrs: attrs! {
            "library": String = "client library",
            "class": String = "`Client`, `Pool`, `connect`, `create_pool`, `ConnectionPool`, `subscriber`",
            "pool": Bool = "it is a pool",
            "has_error_handler": Bool = "node: an `'error'` listener is registered on it",
            "autocommit": Bool = "psycopg: autocommit is set on it (constructor or later in the file)",
            "listens": Bool = "LISTEN is run on it (or on a client or cursor taken from it)",
            "dsn_pooler": Bool = "the connection string literal points at a transaction pooler (port 6543, `pgbouncer=true`)",
        },
    },
    KindSpec {
        kind: "sql_trigger",
        transport: TRANSPORT,
        doc: "`CREATE TRIGGER`. Name: the trigger.",
        attrs: attrs! {
            "table": String = "the table (or view) as written",
            "events": List = "`insert`, `update`, `delete`, `truncate`",
            "timing": String = "`before`, `after`, `instead of`",
            "level": String = "`row` or `statement` (the default)",
            "function": String = "the function executed, as written",
            "has_when": Bool = "a `WHEN (...)` condition limits it",
            "constraint": Bool = "a CONSTRAINT trigger",
        },
    },
    KindSpec {
        kind: "sql_notify_trigger",
        transport: TRANSPORT,
        doc: "A trigger whose function (defined in the same file) sends notifications. Name: the trigger.",
        attrs: attrs! {
            "table": String = "the table as written",
            "events": List = "trigger events",
            "level": String = "`row` or `statement`",
            "function": String = "the function executed",
            "channels": List = "the channels the function notifies (normalised names, patterns, or `?`)",
            "payload_kinds": List = "the payload kinds of those notifications",
            "has_when": Bool = "a `WHEN (...)` condition limits it",
        },
    },
];

/// Attributes common to channel facts.
pub(crate) fn chan_fact(b: FactBuilder, chan: &Chan) -> FactBuilder {
    b.name_opt(chan.name.clone())
        .attr("raw_name", chan.raw.clone())
        .attr("name_source", chan.source)
        .attr("dynamic", chan.dynamic())
        .attr_opt("pattern", chan.pattern.clone())
}

pub(crate) fn payload_fact(b: FactBuilder, p: &Payload) -> FactBuilder {
    b.attr("payload_kind", p.kind)
        .attr("payload", p.text.clone())
        .attr_opt("payload_fields", p.fields.map(|n| n as u64))
}

/// The kind and role of a recognised item.
pub(crate) fn item_kind(item: &Item) -> (&'static str, Role) {
    match item.kind {
        ItemKind::Listen => ("pg_listen", Role::Consumer),
        ItemKind::Unlisten => ("pg_unlisten", Role::Consumer),
        ItemKind::Notify => ("pg_notify", Role::Producer),
    }
}

pub(crate) struct PgSql;

impl Detector for PgSql {
    fn name(&self) -> &'static str {
        "pg-sql"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Sql]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            // main grammar
            "ListenStmt",
            "UnlistenStmt",
            "NotifyStmt",
            "func_application",
            "CreateFunctionStmt",
            "CreateTrigStmt",
            // PL/pgSQL grammar
            "sql_expression",
            "decl_statement",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        &[
            "notify", "NOTIFY", "Notify", "listen", "LISTEN", "Listen", "trigger", "TRIGGER",
            "Trigger",
        ]
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<SqlVisitor>::default()
    }
}

struct Func {
    /// Lower-cased last component, for matching triggers.
    key: String,
    name: String,
    body: Range<usize>,
    returns_trigger: bool,
    vars: HashMap<String, String>,
}

struct Found {
    item: Item,
    at: Range<usize>,
    context: &'static str,
    built: Option<(&'static str, bool)>,
}

struct Trigger {
    name: String,
    at: Range<usize>,
    table: String,
    events: Vec<String>,
    timing: String,
    level: &'static str,
    function: String,
    has_when: bool,
    constraint: bool,
}

#[derive(Default)]
struct SqlVisitor {
    funcs: Vec<Func>,
    found: Vec<Found>,
    triggers: Vec<Trigger>,
    /// End of the last PL/pgSQL expression read (nested expressions are read once).
    last_expr_end: usize,
}

fn child_of_kind<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut c = node.walk();
    node.named_children(&mut c).find(|n| n.kind() == kind)
}

/// Descendants of `node` of kind `kind`, in order (iterative).
fn descendants<'t>(node: Node<'t>, kind: &str) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == kind && n.id() != node.id() {
            out.push(n);
            continue;
        }
        let mut c = n.walk();
        let children: Vec<Node<'t>> = n.named_children(&mut c).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// `schema."Name"` → `name` key for matching (last component, unquoted folded).
fn func_key(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name).trim();
    match last.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(q) => q.to_string(),
        None => last.to_lowercase(),
    }
}

impl SqlVisitor {
    fn add_items(&mut self, text: &str, base: Option<usize>, at: Range<usize>, ctx: &'static str) {
        for item in pg_text::scan(text) {
            let at = match base {
                Some(b) => item.range.start + b..item.range.end + b,
                None => at.clone(),
            };
            self.found.push(Found {
                item,
                at,
                context: ctx,
                built: None,
            });
        }
    }

    fn func_at(&self, pos: usize) -> Option<&Func> {
        self.funcs.iter().find(|f| f.body.contains(&pos))
    }

    fn on_function(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let name: String = child_of_kind(node, "func_name")
            .map(|n| cx.text(n).split_whitespace().collect())
            .unwrap_or_default();
        let returns_trigger = child_of_kind(node, "func_return")
            .is_some_and(|r| cx.text(r).trim().eq_ignore_ascii_case("trigger"));
        let mut language = None;
        let mut body = None;
        if let Some(opts) = child_of_kind(node, "opt_createfunc_opt_list") {
            for item in descendants(opts, "createfunc_opt_item") {
                if child_of_kind(item, "kw_language").is_some() {
                    language = item
                        .named_child(1)
                        .map(|n| cx.text(n).trim_matches(['\'', '"']).to_ascii_lowercase());
                } else if let Some(func_as) = child_of_kind(item, "func_as") {
                    body = descendants(func_as, "dollar_quoted_string")
                        .into_iter()
                        .next()
                        .or_else(|| descendants(func_as, "string_literal").into_iter().next());
                }
            }
        }
        let Some(body) = body else { return };
        self.funcs.push(Func {
            key: func_key(&name),
            name,
            body: body.byte_range(),
            returns_trigger,
            vars: HashMap::new(),
        });
        let plpgsql = language.as_deref() == Some("plpgsql");
        let text = cx.text(body);
        if body.kind() == "dollar_quoted_string" {
            if !plpgsql {
                // LANGUAGE sql (or other) bodies are not parsed: read them as text.
                self.add_items(
                    text,
                    Some(body.start_byte()),
                    body.byte_range(),
                    "sql-function",
                );
            }
        } else {
            // A single-quoted body: quotes inside are doubled.
            let content = pg_text::str_content(text);
            let ctx = if plpgsql { "plpgsql" } else { "sql-function" };
            self.add_items(&content, None, body.byte_range(), ctx);
        }
    }

    fn on_trigger(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let name = child_of_kind(node, "name")
            .map(|n| cx.text(n).to_string())
            .unwrap_or_default();
        let table = child_of_kind(node, "qualified_name")
            .map(|n| cx.text(n).split_whitespace().collect())
            .unwrap_or_default();
        let timing = child_of_kind(node, "TriggerActionTime")
            .map(|n| {
                cx.text(n)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            })
            .unwrap_or_else(|| "after".into());
        let events = child_of_kind(node, "TriggerEvents")
            .map(|ev| {
                descendants(ev, "TriggerOneEvent")
                    .into_iter()
                    .filter_map(|e| cx.text(e).split_whitespace().next().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        let level = match child_of_kind(node, "TriggerForSpec")
            .and_then(|s| child_of_kind(s, "TriggerForType"))
            .map(|t| cx.text(t).to_ascii_lowercase())
        {
            Some(t) if t == "row" => "row",
            _ => "statement",
        };
        let function: String = child_of_kind(node, "func_name")
            .map(|n| cx.text(n).split_whitespace().collect())
            .unwrap_or_default();
        let has_when = child_of_kind(node, "TriggerWhen").is_some();
        let constraint = child_of_kind(node, "kw_constraint").is_some();
        let at = child_of_kind(node, "name")
            .map(|n| node.start_byte()..n.end_byte())
            .unwrap_or_else(|| node.byte_range());
        self.triggers.push(Trigger {
            name,
            at,
            table,
            events,
            timing,
            level,
            function,
            has_when,
            constraint,
        });
    }

    fn on_expression(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        if node.start_byte() < self.last_expr_end {
            return;
        }
        self.last_expr_end = node.end_byte();
        let text = cx.text(node);
        let dynamic = cx
            .parent(node)
            .is_some_and(|p| p.kind() == "stmt_dynexecute");
        if dynamic {
            let Some(built) = pg_text::built_sql(text) else {
                return;
            };
            for item in pg_text::scan(&built.text) {
                self.found.push(Found {
                    item,
                    at: node.byte_range(),
                    context: "dynamic-sql",
                    built: Some((built.with, built.unsafe_splice)),
                });
            }
        } else if text.contains(['n', 'N', 'l', 'L']) {
            self.add_items(text, Some(node.start_byte()), node.byte_range(), "plpgsql");
        }
    }

    fn on_declaration(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(var) = child_of_kind(node, "decl_varname") else {
            return;
        };
        let Some(def) = child_of_kind(node, "decl_defval")
            .and_then(|d| descendants(d, "sql_expression").into_iter().next())
        else {
            return;
        };
        let toks = pg_text::lex(cx.text(def));
        let [t] = toks.as_slice() else { return };
        if t.t != pg_text::T::Str {
            return;
        }
        let value = pg_text::str_content(&cx.text(def)[t.start..t.end]);
        let var = cx.text(var).to_lowercase();
        let pos = node.start_byte();
        if let Some(f) = self.funcs.iter_mut().find(|f| f.body.contains(&pos)) {
            f.vars.insert(var, value);
        }
    }
}

impl<'t> Visitor<'t> for SqlVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "ListenStmt" | "UnlistenStmt" | "NotifyStmt" => {
                self.add_items(
                    cx.text(node),
                    Some(node.start_byte()),
                    node.byte_range(),
                    "sql",
                );
            }
            "func_application" => {
                let is_notify = child_of_kind(node, "func_name")
                    .is_some_and(|n| func_key(cx.text(n)) == "pg_notify");
                if is_notify {
                    self.add_items(
                        cx.text(node),
                        Some(node.start_byte()),
                        node.byte_range(),
                        "sql",
                    );
                }
            }
            "CreateFunctionStmt" => self.on_function(node, cx),
            "CreateTrigStmt" => self.on_trigger(node, cx),
            "sql_expression" => self.on_expression(node, cx),
            "decl_statement" => self.on_declaration(node, cx),
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        // trigger level per function key: row wins
        let mut level_of: HashMap<String, &'static str> = HashMap::new();
        for t in &self.triggers {
            let k = func_key(&t.function);
            let e = level_of.entry(k).or_insert(t.level);
            if t.level == "row" {
                *e = "row";
            }
        }
        // channels and payloads per function key
        let mut notifies: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for f in &self.found {
            let func = self.func_at(f.at.start);
            let mut chan = f.item.chan.clone();
            if let (Some(func), Some(var)) = (func, chan.var.as_deref())
                && let Some(value) = func.vars.get(var)
            {
                chan.name = Some(value.clone());
            } else if let Some(func) = func
                && chan.dynamic()
                && chan.pattern.is_none()
                && !func.vars.is_empty()
            {
                chan.pattern = pattern_with_vars(&chan.raw, &func.vars);
            }
            let (kind, role) = item_kind(&f.item);
            if f.item.kind == ItemKind::Notify
                && let Some(func) = func
            {
                let entry = notifies.entry(func.key.clone()).or_default();
                let ch = chan
                    .name
                    .clone()
                    .or_else(|| chan.pattern.clone())
                    .unwrap_or_else(|| "?".into());
                if !entry.0.contains(&ch) {
                    entry.0.push(ch);
                }
                let pk = f
                    .item
                    .payload
                    .as_ref()
                    .map_or("none", |p| p.kind)
                    .to_string();
                if !entry.1.contains(&pk) {
                    entry.1.push(pk);
                }
            }
            let mut b = chan_fact(cx.fact_range(kind, TRANSPORT, role, f.at.clone()), &chan)
                .attr("context", f.context);
            if f.item.kind == ItemKind::Notify {
                b = b.attr("form", f.item.form);
                if let Some(p) = &f.item.payload {
                    b = payload_fact(b, p);
                }
            }
            if f.item.kind != ItemKind::Unlisten || f.built.is_some() {
                let (with, unsafe_splice) = f.built.unwrap_or(("literal", false));
                b = b.attr("string_built", unsafe_splice);
                if f.item.kind != ItemKind::Unlisten {
                    b = b.attr("built_with", with);
                }
            }
            if let Some(func) = func {
                b = b
                    .attr("function", func.name.clone())
                    .attr("trigger_function", func.returns_trigger)
                    .attr_opt("trigger_level", level_of.get(&func.key).copied());
            }
            cx.emit(b);
        }
        for t in &self.triggers {
            let events: Vec<Value> = t.events.iter().map(|e| Value::from(e.as_str())).collect();
            let fact = cx
                .fact_range("sql_trigger", TRANSPORT, Role::Definition, t.at.clone())
                .name(t.name.clone())
                .attr("table", t.table.clone())
                .attr("events", Value::Array(events.clone()))
                .attr("timing", t.timing.clone())
                .attr("level", t.level)
                .attr("function", t.function.clone())
                .attr("has_when", t.has_when)
                .attr("constraint", t.constraint);
            cx.emit(fact);
            if let Some((channels, kinds)) = notifies.get(&func_key(&t.function)) {
                let fact = cx
                    .fact_range(
                        "sql_notify_trigger",
                        TRANSPORT,
                        Role::Definition,
                        t.at.clone(),
                    )
                    .name(t.name.clone())
                    .attr("table", t.table.clone())
                    .attr("events", Value::Array(events))
                    .attr("level", t.level)
                    .attr("function", t.function.clone())
                    .attr("channels", channels.clone())
                    .attr("payload_kinds", kinds.clone())
                    .attr("has_when", t.has_when);
                cx.emit(fact);
            }
        }
    }
}

/// The pattern of a channel expression once PL/pgSQL constants are substituted:
/// `prefix || NEW.queue` with `prefix := 'job_'` gives `job_*`.
fn pattern_with_vars(raw: &str, vars: &HashMap<String, String>) -> Option<String> {
    let toks = pg_text::lex(raw);
    let mut text = String::with_capacity(raw.len() + 16);
    let mut last = 0;
    let mut replaced = false;
    for t in &toks {
        if t.t != pg_text::T::Word {
            continue;
        }
        let Some(value) = vars.get(&raw[t.start..t.end].to_lowercase()) else {
            continue;
        };
        text.push_str(&raw[last..t.start]);
        text.push('\'');
        text.push_str(&value.replace('\'', "''"));
        text.push('\'');
        last = t.end;
        replaced = true;
    }
    if !replaced {
        return None;
    }
    text.push_str(&raw[last..]);
    let call = format!("pg_notify({text}, NULL)");
    pg_text::scan(&call)
        .into_iter()
        .next()
        .and_then(|item| item.chan.pattern)
}

/// `*` globs (the only wildcard), iterative.
fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Postgres channels: one channel per normalised name, across files and languages. A
/// producer or consumer whose name is only partly known (`'orders_' || TG_TABLE_NAME`) is
/// linked to every channel its pattern matches.
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for f in facts {
        let Some(name) = f.name.as_deref() else {
            continue;
        };
        match f.kind.as_str() {
            "pg_notify" => {
                linker.producer(TRANSPORT, name, None, f);
                names.insert(name);
            }
            "pg_listen" => {
                linker.consumer(TRANSPORT, name, None, f);
                names.insert(name);
            }
            _ => {}
        }
    }
    for f in facts {
        if f.name.is_some() || !matches!(f.kind.as_str(), "pg_notify" | "pg_listen") {
            continue;
        }
        let Some(pattern) = f.attr("pattern").and_then(Value::as_str) else {
            continue;
        };
        for name in names.iter().filter(|n| glob(pattern, n)) {
            if f.kind == "pg_notify" {
                linker.producer(TRANSPORT, name, None, f);
            } else {
                linker.consumer(TRANSPORT, name, None, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;
    use crate::Fact;
    use msgscan_lang::{FileParser, Language};
    use serde_json::Value;

    pub(crate) fn facts(path: &str, language: Language, text: &str) -> Vec<Fact> {
        let mut parser = FileParser::new(std::time::Duration::from_secs(5));
        match parser.parse(language, text) {
            Ok(parsed) => crate::detect(path, text, &parsed),
            Err(e) => panic!("parse failed: {e:?}"),
        }
    }

    fn attr<'a>(f: &'a Fact, k: &str) -> Option<&'a Value> {
        f.attrs.get(k)
    }

    #[test]
    fn trigger_defined_before_its_function_is_still_linked() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION public.tell();\n\
                   CREATE FUNCTION public.tell() RETURNS trigger AS $x$\n\
                   DECLARE ch CONSTANT text := 'Jobs';\n\
                   BEGIN PERFORM pg_notify(ch, 'new'); RETURN NEW; END $x$ LANGUAGE plpgsql;\n";
        let fs = facts("m.sql", Language::Sql, sql);
        let notify = fs
            .iter()
            .find(|f| f.kind == "pg_notify")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(notify.name.as_deref(), Some("Jobs"));
        assert_eq!(notify.line, 4);
        assert_eq!(attr(notify, "name_source"), Some(&Value::from("variable")));
        assert_eq!(attr(notify, "trigger_level"), Some(&Value::from("row")));
        assert_eq!(attr(notify, "payload_kind"), Some(&Value::from("constant")));
        let nt = fs
            .iter()
            .find(|f| f.kind == "sql_notify_trigger")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(attr(nt, "channels"), Some(&serde_json::json!(["Jobs"])));
        assert_eq!(attr(nt, "level"), Some(&Value::from("row")));
    }

    #[test]
    fn default_trigger_level_is_statement_and_non_notifying_triggers_are_plain() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON jobs EXECUTE FUNCTION touch();\n";
        let fs = facts("m.sql", Language::Sql, sql);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].kind, "sql_trigger");
        assert_eq!(attr(&fs[0], "level"), Some(&Value::from("statement")));
        assert_eq!(attr(&fs[0], "timing"), Some(&Value::from("before")));
    }

    #[test]
    fn broken_sql_does_not_panic_or_hang() {
        for text in [
            "CREATE FUNCTION f() RETURNS void AS $body$ BEGIN NOTIFY x;\n",
            "NOTIFY",
            "LISTEN ;",
            "SELECT pg_notify(",
            "CREATE TRIGGER",
            "DO $$ BEGIN EXECUTE 'NOTIFY ' || ; END $$;",
        ] {
            let mut parser = FileParser::new(std::time::Duration::from_secs(5));
            if let Ok(parsed) = parser.parse(Language::Sql, text) {
                let _ = crate::detect("x.sql", text, &parsed);
            }
        }
    }

    #[test]
    fn python_and_node_facts_share_the_channel_space() {
        let py = "import psycopg2\nconn = psycopg2.connect('')\nconn.cursor().execute('LISTEN Orders')\n\
                  conn.cursor().execute('Please notify the admin')\n";
        let fs = facts("w.py", Language::Python, py);
        let listens: Vec<&Fact> = fs.iter().filter(|f| f.kind == "pg_listen").collect();
        assert_eq!(listens.len(), 1, "{fs:#?}");
        assert_eq!(listens[0].name.as_deref(), Some("orders"));
        assert_eq!(attr(listens[0], "autocommit"), Some(&Value::from(false)));
        assert_eq!(attr(listens[0], "raw_name"), Some(&Value::from("Orders")));
        let js = "const { Client } = require('pg');\nconst c = new Client();\n\
                  c.query(`NOTIFY orders, '${x}'`);\nc.query('SELECT 1');\n";
        let fs = facts("p.js", Language::JavaScript, js);
        let n = fs
            .iter()
            .find(|f| f.kind == "pg_notify")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(n.name.as_deref(), Some("orders"));
        assert_eq!(attr(n, "string_built"), Some(&Value::from(true)));
        assert_eq!(attr(n, "payload_kind"), Some(&Value::from("interpolated")));
        let conn = fs
            .iter()
            .find(|f| f.kind == "pg_connection")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(attr(conn, "listens"), Some(&Value::from(false)));
        assert_eq!(attr(conn, "has_error_handler"), Some(&Value::from(false)));
    }

    /// Every fact the pg fixtures produce has a declared kind, and every attribute is
    /// declared with the type it has.
    #[test]
    fn emitted_attributes_are_declared() {
        use crate::AttrType;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut stack = vec![root.join("projects"), root.join("rules")];
        let mut checked = 0;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let p = path.to_string_lossy().to_string();
                if !p.contains("/pg-") {
                    continue;
                }
                let Some(lang) = Language::from_path(&path) else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                for f in facts(&p, lang, &text) {
                    let spec = crate::kind(&f.kind)
                        .unwrap_or_else(|| panic!("undeclared kind {}", f.kind));
                    assert_eq!(spec.transport, f.transport, "{}", f.kind);
                    for (k, v) in &f.attrs {
                        let a = spec.attr(k).unwrap_or_else(|| {
                            panic!("{p}: {} emits undeclared attr `{k}`", f.kind)
                        });
                        let ok = match a.ty {
                            AttrType::Bool => v.is_boolean(),
                            AttrType::Int => v.is_u64() || v.is_i64(),
                            AttrType::String => v.is_string(),
                            AttrType::List => v.is_array(),
                            AttrType::Value => true,
                        };
                        assert!(ok, "{p}: {}.{k} = {v} is not {}", f.kind, a.ty.as_str());
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} attributes checked");
    }

    #[test]
    fn files_without_pg_are_left_alone() {
        let js = "const emitter = makeThing();\nemitter.query('listen to me');\nsocket.on('notification', f);\n";
        assert!(facts("a.js", Language::JavaScript, js).is_empty());
        let py = "def f(scheduler):\n    scheduler.add_listener(cb, 1)\n    sock.listen(5)\n";
        assert!(facts("a.py", Language::Python, py).is_empty());
    }

    #[test]
    fn globs() {
        assert!(glob("orders_*", "orders_eu"));
        assert!(glob("*_changed", "row_changed"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("orders_*", "order"));
        assert!(!glob("a*c", "ab"));
    }
}
