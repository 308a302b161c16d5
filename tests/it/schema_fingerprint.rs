//! A declaration changed without a version bump cannot misread an old
//! file: each file records every table's fingerprint (`__fingerprint`), and
//! an open refuses a table whose declaration differs at the same version
//! with `Error::SchemaMismatch` naming what changed. A proper migration
//! opens; a file written before fingerprints existed opens and gets one.

use aragora_db::config::{DbTarget, Store};
use aragora_db::db::fingerprint::FINGERPRINT;
use aragora_db::ops::migrate::{self, Step};
use aragora_db::table::Read;
use aragora_db::table::fingerprint::fingerprint;
use aragora_db::table::{KeyRange, Page, TableDef};
use aragora_db::{Database, Error, table};
use std::path::{Path, PathBuf};

table! {
    /// Declaration A.
    pub struct GadgetA as GADGET_A {
        name: "gadgets",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            email: String => Text,
            name: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique gadgets_email_key (email) },
        foreign_keys: {},
    }
}

table! {
    /// A with two columns swapped, same version.
    pub struct GadgetReordered as GADGET_REORDERED {
        name: "gadgets",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            name: Option<String> => Text,
            email: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique gadgets_email_key (email) },
        foreign_keys: {},
    }
}

table! {
    /// A with a column renamed, same version.
    pub struct GadgetRenamed as GADGET_RENAMED {
        name: "gadgets",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            mail: String => Text,
            name: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique gadgets_email_key (mail) },
        foreign_keys: {},
    }
}

table! {
    /// A with an index inserted before the existing one, same version.
    pub struct GadgetIndexed as GADGET_INDEXED {
        name: "gadgets",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            email: String => Text,
            name: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { index gadgets_name_idx (name), unique gadgets_email_key (email) },
        foreign_keys: {},
    }
}

table! {
    /// The same change as `GadgetIndexed`, done properly: version 2.
    pub struct GadgetV2 as GADGET_V2 {
        name: "gadgets",
        owner: DbTarget::Store(Store::Users),
        version: 2,
        columns: {
            id: i64 => Integer,
            email: String => Text,
            name: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { index gadgets_name_idx (name), unique gadgets_email_key (email) },
        foreign_keys: {},
    }
}

static STEPS: &[Step] = &[Step {
    id: 1,
    name: "001_index_gadget_names",
    table: "gadgets",
    to: 2,
    apply: migrate::add_column,
}];

/// Opens with the test's steps registered (an open runs the pending ones).
fn open(path: &Path, def: &'static TableDef) -> aragora_db::Result<Database> {
    let opts = aragora_db::OpenOptions {
        migrations: aragora_db::Migrations::Run(STEPS),
        ..Default::default()
    };
    Database::open_path(path, vec![def], &opts)
}

/// A file written with declaration A, holding three gadgets.
fn file_a(dir: &Path) -> PathBuf {
    let path = dir.join("gadgets.redb");
    let db = open(&path, &GADGET_A).unwrap();
    db.write(|w| {
        for i in 1..=3 {
            w.insert(&GadgetA {
                id: i,
                email: format!("g{i}@x.io"),
                name: Some(format!("gadget {i}")),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    path
}

fn mismatch(path: &Path, def: &'static TableDef) -> String {
    match open(path, def) {
        Err(Error::SchemaMismatch {
            path: p,
            table,
            version,
            what,
        }) => {
            assert_eq!(p.file_name(), path.file_name());
            assert_eq!((table.as_str(), version), ("gadgets", 1));
            what
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
}

#[test]
fn a_declaration_changed_at_the_same_version_is_refused_naming_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_a(dir.path());
    let what = mismatch(&path, &GADGET_REORDERED);
    assert!(
        what.contains("column 2 was `email TEXT NOT NULL`, now `name TEXT`")
            && what.contains("column 3 was `name TEXT`, now `email TEXT NOT NULL`"),
        "{what}"
    );
    let what = mismatch(&path, &GADGET_RENAMED);
    assert!(
        what.contains("column 2 was `email TEXT NOT NULL`, now `mail TEXT NOT NULL`"),
        "{what}"
    );
    let what = mismatch(&path, &GADGET_INDEXED);
    assert!(
        what.contains("index gadgets_email_key was key space 1, now 2")
            && what.contains("index gadgets_name_idx"),
        "{what}"
    );
    let err = open(&path, &GADGET_INDEXED).unwrap_err().to_string();
    assert!(
        err.contains("gadgets.redb") && err.contains("table gadgets") && err.contains("bump"),
        "{err}"
    );
    // Nothing was written: declaration A still opens and reads its rows.
    let db = open(&path, &GADGET_A).unwrap();
    let rows: Vec<GadgetA> = db
        .read()
        .unwrap()
        .scan(KeyRange::all(), Page::default())
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        db.recorded_fingerprint("gadgets").unwrap(),
        Some(fingerprint(&GADGET_A))
    );
}

#[test]
fn the_same_change_with_a_version_bump_and_a_step_opens_and_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_a(dir.path());
    // The open runs the step; nothing is left for `migrate`.
    let db = open(&path, &GADGET_V2).unwrap();
    assert_eq!(migrate::migrate_db(&db, STEPS, false).unwrap().len(), 0);
    assert_eq!(
        db.recorded_fingerprint("gadgets").unwrap(),
        Some(fingerprint(&GADGET_V2))
    );
    let found: Vec<GadgetV2> = db
        .read()
        .unwrap()
        .find(GadgetV2::gadgets_name_idx, "gadget 2", Page::default())
        .unwrap();
    assert_eq!(found.len(), 1);
    crate::common::assert_consistent(&db);
    drop(db);
    // Reopens with the new declaration; the old one is now too old.
    drop(open(&path, &GADGET_V2).unwrap());
    assert!(matches!(
        open(&path, &GADGET_A),
        Err(Error::SchemaTooNew { .. })
    ));
}

/// Removes `__fingerprint` with redb directly: a file as a binary from
/// before fingerprints wrote it.
fn strip_fingerprints(path: &Path) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    assert!(txn.delete_table(FINGERPRINT).unwrap());
    txn.commit().unwrap();
}

#[test]
fn a_file_from_before_fingerprints_opens_and_gets_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_a(dir.path());
    strip_fingerprints(&path);
    let db = open(&path, &GADGET_A).unwrap();
    assert_eq!(
        db.recorded_fingerprint("gadgets").unwrap(),
        Some(fingerprint(&GADGET_A))
    );
    drop(db);
    // From then on a changed declaration is refused.
    mismatch(&path, &GADGET_REORDERED);
    // Without a fingerprint nothing can tell which declaration wrote the
    // file: it is assumed to be the current one, never refused.
    strip_fingerprints(&path);
    let db = open(&path, &GADGET_INDEXED).unwrap();
    assert_eq!(
        db.recorded_fingerprint("gadgets").unwrap(),
        Some(fingerprint(&GADGET_INDEXED))
    );
}

#[test]
fn verify_reports_a_table_declared_differently_at_the_same_version() {
    use aragora_db::ops::verify::verify_file;
    let dir = tempfile::tempdir().unwrap();
    let path = file_a(dir.path());
    let timeout = std::time::Duration::from_secs(5);
    let clean = verify_file(&path, &[&GADGET_A], timeout, None).unwrap();
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    let report = verify_file(&path, &[&GADGET_RENAMED], timeout, None).unwrap();
    let found: Vec<String> = report.problems.iter().map(|p| format!("{p:?}")).collect();
    assert!(
        found.iter().any(|p| p.contains("gadgets")
            && p.contains("different declaration at schema version 1")
            && p.contains("column 2 was `email TEXT NOT NULL`, now `mail TEXT NOT NULL`")),
        "{found:#?}"
    );
}
