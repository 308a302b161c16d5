//! Encryption at rest: the foundation workloads (insert, get by id, range
//! scan on `users`) on a plain file, on an encrypted file, and on SQLite
//! (rusqlite, WAL, prepared statements) in the same run.
//!
//! Each read workload runs twice: with redb's default 256 MiB cache (pages
//! are decrypted once, then served from memory) and with a 1 MiB cache, so
//! most reads go through the encrypting backend. `cargo bench --bench
//! encryption` for figures; under `cargo test` each runs once (smoke test).

mod common;

use aragora_db::crypto::{Encryption, Key};
use aragora_db::db::{Database, OpenOptions};
use aragora_db::schema::users::{ORGANIZATIONS, USERS, User};
use aragora_db::table::Read;
use aragora_db::table::{KeyRange, Page};
use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::ops::Bound;

fn size(n: usize) -> usize {
    common::size(n, 100)
}

fn user(i: usize) -> User {
    sample_user(i)
}

fn open(path: &std::path::Path, encrypted: bool, cache: usize) -> Database {
    let opts = OpenOptions {
        cache_size: cache,
        encryption: encrypted.then(|| Encryption::raw(Key::from_bytes([7; 32]))),
        ..OpenOptions::default()
    };
    Database::open_path(path, vec![&USERS, &ORGANIZATIONS], &opts).unwrap()
}

const VARIANTS: [(&str, bool); 2] = [("plain", false), ("encrypted", true)];

fn inserts(c: &mut Criterion) {
    let mut g = c.benchmark_group("encryption");
    g.sample_size(20);
    let dir = tempfile::tempdir().unwrap();
    let batch: Vec<User> = (0..size(100_000).min(1000)).map(user).collect();
    for (name, enc) in VARIANTS {
        let db = open(&dir.path().join(format!("ins-{name}.redb")), enc, 256 << 20);
        let mut n = 1_000_000usize;
        g.bench_function(format!("insert_durable/{name}"), |b| {
            b.iter(|| {
                n += 1;
                let u = user(n);
                db.write(|w| w.insert(&u)).unwrap();
            })
        });
        let mut round = 0usize;
        g.bench_function(format!("insert_batch_1000/{name}"), |b| {
            b.iter(|| {
                round += 1;
                let rows: Vec<User> = batch
                    .iter()
                    .map(|u| User {
                        id: format!("{round}-{}", u.id),
                        email: format!("{round}-{}", u.email),
                        ..u.clone()
                    })
                    .collect();
                db.write(|w| w.insert_many(&rows)).unwrap();
            })
        });
    }
    let sqlite = open_sqlite(
        &dir.path().join("ins.db"),
        "FULL",
        &[&USERS, &ORGANIZATIONS],
    );
    let mut stmt = sqlite.prepare(&insert_sql(&USERS)).unwrap();
    let mut n = 1_000_000usize;
    g.bench_function("insert_durable/sqlite", |b| {
        b.iter(|| {
            n += 1;
            insert_row(&mut stmt, &user(n));
        })
    });
    drop(stmt);
    g.finish();
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("encryption");
    let dir = tempfile::tempdir().unwrap();
    let n = size(50_000);
    let rows: Vec<User> = (0..n).map(user).collect();
    let ids: Vec<String> = rows.iter().map(|u| u.id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    for (name, enc) in VARIANTS {
        let path = dir.path().join(format!("read-{name}.redb"));
        open(&path, enc, 256 << 20)
            .write(|w| w.insert_many(&rows))
            .unwrap();
        for (cache_name, cache) in [("cache256m", 256 << 20), ("cache1m", 1 << 20)] {
            // A second file name per cache size: one handle per file per process.
            let p2 = dir.path().join(format!("read-{name}-{cache_name}.redb"));
            std::fs::copy(&path, &p2).unwrap();
            let db = open(&p2, enc, cache);
            let mut i = 0usize;
            g.bench_function(format!("get_by_id_{cache_name}/{name}"), |b| {
                b.iter(|| {
                    i = (i + 7919) % n;
                    black_box(db.read().unwrap().get::<User>(&ids[i]).unwrap().unwrap())
                })
            });
            // Each scan starts at another place of the key order (a stride
            // coprime to the row count), so with the small cache it reads
            // (and decrypts) pages it has not just read, instead of
            // rescanning the same 500 rows from memory.
            let mut at = 0usize;
            g.bench_function(format!("scan_500_{cache_name}/{name}"), |b| {
                b.iter(|| {
                    at = (at + 7919) % n;
                    let start = &sorted[at.min(n.saturating_sub(500))];
                    let r: Vec<User> = db
                        .read()
                        .unwrap()
                        .scan(
                            KeyRange::between(Bound::Included(start.as_str()), Bound::Unbounded),
                            Page::first(500),
                        )
                        .unwrap();
                    black_box(r)
                })
            });
        }
    }
    let mut sqlite = open_sqlite(
        &dir.path().join("read.db"),
        "NORMAL",
        &[&USERS, &ORGANIZATIONS],
    );
    let tx = sqlite.transaction().unwrap();
    {
        let mut s = tx.prepare(&insert_sql(&USERS)).unwrap();
        for u in &rows {
            insert_row(&mut s, u);
        }
    }
    tx.commit().unwrap();
    let mut stmt = sqlite.prepare(&select_sql(&USERS, "id = ?1")).unwrap();
    let mut i = 0usize;
    g.bench_function("get_by_id/sqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(
                stmt.query_row([&ids[i]], |r| Ok(from_sqlite::<User>(r)))
                    .unwrap(),
            )
        })
    });
    let mut stmt = sqlite
        .prepare(&select_sql(&USERS, "id >= ?1 ORDER BY id LIMIT 500"))
        .unwrap();
    let mut at = 0usize;
    g.bench_function("scan_500/sqlite", |b| {
        b.iter(|| {
            at = (at + 7919) % n;
            let start = &sorted[at.min(n.saturating_sub(500))];
            let r: Vec<User> = stmt
                .query_map([start], |r| Ok(from_sqlite::<User>(r)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            black_box(r)
        })
    });
    g.finish();
}

criterion_group!(benches, inserts, reads);
criterion_main!(benches);
