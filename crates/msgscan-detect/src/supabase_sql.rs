//! Supabase in SQL migrations: the `supabase_realtime` publication (and any other),
//! row-level security, policies (including those on `realtime.messages`), replica identity,
//! Broadcast from the database (`realtime.send`, `realtime.broadcast_changes`) and database
//! webhooks (`net.http_post` / `net.http_get`, `supabase_functions.http_request`, in
//! triggers, functions or `cron.schedule` commands).
//!
//! Table names are normalised as Postgres does: unquoted identifiers fold to lower case,
//! quoted ones keep their case, the schema defaults to `public` (`public.messages`). Every
//! fact of a file under a `migrations/` directory carries `migration`, the version prefix of
//! its file name (`20240101120000` of `20240101120000_init.sql`): migrations apply in
//! that order, and within a file in line order, so a project-level rule can replay them.
//!
//! Statement kinds are read from the tree-sitter-postgres tree; calls inside function
//! bodies and dollar-quoted strings are found by a small scanner over each top-level
//! statement's text (PL/pgSQL bodies hold their SQL as opaque fragments), with comments
//! skipped.

use std::collections::HashSet;

use msgscan_lang::Language;
use tree_sitter::Node;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{AttrSpec, AttrType, KindSpec, Role};
use crate::supabase::{EDGE, REALTIME, mask_secret};

pub(crate) struct SupabaseSql;

const fn a(name: &'static str, ty: AttrType, doc: &'static str) -> AttrSpec {
    AttrSpec { name, ty, doc }
}

const MIGRATION: AttrSpec = a(
    "migration",
    AttrType::String,
    "the migration's version (the leading digits of its file name, else the file stem); migrations apply in this order",
);
const IN_MIGRATIONS: AttrSpec = a(
    "in_migrations",
    AttrType::Bool,
    "the file is under a `migrations/` directory",
);

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "sql_publication",
        transport: REALTIME,
        doc: "A table (or every table, or a schema) put into or taken out of a publication: `CREATE PUBLICATION ... FOR ...`, `ALTER PUBLICATION ... ADD/SET/DROP TABLE ...`. Name: `schema.table`, `schema.*` for a schema, `*` for all tables. One fact per table.",
        attrs: &[
            a(
                "publication",
                AttrType::String,
                "the publication (`supabase_realtime`)",
            ),
            a(
                "realtime",
                AttrType::Bool,
                "the publication is `supabase_realtime`",
            ),
            a(
                "rls_missing",
                AttrType::Bool,
                "project-wide: after replaying every migration in order, this (last) publication leaves the table in `supabase_realtime` without row-level security",
            ),
            a(
                "rls_disabled_at",
                AttrType::String,
                "project-wide: where RLS was enabled and later disabled again (`path:line`), when that is why it is missing",
            ),
            a(
                "action",
                AttrType::String,
                "`create`, `add`, `set` or `drop`",
            ),
            a(
                "scope",
                AttrType::String,
                "`table`, `schema` or `all_tables`",
            ),
            a("schema", AttrType::String, "the schema"),
            a(
                "table",
                AttrType::String,
                "the table (absent for a schema or all tables)",
            ),
            MIGRATION,
            IN_MIGRATIONS,
        ],
    },
    KindSpec {
        kind: "sql_rls",
        transport: REALTIME,
        doc: "`ALTER TABLE t ENABLE/DISABLE/FORCE/NO FORCE ROW LEVEL SECURITY`. Name: `schema.table`.",
        attrs: &[
            a(
                "enabled",
                AttrType::Bool,
                "row-level security is on after this statement",
            ),
            a(
                "action",
                AttrType::String,
                "`enable`, `disable`, `force` or `no_force`",
            ),
            MIGRATION,
            IN_MIGRATIONS,
        ],
    },
    KindSpec {
        kind: "sql_policy",
        transport: REALTIME,
        doc: "`CREATE POLICY name ON t ...`. Name: `schema.table` of the policy.",
        attrs: &[
            a("policy", AttrType::String, "the policy's name"),
            a(
                "command",
                AttrType::String,
                "`all`, `select`, `insert`, `update` or `delete`",
            ),
            a(
                "roles",
                AttrType::List,
                "the roles it applies to (`public` when not given)",
            ),
            a("using", AttrType::String, "the USING expression"),
            a("with_check", AttrType::String, "the WITH CHECK expression"),
            a(
                "permissive",
                AttrType::Bool,
                "permissive (the default) rather than restrictive",
            ),
            a(
                "always_true",
                AttrType::Bool,
                "USING or WITH CHECK is the constant `true`",
            ),
            a(
                "realtime_messages",
                AttrType::Bool,
                "the policy is on `realtime.messages` (Realtime Authorization)",
            ),
            MIGRATION,
            IN_MIGRATIONS,
        ],
    },
    KindSpec {
        kind: "sql_replica_identity",
        transport: REALTIME,
        doc: "`ALTER TABLE t REPLICA IDENTITY ...`. Name: `schema.table`.",
        attrs: &[
            a(
                "identity",
                AttrType::String,
                "`full`, `default`, `nothing` or `index`",
            ),
            MIGRATION,
            IN_MIGRATIONS,
        ],
    },
    KindSpec {
        kind: "supabase_realtime_send",
        transport: REALTIME,
        doc: "Broadcast from the database: `realtime.send(payload, event, topic, private)` or `realtime.broadcast_changes(topic, event, ...)`. Name: the topic pattern (`'room:' || id` → `room:*`), absent when not derivable.",
        attrs: &[
            a(
                "function",
                AttrType::String,
                "`realtime.send` or `realtime.broadcast_changes`",
            ),
            a(
                "event",
                AttrType::String,
                "the event, as a literal or as written",
            ),
            a(
                "private",
                AttrType::Bool,
                "`realtime.send`: the private flag, when a literal (absent when omitted: it defaults to true)",
            ),
            a(
                "topic_expr",
                AttrType::String,
                "the topic argument as written",
            ),
            a(
                "in_function",
                AttrType::String,
                "the function whose body holds the call",
            ),
            MIGRATION,
            IN_MIGRATIONS,
        ],
    },
    KindSpec {
        kind: "supabase_db_webhook",
        transport: EDGE,
        doc: "An HTTP request from the database: `net.http_post/http_get(...)` or `supabase_functions.http_request(...)`, in a trigger, a function or a scheduled command. Name: the URL (query string masked), when literal.",
        attrs: &[
            a("function", AttrType::String, "the function called"),
            a("method", AttrType::String, "the HTTP method, when known"),
            a(
                "edge_function",
                AttrType::String,
                "the edge function addressed (`.../functions/v1/<name>`)",
            ),
            a(
                "has_authorization",
                AttrType::Bool,
                "an `Authorization` or `apikey` header is sent",
            ),
            a(
                "hardcoded_secret",
                AttrType::Bool,
                "a literal token is written in the call (a `Bearer` token, a JWT, a `sk_`/`whsec_` key)",
            ),
            a(
                "secret",
                AttrType::String,
                "the literal token, masked (never in full)",
            ),
            a(
                "in_trigger",
                AttrType::Bool,
                "called directly by `CREATE TRIGGER ... EXECUTE FUNCTION`",
            ),
            a(
                "table",
                AttrType::String,
                "the trigger's table, for `CREATE TRIGGER`",
            ),
            a(
                "in_function",
                AttrType::String,
                "the function whose body holds the call",
            ),
            MIGRATION,
            IN_MIGRATIONS,
        ],
    },
];

impl Detector for SupabaseSql {
    fn name(&self) -> &'static str {
        "supabase-sql"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Sql]
    }
    fn kinds(&self, _language: Language) -> &'static [&'static str] {
        // `toplevel_stmt` in the SQL tree; `stmt_execsql` in PL/pgSQL bodies (DO blocks and
        // functions), whose SQL is an opaque fragment read as text.
        &["toplevel_stmt", "stmt_execsql"]
    }
    fn needles(&self) -> &'static [&'static str] {
        &[
            "publication",
            "PUBLICATION",
            "Publication",
            "table",
            "TABLE",
            "Table",
            "policy",
            "POLICY",
            "Policy",
            "realtime",
            "REALTIME",
            "http_post",
            "http_get",
            "HTTP_POST",
            "HTTP_GET",
            "http_request",
            "HTTP_REQUEST",
        ]
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::new(SqlVisitor {
            migration: migration_of(file.path),
            in_migrations: format!("/{}", file.path).contains("/migrations/"),
            seen_calls: HashSet::new(),
        })
    }
}

struct SqlVisitor {
    migration: String,
    in_migrations: bool,
    seen_calls: HashSet<usize>,
}

/// `supabase/migrations/20240101120000_init.sql` → `20240101120000`; else the file stem.
pub(crate) fn migration_of(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".sql").unwrap_or(file);
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        stem.to_string()
    } else {
        digits
    }
}

/// One identifier as Postgres reads it: quoted keeps case (with `""` unescaped), unquoted
/// folds ASCII letters to lower case (Postgres leaves other characters alone in UTF-8).
pub(crate) fn ident(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_ascii_lowercase(),
    }
}

/// Splits `a."B".c` at dots outside quotes.
fn split_dotted(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `schema.table` from a written (possibly qualified, possibly quoted) table name.
pub(crate) fn table_name(written: &str) -> String {
    let parts = split_dotted(written.trim());
    match parts.as_slice() {
        [t] => qualify("public", t),
        [.., s, t] => qualify(s, t),
        [] => String::new(),
    }
}

/// `schema.table`, each part normalised as an identifier (`*` kept).
pub(crate) fn qualify(schema: &str, table: &str) -> String {
    let n = |s: &str| {
        if s.trim() == "*" {
            "*".to_string()
        } else {
            ident(s)
        }
    };
    format!("{}.{}", n(schema), n(table))
}

fn text<'t>(node: Node<'_>, cx: &FileCx<'t>) -> &'t str {
    cx.text(node)
}

fn child<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut c = node.walk();
    node.named_children(&mut c).find(|n| n.kind() == kind)
}

/// Named descendants of `node` of `kind`, in document order (iterative).
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

/// Lower-cased words of a node's text (keywords compared case-insensitively).
fn words(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

impl SqlVisitor {
    fn common(&self, b: crate::engine::FactBuilder) -> crate::engine::FactBuilder {
        b.attr("migration", self.migration.clone())
            .attr("in_migrations", self.in_migrations)
    }

    fn publication(&self, stmt: Node<'_>, create: bool, cx: &mut FileCx<'_>) {
        let Some(pubname) = child(stmt, "name") else {
            return;
        };
        let publication = ident(text(pubname, cx));
        let realtime = publication == "supabase_realtime";
        let action = if create {
            "create".to_string()
        } else {
            ["add", "set", "drop"]
                .into_iter()
                .find(|k| child(stmt, &format!("kw_{k}")).is_some())
                .unwrap_or("set")
                .to_string()
        };
        let emit = |cx: &mut FileCx<'_>,
                    at: Node<'_>,
                    name: String,
                    scope: &str,
                    schema: &str,
                    table: Option<String>| {
            let fact = cx
                .fact("sql_publication", REALTIME, Role::Config, at)
                .name(name)
                .attr("publication", publication.clone())
                .attr("realtime", realtime)
                .attr("action", action.clone())
                .attr("scope", scope)
                .attr("schema", schema)
                .attr_opt("table", table);
            let fact = self.common(fact);
            cx.emit(fact);
        };
        if create && child(stmt, "kw_all").is_some() {
            emit(cx, stmt, "*".into(), "all_tables", "*", None);
            return;
        }
        let mut last_scope = "table";
        for spec in descendants(stmt, "PublicationObjSpec") {
            let w = text(spec, cx);
            let lw = words(w);
            let body = if lw.starts_with("tables in schema") {
                last_scope = "schema";
                skip_words(w, 3)
            } else if lw.starts_with("table ") {
                last_scope = "table";
                skip_words(w, 1)
            } else {
                w
            };
            // Strip `ONLY`, `*`, a column list and a WHERE clause.
            let mut body = body.trim();
            if words(body).starts_with("only ") {
                body = skip_words(body, 1).trim();
            }
            let end = body
                .find(|c: char| c == '(' || c.is_whitespace() || c == '*')
                .unwrap_or(body.len());
            let written = body[..end].trim();
            if written.is_empty() {
                continue;
            }
            if last_scope == "schema" {
                let schema = ident(written);
                emit(cx, spec, format!("{schema}.*"), "schema", &schema, None);
            } else {
                let name = table_name(written);
                let (schema, table) = name.split_once('.').unwrap_or(("public", &name));
                emit(
                    cx,
                    spec,
                    name.clone(),
                    "table",
                    schema,
                    Some(table.to_string()),
                );
            }
        }
    }

    fn alter_table(&self, stmt: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(rel) = child(stmt, "relation_expr") else {
            return;
        };
        let Some(qn) = descendants(rel, "qualified_name").into_iter().next() else {
            return;
        };
        let table = table_name(text(qn, cx));
        for cmd in descendants(stmt, "alter_table_cmd") {
            let w = words(text(cmd, cx));
            let rls = match w.as_str() {
                "enable row level security" => Some(("enable", true)),
                "disable row level security" => Some(("disable", false)),
                "force row level security" => Some(("force", true)),
                "no force row level security" => Some(("no_force", true)),
                _ => None,
            };
            if let Some((action, enabled)) = rls {
                let fact = cx
                    .fact("sql_rls", REALTIME, Role::Config, stmt)
                    .name(table.clone())
                    .attr("enabled", enabled)
                    .attr("action", action);
                let fact = self.common(fact);
                cx.emit(fact);
            } else if let Some(rest) = w.strip_prefix("replica identity ") {
                let identity = rest.split(' ').next().unwrap_or_default();
                let identity = if identity == "using" {
                    "index"
                } else {
                    identity
                };
                let fact = cx
                    .fact("sql_replica_identity", REALTIME, Role::Config, stmt)
                    .name(table.clone())
                    .attr("identity", identity);
                let fact = self.common(fact);
                cx.emit(fact);
            }
        }
    }

    fn policy(&self, stmt: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(qn) = child(stmt, "qualified_name") else {
            return;
        };
        let table = table_name(text(qn, cx));
        let policy = child(stmt, "name")
            .map(|n| ident(text(n, cx)))
            .unwrap_or_default();
        let command = child(stmt, "RowSecurityDefaultForCmd")
            .and_then(|c| child(c, "row_security_cmd"))
            .map(|c| words(text(c, cx)))
            .unwrap_or_else(|| "all".into());
        let roles: Vec<String> = child(stmt, "RowSecurityDefaultToRole")
            .map(|r| {
                descendants(r, "RoleSpec")
                    .into_iter()
                    .map(|s| ident(text(s, cx)))
                    .collect()
            })
            .unwrap_or_else(|| vec!["public".into()]);
        let expr = |kind: &str| {
            child(stmt, kind)
                .and_then(|e| child(e, "a_expr"))
                .map(|e| words(text(e, cx)))
        };
        let using = expr("RowSecurityOptionalExpr");
        let with_check = expr("RowSecurityOptionalWithCheck");
        let is_true = |e: &Option<String>| {
            e.as_deref().is_some_and(|s| {
                let t: String = s
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
                    .collect();
                t == "true" || t == "1=1" || t == "'t'"
            })
        };
        let permissive = child(stmt, "RowSecurityDefaultPermissive")
            .is_none_or(|p| !words(text(p, cx)).contains("restrictive"));
        let fact = cx
            .fact("sql_policy", REALTIME, Role::Config, stmt)
            .name(table.clone())
            .attr("policy", policy)
            .attr("command", command)
            .attr("roles", roles)
            .attr_opt("using", using.clone())
            .attr_opt("with_check", with_check.clone())
            .attr("permissive", permissive)
            .attr("always_true", is_true(&using) || is_true(&with_check))
            .attr("realtime_messages", table == "realtime.messages");
        let fact = self.common(fact);
        cx.emit(fact);
    }

    /// Finds the calls of interest in a statement's text (function bodies included).
    fn scan_calls(&mut self, top: Node<'_>, stmt: Node<'_>, cx: &mut FileCx<'_>) {
        let base = top.start_byte();
        let src = text(top, cx);
        let lower = src.to_ascii_lowercase();
        const NAMES: &[&str] = &[
            "realtime.send(",
            "realtime.broadcast_changes(",
            "net.http_post(",
            "net.http_get(",
            "supabase_functions.http_request(",
        ];
        if !NAMES.iter().any(|n| lower.contains(n)) {
            return;
        }
        let in_function = (stmt.kind() == "CreateFunctionStmt")
            .then(|| {
                child(stmt, "func_name").map(|n| text(n, cx).split_whitespace().collect::<String>())
            })
            .flatten();
        let trigger_table = (stmt.kind() == "CreateTrigStmt")
            .then(|| child(stmt, "qualified_name").map(|n| table_name(text(n, cx))))
            .flatten();
        let comments = comment_ranges(src);
        for name in NAMES {
            let mut from = 0;
            while let Some(i) = lower[from..].find(name) {
                let at = from + i;
                from = at + name.len();
                // A word boundary before the name, and not inside a comment.
                if lower[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                    || comments.iter().any(|r| r.contains(&at))
                {
                    continue;
                }
                if !self.seen_calls.insert(base + at) {
                    continue;
                }
                let open = at + name.len() - 1;
                let Some((args, close)) = split_args(src, open) else {
                    continue;
                };
                let range = base + at..base + close + 1;
                let function = &name[..name.len() - 1];
                if function.starts_with("realtime.") {
                    self.realtime_send(function, &args, range, in_function.clone(), cx);
                } else {
                    self.webhook(
                        function,
                        &args,
                        range,
                        in_function.clone(),
                        trigger_table.clone(),
                        cx,
                    );
                }
            }
        }
    }

    fn realtime_send(
        &self,
        function: &str,
        args: &[Arg<'_>],
        range: std::ops::Range<usize>,
        in_function: Option<String>,
        cx: &mut FileCx<'_>,
    ) {
        let (topic_i, event_i) = if function == "realtime.send" {
            (2, 1)
        } else {
            (0, 1)
        };
        let get = |named: &str, i: usize| {
            args.iter()
                .find(|a| a.name.as_deref() == Some(named))
                .or_else(|| args.iter().filter(|a| a.name.is_none()).nth(i))
                .map(|a| a.value)
        };
        let topic = get(
            if function == "realtime.send" {
                "topic"
            } else {
                "topic_name"
            },
            topic_i,
        );
        let event = get(
            if function == "realtime.send" {
                "event"
            } else {
                "event_name"
            },
            event_i,
        );
        let private = if function == "realtime.send" {
            get("private", 3).and_then(|p| match words(p).as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
        } else {
            None
        };
        let fact = cx
            .fact_range("supabase_realtime_send", REALTIME, Role::Producer, range)
            .name_opt(topic.and_then(sql_pattern))
            .attr("function", function)
            .attr_opt(
                "event",
                event.map(|e| sql_literal(e).unwrap_or_else(|| words(e))),
            )
            .attr_opt("private", private)
            .attr_opt("topic_expr", topic.map(words))
            .attr_opt("in_function", in_function);
        let fact = self.common(fact);
        cx.emit(fact);
    }

    #[allow(clippy::too_many_arguments)]
    fn webhook(
        &self,
        function: &str,
        args: &[Arg<'_>],
        range: std::ops::Range<usize>,
        in_function: Option<String>,
        trigger_table: Option<String>,
        cx: &mut FileCx<'_>,
    ) {
        let get = |named: &str, i: usize| {
            args.iter()
                .find(|a| a.name.as_deref() == Some(named))
                .or_else(|| args.iter().filter(|a| a.name.is_none()).nth(i))
                .map(|a| a.value)
        };
        let url = get("url", 0).and_then(sql_literal);
        let (method, headers) = match function {
            "supabase_functions.http_request" => (
                get("method", 1)
                    .and_then(sql_literal)
                    .map(|m| m.to_uppercase()),
                get("headers", 2),
            ),
            "net.http_get" => (Some("GET".to_string()), get("headers", 2)),
            _ => (Some("POST".to_string()), get("headers", 3)),
        };
        let all_args: String = args.iter().map(|a| a.value).collect::<Vec<_>>().join(",");
        let headers_text = headers.unwrap_or("");
        let lower = headers_text.to_ascii_lowercase();
        let has_auth = lower.contains("authorization") || lower.contains("apikey");
        let secret = find_secret(&all_args);
        let edge_function = url.as_deref().and_then(|u| {
            let i = u.find("/functions/v1/")?;
            let rest = &u[i + "/functions/v1/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        });
        let shown_url = url.map(|u| match u.find('?') {
            Some(q) => format!("{}?…", &u[..q]),
            None => u,
        });
        let fact = cx
            .fact_range("supabase_db_webhook", EDGE, Role::Producer, range)
            .name_opt(shown_url)
            .attr("function", function)
            .attr_opt("method", method)
            .attr_opt("edge_function", edge_function)
            .attr("has_authorization", has_auth)
            .attr("hardcoded_secret", secret.is_some())
            .attr_opt("secret", secret.map(|s| mask_secret(&s)))
            .attr("in_trigger", trigger_table.is_some())
            .attr_opt("table", trigger_table)
            .attr_opt("in_function", in_function);
        let fact = self.common(fact);
        cx.emit(fact);
    }
}

fn skip_words(s: &str, n: usize) -> &str {
    let mut rest = s.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

/// Byte ranges of `--` and `/* */` comments, outside single-quoted strings.
fn comment_ranges(src: &str) -> Vec<std::ops::Range<usize>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    while i < b.len() {
        match b[i] {
            b'\'' => quoted = !quoted,
            b'-' if !quoted && b.get(i + 1) == Some(&b'-') => {
                let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
                out.push(i..end);
                i = end;
                continue;
            }
            b'/' if !quoted && b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                out.push(i..end);
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[derive(Debug)]
struct Arg<'s> {
    name: Option<String>,
    value: &'s str,
}

/// The arguments of the call whose `(` is at `open`, split at top-level commas (quotes and
/// brackets respected), with `name := value` / `name => value` names. Also the index of `)`.
fn split_args(src: &str, open: usize) -> Option<(Vec<Arg<'_>>, usize)> {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    let mut start = open + 1;
    let mut pieces = Vec::new();
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' => quote = Some(c),
            b'(' | b'[' => depth += 1,
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    pieces.push(&src[start..i]);
                    let args = pieces
                        .into_iter()
                        .filter(|p: &&str| !p.trim().is_empty())
                        .map(|p: &str| {
                            for sep in [":=", "=>"] {
                                if let Some((n, v)) = p.split_once(sep) {
                                    let n = n.trim();
                                    if !n.is_empty()
                                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                                    {
                                        return Arg {
                                            name: Some(n.to_ascii_lowercase()),
                                            value: v.trim(),
                                        };
                                    }
                                }
                            }
                            Arg {
                                name: None,
                                value: p.trim(),
                            }
                        })
                        .collect();
                    return Some((args, i));
                }
            }
            b',' if depth == 1 => {
                pieces.push(&src[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The content of a single-quoted literal (`'a''b'` → `a'b`), a cast stripped.
fn sql_literal(expr: &str) -> Option<String> {
    let e = expr.trim();
    let e = e.split("::").next().unwrap_or(e).trim();
    let e = e
        .strip_prefix(['E', 'e'])
        .filter(|r| r.starts_with('\''))
        .unwrap_or(e);
    let inner = e.strip_prefix('\'')?.strip_suffix('\'')?;
    if inner.replace("''", "").contains('\'') {
        return None;
    }
    Some(inner.replace("''", "'"))
}

/// A topic as a pattern: `'room:' || id` → `room:*`, `format('room:%s', id)` → `room:*`,
/// `concat('room:', id)` → `room:*`; `None` when no literal part is present.
fn sql_pattern(expr: &str) -> Option<String> {
    if let Some(l) = sql_literal(expr) {
        return Some(l);
    }
    let e = expr.trim();
    let lower = e.to_ascii_lowercase();
    if lower.starts_with("format(") {
        let (args, _) = split_args(e, "format".len())?;
        let f = sql_literal(args.first()?.value)?;
        let mut out = String::new();
        let mut chars = f.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                match chars.next() {
                    Some('%') => out.push('%'),
                    Some(_) => push_star(&mut out),
                    None => out.push('%'),
                }
            } else {
                out.push(c);
            }
        }
        return Some(out);
    }
    let parts: Vec<String> = if lower.starts_with("concat(") {
        let (args, _) = split_args(e, "concat".len())?;
        args.iter().map(|a| a.value.to_string()).collect()
    } else {
        split_concat(e)
    };
    if parts.len() < 2 {
        return None;
    }
    let mut out = String::new();
    let mut any = false;
    for p in parts {
        match sql_literal(&p) {
            Some(l) => {
                any = true;
                out.push_str(&l);
            }
            None => push_star(&mut out),
        }
    }
    any.then_some(out)
}

fn push_star(out: &mut String) {
    if !out.ends_with('*') {
        out.push('*');
    }
}

/// Splits at top-level `||`.
fn split_concat(e: &str) -> Vec<String> {
    let b = e.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b'|' if !quoted && depth == 0 && b.get(i + 1) == Some(&b'|') => {
                out.push(e[start..i].trim().to_string());
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(e[start..].trim().to_string());
    out
}

/// A literal credential in a call: a `Bearer <token>` with a literal token, a JWT
/// (`eyJ...`), or a Stripe-style key.
fn find_secret(text: &str) -> Option<String> {
    let token_at = |s: &str| -> String {
        s.chars()
            .take_while(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/' | '=')
            })
            .collect()
    };
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("bearer ") {
        let at = from + i + "bearer ".len();
        let t = token_at(&text[at..]);
        if t.len() >= 16 {
            return Some(t);
        }
        from = at;
    }
    for marker in ["eyJ", "sk_live_", "sk_test_", "whsec_", "sb_secret_"] {
        if let Some(i) = text.find(marker) {
            let t = token_at(&text[i..]);
            if t.len() >= 16 {
                return Some(t);
            }
        }
    }
    None
}

/// A table that ends up in the `supabase_realtime` publication without row-level security,
/// after replaying every migration in order (see [`realtime_tables_without_rls`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnprotectedTable {
    /// `schema.table`.
    pub table: String,
    /// The id of the `sql_publication` fact that (last) published it.
    pub published_by: String,
    /// The id of the `sql_rls` fact that disabled RLS, when it was enabled and then
    /// disabled; `None` when RLS was never enabled.
    pub disabled_by: Option<String>,
}

/// Replays the `sql_publication` and `sql_rls` facts of a project (with ids) in migration
/// order (`migration` attr, then path, then position) and returns the tables left in the
/// `supabase_realtime` publication whose row-level security is off: never enabled, or
/// disabled by a later statement. Tables published through `FOR ALL TABLES` or a schema
/// count when an RLS statement names them. This is the replay a project-level rule
/// ("realtime table without RLS across the migration history") needs.
pub fn realtime_tables_without_rls(facts: &[crate::Fact]) -> Vec<UnprotectedTable> {
    use std::collections::BTreeMap;
    let s = |f: &crate::Fact, k: &str| {
        f.attr(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut ordered: Vec<&crate::Fact> = facts
        .iter()
        .filter(|f| {
            f.kind == "sql_rls"
                || f.kind == "sql_publication"
                    && f.attr("realtime") == Some(&serde_json::Value::Bool(true))
        })
        .collect();
    ordered.sort_by(|a, b| {
        (s(a, "migration"), &a.path, a.line, a.column).cmp(&(
            s(b, "migration"),
            &b.path,
            b.line,
            b.column,
        ))
    });
    // table (or `schema.*`, `*.*`) → publishing fact id
    let mut published: BTreeMap<String, String> = BTreeMap::new();
    // table → (enabled, fact id)
    let mut rls: BTreeMap<String, (bool, String)> = BTreeMap::new();
    let mut previous_set: Option<(&str, u32)> = None;
    for f in ordered {
        let Some(name) = f.name.clone() else { continue };
        let name = if name == "*" { "*.*".to_string() } else { name };
        if f.kind == "sql_rls" {
            let enabled = f.attr("enabled") == Some(&serde_json::Value::Bool(true));
            rls.insert(name, (enabled, f.id.clone()));
            previous_set = None;
            continue;
        }
        match s(f, "action").as_str() {
            "drop" => {
                published.remove(&name);
                previous_set = None;
            }
            "set" => {
                // One `SET TABLE a, b` statement replaces the list: clear on its first table.
                if previous_set != Some((f.path.as_str(), f.line)) {
                    published.clear();
                }
                previous_set = Some((f.path.as_str(), f.line));
                published.insert(name, f.id.clone());
            }
            _ => {
                published.insert(name, f.id.clone());
                previous_set = None;
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (pattern, by) in &published {
        let concrete = !pattern.contains('*');
        let candidates: Vec<String> = if concrete {
            vec![pattern.clone()]
        } else {
            rls.keys()
                .filter(|t| crate::supabase::topics_match(pattern, t))
                .cloned()
                .collect()
        };
        for table in candidates {
            if !seen.insert(table.clone()) {
                continue;
            }
            match rls.get(&table) {
                Some((true, _)) => {}
                Some((false, id)) => out.push(UnprotectedTable {
                    table,
                    published_by: by.clone(),
                    disabled_by: Some(id.clone()),
                }),
                None if concrete => out.push(UnprotectedTable {
                    table,
                    published_by: by.clone(),
                    disabled_by: None,
                }),
                None => {}
            }
        }
    }
    out
}

impl SqlVisitor {
    /// A statement inside a PL/pgSQL body, read from its text: `ALTER PUBLICATION ...
    /// ADD/SET/DROP TABLE ...` and `ALTER TABLE ... ENABLE ROW LEVEL SECURITY` / `REPLICA
    /// IDENTITY ...` (the idempotent `DO $$ ... IF NOT EXISTS ... THEN ALTER PUBLICATION`
    /// form of many migrations).
    fn text_statement(&self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let src = text(node, cx);
        let tokens: Vec<&str> = src
            .split(|c: char| c.is_whitespace() || c == ';')
            .filter(|t| !t.is_empty())
            .collect();
        let kw = |i: usize, k: &str| tokens.get(i).is_some_and(|t| t.eq_ignore_ascii_case(k));
        if kw(0, "alter") && kw(1, "publication") && tokens.len() > 4 {
            let publication = ident(tokens[2]);
            let action = tokens[3].to_ascii_lowercase();
            if !matches!(action.as_str(), "add" | "set" | "drop") || !kw(4, "table") {
                return;
            }
            let list = tokens[5..].join(" ");
            for item in list.split(',') {
                let item = item.trim();
                let item = match item.get(..5) {
                    Some(head) if head.eq_ignore_ascii_case("only ") => item[5..].trim(),
                    _ => item,
                };
                let end = item
                    .find(|c: char| c == '(' || c.is_whitespace() || c == '*')
                    .unwrap_or(item.len());
                if end == 0 {
                    continue;
                }
                let name = table_name(&item[..end]);
                let (schema, table) = name.split_once('.').unwrap_or(("public", &name));
                let fact = cx
                    .fact("sql_publication", REALTIME, Role::Config, node)
                    .name(name.clone())
                    .attr("publication", publication.clone())
                    .attr("realtime", publication == "supabase_realtime")
                    .attr("action", action.clone())
                    .attr("scope", "table")
                    .attr("schema", schema)
                    .attr("table", table);
                let fact = self.common(fact);
                cx.emit(fact);
            }
        } else if kw(0, "alter") && kw(1, "table") {
            let mut i = 2;
            if kw(i, "if") && kw(i + 1, "exists") {
                i += 2;
            }
            if kw(i, "only") {
                i += 1;
            }
            let Some(written) = tokens.get(i) else { return };
            let table = table_name(written);
            let rest = words(&tokens[i + 1..].join(" "));
            let rls = match rest.as_str() {
                "enable row level security" => Some(("enable", true)),
                "disable row level security" => Some(("disable", false)),
                "force row level security" => Some(("force", true)),
                "no force row level security" => Some(("no_force", true)),
                _ => None,
            };
            if let Some((action, enabled)) = rls {
                let fact = cx
                    .fact("sql_rls", REALTIME, Role::Config, node)
                    .name(table)
                    .attr("enabled", enabled)
                    .attr("action", action);
                let fact = self.common(fact);
                cx.emit(fact);
            } else if let Some(r) = rest.strip_prefix("replica identity ") {
                let identity = r.split(' ').next().unwrap_or_default();
                let identity = if identity == "using" {
                    "index"
                } else {
                    identity
                };
                let fact = cx
                    .fact("sql_replica_identity", REALTIME, Role::Config, node)
                    .name(table)
                    .attr("identity", identity);
                let fact = self.common(fact);
                cx.emit(fact);
            }
        }
    }
}

impl<'t> Visitor<'t> for SqlVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        if node.kind() == "stmt_execsql" {
            self.text_statement(node, cx);
            return;
        }
        let Some(stmt) = child(node, "stmt").and_then(|s| s.named_child(0)) else {
            return;
        };
        match stmt.kind() {
            "AlterPublicationStmt" => self.publication(stmt, false, cx),
            "CreatePublicationStmt" => self.publication(stmt, true, cx),
            "AlterTableStmt" => self.alter_table(stmt, cx),
            "CreatePolicyStmt" => self.policy(stmt, cx),
            _ => {}
        }
        self.scan_calls(node, stmt, cx);
    }
}

/// Project-wide: marks the publication facts that leave a table in `supabase_realtime`
/// without row-level security ([`realtime_tables_without_rls`]).
pub(crate) fn enrich(facts: &mut [crate::Fact]) {
    let unprotected = realtime_tables_without_rls(facts);
    for t in unprotected {
        let disabled_at = t.disabled_by.as_deref().and_then(|id| {
            facts
                .iter()
                .find(|f| f.id == id)
                .map(|f| format!("{}:{}", f.path, f.line))
        });
        if let Some(f) = facts.iter_mut().find(|f| f.id == t.published_by) {
            f.attrs
                .insert("rls_missing".into(), serde_json::Value::Bool(true));
            if let Some(at) = disabled_at {
                f.attrs
                    .insert("rls_disabled_at".into(), serde_json::Value::String(at));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(table_name("Messages"), "public.messages");
        assert_eq!(table_name("public.\"Rooms\""), "public.Rooms");
        assert_eq!(table_name("\"realtime\".\"messages\""), "realtime.messages");
        assert_eq!(table_name("Chat.Rooms"), "chat.rooms");
        assert_eq!(qualify("public", "*"), "public.*");
        assert_eq!(
            migration_of("supabase/migrations/20240101120000_init.sql"),
            "20240101120000"
        );
        assert_eq!(migration_of("db/schema.sql"), "schema");
    }

    #[test]
    fn topics_become_patterns() {
        assert_eq!(sql_pattern("'room:lobby'").as_deref(), Some("room:lobby"));
        assert_eq!(
            sql_pattern("'room:' || coalesce(new.room_id, old.room_id)::text").as_deref(),
            Some("room:*")
        );
        assert_eq!(
            sql_pattern("format('topic:%s:messages', new.id)").as_deref(),
            Some("topic:*:messages")
        );
        assert_eq!(
            sql_pattern("concat('room:', new.id)").as_deref(),
            Some("room:*")
        );
        assert_eq!(sql_pattern("tg_table_name"), None);
    }

    #[test]
    fn arguments_and_secrets() {
        let src = "net.http_post(url := 'https://x/functions/v1/hook?k=1', headers := jsonb_build_object('Authorization', 'Bearer abcdefghijklmnopqrstuvwxyz'), body := '{}')";
        let (args, close) = split_args(src, src.find('(').unwrap()).unwrap();
        assert_eq!(close, src.len() - 1);
        assert_eq!(args.len(), 3);
        assert_eq!(args[0].name.as_deref(), Some("url"));
        assert_eq!(
            find_secret(args[1].value).as_deref(),
            Some("abcdefghijklmnopqrstuvwxyz")
        );
        assert_eq!(
            find_secret("'Bearer ' || (select decrypted_secret from vault.decrypted_secrets)"),
            None
        );
    }
}

#[cfg(test)]
mod detect_tests {
    use std::time::Duration;

    use msgscan_lang::FileParser;

    fn facts(path: &str, src: &str) -> Vec<crate::Fact> {
        let parsed = FileParser::new(Duration::from_secs(5))
            .parse(msgscan_lang::Language::Sql, src)
            .unwrap();
        crate::detect(path, src, &parsed)
    }

    #[test]
    fn publication_inside_a_do_block_and_rls_keep_migration_order() {
        let src = "alter table \"Chat\".\"Rooms\" enable row level security;\n\
                   do $$\nbegin\n  if not exists (select 1 from pg_publication_tables where tablename = 'rooms') then\n    alter publication supabase_realtime add table Chat.\"Rooms\", public.notes;\n  end if;\nend $$;\n\
                   -- alter publication supabase_realtime add table ignored;\n";
        let got = facts("supabase/migrations/20240301000000_rooms.sql", src);
        let summary: Vec<(String, String, u32)> = got
            .iter()
            .map(|f| (f.kind.clone(), f.name.clone().unwrap_or_default(), f.line))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("sql_rls".into(), "Chat.Rooms".into(), 1),
                ("sql_publication".into(), "chat.Rooms".into(), 5),
                ("sql_publication".into(), "public.notes".into(), 5),
            ]
        );
        for f in &got {
            assert_eq!(f.attr("migration").unwrap(), "20240301000000");
            assert_eq!(f.attr("in_migrations").unwrap(), true);
        }
    }

    #[test]
    fn non_ascii_identifiers_do_not_panic() {
        let src = "do $$ begin alter publication supabase_realtime add table Éé表, \"Ünï\"; alter table Ñ enable row level security; end $$;\nselect realtime.send('{}'::jsonb, 'é', 'sala:' || ñ, false);\n";
        let got = facts("x.sql", src);
        let mut names: Vec<&str> = got.iter().filter_map(|f| f.name.as_deref()).collect();
        names.sort();
        assert_eq!(
            names,
            vec!["public.Éé表", "public.Ñ", "public.Ünï", "sala:*"]
        );
    }

    fn project(files: &[(&str, &str)]) -> Vec<crate::Fact> {
        let mut all: Vec<crate::Fact> = files.iter().flat_map(|(p, s)| facts(p, s)).collect();
        all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        crate::link::assign_ids(&mut all);
        all
    }

    #[test]
    fn migration_history_is_replayed_in_order() {
        let files = [
            // Listed out of order on purpose: the version prefix decides.
            (
                "supabase/migrations/20240103000000_oops.sql",
                "alter table public.rooms disable row level security;\n",
            ),
            (
                "supabase/migrations/20240101000000_init.sql",
                "alter publication supabase_realtime add table messages, rooms, notes;\nalter table rooms enable row level security;\n",
            ),
            (
                "supabase/migrations/20240102000000_rls.sql",
                "alter table public.messages enable row level security;\nalter publication supabase_realtime drop table notes;\n",
            ),
        ];
        let got = super::realtime_tables_without_rls(&project(&files));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].table, "public.rooms");
        assert!(
            got[0]
                .published_by
                .starts_with("sql_publication@supabase/migrations/20240101000000_init.sql:1")
        );
        assert_eq!(
            got[0].disabled_by.as_deref(),
            Some("sql_rls@supabase/migrations/20240103000000_oops.sql:1:1")
        );

        // `SET TABLE` replaces the list; RLS never enabled on the new table.
        let files = [
            (
                "supabase/migrations/1_a.sql",
                "alter publication supabase_realtime add table a;\nalter table b enable row level security;\n",
            ),
            (
                "supabase/migrations/2_b.sql",
                "alter publication supabase_realtime set table b, c;\n",
            ),
        ];
        let got = super::realtime_tables_without_rls(&project(&files));
        let tables: Vec<&str> = got.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(tables, vec!["public.c"]);
        assert!(got.iter().all(|t| t.disabled_by.is_none()));
    }

    #[test]
    fn commented_out_webhooks_are_not_facts() {
        let src = "create function f() returns trigger language plpgsql as $$\nbegin\n  -- perform net.http_post(url := 'https://x/functions/v1/a');\n  perform net.http_post(url := 'https://x/functions/v1/b');\n  return new;\nend $$;\n";
        let got = facts("db/hooks.sql", src);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].attr("edge_function").unwrap(), "b");
        assert_eq!(got[0].attr("in_migrations").unwrap(), false);
    }
}
