//! What the user sees: the reference's lines, one JSON object, or a bare
//! access token on stdout; errors, hints and notices on stderr; the
//! progress bar of a batch on a terminal, which every other line on stdout
//! and stderr goes around.

mod progress;
mod result;
mod streams;

pub use progress::{around_progress, draw_progress, end_progress, progress_shown, start_progress};
pub use result::{RegistrationResult, VIA_MAS};
pub use streams::{stderr_line, stderr_text, stdout_line};

use crate::cli::OutputFormat;
use crate::cli::error::Error;
use crate::client::AccessToken;
use crate::client::Registered;
use crate::error::Refusal;
use crate::secret::SecretString;
use std::fmt;
use std::io;

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
