//! Every way a run can fail, and the exit status each one maps to.
//!
//! The exit codes are part of the interface (documented in `--help`, the man
//! page and the README) and are decided here and nowhere else.

pub use crate::hint::{Hint, HintPart, Setting};
pub use crate::refusal::Refusal;
use std::fmt;
use std::path::PathBuf;

/// Exit status: registered, or already there with `--exists-ok`.
#[cfg(feature = "cli")]
pub const EXIT_OK: i32 = 0;
/// Exit status: the server refused (an HTTP error other than 502/503/504).
pub const EXIT_REFUSED: i32 = 1;
/// Exit status: the command line is wrong.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: a local input or configuration problem; nothing was sent.
pub const EXIT_INPUT: i32 = 3;
/// Exit status: the server could not be reached or answered nonsense; safe to retry.
pub const EXIT_UNREACHABLE: i32 = 4;
/// Exit status: the result could not be written to stdout (a full disk, a
/// closed pipe): nothing is lost silently.
pub const EXIT_OUTPUT: i32 = 5;
/// Exit status after a signal asked us to stop, as a shell reports a
/// process the signal killed: 130 for SIGINT, 129 SIGHUP, 143 SIGTERM.
pub fn exit_code_for_signal(signal: i32) -> i32 {
    128 + signal
}

/// What went wrong, with what the user needs to put it right.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The options contradict each other or are missing (exit 2).
    Usage(String),
    /// A configuration or input file is unusable (exit 3).
    File {
        /// The file; several when the problem is in what they say together
        /// (configs merged from several files).
        paths: Vec<PathBuf>,
        /// The key inside the file, when the problem is one value.
        key: Option<String>,
        problem: String,
        hint: Option<Hint>,
    },
    /// A value given on the command line, at a prompt or in the environment
    /// would be refused by the server or cannot be used (exit 3).
    Input {
        /// Where the value came from: an option, a prompt, a variable.
        source: String,
        problem: String,
        hint: Option<Hint>,
    },
    /// The server answered with an HTTP error status.
    Refused(Refusal),
    /// The server could not be reached, or did not speak the protocol (exit 4).
    Transport { problem: String, hint: Option<Hint> },
    /// The server delegates accounts to Matrix Authentication Service, so it
    /// does not serve the registration endpoint: exit 3 when the config said
    /// so (nothing was sent), 1 when the server's answers did.
    Delegated {
        /// The endpoint's status (404) when the server was asked.
        status: Option<u16>,
        /// What showed it: a config key, or the server's auth metadata.
        evidence: String,
        /// The address of the auth service, when known.
        service: Option<String>,
        /// The `mas-cli` command that does what was asked, and how to run it.
        advice: String,
    },
    /// Stopped by this signal: Ctrl-C (SIGINT, exit 130), SIGTERM (143) or
    /// SIGHUP (129).
    Interrupted(i32),
    /// stdout cannot be written (exit 5); says what became of the account.
    Output(String),
    /// The registration request may have reached the server, but no answer
    /// says what became of it: the account may exist. Exits as the failure
    /// it wraps.
    Unconfirmed(Box<Error>),
    /// Through Matrix Authentication Service, which creates an account in
    /// several steps: the account exists, but a later step failed. Exits as
    /// the failure it wraps.
    Partial {
        /// The account, as a user ID when the server name is known.
        account: String,
        /// What it lacks: "a password", "admin rights", "an access token".
        missing: &'static str,
        /// How to finish it.
        finish: String,
        cause: Box<Error>,
    },
}

impl Error {
    #[cfg(any(feature = "cli", not(unix)))]
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub(crate) fn input(source: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Input {
            source: source.into(),
            problem: problem.into(),
            hint: None,
        }
    }

    /// A problem in what several files say together.
    #[cfg(feature = "cli")]
    pub(crate) fn files(paths: &[PathBuf], problem: impl Into<String>) -> Self {
        Error::File {
            paths: paths.to_vec(),
            key: None,
            problem: problem.into(),
            hint: None,
        }
    }

    pub(crate) fn file(
        path: impl Into<PathBuf>,
        key: Option<&str>,
        problem: impl Into<String>,
    ) -> Self {
        Error::File {
            paths: vec![path.into()],
            key: key.map(str::to_owned),
            problem: problem.into(),
            hint: None,
        }
    }

    /// The same error with a hint, for a file error that has a known fix.
    pub(crate) fn with_hint(self, new_hint: impl Into<Hint>) -> Self {
        match self {
            Error::File {
                paths,
                key,
                problem,
                ..
            } => Error::File {
                paths,
                key,
                problem,
                hint: Some(new_hint.into()),
            },
            Error::Input {
                source, problem, ..
            } => Error::Input {
                source,
                problem,
                hint: Some(new_hint.into()),
            },
            other => other,
        }
    }

    pub(crate) fn transport(problem: impl Into<String>, hint: Option<&str>) -> Self {
        Error::Transport {
            problem: problem.into(),
            hint: hint.map(Hint::text),
        }
    }

    /// A transport error whose hint recommends a setting.
    pub(crate) fn transport_with(problem: impl Into<String>, hint: Hint) -> Self {
        Error::Transport {
            problem: problem.into(),
            hint: Some(hint),
        }
    }

    pub(crate) fn unconfirmed(error: Error) -> Self {
        Error::Unconfirmed(Box::new(error))
    }

    /// Whether the registration request may have reached the server, so
    /// that the account may exist although no answer says so.
    pub fn is_unconfirmed(&self) -> bool {
        matches!(self, Error::Unconfirmed(_))
    }

    /// Whether the server could not be reached, did not speak the protocol
    /// or is not available yet (502, 503, 504): trying again later may work.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Refused(refusal) => refusal.is_unavailable(),
            Error::Unconfirmed(error) => error.is_unreachable(),
            _ => false,
        }
    }

    /// The one place where failures become exit statuses.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::File { .. } | Error::Input { .. } => EXIT_INPUT,
            Error::Delegated { status: None, .. } => EXIT_INPUT,
            Error::Delegated {
                status: Some(_), ..
            } => EXIT_REFUSED,
            Error::Refused(refusal) if refusal.is_unavailable() => EXIT_UNREACHABLE,
            Error::Refused(_) => EXIT_REFUSED,
            Error::Transport { .. } => EXIT_UNREACHABLE,
            Error::Interrupted(signal) => exit_code_for_signal(*signal),
            Error::Output(_) => EXIT_OUTPUT,
            Error::Unconfirmed(error) | Error::Partial { cause: error, .. } => error.exit_code(),
        }
    }

    /// A short machine-readable name of the failure's class, for `-o json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::File { .. } => "config",
            Error::Input { .. } => "input",
            Error::Delegated { .. } => "delegated_auth",
            Error::Refused(refusal) if refusal.is_unavailable() => "unavailable",
            Error::Refused(_) => "refused",
            Error::Transport { .. } => "unreachable",
            Error::Interrupted(_) => "interrupted",
            Error::Output(_) => "output",
            Error::Unconfirmed(error) => error.kind(),
            Error::Partial { .. } => "partial",
        }
    }

    /// How to put the failure right, for a well-known failure. Control
    /// characters in its text are escaped, as in the message.
    pub fn hint(&self) -> Option<Hint> {
        let hint = match self {
            Error::Input { hint, .. }
            | Error::Transport { hint, .. }
            | Error::File { hint, .. } => hint.clone(),
            Error::Refused(refusal) => refusal.hint(),
            // A blind retry would be refused with "User ID already taken".
            Error::Unconfirmed(_) => Some(
                Hint::text(
                    "the server may have created the account before the answer was lost: retry with ",
                )
                .setting(Setting::ExistsOk),
            ),
            // Several lines by design: each is escaped, the breaks are kept
            // (what the advice quotes was escaped as it was built).
            Error::Partial { finish, .. } => Some(Hint::text(finish.clone())),
            Error::Delegated { advice, .. } => {
                return Some(Hint(vec![HintPart::Text(
                    advice
                        .lines()
                        .map(escape_control_characters)
                        .collect::<Vec<_>>()
                        .join("\n"),
                )]));
            }
            _ => None,
        };
        hint.map(Hint::escaped)
    }
}

pub use crate::redact::escape_control_characters;

/// Messages repeat input (a localpart, a file name, a batch line), so their
/// control characters are escaped.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = Unescaped(self).to_string();
        if text.contains(char::is_control) {
            f.write_str(&escape_control_characters(&text))
        } else {
            f.write_str(&text)
        }
    }
}

struct Unescaped<'a>(&'a Error);

impl fmt::Display for Unescaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::Usage(message) | Error::Output(message) => f.write_str(message),
            Error::File {
                paths,
                key,
                problem,
                ..
            } => {
                for (i, path) in paths.iter().enumerate() {
                    let separator = if i == 0 { "" } else { ", " };
                    write!(f, "{separator}{}", path.display())?;
                }
                if let Some(key) = key {
                    write!(f, ": {key}")?;
                }
                write!(f, ": {problem}")
            }
            Error::Input {
                source, problem, ..
            } => write!(f, "{source}: {problem}"),
            Error::Refused(refusal) => {
                write!(f, "Received {}", refusal.status)?;
                if !refusal.reason.is_empty() {
                    write!(f, " {}", refusal.reason)?;
                }
                if let Some(error) = &refusal.error {
                    write!(f, ": {error}")?;
                }
                Ok(())
            }
            Error::Transport { problem, .. } => f.write_str(problem),
            Error::Delegated {
                evidence, service, ..
            } => {
                write!(
                    f,
                    "{evidence}: this server delegates accounts to Matrix Authentication Service"
                )?;
                if let Some(service) = service {
                    write!(f, " ({service})")?;
                }
                f.write_str(", so Synapse does not serve the shared-secret registration endpoint")
            }
            Error::Interrupted(_) => f.write_str("interrupted"),
            Error::Unconfirmed(error) => error.fmt(f),
            Error::Partial {
                account,
                missing,
                cause,
                ..
            } => write!(f, "{account} now exists without {missing}: {cause}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16) -> Refusal {
        Refusal {
            status,
            reason: String::new(),
            errcode: None,
            error: None,
            retry_after_ms: None,
        }
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(Error::file("f", None, "x").exit_code(), 3);
        assert_eq!(Error::input("-u", "x").exit_code(), 3);
        assert_eq!(Error::transport("x", None).exit_code(), 4);
        for status in [400, 401, 403, 404, 429, 500, 501, 505] {
            assert_eq!(Error::Refused(refusal(status)).exit_code(), 1, "{status}");
        }
        for status in [502, 503, 504] {
            assert_eq!(Error::Refused(refusal(status)).exit_code(), 4, "{status}");
        }
        assert_eq!(Error::Interrupted(libc::SIGINT).exit_code(), 130);
        assert_eq!(Error::Interrupted(libc::SIGTERM).exit_code(), 143);
        assert_eq!(Error::Output("x".into()).exit_code(), 5);
        assert_eq!(exit_code_for_signal(libc::SIGTERM), 143);
        assert_eq!(exit_code_for_signal(libc::SIGHUP), 129);
        let lost = |error| Error::unconfirmed(error);
        assert_eq!(lost(Error::transport("x", None)).exit_code(), 4);
        assert_eq!(lost(Error::Refused(refusal(500))).exit_code(), 1);
        assert_eq!(lost(Error::Refused(refusal(504))).exit_code(), 4);
        assert_eq!(lost(Error::Interrupted(libc::SIGINT)).exit_code(), 130);
        assert_eq!(lost(Error::Interrupted(libc::SIGHUP)).exit_code(), 129);
    }

    #[test]
    fn messages_escape_control_characters() {
        let error = Error::Input {
            source: "-u/--user".to_owned(),
            problem: "'x\ny\u{1b}[31m' is bad".to_owned(),
            hint: Some(Hint::text("try\r\tagain")),
        };
        assert_eq!(error.to_string(), "-u/--user: 'x\\ny\\u{1b}[31m' is bad");
        assert_eq!(error.hint().unwrap().to_string(), "try\\r\\tagain");
        let file = Error::file("a\u{7}.yaml", Some("line 2"), "bad");
        assert_eq!(file.to_string(), "a\\u{7}.yaml: line 2: bad");
    }

    #[test]
    fn the_delegation_advice_keeps_its_lines_and_escapes_the_rest() {
        let error = Error::Delegated {
            status: None,
            evidence: "hs.yaml: matrix_authentication_service.enabled".to_owned(),
            service: Some("http://mas\u{1b}[2J/".to_owned()),
            advice: "first line\n  second\u{1b}[2J line\r".to_owned(),
        };
        assert_eq!(
            error.hint().unwrap().to_string(),
            "first line\n  second\\u{1b}[2J line\\r"
        );
        assert!(
            error.to_string().contains("(http://mas\\u{1b}[2J/)"),
            "{error}"
        );
    }

    #[test]
    fn unreachable_is_what_exits_4() {
        let errors = [
            Error::usage("x"),
            Error::file("f", None, "x"),
            Error::input("-u", "x"),
            Error::transport("x", None),
            Error::Refused(refusal(403)),
            Error::Refused(refusal(503)),
            Error::unconfirmed(Error::transport("x", None)),
            Error::unconfirmed(Error::Refused(refusal(500))),
            Error::Interrupted(libc::SIGINT),
            Error::Output("x".into()),
        ];
        for error in errors {
            assert_eq!(
                error.is_unreachable(),
                error.exit_code() == EXIT_UNREACHABLE,
                "{error:?}"
            );
        }
        assert!(Error::Refused(refusal(504)).is_unreachable());
    }
}
