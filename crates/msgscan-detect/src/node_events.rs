//! Node.js EventEmitter: classes, instances, listeners, emits and settings, in JavaScript,
//! TypeScript and TSX.
//!
//! An emitter is recognised through what the file imports: `events` / `node:events`
//! (`import { EventEmitter }`, default and namespace imports, `require`, destructuring,
//! `.EventEmitter` off the module) and `eventemitter3`; subclasses (`extends`, also of other
//! emitter classes of the file, and `util.inherits(X, EventEmitter)`). Listeners and emits
//! are facts only when their receiver is such an emitter (a binding of an instance, `this`
//! inside an emitter class, `process`, or an emitter-named import from a relative module),
//! so `$emit` on a Vue component or `.on('click')` on a DOM node are not mistaken for them.

use std::collections::{HashMap, HashSet};

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::js;
use crate::node_runtime::{
    call_follows, has_ident, ident_at, ident_byte, import_source_at, method_call_with, preceded_by,
    segment_len, skip_space, starts_with_word, string_at,
};
use crate::prefilter::{Candidate, Words};

pub(crate) struct NodeEvents;

const TRANSPORT: &str = "node_events";

const LISTEN_METHODS: &[&str] = &[
    "on",
    "once",
    "addListener",
    "prependListener",
    "prependOnceListener",
];

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "emitter_class",
        transport: TRANSPORT,
        doc: "A class that is an EventEmitter (`extends EventEmitter`, `util.inherits`). Name: the class.",
        attrs: attrs! {
        "extends": String = "the base class as written",
        "via": String = "`extends` or `util.inherits`",
        "emits_error": Bool = "the class emits `'error'` on `this`",
        "listens_error": Bool = "the class listens for `'error'` on `this`",
        },
    },
    KindSpec {
        kind: "emitter_instance",
        transport: TRANSPORT,
        doc: "`new EventEmitter()` or `new` of an emitter class. Name: the binding (`bus`, `this.bus`), if any.",
        attrs: attrs! {
        "class": String = "the class instantiated",
        "capture_rejections": Bool = "created with `{ captureRejections: true }` or the file sets it globally",
        "has_error_listener": Bool = "an `'error'` listener is added on the binding (or by the class)",
        "emits_error": Bool = "`'error'` is emitted on the binding (or by the class)",
        },
    },
    KindSpec {
        kind: "emitter_listen",
        transport: TRANSPORT,
        doc: "`.on/.once/.addListener/.prependListener(event, fn)` on an emitter. Name: the event.",
        attrs: attrs! {
        "method": String = "the method called",
        "receiver": String = "the emitter as written (`bus`, `this`)",
        "emitter": String = "the emitter's identity: its binding, or the class for `this`",
        "literal": Bool = "the event name is a string literal",
        "handler_async": Bool = "the handler is an `async` function",
        "handler_unguarded_await": Bool = "the async handler awaits outside any `try` block",
        "capture_rejections": Bool = "rejections of async handlers are captured on this emitter",
        "in_handler": String = "the innermost per-request / per-message handler the listener is added in (`route`, `server`, `request`, `connection`, `message`, `interval`); absent if none",
        "in_loop": Bool = "the listener is added once per iteration of a loop",
        "emitter_local": Bool = "the emitter is created inside that same handler or loop (it dies with it)",
        "removed": Bool = "an `.off/.removeListener` of the same event (or `.removeAllListeners`) on the same emitter follows in that handler or loop",
        "handler_exits": Bool = "`process.on('uncaughtException', fn)`: `fn` ends the process (`process.exit`, rethrow, a shutdown function); absent when `fn` is not in the file",
        },
    },
    KindSpec {
        kind: "emitter_emit",
        transport: TRANSPORT,
        doc: "`.emit(event, ...)` on an emitter. Name: the event.",
        attrs: attrs! {
        "receiver": String = "the emitter as written",
        "emitter": String = "the emitter's identity",
        "literal": Bool = "the event name is a string literal",
        },
    },
    KindSpec {
        kind: "emitter_config",
        transport: TRANSPORT,
        doc: "An emitter setting: `setMaxListeners(n)` (name `max_listeners`), `defaultMaxListeners = n` (`default_max_listeners`), `captureRejections = true` (`capture_rejections`).",
        attrs: attrs! {
        "value": Value = "the value (a number when literal)",
        "value_text": String = "the value as written (`0`, `Infinity`)",
        "receiver": String = "the emitter or module it is set on",
        },
    },
];

impl Detector for NodeEvents {
    fn name(&self) -> &'static str {
        "node-events"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::JavaScript, Language::TypeScript, Language::Tsx]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "variable_declarator",
            "class_declaration",
            "abstract_class_declaration",
            "class",
            "new_expression",
            "call_expression",
            "assignment_expression",
            "await_expression",
            "statement_block",
            "function_expression",
            "function_declaration",
            "arrow_function",
            "method_definition",
            "generator_function",
            "generator_function_declaration",
            "function",
        ]
    }
    /// Every fact needs one of these (see [`NodeEvents::admits`] for what else): the module
    /// string (`events`, `eventemitter3`), `setMaxListeners`, the receiver `process` (also
    /// `process.emit(`, `process . on(`), or a relative import (`'./bus'`).
    fn needles(&self) -> &'static [&'static str] {
        &[
            "events",
            "eventemitter",
            "MaxListeners",
            "process",
            // RELATIVE
            "'.",
            "\".",
            "`.",
            "'@/",
            "\"@/",
            "`@/",
            "'~/",
            "\"~/",
            "`~/",
        ]
    }
    /// A disjunction over the emission paths, each a conjunction of what its facts need:
    /// - `emitter_config` `max_listeners`: a call of the method `setMaxListeners`, on any
    ///   receiver;
    /// - everything built on the EventEmitter class (`emitter_class`, `emitter_instance`,
    ///   the other `emitter_config`s, listens and emits on an instance's binding or on
    ///   `this` in an emitter class): an imported `events` / `eventemitter3` module whose
    ///   binding heads a `new` or `extends`, or `inherits`, `defaultMaxListeners`,
    ///   `captureRejections` ([`emitter_class_use`]);
    /// - `emitter_listen` / `emitter_emit` on `process`: `process` followed by a call of a
    ///   listen method or `emit` ([`receiver_call`]);
    /// - the same on an emitter-named import of a relative module: the import, and the
    ///   name followed by such a call ([`imported_emitter`]).
    fn admits(&self, file: &Candidate<'_>) -> bool {
        let text = file.text;
        let max_listeners = || {
            file.has("MaxListeners")
                && method_call_with(text, "setMaxListeners", &|arg| !arg.starts_with(')'))
        };
        let emitter_class =
            || (file.has("events") || file.has("eventemitter")) && emitter_class_use(text);
        let process = || {
            file.has("process")
                && ident_at(text, "process")
                    .any(|at| receiver_call(&text[..at], &text[at + "process".len()..], true))
        };
        let relative = || file.any(RELATIVE) && imported_emitter(text);
        max_listeners() || emitter_class() || process() || relative()
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<EventsVisitor>::default()
    }
}

struct Func {
    start: usize,
    end: usize,
    listener: Option<usize>,
    try_depth: u32,
    unguarded_await: bool,
}

struct Class {
    start: usize,
    end: usize,
    name: Option<String>,
    emitter: bool,
}

struct Instance {
    at: std::ops::Range<usize>,
    binding: Option<String>,
    class: String,
    capture_rejections: bool,
}

struct Use {
    at: std::ops::Range<usize>,
    /// The receiver as written.
    receiver: String,
    /// The emitter class when the receiver is `this` inside one.
    this_class: Option<String>,
    event: Option<String>,
    literal: bool,
    method: String,
    handler_async: bool,
    unguarded_await: bool,
    /// The innermost per-request / per-message handler the call is in.
    in_handler: Option<&'static str>,
    /// Where the emitter must be created to count as local, and removals must be: the
    /// outermost handler, else the loop.
    scope: Option<std::ops::Range<usize>>,
    in_loop: bool,
    /// For `process.on('uncaughtException', fn)`: whether `fn` ends the process.
    handler_exits: Option<bool>,
}

/// `.off/.removeListener/.removeAllListeners(event?)` on a receiver.
struct Removal {
    at: usize,
    receiver: String,
    event: Option<String>,
}

#[derive(Default)]
struct EventsVisitor {
    /// Local names that denote the EventEmitter class.
    ee_class: HashSet<String>,
    /// Local names that denote the `events` module (`events.EventEmitter`).
    ee_module: HashSet<String>,
    /// Names imported from relative modules that look like emitters (`bus`, `orderEvents`).
    imported_emitters: HashSet<String>,
    /// Emitter classes of this file: name → (emits `'error'` on `this`, listens to it).
    classes: HashMap<String, (bool, bool)>,
    /// Where each emitter class is declared: (name, range, base, via).
    class_defs: Vec<(String, std::ops::Range<usize>, String, &'static str)>,
    class_stack: Vec<Class>,
    funcs: Vec<Func>,
    /// Handler function start byte → index into `listens`.
    pending_handlers: HashMap<usize, usize>,
    instances: Vec<Instance>,
    listens: Vec<Use>,
    emits: Vec<Use>,
    removals: Vec<Removal>,
    /// Functions declared with a name in this file (for handlers passed by name).
    functions: HashMap<String, std::ops::Range<usize>>,
    capture_rejections_global: bool,
}

/// Whether the EventEmitter class of an imported `events` / `eventemitter3` module may be
/// used where a fact needs it: `util.inherits(...)`, `X.defaultMaxListeners =`,
/// `X.captureRejections =`, or a name bound by the import (see [`binds_from`]) that heads
/// the class after `new` or `extends` (classes of the file count through their own
/// `extends`).
fn emitter_class_use(text: &str) -> bool {
    let mut sources: Vec<usize> = ["events", "node:events", "eventemitter3"]
        .iter()
        .flat_map(|m| string_at(text, m))
        .filter(|&at| import_source_at(text, at))
        .collect();
    if sources.is_empty() {
        return false;
    }
    sources.sort_unstable();
    ["inherits", "defaultMaxListeners", "captureRejections"]
        .iter()
        .any(|w| has_ident(text, w))
        || {
            let heads: HashSet<&str> = ["new", "extends"]
                .iter()
                .flat_map(|kw| ident_at(text, kw).map(move |at| at + kw.len()))
                .map(|after| {
                    let mut rest = skip_space(&text[after..]);
                    while let Some(r) = rest.strip_prefix('(') {
                        rest = skip_space(r);
                    }
                    &rest[..segment_len(rest)]
                })
                .filter(|head| !head.is_empty())
                .collect();
            // A binding comes before its source.
            let bound_in = &text[..sources[sources.len() - 1]];
            heads.iter().any(|head| {
                ident_at(bound_in, head).any(|p| binds_from(text, p + head.len(), &sources))
            })
        }
}

/// Whether a listen or emit on an emitter-named import of a relative module may occur:
/// a name that [`looks_like_emitter_name`] may be bound by an import or `require` of a
/// relative module (`import bus from './bus'`, see [`binds_from`]), and is followed
/// elsewhere by a call of a listen method or `emit` ([`receiver_call`]).
fn imported_emitter(text: &str) -> bool {
    // The endings of `looks_like_emitter_name` (`eventhub` ends with `hub`).
    const ENDINGS: &[&str] = &["emitter", "bus", "events", "hub"];
    static EMITTER: Words = Words::new(ENDINGS);
    let bytes = text.as_bytes();
    let mut occurrences = EMITTER.find_in(text).peekable();
    if occurrences.peek().is_some_and(|r| {
        !ENDINGS
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&text[r.clone()]))
    }) {
        return true; // the automaton could not be built
    }
    // Names ending like an emitter, where they start.
    let names: Vec<(&str, usize)> = occurrences
        .filter(|r| !bytes.get(r.end).is_some_and(|b| ident_byte(*b)))
        .map(|r| {
            let start = text[..r.start]
                .bytes()
                .rev()
                .take_while(|b| ident_byte(*b))
                .count();
            (&text[r.start - start..r.end], r.start - start)
        })
        .collect();
    let receivers: HashSet<&str> = names
        .iter()
        .filter(|(name, at)| receiver_call(&text[..*at], &text[at + name.len()..], false))
        .map(|(name, _)| *name)
        .collect();
    if receivers.is_empty() {
        return false;
    }
    // Relative import sources.
    let sources: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|&(at, &q)| {
            matches!(q, b'\'' | b'"' | b'`')
                && (bytes[at + 1..].starts_with(b".")
                    || bytes[at + 1..].starts_with(b"@/")
                    || bytes[at + 1..].starts_with(b"~/"))
                && import_source_at(text, at)
        })
        .map(|(at, _)| at)
        .collect();
    // A binding comes before its source.
    let Some(&last) = sources.last() else {
        return false;
    };
    names.iter().any(|(name, at)| {
        *at < last && receivers.contains(name) && binds_from(text, at + name.len(), &sources)
    })
}

/// Whether a name ending at `end` may be bound by an import or `require` of one of the
/// module `sources` (positions of their string literals, sorted): `import x from 'm'`,
/// `import * as x from`, `import { a as x, b } from`, `import x, {`, `const x = require(`,
/// `const { a: x } = require(`, TypeScript `import x = require(`. That is: a `,`, `}`, `=`
/// or `from` follows the name, and the next string literal (past string keys and import
/// names, `'a': x`, `'a' as x`) is a source. A type annotation (`const x: T = require(`) is
/// admitted if a source follows at all, and so is a scan that runs long.
fn binds_from(text: &str, end: usize, sources: &[usize]) -> bool {
    let rest = skip_space(&text[end..]);
    if rest.starts_with(':') {
        return sources.last().is_some_and(|&s| s > end);
    }
    if !(rest.starts_with([',', '}', '=']) || starts_with_word(rest, "from")) {
        return false;
    }
    let mut at = text.len() - rest.len();
    loop {
        at = text.len() - skip_space(&text[at..]).len();
        if at > end + 4096 {
            return true;
        }
        let Some(&b) = text.as_bytes().get(at) else {
            return false;
        };
        if matches!(b, b'\'' | b'"' | b'`') {
            if sources.binary_search(&at).is_ok() {
                return true;
            }
            // Another string: a key or an import name goes on, anything else ends it.
            let Some(close) = string_end(text, at) else {
                return false;
            };
            let after = skip_space(&text[close..]);
            if !(after.starts_with(':') || starts_with_word(after, "as")) {
                return false;
            }
            at = close;
        } else {
            let len = segment_len(&text[at..]).max(1);
            at += len;
            while !text.is_char_boundary(at) {
                at += 1;
            }
        }
    }
}

/// The end (past the closing quote) of the string literal whose quote is at `at`.
fn string_end(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let q = bytes[at];
    let mut i = at + 1;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            i += 2;
        } else if b == q {
            return Some(i + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// Whether the text after the head of a receiver (`rest`; `before` is the text before it)
/// may be a listen or emit on it: `.a.b.on(event` (just `.on(event` if `direct`), also with
/// `?.`, and past wrappers of the head: `(bus).on(`, `bus!.on(`, and when the head follows
/// `(`, `(bus as any).on(` (admitted whatever follows `as` / `satisfies`).
fn receiver_call(before: &str, rest: &str, direct: bool) -> bool {
    let mut rest = skip_space(rest);
    loop {
        if let Some(r) = rest.strip_prefix([')', '!']) {
            rest = skip_space(r);
            continue;
        }
        if starts_with_word(rest, "as") || starts_with_word(rest, "satisfies") {
            return preceded_by(before, &|t| t.ends_with(['(', '>']));
        }
        let Some(r) = rest.strip_prefix("?.").or_else(|| rest.strip_prefix('.')) else {
            return false;
        };
        let r = skip_space(r);
        let len = segment_len(r);
        if len == 0 {
            return false;
        }
        if ALL_METHODS.contains(&&r[..len]) && call_follows(&r[len..], &|arg| !arg.starts_with(')'))
        {
            return true;
        }
        if direct {
            return false;
        }
        rest = skip_space(&r[len..]);
    }
}

/// How a relative module specifier starts (as [`EventsVisitor::bind_import`] sees it), its
/// quote included: needles.
const RELATIVE: &[&str] = &[
    "'.", "\".", "`.", "'@/", "\"@/", "`@/", "'~/", "\"~/", "`~/",
];

/// The methods whose calls are listens or emits.
const ALL_METHODS: &[&str] = &[
    "on",
    "once",
    "addListener",
    "prependListener",
    "prependOnceListener",
    "emit",
];

fn is_events_module(spec: &str) -> bool {
    matches!(spec, "events" | "node:events" | "eventemitter3")
}

fn looks_like_emitter_name(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    ["emitter", "bus", "events", "eventhub", "hub"]
        .iter()
        .any(|s| l.ends_with(s))
}

impl EventsVisitor {
    fn is_ee_ctor(&self, node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
        let node = js::unwrap_expr(node);
        let path = js::member_path(node, cx)?;
        if self.ee_class.contains(&path) || self.classes.contains_key(&path) {
            return Some(path);
        }
        if let Some((module, prop)) = path.split_once('.')
            && self.ee_module.contains(module)
            && matches!(
                prop,
                "EventEmitter" | "default" | "EventEmitter.EventEmitter"
            )
        {
            return Some(path);
        }
        None
    }

    fn bind_import(&mut self, local: &str, imported: Option<&str>, source: &str) {
        if is_events_module(source) {
            match imported {
                // default import / require: the module is the EventEmitter class itself.
                None | Some("default") => {
                    self.ee_class.insert(local.to_string());
                    self.ee_module.insert(local.to_string());
                }
                Some("EventEmitter") => {
                    self.ee_class.insert(local.to_string());
                }
                Some("*") => {
                    self.ee_module.insert(local.to_string());
                    if source == "eventemitter3" {
                        self.ee_class.insert(local.to_string());
                    }
                }
                _ => {}
            }
        } else if (source.starts_with('.') || source.starts_with("@/") || source.starts_with("~/"))
            && looks_like_emitter_name(local)
        {
            self.imported_emitters.insert(local.to_string());
        }
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(source) = node.field("source").and_then(|s| js::string_value(s, cx)) else {
            // TS `import EE = require('events')`
            let mut c = node.walk();
            for child in node.named_children(&mut c) {
                if child.kind() == "import_require_clause" {
                    let id = child.named_child(0);
                    let src = child.field("source").and_then(|s| js::string_value(s, cx));
                    if let (Some(id), Some(src)) = (id, src) {
                        self.bind_import(cx.text(id), None, &src);
                    }
                }
            }
            return;
        };
        for (local, imported) in js::import_bindings(node, cx) {
            self.bind_import(local, imported, &source);
        }
    }

    /// `require('events')`, possibly followed by `.EventEmitter`.
    fn require_of<'a>(&self, node: Node<'_>, cx: &FileCx<'a>) -> Option<(String, Option<&'a str>)> {
        let node = js::unwrap_expr(node);
        match node.kind() {
            "call_expression" => {
                let f = node.field("function")?;
                if cx.text(f) != "require" {
                    return None;
                }
                let arg = js::arguments(node).into_iter().next()?;
                Some((js::string_value(arg, cx)?, None))
            }
            "member_expression" => {
                let (src, _) = self.require_of(node.field("object")?, cx)?;
                Some((src, Some(cx.text(node.field("property")?))))
            }
            _ => None,
        }
    }

    fn on_declarator(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        let Some((source, prop)) = self.require_of(value, cx) else {
            return;
        };
        match name.kind() {
            "identifier" => self.bind_import(cx.text(name), prop, &source),
            "object_pattern" => {
                let mut c = name.walk();
                for p in name.named_children(&mut c) {
                    match p.kind() {
                        "shorthand_property_identifier_pattern" => {
                            self.bind_import(cx.text(p), Some(cx.text(p)), &source)
                        }
                        "pair_pattern" => {
                            let (Some(k), Some(v)) = (p.field("key"), p.field("value")) else {
                                continue;
                            };
                            self.bind_import(cx.text(v), Some(cx.text(k)), &source);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn on_class(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let name_node = node.field("name");
        let name = name_node.map(|n| cx.text(n).to_string());
        let mut base = None;
        let mut c = node.walk();
        if let Some(heritage) = node
            .named_children(&mut c)
            .find(|n| n.kind() == "class_heritage")
        {
            let mut hc = heritage.walk();
            for h in heritage.named_children(&mut hc) {
                let expr = if h.kind() == "extends_clause" {
                    h.field("value").or_else(|| h.named_child(0))
                } else if h.kind() == "implements_clause" {
                    None
                } else {
                    Some(h)
                };
                if let Some(e) = expr
                    && let Some(b) = self.is_ee_ctor(e, cx)
                {
                    base = Some(b);
                }
            }
        }
        let emitter = base.is_some();
        if let (Some(b), Some(n)) = (&base, &name) {
            self.classes.insert(n.clone(), (false, false));
            let at = name_node.unwrap_or(node).byte_range();
            self.class_defs.push((n.clone(), at, b.clone(), "extends"));
        }
        self.class_stack.push(Class {
            start: node.start_byte(),
            end: node.end_byte(),
            name,
            emitter,
        });
    }

    fn this_class(&self) -> Option<String> {
        // `this` inside an arrow function still refers to the class; inside a plain
        // `function` it does not, but classes rarely nest those around emits.
        self.class_stack
            .last()
            .filter(|c| c.emitter)
            .and_then(|c| c.name.clone())
    }

    fn on_new(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(ctor) = node.field("constructor") else {
            return;
        };
        let Some(class) = self.is_ee_ctor(ctor, cx) else {
            return;
        };
        let options = js::arguments(node).into_iter().next();
        let capture = options
            .and_then(|o| js::object_property(o, "captureRejections", cx))
            .is_some_and(|v| cx.text(v) == "true");
        let binding = js::binding_of(node, cx);
        self.instances.push(Instance {
            at: node.byte_range(),
            binding,
            class,
            capture_rejections: capture,
        });
    }

    fn on_call(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        let func = js::unwrap_expr(func);
        // util.inherits(Ctor, EventEmitter)
        if let Some(path) = js::member_path(func, cx)
            && (path == "util.inherits" || path == "inherits")
        {
            let args = js::arguments(node);
            if let (Some(ctor), Some(base)) = (args.first(), args.get(1))
                && let Some(b) = self.is_ee_ctor(*base, cx)
            {
                let name = cx.text(*ctor).to_string();
                self.classes.entry(name.clone()).or_insert((false, false));
                self.class_defs
                    .push((name, node.byte_range(), b, "util.inherits"));
            }
            return;
        }
        if func.kind() != "member_expression" {
            return;
        }
        let (Some(obj), Some(prop)) = (func.field("object"), func.field("property")) else {
            return;
        };
        let method = cx.text(prop);
        if matches!(method, "off" | "removeListener" | "removeAllListeners") {
            if let Some(receiver) = js::member_path(obj, cx) {
                let event = js::arguments(node)
                    .first()
                    .and_then(|a| js::string_value(*a, cx));
                self.removals.push(Removal {
                    at: node.start_byte(),
                    receiver,
                    event,
                });
            }
            return;
        }
        let is_listen = LISTEN_METHODS.contains(&method);
        if !is_listen && method != "emit" && method != "setMaxListeners" {
            return;
        }
        let Some(receiver) = js::member_path(obj, cx) else {
            return;
        };
        let args = js::arguments(node);
        if method == "setMaxListeners" {
            let Some(v) = args.first() else { return };
            let fact = cx
                .fact("emitter_config", TRANSPORT, Role::Config, node)
                .name("max_listeners")
                .attr("value", number_or_expr(*v, cx))
                .attr("value_text", cx.text(*v))
                .attr("receiver", receiver);
            cx.emit(fact);
            return;
        }
        let Some(event_node) = args.first().copied() else {
            return;
        };
        let literal = js::string_value(event_node, cx);
        let (event, is_literal) = match literal {
            Some(s) => (Some(s), true),
            None => (js::member_path(event_node, cx), false),
        };
        let this_class = if receiver == "this" {
            self.this_class()
        } else {
            None
        };
        let mut u = Use {
            at: node.start_byte()..event_node.end_byte(),
            receiver,
            this_class,
            event,
            literal: is_literal,
            method: method.to_string(),
            handler_async: false,
            unguarded_await: false,
            in_handler: None,
            scope: None,
            in_loop: false,
            handler_exits: None,
        };
        if is_listen {
            let handlers = js::enclosing_handlers(node, cx);
            let loop_node = js::loop_of(node, cx);
            u.in_handler = handlers.first().map(|h| h.0);
            u.in_loop = loop_node.is_some();
            u.scope = handlers
                .last()
                .map(|h| h.1.byte_range())
                .or_else(|| loop_node.map(|l| l.byte_range()));
            if u.receiver == "process" && u.event.as_deref() == Some("uncaughtException") {
                u.handler_exits = args.get(1).and_then(|h| {
                    let h = js::unwrap_expr(*h);
                    if js::is_function(h) {
                        Some(ends_process(cx.text(h)))
                    } else if h.kind() == "identifier" {
                        self.functions
                            .get(cx.text(h))
                            .map(|r| ends_process(cx.text.get(r.clone()).unwrap_or_default()))
                    } else {
                        None
                    }
                });
            }
            if let Some(handler) = args.get(1).map(|h| js::unwrap_expr(*h))
                && js::is_function(handler)
                && js::is_async(handler)
            {
                u.handler_async = true;
                self.pending_handlers
                    .insert(handler.start_byte(), self.listens.len());
            }
            self.listens.push(u);
        } else {
            self.emits.push(u);
        }
    }

    fn on_assignment(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let (Some(left), Some(right)) = (node.field("left"), node.field("right")) else {
            return;
        };
        let Some(path) = js::member_path(left, cx) else {
            return;
        };
        let Some((obj, prop)) = path.rsplit_once('.') else {
            return;
        };
        if !(self.ee_class.contains(obj) || self.ee_module.contains(obj)) {
            return;
        }
        let name = match prop {
            "defaultMaxListeners" => "default_max_listeners",
            "captureRejections" => {
                if cx.text(right) == "true" {
                    self.capture_rejections_global = true;
                }
                "capture_rejections"
            }
            _ => return,
        };
        let fact = cx
            .fact("emitter_config", TRANSPORT, Role::Config, node)
            .name(name)
            .attr("value", number_or_expr(right, cx))
            .attr("value_text", cx.text(right))
            .attr("receiver", obj);
        cx.emit(fact);
    }

    /// Whether the emitter of a listener added in a handler or loop is created inside that
    /// same handler or loop (so it dies with it).
    fn emitter_local(&self, u: &Use) -> bool {
        let Some(scope) = &u.scope else {
            return false;
        };
        self.instances.iter().any(|i| {
            i.binding.as_deref() == Some(u.receiver.as_str())
                && i.at.start >= scope.start
                && i.at.end <= scope.end
        })
    }

    /// Whether the listener is removed again: an `.off/.removeListener` of the same event,
    /// or `.removeAllListeners()`, on the same receiver within the handler or loop's
    /// function (the file for module-level loops).
    fn removed(&self, u: &Use) -> bool {
        let scope = u.scope.clone().unwrap_or(0..usize::MAX);
        self.removals.iter().any(|r| {
            r.receiver == u.receiver
                && (r.event.is_none() || r.event == u.event)
                && (r.at >= scope.start && r.at < scope.end || u.scope.is_none())
        })
    }

    /// The emitter identity of a use, if its receiver is a known emitter.
    fn emitter_of(&self, u: &Use, bindings: &HashSet<&str>) -> Option<String> {
        if let Some(class) = &u.this_class {
            return Some(class.clone());
        }
        if bindings.contains(u.receiver.as_str())
            || u.receiver == "process"
            || self
                .imported_emitters
                .contains(u.receiver.split('.').next().unwrap_or_default())
        {
            return Some(u.receiver.clone());
        }
        None
    }
}

/// Whether a handler's text ends the process: `process.exit(...)`, `process.abort()`,
/// `process.kill(...)`, a rethrow, or a call of a shutdown-like function.
fn ends_process(text: &str) -> bool {
    if ["process.exit", "process.abort", "process.kill", "throw "]
        .iter()
        .any(|s| text.contains(s))
    {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    [
        "shutdown(",
        "exit(",
        "terminate(",
        "die(",
        "crash(",
        "abort(",
    ]
    .iter()
    .any(|s| lower.contains(s))
}

fn number_or_expr(node: Node<'_>, cx: &FileCx<'_>) -> Value {
    let t = cx.text(node);
    t.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| crate::py::expr(t))
}

impl<'t> Visitor<'t> for EventsVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" => self.on_import(node, cx),
            "variable_declarator" => self.on_declarator(node, cx),
            "class_declaration" | "abstract_class_declaration" | "class" => self.on_class(node, cx),
            "new_expression" => self.on_new(node, cx),
            "call_expression" => self.on_call(node, cx),
            "assignment_expression" => self.on_assignment(node, cx),
            "await_expression" => {
                if let Some(f) = self.funcs.last_mut()
                    && f.try_depth == 0
                {
                    f.unguarded_await = true;
                }
            }
            "statement_block" => {
                if is_try_body(node, cx)
                    && let Some(f) = self.funcs.last_mut()
                {
                    f.try_depth += 1;
                }
            }
            _ if js::is_function(node) => {
                if node.kind() == "function_declaration"
                    && let Some(n) = node.field("name")
                {
                    self.functions
                        .insert(cx.text(n).to_string(), node.byte_range());
                } else if let Some(d) = cx
                    .parent(node)
                    .filter(|p| p.kind() == "variable_declarator")
                    && let Some(n) = d.field("name")
                {
                    self.functions
                        .insert(cx.text(n).to_string(), node.byte_range());
                }
                let listener = self.pending_handlers.remove(&node.start_byte());
                self.funcs.push(Func {
                    start: node.start_byte(),
                    end: node.end_byte(),
                    listener,
                    try_depth: 0,
                    unguarded_await: false,
                });
            }
            _ => {}
        }
    }

    fn leave(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "class_declaration" | "abstract_class_declaration" | "class"
                if self
                    .class_stack
                    .last()
                    .is_some_and(|c| c.start == node.start_byte() && c.end == node.end_byte()) =>
            {
                self.class_stack.pop();
            }
            "statement_block" => {
                if is_try_body(node, cx)
                    && let Some(f) = self.funcs.last_mut()
                {
                    f.try_depth = f.try_depth.saturating_sub(1);
                }
            }
            _ if js::is_function(node) => {
                if self
                    .funcs
                    .last()
                    .is_some_and(|f| f.start == node.start_byte() && f.end == node.end_byte())
                    && let Some(f) = self.funcs.pop()
                    && let Some(i) = f.listener
                    && let Some(l) = self.listens.get_mut(i)
                {
                    l.unguarded_await = f.unguarded_await;
                }
            }
            _ => {}
        }
    }

    fn finish(mut self: Box<Self>, cx: &mut FileCx<'t>) {
        // What emitter classes do with 'error' on `this`.
        for u in self.listens.iter().chain(self.emits.iter()) {
            if let (Some(class), Some("error")) = (&u.this_class, u.event.as_deref())
                && let Some(entry) = self.classes.get_mut(class)
            {
                if u.method == "emit" {
                    entry.0 = true;
                } else {
                    entry.1 = true;
                }
            }
        }
        let bindings: HashSet<&str> = self
            .instances
            .iter()
            .filter_map(|i| i.binding.as_deref())
            .collect();
        let capture_by_binding: HashMap<&str, bool> = self
            .instances
            .iter()
            .filter_map(|i| Some((i.binding.as_deref()?, i.capture_rejections)))
            .collect();
        for inst in &self.instances {
            let (class_emits, class_listens) =
                self.classes.get(&inst.class).copied().unwrap_or_default();
            let on_binding = |uses: &[Use]| {
                inst.binding.as_deref().is_some_and(|b| {
                    uses.iter()
                        .any(|u| u.receiver == b && u.event.as_deref() == Some("error"))
                })
            };
            let fact = cx
                .fact_range(
                    "emitter_instance",
                    TRANSPORT,
                    Role::Definition,
                    inst.at.clone(),
                )
                .name_opt(inst.binding.clone())
                .attr("class", inst.class.clone())
                .attr(
                    "capture_rejections",
                    inst.capture_rejections || self.capture_rejections_global,
                )
                .attr(
                    "has_error_listener",
                    class_listens || on_binding(&self.listens),
                )
                .attr("emits_error", class_emits || on_binding(&self.emits));
            cx.emit(fact);
        }
        for (name, at, base, via) in &self.class_defs {
            let (emits_error, listens_error) = self.classes.get(name).copied().unwrap_or_default();
            let fact = cx
                .fact_range("emitter_class", TRANSPORT, Role::Definition, at.clone())
                .name(name.clone())
                .attr("extends", base.clone())
                .attr("via", *via)
                .attr("emits_error", emits_error)
                .attr("listens_error", listens_error);
            cx.emit(fact);
        }
        for u in &self.listens {
            let Some(emitter) = self.emitter_of(u, &bindings) else {
                continue;
            };
            let capture = capture_by_binding
                .get(u.receiver.as_str())
                .copied()
                .unwrap_or(false)
                || self.capture_rejections_global;
            let fact = cx
                .fact_range("emitter_listen", TRANSPORT, Role::Consumer, u.at.clone())
                .name_opt(u.event.clone())
                .attr("method", u.method.clone())
                .attr("receiver", u.receiver.clone())
                .attr("emitter", emitter)
                .attr("literal", u.literal)
                .attr("handler_async", u.handler_async)
                .attr("handler_unguarded_await", u.unguarded_await)
                .attr("capture_rejections", capture)
                .attr_opt("in_handler", u.in_handler)
                .attr("in_loop", u.in_loop)
                .attr("emitter_local", self.emitter_local(u))
                .attr("removed", self.removed(u))
                .attr_opt("handler_exits", u.handler_exits);
            cx.emit(fact);
        }
        for u in &self.emits {
            let Some(emitter) = self.emitter_of(u, &bindings) else {
                continue;
            };
            let fact = cx
                .fact_range("emitter_emit", TRANSPORT, Role::Producer, u.at.clone())
                .name_opt(u.event.clone())
                .attr("receiver", u.receiver.clone())
                .attr("emitter", emitter)
                .attr("literal", u.literal);
            cx.emit(fact);
        }
    }
}

fn is_try_body<'t>(block: Node<'t>, cx: &FileCx<'t>) -> bool {
    cx.parent(block).is_some_and(|p| {
        p.kind() == "try_statement" && p.field("body").is_some_and(|b| b.id() == block.id())
    })
}

/// In-process events: a channel is one event on one emitter (its binding, or its class for
/// `this`) in one file, since an emitter only crosses modules when it is exported.
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    for f in facts {
        let producer = match f.kind.as_str() {
            "emitter_emit" => true,
            "emitter_listen" => false,
            _ => continue,
        };
        let (Some(event), Some(emitter)) = (&f.name, f.attr("emitter").and_then(Value::as_str))
        else {
            continue;
        };
        let scope = format!("{}#{}", f.path, emitter);
        if producer {
            linker.producer(TRANSPORT, event, Some(&scope), f);
        } else {
            linker.consumer(TRANSPORT, event, Some(&scope), f);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use msgscan_lang::{FileParser, Language};

    /// Whether the prefilter admits `src` for node-events, and how many facts it finds.
    fn run(src: &str) -> (bool, usize) {
        let mut p = FileParser::new(std::time::Duration::from_secs(5));
        let parsed = p.parse(Language::TypeScript, src).unwrap();
        let (_, admitted, facts) = crate::fuzzing::detect_each("src/app.ts", src, &parsed)
            .into_iter()
            .find(|(name, _, _)| *name == "node-events")
            .unwrap();
        (admitted, facts.len())
    }

    #[test]
    fn admits_every_emission_path() {
        for src in [
            // emitter_class (extends), and emits on `this`
            "import { EventEmitter } from 'events';\n\
             class Orders extends EventEmitter { add() { this.emit('added'); } }\n",
            // emitter_class (util.inherits)
            "const EE = require('events').EventEmitter;\nconst util = require('util');\n\
             function Feed() {}\nutil.inherits(Feed, EE);\n",
            // emitter_instance, listen and emit on its binding
            "const EventEmitter = require('node:events');\nconst bus = new EventEmitter();\n\
             bus.on('order', (o) => o);\nbus.emit('order', 1);\n",
            // emitter_config: defaultMaxListeners, captureRejections
            "import EE from 'events';\nEE.defaultMaxListeners = 20;\n",
            "import * as events from 'eventemitter3';\nevents.captureRejections = true;\n",
            // emitter_config: setMaxListeners on anything
            "server.setMaxListeners(0);\n",
            // listen / emit on `process`
            "process.on('SIGTERM', () => process.exit(0));\n",
            "(process as any).prependListener('exit', done);\n",
            "process . emit('warning', new Error('x'));\n",
            // listen / emit on an emitter-named import of a relative module
            "import { orderBus } from './bus';\norderBus.on('created', (o) => o);\n",
            "const { a: appEvents } = require('../events');\nappEvents.sub.emit('x');\n",
        ] {
            assert!(run(src).0, "ruled out:\n{src}");
            assert!(
                run(src).1 > 0,
                "no fact (the snippet tests nothing):\n{src}"
            );
        }
    }

    #[test]
    fn relative_specifier_starts_are_needles() {
        use crate::engine::Detector;
        for r in super::RELATIVE {
            assert!(super::NodeEvents.needles().contains(r), "{r}");
        }
    }

    #[test]
    fn rules_out_near_misses() {
        for src in [
            // `events` imported, but no EventEmitter class is used
            "import { once } from 'events';\nawait once(emitter, 'ready');\n",
            "import { EventEmitter } from 'events';\nthrow new Error('no');\n",
            // Vue / DOM events
            "this.$emit('change', value);\nel.addEventListener('click', f);\n",
            // `process` without a listen or emit on it
            "const env = process.env.NODE_ENV;\n// the same process as before\nx.on('a', f);\n",
            // an import from a relative module that ends like `events` but is no receiver
            "import { REALTIME_EVENTS } from './constants';\nconst e = REALTIME_EVENTS.JOIN;\n",
            // an emitter-like name used, but not imported from a relative module
            "import { bus } from 'some-package';\nbus.on('x', f);\n",
        ] {
            assert_eq!(run(src), (false, 0), "admitted:\n{src}");
        }
    }
}
