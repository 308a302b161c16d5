//! Full-table scan throughput: this reader vs rusqlite `SELECT *` on the same file,
//! in the same run. Every value of every row is touched in both.
use aragora_db::sqlite;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ROWS: i64 = 200_000;

fn build(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("bench.db");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(
        "PRAGMA page_size=4096;
         CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, n INTEGER, data BLOB, note TEXT);
         BEGIN;",
    )
    .unwrap();
    {
        let mut st = conn
            .prepare("INSERT INTO t(name, score, n, data, note) VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap();
        for i in 0..ROWS {
            let note: Option<String> = if i % 3 == 0 {
                None
            } else {
                Some(format!("note number {i} with some text"))
            };
            st.execute(rusqlite::params![
                format!("user-{i:08}"),
                i as f64 * 0.25,
                i * 7919,
                vec![(i % 251) as u8; 40],
                note
            ])
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    p
}

fn ours_scan(f: &sqlite::SqliteFile, t: &sqlite::TableInfo) -> u64 {
    let mut acc = 0u64;
    let mut rows = f.rows(t).unwrap();
    while let Some(r) = rows.next_row() {
        let r = r.unwrap();
        for v in r.values() {
            acc += match v {
                sqlite::ValueRef::Null => 1,
                sqlite::ValueRef::Integer(i) => i as u64,
                sqlite::ValueRef::Real(x) => x as u64,
                sqlite::ValueRef::Text(b) | sqlite::ValueRef::Blob(b) => b.len() as u64,
            };
        }
    }
    acc
}

fn rusqlite_scan(conn: &rusqlite::Connection) -> u64 {
    use rusqlite::types::ValueRef;
    let mut acc = 0u64;
    let mut st = conn.prepare_cached("SELECT * FROM t").unwrap();
    let n = st.column_count();
    let mut rows = st.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        for i in 0..n {
            acc += match r.get_ref(i).unwrap() {
                ValueRef::Null => 1,
                ValueRef::Integer(i) => i as u64,
                ValueRef::Real(x) => x as u64,
                ValueRef::Text(b) | ValueRef::Blob(b) => b.len() as u64,
            };
        }
    }
    acc
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let p = build(dir.path());
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let t = f.table("t").unwrap();
    let conn =
        rusqlite::Connection::open_with_flags(&p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    assert_eq!(ours_scan(&f, &t), rusqlite_scan(&conn));
    let mut g = c.benchmark_group("full_scan_200k_rows");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(20);
    g.bench_function("sqlite_reader", |b| b.iter(|| ours_scan(&f, &t)));
    g.bench_function("sqlite_reader_open_and_scan", |b| {
        b.iter(|| {
            let f = sqlite::SqliteFile::open(&p).unwrap();
            let t = f.table("t").unwrap();
            ours_scan(&f, &t)
        })
    });
    g.bench_function("rusqlite_select_star", |b| b.iter(|| rusqlite_scan(&conn)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
