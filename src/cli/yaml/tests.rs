use super::*;

fn value(yaml: &str) -> Value {
    load(yaml).unwrap().value.unwrap()
}

/// The value of `a` in `a: TEXT`.
fn scalar_of(text: &str) -> Value {
    value(&format!("a: {text}\n")).get("a").unwrap().clone()
}

/// A scalar as a comparable string: its kind and, for strings and small
/// numbers, its value.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Int(Int::Small(n)) => format!("int {n}"),
        Value::Int(Int::Big) => "int big".into(),
        Value::Float(f) => format!("float {f}"),
        Value::Str(s) => format!("str {s:?}"),
        other => other.kind().to_owned(),
    }
}

// Each expectation was checked against PyYAML 6.0.4 `safe_load`.
#[test]
fn scalars_resolve_as_in_pyyaml() {
    let cases: &[(&str, &str)] = &[
        ("yes", "bool true"),
        ("No", "bool false"),
        ("OFF", "bool false"),
        ("on", "bool true"),
        ("True", "bool true"),
        ("y", "str \"y\""),
        ("nO", "str \"nO\""),
        ("'no'", "str \"no\""),
        ("\"off\"", "str \"off\""),
        ("!!str no", "str \"no\""),
        ("!!bool 'yes'", "bool true"),
        ("! yes", "bool true"),
        ("! '5'", "int 5"),
        ("!<tag:yaml.org,2002:str> 5", "str \"5\""),
        ("", "null"),
        ("~", "null"),
        ("NULL", "null"),
        ("'null'", "str \"null\""),
        ("8008", "int 8008"),
        ("8_008", "int 8008"),
        ("010", "int 8"),
        ("!!int 0o17", "int 15"),
        ("0", "int 0"),
        ("0x1F48", "int 8008"),
        ("0b11", "int 3"),
        ("-12", "int -12"),
        ("1:30", "int 90"),
        ("!!int '0x10'", "int 16"),
        ("'8008'", "str \"8008\""),
        ("1234567890123456789012345678901234567890", "int big"),
        ("1.5", "float 1.5"),
        ("1.", "float 1"),
        (".5", "float 0.5"),
        ("1.0e+3", "float 1000"),
        ("1e3", "str \"1e3\""),
        ("1:30.5", "float 90.5"),
        ("2026-11-27", "a date"),
        ("2001-12-14 21:59:43.10 -5", "a date"),
        ("!!binary aGVsbG8=", "bytes (!!binary)"),
        ("-.5", "str \"-.5\""),
        ("1.5e3", "str \"1.5e3\""),
        ("1:60", "str \"1:60\""),
        ("190:20:30", "int 685230"),
        ("0_7", "int 7"),
        ("00", "int 0"),
        ("0x", "str \"0x\""),
        ("0o10", "str \"0o10\""),
        ("09", "str \"09\""),
        ("localhost", "str \"localhost\""),
        ("!!set {a, b}", "a set"),
        ("!!omap [a: 1]", "a list of pairs"),
    ];
    for (text, expected) in cases {
        assert_eq!(&show(&scalar_of(text)), expected, "{text}");
    }
    assert!(matches!(scalar_of("-.inf"), Value::Float(f) if f == f64::NEG_INFINITY));
    assert!(matches!(scalar_of(".NaN"), Value::Float(f) if f.is_nan()));
}

// The families issue 16 found, each as PyYAML 6.0.4 reads it.
#[test]
fn yaml_1_1_text_reads_as_in_pyyaml() {
    let cases: &[(&str, &str)] = &[
        // A block scalar at the end of the file without a final newline.
        ("a: |\n  abc", "str \"abc\""),
        ("a: >\n  abc", "str \"abc\""),
        ("a: |+\n  abc", "str \"abc\""),
        // NEL, LS and PS are line breaks: they end comments and fold.
        ("a: ab\u{85}# c: d\n", "str \"ab\""),
        ("a: a\u{85} b\n", "str \"a b\""),
        ("a: x # c\u{2028}", "str \"x\""),
        // A quoted scalar continued at column 0.
        ("a: \"abc\ndef\"\n", "str \"abc def\""),
        // A comment right after a quoted scalar.
        ("a: \"abc\"#c\n", "str \"abc\""),
        // A BOM inside the document is content.
        ("a: x\u{feff}y\n", "str \"x\\u{feff}y\""),
        // An integer too large for 64 bits.
        ("a: 99999999999999999999999999999999999999999\n", "int big"),
    ];
    for (yaml, expected) in cases {
        let v = value(yaml);
        assert_eq!(&show(v.get("a").unwrap()), expected, "{yaml:?}");
    }
    // Flow content at column 0, and `key:[` in a flow mapping.
    let v = value("l: [\n{names:[client]}, {a:{b: 1}}]\n");
    let first = &v.get("l").unwrap().as_sequence().unwrap()[0];
    assert_eq!(first.get("names").unwrap().as_sequence().unwrap().len(), 1);
    // A BOM at the start of a line is part of the key there.
    let v = value("a: 1\n\u{feff}b: 2\n");
    assert!(v.get("\u{feff}b").is_some());
    // `=` is a string as a key; an alias may be a key.
    let v = value("=: 1\nk: &k x\n*k : v\n");
    assert_eq!(show(v.get("=").unwrap()), "int 1");
    assert_eq!(show(v.get("x").unwrap()), "str \"v\"");
    // A recursive alias in an unrelated key.
    let v = value("a: &a [*a]\nb: 2\n");
    assert_eq!(show(v.get("b").unwrap()), "int 2");
    assert!(matches!(
        v.get("a").unwrap().as_sequence().unwrap()[0],
        Value::Recursive
    ));
    // A comment right after a quoted scalar may hold a tab.
    let v = value("a: \"abc\"#\tc\n");
    assert_eq!(show(v.get("a").unwrap()), "str \"abc\"");
    // Positions are the file's, not counting the space put after `a:`.
    let problem = load("l: {a:[1], b: !!int x}\n").unwrap_err();
    assert!(problem.ends_with("(line 1 column 15)"), "{problem}");
    // Tabs inside quoted and block scalars and comments.
    let v = value("a: 'b\tc' #\tx\nb: |\n  x\ty\n");
    assert_eq!(show(v.get("a").unwrap()), "str \"b\\tc\"");
    assert_eq!(show(v.get("b").unwrap()), "str \"x\\ty\\n\"");
}

#[test]
fn what_pyyaml_refuses_is_refused() {
    for (yaml, expected) in [
        (
            "a: =\n",
            "'a' is a plain '=', which the server's loader reads only as a key (line 1 column 4)",
        ),
        ("a: 0b_\n", ""),
        (
            "a: !foo x\n",
            "'a' has the tag '!foo', which the server's loader cannot read",
        ),
        ("a: !!bool maybe\n", "'a' is tagged as a boolean but is not"),
        (
            "a: !!int abc\n",
            "'a' is tagged as an integer but is not one (line 1 column 4)",
        ),
        (
            "a: !!float abc\n",
            "'a' is tagged as a float but is not a number",
        ),
        (
            "a: !!timestamp 2001-02-29\n",
            "'a' is tagged as a date but is not",
        ),
        ("a: !!str [x]\n", "'a' has the tag '!!str'"),
        (
            "a: !!map x\n",
            "'a' is tagged as a mapping but is a single value",
        ),
        ("? [1]\n: x\n", "has a key that is a list or a mapping"),
        ("a: 1\n---\nb: 2\n", "a second document starts at line 2"),
        ("a: [1\n", "is not valid YAML: "),
        (
            "a: [!!str, x]\n",
            "while scanning a tag, expected a space after it (line 1 column 10)",
        ),
        // libyaml-safer 0.3.0 panicked on these (its issues 6 and 7).
        ("a: ''|\n 0", "is not valid YAML: "),
        ("[!,", "is not valid YAML: "),
        (
            "a: *x\n",
            "'a' is an alias to an anchor not defined before it",
        ),
        (
            "a: &x 1\nb: &x 2\n",
            "'b' repeats an anchor defined before it (line 2 column 4)",
        ),
        (
            "a: <<\n",
            "'a' is a plain '<<', which is a merge key, not a value",
        ),
        (
            "a:\t1\n",
            "a tab character cannot start any token; use spaces (line 1 column 3)",
        ),
        (
            "a: b\tc\n",
            "a tab character cannot start any token; use spaces (line 1 column 5)",
        ),
        ("a: 1\n\t\nb: 2\n", "(line 2 column 1)"),
        (
            "a: b\u{1}c\n",
            "control characters are not allowed (line 1 column 5)",
        ),
        ("a: b\u{7f}c\n", "control characters are not allowed"),
        (
            &format!("a: {}\n", "1".repeat(4301)),
            "'a' is an integer of more than 4300 digits",
        ),
    ] {
        let problem = load(yaml).unwrap_err();
        assert!(problem.contains(expected), "{yaml:?}: {problem}");
    }
}

/// Issue 15: a wrong scalar's text may be the secret; no message holds it.
#[test]
fn no_message_holds_the_value() {
    let secret = "s3cr3t-Value_42";
    for yaml in [
        format!("registration_shared_secret: !!int {secret}\n"),
        format!("registration_shared_secret: !!float {secret}\n"),
        format!("registration_shared_secret: !!bool {secret}\n"),
        format!("registration_shared_secret: !!timestamp {secret}\n"),
        format!("registration_shared_secret: !!map {secret}\n"),
        format!("registration_shared_secret: {secret}\t\n"),
        format!("registration_shared_secret: \"{secret}\n"),
        format!("registration_shared_secret: {secret}\u{1}\n"),
    ] {
        let problem = load(&yaml).unwrap_err();
        assert!(!problem.contains(secret), "{yaml:?}: {problem}");
        assert!(!problem.contains("s3cr3t"), "{yaml:?}: {problem}");
    }
}

#[test]
fn repeated_keys_keep_the_last_value_and_are_reported() {
    let document =
        load("a: 1\nb: {c: 1, c: 2}\nlisteners:\n  - port: 1\n    port: 2\na: 3\n").unwrap();
    let value = document.value.unwrap();
    assert_eq!(show(value.get("a").unwrap()), "int 3");
    assert_eq!(show(value.get("b").unwrap().get("c").unwrap()), "int 2");
    let listener = &value.get("listeners").unwrap().as_sequence().unwrap()[0];
    assert_eq!(show(listener.get("port").unwrap()), "int 2");
    // The first place is kept, as in a Python dict.
    let keys: Vec<_> = value
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["a", "b", "listeners"]);
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
    // `true` and `1` are one key to Python.
    let v = value_of_key("a: {true: 1, 1: 2}\n");
    assert_eq!(v.as_mapping().unwrap().len(), 1);
}

fn value_of_key(yaml: &str) -> Value {
    value(yaml).get("a").unwrap().clone()
}

#[test]
fn merge_keys_follow_pyyaml_6_0_4() {
    let document = load(
        "base: &base {a: 1, bb: 1}\nother: &other {bb: 2, c: 2, a: 2}\nm:\n  <<: [*base, *other]\n  c: 3\nq:\n  '<<': *base\n",
    )
    .unwrap();
    let v = document.value.unwrap();
    let m = v.get("m").unwrap();
    // The mapping's own keys win; then, among the merged, the last, except
    // a one-character key, which PyYAML 6.0.4 takes from the first.
    assert_eq!(show(m.get("a").unwrap()), "int 1");
    assert_eq!(show(m.get("bb").unwrap()), "int 2");
    assert_eq!(show(m.get("c").unwrap()), "int 3");
    // A quoted `<<` is an ordinary key.
    assert_eq!(
        show(v.get("q").unwrap().get("<<").unwrap().get("a").unwrap()),
        "int 1"
    );
    // Only `bb` is ambiguous: `a` comes out the same in every PyYAML, and
    // `c` is the mapping's own.
    assert_eq!(
        document.merge_conflicts,
        [RepeatedKey {
            path: "m.bb".into(),
            line: 4
        }]
    );
    assert!(
        load("<<: 5\n")
            .unwrap_err()
            .contains("is an invalid merge key")
    );
}

#[test]
fn documents_that_are_empty_too_deep_or_too_large() {
    assert!(load("").unwrap().value.is_none());
    assert!(load("# only a comment\n").unwrap().value.is_none());
    assert_eq!(show(&value("--- 5\n")), "int 5");
    let deep = format!("{}x\n", "- ".repeat(200));
    assert!(
        load(&deep)
            .unwrap_err()
            .contains("nests more than 128 levels deep")
    );
    // Aliases are shared, not copied: a billion laughs costs nothing.
    let laughs: String = std::iter::once("a: &a [x, x, x, x, x, x, x, x, x, x]\n".to_owned())
        .chain((b'b'..=b'z').map(|c| {
            let prev = (c - 1) as char;
            format!(
                "{}: &{} [{}]\n",
                c as char,
                c as char,
                vec![format!("*{prev}"); 10].join(", ")
            )
        }))
        .collect();
    assert!(load(&laughs).is_ok());
    // Merges copy: a chain of them is counted.
    let mut chain = String::from("m0: &m0 {k0: 0}\n");
    for i in 1..2000 {
        chain.push_str(&format!("m{i}: &m{i} {{<<: *m{}, k{i}: {i}}}\n", i - 1));
    }
    let problem = load(&chain).unwrap_err();
    assert!(
        problem.contains("would expand to more than 250000 values"),
        "{problem}"
    );
}

/// Configs may be handed to other threads, as before this reader.
#[test]
fn values_can_go_to_other_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Value>();
    send_and_sync::<crate::cli::config::Config>();
}
