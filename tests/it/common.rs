//! Shared helpers.

use aragora_db::config::Config;
use aragora_db::schema::users::{Organization, User};
use std::process::{Command, Output};
use tempfile::TempDir;

/// A fresh data directory and its configuration. Its clock is a manual
/// one, following the system clock until a test sets it
/// (`store.db().clock().at(t, || ...)`).
pub fn data_dir() -> (TempDir, Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config::for_dir(dir.path()).with_clock(aragora_db::time::Clock::manual());
    (dir, cfg)
}

pub fn user(id: &str, email: &str, org: Option<&str>) -> User {
    User {
        id: id.into(),
        email: email.into(),
        password_hash: "bcrypt:x".into(),
        password_salt: String::new(),
        org_id: org.map(Into::into),
        created_at: "2026-01-01T00:00:00+00:00".into(),
        updated_at: "2026-01-01T00:00:00+00:00".into(),
        ..User::default()
    }
}

pub fn org(id: &str, slug: &str, owner: Option<&str>) -> Organization {
    Organization {
        id: id.into(),
        name: format!("Org {id}"),
        slug: slug.into(),
        owner_id: owner.map(Into::into),
        created_at: "2026-01-01T00:00:00+00:00".into(),
        updated_at: "2026-01-01T00:00:00+00:00".into(),
        ..Organization::default()
    }
}

/// Asserts that every table of a database passes `check_table`: rows decode,
/// rows and index entries agree both ways, counts, NOT NULL, foreign keys.
pub fn assert_consistent(db: &aragora_db::Database) {
    let r = db.read().unwrap();
    if r.embedded().is_err() {
        // PostgreSQL keeps its own indexes and enforces the constraints
        // itself; the checks below read the embedded layout.
        return;
    }
    for &def in db.tables() {
        let problems = aragora_db::table::check::check_table(&r, def).unwrap();
        assert!(
            problems.is_empty(),
            "{}: {}",
            def.name,
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

/// The variables that change the binary's data directory, mode, timeout
/// or keys: every CLI test starts without them.
pub const CLI_VARS: &[&str] = &[
    "ARAGORA_DATA_DIR",
    "ARAGORA_NOMIC_DIR",
    "NOMIC_DIR",
    "ARAGORA_DB_MODE",
    "DB_TIMEOUT",
    "ARAGORA_SQLITE_ENCRYPTION",
    "ARAGORA_SQLITE_KEY",
    "ARAGORA_ENCRYPTION_KEY",
    "ARAGORA_NEW_SQLITE_KEY",
    "ARAGORA_NEW_ENCRYPTION_KEY",
    "ARAGORA_DB_BACKEND",
    "ARAGORA_AUDIT_STORE_BACKEND",
    "ARAGORA_POLICY_STORE_BACKEND",
    "ARAGORA_BLACKLIST_BACKEND",
    "ARAGORA_EXPLAINABILITY_STORE_BACKEND",
    "ARAGORA_POSTGRES_DSN",
    "DATABASE_URL",
    "ARAGORA_DATABASE_URL",
];

/// `cmd` without [`CLI_VARS`].
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for k in CLI_VARS {
        cmd.env_remove(k);
    }
    cmd
}

/// The binary, without [`CLI_VARS`].
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aragora-db"));
    clean_env(&mut cmd);
    cmd
}

/// Runs the binary with a clean environment plus `env`.
pub fn cli_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Whether this is a CI run (`CI=true`, as `.ci/run` exports): tests that
/// need PostgreSQL or python3 fail there instead of skipping.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The backend the store tests run on: `ARAGORA_TEST_BACKEND=postgres`
/// runs the same tests on PostgreSQL (each test in a database of its own);
/// anything else, or unset, on the embedded store.
pub fn test_backend_is_postgres() -> bool {
    std::env::var("ARAGORA_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

/// What a store test's configuration points at: a data directory, and on
/// PostgreSQL a database of the test's own (dropped with it).
pub struct StoreDir {
    dir: TempDir,
    _pg: Option<crate::export_pg::TempDb>,
}

impl std::ops::Deref for StoreDir {
    type Target = TempDir;
    fn deref(&self) -> &TempDir {
        &self.dir
    }
}

/// A fresh configuration for store tests, on the backend the environment
/// chooses (see [`test_backend_is_postgres`]).
pub fn store_dir() -> (StoreDir, Config) {
    let (dir, mut cfg) = data_dir();
    let mut pg = None;
    if test_backend_is_postgres() {
        assert!(
            crate::export_pg::available(),
            "ARAGORA_TEST_BACKEND=postgres needs PostgreSQL at 127.0.0.1:5432"
        );
        let db = crate::export_pg::TempDb::new("store");
        let url = format!("postgresql://postgres@127.0.0.1:5432/{}", db.name);
        cfg.backend = aragora_db::config::BackendConfig::from_lookup(&|k: &str| match k {
            "ARAGORA_DB_BACKEND" => Some("postgres".into()),
            "DATABASE_URL" => Some(url.clone()),
            _ => None,
        })
        .expect("test backend configuration");
        pg = Some(db);
    }
    (StoreDir { dir, _pg: pg }, cfg)
}

/// Asserts a JSON column read back from a store: byte for byte on the
/// embedded store; the same JSON value on PostgreSQL, where the original's
/// own stores need `jsonb` for this table and `jsonb` keeps the value, not
/// its spelling (docs/POSTGRES.md, "The value codec").
pub fn assert_stored_json(got: Option<&str>, want: &str) {
    if !test_backend_is_postgres() {
        assert_eq!(got, Some(want));
        return;
    }
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("JSON");
    assert_eq!(got.map(parse), Some(parse(want)), "{got:?} vs {want}");
}

/// Asserts a timestamp column read back from a store: byte for byte on the
/// embedded store; the same instant on PostgreSQL (`timestamptz` keeps the
/// instant, not the spelling; text without a zone is UTC).
pub fn assert_stored_time(got: Option<&str>, want: &str) {
    if !test_backend_is_postgres() {
        assert_eq!(got, Some(want));
        return;
    }
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                    .map(|t| t.and_utc())
            })
            .unwrap_or_else(|e| panic!("timestamp {s:?}: {e}"))
    };
    assert_eq!(got.map(parse), Some(parse(want)), "{got:?} vs {want}");
}
