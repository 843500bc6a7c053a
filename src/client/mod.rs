//! The HTTP side of the protocol: fetch a nonce, post the registration, and
//! turn every transport failure into one clear line.
//!
//! The protocol is written once, async, on reqwest's async client: [`Client`]
//! runs on the caller's tokio runtime, and [`blocking::Client`](crate::blocking::Client)
//! drives the same code on a runtime of its own.

mod answer;
pub(crate) mod blocking;
mod builder;
mod diagnose;
mod exchange;
mod mac;
mod proxy;
mod registration;
pub(crate) mod retry;
mod transport;
mod user;

pub use answer::{AccessToken, Registered};
pub use answer::{parse_nonce, parse_refusal, parse_registered};
pub(crate) use builder::service_url;
pub use builder::{ClientBuilder, IfExists};
pub(crate) use diagnose::Failure;
pub(crate) use exchange::{Auth, Exchanged, Request};
pub use mac::registration_mac;
pub use registration::Prepared;
pub use transport::{CaCert, HttpOptions};
pub use user::{NewUser, Outcome};

use crate::secret::SecretString;
use reqwest::{Client as HttpClient, Url};
use std::sync::{Arc, OnceLock};

/// The admin registration endpoint, relative to the server URL.
pub(crate) const REGISTER_PATH: &str = "_synapse/admin/v1/register";
/// Answers are a few hundred bytes; anything past this is not read, so a
/// hostile or broken server cannot make us hold a huge body.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// An async client for one server's registration endpoint, for any tokio
/// runtime (multi-thread or current-thread, with its I/O and time drivers
/// enabled, as `#[tokio::main]` has them). Cheap to clone and to share
/// between tasks: connections are pooled and kept alive. Outside async
/// code, use [`blocking::Client`](crate::blocking::Client).
///
/// As with `reqwest::Client`, the kept-alive connections belong to the
/// runtime that opened them: use a client on one runtime.
#[derive(Debug, Clone)]
pub struct Client {
    http_client: HttpClient,
    /// A client that keeps no connection: a request whose kept-alive
    /// connection was closed under it goes again on a fresh one. Made on
    /// first need, shared by clones.
    fresh_client: Arc<OnceLock<Option<HttpClient>>>,
    /// The TLS configuration, to make `fresh_client` with.
    tls: rustls::ClientConfig,
    endpoint: Url,
    shared_secret: SecretString,
    if_exists: IfExists,
    options: HttpOptions,
    /// The proxy (`host:port`) the environment sends requests through, if any.
    proxy: Option<String>,
    /// `host:port` of the server, as messages name it.
    target: String,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// What reaches the HTTP client without going through the one request
    /// path: the client's fields (and the function that makes one), reqwest's
    /// own send or execute, a client of its own, or reqwest's one-shot
    /// functions; or credentials set on a request anywhere else (where a log
    /// line might show them).
    const BYPASSES: [&str; 12] = [
        "http_client",
        "fresh_client",
        "RequestBuilder::send",
        ".execute(",
        "reqwest::blocking::get",
        "reqwest::get",
        "reqwest::Client",
        "HttpClient::",
        "blocking::Client::builder",
        "blocking::Client::new",
        ".bearer_auth(",
        ".basic_auth(",
    ];

    fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path.display().to_string(), text));
            }
        }
    }

    /// The item a line starting one declares: `fn NAME` (async or not) or
    /// `struct NAME`.
    fn item(line: &str) -> Option<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "fn" || *w == "struct")?;
        let visibility = words[..at]
            .iter()
            .all(|w| w.starts_with("pub") || *w == "async");
        let name = words.get(at + 1)?.split(['(', '<', '{']).next()?;
        visibility.then(|| format!("{} {name}", words[at]))
    }

    /// Invariant: every request goes through `Client::exchange`. A new
    /// probe written as `self.http_client.get(url).send()` fails here, where
    /// it would otherwise escape the timeout, the retry policy and the
    /// masked log lines.
    #[test]
    fn every_request_goes_through_exchange() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        let mut uses = Vec::new();
        for (path, text) in &files {
            let file = path.strip_prefix(&format!("{}/", root.display())).unwrap();
            // The item each line is in: the last `fn` or `struct` above it.
            let mut within = String::new();
            for line in text.lines() {
                let code = line.trim_start();
                if let Some(item) = item(code) {
                    within = item;
                }
                // Comments, and this test's own list, are not uses.
                if code.starts_with("//") || code.starts_with('"') {
                    continue;
                }
                for bypass in BYPASSES {
                    if line.contains(bypass) {
                        uses.push(format!("{file}: {within}: {bypass}"));
                    }
                }
            }
        }
        uses.sort();
        uses.dedup();
        assert_eq!(
            uses,
            [
                "src/client/builder.rs: fn new: fresh_client",
                "src/client/builder.rs: fn new: http_client",
                "src/client/exchange.rs: fn exchange: .basic_auth(",
                "src/client/exchange.rs: fn exchange: .bearer_auth(",
                "src/client/exchange.rs: fn exchange: RequestBuilder::send",
                "src/client/exchange.rs: fn exchange: fresh_client",
                "src/client/exchange.rs: fn exchange: http_client",
                "src/client/exchange.rs: fn fresh_client: fresh_client",
                "src/client/exchange.rs: fn fresh_client: http_client",
                "src/client/mod.rs: struct Client: fresh_client",
                "src/client/mod.rs: struct Client: http_client",
                "src/client/transport.rs: fn http_client: HttpClient::",
                "src/client/transport.rs: fn http_client: http_client",
                // The reqwest builder the socket is set on, in `http_client`.
                "src/unix_socket.rs: fn connect_through: reqwest::Client",
            ],
            "an HTTP request outside Client::exchange"
        );
    }
}
