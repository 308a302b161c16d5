//! The stores on the PostgreSQL backend (smoke test of the table API on PostgreSQL).

use crate::export_pg::{TempDb, available};
use aragora_db::Error;
use aragora_db::db::pg::{Connect, PgClient};
use aragora_db::db::{Database, OpenOptions};
use aragora_db::schema::users::User;
use aragora_db::store::{OrganizationStore, UserStore};
use aragora_db::table::{Page, Read, Value};

fn connect(db: &str) -> Connect {
    let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={db}");
    Box::new(move || {
        let c = postgres::Client::connect(&dsn, postgres::NoTls).map_err(|e| Error::Postgres {
            target: "127.0.0.1:5432".into(),
            context: "connect".into(),
            source: e,
        })?;
        Ok(PgClient(Box::new(Box::new(c))))
    })
}

/// Every declared table in the test's own database (created on open).
fn open(tmp: &TempDb) -> Database {
    Database::open_postgres(
        &format!("postgresql://postgres@127.0.0.1/{}", tmp.name),
        connect(&tmp.name),
        aragora_db::schema::ALL_TABLES.to_vec(),
        &OpenOptions::default(),
    )
    .unwrap()
}

#[test]
fn user_store_runs_on_postgres() {
    if !available() {
        return;
    }
    let tmp = TempDb::new("pgstore");
    let (_d, cfg) = crate::common::data_dir();
    let db = open(&tmp);
    let users = UserStore::from_db(db.clone(), &cfg);
    let orgs = OrganizationStore::from_db(db.clone());
    let ada = users
        .create_user("ada@x.io", "bcrypt:h", "", "Ada", None, "member")
        .unwrap();
    assert_eq!(
        users.get_user_by_id(&ada.id).unwrap().unwrap().email,
        "ada@x.io"
    );
    assert_eq!(
        users.get_user_by_email("ada@x.io").unwrap().unwrap().id,
        ada.id
    );
    assert!(matches!(
        users.create_user("ada@x.io", "h", "", "Dup", None, "member"),
        Err(Error::Unique { .. })
    ));
    let org = orgs
        .create_organization("Analytical Engines", &ada.id, None, "free")
        .unwrap();
    let bob = users
        .create_user("bob@x.io", "h", "", "Bob", Some(&org.id), "member")
        .unwrap();
    let members = users.list_users_by_org(&org.id, Page::default()).unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(members.iter().any(|u| u.id == bob.id));
}

#[test]
#[ignore]
fn print_schema() {
    for s in aragora_db::pg::schema::steps().unwrap() {
        println!("{s}");
    }
}

/// A failed write leaves the transaction as it was, whether it is the
/// first statement of the transaction (no savepoint: the empty transaction
/// is rolled back and begun anew) or follows other writes (savepoints
/// released lazily); later writes in the same transaction commit.
#[test]
fn failed_writes_leave_the_transaction_usable() {
    if !available() {
        return;
    }
    let tmp = TempDb::new("pgfail");
    let db = open(&tmp);
    let u = crate::common::user;
    db.write(|w| w.insert(&u("a", "a@x.io", None))).unwrap();
    db.write(|w| {
        // First statement of the transaction, fails.
        assert!(matches!(
            w.insert(&u("dup1", "a@x.io", None)),
            Err(Error::Unique { .. })
        ));
        w.insert(&u("b", "b@x.io", None))?;
        w.insert(&u("c", "c@x.io", None))?;
        // After successful writes, fails: b and c stay.
        assert!(matches!(
            w.insert(&u("dup2", "b@x.io", None)),
            Err(Error::Unique { .. })
        ));
        // A read, then a failing update, then more writes.
        let mut c = w.get::<aragora_db::schema::users::User>("c")?.expect("c");
        c.email = "a@x.io".into();
        assert!(matches!(w.update(&c), Err(Error::Unique { .. })));
        assert!(matches!(
            w.insert(&u("dup3", "c@x.io", None)),
            Err(Error::Unique { .. })
        ));
        w.insert(&u("d", "d@x.io", None))?;
        Ok(())
    })
    .unwrap();
    let r = db.read().unwrap();
    let got = |id: &str| {
        r.get::<aragora_db::schema::users::User>(id)
            .unwrap()
            .map(|u| u.email)
    };
    assert_eq!(got("a").as_deref(), Some("a@x.io"));
    assert_eq!(got("b").as_deref(), Some("b@x.io"));
    assert_eq!(got("c").as_deref(), Some("c@x.io"));
    assert_eq!(got("d").as_deref(), Some("d@x.io"));
    for id in ["dup1", "dup2", "dup3"] {
        assert_eq!(got(id), None, "{id}");
    }
    // A transaction whose only write fails commits nothing, and the next works.
    assert!(matches!(
        db.write(|w| w.insert(&u("e", "a@x.io", None))),
        Err(Error::Unique { .. })
    ));
    db.write(|w| w.insert(&u("e", "e@x.io", None))).unwrap();
}

/// A row's columns beyond its declaration (what the importer keeps from
/// other versions of the original) are kept on PostgreSQL too, in the
/// table's `_extra` jsonb column, every value exactly: reals `jsonb` would
/// print as integers, -0.0, NaN, blobs, text with U+0000, a key with
/// U+0000. An update replaces them; none is NULL.
#[test]
fn undeclared_columns_are_kept_exactly() {
    if !available() {
        return;
    }
    let tmp = TempDb::new("pgextra");
    let db = open(&tmp);
    let u = crate::common::user;
    let mut x = u("x", "x@x.io", None);
    for (k, v) in [
        ("legacy_flag", Value::Text("kept".into())),
        ("big_real", Value::Real(1e18)),
        ("neg_zero", Value::Real(-0.0)),
        ("nan", Value::Real(f64::NAN)),
        ("inf", Value::Real(f64::INFINITY)),
        ("half", Value::Real(0.5)),
        ("int", Value::Integer(i64::MIN)),
        ("none", Value::Null),
        ("blob", Value::Blob(vec![0, 0xff, 7])),
        ("nul_text", Value::Text("a\0b".into())),
        ("key\0nul", Value::Integer(1)),
    ] {
        x.extra.insert(k.into(), v);
    }
    db.write(|w| {
        w.insert(&x)?;
        w.insert(&u("y", "y@x.io", None))
    })
    .unwrap();
    let same = |a: &Value, b: &Value| match (a, b) {
        (Value::Real(p), Value::Real(q)) => {
            p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())
        }
        _ => a == b,
    };
    let got = db.read().unwrap().get::<User>("x").unwrap().unwrap();
    assert_eq!(got.extra.len(), x.extra.len(), "{:?}", got.extra);
    for (k, v) in &x.extra {
        assert!(
            same(v, &got.extra[k]),
            "{k}: {v:?} came back {:?}",
            got.extra[k]
        );
    }
    assert!(
        db.read()
            .unwrap()
            .get::<User>("y")
            .unwrap()
            .unwrap()
            .extra
            .is_empty()
    );
    assert_eq!(
        tmp.scalar("SELECT _extra IS NULL FROM users WHERE id = 'y'"),
        "t"
    );
    // An update replaces them.
    let mut y = got;
    y.extra.clear();
    y.extra.insert("only".into(), Value::Integer(2));
    db.write(|w| w.update(&y)).unwrap();
    let got = db.read().unwrap().get::<User>("x").unwrap().unwrap();
    assert_eq!(got.extra.len(), 1);
    assert_eq!(got.extra["only"], Value::Integer(2));
}

/// A database made before `_extra` joined the schema gets it on open.
#[test]
fn an_older_schema_gains_the_undeclared_columns_column() {
    if !available() {
        return;
    }
    let tmp = TempDb::new("pgextraold");
    drop(open(&tmp));
    tmp.load("ALTER TABLE users DROP COLUMN _extra; ALTER TABLE organizations DROP COLUMN _extra;");
    let db = open(&tmp);
    let mut x = crate::common::user("x", "x@x.io", None);
    x.extra.insert("k".into(), Value::Integer(1));
    db.write(|w| w.insert(&x)).unwrap();
    assert_eq!(tmp.scalar("SELECT _extra::text FROM users"), r#"{"k": 1}"#);
    assert_eq!(
        tmp.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'organizations' AND column_name = '_extra'"),
        "1"
    );
}
