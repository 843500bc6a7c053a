//! Setting up a client: the builder, the transport options, TLS and the
//! endpoint's URL.

use super::{Client, REGISTER_PATH, proxy};
use crate::error::{Error, Hint, Result, Setting};
use crate::secret::SecretString;
use reqwest::{Client as HttpClient, Url};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest timeout or wait a builder keeps (about 31 years, as the
/// command line allows): a longer one is taken as this, so that no deadline
/// computed from it overflows the clock.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(1_000_000_000);
/// Connecting (TCP and TLS) gets this share of the request timeout, so that a
/// stalled handshake ends as a connect failure (nothing sent: a wait may
/// retry it) instead of racing the request timeout.
const CONNECT_SHARE: f64 = 0.9;

/// How to talk to the server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// For each request, from connecting to the end of the answer.
    pub timeout: Duration,
    /// How long to keep retrying while the server cannot be reached.
    pub wait: Option<Duration>,
    /// PEM certificates to trust instead of the system's.
    pub cacert: Option<CaCert>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Connections to keep open for reuse (batch mode runs several at once).
    pub pool_size: usize,
    /// Connect through this Unix socket instead of the URL's host and port.
    pub unix_socket: Option<PathBuf>,
}

/// Where the certificates to trust come from.
#[derive(Clone)]
pub enum CaCert {
    /// A PEM file, read when the client is built.
    File(PathBuf),
    /// PEM text given as it is.
    Pem(Vec<u8>),
}

/// How messages name the certificates: the file, or what gave them.
impl fmt::Display for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaCert::File(path) => path.display().fmt(f),
            CaCert::Pem(_) => f.write_str("the PEM certificates given"),
        }
    }
}

/// Certificates are public, but a whole bundle is noise in a log line.
impl fmt::Debug for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaCert::File(path) => f.debug_tuple("File").field(path).finish(),
            CaCert::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            wait: None,
            cacert: None,
            insecure: false,
            pool_size: 1,
            unix_socket: None,
        }
    }
}

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
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout.min(MAX_DURATION);
        self
    }

    /// How long to keep retrying while the server cannot be reached or
    /// answers 502, 503 or 504 (default: no retry). Only requests that
    /// cannot have created the account are retried. `Duration::MAX` waits
    /// for as long as it takes (10⁹ seconds).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.options.wait = Some(wait.min(MAX_DURATION));
        self
    }

    /// A PEM file of certificates to trust instead of the system's; a
    /// self-signed certificate given here is trusted as the server's own.
    /// The file is read by [`build`](ClientBuilder::build).
    pub fn cacert(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.cacert = Some(CaCert::File(path.into()));
        self
    }

    /// As [`cacert`](ClientBuilder::cacert), with the PEM text itself
    /// (`-----BEGIN CERTIFICATE-----` blocks) instead of a file.
    pub fn cacert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.options.cacert = Some(CaCert::Pem(pem.into()));
        self
    }

    /// With `true`, skips certificate verification: anyone between here and
    /// the server can then read the shared secret's MAC and the password.
    /// For a test server only (default: `false`).
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.options.insecure = accept;
        self
    }

    /// Connects through this Unix socket (a Synapse `unix_socket` listener)
    /// instead of the URL's host and port; the URL still names the Host
    /// header and any path prefix.
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.unix_socket = Some(path.into());
        self
    }

    /// Connections kept open for reuse when several threads share the
    /// client (default: 1).
    pub fn max_idle_connections(mut self, count: usize) -> Self {
        self.options.pool_size = count;
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
        check_options(&self.options)?;
        Client::new(&url, secret, self.if_exists, self.options)
    }
}

/// What both builders refuse in the transport options: a zero timeout,
/// which no request could meet.
pub(crate) fn check_options(options: &HttpOptions) -> Result<()> {
    if options.timeout.is_zero() {
        return Err(Error::input("timeout", "must be more than 0 seconds"));
    }
    Ok(())
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
        let tls = match &options.cacert {
            Some(cacert) if !options.insecure => {
                crate::tls::cacert_config(read_certificates(cacert)?)
            }
            _ if options.insecure => crate::tls::config(true),
            // The system's trust store is needed only for https://: a scratch
            // container has none, and plain http:// or a Unix socket must
            // work there. TLS is then used only by an https:// proxy, which
            // gets the system's trust when there is one.
            _ if endpoint.scheme() != "https" => {
                crate::tls::config(false).or_else(|_| crate::tls::cacert_config(Vec::new()))
            }
            _ => Ok(crate::tls::config(false).map_err(no_system_roots)?),
        };
        let tls = tls.map_err(|e| {
            let with = match &options.cacert {
                Some(cacert) if !options.insecure => format!(" with {cacert}"),
                _ => String::new(),
            };
            Error::transport(format!("cannot set up TLS{with}: {e}"), None).caused_by(e)
        })?;
        let http_client = http_client(&options, tls.clone(), options.pool_size)?;
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

/// A reqwest client keeping up to `pool_size` idle connections for reuse;
/// with 0, each request goes on a fresh connection.
pub(super) fn http_client(
    options: &HttpOptions,
    tls: rustls::ClientConfig,
    pool_size: usize,
) -> Result<HttpClient> {
    let mut builder = HttpClient::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .connect_timeout(
            options
                .timeout
                .mul_f64(CONNECT_SHARE)
                .min(MAX_CONNECT_TIMEOUT),
        )
        .pool_max_idle_per_host(pool_size)
        .user_agent(concat!(
            "register_new_matrix_user/",
            env!("CARGO_PKG_VERSION")
        ))
        // Built with the ring provider passed in, so that no process-wide
        // default is installed.
        .tls_backend_preconfigured(tls);
    if proxy::no_proxy_for_any_host() {
        builder = builder.no_proxy();
    }
    if let Some(socket) = &options.unix_socket {
        builder = crate::unix_socket::connect_through(builder, socket)?;
    }
    builder.build().map_err(|e| {
        Error::transport(
            format!(
                "cannot set up the HTTP client: {}",
                super::diagnose::chain(&e)
            ),
            None,
        )
        .caused_by(e)
    })
}

/// The system's trust store could not be used for an https:// URL: on Linux,
/// it has no certificates at all (a scratch container, a minimal chroot).
/// Exit 3, with the two ways to give some: a bundled set of roots compiled
/// in would go stale in a static binary that nobody rebuilds, and would
/// trust what the administrator chose not to.
fn no_system_roots(error: rustls::Error) -> Error {
    Error::Input {
        origin: "server URL".to_owned(),
        problem: format!(
            "is https://, but the system's certificate authorities cannot be loaded to verify the server ({error})"
        ),
        hint: Some(
            Hint::text("pass the server's certificate or its authority's with ")
                .setting(Setting::CaCert)
                .then(", or point SSL_CERT_FILE at a CA bundle (install ca-certificates, or mount /etc/ssl/certs/ca-certificates.crt into a container)"),
        ),
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

/// A system's whole CA bundle is about 200 KiB.
const MAX_CERT_FILE_BYTES: u64 = 1024 * 1024;

/// A file is read as the other file options are: capped, a directory
/// refused, and a named pipe nobody writes to read as empty instead of
/// waited on.
fn read_certificates(cacert: &CaCert) -> Result<Vec<CertificateDer<'static>>> {
    let read;
    let pem = match cacert {
        CaCert::File(path) => {
            read = crate::files::read_capped(path, MAX_CERT_FILE_BYTES, None)?;
            &read
        }
        CaCert::Pem(pem) => pem,
    };
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|certs| {
            !certs.is_empty() && pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
        })
        .ok_or_else(|| {
            // The setting is named in the hint, as data: the library does not
            // know what its caller calls it.
            let hint = Hint::text("the file given as ")
                .setting(Setting::CaCert)
                .then(" must hold PEM certificates (-----BEGIN CERTIFICATE-----)");
            match cacert {
                CaCert::File(path) => {
                    Error::file(path, None, "holds no PEM certificate").with_hint(hint)
                }
                CaCert::Pem(_) => Error::input(
                    "cacert_pem",
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ),
            }
        })?;
    Ok(certificates)
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
    fn pem_text_is_trusted_as_a_file_is() {
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
