//! Pages are read on demand through a bounded cache: scanning a file many times the
//! cache size keeps the resident page bytes under the bound, and a file changed while
//! it is read gives `SqliteError::Changed` naming it instead of mixed data.
//!
//! The large-file test builds `ARAGORA_PAGER_TEST_MB` MB (default 48) with SQLite.
use std::path::{Path, PathBuf};

use aragora_db::sqlite::{self, SqliteError, ValueRef, cursor::MAX_DEPTH};

const CACHE: usize = 1 << 20;

/// A rowid table of `rows` rows: (id, n = id * 3, b = 300 random bytes), every 500th
/// row with a 20 kB blob that spills into overflow pages.
fn build(path: &Path, rows: u64, journal: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA page_size=4096; PRAGMA journal_mode={journal};
         CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, b BLOB);
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows})
         INSERT INTO t SELECT i, i * 3, randomblob(CASE WHEN i % 500 = 0 THEN 20000 ELSE 300 END) FROM c;"
    ))
    .unwrap();
}

fn big_db(dir: &Path) -> (PathBuf, u64) {
    let mb: u64 = std::env::var("ARAGORA_PAGER_TEST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let rows = mb * 1_000_000 / 360;
    let p = dir.join("big.db");
    build(&p, rows, "DELETE");
    (p, rows)
}

#[test]
fn scanning_a_large_file_keeps_resident_pages_under_the_cache_bound() {
    let d = tempfile::tempdir().unwrap();
    let (p, rows) = big_db(d.path());
    let file_bytes = std::fs::metadata(&p).unwrap().len();
    let f = sqlite::SqliteFile::open_with_cache(&p, CACHE).unwrap();
    let page = u64::from(f.header().page_size);
    let after_open = f.cache_stats();
    assert!(!after_open.fully_resident);
    assert!(after_open.resident_bytes <= page * 2, "{after_open:?}");
    let t = f.table("t").unwrap();
    let mut it = f.rows(&t).unwrap();
    let (mut n, mut sum, mut big) = (0u64, 0i64, 0u64);
    while let Some(r) = it.next_row() {
        let r = r.unwrap();
        let id = r.rowid().unwrap();
        assert_eq!(r.get(1), ValueRef::Integer(id * 3));
        match r.get(2) {
            ValueRef::Blob(b) if b.len() == 20000 => big += 1,
            ValueRef::Blob(b) => assert_eq!(b.len(), 300, "row {id}"),
            other => panic!("row {id}: {other:?}"),
        }
        n += 1;
        sum += id;
    }
    drop(it);
    assert_eq!(n, rows);
    assert_eq!(sum, (rows * (rows + 1) / 2) as i64);
    assert_eq!(big, rows / 500);
    let s = f.cache_stats();
    // Cache, plus what one scan pins: its b-tree path and one page being loaded.
    let bound = s.capacity_bytes + (MAX_DEPTH as u64 + 2) * (page + 24);
    assert!(s.peak_resident_bytes <= bound, "{s:?}, bound {bound}");
    assert!(s.resident_bytes <= s.capacity_bytes, "{s:?}");
    assert!(
        s.peak_resident_bytes * 10 < file_bytes,
        "{s:?} for a {file_bytes}-byte file"
    );
    // Every page of the file was read once at least, through the cache.
    assert!(s.pages_read >= file_bytes / page - 1, "{s:?}");
    assert!(s.misses > 0 && s.hits > 0, "{s:?}");
    assert_eq!(f.row_count(&t).unwrap(), rows);
}

#[test]
fn a_small_database_is_read_whole_at_open() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("small.db");
    build(&p, 200, "WAL");
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let s = f.cache_stats();
    assert!(s.fully_resident, "{s:?}");
    let pages = u64::from(f.header().page_count);
    assert_eq!(s.misses, 0, "{s:?}");
    assert!(s.resident_bytes >= pages * u64::from(f.header().page_size));
    // Later reads never touch the files: deleting them changes nothing.
    std::fs::remove_file(&p).unwrap();
    let t = f.table("t").unwrap();
    assert_eq!(f.rows(&t).unwrap().count(), 200);
}

fn expect_changed<T: std::fmt::Debug>(r: Result<T, SqliteError>, path: &Path) {
    let e = r.expect_err("the change was not noticed");
    assert!(
        matches!(e.root(), SqliteError::Changed { .. }),
        "expected Changed, got {e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("changed while being read"), "{msg}");
    assert!(
        msg.contains(&*path.file_name().unwrap().to_string_lossy()),
        "{msg}"
    );
}

/// Read 10 rows, let `change` modify the database, then read the rest;
/// returns every row's (rowid, n).
fn scan_around(path: &Path, change: impl FnOnce()) -> Result<Vec<(i64, i64)>, SqliteError> {
    let f = sqlite::SqliteFile::open_with_cache(path, 256 * 1024).unwrap();
    let t = f.table("t").unwrap();
    let mut it = f.rows(&t).unwrap();
    let mut seen = Vec::new();
    let pair = |r: &sqlite::Row<'_>| match r.get(1) {
        ValueRef::Integer(n) => (r.rowid().unwrap(), n),
        other => panic!("n = {other:?}"),
    };
    for _ in 0..10 {
        seen.push(pair(&it.next_row().unwrap().unwrap()));
    }
    change();
    while let Some(r) = it.next_row() {
        seen.push(pair(&r?));
    }
    Ok(seen)
}

#[test]
fn a_rollback_database_changed_during_a_scan_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("rb.db");
    build(&p, 20_000, "DELETE");
    let r = scan_around(&p, || {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute("UPDATE t SET n = -1 WHERE id % 100 = 0", [])
            .unwrap();
    });
    expect_changed(r, &p);
    // Untouched, the same scan succeeds.
    scan_around(&p, || {}).unwrap();
}

#[test]
fn a_checkpoint_of_newer_commits_during_a_scan_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("wal.db");
    build(&p, 20_000, "WAL");
    let writer = rusqlite::Connection::open(&p).unwrap();
    writer
        .execute_batch("PRAGMA wal_autocheckpoint=0; UPDATE t SET n = 0 WHERE id % 7 = 0;")
        .unwrap();
    let r = scan_around(&p, || {
        writer
            .execute_batch(
                "UPDATE t SET n = -1 WHERE id % 100 = 0; PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .unwrap();
    });
    expect_changed(r, &p);
}

#[test]
fn appends_to_the_wal_alone_do_not_disturb_a_scan() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("wal2.db");
    build(&p, 20_000, "WAL");
    let writer = rusqlite::Connection::open(&p).unwrap();
    writer
        .execute_batch("PRAGMA wal_autocheckpoint=0; UPDATE t SET n = 0 WHERE id % 7 = 0;")
        .unwrap();
    let seen = scan_around(&p, || {
        writer
            .execute("UPDATE t SET n = -1 WHERE id % 100 = 0", [])
            .unwrap();
    })
    .unwrap();
    // The scan sees the snapshot it started on: the first WAL commit
    // (n = 0 for every 7th id), none of the appended one (n = -1).
    assert_eq!(seen.len(), 20_000);
    for (i, &(id, n)) in seen.iter().enumerate() {
        assert_eq!(id, i as i64 + 1, "rowid order");
        let want = if id % 7 == 0 { 0 } else { id * 3 };
        assert_eq!(n, want, "row {id}");
    }
    // A new reader sees the appended commit too.
    let again = scan_around(&p, || {}).unwrap();
    assert!(again.iter().all(|&(id, n)| id % 100 != 0 || n == -1));
}
