//! Rulebook errors: miette diagnostics pointing into the TOML.

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// A problem in a rulebook file, with its location.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(msgscan::rulebook))]
pub struct RulebookError {
    pub message: String,
    #[source_code]
    pub source_code: NamedSource<String>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
}

impl RulebookError {
    pub(crate) fn new(
        file: &str,
        text: &str,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) -> Box<Self> {
        Box::new(RulebookError {
            message: message.into(),
            source_code: NamedSource::new(file, text.to_string()),
            span: span.into(),
            label: label.into(),
            help,
        })
    }

    /// The 1-based line of the error in its file.
    pub fn line(&self) -> usize {
        let text = self.source_code.inner();
        text[..self.span.offset().min(text.len())]
            .matches('\n')
            .count()
            + 1
    }
}

/// "did you mean `x`?" for the closest of `candidates`, if any is close.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
