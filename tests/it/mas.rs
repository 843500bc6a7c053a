//! A hostile round on the MAS path, against a stateful stub MAS: admin
//! tokens that lapse or are revoked in the middle of a batch, and 429s. The
//! real MAS is in tests/mas; these are what it will not do on cue.

use crate::tool;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::stub::{Reply, Request, Stub};
use support::tool::BatchRun;

const PASSWORD: &str = "quartz-lantern-97-orbit-fable";

/// What the stub MAS remembers.
#[derive(Default)]
struct State {
    /// Token → when it was issued and how many admin requests it served.
    tokens: Vec<(String, Instant, u32)>,
    users: HashSet<String>,
    /// Usernames already refused once with 429.
    throttled: HashSet<String>,
    /// Admin requests refused for their token (401).
    refused: u32,
}

/// How the stub misbehaves.
#[derive(Clone, Copy)]
struct Rules {
    /// `expires_in` of its tokens.
    lifetime: Duration,
    /// A token older than this is refused (401): its lifetime, or less for
    /// a token revoked early.
    revoked_after: Duration,
    /// Each user's first creation is answered 429.
    throttle: bool,
    /// Each creation takes this long.
    delay: Duration,
}

fn stub(rules: Rules) -> (Stub, Arc<Mutex<State>>) {
    let state = Arc::new(Mutex::new(State::default()));
    let shared = Arc::clone(&state);
    let server = Stub::start(move |request| answer(&shared, rules, request));
    (server, state)
}

fn errors(status: u16, title: &str) -> Reply {
    Reply::json(status, json!({"errors": [{"title": title}]}))
}

fn answer(state: &Mutex<State>, rules: Rules, request: &Request) -> Reply {
    // A creation waits in the server's queue before its token is looked
    // at: a token sent just before it lapses is refused.
    if request.path == "/api/admin/v1/users" {
        std::thread::sleep(rules.delay);
    }
    let mut state = state.lock().unwrap();
    if request.path == "/oauth2/token" {
        let token = format!("mat_{}", state.tokens.len());
        state.tokens.push((token.clone(), Instant::now(), 0));
        return Reply::json(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": rules.lifetime.as_secs()}),
        );
    }
    let bearer = request
        .header("authorization")
        .unwrap_or("")
        .trim_start_matches("Bearer ");
    let Some(entry) = state.tokens.iter_mut().find(|(t, _, _)| t == bearer) else {
        state.refused += 1;
        return errors(401, "Invalid token");
    };
    entry.2 += 1;
    if entry.1.elapsed() > rules.revoked_after {
        state.refused += 1;
        return errors(401, "Token is expired");
    }
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("GET", "/api/admin/v1/site-config") => Reply::json(
            200,
            json!({"server_name": "example.org", "minimum_password_complexity": 3}),
        ),
        ("POST", "/api/admin/v1/users") => {
            let username = request.json()["username"].as_str().unwrap_or("").to_owned();
            if rules.throttle && state.throttled.insert(username.clone()) {
                return errors(429, "Too many requests");
            }
            Reply::json(
                201,
                json!({"data": {"type": "user", "id": format!("01{}", username.to_uppercase()), "attributes": {"username": username}}}),
            )
        }
        ("POST", p) if p.ends_with("/set-password") => {
            let id = p
                .trim_start_matches("/api/admin/v1/users/")
                .trim_end_matches("/set-password");
            state.users.insert(id.to_owned());
            Reply::raw(204, "application/json", "")
        }
        ("POST", "/api/admin/v1/personal-sessions") => Reply::json(
            201,
            json!({"data": {"type": "personal-session", "id": "01S", "attributes": {"access_token": "mpt_x"}}}),
        ),
        _ => errors(404, "Not found"),
    }
}

fn batch(server: &Stub, rows: usize, jobs: &str) -> BatchRun {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("localpart,password\n");
    for i in 0..rows {
        csv.push_str(&format!("user{i},{PASSWORD}\n"));
    }
    let file = dir.path().join("users.csv");
    std::fs::write(&file, csv).unwrap();
    BatchRun::from_outcome(
        tool()
            .env("MAS_CLIENT_SECRET", "stub-secret")
            .args([
                "--mas-url",
                &server.url(),
                "--mas-client-id",
                "01ADMIN",
                "--jobs",
                jobs,
            ])
            .args(["--batch".as_ref(), file.as_os_str()])
            .run(),
    )
}

fn tokens_issued(state: &Mutex<State>) -> usize {
    state.lock().unwrap().tokens.len()
}

#[test]
fn a_token_revoked_mid_batch_is_renewed_and_no_row_fails() {
    let (server, state) = stub(Rules {
        lifetime: Duration::from_secs(300),
        revoked_after: Duration::from_millis(300),
        throttle: false,
        delay: Duration::from_millis(40),
    });
    let run = batch(&server, 20, "4");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.rows.len(), 20);
    assert!(
        run.rows.iter().all(|r| r["created"] == true),
        "{}",
        run.stdout
    );
    assert_eq!(state.lock().unwrap().users.len(), 20);
    // 20 creations of 40 ms, 4 at a time, take at least 200 ms more than
    // the first token lives.
    assert!(
        tokens_issued(&state) >= 2,
        "{} tokens",
        tokens_issued(&state)
    );
    assert!(state.lock().unwrap().refused > 0);
}

#[test]
fn a_token_about_to_lapse_is_renewed_before_it_does() {
    // Tokens live 2 s and are renewed 1 s before they lapse: a batch of
    // about 3 s needs several, and none is ever refused.
    let (server, state) = stub(Rules {
        lifetime: Duration::from_secs(2),
        revoked_after: Duration::from_secs(2),
        throttle: false,
        delay: Duration::from_millis(150),
    });
    let run = batch(&server, 20, "1");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.rows.iter().all(|r| r["created"] == true),
        "{}",
        run.stdout
    );
    assert!(
        tokens_issued(&state) >= 2,
        "{} tokens",
        tokens_issued(&state)
    );
    // Renewed ahead: no request ever carried a lapsed token.
    assert_eq!(state.lock().unwrap().refused, 0);
}

#[test]
fn a_429_from_mas_is_waited_out_and_the_row_sent_again() {
    let (server, state) = stub(Rules {
        lifetime: Duration::from_secs(300),
        revoked_after: Duration::from_secs(300),
        throttle: true,
        delay: Duration::ZERO,
    });
    let run = batch(&server, 3, "3");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.rows.iter().all(|r| r["created"] == true),
        "{}",
        run.stdout
    );
    assert_eq!(state.lock().unwrap().throttled.len(), 3);
}

/// A signal while MAS's answer to the creation is awaited: the account may
/// exist, so the generated password goes through the same ledger as on the
/// shared-secret path: JSON `"created": null` with the password, and in
/// text the password on stderr.
#[test]
fn a_signal_after_the_creation_was_sent_shows_the_generated_password() {
    for (format, signal) in [("json", libc::SIGTERM), ("text", libc::SIGINT)] {
        let server = Stub::start(|request: &Request| {
            match (request.method.as_str(), request.path.as_str()) {
                ("POST", "/oauth2/token") => Reply::json(
                    200,
                    json!({"access_token": "mat_x", "token_type": "Bearer", "expires_in": 300}),
                ),
                ("GET", "/api/admin/v1/site-config") => Reply::json(
                    200,
                    json!({"server_name": "example.org", "minimum_password_complexity": 3}),
                ),
                // The creation is never answered.
                ("POST", "/api/admin/v1/users") => Reply::Silent,
                _ => errors(404, "Not found"),
            }
        });
        let run = tool()
            .env("MAS_CLIENT_SECRET", "stub-secret")
            .args(["--mas-url", &server.url(), "--mas-client-id", "01ADMIN"])
            .args(["-u", "alice", "--generate-password", "--no-admin"])
            .args(["-o", format, "--timeout", "30"])
            .spawn();
        let started = Instant::now();
        while !server
            .requests()
            .iter()
            .any(|r| r.path == "/api/admin/v1/users")
        {
            assert!(started.elapsed() < Duration::from_secs(10), "no creation");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(run.id() as libc::pid_t, signal) }, 0);
        let out = run.finish();
        out.assert_code(128 + signal);
        assert_eq!(out.error_line(), "error: interrupted", "{out}");
        if format == "json" {
            let object: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
            assert_eq!(object["created"], serde_json::Value::Null, "{out}");
            assert_eq!(object["via"], "mas", "{out}");
            let password = object["password"].as_str().unwrap_or_default();
            assert!(password.len() >= 16, "{out}");
            assert!(!out.stderr.contains(password), "{out}");
        } else {
            assert!(
                out.stderr
                    .contains("The account may exist. Generated password: "),
                "{out}"
            );
        }
    }
}
