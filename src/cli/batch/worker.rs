//! The second pass: workers taking rows in turn, each row sent and its result
//! recorded; `--jobs auto` and 429 retries decide how many are in flight.

use super::check::{CheckedRow, Rules};
use super::rows::Rows;
use super::tally::Tally;
use crate::cli::concurrency::{Limiter, Signal, Ticket};
use crate::cli::error::Error;
use crate::cli::ledger::{self, Held, Report};
use crate::cli::output::RegistrationResult;
use crate::cli::rules;
use crate::client::{NewUser, Outcome};
use crate::register::Register;
use crate::secret::SecretString;
use std::fs::File;
use std::io::BufReader;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A row refused with 429 is tried again this many times at most.
pub(super) const RATE_LIMITED_RETRIES: u32 = 5;
/// How long a 429 without `retry_after_ms` is waited out.
pub(super) const RATE_LIMITED_WAIT: Duration = Duration::from_secs(1);
/// A 429 asking for a longer wait fails its row: better re-run later with
/// --exists-ok than hold the batch for so long.
pub(super) const MAX_RATE_LIMITED_WAIT: Duration = Duration::from_secs(60);

/// The second pass, shared by the workers.
pub(super) struct SecondPass<'a> {
    pub(super) client: &'a dyn Register,
    pub(super) rules: &'a Rules,
    pub(super) rows: Mutex<Rows<BufReader<File>>>,
    /// Shared with the signal handler, which says the summary if it stops
    /// the run at once.
    pub(super) tally: Arc<Mutex<Tally>>,
    /// Set when no more rows should be started (server down, stdout gone).
    pub(super) stop: AtomicBool,
    /// How many rows may be in flight.
    pub(super) limiter: &'a Limiter,
    /// [`RegistrationResult::via`].
    pub(super) via: Option<&'static str>,
}

/// How one row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowEnd {
    Created,
    Existing,
    Failed { unreachable: bool },
}

impl SecondPass<'_> {
    pub(super) fn stopping(&self) -> bool {
        crate::cli::signals::interrupted().is_some() || self.stop.load(Ordering::SeqCst)
    }

    pub(super) fn work(&self) {
        loop {
            if self.stopping() {
                return;
            }
            let mut ticket = self.limiter.acquire();
            // The wait for a slot may have been long: look again.
            let item = if self.stopping() {
                None
            } else {
                lock(&self.rows).next()
            };
            let Some(item) = item else {
                self.limiter.release(ticket, Signal::Neutral);
                return;
            };
            let (ending, result, signal, held) =
                match item.and_then(|entry| self.rules.check(entry)) {
                    Ok(row) => match self.register(&row, &mut ticket) {
                        Some(registered) => registered,
                        // Stopped before anything was sent: not started.
                        None => {
                            self.limiter.release(ticket, Signal::Neutral);
                            return;
                        }
                    },
                    Err(problem) => {
                        // The first pass found no problem: the file changed since.
                        let error = Error::input(
                            format!("line {}", problem.line),
                            format!(
                                "{} (the file changed after it was checked; not sent)",
                                problem.message
                            ),
                        );
                        let result = RegistrationResult::failure(&error, None)
                            .in_row(problem.line, None)
                            .via(self.via);
                        (
                            RowEnd::Failed { unreachable: false },
                            result.to_json(),
                            Signal::Neutral,
                            None,
                        )
                    }
                };
            self.limiter.release(ticket, signal);
            let record = || {
                let mut tally = lock(&self.tally);
                tally.set_concurrency(self.limiter.slots(), self.limiter.peak());
                tally.record(ending, &result)
            };
            // The row leaves the ledger as its result is written.
            let stop = match held {
                Some(held) => held.settle(record),
                None => record(),
            };
            if stop {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Registers one row; `ticket` is its slot, given back and taken anew
    /// while it waits out a 429. The row is in the ledger from before its
    /// nonce is fetched until its result is recorded; `None` when a signal
    /// stopped it before anything was sent.
    pub(super) fn register(
        &self,
        row: &CheckedRow,
        ticket: &mut Ticket,
    ) -> Option<(RowEnd, String, Signal, Option<Held>)> {
        let user_id = self
            .rules
            .server_name
            .as_deref()
            .map(|server_name| rules::user_id(&row.localpart, server_name));
        let generated;
        let password = match &row.password {
            Some(password) => password,
            None => match crate::cli::password::generate() {
                Ok(password) => {
                    generated = password;
                    &generated
                }
                Err(error) => {
                    let (ending, result) = failed(row, &error, user_id.as_deref(), None, self.via);
                    return Some((ending, result, Signal::Neutral, None));
                }
            },
        };
        let is_generated = row.password.is_none();
        let new_user = NewUser::new(&row.localpart, password.expose())
            .admin(row.admin)
            .user_type(row.user_type.as_deref())
            .display_name(row.displayname.as_deref());
        let held = ledger::hold(
            Report::Row {
                line: row.line,
                localpart: row.localpart.clone(),
            },
            user_id.clone(),
            is_generated.then_some(password),
        );
        let mut retries = 0;
        let mut rate_limited = None;
        let outcome = loop {
            // Marked in the ledger just before the first request that can
            // create the account (after the nonce, or MAS's admin token).
            let mut stopped = false;
            let outcome = self.client.register_announced(&new_user, &mut || {
                if held.may_send() {
                    return Ok(());
                }
                stopped = true;
                Err(crate::Error::Stopped)
            });
            // Stopped before this try was sent: the row ends as its last
            // try did, or was never started.
            if stopped {
                match rate_limited {
                    Some(outcome) => break outcome,
                    None => return None,
                }
            }
            // A 429 creates nothing: the row may be sent again (with a
            // fresh nonce, as every try fetches one).
            let wait = match &outcome {
                Err(crate::Error::Refused(refusal)) if refusal.status == 429 => {
                    let wait = rate_limited_wait(refusal.retry_after_ms, retries);
                    if wait.is_none() {
                        let why = match refusal.retry_after_ms {
                            _ if retries >= RATE_LIMITED_RETRIES => {
                                format!("still rate-limited (429) after {retries} retries")
                            }
                            Some(ms) => format!(
                                "rate-limited (429) and asked to wait {ms} ms, over {} s",
                                MAX_RATE_LIMITED_WAIT.as_secs()
                            ),
                            None => "rate-limited (429)".to_owned(),
                        };
                        log::info!("line {}: {why}: not tried again", row.line);
                    }
                    wait
                }
                _ => None,
            };
            // A row waiting out a 429 stays marked sent: a first signal
            // waits for it (its wait ends at once, and it is reported as
            // refused), a second one reports it as unknown, erring on the
            // side of showing its password.
            let Some(wait) = wait else { break outcome };
            retries += 1;
            log::info!(
                "line {}: rate-limited (429): trying again in {:.1} s",
                row.line,
                wait.as_secs_f64()
            );
            // The slot is given back for the wait, and the limit drops.
            self.limiter.release(*ticket, Signal::Overloaded(429));
            let waited = pause(wait);
            *ticket = self.limiter.acquire();
            if !waited || self.stopping() {
                break outcome;
            }
            rate_limited = Some(outcome);
        };
        let signal = load_signal(&outcome);
        let generated = is_generated.then_some(password);
        let (ending, result) = match outcome {
            Ok(Outcome::Created(registered)) => {
                let result = RegistrationResult::row_created(row.line, &row.localpart, &registered)
                    .with_password(generated)
                    .via(self.via);
                (RowEnd::Created, result.to_json())
            }
            // The server said yes; what it said besides is missing.
            Ok(Outcome::CreatedIncomplete(problem)) => {
                let result = RegistrationResult::row_created_incomplete(
                    row.line,
                    &row.localpart,
                    user_id.as_deref(),
                    crate::cli::output::incomplete_warning(&problem),
                )
                .with_password(generated)
                .via(self.via);
                (RowEnd::Created, result.to_json())
            }
            Ok(Outcome::AlreadyExists) => (
                RowEnd::Existing,
                RegistrationResult::row_existing(row.line, &row.localpart, user_id.as_deref())
                    .via(self.via)
                    .to_json(),
            ),
            Err(error) => {
                // A request whose answer was lost may have created the
                // account: its password must not be lost.
                let keep = is_generated && error.is_unconfirmed();
                failed(
                    row,
                    &error.into(),
                    user_id.as_deref(),
                    keep.then_some(password),
                    self.via,
                )
            }
        };
        Some((ending, result, signal, Some(held)))
    }
}

/// How long to wait before sending a row refused with 429 again, or `None`
/// not to: after [`RATE_LIMITED_RETRIES`], or when the server asks for more
/// than [`MAX_RATE_LIMITED_WAIT`].
pub(super) fn rate_limited_wait(retry_after_ms: Option<u64>, retries: u32) -> Option<Duration> {
    let wait = retry_after_ms.map_or(RATE_LIMITED_WAIT, Duration::from_millis);
    (retries < RATE_LIMITED_RETRIES && wait <= MAX_RATE_LIMITED_WAIT).then_some(wait)
}

/// Sleeps for `wait`, or until Ctrl-C; `false` when interrupted.
pub(super) fn pause(wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        if crate::cli::signals::interrupted().is_some() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// What a row's outcome says about the server's load.
pub(super) fn load_signal(outcome: &crate::Result<Outcome>) -> Signal {
    match outcome {
        Ok(Outcome::Created(_) | Outcome::CreatedIncomplete(_)) => Signal::Answered,
        // An existing user is refused before any hashing: its answer time
        // says nothing.
        Ok(Outcome::AlreadyExists) => Signal::Neutral,
        Err(error) => error_signal(error),
    }
}

pub(super) fn error_signal(error: &crate::Error) -> Signal {
    use crate::Error as E;
    match error {
        E::Refused(refusal) if refusal.status == 429 || refusal.is_unavailable() => {
            Signal::Overloaded(refusal.status)
        }
        E::Transport { .. } => Signal::Unreachable,
        // A lost answer (timeout, dropped connection, 5xx after the POST)
        // says what the failure inside it says.
        E::Unconfirmed(inner) => error_signal(inner),
        // A refusal says nothing of the server's load.
        _ => Signal::Neutral,
    }
}

pub(super) fn failed(
    row: &CheckedRow,
    error: &Error,
    user_id: Option<&str>,
    password: Option<&SecretString>,
    via: Option<&'static str>,
) -> (RowEnd, String) {
    let result = RegistrationResult::failure(error, user_id)
        .in_row(row.line, Some(&row.localpart))
        .with_password(password)
        .via(via);
    let unreachable = error.is_unreachable();
    (RowEnd::Failed { unreachable }, result.to_json())
}
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
