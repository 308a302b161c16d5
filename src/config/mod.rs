//! Configuration from the environment, with the original's variable names.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ARAGORA_DATA_DIR`, `ARAGORA_NOMIC_DIR`, `NOMIC_DIR` | `.nomic` | data directory (first non-empty wins) |
//! | `ARAGORA_DB_MODE` | `legacy` | `legacy` or `consolidated`; anything else is an error |
//! | `ARAGORA_DB_<NAME>` | | per-database file override (legacy mode), e.g. `ARAGORA_DB_ELO` |
//! | `DB_TIMEOUT`, `ARAGORA_DB_TIMEOUT` | `30` | seconds to wait for a database another process holds |
//! | `ARAGORA_SLOW_QUERY_MS` | `500` | slow-operation log threshold |
//! | `ARAGORA_AUDIT_RETENTION_DAYS` | `90` | audit-log retention |
//! | `ARAGORA_SQLITE_ENCRYPTION` | off | `1` encrypts our files at rest (see [`crate::crypto`]) |
//! | `ARAGORA_SQLITE_KEY` | | passphrase for encryption at rest (Argon2id) |
//! | `ARAGORA_ENCRYPTION_KEY` | | 32 bytes, hex or base64: column secrets, and the at-rest key when no passphrase is set |
//!
//! The backend each store uses (embedded or PostgreSQL), the connection
//! string and the pool limits are read by [`backend`], which lists its
//! variables (`ARAGORA_DB_BACKEND`, `DATABASE_URL`, `ARAGORA_DB_POOL_*`, ...).
//!
//! Tests build a [`Config`] from an explicit map with [`Config::from_lookup`]
//! so they never touch the process environment.

pub mod backend;
pub mod dsn;
mod paths;
mod types;

pub use backend::{Backend, BackendConfig, BackendKind, PgSettings, PoolSettings};
pub use paths::{DbFile, redb_path_for};
pub use types::{Consolidated, DatabaseType, DbTarget, Store};

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Legacy (one file per database type) or consolidated (four files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseMode {
    /// One file per database type: the documented default.
    Legacy,
    /// core, memory, analytics and agents.
    Consolidated,
}

impl DatabaseMode {
    /// Parses `legacy` / `consolidated`, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "legacy" => Ok(DatabaseMode::Legacy),
            "consolidated" => Ok(DatabaseMode::Consolidated),
            _ => Err(Error::Config {
                name: "ARAGORA_DB_MODE".into(),
                value: s.into(),
                expected: "`legacy` or `consolidated`".into(),
            }),
        }
    }

    /// `legacy` or `consolidated`.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseMode::Legacy => "legacy",
            DatabaseMode::Consolidated => "consolidated",
        }
    }
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Which variable chose the data directory (`default` if none).
    pub data_dir_source: &'static str,
    /// Legacy or consolidated.
    pub mode: DatabaseMode,
    /// How long to wait for a database held by another process.
    pub timeout: Duration,
    /// Operations slower than this are logged at WARN.
    pub slow_threshold: Duration,
    /// Audit-log retention in days.
    pub audit_retention_days: u32,
    /// `ARAGORA_DB_*` per-database overrides, as given.
    pub overrides: BTreeMap<DbTarget, PathBuf>,
    /// redb page-cache size per database, in bytes.
    pub cache_size: usize,
    /// Encryption at rest (`ARAGORA_SQLITE_ENCRYPTION=1`), if on.
    pub encryption: Option<crate::crypto::Encryption>,
    /// Key for column-level secrets (`ARAGORA_ENCRYPTION_KEY`), if set.
    pub column_key: Option<crate::crypto::Key>,
    /// Embedded or PostgreSQL per store, the DSN and the pool limits.
    pub backend: BackendConfig,
    /// Where the stores opened with this configuration read the time
    /// (the system clock; tests set a manual one with [`Config::with_clock`]).
    pub clock: crate::time::Clock,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Defaults for a given data directory (legacy mode), ignoring the environment.
    pub fn for_dir(dir: impl Into<PathBuf>) -> Self {
        let mut c = Self::from_lookup(|_| None).expect("defaults are valid");
        c.data_dir = dir.into();
        c.data_dir_source = "argument";
        c
    }

    /// Builds a configuration from any variable lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let (data_dir, data_dir_source) = ["ARAGORA_DATA_DIR", "ARAGORA_NOMIC_DIR", "NOMIC_DIR"]
            .into_iter()
            .find_map(|k| nonempty(k).map(|v| (PathBuf::from(v), k)))
            .unwrap_or_else(|| (PathBuf::from(".nomic"), "default"));
        let mode = match nonempty("ARAGORA_DB_MODE") {
            Some(v) => DatabaseMode::parse(&v)?,
            None => DatabaseMode::Legacy,
        };
        let timeout = match nonempty("DB_TIMEOUT")
            .map(|v| ("DB_TIMEOUT", v))
            .or_else(|| nonempty("ARAGORA_DB_TIMEOUT").map(|v| ("ARAGORA_DB_TIMEOUT", v)))
        {
            Some((name, v)) => seconds(name, &v)?,
            None => Duration::from_secs(30),
        };
        let slow_ms = parse_num::<u64>(&nonempty, "ARAGORA_SLOW_QUERY_MS", 500)?;
        let audit_retention_days = parse_num::<u32>(&nonempty, "ARAGORA_AUDIT_RETENTION_DAYS", 90)?;
        let overrides = DbTarget::all()
            .filter_map(|t| {
                let var = t.env_name();
                let documented = match t {
                    DbTarget::Type(ty) => ty.documented_env(),
                    DbTarget::Store(_) => None,
                };
                nonempty(&var)
                    .or_else(|| documented.and_then(&nonempty))
                    .map(|v| (t, PathBuf::from(v)))
            })
            .collect();
        Ok(Config {
            data_dir,
            data_dir_source,
            mode,
            timeout,
            slow_threshold: Duration::from_millis(slow_ms),
            audit_retention_days,
            overrides,
            cache_size: 256 << 20,
            encryption: crate::crypto::Encryption::from_lookup(&get)?,
            column_key: nonempty("ARAGORA_ENCRYPTION_KEY")
                .map(|k| {
                    crate::crypto::Key::parse("ARAGORA_ENCRYPTION_KEY", &zeroize::Zeroizing::new(k))
                })
                .transpose()?,
            backend: BackendConfig::from_lookup(&get)?,
            clock: crate::time::Clock::system(),
        })
    }

    /// The backend a database or store uses, with its connection settings
    /// when that is PostgreSQL.
    pub fn backend_for(&self, target: DbTarget) -> Result<Backend> {
        self.backend.backend_for(target)
    }

    /// Same configuration with stores reading the time from `clock`.
    pub fn with_clock(mut self, clock: crate::time::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Same configuration in another mode.
    pub fn with_mode(mut self, mode: DatabaseMode) -> Self {
        self.mode = mode;
        self
    }
}

fn seconds(name: &str, v: &str) -> Result<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::Config {
            name: name.into(),
            value: v.into(),
            expected: "a non-negative number of seconds".into(),
        })
}

fn parse_num<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| Error::Config {
            name: name.into(),
            value: v,
            expected: "a non-negative whole number".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn data_dir_precedence() {
        assert_eq!(cfg(&[]).unwrap().data_dir, PathBuf::from(".nomic"));
        assert_eq!(
            cfg(&[("NOMIC_DIR", "/n")]).unwrap().data_dir,
            PathBuf::from("/n")
        );
        let c = cfg(&[("NOMIC_DIR", "/n"), ("ARAGORA_NOMIC_DIR", "/a")]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/a"));
        let c = cfg(&[("ARAGORA_DATA_DIR", "/d"), ("ARAGORA_NOMIC_DIR", "/a")]).unwrap();
        assert_eq!(
            (c.data_dir, c.data_dir_source),
            (PathBuf::from("/d"), "ARAGORA_DATA_DIR")
        );
        let c = cfg(&[("ARAGORA_DATA_DIR", " "), ("NOMIC_DIR", "/n")]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/n"));
    }

    #[test]
    fn mode_is_strict() {
        assert_eq!(cfg(&[]).unwrap().mode, DatabaseMode::Legacy);
        let c = cfg(&[("ARAGORA_DB_MODE", "Consolidated")]).unwrap();
        assert_eq!(c.mode, DatabaseMode::Consolidated);
        let err = cfg(&[("ARAGORA_DB_MODE", "sharded")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ARAGORA_DB_MODE") && err.contains("sharded"),
            "{err}"
        );
    }

    #[test]
    fn numbers_are_validated() {
        let c = cfg(&[("DB_TIMEOUT", "2.5"), ("ARAGORA_SLOW_QUERY_MS", "10")]).unwrap();
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.slow_threshold, Duration::from_millis(10));
        assert!(cfg(&[("DB_TIMEOUT", "soon")]).is_err());
        assert!(cfg(&[("DB_TIMEOUT", "-1")]).is_err());
        assert!(cfg(&[("ARAGORA_SLOW_QUERY_MS", "0.5")]).is_err());
        assert!(cfg(&[("ARAGORA_AUDIT_RETENTION_DAYS", "x")]).is_err());
    }

    #[test]
    fn overrides_by_value_and_documented_alias() {
        let c = cfg(&[
            ("ARAGORA_DB_MEMORY", "mem.db"),
            ("ARAGORA_DB_USERS", "/x/u.db"),
        ])
        .unwrap();
        assert_eq!(
            c.overrides
                .get(&DbTarget::Type(DatabaseType::ContinuumMemory)),
            Some(&PathBuf::from("mem.db"))
        );
        assert_eq!(
            c.overrides.get(&DbTarget::Store(Store::Users)),
            Some(&PathBuf::from("/x/u.db"))
        );
    }
}
