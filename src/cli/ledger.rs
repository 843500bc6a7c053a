//! The one ledger of registrations in flight, shared by single and batch
//! mode. A registration is entered before its request is prepared and
//! marked sent just before the request carrying its password may leave;
//! it leaves the ledger only by being reported ([`Held::settle`]). Whatever
//! ends the run early (a signal that stops at once, a panic anywhere)
//! flushes the ledger first ([`Ledger::flush`]): a registration that may
//! have reached the server is reported with `created: null` and its
//! generated password, on stdout, else on stderr. Nothing else decides
//! whether a generated password is at risk.

use crate::cli::error::Error;
use crate::cli::output::{RegistrationResult, Reporter};
use crate::secret::SecretString;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How a registration is reported.
#[derive(Debug, Clone)]
pub enum Report {
    /// Single mode: the reporter's own lines or JSON object.
    Single(Reporter),
    /// `--batch`: one JSON line for the row.
    Row { line: u64, localpart: String },
}

/// Why the run ends before a registration was reported.
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    /// Ctrl-C, SIGTERM or SIGHUP, stopping at once.
    Signal(i32),
    /// A panic: a bug, after which nothing more can be trusted to finish.
    Panic,
}

struct Entry {
    id: u64,
    report: Report,
    user_id: Option<String>,
    /// A generated password: lost with the run unless reported.
    password: Option<SecretString>,
    /// The request may have reached the server.
    sent: bool,
}

pub struct Ledger {
    next: u64,
    entries: Vec<Entry>,
}

static LEDGER: Mutex<Ledger> = Mutex::new(Ledger {
    next: 0,
    entries: Vec::new(),
});

/// The ledger, locked. While it is held no registration is marked sent or
/// reported, so that a flush followed by the exit loses nothing.
pub fn lock() -> MutexGuard<'static, Ledger> {
    LEDGER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The ledger if it can be had within `patience`: a panic hook may run on
/// the thread that holds it.
pub fn lock_within(patience: Duration) -> Option<MutexGuard<'static, Ledger>> {
    let until = Instant::now() + patience;
    loop {
        match LEDGER.try_lock() {
            Ok(ledger) => return Some(ledger),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    }
}

/// Enters a registration that is about to be prepared. `password` is a
/// generated one, which nothing but this run knows.
pub fn hold(report: Report, user_id: Option<String>, password: Option<&SecretString>) -> Held {
    let mut ledger = lock();
    let id = ledger.next;
    ledger.next += 1;
    ledger.entries.push(Entry {
        id,
        report,
        user_id,
        password: password.cloned(),
        sent: false,
    });
    Held { id }
}

impl Ledger {
    /// Whether a registration may have reached the server and awaits its
    /// answer: stopping now would leave it unknown.
    pub fn any_sent(&self) -> bool {
        self.entries.iter().any(|entry| entry.sent)
    }

    /// Reports every registration in the ledger as ended by `cause`, and
    /// empties it. A batch row never sent is left to the summary's "not
    /// started"; a single registration is reported either way. Returns
    /// how many that were sent it reported.
    pub fn flush(&mut self, cause: Cause) -> u64 {
        let entries = std::mem::take(&mut self.entries);
        for entry in &entries {
            report_lost(entry, cause);
        }
        entries.iter().filter(|entry| entry.sent).count() as u64
    }
}

/// A registration in the ledger. Dropped without being settled (a path
/// that forgot, a panic that unwinds), it is reported as lost if it was
/// sent: by construction, no generated password leaves the ledger unshown.
#[must_use = "a held registration must be settled"]
pub struct Held {
    id: u64,
}

impl Held {
    /// Marks the registration sent: from now on its request may reach the
    /// server. `false`, and nothing may be sent, once a signal has asked
    /// the run to stop.
    pub fn may_send(&self) -> bool {
        let mut ledger = lock();
        if crate::cli::stop::interrupted().is_some() {
            return false;
        }
        if let Some(entry) = ledger.entries.iter_mut().find(|e| e.id == self.id) {
            entry.sent = true;
        }
        true
    }

    /// Reports the registration with `report` and takes it out of the
    /// ledger, in one step: a flush cannot come between them.
    pub fn settle<T>(self, report: impl FnOnce() -> T) -> T {
        let mut ledger = lock();
        ledger.entries.retain(|entry| entry.id != self.id);
        let result = report();
        drop(ledger);
        std::mem::forget(self);
        result
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut ledger = lock();
        let Some(at) = ledger.entries.iter().position(|e| e.id == self.id) else {
            return;
        };
        let entry = ledger.entries.remove(at);
        if entry.sent {
            report_lost(&entry, Cause::Panic);
        }
    }
}

/// The exit status after a panic, as Rust's own runtime gives.
pub const EXIT_PANIC: i32 = 101;

const PANIC_TEXT: &str =
    "stopped by an internal error (a bug: please report it) before the answer came";

fn report_lost(entry: &Entry, cause: Cause) {
    // Never sent, the password reached no one: the account cannot exist.
    let password = entry.password.as_ref().filter(|_| entry.sent);
    match (&entry.report, cause) {
        (Report::Single(reporter), Cause::Signal(signal)) => {
            let error = Error::Interrupted {
                signal,
                sent: entry.sent,
            };
            reporter.failed(&error, entry.user_id.as_deref(), password);
        }
        // A panic leaves no output format to keep: its words go to stderr.
        (Report::Single(_), Cause::Panic) => {
            crate::cli::output::report_problem(&PANIC_TEXT, None);
            if let Some(password) = password {
                say!(
                    "The account may exist. Generated password: {}",
                    password.expose()
                );
            }
        }
        // Rows never sent are the summary's "not started".
        (Report::Row { .. }, _) if !entry.sent => {}
        (Report::Row { line, localpart }, cause) => {
            let json = lost_row(*line, localpart, entry.user_id.as_deref(), password, cause);
            if crate::cli::output::stdout_line(&json).is_err() {
                crate::cli::output::result_on_stderr(&json);
            }
        }
    }
}

/// The JSON line of a batch row sent whose answer never came.
fn lost_row(
    line: u64,
    localpart: &str,
    user_id: Option<&str>,
    password: Option<&SecretString>,
    cause: Cause,
) -> String {
    let lost = match cause {
        Cause::Signal(signal) => {
            RegistrationResult::failure(&Error::Interrupted { signal, sent: true }, user_id)
        }
        Cause::Panic => RegistrationResult::internal(user_id, PANIC_TEXT, EXIT_PANIC),
    };
    lost.in_row(line, Some(localpart))
        .with_password(password)
        .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_lost_to_a_signal_or_a_panic_keeps_its_password() {
        let password = SecretString::from("generated-pw");
        let signal = lost_row(3, "kim", Some("@kim:x"), Some(&password), Cause::Signal(15));
        assert_eq!(
            signal,
            r#"{"created":null,"errcode":null,"error":"interrupted","exit_code":143,"kind":"interrupted","line":3,"localpart":"kim","password":"generated-pw","status":null,"user_id":"@kim:x"}"#
        );
        let panic = lost_row(4, "lee", None, Some(&password), Cause::Panic);
        assert_eq!(
            panic,
            format!(
                r#"{{"created":null,"errcode":null,"error":"{PANIC_TEXT}","exit_code":101,"kind":"internal","line":4,"localpart":"lee","password":"generated-pw","status":null,"user_id":null}}"#
            )
        );
    }

    /// The panic hook's lock: it waits for a holder that lets go within its
    /// patience, and gives up on one that does not (the panicking thread
    /// may hold the ledger), instead of hanging the exit.
    #[test]
    fn the_panic_hooks_lock_waits_only_as_long_as_its_patience() {
        use std::sync::mpsc::channel;
        let held = lock();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let started = Instant::now();
            let got = lock_within(Duration::from_millis(50)).is_some();
            tx.send((got, started.elapsed())).unwrap();
        });
        let (got, waited) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("lock_within outlived its patience");
        assert!(!got, "the ledger was held");
        assert!(waited >= Duration::from_millis(50), "{waited:?}");

        let (tx, rx) = channel();
        std::thread::spawn(move || {
            tx.send(lock_within(Duration::from_secs(5)).is_some())
                .unwrap();
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    }

    #[test]
    fn only_a_registration_sent_is_awaited() {
        let entry = |id, sent| Entry {
            id,
            report: Report::Row {
                line: id + 1,
                localpart: format!("u{id}"),
            },
            user_id: None,
            password: None,
            sent,
        };
        let mut ledger = Ledger {
            next: 2,
            entries: vec![entry(0, false), entry(1, false)],
        };
        assert!(!ledger.any_sent());
        ledger.entries[1].sent = true;
        assert!(ledger.any_sent());
        ledger.entries[1].sent = false;
        // Rows never sent are the summary's, not the flush's: nothing said.
        assert_eq!(ledger.flush(Cause::Signal(2)), 0);
        assert!(ledger.entries.is_empty());
    }

    #[test]
    fn a_registration_is_at_risk_from_its_sending_until_it_is_settled() {
        let held = hold(
            Report::Row {
                line: 2,
                localpart: "ann".to_owned(),
            },
            None,
            None,
        );
        let id = held.id;
        let sent = || lock().entries.iter().any(|e| e.id == id && e.sent);
        assert!(!sent());
        assert!(held.may_send());
        assert!(sent());
        assert_eq!(held.settle(|| 7), 7);
        assert!(lock().entries.iter().all(|e| e.id != id), "settled");
    }

    /// A registration dropped without being settled (a path that forgot, a
    /// panic unwinding) leaves the ledger, and takes no other with it. Never
    /// sent, it is reported nowhere (a row not started is the summary's).
    #[test]
    fn a_registration_dropped_unsettled_leaves_the_ledger_and_only_it() {
        let row = |line: u64| Report::Row {
            line,
            localpart: format!("u{line}"),
        };
        let (first, second) = (hold(row(1), None, None), hold(row(2), None, None));
        let (first_id, second_id) = (first.id, second.id);
        assert_ne!(first_id, second_id);
        let held = |id| lock().entries.iter().any(|e| e.id == id);
        drop(first);
        assert!(!held(first_id), "dropped, it left the ledger");
        assert!(held(second_id), "the other registration stays");
        second.settle(|| ());
        assert!(!held(second_id));
    }

    /// The ledger's invariant, checked in the command line's sources: no
    /// registration is sent but through `Client::prepare` or
    /// `Register::register_announced` (either way through Synapse's shared
    /// secret or MAS's admin API) with `Held::may_send` (which marks it in
    /// the ledger) before the request that can create the account, never
    /// through `register`, which would send without a word to the ledger.
    /// The library's `register_announced` implementations each call
    /// `before_sending` once, before that request. A new sending path that
    /// bypassed the ledger fails here.
    #[test]
    fn every_registration_the_tool_sends_goes_through_the_ledger() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    // The library's own clients are what the tool calls.
                    if path != root.join("client") && path != root.join("mas") {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs")
                    && path != root.join("lib.rs")
                    && path != root.join("register.rs")
                {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 20, "{files:?}");
        let mut prepared = 0;
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, line) in code.lines().enumerate() {
                assert!(
                    !line.contains("client.register(")
                        && !line.contains("Client::register(")
                        && !line.contains("as_register().register(")
                        && !line.contains("Register::register("),
                    "{}:{}: sends without the ledger: {line}",
                    path.display(),
                    i + 1
                );
            }
            let prepares =
                code.matches(".prepare(").count() + code.matches(".register_announced(").count();
            let marks = code.matches(".may_send()").count();
            assert_eq!(
                prepares,
                marks,
                "{}: each prepared registration is marked in the ledger before it is sent",
                path.display()
            );
            prepared += prepares;
        }
        assert_eq!(prepared, 2, "single mode and batch mode");
        // The ways to register that the tool calls: each announces before
        // the request that can create the account, and only once.
        for library in ["register.rs", "mas/account.rs"] {
            let text = std::fs::read_to_string(root.join(library)).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // Implementations have a body; the trait's declaration has none.
            let implementations = code
                .split("fn register_announced(")
                .skip(1)
                .filter(|rest| rest.find('{') < rest.find(';'))
                .count();
            assert!(implementations > 0, "{library}");
            assert_eq!(
                code.matches("before_sending()?").count(),
                implementations,
                "{library}: each register_announced announces once before sending"
            );
        }
    }
}
