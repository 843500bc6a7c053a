//! Against a real Matrix Authentication Service and the real Synapse that
//! delegates to it: `../shared/mas/mas up` (beside the repository, as this
//! project's CI has it) starts both with a throwaway PostgreSQL once for the
//! whole run, and `mas down` stops them at the end. Like the other
//! real-server tests, every case is ignored unless asked for
//! (`--include-ignored`, as `scripts/test` runs them); without
//! `../shared/mas` the run says so in one line and checks nothing.
//!
//! The cases that stop Synapse run last, after all the others.

use libtest_mimic::{Arguments, Failed, Trial};
use register_new_matrix_user::{IfExists, MasClient, NewUser, Register};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::tool::{Outcome, Tool};

const BIN: &str = env!("CARGO_BIN_EXE_register_new_matrix_user");
/// Strong enough for MAS's default minimum_complexity (3).
const PASSWORD: &str = "quartz-lantern-97-orbit-fable";

/// What `mas up` wrote to `DIR/env`.
struct Mas {
    env: HashMap<String, String>,
    dir: PathBuf,
}

impl Mas {
    fn get(&self, name: &str) -> &str {
        self.env.get(name).map_or("", String::as_str)
    }

    /// The admin client's secret, in a file of mode 0600.
    fn secret_file(&self, name: &str, value: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        std::fs::write(&path, value).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    fn tool(&self) -> Tool {
        Tool::new(BIN).deadline(Duration::from_secs(120))
    }

    /// The tool with --mas-config and everything a registration needs.
    fn register(&self, user: &str, extra: &[&str]) -> Outcome {
        self.tool()
            .args([
                "--mas-config",
                self.get("MAS_CONFIG"),
                "-u",
                user,
                "-p",
                PASSWORD,
            ])
            .args(extra)
            .run()
    }

    /// An admin token of our own, to look at MAS from outside the tool.
    fn admin_token(&self) -> String {
        let (status, body) = http(
            "POST",
            &format!("{}/oauth2/token", self.get("MAS_URL")),
            Auth::Basic(
                self.get("MAS_ADMIN_CLIENT_ID"),
                self.get("MAS_ADMIN_CLIENT_SECRET"),
            ),
            Body::Form("grant_type=client_credentials&scope=urn:mas:admin"),
        );
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn exists_in_mas(&self, username: &str) -> bool {
        let (status, _) = http(
            "GET",
            &format!(
                "{}/api/admin/v1/users/by-username/{username}",
                self.get("MAS_URL")
            ),
            Auth::Bearer(&self.admin_token()),
            Body::None,
        );
        status == 200
    }

    /// A password login through MAS's compatibility endpoint: the token.
    fn login(&self, user: &str, password: &str) -> Result<String, String> {
        let (status, body) = http(
            "POST",
            &format!("{}/_matrix/client/v3/login", self.get("MAS_URL")),
            Auth::None,
            Body::Json(json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password,
            })),
        );
        match (status, body["access_token"].as_str()) {
            (200, Some(token)) => Ok(token.to_owned()),
            _ => Err(format!("login as {user}: {status} {body}")),
        }
    }

    /// Synapse's answer to `path` with `token`.
    fn synapse(&self, path: &str, token: &str) -> (u16, Value) {
        http(
            "GET",
            &format!("{}{path}", self.get("SYNAPSE_URL")),
            Auth::Bearer(token),
            Body::None,
        )
    }
}

enum Auth<'a> {
    None,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
}

enum Body {
    None,
    Form(&'static str),
    Json(Value),
}

fn http(method: &str, url: &str, auth: Auth, body: Body) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let mut request = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    request = match auth {
        Auth::None => request,
        Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        Auth::Bearer(token) => request.bearer_auth(token),
    };
    request = match body {
        Body::None => request,
        Body::Form(form) => request
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form),
        Body::Json(value) => request.json(&value),
    };
    let response = request.send().expect("the test's own request");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or_default())
}

fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(what().into())
    }
}

fn expect_code(out: &Outcome, code: i32) -> Result<(), Failed> {
    out.assert_no_panic();
    check(out.code == Some(code), || {
        format!("exit status, expected {code}: {out}")
    })
}

/// A name no other case or run uses.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

type Case = fn(&Mas) -> Result<(), Failed>;

/// Cases that need Synapse up.
const CASES: &[(&str, Case)] = &[
    (
        "one_user_from_the_mas_config_logs_in_and_works_on_synapse",
        one_user_from_the_mas_config,
    ),
    (
        "explicit_options_and_the_environment_secret",
        explicit_options,
    ),
    (
        "the_homeserver_config_names_mas_and_the_server",
        homeserver_config_names_mas,
    ),
    (
        "an_admin_token_works_on_synapses_admin_api",
        admin_token_works_on_the_admin_api,
    ),
    ("exists_ok_and_a_taken_name", exists_ok_and_taken),
    ("a_generated_password_logs_in", generated_password_logs_in),
    ("a_batch_of_25_through_mas", batch_of_25),
    ("a_client_not_in_admin_clients", client_not_in_admin_clients),
    ("a_wrong_client_secret", wrong_client_secret),
    (
        "a_weak_password_never_leaves_a_user_without_one",
        weak_password,
    ),
    (
        "reserved_and_invalid_names_through_the_library",
        reserved_and_invalid_names,
    ),
    ("mas_unreachable_exits_4", mas_unreachable),
    ("verbose_output_shows_no_secret", verbose_shows_no_secret),
    (
        "a_delegating_config_without_mas_options_names_them",
        delegation_advice,
    ),
];

/// Cases run after Synapse is stopped.
const SYNAPSE_DOWN_CASES: &[(&str, Case)] = &[("synapse_down_while_mas_is_up", synapse_down)];

fn one_user_from_the_mas_config(mas: &Mas) -> Result<(), Failed> {
    let user = unique("one");
    let out = mas.register(&user, &["--no-admin"]);
    expect_code(&out, 0)?;
    check(
        out.stdout == "Sending registration request...\nSuccess!\n",
        || format!("{out}"),
    )?;
    let token = mas.login(&user, PASSWORD)?;
    let (status, whoami) = mas.synapse("/_matrix/client/v3/account/whoami", &token);
    check(
        status == 200 && whoami["user_id"] == format!("@{user}:localhost"),
        || format!("whoami: {status} {whoami}"),
    )
}

fn explicit_options(mas: &Mas) -> Result<(), Failed> {
    let file = mas.secret_file("admin.secret", mas.get("MAS_ADMIN_CLIENT_SECRET"));
    let explicit = [
        "--mas-url",
        mas.get("MAS_URL"),
        "--mas-client-id",
        mas.get("MAS_ADMIN_CLIENT_ID"),
    ];
    let user = unique("explicit");
    let out = mas
        .tool()
        .args(explicit)
        .args(["--mas-client-secret-file".as_ref(), file.as_os_str()])
        .args(["-u", &user, "-p", PASSWORD, "--no-admin", "-o", "json"])
        .run();
    expect_code(&out, 0)?;
    let result: Value = serde_json::from_str(&out.stdout)?;
    check(
        result["user_id"] == format!("@{user}:localhost")
            && result["created"] == true
            && result["via"] == "mas",
        || format!("{out}"),
    )?;
    mas.login(&user, PASSWORD)?;
    let user = unique("fromenv");
    let out = mas
        .tool()
        .env("MAS_CLIENT_SECRET", mas.get("MAS_ADMIN_CLIENT_SECRET"))
        .args(explicit)
        .args(["-u", &user, "-p", PASSWORD, "--no-admin"])
        .run();
    expect_code(&out, 0)?;
    mas.login(&user, PASSWORD).map(drop).map_err(Failed::from)
}

fn homeserver_config_names_mas(mas: &Mas) -> Result<(), Failed> {
    let file = mas.secret_file("admin2.secret", mas.get("MAS_ADMIN_CLIENT_SECRET"));
    let user = unique("hsconf");
    // MAS's address from matrix_authentication_service.endpoint, the
    // server name from server_name: a full user ID is checked against it.
    let out = mas
        .tool()
        .args([
            "-c",
            mas.get("SYNAPSE_CONFIG"),
            "--mas-client-id",
            mas.get("MAS_ADMIN_CLIENT_ID"),
        ])
        .args(["--mas-client-secret-file".as_ref(), file.as_os_str()])
        .args([
            "-u",
            &format!("@{user}:localhost"),
            "-p",
            PASSWORD,
            "--no-admin",
        ])
        .run();
    expect_code(&out, 0)?;
    mas.login(&user, PASSWORD)?;
    let out = mas
        .tool()
        .args([
            "-c",
            mas.get("SYNAPSE_CONFIG"),
            "--mas-config",
            mas.get("MAS_CONFIG"),
        ])
        .args([
            "-u",
            &format!("@{user}:elsewhere.org"),
            "-p",
            PASSWORD,
            "--no-admin",
        ])
        .run();
    expect_code(&out, 3)
}

fn admin_token_works_on_the_admin_api(mas: &Mas) -> Result<(), Failed> {
    let admin = unique("admin");
    let out = mas.register(&admin, &["-a", "-o", "token"]);
    expect_code(&out, 0)?;
    let token = out.stdout.trim();
    let (status, body) = mas.synapse(
        &format!("/_synapse/admin/v2/users/@{admin}:localhost"),
        token,
    );
    check(
        status == 200 && body["name"] == format!("@{admin}:localhost"),
        || format!("admin API: {status} {body}"),
    )?;
    // A regular user's token works on the client API, not the admin API.
    let user = unique("regular");
    let out = mas.register(&user, &["--no-admin", "-o", "token"]);
    expect_code(&out, 0)?;
    let token = out.stdout.trim();
    let (status, _) = mas.synapse("/_matrix/client/v3/account/whoami", token);
    check(status == 200, || format!("whoami: {status}"))?;
    let (status, _) = mas.synapse(
        &format!("/_synapse/admin/v2/users/@{user}:localhost"),
        token,
    );
    check(status == 403, || {
        format!("a regular user on the admin API: {status}")
    })
}

fn exists_ok_and_taken(mas: &Mas) -> Result<(), Failed> {
    // A slash is allowed in a name, and must stay inside the lookup's path segment.
    let user = unique("tw/ice");
    expect_code(&mas.register(&user, &["--no-admin"]), 0)?;
    let out = mas.register(&user, &["--no-admin", "--exists-ok", "-o", "json"]);
    expect_code(&out, 0)?;
    let result: Value = serde_json::from_str(&out.stdout)?;
    check(
        result["created"] == false && result["user_id"] == format!("@{user}:localhost"),
        || format!("{out}"),
    )?;
    let out = mas.register(&user, &["--no-admin"]);
    expect_code(&out, 1)?;
    check(
        out.error_line().contains("409") && out.stderr.contains("hint: pass --exists-ok"),
        || format!("{out}"),
    )
}

fn generated_password_logs_in(mas: &Mas) -> Result<(), Failed> {
    let user = unique("gen");
    let out = mas
        .tool()
        .args([
            "--mas-config",
            mas.get("MAS_CONFIG"),
            "-u",
            &user,
            "--generate-password",
            "--no-admin",
            "-o",
            "json",
        ])
        .run();
    expect_code(&out, 0)?;
    let result: Value = serde_json::from_str(&out.stdout)?;
    let password = result["password"]
        .as_str()
        .ok_or("no password in the JSON")?;
    mas.login(&user, password).map(drop).map_err(Failed::from)
}

fn batch_of_25(mas: &Mas) -> Result<(), Failed> {
    let prefix = unique("batch");
    let mut csv = String::from("localpart,password,admin\n");
    for i in 0..25 {
        csv.push_str(&format!("{prefix}n{i},{PASSWORD},{}\n", i == 0));
    }
    let file = mas.secret_file("batch.csv", &csv);
    let out = mas
        .tool()
        .args([
            "--mas-config".as_ref(),
            mas.get("MAS_CONFIG").as_ref(),
            "--batch".as_ref(),
            file.as_os_str(),
        ])
        .args(["--jobs", "4"])
        .run();
    expect_code(&out, 0)?;
    let rows: Vec<Value> = out
        .stdout
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    check(
        rows.len() == 25
            && rows
                .iter()
                .all(|r| r["created"] == true && r["via"] == "mas"),
        || format!("{out}"),
    )?;
    for row in rows.iter().take(3) {
        let (status, _) = mas.synapse(
            "/_matrix/client/v3/account/whoami",
            row["access_token"].as_str().unwrap_or(""),
        );
        check(status == 200, || format!("a batch row's token: {status}"))?;
    }
    mas.login(&format!("{prefix}n24"), PASSWORD)
        .map(drop)
        .map_err(Failed::from)
}

fn client_not_in_admin_clients(mas: &Mas) -> Result<(), Failed> {
    let user = unique("other");
    let out = mas
        .tool()
        .env("MAS_CLIENT_SECRET", mas.get("MAS_OTHER_CLIENT_SECRET"))
        .args([
            "--mas-url",
            mas.get("MAS_URL"),
            "--mas-client-id",
            mas.get("MAS_OTHER_CLIENT_ID"),
        ])
        .args(["-u", &user, "-p", PASSWORD, "--no-admin"])
        .run();
    expect_code(&out, 1)?;
    check(
        out.error_line().contains("403") && out.stderr.contains("policy.data.admin_clients"),
        || format!("{out}"),
    )?;
    check(!mas.exists_in_mas(&user), || {
        "the user was created".to_owned()
    })
}

fn wrong_client_secret(mas: &Mas) -> Result<(), Failed> {
    let out = mas
        .tool()
        .env("MAS_CLIENT_SECRET", "not-the-secret")
        .args([
            "--mas-url",
            mas.get("MAS_URL"),
            "--mas-client-id",
            mas.get("MAS_ADMIN_CLIENT_ID"),
        ])
        .args(["-u", &unique("wrong"), "-p", PASSWORD, "--no-admin"])
        .run();
    expect_code(&out, 1)?;
    check(
        out.error_line().contains("401")
            && out.stderr.contains("hint: MAS did not accept the client"),
        || format!("{out}"),
    )
}

fn weak_password(mas: &Mas) -> Result<(), Failed> {
    // With MAS's config: refused before anything is sent.
    let user = unique("weak");
    let out = mas
        .tool()
        .args([
            "--mas-config",
            mas.get("MAS_CONFIG"),
            "-u",
            &user,
            "-p",
            "password1",
            "--no-admin",
        ])
        .run();
    expect_code(&out, 3)?;
    check(out.error_line().contains("minimum_complexity is 3"), || {
        format!("{out}")
    })?;
    // Without it: MAS's own site-config says the minimum, before the
    // account is created.
    let out = mas
        .tool()
        .env("MAS_CLIENT_SECRET", mas.get("MAS_ADMIN_CLIENT_SECRET"))
        .args([
            "--mas-url",
            mas.get("MAS_URL"),
            "--mas-client-id",
            mas.get("MAS_ADMIN_CLIENT_ID"),
        ])
        .args(["-u", &user, "-p", "password1", "--no-admin"])
        .run();
    expect_code(&out, 3)?;
    check(!out.stdout.contains("Sending"), || format!("{out}"))?;
    check(!mas.exists_in_mas(&user), || {
        "a user without a password was left".to_owned()
    })
}

fn reserved_and_invalid_names(mas: &Mas) -> Result<(), Failed> {
    let client = MasClient::builder(mas.get("MAS_URL"))
        .client_credentials(
            mas.get("MAS_ADMIN_CLIENT_ID"),
            mas.get("MAS_ADMIN_CLIENT_SECRET"),
        )
        .if_exists(IfExists::Succeed)
        .build_blocking()?;
    for (name, status, hint) in [
        ("98765432123", 409, "choose another"),
        ("_underscore", 400, "do not start with _"),
    ] {
        let error = client.register(&NewUser::new(name, PASSWORD)).unwrap_err();
        let register_new_matrix_user::Error::Refused(refusal) = &error else {
            return Err(format!("{name}: {error:?}").into());
        };
        let text = error.hint().map(|h| h.to_string()).unwrap_or_default();
        check(refusal.status == status && text.contains(hint), || {
            format!("{name}: {error} / {text}")
        })?;
    }
    Ok(())
}

fn mas_unreachable(mas: &Mas) -> Result<(), Failed> {
    let refusing = support::stub::RefusingPort::bind();
    let port = refusing.port();
    let out = mas
        .tool()
        .env("MAS_CLIENT_SECRET", "s")
        .args([
            "--mas-url",
            &format!("http://127.0.0.1:{port}"),
            "--mas-client-id",
            "c",
        ])
        .args(["-u", &unique("down"), "-p", PASSWORD, "--no-admin"])
        .run();
    expect_code(&out, 4)?;
    check(out.error_line().contains("connection refused"), || {
        format!("{out}")
    })
}

fn verbose_shows_no_secret(mas: &Mas) -> Result<(), Failed> {
    let out = mas.register(&unique("verbose"), &["-a", "-o", "json", "-v"]);
    expect_code(&out, 0)?;
    let result: Value = serde_json::from_str(&out.stdout)?;
    let token = result["access_token"].as_str().unwrap_or("missing");
    check(
        out.stderr.contains("> POST") && out.stderr.contains("personal-sessions"),
        || format!("{out}"),
    )?;
    for secret in [mas.get("MAS_ADMIN_CLIENT_SECRET"), PASSWORD, token, "mat_"] {
        check(!out.stderr.contains(secret), || {
            format!("{secret:.4}… in the log: {out}")
        })?;
    }
    Ok(())
}

fn delegation_advice(mas: &Mas) -> Result<(), Failed> {
    let out = mas
        .tool()
        .args([
            "-c",
            mas.get("SYNAPSE_CONFIG"),
            "-u",
            "x",
            "-p",
            PASSWORD,
            "--no-admin",
        ])
        .run();
    expect_code(&out, 3)?;
    let options = out.stderr.find("--mas-config");
    let mas_cli = out.stderr.find("mas-cli manage register-user");
    check(
        matches!((options, mas_cli), (Some(a), Some(b)) if a < b),
        || format!("{out}"),
    )
}

fn synapse_down(mas: &Mas) -> Result<(), Failed> {
    let user = unique("nosynapse");
    let out = mas.register(&user, &["--no-admin"]);
    expect_code(&out, 1)?;
    check(
        out.error_line().contains("500")
            && out
                .stderr
                .contains("hint: MAS is up but cannot reach the homeserver"),
        || format!("{out}"),
    )?;
    check(!mas.exists_in_mas(&user), || {
        "created while Synapse was down".to_owned()
    })
}

fn trials(mas: &Option<Arc<Mas>>, cases: &'static [(&'static str, Case)]) -> Vec<Trial> {
    cases
        .iter()
        .map(|(name, case)| {
            let (ignored, mas, case) = (mas.is_none(), mas.clone(), *case);
            Trial::test(*name, move || match &mas {
                Some(mas) => case(mas),
                None => Ok(()),
            })
            .with_ignored_flag(ignored)
        })
        .collect()
}

fn env_file(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
        .collect()
}

fn main() {
    // The crate's reqwest comes without a TLS provider of its own; the
    // test's requests are plain HTTP, but reqwest wants one all the same.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("../shared/mas/mas");
    if !script.exists() {
        println!(
            "tests/mas: skipped: {} (a real Matrix Authentication Service) is absent",
            script.display()
        );
        return;
    }
    let wanted = args.include_ignored || args.ignored;
    let python = root.join(".venv/bin/python");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mas = if !wanted {
        None
    } else {
        let up = Command::new(&script)
            .arg("up")
            .arg(dir.path())
            .env("SYNAPSE_PY", &python)
            .output()
            .expect("run mas up");
        assert!(
            up.status.success(),
            "mas up failed (does {} have Synapse? scripts/synapse install makes it):\n{}{}",
            python.display(),
            String::from_utf8_lossy(&up.stdout),
            String::from_utf8_lossy(&up.stderr)
        );
        Some(Arc::new(Mas {
            env: env_file(&dir.path().join("env")),
            dir: dir.path().to_owned(),
        }))
    };
    let Some(mas) = mas else {
        let mut all = trials(&None, CASES);
        all.extend(trials(&None, SYNAPSE_DOWN_CASES));
        libtest_mimic::run(&args, all).exit();
    };
    let mut failed = libtest_mimic::run(&args, trials(&Some(mas.clone()), CASES)).has_failed();
    {
        // Synapse goes down for good: these come last.
        let pid = std::fs::read_to_string(dir.path().join("synapse.pid")).unwrap_or_default();
        let stopped = Command::new("kill")
            .arg(pid.trim())
            .status()
            .is_ok_and(|s| s.success());
        assert!(stopped, "could not stop Synapse (pid {pid:?})");
        std::thread::sleep(Duration::from_secs(2));
        failed |=
            libtest_mimic::run(&args, trials(&Some(mas.clone()), SYNAPSE_DOWN_CASES)).has_failed();
        let down = Command::new(&script).arg("down").arg(dir.path()).output();
        assert!(down.is_ok_and(|d| d.status.success()), "mas down failed");
    }
    if failed {
        // The logs stay for a look: DIR/mas/server.log, DIR/synapse/homeserver.log.
        eprintln!(
            "tests/mas: the servers' logs are in {}",
            dir.keep().display()
        );
    }
    std::process::exit(i32::from(failed));
}
