//! The fact model: what a detector saw, where, with which options. Never a severity.

use std::collections::BTreeMap;

use msgscan_lang::Language;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The part a fact plays in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Producer,
    Consumer,
    Definition,
    Config,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
            Role::Definition => "definition",
            Role::Config => "config",
        }
    }
}

/// One messaging construct found in one file.
///
/// Positions are 1-based; columns count characters. `attrs` are documented per kind in
/// [`crate::kinds`] and serialise in key order, so output is deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Stable id, `kind@path:line:column` (a `#n` suffix separates facts of one kind that
    /// start at the same place). Assigned when the project's facts are merged.
    #[serde(default)]
    pub id: String,
    pub kind: String,
    pub language: Language,
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    /// The task, event, channel or table this fact is about, where there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    pub role: Role,
    pub transport: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub attrs: BTreeMap<String, Value>,
}

impl Fact {
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attrs.get(key)
    }

    /// The value of a field or attribute by the names rules use: `name`, `kind`, `path`,
    /// `language`, `role`, `transport`, or an attribute.
    pub fn field(&self, key: &str) -> Option<Value> {
        match key {
            "name" => self.name.clone().map(Value::String),
            "kind" => Some(Value::String(self.kind.clone())),
            "path" => Some(Value::String(self.path.clone())),
            "language" => Some(Value::String(self.language.name().to_string())),
            "role" => Some(Value::String(self.role.as_str().to_string())),
            "transport" => Some(Value::String(self.transport.clone())),
            _ => self.attrs.get(key).cloned(),
        }
    }

    /// Sort key: path, position, kind, name.
    pub fn sort_key(&self) -> (&str, u32, u32, &str, Option<&str>) {
        (
            &self.path,
            self.line,
            self.column,
            &self.kind,
            self.name.as_deref(),
        )
    }
}

/// The type of an attribute, for validating rules that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    Bool,
    Int,
    String,
    /// A list of strings.
    List,
    /// A value as written in source: a literal (string, number, bool, null for Python
    /// `None`, list) or `{"expr": "<source text>"}` for anything not a literal.
    Value,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::Bool => "bool",
            AttrType::Int => "int",
            AttrType::String => "string",
            AttrType::List => "list",
            AttrType::Value => "value",
        }
    }
}

/// A documented attribute of a fact kind.
#[derive(Debug, Clone, Copy)]
pub struct AttrSpec {
    pub name: &'static str,
    pub ty: AttrType,
    pub doc: &'static str,
}

/// A fact kind: its transport, role and attributes.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    pub kind: &'static str,
    pub transport: &'static str,
    pub doc: &'static str,
    pub attrs: &'static [AttrSpec],
}

impl KindSpec {
    pub fn attr(&self, name: &str) -> Option<&AttrSpec> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// Fields every fact has, usable in rule conditions and messages besides the attributes.
pub const COMMON_FIELDS: &[&str] = &["name", "kind", "path", "language", "role", "transport"];

/// `attrs! { "name": Type = "doc", ... }`: the attribute table of a [`KindSpec`].
macro_rules! attrs {
    ($( $name:literal : $ty:ident = $doc:literal ),* $(,)?) => {
        &[ $( $crate::fact::AttrSpec {
            name: $name,
            ty: $crate::fact::AttrType::$ty,
            doc: $doc,
        } ),* ]
    };
}
pub(crate) use attrs;
