//! What the user sees: the reference's lines, one JSON object, or a bare
//! access token on stdout; errors, hints and notices on stderr; the
//! progress bar of a batch on a terminal, which every other line on stdout
//! and stderr goes around.

use crate::cli::OutputFormat;
use crate::cli::error::Error;
use crate::client::AccessToken;
use crate::client::Registered;
use crate::error::Refusal;
use crate::secret::SecretString;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use serde::Serialize;
use std::cell::Cell;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    format: OutputFormat,
    /// [`RegistrationResult::via`].
    via: Option<&'static str>,
}

impl Reporter {
    pub fn new(format: OutputFormat) -> Self {
        Reporter { format, via: None }
    }

    /// The JSON objects say that the account is made through MAS.
    pub fn through_mas(self) -> Self {
        Reporter {
            via: Some(VIA_MAS),
            ..self
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// A notice or warning that does not stop the run; always on stderr.
    /// It may name a file, whose control characters are escaped.
    pub fn notice(&self, notice: &crate::cli::notice::Notice) {
        say!(
            "{}",
            crate::error::escape_control_characters(&notice.to_string())
        );
    }

    /// Right before the registration request, as the reference prints it.
    /// When stdout cannot take this line it cannot take the result either:
    /// the request is then not sent.
    pub fn sending(&self) -> Result<(), Error> {
        if self.format == OutputFormat::Text {
            stdout_line("Sending registration request...").map_err(|e| {
                Error::Output(format!(
                    "cannot write to stdout ({}); nothing was sent",
                    crate::files::io_reason(&e)
                ))
            })?;
        }
        Ok(())
    }

    /// The new account. When stdout cannot take it, the error says that the
    /// account was created, and a generated password, without which the
    /// account cannot be used, goes to stderr instead.
    pub fn created(
        &self,
        registered: &Registered,
        generated: Option<&SecretString>,
    ) -> Result<(), Error> {
        self.write_created(registered, generated).map_err(|e| {
            if let Some(password) = generated {
                say!("Generated password: {}", password.expose());
            }
            Error::Output(format!(
                "cannot write the result to stdout ({}), but {} was created",
                crate::files::io_reason(&e),
                registered.user_id
            ))
        })
    }

    fn write_created(
        &self,
        registered: &Registered,
        generated: Option<&SecretString>,
    ) -> io::Result<()> {
        match self.format {
            OutputFormat::Text => {
                stdout_line("Success!")?;
                if let Some(password) = generated {
                    stdout_line(&format!("Generated password: {}", password.expose()))?;
                }
            }
            OutputFormat::Json => {
                let result = RegistrationResult::created(registered)
                    .with_password(generated)
                    .via(self.via);
                stdout_line(&result.to_json())?;
            }
            OutputFormat::Token => {
                // Checked before: token mode needs an access token.
                stdout_line(
                    registered
                        .access_token
                        .as_ref()
                        .map(AccessToken::expose)
                        .unwrap_or_default(),
                )?;
            }
        }
        Ok(())
    }

    /// The server answered 200 but the rest of its answer is missing or
    /// unreadable: a success, as the reference reports it, with a warning.
    pub fn created_incomplete(
        &self,
        user_id: Option<&str>,
        problem: &crate::Error,
        generated: Option<&SecretString>,
    ) -> Result<(), Error> {
        say!("warning: {}", incomplete_warning(problem));
        let written = match self.format {
            OutputFormat::Text => stdout_line("Success!").and_then(|()| match generated {
                Some(password) => {
                    stdout_line(&format!("Generated password: {}", password.expose()))
                }
                None => Ok(()),
            }),
            OutputFormat::Json => {
                let result = RegistrationResult::created_incomplete(user_id)
                    .with_password(generated)
                    .via(self.via);
                stdout_line(&result.to_json())
            }
            // Checked before: token mode needs an access token.
            OutputFormat::Token => Ok(()),
        };
        written.map_err(|e| {
            if let Some(password) = generated {
                say!("Generated password: {}", password.expose());
            }
            Error::Output(format!(
                "cannot write the result to stdout ({}), but {} was created",
                crate::files::io_reason(&e),
                user_id.unwrap_or("the account")
            ))
        })
    }

    /// `--exists-ok` and the user was already there.
    pub fn already_exists(&self, user_id: Option<&str>) -> Result<(), Error> {
        let written = match self.format {
            OutputFormat::Text => stdout_line("User already exists. Skipping."),
            OutputFormat::Json => stdout_line(
                &RegistrationResult::already_exists(user_id)
                    .via(self.via)
                    .to_json(),
            ),
            OutputFormat::Token => {
                say!("User already exists. Skipping. (no access token: no account was created)");
                Ok(())
            }
        };
        written.map_err(|e| {
            Error::Output(format!(
                "cannot write the result to stdout ({}); the user already existed",
                crate::files::io_reason(&e)
            ))
        })
    }

    /// `password` is a generated password the account may have been
    /// created with: it is shown, or it would be lost.
    pub fn failed(&self, error: &Error, user_id: Option<&str>, password: Option<&SecretString>) {
        // The failure's own exit status stands, and its reason goes to
        // stderr below, whether or not stdout takes these lines.
        let written = match (self.format, error.library().and_then(refusal)) {
            // stdout is what failed: nothing more goes there.
            _ if matches!(error, Error::Output(_)) => Ok(false),
            (OutputFormat::Text, Some(refusal)) => {
                // The reference's lines, on stdout, so scripts that read them keep working.
                stdout_line(&format!(
                    "ERROR! Received {} {}",
                    refusal.status, refusal.reason
                ))
                .and_then(|()| match &refusal.error {
                    Some(text) if (400..500).contains(&refusal.status) => stdout_line(text),
                    _ => Ok(()),
                })
                .map(|()| false)
            }
            (OutputFormat::Json, _) => {
                let result = RegistrationResult::failure(error, user_id)
                    .with_password(password)
                    .via(self.via);
                stdout_line(&result.to_json()).map(|()| true)
            }
            _ => Ok(false),
        };
        // Also on stderr in every format, so that the reason shows when
        // stdout goes to a file or a pipe.
        report_error(error);
        let password_on_stdout = written.unwrap_or(false);
        if let Some(password) = password.filter(|_| !password_on_stdout) {
            let status = if error.is_unconfirmed() {
                "The account may exist. "
            } else {
                ""
            };
            say!("{status}Generated password: {}", password.expose());
        }
    }
}

/// The `error:` line and, for a well-known failure, the `hint:` line, on stderr.
pub fn report_error(error: &Error) {
    report_problem(error, crate::cli::hint_text(error).as_deref());
}

/// An `error:` line on stderr and, when there is one, its `hint:` line:
/// every error the tool reports, in single mode and in batch, is said here.
pub fn report_problem(problem: &dyn fmt::Display, hint: Option<&str>) {
    say!("error: {problem}");
    if let Some(hint) = hint {
        say!("hint: {hint}");
    }
}

/// A batch row's result that stdout could not take, on stderr instead: it
/// may hold a generated password.
pub fn result_on_stderr(line: &str) {
    say!("{line}");
}

/// The warning for a 200 answer that could not be read in full.
pub fn incomplete_warning(problem: &crate::Error) -> String {
    format!("the account was created (the server answered 200 OK), but {problem}")
}

/// The server's refusal, also when it left the outcome unknown.
fn refusal(error: &crate::Error) -> Option<&Refusal> {
    use crate::Error as E;
    match error {
        E::Refused(refusal) => Some(refusal),
        E::Unconfirmed(inner) | E::Partial { cause: inner, .. } => refusal(inner),
        _ => None,
    }
}

/// [`RegistrationResult::via`] through Matrix Authentication Service.
pub const VIA_MAS: &str = "mas";

/// The JSON object printed for one registration: by `-o json` (one per
/// run) and by `--batch` (one line per row). This type is the JSON contract.
///
/// Members are written in this order (alphabetical, as they always were),
/// and which appear depends on how the registration ended; a member of type
/// `Option<Option<_>>` is left out when the outer `Option` is `None` and is
/// `null` when the inner one is. Every object has `created` and `user_id`.
///
/// | ended | `-o json` | `--batch` |
/// | --- | --- | --- |
/// | created | `access_token`, `device_id`, `home_server`, `password` if generated | `access_token`, `device_id`, `password` if generated, `warning` if the `200 OK` answer was incomplete |
/// | already there (`--exists-ok`) | `access_token`, `device_id`, `home_server`, all `null` | `access_token` (`null`) |
/// | failed | `errcode`, `error`, `exit_code`, `kind`, `status`, `password` if generated and the account may exist | the same |
///
/// `--batch` adds `line` to every object and `localpart` to every one whose
/// row could be read. Through Matrix Authentication Service, every object
/// has `via` (`mas`).
///
/// Built only through the constructors, one for each shape above, so that
/// no object leaves out a member its shape has.
#[derive(Debug, Serialize)]
pub struct RegistrationResult<'a> {
    /// `null` when the server gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<Option<&'a str>>,
    /// `true`: created; `false`: not created (already there, or refused);
    /// `null`: unknown, the answer to the registration request was lost.
    created: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<Option<&'a str>>,
    /// The Matrix error code of a refusal, such as `M_USER_IN_USE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    errcode: Option<Option<String>>,
    /// The server's own error text, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The exit status this failure alone gives (see the exit status table).
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_server: Option<Option<&'a str>>,
    /// The class of failure: `refused`, `unavailable`, `unreachable`,
    /// `config`, `input`, `usage`, `delegated_auth`, `output` (stdout cannot
    /// be written), `interrupted` (a signal stopped the run: `created` is
    /// `false` if it came before the registration was sent, `null` after),
    /// `internal` (a bug stopped the run).
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// `--batch`: the row's line in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    /// `--batch`: the localpart as written in the row.
    #[serde(skip_serializing_if = "Option::is_none")]
    localpart: Option<&'a str>,
    /// A generated password, without which the account cannot be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    /// The HTTP status of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Option<u16>>,
    /// `null` when not known (no server name in the config, and the server
    /// did not say).
    user_id: Option<&'a str>,
    /// `mas` when the account is made through Matrix Authentication
    /// Service's admin API; absent for the shared-secret endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<&'static str>,
    /// `--batch`: the account was created but the `200 OK` answer was
    /// incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

impl<'a> RegistrationResult<'a> {
    /// Every member left out but `user_id` and `created`.
    fn blank(user_id: Option<&'a str>, created: Option<bool>) -> Self {
        RegistrationResult {
            access_token: None,
            created,
            device_id: None,
            errcode: None,
            error: None,
            exit_code: None,
            home_server: None,
            kind: None,
            line: None,
            localpart: None,
            password: None,
            status: None,
            user_id,
            via: None,
            warning: None,
        }
    }

    /// `-o json`: the new account.
    pub fn created(registered: &'a Registered) -> Self {
        RegistrationResult {
            access_token: Some(registered.access_token.as_ref().map(AccessToken::expose)),
            device_id: Some(registered.device_id.as_deref()),
            home_server: Some(registered.home_server.as_deref()),
            ..RegistrationResult::blank(Some(&registered.user_id), Some(true))
        }
    }

    /// `-o json`: created, but the `200 OK` answer was incomplete.
    pub fn created_incomplete(user_id: Option<&'a str>) -> Self {
        RegistrationResult {
            access_token: Some(None),
            device_id: Some(None),
            home_server: Some(None),
            ..RegistrationResult::blank(user_id, Some(true))
        }
    }

    /// `-o json`: `--exists-ok` and the user was already there.
    pub fn already_exists(user_id: Option<&'a str>) -> Self {
        RegistrationResult {
            access_token: Some(None),
            device_id: Some(None),
            home_server: Some(None),
            ..RegistrationResult::blank(user_id, Some(false))
        }
    }

    /// `--batch`: the row's new account.
    pub fn row_created(line: u64, localpart: &'a str, registered: &'a Registered) -> Self {
        RegistrationResult {
            access_token: Some(registered.access_token.as_ref().map(AccessToken::expose)),
            device_id: Some(registered.device_id.as_deref()),
            ..RegistrationResult::blank(Some(&registered.user_id), Some(true))
        }
        .in_row(line, Some(localpart))
    }

    /// `--batch`: created, but the `200 OK` answer was incomplete, as
    /// `warning` says.
    pub fn row_created_incomplete(
        line: u64,
        localpart: &'a str,
        user_id: Option<&'a str>,
        warning: String,
    ) -> Self {
        RegistrationResult {
            access_token: Some(None),
            device_id: Some(None),
            warning: Some(warning),
            ..RegistrationResult::blank(user_id, Some(true))
        }
        .in_row(line, Some(localpart))
    }

    /// `--batch`: `--exists-ok` and the row's user was already there.
    pub fn row_existing(line: u64, localpart: &'a str, user_id: Option<&'a str>) -> Self {
        RegistrationResult {
            access_token: Some(None),
            ..RegistrationResult::blank(user_id, Some(false))
        }
        .in_row(line, Some(localpart))
    }

    /// A bug stopped the run after the registration was sent: whether the
    /// account exists is not known.
    pub fn internal(user_id: Option<&'a str>, error: &str, exit_code: i32) -> Self {
        RegistrationResult {
            errcode: Some(None),
            error: Some(error.to_owned()),
            exit_code: Some(exit_code),
            kind: Some("internal"),
            status: Some(None),
            ..RegistrationResult::blank(user_id, None)
        }
    }

    /// `--batch`: the row's line, and its localpart when the row could be
    /// read.
    pub fn in_row(self, line: u64, localpart: Option<&'a str>) -> Self {
        RegistrationResult {
            line: Some(line),
            localpart,
            ..self
        }
    }

    /// With a generated password, without which the account cannot be used.
    pub fn with_password(self, password: Option<&'a SecretString>) -> Self {
        RegistrationResult {
            password: password.map(SecretString::expose),
            ..self
        }
    }

    /// With `via`: [`VIA_MAS`] through Matrix Authentication Service, none
    /// otherwise.
    pub fn via(self, via: Option<&'static str>) -> Self {
        RegistrationResult { via, ..self }
    }

    /// A failure. `created` is `null` when the account may exist.
    pub fn failure(error: &Error, user_id: Option<&'a str>) -> Self {
        let (errcode, text, status) = match error.library().and_then(refusal) {
            Some(refusal) => (
                refusal.errcode.clone(),
                refusal.error.clone().unwrap_or_else(|| error.to_string()),
                Some(refusal.status),
            ),
            None => match error {
                Error::Delegated { status, .. } => (None, error.to_string(), *status),
                _ => (None, error.to_string(), None),
            },
        };
        RegistrationResult {
            created: match error {
                // MAS made the account; a later step failed.
                Error::Library(crate::Error::Partial { .. }) => Some(true),
                _ if error.is_unconfirmed() => None,
                _ => Some(false),
            },
            errcode: Some(errcode),
            error: Some(text),
            status: Some(status),
            kind: Some(error.kind()),
            exit_code: Some(error.exit_code()),
            ..RegistrationResult::blank(user_id, None)
        }
    }

    /// The object as one line of JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and booleans cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Writes a line on stdout and flushes it, so that a reader of a pipe sees
/// each line as it happens. The line goes out in one write, so that a
/// failure leaves nothing half-buffered to come out later.
pub fn stdout_line(line: &str) -> io::Result<()> {
    // stdout may be the terminal the bar is drawn on.
    around_progress(|| {
        let mut out = io::stdout().lock();
        out.write_all(format!("{line}\n").as_bytes())?;
        out.flush()
    })
}

/// What `say!` writes: a line on stderr, in one write so that lines from
/// several threads do not interleave; a failure is ignored (see `say!`).
pub fn stderr_line(args: fmt::Arguments<'_>) {
    stderr_text(&format!("{args}\n"));
}

/// Text on stderr as it is, with the progress bar cleared while it is
/// written; a failure is ignored, as in [`stderr_line`].
pub fn stderr_text(text: &str) {
    around_progress(|| write_stderr(text));
}

#[cfg(not(test))]
fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// In unit tests, through `eprint!`, which the test harness captures: the
/// batch summaries and `error:` lines that tests provoke appear only with a
/// failing test, not among passing ones.
#[cfg(test)]
#[expect(
    clippy::print_stderr,
    reason = "the one writer of stderr, in unit tests"
)]
fn write_stderr(text: &str) {
    eprint!("{text}");
}

/// The batch's progress bar while it is shown: one line at the bottom of
/// the terminal, which indicatif clears (its wrapped rows too) before any
/// other line is written and draws again after it, on the writer's thread.
static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn progress() -> MutexGuard<'static, Option<ProgressBar>> {
    PROGRESS.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// Set while this thread holds the bar's own lock (drawing, or writing
    /// around it); it stays set if the thread panics there.
    static AT_THE_BAR: Cell<bool> = const { Cell::new(false) };
}

/// Runs `at_the_bar`, marking this thread as holding the bar's lock.
fn at_the_bar<T>(at_the_bar: impl FnOnce() -> T) -> T {
    AT_THE_BAR.set(true);
    let result = at_the_bar();
    AT_THE_BAR.set(false);
    result
}

/// Runs `write` with the progress bar, if one is shown, cleared: every
/// line on stdout and stderr is written through here, the panic message
/// too. A thread that panicked while holding the bar's lock writes what its
/// panic hook says as it is, rather than wait for the lock forever.
pub fn around_progress<T>(write: impl FnOnce() -> T) -> T {
    // A handle of its own, so that the lock is not held while writing.
    let bar = progress().clone();
    match bar {
        Some(bar) if !AT_THE_BAR.get() => at_the_bar(|| bar.suspend(write)),
        _ => write(),
    }
}

/// Shows a progress bar on stderr if it is a terminal (not a `dumb` one);
/// `false` when there is none to draw.
pub fn start_progress() -> bool {
    if ProgressDrawTarget::stderr().is_hidden() {
        return false;
    }
    let target = ProgressDrawTarget::term_like_with_hz(Box::<BarTerminal>::default(), 20);
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(progress_style());
    *progress() = Some(bar);
    true
}

/// Draws the progress line that `line` makes for the terminal's width (in
/// columns). indicatif draws at most 20 times a second: a line that comes
/// sooner after the last one drawn waits for the next.
pub fn draw_progress(line: impl FnOnce(usize) -> String) {
    // A handle of its own, so that the lock is not held while drawing.
    let bar = progress().clone();
    if let Some(bar) = bar {
        let line = line(bar_width());
        at_the_bar(|| bar.set_message(line));
    }
}

/// Whether a progress bar is shown now.
pub fn progress_shown() -> bool {
    progress().is_some()
}

/// Clears the progress bar for good: what follows is the summary.
pub fn end_progress() {
    let bar = progress().take();
    if let Some(bar) = bar {
        at_the_bar(|| bar.finish_and_clear());
    }
}

/// The whole line is the message: the batch lays it out for the width, and
/// indicatif cuts it to the width should it still be wider (`wide_msg`).
fn progress_style() -> ProgressStyle {
    ProgressStyle::with_template(PROGRESS_TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Parsed in a test: the fallback above is never taken.
pub(crate) const PROGRESS_TEMPLATE: &str = "{wide_msg}";

/// The width of the terminal on stderr, or the usual 80 columns when it
/// says none.
fn terminal_width() -> usize {
    match rustix::termios::tcgetwinsize(io::stderr()) {
        Ok(size) if size.ws_col > 0 => usize::from(size.ws_col),
        _ => 80,
    }
}

/// The columns the bar's row takes: all but the last two. indicatif fills
/// the row to the width it is given and leaves the cursor at its end, where
/// the "^C" the terminal echoes for Ctrl-C would wrap onto a row of its
/// own, and clearing the bar would leave its row behind. Two columns short,
/// the echo lands on the bar's row and is cleared with it.
fn bar_width() -> usize {
    terminal_width().saturating_sub(2).max(1)
}

/// stderr as indicatif draws the bar on it, [`bar_width`] wide.
#[derive(Debug, Default)]
struct BarTerminal {
    /// What a draw writes, sent at its end in one write (as indicatif's own
    /// stderr target does), so that no other line lands inside it.
    pending: Mutex<String>,
}

impl BarTerminal {
    fn cursor(&self, n: usize, direction: char) -> io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.write_str(&format!("\x1b[{n}{direction}")),
        }
    }
}

impl TermLike for BarTerminal {
    fn width(&self) -> u16 {
        u16::try_from(bar_width()).unwrap_or(u16::MAX)
    }

    fn height(&self) -> u16 {
        match rustix::termios::tcgetwinsize(io::stderr()) {
            Ok(size) if size.ws_row > 0 => size.ws_row,
            _ => 24,
        }
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'D')
    }

    fn write_line(&self, line: &str) -> io::Result<()> {
        self.write_str(&format!("{line}\n"))
    }

    fn write_str(&self, text: &str) -> io::Result<()> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_str(text);
        Ok(())
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write_str("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        let text =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let mut err = io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Refusal;
    use serde_json::Value;

    fn failure_json(error: &Error, user_id: Option<&str>) -> Value {
        serde_json::to_value(RegistrationResult::failure(error, user_id)).unwrap()
    }

    #[test]
    fn failure_json_carries_the_server_errcode() {
        let refusal = Refusal {
            status: 400,
            reason: "Bad Request".into(),
            errcode: Some("M_USER_IN_USE".into()),
            error: Some("User ID already taken.".into()),
            retry_after_ms: None,
        };
        let object = failure_json(&crate::Error::Refused(refusal.clone()).into(), Some("@a:b"));
        assert_eq!(object["errcode"], "M_USER_IN_USE");
        assert_eq!(object["error"], "User ID already taken.");
        assert_eq!(object["status"], 400);
        assert_eq!(object["created"], false);
        assert_eq!(object["exit_code"], 1);
        let local = failure_json(&Error::input("-u", "bad"), None);
        assert_eq!(local["kind"], "input");
        assert_eq!(local["errcode"], Value::Null);
        let lost = crate::Error::unconfirmed(crate::Error::Refused(refusal));
        let lost = failure_json(&lost.into(), Some("@a:b"));
        assert_eq!(lost["created"], Value::Null);
        assert_eq!(lost["errcode"], "M_USER_IN_USE");
        assert_eq!(lost["status"], 400);
    }

    /// A line written while this thread holds the bar's lock (a panic hook
    /// after a panic there) is written as it is: waiting for the lock would
    /// never end.
    #[test]
    fn a_write_from_inside_the_bar_does_not_wait_for_it() {
        *progress() = Some(ProgressBar::hidden());
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let inner = around_progress(|| around_progress(|| 7));
            let _ = done.send(inner);
        });
        let inner = finished.recv_timeout(std::time::Duration::from_secs(10));
        *progress() = None;
        assert_eq!(inner, Ok(7), "the nested write waited for the bar");
    }

    /// The bytes of every shape the two modes print, one a constructor, keys
    /// in the order they always had (a `serde_json::Map` sorts them): the
    /// JSON contract.
    #[test]
    fn every_result_shape_keeps_its_keys_and_order() {
        let refused = crate::Error::Refused(Refusal {
            status: 400,
            reason: "Bad Request".into(),
            errcode: Some("M_USER_IN_USE".into()),
            error: Some("taken".into()),
            retry_after_ms: None,
        });
        let registered = crate::client::parse_registered(
            br#"{"user_id": "@a:b", "access_token": "t", "home_server": "b"}"#,
        )
        .unwrap();
        let password = SecretString::new("pw".to_owned());
        let shapes = [
            RegistrationResult::created(&registered).with_password(Some(&password)),
            RegistrationResult::already_exists(None),
            RegistrationResult::failure(&crate::Error::unconfirmed(refused).into(), Some("@a:b"))
                .with_password(Some(&password)),
            RegistrationResult::row_created_incomplete(2, "a", Some("@a:b"), "w".into()),
            RegistrationResult::row_existing(3, "a", None),
            RegistrationResult::failure(&Error::input("line 4", "bad"), None).in_row(4, None),
            RegistrationResult::created_incomplete(Some("@a:b")).via(Some(VIA_MAS)),
            RegistrationResult::row_created(5, "a", &registered),
            RegistrationResult::internal(Some("@a:b"), "bug", 70).in_row(6, Some("a")),
        ];
        let printed: Vec<String> = shapes.iter().map(RegistrationResult::to_json).collect();
        assert_eq!(
            printed,
            [
                r#"{"access_token":"t","created":true,"device_id":null,"home_server":"b","password":"pw","user_id":"@a:b"}"#,
                r#"{"access_token":null,"created":false,"device_id":null,"home_server":null,"user_id":null}"#,
                r#"{"created":null,"errcode":"M_USER_IN_USE","error":"taken","exit_code":1,"kind":"refused","password":"pw","status":400,"user_id":"@a:b"}"#,
                r#"{"access_token":null,"created":true,"device_id":null,"line":2,"localpart":"a","user_id":"@a:b","warning":"w"}"#,
                r#"{"access_token":null,"created":false,"line":3,"localpart":"a","user_id":null}"#,
                r#"{"created":false,"errcode":null,"error":"line 4: bad","exit_code":3,"kind":"input","line":4,"status":null,"user_id":null}"#,
                r#"{"access_token":null,"created":true,"device_id":null,"home_server":null,"user_id":"@a:b","via":"mas"}"#,
                r#"{"access_token":"t","created":true,"device_id":null,"line":5,"localpart":"a","user_id":"@a:b"}"#,
                r#"{"created":null,"errcode":null,"error":"bug","exit_code":70,"kind":"internal","line":6,"localpart":"a","status":null,"user_id":"@a:b"}"#,
            ]
        );
    }
}
