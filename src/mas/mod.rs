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

mod account;
mod admin;
mod answer;
pub(crate) mod blocking;
mod builder;
mod password;

pub use builder::MasClientBuilder;
pub use password::{DEFAULT_MINIMUM_COMPLEXITY, password_too_weak};

use crate::client::retry::Backoff;
use crate::client::{Client, HttpOptions, IfExists};
use crate::error::Result;
use crate::secret::SecretString;
use reqwest::Url;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What an account lacks when its password could not be set.
pub(crate) const MISSING_PASSWORD: &str = "a password";

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

impl MasClient {
    /// Starts a client for the MAS at `url` (its `http.public_base`, or the
    /// address of the listener serving `adminapi`).
    pub fn builder(url: impl AsRef<str>) -> MasClientBuilder {
        MasClientBuilder::new(url.as_ref())
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
    /// [`Error::Transport`](crate::Error::Transport) when MAS cannot be
    /// reached (after the wait, if one was set),
    /// [`Error::Refused`](crate::Error::Refused) when it refuses the
    /// credentials or the request.
    pub async fn server_name(&self) -> Result<String> {
        let deadline = self.wait.map(|wait| Instant::now() + wait);
        Ok(self
            .site(deadline, &mut Backoff::default())
            .await?
            .server_name
            .clone())
    }
}
