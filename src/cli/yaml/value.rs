//! The values PyYAML's `safe_load` builds, as far as the tool needs to tell
//! them apart. Collections and strings are shared (`Arc`), as PyYAML shares an
//! aliased node: an alias costs nothing however large its anchor.

use std::sync::Arc;

/// A loaded YAML value.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(Int),
    Float(f64),
    Str(Arc<str>),
    Seq(Arc<Vec<Value>>),
    Map(Arc<Mapping>),
    /// What Python builds as another type (a date, bytes, a set, a list of
    /// pairs): never a string, list or mapping to the server; only whether
    /// Python takes it as true is kept.
    Other {
        kind: &'static str,
        truthy: bool,
    },
    /// An alias inside the collection it names: PyYAML builds a structure
    /// that contains itself; only that it is a non-empty collection is kept.
    Recursive,
}

/// A Python integer: exact when it fits in 64 bits; larger ones are never
/// a setting the tool reads (a port, a flag), only never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int {
    Small(i64),
    Big,
}

/// A mapping in the order its keys first appeared, as a Python dict keeps
/// them, each key once.
#[derive(Debug, Default)]
pub struct Mapping {
    pub(super) entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) key: Value,
    pub(super) value: Value,
    /// Which key node this entry came from, for PyYAML 6.0.4's merge (see
    /// `KeyIdentity`).
    pub(super) identity: KeyIdentity,
}

/// What PyYAML 6.0.4 compares to drop a merged key it has seen already:
/// the identity of the key node's text, which is the same object when the
/// same node is merged twice, and for any one-character (Latin-1) or empty
/// text, which CPython keeps one shared object of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum KeyIdentity {
    Node(u64),
    Shared(Option<char>),
}

impl Mapping {
    /// The value of a string key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|entry| entry.key.as_str() == Some(key))
            .map(|entry| &entry.value)
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.entries.iter().map(|entry| (&entry.key, &entry.value))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Str(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&Mapping> {
        match self {
            Value::Map(mapping) => Some(mapping),
            _ => None,
        }
    }

    /// The value of a string key, when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_mapping()?.get(key)
    }

    /// Whether the server, reading this value as a Python object, takes it
    /// as true: Synapse tests its flags for truth, not for `True`, so an
    /// empty string, list or mapping and zero are false, anything else true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(Int::Small(n)) => *n != 0,
            Value::Int(Int::Big) | Value::Recursive => true,
            // NaN is true in Python too.
            Value::Float(f) => *f != 0.0,
            Value::Str(text) => !text.is_empty(),
            Value::Seq(items) => !items.is_empty(),
            Value::Map(mapping) => !mapping.is_empty(),
            Value::Other { truthy, .. } => *truthy,
        }
    }

    /// What Python calls this value's type, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Other { kind, .. } => kind,
            Value::Recursive => "a collection that contains itself",
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Str(text.into())
    }
}
