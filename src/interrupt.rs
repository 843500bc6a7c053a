//! Ctrl-C: restore the terminal if a password prompt had turned echo off,
//! and either stop at once or, in batch mode, let the rows in flight finish.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static GRACEFUL: AtomicBool = AtomicBool::new(false);
/// The terminal (descriptor and settings) from before a no-echo prompt, to
/// put back.
static SAVED_TERMINAL: Mutex<Option<(libc::c_int, libc::termios)>> = Mutex::new(None);
/// What to report if the process stops now: a registration whose outcome
/// would otherwise be lost.
static LAST_WORDS: Mutex<Option<LastWords>> = Mutex::new(None);

type LastWords = Box<dyn FnOnce() + Send>;

/// Installs the handler. A first Ctrl-C in graceful mode only raises the
/// flag; otherwise (or at the second) the process exits with 130.
pub fn install() {
    // Failing to install leaves the default action (terminate), which is
    // still correct outside prompts and batch mode.
    let _ = ctrlc::set_handler(|| {
        restore_terminal();
        let already = INTERRUPTED.swap(true, Ordering::SeqCst);
        if already || !GRACEFUL.load(Ordering::SeqCst) {
            // Held until the exit: the main thread, which clears the words
            // once it has reported, cannot then exit with another status.
            let mut pending = last_words();
            if let Some(words) = pending.take() {
                words();
            }
            std::process::exit(crate::error::EXIT_INTERRUPTED);
        }
        // On a terminal the "^C" echo ends the progress bar's line.
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprintln!();
        }
        eprintln!(
            "interrupted: finishing the registrations in flight, starting no new ones (Ctrl-C again to stop at once)"
        );
    });
}

/// From now on a first Ctrl-C only asks to stop starting new work.
pub fn set_graceful(graceful: bool) {
    GRACEFUL.store(graceful, Ordering::SeqCst);
}

/// Sets (or, with `None`, clears) what to report if Ctrl-C stops the
/// process: in single mode, once the registration request is sent.
pub fn set_last_words(words: Option<LastWords>) {
    *last_words() = words;
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Runs `read` (a no-echo read from the terminal on `fd`) so that Ctrl-C
/// during it restores the terminal's echo before exiting.
pub fn with_terminal_restored<T>(fd: libc::c_int, read: impl FnOnce() -> T) -> T {
    let mut settings = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr writes a termios into the pointer on success, and the
    // value is read only in that case.
    let saved = unsafe {
        (libc::tcgetattr(fd, settings.as_mut_ptr()) == 0).then(|| (fd, settings.assume_init()))
    };
    *lock() = saved;
    let result = read();
    *lock() = None;
    result
}

fn restore_terminal() {
    if let Some((fd, settings)) = lock().take() {
        // SAFETY: the settings came from tcgetattr on this descriptor.
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, &settings);
        }
        eprintln!();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<(libc::c_int, libc::termios)>> {
    SAVED_TERMINAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn last_words() -> std::sync::MutexGuard<'static, Option<LastWords>> {
    LAST_WORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
