//! Which server to talk to: the URL as given, or the config's client
//! listener, or the reference's default; checked, and with a warning when a
//! password would cross the network in plain text.

use crate::cli::DEFAULT_SERVER_URL;
use crate::cli::config::{ClientListener, Config};
use crate::cli::error::{Error, Result};
use crate::cli::notice::Notice;
use reqwest::Url;

/// The URL sent over a Unix socket when none is given: Synapse ignores the
/// host, and the socket has no port.
pub const SOCKET_SERVER_URL: &str = "http://localhost";

/// The server URL and the Unix socket to reach it through, if any: as given
/// on the command line, else the config's client listener, else the
/// reference's default. With only `--unix-socket`, the URL is
/// `http://localhost` (it names the Host header and any path prefix).
pub(super) fn server_address(
    url: Option<String>,
    unix_socket: Option<std::path::PathBuf>,
    config: Option<&Config>,
) -> Result<ServerAddress> {
    let address = |url: &str, unix_socket, notice| {
        Ok(ServerAddress {
            url: parse_server_url(url)?,
            unix_socket,
            notice,
        })
    };
    if let Some(socket) = unix_socket {
        return address(
            url.as_deref().unwrap_or(SOCKET_SERVER_URL),
            Some(socket),
            None,
        );
    }
    if let Some(url) = url {
        return address(&url, None, None);
    }
    let discovered = match config {
        Some(config) => config.client_listener()?,
        None => None,
    };
    match discovered {
        Some(ClientListener::Tcp(url)) => address(&url, None, None),
        Some(ClientListener::UnixSocket(socket)) => address(SOCKET_SERVER_URL, Some(socket), None),
        None => {
            let notice = match config {
                Some(_) => Notice::NoListenerInConfig,
                None => Notice::NoServerUrl,
            };
            address(DEFAULT_SERVER_URL, None, Some(notice))
        }
    }
}

/// Where to send the request, and what to tell the user about the choice.
pub(super) struct ServerAddress {
    pub url: Url,
    pub unix_socket: Option<std::path::PathBuf>,
    pub notice: Option<Notice>,
}

/// Checks the server URL: http or https, with a host.
pub fn parse_server_url(text: &str) -> Result<Url> {
    let shown = crate::redact::url(text);
    let invalid = |problem: &str| {
        Error::input("server_url", format!("'{shown}' {problem}")).with_hint(
            crate::error::Hint::from("give it as http://HOST:PORT or https://HOST[:PORT]"),
        )
    };
    let url = Url::parse(text).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => invalid("has no http:// or https:// in front"),
        e => invalid(&format!("is not a valid URL ({e})")),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("is not an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "contains credentials; the shared secret is all the endpoint needs",
        ));
    }
    Ok(url)
}

/// Passwords travel in the request body: over plain HTTP to another machine
/// anyone on the path can read them.
pub(super) fn plain_http_warning(url: &Url) -> Option<Notice> {
    if url.scheme() != "http" {
        return None;
    }
    let loopback = match url.host()? {
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    (!loopback).then(|| Notice::PlainHttp {
        host: url.host_str().unwrap_or_default().to_owned(),
    })
}
