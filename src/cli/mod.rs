//! The command line tool: everything the library leaves to its caller
//! (arguments, prompts, signals, what is printed), built with the `cli`
//! feature.

// Not API: reached from outside only through the hidden `__private`.
#![allow(missing_docs)]

mod args;
pub mod batch;
pub mod concurrency;
pub mod config;
pub mod config_paths;
pub mod delegation;
pub mod error;
pub mod ledger;
mod log;
pub mod mas;
pub mod notice;
pub mod options;
pub mod output;
pub mod password;
pub mod prompt;
pub mod rules;
pub mod run;
pub mod server;
pub mod signals;
pub mod stop;
pub mod yaml;

pub use args::{Cli, DEFAULT_JOBS, DEFAULT_SERVER_URL, OutputFormat, SECRET_ENV, command};
pub use log::hint_text;
