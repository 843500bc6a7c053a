//! Ctrl-C, SIGTERM and SIGHUP: restore the terminal if a password prompt had
//! turned echo off, and either stop at once or, in batch mode, let the rows
//! in flight finish.

use rustix::termios::{LocalModes, OptionalActions, Termios, tcgetattr, tcsetattr};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static GRACEFUL: AtomicBool = AtomicBool::new(false);
/// What a no-echo prompt did to the terminal. Changed only under this lock,
/// by the prompt and by the signal thread, so that a signal can never leave
/// echo off: once the signal thread has put the settings back before
/// exiting, no prompt turns echo off again.
static TERMINAL: Mutex<Terminal> = Mutex::new(Terminal::AsFound);

enum Terminal {
    AsFound,
    /// Echo is off; the descriptor and the settings from before, to put back.
    Quiet(OwnedFd, Termios),
    /// A signal or a panic is ending the process: the terminal is as found
    /// and stays so.
    Exiting,
}
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
        restore_terminal(true);
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
    restore_terminal(false);
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
        restore_terminal(true);
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

/// The name of a signal other than SIGINT (whose notice speaks of Ctrl-C).
fn signal_name(signal: i32) -> &'static str {
    match signal {
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

/// Runs `read` with echo off on the terminal `tty`, and puts the settings
/// back after it, or from the signal thread if a signal ends the process
/// meanwhile.
///
/// # Errors
/// When the terminal's settings cannot be read or changed.
pub fn without_echo<T>(tty: BorrowedFd<'_>, read: impl FnOnce() -> T) -> std::io::Result<T> {
    {
        let mut terminal = lock();
        if matches!(*terminal, Terminal::Exiting) {
            drop(terminal);
            // Asking now would only race the signal thread's last words.
            wait_for_the_exit();
        }
        let before = tcgetattr(tty)?;
        let mut quiet = before.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        let own = tty.try_clone_to_owned()?;
        // What was typed before was echoed in clear: thrown away, as
        // getpass does, rather than taken as the start of the answer.
        tcsetattr(tty, OptionalActions::Flush, &quiet)?;
        *terminal = Terminal::Quiet(own, before);
    }
    let result = read();
    let mut terminal = lock();
    match std::mem::replace(&mut *terminal, Terminal::AsFound) {
        Terminal::Quiet(fd, before) => {
            let _ = tcsetattr(&fd, OptionalActions::Now, &before);
        }
        // Put back by a signal on its way out: left as it is.
        other => *terminal = other,
    }
    Ok(result)
}

/// Waits up to `limit` for a signal that a failure just seen may come with
/// (a terminal that hangs up fails every read as the kernel sends SIGHUP).
/// When one comes, the signal thread is ending the process with the
/// signal's status, and this never returns.
pub fn yield_to_a_signal_within(limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        // Prompts come before a batch, so never in graceful mode, where a
        // first signal would not end the process.
        if crate::cli::stop::interrupted().is_some() {
            wait_for_the_exit();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Waits, on a thread other than the signal thread, for the process to end:
/// the signal thread is ending it with the signal's status.
fn wait_for_the_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// Puts back the settings a no-echo prompt changed, ending the line it was
/// on; with `exiting`, no prompt changes them again.
fn restore_terminal(exiting: bool) {
    let next = if exiting {
        Terminal::Exiting
    } else {
        Terminal::AsFound
    };
    if let Terminal::Quiet(fd, before) = std::mem::replace(&mut *lock(), next) {
        let _ = tcsetattr(&fd, OptionalActions::Now, &before);
        say!();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Terminal> {
    TERMINAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn last_words() -> std::sync::MutexGuard<'static, Option<LastWords>> {
    LAST_WORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
