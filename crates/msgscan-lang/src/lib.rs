//! Languages, grammars and parsing for msgscan.
//!
//! One [`Language`] per grammar msgscan reads, [`Language::from_path`] to pick one from a
//! file name, and [`FileParser`], which owns one tree-sitter parser per language (keep one
//! per thread) and turns source text into a [`ParsedFile`]. For SQL the parser also re-reads
//! the dollar-quoted bodies of `LANGUAGE plpgsql` functions with the PL/pgSQL grammar; those
//! trees keep file positions because they are parsed with
//! [`tree_sitter::Parser::set_included_ranges`].

use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tree_sitter::{Node, Parser, Range, Tree};

mod line_index;
mod sql;

pub use line_index::{LineCol, LineIndex};
pub use tree_sitter::Point;

/// A language msgscan can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Sql,
    /// TOML, read only for Supabase's `supabase/config.toml` (see [`Language::from_path`]).
    Toml,
}

impl Language {
    /// Every language, in a fixed order.
    pub const ALL: [Language; 6] = [
        Language::Python,
        Language::JavaScript,
        Language::TypeScript,
        Language::Tsx,
        Language::Sql,
        Language::Toml,
    ];

    /// The language of a file, from its extension. `None` for files msgscan does not read.
    /// TOML files are read only when they are a Supabase project's configuration,
    /// `supabase/config.toml`; every other `.toml` file is not analysed.
    pub fn from_path(path: &Path) -> Option<Language> {
        if path.file_name().is_some_and(|n| n == "config.toml") {
            let in_supabase = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "supabase");
            return in_supabase.then_some(Language::Toml);
        }
        let ext = path.extension()?.to_str()?;
        Some(match ext {
            "py" | "pyi" => Language::Python,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "sql" => Language::Sql,
            _ => return None,
        })
    }

    /// The stable lower-case name used in reports (`python`, `javascript`, `typescript`,
    /// `tsx`, `sql`).
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::Sql => "sql",
            Language::Toml => "toml",
        }
    }

    /// Whether the language belongs to the JavaScript family (JS, TS, TSX).
    pub fn is_js_family(self) -> bool {
        matches!(
            self,
            Language::JavaScript | Language::TypeScript | Language::Tsx
        )
    }

    /// The tree-sitter grammar for this language.
    pub fn grammar(self) -> tree_sitter::Language {
        match self {
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Language::Sql => tree_sitter_postgres::LANGUAGE.into(),
            Language::Toml => tree_sitter_toml_ng::LANGUAGE.into(),
        }
    }

    /// The grammar of trees embedded in files of this language (PL/pgSQL bodies in SQL).
    pub fn embedded_grammar(self) -> Option<tree_sitter::Language> {
        match self {
            Language::Sql => Some(tree_sitter_postgres::LANGUAGE_PLPGSQL.into()),
            _ => None,
        }
    }

    /// The comment prefixes of this language's line comments.
    pub fn line_comment(self) -> &'static str {
        match self {
            Language::Python | Language::Toml => "#",
            Language::Sql => "--",
            _ => "//",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a file could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The parse ran past its time budget and was cancelled.
    Timeout(Duration),
    /// tree-sitter returned no tree (it should not happen with a grammar set).
    NoTree,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Timeout(d) => write!(
                f,
                "parsing took longer than the {} ms budget and was cancelled",
                d.as_millis()
            ),
            ParseError::NoTree => f.write_str("the parser returned no syntax tree"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A PL/pgSQL function body, parsed in place inside a SQL file.
#[derive(Debug)]
pub struct EmbeddedTree {
    /// The PL/pgSQL tree; its byte offsets and points are those of the enclosing file.
    pub tree: Tree,
    /// The name of the function whose body this is, as written (may be schema-qualified).
    pub function: Option<String>,
    /// The byte range of the body text (inside the dollar quotes).
    pub body: std::ops::Range<usize>,
}

/// The syntax trees of one file.
#[derive(Debug)]
pub struct ParsedFile {
    pub language: Language,
    pub tree: Tree,
    /// PL/pgSQL function bodies (SQL files only).
    pub embedded: Vec<EmbeddedTree>,
}

impl ParsedFile {
    /// The first syntax error in the main tree, as a 0-based (row, column) point, if any.
    pub fn first_error(&self) -> Option<tree_sitter::Point> {
        first_error(self.tree.root_node())
    }
}

/// Finds the first ERROR or MISSING node in document order without recursion.
pub fn first_error(root: Node<'_>) -> Option<tree_sitter::Point> {
    if !root.has_error() {
        return None;
    }
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            return Some(node.start_position());
        }
        // Descend only into subtrees that contain an error.
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return Some(root.start_position());
            }
        }
    }
}

/// One tree-sitter parser per language, reused across files. Not `Sync`: keep one per
/// thread (for example in rayon's `map_init`).
pub struct FileParser {
    parsers: [Option<Parser>; 6],
    plpgsql: Option<Parser>,
    budget: Duration,
}

impl fmt::Debug for FileParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileParser")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl FileParser {
    /// A parser set whose every parse is cancelled after `budget` of wall time.
    pub fn new(budget: Duration) -> Self {
        FileParser {
            parsers: Default::default(),
            plpgsql: None,
            budget,
        }
    }

    fn parser(
        slot: &mut Option<Parser>,
        grammar: impl FnOnce() -> tree_sitter::Language,
    ) -> &mut Parser {
        slot.get_or_insert_with(|| {
            let mut parser = Parser::new();
            // Our grammars are generated for ABI versions this tree-sitter supports; a
            // failure here is a build misconfiguration caught by every test.
            #[allow(clippy::expect_used)]
            parser
                .set_language(&grammar())
                .expect("grammar ABI is compatible with tree-sitter");
            parser
        })
    }

    /// Parses `source` as `language`. Syntax errors are not failures (the tree holds ERROR
    /// nodes; see [`ParsedFile::first_error`]); only a cancelled parse is.
    pub fn parse(&mut self, language: Language, source: &str) -> Result<ParsedFile, ParseError> {
        let deadline = Instant::now() + self.budget;
        let slot = &mut self.parsers[language as usize];
        let parser = Self::parser(slot, || language.grammar());
        let tree = parse_with_deadline(parser, source, deadline, self.budget)?;
        let mut embedded = Vec::new();
        if language == Language::Sql {
            let bodies = sql::plpgsql_bodies(tree.root_node(), source);
            if !bodies.is_empty() {
                let parser = Self::parser(&mut self.plpgsql, || {
                    tree_sitter_postgres::LANGUAGE_PLPGSQL.into()
                });
                for body in bodies {
                    let range = Range {
                        start_byte: body.range.start,
                        end_byte: body.range.end,
                        start_point: body.start_point,
                        end_point: body.end_point,
                    };
                    if parser.set_included_ranges(&[range]).is_err() {
                        continue;
                    }
                    let parsed = parse_with_deadline(parser, source, deadline, self.budget);
                    // Reset so the next file is parsed whole.
                    let _ = parser.set_included_ranges(&[]);
                    embedded.push(EmbeddedTree {
                        tree: parsed?,
                        function: body.function,
                        body: body.range,
                    });
                }
            }
        }
        Ok(ParsedFile {
            language,
            tree,
            embedded,
        })
    }
}

fn parse_with_deadline(
    parser: &mut Parser,
    source: &str,
    deadline: Instant,
    budget: Duration,
) -> Result<Tree, ParseError> {
    let bytes = source.as_bytes();
    let mut timed_out = false;
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline {
            timed_out = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    let tree = parser.parse_with_options(
        &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
        None,
        Some(options),
    );
    match tree {
        Some(tree) => Ok(tree),
        None => {
            // A cancelled parse leaves state behind; clear it for the next file.
            parser.reset();
            if timed_out {
                Err(ParseError::Timeout(budget))
            } else {
                Err(ParseError::NoTree)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_extensions() {
        for (file, lang) in [
            ("a.py", Some(Language::Python)),
            ("a.mjs", Some(Language::JavaScript)),
            ("a.cjs", Some(Language::JavaScript)),
            ("a.jsx", Some(Language::JavaScript)),
            ("a.ts", Some(Language::TypeScript)),
            ("a.mts", Some(Language::TypeScript)),
            ("a.cts", Some(Language::TypeScript)),
            ("a.tsx", Some(Language::Tsx)),
            ("a.sql", Some(Language::Sql)),
            ("supabase/config.toml", Some(Language::Toml)),
            ("app/supabase/config.toml", Some(Language::Toml)),
            ("config.toml", None),
            ("Cargo.toml", None),
            ("other/config.toml", None),
            ("a.rb", None),
            ("Makefile", None),
        ] {
            assert_eq!(Language::from_path(Path::new(file)), lang, "{file}");
        }
    }

    #[test]
    fn typescript_parses_without_errors() {
        let mut p = FileParser::new(Duration::from_secs(5));
        let src = "import { EventEmitter } from 'node:events';\n\
                   class Bus extends EventEmitter { private n: number = 0; on<T>(e: string, f: (x: T) => void): this { return super.on(e, f); } }\n\
                   const b = new Bus() as Bus;\n";
        let parsed = p.parse(Language::TypeScript, src).unwrap();
        assert_eq!(parsed.first_error(), None);
        // The JavaScript grammar cannot read the same text.
        let js = p.parse(Language::JavaScript, src).unwrap();
        assert!(js.first_error().is_some());
    }

    #[test]
    fn plpgsql_bodies_are_parsed_in_place() {
        let src = "CREATE TABLE orders (id int);\n\
                   CREATE OR REPLACE FUNCTION notify_order() RETURNS trigger AS $fn$\n\
                   BEGIN\n  PERFORM pg_notify('orders', NEW.id::text);\n  RETURN NEW;\nEND;\n$fn$ LANGUAGE plpgsql;\n";
        let mut p = FileParser::new(Duration::from_secs(5));
        let parsed = p.parse(Language::Sql, src).unwrap();
        assert_eq!(
            parsed.first_error(),
            None,
            "{}",
            parsed.tree.root_node().to_sexp()
        );
        assert_eq!(parsed.embedded.len(), 1);
        let body = &parsed.embedded[0];
        assert_eq!(body.function.as_deref(), Some("notify_order"));
        assert!(src[body.body.clone()].contains("PERFORM pg_notify"));
        let root = body.tree.root_node();
        assert!(!root.has_error(), "{}", root.to_sexp());
        // Positions are file positions: the body starts on line 3 (0-based row 2).
        assert!(root.start_position().row >= 1);
    }

    #[test]
    fn syntax_errors_are_located() {
        let mut p = FileParser::new(Duration::from_secs(5));
        let parsed = p.parse(Language::Python, "def f(:\n    pass\n").unwrap();
        assert_eq!(parsed.first_error().map(|p| p.row), Some(0));
    }
}
