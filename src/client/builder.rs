//! Setting up a client: the builder and the endpoint's URL.

use super::transport::{self, CaCert, HttpOptions};
use super::{Client, REGISTER_PATH, proxy};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use reqwest::Url;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to make of an account that already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IfExists {
    /// A failure: the server's `M_USER_IN_USE` refusal ([`Error::Refused`]).
    #[default]
    Fail,
    /// A success: [`Outcome::AlreadyExists`](crate::Outcome::AlreadyExists).
    Succeed,
}

/// Sets up a [`Client`]: the server URL, the shared secret and how to reach
/// the server. Only the shared secret is required.
#[derive(Debug)]
pub struct ClientBuilder {
    server_url: String,
    shared_secret: Option<SecretString>,
    if_exists: IfExists,
    options: HttpOptions,
}

impl ClientBuilder {
    /// The server's `registration_shared_secret` (an empty one is refused
    /// by [`build`](ClientBuilder::build)).
    pub fn shared_secret(mut self, secret: impl Into<String>) -> Self {
        self.shared_secret = Some(SecretString::new(secret.into()));
        self
    }

    /// What an account that already exists counts as (default: a failure).
    pub fn if_exists(mut self, policy: IfExists) -> Self {
        self.if_exists = policy;
        self
    }

    /// The limit for each request, from connecting to the end of the
    /// answer (default: 30 seconds). Zero is refused by
    /// [`build`](ClientBuilder::build); more than 10⁹ seconds is taken as
    /// that.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.transport(|options| options.set_timeout(timeout))
    }

    /// How long to keep retrying while the server cannot be reached or
    /// answers 502, 503 or 504 (default: no retry). Only requests that
    /// cannot have created the account are retried. `Duration::MAX` waits
    /// for as long as it takes (10⁹ seconds).
    pub fn wait(self, wait: Duration) -> Self {
        self.transport(|options| options.set_wait(wait))
    }

    /// A PEM file of certificates to trust instead of the system's; a
    /// self-signed certificate given here is trusted as the server's own.
    /// The file is read by [`build`](ClientBuilder::build).
    pub fn cacert(self, path: impl Into<PathBuf>) -> Self {
        self.transport(|options| options.cacert = Some(CaCert::File(path.into())))
    }

    /// As [`cacert`](ClientBuilder::cacert), with the PEM text itself
    /// (`-----BEGIN CERTIFICATE-----` blocks) instead of a file.
    pub fn cacert_pem(self, pem: impl Into<Vec<u8>>) -> Self {
        self.transport(|options| options.cacert = Some(CaCert::Pem(pem.into())))
    }

    /// With `true`, skips certificate verification: anyone between here and
    /// the server can then read the shared secret's MAC and the password.
    /// For a test server only (default: `false`).
    pub fn danger_accept_invalid_certs(self, accept: bool) -> Self {
        self.transport(|options| options.insecure = accept)
    }

    /// Connects through this Unix socket (a Synapse `unix_socket` listener)
    /// instead of the URL's host and port; the URL still names the Host
    /// header and any path prefix.
    pub fn unix_socket(self, path: impl Into<PathBuf>) -> Self {
        self.transport(|options| options.unix_socket = Some(path.into()))
    }

    /// Connections kept open for reuse when several threads share the
    /// client (default: 1).
    pub fn max_idle_connections(self, count: usize) -> Self {
        self.transport(|options| options.pool_size = count)
    }

    /// Sets a transport option as [`HttpOptions`] caps it.
    fn transport(mut self, set: impl FnOnce(&mut HttpOptions)) -> Self {
        set(&mut self.options);
        self
    }

    /// Reads the `cacert` file and sets up TLS; nothing is sent yet. Needs
    /// no runtime: the client may be built outside the one it runs on.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a server URL that is not http:// or https://
    /// with a host, or that holds credentials (`user:password@`, not
    /// repeated in the error), for a shared secret not set or empty, or a
    /// zero timeout; [`Error::File`] or [`Error::Input`] for certificates
    /// that cannot be read or hold none; [`Error::Transport`] when TLS or
    /// the HTTP client cannot be set up.
    pub fn build(self) -> Result<Client> {
        let url = service_url(&self.server_url, "server URL", "the shared secret")?;
        let secret = self
            .shared_secret
            .ok_or_else(|| Error::input("shared secret", "is not set"))?;
        // The server refuses an empty secret; a MAC keyed with it proves nothing.
        if secret.expose().is_empty() {
            return Err(Error::input("shared secret", "is empty"));
        }
        self.options.check()?;
        Client::new(&url, secret, self.if_exists, self.options)
    }
}

/// A service's URL as a builder is given it: http or https with a host,
/// and no credentials, which no endpoint here takes (`needs` is what it
/// does take) and which would reach the log lines and messages that name
/// the URL. The URL is not repeated in the error, for the same reason.
pub(crate) fn service_url(text: &str, what: &str, needs: &str) -> Result<Url> {
    let url = match Url::parse(text) {
        Err(url::ParseError::EmptyHost) => Err(Error::input(what, "has no host")),
        parsed => parsed
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| Error::input(what, "is not an http:// or https:// URL")),
    }?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::input(what, "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::input(
            what,
            format!("contains credentials (user:password@); {needs} is all the endpoint needs"),
        ));
    }
    Ok(url)
}

impl Client {
    /// Starts a client for the server at `server_url` (`&str`, `String` or
    /// `url::Url`, http or https; a path prefix is kept). A URL with
    /// credentials (`user:password@`) is refused by
    /// [`build`](ClientBuilder::build): the shared secret is all the endpoint
    /// needs, and log lines and messages name the URL.
    pub fn builder(server_url: impl AsRef<str>) -> ClientBuilder {
        ClientBuilder {
            server_url: server_url.as_ref().to_owned(),
            shared_secret: None,
            if_exists: IfExists::default(),
            options: HttpOptions::default(),
        }
    }

    /// A client whose registration endpoint goes unused: another service
    /// (MAS's admin API) borrows its request path through
    /// [`Client::exchange`], with the same transport options.
    pub(crate) fn transport(service_url: &Url, options: HttpOptions) -> Result<Self> {
        Client::new(
            service_url,
            SecretString::new(String::new()),
            IfExists::default(),
            options,
        )
    }

    fn new(
        server_url: &Url,
        shared_secret: SecretString,
        if_exists: IfExists,
        options: HttpOptions,
    ) -> Result<Self> {
        let endpoint = endpoint_url(server_url);
        let tls = options.tls(endpoint.scheme() == "https")?;
        let http_client = transport::http_client(&options, tls.clone(), options.pool_size)?;
        // A proxy is never used for a socket (reqwest ignores it there).
        let (proxy, target) = match &options.unix_socket {
            Some(socket) => (None, crate::unix_socket::name(socket)),
            None => (
                proxy::environment_proxy(&endpoint),
                proxy::host_port(&endpoint),
            ),
        };
        Ok(Client {
            http_client,
            fresh_client: Arc::default(),
            tls,
            endpoint,
            shared_secret,
            if_exists,
            options,
            proxy,
            target,
        })
    }
}

/// `server_url` + the endpoint path, keeping any path prefix of the server URL.
pub(crate) fn endpoint_url(server_url: &Url) -> Url {
    let mut url = server_url.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{REGISTER_PATH}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_a_path_prefix() {
        let cases = [
            (
                "http://localhost:8008",
                "http://localhost:8008/_synapse/admin/v1/register",
            ),
            (
                "http://localhost:8008/",
                "http://localhost:8008/_synapse/admin/v1/register",
            ),
            (
                "https://example.org/matrix/",
                "https://example.org/matrix/_synapse/admin/v1/register",
            ),
            (
                "https://example.org/matrix?x=1",
                "https://example.org/matrix/_synapse/admin/v1/register",
            ),
        ];
        for (base, expected) in cases {
            assert_eq!(endpoint_url(&Url::parse(base).unwrap()).as_str(), expected);
        }
    }

    #[test]
    fn building_a_client_installs_no_process_wide_crypto_provider() {
        for insecure in [false, true] {
            Client::builder("https://example.org/")
                .shared_secret("s")
                .danger_accept_invalid_certs(insecure)
                .build()
                .unwrap();
        }
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }

    #[test]
    fn a_builder_without_a_secret_or_with_a_bad_url_is_refused() {
        let error = Client::builder("http://localhost").build().unwrap_err();
        assert_eq!(error.to_string(), "shared secret: is not set");
        let error = Client::builder("ftp://x")
            .shared_secret("s")
            .build()
            .unwrap_err();
        assert!(
            error.to_string().contains("not an http:// or https:// URL"),
            "{error}"
        );
        let error = Client::builder("http://localhost")
            .shared_secret("")
            .build()
            .unwrap_err();
        assert_eq!(error.to_string(), "shared secret: is empty");
        assert!(matches!(error, Error::Input { .. }));
    }

    #[test]
    fn a_url_with_credentials_is_refused_without_repeating_them() {
        for (url, problem) in [
            ("https://admin:hunter2@example.org/", "contains credentials"),
            ("http://hunter2@example.org", "contains credentials"),
            // Not a URL with credentials to the parser: a bad port.
            ("http://admin:hun/ter?2#@example.org", "not an http"),
        ] {
            let Err(error) = Client::builder(url).shared_secret("s").build() else {
                panic!("{url} accepted");
            };
            let text = format!("{error} {:?} {error:?}", error.hint());
            assert!(text.contains(problem), "{url}: {text}");
            assert!(
                !text.contains("hunter2") && !text.contains("hun/"),
                "{text}"
            );
        }
    }

    #[test]
    fn pem_text_is_taken_and_refused_without_a_certificate() {
        let pem = crate::tls::tests::OPENSSL_DEFAULT;
        let client = Client::builder("https://localhost/")
            .shared_secret("s")
            .cacert_pem(pem)
            .build()
            .unwrap();
        assert!(matches!(client.options.cacert, Some(CaCert::Pem(_))));
        let error = Client::builder("https://localhost/")
            .shared_secret("s")
            .cacert_pem("not a certificate")
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "cacert_pem: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        );
        let error = crate::MasClient::builder("https://localhost/")
            .admin_token("t")
            .cacert_pem(&b"-----BEGIN CERTIFICATE-----\n"[..])
            .build()
            .unwrap_err();
        assert!(error.to_string().starts_with("cacert_pem: "), "{error}");
    }

    /// Neither a builder nor a registration's outcome shows a secret or a
    /// token in its `Debug`, however deep.
    #[test]
    fn debug_shows_no_secret_nor_token() {
        let builder = Client::builder("https://localhost/").shared_secret("hunter2-secret");
        let mas = crate::MasClient::builder("https://localhost/")
            .client_credentials("id", "hunter2-client")
            .admin_token("hunter2-admin");
        let body = br#"{"user_id":"@a:b","access_token":"hunter2-token","device_id":"D"}"#;
        let registered = super::super::parse_registered(body).unwrap();
        assert_eq!(
            registered
                .access_token
                .as_ref()
                .map(super::super::AccessToken::expose),
            Some("hunter2-token")
        );
        let outcome = crate::Outcome::Created(registered);
        let client = Client::builder("https://localhost/")
            .shared_secret("hunter2-secret")
            .build()
            .unwrap();
        let blocking = Client::builder("https://localhost/")
            .shared_secret("hunter2-secret")
            .build_blocking()
            .unwrap();
        let mas_client = crate::MasClient::builder("https://localhost/")
            .client_credentials("id", "hunter2-client")
            .build()
            .unwrap();
        let shown = format!(
            "{builder:?} {builder:#?} {mas:?} {outcome:?} {outcome:#?} {client:?} {blocking:?} {mas_client:?}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("AccessToken(<redacted>)"), "{shown}");
    }

    /// What the command line checks before building its client, the public
    /// builders check too: the command line builds through them.
    #[test]
    fn both_builders_refuse_what_the_command_line_refuses() {
        let client = |url: &str, timeout| {
            Client::builder(url)
                .shared_secret("s")
                .timeout(timeout)
                .build()
                .map(drop)
        };
        let mas = |url: &str, timeout| {
            crate::MasClient::builder(url)
                .admin_token("t")
                .timeout(timeout)
                .build()
                .map(drop)
        };
        let second = Duration::from_secs(1);
        for build in [&client as &dyn Fn(&str, Duration) -> Result<()>, &mas] {
            for (url, problem) in [
                ("http://", "has no host"),
                ("https://:8448/", "has no host"),
                ("localhost:8008", "is not an http:// or https:// URL"),
                ("http://admin:hunter2@localhost/", "contains credentials"),
            ] {
                let error = build(url, second).unwrap_err();
                assert!(error.to_string().contains(problem), "{url}: {error}");
                assert!(!error.to_string().contains("hunter2"), "{error}");
            }
            let error = build("http://localhost", Duration::ZERO).unwrap_err();
            assert_eq!(error.to_string(), "timeout: must be more than 0 seconds");
            build("http://localhost", Duration::MAX).unwrap();
        }
    }

    /// `wait(Duration::MAX)` overflowed the clock in `MasClient` (a panic
    /// before the first request): the builders cap every duration.
    #[test]
    fn durations_are_capped_so_no_deadline_overflows() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.read(&mut [0u8; 4096]).unwrap();
            let answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            stream.write_all(answer.as_bytes()).unwrap();
        });
        let mas = crate::MasClient::builder(&url)
            .admin_token("t")
            .wait(Duration::MAX)
            .timeout(Duration::MAX)
            .build_blocking()
            .unwrap();
        let error = mas.server_name().unwrap_err();
        assert!(
            matches!(&error, Error::Refused(r) if r.status == 403),
            "{error}"
        );
        server.join().unwrap();
    }
}
