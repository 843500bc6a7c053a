//! What a transport error means, in one line plus a hint.

use super::CaCert;
use crate::error::{Error, Hint, Setting};

/// A transport failure, split by whether the request may have reached the server.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No connection was made: nothing was sent.
    Connect(Error),
    /// The request was written, and the connection closed or was reset
    /// before a byte of answer came: what a server closing a kept-alive
    /// connection as it is reused looks like (or one that failed midway).
    Lost(Error),
    Other(Error),
}

impl Failure {
    /// The same failure keeping `cause` as the error's source.
    pub(super) fn caused_by(self, cause: reqwest::Error) -> Self {
        match self {
            Failure::Connect(error) => Failure::Connect(error.caused_by(cause)),
            Failure::Lost(error) => Failure::Lost(error.caused_by(cause)),
            Failure::Other(error) => Failure::Other(error.caused_by(cause)),
        }
    }

    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Connect(error) | Failure::Lost(error) | Failure::Other(error) => error,
        }
    }
}

pub(super) fn describe_transport_error(
    error: &reqwest::Error,
    target: &str,
    https: bool,
    timeout: f64,
    cacert: Option<&CaCert>,
) -> Failure {
    if let Some(tls) = find_cause::<rustls::Error>(error) {
        let (problem, hint) = describe_tls_error(tls, target, cacert);
        return Failure::Other(Error::transport_with(problem, hint));
    }
    let io_kind = find_cause::<std::io::Error>(error).map(std::io::Error::kind);
    if error.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        let problem = match (error.is_connect(), https) {
            (true, true) => format!("connecting to {target} over TLS timed out"),
            (true, false) => format!("connecting to {target} timed out"),
            (false, _) => format!("{target} did not answer within {timeout} s"),
        };
        let hint = Hint::text(if https {
            "does this port speak plain HTTP? Then use http://. Otherwise the server is overloaded or stuck: raise the limit with "
        } else {
            "is the server overloaded or stuck? Raise the limit with "
        })
        .setting(Setting::Timeout);
        let failure = Error::transport_with(problem, hint);
        return if error.is_connect() {
            Failure::Connect(failure)
        } else {
            Failure::Other(failure)
        };
    }
    if error.is_connect() {
        let (problem, hint) = match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => (
                format!("connection refused by {target}"),
                "is the server running and listening there?".to_owned(),
            ),
            _ => {
                let detail = chain(error);
                if detail.contains("dns error") || detail.contains("failed to lookup address") {
                    (
                        format!("cannot resolve the host of {target}"),
                        "check the host name in the server URL".to_owned(),
                    )
                } else if https
                    && (detail.contains("tls")
                        || detail.contains("handshake")
                        || detail.contains("connection closed"))
                {
                    (
                        format!("TLS handshake with {target} failed: {detail}"),
                        "does this port speak TLS? For a plain-HTTP listener use http://"
                            .to_owned(),
                    )
                } else {
                    (
                        format!("cannot connect to {target}: {detail}"),
                        "is the server running and listening there?".to_owned(),
                    )
                }
            }
        };
        return Failure::Connect(Error::transport(problem, Some(&hint)));
    }
    let detail = root_cause(error);
    // An answer that starts as HTTP but breaks its rules (two different
    // Content-Lengths, a bad header): a broken server or proxy, not TLS.
    let not_http = detail.starts_with("invalid HTTP version")
        || detail.starts_with("invalid HTTP method")
        || detail.contains("message head is too large");
    if !not_http && detail.starts_with("invalid ") && detail.ends_with(" parsed") {
        return Failure::Other(Error::transport(
            format!("{target} answered with malformed HTTP ({detail})"),
            Some("is there a broken proxy in front of the server? Check its configuration"),
        ));
    }
    let lost = |problem: String| {
        let hint = if https {
            "is there a proxy in front of the server? It is safe to retry"
        } else {
            "if this port speaks TLS (a tls: true listener), use https://"
        };
        Failure::Lost(Error::transport(problem, Some(hint)))
    };
    if io_kind == Some(std::io::ErrorKind::ConnectionReset) {
        return lost(format!("{target} reset the connection before answering"));
    }
    // Over TLS, a server (or load balancer) that drops a kept-alive
    // connection without close_notify shows as an unexpected end of file
    // in rustls, not as hyper's closed connection.
    if detail.contains("connection closed before message completed")
        || io_kind == Some(std::io::ErrorKind::UnexpectedEof)
    {
        return lost(format!("{target} closed the connection without answering"));
    }
    let problem =
        if detail.starts_with("invalid HTTP") || detail.contains("message head is too large") {
            format!("{target} answered with something that is not HTTP ({detail})")
        } else {
            format!("the connection to {target} failed: {detail}")
        };
    let hint = if https {
        "is there a proxy in front of the server? It is safe to retry"
    } else {
        "if this port speaks TLS (a tls: true listener), use https://"
    };
    Failure::Other(Error::transport(problem, Some(hint)))
}

/// What went wrong in TLS, and a hint that fits: the advice to pass
/// certificates to trust only when none were passed.
fn describe_tls_error(
    error: &rustls::Error,
    target: &str,
    cacert: Option<&CaCert>,
) -> (String, Hint) {
    use rustls::CertificateError as C;
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cause) => {
            let hint = match (cause, cacert) {
                (C::Expired | C::ExpiredContext { .. }, _)
                | (C::NotValidYet | C::NotValidYetContext { .. }, _) => {
                    Hint::text("renew the server's certificate, or check this machine's clock")
                }
                (C::NotValidForName | C::NotValidForNameContext { .. }, _) => {
                    Hint::text("use a host name the certificate is issued for in the server URL")
                }
                (_, Some(cacert)) => Hint::text(format!(
                    "{cacert} must hold the server's own certificate or the authority that signed it"
                )),
                (_, None) => Hint::text("for a self-signed certificate pass it with ")
                    .setting(Setting::CaCert)
                    .then(" (or, at your own risk, ")
                    .setting(Setting::Insecure)
                    .then(")"),
            };
            (
                format!(
                    "the TLS certificate of {target} is not trusted: {}",
                    describe_certificate_error(cause, cacert)
                ),
                hint,
            )
        }
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => (
            format!(
                "TLS handshake with {target} failed: the server does not speak TLS on this port"
            ),
            Hint::text("for a plain-HTTP listener use http://"),
        ),
        other => (
            format!("TLS with {target} failed: {other}"),
            match cacert {
                Some(_) => Hint::text("check the server's TLS setup"),
                None => Hint::text("check the server's TLS setup, or use ")
                    .setting(Setting::CaCert)
                    .then(" for a private certificate authority"),
            },
        ),
    }
}

fn describe_certificate_error(error: &rustls::CertificateError, cacert: Option<&CaCert>) -> String {
    use rustls::CertificateError as C;
    match error {
        // What webpki reports for a certificate no trusted authority signed
        // depends on the trust store; to the user they are all one thing.
        C::UnknownIssuer
        | C::BadSignature
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => match cacert {
            Some(cacert) => {
                format!("it is not in {cacert} and no certificate there has signed it")
            }
            None => {
                "no certificate authority this machine trusts has signed it (is it self-signed?)"
                    .to_owned()
            }
        },
        // What `openssl req -x509` makes by default: trusted only when it is
        // the very certificate given with --cacert (see tls.rs).
        C::Other(other)
            if other.0.downcast_ref::<webpki::Error>()
                == Some(&webpki::Error::CaUsedAsEndEntity) =>
        {
            match cacert {
                Some(cacert) => format!(
                    "it is a certificate authority's certificate, which is trusted as the server's own only when it is itself in {cacert}"
                ),
                None => "it is self-signed (a certificate authority's own certificate)".to_owned(),
            }
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("it is not issued for this host name ({error})")
        }
        C::Revoked => "it has been revoked".to_owned(),
        other => other.to_string(),
    }
}

/// The innermost cause of an error, in the OS's or the library's own words,
/// without wrappers like "client error (SendRequest)".
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    loop {
        let inner = current.source().or_else(|| {
            current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static))
        });
        match inner {
            Some(inner) => current = inner,
            None => break,
        }
    }
    match current.downcast_ref::<std::io::Error>() {
        Some(io) => crate::files::io_reason(io),
        None => current.to_string(),
    }
}

/// Finds an error of type `T` among the causes, looking inside `io::Error`s,
/// which is where hyper and rustls put theirs.
pub(super) fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|inner| find_cause::<T>(inner)) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

/// The causes of an error, joined, without the URL (already said).
pub(super) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}
