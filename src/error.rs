//! Every way a registration can fail, with what the user needs to put it
//! right. What a program makes of a failure (the command line's exit
//! statuses and JSON `kind`) is the program's own.

pub use crate::hint::{Hint, HintPart, Setting};
pub use crate::refusal::Refusal;
use std::fmt;
use std::path::PathBuf;

/// The underlying error a failure keeps as its [`source`](std::error::Error::source).
type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, with what the user needs to put it right.
///
/// [`Display`](fmt::Display) says it in one line (control characters
/// escaped); [`source`](std::error::Error::source) gives the underlying I/O,
/// HTTP or TLS error, when there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file (the certificates to trust) is unusable.
    File {
        /// The file; several when the problem is in what they say together
        /// (configs merged from several files).
        paths: Vec<PathBuf>,
        /// The key inside the file, when the problem is one value.
        key: Option<String>,
        /// What is wrong with it.
        problem: String,
        /// How to put it right, when known.
        hint: Option<Hint>,
        /// The I/O error behind it, if any.
        source: Option<Cause>,
    },
    /// A value the program was given (a URL, a secret, a user) would be
    /// refused by the server or cannot be used; nothing was sent.
    Input {
        /// Where the value came from: a builder setting, an option, a
        /// prompt, a variable.
        origin: String,
        /// What is wrong with it.
        problem: String,
        /// How to put it right, when known.
        hint: Option<Hint>,
    },
    /// The server answered with an HTTP error status.
    Refused(Refusal),
    /// The server could not be reached, or did not speak the protocol.
    Transport {
        /// What happened, naming the server.
        problem: String,
        /// How to put it right, when known.
        hint: Option<Hint>,
        /// The HTTP, TLS or I/O error behind it, if any.
        source: Option<Cause>,
    },
    /// The `before_sending` callback of
    /// [`Register::register_announced`](crate::Register::register_announced)
    /// stopped the registration: nothing that could create the account was
    /// sent.
    Stopped,
    /// The registration request may have reached the server, but no answer
    /// says what became of it: the account may exist.
    Unconfirmed(Box<Error>),
    /// Through Matrix Authentication Service, which creates an account in
    /// several steps: the account exists, but a later step failed.
    Partial {
        /// The account, as a user ID when the server name is known.
        account: String,
        /// What it lacks: "a password", "admin rights", "an access token".
        missing: &'static str,
        /// How to finish it.
        finish: String,
        /// The failure of the step.
        cause: Box<Error>,
    },
}

impl Error {
    pub(crate) fn input(origin: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Input {
            origin: origin.into(),
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
            source: None,
        }
    }

    /// The same error with a hint, for a file or input error that has a
    /// known fix.
    pub(crate) fn with_hint(mut self, new_hint: impl Into<Hint>) -> Self {
        if let Error::File { hint, .. } | Error::Input { hint, .. } = &mut self {
            *hint = Some(new_hint.into());
        }
        self
    }

    /// The same error keeping `cause` as its source: a file or transport
    /// error whose words come from an underlying error.
    pub(crate) fn caused_by(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        match &mut self {
            Error::File { source, .. } | Error::Transport { source, .. } => {
                *source = Some(Box::new(cause));
            }
            _ => {}
        }
        self
    }

    pub(crate) fn transport(problem: impl Into<String>, hint: Option<&str>) -> Self {
        Error::Transport {
            problem: problem.into(),
            hint: hint.map(Hint::text),
            source: None,
        }
    }

    /// A transport error whose hint recommends a setting.
    pub(crate) fn transport_with(problem: impl Into<String>, hint: Hint) -> Self {
        Error::Transport {
            problem: problem.into(),
            hint: Some(hint),
            source: None,
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

    /// How to put the failure right, for a well-known failure. Control
    /// characters in its text are escaped, as in the message.
    pub fn hint(&self) -> Option<Hint> {
        let hint = match self {
            Error::Input { hint, .. }
            | Error::Transport { hint, .. }
            | Error::File { hint, .. } => hint.clone(),
            Error::Refused(refusal) => refusal.hint(),
            Error::Unconfirmed(_) => Some(unconfirmed_hint()),
            // Several lines by design: each is escaped, the breaks are kept
            // (what the advice quotes was escaped as it was built).
            Error::Partial { finish, .. } => Some(Hint::text(finish.clone())),
            Error::Stopped => None,
        };
        hint.map(Hint::escaped)
    }
}

/// The hint for a registration that may have created the account: a blind
/// retry would be refused with "User ID already taken".
pub(crate) fn unconfirmed_hint() -> Hint {
    Hint::text("the server may have created the account before the answer was lost: retry with ")
        .setting(Setting::ExistsOk)
}

pub use crate::redact::escape_control_characters;

/// Messages repeat input (a localpart, a file name, a batch line), so their
/// control characters are escaped.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &Unescaped(self).to_string())
    }
}

/// `text` with its control characters escaped.
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if text.contains(char::is_control) {
        f.write_str(&escape_control_characters(text))
    } else {
        f.write_str(text)
    }
}

struct Unescaped<'a>(&'a Error);

impl fmt::Display for Unescaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
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
                origin, problem, ..
            } => write!(f, "{origin}: {problem}"),
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
            Error::Stopped => f.write_str("stopped before sending"),
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

/// The source is the error underneath: for a failure that wraps another
/// (unconfirmed, partial), whose words its message already repeats, the
/// wrapped failure's own source.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::File { source, .. } | Error::Transport { source, .. } => source
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            Error::Unconfirmed(error) | Error::Partial { cause: error, .. } => error.source(),
            _ => None,
        }
    }
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn messages_escape_control_characters() {
        let error = Error::Input {
            origin: "-u/--user".to_owned(),
            problem: "'x\ny\u{1b}[31m' is bad".to_owned(),
            hint: Some(Hint::text("try\r\tagain")),
        };
        assert_eq!(error.to_string(), "-u/--user: 'x\\ny\\u{1b}[31m' is bad");
        assert_eq!(error.hint().unwrap().to_string(), "try\\r\\tagain");
        let file = Error::file("a\u{7}.yaml", Some("line 2"), "bad");
        assert_eq!(file.to_string(), "a\\u{7}.yaml: line 2: bad");
    }

    #[test]
    fn the_underlying_error_is_the_source_through_every_wrapper() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let transport = Error::transport("x closed the connection", None).caused_by(io());
        assert_eq!(transport.source().unwrap().to_string(), "reset by peer");
        let lost = Error::unconfirmed(Error::transport("x", None).caused_by(io()));
        assert_eq!(lost.to_string(), "x");
        assert_eq!(lost.source().unwrap().to_string(), "reset by peer");
        let partial = Error::Partial {
            account: "@a:b".to_owned(),
            missing: "a password",
            finish: "set it".to_owned(),
            cause: Box::new(lost),
        };
        let io_source = partial.source().unwrap().downcast_ref::<std::io::Error>();
        assert_eq!(
            io_source.unwrap().kind(),
            std::io::ErrorKind::ConnectionReset
        );
        let file = Error::file("f", None, "cannot be read").caused_by(io());
        assert!(file.source().is_some());
        assert!(Error::input("x", "y").source().is_none());
    }
}
