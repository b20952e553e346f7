//! Helpers over tree-sitter-javascript / -typescript nodes (the grammars share these kinds).

use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::FileCx;

/// The content of a string literal, or of a template string without substitutions.
pub fn string_value(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    match node.kind() {
        "string" => {
            let t = cx.text(node);
            Some(t.get(1..t.len().saturating_sub(1))?.to_string())
        }
        "template_string" => {
            let mut c = node.walk();
            if node
                .named_children(&mut c)
                .any(|n| n.kind() == "template_substitution")
            {
                return None;
            }
            let t = cx.text(node);
            Some(t.get(1..t.len().saturating_sub(1))?.to_string())
        }
        "parenthesized_expression" => string_value(node.named_child(0)?, cx),
        _ => None,
    }
}

/// Arguments of a call or `new` expression, comments skipped.
pub fn arguments<'t>(call: Node<'t>) -> Vec<Node<'t>> {
    let Some(args) = call.field("arguments") else {
        return Vec::new();
    };
    let mut c = args.walk();
    args.named_children(&mut c)
        .filter(|a| a.kind() != "comment")
        .collect()
}

/// Strips TypeScript wrappers that do not change the value: `x as T`, `x!`, `<T>x`,
/// `x satisfies T`, parentheses.
pub fn unwrap_expr(mut node: Node<'_>) -> Node<'_> {
    loop {
        match node.kind() {
            "as_expression"
            | "non_null_expression"
            | "type_assertion"
            | "satisfies_expression"
            | "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => node = inner,
                None => return node,
            },
            "await_expression" => return node,
            _ => return node,
        }
    }
}

/// `a.b.c` (also `this.a`) as text, if the expression is a plain member chain.
pub fn member_path(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let node = unwrap_expr(node);
    match node.kind() {
        "identifier" | "this" | "property_identifier" => Some(cx.text(node).to_string()),
        "member_expression" => {
            let obj = member_path(node.field("object")?, cx)?;
            let prop = node.field("property")?;
            if prop.kind() == "private_property_identifier" || prop.kind() == "property_identifier"
            {
                Some(format!("{obj}.{}", cx.text(prop)))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Whether a function node is declared `async`.
pub fn is_async(func: Node<'_>) -> bool {
    let mut c = func.walk();

    func.children(&mut c).any(|n| n.kind() == "async")
}

/// Function-like node kinds (a new scope for `this` and for `await`).
pub const FUNCTION_KINDS: &[&str] = &[
    "function_expression",
    "function_declaration",
    "arrow_function",
    "method_definition",
    "generator_function",
    "generator_function_declaration",
    "function",
];

pub fn is_function(node: Node<'_>) -> bool {
    FUNCTION_KINDS.contains(&node.kind())
}

/// The value of a property `key` in an object literal.
pub fn object_property<'t>(obj: Node<'t>, key: &str, cx: &FileCx<'_>) -> Option<Node<'t>> {
    if obj.kind() != "object" {
        return None;
    }
    let mut c = obj.walk();
    for pair in obj.named_children(&mut c) {
        match pair.kind() {
            "pair" => {
                let k = pair.field("key")?;
                let name = string_value(k, cx).unwrap_or_else(|| cx.text(k).to_string());
                if name == key {
                    return pair.field("value");
                }
            }
            "shorthand_property_identifier" if cx.text(pair) == key => return Some(pair),
            _ => {}
        }
    }
    None
}

/// The name a `new` or call expression is bound to: `const x = new E()`, `this.x = new E()`,
/// a class field `x = new E()` (as `this.x`).
pub fn binding_of(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        match p.kind() {
            "as_expression"
            | "non_null_expression"
            | "parenthesized_expression"
            | "satisfies_expression"
            | "await_expression" => n = p,
            "variable_declarator" => {
                return p
                    .field("name")
                    .filter(|x| x.kind() == "identifier")
                    .map(|x| cx.text(x).to_string());
            }
            "assignment_expression" => {
                return p.field("left").and_then(|l| member_path(l, cx));
            }
            "public_field_definition" | "field_definition" => {
                let name = p.field("name").or_else(|| p.field("property"))?;
                return Some(format!("this.{}", cx.text(name)));
            }
            _ => return None,
        }
    }
    None
}

/// The names of a function's simple parameters, in order (`_` for patterns).
pub fn param_names(func: Node<'_>, cx: &FileCx<'_>) -> Vec<String> {
    if let Some(p) = func.field("parameter") {
        return vec![cx.text(p).to_string()];
    }
    let Some(params) = func.field("parameters") else {
        return Vec::new();
    };
    let mut c = params.walk();
    params
        .named_children(&mut c)
        .filter(|p| p.kind() != "comment")
        .map(|p| {
            let p = match p.kind() {
                "required_parameter" | "optional_parameter" => p.field("pattern").unwrap_or(p),
                "assignment_pattern" => p.field("left").unwrap_or(p),
                _ => p,
            };
            if p.kind() == "identifier" {
                cx.text(p).to_string()
            } else {
                "_".to_string()
            }
        })
        .collect()
}

const HTTP_VERBS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "del", "all", "head", "options",
];

/// What kind of per-request / per-message callback a function is, judging by the call it is
/// passed to: `route` (`app.get('/path', fn)`, `router.route('/x').post(fn)`, middleware
/// `app.use((req, res, next) => ...)`), `server` (`http.createServer(fn)`), `request`,
/// `connection` or `message` (`x.on('request' | 'connection' | 'message' | 'data', fn)`,
/// `channel.consume(q, fn)`, `eachMessage: fn`), `interval` (`setInterval(fn)`).
pub fn handler_kind(func: Node<'_>, cx: &FileCx<'_>) -> Option<&'static str> {
    let parent = cx.parent(func)?;
    if parent.kind() == "pair" {
        let key = parent.field("key").map(|k| cx.text(k))?;
        return match key {
            "eachMessage" | "eachBatch" => Some("message"),
            _ => None,
        };
    }
    if parent.kind() != "arguments" {
        return None;
    }
    let call = cx
        .parent(parent)
        .filter(|c| c.kind() == "call_expression")?;
    let callee = unwrap_expr(call.field("function")?);
    let args = arguments(call);
    let is_last = args.last().is_some_and(|a| a.id() == func.id());
    match callee.kind() {
        "identifier" => match cx.text(callee) {
            "setInterval" => Some("interval"),
            "createServer" => Some("server"),
            _ => None,
        },
        "member_expression" => {
            let prop = cx.text(callee.field("property")?);
            let object = callee.field("object").map(unwrap_expr);
            let first = args.first().copied();
            let first_str = first.and_then(|a| string_value(a, cx));
            if HTTP_VERBS.contains(&prop) {
                let path_first = first_str
                    .as_deref()
                    .is_some_and(|s| s.starts_with('/') || s == "*")
                    || first.is_some_and(|a| a.kind() == "template_string");
                let on_route = object.is_some_and(|o| {
                    o.kind() == "call_expression"
                        && o.field("function")
                            .and_then(|f| f.field("property"))
                            .is_some_and(|p| cx.text(p) == "route")
                });
                if (path_first && first.is_some_and(|a| a.id() != func.id())) || on_route {
                    return Some("route");
                }
                return None;
            }
            match prop {
                "use" if param_names(func, cx).len() >= 2 && is_last => {
                    let p = param_names(func, cx);
                    (p[0].starts_with("req") || p[0] == "ctx" || p[0] == "_").then_some("route")
                }
                "createServer" => Some("server"),
                "setInterval" => Some("interval"),
                "consume" if is_last && args.len() >= 2 => Some("message"),
                "on" | "once" | "addListener" | "prependListener" => match first_str.as_deref()? {
                    "request" => Some("request"),
                    "connection" | "connect" => Some("connection"),
                    "message" | "data" | "upgrade" | "stream" => Some("message"),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The enclosing per-request / per-message handlers of a node, innermost first.
pub fn enclosing_handlers<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Vec<(&'static str, Node<'t>)> {
    let mut out = Vec::new();
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        if is_function(p)
            && let Some(kind) = handler_kind(p, cx)
        {
            out.push((kind, p));
        }
        n = p;
    }
    out
}

/// Whether a node runs once per iteration of a loop of its own function: inside a `for`,
/// `while` or `do` body, or in a callback of `forEach`/`map`/... (not across other function
/// boundaries).
pub fn loop_of<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Option<Node<'t>> {
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        match p.kind() {
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                // The initialiser / iterated expression of a loop runs once.
                let in_body = p.field("body").is_some_and(|b| b.id() == n.id());
                if in_body {
                    return Some(p);
                }
            }
            _ if is_function(p) => {
                let call = cx
                    .parent(p)
                    .filter(|a| a.kind() == "arguments")
                    .and_then(|a| cx.parent(a))
                    .filter(|c| c.kind() == "call_expression")?;
                let prop = call
                    .field("function")
                    .and_then(|f| f.field("property"))
                    .map(|x| cx.text(x))?;
                return matches!(
                    prop,
                    "forEach" | "map" | "flatMap" | "filter" | "reduce" | "some" | "every"
                )
                .then_some(call);
            }
            _ => {}
        }
        n = p;
    }
    None
}

/// The innermost function enclosing a node.
pub fn enclosing_function<'t>(node: Node<'t>, cx: &FileCx<'t>) -> Option<Node<'t>> {
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        if is_function(p) {
            return Some(p);
        }
        n = p;
    }
    None
}

/// Whether `inner` lies within `outer` (byte ranges).
pub fn within(inner: &std::ops::Range<usize>, outer: &std::ops::Range<usize>) -> bool {
    inner.start >= outer.start && inner.end <= outer.end
}

/// The bindings an ES `import` statement makes: `(local name, imported name)`, where the
/// imported name is `None` for a default import, `Some("*")` for a namespace import and
/// `Some(name)` for a named one (`import { a as b }` gives `("b", Some("a"))`).
pub fn import_bindings<'s>(node: Node<'_>, cx: &FileCx<'s>) -> Vec<(&'s str, Option<&'s str>)> {
    let mut out = Vec::new();
    let mut c = node.walk();
    for clause in node
        .named_children(&mut c)
        .filter(|n| n.kind() == "import_clause")
    {
        let mut cc = clause.walk();
        for part in clause.named_children(&mut cc) {
            match part.kind() {
                "identifier" => out.push((cx.text(part), None)),
                "namespace_import" => {
                    if let Some(id) = part.named_child(0) {
                        out.push((cx.text(id), Some("*")));
                    }
                }
                "named_imports" => {
                    let mut sc = part.walk();
                    for spec in part
                        .named_children(&mut sc)
                        .filter(|s| s.kind() == "import_specifier")
                    {
                        let Some(name) = spec.field("name") else {
                            continue;
                        };
                        let local = spec.field("alias").unwrap_or(name);
                        out.push((cx.text(local), Some(cx.text(name))));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The names an object destructuring pattern binds: `(local, key)` for `{ a }` (`("a",
/// "a")`) and `{ a: b }` (`("b", "a")`).
pub fn destructured<'s>(pattern: Node<'_>, cx: &FileCx<'s>) -> Vec<(&'s str, &'s str)> {
    let mut out = Vec::new();
    let mut c = pattern.walk();
    for p in pattern.named_children(&mut c) {
        match p.kind() {
            "shorthand_property_identifier_pattern" => out.push((cx.text(p), cx.text(p))),
            "pair_pattern" => {
                if let (Some(k), Some(v)) = (p.field("key"), p.field("value")) {
                    out.push((cx.text(v), cx.text(k)));
                }
            }
            _ => {}
        }
    }
    out
}
