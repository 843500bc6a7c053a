//! Reading the server's answers: bodies within a cap, the nonce, the new
//! account and refusals.

use super::diagnose::root_cause;
use super::{HttpOptions, MAX_BODY_BYTES};
use crate::error::{Error, Hint, Refusal, Result, Setting, escape_control_characters};
use crate::files::Capped;
use crate::secret::SecretString;
use reqwest::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the server answers on success.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registered {
    /// The new account's full Matrix ID (`@localpart:server`).
    pub user_id: String,
    /// A token to act as the new account; its `Debug` is redacted.
    pub access_token: Option<AccessToken>,
    /// The device the token belongs to.
    pub device_id: Option<String>,
    /// The server's name, as the server gives it.
    pub home_server: Option<String>,
}

/// An access token: whoever holds it acts as the account. `Debug` shows
/// `AccessToken(<redacted>)`; [`AccessToken::expose`] gives the token
/// itself, for the one place that needs it. The memory is wiped on drop.
///
/// ```
/// # use register_new_matrix_user::AccessToken;
/// let token = AccessToken::new("syt_secret");
/// assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
/// assert_eq!(token.expose(), "syt_secret");
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct AccessToken(SecretString);

impl AccessToken {
    /// A token from its text.
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(SecretString::new(token.into()))
    }

    /// The token itself.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl From<String> for AccessToken {
    fn from(token: String) -> Self {
        AccessToken::new(token)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[derive(Serialize)]
pub(crate) struct RegisterBody<'a> {
    pub(super) nonce: &'a str,
    pub(super) username: &'a str,
    pub(super) password: &'a str,
    pub(super) mac: &'a str,
    pub(super) admin: bool,
    pub(super) user_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) displayname: Option<&'a str>,
}

#[derive(Deserialize)]
struct NonceAnswer {
    nonce: String,
}

/// Which answer is being read, as messages name it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stage {
    Nonce,
    Registration,
}

impl Stage {
    pub(super) fn name(self) -> &'static str {
        match self {
            Stage::Nonce => "nonce",
            Stage::Registration => "registration",
        }
    }
}

/// The body of a `200 OK` answer.
pub(super) enum Body {
    Complete(Vec<u8>),
    /// Cut off, too large, or not read in time: what went wrong.
    Unreadable(Error),
}

/// Reads at most `MAX_BODY_BYTES` of the body, chunk by chunk; also says
/// whether that was all of it.
pub(super) async fn read_body(
    mut response: Response,
    target: &str,
    options: &HttpOptions,
) -> Result<(Vec<u8>, bool)> {
    let mut body = Capped::new(MAX_BODY_BYTES);
    while body.wants_more() {
        match response.chunk().await {
            Ok(Some(chunk)) => body.push(&chunk),
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err(Error::transport_with(
                    format!(
                        "{target} did not finish its answer within {} s",
                        options.timeout.as_secs_f64()
                    ),
                    Hint::text("is the server overloaded or stuck? Raise the limit with ")
                        .setting(Setting::Timeout),
                )
                .caused_by(e));
            }
            Err(e) => {
                return Err(Error::transport(
                    format!("{target} broke off its answer halfway ({})", root_cause(&e)),
                    Some("is there a proxy in front of the server? It is safe to retry"),
                )
                .caused_by(e));
            }
        }
    }
    Ok(body.finish())
}

/// The nonce from the body of a 200 answer to the GET.
pub fn parse_nonce(body: &[u8]) -> Result<String> {
    parse_json::<NonceAnswer>(body, Stage::Nonce).map(|answer| answer.nonce)
}

/// The new account from the body of a 200 answer to the POST. Messages name
/// the user ID, so its control characters are escaped as in [`parse_refusal`]
/// (a real Matrix user ID has none).
pub fn parse_registered(body: &[u8]) -> Result<Registered> {
    // serde's words for a field of another type repeat its value, and the
    // access token is a secret: the field and the type found are named.
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) {
        for name in ["user_id", "access_token", "device_id", "home_server"] {
            let found = match fields.get(name) {
                Some(serde_json::Value::Bool(_)) => "a boolean",
                Some(serde_json::Value::Number(_)) => "a number",
                Some(serde_json::Value::Array(_)) => "a list",
                Some(serde_json::Value::Object(_)) => "an object",
                _ => continue,
            };
            return Err(not_expected(
                Stage::Registration,
                &format!("{name}: expected a string, found {found}"),
            ));
        }
    }
    let mut registered: Registered = parse_json(body, Stage::Registration)?;
    registered.user_id = escape_control_characters(&registered.user_id);
    Ok(registered)
}

/// A refusal from an error answer's status and body. Any body is accepted: a
/// proxy's HTML page or an empty body gives a refusal without details. Each
/// field is read on its own, so that one of an unexpected type (a number for
/// `errcode`, a float for `retry_after_ms`) loses only itself. The server's
/// `error` text is printed as the reference prints it (a value that is not a
/// string as its JSON text), with its control characters escaped: a hostile
/// server must not split our one line or send terminal escape sequences.
pub fn parse_refusal(status: u16, body: &[u8]) -> Refusal {
    let details: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    // A number too large for serde_json (`1e400`, which Python reads as
    // infinity) makes the whole body unreadable: each field is then read
    // on its own, so that only the field holding it is lost.
    let field = |name: &str| {
        match &details {
            Some(details) => details.get(name).cloned(),
            None => field_alone(body, name),
        }
        .filter(|value| !value.is_null())
    };
    Refusal {
        status,
        reason: StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned(),
        errcode: field("errcode")
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .map(escape_control_characters),
        error: field("error").map(|error| {
            escape_control_characters(&match error.as_str() {
                Some(text) => text.to_owned(),
                None => error.to_string(),
            })
        }),
        retry_after_ms: field("retry_after_ms").as_ref().and_then(milliseconds),
    }
}

/// One field of a JSON object, the other fields skipped unparsed; `None`
/// when the body is not an object or this field cannot be read.
fn field_alone(body: &[u8], name: &str) -> Option<serde_json::Value> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    struct Field<'a>(&'a str);
    impl<'de> Visitor<'de> for Field<'_> {
        type Value = Option<serde_json::Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<String>()? {
                // The last of repeated keys counts, as for Python's json.
                if key == self.0 {
                    found = Some(map.next_value()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    impl<'de> DeserializeSeed<'de> for Field<'_> {
        type Value = Option<serde_json::Value>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = Field(name).deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    value
}

/// `retry_after_ms` as a whole number of milliseconds: an integer as is, a
/// fraction rounded up, a number in a string read as one; a huge value
/// saturates. A negative value or anything else asks for no particular wait.
fn milliseconds(value: &serde_json::Value) -> Option<u64> {
    let number = match value {
        serde_json::Value::Number(number) => match number.as_u64() {
            Some(whole) => return Some(whole),
            None => number.as_f64()?,
        },
        serde_json::Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    // `as` saturates: 1e30 becomes u64::MAX.
    (number.is_finite() && number >= 0.0).then(|| number.ceil() as u64)
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], stage: Stage) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| not_expected(stage, &json_problem(&e)))
}

fn not_expected(stage: Stage, problem: &str) -> Error {
    Error::transport(
        format!(
            "the server's {} answer is not the expected JSON ({problem})",
            stage.name()
        ),
        Some(
            "is this URL a Matrix homeserver? check the port and any reverse proxy in front of it",
        ),
    )
}

pub(super) fn status_line(status: StatusCode, reason: &str) -> String {
    format!("{} {reason}", status.as_u16())
        .trim_end()
        .to_owned()
}

/// The reason phrase of the answer's status line, as the reference prints it
/// (`500 Kaputt` stays `Kaputt`, an empty phrase stays empty), without the
/// blanks around it, which Python's http.client strips. hyper's parser keeps
/// only tabs, spaces and visible ASCII (a phrase with other bytes arrives
/// empty); a tab is escaped, as in all server text.
pub(super) fn reason_phrase(response: &Response) -> String {
    match response.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(phrase) => {
            let text = String::from_utf8_lossy(phrase.as_bytes());
            escape_control_characters(text.trim_matches([' ', '\t']))
        }
        // hyper keeps the phrase only when it differs from the standard one.
        None => response
            .status()
            .canonical_reason()
            .unwrap_or("")
            .to_owned(),
    }
}

fn json_problem(error: &serde_json::Error) -> String {
    if error.is_data() {
        error.to_string()
    } else {
        "it does not parse as JSON".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by fuzzing (fuzz/fuzz_targets/response.rs): JSON allows a raw DEL
    // and escaped newlines or ESC in strings, and the error text reaches the
    // terminal.
    #[test]
    fn a_refusal_text_has_its_control_characters_escaped() {
        let body = b"{\"errcode\":\"M_X\",\"error\":\"a\x7fb\\nc\\u001b[2Jd \\u00e9\"}";
        let refusal = parse_refusal(400, body);
        assert_eq!(
            refusal.error.as_deref(),
            Some("a\\u{7f}b\\nc\\u{1b}[2Jd \u{e9}")
        );
        assert_eq!(refusal.reason, "Bad Request");
        assert_eq!(parse_refusal(1000, b"<html>").reason, "");
        let registered = parse_registered(b"{\"user_id\":\"@a\\r:x\"}").unwrap();
        assert_eq!(registered.user_id, "@a\\r:x");
    }

    /// Invariant 4: a field of an unexpected type loses only itself.
    #[test]
    fn each_field_of_a_refusal_is_read_on_its_own() {
        let refusal = |body: &str| parse_refusal(429, body.as_bytes());
        let limited = |ms: &str| {
            refusal(&format!(
                r#"{{"errcode": "M_LIMIT_EXCEEDED", "error": "Slow down", "retry_after_ms": {ms}}}"#
            ))
        };
        for (ms, expected) in [
            ("2000", Some(2000)),
            ("1500.2", Some(1501)),
            ("-5", None),
            ("-0.5", None),
            ("\"2500\"", Some(2500)),
            ("\"soon\"", None),
            ("1e30", Some(u64::MAX)),
            ("184467440737095516150", Some(u64::MAX)),
            ("true", None),
            ("null", None),
            ("{}", None),
        ] {
            let refusal = limited(ms);
            assert_eq!(refusal.retry_after_ms, expected, "{ms}");
            assert_eq!(refusal.errcode.as_deref(), Some("M_LIMIT_EXCEEDED"), "{ms}");
            assert_eq!(refusal.error.as_deref(), Some("Slow down"), "{ms}");
        }
        let odd = refusal(r#"{"errcode": 42, "error": "Denied", "retry_after_ms": 10}"#);
        assert_eq!(odd.errcode, None);
        assert_eq!(odd.error.as_deref(), Some("Denied"));
        assert_eq!(odd.retry_after_ms, Some(10));
        let odd = refusal(r#"{"errcode": "M_UNKNOWN", "error": {"why": "x\u001b"}}"#);
        assert_eq!(odd.errcode.as_deref(), Some("M_UNKNOWN"));
        assert_eq!(odd.error.as_deref(), Some(r#"{"why":"x\u001b"}"#));
        assert_eq!(refusal(r#"{"error": 7}"#).error.as_deref(), Some("7"));
        assert_eq!(refusal(r#"["error"]"#), parse_refusal(429, b""));
        // Beyond what serde_json reads (Python reads it as infinity): only
        // that field is lost, wherever it is.
        for body in [
            r#"{"errcode": "M_LIMIT_EXCEEDED", "error": "Slow down", "retry_after_ms": 1e400}"#,
            r#"{"retry_after_ms": -1e400, "error": "Slow down", "errcode": "M_LIMIT_EXCEEDED"}"#,
            r#"{"errcode": "M_X", "errcode": "M_LIMIT_EXCEEDED", "error": "Slow down", "x": [1e999]}"#,
        ] {
            let refusal = refusal(body);
            assert_eq!(
                refusal.errcode.as_deref(),
                Some("M_LIMIT_EXCEEDED"),
                "{body}"
            );
            assert_eq!(refusal.error.as_deref(), Some("Slow down"), "{body}");
            assert_eq!(refusal.retry_after_ms, None, "{body}");
        }
        let odd = refusal(r#"{"errcode": 1e400, "error": "Denied", "retry_after_ms": 10}"#);
        assert_eq!(odd.errcode, None);
        assert_eq!(odd.error.as_deref(), Some("Denied"));
        assert_eq!(odd.retry_after_ms, Some(10));
        assert_eq!(refusal(r#"{"error": "a"} x"#), parse_refusal(429, b""));
    }

    #[test]
    fn the_body_has_the_reference_fields() {
        let body = RegisterBody {
            nonce: "n",
            username: "u",
            password: "p",
            mac: "m",
            admin: false,
            user_type: None,
            displayname: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"nonce": "n", "username": "u", "password": "p", "mac": "m", "admin": false, "user_type": null})
        );
    }
}
