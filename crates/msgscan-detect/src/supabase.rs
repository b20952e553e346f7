//! Supabase in JavaScript, TypeScript and TSX: Realtime channels (supabase-js and
//! `@supabase/realtime-js`), their listeners, subscriptions, broadcasts and removal; clients
//! (`createClient` and the SSR / auth-helpers factories); edge functions
//! (`supabase/functions/<name>/index.ts`) and their invocations.
//!
//! A client is recognised through what the file imports, never by method names alone: a
//! binding of `createClient(...)` from `@supabase/supabase-js` (or a factory of
//! `@supabase/ssr`, `@supabase/auth-helpers-*`, or any function imported from a module whose
//! path names `supabase`, such as `@/utils/supabase/client`), `new RealtimeClient(...)`, a
//! name imported from such a module, or, in a file that imports something Supabase, a
//! receiver whose name contains `supabase` (`supabase`, `this.supabase`,
//! `event.locals.supabase`). A channel is the value of `<client>.channel(topic, opts)`;
//! `.on/.subscribe/.send/.unsubscribe` count only on a channel (through a chain or a
//! binding), so a store's `subscribe` or an RxJS `.subscribe()` is not mistaken for one.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use msgscan_lang::Language;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::js;

pub(crate) struct Supabase;

pub(crate) const REALTIME: &str = "supabase_realtime";
pub(crate) const EDGE: &str = "supabase_edge";

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "supabase_client",
        transport: REALTIME,
        doc: "A Supabase client created in code: `createClient(url, key)`, `createBrowserClient`, `createServerClient`, `new RealtimeClient(url)`. Name: the binding, if any.",
        attrs: attrs! {
        "factory": String = "the function or class called",
        "key": String = "the key argument as written; literal keys are masked",
        "service_role": Bool = "the key is the service-role key (its expression names `service_role`, or it is a JWT literal whose role is `service_role`)",
        "browser": Bool = "the client runs in the browser: a `'use client'` file, a browser factory, a public env prefix (`NEXT_PUBLIC_`, `VITE_`, `EXPO_PUBLIC_`, `REACT_APP_`, `PUBLIC_`), a JSX/TSX file outside server-side directories (`app/`, `api/`, `*.server.*`), or a file under `components/` or `pages/` (not `pages/api/`)",
        "browser_reason": String = "why the client counts as a browser client",
        },
    },
    KindSpec {
        kind: "supabase_channel",
        transport: REALTIME,
        doc: "`<client>.channel(topic, opts)`. Name: the topic, with `*` for each interpolated part (`room:${id}` → `room:*`); absent when the topic is not a literal or template.",
        attrs: attrs! {
        "literal": Bool = "the topic is a string literal (no interpolation)",
        "topic_expr": String = "the topic argument as written",
        "private": Bool = "created with `config: { private: true }`",
        "broadcast_self": Bool = "`config.broadcast.self` is true",
        "broadcast_ack": Bool = "`config.broadcast.ack` is true",
        "presence_key": String = "`config.presence.key` as written",
        "client": String = "the client receiver as written",
        "binding": String = "the variable the channel is bound to",
        "listens": List = "the listener types bound on it (`postgres_changes`, `broadcast`, `presence`, `system`)",
        "subscribed": Bool = "`.subscribe()` is called on it",
        "sends": Bool = "it sends broadcasts (`.send({type: 'broadcast'})`, `.httpSend`)",
        "removed": Bool = "it is removed: `removeChannel(ch)`/`ch.unsubscribe()` (inside the effect's cleanup when created in an effect), or `removeAllChannels()`",
        "escapes": Bool = "the channel is returned or handed to other code, which may remove it",
        "scope": String = "where it is created: `module`, `effect` (React `useEffect`/`useLayoutEffect`, Vue `onMounted`, Svelte `onMount`), `component` (a component or hook body, i.e. every render), `function`",
        "in_loop": Bool = "created inside a loop of its function",
        },
    },
    KindSpec {
        kind: "supabase_listen",
        transport: REALTIME,
        doc: "`channel.on(type, filter, callback)`. Name: `schema.table` for `postgres_changes` (`schema.*` without a table; absent when the options are not an object literal), else the event. Client-side names are kept exactly as written: Realtime compares them with the stored names.",
        attrs: attrs! {
        "type": String = "`postgres_changes`, `broadcast`, `presence` or `system`",
        "event": String = "the event filter (`*`, `INSERT`, a broadcast event, `sync`...)",
        "schema": String = "postgres_changes: the schema",
        "table": String = "postgres_changes: the table, if given",
        "filter": String = "postgres_changes: the row filter (`room_id=eq.1`), if given",
        "has_filter": Bool = "postgres_changes with literal options: a `filter` is given (absent when the options are built elsewhere)",
        "topic": String = "the channel's topic pattern",
        "private": Bool = "the channel is private",
        },
    },
    KindSpec {
        kind: "supabase_subscribe",
        transport: REALTIME,
        doc: "`channel.subscribe(callback?)`. Name: the channel's topic pattern.",
        attrs: attrs! {
        "has_callback": Bool = "a status callback is passed",
        "callback_inline": Bool = "the callback is written inline (so its body can be read)",
        "handles_errors": Bool = "the inline callback handles `CHANNEL_ERROR`, `TIMED_OUT` or `CLOSED`, or reads its error argument",
        "listens": List = "listener types bound on the channel",
        "private": Bool = "the channel is private",
        },
    },
    KindSpec {
        kind: "supabase_remove_channel",
        transport: REALTIME,
        doc: "`client.removeChannel(ch)`, `client.removeAllChannels()`, `ch.unsubscribe()`. Name: the topic removed, if known.",
        attrs: attrs! {
        "method": String = "`removeChannel`, `removeAllChannels` or `unsubscribe`",
        "all": Bool = "every channel is removed",
        },
    },
    KindSpec {
        kind: "supabase_broadcast_send",
        transport: REALTIME,
        doc: "`channel.send({ type: 'broadcast', event, payload })` or `channel.httpSend(event, payload)`. Name: the channel's topic pattern.",
        attrs: attrs! {
        "event": String = "the event sent",
        "method": String = "`send` or `httpSend`",
        "subscribed": Bool = "the channel is subscribed (otherwise `send` falls back to REST)",
        "private": Bool = "the channel is private",
        },
    },
    KindSpec {
        kind: "supabase_set_auth",
        transport: REALTIME,
        doc: "`client.realtime.setAuth(token?)` / `realtimeClient.setAuth(token?)`.",
        attrs: attrs! {
        "has_token": Bool = "a token argument is passed",
        },
    },
    KindSpec {
        kind: "edge_function",
        transport: EDGE,
        doc: "A Supabase edge function: the `Deno.serve(...)` / `serve(...)` handler of `supabase/functions/<name>/index.ts`. Name: the function (its directory).",
        attrs: attrs! {
        "uses_wait_until": Bool = "the file calls `EdgeRuntime.waitUntil`",
        "verifies_jwt": Bool = "the file verifies a user token (`auth.getUser`, `auth.getClaims`, `jwtVerify`, djwt `verify`)",
        "verifies_signature": Bool = "the file verifies a request signature (`createHmac`, `crypto.subtle.verify`, `constructEvent(Async)`, `new Webhook(...).verify`, `timingSafeEqual`)",
        "reads_authorization": Bool = "the file reads the `Authorization` header",
        "reads_signature_header": Bool = "the file reads a signature header (`*signature*`, `x-hub-*`, `stripe-*`, `webhook-*`, `svix-*`)",
        "uses_service_role": Bool = "the file reads the service-role key",
        "does_io": Bool = "the file makes outbound calls or writes: `fetch`, or a query builder's `insert`/`update`/`upsert`/`delete`/`rpc`, `functions.invoke`",
        },
    },
    KindSpec {
        kind: "edge_function_invoke",
        transport: EDGE,
        doc: "`client.functions.invoke(name, ...)`. Name: the function invoked, if literal.",
        attrs: &[],
    },
];

const CHANNEL_METHODS: &[&str] = &[
    "on",
    "subscribe",
    "send",
    "httpSend",
    "unsubscribe",
    "track",
    "untrack",
];

const EFFECT_HOOKS: &[&str] = &[
    "useEffect",
    "useLayoutEffect",
    "useInsertionEffect",
    "onMounted",
    "onMount",
    "onBeforeMount",
];

const BROWSER_FACTORIES: &[&str] = &[
    "createBrowserClient",
    "createClientComponentClient",
    "createPagesBrowserClient",
    "useSupabaseClient",
];

impl Detector for Supabase {
    fn name(&self) -> &'static str {
        "supabase"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::JavaScript, Language::TypeScript, Language::Tsx]
    }
    fn kinds(&self, _language: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "variable_declarator",
            "call_expression",
            "new_expression",
            "return_statement",
            "for_statement",
            "for_in_statement",
            "while_statement",
            "do_statement",
            "function_expression",
            "function_declaration",
            "arrow_function",
            "method_definition",
            "generator_function",
            "generator_function_declaration",
            "function",
            "string",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        &[
            "supabase",
            "Supabase",
            "SUPABASE",
            "RealtimeClient",
            "Deno.serve",
            "http/server",
        ]
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::new(SbVisitor {
            edge_function: edge_function_name(file.path),
            ..SbVisitor::default()
        })
    }
}

/// `supabase/functions/<name>/index.{ts,js,tsx,mjs}` → `<name>` (not `_shared`).
pub(crate) fn edge_function_name(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let n = parts.len();
    if n < 4 {
        return None;
    }
    let file = parts[n - 1];
    let stem = file.split('.').next().unwrap_or_default();
    if stem != "index" || parts[n - 3] != "functions" || parts[n - 4] != "supabase" {
        return None;
    }
    let name = parts[n - 2];
    (!name.starts_with('_') && !name.starts_with('.')).then(|| name.to_string())
}

/// Where a topic or function call came from: a `.channel(...)` call (by start byte) or a
/// name that may be bound to one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    ChanAt(usize),
    Name(String),
}

#[derive(Debug)]
struct Func {
    range: Range<usize>,
    /// `effect`, `component`, `function`.
    kind: &'static str,
    loop_depth: u32,
    /// Index into `effects` when this function is an effect callback.
    effect: Option<usize>,
}

#[derive(Debug)]
struct Chan {
    at: Range<usize>,
    start: usize,
    topic: Option<String>,
    literal: bool,
    topic_expr: String,
    private: bool,
    broadcast_self: bool,
    broadcast_ack: bool,
    presence_key: Option<String>,
    client: String,
    binding: Option<String>,
    binding_scope: Range<usize>,
    escapes_direct: bool,
    scope: &'static str,
    effect: Option<usize>,
    in_loop: bool,
}

#[derive(Debug)]
struct ChanCall {
    at: Range<usize>,
    pos: usize,
    root: Root,
    method: String,
    /// `on`: (type, event, schema, table, filter).
    listen: Option<Listen>,
    /// `subscribe`: (has_callback, inline, handles_errors).
    subscribe: (bool, bool, bool),
    /// `send`/`httpSend`: the event, if a broadcast.
    send_event: Option<Option<String>>,
    /// The effect (callback) this call is in, body or cleanup.
    in_effect: Option<usize>,
}

#[derive(Debug, Default)]
struct Listen {
    kind: String,
    /// The filter is an object literal (so a missing `table`/`filter` is really missing).
    literal: bool,
    event: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    filter: Option<String>,
}

#[derive(Debug)]
struct Remove {
    at: Range<usize>,
    pos: usize,
    arg: Option<Root>,
    all: bool,
    method: &'static str,
    in_effect: Option<usize>,
}

#[derive(Default)]
struct SbVisitor {
    edge_function: Option<String>,
    /// Any import or require names a module with `supabase` in it.
    supabase_import: bool,
    use_client: bool,
    /// Local names of functions that return a client, with the factory name.
    factories: HashMap<String, String>,
    realtime_ctor: HashSet<String>,
    /// Names imported from `supabase`-named modules (possible clients).
    imported: HashSet<String>,
    /// Bindings known to hold a client.
    clients: HashSet<String>,
    /// `serve` imported from Deno's std http.
    serve_names: HashSet<String>,
    funcs: Vec<Func>,
    /// Effect callback ranges.
    effects: Vec<Range<usize>>,
    /// Per effect: whether its cleanup is the function it returns (React, Svelte), rather
    /// than a separate hook (Vue's `onUnmounted`).
    effect_returns_cleanup: Vec<bool>,
    chans: Vec<Chan>,
    calls: Vec<ChanCall>,
    removes: Vec<Remove>,
    /// Names returned or passed as call arguments: (name, position).
    escapes: Vec<(String, usize)>,
    serve_at: Option<Range<usize>>,
    callee_paths: HashSet<String>,
    /// Method (or function) names called in an edge function file.
    called_names: HashSet<String>,
    header_reads: Vec<String>,
    reads_service_role: bool,
    uses_wait_until: bool,
    imports_djwt: bool,
}

fn is_supabase_module(source: &str) -> bool {
    source.to_ascii_lowercase().contains("supabase")
}

impl SbVisitor {
    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(source) = node.field("source").and_then(|s| js::string_value(s, cx)) else {
            return;
        };
        if source.contains("djwt") {
            self.imports_djwt = true;
        }
        let is_std_http = source.contains("std") && source.contains("http");
        if !is_supabase_module(&source) && !is_std_http {
            return;
        }
        for (local, imported) in js::import_bindings(node, cx) {
            self.bind_import(local, imported, &source);
        }
    }

    fn bind_import(&mut self, local: &str, imported: Option<&str>, source: &str) {
        if !is_supabase_module(source) {
            // Deno std http: `import { serve } from "https://deno.land/std@0.168.0/http/server.ts"`.
            if imported == Some("serve") {
                self.serve_names.insert(local.to_string());
            }
            return;
        }
        self.supabase_import = true;
        let name = imported.unwrap_or(local);
        // `@supabase/...`, also as `npm:`, `jsr:` or `https://esm.sh/` specifiers in Deno.
        if source.contains("@supabase/") {
            match name {
                "RealtimeClient" => {
                    self.realtime_ctor.insert(local.to_string());
                }
                "*" => {
                    // `import * as sb from '@supabase/supabase-js'`: `sb.createClient(...)`.
                    self.factories
                        .insert(format!("{local}.createClient"), "createClient".into());
                }
                n if n.starts_with("create") && n.ends_with("Client")
                    || n == "useSupabaseClient"
                    || n == "useSupabase" =>
                {
                    self.factories.insert(local.to_string(), n.to_string());
                }
                _ => {}
            }
        } else {
            // A project module about Supabase: `@/utils/supabase/client`, `../lib/supabase`.
            self.imported.insert(local.to_string());
            self.factories.insert(local.to_string(), name.to_string());
        }
    }

    /// `require('@supabase/supabase-js')` destructured or bound.
    fn on_declarator(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        let value = strip_await(js::unwrap_expr(value));
        if value.kind() == "call_expression"
            && let Some(f) = value.field("function")
            && cx.text(f) == "require"
        {
            let Some(src) = js::arguments(value)
                .first()
                .and_then(|a| js::string_value(*a, cx))
            else {
                return;
            };
            match name.kind() {
                "identifier" => self.bind_import(cx.text(name), Some("*"), &src),
                "object_pattern" => {
                    for (local, key) in js::destructured(name, cx) {
                        self.bind_import(local, Some(key), &src);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether a receiver expression is a Supabase client.
    fn is_client(&self, node: Node<'_>, cx: &FileCx<'_>) -> bool {
        let node = strip_await(js::unwrap_expr(node));
        if node.kind() == "call_expression" {
            // `createClient().channel(...)`, `(await getSupabase()).channel(...)`
            return node
                .field("function")
                .and_then(|f| js::member_path(f, cx))
                .is_some_and(|p| self.factories.contains_key(&p));
        }
        let Some(path) = js::member_path(node, cx) else {
            return false;
        };
        if self.clients.contains(&path) {
            return true;
        }
        let root = path.split('.').next().unwrap_or_default();
        if self.imported.contains(root) {
            return true;
        }
        (self.supabase_import || self.edge_function.is_some())
            && path
                .split('.')
                .any(|seg| seg.to_ascii_lowercase().contains("supabase"))
    }

    fn current_scope(&self, cx: &FileCx<'_>) -> Range<usize> {
        self.funcs
            .last()
            .map(|f| f.range.clone())
            .unwrap_or(0..cx.text.len())
    }

    fn on_new(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(ctor) = node.field("constructor") else {
            return;
        };
        let Some(path) = js::member_path(ctor, cx) else {
            return;
        };
        if !self.realtime_ctor.contains(&path) && !path.ends_with(".RealtimeClient") {
            return;
        }
        let binding = js::binding_of(node, cx);
        if let Some(b) = &binding {
            self.clients.insert(b.clone());
        }
        let fact = cx
            .fact("supabase_client", REALTIME, Role::Definition, node)
            .name_opt(binding)
            .attr("factory", "RealtimeClient")
            .attr("key", "")
            .attr("service_role", false)
            .attr("browser", false)
            .attr("browser_reason", "");
        cx.emit(fact);
    }

    fn on_call(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        let func = js::unwrap_expr(func);
        let path = js::member_path(func, cx);
        if self.edge_function.is_some() {
            let name = match func.kind() {
                "member_expression" => func.field("property").map(|p| cx.text(p)),
                "identifier" => Some(cx.text(func)),
                _ => None,
            };
            if let Some(n) = name {
                self.called_names.insert(n.to_string());
            }
        }
        if let Some(p) = &path {
            if self.edge_function.is_some() {
                self.callee_paths.insert(p.clone());
                if p.ends_with(".get")
                    && let Some(h) = js::arguments(node)
                        .first()
                        .and_then(|a| js::string_value(*a, cx))
                {
                    self.header_reads.push(h.to_ascii_lowercase());
                }
                if p == "EdgeRuntime.waitUntil" {
                    self.uses_wait_until = true;
                }
                if (p == "Deno.serve" || self.serve_names.contains(p)) && self.serve_at.is_none() {
                    self.serve_at = Some(node.byte_range());
                }
            }
            if let Some(factory) = self.factories.get(p).cloned() {
                self.on_client_factory(node, &factory, cx);
            }
            if EFFECT_HOOKS.contains(&p.rsplit('.').next().unwrap_or_default())
                && let Some(cb) = js::arguments(node).first()
            {
                let cb = js::unwrap_expr(*cb);
                if js::is_function(cb) {
                    self.effects.push(cb.byte_range());
                    let hook = p.rsplit('.').next().unwrap_or_default();
                    self.effect_returns_cleanup
                        .push(!matches!(hook, "onMounted" | "onBeforeMount"));
                }
            }
        }
        // Arguments that hand a name to other code (removal is not handing it on).
        let removal = path
            .as_deref()
            .is_some_and(|p| p.ends_with(".removeChannel") || p.ends_with(".removeAllChannels"));
        for arg in js::arguments(node).into_iter().filter(|_| !removal) {
            if let Some(p) = js::member_path(arg, cx) {
                self.escapes.push((p, node.start_byte()));
            }
        }
        if func.kind() != "member_expression" {
            return;
        }
        let (Some(obj), Some(prop)) = (func.field("object"), func.field("property")) else {
            return;
        };
        let method = cx.text(prop);
        match method {
            "channel" => {
                let client = strip_realtime(obj, cx);
                if self.is_client(client, cx) || self.is_client(obj, cx) {
                    self.on_channel(node, obj, cx);
                }
            }
            "removeChannel" | "removeAllChannels"
                if self.is_client(strip_realtime(obj, cx), cx) =>
            {
                let arg = js::arguments(node).first().map(|a| root_of(*a, cx));
                self.removes.push(Remove {
                    at: node.byte_range(),
                    pos: node.start_byte(),
                    all: method == "removeAllChannels",
                    arg: arg.flatten(),
                    method: if method == "removeChannel" {
                        "removeChannel"
                    } else {
                        "removeAllChannels"
                    },
                    in_effect: self.enclosing_effect(),
                });
            }
            "setAuth" => {
                let recv = strip_realtime(obj, cx);
                let via_realtime = recv.id() != obj.id();
                if via_realtime && self.is_client(recv, cx) || self.is_client(obj, cx) {
                    let fact = cx
                        .fact("supabase_set_auth", REALTIME, Role::Config, node)
                        .attr("has_token", !js::arguments(node).is_empty());
                    cx.emit(fact);
                }
            }
            "invoke" => {
                // client.functions.invoke('name', ...)
                if obj.kind() == "member_expression"
                    && obj
                        .field("property")
                        .is_some_and(|p| cx.text(p) == "functions")
                    && let Some(c) = obj.field("object")
                    && self.is_client(c, cx)
                {
                    let name = js::arguments(node)
                        .first()
                        .and_then(|a| js::string_value(*a, cx));
                    let fact = cx
                        .fact("edge_function_invoke", EDGE, Role::Producer, node)
                        .name_opt(name);
                    cx.emit(fact);
                }
            }
            m if CHANNEL_METHODS.contains(&m) => self.on_channel_method(node, obj, m, cx),
            _ => {}
        }
    }

    fn on_client_factory(&mut self, node: Node<'_>, factory: &str, cx: &mut FileCx<'_>) {
        let binding = js::binding_of(node, cx);
        if let Some(b) = &binding {
            self.clients.insert(b.clone());
        }
        // Only real client constructors (with a key) are `supabase_client` facts.
        let args = js::arguments(node);
        let is_ctor = matches!(
            factory,
            "createClient" | "createBrowserClient" | "createServerClient"
        ) && !self
            .imported
            .contains(cx.text(node.field("function").unwrap_or(node)));
        if !is_ctor || args.len() < 2 {
            return;
        }
        let key_node = args[1];
        let key_text = cx.text(key_node);
        let literal = js::string_value(key_node, cx);
        let service_role = key_text.to_ascii_lowercase().contains("service_role")
            || key_text.to_ascii_lowercase().contains("servicerole")
            || literal.as_deref().is_some_and(jwt_is_service_role);
        let key_shown = match &literal {
            Some(l) => mask_secret(l),
            None => compact(key_text),
        };
        let reason = self.browser_reason(factory, key_text, cx);
        let fact = cx
            .fact("supabase_client", REALTIME, Role::Definition, node)
            .name_opt(binding)
            .attr("factory", factory)
            .attr("key", key_shown)
            .attr("service_role", service_role)
            .attr("browser", reason.is_some())
            .attr("browser_reason", reason.unwrap_or_default());
        cx.emit(fact);
    }

    fn browser_reason(&self, factory: &str, key: &str, cx: &FileCx<'_>) -> Option<String> {
        if BROWSER_FACTORIES.contains(&factory) {
            return Some(format!("`{factory}` makes a browser client"));
        }
        for prefix in [
            "NEXT_PUBLIC_",
            "VITE_",
            "EXPO_PUBLIC_",
            "REACT_APP_",
            "PUBLIC_",
            "NUXT_PUBLIC_",
            "GATSBY_",
        ] {
            if key.contains(prefix) {
                return Some(format!(
                    "the key comes from a `{prefix}*` variable, which is bundled into browser code"
                ));
            }
        }
        if self.use_client {
            return Some("the file is marked `'use client'`".into());
        }
        let p = format!("/{}", cx.path);
        // Server-side by convention: Next.js app router (server components unless
        // `'use client'`), Remix `*.server.*` modules, API routes.
        let server_side = p.contains("/app/") || p.contains(".server.") || p.contains("/api/");
        if (cx.language == Language::Tsx || cx.path.ends_with(".jsx")) && !server_side {
            return Some("the file is a JSX/TSX component file".into());
        }
        if p.contains("/components/") {
            return Some("the file is under `components/`".into());
        }
        if p.contains("/pages/") && !p.contains("/pages/api/") {
            return Some("the file is under `pages/`".into());
        }
        None
    }

    fn on_channel(&mut self, node: Node<'_>, client: Node<'_>, cx: &FileCx<'_>) {
        let args = js::arguments(node);
        let (topic, literal, topic_expr) = match args.first() {
            Some(t) => {
                let (p, lit) = topic_pattern(*t, cx);
                (p, lit, compact(cx.text(*t)))
            }
            None => (None, false, String::new()),
        };
        let opts = args.get(1).copied().map(js::unwrap_expr);
        let config = opts.and_then(|o| js::object_property(o, "config", cx));
        fn prop<'n>(obj: Option<Node<'n>>, key: &str, cx: &FileCx<'_>) -> Option<Node<'n>> {
            obj.and_then(|o| js::object_property(o, key, cx))
        }
        let is_true = |n: Option<Node<'_>>| n.is_some_and(|v| cx.text(v) == "true");
        let broadcast = prop(config, "broadcast", cx);
        let presence = prop(config, "presence", cx);
        // The chain above the channel call: `.on(...).subscribe()`, then a binding.
        let mut top = node;
        while let Some(member) = cx.parent(top).filter(|p| p.kind() == "member_expression")
            && member
                .field("property")
                .is_some_and(|p| CHANNEL_METHODS.contains(&cx.text(p)))
            && let Some(call) = cx.parent(member).filter(|p| p.kind() == "call_expression")
        {
            top = call;
        }
        let binding = js::binding_of(top, cx);
        let parent = cx.parent(top).map(|p| p.kind());
        let escapes_direct = matches!(
            parent,
            Some("return_statement") | Some("arrow_function") | Some("arguments")
        );
        // A declaration is scoped to its function; an assignment (`channel = ...`,
        // `this.channel = ...`, `ref.current = ...`) to a variable declared elsewhere.
        let declared = {
            let mut n = top;
            loop {
                match cx.parent(n) {
                    Some(p)
                        if matches!(
                            p.kind(),
                            "as_expression"
                                | "non_null_expression"
                                | "parenthesized_expression"
                                | "satisfies_expression"
                                | "await_expression"
                        ) =>
                    {
                        n = p
                    }
                    Some(p) => break p.kind() == "variable_declarator",
                    None => break false,
                }
            }
        };
        let scope_range = if declared {
            self.current_scope(cx)
        } else {
            0..cx.text.len()
        };
        let (scope, effect) = match self.funcs.last() {
            None => ("module", None),
            Some(f) => (f.kind, f.effect.or_else(|| self.enclosing_effect())),
        };
        let scope = if effect.is_some() { "effect" } else { scope };
        let in_loop = self.funcs.last().is_some_and(|f| f.loop_depth > 0);
        self.chans.push(Chan {
            at: method_start(node)..node.end_byte(),
            start: node.start_byte(),
            topic,
            literal,
            topic_expr,
            private: is_true(prop(config, "private", cx)),
            broadcast_self: is_true(prop(broadcast, "self", cx)),
            broadcast_ack: is_true(prop(broadcast, "ack", cx)),
            presence_key: prop(presence, "key", cx)
                .map(|k| js::string_value(k, cx).unwrap_or_else(|| compact(cx.text(k)))),
            client: compact(cx.text(client)),
            binding,
            binding_scope: scope_range,
            escapes_direct,
            scope,
            effect,
            in_loop,
        });
    }

    /// Whether a removal counts for a channel created in `effect`: anywhere for a channel
    /// outside effects or in a Vue `onMounted`; otherwise inside the same effect (its body
    /// or the cleanup it returns), not in some other handler.
    fn removal_counts(&self, effect: Option<usize>, removal_effect: Option<usize>) -> bool {
        match effect {
            None => true,
            Some(e) => {
                !self.effect_returns_cleanup.get(e).copied().unwrap_or(true)
                    || removal_effect == Some(e)
            }
        }
    }

    fn enclosing_effect(&self) -> Option<usize> {
        self.funcs.iter().rev().find_map(|f| f.effect)
    }

    fn on_channel_method(&mut self, node: Node<'_>, obj: Node<'_>, method: &str, cx: &FileCx<'_>) {
        let Some(root) = root_of(obj, cx) else {
            return;
        };
        let args = js::arguments(node);
        let mut call = ChanCall {
            at: method_start(node)..node.end_byte(),
            pos: node.start_byte(),
            root,
            method: method.to_string(),
            listen: None,
            subscribe: (false, false, false),
            send_event: None,
            in_effect: self.enclosing_effect(),
        };
        match method {
            "on" => {
                let Some(kind) = args.first().and_then(|a| js::string_value(*a, cx)) else {
                    return;
                };
                let filter = args.get(1).copied().map(js::unwrap_expr);
                let get = |k: &str| {
                    filter
                        .and_then(|f| js::object_property(f, k, cx))
                        .map(|v| js::string_value(v, cx).unwrap_or_else(|| compact(cx.text(v))))
                };
                call.at = method_start(node)..args.get(1).unwrap_or(&args[0]).end_byte();
                call.listen = Some(Listen {
                    literal: filter.is_some_and(|f| f.kind() == "object"),
                    kind,
                    event: get("event"),
                    schema: get("schema"),
                    table: get("table"),
                    filter: get("filter"),
                });
            }
            "subscribe" => {
                let cb = args.first().copied().map(js::unwrap_expr);
                let inline = cb.is_some_and(js::is_function);
                let handles = cb.is_some_and(|f| {
                    if !js::is_function(f) {
                        return false;
                    }
                    let body = cx.text(f);
                    if ["CHANNEL_ERROR", "TIMED_OUT", "CLOSED"]
                        .iter()
                        .any(|s| body.contains(s))
                    {
                        return true;
                    }
                    // `(status, err) => { if (err) ... }`
                    f.field("parameters")
                        .and_then(|ps| {
                            let mut c = ps.walk();
                            ps.named_children(&mut c).nth(1)
                        })
                        .map(|p| {
                            cx.text(p)
                                .split(':')
                                .next()
                                .unwrap_or_default()
                                .trim()
                                .to_string()
                        })
                        .zip(f.field("body"))
                        .is_some_and(|(name, b)| {
                            !name.is_empty() && contains_word(cx.text(b), &name)
                        })
                });
                call.subscribe = (cb.is_some(), inline, handles);
            }
            "send" => {
                let Some(msg) = args.first().copied().map(js::unwrap_expr) else {
                    return;
                };
                let ty = js::object_property(msg, "type", cx).and_then(|t| js::string_value(t, cx));
                if ty.as_deref() != Some("broadcast") {
                    return;
                }
                let event = js::object_property(msg, "event", cx)
                    .map(|e| js::string_value(e, cx).unwrap_or_else(|| compact(cx.text(e))));
                call.send_event = Some(event);
            }
            "httpSend" => {
                let event = args
                    .first()
                    .map(|e| js::string_value(*e, cx).unwrap_or_else(|| compact(cx.text(*e))));
                call.send_event = Some(event);
            }
            _ => {}
        }
        self.calls.push(call);
    }

    /// The channel a root names at a position.
    fn resolve(&self, root: &Root, pos: usize) -> Option<usize> {
        match root {
            Root::ChanAt(start) => self.chans.iter().position(|c| c.start == *start),
            Root::Name(name) => self
                .chans
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.binding.as_deref() == Some(name.as_str()) && c.binding_scope.contains(&pos)
                })
                .filter(|(_, c)| c.start <= pos || name.contains('.'))
                .max_by_key(|(_, c)| c.start)
                .map(|(i, _)| i)
                .or_else(|| {
                    // A name used before (or outside the scope of) its binding: `this.channel`.
                    self.chans.iter().position(|c| {
                        c.binding.as_deref() == Some(name.as_str()) && name.contains('.')
                    })
                }),
        }
    }
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident =
            |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        !ident(before) && !ident(after)
    })
}

fn strip_await(node: Node<'_>) -> Node<'_> {
    if node.kind() == "await_expression"
        && let Some(inner) = node.named_child(0)
    {
        return js::unwrap_expr(inner);
    }
    node
}

/// Where a method call's fact starts: at the method name, so a call in the middle of a
/// chain is located on its own line.
fn method_start(call: Node<'_>) -> usize {
    call.field("function")
        .map(js::unwrap_expr)
        .and_then(|f| f.field("property"))
        .map_or(call.start_byte(), |p| p.start_byte())
}

/// `client.realtime` → `client`.
fn strip_realtime<'t>(obj: Node<'t>, cx: &FileCx<'_>) -> Node<'t> {
    let o = js::unwrap_expr(obj);
    if o.kind() == "member_expression"
        && o.field("property")
            .is_some_and(|p| cx.text(p) == "realtime")
        && let Some(inner) = o.field("object")
    {
        return inner;
    }
    obj
}

/// The root of a channel-method chain: the `.channel(...)` call it starts from, or the name
/// it starts from.
fn root_of(node: Node<'_>, cx: &FileCx<'_>) -> Option<Root> {
    let mut n = strip_await(js::unwrap_expr(node));
    loop {
        if n.kind() != "call_expression" {
            return js::member_path(n, cx).map(Root::Name);
        }
        let f = js::unwrap_expr(n.field("function")?);
        if f.kind() != "member_expression" {
            return None;
        }
        let m = cx.text(f.field("property")?);
        if m == "channel" {
            return Some(Root::ChanAt(n.start_byte()));
        }
        if !CHANNEL_METHODS.contains(&m) {
            return None;
        }
        n = strip_await(js::unwrap_expr(f.field("object")?));
    }
}

/// A topic as a pattern: literals as written, each interpolated or concatenated
/// non-literal part as `*`. The bool says whether it is a plain literal.
pub(crate) fn topic_pattern(node: Node<'_>, cx: &FileCx<'_>) -> (Option<String>, bool) {
    let node = js::unwrap_expr(node);
    if let Some(s) = js::string_value(node, cx) {
        return (Some(s), true);
    }
    match node.kind() {
        "template_string" => {
            let mut out = String::new();
            let mut c = node.walk();
            for part in node.named_children(&mut c) {
                match part.kind() {
                    "string_fragment" | "escape_sequence" => out.push_str(cx.text(part)),
                    "template_substitution" if !out.ends_with('*') => out.push('*'),
                    _ => {}
                }
            }
            (Some(out), false)
        }
        "binary_expression" => {
            let op = node.field("operator").map(|o| cx.text(o));
            if op != Some("+") {
                return (None, false);
            }
            let mut parts = Vec::new();
            let mut stack = vec![node];
            // Left-to-right flattening of `a + b + c` (left-nested), iteratively.
            let mut ordered = Vec::new();
            while let Some(n) = stack.pop() {
                let n = js::unwrap_expr(n);
                if n.kind() == "binary_expression"
                    && n.field("operator").map(|o| cx.text(o)) == Some("+")
                {
                    if let (Some(l), Some(r)) = (n.field("left"), n.field("right")) {
                        stack.push(r);
                        stack.push(l);
                    }
                } else {
                    ordered.push(n);
                }
            }
            let mut any_literal = false;
            for n in ordered {
                match topic_pattern(n, cx) {
                    (Some(s), _) => {
                        any_literal = true;
                        parts.push(s);
                    }
                    (None, _) => {
                        if parts.last().is_none_or(|l: &String| !l.ends_with('*')) {
                            parts.push("*".into());
                        }
                    }
                }
            }
            if any_literal {
                (Some(parts.concat()), false)
            } else {
                (None, false)
            }
        }
        _ => (None, false),
    }
}

pub(crate) fn compact(text: &str) -> String {
    let mut s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 120 {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// A secret as it may appear in a report: its first few characters, then a redaction.
pub(crate) fn mask_secret(secret: &str) -> String {
    let shown: String = secret.chars().take(6).collect();
    if secret.chars().count() <= 6 {
        return "…(redacted)".into();
    }
    format!("{shown}…(redacted)")
}

/// Whether a JWT literal's payload says `"role":"service_role"`.
pub(crate) fn jwt_is_service_role(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    base64url_decode(payload)
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|p| {
            let p: String = p.chars().filter(|c| !c.is_whitespace()).collect();
            p.contains("\"role\":\"service_role\"")
        })
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn function_name(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    if let Some(n) = node.field("name") {
        return Some(cx.text(n).to_string());
    }
    let mut p = cx.parent(node)?;
    while matches!(
        p.kind(),
        "parenthesized_expression" | "call_expression" | "arguments"
    ) {
        // `memo(function Chat() {})`, `forwardRef((props) => ...)`
        p = cx.parent(p)?;
    }
    match p.kind() {
        "variable_declarator" => p.field("name").map(|n| cx.text(n).to_string()),
        "pair" => p.field("key").map(|n| cx.text(n).to_string()),
        _ => None,
    }
}

fn is_component_or_hook(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_uppercase() => true,
        Some('u') => {
            name.starts_with("use")
                && name[3..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase())
        }
        _ => false,
    }
}

impl<'t> Visitor<'t> for SbVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" => self.on_import(node, cx),
            "variable_declarator" => self.on_declarator(node, cx),
            "call_expression" => self.on_call(node, cx),
            "new_expression" => self.on_new(node, cx),
            "string" => {
                let t = cx.text(node);
                if (t == "'use client'" || t == "\"use client\"")
                    && cx.parent(node).is_some_and(|p| {
                        p.kind() == "expression_statement"
                            && cx.parent(p).is_some_and(|g| g.kind() == "program")
                    })
                {
                    self.use_client = true;
                }
                if self.edge_function.is_some() && t.contains("SERVICE_ROLE") {
                    self.reads_service_role = true;
                }
            }
            "return_statement" => {
                if let Some(arg) = node.named_child(0)
                    && let Some(p) = js::member_path(arg, cx)
                {
                    self.escapes.push((p, node.start_byte()));
                }
            }
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                if let Some(f) = self.funcs.last_mut() {
                    f.loop_depth += 1;
                }
            }
            _ if js::is_function(node) => {
                let effect = self.effects.iter().position(|r| *r == node.byte_range());
                let kind = if effect.is_some() {
                    "effect"
                } else if function_name(node, cx).is_some_and(|n| is_component_or_hook(&n)) {
                    "component"
                } else {
                    "function"
                };
                self.funcs.push(Func {
                    range: node.byte_range(),
                    kind,
                    loop_depth: 0,
                    effect,
                });
            }
            _ => {}
        }
    }

    fn leave(&mut self, node: Node<'t>, _cx: &mut FileCx<'t>) {
        match node.kind() {
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                if let Some(f) = self.funcs.last_mut() {
                    f.loop_depth = f.loop_depth.saturating_sub(1);
                }
            }
            _ if js::is_function(node)
                && self
                    .funcs
                    .last()
                    .is_some_and(|f| f.range == node.byte_range()) =>
            {
                self.funcs.pop();
            }
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        let n = self.chans.len();
        let mut listens: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut subscribed = vec![false; n];
        let mut sends = vec![false; n];
        let mut removed = vec![false; n];
        let resolved: Vec<Option<usize>> = self
            .calls
            .iter()
            .map(|c| self.resolve(&c.root, c.pos))
            .collect();
        for (call, idx) in self.calls.iter().zip(&resolved) {
            let Some(i) = *idx else { continue };
            match call.method.as_str() {
                "on" => {
                    if let Some(l) = &call.listen
                        && !listens[i].contains(&l.kind)
                    {
                        listens[i].push(l.kind.clone());
                    }
                }
                "subscribe" => subscribed[i] = true,
                "send" | "httpSend" if call.send_event.is_some() => sends[i] = true,
                "unsubscribe" => {
                    let ch = &self.chans[i];
                    if self.removal_counts(ch.effect, call.in_effect) {
                        removed[i] = true;
                    }
                }
                _ => {}
            }
        }
        let remove_targets: Vec<Option<usize>> = self
            .removes
            .iter()
            .map(|r| r.arg.as_ref().and_then(|a| self.resolve(a, r.pos)))
            .collect();
        for (r, target) in self.removes.iter().zip(&remove_targets) {
            for (i, ch) in self.chans.iter().enumerate() {
                let hits = r.all || *target == Some(i);
                let in_cleanup = self.removal_counts(ch.effect, r.in_effect);
                if hits && in_cleanup {
                    removed[i] = true;
                }
            }
        }
        for (i, ch) in self.chans.iter().enumerate() {
            let escapes = ch.escapes_direct
                || ch.binding.as_deref().is_some_and(|b| {
                    self.escapes.iter().any(|(name, pos)| {
                        name == b && ch.binding_scope.contains(pos) && *pos > ch.start
                    })
                });
            let fact = cx
                .fact_range(
                    "supabase_channel",
                    REALTIME,
                    Role::Definition,
                    ch.at.clone(),
                )
                .name_opt(ch.topic.clone())
                .attr("literal", ch.literal)
                .attr("topic_expr", ch.topic_expr.clone())
                .attr("private", ch.private)
                .attr("broadcast_self", ch.broadcast_self)
                .attr("broadcast_ack", ch.broadcast_ack)
                .attr_opt("presence_key", ch.presence_key.clone())
                .attr("client", ch.client.clone())
                .attr_opt("binding", ch.binding.clone())
                .attr("listens", listens[i].clone())
                .attr("subscribed", subscribed[i])
                .attr("sends", sends[i])
                .attr("removed", removed[i])
                .attr("escapes", escapes)
                .attr("scope", ch.scope)
                .attr("in_loop", ch.in_loop);
            cx.emit(fact);
        }
        for (call, idx) in self.calls.iter().zip(&resolved) {
            let Some(i) = *idx else { continue };
            let ch = &self.chans[i];
            match call.method.as_str() {
                "on" => {
                    let Some(l) = &call.listen else { continue };
                    let name = if l.kind == "postgres_changes" && !l.literal {
                        None
                    } else if l.kind == "postgres_changes" {
                        Some(exact_table(
                            l.schema.as_deref().unwrap_or("public"),
                            l.table.as_deref().unwrap_or("*"),
                        ))
                    } else {
                        l.event.clone()
                    };
                    let mut fact = cx
                        .fact_range("supabase_listen", REALTIME, Role::Consumer, call.at.clone())
                        .name_opt(name)
                        .attr("type", l.kind.clone())
                        .attr_opt("event", l.event.clone())
                        .attr_opt("topic", ch.topic.clone())
                        .attr("private", ch.private);
                    if l.kind == "postgres_changes" && l.literal {
                        fact = fact
                            .attr_opt("schema", l.schema.clone())
                            .attr_opt("table", l.table.clone())
                            .attr_opt("filter", l.filter.clone())
                            .attr("has_filter", l.filter.is_some());
                    }
                    cx.emit(fact);
                }
                "subscribe" => {
                    let (has, inline, handles) = call.subscribe;
                    let fact = cx
                        .fact_range(
                            "supabase_subscribe",
                            REALTIME,
                            Role::Consumer,
                            call.at.clone(),
                        )
                        .name_opt(ch.topic.clone())
                        .attr("has_callback", has)
                        .attr("callback_inline", inline)
                        .attr("handles_errors", handles)
                        .attr("listens", listens[i].clone())
                        .attr("private", ch.private);
                    cx.emit(fact);
                }
                "send" | "httpSend" => {
                    let Some(event) = &call.send_event else {
                        continue;
                    };
                    let fact = cx
                        .fact_range(
                            "supabase_broadcast_send",
                            REALTIME,
                            Role::Producer,
                            call.at.clone(),
                        )
                        .name_opt(ch.topic.clone())
                        .attr_opt("event", event.clone())
                        .attr("method", call.method.clone())
                        .attr("subscribed", subscribed[i])
                        .attr("private", ch.private);
                    cx.emit(fact);
                }
                "unsubscribe" => {
                    let fact = cx
                        .fact_range(
                            "supabase_remove_channel",
                            REALTIME,
                            Role::Config,
                            call.at.clone(),
                        )
                        .name_opt(ch.topic.clone())
                        .attr("method", "unsubscribe")
                        .attr("all", false);
                    cx.emit(fact);
                }
                _ => {}
            }
        }
        for (r, target) in self.removes.iter().zip(&remove_targets) {
            let name = target.and_then(|i| self.chans[i].topic.clone());
            let fact = cx
                .fact_range(
                    "supabase_remove_channel",
                    REALTIME,
                    Role::Config,
                    r.at.clone(),
                )
                .name_opt(name)
                .attr("method", r.method)
                .attr("all", r.all);
            cx.emit(fact);
        }
        if let (Some(name), Some(at)) = (&self.edge_function, &self.serve_at) {
            let calls = &self.callee_paths;
            let ends = |suffixes: &[&str]| {
                calls.iter().any(|c| {
                    suffixes
                        .iter()
                        .any(|s| c == s || c.ends_with(&format!(".{s}")))
                })
            };
            // djwt's `verify(jwt, key)` is a bare call; count it only when djwt is imported.
            let verifies_jwt = ends(&[
                "getUser",
                "getClaims",
                "jwtVerify",
                "verifyJWT",
                "verifyJwt",
            ]) || self.imports_djwt && calls.contains("verify");
            let verifies_signature = ends(&[
                "createHmac",
                "subtle.verify",
                "constructEvent",
                "constructEventAsync",
                "timingSafeEqual",
                "verifySignature",
                "verifyWebhook",
            ]) || calls
                .iter()
                .any(|c| c.ends_with(".verify") && c != "crypto.subtle.verify")
                && !calls.contains("jwtVerify");
            let reads_auth = self.header_reads.iter().any(|h| h == "authorization");
            let reads_sig = self.header_reads.iter().any(|h| {
                h.contains("signature")
                    || h.starts_with("x-hub-")
                    || h.starts_with("stripe-")
                    || h.starts_with("webhook-")
                    || h.starts_with("svix-")
            });
            let fact = cx
                .fact_range("edge_function", EDGE, Role::Consumer, at.clone())
                .name(name.clone())
                .attr("uses_wait_until", self.uses_wait_until)
                .attr("verifies_jwt", verifies_jwt)
                .attr("verifies_signature", verifies_signature)
                .attr("reads_authorization", reads_auth)
                .attr("reads_signature_header", reads_sig)
                .attr("uses_service_role", self.reads_service_role)
                .attr(
                    "does_io",
                    [
                        "fetch", "insert", "update", "upsert", "delete", "rpc", "invoke",
                    ]
                    .iter()
                    .any(|n| self.called_names.contains(*n)),
                );
            cx.emit(fact);
        }
    }
}

/// `schema.table` as a client names it: Realtime compares these strings with the stored
/// names exactly, so no case folding (a client asking for `Messages` does not get the
/// changes of an unquoted `messages` table).
pub(crate) fn exact_table(schema: &str, table: &str) -> String {
    format!("{schema}.{table}")
}

/// Whether a topic pattern (`*` matches any run of characters) matches a topic or
/// another pattern (two patterns match when one could produce what the other accepts).
pub(crate) fn topics_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    glob(a, b) || glob(b, a)
}

/// `pattern` (with `*`) against `text`, iteratively.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti] && p[pi] != '*') {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Supabase channels:
/// - a table in the `supabase_realtime` publication → `postgres_changes` listeners on it:
///   channel `supabase_realtime:<schema>.<table>` (a listener on `schema.*`, or a
///   publication of a schema or of all tables, joins every matching table's channel);
/// - Broadcast: `channel.send`/`httpSend`, `realtime.send`, `realtime.broadcast_changes`
///   → `.on('broadcast')` listeners of channels with a matching topic: channel
///   `supabase_realtime:<topic>` (patterns such as `room:*` match concrete topics);
/// - Edge functions: `functions.invoke(name)` and database webhooks to
///   `.../functions/v1/<name>` → the function: channel `supabase_edge:<name>`.
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    use serde_json::Value;
    let s = |f: &crate::Fact, k: &str| f.attr(k).and_then(Value::as_str).map(str::to_string);
    // Tables.
    let mut published: Vec<(&crate::Fact, String)> = Vec::new();
    let mut table_listeners: Vec<(&crate::Fact, String)> = Vec::new();
    // Broadcast topics.
    let mut senders: Vec<(&crate::Fact, String)> = Vec::new();
    let mut receivers: Vec<(&crate::Fact, String)> = Vec::new();
    for f in facts {
        match f.kind.as_str() {
            "sql_publication"
                if f.attr("realtime") == Some(&Value::Bool(true))
                    && s(f, "action").as_deref() != Some("drop") =>
            {
                if let Some(n) = &f.name {
                    published.push((f, if n == "*" { "*.*".into() } else { n.clone() }));
                }
            }
            "supabase_listen" => match s(f, "type").as_deref() {
                Some("postgres_changes") => {
                    if let Some(n) = &f.name {
                        table_listeners.push((f, n.clone()));
                    }
                }
                Some("broadcast") => {
                    if let Some(t) = s(f, "topic") {
                        receivers.push((f, t));
                    }
                }
                _ => {}
            },
            "supabase_broadcast_send" | "supabase_realtime_send" => {
                if let Some(n) = &f.name {
                    senders.push((f, n.clone()));
                }
            }
            "edge_function" => {
                if let Some(n) = &f.name {
                    linker.consumer(EDGE, n, None, f);
                }
            }
            "edge_function_invoke" => {
                if let Some(n) = &f.name {
                    linker.producer(EDGE, n, None, f);
                }
            }
            "supabase_db_webhook" => {
                if let Some(n) = s(f, "edge_function") {
                    linker.producer(EDGE, &n, None, f);
                }
            }
            _ => {}
        }
    }
    let concrete = |n: &str| !n.contains('*');
    // A channel per concrete table (and per pattern that matches nothing concrete).
    let mut tables: Vec<String> = published
        .iter()
        .chain(&table_listeners)
        .map(|(_, n)| n.clone())
        .filter(|n| concrete(n))
        .collect();
    tables.sort();
    tables.dedup();
    for (f, n) in &published {
        let hits: Vec<&String> = tables.iter().filter(|t| topics_match(n, t)).collect();
        if hits.is_empty() {
            linker.producer(REALTIME, n, None, f);
        }
        for t in hits {
            linker.producer(REALTIME, t, None, f);
        }
    }
    for (f, n) in &table_listeners {
        let hits: Vec<&String> = tables.iter().filter(|t| topics_match(n, t)).collect();
        if hits.is_empty() {
            linker.consumer(REALTIME, n, None, f);
        }
        for t in hits {
            linker.consumer(REALTIME, t, None, f);
        }
    }
    // Broadcast: a channel per listened topic; a sender joins every listened topic its
    // topic (or pattern) matches, or has a channel of its own when none does.
    let mut topics: Vec<String> = receivers.iter().map(|(_, n)| n.clone()).collect();
    topics.sort();
    topics.dedup();
    for (f, n) in &receivers {
        linker.consumer(REALTIME, n, None, f);
    }
    for (f, n) in &senders {
        let hits: Vec<&String> = topics.iter().filter(|t| topics_match(n, t)).collect();
        if hits.is_empty() {
            linker.producer(REALTIME, n, None, f);
        }
        for t in hits {
            linker.producer(REALTIME, t, None, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_function_names() {
        assert_eq!(
            edge_function_name("supabase/functions/stripe-webhook/index.ts").as_deref(),
            Some("stripe-webhook")
        );
        assert_eq!(
            edge_function_name("apps/x/supabase/functions/hello/index.js").as_deref(),
            Some("hello")
        );
        assert_eq!(
            edge_function_name("supabase/functions/_shared/index.ts"),
            None
        );
        assert_eq!(edge_function_name("supabase/functions/hello/util.ts"), None);
        assert_eq!(edge_function_name("src/functions/hello/index.ts"), None);
    }

    #[test]
    fn service_role_jwts_are_recognised() {
        // {"alg":"HS256","typ":"JWT"} . {"iss":"supabase","role":"service_role"} . sig
        let service = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJvbGUiOiJzZXJ2aWNlX3JvbGUifQ.c2ln";
        // {"iss":"supabase","role":"anon"}
        let anon =
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJvbGUiOiJhbm9uIn0.c2ln";
        assert!(jwt_is_service_role(service));
        assert!(!jwt_is_service_role(anon));
        assert!(!jwt_is_service_role("not a jwt"));
        assert_eq!(mask_secret(service), "eyJhbG…(redacted)");
    }
}

#[cfg(test)]
mod detect_tests {
    use std::time::Duration;

    use msgscan_lang::{FileParser, Language};

    fn facts(path: &str, src: &str) -> Vec<crate::Fact> {
        let lang = Language::from_path(std::path::Path::new(path)).unwrap();
        let parsed = FileParser::new(Duration::from_secs(5))
            .parse(lang, src)
            .unwrap();
        crate::detect(path, src, &parsed)
    }

    fn kinds(f: &[crate::Fact]) -> Vec<(&str, Option<&str>, u32)> {
        f.iter()
            .map(|f| (f.kind.as_str(), f.name.as_deref(), f.line))
            .collect()
    }

    #[test]
    fn subscribe_without_a_supabase_client_is_not_a_fact() {
        let src = "import { Subject } from 'rxjs'\nconst s = new Subject()\ns.subscribe()\nconst channel = socket.channel('room:1')\nchannel.on('broadcast', {}, f).subscribe()\n";
        assert!(facts("src/a.ts", src).is_empty());
        // With a Supabase import, a store's subscribe is still not a channel's.
        let src = "import { createClient } from '@supabase/supabase-js'\nconst store = { subscribe() {} }\nstore.subscribe()\n";
        assert!(facts("src/b.ts", src).is_empty());
    }

    #[test]
    fn bindings_resolve_per_function() {
        let src = "import { supabase } from '../lib/supabaseClient'\n\
                   export function a() {\n  const ch = supabase.channel('a')\n  ch.subscribe()\n}\n\
                   export function b() {\n  const ch = supabase.channel(`b:${id}`)\n  ch.on('presence', { event: 'sync' }, f)\n  ch.subscribe((s) => s === 'CHANNEL_ERROR' && retry())\n}\n";
        let got = facts("src/c.js", src);
        assert_eq!(
            kinds(&got),
            vec![
                ("supabase_channel", Some("a"), 3),
                ("supabase_channel", Some("b:*"), 7),
                ("supabase_subscribe", Some("a"), 4),
                ("supabase_listen", Some("sync"), 8),
                ("supabase_subscribe", Some("b:*"), 9),
            ]
        );
        let sub_b = &got[4];
        assert_eq!(sub_b.attr("handles_errors").unwrap(), true);
        assert_eq!(
            sub_b.attr("listens").unwrap(),
            &serde_json::json!(["presence"])
        );
    }

    #[test]
    fn edge_function_and_browser_service_role_key() {
        let src = "import { createClient } from 'jsr:@supabase/supabase-js@2'\n\
                   const sb = createClient(Deno.env.get('SUPABASE_URL')!, Deno.env.get('SUPABASE_SERVICE_ROLE_KEY')!)\n\
                   Deno.serve(async (req) => {\n  const { data } = await sb.auth.getUser(req.headers.get('Authorization')!)\n  return new Response('ok')\n})\n";
        let got = facts("supabase/functions/me/index.ts", src);
        let edge = got.iter().find(|f| f.kind == "edge_function").unwrap();
        assert_eq!(edge.name.as_deref(), Some("me"));
        assert_eq!(edge.attr("verifies_jwt").unwrap(), true);
        assert_eq!(edge.attr("reads_authorization").unwrap(), true);
        let client = got.iter().find(|f| f.kind == "supabase_client").unwrap();
        assert_eq!(client.attr("service_role").unwrap(), true);
        assert_eq!(client.attr("browser").unwrap(), false);

        let src = "import { createClient } from '@supabase/supabase-js'\nexport const sb = createClient(import.meta.env.VITE_SUPABASE_URL, import.meta.env.VITE_SUPABASE_SERVICE_ROLE_KEY)\n";
        let got = facts("src/supabase.js", src);
        assert_eq!(got[0].attr("service_role").unwrap(), true);
        assert_eq!(got[0].attr("browser").unwrap(), true);
    }
}

#[cfg(test)]
mod cleanup_tests {
    use std::time::Duration;

    use msgscan_lang::{FileParser, Language};

    fn channels(path: &str, src: &str) -> Vec<(Option<String>, bool, String)> {
        let lang = Language::from_path(std::path::Path::new(path)).unwrap();
        let parsed = FileParser::new(Duration::from_secs(5))
            .parse(lang, src)
            .unwrap();
        crate::detect(path, src, &parsed)
            .into_iter()
            .filter(|f| f.kind == "supabase_channel")
            .map(|f| {
                (
                    f.name.clone(),
                    f.attr("removed").unwrap().as_bool().unwrap(),
                    f.attr("scope").unwrap().as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn vue_unmount_and_react_refs_remove_channels() {
        let vue = "import { onMounted, onUnmounted } from 'vue'\nimport { supabase } from '@/lib/supabase'\nlet channel\nonMounted(() => {\n  channel = supabase.channel('feed').on('broadcast', { event: 'x' }, f).subscribe(cb)\n})\nonUnmounted(() => { supabase.removeChannel(channel) })\n";
        assert_eq!(
            channels("src/Feed.js", vue),
            vec![(Some("feed".into()), true, "effect".into())]
        );
        let react = "import { useEffect, useRef } from 'react'\nimport { supabase } from '../supabase'\nexport function Feed() {\n  const ref = useRef(null)\n  useEffect(() => {\n    ref.current = supabase.channel('feed').subscribe(cb)\n    return () => { if (ref.current) supabase.removeChannel(ref.current) }\n  }, [])\n  useEffect(() => {\n    const leak = supabase.channel('leak').subscribe(cb)\n    supabase.removeChannel(leak)\n  }, [])\n  useEffect(() => {\n    window.ch = supabase.channel('elsewhere').subscribe(cb)\n  }, [])\n  const stop = () => supabase.removeChannel(window.ch)\n}\n";
        assert_eq!(
            channels("src/Feed.tsx", react),
            vec![
                (Some("feed".into()), true, "effect".into()),
                // A one-shot channel removed in the effect body is released too.
                (Some("leak".into()), true, "effect".into()),
                // Removed by some handler, not when the effect re-runs or unmounts.
                (Some("elsewhere".into()), false, "effect".into()),
            ]
        );
    }
}
