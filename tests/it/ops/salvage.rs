//! `salvage`: rows with damaged bytes are reported and skipped, every other
//! row lands in a new, consistent file; the damaged file is not modified.

use super::{cli, populate, raw_edit};
use crate::common::{assert_consistent, data_dir};
use aragora_db::Database;
use aragora_db::config::{DbTarget, Store};
use aragora_db::ops::salvage;
use aragora_db::schema::users::{USERS, User};
use aragora_db::table::Read;
use aragora_db::table::{IntoKey, KeyRange, Page};
use redb::ReadableTable;

#[test]
fn damaged_rows_are_reported_and_the_rest_copied() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 8);
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    let (all, victim): (Vec<User>, User) = {
        let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        let r = db.read().unwrap();
        let all: Vec<User> = r.scan(KeyRange::all(), Page::default()).unwrap();
        let v = r.get_by(User::idx_users_email, "u5@x.io").unwrap().unwrap();
        (all, v)
    };
    // Damage the victim's row (CRC) and drop an index entry of another.
    let mut k = vec![0u8];
    k.extend(victim.id.as_str().to_key());
    raw_edit(&path, "users", |t| {
        let mut v = t.get(k.as_slice()).unwrap().unwrap().value().to_vec();
        let mid = v.len() / 2;
        v[mid] ^= 0x20;
        t.insert(k.as_slice(), v.as_slice()).unwrap();
    });
    let mut idx = vec![1u8];
    idx.extend("u2@x.io".to_key());
    raw_edit(&path, "users", |t| {
        t.remove(idx.as_slice()).unwrap();
    });
    let damaged = std::fs::read(&path).unwrap();
    let out = cfg.data_dir.join("salvaged").join("users.redb");
    let report = salvage::salvage(&path, &out, None).unwrap();
    assert!(
        std::fs::read(&path).unwrap() == damaged,
        "salvage modified its input"
    );
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = &report.problems[0];
    assert_eq!(p.table, "users");
    assert!(
        p.key.contains(&victim.id) && p.what.contains("CRC32"),
        "{p}"
    );
    let users = report.tables.iter().find(|t| t.table == "users").unwrap();
    assert_eq!((users.copied, users.lost), (all.len() as u64 - 1, 1));
    // The new file is consistent (indexes rebuilt) and holds every other row.
    let tables = aragora_db::schema::tables_in_file(&cfg, &path).unwrap();
    let db = Database::open_path(&out, tables, &Default::default()).unwrap();
    assert_consistent(&db);
    let r = db.read().unwrap();
    let got: Vec<User> = r.scan(KeyRange::all(), Page::default()).unwrap();
    let want: Vec<User> = all.into_iter().filter(|u| u.id != victim.id).collect();
    assert_eq!(got, want);
    let u2: Option<User> = r.get_by(User::idx_users_email, "u2@x.io").unwrap();
    assert!(u2.is_some(), "index entry not rebuilt");
    assert_eq!(r.count_rows(&USERS).unwrap(), want.len() as u64);
    // The command line refuses to overwrite and exits 1 when rows were lost.
    let o = cli(&[
        "salvage",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists"));
    let out2 = cfg.data_dir.join("salvaged").join("again.redb");
    let o = cli(&[
        "salvage",
        path.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("CRC32"));
    assert!(out2.exists());
}

#[test]
fn flipped_file_bytes_lose_at_most_the_damaged_rows() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 8);
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    let total = {
        let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        db.read().unwrap().count::<User>().unwrap()
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"u6@x.io";
    for i in 0..bytes.len() - needle.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + 1] ^= 0x01;
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    let out = cfg.data_dir.join("salvaged.redb");
    let report = salvage::salvage(&path, &out, None).unwrap();
    let users = report.tables.iter().find(|t| t.table == "users").unwrap();
    // Either redb kept the page readable and the row's CRC caught the
    // flip, or the page is gone and its loss is reported: nothing silent.
    assert!(users.lost >= 1, "{report:?}");
    assert!(users.copied >= 1 && users.copied < total, "{report:?}");
    assert!(
        report.problems.iter().any(|p| p.table == "users"),
        "{:?}",
        report.problems
    );
    let tables = aragora_db::schema::tables_in_file(&cfg, &path).unwrap();
    let db = Database::open_path(&out, tables, &Default::default()).unwrap();
    assert_consistent(&db);
    let got: Vec<User> = db
        .read()
        .unwrap()
        .scan(KeyRange::all(), Page::default())
        .unwrap();
    assert_eq!(got.len() as u64, users.copied);
    assert!(
        got.iter().all(|u| u.email != "u6@x.io"),
        "the damaged row was copied"
    );
}
