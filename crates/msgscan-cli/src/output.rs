//! Rendering a report in the chosen format, to standard output or a file, with colour
//! only where a human reads a terminal.

use std::io::{self, IsTerminal, Write};

use msgscan::{Report, render};

use crate::args::Format;

/// Renders `report` as `format`. One arm per format: a new renderer is one line here and
/// one variant of [`Format`].
pub fn render(
    report: &Report,
    rules: &[msgscan::Rule],
    document: &render::DocumentOptions,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => render::human(
            report,
            render::HumanOptions {
                color,
                ..Default::default()
            },
            out,
        ),
        Format::Json => render::json(report, out),
        Format::Sarif => render::sarif(report, rules, out),
        Format::Markdown => render::markdown(report, document, out),
        Format::Html => render::html(report, document, out),
        Format::Asyncapi => render::asyncapi(report, out),
        Format::Github => render::github(report, out),
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Colour on a terminal, never with `NO_COLOR` set, always with `CLICOLOR_FORCE` set
/// (other than `0`) unless `NO_COLOR` is set.
pub fn use_color(to_terminal: bool) -> bool {
    if env_set("NO_COLOR") {
        return false;
    }
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    to_terminal
}

/// Whether a progress bar may be drawn: stderr is a terminal, not in CI, not for JSON.
pub fn progress_allowed(format: Format) -> bool {
    format == Format::Human && io::stderr().is_terminal() && !env_set("CI")
}
