//! Per-file work, in parallel: read, check, parse once, detect once. A failure in one file
//! is an entry in `errors` for that file, never an abort.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use msgscan_detect::Fact;
use msgscan_lang::{FileParser, Language};
use msgscan_report::FileError;
use msgscan_rulebook::{Finding, Rulebook};
use rayon::prelude::*;

use crate::cache::{Cache, Entry, content_hash};
use crate::walk::WalkedFile;
use crate::{Progress, ScanOptions};

/// What became of one file.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub path: String,
    pub language: Option<Language>,
    /// The file was read and analysed (possibly with a syntax error).
    pub read: bool,
    pub parsed: bool,
    pub skipped: Option<&'static str>,
    pub facts: Vec<Fact>,
    pub error: Option<FileError>,
    /// Findings of query rules (run while the tree is alive).
    pub findings: Vec<Finding>,
    pub suppressions: Vec<crate::suppress::Suppression>,
    /// Kept for snippets when the file has facts, query findings or suppressions: only the
    /// lines around them (see [`retained_source`]).
    pub source: Option<Arc<str>>,
    /// What to keep in the fact cache for this file (a hit or a fresh analysis).
    pub cache_entry: Option<Entry>,
    pub cache_hit: bool,
}

pub(crate) fn analyze_all(
    files: &[WalkedFile],
    options: &ScanOptions,
    rulebook: &Rulebook,
    cache: Option<&Cache>,
    progress: &dyn Progress,
) -> Vec<Outcome> {
    // Largest files first: a big file started last would leave the other workers idle
    // while it finishes. Outcomes go back to walk order below.
    let sizes: Vec<u64> = files
        .par_iter()
        .map(|f| std::fs::metadata(&f.abs).map_or(0, |m| m.len()))
        .collect();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut outcomes: Vec<(usize, Outcome)> = order
        .par_iter()
        // One file per job, so an idle worker can take any file not yet started. (The
        // parser set is then made per file; it is lazy and costs nothing measurable.)
        .with_max_len(1)
        .map_init(
            || FileParser::new(options.parse_timeout),
            |parser, &i| {
                let file = &files[i];
                let run = catch_unwind(AssertUnwindSafe(|| {
                    analyze(parser, file, options, rulebook, cache)
                }));
                progress.file_done();
                let outcome = run.unwrap_or_else(|panic| {
                    // Start the next file with fresh parsers: this one may be mid-parse.
                    *parser = FileParser::new(options.parse_timeout);
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Outcome {
                        path: file.rel.clone(),
                        language: Language::from_path(&file.abs),
                        error: Some(error(
                            &file.rel,
                            "internal",
                            format!("internal error while analysing this file: {what}"),
                        )),
                        ..Outcome::default()
                    }
                });
                (i, outcome)
            },
        )
        .collect();
    outcomes.sort_unstable_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

fn error(path: &str, kind: &str, message: String) -> FileError {
    FileError {
        path: path.to_string(),
        kind: kind.to_string(),
        message,
        line: None,
        column: None,
    }
}

fn analyze(
    parser: &mut FileParser,
    file: &WalkedFile,
    options: &ScanOptions,
    rulebook: &Rulebook,
    cache: Option<&Cache>,
) -> Outcome {
    let mut out = Outcome {
        path: file.rel.clone(),
        ..Outcome::default()
    };
    let Some(language) = Language::from_path(&file.abs) else {
        out.skipped = Some("unsupported");
        return out;
    };
    out.language = Some(language);
    let size = match std::fs::metadata(&file.abs) {
        Ok(m) if !m.is_file() => {
            // A FIFO, socket or device given explicitly: reading it could block forever.
            out.error = Some(error(
                &file.rel,
                "io",
                "not a regular file (FIFO, socket or device); not read".into(),
            ));
            return out;
        }
        Ok(m) => m.len(),
        Err(e) => {
            out.error = Some(error(&file.rel, "io", format!("cannot read: {e}")));
            return out;
        }
    };
    if size > options.max_file_size {
        out.error = Some(error(
            &file.rel,
            "too-large",
            format!(
                "file is {size} bytes, above the {} byte limit; not analysed",
                options.max_file_size
            ),
        ));
        return out;
    }
    // Read at most one byte past the limit: a file that grows after the size check is
    // still bounded.
    let bytes = match read_bounded(&file.abs, options.max_file_size) {
        Ok(b) if b.len() as u64 > options.max_file_size => {
            out.error = Some(error(
                &file.rel,
                "too-large",
                format!(
                    "file grew above the {} byte limit while being read; not analysed",
                    options.max_file_size
                ),
            ));
            return out;
        }
        Ok(b) => b,
        Err(e) => {
            out.error = Some(error(&file.rel, "io", format!("cannot read: {e}")));
            return out;
        }
    };
    let Some(cache) = cache else {
        analyze_content(parser, file, language, bytes, options, rulebook, &mut out);
        return out;
    };
    let hash = content_hash(&bytes);
    if let Some(entry) = cache.get(&file.rel, &hash) {
        // Only facts are cached. Suppressions are read again from the text, and a file that
        // query rules may match is analysed afresh (their findings depend on the rulebook).
        let text = std::str::from_utf8(&bytes).ok();
        let queries = text.is_some_and(|t| rulebook.queries_may_match(language, t));
        if !queries {
            out.skipped = entry.skipped.as_deref().and_then(static_reason);
            if out.skipped.is_some() {
                out.language = None;
            }
            out.read = entry.read;
            out.parsed = entry.parsed;
            out.error = entry.error.clone();
            out.facts = entry.facts.clone();
            if let Some(text) = text.filter(|_| entry.read) {
                let text = blank_bom(text.to_string());
                if options.suppressions {
                    out.suppressions = crate::suppress::parse(&text);
                }
                out.source = retained_source(&text, &out);
            }
            out.cache_entry = Some(entry.clone());
            out.cache_hit = true;
            return out;
        }
    }
    analyze_content(parser, file, language, bytes, options, rulebook, &mut out);
    // Timeouts depend on the machine's load, not on the content: never cached.
    if out.error.as_ref().is_none_or(|e| e.kind != "timeout") {
        out.cache_entry = Some(Entry {
            hash,
            skipped: out.skipped.map(str::to_string),
            read: out.read,
            parsed: out.parsed,
            error: out.error.clone(),
            facts: out.facts.clone(),
        });
    }
    out
}

fn static_reason(reason: &str) -> Option<&'static str> {
    match reason {
        "minified" => Some("minified"),
        "unsupported" => Some("unsupported"),
        _ => None,
    }
}

/// A UTF-8 BOM is not code; blank it (same length, so offsets stay file offsets).
fn blank_bom(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => format!("   {rest}"),
        None => text,
    }
}

/// Everything that follows from the file's bytes alone.
fn analyze_content(
    parser: &mut FileParser,
    file: &WalkedFile,
    language: Language,
    bytes: Vec<u8>,
    options: &ScanOptions,
    rulebook: &Rulebook,
    out: &mut Outcome,
) {
    let sniff = &bytes[..bytes.len().min(8192)];
    if sniff.contains(&0) {
        out.error = Some(error(
            &file.rel,
            "binary",
            "binary content (NUL bytes); not analysed".into(),
        ));
        return;
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            out.error = Some(error(
                &file.rel,
                "encoding",
                format!(
                    "not valid UTF-8 (first bad byte at offset {}); not analysed",
                    e.utf8_error().valid_up_to()
                ),
            ));
            return;
        }
    };
    let text = blank_bom(text);
    if !options.include_vendored && language.is_js_family() && looks_minified(&text) {
        out.skipped = Some("minified");
        out.language = None;
        return;
    }
    out.read = true;
    if options.suppressions {
        out.suppressions = crate::suppress::parse(&text);
    }
    let active = msgscan_detect::prefilter(language, &file.rel, &text);
    let query = rulebook.queries_may_match(language, &text);
    if active.is_empty() && !query {
        out.source = retained_source(&text, out);
        return;
    }
    let parsed = match parser.parse(language, &text) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(error(&file.rel, "timeout", format!("{e}; not analysed")));
            return;
        }
    };
    out.parsed = true;
    if let Some(at) = parsed.first_error() {
        let index = msgscan_lang::LineIndex::new(&text);
        let lc = index.line_col(&text, byte_of_point(&text, &index, at));
        out.error = Some(FileError {
            path: file.rel.clone(),
            kind: "syntax".into(),
            message: format!(
                "syntax error at line {}: facts before and around it are still reported, constructs inside it may be missed",
                lc.line
            ),
            line: Some(lc.line),
            column: Some(lc.column),
        });
    }
    if !active.is_empty() {
        // A budget too large to represent is no budget.
        let deadline = std::time::Instant::now().checked_add(options.detect_timeout);
        match msgscan_detect::detect_until(&file.rel, &text, &parsed, active, deadline) {
            Ok(facts) => out.facts = facts,
            Err(timeout) => {
                out.error = Some(error(
                    &file.rel,
                    "timeout",
                    format!(
                        "{timeout} ({} ms); not analysed",
                        options.detect_timeout.as_millis()
                    ),
                ));
            }
        }
    }
    if query {
        out.findings = rulebook.run_queries(language, &file.rel, &text, &parsed.tree);
    }
    drop(parsed);
    out.source = retained_source(&text, out);
}

/// Lines kept on each side of a line a snippet may show: the terminal shows one line of
/// context, the LLM's source excerpts two.
const SNIPPET_CONTEXT: u32 = 2;

/// The part of a file's text that snippets can show, kept until the report is written: the
/// lines around the start of each fact, query finding and suppression (findings point at
/// those), plus the first line. Every other line is emptied, so line numbers and the columns
/// of kept lines stay those of the file, and memory follows the number of facts rather than
/// the size of the project. Secrets are masked first, on the whole text, so a secret
/// spanning lines is masked even where only part of it is kept. `None` when nothing in the
/// file can be shown.
fn retained_source(text: &str, out: &Outcome) -> Option<Arc<str>> {
    let starts: Vec<u32> = out
        .facts
        .iter()
        .map(|f| f.line)
        .chain(out.findings.iter().map(|f| f.line))
        .chain(out.suppressions.iter().map(|s| s.line))
        .collect();
    if starts.is_empty() {
        return None;
    }
    let mut keep: Vec<(u32, u32)> = starts
        .iter()
        .map(|&l| (l.saturating_sub(SNIPPET_CONTEXT), l + SNIPPET_CONTEXT))
        .chain([(1, 1)])
        .collect();
    keep.sort_unstable();
    let mut sparse = String::with_capacity(text.len().min(keep.len() * 400));
    let mut ranges = keep.iter().peekable();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i as u32 + 1;
        while ranges.next_if(|&&(_, to)| to < n).is_some() {}
        if ranges.peek().is_some_and(|&&(from, _)| from <= n) {
            sparse.push_str(line);
        } else if line.ends_with('\n') {
            sparse.push('\n');
        }
    }
    // Masking reads line by line, so masking the kept lines alone is masking the file.
    Some(Arc::from(crate::redact::redact(&sparse)))
}

fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn byte_of_point(text: &str, index: &msgscan_lang::LineIndex, p: msgscan_lang::Point) -> usize {
    index
        .line_range(text, p.row as u32 + 1)
        .map_or(text.len(), |r| (r.start + p.column).min(text.len()))
}

/// A bundle or minified file: long and with very long lines on average.
fn looks_minified(text: &str) -> bool {
    if text.len() < 20_000 {
        return false;
    }
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    text.len() / lines > 500
}
