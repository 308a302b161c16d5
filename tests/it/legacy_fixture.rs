//! The legacy-fixture generator (`tools/make-legacy-fixture`) against the SQLite reader:
//! every table of every generated file reads with the row counts Python's sqlite3 saw,
//! the un-checkpointed WAL is applied, and reading changes nothing on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use aragora_db::sqlite::{SqliteFile, TableKind, ValueRef};
use rusqlite::types::ValueRef as Sq;
use sha2::{Digest, Sha256};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let p = e.expect("dir entry").path();
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, [u8; 32]> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read file");
            (p, Sha256::digest(&bytes).into())
        })
        .collect()
}

#[test]
fn legacy_fixture_reads_like_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("nomic");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/make-legacy-fixture");
    let status = match Command::new("python3")
        .arg(&tool)
        .arg(&out)
        .args(["--rows", "40", "--seed", "7"])
        .status()
    {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !crate::common::ci() => {
            eprintln!("SKIPPED legacy_fixture: python3 not found");
            return;
        }
        Err(e) => panic!("running python3 (CI=true requires it): {e}"),
    };
    assert!(status.success(), "make-legacy-fixture failed: {status}");

    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("MANIFEST.json")).expect("MANIFEST.json"),
    )
    .expect("MANIFEST.json parses");
    let mfiles = manifest["files"].as_object().expect("files object");

    // Python may leave -shm files behind; remove them, then make sure we create none.
    let mut all = Vec::new();
    walk(&out, &mut all);
    for p in &all {
        if p.to_string_lossy().ends_with("-shm") {
            std::fs::remove_file(p).expect("remove -shm");
        }
    }
    let before = snapshot(&out);
    // Real SQLite reads a copy (it may checkpoint the -wal or create a -shm).
    let oracle = tmp.path().join("oracle");
    copy_dir(&out, &oracle);

    let mut dbs: Vec<PathBuf> = before
        .keys()
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .cloned()
        .collect();
    dbs.sort();
    let seen: BTreeSet<String> = dbs
        .iter()
        .map(|p| {
            p.strip_prefix(&out)
                .expect("under out")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let expected: BTreeSet<String> = mfiles.keys().cloned().collect();
    assert_eq!(seen, expected, "database files vs MANIFEST.json");

    let mut total_rows = 0u64;
    let mut wal_files = 0;
    for path in &dbs {
        let rel = path
            .strip_prefix(&out)
            .expect("under out")
            .to_string_lossy()
            .replace('\\', "/");
        let entry = &mfiles[&rel];
        let want = entry["tables"].as_object().expect("tables");
        let want_virtual: BTreeSet<&str> = entry["virtual_tables"]
            .as_array()
            .expect("virtual_tables")
            .iter()
            .map(|v| v.as_str().expect("name"))
            .collect();
        let columns = entry["columns"].as_object().expect("columns");
        let file = SqliteFile::open(path).unwrap_or_else(|e| panic!("{rel}: open: {e}"));

        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        let mut got_virtual = BTreeSet::new();
        for table in file
            .tables()
            .unwrap_or_else(|e| panic!("{rel}: tables: {e}"))
        {
            if table.kind == TableKind::Virtual {
                got_virtual.insert(table.name.clone());
                continue;
            }
            let shape = columns.get(&table.name);
            let col_idx = |key: &str| -> Vec<usize> {
                shape
                    .and_then(|s| s[key].as_array())
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(|n| {
                                table
                                    .columns
                                    .iter()
                                    .position(|c| Some(c.name.as_str()) == n.as_str())
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let json_cols = col_idx("json_columns");
            let f32_cols = col_idx("f32_blob_columns");
            let mut rows = file
                .rows(&table)
                .unwrap_or_else(|e| panic!("{rel}: {}: rows: {e}", table.name));
            // Every value, against what real SQLite reads, row by row in
            // rowid (WITHOUT ROWID: key) order.
            let conn = rusqlite::Connection::open(oracle.join(&rel)).expect("rusqlite open");
            let order = if table.without_rowid() {
                ""
            } else {
                " ORDER BY rowid"
            };
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{}\"{order}", table.name))
                .expect("rusqlite prepare");
            let ncols = stmt.column_count();
            let mut want_rows = stmt.query([]).expect("rusqlite query");
            let mut n = 0u64;
            while let Some(row) = rows.next_row() {
                let row = row.unwrap_or_else(|e| panic!("{rel}: {}: row {n}: {e}", table.name));
                let want = want_rows
                    .next()
                    .expect("rusqlite row")
                    .unwrap_or_else(|| panic!("{rel}: {}: more rows than SQLite", table.name));
                assert_eq!(row.len(), ncols, "{rel}: {}: columns", table.name);
                for (i, v) in row.values().enumerate() {
                    let same = match (v, want.get_ref(i).expect("rusqlite value")) {
                        (ValueRef::Null, Sq::Null) => true,
                        (ValueRef::Integer(a), Sq::Integer(b)) => a == b,
                        (ValueRef::Real(a), Sq::Real(b)) => a.to_bits() == b.to_bits(),
                        (ValueRef::Text(a), Sq::Text(b)) => a == b,
                        (ValueRef::Blob(a), Sq::Blob(b)) => a == b,
                        _ => false,
                    };
                    assert!(
                        same,
                        "{rel}: {} row {n} column {}: read {v:?}, SQLite reads {:?}",
                        table.name,
                        table.columns[i].name,
                        want.get_ref(i)
                    );
                    if let ValueRef::Text(t) = v {
                        assert!(
                            std::str::from_utf8(t).is_ok(),
                            "{rel}: {}: invalid UTF-8 text",
                            table.name
                        );
                    }
                }
                for &i in &json_cols {
                    if let ValueRef::Text(t) = row.get(i) {
                        serde_json::from_slice::<serde_json::Value>(t).unwrap_or_else(|e| {
                            panic!(
                                "{rel}: {}.{}: bad JSON: {e}",
                                table.name, table.columns[i].name
                            )
                        });
                    }
                }
                for &i in &f32_cols {
                    if let ValueRef::Blob(b) = row.get(i) {
                        assert_eq!(b.len() % 4, 0, "{rel}: {}: f32 blob length", table.name);
                    }
                }
                n += 1;
            }
            assert!(
                want_rows.next().expect("rusqlite row").is_none(),
                "{rel}: {}: fewer rows than SQLite",
                table.name
            );
            let counted = file
                .row_count(&table)
                .unwrap_or_else(|e| panic!("{rel}: {}: row_count: {e}", table.name));
            assert_eq!(counted, n, "{rel}: {}: row_count vs rows()", table.name);
            total_rows += n;
            got.insert(table.name.clone(), n);
        }
        let want_counts: BTreeMap<String, u64> = want
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
            .collect();
        assert_eq!(got, want_counts, "{rel}: row counts vs MANIFEST.json");
        let got_virtual: BTreeSet<&str> = got_virtual.iter().map(String::as_str).collect();
        assert_eq!(got_virtual, want_virtual, "{rel}: virtual tables");

        let wal = file.wal_state();
        if let Some(mw) = entry.get("wal") {
            wal_files += 1;
            assert!(wal.present, "{rel}: -wal not seen");
            assert!(wal.ignored_reason.is_none(), "{rel}: WAL ignored: {wal:?}");
            assert!(
                wal.committed_frames > 0 && wal.commits > 0,
                "{rel}: {wal:?}"
            );
            assert_eq!(
                u64::from(wal.frames_total),
                mw["frames"].as_u64().expect("frames")
            );
            assert_eq!(
                u64::from(wal.committed_frames),
                mw["committed_frames"].as_u64().expect("committed_frames"),
                "{rel}: {wal:?}"
            );
            assert_eq!(
                u64::from(wal.commits),
                mw["commits"].as_u64().expect("commits")
            );
            assert_eq!(wal.bytes, mw["bytes"].as_u64().expect("bytes"));
        } else {
            assert!(!wal.present, "{rel}: unexpected -wal: {wal:?}");
        }
    }
    assert_eq!(wal_files, 1, "exactly one file left with a -wal");
    assert!(total_rows > 1000, "fixture too small: {total_rows} rows");

    let after = snapshot(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files appeared or vanished while reading (a -shm?)"
    );
    for (p, h) in &before {
        assert_eq!(
            Some(h),
            after.get(p),
            "{} changed while reading",
            p.display()
        );
    }
}
