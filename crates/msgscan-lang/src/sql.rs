//! Finding the PL/pgSQL bodies of `CREATE FUNCTION` / `CREATE PROCEDURE` / `DO` statements.
//!
//! Only top-level statements are inspected, and within them only the option list, so this
//! costs a few node visits per function, not a second traversal of the file.

use tree_sitter::{Node, Point};

pub(crate) struct Body {
    pub function: Option<String>,
    pub range: std::ops::Range<usize>,
    pub start_point: Point,
    pub end_point: Point,
}

pub(crate) fn plpgsql_bodies(root: Node<'_>, source: &str) -> Vec<Body> {
    let mut out = Vec::new();
    let mut cursor = root.walk();
    for top in root.named_children(&mut cursor) {
        let Some(stmt) = top.named_child(0) else {
            continue;
        };
        let Some(inner) = stmt.named_child(0) else {
            continue;
        };
        match inner.kind() {
            "CreateFunctionStmt" => {
                if let Some(body) = function_body(inner, source) {
                    out.push(body);
                }
            }
            "DoStmt" => {
                if let Some(body) = do_body(inner, source) {
                    out.push(body);
                }
            }
            _ => {}
        }
    }
    out
}

fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    source.get(node.byte_range()).unwrap_or_default()
}

/// The first descendant of `node` of kind `kind` (iterative, bounded by `node`).
pub(crate) fn find_descendant<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    loop {
        let n = cursor.node();
        if n.kind() == kind && n.id() != node.id() {
            return Some(n);
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == node.id() {
                return None;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

fn function_body(stmt: Node<'_>, source: &str) -> Option<Body> {
    let name = child_of_kind(stmt, "func_name").map(|n| compact(text(n, source)));
    let mut language = None;
    let mut body = None;
    let opts = child_of_kind(stmt, "opt_createfunc_opt_list")?;
    let mut stack = vec![opts];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "createfunc_opt_item" => {
                if child_of_kind(node, "kw_language").is_some() {
                    language = node.named_child(1).map(|n| text(n, source).to_string());
                } else if let Some(func_as) = child_of_kind(node, "func_as") {
                    body = find_descendant(func_as, "dollar_quoted_string");
                }
            }
            "opt_createfunc_opt_list" | "createfunc_opt_list" => {
                let mut c = node.walk();
                stack.extend(node.named_children(&mut c));
            }
            _ => {}
        }
    }
    let language = language?;
    if !unquote(&language).eq_ignore_ascii_case("plpgsql") {
        return None;
    }
    dollar_body(body?, source, name)
}

fn do_body(stmt: Node<'_>, source: &str) -> Option<Body> {
    let opts = child_of_kind(stmt, "dostmt_opt_list")?;
    let mut body = None;
    let mut c = opts.walk();
    for item in opts.named_children(&mut c) {
        let item_text = text(item, source);
        if item_text.len() > 8 && item_text[..8].eq_ignore_ascii_case("language") {
            if !unquote(item_text[8..].trim()).eq_ignore_ascii_case("plpgsql") {
                return None;
            }
        } else if body.is_none() {
            body = find_descendant(item, "dollar_quoted_string");
        }
    }
    dollar_body(body?, source, None)
}

fn dollar_body(node: Node<'_>, source: &str, function: Option<String>) -> Option<Body> {
    let full = text(node, source);
    // `$tag$ ... $tag$`: the tag is everything up to the second `$`.
    let tag_len = full.get(1..)?.find('$')? + 2;
    if full.len() < 2 * tag_len {
        return None;
    }
    let start = node.start_byte() + tag_len;
    let end = node.end_byte() - tag_len;
    Some(Body {
        function,
        range: start..end,
        start_point: point_at(source, start, node.start_position(), node.start_byte()),
        end_point: point_at(source, end, node.start_position(), node.start_byte()),
    })
}

/// The point of byte `target`, counting from a known point at byte `from`.
fn point_at(source: &str, target: usize, mut point: Point, from: usize) -> Point {
    for b in source.as_bytes()[from..target].iter() {
        if *b == b'\n' {
            point.row += 1;
            point.column = 0;
        } else {
            point.column += 1;
        }
    }
    point
}

fn child_of_kind<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut c = node.walk();
    node.named_children(&mut c).find(|n| n.kind() == kind)
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '\'' || c == '"')
}

fn compact(s: &str) -> String {
    s.split_whitespace().collect()
}
