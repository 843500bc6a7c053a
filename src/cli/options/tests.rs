use super::*;
use clap::Parser;

fn options(args: &[&str]) -> Result<Options> {
    options_with(args, None, "")
}

fn options_with(args: &[&str], env: Option<&str>, stdin: &str) -> Result<Options> {
    let mut argv = vec!["register_new_matrix_user"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| Error::usage(e.to_string()))?;
    Options::from_cli(cli, env.map(str::to_owned), &mut stdin.as_bytes())
}

#[test]
fn secret_precedence_is_k_then_file_then_env_then_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file\n").unwrap();
    let config = dir.path().join("hs.yaml");
    std::fs::write(&config, "registration_shared_secret: from-config\n").unwrap();
    let (f, c) = (file.to_str().unwrap(), config.to_str().unwrap());
    let secret = |args: &[&str], env| match options_with(args, env, "").unwrap().route {
        Route::SharedSecret(secret) => secret.expose().to_owned(),
        Route::Mas(_) => panic!("no MAS option was given"),
    };
    assert_eq!(
        secret(&["-u", "a", "-p", "p", "-a", "-k", "from-k"], Some("env")),
        "from-k"
    );
    assert_eq!(
        secret(
            &[
                "-u",
                "a",
                "-p",
                "p",
                "-a",
                "--shared-secret-file",
                f,
                "-c",
                c
            ],
            Some("env")
        ),
        "from-file"
    );
    assert_eq!(
        secret(&["-u", "a", "-p", "p", "-a", "-c", c], Some("from-env")),
        "from-env"
    );
    assert_eq!(
        secret(&["-u", "a", "-p", "p", "-a", "-c", c], None),
        "from-config"
    );
    assert_eq!(
        secret(&["-u", "a", "-p", "p", "-a"], Some("only-env")),
        "only-env"
    );
}

#[test]
fn some_secret_source_is_required() {
    let error = options(&["-u", "a", "-p", "p"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error
            .to_string()
            .contains("-c/--config -k/--shared-secret is required")
    );
}
#[test]
fn mutually_exclusive_options_are_usage_errors() {
    for args in [
        &["-k", "s", "-c", "x"][..],
        &["-k", "s", "-p", "a", "--password-file", "f"],
        &["-k", "s", "-a", "--no-admin"],
        &["-k", "s", "--shared-secret-file", "f"],
        &["-k", "s", "--password-stdin", "--generate-password"],
    ] {
        assert_eq!(options(args).unwrap_err().exit_code(), 2, "{args:?}");
    }
    let error = options(&["-k", "s", "-u", "a", "--generate-password", "-o", "token"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn password_sources() {
    let o = options_with(&["-k", "s", "--password-stdin"], None, "from stdin\n").unwrap();
    assert!(matches!(o.password, PasswordSource::Given(p) if p.expose() == "from stdin"));
    let o = options(&["-k", "s", "--generate-password"]).unwrap();
    assert!(matches!(o.password, PasswordSource::Generate));
    let o = options(&["-k", "s"]).unwrap();
    assert!(matches!(o.password, PasswordSource::Prompt));
    let o = options(&["-k", "s", "-p", "", "-u", ""]).unwrap();
    assert!(matches!(o.password, PasswordSource::Prompt));
    assert_eq!(o.localpart, None);
    let long = "x".repeat(513);
    assert_eq!(
        options(&["-k", "s", "-p", &long]).unwrap_err().exit_code(),
        3
    );
}

#[test]
fn server_url_discovery_and_notices() {
    let o = options(&["-k", "s"]).unwrap();
    assert_eq!(o.server_url.as_str(), "http://localhost:8008/");
    assert!(
        o.notices[0]
            .to_string()
            .contains("No server url or configuration file given")
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hs.yaml");
    std::fs::write(&config, "registration_shared_secret: s\n").unwrap();
    let o = options(&["-c", config.to_str().unwrap()]).unwrap();
    assert!(
        o.notices[0]
            .to_string()
            .contains("Unable to find a suitable HTTP listener")
    );
    let o = options(&["-k", "s", "https://matrix.example.org/"]).unwrap();
    assert!(o.notices.is_empty());
    let o = options(&["-k", "s", "http://matrix.example.org/"]).unwrap();
    assert!(
        o.notices[0].to_string().contains("plain HTTP"),
        "{:?}",
        o.notices
    );
    let o = options(&["-k", "s", "http://127.0.0.1:8008"]).unwrap();
    assert!(o.notices.is_empty());
}

#[test]
fn passwords_in_urls_are_not_repeated() {
    // The URL parser ends the authority at '/', '?' or '#': the password
    // is then taken for a port, and the whole URL is invalid.
    for url in [
        "http://a:hunter2@[::1",
        "http://a:hun/ter2@host",
        "http://a:hun?ter2@host",
        "http://a:hun#ter2@host",
        "http://a:hunter2@host",
    ] {
        let error = options(&["-k", "s", url]).unwrap_err();
        assert!(!error.to_string().contains("ter2"), "{error}");
        assert!(error.to_string().contains("a:***@"), "{error}");
    }
}

#[test]
fn invalid_server_urls_are_input_errors() {
    for url in [
        "localhost:8008",
        "ftp://x",
        "http://",
        "not a url",
        "http://u:p@host/",
    ] {
        let error = options(&["-k", "s", url]).unwrap_err();
        assert_eq!(error.exit_code(), 3, "{url}");
        assert!(error.to_string().starts_with("server_url:"), "{error}");
    }
}

#[test]
fn user_ids_are_checked_against_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hs.yaml");
    std::fs::write(
        &config,
        "registration_shared_secret: s\nserver_name: example.org\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let o = options(&["-c", c, "-u", "@Alice:example.org"]).unwrap();
    assert_eq!(o.localpart.as_deref(), Some("Alice"));
    assert_eq!(
        options(&["-c", c, "-u", "@alice:other.org"])
            .unwrap_err()
            .exit_code(),
        3
    );
    assert_eq!(
        options(&["-c", c, "-t", "robot"]).unwrap_err().exit_code(),
        3
    );
    options(&["-k", "s", "-t", "robot"]).unwrap();
}

#[test]
fn timeouts_must_be_positive() {
    assert_eq!(
        options(&["-k", "s", "--timeout", "0"])
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(
        options(&["-k", "s", "--timeout", "-1"])
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(
        options(&["-k", "s", "--wait", "NaN"])
            .unwrap_err()
            .exit_code(),
        2
    );
    let o = options(&["-k", "s", "--timeout", "1.5", "--wait", "0"]).unwrap();
    assert_eq!(o.http.timeout, Duration::from_millis(1500));
    assert_eq!(o.http.wait, None);
}

#[test]
fn a_unix_socket_takes_the_place_of_the_url_and_of_discovery() {
    let o = options(&["-k", "s", "--unix-socket", "/run/s.sock"]).unwrap();
    assert_eq!(o.server_url.as_str(), "http://localhost/");
    assert_eq!(
        o.http.unix_socket.as_deref(),
        Some(std::path::Path::new("/run/s.sock"))
    );
    assert!(o.notices.is_empty(), "{:?}", o.notices);
    // The host only names the Host header: no plain-HTTP warning.
    let o = options(&[
        "-k",
        "s",
        "--unix-socket",
        "/run/s.sock",
        "http://matrix.example.org/p",
    ])
    .unwrap();
    assert_eq!(o.server_url.as_str(), "http://matrix.example.org/p");
    assert!(o.notices.is_empty(), "{:?}", o.notices);

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hs.yaml");
    std::fs::write(
        &config,
        "registration_shared_secret: s\nlisteners: [{path: /run/main.sock, type: http, resources: [{names: [client]}]}]\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let o = options(&["-c", c]).unwrap();
    assert_eq!(
        o.http.unix_socket.as_deref(),
        Some(std::path::Path::new("/run/main.sock"))
    );
    assert_eq!(o.server_url.as_str(), "http://localhost/");
    // A URL given on the command line wins over the config's socket.
    let o = options(&["-c", c, "http://127.0.0.1:8008"]).unwrap();
    assert_eq!(o.http.unix_socket, None);
}

#[test]
fn an_empty_secret_is_no_secret() {
    let secret = |args: &[&str], env| {
        options_with(args, env, "").map(|o| match o.route {
            Route::SharedSecret(secret) => (secret.expose().to_owned(), o.notices),
            Route::Mas(_) => panic!("no MAS option was given"),
        })
    };
    let (from_env, _) = secret(&["-k", ""], Some("from-env")).unwrap();
    assert_eq!(from_env, "from-env");
    let error = secret(&["-k", ""], None).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().contains("-k/--shared-secret was empty"),
        "{error}"
    );
    let error = secret(&["-k", ""], Some("")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("-k/--shared-secret and MATRIX_REGISTRATION_SHARED_SECRET was empty"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, " \n").unwrap();
    let empty = empty.to_str().unwrap();
    let (from_env, notices) = secret(&["--shared-secret-file", empty], Some("from-env")).unwrap();
    assert_eq!(from_env, "from-env");
    assert!(
        notices[0].to_string().contains("it is empty"),
        "{notices:?}"
    );
    let error = secret(&["--shared-secret-file", empty], None).unwrap_err();
    assert!(
        error.to_string().contains("--shared-secret-file was empty"),
        "{error}"
    );
    let config = dir.path().join("hs.yaml");
    std::fs::write(&config, "registration_shared_secret: from-config\n").unwrap();
    let (from_config, _) = secret(
        &[
            "--shared-secret-file",
            empty,
            "-c",
            config.to_str().unwrap(),
        ],
        None,
    )
    .unwrap();
    assert_eq!(from_config, "from-config");
}

#[test]
fn the_mode_is_decided_once() {
    let parse = |args: &[&str]| {
        let mut argv = vec!["register_new_matrix_user"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).unwrap();
        Mode::from_cli(cli, || Ok(None), &mut "".as_bytes())
    };
    let error = parse(&["-k", "s", "--jobs", "2", "-u", "a", "-p", "p"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error
            .to_string()
            .contains("--jobs applies only with --batch")
    );
    match parse(&["-k", "s", "--batch", "users.csv"]).unwrap() {
        Mode::Batch { path, jobs, .. } => {
            assert_eq!(path, std::path::Path::new("users.csv"));
            assert_eq!(jobs, DEFAULT_JOBS);
        }
        Mode::One(_) => panic!("--batch is batch mode"),
    }
    assert!(matches!(
        parse(&["-k", "s", "-u", "a", "-p", "p"]).unwrap(),
        Mode::One(_)
    ));
}
