//! PostgreSQL connection strings, parsed once and shown only redacted.
//!
//! Both libpq forms are accepted:
//!
//! - URL: `postgresql://user:pass@host:port/db?sslmode=…&sslrootcert=…`
//!   (also `postgres://`), with percent-encoding, IPv6 hosts in brackets
//!   (`[::1]:5432`), several hosts (`h1:5432,h2:5433`) and a Unix socket
//!   directory as a percent-encoded host (`%2Fvar%2Frun%2Fpostgresql`);
//! - key=value: `host=… port=… dbname=… user=… password='…'`.
//!
//! Missing parts take libpq's defaults, except the host: `localhost` over
//! TCP (libpq would use its Unix socket). The user defaults to the login
//! name (`USER`), then `postgres`; the database defaults to the user.
//!
//! A [`Dsn`] never shows its password: `Display` and `Debug` print
//! `postgresql://user:***@host:5432/db`, and a malformed string's error
//! names the variable it came from and what is wrong without echoing any
//! part of the string that could hold the password.

use crate::error::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// One server address of a DSN.
#[derive(Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or IP address, reached over TCP.
    Tcp(String),
    /// A directory holding PostgreSQL's Unix socket.
    Unix(PathBuf),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Tcp(h) if h.contains(':') => write!(f, "[{h}]"),
            Host::Tcp(h) => f.write_str(h),
            Host::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A parsed PostgreSQL connection string. Its password is zeroised on drop
/// and never printed.
#[derive(Clone)]
pub struct Dsn {
    user: String,
    password: Option<Zeroizing<String>>,
    hosts: Vec<Host>,
    ports: Vec<u16>,
    dbname: String,
    ssl_mode: Option<SslMode>,
    ssl_root_cert: Option<PathBuf>,
    connect_timeout: Option<Duration>,
    application_name: Option<String>,
    options: Option<String>,
}

/// libpq's default port.
pub const DEFAULT_PORT: u16 = 5432;

impl Dsn {
    /// Parses a connection string that came from variable `var` (named in
    /// errors; use e.g. `"--dsn"` for a flag).
    pub fn parse(var: &str, raw: &str) -> Result<Dsn> {
        let p = Parser {
            var,
            secret: secret_region(raw),
        };
        p.parse(raw.trim())
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether a password was given (it is never returned as text).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The hosts, in the order they are tried.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The port of each host (one port for all when only one was given).
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// `sslmode`, or `prefer` (libpq's default) when not given.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode.unwrap_or(SslMode::Prefer)
    }

    /// `sslrootcert`, if given.
    pub fn ssl_root_cert(&self) -> Option<&std::path::Path> {
        self.ssl_root_cert.as_deref()
    }

    /// `connect_timeout`, if given (and not 0).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// `application_name`, if given.
    pub fn application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// A copy connecting to another database on the same server(s).
    pub fn with_dbname(&self, dbname: &str) -> Dsn {
        let mut d = self.clone();
        d.dbname = dbname.to_string();
        d
    }

    /// `host:port` of every host, comma separated: what errors name.
    pub fn servers(&self) -> String {
        self.hosts
            .iter()
            .enumerate()
            .map(|(i, h)| match h {
                Host::Unix(_) => format!("{h} (socket port {})", self.port_of(i)),
                Host::Tcp(_) => format!("{h}:{}", self.port_of(i)),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn port_of(&self, i: usize) -> u16 {
        *self
            .ports
            .get(i)
            .or(self.ports.first())
            .unwrap_or(&DEFAULT_PORT)
    }

    /// The client configuration: everything but TLS, which
    /// [`crate::pg::tls`] sets up, and the timeouts, which the caller sets.
    pub fn to_pg_config(&self) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.user(&self.user).dbname(&self.dbname);
        if let Some(p) = &self.password {
            c.password(p.as_bytes());
        }
        for h in &self.hosts {
            match h {
                Host::Tcp(h) => c.host(h),
                Host::Unix(p) => c.host_path(p),
            };
        }
        for &p in &self.ports {
            c.port(p);
        }
        if let Some(a) = &self.application_name {
            c.application_name(a);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        c.ssl_mode(self.ssl_mode().client_mode());
        c
    }

    /// A key identifying the server, database and credentials (password
    /// included, hashed): one pool per key.
    pub(crate) fn identity(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.to_string());
        h.update([0]);
        if let Some(p) = &self.password {
            h.update(p.as_bytes());
        }
        h.finalize().into()
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("postgresql://")?;
        f.write_str(&enc(&self.user))?;
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        f.write_str("@")?;
        for i in 0..self.hosts.len() {
            if i > 0 {
                f.write_str(",")?;
            }
            match &self.hosts[i] {
                Host::Tcp(h) if h.contains(':') => write!(f, "[{h}]")?,
                Host::Tcp(h) => f.write_str(&enc(h))?,
                Host::Unix(p) => f.write_str(&enc(&p.to_string_lossy()))?,
            }
            write!(f, ":{}", self.port_of(i))?;
        }
        write!(f, "/{}", enc(&self.dbname))?;
        let mut sep = '?';
        let mut param = |f: &mut fmt::Formatter<'_>, k: &str, v: &str| {
            let r = write!(f, "{sep}{k}={}", enc(v));
            sep = '&';
            r
        };
        if let Some(m) = self.ssl_mode {
            param(f, "sslmode", m.as_str())?;
        }
        if let Some(p) = &self.ssl_root_cert {
            param(f, "sslrootcert", &p.to_string_lossy())?;
        }
        if let Some(t) = self.connect_timeout {
            param(f, "connect_timeout", &t.as_secs().to_string())?;
        }
        if let Some(a) = &self.application_name {
            param(f, "application_name", a)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dsn({self})")
    }
}

/// Percent-encodes what would break the URL form when shown.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The part of a raw string that may hold a password: the URL's user-info
/// (up to the last `@`, or the whole authority when there is no `@`) and
/// any `password=` value. Nothing in it is echoed.
fn secret_region(raw: &str) -> String {
    let mut s = String::new();
    if let Some(i) = raw.find("://") {
        let rest = &raw[i + 3..];
        match rest.rfind('@') {
            Some(at) => s.push_str(&rest[..at]),
            // `user:password/...` without '@' parses as host:port.
            None => s.push_str(rest.split(['/', '?']).next().unwrap_or_default()),
        }
    }
    let lower = raw.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let start = from + i + "password".len();
        let end = raw[start..]
            .find(['&', '\n'])
            .map_or(raw.len(), |e| start + e);
        s.push('\n');
        s.push_str(&raw[start..end]);
        from = start;
    }
    s
}

struct Parser<'a> {
    var: &'a str,
    secret: String,
}

#[derive(Default)]
struct Parts {
    user: Option<String>,
    password: Option<Zeroizing<String>>,
    hosts: Vec<Host>,
    ports: Vec<u16>,
    dbname: Option<String>,
    ssl_mode: Option<SslMode>,
    ssl_root_cert: Option<PathBuf>,
    connect_timeout: Option<Duration>,
    application_name: Option<String>,
    options: Option<String>,
}

impl Parser<'_> {
    fn err(&self, what: impl Into<String>) -> Error {
        Error::Dsn {
            var: self.var.to_string(),
            what: what.into(),
        }
    }

    /// `s`, quoted, if it shares nothing (no 4 characters in a row) with
    /// what may be the password; else `(***)`.
    fn echo(&self, s: &str) -> String {
        let c: Vec<char> = s.chars().collect();
        let overlaps = if c.len() <= 4 {
            !s.is_empty() && self.secret.contains(s)
        } else {
            c.windows(4)
                .any(|w| self.secret.contains(&w.iter().collect::<String>()))
        };
        if overlaps {
            "(***)".into()
        } else {
            format!("{s:?}")
        }
    }

    fn parse(&self, raw: &str) -> Result<Dsn> {
        if raw.is_empty() {
            return Err(self.err("it is empty"));
        }
        let lower = raw.to_ascii_lowercase();
        let mut parts = Parts::default();
        if let Some(rest) = ["postgresql://", "postgres://"]
            .iter()
            .find(|s| lower.starts_with(*s))
            .map(|s| &raw[s.len()..])
        {
            self.parse_url(rest, &mut parts)?;
        } else if raw.contains("://") {
            return Err(self.err(
                "the scheme is not postgresql:// or postgres:// (is this a PostgreSQL URL?)",
            ));
        } else if raw.contains('=') {
            self.parse_key_values(raw, &mut parts)?;
        } else {
            return Err(self
                .err("expected postgresql://user:password@host:port/database or key=value pairs"));
        }
        self.finish(parts)
    }

    fn parse_url(&self, rest: &str, parts: &mut Parts) -> Result<()> {
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (before_query, None),
        };
        let hostlist = match authority.rsplit_once('@') {
            Some((userinfo, hostlist)) => {
                let (user, pass) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                if !user.is_empty() {
                    parts.user = Some(self.decode(user, "the user name")?);
                }
                if let Some(p) = pass {
                    let p = Zeroizing::new(self.decode(p, "the password")?);
                    parts.password = Some(p);
                }
                hostlist
            }
            None => authority,
        };
        if !hostlist.is_empty() {
            let mut ports = Vec::new();
            for spec in hostlist.split(',') {
                let (host, port) = self.split_host_port(spec)?;
                if !host.is_empty() {
                    parts.hosts.push(host_of(self.decode(host, "a host")?));
                } else {
                    parts.hosts.push(Host::Tcp("localhost".into()));
                }
                ports.push(port);
            }
            if ports.iter().any(Option::is_some) {
                parts.ports = ports
                    .into_iter()
                    .map(|p| p.unwrap_or(DEFAULT_PORT))
                    .collect();
            }
        }
        if let Some(path) = path {
            if path.contains(['@', '/']) {
                return Err(self.err(
                    "the database name contains '@' or '/': percent-encode '@', '/', '?' and ':' in the user name and password",
                ));
            }
            if !path.is_empty() {
                parts.dbname = Some(self.decode(path, "the database name")?);
            }
        }
        if let Some(q) = query {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(self.err(format!(
                        "query parameter {} has no '=value'",
                        self.echo(pair)
                    )));
                };
                let k = self.decode(k, "a parameter name")?;
                let v = Zeroizing::new(self.decode(v, "a parameter value")?);
                self.set(parts, &k, &v)?;
            }
        }
        Ok(())
    }

    fn split_host_port<'s>(&self, spec: &'s str) -> Result<(&'s str, Option<u16>)> {
        let (host, port) = if let Some(inner) = spec.strip_prefix('[') {
            let Some((h, after)) = inner.split_once(']') else {
                return Err(self.err("an IPv6 host is missing its closing ']'"));
            };
            match after {
                "" => (h, None),
                _ => match after.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None => return Err(self.err("expected ':port' after an IPv6 host's ']'")),
                },
            }
        } else {
            match spec.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (spec, None),
            }
        };
        let port = match port {
            None | Some("") => None,
            Some(p) => Some(self.port(p)?),
        };
        Ok((host, port))
    }

    fn port(&self, p: &str) -> Result<u16> {
        match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(self.err(format!(
                "port {} is not a number from 1 to 65535 (percent-encode ':' '@' '/' in a password)",
                self.echo(p)
            ))),
        }
    }

    fn parse_key_values(&self, raw: &str, parts: &mut Parts) -> Result<()> {
        let mut chars = raw.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_none() {
                return Ok(());
            }
            let mut key = String::new();
            while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
                key.push(c);
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.next() != Some('=') {
                return Err(self.err(format!(
                    "expected '=' after {} in key=value form",
                    self.echo(&key)
                )));
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut value = Zeroizing::new(String::new());
            if chars.next_if_eq(&'\'').is_some() {
                loop {
                    match chars.next() {
                        None => {
                            return Err(self.err(format!(
                                "unterminated quoted value for {}",
                                self.echo(&key)
                            )));
                        }
                        Some('\'') => break,
                        Some('\\') => value.extend(chars.next()),
                        Some(c) => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    if c == '\\' {
                        value.extend(chars.next());
                    } else {
                        value.push(c);
                    }
                }
            }
            self.set(parts, &key, &value)?;
        }
    }

    fn set(&self, parts: &mut Parts, key: &str, v: &str) -> Result<()> {
        match key {
            "user" => parts.user = Some(v.to_string()),
            "password" => parts.password = Some(Zeroizing::new(v.to_string())),
            "dbname" => parts.dbname = Some(v.to_string()),
            "host" => {
                parts.hosts = v
                    .split(',')
                    .map(|h| host_of(h.trim().to_string()))
                    .collect()
            }
            "port" => {
                parts.ports = v
                    .split(',')
                    .map(|p| self.port(p))
                    .collect::<Result<_>>()?
            }
            "sslmode" => {
                parts.ssl_mode = Some(SslMode::parse(v).ok_or_else(|| {
                    self.err(format!(
                        "sslmode {} is not one of disable, allow, prefer, require, verify-ca, verify-full",
                        self.echo(v)
                    ))
                })?)
            }
            "sslrootcert" => parts.ssl_root_cert = Some(PathBuf::from(v)),
            "connect_timeout" => {
                let secs: i64 = v.trim().parse().map_err(|_| {
                    self.err(format!(
                        "connect_timeout {} is not a whole number of seconds",
                        self.echo(v)
                    ))
                })?;
                // libpq: 0 or negative waits forever; we never do, so they
                // mean "the default"; libpq's minimum is 2 seconds.
                parts.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs.max(2) as u64));
            }
            "application_name" | "fallback_application_name" => {
                if key == "application_name" || parts.application_name.is_none() {
                    parts.application_name = Some(v.to_string());
                }
            }
            "options" => parts.options = Some(v.to_string()),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                return Err(self.err(format!(
                    "{key} (TLS client certificates) is not supported"
                )));
            }
            _ => {
                return Err(self.err(format!(
                    "unknown parameter {} (supported: host, port, user, password, dbname, sslmode, sslrootcert, connect_timeout, application_name, options)",
                    self.echo(key)
                )));
            }
        }
        Ok(())
    }

    fn finish(&self, p: Parts) -> Result<Dsn> {
        let user = p
            .user
            .filter(|u| !u.is_empty())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "postgres".into());
        let hosts = if p.hosts.is_empty() {
            vec![Host::Tcp("localhost".into())]
        } else {
            p.hosts
        };
        let ports = if p.ports.is_empty() {
            vec![DEFAULT_PORT]
        } else {
            p.ports
        };
        if ports.len() != 1 && ports.len() != hosts.len() {
            return Err(self.err(format!(
                "{} hosts but {} ports: give one port, or one per host",
                hosts.len(),
                ports.len()
            )));
        }
        if hosts
            .iter()
            .any(|h| matches!(h, Host::Tcp(t) if t.is_empty()))
        {
            return Err(self.err("a host name is empty"));
        }
        Ok(Dsn {
            dbname: p.dbname.filter(|d| !d.is_empty()).unwrap_or(user.clone()),
            user,
            password: p.password,
            hosts,
            ports,
            ssl_mode: p.ssl_mode,
            ssl_root_cert: p.ssl_root_cert,
            connect_timeout: p.connect_timeout,
            application_name: p.application_name,
            options: p.options,
        })
    }

    /// Percent-decodes one URL component (`+` stays `+`, as in libpq).
    fn decode(&self, s: &str, what: &str) -> Result<String> {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => out.push(v),
                    None => {
                        return Err(self.err(format!("bad percent-encoding in {what}")));
                    }
                }
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).map_err(|e| {
            // Do not let the bytes reach the message.
            drop(Zeroizing::new(e.into_bytes()));
            self.err(format!("{what} is not UTF-8 once percent-decoded"))
        })
    }
}

fn host_of(h: String) -> Host {
    if h.starts_with('/') {
        Host::Unix(PathBuf::from(h))
    } else {
        Host::Tcp(h)
    }
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// As `prefer` here.
    Allow,
    /// TLS if the server offers it, else plain; no verification.
    Prefer,
    /// TLS or fail; the chain is verified only if `sslrootcert` is given.
    Require,
    /// TLS, chain verified against the roots, host name not checked.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling, case-insensitively.
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the connection must be encrypted.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }

    /// The client library's mode: it knows only disable/prefer/require;
    /// verification is the certificate verifier's job.
    pub(crate) fn client_mode(self) -> postgres::config::SslMode {
        use postgres::config::SslMode as M;
        match self {
            SslMode::Disable => M::Disable,
            SslMode::Allow | SslMode::Prefer => M::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => M::Require,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Dsn {
        Dsn::parse("DATABASE_URL", s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> String {
        match Dsn::parse("DATABASE_URL", s) {
            Ok(d) => panic!("{s} parsed as {d}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn full_url() {
        let d = ok(
            "postgresql://ada:s3cr%40t@db.example.com:6543/aragora?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=7&application_name=ar",
        );
        assert_eq!(d.user(), "ada");
        assert!(d.has_password());
        assert_eq!(d.hosts(), &[Host::Tcp("db.example.com".into())]);
        assert_eq!(d.ports(), &[6543]);
        assert_eq!(d.dbname(), "aragora");
        assert_eq!(d.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(d.ssl_root_cert(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(d.connect_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(d.application_name(), Some("ar"));
        assert_eq!(
            d.to_string(),
            "postgresql://ada:***@db.example.com:6543/aragora?sslmode=verify-full&sslrootcert=%2Fca.pem&connect_timeout=7&application_name=ar"
        );
        let c = d.to_pg_config();
        assert_eq!(c.get_password(), Some(&b"s3cr@t"[..]));
        assert_eq!(c.get_dbname(), Some("aragora"));
    }

    #[test]
    fn defaults_and_variants() {
        let d = ok("postgres://u@h");
        assert_eq!((d.ports(), d.dbname()), (&[5432][..], "u"));
        assert_eq!(d.ssl_mode(), SslMode::Prefer);
        assert!(!d.has_password());
        assert_eq!(d.to_string(), "postgresql://u@h:5432/u");
        let d = ok("POSTGRESQL://u@[::1]:5433/x");
        assert_eq!(d.hosts(), &[Host::Tcp("::1".into())]);
        assert_eq!(d.to_string(), "postgresql://u@[::1]:5433/x");
        let d = ok("postgresql://u@[::1]/x");
        assert_eq!(d.ports(), &[5432]);
        let d = ok("postgresql:///x?user=u");
        assert_eq!(d.hosts(), &[Host::Tcp("localhost".into())]);
        let d = ok("postgresql://u@a:1,b:2/x");
        assert_eq!(d.servers(), "a:1,b:2");
        let d = ok("postgresql://u@%2Fvar%2Frun%2Fpostgresql/x");
        assert_eq!(d.hosts(), &[Host::Unix("/var/run/postgresql".into())]);
        let d = ok("postgresql://u:p@h/x?connect_timeout=0");
        assert_eq!(d.connect_timeout(), None);
        let d = ok("postgresql://u:p@h/x?connect_timeout=1");
        assert_eq!(d.connect_timeout(), Some(Duration::from_secs(2)));
        let d = ok("postgresql://us%20er:p@h/d%2Fb");
        assert_eq!((d.user(), d.dbname()), ("us er", "d/b"));
    }

    /// What a DSN shows parses back to the same DSN (less its password).
    #[test]
    fn display_round_trips() {
        for s in [
            "postgresql://u@h:5432/db",
            "postgresql://us%20er@[::1]:6000/d%2Fb?sslmode=require",
            "postgresql://u@a:1,b:2/x?sslrootcert=%2Fca.pem&connect_timeout=5&application_name=a%20b",
            "postgresql://u@%2Fvar%2Frun%2Fpostgresql:5432/x",
            "host=h port=7 user=u dbname=d sslmode=verify-ca",
        ] {
            let d = ok(s);
            let again = ok(&d.to_string());
            assert_eq!(again.to_string(), d.to_string(), "{s}");
            assert_eq!(again.hosts(), d.hosts(), "{s}");
        }
    }

    #[test]
    fn key_value_form() {
        let d = ok("host=db port=6000 dbname=ar user=ada password='it\\'s x' sslmode=require");
        assert_eq!(
            (d.user(), d.dbname(), d.ports()),
            ("ada", "ar", &[6000][..])
        );
        assert_eq!(d.ssl_mode(), SslMode::Require);
        assert_eq!(d.to_pg_config().get_password(), Some(&b"it's x"[..]));
        let d = ok("host = /tmp dbname=x user=y");
        assert_eq!(d.hosts(), &[Host::Unix("/tmp".into())]);
    }

    #[test]
    fn errors_name_the_variable_and_the_problem() {
        let e = bad("postgresql://u@h:notaport/x");
        assert!(e.contains("DATABASE_URL") && e.contains("notaport"), "{e}");
        let e = bad("mysql://u@h/x");
        assert!(e.contains("DATABASE_URL") && e.contains("scheme"), "{e}");
        let e = bad("postgresql://u@h/x?sslmode=sometimes");
        assert!(e.contains("sometimes") && e.contains("verify-full"), "{e}");
        let e = bad("postgresql://u@h/x?bogus=1");
        assert!(e.contains("bogus"), "{e}");
        let e = bad("postgresql://u@[::1/x");
        assert!(e.contains("']'"), "{e}");
        let e = bad("postgresql://u@a,b/x?port=1,2,3");
        assert!(e.contains("2 hosts but 3 ports"), "{e}");
        let e = bad("just words");
        assert!(e.contains("expected"), "{e}");
        assert!(bad("").contains("empty"));
        assert!(bad("postgresql://u@h/x?sslcert=/c").contains("not supported"));
    }

    /// The password never reaches Display, Debug, or any error, even when
    /// the string is malformed around it.
    #[test]
    fn password_never_shown() {
        const PW: &str = "Hunter2Secret";
        let d = ok(&format!("postgresql://ada:{PW}@h:5/x"));
        for s in [d.to_string(), format!("{d:?}"), format!("{:?}", d.clone())] {
            assert!(!s.contains(PW), "{s}");
            assert!(s.contains("ada:***@h:5/x"), "{s}");
        }
        let kv = ok(&format!("host=h password={PW} user=u"));
        assert!(!format!("{kv:?} {kv}").contains(PW));
        let malformed = [
            format!("postgresql://ada:{PW}/x"), // no '@': password taken as port
            format!("postgresql://ada:{PW}@h:{PW}/x"), // port = password
            format!("postgresql://ada:pa/{PW}@h/x"), // unencoded '/'
            format!("postgresql://ada:pa?{PW}@h/x"), // unencoded '?'
            format!("postgresql://ada:pa?{PW}=1@h/x"), // as an unknown parameter
            format!("postgresql://ada:{PW}%zz@h/x"), // bad escape
            format!("postgresql://ada:{PW}%ff@h/x"), // not UTF-8
            format!("host=h password={PW} sslmode={PW}"), // echoed value
            format!("host=h password='{PW}"),   // unterminated
            format!("host=h {PW}=x password={PW}"), // unknown key
            format!("postgresql://ada@h/x?password={PW}&sslmode={PW}"),
        ];
        for m in &malformed {
            let e = Dsn::parse("DATABASE_URL", m);
            let shown = match &e {
                Ok(d) => format!("{d} {d:?}"),
                Err(e) => format!("{e} {e:?}"),
            };
            assert!(!shown.contains(PW), "{m} -> {shown}");
            assert!(!shown.contains("Hunter"), "{m} -> {shown}");
        }
    }
}
