//! YAML read as PyYAML's `safe_load` reads it, since that is how Synapse and
//! the reference script read a homeserver config: YAML 1.1 scalars (`yes`,
//! `no`, `on`, `off` are booleans, `010` is octal, `8_008` is a number),
//! `<<` merge keys, and a key repeated in one mapping keeps its last value.
//! saphyr-parser turns the text into events; what the events build is
//! decided here, what a scalar means in `scalar`.

mod scalar;

use saphyr_parser::{Event, Parser, Span, Tag};
use scalar::scalar;
use serde_yaml::{Mapping, Value};
use std::collections::HashMap;

/// Deeper nesting is no homeserver config, and dropping a value nested
/// much deeper would exhaust the stack.
const MAX_DEPTH: usize = 128;
/// Nodes that aliases may copy in all. PyYAML shares an aliased node where
/// we copy it, so nested aliases ("billion laughs") are refused here instead
/// of growing without bound; real configs use a handful.
const MAX_ALIAS_NODES: usize = 100_000;

/// A parsed file: its value (`None` when it holds no document) and the keys
/// that appear more than once in one mapping.
#[derive(Debug)]
pub struct Document {
    pub value: Option<Value>,
    pub repeated_keys: Vec<RepeatedKey>,
}

/// A key set twice in one mapping: the server keeps the last value.
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
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            format!(
                "is not valid YAML: {} at line {} column {}",
                e.info(),
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(format!(
                        "is not valid YAML for the server: a second document starts at line {}; a config holds one",
                        span.start.line()
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), span)?;
                loader.complete(value, 1, anchor, span)?;
            }
            Event::Alias(anchor) => {
                let Some((value, nodes)) = loader.anchors.get(&anchor).cloned() else {
                    return Err(at(span, "an alias refers to a node that contains it"));
                };
                loader.alias_nodes += nodes;
                if loader.alias_nodes > MAX_ALIAS_NODES {
                    return Err(format!(
                        "is refused: its aliases would expand to more than {MAX_ALIAS_NODES} values"
                    ));
                }
                loader.complete(value, nodes, 0, span)?;
            }
            Event::SequenceStart(anchor, tag) => {
                collection_tag(tag.as_deref(), &["seq", "omap", "pairs"], span)?;
                loader.open(Collection::Sequence(Vec::new()), anchor, span)?;
            }
            Event::MappingStart(anchor, tag) => {
                collection_tag(tag.as_deref(), &["map", "set"], span)?;
                loader.open(Collection::Mapping(Vec::new(), None), anchor, span)?;
            }
            Event::SequenceEnd | Event::MappingEnd => loader.close()?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    Ok(Document {
        value: loader.root,
        repeated_keys: loader.repeated_keys,
    })
}

#[derive(Default)]
struct Loader {
    open: Vec<Open>,
    root: Option<Value>,
    /// Each anchored value and how many nodes it has.
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    repeated_keys: Vec<RepeatedKey>,
}

/// A sequence or mapping whose end has not been seen yet.
struct Open {
    collection: Collection,
    anchor: usize,
    nodes: usize,
    /// The path of this collection in the document, for messages.
    path: String,
}

enum Collection {
    Sequence(Vec<Value>),
    /// The entries as written, and a key waiting for its value.
    Mapping(Vec<Entry>, Option<(Value, Span)>),
}

struct Entry {
    key: Value,
    value: Value,
    /// A plain `<<`.
    merge: bool,
    line: usize,
}

impl Loader {
    fn open(&mut self, collection: Collection, anchor: usize, span: Span) -> Result<(), String> {
        if self.open.len() >= MAX_DEPTH {
            return Err(at(
                span,
                &format!("it nests more than {MAX_DEPTH} levels deep"),
            ));
        }
        let path = self.child_path();
        self.open.push(Open {
            collection,
            anchor,
            nodes: 1,
            path,
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
            Collection::Mapping(_, Some((Value::String(key), _))) if parent.path.is_empty() => {
                key.clone()
            }
            Collection::Mapping(_, Some((Value::String(key), _))) => {
                format!("{}.{key}", parent.path)
            }
            Collection::Mapping(..) => parent.path.clone(),
        }
    }

    fn close(&mut self) -> Result<(), String> {
        let Some(open) = self.open.pop() else {
            return Ok(());
        };
        let value = match open.collection {
            Collection::Sequence(items) => Value::Sequence(items),
            Collection::Mapping(entries, _) => {
                Value::Mapping(self.build_mapping(entries, &open.path)?)
            }
        };
        // A span only locates an error, and a completed collection has none.
        self.complete(value, open.nodes, open.anchor, Span::default())
    }

    /// Hands a finished value to the collection it belongs to.
    fn complete(
        &mut self,
        value: Value,
        nodes: usize,
        anchor: usize,
        span: Span,
    ) -> Result<(), String> {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        let is_key = matches!(
            self.open.last(),
            Some(Open {
                collection: Collection::Mapping(_, None),
                ..
            })
        );
        if is_merge_key(&value) && !is_key {
            return Err(at(span, "a plain '<<' is a merge key, not a value"));
        }
        let Some(parent) = self.open.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        parent.nodes += nodes;
        match &mut parent.collection {
            Collection::Sequence(items) => items.push(value),
            Collection::Mapping(_, pending @ None) => {
                if matches!(value, Value::Sequence(_) | Value::Mapping(_)) {
                    return Err(at(
                        span,
                        "a key is a list or a mapping, which the server cannot read",
                    ));
                }
                *pending = Some((value, span));
            }
            Collection::Mapping(entries, pending @ Some(_)) => {
                let (key, key_span) = pending.take().expect("matched Some");
                entries.push(Entry {
                    merge: is_merge_key(&key),
                    key,
                    value,
                    line: key_span.start.line(),
                });
            }
        }
        Ok(())
    }

    /// A mapping as PyYAML builds it: the entries merged in with `<<` first,
    /// then the mapping's own, a later one replacing an earlier one with the
    /// same key (which keeps its place).
    fn build_mapping(&mut self, entries: Vec<Entry>, path: &str) -> Result<Mapping, String> {
        let mut merged = Mapping::new();
        let mut own = Mapping::new();
        for entry in entries {
            if entry.merge {
                for source in merge_sources(entry.value)? {
                    for (key, value) in source {
                        merged.insert(key, value);
                    }
                }
                continue;
            }
            if own.contains_key(&entry.key) {
                let key = key_text(&entry.key);
                self.repeated_keys.push(RepeatedKey {
                    path: if path.is_empty() {
                        key
                    } else {
                        format!("{path}.{key}")
                    },
                    line: entry.line,
                });
            }
            own.insert(entry.key, entry.value);
        }
        for (key, value) in own {
            merged.insert(key, value);
        }
        Ok(merged)
    }
}

/// A `<<` value: one mapping, or a list of them of which the first wins.
fn merge_sources(value: Value) -> Result<Vec<Mapping>, String> {
    let invalid = |found: &str| {
        format!(
            "has an invalid merge key: expected a mapping or list of mappings for merging, but found {found}"
        )
    };
    match value {
        Value::Mapping(mapping) => Ok(vec![mapping]),
        Value::Sequence(items) => {
            let mut sources = items
                .into_iter()
                .map(|item| match item {
                    Value::Mapping(mapping) => Ok(mapping),
                    _ => Err(invalid("a list holding something else")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            sources.reverse();
            Ok(sources)
        }
        _ => Err(invalid("scalar")),
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => serde_yaml::to_string(other)
            .map(|text| text.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// Marks a plain `<<` key until its mapping is built.
const MERGE_TAG: &str = "!merge-key";

fn is_merge_key(value: &Value) -> bool {
    matches!(value, Value::Tagged(tagged) if tagged.tag == MERGE_TAG)
}

fn at(span: Span, problem: &str) -> String {
    format!(
        "is not valid YAML for the server: {problem} (line {} column {})",
        span.start.line(),
        span.start.col() + 1
    )
}

const CORE: &str = "tag:yaml.org,2002:";

/// Checks that a collection's tag is one the server's loader accepts.
fn collection_tag(tag: Option<&Tag>, allowed: &[&str], span: Span) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.handle == CORE && allowed.contains(&tag.suffix.as_str()) => Ok(()),
        Some(tag) => Err(unknown_tag(tag, span)),
    }
}

fn unknown_tag(tag: &Tag, span: Span) -> String {
    at(span, &format!("the tag '{tag}' is not one it can read"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(yaml: &str) -> Value {
        load(yaml).unwrap().value.unwrap()
    }

    /// The value of `a` in `a: TEXT`.
    fn scalar_of(text: &str) -> Value {
        value(&format!("a: {text}\n"))["a"].clone()
    }

    // Each expectation was checked against PyYAML 6.0 `safe_load`.
    #[test]
    fn scalars_resolve_as_in_pyyaml() {
        let cases: &[(&str, Value)] = &[
            ("yes", Value::Bool(true)),
            ("No", Value::Bool(false)),
            ("OFF", Value::Bool(false)),
            ("on", Value::Bool(true)),
            ("True", Value::Bool(true)),
            ("y", Value::from("y")),
            ("n", Value::from("n")),
            ("nO", Value::from("nO")),
            ("'no'", Value::from("no")),
            ("\"off\"", Value::from("off")),
            ("!!str no", Value::from("no")),
            ("!!bool 'yes'", Value::Bool(true)),
            ("", Value::Null),
            ("~", Value::Null),
            ("NULL", Value::Null),
            ("'null'", Value::from("null")),
            ("8008", Value::from(8008)),
            ("8_008", Value::from(8008)),
            ("010", Value::from(8)),
            ("0", Value::from(0)),
            ("0x1F48", Value::from(8008)),
            ("0b11", Value::from(3)),
            ("-12", Value::from(-12)),
            ("1:30", Value::from(90)),
            ("!!int '0x10'", Value::from(16)),
            ("'8008'", Value::from("8008")),
            ("1.5", Value::from(1.5)),
            ("1.", Value::from(1.0)),
            (".5", Value::from(0.5)),
            ("1.0e+3", Value::from(1000.0)),
            ("1e3", Value::from("1e3")),
            ("1:30.5", Value::from(90.5)),
            ("2026-11-27", Value::from("2026-11-27")),
            ("-.5", Value::from("-.5")),
            ("1.5e3", Value::from("1.5e3")),
            ("1:60", Value::from("1:60")),
            ("190:20:30", Value::from(685_230)),
            ("0_7", Value::from(7)),
            ("00", Value::from(0)),
            ("0x", Value::from("0x")),
            ("0o10", Value::from("0o10")),
            ("09", Value::from("09")),
            ("localhost", Value::from("localhost")),
        ];
        for (text, expected) in cases {
            assert_eq!(&scalar_of(text), expected, "{text}");
        }
        assert!(
            matches!(scalar_of("-.inf"), Value::Number(n) if n.as_f64() == Some(f64::NEG_INFINITY))
        );
        assert!(matches!(scalar_of(".NaN"), Value::Number(n) if n.as_f64().unwrap().is_nan()));
    }

    #[test]
    fn what_pyyaml_refuses_is_refused() {
        for (yaml, expected) in [
            ("a: =\n", "a plain '=' is a value it cannot read"),
            ("a: 0b_\n", "'0b_' is not an integer"),
            ("a: !foo x\n", "the tag '!foo' is not one it can read"),
            ("a: !!bool maybe\n", "'maybe' is not a boolean"),
            ("? [1]\n: x\n", "a key is a list or a mapping"),
            ("a: 1\n---\nb: 2\n", "a second document starts at line 2"),
            ("a: [1\n", "is not valid YAML: "),
            ("a: &x [*x]\n", "an alias refers to a node that contains it"),
            ("a: <<\n", "a plain '<<' is a merge key, not a value"),
        ] {
            let problem = load(yaml).unwrap_err();
            assert!(problem.contains(expected), "{yaml:?}: {problem}");
        }
    }

    #[test]
    fn repeated_keys_keep_the_last_value_and_are_reported() {
        let document =
            load("a: 1\nb: {c: 1, c: 2}\nlisteners:\n  - port: 1\n    port: 2\na: 3\n").unwrap();
        let value = document.value.unwrap();
        assert_eq!(value["a"], Value::from(3));
        assert_eq!(value["b"]["c"], Value::from(2));
        assert_eq!(value["listeners"][0]["port"], Value::from(2));
        // The first place is kept, as in a Python dict.
        let keys: Vec<_> = value.as_mapping().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [Value::from("a"), Value::from("b"), Value::from("listeners")]
        );
        assert_eq!(
            document.repeated_keys,
            [
                RepeatedKey {
                    path: "b.c".into(),
                    line: 2
                },
                RepeatedKey {
                    path: "listeners[0].port".into(),
                    line: 5
                },
                RepeatedKey {
                    path: "a".into(),
                    line: 6
                },
            ]
        );
    }

    #[test]
    fn merge_keys_and_aliases() {
        let v = value(
            "base: &base {a: 1, b: 1}\nother: &other {b: 2, c: 2}\nm:\n  <<: [*base, *other]\n  c: 3\nq:\n  '<<': *base\n",
        );
        // The mapping's own keys win, then the first merged mapping.
        assert_eq!(v["m"]["a"], Value::from(1));
        assert_eq!(v["m"]["b"], Value::from(1));
        assert_eq!(v["m"]["c"], Value::from(3));
        // A quoted `<<` is an ordinary key.
        assert_eq!(v["q"]["<<"]["a"], Value::from(1));
        assert!(
            load("<<: 5\n")
                .unwrap_err()
                .contains("has an invalid merge key")
        );
    }

    #[test]
    fn documents_that_are_empty_or_too_deep() {
        assert!(load("").unwrap().value.is_none());
        assert!(load("# only a comment\n").unwrap().value.is_none());
        assert_eq!(value("--- 5\n"), Value::from(5));
        let deep = format!("{}x\n", "- ".repeat(200));
        assert!(
            load(&deep)
                .unwrap_err()
                .contains("nests more than 128 levels deep")
        );
        let bomb: String = std::iter::once("a: &a [x, x, x, x, x, x, x, x, x, x]\n".to_owned())
            .chain((b'b'..=b'h').map(|c| {
                let prev = (c - 1) as char;
                format!(
                    "{}: &{} [{}]\n",
                    c as char,
                    c as char,
                    vec![format!("*{prev}"); 10].join(", ")
                )
            }))
            .collect();
        assert!(
            load(&bomb)
                .unwrap_err()
                .contains("aliases would expand to more than")
        );
    }
}
