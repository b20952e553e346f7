//! Helpers over tree-sitter-javascript / -typescript nodes (the grammars share these kinds).

use tree_sitter::Node;

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
    let Some(args) = call.child_by_field_name("arguments") else {
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
            let obj = member_path(node.child_by_field_name("object")?, cx)?;
            let prop = node.child_by_field_name("property")?;
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
                let k = pair.child_by_field_name("key")?;
                let name = string_value(k, cx).unwrap_or_else(|| cx.text(k).to_string());
                if name == key {
                    return pair.child_by_field_name("value");
                }
            }
            "shorthand_property_identifier" if cx.text(pair) == key => return Some(pair),
            _ => {}
        }
    }
    None
}
