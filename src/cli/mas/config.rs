//! What this tool reads of MAS's own config (`--mas-config`): the admin
//! API's address, an admin client and its secret, the password rules.

use super::parse_mas_url;
use crate::cli::config::read_secret_file;
use crate::cli::error::{Error, Result};
use crate::cli::yaml::{Int, Value};
use crate::error::Hint;
use crate::mas::DEFAULT_MINIMUM_COMPLEXITY;
use crate::secret::SecretString;
use reqwest::Url;
use std::path::{Path, PathBuf};

/// A MAS config with its keys and templates is a few KiB; this is generous.
const MAX_MAS_CONFIG_BYTES: u64 = 1024 * 1024;

/// A YAML integer that is not negative.
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Int(Int::Small(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// What this tool reads of MAS's config.
pub(super) struct MasConfig {
    path: PathBuf,
    root: Value,
    pub(super) minimum_complexity: u8,
    pub(super) server_name: Option<String>,
}

/// A client that may ask for admin tokens.
pub(super) struct MasClientEntry {
    pub(super) id: String,
    pub(super) secret: SecretString,
    pub(super) post: bool,
}

impl MasConfig {
    pub(super) fn read(path: &Path) -> Result<MasConfig> {
        let bytes = crate::files::read_capped(path, MAX_MAS_CONFIG_BYTES, None)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            Error::file(
                path,
                None,
                format!("is not valid UTF-8 (byte {})", e.valid_up_to()),
            )
        })?;
        // The reader's messages say where, never what: a line may hold a secret.
        let root = crate::cli::yaml::load(text)
            .map_err(|problem| Error::file(path, None, problem))?
            .value
            .unwrap_or(Value::Null);
        let passwords = root.get("passwords");
        if passwords
            .and_then(|p| p.get("enabled"))
            .is_some_and(|enabled| matches!(enabled, Value::Bool(false)))
        {
            return Err(Error::file(path, Some("passwords.enabled"), "is false: MAS keeps no passwords, so an account made through it could not log in with one").with_hint("set passwords.enabled: true in MAS's config, or create accounts that log in through an upstream provider with MAS's own tools"));
        }
        let minimum_complexity = match passwords.and_then(|p| p.get("minimum_complexity")) {
            None => DEFAULT_MINIMUM_COMPLEXITY,
            Some(value) => as_u64(value)
                .filter(|n| *n <= 4)
                .map(|n| n as u8)
                .ok_or_else(|| {
                    Error::file(
                        path,
                        Some("passwords.minimum_complexity"),
                        "is not a number from 0 to 4",
                    )
                })?,
        };
        let server_name = root
            .get("matrix")
            .and_then(|m| m.get("homeserver"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(MasConfig {
            path: path.to_owned(),
            root,
            minimum_complexity,
            server_name,
        })
    }

    /// The admin API's address: the listener serving `adminapi`, else
    /// `http.public_base`.
    pub(super) fn admin_url(&self) -> Result<Url> {
        let http = self.root.get("http");
        let listeners = http
            .and_then(|h| h.get("listeners"))
            .and_then(Value::as_sequence)
            .unwrap_or_default();
        for listener in listeners {
            let serves_admin = listener
                .get("resources")
                .and_then(Value::as_sequence)
                .is_some_and(|r| {
                    r.iter()
                        .any(|r| r.get("name").and_then(Value::as_str) == Some("adminapi"))
                });
            if !serves_admin {
                continue;
            }
            let scheme = if listener.get("tls").is_some() {
                "https"
            } else {
                "http"
            };
            let prefix = listener.get("prefix").and_then(Value::as_str).unwrap_or("");
            let binds = listener.get("binds").and_then(Value::as_sequence);
            for bind in binds.unwrap_or_default() {
                let address = match (bind.get("address"), bind.get("host"), bind.get("port")) {
                    (Some(address), _, _) => address.as_str().map(str::to_owned),
                    (None, host, Some(port)) => as_u64(port).map(|port| {
                        format!(
                            "{}:{port}",
                            host.and_then(Value::as_str).unwrap_or("localhost")
                        )
                    }),
                    _ => None,
                };
                if let Some(address) = address {
                    let url = format!("{scheme}://{}{prefix}/", reachable(&address));
                    return parse_mas_url(
                        &url,
                        &format!("{}: http.listeners", self.path.display()),
                    );
                }
            }
        }
        let base = http
            .and_then(|h| h.get("public_base"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::file(&self.path, Some("http"), "has neither a listener serving the adminapi resource nor a public_base")
                    .with_hint("add the adminapi resource to a listener of MAS's http.listeners, or give --mas-url")
            })?;
        parse_mas_url(base, &format!("{}: http.public_base", self.path.display()))
    }

    /// The client to use: `wanted`, or the first one that authenticates
    /// with a secret and is listed in `policy.data.admin_clients`.
    pub(super) fn client(&self, wanted: Option<&str>) -> Result<MasClientEntry> {
        let admin_clients: Vec<&str> = self
            .root
            .get("policy")
            .and_then(|p| p.get("data"))
            .and_then(|d| d.get("admin_clients"))
            .and_then(Value::as_sequence)
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let clients = self
            .root
            .get("clients")
            .and_then(Value::as_sequence)
            .unwrap_or_default();
        let mut with_secret = Vec::new();
        for client in clients {
            let Some(id) = client.get("client_id").and_then(Value::as_str) else {
                continue;
            };
            if wanted.is_some_and(|w| w != id) {
                continue;
            }
            let post = match client.get("client_auth_method").and_then(Value::as_str) {
                Some("client_secret_basic") => false,
                Some("client_secret_post") => true,
                _ => continue,
            };
            with_secret.push(id);
            if !admin_clients.contains(&id) {
                continue;
            }
            let secret = match (
                client.get("client_secret"),
                client.get("client_secret_file"),
            ) {
                (Some(secret), _) => secret
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| SecretString::new(s.to_owned()))
                    .ok_or_else(|| {
                        Error::file(
                            &self.path,
                            Some("clients.client_secret"),
                            format!("of client {id} is not a text"),
                        )
                    })?,
                (None, Some(file)) => {
                    let file = file.as_str().ok_or_else(|| {
                        Error::file(
                            &self.path,
                            Some("clients.client_secret_file"),
                            "is not a path",
                        )
                    })?;
                    read_secret_file(Path::new(file), Some((&self.path, "client_secret_file")))?.0
                }
                (None, None) => continue,
            };
            return Ok(MasClientEntry {
                id: id.to_owned(),
                secret,
                post,
            });
        }
        let problem = match (wanted, with_secret.first()) {
            (Some(id), Some(_)) => {
                format!("client {id} is not listed in policy.data.admin_clients")
            }
            (Some(id), None) => format!(
                "has no client {id} that authenticates with client_secret_basic or client_secret_post"
            ),
            (None, Some(id)) => format!(
                "lists no client in policy.data.admin_clients (client {id} has a secret, but is not listed)"
            ),
            (None, None) => {
                "has no client that authenticates with client_secret_basic or client_secret_post"
                    .to_owned()
            }
        };
        Err(Error::file(&self.path, Some("clients"), problem).with_hint(Hint::text(
            "add a client with client_auth_method: client_secret_basic to clients, put its client_id under policy.data.admin_clients, then run `mas-cli config sync` and restart MAS",
        )))
    }
}

/// A wildcard bind address, as a client reaches it.
fn reachable(address: &str) -> String {
    let (host, port) = address.rsplit_once(':').unwrap_or((address, ""));
    let host = match host {
        "" | "0.0.0.0" | "[::]" | "::" => "localhost",
        host => host,
    };
    if port.is_empty() {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, MasConfig) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).unwrap();
        let config = MasConfig::read(&path).unwrap();
        (dir, config)
    }

    #[test]
    fn the_admin_api_is_the_listener_serving_it_else_the_public_base() {
        let (_dir, c) = config(
            "http:\n  public_base: https://auth.example.org/\n  listeners:\n    - resources: [{name: human}]\n      binds: [{address: '127.0.0.1:8080'}]\n    - resources: [{name: adminapi}]\n      prefix: /mas\n      binds: [{socket: /run/mas.sock}, {address: '[::]:8081'}]\n",
        );
        assert_eq!(
            c.admin_url().unwrap().as_str(),
            "http://localhost:8081/mas/"
        );
        let (_dir, c) = config(
            "http:\n  public_base: https://auth.example.org/\n  listeners:\n    - resources: [{name: human}]\n      binds: [{host: 0.0.0.0, port: 8080}]\n",
        );
        assert_eq!(c.admin_url().unwrap().as_str(), "https://auth.example.org/");
        assert_eq!(c.minimum_complexity, DEFAULT_MINIMUM_COMPLEXITY);
    }

    #[test]
    fn the_client_is_one_with_a_secret_listed_in_admin_clients() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-file\n").unwrap();
        let (_dir, c) = config(&format!(
            "clients:\n  - {{client_id: A, client_auth_method: none}}\n  - {{client_id: B, client_auth_method: client_secret_basic, client_secret: b}}\n  - {{client_id: C, client_auth_method: client_secret_post, client_secret_file: {}}}\npolicy:\n  data:\n    admin_clients: [A, C]\npasswords:\n  minimum_complexity: 4\n",
            secret.display()
        ));
        let client = c.client(None).unwrap();
        assert_eq!(
            (client.id.as_str(), client.secret.expose(), client.post),
            ("C", "from-file", true)
        );
        let error = c.client(Some("B")).err().unwrap();
        assert!(
            error
                .to_string()
                .contains("client B is not listed in policy.data.admin_clients"),
            "{error}"
        );
        assert_eq!(c.minimum_complexity, 4);
    }
}
