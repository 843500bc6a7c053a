//! The built binary against the in-process stub Synapse: what goes over the
//! wire (checked by the stub, MAC included), what is printed, and the exit
//! status, for the reference's invocations and the options beyond them.

use crate::tool;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::stub::{
    RefusingPort, Reply, Request, SERVER_NAME, Stub, Synapse, reserved_port, test_cert,
};
use support::tool::{Outcome, Unwritable};

const SECRET: &str = "cli-test-secret";

fn register(url: &str, extra: &[&str]) -> Outcome {
    tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "alice",
            "-p",
            "wonderland",
            "--no-admin",
        ])
        .args(extra)
        .arg(url)
        .run()
}

/// The only JSON object on stdout.
fn json_output(out: &Outcome) -> Value {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line of JSON:\n{out}");
    serde_json::from_str(lines[0]).expect("stdout is JSON")
}

/// A stub that answers the first `n` requests with `first`, then as Synapse.
fn after(n: usize, first: fn() -> Reply) -> (Stub, Arc<Synapse>) {
    let synapse = Synapse::new(SECRET);
    let server = Arc::clone(&synapse);
    let seen = AtomicUsize::new(0);
    let stub = Stub::start(move |r| {
        if seen.fetch_add(1, Ordering::SeqCst) < n {
            first()
        } else {
            server.reply(r)
        }
    });
    (stub, synapse)
}

/// A stub that answers every POST with `fault` and the rest as Synapse.
fn post_fails(fault: fn() -> Reply) -> Stub {
    let synapse = Synapse::new(SECRET);
    Stub::start(move |r: &Request| {
        if r.method == "POST" {
            fault()
        } else {
            synapse.reply(r)
        }
    })
}

#[test]
fn success_sends_the_reference_body_with_a_valid_mac() {
    let (stub, synapse) = Stub::synapse(SECRET);
    let out = tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "Alice",
            "-p",
            "wonderland",
            "--no-admin",
        ])
        .arg(stub.url())
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "Sending registration request...\nSuccess!\n");
    assert_eq!(out.stderr, "", "no notice or warning for a loopback URL");

    assert_eq!(stub.methods(), ["GET", "POST"]);
    let requests = stub.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == support::stub::REGISTER_PATH)
    );
    let post = &requests[1];
    assert_eq!(post.header("content-type"), Some("application/json"));
    let body = post.json();
    let fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["admin", "mac", "nonce", "password", "user_type", "username"]
    );
    // Sent as typed: the server lowercases, and the MAC covers what was sent.
    assert_eq!(body["username"], "Alice");
    assert_eq!(body["admin"], false);
    assert_eq!(body["user_type"], Value::Null);
    // The stub created the account only because the MAC matched.
    let created = synapse.created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].username, "alice");
    assert_eq!(created[0].password, "wonderland");
    assert!(!String::from_utf8_lossy(&stub.received()).contains(SECRET));
}

#[test]
fn admin_and_user_type_are_covered_by_the_mac() {
    let (stub, synapse) = Stub::synapse(SECRET);
    tool()
        .args(["-k", SECRET, "-u", "bot1", "-p", "pw", "-a", "-t", "bot"])
        .arg(stub.url())
        .run()
        .assert_code(0);
    let account = &synapse.created()[0];
    assert!(account.admin);
    assert_eq!(account.user_type.as_deref(), Some("bot"));
}

#[test]
fn a_404_on_the_nonce_is_a_refusal_and_nothing_is_posted() {
    let stub = Stub::start(|_| Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request"));
    let out = register(&stub.url(), &[]);
    out.assert_code(1);
    assert_eq!(
        out.stdout,
        "ERROR! Received 404 Not Found\nUnrecognized request\n"
    );
    assert!(out.stderr_lines("hint:")[0].contains("mas-cli manage register-user"));
    // The nonce, then the three auth-metadata paths that would show
    // delegated auth: never a POST.
    assert_eq!(stub.methods(), ["GET", "GET", "GET", "GET"]);
}

#[test]
fn a_500_on_the_post_is_reported_and_not_retried() {
    let stub = post_fails(|| Reply::raw(500, "text/html", "<h1>Internal Server Error</h1>"));
    let out = register(&stub.url(), &["--wait", "5"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout,
        "Sending registration request...\nERROR! Received 500 Internal Server Error\n"
    );
    assert_eq!(
        out.error_line(),
        "error: Received 500 Internal Server Error"
    );
    assert_eq!(stub.methods(), ["GET", "POST"]);
}

#[test]
fn an_existing_user_is_a_refusal_unless_exists_ok() {
    let (stub, synapse) = Stub::synapse(SECRET);
    synapse.add_existing("alice");
    let out = register(&stub.url(), &[]);
    out.assert_code(1);
    assert_eq!(
        out.stdout,
        "Sending registration request...\nERROR! Received 400 Bad Request\nUser ID already taken.\n"
    );
    assert!(out.stderr_lines("hint:")[0].contains("--exists-ok"));

    let out = register(&stub.url(), &["--exists-ok"]);
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "Sending registration request...\nUser already exists. Skipping.\n"
    );
    assert_eq!(out.stderr, "");
    assert!(synapse.created().is_empty());
}

#[test]
fn json_output_on_success_and_failure() {
    let (stub, synapse) = Stub::synapse(SECRET);
    let out = register(&stub.url(), &["-o", "json"]);
    out.assert_code(0);
    let object = json_output(&out);
    assert_eq!(object["user_id"], format!("@alice:{SERVER_NAME}"));
    assert_eq!(object["access_token"], "syt_alice_token");
    assert_eq!(object["device_id"], "STUBDEVICE");
    assert_eq!(object["home_server"], SERVER_NAME);
    assert_eq!(object["created"], true);
    assert!(object.get("password").is_none());
    assert_eq!(synapse.created().len(), 1);

    let out = register(&stub.url(), &["-o", "json"]);
    out.assert_code(1);
    let object = json_output(&out);
    assert_eq!(object["errcode"], "M_USER_IN_USE");
    assert_eq!(object["error"], "User ID already taken.");
    assert_eq!(object["created"], false);

    let out = register(&stub.url(), &["-o", "json", "--exists-ok"]);
    out.assert_code(0);
    let object = json_output(&out);
    assert_eq!(object["created"], false);
    assert_eq!(object["access_token"], Value::Null);
}

#[test]
fn token_output_is_the_token_alone() {
    let (stub, _) = Stub::synapse(SECRET);
    let out = register(&stub.url(), &["-o", "token"]);
    out.assert_code(0);
    assert_eq!(out.stdout, "syt_alice_token\n");
}

#[test]
fn display_name_is_sent_as_displayname() {
    let (stub, synapse) = Stub::synapse(SECRET);
    register(&stub.url(), &["--display-name", "Alice Liddell"]).assert_code(0);
    assert_eq!(stub.posts()[0].json()["displayname"], "Alice Liddell");
    assert_eq!(
        synapse.created()[0].displayname.as_deref(),
        Some("Alice Liddell")
    );
}

#[test]
fn password_stdin_loses_only_the_newline() {
    let (stub, synapse) = Stub::synapse(SECRET);
    tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "alice",
            "--password-stdin",
            "--no-admin",
        ])
        .arg(stub.url())
        .stdin(" pass word \n\n")
        .run()
        .assert_code(0);
    assert_eq!(synapse.created()[0].password, " pass word ");
}

#[test]
fn generated_passwords_are_shown_once_and_sent() {
    let (stub, synapse) = Stub::synapse(SECRET);
    let out = tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "alice",
            "--generate-password",
            "--no-admin",
        ])
        .args(["-o", "json"])
        .arg(stub.url())
        .run();
    out.assert_code(0);
    let password = json_output(&out)["password"]
        .as_str()
        .expect("password field")
        .to_owned();
    assert!(password.len() >= 20, "{password}");
    assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(synapse.created()[0].password, password);
    assert!(!out.stderr.contains(&password));

    let out = tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "bob",
            "--generate-password",
            "--no-admin",
        ])
        .arg(stub.url())
        .run();
    out.assert_code(0);
    let shown: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Generated password: "))
        .collect();
    assert_eq!(shown.len(), 1, "{out}");
    assert_eq!(synapse.created()[1].password, shown[0]);
    assert_ne!(shown[0], password);
}

/// Each source holds a different secret and the stub knows only the one that
/// must win: a wrong precedence is a MAC mismatch (exit 1).
#[test]
fn shared_secret_precedence_is_k_then_file_then_environment_then_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file\n").unwrap();
    let config = dir.path().join("hs.yaml");
    std::fs::write(&config, "registration_shared_secret: from-config\n").unwrap();
    for (winner, args) in [
        ("from-k", vec!["-k", "from-k"]),
        (
            "from-file",
            vec![
                "--shared-secret-file",
                file.to_str().unwrap(),
                "-c",
                config.to_str().unwrap(),
            ],
        ),
        ("from-env", vec!["-c", config.to_str().unwrap()]),
        ("from-env", vec![]),
    ] {
        let (stub, synapse) = Stub::synapse(winner);
        tool()
            .args(&args)
            .args(["-u", "alice", "-p", "pw", "--no-admin"])
            .env("MATRIX_REGISTRATION_SHARED_SECRET", "from-env")
            .arg(stub.url())
            .run()
            .assert_code(0);
        assert_eq!(synapse.created().len(), 1, "{winner} via {args:?}");
    }
    let (stub, synapse) = Stub::synapse("from-config");
    tool()
        .args(["-c", config.to_str().unwrap()])
        .args(["-u", "alice", "-p", "pw", "--no-admin"])
        .arg(stub.url())
        .run()
        .assert_code(0);
    assert_eq!(synapse.created().len(), 1);
}

#[test]
fn wait_covers_a_server_that_starts_late() {
    let port = reserved_port();
    let started = Instant::now();
    let running = tool()
        .args(["-k", SECRET, "-u", "alice", "-p", "pw", "--no-admin"])
        .args(["--wait", "10", "--timeout", "2"])
        .arg(format!("http://127.0.0.1:{port}"))
        .spawn();
    std::thread::sleep(Duration::from_millis(800));
    let synapse = Synapse::new(SECRET);
    let server = Arc::clone(&synapse);
    let stub = Stub::builder().port(port).start(move |r| server.reply(r));
    let out = running.finish();
    out.assert_code(0);
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert!(out.elapsed < Duration::from_secs(8), "{out}");
    assert_eq!(stub.methods(), ["GET", "POST"]);
    assert_eq!(synapse.created().len(), 1);
}

/// Interrupted before anything was sent (during `--wait`, or while the
/// nonce is fetched): `-o json` still prints its one object, of kind
/// `interrupted`, and the error line says why; nothing can exist.
#[test]
fn a_signal_before_the_registration_is_sent_is_reported_in_every_format() {
    for (format, signal, code) in [
        ("json", libc::SIGINT, 130),
        ("json", libc::SIGTERM, 143),
        ("text", libc::SIGINT, 130),
    ] {
        let refusing = RefusingPort::bind();
        let port = refusing.port();
        let running = tool()
            .args(["-v", "-k", SECRET, "-u", "alice", "--generate-password"])
            .args(["--no-admin", "--wait", "120", "-o", format])
            .arg(format!("http://127.0.0.1:{port}"))
            .spawn();
        running.wait_for_stderr("; retrying", Duration::from_secs(10));
        // SAFETY: sending a signal to our own child process.
        assert_eq!(
            unsafe { libc::kill(running.id() as libc::pid_t, signal) },
            0
        );
        let out = running.finish();
        assert_eq!(out.code, Some(code), "{out}");
        assert_eq!(out.error_line(), "error: interrupted", "{out}");
        assert!(!out.stderr.contains("password"), "nothing was sent: {out}");
        if format == "json" {
            let object: Value = serde_json::from_str(out.stdout.trim()).unwrap();
            assert_eq!(object["kind"], "interrupted", "{out}");
            assert_eq!(object["created"], false, "{out}");
            assert_eq!(object["exit_code"], code, "{out}");
            assert!(object.get("password").is_none(), "{out}");
        } else {
            assert_eq!(out.stdout, "", "{out}");
        }
    }
}

#[test]
fn wait_retries_through_503_then_registers_once() {
    let (stub, synapse) = after(2, || Reply::raw(503, "text/plain", ""));
    let out = register(&stub.url(), &["--wait", "10"]);
    out.assert_code(0);
    assert_eq!(stub.methods(), ["GET", "GET", "GET", "POST"]);
    assert_eq!(synapse.created().len(), 1);
}

#[test]
fn wait_gives_up_in_time() {
    let refusing = RefusingPort::bind();
    let port = refusing.port();
    let out = register(&format!("http://127.0.0.1:{port}"), &["--wait", "1"]);
    out.assert_code(4);
    assert_eq!(
        out.error_line(),
        format!("error: connection refused by 127.0.0.1:{port}; gave up after waiting 1 s")
    );
    assert!(out.elapsed >= Duration::from_secs(1), "{out}");
    assert!(out.elapsed < Duration::from_secs(5), "{out}");
}

/// A POST that reached the server may have created the account: --wait
/// does not send it again, whatever the failure.
#[test]
fn a_post_that_reached_the_server_is_never_resent_with_a_new_nonce() {
    for (fault, methods) in [
        (
            (|| Reply::raw(503, "text/plain", "")) as fn() -> Reply,
            &["GET", "POST"][..],
        ),
        (
            || Reply::raw(502, "text/html", "<h1>Bad Gateway</h1>"),
            &["GET", "POST"],
        ),
        // Closed before any answer: the same request once more, on a fresh
        // connection, with the same nonce (the server refuses a used one).
        (|| Reply::Reset, &["GET", "POST", "POST"]),
        (|| Reply::Hangup, &["GET", "POST", "POST"]),
    ] {
        let stub = post_fails(fault);
        let out = register(&stub.url(), &["--wait", "5"]);
        out.assert_code(4);
        assert_eq!(stub.methods(), methods, "{out}");
        let posts: Vec<Value> = stub.posts().iter().map(|p| p.json()).collect();
        assert!(posts.iter().all(|p| *p == posts[0]), "{posts:?}");
        assert!(out.elapsed < Duration::from_secs(3), "{out}");
    }
}

#[test]
fn an_unrecognised_nonce_is_retried_once_with_a_fresh_one() {
    let synapse = Synapse::new(SECRET);
    let server = Arc::clone(&synapse);
    let posts = AtomicUsize::new(0);
    // The first POST lands on a process that did not issue the nonce.
    let stub = Stub::start(move |r| {
        if r.method == "POST" && posts.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::error(400, "M_UNKNOWN", "unrecognised nonce")
        } else {
            server.reply(r)
        }
    });
    let out = register(&stub.url(), &[]);
    out.assert_code(0);
    assert_eq!(stub.methods(), ["GET", "POST", "GET", "POST"]);
    let posts = stub.posts();
    assert_ne!(posts[0].json()["nonce"], posts[1].json()["nonce"]);
    assert_eq!(
        out.stdout
            .matches("Sending registration request...")
            .count(),
        1
    );
    assert_eq!(synapse.created().len(), 1);
}

#[test]
fn timeout_bounds_each_request() {
    let stub = Stub::start(|_| Reply::Silent);
    let out = register(&stub.url(), &["--timeout", "0.5"]);
    out.assert_code(4);
    assert_eq!(
        out.error_line(),
        format!(
            "error: 127.0.0.1:{} did not answer within 0.5 s",
            stub.port()
        )
    );
    assert!(out.elapsed >= Duration::from_millis(450), "{out}");
    assert!(out.elapsed < Duration::from_millis(2500), "{out}");
}

/// The warning is printed before anything is sent; the missing localpart
/// then stops the run (there is no terminal), so nothing leaves the machine.
#[test]
fn plain_http_to_another_machine_is_warned_about() {
    let out = tool()
        .args(["-k", SECRET, "-p", "pw", "--no-admin"])
        .arg("http://matrix.example.org:8008")
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains(
            "Warning: the password is sent over plain HTTP to matrix.example.org, which is not this machine; prefer https://."
        ),
        "{out}"
    );
    assert!(out.error_line().contains("no terminal"), "{out}");
}

#[test]
fn the_server_url_comes_from_the_first_client_listener() {
    let (stub, synapse) = Stub::synapse(SECRET);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hs.yaml");
    // A listener without resources serves nothing and is skipped, as by the
    // reference; so is one without the client resource.
    std::fs::write(
        &config,
        format!(
            "registration_shared_secret: {SECRET}\nserver_name: {SERVER_NAME}\nlisteners:\n  \
             - {{port: 1, type: http}}\n  \
             - {{port: 2, type: http, resources: [{{names: [federation]}}]}}\n  \
             - {{port: {}, type: http, resources: [{{names: [client, federation]}}]}}\n",
            stub.port()
        ),
    )
    .unwrap();
    let out = tool()
        .args(["-c", config.to_str().unwrap()])
        .args(["-u", &format!("@alice:{SERVER_NAME}"), "-p", "pw", "-a"])
        .run();
    out.assert_code(0);
    assert_eq!(out.stderr, "");
    assert_eq!(stub.posts()[0].json()["username"], "alice");
    assert!(synapse.created()[0].admin);
}

#[test]
fn a_tls_listener_is_reached_over_https_with_its_certificate() {
    let synapse = Synapse::new(SECRET);
    let server = Arc::clone(&synapse);
    let stub = Stub::builder().tls().start(move |r| server.reply(r));
    let dir = tempfile::tempdir().unwrap();
    let ca = test_cert().write_to(dir.path());
    let config = dir.path().join("hs.yaml");
    std::fs::write(
        &config,
        format!(
            "registration_shared_secret: {SECRET}\nlisteners:\n  \
             - {{port: {}, type: http, tls: true, resources: [{{names: [client]}}]}}\n",
            stub.port()
        ),
    )
    .unwrap();
    // https://localhost:PORT: the certificate names localhost.
    let out = tool()
        .args([
            "-c",
            config.to_str().unwrap(),
            "--cacert",
            ca.to_str().unwrap(),
        ])
        .args(["-u", "alice", "-p", "pw", "--no-admin"])
        .run();
    out.assert_code(0);
    assert_eq!(stub.methods(), ["GET", "POST"]);

    let out = tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "bob",
            "-p",
            "pw",
            "--no-admin",
            "--insecure",
        ])
        .arg(stub.url())
        .run();
    out.assert_code(0);
    assert!(out.stderr.contains("Warning: --insecure"), "{out}");
    assert_eq!(synapse.created().len(), 2);
}

#[test]
fn secret_and_password_files_readable_by_others_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let (stub, synapse) = Stub::synapse(SECRET);
    let dir = tempfile::tempdir().unwrap();
    let (secret, password) = (dir.path().join("secret"), dir.path().join("password"));
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::write(&password, "pw\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = tool()
        .args(["--shared-secret-file", secret.to_str().unwrap()])
        .args(["--password-file", password.to_str().unwrap()])
        .args(["-u", "alice", "--no-admin"])
        .arg(stub.url())
        .run();
    out.assert_code(0);
    for (path, mode) in [(&secret, "644"), (&password, "640")] {
        assert!(
            out.stderr.contains(&format!(
                "Warning: {} is readable by other users (mode {mode}); consider chmod 600.",
                path.display()
            )),
            "{out}"
        );
    }
    assert_eq!(synapse.created()[0].password, "pw");

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = tool()
        .args(["--shared-secret-file", secret.to_str().unwrap()])
        .args(["--password-file", password.to_str().unwrap()])
        .args(["-u", "bob", "--no-admin"])
        .arg(stub.url())
        .run();
    out.assert_code(0);
    assert_eq!(out.stderr, "");
}

#[test]
fn a_proxy_from_the_environment_is_named_when_it_fails() {
    let (server, _) = Stub::synapse(SECRET);
    let refusing = RefusingPort::bind();
    let proxy = format!("http://user:proxy-pass@127.0.0.1:{}", refusing.port());
    let through_proxy = |no_proxy: Option<&str>| {
        let mut run = tool().env("http_proxy", &proxy);
        if let Some(no_proxy) = no_proxy {
            run = run.env("no_proxy", no_proxy);
        }
        run.args([
            "-k",
            SECRET,
            "-u",
            "alice",
            "-p",
            "wonderland",
            "--no-admin",
        ])
        .arg(server.url())
        .run()
    };
    let out = through_proxy(None);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr.contains("through the proxy 127.0.0.1:") && out.stderr.contains("no_proxy"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("proxy-pass"), "{}", out.stderr);
    assert!(
        server.requests().is_empty(),
        "the request went to the proxy, not the server"
    );

    // no_proxy bypasses it, and then the server is reached directly.
    let out = through_proxy(Some("127.0.0.1"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// The registration `register` makes, with stdout going nowhere.
fn register_unwritable(url: &str, extra: &[&str], stdout: Unwritable) -> Outcome {
    tool()
        .args(["-k", SECRET, "-u", "alice", "--no-admin"])
        .args(extra)
        .arg(url)
        .stdout_to(stdout)
        .run()
}

#[test]
fn a_result_stdout_cannot_take_is_an_error_that_says_what_became_of_the_account() {
    for stdout in Unwritable::ALL {
        // Text: the reference's first line fails, before the request.
        let (stub, synapse) = Stub::synapse(SECRET);
        let out = register_unwritable(&stub.url(), &["-p", "wonderland"], stdout);
        out.assert_code(5);
        let error = out.error_line();
        assert!(
            error.starts_with("error: cannot write to stdout (")
                && error.ends_with("); nothing was sent"),
            "{stdout:?}: {out}"
        );
        assert!(stub.posts().is_empty(), "{stdout:?}");
        assert!(synapse.created().is_empty(), "{stdout:?}");

        // JSON and token: nothing is written before the answer.
        for format in ["json", "token"] {
            let (stub, synapse) = Stub::synapse(SECRET);
            let out = register_unwritable(&stub.url(), &["-p", "wonderland", "-o", format], stdout);
            out.assert_code(5);
            let error = out.error_line();
            assert!(
                error.starts_with("error: cannot write the result to stdout (")
                    && error.ends_with("), but @alice:stub.test was created"),
                "{stdout:?} {format}: {out}"
            );
            assert_eq!(synapse.created().len(), 1, "{stdout:?} {format}");
        }

        // Nothing was created, but nothing may fail silently either.
        let (stub, synapse) = Stub::synapse(SECRET);
        synapse.add_existing("alice");
        let out = register_unwritable(&stub.url(), &["-p", "pw", "--exists-ok"], stdout);
        out.assert_code(5);
        assert!(
            out.error_line().ends_with("; nothing was sent"),
            "{stdout:?}: {out}"
        );
        let out = register_unwritable(
            &stub.url(),
            &["-p", "pw", "--exists-ok", "-o", "json"],
            stdout,
        );
        out.assert_code(5);
        assert!(
            out.error_line().ends_with("; the user already existed"),
            "{stdout:?}: {out}"
        );
    }
}

#[test]
fn a_generated_password_stdout_cannot_take_is_shown_on_stderr() {
    // With -o text the first line fails before sending; -o token refuses
    // --generate-password.
    let (stub, synapse) = Stub::synapse(SECRET);
    let out = register_unwritable(
        &stub.url(),
        &["--generate-password", "-o", "json"],
        Unwritable::Full,
    );
    out.assert_code(5);
    let created = synapse.created();
    assert_eq!(created.len(), 1);
    assert!(
        out.stderr
            .lines()
            .any(|l| l == format!("Generated password: {}", created[0].password)),
        "{out}"
    );
}

#[test]
fn a_failure_stdout_cannot_take_keeps_its_own_exit_status() {
    let stub = post_fails(|| Reply::error(403, "M_FORBIDDEN", "HMAC incorrect"));
    let out = register_unwritable(&stub.url(), &["-p", "pw", "-o", "json"], Unwritable::Full);
    out.assert_code(1);
    assert!(out.error_line().contains("HMAC incorrect"), "{out}");
}

#[test]
fn stderr_that_cannot_be_written_changes_neither_the_results_nor_the_exit_status() {
    for stderr in Unwritable::ALL {
        let run = |url: &str, extra: &[&str]| {
            tool()
                .args(["-v", "-k", SECRET, "-u", "alice", "-p", "pw", "--no-admin"])
                .args(extra)
                .arg(url)
                .stderr_to(stderr)
                .run()
        };
        let (stub, synapse) = Stub::synapse(SECRET);
        let out = run(&stub.url(), &[]);
        assert_eq!(out.code, Some(0), "{stderr:?}: {out}");
        assert_eq!(out.stdout, "Sending registration request...\nSuccess!\n");
        assert_eq!(synapse.created().len(), 1);

        // Each failure, reported on stderr only, keeps its exit status.
        let out = run(&stub.url(), &["-o", "json"]);
        assert_eq!(out.code, Some(1), "{stderr:?}: {out}");
        assert_eq!(json_output(&out)["errcode"], "M_USER_IN_USE");
        let refusing = RefusingPort::bind();
        let unreachable = refusing.url();
        assert_eq!(run(&unreachable, &[]).code, Some(4), "{stderr:?}");
        assert_eq!(
            run(&stub.url(), &["--cacert", "/nonexistent"]).code,
            Some(3)
        );
        assert_eq!(run(&stub.url(), &["--jobs", "0"]).code, Some(2));
    }
}

#[test]
fn completions_stdout_cannot_take_are_an_error() {
    let out = tool()
        .args(["--completions", "bash"])
        .stdout_to(Unwritable::Full)
        .run();
    out.assert_code(5);
    assert_eq!(
        out.error_line(),
        "error: cannot write to stdout (No space left on device)"
    );
}

/// `--help | grep -q ...` under `pipefail`: grep leaves at its first
/// match, and the tool must not fail the pipeline for it.
#[test]
fn help_version_and_completions_to_a_reader_that_left_exit_0_quietly() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["--completions", "bash"],
    ] {
        let out = tool().args(args).stdout_to(Unwritable::ClosedPipe).run();
        assert_eq!(out.code, Some(0), "{args:?}: {out}");
        assert_eq!(out.stderr, "", "{args:?}");
    }
}

#[test]
fn values_starting_with_dashes_are_given_attached() {
    let (stub, synapse) = Stub::synapse("--dashed-secret");
    for (secret, password) in [
        ("-k=--dashed-secret", "-p=--dashed"),
        ("--shared-secret=--dashed-secret", "--password=-dashed"),
    ] {
        tool()
            .args([secret, "-u", "alice", password, "--no-admin", "--exists-ok"])
            .arg(stub.url())
            .run()
            .assert_code(0);
    }
    assert_eq!(synapse.created()[0].password, "--dashed");
    // Not attached: refused, naming the option and never the value.
    let out = tool()
        .args([
            "-k",
            "--dashed-secret",
            "-u",
            "alice",
            "-p",
            "pw",
            "--no-admin",
        ])
        .arg(stub.url())
        .run();
    out.assert_code(2);
    assert!(!out.stderr.contains("dashed"), "{out}");
    assert!(out.stderr.contains("-k/--shared-secret"), "{out}");
}

/// curl reads `no_proxy=*` as "no proxy for any host", IP addresses included.
#[test]
fn no_proxy_star_bypasses_the_proxy_for_an_ip_address() {
    let (server, synapse) = Stub::synapse(SECRET);
    let proxy = Stub::start(|_| Reply::error(500, "M_UNKNOWN", "the proxy was used"));
    for (name, value) in [("no_proxy", "*"), ("NO_PROXY", " * ")] {
        let out = tool()
            .env("http_proxy", proxy.url())
            .env(name, value)
            .args(["-v", "-k", SECRET, "-u", "alice", "-p", "pw", "--no-admin"])
            .args(["--exists-ok"])
            .arg(server.url())
            .run();
        out.assert_code(0);
        assert!(!out.stderr.contains("through the proxy"), "{out}");
    }
    assert_eq!(proxy.connections(), 0);
    assert_eq!(synapse.created().len(), 1);
}

/// The status line's own reason phrase is printed as the reference prints it:
/// surrounding blanks stripped, an empty one kept empty. (A phrase with bytes
/// beyond ASCII reaches us empty: the HTTP parser drops it.)
#[test]
fn the_reason_phrase_is_the_servers_own() {
    fn status_line(line: &'static [u8]) -> Stub {
        let synapse = Synapse::new(SECRET);
        Stub::start(move |r: &Request| {
            if r.method != "POST" {
                return synapse.reply(r);
            }
            let mut answer = line.to_vec();
            answer.extend_from_slice(
                b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            );
            Reply::Bytes(answer)
        })
    }
    for (line, shown, error) in [
        (&b"HTTP/1.1 500 Kaputt"[..], "500 Kaputt", "500 Kaputt"),
        (b"HTTP/1.1 500 ", "500 ", "500"),
        (b"HTTP/1.1 520", "520 ", "520"),
        (
            b"HTTP/1.1 500   Two  spaces \t",
            "500 Two  spaces",
            "500 Two  spaces",
        ),
        (b"HTTP/1.1 500 a\tb", "500 a\\tb", "500 a\\tb"),
        (b"HTTP/1.1 500 a\x9b2J", "500 ", "500"),
        (b"HTTP/1.1 404 Not Found", "404 Not Found", "404 Not Found"),
    ] {
        let stub = status_line(line);
        let out = register(&stub.url(), &[]);
        out.assert_code(1);
        assert_eq!(
            out.stdout,
            format!("Sending registration request...\nERROR! Received {shown}\n"),
            "{out}"
        );
        assert_eq!(
            out.error_line(),
            format!("error: Received {error}"),
            "{out}"
        );
    }
}

/// The password the stub received in the registration request (sent twice,
/// the same request, when the connection closed under the first).
fn posted_password(stub: &Stub) -> String {
    let posts: Vec<Value> = stub.posts().iter().map(|p| p.json()).collect();
    assert!(matches!(posts.len(), 1 | 2), "{posts:?}");
    assert!(posts.iter().all(|p| *p == posts[0]), "{posts:?}");
    posts[0]["password"].as_str().unwrap().to_owned()
}

fn generate(url: &str, extra: &[&str]) -> Outcome {
    tool()
        .args([
            "-k",
            SECRET,
            "-u",
            "alice",
            "--generate-password",
            "--no-admin",
        ])
        .args(extra)
        .arg(url)
        .run()
}

/// Once the registration request may have reached the server and its answer
/// is lost, the account may exist: a generated password is shown (stderr
/// for text output, the JSON object's `password`; -o token refuses
/// --generate-password), and JSON says `"created": null`.
#[test]
fn a_generated_password_is_shown_when_the_answer_is_lost() {
    for (fault, code) in [
        ((|| Reply::Reset) as fn() -> Reply, 4),
        (|| Reply::Hangup, 4),
        (|| Reply::Silent, 4),
        (|| Reply::raw(502, "text/html", "<h1>Bad Gateway</h1>"), 4),
        (
            || Reply::raw(504, "text/html", "<h1>Gateway Timeout</h1>"),
            4,
        ),
        (|| Reply::raw(500, "text/html", "<h1>Oops</h1>"), 1),
    ] {
        for format in ["text", "json"] {
            let stub = post_fails(fault);
            let out = generate(&stub.url(), &["-o", format, "--timeout", "1"]);
            out.assert_code(code);
            let password = posted_password(&stub);
            assert_eq!(
                out.stderr_lines("hint:"),
                [
                    "hint: the server may have created the account before the answer was lost: retry with --exists-ok"
                ],
                "{out}"
            );
            if format == "json" {
                let object = json_output(&out);
                assert_eq!(object["created"], Value::Null, "{out}");
                assert_eq!(object["password"], password.as_str(), "{out}");
                assert!(!out.stderr.contains(&password), "{out}");
            } else {
                assert!(
                    out.stderr
                        .lines()
                        .any(|l| l
                            == format!("The account may exist. Generated password: {password}")),
                    "{out}"
                );
                assert!(!out.stdout.contains(&password), "{out}");
            }
        }
    }
    // A refusal is an answer: nothing was created, and nothing is shown.
    let stub = post_fails(|| Reply::error(403, "M_FORBIDDEN", "HMAC incorrect"));
    let out = generate(&stub.url(), &["-o", "json"]);
    out.assert_code(1);
    let object = json_output(&out);
    assert_eq!(object["created"], false);
    assert_eq!(object["password"], Value::Null);
}

/// Ctrl-C while the registration's answer is awaited: the account may exist,
/// so the generated password is shown before the exit.
#[test]
fn ctrl_c_after_the_registration_was_sent_shows_the_generated_password() {
    // SIGTERM and SIGHUP too, each with its own exit status, in JSON as well.
    for (format, signal) in [
        ("text", libc::SIGINT),
        ("json", libc::SIGINT),
        ("text", libc::SIGHUP),
        ("json", libc::SIGTERM),
    ] {
        let stub = post_fails(|| Reply::Silent);
        let run = tool()
            .args([
                "-k",
                SECRET,
                "-u",
                "alice",
                "--generate-password",
                "--no-admin",
            ])
            .args(["-o", format])
            .arg(stub.url())
            .spawn();
        let started = Instant::now();
        while stub.posts().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(10), "no POST");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(run.id() as libc::pid_t, signal) }, 0);
        let out = run.finish();
        out.assert_code(128 + signal);
        let password = posted_password(&stub);
        assert_eq!(out.error_line(), "error: interrupted", "{out}");
        if format == "json" {
            let object = json_output(&out);
            assert_eq!(object["created"], Value::Null, "{out}");
            assert_eq!(object["password"], password.as_str(), "{out}");
            assert_eq!(object["kind"], "interrupted", "{out}");
            assert_eq!(object["exit_code"], 128 + signal, "{out}");
        } else {
            assert!(
                out.stderr.contains(&format!(
                    "The account may exist. Generated password: {password}"
                )),
                "{out}"
            );
        }
    }
}

/// A 200 answer to the registration says the account was created, whatever
/// its body: success, as the reference reports it, with a warning.
#[test]
fn a_200_with_an_unreadable_body_is_a_success_with_a_warning() {
    fn created_then(answer: fn() -> Reply) -> (Stub, Arc<Synapse>) {
        let synapse = Synapse::new(SECRET);
        let server = Arc::clone(&synapse);
        let stub = Stub::start(move |r: &Request| {
            let reply = server.reply(r);
            if r.method == "POST" { answer() } else { reply }
        });
        (stub, synapse)
    }
    for (answer, problem) in [
        (
            (|| Reply::raw(200, "application/json", "")) as fn() -> Reply,
            "the server's registration answer is not the expected JSON (it does not parse as JSON)",
        ),
        (
            || Reply::raw(200, "text/html", "<p>OK</p>"),
            "the server's registration answer is not the expected JSON (it does not parse as JSON)",
        ),
        (
            || Reply::json(200, serde_json::json!({"access_token": "syt_x"})),
            "the server's registration answer is not the expected JSON (missing field `user_id` at line 1 column 24)",
        ),
        (|| Reply::CloseMidResponse, "broke off its answer halfway"),
    ] {
        let (stub, synapse) = created_then(answer);
        let out = register(&stub.url(), &[]);
        out.assert_code(0);
        assert_eq!(
            out.stdout, "Sending registration request...\nSuccess!\n",
            "{out}"
        );
        assert!(
            out.stderr
                .starts_with("warning: the account was created (the server answered 200 OK), but ")
                && out.stderr.contains(problem),
            "{out}"
        );
        assert!(out.stderr_lines("error:").is_empty(), "{out}");
        assert_eq!(synapse.created().len(), 1);

        let out = generate(&stub.url(), &["-o", "json", "--exists-ok"]);
        out.assert_code(0);
        let object = json_output(&out);
        assert_eq!(object["created"], true, "{out}");
        assert_eq!(object["user_id"], Value::Null, "{out}");
        assert!(object["password"].is_string(), "{out}");

        // Token output cannot be given: an error, which says the account exists.
        let out = tool()
            .args([
                "-k",
                SECRET,
                "-u",
                "bob",
                "-p",
                "pw",
                "--no-admin",
                "-o",
                "token",
            ])
            .arg(stub.url())
            .run();
        out.assert_code(4);
        assert!(out.stdout.is_empty(), "{out}");
        assert!(
            out.error_line().starts_with(
                "error: the account was created, but the server's answer has no access_token: "
            ),
            "{out}"
        );
    }
}

/// `openssl req -x509` makes a CA:TRUE certificate, which webpki never takes
/// as a server's own: passed with --cacert, it is trusted as curl and the
/// reference trust it. Any other verdict names its real reason.
#[test]
fn cacert_accepts_the_self_signed_certificate_openssl_makes() {
    let synapse = Synapse::new(SECRET);
    let server = Arc::clone(&synapse);
    let stub = Stub::builder()
        .tls_with(support::stub::test_ca_cert())
        .start(move |r| server.reply(r));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, support::stub::test_ca_cert().pem()).unwrap();
    let ca = ca.to_str().unwrap();
    let out = register(&stub.url(), &["--cacert", ca]);
    out.assert_code(0);
    let out = tool()
        .args(["-k", SECRET, "-u", "bob", "-p", "pw", "--no-admin"])
        .args(["--cacert", ca])
        .arg(stub.url().replace("127.0.0.1", "localhost"))
        .run();
    out.assert_code(0);
    assert_eq!(synapse.created().len(), 2);

    // Not the certificate given: not trusted, and the message says why
    // without suggesting the --cacert that was passed.
    let other_dir = tempfile::tempdir().unwrap();
    let other = test_cert().write_to(other_dir.path());
    let other = other.to_str().unwrap();
    let out = register(&stub.url(), &["--cacert", other]);
    out.assert_code(4);
    assert_eq!(
        out.error_line(),
        format!(
            "error: the TLS certificate of 127.0.0.1:{} is not trusted: it is a certificate authority's certificate, which is trusted as the server's own only when it is itself in {other}",
            stub.port(),
        )
    );
    let hint = format!(
        "hint: {other} must hold the server's own certificate or the authority that signed it"
    );
    assert_eq!(out.stderr_lines("hint:"), [hint.as_str()]);
    let plain = Stub::builder().tls().start(|_| Reply::Silent);
    let out = register(&plain.url(), &["--cacert", ca]);
    out.assert_code(4);
    assert_eq!(
        out.error_line(),
        format!(
            "error: the TLS certificate of 127.0.0.1:{} is not trusted: it is not in {ca} and no certificate there has signed it",
            plain.port(),
        )
    );
    let hint = format!(
        "hint: {ca} must hold the server's own certificate or the authority that signed it"
    );
    assert_eq!(out.stderr_lines("hint:"), [hint.as_str()]);

    // Without --cacert, the usual advice.
    let out = register(&stub.url(), &[]);
    out.assert_code(4);
    assert!(
        out.error_line().ends_with(
            "is not trusted: it is self-signed (a certificate authority's own certificate)"
        ),
        "{out}"
    );
    assert_eq!(
        out.stderr_lines("hint:"),
        [
            "hint: for a self-signed certificate pass it with --cacert FILE (or, at your own risk, --insecure)"
        ]
    );

    // The given certificate, for a name it does not list.
    let elsewhere = support::stub::openssl_default_cert("DNS:elsewhere.example");
    let named = Stub::builder()
        .tls_with(&elsewhere)
        .start(|_| Reply::Silent);
    let pem = dir.path().join("elsewhere.pem");
    std::fs::write(&pem, elsewhere.pem()).unwrap();
    let out = register(&named.url(), &["--cacert", pem.to_str().unwrap()]);
    out.assert_code(4);
    assert!(
        out.error_line()
            .contains("is not trusted: it is not issued for this host name"),
        "{out}"
    );
    assert_eq!(
        out.stderr_lines("hint:"),
        ["hint: use a host name the certificate is issued for in the server URL"]
    );
    assert_eq!(synapse.created().len(), 2);
}

/// A Unix-socket listener that answers whatever comes as Synapse answers a
/// request it cannot parse (a TLS handshake): `400 Bad Request`, then closes.
fn plain_socket_listener(path: &std::path::Path) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    })
}

/// An https:// URL with --unix-socket: Synapse serves no TLS on a socket
/// listener, and the message says so instead of blaming the socket's path.
#[test]
fn https_through_a_unix_socket_is_named_as_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("synapse.sock");
    let server = plain_socket_listener(&socket);
    let out = register(
        "https://localhost",
        &["--timeout", "5", "--unix-socket", socket.to_str().unwrap()],
    );
    out.assert_code(4);
    assert_eq!(
        out.error_line(),
        format!(
            "error: TLS handshake through the Unix socket {} failed: a Synapse socket listener serves plain HTTP, not TLS",
            socket.display()
        ),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: use an http:// URL for a socket listener"),
        "{out}"
    );
    server.join().unwrap();
}

/// Plain HTTP through a socket needs no CA certificates, which a scratch
/// container does not have.
#[test]
fn a_unix_socket_needs_no_ca_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("synapse.sock");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let server = plain_socket_listener(&socket);
    let out = tool()
        .env("SSL_CERT_FILE", &empty)
        .args([
            "-k",
            SECRET,
            "-u",
            "alice",
            "-p",
            "wonderland",
            "--no-admin",
        ])
        .args(["--timeout", "5", "--unix-socket", socket.to_str().unwrap()])
        .run();
    // The listener answers 400 to everything: what matters is that the
    // request was sent, not refused for want of TLS roots.
    out.assert_code(1);
    assert_eq!(out.error_line(), "error: Received 400 Bad Request", "{out}");
    server.join().unwrap();
}

/// A server answering 503 until `--wait` runs out: the error says that it
/// waited, and the hint no longer suggests `--wait` as if it had not been
/// tried. (Not a fault row: how many requests fit in the wait depends on
/// the machine's speed.)
#[test]
fn a_wait_that_runs_out_on_503_says_so() {
    let stub = Stub::start(|_| Reply::error(503, "M_UNKNOWN", "Starting up"));
    let out = register(&stub.url(), &["--wait", "1"]);
    out.assert_code(4);
    assert_eq!(
        out.error_line(),
        "error: Received 503 Service Unavailable: Starting up; gave up after waiting 1 s",
        "{out}"
    );
    assert!(
        out.stderr.contains(
            "hint: the server (or a proxy in front of it) did not become available: see its log, or wait longer with --wait SECONDS"
        ),
        "{out}"
    );
    assert!(stub.methods().len() > 1, "retried: {:?}", stub.methods());
}

/// Invariant 1: every endpoint the tool can reach obeys `--timeout` against
/// a server trickling its answer, each probe path included (reached when
/// the ones before it answer 404).
#[test]
fn every_endpoint_obeys_the_timeout_against_a_trickling_server() {
    const PROBES: [&str; 3] = [
        "/_matrix/client/v1/auth_metadata",
        "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
        "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer",
    ];
    /// A `200` sent one byte every 10 ms, its body alone taking about 6 s
    /// (the client-wide timeout of reqwest's blocking client bounds the
    /// headers, but each read of the body separately).
    fn trickle() -> Reply {
        let body = format!("{{\"nonce\": \"{}\"}}", "a".repeat(600));
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Reply::Trickle {
            bytes: head.into_bytes(),
            every: Duration::from_millis(10),
        }
    }
    let registration = "/_synapse/admin/v1/register";
    // Which request trickles: the nonce GET, the POST, each probe path.
    let mut cases = vec![("GET", registration), ("POST", registration)];
    cases.extend(PROBES.iter().map(|path| ("GET", *path)));
    for (method, slow_path) in cases {
        let synapse = Synapse::new(SECRET);
        let stub = Stub::start(move |r: &Request| {
            if r.method == method && r.path == slow_path {
                return trickle();
            }
            match r.path.as_str() {
                path if path == registration && slow_path != registration => {
                    Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request")
                }
                path if path == registration => synapse.reply(r),
                _ => Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request"),
            }
        });
        let out = register(&stub.url(), &["--timeout", "1", "-v"]);
        assert!(
            out.elapsed < Duration::from_secs(4),
            "{method} {slow_path}\n{out}"
        );
        assert!(
            stub.requests()
                .iter()
                .any(|r| r.method == method && r.path == slow_path),
            "{method} {slow_path} was reached: {:?}",
            stub.methods()
        );
    }
}

/// The server creates the account, then closes the connection without
/// answering: the registration is sent again on a fresh connection with the
/// same nonce, which the server refuses as used, and the run reports the
/// account as possibly created (created: null), never as a second attempt's
/// refusal, and creates nothing twice.
#[test]
fn a_registration_sent_again_after_a_lost_answer_creates_nothing_twice() {
    let synapse = Synapse::new(SECRET);
    let server = Arc::clone(&synapse);
    let posts = AtomicUsize::new(0);
    let stub = Stub::start(move |r: &Request| {
        let reply = server.reply(r);
        if r.method == "POST" && posts.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply::Hangup;
        }
        reply
    });
    let out = register(&stub.url(), &["-o", "json"]);
    out.assert_code(4);
    let result = json_output(&out);
    assert_eq!(result["created"], Value::Null, "{out}");
    assert_eq!(
        result["error"],
        format!(
            "127.0.0.1:{} closed the connection without answering",
            stub.port()
        ),
        "{out}"
    );
    assert!(out.stderr.contains("retry with --exists-ok"), "{out}");
    assert_eq!(stub.methods(), ["GET", "POST", "POST"]);
    let nonces: Vec<Value> = stub
        .posts()
        .iter()
        .map(|p| p.json()["nonce"].clone())
        .collect();
    assert_eq!(nonces[0], nonces[1], "the same request, the same nonce");
    assert_eq!(synapse.created().len(), 1);
}
