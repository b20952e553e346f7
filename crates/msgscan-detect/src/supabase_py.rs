//! Supabase Realtime in Python (supabase-py and realtime-py): `client.channel(topic,
//! params)`, `.on_postgres_changes(event, callback, table=, schema=, filter=)`,
//! `.on_broadcast(event, callback)`, `.on_presence_sync/join/leave(callback)`,
//! `.subscribe(callback?)`, `.send_broadcast(event, payload)`, `.unsubscribe()`,
//! `client.remove_channel(ch)`, `client.remove_all_channels()`. Emits the same fact kinds as
//! the JavaScript detector ([`crate::supabase::KINDS`]).
//!
//! A client is a binding of `create_client(...)` / `await acreate_client(...)` (from
//! `supabase`) or `AsyncRealtimeClient(...)` / `RealtimeClient(...)` (from `realtime`), or,
//! in a file that imports either package, a receiver whose name contains `supabase`.

use std::collections::HashSet;
use std::ops::Range;

use msgscan_lang::Language;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::Role;
use crate::py;
use crate::supabase::{REALTIME, compact};

pub(crate) struct SupabasePy;

const CHANNEL_METHODS: &[&str] = &[
    "on_postgres_changes",
    "on_broadcast",
    "on_presence_sync",
    "on_presence_join",
    "on_presence_leave",
    "on_system",
    "subscribe",
    "send_broadcast",
    "unsubscribe",
    "track",
    "untrack",
];

impl Detector for SupabasePy {
    fn name(&self) -> &'static str {
        "supabase-py"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Python]
    }
    fn kinds(&self, _language: Language) -> &'static [&'static str] {
        &[
            "import_from_statement",
            "import_statement",
            "call",
            "function_definition",
            "for_statement",
            "while_statement",
            "return_statement",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        &["supabase", "realtime"]
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<PyVisitor>::default()
    }
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
    client: String,
    binding: Option<String>,
    /// The function (or module) the binding belongs to.
    binding_scope: Range<usize>,
    scope: &'static str,
    in_loop: bool,
    escapes_direct: bool,
}

/// A listener: (type, event, schema, table, filter).
type ListenSpec = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[derive(Debug)]
struct Call {
    at: Range<usize>,
    pos: usize,
    root: Root,
    method: String,
    /// (type, event, schema, table, filter) for listeners.
    listen: Option<ListenSpec>,
    has_callback: bool,
    callback_inline: bool,
    handles_errors: bool,
    send_event: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    ChanAt(usize),
    Name(String),
}

#[derive(Default)]
struct PyVisitor {
    imports_supabase: bool,
    factories: HashSet<String>,
    clients: HashSet<String>,
    chans: Vec<Chan>,
    calls: Vec<Call>,
    /// (target root, all, range, method); the range's start is the lookup position.
    removes: Vec<(Option<Root>, bool, Range<usize>, &'static str)>,
    /// Names returned or passed to other calls, with the position.
    escapes: Vec<(String, usize)>,
    funcs: Vec<(Range<usize>, u32)>,
}

fn dotted_text(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    py::dotted(node, cx).map(|p| p.join("."))
}

fn strip_await(node: Node<'_>) -> Node<'_> {
    let mut n = node;
    while matches!(n.kind(), "await" | "parenthesized_expression") {
        match n.named_child(0) {
            Some(c) => n = c,
            None => break,
        }
    }
    n
}

fn root_of(node: Node<'_>, cx: &FileCx<'_>) -> Option<Root> {
    let mut n = strip_await(node);
    loop {
        if n.kind() != "call" {
            return dotted_text(n, cx).map(Root::Name);
        }
        let f = n.field("function")?;
        if f.kind() != "attribute" {
            return None;
        }
        let m = cx.text(f.field("attribute")?);
        if m == "channel" {
            return Some(Root::ChanAt(n.start_byte()));
        }
        if !CHANNEL_METHODS.contains(&m) {
            return None;
        }
        n = strip_await(f.field("object")?);
    }
}

/// `f"room:{x}"` → `room:*`; plain strings as written.
fn topic_pattern(node: Node<'_>, cx: &FileCx<'_>) -> (Option<String>, bool) {
    if let Some(s) = py::string_value(node, cx) {
        return (Some(s), true);
    }
    if node.kind() != "string" {
        return (None, false);
    }
    let mut out = String::new();
    let mut c = node.walk();
    for child in node.children(&mut c) {
        match child.kind() {
            "string_content" | "escape_sequence" => out.push_str(cx.text(child)),
            "interpolation" if !out.ends_with('*') => out.push('*'),
            _ => {}
        }
    }
    (Some(out), false)
}

fn dict_get<'t>(dict: Node<'t>, key: &str, cx: &FileCx<'_>) -> Option<Node<'t>> {
    if dict.kind() != "dictionary" {
        return None;
    }
    let mut c = dict.walk();
    dict.named_children(&mut c)
        .filter(|p| p.kind() == "pair")
        .find(|p| {
            p.field("key")
                .and_then(|k| py::string_value(k, cx))
                .as_deref()
                == Some(key)
        })
        .and_then(|p| p.field("value"))
}

/// Where a method call's fact starts: at the method name.
fn method_start(call: Node<'_>) -> usize {
    call.field("function")
        .filter(|f| f.kind() == "attribute")
        .and_then(|f| f.field("attribute"))
        .map_or(call.start_byte(), |p| p.start_byte())
}

fn binding_of(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        match p.kind() {
            "await" | "parenthesized_expression" => n = p,
            "assignment" => {
                return p.field("left").and_then(|l| dotted_text(l, cx));
            }
            _ => return None,
        }
    }
    None
}

impl PyVisitor {
    fn is_client(&self, node: Node<'_>, cx: &FileCx<'_>) -> bool {
        let node = strip_await(node);
        let Some(path) = dotted_text(node, cx) else {
            return false;
        };
        self.clients.contains(&path)
            || self.imports_supabase
                && path
                    .split('.')
                    .any(|s| s.to_ascii_lowercase().contains("supabase"))
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let module = node
            .field("module_name")
            .map(|m| cx.text(m).to_string())
            .unwrap_or_default();
        let t = cx.text(node);
        if !(module.starts_with("supabase")
            || module.starts_with("realtime")
            || t.contains("supabase"))
        {
            return;
        }
        self.imports_supabase = true;
        for (o, l) in py::import_bindings(node, cx) {
            if matches!(
                o,
                "create_client"
                    | "acreate_client"
                    | "create_async_client"
                    | "AsyncRealtimeClient"
                    | "RealtimeClient"
            ) {
                self.factories.insert(l.to_string());
            }
        }
    }

    fn on_call(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        if let Some(path) = dotted_text(func, cx)
            && (self.factories.contains(&path)
                || path.ends_with(".create_client")
                || path.ends_with(".acreate_client"))
            && let Some(b) = binding_of(node, cx)
        {
            self.clients.insert(b);
        }
        let is_removal = func.kind() == "attribute"
            && func
                .field("attribute")
                .is_some_and(|a| matches!(cx.text(a), "remove_channel" | "remove_all_channels"));
        if !is_removal {
            for arg in py::positional(node) {
                if let Some(p) = dotted_text(arg, cx) {
                    self.escapes.push((p, node.start_byte()));
                }
            }
        }
        if func.kind() != "attribute" {
            return;
        }
        let (Some(obj), Some(attr)) = (func.field("object"), func.field("attribute")) else {
            return;
        };
        let method = cx.text(attr);
        let recv_is_client = |v: &Self| {
            let o = strip_await(obj);
            // `client.realtime.channel(...)`
            let o = if o.kind() == "attribute"
                && o.field("attribute")
                    .is_some_and(|a| cx.text(a) == "realtime")
            {
                o.field("object").unwrap_or(o)
            } else {
                o
            };
            v.is_client(o, cx)
        };
        match method {
            "channel" if recv_is_client(self) => self.on_channel(node, obj, cx),
            "remove_channel" | "remove_all_channels" if recv_is_client(self) => {
                let all = method == "remove_all_channels";
                let arg = py::positional(node).first().and_then(|a| root_of(*a, cx));
                self.removes.push((
                    arg,
                    all,
                    node.byte_range(),
                    if all {
                        "remove_all_channels"
                    } else {
                        "remove_channel"
                    },
                ));
            }
            m if CHANNEL_METHODS.contains(&m) => self.on_method(node, obj, m, cx),
            _ => {}
        }
    }

    fn on_channel(&mut self, node: Node<'_>, client: Node<'_>, cx: &FileCx<'_>) {
        let args = py::positional(node);
        let (topic, literal) = args
            .first()
            .map_or((None, false), |t| topic_pattern(*t, cx));
        let params = args
            .get(1)
            .copied()
            .or_else(|| py::kwarg(node, "params", cx));
        let config = params.and_then(|p| dict_get(p, "config", cx));
        let is_true = |n: Option<Node<'_>>| n.is_some_and(|v| cx.text(v) == "True");
        let broadcast = config.and_then(|c| dict_get(c, "broadcast", cx));
        let mut top = node;
        while let Some(attr) = cx.parent(top).filter(|p| p.kind() == "attribute")
            && attr
                .field("attribute")
                .is_some_and(|a| CHANNEL_METHODS.contains(&cx.text(a)))
            && let Some(call) = cx.parent(attr).filter(|p| p.kind() == "call")
        {
            top = call;
        }
        let escapes_direct = cx.parent(top).is_some_and(|p| {
            matches!(p.kind(), "return_statement" | "argument_list")
                || p.kind() == "await"
                    && cx.parent(p).is_some_and(|g| g.kind() == "return_statement")
        });
        self.chans.push(Chan {
            at: method_start(node)..node.end_byte(),
            start: node.start_byte(),
            topic,
            literal,
            topic_expr: args
                .first()
                .map(|t| compact(cx.text(*t)))
                .unwrap_or_default(),
            private: is_true(config.and_then(|c| dict_get(c, "private", cx))),
            broadcast_self: is_true(broadcast.and_then(|b| dict_get(b, "self", cx))),
            broadcast_ack: is_true(broadcast.and_then(|b| dict_get(b, "ack", cx))),
            client: compact(cx.text(client)),
            binding: binding_of(top, cx),
            binding_scope: match binding_of(top, cx) {
                Some(b) if b.contains('.') => 0..cx.text.len(),
                _ => self.funcs.last().map_or(0..cx.text.len(), |f| f.0.clone()),
            },
            scope: if self.funcs.is_empty() {
                "module"
            } else {
                "function"
            },
            in_loop: self.funcs.last().is_some_and(|f| f.1 > 0),
            escapes_direct,
        });
    }

    fn on_method(&mut self, node: Node<'_>, obj: Node<'_>, method: &str, cx: &FileCx<'_>) {
        let Some(root) = root_of(obj, cx) else {
            return;
        };
        let args = py::positional(node);
        let kw = |k: &str| py::kwarg(node, k, cx);
        let text_of = |n: Node<'_>| py::string_value(n, cx).unwrap_or_else(|| compact(cx.text(n)));
        let mut call = Call {
            at: method_start(node)..node.end_byte(),
            pos: node.start_byte(),
            root,
            method: method.to_string(),
            listen: None,
            has_callback: false,
            callback_inline: false,
            handles_errors: false,
            send_event: None,
        };
        match method {
            "on_postgres_changes" => {
                let event = args.first().copied().or_else(|| kw("event")).map(text_of);
                call.listen = Some((
                    "postgres_changes".into(),
                    event,
                    Some(kw("schema").map(text_of).unwrap_or_else(|| "public".into())),
                    Some(kw("table").map(text_of).unwrap_or_else(|| "*".into())),
                    kw("filter").map(text_of),
                ));
            }
            "on_broadcast" => {
                let event = args.first().copied().or_else(|| kw("event")).map(text_of);
                call.listen = Some(("broadcast".into(), event, None, None, None));
            }
            m if m.starts_with("on_presence_") => {
                let event = m.trim_start_matches("on_presence_").to_string();
                call.listen = Some(("presence".into(), Some(event), None, None, None));
            }
            "on_system" => call.listen = Some(("system".into(), None, None, None, None)),
            "subscribe" => {
                let cb = args.first().copied().or_else(|| kw("callback"));
                call.has_callback = cb.is_some();
                call.callback_inline = cb.is_some_and(|c| c.kind() == "lambda");
                call.handles_errors = cb.is_some_and(|c| {
                    let t = cx.text(c);
                    ["CHANNEL_ERROR", "TIMED_OUT", "CLOSED"]
                        .iter()
                        .any(|s| t.contains(s))
                });
            }
            "send_broadcast" => {
                call.send_event = Some(
                    args.first()
                        .copied()
                        .or_else(|| kw("event"))
                        .map(text_of)
                        .unwrap_or_default(),
                );
            }
            _ => {}
        }
        self.calls.push(call);
    }

    /// The channel a root names at `pos`: the `.channel()` call itself, or the latest
    /// binding of the name in scope before `pos` (`self.x` bindings are file-wide).
    fn resolve(&self, root: &Root, pos: usize) -> Option<usize> {
        match root {
            Root::ChanAt(s) => self.chans.iter().position(|c| c.start == *s),
            Root::Name(n) => self
                .chans
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.binding.as_deref() == Some(n.as_str())
                        && c.binding_scope.contains(&pos)
                        && (c.start <= pos || n.contains('.'))
                })
                .max_by_key(|(_, c)| c.start)
                .map(|(i, _)| i),
        }
    }
}

impl<'t> Visitor<'t> for PyVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_from_statement" | "import_statement" => self.on_import(node, cx),
            "call" => self.on_call(node, cx),
            "function_definition" => self.funcs.push((node.byte_range(), 0)),
            "for_statement" | "while_statement" => {
                if let Some(f) = self.funcs.last_mut() {
                    f.1 += 1;
                }
            }
            "return_statement" => {
                if let Some(v) = node.named_child(0).and_then(|v| dotted_text(v, cx)) {
                    self.escapes.push((v, node.start_byte()));
                }
            }
            _ => {}
        }
    }

    fn leave(&mut self, node: Node<'t>, _cx: &mut FileCx<'t>) {
        match node.kind() {
            "function_definition"
                if self.funcs.last().is_some_and(|f| f.0 == node.byte_range()) =>
            {
                self.funcs.pop();
            }
            "for_statement" | "while_statement" => {
                if let Some(f) = self.funcs.last_mut() {
                    f.1 = f.1.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        let n = self.chans.len();
        let resolved: Vec<Option<usize>> = self
            .calls
            .iter()
            .map(|c| self.resolve(&c.root, c.pos))
            .collect();
        let mut listens: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut subscribed = vec![false; n];
        let mut sends = vec![false; n];
        let mut removed = vec![false; n];
        for (c, i) in self.calls.iter().zip(&resolved) {
            let Some(i) = *i else { continue };
            if let Some(l) = &c.listen
                && !listens[i].contains(&l.0)
            {
                listens[i].push(l.0.clone());
            }
            match c.method.as_str() {
                "subscribe" => subscribed[i] = true,
                "send_broadcast" => sends[i] = true,
                "unsubscribe" => removed[i] = true,
                _ => {}
            }
        }
        let targets: Vec<Option<usize>> = self
            .removes
            .iter()
            .map(|r| r.0.as_ref().and_then(|a| self.resolve(a, r.2.start)))
            .collect();
        for (r, t) in self.removes.iter().zip(&targets) {
            for (i, flag) in removed.iter_mut().enumerate() {
                if r.1 || *t == Some(i) {
                    *flag = true;
                }
            }
        }
        for (i, ch) in self.chans.iter().enumerate() {
            let escapes = ch.escapes_direct
                || ch.binding.as_ref().is_some_and(|b| {
                    self.escapes
                        .iter()
                        .any(|(e, pos)| e == b && *pos > ch.start && ch.binding_scope.contains(pos))
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
        for (c, i) in self.calls.iter().zip(&resolved) {
            let Some(i) = *i else { continue };
            let ch = &self.chans[i];
            if let Some((kind, event, schema, table, filter)) = &c.listen {
                let name = if kind == "postgres_changes" {
                    Some(crate::supabase::exact_table(
                        schema.as_deref().unwrap_or("public"),
                        table.as_deref().unwrap_or("*"),
                    ))
                } else {
                    event.clone()
                };
                let mut fact = cx
                    .fact_range("supabase_listen", REALTIME, Role::Consumer, c.at.clone())
                    .name_opt(name)
                    .attr("type", kind.clone())
                    .attr_opt("event", event.clone())
                    .attr_opt("topic", ch.topic.clone())
                    .attr("private", ch.private);
                if kind == "postgres_changes" {
                    fact = fact
                        .attr_opt("schema", schema.clone())
                        .attr_opt("table", table.clone())
                        .attr_opt("filter", filter.clone())
                        .attr("has_filter", filter.is_some());
                }
                cx.emit(fact);
                continue;
            }
            let fact = match c.method.as_str() {
                "subscribe" => cx
                    .fact_range("supabase_subscribe", REALTIME, Role::Consumer, c.at.clone())
                    .name_opt(ch.topic.clone())
                    .attr("has_callback", c.has_callback)
                    .attr("callback_inline", c.callback_inline)
                    .attr("handles_errors", c.handles_errors)
                    .attr("listens", listens[i].clone())
                    .attr("private", ch.private),
                "send_broadcast" => cx
                    .fact_range(
                        "supabase_broadcast_send",
                        REALTIME,
                        Role::Producer,
                        c.at.clone(),
                    )
                    .name_opt(ch.topic.clone())
                    .attr_opt("event", c.send_event.clone())
                    .attr("method", "send_broadcast")
                    .attr("subscribed", subscribed[i])
                    .attr("private", ch.private),
                "unsubscribe" => cx
                    .fact_range(
                        "supabase_remove_channel",
                        REALTIME,
                        Role::Config,
                        c.at.clone(),
                    )
                    .name_opt(ch.topic.clone())
                    .attr("method", "unsubscribe")
                    .attr("all", false),
                _ => continue,
            };
            cx.emit(fact);
        }
        for (r, t) in self.removes.iter().zip(&targets) {
            let fact = cx
                .fact_range(
                    "supabase_remove_channel",
                    REALTIME,
                    Role::Config,
                    r.2.clone(),
                )
                .name_opt(t.and_then(|i| self.chans[i].topic.clone()))
                .attr("method", r.3)
                .attr("all", r.1);
            cx.emit(fact);
        }
    }
}
