//! The tests against real Synapse servers, which `scripts/test` starts (one
//! per deployment layout) and describes in environment variables; every
//! test is `#[ignore]`d so that a plain `cargo test` needs no server.
//! `scripts/test --all-versions` runs this binary again on older Synapse
//! releases.

mod batch;
mod deployments;
mod library;
mod single;

use std::time::Duration;
use support::tool::Tool;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_register_new_matrix_user");

/// A run of the binary under test (see [`Tool`]), with room for a real
/// server's slower answers.
fn tool() -> Tool {
    Tool::new(BIN).deadline(Duration::from_secs(60))
}
