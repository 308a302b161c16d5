//! Readers beside a writer, the slow-operation log, and the SQLite reader
//! against a live SQLite writer.

use crate::common::{data_dir, user};
use aragora_db::Database;
use aragora_db::config::{DbTarget, Store};
use aragora_db::schema::users::User;
use aragora_db::table::Read;
use aragora_db::table::check::check_table;
use aragora_db::table::{KeyRange, Page};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn readers_see_consistent_snapshots_while_a_writer_commits() {
    let (_d, cfg) = data_dir();
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    const N: usize = 40;
    db.write(|w| {
        w.insert_many(
            &(0..N)
                .map(|i| user(&format!("u{i:02}"), &format!("r0-{i}@x.io"), None))
                .collect::<Vec<_>>(),
        )
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, commits) = (db.clone(), stop.clone(), commits.clone());
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                // Rename every user in one transaction: indexes move, the count stays.
                db.write(|w| {
                    for i in 0..N {
                        w.update(&user(
                            &format!("u{i:02}"),
                            &format!("r{round}-{i}@x.io"),
                            None,
                        ))?;
                    }
                    Ok(())
                })
                .unwrap();
                commits.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut snapshots = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = db.read().unwrap();
                    let users: Vec<User> = r.scan(KeyRange::all(), Page::default()).unwrap();
                    assert_eq!(users.len(), N);
                    assert_eq!(r.count::<User>().unwrap(), N as u64);
                    // All renames of one snapshot come from the same commit.
                    let round = users[0].email.split('-').next().unwrap().to_string();
                    assert!(
                        users.iter().all(|u| u.email.starts_with(&round)),
                        "torn snapshot"
                    );
                    for u in &users {
                        assert_eq!(
                            r.get_by(User::idx_users_email, u.email.as_str())
                                .unwrap()
                                .unwrap()
                                .id,
                            u.id
                        );
                    }
                    assert!(
                        check_table(&r, &aragora_db::schema::users::USERS)
                            .unwrap()
                            .is_empty()
                    );
                    snapshots += 1;
                }
                snapshots
            })
        })
        .collect();
    let start = Instant::now();
    while commits.load(Ordering::Relaxed) < 20 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let snapshots: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(commits.load(Ordering::Relaxed) >= 1 && snapshots >= 1);
}

/// Collects formatted tracing events.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `f` logs at WARN and above, with every operation counted as slow.
fn slow_log(f: impl FnOnce(&aragora_db::config::Config)) -> String {
    let (_d, mut cfg) = data_dir();
    cfg.slow_threshold = Duration::ZERO;
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::with_default(subscriber, || f(&cfg));
    String::from_utf8(logs.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn slow_operations_are_logged_at_warn_in_the_documented_shape() {
    let text = slow_log(|cfg| {
        let users = aragora_db::store::UserStore::open(cfg).unwrap();
        users
            .create_user("slow@x.io", "h", "", "S", None, "member")
            .unwrap();
        users.get_user_by_email("slow@x.io").unwrap();
    });
    let line = text
        .lines()
        .find(|l| l.contains("get_user_by_email"))
        .unwrap_or_else(|| panic!("no log line in {text:?}"));
    assert!(line.contains("WARN"), "{line}");
    let re_ok = line.contains("Slow query (")
        && line.contains("s): get_user_by_email [email=slow@x.io] (threshold: 0.000s)");
    assert!(re_ok, "{line}");
}

/// Every store operation is timed, once: one the original did not name is
/// logged under its store and method, and an operation built on another
/// (listing jobs first clears the expired ones) is one slow-log line.
#[test]
fn every_store_operation_is_timed_once() {
    let text = slow_log(|cfg| {
        let users = aragora_db::store::UserStore::open(cfg).unwrap();
        assert_eq!(users.count_users().unwrap(), 0);
        let jobs = aragora_db::store::explainability::BatchJobStore::open(cfg).unwrap();
        assert!(jobs.list_jobs(None, 10).unwrap().is_empty());
        jobs.cleanup_expired().unwrap();
    });
    let ops: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split("s): ").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(
        ops,
        [
            "UserStore.count_users",
            "BatchJobStore.list_jobs",
            "batch_job_cleanup"
        ],
        "{text}"
    );
}

#[test]
fn sqlite_reader_gets_consistent_snapshots_of_a_live_wal_writer() {
    use aragora_db::sqlite::{SqliteFile, ValueRef};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let setup = rusqlite::Connection::open(&path).unwrap();
    setup
        .execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE items(id INTEGER PRIMARY KEY, body TEXT);
             CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0);",
        )
        .unwrap();
    drop(setup);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) && n < 3000 {
                let tx = conn.transaction().unwrap();
                for _ in 0..3 {
                    n += 1;
                    tx.execute(
                        "INSERT INTO items(body) VALUES (?1)",
                        [format!("item {n} {}", "x".repeat(300))],
                    )
                    .unwrap();
                }
                tx.execute("UPDATE counter SET n = ?1", [n]).unwrap();
                tx.commit().unwrap();
            }
        })
    };
    let mut checked = 0;
    let mut retried = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let f = match SqliteFile::open(&path) {
            Ok(f) => f,
            Err(e) => {
                // Only "the file kept changing, try again" is acceptable.
                assert!(
                    e.to_string().to_lowercase().contains("unstable")
                        || e.to_string().contains("changed"),
                    "{e}"
                );
                retried += 1;
                continue;
            }
        };
        let items = f.table("items").unwrap();
        let rows = f.row_count(&items).unwrap() as i64;
        let counter = f.table("counter").unwrap();
        let mut it = f.rows(&counter).unwrap();
        let n = match it.next_row().unwrap().unwrap().get(0) {
            ValueRef::Integer(n) => n,
            other => panic!("counter holds {other:?}"),
        };
        assert_eq!(rows, n, "snapshot mixes two commits");
        checked += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(checked > 0, "no snapshot could be read ({retried} retries)");
}

#[test]
fn one_handle_per_file_shared_by_threads() {
    let (_d, cfg) = data_dir();
    let a = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let handles: Vec<Database> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(handles.iter().all(|h| h.same_handle(&a)));
    // Another file is another handle; the users file with another table set is refused.
    let other = Database::open(&cfg, DbTarget::Store(Store::TokenBlacklist)).unwrap();
    assert!(!other.same_handle(&a));
    let err = Database::open_path(a.path(), vec![], &Default::default()).unwrap_err();
    assert!(err.to_string().contains("different set of tables"), "{err}");
    // Dropping every handle closes the file, so it can be opened afresh.
    let path = a.path().to_path_buf();
    drop((a, handles));
    let again = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    assert_eq!(again.path(), path);
}
