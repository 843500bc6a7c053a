//! What the user sees: the reference's lines, one JSON object, or a bare
//! access token on stdout; errors, hints and notices on stderr.

use crate::cli::OutputFormat;
use crate::client::Registered;
use crate::error::Error;
use crate::secret::SecretString;
use serde_json::{Value, json};
use std::io::Write;

#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    format: OutputFormat,
}

impl Reporter {
    pub fn new(format: OutputFormat) -> Self {
        Reporter { format }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// A notice or warning that does not stop the run; always on stderr.
    pub fn notice(&self, message: &str) {
        eprintln!("{message}");
    }

    /// Right before the registration request, as the reference prints it.
    pub fn sending(&self) {
        if self.format == OutputFormat::Text {
            println_flushed("Sending registration request...");
        }
    }

    pub fn created(&self, registered: &Registered, generated: Option<&SecretString>) {
        match self.format {
            OutputFormat::Text => {
                println_flushed("Success!");
                if let Some(password) = generated {
                    println_flushed(&format!("Generated password: {}", password.expose()));
                }
            }
            OutputFormat::Json => {
                let mut object = json!({
                    "user_id": registered.user_id,
                    "access_token": registered.access_token,
                    "device_id": registered.device_id,
                    "home_server": registered.home_server,
                    "created": true,
                });
                if let Some(password) = generated {
                    object["password"] = Value::from(password.expose());
                }
                println_flushed(&object.to_string());
            }
            OutputFormat::Token => {
                // Checked before: token mode needs an access token.
                println_flushed(registered.access_token.as_deref().unwrap_or_default());
            }
        }
    }

    /// `--exists-ok` and the user was already there.
    pub fn already_exists(&self, user_id: Option<&str>) {
        match self.format {
            OutputFormat::Text => println_flushed("User already exists. Skipping."),
            OutputFormat::Json => println_flushed(
                &json!({
                    "user_id": user_id,
                    "access_token": null,
                    "device_id": null,
                    "home_server": null,
                    "created": false,
                })
                .to_string(),
            ),
            OutputFormat::Token => {
                eprintln!(
                    "User already exists. Skipping. (no access token: no account was created)"
                )
            }
        }
    }

    pub fn failed(&self, error: &Error, user_id: Option<&str>) {
        match (self.format, error) {
            (OutputFormat::Text, Error::Refused(refusal)) => {
                // The reference's lines, on stdout, so scripts that read them keep working.
                println_flushed(&format!(
                    "ERROR! Received {} {}",
                    refusal.status, refusal.reason
                ));
                if let Some(text) = refusal
                    .error
                    .as_ref()
                    .filter(|_| (400..500).contains(&refusal.status))
                {
                    println_flushed(text);
                }
            }
            (OutputFormat::Json, _) => {
                println_flushed(&failure_json(error, user_id).to_string());
            }
            _ => {}
        }
        // Also on stderr in every format, so that the reason shows when
        // stdout goes to a file or a pipe.
        report_error(error);
    }
}

/// The `error:` line and, for a well-known failure, the `hint:` line, on stderr.
pub fn report_error(error: &Error) {
    eprintln!("error: {error}");
    if let Some(hint) = error.hint() {
        eprintln!("hint: {hint}");
    }
}

/// The `-o json` object for a failure.
pub fn failure_json(error: &Error, user_id: Option<&str>) -> Value {
    let (errcode, text, status) = match error {
        Error::Refused(refusal) => (
            refusal.errcode.clone(),
            refusal.error.clone().unwrap_or_else(|| error.to_string()),
            Some(refusal.status),
        ),
        Error::Delegated { status, .. } => (None, error.to_string(), *status),
        _ => (None, error.to_string(), None),
    };
    json!({
        "user_id": user_id,
        "created": false,
        "errcode": errcode,
        "error": text,
        "status": status,
        "kind": error.kind(),
        "exit_code": error.exit_code(),
    })
}

/// Writes a line and flushes it, so that a reader of a pipe sees each line as
/// it happens. A closed stdout (`| head`) is not an error worth a panic.
pub fn println_flushed(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Refusal;

    #[test]
    fn failure_json_carries_the_server_errcode() {
        let error = Error::Refused(Refusal {
            status: 400,
            reason: "Bad Request".into(),
            errcode: Some("M_USER_IN_USE".into()),
            error: Some("User ID already taken.".into()),
            retry_after_ms: None,
        });
        let object = failure_json(&error, Some("@a:b"));
        assert_eq!(object["errcode"], "M_USER_IN_USE");
        assert_eq!(object["error"], "User ID already taken.");
        assert_eq!(object["status"], 400);
        assert_eq!(object["created"], false);
        assert_eq!(object["exit_code"], 1);
        let local = failure_json(&Error::input("-u", "bad"), None);
        assert_eq!(local["kind"], "input");
        assert_eq!(local["errcode"], Value::Null);
    }
}
