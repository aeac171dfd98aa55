//! TLS to Redis (`rediss://`, the `tls` feature): which CA to trust, the client
//! certificate for mutual TLS, the explicit opt-out of verification, and telling the
//! user which of these a failed handshake was about.
//!
//! rustls does the TLS, with the ring provider (no OpenSSL, no C toolchain beyond
//! `cc`). The system's roots are trusted by default; a given CA is trusted instead.
//! rustls wants one process-wide crypto provider: building a TLS store installs ring
//! unless the application installed one before (an application that wants aws-lc-rs
//! installs it before building the store).

#[cfg(feature = "tls")]
use std::path::PathBuf;

use redis::RedisError;
#[cfg(feature = "tls")]
use session_core::Error;

/// Where a PEM document comes from: read at `build()`, so a missing file is a
/// configuration error there, not a failed request later.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) enum Pem {
    Bytes(Vec<u8>),
    File(PathBuf),
}

#[cfg(feature = "tls")]
impl Pem {
    fn read(&self, what: &str) -> Result<Vec<u8>, Error> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.clone()),
            Self::File(path) => std::fs::read(path).map_err(|error| Error::Config {
                backend: "Redis",
                reason: format!("cannot read the {what} at {}: {error}", path.display()),
            }),
        }
    }
}

/// The TLS settings a builder collects.
#[cfg(feature = "tls")]
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    pub(crate) ca_certificate: Option<Pem>,
    /// Certificate chain and private key, both PEM.
    pub(crate) client_certificate: Option<(Pem, Pem)>,
    pub(crate) accept_invalid_certificates: bool,
}

#[cfg(feature = "tls")]
impl TlsOptions {
    /// True when any TLS option was given.
    pub(crate) fn is_set(&self) -> bool {
        self.ca_certificate.is_some()
            || self.client_certificate.is_some()
            || self.accept_invalid_certificates
    }

    /// The certificates to hand to the redis client, or `None` when the defaults
    /// (system roots, no client certificate) apply.
    pub(crate) fn certificates(&self) -> Result<Option<redis::TlsCertificates>, Error> {
        if self.ca_certificate.is_none() && self.client_certificate.is_none() {
            return Ok(None);
        }
        let root_cert = match &self.ca_certificate {
            Some(pem) => Some(pem.read("CA certificate")?),
            None => None,
        };
        let client_tls = match &self.client_certificate {
            Some((cert, key)) => Some(redis::ClientTlsConfig {
                client_cert: cert.read("client certificate")?,
                client_key: key.read("client key")?,
            }),
            None => None,
        };
        Ok(Some(redis::TlsCertificates {
            client_tls,
            root_cert,
        }))
    }
}

/// Makes ring the process's rustls provider unless the application chose one: rustls
/// cannot pick by itself when the application's other dependencies enable a second
/// provider.
#[cfg(feature = "tls")]
pub(crate) fn ensure_crypto_provider() {
    // An error only says a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What to change when `error` is a TLS failure; `None` otherwise.
pub(crate) fn advice(error: &RedisError) -> Option<&'static str> {
    #[cfg(feature = "tls")]
    if let Some(advice) = rustls_error(error).map(advice_for) {
        return Some(advice);
    }
    // The redis client does not always keep the TLS error as a source: fall back on
    // rustls's own wording, which names the variant.
    let text = error.to_string();
    let advice = if text.contains("UnknownIssuer") {
        UNTRUSTED
    } else if text.contains("NotValidForName") || text.contains("not valid for name") {
        WRONG_NAME
    } else if text.contains("CertificateRequired") || text.contains("certificate required") {
        CLIENT_CERTIFICATE
    } else if text.contains("Expired") || text.contains("certificate expired") {
        EXPIRED
    } else {
        return None;
    };
    Some(advice)
}

const UNTRUSTED: &str = "the server's TLS certificate is not signed by a CA this store \
    trusts; add the CA (RedisStoreBuilder::ca_certificate_pem or ::ca_certificate_file)";
const WRONG_NAME: &str = "the server's TLS certificate does not name the host in the URL; \
    connect by a name the certificate lists";
const CLIENT_CERTIFICATE: &str = "the server requires a client certificate and got none it \
    accepts; set one (RedisStoreBuilder::client_certificate_pem or ::client_certificate_files)";
const EXPIRED: &str = "the server's TLS certificate has expired (or is not valid yet); renew it";
#[cfg(feature = "tls")]
const HANDSHAKE: &str = "the TLS handshake with Redis failed; check that the server speaks \
    TLS on this port";

#[cfg(feature = "tls")]
fn advice_for(error: &rustls::Error) -> &'static str {
    use rustls::{AlertDescription, CertificateError};
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => UNTRUSTED,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                WRONG_NAME
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => EXPIRED,
            _ => UNTRUSTED,
        },
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown,
        ) => CLIENT_CERTIFICATE,
        _ => HANDSHAKE,
    }
}

/// The rustls error somewhere in `error`'s chain (I/O errors hide theirs behind
/// `get_ref`, not `source`).
#[cfg(feature = "tls")]
fn rustls_error(error: &RedisError) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(found) = inner.downcast_ref::<rustls::Error>() {
                return Some(found);
            }
        }
        next = current.source();
    }
    None
}
