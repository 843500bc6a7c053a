//! Reading MAS's answers: the admin API's JSON:API documents, the token
//! endpoint's OAuth answers and their errors (what each well-known error
//! means is in `refusal::mas`).

use crate::client::Exchanged;
use crate::error::{Error, Refusal};
use crate::secret::SecretString;
use serde_json::Value;
use std::time::Duration;

pub(super) use crate::refusal::SYNAPSE_UNREACHABLE;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Setting;

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
