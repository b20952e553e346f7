//! Finding the files to scan: a parallel walk of directories (honouring `.gitignore`,
//! skipping vendored trees and counting what it skipped) and explicit files as given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ignore::{DirEntry, WalkBuilder, WalkState};
use msgscan_report::FileError;

use crate::ScanOptions;

/// Directory names that hold other people's code.
pub(crate) const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    ".venv",
    "venv",
    "site-packages",
    "dist",
    "build",
    "__pycache__",
    "bower_components",
];

#[derive(Debug)]
pub(crate) struct WalkedFile {
    pub abs: PathBuf,
    /// Relative to the scan root, `/`-separated.
    pub rel: String,
}

#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub files: Vec<WalkedFile>,
    pub skipped: BTreeMap<String, usize>,
    pub errors: Vec<FileError>,
}

pub(crate) fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    if s.is_empty() { ".".into() } else { s }
}

fn relative(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let rel = rel.strip_prefix("./").unwrap_or(rel);
    display_path(rel)
}

fn is_vendored_dir(name: &str) -> bool {
    VENDORED_DIRS.contains(&name)
}

/// Minified by name (`app.min.js`); content checks happen when the file is read.
pub(crate) fn is_minified_name(name: &str) -> bool {
    name.contains(".min.")
}

pub(crate) fn collect(paths: &[PathBuf], root: &Path, options: &ScanOptions) -> Walked {
    let found: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<FileError>> = Mutex::new(Vec::new());
    let vendored = Arc::new(AtomicUsize::new(0));
    let minified = AtomicUsize::new(0);
    let symlinks = AtomicUsize::new(0);
    let special = AtomicUsize::new(0);
    let include_vendored = options.include_vendored;

    for path in paths {
        if !path.is_dir() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let in_vendored = path
                .components()
                .any(|c| is_vendored_dir(&c.as_os_str().to_string_lossy()));
            if !include_vendored && in_vendored {
                vendored.fetch_add(1, Ordering::Relaxed);
            } else if !include_vendored && is_minified_name(&name) {
                minified.fetch_add(1, Ordering::Relaxed);
            } else if let Ok(mut f) = found.lock() {
                f.push(path.clone());
            }
            continue;
        }
        let mut builder = WalkBuilder::new(path);
        builder
            .standard_filters(true)
            .require_git(false)
            .follow_links(false)
            .threads(options.threads.unwrap_or(0));
        let vendored_ref = Arc::clone(&vendored);
        builder.filter_entry(move |e: &DirEntry| {
            if include_vendored || e.depth() == 0 {
                return true;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            if is_dir && is_vendored_dir(&e.file_name().to_string_lossy()) {
                vendored_ref.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            true
        });
        builder.build_parallel().run(|| {
            let found = &found;
            let errors = &errors;
            let minified = &minified;
            let symlinks = &symlinks;
            let special = &special;
            Box::new(move |entry| {
                match entry {
                    Ok(e) => {
                        let file_type = e.file_type();
                        if file_type.is_some_and(|t| t.is_file()) {
                            let name = e.file_name().to_string_lossy();
                            if !include_vendored && is_minified_name(&name) {
                                minified.fetch_add(1, Ordering::Relaxed);
                            } else if let Ok(mut f) = found.lock() {
                                f.push(e.into_path());
                            }
                        } else if file_type.is_some_and(|t| t.is_symlink()) {
                            // Links are not followed; one that leads nowhere (dangling, or
                            // a loop) is reported, the others are counted.
                            match std::fs::metadata(e.path()) {
                                Ok(_) => {
                                    symlinks.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(err) => {
                                    if let Ok(mut es) = errors.lock() {
                                        es.push(FileError {
                                            path: display_path(e.path()),
                                            kind: "io".into(),
                                            message: format!(
                                                "symbolic link leads nowhere (dangling or a loop): {err}"
                                            ),
                                            line: None,
                                            column: None,
                                        });
                                    }
                                }
                            }
                        } else if file_type.is_some_and(|t| !t.is_dir()) {
                            // FIFOs, sockets, devices: never opened (a FIFO would block).
                            special.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(err) => {
                        let path = err_path(&err).map(display_path).unwrap_or_default();
                        if let Ok(mut es) = errors.lock() {
                            es.push(FileError {
                                path,
                                kind: "io".into(),
                                message: err.to_string(),
                                line: None,
                                column: None,
                            });
                        }
                    }
                }
                WalkState::Continue
            })
        });
    }

    let mut files: Vec<PathBuf> = found.into_inner().unwrap_or_default();
    files.sort();
    files.dedup();
    let mut skipped = BTreeMap::new();
    for (reason, n) in [
        ("vendored-dir", vendored.load(Ordering::Relaxed)),
        ("minified", minified.into_inner()),
        ("symlink", symlinks.into_inner()),
        ("special-file", special.into_inner()),
    ] {
        if n > 0 {
            skipped.insert(reason.to_string(), n);
        }
    }
    let mut errors = errors.into_inner().unwrap_or_default();
    for e in &mut errors {
        e.path = relative(Path::new(&e.path), root);
    }
    Walked {
        files: files
            .into_iter()
            .map(|abs| WalkedFile {
                rel: relative(&abs, root),
                abs,
            })
            .collect(),
        skipped,
        errors,
    }
}

fn err_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            err_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

/// Adds the files of `extra` not already in `into` (same relative path), keeping the
/// order sorted. Skip counts of `extra` are not added: its files were counted by the walk.
pub(crate) fn merge(into: &mut Walked, extra: Walked) {
    let known: std::collections::BTreeSet<String> =
        into.files.iter().map(|f| f.rel.clone()).collect();
    let mut added = false;
    for f in extra.files {
        if !known.contains(&f.rel) {
            into.files.push(f);
            added = true;
        }
    }
    if added {
        into.files.sort_by(|a, b| a.abs.cmp(&b.abs));
    }
    into.errors.extend(extra.errors);
    into.errors
        .sort_by(|a, b| (&a.path, &a.kind, &a.message).cmp(&(&b.path, &b.kind, &b.message)));
    into.errors.dedup();
}
