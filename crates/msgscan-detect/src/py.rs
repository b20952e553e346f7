//! Helpers over tree-sitter-python nodes.

use serde_json::{Map, Value};
use tree_sitter::Node;

use crate::walk::Field;

use crate::engine::FileCx;

/// The content of a plain string literal (no f-string interpolation), concatenated strings
/// included. `None` for anything else.
pub fn string_value(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    match node.kind() {
        "string" => {
            let mut out = String::new();
            let mut c = node.walk();
            for child in node.children(&mut c) {
                match child.kind() {
                    "string_start" | "string_end" => {}
                    "string_content" | "escape_sequence" => out.push_str(cx.text(child)),
                    _ => return None, // interpolation
                }
            }
            Some(out)
        }
        "concatenated_string" => {
            let mut out = String::new();
            let mut c = node.walk();
            for child in node.named_children(&mut c) {
                out.push_str(&string_value(child, cx)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// A literal as a JSON value: strings, numbers, booleans, `None` → null, lists/tuples/sets
/// → arrays, dicts with string keys → objects; anything else `{"expr": "<source>"}`.
pub fn value(node: Node<'_>, cx: &FileCx<'_>) -> Value {
    literal(node, cx).unwrap_or_else(|| expr(cx.text(node)))
}

pub fn expr(text: &str) -> Value {
    let mut m = Map::new();
    m.insert("expr".into(), Value::String(compact(text)));
    Value::Object(m)
}

fn compact(text: &str) -> String {
    let mut s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn literal(node: Node<'_>, cx: &FileCx<'_>) -> Option<Value> {
    Some(match node.kind() {
        "string" | "concatenated_string" => Value::String(string_value(node, cx)?),
        "integer" => {
            let t = cx.text(node).replace('_', "");
            Value::from(t.parse::<i64>().ok()?)
        }
        "float" => serde_json::Number::from_f64(cx.text(node).replace('_', "").parse().ok()?)
            .map(Value::Number)?,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "none" => Value::Null,
        "unary_operator" => {
            let operand = node.field("argument")?;
            let op = node.field("operator")?;
            match (cx.text(op), literal(operand, cx)?) {
                ("-", Value::Number(n)) => {
                    if let Some(i) = n.as_i64() {
                        Value::from(-i)
                    } else {
                        Value::from(-n.as_f64()?)
                    }
                }
                _ => return None,
            }
        }
        "list" | "tuple" | "set" => {
            let mut c = node.walk();
            Value::Array(
                node.named_children(&mut c)
                    .filter(|n| n.kind() != "comment")
                    .map(|n| value(n, cx))
                    .collect(),
            )
        }
        "parenthesized_expression" => literal(node.named_child(0)?, cx)?,
        "dictionary" => {
            let mut m = Map::new();
            let mut c = node.walk();
            for pair in node.named_children(&mut c) {
                if pair.kind() != "pair" {
                    return None;
                }
                let key = string_value(pair.field("key")?, cx)?;
                m.insert(key, value(pair.field("value")?, cx));
            }
            Value::Object(m)
        }
        _ => return None,
    })
}

/// A list of names from a tuple/list of expressions (`(ConnectionError, requests.Timeout)`)
/// or a single expression.
pub fn name_list(node: Node<'_>, cx: &FileCx<'_>) -> Value {
    match node.kind() {
        "tuple" | "list" | "set" | "parenthesized_expression" => {
            let mut c = node.walk();
            Value::Array(
                node.named_children(&mut c)
                    .filter(|n| n.kind() != "comment")
                    .map(|n| Value::String(compact(cx.text(n))))
                    .collect(),
            )
        }
        _ => Value::Array(vec![Value::String(compact(cx.text(node)))]),
    }
}

/// Keyword arguments of a call: `(name, value node)`.
pub fn kwargs<'t>(call: Node<'t>) -> Vec<(Node<'t>, Node<'t>)> {
    let Some(args) = call.field("arguments") else {
        return Vec::new();
    };
    let mut c = args.walk();
    args.named_children(&mut c)
        .filter(|a| a.kind() == "keyword_argument")
        .filter_map(|a| Some((a.field("name")?, a.field("value")?)))
        .collect()
}

/// Positional arguments of a call.
pub fn positional<'t>(call: Node<'t>) -> Vec<Node<'t>> {
    let Some(args) = call.field("arguments") else {
        return Vec::new();
    };
    let mut c = args.walk();
    args.named_children(&mut c)
        .filter(|a| {
            !matches!(
                a.kind(),
                "keyword_argument" | "comment" | "list_splat" | "dictionary_splat"
            )
        })
        .collect()
}

pub fn kwarg<'t>(call: Node<'t>, name: &str, cx: &FileCx<'_>) -> Option<Node<'t>> {
    kwargs(call)
        .into_iter()
        .find(|(k, _)| cx.text(*k) == name)
        .map(|(_, v)| v)
}

/// The names a Python import statement binds: `(imported name as written, local name)`.
/// `import a.b` binds `a`; `import a.b as c` and `from m import a as c` bind `c`;
/// `from m import a` binds `a`.
pub fn import_bindings<'s>(node: Node<'_>, cx: &FileCx<'s>) -> Vec<(&'s str, &'s str)> {
    let from = node.field("module_name").is_some();
    let mut out = Vec::new();
    let mut c = node.walk();
    for name in node.children_by_field_name("name", &mut c) {
        if name.kind() != "aliased_import" {
            let t = cx.text(name);
            out.push((
                t,
                if from {
                    t
                } else {
                    t.split('.').next().unwrap_or(t)
                },
            ));
        } else if let (Some(n), Some(a)) = (name.field("name"), name.field("alias")) {
            out.push((cx.text(n), cx.text(a)));
        }
    }
    out
}

/// `a.b.c` as a list of identifiers; `None` if the expression is not a plain dotted name.
pub fn dotted<'s>(node: Node<'_>, cx: &FileCx<'s>) -> Option<Vec<&'s str>> {
    match node.kind() {
        "identifier" => Some(vec![cx.text(node)]),
        "attribute" => {
            let mut parts = dotted(node.field("object")?, cx)?;
            parts.push(cx.text(node.field("attribute")?));
            Some(parts)
        }
        _ => None,
    }
}

/// Whether `node` is at module level (its statement's parent is the module).
pub fn is_module_level<'t>(node: Node<'t>, cx: &FileCx<'t>) -> bool {
    let mut n = node;
    while let Some(p) = cx.parent(n) {
        match p.kind() {
            "module" => return true,
            "expression_statement" | "assignment" | "decorated_definition" => n = p,
            _ => return false,
        }
    }
    false
}
