//! The TLS configurations the client uses, all built with the ring crypto
//! provider passed in (no process-wide default is installed): the system's
//! trust (rustls-platform-verifier, as reqwest would set it up), none at all
//! (insecure), or the certificates given with `--cacert`.
//!
//! webpki, rustls's verifier, never accepts a certificate authority's
//! certificate (basicConstraints CA:TRUE) as a server's own. But that is
//! what `openssl req -x509` makes by default, and so what most self-signed
//! Synapse listeners present; curl and the reference script (OpenSSL) accept
//! it when it is the very certificate they were told to trust.
//!
//! So the verifier here is webpki's, with the `--cacert` certificates as its
//! only roots, and one addition: when webpki refuses the certificate the
//! server presents and that certificate is byte for byte one of those the
//! user gave, it is trusted as given, like a pinned certificate. Nothing
//! about it is taken on trust but its issuer: the host name must be one it
//! names and the current time within its validity period, and the
//! handshake's signatures are still checked against its key by webpki. A
//! certificate that is not one of the user's own gets webpki's verdict
//! unchanged.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn with_verifier(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // reqwest is built for HTTP/1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The system's trust, or with `insecure` no verification at all.
pub fn config(insecure: bool) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(NoVerifier(provider.clone()))
    } else {
        Arc::new(rustls_platform_verifier::Verifier::new(provider.clone())?)
    };
    with_verifier(provider, verifier)
}

/// Accepts any certificate and signature (`--insecure`).
#[derive(Debug)]
struct NoVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS configuration that trusts `certificates` (from `--cacert`) alone.
pub fn cacert_config(
    certificates: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    // A certificate webpki cannot take as a root is still trusted when the
    // server presents it as is.
    roots.add_parsable_certificates(certificates.iter().cloned());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .ok();
    let verifier = CacertVerifier {
        webpki,
        given: certificates,
        provider: provider.clone(),
    };
    with_verifier(provider, Arc::new(verifier))
}

#[derive(Debug)]
struct CacertVerifier {
    /// webpki with the given certificates as roots; `None` when none of them
    /// can be a root.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The certificates from `--cacert`, to recognise one presented as is.
    given: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CacertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(CertificateError::UnknownIssuer.into()),
        };
        match verdict {
            Err(refusal) if self.given.iter().any(|given| given == end_entity) => {
                // A name or date problem is the real reason, not the
                // CA:TRUE that webpki may have stopped at first.
                verify_given(end_entity, server_name, now).map_err(|problem| match problem {
                    Some(problem) => problem,
                    None => refusal,
                })
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Checks a certificate the user gave for the name and the time. `Err(None)`
/// when it cannot even be parsed: webpki's refusal then stands.
fn verify_given(
    certificate: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, Option<rustls::Error>> {
    // rustls exports its parsed certificate type under `server` only.
    let parsed = rustls::server::ParsedCertificate::try_from(certificate).map_err(|_| None)?;
    rustls::client::verify_server_name(&parsed, server_name).map_err(Some)?;
    let (not_before, not_after) = validity(certificate).ok_or(None)?;
    let (not_before, not_after) = (
        UnixTime::since_unix_epoch(Duration::from_secs(not_before)),
        UnixTime::since_unix_epoch(Duration::from_secs(not_after)),
    );
    if now < not_before {
        return Err(Some(
            CertificateError::NotValidYetContext {
                time: now,
                not_before,
            }
            .into(),
        ));
    }
    if now > not_after {
        return Err(Some(
            CertificateError::ExpiredContext {
                time: now,
                not_after,
            }
            .into(),
        ));
    }
    Ok(ServerCertVerified::assertion())
}

/// `notBefore` and `notAfter` of a DER X.509 certificate, in seconds since
/// the Unix epoch (RFC 5280 4.1: the validity follows the optional version,
/// the serial number, the signature algorithm and the issuer).
fn validity(der: &[u8]) -> Option<(u64, u64)> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (mut tbs, _) = element(certificate, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = element(tbs, VERSION)?.1;
    }
    for _ in ["serialNumber", "signature", "issuer"] {
        tbs = element(tbs, *tbs.first()?)?.1;
    }
    let (validity, _) = element(tbs, SEQUENCE)?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    Some((not_before, not_after))
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The contents of the DER element with this tag at the start of `input`,
/// and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&length, mut rest) = rest.split_first()?;
    let length = if length < 0x80 {
        usize::from(length)
    } else {
        let bytes = usize::from(length & 0x7f);
        if bytes == 0 || bytes > 4 {
            return None;
        }
        let (digits, after) = rest.split_at_checked(bytes)?;
        rest = after;
        digits
            .iter()
            .fold(0usize, |n, &digit| (n << 8) | usize::from(digit))
    };
    rest.split_at_checked(length)
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), as
/// RFC 5280 4.1.2.5 requires them, in seconds since the epoch.
fn time(input: &[u8]) -> Option<(u64, &[u8])> {
    let tag = *input.first()?;
    let (text, rest) = element(input, tag)?;
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u64, |n, &digit| n * 10 + u64::from(digit - b'0'))
    };
    let (year, rest_of_it) = match (tag, digits.len()) {
        // RFC 5280: YY of 50 or more is 19YY, below 50 is 20YY.
        (UTC_TIME, 12) => match number(0..2) {
            yy if yy >= 50 => (1900 + yy, 2),
            yy => (2000 + yy, 2),
        },
        (GENERALIZED_TIME, 14) => (number(0..4), 4),
        _ => return None,
    };
    let field = |i: usize| number(rest_of_it + 2 * i..rest_of_it + 2 * i + 2);
    let (month, day, hour, minute, second) = (field(0), field(1), field(2), field(3), field(4));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if year < 1970 || second > 60 {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some((days * 86_400 + hour * 3_600 + minute * 60 + second, rest))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (1970 or later).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    // Counted from March, so that the leap day ends the year.
    let (year, month) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let (era, year_of_era) = (year / 400, year % 400);
    let day_of_year = (153 * month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// Made with `openssl req -x509 -subj /CN=localhost -addext
    /// "subjectAltName = DNS:localhost, IP:127.0.0.1" -newkey ec -days 30`
    /// (CA:TRUE). `openssl x509 -dates`: notBefore=Nov 27 11:12:10 2026 GMT,
    /// notAfter=Dec 27 11:12:10 2026 GMT.
    pub(crate) const OPENSSL_DEFAULT: &str = "-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUad99oGKdwSTQY11+GeSLUFkw7KIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2MTEyNzExMTIxMFoXDTI2MTIyNzEx
MTIxMFowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAE0zQvM4xsepgd+2OKY8NyZSigqFZ7nrVvLSxivfBQKZOpiI6r3DSLVWXJ
j1c6DP+cotaeq/dJQXQ7sr/nD8gz/6NvMG0wHQYDVR0OBBYEFFxYgD9Qo7W+8wFg
32LJAdhXS9HlMB8GA1UdIwQYMBaAFFxYgD9Qo7W+8wFg32LJAdhXS9HlMA8GA1Ud
EwEB/wQFMAMBAf8wGgYDVR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAoGCCqGSM49
BAMCA0gAMEUCIEyhN/8rD41f9gjV306d6pTqUSqVF0hXy6a4k5/ZcUo3AiEAy73V
6skR4LBYJ38PxDIS+/Zv7dyRuk2gOO9yQQDF8Lg=
-----END CERTIFICATE-----
";
    const NOT_BEFORE: u64 = 1_795_777_930;
    const NOT_AFTER: u64 = 1_798_369_930;

    fn at(seconds: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(seconds))
    }

    /// The certificate given is trusted as given, for its names and within
    /// its dates only; any other is refused.
    #[test]
    fn a_given_certificate_is_checked_for_name_and_dates() {
        let cert = CertificateDer::from_pem_slice(OPENSSL_DEFAULT.as_bytes()).unwrap();
        assert_eq!(validity(&cert), Some((NOT_BEFORE, NOT_AFTER)));
        let verifier = CacertVerifier {
            webpki: None,
            given: vec![cert.clone()],
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let name = |n: &str| ServerName::try_from(n.to_owned()).unwrap();
        let verify = |server_name: &str, now: u64| {
            verifier.verify_server_cert(&cert, &[], &name(server_name), &[], at(now))
        };
        assert!(verify("localhost", NOT_BEFORE + 60).is_ok());
        assert!(verify("127.0.0.1", NOT_AFTER).is_ok());
        let refused = |result: Result<ServerCertVerified, rustls::Error>| match result {
            Err(rustls::Error::InvalidCertificate(cause)) => cause,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            refused(verify("localhost", NOT_AFTER + 1)),
            CertificateError::ExpiredContext { .. }
        ));
        assert!(matches!(
            refused(verify("localhost", NOT_BEFORE - 1)),
            CertificateError::NotValidYetContext { .. }
        ));
        assert!(matches!(
            refused(verify("example.org", NOT_BEFORE + 60)),
            CertificateError::NotValidForNameContext { .. }
        ));
        let stranger = CacertVerifier {
            given: Vec::new(),
            ..verifier
        };
        assert!(matches!(
            refused(stranger.verify_server_cert(
                &cert,
                &[],
                &name("localhost"),
                &[],
                at(NOT_BEFORE + 60)
            )),
            CertificateError::UnknownIssuer
        ));
    }

    #[test]
    fn dates_count_from_the_epoch() {
        assert_eq!(days_since_epoch(1970, 1, 1), 0);
        assert_eq!(days_since_epoch(2000, 3, 1), 11_017);
        assert_eq!(days_since_epoch(2024, 2, 29), 19_782);
        assert_eq!(days_since_epoch(2049, 12, 31), 29_219);
    }

    #[test]
    fn both_time_forms_are_read() {
        let utc = [UTC_TIME, 13]
            .into_iter()
            .chain(*b"491231235959Z")
            .collect::<Vec<_>>();
        assert_eq!(time(&utc), Some((2_524_607_999, &[][..])));
        let generalized = [GENERALIZED_TIME, 15]
            .into_iter()
            .chain(*b"20500101000000Z")
            .collect::<Vec<_>>();
        assert_eq!(time(&generalized), Some((2_524_608_000, &[][..])));
        assert_eq!(time(&[UTC_TIME, 13, b'4', b'9']), None, "truncated");
        let local = [UTC_TIME, 12]
            .into_iter()
            .chain(*b"491231235959")
            .collect::<Vec<_>>();
        assert_eq!(time(&local), None, "no Z");
    }

    #[test]
    fn long_lengths_and_truncation() {
        let mut long = vec![SEQUENCE, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7u8, 256));
        long.push(9);
        let (contents, rest) = element(&long, SEQUENCE).unwrap();
        assert_eq!((contents.len(), rest), (256, &[9u8][..]));
        assert_eq!(element(&long[..100], SEQUENCE), None);
        assert_eq!(element(&[SEQUENCE, 0x80], SEQUENCE), None);
        assert_eq!(element(&[0x31, 0], SEQUENCE), None);
        assert_eq!(validity(&[]), None);
        assert_eq!(validity(&[SEQUENCE, 2, SEQUENCE, 0]), None);
    }
}
