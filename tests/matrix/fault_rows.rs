//! The fault matrix: a broken network, a misconfigured proxy, a server that
//! does not speak the protocol.

use crate::check::{Ctx, ROW, Row, Server, TLS_SYNAPSE};
use crate::stub_mas::{self, MAS_ENV, REGISTER_MAS};
use serde_json::json;
use support::stub::{Garbage, Reply, Request};
use support::tool::Unwritable;

/// The fake Synapse for the nonce, `fault` for the registration.
fn on_post(request: &Request, ctx: &Ctx, fault: fn(&Ctx) -> Reply) -> Reply {
    if request.method == "POST" {
        fault(ctx)
    } else {
        ctx.synapse.reply(request)
    }
}

const fn plain(reply: crate::check::Script) -> Server {
    Server::Stub {
        tls: false,
        garbage: Garbage::Wait,
        reply,
    }
}

/// The same registration, over https://.
const REGISTER_TLS: &[&str] = &[
    "-k",
    "{secret}",
    "-u",
    "alice",
    "-p",
    "{password}",
    "--no-admin",
    "--timeout",
    "2",
    "https://127.0.0.1:{port}",
];

pub const ROWS: &[Row] = &[
    Row {
        id: "connection_refused",
        case: "Connection refused",
        tried: "Nothing listens on the port.",
        server: Server::Refused,
        exit: 4,
        error: Some("error: connection refused by 127.0.0.1:{port}"),
        hint: Some("hint: is the server running and listening there?"),
        ..ROW
    },
    Row {
        id: "never_answers",
        case: "Accepts, never answers",
        tried: "The server accepts the connection and the request, then says nothing.",
        server: plain(|_, _| Reply::Silent),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} did not answer within 2 s"),
        hint: Some(
            "hint: is the server overloaded or stuck? Raise the limit with --timeout SECONDS",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "headers_then_stall",
        case: "Headers, then a stall",
        tried: "The server sends a status line and headers announcing a body, then nothing.",
        server: plain(|_, _| Reply::HeadersThenStall),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} did not finish its answer within 2 s"),
        hint: Some(
            "hint: is the server overloaded or stuck? Raise the limit with --timeout SECONDS",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "closes_mid_response",
        case: "Closes mid-response",
        tried: "The server sends the headers and half the body, then closes.",
        server: plain(|_, _| Reply::CloseMidResponse),
        exit: 4,
        error: Some(
            "error: 127.0.0.1:{port} broke off its answer halfway (end of file before message length reached)",
        ),
        hint: Some("hint: is there a proxy in front of the server? It is safe to retry"),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "closes_without_answer",
        case: "Closes without answering",
        tried: "The server reads the request and closes the connection: the nonce GET is sent once more on a fresh connection (a GET creates nothing; this is what a server closing a kept-alive connection looks like), then given up.",
        server: plain(|_, _| Reply::Hangup),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} closed the connection without answering"),
        hint: Some("hint: if this port speaks TLS (a tls: true listener), use https://"),
        requests: &["GET", "GET"],
        ..ROW
    },
    Row {
        id: "connection_reset",
        case: "Connection reset",
        tried: "The server reads the request and resets the connection (RST): the nonce GET is sent once more on a fresh connection, then given up.",
        server: plain(|_, _| Reply::Reset),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} reset the connection before answering"),
        hint: Some("hint: if this port speaks TLS (a tls: true listener), use https://"),
        requests: &["GET", "GET"],
        ..ROW
    },
    Row {
        id: "registration_answer_lost",
        case: "Registration answer lost",
        tried: "The nonce is served, then the connection is reset after the registration request: the same request is sent once more on a fresh connection, with the same nonce (a server refuses a used nonce, so nothing is created twice), is reset again, and the account is reported as possibly created.",
        server: plain(|r, c| on_post(r, c, |_| Reply::Reset)),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} reset the connection before answering"),
        hint: Some(
            "hint: the server may have created the account before the answer was lost: retry with --exists-ok",
        ),
        requests: &["GET", "POST", "POST"],
        ..ROW
    },
    Row {
        id: "proxy_502_html",
        case: "502 from a proxy",
        tried: "A reverse proxy answers `502 Bad Gateway` with an HTML page.",
        server: plain(|_, _| {
            Reply::raw(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
            )
        }),
        exit: 4,
        error: Some("error: Received 502 Bad Gateway"),
        hint: Some(
            "hint: the server (or a proxy in front of it) is not available yet; it is safe to retry, for example with --wait SECONDS",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "unavailable_503",
        case: "503 while starting",
        tried: "The server answers `503 Service Unavailable` (no `--wait`).",
        server: plain(|_, _| Reply::raw(503, "text/plain", "")),
        exit: 4,
        error: Some("error: Received 503 Service Unavailable"),
        hint: Some(
            "hint: the server (or a proxy in front of it) is not available yet; it is safe to retry, for example with --wait SECONDS",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "server_error_500_empty",
        case: "500 with an empty body",
        tried: "The server answers `500 Internal Server Error` with no body.",
        server: plain(|_, _| Reply::raw(500, "text/plain", "")),
        exit: 1,
        error: Some("error: Received 500 Internal Server Error"),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "ok_not_json",
        case: "200 that is not JSON",
        tried: "The server answers `200 OK` with an HTML page (a web server on the wrong port).",
        server: plain(|_, _| Reply::raw(200, "text/html", "<html><body>Welcome!</body></html>")),
        exit: 4,
        error: Some(
            "error: the server's nonce answer is not the expected JSON (it does not parse as JSON)",
        ),
        hint: Some(
            "hint: is this URL a Matrix homeserver? check the port and any reverse proxy in front of it",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "nonce_missing",
        case: "JSON without a nonce",
        tried: "The server answers `200 OK` with `{\"status\": \"ok\"}`.",
        server: plain(|_, _| Reply::json(200, json!({"status": "ok"}))),
        exit: 4,
        error: Some(
            "error: the server's nonce answer is not the expected JSON (missing field `nonce` at line 1 column 15)",
        ),
        hint: Some(
            "hint: is this URL a Matrix homeserver? check the port and any reverse proxy in front of it",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "nonce_not_a_string",
        case: "Nonce not a string",
        tried: "The server answers `200 OK` with `{\"nonce\": 12345}`.",
        server: plain(|_, _| Reply::json(200, json!({"nonce": 12345}))),
        exit: 4,
        error: Some(
            "error: the server's nonce answer is not the expected JSON (invalid type: integer `12345`, expected a string at line 1 column 14)",
        ),
        hint: Some(
            "hint: is this URL a Matrix homeserver? check the port and any reverse proxy in front of it",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "huge_body",
        case: "Huge answer",
        tried: "The server streams a 512 MiB answer: the tool reads at most 64 KiB of it and stops (less than 32 MiB leaves the server, most of it into socket buffers; peak memory stays under 64 MiB).",
        server: plain(|_, _| Reply::Huge { bytes: 512 << 20 }),
        exit: 4,
        error: Some(
            "error: the server's nonce answer is larger than 64 KiB; this is not a Synapse answer",
        ),
        hint: Some("hint: check the server URL"),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "redirect_on_nonce",
        case: "Redirect (nonce)",
        tried: "The server answers the nonce request with `302 Found` to another server, which is never contacted.",
        server: plain(|_, c| {
            Reply::redirect(
                302,
                &format!(
                    "http://127.0.0.1:{}/_synapse/admin/v1/register",
                    c.elsewhere
                ),
            )
        }),
        exit: 4,
        error: Some(
            "error: the server answered 302 Found redirecting to http://127.0.0.1:{elsewhere}/_synapse/admin/v1/register; redirects are not followed",
        ),
        hint: Some(
            "hint: a password is only sent to the URL you name: if the new location is right, pass it as server_url",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "redirect_on_registration",
        case: "Redirect (registration)",
        tried: "The server answers the registration with `307 Temporary Redirect`: the password is not sent to the new location.",
        server: plain(|r, c| {
            on_post(r, c, |c| {
                Reply::redirect(
                    307,
                    &format!(
                        "http://127.0.0.1:{}/_synapse/admin/v1/register",
                        c.elsewhere
                    ),
                )
            })
        }),
        exit: 4,
        error: Some(
            "error: the server answered 307 Temporary Redirect redirecting to http://127.0.0.1:{elsewhere}/_synapse/admin/v1/register; redirects are not followed",
        ),
        hint: Some(
            "hint: a password is only sent to the URL you name: if the new location is right, pass it as server_url",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "redirect_with_credentials",
        case: "Redirect to a URL with credentials",
        tried: "The server answers the nonce request with `302 Found` to a URL holding a user name and password: the message names the location with its password masked.",
        server: plain(|_, c| {
            Reply::redirect(
                302,
                &format!(
                    "http://admin:hun/ter2@127.0.0.1:{}/_synapse/admin/v1/register",
                    c.elsewhere
                ),
            )
        }),
        exit: 4,
        error: Some(
            "error: the server answered 302 Found redirecting to http://admin:***@127.0.0.1:{elsewhere}/_synapse/admin/v1/register; redirects are not followed",
        ),
        hint: Some(
            "hint: a password is only sent to the URL you name: if the new location is right, pass it as server_url",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "rate_limited_429",
        case: "429 with `retry_after_ms`",
        tried: "The server refuses the registration with `429`, `M_LIMIT_EXCEEDED` and `retry_after_ms: 2000`.",
        server: plain(|r, c| {
            on_post(r, c, |_| {
                Reply::json(
                    429,
                    json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 2000}),
                )
            })
        }),
        exit: 1,
        error: Some("error: Received 429 Too Many Requests: Too Many Requests"),
        hint: Some("hint: the server is rate-limiting requests; it asks to retry after 2000 ms"),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "endpoint_not_found",
        case: "404 on the endpoint",
        tried: "The URL has a wrong path prefix (`http://127.0.0.1:PORT/matrix`): the server answers `404 M_UNRECOGNIZED`; its auth metadata (three paths asked) shows no delegated auth either.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "http://127.0.0.1:{port}/matrix",
        ],
        exit: 1,
        error: Some("error: Received 404 Not Found: Unrecognized request"),
        hint: Some(
            "hint: no registration endpoint here: check the port and any path prefix, whether a reverse proxy hides /_synapse/admin, and whether Matrix Authentication Service is in charge (then use `mas-cli manage register-user`)",
        ),
        requests: &["GET", "GET", "GET", "GET"],
        ..ROW
    },
    Row {
        id: "wrong_shared_secret",
        case: "Wrong shared secret",
        tried: "The secret differs from the server's: it answers `403 HMAC incorrect`.",
        args: &[
            "-k",
            "{secret}-old",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "http://127.0.0.1:{port}",
        ],
        exit: 1,
        error: Some("error: Received 403 Forbidden: HMAC incorrect"),
        hint: Some(
            "hint: the shared secret differs from the one the running server loaded: check which config file the server runs with, and restart it after changing the secret",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "registration_disabled",
        case: "Shared-secret registration disabled",
        tried: "The server has no shared secret configured and says so with `400`.",
        server: plain(|_, _| {
            Reply::error(
                400,
                "M_UNKNOWN",
                "Shared secret registration is not enabled",
            )
        }),
        exit: 1,
        error: Some("error: Received 400 Bad Request: Shared secret registration is not enabled"),
        hint: Some(
            "hint: set registration_shared_secret (or registration_shared_secret_path) in the homeserver config and restart the server",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "nonce_never_recognised",
        case: "Nonce from another process",
        tried: "Behind a load balancer, every registration lands on a process that did not issue its nonce: one retry with a fresh nonce, then the refusal.",
        server: plain(|r, c| {
            on_post(r, c, |_| {
                Reply::error(400, "M_UNKNOWN", "unrecognised nonce")
            })
        }),
        exit: 1,
        error: Some("error: Received 400 Bad Request: unrecognised nonce"),
        hint: Some(
            "hint: the nonce expired or was issued by another server process: several Synapse processes behind one address each keep their own nonces",
        ),
        requests: &["GET", "POST", "GET", "POST"],
        ..ROW
    },
    Row {
        id: "tls_to_silent_plain_port",
        case: "TLS to a plain port (silent)",
        tried: "`https://` to a plain-HTTP server that waits for a request line, as Synapse does.",
        server: plain(crate::check::synapse),
        args: REGISTER_TLS,
        exit: 4,
        error: Some("error: connecting to 127.0.0.1:{port} over TLS timed out"),
        hint: Some(
            "hint: does this port speak plain HTTP? Then use http://. Otherwise the server is overloaded or stuck: raise the limit with --timeout SECONDS",
        ),
        ..ROW
    },
    Row {
        id: "tls_to_plain_port",
        case: "TLS to a plain port (answered)",
        tried: "`https://` to a plain-HTTP server that answers the handshake bytes with `400 Bad Request`, as most proxies do.",
        server: Server::Stub {
            tls: false,
            garbage: Garbage::BadRequest,
            reply: crate::check::synapse,
        },
        args: REGISTER_TLS,
        exit: 4,
        error: Some(
            "error: TLS handshake with 127.0.0.1:{port} failed: the server does not speak TLS on this port",
        ),
        hint: Some("hint: for a plain-HTTP listener use http://"),
        ..ROW
    },
    Row {
        id: "plain_http_to_tls_port",
        case: "Plain HTTP to a TLS port",
        tried: "`http://` to a TLS listener, which answers with a TLS alert.",
        server: TLS_SYNAPSE,
        exit: 4,
        error: Some(
            "error: 127.0.0.1:{port} answered with something that is not HTTP (invalid HTTP version parsed)",
        ),
        hint: Some("hint: if this port speaks TLS (a tls: true listener), use https://"),
        ..ROW
    },
    Row {
        id: "self_signed_refused",
        case: "Self-signed certificate",
        tried: "`https://` to a server with a self-signed certificate, without `--cacert`.",
        server: TLS_SYNAPSE,
        args: REGISTER_TLS,
        exit: 4,
        error: Some(
            "error: the TLS certificate of 127.0.0.1:{port} is not trusted: no certificate authority this machine trusts has signed it (is it self-signed?)",
        ),
        hint: Some(
            "hint: for a self-signed certificate pass it with --cacert FILE (or, at your own risk, --insecure)",
        ),
        ..ROW
    },
    Row {
        id: "self_signed_with_cacert",
        case: "Self-signed certificate, `--cacert`",
        tried: "The same server, with its certificate passed as `--cacert DIR/ca.pem`: registered.",
        server: TLS_SYNAPSE,
        files: &[("ca.pem", crate::check::Content::TestCert)],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "--cacert",
            "{dir}/ca.pem",
            "https://127.0.0.1:{port}",
        ],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "stdout_full",
        case: "stdout is full",
        tried: "stdout is `/dev/full` (a full disk): the reference's first line, `Sending registration request...`, cannot be written.",
        exit: 5,
        error: Some("error: cannot write to stdout (No space left on device); nothing was sent"),
        requests: &["GET"],
        stdout: Some(Unwritable::Full),
        ..ROW
    },
    Row {
        id: "help_to_full_disk",
        case: "`--help` to a full disk",
        tried: "`--help` with stdout on `/dev/full`: exit 5, as `--completions` gives, not 0 with nothing written.",
        args: &["--help"],
        exit: 5,
        error: Some("error: cannot write to stdout (No space left on device)"),
        stdout: Some(Unwritable::Full),
        ..ROW
    },
    Row {
        id: "version_to_full_disk",
        case: "`--version` to a full disk",
        tried: "`--version` with stdout on `/dev/full`.",
        args: &["--version"],
        exit: 5,
        error: Some("error: cannot write to stdout (No space left on device)"),
        stdout: Some(Unwritable::Full),
        ..ROW
    },
    Row {
        id: "stdout_closed",
        case: "stdout closed",
        tried: "With `-o json`, stdout is a pipe whose reader has gone (`\\| head -c0`) when the result is written.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "-o",
            "json",
            "http://127.0.0.1:{port}",
        ],
        exit: 5,
        error: Some(
            "error: cannot write the result to stdout (Broken pipe), but @alice:stub.test was created",
        ),
        requests: &["GET", "POST"],
        stdout: Some(Unwritable::ClosedPipe),
        ..ROW
    },
    Row {
        id: "trickled_answer",
        case: "Answer sent one byte at a time",
        tried: "The server sends its nonce answer one byte every 10 ms (a 1 KiB body): `--timeout` bounds the whole request, not the gap between bytes.",
        server: plain(|_, _| {
            let body = format!("{{\"nonce\": \"{}\"}}", "a".repeat(1000));
            let mut answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            answer.extend(body.into_bytes());
            Reply::Trickle {
                bytes: answer,
                every: std::time::Duration::from_millis(10),
            }
        }),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} did not finish its answer within 2 s"),
        hint: Some(
            "hint: is the server overloaded or stuck? Raise the limit with --timeout SECONDS",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "trickled_registration_answer",
        case: "Registration answer trickled",
        tried: "The nonce is served, then the answer to the registration comes one byte every 10 ms, its headers alone longer than `--timeout`: the POST is bounded as every request is.",
        server: plain(|r, c| on_post(r, c, |_| trickled_headers(1000))),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} did not answer within 2 s"),
        hint: Some(
            "hint: the server may have created the account before the answer was lost: retry with --exists-ok",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "trickled_auth_metadata",
        case: "Delegation probe trickled",
        tried: "The endpoint answers `404 M_UNRECOGNIZED`, then the auth metadata comes one byte every 10 ms: the probe is bounded by `--timeout` like every request, and a path that did not answer in time ends the probe (one timeout, not one per path).",
        server: plain(|r, _| {
            if r.path.starts_with("/_matrix/client/") {
                trickled(1000)
            } else {
                Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request")
            }
        }),
        exit: 1,
        error: Some("error: Received 404 Not Found: Unrecognized request"),
        hint: Some(
            "hint: no registration endpoint here: check the port and any path prefix, whether a reverse proxy hides /_synapse/admin, and whether Matrix Authentication Service is in charge (then use `mas-cli manage register-user`)",
        ),
        requests: &["GET", "GET"],
        ..ROW
    },
    Row {
        id: "fractional_retry_after",
        case: "429 with a fractional `retry_after_ms`",
        tried: "The server rate-limits the registration with `\"retry_after_ms\": 1500.2`: every field is read on its own, so the wait is kept (rounded up) along with the `errcode` and the server's text.",
        server: plain(|r, c| {
            on_post(r, c, |_| {
                Reply::json(
                    429,
                    json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 1500.2}),
                )
            })
        }),
        exit: 1,
        error: Some("error: Received 429 Too Many Requests: Too Many Requests"),
        hint: Some("hint: the server is rate-limiting requests; it asks to retry after 1501 ms"),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "numeric_errcode",
        case: "`errcode` that is not a string",
        tried: "The server refuses with `{\"errcode\": 7, \"error\": \"Shared secret registration is not enabled\"}`: the odd `errcode` is dropped, the server's text and the hint it calls for are kept.",
        server: plain(|r, c| {
            on_post(r, c, |_| {
                Reply::json(
                    400,
                    json!({"errcode": 7, "error": "Shared secret registration is not enabled"}),
                )
            })
        }),
        exit: 1,
        error: Some("error: Received 400 Bad Request: Shared secret registration is not enabled"),
        hint: Some(
            "hint: set registration_shared_secret (or registration_shared_secret_path) in the homeserver config and restart the server",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "custom_reason_phrase",
        case: "Non-standard reason phrase",
        tried: "The server refuses the registration with the status line `500 Kaputt`: the phrase is printed as sent, as the reference prints it.",
        server: plain(|r, c| {
            on_post(r, c, |_| {
                Reply::Bytes(
                    b"HTTP/1.1 500 Kaputt\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                        .to_vec(),
                )
            })
        }),
        exit: 1,
        error: Some("error: Received 500 Kaputt"),
        hint: Some(
            "hint: the server may have created the account before the answer was lost: retry with --exists-ok",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "registered_empty_answer",
        case: "200 to the registration, empty body",
        tried: "The server creates the account and answers `200 OK` with an empty body: a success, as the reference reports it, with a warning on stderr.",
        server: plain(|r, c| registered_then(r, c, || Reply::raw(200, "application/json", ""))),
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "registered_without_user_id",
        case: "200 to the registration without `user_id`",
        tried: "The server creates the account and answers `200 OK` with `{\"access_token\": \"x\"}`: a success, with a warning on stderr.",
        server: plain(|r, c| {
            registered_then(r, c, || Reply::json(200, json!({"access_token": "x"})))
        }),
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "openssl_default_cert_with_cacert",
        case: "`openssl req -x509` certificate, `--cacert`",
        tried: "The server's self-signed certificate is what `openssl req -x509` makes by default, a certificate authority's (CA:TRUE), passed as `--cacert DIR/ca.pem`: trusted, as curl and the reference trust it.",
        server: Server::TlsCaCert,
        files: &[("ca.pem", crate::check::Content::TestCaCert)],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "--cacert",
            "{dir}/ca.pem",
            "https://127.0.0.1:{port}",
        ],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "cacert_not_the_servers",
        case: "`--cacert` with another certificate",
        tried: "`--cacert DIR/ca.pem` holds a certificate that is not the server's and did not sign it: the message says so, not to pass `--cacert`.",
        server: TLS_SYNAPSE,
        files: &[("ca.pem", crate::check::Content::TestCaCert)],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "--cacert",
            "{dir}/ca.pem",
            "https://127.0.0.1:{port}",
        ],
        exit: 4,
        error: Some(
            "error: the TLS certificate of 127.0.0.1:{port} is not trusted: it is not in {dir}/ca.pem and no certificate there has signed it",
        ),
        hint: Some(
            "hint: {dir}/ca.pem must hold the server's own certificate or the authority that signed it",
        ),
        ..ROW
    },
    Row {
        id: "no_ca_certificates_plain_http",
        case: "No CA certificates, `http://`",
        tried: "A root with no CA certificates (here `SSL_CERT_FILE` names an empty file, as in a scratch container): a plain `http://` registration needs no TLS and succeeds.",
        server: crate::check::SYNAPSE,
        files: &[("empty.pem", crate::check::Content::Text(""))],
        env: &[("SSL_CERT_FILE", b"{dir}/empty.pem")],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "no_ca_certificates_https",
        case: "No CA certificates, `https://`",
        tried: "The same root, with an `https://` URL: nothing to verify the server with, so nothing is sent (exit 3), and the hint names `--cacert` and `SSL_CERT_FILE`. No bundled roots are compiled in: they would go stale in a static binary.",
        server: TLS_SYNAPSE,
        files: &[("empty.pem", crate::check::Content::Text(""))],
        env: &[("SSL_CERT_FILE", b"{dir}/empty.pem")],
        args: REGISTER_TLS,
        exit: 3,
        error: Some(
            "error: server URL: is https://, but the system's certificate authorities cannot be loaded to verify the server (…)",
        ),
        hint: Some(
            "hint: pass the server's certificate or its authority's with --cacert FILE, or point SSL_CERT_FILE at a CA bundle (install ca-certificates, or mount /etc/ssl/certs/ca-certificates.crt into a container)",
        ),
        ..ROW
    },
    Row {
        id: "duplicate_content_length",
        case: "Two different `Content-Length`s",
        tried: "The nonce answer has `Content-Length: 16` and `Content-Length: 20`, which HTTP forbids (a request-smuggling vector): refused as malformed HTTP, not blamed on TLS.",
        server: plain(|_, _| {
            Reply::Bytes(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\nContent-Length: 20\r\n\r\n{\"nonce\": \"abc\"}"
                    .to_vec(),
            )
        }),
        exit: 4,
        error: Some("error: 127.0.0.1:{port} answered with malformed HTTP (…)"),
        hint: Some("hint: is there a broken proxy in front of the server? Check its configuration"),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "wait_runs_out",
        case: "`--wait` runs out",
        tried: "Nothing listens and `--wait 1` is given: the tool retries for a second, then the error says that it waited, and how long.",
        server: Server::Refused,
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--wait",
            "1",
            "http://127.0.0.1:{port}",
        ],
        exit: 4,
        error: Some("error: connection refused by 127.0.0.1:{port}; gave up after waiting 1 s"),
        hint: Some("hint: is the server running and listening there?"),
        ..ROW
    },
    Row {
        id: "token_with_escape_sequence",
        case: "`-o token`, a token with control characters",
        tried: "The server creates the account and answers with an `access_token` holding a terminal escape and a newline: `-o token` would print it bare to a terminal or into `$(...)`, so it is refused (not echoed) with a clear error.",
        server: plain(|r, c| {
            registered_then(r, c, || {
                Reply::json(
                    200,
                    json!({"user_id": "@alice:stub.test", "access_token": "syt_\u{1b}]0;owned\u{7}\nrm -rf ~", "device_id": "D", "home_server": "stub.test"}),
                )
            })
        }),
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "-o",
            "token",
            "http://127.0.0.1:{port}",
        ],
        exit: 4,
        error: Some(
            "error: @alice:stub.test was created, but the server's access_token is not printable ASCII (a space, a control character or non-ASCII), so it is not printed",
        ),
        hint: Some(
            "hint: a Matrix access token is printable ASCII: check what answers at this URL, and log in with the password to get a token",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "token_empty",
        case: "`-o token`, an empty token",
        tried: "The server creates the account and answers with `\"access_token\": \"\"`: `-o token` would print an empty line and succeed, and `$(...)` would hold an empty token, so it is refused as a missing token.",
        server: plain(|r, c| {
            registered_then(r, c, || {
                Reply::json(
                    200,
                    json!({"user_id": "@alice:stub.test", "access_token": "", "device_id": "D", "home_server": "stub.test"}),
                )
            })
        }),
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "-o",
            "token",
            "http://127.0.0.1:{port}",
        ],
        exit: 4,
        error: Some(
            "error: @alice:stub.test was created, but the server's answer has no access_token",
        ),
        hint: Some("hint: log in with the password to get a token"),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "token_a_number",
        case: "`-o token`, a token that is a number",
        tried: "The server creates the account and answers with `\"access_token\": 9876543210123`: the error says what is wrong with the field without repeating its value (a token is a secret).",
        server: plain(|r, c| {
            registered_then(r, c, || {
                Reply::json(
                    200,
                    json!({"user_id": "@alice:stub.test", "access_token": 9_876_543_210_123_u64, "device_id": "D", "home_server": "stub.test"}),
                )
            })
        }),
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "-o",
            "token",
            "http://127.0.0.1:{port}",
        ],
        exit: 4,
        error: Some(
            "error: the account was created, but the server's answer has no access_token: the server's registration answer is not the expected JSON (access_token: expected a string, found a number)",
        ),
        hint: Some("hint: log in with the password to get a token"),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "dendrite_bad_mac",
        case: "Wrong secret, another server's wording",
        tried: "Dendrite refuses a wrong MAC with `403`, `M_FORBIDDEN` and `bad mac` (Synapse says `HMAC incorrect`): the hint keys on the status and `errcode`.",
        server: plain(|r, c| on_post(r, c, |_| Reply::error(403, "M_FORBIDDEN", "bad mac"))),
        exit: 1,
        error: Some("error: Received 403 Forbidden: bad mac"),
        hint: Some(
            "hint: the shared secret differs from the one the running server loaded: check which config file the server runs with, and restart it after changing the secret",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "spam_checker_429",
        case: "429 that is not rate limiting",
        tried: "Synapse's spam checker denies a registration with `429` and `M_UNKNOWN`, not `M_LIMIT_EXCEEDED`: not called rate limiting.",
        server: plain(|r, c| {
            on_post(r, c, |_| {
                Reply::error(429, "M_UNKNOWN", "Registration denied")
            })
        }),
        exit: 1,
        error: Some("error: Received 429 Too Many Requests: Registration denied"),
        hint: Some(
            "hint: the server refused this registration without saying it is rate limiting (no M_LIMIT_EXCEEDED): a spam-checker module or policy on the server may deny it; see the server's log",
        ),
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "proxy_forbids_admin_path",
        case: "403 from a reverse proxy",
        tried: "A reverse proxy blocks `/_synapse/admin` with an HTML `403` page (no Matrix `errcode`): not blamed on the secret.",
        server: plain(|_, _| {
            Reply::raw(403, "text/html", "<html><body>403 Forbidden</body></html>")
        }),
        exit: 1,
        error: Some("error: Received 403 Forbidden"),
        hint: Some(
            "hint: refused without a Matrix error code, so by something in front of the homeserver (a reverse proxy often blocks /_synapse/admin): use the server's own client listener, on the server host",
        ),
        requests: &["GET"],
        ..ROW
    },
    Row {
        id: "auth_metadata_rate_limited",
        case: "404, auth metadata rate-limited",
        tried: "The endpoint answers `404 M_UNRECOGNIZED` and every auth-metadata path `429 M_LIMIT_EXCEEDED`: an error any Matrix server may give on any path, not taken for Matrix Authentication Service (nor are 401 and 405; only a 5xx in Matrix's form there is).",
        server: plain(|r, _| {
            not_found_then_metadata(r, || {
                Reply::error(429, "M_LIMIT_EXCEEDED", "Too Many Requests")
            })
        }),
        exit: 1,
        error: Some("error: Received 404 Not Found: Unrecognized request"),
        hint: Some(
            "hint: no registration endpoint here: check the port and any path prefix, whether a reverse proxy hides /_synapse/admin, and whether Matrix Authentication Service is in charge (then use `mas-cli manage register-user`)",
        ),
        requests: &["GET", "GET", "GET", "GET"],
        ..ROW
    },
    Row {
        id: "auth_metadata_empty_issuer",
        case: "Auth metadata with an empty issuer",
        tried: "The endpoint answers `404 M_UNRECOGNIZED` and `/_matrix/client/v1/auth_metadata` answers `200` with `\"issuer\": \"\"`: delegated, and no empty `()` where the service's address would be.",
        server: plain(|r, _| {
            not_found_then_metadata(r, || Reply::json(200, json!({"issuer": ""})))
        }),
        exit: 1,
        error: Some(
            "error: the server's /_matrix/client/v1/auth_metadata: this server delegates accounts to Matrix Authentication Service, so Synapse does not serve the shared-secret registration endpoint",
        ),
        hint: Some(
            "hint: create the account through MAS's admin API with the same command line, adding one of:",
        ),
        requests: &["GET", "GET"],
        ..ROW
    },
    Row {
        id: "delegated_auth_metadata",
        case: "Accounts delegated to MAS",
        tried: "The endpoint answers `404 M_UNRECOGNIZED` and `/_matrix/client/v1/auth_metadata` names an issuer, as Synapse with Matrix Authentication Service does: exit 1 (as for any refusal), JSON `kind` `delegated_auth`, and the `mas-cli` command.",
        server: plain(|r, _| {
            if r.path == "/_matrix/client/v1/auth_metadata" {
                Reply::json(200, json!({"issuer": "https://auth.example.org/"}))
            } else {
                Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request")
            }
        }),
        exit: 1,
        error: Some(
            "error: the server's /_matrix/client/v1/auth_metadata: this server delegates accounts to Matrix Authentication Service (https://auth.example.org/), so Synapse does not serve the shared-secret registration endpoint",
        ),
        hint: Some(
            "hint: create the account through MAS's admin API with the same command line, adding one of:",
        ),
        requests: &["GET", "GET"],
        ..ROW
    },
    // Through Matrix Authentication Service's admin API (--mas-url): a stub
    // that answers as the real one does (stub_mas.rs) but for one step.
    Row {
        id: "mas_unreachable",
        case: "MAS unreachable",
        tried: "Nothing listens at the `--mas-url` port.",
        server: Server::Refused,
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 4,
        error: Some("error: connection refused by 127.0.0.1:{port}"),
        hint: Some("hint: is the server running and listening there?"),
        ..ROW
    },
    Row {
        id: "mas_token_trickles",
        case: "MAS token trickles",
        tried: "MAS's token endpoint sends its answer one byte every 10 ms: nothing that could create the account was sent.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Token => stub_mas::trickle(
                "200 OK",
                &format!(
                    "{{\"access_token\":\"mat_x\",\"expires_in\":300{}}}",
                    " ".repeat(600)
                ),
            ),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 4,
        error: Some("error: 127.0.0.1:{port} did not finish its answer within 2 s"),
        hint: Some(
            "hint: is the server overloaded or stuck? Raise the limit with --timeout SECONDS",
        ),
        requests: &["POST"],
        ..ROW
    },
    Row {
        id: "mas_create_trickles",
        case: "MAS creation trickles",
        tried: "MAS trickles its answer to `POST /api/admin/v1/users`: the account may exist, so the hint says how to retry safely.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Create => stub_mas::trickle(
                "201 Created",
                &format!("{{\"data\":{{\"id\":\"01X\"}}{}}}", " ".repeat(600)),
            ),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 4,
        error: Some("error: 127.0.0.1:{port} did not finish its answer within 2 s"),
        hint: Some(
            "hint: the server may have created the account before the answer was lost: retry with --exists-ok",
        ),
        requests: &["POST", "GET", "POST"],
        ..ROW
    },
    Row {
        id: "mas_create_connection_reset",
        case: "MAS creation lost",
        tried: "MAS resets the connection after reading `POST /api/admin/v1/users`: it is not sent again (a second one would find the user it may have created, and say it exists), and the account is reported as possibly created.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Create => Reply::Reset,
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 4,
        error: Some("error: 127.0.0.1:{port} reset the connection before answering"),
        hint: Some(
            "hint: the server may have created the account before the answer was lost: retry with --exists-ok",
        ),
        requests: &["POST", "GET", "POST"],
        ..ROW
    },
    Row {
        id: "mas_set_password_connection_reset",
        case: "MAS set-password lost",
        tried: "MAS resets the connection after reading `set-password`: setting the same password twice does what once does, so it is sent once more on a fresh connection, reset again, and one line says the account may exist without a password.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::SetPassword => Reply::Reset,
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 4,
        error: Some(
            "error: @alice:example.org now exists without a password: 127.0.0.1:{port} reset the connection before answering",
        ),
        hint: Some(
            "hint: fix the cause, then set its password with MAS's admin API (POST /api/admin/v1/users/ID/set-password) or `mas-cli manage set-password alice PASSWORD` where MAS's config is",
        ),
        requests: &["POST", "GET", "POST", "POST", "POST"],
        ..ROW
    },
    Row {
        id: "mas_rate_limited",
        case: "MAS answers 429",
        tried: "MAS's token endpoint answers `429 Too Many Requests`: nothing was created (a batch waits and sends the row again).",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Token => stub_mas::errors(429, "Too many requests"),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 1,
        error: Some("error: Received 429 Too Many Requests: MAS token request: Too many requests"),
        hint: Some("hint: MAS is rate-limiting requests; retry later"),
        requests: &["POST"],
        ..ROW
    },
    Row {
        id: "mas_lies_about_the_new_user",
        case: "MAS 201 without an id",
        tried: "MAS answers `201 Created` to the creation without the user's id, and then does not find the user by name: the account exists without a password, said in one line with how to finish it.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Create => Reply::json(201, json!({"data": null})),
            stub_mas::Step::ByUsername => {
                stub_mas::errors(404, "User with username \"alice\" not found")
            }
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 1,
        error: Some(
            "error: @alice:example.org now exists without a password: Received 404 Not Found: MAS by-username lookup: User with username \"alice\" not found",
        ),
        hint: Some(
            "hint: fix the cause, then set its password with MAS's admin API (POST /api/admin/v1/users/ID/set-password) or `mas-cli manage set-password alice PASSWORD` where MAS's config is",
        ),
        requests: &["POST", "GET", "POST", "GET"],
        ..ROW
    },
    Row {
        id: "mas_refuses_the_password_after_creation",
        case: "MAS refuses the password",
        tried: "MAS creates the user, then refuses its password (`400 Password is too weak`, a stricter rule than its site-config said): one line says the account exists without one.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::SetPassword => stub_mas::errors(400, "Password is too weak"),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 1,
        error: Some(
            "error: @alice:example.org now exists without a password: Received 400 Bad Request: MAS set-password: Password is too weak",
        ),
        hint: Some(
            "hint: fix the cause, then set its password with MAS's admin API (POST /api/admin/v1/users/ID/set-password) or `mas-cli manage set-password alice PASSWORD` where MAS's config is",
        ),
        requests: &["POST", "GET", "POST", "POST"],
        ..ROW
    },
    Row {
        id: "mas_without_synapse",
        case: "MAS up, Synapse down",
        tried: "MAS answers the creation with its `500 Failed to check localpart availability from Synapse`: nothing was created.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Create => Reply::json(
                500,
                json!({"errors": [{"title": "Failed to check localpart availability from Synapse"}, {"title": "Connection refused (os error 111)"}]}),
            ),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 1,
        error: Some(
            "error: Received 500 Internal Server Error: MAS user creation: Failed to check localpart availability from Synapse: Connection refused (os error 111)",
        ),
        hint: Some(
            "hint: MAS is up but cannot reach the homeserver: is Synapse running, and is MAS's matrix.endpoint its address? Nothing was created",
        ),
        requests: &["POST", "GET", "POST"],
        ..ROW
    },
    Row {
        id: "mas_session_refused",
        case: "MAS refuses the token",
        tried: "With `-o token`, MAS refuses the new user's personal session: the account exists with its password but without a token.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::PersonalSession => stub_mas::errors(403, "Forbidden"),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: &[
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
            "-o",
            "token",
        ],
        exit: 1,
        error: Some(
            "error: @alice:example.org now exists without an access token: Received 403 Forbidden: MAS personal session: Forbidden",
        ),
        hint: Some(
            "hint: its password is set: log in with it (MAS's /_matrix/client/v3/login) to get a token",
        ),
        requests: &["POST", "GET", "POST", "POST", "POST"],
        ..ROW
    },
    Row {
        id: "mas_token_answer_without_token",
        case: "MAS token without token",
        tried: "The token endpoint answers `200 OK` without an `access_token`: not MAS.",
        server: plain(|r, _| match stub_mas::step(r) {
            stub_mas::Step::Token => Reply::json(200, json!({"token_type": "Bearer"})),
            _ => stub_mas::answer(r),
        }),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 4,
        error: Some(
            "error: http://127.0.0.1:{port}/oauth2/token answered 200 without an access_token: is this Matrix Authentication Service?",
        ),
        hint: Some("hint: check the MAS URL"),
        requests: &["POST"],
        ..ROW
    },
    Row {
        id: "mas_url_is_the_homeserver",
        case: "--mas-url is Synapse",
        tried: "`--mas-url` names the homeserver, which has no token endpoint (`404 M_UNRECOGNIZED`).",
        server: plain(|_, _| Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request")),
        env: MAS_ENV,
        args: REGISTER_MAS,
        exit: 1,
        error: Some("error: Received 404 Not Found: MAS token request: Unrecognized request"),
        hint: Some(
            "hint: no token endpoint here: the MAS URL must be MAS's own address (http.public_base), not the homeserver's",
        ),
        requests: &["POST"],
        ..ROW
    },
];

/// The fake Synapse, which creates the account, then `answer` instead of
/// its answer to the registration.
fn registered_then(request: &Request, ctx: &Ctx, answer: fn() -> Reply) -> Reply {
    let reply = ctx.synapse.reply(request);
    if request.method == "POST" {
        answer()
    } else {
        reply
    }
}

/// A 200 JSON answer with a body of about `bytes` bytes, sent one byte every
/// 10 ms: each gap is short, the whole takes longer than `--timeout`.
fn trickled(bytes: usize) -> Reply {
    let body = format!("{{\"nonce\": \"{}\"}}", "a".repeat(bytes));
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend(body.into_bytes());
    Reply::Trickle {
        bytes: answer,
        every: std::time::Duration::from_millis(10),
    }
}

/// A `500` whose headers are about `bytes` bytes long, sent one byte every
/// 10 ms.
fn trickled_headers(bytes: usize) -> Reply {
    let answer = format!(
        "HTTP/1.1 500 Internal Server Error\r\nX-Padding: {}\r\nContent-Length: 0\r\n\r\n",
        "a".repeat(bytes)
    );
    Reply::Trickle {
        bytes: answer.into_bytes(),
        every: std::time::Duration::from_millis(10),
    }
}

/// `404 M_UNRECOGNIZED` on the registration endpoint, `answer` on every
/// auth-metadata path.
fn not_found_then_metadata(request: &Request, answer: fn() -> Reply) -> Reply {
    if request.path.starts_with("/_matrix/client/") {
        answer()
    } else {
        Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request")
    }
}
