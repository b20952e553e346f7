//! Writes `docs/rules/<id>.md` for every built-in rule and the index `docs/rules/README.md`,
//! and removes pages of rules that no longer exist.
//!
//! ```sh
//! cargo run -p msgscan-rulebook --example generate-docs
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let book = msgscan_rulebook::Rulebook::builtin()?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(msgscan_rulebook::docs::DOCS_DIR);
    std::fs::create_dir_all(&dir)?;
    let pages = msgscan_rulebook::docs::pages(&book);
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".md") && !pages.iter().any(|(p, _)| p == name) {
            std::fs::remove_file(&path)?;
            println!("removed {}", path.display());
        }
    }
    let mut written = 0;
    for (name, text) in &pages {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::write(&path, text)?;
            written += 1;
        }
    }
    println!(
        "{} pages in {}, {written} updated",
        pages.len(),
        dir.display()
    );
    Ok(())
}
