//! SQL export throughput: `aragora-db export` (COPY and INSERT) against a
//! SQLite-side equivalent in the same run (rusqlite `SELECT *` over the same
//! rows in a file with the same schema, each value formatted as a COPY text
//! field), and the time `psql` takes to load the exported script.
//!
//! `cargo bench --bench export` for figures; under `cargo test` each
//! benchmark runs once on a small store as a smoke test (the psql load is
//! skipped when PostgreSQL is not reachable).

mod common;

use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::export::{self, Options};
use aragora_db::ops::export_rows::StoreRows;
use aragora_db::schema::users::{AUDIT_LOG, AuditEntry, ORGANIZATIONS, Organization, USERS, User};
use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::types::ValueRef as SqlRef;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

fn user(i: usize) -> User {
    User {
        name: Some(format!("User {i} \"quoted\"\ttab")),
        org_id: Some(format!("org-{:04}", i % 100)),
        updated_at: "2026-01-05 10:00:00".into(),
        email_verified: Some(false),
        preferences: Some("{\"theme\": \"dark\", \"n\": [1, 2]}".into()),
        failed_login_count: Some(0),
        ..sample_user(i)
    }
}

fn audit(i: usize) -> AuditEntry {
    AuditEntry {
        id: i as i64 + 1,
        timestamp: format!("2026-01-{:02}T{:02}:00:00+00:00", 1 + i % 28, i % 24),
        user_id: Some(user(i % 500).id),
        org_id: Some(format!("org-{:04}", i % 100)),
        action: ["login", "logout", "debate.create", "user.update"][i % 4].into(),
        resource_type: Some("user".into()),
        resource_id: Some(format!("r{i}")),
        details: Some("{}".into()),
        metadata: Some("{\"ip\": \"10.0.0.1\", \"ua\": \"Mozilla/5.0\\n\"}".into()),
        ..AuditEntry::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    cfg: Config,
    _db: Database,
    sqlite: rusqlite::Connection,
    rows: u64,
}

fn fixture(n_users: usize, n_audit: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(dir.path().join("ours"));
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let orgs: Vec<Organization> = (0..100)
        .map(|o| Organization {
            id: format!("org-{o:04}"),
            name: format!("Org {o}"),
            slug: format!("org-{o}"),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        })
        .collect();
    let users: Vec<User> = (0..n_users).map(user).collect();
    let events: Vec<AuditEntry> = (0..n_audit).map(audit).collect();
    db.write(|w| {
        w.insert_many(&orgs)?;
        w.insert_many(&users)?;
        w.insert_many(&events)
    })
    .unwrap();
    let mut sqlite = open_sqlite(
        &dir.path().join("s.db"),
        "NORMAL",
        &[&USERS, &ORGANIZATIONS, &AUDIT_LOG],
    );
    let tx = sqlite.transaction().unwrap();
    {
        let mut s = tx.prepare(&insert_sql(&ORGANIZATIONS)).unwrap();
        orgs.iter().for_each(|r| insert_row(&mut s, r));
        let mut s = tx.prepare(&insert_sql(&USERS)).unwrap();
        users.iter().for_each(|r| insert_row(&mut s, r));
        let mut s = tx.prepare(&insert_sql(&AUDIT_LOG)).unwrap();
        events.iter().for_each(|r| insert_row(&mut s, r));
    }
    tx.commit().unwrap();
    Fixture {
        _dir: dir,
        cfg,
        _db: db,
        sqlite,
        rows: (100 + n_users + n_audit) as u64,
    }
}

fn ours(f: &Fixture, inserts: bool) -> Vec<u8> {
    let rows = StoreRows::open(&f.cfg, None).unwrap();
    let mut out = Vec::with_capacity(1 << 20);
    let report = export::write_postgres(
        &mut out,
        &rows,
        &Options {
            inserts,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.rows(), f.rows);
    out
}

/// The SQLite side: every row of the same three tables read with rusqlite
/// and written as COPY text lines (same escaping, no type mapping).
fn sqlite_copy(conn: &rusqlite::Connection) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    for t in ["users", "organizations", "audit_log"] {
        let mut st = conn
            .prepare_cached(&format!("SELECT * FROM \"{t}\""))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        let mut line = String::new();
        while let Some(r) = rows.next().unwrap() {
            line.clear();
            for i in 0..n {
                if i > 0 {
                    line.push('\t');
                }
                match r.get_ref(i).unwrap() {
                    SqlRef::Null => line.push_str("\\N"),
                    SqlRef::Integer(v) => line.push_str(&v.to_string()),
                    SqlRef::Real(v) => line.push_str(&format!("{v:?}")),
                    SqlRef::Text(b) => {
                        export::copy::escape_into(&mut line, std::str::from_utf8(b).unwrap())
                    }
                    SqlRef::Blob(b) => {
                        line.push_str("\\\\x");
                        b.iter().for_each(|x| line.push_str(&format!("{x:02x}")));
                    }
                }
            }
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        }
    }
    out
}

fn throughput(c: &mut Criterion) {
    let f = fixture(size(20_000, 50), size(50_000, 50));
    let copy_bytes = ours(&f, false).len() as u64;
    let insert_bytes = ours(&f, true).len() as u64;
    println!(
        "export fixture: {} rows; COPY script {copy_bytes} bytes, INSERT script {insert_bytes} bytes",
        f.rows
    );
    let mut g = c.benchmark_group("export");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(copy_bytes));
    g.bench_function("copy/ours", |b| b.iter(|| black_box(ours(&f, false))));
    g.bench_function("copy/sqlite_select_format", |b| {
        b.iter(|| black_box(sqlite_copy(&f.sqlite)))
    });
    g.throughput(Throughput::Bytes(insert_bytes));
    g.bench_function("inserts/ours", |b| b.iter(|| black_box(ours(&f, true))));
    g.finish();
}

fn psql(db: &str) -> Command {
    let mut c = Command::new("psql");
    c.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        db,
    ]);
    c
}

fn psql_load(c: &mut Criterion) {
    if !psql("postgres")
        .args(["-tAc", "SELECT 1"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "export psql load: PostgreSQL not reachable at 127.0.0.1:5432, and CI=true requires it"
        );
        eprintln!("export psql load: SKIPPED (PostgreSQL not reachable at 127.0.0.1:5432)");
        return;
    }
    let f = fixture(size(20_000, 50), size(50_000, 50));
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("export_psql_load");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(f.rows));
    for (name, inserts) in [("copy", false), ("inserts", true)] {
        let script = dir.path().join(format!("{name}.sql"));
        std::fs::write(&script, ours(&f, inserts)).unwrap();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for i in 0..iters {
                    let db = format!("aragora_bench_{}_{i}", std::process::id());
                    assert!(
                        psql("postgres")
                            .args(["-c", &format!("CREATE DATABASE {db}")])
                            .status()
                            .unwrap()
                            .success()
                    );
                    let start = Instant::now();
                    let ok = psql(&db).arg("-f").arg(&script).status().unwrap().success();
                    took += start.elapsed();
                    let _ = psql("postgres")
                        .args(["-c", &format!("DROP DATABASE {db}")])
                        .status();
                    assert!(ok, "psql failed to load the {name} script");
                }
                took
            })
        });
    }
    g.finish();
}

criterion_group!(benches, throughput, psql_load);
criterion_main!(benches);
