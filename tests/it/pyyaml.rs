//! The differential test of the config reader against PyYAML (issue 16):
//! every config is read by the tool and by `yaml.safe_load` as Synapse
//! calls it (`pyyaml_view.py`, with the PyYAML of the .venv that
//! scripts/synapse installs), and both must accept it with the same values
//! of every setting the tool reads, or both refuse it. The configs: edge
//! cases written by hand, one per family of differences issue 16 found,
//! then variants of a real `--generate-config` homeserver.yaml: settings
//! spelled in generated ways, and byte mutations. RNMU_PYYAML_CASES sets
//! how many generated and mutated configs (scripts/fuzz --pyyaml runs more);
//! the seed is fixed.

use register_new_matrix_user::__private::yaml::{self, Int, Value};
use serde_json::{Value as Json, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEYS: [&str; 7] = [
    "registration_shared_secret",
    "registration_shared_secret_path",
    "server_name",
    "allow_underscore_prefixed_localpart",
    "listeners",
    "matrix_authentication_service",
    "experimental_features",
];

/// The tool's reading of a config, in `pyyaml_view.py`'s form.
fn tool_view(bytes: &[u8]) -> Json {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return json!({"error": true});
    };
    let Ok(document) = yaml::load(text) else {
        return json!({"error": true});
    };
    let Some(Value::Map(mapping)) = document.value else {
        return json!({"not_a_mapping": true});
    };
    let mut view = serde_json::Map::new();
    for key in KEYS {
        if let Some(value) = mapping.get(key) {
            view.insert(key.to_owned(), json_of(value));
        }
    }
    Json::Object(view)
}

fn json_of(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!({"bool": b}),
        Value::Int(Int::Small(n)) => json!({"int": n}),
        Value::Int(Int::Big) => json!("bigint"),
        Value::Float(f) if f.is_nan() => json!({"float": "nan"}),
        Value::Float(f) if f.is_infinite() => {
            json!({"float": if *f > 0.0 { "inf" } else { "-inf" }})
        }
        Value::Float(f) => json!({"float": f}),
        Value::Str(text) => json!({"str": &**text}),
        Value::Seq(items) => Json::Array(items.iter().map(json_of).collect()),
        Value::Map(mapping) => Json::Array(
            mapping
                .iter()
                .map(|(k, v)| json!([json_of(k), json_of(v)]))
                .collect(),
        ),
        Value::Other { kind, .. } => json!(kind),
        Value::Recursive => json!("recursive"),
    }
}

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// PyYAML's reading of each file, in order.
fn pyyaml_views(files: &[PathBuf]) -> Vec<Json> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/pyyaml_view.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the .venv's python (scripts/synapse install)");
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "pyyaml_view.py failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Compares every config; the failures name the case and both readings.
fn compare(dir: &Path, cases: &[(String, Vec<u8>)]) -> Vec<String> {
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let path = dir.join(format!("{i}.yaml"));
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let expected = pyyaml_views(&files);
    assert_eq!(expected.len(), cases.len());
    cases
        .iter()
        .zip(expected)
        .filter_map(|((name, bytes), expected)| {
            let got = tool_view(bytes);
            (got != expected).then(|| {
                format!(
                    "{name}: {:?}\n  PyYAML: {expected}\n  tool:   {got}",
                    String::from_utf8_lossy(bytes)
                )
            })
        })
        .collect()
}

/// One case per family issue 16 lists, and the neighbours of each.
const EDGE_CASES: &[&str] = &[
    // Block scalars at the end of the file, without a final line break.
    "registration_shared_secret: |\n  abc",
    "registration_shared_secret: >\n  abc",
    "registration_shared_secret: |+\n  abc",
    "registration_shared_secret: |-\n  abc",
    "registration_shared_secret: |\n  abc\n   ",
    "registration_shared_secret: |\n  abc\n  ",
    "registration_shared_secret: |+\n  abc\n ",
    "registration_shared_secret: >\n  abc\n  def",
    "registration_shared_secret: |\n  abc\n",
    "registration_shared_secret: |2\n   abc",
    "registration_shared_secret: \"abc\"",
    "registration_shared_secret: abc",
    // NEL, LS, PS: line breaks in YAML 1.1.
    "registration_shared_secret: ab\u{85}# c: d\n",
    "registration_shared_secret: a\u{85} b\n",
    "registration_shared_secret: \"a\u{2028}b\"\n",
    "# comment\u{2028}registration_shared_secret: hidden\n",
    "registration_shared_secret: x # c\u{2029}server_name: y\n",
    "registration_shared_secret: |\n  a\u{85}  b\n",
    // Quoted scalars continued at column 0; flow content at column 0.
    "registration_shared_secret: \"abc\ndef\"\n",
    "registration_shared_secret: 'abc\n\n def'\n",
    "listeners: [\n{port: 8008, type: http, resources: [{names: [client]}]}]\n",
    // A comment right after a quoted scalar.
    "registration_shared_secret: \"abc\"#c\n",
    "registration_shared_secret: 'abc'#c\n",
    // `key:[` and `key:{` in flow collections.
    "listeners: [{port: 8008, type: http, resources: [{names:[client]}]}]\n",
    "listeners: [{port:8008, type:http, resources:[{names:[client]}]}]\n",
    "listeners: [{port: 8008, type: http, resources: [{names:{a: 1}}]}]\n",
    "server_name: [a:, b]\n",
    "server_name: [a:b]\n",
    // BOMs.
    "\u{feff}registration_shared_secret: abc\n",
    "server_name: x\n\u{feff}registration_shared_secret: abc\n",
    "registration_shared_secret: a\u{feff}b\n",
    // Tags.
    "registration_shared_secret: !<tag:yaml.org,2002:str> 5\n",
    "listeners: ! [{port: 8008, type: http, resources: [{names: [client]}]}]\n",
    "registration_shared_secret: ! 5\n",
    "registration_shared_secret: ! '5'\n",
    "registration_shared_secret: !!str 5\n",
    "registration_shared_secret: !!int 0o17\n",
    "registration_shared_secret: !!int abc\n",
    "registration_shared_secret: !!float abc\n",
    "registration_shared_secret: !!bool maybe\n",
    "registration_shared_secret: !!binary aGVsbG8=\n",
    "registration_shared_secret: !!timestamp 2001-02-29\n",
    "registration_shared_secret: !!set {a, b}\n",
    "registration_shared_secret: !!omap [a: 1]\n",
    "registration_shared_secret: !foo x\n",
    "registration_shared_secret: !!str [x]\n",
    // `=` and `<<`.
    "=: 1\nregistration_shared_secret: a\n",
    "registration_shared_secret: =\n",
    "registration_shared_secret: <<\n",
    // Aliases: recursive, as keys, undefined, repeated anchors.
    "a: &a [*a]\nregistration_shared_secret: s\n",
    "k: &k registration_shared_secret\n*k : v\n",
    "k: &k server_name\n*k: v\n",
    "registration_shared_secret: *x\n",
    "a: &x 1\nb: &x 2\nregistration_shared_secret: s\n",
    // Tabs, C0 and DEL.
    "registration_shared_secret:\tabc\n",
    "registration_shared_secret: abc\t\n",
    "registration_shared_secret: a\tb\n",
    "registration_shared_secret: 'a\tb'\n",
    "registration_shared_secret: abc #\tc\n",
    "registration_shared_secret: abc\n\t\n",
    "registration_shared_secret: a\u{1}b\n",
    "registration_shared_secret: a\u{7f}b\n",
    // Values that are not strings.
    "registration_shared_secret: 2020-01-01\n",
    "registration_shared_secret: 2001-12-14 21:59:43.10 -5\n",
    "registration_shared_secret: 1234567890123456789012345678901234567890\n",
    "registration_shared_secret: 0x_1F\n",
    "registration_shared_secret: 1:30\n",
    "registration_shared_secret: 1e3\n",
    "registration_shared_secret: .inf\n",
    "registration_shared_secret: yes\n",
    "allow_underscore_prefixed_localpart: on\n",
    "allow_underscore_prefixed_localpart: 'off'\n",
    "allow_underscore_prefixed_localpart: 0.0\n",
    // Merge keys: PyYAML 6.0.4's order, one-character keys included.
    "a: &a {server_name: a, k: 1}\nb: &b {server_name: b, k: 2}\nlisteners: [{<<: [*a, *b]}]\n",
    "a: &a {server_name: a}\n<<: [*a, *a]\n",
    "a: &a {server_name: a}\n<<: *a\nserver_name: own\n",
    "a: &a {=: 1}\nlisteners: [{<<: *a}]\n",
    "<<: 5\n",
    "<<: [5]\n",
    // Keys Python takes as one.
    "listeners: [{true: 1, 1: 2, 1.0: 3}]\n",
    "server_name: a\nserver_name: b\n",
    // Documents.
    "",
    "# nothing\n",
    "--- 5\n",
    "a: 1\n---\nb: 2\n",
    "- a\n- b\n",
    "registration_shared_secret: [unclosed\n",
    // A tag followed by ',', and two texts libyaml-safer 0.3.0 panics on.
    "registration_shared_secret: [!!str, x]\n",
    "a: ''|\n 0",
    "[!,",
];

/// A deterministic generator (xorshift), for a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Spellings of a secret, some that PyYAML reads and some it refuses.
const SECRETS: &[&str] = &[
    "plain-secret",
    "\"quoted\\tsecret\"",
    "'single ''quoted'''",
    "|\n  block",
    "|\n  block\n",
    ">\n  folded\n  lines",
    "|+\n  kept\n\n",
    "|-\n  stripped\n",
    "a\u{85}",
    "\"a\u{2028}b\"",
    "x\u{feff}y",
    "1234567890123456789012345678901234567890",
    "2020-01-01",
    "!!binary aGVsbG8=",
    "\"abc\"#c",
    "yes",
    "0x1F",
    "abc\t",
    "~",
    "",
    "&s anchored",
    "!!str 0o17",
    "\"esc\\x41\\u00e9\\N\\_\"",
];

/// Spellings of the listener list.
const LISTENERS: &[&str] = &[
    "[{port: 8008, type: http, resources: [{names: [client]}]}]",
    "[\n{port: 8008, type: http, resources: [{names:[client]}]}]",
    "\n  - port: 8_008\n    type: http\n    tls: no\n    resources:\n      - names: [client]",
    "\n  - port: 0x1F48\n    type: http\n    tls: on\n    bind_addresses: ['::1', 127.0.0.1]\n    resources:\n      - names: [client, federation]",
    "\n  - {port: 2:13:28, type: http, resources: [{names: [client]}]}",
    "\n  - &l {port: 8008, type: http, resources: [{names: [client]}]}\n  - *l",
    "\n- port: '8008'\n  type: http\n  resources:\n  - names:\n    - client",
    "[{path: /run/s.sock, type: http, resources: [{names: [client]}]}]",
];

/// Characters that mean something to a YAML scanner.
const MUTATIONS: &[&str] = &[
    " ", "\t", "\n", ":", "-", "#", "\"", "'", "[", "]", "{", "}", ",", "&", "*", "!", "|", ">",
    "?", "\u{85}", "\u{feff}", "\u{2028}", "%", "@", "`", "\\", "<<: ", "~",
];

fn generated(base: &str, rng: &mut Rng, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for i in 0..n {
        let mut text = String::new();
        for line in base.lines() {
            if line.starts_with("registration_shared_secret:") {
                text.push_str(&format!(
                    "registration_shared_secret: {}",
                    rng.pick(SECRETS)
                ));
                text.push('\n');
            } else if line.starts_with("listeners:") {
                text.push_str(&format!("listeners: {}\n", rng.pick(LISTENERS)));
                text.push_str("former_listeners:\n");
            } else {
                text.push_str(line);
                text.push('\n');
            }
        }
        // Sometimes the secret last, without a final line break.
        if rng.below(3) == 0 {
            text.push_str(&format!(
                "registration_shared_secret: {}",
                rng.pick(SECRETS)
            ));
        }
        cases.push((format!("generated {i}"), text.into_bytes()));
    }
    cases
}

fn mutated(base: &str, rng: &mut Rng, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for i in 0..n {
        let mut text = base.to_owned();
        for _ in 0..1 + rng.below(3) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => text.insert_str(at, rng.pick(MUTATIONS)),
                1 => {
                    let end = (at + 1..=text.len())
                        .find(|&e| text.is_char_boundary(e))
                        .unwrap_or(at);
                    text.replace_range(at..end, "");
                }
                _ => {
                    let end = (at + 1..=text.len())
                        .find(|&e| text.is_char_boundary(e))
                        .unwrap_or(at);
                    text.replace_range(at..end, rng.pick(MUTATIONS));
                }
            }
        }
        cases.push((format!("mutated {i}"), text.into_bytes()));
    }
    cases
}

/// A homeserver.yaml from Synapse's own generator, with the keys this test
/// varies first, so that mutations reach them often.
fn generated_config(dir: &Path) -> String {
    let status = Command::new(python())
        .args([
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            "example.org",
        ])
        .arg("--config-path")
        .arg(dir.join("homeserver.yaml"))
        .arg("--data-directory")
        .arg(dir)
        .args(["--generate-config", "--report-stats=no"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "synapse --generate-config failed");
    std::fs::read_to_string(dir.join("homeserver.yaml")).unwrap()
}

#[test]
#[ignore = "needs PyYAML and Synapse from the .venv that scripts/synapse installs"]
fn the_tool_reads_configs_as_pyyaml_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = EDGE_CASES
        .iter()
        .map(|text| (format!("edge case {text:?}"), text.as_bytes().to_vec()))
        .collect();
    let base = generated_config(dir.path());
    cases.push((
        "generated homeserver.yaml".to_owned(),
        base.clone().into_bytes(),
    ));
    let n: usize = std::env::var("RNMU_PYYAML_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(0x5eed_1e55_0016);
    cases.extend(generated(&base, &mut rng, n));
    // Mutations close to the settings read: the top of the file.
    let head: String = base
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    cases.extend(mutated(&head, &mut rng, n));
    let failures = compare(dir.path(), &cases);
    assert!(
        failures.is_empty(),
        "{} of {} configs read differently:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
