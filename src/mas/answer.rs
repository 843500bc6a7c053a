//! Reading MAS's answers: the admin API's JSON:API documents, the token
//! endpoint's OAuth answers, their errors, and what each well-known error
//! means.

use crate::client::Exchanged;
use crate::error::{Error, Hint, Refusal, Setting};
use crate::secret::SecretString;
use serde_json::Value;
use std::time::Duration;

/// MAS's title when it cannot ask the homeserver whether a name is free:
/// nothing was created.
pub(super) const SYNAPSE_UNREACHABLE: &str = "Failed to check localpart availability";

/// An admin token, with the lifetime MAS gave it.
pub(super) struct Token {
    pub(super) value: SecretString,
    pub(super) lifetime: Duration,
}

/// The token endpoint's answer. MAS gives 300 s; without `expires_in`, a
/// minute is assumed so that the token is renewed rather than kept forever.
pub(super) fn token(body: &[u8]) -> Option<Token> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value.get("access_token")?.as_str()?.to_owned();
    let lifetime = value
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(60);
    Some(Token {
        value: SecretString::new(token),
        lifetime: Duration::from_secs(lifetime),
    })
}

/// `data.id` of a user document.
pub(super) fn created_id(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let id = value.get("data")?.get("id")?.as_str()?;
    // The id goes into a URL path: a hostile answer must not steer it.
    id.chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then(|| id.to_owned())
}

/// `data.attributes.access_token` of a personal-session document.
pub(super) fn session_token(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value
        .get("data")?
        .get("attributes")?
        .get("access_token")?
        .as_str()?;
    Some(token.to_owned())
}

/// The error's titles (admin API) or description (OAuth), one text.
fn error_text(value: &Value) -> Option<String> {
    if let Some(errors) = value.get("errors").and_then(Value::as_array) {
        let titles: Vec<&str> = errors
            .iter()
            .filter_map(|e| e.get("title").and_then(Value::as_str))
            .collect();
        return (!titles.is_empty()).then(|| titles.join(": "));
    }
    value
        .get("error_description")
        .or_else(|| value.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Whether the admin API's first error title starts with `title`.
pub(super) fn title_is(body: &[u8], title: &str) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| error_text(&v))
        .is_some_and(|text| text.starts_with(title))
}

/// An error answer of `step`, as a refusal: the OAuth error code (such as
/// `invalid_scope`) as its code, the step and MAS's text as its message.
pub(super) fn refusal(step: &str, answer: &Exchanged) -> Error {
    let value: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    // A Matrix error (from a homeserver given as MAS) has its code in
    // errcode; an OAuth error in error.
    let errcode = match value.get("errcode") {
        Some(code) => code.as_str(),
        None => value.get("error").and_then(Value::as_str),
    }
    .map(crate::redact::escape_control_characters);
    // MAS's words go into one line and into JSON: through the one redaction
    // point, as a homeserver's are.
    let text = error_text(&value)
        .map(|text| crate::redact::escape_control_characters(&text))
        .unwrap_or_else(|| "no error given".to_owned());
    Error::Refused(Refusal {
        status: answer.status,
        reason: answer.reason.clone(),
        errcode,
        error: Some(format!("MAS {step}: {text}")),
        retry_after_ms: None,
    })
}

/// What a refusal from MAS means, in one line, or `None` when it is not
/// one of MAS's well-known refusals.
pub(crate) fn hint(refusal: &Refusal) -> Option<Hint> {
    let text = refusal.error.as_deref()?.strip_prefix("MAS ")?;
    let has = |needle: &str| text.contains(needle);
    let hint = match (refusal.status, refusal.errcode.as_deref()) {
        (_, Some("invalid_scope")) => {
            "this client may not have the urn:mas:admin scope: add its client_id to policy.data.admin_clients in MAS's config and restart MAS"
        }
        (_, Some("invalid_client")) => {
            "MAS did not accept the client: check its client_id and secret against the clients section of MAS's config (client_auth_method client_secret_basic or client_secret_post)"
        }
        (401, _) if has("Missing urn:mas:admin scope") => {
            "the token lacks the urn:mas:admin scope: use a client listed in policy.data.admin_clients, or a personal access token with that scope"
        }
        (401, _) => {
            "MAS refused the admin token (expired, revoked or not MAS's): use an admin client instead, or a fresh token"
        }
        (409, _) if has("User already exists") => {
            return Some(
                Hint::text("pass ")
                    .setting(Setting::ExistsOk)
                    .then(" to treat an existing account as success"),
            );
        }
        (409, _) if has("reserved by the homeserver") => {
            "the homeserver keeps this name (all-digit names, an application service's namespace): choose another"
        }
        (400, _) if has("Username is not valid") => {
            "MAS usernames use only a-z, 0-9 and = _ - . / +, and do not start with _"
        }
        (400, _) if has("Password is too weak") => {
            "choose a stronger password (MAS's passwords.minimum_complexity)"
        }
        (500, _) if has(SYNAPSE_UNREACHABLE) => {
            "MAS is up but cannot reach the homeserver: is Synapse running, and is MAS's matrix.endpoint its address? Nothing was created"
        }
        (429, _) => "MAS is rate-limiting requests; retry later",
        (404, _) if has("token request") => {
            "no token endpoint here: the MAS URL must be MAS's own address (http.public_base), not the homeserver's"
        }
        (404, _) => {
            "no admin API here: the MAS URL must be the address of MAS's listener that serves the adminapi resource"
        }
        _ => return None,
    };
    Some(Hint::text(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Exchanged {
        Exchanged {
            status,
            reason: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn refusals_keep_mas_s_code_and_text_and_get_their_hint() {
        let cases = [
            (
                403,
                r#"{"error":"invalid_scope","error_description":"scope 'urn:mas:admin' not allowed"}"#,
                "policy.data.admin_clients",
            ),
            (
                401,
                r#"{"error":"invalid_client","error_description":"Client authentication failed."}"#,
                "client_id and secret",
            ),
            (
                409,
                r#"{"errors":[{"title":"Username is reserved by the homeserver"}]}"#,
                "choose another",
            ),
            (
                400,
                r#"{"errors":[{"title":"Username is not valid"}]}"#,
                "a-z, 0-9",
            ),
            (
                500,
                r#"{"errors":[{"title":"Failed to check localpart availability from Synapse"},{"title":"tcp connect error"}]}"#,
                "is Synapse running",
            ),
        ];
        for (status, body, expected) in cases {
            let Error::Refused(refusal) = refusal("user creation", &answer(status, body)) else {
                panic!("a refusal");
            };
            assert!(
                refusal
                    .error
                    .as_deref()
                    .unwrap()
                    .starts_with("MAS user creation: ")
            );
            let hint = refusal.hint().unwrap().to_string();
            assert!(hint.contains(expected), "{status}: {hint}");
        }
        let Error::Refused(taken) = refusal(
            "user creation",
            &answer(409, r#"{"errors":[{"title":"User already exists"}]}"#),
        ) else {
            panic!("a refusal");
        };
        assert_eq!(
            taken.hint().unwrap().parts()[1],
            crate::error::HintPart::Setting(Setting::ExistsOk)
        );
    }

    /// MAS's text and code reach `error:` lines and JSON: a hostile answer
    /// must not split a line or drive the terminal.
    #[test]
    fn mas_s_words_go_through_the_redaction_point() {
        let body = r#"{"error":"bad\u001b[2J","error_description":"line one\nerror: forged"}"#;
        let Error::Refused(refusal) = refusal("token request", &answer(400, body)) else {
            panic!("a refusal");
        };
        assert_eq!(refusal.errcode.as_deref(), Some("bad\\u{1b}[2J"));
        assert_eq!(
            refusal.error.as_deref(),
            Some("MAS token request: line one\\nerror: forged")
        );
    }

    #[test]
    fn answers_are_read_and_a_hostile_id_is_refused() {
        assert_eq!(
            created_id(br#"{"data":{"id":"01ABC"}}"#).as_deref(),
            Some("01ABC")
        );
        assert_eq!(created_id(br#"{"data":{"id":"../../x"}}"#), None);
        assert_eq!(created_id(b"not json"), None);
        let token = token(br#"{"access_token":"mat_x","expires_in":300}"#).unwrap();
        assert_eq!(token.lifetime, Duration::from_secs(300));
        assert_eq!(
            session_token(br#"{"data":{"attributes":{"access_token":"mpt_y"}}}"#).as_deref(),
            Some("mpt_y")
        );
        assert!(title_is(
            br#"{"errors":[{"title":"User already exists"}]}"#,
            "User already exists"
        ));
    }
}
