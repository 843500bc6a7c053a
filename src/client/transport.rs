//! The transport options both builders set (timeouts, waiting, TLS, the
//! connection pool), their caps and checks, and the reqwest client and TLS
//! configuration made from them.

use super::proxy;
use crate::error::{Error, Hint, Result, Setting};
use reqwest::{Client as HttpClient, redirect};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest timeout or wait a builder keeps (about 31 years, as the
/// command line allows): a longer one is taken as this, so that no deadline
/// computed from it overflows the clock.
const MAX_DURATION: Duration = Duration::from_secs(1_000_000_000);
/// Connecting (TCP and TLS) gets this share of the request timeout, so that a
/// stalled handshake ends as a connect failure (nothing sent: a wait may
/// retry it) instead of racing the request timeout. When both have run out
/// by the time the process is scheduled again, the request timeout wins, so
/// the margin must outlast a busy machine's scheduling delays: at 0.9 (0.2 s
/// of a 2 s timeout) a loaded test machine lost the race about once in 30.
const CONNECT_SHARE: f64 = 0.75;

/// How to talk to the server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// For each request, from connecting to the end of the answer.
    pub timeout: Duration,
    /// How long to keep retrying while the server cannot be reached.
    pub wait: Option<Duration>,
    /// PEM certificates to trust instead of the system's.
    pub cacert: Option<CaCert>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Connections to keep open for reuse (batch mode runs several at once).
    pub pool_size: usize,
    /// Connect through this Unix socket instead of the URL's host and port.
    pub unix_socket: Option<PathBuf>,
}

/// Where the certificates to trust come from.
#[derive(Clone)]
pub enum CaCert {
    /// A PEM file, read when the client is built.
    File(PathBuf),
    /// PEM text given as it is.
    Pem(Vec<u8>),
}

/// How messages name the certificates: the file, or what gave them.
impl fmt::Display for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaCert::File(path) => path.display().fmt(f),
            CaCert::Pem(_) => f.write_str("the PEM certificates given"),
        }
    }
}

/// Certificates are public, but a whole bundle is noise in a log line.
impl fmt::Debug for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaCert::File(path) => f.debug_tuple("File").field(path).finish(),
            CaCert::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            wait: None,
            cacert: None,
            insecure: false,
            pool_size: 1,
            unix_socket: None,
        }
    }
}

/// What the builders' setters of the same names do: both builders set
/// their options here, so that each cap and check is written once.
impl HttpOptions {
    /// More than 10⁹ seconds is taken as that.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout.min(MAX_DURATION);
    }

    /// More than 10⁹ seconds (`Duration::MAX`) is taken as that.
    pub(crate) fn set_wait(&mut self, wait: Duration) {
        self.wait = Some(wait.min(MAX_DURATION));
    }

    /// What a builder refuses when it builds: a zero timeout, which no
    /// request could meet.
    pub(crate) fn check(&self) -> Result<()> {
        if self.timeout.is_zero() {
            return Err(Error::input("timeout", "must be more than 0 seconds"));
        }
        Ok(())
    }

    /// The TLS configuration for a server reached by `https` or not: the
    /// certificates given, none checked, or the system's trust store.
    pub(super) fn tls(&self, https: bool) -> Result<rustls::ClientConfig> {
        let tls = match &self.cacert {
            Some(cacert) if !self.insecure => crate::tls::cacert_config(read_certificates(cacert)?),
            _ if self.insecure => crate::tls::config(true),
            // The system's trust store is needed only for https://: a scratch
            // container has none, and plain http:// or a Unix socket must
            // work there. TLS is then used only by an https:// proxy, which
            // gets the system's trust when there is one.
            _ if !https => {
                crate::tls::config(false).or_else(|_| crate::tls::cacert_config(Vec::new()))
            }
            _ => Ok(crate::tls::config(false).map_err(no_system_roots)?),
        };
        tls.map_err(|e| {
            let with = match &self.cacert {
                Some(cacert) if !self.insecure => format!(" with {cacert}"),
                _ => String::new(),
            };
            Error::transport(format!("cannot set up TLS{with}: {e}"), None).caused_by(e)
        })
    }
}

/// A reqwest client keeping up to `pool_size` idle connections for reuse;
/// with 0, each request goes on a fresh connection.
pub(super) fn http_client(
    options: &HttpOptions,
    tls: rustls::ClientConfig,
    pool_size: usize,
) -> Result<HttpClient> {
    let mut builder = HttpClient::builder()
        .redirect(redirect::Policy::none())
        .timeout(options.timeout)
        .connect_timeout(
            options
                .timeout
                .mul_f64(CONNECT_SHARE)
                .min(MAX_CONNECT_TIMEOUT),
        )
        .pool_max_idle_per_host(pool_size)
        .user_agent(concat!(
            "register_new_matrix_user/",
            env!("CARGO_PKG_VERSION")
        ))
        // Built with the ring provider passed in, so that no process-wide
        // default is installed.
        .tls_backend_preconfigured(tls);
    if proxy::no_proxy_for_any_host() {
        builder = builder.no_proxy();
    }
    if let Some(socket) = &options.unix_socket {
        builder = crate::unix_socket::connect_through(builder, socket)?;
    }
    builder.build().map_err(|e| {
        Error::transport(
            format!(
                "cannot set up the HTTP client: {}",
                super::diagnose::chain(&e)
            ),
            None,
        )
        .caused_by(e)
    })
}

/// The system's trust store could not be used for an https:// URL: on Linux,
/// it has no certificates at all (a scratch container, a minimal chroot).
/// Exit 3, with the two ways to give some: a bundled set of roots compiled
/// in would go stale in a static binary that nobody rebuilds, and would
/// trust what the administrator chose not to.
fn no_system_roots(error: rustls::Error) -> Error {
    Error::Input {
        origin: "server URL".to_owned(),
        problem: format!(
            "is https://, but the system's certificate authorities cannot be loaded to verify the server ({error})"
        ),
        hint: Some(
            Hint::text("pass the server's certificate or its authority's with ")
                .setting(Setting::CaCert)
                .then(", or point SSL_CERT_FILE at a CA bundle (install ca-certificates, or mount /etc/ssl/certs/ca-certificates.crt into a container)"),
        ),
    }
}

/// A system's whole CA bundle is about 200 KiB.
const MAX_CERT_FILE_BYTES: u64 = 1024 * 1024;

/// A file is read as the other file options are: capped, a directory
/// refused, and a named pipe nobody writes to read as empty instead of
/// waited on.
fn read_certificates(cacert: &CaCert) -> Result<Vec<CertificateDer<'static>>> {
    let read;
    let pem = match cacert {
        CaCert::File(path) => {
            read = crate::files::read_capped(path, MAX_CERT_FILE_BYTES, None)?;
            &read
        }
        CaCert::Pem(pem) => pem,
    };
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|certs| {
            !certs.is_empty() && pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
        })
        .ok_or_else(|| {
            // The setting is named in the hint, as data: the library does not
            // know what its caller calls it.
            let hint = Hint::text("the file given as ")
                .setting(Setting::CaCert)
                .then(" must hold PEM certificates (-----BEGIN CERTIFICATE-----)");
            match cacert {
                CaCert::File(path) => {
                    Error::file(path, None, "holds no PEM certificate").with_hint(hint)
                }
                CaCert::Pem(_) => Error::input(
                    "cacert_pem",
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ),
            }
        })?;
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::tests::OPENSSL_DEFAULT;
    use crate::{Client, ClientBuilder};

    #[test]
    fn durations_are_capped_where_they_are_set() {
        let mut options = HttpOptions::default();
        options.set_timeout(Duration::from_secs(5));
        options.set_wait(Duration::from_secs(7));
        assert_eq!(options.timeout, Duration::from_secs(5));
        assert_eq!(options.wait, Some(Duration::from_secs(7)));
        options.set_timeout(Duration::MAX);
        options.set_wait(Duration::MAX);
        assert_eq!(options.timeout, MAX_DURATION);
        assert_eq!(options.wait, Some(MAX_DURATION));
    }

    /// Which certificates a client's TLS checks the server's against.
    fn verifier(builder: ClientBuilder) -> Result<&'static str> {
        let tls = format!("{:?}", builder.shared_secret("s").build()?.tls);
        Ok(
            match (tls.contains("NoVerifier"), tls.contains("CacertVerifier")) {
                (true, _) => "none",
                (false, true) => "the given",
                (false, false) => "the system's",
            },
        )
    }

    /// `danger_accept_invalid_certs` checks nothing, whatever certificates
    /// are given (they are not even read); without it, those given replace
    /// the system's.
    #[test]
    fn each_option_gets_the_certificates_it_asks_for() {
        let https = || Client::builder("https://localhost/");
        assert_eq!(verifier(https()).unwrap(), "the system's");
        assert_eq!(
            verifier(https().cacert_pem(OPENSSL_DEFAULT)).unwrap(),
            "the given"
        );
        let insecure = || https().danger_accept_invalid_certs(true);
        assert_eq!(verifier(insecure()).unwrap(), "none");
        assert_eq!(
            verifier(insecure().cacert_pem(OPENSSL_DEFAULT)).unwrap(),
            "none"
        );
        let unread = insecure().cacert_pem("not a certificate");
        assert_eq!(verifier(unread).unwrap(), "none");
        let unread = insecure().cacert("/nonexistent/ca.pem");
        assert_eq!(verifier(unread).unwrap(), "none");
    }

    /// A bundle of several certificates is read whole; a file over 1 MiB
    /// is not a CA bundle, and is refused before it is read.
    #[test]
    fn a_certificate_file_is_read_up_to_one_mib() {
        let dir = tempfile::tempdir().unwrap();
        let build = |file: &str, text: String| {
            let path = dir.path().join(file);
            std::fs::write(&path, text).unwrap();
            Client::builder("https://localhost/")
                .shared_secret("s")
                .cacert(path)
                .build()
                .map(drop)
        };
        build("bundle.pem", OPENSSL_DEFAULT.repeat(4)).unwrap();
        let copies = MAX_CERT_FILE_BYTES as usize / OPENSSL_DEFAULT.len() + 1;
        let error = build("huge.pem", OPENSSL_DEFAULT.repeat(copies)).unwrap_err();
        assert!(error.to_string().contains("is larger than"), "{error}");
    }

    /// A line naming a certificate without one after it is no certificate.
    #[test]
    fn a_begin_line_alone_is_no_certificate() {
        for pem in [
            "junk -----BEGIN CERTIFICATE-----\n",
            "# a bundle of -----BEGIN CERTIFICATE----- blocks\n",
        ] {
            let error = Client::builder("https://localhost/")
                .shared_secret("s")
                .cacert_pem(pem)
                .build()
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                "cacert_pem: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            );
        }
    }

    /// Messages name a file by its path and PEM text by where it came
    /// from; a log line shows the size of a bundle, not the bundle.
    #[test]
    fn certificates_are_named_not_shown() {
        let file = CaCert::File("/etc/ssl/ca.pem".into());
        assert_eq!(file.to_string(), "/etc/ssl/ca.pem");
        assert_eq!(format!("{file:?}"), r#"File("/etc/ssl/ca.pem")"#);
        let pem = CaCert::Pem(OPENSSL_DEFAULT.into());
        assert_eq!(pem.to_string(), "the PEM certificates given");
        assert_eq!(
            format!("{pem:?}"),
            format!("Pem({} bytes)", OPENSSL_DEFAULT.len())
        );
    }
}
