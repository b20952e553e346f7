//! One traversal per file: detectors subscribe to node kinds and are called on entering and
//! leaving those nodes; a kind-id → detector bitmask table per language makes the dispatch
//! one index per node.

use std::cell::{Cell, OnceCell};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use msgscan_lang::{Language, LineIndex, ParsedFile};
use serde_json::Value;
use tree_sitter::Node;

use crate::fact::{Fact, Role};
use crate::prefilter::{Candidate, Needles};

/// A detector: a family of messaging constructs in some languages.
pub trait Detector: Sync {
    /// A short stable name (`celery`, `node-events`).
    fn name(&self) -> &'static str;
    fn languages(&self) -> &'static [Language];
    /// The node kinds whose enter/leave this detector wants.
    fn kinds(&self, language: Language) -> &'static [&'static str];
    /// Literal tokens without which this detector cannot find anything in a file. A file
    /// that contains none of them (for every detector of its language) is not parsed.
    fn needles(&self) -> &'static [&'static str];
    /// The second stage of the prefilter, for files where one of [`Detector::needles`]
    /// occurs: `false` if the detector can tell from the text alone that it would find
    /// nothing (for example, a needed second word is missing). Must be sound: every file
    /// where the detector would emit a fact is admitted. The default admits every file.
    fn admits(&self, _file: &Candidate<'_>) -> bool {
        true
    }
    /// Files this detector reads whatever their text holds, by their path (a
    /// `celeryconfig.py` is settings through and through): they skip the needles and go
    /// straight to [`Detector::admits`].
    fn reads_path(&self, _path: &str) -> bool {
        false
    }
    /// Fresh per-file state.
    fn visitor<'t>(&self, file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't>;
}

/// The per-file state of one detector.
pub trait Visitor<'t> {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>);
    fn leave(&mut self, _node: Node<'t>, _cx: &mut FileCx<'t>) {}
    /// Called once after the traversal: emit facts that needed the whole file.
    fn finish(self: Box<Self>, _cx: &mut FileCx<'t>) {}
}

/// What a detector knows of the file it reads, and where it puts facts.
#[derive(Debug)]
pub struct FileCx<'t> {
    pub path: &'t str,
    pub language: Language,
    pub text: &'t str,
    /// Built on the first fact: most parsed files yield none.
    lines: OnceCell<LineIndex>,
    facts: Vec<Fact>,
    /// The nodes from the root of the tree being traversed down to the node being entered
    /// or left, kept by the traversal so that [`FileCx::parent`] and
    /// [`FileCx::ancestors`] cost O(1) per step on it. tree-sitter's own `Node::parent`
    /// searches down from the root (O(depth)), which made ancestor walks quadratic on
    /// deeply nested code.
    trail: Vec<Node<'t>>,
    /// Index on `trail` of the last parent returned: a walk up by repeated
    /// [`FileCx::parent`] calls finds each node there at once.
    hint: Cell<usize>,
}

impl<'t> FileCx<'t> {
    pub fn new(path: &'t str, language: Language, text: &'t str) -> Self {
        FileCx {
            path,
            language,
            text,
            lines: OnceCell::new(),
            facts: Vec::new(),
            trail: Vec::new(),
            hint: Cell::new(0),
        }
    }

    /// The parent of `node`. O(1) for the node being visited and its ancestors, cheap for
    /// nodes a little below it; other nodes fall back to `Node::parent`.
    pub fn parent(&self, node: Node<'t>) -> Option<Node<'t>> {
        self.parent_at(node).0
    }

    /// The ancestors of `node`, innermost first (not `node` itself).
    pub fn ancestors<'c>(&'c self, node: Node<'t>) -> Ancestors<'c, 't> {
        Ancestors {
            cx: self,
            node: Some(node),
            at: None,
        }
    }

    /// The parent of `node` and, when that parent is on the traversal path, its index there.
    fn parent_at(&self, node: Node<'t>) -> (Option<Node<'t>>, Option<usize>) {
        let hint = self.hint.get();
        let on_trail = if self.trail.get(hint).is_some_and(|n| n.id() == node.id()) {
            Some(hint)
        } else {
            self.trail.iter().rposition(|n| n.id() == node.id())
        };
        if let Some(i) = on_trail {
            let up = i.checked_sub(1);
            if let Some(j) = up {
                self.hint.set(j);
            }
            return (up.map(|j| self.trail[j]), up);
        }
        // Below the current node: descend from it towards `node` (each step picks the child
        // that contains `node`).
        if let Some(&top) = self.trail.last()
            && top.start_byte() <= node.start_byte()
            && node.end_byte() <= top.end_byte()
        {
            let mut above = top;
            let mut on_path = Some(self.trail.len() - 1);
            while let Some(child) = above.child_with_descendant(node) {
                if child.id() == node.id() {
                    return (Some(above), on_path);
                }
                above = child;
                on_path = None;
            }
        }
        (node.parent(), None)
    }

    /// The source text of a node.
    pub fn text(&self, node: Node<'_>) -> &'t str {
        self.text.get(node.byte_range()).unwrap_or_default()
    }

    /// Starts a fact located at `node`.
    pub fn fact(&self, kind: &str, transport: &str, role: Role, node: Node<'_>) -> FactBuilder {
        self.fact_range(kind, transport, role, node.byte_range())
    }

    /// Starts a fact located at a byte range of the file.
    pub fn fact_range(
        &self,
        kind: &str,
        transport: &str,
        role: Role,
        range: std::ops::Range<usize>,
    ) -> FactBuilder {
        let lines = self.lines.get_or_init(|| LineIndex::new(self.text));
        let start = lines.line_col(self.text, range.start);
        let end = lines.line_col(self.text, range.end);
        FactBuilder(Fact {
            id: String::new(),
            kind: kind.to_string(),
            language: self.language,
            path: self.path.to_string(),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            name: None,
            role,
            transport: transport.to_string(),
            attrs: BTreeMap::new(),
        })
    }

    pub fn emit(&mut self, fact: FactBuilder) {
        self.facts.push(fact.0);
    }

    pub fn into_facts(self) -> Vec<Fact> {
        self.facts
    }
}

/// The iterator of [`FileCx::ancestors`].
#[derive(Debug)]
pub struct Ancestors<'c, 't> {
    cx: &'c FileCx<'t>,
    node: Option<Node<'t>>,
    /// Index on the traversal path of `node`, once the walk has reached the path.
    at: Option<usize>,
}

impl<'t> Iterator for Ancestors<'_, 't> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        let node = self.node?;
        let (up, at) = match self.at {
            Some(i) => {
                let up = i.checked_sub(1);
                (up.map(|j| self.cx.trail[j]), up)
            }
            None => self.cx.parent_at(node),
        };
        self.node = up;
        self.at = at;
        up
    }
}

/// Builder returned by [`FileCx::fact`].
#[derive(Debug)]
pub struct FactBuilder(Fact);

impl FactBuilder {
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.0.name = Some(name.into());
        self
    }
    pub fn name_opt(mut self, name: Option<String>) -> Self {
        self.0.name = name;
        self
    }
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.attrs.insert(key.to_string(), value.into());
        self
    }
    pub fn attr_opt(self, key: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }
    pub fn attrs(mut self, attrs: impl IntoIterator<Item = (String, Value)>) -> Self {
        self.0.attrs.extend(attrs);
        self
    }
}

/// Kind-id → bitmask of detectors, per language.
struct Dispatch {
    masks: Vec<u64>,
    /// Masks for the grammar of embedded trees (PL/pgSQL in SQL files).
    embedded_masks: Vec<u64>,
    detectors: Vec<&'static dyn Detector>,
    needles: Needles,
}

fn dispatch(language: Language) -> &'static Dispatch {
    static TABLES: OnceLock<Vec<Dispatch>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        Language::ALL
            .iter()
            .map(|&lang| {
                let detectors: Vec<&'static dyn Detector> = crate::detectors()
                    .iter()
                    .copied()
                    .filter(|d| d.languages().contains(&lang))
                    .collect();
                let masks = kind_masks(&lang.grammar(), lang, &detectors);
                let embedded_masks = lang
                    .embedded_grammar()
                    .map(|g| kind_masks(&g, lang, &detectors))
                    .unwrap_or_default();
                let needles = Needles::new(&detectors);
                Dispatch {
                    masks,
                    embedded_masks,
                    detectors,
                    needles,
                }
            })
            .collect()
    });
    &tables[language as usize]
}

fn kind_masks(
    grammar: &tree_sitter::Language,
    lang: Language,
    detectors: &[&'static dyn Detector],
) -> Vec<u64> {
    let count = grammar.node_kind_count();
    let mut masks = vec![0u64; count + 1];
    for (i, det) in detectors.iter().enumerate() {
        for kind in det.kinds(lang) {
            // A kind can have several ids (aliases); mark every named id of that name.
            for id in 0..count as u16 {
                if grammar.node_kind_is_named(id) && grammar.node_kind_for_id(id) == Some(kind) {
                    masks[id as usize] |= 1 << i;
                }
            }
        }
    }
    masks
}

impl Dispatch {
    /// The detectors the prefilter lets run on `text`.
    fn active(&self, path: &str, text: &str) -> u64 {
        self.needles.active(&self.detectors, path, text)
    }
}

/// The detectors of a language that the prefilter lets run on one text (see
/// [`crate::prefilter`]): a detector runs on a file only if one of its needles occurs and
/// it admits the file, so a file with none yields no fact and need not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefiltered {
    language: Language,
    mask: u64,
}

impl Prefiltered {
    /// No detector could find anything: the file need not be parsed.
    pub fn is_empty(self) -> bool {
        self.mask == 0
    }
}

/// Runs the prefilter on `text`, the file at `path` (relative, `/`-separated), as
/// `language`.
pub fn prefilter(language: Language, path: &str, text: &str) -> Prefiltered {
    Prefiltered {
        language,
        mask: dispatch(language).active(path, text),
    }
}

/// Whether any detector of `language` could find something in `text` at `path`.
pub fn may_match(language: Language, path: &str, text: &str) -> bool {
    !prefilter(language, path, text).is_empty()
}

/// Runs every detector of the file's language that the prefilter admits over its trees in
/// one traversal and returns the facts, in emission order.
pub fn detect(path: &str, text: &str, parsed: &ParsedFile) -> Vec<Fact> {
    let active = prefilter(parsed.language, path, text);
    detect_until(path, text, parsed, active, None).unwrap_or_default()
}

/// Detection of one file ran past its deadline; its facts are dropped (visitors that
/// conclude at the end of a file would conclude from half of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectTimeout;

impl std::fmt::Display for DetectTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("detection ran past its time budget")
    }
}

impl std::error::Error for DetectTimeout {}

/// [`detect`] with the prefilter's answer for `text` (computed before parsing, so not
/// again) and a deadline, checked every few thousand nodes: a pathological file costs at
/// most about the budget, and the caller reports it.
pub fn detect_until(
    path: &str,
    text: &str,
    parsed: &ParsedFile,
    active: Prefiltered,
    deadline: Option<Instant>,
) -> Result<Vec<Fact>, DetectTimeout> {
    let table = dispatch(parsed.language);
    // An answer for another language's detectors would be meaningless: ask again.
    let mask = if active.language == parsed.language {
        active.mask
    } else {
        table.active(path, text)
    };
    run(table, mask, path, text, parsed, deadline)
}

/// Detection with every detector of the language, prefilter off: the reference the
/// prefilter is checked against (tests, fuzzers, `msgscan-bench prefilter-check`).
pub(crate) fn detect_unfiltered(path: &str, text: &str, parsed: &ParsedFile) -> Vec<Fact> {
    let table = dispatch(parsed.language);
    run(table, table.needles.all, path, text, parsed, None).unwrap_or_default()
}

/// Each detector of the file's language run alone with the prefilter off, by name, and
/// whether the prefilter admits it: what the prefilter's soundness and precision are
/// measured with.
pub(crate) fn detect_each(
    path: &str,
    text: &str,
    parsed: &ParsedFile,
) -> Vec<(&'static str, bool, Vec<Fact>)> {
    let table = dispatch(parsed.language);
    let active = table.active(path, text);
    (0..table.detectors.len())
        .map(|i| {
            let facts = run(table, 1 << i, path, text, parsed, None).unwrap_or_default();
            (table.detectors[i].name(), active & (1 << i) != 0, facts)
        })
        .collect()
}

fn run(
    table: &Dispatch,
    active_mask: u64,
    path: &str,
    text: &str,
    parsed: &ParsedFile,
    deadline: Option<Instant>,
) -> Result<Vec<Fact>, DetectTimeout> {
    let mut cx = FileCx::new(path, parsed.language, text);
    if active_mask == 0 {
        return Ok(Vec::new());
    }
    let mut visitors: Vec<Option<Box<dyn Visitor<'_> + '_>>> = (0..table.detectors.len())
        .map(|i| (active_mask & (1 << i) != 0).then(|| table.detectors[i].visitor(&cx)))
        .collect();

    let mut clock = Clock { deadline, nodes: 0 };
    traverse(
        parsed.tree.root_node(),
        &table.masks,
        active_mask,
        &mut visitors,
        &mut cx,
        &mut clock,
    )?;
    for embedded in &parsed.embedded {
        let root = embedded.tree.root_node();
        traverse(
            root,
            &table.embedded_masks,
            active_mask,
            &mut visitors,
            &mut cx,
            &mut clock,
        )?;
    }
    for v in visitors.into_iter().flatten() {
        v.finish(&mut cx);
    }
    Ok(cx.into_facts())
}

/// The deadline of one file's detection, read every `CHECK_EVERY` nodes.
struct Clock {
    deadline: Option<Instant>,
    nodes: u32,
}

impl Clock {
    const CHECK_EVERY: u32 = 4096;

    fn tick(&mut self) -> Result<(), DetectTimeout> {
        let due = self.nodes.is_multiple_of(Self::CHECK_EVERY);
        self.nodes = self.nodes.wrapping_add(1);
        match self.deadline {
            Some(d) if due && Instant::now() >= d => Err(DetectTimeout),
            _ => Ok(()),
        }
    }
}

/// Depth-first, iterative (no recursion: deeply nested input cannot overflow the stack).
fn traverse<'t>(
    root: Node<'t>,
    masks: &[u64],
    active_mask: u64,
    visitors: &mut [Option<Box<dyn Visitor<'t> + 't>>],
    cx: &mut FileCx<'t>,
    clock: &mut Clock,
) -> Result<(), DetectTimeout> {
    let mask_of =
        |node: Node<'_>| masks.get(node.kind_id() as usize).copied().unwrap_or(0) & active_mask;
    let mut cursor = root.walk();
    cx.trail.clear();
    loop {
        clock.tick()?;
        let node = cursor.node();
        cx.trail.push(node);
        call(mask_of(node), visitors, |v, cx| v.enter(node, cx), cx);
        if cursor.goto_first_child() {
            continue;
        }
        // Leave this node and every ancestor that has no next sibling.
        loop {
            let node = cursor.node();
            call(mask_of(node), visitors, |v, cx| v.leave(node, cx), cx);
            cx.trail.pop();
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return Ok(());
            }
        }
    }
}

fn call<'t>(
    mask: u64,
    visitors: &mut [Option<Box<dyn Visitor<'t> + 't>>],
    mut f: impl FnMut(&mut dyn Visitor<'t>, &mut FileCx<'t>),
    cx: &mut FileCx<'t>,
) {
    let mut m = mask;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        m &= m - 1;
        if let Some(Some(v)) = visitors.get_mut(i) {
            f(v.as_mut(), cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The detectors whose needles occur in `text`, searched one by one (the definition).
    fn naive(language: Language, text: &str) -> u64 {
        let table = dispatch(language);
        let mut mask = 0;
        for (i, d) in table.detectors.iter().enumerate() {
            if d.needles().is_empty() || d.needles().iter().any(|n| text.contains(n)) {
                mask |= 1 << i;
            }
        }
        mask
    }

    fn texts() -> Vec<(Language, String)> {
        let mut out = Vec::new();
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut stack = vec![fixtures];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let (Some(lang), Ok(text)) =
                    (Language::from_path(&path), std::fs::read_to_string(&path))
                {
                    out.push((lang, text));
                }
            }
        }
        assert!(out.len() > 10, "fixtures found: {}", out.len());
        // Every needle alone, inside other text, overlapping another needle, and cut short.
        for &lang in &Language::ALL {
            for d in dispatch(lang).detectors.iter() {
                for n in d.needles() {
                    out.push((lang, n.to_string()));
                    out.push((lang, format!("x = 1\n# {n}{n}\n")));
                    out.push((lang, n[..n.len() - 1].to_string()));
                    out.push((lang, format!("celery_{n}_EventEmitter")));
                }
            }
            out.push((lang, String::new()));
            out.push((lang, "def f():\n    return 1\n".into()));
        }
        out
    }

    #[test]
    fn prefilter_matches_the_needle_definition() {
        let mut hits = 0;
        for (lang, text) in texts() {
            let mask = dispatch(lang).needles.found(&text).0;
            assert_eq!(mask, naive(lang, &text), "{lang}: {text:?}");
            assert_eq!(
                may_match(lang, "f", &text),
                dispatch(lang).active("f", &text) != 0
            );
            assert_eq!(
                dispatch(lang).active("f", &text) & !mask,
                0,
                "admits only narrows"
            );
            hits += usize::from(mask != 0);
        }
        assert!(hits > 10, "the texts exercise the needles: {hits}");
    }

    #[test]
    fn overlapping_needles_are_all_found() {
        // `celery` and `task` of the Celery detector overlap in `celerytask`-like text;
        // a single-needle text must activate exactly the detectors that declared it.
        for &lang in &Language::ALL {
            let table = dispatch(lang);
            for (i, d) in table.detectors.iter().enumerate() {
                for n in d.needles() {
                    assert_ne!(table.needles.found(n).0 & (1 << i), 0, "{lang}: {n}");
                }
            }
        }
    }

    /// Checks `FileCx::parent` and `FileCx::ancestors` against tree-sitter's own
    /// `Node::parent` for every node, for a node two levels below it, and in `leave`.
    struct ParentCheck(std::rc::Rc<Cell<usize>>);

    impl ParentCheck {
        fn check<'t>(&self, node: Node<'t>, cx: &FileCx<'t>) {
            let naive: Vec<Node<'t>> =
                std::iter::successors(node.parent(), |n| n.parent()).collect();
            assert_eq!(cx.parent(node), node.parent(), "{node:?}");
            assert_eq!(cx.ancestors(node).collect::<Vec<_>>(), naive, "{node:?}");
            if let Some(below) = node.named_child(0).and_then(|c| c.named_child(0)) {
                assert_eq!(cx.parent(below), below.parent(), "{below:?}");
                assert_eq!(cx.ancestors(below).nth(2), node.parent(), "{below:?}");
            }
            self.0.set(self.0.get() + 1);
        }
    }

    impl<'t> Visitor<'t> for ParentCheck {
        fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
            self.check(node, cx);
        }
        fn leave(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
            self.check(node, cx);
        }
    }

    #[test]
    fn parents_from_the_trail_are_tree_sitter_parents() {
        let mut parser = msgscan_lang::FileParser::new(std::time::Duration::from_secs(10));
        let checked = std::rc::Rc::new(Cell::new(0));
        for (lang, text) in texts().into_iter().filter(|(_, t)| t.len() > 200).take(60) {
            let parsed = parser.parse(lang, &text).unwrap();
            let mut cx = FileCx::new("f", lang, &text);
            let masks = vec![1u64; lang.grammar().node_kind_count() + 1];
            let mut visitors: Vec<Option<Box<dyn Visitor<'_> + '_>>> =
                vec![Some(Box::new(ParentCheck(checked.clone())))];
            let mut clock = Clock {
                deadline: None,
                nodes: 0,
            };
            let root = parsed.tree.root_node();
            traverse(root, &masks, 1, &mut visitors, &mut cx, &mut clock).unwrap();
            // After the traversal the trail is empty: tree-sitter answers.
            assert_eq!(
                cx.ancestors(root.child(0).unwrap_or(root)).last(),
                root.child(0).map(|_| root)
            );
        }
        assert!(checked.get() > 10_000, "nodes checked: {}", checked.get());
    }
}
