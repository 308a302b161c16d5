//! An open runs the pending migration steps (src/db/upgrade.rs): a
//! read-write open writes them to the file, a read-only open runs them in
//! memory and leaves the file byte for byte as it was, and a table behind
//! with no registered path is refused naming the file, the table and both
//! versions.
//!
//! The v1 file is `tests/fixtures/migrate/schema_v1/users.redb`, written
//! through the stores by the binary before `users` version 2 (see
//! `tests/it/ops/migrate.rs`, `regenerate_migration_fixtures`): its
//! `idx_users_email` entries hold the primary key alone and its
//! `idx_users_org` entries nothing, where version 2 expects row copies.

use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::schema::users::{USERS, User};
use aragora_db::table::fingerprint::fingerprint;
use aragora_db::table::{Page, Read, TableDef};
use aragora_db::{Database, Error, Found, Migrations, OpenOptions};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/migrate/schema_v1")
}

/// A data directory holding a copy of the v1 fixture.
fn v1_dir() -> (tempfile::TempDir, Config, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let cfg = Config::for_dir(dir.path());
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    (dir, cfg, path)
}

fn hash(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

fn tables(cfg: &Config, path: &Path) -> Vec<&'static TableDef> {
    aragora_db::schema::tables_in_file(cfg, path).unwrap()
}

fn users_version(db: &Database) -> u32 {
    db.schema_versions()
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == "users")
        .unwrap()
        .1
}

/// What the v1 fixture holds, read through the version-2 declaration.
fn assert_reads_v1_users(db: &Database) {
    let r = db.read().unwrap();
    let u2 = r.get_by(User::idx_users_email, "u2@x.io").unwrap().unwrap();
    assert_eq!(u2.email, "u2@x.io");
    let org = u2.org_id.clone().expect("fixture users belong to an org");
    let members = r
        .find(User::idx_users_org, org.as_str(), Page::default())
        .unwrap();
    let all: Vec<User> = r
        .scan(aragora_db::table::KeyRange::all(), Page::default())
        .unwrap();
    let want: Vec<(&str, &str)> = all
        .iter()
        .filter(|u| u.org_id.as_deref() == Some(org.as_str()))
        .map(|u| (u.id.as_str(), u.email.as_str()))
        .collect();
    assert!(want.len() >= 3, "{all:?}");
    let got: Vec<(&str, &str)> = members
        .iter()
        .map(|u| (u.id.as_str(), u.email.as_str()))
        .collect();
    assert_eq!(got, want);
    for &def in db.tables() {
        let problems = aragora_db::table::check::check_table(&r, def).unwrap();
        assert!(problems.is_empty(), "{}: {problems:?}", def.name);
    }
}

#[test]
fn the_fixture_is_a_v1_file() {
    let (_d, cfg, path) = v1_dir();
    let leave = OpenOptions {
        migrations: Migrations::Leave,
        ..OpenOptions::default()
    };
    let db = Database::open_read_only(&path, tables(&cfg, &path), &leave).unwrap();
    assert_eq!(users_version(&db), 1);
    assert_eq!(USERS.version, 2);
    // Written before fingerprints were recorded: the migration rebuilds
    // every index of the table.
    assert_eq!(db.recorded_fingerprint("users").unwrap(), None);
}

#[test]
fn a_read_write_open_migrates_the_file() {
    let (_d, cfg, path) = v1_dir();
    let db = Database::open_path(&path, tables(&cfg, &path), &OpenOptions::default()).unwrap();
    assert_eq!(users_version(&db), 2);
    assert_eq!(
        db.recorded_fingerprint("users").unwrap().as_deref(),
        Some(fingerprint(&USERS).as_str())
    );
    assert_reads_v1_users(&db);
    drop(db);
    // Written to the file: a handle leaving pending steps sees version 2.
    let leave = OpenOptions {
        migrations: Migrations::Leave,
        ..OpenOptions::default()
    };
    let db = Database::open_read_only(&path, tables(&cfg, &path), &leave).unwrap();
    assert_eq!(users_version(&db), 2);
    assert!(
        aragora_db::ops::migrate::status_db(&db, aragora_db::migrations::STEPS)
            .unwrap()
            .iter()
            .all(|t| t.state == "current")
    );
    drop(db);
    // And the stores open it as usual.
    let users = aragora_db::store::UserStore::open(&cfg).unwrap();
    assert!(users.get_user_by_email("u1@x.io").unwrap().is_some());
}

#[test]
fn a_read_only_open_migrates_in_memory_and_never_writes_the_file() {
    let (_d, cfg, path) = v1_dir();
    let before = hash(&path);
    let db = Database::open_read_only(&path, tables(&cfg, &path), &OpenOptions::default()).unwrap();
    assert_eq!(
        users_version(&db),
        2,
        "the handle reads the migrated tables"
    );
    assert_reads_v1_users(&db);
    drop(db);
    assert_eq!(hash(&path), before, "a read-only open wrote the file");
    // Through the store's read-only path too.
    let db = Database::open_target_read_only(&cfg, DbTarget::Store(Store::Users)).unwrap();
    assert_reads_v1_users(&db);
    drop(db);
    assert_eq!(hash(&path), before);
}

#[test]
fn a_table_behind_without_a_path_is_refused_naming_file_table_and_versions() {
    let (_d, cfg, path) = v1_dir();
    let before = hash(&path);
    let none = OpenOptions {
        migrations: Migrations::Run(&[]),
        ..OpenOptions::default()
    };
    for read_only in [true, false] {
        let e = if read_only {
            Database::open_read_only(&path, tables(&cfg, &path), &none).unwrap_err()
        } else {
            Database::open_path(&path, tables(&cfg, &path), &none).unwrap_err()
        };
        match &e {
            Error::Layout {
                path: p,
                found,
                what,
            } => {
                assert_eq!(p.file_name(), path.file_name(), "{e}");
                assert_eq!(*found, Found::OtherVersion);
                assert!(
                    what.contains("users") && what.contains("version 1") && what.contains("2"),
                    "{what}"
                );
            }
            other => panic!("read_only={read_only}: expected Layout, got {other:?}"),
        }
        assert!(e.to_string().contains("users.redb"), "{e}");
        if read_only {
            assert_eq!(hash(&path), before);
        }
    }
}

/// A handle opened leaving pending steps does not let a later ordinary
/// open in the same process read the old layout.
#[test]
fn reusing_a_handle_opened_leaving_steps_still_migrates() {
    let (_d, cfg, path) = v1_dir();
    let leave = OpenOptions {
        migrations: Migrations::Leave,
        ..OpenOptions::default()
    };
    let before = hash(&path);
    let ro = Database::open_read_only(&path, tables(&cfg, &path), &leave).unwrap();
    assert_eq!(users_version(&ro), 1);
    let again =
        Database::open_read_only(&path, tables(&cfg, &path), &OpenOptions::default()).unwrap();
    assert_eq!(users_version(&again), 2);
    assert_reads_v1_users(&again);
    drop((ro, again));
    assert_eq!(hash(&path), before);

    let rw = Database::open_path(&path, tables(&cfg, &path), &leave).unwrap();
    assert_eq!(users_version(&rw), 1);
    // A read-only open must not write through the read-write handle.
    let e =
        Database::open_read_only(&path, tables(&cfg, &path), &OpenOptions::default()).unwrap_err();
    assert!(e.to_string().contains("migrations pending"), "{e}");
    let rw2 = Database::open_path(&path, tables(&cfg, &path), &OpenOptions::default()).unwrap();
    assert_eq!(users_version(&rw2), 2);
    assert_reads_v1_users(&rw2);
}
