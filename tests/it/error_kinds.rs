//! Errors carry their kind and their cause, so callers match on the kind
//! (`is_*`, the variant) rather than on message text, and a message names
//! its file once.

use crate::common::data_dir;
use aragora_db::config::{DbTarget, Store};
use aragora_db::db::OpenOptions;
use aragora_db::{Database, Error, Found};
use std::error::Error as _;

/// What a `Layout` error found; `None` for any other error.
fn found(e: &Error) -> Option<Found> {
    match e {
        Error::Layout { found, .. } => Some(*found),
        _ => None,
    }
}

fn users() -> Vec<&'static aragora_db::table::TableDef> {
    vec![aragora_db::schema::table("users").unwrap()]
}

#[test]
fn a_read_only_open_says_what_it_found_instead_of_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.redb");
    let e = Database::open_read_only(&missing, users(), &OpenOptions::default()).unwrap_err();
    assert_eq!(found(&e), Some(Found::Missing), "{e:?}");
    assert!(e.is_layout() && !e.is_corrupt());
    assert!(!missing.exists(), "a read-only open created the file");

    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    let e = Database::open_read_only(&empty, users(), &OpenOptions::default()).unwrap_err();
    assert_eq!(found(&e), Some(Found::Empty), "{e:?}");
    // The path once, at the start.
    let shown = e.to_string();
    assert_eq!(
        shown.matches(&*empty.display().to_string()).count(),
        1,
        "{shown}"
    );

    let e = Database::open_read_only(dir.path(), users(), &OpenOptions::default()).unwrap_err();
    assert_eq!(found(&e), Some(Found::NotAFile), "{e:?}");
}

#[test]
fn a_redb_file_of_another_tool_is_a_foreign_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("theirs");
            txn.open_table(def).unwrap().insert("k", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    let e = Database::open_path(&path, users(), &OpenOptions::default()).unwrap_err();
    assert_eq!(found(&e), Some(Found::Foreign), "{e:?}");
}

#[test]
fn a_damaged_legacy_file_is_a_sqlite_error_that_keeps_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let file = src.join("aragora_users.db");
    {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    // A page size that is not a power of two: the header is damaged.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[16] = 0x03;
    bytes[17] = 0x00;
    std::fs::write(&file, &bytes).unwrap();
    let sqlite = aragora_db::sqlite::SqliteFile::open(&file).unwrap_err();
    let e = Error::sqlite(&file, sqlite);
    assert!(matches!(e, Error::Sqlite { .. }), "{e:?}");
    assert!(
        e.source().is_some(),
        "the reader's error is kept as the source"
    );
    let shown = e.to_string();
    assert_eq!(
        shown.matches(&*file.display().to_string()).count(),
        1,
        "{shown}"
    );
}

#[test]
fn a_redb_error_is_kept_as_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.redb");
    drop(redb::Database::create(&path).unwrap());
    // redb's header, then nothing: redb's own error, not ours.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..600]).unwrap();
    let e = Database::open_path(&path, users(), &OpenOptions::default()).unwrap_err();
    match &e {
        Error::Storage { source, .. } => {
            assert!(e.is_corrupt(), "{e:?}");
            let cause = e.source().expect("a source");
            assert_eq!(cause.to_string(), source.to_string());
            assert_eq!(e.detail(), source.to_string());
        }
        other => panic!("expected Storage, got {other:?}"),
    }
    let shown = e.to_string();
    assert_eq!(
        shown.matches(&*path.display().to_string()).count(),
        1,
        "{shown}"
    );
}

#[test]
fn a_sqlite_file_where_a_store_was_expected_is_a_foreign_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.redb");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let e = Database::open_path(&path, users(), &OpenOptions::default()).unwrap_err();
    assert_eq!(found(&e), Some(Found::Foreign), "{e:?}");
    assert!(e.to_string().contains("aragora-db import"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "left as it was");
}

#[test]
fn a_file_open_elsewhere_in_this_process_is_busy() {
    let (_d, cfg) = data_dir();
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    let _open = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let e = Database::open_path(&path, vec![], &OpenOptions::default()).unwrap_err();
    assert!(e.is_busy(), "{e:?}");
    assert!(!e.is_invalid_argument());
}

#[test]
fn constraint_and_lookup_kinds() {
    let (_d, cfg) = data_dir();
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    db.write(|w| {
        w.insert(&crate::common::user("a", "a@x.io", None))
            .map(drop)
    })
    .unwrap();
    let e = db
        .write(|w| {
            w.insert(&crate::common::user("b", "a@x.io", None))
                .map(drop)
        })
        .unwrap_err();
    assert!(e.is_unique() && e.is_constraint(), "{e:?}");
    assert!(!e.is_not_found() && !e.is_corrupt() && !e.is_busy());
}

#[test]
fn a_backup_manifest_that_is_not_one_is_a_foreign_layout() {
    use aragora_db::ops::manifest::Manifest;
    let e = Manifest::parse(b"{}").unwrap_err();
    assert_eq!(found(&e), Some(Found::Foreign), "{e:?}");
}
