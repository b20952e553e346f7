//! A small SQL lexer and recogniser for `LISTEN`, `UNLISTEN`, `NOTIFY` and `pg_notify(...)`
//! in SQL text: PL/pgSQL statements (which the PL/pgSQL grammar keeps as opaque text), bodies
//! of `LANGUAGE sql` functions, dynamic `EXECUTE` strings, and SQL inside Python and
//! JavaScript strings.
//!
//! Text that was spliced together at run time (f-strings, template literals, `||`,
//! `format(...)`) is given with each spliced value replaced by [`HOLE`]; a channel name
//! containing a hole is dynamic, and its static parts become a glob pattern (`orders_*`).
//!
//! Everything here works on byte offsets into the text it was given and never recurses:
//! dollar-quoted bodies found inside the text are scanned from a work list.

use std::ops::Range;

/// Stands for a value spliced into SQL text at run time.
pub(crate) const HOLE: char = '\u{1}';

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum T {
    Word,
    QIdent,
    Str,
    Dollar,
    Num,
    Param,
    Hole,
    Punct,
    Op,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Tok {
    pub t: T,
    pub start: usize,
    pub end: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 || b == 1
}

/// Splits SQL text into tokens; comments and white space are dropped. Unterminated strings,
/// quoted identifiers, comments and dollar quotes run to the end of the text.
pub(crate) fn lex(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < n && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 1;
            i += 2;
            while i < n && depth > 0 {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            continue;
        }
        // E'...' (backslash escapes)
        if (c == b'e' || c == b'E')
            && b.get(i + 1) == Some(&b'\'')
            && (i == 0 || !is_word_byte(b[i - 1]))
        {
            i = quoted_end(b, i + 1, b'\'', true);
            out.push(Tok {
                t: T::Str,
                start,
                end: i,
            });
            continue;
        }
        match c {
            b'\'' => {
                i = quoted_end(b, i, b'\'', false);
                out.push(Tok {
                    t: T::Str,
                    start,
                    end: i,
                });
            }
            b'"' => {
                i = quoted_end(b, i, b'"', false);
                out.push(Tok {
                    t: T::QIdent,
                    start,
                    end: i,
                });
            }
            b'$' => {
                if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    while i < n && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    out.push(Tok {
                        t: T::Param,
                        start,
                        end: i,
                    });
                    continue;
                }
                // $tag$ ... $tag$
                let mut j = i + 1;
                while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j < n && b[j] == b'$' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let tag = &s[i..=j];
                    let body_start = j + 1;
                    i = match s.get(body_start..).and_then(|rest| rest.find(tag)) {
                        Some(p) => body_start + p + tag.len(),
                        None => n,
                    };
                    out.push(Tok {
                        t: T::Dollar,
                        start,
                        end: i,
                    });
                } else {
                    i += 1;
                    out.push(Tok {
                        t: T::Op,
                        start,
                        end: i,
                    });
                }
            }
            b'%' if b.get(i + 1) == Some(&b's') || b.get(i + 1) == Some(&b'(') => {
                // Python DB-API placeholders: %s, %(name)s
                if b[i + 1] == b's' {
                    i += 2;
                } else {
                    let close = s[i..].find(")s").map(|p| i + p + 2);
                    match close {
                        Some(e) if !s[i..e].contains(char::is_whitespace) => i = e,
                        _ => {
                            i += 1;
                            out.push(Tok {
                                t: T::Op,
                                start,
                                end: i,
                            });
                            continue;
                        }
                    }
                }
                out.push(Tok {
                    t: T::Param,
                    start,
                    end: i,
                });
            }
            b':' if b
                .get(i + 1)
                .is_some_and(|x| x.is_ascii_alphabetic() || *x == b'_')
                && (i == 0 || b[i - 1] != b':') =>
            {
                // SQLAlchemy / named bind parameters
                i += 1;
                while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok {
                    t: T::Param,
                    start,
                    end: i,
                });
            }
            b'(' | b')' | b',' | b';' | b'[' | b']' | b'.' => {
                i += 1;
                out.push(Tok {
                    t: T::Punct,
                    start,
                    end: i,
                });
            }
            _ if c.is_ascii_digit() => {
                while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok {
                    t: T::Num,
                    start,
                    end: i,
                });
            }
            _ if is_word_byte(c) => {
                while i < n && (is_word_byte(b[i]) || b[i] == b'$') {
                    i += 1;
                }
                let word = &s[start..i];
                let t = if word.chars().all(|ch| ch == HOLE) {
                    T::Hole
                } else {
                    T::Word
                };
                out.push(Tok { t, start, end: i });
            }
            _ => {
                i += 1;
                while i < n && b"+-*/<>=~!@#%^&|`?:".contains(&b[i]) {
                    if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
                        break;
                    }
                    i += 1;
                }
                out.push(Tok {
                    t: T::Op,
                    start,
                    end: i,
                });
            }
        }
    }
    out
}

/// The end of a quoted token starting at `i` (the opening quote); a doubled quote is an
/// escaped quote.
fn quoted_end(b: &[u8], i: usize, q: u8, backslash: bool) -> usize {
    let n = b.len();
    let mut j = i + 1;
    while j < n {
        if backslash && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    n
}

/// The content of a string token, unescaped.
pub(crate) fn str_content(text: &str) -> String {
    let t = text
        .strip_prefix(['e', 'E'])
        .filter(|r| r.starts_with('\''))
        .unwrap_or(text);
    let inner = t.strip_prefix('\'').unwrap_or(t);
    let inner = inner.strip_suffix('\'').unwrap_or(inner);
    inner.replace("''", "'")
}

/// The name of a quoted identifier token.
fn qident_content(text: &str) -> String {
    let inner = text.strip_prefix('"').unwrap_or(text);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    inner.replace("\"\"", "\"")
}

/// A channel as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Chan {
    /// As written in the source text (quotes included).
    pub raw: String,
    /// Normalised as Postgres would: unquoted identifiers folded to lower case, quoted ones
    /// and `pg_notify` strings kept. `None` when not known statically.
    pub name: Option<String>,
    /// `identifier`, `quoted`, `string`, `param`, `variable`, `expr`, `all` (`UNLISTEN *`).
    pub source: &'static str,
    /// Glob of a partly static name (`orders_*`).
    pub pattern: Option<String>,
    /// 1-based placeholder number for `$n` / `%s` channels.
    pub param: Option<usize>,
    /// The variable, for a PL/pgSQL variable channel (lower case).
    pub var: Option<String>,
    /// The name of a named placeholder channel (`:channel`, `%(channel)s`).
    pub param_name: Option<String>,
}

impl Chan {
    pub fn dynamic(&self) -> bool {
        self.name.is_none()
    }
}

/// A notification payload, classified.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Payload {
    /// `none`, `constant`, `key`, `row`, `object`, `aggregate`, `param`, `interpolated`,
    /// `expr`.
    pub kind: &'static str,
    pub text: String,
    /// Number of fields of a `json_build_object(...)` payload.
    pub fields: Option<usize>,
    /// Placeholder number for a `$n` / `%s` payload.
    pub param: Option<usize>,
}

impl Payload {
    pub fn none() -> Payload {
        Payload {
            kind: "none",
            text: String::new(),
            fields: None,
            param: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Listen,
    Unlisten,
    Notify,
}

/// One recognised construct.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub kind: ItemKind,
    /// `statement` (`NOTIFY x`) or `function` (`pg_notify(...)`).
    pub form: &'static str,
    pub chan: Chan,
    pub payload: Option<Payload>,
    pub range: Range<usize>,
}

/// Statement-opening words after which a new statement starts (besides `;`).
const OPENERS: &[&str] = &["begin", "then", "else", "loop", "as", "do"];

/// Finds every LISTEN / UNLISTEN / NOTIFY statement and `pg_notify(...)` call in `s`,
/// including inside dollar-quoted bodies. Ranges are byte ranges of `s`.
pub(crate) fn scan(s: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut work: Vec<Range<usize>> = Vec::new();
    work.push(0..s.len());
    while let Some(range) = work.pop() {
        let Some(sub) = s.get(range.clone()) else {
            continue;
        };
        let base = range.start;
        let toks = lex(sub);
        let mut params_seen = 0usize;
        let mut i = 0;
        while i < toks.len() {
            let tok = toks[i];
            let text = &sub[tok.start..tok.end];
            match tok.t {
                T::Param => params_seen += 1,
                T::Dollar => {
                    // body between the tags
                    if let Some(open) = text[1..].find('$') {
                        let tag_len = open + 2;
                        if text.len() >= 2 * tag_len {
                            work.push(base + tok.start + tag_len..base + tok.end - tag_len);
                        }
                    }
                }
                T::Word => {
                    let at_start = i == 0
                        || (toks[i - 1].t == T::Punct
                            && &sub[toks[i - 1].start..toks[i - 1].end] == ";")
                        || (toks[i - 1].t == T::Word
                            && OPENERS.iter().any(|o| {
                                sub[toks[i - 1].start..toks[i - 1].end].eq_ignore_ascii_case(o)
                            }));
                    let kind = if text.eq_ignore_ascii_case("listen") {
                        Some(ItemKind::Listen)
                    } else if text.eq_ignore_ascii_case("unlisten") {
                        Some(ItemKind::Unlisten)
                    } else if text.eq_ignore_ascii_case("notify") {
                        Some(ItemKind::Notify)
                    } else {
                        None
                    };
                    if let Some(kind) = kind
                        && at_start
                        && let Some((item, next)) = statement(sub, &toks, i, kind, params_seen)
                    {
                        items.push(shift(item, base));
                        i = next;
                        continue;
                    }
                    if text.eq_ignore_ascii_case("pg_notify")
                        && toks.get(i + 1).is_some_and(|t| &sub[t.start..t.end] == "(")
                    {
                        let (item, next) = function(sub, &toks, i, params_seen);
                        items.push(shift(item, base));
                        // keep scanning inside the arguments (nothing to find) but count
                        // their placeholders
                        for t in &toks[i..next.min(toks.len())] {
                            if t.t == T::Param {
                                params_seen += 1;
                            }
                        }
                        i = next;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    items.sort_by_key(|it| (it.range.start, it.range.end));
    items
}

fn shift(mut item: Item, base: usize) -> Item {
    item.range = item.range.start + base..item.range.end + base;
    item
}

fn is_punct(s: &str, t: Option<&Tok>, p: &str) -> bool {
    t.is_some_and(|t| matches!(t.t, T::Punct | T::Op) && &s[t.start..t.end] == p)
}

fn statement(
    s: &str,
    toks: &[Tok],
    i: usize,
    kind: ItemKind,
    params_seen: usize,
) -> Option<(Item, usize)> {
    let ch = toks.get(i + 1)?;
    let raw = &s[ch.start..ch.end];
    let chan = match ch.t {
        T::Word => {
            if raw.contains(HOLE) {
                dynamic_word(raw)
            } else {
                Chan {
                    raw: raw.to_string(),
                    name: Some(raw.to_lowercase()),
                    source: "identifier",
                    ..Chan::default()
                }
            }
        }
        T::QIdent => {
            let name = qident_content(raw);
            if name.contains(HOLE) {
                let mut c = dynamic_word(&name);
                c.raw = raw.replace(HOLE, "{…}");
                c
            } else {
                Chan {
                    raw: raw.to_string(),
                    name: Some(name),
                    source: "quoted",
                    ..Chan::default()
                }
            }
        }
        T::Hole => Chan {
            raw: raw.replace(HOLE, "{…}"),
            source: "expr",
            ..Chan::default()
        },
        T::Param => Chan {
            raw: raw.to_string(),
            source: "param",
            param: Some(params_seen + 1),
            param_name: param_name(raw),
            ..Chan::default()
        },
        T::Op if raw == "*" && kind == ItemKind::Unlisten => Chan {
            raw: "*".into(),
            name: Some("*".into()),
            source: "all",
            ..Chan::default()
        },
        _ => return None,
    };
    let mut j = i + 2;
    let mut payload = None;
    let mut end = ch.end;
    if kind == ItemKind::Notify && is_punct(s, toks.get(j), ",") {
        let from = j + 1;
        let mut k = from;
        while k < toks.len() && !is_punct(s, toks.get(k), ";") {
            k += 1;
        }
        if k == from {
            return None;
        }
        let mut p = classify_payload(
            s,
            &toks[from..k],
            params_seen + usize::from(chan.param.is_some()),
        );
        if p.kind == "none" && p.text.is_empty() {
            p.kind = "none";
        }
        end = toks[k - 1].end;
        payload = Some(p);
        j = k;
    } else if kind == ItemKind::Notify {
        payload = Some(Payload::none());
    }
    // The statement must end here: `NOTIFY users when done` is prose, not SQL.
    if j < toks.len() && !is_punct(s, toks.get(j), ";") {
        return None;
    }
    Some((
        Item {
            kind,
            form: "statement",
            chan,
            payload,
            range: toks[i].start..end,
        },
        j,
    ))
}

/// `channel` of `:channel` / `%(channel)s`.
fn param_name(tok: &str) -> Option<String> {
    if let Some(n) = tok.strip_prefix(':') {
        return Some(n.to_string());
    }
    tok.strip_prefix("%(")
        .and_then(|t| t.strip_suffix(")s"))
        .map(str::to_string)
}

fn dynamic_word(raw: &str) -> Chan {
    let pattern: String = raw
        .chars()
        .map(|c| if c == HOLE { '*' } else { c })
        .collect::<String>();
    let pattern = collapse_stars(&pattern);
    Chan {
        raw: raw.replace(HOLE, "{…}"),
        source: "expr",
        pattern: (pattern != "*").then_some(pattern),
        ..Chan::default()
    }
}

fn collapse_stars(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if c == '*' && out.ends_with('*') {
            continue;
        }
        out.push(c);
    }
    out
}

/// `pg_notify(channel, payload)` starting at token `i`; returns the item and the index after
/// the closing parenthesis.
fn function(s: &str, toks: &[Tok], i: usize, params_seen: usize) -> (Item, usize) {
    let mut depth = 0usize;
    let mut args: Vec<Range<usize>> = Vec::new();
    let mut arg_start = i + 2;
    let mut j = i + 1;
    let mut end = toks[i].end;
    while j < toks.len() {
        let t = toks[j];
        let tx = &s[t.start..t.end];
        if t.t == T::Punct {
            match tx {
                "(" | "[" => depth += 1,
                ")" | "]" => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        args.push(arg_start..j);
                        end = t.end;
                        j += 1;
                        break;
                    }
                }
                "," if depth == 1 => {
                    args.push(arg_start..j);
                    arg_start = j + 1;
                }
                _ => {}
            }
        }
        end = t.end;
        j += 1;
    }
    let chan_toks = args.first().map(|r| &toks[r.clone()]).unwrap_or(&[]);
    let chan_params = chan_toks.iter().filter(|t| t.t == T::Param).count();
    let chan = classify_channel(s, chan_toks, params_seen);
    let payload = match args.get(1) {
        Some(r) => classify_payload(s, &toks[r.clone()], params_seen + chan_params),
        None => Payload::none(),
    };
    (
        Item {
            kind: ItemKind::Notify,
            form: "function",
            chan,
            payload: Some(payload),
            range: toks[i].start..end,
        },
        j,
    )
}

/// Strips surrounding parentheses and trailing `::type` casts.
/// Enclosing parentheses peeled at most: each check scans the whole expression, so an
/// unbounded loop is quadratic on pathological nesting (`((((...))))` 50,000 deep).
const MAX_PEEL: usize = 64;

fn strip_expr<'a>(s: &str, mut toks: &'a [Tok]) -> &'a [Tok] {
    let mut peeled = 0;
    loop {
        let n = toks.len();
        if n >= 2
            && peeled < MAX_PEEL
            && is_punct(s, toks.first(), "(")
            && is_punct(s, toks.last(), ")")
        {
            peeled += 1;
            // only if the parentheses match each other
            let mut depth = 0i32;
            let mut whole = true;
            for (k, t) in toks.iter().enumerate() {
                let tx = &s[t.start..t.end];
                if t.t == T::Punct && tx == "(" {
                    depth += 1;
                } else if t.t == T::Punct && tx == ")" {
                    depth -= 1;
                    if depth == 0 && k != n - 1 {
                        whole = false;
                        break;
                    }
                }
            }
            if whole {
                toks = &toks[1..n - 1];
                continue;
            }
        }
        if n >= 3 && toks[n - 2].t == T::Op && &s[toks[n - 2].start..toks[n - 2].end] == "::" {
            toks = &toks[..n - 2];
            continue;
        }
        return toks;
    }
}

fn classify_channel(s: &str, toks: &[Tok], params_seen: usize) -> Chan {
    let toks = strip_expr(s, toks);
    let raw = match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => s[a.start..b.end].to_string(),
        _ => String::new(),
    };
    if let [t] = toks {
        let tx = &s[t.start..t.end];
        match t.t {
            T::Str => {
                let content = str_content(tx);
                if content.contains(HOLE) {
                    let mut c = dynamic_word(&content);
                    c.raw = raw.replace(HOLE, "{…}");
                    return c;
                }
                return Chan {
                    raw,
                    name: Some(content),
                    source: "string",
                    ..Chan::default()
                };
            }
            T::Param => {
                return Chan {
                    raw,
                    source: "param",
                    param: Some(params_seen + 1),
                    param_name: param_name(tx),
                    ..Chan::default()
                };
            }
            T::Word if !tx.contains(HOLE) => {
                return Chan {
                    raw,
                    source: "variable",
                    var: Some(tx.to_lowercase()),
                    ..Chan::default()
                };
            }
            _ => {}
        }
    }
    // 'orders_' || TG_TABLE_NAME, concat('a', b), holes
    let mut pattern = String::new();
    let concat = toks
        .iter()
        .any(|t| t.t == T::Op && &s[t.start..t.end] == "||");
    if concat {
        let mut depth = 0i32;
        let mut part_static: Option<String> = Some(String::new());
        let mut parts: Vec<Option<String>> = Vec::new();
        for t in toks {
            let tx = &s[t.start..t.end];
            match t.t {
                T::Punct if tx == "(" => depth += 1,
                T::Punct if tx == ")" => depth -= 1,
                _ => {}
            }
            if depth == 0 && t.t == T::Op && tx == "||" {
                parts.push(part_static.take());
                part_static = Some(String::new());
                continue;
            }
            match (t.t, &mut part_static) {
                (T::Str, Some(p)) if p.is_empty() && depth == 0 => p.push_str(&str_content(tx)),
                _ => part_static = None,
            }
        }
        parts.push(part_static);
        for p in parts {
            match p {
                Some(text) if !text.is_empty() => pattern.push_str(&text.replace(HOLE, "*")),
                _ => pattern.push('*'),
            }
        }
    }
    let pattern = collapse_stars(&pattern);
    Chan {
        raw: raw.replace(HOLE, "{…}"),
        source: "expr",
        pattern: (!pattern.is_empty() && pattern != "*").then_some(pattern),
        ..Chan::default()
    }
}

const ROW_FUNCS: &[&str] = &["row_to_json", "to_json", "to_jsonb", "hstore"];
const AGG_FUNCS: &[&str] = &[
    "json_agg",
    "jsonb_agg",
    "array_agg",
    "string_agg",
    "json_object_agg",
    "jsonb_object_agg",
];
const OBJ_FUNCS: &[&str] = &[
    "json_build_object",
    "jsonb_build_object",
    "json_object",
    "jsonb_object",
];

/// Classifies a payload expression (see [`Payload::kind`]).
pub(crate) fn classify_payload(s: &str, toks: &[Tok], params_seen: usize) -> Payload {
    let toks = strip_expr(s, toks);
    let text = match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => compact(&s[a.start..b.end].replace(HOLE, "{…}")),
        _ => String::new(),
    };
    let mk = |kind: &'static str| Payload {
        kind,
        text: text.clone(),
        fields: None,
        param: None,
    };
    if toks.is_empty() {
        return Payload::none();
    }
    if let [t] = toks {
        let tx = &s[t.start..t.end];
        if (t.t == T::Str && str_content(tx).is_empty())
            || (t.t == T::Word && tx.eq_ignore_ascii_case("null"))
        {
            return mk("none");
        }
    }
    let word = |t: &Tok| (t.t == T::Word).then(|| s[t.start..t.end].to_ascii_lowercase());
    let next_is = |k: usize, p: &str| is_punct(s, toks.get(k + 1), p);
    // whole row: row_to_json(NEW), to_jsonb(OLD), NEW::text, hstore(NEW)
    for (k, t) in toks.iter().enumerate() {
        let Some(w) = word(t) else { continue };
        if ROW_FUNCS.contains(&w.as_str()) && next_is(k, "(") {
            return mk("row");
        }
        if (w == "new" || w == "old") && !next_is(k, ".") {
            return mk("row");
        }
    }
    for (k, t) in toks.iter().enumerate() {
        let Some(w) = word(t) else { continue };
        if AGG_FUNCS.contains(&w.as_str()) && next_is(k, "(") {
            return mk("aggregate");
        }
    }
    for (k, t) in toks.iter().enumerate() {
        let Some(w) = word(t) else { continue };
        if OBJ_FUNCS.contains(&w.as_str()) && next_is(k, "(") {
            // count top-level arguments of this call
            let mut depth = 0i32;
            let mut args = 0usize;
            let mut any = false;
            for u in &toks[k + 1..] {
                let tx = &s[u.start..u.end];
                if u.t == T::Punct && (tx == "(" || tx == "[") {
                    depth += 1;
                    continue;
                }
                if u.t == T::Punct && (tx == ")" || tx == "]") {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                if depth == 1 && u.t == T::Punct && tx == "," {
                    args += 1;
                    continue;
                }
                any = true;
            }
            if any {
                args += 1;
            }
            let mut p = mk("object");
            p.fields = Some(args / 2);
            return p;
        }
    }
    let has_hole = toks.iter().any(|t| s[t.start..t.end].contains(HOLE));
    let constant = toks.iter().all(|t| {
        t.t == T::Str
            || t.t == T::Num
            || (t.t == T::Op && matches!(&s[t.start..t.end], "||" | "::"))
            || (t.t == T::Word
                && matches!(
                    s[t.start..t.end].to_ascii_lowercase().as_str(),
                    "text" | "varchar" | "json" | "jsonb"
                ))
    });
    if constant && !has_hole {
        return mk("constant");
    }
    if toks
        .iter()
        .enumerate()
        .any(|(k, t)| word(t).is_some_and(|w| w == "new" || w == "old") && next_is(k, "."))
    {
        return mk("key");
    }
    if let Some(pos) = toks.iter().position(|t| t.t == T::Param) {
        let before = toks[..pos].iter().filter(|t| t.t == T::Param).count();
        let mut p = mk("param");
        p.param = Some(params_seen + before + 1);
        return p;
    }
    if has_hole {
        return mk("interpolated");
    }
    mk("expr")
}

pub(crate) fn compact(text: &str) -> String {
    let mut s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 160 {
        let mut end = 160;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// How SQL text was assembled at run time from a PL/pgSQL `EXECUTE` expression:
/// `'NOTIFY ' || quote_ident(ch)`, `format('NOTIFY %I, %L', ch, p)`, or a constant string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Built {
    /// The text with every spliced value replaced by [`HOLE`].
    pub text: String,
    /// `literal`, `concat`, `format`.
    pub with: &'static str,
    /// Values are spliced without quoting (`||` of a bare value, `format` `%s`).
    pub unsafe_splice: bool,
}

/// The SQL text a PL/pgSQL `EXECUTE` expression builds, if it is built from string literals.
pub(crate) fn built_sql(s: &str) -> Option<Built> {
    let toks = lex(s);
    let toks = strip_expr(s, &toks);
    let word = |t: &Tok| (t.t == T::Word).then(|| s[t.start..t.end].to_ascii_lowercase());
    // format('...', args)
    if toks.first().and_then(word).as_deref() == Some("format")
        && is_punct(s, toks.get(1), "(")
        && toks.get(2).is_some_and(|t| t.t == T::Str)
    {
        let fmt = str_content(&s[toks[2].start..toks[2].end]);
        let mut text = String::with_capacity(fmt.len());
        let mut unsafe_splice = false;
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                text.push(c);
                continue;
            }
            // %[position$][-][width]type
            let mut spec = String::new();
            while let Some(&n) = chars.peek() {
                chars.next();
                if n.is_ascii_alphabetic() || n == '%' {
                    spec.push(n);
                    break;
                }
            }
            match spec.as_str() {
                "%" => text.push('%'),
                "I" => text.push(HOLE),
                "L" => {
                    text.push('\'');
                    text.push(HOLE);
                    text.push('\'');
                }
                _ => {
                    unsafe_splice = true;
                    text.push(HOLE);
                }
            }
        }
        return Some(Built {
            text,
            with: "format",
            unsafe_splice,
        });
    }
    if let [t] = toks
        && t.t == T::Str
    {
        return Some(Built {
            text: str_content(&s[t.start..t.end]),
            with: "literal",
            unsafe_splice: false,
        });
    }
    // a || b || ...
    let mut parts: Vec<&[Tok]> = Vec::new();
    let mut depth = 0i32;
    let mut from = 0;
    for (k, t) in toks.iter().enumerate() {
        let tx = &s[t.start..t.end];
        match t.t {
            T::Punct if tx == "(" => depth += 1,
            T::Punct if tx == ")" => depth -= 1,
            T::Op if tx == "||" && depth == 0 => {
                parts.push(&toks[from..k]);
                from = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[from..]);
    if parts.len() < 2 {
        return None;
    }
    let mut text = String::new();
    let mut unsafe_splice = false;
    let mut any_literal = false;
    for p in parts {
        let p = strip_expr(s, p);
        match p {
            [t] if t.t == T::Str => {
                any_literal = true;
                text.push_str(&str_content(&s[t.start..t.end]));
            }
            _ => {
                let f = p.first().and_then(word).unwrap_or_default();
                match f.as_str() {
                    "quote_ident" => text.push(HOLE),
                    "quote_literal" | "quote_nullable" => {
                        text.push('\'');
                        text.push(HOLE);
                        text.push('\'');
                    }
                    _ => {
                        unsafe_splice = true;
                        text.push(HOLE);
                    }
                }
            }
        }
    }
    any_literal.then_some(Built {
        text,
        with: "concat",
        unsafe_splice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (found by the hostile-input suite): peeling enclosing parentheses
    /// rescanned the whole expression per layer, so `pg_notify('c', ((((...'x'...))))`
    /// 50,000 deep took over five minutes.
    #[test]
    fn deeply_parenthesised_argument_is_not_quadratic() {
        let depth = 50_000;
        let s = format!(
            "SELECT pg_notify('ch', {}'x'{});",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let start = std::time::Instant::now();
        let items = scan(&s);
        assert_eq!(items.len(), 1, "{items:#?}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        // Shallow nesting is still seen through.
        let item = one("SELECT pg_notify((('ch')), 'x');");
        assert_eq!(item.chan.raw, "'ch'");
    }

    fn one(s: &str) -> Item {
        let items = scan(s);
        assert_eq!(items.len(), 1, "{s}: {items:#?}");
        items.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn statements_fold_unquoted_names() {
        let it = one("LISTEN Orders;");
        assert_eq!(it.kind, ItemKind::Listen);
        assert_eq!(it.chan.name.as_deref(), Some("orders"));
        assert_eq!(it.chan.raw, "Orders");
        let it = one("listen \"Orders\"");
        assert_eq!(it.chan.name.as_deref(), Some("Orders"));
        assert_eq!(it.chan.source, "quoted");
        let it = one("UNLISTEN *");
        assert_eq!(it.kind, ItemKind::Unlisten);
        assert_eq!(it.chan.source, "all");
        let it = one("NOTIFY jobs, 'ready'");
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("constant"));
        assert_eq!(it.range, 0..20);
        let it = one("BEGIN; NOTIFY jobs; COMMIT;");
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("none"));
    }

    #[test]
    fn prose_is_not_sql() {
        assert!(scan("Please notify the admin when done").is_empty());
        assert!(scan("listen to me").is_empty());
        assert!(scan("SELECT 'NOTIFY x' AS s").is_empty());
        assert!(scan("-- NOTIFY x\nSELECT 1").is_empty());
    }

    #[test]
    fn pg_notify_arguments_are_classified() {
        let it = one("SELECT pg_notify('Orders', NEW.id::text)");
        assert_eq!(it.chan.name.as_deref(), Some("Orders"));
        assert_eq!(it.chan.source, "string");
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("key"));
        let it = one("pg_notify('o', row_to_json(NEW)::text)");
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("row"));
        let it = one("pg_notify('o', json_build_object('id', NEW.id, 'op', TG_OP)::text)");
        let p = it.payload.unwrap_or_else(Payload::none);
        assert_eq!((p.kind, p.fields), ("object", Some(2)));
        let it = one("pg_notify('table_' || TG_TABLE_NAME, 'x')");
        assert_eq!(it.chan.pattern.as_deref(), Some("table_*"));
        assert!(it.chan.dynamic());
        let it = one("SELECT pg_notify($1, $2)");
        assert_eq!(it.chan.param, Some(1));
        assert_eq!(it.payload.as_ref().and_then(|p| p.param), Some(2));
        let it = one("select pg_notify(%s, %s)");
        assert_eq!(it.chan.param, Some(1));
        let it = one("select pg_notify(:channel, :payload)");
        assert_eq!(it.chan.param_name.as_deref(), Some("channel"));
        let it = one("select pg_notify(%(ch)s, %(p)s)");
        assert_eq!(it.chan.param_name.as_deref(), Some("ch"));
        assert_eq!(it.payload.as_ref().and_then(|p| p.param), Some(2));
        let it = one("pg_notify(ch, 'x')");
        assert_eq!(it.chan.var.as_deref(), Some("ch"));
        let it = one("pg_notify('a', (SELECT json_agg(t) FROM new_rows t)::text)");
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("aggregate"));
        let it = one("pg_notify('a', '')");
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("none"));
    }

    #[test]
    fn holes_make_dynamic_channels() {
        let text = format!("LISTEN {HOLE}");
        let it = one(&text);
        assert!(it.chan.dynamic());
        assert_eq!(it.chan.pattern, None);
        let text = format!("NOTIFY orders_{HOLE}, '{HOLE}'");
        let it = one(&text);
        assert_eq!(it.chan.pattern.as_deref(), Some("orders_*"));
        assert_eq!(it.payload.as_ref().map(|p| p.kind), Some("interpolated"));
    }

    #[test]
    fn dollar_bodies_are_scanned() {
        let s =
            "CREATE FUNCTION f() RETURNS void AS $x$ SELECT pg_notify('a', 'b') $x$ LANGUAGE sql;";
        let it = one(s);
        assert_eq!(&s[it.range.clone()], "pg_notify('a', 'b')");
        // unterminated dollar quote: no hang, no panic
        let _ = scan("SELECT $body$ NOTIFY x;");
        let _ = scan("'unterminated");
        let _ = scan("/* open comment");
    }

    #[test]
    fn every_prefix_and_suffix_is_safe() {
        let sample = "NOTIFY \"Ünïcode\", E'caf\\é''s'; LISTEN x; SELECT pg_notify('a' || é, \
                      json_build_object('k', NEW.id)); $t$ UNLISTEN * $t$ /* NOTIFY y */ %(n)s :p $1 \u{1}";
        let cuts: Vec<usize> = (0..=sample.len())
            .filter(|i| sample.is_char_boundary(*i))
            .collect();
        for &i in &cuts {
            let _ = scan(&sample[..i]);
            let _ = scan(&sample[i..]);
            let _ = built_sql(&sample[..i]);
            let _ = built_sql(&sample[i..]);
        }
    }

    #[test]
    fn execute_strings_are_rebuilt() {
        let b = built_sql("'NOTIFY ' || quote_ident(ch) || ', ' || quote_literal(p)")
            .unwrap_or_else(|| unreachable!());
        assert!(!b.unsafe_splice);
        assert_eq!(b.with, "concat");
        let it = one(&b.text);
        assert!(it.chan.dynamic());
        let b = built_sql("'NOTIFY ' || ch || ', ''' || NEW.id || ''''")
            .unwrap_or_else(|| unreachable!());
        assert!(b.unsafe_splice);
        let b = built_sql("format('NOTIFY %I, %L', ch, NEW.id)").unwrap_or_else(|| unreachable!());
        assert!(!b.unsafe_splice);
        assert_eq!(b.with, "format");
        let b = built_sql("format('NOTIFY %s', ch)").unwrap_or_else(|| unreachable!());
        assert!(b.unsafe_splice);
        let b = built_sql("'NOTIFY orders'").unwrap_or_else(|| unreachable!());
        assert_eq!(one(&b.text).chan.name.as_deref(), Some("orders"));
    }
}
