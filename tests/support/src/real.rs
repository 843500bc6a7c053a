//! The real Synapse that `scripts/test` starts (see `scripts/synapse`), and
//! what tests against it need.

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

    /// `GET /_synapse/admin/v1/server_version` (no token needed): the
    /// version Synapse says it is.
    pub fn server_version(&self) -> String {
        let body: Value = Self::http()
            .get(format!("{}/_synapse/admin/v1/server_version", self.url))
            .send()
            .and_then(|response| response.error_for_status())
            .expect("server_version request")
            .json()
            .expect("server_version JSON");
        body["server_version"]
            .as_str()
            .expect("server_version")
            .to_owned()
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
