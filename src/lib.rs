//! Create accounts on a Synapse homeserver through its shared-secret admin
//! registration endpoint (`/_synapse/admin/v1/register`).
//!
//! The binary `register_new_matrix_user` is a thin layer over this library;
//! to register from Rust code, build a [`client::Client`] and call
//! [`client::Client::register`].

// stdout and stderr are written through `output` only: `print!` and
// `eprint!` panic when the stream cannot be written (a full disk, a closed
// pipe, a hung-up terminal), and a panic aborts the process.
#![warn(clippy::print_stdout, clippy::print_stderr)]

/// A line on stderr, as `eprintln!` writes it, but never a panic: when
/// stderr cannot be written there is nowhere left to say so, and the run's
/// results and exit status must not depend on it.
macro_rules! say {
    () => {
        $crate::output::stderr_text("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

pub mod batch;
pub mod cli;
pub mod client;
pub mod concurrency;
pub mod config;
pub mod config_paths;
pub mod delegation;
pub mod error;
pub mod interrupt;
pub mod mac;
pub mod options;
pub mod output;
pub mod password;
pub mod prompt;
pub mod run;
pub mod secret;
pub mod tls;
pub mod unix_socket;
pub mod user;
pub mod yaml;
