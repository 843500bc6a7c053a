//! What the integration tests (`tests/it`, `tests/matrix`, `tests/synapse`)
//! share: [`stub`], an in-process stand-in for Synapse and for broken
//! servers; [`tool`], the one way the tests run the binary under test; and
//! [`real`], the real Synapse that `scripts/test` starts.

pub mod real;
pub mod stub;
pub mod tool;
