//! A registration in two steps: the nonce fetched ([`Prepared`]), then the
//! registration posted, read as the reference reads it.

use super::answer::{Body, RegisterBody, Stage};
use super::retry::{Backoff, deadline_after};
use super::{
    Client, Failure, IfExists, NewUser, Outcome, Request, parse_registered, registration_mac,
};
use crate::error::{Error, Result};
use std::time::Instant;

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
    /// server as set with [`ClientBuilder::wait`](super::ClientBuilder::wait).
    /// Nothing that could create the account is sent, so a program may stop
    /// here (or say that it is about to send) before [`Prepared::send`].
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
}
