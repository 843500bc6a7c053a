//! Mappings as PyYAML 6.0.4 builds them: `<<` merge keys, keys compared
//! as a Python dict compares them, repeated keys and merge conflicts noted.

use super::scalar::Kind;
use super::source::Position;
use super::value::{Entry, Int, KeyIdentity, Mapping, Value};
use super::{Loader, Node, RepeatedKey, at, join, key_text};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

impl Loader {
    /// A mapping as PyYAML 6.0.4 builds it: the entries of the mappings
    /// merged with `<<` first, in order, each key node once; then the
    /// mapping's own; a later value replacing an earlier one for the same
    /// key (which keeps its place, as in a Python dict).
    pub(super) fn build_mapping(
        &mut self,
        entries: Vec<(Node, Value)>,
        path: &str,
        start: Position,
    ) -> Result<Mapping, String> {
        let mut merged: Vec<(Entry, usize, usize)> = Vec::new();
        let mut seen = HashSet::new();
        let mut own = Vec::with_capacity(entries.len());
        let mut sources = 0;
        for (key, value) in entries {
            if key.special != Some(Kind::Merge) {
                own.push((key, value));
                continue;
            }
            let invalid = |found: &str| {
                at(
                    key.start,
                    &join(path, "<<"),
                    &format!(
                        "is an invalid merge key: expected a mapping or list of mappings for merging, but found {found}"
                    ),
                )
            };
            let maps: Vec<Arc<Mapping>> = match value {
                Value::Map(mapping) => vec![mapping],
                Value::Seq(items) => items
                    .iter()
                    .map(|item| match item {
                        Value::Map(mapping) => Ok(Arc::clone(mapping)),
                        other => Err(invalid(other.kind())),
                    })
                    .collect::<Result<_, _>>()?,
                Value::Recursive => {
                    return Err(at(
                        key.start,
                        &join(path, "<<"),
                        "merges a mapping into itself, which this tool does not read",
                    ));
                }
                other => return Err(invalid(other.kind())),
            };
            for mapping in maps {
                sources += 1;
                for entry in &mapping.entries {
                    self.spend(key.start)?;
                    if seen.insert(entry.identity.clone()) {
                        merged.push((entry.clone(), sources, key.start.line));
                    }
                }
            }
        }
        let mut mapping = Mapping::default();
        // Where each key is in `mapping`, and which merged mapping set it
        // (0: the mapping's own).
        let mut index: HashMap<Hashed, (usize, usize)> = HashMap::new();
        let mut conflicts = Vec::new();
        for (entry, source, line) in merged {
            let hashed = hashed(&entry.key, &mut self.nodes).ok_or_else(|| {
                at(
                    start,
                    path,
                    "merges a key that is a list or a mapping, which the server cannot read",
                )
            })?;
            match index.get_mut(&hashed) {
                Some((at, from)) => {
                    if *from != source {
                        conflicts.push((hashed.clone(), line));
                    }
                    *from = source;
                    mapping.entries[*at].value = entry.value;
                }
                None => {
                    index.insert(hashed, (mapping.entries.len(), source));
                    mapping.entries.push(entry);
                }
            }
        }
        for (key, value) in own {
            let hashed = hashed(&key.value, &mut self.nodes).ok_or_else(|| {
                at(
                    key.start,
                    path,
                    "has a key that is a list or a mapping, which the server cannot read",
                )
            })?;
            match index.get_mut(&hashed) {
                Some((at, from)) => {
                    if *from == 0 {
                        self.repeated_keys.push(RepeatedKey {
                            path: join(path, &key_text(&key.value)),
                            line: key.start.line,
                        });
                    }
                    *from = 0;
                    mapping.entries[*at].value = value;
                }
                None => {
                    index.insert(hashed, (mapping.entries.len(), 0));
                    mapping.entries.push(Entry {
                        key: key.value,
                        value,
                        identity: key.identity,
                    });
                }
            }
        }
        for (hashed, line) in conflicts {
            if let Some(&(at, from)) = index.get(&hashed) {
                if from != 0 {
                    self.merge_conflicts.push(RepeatedKey {
                        path: join(path, &key_text(&mapping.entries[at].key)),
                        line,
                    });
                }
            }
        }
        Ok(mapping)
    }
}

/// A key as a Python dict compares it: `1`, `1.0` and `true` are one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Hashed {
    Null,
    Int(i64),
    Float(u64),
    Str(Arc<str>),
    /// Compared by value in Python, but not kept here: taken as different.
    Unique(u64),
}

/// `None` for a key Python cannot hash (a list, a mapping, a set).
fn hashed(key: &Value, counter: &mut u64) -> Option<Hashed> {
    let mut unique = || {
        *counter += 1;
        Hashed::Unique(*counter)
    };
    Some(match key {
        Value::Null => Hashed::Null,
        Value::Bool(b) => Hashed::Int(i64::from(*b)),
        Value::Int(Int::Small(n)) => Hashed::Int(*n),
        #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Hashed::Int(*f as i64),
        Value::Float(f) if !f.is_nan() => Hashed::Float(f.to_bits()),
        Value::Str(text) => Hashed::Str(Arc::clone(text)),
        Value::Seq(_) | Value::Map(_) | Value::Recursive => return None,
        Value::Other { kind, .. } if *kind == "a set" || *kind == "a list of pairs" => return None,
        Value::Int(Int::Big) | Value::Float(_) | Value::Other { .. } => unique(),
    })
}

/// The identity PyYAML 6.0.4's merge compares a key node by.
pub(super) fn identity_of(value: &Value, node: u64) -> KeyIdentity {
    if let Value::Str(text) = value {
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (None, _) => return KeyIdentity::Shared(None),
            (Some(c), None) if u32::from(c) < 0x100 => return KeyIdentity::Shared(Some(c)),
            _ => {}
        }
    }
    KeyIdentity::Node(node)
}
