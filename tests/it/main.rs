//! The integration tests that need no real Synapse (those that do are
//! `#[ignore]`d; `scripts/test` runs them against the servers it starts):
//! the command line against the stub server, batch mode, the prompts through
//! a pseudo-terminal, the progress bar on one, `--help`, the man page, the package, the parsers'
//! properties and the recipes in contrib/. The fault and bad-input tables
//! are `tests/matrix`; the real-Synapse suites, `tests/synapse`.

mod batch;
mod cli;
mod help;
mod layout;
mod library;
mod man;
mod mas;
mod package;
mod prompts;
mod properties;
mod pyyaml;
mod recipes;
mod release;
mod terminal;

use support::tool::Tool;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_register_new_matrix_user");

/// A run of the binary under test (see [`Tool`]).
fn tool() -> Tool {
    Tool::new(BIN)
}
