//! Judging: fact rules (with project-level conditions) and channel rules.

use std::collections::{BTreeSet, HashMap, HashSet};

use msgscan_detect::{Channel, Fact, Topology};
use serde_json::Value;

use crate::{At, ChannelMatch, Exists, Finding, Rule, display};

type ByKind<'a> = HashMap<&'a str, Vec<&'a Fact>>;

pub(crate) fn judge(rules: &[Rule], facts: &[Fact], topology: &Topology) -> Vec<Finding> {
    let mut by_kind: ByKind<'_> = HashMap::new();
    for f in facts {
        by_kind.entry(f.kind.as_str()).or_default().push(f);
    }
    let by_id: HashMap<&str, &Fact> = facts.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut findings = Vec::new();
    for rule in rules {
        if let Some(ch) = &rule.channel {
            judge_channels(rule, ch, topology, &by_id, &mut findings);
            continue;
        }
        let mut seen = HashSet::new();
        for m in &rule.matches {
            for fact in by_kind.get(m.kind.as_str()).into_iter().flatten() {
                if !rule.languages.iter().any(|l| l == fact.language.name()) {
                    continue;
                }
                if !m.selects(fact) {
                    continue;
                }
                let get = |k: &str| fact.field(k);
                let exists = |e: &Exists| fact_exists(e, &by_kind, fact, &get);
                if m.unless.iter().any(exists) || !m.requires.iter().all(exists) {
                    continue;
                }
                if !seen.insert(fact.id.as_str()) {
                    continue;
                }
                findings.push(finding(rule, fact, rule.render_message(fact)));
            }
        }
    }
    findings
}

fn finding(rule: &Rule, at: &Fact, message: String) -> Finding {
    Finding {
        rule: rule.id.clone(),
        title: rule.title.clone(),
        severity: rule.severity,
        category: rule.category.clone(),
        path: at.path.clone(),
        line: at.line,
        column: at.column,
        end_line: at.end_line,
        end_column: at.end_column,
        message,
        help: rule.fix.clone(),
        docs_url: rule.docs_url(),
        fact: Some(at.id.clone()),
        fingerprint: String::new(),
    }
}

fn same_value(a: Option<&Value>, b: Option<&Value>, ignore_case: bool) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) if ignore_case => {
            x.to_lowercase() == y.to_lowercase()
        }
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Whether another fact of the project matches `e` (agreeing with `ours` on `same`).
fn fact_exists(
    e: &Exists,
    by_kind: &ByKind<'_>,
    selected: &Fact,
    ours: &dyn Fn(&str) -> Option<Value>,
) -> bool {
    let Some(kind) = &e.kind else { return false };
    by_kind
        .get(kind.as_str())
        .into_iter()
        .flatten()
        .any(|other| {
            other.id != selected.id
                && e.conditions
                    .iter()
                    .all(|c| c.holds(other.field(&c.field).as_ref()))
                && e.same.iter().all(|(theirs, mine)| {
                    same_value(
                        other.field(theirs).as_ref(),
                        ours(mine).as_ref(),
                        e.ignore_case,
                    )
                })
                && e.distinct.iter().all(|d| other.field(d) != ours(d))
        })
}

/// The value of a channel field (see [`crate::CHANNEL_FIELDS`]).
pub(crate) fn channel_field(
    ch: &Channel,
    key: &str,
    by_id: &HashMap<&str, &Fact>,
) -> Option<Value> {
    let ids = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    let kinds = |v: &[String]| {
        let set: BTreeSet<&str> = v
            .iter()
            .filter_map(|id| by_id.get(id.as_str()))
            .map(|f| f.kind.as_str())
            .collect();
        Value::Array(set.into_iter().map(|s| Value::String(s.into())).collect())
    };
    Some(match key {
        "id" => Value::String(ch.id.clone()),
        "transport" => Value::String(ch.transport.clone()),
        "name" => Value::String(ch.name.clone()),
        // What the name is scoped to (an emitter, a namespace), "" for global names.
        "scope" => Value::String(
            ch.id
                .strip_prefix(&format!("{}:{}", ch.transport, ch.name))
                .and_then(|s| s.strip_prefix('@'))
                .unwrap_or_default()
                .to_string(),
        ),
        "producers" => ids(&ch.producers),
        "consumers" => ids(&ch.consumers),
        "producer_count" => Value::from(ch.producers.len()),
        "consumer_count" => Value::from(ch.consumers.len()),
        "producer_kinds" => kinds(&ch.producers),
        "consumer_kinds" => kinds(&ch.consumers),
        "languages" => {
            let set: BTreeSet<&str> = ch
                .producers
                .iter()
                .chain(&ch.consumers)
                .filter_map(|id| by_id.get(id.as_str()))
                .map(|f| f.language.name())
                .collect();
            Value::Array(set.into_iter().map(|s| Value::String(s.into())).collect())
        }
        _ => return None,
    })
}

fn channel_holds(
    conditions: &[crate::Condition],
    ch: &Channel,
    by_id: &HashMap<&str, &Fact>,
) -> bool {
    conditions
        .iter()
        .all(|c| c.holds(channel_field(ch, &c.field, by_id).as_ref()))
}

fn channel_exists(
    e: &Exists,
    topology: &Topology,
    selected: &Channel,
    by_id: &HashMap<&str, &Fact>,
) -> bool {
    topology.channels.iter().any(|other| {
        other.id != selected.id
            && channel_holds(&e.conditions, other, by_id)
            && e.same.iter().all(|(theirs, mine)| {
                same_value(
                    channel_field(other, theirs, by_id).as_ref(),
                    channel_field(selected, mine, by_id).as_ref(),
                    e.ignore_case,
                )
            })
            && e.distinct
                .iter()
                .all(|d| channel_field(other, d, by_id) != channel_field(selected, d, by_id))
    })
}

fn judge_channels(
    rule: &Rule,
    m: &ChannelMatch,
    topology: &Topology,
    by_id: &HashMap<&str, &Fact>,
    out: &mut Vec<Finding>,
) {
    for ch in &topology.channels {
        if !channel_holds(&m.conditions, ch, by_id) {
            continue;
        }
        if m.unless
            .iter()
            .any(|e| channel_exists(e, topology, ch, by_id))
            || !m
                .requires
                .iter()
                .all(|e| channel_exists(e, topology, ch, by_id))
        {
            continue;
        }
        let first = |ids: &[String], side: Option<&crate::SideMatch>| {
            ids.iter()
                .filter_map(|id| by_id.get(id.as_str()).copied())
                .filter(|f| side.is_none_or(|s| s.selects(f)))
                .min_by(|a, b| a.sort_key().cmp(&b.sort_key()))
        };
        let any = |ids: &[String], side: Option<&crate::SideMatch>| {
            side.is_some_and(|s| {
                ids.iter()
                    .filter_map(|id| by_id.get(id.as_str()))
                    .any(|f| s.selects(f))
            })
        };
        if any(&ch.producers, m.producer_unless.as_ref())
            || any(&ch.consumers, m.consumer_unless.as_ref())
        {
            continue;
        }
        let producer = first(&ch.producers, m.producer.as_ref());
        let consumer = first(&ch.consumers, m.consumer.as_ref());
        if (m.producer.is_some() && producer.is_none())
            || (m.consumer.is_some() && consumer.is_none())
        {
            continue;
        }
        let at = match m.at {
            At::Producer => producer,
            At::Consumer => consumer,
            At::Auto => producer.or(consumer),
        };
        let Some(at) = at else { continue };
        if !rule.languages.iter().any(|l| l == at.language.name()) {
            continue;
        }
        let message = crate::query::render(&rule.message, |k| {
            Some(display(channel_field(ch, k, by_id).as_ref()))
        });
        out.push(finding(rule, at, message));
    }
}
