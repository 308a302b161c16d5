//! `aragora-db export --to DSN`: an embedded store moved into a live
//! PostgreSQL database (docs/POSTGRES.md, "Moving a store to PostgreSQL").
//! Each test has a database of its own; without a server they skip (fail
//! under CI=true).

use crate::common::{cli_env, data_dir, org, user};
use crate::export_pg::{TempDb, available};
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::db::Database;
use aragora_db::schema::users::{OrgInvitation, UsageEvent, User};
use aragora_db::table::{Read, Value};
use std::process::Output;

fn url(db: &TempDb) -> String {
    format!("postgresql://postgres@127.0.0.1:5432/{}", db.name)
}

/// `export --to` from the embedded store of `cfg` (its data directory).
fn move_to(cfg: &Config, db: &TempDb, extra: &[&str]) -> Output {
    let dsn = url(db);
    let mut args = vec!["export", "--to", dsn.as_str()];
    args.extend_from_slice(extra);
    cli_env(
        &args,
        &[("ARAGORA_DATA_DIR", cfg.data_dir.to_str().unwrap())],
    )
}

fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout {}\nstderr {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn users_db(cfg: &Config) -> Database {
    Database::open(cfg, DbTarget::Store(Store::Users)).unwrap()
}

fn event(id: i64, org: &str, metadata: &str, at: &str) -> UsageEvent {
    UsageEvent {
        id,
        org_id: org.into(),
        event_type: "debate".into(),
        count: Some(1),
        metadata: Some(metadata.into()),
        timestamp: at.into(),
        ..UsageEvent::default()
    }
}

/// Users, an organization, usage events (AUTOINCREMENT, a jsonb column, a
/// timestamp spelled with a space) and an invitation whose organization
/// does not exist (the original never enforced its foreign keys).
fn embedded_store() -> (tempfile::TempDir, Config) {
    let (dir, cfg) = data_dir();
    let db = users_db(&cfg);
    db.write(|w| {
        w.insert(&org("o1", "one", None))?;
        w.insert(&user("a", "a@x.io", Some("o1")))?;
        w.insert(&user("b", "b@x.io", None))?;
        w.insert(&event(
            7,
            "o1",
            r#"{"b": 1,  "a": [1, 2]}"#,
            "2026-01-02 03:04:05",
        ))?;
        w.insert(&event(9, "o1", "{}", "2026-01-02T03:04:06+00:00"))?;
        w.set_foreign_keys(false)?;
        w.insert(&OrgInvitation {
            id: "inv".into(),
            org_id: "gone".into(),
            email: "c@x.io".into(),
            token: "t".into(),
            created_at: "2026-01-01T00:00:00+00:00".into(),
            ..OrgInvitation::default()
        })
    })
    .unwrap();
    (dir, cfg)
}

fn pg(db: &TempDb) -> Database {
    aragora_db::db::pg::open_dsn(&Config::for_dir(std::env::temp_dir()), "--to", &url(db)).unwrap()
}

#[test]
fn a_store_moves_with_every_row_and_again_without_duplicates() {
    if !available() {
        return;
    }
    let (_d, cfg) = embedded_store();
    let tmp = TempDb::new("pgmove");
    let o = move_to(&cfg, &tmp, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("moved 6 row(s)"), "{err}");
    assert!(
        err.contains("foreign key added NOT VALID: org_invitations."),
        "{err}"
    );
    let db = pg(&tmp);
    let r = db.read().unwrap();
    assert_eq!(r.get::<User>("a").unwrap().unwrap().email, "a@x.io");
    let e = r.get::<UsageEvent>(7i64).unwrap().unwrap();
    // The same instant and JSON value, in PostgreSQL's form.
    assert_eq!(e.timestamp, "2026-01-02T03:04:05+00:00");
    let meta: serde_json::Value = serde_json::from_str(e.metadata.as_deref().unwrap()).unwrap();
    assert_eq!(meta, serde_json::json!({"a": [1, 2], "b": 1}));
    assert_eq!(
        r.get::<OrgInvitation>("inv").unwrap().unwrap().org_id,
        "gone"
    );
    drop(r);
    // The sequence follows the source: the next id is past 9.
    let next = db.write(|w| w.next_id::<UsageEvent>()).unwrap();
    assert!(next > 9, "{next}");
    assert_eq!(
        tmp.scalar(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'org_invitations_org_id_fkey'"
        ),
        "f"
    );
    // The other foreign keys stay validated.
    assert_eq!(
        tmp.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"),
        "1"
    );
    // `verify` on the server: the key added NOT VALID is an inherited
    // warning, not a problem (the original left the reference dangling).
    let o = cli_env(
        &["verify", "--show-inherited"],
        &[
            ("ARAGORA_DATA_DIR", cfg.data_dir.to_str().unwrap()),
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("ARAGORA_POSTGRES_DSN", &url(&tmp)),
        ],
    );
    assert!(o.status.success(), "{}", describe(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("0 problems") && said.contains("org_invitations_org_id_fkey"),
        "{said}"
    );
    // Run again: everything is already there (and --json says so).
    let o = cli_env(
        &["--json", "export", "--to", &url(&tmp)],
        &[("ARAGORA_DATA_DIR", cfg.data_dir.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let tables = v["move"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 4, "{v}");
    assert!(
        tables
            .iter()
            .all(|t| t["copied"] == 0 && t["already_present"] == t["read"]),
        "{v}"
    );
    assert_eq!(tmp.scalar("SELECT count(*) FROM users"), "2");
}

#[test]
fn a_dry_run_checks_and_writes_nothing() {
    if !available() {
        return;
    }
    let (_d, cfg) = embedded_store();
    let tmp = TempDb::new("pgmovedry");
    let o = move_to(&cfg, &tmp, &["--dry-run"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("checked 6 row(s)"),
        "{}",
        describe(&o)
    );
    assert_eq!(tmp.scalar("SELECT to_regclass('users') IS NULL"), "t");
}

#[test]
fn a_conflict_rolls_the_whole_move_back() {
    if !available() {
        return;
    }
    let (_d, cfg) = embedded_store();
    let tmp = TempDb::new("pgmoveconflict");
    let db = pg(&tmp);
    // b's key with other values; z holds a's email (a unique value).
    db.write(|w| {
        w.insert(&user("b", "other@x.io", None))?;
        w.insert(&user("z", "a@x.io", None))
    })
    .unwrap();
    let o = move_to(&cfg, &tmp, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 conflict(s) with rows PostgreSQL already holds; nothing was written")
            && err.contains("users \"b\": PostgreSQL holds a row with this key and other values")
            && err.contains("users \"a\": another row holds one of its unique values"),
        "{err}"
    );
    // Nothing of the move: not the organization, not user a.
    assert_eq!(tmp.scalar("SELECT count(*) FROM organizations"), "0");
    assert_eq!(
        tmp.scalar("SELECT string_agg(id, ',' ORDER BY id) FROM users"),
        "b,z"
    );
    // The foreign key dropped for the load is back, validated.
    assert_eq!(
        tmp.scalar(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'org_invitations_org_id_fkey'"
        ),
        "t"
    );
}

#[test]
fn rows_postgres_cannot_hold_are_refused_before_anything_is_written() {
    if !available() {
        return;
    }
    let (_d, cfg) = embedded_store();
    let db = users_db(&cfg);
    db.write(|w| {
        w.insert(&user("nul", "nul\0@x.io", None))?;
        let mut n = user("nul2", "x@x.io", None);
        n.name = Some("N\0".into());
        w.insert(&n)
    })
    .unwrap();
    drop(db);
    let tmp = TempDb::new("pgmoverefuse");
    let o = move_to(&cfg, &tmp, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "2 problem(s) in rows PostgreSQL cannot hold as they are; nothing was written"
        ) && err.contains("users \"nul\": PostgreSQL column users.email")
            && err.contains("users \"nul2\": PostgreSQL column users.name"),
        "{err}"
    );
    // Refused before connecting: not even the schema was created.
    assert_eq!(tmp.scalar("SELECT to_regclass('users') IS NULL"), "t");
}

#[test]
fn undeclared_columns_move_with_their_rows() {
    if !available() {
        return;
    }
    let (_d, cfg) = embedded_store();
    let db = users_db(&cfg);
    db.write(|w| {
        let mut x = user("x", "x@x.io", None);
        x.extra
            .insert("legacy_flag".into(), Value::Blob(vec![0xde, 0xad]));
        x.extra.insert("score".into(), Value::Real(1e18));
        w.insert(&x)
    })
    .unwrap();
    drop(db);
    let tmp = TempDb::new("pgmoveextra");
    let o = move_to(&cfg, &tmp, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let got = pg(&tmp).read().unwrap().get::<User>("x").unwrap().unwrap();
    assert_eq!(got.extra["legacy_flag"], Value::Blob(vec![0xde, 0xad]));
    assert_eq!(got.extra["score"], Value::Real(1e18));
    // Again: the same row with the same undeclared columns is present.
    let o = move_to(&cfg, &tmp, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("moved 0 row(s)"));
}

#[test]
fn a_bad_connection_string_names_the_flag() {
    let (_d, cfg) = data_dir();
    let o = cli_env(
        &["export", "--to", "postgresql://u:secret@[bad"],
        &[("ARAGORA_DATA_DIR", cfg.data_dir.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--to"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// Text COPY escapes (tab, newline, carriage return, backslash), the two
/// characters `\N` that COPY reads as NULL when unescaped, an empty string
/// beside a NULL, and JSON with escapes: the move's exact read-back
/// (which fails the command on any difference) and a direct look agree.
#[test]
fn awkward_text_moves_exactly() {
    if !available() {
        return;
    }
    let (_d, cfg) = data_dir();
    let names = [
        "tab\there",
        "line\nbreak",
        "cr\rlf\r\n",
        "back\\slash\\",
        "\\N",
        "\\\\N",
        "",
        "ünïcødé ✓ 日本",
    ];
    users_db(&cfg)
        .write(|w| {
            for (i, n) in names.iter().enumerate() {
                let mut u = user(&format!("u{i}"), &format!("u{i}@x.io"), None);
                u.name = Some(n.to_string());
                u.avatar_url = None;
                u.preferences = Some(r#"{"q": "a\"b\\c\td", "n": null}"#.into());
                w.insert(&u)?;
            }
            Ok(())
        })
        .unwrap();
    let tmp = TempDb::new("pgmoveescape");
    let o = move_to(&cfg, &tmp, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let db = pg(&tmp);
    let r = db.read().unwrap();
    for (i, n) in names.iter().enumerate() {
        let u = r.get::<User>(format!("u{i}").as_str()).unwrap().unwrap();
        assert_eq!(u.name.as_deref(), Some(*n), "u{i}");
        assert_eq!(u.avatar_url, None, "u{i}: NULL stays NULL");
    }
    // A second run finds every row already there, equal.
    let o = move_to(&cfg, &tmp, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("moved 0 row(s)"));
}

/// Verification reads the moved rows back a batch of keys per statement
/// (4,096), so its memory holds one batch however large the table: every
/// row of a table larger than a batch is verified, the last partial batch
/// included, and `rows_of` finds the batch's rows on the server (absent
/// keys skipped).
#[test]
fn a_table_larger_than_a_verify_batch_is_verified_row_by_row() {
    if !available() {
        assert!(!crate::common::ci(), "CI needs PostgreSQL");
        return;
    }
    let (_d, cfg) = data_dir();
    let db = users_db(&cfg);
    let n = 4_100i64;
    db.write(|w| {
        w.insert(&org("o1", "one", None))?;
        for i in 1..=n {
            w.insert(&event(i, "o1", "{}", "2026-01-02 03:04:05"))?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let tmp = TempDb::new("pgverify");
    let o = cli_env(
        &["--json", "export", "--to", &url(&tmp)],
        &[("ARAGORA_DATA_DIR", cfg.data_dir.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let events = v["move"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "usage_events")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(events["read"], n, "{v}");
    assert_eq!(events["verified"], n, "{v}");

    let server = pg(&tmp);
    let r = server.read().unwrap();
    let keys: Vec<Vec<u8>> = [1i64, 4_100, 99_999]
        .iter()
        .map(|&i| aragora_db::table::keys::encode([aragora_db::table::ValueRef::Integer(i)]))
        .collect();
    let pks: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let mut found = Vec::new();
    r.source()
        .rows_of(
            <UsageEvent as aragora_db::table::Row>::DEF,
            &pks,
            &mut |pk, _| {
                found.push(aragora_db::table::keys::render(pk));
                Ok(true)
            },
        )
        .unwrap();
    found.sort();
    assert_eq!(found, ["1", "4100"]);
}
