//! Ctrl-C, SIGTERM and SIGHUP: restore the terminal if a password prompt had
//! turned echo off, and either stop at once or, in batch mode, let the rows
//! in flight finish.

use rustix::termios::{OptionalActions, Termios, tcgetattr, tcsetattr};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static GRACEFUL: AtomicBool = AtomicBool::new(false);
/// The terminal (descriptor and settings) from before a no-echo prompt, to
/// put back.
static SAVED_TERMINAL: Mutex<Option<(OwnedFd, Termios)>> = Mutex::new(None);
/// What to say last if a signal stops the process at once, after the
/// ledger of registrations in flight: the batch's summary.
static LAST_WORDS: Mutex<Option<LastWords>> = Mutex::new(None);

/// Called with the signal and how many registrations the ledger reported
/// as lost.
type LastWords = Box<dyn FnOnce(i32, u64) + Send>;

/// Installs the handler, on a thread of its own, and the panic hook. A
/// first signal in graceful mode, while a registration sent awaits its
/// answer, only raises the flag; otherwise (or at the second) the ledger is
/// flushed and the process exits with 128 + the signal's number, as if the
/// signal had killed it.
pub fn install() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        crate::cli::output::around_progress(|| default_hook(info));
        restore_terminal();
        // The panicking thread may hold the ledger (while writing a result).
        if let Some(mut ledger) = crate::cli::ledger::lock_within(std::time::Duration::from_secs(1))
        {
            ledger.flush(crate::cli::ledger::Cause::Panic);
        }
        // The same status whether the build unwinds or aborts.
        std::process::exit(crate::cli::ledger::EXIT_PANIC);
    }));
    // Failing to install leaves the default action (terminate), which is
    // still correct outside prompts and batch mode.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                on_signal(signal);
            }
        });
}

fn on_signal(signal: i32) {
    restore_terminal();
    let first = crate::cli::stop::record(signal);
    let mut ledger = crate::cli::ledger::lock();
    let mut words = last_words();
    // A graceful stop waits for the registrations sent; with none sent (a
    // batch waiting for its server) there is nothing to wait for, unless
    // the batch is already saying its summary (its last words taken back).
    let nothing_to_wait_for = !ledger.any_sent() && words.is_some();
    if !first || !GRACEFUL.load(Ordering::SeqCst) || nothing_to_wait_for {
        // The ledger stays locked until the exit: nothing more is sent or
        // reported, and what it holds is said first.
        let lost = ledger.flush(crate::cli::ledger::Cause::Signal(signal));
        if let Some(words) = words.take() {
            words(signal, lost);
        }
        std::process::exit(crate::cli::error::exit_code_for_signal(signal));
    }
    drop(words);
    drop(ledger);
    // On a terminal the "^C" echo ends the last line, unless that is the
    // progress bar's, which is cleared before the next line.
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) && !crate::cli::output::progress_shown()
    {
        say!();
    }
    if signal == SIGINT {
        say!(
            "interrupted: finishing the registrations in flight, starting no new ones (Ctrl-C again to stop at once)"
        );
    } else {
        say!(
            "interrupted by {}: finishing the registrations in flight, starting no new ones (the same signal again stops at once)",
            signal_name(signal)
        );
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// From now on a first signal only asks to stop starting new work.
pub fn set_graceful(graceful: bool) {
    GRACEFUL.store(graceful, Ordering::SeqCst);
}

/// Sets (or, with `None`, clears) what to say last if a signal stops the
/// process at once.
pub fn set_last_words(words: Option<LastWords>) {
    *last_words() = words;
}

pub use crate::cli::stop::interrupted;

/// Runs `read` (a no-echo read from the terminal on `fd`) so that a signal
/// during it restores the terminal's echo before exiting.
pub fn with_terminal_restored<T>(fd: BorrowedFd<'_>, read: impl FnOnce() -> T) -> T {
    // A descriptor of our own for the same terminal, for the signal thread.
    *lock() = tcgetattr(fd)
        .ok()
        .and_then(|settings| Some((fd.try_clone_to_owned().ok()?, settings)));
    let result = read();
    *lock() = None;
    result
}

fn restore_terminal() {
    if let Some((fd, settings)) = lock().take() {
        let _ = tcsetattr(&fd, OptionalActions::Now, &settings);
        say!();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<(OwnedFd, Termios)>> {
    SAVED_TERMINAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn last_words() -> std::sync::MutexGuard<'static, Option<LastWords>> {
    LAST_WORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
