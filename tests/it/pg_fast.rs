//! PostgreSQL mode's round-trip savings keep their promises: statements
//! are prepared once per connection and stay correct when the server
//! forgets them (`DEALLOCATE ALL`), when the connection is replaced and
//! when the table changes; a read closure's statements share one snapshot
//! although `BEGIN` travels with the first of them; a read's deferred
//! `ROLLBACK` does not keep DDL waiting.

use crate::export_pg::{TempDb, available};
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::db::OpenOptions;
use aragora_db::db::pg::{Connect, PgClient};
use aragora_db::pg::Pool;
use aragora_db::pg::cache::StmtCache;
use aragora_db::pg::rows::Connection;
use aragora_db::schema::users::{Organization, User};
use aragora_db::store::UserStore;
use aragora_db::table::{Page, Read};
use std::sync::Arc;
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

fn admin_client(db: &str) -> postgres::Client {
    let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={db}");
    postgres::Client::connect(&dsn, postgres::NoTls).unwrap()
}

fn admin(db: &str) -> postgres::Client {
    let mut c = admin_client(db);
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

// ---- One-statement reads (`Database::read_op`) ---------------------------

/// One connection lent to one read or transaction at a time and given back
/// to its slot, which the test can inspect between calls (no pool, no
/// sweeper: a deferred `ROLLBACK` waits for the next user).
struct Kept {
    client: postgres::Client,
    statements: StmtCache,
    /// A read's `ROLLBACK` is deferred to the next user.
    rollback: bool,
}

type Slot = Arc<parking_lot::Mutex<Option<Kept>>>;

struct Lent(Slot, Option<Kept>);

impl Lent {
    fn kept(&mut self) -> &mut Kept {
        self.1.as_mut().unwrap()
    }
}

impl std::ops::Deref for Lent {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self.1.as_ref().unwrap().client
    }
}

impl std::ops::DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.kept().client
    }
}

impl Connection for Lent {
    fn split(&mut self) -> (&mut postgres::Client, Option<&mut StmtCache>) {
        let k = self.kept();
        (&mut k.client, Some(&mut k.statements))
    }

    fn take_rollback(&mut self) -> bool {
        std::mem::take(&mut self.kept().rollback)
    }

    fn defer_rollback(&mut self) -> bool {
        self.kept().rollback = true;
        true
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        *self.0.lock() = self.1.take();
    }
}

struct OneConn {
    tmp: TempDb,
    _dir: tempfile::TempDir,
    slot: Slot,
    db: Database,
    users: UserStore,
}

impl OneConn {
    /// Whether the connection was left inside a read's transaction.
    fn rollback_pending(&self) -> bool {
        self.slot.lock().as_ref().unwrap().rollback
    }

    /// Runs `sql` on the connection itself (no rollback sent first).
    fn on_conn(&self, sql: &str) {
        let mut s = self.slot.lock();
        s.as_mut().unwrap().client.batch_execute(sql).unwrap();
    }
}

/// The users store on one connection of its own, seeded with u1, u2 (of
/// organization o1) and o1.
fn one_conn(tag: &str) -> OneConn {
    let tmp = TempDb::new(tag);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", tmp.name);
    let client = postgres::Client::connect(
        &format!("host=127.0.0.1 port=5432 user=postgres dbname={}", tmp.name),
        postgres::NoTls,
    )
    .unwrap();
    let slot: Slot = Arc::new(parking_lot::Mutex::new(Some(Kept {
        client,
        statements: StmtCache::default(),
        rollback: false,
    })));
    let s = slot.clone();
    let connect: Connect = Box::new(move || {
        let k = s.lock().take().expect("one transaction at a time");
        Ok(PgClient(Box::new(Lent(s.clone(), Some(k)))))
    });
    let db = Database::open_postgres(
        &url,
        connect,
        aragora_db::schema::ALL_TABLES.to_vec(),
        &OpenOptions::default(),
    )
    .unwrap();
    let users = UserStore::from_db(db.clone(), &Config::for_dir(dir.path()));
    db.write(|w| {
        w.insert(&crate::common::user("u1", "one@x.io", None))?;
        w.insert(&crate::common::org("o1", "o1", Some("u1")))?;
        w.insert(&crate::common::user("u2", "two@x.io", Some("o1")))?;
        Ok(())
    })
    .unwrap();
    OneConn {
        tmp,
        _dir: dir,
        slot,
        db,
        users,
    }
}

/// A read operation of one statement runs outside any transaction (no
/// `BEGIN`, nothing left to roll back) and returns what a snapshot read
/// returns.
#[test]
fn pg_one_statement_read_op_needs_no_transaction() {
    if !available() {
        return;
    }
    let f = one_conn("pgfast_single");
    let r = f.db.read().unwrap();
    let want1: User = r.get("u1").unwrap().unwrap();
    drop(r);
    // A snapshot read does leave its transaction for the next user.
    assert!(f.rollback_pending());
    let r = f.db.read().unwrap();
    let want2: User = r.get("u2").unwrap().unwrap();
    let in_org: Vec<User> = r.find(User::idx_users_org, "o1", Page::first(10)).unwrap();
    let count = r.count::<User>().unwrap();
    drop(r);
    assert!(f.rollback_pending());
    for _ in 0..2 {
        assert_eq!(f.users.get_user_by_id("u1").unwrap().as_ref(), Some(&want1));
        assert!(
            !f.rollback_pending(),
            "a one-statement read left a transaction"
        );
        assert_eq!(
            f.users.get_user_by_email("two@x.io").unwrap().as_ref(),
            Some(&want2)
        );
        assert!(!f.rollback_pending());
        assert_eq!(
            f.users.list_users_by_org("o1", Page::first(10)).unwrap(),
            in_org
        );
        assert!(!f.rollback_pending());
        assert_eq!(f.users.count_users().unwrap(), count);
        assert!(!f.rollback_pending());
        assert_eq!(f.users.get_user_by_id("nobody").unwrap(), None);
        assert!(!f.rollback_pending());
    }
}

/// A read operation of several statements sees one snapshot: the first
/// time (its one-statement run is stopped at the second statement and it
/// runs again in a snapshot) and once that is learned (it starts in one).
#[test]
fn pg_read_op_of_several_statements_sees_one_snapshot() {
    if !available() {
        return;
    }
    let f = one_conn("pgfast_multi");
    let admin = std::cell::RefCell::new(admin(&f.tmp.name));
    let runs = std::cell::Cell::new(0);
    let round = std::cell::Cell::new(0);
    let read = || {
        f.db.read_op("test.several", String::new, |r| {
            runs.set(runs.get() + 1);
            let a: User = r.get("u1")?.unwrap();
            // Committed by another connection between two statements.
            round.set(round.get() + 1);
            let n = format!("Changed {}", round.get());
            let mut admin = admin.borrow_mut();
            admin
                .execute("UPDATE users SET name = $1 WHERE id = 'u1'", &[&n])
                .unwrap();
            let gone: String = admin
                .query_one(
                    "DELETE FROM users WHERE id = \
                     (SELECT min(id) FROM users WHERE id LIKE 'v%') RETURNING id",
                    &[],
                )
                .unwrap()
                .get(0);
            let b: Option<User> = r.get("u1")?;
            let still: Option<User> = r.get(gone.as_str())?;
            Ok((a.name, b.and_then(|b| b.name), still.is_some(), n))
        })
        .unwrap()
    };
    f.db.write(|w| {
        for i in 0..4 {
            w.insert(&crate::common::user(
                &format!("v{i}"),
                &format!("v{i}@x.io"),
                None,
            ))?;
        }
        Ok(())
    })
    .unwrap();
    // Once to learn, once learned.
    for (call, want_runs) in [(0, 2), (1, 1)] {
        runs.set(0);
        let (a, b, still, n) = read();
        assert_eq!(runs.get(), want_runs, "call {call}: runs of the closure");
        assert_eq!(a, b, "call {call}: a second statement saw a later commit");
        assert_ne!(a.as_deref(), Some(n.as_str()));
        assert!(
            still,
            "call {call}: a deleted row vanished from the snapshot"
        );
        // A new read sees the commit.
        assert_eq!(f.users.get_user_by_id("u1").unwrap().unwrap().name, Some(n));
    }
}

/// A one-statement read on a connection whose previous user left a read
/// transaction open, or aborted (a failed statement), or whose statements
/// the server forgot, or after a failed write, runs outside that
/// transaction and sees what is committed.
#[test]
fn pg_one_statement_read_after_open_aborted_or_failed_transactions() {
    if !available() {
        return;
    }
    let f = one_conn("pgfast_after");
    let mut admin = admin(&f.tmp.name);
    assert_eq!(f.users.get_user_by_id("u1").unwrap().unwrap().name, None);

    // A snapshot left open (its ROLLBACK deferred); a commit after it.
    let r = f.db.read().unwrap();
    assert!(r.get::<User>("u1").unwrap().is_some());
    drop(r);
    assert!(f.rollback_pending());
    admin
        .execute("UPDATE users SET name = 'After' WHERE id = 'u1'", &[])
        .unwrap();
    let u = f.users.get_user_by_id("u1").unwrap().unwrap();
    assert_eq!(
        u.name.as_deref(),
        Some("After"),
        "read inside the old snapshot"
    );
    assert!(!f.rollback_pending());

    // A snapshot aborted by a failed statement (a lock timeout), left
    // for the next user to roll back.
    f.on_conn("SET lock_timeout = '100ms'");
    let mut locker = admin_client(&f.tmp.name);
    let mut tx = locker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let r = f.db.read().unwrap();
    assert!(r.get::<User>("u1").unwrap().is_some());
    let e = r.get::<Organization>("o1").unwrap_err();
    assert!(e.to_string().contains("lock timeout"), "{e}");
    drop(r);
    assert!(f.rollback_pending());
    admin
        .execute("UPDATE users SET name = 'Aborted' WHERE id = 'u1'", &[])
        .unwrap();
    let u = f.users.get_user_by_id("u1").unwrap().unwrap();
    assert_eq!(u.name.as_deref(), Some("Aborted"));

    // A one-statement read that fails: its error, and the next one works.
    let e =
        f.db.read_op("test.org", String::new, |r| r.get::<Organization>("o1"))
            .unwrap_err();
    assert!(e.to_string().contains("lock timeout"), "{e}");
    assert!(!f.rollback_pending());
    assert!(f.users.get_user_by_email("one@x.io").unwrap().is_some());
    tx.rollback().unwrap();
    let o: Option<Organization> =
        f.db.read_op("test.org", String::new, |r| r.get("o1"))
            .unwrap();
    assert_eq!(o.unwrap().slug, "o1");

    // The server forgot the connection's statements.
    f.on_conn("DEALLOCATE ALL");
    assert!(f.users.get_user_by_id("u1").unwrap().is_some());
    assert!(f.users.get_user_by_email("two@x.io").unwrap().is_some());

    // A failed write (UNIQUE), then reads.
    let e = f
        .users
        .create_user("one@x.io", "bcrypt:x", "", "Dup", None, "member")
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("unique"), "{e}");
    assert_eq!(
        f.users
            .get_user_by_id("u1")
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("Aborted")
    );
    assert!(!f.rollback_pending());
}
