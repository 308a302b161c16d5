//! Every error path of the write machinery, and ON DELETE actions.

use crate::common::assert_consistent;
use crate::common::{data_dir, org, user};
use aragora_db::config::{DbTarget, Store};
use aragora_db::schema::users::{OAuthProvider, OrgInvitation, Organization, USERS, User};
use aragora_db::table::Read;
use aragora_db::table::check::check;
use aragora_db::table::{Extras, Value};
use aragora_db::{Database, Error};

fn open() -> (tempfile::TempDir, Database) {
    let (dir, cfg) = data_dir();
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    (dir, db)
}

#[test]
fn duplicate_email_is_a_unique_error_naming_table_column_value() {
    let (_d, db) = open();
    db.write(|w| w.insert(&user("u1", "a@x.io", None))).unwrap();
    let err = db
        .write(|w| w.insert(&user("u2", "a@x.io", None)))
        .unwrap_err();
    match &err {
        Error::Unique {
            table,
            columns,
            value,
            ..
        } => {
            assert_eq!((*table, columns.as_str()), ("users", "email"));
            assert!(value.contains("a@x.io"), "{value}");
        }
        other => panic!("expected Unique, got {other:?}"),
    }
    assert!(err.to_string().contains("users(email)"), "{err}");
    assert_eq!(db.read().unwrap().count::<User>().unwrap(), 1);
    assert!(db.read().unwrap().get::<User>("u2").unwrap().is_none());
    assert_consistent(&db);
}

#[test]
fn duplicate_primary_key_is_refused() {
    let (_d, db) = open();
    db.write(|w| w.insert(&user("u1", "a@x.io", None))).unwrap();
    let err = db
        .write(|w| w.insert(&user("u1", "b@x.io", None)))
        .unwrap_err();
    assert!(matches!(err, Error::Unique { columns, .. } if columns == "id"));
}

#[test]
fn missing_foreign_key_is_refused_and_leaves_nothing() {
    let (_d, db) = open();
    let err = db
        .write(|w| {
            w.insert(&user("u0", "zero@x.io", None))?;
            w.insert(&user("u1", "a@x.io", Some("no-such-org")))
        })
        .unwrap_err();
    match &err {
        Error::ForeignKey {
            table,
            column,
            value,
            parent,
        } => {
            assert_eq!(
                (*table, column.as_str(), *parent),
                ("users", "org_id", "organizations")
            );
            assert!(value.contains("no-such-org"));
        }
        other => panic!("expected ForeignKey, got {other:?}"),
    }
    // The whole transaction rolled back, including the valid first insert.
    assert_eq!(db.read().unwrap().count::<User>().unwrap(), 0);
    assert_consistent(&db);
}

#[test]
fn not_null_and_type_errors_on_the_generic_path() {
    let (_d, db) = open();
    let mut vals: Vec<Value> = USERS.columns.iter().map(|_| Value::Null).collect();
    let err = db
        .write(|w| w.insert_values(&USERS, &vals, &Extras::new()))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotNull {
                table: "users",
                column: "id"
            }
        ),
        "{err}"
    );
    for (i, c) in USERS.columns.iter().enumerate() {
        if !c.nullable {
            vals[i] = Value::Text(format!("v-{}", c.name));
        }
    }
    let active = USERS.column_index("is_active").unwrap();
    vals[active] = Value::Integer(7);
    let err = db
        .write(|w| w.insert_values(&USERS, &vals, &Extras::new()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Type { column, .. } if column == "is_active"),
        "{err}"
    );
    vals[active] = Value::Integer(1);
    db.write(|w| w.insert_values(&USERS, &vals, &Extras::new()))
        .unwrap();
    let u: User = db.read().unwrap().get("v-id").unwrap().unwrap();
    assert_eq!(u.is_active, Some(true));
}

#[test]
fn update_moves_index_entries_and_checks_uniqueness() {
    let (_d, db) = open();
    db.write(|w| {
        w.insert(&user("u1", "a@x.io", None))?;
        w.insert(&user("u2", "b@x.io", None))
    })
    .unwrap();
    let mut u1 = user("u1", "c@x.io", None);
    db.write(|w| w.update(&u1)).unwrap();
    let r = db.read().unwrap();
    assert!(r.get_by(User::idx_users_email, "a@x.io").unwrap().is_none());
    assert_eq!(
        r.get_by(User::idx_users_email, "c@x.io")
            .unwrap()
            .unwrap()
            .id,
        "u1"
    );
    drop(r);
    u1.email = "b@x.io".into();
    assert!(matches!(
        db.write(|w| w.update(&u1)),
        Err(Error::Unique { .. })
    ));
    let missing = user("nope", "n@x.io", None);
    assert!(matches!(
        db.write(|w| w.update(&missing)),
        Err(Error::NotFound { .. })
    ));
    assert_consistent(&db);
}

#[test]
fn nullable_unique_columns_allow_many_nulls() {
    let (_d, db) = open();
    db.write(|w| {
        w.insert(&user("u1", "a@x.io", None))?;
        w.insert(&user("u2", "b@x.io", None))
    })
    .unwrap();
    let mut u = user("u3", "c@x.io", None);
    u.api_key_hash = Some("h".into());
    db.write(|w| w.insert(&u)).unwrap();
    let mut dup = user("u4", "d@x.io", None);
    dup.api_key_hash = Some("h".into());
    assert!(matches!(
        db.write(|w| w.insert(&dup)),
        Err(Error::Unique { .. })
    ));
    assert_consistent(&db);
}

#[test]
fn cascades_and_set_null() {
    let (_d, db) = open();
    db.write(|w| {
        w.insert(&user("owner", "o@x.io", None))?;
        w.insert(&org("o1", "one", Some("owner")))?;
        w.insert(&user("m1", "m1@x.io", Some("o1")))?;
        w.insert(&OrgInvitation {
            id: "i1".into(),
            org_id: "o1".into(),
            email: "new@x.io".into(),
            token: "tok".into(),
            invited_by: Some("m1".into()),
            created_at: "2026-01-01".into(),
            ..Default::default()
        })?;
        let id = w.next_id::<OAuthProvider>()?;
        w.insert(&OAuthProvider {
            id,
            user_id: "m1".into(),
            provider: "github".into(),
            provider_user_id: "42".into(),
            ..Default::default()
        })
    })
    .unwrap();
    // Deleting a user: its OAuth link cascades, invitations lose the inviter.
    assert!(db.write(|w| w.delete::<User>("m1")).unwrap());
    let r = db.read().unwrap();
    assert_eq!(r.count::<OAuthProvider>().unwrap(), 0);
    assert_eq!(
        r.get::<OrgInvitation>("i1").unwrap().unwrap().invited_by,
        None
    );
    drop(r);
    // Deleting the owner: the organization stays, ownerless.
    db.write(|w| w.delete::<User>("owner")).unwrap();
    assert_eq!(
        db.read()
            .unwrap()
            .get::<Organization>("o1")
            .unwrap()
            .unwrap()
            .owner_id,
        None
    );
    // Deleting the organization: invitations cascade.
    db.write(|w| w.insert(&user("m2", "m2@x.io", Some("o1"))))
        .unwrap();
    db.write(|w| w.delete::<Organization>("o1")).unwrap();
    let r = db.read().unwrap();
    assert_eq!(r.count::<OrgInvitation>().unwrap(), 0);
    assert_eq!(r.get::<User>("m2").unwrap().unwrap().org_id, None);
    assert!(!db.write(|w| w.delete::<Organization>("o1")).unwrap());
    assert_consistent(&db);
}

#[test]
fn foreign_keys_can_be_disabled_for_imports() {
    let (_d, db) = open();
    db.write(|w| {
        w.set_foreign_keys(false)?;
        w.insert(&user("u1", "a@x.io", Some("gone")))
    })
    .unwrap();
    let problems = check::<User>(&db.read().unwrap()).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].what.contains("has no row in organizations"));
}

#[test]
fn bulk_insert_equals_single_inserts_and_checks_duplicates() {
    let (_d, db) = open();
    let rows: Vec<User> = (0..500)
        .rev()
        .map(|i| user(&format!("u{i:04}"), &format!("{i}@x.io"), None))
        .collect();
    db.write(|w| w.insert_many(&rows)).unwrap();
    assert_eq!(db.read().unwrap().count::<User>().unwrap(), 500);
    assert_consistent(&db);
    let dup = vec![user("n1", "dup@x.io", None), user("n2", "dup@x.io", None)];
    assert!(matches!(
        db.write(|w| w.insert_many(&dup)),
        Err(Error::Unique { .. })
    ));
    let clash = vec![user("n3", "7@x.io", None)];
    assert!(matches!(
        db.write(|w| w.insert_many(&clash)),
        Err(Error::Unique { .. })
    ));
    assert_eq!(db.read().unwrap().count::<User>().unwrap(), 500);
}

#[test]
fn scans_paginate_and_count() {
    use aragora_db::table::{KeyRange, Page};
    let (_d, db) = open();
    db.write(|w| {
        w.insert(&user("owner", "o@x.io", None))?;
        w.insert(&org("o1", "one", Some("owner")))?;
        for i in 0..25 {
            w.insert(&user(
                &format!("m{i:02}"),
                &format!("m{i}@x.io"),
                Some("o1"),
            ))?;
        }
        Ok(())
    })
    .unwrap();
    let r = db.read().unwrap();
    let page: Vec<User> = r
        .find(User::idx_users_org, "o1", Page::first(10).skip(10))
        .unwrap();
    let ids: Vec<_> = page.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        (10..20).map(|i| format!("m{i:02}")).collect::<Vec<_>>()
    );
    let last: Vec<User> = r
        .find(User::idx_users_org, "o1", Page::first(1).reversed())
        .unwrap();
    assert_eq!(last[0].id, "m24");
    assert_eq!(
        r.count_index(User::idx_users_org, KeyRange::prefix("o1"))
            .unwrap(),
        25
    );
    let range: Vec<User> = r
        .scan(
            KeyRange::between(
                std::ops::Bound::Included("m05"),
                std::ops::Bound::Excluded("m08"),
            ),
            Page::default(),
        )
        .unwrap();
    assert_eq!(range.len(), 3);
    // An unknown index name no longer compiles: indexes are typed handles.
}

#[test]
fn unknown_table_in_another_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Database::open_path(&dir.path().join("empty.redb"), vec![], &Default::default()).unwrap();
    let err = db.write(|w| w.insert(&user("u", "e", None))).unwrap_err();
    assert!(matches!(err, Error::Unknown { kind: "table", .. }), "{err}");
}

#[test]
fn registry_is_consistent() {
    assert_eq!(
        aragora_db::schema::registry_problems(),
        Vec::<String>::new()
    );
}

#[test]
fn covering_index_follows_updates_and_deletes() {
    use aragora_db::schema::users::AuditEntry;
    use aragora_db::table::{KeyRange, Page};
    let (_d, db) = open();
    let entry = |id: i64, ts: &str, meta: &str| AuditEntry {
        id,
        timestamp: ts.into(),
        action: "login".into(),
        metadata: Some(meta.into()),
        ..Default::default()
    };
    db.write(|w| {
        w.insert(&entry(1, "2026-01-01", "{}"))?;
        w.insert(&entry(2, "2026-01-02", "{}"))
    })
    .unwrap();
    // Same key, new content: the covering entry must carry the new row.
    db.write(|w| w.update(&entry(1, "2026-01-01", "{\"v\": 2}")))
        .unwrap();
    // New key: the entry moves.
    db.write(|w| w.update(&entry(2, "2026-01-09", "{}")))
        .unwrap();
    assert_consistent(&db);
    let r = db.read().unwrap();
    let rows: Vec<AuditEntry> = r
        .scan_index(
            AuditEntry::idx_audit_timestamp,
            KeyRange::all(),
            Page::default(),
        )
        .unwrap();
    assert_eq!(rows[0].metadata.as_deref(), Some("{\"v\": 2}"));
    assert_eq!(rows[1].timestamp, "2026-01-09");
    drop(r);
    db.write(|w| w.delete::<AuditEntry>(1i64)).unwrap();
    assert_consistent(&db);
    let r = db.read().unwrap();
    let rows: Vec<AuditEntry> = r
        .scan_index(
            AuditEntry::idx_audit_timestamp,
            KeyRange::all(),
            Page::default(),
        )
        .unwrap();
    assert_eq!(rows.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2]);
}
