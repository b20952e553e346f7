//! Validation: a raw TOML rule becomes a [`Rule`], or a [`RulebookError`] pointing at the
//! key or value that is wrong, with a suggestion.

use std::ops::Range;

use msgscan_detect::{AttrType, COMMON_FIELDS, KindSpec};
use toml::Spanned;

use crate::cond::{self, Condition, OPERATORS, Test};
use crate::error::{RulebookError, suggest};
use crate::model::{self, RawExists, When};
use crate::query::QueryRule;
use crate::{
    At, CATEGORIES, CHANNEL_FIELDS, ChannelMatch, Exists, LANGUAGES, Match, NATIVE_CHECKS, Rule,
    Severity, SideMatch,
};

type Result<T> = std::result::Result<T, Box<RulebookError>>;

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Cx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        msg: impl Into<String>,
        label: &str,
        help: Option<String>,
    ) -> Box<RulebookError> {
        RulebookError::new(self.file, self.text, span, msg, label, help)
    }
}

/// What a `when` table may name: the fields of one fact kind, or of channels.
#[derive(Clone, Copy)]
enum Subject {
    Kind(&'static KindSpec),
    Channel,
}

impl Subject {
    fn field(self, name: &str) -> Option<Option<AttrType>> {
        match self {
            Subject::Kind(spec) => match spec.attr(name) {
                Some(a) => Some(Some(a.ty)),
                None => COMMON_FIELDS.contains(&name).then_some(None),
            },
            Subject::Channel => CHANNEL_FIELDS.contains(&name).then_some(None),
        }
    }

    fn fields(self) -> Vec<&'static str> {
        match self {
            Subject::Kind(spec) => spec
                .attrs
                .iter()
                .map(|a| a.name)
                .chain(COMMON_FIELDS.iter().copied())
                .collect(),
            Subject::Channel => CHANNEL_FIELDS.to_vec(),
        }
    }

    fn describe(self) -> String {
        match self {
            Subject::Kind(spec) => format!("`{}` facts", spec.kind),
            Subject::Channel => "channels".into(),
        }
    }
}

pub(crate) fn compile(file: &str, text: &str, raw: Spanned<model::RawRule>) -> Result<Rule> {
    let cx = Cx { file, text };
    let rule_span = raw.span();
    let r = raw.into_inner();
    let id = r.id.get_ref().clone();
    let id_ok = !id.is_empty()
        && id.split('-').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !id_ok {
        return Err(cx.err(
            r.id.span(),
            format!("rule id `{id}` is not kebab-case"),
            "here",
            Some("use lower-case words joined by `-`, prefixed by the family (`celery-`, `node-`, ...)".into()),
        ));
    }
    let category = r.category.get_ref();
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(cx.err(
            r.category.span(),
            format!("unknown category `{category}`"),
            "not a category",
            suggest(category, CATEGORIES.iter().copied())
                .or_else(|| Some(format!("one of: {}", CATEGORIES.join(", ")))),
        ));
    }
    let severity = Severity::parse(r.severity.get_ref()).ok_or_else(|| {
        cx.err(
            r.severity.span(),
            format!("unknown severity `{}`", r.severity.get_ref()),
            "not a severity",
            suggest(r.severity.get_ref(), ["error", "warning", "info"])
                .or_else(|| Some("one of: error, warning, info".into())),
        )
    })?;
    for lang in &r.languages {
        if !LANGUAGES.contains(&lang.get_ref().as_str()) {
            return Err(cx.err(
                lang.span(),
                format!("unknown language `{}`", lang.get_ref()),
                "not a language",
                suggest(lang.get_ref(), LANGUAGES.iter().copied())
                    .or_else(|| Some(format!("one of: {}", LANGUAGES.join(", ")))),
            ));
        }
    }
    for reference in &r.references {
        if !reference.get_ref().starts_with("https://") {
            return Err(cx.err(
                reference.span(),
                "references must be https URLs to the primary source",
                "not a URL",
                None,
            ));
        }
    }
    if r.references.is_empty() {
        return Err(cx.err(
            r.id.span(),
            format!("rule `{id}` has no references"),
            "this rule",
            Some("cite the primary source of the practice".into()),
        ));
    }

    // Exactly one way of selecting.
    let given: Vec<(&str, Range<usize>)> = [
        r.matches.as_ref().map(|m| ("match", m.span())),
        r.channel.as_ref().map(|c| ("channel", c.span())),
        r.query.as_ref().map(|q| ("query", q.span())),
        r.native.as_ref().map(|n| ("native", n.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.as_slice() {
        [] => {
            return Err(cx.err(
                r.id.span(),
                format!("rule `{id}` selects nothing"),
                "this rule",
                Some(
                    "add a `[[rule.match]]` with a fact `kind`, a `[rule.channel]`, or a tree-sitter `query`"
                        .into(),
                ),
            ));
        }
        [_] => {}
        [_, (second, span), ..] => {
            return Err(cx.err(
                span.clone(),
                format!("rule `{id}` has both `{}` and `{second}`", given[0].0),
                "second selector",
                Some(
                    "a rule selects facts, channels, or query matches: split it into two rules"
                        .into(),
                ),
            ));
        }
    }
    if let Some(needles) = &r.needles
        && r.query.is_none()
    {
        return Err(cx.err(
            needles.span(),
            "`needles` only applies to `query` rules",
            "not a query rule",
            Some(
                "fact and channel rules use the detectors' own prefilter; remove `needles`".into(),
            ),
        ));
    }

    let mut matches = Vec::new();
    let mut channel = None;
    let mut query = None;
    let mut native = None;
    // Which fields the message may name.
    let placeholder_fields: Vec<Vec<String>>;

    if let Some(raw_matches) = r.matches {
        let span = raw_matches.span();
        let raw_matches = raw_matches.into_inner();
        if raw_matches.is_empty() {
            return Err(cx.err(
                span,
                format!("rule `{id}` selects nothing"),
                "empty",
                Some("add a `[[rule.match]]` with a fact `kind`".into()),
            ));
        }
        let mut kinds = Vec::new();
        for m in raw_matches {
            let spec = kind_spec(&cx, &m.kind)?;
            kinds.push(
                Subject::Kind(spec)
                    .fields()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            );
            let conditions = compile_when(&cx, &m.when, Subject::Kind(spec))?;
            let unless =
                compile_exists(&cx, m.unless_exists, Subject::Kind(spec), "unless-exists")?;
            let requires = compile_exists(&cx, m.if_exists, Subject::Kind(spec), "if-exists")?;
            matches.push(Match {
                kind: spec.kind.to_string(),
                conditions,
                unless,
                requires,
            });
        }
        placeholder_fields = kinds;
    } else if let Some(raw_channel) = r.channel {
        let c = raw_channel.into_inner();
        let at = match &c.at {
            None => At::Auto,
            Some(a) => match a.get_ref().as_str() {
                "producer" => At::Producer,
                "consumer" => At::Consumer,
                other => {
                    return Err(cx.err(
                        a.span(),
                        format!("unknown `at` value `{other}`"),
                        "not a side",
                        suggest(other, ["producer", "consumer"])
                            .or_else(|| Some("one of: producer, consumer".into())),
                    ));
                }
            },
        };
        let side = |raw: Option<model::RawSide>| -> Result<Option<SideMatch>> {
            let Some(raw) = raw else { return Ok(None) };
            let spec = kind_spec(&cx, &raw.kind)?;
            Ok(Some(SideMatch {
                kind: spec.kind.to_string(),
                conditions: compile_when(&cx, &raw.when, Subject::Kind(spec))?,
            }))
        };
        let producer = side(c.producer)?;
        let consumer = side(c.consumer)?;
        let producer_unless = side(c.producer_unless)?;
        let consumer_unless = side(c.consumer_unless)?;
        channel = Some(ChannelMatch {
            conditions: compile_when(&cx, &c.when, Subject::Channel)?,
            at,
            producer,
            consumer,
            producer_unless,
            consumer_unless,
            unless: compile_exists(&cx, c.unless_exists, Subject::Channel, "unless-exists")?,
            requires: compile_exists(&cx, c.if_exists, Subject::Channel, "if-exists")?,
        });
        placeholder_fields = vec![CHANNEL_FIELDS.iter().map(|s| s.to_string()).collect()];
    } else if let Some(q) = r.query {
        let languages: Vec<&str> = r.languages.iter().map(|l| l.get_ref().as_str()).collect();
        let needles = r.needles.map(|n| n.into_inner()).unwrap_or_default();
        let compiled = QueryRule::compile(q.get_ref(), &languages, needles).map_err(|e| {
            let at = string_content_start(text, q.span()) + e.offset;
            cx.err(
                at.min(q.span().end)..(at + 1).min(q.span().end),
                format!(
                    "invalid tree-sitter query for {}: {}",
                    e.language, e.message
                ),
                "here",
                e.help,
            )
        })?;
        placeholder_fields = vec![
            compiled
                .capture_names()
                .into_iter()
                .chain(["path".to_string(), "language".to_string()])
                .collect(),
        ];
        query = Some(compiled);
    } else if let Some(n) = r.native {
        if !NATIVE_CHECKS.contains(&n.get_ref().as_str()) {
            return Err(cx.err(
                n.span(),
                format!("unknown native check `{}`", n.get_ref()),
                "not implemented in msgscan",
                suggest(n.get_ref(), NATIVE_CHECKS.iter().copied())
                    .or_else(|| Some(format!("one of: {}", NATIVE_CHECKS.join(", ")))),
            ));
        }
        placeholder_fields = vec![vec!["rules".into(), "path".into()]];
        native = Some(n.into_inner());
    } else {
        return Err(cx.err(rule_span, "rule selects nothing", "this rule", None));
    }

    // Placeholders must name a field every alternative has.
    let msg = r.message.get_ref();
    let mut rest = msg.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let known = placeholder_fields
            .iter()
            .all(|fields| fields.iter().any(|f| f == name));
        if !known {
            let base = r.message.span();
            let at = text
                .get(base.clone())
                .and_then(|s| s.find(&format!("{{{name}}}")))
                .map(|i| base.start + i..base.start + i + name.len() + 2)
                .unwrap_or(base);
            let candidates: Vec<&str> = placeholder_fields
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            return Err(cx.err(
                at,
                format!("placeholder `{{{name}}}` is not a field of every selected item"),
                "unknown placeholder",
                suggest(name, candidates.iter().copied()).or_else(|| {
                    let mut c = candidates.clone();
                    c.sort_unstable();
                    c.dedup();
                    Some(format!("available: {}", c.join(", ")))
                }),
            ));
        }
        offset += open + close + 1;
        rest = &msg[offset..];
    }
    Ok(Rule {
        id,
        title: r.title,
        category: category.clone(),
        severity,
        languages: r.languages.into_iter().map(|l| l.into_inner()).collect(),
        message: msg.clone(),
        why: r.why.trim().to_string(),
        fix: r.fix.trim().to_string(),
        references: r.references.into_iter().map(|s| s.into_inner()).collect(),
        example_bad: r.example.bad,
        example_good: r.example.good,
        matches,
        channel,
        query,
        native,
        source: file.to_string(),
    })
}

/// Where the content of a TOML string starts (after its quotes and, for multi-line
/// strings, the newline TOML trims).
fn string_content_start(text: &str, span: Range<usize>) -> usize {
    let s = text.get(span.clone()).unwrap_or_default();
    let mut at = span.start;
    for q in ["'''", "\"\"\""] {
        if let Some(rest) = s.strip_prefix(q) {
            at += 3;
            if rest.starts_with("\r\n") {
                at += 2;
            } else if rest.starts_with('\n') {
                at += 1;
            }
            return at;
        }
    }
    if s.starts_with('\'') || s.starts_with('"') {
        at += 1;
    }
    at
}

fn kind_spec(cx: &Cx<'_>, kind: &Spanned<String>) -> Result<&'static KindSpec> {
    let name = kind.get_ref();
    msgscan_detect::kind(name).ok_or_else(|| {
        cx.err(
            kind.span(),
            format!("unknown fact kind `{name}`"),
            "no detector emits this",
            suggest(name, msgscan_detect::kinds().map(|k| k.kind)),
        )
    })
}

fn unknown_field(cx: &Cx<'_>, field: &Spanned<String>, subject: Subject) -> Box<RulebookError> {
    let name = field.get_ref();
    cx.err(
        field.span(),
        format!("{} have no field `{name}`", subject.describe()),
        "unknown field",
        suggest(name, subject.fields())
            .or_else(|| Some(format!("fields: {}", subject.fields().join(", ")))),
    )
}

fn compile_when(cx: &Cx<'_>, when: &When, subject: Subject) -> Result<Vec<Condition>> {
    let mut conditions = Vec::new();
    for (field, test) in when {
        let field_name = field.get_ref();
        let Some(ty) = subject.field(field_name) else {
            return Err(unknown_field(cx, field, subject));
        };
        let tests = match test.get_ref() {
            toml::Value::Table(ops) => {
                let mut tests = Vec::new();
                for (op, arg) in ops {
                    let t = cond::compile_op(op, arg).map_err(|msg| {
                        let help = if OPERATORS.contains(&op.as_str()) {
                            None
                        } else {
                            suggest(op, OPERATORS.iter().copied())
                        };
                        cx.err(
                            test.span(),
                            format!("in `{field_name}`: {msg}"),
                            "this condition",
                            help,
                        )
                    })?;
                    tests.push(t);
                }
                tests
            }
            toml::Value::Array(_) => {
                return Err(cx.err(
                    test.span(),
                    format!("`{field_name}` is compared with an array"),
                    "ambiguous",
                    Some(format!(
                        "write `{field_name} = {{ in = [...] }}` or `{{ contains = ... }}`"
                    )),
                ));
            }
            literal => {
                if let (Some(AttrType::Bool), toml::Value::String(_)) = (ty, literal) {
                    return Err(cx.err(
                        test.span(),
                        format!("`{field_name}` is a boolean"),
                        "a string",
                        Some("write `true` or `false` without quotes".into()),
                    ));
                }
                vec![Test::Eq(cond::json(literal))]
            }
        };
        conditions.push(Condition {
            field: field_name.clone(),
            tests,
        });
    }
    Ok(conditions)
}

fn compile_exists(
    cx: &Cx<'_>,
    raw: Vec<Spanned<RawExists>>,
    selected: Subject,
    key: &str,
) -> Result<Vec<Exists>> {
    let mut out = Vec::new();
    for e in raw {
        let span = e.span();
        let e = e.into_inner();
        let subject = match (selected, &e.kind) {
            (Subject::Kind(_), Some(kind)) => Subject::Kind(kind_spec(cx, kind)?),
            (Subject::Kind(_), None) => {
                return Err(cx.err(
                    span,
                    format!("`{key}` needs a fact `kind`"),
                    "no kind",
                    Some(format!(
                        "write `{key} = {{ kind = \"...\", when = {{ ... }} }}`"
                    )),
                ));
            }
            (Subject::Channel, Some(kind)) => {
                return Err(cx.err(
                    kind.span(),
                    format!("`{key}` of a channel rule looks at channels, not facts"),
                    "remove `kind`",
                    Some("state conditions on channel fields in `when`".into()),
                ));
            }
            (Subject::Channel, None) => Subject::Channel,
        };
        let conditions = compile_when(cx, &e.when, subject)?;
        let mut same = Vec::new();
        for (theirs, ours) in &e.same {
            if subject.field(theirs.get_ref()).is_none() {
                return Err(unknown_field(cx, theirs, subject));
            }
            if selected.field(ours.get_ref()).is_none() {
                return Err(unknown_field(cx, ours, selected));
            }
            same.push((theirs.get_ref().clone(), ours.get_ref().clone()));
        }
        let mut distinct = Vec::new();
        for d in &e.distinct {
            if subject.field(d.get_ref()).is_none() || selected.field(d.get_ref()).is_none() {
                return Err(unknown_field(cx, d, subject));
            }
            distinct.push(d.get_ref().clone());
        }
        out.push(Exists {
            distinct,
            kind: e.kind.map(|k| k.into_inner()),
            conditions,
            same,
            ignore_case: e.ignore_case,
        });
    }
    Ok(out)
}
