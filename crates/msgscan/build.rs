//! A key for the fact cache that changes whenever the code that produces facts changes.
//!
//! The crate version alone is not enough while developing: a detector edited without a
//! version bump must not be served stale facts. In the repository, the key also hashes the
//! sources of the crates that turn files into facts and the workspace `Cargo.lock`
//! (grammar versions); from a published package, where those paths do not exist, it is
//! the version of this crate.

use std::path::{Path, PathBuf};

fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut inputs = Vec::new();
    for dir in ["../msgscan-detect/src", "../msgscan-lang/src", "src"] {
        let d = manifest.join(dir);
        // Relative to this package: a copy of the repository built in the same target
        // directory reruns this script for its own files.
        println!("cargo:rerun-if-changed={dir}");
        files_under(&d, &mut inputs);
    }
    let lock = manifest.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    inputs.push(lock);
    let mut rels: Vec<(String, PathBuf)> = inputs
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&manifest)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            (rel, p)
        })
        .collect();
    rels.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    fnv(
        &mut h,
        std::env::var("CARGO_PKG_VERSION")
            .unwrap_or_default()
            .as_bytes(),
    );
    for (rel, p) in &rels {
        if let Ok(bytes) = std::fs::read(p) {
            fnv(&mut h, rel.as_bytes());
            fnv(&mut h, &[0xff]);
            fnv(&mut h, &bytes);
            fnv(&mut h, &[0xfe]);
        }
    }
    println!("cargo:rustc-env=MSGSCAN_BUILD_KEY={h:016x}");
}
