//! Per-file work, in parallel: read, check, parse once, detect once. A failure in one file
//! is an entry in `errors` for that file, never an abort.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use msgscan_detect::Fact;
use msgscan_lang::{FileParser, Language};
use msgscan_report::FileError;
use rayon::prelude::*;

use crate::ScanOptions;
use crate::walk::WalkedFile;

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
    /// Kept for snippets when the file has facts.
    pub source: Option<Arc<str>>,
}

pub(crate) fn analyze_all(files: &[WalkedFile], options: &ScanOptions) -> Vec<Outcome> {
    files
        .par_iter()
        .map_init(
            || FileParser::new(options.parse_timeout),
            |parser, file| {
                let run = catch_unwind(AssertUnwindSafe(|| analyze(parser, file, options)));
                run.unwrap_or_else(|panic| {
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
                })
            },
        )
        .collect()
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

fn analyze(parser: &mut FileParser, file: &WalkedFile, options: &ScanOptions) -> Outcome {
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
    let sniff = &bytes[..bytes.len().min(8192)];
    if sniff.contains(&0) {
        out.error = Some(error(
            &file.rel,
            "binary",
            "binary content (NUL bytes); not analysed".into(),
        ));
        return out;
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
            return out;
        }
    };
    // A UTF-8 BOM is not code; blank it (same length, so offsets stay file offsets).
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => format!("   {rest}"),
        None => text,
    };
    if !options.include_vendored && language.is_js_family() && looks_minified(&text) {
        out.skipped = Some("minified");
        out.language = None;
        return out;
    }
    out.read = true;
    if !msgscan_detect::may_match(language, &text) {
        return out;
    }
    let parsed = match parser.parse(language, &text) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(error(&file.rel, "timeout", format!("{e}; not analysed")));
            return out;
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
    out.facts = msgscan_detect::detect(&file.rel, &text, &parsed);
    drop(parsed);
    if !out.facts.is_empty() {
        // Snippets show source lines: secrets written in them are masked first.
        out.source = Some(Arc::from(crate::redact::redact(&text)));
    }
    out
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
