//! Local checks of what the server would refuse anyway, so that a mistake is
//! reported before anything is sent. A check returns a [`Rejection`]; the
//! caller says where the value came from ([`Rejection::labelled`]) or
//! reports it its own way.

use crate::cli::error::Error;
use crate::error::Hint;
use crate::secret::SecretString;
use std::fmt;

/// The server's limit on usernames and passwords, in characters (Unicode
/// code points, as Python counts a `str`), not bytes.
pub const MAX_FIELD_CHARS: usize = 512;
/// The Matrix limit on a whole user ID, `@localpart:server_name`.
pub const MAX_USER_ID_CHARS: usize = 255;

/// Why a value would be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotAUserId {
        given: String,
    },
    OtherServer {
        given: String,
        server: String,
        expected: String,
    },
    EmptyLocalpart,
    LongLocalpart,
    BadCharacter {
        localpart: String,
        character: char,
    },
    UnderscorePrefix {
        localpart: String,
    },
    AllDigits {
        localpart: String,
    },
    LongUserId {
        user_id: String,
        length: usize,
    },
    BlankPassword,
    LongPassword {
        length: usize,
    },
    NulInPassword,
    BadUserType,
    UnknownUserType {
        given: String,
        known: Vec<String>,
    },
}

impl Rejection {
    /// How to put it right, where there is more to say than the problem.
    pub fn hint(&self) -> Option<Hint> {
        let text = match self {
            Rejection::NotAUserId { .. } => "pass the localpart alone, e.g. -u alice".to_owned(),
            Rejection::OtherServer { .. } => {
                "check that you are registering on the right server".to_owned()
            }
            Rejection::UnderscorePrefix { .. } => {
                "unless allow_underscore_prefixed_localpart is true in its config".to_owned()
            }
            Rejection::UnknownUserType { known, .. } => format!(
                "the server accepts {} (more can be added with user_types.extra_user_types)",
                known.join(", ")
            ),
            _ => return None,
        };
        Some(Hint::from(text))
    }

    /// Whether it is about a full user ID given for a localpart, whose hints
    /// speak of the command line (batch rows leave them out).
    pub fn is_about_user_id(&self) -> bool {
        matches!(
            self,
            Rejection::NotAUserId { .. } | Rejection::OtherServer { .. }
        )
    }

    /// The error, saying where the value came from: an option, a prompt, a
    /// batch line.
    pub fn labelled(self, origin: impl Into<String>) -> Error {
        crate::Error::Input {
            origin: origin.into(),
            problem: self.to_string(),
            hint: self.hint(),
        }
        .into()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotAUserId { given } => write!(
                f,
                "'{given}' is not a user ID of the form @localpart:server_name"
            ),
            Rejection::OtherServer {
                given,
                server,
                expected,
            } => write!(
                f,
                "'{given}' belongs to server '{server}', but the config's server_name is '{expected}'"
            ),
            Rejection::EmptyLocalpart => f.write_str("Invalid user name: it is empty"),
            Rejection::LongLocalpart => write!(
                f,
                "the user name is longer than {MAX_FIELD_CHARS} characters"
            ),
            Rejection::BadCharacter {
                localpart,
                character,
            } => write!(
                f,
                "'{localpart}' contains {character:?}: a user name can only contain a-z, 0-9, or '=_-./+'"
            ),
            Rejection::UnderscorePrefix { localpart } => {
                write!(f, "'{localpart}' starts with '_', which the server refuses")
            }
            Rejection::AllDigits { localpart } => write!(
                f,
                "'{localpart}' is all digits: numeric user IDs are reserved for guest users"
            ),
            Rejection::LongUserId { user_id, length } => write!(
                f,
                "the user ID {user_id} is {length} characters long; the limit is {MAX_USER_ID_CHARS}"
            ),
            Rejection::BlankPassword => f.write_str("Password cannot be blank."),
            Rejection::LongPassword { length } => write!(
                f,
                "the password is {length} characters long; the server accepts at most {MAX_FIELD_CHARS}"
            ),
            Rejection::NulInPassword => f.write_str("the password contains a NUL character"),
            Rejection::BadUserType => f.write_str("the user type must be a non-empty name"),
            Rejection::UnknownUserType { given, .. } => write!(f, "unknown user type '{given}'"),
        }
    }
}

type Checked<T = ()> = Result<T, Rejection>;

/// The localpart from `-u`: either a bare localpart or a full user ID
/// `@alice:example.org`, whose server name must match the config's when the
/// config names one.
pub fn localpart_from_user_arg<'a>(user: &'a str, server_name: Option<&str>) -> Checked<&'a str> {
    let Some(user_id) = user.strip_prefix('@') else {
        return Ok(user);
    };
    let Some((localpart, server)) = user_id.split_once(':') else {
        return Err(Rejection::NotAUserId {
            given: user.to_owned(),
        });
    };
    if let Some(expected) = server_name {
        if server != expected {
            return Err(Rejection::OtherServer {
                given: user.to_owned(),
                server: server.to_owned(),
                expected: expected.to_owned(),
            });
        }
    }
    Ok(localpart)
}

/// Checks a localpart against the server's rules. The server lowercases it
/// first, so upper case is accepted. A leading `_` is refused only when
/// `refuse_underscore_prefix`: when a config is given and does not set
/// `allow_underscore_prefixed_localpart` (without a config, the server decides).
pub fn check_localpart(
    localpart: &str,
    server_name: Option<&str>,
    refuse_underscore_prefix: bool,
) -> Checked {
    if localpart.is_empty() {
        return Err(Rejection::EmptyLocalpart);
    }
    if localpart.chars().count() > MAX_FIELD_CHARS {
        return Err(Rejection::LongLocalpart);
    }
    let lower = localpart.to_lowercase();
    if let Some(bad) = lower.chars().find(|c| !is_localpart_char(*c)) {
        return Err(Rejection::BadCharacter {
            localpart: localpart.to_owned(),
            character: bad,
        });
    }
    if refuse_underscore_prefix && lower.starts_with('_') {
        return Err(Rejection::UnderscorePrefix {
            localpart: localpart.to_owned(),
        });
    }
    if lower.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::AllDigits {
            localpart: localpart.to_owned(),
        });
    }
    if let Some(server_name) = server_name {
        let user_id = format!("@{lower}:{server_name}");
        let length = user_id.chars().count();
        if length > MAX_USER_ID_CHARS {
            return Err(Rejection::LongUserId { user_id, length });
        }
    }
    Ok(())
}

fn is_localpart_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '=' | '_' | '-' | '.' | '/' | '+')
}

/// Checks a password against the server's rules: not empty, at most 512
/// characters, no NUL.
pub fn check_password(password: &SecretString) -> Checked {
    let password = password.expose();
    if password.is_empty() {
        return Err(Rejection::BlankPassword);
    }
    let length = password.chars().count();
    if length > MAX_FIELD_CHARS {
        return Err(Rejection::LongPassword { length });
    }
    if password.contains('\0') {
        return Err(Rejection::NulInPassword);
    }
    Ok(())
}

/// Checks a user type: `bot`, `support`, or one of the config's
/// `extra_user_types`. Without a config the server's extra types are
/// unknown, so any other non-empty name is left for the server to judge.
pub fn check_user_type(user_type: &str, known_extra: Option<&[String]>) -> Checked {
    if user_type.is_empty() || user_type.contains('\0') {
        return Err(Rejection::BadUserType);
    }
    if let Some(extra) = known_extra {
        let known = ["bot", "support"].contains(&user_type) || extra.iter().any(|t| t == user_type);
        if !known {
            let mut all = vec!["bot".to_owned(), "support".to_owned()];
            all.extend(extra.iter().cloned());
            return Err(Rejection::UnknownUserType {
                given: user_type.to_owned(),
                known: all,
            });
        }
    }
    Ok(())
}

/// The user ID the server will create, when its name is known.
pub fn user_id(localpart: &str, server_name: &str) -> String {
    format!("@{}:{server_name}", localpart.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_user_ids_give_their_localpart() {
        assert_eq!(localpart_from_user_arg("alice", None).unwrap(), "alice");
        assert_eq!(
            localpart_from_user_arg("@alice:example.org", None).unwrap(),
            "alice"
        );
        assert_eq!(
            localpart_from_user_arg("@alice:example.org:8448", Some("example.org:8448")).unwrap(),
            "alice"
        );
        let wrong = localpart_from_user_arg("@alice:other.org", Some("example.org"));
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("server_name is 'example.org'")
        );
        assert!(localpart_from_user_arg("@alice", None).is_err());
    }

    #[test]
    fn localpart_rules() {
        for good in ["alice", "Alice", "a.b_c-d=e/f+g", "bot1", "x"] {
            check_localpart(good, Some("example.org"), true).unwrap();
        }
        for bad in [
            "", "bad user", "ali:ce", "é", "a@b", "_hidden", "12345", "tab\t",
        ] {
            let error = check_localpart(bad, None, true).unwrap_err().labelled("-u");
            assert_eq!(error.exit_code(), 3, "{bad}");
        }
        let long = "a".repeat(250);
        check_localpart(&long, None, true).unwrap();
        let error = check_localpart(&long, Some("example.org"), true).unwrap_err();
        assert!(error.to_string().contains("the limit is 255"), "{error}");
        assert!(check_localpart(&"a".repeat(513), None, true).is_err());
        // The Kelvin sign is three bytes, and lowercases to 'k'.
        check_localpart(&"\u{212A}".repeat(512), None, true).unwrap();
        // Left to the server when no config says it refuses them.
        check_localpart("_hidden", None, false).unwrap();
    }

    #[test]
    fn password_rules() {
        check_password(&"p".into()).unwrap();
        // The server counts characters: 512 two-byte ones are accepted.
        check_password(&"é".repeat(512).into()).unwrap();
        assert!(check_password(&"".into()).is_err());
        assert!(check_password(&"é".repeat(513).into()).is_err());
        assert!(check_password(&"a\0b".into()).is_err());
        let error = check_password(&"x".repeat(600).into()).unwrap_err();
        assert!(!error.to_string().contains("xxx"));
    }

    #[test]
    fn user_type_rules() {
        check_user_type("bot", Some(&[])).unwrap();
        check_user_type("support", Some(&[])).unwrap();
        check_user_type("tester", Some(&["tester".to_owned()])).unwrap();
        check_user_type("anything", None).unwrap();
        let error = check_user_type("robot", Some(&[])).unwrap_err();
        assert!(error.hint().unwrap().to_string().contains("bot, support"));
        assert!(check_user_type("", None).is_err());
    }
}
