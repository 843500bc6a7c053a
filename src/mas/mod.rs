//! The second way to create an account: Matrix Authentication Service's
//! admin API, for servers that delegate accounts to MAS (Synapse then serves
//! no shared-secret endpoint).
//!
//! MAS creates an account in steps: an admin token (the client-credentials
//! grant with scope `urn:mas:admin`, or a token given), the server name,
//! then `POST users`, `set-password`, `set-admin` and, when a token is
//! wanted, a personal session. Everything before `POST users` creates
//! nothing; a step after it that fails leaves an account without what that
//! step gives ([`Error::Partial`]).

mod answer;
pub(crate) mod blocking;

use crate::client::retry::Backoff;
use crate::client::{
    AccessToken, Auth, CaCert, Client, Exchanged, Failure, HttpOptions, IfExists, NewUser, Outcome,
    Registered, Request,
};
use crate::error::{Error, Hint, Result};
use crate::secret::SecretString;
use answer::{created_id, refusal, title_is};
use reqwest::Url;
use serde_json::json;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The scope of an admin token.
const ADMIN_SCOPE: &str = "urn:mas:admin";
/// The scope of a new user's personal session: the Matrix client API, and
/// for an admin Synapse's admin API as well, as a shared-secret
/// registration's token would allow.
const CLIENT_SCOPE: &str = "urn:matrix:client:api:*";
const SYNAPSE_ADMIN_SCOPE: &str = "urn:synapse:admin:*";
/// An admin token is renewed this long before MAS says it expires (300 s),
/// so that no request is sent with a token about to lapse.
const RENEW_MARGIN: Duration = Duration::from_secs(30);
/// What an account lacks when its password could not be set.
pub(crate) const MISSING_PASSWORD: &str = "a password";
/// MAS's default `passwords.minimum_complexity`.
pub const DEFAULT_MINIMUM_COMPLEXITY: u8 = 3;

/// How the client proves it may use the admin API.
#[derive(Debug, Clone)]
enum Credentials {
    /// A client from MAS's `clients`, allowed the admin scope by
    /// `policy.data.admin_clients`: tokens are asked for, and renewed.
    Client {
        id: String,
        secret: SecretString,
        /// In the form (`client_secret_post`) rather than in Basic auth.
        post: bool,
    },
    /// An admin access token (a personal access token): used as is.
    Token(SecretString),
}

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
    /// A client from MAS's `clients` (authenticating with
    /// `client_secret_basic`), listed in MAS's `policy.data.admin_clients`.
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
    /// token); it is not renewed.
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
    /// credentials, or a zero timeout; [`Error::File`] or [`Error::Input`]
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

/// An async client for Matrix Authentication Service's admin API, for any
/// tokio runtime, as [`Client`] is. Cheap to share between tasks; the admin
/// token is shared, and renewed before it expires. Outside async code, use
/// [`blocking::MasClient`](crate::blocking::MasClient).
///
/// ```
/// use register_new_matrix_user::{IfExists, MasClient, NewUser, Outcome};
/// # fn main() -> Result<(), register_new_matrix_user::Error> {
/// # let url = demo::mas();
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // A client listed in MAS's policy.data.admin_clients.
/// let mas = MasClient::builder(&url)
///     .client_credentials("01J44QC8BCY7FCFM7WGHQGKMTJ", "client secret")
///     .if_exists(IfExists::Succeed)
///     .build()?;
/// match mas.register(&NewUser::new("alice", "a long and unusual passphrase").admin(true)).await? {
///     // The token works on Synapse's client and admin APIs.
///     Outcome::Created(account) => {
///         assert_eq!(account.user_id, "@alice:example.org");
///         assert!(account.access_token.is_some());
///     }
///     Outcome::CreatedIncomplete(problem) => println!("created, but {problem}"),
///     Outcome::AlreadyExists => println!("already there"),
///     other => println!("{other:?}"),
/// }
/// # Ok(())
/// # })
/// # }
/// #
/// # /// MAS's admin API as the flow needs it, on 127.0.0.1.
/// # mod demo {
/// #     use std::io::{BufRead, BufReader, Read, Write};
/// #     pub fn mas() -> String {
/// #         let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// #         let url = format!("http://{}/", listener.local_addr().unwrap());
/// #         std::thread::spawn(move || {
/// #             for stream in listener.incoming() {
/// #                 let mut reader = BufReader::new(stream.unwrap());
/// #                 while let Some(path) = request(&mut reader) {
/// #                     let (status, body) = answer(&path);
/// #                     let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n", body.len());
/// #                     reader.get_mut().write_all((head + body).as_bytes()).unwrap();
/// #                 }
/// #             }
/// #         });
/// #         url
/// #     }
/// #     fn answer(path: &str) -> (&'static str, &'static str) {
/// #         let user = r#"{"data":{"type":"user","id":"01ALICE","attributes":{"username":"alice"}}}"#;
/// #         match path {
/// #             "/oauth2/token" => ("200 OK", r#"{"access_token":"mat_x","expires_in":300}"#),
/// #             "/api/admin/v1/site-config" => ("200 OK", r#"{"server_name":"example.org","minimum_password_complexity":3}"#),
/// #             "/api/admin/v1/users" => ("201 Created", user),
/// #             "/api/admin/v1/users/01ALICE/set-password" => ("204 No Content", ""),
/// #             "/api/admin/v1/users/01ALICE/set-admin" => ("200 OK", user),
/// #             "/api/admin/v1/personal-sessions" => ("201 Created", r#"{"data":{"attributes":{"access_token":"mpt_x"}}}"#),
/// #             _ => ("404 Not Found", r#"{"errors":[{"title":"Not found"}]}"#),
/// #         }
/// #     }
/// #     /// The path of the next request; `None` at the end of the connection.
/// #     fn request(reader: &mut impl BufRead) -> Option<String> {
/// #         let (mut line, mut length) = (String::new(), 0);
/// #         reader.read_line(&mut line).ok()?;
/// #         let path = line.split(' ').nth(1)?.to_owned();
/// #         loop {
/// #             line.clear();
/// #             if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" { break; }
/// #             if let Some(value) = line.to_lowercase().strip_prefix("content-length:") {
/// #                 length = value.trim().parse().unwrap();
/// #             }
/// #         }
/// #         let mut body = vec![0; length];
/// #         reader.read_exact(&mut body).ok()?;
/// #         Some(path)
/// #     }
/// # }
/// ```
#[derive(Debug)]
pub struct MasClient {
    transport: Client,
    /// MAS's root, ending in `/`.
    base: Url,
    credentials: Credentials,
    if_exists: IfExists,
    access_tokens: bool,
    wait: Option<Duration>,
    token: Mutex<Option<AdminToken>>,
    site: OnceLock<SiteConfig>,
}

#[derive(Debug, Clone)]
struct AdminToken {
    value: SecretString,
    renew_at: Instant,
}

/// What MAS says of itself (`GET /api/admin/v1/site-config`).
#[derive(Debug, Clone, serde::Deserialize)]
struct SiteConfig {
    server_name: String,
    minimum_password_complexity: Option<u8>,
}

/// A step of a registration, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Token,
    SiteConfig,
    Create,
    SetPassword,
    SetAdmin,
    ByUsername,
    PersonalSession,
}

impl Step {
    fn name(self) -> &'static str {
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
    /// Starts a client for the MAS at `url` (its `http.public_base`, or the
    /// address of the listener serving `adminapi`).
    pub fn builder(url: impl AsRef<str>) -> MasClientBuilder {
        MasClientBuilder {
            url: url.as_ref().to_owned(),
            credentials: None,
            if_exists: IfExists::default(),
            access_tokens: true,
            options: HttpOptions::default(),
        }
    }

    fn new(
        mut base: Url,
        credentials: Credentials,
        if_exists: IfExists,
        access_tokens: bool,
        options: HttpOptions,
    ) -> Result<Self> {
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.set_query(None);
        base.set_fragment(None);
        let wait = options.wait;
        Ok(MasClient {
            transport: Client::transport(&base, options)?,
            base,
            credentials,
            if_exists,
            access_tokens,
            wait,
            token: Mutex::new(None),
            site: OnceLock::new(),
        })
    }

    /// The homeserver's name, as MAS knows it (`matrix.homeserver`): asked
    /// once, with the admin token, which this also checks.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when MAS cannot be reached (after the wait, if
    /// one was set), [`Error::Refused`] when it refuses the credentials or
    /// the request.
    pub async fn server_name(&self) -> Result<String> {
        let deadline = self.wait.map(|wait| Instant::now() + wait);
        Ok(self
            .site(deadline, &mut Backoff::default())
            .await?
            .server_name
            .clone())
    }

    async fn site(&self, deadline: Option<Instant>, backoff: &mut Backoff) -> Result<&SiteConfig> {
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
    async fn admin(
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
    async fn id_by_username(
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

/// Checks a password as MAS will, with the same estimator (zxcvbn, no user
/// inputs): `None` when it is strong enough, else what is wrong with it.
pub fn password_too_weak(password: &str, minimum_complexity: u8) -> Option<String> {
    let estimate = zxcvbn::zxcvbn(password, &[]);
    let score = u8::from(estimate.score());
    if score >= minimum_complexity {
        return None;
    }
    let mut problem = format!(
        "is too weak for Matrix Authentication Service (zxcvbn score {score} of 4; its passwords.minimum_complexity is {minimum_complexity})"
    );
    if let Some(warning) = estimate.feedback().and_then(|f| f.warning()) {
        problem.push_str(&format!(": {warning}"));
    }
    Some(problem)
}

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
                    .map_err(|cause| {
                        partial(
                            &account,
                            MISSING_PASSWORD,
                            finish_password(&username),
                            cause,
                        )
                    })?,
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
        .map_err(|cause| {
            partial(
                &account,
                MISSING_PASSWORD,
                finish_password(&username),
                cause,
            )
        })?;
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

impl MasClient {
    /// One step after the account's creation: its answer when the status
    /// is `ok`, else what went wrong.
    async fn step(
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
}
