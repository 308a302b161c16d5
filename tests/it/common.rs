//! Shared helpers.

use aragora_db::config::Config;
use aragora_db::schema::users::{Organization, User};
use std::process::{Command, Output};
use tempfile::TempDir;

/// A fresh data directory and its configuration.
pub fn data_dir() -> (TempDir, Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config::for_dir(dir.path());
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
