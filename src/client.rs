//! The HTTP side of the protocol: fetch a nonce, post the registration, and
//! turn every transport failure into one clear line.

use crate::error::{Error, Refusal, Result, escape_control_characters};
use crate::mac::registration_mac;
use crate::secret::SecretString;
use reqwest::blocking::{Client as HttpClient, Response};
use reqwest::{StatusCode, Url};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The admin registration endpoint, relative to the server URL.
pub const REGISTER_PATH: &str = "_synapse/admin/v1/register";
/// Answers are a few hundred bytes; anything past this is not read, so a
/// hostile or broken server cannot make us hold a huge body.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting (TCP and TLS) gets this share of the request timeout, so that a
/// stalled handshake ends as a connect failure (nothing sent: --wait may
/// retry it) instead of racing the request timeout.
const CONNECT_SHARE: f64 = 0.9;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How to talk to the server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// For each request, from connecting to the end of the answer.
    pub timeout: Duration,
    /// How long to keep retrying while the server cannot be reached.
    pub wait: Option<Duration>,
    /// A PEM file of certificates to trust instead of the system's.
    pub cacert: Option<PathBuf>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Report each request and status on stderr.
    pub verbose: bool,
    /// Connections to keep open for reuse (batch mode runs several at once).
    pub pool_size: usize,
    /// Connect through this Unix socket instead of the URL's host and port.
    pub unix_socket: Option<PathBuf>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            wait: None,
            cacert: None,
            insecure: false,
            verbose: false,
            pool_size: 1,
            unix_socket: None,
        }
    }
}

/// One account to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Sent exactly as given; the server lowercases it.
    pub localpart: &'a str,
    pub password: &'a SecretString,
    pub admin: bool,
    pub user_type: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

/// What the server answers on success.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Registered {
    pub user_id: String,
    pub access_token: Option<String>,
    pub device_id: Option<String>,
    pub home_server: Option<String>,
}

/// The result of one registration.
#[derive(Debug)]
pub enum Outcome {
    Created(Registered),
    /// The server answered `200 OK`, so the account exists, but the rest of
    /// its answer is missing or unreadable; the error says what is wrong with
    /// it. The reference reports success on the status alone.
    CreatedIncomplete(Error),
    /// `M_USER_IN_USE` with `exists_ok`.
    AlreadyExists,
}

#[derive(Serialize)]
struct RegisterBody<'a> {
    nonce: &'a str,
    username: &'a str,
    password: &'a str,
    mac: &'a str,
    admin: bool,
    user_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    displayname: Option<&'a str>,
}

#[derive(Deserialize)]
struct NonceAnswer {
    nonce: String,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    errcode: Option<String>,
    error: Option<String>,
    retry_after_ms: Option<u64>,
}

/// A client for one server's registration endpoint. Cheap to share between
/// threads: connections are pooled and kept alive.
#[derive(Debug, Clone)]
pub struct Client {
    http: HttpClient,
    endpoint: Url,
    options: HttpOptions,
    /// The proxy (`host:port`) the environment sends requests through, if any.
    proxy: Option<String>,
    /// `host:port` of the server, as messages name it.
    target: String,
}

impl Client {
    pub fn new(server_url: &Url, options: HttpOptions) -> Result<Self> {
        let endpoint = endpoint_url(server_url);
        // The process-wide default may already be installed (batch mode and
        // tests build several clients); either way it is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = HttpClient::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(
                options
                    .timeout
                    .mul_f64(CONNECT_SHARE)
                    .min(MAX_CONNECT_TIMEOUT),
            )
            .pool_max_idle_per_host(options.pool_size)
            .user_agent(concat!(
                "register_new_matrix_user/",
                env!("CARGO_PKG_VERSION")
            ));
        if no_proxy_for_any_host() {
            builder = builder.no_proxy();
        }
        if options.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        } else if let Some(path) = &options.cacert {
            let config = crate::tls::cacert_config(read_certificates(path)?).map_err(|e| {
                Error::transport(
                    format!("cannot set up TLS with {}: {e}", path.display()),
                    None,
                )
            })?;
            builder = builder.tls_backend_preconfigured(config);
        }
        if let Some(socket) = &options.unix_socket {
            builder = crate::unix_socket::connect_through(builder, socket)?;
        }
        let http = builder.build().map_err(|e| {
            Error::transport(
                format!("cannot set up the HTTP client: {}", chain(&e)),
                None,
            )
        })?;
        // A proxy is never used for a socket (reqwest ignores it there).
        let (proxy, target) = match &options.unix_socket {
            Some(socket) => (None, crate::unix_socket::name(socket)),
            None => (environment_proxy(&endpoint), host_port(&endpoint)),
        };
        Ok(Client {
            http,
            endpoint,
            options,
            proxy,
            target,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Registers one user: fetches a nonce, computes the MAC and posts.
    /// `before_post` runs once, right before the first POST (the reference
    /// prints "Sending registration request..." there); its error stops the
    /// registration before anything is sent.
    pub fn register(
        &self,
        shared_secret: &SecretString,
        user: &NewUser<'_>,
        exists_ok: bool,
        mut before_post: impl FnMut() -> Result<()>,
    ) -> Result<Outcome> {
        let deadline = self.options.wait.map(|wait| Instant::now() + wait);
        let mut backoff = Backoff::default();
        let mut announced = false;
        let mut nonce_retried = false;
        loop {
            let nonce = self.fetch_nonce_until(deadline, &mut backoff)?;
            let mac = registration_mac(
                shared_secret.expose(),
                &nonce,
                user.localpart,
                user.password.expose(),
                user.admin,
                user.user_type,
            );
            let body = RegisterBody {
                nonce: &nonce,
                username: user.localpart,
                password: user.password.expose(),
                mac: &mac,
                admin: user.admin,
                user_type: user.user_type,
                displayname: user.display_name,
            };
            if !announced {
                before_post()?;
                announced = true;
            }
            let response =
                match self.send(self.http.post(self.endpoint.clone()).json(&body), "POST") {
                    // The request never left: retrying cannot create the user twice.
                    Err(Failure::Connect(error)) if backoff.may_retry(deadline) => {
                        self.note_retry(&error);
                        backoff.sleep(deadline);
                        continue;
                    }
                    Err(Failure::Connect(error)) => return Err(error),
                    // The request may have reached the server: only its
                    // answer is lost.
                    Err(Failure::Other(error)) => return Err(Error::unconfirmed(error)),
                    Ok(response) => response,
                };
            match self.ok_body(response, Stage::Registration) {
                Ok(Body::Complete(body)) => {
                    return Ok(match parse_registered(&body) {
                        Ok(registered) => Outcome::Created(registered),
                        Err(problem) => Outcome::CreatedIncomplete(problem),
                    });
                }
                Ok(Body::Unreadable(problem)) => return Ok(Outcome::CreatedIncomplete(problem)),
                // A 5xx comes from a server that failed midway, or from a
                // proxy that gave up waiting for it: either may have
                // created the account first.
                Err(Error::Refused(refusal)) if refusal.status >= 500 => {
                    return Err(Error::unconfirmed(Error::Refused(refusal)));
                }
                Err(Error::Refused(refusal))
                    if exists_ok && refusal.errcode.as_deref() == Some("M_USER_IN_USE") =>
                {
                    return Ok(Outcome::AlreadyExists);
                }
                // Several server processes behind one address each keep their
                // own nonces: one more try with a fresh nonce may land on the
                // process that issued it.
                Err(Error::Refused(refusal))
                    if !nonce_retried
                        && refusal.status == 400
                        && refusal
                            .error
                            .as_deref()
                            .is_some_and(|e| e.contains("unrecognised nonce")) =>
                {
                    nonce_retried = true;
                    if self.options.verbose {
                        say!("unrecognised nonce: fetching a fresh one and trying once more");
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Fetches a nonce, retrying while the server cannot be reached and the
    /// deadline allows.
    fn fetch_nonce_until(
        &self,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<String> {
        loop {
            let error = match self.send(self.http.get(self.endpoint.clone()), "GET") {
                Ok(response) => match self.ok_body(response, Stage::Nonce) {
                    Ok(Body::Complete(body)) => return parse_nonce(&body),
                    Ok(Body::Unreadable(error)) => return Err(error),
                    Err(Error::Refused(refusal)) if refusal.is_unavailable() => {
                        Error::Refused(refusal)
                    }
                    Err(error) => return Err(error),
                },
                Err(Failure::Connect(error)) => Failure::Connect(error).into_error(),
                Err(failure) => return Err(failure.into_error()),
            };
            if !backoff.may_retry(deadline) {
                return Err(error);
            }
            self.note_retry(&error);
            backoff.sleep(deadline);
        }
    }

    fn note_retry(&self, error: &Error) {
        if self.options.verbose {
            say!("{error}; retrying");
        }
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        method: &str,
    ) -> Result<Response, Failure> {
        if self.options.verbose {
            match (&self.proxy, &self.options.unix_socket) {
                (Some(proxy), _) => {
                    say!("> {method} {} (through the proxy {proxy})", self.endpoint)
                }
                (None, Some(_)) => {
                    say!("> {method} {} (through {})", self.endpoint, self.target)
                }
                (None, None) => say!("> {method} {}", self.endpoint),
            }
        }
        // Set per request, this bounds the whole exchange, body included; the
        // client-wide timeout of the blocking client bounds each read of the
        // body separately, so a server trickling bytes could hold us forever.
        let response = request
            .timeout(self.options.timeout)
            .send()
            .map_err(|e| self.classify(e))?;
        if self.options.verbose {
            say!(
                "< {}",
                status_line(response.status(), &reason_phrase(&response))
            );
        }
        Ok(response)
    }

    /// Reads an answer: the body of a 200, as far as it could be read; a
    /// refusal for any other status (without details when its body cannot be
    /// read: the status is what counts).
    fn ok_body(&self, response: Response, stage: Stage) -> Result<Body> {
        let status = response.status();
        let reason = reason_phrase(&response);
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("nowhere")
                .to_owned();
            return Err(Error::transport(
                format!(
                    "the server answered {} redirecting to {location}; redirects are not followed",
                    status_line(status, &reason)
                ),
                Some(
                    "a password is only sent to the URL you name: if the new location is right, pass it as server_url",
                ),
            ));
        }
        let read = read_capped(response, &self.target, &self.options);
        if status != StatusCode::OK {
            let body = read.map(|(body, _)| body).unwrap_or_default();
            let mut refusal = parse_refusal(status.as_u16(), &body);
            refusal.reason = reason;
            return Err(Error::Refused(refusal));
        }
        Ok(match read {
            Ok((body, true)) => Body::Complete(body),
            Ok((_, false)) => Body::Unreadable(Error::transport(
                format!(
                    "the server's {} answer is larger than {} KiB; this is not a Synapse answer",
                    stage.name(),
                    MAX_BODY_BYTES / 1024
                ),
                Some("check the server URL"),
            )),
            Err(error) => Body::Unreadable(error),
        })
    }

    fn classify(&self, error: reqwest::Error) -> Failure {
        if let Some(socket) = &self.options.unix_socket {
            if error.is_connect() {
                if let Some(io) = find_cause::<std::io::Error>(&error) {
                    return Failure::Connect(crate::unix_socket::connect_error(socket, io));
                }
            }
        }
        // Naming the proxy keeps "connection refused by HOST" from blaming
        // the server for what the proxy did.
        let target = match &self.proxy {
            Some(proxy) => format!(
                "{} through the proxy {proxy} (from the environment; no_proxy bypasses it)",
                self.target
            ),
            None => self.target.clone(),
        };
        let https = self.endpoint.scheme() == "https";
        let timeout = self.options.timeout.as_secs_f64();
        let cacert = self.options.cacert.as_deref();
        describe_transport_error(&error, &target, https, timeout, cacert)
    }
}

impl Client {
    /// GETs another path of the same server (relative to the server URL,
    /// through the same socket, TLS and proxy settings): the status and the
    /// body as JSON (`null` when it is not JSON). `None` when no answer came.
    pub fn get_json(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let base = self.endpoint.as_str().strip_suffix(REGISTER_PATH)?;
        let url = Url::parse(&format!("{base}{path}")).ok()?;
        if self.options.verbose {
            say!("> GET {url}");
        }
        let response = self.http.get(url).send().ok()?;
        let status = response.status().as_u16();
        if self.options.verbose {
            say!("< {}", response.status());
        }
        let (body, _) = read_capped(response, &self.target, &self.options).ok()?;
        Some((status, serde_json::from_slice(&body).unwrap_or_default()))
    }
}

/// `host:port` of a URL (the port the scheme implies when none is given).
fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => url.to_string(),
    }
}

/// The proxy that `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy`
/// select for this URL, by the same rules reqwest applies, as `host:port`
/// (never its credentials).
fn environment_proxy(url: &Url) -> Option<String> {
    if no_proxy_for_any_host() {
        return None;
    }
    let uri: http::Uri = url.as_str().parse().ok()?;
    let intercept = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
    let proxy = intercept.uri();
    let host = proxy.host()?;
    Some(match proxy.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Whether `no_proxy` is `*`, which curl reads as "no proxy for any host".
/// reqwest matches `*` against host names only, so an IP-address URL would
/// still go through the proxy. The variables are read in reqwest's order.
fn no_proxy_for_any_host() -> bool {
    ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .is_some_and(|value| value.trim() == "*")
}

/// Which answer is being read, as messages name it.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Nonce,
    Registration,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Nonce => "nonce",
            Stage::Registration => "registration",
        }
    }
}

/// A transport failure, split by whether the request may have reached the server.
#[derive(Debug)]
enum Failure {
    /// No connection was made: nothing was sent.
    Connect(Error),
    Other(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Connect(error) | Failure::Other(error) => error,
        }
    }
}

/// The body of a `200 OK` answer.
enum Body {
    Complete(Vec<u8>),
    /// Cut off, too large, or not read in time: what went wrong.
    Unreadable(Error),
}

fn describe_transport_error(
    error: &reqwest::Error,
    target: &str,
    https: bool,
    timeout: f64,
    cacert: Option<&Path>,
) -> Failure {
    if let Some(tls) = find_cause::<rustls::Error>(error) {
        let (problem, hint) = describe_tls_error(tls, target, cacert);
        return Failure::Other(Error::transport(problem, Some(&hint)));
    }
    let io_kind = find_cause::<std::io::Error>(error).map(std::io::Error::kind);
    if error.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        let problem = match (error.is_connect(), https) {
            (true, true) => format!("connecting to {target} over TLS timed out"),
            (true, false) => format!("connecting to {target} timed out"),
            (false, _) => format!("{target} did not answer within {timeout} s"),
        };
        let hint = if https {
            "does this port speak plain HTTP? Then use http://. Otherwise the server is overloaded or stuck: raise the limit with --timeout SECONDS"
        } else {
            "is the server overloaded or stuck? Raise the limit with --timeout SECONDS"
        };
        let failure = Error::transport(problem, Some(hint));
        return if error.is_connect() {
            Failure::Connect(failure)
        } else {
            Failure::Other(failure)
        };
    }
    if error.is_connect() {
        let (problem, hint) = match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => (
                format!("connection refused by {target}"),
                "is the server running and listening there?".to_owned(),
            ),
            _ => {
                let detail = chain(error);
                if detail.contains("dns error") || detail.contains("failed to lookup address") {
                    (
                        format!("cannot resolve the host of {target}"),
                        "check the host name in the server URL".to_owned(),
                    )
                } else if https
                    && (detail.contains("tls")
                        || detail.contains("handshake")
                        || detail.contains("connection closed"))
                {
                    (
                        format!("TLS handshake with {target} failed: {detail}"),
                        "does this port speak TLS? For a plain-HTTP listener use http://"
                            .to_owned(),
                    )
                } else {
                    (
                        format!("cannot connect to {target}: {detail}"),
                        "is the server running and listening there?".to_owned(),
                    )
                }
            }
        };
        return Failure::Connect(Error::transport(problem, Some(&hint)));
    }
    let detail = root_cause(error);
    let problem = if io_kind == Some(std::io::ErrorKind::ConnectionReset) {
        format!("{target} reset the connection before answering")
    } else if detail.contains("connection closed before message completed") {
        format!("{target} closed the connection without answering")
    } else if detail.starts_with("invalid HTTP") || detail.contains("message head is too large") {
        format!("{target} answered with something that is not HTTP ({detail})")
    } else {
        format!("the connection to {target} failed: {detail}")
    };
    let hint = if https {
        "is there a proxy in front of the server? It is safe to retry"
    } else {
        "if this port speaks TLS (a tls: true listener), use https://"
    };
    Failure::Other(Error::transport(problem, Some(hint)))
}

/// What went wrong in TLS, and a hint that fits: the advice to pass
/// `--cacert` only when it was not passed.
fn describe_tls_error(
    error: &rustls::Error,
    target: &str,
    cacert: Option<&Path>,
) -> (String, String) {
    use rustls::CertificateError as C;
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cause) => {
            let hint = match (cause, cacert) {
                (C::Expired | C::ExpiredContext { .. }, _)
                | (C::NotValidYet | C::NotValidYetContext { .. }, _) => {
                    "renew the server's certificate, or check this machine's clock".to_owned()
                }
                (C::NotValidForName | C::NotValidForNameContext { .. }, _) => {
                    "use a host name the certificate is issued for in the server URL".to_owned()
                }
                (_, Some(path)) => format!(
                    "{} must hold the server's own certificate or the authority that signed it",
                    path.display()
                ),
                (_, None) => "for a self-signed certificate pass it with --cacert FILE (or, at your own risk, --insecure)".to_owned(),
            };
            (
                format!(
                    "the TLS certificate of {target} is not trusted: {}",
                    describe_certificate_error(cause, cacert)
                ),
                hint,
            )
        }
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => (
            format!(
                "TLS handshake with {target} failed: the server does not speak TLS on this port"
            ),
            "for a plain-HTTP listener use http://".to_owned(),
        ),
        other => (
            format!("TLS with {target} failed: {other}"),
            match cacert {
                Some(_) => "check the server's TLS setup",
                None => "check the server's TLS setup, or use --cacert FILE for a private certificate authority",
            }
            .to_owned(),
        ),
    }
}

fn describe_certificate_error(error: &rustls::CertificateError, cacert: Option<&Path>) -> String {
    use rustls::CertificateError as C;
    match error {
        // What webpki reports for a certificate no trusted authority signed
        // depends on the trust store; to the user they are all one thing.
        C::UnknownIssuer
        | C::BadSignature
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => match cacert {
            Some(path) => format!(
                "it is not in {} and no certificate there has signed it",
                path.display()
            ),
            None => {
                "no certificate authority this machine trusts has signed it (is it self-signed?)"
                    .to_owned()
            }
        },
        // What `openssl req -x509` makes by default: trusted only when it is
        // the very certificate given with --cacert (see tls.rs).
        C::Other(other)
            if other.0.downcast_ref::<webpki::Error>()
                == Some(&webpki::Error::CaUsedAsEndEntity) =>
        {
            match cacert {
                Some(path) => format!(
                    "it is a certificate authority's certificate, which is trusted as the server's own only when it is itself in {}",
                    path.display()
                ),
                None => "it is self-signed (a certificate authority's own certificate)".to_owned(),
            }
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("it is not issued for this host name ({error})")
        }
        C::Revoked => "it has been revoked".to_owned(),
        other => other.to_string(),
    }
}

/// The innermost cause of an error, in the OS's or the library's own words,
/// without wrappers like "client error (SendRequest)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    loop {
        let inner = current.source().or_else(|| {
            current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static))
        });
        match inner {
            Some(inner) => current = inner,
            None => break,
        }
    }
    match current.downcast_ref::<std::io::Error>() {
        Some(io) => crate::config::io_reason(io),
        None => current.to_string(),
    }
}

/// Finds an error of type `T` among the causes, looking inside `io::Error`s,
/// which is where hyper and rustls put theirs.
fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|inner| find_cause::<T>(inner)) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

/// The causes of an error, joined, without the URL (already said).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}

/// Reads at most `MAX_BODY_BYTES` of the body; also says whether that was all of it.
fn read_capped(response: Response, target: &str, options: &HttpOptions) -> Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    let mut limited = response.take(MAX_BODY_BYTES + 1);
    limited.read_to_end(&mut body).map_err(|e| {
        let timed_out = e.kind() == std::io::ErrorKind::TimedOut
            || find_cause::<reqwest::Error>(&e).is_some_and(reqwest::Error::is_timeout);
        if timed_out {
            Error::transport(
                format!(
                    "{target} did not finish its answer within {} s",
                    options.timeout.as_secs_f64()
                ),
                Some("is the server overloaded or stuck? Raise the limit with --timeout SECONDS"),
            )
        } else {
            Error::transport(
                format!("{target} broke off its answer halfway ({})", root_cause(&e)),
                Some("is there a proxy in front of the server? It is safe to retry"),
            )
        }
    })?;
    let complete = body.len() as u64 <= MAX_BODY_BYTES;
    body.truncate(MAX_BODY_BYTES as usize);
    Ok((body, complete))
}

/// The nonce from the body of a 200 answer to the GET.
pub fn parse_nonce(body: &[u8]) -> Result<String> {
    parse_json::<NonceAnswer>(body, Stage::Nonce).map(|answer| answer.nonce)
}

/// The new account from the body of a 200 answer to the POST. Messages name
/// the user ID, so its control characters are escaped as in [`parse_refusal`]
/// (a real Matrix user ID has none).
pub fn parse_registered(body: &[u8]) -> Result<Registered> {
    let mut registered: Registered = parse_json(body, Stage::Registration)?;
    registered.user_id = escape_control_characters(&registered.user_id);
    Ok(registered)
}

/// A refusal from an error answer's status and body. Any body is accepted: a
/// proxy's HTML page or an empty body gives a refusal without details. The
/// server's `error` text is printed as is, so its control characters are
/// escaped: a hostile server must not split our one line or send terminal
/// escape sequences.
pub fn parse_refusal(status: u16, body: &[u8]) -> Refusal {
    let details: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    Refusal {
        status,
        reason: StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned(),
        errcode: details.errcode,
        error: details.error.map(|text| escape_control_characters(&text)),
        retry_after_ms: details.retry_after_ms,
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], stage: Stage) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::transport(
            format!(
                "the server's {} answer is not the expected JSON ({})",
                stage.name(),
                json_problem(&e)
            ),
            Some("is this URL a Matrix homeserver? check the port and any reverse proxy in front of it"),
        )
    })
}

fn status_line(status: StatusCode, reason: &str) -> String {
    format!("{} {reason}", status.as_u16())
        .trim_end()
        .to_owned()
}

/// The reason phrase of the answer's status line, as the reference prints it
/// (`500 Kaputt` stays `Kaputt`, an empty phrase stays empty), without the
/// blanks around it, which Python's http.client strips. hyper's parser keeps
/// only tabs, spaces and visible ASCII (a phrase with other bytes arrives
/// empty); a tab is escaped, as in all server text.
fn reason_phrase(response: &Response) -> String {
    match response.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(phrase) => {
            let text = String::from_utf8_lossy(phrase.as_bytes());
            escape_control_characters(text.trim_matches([' ', '\t']))
        }
        // hyper keeps the phrase only when it differs from the standard one.
        None => response
            .status()
            .canonical_reason()
            .unwrap_or("")
            .to_owned(),
    }
}

fn json_problem(error: &serde_json::Error) -> String {
    if error.is_data() {
        error.to_string()
    } else {
        "it does not parse as JSON".to_owned()
    }
}

/// `server_url` + the endpoint path, keeping any path prefix of the server URL.
pub fn endpoint_url(server_url: &Url) -> Url {
    let mut url = server_url.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{REGISTER_PATH}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// A system's whole CA bundle is about 200 KiB.
const MAX_CERT_FILE_BYTES: u64 = 1024 * 1024;

/// Read as the other file options are: capped, a directory refused, and a
/// named pipe nobody writes to read as empty instead of waited on.
fn read_certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>> {
    let pem = crate::config::read_capped(path, MAX_CERT_FILE_BYTES, None)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|certs| {
            !certs.is_empty() && pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
        })
        .ok_or_else(|| Error::file(path, None, "holds no PEM certificate (--cacert)"))?;
    Ok(certificates)
}

/// Exponential backoff within a deadline.
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    fn may_retry(&self, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| Instant::now() < d)
    }

    fn sleep(&mut self, deadline: Option<Instant>) {
        let remaining = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        std::thread::sleep(self.next.min(remaining));
        self.next = (self.next * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by fuzzing (fuzz/fuzz_targets/response.rs): JSON allows a raw DEL
    // and escaped newlines or ESC in strings, and the error text reaches the
    // terminal.
    #[test]
    fn a_refusal_text_has_its_control_characters_escaped() {
        let body = b"{\"errcode\":\"M_X\",\"error\":\"a\x7fb\\nc\\u001b[2Jd \\u00e9\"}";
        let refusal = parse_refusal(400, body);
        assert_eq!(
            refusal.error.as_deref(),
            Some("a\\u{7f}b\\nc\\u{1b}[2Jd \u{e9}")
        );
        assert_eq!(refusal.reason, "Bad Request");
        assert_eq!(parse_refusal(1000, b"<html>").reason, "");
        let registered = parse_registered(b"{\"user_id\":\"@a\\r:x\"}").unwrap();
        assert_eq!(registered.user_id, "@a\\r:x");
    }

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
    fn the_body_has_the_reference_fields() {
        let body = RegisterBody {
            nonce: "n",
            username: "u",
            password: "p",
            mac: "m",
            admin: false,
            user_type: None,
            displayname: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"nonce": "n", "username": "u", "password": "p", "mac": "m", "admin": false, "user_type": null})
        );
    }
}
