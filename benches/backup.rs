//! Backup throughput on the same data: our online snapshot
//! (`ops::backup::snapshot`: one read transaction copied into a fresh redb
//! file) against a plain copy of the file (the physical limit) and against
//! SQLite's online backup API (rusqlite `backup`, `sqlite3_backup_step`).
//!
//! `cargo bench --bench backup` for figures; under `cargo test` each
//! benchmark runs once on a small dataset as a smoke test.
mod common;

use aragora_db::Database;
use aragora_db::ops::backup::snapshot;
use aragora_db::schema::users::{AUDIT_LOG, AuditEntry, USERS, User};
use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

fn rows() -> usize {
    if benchmarking() { scale(50_000) } else { 200 }
}

fn user(i: usize) -> User {
    sample_user(i)
}

fn audit(i: usize) -> AuditEntry {
    AuditEntry {
        id: i as i64 + 1,
        action: ["login", "logout", "debate.create", "user.update"][i % 4].into(),
        resource_type: Some("user".into()),
        resource_id: Some(format!("r{i}")),
        user_id: Some(format!("u{}", i % 500)),
        org_id: Some(format!("o{}", i % 50)),
        metadata: Some("{\"ip\": \"10.0.0.1\"}".into()),
        timestamp: format!("2026-01-{:02}T{:02}:00:00+00:00", 1 + i % 28, i % 24),
        ..AuditEntry::default()
    }
}

fn build(dir: &Path, n: usize) -> (Database, rusqlite::Connection) {
    let tables = vec![&USERS, &AUDIT_LOG];
    let db =
        Database::open_path(&dir.join("users.redb"), tables.clone(), &Default::default()).unwrap();
    db.write(|w| {
        for i in 0..n {
            w.insert(&user(i))?;
            w.insert(&audit(i))?;
        }
        Ok(())
    })
    .unwrap();
    let conn = common::open_sqlite(&dir.join("users.db"), "NORMAL", &tables);
    conn.execute_batch("BEGIN").unwrap();
    {
        let mut su = conn.prepare(&common::insert_sql(&USERS)).unwrap();
        let mut sa = conn.prepare(&common::insert_sql(&AUDIT_LOG)).unwrap();
        for i in 0..n {
            common::insert_row(&mut su, &user(i));
            common::insert_row(&mut sa, &audit(i));
        }
    }
    conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    (db, conn)
}

fn copy_synced(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    std::fs::File::open(to).unwrap().sync_all().unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let n = rows();
    let (db, conn) = build(dir.path(), n);
    let redb_file = dir.path().join("users.redb");
    let sqlite_file = dir.path().join("users.db");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    if benchmarking() {
        eprintln!(
            "backup bench: {n} users + {n} audit rows; redb file {} bytes, SQLite file {} bytes",
            std::fs::metadata(&redb_file).unwrap().len(),
            std::fs::metadata(&sqlite_file).unwrap().len()
        );
    }
    let mut g = c.benchmark_group("backup");
    g.throughput(Throughput::Elements(2 * n as u64));
    g.sample_size(10);
    let dest = out.join("snap.redb");
    g.bench_function("snapshot_ours", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&dest);
            snapshot(&db, &dest, None).unwrap();
        })
    });
    let copy = out.join("copy.redb");
    g.bench_function("file_copy_redb", |b| {
        b.iter(|| copy_synced(&redb_file, &copy))
    });
    let sdest = out.join("snap.db");
    g.bench_function("sqlite_backup_api", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&sdest);
            conn.backup(
                rusqlite::MAIN_DB,
                &sdest,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .unwrap();
        })
    });
    let scopy = out.join("copy.db");
    g.bench_function("file_copy_sqlite", |b| {
        b.iter(|| copy_synced(&sqlite_file, &scopy))
    });
    g.finish();
    if benchmarking() {
        eprintln!(
            "snapshot file {} bytes, SQLite backup file {} bytes",
            std::fs::metadata(&dest).unwrap().len(),
            std::fs::metadata(&sdest).unwrap().len()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
