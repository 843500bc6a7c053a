//! The server's refusals: an HTTP error answer, and what each well-known
//! one means.

mod mas;
pub(crate) use mas::SYNAPSE_UNREACHABLE;

use crate::hint::{Hint, Setting};

/// An HTTP error answer from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The HTTP status, e.g. 403.
    pub status: u16,
    /// The reason phrase, e.g. `Forbidden`.
    pub reason: String,
    /// The Matrix error code, e.g. `M_USER_IN_USE`, when the body has one.
    pub errcode: Option<String>,
    /// The server's own words (`error`), control characters escaped.
    pub error: Option<String>,
    /// Milliseconds the server asked us to wait (429).
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    /// 502, 503 and 504 come from a proxy or a server that is not up yet:
    /// nothing was done, so retrying is safe.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.status, 502..=504)
    }

    /// A well-known failure's explanation, one line. It keys on the status
    /// and the `errcode`, which every server on this endpoint sends, and
    /// only refines by Synapse's wording where the two say too little.
    pub fn hint(&self) -> Option<Hint> {
        if let Some(hint) = mas::hint(self) {
            return Some(hint);
        }
        let text = self.error.as_deref().unwrap_or("");
        let hint = match (self.status, self.errcode.as_deref()) {
            (_, Some("M_USER_IN_USE")) => {
                return Some(
                    Hint::text("pass ")
                        .setting(Setting::ExistsOk)
                        .then(" to treat an existing account as success"),
                );
            }
            (429, Some("M_LIMIT_EXCEEDED")) => {
                return Some(Hint::text(match self.retry_after_ms {
                    Some(ms) => format!(
                        "the server is rate-limiting requests; it asks to retry after {ms} ms"
                    ),
                    None => "the server is rate-limiting requests; retry later".to_owned(),
                }));
            }
            // Not rate limiting: Synapse answers so when a spam-checker
            // module denies a registration.
            (429, _) => {
                "the server refused this registration without saying it is rate limiting (no M_LIMIT_EXCEEDED): a spam-checker module or policy on the server may deny it; see the server's log"
            }
            // A refusal in Matrix's form: the server checked the MAC and it did
            // not match (Synapse "HMAC incorrect", Dendrite "bad mac").
            (403, Some(_)) => {
                "the shared secret differs from the one the running server loaded: check which config file the server runs with, and restart it after changing the secret"
            }
            // No Matrix error code: something in front of the server refused.
            (401 | 403, None) => {
                "refused without a Matrix error code, so by something in front of the homeserver (a reverse proxy often blocks /_synapse/admin): use the server's own client listener, on the server host"
            }
            (404, _) => {
                "no registration endpoint here: check the port and any path prefix, whether a reverse proxy hides /_synapse/admin, and whether Matrix Authentication Service is in charge (then use `mas-cli manage register-user`)"
            }
            _ if self.is_unavailable() => {
                return Some(
                    Hint::text(
                        "the server (or a proxy in front of it) is not available yet; it is safe to retry, for example with ",
                    )
                    .setting(Setting::Wait),
                );
            }
            (400, _) if text.contains("Shared secret registration is not enabled") => {
                "set registration_shared_secret (or registration_shared_secret_path) in the homeserver config and restart the server"
            }
            (400, _) if text.contains("unrecognised nonce") => {
                "the nonce expired or was issued by another server process: several Synapse processes behind one address each keep their own nonces"
            }
            _ => return None,
        };
        Some(Hint::text(hint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, errcode: Option<&str>, error: &str) -> Refusal {
        Refusal {
            status,
            reason: String::new(),
            errcode: errcode.map(str::to_owned),
            error: Some(error.to_owned()),
            retry_after_ms: None,
        }
    }

    fn shown(refusal: &Refusal) -> Option<String> {
        refusal.hint().map(|hint| {
            hint.render(|setting| match setting {
                Setting::ExistsOk => "EXISTS-OK",
                _ => "OTHER",
            })
        })
    }

    #[test]
    fn a_taken_name_is_pointed_at_exists_ok_whatever_the_status() {
        for status in [400, 409] {
            let hint = shown(&refusal(
                status,
                Some("M_USER_IN_USE"),
                "User ID already taken.",
            ));
            assert_eq!(
                hint.as_deref(),
                Some("pass EXISTS-OK to treat an existing account as success")
            );
        }
    }

    #[test]
    fn only_an_unrecognised_nonce_is_blamed_on_several_processes() {
        let nonce = shown(&refusal(400, Some("M_UNKNOWN"), "unrecognised nonce")).unwrap();
        assert!(nonce.contains("several Synapse processes"), "{nonce}");
        assert_eq!(
            shown(&refusal(400, Some("M_UNKNOWN"), "Invalid username")),
            None
        );
    }
}
