//! Celery: apps, tasks, calls, result waits and settings.
//!
//! ## Facts
//! - `celery_app` (`Celery(...)`), `celery_task` (decorated functions, `shared_task(...)(fn)`,
//!   `app.task(fn)`, class-based tasks with a `run` method), `celery_call` (`.delay`,
//!   `.apply_async`, `.delay_on_commit`, `send_task`, `.s`, `.si`, `signature`, `chain`,
//!   `group`, `chord`, `|` pipelines), `celery_result_get` (`.get()`/`.wait()`/`.join()` on
//!   an async result), `celery_config` (kwargs of `Celery(...)`, `app.conf.x = ...`,
//!   `app.conf.update(...)`, Django-style `CELERY_*` settings, `celeryconfig` modules).
//!
//! Import aliases are resolved within the file (`from celery import shared_task as st`,
//! `import celery as c`).

use std::collections::{BTreeMap, HashMap, HashSet};

use msgscan_lang::Language;
use serde_json::Value;
use tree_sitter::Node;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{AttrSpec, AttrType, KindSpec, Role};
use crate::py;

pub(crate) struct Celery;

const TRANSPORT: &str = "celery";

macro_rules! attrs {
    ($( $name:literal : $ty:ident = $doc:literal ),* $(,)?) => {
        &[ $( AttrSpec { name: $name, ty: AttrType::$ty, doc: $doc } ),* ]
    };
}

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "celery_app",
        transport: TRANSPORT,
        doc: "A Celery application, `Celery(...)`. Name: the main module name or the variable.",
        attrs: attrs! {
            "variable": String = "the name the app is bound to",
            "broker": Value = "the `broker=` argument",
            "backend": Value = "the `backend=` argument",
        },
    },
    KindSpec {
        kind: "celery_task",
        transport: TRANSPORT,
        doc: "A task definition. Name: `name=` or `module.function`.",
        attrs: attrs! {
            "function": String = "the function (or class) name",
            "decorator": String = "how it was declared: `app.task`, `shared_task`, `class`, `call`",
            "base": String = "the `base=` class, as written",
            "bind": Bool = "`bind=True`",
            "autoretry_for": List = "exception names of `autoretry_for=`",
            "dont_autoretry_for": List = "exception names of `dont_autoretry_for=`",
            "max_retries": Value = "`max_retries=` (also from `retry_kwargs`); null for `None`",
            "retry_backoff": Value = "`retry_backoff=`",
            "retry_jitter": Value = "`retry_jitter=`",
            "default_retry_delay": Value = "`default_retry_delay=`",
            "acks_late": Value = "`acks_late=`",
            "reject_on_worker_lost": Value = "`reject_on_worker_lost=`",
            "time_limit": Value = "`time_limit=`",
            "soft_time_limit": Value = "`soft_time_limit=`",
            "serializer": Value = "`serializer=`",
            "queue": Value = "`queue=`",
            "rate_limit": Value = "`rate_limit=`",
            "ignore_result": Value = "`ignore_result=`",
            "network_calls": List = "network calls in the body (`requests.get`, `httpx.post`, `urlopen`, `smtplib.SMTP`...)",
            "calls_without_timeout": List = "network calls in the body without `timeout=`",
            "calls_retry": Bool = "the body calls `self.retry(...)` (or `<task>.retry`)",
            "retry_without_countdown": Bool = "some `self.retry(...)` call has neither `countdown=` nor `eta=`",
        },
    },
    KindSpec {
        kind: "celery_call",
        transport: TRANSPORT,
        doc: "A task invocation or canvas primitive. Name: the task it reaches, where known.",
        attrs: attrs! {
            "method": String = "`delay`, `apply_async`, `delay_on_commit`, `send_task`, `s`, `si`, `signature`, `chain`, `group`, `chord`, `pipe`",
            "target": String = "the receiver as written (`add`, `tasks.add`) or the task name string",
            "literal": Bool = "`send_task` / `signature`: the task name is a string literal (not an expression)",
            "in_task": Bool = "the call is inside a task body",
            "countdown": Value = "`countdown=`",
            "eta": Value = "`eta=`",
            "expires": Value = "`expires=`",
            "retry": Value = "`retry=` (publish retry)",
            "serializer": Value = "`serializer=`",
            "queue": Value = "`queue=`",
        },
    },
    KindSpec {
        kind: "celery_result_get",
        transport: TRANSPORT,
        doc: "Waiting on a task result: `.get()`, `.wait()`, `.join()` on what `.delay`/`.apply_async`/`AsyncResult` returned.",
        attrs: attrs! {
            "method": String = "`get`, `wait` or `join`",
            "in_task": Bool = "the wait is inside a task body",
            "task": String = "the task whose result is awaited, if known",
        },
    },
    KindSpec {
        kind: "celery_config",
        transport: TRANSPORT,
        doc: "A Celery setting. Name: the setting in new lower-case style (`CELERY_TASK_SERIALIZER` → `task_serializer`).",
        attrs: attrs! {
            "setting": String = "the setting as written",
            "value": Value = "its value",
            "source": String = "`app_kwarg`, `conf_assign`, `conf_update`, `django_settings` or `celeryconfig`",
        },
    },
];

const NETWORK_MODULES: &[&str] = &[
    "requests", "httpx", "urllib3", "aiohttp", "smtplib", "stripe",
];
const HTTP_VERBS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "request", "stream",
];

impl Detector for Celery {
    fn name(&self) -> &'static str {
        "celery"
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
            "assignment",
            "binary_operator",
        ]
    }
    fn needles(&self) -> &'static [&'static str] {
        &[
            "celery",
            "CELERY",
            "task",
            "delay",
            "apply_async",
            "send_task",
            "signature",
        ]
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        let stem = file
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".py");
        Box::new(CeleryVisitor {
            module: module_name(file.path),
            celeryconfig: stem.contains("celeryconfig") || stem.contains("celery_config"),
            ..Default::default()
        })
    }
}

/// `proj/tasks.py` → `proj.tasks`; `proj/tasks/__init__.py` → `proj.tasks`.
fn module_name(path: &str) -> String {
    let p = path.trim_end_matches(".py").trim_end_matches(".pyi");
    let p = p.strip_suffix("/__init__").unwrap_or(p);
    p.replace('/', ".")
}

#[derive(Default)]
struct TaskCtx {
    /// Byte range of the node that opened this context (decorated definition or class).
    start: usize,
    end: usize,
    attrs: BTreeMap<String, Value>,
    network: Vec<String>,
    no_timeout: Vec<String>,
    calls_retry: bool,
    retry_without_countdown: bool,
    function: String,
    /// Only definitions (function or class with `run`) become facts; base classes only
    /// lend their options.
    fact: Option<PendingTask>,
}

struct PendingTask {
    name: String,
    decorator: String,
    /// Where the fact points: the decorator, or the class name.
    at: std::ops::Range<usize>,
}

#[derive(Default)]
struct CeleryVisitor {
    module: String,
    celeryconfig: bool,
    /// local name → canonical dotted name (`st` → `celery.shared_task`, `c` → `celery`).
    aliases: HashMap<String, String>,
    /// Names bound to `Celery(...)` in this file.
    apps: HashSet<String>,
    /// Function name → registered task name, for tasks defined in this file.
    tasks: HashMap<String, String>,
    /// Names imported with `from x import name` (possible tasks defined elsewhere).
    imported: HashSet<String>,
    /// Task base classes defined in this file and their options.
    bases: HashMap<String, BTreeMap<String, Value>>,
    /// Variables bound to async results.
    results: HashSet<String>,
    stack: Vec<TaskCtx>,
}

impl CeleryVisitor {
    fn canonical(&self, parts: &[&str]) -> String {
        let head = parts.first().copied().unwrap_or_default();
        let mut out = self
            .aliases
            .get(head)
            .cloned()
            .unwrap_or_else(|| head.to_string());
        for p in &parts[1..] {
            out.push('.');
            out.push_str(p);
        }
        out
    }

    /// `app` in `@app.task`: a Celery app of this file, or a conventional app name.
    fn is_app(&self, node: Node<'_>, cx: &FileCx<'_>) -> bool {
        let Some(parts) = py::dotted(node, cx) else {
            return false;
        };
        let text = parts.join(".");
        if self.apps.contains(&text) || self.canonical(&parts) == "celery.current_app" {
            return true;
        }
        let last = parts.last().copied().unwrap_or_default();
        let from_other_framework = self.aliases.get(parts[0]).is_some_and(|c| {
            ["huey", "prefect", "dramatiq", "rq", "arq", "taskiq"]
                .iter()
                .any(|m| c == m || c.starts_with(&format!("{m}.")))
        });
        !from_other_framework
            && (matches!(last, "app" | "celery" | "celery_app" | "capp" | "worker")
                || last.ends_with("_app")
                || last.contains("celery"))
    }

    /// Whether a decorator expression declares a task; returns (decorator label, call node).
    fn task_decorator<'t>(
        &self,
        expr: Node<'t>,
        cx: &FileCx<'_>,
    ) -> Option<(String, Option<Node<'t>>)> {
        let (callee, call) = if expr.kind() == "call" {
            (expr.child_by_field_name("function")?, Some(expr))
        } else {
            (expr, None)
        };
        let parts = py::dotted(callee, cx)?;
        let canonical = self.canonical(&parts);
        if canonical == "celery.shared_task" || canonical == "celery.task" {
            return Some(("shared_task".into(), call));
        }
        if callee.kind() == "attribute" && parts.last() == Some(&"task") {
            let obj = callee.child_by_field_name("object")?;
            if self.is_app(obj, cx) {
                return Some((format!("{}.task", cx.text(obj)), call));
            }
        }
        None
    }

    fn options(&self, call: Node<'_>, cx: &FileCx<'_>) -> BTreeMap<String, Value> {
        let mut attrs = BTreeMap::new();
        for (k, v) in py::kwargs(call) {
            let key = cx.text(k);
            match key {
                "autoretry_for" | "dont_autoretry_for" | "throws" => {
                    attrs.insert(key.to_string(), py::name_list(v, cx));
                }
                "base" => {
                    let base = cx.text(v).to_string();
                    if let Some(inherited) = self.bases.get(&base) {
                        for (k, v) in inherited {
                            attrs.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    attrs.insert("base".into(), Value::String(base));
                }
                "retry_kwargs" => {
                    if let Value::Object(m) = py::value(v, cx)
                        && let Some(mr) = m.get("max_retries")
                    {
                        attrs.insert("max_retries".into(), mr.clone());
                    }
                }
                _ => {
                    attrs.insert(key.to_string(), py::value(v, cx));
                }
            }
        }
        attrs
    }

    #[allow(clippy::too_many_arguments)]
    fn push_task(
        &mut self,
        node: Node<'_>,
        at: Node<'_>,
        function: &str,
        name: Option<String>,
        decorator: String,
        attrs: BTreeMap<String, Value>,
        make_fact: bool,
    ) {
        let registered = name.unwrap_or_else(|| format!("{}.{}", self.module, function));
        if make_fact {
            self.tasks.insert(function.to_string(), registered.clone());
        }
        self.stack.push(TaskCtx {
            start: node.start_byte(),
            end: node.end_byte(),
            attrs,
            function: function.to_string(),
            fact: make_fact.then(|| PendingTask {
                name: registered,
                decorator,
                at: at.byte_range(),
            }),
            ..Default::default()
        });
    }

    fn on_import(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let from = node
            .child_by_field_name("module_name")
            .map(|m| cx.text(m).to_string());
        let mut c = node.walk();
        for name in node.children_by_field_name("name", &mut c) {
            let (target, local) = match name.kind() {
                "aliased_import" => {
                    let Some(n) = name.child_by_field_name("name") else {
                        continue;
                    };
                    let Some(a) = name.child_by_field_name("alias") else {
                        continue;
                    };
                    (cx.text(n), cx.text(a))
                }
                _ => {
                    let t = cx.text(name);
                    // `import a.b` binds `a`.
                    (
                        t,
                        if from.is_some() {
                            t
                        } else {
                            t.split('.').next().unwrap_or(t)
                        },
                    )
                }
            };
            let canonical = match &from {
                Some(m) => {
                    self.imported.insert(local.to_string());
                    format!("{m}.{target}")
                }
                None if local == target => target.split('.').next().unwrap_or(target).to_string(),
                None => target.to_string(),
            };
            // `celery.app.task.Task` and friends are public under `celery`.
            let canonical = match canonical.as_str() {
                "celery.app.task.Task" | "celery.app.Task" => "celery.Task".to_string(),
                "celery.app.base.Celery" => "celery.Celery".to_string(),
                "celery.canvas.chain"
                | "celery.canvas.group"
                | "celery.canvas.chord"
                | "celery.canvas.signature"
                | "celery.canvas.chunks" => canonical.replace("celery.canvas.", "celery."),
                _ => canonical,
            };
            self.aliases.insert(local.to_string(), canonical);
        }
    }

    fn on_decorated(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(def) = node.child_by_field_name("definition") else {
            return;
        };
        if def.kind() != "function_definition" {
            return;
        }
        let mut c = node.walk();
        for dec in node
            .named_children(&mut c)
            .filter(|n| n.kind() == "decorator")
        {
            let Some(expr) = dec.named_child(0) else {
                continue;
            };
            if let Some((label, call)) = self.task_decorator(expr, cx) {
                let function = def
                    .child_by_field_name("name")
                    .map(|n| cx.text(n))
                    .unwrap_or_default();
                let attrs = call.map(|c| self.options(c, cx)).unwrap_or_default();
                let name = attrs
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.push_task(node, dec, function, name, label, attrs, true);
                return;
            }
        }
    }

    fn on_class(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(supers) = node.child_by_field_name("superclasses") else {
            return;
        };
        let mut c = supers.walk();
        let mut base_attrs = None;
        for s in supers.named_children(&mut c) {
            let Some(parts) = py::dotted(s, cx) else {
                continue;
            };
            let text = parts.join(".");
            if self.canonical(&parts) == "celery.Task"
                || (parts.len() == 2
                    && parts[1] == "Task"
                    && self.is_app(s.child_by_field_name("object").unwrap_or(s), cx))
            {
                base_attrs = Some(BTreeMap::new());
            } else if let Some(b) = self.bases.get(&text) {
                base_attrs = Some(b.clone());
            }
        }
        let Some(mut attrs) = base_attrs else { return };
        let Some(name) = node
            .child_by_field_name("name")
            .map(|n| cx.text(n).to_string())
        else {
            return;
        };
        let mut has_run = false;
        if let Some(body) = node.child_by_field_name("body") {
            let mut c = body.walk();
            for stmt in body.named_children(&mut c) {
                let stmt = if stmt.kind() == "decorated_definition" {
                    stmt.child_by_field_name("definition").unwrap_or(stmt)
                } else {
                    stmt
                };
                match stmt.kind() {
                    "function_definition"
                        if stmt
                            .child_by_field_name("name")
                            .is_some_and(|n| cx.text(n) == "run") =>
                    {
                        has_run = true;
                    }
                    "expression_statement" => {
                        let Some(assign) = stmt.named_child(0).filter(|a| a.kind() == "assignment")
                        else {
                            continue;
                        };
                        let (Some(l), Some(r)) = (
                            assign.child_by_field_name("left"),
                            assign.child_by_field_name("right"),
                        ) else {
                            continue;
                        };
                        let key = cx.text(l);
                        let v = if matches!(key, "autoretry_for" | "dont_autoretry_for" | "throws")
                        {
                            py::name_list(r, cx)
                        } else {
                            py::value(r, cx)
                        };
                        attrs.insert(key.to_string(), v);
                    }
                    _ => {}
                }
            }
        }
        self.bases.insert(name.clone(), attrs.clone());
        let registered = attrs
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        // The class body is the task body when it defines `run`.
        let at = node.child_by_field_name("name").unwrap_or(node);
        self.push_task(node, at, &name, registered, "class".into(), attrs, has_run);
        if let Some(ctx) = self.stack.last_mut() {
            ctx.attrs.insert("bind".into(), Value::Bool(true));
        }
    }

    fn on_call(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(func) = node.child_by_field_name("function") else {
            return;
        };
        let in_task = self.stack.iter().any(|t| t.fact.is_some());

        // Body features of the innermost task.
        if let Some(parts) = py::dotted(func, cx) {
            let canonical = self.canonical(&parts);
            if let Some(ctx) = self.stack.last_mut() {
                if is_network_call(&canonical) {
                    ctx.network.push(canonical.clone());
                    let takes_timeout =
                        !canonical.starts_with("smtplib") && !canonical.starts_with("stripe");
                    if takes_timeout && py::kwarg(node, "timeout", cx).is_none() {
                        ctx.no_timeout.push(canonical.clone());
                    }
                }
                if parts.len() == 2
                    && parts[1] == "retry"
                    && (parts[0] == "self" || parts[0] == ctx.function)
                {
                    ctx.calls_retry = true;
                    if py::kwarg(node, "countdown", cx).is_none()
                        && py::kwarg(node, "eta", cx).is_none()
                    {
                        ctx.retry_without_countdown = true;
                    }
                }
            }
            match canonical.as_str() {
                "celery.Celery" => return self.on_app(node, cx),
                "celery.signature" | "celery.chain" | "celery.group" | "celery.chord"
                | "celery.chunks" => {
                    let method = canonical.trim_start_matches("celery.");
                    let target = py::positional(node)
                        .first()
                        .filter(|_| method == "signature")
                        .and_then(|a| py::string_value(*a, cx));
                    let fact = cx
                        .fact("celery_call", TRANSPORT, Role::Producer, node)
                        .name_opt(target.clone())
                        .attr("method", method)
                        .attr_opt(
                            "literal",
                            (method == "signature").then_some(target.is_some()),
                        )
                        .attr_opt("target", target)
                        .attr("in_task", in_task);
                    cx.emit(fact);
                    return;
                }
                _ => {}
            }
            // `shared_task(...)(fn)` and `app.task(fn)`.
            if let Some(first) = py::positional(node)
                .first()
                .filter(|a| a.kind() == "identifier")
            {
                let decorator = if func.kind() == "call" {
                    self.task_decorator(func, cx)
                } else {
                    self.task_decorator(func, cx).filter(|(_, c)| c.is_none())
                };
                if let Some((label, opts)) = decorator {
                    let function = cx.text(*first).to_string();
                    let attrs = opts.map(|c| self.options(c, cx)).unwrap_or_default();
                    let name = attrs
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{}.{}", self.module, function));
                    self.tasks.insert(function.clone(), name.clone());
                    let fact = cx
                        .fact("celery_task", TRANSPORT, Role::Consumer, node)
                        .name(name)
                        .attr("function", function)
                        .attr("decorator", format!("{label}(fn)"))
                        .attrs(attrs);
                    cx.emit(fact);
                    return;
                }
            }
        } else if func.kind() == "call"
            && let Some(first) = py::positional(node)
                .first()
                .filter(|a| a.kind() == "identifier")
            && let Some((label, opts)) = self.task_decorator(func, cx)
        {
            let function = cx.text(*first).to_string();
            let attrs = opts.map(|c| self.options(c, cx)).unwrap_or_default();
            let name = attrs
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}.{}", self.module, function));
            self.tasks.insert(function.clone(), name.clone());
            let fact = cx
                .fact("celery_task", TRANSPORT, Role::Consumer, node)
                .name(name)
                .attr("function", function)
                .attr("decorator", format!("{label}(fn)"))
                .attrs(attrs);
            cx.emit(fact);
            return;
        }

        if func.kind() != "attribute" {
            return;
        }
        let (Some(obj), Some(attr)) = (
            func.child_by_field_name("object"),
            func.child_by_field_name("attribute"),
        ) else {
            return;
        };
        let method = cx.text(attr);
        match method {
            "delay" | "apply_async" | "delay_on_commit" | "s" | "si" | "send_task" => {
                let mut literal = None;
                let target = if method == "send_task" {
                    let Some(first) = py::positional(node).into_iter().next() else {
                        return;
                    };
                    let value = py::string_value(first, cx);
                    literal = Some(value.is_some());
                    value.unwrap_or_else(|| cx.text(first).to_string())
                } else {
                    let Some(parts) = py::dotted(obj, cx) else {
                        return;
                    };
                    if parts.len() == 1 && matches!(parts[0], "self" | "cls") {
                        return;
                    }
                    if matches!(method, "s" | "si") && !self.known_task(&parts) {
                        return;
                    }
                    parts.join(".")
                };
                let name = if method == "send_task" {
                    Some(target.clone())
                } else {
                    self.tasks
                        .get(&target)
                        .cloned()
                        .or_else(|| Some(target.clone()))
                };
                let mut fact = cx
                    .fact("celery_call", TRANSPORT, Role::Producer, node)
                    .name_opt(name)
                    .attr("method", method)
                    .attr_opt("literal", literal)
                    .attr("target", target)
                    .attr("in_task", in_task);
                for (k, v) in py::kwargs(node) {
                    let key = cx.text(k);
                    if matches!(
                        key,
                        "countdown" | "eta" | "expires" | "retry" | "serializer" | "queue"
                    ) {
                        fact = fact.attr(key, py::value(v, cx));
                    }
                }
                cx.emit(fact);
            }
            "get" | "wait" | "join" => {
                if !py::positional(node).is_empty() {
                    return; // `dict.get(key)`, `str.join(items)`
                }
                let task = match obj.kind() {
                    "call" => {
                        let inner = obj.child_by_field_name("function");
                        let inner_method = inner
                            .and_then(|f| f.child_by_field_name("attribute"))
                            .map(|a| cx.text(a));
                        if !matches!(inner_method, Some("delay" | "apply_async")) {
                            return;
                        }
                        inner
                            .and_then(|f| f.child_by_field_name("object"))
                            .map(|o| cx.text(o).to_string())
                    }
                    "identifier" if self.results.contains(cx.text(obj)) => None,
                    _ => return,
                };
                let fact = cx
                    .fact("celery_result_get", TRANSPORT, Role::Consumer, node)
                    .attr("method", method)
                    .attr("in_task", in_task)
                    .attr_opt("task", task);
                cx.emit(fact);
            }
            "update" => {
                // app.conf.update(...)
                let Some(parts) = py::dotted(obj, cx) else {
                    return;
                };
                if parts.len() >= 2 && parts[parts.len() - 1] == "conf" {
                    for (k, v) in py::kwargs(node) {
                        let setting = cx.text(k).to_string();
                        self.config(cx, k, &setting, py::value(v, cx), "conf_update");
                    }
                    for arg in py::positional(node) {
                        if arg.kind() != "dictionary" {
                            continue;
                        }
                        let mut c = arg.walk();
                        for pair in arg.named_children(&mut c).filter(|p| p.kind() == "pair") {
                            let (Some(k), Some(v)) = (
                                pair.child_by_field_name("key"),
                                pair.child_by_field_name("value"),
                            ) else {
                                continue;
                            };
                            if let Some(setting) = py::string_value(k, cx) {
                                self.config(cx, k, &setting, py::value(v, cx), "conf_update");
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn known_task(&self, parts: &[&str]) -> bool {
        let head = parts[0];
        self.tasks.contains_key(head)
            || self.imported.contains(head)
            || (parts.len() > 1 && self.aliases.contains_key(head))
    }

    fn on_app(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let variable = node
            .parent()
            .filter(|p| p.kind() == "assignment")
            .and_then(|p| p.child_by_field_name("left"))
            .map(|l| cx.text(l).to_string());
        if let Some(v) = &variable {
            self.apps.insert(v.clone());
        }
        let main = py::positional(node)
            .first()
            .and_then(|a| py::string_value(*a, cx))
            .or_else(|| py::kwarg(node, "main", cx).and_then(|m| py::string_value(m, cx)));
        let mut fact = cx
            .fact("celery_app", TRANSPORT, Role::Definition, node)
            .name_opt(main.or_else(|| variable.clone()))
            .attr_opt("variable", variable);
        for key in ["broker", "backend"] {
            if let Some(v) = py::kwarg(node, key, cx) {
                fact = fact.attr(key, py::value(v, cx));
            }
        }
        cx.emit(fact);
        for (k, v) in py::kwargs(node) {
            let setting = cx.text(k).to_string();
            if setting == "main" {
                continue;
            }
            self.config(cx, k, &setting, py::value(v, cx), "app_kwarg");
        }
    }

    fn config(
        &self,
        cx: &mut FileCx<'_>,
        node: Node<'_>,
        setting: &str,
        value: Value,
        source: &str,
    ) {
        let fact = cx
            .fact("celery_config", TRANSPORT, Role::Config, node)
            .name(normalize_setting(setting))
            .attr("setting", setting)
            .attr("value", value)
            .attr("source", source);
        cx.emit(fact);
    }

    fn on_assignment(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            return;
        };
        // Results bound to variables: `r = add.delay(1)`.
        if left.kind() == "identifier" && right.kind() == "call" {
            let f = right.child_by_field_name("function");
            let is_result = f.is_some_and(|f| {
                f.child_by_field_name("attribute")
                    .is_some_and(|a| matches!(cx.text(a), "delay" | "apply_async" | "send_task"))
                    || py::dotted(f, cx)
                        .is_some_and(|p| self.canonical(&p).ends_with("AsyncResult"))
            });
            if is_result {
                self.results.insert(cx.text(left).to_string());
            }
        }
        if let Some(parts) = py::dotted(left, cx) {
            // app.conf.task_serializer = 'json'
            if parts.len() >= 3 && parts[parts.len() - 2] == "conf" {
                let setting = parts[parts.len() - 1].to_string();
                self.config(cx, left, &setting, py::value(right, cx), "conf_assign");
                return;
            }
            if parts.len() == 1 && py::is_module_level(node) {
                let name = parts[0];
                let upper_celery = name.starts_with("CELERY_")
                    || name.starts_with("CELERYD_")
                    || name.starts_with("CELERYBEAT_")
                    || name == "BROKER_URL"
                    || name.starts_with("BROKER_");
                if upper_celery {
                    self.config(cx, left, name, py::value(right, cx), "django_settings");
                } else if self.celeryconfig
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !name.starts_with('_')
                {
                    self.config(cx, left, name, py::value(right, cx), "celeryconfig");
                }
            }
        }
    }

    fn on_pipe(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(op) = node.child_by_field_name("operator") else {
            return;
        };
        if cx.text(op) != "|" {
            return;
        }
        // Only the outermost `a | b | c`, and only when an operand is a signature.
        if node.parent().is_some_and(|p| {
            p.kind() == "binary_operator"
                && p.child_by_field_name("operator")
                    .is_some_and(|o| cx.text(o) == "|")
        }) {
            return;
        }
        let mut operands = vec![node];
        let mut any_sig = false;
        while let Some(n) = operands.pop() {
            if n.kind() == "binary_operator" {
                operands.extend(n.child_by_field_name("left"));
                operands.extend(n.child_by_field_name("right"));
            } else if n.kind() == "call" {
                let m = n
                    .child_by_field_name("function")
                    .and_then(|f| f.child_by_field_name("attribute"))
                    .map(|a| cx.text(a));
                if matches!(m, Some("s" | "si" | "signature")) {
                    let recv = n
                        .child_by_field_name("function")
                        .and_then(|f| f.child_by_field_name("object"));
                    if recv
                        .and_then(|r| py::dotted(r, cx))
                        .is_some_and(|p| self.known_task(&p))
                    {
                        any_sig = true;
                    }
                }
            }
        }
        if any_sig {
            let in_task = self.stack.iter().any(|t| t.fact.is_some());
            let fact = cx
                .fact("celery_call", TRANSPORT, Role::Producer, node)
                .attr("method", "pipe")
                .attr("in_task", in_task);
            cx.emit(fact);
        }
    }
}

fn is_network_call(canonical: &str) -> bool {
    let mut parts = canonical.split('.');
    let Some(head) = parts.next() else {
        return false;
    };
    if canonical == "urllib.request.urlopen" {
        return true;
    }
    if !NETWORK_MODULES.contains(&head) {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    match head {
        "requests" | "httpx" => rest.len() == 1 && HTTP_VERBS.contains(&rest[0]),
        "smtplib" => matches!(rest.as_slice(), ["SMTP"] | ["SMTP_SSL"]),
        "stripe" => rest.len() >= 2,
        "urllib3" => matches!(rest.as_slice(), ["request"]),
        _ => false,
    }
}

/// New-style lower-case name of a setting (`CELERY_TASK_SERIALIZER` → `task_serializer`).
pub(crate) fn normalize_setting(setting: &str) -> String {
    const OLD: &[(&str, &str)] = &[
        ("CELERY_ALWAYS_EAGER", "task_always_eager"),
        ("CELERY_ACKS_LATE", "task_acks_late"),
        ("CELERY_TASK_SERIALIZER", "task_serializer"),
        ("CELERY_RESULT_SERIALIZER", "result_serializer"),
        ("CELERY_ACCEPT_CONTENT", "accept_content"),
        ("CELERY_EVENT_SERIALIZER", "event_serializer"),
        ("CELERY_RESULT_BACKEND", "result_backend"),
        ("CELERYD_PREFETCH_MULTIPLIER", "worker_prefetch_multiplier"),
        ("CELERYD_TASK_TIME_LIMIT", "task_time_limit"),
        ("CELERYD_TASK_SOFT_TIME_LIMIT", "task_soft_time_limit"),
        ("CELERY_TASK_PUBLISH_RETRY", "task_publish_retry"),
        ("BROKER_URL", "broker_url"),
        ("broker", "broker_url"),
        ("backend", "result_backend"),
    ];
    if let Some((_, new)) = OLD.iter().find(|(old, _)| *old == setting) {
        return (*new).to_string();
    }
    let s = setting
        .strip_prefix("CELERY_")
        .or_else(|| setting.strip_prefix("CELERYD_").map(|_| setting))
        .unwrap_or(setting);
    s.to_ascii_lowercase()
}

impl<'t> Visitor<'t> for CeleryVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        match node.kind() {
            "import_statement" | "import_from_statement" => self.on_import(node, cx),
            "decorated_definition" => self.on_decorated(node, cx),
            "class_definition" => {
                // A decorated class is entered through its decorated_definition first.
                self.on_class(node, cx)
            }
            "call" => self.on_call(node, cx),
            "assignment" => self.on_assignment(node, cx),
            "binary_operator" => self.on_pipe(node, cx),
            _ => {}
        }
    }

    fn leave(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        if !matches!(node.kind(), "decorated_definition" | "class_definition") {
            return;
        }
        let Some(top) = self.stack.last() else { return };
        if top.start != node.start_byte() || top.end != node.end_byte() {
            return;
        }
        let Some(ctx) = self.stack.pop() else { return };
        let Some(task) = ctx.fact else { return };
        let fact = cx
            .fact_range("celery_task", TRANSPORT, Role::Consumer, task.at)
            .name(task.name)
            .attr("function", ctx.function)
            .attr("decorator", task.decorator)
            .attrs(ctx.attrs.into_iter().filter(|(k, _)| k != "name"))
            .attr("network_calls", ctx.network.clone())
            .attr("calls_without_timeout", ctx.no_timeout)
            .attr("calls_retry", ctx.calls_retry)
            .attr("retry_without_countdown", ctx.retry_without_countdown);
        cx.emit(fact);
    }
}

/// Celery channels are task names: a call reaches the task whose registered name it
/// names, or, failing that, the only task whose function has the call's last name segment.
pub(crate) fn link(facts: &[crate::Fact], linker: &mut crate::link::Linker) {
    let tasks: Vec<&crate::Fact> = facts.iter().filter(|f| f.kind == "celery_task").collect();
    let mut by_function: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &tasks {
        if let (Some(func), Some(name)) = (
            t.attr("function").and_then(Value::as_str),
            t.name.as_deref(),
        ) {
            by_function.entry(func).or_default().push(name);
        }
    }
    for f in facts {
        match f.kind.as_str() {
            "celery_task" => {
                if let Some(name) = &f.name {
                    linker.consumer(TRANSPORT, name, None, f);
                }
            }
            "celery_call" => {
                let Some(name) = &f.name else { continue };
                let resolved = if tasks.iter().any(|t| t.name.as_deref() == Some(name)) {
                    name.as_str()
                } else {
                    let last = name.rsplit('.').next().unwrap_or(name);
                    match by_function.get(last).map(Vec::as_slice) {
                        Some([only]) => only,
                        _ => name.as_str(),
                    }
                };
                linker.producer(TRANSPORT, resolved, None, f);
            }
            _ => {}
        }
    }
}
