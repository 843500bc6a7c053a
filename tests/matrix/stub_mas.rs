//! A stub Matrix Authentication Service for the MAS rows: each request
//! answered as the real one answers it (../shared/mas/FLOW.md), unless the
//! row's fault takes over that step.

use serde_json::{Value, json};
use support::stub::{Reply, Request};

/// The MAS client's secret in the rows; not [`crate::check::SECRET`],
/// which must never cross the wire, while this one does, by design.
pub const CLIENT_SECRET: &[u8] = b"mas-client-secret-9fQ";

/// A registration through MAS at the row's server, everything given.
pub const REGISTER_MAS: &[&str] = &[
    "--mas-url",
    "http://127.0.0.1:{port}",
    "--mas-client-id",
    "01ADMINCLIENT",
    "-u",
    "alice",
    "-p",
    "{password}",
    "--no-admin",
    "--timeout",
    "2",
];

/// The environment of [`REGISTER_MAS`].
pub const MAS_ENV: &[(&str, &[u8])] = &[("MAS_CLIENT_SECRET", CLIENT_SECRET)];

/// A step of the flow, told from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Token,
    SiteConfig,
    Create,
    SetPassword,
    SetAdmin,
    ByUsername,
    PersonalSession,
    Other,
}

pub fn step(request: &Request) -> Step {
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("POST", "/oauth2/token") => Step::Token,
        ("GET", "/api/admin/v1/site-config") => Step::SiteConfig,
        ("POST", "/api/admin/v1/users") => Step::Create,
        ("POST", p) if p.ends_with("/set-password") => Step::SetPassword,
        ("POST", p) if p.ends_with("/set-admin") => Step::SetAdmin,
        ("GET", p) if p.starts_with("/api/admin/v1/users/by-username/") => Step::ByUsername,
        ("POST", "/api/admin/v1/personal-sessions") => Step::PersonalSession,
        _ => Step::Other,
    }
}

fn user(id: &str, username: &str) -> Value {
    json!({"data": {"type": "user", "id": id, "attributes": {"username": username, "admin": false}}})
}

/// What the real MAS answers to each step of a successful registration.
pub fn answer(request: &Request) -> Reply {
    match step(request) {
        Step::Token => Reply::json(
            200,
            json!({"access_token": "mat_stub", "token_type": "Bearer", "expires_in": 300, "scope": "urn:mas:admin"}),
        ),
        Step::SiteConfig => Reply::json(
            200,
            json!({"server_name": "example.org", "minimum_password_complexity": 3}),
        ),
        Step::Create => {
            let username = request.json()["username"].as_str().unwrap_or("").to_owned();
            Reply::json(201, user("01STUBUSER", &username))
        }
        Step::SetPassword => Reply::raw(204, "application/json", ""),
        Step::SetAdmin | Step::ByUsername => Reply::json(200, user("01STUBUSER", "alice")),
        Step::PersonalSession => Reply::json(
            201,
            json!({"data": {"type": "personal-session", "id": "01SESSION", "attributes": {"access_token": "mpt_stub"}}}),
        ),
        Step::Other => Reply::json(404, json!({"errors": [{"title": "Not found"}]})),
    }
}

/// The admin API's error form.
pub fn errors(status: u16, title: &str) -> Reply {
    Reply::json(status, json!({"errors": [{"title": title}]}))
}

/// An answer sent one byte every 10 ms: never done within 2 s.
pub fn trickle(status_line: &str, body: &str) -> Reply {
    let mut bytes = format!(
        "HTTP/1.1 {status_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend(body.as_bytes());
    Reply::Trickle {
        bytes,
        every: std::time::Duration::from_millis(10),
    }
}
