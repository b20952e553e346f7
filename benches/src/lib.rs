//! The stages of a msgscan scan, callable one at a time, for the benchmarks
//! (`cargo bench -p msgscan-bench`) and the `msgscan-bench` driver used by
//! `benches/compare.sh`.
//!
//! A scan is walk → read → prefilter → parse → detect → link → judge → render. The facade
//! runs them fused per file on a thread pool; here each runs on its own over a whole
//! project held in memory, on one thread, so its cost can be read off. The unit tests check
//! that the staged pipeline finds exactly the facts and findings a real scan finds, so the
//! benchmarks measure the work a scan does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use msgscan::{Fact, Finding, Language, Report, Rulebook, ScanError, ScanOptions, Scanner};
use msgscan_lang::{FileParser, ParsedFile};

/// One file as the scan reads it.
#[derive(Debug)]
pub struct Source {
    /// Relative to the project root, `/`-separated (the path facts carry).
    pub rel: String,
    pub language: Language,
    pub text: String,
}

/// A project read into memory: the files a scan would analyse.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub files: Vec<Source>,
    /// Total bytes of `files`.
    pub bytes: usize,
}

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The benchmark corpus (`benches/corpus/`, built by `benches/corpus.sh`), or `MSGSCAN_CORPUS`.
/// `None` when it has not been built.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MSGSCAN_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    dir.is_dir().then_some(dir)
}

/// Walk stage: the files a scan of `root` would analyse (the facade's own walk).
/// `include_vendored` as [`ScanOptions::include_vendored`].
pub fn walk(root: &Path, include_vendored: bool) -> Result<Vec<PathBuf>, ScanError> {
    let options = ScanOptions {
        include_vendored,
        ..options(1)
    };
    Scanner::new(options)?.files(&[root])
}

/// Scan options used throughout: defaults with `threads` workers.
pub fn options(threads: usize) -> ScanOptions {
    ScanOptions {
        threads: Some(threads),
        ..ScanOptions::default()
    }
}

/// Read stage: reads the walked files with the checks a scan makes (language from the
/// extension, size limit, binary, UTF-8, minified JS unless `include_vendored`), keeping
/// those it would analyse.
pub fn read(root: &Path, files: &[PathBuf], include_vendored: bool) -> Project {
    let limit = ScanOptions::default().max_file_size;
    let mut out = Vec::new();
    let mut bytes = 0;
    for path in files {
        let Some(language) = Language::from_path(path) else {
            continue;
        };
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        if data.len() as u64 > limit || data[..data.len().min(8192)].contains(&0) {
            continue;
        }
        let Ok(text) = String::from_utf8(data) else {
            continue;
        };
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => format!("   {rest}"),
            None => text,
        };
        if !include_vendored && language.is_js_family() && looks_minified(&text) {
            continue;
        }
        bytes += text.len();
        let rel = path.strip_prefix(root).unwrap_or(path);
        out.push(Source {
            rel: rel.to_string_lossy().replace('\\', "/"),
            language,
            text,
        });
    }
    Project {
        root: root.to_path_buf(),
        files: out,
        bytes,
    }
}

/// The facade's minified-bundle test (long text, average line over 500 characters).
fn looks_minified(text: &str) -> bool {
    if text.len() < 20_000 {
        return false;
    }
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    text.len() / lines > 500
}

/// Walk and read `root`.
pub fn load(root: &Path, include_vendored: bool) -> Result<Project, ScanError> {
    let files = walk(root, include_vendored)?;
    Ok(read(root, &files, include_vendored))
}

/// Prefilter stage: indices of the files that contain a needle of one of their language's
/// detectors (the only files a scan parses).
pub fn prefilter(project: &Project) -> Vec<usize> {
    project
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| msgscan_detect::may_match(f.language, &f.rel, &f.text))
        .map(|(i, _)| i)
        .collect()
}

/// A parser set as a scan's worker has.
pub fn parser() -> FileParser {
    FileParser::new(ScanOptions::default().parse_timeout)
}

/// Parse stage: parses the given files (a cancelled parse is left out, as a scan does).
pub fn parse(parser: &mut FileParser, project: &Project, which: &[usize]) -> Vec<ParsedFile> {
    which
        .iter()
        .filter_map(|&i| {
            let f = &project.files[i];
            parser.parse(f.language, &f.text).ok()
        })
        .collect()
}

/// Parse-only floor: parses the given files and drops each tree at once (what a scan
/// would cost if detection were free).
pub fn parse_only(parser: &mut FileParser, project: &Project, which: &[usize]) -> usize {
    let mut nodes = 0;
    for &i in which {
        let f = &project.files[i];
        if let Ok(p) = parser.parse(f.language, &f.text) {
            nodes += p.tree.root_node().descendant_count();
        }
    }
    nodes
}

/// A bare traversal of parsed trees (main and embedded) with a cursor, visiting every node
/// as `detect` does but calling no detector: the fixed cost of the single traversal.
pub fn traverse_only(parsed: &[ParsedFile]) -> usize {
    parsed.iter().map(walk_trees).sum()
}

/// Parses the given files and walks each tree at once, as `detect` does but calling no
/// detector: the floor of any design with one full traversal per parsed file.
pub fn parse_traverse(parser: &mut FileParser, project: &Project, which: &[usize]) -> usize {
    which
        .iter()
        .filter_map(|&i| {
            let f = &project.files[i];
            parser.parse(f.language, &f.text).ok()
        })
        .map(|p| walk_trees(&p))
        .sum()
}

/// Visits every node of a file's trees with a cursor; returns the named nodes.
fn walk_trees(p: &ParsedFile) -> usize {
    let mut named = 0;
    for tree in std::iter::once(&p.tree).chain(p.embedded.iter().map(|e| &e.tree)) {
        let mut cursor = tree.walk();
        'walk: loop {
            named += usize::from(cursor.node().is_named());
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
    }
    named
}

/// Detect stage over already parsed files (`parsed[k]` is the tree of `project.files[which[k]]`).
pub fn detect(project: &Project, which: &[usize], parsed: &[ParsedFile]) -> Vec<Fact> {
    let mut facts = Vec::new();
    for (&i, p) in which.iter().zip(parsed) {
        let f = &project.files[i];
        facts.extend(msgscan_detect::detect(&f.rel, &f.text, p));
    }
    facts
}

/// Prefilter, parse and detect, file by file, dropping each tree after detection: the
/// per-file work of a scan, on one thread, without I/O.
pub fn analyze(parser: &mut FileParser, project: &Project) -> Vec<Fact> {
    let mut facts = Vec::new();
    for f in &project.files {
        let active = msgscan_detect::prefilter(f.language, &f.rel, &f.text);
        if active.is_empty() {
            continue;
        }
        if let Ok(p) = parser.parse(f.language, &f.text)
            && let Ok(found) = msgscan_detect::detect_until(&f.rel, &f.text, &p, active, None)
        {
            facts.extend(found);
        }
    }
    facts
}

/// Link stage: sort, assign ids, add project-wide attributes and build the topology, as
/// the facade does.
pub fn link(mut facts: Vec<Fact>) -> (Vec<Fact>, msgscan::Topology) {
    facts.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    msgscan_detect::link::assign_ids(&mut facts);
    msgscan_detect::link::enrich(&mut facts);
    let topology = msgscan_detect::link::link(&facts);
    (facts, topology)
}

/// Judge stage: findings of the rulebook over linked facts and their topology.
pub fn judge(rulebook: &Rulebook, facts: &[Fact], topology: &msgscan::Topology) -> Vec<Finding> {
    rulebook.judge_with_topology(facts, topology)
}

/// Render stage: the JSON and human renderings of a report, in bytes written.
pub fn render(report: &Report) -> usize {
    let mut json = Vec::new();
    let mut human = Vec::new();
    let _ = msgscan::render::json(report, &mut json);
    let _ = msgscan::render::human(report, msgscan::render::HumanOptions::default(), &mut human);
    json.len() + human.len()
}

/// A full scan through the facade (walk, read, analyse on `threads` workers, link, judge).
pub fn scan(scanner: &Scanner, root: &Path) -> Result<Report, ScanError> {
    scanner.scan(&[root])
}

/// The built-in rulebook restricted to `ids` (all rules when `ids` is empty). Unknown ids
/// are returned as an error.
pub fn rulebook_subset(ids: &[String]) -> Result<Rulebook, String> {
    let mut book = Rulebook::builtin().map_err(|e| e.to_string())?;
    if ids.is_empty() {
        return Ok(book);
    }
    if let Some(bad) = ids.iter().find(|id| book.rule(id).is_none()) {
        return Err(format!("unknown rule `{bad}`"));
    }
    book.retain(|r| ids.iter().any(|id| id == &r.id));
    Ok(book)
}

/// The median of some durations (the upper one of the two middle values).
pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The staged pipeline finds what a scan finds, on the fixtures: the benchmarks of the
    /// stages measure a scan's work, not something else.
    #[test]
    fn stages_reproduce_a_scan() {
        let root = fixtures_dir().canonicalize().unwrap();
        let project = load(&root, false).unwrap();
        assert!(project.files.len() > 10, "{}", project.files.len());

        let which = prefilter(&project);
        assert!(!which.is_empty() && which.len() <= project.files.len());
        let mut p = parser();
        let parsed = parse(&mut p, &project, &which);
        assert_eq!(parsed.len(), which.len());
        let staged = detect(&project, &which, &parsed);
        assert_eq!(staged.len(), analyze(&mut p, &project).len());
        assert!(parse_only(&mut p, &project, &which) > staged.len());

        let (facts, topology) = link(staged);
        let book = rulebook_subset(&[]).unwrap();
        let findings = judge(&book, &facts, &topology);

        // Suppression comments are a facade step after judging: compare without them.
        let no_suppressions = ScanOptions {
            suppressions: false,
            ..options(2)
        };
        let report = scan(&Scanner::new(no_suppressions).unwrap(), &root).unwrap();
        let ids = |fs: &[Fact]| fs.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&facts), ids(&report.facts));
        assert_eq!(topology.channels.len(), report.topology.channels.len());
        let rules = |fs: &[Finding]| {
            fs.iter()
                .map(|f| (f.path.clone(), f.line, f.rule.clone()))
                .collect::<Vec<_>>()
        };
        let mut staged_findings = rules(&findings);
        staged_findings.sort();
        let mut scan_findings = rules(&report.findings);
        scan_findings.sort();
        assert_eq!(staged_findings, scan_findings);
        assert!(render(&report) > 0);
    }

    #[test]
    fn rulebook_subsets() {
        let all = rulebook_subset(&[]).unwrap();
        let one = rulebook_subset(&["celery-pickle-serializer".into()]).unwrap();
        assert_eq!(one.rules().len(), 1);
        assert!(all.rules().len() > 1);
        assert!(rulebook_subset(&["no-such-rule".into()]).is_err());
    }

    #[test]
    fn median_of_odd_and_even() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&mut [ms(4), ms(1), ms(3), ms(2)]), ms(3));
        assert_eq!(median(&mut []), Duration::ZERO);
    }
}
