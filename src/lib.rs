//! Create accounts on a Synapse homeserver through its shared-secret admin
//! registration endpoint (`/_synapse/admin/v1/register`), as Synapse's own
//! `register_new_matrix_user` script does.
//!
//! Build a [`Client`] for the server with the shared secret from its config
//! (`registration_shared_secret`), then register a [`NewUser`]:
//!
//! ```
//! use register_new_matrix_user::{Client, IfExists, NewUser, Outcome};
//! # fn main() -> Result<(), register_new_matrix_user::Error> {
//! # let (url, secret) = demo::server();
//!
//! let client = Client::builder(&url)
//!     .shared_secret(secret)
//!     .if_exists(IfExists::Succeed)
//!     .build()?;
//! match client.register(&NewUser::new("alice", "correct horse").admin(true))? {
//!     Outcome::Created(account) => println!("created {}", account.user_id),
//!     Outcome::CreatedIncomplete(problem) => println!("created, but {problem}"),
//!     Outcome::AlreadyExists => println!("already there"),
//! }
//! # Ok(())
//! # }
//! #
//! # /// A registration endpoint that checks the MAC, on 127.0.0.1.
//! # mod demo {
//! #     use std::io::{BufRead, BufReader, Read, Write};
//! #     const SECRET: &str = "s3cret";
//! #     pub fn server() -> (String, &'static str) {
//! #         let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! #         let url = format!("http://{}", listener.local_addr().unwrap());
//! #         std::thread::spawn(move || {
//! #             for stream in listener.incoming() {
//! #                 let mut reader = BufReader::new(stream.unwrap());
//! #                 while let Some(body) = request(&mut reader) {
//! #                     let answer = match body {
//! #                         None => r#"{"nonce":"n0nce"}"#.to_owned(),
//! #                         Some(body) => registered(&body),
//! #                     };
//! #                     let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", answer.len());
//! #                     reader.get_mut().write_all((head + &answer).as_bytes()).unwrap();
//! #                 }
//! #             }
//! #         });
//! #         (url, SECRET)
//! #     }
//! #     /// `None` at the end of the connection; the body of a POST.
//! #     fn request(reader: &mut impl BufRead) -> Option<Option<String>> {
//! #         let (mut line, mut length, mut post) = (String::new(), 0, false);
//! #         while reader.read_line(&mut line).ok()? > 0 && line != "\r\n" {
//! #             post |= line.starts_with("POST");
//! #             if let Some(value) = line.to_lowercase().strip_prefix("content-length:") {
//! #                 length = value.trim().parse().unwrap();
//! #             }
//! #             line.clear();
//! #         }
//! #         let mut body = vec![0; length];
//! #         reader.read_exact(&mut body).ok()?;
//! #         (!line.is_empty()).then(|| post.then(|| String::from_utf8(body).unwrap()))
//! #     }
//! #     fn field<'a>(body: &'a str, name: &str) -> &'a str {
//! #         let start = body.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
//! #         body[start..].split([',', '}']).next().unwrap().trim_matches('"')
//! #     }
//! #     fn registered(body: &str) -> String {
//! #         let user_type = Some(field(body, "user_type")).filter(|t| *t != "null");
//! #         let mac = register_new_matrix_user::registration_mac(
//! #             SECRET, field(body, "nonce"), field(body, "username"),
//! #             field(body, "password"), field(body, "admin") == "true", user_type,
//! #         );
//! #         assert_eq!(field(body, "mac"), mac, "the MAC must match");
//! #         format!(r#"{{"user_id":"@{}:localhost","access_token":"t","device_id":"D","home_server":"localhost"}}"#, field(body, "username"))
//! #     }
//! # }
//! ```
//!
//! The client is blocking. From async code, run it on a thread that may
//! block, e.g. inside `tokio::task::spawn_blocking`: reqwest's blocking
//! client panics when used on an async runtime's own threads.
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

/// A line on stderr, as `eprintln!` writes it, but never a panic: when
/// stderr cannot be written there is nowhere left to say so, and the run's
/// results and exit status must not depend on it.
#[cfg(feature = "cli")]
macro_rules! say {
    () => {
        $crate::output::stderr_text("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

#[cfg(unix)]
mod accounts;
mod client;
mod error;
mod files;
mod hint;
mod mac;
mod mas;
mod redact;
mod refusal;
mod register;
mod secret;
mod tls;
mod unix_socket;

#[cfg(feature = "cli")]
mod batch;
#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod concurrency;
#[cfg(feature = "cli")]
mod config;
#[cfg(feature = "cli")]
mod config_paths;
#[cfg(feature = "cli")]
mod delegation;
#[cfg(feature = "cli")]
mod notice;
#[cfg(feature = "cli")]
mod output;
#[cfg(feature = "cli")]
mod password;
#[cfg(feature = "cli")]
mod rules;
#[cfg(feature = "cli")]
mod yaml;

pub use client::{Client, ClientBuilder, IfExists, NewUser, Outcome, Prepared, Registered};
pub use error::{Error, Hint, HintPart, Refusal, Result, Setting};
pub use mac::registration_mac;
pub use mas::{MasClient, MasClientBuilder};
pub use register::Register;

/// What the binary, the tests and the fuzz targets use of the crate's
/// insides. Not part of the API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::client::{MAX_BODY_BYTES, parse_nonce, parse_refusal, parse_registered};

    #[cfg(feature = "cli")]
    pub use crate::batch::{Format, Rows, Rules, check_rows};
    #[cfg(feature = "cli")]
    pub use crate::cli::{
        Cli, command,
        run::{arguments_refused, run},
    };
    #[cfg(feature = "cli")]
    pub use crate::config::{ClientListener, Config, SecretSource};
    /// The config reader, for the differential test against PyYAML.
    #[cfg(feature = "cli")]
    pub mod yaml {
        pub use crate::yaml::{Int, Value, load};
    }
}

/// The README's Rust sample, compiled by `cargo test --doc` so that it keeps
/// matching the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeSample;
