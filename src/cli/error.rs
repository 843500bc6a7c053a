//! The command line's failures: the library's, plus those only a command
//! line has (its arguments, signals, stdout), and the exit status and JSON
//! `kind` each one maps to.
//!
//! The exit codes are part of the interface (documented in `--help`, the man
//! page and the README) and are decided here and nowhere else.

use crate::error::{Hint, HintPart, escape_control_characters, unconfirmed_hint, write_escaped};
use std::fmt;
use std::path::PathBuf;

/// Exit status: registered, or already there with `--exists-ok`.
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

/// What went wrong in a run.
#[derive(Debug)]
pub enum Error {
    /// What the library says (a file, an input, the server, the network).
    Library(crate::Error),
    /// The options contradict each other or are missing (exit 2).
    Usage(String),
    /// Stopped by this signal: Ctrl-C (SIGINT, exit 130), SIGTERM (143) or
    /// SIGHUP (129); `sent` when the registration had already been sent, so
    /// that the account may exist.
    Interrupted { signal: i32, sent: bool },
    /// stdout cannot be written (exit 5); says what became of the account.
    Output(String),
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::Error> for Error {
    fn from(error: crate::Error) -> Self {
        Error::Library(error)
    }
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub fn input(origin: impl Into<String>, problem: impl Into<String>) -> Self {
        crate::Error::input(origin, problem).into()
    }

    pub fn file(path: impl Into<PathBuf>, key: Option<&str>, problem: impl Into<String>) -> Self {
        crate::Error::file(path, key, problem).into()
    }

    /// A problem in what several files say together.
    pub fn files(paths: &[PathBuf], problem: impl Into<String>) -> Self {
        crate::Error::File {
            paths: paths.to_vec(),
            key: None,
            problem: problem.into(),
            hint: None,
            source: None,
        }
        .into()
    }

    pub fn transport(problem: impl Into<String>, hint: Option<&str>) -> Self {
        crate::Error::transport(problem, hint).into()
    }

    /// The same error with a hint, for a file or input error that has a
    /// known fix.
    pub fn with_hint(self, hint: impl Into<Hint>) -> Self {
        match self {
            Error::Library(error) => Error::Library(error.with_hint(hint)),
            other => other,
        }
    }

    /// The library's error, when it is one.
    pub fn library(&self) -> Option<&crate::Error> {
        match self {
            Error::Library(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the account may exist although no answer says so.
    pub fn is_unconfirmed(&self) -> bool {
        match self {
            Error::Library(error) => error.is_unconfirmed(),
            Error::Interrupted { sent, .. } => *sent,
            _ => false,
        }
    }

    /// Whether trying again later may work (what exits 4).
    pub fn is_unreachable(&self) -> bool {
        self.library().is_some_and(crate::Error::is_unreachable)
    }

    /// The one place where failures become exit statuses.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Library(error) => library_exit_code(error),
            Error::Usage(_) => EXIT_USAGE,
            Error::Delegated { status: None, .. } => EXIT_INPUT,
            Error::Delegated {
                status: Some(_), ..
            } => EXIT_REFUSED,
            Error::Interrupted { signal, .. } => exit_code_for_signal(*signal),
            Error::Output(_) => EXIT_OUTPUT,
        }
    }

    /// A short machine-readable name of the failure's class, for `-o json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Library(error) => library_kind(error),
            Error::Usage(_) => "usage",
            Error::Delegated { .. } => "delegated_auth",
            Error::Interrupted { .. } => "interrupted",
            Error::Output(_) => "output",
        }
    }

    /// How to put the failure right, control characters escaped.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Error::Library(error) => error.hint(),
            Error::Interrupted { sent: true, .. } => Some(unconfirmed_hint().escaped()),
            // Several lines by design: each is escaped, the breaks are kept.
            Error::Delegated { advice, .. } => Some(Hint(vec![HintPart::Text(
                advice
                    .lines()
                    .map(escape_control_characters)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )])),
            _ => None,
        }
    }
}

fn library_exit_code(error: &crate::Error) -> i32 {
    use crate::Error as E;
    match error {
        E::File { .. } | E::Input { .. } => EXIT_INPUT,
        E::Refused(refusal) if refusal.is_unavailable() => EXIT_UNREACHABLE,
        E::Refused(_) => EXIT_REFUSED,
        E::Transport { .. } => EXIT_UNREACHABLE,
        // The command line stops a registration only for a signal or a
        // failed write, and reports that instead; as a signal otherwise.
        E::Stopped => exit_code_for_signal(libc::SIGINT),
        E::Unconfirmed(error) | E::Partial { cause: error, .. } => library_exit_code(error),
    }
}

fn library_kind(error: &crate::Error) -> &'static str {
    use crate::Error as E;
    match error {
        E::File { .. } => "config",
        E::Input { .. } => "input",
        E::Refused(refusal) if refusal.is_unavailable() => "unavailable",
        E::Refused(_) => "refused",
        E::Transport { .. } => "unreachable",
        E::Stopped => "interrupted",
        E::Unconfirmed(error) => library_kind(error),
        E::Partial { .. } => "partial",
    }
}

/// Messages repeat input (a localpart, a file name, a batch line), so their
/// control characters are escaped.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Library(error) => error.fmt(f),
            Error::Usage(message) | Error::Output(message) => write_escaped(f, message),
            Error::Delegated {
                evidence, service, ..
            } => {
                let service = match service {
                    Some(service) => format!(" ({service})"),
                    None => String::new(),
                };
                write_escaped(
                    f,
                    &format!(
                        "{evidence}: this server delegates accounts to Matrix Authentication Service{service}, so Synapse does not serve the shared-secret registration endpoint"
                    ),
                )
            }
            Error::Interrupted { .. } => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.library().and_then(std::error::Error::source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Refusal;

    fn refusal(status: u16) -> Refusal {
        Refusal {
            status,
            reason: String::new(),
            errcode: None,
            error: None,
            retry_after_ms: None,
        }
    }

    fn refused(status: u16) -> Error {
        crate::Error::Refused(refusal(status)).into()
    }

    fn lost(error: crate::Error) -> Error {
        crate::Error::unconfirmed(error).into()
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(Error::file("f", None, "x").exit_code(), 3);
        assert_eq!(Error::input("-u", "x").exit_code(), 3);
        assert_eq!(Error::transport("x", None).exit_code(), 4);
        for status in [400, 401, 403, 404, 429, 500, 501, 505] {
            assert_eq!(refused(status).exit_code(), 1, "{status}");
        }
        for status in [502, 503, 504] {
            assert_eq!(refused(status).exit_code(), 4, "{status}");
        }
        let interrupted = |signal, sent| Error::Interrupted { signal, sent };
        assert_eq!(interrupted(libc::SIGINT, false).exit_code(), 130);
        assert_eq!(interrupted(libc::SIGTERM, false).exit_code(), 143);
        assert_eq!(Error::Output("x".into()).exit_code(), 5);
        assert_eq!(exit_code_for_signal(libc::SIGTERM), 143);
        assert_eq!(exit_code_for_signal(libc::SIGHUP), 129);
        assert_eq!(lost(crate::Error::transport("x", None)).exit_code(), 4);
        assert_eq!(lost(crate::Error::Refused(refusal(500))).exit_code(), 1);
        assert_eq!(lost(crate::Error::Refused(refusal(504))).exit_code(), 4);
        assert_eq!(interrupted(libc::SIGINT, true).exit_code(), 130);
        assert_eq!(interrupted(libc::SIGHUP, true).exit_code(), 129);
    }

    #[test]
    fn an_interrupt_after_sending_is_unconfirmed_with_its_hint() {
        let sent = Error::Interrupted {
            signal: libc::SIGINT,
            sent: true,
        };
        assert!(sent.is_unconfirmed());
        assert_eq!(sent.kind(), "interrupted");
        let hint = sent.hint().unwrap();
        assert_eq!(
            hint,
            lost(crate::Error::transport("x", None)).hint().unwrap()
        );
        let before = Error::Interrupted {
            signal: libc::SIGINT,
            sent: false,
        };
        assert!(!before.is_unconfirmed() && before.hint().is_none());
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
            refused(403),
            refused(503),
            lost(crate::Error::transport("x", None)),
            lost(crate::Error::Refused(refusal(500))),
            Error::Interrupted {
                signal: libc::SIGINT,
                sent: false,
            },
            Error::Output("x".into()),
        ];
        for error in errors {
            assert_eq!(
                error.is_unreachable(),
                error.exit_code() == EXIT_UNREACHABLE,
                "{error:?}"
            );
        }
        assert!(refused(504).is_unreachable());
    }
}
