//! Local checks of what the server would refuse anyway, so that a mistake is
//! reported before anything is sent.

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The server's limit on usernames and passwords, in characters (Unicode
/// code points, as Python counts a `str`), not bytes.
pub const MAX_FIELD_CHARS: usize = 512;
/// The Matrix limit on a whole user ID, `@localpart:server_name`.
pub const MAX_USER_ID_CHARS: usize = 255;

/// The localpart from `-u`: either a bare localpart or a full user ID
/// `@alice:example.org`, whose server name must match the config's when the
/// config names one.
pub fn localpart_from_user_arg<'a>(
    user: &'a str,
    source: &str,
    server_name: Option<&str>,
) -> Result<&'a str> {
    let Some(user_id) = user.strip_prefix('@') else {
        return Ok(user);
    };
    let Some((localpart, server)) = user_id.split_once(':') else {
        return Err(Error::Input {
            source: source.to_owned(),
            problem: format!("'{user}' is not a user ID of the form @localpart:server_name"),
            hint: Some(crate::error::Hint::from(
                "pass the localpart alone, e.g. -u alice",
            )),
        });
    };
    if let Some(expected) = server_name {
        if server != expected {
            return Err(Error::Input {
                source: source.to_owned(),
                problem: format!(
                    "'{user}' belongs to server '{server}', but the config's server_name is '{expected}'"
                ),
                hint: Some(crate::error::Hint::from(
                    "check that you are registering on the right server",
                )),
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
    source: &str,
    server_name: Option<&str>,
    refuse_underscore_prefix: bool,
) -> Result<()> {
    let fail = |problem: String| Err(Error::input(source, problem));
    if localpart.is_empty() {
        return fail("Invalid user name: it is empty".to_owned());
    }
    if localpart.chars().count() > MAX_FIELD_CHARS {
        return fail(format!(
            "the user name is longer than {MAX_FIELD_CHARS} characters"
        ));
    }
    let lower = localpart.to_lowercase();
    if let Some(bad) = lower.chars().find(|c| !is_localpart_char(*c)) {
        return fail(format!(
            "'{localpart}' contains {bad:?}: a user name can only contain a-z, 0-9, or '=_-./+'"
        ));
    }
    if refuse_underscore_prefix && lower.starts_with('_') {
        return Err(Error::Input {
            source: source.to_owned(),
            problem: format!("'{localpart}' starts with '_', which the server refuses"),
            hint: Some(crate::error::Hint::from(
                "unless allow_underscore_prefixed_localpart is true in its config".to_owned(),
            )),
        });
    }
    if lower.bytes().all(|b| b.is_ascii_digit()) {
        return fail(format!(
            "'{localpart}' is all digits: numeric user IDs are reserved for guest users"
        ));
    }
    if let Some(server_name) = server_name {
        let length = format!("@{lower}:{server_name}").chars().count();
        if length > MAX_USER_ID_CHARS {
            return fail(format!(
                "the user ID @{lower}:{server_name} is {length} characters long; the limit is {MAX_USER_ID_CHARS}"
            ));
        }
    }
    Ok(())
}

fn is_localpart_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '=' | '_' | '-' | '.' | '/' | '+')
}

/// Checks a password against the server's rules: not empty, at most 512
/// characters, no NUL.
pub fn check_password(password: &SecretString, source: &str) -> Result<()> {
    let password = password.expose();
    if password.is_empty() {
        return Err(Error::input(source, "Password cannot be blank."));
    }
    let length = password.chars().count();
    if length > MAX_FIELD_CHARS {
        return Err(Error::input(
            source,
            format!(
                "the password is {length} characters long; the server accepts at most {MAX_FIELD_CHARS}"
            ),
        ));
    }
    if password.contains('\0') {
        return Err(Error::input(
            source,
            "the password contains a NUL character",
        ));
    }
    Ok(())
}

/// Checks a user type: `bot`, `support`, or one of the config's
/// `extra_user_types`. Without a config the server's extra types are
/// unknown, so any other non-empty name is left for the server to judge.
pub fn check_user_type(
    user_type: &str,
    source: &str,
    known_extra: Option<&[String]>,
) -> Result<()> {
    if user_type.is_empty() || user_type.contains('\0') {
        return Err(Error::input(
            source,
            "the user type must be a non-empty name",
        ));
    }
    if let Some(extra) = known_extra {
        let known = ["bot", "support"].contains(&user_type) || extra.iter().any(|t| t == user_type);
        if !known {
            let mut all = vec!["bot".to_owned(), "support".to_owned()];
            all.extend(extra.iter().cloned());
            return Err(Error::Input {
                source: source.to_owned(),
                problem: format!("unknown user type '{user_type}'"),
                hint: Some(crate::error::Hint::from(format!(
                    "the server accepts {} (more can be added with user_types.extra_user_types)",
                    all.join(", ")
                ))),
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
        assert_eq!(
            localpart_from_user_arg("alice", "-u", None).unwrap(),
            "alice"
        );
        assert_eq!(
            localpart_from_user_arg("@alice:example.org", "-u", None).unwrap(),
            "alice"
        );
        assert_eq!(
            localpart_from_user_arg("@alice:example.org:8448", "-u", Some("example.org:8448"))
                .unwrap(),
            "alice"
        );
        let wrong = localpart_from_user_arg("@alice:other.org", "-u", Some("example.org"));
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("server_name is 'example.org'")
        );
        assert!(localpart_from_user_arg("@alice", "-u", None).is_err());
    }

    #[test]
    fn localpart_rules() {
        for good in ["alice", "Alice", "a.b_c-d=e/f+g", "bot1", "x"] {
            check_localpart(good, "-u", Some("example.org"), true).unwrap();
        }
        for bad in [
            "", "bad user", "ali:ce", "é", "a@b", "_hidden", "12345", "tab\t",
        ] {
            let error = check_localpart(bad, "-u", None, true).unwrap_err();
            assert_eq!(error.exit_code(), 3, "{bad}");
        }
        let long = "a".repeat(250);
        check_localpart(&long, "-u", None, true).unwrap();
        let error = check_localpart(&long, "-u", Some("example.org"), true).unwrap_err();
        assert!(error.to_string().contains("the limit is 255"), "{error}");
        assert!(check_localpart(&"a".repeat(513), "-u", None, true).is_err());
        // The Kelvin sign is three bytes, and lowercases to 'k'.
        check_localpart(&"\u{212A}".repeat(512), "-u", None, true).unwrap();
        // Left to the server when no config says it refuses them.
        check_localpart("_hidden", "-u", None, false).unwrap();
    }

    #[test]
    fn password_rules() {
        check_password(&"p".into(), "-p").unwrap();
        // The server counts characters: 512 two-byte ones are accepted.
        check_password(&"é".repeat(512).into(), "-p").unwrap();
        assert!(check_password(&"".into(), "-p").is_err());
        assert!(check_password(&"é".repeat(513).into(), "-p").is_err());
        assert!(check_password(&"a\0b".into(), "-p").is_err());
        let error = check_password(&"x".repeat(600).into(), "--password-file").unwrap_err();
        assert!(!error.to_string().contains("xxx"));
    }

    #[test]
    fn user_type_rules() {
        check_user_type("bot", "-t", Some(&[])).unwrap();
        check_user_type("support", "-t", Some(&[])).unwrap();
        check_user_type("tester", "-t", Some(&["tester".to_owned()])).unwrap();
        check_user_type("anything", "-t", None).unwrap();
        let error = check_user_type("robot", "-t", Some(&[])).unwrap_err();
        assert!(error.hint().unwrap().to_string().contains("bot, support"));
        assert!(check_user_type("", "-t", None).is_err());
    }
}
