//! Webhook handlers and background work started from request handlers, in Python (Flask,
//! FastAPI, Django) and JavaScript/TypeScript (Express-style routers, Next.js route
//! handlers and API routes, Supabase/Deno edge functions).
//!
//! ## Facts
//! - `webhook_handler`: a request handler that receives webhooks, recognised by its path
//!   (`/webhooks/stripe`, `/hooks`, `/callback`, `/github`, `/notify`, `/ipn`), by reading a
//!   signature header (`Stripe-Signature`, `X-Hub-Signature-256`, `webhook-signature`,
//!   `svix-signature`...) or by calling a provider verifier (`stripe.Webhook.construct_event`,
//!   `stripe.webhooks.constructEvent`, `new Webhook(secret).verify`, `hmac.new`,
//!   `crypto.createHmac`...). Its attributes say what the body does.
//! - `webhook_signature_check`: a comparison of a MAC or signature, constant-time
//!   (`hmac.compare_digest`, `crypto.timingSafeEqual`) or not (`==`, `===`), anywhere in a file.
//! - `background_thread`: `threading.Thread(...)`, `ThreadPoolExecutor().submit/map`,
//!   `multiprocessing.Process(...)`, `asyncio.create_task(...)`, and (from the Socket.IO
//!   detector) `socketio.start_background_task(...)`, with whether it runs inside a request
//!   handler.
//!
//! Handler bodies are read with a walk of the handler's own subtree.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::{Detector, FactBuilder, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::prefilter::Candidate;
use crate::walk::descendants;
use crate::{js, py};

pub(crate) struct WebhookPy;
pub(crate) struct WebhookJs;

const TRANSPORT: &str = "webhook";

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "webhook_handler",
        transport: TRANSPORT,
        doc: "A request handler that receives webhooks. Name: the route path (or the function where the path is not in the file).",
        attrs: attrs! {
            "framework": String = "`flask`, `fastapi`, `django`, `express`, `nextjs`, `edge`",
            "function": String = "the handler function, where named",
            "method": String = "the HTTP method(s) routed, upper case",
            "provider": String = "`stripe`, `github`, `gitlab`, `svix`, `standardwebhooks`, `slack`, `shopify`, `twilio` or `unknown`",
            "signals": List = "why it is a webhook: `path`, `signature_header`, `verifier`",
            "body_analyzed": Bool = "the handler's body is in the file and was read (the attributes below exist only then)",
            "reads_signature_header": Bool = "reads a signature header",
            "verifies_signature": Bool = "calls a signature verifier (provider SDK, HMAC, or a `verify*signature*` helper)",
            "verifier": String = "the verifier called (`stripe.Webhook.construct_event`, `hmac.new`, `crypto.createHmac`, `Webhook.verify`, a helper's name)",
            "hand_rolled_hmac": Bool = "the signature is checked with a hand-rolled HMAC (`hmac.new`, `createHmac`)",
            "constant_time_compare": Bool = "uses `hmac.compare_digest`/`timingSafeEqual` or an SDK verifier",
            "unsafe_compare": Bool = "compares a signature or digest with `==`/`!=`/`===`",
            "raw_body": Bool = "reads the raw body (`request.get_data()`, `request.body`, `express.raw()`, `req.text()`...)",
            "parsed_body": Bool = "reads the body as parsed JSON (`request.json`, `get_json()`, `req.json()`)",
            "signs_parsed_body": Bool = "the verifier or HMAC is fed re-serialised JSON (`json.dumps(request.json)`, `JSON.stringify(req.body)`, `await req.json()`)",
            "reads_event_id": Bool = "reads the event or delivery id (`event['id']`, `event.id`, `webhook-id`, `X-GitHub-Delivery`, `svix-id`)",
            "checks_timestamp": Bool = "reads a timestamp or tolerance (or uses an SDK verifier that checks it)",
            "writes": List = "database writes in the body (`.save()`, `objects.create`, `session.add`, `.insert(`...)",
            "outbound_calls": List = "slow outbound I/O in the body (`requests.post`, `fetch`, `axios.post`, `smtplib.SMTP`, `time.sleep`...)",
            "enqueues": Bool = "hands work off (`.delay`, `.apply_async`, `background_tasks.add_task`, `queue.add`, `EdgeRuntime.waitUntil`...)",
        },
    },
    KindSpec {
        kind: "webhook_signature_check",
        transport: TRANSPORT,
        doc: "A comparison of a signature or MAC. Name: the enclosing function, if any.",
        attrs: attrs! {
            "constant_time": Bool = "`hmac.compare_digest`, `secrets.compare_digest`, `crypto.timingSafeEqual`",
            "operator": String = "the operator or function (`==`, `!==`, `compare_digest`, `timingSafeEqual`)",
            "expression": String = "the comparison as written",
        },
    },
    KindSpec {
        kind: "background_thread",
        transport: "thread",
        doc: "Background work started in-process. Name: the target function, where known.",
        attrs: attrs! {
            "method": String = "`threading.Thread`, `ThreadPoolExecutor.submit`, `ThreadPoolExecutor.map`, `ProcessPoolExecutor.submit`, `multiprocessing.Process`, `asyncio.create_task`, `start_background_task`",
            "target": String = "the target as written",
            "daemon": Value = "`daemon=`",
            "in_request_handler": Bool = "started inside a Flask/FastAPI route or a Django view",
            "framework": String = "the framework of that handler",
            "handler": String = "that handler's function",
            "receiver": String = "`start_background_task`: the Socket.IO server",
            "in_socketio_handler": Bool = "`start_background_task`: called inside a Socket.IO handler",
        },
    },
];

/// The path signals of a webhook route: a path segment naming one.
fn path_signal(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let segments: Vec<&str> = lower
        .split(['/', '.', '_', '-'])
        .filter(|s| !s.is_empty())
        .collect();
    if segments
        .iter()
        .any(|s| matches!(*s, "auth" | "oauth" | "oauth2" | "login" | "sso" | "signin"))
    {
        return false;
    }
    segments.iter().any(|s| {
        matches!(
            *s,
            "webhook"
                | "webhooks"
                | "hook"
                | "hooks"
                | "callback"
                | "callbacks"
                | "stripe"
                | "github"
                | "notify"
                | "ipn"
                | "svix"
                | "incoming"
        ) || s.ends_with("webhook")
            || s.ends_with("webhooks")
    })
}

fn header_signal(s: &str) -> bool {
    let l = s.to_ascii_lowercase().replace('_', "-");
    let l = l.strip_prefix("http-").unwrap_or(&l);
    l.len() < 60
        && (l.contains("signature")
            || l == "authorization"
            || l.contains("secret-token")
            || l.contains("gitlab-token")
            || l.contains("webhook-secret")
            || l.starts_with("x-hub-")
            || l.starts_with("stripe-")
            || l.starts_with("webhook-")
            || l.starts_with("svix-")
            || l.starts_with("x-slack-signature")
            || l.starts_with("x-shopify-hmac")
            || l.starts_with("x-twilio-signature"))
}

fn provider_from(text: &str) -> Option<&'static str> {
    let l = text.to_ascii_lowercase();
    Some(if l.contains("stripe") {
        "stripe"
    } else if l.contains("x-hub-")
        || l.contains("x_hub_")
        || l.contains("github")
        || l.contains("octokit")
    {
        "github"
    } else if l.contains("gitlab") {
        "gitlab"
    } else if l.contains("svix") {
        "svix"
    } else if l.starts_with("webhook-") || l.contains("standardwebhooks") {
        "standardwebhooks"
    } else if l.contains("slack") {
        "slack"
    } else if l.contains("shopify") {
        "shopify"
    } else if l.contains("twilio") {
        "twilio"
    } else {
        return None;
    })
}

fn event_id_text(l: &str) -> bool {
    l.contains("event_id")
        || l.contains("eventid")
        || l.contains("delivery")
        || l.contains("idempoten")
        || l.contains("webhook-id")
        || l.contains("webhook_id")
        || l.contains("webhookid")
        || l.contains("svix-id")
        || l.contains("dedup")
        || l.contains("processed_event")
        || l.contains("processedevent")
}

fn eventish(obj: &str) -> bool {
    let l = obj.to_ascii_lowercase();
    let last = l.rsplit(['.', ' ']).next().unwrap_or(&l);
    matches!(
        last,
        "event"
            | "evt"
            | "e"
            | "payload"
            | "data"
            | "body"
            | "notification"
            | "webhook"
            | "msg"
            | "message"
            | "json"
    ) || last.ends_with("event")
}

/// What a handler body does.
#[derive(Default)]
struct Body {
    reads_sig_header: bool,
    verifier: Option<String>,
    hand_rolled: bool,
    constant_time: bool,
    unsafe_compare: bool,
    raw_body: bool,
    parsed_body: bool,
    signs_parsed: bool,
    event_id: bool,
    timestamp: bool,
    writes: Vec<String>,
    outbound: Vec<String>,
    enqueues: bool,
    provider: Option<&'static str>,
    /// Local variables holding parsed or re-serialised JSON.
    parsed_vars: HashSet<String>,
}

fn parsed_json_text(t: &str) -> bool {
    t.contains("json.dumps(")
        || t.contains("get_json(")
        || t.contains("request.json")
        || t.contains(".json()")
        || t.contains("JSON.stringify(")
}

impl Body {
    /// Whether call arguments feed parsed JSON (directly or through a local variable).
    fn parsed_args(&self, args: Node<'_>, cx: &FileCx<'_>) -> bool {
        parsed_json_text(cx.text(args))
            || descendants(args)
                .any(|n| n.kind() == "identifier" && self.parsed_vars.contains(cx.text(n)))
    }

    fn assignment(&mut self, left: Option<Node<'_>>, right: Option<Node<'_>>, cx: &FileCx<'_>) {
        if let (Some(l), Some(r)) = (left, right)
            && l.kind() == "identifier"
            && parsed_json_text(cx.text(r))
        {
            self.parsed_vars.insert(cx.text(l).to_string());
        }
    }

    fn verified(&mut self, name: &str, provider: Option<&'static str>, sdk: bool) {
        if self.verifier.is_none() || sdk {
            self.verifier = Some(name.to_string());
        }
        if sdk {
            self.constant_time = true;
            self.timestamp = true;
        }
        if self.provider.is_none() {
            self.provider = provider;
        }
    }

    fn attrs(&self, fact: FactBuilder, signals: Vec<&str>) -> FactBuilder {
        fact.attr("signals", signals)
            .attr("body_analyzed", true)
            .attr("reads_signature_header", self.reads_sig_header)
            .attr("verifies_signature", self.verifier.is_some())
            .attr_opt("verifier", self.verifier.clone())
            .attr("hand_rolled_hmac", self.hand_rolled)
            .attr("constant_time_compare", self.constant_time)
            .attr("unsafe_compare", self.unsafe_compare)
            .attr("raw_body", self.raw_body)
            .attr("parsed_body", self.parsed_body)
            .attr("signs_parsed_body", self.signs_parsed)
            .attr("reads_event_id", self.event_id)
            .attr("checks_timestamp", self.timestamp)
            .attr("writes", self.writes.clone())
            .attr("outbound_calls", self.outbound.clone())
            .attr("enqueues", self.enqueues)
    }

    fn string(&mut self, s: &str) {
        if header_signal(s) {
            self.reads_sig_header = true;
            if self.provider.is_none() {
                self.provider = provider_from(s);
            }
        }
        let l = s.to_ascii_lowercase();
        if event_id_text(&l) {
            self.event_id = true;
        }
        if l.contains("timestamp") || l == "t" {
            self.timestamp = true;
        }
    }

    fn identifier(&mut self, t: &str) {
        let l = t.to_ascii_lowercase();
        if event_id_text(&l) {
            self.event_id = true;
        }
        if l.contains("timestamp") || l.contains("tolerance") {
            self.timestamp = true;
        }
    }

    fn signals(&self, path: Option<&str>) -> Vec<&'static str> {
        let mut s = Vec::new();
        if path.is_some_and(path_signal) {
            s.push("path");
        }
        if self.reads_sig_header {
            s.push("signature_header");
        }
        if self.verifier.is_some() {
            s.push("verifier");
        }
        s
    }
}

/// Whether an expression text looks like a MAC or signature value.
fn macish(text: &str) -> bool {
    let l = text.to_ascii_lowercase();
    l.contains("signature")
        || l.contains("digest")
        || l.contains("hmac")
        || l.contains("createhmac")
        || matches!(l.as_str(), "sig" | "mac" | "expected_sig" | "computed_sig")
        || l.ends_with("_sig")
        || l.ends_with("sig") && l.len() <= 12
}

/// Whether a helper function's source verifies a signature (HMAC, constant-time compare or
/// a provider SDK verifier): calls to it count as verification.
fn verifies_inside(text: &str) -> bool {
    VERIFIES_INSIDE.iter().any(|k| text.contains(k))
}

/// What a same-file helper must contain to count as a verifier.
const VERIFIES_INSIDE: &[&str] = &[
    "hmac.new",
    "compare_digest",
    "construct_event",
    "createHmac",
    "timingSafeEqual",
    "constructEvent",
];

/// Top-level functions of a module that verify signatures.
fn verifier_functions(root: Node<'_>, cx: &FileCx<'_>) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut c = root.walk();
    for stmt in root.named_children(&mut c) {
        let stmt = match stmt.kind() {
            "decorated_definition" => stmt.field("definition").unwrap_or(stmt),
            "export_statement" => stmt.field("declaration").unwrap_or(stmt),
            _ => stmt,
        };
        let name = match stmt.kind() {
            "function_definition" | "function_declaration" => stmt.field("name"),
            "lexical_declaration" | "variable_declaration" => {
                stmt.named_child(0).and_then(|d| d.field("name"))
            }
            _ => None,
        };
        if let Some(name) = name
            && verifies_inside(cx.text(stmt))
        {
            out.insert(cx.text(name).to_string());
        }
    }
    out
}

/// A call of a function whose name says it verifies a webhook or signature
/// (`verify_signature`, `checkRequest`). `name` must be one identifier: a callee like
/// `checks[request]` is no such call.
fn is_generic_verifier(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    let identifier = l.bytes().all(|b| ident_byte(b) || b >= 0x80);
    identifier
        && (l.contains("verify") || l.contains("valid") || l.contains("check"))
        && (l.contains("sig")
            || l.contains("webhook")
            || l.contains("hmac")
            || l.contains("request"))
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

// ---------------------------------------------------------------------------------------
// Python

impl Detector for WebhookPy {
    fn name(&self) -> &'static str {
        "webhook-py"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Python]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "module",
            "import_statement",
            "import_from_statement",
            "function_definition",
            "call",
            "comparison_operator",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        &[
            // webhook_signature_check
            "compare_digest",
            "==",
            "!=",
            // background_thread
            "Thread",
            "Process",
            "create_task",
            "ensure_future",
            "PoolExecutor",
            // webhook_handler: a decorated route, or a Django view's `request`
            "@",
            "request",
            // (Not needed: read by `admits` with `Candidate::has`.)
            "post",
            "put",
            "patch",
            "delete",
            "route",
        ]
    }
    fn admits(&self, file: &Candidate<'_>) -> bool {
        admit::python(file)
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::new(PyVisitor {
            views_module: views_module(file.path),
            ..Default::default()
        })
    }
}

/// A Django views module, by its path: its functions taking `request` are views.
fn views_module(path: &str) -> bool {
    path.ends_with("views.py") || path.contains("/views/") || path.starts_with("views/")
}

#[derive(Default)]
struct PyVisitor {
    aliases: HashMap<String, String>,
    views_module: bool,
    django: bool,
    fastapi: bool,
    /// Names bound to a ThreadPoolExecutor / ProcessPoolExecutor.
    executors: HashMap<String, &'static str>,
    /// Names bound to `Flask()`/`Blueprint()` (`flask`) or `FastAPI()`/`APIRouter()` (`fastapi`).
    apps: HashMap<String, &'static str>,
    /// Top-level functions of the file that verify signatures.
    verifier_fns: HashSet<String>,
    mac_cache: MacCache,
}

struct PyRoute {
    framework: &'static str,
    path: Option<String>,
    method: String,
    function: String,
}

const PY_OUTBOUND_HEADS: &[&str] = &[
    "requests", "httpx", "urllib3", "aiohttp", "smtplib", "openai", "boto3", "sendgrid",
];

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

    fn callee(&self, call: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
        let f = call.field("function")?;
        let parts = py::dotted(f, cx)?;
        Some(self.canonical(&parts))
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let from = node.field("module_name").map(|m| cx.text(m).to_string());
        let root = from
            .as_deref()
            .unwrap_or_else(|| node.named_child(0).map(|n| cx.text(n)).unwrap_or_default());
        if root.starts_with("django") || root.starts_with("rest_framework") {
            self.django = true;
        }
        if root.starts_with("fastapi") || root.starts_with("starlette") {
            self.fastapi = true;
        }
        for (target, local) in py::import_bindings(node, cx) {
            if root.starts_with("django") || root.starts_with("rest_framework") {
                self.django = true;
            }
            let canonical = match &from {
                Some(m) => format!("{m}.{target}"),
                None if local == target => target.split('.').next().unwrap_or(target).to_string(),
                None => target.to_string(),
            };
            self.aliases.insert(local.to_string(), canonical);
        }
    }

    /// Whether a function definition is a request handler, and which.
    fn route(&self, def: Node<'_>, cx: &FileCx<'_>) -> Option<PyRoute> {
        let function = cx.text(def.field("name")?).to_string();
        let decorated = cx
            .parent(def)
            .filter(|p| p.kind() == "decorated_definition");
        let mut decorator_texts = Vec::new();
        if let Some(d) = decorated {
            let mut c = d.walk();
            for dec in d.named_children(&mut c).filter(|n| n.kind() == "decorator") {
                let Some(expr) = dec.named_child(0) else {
                    continue;
                };
                decorator_texts.push(cx.text(expr));
                if expr.kind() != "call" {
                    continue;
                }
                let Some(callee) = expr.field("function") else {
                    continue;
                };
                if callee.kind() != "attribute" {
                    continue;
                }
                let Some(attr) = callee.field("attribute") else {
                    continue;
                };
                let verb = cx.text(attr);
                let path = py::positional(expr)
                    .first()
                    .and_then(|p| py::string_value(*p, cx));
                let Some(path) = path.filter(|p| p.starts_with('/') || p.is_empty()) else {
                    continue;
                };
                let recv = callee
                    .field("object")
                    .map(|o| cx.text(o))
                    .unwrap_or_default();
                let framework = match self.apps.get(recv) {
                    Some(f) => *f,
                    None if verb == "route" => "flask",
                    None if self.fastapi => "fastapi",
                    None => "flask",
                };
                match verb {
                    "route" | "api_route" | "websocket" => {
                        if verb == "websocket" {
                            return None;
                        }
                        let methods = py::kwarg(expr, "methods", cx)
                            .map(|m| py::value(m, cx))
                            .and_then(|v| match v {
                                Value::Array(a) => Some(
                                    a.iter()
                                        .filter_map(|x| x.as_str().map(str::to_ascii_uppercase))
                                        .collect::<Vec<_>>()
                                        .join(","),
                                ),
                                _ => None,
                            })
                            .unwrap_or_else(|| "GET".into());
                        return Some(PyRoute {
                            framework,
                            path: Some(path),
                            method: methods,
                            function,
                        });
                    }
                    "get" | "post" | "put" | "patch" | "delete" => {
                        return Some(PyRoute {
                            framework,
                            path: Some(path),
                            method: verb.to_ascii_uppercase(),
                            function,
                        });
                    }
                    _ => {}
                }
            }
        }
        // Django views: `def view(request, ...)` in a views module or a Django file, or
        // `def post(self, request)` in a class-based view.
        if !(self.django || self.views_module) {
            return None;
        }
        let params = def.field("parameters")?;
        let mut c = params.walk();
        let names: Vec<&str> = params
            .named_children(&mut c)
            .map(|p| {
                let id = if p.kind() == "identifier" {
                    Some(p)
                } else {
                    p.field("name").or_else(|| p.named_child(0))
                };
                id.map(|i| cx.text(i)).unwrap_or_default()
            })
            .collect();
        let is_view = names.first() == Some(&"request")
            || (names.first() == Some(&"self")
                && names.get(1) == Some(&"request")
                && matches!(function.as_str(), "post" | "put" | "get" | "dispatch"));
        if !is_view {
            return None;
        }
        let name = if matches!(function.as_str(), "post" | "put" | "get" | "dispatch") {
            // The class name says more than `post`.
            let class = cx
                .parent(def)
                .and_then(|b| {
                    if b.kind() == "decorated_definition" {
                        cx.parent(b)
                    } else {
                        Some(b)
                    }
                })
                .and_then(|b| cx.parent(b))
                .filter(|c| c.kind() == "class_definition")
                .and_then(|c| c.field("name"))
                .map(|n| cx.text(n).to_string());
            match class {
                Some(c) => format!("{c}.{function}"),
                None => function.clone(),
            }
        } else {
            function.clone()
        };
        let method = if decorator_texts
            .iter()
            .any(|t| t.contains("require_POST") || t.contains("POST"))
            || function == "post"
        {
            "POST"
        } else {
            "ANY"
        };
        Some(PyRoute {
            framework: "django",
            path: None,
            method: method.into(),
            function: name,
        })
    }

    fn body(&self, def: Node<'_>, cx: &FileCx<'_>) -> Body {
        let mut b = Body::default();
        // FastAPI reads headers through parameters: `x_hub_signature_256: str = Header()`.
        if let Some(params) = def.field("parameters") {
            let mut c = params.walk();
            for p in params.named_children(&mut c) {
                let id = if p.kind() == "identifier" {
                    Some(p)
                } else {
                    p.field("name").or_else(|| p.named_child(0))
                };
                if let Some(id) = id.filter(|i| i.kind() == "identifier") {
                    b.string(&cx.text(id).replace('_', "-"));
                }
            }
        }
        let Some(body) = def.field("body") else {
            return b;
        };
        for n in descendants(body) {
            match n.kind() {
                "string" => {
                    if let Some(s) = py::string_value(n, cx) {
                        b.string(&s);
                    }
                }
                "identifier" => b.identifier(cx.text(n)),
                "subscript" => {
                    let (Some(obj), Some(key)) = (n.field("value"), n.field("subscript")) else {
                        continue;
                    };
                    if py::string_value(key, cx).as_deref() == Some("id") && eventish(cx.text(obj))
                    {
                        b.event_id = true;
                    }
                }
                "attribute" => {
                    let t = cx.text(n);
                    if let Some(obj) = t.strip_suffix(".id")
                        && eventish(obj)
                    {
                        b.event_id = true;
                    }
                    match t {
                        "request.data" | "request.body" | "request.stream" => b.raw_body = true,
                        "request.json" => b.parsed_body = true,
                        _ => {}
                    }
                }
                "comparison_operator" => {
                    if let Some((_, false)) = py_mac_compare(n, cx, &self.mac_cache) {
                        b.unsafe_compare = true;
                    }
                }
                "assignment" => b.assignment(n.field("left"), n.field("right"), cx),
                "call" => self.body_call(n, cx, &mut b),
                _ => {}
            }
        }
        b
    }

    fn body_call(&self, n: Node<'_>, cx: &FileCx<'_>, b: &mut Body) {
        let Some(func) = n.field("function") else {
            return;
        };
        let canonical = py::dotted(func, cx).map(|p| self.canonical(&p));
        let text = cx.text(func);
        let last = text.rsplit('.').next().unwrap_or(text);
        let args_text = n.field("arguments").map(|a| cx.text(a)).unwrap_or_default();
        let parsed_arg = n.field("arguments").is_some_and(|a| b.parsed_args(a, cx));
        match canonical.as_deref() {
            Some("hmac.new" | "hmac.HMAC" | "hmac.digest") => {
                b.verified("hmac.new", None, false);
                b.hand_rolled = true;
                b.signs_parsed |= parsed_arg;
                return;
            }
            Some("hmac.compare_digest" | "secrets.compare_digest") => {
                b.constant_time = true;
                return;
            }
            Some("time.sleep") => {
                b.outbound.push("time.sleep".into());
                return;
            }
            Some(c) if c.ends_with("Webhook.construct_event") || c == "construct_event" => {
                b.verified("stripe.Webhook.construct_event", Some("stripe"), true);
                b.signs_parsed |= parsed_arg;
                return;
            }
            Some(c) => {
                let head = c.split('.').next().unwrap_or_default();
                if PY_OUTBOUND_HEADS.contains(&head) && c.contains('.') {
                    b.outbound.push(c.to_string());
                    return;
                }
                if head == "stripe" && c.split('.').count() >= 3 {
                    b.outbound.push(c.to_string());
                    return;
                }
                if matches!(
                    c,
                    "urllib.request.urlopen" | "send_mail" | "django.core.mail.send_mail"
                ) {
                    b.outbound.push(c.to_string());
                    return;
                }
            }
            None => {}
        }
        match last {
            "get_data" | "body" if text.starts_with("request") => b.raw_body = true,
            "get_json" => b.parsed_body = true,
            "json" if text.starts_with("request") => b.parsed_body = true,
            "verify" | "verify_signature" | "validate" | "is_valid_request"
                if text.to_ascii_lowercase().contains("webhook")
                    || text.contains("wh.")
                    || text.contains("validator")
                    || text.contains("verifier")
                    || cx.text(n).contains("Webhook(") =>
            {
                let provider = provider_from(text).or_else(|| provider_from(cx.text(n)));
                let sdk = !text.to_ascii_lowercase().contains("hmac");
                b.verified(text, provider.or(Some("standardwebhooks")), sdk);
                b.signs_parsed |= parsed_arg;
            }
            "delay" | "apply_async" | "send_task" | "enqueue" | "enqueue_call" | "add_task"
            | "delay_on_commit" | "publish" => b.enqueues = true,
            "save" | "bulk_create" | "insert_one" | "insert_many" | "update_one" | "insert" => {
                b.writes.push(compact_call(text))
            }
            "create" if text.contains("objects.") || text.starts_with(char::is_uppercase) => {
                b.writes.push(compact_call(text))
            }
            "add" if text.ends_with("session.add") => b.writes.push(compact_call(text)),
            "execute" if args_text.to_ascii_uppercase().contains("INSERT ") => {
                b.writes.push(compact_call(text))
            }
            _ if is_generic_verifier(last) || self.verifier_fns.contains(last) => {
                b.verified(last, provider_from(last), false);
                b.signs_parsed |= parsed_arg;
            }
            _ => {}
        }
    }

    fn on_function(&mut self, def: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(route) = self.route(def, cx) else {
            return;
        };
        let body = self.body(def, cx);
        // A Django view has no path in the file: its name must say webhook.
        let name_signal = route.path.is_none() && {
            let f = route.function.to_ascii_lowercase();
            f.contains("webhook")
                || f.split(['_', '.'])
                    .any(|w| matches!(w, "hook" | "hooks" | "ipn" | "callback"))
        };
        let mut signals = body.signals(route.path.as_deref());
        if name_signal {
            signals.insert(0, "path");
        }
        if signals.is_empty() {
            return;
        }
        // A GET-only route does not receive webhooks.
        if route.method == "GET" {
            return;
        }
        let provider = body
            .provider
            .or_else(|| route.path.as_deref().and_then(provider_from))
            .or_else(|| provider_from(&route.function))
            .unwrap_or("unknown");
        let at = cx
            .parent(def)
            .filter(|p| p.kind() == "decorated_definition")
            .unwrap_or(def);
        let fact = cx
            .fact_range(
                "webhook_handler",
                TRANSPORT,
                Role::Consumer,
                at.start_byte()..def.field("name").map_or(def.end_byte(), |n| n.end_byte()),
            )
            .name(route.path.clone().unwrap_or_else(|| route.function.clone()))
            .attr("framework", route.framework)
            .attr("function", route.function)
            .attr("method", route.method)
            .attr("provider", provider);
        let fact = body.attrs(fact, signals);
        cx.emit(fact);
    }

    fn on_call(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(canonical) = self.callee(node, cx) else {
            return;
        };
        // Signature comparisons via compare_digest.
        if matches!(
            canonical.as_str(),
            "hmac.compare_digest" | "secrets.compare_digest"
        ) {
            let function = enclosing_py_function(node, cx);
            let fact = cx
                .fact("webhook_signature_check", TRANSPORT, Role::Definition, node)
                .name_opt(function)
                .attr("constant_time", true)
                .attr("operator", "compare_digest")
                .attr("expression", compact_call(cx.text(node)));
            cx.emit(fact);
            return;
        }
        let app = match canonical.as_str() {
            "flask.Flask" | "flask.Blueprint" => Some("flask"),
            "fastapi.FastAPI" | "fastapi.APIRouter" => Some("fastapi"),
            _ => None,
        };
        if let Some(framework) = app {
            if let Some(left) = cx
                .parent(node)
                .filter(|p| p.kind() == "assignment")
                .and_then(|p| p.field("left"))
            {
                self.apps.insert(cx.text(left).to_string(), framework);
            }
            return;
        }
        let method: &'static str = match canonical.as_str() {
            "threading.Thread" => "threading.Thread",
            "multiprocessing.Process" => "multiprocessing.Process",
            "asyncio.create_task" | "asyncio.ensure_future" => "asyncio.create_task",
            "concurrent.futures.ThreadPoolExecutor" | "concurrent.futures.ProcessPoolExecutor" => {
                // Remember the binding: `pool = ThreadPoolExecutor()` / `with ... as pool`.
                let kind = if canonical.ends_with("ThreadPoolExecutor") {
                    "ThreadPoolExecutor"
                } else {
                    "ProcessPoolExecutor"
                };
                let binding = cx.parent(node).and_then(|p| match p.kind() {
                    "assignment" => p.field("left"),
                    "as_pattern" => p.field("alias"),
                    _ => None,
                });
                if let Some(b) = binding {
                    self.executors.insert(cx.text(b).to_string(), kind);
                }
                return;
            }
            _ => {
                let Some((recv, m)) = canonical.rsplit_once('.') else {
                    return;
                };
                if !matches!(m, "submit" | "map") {
                    return;
                }
                let pool = self.executors.get(recv).copied().or_else(|| {
                    // `ThreadPoolExecutor().submit(...)`
                    let f = node.field("function")?;
                    let obj = f.field("object")?;
                    (obj.kind() == "call"
                        && self
                            .callee(obj, cx)
                            .is_some_and(|c| c.ends_with("ThreadPoolExecutor")))
                    .then_some("ThreadPoolExecutor")
                });
                let Some(pool) = pool else { return };
                match (pool, m) {
                    ("ThreadPoolExecutor", "submit") => "ThreadPoolExecutor.submit",
                    ("ThreadPoolExecutor", _) => "ThreadPoolExecutor.map",
                    (_, "submit") => "ProcessPoolExecutor.submit",
                    _ => "ProcessPoolExecutor.map",
                }
            }
        };
        let target = if method.starts_with("threading") || method.starts_with("multiprocessing") {
            py::kwarg(node, "target", cx).map(|t| cx.text(t).to_string())
        } else {
            py::positional(node).first().map(|t| {
                let t = if t.kind() == "call" {
                    t.field("function").unwrap_or(*t)
                } else {
                    *t
                };
                cx.text(t).to_string()
            })
        };
        let mut route = None;
        let mut n = cx.parent(node);
        while let Some(p) = n {
            if p.kind() == "function_definition"
                && let Some(r) = self.route(p, cx)
            {
                route = Some(r);
                break;
            }
            n = cx.parent(p);
        }
        let fact = cx
            .fact("background_thread", "thread", Role::Producer, node)
            .name_opt(target.clone())
            .attr("method", method)
            .attr_opt("target", target)
            .attr("in_request_handler", route.is_some())
            .attr_opt("framework", route.as_ref().map(|r| r.framework))
            .attr_opt("handler", route.map(|r| r.function));
        let fact = match py::kwarg(node, "daemon", cx) {
            Some(d) => fact.attr("daemon", py::value(d, cx)),
            None => fact,
        };
        cx.emit(fact);
    }
}

fn compact_call(text: &str) -> String {
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.len() > 80 {
        let mut end = 80;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &t[..end])
    } else {
        t
    }
}

fn enclosing_py_function(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    crate::walk::enclosing_function(node, &["function_definition"], cx)
        .and_then(|f| f.field("name"))
        .map(|n| cx.text(n).to_string())
}

fn py_is_literal(n: Node<'_>) -> bool {
    matches!(
        n.kind(),
        "string" | "concatenated_string" | "integer" | "float" | "none" | "true" | "false"
    )
}

/// Per function (by start byte): the variables it assigns from an HMAC or digest
/// expression. Computed once per function, so a file with many comparisons stays linear.
type MacCache = RefCell<HashMap<usize, HashSet<String>>>;

/// Whether `operand` is a variable that the function around `at` assigns from an HMAC or
/// digest expression (`expected = hmac.new(...).hexdigest()`).
fn bound_to_mac(operand: Node<'_>, at: Node<'_>, cx: &FileCx<'_>, cache: &MacCache) -> bool {
    if operand.kind() != "identifier" {
        return false;
    }
    let name = cx.text(operand);
    // Only names that could hold a computed MAC are traced (this bounds the work on files
    // with many comparisons).
    let l = name.to_ascii_lowercase();
    if ![
        "expected", "computed", "calc", "hash", "check", "verif", "mac", "sig", "digest",
    ]
    .iter()
    .any(|k| l.contains(k))
    {
        return false;
    }
    let kinds: &[&str] = &[
        "function_definition",
        "function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        "function",
    ];
    let Some(func) = crate::walk::enclosing_function(at, kinds, cx) else {
        return false;
    };
    let mut cache = cache.borrow_mut();
    let vars = cache.entry(func.start_byte()).or_insert_with(|| {
        let text = cx.text(func);
        if !(text.contains("hmac") || text.contains("Hmac") || text.contains("digest")) {
            return HashSet::new();
        }
        descendants(func)
            .filter_map(|n| {
                let (left, right) = match n.kind() {
                    "assignment" => (n.field("left")?, n.field("right")?),
                    "variable_declarator" => (n.field("name")?, n.field("value")?),
                    _ => return None,
                };
                let t = cx.text(right);
                (t.contains("hmac") || t.contains("Hmac") || t.contains("digest("))
                    .then(|| cx.text(left).to_string())
            })
            .collect()
    });
    vars.contains(name)
}

/// A Python comparison of a MAC or signature: (operator, constant time = false).
fn py_mac_compare(n: Node<'_>, cx: &FileCx<'_>, cache: &MacCache) -> Option<(String, bool)> {
    let mut c = n.walk();
    let operands: Vec<Node<'_>> = n.named_children(&mut c).collect();
    if operands.len() != 2 {
        return None;
    }
    let mut c = n.walk();
    let op = n
        .children(&mut c)
        .find(|ch| !ch.is_named())
        .map(|o| cx.text(o).to_string())?;
    if !matches!(op.as_str(), "==" | "!=") {
        return None;
    }
    if operands.iter().any(|o| {
        py_is_literal(*o)
            || (o.kind() == "call"
                && o.field("function")
                    .is_some_and(|f| matches!(cx.text(f), "len" | "type" | "isinstance")))
    }) {
        return None;
    }
    let any_mac = operands
        .iter()
        .any(|o| macish(cx.text(*o)) || bound_to_mac(*o, n, cx, cache));
    any_mac.then_some((op, false))
}

impl<'t> Visitor<'t> for PyVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "module" => self.verifier_fns = verifier_functions(node, cx),
            "import_statement" | "import_from_statement" => self.on_import(node, cx),
            "function_definition" => self.on_function(node, cx),
            "call" => self.on_call(node, cx),
            "comparison_operator" => {
                if let Some((op, _)) = py_mac_compare(node, cx, &self.mac_cache) {
                    let function = enclosing_py_function(node, cx);
                    let fact = cx
                        .fact("webhook_signature_check", TRANSPORT, Role::Definition, node)
                        .name_opt(function)
                        .attr("constant_time", false)
                        .attr("operator", op)
                        .attr("expression", compact_call(cx.text(node)));
                    cx.emit(fact);
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// JavaScript / TypeScript

impl Detector for WebhookJs {
    fn name(&self) -> &'static str {
        "webhook-js"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::JavaScript, Language::TypeScript, Language::Tsx]
    }
    fn kinds(&self, _: Language) -> &'static [&'static str] {
        &[
            "program",
            "call_expression",
            "export_statement",
            "binary_expression",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        &[
            // webhook_signature_check
            "timingSafeEqual",
            "==",
            "!=",
            // webhook_handler: Express routes, Next.js route files, edge functions
            "post",
            "put",
            "all",
            "patch",
            "export",
            "serve",
        ]
    }
    fn admits(&self, file: &Candidate<'_>) -> bool {
        admit::javascript(file)
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::new(JsVisitor {
            file_route: file_route(file.path),
            ..Default::default()
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum FileRoute {
    #[default]
    None,
    /// Next.js App Router `route.ts`.
    AppRoute,
    /// Next.js `pages/api/*`.
    PagesApi,
    /// `supabase/functions/<name>/index.ts`.
    Edge,
}

/// The route a file stands for by its path, if any: (kind, URL path).
fn file_route(path: &str) -> (FileRoute, Option<String>) {
    let segs: Vec<&str> = path.split('/').collect();
    let Some(file) = segs.last() else {
        return (FileRoute::None, None);
    };
    let stem = file.split('.').next().unwrap_or_default();
    let ext_ok = [".ts", ".js", ".mjs", ".tsx", ".jsx"]
        .iter()
        .any(|e| file.ends_with(e));
    if !ext_ok {
        return (FileRoute::None, None);
    }
    let url = |from: usize, to: usize| {
        let parts: Vec<&str> = segs[from..to]
            .iter()
            .copied()
            .filter(|s| !(s.starts_with('(') && s.ends_with(')')))
            .collect();
        format!("/{}", parts.join("/"))
    };
    if stem == "route"
        && let Some(i) = segs[..segs.len() - 1].iter().rposition(|s| *s == "app")
    {
        return (FileRoute::AppRoute, Some(url(i + 1, segs.len() - 1)));
    }
    if let Some(i) = segs.iter().position(|s| *s == "pages")
        && segs.get(i + 1) == Some(&"api")
    {
        let mut u = url(i + 1, segs.len() - 1);
        if stem != "index" {
            u = format!("{}/{stem}", u.trim_end_matches('/'));
        }
        return (FileRoute::PagesApi, Some(u));
    }
    if stem == "index"
        && segs.len() >= 4
        && segs[segs.len() - 4] == "supabase"
        && segs[segs.len() - 3] == "functions"
    {
        return (
            FileRoute::Edge,
            Some(format!("/functions/v1/{}", segs[segs.len() - 2])),
        );
    }
    (FileRoute::None, None)
}

#[derive(Default)]
struct JsVisitor<'t> {
    file_route: (FileRoute, Option<String>),
    root: Option<Node<'t>>,
    /// Express routes whose handler is a named function: (call node, handler name, path,
    /// method, route has raw-body middleware).
    named: Vec<(Node<'t>, String, String, String, bool)>,
    /// The file parses JSON for every route (`app.use(express.json())`).
    global_json: bool,
    /// Top-level functions of the file that verify signatures.
    verifier_fns: HashSet<String>,
    mac_cache: MacCache,
}

const NOT_ROUTERS: &[&str] = &[
    "axios",
    "http",
    "https",
    "request",
    "fetch",
    "api",
    "client",
    "$",
    "superagent",
    "got",
    "ky",
    "supertest",
    "agent",
    "mock",
    "nock",
    "msw",
    "rest",
    "ajax",
    "instance",
    "httpClient",
];

fn js_body(func: Node<'_>, cx: &FileCx<'_>, helpers: &HashSet<String>, cache: &MacCache) -> Body {
    let mut b = Body::default();
    let mut first_response: Option<usize> = None;
    let mut first_outbound: Option<usize> = None;
    for n in descendants(func) {
        match n.kind() {
            "string" | "template_string" => {
                if let Some(s) = js::string_value(n, cx) {
                    b.string(&s);
                }
            }
            "identifier"
            | "property_identifier"
            | "shorthand_property_identifier"
            | "shorthand_property_identifier_pattern" => b.identifier(cx.text(n)),
            "member_expression" => {
                let t = cx.text(n);
                if let Some(obj) = t.strip_suffix(".id")
                    && eventish(obj)
                {
                    b.event_id = true;
                }
                if t.ends_with(".rawBody") {
                    b.raw_body = true;
                }
            }
            "binary_expression" if js_mac_compare(n, cx, cache).is_some() => {
                b.unsafe_compare = true;
            }
            "variable_declarator" => b.assignment(n.field("name"), n.field("value"), cx),
            "assignment_expression" => b.assignment(n.field("left"), n.field("right"), cx),
            "call_expression" => {
                let Some(f) = n.field("function") else {
                    continue;
                };
                let f = js::unwrap_expr(f);
                let text = cx.text(f);
                let last = text.rsplit('.').next().unwrap_or(text);
                let args_text = n.field("arguments").map(|a| cx.text(a)).unwrap_or_default();
                let parsed_arg = n.field("arguments").is_some_and(|a| b.parsed_args(a, cx));
                let lower = text.to_ascii_lowercase();
                match last {
                    "constructEvent" | "constructEventAsync" => {
                        b.verified("stripe.webhooks.constructEvent", Some("stripe"), true);
                        b.signs_parsed |= parsed_arg;
                    }
                    "createHmac" => {
                        b.verified("crypto.createHmac", None, false);
                        b.hand_rolled = true;
                    }
                    "update" if text.contains("createHmac") || lower.contains("hmac") => {
                        b.signs_parsed |= parsed_arg;
                    }
                    "timingSafeEqual" | "safeCompare" | "tsscmp" | "scmp" => b.constant_time = true,
                    "verify" | "verifyAndReceive" | "verifyWebhook" | "validateRequest"
                    | "verifyKey" | "verifySignature"
                        if lower.contains("webhook")
                            || lower.contains("wh")
                            || lower.contains("twilio")
                            || lower.contains("octokit")
                            || last != "verify" =>
                    {
                        let provider = provider_from(text).or_else(|| {
                            if lower.contains("octokit") || lower.contains("webhooks.verify") {
                                Some("github")
                            } else {
                                None
                            }
                        });
                        b.verified(text, provider.or(Some("standardwebhooks")), true);
                        b.signs_parsed |= parsed_arg;
                    }
                    "text" | "arrayBuffer" | "blob" if lower.starts_with("req") => {
                        b.raw_body = true
                    }
                    "json" if lower.starts_with("req") => b.parsed_body = true,
                    "fetch" | "sendMail" | "setTimeout" => {
                        if last != "setTimeout"
                            || cx.parent(n).is_some_and(|p| p.kind() == "await_expression")
                        {
                            b.outbound.push(text.to_string());
                            first_outbound.get_or_insert(n.start_byte());
                        }
                    }
                    "waitUntil" | "enqueue" | "publish" | "trigger" | "sendMessage" => {
                        b.enqueues = true
                    }
                    "add" if lower.contains("queue") => b.enqueues = true,
                    "send" | "json" | "sendStatus" | "end"
                        if lower.starts_with("res.") || lower.starts_with("reply.") =>
                    {
                        first_response.get_or_insert(n.start_byte());
                    }
                    "create" | "insert" | "insertOne" | "insertMany" | "save" | "createMany" => {
                        if !lower.starts_with("stripe") && !lower.contains("openai") {
                            b.writes.push(compact_call(text));
                        }
                    }
                    "query" | "execute" if args_text.to_ascii_uppercase().contains("INSERT ") => {
                        b.writes.push(compact_call(text))
                    }
                    _ => {
                        let head = lower.split('.').next().unwrap_or_default();
                        if matches!(
                            head,
                            "axios"
                                | "got"
                                | "superagent"
                                | "openai"
                                | "resend"
                                | "sgmail"
                                | "transporter"
                                | "mailer"
                        ) || (head == "stripe" && !lower.contains("webhooks"))
                        {
                            b.outbound.push(text.to_string());
                            first_outbound.get_or_insert(n.start_byte());
                        } else if is_generic_verifier(last) || helpers.contains(last) {
                            b.verified(last, provider_from(last), false);
                            b.signs_parsed |= parsed_arg;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // Answering before doing the slow work also keeps the provider from retrying.
    if let (Some(r), Some(o)) = (first_response, first_outbound)
        && r < o
    {
        b.enqueues = true;
    }
    b
}

fn js_is_literal(n: Node<'_>) -> bool {
    matches!(
        n.kind(),
        "string" | "template_string" | "number" | "null" | "undefined" | "true" | "false"
    )
}

/// A JS comparison of a MAC or signature with `==`/`===`/`!=`/`!==`.
fn js_mac_compare(n: Node<'_>, cx: &FileCx<'_>, cache: &MacCache) -> Option<String> {
    let op = cx.text(n.field("operator")?);
    if !matches!(op, "==" | "===" | "!=" | "!==") {
        return None;
    }
    let (l, r) = (
        js::unwrap_expr(n.field("left")?),
        js::unwrap_expr(n.field("right")?),
    );
    if js_is_literal(l)
        || js_is_literal(r)
        || cx.text(l) == "undefined"
        || cx.text(r) == "undefined"
    {
        return None;
    }
    let lengthy = |x: Node<'_>| cx.text(x).ends_with(".length") || cx.text(x).starts_with("typeof");
    if lengthy(l) || lengthy(r) {
        return None;
    }
    (macish(cx.text(l))
        || macish(cx.text(r))
        || bound_to_mac(l, n, cx, cache)
        || bound_to_mac(r, n, cx, cache))
    .then(|| op.to_string())
}

impl<'t> JsVisitor<'t> {
    #[allow(clippy::too_many_arguments)]
    fn emit_handler(
        &self,
        cx: &mut FileCx<'_>,
        at: std::ops::Range<usize>,
        framework: &str,
        path: Option<String>,
        method: &str,
        function: Option<String>,
        func: Option<Node<'_>>,
        raw_middleware: bool,
    ) {
        let Some(func) = func else {
            // The body is elsewhere: a webhook only by its path.
            if path.as_deref().is_some_and(path_signal) {
                let provider = path.as_deref().and_then(provider_from).unwrap_or("unknown");
                let fact = cx
                    .fact_range("webhook_handler", TRANSPORT, Role::Consumer, at)
                    .name_opt(path.or(function.clone()))
                    .attr("framework", framework)
                    .attr_opt("function", function)
                    .attr("method", method)
                    .attr("provider", provider)
                    .attr("signals", vec!["path"])
                    .attr("body_analyzed", false);
                cx.emit(fact);
            }
            return;
        };
        let mut body = js_body(func, cx, &self.verifier_fns, &self.mac_cache);
        if raw_middleware {
            body.raw_body = true;
        }
        if self.global_json && framework == "express" && !body.raw_body {
            body.parsed_body = true;
        }
        let mut signals = body.signals(path.as_deref());
        if path.is_none()
            && function
                .as_deref()
                .is_some_and(|f| f.to_ascii_lowercase().contains("webhook"))
        {
            signals.insert(0, "path");
        }
        if signals.is_empty() {
            return;
        }
        let provider = body
            .provider
            .or_else(|| path.as_deref().and_then(provider_from))
            .unwrap_or("unknown");
        let fact = cx
            .fact_range("webhook_handler", TRANSPORT, Role::Consumer, at)
            .name_opt(path.or(function.clone()))
            .attr("framework", framework)
            .attr_opt("function", function)
            .attr("method", method)
            .attr("provider", provider);
        let fact = body.attrs(fact, signals);
        cx.emit(fact);
    }

    fn on_call(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        let Some(func) = node.field("function") else {
            return;
        };
        let func = js::unwrap_expr(func);
        let ftext = cx.text(func);
        // Constant-time comparisons.
        let last = ftext.rsplit('.').next().unwrap_or(ftext);
        if last == "timingSafeEqual" {
            let function = enclosing_js_function(node, cx);
            let fact = cx
                .fact("webhook_signature_check", TRANSPORT, Role::Definition, node)
                .name_opt(function)
                .attr("constant_time", true)
                .attr("operator", "timingSafeEqual")
                .attr("expression", compact_call(cx.text(node)));
            cx.emit(fact);
            return;
        }
        // `app.use(express.json())` / `app.use(bodyParser.json())`
        if last == "use" && {
            let a = node
                .field("arguments")
                .map(|a| cx.text(a))
                .unwrap_or_default();
            a.starts_with("(express.json(") || a.starts_with("(bodyParser.json(")
        } {
            self.global_json = true;
            return;
        }
        // Edge functions: `Deno.serve(handler)` / `serve(handler)`.
        if self.file_route.0 == FileRoute::Edge && matches!(ftext, "Deno.serve" | "serve") {
            let h = js::arguments(node)
                .into_iter()
                .map(js::unwrap_expr)
                .find(|a| js::is_function(*a));
            let at = node.start_byte()..func.end_byte();
            self.emit_handler(
                cx,
                at,
                "edge",
                self.file_route.1.clone(),
                "ANY",
                None,
                h,
                false,
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
        if !matches!(method, "post" | "put" | "all" | "patch") {
            return;
        }
        let recv = cx.text(obj);
        if NOT_ROUTERS.contains(&recv)
            || obj.kind() != "identifier" && obj.kind() != "member_expression"
            || recv.to_ascii_lowercase().contains("axios")
            || recv.to_ascii_lowercase().contains("client")
        {
            return;
        }
        let args = js::arguments(node);
        let Some(path) = args
            .first()
            .and_then(|p| js::string_value(*p, cx))
            .filter(|p| p.starts_with('/'))
        else {
            return;
        };
        let raw = args.iter().skip(1).any(|a| {
            let t = cx.text(*a);
            t.contains(".raw(") || t.contains("rawBody") || t.contains(".text(")
        });
        let Some(handler) = args.last().map(|h| js::unwrap_expr(*h)) else {
            return;
        };
        let at = node.start_byte()..args.first().map_or(node.end_byte(), |a| a.end_byte());
        let upper = method.to_ascii_uppercase();
        if js::is_function(handler) {
            self.emit_handler(
                cx,
                at,
                "express",
                Some(path),
                &upper,
                None,
                Some(handler),
                raw,
            );
        } else if args.len() >= 2 && matches!(handler.kind(), "identifier" | "member_expression") {
            let name = cx.text(handler).to_string();
            self.named.push((node, name, path, upper, raw));
        }
    }

    fn on_export(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        let (kind, Some(path)) = self.file_route.clone() else {
            return;
        };
        if !matches!(kind, FileRoute::AppRoute | FileRoute::PagesApi) {
            return;
        }
        let is_default = cx.text(node).starts_with("export default");
        let Some(decl) = node.field("declaration").or_else(|| node.field("value")) else {
            return;
        };
        let (name, func) = match decl.kind() {
            "function_declaration" | "generator_function_declaration" => (
                decl.field("name").map(|n| cx.text(n).to_string()),
                Some(decl),
            ),
            "lexical_declaration" | "variable_declaration" => {
                let Some(d) = decl
                    .named_child(0)
                    .filter(|d| d.kind() == "variable_declarator")
                else {
                    return;
                };
                (
                    d.field("name").map(|n| cx.text(n).to_string()),
                    d.field("value")
                        .map(js::unwrap_expr)
                        .filter(|v| js::is_function(*v)),
                )
            }
            _ if js::is_function(decl) => (None, Some(decl)),
            _ => return,
        };
        let method = match kind {
            FileRoute::AppRoute => match name.as_deref() {
                Some(m @ ("POST" | "PUT" | "PATCH")) => m.to_string(),
                _ => return,
            },
            _ if is_default => "ANY".into(),
            _ => return,
        };
        let Some(func) = func else { return };
        let at = node.start_byte()
            ..func
                .field("parameters")
                .map_or(func.end_byte(), |p| p.start_byte());
        let raw = kind == FileRoute::PagesApi
            && self
                .root
                .is_some_and(|r| cx.text(r).contains("bodyParser: false"));
        self.emit_handler(cx, at, "nextjs", Some(path), &method, name, Some(func), raw);
    }
}

fn enclosing_js_function(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let f = crate::walk::enclosing_function(node, js::FUNCTION_KINDS, cx)?;
    if let Some(n) = f.field("name") {
        return Some(cx.text(n).to_string());
    }
    cx.parent(f)
        .filter(|p| p.kind() == "variable_declarator")
        .and_then(|p| p.field("name"))
        .map(|n| cx.text(n).to_string())
}

impl<'t> Visitor<'t> for JsVisitor<'t> {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "program" if self.root.is_none() => {
                self.root = Some(node);
                self.verifier_fns = verifier_functions(node, cx);
            }
            "call_expression" => self.on_call(node, cx),
            "export_statement" => self.on_export(node, cx),
            "binary_expression" => {
                if let Some(op) = js_mac_compare(node, cx, &self.mac_cache) {
                    let function = enclosing_js_function(node, cx);
                    let fact = cx
                        .fact("webhook_signature_check", TRANSPORT, Role::Definition, node)
                        .name_opt(function)
                        .attr("constant_time", false)
                        .attr("operator", op)
                        .attr("expression", compact_call(cx.text(node)));
                    cx.emit(fact);
                }
            }
            _ => {}
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        if self.named.is_empty() {
            return;
        }
        // Named handlers: find their declarations in the file.
        let mut funcs: HashMap<String, Node<'t>> = HashMap::new();
        let wanted: HashSet<&str> = self.named.iter().map(|n| n.1.as_str()).collect();
        if let Some(root) = self.root {
            for n in descendants(root) {
                let (name, func) = match n.kind() {
                    "function_declaration" => (n.field("name"), Some(n)),
                    "variable_declarator" => (
                        n.field("name"),
                        n.field("value")
                            .map(js::unwrap_expr)
                            .filter(|v| js::is_function(*v)),
                    ),
                    _ => continue,
                };
                if let (Some(name), Some(func)) = (name, func) {
                    let name = cx.text(name);
                    if wanted.contains(name) {
                        funcs.entry(name.to_string()).or_insert(func);
                    }
                }
            }
        }
        for (node, name, path, method, raw) in &self.named {
            let args = js::arguments(*node);
            let at = node.start_byte()..args.first().map_or(node.end_byte(), |a| a.end_byte());
            let func = funcs.get(name).copied();
            self.emit_handler(
                cx,
                at,
                "express",
                Some(path.clone()),
                method,
                Some(name.clone()),
                func,
                *raw,
            );
        }
    }
}

/// Webhooks are consumers of an external producer: one channel per route (scoped by the
/// provider). Background threads are producers on their own `thread` channel.
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    for f in facts {
        match f.kind.as_str() {
            "webhook_handler" => {
                let Some(name) = &f.name else { continue };
                let provider = f
                    .attr("provider")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                linker.consumer(TRANSPORT, name, Some(provider), f);
            }
            "background_thread" => {
                let name = f.name.as_deref().unwrap_or("?");
                linker.producer("thread", name, None, f);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Prefilter

/// What a file must hold for the detectors above to emit anything ([`Detector::admits`]),
/// on code without syntax errors (what the prefilter promises).
///
/// Each detector's `admits` is a disjunction over its emission paths; each path a
/// conjunction of what its facts cannot do without, read off the code above. Words are
/// looked for in the raw text: string values are read raw (escapes included), so a word of
/// a value is a word of the text; case is ignored where the detector lower-cases. Beyond
/// plain words:
/// - positions: a route's path is the string right after `post(` ([`py_route_paths`],
///   [`js_route_paths`]), a Django view's `request` parameter follows `(` or `,`
///   ([`py_request_params`]), a view's name is `def <name>(request` or on a `class` line,
///   a header is read from a short string or from a parameter's name ([`Found::header`]);
/// - Python's implicit string concatenation (`"/web" "hook"`): words of string values are
///   also looked for with the literals' seams removed ([`without_py_seams`]);
/// - the file's path: Next.js route files and edge functions are routes by their path,
///   views modules hold Django views.
///
/// Between two tokens we skip what tree-sitter skips: blanks (any non-ASCII byte counts
/// as one: tree-sitter's `\s` takes Unicode spaces), line continuations and comments.
///
/// [`Detector::admits`]: crate::engine::Detector::admits
mod admit {
    use std::ops::Range;
    use std::sync::OnceLock;

    use aho_corasick::{AhoCorasick, MatchKind};

    use crate::prefilter::Candidate;

    /// webhook-py ([`super::WebhookPy`]).
    pub(super) fn python(file: &Candidate<'_>) -> bool {
        let t = file.text;
        // webhook_signature_check: `hmac.compare_digest(...)`, `secrets.compare_digest`
        // (the name is written in the call or in its import). background_thread.
        if file.has("compare_digest") || py_background(file) {
            return true;
        }
        // webhook_signature_check: `==`/`!=` with a MAC-ish operand.
        let compares = file.any(&["==", "!="]);
        // webhook_handler: a route (decorated, or a Django view) and a signal.
        let may_route = file.has("@") && file.any(&["post", "put", "patch", "delete", "route"]);
        // (A Django view is one only in a views module, by its path, or in a file that imports
        // `django` or `rest_framework`.)
        let may_view = file.has("request")
            && (super::views_module(file.path) || file.any(&["django", "rest_framework"]));
        if !compares && !may_route && !may_view {
            return false;
        }
        let code = if may_route || may_view {
            match Code::new(t, false) {
                Some(code) => code,
                None => return true,
            }
        } else {
            Code::default()
        };
        let decorated = may_route && py_route_paths(&code).next().is_some();
        let view = may_view && py_request_params(&code).next().is_some();
        if !compares && !decorated && !view {
            return false;
        }
        let Some(found) = Found::new(t, false) else {
            return true;
        };
        compares && found.mac()
            || (decorated || view)
                && (found.py_verifier()
                    || found.header()
                    || decorated && py_route_paths(&code).any(|p| found.path_within(p))
                    || view && found.view_name(&code)
                    || seamless(t, |f| f.header())
                    || found.generic_verifier())
    }

    /// webhook-js ([`super::WebhookJs`]).
    pub(super) fn javascript(file: &Candidate<'_>) -> bool {
        let t = file.text;
        // webhook_signature_check: `crypto.timingSafeEqual(...)`.
        if file.has("timingSafeEqual") {
            return true;
        }
        if !file.any(&["post", "put", "all", "patch", "serve", "export", "==", "!="]) {
            return false;
        }
        let Some(code) = Code::new(t, true) else {
            return true;
        };
        // webhook_handler of an edge function (`serve(...)`, `Deno.serve(...)` in
        // `supabase/functions/<name>/index.ts`) or of a Next.js route file (App Router: an
        // exported `POST`, `PUT`, `PATCH`; pages/api: `export default`): routes by their file
        // path, which may be the only signal.
        let file_routed = match super::file_route(file.path).0 {
            super::FileRoute::None => false,
            super::FileRoute::Edge => code.has("serve"),
            super::FileRoute::AppRoute => {
                file.has("export") && code.has_any(&["POST", "PUT", "PATCH"])
            }
            super::FileRoute::PagesApi => code.has("export default"),
        };
        if file_routed {
            return true;
        }
        // webhook_signature_check: `==`, `===`, `!=`, `!==` with a MAC-ish operand.
        let compares = file.any(&["==", "!="]);
        // webhook_handler, Express: `<router>.post|put|all|patch('/path', ...)` and a signal.
        let express = js_route_paths(&code).next().is_some();
        if !compares && !express {
            return false;
        }
        let Some(found) = Found::new(t, true) else {
            return true;
        };
        compares && found.mac()
            || express
                && (found.header()
                    || found.js_verifier()
                    || js_route_paths(&code).any(|p| found.path_within(p))
                    || found.generic_verifier())
    }

    /// The syntax words of a language written whole and exactly (one case-sensitive pass),
    /// where the routes and views are looked for.
    #[derive(Default)]
    struct Code<'t> {
        text: &'t str,
        words: Vec<(&'static str, Range<usize>)>,
    }

    impl<'t> Code<'t> {
        const PYTHON: &'static [&'static str] = &[
            "post",
            "put",
            "patch",
            "delete",
            "route",
            "api_route",
            "methods",
            "request",
        ];
        const JS: &'static [&'static str] = &[
            "post",
            "put",
            "all",
            "patch",
            "serve",
            "POST",
            "PUT",
            "PATCH",
            "export default",
        ];

        /// `None` if the automaton could not be built (then admit).
        fn new(text: &'t str, js: bool) -> Option<Self> {
            static PYTHON: OnceLock<Option<AhoCorasick>> = OnceLock::new();
            static JS: OnceLock<Option<AhoCorasick>> = OnceLock::new();
            let (list, cell) = if js {
                (Self::JS, &JS)
            } else {
                (Self::PYTHON, &PYTHON)
            };
            // Leftmost-longest, not overlapping: a word this hides overlaps another one, so is
            // no whole word (`route` in `api_route`), or no `export` token (`deletexport`).
            let ac = cell
                .get_or_init(|| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::LeftmostLongest)
                        .build(list)
                        .ok()
                })
                .as_ref()?;
            let b = text.as_bytes();
            let words = ac
                .find_iter(text)
                .map(|m| (list[m.pattern().as_usize()], m.range()))
                .filter(|(w, r)| {
                    let (l, rr) = edges(b, r, |c| !word_byte(c, js));
                    *w == "export default" || l && rr
                })
                .collect();
            Some(Code { text, words })
        }

        fn of<'a>(&'a self, words: &'a [&str]) -> impl Iterator<Item = Range<usize>> + 'a {
            self.words
                .iter()
                .filter(|(w, _)| words.contains(w))
                .map(|(_, r)| r.clone())
        }

        fn has(&self, word: &str) -> bool {
            self.of(&[word]).next().is_some()
        }

        fn has_any(&self, words: &[&str]) -> bool {
            self.of(words).next().is_some()
        }
    }

    // ----------------------------------------------------------------------------------
    // Bytes

    /// ASCII identifier bytes: letters, digits, `_`; in JS also `$` and `\` (`\u0041`
    /// escapes). A whole word has none of these on either side: a non-ASCII neighbour may be
    /// a Unicode space to tree-sitter, so it does not make a word part of a longer one.
    fn word_byte(b: u8, js: bool) -> bool {
        b.is_ascii_alphanumeric() || b == b'_' || js && (b == b'$' || b == b'\\')
    }

    /// Bytes an identifier may hold: [`word_byte`]s and any non-ASCII byte (identifiers may
    /// hold non-ASCII letters). To extend a match to its whole identifier.
    fn ident_byte(b: u8, js: bool) -> bool {
        word_byte(b, js) || b >= 0x80
    }

    /// Bytes tree-sitter may skip between tokens, comments aside.
    fn blank(b: u8) -> bool {
        b.is_ascii_whitespace() || b == b'\x0b' || b == b'\\' || b >= 0x80
    }

    /// Whether a comment starts at `i`.
    fn comment_at(b: &[u8], i: usize, js: bool) -> bool {
        match b.get(i) {
            Some(b'#') => !js,
            Some(b'/') => js && matches!(b.get(i + 1), Some(b'/' | b'*')),
            _ => false,
        }
    }

    /// The end of the comment that starts at `i`.
    fn comment_end(b: &[u8], i: usize, js: bool) -> usize {
        if js && b.get(i + 1) == Some(&b'*') {
            let body = (i + 2).min(b.len());
            return b[body..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(b.len(), |e| body + e + 2);
        }
        let from = i.min(b.len());
        b[from..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |e| from + e)
    }

    /// From `i`, past blanks and comments.
    fn skip_blank(b: &[u8], mut i: usize, js: bool) -> usize {
        while i < b.len() {
            if blank(b[i]) {
                i += 1;
            } else if comment_at(b, i, js) {
                i = comment_end(b, i, js);
            } else {
                break;
            }
        }
        i
    }

    /// The identifier around `range` ([`ident_byte`]s; and, to be safe with
    /// error-recovered trees, `$`, `?`, `!`, `` ` `` and `\`, which no Python identifier
    /// holds). Unlike `prefilter::identifier_around` it does not stop at non-ASCII letters:
    /// `checkérequest` is one identifier.
    fn ident_span(b: &[u8], range: Range<usize>, js: bool) -> Range<usize> {
        let part = |c: u8| ident_byte(c, js) || matches!(c, b'$' | b'?' | b'!' | b'`' | b'\\');
        let (mut start, mut end) = (range.start.min(b.len()), range.end.min(b.len()));
        while start > 0 && part(b[start - 1]) {
            start -= 1;
        }
        while end < b.len() && part(b[end]) {
            end += 1;
        }
        start..end
    }

    /// Whether `pred` holds for the byte before / after `range` (true at the text's ends).
    fn edges(b: &[u8], range: &Range<usize>, pred: impl Fn(u8) -> bool) -> (bool, bool) {
        let before = range.start == 0 || pred(b[range.start - 1]);
        let after = range.end >= b.len() || pred(b[range.end]);
        (before, after)
    }

    /// Segment words stand alone: no ASCII letter or digit on either side (path segments are
    /// split on `/`, `.`, `_`, `-`; name words on `_` and `.`).
    fn segment(b: &[u8], r: &Range<usize>) -> bool {
        let (l, rr) = edges(b, r, |c| !c.is_ascii_alphanumeric());
        l && rr
    }

    /// Where one of `words`, exactly as written (case included), is a whole word.
    fn whole_idents<'a>(
        text: &'a str,
        words: &'a [&'a str],
        js: bool,
    ) -> impl Iterator<Item = Range<usize>> + 'a {
        words.iter().flat_map(move |w| {
            text.match_indices(w).filter_map(move |(i, _)| {
                let r = i..i + w.len();
                let (l, rr) = edges(text.as_bytes(), &r, |c| !word_byte(c, js));
                (l && rr).then_some(r)
            })
        })
    }

    fn whole_ident_in(text: &str, words: &[&str], js: bool) -> bool {
        whole_idents(text, words, js).next().is_some()
    }

    /// Whether the whole word `word` starts at `i`.
    fn whole_ident_at(b: &[u8], i: usize, word: &str) -> bool {
        b[i.min(b.len())..].starts_with(word.as_bytes())
            && !b.get(i + word.len()).is_some_and(|&c| word_byte(c, false))
    }

    // ----------------------------------------------------------------------------------
    // Words, in one pass

    /// Every word the signals are made of, searched in any case in one pass; [`Found`] then
    /// narrows (case, boundaries, positions).
    const LEXICON: &[&str] = &[
        // MAC-ish operands (`macish`, `bound_to_mac`)
        "signature",
        "digest",
        "hmac",
        "sig",
        "mac",
        // signature headers (`header_signal`)
        "secret-token",
        "secret_token",
        "gitlab",
        "x-hub",
        "x_hub",
        "stripe",
        "webhook",
        "svix",
        "shopify",
        "authorization",
        // path segments (`path_signal`) and view names
        "hook",
        "hooks",
        "callback",
        "callbacks",
        "github",
        "notify",
        "ipn",
        "incoming",
        // verifiers (`body_call`, `js_body`, `verifies_inside`), case-sensitive
        "compare_digest",
        "construct_event",
        "createHmac",
        "timingSafeEqual",
        "constructEvent",
        "verify",
        "validate",
        "is_valid_request",
        "validateRequest",
        "wh.",
        "validator",
        "verifier",
        // generic verifiers (`is_generic_verifier`), besides verify/sig/webhook/hmac
        "valid",
        "check",
        "request",
    ];

    fn lexicon() -> Option<&'static AhoCorasick> {
        static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
        AC.get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(LEXICON)
                .ok()
        })
        .as_ref()
    }

    /// The [`LEXICON`]'s words in a text, overlapping ones included: (word as listed,
    /// where).
    struct Found<'t> {
        text: &'t str,
        js: bool,
        hits: Vec<(&'static str, Range<usize>)>,
    }

    impl<'t> Found<'t> {
        /// `None` if the automaton could not be built (then admit).
        fn new(text: &'t str, js: bool) -> Option<Self> {
            let hits = lexicon()?
                .find_overlapping_iter(text)
                .map(|m| (LEXICON[m.pattern().as_usize()], m.range()))
                .collect();
            Some(Found { text, js, hits })
        }

        fn bytes(&self) -> &'t [u8] {
            self.text.as_bytes()
        }

        fn of<'a>(&'a self, words: &'a [&str]) -> impl Iterator<Item = &'a Range<usize>> + 'a {
            self.hits
                .iter()
                .filter(|(w, _)| words.contains(w))
                .map(|(_, r)| r)
        }

        /// Whether `word` is written exactly (case included).
        fn exact(&self, word: &str) -> bool {
            self.of(&[word]).any(|r| &self.text[r.clone()] == word)
        }

        /// An operand [`super::macish`] accepts, or a variable [`super::bound_to_mac`]
        /// traces (it needs `hmac`/`Hmac`/`digest` in the function): `signature`, `digest`,
        /// `hmac` anywhere; an operand ending in `sig` (an identifier's end); an operand that
        /// is `mac`.
        fn mac(&self) -> bool {
            let b = self.bytes();
            self.hits.iter().any(|(w, r)| {
                let (l, rr) = edges(b, r, |c| !word_byte(c, self.js));
                match *w {
                    "signature" | "digest" | "hmac" => true,
                    "sig" => rr,
                    "mac" => l && rr,
                    _ => false,
                }
            })
        }

        /// A signature header ([`super::header_signal`], which lower-cases and maps `_` to
        /// `-`): `signature`, `secret-token`, `gitlab-token`, `webhook-secret`, `x-hub-`,
        /// `stripe-`, `webhook-`, `svix-`, `x-shopify-hmac`, or the whole value
        /// `authorization` (after an `http-` prefix). Read from a string of a handler's body
        /// shorter than 60 bytes (its opening quote is less than 72 bytes before the word),
        /// or in Python from a parameter's name (an identifier before `:`, `=`, `,`, `)`).
        fn header(&self) -> bool {
            let b = self.bytes();
            let read = |r: &Range<usize>| {
                let in_string = b[r.start.saturating_sub(72)..r.start]
                    .iter()
                    .any(|c| matches!(c, b'"' | b'\'' | b'`'));
                in_string
                    || !self.js && {
                        let name = ident_span(b, r.clone(), false);
                        matches!(
                            b.get(skip_blank(b, name.end, false)),
                            Some(b':' | b'=' | b',' | b')')
                        )
                    }
            };
            self.hits.iter().any(|(w, r)| {
                let word = match *w {
                    "signature" | "secret-token" | "secret_token" | "gitlab" | "x-hub"
                    | "x_hub" | "stripe" | "webhook" | "svix" | "shopify" => true,
                    "authorization" => segment(b, r),
                    _ => false,
                };
                word && read(r)
            })
        }

        /// A webhook path ([`super::path_signal`]) in `within` (`None`: anywhere): a segment
        /// `hook(s)`, `callback(s)`, `stripe`, `github`, `notify`, `ipn`, `svix`,
        /// `incoming`, or one ending in `webhook(s)`; in Python also across the seams of the
        /// literals there.
        fn path_within(&self, within: Option<Range<usize>>) -> bool {
            let b = self.bytes();
            let inside = |r: &Range<usize>| {
                within
                    .as_ref()
                    .is_none_or(|w| w.start <= r.start && r.end <= w.end)
            };
            self.hits.iter().any(|(w, r)| {
                inside(r)
                    && match *w {
                        "webhook" => true,
                        "hook" | "hooks" | "callback" | "callbacks" | "stripe" | "github"
                        | "notify" | "ipn" | "svix" | "incoming" => segment(b, r),
                        _ => false,
                    }
            }) || !self.js
                && within.is_some_and(|w| seamless(&self.text[w], |f| f.path_within(None)))
        }

        /// A Django view named as a webhook ([`super::PyVisitor::on_function`]; the file has a
        /// `request` parameter): the function's name (a view function: `def
        /// <name>(request`), or for `post`/`put`/`get`/`dispatch` its class's, holds
        /// `webhook` or a `_`/`.`-separated word `hook(s)`, `ipn`, `callback`.
        fn view_name(&self, code: &Code<'_>) -> bool {
            let (text, b) = (self.text, self.bytes());
            let mut hits: Vec<Range<usize>> = self
                .hits
                .iter()
                .filter(|(w, r)| match *w {
                    "webhook" => true,
                    "hook" | "hooks" | "ipn" | "callback" => segment(b, r),
                    _ => false,
                })
                .map(|(_, r)| r.clone())
                .collect();
            if hits.is_empty() {
                return false;
            }
            hits.sort_by_key(|r| r.start);
            // Logical lines (joined across `\` continuations); where `def`/`class` are.
            let line_starts: Vec<usize> = std::iter::once(0)
                .chain((1..=b.len()).filter(|&i| b[i - 1] == b'\n' && (i < 2 || b[i - 2] != b'\\')))
                .collect();
            let positions = |keyword: &'static str| {
                let mut v: Vec<usize> = whole_idents(text, &[keyword], false)
                    .map(|r| r.start)
                    .collect();
                v.sort_unstable();
                v
            };
            let (defs, classes) = (positions("def"), positions("class"));
            let on_line_before = |keywords: &[usize], at: usize| {
                let line = line_starts[line_starts.partition_point(|&s| s <= at) - 1];
                let k = keywords.partition_point(|&p| p < line);
                keywords.get(k).is_some_and(|&p| p < at)
            };
            // A function view: `def`, the name, `(`, `request` (or `*request`, or a tuple
            // pattern `(request, x)`).
            let first_params: Vec<usize> = py_request_params(code)
                .filter(|(_, before)| *before == b'(')
                .map(|(r, _)| r.start)
                .collect();
            let mut read = 0..0;
            for r in &hits {
                if read.start <= r.start && r.end <= read.end {
                    continue; // in the identifier already read
                }
                read = ident_span(b, r.clone(), false);
                let open = skip_blank(b, read.end, false);
                if b.get(open) != Some(&b'(') {
                    continue;
                }
                let mut i = open + 1;
                while i < b.len() && (blank(b[i]) || b[i] == b'*' || b[i] == b'(') {
                    i += 1;
                }
                if first_params.binary_search(&i).is_ok() && on_line_before(&defs, read.start) {
                    return true;
                }
            }
            // A class-based view: the word on a `class` line.
            hits.iter().any(|r| on_line_before(&classes, r.start))
        }

        /// A verifier call in a Python handler ([`super::PyVisitor::body_call`]), a generic
        /// helper's aside: `hmac.new/HMAC/digest` (`hmac` is written in the call or its
        /// import), `stripe.Webhook.construct_event`, an SDK `verify`/`validate`/
        /// `is_valid_request` on a webhook (any case), `wh.`, validator or verifier, or a
        /// same-file function that verifies ([`super::verifies_inside`]: `hmac.new` holds
        /// `hmac`).
        fn py_verifier(&self) -> bool {
            let e = |w: &str| self.exact(w);
            e("hmac")
                || super::VERIFIES_INSIDE.iter().any(|w| e(w))
                || (e("verify") || e("validate") || e("is_valid_request"))
                    && (e("wh.")
                        || e("validator")
                        || e("verifier")
                        || self.of(&["webhook"]).next().is_some())
        }

        /// A verifier call in a JS handler ([`super::js_body`]), a generic helper's aside:
        /// `constructEvent(Async)`, `createHmac`, an SDK `verify*`/`validateRequest`, or a
        /// same-file function that verifies ([`super::verifies_inside`]).
        fn js_verifier(&self) -> bool {
            let e = |w: &str| self.exact(w);
            e("hmac")
                || super::VERIFIES_INSIDE.iter().any(|w| e(w))
                || e("verify")
                || e("validateRequest")
        }

        /// Whether some call could pass [`super::is_generic_verifier`]: one identifier (the
        /// callee's last segment) holds a verb (`verify`, `valid`, `check`) and an object
        /// (`sig`, `webhook`, `hmac`, `request`).
        fn generic_verifier(&self) -> bool {
            const VERBS: &[&str] = &["verify", "valid", "check"];
            const OBJECTS: &[&str] = &["sig", "webhook", "hmac", "request"];
            let b = self.bytes();
            let objects = Occurrences::new(self.of(OBJECTS).cloned());
            !objects.is_empty()
                && self.of(VERBS).any(|r| {
                    let ident = ident_span(b, r.clone(), self.js);
                    objects.within(ident.start, ident.end)
                })
        }
    }

    /// Whether `f` holds for `text` with the seams of Python's implicit string
    /// concatenation removed (false if there is none).
    fn seamless(text: &str, f: impl Fn(&Found<'_>) -> bool) -> bool {
        without_py_seams(text).is_some_and(|s| Found::new(&s, false).is_none_or(|found| f(&found)))
    }

    /// Match ranges, to ask whether one lies within a range.
    struct Occurrences {
        /// Starts, ascending.
        starts: Vec<usize>,
        /// The least end of the matches from this index on.
        min_end_from: Vec<usize>,
    }

    impl Occurrences {
        fn new(ranges: impl Iterator<Item = Range<usize>>) -> Self {
            let mut v: Vec<Range<usize>> = ranges.collect();
            v.sort_by_key(|r| r.start);
            let mut min_end_from = vec![usize::MAX; v.len()];
            let mut m = usize::MAX;
            for (i, r) in v.iter().enumerate().rev() {
                m = m.min(r.end);
                min_end_from[i] = m;
            }
            Occurrences {
                starts: v.iter().map(|r| r.start).collect(),
                min_end_from,
            }
        }

        fn is_empty(&self) -> bool {
            self.starts.is_empty()
        }

        /// Whether a match lies within `start..end`.
        fn within(&self, start: usize, end: usize) -> bool {
            let i = self.starts.partition_point(|&s| s < start);
            self.min_end_from.get(i).is_some_and(|&e| e <= end)
        }
    }

    // ----------------------------------------------------------------------------------
    // Python

    /// A background thread ([`super::PyVisitor::on_call`]): the canonical callee's module
    /// and name, written in the call or in the import that binds it (`threading.Thread`,
    /// `multiprocessing.Process`, `asyncio.create_task|ensure_future`), or `submit`/`map` on
    /// a `ThreadPoolExecutor`/`ProcessPoolExecutor` (bound from `concurrent.futures`, or a
    /// `…ThreadPoolExecutor()` called in place).
    fn py_background(file: &Candidate<'_>) -> bool {
        let t = file.text;
        let whole = |w: &str| whole_ident_in(t, &[w], false);
        file.has("Thread") && py_module_attr_in(t, "threading", "Thread")
            || file.has("Process") && py_module_attr_in(t, "multiprocessing", "Process")
            || file.has("create_task") && py_module_attr_in(t, "asyncio", "create_task")
            || file.has("ensure_future") && py_module_attr_in(t, "asyncio", "ensure_future")
            || file.has("PoolExecutor")
                && (whole("ProcessPoolExecutor")
                    || t.match_indices("ThreadPoolExecutor").any(|(i, w)| {
                        edges(t.as_bytes(), &(i..i + w.len()), |b| !word_byte(b, false)).1
                    }))
                && (whole("submit") || whole("map"))
    }

    /// Whether a call's canonical callee could be `<module>.<name>`
    /// ([`super::PyVisitor::canonical`]): `<module>.<name>(` or `m.<name>(` where `import
    /// <module> as m` (or `import <module>.<name> as x`), or `name` imported by `from
    /// <module> import ... <name>`. A dot may also end an earlier line, before comment lines
    /// (`asyncio.` `\n  # c\n  create_task(`).
    fn py_module_attr_in(text: &str, module: &str, name: &str) -> bool {
        let b = text.as_bytes();
        let name_list = [name];
        let mut names = whole_idents(text, &name_list, false).peekable();
        if names.peek().is_none() || !whole_ident_in(text, &[module], false) {
            return false;
        }
        // `import <module> as m`
        let aliased = || {
            whole_idents(text, &[module], false).any(|r| {
                let i = skip_blank(b, r.end, false);
                i > r.end && whole_ident_at(b, i, "as")
            })
        };
        // `from <module> import a, <name>` / `import (a,\n <name>)`
        let from_imported = || {
            whole_idents(text, &[module], false).any(|r| {
                let i = skip_blank(b, r.end, false);
                if i == r.end || !whole_ident_at(b, i, "import") {
                    return false;
                }
                let start = skip_blank(b, i + "import".len(), false);
                let end = if b.get(start) == Some(&b'(') {
                    b[start..]
                        .iter()
                        .position(|&c| c == b')')
                        .map_or(b.len(), |e| start + e)
                } else {
                    let mut e = start;
                    while e < b.len() && !(b[e] == b'\n' && (e == 0 || b[e - 1] != b'\\')) {
                        e += 1;
                    }
                    e
                };
                text.get(start..end)
                    .is_some_and(|list| whole_ident_in(list, &[name], false))
            })
        };
        let back = |mut i: usize| {
            while i > 0
                && (matches!(b[i - 1], b' ' | b'\t' | b'\x0b' | b'\x0c') || b[i - 1] >= 0x80)
            {
                i -= 1;
            }
            i
        };
        // The callee (`name(`), or `import <module>.<name> as x`.
        let callee = |end: usize| {
            let k = skip_blank(b, end, false);
            b.get(k) == Some(&b'(') || whole_ident_at(b, k, "as")
        };
        names.any(|r| {
            let i = back(r.start);
            if i == 0 || matches!(b[i - 1], b'\n' | b'\r') {
                // At a line's start: an import list's line, or an attribute's name after a dot
                // that ends an earlier line.
                return callee(r.end) && dot_ends_earlier_line(b, i) || from_imported();
            }
            match b[i - 1] {
                b'.' => {}
                b'\\' => return true,
                _ => return from_imported(),
            }
            if !callee(r.end) {
                return false;
            }
            let j = back(i - 1);
            if j == 0 || matches!(b[j - 1], b'\n' | b'\r' | b'\\' | b')' | b']') {
                return true; // (a comment may stand before the dot)
            }
            let mut k = j;
            while k > 0 && word_byte(b[k - 1], false) {
                k -= 1;
            }
            &text[k..j] == module || aliased()
        })
    }

    /// Whether a line before the one starting at `line_start` ends with a dot, or holds a dot
    /// followed by a comment, with only blank and comment lines between.
    fn dot_ends_earlier_line(b: &[u8], line_start: usize) -> bool {
        let mut end = line_start;
        while end > 0 {
            let nl = end - 1;
            let ls = b[..nl]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |p| p + 1);
            let line = &b[ls..nl];
            let mut t = line.len();
            while t > 0 && blank(line[t - 1]) {
                t -= 1;
            }
            if t > 0 && line[t - 1] == b'.' {
                return true;
            }
            let first = line.iter().position(|&c| !blank(c));
            if first.is_none_or(|f| line[f] == b'#') {
                end = ls;
                continue;
            }
            return (0..line.len()).any(|d| {
                line[d] == b'.' && {
                    let mut k = d + 1;
                    while k < line.len() && blank(line[k]) {
                        k += 1;
                    }
                    line.get(k) == Some(&b'#')
                }
            });
        }
        false
    }

    /// Python route decorators ([`super::PyVisitor::route`]): `post|put|patch|delete` (or,
    /// with `methods=` in the file, `route|api_route`; without, a route is GET and GET routes
    /// are no webhooks) called with a string first whose value starts with `/` or is empty.
    /// Yields where that string is, with the strings implicitly concatenated to it; where
    /// keyword or splat arguments come first, the whole argument list.
    fn py_route_paths<'a>(code: &'a Code<'_>) -> impl Iterator<Item = Option<Range<usize>>> + 'a {
        let verbs: &'static [&'static str] = if code.has("methods") {
            &["post", "put", "patch", "delete", "route", "api_route"]
        } else {
            &["post", "put", "patch", "delete"]
        };
        let b = code.text.as_bytes();
        code.of(verbs).filter_map(move |r| {
            let open = skip_blank(b, r.end, false);
            if b.get(open) != Some(&b'(') {
                return None;
            }
            let arg = skip_blank(b, open + 1, false);
            let q = skip_prefix(b, arg);
            if !matches!(b.get(q), Some(b'"' | b'\'')) {
                // `*args`, `**kw` or `name=...` first?
                let mut e = arg;
                while e < b.len() && ident_byte(b[e], false) {
                    e += 1;
                }
                let after = skip_blank(b, e, false);
                let keyword =
                    e > arg && b.get(after) == Some(&b'=') && b.get(after + 1) != Some(&b'=');
                // The path is then in the argument list, somewhere.
                return (b.get(arg) == Some(&b'*') || keyword)
                    .then(|| Some(open..py_brackets_end(b, open)));
            }
            let mut end = py_string_end(b, q);
            loop {
                let next = skip_prefix(b, skip_blank(b, end, false));
                match b.get(next) {
                    Some(b'"' | b'\'') => end = py_string_end(b, next),
                    _ => break,
                }
            }
            py_path_start_ok(b, q).then_some(Some(q..end))
        })
    }

    /// The end of the bracketed text that starts at `open`, strings and comments skipped (to
    /// the end of the text if it is not closed).
    fn py_brackets_end(b: &[u8], open: usize) -> usize {
        let mut depth = 0usize;
        let mut i = open;
        while i < b.len() {
            match b[i] {
                b'#' => i = comment_end(b, i, false),
                b'"' | b'\'' => i = py_string_end(b, i),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => i += 1,
            }
        }
        b.len()
    }

    /// Whether the value of the string literal at `q` (with the literals implicitly
    /// concatenated to it) could start with `/` or be empty, as a route's path must: the first
    /// non-empty literal's first byte is `/`.
    fn py_path_start_ok(b: &[u8], mut q: usize) -> bool {
        loop {
            let c = b[q];
            let triple = b.get(q + 1) == Some(&c) && b.get(q + 2) == Some(&c);
            let first = q + if triple { 3 } else { 1 };
            let empty = if triple {
                b[first.min(b.len())..].starts_with(&[c; 3])
            } else {
                b.get(first) == Some(&c)
            };
            if !empty {
                // (An unclosed literal: be lenient.)
                return matches!(b.get(first), None | Some(b'/' | b'\n' | b'\r'));
            }
            let next = skip_prefix(b, skip_blank(b, py_string_end(b, q), false));
            match b.get(next) {
                Some(b'"' | b'\'') => q = next,
                _ => return true,
            }
        }
    }

    /// Where a Python parameter `request` could be a Django view's
    /// ([`super::PyVisitor::route`]): first (after `(`) or second (after `self,`) in its
    /// list, a `*` or two allowed. (A comment there would be a parameter of its own, and the
    /// function no view.) With the byte before it.
    fn py_request_params<'a>(code: &'a Code<'_>) -> impl Iterator<Item = (Range<usize>, u8)> + 'a {
        let b = code.text.as_bytes();
        code.of(&["request"]).filter_map(move |r| {
            let mut i = r.start;
            while i > 0 && (blank(b[i - 1]) || b[i - 1] == b'*') {
                i -= 1;
            }
            let before = *b.get(i.checked_sub(1)?)?;
            matches!(before, b'(' | b',').then_some((r, before))
        })
    }

    /// Python string prefix letters (tree-sitter-python takes any run of them).
    fn skip_prefix(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && b"rRbBuUfFtT".contains(&b[i]) {
            i += 1;
        }
        i
    }

    /// Python text with the seams of implicitly concatenated string literals removed
    /// (`"/web" "hook"` → `"/webhook"`): a quote, blanks and comments, a string prefix and a
    /// quote. Only such runs go, so a word a seam split becomes whole and no word is lost;
    /// `None` if there is no seam.
    fn without_py_seams(text: &str) -> Option<String> {
        let b = text.as_bytes();
        let quote = |c: u8| c == b'"' || c == b'\'';
        let mut out: Vec<u8> = Vec::with_capacity(b.len());
        let mut changed = false;
        let mut i = 0;
        while i < b.len() {
            if quote(b[i]) {
                let k = skip_prefix(b, skip_blank(b, i + 1, false));
                if k < b.len() && quote(b[k]) {
                    changed = true;
                    i = k + 1;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        // Only ASCII bytes were removed: still UTF-8.
        changed.then(|| String::from_utf8(out).ok()).flatten()
    }

    /// The end of the Python string literal whose opening quote is at `q` (at most the end of
    /// its line if it is not closed there, unless triple-quoted).
    fn py_string_end(b: &[u8], q: usize) -> usize {
        let c = b[q];
        let triple = b.get(q + 1) == Some(&c) && b.get(q + 2) == Some(&c);
        let mut i = q + if triple { 3 } else { 1 };
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                x if x == c && !triple => return i + 1,
                x if x == c && b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&c) => {
                    return i + 3;
                }
                b'\n' if !triple => return i,
                _ => i += 1,
            }
        }
        b.len()
    }

    // ----------------------------------------------------------------------------------
    // JavaScript / TypeScript

    /// Express routes ([`super::JsVisitor::on_call`]): `.post|put|all|patch` called with a
    /// string starting with `/` first (TypeScript type arguments, `?.`, comments and
    /// parentheses may come between, and the wrappers [`super::js::unwrap_expr`] takes off:
    /// `(app.post)(`, `app.post!(`). Yields where that string is; `None` after
    /// `as`/`satisfies` (`(app.post as X)(...)`: the arguments are not looked for).
    fn js_route_paths<'a>(code: &'a Code<'_>) -> impl Iterator<Item = Option<Range<usize>>> + 'a {
        let b = code.text.as_bytes();
        code.of(&["post", "put", "all", "patch"])
            .filter_map(move |r| {
                let mut i = skip_blank(b, r.end, true);
                // Wrappers the callee was unwrapped from: `(app.post)`, `app.post!`.
                while matches!(b.get(i), Some(b')'))
                    || b.get(i) == Some(&b'!') && b.get(i + 1) != Some(&b'=')
                {
                    i = skip_blank(b, i + 1, true);
                }
                if whole_ident_at(b, i, "as") || whole_ident_at(b, i, "satisfies") {
                    return Some(None); // `(app.post as X)(...)`
                }
                if b[i..].starts_with(b"?.") {
                    i = skip_blank(b, i + 2, true);
                }
                if b.get(i) == Some(&b'<') {
                    // Type arguments: to the matching `>` (not an arrow's).
                    let mut depth = 0usize;
                    while i < b.len() {
                        match b[i] {
                            b'<' => depth += 1,
                            b'>' if b[i - 1] != b'=' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    i = skip_blank(b, i + 1, true);
                    if b[i.min(b.len())..].starts_with(b"?.") {
                        i = skip_blank(b, i + 2, true);
                    }
                    if b.get(i) != Some(&b'(') {
                        return Some(None); // (not read to the end: a route, maybe)
                    }
                }
                if b.get(i) != Some(&b'(') {
                    return None;
                }
                while b.get(i) == Some(&b'(') {
                    i = skip_blank(b, i + 1, true);
                }
                if !matches!(b.get(i), Some(b'"' | b'\'' | b'`')) || b.get(i + 1) != Some(&b'/') {
                    return None;
                }
                Some(Some(i..js_string_end(b, i)))
            })
    }

    /// The end of the JS string or template literal whose opening quote is at `q`.
    fn js_string_end(b: &[u8], q: usize) -> usize {
        let c = b[q];
        let mut i = q + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                x if x == c => return i + 1,
                b'\n' if c != b'`' => return i,
                _ => i += 1,
            }
        }
        b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the webhook detector of `lang` admits `text` at `path`, and how many facts
    /// it finds there with the prefilter off.
    fn admitted(lang: Language, path: &str, text: &str) -> (bool, usize) {
        let mut parser = msgscan_lang::FileParser::new(std::time::Duration::from_secs(10));
        let parsed = parser.parse(lang, text).expect("parses");
        let name = if lang == Language::Python {
            "webhook-py"
        } else {
            "webhook-js"
        };
        crate::fuzzing::detect_each(path, text, &parsed)
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, admits, facts)| (admits, facts.len()))
            .expect("the detector runs on the language")
    }

    /// Each snippet yields a fact, and the prefilter admits it.
    fn found_and_admitted(lang: Language, path: &str, snippets: &[&str]) {
        for text in snippets {
            let (admits, facts) = admitted(lang, path, text);
            assert!(facts > 0, "no fact in:\n{text}");
            assert!(admits, "ruled out, but {facts} fact(s) in:\n{text}");
        }
    }

    /// Each snippet is ruled out (so, the prefilter being sound, yields no fact).
    fn ruled_out(lang: Language, path: &str, snippets: &[&str]) {
        for text in snippets {
            let (admits, facts) = admitted(lang, path, text);
            assert_eq!(facts, 0, "facts in:\n{text}");
            assert!(!admits, "admitted:\n{text}");
        }
    }

    #[test]
    fn python_prefilter_admits_every_emission_path() {
        found_and_admitted(
            Language::Python,
            "app.py",
            &[
                // webhook_signature_check: compare_digest, `==` with a MAC-ish operand
                "import hmac\ndef f(a, b):\n    return hmac.compare_digest(a, b)\n",
                "def f(sig, x):\n    return x == sig\n",
                "def f(a, b):\n    return a.hexdigest() != b\n",
                // background_thread, through imports and aliases
                "import threading\nthreading.Thread(target=f).start()\n",
                "from multiprocessing import Process\nProcess(target=f)\n",
                "import asyncio as aio\naio.create_task(f())\n",
                "import asyncio\nx = (asyncio.  # soon\n    ensure_future(f()))\n",
                "from concurrent.futures import ThreadPoolExecutor\n\
                 with ThreadPoolExecutor() as pool:\n    pool.submit(f)\n",
                // webhook_handler: a decorated route and its path
                "@app.post(\"/webhooks/stripe\")\ndef stripe_events():\n    return ''\n",
                "@bp.route('/github', methods=['POST'])\ndef gh():\n    return ''\n",
                "@app.post(\"/web\" \"hook\")\ndef h():\n    return ''\n",
                "@app.post(tags=['x'], '/stripe')\ndef h():\n    return ''\n",
                // ... a signature header (FastAPI parameter, string)
                "@app.post('/events')\n\
                 async def ev(x_hub_signature_256: str = Header(None)):\n    return 1\n",
                "@app.put('/events')\ndef ev():\n    s = request.headers['Stripe-Signature']\n",
                // ... a verifier: SDK, hmac, a generic helper, a same-file verifier
                "@app.post('/events')\ndef ev():\n    stripe.Webhook.construct_event(p, s, k)\n",
                "@app.post('/events')\ndef ev():\n    verify_webhook_signature(request)\n",
                "import django\ndef handle(request):\n    self.check_request_sig(1)\n",
                "def ok(b):\n    return hmac.new(k, b, 'sha256')\n\
                 @app.post('/events')\ndef ev():\n    ok(request.data)\n",
                // a Django view named as a webhook, function- or class-based
                "from django.http import HttpResponse\n\
                 def stripe_webhook(request):\n    return HttpResponse()\n",
                "from django.views import View\n\
                 class StripeWebhookView(View):\n    def post(self, request):\n        return 1\n",
            ],
        );
    }

    #[test]
    fn python_prefilter_rules_out_near_misses() {
        ruled_out(
            Language::Python,
            "app.py",
            &[
                // a Django view: `check` and `request`, but in no one callee, and no signal
                "from django.shortcuts import render\n\
                 def index(request):\n    if check_permissions(request.user):\n\
                 \x20       return render(request, 'x.html')\n",
                // a test client posting to a path without webhook words
                "@pytest.fixture\ndef client():\n    return 1\n\
                 def test_login(client):\n    client.post('/login', data={'callback': 1})\n",
                // `mock.patch` with a dotted name, not a path
                "@mock.patch('app.hooks.stripe')\ndef test_x(m):\n    return 1\n",
                // threading, but no Thread started; a loop's task, not asyncio's
                "import threading\nclass Cache:\n    \"\"\"Thread-safe cache.\"\"\"\n\
                 \x20   lock = threading.Lock()\n",
                "import asyncio\nclass C:\n    def go(self):\n        self._loop.create_task(self.run())\n",
                // a signature, but compared with nothing
                "import inspect\ndef f(fn):\n    return inspect.signature(fn)\n",
                // a generic verifier's words, but in no one identifier
                "import django\ndef handle(request):\n    checkers[request](1)\n",
                // a view's `request`, but in no Django file or views module
                "def stripe_webhook(request):\n    return 1\n",
            ],
        );
    }

    #[test]
    fn js_prefilter_admits_every_emission_path() {
        found_and_admitted(
            Language::JavaScript,
            "server.js",
            &[
                // webhook_signature_check
                "crypto.timingSafeEqual(a, b)\n",
                "if (signature !== expected) throw new Error('bad')\n",
                // webhook_handler, Express: the path, a header, a verifier
                "app.post('/webhooks/stripe', (req, res) => { res.send('ok') })\n",
                "router.post('/events', (req, res) => { const s = req.headers['x-hub-signature-256'] })\n",
                "app.post('/events', (req, res) => { stripe.webhooks.constructEvent(req.body, s, k) })\n",
                "(app.post)('/hooks', handler)\n",
                "app.all('/events', (req, res) => { checkSignature(req) })\n",
            ],
        );
        found_and_admitted(
            Language::TypeScript,
            "web/app/api/webhooks/stripe/route.ts",
            &["export async function POST(req: Request) { return new Response('ok') }\n"],
        );
        found_and_admitted(
            Language::TypeScript,
            "pages/api/hooks/github.ts",
            &["export default async function handler(req, res) { res.status(200).end() }\n"],
        );
        found_and_admitted(
            Language::TypeScript,
            "supabase/functions/stripe-webhook/index.ts",
            &["Deno.serve(async (req) => new Response('ok'))\n"],
        );
    }

    #[test]
    fn js_prefilter_rules_out_near_misses() {
        ruled_out(
            Language::TypeScript,
            "src/client.ts",
            &[
                "export default class Client {}\nconst same = a === b\n",
                "await Promise.all([a, b])\naxios.post('https://x.test/callback', data)\n",
                "// serve the static files\nexport const POST_URL = '/x'\n",
                "const method = 'POST'\nexport { method }\n",
            ],
        );
    }

    #[test]
    fn webhook_paths() {
        for p in [
            "/webhooks/stripe",
            "/api/github-webhook",
            "/hooks",
            "/paypal/ipn",
            "/payments/callback",
            "/notify",
        ] {
            assert!(path_signal(p), "{p}");
        }
        for p in [
            "/auth/callback",
            "/oauth2/callback",
            "/api/orders",
            "/events",
            "/hookah",
        ] {
            assert!(!path_signal(p), "{p}");
        }
    }

    #[test]
    fn signature_headers() {
        for h in [
            "Stripe-Signature",
            "X-Hub-Signature-256",
            "webhook-signature",
            "svix-signature",
            "HTTP_STRIPE_SIGNATURE",
            "X-Gitlab-Token",
            "X-Telegram-Bot-Api-Secret-Token",
            "HTTP_X_HUB_SIGNATURE_256",
        ] {
            assert!(header_signal(h), "{h}");
        }
        assert!(!header_signal("Content-Type"));
        assert_eq!(provider_from("X-Hub-Signature-256"), Some("github"));
        assert_eq!(provider_from("webhook-signature"), Some("standardwebhooks"));
    }

    #[test]
    fn routes_from_file_paths() {
        assert_eq!(
            file_route("web/src/app/api/webhooks/(billing)/stripe/route.ts"),
            (FileRoute::AppRoute, Some("/api/webhooks/stripe".into()))
        );
        assert_eq!(
            file_route("pages/api/hooks/github.ts"),
            (FileRoute::PagesApi, Some("/api/hooks/github".into()))
        );
        assert_eq!(
            file_route("supabase/functions/stripe-webhook/index.ts"),
            (FileRoute::Edge, Some("/functions/v1/stripe-webhook".into()))
        );
        assert_eq!(file_route("src/routes.ts"), (FileRoute::None, None));
    }
}
