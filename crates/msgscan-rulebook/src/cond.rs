//! Conditions on fact fields: compiled from the TOML `when` tables, evaluated per fact.

use regex::Regex;
use serde_json::Value;

/// One test on one field's value (`None` when the fact lacks the field).
#[derive(Debug, Clone)]
pub enum Test {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Contains(Value),
    ContainsAny(Vec<Value>),
    NotContains(Value),
    Matches(Regex),
    NotMatches(Regex),
    Present(bool),
    IsNone,
    Empty(bool),
    Cmp(std::cmp::Ordering, bool, f64),
}

/// The operators a `when` table accepts, for error messages and suggestions.
pub const OPERATORS: &[&str] = &[
    "eq",
    "ne",
    "in",
    "not-in",
    "contains",
    "contains-any",
    "not-contains",
    "matches",
    "not-matches",
    "present",
    "is",
    "empty",
    "gt",
    "ge",
    "lt",
    "le",
];

/// A field and the tests its value must pass (all of them).
#[derive(Debug, Clone)]
pub struct Condition {
    pub field: String,
    pub tests: Vec<Test>,
}

impl Condition {
    pub fn holds(&self, value: Option<&Value>) -> bool {
        self.tests.iter().all(|t| t.holds(value))
    }
}

fn text_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => m.get("expr").and_then(Value::as_str),
        _ => None,
    }
}

fn eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn contains(hay: &Value, needle: &Value) -> bool {
    match hay {
        Value::Array(items) => items.iter().any(|i| eq(i, needle)),
        Value::String(s) => needle.as_str().is_some_and(|n| s.contains(n)),
        _ => false,
    }
}

impl Test {
    pub fn holds(&self, value: Option<&Value>) -> bool {
        match self {
            Test::Eq(x) => value.is_some_and(|v| eq(v, x)),
            Test::Ne(x) => !value.is_some_and(|v| eq(v, x)),
            Test::In(xs) => value.is_some_and(|v| xs.iter().any(|x| eq(v, x))),
            Test::NotIn(xs) => !value.is_some_and(|v| xs.iter().any(|x| eq(v, x))),
            Test::Contains(x) => value.is_some_and(|v| contains(v, x)),
            Test::ContainsAny(xs) => value.is_some_and(|v| xs.iter().any(|x| contains(v, x))),
            Test::NotContains(x) => !value.is_some_and(|v| contains(v, x)),
            Test::Matches(re) => value.is_some_and(|v| matches(v, re)),
            Test::NotMatches(re) => !value.is_some_and(|v| matches(v, re)),
            Test::Present(p) => value.is_some() == *p,
            Test::IsNone => matches!(value, Some(Value::Null)),
            Test::Empty(e) => {
                let empty = match value {
                    None | Some(Value::Null) => true,
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(Value::String(s)) => s.is_empty(),
                    Some(_) => false,
                };
                empty == *e
            }
            Test::Cmp(ord, or_equal, x) => value.and_then(Value::as_f64).is_some_and(|v| {
                v.partial_cmp(x)
                    .is_some_and(|o| o == *ord || (*or_equal && o.is_eq()))
            }),
        }
    }
}

fn matches(v: &Value, re: &Regex) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| matches(i, re)),
        other => text_of(other).is_some_and(|s| re.is_match(s)),
    }
}

/// TOML → JSON value for comparisons.
pub fn json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(a) => Value::Array(a.iter().map(json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
        toml::Value::Datetime(d) => Value::String(d.to_string()),
    }
}

/// Compiles one operator; `Err` carries a message for the user.
pub fn compile_op(op: &str, arg: &toml::Value) -> Result<Test, String> {
    let list = || match arg {
        toml::Value::Array(a) => Ok(a.iter().map(json).collect::<Vec<_>>()),
        _ => Err(format!("`{op}` takes an array")),
    };
    let boolean = || {
        arg.as_bool()
            .ok_or_else(|| format!("`{op}` takes `true` or `false`"))
    };
    let number = || match arg {
        toml::Value::Integer(i) => Ok(*i as f64),
        toml::Value::Float(f) => Ok(*f),
        _ => Err(format!("`{op}` takes a number")),
    };
    let regex = || {
        let s = arg
            .as_str()
            .ok_or_else(|| format!("`{op}` takes a regular expression string"))?;
        Regex::new(s).map_err(|e| format!("invalid regular expression: {e}"))
    };
    use std::cmp::Ordering::*;
    Ok(match op {
        "eq" => Test::Eq(json(arg)),
        "ne" => Test::Ne(json(arg)),
        "in" => Test::In(list()?),
        "not-in" => Test::NotIn(list()?),
        "contains" => Test::Contains(json(arg)),
        "contains-any" => Test::ContainsAny(list()?),
        "not-contains" => Test::NotContains(json(arg)),
        "matches" => Test::Matches(regex()?),
        "not-matches" => Test::NotMatches(regex()?),
        "present" => Test::Present(boolean()?),
        "empty" => Test::Empty(boolean()?),
        "is" => match arg.as_str() {
            Some("none" | "null") => Test::IsNone,
            _ => return Err("`is` takes \"none\" (Python `None`, JSON null)".into()),
        },
        "gt" => Test::Cmp(Greater, false, number()?),
        "ge" => Test::Cmp(Greater, true, number()?),
        "lt" => Test::Cmp(Less, false, number()?),
        "le" => Test::Cmp(Less, true, number()?),
        _ => return Err(format!("unknown operator `{op}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(op: &str, arg: toml::Value) -> Test {
        compile_op(op, &arg).unwrap()
    }

    #[test]
    fn operators() {
        let list = json!(["json", "pickle"]);
        assert!(t("contains", "pickle".into()).holds(Some(&list)));
        assert!(!t("contains", "pick".into()).holds(Some(&list)));
        assert!(t("contains", "pick".into()).holds(Some(&json!("pickle"))));
        assert!(t("not-contains", "x".into()).holds(None));
        assert!(t("is", "none".into()).holds(Some(&Value::Null)));
        assert!(!t("is", "none".into()).holds(None));
        assert!(t("present", false.into()).holds(None));
        assert!(t("empty", true.into()).holds(Some(&json!([]))));
        assert!(t("ge", 3600.into()).holds(Some(&json!(3600))));
        assert!(!t("gt", 3600.into()).holds(Some(&json!(3600))));
        assert!(t("matches", "^Inf".into()).holds(Some(&json!({"expr": "Infinity"}))));
        assert!(t("eq", 0.into()).holds(Some(&json!(0))));
        assert!(t("ne", 0.into()).holds(None));
        assert!(compile_op("bogus", &0.into()).is_err());
        assert!(compile_op("in", &0.into()).is_err());
        assert!(compile_op("matches", &"(".into()).is_err());
    }
}
