//! users.db workloads, ours against SQLite (rusqlite, WAL, prepared
//! statements, same schema and indexes) in the same run.
//!
//! `cargo bench --bench users` for figures; under `cargo test` each
//! benchmark runs once on a small dataset as a smoke test.
//! Ratios go in BENCHMARKS.md (`tools/bench-ratios` computes them).

mod common;

use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::schema::users::{AUDIT_LOG, AuditEntry, ORGANIZATIONS, USERS, User};
use aragora_db::store::{AuditEvent, AuditLog, AuditQuery, UserStore};
use aragora_db::table::Page;
use common::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rusqlite::Connection;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Ids for rows written while benchmarks run, unique across iterations.
static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(100_000_000);

fn user_row(i: usize, orgs: usize) -> User {
    User {
        org_id: (orgs > 0).then(|| format!("org-{:04}", i % orgs)),
        email_verified: Some(false),
        failed_login_count: Some(0),
        mfa_enabled: Some(false),
        ..sample_user(i)
    }
}

fn audit_row(i: usize) -> AuditEvent {
    AuditEvent {
        action: ["login", "logout", "debate.create", "user.update"][i % 4].into(),
        resource_type: Some("user".into()),
        resource_id: Some(format!("r{i}")),
        user_id: Some(format!("u{}", i % 500)),
        org_id: Some(format!("o{}", i % 50)),
        metadata: Some("{\"ip\": \"10.0.0.1\"}".into()),
        // One event every 48 s: 50,000 events span 28 days of January.
        timestamp: Some({
            let s = i * 48;
            format!(
                "2026-01-{:02}T{:02}:{:02}:{:02}+00:00",
                1 + (s / 86_400) % 28,
                (s / 3600) % 24,
                (s / 60) % 60,
                s % 60
            )
        }),
        ..AuditEvent::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    cfg: Config,
    users: UserStore,
    audit: AuditLog,
    sqlite: Connection,
    sqlite_path: std::path::PathBuf,
    n_users: usize,
}

fn orgs_rows(n: usize) -> Vec<aragora_db::schema::users::Organization> {
    (0..n)
        .map(|o| aragora_db::schema::users::Organization {
            id: format!("org-{o:04}"),
            name: format!("Org {o}"),
            slug: format!("org-{o}"),
            created_at: "2026-01-01".into(),
            updated_at: "2026-01-01".into(),
            ..Default::default()
        })
        .collect()
}

fn fixture(n_users: usize, n_orgs: usize, n_audit: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(dir.path().join("ours"));
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let users: Vec<User> = (0..n_users).map(|i| user_row(i, n_orgs)).collect();
    let orgs = orgs_rows(n_orgs);
    db.write(|w| {
        w.insert_many(&orgs)?;
        w.insert_many(&users)
    })
    .unwrap();
    let audit = AuditLog::open(&cfg).unwrap();
    audit
        .log_events((0..n_audit).map(audit_row).collect())
        .unwrap();

    let sqlite_path = dir.path().join("sqlite.db");
    let mut sqlite = open_sqlite(
        &sqlite_path,
        "NORMAL",
        &[&USERS, &ORGANIZATIONS, &AUDIT_LOG],
    );
    let tx = sqlite.transaction().unwrap();
    {
        let mut s = tx.prepare(&insert_sql(&ORGANIZATIONS)).unwrap();
        for o in &orgs {
            insert_row(&mut s, o);
        }
        let mut s = tx.prepare(&insert_sql(&USERS)).unwrap();
        for u in &users {
            insert_row(&mut s, u);
        }
        let mut s = tx.prepare(&insert_sql(&AUDIT_LOG)).unwrap();
        for (i, e) in (0..n_audit).map(audit_row).enumerate() {
            let row = AuditEntry {
                id: i as i64 + 1,
                timestamp: e.timestamp.unwrap(),
                user_id: e.user_id,
                org_id: e.org_id,
                action: e.action,
                resource_type: e.resource_type,
                resource_id: e.resource_id,
                metadata: e.metadata,
                ..Default::default()
            };
            insert_row(&mut s, &row);
        }
    }
    tx.commit().unwrap();
    // The file sizes of the data set (BENCHMARKS.md reports them).
    let size_of = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    eprintln!(
        "fixture: {n_users} users, {n_orgs} orgs, {n_audit} audit events: ours users.redb {} bytes, sqlite {} bytes",
        size_of(&cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path),
        size_of(&sqlite_path)
    );
    Fixture {
        users: UserStore::from_db(db, &cfg),
        audit,
        _dir: dir,
        cfg,
        sqlite,
        sqlite_path,
        n_users,
    }
}

fn lookups(c: &mut Criterion) {
    let f = fixture(size(20_000, 50), 100, size(50_000, 50));
    let mut g = c.benchmark_group("users");
    let n = f.n_users;
    let mut i = 0usize;
    g.bench_function("get_by_email/ours", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(
                f.users
                    .get_user_by_email(&format!("user{i}@example.com"))
                    .unwrap()
                    .unwrap(),
            )
        })
    });
    let mut stmt = f.sqlite.prepare(&select_sql(&USERS, "email = ?1")).unwrap();
    g.bench_function("get_by_email/sqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(
                stmt.query_row([format!("user{i}@example.com")], |r| {
                    Ok(from_sqlite::<User>(r))
                })
                .unwrap(),
            )
        })
    });
    let ids: Vec<String> = (0..n).map(|i| user_row(i, 100).id).collect();
    g.bench_function("get_by_id/ours", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(f.users.get_user_by_id(&ids[i]).unwrap().unwrap())
        })
    });
    let mut stmt = f.sqlite.prepare(&select_sql(&USERS, "id = ?1")).unwrap();
    g.bench_function("get_by_id/sqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(
                stmt.query_row([&ids[i]], |r| Ok(from_sqlite::<User>(r)))
                    .unwrap(),
            )
        })
    });
    g.bench_function("list_org_users/ours", |b| {
        b.iter(|| {
            i = (i + 31) % 100;
            black_box(
                f.users
                    .list_users_by_org(&format!("org-{i:04}"), Page::default())
                    .unwrap(),
            )
        })
    });
    let mut stmt = f
        .sqlite
        .prepare(&select_sql(&USERS, "org_id = ?1 ORDER BY id"))
        .unwrap();
    g.bench_function("list_org_users/sqlite", |b| {
        b.iter(|| {
            i = (i + 31) % 100;
            let rows: Vec<User> = stmt
                .query_map([format!("org-{i:04}")], |r| Ok(from_sqlite::<User>(r)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            black_box(rows)
        })
    });
    // One day of audit events (~1/28 of the table), by time range.
    let day = |i: usize| {
        (
            format!("2026-01-{:02}", 1 + i % 27),
            format!("2026-01-{:02}", 2 + i % 27),
        )
    };
    g.bench_function("audit_range/ours", |b| {
        b.iter(|| {
            i += 1;
            let (since, until) = day(i);
            let q = AuditQuery {
                since: Some(since),
                until: Some(until),
                page: Page::first(200),
                ..Default::default()
            };
            black_box(f.audit.query(&q).unwrap())
        })
    });
    let mut stmt = f
        .sqlite
        .prepare(&select_sql(
            &AUDIT_LOG,
            "timestamp >= ?1 AND timestamp < ?2 ORDER BY timestamp LIMIT 200",
        ))
        .unwrap();
    g.bench_function("audit_range/sqlite", |b| {
        b.iter(|| {
            i += 1;
            let (since, until) = day(i);
            let rows: Vec<AuditEntry> = stmt
                .query_map([since, until], |r| Ok(from_sqlite::<AuditEntry>(r)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            black_box(rows)
        })
    });
    g.finish();
    let _ = (&f.cfg, &f.sqlite_path);
}

fn writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("users");
    g.sample_size(20);
    let f = fixture(size(2_000, 50), 10, 0);
    let mut n = 10_000_000usize;
    g.bench_function("create_user/ours", |b| {
        b.iter(|| {
            n += 1;
            let u = user_row(n, 10);
            f.users.db().write(|w| w.insert(&u)).unwrap();
        })
    });
    for sync in ["FULL", "NORMAL"] {
        f.sqlite.pragma_update(None, "synchronous", sync).unwrap();
        let mut stmt = f.sqlite.prepare(&insert_sql(&USERS)).unwrap();
        g.bench_function(format!("create_user/sqlite_{}", sync.to_lowercase()), |b| {
            b.iter(|| {
                n += 1;
                insert_row(&mut stmt, &user_row(n, 10));
            })
        });
    }
    g.bench_function("durable_commit/ours", |b| {
        b.iter(|| f.audit.log_event(audit_row(n)).unwrap())
    });
    // The floor of any durable commit on this disk: one 4 KiB `pwrite`
    // and one `fdatasync` on a preallocated file (blocks written and
    // synced beforehand, so no allocation or size change is synced), on
    // the same file system as both databases.
    {
        use std::os::unix::fs::FileExt;
        const SPAN: u64 = 64 << 20;
        let path = f.sqlite_path.with_extension("floor");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for i in 0..SPAN / zeros.len() as u64 {
            file.write_all_at(&zeros, i * zeros.len() as u64).unwrap();
        }
        file.sync_all().unwrap();
        let page = [0x5au8; 4096];
        let mut at = 0u64;
        g.bench_function("durable_commit/floor", |b| {
            b.iter(|| {
                file.write_all_at(&page, at).unwrap();
                file.sync_data().unwrap();
                at = (at + 4096) % SPAN;
            })
        });
        drop(file);
        let _ = std::fs::remove_file(&path);
    }
    for sync in ["FULL", "NORMAL"] {
        f.sqlite.pragma_update(None, "synchronous", sync).unwrap();
        let mut stmt = f.sqlite.prepare(&insert_sql(&AUDIT_LOG)).unwrap();
        g.bench_function(
            format!("durable_commit/sqlite_{}", sync.to_lowercase()),
            |b| {
                b.iter(|| {
                    n += 1;
                    // Every column our side writes (AuditLog::log_event).
                    let e = audit_row(n);
                    let row = AuditEntry {
                        id: n as i64,
                        timestamp: e.timestamp.unwrap(),
                        user_id: e.user_id,
                        org_id: e.org_id,
                        action: e.action,
                        resource_type: e.resource_type,
                        resource_id: e.resource_id,
                        ip_address: e.ip_address,
                        user_agent: e.user_agent,
                        old_value: e.old_value,
                        new_value: e.new_value,
                        metadata: e.metadata,
                        ..Default::default()
                    };
                    insert_row(&mut stmt, &row);
                })
            },
        );
    }
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("users");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let n = size(200_000, 50);
    let rows: Vec<User> = (0..n).map(|i| user_row(i, 0)).collect();
    g.bench_function("bulk_load/ours", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let db =
                    Database::open(&Config::for_dir(dir.path()), DbTarget::Store(Store::Users))
                        .unwrap();
                (dir, db)
            },
            |(dir, db)| {
                db.write(|w| w.insert_many(&rows)).unwrap();
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    for sync in ["FULL", "NORMAL"] {
        g.bench_function(format!("bulk_load/sqlite_{}", sync.to_lowercase()), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let conn =
                        open_sqlite(&dir.path().join("s.db"), sync, &[&USERS, &ORGANIZATIONS]);
                    (dir, conn)
                },
                |(dir, mut conn)| {
                    let tx = conn.transaction().unwrap();
                    {
                        let mut s = tx.prepare(&insert_sql(&USERS)).unwrap();
                        for u in &rows {
                            insert_row(&mut s, u);
                        }
                    }
                    tx.commit().unwrap();
                    (dir, conn)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Lookups per second of 4 reader threads while one writer commits
/// continuously; the benchmark time is for 4 x 250 lookups.
fn readers_during_writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("users");
    g.sample_size(20);
    let f = fixture(size(20_000, 50), 10, 0);
    let n = f.n_users;
    const READERS: usize = 4;
    const PER: usize = 250;
    g.bench_function("readers_during_writes/ours", |b| {
        b.iter_custom(|iters| {
            let stop = Arc::new(AtomicBool::new(false));
            let writer = {
                let (db, stop) = (f.users.db().clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let u = user_row(NEXT_ID.fetch_add(1, Ordering::Relaxed), 0);
                        db.write(|w| w.insert(&u)).unwrap();
                    }
                })
            };
            let start = Instant::now();
            for _ in 0..iters {
                std::thread::scope(|s| {
                    for t in 0..READERS {
                        let users = &f.users;
                        s.spawn(move || {
                            for j in 0..PER {
                                let i = (t * 7919 + j * 104_729) % n;
                                black_box(
                                    users
                                        .get_user_by_email(&format!("user{i}@example.com"))
                                        .unwrap()
                                        .unwrap(),
                                );
                            }
                        });
                    }
                });
            }
            let took = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            writer.join().unwrap();
            took
        })
    });
    let path = f.sqlite_path.clone();
    // The writer at FULL is like for like with ours (every commit durable);
    // NORMAL is what the original runs with.
    for sync in ["FULL", "NORMAL"] {
        let path = path.clone();
        g.bench_function(
            format!("readers_during_writes/sqlite_{}", sync.to_lowercase()),
            |b| {
                b.iter_custom(|iters| {
                    let stop = Arc::new(AtomicBool::new(false));
                    let writer = {
                        let (path, stop) = (path.clone(), stop.clone());
                        std::thread::spawn(move || {
                            let conn = Connection::open(&path).unwrap();
                            conn.pragma_update(None, "synchronous", sync).unwrap();
                            conn.busy_timeout(Duration::from_secs(30)).unwrap();
                            let mut s = conn.prepare(&insert_sql(&USERS)).unwrap();
                            while !stop.load(Ordering::Relaxed) {
                                insert_row(
                                    &mut s,
                                    &user_row(NEXT_ID.fetch_add(1, Ordering::Relaxed), 0),
                                );
                            }
                        })
                    };
                    let mut conns: Vec<Connection> = (0..READERS)
                        .map(|_| {
                            let c = Connection::open(&path).unwrap();
                            c.busy_timeout(Duration::from_secs(30)).unwrap();
                            c
                        })
                        .collect();
                    let start = Instant::now();
                    for _ in 0..iters {
                        // Connections are Send but not Sync: move each into its thread and back.
                        conns = std::thread::scope(|s| {
                            let handles: Vec<_> = conns
                                .drain(..)
                                .enumerate()
                                .map(|(t, conn)| {
                                    s.spawn(move || {
                                        {
                                            let mut stmt = conn
                                                .prepare_cached(&select_sql(&USERS, "email = ?1"))
                                                .unwrap();
                                            for j in 0..PER {
                                                let i = (t * 7919 + j * 104_729) % n;
                                                black_box(
                                                    stmt.query_row(
                                                        [format!("user{i}@example.com")],
                                                        |r| Ok(from_sqlite::<User>(r)),
                                                    )
                                                    .unwrap(),
                                                );
                                            }
                                        }
                                        conn
                                    })
                                })
                                .collect();
                            handles.into_iter().map(|h| h.join().unwrap()).collect()
                        });
                    }
                    let took = start.elapsed();
                    stop.store(true, Ordering::Relaxed);
                    writer.join().unwrap();
                    took
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, lookups, writes, bulk, readers_during_writes);
criterion_main!(benches);
