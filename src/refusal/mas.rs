//! What Matrix Authentication Service's well-known refusals mean. Beside
//! Synapse's, so that every refusal is explained in one module; the MAS
//! client reads the same wording here.

use crate::hint::{Hint, Setting};
use crate::refusal::Refusal;

/// MAS's title when it cannot ask the homeserver whether a name is free:
/// nothing was created.
pub(crate) const SYNAPSE_UNREACHABLE: &str = "Failed to check localpart availability";

/// What a refusal from MAS means, in one line, or `None` when it is not
/// one of MAS's well-known refusals.
pub(super) fn hint(refusal: &Refusal) -> Option<Hint> {
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
