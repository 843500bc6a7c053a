//! Creating an account in MAS's steps, and what an account left partly
//! made lacks and how to finish it.

use super::admin::Step;
use super::answer::{self, created_id, refusal, title_is};
use super::{DEFAULT_MINIMUM_COMPLEXITY, MISSING_PASSWORD, MasClient, password_too_weak};
use crate::client::retry::Backoff;
use crate::client::{AccessToken, Failure, IfExists, NewUser, Outcome, Registered};
use crate::error::{Error, Hint, Result};
use serde_json::json;
use std::time::Instant;

/// The scope of a new user's personal session: the Matrix client API, and
/// for an admin Synapse's admin API as well, as a shared-secret
/// registration's token would allow.
const CLIENT_SCOPE: &str = "urn:matrix:client:api:*";
const SYNAPSE_ADMIN_SCOPE: &str = "urn:synapse:admin:*";

impl MasClient {
    /// Registers one user.
    ///
    /// # Errors
    ///
    /// A refusal or a failure to reach MAS; [`Error::Partial`] when the
    /// account was created but a later step failed; when the error
    /// [`is_unconfirmed`](Error::is_unconfirmed), the account may exist.
    pub async fn register(&self, user: &NewUser<'_>) -> Result<Outcome> {
        self.register_announced(user, || Ok(())).await
    }

    /// As [`MasClient::register`], calling `before_sending` once what cannot
    /// create the account is done (the admin token, the server name) and
    /// before the first request that can; an error from it stops there,
    /// with nothing sent that could create the account.
    ///
    /// # Errors
    ///
    /// As [`MasClient::register`], and `before_sending`'s own.
    pub async fn register_announced(
        &self,
        user: &NewUser<'_>,
        before_sending: impl FnOnce() -> Result<()>,
    ) -> Result<Outcome> {
        if let Some(user_type) = user.user_type {
            return Err(unsupported(
                "user type",
                format!("MAS has no user types: '{user_type}' cannot be set through its admin API"),
            ));
        }
        if user.display_name.is_some() {
            return Err(unsupported(
                "display name",
                "MAS's admin API cannot set a display name (the account starts with its localpart as display name)".to_owned(),
            ));
        }
        // MAS accepts only lowercase usernames; Synapse lowercases them too.
        let username = user.localpart.to_lowercase();
        let deadline = self.wait.map(|wait| Instant::now() + wait);
        let mut backoff = Backoff::default();
        let site = self.site(deadline, &mut backoff).await?;
        if let Some(problem) = password_too_weak(
            user.password,
            site.minimum_password_complexity
                .unwrap_or(DEFAULT_MINIMUM_COMPLEXITY),
        ) {
            return Err(Error::input("password", problem));
        }
        let account = format!("@{username}:{}", site.server_name);
        // Once the account exists, a failure before its password is set
        // leaves it without one: the error says how to finish.
        let without_password = |cause| {
            partial(
                &account,
                MISSING_PASSWORD,
                finish_password(&username),
                cause,
            )
        };
        before_sending()?;

        let create = json!({ "username": username });
        let created = self
            .admin(Step::Create, "users", Some(&create), deadline, &mut backoff)
            .await;
        let id = match created {
            Err(Failure::Connect(error)) => return Err(error),
            Err(Failure::Other(error) | Failure::Lost(error)) => {
                return Err(Error::unconfirmed(error));
            }
            Ok(answer) if answer.status == 201 => match created_id(&answer.body) {
                Some(id) => id,
                None => self
                    .id_by_username(&username, deadline, &mut backoff)
                    .await
                    .map_err(without_password)?,
            },
            Ok(answer)
                if answer.status == 409
                    && self.if_exists == IfExists::Succeed
                    && title_is(&answer.body, "User already exists") =>
            {
                self.id_by_username(&username, deadline, &mut backoff)
                    .await?;
                return Ok(Outcome::AlreadyExists);
            }
            // MAS asks Synapse before creating anything: its failure to
            // reach Synapse leaves nothing behind. Another 5xx may come
            // after the account was made.
            Ok(answer)
                if answer.status >= 500 && !title_is(&answer.body, answer::SYNAPSE_UNREACHABLE) =>
            {
                return Err(Error::unconfirmed(refusal(Step::Create.name(), &answer)));
            }
            Ok(answer) => return Err(refusal(Step::Create.name(), &answer)),
        };

        self.step(
            Step::SetPassword,
            format!("users/{id}/set-password"),
            json!({ "password": user.password }),
            204,
            (deadline, &mut backoff),
        )
        .await
        .map_err(without_password)?;
        if user.admin {
            self.step(Step::SetAdmin, format!("users/{id}/set-admin"), json!({ "admin": true }), 200, (deadline, &mut backoff))
                .await
                .map_err(|cause| {
                    partial(&account, "admin rights", format!("finish it with `mas-cli manage promote-admin {username}` where MAS's config is"), cause)
                })?;
        }
        let access_token = if self.access_tokens {
            let mut scope = CLIENT_SCOPE.to_owned();
            if user.admin {
                scope.push(' ');
                scope.push_str(SYNAPSE_ADMIN_SCOPE);
            }
            let session = json!({
                "actor_user_id": id,
                "human_name": concat!("register_new_matrix_user ", env!("CARGO_PKG_VERSION")),
                "scope": scope,
            });
            let answer = self.step(Step::PersonalSession, "personal-sessions".to_owned(), session, 201, (deadline, &mut backoff))
                .await
                .map_err(|cause| {
                    partial(&account, "an access token", "its password is set: log in with it (MAS's /_matrix/client/v3/login) to get a token".to_owned(), cause)
                })?;
            Some(answer::session_token(&answer.body).ok_or_else(|| {
                partial(
                    &account,
                    "an access token",
                    "its password is set: log in with it to get a token".to_owned(),
                    Error::transport("MAS's personal-session answer has no access_token", None),
                )
            })?)
        } else {
            None
        };
        Ok(Outcome::Created(Registered {
            user_id: account,
            access_token: access_token.map(AccessToken::from),
            device_id: None,
            home_server: Some(site.server_name.clone()),
        }))
    }
}

fn unsupported(what: &str, problem: String) -> Error {
    Error::input(what, problem).with_hint(Hint::text(
        "leave it out: the account is created through Matrix Authentication Service's admin API",
    ))
}

/// Re-running the registration would only find the account there.
fn finish_password(username: &str) -> String {
    format!(
        "fix the cause, then set its password with MAS's admin API (POST /api/admin/v1/users/ID/set-password) or `mas-cli manage set-password {username} PASSWORD` where MAS's config is"
    )
}

fn partial(account: &str, missing: &'static str, finish: String, cause: Error) -> Error {
    Error::Partial {
        account: account.to_owned(),
        missing,
        finish,
        cause: Box::new(cause),
    }
}
