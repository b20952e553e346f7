//! Iteration over the nodes of a subtree without recursion.

use tree_sitter::{Node, TreeCursor};

use crate::FileCx;

/// Every node of the subtree rooted at `root` (itself first), depth-first, in source order.
pub(crate) fn descendants(root: Node<'_>) -> Descendants<'_> {
    Descendants {
        cursor: root.walk(),
        started: false,
        done: false,
    }
}

pub(crate) struct Descendants<'t> {
    cursor: TreeCursor<'t>,
    started: bool,
    done: bool,
}

impl<'t> Iterator for Descendants<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(self.cursor.node());
        }
        if self.cursor.goto_first_child() {
            return Some(self.cursor.node());
        }
        loop {
            if self.cursor.goto_next_sibling() {
                return Some(self.cursor.node());
            }
            if !self.cursor.goto_parent() {
                self.done = true;
                return None;
            }
        }
    }
}

/// The innermost function (Python `function_definition`, or a JS function-like node) that
/// contains `node`, not counting `node` itself.
pub(crate) fn enclosing_function<'t>(
    node: Node<'t>,
    kinds: &[&str],
    cx: &FileCx<'t>,
) -> Option<Node<'t>> {
    cx.ancestors(node).find(|p| kinds.contains(&p.kind()))
}
