//! Property tests for the parsers that read what users and servers write:
//! homeserver configs, batch files and the server's answers. They run in
//! every `cargo test` with proptest's default case count (a second or two);
//! `scripts/fuzz --proptest` runs them with many more cases, and `fuzz/`
//! holds the coverage-guided fuzz targets for the same parsers.

use proptest::collection::vec;
use proptest::prelude::*;
use register_new_matrix_user::__private::{ClientListener, Config, SecretSource};
use register_new_matrix_user::__private::{Format, Rows, Rules, check_rows};
use register_new_matrix_user::__private::{parse_nonce, parse_refusal, parse_registered};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Merges files given as bytes, as `-c` does with files on disk.
fn merged(files: &[Vec<u8>]) -> Result<Config, String> {
    let mut config = Config::default();
    for (i, bytes) in files.iter().enumerate() {
        let path = PathBuf::from(format!("hs{i}.yaml"));
        config.add_file(&path, bytes).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

/// Written as JSON, which is YAML whose double-quoted strings mean the same
/// to every YAML version: serde_yaml writes some strings plain (`=`, `yes`,
/// `1:30`) that the server's YAML 1.1, and so the config reader, takes for
/// something else.
fn yaml(value: &serde_yaml::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The port of a discovered listener URL, checking its shape.
fn listener_port(url: &str) -> u16 {
    let port = url
        .strip_prefix("http://localhost:")
        .or_else(|| url.strip_prefix("https://localhost:"))
        .unwrap_or_else(|| panic!("not a localhost URL: {url}"));
    let port: u16 = port.parse().unwrap();
    assert!(port >= 1, "{url}");
    port
}

/// Text without control characters: what every message we print must be.
fn assert_printable(text: &str) {
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

/// The number of lines as the CSV reader counts them (`\n`, `\r\n`, `\r`);
/// JSON Lines has no more.
fn csv_lines(data: &[u8]) -> u64 {
    let next = data.iter().skip(1).chain([&0]);
    let breaks = data
        .iter()
        .zip(next)
        .filter(|&(&b, &next)| b == b'\n' || (b == b'\r' && next != b'\n'));
    1 + breaks.count() as u64
}

/// A listener as a homeserver config writes it, well-formed or not.
#[derive(Debug, Clone)]
struct Listener {
    kind: &'static str,
    tls: Option<bool>,
    port: i64,
    names: Vec<&'static str>,
}

impl Listener {
    fn to_yaml(&self) -> serde_yaml::Value {
        let mut map = serde_yaml::Mapping::new();
        map.insert("type".into(), self.kind.into());
        if let Some(tls) = self.tls {
            map.insert("tls".into(), tls.into());
        }
        map.insert("port".into(), self.port.into());
        let names: Vec<serde_yaml::Value> = self.names.iter().map(|&n| n.into()).collect();
        let mut resource = serde_yaml::Mapping::new();
        resource.insert("names".into(), names.into());
        map.insert("resources".into(), vec![resource].into());
        map.into()
    }

    fn port_is_valid(&self) -> bool {
        (1..=65535).contains(&self.port)
    }

    fn serves_client(&self) -> bool {
        self.kind == "http" && self.names.contains(&"client")
    }
}

fn listener() -> impl Strategy<Value = Listener> {
    (
        prop::sample::select(vec!["http", "metrics", "manhole", "replication"]),
        prop::option::of(any::<bool>()),
        prop_oneof![1i64..=65535, Just(0i64), 65536i64..=100_000, -100i64..0],
        prop::sample::subsequence(vec!["client", "federation", "media", "metrics"], 0..=4),
    )
        .prop_map(|(kind, tls, port, names)| Listener {
            kind,
            tls,
            port,
            names,
        })
}

proptest! {
    #[test]
    fn config_parsing_never_panics_on_arbitrary_bytes(files in vec(vec(any::<u8>(), 0..300), 1..4)) {
        if let Ok(config) = merged(&files) {
            let _ = config.secret_source();
            let _ = config.server_name();
            let _ = config.extra_user_types();
            if let Ok(Some(ClientListener::Tcp(url))) = config.client_listener() {
                listener_port(&url);
            }
        }
    }

    #[test]
    fn config_parsing_never_panics_on_yaml_like_text(
        files in vec("[a-z_:{}\\[\\], \n\"'&*<!#-]{0,200}", 1..4)
    ) {
        let files: Vec<Vec<u8>> = files.into_iter().map(String::into_bytes).collect();
        if let Ok(config) = merged(&files) {
            let _ = config.secret_source();
            let _ = config.client_listener();
        }
    }

    /// The listener URL, when found, is the first plain-HTTP client
    /// listener's, else the first TLS one's; it names localhost and a port
    /// between 1 and 65535. A listener that would be read with a bad port is
    /// an error naming it.
    #[test]
    fn the_listener_url_is_the_first_client_listener(listeners in vec(listener(), 0..6)) {
        let listeners_yaml: Vec<serde_yaml::Value> =
            listeners.iter().map(Listener::to_yaml).collect();
        let mut map = serde_yaml::Mapping::new();
        map.insert("listeners".into(), listeners_yaml.into());
        let config = merged(&[yaml(&map.into())]).unwrap();
        let result = config.client_listener();

        // What a reader of the reference's rules expects.
        let mut expected = Ok(None);
        for (i, l) in listeners.iter().enumerate() {
            if !l.serves_client() {
                continue;
            }
            if !l.port_is_valid() {
                expected = Err(format!("listeners[{i}].port"));
                break;
            }
            let tls = l.tls == Some(true);
            if !tls {
                expected = Ok(Some(ClientListener::Tcp(format!("http://localhost:{}", l.port))));
                break;
            }
            if expected == Ok(None) {
                expected = Ok(Some(ClientListener::Tcp(format!("https://localhost:{}", l.port))));
            }
        }
        match (&result, &expected) {
            (Ok(found), Ok(wanted)) => prop_assert_eq!(found, wanted),
            (Err(error), Err(key)) => prop_assert!(error.to_string().contains(key.as_str()), "{}", error),
            _ => prop_assert!(false, "{:?} but expected {:?}", result, expected),
        }
        if let Ok(Some(ClientListener::Tcp(url))) = result {
            listener_port(&url);
        }
    }

    /// A later file's top-level key replaces an earlier one's; files that
    /// are not mappings change nothing.
    #[test]
    fn the_later_file_wins(
        files in vec(
            (
                prop::option::of("[a-z][a-z.]{0,12}"),
                prop::option::of("[!-~]{1,20}"),
                any::<bool>(),
            ),
            1..5,
        )
    ) {
        let mut bytes = Vec::new();
        for (server_name, secret, not_a_mapping) in &files {
            if *not_a_mapping {
                bytes.push(b"- a list\n- not a mapping\n".to_vec());
            }
            let mut map = serde_yaml::Mapping::new();
            if let Some(name) = server_name {
                map.insert("server_name".into(), name.as_str().into());
            }
            if let Some(secret) = secret {
                map.insert("registration_shared_secret".into(), secret.as_str().into());
            }
            bytes.push(yaml(&map.into()));
        }
        let config = merged(&bytes).unwrap();
        let last_name = files.iter().rev().find_map(|(name, _, _)| name.as_deref());
        prop_assert_eq!(config.server_name(), last_name);
        let last_secret = files.iter().rev().find_map(|(_, secret, _)| secret.as_deref());
        match (config.secret_source(), last_secret) {
            (Ok(SecretSource::Inline(found)), Some(wanted)) => prop_assert_eq!(found.expose(), wanted),
            (Err(_), None) => {}
            (found, wanted) => prop_assert!(false, "{:?} but expected {:?}", found, wanted),
        }
    }

    /// An inline secret is used exactly as written (the server does not
    /// trim it either); any non-empty string is accepted.
    #[test]
    fn an_inline_secret_is_kept_exactly(secret in "\\PC{1,40}") {
        let mut map = serde_yaml::Mapping::new();
        map.insert("registration_shared_secret".into(), secret.as_str().into());
        let config = merged(&[yaml(&map.into())]).unwrap();
        match config.secret_source().unwrap() {
            SecretSource::Inline(found) => prop_assert_eq!(found.expose(), secret.as_str()),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// A secret read from a file is never empty and has no surrounding
    /// whitespace: it is the file's content stripped as Python's
    /// `str.strip()` strips it (so the MAC is Synapse's), or an error.
    #[test]
    fn a_secret_file_gives_a_trimmed_non_empty_secret(content in vec(any::<u8>(), 0..80)) {
        let dir = tempfile::tempdir().unwrap();
        let secret_path = dir.path().join("secret");
        std::fs::write(&secret_path, &content).unwrap();
        let mut map = serde_yaml::Mapping::new();
        map.insert(
            "registration_shared_secret_path".into(),
            secret_path.to_str().unwrap().into(),
        );
        let config = merged(&[yaml(&map.into())]).unwrap();
        match config.shared_secret() {
            Ok((secret, _)) => {
                let secret = secret.expose();
                prop_assert!(!secret.is_empty());
                prop_assert_eq!(secret, strip_like_python(secret));
                prop_assert_eq!(Some(secret), std::str::from_utf8(&content).ok().map(strip_like_python));
            }
            Err(error) => {
                let text = std::str::from_utf8(&content);
                prop_assert!(text.is_err() || strip_like_python(text.unwrap()).is_empty(), "{}", error);
                prop_assert!(error.to_string().contains(secret_path.to_str().unwrap()));
            }
        }
    }

    #[test]
    fn answers_never_panic_and_print_one_clean_line(
        status in any::<u16>(),
        body in prop_oneof![
            vec(any::<u8>(), 0..200),
            // JSON with arbitrary strings, escapes and control characters included.
            ("\\PC*", any::<char>(), prop::option::of(any::<u64>())).prop_map(|(error, c, retry)| {
                json!({"errcode": "M_X", "error": format!("{error}{c}"), "retry_after_ms": retry,
                       "nonce": format!("{c}"), "user_id": format!("@{c}:x")})
                .to_string()
                .into_bytes()
            }),
        ]
    ) {
        let refusal = parse_refusal(status, &body);
        prop_assert_eq!(refusal.status, status);
        assert_printable(&register_new_matrix_user::Error::Refused(refusal.clone()).to_string());
        assert_printable(refusal.error.as_deref().unwrap_or_default());
        let _ = parse_nonce(&body);
        match parse_registered(&body) {
            Ok(registered) => assert_printable(&registered.user_id),
            Err(error) => assert_printable(&error.to_string()),
        }
    }

    /// Well-formed answers come back as sent.
    #[test]
    fn well_formed_answers_round_trip(
        nonce in "\\PC{0,130}",
        error in "[^\\p{Cc}]{0,60}",
        retry in prop::option::of(any::<u64>()),
        user in "[a-z0-9._=/+-]{1,20}",
    ) {
        let body = json!({"nonce": nonce}).to_string();
        prop_assert_eq!(parse_nonce(body.as_bytes()).unwrap(), nonce);
        let body = json!({"errcode": "M_FORBIDDEN", "error": error, "retry_after_ms": retry}).to_string();
        let refusal = parse_refusal(403, body.as_bytes());
        prop_assert_eq!(refusal.errcode.as_deref(), Some("M_FORBIDDEN"));
        prop_assert_eq!(refusal.error.as_deref(), Some(error.as_str()));
        prop_assert_eq!(refusal.retry_after_ms, retry);
        let user_id = format!("@{user}:example.org");
        let body = json!({"user_id": user_id, "access_token": "syt_x", "device_id": "D", "home_server": "example.org"}).to_string();
        let registered = parse_registered(body.as_bytes()).unwrap();
        prop_assert_eq!(registered.user_id, user_id);
        prop_assert_eq!(registered.access_token.as_ref().map(|t| t.expose()), Some("syt_x"));
    }

    #[test]
    fn batch_parsing_never_panics_and_counts_what_it_reports(data in prop_oneof![
        vec(any::<u8>(), 0..300),
        "[a-z,\"\r\n{}:@ ]{0,200}".prop_map(String::into_bytes),
    ]) {
        let lines = csv_lines(&data);
        let mut reported = 0;
        let checked = check_rows(std::io::Cursor::new(&data[..]), &Rules::default(), &mut |problem| {
            assert!((1..=lines).contains(&problem.line), "{problem:?} of {lines} lines");
            reported += 1;
        })
        .unwrap();
        prop_assert_eq!(checked.problems, reported);
    }

    /// Rows written by a CSV or JSON Lines writer are read back as written,
    /// each on its line.
    #[test]
    fn batch_rows_round_trip(
        rows in vec(("[a-z0-9._=/+-]{1,12}", "[^\\x00]{0,20}", prop::option::of(any::<bool>())), 1..8),
        json_lines in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let mut text = Vec::new();
        if json_lines {
            for (user, password, admin) in &rows {
                let line = json!({"localpart": user, "password": password, "admin": admin});
                text.extend_from_slice(line.to_string().as_bytes());
                text.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
        } else {
            let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
            let mut writer = csv::WriterBuilder::new().terminator(terminator).from_writer(&mut text);
            writer.write_record(["localpart", "password", "admin"]).unwrap();
            for (user, password, admin) in &rows {
                let admin = admin.map_or("", |a| if a { "yes" } else { "no" });
                writer.write_record([user.as_str(), password.as_str(), admin]).unwrap();
            }
            writer.flush().unwrap();
        }
        let parsed = Rows::new(&text[..]).unwrap();
        prop_assert_eq!(parsed.format(), if json_lines { Format::JsonLines } else { Format::Csv });
        // Line breaks inside quoted passwords push later rows down.
        let mut line = if json_lines { 1 } else { 2 };
        let parsed: Vec<_> = parsed.collect();
        prop_assert_eq!(parsed.len(), rows.len());
        for (entry, (user, password, admin)) in parsed.into_iter().zip(&rows) {
            let entry = entry.unwrap();
            prop_assert_eq!(entry.line, line);
            prop_assert_eq!(entry.localpart.as_deref(), Some(user.as_str()));
            let expected_password = (!password.is_empty()).then_some(password.as_str());
            prop_assert_eq!(entry.password.as_ref().map(|p| p.expose()), expected_password);
            prop_assert_eq!(entry.admin, *admin);
            if !json_lines {
                let mut after_cr = false;
                for b in password.bytes() {
                    line += u64::from(b == b'\r' || (b == b'\n' && !after_cr));
                    after_cr = b == b'\r';
                }
            }
            line += 1;
        }
    }

    /// A password never appears in what is reported about its row, whatever
    /// JSON type it was written as.
    #[test]
    fn a_batch_password_is_never_echoed(
        secret in "[A-Za-z0-9]{12,20}",
        shape in 0..4u8,
        other in prop::sample::select(vec!["", "\"admin\": \"maybe\", ", "\"user_type\": 7, ", "\"colour\": 1, "]),
    ) {
        let marker = format!("Pw{secret}");
        let value = match shape {
            0 => json!(marker),
            1 => json!([marker]),
            2 => json!({"value": marker}),
            _ => json!(format!("{marker}\u{0}")),
        };
        let line = format!("{{\"user\": \"alice\", {other}\"password\": {value}}}\n");
        let check = |line: &str, password: &str| {
            check_rows(std::io::Cursor::new(line), &Rules::default(), &mut |problem| {
                assert!(!problem.message.contains(password), "{problem:?}");
            })
            .unwrap();
        };
        check(&line, &marker);
        // A number is the likeliest mistake: a password written unquoted.
        let number = format!("9{}", secret.len() * 7919);
        check(&format!("{{\"user\": \"alice\", {other}\"password\": {number}}}\n"), &number);
    }
}

/// The seed inputs of the fuzz targets parse without panicking; their
/// expected results are checked by the unit tests.
#[test]
fn fuzz_seeds_parse() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let read = |target: &str| -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(seeds.join(target))
            .unwrap()
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}");
        files
    };
    for data in read("config") {
        let files: Vec<Vec<u8>> = data.split(|&b| b == 0xFF).map(<[u8]>::to_vec).collect();
        if let Ok(config) = merged(&files) {
            let _ = config.secret_source();
            if let Ok(Some(ClientListener::Tcp(url))) = config.client_listener() {
                listener_port(&url);
            }
        }
    }
    for data in read("batch") {
        check_rows(
            std::io::Cursor::new(&data[..]),
            &Rules::default(),
            &mut |_| {},
        )
        .unwrap();
    }
    for data in read("response") {
        let (status, body) = data.split_at(data.iter().position(|&b| b == b'\n').unwrap());
        let status: u16 = std::str::from_utf8(status).unwrap().parse().unwrap();
        let refusal = parse_refusal(status, &body[1..]);
        assert_printable(refusal.error.as_deref().unwrap_or_default());
    }
}

/// Python's `str.strip()`: Unicode's `White_Space` and U+001C..U+001F, written
/// here independently of the crate's own function so the property checks it.
fn strip_like_python(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}
