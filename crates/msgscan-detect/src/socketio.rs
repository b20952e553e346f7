//! Socket.IO: servers, event handlers and emits, in Python (Flask-SocketIO, python-socketio)
//! and JavaScript/TypeScript (socket.io, socket.io-client).
//!
//! ## Facts
//! - `socketio_server`: `SocketIO(app, ...)`, `socketio.init_app(app, ...)`,
//!   `socketio.Server/AsyncServer(...)`, python-socketio clients and external emitters
//!   (`socketio.RedisManager(...)`), `new Server(httpServer, {...})`,
//!   `require('socket.io')(srv, opts)`, socket.io-client `io(url)`.
//! - `socketio_handler`: `@socketio.on('evt', namespace=...)`, `@socketio.event`,
//!   `socketio.on_event('evt', fn)`, `on_<event>` methods of `Namespace` classes,
//!   `io.on('connection', ...)`, `socket.on('evt', ...)` on a server-side or client socket.
//! - `socketio_emit`: `emit(...)`/`send(...)` from `flask_socketio`, `socketio.emit`,
//!   `sio.emit`, `self.emit` in a namespace class, `io.emit`, `socket.emit`,
//!   `io.to(room).emit`, `socket.broadcast.emit`, `io.of('/ns').emit`, client emits.
//!
//! Everything is recognised through what the file imports and binds: an `emit` on a Vue
//! component or an `.on` of an unrelated object is not a fact.

use std::collections::{HashMap, HashSet};

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FactBuilder, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::prefilter::{Candidate, Present, Words, any_word, identifier_around, word_around};
use crate::walk::descendants;
use crate::{js, py};

pub(crate) struct SocketIoPy;
pub(crate) struct SocketIoJs;

pub(crate) const TRANSPORT: &str = "socketio";

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "socketio_server",
        transport: TRANSPORT,
        doc: "A Socket.IO server, client or external emitter. Name: the binding, if any.",
        attrs: attrs! {
            "library": String = "`flask_socketio`, `python-socketio`, `socket.io` or `socket.io-client`",
            "via": String = "how it was made: `SocketIO`, `init_app`, `Server`, `AsyncServer`, `Client`, `AsyncClient`, `RedisManager`..., `new Server`, `require`, `io`",
            "side": String = "`server` or `client`",
            "cors_allowed_origins": Value = "Python `cors_allowed_origins=`; JS `cors.origin` (or v2 `origins`)",
            "cors_wildcard": Bool = "any origin is allowed: `*`, a list with `*`, or JS `origin: true`",
            "cors_credentials": Bool = "JS `cors.credentials: true`",
            "message_queue": Value = "`message_queue=` (Flask-SocketIO) or `client_manager=` (python-socketio)",
            "has_message_queue": Bool = "a message queue or client manager is configured here (external emitters always)",
            "async_mode": Value = "`async_mode=`",
            "namespace": String = "client: the namespace in the URL (`/` by default)",
            "adapter": String = "JS: the adapter package or call used in the file (`@socket.io/redis-adapter`, `io.adapter`)",
            "has_middleware": Bool = "JS: the file registers `io.use(...)` / `namespace.use(...)` middleware",
        },
    },
    KindSpec {
        kind: "socketio_handler",
        transport: TRANSPORT,
        doc: "An event handler. Name: the event (`connect` for connection handlers).",
        attrs: attrs! {
            "function": String = "the handler function, where named",
            "namespace": String = "the namespace (`/` by default)",
            "side": String = "`server` (handles client events) or `client` (handles server events)",
            "receiver": String = "the server, namespace or socket it is registered on, as written",
            "via": String = "`on`, `event`, `on_event`, `namespace_class`, `connection` or `socket.on`",
            "is_connect": Bool = "a server-side connection handler",
            "authenticates": Bool = "connection handlers: rejects (`return False`, `ConnectionRefusedError`, `disconnect`) or reads credentials (`auth`, `request.args`, `current_user`, `session`, `environ`, `socket.handshake.auth`, a verify/token call); JS: also true when the file registers middleware",
            "has_middleware": Bool = "JS connection handlers: `io.use(...)`/`namespace.use(...)` is registered in the file",
            "is_async": Bool = "the handler is `async`",
            "blocking_calls": List = "Python: blocking calls in the body (`time.sleep`, `requests.get`, `subprocess.run`...)",
        },
    },
    KindSpec {
        kind: "socketio_emit",
        transport: TRANSPORT,
        doc: "An emit. Name: the event (`message` for `send`).",
        attrs: attrs! {
            "method": String = "`emit`, `send` or `emitWithAck`",
            "receiver": String = "what it is called on, as written (`socketio`, `io.to(room)`, `socket.broadcast`); `flask_socketio` for the context-bound `emit()`",
            "side": String = "`server` (to clients) or `client` (to the server)",
            "namespace": String = "the namespace (`/` by default)",
            "literal": Bool = "the event name is a string literal",
            "to": Value = "`to=`/`room=` (Python) or the `.to()`/`.in()` room (JS)",
            "broadcast": Value = "`broadcast=` (Python) or `.broadcast` (JS)",
            "in_handler": Bool = "inside a Socket.IO event handler",
            "in_celery_task": Bool = "Python: inside a Celery task (another process than the server)",
            "server_message_queue": String = "Python: whether the server it is emitted through has a message queue: `set`, `unset` or `unknown` (defined in another file)",
        },
    },
];

/// Events Socket.IO reserves; they never travel between client and server as user events.
pub(crate) const RESERVED: &[&str] = &[
    "connect",
    "connection",
    "disconnect",
    "disconnecting",
    "connect_error",
    "error",
    "newListener",
    "removeListener",
    "reconnect",
    "reconnect_attempt",
    "reconnect_error",
    "reconnect_failed",
    "ping",
];

// ---------------------------------------------------------------------------------------
// Python

impl Detector for SocketIoPy {
    fn name(&self) -> &'static str {
        "socketio-py"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Python]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "import_from_statement",
            "decorated_definition",
            "class_definition",
            "call",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        // `socketio` also covers `flask_socketio` and `socketio_app`.
        &["socketio", "sio", "socket_io"]
    }
    /// A necessary condition of each way `PyVisitor` emits a fact. A canonical name
    /// (`socketio.Server`, `flask_socketio.emit`) is made of identifiers of the file: the
    /// module `socketio` / `flask_socketio` and the last name are both written in it.
    /// - a server constructor (`PY_SERVER_CTORS`) or a `Namespace` class (`PY_NAMESPACE_BASES`;
    ///   `self.emit` and namespace handlers need one): the module and the class name;
    /// - `flask_socketio.emit` / `.send`: `flask_socketio` and `emit` / `send`;
    /// - a server imported from another module (`from .ext import sio`): one of
    ///   `socketio`, `sio`, `socket_io`, `socketio_app`, `import`, and a use of it: `emit`,
    ///   `send`, `init_app`, `on_event`, `start_background_task`, or a decorator `@..on` /
    ///   `@..event`. (Handlers, emits, `init_app` and background tasks on a server built
    ///   here need its constructor.)
    fn admits(&self, file: &Candidate<'_>) -> bool {
        let w = Present::of(file.text, &PY_WORDS, PY_WORD_LIST, word_around);
        if w.any(&["socketio", "flask_socketio"])
            && (PY_SERVER_CTORS
                .iter()
                .any(|(name, _)| w.has(last_name(name)))
                || PY_NAMESPACE_BASES
                    .iter()
                    .any(|(name, _)| w.has(last_name(name))))
        {
            return true;
        }
        if w.has("flask_socketio") && w.any(&["emit", "send"]) {
            return true;
        }
        w.any(&["socketio", "sio", "socket_io", "socketio_app"])
            && w.has("import")
            && (w.any(&[
                "emit",
                "send",
                "init_app",
                "on_event",
                "start_background_task",
            ]) || file.has("@")
                && any_word(
                    file.text,
                    &PY_DECORATOR_WORDS,
                    PY_DECORATOR_LIST,
                    word_around,
                    |x| PY_DECORATOR_LIST.contains(&x),
                ))
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<PyVisitor>::default()
    }
}

/// The last dotted part of a canonical name.
fn last_name(canonical: &str) -> &str {
    canonical.rsplit('.').next().unwrap_or(canonical)
}

/// The Python identifiers `SocketIoPy::admits` looks for: modules, the last names of
/// `PY_SERVER_CTORS` and `PY_NAMESPACE_BASES`, uses of a server.
const PY_WORD_LIST: &[&str] = &[
    "socketio",
    "flask_socketio",
    "sio",
    "socket_io",
    "socketio_app",
    "import",
    "SocketIO",
    "Server",
    "AsyncServer",
    "Client",
    "AsyncClient",
    "SimpleClient",
    "AsyncSimpleClient",
    "RedisManager",
    "AsyncRedisManager",
    "KombuManager",
    "KafkaManager",
    "ZmqManager",
    "AioPikaManager",
    "AsyncAioPikaManager",
    "Namespace",
    "AsyncNamespace",
    "ClientNamespace",
    "AsyncClientNamespace",
    "emit",
    "send",
    "init_app",
    "on_event",
    "start_background_task",
];
static PY_WORDS: Words = Words::new(PY_WORD_LIST);
/// Handler decorators: `@sio.on(...)`, `@sio.event`.
const PY_DECORATOR_LIST: &[&str] = &["on", "event"];
static PY_DECORATOR_WORDS: Words = Words::new(PY_DECORATOR_LIST);

/// Server constructors by canonical name: (library, via, side, has a message queue by
/// construction).
type ServerCtor = (&'static str, &'static str, &'static str, bool);
const PY_SERVER_CTORS: &[(&str, ServerCtor)] = &[
    (
        "flask_socketio.SocketIO",
        ("flask_socketio", "SocketIO", "server", false),
    ),
    (
        "socketio.Server",
        ("python-socketio", "Server", "server", false),
    ),
    (
        "socketio.AsyncServer",
        ("python-socketio", "AsyncServer", "server", false),
    ),
    (
        "socketio.Client",
        ("python-socketio", "Client", "client", false),
    ),
    (
        "socketio.AsyncClient",
        ("python-socketio", "AsyncClient", "client", false),
    ),
    (
        "socketio.SimpleClient",
        ("python-socketio", "SimpleClient", "client", false),
    ),
    (
        "socketio.AsyncSimpleClient",
        ("python-socketio", "AsyncSimpleClient", "client", false),
    ),
    (
        "socketio.RedisManager",
        ("python-socketio", "RedisManager", "server", true),
    ),
    (
        "socketio.AsyncRedisManager",
        ("python-socketio", "AsyncRedisManager", "server", true),
    ),
    (
        "socketio.KombuManager",
        ("python-socketio", "KombuManager", "server", true),
    ),
    (
        "socketio.KafkaManager",
        ("python-socketio", "KafkaManager", "server", true),
    ),
    (
        "socketio.ZmqManager",
        ("python-socketio", "ZmqManager", "server", true),
    ),
    (
        "socketio.AioPikaManager",
        ("python-socketio", "AioPikaManager", "server", true),
    ),
    (
        "socketio.AsyncAioPikaManager",
        ("python-socketio", "AioPikaManager", "server", true),
    ),
];

/// Base classes of namespace classes by canonical name → side.
const PY_NAMESPACE_BASES: &[(&str, &str)] = &[
    ("flask_socketio.Namespace", "server"),
    ("socketio.Namespace", "server"),
    ("socketio.AsyncNamespace", "server"),
    ("socketio.ClientNamespace", "client"),
    ("socketio.AsyncClientNamespace", "client"),
];

/// A handler decorator: (receiver, server, event, namespace, via).
type HandlerDecorator = (
    String,
    PyServer,
    Option<String>,
    Option<String>,
    &'static str,
);

#[derive(Clone)]
struct PyServer {
    side: &'static str,
    /// `set`, `unset` or `unknown`.
    mq: &'static str,
}

struct Pending {
    fact: FactBuilder,
    /// The namespace is the one of this namespace class, once known.
    ns_class: Option<String>,
    namespace: Option<String>,
}

#[derive(Default)]
struct PyVisitor {
    /// local name → canonical dotted name (`SocketIO` → `flask_socketio.SocketIO`).
    aliases: HashMap<String, String>,
    servers: HashMap<String, PyServer>,
    /// Namespace class name → side.
    ns_classes: HashMap<String, &'static str>,
    /// Namespace class → namespace, from `on_namespace(Cls('/chat'))`.
    ns_of_class: HashMap<String, String>,
    pending: Vec<Pending>,
}

const PY_BLOCKING: &[&str] = &[
    "time.sleep",
    "requests.get",
    "requests.post",
    "requests.put",
    "requests.patch",
    "requests.delete",
    "requests.head",
    "requests.request",
    "urllib.request.urlopen",
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "os.system",
    "smtplib.SMTP",
    "smtplib.SMTP_SSL",
];

fn is_celery_task_decorator(text: &str) -> bool {
    let callee = text.split('(').next().unwrap_or(text).trim();
    callee == "shared_task" || callee.ends_with(".task") || callee == "task"
}

impl PyVisitor {
    fn canonical(&self, parts: &[&str]) -> String {
        let head = parts.first().copied().unwrap_or_default();
        let mut out = self
            .aliases
            .get(head)
            .cloned()
            .unwrap_or_else(|| head.to_string());
        for p in parts.iter().skip(1) {
            out.push('.');
            out.push_str(p);
        }
        out
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let from = node.field("module_name").map(|m| cx.text(m).to_string());
        for (target, local) in py::import_bindings(node, cx) {
            let canonical = match &from {
                Some(m) => format!("{}.{target}", m.trim_start_matches('.')),
                None if local == target => target.split('.').next().unwrap_or(target).to_string(),
                None => target.to_string(),
            };
            let module = from.as_deref().unwrap_or_default();
            // `from .extensions import socketio`: a server defined in another module.
            if from.is_some()
                && !matches!(module, "flask_socketio" | "socketio")
                && matches!(local, "socketio" | "sio" | "socket_io" | "socketio_app")
            {
                self.servers.insert(
                    local.to_string(),
                    PyServer {
                        side: "server",
                        mq: "unknown",
                    },
                );
            }
            let canonical = canonical
                .replace("flask_socketio.namespace.", "flask_socketio.")
                .replace("socketio.server.", "socketio.")
                .replace("socketio.async_server.", "socketio.");
            self.aliases.insert(local.to_string(), canonical);
        }
    }

    /// The canonical name of a call's callee, if it is a dotted name.
    fn callee(&self, call: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
        let f = call.field("function")?;
        let parts = py::dotted(f, cx)?;
        Some(self.canonical(&parts))
    }

    /// A server constructor: (library, via, side, has message queue by construction).
    fn server_ctor(canonical: &str) -> Option<ServerCtor> {
        PY_SERVER_CTORS
            .iter()
            .find(|(name, _)| *name == canonical)
            .map(|(_, ctor)| *ctor)
    }

    #[allow(clippy::too_many_arguments)]
    fn server_fact(
        &mut self,
        node: Node<'_>,
        binding: Option<String>,
        library: &str,
        via: &str,
        side: &'static str,
        manager: bool,
        cx: &FileCx<'_>,
    ) -> FactBuilder {
        let mut fact = cx
            .fact("socketio_server", TRANSPORT, Role::Definition, node)
            .name_opt(binding.clone())
            .attr("library", library)
            .attr("via", via)
            .attr("side", side);
        let mut mq = manager;
        for (k, v) in py::kwargs(node) {
            match cx.text(k) {
                "message_queue" | "client_manager" => {
                    mq = mq || v.kind() != "none";
                    fact = fact.attr("message_queue", py::value(v, cx));
                }
                "cors_allowed_origins" => {
                    let val = py::value(v, cx);
                    let wildcard = match &val {
                        Value::String(s) => s == "*",
                        Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
                        _ => false,
                    };
                    fact = fact
                        .attr("cors_allowed_origins", val)
                        .attr("cors_wildcard", wildcard);
                }
                "async_mode" => fact = fact.attr("async_mode", py::value(v, cx)),
                _ => {}
            }
        }
        if manager
            && via != "init_app"
            && let Some(url) = py::positional(node).first()
        {
            fact = fact.attr("message_queue", py::value(*url, cx));
        }
        fact = fact.attr("has_message_queue", mq);
        if let Some(b) = binding {
            let entry = self
                .servers
                .entry(b)
                .or_insert(PyServer { side, mq: "unset" });
            entry.side = side;
            if mq {
                entry.mq = "set";
            } else if via != "init_app" {
                entry.mq = "unset";
            }
        }
        fact
    }

    /// The server an expression names: a binding of this file, or an imported one.
    fn server_of(&self, node: Node<'_>, cx: &FileCx<'_>) -> Option<(String, PyServer)> {
        let text = cx.text(node);
        self.servers
            .get(text)
            .map(|s| (text.to_string(), s.clone()))
    }

    /// `@X.on('evt', namespace=...)`, `@X.event`, `@X.event(namespace=...)` on a known server:
    /// (receiver, event or None for `event`, namespace, via).
    fn handler_decorator(&self, expr: Node<'_>, cx: &FileCx<'_>) -> Option<HandlerDecorator> {
        let (callee, call) = if expr.kind() == "call" {
            (expr.field("function")?, Some(expr))
        } else {
            (expr, None)
        };
        if callee.kind() != "attribute" {
            return None;
        }
        let obj = callee.field("object")?;
        let method = cx.text(callee.field("attribute")?);
        let (recv, server) = self.server_of(obj, cx)?;
        let namespace = call
            .and_then(|c| py::kwarg(c, "namespace", cx))
            .and_then(|n| py::string_value(n, cx));
        match (method, call) {
            ("on", Some(c)) => {
                let event = py::positional(c)
                    .first()
                    .and_then(|e| py::string_value(*e, cx))?;
                let namespace = namespace.or_else(|| {
                    py::positional(c)
                        .get(1)
                        .and_then(|n| py::string_value(*n, cx))
                });
                Some((recv, server, Some(event), namespace, "on"))
            }
            ("event", _) => Some((recv, server, None, namespace, "event")),
            _ => None,
        }
    }

    /// What a handler body does: (authenticates, blocking calls).
    fn body_features(&self, def: Node<'_>, cx: &FileCx<'_>) -> (bool, Vec<String>) {
        let mut auth = false;
        let mut blocking = Vec::new();
        let Some(body) = def.field("body") else {
            return (false, blocking);
        };
        for n in descendants(body) {
            match n.kind() {
                "return_statement" if n.named_child(0).is_some_and(|v| v.kind() == "false") => {
                    auth = true;
                }
                "raise_statement" if cx.text(n).contains("ConnectionRefusedError") => {
                    auth = true;
                }
                "identifier" => {
                    let t = cx.text(n);
                    let l = t.to_ascii_lowercase();
                    if matches!(t, "current_user" | "session" | "environ" | "disconnect")
                        || l.contains("auth")
                        || l.contains("token")
                        || l.contains("jwt")
                        || l.contains("verify")
                        || l.contains("login")
                    {
                        auth = true;
                    }
                }
                "attribute" => {
                    let t = cx.text(n);
                    if matches!(
                        t,
                        "request.args" | "request.headers" | "request.cookies" | "request.environ"
                    ) {
                        auth = true;
                    }
                }
                "call" => {
                    if let Some(c) = self.callee(n, cx)
                        && PY_BLOCKING.contains(&c.as_str())
                    {
                        blocking.push(c);
                    }
                }
                _ => {}
            }
        }
        (auth, blocking)
    }

    #[allow(clippy::too_many_arguments)]
    fn handler_fact(
        &self,
        at: Node<'_>,
        def: Node<'_>,
        event: String,
        receiver: &str,
        side: &str,
        via: &str,
        extra_auth: bool,
        cx: &FileCx<'_>,
    ) -> FactBuilder {
        let function = def.field("name").map(|n| cx.text(n).to_string());
        let is_async = cx.text(def).starts_with("async");
        let is_connect = side == "server" && event == "connect";
        let (auth, blocking) = self.body_features(def, cx);
        let mut fact = cx
            .fact("socketio_handler", TRANSPORT, Role::Consumer, at)
            .name(event)
            .attr_opt("function", function)
            .attr("side", side)
            .attr("receiver", receiver)
            .attr("via", via)
            .attr("is_connect", is_connect)
            .attr("is_async", is_async)
            .attr("blocking_calls", blocking);
        if is_connect {
            fact = fact.attr("authenticates", auth || extra_auth);
        }
        fact
    }

    fn on_decorated(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(def) = node.field("definition") else {
            return;
        };
        if def.kind() != "function_definition" {
            return;
        }
        let mut c = node.walk();
        let decorators: Vec<Node<'_>> = node
            .named_children(&mut c)
            .filter(|n| n.kind() == "decorator")
            .collect();
        for dec in &decorators {
            let Some(expr) = dec.named_child(0) else {
                continue;
            };
            let Some((recv, server, event, namespace, via)) = self.handler_decorator(expr, cx)
            else {
                continue;
            };
            let event = event.unwrap_or_else(|| {
                def.field("name")
                    .map(|n| cx.text(n).to_string())
                    .unwrap_or_default()
            });
            // Another decorator such as `@authenticated_only` or `@jwt_required()`.
            let extra_auth = decorators.iter().any(|d| {
                d.id() != dec.id() && {
                    let t = cx.text(*d).to_ascii_lowercase();
                    ["auth", "login", "jwt", "token", "require"]
                        .iter()
                        .any(|k| t.contains(k))
                }
            });
            let fact = self.handler_fact(*dec, def, event, &recv, server.side, via, extra_auth, cx);
            self.pending.push(Pending {
                fact,
                ns_class: None,
                namespace: Some(namespace.unwrap_or_else(|| "/".into())),
            });
            return;
        }
    }

    fn on_class(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(supers) = node.field("superclasses") else {
            return;
        };
        let mut side = None;
        let mut c = supers.walk();
        for s in supers.named_children(&mut c) {
            let Some(parts) = py::dotted(s, cx) else {
                continue;
            };
            let canonical = self.canonical(&parts);
            side = PY_NAMESPACE_BASES
                .iter()
                .find(|(name, _)| *name == canonical)
                .map(|(_, side)| *side)
                .or_else(|| self.ns_classes.get(&canonical).copied());
            if side.is_some() {
                break;
            }
        }
        let (Some(side), Some(name)) = (side, node.field("name")) else {
            return;
        };
        let class = cx.text(name).to_string();
        self.ns_classes.insert(class.clone(), side);
        let Some(body) = node.field("body") else {
            return;
        };
        let mut c = body.walk();
        for stmt in body.named_children(&mut c) {
            let (def, decorated) = if stmt.kind() == "decorated_definition" {
                match stmt.field("definition") {
                    Some(d) => (d, true),
                    None => continue,
                }
            } else {
                (stmt, false)
            };
            if def.kind() != "function_definition" {
                continue;
            }
            let Some(fname) = def.field("name") else {
                continue;
            };
            let Some(event) = cx.text(fname).strip_prefix("on_") else {
                continue;
            };
            let extra_auth = decorated && {
                let t = cx.text(stmt).to_ascii_lowercase();
                t.starts_with('@')
                    && ["auth", "login", "jwt", "token"]
                        .iter()
                        .any(|k| t.contains(k))
            };
            let fact = self.handler_fact(
                fname,
                def,
                event.to_string(),
                &class,
                side,
                "namespace_class",
                extra_auth,
                cx,
            );
            self.pending.push(Pending {
                fact,
                ns_class: Some(class.clone()),
                namespace: None,
            });
        }
    }

    /// The function enclosing `node` and what it is: (handler namespace, in a handler, in a
    /// Celery task, namespace class).
    fn context(
        &self,
        node: Node<'_>,
        cx: &FileCx<'_>,
    ) -> (Option<String>, bool, bool, Option<String>) {
        let mut namespace = None;
        let mut in_handler = false;
        let mut in_task = false;
        let mut ns_class = None;
        let mut n = cx.parent(node);
        while let Some(p) = n {
            match p.kind() {
                "decorated_definition" => {
                    let mut c = p.walk();
                    for dec in p.named_children(&mut c).filter(|d| d.kind() == "decorator") {
                        let Some(expr) = dec.named_child(0) else {
                            continue;
                        };
                        if let Some((_, _, _, ns, _)) = self.handler_decorator(expr, cx) {
                            in_handler = true;
                            if namespace.is_none() {
                                namespace = Some(ns.unwrap_or_else(|| "/".into()));
                            }
                        } else if is_celery_task_decorator(cx.text(expr)) {
                            in_task = true;
                        }
                    }
                }
                "class_definition" => {
                    if let Some(name) = p.field("name") {
                        let class = cx.text(name);
                        if self.ns_classes.contains_key(class) && ns_class.is_none() {
                            ns_class = Some(class.to_string());
                            in_handler = true;
                        }
                    }
                }
                _ => {}
            }
            n = cx.parent(p);
        }
        (namespace, in_handler, in_task, ns_class)
    }

    fn on_call(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        let canonical = self.callee(node, cx);
        // Constructors.
        if let Some((library, via, side, manager)) =
            canonical.as_deref().and_then(Self::server_ctor)
        {
            let binding = cx
                .parent(node)
                .filter(|p| p.kind() == "assignment")
                .and_then(|p| p.field("left"))
                .map(|l| cx.text(l).to_string());
            let fact = self.server_fact(node, binding, library, via, side, manager, cx);
            self.pending.push(Pending {
                fact,
                ns_class: None,
                namespace: None,
            });
            return;
        }
        // Context-bound `emit(...)` / `send(...)` of Flask-SocketIO.
        let (method, receiver, server) = match canonical.as_deref() {
            Some("flask_socketio.emit") => ("emit", "flask_socketio".to_string(), None),
            Some("flask_socketio.send") => ("send", "flask_socketio".to_string(), None),
            _ => {
                if func.kind() != "attribute" {
                    return;
                }
                let (Some(obj), Some(attr)) = (func.field("object"), func.field("attribute"))
                else {
                    return;
                };
                let method = cx.text(attr);
                let server = self.server_of(obj, cx);
                match (method, &server) {
                    ("init_app", Some((recv, _))) => {
                        let recv = recv.clone();
                        let fact = self.server_fact(
                            node,
                            Some(recv),
                            "flask_socketio",
                            "init_app",
                            "server",
                            false,
                            cx,
                        );
                        self.pending.push(Pending {
                            fact,
                            ns_class: None,
                            namespace: None,
                        });
                        return;
                    }
                    ("on_event", Some((recv, s))) => {
                        let args = py::positional(node);
                        let Some(event) = args.first().and_then(|e| py::string_value(*e, cx))
                        else {
                            return;
                        };
                        let namespace = py::kwarg(node, "namespace", cx)
                            .and_then(|n| py::string_value(n, cx))
                            .unwrap_or_else(|| "/".into());
                        let fact = cx
                            .fact("socketio_handler", TRANSPORT, Role::Consumer, node)
                            .name(event)
                            .attr_opt("function", args.get(1).map(|f| cx.text(*f).to_string()))
                            .attr("side", s.side)
                            .attr("receiver", recv.clone())
                            .attr("via", "on_event")
                            .attr("is_connect", false)
                            .attr("is_async", false)
                            .attr("blocking_calls", Vec::<String>::new());
                        self.pending.push(Pending {
                            fact,
                            ns_class: None,
                            namespace: Some(namespace),
                        });
                        return;
                    }
                    ("on_namespace" | "register_namespace", Some(_)) => {
                        if let Some(arg) = py::positional(node).first()
                            && arg.kind() == "call"
                            && let Some(cls) = arg.field("function")
                        {
                            let ns = py::positional(*arg)
                                .first()
                                .and_then(|n| py::string_value(*n, cx))
                                .or_else(|| {
                                    py::kwarg(*arg, "namespace", cx)
                                        .and_then(|n| py::string_value(n, cx))
                                })
                                .unwrap_or_else(|| "/".into());
                            self.ns_of_class.insert(cx.text(cls).to_string(), ns);
                        }
                        return;
                    }
                    ("start_background_task", Some((recv, _))) => {
                        let target = py::positional(node)
                            .first()
                            .map(|t| cx.text(*t).to_string());
                        let (_, in_handler, _, _) = self.context(node, cx);
                        let fact = cx
                            .fact("background_thread", "thread", Role::Producer, node)
                            .name_opt(target.clone())
                            .attr("method", "start_background_task")
                            .attr_opt("target", target)
                            .attr("receiver", recv.clone())
                            .attr("in_socketio_handler", in_handler);
                        self.pending.push(Pending {
                            fact,
                            ns_class: None,
                            namespace: None,
                        });
                        return;
                    }
                    _ => {}
                }
                let method: &'static str = match method {
                    "emit" => "emit",
                    "send" => "send",
                    _ => return,
                };
                let receiver = cx.text(obj).to_string();
                if let Some((_, s)) = server {
                    (method, receiver, Some(s))
                } else if receiver == "self" {
                    // `self.emit` inside a namespace class.
                    let (_, _, _, ns_class) = self.context(node, cx);
                    let Some(class) = ns_class else { return };
                    let side = self.ns_classes.get(&class).copied().unwrap_or("server");
                    (
                        method,
                        receiver,
                        Some(PyServer {
                            side,
                            mq: "unknown",
                        }),
                    )
                } else {
                    return;
                }
            }
        };
        let args = py::positional(node);
        let (event, literal) = if method == "send" {
            ("message".to_string(), true)
        } else {
            match args.first() {
                Some(e) => match py::string_value(*e, cx) {
                    Some(s) => (s, true),
                    None => (cx.text(*e).to_string(), false),
                },
                None => return,
            }
        };
        let (handler_ns, in_handler, in_task, ns_class) = self.context(node, cx);
        let side = server.as_ref().map(|s| s.side).unwrap_or("server");
        let mq = server.as_ref().map(|s| s.mq).unwrap_or("unknown");
        let mut fact = cx
            .fact("socketio_emit", TRANSPORT, Role::Producer, node)
            .name(event)
            .attr("method", method)
            .attr("receiver", receiver)
            .attr("side", side)
            .attr("literal", literal)
            .attr("in_handler", in_handler)
            .attr("in_celery_task", in_task)
            .attr("server_message_queue", mq);
        let mut namespace = None;
        for (k, v) in py::kwargs(node) {
            match cx.text(k) {
                "to" | "room" => fact = fact.attr("to", py::value(v, cx)),
                "broadcast" => fact = fact.attr("broadcast", py::value(v, cx)),
                "namespace" => namespace = py::string_value(v, cx),
                _ => {}
            }
        }
        let explicit = namespace.is_some();
        self.pending.push(Pending {
            fact,
            ns_class: if explicit { None } else { ns_class },
            namespace: namespace.or(handler_ns).or(Some("/".into())),
        });
    }
}

impl<'t> Visitor<'t> for PyVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" | "import_from_statement" => self.on_import(node, cx),
            "decorated_definition" => self.on_decorated(node, cx),
            "class_definition" => self.on_class(node, cx),
            "call" => self.on_call(node, cx),
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        let this = *self;
        for p in this.pending {
            let ns = match p.ns_class {
                Some(class) => Some(
                    this.ns_of_class
                        .get(&class)
                        .cloned()
                        .unwrap_or_else(|| "/".into()),
                ),
                None => p.namespace,
            };
            let fact = match ns {
                Some(ns) => p.fact.attr("namespace", ns),
                None => p.fact,
            };
            cx.emit(fact);
        }
    }
}

// ---------------------------------------------------------------------------------------
// JavaScript / TypeScript

impl Detector for SocketIoJs {
    fn name(&self) -> &'static str {
        "socketio-js"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::JavaScript, Language::TypeScript, Language::Tsx]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "import_statement",
            "variable_declarator",
            "new_expression",
            "call_expression",
            "function_expression",
            "function_declaration",
            "arrow_function",
            "method_definition",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        // `socket` covers `socket.io`, `socket.io-client` and `(io, socket) =>`; the others
        // open a relative module path (`'./`, `"@/`, ...): an imported `io` or `*socket`.
        &[
            "socket", "'.", "\".", "`.", "'@/", "\"@/", "`@/", "'~/", "\"~/", "`~/",
        ]
    }
    /// A necessary condition of each way `JsVisitor` emits a fact. Modules are recognised by
    /// the exact string (`js::string_value` is the raw text between the quotes).
    /// - socket.io or socket.io-client imported or required: servers, clients, and what is
    ///   registered or emitted on them;
    /// - otherwise a handler or emit (`on`, `once`, `emit`, `emitWithAck`, `send`) on a
    ///   receiver known without them: the parameters `(io, socket, ...)` of a function (a
    ///   socket: any event; [`io_socket_parameters`]); `io` (any case) imported from a
    ///   relative path (`./`, `@/`, `~/`; [`relative_import`]), a server: an emit, or a
    ///   handler of `'connection'` / `'connect'` (sockets and namespaces come from those);
    ///   or a name ending in `socket` (any case) imported from a relative path, unless the
    ///   file uses native WebSockets (a client: any event).
    fn admits(&self, file: &Candidate<'_>) -> bool {
        if file.any(JS_MODULES) {
            return true;
        }
        let w = Present::of(file.text, &JS_WORDS, JS_WORD_LIST, identifier_around);
        let emits = w.any(&["emit", "emitWithAck", "send"]);
        if !emits && !w.any(&["on", "once"]) {
            return false;
        }
        if w.has("io") && w.has("socket") && io_socket_parameters(file.text) {
            return true;
        }
        if !file.any(RELATIVE) {
            return false;
        }
        let server = w.any(&["io", "IO", "Io", "iO"])
            && (emits
                || file.any(&[
                    "'connection'",
                    "\"connection\"",
                    "`connection`",
                    "'connect'",
                    "\"connect\"",
                    "`connect`",
                ]));
        let client = || {
            !native_websocket(file.text)
                && any_word(
                    file.text,
                    &JS_SOCKET_WORD,
                    JS_SOCKET_LIST,
                    identifier_around,
                    |id| {
                        id.len() >= 6
                            && id.as_bytes()[id.len() - 6..].eq_ignore_ascii_case(b"socket")
                    },
                )
        };
        (server || client()) && relative_import(file.text)
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::new(JsVisitor {
            native_websocket: native_websocket(file.text),
            ..Default::default()
        })
    }
}

/// The start of a relative module path in quotes.
const RELATIVE: &[&str] = &[
    "'.", "\".", "`.", "'@/", "\"@/", "`@/", "'~/", "\"~/", "`~/",
];

/// Whether `text` may import a module by a relative path, as `bind_import` reads them: such
/// a string after `from` or `require(`.
fn relative_import(text: &str) -> bool {
    RELATIVE.iter().any(|quote| {
        text.match_indices(quote)
            .any(|(at, _)| crate::node_runtime::import_source_at(text, at))
    })
}

/// Whether `text` may hold a parameter list `(io, socket, ...)` (`JsVisitor::on_function`):
/// an identifier `io` followed by `,` and `socket`, or by what may start a type or a
/// default (`:`, `?`, `=`).
fn io_socket_parameters(text: &str) -> bool {
    use crate::node_runtime::skip_space;
    text.match_indices("io").any(|(at, w)| {
        if identifier_around(text, at..at + w.len()) != w {
            return false;
        }
        let after = skip_space(&text[at + w.len()..]);
        after.starts_with([':', '?', '='])
            || after
                .strip_prefix(',')
                .is_some_and(|next| identifier_around(skip_space(next), 0..0) == "socket")
    })
}

/// The file uses native WebSockets or `ws`: a relative `socket` import is not Socket.IO.
fn native_websocket(text: &str) -> bool {
    text.contains("WebSocket")
        || text.contains("from 'ws'")
        || text.contains("from \"ws\"")
        || text.contains("require('ws')")
        || text.contains("require(\"ws\")")
}

/// socket.io and socket.io-client as module strings.
const JS_MODULES: &[&str] = &[
    "'socket.io'",
    "\"socket.io\"",
    "`socket.io`",
    "'socket.io-client'",
    "\"socket.io-client\"",
    "`socket.io-client`",
];
/// The JS identifiers `SocketIoJs::admits` looks for: the methods `JsVisitor::on_call`
/// handles and the receivers known without socket.io imported.
const JS_WORD_LIST: &[&str] = &[
    "on",
    "once",
    "emit",
    "emitWithAck",
    "send",
    "io",
    "IO",
    "Io",
    "iO",
    "socket",
];
static JS_WORDS: Words = Words::new(JS_WORD_LIST);
const JS_SOCKET_LIST: &[&str] = &["socket"];
static JS_SOCKET_WORD: Words = Words::new(JS_SOCKET_LIST);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Server,
    Namespace,
    Socket,
    Client,
}

struct Resolved {
    target: Target,
    namespace: String,
    room: Option<String>,
    broadcast: bool,
}

struct JsHandler {
    fact: FactBuilder,
    /// A connection handler on a server of this file: its authentication is judged here.
    judge_auth: bool,
    auth: bool,
}

#[derive(Default)]
struct JsVisitor {
    /// Local names of the socket.io `Server` class or the callable default export.
    server_ctor: HashSet<String>,
    /// Namespace imports of socket.io (`sio.Server`).
    server_module: HashSet<String>,
    /// Local names of socket.io-client's `io` / `connect` (and the module).
    client_ctor: HashSet<String>,
    /// Server or namespace bindings → namespace.
    servers: HashMap<String, (Target, String)>,
    /// Server-side socket parameters: name, callback byte range, namespace.
    sockets: Vec<(String, std::ops::Range<usize>, String)>,
    /// Client socket bindings → namespace.
    clients: HashMap<String, String>,
    imports_server: bool,
    /// Servers imported from another module: their middleware is not visible here.
    imported_servers: HashSet<String>,
    /// The file uses native WebSockets or `ws`: a relative `socket` import is not Socket.IO.
    native_websocket: bool,
    adapter: Option<String>,
    middleware: bool,
    server_facts: Vec<FactBuilder>,
    handlers: Vec<JsHandler>,
    emits: Vec<FactBuilder>,
}

/// The namespace of a client URL: `/admin`, `http://host:3000/admin?x=1` → `/admin`.
fn url_namespace(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map(|j| &after[j..]).unwrap_or("/")
        }
        None if url.starts_with('/') => url,
        None => "/",
    };
    let path = rest.split(['?', '#']).next().unwrap_or("/");
    if path.is_empty() {
        "/".into()
    } else {
        path.to_string()
    }
}

/// The first parameter's name of a function node.
fn first_param(func: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    if let Some(p) = func.field("parameter") {
        return Some(cx.text(p).to_string());
    }
    let params = func.field("parameters")?;
    let first = params.named_child(0)?;
    let id = match first.kind() {
        "identifier" => first,
        "required_parameter" | "optional_parameter" => first.field("pattern")?,
        _ => return None,
    };
    (id.kind() == "identifier").then(|| cx.text(id).to_string())
}

impl JsVisitor {
    fn bind_import(&mut self, local: &str, imported: Option<&str>, source: &str) {
        match source {
            "socket.io" => {
                self.imports_server = true;
                match imported {
                    None | Some("default") => {
                        self.server_ctor.insert(local.into());
                        self.server_module.insert(local.into());
                    }
                    Some("Server") => {
                        self.server_ctor.insert(local.into());
                    }
                    Some("*") => {
                        self.server_module.insert(local.into());
                    }
                    _ => {}
                }
            }
            "socket.io-client" => match imported {
                None | Some("default" | "io" | "connect" | "*") => {
                    self.client_ctor.insert(local.into());
                }
                _ => {}
            },
            s if s.starts_with("@socket.io/") && s.contains("adapter")
                || s == "socket.io-redis" =>
            {
                self.adapter = Some(s.to_string());
            }
            s if s.starts_with('.') || s.starts_with("@/") || s.starts_with("~/") => {
                let l = local.to_ascii_lowercase();
                if l == "io" {
                    self.servers
                        .insert(local.into(), (Target::Server, "/".into()));
                    self.imported_servers.insert(local.into());
                } else if l.ends_with("socket") && !self.native_websocket {
                    self.clients.insert(local.into(), "/".into());
                }
            }
            _ => {}
        }
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(source) = node.field("source").and_then(|s| js::string_value(s, cx)) else {
            return;
        };
        for (local, imported) in js::import_bindings(node, cx) {
            self.bind_import(local, imported, &source);
        }
        // A side-effect import of an adapter still counts.
        if source.starts_with("@socket.io/") && source.contains("adapter") {
            self.adapter = Some(source);
        }
    }

    fn required(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
        let node = js::unwrap_expr(node);
        if node.kind() != "call_expression" {
            return None;
        }
        let f = node.field("function")?;
        if cx.text(f) != "require" {
            return None;
        }
        js::string_value(*js::arguments(node).first()?, cx)
    }

    fn on_declarator(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        let value = js::unwrap_expr(value);
        let (source, prop) = if let Some(s) = Self::required(value, cx) {
            (s, None)
        } else if value.kind() == "member_expression"
            && let Some(obj) = value.field("object")
            && let Some(s) = Self::required(obj, cx)
        {
            let p = value.field("property").map(|p| cx.text(p).to_string());
            (s, p)
        } else {
            return;
        };
        match name.kind() {
            "identifier" => self.bind_import(cx.text(name), prop.as_deref(), &source),
            "object_pattern" => {
                for (local, key) in js::destructured(name, cx) {
                    self.bind_import(local, Some(key), &source);
                }
            }
            _ => {}
        }
    }

    /// Whether a constructor/callee expression is socket.io's `Server` (or callable export).
    fn is_server_ctor(&self, callee: Node<'_>, cx: &FileCx<'_>) -> bool {
        let callee = js::unwrap_expr(callee);
        if Self::required(callee, cx).as_deref() == Some("socket.io") {
            return true;
        }
        let Some(path) = js::member_path(callee, cx) else {
            return false;
        };
        if self.server_ctor.contains(&path) {
            return true;
        }
        match path.split_once('.') {
            Some((m, p)) => self.server_module.contains(m) && matches!(p, "Server" | "listen"),
            None => false,
        }
    }

    fn is_client_ctor(&self, callee: Node<'_>, cx: &FileCx<'_>) -> bool {
        let callee = js::unwrap_expr(callee);
        if Self::required(callee, cx).as_deref() == Some("socket.io-client") {
            return true;
        }
        let Some(path) = js::member_path(callee, cx) else {
            return false;
        };
        if self.client_ctor.contains(&path) {
            return true;
        }
        match path.split_once('.') {
            Some((m, p)) => self.client_ctor.contains(m) && matches!(p, "io" | "connect"),
            None => false,
        }
    }

    fn new_server(&mut self, node: Node<'_>, via: &str, cx: &FileCx<'_>) {
        let binding = js::binding_of(node, cx);
        let opts = js::arguments(node)
            .into_iter()
            .rev()
            .map(js::unwrap_expr)
            .find(|a| a.kind() == "object");
        let mut fact = cx
            .fact("socketio_server", TRANSPORT, Role::Definition, node)
            .name_opt(binding.clone())
            .attr("library", "socket.io")
            .attr("via", via)
            .attr("side", "server");
        if let Some(opts) = opts {
            let cors = js::object_property(opts, "cors", cx).map(js::unwrap_expr);
            let origin = cors
                .and_then(|c| js::object_property(c, "origin", cx))
                .or_else(|| js::object_property(opts, "origins", cx));
            if let Some(o) = origin {
                let o = js::unwrap_expr(o);
                let text = cx.text(o);
                let value = match js::string_value(o, cx) {
                    Some(s) => Value::String(s),
                    None if text == "true" || text == "false" => Value::Bool(text == "true"),
                    None => py::expr(text),
                };
                let wildcard = match &value {
                    Value::String(s) => s == "*" || s == "*:*",
                    Value::Bool(b) => *b,
                    _ => {
                        o.kind() == "array" && {
                            let mut c = o.walk();
                            o.named_children(&mut c)
                                .any(|e| js::string_value(e, cx).as_deref() == Some("*"))
                        }
                    }
                };
                fact = fact
                    .attr("cors_allowed_origins", value)
                    .attr("cors_wildcard", wildcard);
            }
            let credentials = cors
                .and_then(|c| js::object_property(c, "credentials", cx))
                .is_some_and(|v| cx.text(v) == "true");
            fact = fact.attr("cors_credentials", credentials);
            if js::object_property(opts, "adapter", cx).is_some() && self.adapter.is_none() {
                self.adapter = Some("adapter option".into());
            }
        }
        if let Some(b) = binding {
            self.servers.insert(b, (Target::Server, "/".into()));
        }
        self.server_facts.push(fact);
    }

    fn new_client(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let binding = js::binding_of(node, cx);
        let ns = js::arguments(node)
            .first()
            .and_then(|u| js::string_value(*u, cx))
            .map(|u| url_namespace(&u))
            .unwrap_or_else(|| "/".into());
        let fact = cx
            .fact("socketio_server", TRANSPORT, Role::Definition, node)
            .name_opt(binding.clone())
            .attr("library", "socket.io-client")
            .attr("via", "io")
            .attr("side", "client")
            .attr("namespace", ns.clone());
        if let Some(b) = binding {
            self.clients.insert(b, ns);
        }
        self.server_facts.push(fact);
    }

    /// What an emit/listen receiver is, following `.to(room)`, `.broadcast`, `.of('/ns')`.
    fn resolve(&self, node: Node<'_>, cx: &FileCx<'_>) -> Option<Resolved> {
        let mut node = js::unwrap_expr(node);
        let mut room = None;
        let mut broadcast = false;
        for _ in 0..16 {
            match node.kind() {
                "call_expression" => {
                    let f = js::unwrap_expr(node.field("function")?);
                    if f.kind() != "member_expression" {
                        return None;
                    }
                    let prop = cx.text(f.field("property")?);
                    let obj = f.field("object")?;
                    match prop {
                        "to" | "in" => {
                            if room.is_none() {
                                room = js::arguments(node).first().map(|a| cx.text(*a).to_string());
                            }
                            node = js::unwrap_expr(obj);
                        }
                        "except" | "timeout" | "compress" => node = js::unwrap_expr(obj),
                        "of" => {
                            let inner = self.resolve(obj, cx)?;
                            if inner.target != Target::Server {
                                return None;
                            }
                            let ns = js::arguments(node)
                                .first()
                                .and_then(|a| js::string_value(*a, cx))?;
                            return Some(Resolved {
                                target: Target::Namespace,
                                namespace: ns,
                                room,
                                broadcast,
                            });
                        }
                        _ => return None,
                    }
                }
                "member_expression" => {
                    let prop = node
                        .field("property")
                        .map(|p| cx.text(p))
                        .unwrap_or_default();
                    if matches!(prop, "broadcast" | "volatile" | "local" | "sockets") {
                        broadcast |= prop == "broadcast";
                        node = js::unwrap_expr(node.field("object")?);
                        continue;
                    }
                    return self.lookup(node, cx, room, broadcast);
                }
                "identifier" | "this" => return self.lookup(node, cx, room, broadcast),
                _ => return None,
            }
        }
        None
    }

    fn lookup(
        &self,
        node: Node<'_>,
        cx: &FileCx<'_>,
        room: Option<String>,
        broadcast: bool,
    ) -> Option<Resolved> {
        let path = js::member_path(node, cx)?;
        let pos = node.start_byte();
        if let Some((_, _, ns)) = self
            .sockets
            .iter()
            .filter(|(n, r, _)| *n == path && r.contains(&pos))
            .min_by_key(|(_, r, _)| r.len())
        {
            return Some(Resolved {
                target: Target::Socket,
                namespace: ns.clone(),
                room,
                broadcast,
            });
        }
        if let Some((t, ns)) = self.servers.get(&path) {
            return Some(Resolved {
                target: *t,
                namespace: ns.clone(),
                room,
                broadcast,
            });
        }
        if let Some(ns) = self.clients.get(&path) {
            return Some(Resolved {
                target: Target::Client,
                namespace: ns.clone(),
                room,
                broadcast,
            });
        }
        None
    }

    fn on_new(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        if let Some(ctor) = node.field("constructor")
            && self.is_server_ctor(ctor, cx)
        {
            self.new_server(node, "new Server", cx);
        }
    }

    fn on_call(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(func) = node.field("function") else {
            return;
        };
        let func = js::unwrap_expr(func);
        if self.is_server_ctor(func, cx) && func.kind() != "member_expression"
            || (func.kind() == "member_expression"
                && self.is_server_ctor(func, cx)
                && js::member_path(func, cx).is_some_and(|p| p.ends_with(".listen")))
        {
            let via = if Self::required(func, cx).is_some() {
                "require"
            } else {
                "call"
            };
            self.new_server(node, via, cx);
            return;
        }
        if self.is_client_ctor(func, cx) {
            self.new_client(node, cx);
            return;
        }
        if func.kind() != "member_expression" {
            return;
        }
        let (Some(obj), Some(prop)) = (func.field("object"), func.field("property")) else {
            return;
        };
        let method = cx.text(prop);
        if !matches!(
            method,
            "on" | "once" | "emit" | "emitWithAck" | "use" | "adapter" | "send"
        ) {
            return;
        }
        // `const chat = io.of('/chat')`
        let Some(r) = self.resolve(obj, cx) else {
            return;
        };
        let receiver = cx.text(obj).to_string();
        let args = js::arguments(node);
        match method {
            "use" if matches!(r.target, Target::Server | Target::Namespace) => {
                self.middleware = true;
            }
            "adapter" if r.target == Target::Server && self.adapter.is_none() => {
                self.adapter = Some("io.adapter".into());
            }
            "on" | "once" => {
                let Some(event) = args.first().and_then(|e| js::string_value(*e, cx)) else {
                    return;
                };
                let handler = args.get(1).map(|h| js::unwrap_expr(*h));
                let is_async = handler.is_some_and(|h| js::is_function(h) && js::is_async(h));
                let at = node.start_byte()..args.first().map_or(node.end_byte(), |a| a.end_byte());
                match r.target {
                    Target::Server | Target::Namespace
                        if matches!(event.as_str(), "connection" | "connect") =>
                    {
                        let mut auth = false;
                        let base = receiver
                            .split(['.', '('])
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        let imported = self.imported_servers.contains(&base);
                        if let Some(h) = handler.filter(|h| js::is_function(*h)) {
                            if let Some(p) = first_param(h, cx) {
                                self.sockets.push((p, h.byte_range(), r.namespace.clone()));
                            }
                            auth = js_reads_credentials(h, cx);
                        }
                        let fact = cx
                            .fact_range("socketio_handler", TRANSPORT, Role::Consumer, at)
                            .name(event)
                            .attr("side", "server")
                            .attr("receiver", receiver)
                            .attr("via", "connection")
                            .attr("namespace", r.namespace)
                            .attr("is_connect", true)
                            .attr("is_async", is_async);
                        self.handlers.push(JsHandler {
                            fact,
                            judge_auth: !imported,
                            auth,
                        });
                    }
                    Target::Socket | Target::Client => {
                        let side = if r.target == Target::Socket {
                            "server"
                        } else {
                            "client"
                        };
                        let fact = cx
                            .fact_range("socketio_handler", TRANSPORT, Role::Consumer, at)
                            .name(event)
                            .attr("side", side)
                            .attr("receiver", receiver)
                            .attr("via", "socket.on")
                            .attr("namespace", r.namespace)
                            .attr("is_connect", false)
                            .attr("is_async", is_async);
                        self.handlers.push(JsHandler {
                            fact,
                            judge_auth: false,
                            auth: false,
                        });
                    }
                    _ => {}
                }
            }
            "emit" | "emitWithAck" | "send" => {
                let (event, literal) = if method == "send" {
                    ("message".to_string(), true)
                } else {
                    let Some(e) = args.first() else { return };
                    match js::string_value(*e, cx) {
                        Some(s) => (s, true),
                        None => (cx.text(*e).to_string(), false),
                    }
                };
                let side = if r.target == Target::Client {
                    "client"
                } else {
                    "server"
                };
                let in_handler = self
                    .sockets
                    .iter()
                    .any(|(_, range, _)| range.contains(&node.start_byte()));
                let at = node.start_byte()..args.first().map_or(node.end_byte(), |a| a.end_byte());
                let fact = cx
                    .fact_range("socketio_emit", TRANSPORT, Role::Producer, at)
                    .name(event)
                    .attr("method", method)
                    .attr("receiver", receiver)
                    .attr("side", side)
                    .attr("namespace", r.namespace)
                    .attr("literal", literal)
                    .attr("broadcast", r.broadcast)
                    .attr_opt("to", r.room)
                    .attr("in_handler", in_handler);
                self.emits.push(fact);
            }
            _ => {}
        }
    }

    /// The handler-module layout of the socket.io docs: `module.exports = (io, socket) => {
    /// socket.on('order:create', ...) }` in a file that uses socket.io.
    fn on_function(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(params) = node.field("parameters") else {
            return;
        };
        let mut c = params.walk();
        let names: Vec<&str> = params
            .named_children(&mut c)
            .map(|p| match p.kind() {
                "required_parameter" | "optional_parameter" => {
                    p.field("pattern").map(|x| cx.text(x)).unwrap_or_default()
                }
                _ => cx.text(p),
            })
            .collect();
        if let [io, socket, ..] = names.as_slice()
            && *io == "io"
            && *socket == "socket"
        {
            self.servers
                .entry("io".into())
                .or_insert((Target::Server, "/".into()));
            self.sockets
                .push(("socket".into(), node.byte_range(), "/".into()));
        }
    }

    /// `const chat = io.of('/chat')`: a namespace binding.
    fn on_namespace_binding(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        if name.kind() != "identifier" {
            return;
        }
        if let Some(r) = self.resolve(value, cx)
            && r.target == Target::Namespace
        {
            self.servers
                .insert(cx.text(name).to_string(), (Target::Namespace, r.namespace));
        }
    }
}

/// Whether a connection callback reads credentials or can reject the connection.
fn js_reads_credentials(func: Node<'_>, cx: &FileCx<'_>) -> bool {
    descendants(func).any(|n| {
        matches!(
            n.kind(),
            "identifier" | "property_identifier" | "shorthand_property_identifier_pattern"
        ) && {
            let l = cx.text(n).to_ascii_lowercase();
            ["auth", "token", "jwt", "verify", "session", "cookie"]
                .iter()
                .any(|k| l.contains(k))
        }
    })
}

impl<'t> Visitor<'t> for JsVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" => self.on_import(node, cx),
            "variable_declarator" => {
                self.on_declarator(node, cx);
                self.on_namespace_binding(node, cx);
            }
            "new_expression" => self.on_new(node, cx),
            "call_expression" => self.on_call(node, cx),
            _ if js::is_function(node) => self.on_function(node, cx),
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        let this = *self;
        for f in this.server_facts {
            let f = f.attr("has_middleware", this.middleware);
            let f = match &this.adapter {
                Some(a) => f.attr("adapter", a.clone()),
                None => f,
            };
            cx.emit(f);
        }
        for h in this.handlers {
            let f = if h.judge_auth {
                h.fact
                    .attr("has_middleware", this.middleware)
                    .attr("authenticates", h.auth || this.middleware)
            } else {
                h.fact
            };
            cx.emit(f);
        }
        for e in this.emits {
            cx.emit(e);
        }
    }
}

/// Socket.IO channels: one per event, namespace and direction. Client emits reach server
/// handlers (`to-server:<ns>`); server emits reach client handlers (`to-client:<ns>`).
/// Reserved events (`connect`, `disconnect`, ...) are not channels.
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    for f in facts {
        let producer = match f.kind.as_str() {
            "socketio_emit" => true,
            "socketio_handler" => false,
            _ => continue,
        };
        let Some(event) = &f.name else { continue };
        if RESERVED.contains(&event.as_str()) {
            continue;
        }
        if f.attr("literal").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let side = f.attr("side").and_then(Value::as_str).unwrap_or("server");
        let ns = f.attr("namespace").and_then(Value::as_str).unwrap_or("/");
        // A server emit and a client handler travel to the client.
        let to_client = (producer && side == "server") || (!producer && side == "client");
        let scope = format!("{}:{ns}", if to_client { "to-client" } else { "to-server" });
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

    use super::url_namespace;
    use crate::prefilter::check_admits as check;
    use msgscan_lang::Language;

    #[test]
    fn python_prefilter_admits_each_path_and_rules_out_near_misses() {
        check(
            Language::Python,
            "socketio-py",
            &[
                "from flask_socketio import SocketIO\nsocketio = SocketIO(app)\n",
                "import socketio\nsio = socketio.AsyncServer()\n",
                "from flask_socketio import emit\nemit('x', {})\n",
                "import socketio\nclass Chat(socketio.Namespace):\n    def on_msg(self, d):\n        pass\n",
                // a server imported from another module: no `socketio` in the file
                "from .extensions import sio\n@sio.on('msg')\ndef h(data):\n    pass\n",
                "from app import socket_io\nsocket_io.emit('x')\n",
            ],
            &[
                "import io\nsio = io.StringIO()\nsio.write('x')\n",
                "# socketio comes later\nimport json\n",
                "from mysocketio import Server\nServer()\n",
            ],
        );
    }

    #[test]
    fn js_prefilter_admits_each_path_and_rules_out_near_misses() {
        check(
            Language::JavaScript,
            "socketio-js",
            &[
                "const { Server } = require('socket.io');\nconst io = new Server(3000);\n",
                "import { io } from \"socket.io-client\";\nconst s = io('http://x/chat');\n",
                // a server imported from a relative module: no `socket` in the file
                "import io from './io';\nio.on('connection', (s) => { s.emit('hi'); });\n",
                "import { socket } from './socket';\nsocket.on('msg', () => {});\n",
                "module.exports = (io, socket) => {\n  socket.on('order:create', () => {});\n};\n",
                "module.exports = function (io ,\n    socket) { socket.emit('x'); };\n",
                "const io = require(\n  './io');\nio.emit('tick');\n",
            ],
            &[
                "const net = require('net');\nconst socket = net.connect(1);\nsocket.on('data', f);\n",
                "import { socket } from './socket';\nconst ws = new WebSocket(u);\nsocket.on('x', f);\n",
                "import io from './io';\nio.on('data', f);\n",
                "// https://docs.bullmq.io\nimport x from './x';\nx.on('y', f);\n",
                // data, not code: the words and a relative path in strings
                "Search.setIndex({\"io\": 1, \"socket\": \"./x\", \"t\": [\"emit\", \"on\"]});\n",
                "const io = load('./io');\nio.emit('x');\n",
            ],
        );
    }

    #[test]
    fn client_url_namespaces() {
        assert_eq!(url_namespace("/chat"), "/chat");
        assert_eq!(url_namespace("http://localhost:3000"), "/");
        assert_eq!(url_namespace("https://example.com/admin?token=1"), "/admin");
        assert_eq!(url_namespace("ws://h:1/"), "/");
        assert_eq!(url_namespace("localhost:3000"), "/");
    }
}
