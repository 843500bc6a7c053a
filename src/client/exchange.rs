//! The one request path, [`Client::exchange`], and what describes a request
//! and its answer.

use super::answer::{Body, RegisterBody, Stage, read_body, reason_phrase, status_line};
use super::diagnose::{Failure, describe_transport_error, find_cause};
use super::{Client, MAX_BODY_BYTES, parse_refusal, transport};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use reqwest::{Client as HttpClient, Response, StatusCode, Url};

impl Client {
    /// The one path every HTTP request takes (the nonce, the registration,
    /// the delegation probe, MAS's admin API, anything added later), as
    /// [`Request`] describes it: a GET, or a POST of a JSON or form body,
    /// with the credentials it names. It applies the whole-request timeout,
    /// the resend on a fresh connection of a request whose connection closed
    /// before any answer (only a request that says a resend is safe, and
    /// with the first failure, when it was resent), the proxy or socket the
    /// client was built with, and the `-v` lines, which name the URL without
    /// credentials and never show a header or a body. Nothing else touches
    /// the reqwest clients (a test in `client/mod.rs` fails if anything does).
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
    pub(super) async fn ok_body(&self, response: Response, stage: Stage) -> Result<Body> {
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

    pub(super) fn registration(url: &'a Url, body: &'a RegisterBody<'a>) -> Self {
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
        let base = self.endpoint.as_str().strip_suffix(super::REGISTER_PATH)?;
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
    use super::*;

    #[test]
    fn log_lines_name_a_url_without_credentials() {
        let url = reqwest::Url::parse("https://admin:hunter2@example.org:8448/x").unwrap();
        assert_eq!(
            without_credentials(&url).as_str(),
            "https://example.org:8448/x"
        );
    }
}
