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

use crate::walk::Field;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::prefilter::{Candidate, Present, Words, py_code_after, py_names_module, word_around};
use crate::py;

pub(crate) struct Celery;

const TRANSPORT: &str = "celery";

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
            "defers_to_commit": Bool = "the task's base class sends after commit: it overrides `apply_async` with `transaction.on_commit` (in this file), or is named like `TransactionAwareTask` / `OnCommitTask`",
            "swallowed_exceptions": List = "broad `except:` / `except Exception` clauses of the body that neither re-raise, retry nor log (`except Exception (line 12)`)",
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
            "countdown_seconds": Int = "`countdown=` when it is a constant expression (`3600`, `60 * 60 * 24`, `timedelta(hours=2).total_seconds()`)",
            "eta_offset_seconds": Int = "`eta=<now> + timedelta(...)`: the constant offset in seconds",
            "in_atomic": Bool = "the call is inside `with transaction.atomic():`, a function decorated `@transaction.atomic`, or `with session.begin():`",
            "on_commit": Bool = "the call is deferred until commit (`transaction.on_commit(lambda: ...)`, `.delay_on_commit`)",
            "task_defers_to_commit": Bool = "set project-wide: the task this call reaches has `defers_to_commit` (its `apply_async` already waits for the commit)",
            "orm_args": List = "arguments that are model instances: names bound in the same function to `Model.objects.get(...)`, `get_object_or_404(...)`, `Model.query.first()`, `session.get(...)`, loop variables over a queryset, and `request.user` (`order = Order.objects.get(...)`)",
        },
    },
    KindSpec {
        kind: "celery_beat_entry",
        transport: TRANSPORT,
        doc: "A periodic task: an entry of a `beat_schedule` dict (`app.conf.beat_schedule`, `CELERY_BEAT_SCHEDULE`, `conf.update(beat_schedule=...)`) or `add_periodic_task(...)`. Name: the task it sends.",
        attrs: attrs! {
            "entry": String = "the entry's key (or `name=`)",
            "task": String = "the task name",
            "schedule": Value = "the schedule as written (seconds, `crontab(...)`, `timedelta(...)`)",
            "schedule_seconds": Int = "how often it runs, in seconds, where clear: a number, a `timedelta`, or a `crontab` every minute / every N minutes / hourly / every N hours",
            "expires": Value = "`options={'expires': ...}` (or `expires=`)",
        },
    },
    KindSpec {
        kind: "celery_crontab",
        transport: TRANSPORT,
        doc: "A `crontab(...)` schedule of `celery.schedules`; only the fields it sets (positional ones included) are attributes.",
        attrs: attrs! {
            "minute": Value = "`minute=`",
            "hour": Value = "`hour=`",
            "day_of_week": Value = "`day_of_week=`",
            "day_of_month": Value = "`day_of_month=`",
            "month_of_year": Value = "`month_of_year=`",
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
            "url_scheme": String = "broker / backend URLs: the scheme (`redis`, `amqp`, `rediss`...)",
            "url_host": String = "broker / backend URLs: the (first) host",
            "url_has_password": Bool = "broker / backend URLs: a password is written in the URL (it is masked as `***` in `value`)",
            "url_tls": Bool = "broker / backend URLs: every non-local host is reached over TLS",
            "url_local": Bool = "broker / backend URLs: every host is local (loopback, or a single-label container / service name)",
            "url_problem": String = "broker / backend URLs: what is wrong (`no TLS`, `a password written in the source`...); absent if nothing",
            "reject_on_worker_lost_in_file": Bool = "`task_acks_late`: the same file also sets `task_reject_on_worker_lost`",
            "reject_on_worker_lost_in_project": Bool = "set project-wide on `task_acks_late`: some file sets `task_reject_on_worker_lost` to a true value",
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
            "for_statement",
            "except_clause",
        ]
    }
    /// One needle (at least) of every emission path that [`Celery::admits`] lets through:
    /// `celery` (apps, canvas, crontab, signatures of imported tasks), `task` / `Task`
    /// (task definitions, `add_periodic_task`, `send_task`), `delay` / `apply_async`
    /// (calls, and the result waits on them), `AsyncResult` (result waits), `conf`
    /// (`app.conf` settings), `CELERY` / `BROKER_` (Django-style settings). `celeryconfig`
    /// modules are read whatever they hold ([`Celery::reads_path`]).
    fn needles(&self) -> &'static [&'static str] {
        &[
            "celery",
            "CELERY",
            "BROKER_",
            "task",
            "Task",
            "delay",
            "apply_async",
            "AsyncResult",
            "conf",
        ]
    }
    /// A disjunction with one term per emission path; each term a conjunction of what the
    /// facts of that path cannot do without: whole identifiers ([`Present`]) or, where the
    /// detector matches inside names, substrings. Import aliases keep the imported name in
    /// the text (`from celery import shared_task as st`), and canonical names starting
    /// `celery.` come from the identifier `celery` (`import celery as c`).
    fn admits(&self, file: &Candidate<'_>) -> bool {
        let text = file.text;
        if is_celeryconfig(file.path) {
            return true;
        }
        let w = Present::of_python(text, &WORDS, WORD_LIST);
        // `is_app`: a name bound to `Celery(...)` (needs `celery`), `celery.current_app`,
        // or a last segment `app` / `capp` / `worker` / `*_app` / containing `celery`.
        let app = w.any(&["app", "capp", "worker"]) || file.any(&["celery", "_app"]);
        // celery_task: `@shared_task` / `@celery.task`, `@app.task`, `app.task(fn)`;
        // classes with a `run` method based on `celery.Task` / `app.Task`.
        let task = app && (w.attribute("task") || w.attribute("Task") && w.has("run"));
        // The visitor resolves every `celery.*` name through a dotted name or an import:
        // celery_app and its settings and beat entries, celery_crontab, canvas calls,
        // `shared_task` / `celery.task` decorators, and `.s` / `.si` / `.signature` of tasks
        // imported into a file that imports celery.
        let celery = w.has("celery") && py_names_module(text, "celery");
        // celery_beat_entry of `x.add_periodic_task(...)`; celery_call of `x.delay(...)`,
        // `x.apply_async(...)`, `x.delay_on_commit(...)`, `x.send_task(...)` (and the
        // celery_result_get of their results).
        let call = [
            "add_periodic_task",
            "delay",
            "apply_async",
            "delay_on_commit",
            "send_task",
        ]
        .iter()
        .any(|m| w.attribute(m));
        // celery_result_get of `r.get()` / `.wait()` / `.join()`, `r` from `...AsyncResult(...)`.
        let result = file.has("AsyncResult") && w.any(&["get", "wait", "join"]);
        // celery_config of `x.conf.setting = v`, `x.conf.update(...)`; module-level
        // `CELERY_*`, `CELERYD_*`, `CELERYBEAT_*`, `BROKER_*` settings.
        let settings = w.inner_attribute("conf")
            || file.has("CELERY") && assigns_upper_setting(text, "CELERY")
            || file.has("BROKER_") && assigns_upper_setting(text, "BROKER_");
        task || celery || call || result || settings
    }
    /// In a `celeryconfig` module every module-level lower-case name is a setting, and
    /// nothing in the text need say Celery.
    fn reads_path(&self, path: &str) -> bool {
        is_celeryconfig(path)
    }
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::new(CeleryVisitor {
            module: module_name(file.path),
            celeryconfig: is_celeryconfig(file.path),
            ..Default::default()
        })
    }
}

/// Whether a Django-style setting (`CELERY_*`, `CELERYD_*`, `CELERYBEAT_*`, `BROKER_*`) may
/// be assigned in `text`: such a word, found by `prefix`, followed by `=` (not `==`) or by
/// an annotation's `:`.
fn assigns_upper_setting(text: &str, prefix: &str) -> bool {
    text.match_indices(prefix).any(|(at, _)| {
        let name = word_around(text, at..at + prefix.len());
        let start = name.as_ptr() as usize - text.as_ptr() as usize;
        start == at
            && is_upper_setting(name)
            && py_code_after(text, at + name.len()).is_none_or(|code| {
                (code.starts_with('=') && !code.starts_with("==")) || code.starts_with(':')
            })
    })
}

/// A module-level name the visitor reads as a Django-style Celery setting.
fn is_upper_setting(name: &str) -> bool {
    name.starts_with("CELERY_")
        || name.starts_with("CELERYD_")
        || name.starts_with("CELERYBEAT_")
        || name.starts_with("BROKER_")
}

/// Whether the visitor reads a file as a `celeryconfig` module (lower-case module-level
/// names are settings there), from its path.
fn is_celeryconfig(path: &str) -> bool {
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".py");
    stem.contains("celeryconfig") || stem.contains("celery_config")
}

/// The identifiers [`Celery::admits`] looks for as whole words.
const WORD_LIST: &[&str] = &[
    "app",
    "capp",
    "worker",
    "task",
    "Task",
    "run",
    "celery",
    "add_periodic_task",
    "delay",
    "apply_async",
    "delay_on_commit",
    "send_task",
    "get",
    "wait",
    "join",
    "conf",
];
static WORDS: Words = Words::new(WORD_LIST);

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
    /// Broad `except` clauses that neither re-raise, retry nor log.
    swallowed: Vec<String>,
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
    /// The file imports from `celery`: `.s` / `.si` of a name defined elsewhere is read as
    /// a task signature only then (redis, kombu and others have `.s`-like methods too).
    imports_celery: bool,
    /// Task base classes defined in this file and their options.
    bases: HashMap<String, BTreeMap<String, Value>>,
    /// Variables bound to async results.
    results: HashSet<String>,
    stack: Vec<TaskCtx>,
    /// Settings, emitted at the end with what the rest of the file sets.
    configs: Vec<(String, crate::engine::FactBuilder)>,
    /// Names bound to ORM objects: name → (start of the enclosing function, source).
    orm_vars: HashMap<String, (usize, String)>,
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
            (expr.field("function")?, Some(expr))
        } else {
            (expr, None)
        };
        let parts = py::dotted(callee, cx)?;
        let canonical = self.canonical(&parts);
        if canonical == "celery.shared_task" || canonical == "celery.task" {
            return Some(("shared_task".into(), call));
        }
        if callee.kind() == "attribute" && parts.last() == Some(&"task") {
            let obj = callee.field("object")?;
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
                    // `TransactionAwareTask`, `OnCommitTask`: the usual names of a base
                    // whose `apply_async` waits for the commit.
                    let lower = base.to_ascii_lowercase();
                    if lower.contains("transaction") || lower.contains("commit") {
                        attrs.insert("defers_to_commit".into(), Value::Bool(true));
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
        let from = node.field("module_name").map(|m| cx.text(m).to_string());
        for (target, local) in py::import_bindings(node, cx) {
            let canonical = match &from {
                Some(m) => {
                    self.imported.insert(local.to_string());
                    format!("{m}.{target}")
                }
                None if local == target => target.split('.').next().unwrap_or(target).to_string(),
                None => target.to_string(),
            };
            if canonical == "celery" || canonical.starts_with("celery.") {
                self.imports_celery = true;
            }
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
        let Some(def) = node.field("definition") else {
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
                let function = def.field("name").map(|n| cx.text(n)).unwrap_or_default();
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
        let Some(supers) = node.field("superclasses") else {
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
                    && self.is_app(s.field("object").unwrap_or(s), cx))
            {
                base_attrs = Some(BTreeMap::new());
            } else if let Some(b) = self.bases.get(&text) {
                base_attrs = Some(b.clone());
            }
        }
        let Some(mut attrs) = base_attrs else { return };
        let Some(name) = node.field("name").map(|n| cx.text(n).to_string()) else {
            return;
        };
        let mut has_run = false;
        if let Some(body) = node.field("body") {
            let mut c = body.walk();
            for stmt in body.named_children(&mut c) {
                let stmt = if stmt.kind() == "decorated_definition" {
                    stmt.field("definition").unwrap_or(stmt)
                } else {
                    stmt
                };
                match stmt.kind() {
                    "function_definition"
                        if stmt.field("name").is_some_and(|n| cx.text(n) == "run") =>
                    {
                        has_run = true;
                    }
                    // A base whose `apply_async` defers the send to `on_commit`.
                    "function_definition"
                        if stmt
                            .field("name")
                            .is_some_and(|n| cx.text(n) == "apply_async")
                            && cx.text(stmt).contains("on_commit") =>
                    {
                        attrs.insert("defers_to_commit".into(), Value::Bool(true));
                    }
                    "expression_statement" => {
                        let Some(assign) = stmt.named_child(0).filter(|a| a.kind() == "assignment")
                        else {
                            continue;
                        };
                        let (Some(l), Some(r)) = (assign.field("left"), assign.field("right"))
                        else {
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
        let at = node.field("name").unwrap_or(node);
        self.push_task(node, at, &name, registered, "class".into(), attrs, has_run);
        if let Some(ctx) = self.stack.last_mut() {
            ctx.attrs.insert("bind".into(), Value::Bool(true));
        }
    }

    fn on_call(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(func) = node.field("function") else {
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
                "celery.schedules.crontab" | "celery.crontab" => {
                    self.on_crontab(node, cx);
                    return;
                }
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
        let (Some(obj), Some(attr)) = (func.field("object"), func.field("attribute")) else {
            return;
        };
        let method = cx.text(attr);
        match method {
            "add_periodic_task" => {
                let args = py::positional(node);
                let sig = args.get(1).copied().or_else(|| py::kwarg(node, "sig", cx));
                let task = sig.map(|s| {
                    let dotted = s
                        .field("function")
                        .and_then(|f| f.field("object"))
                        .and_then(|o| py::dotted(o, cx));
                    match dotted {
                        Some(parts) => {
                            let target = parts.join(".");
                            self.tasks.get(&target).cloned().unwrap_or(target)
                        }
                        None => compact_src(cx.text(s)),
                    }
                });
                let schedule_node = args
                    .first()
                    .copied()
                    .or_else(|| py::kwarg(node, "schedule", cx));
                let schedule = schedule_node.map(|s| py::value(s, cx));
                let period = schedule_node.and_then(|s| schedule_period(s, cx));
                let entry = py::kwarg(node, "name", cx).and_then(|n| py::string_value(n, cx));
                let fact = cx
                    .fact("celery_beat_entry", TRANSPORT, Role::Producer, node)
                    .name_opt(task.clone())
                    .attr_opt("entry", entry)
                    .attr_opt("task", task)
                    .attr_opt("schedule", schedule)
                    .attr_opt("schedule_seconds", period)
                    .attr_opt(
                        "expires",
                        py::kwarg(node, "expires", cx).map(|e| py::value(e, cx)),
                    );
                cx.emit(fact);
            }
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
                    if key == "countdown"
                        && let Some(secs) = const_seconds(v, cx)
                    {
                        fact = fact.attr("countdown_seconds", secs as i64);
                    }
                    if key == "eta"
                        && v.kind() == "binary_operator"
                        && v.field("operator").is_some_and(|o| cx.text(o) == "+")
                        && let Some(secs) = v.field("right").and_then(|r| const_seconds(r, cx))
                    {
                        fact = fact.attr("eta_offset_seconds", secs as i64);
                    }
                }
                if method != "send_task" {
                    let (atomic, on_commit) = self.transaction_context(node, cx);
                    fact = fact
                        .attr("in_atomic", atomic)
                        .attr("on_commit", on_commit || method == "delay_on_commit")
                        .attr("orm_args", self.orm_args(node, method, cx));
                }
                cx.emit(fact);
            }
            "get" | "wait" | "join" => {
                if !py::positional(node).is_empty() {
                    return; // `dict.get(key)`, `str.join(items)`
                }
                let task = match obj.kind() {
                    "call" => {
                        let inner = obj.field("function");
                        let inner_method =
                            inner.and_then(|f| f.field("attribute")).map(|a| cx.text(a));
                        if !matches!(inner_method, Some("delay" | "apply_async")) {
                            return;
                        }
                        inner
                            .and_then(|f| f.field("object"))
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
                        self.config(cx, k, &setting, v, "conf_update");
                    }
                    for arg in py::positional(node) {
                        if arg.kind() != "dictionary" {
                            continue;
                        }
                        let mut c = arg.walk();
                        for pair in arg.named_children(&mut c).filter(|p| p.kind() == "pair") {
                            let (Some(k), Some(v)) = (pair.field("key"), pair.field("value"))
                            else {
                                continue;
                            };
                            if let Some(setting) = py::string_value(k, cx) {
                                self.config(cx, k, &setting, v, "conf_update");
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// `crontab(...)`: the fields it sets, positional ones included.
    fn on_crontab(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        const FIELDS: &[&str] = &[
            "minute",
            "hour",
            "day_of_week",
            "day_of_month",
            "month_of_year",
        ];
        let mut fact = cx.fact("celery_crontab", TRANSPORT, Role::Config, node);
        for (i, a) in py::positional(node).into_iter().enumerate() {
            if let Some(f) = FIELDS.get(i) {
                fact = fact.attr(f, py::value(a, cx));
            }
        }
        for (k, v) in py::kwargs(node) {
            let key = cx.text(k);
            if FIELDS.contains(&key) {
                fact = fact.attr(key, py::value(v, cx));
            }
        }
        cx.emit(fact);
    }

    /// `for order in Order.objects.filter(...)`: the loop variable is a model instance.
    fn on_for(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let (Some(left), Some(right)) = (node.field("left"), node.field("right")) else {
            return;
        };
        if left.kind() != "identifier" {
            return;
        }
        let r = cx.text(right);
        if r.contains(".objects.") || r.contains(".query.") || r.ends_with(".objects") {
            self.orm_vars.insert(
                cx.text(left).to_string(),
                (
                    function_start(node, cx),
                    format!("{} in {}", cx.text(left), compact_src(r)),
                ),
            );
        }
    }

    /// A broad `except` in a task body that neither re-raises, retries nor reports.
    fn on_except(&mut self, node: Node<'_>, cx: &FileCx<'_>) {
        let Some(ctx) = self.stack.last_mut() else {
            return;
        };
        if ctx.fact.is_none() {
            return;
        }
        let mut c = node.walk();
        let caught = node
            .named_children(&mut c)
            .find(|n| n.kind() != "block" && n.kind() != "comment");
        let label = match caught {
            None => "bare except".to_string(),
            Some(t) => {
                // `except Exception as e` → `as_pattern`.
                let t = if t.kind() == "as_pattern" {
                    t.named_child(0).unwrap_or(t)
                } else {
                    t
                };
                let text = cx.text(t);
                let broad = text
                    .trim_matches(|c| c == '(' || c == ')')
                    .split(',')
                    .map(str::trim)
                    .any(|e| matches!(e, "Exception" | "BaseException"));
                if !broad {
                    return;
                }
                format!("except {text}")
            }
        };
        let Some(block) = node.field("body").or_else(|| {
            let mut c = node.walk();
            node.named_children(&mut c).find(|n| n.kind() == "block")
        }) else {
            return;
        };
        let body = cx.text(block).to_ascii_lowercase();
        let visible = [
            "raise",
            "retry",
            "log",
            "sentry",
            "capture_",
            "print",
            "update_state",
            "warn",
            "report",
            "notify",
            "alert",
            "mail_admins",
            "error",
        ]
        .iter()
        .any(|w| body.contains(w));
        if !visible {
            let line = node.start_position().row + 1;
            ctx.swallowed.push(format!("{label} (line {line})"));
        }
    }

    /// Whether a call sits inside `with transaction.atomic():` (or a function decorated
    /// `@transaction.atomic`, or `with session.begin():`), and whether it is deferred with
    /// `transaction.on_commit(...)`.
    fn transaction_context(&self, node: Node<'_>, cx: &FileCx<'_>) -> (bool, bool) {
        let is_atomic = |expr: Node<'_>| -> bool {
            let callee = if expr.kind() == "call" {
                expr.field("function").unwrap_or(expr)
            } else {
                expr
            };
            let Some(parts) = py::dotted(callee, cx) else {
                return false;
            };
            let canonical = self.canonical(&parts);
            canonical.ends_with("transaction.atomic")
                || (parts.last() == Some(&"begin")
                    && parts.len() >= 2
                    && parts[parts.len() - 2]
                        .to_ascii_lowercase()
                        .contains("session"))
        };
        let mut atomic = false;
        let mut on_commit = false;
        let mut n = node;
        while let Some(p) = cx.parent(n) {
            match p.kind() {
                "with_statement" => {
                    let in_body = p.field("body").is_some_and(|b| b.id() == n.id());
                    let mut c = p.walk();
                    let items: Vec<Node<'_>> = p
                        .named_children(&mut c)
                        .filter(|x| x.kind() == "with_clause")
                        .flat_map(|wc| {
                            let mut c2 = wc.walk();
                            wc.named_children(&mut c2).collect::<Vec<_>>()
                        })
                        .filter_map(|item| item.field("value").or(item.named_child(0)))
                        .map(|v| {
                            if v.kind() == "as_pattern" {
                                v.named_child(0).unwrap_or(v)
                            } else {
                                v
                            }
                        })
                        .collect();
                    if in_body && items.iter().any(|i| is_atomic(*i)) {
                        atomic = true;
                    }
                }
                "decorated_definition" => {
                    let mut c = p.walk();
                    if p.named_children(&mut c)
                        .filter(|d| d.kind() == "decorator")
                        .filter_map(|d| d.named_child(0))
                        .any(is_atomic)
                    {
                        atomic = true;
                    }
                }
                "call" => {
                    let f = p.field("function");
                    if f.and_then(|f| py::dotted(f, cx))
                        .is_some_and(|parts| parts.last() == Some(&"on_commit"))
                    {
                        on_commit = true;
                    }
                }
                _ => {}
            }
            n = p;
        }
        (atomic, on_commit)
    }

    /// Arguments of a task call that are model instances: names bound in the same
    /// function to `Model.objects.get(...)`, `get_object_or_404(...)`, `Model.query.first()`,
    /// `session.get(...)`..., and `request.user`.
    fn orm_args<'t>(&self, node: Node<'t>, method: &str, cx: &FileCx<'_>) -> Vec<String> {
        let mut args: Vec<Node<'t>> = Vec::new();
        let collect = |n: Node<'t>, args: &mut Vec<Node<'t>>| match n.kind() {
            "tuple" | "list" => {
                let mut c = n.walk();
                args.extend(n.named_children(&mut c).filter(|x| x.kind() != "comment"));
            }
            "dictionary" => {
                let mut c = n.walk();
                args.extend(
                    n.named_children(&mut c)
                        .filter(|p| p.kind() == "pair")
                        .filter_map(|p| p.field("value")),
                );
            }
            _ => {}
        };
        if method == "apply_async" {
            if let Some(first) = py::positional(node).first() {
                collect(*first, &mut args);
            }
            for (k, v) in py::kwargs(node) {
                if matches!(cx.text(k), "args" | "kwargs") {
                    collect(v, &mut args);
                }
            }
        } else {
            args.extend(py::positional(node));
            args.extend(py::kwargs(node).into_iter().map(|(_, v)| v));
        }
        let here = function_start(node, cx);
        let mut out = Vec::new();
        for a in args {
            let t = cx.text(a);
            if matches!(t, "request.user" | "self.request.user") {
                out.push(t.to_string());
            } else if a.kind() == "identifier"
                && let Some((f, src)) = self.orm_vars.get(t)
                && *f == here
            {
                out.push(src.clone());
            }
        }
        out
    }

    fn known_task(&self, parts: &[&str]) -> bool {
        let head = parts[0];
        self.tasks.contains_key(head)
            || self.imports_celery
                && (self.imported.contains(head)
                    || (parts.len() > 1 && self.aliases.contains_key(head)))
    }

    fn on_app(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let variable = cx
            .parent(node)
            .filter(|p| p.kind() == "assignment")
            .and_then(|p| p.field("left"))
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
                let value = match py::value(v, cx) {
                    Value::String(url) => Value::String(broker_url(&url).masked),
                    other => other,
                };
                fact = fact.attr(key, value);
            }
        }
        cx.emit(fact);
        for (k, v) in py::kwargs(node) {
            let setting = cx.text(k).to_string();
            if setting == "main" {
                continue;
            }
            self.config(cx, k, &setting, v, "app_kwarg");
        }
    }

    fn config(
        &mut self,
        cx: &mut FileCx<'_>,
        node: Node<'_>,
        setting: &str,
        value_node: Node<'_>,
        source: &str,
    ) {
        let name = normalize_setting(setting);
        let mut value = py::value(value_node, cx);
        let mut fact = cx
            .fact("celery_config", TRANSPORT, Role::Config, node)
            .name(name.clone())
            .attr("setting", setting)
            .attr("source", source);
        if matches!(name.as_str(), "broker_url" | "result_backend")
            && let Value::String(url) = &value
        {
            let info = broker_url(url);
            fact = fact
                .attr_opt("url_scheme", info.scheme)
                .attr_opt("url_host", info.host)
                .attr("url_has_password", info.password)
                .attr("url_tls", info.tls)
                .attr("url_local", info.local)
                .attr_opt("url_problem", info.problem);
            value = Value::String(info.masked);
        }
        if name == "beat_schedule" {
            self.beat_schedule(value_node, cx);
        }
        let fact = fact.attr("value", value);
        self.configs.push((name, fact));
    }

    /// Entries of a `beat_schedule` dict literal.
    fn beat_schedule(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        if node.kind() != "dictionary" {
            return;
        }
        let mut c = node.walk();
        for pair in node.named_children(&mut c).filter(|p| p.kind() == "pair") {
            let (Some(k), Some(v)) = (pair.field("key"), pair.field("value")) else {
                continue;
            };
            let entry = py::string_value(k, cx).unwrap_or_else(|| cx.text(k).to_string());
            let field = |key: &str| -> Option<Node<'_>> {
                if v.kind() != "dictionary" {
                    return None;
                }
                let mut c = v.walk();
                v.named_children(&mut c)
                    .filter(|p| p.kind() == "pair")
                    .find(|p| {
                        p.field("key")
                            .and_then(|k| py::string_value(k, cx))
                            .is_some_and(|k| k == key)
                    })
                    .and_then(|p| p.field("value"))
            };
            let task = field("task")
                .map(|t| py::string_value(t, cx).unwrap_or_else(|| compact_src(cx.text(t))));
            let schedule_node = field("schedule");
            let schedule = schedule_node.map(|s| py::value(s, cx));
            let period = schedule_node.and_then(|s| schedule_period(s, cx));
            let expires = field("options").and_then(|o| {
                if let Value::Object(m) = py::value(o, cx) {
                    m.get("expires").cloned()
                } else {
                    None
                }
            });
            let fact = cx
                .fact("celery_beat_entry", TRANSPORT, Role::Producer, pair)
                .name_opt(task.clone())
                .attr("entry", entry)
                .attr_opt("task", task)
                .attr_opt("schedule", schedule)
                .attr_opt("schedule_seconds", period)
                .attr_opt("expires", expires);
            cx.emit(fact);
        }
    }

    fn on_assignment(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let (Some(left), Some(right)) = (node.field("left"), node.field("right")) else {
            return;
        };
        // ORM objects: `order = Order.objects.get(pk=pk)`, `obj, _ = M.objects.get_or_create()`.
        let target = match left.kind() {
            "identifier" => Some(left),
            "pattern_list" | "tuple_pattern" => {
                left.named_child(0).filter(|n| n.kind() == "identifier")
            }
            _ => None,
        };
        if let Some(t) = target {
            let name = cx.text(t).to_string();
            match orm_source(right, cx) {
                Some(src) => {
                    let shown = format!("{name} = {src}");
                    self.orm_vars
                        .insert(name, (function_start(node, cx), shown));
                }
                None => {
                    self.orm_vars.remove(&name);
                }
            }
        }
        // Results bound to variables: `r = add.delay(1)`.
        if left.kind() == "identifier" && right.kind() == "call" {
            let f = right.field("function");
            let is_result = f.is_some_and(|f| {
                f.field("attribute")
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
                self.config(cx, left, &setting, right, "conf_assign");
                return;
            }
            if parts.len() == 1 && py::is_module_level(node, cx) {
                let name = parts[0];
                if is_upper_setting(name) {
                    self.config(cx, left, name, right, "django_settings");
                } else if self.celeryconfig
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !name.starts_with('_')
                {
                    self.config(cx, left, name, right, "celeryconfig");
                }
            }
        }
    }

    fn on_pipe(&mut self, node: Node<'_>, cx: &mut FileCx<'_>) {
        let Some(op) = node.field("operator") else {
            return;
        };
        if cx.text(op) != "|" {
            return;
        }
        // Only the outermost `a | b | c`, and only when an operand is a signature.
        if cx.parent(node).is_some_and(|p| {
            p.kind() == "binary_operator" && p.field("operator").is_some_and(|o| cx.text(o) == "|")
        }) {
            return;
        }
        let mut operands = vec![node];
        let mut any_sig = false;
        while let Some(n) = operands.pop() {
            if n.kind() == "binary_operator" {
                operands.extend(n.field("left"));
                operands.extend(n.field("right"));
            } else if n.kind() == "call" {
                let m = n
                    .field("function")
                    .and_then(|f| f.field("attribute"))
                    .map(|a| cx.text(a));
                if matches!(m, Some("s" | "si" | "signature")) {
                    let recv = n.field("function").and_then(|f| f.field("object"));
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

/// Start byte of the function a node is in (0 at module level).
fn function_start<'t>(node: Node<'t>, cx: &FileCx<'t>) -> usize {
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        if p.kind() == "function_definition" {
            return p.start_byte();
        }
        n = p;
    }
    0
}

fn compact_src(text: &str) -> String {
    let s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 60 {
        let mut t: String = s.chars().take(60).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// The ORM call an expression fetches a model instance with, if it does.
fn orm_source(expr: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let expr = if expr.kind() == "await" {
        expr.named_child(0)?
    } else {
        expr
    };
    if expr.kind() != "call" {
        return None;
    }
    let f = expr.field("function")?;
    let text = cx.text(f);
    let last = match f.kind() {
        "attribute" => cx.text(f.field("attribute")?),
        "identifier" => text,
        _ => return None,
    };
    let fetch = matches!(
        last,
        "get"
            | "aget"
            | "create"
            | "acreate"
            | "get_or_create"
            | "aget_or_create"
            | "update_or_create"
            | "aupdate_or_create"
            | "first"
            | "afirst"
            | "last"
            | "alast"
            | "latest"
            | "earliest"
            | "one"
            | "one_or_none"
            | "get_or_404"
            | "first_or_404"
            | "one_or_404"
    );
    let orm = text.contains(".objects.")
        || text.contains(".query.")
        || text.contains(".query(")
        || text.starts_with("session.")
        || text.contains(".session.");
    // `session.get(Model, pk)`, not Flask's `session.get("user_id")` or a requests session.
    let session_get =
        matches!(last, "get" | "aget") && !text.contains(".objects.") && !text.contains(".query.");
    if session_get
        && !py::positional(expr).first().is_some_and(|a| {
            a.kind() == "identifier" && cx.text(*a).starts_with(char::is_uppercase)
        })
    {
        return None;
    }
    if (fetch && orm) || matches!(last, "get_object_or_404" | "aget_object_or_404") {
        return Some(compact_src(&format!("{}(...)", text)));
    }
    None
}

/// A number of seconds written as a constant expression: `3600`, `60 * 60 * 24`,
/// `timedelta(hours=2)`, `timedelta(days=1).total_seconds()`.
fn const_seconds(node: Node<'_>, cx: &FileCx<'_>) -> Option<f64> {
    match node.kind() {
        "integer" | "float" => cx.text(node).replace('_', "").parse().ok(),
        "parenthesized_expression" => const_seconds(node.named_child(0)?, cx),
        "binary_operator" => {
            let l = const_seconds(node.field("left")?, cx)?;
            let r = const_seconds(node.field("right")?, cx)?;
            match cx.text(node.field("operator")?) {
                "*" => Some(l * r),
                "+" => Some(l + r),
                "-" => Some(l - r),
                _ => None,
            }
        }
        "call" => {
            let f = node.field("function")?;
            if f.kind() == "attribute"
                && f.field("attribute")
                    .is_some_and(|a| cx.text(a) == "total_seconds")
            {
                return const_seconds(f.field("object")?, cx);
            }
            let parts = py::dotted(f, cx)?;
            match parts.last().copied() {
                Some("timedelta") => {
                    let mut total = 0.0;
                    if let Some(d) = py::positional(node).first() {
                        total += const_seconds(*d, cx)? * 86400.0;
                    }
                    for (k, v) in py::kwargs(node) {
                        let unit = match cx.text(k) {
                            "weeks" => 604_800.0,
                            "days" => 86_400.0,
                            "hours" => 3_600.0,
                            "minutes" => 60.0,
                            "seconds" => 1.0,
                            "milliseconds" | "microseconds" => 0.0,
                            _ => return None,
                        };
                        total += const_seconds(v, cx)? * unit;
                    }
                    Some(total)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// How often a schedule fires, in seconds, where that is clear: a number or `timedelta`,
/// or a `crontab` that runs every minute (`minute` unset or `*`), every N minutes
/// (`*/N`), or hourly (a fixed minute, `hour` unset or `*`) / every N hours.
fn schedule_period(node: Node<'_>, cx: &FileCx<'_>) -> Option<i64> {
    if let Some(secs) = const_seconds(node, cx) {
        return Some(secs as i64);
    }
    if node.kind() != "call" {
        return None;
    }
    let f = node.field("function")?;
    if py::dotted(f, cx)?.last() != Some(&"crontab") {
        return None;
    }
    let field = |name: &str, pos: usize| -> Option<String> {
        py::kwarg(node, name, cx)
            .or_else(|| py::positional(node).get(pos).copied())
            .map(|v| py::string_value(v, cx).unwrap_or_else(|| cx.text(v).to_string()))
    };
    let every = |v: Option<String>, unit: i64| -> Option<i64> {
        match v.as_deref() {
            None | Some("*") => Some(unit),
            Some(x) => x
                .strip_prefix("*/")?
                .trim()
                .parse::<i64>()
                .ok()
                .map(|n| n * unit),
        }
    };
    if let Some(p) = every(field("minute", 0), 60) {
        return Some(p);
    }
    // A fixed minute: hourly unless the hour is fixed too.
    every(field("hour", 1), 3600)
}

struct BrokerUrl {
    scheme: Option<String>,
    host: Option<String>,
    password: bool,
    tls: bool,
    local: bool,
    problem: Option<String>,
    /// The URL with every password replaced by `***`.
    masked: String,
}

/// Reads a broker / backend URL (`;`-separated failover lists included), masking passwords.
fn broker_url(url: &str) -> BrokerUrl {
    let mut out = BrokerUrl {
        scheme: None,
        host: None,
        password: false,
        tls: true,
        local: true,
        problem: None,
        masked: String::new(),
    };
    let mut masked = Vec::new();
    for part in url.split(';') {
        let Some((scheme, rest)) = part.split_once("://") else {
            masked.push(part.to_string());
            continue;
        };
        let (auth, hostpart) = match rest.split_once('/') {
            Some((a, _)) => match a.rsplit_once('@') {
                Some((cred, h)) => (Some(cred), h),
                None => (None, a),
            },
            None => match rest.rsplit_once('@') {
                Some((cred, h)) => (Some(cred), h),
                None => (None, rest),
            },
        };
        let mut m = part.to_string();
        if let Some(cred) = auth
            && let Some((user, pass)) = cred.split_once(':')
            && !pass.is_empty()
        {
            out.password = true;
            m = format!("{scheme}://{user}:***@{}", &rest[cred.len() + 1..]);
        }
        masked.push(m);
        // `mongodb://h0:1,h1:2/`: the first host.
        let hostpart = hostpart.split(',').next().unwrap_or(hostpart);
        let host = hostpart
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(hostpart, |(h, _)| h)
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let scheme_l = scheme.to_ascii_lowercase();
        let tls = matches!(scheme_l.as_str(), "rediss" | "amqps" | "sqs" | "https")
            || part.contains("ssl_cert_reqs")
            || part.contains("ssl=true");
        let plain = matches!(
            scheme_l.as_str(),
            "redis" | "amqp" | "pyamqp" | "librabbitmq" | "sentinel" | "mongodb" | "http"
        );
        let local = host.is_empty()
            || matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1" | "0.0.0.0")
            // A single-label name is a container or cluster-internal service.
            || !host.contains('.')
            || host.ends_with(".local")
            || host.ends_with(".internal")
            || host.ends_with(".svc")
            || host.contains(".svc.cluster.");
        if !local {
            out.local = false;
            if plain && !tls {
                out.tls = false;
            }
        }
        if out.scheme.is_none() {
            out.scheme = Some(scheme.to_string());
            out.host = Some(host);
        }
    }
    out.masked = masked.join(";");
    out.problem = match (out.password, out.tls) {
        (true, false) => Some("a password written in the source, sent without TLS".into()),
        (true, true) => Some("a password written in the source".into()),
        (false, false) => Some("no TLS".into()),
        (false, true) => None,
    };
    out
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
            "for_statement" => self.on_for(node, cx),
            "except_clause" => self.on_except(node, cx),
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
            .attr("retry_without_countdown", ctx.retry_without_countdown)
            .attr("swallowed_exceptions", ctx.swallowed);
        cx.emit(fact);
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        let names: HashSet<&str> = self.configs.iter().map(|(n, _)| n.as_str()).collect();
        let reject = names.contains("task_reject_on_worker_lost");
        for (name, fact) in self.configs {
            let fact = if name == "task_acks_late" {
                fact.attr("reject_on_worker_lost_in_file", reject)
            } else {
                fact
            };
            cx.emit(fact);
        }
    }
}

/// The task a call's name reaches: the task registered under that name, or, failing that,
/// the only task whose function has the name's last segment.
fn resolve<'a>(
    name: &'a str,
    tasks: &[&'a crate::Fact],
    by_function: &HashMap<&'a str, Vec<&'a str>>,
) -> &'a str {
    if tasks.iter().any(|t| t.name.as_deref() == Some(name)) {
        return name;
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    match by_function.get(last).map(Vec::as_slice) {
        Some([only]) => only,
        _ => name,
    }
}

/// Attributes that need the whole project: whether the task a call inside a transaction
/// reaches already defers its send to the commit, and whether any settings file sets
/// `task_reject_on_worker_lost`.
pub(crate) fn enrich(facts: &mut [crate::Fact]) {
    let deferring: HashSet<String> = facts
        .iter()
        .filter(|f| {
            f.kind == "celery_task" && f.attr("defers_to_commit") == Some(&Value::Bool(true))
        })
        .filter_map(|f| f.name.clone())
        .collect();
    let reject = facts.iter().any(|f| {
        f.kind == "celery_config"
            && f.name.as_deref() == Some("task_reject_on_worker_lost")
            && f.attr("value") == Some(&Value::Bool(true))
    });
    let mut resolved: Vec<(usize, bool)> = Vec::new();
    {
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
        for (i, f) in facts.iter().enumerate() {
            if f.kind == "celery_call" && f.attr("in_atomic") == Some(&Value::Bool(true)) {
                let defers = f
                    .name
                    .as_deref()
                    .is_some_and(|n| deferring.contains(resolve(n, &tasks, &by_function)));
                resolved.push((i, defers));
            }
        }
    }
    for (i, defers) in resolved {
        if let Some(f) = facts.get_mut(i) {
            f.attrs
                .insert("task_defers_to_commit".into(), Value::Bool(defers));
        }
    }
    for f in facts.iter_mut() {
        if f.kind == "celery_config" && f.name.as_deref() == Some("task_acks_late") {
            f.attrs.insert(
                "reject_on_worker_lost_in_project".into(),
                Value::Bool(reject),
            );
        }
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
            "celery_call" | "celery_beat_entry" => {
                let Some(name) = &f.name else { continue };
                linker.producer(TRANSPORT, resolve(name, &tasks, &by_function), None, f);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use msgscan_lang::{FileParser, Language};

    fn facts(path: &str, src: &str) -> Vec<crate::Fact> {
        let mut p = FileParser::new(std::time::Duration::from_secs(5));
        let parsed = p.parse(Language::Python, src).unwrap();
        crate::detect(path, src, &parsed)
    }

    /// The celery detector alone on `src` at `path`: whether the prefilter admits the file,
    /// and the facts it finds with the prefilter off.
    fn alone(path: &str, src: &str) -> (bool, Vec<crate::Fact>) {
        let mut p = FileParser::new(std::time::Duration::from_secs(5));
        let parsed = p.parse(Language::Python, src).unwrap();
        crate::fuzzing::detect_each(path, src, &parsed)
            .into_iter()
            .find(|(name, _, _)| *name == "celery")
            .map(|(_, admitted, facts)| (admitted, facts))
            .unwrap()
    }

    #[test]
    fn admits_a_minimal_file_of_every_emission_path() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "celery_task",
                "t.py",
                "from celery import shared_task as st\n@st\ndef f(): pass\n",
            ),
            (
                "celery_task",
                "t.py",
                "import celery as c\n@c.task(bind=True)\ndef f(self): pass\n",
            ),
            ("celery_task", "t.py", "@app.task\ndef f(): pass\n"),
            ("celery_task", "t.py", "@worker.task\ndef f(): pass\n"),
            ("celery_task", "t.py", "f = billing_app.task(f)\n"),
            (
                "celery_task",
                "t.py",
                "class T(app.Task):\n    def run(self): pass\n",
            ),
            (
                "celery_task",
                "t.py",
                "from celery import Task as B\nclass T(B):\n    def run(self): pass\n",
            ),
            (
                "celery_app",
                "t.py",
                "from celery import Celery\nworker = Celery('p')\n",
            ),
            (
                "celery_config",
                "t.py",
                "import celery\nc = celery.Celery(broker='redis://h')\n",
            ),
            (
                "celery_crontab",
                "t.py",
                "from celery.schedules import crontab\nx = crontab(minute=0)\n",
            ),
            (
                "celery_call",
                "t.py",
                "from celery import chain as ch\nch(a, b)()\n",
            ),
            (
                "celery_beat_entry",
                "t.py",
                "sender.add_periodic_task(10.0, ping)\n",
            ),
            ("celery_call", "t.py", "add.delay(1)\n"),
            ("celery_call", "t.py", "x.y.apply_async((1,))\n"),
            ("celery_call", "t.py", "x.delay_on_commit(1)\n"),
            ("celery_call", "t.py", "c.send_task('t.add')\n"),
            (
                "celery_call",
                "t.py",
                "from celery import group\nfrom proj.jobs import add\nsig = add.s(1)\n",
            ),
            (
                "celery_call",
                "t.py",
                "import celery\nimport jobs\nsig = jobs.add.si(1)\n",
            ),
            (
                "celery_call",
                "t.py",
                "from celery import chain\nfrom jobs import a, b\nflow = a.signature() | b.signature()\n",
            ),
            ("celery_result_get", "t.py", "x.delay(1).get()\n"),
            (
                "celery_result_get",
                "t.py",
                "from r import AsyncResult as R\nr = R(i)\nr.wait()\n",
            ),
            ("celery_config", "t.py", "cfg.conf.timezone = 'UTC'\n"),
            ("celery_config", "t.py", "cfg.conf.update(timezone='UTC')\n"),
            ("celery_config", "t.py", "BROKER_URL = 'redis://h'\n"),
            ("celery_config", "t.py", "CELERYBEAT_SCHEDULE = {}\n"),
            (
                "celery_config",
                "t.py",
                "CELERY_TASK_ACKS_LATE: bool = True\n",
            ),
            ("celery_config", "t.py", "x = 1; CELERYD_CONCURRENCY = 4\n"),
            (
                "celery_config",
                "t.py",
                "CELERY_A = CELERY_B \\\n    = 'json'\n",
            ),
            // the `.` of an attribute on the line before, or after the name
            ("celery_call", "t.py", "(add\n    .delay(1))\n"),
            ("celery_call", "t.py", "add. \\\ndelay(1)\n"),
            ("celery_call", "t.py", "add . delay(1)\n"),
            (
                "celery_config",
                "t.py",
                "(cfg.conf  # the conf\n    .update(timezone='UTC'))\n",
            ),
            (
                "celery_task",
                "t.py",
                "celery = Celery('p')\nf = (celery  # the app\n    .task(f))\n",
            ),
            ("celery_call", "t.py", "f = (add.  # defer\n    delay(1))\n"),
            (
                "celery_task",
                "t.py",
                "import os, celery\n@celery.shared_task\ndef f(): pass\n",
            ),
            (
                "celery_beat_entry",
                "t.py",
                "CELERY_BEAT_SCHEDULE = {'a': {'task': 't.a'}}\n",
            ),
            // `celeryconfig` modules, by their path
            (
                "celery_config",
                "celeryconfig.py",
                "\u{feff}task_serializer = 'json'\n",
            ),
            (
                "celery_config",
                "proj/celery_config.py",
                "imports = ('tasks',)\n",
            ),
            (
                "celery_config",
                "celeryconfig.py",
                "broker_url = 'redis://h'\n",
            ),
        ];
        for (kind, path, src) in cases {
            let (admitted, facts) = alone(path, src);
            assert!(
                facts.iter().any(|f| f.kind == *kind),
                "no {kind} in {src:?}: {facts:?}"
            );
            assert!(admitted, "{kind} in {src:?} ruled out");
        }
    }

    #[test]
    fn rules_out_near_misses() {
        let cases: &[&str] = &[
            // asyncio tasks, nothing app-like
            "import asyncio\nasync def f():\n    task = asyncio.create_task(main())\n    await task\n",
            // `delay` / `task` / `conf` inside longer names
            "RETRY_DELAY = 5\ntime.sleep(RETRY_DELAY)\n",
            "def run_tasks(task_list):\n    for t in task_list:\n        t.delayed = True\n",
            "self.config.update(debug=True)\nsettings.CONFIG = 1\n",
            // `Celery` without `celery`
            "class Celery:\n    pass\n",
            // `signature` and `group` without `celery`, an import or a `|`
            "import inspect\ndef f(g):\n    sig = inspect.signature(g)\n    group = 'admins'\n",
            // `Task` with `run` but nothing app-like or celery
            "from prefect import Task\nclass T(Task):\n    def run(self): pass\n",
            // `get` without `AsyncResult`
            "def f(s):\n    return s.get('k')\n",
            // `.s` of an imported name in a file that does not import celery (redis's
            // command builders): no signature
            "from redis.commands import bf\nx = bf.s(1)\n",
            // a module-level lower-case name outside a celeryconfig module
            "import os\nbase = os.getcwd()\n",
            "# schedule the task\ndef f():\n    x = 1\n",
            "MD5DELAY = md5delay\nx.mytask()\n",
            // the words, but not as attributes or settings
            "def f(delay, conf, task):\n    return delay + conf + task\n",
            "from x import delay, apply_async\nx = apply_async(delay)\n",
            "app = make()\ntask = app.run(task)\n",
            "app = make()\nx = (a,\n     task)\n",
            "if CELERY_ENABLED == 1:\n    send(BROKER_HOST)\n",
            "# see the celery docs\nx = 'celery'\n",
        ];
        for src in cases {
            let (admitted, facts) = alone("proj/mod.py", src);
            assert!(facts.is_empty(), "{src:?}: {facts:?}");
            assert!(!admitted, "{src:?} admitted");
        }
    }

    #[test]
    fn broker_passwords_never_reach_facts() {
        let src = "from celery import Celery\n\
                   app = Celery('p', broker='amqp://app:hunter2@mq.example.com//')\n\
                   app.conf.result_backend = 'redis://:s3cret@cache.example.com:6379/0;redis://:s3cret@cache2.example.com:6379/0'\n\
                   CELERY_BROKER_URL = 'mongodb://u:pw0rd@h0.example.com:1,h1.example.com:2/db'\n";
        let all = facts("proj/celery.py", src);
        let json = serde_json::to_string(&all).unwrap();
        for secret in ["hunter2", "s3cret", "pw0rd"] {
            assert!(!json.contains(secret), "{secret} leaked into {json}");
        }
        let backend = all
            .iter()
            .find(|f| f.name.as_deref() == Some("result_backend") && f.kind == "celery_config")
            .unwrap();
        assert_eq!(
            backend.attr("value").and_then(|v| v.as_str()),
            Some("redis://:***@cache.example.com:6379/0;redis://:***@cache2.example.com:6379/0")
        );
        assert_eq!(
            backend.attr("url_problem").and_then(|v| v.as_str()),
            Some("a password written in the source, sent without TLS")
        );
        let mongo = all
            .iter()
            .find(|f| f.attr("setting").and_then(|v| v.as_str()) == Some("CELERY_BROKER_URL"))
            .unwrap();
        assert_eq!(
            mongo.attr("url_host").and_then(|v| v.as_str()),
            Some("h0.example.com")
        );
    }

    #[test]
    fn schedules_and_countdowns_are_read_as_seconds() {
        let src = "from celery.schedules import crontab\n\
                   from datetime import timedelta\n\
                   beat_schedule = {\n\
                   \x20   'a': {'task': 't.a', 'schedule': crontab(minute='*/15')},\n\
                   \x20   'b': {'task': 't.b', 'schedule': crontab(minute=5)},\n\
                   \x20   'c': {'task': 't.c', 'schedule': crontab(minute=0, hour=3)},\n\
                   \x20   'd': {'task': 't.d', 'schedule': timedelta(minutes=2)},\n\
                   }\n\
                   t.apply_async(countdown=timedelta(hours=2).total_seconds())\n\
                   t.apply_async(countdown=60 * 60 + 30)\n";
        let all = facts("celeryconfig.py", src);
        let period = |entry: &str| {
            all.iter()
                .find(|f| f.attr("entry").and_then(|v| v.as_str()) == Some(entry))
                .and_then(|f| f.attr("schedule_seconds"))
                .and_then(|v| v.as_i64())
        };
        assert_eq!(period("a"), Some(900));
        assert_eq!(period("b"), Some(3600));
        assert_eq!(period("c"), None);
        assert_eq!(period("d"), Some(120));
        let countdowns: Vec<i64> = all
            .iter()
            .filter_map(|f| f.attr("countdown_seconds").and_then(|v| v.as_i64()))
            .collect();
        assert_eq!(countdowns, vec![7200, 3630]);
    }
}
