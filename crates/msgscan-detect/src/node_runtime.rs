//! Node.js runtime primitives: `worker_threads` workers, `cluster` forks and streams, in
//! JavaScript, TypeScript and TSX.
//!
//! Everything is recognised through what the file imports, never through a method name
//! alone: `Worker` must come from `worker_threads` / `node:worker_threads` (a BullMQ or Web
//! `Worker` is not one), `cluster` from `cluster` / `node:cluster`, and a `.pipe(...)` is a
//! stream pipe only when one end is a known Node stream (`fs.createReadStream`,
//! `zlib.createGzip`, `new Transform(...)` of the `stream` module, `process.stdout`, the
//! `req`/`res` of an HTTP handler, a child process's stdio, a binding of one of those, or a
//! binding named `...stream`). So RxJS `.pipe(map(...))` and jQuery `.pipe` are not facts.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::js;
use crate::prefilter::{Candidate, Words};

pub(crate) struct NodeRuntime;

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "worker_thread",
        transport: "worker_threads",
        doc: "A `worker_threads` worker. Role `producer`: `new Worker(script, options)`, named by the script resolved against the creating file (`path.join(__dirname, 'w.js')`, `new URL('./w.js', import.meta.url)`, `__filename`). Role `consumer`: a worker script that uses `parentPort` / `workerData`, named by its own path. Channels join them by path, ignoring the extension.",
        attrs: attrs! {
            "script": String = "producer: the script argument as written",
            "binding": String = "producer: the name the worker is bound to",
            "has_error_listener": Bool = "producer: an `'error'` listener is attached to the worker (on the binding in its scope, or chained)",
            "has_exit_listener": Bool = "producer: an `'exit'` listener is attached to the worker",
            "missing_listeners": List = "producer: which of `error`, `exit` have no listener",
            "escapes": Bool = "producer: the worker is passed to a call, returned or stored elsewhere, so listeners may be attached out of sight",
            "in_handler": String = "producer: the innermost request/message handler it is created in (`route`, `server`, `request`, `connection`, `message`, `interval`); absent if none",
            "in_loop": Bool = "producer: created once per loop iteration",
            "eval": Bool = "producer: `{ eval: true }` (the script is code, not a path)",
            "listens_message": Bool = "consumer: `parentPort.on('message', ...)`",
            "posts_message": Bool = "consumer: `parentPort.postMessage(...)`",
            "reads_worker_data": Bool = "consumer: reads `workerData`",
        },
    },
    KindSpec {
        kind: "cluster_fork",
        transport: "cluster",
        doc: "`cluster.fork()` of the `cluster` module.",
        attrs: attrs! {
            "has_exit_listener": Bool = "the file listens for `'exit'` on `cluster` (or on a forked worker)",
            "respawns": Bool = "an `'exit'` handler forks again (directly or through a function of the file that forks)",
            "exit_handler_exits": Bool = "an `'exit'` handler ends the primary (`process.exit`), leaving restarts to a supervisor",
            "in_exit_handler": Bool = "this fork is itself inside an `'exit'` handler (the respawn)",
            "in_loop": Bool = "inside a loop",
            "escapes": Bool = "the forked worker is returned, passed to a call or stored, so its lifecycle may be handled elsewhere",
        },
    },
    KindSpec {
        kind: "stream_pipe",
        transport: "stream",
        doc: "A stream pipe: a `.pipe()` chain (method `pipe`) or `pipeline(...)` of `stream` / `stream/promises` (method `pipeline`). Name: the source as written.",
        attrs: attrs! {
            "method": String = "`pipe` or `pipeline`",
            "source": String = "the first stream as written",
            "destinations": List = "the streams piped into, in order",
            "source_has_error_listener": Bool = "pipe: the source has an `'error'` listener (on its binding, chained before `.pipe`, or via `finished()`)",
            "destinations_without_error_listener": List = "pipe: destinations bound to a name with no `'error'` listener",
            "in_handler": String = "the innermost request/message handler it is in; absent if none",
            "callback": Bool = "pipeline: a completion callback is passed (or the promise form is used)",
        },
    },
    KindSpec {
        kind: "stream_data_handler",
        transport: "stream",
        doc: "A `'data'` listener on a known readable stream. Name: `data`.",
        attrs: attrs! {
            "receiver": String = "the stream as written",
            "handler_async": Bool = "the handler is an `async` function",
            "pauses": Bool = "the handler calls `.pause()` (manual flow control)",
        },
    },
    KindSpec {
        kind: "stream_write",
        transport: "stream",
        doc: "`.write(...)` on a known writable stream inside a loop or a `'data'` handler, where backpressure matters.",
        attrs: attrs! {
            "receiver": String = "the stream as written",
            "result_used": Bool = "the boolean `write()` returns is used (tested, assigned, awaited, returned)",
            "in_loop": Bool = "inside a loop of its function",
            "in_data_handler": Bool = "inside a `'data'` handler",
            "waits_drain": Bool = "the enclosing function waits for `'drain'` (`once(s, 'drain')`, `s.once('drain', ...)`)",
        },
    },
];

const LISTEN: &[&str] = &[
    "on",
    "once",
    "addListener",
    "prependListener",
    "prependOnceListener",
    "addEventListener",
];

/// Module specifiers by what they give us.
fn module_class(spec: &str) -> Option<&'static str> {
    let s = spec.strip_prefix("node:").unwrap_or(spec);
    Some(match s {
        "worker_threads" => "worker_threads",
        "cluster" => "cluster",
        "stream" | "readable-stream" => "stream",
        "stream/promises" => "stream_promises",
        "fs" | "fs-extra" | "graceful-fs" => "fs",
        "zlib" => "zlib",
        "crypto" => "crypto",
        "net" | "tls" => "net",
        "child_process" => "child_process",
        "http" | "https" | "http2" => "http",
        "events" => "events",
        "pump" => "pump",
        _ if s == "rxjs" || s.starts_with("rxjs/") => "rxjs",
        _ => return None,
    })
}

/// Stream factories of each module.
fn is_stream_factory(module: &str, name: &str) -> bool {
    match module {
        "fs" => matches!(name, "createReadStream" | "createWriteStream"),
        "zlib" => name.starts_with("create"),
        "crypto" => matches!(
            name,
            "createCipheriv" | "createDecipheriv" | "createHash" | "createHmac"
        ),
        "net" => matches!(name, "connect" | "createConnection"),
        "stream" => name == "from" || name == "Readable.from",
        _ => false,
    }
}

fn is_stream_class(name: &str) -> bool {
    matches!(
        name,
        "Readable" | "Writable" | "Duplex" | "Transform" | "PassThrough"
    )
}

// The prefilter's view of the text. Everything here may only err on the side of
// admitting: an identifier boundary is ASCII (a non-ASCII letter counts as a boundary),
// and wherever a comment could stand between two tokens the check gives up and admits.

/// The specifiers [`module_class`] maps to `stream` and `stream_promises`.
const STREAM_MODULES: &[&str] = &[
    "stream",
    "node:stream",
    "readable-stream",
    "node:readable-stream",
    "stream/promises",
    "node:stream/promises",
];

pub(crate) fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Where `word` (made of identifier characters) occurs as a whole identifier, case
/// included. (Matches do not overlap, which hides no whole one: the character before an
/// overlapped match belongs to the word.)
pub(crate) fn ident_at<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = text.as_bytes();
    text.match_indices(word)
        .map(|(at, _)| at)
        .filter(move |&at| {
            let end = at + word.len();
            (at == 0 || !ident_byte(bytes[at - 1]))
                && !bytes.get(end).is_some_and(|b| ident_byte(*b))
        })
}

/// Whether `word` occurs as a whole identifier (case included): a name, a property, an
/// import name the code compares with `word`.
pub(crate) fn has_ident(text: &str, word: &str) -> bool {
    ident_at(text, word).next().is_some()
}

/// JavaScript white space and line terminators (Unicode `White_Space`, and the BOM).
fn js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Whether the code before a token (`before` is the text up to it) may end as `ends` says
/// (given that text trimmed of white space), past white space and comments. Comments are
/// looked behind: a block comment ends the text with `*/` and starts at a `/*` after any
/// earlier `*/`; a line comment ends the last line before a line break and starts at one
/// of the `//` (or `<!--`) of that line. Where that takes too long (many comment starts to
/// try), it admits.
pub(crate) fn preceded_by(before: &str, ends: &dyn Fn(&str) -> bool) -> bool {
    let mut fuel = 64;
    preceded_within(before, ends, &mut fuel)
}

const LINE_BREAKS: [char; 4] = ['\n', '\r', '\u{2028}', '\u{2029}'];

fn preceded_within(before: &str, ends: &dyn Fn(&str) -> bool, fuel: &mut u32) -> bool {
    if *fuel == 0 {
        return true;
    }
    *fuel -= 1;
    let trimmed = before.trim_end_matches(js_space);
    if trimmed.is_empty() {
        return false;
    }
    if ends(trimmed) {
        return true;
    }
    // A block comment: it starts at a `/*` that no `*/` follows before this one.
    if let Some(body) = trimmed.strip_suffix("*/") {
        let mut from = body.rfind("*/").map_or(0, |c| c.saturating_sub(1));
        while !body.is_char_boundary(from) {
            from -= 1;
        }
        let starts: Vec<usize> = body[from..]
            .match_indices("/*")
            .map(|(p, _)| from + p)
            .collect();
        if starts
            .iter()
            .any(|&p| preceded_within(&trimmed[..p], ends, fuel))
        {
            return true;
        }
    }
    // A line comment (or an HTML-like one) runs to a line break.
    if !before[trimmed.len()..].contains(LINE_BREAKS) {
        return false;
    }
    // After the break (U+2028 and U+2029 are three bytes long).
    let start = trimmed
        .char_indices()
        .rfind(|(_, c)| LINE_BREAKS.contains(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let line = &trimmed[start..];
    if line.contains("-->") {
        return true;
    }
    // Overlapping: in `///` the comment may start at the second `/` (after a regex).
    let mut at = 0;
    while let Some(i) = line.get(at..).and_then(|l| l.find("//")) {
        if preceded_within(&trimmed[..start + at + i], ends, fuel) {
            return true;
        }
        at += i + 1;
    }
    line.match_indices("<!--")
        .any(|(at, _)| preceded_within(&trimmed[..start + at], ends, fuel))
}

/// `s` past white space and comments. Exact when `s` starts in code; the prefilter only
/// relies on it there (the real call), and anything read elsewhere only admits more.
pub(crate) fn skip_space(mut s: &str) -> &str {
    loop {
        s = s.trim_start_matches(js_space);
        if s.starts_with("//") || s.starts_with("<!--") || s.starts_with("-->") {
            s = s.find(LINE_BREAKS).map_or("", |i| &s[i..]);
        } else if let Some(r) = s.strip_prefix("/*") {
            s = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            return s;
        }
    }
}

/// Whether a call of a method `name` may occur whose first argument (its text onwards)
/// satisfies `first`: `x.name(arg` (also `x?.name(`, `x . name (`; see [`call_follows`]).
pub(crate) fn method_call_with(text: &str, name: &str, first: &dyn Fn(&str) -> bool) -> bool {
    ident_at(text, name).any(|at| {
        preceded_by(&text[..at], &|t| t.ends_with('.'))
            && call_follows(&text[at + name.len()..], first)
    })
}

/// Whether the text after a callee (`rest`) may be its call, with a first argument that
/// satisfies `first`: `(arg` (also `((arg))`, `?.(arg`, `!(arg`, `)(arg` of a parenthesised
/// callee). Rarer forms (type arguments `<T>(`, `as` or `satisfies` in a parenthesised
/// callee, a tagged template) are admitted whatever the argument.
pub(crate) fn call_follows(rest: &str, first: &dyn Fn(&str) -> bool) -> bool {
    let mut rest = skip_space(rest);
    loop {
        if let Some(r) = rest.strip_prefix('(') {
            let mut arg = skip_space(r);
            while let Some(inner) = arg.strip_prefix('(') {
                arg = skip_space(inner);
            }
            return first(arg);
        }
        if let Some(r) = rest
            .strip_prefix("?.")
            .or_else(|| rest.strip_prefix([')', '!']))
        {
            rest = skip_space(r);
            continue;
        }
        return rest.starts_with(['<', '`'])
            || starts_with_word(rest, "as")
            || starts_with_word(rest, "satisfies");
    }
}

/// The length of the identifier `s` starts with, counting non-ASCII characters and escapes
/// (and `#` of a private name) in.
pub(crate) fn segment_len(s: &str) -> usize {
    s.bytes()
        .take_while(|&b| ident_byte(b) || b == b'#' || b == b'\\' || b >= 0x80)
        .count()
}

/// Whether `s` starts with the identifier `w` (not a longer one).
pub(crate) fn starts_with_word(s: &str, w: &str) -> bool {
    s.strip_prefix(w)
        .is_some_and(|r| !r.bytes().next().is_some_and(ident_byte))
}

/// Whether `s` ends with the identifier `w` (not a longer one).
fn ends_with_word(s: &str, w: &str) -> bool {
    s.strip_suffix(w)
        .is_some_and(|r| !r.bytes().next_back().is_some_and(ident_byte))
}

/// Whether a call of a method `name` may occur (see [`method_call_with`]).
pub(crate) fn method_call(text: &str, name: &str) -> bool {
    method_call_with(text, name, &|_| true)
}

/// Whether a listener for `event` may be added: `.on(event, ...)` or another of [`LISTEN`]
/// (which includes the methods [`js::handler_kind`] knows).
fn listens_for(text: &str, event: &str) -> bool {
    string_at(text, event).any(|at| first_argument_of(text, at, LISTEN))
}

/// Whether the argument starting at `at` may be the first argument of a call of one of
/// `methods`: before it, past white space and comments, `(`, and before that the method;
/// or, admitted whatever the callee, what ends a callee that is no bare name (`?.(`, `)(`,
/// `!(`, `<T>(`) or another `(` (of `on(('data'))`).
fn first_argument_of(text: &str, at: usize, methods: &[&str]) -> bool {
    preceded_by(&text[..at], &|t| {
        t.strip_suffix('(').is_some_and(|callee| {
            preceded_by(callee, &|c| {
                c.ends_with(['.', ')', '!', '>', '('])
                    || methods.iter().any(|m| ends_with_word(c, m))
            })
        })
    })
}

/// Where a string literal whose content is exactly `spec` starts (its opening quote):
/// `'x'`, `"x"` or `` `x` `` ([`js::string_value`] takes the raw text between the quotes).
pub(crate) fn string_at<'a>(text: &'a str, spec: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = text.as_bytes();
    text.match_indices(spec).filter_map(move |(at, _)| {
        let q = *bytes.get(at.checked_sub(1)?)?;
        (matches!(q, b'\'' | b'"' | b'`') && bytes.get(at + spec.len()) == Some(&q))
            .then_some(at - 1)
    })
}

/// Whether a module specifier in `specs` may be imported: `require('x')` (also TypeScript
/// `import a = require('x')`) or `... from 'x'`, the two ways the visitors bind a module.
pub(crate) fn imported(text: &str, specs: &[&str]) -> bool {
    let bytes = text.as_bytes();
    // One pass over the quotes (closing ones too: that only admits more).
    bytes.iter().enumerate().any(|(at, &q)| {
        matches!(q, b'\'' | b'"' | b'`')
            && specs.iter().any(|spec| {
                bytes[at + 1..].starts_with(spec.as_bytes())
                    && bytes.get(at + 1 + spec.len()) == Some(&q)
            })
            && import_source_at(text, at)
    })
}

/// Whether the string literal starting at `at` may be the source of an import: after
/// `require(` or `from`.
pub(crate) fn import_source_at(text: &str, at: usize) -> bool {
    preceded_by(&text[..at], &|t| {
        require_paren(t) || ends_with_word(t, "from")
    })
}

/// Whether `t` ends with `require(` (past comments, and more parentheses: `require(('x'))`).
fn require_paren(t: &str) -> bool {
    t.strip_suffix('(')
        .is_some_and(|u| preceded_by(u, &|v| ends_with_word(v, "require") || require_paren(v)))
}

/// What [`RtVisitor::is_stream`] (and the `streams` bindings built from it) needs to call
/// anything a Node stream:
/// - an imported `stream` module (its classes, subclasses of them, `Readable.from`);
/// - `fs.createReadStream` / `createWriteStream`;
/// - an imported `zlib`, `crypto`, `net` or `tls` module (their stream factories, and the
///   `socket` parameter of a `net` server);
/// - `stdin` / `stdout` / `stderr` (of `process` or of a child process);
/// - `req` / `res` / `request` / `response` as the parameter of an HTTP handler
///   (see [`http_handler_evidence`]);
/// - a name whose last segment ends with `stream` in any case, where `is_stream` looks at
///   it: the source or a destination of `.pipe()` (also before `.on(...)` listeners), or
///   the receiver of `.on('data')` or `.write()`. Such a name is followed by one of those
///   methods (`.pipe`, `?.write`, `.on`, ...; also past `!`); or it ends an argument or a
///   parenthesised expression (`)`, `,`, `as`, `satisfies`) that starts with it (after
///   `(`) or with a path it ends (after `.`). "a stream of" in a comment is not.
fn stream_evidence(text: &str) -> bool {
    static STREAM: Words = Words::new(&["stream"]);
    let bytes = text.as_bytes();
    let stream_name = || {
        STREAM.find_in(text).any(|r| {
            if !text[r.clone()].eq_ignore_ascii_case("stream") {
                return true; // the automaton could not be built
            }
            if bytes.get(r.end).is_some_and(|b| ident_byte(*b)) {
                return false;
            }
            let mut rest = skip_space(&text[r.end..]);
            loop {
                if rest.starts_with([')', ','])
                    || starts_with_word(rest, "as")
                    || starts_with_word(rest, "satisfies")
                {
                    // An argument, or in parentheses: the path starts after `(` (or `<T>`),
                    // or the name is a later segment of it.
                    let start = text[..r.start]
                        .bytes()
                        .rev()
                        .take_while(|&b| ident_byte(b) || b == b'#' || b == b'\\' || b >= 0x80)
                        .count();
                    return preceded_by(&text[..r.start - start], &|t| {
                        t.ends_with(['(', '.', '>'])
                    });
                }
                if let Some(r) = rest.strip_prefix('!') {
                    rest = skip_space(r);
                    continue;
                }
                let Some(r) = rest.strip_prefix("?.").or_else(|| rest.strip_prefix('.')) else {
                    return false;
                };
                let r = skip_space(r);
                let method = &r[..segment_len(r)];
                return method == "pipe" || method == "write" || LISTEN.contains(&method);
            }
        })
    };
    [
        "stdin",
        "stdout",
        "stderr",
        "createReadStream",
        "createWriteStream",
    ]
    .iter()
    .any(|w| has_ident(text, w))
        || stream_name()
        || imported(text, STREAM_MODULES)
        || imported(
            text,
            &[
                "zlib",
                "node:zlib",
                "crypto",
                "node:crypto",
                "net",
                "node:net",
                "tls",
                "node:tls",
            ],
        )
        || (["req", "res", "request", "response"]
            .iter()
            .any(|w| has_ident(text, w))
            && http_handler_evidence(text))
}

/// What [`js::handler_kind`] needs to call a function a `route`, `server` or `request`
/// handler: a call of `createServer`; a method `use` (middleware) or `route`; `.on('request',
/// fn)`; or an HTTP verb method whose first argument is a path (a string starting with `/`,
/// `'*'`, any template string).
fn http_handler_evidence(text: &str) -> bool {
    has_ident(text, "createServer")
        || method_call(text, "use")
        || method_call(text, "route")
        || listens_for(text, "request")
        || {
            // A path: a template, a string starting with `/`, or `'*'`.
            let bytes = text.as_bytes();
            bytes.iter().enumerate().any(|(at, &q)| {
                (q == b'`'
                    || (matches!(q, b'\'' | b'"')
                        && (bytes.get(at + 1) == Some(&b'/')
                            || (bytes.get(at + 1) == Some(&b'*')
                                && bytes.get(at + 2) == Some(&q)))))
                    && first_argument_of(text, at, HTTP_VERBS)
            })
        }
}

/// The methods [`js::handler_kind`] takes for routes when their first argument is a path.
const HTTP_VERBS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "del", "all", "head", "options",
];

impl Detector for NodeRuntime {
    fn name(&self) -> &'static str {
        "node-runtime"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::JavaScript, Language::TypeScript, Language::Tsx]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "variable_declarator",
            "class_declaration",
            "class",
            "new_expression",
            "call_expression",
            "identifier",
            "return_statement",
            "function_declaration",
        ]
    }
    /// Every fact needs one of these words (see [`NodeRuntime::admits`] for what else).
    /// `pipe` and `write` without the dot: `src. pipe(dst)` and `s.write (x)` are calls
    /// too; `pipe` also covers `pipeline`.
    fn needles(&self) -> &'static [&'static str] {
        &[
            "worker_threads",
            "cluster",
            "pipe",
            "pump",
            "data'",
            "data\"",
            "data`",
            "write",
        ]
    }
    /// A disjunction over the emission paths, each a conjunction of what its facts need:
    /// - `worker_thread`, producer (`new Worker` of `worker_threads`) and consumer
    ///   (`parentPort` / `workerData` of it): the imported module and one of those names;
    /// - `cluster_fork`: the imported `cluster` module and a call of the method `fork`;
    /// - `stream_pipe` by `pipeline(...)`: `pipeline` and an imported `stream` /
    ///   `stream/promises` module; or any call of the imported `pump` module;
    /// - `stream_pipe` by `.pipe()` (a method call), `stream_data_handler` (`'data'` as first
    ///   argument) and `stream_write` (a method call `.write()`): one end, the receiver or a
    ///   binding must be a known Node stream, see [`stream_evidence`].
    fn admits(&self, file: &Candidate<'_>) -> bool {
        let text = file.text;
        let worker = || {
            file.has("worker_threads")
                && ["Worker", "parentPort", "workerData"]
                    .iter()
                    .any(|w| has_ident(text, w))
                && imported(text, &["worker_threads", "node:worker_threads"])
        };
        let cluster = || {
            file.has("cluster")
                && method_call(text, "fork")
                && imported(text, &["cluster", "node:cluster"])
        };
        // `x.pipeline(` of a module, or a named import or destructuring of `pipeline`.
        let pipeline = || {
            file.has("pipe")
                && ident_at(text, "pipeline").any(|at| {
                    preceded_by(&text[..at], &|t| {
                        t.ends_with(['.', '{', ',']) || ends_with_word(t, "type")
                    })
                })
                && imported(text, STREAM_MODULES)
        };
        let pump = || file.has("pump") && imported(text, &["pump", "node:pump"]);
        let stream_use = || {
            (file.has("pipe") && method_call(text, "pipe"))
                || (file.has("write") && method_call(text, "write"))
                || (file.any(&["data'", "data\"", "data`"]) && listens_for(text, "data"))
        };
        worker() || cluster() || pipeline() || pump() || (stream_use() && stream_evidence(text))
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<RtVisitor>::default()
    }
}

struct WorkerNew {
    at: Range<usize>,
    script: Option<String>,
    name: Option<String>,
    binding: Option<String>,
    /// Where listeners on the binding count: its function, or the file.
    scope: Option<Range<usize>>,
    chained: HashSet<String>,
    in_handler: Option<&'static str>,
    in_loop: bool,
    eval: bool,
    unbound_escape: bool,
}

struct Fork {
    at: Range<usize>,
    in_loop: bool,
    functions: Vec<String>,
    binding: Option<String>,
    scope: Option<Range<usize>>,
    /// Not bound and not a statement of its own: returned, passed or stored.
    unbound_escape: bool,
}

struct Listen {
    at: Range<usize>,
    receiver: String,
    event: String,
    handler: Option<Range<usize>>,
    /// A handler passed by name, resolved against the file's functions at the end.
    handler_name: Option<String>,
}

struct Pipe {
    at: Range<usize>,
    source: String,
    /// The source node is a name whose listeners we can look up.
    source_named: bool,
    source_chained_error: bool,
    destinations: Vec<(String, bool)>,
    in_handler: Option<&'static str>,
}

#[derive(Default)]
struct RtVisitor {
    /// local name → module class for default / namespace / `require` imports.
    modules: HashMap<String, &'static str>,
    /// local name → (module class, exported name) for named imports.
    named: HashMap<String, (&'static str, String)>,
    /// Local classes that extend a stream class.
    stream_classes: HashSet<String>,
    /// Bindings of known streams.
    streams: HashSet<String>,
    /// Bindings of child processes.
    children: HashSet<String>,
    workers: Vec<WorkerNew>,
    forks: Vec<Fork>,
    listens: Vec<Listen>,
    pipes: Vec<Pipe>,
    /// Names passed to calls or returned, with where.
    escapes: Vec<(String, usize)>,
    /// Named functions of the file: name → (range, names of functions it calls).
    functions: HashMap<String, Range<usize>>,
    calls: Vec<(String, usize)>,
    /// `let stream = remote`: alias → aliased name.
    aliases: HashMap<String, String>,
    /// `finished(x, ...)` / `eos(x, ...)`: names whose errors are handled.
    finished: HashSet<String>,
    /// `process.exit(...)` call positions.
    exits: Vec<usize>,
    /// Worker-side use of `parentPort` / `workerData`.
    port_first: Option<Range<usize>>,
    listens_message: bool,
    posts_message: bool,
    reads_worker_data: bool,
}

impl RtVisitor {
    fn bind_module(&mut self, local: &str, imported: Option<&str>, spec: &str) {
        let Some(class) = module_class(spec) else {
            return;
        };
        match imported {
            None | Some("default") | Some("*") => {
                self.modules.insert(local.to_string(), class);
            }
            Some(name) => {
                self.named
                    .insert(local.to_string(), (class, name.to_string()));
            }
        }
    }

    fn has_module(&self, class: &str) -> bool {
        self.modules.values().any(|c| *c == class) || self.named.values().any(|(c, _)| *c == class)
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(source) = node.field("source").and_then(|s| js::string_value(s, cx)) else {
            let mut c = node.walk();
            for child in node.named_children(&mut c) {
                if child.kind() == "import_require_clause"
                    && let (Some(id), Some(src)) = (
                        child.named_child(0),
                        child.field("source").and_then(|s| js::string_value(s, cx)),
                    )
                {
                    self.bind_module(cx.text(id), None, &src);
                }
            }
            return;
        };
        for (local, imported) in js::import_bindings(node, cx) {
            self.bind_module(local, imported, &source);
        }
    }

    /// `require('x')` or `require('x').name`.
    fn require_of(&self, node: Node<'_>, cx: &FileCx<'_>) -> Option<(String, Option<String>)> {
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
                Some((src, Some(cx.text(node.field("property")?).to_string())))
            }
            _ => None,
        }
    }

    fn on_declarator(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        if let Some((source, prop)) = self.require_of(value, cx) {
            match name.kind() {
                "identifier" => self.bind_module(cx.text(name), prop.as_deref(), &source),
                "object_pattern" => {
                    for (local, key) in js::destructured(name, cx) {
                        self.bind_module(local, Some(key), &source);
                    }
                }
                _ => {}
            }
            return;
        }
        if name.kind() == "identifier" {
            let value = js::unwrap_expr(value);
            if value.kind() == "identifier" {
                self.aliases
                    .insert(cx.text(name).to_string(), cx.text(value).to_string());
            }
            if js::is_function(value) {
                self.functions
                    .insert(cx.text(name).to_string(), value.byte_range());
            }
            // `const util = promisify(pipeline)` and friends are handled at the call.
        }
    }

    fn on_class(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(name) = node.field("name") else {
            return;
        };
        let mut c = node.walk();
        let Some(heritage) = node
            .named_children(&mut c)
            .find(|n| n.kind() == "class_heritage")
        else {
            return;
        };
        let mut hc = heritage.walk();
        for h in heritage.named_children(&mut hc) {
            let expr = if h.kind() == "extends_clause" {
                h.field("value").or_else(|| h.named_child(0))
            } else if h.kind() == "implements_clause" {
                None
            } else {
                Some(h)
            };
            if expr.is_some_and(|e| self.stream_class_ref(e, cx)) {
                self.stream_classes.insert(cx.text(name).to_string());
            }
        }
    }

    /// `Transform`, `stream.Transform`, a local subclass of one.
    fn stream_class_ref(&self, node: Node<'_>, cx: &FileCx<'_>) -> bool {
        let Some(path) = js::member_path(node, cx) else {
            return false;
        };
        if self.stream_classes.contains(&path) {
            return true;
        }
        match path.split_once('.') {
            None => self
                .named
                .get(&path)
                .is_some_and(|(m, n)| *m == "stream" && is_stream_class(n)),
            Some((head, rest)) => {
                self.modules.get(head) == Some(&"stream") && is_stream_class(rest)
            }
        }
    }

    /// `new Worker` of `worker_threads`.
    fn worker_ctor(&self, node: Node<'_>, cx: &FileCx<'_>) -> bool {
        let Some(path) = js::member_path(node, cx) else {
            // `new (require('worker_threads').Worker)(...)`
            return self.require_of(node, cx).is_some_and(|(s, p)| {
                module_class(&s) == Some("worker_threads") && p.as_deref() == Some("Worker")
            });
        };
        match path.split_once('.') {
            None => self
                .named
                .get(&path)
                .is_some_and(|(m, n)| *m == "worker_threads" && n == "Worker"),
            Some((head, "Worker")) => self.modules.get(head) == Some(&"worker_threads"),
            _ => false,
        }
    }

    /// Whether an expression is a known Node stream.
    fn is_stream(&self, node: Node<'_>, cx: &FileCx<'_>) -> bool {
        let node = js::unwrap_expr(node);
        match node.kind() {
            "identifier" | "member_expression" | "this" => {
                let Some(path) = js::member_path(node, cx) else {
                    return false;
                };
                if self.streams.contains(&path)
                    || matches!(
                        path.as_str(),
                        "process.stdin" | "process.stdout" | "process.stderr"
                    )
                {
                    return true;
                }
                if let Some((head, tail)) = path.rsplit_once('.')
                    && matches!(tail, "stdout" | "stderr" | "stdin")
                    && self.children.contains(head)
                {
                    return true;
                }
                let last = path.rsplit('.').next().unwrap_or_default();
                if last.to_ascii_lowercase().ends_with("stream") {
                    return true;
                }
                node.kind() == "identifier" && self.handler_param_stream(node, cx)
            }
            "new_expression" => node
                .field("constructor")
                .is_some_and(|c| self.stream_class_ref(c, cx)),
            "call_expression" => {
                let Some(f) = node.field("function") else {
                    return false;
                };
                let f = js::unwrap_expr(f);
                // A pipe chain whose other end is a stream returns a stream.
                if f.kind() == "member_expression"
                    && f.field("property").is_some_and(|p| cx.text(p) == "pipe")
                {
                    return self.pipe_chain(node, cx).is_some();
                }
                if f.kind() == "member_expression"
                    && f.field("property")
                        .is_some_and(|p| matches!(cx.text(p), "stdout" | "stderr" | "stdin"))
                {
                    return false;
                }
                let Some(path) = js::member_path(f, cx) else {
                    return false;
                };
                match path.rsplit_once('.') {
                    None => self
                        .named
                        .get(&path)
                        .is_some_and(|(m, n)| is_stream_factory(m, n)),
                    Some((obj, name)) => {
                        let head = obj.split('.').next().unwrap_or(obj);
                        match self.modules.get(head) {
                            Some(m) if obj == head => is_stream_factory(m, name),
                            // `stream.Readable.from(...)`
                            Some(&"stream") => name == "from",
                            _ => {
                                obj.split('.').count() == 1
                                    && name == "from"
                                    && self
                                        .named
                                        .get(obj)
                                        .is_some_and(|(m, n)| *m == "stream" && n == "Readable")
                            }
                        }
                    }
                }
            }
            _ => false,
        }
    }

    /// `req` / `res` of an HTTP handler, the socket of `net.createServer`.
    fn handler_param_stream(&self, ident: Node<'_>, cx: &FileCx<'_>) -> bool {
        let name = cx.text(ident);
        for (kind, func) in js::enclosing_handlers(ident, cx) {
            if !matches!(kind, "route" | "server" | "request" | "connection") {
                continue;
            }
            let params = js::param_names(func, cx);
            let pos = params.iter().position(|p| p == name);
            if pos.is_none() {
                continue;
            }
            // Koa's `ctx`, Fastify's `reply`, socket.io's `socket` are not streams.
            let http = matches!(kind, "route" | "server" | "request")
                && matches!(pos, Some(0 | 1))
                && matches!(name, "req" | "res" | "request" | "response");
            let socket = matches!(kind, "server" | "connection")
                && pos == Some(0)
                && matches!(name, "socket" | "conn" | "sock")
                && self.has_module("net");
            return http || socket;
        }
        false
    }

    /// A `.pipe(dest)` chain: (source node, destinations) when some end is a known stream.
    fn pipe_chain<'a>(&self, call: Node<'a>, cx: &FileCx<'_>) -> Option<(Node<'a>, Vec<Node<'a>>)> {
        let mut dests = Vec::new();
        let mut n = call;
        loop {
            let n2 = js::unwrap_expr(n);
            if n2.kind() != "call_expression" {
                break;
            }
            let Some(f) = n2.field("function").map(js::unwrap_expr) else {
                break;
            };
            let is_pipe = f.kind() == "member_expression"
                && f.field("property").is_some_and(|p| cx.text(p) == "pipe");
            if !is_pipe {
                break;
            }
            let args = js::arguments(n2);
            // Stream pipe takes (destination[, { end }]); RxJS takes operators.
            let ok = match args.as_slice() {
                [_] => true,
                [_, opts] => opts.kind() == "object",
                _ => false,
            };
            if !ok {
                return None;
            }
            dests.push(args[0]);
            n = f.field("object")?;
        }
        if dests.is_empty() {
            return None;
        }
        dests.reverse();
        let source = js::unwrap_expr(n);
        // Anything an RxJS operator builds is not a stream.
        let rx_arg = dests.iter().any(|d| {
            d.kind() == "call_expression"
                && d.field("function")
                    .and_then(|f| js::member_path(f, cx))
                    .is_some_and(|p| {
                        let head = p.split('.').next().unwrap_or_default();
                        self.named.get(head).is_some_and(|(m, _)| *m == "rxjs")
                            || self.modules.get(head) == Some(&"rxjs")
                    })
        });
        if rx_arg {
            return None;
        }
        let source_for_check = self.strip_listener_chain(source, cx).0;
        let known =
            self.is_stream(source_for_check, cx) || dests.iter().any(|d| self.is_stream(*d, cx));
        known.then_some((source, dests))
    }

    /// `src.on('error', h).on('x', g)` → (`src`, whether an `'error'` listener is chained).
    fn strip_listener_chain<'a>(&self, node: Node<'a>, cx: &FileCx<'_>) -> (Node<'a>, bool) {
        let mut n = js::unwrap_expr(node);
        let mut error = false;
        loop {
            if n.kind() != "call_expression" {
                return (n, error);
            }
            let Some(f) = n.field("function").map(js::unwrap_expr) else {
                return (n, error);
            };
            let is_listen = f.kind() == "member_expression"
                && f.field("property")
                    .is_some_and(|p| LISTEN.contains(&cx.text(p)));
            if !is_listen {
                return (n, error);
            }
            if js::arguments(n)
                .first()
                .and_then(|a| js::string_value(*a, cx))
                .as_deref()
                == Some("error")
            {
                error = true;
            }
            match f.field("object") {
                Some(o) => n = js::unwrap_expr(o),
                None => return (n, error),
            }
        }
    }

    fn on_new(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(ctor) = node.field("constructor") else {
            return;
        };
        if self.stream_class_ref(ctor, cx) {
            if let Some(b) = js::binding_of(node, cx) {
                self.streams.insert(b);
            }
            return;
        }
        if !self.worker_ctor(ctor, cx) {
            return;
        }
        let args = js::arguments(node);
        let script_node = args.first().copied();
        let eval = args
            .get(1)
            .and_then(|o| js::object_property(*o, "eval", cx))
            .is_some_and(|v| cx.text(v) == "true");
        let script = script_node.map(|s| cx.text(s).to_string());
        let name = if eval {
            None
        } else {
            script_node.and_then(|s| resolve_script(s, cx))
        };
        let binding = js::binding_of(node, cx);
        let scope = match &binding {
            Some(b) if !b.contains('.') => js::enclosing_function(node, cx).map(|f| f.byte_range()),
            _ => None,
        };
        // Listeners chained on the expression: `new Worker(f).on('error', ...)`.
        let mut chained = HashSet::new();
        let mut n = node;
        while let Some(p) = cx.parent(n) {
            let p = if p.kind() == "parenthesized_expression" {
                n = p;
                continue;
            } else {
                p
            };
            if p.kind() != "member_expression" {
                break;
            }
            let Some(call) = cx.parent(p).filter(|c| c.kind() == "call_expression") else {
                break;
            };
            if !p
                .field("property")
                .is_some_and(|x| LISTEN.contains(&cx.text(x)))
            {
                break;
            }
            if let Some(ev) = js::arguments(call)
                .first()
                .and_then(|a| js::string_value(*a, cx))
            {
                chained.insert(ev);
            }
            n = call;
        }
        let in_handler = js::enclosing_handlers(node, cx).first().map(|h| h.0);
        self.workers.push(WorkerNew {
            at: node.byte_range(),
            script,
            name,
            binding,
            scope,
            chained,
            in_handler,
            in_loop: js::loop_of(node, cx).is_some(),
            eval,
            unbound_escape: binding_none_escapes(node, cx),
        });
    }

    fn on_call(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(func) = node.field("function").map(js::unwrap_expr) else {
            return;
        };
        let args = js::arguments(node);
        // Names handed to other code.
        for a in &args {
            if a.kind() == "identifier" {
                self.escapes.push((cx.text(*a).to_string(), a.start_byte()));
            }
        }
        let path = js::member_path(func, cx);
        if let Some(p) = &path {
            if p == "process.exit" || p == "process.abort" {
                self.exits.push(node.start_byte());
            }
            let last = p.rsplit('.').next().unwrap_or(p);
            self.calls.push((last.to_string(), node.start_byte()));
        }
        // Bindings of streams and child processes: `const out = fs.createWriteStream(p)`.
        if let Some(b) = js::binding_of(node, cx) {
            if self.is_stream(node, cx) {
                self.streams.insert(b.clone());
            }
            if let Some(p) = &path {
                let is_child = match p.rsplit_once('.') {
                    None => self.named.get(p).is_some_and(|(m, n)| {
                        *m == "child_process"
                            && matches!(n.as_str(), "spawn" | "exec" | "execFile" | "fork")
                    }),
                    Some((obj, n)) => {
                        self.modules.get(obj) == Some(&"child_process")
                            && matches!(n, "spawn" | "exec" | "execFile" | "fork")
                    }
                };
                if is_child {
                    self.children.insert(b);
                }
            }
        }
        // Free functions: `pipeline(...)`, `finished(x, cb)`, `once(x, 'exit')`.
        if let Some(p) = &path {
            let (obj, name) = match p.rsplit_once('.') {
                Some((o, n)) => (Some(o), n),
                None => (None, p.as_str()),
            };
            let module = match obj {
                Some(o) => self.modules.get(o).copied(),
                None => self.named.get(name).map(|(m, _)| *m),
            };
            let imported_name = match obj {
                Some(_) => name.to_string(),
                None => self
                    .named
                    .get(name)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default(),
            };
            match (module, imported_name.as_str()) {
                (Some("stream" | "stream_promises"), "pipeline") | (Some("pump"), _) => {
                    self.on_pipeline(node, &args, module == Some("stream_promises"), cx);
                    return;
                }
                (Some("stream" | "stream_promises"), "finished") => {
                    if let Some(a) = args.first().and_then(|a| js::member_path(*a, cx)) {
                        self.finished.insert(a);
                    }
                    return;
                }
                (Some("events"), "once" | "on") => {
                    if let (Some(r), Some(ev)) = (
                        args.first().and_then(|a| js::member_path(*a, cx)),
                        args.get(1).and_then(|a| js::string_value(*a, cx)),
                    ) {
                        self.listens.push(Listen {
                            at: node.byte_range(),
                            receiver: r,
                            event: ev,
                            handler: None,
                            handler_name: None,
                        });
                    }
                    return;
                }
                _ => {}
            }
            // `promisify(pipeline)` bound to a name is rare enough to skip.
        }
        if func.kind() != "member_expression" {
            return;
        }
        let (Some(obj), Some(prop)) = (func.field("object"), func.field("property")) else {
            return;
        };
        let method = cx.text(prop);
        let receiver = js::member_path(obj, cx);
        match method {
            "fork" => {
                let is_cluster = receiver
                    .as_deref()
                    .is_some_and(|r| self.modules.get(r) == Some(&"cluster"));
                if is_cluster {
                    let mut functions = Vec::new();
                    let mut n = node;
                    while let Some(f) = js::enclosing_function(n, cx) {
                        if let Some(name) = function_name(f, cx) {
                            functions.push(name);
                        }
                        n = f;
                    }
                    let binding = js::binding_of(node, cx);
                    let scope = match &binding {
                        Some(b) if !b.contains('.') => {
                            js::enclosing_function(node, cx).map(|f| f.byte_range())
                        }
                        _ => None,
                    };
                    self.forks.push(Fork {
                        at: node.byte_range(),
                        in_loop: js::loop_of(node, cx).is_some(),
                        functions,
                        unbound_escape: binding_none_escapes(node, cx),
                        binding,
                        scope,
                    });
                }
            }
            m if LISTEN.contains(&m) => {
                let Some(ev) = args.first().and_then(|a| js::string_value(*a, cx)) else {
                    return;
                };
                let named = receiver.is_some();
                let r = receiver.unwrap_or_else(|| compact(cx.text(obj)));
                let handler = args
                    .get(1)
                    .map(|h| js::unwrap_expr(*h))
                    .filter(|h| js::is_function(*h));
                if ev == "data"
                    && m != "addEventListener"
                    && (self.is_stream(obj, cx) || self.streams.contains(&r))
                {
                    let pauses = handler.is_some_and(|h| cx.text(h).contains(".pause()"));
                    let fact = cx
                        .fact_range(
                            "stream_data_handler",
                            "stream",
                            Role::Consumer,
                            node.start_byte()..args[0].end_byte(),
                        )
                        .name("data")
                        .attr("receiver", r.clone())
                        .attr("handler_async", handler.is_some_and(js::is_async))
                        .attr("pauses", pauses);
                    cx.emit(fact);
                }
                let handler_range = handler.map(|h| h.byte_range());
                let handler_name = args
                    .get(1)
                    .filter(|h| h.kind() == "identifier")
                    .map(|h| cx.text(*h).to_string());
                // Worker side: `parentPort.on('message', ...)`.
                if self.is_port(&r) && ev == "message" {
                    self.listens_message = true;
                    self.port_use(node.byte_range());
                }
                if named {
                    self.listens.push(Listen {
                        at: node.byte_range(),
                        receiver: r,
                        event: ev,
                        handler: handler_range,
                        handler_name,
                    });
                }
            }
            "postMessage" if receiver.as_deref().is_some_and(|r| self.is_port(r)) => {
                self.posts_message = true;
                self.port_use(node.byte_range());
            }
            "pipe" => {
                // Only the outermost call of a chain.
                let outer = cx
                    .parent(node)
                    .filter(|p| p.kind() == "member_expression")
                    .and_then(|p| p.field("property"))
                    .is_some_and(|p| cx.text(p) == "pipe");
                if outer {
                    return;
                }
                let Some((source, dests)) = self.pipe_chain(node, cx) else {
                    return;
                };
                let (src, chained_error) = self.strip_listener_chain(source, cx);
                let source_text = js::member_path(src, cx);
                let destinations: Vec<(String, bool)> = dests
                    .iter()
                    .map(|d| {
                        let p = js::member_path(*d, cx);
                        let named = p.is_some();
                        (p.unwrap_or_else(|| compact(cx.text(*d))), named)
                    })
                    .collect();
                if let Some(b) = js::binding_of(node, cx) {
                    self.streams.insert(b);
                }
                self.pipes.push(Pipe {
                    at: node.byte_range(),
                    source_named: source_text.is_some(),
                    source: source_text.unwrap_or_else(|| compact(cx.text(src))),
                    source_chained_error: chained_error,
                    destinations,
                    in_handler: js::enclosing_handlers(node, cx).first().map(|h| h.0),
                });
            }
            "write" => self.on_write(node, obj, receiver, cx),
            _ => {}
        }
    }

    fn on_pipeline(
        &mut self,
        node: Node<'_>,
        args: &[Node<'_>],
        promise: bool,
        cx: &mut FileCx<'_>,
    ) {
        let mut streams: Vec<Node<'_>> = args.to_vec();
        let callback = promise
            || streams.last().is_some_and(|l| {
                let l = js::unwrap_expr(*l);
                js::is_function(l)
                    || l.kind() == "identifier" && self.functions.contains_key(cx.text(l))
            })
            || cx
                .parent(node)
                .is_some_and(|p| p.kind() == "await_expression");
        if streams
            .last()
            .is_some_and(|l| js::is_function(js::unwrap_expr(*l)))
        {
            streams.pop();
        }
        let Some(first) = streams.first() else {
            return;
        };
        let text = |n: Node<'_>| js::member_path(n, cx).unwrap_or_else(|| compact(cx.text(n)));
        let source = text(*first);
        let destinations: Vec<String> = streams[1..].iter().map(|d| text(*d)).collect();
        let fact = cx
            .fact("stream_pipe", "stream", Role::Producer, node)
            .name(source.clone())
            .attr("method", "pipeline")
            .attr("source", source)
            .attr("destinations", destinations)
            .attr("callback", callback)
            .attr_opt(
                "in_handler",
                js::enclosing_handlers(node, cx).first().map(|h| h.0),
            );
        cx.emit(fact);
    }

    fn on_write(
        &mut self,
        node: Node<'_>,
        obj: Node<'_>,
        receiver: Option<String>,
        cx: &mut FileCx<'_>,
    ) {
        let Some(r) = receiver else { return };
        // Console output of a CLI is not a channel worth an inventory entry.
        if matches!(r.as_str(), "process.stdout" | "process.stderr") {
            return;
        }
        if !(self.streams.contains(&r) || self.is_stream(obj, cx)) {
            return;
        }
        let mut loop_node = js::loop_of(node, cx);
        // A loop over several streams (`for (const s of outputs) s.write(line)`, or a
        // receiver reassigned in the body) writes each stream once per iteration.
        if let Some(l) = loop_node
            && per_iteration(l, &r, cx)
        {
            loop_node = None;
        }
        let data_handler = data_handler_of(node, cx);
        if loop_node.is_none() && data_handler.is_none() {
            return;
        }
        let parent = cx.parent(node);
        let result_used = !parent.is_some_and(|p| {
            p.kind() == "expression_statement"
                || (p.kind() == "sequence_expression")
                || (p.kind() == "unary_expression" && cx.text(p).starts_with("void"))
        });
        let scope = loop_node
            .or(data_handler)
            .and_then(|n| js::enclosing_function(n, cx))
            .map(|f| cx.text(f))
            .unwrap_or(cx.text);
        let waits_drain = ["'drain'", "\"drain\"", "`drain`"]
            .iter()
            .any(|d| scope.contains(d));
        let fact = cx
            .fact("stream_write", "stream", Role::Producer, node)
            .attr("receiver", r)
            .attr("result_used", result_used)
            .attr("in_loop", loop_node.is_some())
            .attr("in_data_handler", data_handler.is_some())
            .attr("waits_drain", waits_drain);
        cx.emit(fact);
    }

    fn is_port(&self, path: &str) -> bool {
        match path.split_once('.') {
            None => self
                .named
                .get(path)
                .is_some_and(|(m, n)| *m == "worker_threads" && n == "parentPort"),
            Some((head, "parentPort")) => self.modules.get(head) == Some(&"worker_threads"),
            _ => false,
        }
    }

    fn port_use(&mut self, at: Range<usize>) {
        if self.port_first.is_none() {
            self.port_first = Some(at);
        }
    }

    fn on_identifier(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let text = cx.text(node);
        let Some((m, n)) = self.named.get(text) else {
            // `wt.workerData`
            if self.modules.get(text) == Some(&"worker_threads")
                && let Some(p) = cx.parent(node).filter(|p| p.kind() == "member_expression")
                && p.field("property")
                    .is_some_and(|x| cx.text(x) == "workerData")
            {
                self.reads_worker_data = true;
                self.port_use(p.byte_range());
            }
            return;
        };
        if *m != "worker_threads" || n != "workerData" {
            return;
        }
        if cx
            .parent(node)
            .is_some_and(|p| matches!(p.kind(), "import_specifier" | "pair_pattern"))
        {
            return;
        }
        self.reads_worker_data = true;
        self.port_use(node.byte_range());
    }

    fn listeners_of(&self, receiver: &str, scope: Option<&Range<usize>>) -> HashSet<&str> {
        self.listens
            .iter()
            .filter(|l| l.receiver == receiver && scope.is_none_or(|s| js::within(&l.at, s)))
            .map(|l| l.event.as_str())
            .collect()
    }
}

/// Whether an unbound `new Worker(...)` / `cluster.fork()` is handed elsewhere (returned,
/// passed to a call, stored in an array or object) rather than being a statement of its own
/// (possibly with chained listeners).
fn binding_none_escapes(node: Node<'_>, cx: &FileCx<'_>) -> bool {
    if js::binding_of(node, cx).is_some() {
        return false;
    }
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        match p.kind() {
            "parenthesized_expression" | "await_expression" | "as_expression" => n = p,
            // `new Worker(f).on('error', h)`: the chain's call.
            "member_expression" => match cx.parent(p).filter(|c| c.kind() == "call_expression") {
                Some(c) => n = c,
                None => return true,
            },
            "expression_statement" => return false,
            _ => return true,
        }
    }
    false
}

/// Whether a loop binds `receiver` anew on each iteration: it is the loop variable, a
/// callback parameter of `forEach`/`map`, or assigned inside the body.
fn per_iteration(l: Node<'_>, receiver: &str, cx: &FileCx<'_>) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let head = receiver.split('.').next().unwrap_or(receiver);
    if let Some(left) = l.field("left")
        && cx
            .text(left)
            .split(|c: char| !is_word(c))
            .any(|w| w == head)
    {
        return true;
    }
    if l.kind() == "call_expression"
        && let Some(f) = js::arguments(l).into_iter().find(|a| js::is_function(*a))
        && js::param_names(f, cx).iter().any(|p| p == head)
    {
        return true;
    }
    let body = cx.text(l);
    [receiver, head]
        .iter()
        .any(|name| assigned_in(body, name, is_word))
}

fn assigned_in(body: &str, receiver: &str, is_word: impl Fn(char) -> bool) -> bool {
    let mut from = 0;
    while let Some(i) = body.get(from..).and_then(|r| r.find(receiver)) {
        let at = from + i;
        let before_ok = !body[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_word(c) || c == '.');
        let after = body[at + receiver.len()..].trim_start();
        if before_ok
            && after.starts_with('=')
            && !after.starts_with("==")
            && !after.starts_with("=>")
        {
            return true;
        }
        from = at + receiver.len();
    }
    false
}

/// The `'data'` handler a node is inside of, if any (in its own function).
fn data_handler_of<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Option<Node<'t>> {
    let f = js::enclosing_function(node, cx)?;
    let call = cx
        .parent(f)
        .filter(|a| a.kind() == "arguments")
        .and_then(|a| cx.parent(a))?;
    let prop = call
        .field("function")
        .and_then(|x| x.field("property"))
        .map(|p| cx.text(p))?;
    let ev = js::arguments(call)
        .first()
        .and_then(|a| js::string_value(*a, cx))?;
    (LISTEN.contains(&prop) && ev == "data").then_some(f)
}

fn function_name(f: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    if let Some(n) = f.field("name") {
        return Some(cx.text(n).to_string());
    }
    let p = cx.parent(f)?;
    (p.kind() == "variable_declarator")
        .then(|| p.field("name"))
        .flatten()
        .map(|n| cx.text(n).to_string())
}

fn compact(text: &str) -> String {
    let s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 80 {
        let mut t: String = s.chars().take(80).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// The script of `new Worker(script)`, as a path relative to the scan root, where it can be
/// worked out: `__filename`, `'./w.js'` (taken relative to the creating file),
/// `path.join(__dirname, 'w.js')`, `` `${__dirname}/w.js` ``, `__dirname + '/w.js'`,
/// `new URL('./w.js', import.meta.url)`.
fn resolve_script(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let node = js::unwrap_expr(node);
    let dir = cx.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let rel: String = match node.kind() {
        "identifier" if cx.text(node) == "__filename" => return Some(cx.path.to_string()),
        "string" => js::string_value(node, cx)?,
        "template_string" => {
            let t = cx.text(node);
            t.strip_prefix("`${__dirname}")?
                .strip_suffix('`')?
                .trim_start_matches('/')
                .to_string()
        }
        "binary_expression" => {
            let l = node.field("left")?;
            let r = node.field("right")?;
            if cx.text(l) != "__dirname" {
                return None;
            }
            js::string_value(r, cx)?.trim_start_matches('/').to_string()
        }
        "call_expression" => {
            let f = js::member_path(node.field("function")?, cx)?;
            if !matches!(
                f.as_str(),
                "path.join" | "path.resolve" | "join" | "resolve"
            ) {
                return None;
            }
            let args = js::arguments(node);
            let (first, rest) = args.split_first()?;
            if !matches!(cx.text(*first), "__dirname" | "import.meta.dirname") {
                return None;
            }
            let parts: Option<Vec<String>> =
                rest.iter().map(|a| js::string_value(*a, cx)).collect();
            parts?.join("/")
        }
        "new_expression" => {
            let c = node.field("constructor")?;
            if cx.text(c) != "URL" {
                return None;
            }
            let args = js::arguments(node);
            if args.get(1).map(|a| cx.text(*a)) != Some("import.meta.url") {
                return None;
            }
            js::string_value(*args.first()?, cx)?
        }
        _ => return None,
    };
    if rel.starts_with('/') || rel.contains("://") {
        return None;
    }
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

impl<'t> Visitor<'t> for RtVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" => self.on_import(node, cx),
            "variable_declarator" => self.on_declarator(node, cx),
            "class_declaration" | "class" => self.on_class(node, cx),
            "new_expression" => self.on_new(node, cx),
            "call_expression" => self.on_call(node, cx),
            "identifier" if !self.named.is_empty() || !self.modules.is_empty() => {
                self.on_identifier(node, cx)
            }
            "return_statement" => {
                if let Some(v) = node.named_child(0).filter(|v| v.kind() == "identifier") {
                    self.escapes.push((cx.text(v).to_string(), v.start_byte()));
                }
            }
            _ => {}
        }
        if js::is_function(node)
            && node.kind() == "function_declaration"
            && let Some(n) = node.field("name")
        {
            self.functions
                .insert(cx.text(n).to_string(), node.byte_range());
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        // Workers.
        for w in &self.workers {
            let mut events: HashSet<&str> = w.chained.iter().map(String::as_str).collect();
            let mut escapes = w.unbound_escape;
            if let Some(b) = &w.binding {
                events.extend(self.listeners_of(b, w.scope.as_ref()));
                escapes = self
                    .escapes
                    .iter()
                    .any(|(n, at)| n == b && w.scope.as_ref().is_none_or(|s| s.contains(at)));
            }
            let has_error = events.contains("error");
            let has_exit = events.contains("exit");
            let missing: Vec<&str> = [("error", has_error), ("exit", has_exit)]
                .iter()
                .filter(|(_, h)| !h)
                .map(|(e, _)| *e)
                .collect();
            let fact = cx
                .fact_range(
                    "worker_thread",
                    "worker_threads",
                    Role::Producer,
                    w.at.clone(),
                )
                .name_opt(w.name.clone())
                .attr_opt("script", w.script.clone())
                .attr_opt("binding", w.binding.clone())
                .attr("has_error_listener", has_error)
                .attr("has_exit_listener", has_exit)
                .attr("missing_listeners", missing)
                .attr("escapes", escapes)
                .attr_opt("in_handler", w.in_handler)
                .attr("in_loop", w.in_loop)
                .attr("eval", w.eval);
            cx.emit(fact);
        }
        if let Some(at) = &self.port_first {
            let fact = cx
                .fact_range(
                    "worker_thread",
                    "worker_threads",
                    Role::Consumer,
                    at.clone(),
                )
                .name(cx.path)
                .attr("listens_message", self.listens_message)
                .attr("posts_message", self.posts_message)
                .attr("reads_worker_data", self.reads_worker_data);
            cx.emit(fact);
        }
        // Cluster forks.
        if !self.forks.is_empty() {
            let cluster_names: HashSet<&str> = self
                .modules
                .iter()
                .filter(|(_, m)| **m == "cluster")
                .map(|(n, _)| n.as_str())
                .collect();
            // `'disconnect'` follows every worker exit too (throng respawns on it).
            let exit_like = |e: &str| matches!(e, "exit" | "death" | "disconnect");
            let exit_handlers: Vec<&Range<usize>> = self
                .listens
                .iter()
                .filter(|l| {
                    exit_like(&l.event)
                        && (cluster_names.contains(l.receiver.as_str()) || l.receiver != "process")
                })
                .filter_map(|l| {
                    l.handler
                        .as_ref()
                        .or_else(|| l.handler_name.as_ref().and_then(|n| self.functions.get(n)))
                })
                .collect();
            let has_exit = self
                .listens
                .iter()
                .any(|l| exit_like(&l.event) && cluster_names.contains(l.receiver.as_str()));
            // Functions that fork, directly or through other functions of the file.
            let mut forking: HashSet<String> = self
                .forks
                .iter()
                .flat_map(|f| f.functions.iter().cloned())
                .collect();
            loop {
                let before = forking.len();
                for (name, range) in &self.functions {
                    if forking.contains(name) {
                        continue;
                    }
                    if self
                        .calls
                        .iter()
                        .any(|(c, at)| range.contains(at) && forking.contains(c))
                    {
                        forking.insert(name.clone());
                    }
                }
                if forking.len() == before {
                    break;
                }
            }
            let respawns = exit_handlers.iter().any(|h| {
                self.forks.iter().any(|f| js::within(&f.at, h))
                    || self
                        .calls
                        .iter()
                        .any(|(c, at)| h.contains(at) && forking.contains(c))
            });
            let exits = exit_handlers
                .iter()
                .any(|h| self.exits.iter().any(|at| h.contains(at)));
            for f in &self.forks {
                let escapes = f.unbound_escape
                    || f.binding.as_ref().is_some_and(|b| {
                        self.escapes.iter().any(|(n, at)| {
                            n == b && f.scope.as_ref().is_none_or(|s| s.contains(at))
                        })
                    });
                let fact = cx
                    .fact_range("cluster_fork", "cluster", Role::Definition, f.at.clone())
                    .attr("has_exit_listener", has_exit)
                    .attr("respawns", respawns)
                    .attr("exit_handler_exits", exits)
                    .attr(
                        "in_exit_handler",
                        exit_handlers.iter().any(|h| js::within(&f.at, h)),
                    )
                    .attr("in_loop", f.in_loop)
                    .attr("escapes", escapes);
                cx.emit(fact);
            }
        }
        // Pipes.
        for p in &self.pipes {
            let handled = |name: &str| {
                self.finished.contains(name) || self.listeners_of(name, None).contains("error")
            };
            let source_error = p.source_chained_error
                || (p.source_named
                    && (handled(&p.source)
                        || self.aliases.get(&p.source).is_some_and(|a| handled(a))));
            let without: Vec<String> = p
                .destinations
                .iter()
                .filter(|(d, named)| {
                    *named
                        && !self.listeners_of(d, None).contains("error")
                        && !d.starts_with("process.")
                })
                .map(|(d, _)| d.clone())
                .collect();
            let fact = cx
                .fact_range("stream_pipe", "stream", Role::Producer, p.at.clone())
                .name(p.source.clone())
                .attr("method", "pipe")
                .attr("source", p.source.clone())
                .attr(
                    "destinations",
                    p.destinations
                        .iter()
                        .map(|(d, _)| d.clone())
                        .collect::<Vec<_>>(),
                )
                .attr("source_has_error_listener", source_error)
                .attr("destinations_without_error_listener", without)
                .attr_opt("in_handler", p.in_handler);
            cx.emit(fact);
        }
    }
}

/// Workers reach the script they run: a producer's name is the script path, a consumer's
/// its own path; both are compared without extension (`worker.js` built from `worker.ts`).
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    let stem = |p: &str| -> String {
        let (dir, file) = p.rsplit_once('/').map_or(("", p), |(d, f)| (d, f));
        let base = file.split_once('.').map_or(file, |(b, _)| b);
        if dir.is_empty() {
            base.to_string()
        } else {
            format!("{dir}/{base}")
        }
    };
    let consumers: Vec<(String, &crate::Fact)> = facts
        .iter()
        .filter(|f| f.kind == "worker_thread" && f.role == Role::Consumer)
        .filter_map(|f| Some((stem(f.name.as_deref()?), f)))
        .collect();
    for (name, f) in &consumers {
        linker.consumer("worker_threads", name, None, f);
    }
    for f in facts
        .iter()
        .filter(|f| f.kind == "worker_thread" && f.role == Role::Producer)
    {
        let Some(name) = &f.name else { continue };
        let mut target = stem(name);
        // A bare './w.js' is resolved by Node against the working directory: try the root.
        if !consumers.iter().any(|(c, _)| *c == target)
            && let Some(script) = f.attr("script").and_then(Value::as_str)
        {
            let raw = script.trim_matches(|c| c == '\'' || c == '"' || c == '`');
            let alt = stem(raw.trim_start_matches("./"));
            if consumers.iter().any(|(c, _)| *c == alt) {
                target = alt;
            }
        }
        linker.producer("worker_threads", &target, None, f);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use msgscan_lang::{FileParser, Language};

    fn names(path: &str, src: &str) -> Vec<(String, Option<String>)> {
        let mut p = FileParser::new(std::time::Duration::from_secs(5));
        let parsed = p.parse(Language::TypeScript, src).unwrap();
        crate::detect(path, src, &parsed)
            .into_iter()
            .filter(|f| f.kind == "worker_thread")
            .map(|f| (f.role.as_str().to_string(), f.name))
            .collect()
    }

    #[test]
    fn worker_scripts_resolve_against_the_creating_file() {
        let src = "import { Worker, parentPort } from 'node:worker_threads';\n\
                   import path from 'node:path';\n\
                   new Worker(path.join(__dirname, '..', 'jobs', 'a.js')).on('error', e => e).on('exit', c => c);\n\
                   new Worker(new URL('./b.js', import.meta.url));\n\
                   new Worker(`${__dirname}/c.js`);\n\
                   new Worker(__dirname + '/d.js');\n\
                   new Worker(__filename);\n\
                   new Worker(scriptFor(job));\n\
                   new Worker('postMessage(1)', { eval: true });\n\
                   parentPort?.postMessage('ready');\n";
        let got = names("src/pool/index.ts", src);
        let want: Vec<(String, Option<String>)> = vec![
            ("producer", Some("src/jobs/a.js")),
            ("producer", Some("src/pool/b.js")),
            ("producer", Some("src/pool/c.js")),
            ("producer", Some("src/pool/d.js")),
            ("producer", Some("src/pool/index.ts")),
            ("producer", None),
            ("producer", None),
            ("consumer", Some("src/pool/index.ts")),
        ]
        .into_iter()
        .map(|(r, n)| (r.to_string(), n.map(str::to_string)))
        .collect();
        assert_eq!(got, want);
    }

    /// Whether the prefilter admits `src` for node-runtime, and how many facts it finds.
    fn run(src: &str) -> (bool, usize) {
        let mut p = FileParser::new(std::time::Duration::from_secs(5));
        let parsed = p.parse(Language::TypeScript, src).unwrap();
        let (_, admitted, facts) = crate::fuzzing::detect_each("src/app.ts", src, &parsed)
            .into_iter()
            .find(|(name, _, _)| *name == "node-runtime")
            .unwrap();
        (admitted, facts.len())
    }

    #[test]
    fn admits_every_emission_path() {
        for src in [
            // worker_thread producer and consumer
            "import { Worker } from 'node:worker_threads';\nconst w = new Worker('./w.js');\n",
            "const { parentPort } = require('worker_threads');\nparentPort.on('message', (m) => m);\n",
            "import * as wt from 'worker_threads';\nconsole.log(wt.workerData);\n",
            // cluster_fork
            "import cluster from 'cluster';\nif (cluster.isPrimary) cluster.fork();\n",
            // stream_pipe by pipeline (named, of the module, promises)
            "const { pipeline } = require('stream');\npipeline(a, b, (err) => err);\n",
            "import stream from 'node:stream';\nstream.pipeline(a, b, done);\n",
            "import { pipeline as pipe } from 'stream/promises';\nawait pipe(a, b);\n",
            // stream_pipe by .pipe(): a factory, process stdio, a name ending in `stream`,
            // an HTTP response, a zlib stream
            "import fs from 'fs';\nfs.createReadStream('a').pipe(process.stdout);\n",
            "function copy(inStream, out) {\n  inStream\n    .pipe(out);\n}\n",
            "function copy(src, upload) {\n  src.pipe((upload.bodyStream as any));\n}\n",
            "app.get('/file', (req, res) => { file.pipe(res); });\n",
            "import zlib from 'zlib';\nsrc.pipe(zlib.createGzip()).pipe(dst);\n",
            // stream_data_handler
            "process.stdin.on('data', (chunk) => chunk);\n",
            "function read(sock, fileStream) { fileStream.once(`data`, (c) => c); }\n",
            // stream_write in a loop and in a 'data' handler
            "import fs from 'fs';\nconst out = fs.createWriteStream('x');\nfor (const l of lines) out.write(l);\n",
            "function f(inStream, outStream) {\n  inStream.on('data', (c) => { outStream.write(c); });\n}\n",
        ] {
            assert!(run(src).0, "ruled out:\n{src}");
            assert!(
                run(src).1 > 0,
                "no fact (the snippet tests nothing):\n{src}"
            );
        }
    }

    #[test]
    fn rules_out_near_misses() {
        for src in [
            // RxJS and jQuery pipes
            "import { map } from 'rxjs';\nsource$.pipe(map((x) => x));\n",
            "deferred.pipe(function (v) { return v; });\n",
            // streams in comments and prose only
            "// the stream is piped: src.pipe(dst)\nconst x = 1;\n",
            "/** Returns a stream of values. */\nexport const values = (s) => s.pipe(take(1));\n",
            // a BullMQ worker, a cluster in data, a Redis pipeline method
            "import { Worker } from 'bullmq';\nnew Worker('emails', async (job) => job.data);\n",
            "const topology = { kind: 'cluster', fork: true };\n",
            "import { Readable } from 'stream';\nclass C {\n  a() {}\n  pipeline() { return this.multi(); }\n}\n",
            // writes and 'data' listeners on things that are not known streams
            "for (const m of msgs) socket.write(m);\nemitter.on('data', (d) => d);\n",
            "this.options.get('data');\nconst req = http.request(url);\n",
        ] {
            assert_eq!(run(src), (false, 0), "admitted:\n{src}");
        }
    }

    #[test]
    fn other_workers_are_not_worker_threads() {
        let src = "import { Worker } from 'bullmq';\n\
                   const w = new Worker('emails', async (job) => job.data);\n";
        assert!(names("src/queue.ts", src).is_empty());
    }
}
