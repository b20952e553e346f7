//! Embeds every `rules/*.toml` of the repository, in file-name order.
//!
//! The rerun triggers are relative to this package, so a copy of the repository built in
//! the same target directory (as pre-commit does for every revision) re-embeds its own
//! rules instead of trusting the mtimes of the first checkout's files.
use std::fmt::Write;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    println!("cargo:rerun-if-changed=../../rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("rules/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for f in &files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 file name");
        println!("cargo:rerun-if-changed=../../rules/{name}");
        let abs = f.canonicalize().expect("rule file");
        writeln!(
            out,
            "    (\"rules/{name}\", include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("write");
    }
    out.push(']');
    let dest =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtin_rules.rs");
    std::fs::write(dest, out).expect("write builtin_rules.rs");
}
