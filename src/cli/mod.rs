//! The command line tool: everything the library leaves to its caller
//! (arguments, prompts, signals, what is printed), built with the `cli`
//! feature.

// Not API: reached from outside only through the hidden `__private`.
#![allow(missing_docs)]

mod args;
pub mod error;
pub mod ledger;
mod log;
pub mod mas;
pub mod options;
pub mod prompt;
pub mod run;
pub mod server;
pub mod signals;

pub use args::{Cli, DEFAULT_JOBS, OutputFormat, SECRET_ENV, command};
pub use log::hint_text;
