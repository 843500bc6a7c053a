//! Whether a signal has asked the run to stop. The signal handler records
//! it; whoever is about to send a registration or start a row reads it. A
//! leaf module, so that the ledger and the handler that flushes it need not
//! import each other. Process-wide, so only the signal tests in `tests/it`
//! (each run in a process of its own) exercise it.

use std::sync::atomic::{AtomicI32, Ordering};

/// The first signal received, 0 before any.
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// Records `signal`; `true` when it is the first.
pub fn record(signal: i32) -> bool {
    SIGNALLED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

/// The signal that asked us to stop, if one did.
pub fn interrupted() -> Option<i32> {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}
