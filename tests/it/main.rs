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

/// A fresh pseudo-terminal, `(master, slave)`, of the given window size
/// (the system's default without one).
fn open_pty(size: Option<&libc::winsize>) -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    let size = size.map_or(std::ptr::null(), |s| s as *const libc::winsize);
    // SAFETY: openpty fills in two descriptors and sets the window size
    // given, if any; the name and settings arguments may be null.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            size,
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}
