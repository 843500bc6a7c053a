//! Servers that delegate accounts to Matrix Authentication Service (MAS):
//! Synapse then does not serve the shared-secret endpoint at all, and
//! accounts are made with MAS's own `mas-cli manage register-user`. This
//! module tells such a server apart, from its config or from what it
//! answers, and says what to run instead.

use crate::blocking::Client;
use crate::cli::config::Config;
use crate::cli::error::Error;
use crate::cli::yaml::Value;
use crate::error::escape_control_characters;

/// What was asked, to turn into the equivalent `mas-cli` command.
#[derive(Debug, Default, Clone, Copy)]
pub struct Request<'a> {
    /// As given with -u: mas-cli takes a localpart or a full user ID too.
    pub user: Option<&'a str>,
    /// `None` when neither -a nor --no-admin was given.
    pub admin: Option<bool>,
    pub display_name: Option<&'a str>,
    pub user_type: Option<&'a str>,
    /// --generate-password was given.
    pub generate_password: bool,
}

/// The delegation the config sets up, if any: the stable
/// `matrix_authentication_service.enabled`, or the experimental
/// `experimental_features.msc3861.enabled` of Synapse 1.86 to 1.156.
pub fn from_config(config: &Config, request: &Request<'_>) -> Option<Error> {
    let (key, section, service_key, file) = [
        (
            "matrix_authentication_service.enabled",
            config.get("matrix_authentication_service"),
            "endpoint",
        ),
        (
            "experimental_features.msc3861.enabled",
            config
                .get("experimental_features")
                .and_then(|(v, file)| Some((v.get("msc3861")?, file))),
            "issuer",
        ),
    ]
    .into_iter()
    .find_map(|(key, section, service_key)| {
        let (section, file) = section?;
        section
            .get("enabled")?
            .is_truthy()
            .then_some((key, section, service_key, file))
    })?;
    Some(Error::Delegated {
        status: None,
        evidence: format!("{}: {key}", file.display()),
        service: section.get(service_key).and_then(Value::as_str).map(shown),
        advice: advice(request),
    })
}

/// Where a server advertises delegated auth: the stable path (Synapse
/// 1.136+), MSC2965's unstable one, and its older issuer-only form.
const AUTH_METADATA_PATHS: [&str; 3] = [
    "_matrix/client/v1/auth_metadata",
    "_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
    "_matrix/client/unstable/org.matrix.msc2965/auth_issuer",
];

/// After the registration endpoint answered `404 M_UNRECOGNIZED` (hence the
/// error's status, and exit 1, as for any refusal): asks the
/// server whether it delegates auth. Synapse serves these paths only when it
/// does; while MAS is down, they answer a server error (500).
pub fn probe(client: &Client, request: &Request<'_>) -> Option<Error> {
    for path in AUTH_METADATA_PATHS {
        // A server that did not answer one path in time will not answer
        // the next: asking on would cost a whole timeout per path.
        let (status, body) = client.get_json(path)?;
        let evidence = format!("the server's /{path}");
        if let Some(service) = delegates(status, &body) {
            return Some(Error::Delegated {
                status: Some(404),
                evidence: if status == 200 {
                    evidence
                } else {
                    format!("{evidence} (answered {status}: the auth service may be down)")
                },
                service: service.map(shown),
                advice: advice(request),
            });
        }
    }
    None
}

/// Whether an auth-metadata answer shows delegation, and with it the
/// service's address when one is named (an empty issuer names none: said as
/// nothing, not as "()").
fn delegates(status: u16, body: &serde_json::Value) -> Option<Option<&str>> {
    let issuer = body.get("issuer").and_then(serde_json::Value::as_str);
    let delegated = match status {
        200 => issuer.is_some(),
        // The path exists only under delegation: a server error in Matrix's
        // form there means the server reached for MAS and failed (Synapse
        // answers 500 while MAS is down). A 4xx (429 rate limiting, 401,
        // 405) says nothing of the kind: any Matrix server may answer it on
        // any path.
        500..=599 => body
            .get("errcode")
            .is_some_and(serde_json::Value::is_string),
        _ => false,
    };
    delegated.then(|| issuer.filter(|issuer| !issuer.trim().is_empty()))
}

/// An address from a config or a server, as printed: control characters
/// escaped (a hostile server must not send terminal escapes through it)
/// and at most 200 characters.
fn shown(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let capped: String = text.chars().take(MAX_CHARS).collect();
    let mut out = escape_control_characters(&capped);
    if text.chars().count() > MAX_CHARS {
        out.push('…');
    }
    out
}

/// The `mas-cli` command that does what was asked, and how to run it.
pub fn advice(request: &Request<'_>) -> String {
    let mut command = String::from("mas-cli manage register-user");
    match request.admin {
        Some(true) => command.push_str(" --admin"),
        Some(false) => command.push_str(" --no-admin"),
        None => {}
    }
    if let Some(name) = request.display_name {
        command.push_str(&format!(" --display-name {}", shell_quote(name)));
    }
    match request.user {
        Some(user) => command.push_str(&format!(" {}", shell_quote(user))),
        None => command.push_str(" USERNAME"),
    }
    let mut lines = vec![
        "create the account through MAS's admin API with the same command line, adding one of:".to_owned(),
        "  --mas-config MAS_CONFIG.yaml   (MAS's config: its address, an admin client, the password rules)".to_owned(),
        "  --mas-url URL --mas-client-id ID --mas-client-secret-file FILE   (a client in policy.data.admin_clients)".to_owned(),
        "  --mas-token-file FILE   (a MAS access token with the urn:mas:admin scope)".to_owned(),
        "or with MAS's own tool, where MAS's config is:".to_owned(),
        format!("  {command}"),
        "It asks for anything missing and for the password (choose \"Set password\"); its only other way, --password PASSWORD, puts the password in the process list.".to_owned(),
    ];
    if request.generate_password {
        lines.push(
            "mas-cli generates no password: make one first (for example `openssl rand -base64 18`)."
                .to_owned(),
        );
    }
    if let Some(user_type) = request.user_type {
        lines.push(format!(
            "MAS has no user types: -t {} has no equivalent.",
            shell_quote(user_type)
        ));
    }
    lines.extend([
        "In a container it needs a terminal:".to_owned(),
        format!("  docker exec -it MAS_CONTAINER {command}"),
        format!(
            "  kubectl exec -it -n NAMESPACE deploy/RELEASE-matrix-authentication-service -- {command}"
        ),
    ]);
    lines.join("\n")
}

/// Quotes a word for a POSIX shell when it needs it; control characters are
/// escaped (`$'...'`) so that the advice stays on its lines.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    if word.chars().any(char::is_control) {
        let mut quoted = String::from("$'");
        for c in word.chars() {
            match c {
                '\'' => quoted.push_str("\\'"),
                '\\' => quoted.push_str("\\\\"),
                c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", c as u32)),
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        return quoted;
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_quotes_what_the_shell_would_split_or_run() {
        let request = Request {
            user: Some("@al ice:example.org"),
            admin: Some(true),
            display_name: Some("O'Neil $(rm -rf /)\n"),
            user_type: Some("bot"),
            generate_password: true,
        };
        let advice = advice(&request);
        assert!(
            advice.contains(
                "\n  mas-cli manage register-user --admin --display-name $'O\\'Neil $(rm -rf /)\\u000a' '@al ice:example.org'\n"
            ),
            "{advice}"
        );
        assert!(advice.contains("-t bot has no equivalent"), "{advice}");
        assert!(advice.contains("generates no password"), "{advice}");
        let plain = super::advice(&Request::default());
        assert!(
            plain.contains("\n  mas-cli manage register-user USERNAME\n"),
            "{plain}"
        );
    }

    #[test]
    fn only_an_issuer_or_a_server_error_on_auth_metadata_shows_delegation() {
        use serde_json::json;
        let error = |errcode: &str| json!({"errcode": errcode, "error": "x"});
        for status in [400, 401, 403, 405, 429] {
            assert_eq!(delegates(status, &error("M_UNKNOWN")), None, "{status}");
        }
        for status in [500, 502, 503] {
            assert_eq!(
                delegates(status, &error("M_UNKNOWN")),
                Some(None),
                "{status}"
            );
        }
        assert_eq!(delegates(500, &json!({"errcode": 5})), None);
        assert_eq!(delegates(404, &json!({"issuer": "https://a/"})), None);
        let issuer = json!({"issuer": "https://auth.example.org/"});
        assert_eq!(
            delegates(200, &issuer),
            Some(Some("https://auth.example.org/"))
        );
        assert_eq!(delegates(200, &json!({"issuer": " "})), Some(None));
        assert_eq!(delegates(200, &json!({"issuer": 7})), None);
    }

    #[test]
    fn a_hostile_issuer_is_escaped_and_capped() {
        assert_eq!(shown("https://a\u{1b}[2J/"), "https://a\\u{1b}[2J/");
        let long = "x".repeat(1000);
        assert_eq!(shown(&long).chars().count(), 201);
    }

    #[test]
    fn enabled_is_read_as_the_server_reads_its_flags() {
        let dir = tempfile::tempdir().unwrap();
        let delegates = |section: &str, value: &str| {
            let path = dir.path().join("hs.yaml");
            let text = match section {
                "stable" => format!("matrix_authentication_service:\n  enabled: {value}\n"),
                _ => format!("experimental_features:\n  msc3861:\n    enabled: {value}\n"),
            };
            std::fs::write(&path, text).unwrap();
            let (config, _) = Config::load(&[path]).unwrap();
            from_config(&config, &Request::default()).is_some()
        };
        for section in ["stable", "msc3861"] {
            // YAML 1.1 booleans, as PyYAML reads them.
            for on in ["true", "yes", "On", "ON"] {
                assert!(delegates(section, on), "{section}: {on}");
            }
            for off in ["false", "no", "Off", "~", "''"] {
                assert!(!delegates(section, off), "{section}: {off}");
            }
        }
    }
}
