//! The HTTP side of the protocol: fetch a nonce, post the registration, and
//! turn every transport failure into one clear line.
//!
//! The protocol is written once, async, on reqwest's async client: [`Client`]
//! runs on the caller's tokio runtime, and [`blocking::Client`](crate::blocking::Client)
//! drives the same code on a runtime of its own.

mod answer;
pub(crate) mod blocking;
mod builder;
mod diagnose;
mod mac;
mod proxy;
pub(crate) mod retry;
mod transport;

pub use answer::{AccessToken, Registered};
pub use answer::{parse_nonce, parse_refusal, parse_registered};
pub(crate) use builder::service_url;
pub use builder::{ClientBuilder, IfExists};
pub(crate) use diagnose::Failure;
pub use mac::registration_mac;
pub use transport::{CaCert, HttpOptions};

use crate::error::{Error, Hint, Result, Setting};
use crate::secret::SecretString;
use answer::{Body, RegisterBody, Stage, read_body, reason_phrase, status_line};
use diagnose::{describe_transport_error, find_cause};
use reqwest::{Client as HttpClient, Response, StatusCode, Url};
use retry::Backoff;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The admin registration endpoint, relative to the server URL.
pub(crate) const REGISTER_PATH: &str = "_synapse/admin/v1/register";
/// Answers are a few hundred bytes; anything past this is not read, so a
/// hostile or broken server cannot make us hold a huge body.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// One account to create: a localpart and a password, and optionally the
/// admin flag, a user type and a display name.
///
/// ```
/// use register_new_matrix_user::NewUser;
/// let user = NewUser::new("alice", "correct horse").admin(true).display_name("Alice");
/// assert!(!format!("{user:?}").contains("horse"));
/// ```
#[derive(Clone)]
pub struct NewUser<'a> {
    /// Sent exactly as given; the server lowercases it.
    pub(crate) localpart: &'a str,
    pub(crate) password: &'a str,
    pub(crate) admin: bool,
    pub(crate) user_type: Option<&'a str>,
    pub(crate) display_name: Option<&'a str>,
}

impl<'a> NewUser<'a> {
    /// A user without admin rights, user type or display name. The
    /// localpart is sent as given (Synapse lowercases it).
    pub fn new(localpart: &'a str, password: &'a str) -> Self {
        NewUser {
            localpart,
            password,
            admin: false,
            user_type: None,
            display_name: None,
        }
    }

    /// Whether the account is a server admin.
    pub fn admin(mut self, admin: bool) -> Self {
        self.admin = admin;
        self
    }

    /// The user type (Synapse knows `bot` and `support`, and those its
    /// config adds); `None` for a regular user.
    pub fn user_type(mut self, user_type: impl Into<Option<&'a str>>) -> Self {
        self.user_type = user_type.into();
        self
    }

    /// The display name; `None` lets the server use the localpart.
    pub fn display_name(mut self, display_name: impl Into<Option<&'a str>>) -> Self {
        self.display_name = display_name.into();
        self
    }
}

/// The password is left out.
impl fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("localpart", &self.localpart)
            .field("admin", &self.admin)
            .field("user_type", &self.user_type)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

/// The result of one registration.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The account was created; what the server answered about it.
    Created(Registered),
    /// The server answered `200 OK`, so the account exists, but the rest of
    /// its answer is missing or unreadable; the error says what is wrong with
    /// it. The reference reports success on the status alone.
    CreatedIncomplete(Error),
    /// `M_USER_IN_USE` with [`IfExists::Succeed`].
    AlreadyExists,
}

/// An async client for one server's registration endpoint, for any tokio
/// runtime (multi-thread or current-thread, with its I/O and time drivers
/// enabled, as `#[tokio::main]` has them). Cheap to clone and to share
/// between tasks: connections are pooled and kept alive. Outside async
/// code, use [`blocking::Client`](crate::blocking::Client).
///
/// As with `reqwest::Client`, the kept-alive connections belong to the
/// runtime that opened them: use a client on one runtime.
#[derive(Debug, Clone)]
pub struct Client {
    http_client: HttpClient,
    /// A client that keeps no connection: a request whose kept-alive
    /// connection was closed under it goes again on a fresh one. Made on
    /// first need, shared by clones.
    fresh_client: Arc<OnceLock<Option<HttpClient>>>,
    /// The TLS configuration, to make `fresh_client` with.
    tls: rustls::ClientConfig,
    endpoint: Url,
    shared_secret: SecretString,
    if_exists: IfExists,
    options: HttpOptions,
    /// The proxy (`host:port`) the environment sends requests through, if any.
    proxy: Option<String>,
    /// `host:port` of the server, as messages name it.
    target: String,
}

/// A registration ready to send: a nonce was fetched, nothing that could
/// create the account has been sent yet. From [`Client::prepare`].
#[derive(Debug)]
pub struct Prepared<'a> {
    client: &'a Client,
    user: &'a NewUser<'a>,
    nonce: String,
    deadline: Option<Instant>,
    backoff: Backoff,
}

impl Client {
    /// The registration endpoint's URL.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// Registers one user: fetches a nonce, computes the MAC and posts
    /// ([`Client::prepare`] and [`Prepared::send`] in one step).
    ///
    /// # Errors
    ///
    /// As [`Client::prepare`] and [`Prepared::send`].
    pub async fn register(&self, user: &NewUser<'_>) -> Result<Outcome> {
        self.prepare(user).await?.send().await
    }

    /// The first step of a registration: fetches a nonce, waiting for the
    /// server as set with [`ClientBuilder::wait`]. Nothing that could create
    /// the account is sent, so a program may stop here (or say that it is
    /// about to send) before [`Prepared::send`].
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when the server cannot be reached (after the
    /// wait, if one was set) or does not speak the protocol,
    /// [`Error::Refused`] when it refuses; nothing that could create the
    /// account was sent.
    pub async fn prepare<'a>(&'a self, user: &'a NewUser<'a>) -> Result<Prepared<'a>> {
        let deadline = self.options.wait.map(deadline_after);
        let mut backoff = Backoff::default();
        let nonce = self.fetch_nonce_until(deadline, &mut backoff).await?;
        Ok(Prepared {
            client: self,
            user,
            nonce,
            deadline,
            backoff,
        })
    }
}

impl Prepared<'_> {
    /// Posts the registration. When the error [`is_unconfirmed`](Error::is_unconfirmed),
    /// the request may have reached the server and the account may exist;
    /// so too when this future is dropped before it ends (a `select!` or
    /// a timeout of the caller's own).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when the server refuses (`M_USER_IN_USE` for an
    /// account that exists, unless [`IfExists::Succeed`]);
    /// [`Error::Transport`] when it cannot be reached;
    /// [`Error::Unconfirmed`] when the request may have reached it but no
    /// answer says what became of it.
    pub async fn send(self) -> Result<Outcome> {
        let Prepared {
            client,
            user,
            mut nonce,
            deadline,
            mut backoff,
        } = self;
        let mut nonce_retried = false;
        loop {
            let mac = registration_mac(user, client.shared_secret.expose(), &nonce);
            let body = RegisterBody {
                nonce: &nonce,
                username: user.localpart,
                password: user.password,
                mac: &mac,
                admin: user.admin,
                user_type: user.user_type,
                displayname: user.display_name,
            };
            let request = Request::registration(&client.endpoint, &body);
            let (response, resent_after) = match client.exchange(&request).await {
                // The request never left: retrying cannot create the user twice.
                Err(Failure::Connect(error)) if backoff.may_retry(deadline) => {
                    client.note_retry(&error);
                    backoff.sleep(deadline).await;
                    nonce = client.fetch_nonce_until(deadline, &mut backoff).await?;
                    continue;
                }
                Err(Failure::Connect(error)) => return Err(client.after_waiting(error)),
                // The request may have reached the server: only its
                // answer is lost.
                Err(Failure::Other(error) | Failure::Lost(error)) => {
                    return Err(Error::unconfirmed(error));
                }
                Ok(answer) => answer,
            };
            let answer = client.ok_body(response, Stage::Registration).await;
            // Sent again after a connection closed under it, and the nonce
            // was already used or the user already exists: the first request
            // reached the server after all.
            if let (Err(Error::Refused(refusal)), Some(first)) = (&answer, resent_after) {
                if refusal.errcode.as_deref() == Some("M_USER_IN_USE")
                    || is_unrecognised_nonce(refusal)
                {
                    log::info!("{}", Error::Refused(refusal.clone()));
                    return Err(Error::unconfirmed(first));
                }
            }
            match answer {
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
                    if client.if_exists == IfExists::Succeed
                        && refusal.errcode.as_deref() == Some("M_USER_IN_USE") =>
                {
                    return Ok(Outcome::AlreadyExists);
                }
                // Several server processes behind one address each keep their
                // own nonces: one more try with a fresh nonce may land on the
                // process that issued it.
                Err(Error::Refused(refusal))
                    if !nonce_retried && is_unrecognised_nonce(&refusal) =>
                {
                    nonce_retried = true;
                    log::info!("unrecognised nonce: fetching a fresh one and trying once more");
                    nonce = client.fetch_nonce_until(deadline, &mut backoff).await?;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

fn is_unrecognised_nonce(refusal: &crate::error::Refusal) -> bool {
    refusal.status == 400
        && refusal
            .error
            .as_deref()
            .is_some_and(|e| e.contains("unrecognised nonce"))
}

impl Client {
    /// Fetches a nonce, retrying while the server cannot be reached and the
    /// deadline allows.
    async fn fetch_nonce_until(
        &self,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<String> {
        loop {
            let error = match self.exchange(&Request::get(&self.endpoint)).await {
                Ok((response, _)) => match self.ok_body(response, Stage::Nonce).await {
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
                return Err(self.after_waiting(error));
            }
            self.note_retry(&error);
            backoff.sleep(deadline).await;
        }
    }

    /// The last failure of a wait that ran out, saying that it waited and
    /// how long: without it, the error reads as if nothing had been tried.
    /// A 502, 503 or 504 becomes a transport error (still exit 4), as its
    /// hint to retry with a wait no longer fits.
    fn after_waiting(&self, error: Error) -> Error {
        let Some(wait) = self.options.wait else {
            return error;
        };
        let waited = format!("gave up after waiting {} s", wait.as_secs_f64());
        match error {
            Error::Transport {
                problem,
                hint,
                source,
            } => Error::Transport {
                problem: format!("{problem}; {waited}"),
                hint,
                source,
            },
            Error::Refused(refusal) if refusal.is_unavailable() => Error::transport_with(
                format!("{}; {waited}", Error::Refused(refusal)),
                Hint::text("the server (or a proxy in front of it) did not become available: see its log, or wait longer with ")
                    .setting(Setting::Wait),
            ),
            error => error,
        }
    }

    fn note_retry(&self, error: &Error) {
        log::info!("{error}; retrying");
    }

    /// The one path every HTTP request takes (the nonce, the registration,
    /// the delegation probe, MAS's admin API, anything added later), as
    /// [`Request`] describes it: a GET, or a POST of a JSON or form body,
    /// with the credentials it names. It applies the whole-request timeout,
    /// the resend on a fresh connection of a request whose connection closed
    /// before any answer (only a request that says a resend is safe, and
    /// with the first failure, when it was resent), the proxy or socket the
    /// client was built with, and the `-v` lines, which name the URL without
    /// credentials and never show a header or a body. Nothing else touches
    /// the reqwest clients (a test below fails if anything does).
    pub(crate) async fn exchange(
        &self,
        request: &Request<'_>,
    ) -> Result<(Response, Option<Error>), Failure> {
        let url = request.url;
        let method = request.method();
        let shown = without_credentials(url);
        match (&self.proxy, &self.options.unix_socket) {
            (Some(proxy), _) => log::info!("> {method} {shown} (through the proxy {proxy})"),
            (None, Some(_)) => log::info!("> {method} {shown} (through {})", self.target),
            (None, None) => log::info!("> {method} {shown}"),
        }
        // A request whose connection was closed under it before any answer
        // (a server closing a kept-alive connection it thought idle) is sent
        // again, once, on a fresh connection, when the request allows it
        // (see `Request::resend`). A GET creates nothing; the registration
        // carries its nonce, which the server uses up on first use, and a
        // user name that can be taken once: sent again, it creates nothing
        // if the first reached the server (the caller is told, to read the
        // answer so). A request that may not go again fails as `Lost`: it
        // may have reached the server.
        let mut resent_after = None;
        let response = loop {
            let client = match resent_after {
                None => &self.http_client,
                Some(_) => self.fresh_client().unwrap_or(&self.http_client),
            };
            let built = match request.payload {
                Payload::None => client.get(url.clone()),
                Payload::Registration(body) => client.post(url.clone()).json(body),
                Payload::Json(body) => client.post(url.clone()).json(body),
                Payload::Form(form) => client
                    .post(url.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.to_owned()),
            };
            // reqwest marks these headers sensitive; they are never logged.
            let built = match request.auth {
                None => built,
                Some(Auth::Bearer(token)) => built.bearer_auth(token.expose()),
                Some(Auth::Basic { id, secret }) => built.basic_auth(id, Some(secret.expose())),
            };
            // Set per request, this bounds the whole exchange, body included,
            // so a server trickling bytes cannot hold us.
            let built = built.timeout(self.options.timeout);
            match reqwest::RequestBuilder::send(built)
                .await
                .map_err(|e| self.classify(&e).caused_by(e))
            {
                Ok(response) => break response,
                Err(Failure::Lost(error)) if resent_after.is_none() && request.resend => {
                    log::info!("{error}; sending the {method} again on a fresh connection");
                    resent_after = Some(error);
                }
                Err(failure) => return Err(failure),
            }
        };
        log::info!(
            "< {}",
            status_line(response.status(), &reason_phrase(&response))
        );
        Ok((response, resent_after))
    }

    /// The client without a pool, made on first need; `None` when it cannot
    /// be made (the pooled client is then used).
    fn fresh_client(&self) -> Option<&HttpClient> {
        self.fresh_client
            .get_or_init(|| transport::http_client(&self.options, self.tls.clone(), 0).ok())
            .as_ref()
    }

    /// Reads an answer: the body of a 200, as far as it could be read; a
    /// refusal for any other status (without details when its body cannot be
    /// read: the status is what counts).
    async fn ok_body(&self, response: Response, stage: Stage) -> Result<Body> {
        let status = response.status();
        let reason = reason_phrase(&response);
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map_or_else(|| "nowhere".to_owned(), crate::redact::url);
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
        let read = read_body(response, &self.target, &self.options).await;
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

    fn classify(&self, error: &reqwest::Error) -> Failure {
        if let Some(socket) = &self.options.unix_socket {
            // What answers a handshake with plain HTTP is the listener
            // Synapse serves, not a wrong path.
            if let Some(
                rustls::Error::InvalidMessage(_)
                | rustls::Error::InappropriateMessage { .. }
                | rustls::Error::InappropriateHandshakeMessage { .. },
            ) = find_cause::<rustls::Error>(error)
            {
                return Failure::Connect(Error::transport(
                    format!(
                        "TLS handshake through {} failed: a Synapse socket listener serves plain HTTP, not TLS",
                        self.target
                    ),
                    Some("use an http:// URL for a socket listener"),
                ));
            }
            if error.is_connect() {
                if let Some(io) = find_cause::<std::io::Error>(error) {
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
        let cacert = self.options.cacert.as_ref();
        describe_transport_error(error, &target, https, timeout, cacert)
    }
}

/// One request for [`Client::exchange`]: where, what it sends, the
/// credentials it carries, and whether it may be sent again.
pub(crate) struct Request<'a> {
    url: &'a Url,
    payload: Payload<'a>,
    auth: Option<Auth<'a>>,
    /// Whether a request whose kept-alive connection closed before any
    /// answer may go again on a fresh one. The request may have reached the
    /// server, so only one whose second sending does no harm may: a GET, a
    /// POST that does the same again (a password set twice), or the
    /// registration, whose nonce the server takes once. One that would
    /// create a second thing (a MAS user, a personal session) may not.
    resend: bool,
}

/// A request's body: none for a GET, else a POST of it.
enum Payload<'a> {
    None,
    Registration(&'a RegisterBody<'a>),
    Json(&'a serde_json::Value),
    /// Already form-encoded (`application/x-www-form-urlencoded`).
    Form(&'a str),
}

/// Credentials sent as the `Authorization` header.
pub(crate) enum Auth<'a> {
    Bearer(&'a SecretString),
    Basic {
        id: &'a str,
        secret: &'a SecretString,
    },
}

impl<'a> Request<'a> {
    pub(crate) fn get(url: &'a Url) -> Self {
        Request {
            url,
            payload: Payload::None,
            auth: None,
            resend: true,
        }
    }

    fn registration(url: &'a Url, body: &'a RegisterBody<'a>) -> Self {
        Request {
            url,
            payload: Payload::Registration(body),
            auth: None,
            resend: true,
        }
    }

    /// A POST of `body` as JSON; `repeatable` when sending it twice does
    /// what sending it once does.
    pub(crate) fn post_json(url: &'a Url, body: &'a serde_json::Value, repeatable: bool) -> Self {
        Request {
            url,
            payload: Payload::Json(body),
            auth: None,
            resend: repeatable,
        }
    }

    /// A POST of a form; `repeatable` as for [`Request::post_json`].
    pub(crate) fn post_form(url: &'a Url, form: &'a str, repeatable: bool) -> Self {
        Request {
            url,
            payload: Payload::Form(form),
            auth: None,
            resend: repeatable,
        }
    }

    pub(crate) fn auth(mut self, auth: Auth<'a>) -> Self {
        self.auth = Some(auth);
        self
    }

    fn method(&self) -> &'static str {
        match self.payload {
            Payload::None => "GET",
            _ => "POST",
        }
    }
}

/// An answer to [`Client::exchange`]: any status, the body read within
/// [`MAX_BODY_BYTES`].
pub(crate) struct Exchanged {
    pub status: u16,
    pub reason: String,
    pub body: Vec<u8>,
}

impl Client {
    /// Another service's request (MAS's admin API) through [`Client::exchange`],
    /// its answer read whatever the status. A body that cannot be read in
    /// full is a failure after sending.
    pub(crate) async fn exchange_read(&self, request: &Request<'_>) -> Result<Exchanged, Failure> {
        let (response, _) = self.exchange(request).await?;
        let (status, reason) = (response.status(), reason_phrase(&response));
        match read_body(response, &self.target, &self.options).await {
            Ok((body, true)) => Ok(Exchanged {
                status: status.as_u16(),
                reason,
                body,
            }),
            Ok((_, false)) => Err(Failure::Other(Error::transport(
                format!(
                    "the {} answer from {} is larger than {} KiB",
                    status_line(status, &reason),
                    self.target,
                    MAX_BODY_BYTES / 1024
                ),
                Some("check the URL"),
            ))),
            Err(error) => Err(Failure::Other(error)),
        }
    }
}

impl Client {
    /// GETs another path of the same server (relative to the server URL,
    /// through [`Client::exchange`] like every request): the status and the
    /// body as JSON (`null` when it is not JSON). `None` when no answer came
    /// (in time).
    #[cfg(feature = "cli")]
    pub(crate) async fn get_json(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let base = self.endpoint.as_str().strip_suffix(REGISTER_PATH)?;
        let url = Url::parse(&format!("{base}{path}")).ok()?;
        let response = match self.exchange(&Request::get(&url)).await {
            Ok((response, _)) => response,
            Err(failure) => {
                log::info!("{}", failure.into_error());
                return None;
            }
        };
        let status = response.status().as_u16();
        let (body, _) = read_body(response, &self.target, &self.options)
            .await
            .inspect_err(|error| log::info!("{error}"))
            .ok()?;
        Some((status, serde_json::from_slice(&body).unwrap_or_default()))
    }
}

/// When a wait that starts now ends. A wait too long for the clock to
/// represent (`Duration::MAX`) is waited for a century instead.
fn deadline_after(wait: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// A URL as the `-v` lines show it: without a user name or password.
fn without_credentials(url: &Url) -> Url {
    let mut shown = url.clone();
    // Only URLs that cannot have credentials refuse these.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    #[test]
    fn log_lines_name_a_url_without_credentials() {
        let url = reqwest::Url::parse("https://admin:hunter2@example.org:8448/x").unwrap();
        assert_eq!(
            super::without_credentials(&url).as_str(),
            "https://example.org:8448/x"
        );
    }

    #[test]
    fn any_wait_has_a_deadline_without_overflow() {
        let now = Instant::now();
        assert!(super::deadline_after(Duration::MAX) > now + Duration::from_secs(1_000_000));
        let soon = super::deadline_after(Duration::from_secs(5));
        assert!(soon >= now + Duration::from_secs(5) && soon < now + Duration::from_secs(6));
    }

    /// `wait(Duration::MAX)` panicked (an overflow) before the first
    /// request, and so did `timeout(Duration::MAX)`.
    #[test]
    fn a_client_waiting_forever_starts_a_registration() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).unwrap();
            let body = r#"{"nonce": "abc"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).unwrap();
        });
        let client = super::Client::builder(format!("http://127.0.0.1:{port}"))
            .shared_secret("s")
            .wait(Duration::MAX)
            .timeout(Duration::MAX)
            .build()
            .unwrap();
        let user = super::NewUser::new("alice", "pw");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let prepared = runtime.block_on(client.prepare(&user)).unwrap();
        assert_eq!(prepared.nonce, "abc");
        server.join().unwrap();
    }

    /// What reaches the HTTP client without going through the one request
    /// path: the client's fields (and the function that makes one), reqwest's
    /// own send or execute, a client of its own, or reqwest's one-shot
    /// functions; or credentials set on a request anywhere else (where a log
    /// line might show them).
    const BYPASSES: [&str; 12] = [
        "http_client",
        "fresh_client",
        "RequestBuilder::send",
        ".execute(",
        "reqwest::blocking::get",
        "reqwest::get",
        "reqwest::Client",
        "HttpClient::",
        "blocking::Client::builder",
        "blocking::Client::new",
        ".bearer_auth(",
        ".basic_auth(",
    ];

    fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path.display().to_string(), text));
            }
        }
    }

    /// The item a line starting one declares: `fn NAME` (async or not) or
    /// `struct NAME`.
    fn item(line: &str) -> Option<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "fn" || *w == "struct")?;
        let visibility = words[..at]
            .iter()
            .all(|w| w.starts_with("pub") || *w == "async");
        let name = words.get(at + 1)?.split(['(', '<', '{']).next()?;
        visibility.then(|| format!("{} {name}", words[at]))
    }

    /// Invariant: every request goes through `Client::exchange`. A new
    /// probe written as `self.http_client.get(url).send()` fails here, where
    /// it would otherwise escape the timeout, the retry policy and the
    /// masked log lines.
    #[test]
    fn every_request_goes_through_exchange() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        let mut uses = Vec::new();
        for (path, text) in &files {
            let file = path.strip_prefix(&format!("{}/", root.display())).unwrap();
            // The item each line is in: the last `fn` or `struct` above it.
            let mut within = String::new();
            for line in text.lines() {
                let code = line.trim_start();
                if let Some(item) = item(code) {
                    within = item;
                }
                // Comments, and this test's own list, are not uses.
                if code.starts_with("//") || code.starts_with('"') {
                    continue;
                }
                for bypass in BYPASSES {
                    if line.contains(bypass) {
                        uses.push(format!("{file}: {within}: {bypass}"));
                    }
                }
            }
        }
        uses.sort();
        uses.dedup();
        assert_eq!(
            uses,
            [
                "src/client/builder.rs: fn new: fresh_client",
                "src/client/builder.rs: fn new: http_client",
                "src/client/mod.rs: fn exchange: .basic_auth(",
                "src/client/mod.rs: fn exchange: .bearer_auth(",
                "src/client/mod.rs: fn exchange: RequestBuilder::send",
                "src/client/mod.rs: fn exchange: fresh_client",
                "src/client/mod.rs: fn exchange: http_client",
                "src/client/mod.rs: fn fresh_client: fresh_client",
                "src/client/mod.rs: fn fresh_client: http_client",
                "src/client/mod.rs: struct Client: fresh_client",
                "src/client/mod.rs: struct Client: http_client",
                "src/client/transport.rs: fn http_client: HttpClient::",
                "src/client/transport.rs: fn http_client: http_client",
                // The reqwest builder the socket is set on, in `http_client`.
                "src/unix_socket.rs: fn connect_through: reqwest::Client",
            ],
            "an HTTP request outside Client::exchange"
        );
    }
}
