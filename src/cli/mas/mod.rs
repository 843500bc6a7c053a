//! The command line's way to a server that delegates accounts to Matrix
//! Authentication Service: MAS's address and admin credentials from its
//! config (`--mas-config`) or from explicit options, checked before
//! anything is sent; and the registrar the run uses, MAS's or the shared
//! secret's.

mod config;
mod registrar;

pub use registrar::Registrar;

use crate::cli::Cli;
use crate::cli::config::{Config, read_secret_file};
use crate::cli::error::{Error, Result};
use crate::cli::notice::Notice;
use crate::secret::SecretString;
use config::MasConfig;
use reqwest::Url;
use std::path::PathBuf;

/// The environment variable that may hold the MAS client's secret.
pub const MAS_SECRET_ENV: &str = "MAS_CLIENT_SECRET";

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
