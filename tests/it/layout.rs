//! The module layout CONTRIBUTING.md promises ("Code layout"): the library
//! at the crate root never reaches into the command line (`src/cli/`), and
//! no two modules import each other, directly or round a longer loop. Read
//! from the `crate::` paths in the sources, test modules left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules by name (`client`, `cli::batch`) and the modules each one names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn source_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module a file belongs to: a root module, or a second-level one under
/// `cli` (so that `cli::batch::worker` counts as `cli::batch`).
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [cli, sub, ..] if cli == "cli" => format!("cli::{sub}"),
        [first, ..] => first.clone(),
        [] => unreachable!("a file has a name"),
    }
}

/// The modules `text` names through `crate::` paths, `use crate::{a, b}`
/// groups included.
fn named_modules(text: &str) -> BTreeSet<String> {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut named = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let item = item.trim();
                let first = word(item);
                if first == "cli" {
                    if let Some(sub) = item.strip_prefix("cli::") {
                        named.insert(format!("cli::{}", word(sub)));
                    }
                } else if !first.is_empty() {
                    named.insert(first);
                }
            }
            continue;
        }
        let first = word(rest);
        if first == "cli" {
            let sub = word(rest.strip_prefix("cli::").unwrap_or(""));
            // `crate::cli::Cli` and the like: the cli module's own items.
            if sub.starts_with(|c: char| c.is_ascii_lowercase()) {
                named.insert(format!("cli::{sub}"));
            } else {
                named.insert("cli".to_owned());
            }
        } else if first.starts_with(|c: char| c.is_ascii_lowercase()) {
            named.insert(first);
        }
    }
    named
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        // `tests.rs`, or a `tests/` directory of them.
        if relative.iter().any(|p| p == "tests.rs" || p == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may reach anywhere; they come last in a file.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let module = module_of(relative);
        let named = named_modules(code);
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(named.into_iter().filter(|m| *m != module));
    }
    graph
}

/// A loop through `start`, as the modules along it, if there is one.
fn loop_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    fn walk(
        graph: &Graph,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let here = path.last().unwrap().clone();
        for next in graph.get(&here).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(graph, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_two_modules_import_each_other() {
    let graph = graph();
    assert!(graph.len() > 20, "the sources were not found: {graph:?}");
    for module in graph.keys() {
        // `lib` declares the modules and re-exports (`__private` included).
        if module == "lib" {
            continue;
        }
        if let Some(cycle) = loop_through(&graph, module) {
            panic!("modules in a loop: {} -> {module}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_library_does_not_reach_into_the_command_line() {
    for (module, named) in graph() {
        let is_cli = |m: &str| m == "cli" || m.starts_with("cli::");
        if module == "lib" || module == "main" || is_cli(&module) {
            continue;
        }
        let into_cli: Vec<_> = named.iter().filter(|m| is_cli(m)).collect();
        assert!(
            into_cli.is_empty(),
            "the library module {module} names {into_cli:?}"
        );
    }
}

#[test]
fn the_reader_finds_the_paths_a_module_names() {
    let named = named_modules(
        "use crate::cli::batch::Rows;\nuse crate::{error::Error, cli::output};\nfn f() { crate::redact::url(x); crate::cli::Cli::x(); }",
    );
    let expected = ["cli", "cli::batch", "cli::output", "error", "redact"];
    assert_eq!(named, expected.iter().map(|s| s.to_string()).collect());
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), ["a".into()].into());
    assert_eq!(loop_through(&graph, "a").unwrap(), ["a", "b", "c"]);
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(loop_through(&graph, "a"), None);
    assert_eq!(module_of(Path::new("cli/batch/worker.rs")), "cli::batch");
    assert_eq!(module_of(Path::new("cli/mod.rs")), "cli");
    assert_eq!(module_of(Path::new("client/mod.rs")), "client");
}
