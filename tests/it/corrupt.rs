//! Damaged row bytes give a CRC error naming the table and key.

use crate::common::{data_dir, user};
use aragora_db::config::{DbTarget, Store};
use aragora_db::schema::users::User;
use aragora_db::table::Read;
use aragora_db::table::raw_def;
use aragora_db::{Database, Error};
use redb::ReadableTable;

#[test]
fn flipped_row_byte_is_a_crc_error_naming_table_and_key() {
    let (_d, cfg) = data_dir();
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    {
        let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        db.write(|w| w.insert(&user("victim", "v@x.io", None)))
            .unwrap();
    }
    // Damage the stored row behind the store's back.
    {
        let raw = redb::Database::create(&path).unwrap();
        let txn = raw.begin_write().unwrap();
        {
            let mut t = txn.open_table(raw_def("users")).unwrap();
            let (k, mut v) = {
                let (k, v) = t.first().unwrap().unwrap();
                (k.value().to_vec(), v.value().to_vec())
            };
            let mid = v.len() / 2;
            v[mid] ^= 0x10;
            t.insert(k.as_slice(), v.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let r = db.read().unwrap();
    let err = r.get::<User>("victim").unwrap_err();
    match &err {
        Error::Corrupt { table, key, what } => {
            assert_eq!(*table, "users");
            assert!(key.contains("victim"), "{key}");
            assert!(what.contains("CRC32"), "{what}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A lookup through a covering index reads the row copy its entry
    // holds, not the damaged row: it still finds the user (the copy is
    // intact), and the check below reports the damage.
    assert_eq!(
        r.get_by(User::idx_users_email, "v@x.io")
            .unwrap()
            .map(|u| u.id),
        Some("victim".to_string())
    );
    // And the consistency check reports it instead of stopping.
    let problems = aragora_db::table::check::check::<User>(&r).unwrap();
    assert!(
        problems.iter().any(|p| p.what.contains("CRC32")),
        "{problems:?}"
    );
}

/// A damaged row count (not 8 bytes) is an error naming the table, in a
/// snapshot and inside a write transaction alike: a write transaction once
/// read it as 0 and went on counting from there.
#[test]
fn a_damaged_row_count_is_an_error_in_reads_and_writes() {
    let (_d, cfg) = data_dir();
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    {
        let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        db.write(|w| w.insert(&user("a", "a@x.io", None))).unwrap();
    }
    {
        let raw = redb::Database::create(&path).unwrap();
        let txn = raw.begin_write().unwrap();
        {
            let mut t = txn.open_table(raw_def("users")).unwrap();
            t.insert(aragora_db::table::layout::COUNT_KEY, [1u8, 2, 3].as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let corrupt = |e: Error| match e {
        Error::Corrupt { table, what, .. } => {
            assert_eq!(table, "users");
            assert!(what.contains("expected 8 bytes, found 3"), "{what}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    };
    corrupt(db.read().unwrap().count::<User>().unwrap_err());
    corrupt(db.write(|w| w.count::<User>()).unwrap_err());
}
