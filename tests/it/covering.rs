//! Covering index entries (src/table/layout.rs): a unique covering entry
//! holds the primary key and a copy of the row, a covering entry of a
//! non-unique index a copy of the row. Every write keeps the copies equal
//! to the row (a stale copy would be silent corruption: a lookup returns
//! it), `verify` compares them, and a UNIQUE violation names the row that
//! holds the value.
//!
//! `users` declares both kinds: `idx_users_email` (unique covering) and
//! `idx_users_org` (covering).

use crate::common::{assert_consistent, data_dir, org, user};
use aragora_db::config::{DbTarget, Store};
use aragora_db::schema::users::{USERS, User};
use aragora_db::table::layout::{ROWS, spaced};
use aragora_db::table::{Page, Read, keys, raw_def};
use aragora_db::{Database, Error};
use redb::{ReadableDatabase, ReadableTable};

fn open() -> (tempfile::TempDir, std::path::PathBuf, Database) {
    let (dir, cfg) = data_dir();
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    db.write(|w| w.insert(&org("o1", "one", None))).unwrap();
    db.write(|w| w.insert(&org("o2", "two", None))).unwrap();
    (dir, path, db)
}

/// Key of a user's entry in `idx_users_email`.
fn email_key(email: &str) -> Vec<u8> {
    let idx = USERS.index("idx_users_email").unwrap();
    spaced(
        idx.space,
        &keys::encode([aragora_db::table::ValueRef::Text(email)]),
    )
}

/// Key of a user's entry in `idx_users_org`.
fn org_key(org: &str, id: &str) -> Vec<u8> {
    use aragora_db::table::ValueRef::Text;
    let idx = USERS.index("idx_users_org").unwrap();
    let mut k = spaced(idx.space, &keys::encode([Text(org)]));
    k.extend_from_slice(&keys::encode([Text(id)]));
    k
}

/// The raw value stored under `key` in the users table.
fn raw(db: &Database, key: &[u8]) -> Option<Vec<u8>> {
    let r = db.read().unwrap();
    let snap = r.embedded().unwrap();
    let t = snap.raw_table("users").unwrap();
    t.get(key).unwrap().map(|g| g.value().to_vec())
}

/// The stored row of user `id`.
fn row(db: &Database, id: &str) -> Vec<u8> {
    let pk = keys::encode([aragora_db::table::ValueRef::Text(id)]);
    raw(db, &spaced(ROWS, &pk)).expect("the row")
}

#[test]
fn entries_hold_the_key_and_a_copy_of_the_row() {
    let (_d, _p, db) = open();
    db.write(|w| w.insert(&user("u1", "a@x.io", Some("o1"))))
        .unwrap();
    let pk = keys::encode([aragora_db::table::ValueRef::Text("u1")]);
    let stored = row(&db, "u1");
    let mut want = pk.clone();
    want.extend_from_slice(&stored);
    assert_eq!(raw(&db, &email_key("a@x.io")), Some(want));
    assert_eq!(raw(&db, &org_key("o1", "u1")), Some(stored));
    // A unique index that does not cover still holds the key alone.
    db.write(|w| {
        let mut u = w.get::<User>("u1")?.unwrap();
        u.api_key = Some("k1".into());
        w.update(&u)
    })
    .unwrap();
    let idx = USERS.index("idx_users_api_key").unwrap();
    let key = spaced(
        idx.space,
        &keys::encode([aragora_db::table::ValueRef::Text("k1")]),
    );
    assert_eq!(raw(&db, &key), Some(pk));
}

#[test]
fn a_unique_violation_on_a_covering_index_names_the_existing_row() {
    let (_d, _p, db) = open();
    db.write(|w| w.insert(&user("u1", "a@x.io", None))).unwrap();
    for attempt in ["insert", "update", "bulk"] {
        let err = db
            .write(|w| match attempt {
                "insert" => w.insert(&user("u2", "a@x.io", None)),
                "update" => {
                    w.insert(&user("u2", "b@x.io", None))?;
                    w.update(&user("u2", "a@x.io", None))
                }
                _ => w.insert_many(&[user("u3", "a@x.io", None)]),
            })
            .unwrap_err();
        match &err {
            Error::Unique {
                table,
                columns,
                value,
                existing,
            } => {
                assert_eq!((*table, columns.as_str()), ("users", "email"), "{attempt}");
                assert!(value.contains("a@x.io"), "{attempt}: {value}");
                assert!(
                    existing.as_deref().is_some_and(|e| e.contains("u1")),
                    "{attempt}: {existing:?}"
                );
            }
            other => panic!("{attempt}: expected Unique, got {other:?}"),
        }
        assert!(
            err.to_string().contains("already exists (row \"u1\")"),
            "{attempt}: {err}"
        );
    }
    assert_consistent(&db);
}

#[test]
fn an_update_changing_the_email_moves_the_entry_and_its_row_copy() {
    let (_d, _p, db) = open();
    db.write(|w| w.insert(&user("u1", "a@x.io", Some("o1"))))
        .unwrap();
    db.write(|w| {
        let mut u = w.get::<User>("u1")?.unwrap();
        u.email = "b@x.io".into();
        u.name = Some("Renamed".into());
        w.update(&u)?;
        // Inside the transaction, too.
        assert!(w.get_by(User::idx_users_email, "a@x.io")?.is_none());
        let got = w.get_by(User::idx_users_email, "b@x.io")?.unwrap();
        assert_eq!(got.name.as_deref(), Some("Renamed"));
        Ok(())
    })
    .unwrap();
    assert_eq!(raw(&db, &email_key("a@x.io")), None);
    let r = db.read().unwrap();
    assert!(r.get_by(User::idx_users_email, "a@x.io").unwrap().is_none());
    let got = r.get_by(User::idx_users_email, "b@x.io").unwrap().unwrap();
    assert_eq!((got.id.as_str(), got.email.as_str()), ("u1", "b@x.io"));
    assert_eq!(got.name.as_deref(), Some("Renamed"));
    drop(r);
    assert_consistent(&db);
}

/// An update that changes no indexed column must still rewrite the copies
/// in both covering kinds, else lookups return the old row.
#[test]
fn an_update_of_another_column_rewrites_every_covering_copy() {
    let (_d, _p, db) = open();
    db.write(|w| w.insert(&user("u1", "a@x.io", Some("o1"))))
        .unwrap();
    db.write(|w| {
        let mut u = w.get::<User>("u1")?.unwrap();
        u.name = Some("New name".into());
        u.failed_login_count = Some(3);
        w.update(&u)
    })
    .unwrap();
    let stored = row(&db, "u1");
    assert_eq!(raw(&db, &org_key("o1", "u1")).as_ref(), Some(&stored));
    assert!(raw(&db, &email_key("a@x.io")).unwrap().ends_with(&stored));
    let r = db.read().unwrap();
    let by_email = r.get_by(User::idx_users_email, "a@x.io").unwrap().unwrap();
    assert_eq!(by_email.name.as_deref(), Some("New name"));
    assert_eq!(by_email.failed_login_count, Some(3));
    let by_org = r.find(User::idx_users_org, "o1", Page::default()).unwrap();
    assert_eq!(by_org.len(), 1);
    assert_eq!(by_org[0].name.as_deref(), Some("New name"));
    drop(r);
    // ON DELETE SET NULL rewrites the row: the org entry goes, the email
    // entry's copy follows the row.
    db.write(|w| {
        w.delete::<aragora_db::schema::users::Organization>("o1")
            .map(drop)
    })
    .unwrap();
    let r = db.read().unwrap();
    let u = r.get_by(User::idx_users_email, "a@x.io").unwrap().unwrap();
    assert_eq!(u.org_id, None);
    assert!(
        r.find(User::idx_users_org, "o1", Page::default())
            .unwrap()
            .is_empty()
    );
    drop(r);
    assert_consistent(&db);
    // Deleting the user removes both entries.
    db.write(|w| w.delete::<User>("u1").map(drop)).unwrap();
    assert_eq!(raw(&db, &email_key("a@x.io")), None);
    assert_consistent(&db);
}

/// Replaces the value stored under `key` in the users table of `path`.
fn tamper(path: &std::path::Path, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) {
    let raw = redb::Database::create(path).unwrap();
    let txn = raw.begin_write().unwrap();
    {
        let mut t = txn.open_table(raw_def("users")).unwrap();
        let mut v = t.get(key).unwrap().unwrap().value().to_vec();
        f(&mut v);
        t.insert(key, v.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn verify_finds_a_covering_copy_that_differs_from_the_row() {
    for (which, key) in [
        ("idx_users_email", email_key("a@x.io")),
        ("idx_users_org", org_key("o1", "u1")),
    ] {
        let (_d, path, db) = open();
        db.write(|w| w.insert(&user("u1", "a@x.io", Some("o1"))))
            .unwrap();
        // A copy of another, valid row: what a missed rewrite would leave.
        let stale = {
            let mut u = user("u1", "a@x.io", Some("o1"));
            u.name = Some("Stale".into());
            let mut b = Vec::new();
            aragora_db::table::Row::encode(&u, &mut b);
            b
        };
        drop(db);
        let len = row_len(&path);
        tamper(&path, &key, |v| {
            let keep = v.len() - len;
            v.truncate(keep);
            v.extend_from_slice(&stale);
        });
        let db = Database::open_path(&path, vec![&USERS], &Default::default()).unwrap();
        let r = db.read().unwrap();
        let problems = aragora_db::table::check::check::<User>(&r).unwrap();
        assert!(
            problems.iter().any(|p| p.table == format!("users#{which}")
                && p.what.contains("row copy")
                && p.what.contains("u1")),
            "{which}: {problems:?}"
        );
    }
}

/// Length of user u1's stored row in the file at `path`.
fn row_len(path: &std::path::Path) -> usize {
    let raw = redb::Database::create(path).unwrap();
    let txn = raw.begin_read().unwrap();
    let t = txn.open_table(raw_def("users")).unwrap();
    let pk = keys::encode([aragora_db::table::ValueRef::Text("u1")]);
    let found = t.get(spaced(ROWS, &pk).as_slice()).unwrap();
    found.unwrap().value().len()
}
