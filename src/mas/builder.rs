//! Setting up a [`MasClient`]: its address, credentials and transport.

use super::{Credentials, MasClient};
use crate::client::{CaCert, HttpOptions, IfExists};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// Sets up a [`MasClient`]: MAS's address, credentials, and how to reach it.
#[derive(Debug)]
pub struct MasClientBuilder {
    url: String,
    credentials: Option<Credentials>,
    if_exists: IfExists,
    access_tokens: bool,
    options: HttpOptions,
}

impl MasClientBuilder {
    /// What [`MasClient::builder`] starts from.
    pub(super) fn new(url: &str) -> Self {
        MasClientBuilder {
            url: url.to_owned(),
            credentials: None,
            if_exists: IfExists::default(),
            access_tokens: true,
            options: HttpOptions::default(),
        }
    }

    /// A client from MAS's `clients` (authenticating with
    /// `client_secret_basic`), listed in MAS's `policy.data.admin_clients`
    /// (an empty id or secret is refused by [`build`](MasClientBuilder::build)).
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Client {
            id: id.into(),
            secret: SecretString::new(secret.into()),
            post: false,
        });
        self
    }

    /// The client authenticates with `client_secret_post` (its secret in
    /// the form) rather than `client_secret_basic`, as its
    /// `client_auth_method` in MAS's config says.
    pub fn client_secret_post(mut self, post: bool) -> Self {
        if let Some(Credentials::Client { post: method, .. }) = &mut self.credentials {
            *method = post;
        }
        self
    }

    /// An access token with the `urn:mas:admin` scope (a personal access
    /// token); it is not renewed (an empty one is refused by
    /// [`build`](MasClientBuilder::build)).
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Token(SecretString::new(token.into())));
        self
    }

    /// What an account that already exists counts as (default: a failure).
    pub fn if_exists(mut self, policy: IfExists) -> Self {
        self.if_exists = policy;
        self
    }

    /// Whether each new account gets an access token (a personal session
    /// whose lifetime is MAS's), as a shared-secret registration does
    /// (default: yes). It costs one more request per account.
    pub fn access_tokens(mut self, wanted: bool) -> Self {
        self.access_tokens = wanted;
        self
    }

    /// The limit for each request (default: 30 seconds). Zero is refused
    /// by [`build`](MasClientBuilder::build); more than 10⁹ seconds is
    /// taken as that.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.transport(|options| options.set_timeout(timeout))
    }

    /// How long to keep retrying while MAS cannot be reached or answers 502,
    /// 503 or 504 (default: no retry). Only requests that cannot have
    /// created the account are retried. `Duration::MAX` waits for as long
    /// as it takes (10⁹ seconds).
    pub fn wait(self, wait: Duration) -> Self {
        self.transport(|options| options.set_wait(wait))
    }

    /// A PEM file of certificates to trust instead of the system's.
    pub fn cacert(self, path: impl Into<PathBuf>) -> Self {
        self.transport(|options| options.cacert = Some(CaCert::File(path.into())))
    }

    /// As [`cacert`](MasClientBuilder::cacert), with the PEM text itself
    /// instead of a file.
    pub fn cacert_pem(self, pem: impl Into<Vec<u8>>) -> Self {
        self.transport(|options| options.cacert = Some(CaCert::Pem(pem.into())))
    }

    /// With `true`, skips certificate verification: anyone between here and
    /// MAS can then read its credentials and the password. For a test
    /// server only (default: `false`).
    pub fn danger_accept_invalid_certs(self, accept: bool) -> Self {
        self.transport(|options| options.insecure = accept)
    }

    /// Connections kept open for reuse when several threads share the client.
    pub fn max_idle_connections(self, count: usize) -> Self {
        self.transport(|options| options.pool_size = count)
    }

    /// Sets a transport option as [`HttpOptions`] caps it.
    fn transport(mut self, set: impl FnOnce(&mut HttpOptions)) -> Self {
        set(&mut self.options);
        self
    }

    /// Sets up TLS; nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a URL that is not http:// or https:// with a
    /// host, or that holds credentials (not repeated in the error), for no
    /// credentials, an empty client id, client secret or admin token, or a zero
    /// timeout; [`Error::File`] or [`Error::Input`]
    /// for certificates that cannot be read or hold none;
    /// [`Error::Transport`] when TLS or the HTTP client cannot be set up.
    pub fn build(self) -> Result<MasClient> {
        let url = crate::client::service_url(&self.url, "MAS URL", "the client or admin token")?;
        let credentials = self.credentials.ok_or_else(|| {
            Error::input(
                "MAS credentials",
                "neither a client nor an admin token is set",
            )
        })?;
        // MAS would refuse an empty one (or an empty client id) at the first
        // request; as the shared-secret builder does, it is refused before
        // anything is sent.
        let (origin, secret) = match &credentials {
            Credentials::Client { secret, .. } => ("MAS client secret", secret),
            Credentials::Token(token) => ("MAS admin token", token),
        };
        if secret.expose().is_empty() {
            return Err(Error::input(origin, "is empty"));
        }
        if matches!(&credentials, Credentials::Client { id, .. } if id.is_empty()) {
            return Err(Error::input("MAS client id", "is empty"));
        }
        self.options.check()?;
        MasClient::new(
            url,
            credentials,
            self.if_exists,
            self.access_tokens,
            self.options,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mas_url_with_credentials_is_refused_without_repeating_it() {
        for url in [
            "http://admin:hunter2@mas.example/",
            "https://S3cretToken@mas.example/",
        ] {
            let Err(error) = MasClient::builder(url).admin_token("token").build() else {
                panic!("a MAS URL with credentials was accepted");
            };
            let text = error.to_string();
            assert!(text.contains("contains credentials"), "{text}");
            assert!(
                !text.contains("hunter2") && !text.contains("S3cret"),
                "{text}"
            );
        }
    }

    /// An empty client secret or admin token is refused before anything is
    /// sent, as the shared-secret builder refuses an empty secret: MAS
    /// would only refuse it later, at the first request.
    #[test]
    fn an_empty_client_secret_or_admin_token_is_refused() {
        let mas = || MasClient::builder("http://localhost");
        let error = mas().client_credentials("id", "").build().unwrap_err();
        assert_eq!(error.to_string(), "MAS client secret: is empty");
        assert!(matches!(error, Error::Input { .. }));
        let error = mas()
            .client_credentials("id", "")
            .client_secret_post(true)
            .build()
            .unwrap_err();
        assert_eq!(error.to_string(), "MAS client secret: is empty");
        let error = mas().admin_token("").build_blocking().unwrap_err();
        assert_eq!(error.to_string(), "MAS admin token: is empty");
        assert!(matches!(error, Error::Input { .. }));
        mas().client_credentials("id", "s").build().unwrap();
        mas().admin_token("t").build().unwrap();
    }

    /// An empty client id, which MAS would refuse at the first request as
    /// an unknown client, is refused the same way.
    #[test]
    fn an_empty_client_id_is_refused() {
        let error = MasClient::builder("http://localhost")
            .client_credentials("", "s")
            .build()
            .unwrap_err();
        assert_eq!(error.to_string(), "MAS client id: is empty");
        assert!(matches!(error, Error::Input { .. }));
    }
}
