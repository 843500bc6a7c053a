//! Against real Synapse servers laid out as administrators run them
//! (`scripts/synapse start --layout confd|socket|mas`, started by
//! `scripts/test`): a packaged install reading `conf.d/` and bound to one
//! address, a Unix-socket-only listener with the secret in a file, and a
//! server that delegates accounts to Matrix Authentication Service. Each
//! account made is checked by logging in with its password.
//! `#[ignore]`d so that a plain `cargo test` needs no server.

use crate::tool;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use support::real::unique;
use support::tool::Outcome;

/// One layout's server, from the `SYNAPSE_<LAYOUT>_*` variables.
struct Deployment {
    dir: PathBuf,
    /// The URL to send to (for the socket layout, through `socket`).
    url: String,
    /// The `-c` paths that read the config as the server does.
    configs: Vec<String>,
    secret: String,
    socket: Option<String>,
}

impl Deployment {
    fn get(layout: &str) -> Deployment {
        let var = |name: &str| {
            let name = format!("SYNAPSE_{layout}_{name}");
            std::env::var(&name).unwrap_or_else(|_| {
                panic!("{name} is not set: these tests run through scripts/test, which starts the server")
            })
        };
        Deployment {
            dir: PathBuf::from(var("DIR")),
            url: var("URL"),
            configs: var("CONFIGS").lines().map(str::to_owned).collect(),
            secret: var("SECRET"),
            socket: (layout == "SOCKET").then(|| var("PATH")),
        }
    }

    /// `-c FILE -c ...`, as the server reads its config.
    fn config_args(&self) -> Vec<String> {
        self.configs
            .iter()
            .flat_map(|c| ["-c".to_owned(), c.clone()])
            .collect()
    }

    /// Logs in with a password: the user ID, or the HTTP status.
    fn login(&self, localpart: &str, password: &str) -> Result<String, u16> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy();
        if let Some(socket) = &self.socket {
            builder = builder.unix_socket(socket.clone());
        }
        // Synapse's socket listeners expect a reverse proxy's
        // X-Forwarded-For: its login handler fails without one.
        let response = builder
            .build()
            .unwrap()
            .post(format!("{}/_matrix/client/v3/login", self.url))
            .header("X-Forwarded-For", "127.0.0.1")
            .json(&serde_json::json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": password,
            }))
            .send()
            .expect("login request");
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        let body: Value = response.json().unwrap();
        Ok(body["user_id"].as_str().unwrap().to_owned())
    }

    /// How many requests to the registration endpoint the server logged.
    fn registration_requests(&self) -> usize {
        std::fs::read_to_string(self.dir.join("homeserver.log"))
            .unwrap()
            .matches("/_synapse/admin/v1/register")
            .count()
    }
}

fn run<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Outcome {
    tool().args(args).run()
}

fn stdout_of(output: &Outcome) -> String {
    output.stdout.clone()
}

fn stderr_of(output: &Outcome) -> String {
    output.stderr.clone()
}

fn assert_exit(output: &Outcome, code: i32) {
    assert_eq!(
        output.code,
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout_of(output),
        stderr_of(output)
    );
}

/// packages.matrix.org: the service runs with `--config-path FILE
/// --config-path conf.d/`, and the secret and server_name are only in
/// conf.d. The same two `-c` options find both, and the listener bound to
/// 127.0.0.2 only, which `localhost` would miss.
#[test]
#[ignore = "needs the conf.d Synapse from scripts/test"]
fn a_config_directory_gives_the_secret_server_name_and_bound_address() {
    let d = Deployment::get("CONFD");
    let name = unique("confd");
    let mut args = d.config_args();
    args.extend(["-u", &name, "-p", "pw-confd", "--no-admin", "-v"].map(str::to_owned));
    let output = run(&args);
    assert_exit(&output, 0);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!("> POST {}/_synapse/admin/v1/register", d.url)),
        "{stderr}"
    );
    assert!(d.url.starts_with("http://127.0.0.2:"), "{}", d.url);
    assert_eq!(d.login(&name, "pw-confd"), Ok(format!("@{name}:localhost")));
    // The full user ID is checked against server_name, found in conf.d.
    let name = unique("confdid");
    let mut args = d.config_args();
    args.extend(
        [
            "-u",
            &format!("@{name}:localhost"),
            "-p",
            "pw",
            "--no-admin",
        ]
        .map(str::to_owned),
    );
    assert_exit(&run(&args), 0);
    let mut args = d.config_args();
    args.extend(
        [
            "-u",
            &format!("@{name}:elsewhere.org"),
            "-p",
            "pw",
            "--no-admin",
        ]
        .map(str::to_owned),
    );
    assert_exit(&run(&args), 3);
}

/// Without conf.d, the main file has no secret: the error says so, naming
/// the file, hints at the conf.d beside it, and nothing is sent.
#[test]
#[ignore = "needs the conf.d Synapse from scripts/test"]
fn the_main_file_alone_lacks_the_secret_that_conf_d_holds() {
    let d = Deployment::get("CONFD");
    let output = run(["-c", &d.configs[0], "-u", "x", "-p", "pw", "--no-admin"]);
    assert_exit(&output, 3);
    assert!(
        stderr_of(&output).contains(
            "No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config"
        ),
        "{}",
        stderr_of(&output)
    );
    assert!(
        stderr_of(&output).ends_with(&format!(
            "\nhint: the service also reads {0}/conf.d, where packages.matrix.org keeps the secret: pass -c {1} -c {0}/conf.d\n",
            d.dir.display(),
            d.configs[0]
        )),
        "{}",
        stderr_of(&output)
    );
}

/// NixOS-like: the only client listener is a Unix socket and the secret
/// comes from registration_shared_secret_path in a second file. The config
/// leads the tool to the socket, which -v names.
#[test]
#[ignore = "needs the Unix-socket Synapse from scripts/test"]
fn a_socket_only_listener_is_found_in_the_config_and_used() {
    let d = Deployment::get("SOCKET");
    let socket = d.socket.clone().unwrap();
    let name = unique("socket");
    let mut args = d.config_args();
    args.extend(["-u", &name, "-p", "pw-socket", "-a", "-v"].map(str::to_owned));
    let output = run(&args);
    assert_exit(&output, 0);
    assert!(
        stderr_of(&output).contains(&format!(
            "> POST http://localhost/_synapse/admin/v1/register (through the Unix socket {socket})"
        )),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        d.login(&name, "pw-socket"),
        Ok(format!("@{name}:localhost"))
    );
}

/// `--unix-socket PATH`, as curl spells it, with the secret alone.
#[test]
#[ignore = "needs the Unix-socket Synapse from scripts/test"]
fn unix_socket_option_registers_and_returns_a_token() {
    let d = Deployment::get("SOCKET");
    let socket = d.socket.clone().unwrap();
    let name = unique("sockopt");
    let output = run([
        "-k",
        &d.secret,
        "--unix-socket",
        &socket,
        "-u",
        &name,
        "-p",
        "pw",
        "--no-admin",
        "-o",
        "json",
    ]);
    assert_exit(&output, 0);
    let object: Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(object["user_id"], format!("@{name}:localhost"));
    assert!(object["access_token"].is_string());
    assert_eq!(d.login(&name, "pw"), Ok(format!("@{name}:localhost")));

    // A socket path that is not there: named, with a hint, exit 4.
    let missing = d.dir.join("not-there.sock");
    let output = run([
        "-k",
        &d.secret,
        "--unix-socket",
        missing.to_str().unwrap(),
        "-u",
        "x",
        "-p",
        "pw",
        "--no-admin",
    ]);
    assert_exit(&output, 4);
    assert!(
        stderr_of(&output).contains(&format!(
            "error: the Unix socket {} does not exist",
            missing.display()
        )),
        "{}",
        stderr_of(&output)
    );
}

/// Docker and Ansible installs: read on the host, the config names the
/// secret file by its path inside the container. The error names the
/// config and suggests the file of that name beside it; passing it works.
#[test]
#[ignore = "needs the Unix-socket Synapse from scripts/test"]
fn a_secret_path_from_inside_a_container_gets_the_file_beside_the_config() {
    let d = Deployment::get("SOCKET");
    let host = tempfile::tempdir().unwrap();
    let config = host.path().join("homeserver.yaml");
    std::fs::write(
        &config,
        "registration_shared_secret_path: /nonexistent-data/registration_secret\n",
    )
    .unwrap();
    let beside = host.path().join("registration_secret");
    std::fs::copy(d.dir.join("registration_secret"), &beside).unwrap();
    let socket = d.socket.clone().unwrap();
    let name = unique("docker");
    let base = [
        "-u",
        &name,
        "-p",
        "pw",
        "--no-admin",
        "--unix-socket",
        &socket,
    ];

    let output = run(["-c", config.to_str().unwrap()].iter().chain(&base));
    assert_exit(&output, 3);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!(
            "error: {}: registration_shared_secret_path: /nonexistent-data/registration_secret: cannot be read: no such file",
            config.display()
        )),
        "{stderr}"
    );
    let suggested = format!("--shared-secret-file {}", beside.display());
    assert!(stderr.contains(&suggested), "{stderr}");

    let output = run(["--shared-secret-file", beside.to_str().unwrap()]
        .iter()
        .chain(&base));
    assert_exit(&output, 0);
    assert_eq!(d.login(&name, "pw"), Ok(format!("@{name}:localhost")));
}

/// `matrix_authentication_service.enabled: true` in the config: stop before
/// sending anything, exit 3, and give the mas-cli command for the request.
#[test]
#[ignore = "needs the delegated-auth Synapse from scripts/test"]
fn a_config_delegating_to_mas_stops_before_sending_with_the_mas_cli_command() {
    let d = Deployment::get("MAS");
    let before = d.registration_requests();
    let mut args = d.config_args();
    args.extend(
        [
            "-u",
            "alice",
            "-p",
            "pw",
            "-a",
            "--display-name",
            "Alice L",
            "-o",
            "json",
        ]
        .map(str::to_owned),
    );
    let output = run(&args);
    assert_exit(&output, 3);
    let object: Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(object["kind"], "delegated_auth");
    assert_eq!(object["exit_code"], 3);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("matrix_authentication_service.enabled: this server delegates accounts to Matrix Authentication Service (http://127.0.0.1:9/)"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("\n  mas-cli manage register-user --admin --display-name 'Alice L' alice\n"),
        "{stderr}"
    );
    assert!(stderr.contains("docker exec -it"), "{stderr}");
    assert!(!stderr.contains("pw"), "{stderr}");
    assert_eq!(d.registration_requests(), before, "nothing was sent");
}

/// Without a config, the endpoint's 404 M_UNRECOGNIZED leads to the auth
/// metadata, which Synapse serves only under delegation (answering 500 while
/// MAS is down, as here).
#[test]
#[ignore = "needs the delegated-auth Synapse from scripts/test"]
fn a_delegating_server_is_recognised_from_its_answers() {
    let d = Deployment::get("MAS");
    let output = run([
        "-k",
        &d.secret,
        "-u",
        "bob",
        "-p",
        "pw",
        "--no-admin",
        "-o",
        "json",
        &d.url,
    ]);
    assert_exit(&output, 1);
    let object: Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(object["kind"], "delegated_auth");
    assert_eq!(object["status"], 404);
    assert!(
        stderr_of(&output).contains("\n  mas-cli manage register-user --no-admin bob\n"),
        "{}",
        stderr_of(&output)
    );
}

/// A user who may not enter the socket's directory (NixOS keeps
/// /run/matrix-synapse at 0750) is told so, with the directory, and the
/// run is a connect failure (exit 4). Needs root, to run the tool as nobody.
#[test]
#[ignore = "needs the Unix-socket Synapse from scripts/test"]
fn a_socket_this_user_may_not_reach_gets_a_permission_hint() {
    use std::os::unix::fs::PermissionsExt;
    const NOBODY: u32 = 65534;
    let d = Deployment::get("SOCKET");
    let socket = d.socket.clone().unwrap();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can run the tool as another user");
        return;
    }
    let binary = std::path::Path::new(crate::BIN);
    let reachable = binary
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    if !reachable {
        eprintln!("skipped: nobody cannot reach {}", binary.display());
        return;
    }
    let mode = std::fs::metadata(&d.dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & 0o001,
        0,
        "the server's directory is closed to others"
    );
    let output = tool()
        .args([
            "-k",
            &d.secret,
            "--unix-socket",
            &socket,
            "-u",
            "x",
            "-p",
            "pw",
            "--no-admin",
        ])
        .run_as(NOBODY, NOBODY)
        .run();
    assert_exit(&output, 4);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!(
            "error: permission denied on the Unix socket {socket}\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "hint: this user may not enter {}",
            d.dir.display()
        )),
        "{stderr}"
    );
}
