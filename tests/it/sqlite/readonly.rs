//! Opening and reading never modifies anything: every file in the directory (main, -wal)
//! hashes the same before and after, and no -shm or -journal appears.
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use aragora_db::sqlite;

use super::common::*;

fn snapshot(dir: &Path) -> BTreeMap<String, (u64, u64, Option<std::time::SystemTime>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (bytes.len() as u64, h.finish(), m.modified().ok()),
            )
        })
        .collect()
}

#[test]
fn reading_never_writes() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("live.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);
         INSERT INTO t(v, b) VALUES ('a', zeroblob(10000)), ('b', x'00'), (NULL, NULL);",
    )
    .unwrap();
    let snap_dir = d.path().join("snap");
    std::fs::create_dir_all(&snap_dir).unwrap();
    let copy = copy_db(&path, &snap_dir, "live.db");
    drop(conn);
    assert!(sidecar(&copy, "-wal").exists());
    let before = snapshot(&snap_dir);
    {
        let f = sqlite::SqliteFile::open(&copy).unwrap();
        assert!(f.wal_state().committed_frames > 0);
        for t in f.tables().unwrap() {
            sqlite::dump::write_jsonl(&f, &t, std::io::sink()).unwrap();
            sqlite::dump::write_csv(&f, &t, std::io::sink()).unwrap();
            f.row_count(&t).unwrap();
        }
        let info = sqlite::DbInfo::gather(&f).unwrap();
        assert!(info.to_string().contains("wal:"));
        f.freelist().unwrap();
        f.indexes().unwrap();
    }
    let after = snapshot(&snap_dir);
    assert_eq!(before, after);
    assert!(!sidecar(&copy, "-shm").exists());
    assert!(!sidecar(&copy, "-journal").exists());
}

#[test]
fn read_only_file_permissions_suffice() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let p = sample_db(d.path(), "ro.db", 4096);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let f = sqlite::SqliteFile::open(&p).unwrap();
    assert_eq!(read_all(&f).unwrap(), 400);
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}
