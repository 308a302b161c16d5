//! Shared helpers: build databases with real SQLite (rusqlite, bundled) and compare
//! what SQLite returns with what the reader returns.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aragora_db::sqlite;
use rusqlite::types::ValueRef as SqlRef;

/// A value as SQLite returned it, compared by storage class and exact bytes/bits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum V {
    Null,
    Int(i64),
    Real(u64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

pub fn from_sql(v: SqlRef<'_>) -> V {
    match v {
        SqlRef::Null => V::Null,
        SqlRef::Integer(i) => V::Int(i),
        SqlRef::Real(r) => V::Real(r.to_bits()),
        SqlRef::Text(t) => V::Text(t.to_vec()),
        SqlRef::Blob(b) => V::Blob(b.to_vec()),
    }
}

pub fn from_ours(v: sqlite::ValueRef<'_>) -> V {
    match v {
        sqlite::ValueRef::Null => V::Null,
        sqlite::ValueRef::Integer(i) => V::Int(i),
        sqlite::ValueRef::Real(r) => V::Real(r.to_bits()),
        sqlite::ValueRef::Text(t) => V::Text(t.to_vec()),
        sqlite::ValueRef::Blob(b) => V::Blob(b.to_vec()),
    }
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Rows of every table as SQLite sees them: (table, rows), rows = (rowid?, values).
pub type TableRows = Vec<(String, Vec<(Option<i64>, Vec<V>)>)>;

/// Read all tables with real SQLite (it may create -shm and checkpoint: use a copy).
pub fn oracle(path: &Path) -> TableRows {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut names: Vec<(String, bool)> = Vec::new();
    {
        let mut st = conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type='table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY rowid")
            .unwrap();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let name: String = r.get(0).unwrap();
            let sql: String = r.get(1).unwrap();
            names.push((name, sql.to_ascii_uppercase().contains("WITHOUT ROWID")));
        }
    }
    let mut out = Vec::new();
    for (name, without_rowid) in names {
        let q = if without_rowid {
            format!("SELECT * FROM {}", quote_ident(&name))
        } else {
            format!(
                "SELECT _rowid_, * FROM {} ORDER BY _rowid_",
                quote_ident(&name)
            )
        };
        let mut st = conn.prepare(&q).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        let mut got = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            if without_rowid {
                got.push((
                    None,
                    (0..n).map(|i| from_sql(r.get_ref(i).unwrap())).collect(),
                ));
            } else {
                let rowid: i64 = r.get(0).unwrap();
                got.push((
                    Some(rowid),
                    (1..n).map(|i| from_sql(r.get_ref(i).unwrap())).collect(),
                ));
            }
        }
        if without_rowid {
            got.sort();
        }
        out.push((name, got));
    }
    out
}

/// Read all tables with our reader.
pub fn ours(file: &sqlite::SqliteFile) -> Result<TableRows, sqlite::SqliteError> {
    let mut out = Vec::new();
    for t in file.tables()? {
        if t.kind == sqlite::TableKind::Virtual {
            continue;
        }
        let mut rows = file.rows(&t)?;
        let mut got = Vec::new();
        while let Some(r) = rows.next_row() {
            let r = r?;
            got.push((r.rowid(), r.values().map(from_ours).collect::<Vec<_>>()));
        }
        if t.without_rowid() {
            got.sort();
        }
        let count = file.row_count(&t)?;
        assert_eq!(count, got.len() as u64, "row_count of {}", t.name);
        out.push((t.name.clone(), got));
    }
    Ok(out)
}

/// Copy `db` and its -wal (if any) into `dir` under the name `name`; returns the new path.
pub fn copy_db(db: &Path, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(db, &dst).unwrap();
    let wal = sidecar(db, "-wal");
    if wal.exists() {
        std::fs::copy(&wal, sidecar(&dst, "-wal")).unwrap();
    }
    dst
}

pub fn sidecar(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Build a small database with a few tables of mixed content; returns its path.
pub fn sample_db(dir: &Path, name: &str, page_size: u32) -> PathBuf {
    let path = dir.join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA page_size={page_size};
         CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB);
         CREATE INDEX t_name ON t(name);
         CREATE TABLE w(a TEXT, b INTEGER, PRIMARY KEY(a, b)) WITHOUT ROWID;"
    ))
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..200i64 {
        let big = vec![b'x'; (i as usize * 37) % 3000];
        tx.execute(
            "INSERT INTO t(name, score, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![format!("name{i}"), i as f64 / 3.0, big],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO w VALUES (?1, ?2)",
            rusqlite::params![format!("k{}", i % 17), i],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    path
}

/// SQLite's WAL checksum, for building WAL fixtures by hand.
pub fn wal_checksum(big: bool, data: &[u8], mut s0: u32, mut s1: u32) -> (u32, u32) {
    for c in data.chunks_exact(8) {
        let w = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        s0 = s0.wrapping_add(w(&c[0..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(w(&c[4..8])).wrapping_add(s0);
    }
    (s0, s1)
}

/// Build a WAL: `frames` = (page number, commit db size or 0, page bytes).
pub fn make_wal(
    page_size: u32,
    big: bool,
    salts: (u32, u32),
    frames: &[(u32, u32, Vec<u8>)],
) -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(&(0x377f0682u32 | u32::from(big)).to_be_bytes());
    w.extend_from_slice(&3007000u32.to_be_bytes());
    w.extend_from_slice(&page_size.to_be_bytes());
    w.extend_from_slice(&0u32.to_be_bytes());
    w.extend_from_slice(&salts.0.to_be_bytes());
    w.extend_from_slice(&salts.1.to_be_bytes());
    let (mut s0, mut s1) = wal_checksum(big, &w[..24], 0, 0);
    w.extend_from_slice(&s0.to_be_bytes());
    w.extend_from_slice(&s1.to_be_bytes());
    for (pgno, commit, data) in frames {
        assert_eq!(data.len(), page_size as usize);
        let mut h = Vec::new();
        h.extend_from_slice(&pgno.to_be_bytes());
        h.extend_from_slice(&commit.to_be_bytes());
        (s0, s1) = wal_checksum(big, &h, s0, s1);
        (s0, s1) = wal_checksum(big, data, s0, s1);
        h.extend_from_slice(&salts.0.to_be_bytes());
        h.extend_from_slice(&salts.1.to_be_bytes());
        h.extend_from_slice(&s0.to_be_bytes());
        h.extend_from_slice(&s1.to_be_bytes());
        w.extend_from_slice(&h);
        w.extend_from_slice(data);
    }
    w
}

pub fn root_page(path: &Path, name: &str) -> u32 {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(
        "SELECT rootpage FROM sqlite_schema WHERE name=?1",
        [name],
        |r| r.get(0),
    )
    .unwrap()
}

pub fn be32_at(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

pub fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

pub fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// Read every table fully with the reader; returns the first error.
pub fn read_all(file: &sqlite::SqliteFile) -> Result<u64, sqlite::SqliteError> {
    let mut n = 0;
    for t in file.tables()? {
        let mut rows = file.rows(&t)?;
        while let Some(r) = rows.next_row() {
            r?;
            n += 1;
        }
    }
    Ok(n)
}
