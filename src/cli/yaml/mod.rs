//! YAML read as PyYAML's `safe_load` reads it, since that is how Synapse and
//! the reference script read a homeserver config: YAML 1.1 (line breaks
//! include NEL, LS and PS; `yes`, `no`, `on`, `off` are booleans, `010` is
//! octal, `8_008` is a number, `2026-11-27` is a date), `<<` merge keys as
//! PyYAML 6.0.4 merges them, and a key repeated in one mapping keeps its
//! last value. `source` gives the events (libyaml's, adjusted to PyYAML's
//! scanner); what they build is decided here, mappings and their `<<`
//! merges in `merge`, what a scalar means in `scalar`. No message holds a
//! value from the text: it may be a secret.

mod libyaml;
mod merge;
mod scalar;
mod source;
mod value;

use merge::identity_of;
use scalar::{CORE, Kind};
use source::{Located, Position, Stop};
use std::collections::HashMap;
use std::sync::Arc;
use value::KeyIdentity;
pub use value::{Int, Mapping, Value};

use libyaml::{EventData, ScalarStyle};

/// Deeper nesting is no homeserver config; PyYAML itself stops (Python's
/// recursion limit) somewhat deeper.
const MAX_DEPTH: usize = 128;
/// What aliases and merge keys may add in all: one per alias and one per
/// entry a merge copies. Aliases are shared, not copied, so only chains of
/// merges can grow a config beyond its size; real configs use a handful.
const MAX_EXPANSION: usize = 250_000;

/// A parsed file: its value (`None` when it holds no document), the keys
/// that appear more than once in one mapping, and the keys that mappings
/// merged into one mapping set differently.
#[derive(Debug)]
pub struct Document {
    pub value: Option<Value>,
    pub repeated_keys: Vec<RepeatedKey>,
    pub merge_conflicts: Vec<RepeatedKey>,
}

/// A key set twice in one mapping (the server keeps the last value), or by
/// two mappings merged into one.
#[derive(Debug, PartialEq, Eq)]
pub struct RepeatedKey {
    /// Where in the document, e.g. `listeners[0].port`.
    pub path: String,
    /// The line of the repetition, from 1.
    pub line: usize,
}

/// Parses `text`; the error is the problem, worded to follow a file's name.
pub fn load(text: &str) -> Result<Document, String> {
    let mut loader = Loader::default();
    let read = source::read(text, |event| match event {
        Some(event) => loader.event(event),
        None => {
            loader = Loader::default();
            Ok(())
        }
    });
    match read {
        Ok(()) => Ok(Document {
            value: loader.root,
            repeated_keys: loader.repeated_keys,
            merge_conflicts: loader.merge_conflicts,
        }),
        Err(Stop::Invalid(problem) | Stop::Consumer(problem)) => Err(problem),
    }
}

#[derive(Default)]
struct Loader {
    open: Vec<Open>,
    root: Option<Value>,
    documents: usize,
    anchors: HashMap<String, Anchored>,
    /// Numbers the scalar nodes, for PyYAML's merge (see `KeyIdentity`).
    nodes: u64,
    expansion: usize,
    repeated_keys: Vec<RepeatedKey>,
    merge_conflicts: Vec<RepeatedKey>,
}

enum Anchored {
    /// A collection whose end has not been seen yet.
    Open,
    Done(Node),
}

/// A finished node, before it is placed in its parent.
#[derive(Clone)]
struct Node {
    value: Value,
    identity: KeyIdentity,
    /// A plain `<<` or `=`: a key only.
    special: Option<Kind>,
    start: Position,
}

/// A sequence or mapping whose end has not been seen yet.
struct Open {
    collection: Collection,
    anchor: Option<String>,
    /// How the server builds it, from its tag.
    builds: Builds,
    /// The path of this collection in the document, for messages.
    path: String,
    start: Position,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Builds {
    List,
    Dict,
    /// `!!omap`, `!!pairs`: a list of one-entry mappings, which Python
    /// builds as a list of pairs.
    Pairs,
    Set,
}

enum Collection {
    Sequence(Vec<Value>),
    /// The entries as written, and a key waiting for its value.
    Mapping(Vec<(Node, Value)>, Option<Node>),
}

impl Loader {
    fn event(&mut self, event: Located) -> Result<(), String> {
        let Located { data, start } = event;
        match data {
            EventData::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(format!(
                        "is not valid YAML for the server: a second document starts at line {}; a config holds one",
                        start.line
                    ));
                }
            }
            EventData::Scalar {
                anchor,
                tag,
                value,
                style,
            } => {
                let path = self.child_path();
                let kind = scalar::kind(&value, style == ScalarStyle::Plain, tag.as_deref())
                    .map_err(|problem| at(start, &path, &problem))?;
                let special = matches!(kind, Kind::Merge | Kind::Equals).then_some(kind);
                let value = match kind {
                    Kind::Merge => Value::from("<<"),
                    _ => scalar::construct(kind, &value)
                        .map_err(|problem| at(start, &path, problem))?,
                };
                self.nodes += 1;
                let identity = identity_of(&value, self.nodes);
                let node = Node {
                    value,
                    identity,
                    special,
                    start,
                };
                if let Some(anchor) = anchor {
                    self.anchor(anchor, Anchored::Done(node.clone()), start)?;
                }
                self.complete(node)?;
            }
            EventData::Alias { anchor } => {
                self.spend(start)?;
                let node = match self.anchors.get(&anchor) {
                    None => {
                        return Err(at(
                            start,
                            &self.child_path(),
                            "is an alias to an anchor not defined before it",
                        ));
                    }
                    Some(Anchored::Open) => {
                        self.nodes += 1;
                        Node {
                            value: Value::Recursive,
                            identity: KeyIdentity::Node(self.nodes),
                            special: None,
                            start,
                        }
                    }
                    Some(Anchored::Done(node)) => Node {
                        start,
                        ..node.clone()
                    },
                };
                self.complete(node)?;
            }
            EventData::SequenceStart { anchor, tag } => {
                let builds = match tag.as_deref().map(|t| t.strip_prefix(CORE).unwrap_or(t)) {
                    None | Some("!" | "seq") => Builds::List,
                    Some("omap" | "pairs") => Builds::Pairs,
                    Some("map" | "set") => {
                        return Err(at(
                            start,
                            &self.child_path(),
                            "is tagged as a mapping but is a list",
                        ));
                    }
                    Some(_) => {
                        return Err(at(
                            start,
                            &self.child_path(),
                            &scalar::unknown_tag(tag.as_deref().unwrap_or_default()),
                        ));
                    }
                };
                self.open(Collection::Sequence(Vec::new()), anchor, builds, start)?;
            }
            EventData::MappingStart { anchor, tag } => {
                let builds = match tag.as_deref().map(|t| t.strip_prefix(CORE).unwrap_or(t)) {
                    None | Some("!" | "map") => Builds::Dict,
                    Some("set") => Builds::Set,
                    Some("seq" | "omap" | "pairs") => {
                        return Err(at(
                            start,
                            &self.child_path(),
                            "is tagged as a list but is a mapping",
                        ));
                    }
                    Some(_) => {
                        return Err(at(
                            start,
                            &self.child_path(),
                            &scalar::unknown_tag(tag.as_deref().unwrap_or_default()),
                        ));
                    }
                };
                self.open(Collection::Mapping(Vec::new(), None), anchor, builds, start)?;
            }
            EventData::SequenceEnd | EventData::MappingEnd => self.close()?,
            EventData::StreamStart | EventData::StreamEnd | EventData::DocumentEnd => {}
        }
        Ok(())
    }

    /// Counts one unit of expansion against the budget.
    fn spend(&mut self, start: Position) -> Result<(), String> {
        self.expansion += 1;
        if self.expansion > MAX_EXPANSION {
            return Err(format!(
                "is refused: its aliases and merge keys would expand to more than {MAX_EXPANSION} values ({start})"
            ));
        }
        Ok(())
    }

    fn anchor(&mut self, name: String, anchored: Anchored, start: Position) -> Result<(), String> {
        if self.anchors.contains_key(&name) {
            return Err(at(
                start,
                &self.child_path(),
                "repeats an anchor defined before it",
            ));
        }
        self.anchors.insert(name, anchored);
        Ok(())
    }

    fn open(
        &mut self,
        collection: Collection,
        anchor: Option<String>,
        builds: Builds,
        start: Position,
    ) -> Result<(), String> {
        if self.open.len() >= MAX_DEPTH {
            return Err(format!(
                "is not valid YAML for the server: it nests more than {MAX_DEPTH} levels deep ({start})"
            ));
        }
        let path = self.child_path();
        if let Some(name) = &anchor {
            self.anchor(name.clone(), Anchored::Open, start)?;
        }
        self.open.push(Open {
            collection,
            anchor,
            builds,
            path,
            start,
        });
        Ok(())
    }

    /// The path of the next value in the innermost open collection.
    fn child_path(&self) -> String {
        let Some(parent) = self.open.last() else {
            return String::new();
        };
        match &parent.collection {
            Collection::Sequence(items) => format!("{}[{}]", parent.path, items.len()),
            Collection::Mapping(_, Some(key)) => join(&parent.path, &key_text(&key.value)),
            Collection::Mapping(..) => join(&parent.path, "(a key)"),
        }
    }

    fn close(&mut self) -> Result<(), String> {
        let Some(open) = self.open.pop() else {
            return Ok(());
        };
        let value = match open.collection {
            Collection::Sequence(items) => match open.builds {
                Builds::Pairs => {
                    if items
                        .iter()
                        .any(|item| item.as_mapping().is_none_or(|m| m.len() != 1))
                    {
                        return Err(at(
                            open.start,
                            &open.path,
                            "is tagged as ordered pairs but holds an item that is not a one-entry mapping",
                        ));
                    }
                    Value::Other {
                        kind: "a list of pairs",
                        truthy: !items.is_empty(),
                    }
                }
                _ => Value::Seq(Arc::new(items)),
            },
            Collection::Mapping(entries, _) => {
                let mapping = self.build_mapping(entries, &open.path, open.start)?;
                match open.builds {
                    Builds::Set => Value::Other {
                        kind: "a set",
                        truthy: !mapping.is_empty(),
                    },
                    _ => Value::Map(Arc::new(mapping)),
                }
            }
        };
        self.nodes += 1;
        let node = Node {
            value,
            identity: KeyIdentity::Node(self.nodes),
            special: None,
            start: open.start,
        };
        if let Some(name) = open.anchor {
            self.anchors.insert(name, Anchored::Done(node.clone()));
        }
        self.complete(node)
    }

    /// Hands a finished node to the collection it belongs to.
    fn complete(&mut self, node: Node) -> Result<(), String> {
        let is_key = matches!(
            self.open.last(),
            Some(Open {
                collection: Collection::Mapping(_, None),
                ..
            })
        );
        if !is_key {
            if let Some(kind) = node.special {
                let problem = if kind == Kind::Merge {
                    "is a plain '<<', which is a merge key, not a value"
                } else {
                    "is a plain '=', which the server's loader reads only as a key"
                };
                return Err(at(node.start, &self.child_path(), problem));
            }
        }
        let Some(parent) = self.open.last_mut() else {
            self.root = Some(node.value);
            return Ok(());
        };
        match &mut parent.collection {
            Collection::Sequence(items) => items.push(node.value),
            Collection::Mapping(_, pending @ None) => *pending = Some(node),
            Collection::Mapping(entries, pending @ Some(_)) => {
                let key = pending.take().expect("matched Some");
                entries.push((key, node.value));
            }
        }
        Ok(())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A key as messages name it; keys are names, not secrets.
fn key_text(key: &Value) -> String {
    match key {
        Value::Str(text) => crate::error::escape_control_characters(text),
        other => format!("({} key)", other.kind()),
    }
}

/// A problem with the node at `path` (the document itself when empty).
fn at(start: Position, path: &str, problem: &str) -> String {
    let what = if path.is_empty() {
        "the document".to_owned()
    } else {
        format!("'{path}'")
    };
    format!("is not valid YAML for the server: {what} {problem} ({start})")
}

#[cfg(test)]
mod tests;
