//! `verify`: a mutation corpus (every injected inconsistency is reported)
//! and clean databases (no false positives).

use super::{cli, populate, raw_edit};
use crate::common::data_dir;
use aragora_db::config::{Config, DatabaseMode, DbTarget, Store};
use aragora_db::ops::verify::{self, Integrity};
use aragora_db::schema::users::{ORGANIZATIONS, USERS};
use aragora_db::table::Read;
use aragora_db::table::codec::encode_values;
use aragora_db::table::{IntoKey, Value, keys};
use aragora_db::{Database, table::TableDef};
use redb::{ReadableDatabase, ReadableTable};
use std::path::PathBuf;

/// Every problem of every file, one line each.
fn problems(cfg: &Config) -> Vec<String> {
    verify::verify_all(cfg)
        .unwrap()
        .into_iter()
        .flat_map(|r| {
            let name = r.path.file_name().unwrap().to_string_lossy().into_owned();
            r.problems.into_iter().map(move |p| format!("{name}: {p}"))
        })
        .collect()
}

fn assert_reported(found: &[String], file: &str, table: &str, what: &str) {
    assert!(
        found
            .iter()
            .any(|p| p.starts_with(&format!("{file}: {table} ")) && p.contains(what)),
        "expected `{file}: {table} … {what}` among {found:#?}"
    );
}

fn users_file(cfg: &Config) -> PathBuf {
    cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path
}

fn row_of(path: &PathBuf, def: &TableDef, pk: &[u8]) -> Vec<Value> {
    let raw = redb::Database::open(path).unwrap();
    let txn = raw.begin_read().unwrap();
    let t = txn
        .open_table(aragora_db::table::raw_def(def.name))
        .unwrap();
    let mut k = vec![0u8];
    k.extend_from_slice(pk);
    let v = t.get(k.as_slice()).unwrap().unwrap();
    def.decode_values(pk, v.value()).unwrap().0
}

fn populated(mode: DatabaseMode) -> (tempfile::TempDir, Config) {
    let (d, cfg) = data_dir();
    let cfg = cfg.with_mode(mode);
    populate(&cfg, 6);
    (d, cfg)
}

/// The primary key of the user with `email`.
fn user_pk(cfg: &Config, email: &str) -> Vec<u8> {
    let db = Database::open(cfg, DbTarget::Store(Store::Users)).unwrap();
    let r = db.read().unwrap();
    let u: aragora_db::schema::users::User = r
        .get_by(aragora_db::schema::users::User::idx_users_email, email)
        .unwrap()
        .unwrap();
    u.id.as_str().to_key()
}

#[test]
fn clean_databases_report_no_problems_in_both_modes() {
    for mode in [DatabaseMode::Legacy, DatabaseMode::Consolidated] {
        let (_d, cfg) = populated(mode);
        let reports = verify::verify_all(&cfg).unwrap();
        assert!(reports.len() >= 4, "{} files", reports.len());
        for r in &reports {
            assert_eq!(r.integrity, Integrity::Ok, "{}", r.path.display());
            assert!(
                r.problems.is_empty(),
                "{}: {:?}",
                r.path.display(),
                r.problems
            );
        }
        let rows: u64 = reports
            .iter()
            .flat_map(|r| &r.tables)
            .filter_map(|t| t.rows)
            .sum();
        assert!(rows > 40, "{rows}");
        let o = cli(&[
            "--data-dir",
            cfg.data_dir.to_str().unwrap(),
            "--mode",
            mode.as_str(),
            "verify",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn deleted_index_entry_is_reported() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let path = users_file(&cfg);
    let mut k = vec![1u8]; // idx_users_email is the first index: key space 1
    k.extend(keys::encode([aragora_db::table::ValueRef::Text("u3@x.io")]));
    raw_edit(&path, "users", |t| {
        assert!(t.remove(k.as_slice()).unwrap().is_some())
    });
    let found = problems(&cfg);
    assert_reported(
        &found,
        "users.redb",
        "users#idx_users_email",
        "row has no index entry",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    // The command exits non-zero and names the problem.
    let o = cli(&["--data-dir", cfg.data_dir.to_str().unwrap(), "verify"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("row has no index entry"));
}

#[test]
fn broken_row_crc_is_reported() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let pk = user_pk(&cfg, "u2@x.io");
    let path = users_file(&cfg);
    let mut k = vec![0u8];
    k.extend_from_slice(&pk);
    raw_edit(&path, "users", |t| {
        let mut v = t.get(k.as_slice()).unwrap().unwrap().value().to_vec();
        let mid = v.len() / 2;
        v[mid] ^= 0x04;
        t.insert(k.as_slice(), v.as_slice()).unwrap();
    });
    assert_reported(&problems(&cfg), "users.redb", "users", "CRC32 mismatch");
}

#[test]
fn edited_row_with_valid_crc_disagrees_with_its_indexes() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let pk = user_pk(&cfg, "u1@x.io");
    let path = users_file(&cfg);
    let mut values = row_of(&path, &USERS, &pk);
    let email = USERS
        .columns
        .iter()
        .position(|c| c.name == "email")
        .unwrap();
    values[email] = Value::Text("changed@x.io".into());
    let bytes = encode_values(&values, &Default::default());
    let mut k = vec![0u8];
    k.extend_from_slice(&pk);
    raw_edit(&path, "users", |t| {
        t.insert(k.as_slice(), bytes.as_slice()).unwrap();
    });
    let found = problems(&cfg);
    assert_reported(
        &found,
        "users.redb",
        "users#idx_users_email",
        "index entry has no matching row",
    );
    assert_reported(
        &found,
        "users.redb",
        "users#idx_users_email",
        "row has no index entry",
    );
}

#[test]
fn orphaned_foreign_key_children_are_reported() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let org_id = {
        let r = db.read().unwrap();
        let orgs: Vec<aragora_db::schema::users::Organization> = r
            .scan(aragora_db::table::KeyRange::all(), Default::default())
            .unwrap();
        orgs[0].id.clone()
    };
    db.write(|w| {
        w.set_foreign_keys(false)?;
        w.delete_raw(&ORGANIZATIONS, &org_id.as_str().to_key())
    })
    .unwrap();
    drop(db);
    let found = problems(&cfg);
    assert_reported(&found, "users.redb", "users", "has no row in organizations");
    assert!(
        found.iter().all(|p| p.contains("has no row in")),
        "{found:#?}"
    );
}

#[test]
fn duplicate_unique_entries_are_reported() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let pk = user_pk(&cfg, "u4@x.io");
    let path = users_file(&cfg);
    let mut values = row_of(&path, &USERS, &pk);
    values[0] = Value::Text("twin".into()); // id: same email, another key
    let bytes = encode_values(&values, &Default::default());
    let mut k = vec![0u8];
    k.extend("twin".to_key());
    raw_edit(&path, "users", |t| {
        t.insert(k.as_slice(), bytes.as_slice()).unwrap();
    });
    let found = problems(&cfg);
    assert_reported(
        &found,
        "users.redb",
        "users#idx_users_email",
        "UNIQUE violated",
    );
    assert_reported(&found, "users.redb", "users", "row count says");
}

#[test]
fn undeclared_table_and_wrong_count_are_reported() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let path = users_file(&cfg);
    raw_edit(&path, "stray", |t| {
        t.insert(b"k".as_slice(), b"v".as_slice()).unwrap();
    });
    raw_edit(&path, "audit_log", |t| {
        t.insert(b"\xFFcount".as_slice(), 999u64.to_le_bytes().as_slice())
            .unwrap();
    });
    let found = problems(&cfg);
    assert_reported(&found, "users.redb", "stray", "not declared");
    assert_reported(&found, "users.redb", "audit_log", "row count says 999");
}

#[test]
fn flipped_bytes_in_the_file_are_reported() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let path = users_file(&cfg);
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"u5@x.io";
    let mut hits = 0;
    for i in 0..bytes.len().saturating_sub(needle.len()) {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + 1] ^= 0x01;
            hits += 1;
        }
    }
    assert!(hits > 0);
    std::fs::write(&path, &bytes).unwrap();
    let reports = verify::verify_all(&cfg).unwrap();
    let users = reports.iter().find(|r| r.path == path).unwrap();
    assert!(!users.problems.is_empty(), "flipped bytes went unnoticed");
    // The other files are untouched and clean.
    for r in reports.iter().filter(|r| r.path != path) {
        assert!(
            r.problems.is_empty(),
            "{}: {:?}",
            r.path.display(),
            r.problems
        );
    }
    // verify never modifies the file it checks.
    assert!(
        std::fs::read(&path).unwrap() == bytes,
        "verify modified the file"
    );
}

#[test]
fn a_file_open_in_this_process_is_checked_without_the_integrity_step() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let _db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let reports = verify::verify_all(&cfg).unwrap();
    let users = reports.iter().find(|r| r.path == users_file(&cfg)).unwrap();
    assert!(matches!(users.integrity, Integrity::Skipped(_)));
    assert!(users.problems.is_empty(), "{:?}", users.problems);
}

#[test]
fn a_file_held_by_another_process_is_a_clear_locked_error() {
    let (_d, cfg) = populated(DatabaseMode::Legacy);
    let ready = cfg.data_dir.join("ready");
    let mut holder = super::backup::spawn_holder(&cfg.data_dir, &ready);
    let start = std::time::Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "child never opened"
        );
        assert!(holder.0.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = super::cli_env(
        &["--data-dir", cfg.data_dir.to_str().unwrap(), "verify"],
        &[("DB_TIMEOUT", "0.3")],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("users.redb") && err.contains("locked by another process"),
        "{err}"
    );
    drop(holder);
    // Killed while holding the file: not shut down cleanly, which is no problem.
    let found = problems(&cfg);
    assert!(found.is_empty(), "{found:?}");
}
