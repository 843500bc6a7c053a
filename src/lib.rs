//! Create accounts on a Synapse homeserver through its shared-secret admin
//! registration endpoint (`/_synapse/admin/v1/register`).
//!
//! The binary `register_new_matrix_user` is a thin layer over this library;
//! to register from Rust code, build a [`client::Client`] and call
//! [`client::Client::register`].

pub mod batch;
pub mod cli;
pub mod client;
pub mod concurrency;
pub mod config;
pub mod error;
pub mod interrupt;
pub mod mac;
pub mod options;
pub mod output;
pub mod password;
pub mod prompt;
pub mod run;
pub mod secret;
pub mod user;
