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

/// `Node::child_by_field_name` with the name → field-id lookup cached. tree-sitter resolves
/// a field name by comparing it with the grammar's field names one by one on every call;
/// detectors ask for fields on most nodes they see, so that lookup alone was ~5% of a scan.
pub(crate) trait Field<'t> {
    /// The child in field `name` (a literal), as `child_by_field_name`.
    fn field(&self, name: &'static str) -> Option<Node<'t>>;
}

impl<'t> Field<'t> for Node<'t> {
    #[inline]
    fn field(&self, name: &'static str) -> Option<Node<'t>> {
        let id = field_id(&self.language(), name)?;
        self.child_by_field_id(id)
    }
}

/// One cached lookup: grammar, name (address and length of the literal), field id (0: none).
#[derive(Clone, Copy, Default)]
struct FieldEntry {
    grammar: u64,
    name: usize,
    len: usize,
    id: u16,
}

const FIELD_SLOTS: usize = 512;

thread_local! {
    static FIELDS: std::cell::RefCell<Vec<FieldEntry>> =
        std::cell::RefCell::new(vec![FieldEntry::default(); FIELD_SLOTS]);
}

/// The id of field `name` in `grammar`, from a small direct-mapped per-thread cache keyed by
/// the grammar's and the literal's addresses (a collision only costs a fresh lookup).
fn field_id(grammar: &tree_sitter::Language, name: &'static str) -> Option<u16> {
    use std::hash::{Hash, Hasher};
    /// Keeps the address a `Language` hashes (its pointer).
    #[derive(Default)]
    struct Address(u64);
    impl Hasher for Address {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(b);
            }
        }
        fn write_usize(&mut self, n: usize) {
            self.0 ^= n as u64;
        }
    }
    let mut h = Address::default();
    grammar.hash(&mut h);
    let key = h.finish();
    let ptr = name.as_ptr() as usize;
    let slot = ((ptr >> 3) ^ (key as usize >> 4) ^ name.len()) % FIELD_SLOTS;
    let id = FIELDS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let e = &mut cache[slot];
        if e.grammar != key || e.name != ptr || e.len != name.len() {
            *e = FieldEntry {
                grammar: key,
                name: ptr,
                len: name.len(),
                id: grammar.field_id_for_name(name).map_or(0, |id| id.get()),
            };
        }
        e.id
    });
    (id != 0).then_some(id)
}
