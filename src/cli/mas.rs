//! The command line's way to a server that delegates accounts to Matrix
//! Authentication Service: MAS's address and admin credentials from its
//! config (`--mas-config`) or from explicit options, checked before
//! anything is sent; and the registrar the run uses, MAS's or the shared
//! secret's.

use crate::blocking::MasClient;
use crate::cli::Cli;
use crate::cli::config::{Config, read_secret_file};
use crate::cli::error::{Error, Result};
use crate::cli::notice::Notice;
use crate::cli::yaml::{Int, Value};
use crate::client::{CaCert, Client, HttpOptions, IfExists};
use crate::error::Hint;
use crate::mas::DEFAULT_MINIMUM_COMPLEXITY;
use crate::register::Register;
use crate::secret::SecretString;
use reqwest::Url;
use std::path::{Path, PathBuf};

/// The environment variable that may hold the MAS client's secret.
pub const MAS_SECRET_ENV: &str = "MAS_CLIENT_SECRET";
/// A MAS config with its keys and templates is a few KiB; this is generous.
const MAX_MAS_CONFIG_BYTES: u64 = 1024 * 1024;

/// How the account is created: Synapse's shared-secret endpoint, or the
/// admin API of the Matrix Authentication Service it delegates to.
#[derive(Debug)]
pub enum Route {
    SharedSecret(SecretString),
    Mas(MasRoute),
}

/// How to reach MAS's admin API, checked.
#[derive(Debug)]
pub struct MasRoute {
    pub url: Url,
    pub credentials: MasCredentials,
    /// `passwords.minimum_complexity` when MAS's config is given: passwords
    /// are checked against it before anything is sent.
    pub minimum_complexity: Option<u8>,
    /// `matrix.homeserver` of MAS's config.
    pub server_name: Option<String>,
}

#[derive(Debug)]
pub enum MasCredentials {
    Client {
        id: String,
        secret: SecretString,
        /// `client_secret_post` rather than `client_secret_basic`.
        post: bool,
    },
    Token(SecretString),
}

/// Whether the command line asks for the MAS path.
pub fn requested(cli: &Cli) -> bool {
    cli.mas_config.is_some()
        || cli.mas_url.is_some()
        || cli.mas_client_id.is_some()
        || cli.mas_token_file.is_some()
}

/// The MAS route the command line gives, with notices (secret files that
/// others can read). `homeserver` is the `-c` config, whose
/// `matrix_authentication_service.endpoint` is MAS's address when nothing
/// else names it.
pub fn route(
    cli: &Cli,
    homeserver: Option<&Config>,
    env_secret: Option<String>,
) -> Result<(MasRoute, Vec<Notice>)> {
    let mut notices = Vec::new();
    if cli.server_url.is_some() || cli.unix_socket.is_some() {
        return Err(Error::usage(
            "server_url and --unix-socket name the homeserver, but with MAS options the account is made through Matrix Authentication Service: give its address with --mas-url (or --mas-config)",
        ));
    }
    let config = match &cli.mas_config {
        Some(path) => Some(MasConfig::read(path)?),
        None => None,
    };
    let explicit_client = match &cli.mas_client_id {
        Some(id) => {
            let secret = match (
                &cli.mas_client_secret_file,
                env_secret.filter(|s| !s.is_empty()),
            ) {
                (Some(path), _) => {
                    let (secret, notice) = read_secret_file(path, None)?;
                    notices.extend(notice);
                    secret
                }
                (None, Some(secret)) => SecretString::new(secret),
                (None, None) => match config.as_ref().and_then(|c| c.client(Some(id)).ok()) {
                    Some(client) => client.secret,
                    None => {
                        return Err(Error::usage(format!(
                            "--mas-client-id needs the client's secret: --mas-client-secret-file FILE, or {MAS_SECRET_ENV} in the environment"
                        )));
                    }
                },
            };
            let post = config
                .as_ref()
                .and_then(|c| c.client(Some(id)).ok())
                .is_some_and(|c| c.post);
            Some(MasCredentials::Client {
                id: id.clone(),
                secret,
                post,
            })
        }
        None => None,
    };
    let credentials = if let Some(path) = &cli.mas_token_file {
        let (token, notice) = read_secret_file(path, None)?;
        notices.extend(notice);
        MasCredentials::Token(token)
    } else if let Some(client) = explicit_client {
        client
    } else if let Some(config) = &config {
        let client = config.client(None)?;
        MasCredentials::Client {
            id: client.id,
            secret: client.secret,
            post: client.post,
        }
    } else {
        return Err(Error::usage(
            "the MAS path needs admin credentials: --mas-config FILE (MAS's config.yaml), or --mas-client-id ID with --mas-client-secret-file FILE (or MAS_CLIENT_SECRET), or --mas-token-file FILE",
        ));
    };
    let url = match (&cli.mas_url, &config, homeserver.and_then(endpoint_in)) {
        (Some(url), _, _) => parse_mas_url(url, "--mas-url")?,
        (None, Some(config), _) => config.admin_url()?,
        (None, None, Some((endpoint, file))) => parse_mas_url(
            &endpoint,
            &format!("{}: matrix_authentication_service.endpoint", file.display()),
        )?,
        (None, None, None) => {
            return Err(Error::usage(
                "where is MAS? Give --mas-url URL, or --mas-config FILE, or -c with the homeserver config that names matrix_authentication_service.endpoint",
            ));
        }
    };
    Ok((
        MasRoute {
            url,
            credentials,
            minimum_complexity: config.as_ref().map(|c| c.minimum_complexity),
            server_name: config.and_then(|c| c.server_name),
        },
        notices,
    ))
}

/// `matrix_authentication_service.endpoint` of a homeserver config.
fn endpoint_in(config: &Config) -> Option<(String, PathBuf)> {
    let (section, file) = config.get("matrix_authentication_service")?;
    let endpoint = section.get("endpoint")?.as_str()?.to_owned();
    Some((endpoint, file.to_owned()))
}

fn parse_mas_url(text: &str, source: &str) -> Result<Url> {
    let invalid = || {
        Error::input(
            source,
            format!(
                "'{}' is not an http:// or https:// URL with a host",
                crate::redact::url(text)
            ),
        )
    };
    let url = Url::parse(text).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::input(
            source,
            "contains credentials; give the client with --mas-client-id instead",
        ));
    }
    Ok(url)
}

/// A YAML integer that is not negative.
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Int(Int::Small(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// What this tool reads of MAS's config.
struct MasConfig {
    path: PathBuf,
    root: Value,
    minimum_complexity: u8,
    server_name: Option<String>,
}

/// A client that may ask for admin tokens.
struct MasClientEntry {
    id: String,
    secret: SecretString,
    post: bool,
}

impl MasConfig {
    fn read(path: &Path) -> Result<MasConfig> {
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
    fn admin_url(&self) -> Result<Url> {
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
    fn client(&self, wanted: Option<&str>) -> Result<MasClientEntry> {
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

/// The way this run registers: the shared-secret endpoint, or MAS.
pub enum Registrar {
    SharedSecret(Box<crate::blocking::Client>),
    Mas(Box<MasClient>),
}

impl Registrar {
    /// `access_tokens`: whether MAS gives each account a token (a personal
    /// session), for the outputs that show one.
    pub fn new(
        route: &Route,
        server_url: &Url,
        if_exists: IfExists,
        http: HttpOptions,
        access_tokens: bool,
    ) -> Result<Registrar> {
        match route {
            Route::SharedSecret(secret) => {
                let mut builder = Client::builder(server_url.as_str())
                    .shared_secret(secret.expose())
                    .if_exists(if_exists)
                    .timeout(http.timeout)
                    .danger_accept_invalid_certs(http.insecure)
                    .max_idle_connections(http.pool_size);
                if let Some(wait) = http.wait {
                    builder = builder.wait(wait);
                }
                builder = match http.cacert {
                    Some(CaCert::File(path)) => builder.cacert(path),
                    Some(CaCert::Pem(pem)) => builder.cacert_pem(pem),
                    None => builder,
                };
                if let Some(socket) = http.unix_socket {
                    builder = builder.unix_socket(socket);
                }
                Ok(Registrar::SharedSecret(Box::new(builder.build_blocking()?)))
            }
            Route::Mas(route) => Registrar::mas(route, if_exists, &http, access_tokens),
        }
    }

    /// The shared-secret client, whose 404 may mean a delegating server.
    pub fn shared_secret_client(&self) -> Option<&crate::blocking::Client> {
        match self {
            Registrar::SharedSecret(client) => Some(client.as_ref()),
            Registrar::Mas(_) => None,
        }
    }

    fn mas(
        route: &MasRoute,
        if_exists: IfExists,
        http: &HttpOptions,
        access_tokens: bool,
    ) -> Result<Registrar> {
        let mut builder = crate::MasClient::builder(route.url.as_str())
            .if_exists(if_exists)
            .access_tokens(access_tokens)
            .timeout(http.timeout)
            .danger_accept_invalid_certs(http.insecure)
            .max_idle_connections(http.pool_size);
        builder = match &route.credentials {
            MasCredentials::Client { id, secret, post } => builder
                .client_credentials(id.clone(), secret.expose().to_owned())
                .client_secret_post(*post),
            MasCredentials::Token(token) => builder.admin_token(token.expose().to_owned()),
        };
        if let Some(wait) = http.wait {
            builder = builder.wait(wait);
        }
        builder = match &http.cacert {
            Some(CaCert::File(path)) => builder.cacert(path),
            Some(CaCert::Pem(pem)) => builder.cacert_pem(pem.clone()),
            None => builder,
        };
        Ok(Registrar::Mas(Box::new(builder.build_blocking()?)))
    }

    pub fn as_register(&self) -> &dyn Register {
        match self {
            Registrar::SharedSecret(client) => client.as_ref(),
            Registrar::Mas(client) => client.as_ref(),
        }
    }
}

/// A password MAS would refuse, refused before anything is sent.
pub fn check_password(
    password: &SecretString,
    minimum_complexity: Option<u8>,
    source: &str,
) -> Result<()> {
    match minimum_complexity.and_then(|m| crate::mas::password_too_weak(password.expose(), m)) {
        Some(problem) => Err(Error::input(source, problem)
            .with_hint("choose a longer, less common password (or --generate-password)")),
        None => Ok(()),
    }
}

/// What MAS's admin API cannot set, refused before anything is sent.
pub fn refuse_unsupported(user_type: Option<&str>, display_name: Option<&str>) -> Result<()> {
    let hint = "leave it out: through Matrix Authentication Service the account has no user type, and its display name starts as its localpart (the user can change it)";
    if user_type.is_some() {
        return Err(Error::input(
            "-t/--user_type",
            "MAS has no user types: its admin API cannot set one",
        )
        .with_hint(hint));
    }
    if display_name.is_some() {
        return Err(Error::input(
            "--display-name",
            "MAS's admin API cannot set a display name",
        )
        .with_hint(hint));
    }
    Ok(())
}

/// Whether an account that a failed run leaves behind has its password: a
/// generated one must then be shown.
pub fn password_was_set(error: &Error) -> bool {
    matches!(error, Error::Library(crate::Error::Partial { missing, .. }) if *missing != crate::mas::MISSING_PASSWORD)
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
