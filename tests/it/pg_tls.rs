//! `sslmode` against a fake PostgreSQL server, so every verification case
//! runs without a real TLS server: the fake answers the SSL request with
//! `S` (then a rustls handshake with the test certificates of
//! tests/fixtures/pg_tls, whose server certificate names only `localhost`)
//! or `N`, then accepts any startup (AuthenticationOk, ReadyForQuery).
//!
//! The same modes run against the real local server in pg_conn.

use aragora_db::config::{PgSettings, PoolSettings};
use aragora_db::pg::{Dsn, Pool};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/pg_tls/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// What the fake server saw on its one connection.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A startup message, over TLS or not.
    Startup { tls: bool },
    /// The client went away before a startup message (e.g. TLS refused).
    Dropped,
}

fn read_message(s: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// Accepts any startup: AuthenticationOk, then ReadyForQuery (idle); then
/// reads until the client closes.
fn serve_startup(s: &mut (impl Read + Write)) -> std::io::Result<()> {
    read_message(s)?;
    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0])?;
    s.write_all(&[b'Z', 0, 0, 0, 5, b'I'])?;
    s.flush()?;
    let mut sink = [0; 256];
    while s.read(&mut sink)? > 0 {}
    Ok(())
}

const SSL_REQUEST: [u8; 4] = 80877103u32.to_be_bytes();

/// A server for one connection; `tls` says whether it offers TLS.
fn fake_server(tls: bool) -> (u16, Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let seen = (|| -> std::io::Result<Seen> {
            let mut first = [0; 8];
            s.read_exact(&mut first)?;
            if first[4..] != SSL_REQUEST {
                // sslmode=disable: this was the startup message itself.
                let len = u32::from_be_bytes(first[..4].try_into().unwrap()) as usize;
                let mut rest = vec![0; len - 8];
                s.read_exact(&mut rest)?;
                s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0, b'Z', 0, 0, 0, 5, b'I'])?;
                let _ = std::io::copy(&mut s, &mut std::io::sink());
                return Ok(Seen::Startup { tls: false });
            }
            if !tls {
                s.write_all(b"N")?;
                return Ok(match serve_startup(&mut s) {
                    Ok(()) => Seen::Startup { tls: false },
                    Err(_) => Seen::Dropped,
                });
            }
            s.write_all(b"S")?;
            let conn = rustls::ServerConnection::new(server_config()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            Ok(match serve_startup(&mut tls) {
                Ok(()) => Seen::Startup { tls: true },
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // Closed after the startup was served, or before.
                    if tls.conn.is_handshaking() {
                        Seen::Dropped
                    } else {
                        Seen::Startup { tls: true }
                    }
                }
                Err(_) => Seen::Dropped,
            })
        })()
        .unwrap_or(Seen::Dropped);
        let _ = tx.send(seen);
    });
    (port, rx)
}

fn server_config() -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls_graviola::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// Connects through a fresh pool; returns what the client got and what the
/// server saw.
fn connect(tls: bool, host: &str, params: &str) -> (Result<(), String>, Option<Seen>) {
    let (port, seen) = fake_server(tls);
    let url = format!("postgresql://postgres@{host}:{port}/x?connect_timeout=3&{params}");
    let mut s = PgSettings::new(Dsn::parse("TEST_DSN", &url).unwrap());
    s.pool = PoolSettings {
        size: 1,
        max_overflow: 0,
        timeout: Duration::from_secs(1),
    };
    match Pool::new(s) {
        // Refused before connecting: the server sees nothing.
        Err(e) => (Err(e.to_string()), None),
        Ok(p) => {
            let result = p.get().map(drop).map_err(|e| e.to_string());
            drop(p);
            (result, seen.recv_timeout(Duration::from_secs(10)).ok())
        }
    }
}

fn ca() -> String {
    fixture("ca.pem")
}

#[test]
fn pg_tls_verify_full_checks_chain_and_name() {
    let ok = connect(
        true,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca()),
    );
    assert_eq!(ok, (Ok(()), Some(Seen::Startup { tls: true })));
    let (r, seen) = connect(
        true,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", ca()),
    );
    let e = r.unwrap_err();
    assert!(
        e.contains("not valid for name") && e.contains("127.0.0.1"),
        "{e}"
    );
    assert_eq!(seen, Some(Seen::Dropped));
    let (r, _) = connect(
        true,
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            fixture("other-ca.pem")
        ),
    );
    assert!(r.unwrap_err().contains("UnknownIssuer"));
}

#[test]
fn pg_tls_verify_ca_checks_the_chain_only() {
    let ok = connect(
        true,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", ca()),
    );
    assert_eq!(ok, (Ok(()), Some(Seen::Startup { tls: true })));
    let (r, seen) = connect(
        true,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", fixture("other-ca.pem")),
    );
    assert!(r.unwrap_err().contains("UnknownIssuer"));
    assert_eq!(seen, Some(Seen::Dropped));
}

#[test]
fn pg_tls_require_and_prefer_encrypt() {
    // No roots: any certificate, but encrypted.
    let ok = connect(true, "127.0.0.1", "sslmode=require");
    assert_eq!(ok, (Ok(()), Some(Seen::Startup { tls: true })));
    // With roots, require verifies the chain (as libpq).
    let (r, _) = connect(
        true,
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={}", fixture("other-ca.pem")),
    );
    assert!(r.unwrap_err().contains("UnknownIssuer"));
    let (r, seen) = connect(true, "127.0.0.1", "sslmode=require&sslrootcert=");
    assert!(
        r.unwrap_err().contains("sslrootcert"),
        "an empty sslrootcert is an unreadable file"
    );
    assert_eq!(seen, None);
    // prefer (the default) takes TLS when offered.
    let ok = connect(true, "127.0.0.1", "");
    assert_eq!(ok, (Ok(()), Some(Seen::Startup { tls: true })));
    let ok = connect(true, "127.0.0.1", "sslmode=disable");
    assert_eq!(ok, (Ok(()), Some(Seen::Startup { tls: false })));
}

#[test]
fn pg_tls_required_but_not_offered_fails_naming_the_host() {
    for mode in ["require", "verify-ca", "verify-full"] {
        let t = std::time::Instant::now();
        let (r, seen) = connect(
            false,
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={}", ca()),
        );
        let e = r.unwrap_err();
        assert!(
            e.contains("does not offer TLS")
                && e.contains(&format!("sslmode={mode}"))
                && e.contains("127.0.0.1:"),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(3));
        assert_eq!(seen, Some(Seen::Dropped));
    }
    // prefer falls back to plain.
    let ok = connect(false, "127.0.0.1", "sslmode=prefer");
    assert_eq!(ok, (Ok(()), Some(Seen::Startup { tls: false })));
}
