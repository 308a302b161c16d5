//! The PostgreSQL connection layer against a real server: the pool, its
//! limits and timeouts, replacement of killed connections, connect errors
//! and `sslmode` against a server without TLS.
//!
//! PostgreSQL is `127.0.0.1:5432`, user `postgres`, trust auth (override
//! with `ARAGORA_TEST_PG_HOST` / `_PORT` / `_USER`), as for the export
//! tests, whose `available()` and `TempDb` these reuse: when the server is
//! unreachable the tests skip, except under `CI=true`, where they fail.

use crate::export_pg::{TempDb, available};
use aragora_db::Error;
use aragora_db::config::{Config, DatabaseType, DbTarget, PgSettings, PoolSettings, Store};
use aragora_db::pg::{self, Dsn, Pool};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

/// `postgresql://postgres@127.0.0.1:5432/{db}?{params}`.
fn url(db: &str, params: &str) -> String {
    format!(
        "postgresql://{}@{}:{}/{db}?{params}",
        env("ARAGORA_TEST_PG_USER", "postgres"),
        env("ARAGORA_TEST_PG_HOST", "127.0.0.1"),
        env("ARAGORA_TEST_PG_PORT", "5432"),
    )
}

fn settings(url: &str, size: u32, overflow: u32, timeout: Duration) -> PgSettings {
    let mut s = PgSettings::new(Dsn::parse("TEST_DSN", url).unwrap());
    s.pool = PoolSettings {
        size,
        max_overflow: overflow,
        timeout,
    };
    s
}

fn pool(url: &str, size: u32, overflow: u32, timeout: Duration) -> Pool {
    Pool::new(settings(url, size, overflow, timeout)).unwrap()
}

fn skip(test: &str) -> bool {
    let up = available();
    if !up {
        eprintln!("SKIPPED: {test} (PostgreSQL connection layer)");
    }
    !up
}

fn one(pool: &Pool) -> i32 {
    pool.get()
        .unwrap()
        .query_one("SELECT 1", &[])
        .unwrap()
        .get(0)
}

fn pid(c: &mut postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0)
}

#[test]
fn pg_select_one_through_the_pool_and_the_config() {
    if skip("pg_select_one_through_the_pool_and_the_config") {
        return;
    }
    let p = pool(
        &url("postgres", "sslmode=disable"),
        2,
        0,
        Duration::from_secs(5),
    );
    assert_eq!(one(&p), 1);
    assert_eq!(p.status().open, 1);
    assert_eq!(one(&p), 1);
    assert_eq!(p.status().open, 1, "the idle connection is reused");

    let vars: BTreeMap<&str, String> = [
        ("ARAGORA_AUDIT_STORE_BACKEND", "postgres".to_string()),
        (
            "DATABASE_URL",
            url("postgres", "application_name=aragora-it"),
        ),
    ]
    .into();
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let audit = pg::pool_for(&config, DbTarget::Store(Store::Audit))
        .unwrap()
        .expect("audit is on PostgreSQL");
    let mut c = audit.get().unwrap();
    let app: String = c
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap()
        .get(0);
    assert_eq!(app, "aragora-it");
    drop(c);
    let again = pg::pool_for(&config, DbTarget::Store(Store::Audit))
        .unwrap()
        .unwrap();
    assert_eq!(again.status().open, audit.status().open, "one pool per DSN");
    assert!(
        pg::pool_for(&config, DbTarget::Type(DatabaseType::Elo))
            .unwrap()
            .is_none(),
        "ELO stays embedded"
    );
}

#[test]
fn pg_unix_socket_host() {
    if skip("pg_unix_socket_host") {
        return;
    }
    let dir = "/var/run/postgresql";
    if !std::path::Path::new(dir).join(".s.PGSQL.5432").exists() {
        eprintln!("SKIPPED: pg_unix_socket_host (no socket in {dir})");
        return;
    }
    for dsn in [
        "postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/postgres".to_string(),
        format!("host={dir} user=postgres dbname=postgres"),
    ] {
        let p = pool(&dsn, 1, 0, Duration::from_secs(5));
        assert_eq!(one(&p), 1, "{dsn}");
        let addr: Option<String> = p
            .get()
            .unwrap()
            .query_one("SELECT inet_client_addr()::text", &[])
            .unwrap()
            .get(0);
        assert_eq!(addr, None, "over the socket, not TCP");
    }
}

#[test]
fn pg_work_in_a_database_of_its_own() {
    if skip("pg_work_in_a_database_of_its_own") {
        return;
    }
    let db = TempDb::new("pgconn");
    let p = pool(&url(&db.name, ""), 1, 0, Duration::from_secs(5));
    let mut c = p.get().unwrap();
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .unwrap();
    let mut tx = c.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES (1, 'a')", &[]).unwrap();
    tx.commit().unwrap();
    drop(c);
    let n: i64 = p
        .get()
        .unwrap()
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn pg_pool_exhaustion_times_out_with_the_limits() {
    if skip("pg_pool_exhaustion_times_out_with_the_limits") {
        return;
    }
    let p = pool(&url("postgres", ""), 1, 1, Duration::from_secs(1));
    let a = p.get().unwrap();
    let b = p.get().unwrap();
    assert_eq!(p.status().open, 2);
    let t = Instant::now();
    let e = p.get().unwrap_err();
    let waited = t.elapsed();
    assert!(matches!(e, Error::PoolTimeout { .. }), "{e:?}");
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains("exhausted") && msg.contains("1+1") && msg.contains("ARAGORA_DB_POOL_TIMEOUT"),
        "{msg}"
    );
    assert!(msg.contains("127.0.0.1:5432/postgres"), "{msg}");
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );

    // A waiter gets the connection returned meanwhile.
    let waiter = {
        let p = p.clone();
        std::thread::spawn(move || one(&p))
    };
    std::thread::sleep(Duration::from_millis(100));
    drop(a);
    assert_eq!(waiter.join().unwrap(), 1);
    // The overflow connection is closed when returned, the other kept.
    drop(b);
    assert_eq!((p.status().open, p.status().idle), (1, 1));
}

/// Waits until the server no longer lists a backend.
fn wait_gone(admin: &mut postgres::Client, pid: i32) {
    let t = Instant::now();
    while admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "backend {pid} lingers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pg_killed_connection_is_replaced() {
    if skip("pg_killed_connection_is_replaced") {
        return;
    }
    let p = pool(&url("postgres", ""), 1, 0, Duration::from_secs(5));
    let admin = pool(&url("postgres", ""), 1, 0, Duration::from_secs(5));
    let mut admin = admin.get().unwrap();

    // Killed while idle in the pool: the next get hands out a new one.
    let old = pid(&mut p.get().unwrap());
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&old])
        .unwrap()
        .get(0);
    assert!(killed);
    wait_gone(&mut admin, old);
    let mut c = p.get().unwrap();
    let new = pid(&mut c);
    assert_ne!(new, old);
    drop(c);

    // Killed while in use: the failed query leaves it closed, and it is
    // dropped when returned instead of going back to the pool.
    let mut c = p.get().unwrap();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&new])
        .unwrap();
    wait_gone(&mut admin, new);
    assert!(c.query_one("SELECT 1", &[]).is_err());
    drop(c);
    assert_eq!(p.status().open, 0);
    assert_eq!(one(&p), 1);
}

#[test]
fn pg_unreachable_port_fails_fast_naming_host_and_port() {
    // Needs no server: nothing listens on port 1.
    let p = pool(
        "postgresql://postgres@127.0.0.1:1/aragora?connect_timeout=2",
        1,
        0,
        Duration::from_secs(1),
    );
    let t = Instant::now();
    let e = p.get().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("127.0.0.1:1"), "{msg}");
    assert!(msg.contains("aragora"), "{msg}");
    assert!(matches!(e, Error::Postgres { .. }), "{e:?}");
    assert!(std::error::Error::source(&e).is_some(), "cause kept");
    assert_eq!(p.status().open, 0);
}

#[test]
fn pg_silent_server_cannot_hang_a_connect() {
    // Accepts TCP and never answers: only our overall bound stops it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let p = pool(
        &format!("postgresql://postgres@127.0.0.1:{port}/x?connect_timeout=2&sslmode=disable"),
        1,
        0,
        Duration::from_secs(1),
    );
    let t = Instant::now();
    let e = p.get().unwrap_err();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("no answer"),
        "{msg}"
    );
    drop(held.join());
}

#[test]
fn pg_unknown_database_is_named() {
    if skip("pg_unknown_database_is_named") {
        return;
    }
    let p = pool(
        &url("aragora_no_such_db_4711", ""),
        1,
        0,
        Duration::from_secs(5),
    );
    let e = p.get().unwrap_err();
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains("aragora_no_such_db_4711") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn pg_password_never_appears_in_errors() {
    const PW: &str = "Wr0ngPassw0rdXyz";
    for dsn in [
        format!("postgresql://postgres:{PW}@127.0.0.1:1/aragora?connect_timeout=2"),
        format!("host=127.0.0.1 port=1 user=postgres password={PW} dbname=aragora"),
        format!(
            "postgresql://postgres:{PW}@127.0.0.1:1/aragora?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
        ),
    ] {
        let d = Dsn::parse("DATABASE_URL", &dsn).unwrap();
        let s = PgSettings::new(d);
        let e = match Pool::new(s.clone()) {
            Err(e) => e,
            Ok(p) => {
                let e = p.get().unwrap_err();
                for shown in [format!("{p:?}"), format!("{:?}", p.settings())] {
                    assert!(!shown.contains(PW), "{shown}");
                }
                e
            }
        };
        let mut shown = vec![e.to_string(), format!("{e:?}"), format!("{s:?}")];
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            shown.push(c.to_string());
            shown.push(format!("{c:?}"));
            cause = c.source();
        }
        for s in shown {
            assert!(!s.contains(PW), "{s}");
        }
    }
    // A malformed string that holds the password.
    let vars: BTreeMap<&str, String> = [
        ("ARAGORA_DB_BACKEND", "postgres".to_string()),
        (
            "ARAGORA_POSTGRES_DSN",
            format!("postgresql://u:{PW}@h:x{PW}/db"),
        ),
    ]
    .into();
    let e = Config::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(
        shown.contains("ARAGORA_POSTGRES_DSN") && !shown.contains(PW),
        "{shown}"
    );
}

fn uses_tls(c: &mut postgres::Client) -> bool {
    c.query_one(
        "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
        &[],
    )
    .unwrap()
    .get(0)
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/pg_tls/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The local server may or may not offer TLS (Debian's default cluster
/// does, with its self-signed "snakeoil" certificate); each mode is checked
/// against whichever it is. A server without TLS is also faked in pg_tls.
#[test]
fn pg_sslmodes_against_the_local_server() {
    if skip("pg_sslmodes_against_the_local_server") {
        return;
    }
    let get = |params: &str| pool(&url("postgres", params), 1, 0, Duration::from_secs(5)).get();
    let mut c = get("sslmode=disable").unwrap();
    assert!(!uses_tls(&mut c), "disable never encrypts");
    let server_tls = uses_tls(&mut get("sslmode=prefer").unwrap());
    let ca = fixture("ca.pem");
    if !server_tls {
        for mode in ["require", "verify-ca", "verify-full"] {
            let t = Instant::now();
            let e = get(&format!("sslmode={mode}&sslrootcert={ca}")).unwrap_err();
            assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
            let msg = e.to_string();
            assert!(
                msg.contains("does not offer TLS") && msg.contains(&format!("sslmode={mode}")),
                "{msg}"
            );
            assert!(msg.contains("127.0.0.1:5432"), "{msg}");
        }
        eprintln!("the local server has no TLS: require/verify-* refused as they should be");
        return;
    }
    // Encrypted, certificate not checked.
    assert!(uses_tls(&mut get("sslmode=require").unwrap()));
    // Verified against a CA that did not sign the server's certificate.
    for mode in ["verify-ca", "verify-full"] {
        let e = get(&format!("sslmode={mode}&sslrootcert={ca}")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("UnknownIssuer") && msg.contains("127.0.0.1:5432"),
            "{msg}"
        );
    }
    // require with roots verifies the chain, as libpq does.
    let e = get(&format!("sslmode=require&sslrootcert={ca}")).unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    // The server's own (self-signed) certificate as the root, when readable:
    // verify-ca passes, whatever name the certificate holds.
    let mut admin = get("sslmode=disable").unwrap();
    let file: String = admin
        .query_one("SELECT current_setting('ssl_cert_file')", &[])
        .unwrap()
        .get(0);
    if std::fs::read(&file).is_ok() {
        let mut c = get(&format!("sslmode=verify-ca&sslrootcert={file}")).unwrap();
        assert!(uses_tls(&mut c));
        // verify-full also checks the name: a certificate made for this
        // machine's host name does not name 127.0.0.1.
        match get(&format!("sslmode=verify-full&sslrootcert={file}")) {
            Err(e) => assert!(e.to_string().contains("not valid for name"), "{e}"),
            Ok(_) => eprintln!("note: the server's certificate names 127.0.0.1"),
        }
        // Debian's certificate is made for `localhost`; if so, verify-full
        // by that name passes (else only the name may be wrong).
        let by_name = url(
            "postgres",
            &format!("sslmode=verify-full&sslrootcert={file}"),
        )
        .replace("@127.0.0.1:", "@localhost:");
        match pool(&by_name, 1, 0, Duration::from_secs(5)).get() {
            Ok(mut c) => assert!(uses_tls(&mut c)),
            Err(e) => assert!(e.to_string().contains("not valid for name"), "{e}"),
        }
    } else {
        eprintln!("SKIPPED: verify-ca against the server's own certificate ({file} unreadable)");
    }
}

#[test]
fn pg_pool_under_contention_stays_within_its_limits() {
    if skip("pg_pool_under_contention_stays_within_its_limits") {
        return;
    }
    let p = pool(&url("postgres", ""), 2, 1, Duration::from_secs(20));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                for _ in 0..15 {
                    let mut c = p.get().unwrap();
                    let s = p.status();
                    assert!(s.open <= 3, "{s:?}");
                    c.batch_execute("SELECT pg_sleep(0.002)").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = p.status();
    assert_eq!((s.open, s.idle), (2, 2), "overflow closed, the rest kept");
    // The server agrees: no connection leaked.
    let app: String = p
        .get()
        .unwrap()
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        app, "aragora-db",
        "a default application_name names us in pg_stat_activity"
    );
}
