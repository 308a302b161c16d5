//! PostgreSQL mode under faults: every fault ends in a clear error or a
//! safe retry, and the database holds a whole transaction or none of it.
//!
//! The server is shared by every test running in parallel, so it is never
//! restarted: a server going away is simulated by a TCP proxy of the test's
//! own (between the client and 127.0.0.1:5432) that cuts its connections,
//! refuses new ones, or cuts a connection exactly at `COMMIT`. Backends are
//! killed with `pg_terminate_backend`, only those of the test's database.

use crate::export_pg::{TempDb, available};
use aragora_db::config::Config;
use aragora_db::schema::users::{Organization, User};
use aragora_db::store::{OrganizationStore, UserStore};
use aragora_db::table::Read;
use aragora_db::{Database, Error};
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path, url: &str, extra: &[(&str, &str)]) -> Config {
    let dir = dir.to_path_buf();
    let url = url.to_string();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(move |k| match k {
        "ARAGORA_DATA_DIR" => Some(dir.display().to_string()),
        "ARAGORA_DB_BACKEND" => Some("postgres".into()),
        "DATABASE_URL" => Some(url.clone()),
        _ => extra.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
    })
    .unwrap()
}

/// A direct connection for the test's own checks and kills.
fn admin(db: &str) -> postgres::Client {
    let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={db}");
    postgres::Client::connect(&dsn, postgres::NoTls).unwrap()
}

/// Kills every backend of database `db` the stores opened (named
/// `aragora-db`); returns how many.
fn terminate_all(admin: &mut postgres::Client, db: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'aragora-db'",
            &[&db],
        )
        .unwrap()
        .get(0)
}

fn users_named(admin: &mut postgres::Client, like: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM users WHERE email LIKE $1",
            &[&like.to_string()],
        )
        .unwrap()
        .get(0)
}

struct Fixture {
    tmp: TempDb,
    _dir: tempfile::TempDir,
    cfg: Config,
    users: UserStore,
    db: Database,
}

fn fixture(tag: &str, port: u16, query: &str, extra: &[(&str, &str)]) -> Fixture {
    let tmp = TempDb::new(tag);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:{port}/{}{query}", tmp.name);
    let cfg = config(dir.path(), &url, extra);
    let users = UserStore::open(&cfg).unwrap();
    let db = users.db().clone();
    Fixture {
        tmp,
        _dir: dir,
        cfg,
        users,
        db,
    }
}

fn assert_names_server(e: &Error, port: u16) {
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")),
        "error does not name the server: {msg}"
    );
}

#[test]
fn killed_idle_connection_is_replaced() {
    if !available() {
        return;
    }
    let f = fixture("fault_idle", 5432, "", &[]);
    let ada = f
        .users
        .create_user("ada@x.io", "h", "", "Ada", None, "member")
        .unwrap();
    let mut admin = admin(&f.tmp.name);
    assert!(terminate_all(&mut admin, &f.tmp.name) >= 1);
    // The pool pings before handing a connection out: the dead one is
    // discarded and a new one opened; the caller never sees the kill.
    let got = f.users.get_user_by_id(&ada.id).unwrap().unwrap();
    assert_eq!(got.email, "ada@x.io");
    f.users
        .create_user("bob@x.io", "h", "", "Bob", None, "member")
        .unwrap();
}

#[test]
fn killed_mid_transaction_is_an_error_and_nothing_is_written() {
    if !available() {
        return;
    }
    let f = fixture("fault_midtx", 5432, "", &[]);
    let mut admin = admin(&f.tmp.name);
    let name = f.tmp.name.clone();
    let r = f.db.write(|w| {
        w.insert(&crate::common::user("u1", "mid1@x.io", None))?;
        let mut a = self::admin(&name);
        assert!(terminate_all(&mut a, &name) >= 1);
        w.insert(&crate::common::user("u2", "mid2@x.io", None))?;
        Ok(())
    });
    let e = r.expect_err("a write on a killed connection must fail");
    assert!(matches!(e, Error::Postgres { .. }), "{e:?}");
    assert_names_server(&e, 5432);
    assert_eq!(users_named(&mut admin, "mid%"), 0, "half a transaction");
    // The broken connection was not put back: the next call works.
    f.users
        .create_user("after@x.io", "h", "", "After", None, "member")
        .unwrap();
    assert_eq!(users_named(&mut admin, "after%"), 1);
    let pool = aragora_db::pg::pool_for(
        &f.cfg,
        aragora_db::config::DbTarget::Store(aragora_db::config::Store::Users),
    )
    .unwrap()
    .unwrap();
    let st = pool.status();
    assert!(st.open <= st.size + st.max_overflow, "{st:?}");
    assert_eq!(st.open, st.idle, "every connection back: {st:?}");
}

#[test]
fn exhausted_pool_times_out_without_hanging() {
    if !available() {
        return;
    }
    let f = fixture(
        "fault_pool",
        5432,
        "",
        &[
            ("ARAGORA_DB_POOL_SIZE", "1"),
            ("ARAGORA_DB_POOL_MAX_OVERFLOW", "0"),
            ("ARAGORA_DB_POOL_TIMEOUT", "1"),
        ],
    );
    let held = f.db.read().unwrap();
    let started = Instant::now();
    let e = f
        .users
        .create_user("x@x.io", "h", "", "X", None, "member")
        .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(e, Error::PoolTimeout { .. }), "{e:?}");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_names_server(&e, 5432);
    drop(held);
    f.users
        .create_user("x@x.io", "h", "", "X", None, "member")
        .unwrap();
}

#[test]
fn statement_timeout_rolls_back_and_the_connection_stays_usable() {
    if !available() {
        return;
    }
    // statement_timeout for our sessions only, through the DSN's options.
    let f = fixture(
        "fault_stmt",
        5432,
        "?options=-c%20statement_timeout%3D200ms",
        &[],
    );
    let owner = f
        .users
        .create_user("own@x.io", "h", "", "Own", None, "member")
        .unwrap();
    let orgs = OrganizationStore::open(&f.cfg).unwrap();
    let org = orgs
        .create_organization("Slow", &owner.id, Some("slow"), "free")
        .unwrap();
    // Another session holds the organization's row for a while.
    let name = f.tmp.name.clone();
    let org_id = org.id.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut a = admin(&name);
        let mut tx = a.transaction().unwrap();
        tx.execute(
            "SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE",
            &[&org_id],
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    let started = Instant::now();
    let r = f.db.write(|w| {
        w.insert(&crate::common::user("slow1", "slow1@x.io", None))?;
        // Waits for the row lock: cancelled by the statement timeout.
        w.get::<Organization>(org.id.as_str())?;
        Ok(())
    });
    let e = r.expect_err("statement timeout");
    assert!(started.elapsed() < Duration::from_millis(1400));
    let code = match &e {
        Error::Postgres { source, .. } => source.code().cloned(),
        _ => None,
    };
    assert_eq!(
        code,
        Some(postgres::error::SqlState::QUERY_CANCELED),
        "{e:?}"
    );
    assert_names_server(&e, 5432);
    holder.join().unwrap();
    let mut a = admin(&f.tmp.name);
    assert_eq!(users_named(&mut a, "slow%"), 0, "rolled back");
    // The same pool goes on working (the connection is usable again).
    orgs.increment_usage(&org.id, 1).unwrap();
    f.users
        .create_user("later@x.io", "h", "", "L", None, "member")
        .unwrap();
}

// ----- a proxy that can cut connections -----------------------------------

const NORMAL: u8 = 0;
/// Cut at the next `COMMIT`, before the server sees it.
const CUT_BEFORE_COMMIT: u8 = 1;
/// Forward the next `COMMIT`, then cut before its answer comes back.
const CUT_AFTER_COMMIT: u8 = 2;

#[derive(Default)]
struct ProxyState {
    refusing: AtomicBool,
    mode: AtomicU8,
    conns: parking_lot::Mutex<Vec<TcpStream>>,
}

struct Proxy {
    port: u16,
    state: Arc<ProxyState>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if st.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect("127.0.0.1:5432") else {
                    continue;
                };
                {
                    let mut conns = st.conns.lock();
                    conns.push(client.try_clone().unwrap());
                    conns.push(server.try_clone().unwrap());
                }
                let muted = Arc::new(AtomicBool::new(false));
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (st2, m2) = (st.clone(), muted.clone());
                std::thread::spawn(move || pump_up(client, server, &st2, &m2));
                std::thread::spawn(move || pump_down(s2, c2, &muted));
            }
        });
        Proxy { port, state }
    }

    /// Cuts every connection now (a network drop, a server gone).
    fn cut_all(&self) {
        for s in self.state.conns.lock().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Client to server; watches for the simple-query `COMMIT`.
fn pump_up(mut from: TcpStream, mut to: TcpStream, st: &ProxyState, muted: &AtomicBool) {
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let commit = chunk.windows(7).any(|w| w == b"COMMIT\0");
        let mode = st.mode.load(Ordering::SeqCst);
        if commit && mode == CUT_BEFORE_COMMIT {
            st.mode.store(NORMAL, Ordering::SeqCst);
            break;
        }
        if commit && mode == CUT_AFTER_COMMIT {
            st.mode.store(NORMAL, Ordering::SeqCst);
            muted.store(true, Ordering::SeqCst);
            let _ = to.write_all(chunk);
            // Let the server finish the commit, then drop the client side.
            let _ = from.shutdown(Shutdown::Both);
            std::thread::sleep(Duration::from_millis(500));
            break;
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Server to client; drops everything once muted.
fn pump_down(mut from: TcpStream, mut to: TcpStream, muted: &AtomicBool) {
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if muted.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[test]
fn dropped_network_then_server_gone_then_back() {
    if !available() {
        return;
    }
    let proxy = Proxy::start();
    let f = fixture(
        "fault_net",
        proxy.port,
        "?connect_timeout=2&sslmode=disable",
        &[],
    );
    f.users
        .create_user("one@x.io", "h", "", "One", None, "member")
        .unwrap();
    // A dropped network under idle pooled connections: replaced.
    proxy.cut_all();
    f.users
        .create_user("two@x.io", "h", "", "Two", None, "member")
        .unwrap();
    // The server gone (connections cut, new ones refused): a clear error
    // naming the server, within the connect timeout.
    proxy.state.refusing.store(true, Ordering::SeqCst);
    proxy.cut_all();
    let started = Instant::now();
    let e = f
        .users
        .create_user("three@x.io", "h", "", "Three", None, "member")
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(e, Error::Postgres { .. } | Error::PgConnection { .. }),
        "{e:?}"
    );
    assert_names_server(&e, proxy.port);
    // Back: the next call connects again.
    proxy.state.refusing.store(false, Ordering::SeqCst);
    f.users
        .create_user("four@x.io", "h", "", "Four", None, "member")
        .unwrap();
    let mut a = admin(&f.tmp.name);
    assert_eq!(users_named(&mut a, "%@x.io"), 3);
}

#[test]
fn connection_cut_at_commit_is_never_reported_committed() {
    if !available() {
        return;
    }
    let proxy = Proxy::start();
    let f = fixture(
        "fault_commit",
        proxy.port,
        "?connect_timeout=2&sslmode=disable",
        &[],
    );
    let mut a = admin(&f.tmp.name);
    let two = |w: &mut aragora_db::table::Writer<'_>, tag: &str| {
        w.insert(&crate::common::user(
            &format!("{tag}1"),
            &format!("{tag}1@x.io"),
            None,
        ))?;
        w.insert(&crate::common::user(
            &format!("{tag}2"),
            &format!("{tag}2@x.io"),
            None,
        ))?;
        Ok(())
    };

    // Cut before the server sees COMMIT: an error, and nothing written.
    proxy.state.mode.store(CUT_BEFORE_COMMIT, Ordering::SeqCst);
    let e = f.db.write(|w| two(w, "pre")).unwrap_err();
    assert!(matches!(e, Error::Postgres { .. }), "{e:?}");
    assert!(e.to_string().contains("commit"), "{e}");
    assert_names_server(&e, proxy.port);
    assert_eq!(users_named(&mut a, "pre%"), 0);

    // Cut after the server got COMMIT, before its answer: still an error
    // (the outcome is unknown to the client), and the database holds the
    // whole transaction, never half of it.
    proxy.state.mode.store(CUT_AFTER_COMMIT, Ordering::SeqCst);
    let e = f.db.write(|w| two(w, "post")).unwrap_err();
    assert!(matches!(e, Error::Postgres { .. }), "{e:?}");
    assert_names_server(&e, proxy.port);
    std::thread::sleep(Duration::from_millis(700));
    let n = users_named(&mut a, "post%");
    assert!(n == 0 || n == 2, "half a transaction: {n}");
    assert_eq!(n, 2, "the server got COMMIT and committed");

    // And the pool goes on.
    f.users
        .create_user("next@x.io", "h", "", "N", None, "member")
        .unwrap();
    let got: Option<User> = f.db.read().unwrap().get("pre1").unwrap();
    assert!(got.is_none());
}

/// A connection that records whether the transaction asked to close it.
struct Spy {
    client: Box<postgres::Client>,
    discarded: Arc<AtomicBool>,
}

impl std::ops::Deref for Spy {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self.client
    }
}

impl std::ops::DerefMut for Spy {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

impl aragora_db::pg::rows::Connection for Spy {
    fn discard_when_dropped(&mut self) {
        self.discarded.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_connection_lost_mid_transaction_is_closed_not_reused() {
    if !available() {
        return;
    }
    use aragora_db::pg::rows::PgRows;
    use aragora_db::table::{TableSet, Writer};
    let f = fixture("fault_discard", 5432, "", &[]);
    let set = Arc::new(TableSet::new(
        "pg".into(),
        aragora_db::schema::ALL_TABLES.to_vec(),
    ));
    let spy = |client: postgres::Client| {
        let discarded = Arc::new(AtomicBool::new(false));
        let s = Spy {
            client: Box::new(client),
            discarded: discarded.clone(),
        };
        (s, discarded)
    };
    let connect = || {
        let dsn = format!(
            "host=127.0.0.1 port=5432 user=postgres dbname={} application_name=aragora-db",
            f.tmp.name
        );
        postgres::Client::connect(&dsn, postgres::NoTls).unwrap()
    };

    // A failed write the server answered (UNIQUE): rolled back, reusable.
    let (conn, discarded) = spy(connect());
    let mut rows = PgRows::transaction(conn, set.clone()).unwrap();
    {
        let mut w = Writer::other(&mut rows);
        w.insert(&crate::common::user("d1", "d1@x.io", None))
            .unwrap();
        let e = w
            .insert(&crate::common::user("d2", "d1@x.io", None))
            .unwrap_err();
        assert!(matches!(e, Error::Unique { .. }), "{e:?}");
    }
    drop(rows);
    assert!(!discarded.load(Ordering::SeqCst));

    // The connection lost mid-transaction: closed, never reused.
    let (conn, discarded) = spy(connect());
    let mut rows = PgRows::transaction(conn, set.clone()).unwrap();
    {
        let mut w = Writer::other(&mut rows);
        w.insert(&crate::common::user("d3", "d3@x.io", None))
            .unwrap();
        let mut a = admin(&f.tmp.name);
        assert!(terminate_all(&mut a, &f.tmp.name) >= 1);
        w.insert(&crate::common::user("d4", "d4@x.io", None))
            .unwrap_err();
    }
    drop(rows);
    assert!(discarded.load(Ordering::SeqCst), "a broken connection kept");
    let mut a = admin(&f.tmp.name);
    assert_eq!(users_named(&mut a, "d%@x.io"), 0);
}
