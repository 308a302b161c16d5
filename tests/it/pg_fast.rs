//! PostgreSQL mode's round-trip savings keep their promises: statements
//! are prepared once per connection and stay correct when the server
//! forgets them (`DEALLOCATE ALL`), when the connection is replaced and
//! when the table changes; a read closure's statements share one snapshot
//! although `BEGIN` travels with the first of them; a read's deferred
//! `ROLLBACK` does not keep DDL waiting.

use crate::export_pg::{TempDb, available};
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::pg::Pool;
use aragora_db::schema::users::User;
use aragora_db::store::UserStore;
use aragora_db::table::Read;
use std::time::{Duration, Instant};

struct Fixture {
    tmp: TempDb,
    _dir: tempfile::TempDir,
    users: UserStore,
    db: Database,
    pool: Pool,
}

/// Stores configured for PostgreSQL in a database of the test's own, on a
/// pool of one connection (so every call uses the same one).
fn fixture(tag: &str) -> Fixture {
    let tmp = TempDb::new(tag);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", tmp.name);
    let data = dir.path().to_path_buf();
    let cfg = Config::from_lookup(move |k| match k {
        "ARAGORA_DATA_DIR" => Some(data.display().to_string()),
        "ARAGORA_DB_BACKEND" => Some("postgres".into()),
        "DATABASE_URL" => Some(url.clone()),
        "ARAGORA_DB_POOL_SIZE" => Some("1".into()),
        "ARAGORA_DB_POOL_MAX_OVERFLOW" => Some("0".into()),
        _ => None,
    })
    .unwrap();
    let users = UserStore::open(&cfg).unwrap();
    let db = users.db().clone();
    let pool = aragora_db::pg::pool_for(&cfg, DbTarget::Store(Store::Users))
        .unwrap()
        .unwrap();
    Fixture {
        tmp,
        _dir: dir,
        users,
        db,
        pool,
    }
}

fn admin(db: &str) -> postgres::Client {
    let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={db}");
    let mut c = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
    // DDL below must not wait for long on a pooled connection's locks.
    c.batch_execute("SET lock_timeout = '10s'").unwrap();
    c
}

/// The table API's prepared statements on the pool's one connection:
/// (statement text, times executed), sorted.
fn statements(pool: &Pool) -> Vec<(String, i64)> {
    let mut c = pool.get().unwrap();
    c.query(
        "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements \
         WHERE name LIKE 'aragora\\_%' ORDER BY statement",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn get(db: &Database, id: &str) -> Option<User> {
    db.read().unwrap().get(id).unwrap()
}

fn seed(f: &Fixture) {
    f.db.write(|w| {
        w.insert(&crate::common::user("u1", "one@x.io", None))?;
        w.insert(&crate::common::user("u2", "two@x.io", None))?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn pg_statements_are_prepared_once_per_connection() {
    if !available() {
        return;
    }
    let f = fixture("pgfast_once");
    seed(&f);
    for _ in 0..3 {
        assert_eq!(get(&f.db, "u1").unwrap().email, "one@x.io");
        assert!(f.users.get_user_by_email("two@x.io").unwrap().is_some());
    }
    let before = statements(&f.pool);
    assert!(!before.is_empty(), "nothing prepared");
    for _ in 0..5 {
        assert_eq!(get(&f.db, "u2").unwrap().email, "two@x.io");
    }
    let after = statements(&f.pool);
    // The same statements (none prepared again), each once.
    let texts = |v: &[(String, i64)]| v.iter().map(|s| s.0.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&before), texts(&after));
    let mut distinct = texts(&after);
    distinct.dedup();
    assert_eq!(distinct.len(), after.len(), "a statement prepared twice");
    // One of them (the lookup by primary key) ran five more times.
    let ran: Vec<i64> = before.iter().zip(&after).map(|(b, a)| a.1 - b.1).collect();
    assert!(ran.contains(&5), "executions per statement: {ran:?}");
    assert_eq!(ran.iter().sum::<i64>(), 5, "{ran:?}");
}

#[test]
fn pg_statement_cache_survives_forgetting_replacing_and_altering() {
    if !available() {
        return;
    }
    let f = fixture("pgfast_forget");
    seed(&f);
    assert_eq!(get(&f.db, "u1").unwrap().email, "one@x.io");
    assert!(!statements(&f.pool).is_empty());

    // The server forgets them (another user of the connection ran
    // DEALLOCATE ALL): reads and writes still work, prepared anew.
    f.pool
        .get()
        .unwrap()
        .batch_execute("DEALLOCATE ALL")
        .unwrap();
    assert_eq!(get(&f.db, "u1").unwrap().email, "one@x.io");
    f.db.write(|w| {
        w.insert(&crate::common::user("u3", "three@x.io", None))?;
        Ok(())
    })
    .unwrap();
    f.pool
        .get()
        .unwrap()
        .batch_execute("DEALLOCATE ALL")
        .unwrap();
    f.db.write(|w| {
        w.insert(&crate::common::user("u4", "four@x.io", None))?;
        Ok(())
    })
    .unwrap();
    assert_eq!(get(&f.db, "u4").unwrap().email, "four@x.io");
    assert!(!statements(&f.pool).is_empty());

    // The connection killed: a new one, with statements of its own.
    let mut admin = admin(&f.tmp.name);
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'aragora-db'",
            &[&f.tmp.name],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1);
    assert_eq!(get(&f.db, "u3").unwrap().email, "three@x.io");
    assert!(!statements(&f.pool).is_empty());

    // The table altered under the cached statements (a column's type, a
    // new column): they are planned again and read the new state. The
    // ALTER waits for no deferred ROLLBACK for long.
    let started = Instant::now();
    admin
        .batch_execute(
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(300); \
             ALTER TABLE users ADD COLUMN extra_col text; \
             UPDATE users SET name = 'Renamed' WHERE id = 'u1'",
        )
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(get(&f.db, "u1").unwrap().name.as_deref(), Some("Renamed"));
    let u = f
        .users
        .modify_user("u1", |u| u.name = Some("Again".into()))
        .unwrap();
    assert_eq!(u.name.as_deref(), Some("Again"));
    assert_eq!(get(&f.db, "u1").unwrap().name.as_deref(), Some("Again"));
}

/// `BEGIN` travels with a read's first statement and its `ROLLBACK` is
/// deferred, yet every statement of one read sees one snapshot: a commit
/// by another connection between two of them is not seen by the second.
#[test]
fn pg_read_closure_sees_one_snapshot_across_statements() {
    if !available() {
        return;
    }
    let f = fixture("pgfast_snapshot");
    seed(&f);
    let mut admin = admin(&f.tmp.name);
    for round in 0..3 {
        let r = f.db.read().unwrap();
        let a: User = r.get("u1").unwrap().unwrap();
        let n = format!("Changed {round}");
        let changed = admin
            .execute("UPDATE users SET name = $1 WHERE id = 'u1'", &[&n])
            .unwrap();
        assert_eq!(changed, 1);
        admin
            .execute("DELETE FROM users WHERE id = 'u2'", &[])
            .unwrap();
        let b: User = r.get("u1").unwrap().unwrap();
        assert_eq!(a.name, b.name, "a second statement saw a later commit");
        if round == 0 {
            assert!(
                r.get::<User>("u2").unwrap().is_some(),
                "a deleted row vanished from the snapshot"
            );
        }
        drop(r);
        // A new read sees the commit.
        assert_eq!(get(&f.db, "u1").unwrap().name, Some(n));
    }
}

/// A read's deferred `ROLLBACK` is sent by the pool's sweeper when no
/// one else uses the connection: the finished read does not stay "idle in
/// transaction" (holding its snapshot and its tables' locks, which make
/// DDL wait) for more than a moment.
#[test]
fn pg_deferred_rollback_is_sent_soon_by_the_pool() {
    if !available() {
        return;
    }
    let f = fixture("pgfast_sweep");
    seed(&f);
    let mut admin = admin(&f.tmp.name);
    let idle_in_tx = |admin: &mut postgres::Client| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                 AND application_name = 'aragora-db' AND state <> 'idle'",
                &[&f.tmp.name],
            )
            .unwrap()
            .get(0)
    };
    for _ in 0..3 {
        assert!(get(&f.db, "u1").is_some());
        let started = Instant::now();
        while idle_in_tx(&mut admin) > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "a finished read stays inside its transaction"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // DDL on the table the reads used does not wait for them.
    assert!(get(&f.db, "u2").is_some());
    let started = Instant::now();
    admin
        .batch_execute("ALTER TABLE users ADD COLUMN swept text")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(get(&f.db, "u2").is_some());
}
