//! Which backend each store uses: our embedded store, or PostgreSQL.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ARAGORA_DB_BACKEND` | `sqlite` | `sqlite` (also `redb`, `embedded`): our embedded store; `postgres` or `postgresql`: PostgreSQL |
//! | `ARAGORA_AUDIT_STORE_BACKEND` | `ARAGORA_DB_BACKEND` | the audit log |
//! | `ARAGORA_POLICY_STORE_BACKEND` | `ARAGORA_DB_BACKEND` | the policy store |
//! | `ARAGORA_BLACKLIST_BACKEND` | `ARAGORA_DB_BACKEND` | the token blacklist |
//! | `ARAGORA_EXPLAINABILITY_STORE_BACKEND` | `ARAGORA_DB_BACKEND` | explainability batch jobs |
//! | `ARAGORA_POSTGRES_DSN`, `DATABASE_URL`, `ARAGORA_DATABASE_URL` | | the server (first non-empty wins, as the original reads them) |
//! | `ARAGORA_DB_POOL_SIZE` | `10` | connections a pool keeps open |
//! | `ARAGORA_DB_POOL_MAX_OVERFLOW` | `5` | extra connections under load, closed when returned |
//! | `ARAGORA_DB_POOL_TIMEOUT` | `30` | seconds to wait for a free connection |
//!
//! Values are case-insensitive; anything else is an error naming the
//! variable. The connection string is parsed (and must be present) only
//! when some store selects PostgreSQL, so an unrelated `DATABASE_URL` in the
//! environment does not stop the embedded store from starting.

use super::dsn::Dsn;
use super::{DbTarget, Store, seconds};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// The DSN variables, in the order they are read.
pub const DSN_VARS: [&str; 3] = [
    "ARAGORA_POSTGRES_DSN",
    "DATABASE_URL",
    "ARAGORA_DATABASE_URL",
];

/// The stores with their own backend variable.
pub const STORE_BACKEND_VARS: [(&str, Store); 4] = [
    ("ARAGORA_AUDIT_STORE_BACKEND", Store::Audit),
    ("ARAGORA_POLICY_STORE_BACKEND", Store::PolicyStore),
    ("ARAGORA_BLACKLIST_BACKEND", Store::TokenBlacklist),
    (
        "ARAGORA_EXPLAINABILITY_STORE_BACKEND",
        Store::ExplainabilityBatchJobs,
    ),
];

/// How long opening one connection may take unless the DSN's
/// `connect_timeout` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a store keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Our embedded redb store (what the original calls `sqlite`).
    Embedded,
    /// A PostgreSQL server.
    Postgres,
}

impl BackendKind {
    /// Parses a backend variable's value; `var` is named in the error.
    pub fn parse(var: &str, value: &str) -> Result<BackendKind> {
        match value.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "redb" | "embedded" => Ok(BackendKind::Embedded),
            "postgres" | "postgresql" => Ok(BackendKind::Postgres),
            other => Err(Error::Config {
                name: var.into(),
                value: value.into(),
                expected: if other == "supabase" {
                    "`sqlite` or `postgres`; for Supabase use `postgres` with its connection string in ARAGORA_POSTGRES_DSN or DATABASE_URL".into()
                } else {
                    "`sqlite` (or `redb`, `embedded`) or `postgres` (or `postgresql`)".into()
                },
            }),
        }
    }

    /// `sqlite` or `postgres`, as the original spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Embedded => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }
}

/// Connection-pool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections kept open when idle (`ARAGORA_DB_POOL_SIZE`).
    pub size: u32,
    /// Extra connections opened under load and closed when returned
    /// (`ARAGORA_DB_POOL_MAX_OVERFLOW`).
    pub max_overflow: u32,
    /// How long `get` waits for a free connection (`ARAGORA_DB_POOL_TIMEOUT`).
    pub timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            size: 10,
            max_overflow: 5,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Everything needed to reach one PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// The server, database and credentials (prints redacted).
    pub dsn: Dsn,
    /// The variable the DSN came from.
    pub dsn_source: &'static str,
    /// Pool limits.
    pub pool: PoolSettings,
    /// How long opening one connection may take: the DSN's
    /// `connect_timeout`, else [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
}

impl PgSettings {
    /// Settings for a DSN with default pool limits (for tools and tests).
    pub fn new(dsn: Dsn) -> PgSettings {
        PgSettings {
            connect_timeout: dsn.connect_timeout().unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            dsn,
            dsn_source: "argument",
            pool: PoolSettings::default(),
        }
    }
}

/// The backend one store resolves to.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Our embedded store, in the data directory.
    Embedded,
    /// PostgreSQL.
    Postgres(Box<PgSettings>),
}

/// The backend part of [`super::Config`].
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// `ARAGORA_DB_BACKEND`.
    pub default: BackendKind,
    /// Per-store variables that were set, with the variable's name.
    pub overrides: BTreeMap<Store, (BackendKind, &'static str)>,
    /// The DSN and the variable it came from; parsed only when some store
    /// selects PostgreSQL.
    pub dsn: Option<(Dsn, &'static str)>,
    /// Pool limits.
    pub pool: PoolSettings,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            default: BackendKind::Embedded,
            overrides: BTreeMap::new(),
            dsn: None,
            pool: PoolSettings::default(),
        }
    }
}

impl BackendConfig {
    /// Reads the variables above through `get` (empty values count as unset).
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<BackendConfig> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let default = match nonempty("ARAGORA_DB_BACKEND") {
            Some(v) => BackendKind::parse("ARAGORA_DB_BACKEND", &v)?,
            None => BackendKind::Embedded,
        };
        let mut overrides = BTreeMap::new();
        for (var, store) in STORE_BACKEND_VARS {
            if let Some(v) = nonempty(var) {
                overrides.insert(store, (BackendKind::parse(var, &v)?, var));
            }
        }
        let count = |name: &str, default: u32, min: u32| -> Result<u32> {
            match nonempty(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| Error::Config {
                        name: name.into(),
                        value: v,
                        expected: format!("a whole number >= {min}"),
                    }),
            }
        };
        let pool = PoolSettings {
            size: count("ARAGORA_DB_POOL_SIZE", 10, 1)?,
            max_overflow: count("ARAGORA_DB_POOL_MAX_OVERFLOW", 5, 0)?,
            timeout: match nonempty("ARAGORA_DB_POOL_TIMEOUT") {
                Some(v) => seconds("ARAGORA_DB_POOL_TIMEOUT", &v)?,
                None => Duration::from_secs(30),
            },
        };
        // Who selects PostgreSQL, for the "no DSN" error.
        let selector = overrides
            .values()
            .find(|(k, _)| *k == BackendKind::Postgres)
            .map(|(_, var)| *var)
            .or((default == BackendKind::Postgres).then_some("ARAGORA_DB_BACKEND"));
        let dsn = match selector {
            None => None,
            Some(selector) => {
                let Some((var, raw)) = DSN_VARS
                    .into_iter()
                    .find_map(|k| nonempty(k).map(|v| (k, zeroize::Zeroizing::new(v))))
                else {
                    return Err(Error::Config {
                        name: selector.into(),
                        value: "postgres".into(),
                        expected: "a connection string in ARAGORA_POSTGRES_DSN, DATABASE_URL or ARAGORA_DATABASE_URL (none is set)".into(),
                    });
                };
                Some((Dsn::parse(var, &raw)?, var))
            }
        };
        Ok(BackendConfig {
            default,
            overrides,
            dsn,
            pool,
        })
    }

    /// The backend kind for a target: its store variable, else `ARAGORA_DB_BACKEND`.
    pub fn kind_for(&self, target: DbTarget) -> BackendKind {
        match target {
            DbTarget::Store(s) => self.overrides.get(&s).map_or(self.default, |(k, _)| *k),
            DbTarget::Type(_) => self.default,
        }
    }

    /// The backend for a target, with its connection settings.
    pub fn backend_for(&self, target: DbTarget) -> Result<Backend> {
        match self.kind_for(target) {
            BackendKind::Embedded => Ok(Backend::Embedded),
            BackendKind::Postgres => {
                let (dsn, source) = self.dsn.clone().ok_or_else(|| Error::Config {
                    name: "ARAGORA_DB_BACKEND".into(),
                    value: "postgres".into(),
                    expected: "a connection string in ARAGORA_POSTGRES_DSN, DATABASE_URL or ARAGORA_DATABASE_URL".into(),
                })?;
                Ok(Backend::Postgres(Box::new(PgSettings {
                    connect_timeout: dsn.connect_timeout().unwrap_or(DEFAULT_CONNECT_TIMEOUT),
                    dsn,
                    dsn_source: source,
                    pool: self.pool,
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DatabaseType};

    fn cfg(vars: &[(&str, &str)]) -> Result<Config> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const AUDIT: DbTarget = DbTarget::Store(Store::Audit);
    const ELO: DbTarget = DbTarget::Type(DatabaseType::Elo);

    #[test]
    fn default_is_embedded_even_with_a_foreign_database_url() {
        let c = cfg(&[("DATABASE_URL", "mysql://x")]).unwrap();
        assert!(matches!(c.backend_for(ELO).unwrap(), Backend::Embedded));
        assert!(c.backend.dsn.is_none());
        for v in ["sqlite", "REDB", " embedded "] {
            let c = cfg(&[("ARAGORA_DB_BACKEND", v)]).unwrap();
            assert_eq!(c.backend.default, BackendKind::Embedded, "{v}");
        }
    }

    #[test]
    fn postgres_selected_globally() {
        let c = cfg(&[
            ("ARAGORA_DB_BACKEND", "PostgreSQL"),
            ("DATABASE_URL", "postgresql://u:pw@h/db?connect_timeout=3"),
        ])
        .unwrap();
        let Backend::Postgres(s) = c.backend_for(ELO).unwrap() else {
            panic!("not postgres")
        };
        assert_eq!(s.dsn_source, "DATABASE_URL");
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert_eq!(s.pool, PoolSettings::default());
        assert!(matches!(
            c.backend_for(AUDIT).unwrap(),
            Backend::Postgres(_)
        ));
    }

    #[test]
    fn per_store_overrides_inherit_and_override() {
        let url = ("DATABASE_URL", "postgresql://u@h/db");
        let c = cfg(&[("ARAGORA_AUDIT_STORE_BACKEND", "postgres"), url]).unwrap();
        assert!(matches!(
            c.backend_for(AUDIT).unwrap(),
            Backend::Postgres(_)
        ));
        assert!(matches!(c.backend_for(ELO).unwrap(), Backend::Embedded));
        let c = cfg(&[
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("ARAGORA_BLACKLIST_BACKEND", "sqlite"),
            url,
        ])
        .unwrap();
        let bl = DbTarget::Store(Store::TokenBlacklist);
        assert!(matches!(c.backend_for(bl).unwrap(), Backend::Embedded));
        let policy = DbTarget::Store(Store::PolicyStore);
        assert!(matches!(
            c.backend_for(policy).unwrap(),
            Backend::Postgres(_)
        ));
        for (var, store) in STORE_BACKEND_VARS {
            let c = cfg(&[(var, "postgres"), url]).unwrap();
            assert_eq!(
                c.backend.kind_for(DbTarget::Store(store)),
                BackendKind::Postgres
            );
            let e = cfg(&[(var, "mongo")]).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains("mongo"), "{e}");
        }
    }

    #[test]
    fn bad_backend_names_the_variable_and_choices() {
        let e = cfg(&[("ARAGORA_DB_BACKEND", "mysql")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ARAGORA_DB_BACKEND") && e.contains("mysql") && e.contains("postgres"),
            "{e}"
        );
        let e = cfg(&[("ARAGORA_DB_BACKEND", "supabase")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("Supabase"), "{e}");
    }

    #[test]
    fn dsn_precedence_and_absence() {
        let all = [
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("ARAGORA_POSTGRES_DSN", "postgresql://a@h1/d"),
            ("DATABASE_URL", "postgresql://b@h2/d"),
            ("ARAGORA_DATABASE_URL", "postgresql://c@h3/d"),
        ];
        let src = |vars: &[(&str, &str)]| cfg(vars).unwrap().backend.dsn.unwrap().1;
        assert_eq!(src(&all), "ARAGORA_POSTGRES_DSN");
        assert_eq!(
            src(&[all[0], ("ARAGORA_POSTGRES_DSN", " "), all[2], all[3]]),
            "DATABASE_URL"
        );
        assert_eq!(src(&[all[0], all[3]]), "ARAGORA_DATABASE_URL");
        let e = cfg(&[all[0]]).unwrap_err().to_string();
        for v in DSN_VARS {
            assert!(e.contains(v), "{e}");
        }
        let e = cfg(&[("ARAGORA_POLICY_STORE_BACKEND", "postgres")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ARAGORA_POLICY_STORE_BACKEND") && e.contains("DATABASE_URL"),
            "{e}"
        );
    }

    #[test]
    fn malformed_dsn_names_its_variable_without_the_password() {
        let e = cfg(&[
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("DATABASE_URL", "postgresql://u:TopSecret99@h:port/db"),
        ])
        .unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(
            shown.contains("DATABASE_URL") && !shown.contains("TopSecret99"),
            "{shown}"
        );
    }

    #[test]
    fn config_debug_is_redacted() {
        let c = cfg(&[
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("DATABASE_URL", "postgresql://u:TopSecret99@h/db"),
        ])
        .unwrap();
        let Backend::Postgres(s) = c.backend_for(ELO).unwrap() else {
            panic!()
        };
        for shown in [
            format!("{c:?}"),
            format!("{s:?}"),
            format!("{:?}", c.backend),
        ] {
            assert!(!shown.contains("TopSecret99"), "{shown}");
            assert!(shown.contains("u:***@h:5432/db"), "{shown}");
        }
    }

    #[test]
    fn pool_numbers() {
        let c = cfg(&[
            ("ARAGORA_DB_POOL_SIZE", "3"),
            ("ARAGORA_DB_POOL_MAX_OVERFLOW", "0"),
            ("ARAGORA_DB_POOL_TIMEOUT", "1.5"),
        ])
        .unwrap();
        assert_eq!(
            c.backend.pool,
            PoolSettings {
                size: 3,
                max_overflow: 0,
                timeout: Duration::from_millis(1500)
            }
        );
        for (var, v) in [
            ("ARAGORA_DB_POOL_SIZE", "ten"),
            ("ARAGORA_DB_POOL_SIZE", "0"),
            ("ARAGORA_DB_POOL_MAX_OVERFLOW", "-1"),
            ("ARAGORA_DB_POOL_TIMEOUT", "soon"),
        ] {
            let e = cfg(&[(var, v)]).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains(v), "{e}");
        }
    }
}
