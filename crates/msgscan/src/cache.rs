//! The fact cache: what detection found in each file, keyed by the file's path and content
//! hash, so a repeat scan of an unchanged project costs little more than reading and
//! hashing its files.
//!
//! Only facts (and the per-file verdicts that come from the content alone: parsed or not,
//! syntax error, binary, encoding, minified) are cached. Linking, judging and scoring run
//! fresh on every scan, so a change of rulebook or configuration can never serve a stale
//! finding.
//!
//! One file per settings combination, `<dir>/facts-<key>.json`, with a header line
//! `msgscan-cache <format> <build key> <settings key> <checksum>` followed by the JSON body.
//! The build key changes with the msgscan version and, in a source checkout, with the code
//! of the detectors and grammars; the settings key with the options that change what a
//! file's analysis yields; the checksum (xxh3-128 of the body) catches truncated or edited
//! files. A cache that fails any check is ignored and rebuilt, never trusted. Writes go to
//! a temporary file renamed into place, so a concurrent reader sees the old file or the
//! new one, never half of one.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use msgscan_detect::Fact;
use msgscan_report::FileError;
use serde::{Deserialize, Serialize};

use crate::ScanOptions;

const FORMAT: u32 = 1;
const MAGIC: &str = "msgscan-cache";

/// The key of the code that produces facts (see `build.rs`).
pub(crate) const BUILD_KEY: &str = env!("MSGSCAN_BUILD_KEY");

/// The conventional cache directory name, created at the scan root by the CLI.
pub const CACHE_DIR_NAME: &str = ".msgscan-cache";

/// What analysing one file's content yielded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// xxh3-128 of the file's bytes, hex.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    pub parsed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FileError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
}

pub(crate) fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The options that change what analysing a file yields. Any new option of that kind must
/// be added here, or the cache would serve facts computed under other settings.
pub(crate) fn settings_key(options: &ScanOptions) -> String {
    // `max_file_size` and `parse_timeout` decide whether a file is analysed at all, and
    // such files are never cached; `include_vendored` decides whether a long-lined JS
    // file is skipped as minified, which is cached.
    let relevant = format!("include_vendored={}", options.include_vendored);
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(relevant.as_bytes()))
}

/// A loaded cache and the entries of the current scan.
#[derive(Debug)]
pub(crate) struct Cache {
    file: PathBuf,
    dir: PathBuf,
    old: HashMap<String, Entry>,
}

impl Cache {
    /// Opens the cache in `dir` for `options`; a missing, foreign or corrupt file gives an
    /// empty cache.
    pub fn open(dir: &Path, options: &ScanOptions) -> Cache {
        let settings = settings_key(options);
        let file = dir.join(format!("facts-{settings}.json"));
        let old = std::fs::read(&file)
            .ok()
            .and_then(|bytes| parse(&bytes, &settings))
            .unwrap_or_default();
        Cache {
            file,
            dir: dir.to_path_buf(),
            old,
        }
    }

    /// The cached entry for `path` if its content hash matches.
    pub fn get(&self, path: &str, hash: &str) -> Option<&Entry> {
        self.old.get(path).filter(|e| e.hash == hash)
    }

    /// Stores the entries of this scan. With `complete` (the whole root was walked),
    /// entries of files no longer seen are dropped; otherwise they are kept, so scanning a
    /// few files does not evict the rest. Writes nothing when nothing changed. Failing to
    /// write is not an error: the next scan just recomputes.
    pub fn store(self, current: Vec<(String, Entry)>, complete: bool) {
        let mut next = if complete {
            HashMap::new()
        } else {
            self.old.clone()
        };
        for (path, entry) in current {
            next.insert(path, entry);
        }
        if next == self.old {
            return;
        }
        let _ = self.write(&next);
    }

    fn write(&self, entries: &HashMap<String, Entry>) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(
                &ignore,
                "# Created by msgscan: the fact cache is never committed.\n*\n",
            )?;
        }
        let tag = self.dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            std::fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# msgscan fact cache; see https://bford.info/cachedir/\n",
            )?;
        }
        let sorted: std::collections::BTreeMap<&String, &Entry> = entries.iter().collect();
        let body = serde_json::to_vec(&sorted).map_err(std::io::Error::other)?;
        let settings = self
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("facts-"))
            .unwrap_or_default()
            .to_string();
        let header = format!(
            "{MAGIC} {FORMAT} {BUILD_KEY} {settings} {}\n",
            content_hash(&body)
        );
        let tmp = self
            .dir
            .join(format!(".facts-{settings}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(header.as_bytes())?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.file)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Parses a cache file; `None` unless every check passes.
fn parse(bytes: &[u8], settings: &str) -> Option<HashMap<String, Entry>> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let body = &bytes[newline + 1..];
    let mut parts = header.split(' ');
    let ok = parts.next() == Some(MAGIC)
        && parts.next() == Some(&FORMAT.to_string())
        && parts.next() == Some(BUILD_KEY)
        && parts.next() == Some(settings)
        && parts.next() == Some(&content_hash(body))
        && parts.next().is_none();
    if !ok {
        return None;
    }
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(hash: &str) -> Entry {
        Entry {
            hash: hash.into(),
            skipped: None,
            read: true,
            parsed: false,
            error: None,
            facts: Vec::new(),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("msgscan-cache-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn round_trip_and_every_check() {
        let dir = tmp("rt");
        let options = ScanOptions::default();
        let cache = Cache::open(&dir, &options);
        cache.store(vec![("a.py".into(), entry("h1"))], true);
        assert_eq!(
            std::fs::read_to_string(dir.join(".gitignore"))
                .unwrap()
                .lines()
                .last(),
            Some("*")
        );
        let cache = Cache::open(&dir, &options);
        assert!(cache.get("a.py", "h1").is_some());
        assert!(cache.get("a.py", "h2").is_none(), "a changed file misses");
        assert!(cache.get("b.py", "h1").is_none(), "keys include the path");

        // Other settings: another file, nothing shared.
        let vendored = ScanOptions {
            include_vendored: true,
            ..ScanOptions::default()
        };
        assert!(Cache::open(&dir, &vendored).get("a.py", "h1").is_none());

        let file = dir.join(format!("facts-{}.json", settings_key(&options)));
        let good = std::fs::read(&file).unwrap();
        let settings = settings_key(&options);
        assert!(parse(&good, &settings).is_some());
        // One flipped byte in the body fails the checksum.
        let mut bad = good.clone();
        let last = bad.len() - 2;
        bad[last] ^= 0x01;
        assert!(parse(&bad, &settings).is_none());
        // Truncated.
        assert!(parse(&good[..good.len() / 2], &settings).is_none());
        // Another build (version or detector code).
        let text = String::from_utf8(good.clone()).unwrap();
        let other = text.replacen(BUILD_KEY, "0000000000000000", 1);
        assert!(parse(other.as_bytes(), &settings).is_none());
        // Garbage.
        assert!(parse(b"\x00\x01 not a cache", &settings).is_none());
        assert!(parse(b"", &settings).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partial_scans_keep_other_entries_and_unchanged_scans_do_not_write() {
        let dir = tmp("partial");
        let options = ScanOptions::default();
        Cache::open(&dir, &options).store(
            vec![("a.py".into(), entry("h1")), ("b.py".into(), entry("h2"))],
            true,
        );
        Cache::open(&dir, &options).store(vec![("a.py".into(), entry("h3"))], false);
        let cache = Cache::open(&dir, &options);
        assert!(cache.get("a.py", "h3").is_some());
        assert!(cache.get("b.py", "h2").is_some());
        let file = dir.join(format!("facts-{}.json", settings_key(&options)));
        let before = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.store(
            vec![("a.py".into(), entry("h3")), ("b.py".into(), entry("h2"))],
            true,
        );
        assert_eq!(
            std::fs::metadata(&file).unwrap().modified().unwrap(),
            before
        );
        // A complete scan drops files no longer seen.
        Cache::open(&dir, &options).store(vec![("a.py".into(), entry("h3"))], true);
        assert!(Cache::open(&dir, &options).get("b.py", "h2").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
