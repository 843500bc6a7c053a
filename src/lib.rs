//! Create accounts on a Synapse homeserver through its shared-secret admin
//! registration endpoint (`/_synapse/admin/v1/register`), as Synapse's own
//! `register_new_matrix_user` script does.
//!
//! Build a [`Client`] for the server with the shared secret from its config
//! (`registration_shared_secret`), then register a [`NewUser`]. As reqwest
//! does, the library comes async and blocking, one protocol underneath.
//! [`Client`] is async, for any tokio runtime (multi-thread or
//! current-thread, with its I/O and time drivers, as `#[tokio::main]` has
//! them):
//!
//! ```
//! use register_new_matrix_user::{Client, IfExists, NewUser, Outcome};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), register_new_matrix_user::Error> {
//! #   // A registration endpoint that checks the MAC, on 127.0.0.1.
//! #   let (server, _) = support::stub::Stub::synapse("s3cret");
//! #   let (url, secret) = (server.url(), "s3cret");
//!     let client = Client::builder(&url)
//!         .shared_secret(secret)
//!         .if_exists(IfExists::Succeed)
//!         .build()?;
//!     match client.register(&NewUser::new("alice", "correct horse").admin(true)).await? {
//!         Outcome::Created(account) => println!("created {}", account.user_id),
//!         Outcome::CreatedIncomplete(problem) => println!("created, but {problem}"),
//!         Outcome::AlreadyExists => println!("already there"),
//!         other => println!("{other:?}"),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! [`blocking::Client`], built by the same builder with
//! [`build_blocking`](ClientBuilder::build_blocking), is for code without a
//! runtime: scripts, threads, the command line. It drives the async client
//! on a runtime of its own, and panics with this crate's message when
//! called inside an async runtime, whose thread it would block:
//!
//! ```
//! use register_new_matrix_user::{Client, NewUser, Outcome};
//! # fn main() -> Result<(), register_new_matrix_user::Error> {
//! # let (server, _) = support::stub::Stub::synapse("s3cret");
//! # let (url, secret) = (server.url(), "s3cret");
//!
//! let client = Client::builder(&url).shared_secret(secret).build_blocking()?;
//! let outcome = client.register(&NewUser::new("bob", "battery staple"))?;
//! assert!(matches!(outcome, Outcome::Created(account) if account.user_id.starts_with("@bob:")));
//! # Ok(())
//! # }
//! ```
//!
//! [`MasClient`] and [`blocking::MasClient`] create accounts through
//! Matrix Authentication Service's admin API instead; the blocking clients
//! both implement [`Register`].
//!
//! The library prints nothing and changes no process-wide state: TLS is set
//! up with the ring crypto provider passed in (no default provider is
//! installed), and the requests, statuses and retries are reported through
//! the [`log`](https://docs.rs/log) facade at level `info`.
//!
//! When a registration fails, [`Error::is_unconfirmed`] says whether the
//! request may have reached the server (the account may exist), and
//! [`Error::hint`] how to put it right, with the settings it recommends as
//! [`Setting`]s a program names in its own terms.
//!
//! The command line tool `register_new_matrix_user` is built with the
//! default feature `cli`; a library user may turn it off
//! (`default-features = false`) and build none of its dependencies.

// stdout and stderr are written through `output` only: `print!` and
// `eprint!` panic when the stream cannot be written (a full disk, a closed
// pipe, a hung-up terminal), and a panic aborts the process.
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![deny(missing_docs)]

/// A line on stderr, as `eprintln!` writes it, but never a panic: when
/// stderr cannot be written there is nowhere left to say so, and the run's
/// results and exit status must not depend on it.
#[cfg(feature = "cli")]
macro_rules! say {
    () => {
        $crate::cli::output::stderr_text("\n")
    };
    ($($arg:tt)*) => {
        $crate::cli::output::stderr_line(format_args!($($arg)*))
    };
}

#[cfg(unix)]
mod accounts;
mod client;
mod error;
mod files;
mod hint;
mod mas;
mod redact;
mod refusal;
mod register;
mod secret;
mod tls;
mod unix_socket;

#[cfg(feature = "cli")]
mod cli;

pub use client::registration_mac;
pub use client::{
    AccessToken, Client, ClientBuilder, IfExists, NewUser, Outcome, Prepared, Registered,
};
pub use error::{Error, Hint, HintPart, Refusal, Result, Setting};
pub use mas::{MasClient, MasClientBuilder};
pub use register::Register;

/// The blocking clients, for scripts, threads and the command line, as
/// `reqwest::blocking` is to `reqwest`: the same protocol as the async
/// [`Client`] and [`MasClient`] (they drive them on a runtime of their own).
/// Built with [`ClientBuilder::build_blocking`] and
/// [`MasClientBuilder::build_blocking`]; they register through [`Register`].
///
/// # Panics
///
/// Their methods that send panic, with this crate's message, inside an
/// async runtime, where they would block its thread: use the async clients
/// there.
pub mod blocking {
    pub use crate::client::blocking::{Client, Prepared};
    pub use crate::mas::blocking::MasClient;
}

/// What the binary, the tests and the fuzz targets use of the crate's
/// insides. Not part of the API: it changes without notice.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod __private {
    pub use crate::client::{MAX_BODY_BYTES, parse_nonce, parse_refusal, parse_registered};

    #[cfg(feature = "cli")]
    pub use crate::cli::batch::{Format, Rows, Rules, check_rows};
    #[cfg(feature = "cli")]
    pub use crate::cli::config::{ClientListener, Config, SecretSource};
    #[cfg(feature = "cli")]
    pub use crate::cli::{
        Cli, command,
        run::{arguments_refused, run},
    };
    /// The config reader, for the differential test against PyYAML.
    #[cfg(feature = "cli")]
    pub mod yaml {
        pub use crate::cli::yaml::{Int, Value, load};
    }
}

// Shared between threads by design (a batch shares one client): a change
// that loses it fails to compile here.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Client>();
    send_sync::<MasClient>();
    send_sync::<Error>();
    send_sync::<Outcome>();
    send_sync::<blocking::Client>();
    send_sync::<blocking::MasClient>();
};

/// The README's Rust sample, compiled by `cargo test --doc` so that it keeps
/// matching the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeSample;
