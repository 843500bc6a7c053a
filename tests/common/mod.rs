//! Shared helpers for the integration tests: the binary under test and the
//! real Synapse that `scripts/test` starts (see `scripts/synapse`).
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use assert_cmd::Command;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The proxy variables that the tool (like curl) honours.
pub const PROXY_VARIABLES: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// The binary under test, with a clean environment for the variables it reads.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("register_new_matrix_user").expect("binary is built");
    cmd.env_remove("MATRIX_REGISTRATION_SHARED_SECRET");
    // The test servers are on loopback: a proxy set on the machine must not
    // stand between them and the tool.
    for var in PROXY_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// The real Synapse that `scripts/test` started. Real-server tests are
/// `#[ignore]`d so that a plain `cargo test` stays hermetic; `scripts/test`
/// runs them with `--include-ignored` after sourcing the server's env file.
pub struct Synapse {
    pub url: String,
    pub tls_url: String,
    pub ca: String,
    pub config: String,
    pub secret: String,
    pub server_name: String,
    pub admin_token: String,
    pub reference: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: real-Synapse tests run through scripts/test, which starts the server")
    })
}

impl Synapse {
    pub fn get() -> Synapse {
        Synapse {
            url: var("SYNAPSE_URL"),
            tls_url: var("SYNAPSE_TLS_URL"),
            ca: var("SYNAPSE_CA"),
            config: var("SYNAPSE_CONFIG"),
            secret: var("SYNAPSE_SECRET"),
            server_name: var("SYNAPSE_SERVER_NAME"),
            admin_token: var("SYNAPSE_ADMIN_TOKEN"),
            reference: var("SYNAPSE_REFERENCE"),
        }
    }

    pub fn user_id(&self, localpart: &str) -> String {
        format!("@{}:{}", localpart.to_lowercase(), self.server_name)
    }

    fn http() -> reqwest::blocking::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .expect("test HTTP client")
    }

    /// Logs in with a password; the access token on success, or the HTTP
    /// status on failure.
    pub fn login(&self, localpart: &str, password: &str) -> Result<String, u16> {
        let response = Self::http()
            .post(format!("{}/_matrix/client/v3/login", self.url))
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
        let body: Value = response.json().expect("login JSON");
        Ok(body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned())
    }

    /// `GET /_synapse/admin/v2/users/<user_id>` with the bootstrap admin's
    /// token; `None` when the user does not exist.
    pub fn admin_user(&self, user_id: &str) -> Option<Value> {
        self.admin_user_with(&self.admin_token, user_id).ok()
    }

    /// The same with any token; the HTTP status on failure.
    pub fn admin_user_with(&self, token: &str, user_id: &str) -> Result<Value, u16> {
        // The user ID is one path segment: '/' and friends must be escaped.
        let mut url = reqwest::Url::parse(&self.url).expect("SYNAPSE_URL");
        url.path_segments_mut()
            .expect("base URL")
            .extend(["_synapse", "admin", "v2", "users", user_id]);
        let response = Self::http()
            .get(url)
            .bearer_auth(token)
            .send()
            .expect("admin API request");
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        Ok(response.json().expect("admin API JSON"))
    }

    /// `GET /_matrix/client/v3/account/whoami` with a token: the user ID.
    pub fn whoami(&self, token: &str) -> Result<String, u16> {
        let response = Self::http()
            .get(format!("{}/_matrix/client/v3/account/whoami", self.url))
            .bearer_auth(token)
            .send()
            .expect("whoami request");
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        let body: Value = response.json().expect("whoami JSON");
        Ok(body["user_id"].as_str().expect("user_id").to_owned())
    }
}

/// A localpart no other test (nor an earlier run against the same server)
/// uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}{}x{}x{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A finished `--batch` run: its exit code, one parsed JSON object per
/// stdout line in the order printed, and what it said.
pub struct BatchRun {
    pub code: Option<i32>,
    pub rows: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl BatchRun {
    pub fn from_output(output: std::process::Output) -> BatchRun {
        let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
        let rows = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
            .collect();
        BatchRun {
            code: output.status.code(),
            rows,
            stdout,
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// The result object of the row on `line` of the file.
    pub fn row(&self, line: u64) -> &Value {
        self.rows
            .iter()
            .find(|r| r["line"] == line)
            .unwrap_or_else(|| panic!("no result for line {line}: {}", self.stdout))
    }
}
