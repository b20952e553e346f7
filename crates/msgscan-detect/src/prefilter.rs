//! The prefilter: which detectors could find anything in a file, decided from its text
//! before it is parsed.
//!
//! Two stages. First every needle of every detector of the language is searched in one pass
//! (Aho-Corasick); a detector none of whose needles occurs is out. Then each remaining
//! detector's [`Detector::admits`] looks closer (conjunctions of words, words ignoring case,
//! identifiers that must contain two words) and may rule the file out too. A file no
//! detector admits is not parsed.
//!
//! Both stages must be sound: a detector may rule a file out only if it could emit no fact
//! from it. The check of that is empirical and strict: on every fixture (a test), on the
//! benchmark corpus (`msgscan-bench prefilter-check`) and under the fuzzers, detection with
//! the prefilter must give exactly the facts of detection without it.

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use crate::engine::Detector;

/// A file the needles let through for a detector, as [`Detector::admits`] sees it.
#[derive(Debug)]
pub struct Candidate<'a> {
    /// The file's path, relative to the project root, `/`-separated.
    pub path: &'a str,
    pub text: &'a str,
    needles: &'a Needles,
    hits: &'a [u64],
}

impl Candidate<'_> {
    /// Whether `needle` occurs in the text (as written, case included). Free for the
    /// language's needles (the first stage found them); other words are searched.
    pub fn has(&self, needle: &str) -> bool {
        match self.needles.patterns.iter().position(|&p| p == needle) {
            Some(i) => self.hits[i / 64] >> (i % 64) & 1 == 1,
            None => self.text.contains(needle),
        }
    }

    /// Whether any of `needles` occurs in the text (see [`Candidate::has`]).
    pub fn any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.has(n))
    }
}

/// Every needle of every detector of one language in one automaton, so the prefilter reads
/// a file once however many detectors and needles there are.
#[derive(Debug)]
pub(crate) struct Needles {
    /// `None` only if the automaton could not be built; then each needle is searched alone.
    automaton: Option<AhoCorasick>,
    /// Needle (pattern id) → the detectors (bitmask) that declared it.
    owners: Vec<u64>,
    patterns: Vec<&'static str>,
    /// Detectors that declare no needle: they cannot be prefiltered and always run.
    always: u64,
    /// Every detector of the language.
    pub(crate) all: u64,
}

impl Needles {
    pub(crate) fn new(detectors: &[&'static dyn Detector]) -> Self {
        let mut patterns: Vec<&'static str> = Vec::new();
        let mut owners: Vec<u64> = Vec::new();
        let mut always = 0;
        for (i, d) in detectors.iter().enumerate() {
            let bit = 1u64 << i;
            // An empty needle is in every text: the detector always runs.
            if d.needles().is_empty() || d.needles().iter().any(|n| n.is_empty()) {
                always |= bit;
                continue;
            }
            for &n in d.needles() {
                match patterns.iter().position(|&p| p == n) {
                    Some(k) => owners[k] |= bit,
                    None => {
                        patterns.push(n);
                        owners.push(bit);
                    }
                }
            }
        }
        let automaton = AhoCorasick::new(&patterns).ok();
        let all = if detectors.len() >= 64 {
            u64::MAX
        } else {
            (1u64 << detectors.len()) - 1
        };
        Needles {
            automaton,
            owners,
            patterns,
            always,
            all,
        }
    }

    /// The detectors with a needle in `text` (plus those without needles), before
    /// [`Detector::admits`]; and which needles occur (a bitset over pattern ids).
    pub(crate) fn found(&self, text: &str) -> (u64, Vec<u64>) {
        let mut found = self.always;
        let mut hits = vec![0u64; self.patterns.len().div_ceil(64)];
        let mut set = |k: usize, found: &mut u64| {
            hits[k / 64] |= 1 << (k % 64);
            *found |= self.owners[k];
        };
        match &self.automaton {
            Some(ac) => {
                // Overlapping search: one needle inside another must not hide it. Every
                // needle is looked for (not only until each detector has one): admits
                // reads them.
                for m in ac.find_overlapping_iter(text) {
                    set(m.pattern().as_usize(), &mut found);
                }
            }
            None => {
                for (k, p) in self.patterns.iter().enumerate() {
                    if text.contains(p) {
                        set(k, &mut found);
                    }
                }
            }
        }
        (found, hits)
    }

    /// The detectors that could find something in `text`: a needle occurs and the
    /// detector admits the file.
    pub(crate) fn active(
        &self,
        detectors: &[&'static dyn Detector],
        path: &str,
        text: &str,
    ) -> u64 {
        let (mut found, hits) = self.found(text);
        for (i, d) in detectors.iter().enumerate() {
            if d.reads_path(path) {
                found |= 1 << i;
            }
        }
        let candidate = Candidate {
            path,
            text,
            needles: self,
            hits: &hits,
        };
        let mut active = self.always;
        let mut m = found & !self.always;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            if detectors[i].admits(&candidate) {
                active |= 1 << i;
            }
        }
        active
    }
}

/// A set of words searched for ignoring ASCII case, for [`Detector::admits`]: built on
/// first use and shared by all threads.
#[derive(Debug)]
pub(crate) struct Words {
    words: &'static [&'static str],
    automaton: OnceLock<Option<AhoCorasick>>,
}

impl Words {
    pub(crate) const fn new(words: &'static [&'static str]) -> Self {
        Words {
            words,
            automaton: OnceLock::new(),
        }
    }

    fn automaton(&self) -> Option<&AhoCorasick> {
        self.automaton
            .get_or_init(|| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(self.words)
                    .ok()
            })
            .as_ref()
    }

    /// Where the words occur, in any case (overlapping occurrences included). If the
    /// automaton could not be built, the whole text is one occurrence: callers stay sound.
    pub(crate) fn find_in<'a>(&'a self, text: &'a str) -> impl Iterator<Item = Range<usize>> + 'a {
        let ac = self.automaton();
        let unbuilt = ac.is_none().then_some(0..text.len());
        ac.into_iter()
            .flat_map(move |ac| ac.find_overlapping_iter(text).map(|m| m.range()))
            .chain(unbuilt)
    }
}

/// The identifier (ASCII letters, digits, `_`, `$`) around `range` of `text`.
pub(crate) fn identifier_around(text: &str, range: Range<usize>) -> &str {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let mut start = range.start.min(bytes.len());
    let mut end = range.end.min(bytes.len());
    while start > 0 && ident(bytes[start - 1]) {
        start -= 1;
    }
    while end < bytes.len() && ident(bytes[end]) {
        end += 1;
    }
    // ASCII boundaries, so always char boundaries unless the range itself cut a character.
    text.get(start..end).unwrap_or_default()
}

/// How a word is delimited in a text: [`word_around`] (Python identifiers, words of the SQL
/// lexer) or [`identifier_around`] (JS identifiers, `$` included).
pub(crate) type Around = for<'a> fn(&'a str, Range<usize>) -> &'a str;

/// The run of ASCII letters, digits and `_` around `range` of `text`: a Python identifier,
/// and a word of the SQL lexer (`pg_text::lex`) as far as ASCII goes (a non-ASCII neighbour
/// ends the run here but not there, so the run is never longer than the lexer's word).
pub(crate) fn word_around(text: &str, range: Range<usize>) -> &str {
    text.get(word_span(text, range)).unwrap_or_default()
}

/// The byte range of [`word_around`].
pub(crate) fn word_span(text: &str, range: Range<usize>) -> Range<usize> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut start = range.start.min(b.len());
    let mut end = range.end.min(b.len());
    while start > 0 && word(b[start - 1]) {
        start -= 1;
    }
    while end < b.len() && word(b[end]) {
        end += 1;
    }
    start..end
}

/// Whether some occurrence (ignoring case) of one of `list` lies in a whole word (delimited
/// by `around`) that `accept`s. `words` is `Words::new(list)`; if its automaton could not be
/// built, every text is accepted.
pub(crate) fn any_word(
    text: &str,
    words: &Words,
    list: &[&str],
    around: Around,
    accept: impl Fn(&str) -> bool,
) -> bool {
    words.find_in(text).any(|r| {
        let m = text.get(r.clone()).unwrap_or_default();
        !list.iter().any(|w| w.eq_ignore_ascii_case(m)) || accept(around(text, r))
    })
}

/// Which words of a list (at most 64) occur in a text as whole words, case as written, and
/// which of them may occur in attribute position (`x.word`, `x.word.y`; by Python's rules of
/// lines and comments).
pub(crate) struct Present {
    list: &'static [&'static str],
    mask: u64,
    /// Words with an occurrence that may follow a `.`.
    after_dot: u64,
    /// Words with an occurrence that may both follow and precede a `.`.
    between_dots: u64,
}

impl Present {
    /// `words` is `Words::new(list)`. If its automaton could not be built, every word is
    /// taken to be present. Positions are not read: every word present may be an attribute
    /// (see [`Present::of_python`]).
    pub(crate) fn of(
        text: &str,
        words: &Words,
        list: &'static [&'static str],
        around: Around,
    ) -> Present {
        Self::scan(text, words, list, around, false)
    }

    /// As [`Present::of`] for Python words, reading also which occurrences may be
    /// attributes.
    pub(crate) fn of_python(text: &str, words: &Words, list: &'static [&'static str]) -> Present {
        Self::scan(text, words, list, word_around, true)
    }

    fn scan(
        text: &str,
        words: &Words,
        list: &'static [&'static str],
        around: Around,
        positions: bool,
    ) -> Present {
        let mut p = Present {
            list,
            mask: 0,
            after_dot: 0,
            between_dots: 0,
        };
        for r in words.find_in(text) {
            let m = text.get(r.clone()).unwrap_or_default();
            if !list.iter().any(|w| w.eq_ignore_ascii_case(m)) {
                p.mask = u64::MAX;
                break;
            }
            let w = around(text, r);
            let Some(i) = list.iter().position(|x| *x == w).filter(|&i| i < 64) else {
                continue;
            };
            let bit = 1 << i;
            p.mask |= bit;
            if !positions || p.between_dots & bit != 0 {
                continue;
            }
            // `around` returns a slice of `text`: its offset is the word's start.
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            if may_follow_dot(text, start) {
                p.after_dot |= bit;
                if may_precede_dot(text, start + w.len()) {
                    p.between_dots |= bit;
                }
            }
        }
        if !positions || p.mask == u64::MAX {
            p.after_dot = p.mask;
            p.between_dots = p.mask;
        }
        p
    }

    /// Whether `w` occurs; a word not in the list (or past the 64th) is taken to occur.
    pub(crate) fn has(&self, w: &str) -> bool {
        self.test(self.mask, w)
    }

    pub(crate) fn any(&self, ws: &[&str]) -> bool {
        ws.iter().any(|w| self.has(w))
    }

    /// Whether `w` may occur as an attribute, `x.w` (see [`Present::has`]).
    pub(crate) fn attribute(&self, w: &str) -> bool {
        self.test(self.after_dot, w)
    }

    /// Whether `w` may occur inside a dotted name, `x.w.y` (see [`Present::has`]).
    pub(crate) fn inner_attribute(&self, w: &str) -> bool {
        self.test(self.between_dots, w)
    }

    fn test(&self, mask: u64, w: &str) -> bool {
        self.list
            .iter()
            .position(|x| *x == w)
            .is_none_or(|i| i >= 64 || mask >> i & 1 == 1)
    }
}

/// Blanks between two Python tokens: spaces, line breaks and line continuations.
const PY_BLANKS: [char; 6] = [' ', '\t', '\x0c', '\n', '\r', '\\'];

/// The Python code before byte `at`, blanks skipped; `None` when the text alone cannot
/// tell (a line break was skipped and the line before holds a `#`, which may start a
/// comment that hides how that line really ends).
pub(crate) fn py_code_before(text: &str, at: usize) -> Option<&str> {
    let before = text.get(..at)?;
    let code = before.trim_end_matches(PY_BLANKS);
    if !before[code.len()..].contains(['\n', '\r']) {
        return Some(code);
    }
    let line = &code[code.rfind(['\n', '\r']).map_or(0, |i| i + 1)..];
    (!line.contains('#')).then_some(code)
}

/// The Python code from byte `at` on, blanks skipped; `None` when a comment comes first
/// (the code may go on on a later line).
pub(crate) fn py_code_after(text: &str, at: usize) -> Option<&str> {
    let code = text.get(at..)?.trim_start_matches(PY_BLANKS);
    (!code.starts_with('#')).then_some(code)
}

/// Whether `module` may occur in Python `text` as a module's name: as a whole word followed
/// by `.` (the head of a dotted name, `celery.current_app`, `import celery.app`), or
/// preceded by `import`, `from` or `,` (`import os, celery`).
pub(crate) fn py_names_module(text: &str, module: &str) -> bool {
    text.match_indices(module).any(|(at, w)| {
        let end = at + w.len();
        word_around(text, at..end) == w
            && (py_code_after(text, end).is_none_or(|code| code.starts_with('.'))
                || py_code_before(text, at).is_none_or(|code| {
                    code.ends_with(',')
                        || ["import", "from"].iter().any(|k| {
                            code.ends_with(k)
                                && word_around(code, code.len() - k.len()..code.len()) == *k
                        })
                }))
    })
}

/// Whether `attribute` may occur in Python `text` as an attribute of one of `owners`:
/// `owner.attribute`, blanks allowed around the `.`.
pub(crate) fn py_attribute_of(text: &str, attribute: &str, owners: &[&str]) -> bool {
    text.match_indices(attribute).any(|(at, w)| {
        word_around(text, at..at + w.len()) == w
            && py_code_before(text, at).is_none_or(|code| {
                let Some(before_dot) = code.strip_suffix('.') else {
                    return false;
                };
                py_code_before(code, before_dot.len()).is_none_or(|code| {
                    let owner = word_around(code, code.len()..code.len());
                    owners.contains(&owner)
                })
            })
    })
}

/// Whether the Python word starting at `start` may be an attribute name (`x.w`, `x . w`,
/// `x.` and `w` on two lines inside brackets).
fn may_follow_dot(text: &str, start: usize) -> bool {
    py_code_before(text, start).is_none_or(|code| code.ends_with('.'))
}

/// Whether the Python word ending at `end` may be followed by `.`.
fn may_precede_dot(text: &str, end: usize) -> bool {
    py_code_after(text, end).is_none_or(|code| code.starts_with('.'))
}

/// Each of `found` is admitted by detector `name` and yields a fact (prefilter off);
/// each of `near` is ruled out. (Test support for the detectors' `admits`.)
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn check_admits(
    language: msgscan_lang::Language,
    name: &str,
    found: &[&str],
    near: &[&str],
) {
    let mut p = msgscan_lang::FileParser::new(std::time::Duration::from_secs(5));
    let mut run = |src: &str| {
        let parsed = p.parse(language, src).unwrap();
        let (_, admitted, facts) = crate::fuzzing::detect_each("t", src, &parsed)
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .unwrap();
        let kinds: Vec<String> = facts.into_iter().map(|f| f.kind).collect();
        (admitted, kinds)
    };
    for src in found {
        let (admitted, kinds) = run(src);
        assert!(
            admitted && !kinds.is_empty(),
            "{name} on {src:?}: admitted {admitted}, facts {kinds:?}"
        );
    }
    for src in near {
        let (admitted, kinds) = run(src);
        assert!(
            !admitted && kinds.is_empty(),
            "{name} on {src:?}: admitted {admitted}, facts {kinds:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_code_around_a_word() {
        let t = "a = x . \\\n  delay(1)  # the call\nb";
        let at = t.find("delay").unwrap();
        assert_eq!(py_code_before(t, at), Some("a = x ."));
        assert_eq!(py_code_after(t, at + 5), Some("(1)  # the call\nb"));
        // a comment first: the code may go on on the next line
        assert_eq!(py_code_after(t, t.find("  #").unwrap()), None);
        // a line break skipped after a line with `#`: unknown
        let t = "(x  # c\n  .y)";
        assert_eq!(py_code_before(t, t.find('.').unwrap()), None);
    }

    #[test]
    fn modules_and_attributes_as_python_names_them() {
        for yes in [
            "import os, celery\n",
            "from celery import X",
            "celery.current_app",
            "(celery\n .app)",
        ] {
            assert!(py_names_module(yes, "celery"), "{yes:?}");
        }
        for no in [
            "# celery docs\n",
            "x = 'celery'",
            "my_celery.app",
            "celery_app = 1",
        ] {
            assert!(!py_names_module(no, "celery"), "{no:?}");
        }
        let owners = &["Connection"];
        assert!(py_attribute_of("Connection . connect()", "connect", owners));
        assert!(py_attribute_of(
            "(Connection  # c\n .connect())",
            "connect",
            owners
        ));
        assert!(!py_attribute_of(
            "self.connect()\nclass Connection: pass",
            "connect",
            owners
        ));
        assert!(!py_attribute_of(
            "MyConnection.connect()",
            "connect",
            owners
        ));
    }

    #[test]
    fn present_words_and_their_positions() {
        static W: Words = Words::new(&["delay", "conf"]);
        let p = Present::of_python("x.delay(delay)\nconf = a.conf\n", &W, &["delay", "conf"]);
        assert!(p.has("delay") && p.attribute("delay"));
        assert!(p.has("conf") && p.attribute("conf") && !p.inner_attribute("conf"));
        let p = Present::of_python("delay(1); app.conf.x = 1", &W, &["delay", "conf"]);
        assert!(!p.attribute("delay") && p.inner_attribute("conf"));
        // without positions, every word present may be an attribute
        let p = Present::of("delay(1)", &W, &["delay", "conf"], word_around);
        assert!(p.attribute("delay") && !p.attribute("conf"));
    }
}
