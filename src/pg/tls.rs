//! TLS to PostgreSQL: libpq's `sslmode`s on rustls, with graviola's
//! pure-Rust crypto provider (no ring or aws-lc, so no C in the build).
//!
//! | `sslmode` | encrypts | verifies |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | if the server offers TLS, else plain | nothing |
//! | `require` | always; fails if the server has no TLS | nothing, or the chain when `sslrootcert` is given (as libpq) |
//! | `verify-ca` | always | the chain up to `sslrootcert`, not the host name |
//! | `verify-full` | always | the chain and that the certificate names the host |
//!
//! `sslrootcert` is a PEM file of trusted roots, or `system` for the
//! system bundle (`SSL_CERT_FILE`, else the usual distribution paths). Without it,
//! `verify-ca`/`verify-full` use `~/.postgresql/root.crt` as libpq does, and
//! fail clearly when that is missing. `allow` is treated as `prefer`
//! (TLS first): the client library cannot start plain and upgrade.

use super::dsn::Dsn;
use crate::error::{Error, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::config::dsn::SslMode;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Encryption only: any certificate (its handshake signature is still checked).
    None,
    /// The chain up to a trusted root, any host name.
    Chain,
    /// The chain and the host name.
    Full,
}

/// The connector for a DSN: `None` for `sslmode=disable`.
pub fn connector(dsn: &Dsn) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>> {
    let mode = dsn.ssl_mode();
    if mode == SslMode::Disable {
        return Ok(None);
    }
    let target = dsn.to_string();
    let (verification, roots) = match (mode, dsn.ssl_root_cert()) {
        (SslMode::Allow | SslMode::Prefer, _) => (Verification::None, None),
        (SslMode::Require, None) => (Verification::None, None),
        (SslMode::Require, Some(p)) => (Verification::Chain, Some(load_roots(&target, p)?)),
        (SslMode::VerifyCa | SslMode::VerifyFull, given) => {
            let path = match given {
                Some(p) => p.to_path_buf(),
                None => default_root_file().ok_or_else(|| Error::PgConnection {
                    target: target.clone(),
                    what: format!(
                        "sslmode={} needs trusted roots: set sslrootcert=/path/to/ca.pem (or sslrootcert=system); ~/.postgresql/root.crt does not exist",
                        mode.as_str()
                    ),
                })?,
            };
            let v = if mode == SslMode::VerifyCa {
                Verification::Chain
            } else {
                Verification::Full
            };
            (v, Some(load_roots(&target, &path)?))
        }
        (SslMode::Disable, _) => unreachable!("returned above"),
    };
    let config =
        client_config(verification, roots).map_err(|what| Error::PgConnection { target, what })?;
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

fn default_root_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".postgresql/root.crt");
    p.is_file().then_some(p)
}

/// The system bundle, for `sslrootcert=system`.
fn system_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/ca-bundle.pem",
                "/etc/ssl/cert.pem",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file())
}

/// Reads PEM roots; a clear error names the file if it is unreadable,
/// holds no certificate, or none of them is a usable root.
pub fn load_roots(target: &str, path: &Path) -> Result<RootCertStore> {
    let path = if path == Path::new("system") {
        system_bundle().ok_or_else(|| Error::PgConnection {
            target: target.to_string(),
            what: "sslrootcert=system: no system certificate bundle found (set SSL_CERT_FILE)"
                .into(),
        })?
    } else {
        path.to_path_buf()
    };
    let bad = |what: String| Error::PgConnection {
        target: target.to_string(),
        what: format!("sslrootcert {}: {what}", path.display()),
    };
    let pem = std::fs::read(&path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad("none of its certificates could be parsed".into()));
    }
    Ok(roots)
}

fn provider() -> std::result::Result<Arc<CryptoProvider>, String> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        Ok(Arc::new(rustls_graviola::default_provider()))
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Err("TLS to PostgreSQL needs x86_64 or aarch64 (graviola); use sslmode=disable".into())
    }
}

/// The rustls client configuration for a verification level.
pub fn client_config(
    verification: Verification,
    roots: Option<RootCertStore>,
) -> std::result::Result<ClientConfig, String> {
    let provider = provider()?;
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::None => Arc::new(NoVerification(provider.clone())),
        Verification::Chain | Verification::Full => {
            let roots = roots.ok_or("certificate verification needs trusted roots")?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
            if verification == Verification::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `require` without roots: any certificate is accepted (encryption
/// against passive listeners only), but the handshake signatures are still
/// checked so the session key is bound to the certificate presented.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: webpki's full check, except that a certificate for another
/// name is accepted. webpki checks the chain before the name, so a name
/// error means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

/// Whether an error is only about the host name.
fn name_mismatch(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(e) if name_mismatch(&e) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_map() {
        use postgres::config::SslMode as M;
        for (s, m, c) in [
            ("disable", SslMode::Disable, M::Disable),
            ("allow", SslMode::Allow, M::Prefer),
            ("Prefer", SslMode::Prefer, M::Prefer),
            ("require", SslMode::Require, M::Require),
            ("verify-ca", SslMode::VerifyCa, M::Require),
            ("VERIFY-FULL", SslMode::VerifyFull, M::Require),
        ] {
            assert_eq!(SslMode::parse(s), Some(m));
            assert_eq!(m.client_mode(), c);
            assert_eq!(SslMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(SslMode::parse("verify_full"), None);
    }

    #[test]
    fn root_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = load_roots("T", &missing).unwrap_err().to_string();
        assert!(e.contains("nope.pem") && e.contains("cannot read"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = load_roots("T", &empty).unwrap_err().to_string();
        assert!(
            e.contains("empty.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = load_roots("T", &junk).unwrap_err().to_string();
        assert!(e.contains("junk.pem"), "{e}");
    }

    #[test]
    fn verify_modes_need_roots() {
        let d = Dsn::parse(
            "X",
            "postgresql://u@h/x?sslmode=verify-full&sslrootcert=/no/such.pem",
        )
        .unwrap();
        let e = connector(&d).err().unwrap().to_string();
        assert!(e.contains("/no/such.pem"), "{e}");
        assert!(client_config(Verification::Full, None).is_err());
        assert!(client_config(Verification::None, None).is_ok());
        let d = Dsn::parse("X", "postgresql://u@h/x?sslmode=disable").unwrap();
        assert!(connector(&d).unwrap().is_none());
        let d = Dsn::parse("X", "postgresql://u@h/x?sslmode=require").unwrap();
        assert!(connector(&d).unwrap().is_some());
    }

    #[test]
    fn only_name_errors_are_forgiven_by_verify_ca() {
        assert!(name_mismatch(&rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName
        )));
        assert!(!name_mismatch(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        )));
        assert!(!name_mismatch(&rustls::Error::InvalidCertificate(
            CertificateError::Expired
        )));
    }
}
