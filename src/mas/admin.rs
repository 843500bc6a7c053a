//! MAS's admin API as each step uses it: the admin token (asked for,
//! cached, renewed), the site config, requests retried while nothing can
//! have been done, and the lookup by username.

use super::answer::{self, created_id, refusal};
use super::{AdminToken, Credentials, MasClient, SiteConfig};
use crate::client::retry::Backoff;
use crate::client::{Auth, Exchanged, Failure, Request};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use reqwest::Url;
use std::time::{Duration, Instant};

/// The scope of an admin token.
const ADMIN_SCOPE: &str = "urn:mas:admin";
/// An admin token is renewed this long before MAS says it expires (300 s),
/// so that no request is sent with a token about to lapse.
const RENEW_MARGIN: Duration = Duration::from_secs(30);

/// A step of a registration, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Token,
    SiteConfig,
    Create,
    SetPassword,
    SetAdmin,
    ByUsername,
    PersonalSession,
}

impl Step {
    pub(super) fn name(self) -> &'static str {
        match self {
            Step::Token => "token request",
            Step::SiteConfig => "site-config request",
            Step::Create => "user creation",
            Step::SetPassword => "set-password",
            Step::SetAdmin => "set-admin",
            Step::ByUsername => "by-username lookup",
            Step::PersonalSession => "personal session",
        }
    }

    /// Whether a 502, 503 or 504 leaves nothing done, so that a retry is safe.
    fn is_read_only(self) -> bool {
        matches!(self, Step::Token | Step::SiteConfig | Step::ByUsername)
    }

    /// Whether sending the step twice does what sending it once does, so
    /// that it may go again when its connection closed before any answer.
    /// Creating a user or a personal session may not: the first may have
    /// been acted on, and the second would be refused or make another.
    fn is_repeatable(self) -> bool {
        !matches!(self, Step::Create | Step::PersonalSession)
    }
}

impl MasClient {
    pub(super) async fn site(
        &self,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<&SiteConfig> {
        if let Some(site) = self.site.get() {
            return Ok(site);
        }
        let answer = self
            .admin(Step::SiteConfig, "site-config", None, deadline, backoff)
            .await
            .map_err(Failure::into_error)?;
        if answer.status != 200 {
            return Err(refusal(Step::SiteConfig.name(), &answer));
        }
        let site = serde_json::from_slice::<SiteConfig>(&answer.body).map_err(|_| {
            Error::transport(
                format!(
                    "{}'s admin API answered its site-config without a server_name: is this Matrix Authentication Service?",
                    self.base
                ),
                Some("check the MAS URL: the address of MAS's listener serving the adminapi resource"),
            )
        })?;
        Ok(self.site.get_or_init(|| site))
    }

    /// The admin token: the one given, or a cached one still good, or a
    /// fresh one. The lock is held while asking, so that a batch's workers
    /// wait for one new token instead of each asking for its own.
    async fn admin_token(
        &self,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<SecretString> {
        let (id, secret, post) = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::Client { id, secret, post } => (id, secret, *post),
        };
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let url = self.url("oauth2/token");
        // The serializer is not Send: finished before the first await.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("scope", ADMIN_SCOPE);
            if post {
                form.append_pair("client_id", id)
                    .append_pair("client_secret", secret.expose());
            }
            // It may hold the secret: wiped when dropped.
            zeroize::Zeroizing::new(form.finish())
        };
        // A second token asked for harms nothing: the grant may go again.
        let request = Request::post_form(&url, &form, true);
        let request = match post {
            true => request,
            false => request.auth(Auth::Basic { id, secret }),
        };
        let answer = self
            .retrying(Step::Token, deadline, backoff, &request)
            .await
            .map_err(Failure::into_error)?;
        if answer.status != 200 {
            return Err(refusal(Step::Token.name(), &answer));
        }
        let token = answer::token(&answer.body).ok_or_else(|| {
            Error::transport(
                format!("{url} answered 200 without an access_token: is this Matrix Authentication Service?"),
                Some("check the MAS URL"),
            )
        })?;
        let margin = RENEW_MARGIN.min(token.lifetime / 2);
        let fresh = AdminToken {
            value: token.value,
            renew_at: Instant::now() + token.lifetime.saturating_sub(margin),
        };
        *cached = Some(fresh.clone());
        Ok(fresh.value)
    }

    /// Drops the cached token when it is `used`: MAS refused it (expired or
    /// revoked early), and the next request asks for a new one.
    async fn forget_token(&self, used: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose() == used.expose())
        {
            *cached = None;
        }
    }

    fn url(&self, path: &str) -> Url {
        // Joining a relative path to a base ending in '/' cannot fail.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// One admin-API request with the admin token; renews the token once
    /// when MAS refuses it (401), as a token that lapsed mid-batch is.
    pub(super) async fn admin(
        &self,
        step: Step,
        path: &str,
        body: Option<&serde_json::Value>,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<Exchanged, Failure> {
        let url = self.url(&format!("api/admin/v1/{path}"));
        let mut renewed = false;
        loop {
            // A token that cannot be had leaves nothing sent.
            let token = self
                .admin_token(deadline, backoff)
                .await
                .map_err(Failure::Connect)?;
            let request = match body {
                None => Request::get(&url),
                Some(body) => Request::post_json(&url, body, step.is_repeatable()),
            };
            let answer = self
                .retrying(step, deadline, backoff, &request.auth(Auth::Bearer(&token)))
                .await?;
            // A 401 refuses the token before the request is acted on.
            let renewable = matches!(self.credentials, Credentials::Client { .. });
            if answer.status == 401 && renewable && !renewed {
                log::info!("MAS refused the admin token (401): asking for a new one");
                self.forget_token(&token).await;
                renewed = true;
                continue;
            }
            return Ok(answer);
        }
    }

    /// Sends a request, again while nothing can have been done and the
    /// deadline allows: MAS not reached, or (for a step that changes
    /// nothing) not available.
    async fn retrying(
        &self,
        step: Step,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
        request: &Request<'_>,
    ) -> Result<Exchanged, Failure> {
        loop {
            let problem = match self.transport.exchange_read(request).await {
                Err(Failure::Connect(error)) if backoff.may_retry(deadline) => error,
                Ok(answer)
                    if (502..=504).contains(&answer.status)
                        && step.is_read_only()
                        && backoff.may_retry(deadline) =>
                {
                    refusal(step.name(), &answer)
                }
                other => return other,
            };
            log::info!("{problem}; retrying");
            backoff.sleep(deadline).await;
        }
    }

    /// The account's MAS id, by its username; for `--exists-ok` and for a
    /// creation whose answer did not say.
    pub(super) async fn id_by_username(
        &self,
        username: &str,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<String> {
        let answer = self
            .admin(
                Step::ByUsername,
                // MAS allows '/' in usernames: it must stay in the segment.
                &format!("users/by-username/{}", username.replace('/', "%2F")),
                None,
                deadline,
                backoff,
            )
            .await
            .map_err(Failure::into_error)?;
        if answer.status != 200 {
            return Err(refusal(Step::ByUsername.name(), &answer));
        }
        created_id(&answer.body).ok_or_else(|| {
            Error::transport(
                format!("MAS's {} answer has no user id", Step::ByUsername.name()),
                None,
            )
        })
    }
}

impl MasClient {
    /// One step after the account's creation: its answer when the status
    /// is `ok`, else what went wrong.
    pub(super) async fn step(
        &self,
        step: Step,
        path: String,
        body: serde_json::Value,
        ok: u16,
        (deadline, backoff): (Option<Instant>, &mut Backoff),
    ) -> Result<Exchanged> {
        match self
            .admin(step, &path, Some(&body), deadline, backoff)
            .await
        {
            Ok(answer) if answer.status == ok => Ok(answer),
            Ok(answer) => Err(refusal(step.name(), &answer)),
            Err(failure) => Err(failure.into_error()),
        }
    }
}
