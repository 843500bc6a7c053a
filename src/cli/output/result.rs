//! The one JSON result type: what `-o json` and `--batch` print for a
//! registration, built only through its constructors.

use super::refusal;
use crate::cli::error::Error;
use crate::client::{AccessToken, Registered};
use crate::secret::SecretString;
use serde::Serialize;

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
