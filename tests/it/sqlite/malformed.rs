//! One deterministic fixture per file-format rule a damaged file can break (the header,
//! b-tree pages, overflow chains, the freelist, records, the schema, a hot journal, and
//! the WAL as SQLite's recovery reads it), each built by mutating a valid file,
//! asserting the specific typed error — and never a panic.
use std::path::{Path, PathBuf};

use aragora_db::sqlite;
use sqlite::SqliteError;

use super::common::*;

const PS: usize = 4096;

/// Base fixture: s (10 small rows on one leaf), big (one row, 5-page overflow chain),
/// x (many pages: interior root), f (rows deleted → freelist), w (WITHOUT ROWID).
fn base(dir: &Path) -> PathBuf {
    let path = dir.join("base.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA page_size=4096;
         CREATE TABLE s(x);
         CREATE TABLE big(id INTEGER PRIMARY KEY, data BLOB);
         CREATE TABLE x(a);
         CREATE TABLE f(a);
         CREATE TABLE w(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
         BEGIN;",
    )
    .unwrap();
    for i in 1..=10 {
        conn.execute("INSERT INTO s VALUES (?1)", [i]).unwrap();
    }
    conn.execute("INSERT INTO big VALUES (1, ?1)", [vec![7u8; 20000]])
        .unwrap();
    for i in 0..60 {
        conn.execute("INSERT INTO x VALUES (?1)", [vec![i as u8; 3000]])
            .unwrap();
        conn.execute("INSERT INTO f VALUES (?1)", [vec![i as u8; 2000]])
            .unwrap();
        conn.execute(
            "INSERT INTO w VALUES (?1, ?2)",
            rusqlite::params![format!("k{i:03}"), i],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT; DELETE FROM f;").unwrap();
    drop(conn);
    path
}

fn bytes(dir: &Path) -> (Vec<u8>, PathBuf) {
    let p = base(dir);
    (std::fs::read(&p).unwrap(), p)
}

fn open_bytes(b: Vec<u8>) -> Result<sqlite::SqliteFile, SqliteError> {
    sqlite::SqliteFile::from_bytes(b, None)
}

#[track_caller]
fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, SqliteError>, page: u32, offset: Option<u64>) {
    match r {
        Err(e) => match e.root() {
            SqliteError::Corrupt {
                page: p, offset: o, ..
            } => {
                assert_eq!(*p, page, "page in {e}");
                if let Some(off) = offset {
                    assert_eq!(*o, off, "offset in {e}");
                }
            }
            other => panic!("expected Corrupt on page {page}, got {other:?}"),
        },
        Ok(v) => panic!("expected Corrupt on page {page}, got Ok({v:?})"),
    }
}

fn page_off(pgno: u32) -> usize {
    (pgno as usize - 1) * PS
}

fn scan(b: Vec<u8>, table: &str) -> Result<u64, SqliteError> {
    let f = open_bytes(b)?;
    let t = f.table(table)?;
    let mut rows = f.rows(&t)?;
    let mut n = 0;
    while let Some(r) = rows.next_row() {
        r?;
        n += 1;
    }
    Ok(n)
}

#[test]
fn baseline_reads() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let f = open_bytes(b).unwrap();
    assert_eq!(read_all(&f).unwrap(), 10 + 1 + 60 + 60);
    assert!(f.freelist().unwrap().total() > 0);
    assert_eq!(oracle(&p).len(), 5);
}

// ---- H: header ----

#[test]
fn h1_not_a_database() {
    for b in [
        Vec::new(),
        b"SQLite format 3\0".to_vec(),
        b"SQLite format 2\0".repeat(10),
        vec![0u8; 4096],
    ] {
        match open_bytes(b) {
            Err(SqliteError::NotADatabase { .. }) => {}
            other => panic!("expected NotADatabase, got {other:?}"),
        }
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.db");
    std::fs::write(&p, b"hello").unwrap();
    match sqlite::SqliteFile::open(&p) {
        Err(SqliteError::NotADatabase { path, .. }) => assert_eq!(path, p),
        other => panic!("{other:?}"),
    }
}

#[test]
fn h2_bad_page_size() {
    let d = tempfile::tempdir().unwrap();
    let (b, _) = bytes(d.path());
    for ps in [0u16, 3, 256, 1000, 0xFFFF] {
        let mut m = b.clone();
        put16(&mut m, 16, ps);
        assert_corrupt(open_bytes(m), 1, Some(16));
    }
}

#[test]
fn h3_read_write_versions() {
    let d = tempfile::tempdir().unwrap();
    let (b, _) = bytes(d.path());
    for (w, r) in [(3u8, 3u8), (1, 3)] {
        let mut m = b.clone();
        m[18] = w;
        m[19] = r;
        assert!(matches!(open_bytes(m), Err(SqliteError::Unsupported(_))));
    }
    for (w, r) in [(2u8, 1u8), (3, 1)] {
        let mut m = b.clone();
        m[18] = w;
        m[19] = r;
        assert_eq!(read_all(&open_bytes(m).unwrap()).unwrap(), 131);
    }
}

#[test]
fn h4_reserved_leaves_too_little() {
    let d = tempfile::tempdir().unwrap();
    let p = sample_db(d.path(), "small.db", 512);
    let mut b = std::fs::read(p).unwrap();
    b[20] = 255;
    assert_corrupt(open_bytes(b), 1, Some(20));
}

#[test]
fn h5_payload_fractions() {
    let d = tempfile::tempdir().unwrap();
    let (mut b, _) = bytes(d.path());
    b[21] = 65;
    assert_corrupt(open_bytes(b), 1, Some(21));
}

#[test]
fn h6_in_header_size() {
    let d = tempfile::tempdir().unwrap();
    let (b, _) = bytes(d.path());
    let pages = (b.len() / PS) as u32;
    // Valid (counter == version-valid-for) but larger than the file: corrupt, as SQLite.
    let mut m = b.clone();
    put32(&mut m, 28, pages + 5);
    assert_corrupt(open_bytes(m), 1, Some(28));
    // Size 0, or counter mismatch: the file size is used.
    let mut m = b.clone();
    put32(&mut m, 28, 0);
    assert_eq!(read_all(&open_bytes(m).unwrap()).unwrap(), 131);
    let mut m = b.clone();
    put32(&mut m, 28, pages + 5);
    let cc = be32_at(&m, 24);
    put32(&mut m, 92, cc + 1);
    let f = open_bytes(m).unwrap();
    assert_eq!(f.header().page_count, pages);
    assert_eq!(read_all(&f).unwrap(), 131);
    // Header smaller than the tree needs: pages past it do not exist.
    let mut m = b.clone();
    put32(&mut m, 28, 3);
    let e = read_all(&open_bytes(m).unwrap()).unwrap_err();
    assert!(
        matches!(
            e.root(),
            SqliteError::Schema { .. } | SqliteError::Corrupt { .. }
        ),
        "{e}"
    );
    // File cut mid-page: the tail reads as zeros, never past the buffer;
    // the page count comes from the size rounded up, as SQLite does.
    let mut m = b.clone();
    m.truncate(b.len() - 100);
    put32(&mut m, 28, 0);
    let cut = d.path().join("cut.db");
    std::fs::write(&cut, &m).unwrap();
    let f = open_bytes(m).expect("a file cut mid-page opens");
    assert_eq!(f.header().page_count, pages, "the partial page counts");
    // SQLite reads this file whole (the cut bytes were zeros or unused);
    // so must the reader, with the same rows.
    let sqlite_sees = rusqlite_rows(&cut).expect("SQLite reads the cut file");
    assert_eq!(
        ours(&f).expect("the reader reads the cut file"),
        sqlite_sees
    );
}

/// What real SQLite reads from a damaged file: its rows, or its error.
fn rusqlite_rows(p: &Path) -> Result<TableRows, String> {
    let copy = p.with_extension("oracle.db");
    std::fs::copy(p, &copy).unwrap();
    std::panic::catch_unwind(|| oracle(&copy)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "panic".into())
    })
}

#[test]
fn h7_text_encoding() {
    let d = tempfile::tempdir().unwrap();
    let (b, _) = bytes(d.path());
    let mut m = b.clone();
    put32(&mut m, 56, 4);
    assert_corrupt(open_bytes(m), 1, Some(56));
    let mut m = b.clone();
    put32(&mut m, 56, 0); // SQLite reads 0 as UTF-8
    assert_eq!(
        open_bytes(m).unwrap().header().text_encoding,
        sqlite::TextEncoding::Utf8
    );
}

#[test]
fn h8_schema_format() {
    let d = tempfile::tempdir().unwrap();
    let (b, _) = bytes(d.path());
    let mut m = b.clone();
    put32(&mut m, 44, 5);
    assert_corrupt(open_bytes(m), 1, Some(44));
    // Format 1 forbids serial types 8/9; w's v values 0 and 1 are stored as 8/9.
    let mut m = b.clone();
    put32(&mut m, 44, 1);
    let err = scan(m, "w").unwrap_err();
    assert!(
        err.is_corrupt() && err.to_string().contains("serial type"),
        "{err}"
    );
}

#[test]
fn h9_autovacuum_pair() {
    let d = tempfile::tempdir().unwrap();
    let (mut b, _) = bytes(d.path());
    put32(&mut b, 64, 1);
    assert_corrupt(open_bytes(b), 1, Some(64));
}

#[test]
fn h10_lock_byte_page() {
    // A WAL commit makes the database 2^21+8 pages of 512 bytes (pages past the file read
    // as zeros); a child pointer to the lock-byte page 2^21+1 must be refused.
    let d = tempfile::tempdir().unwrap();
    let p = sample_db(d.path(), "lb.db", 512);
    let b = std::fs::read(&p).unwrap();
    let root = root_page(&p, "t");
    let lock_page = (1u32 << 30) / 512 + 1;
    let big = lock_page + 7;
    let mut p1 = b[..512].to_vec();
    put32(&mut p1, 28, big);
    let mut rootp = b[page_off_ps(root, 512)..page_off_ps(root, 512) + 512].to_vec();
    assert_eq!(rootp[0], 5, "t's root is an interior page");
    put32(&mut rootp, 8, lock_page);
    let wal = make_wal(512, false, (1, 2), &[(1, 0, p1), (root, big, rootp)]);
    let f = sqlite::SqliteFile::from_bytes(b, Some(wal)).unwrap();
    assert_eq!(f.header().page_count, big);
    let err = read_all(&f).unwrap_err();
    assert!(err.to_string().contains("lock-byte"), "{err}");
    assert_corrupt(Err::<(), _>(err), root, Some(8));
}

fn page_off_ps(pgno: u32, ps: usize) -> usize {
    (pgno as usize - 1) * ps
}

// ---- P: pages ----

#[test]
fn p1_page_type() {
    let d = tempfile::tempdir().unwrap();
    let (mut b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    b[page_off(root)] = 7;
    assert_corrupt(scan(b.clone(), "s"), root, Some(0));
    // Page 1's header lives at offset 100.
    let mut m = b;
    m[100] = 0;
    assert_corrupt(open_bytes(m).unwrap().tables(), 1, Some(100));
}

#[test]
fn p2_cell_count_and_pointers() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    let o = page_off(root);
    let mut m = b.clone();
    put16(&mut m, o + 3, 5000);
    assert_corrupt(scan(m, "s"), root, Some(3));
    let mut m = b.clone();
    put16(&mut m, o + 8, 2); // first cell pointer inside the header
    assert_corrupt(scan(m, "s"), root, Some(8));
    let mut m = b.clone();
    put16(&mut m, o + 8, (PS - 2) as u16); // past usable − 4
    assert_corrupt(scan(m, "s"), root, Some(8));
}

#[test]
fn p3_freeblock_loop() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    let o = page_off(root);
    // A freeblock at 2000 (size 8) whose next pointer loops back to itself.
    let mut m = b.clone();
    put16(&mut m, o + 1, 2000);
    put16(&mut m, o + 2000, 2000);
    put16(&mut m, o + 2002, 8);
    assert_corrupt(scan(m, "s"), root, Some(2000));
    let mut m = b.clone();
    m[o + 7] = 61;
    assert_corrupt(scan(m, "s"), root, Some(7));
}

/// Turn pages `from..=to` into a chain of empty interior pages ending in a leaf.
fn chain(b: &mut [u8], from: u32, to: u32, leaf: u32) {
    for pg in from..=to {
        let o = page_off(pg);
        b[o..o + PS].fill(0);
        b[o] = 5;
        put16(b, o + 5, PS as u16);
        put32(b, o + 8, if pg == to { leaf } else { pg + 1 });
    }
    let o = page_off(leaf);
    b[o..o + PS].fill(0);
    b[o] = 13;
    put16(b, o + 5, PS as u16);
}

#[test]
fn p4_child_pointers() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let root = root_page(&p, "x");
    let o = page_off(root);
    assert_eq!(b[o], 5);
    let pages = (b.len() / PS) as u32;
    for bad in [0u32, pages + 1, 1] {
        let mut m = b.clone();
        put32(&mut m, o + 8, bad);
        assert_corrupt(scan(m, "x"), root, Some(8));
    }
    // Cycle: the right child points back at the root.
    let mut m = b.clone();
    put32(&mut m, o + 8, root);
    let e = scan(m, "x").unwrap_err();
    assert!(e.to_string().contains("second time"), "{e}");
    // Depth > 20: a chain of 22 interior pages.
    let mut m = b.clone();
    chain(&mut m, root, root + 21, root + 22);
    let e = scan(m, "x").unwrap_err();
    assert!(e.to_string().contains("depth"), "{e}");
    // A chain of 19 interior pages + leaf (depth 20) is fine.
    let mut m = b.clone();
    chain(&mut m, root, root + 18, root + 19);
    assert_eq!(scan(m, "x").unwrap(), 0);
    // Unequal depth: root has one cell whose left child is a leaf, right child is interior.
    let mut m = b.clone();
    chain(&mut m, root + 2, root + 2, root + 3);
    let leaf = root + 1;
    let lo = page_off(leaf);
    m[lo..lo + PS].fill(0);
    m[lo] = 13;
    put16(&mut m, lo + 5, PS as u16);
    m[o..o + PS].fill(0);
    m[o] = 5;
    put16(&mut m, o + 3, 1);
    put16(&mut m, o + 5, (PS - 5) as u16);
    put32(&mut m, o + 8, root + 2);
    put16(&mut m, o + 12, (PS - 5) as u16);
    put32(&mut m, o + PS - 5, leaf);
    m[o + PS - 1] = 1;
    let e = scan(m, "x").unwrap_err();
    assert!(e.to_string().contains("depth differs"), "{e}");
}

#[test]
fn p5_rowid_order() {
    let d = tempfile::tempdir().unwrap();
    let (mut b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    let o = page_off(root);
    // Cell 2's rowid (second varint of the cell) becomes 1, a duplicate.
    let cell = u16::from_be_bytes([b[o + 10], b[o + 11]]) as usize;
    assert_eq!(b[o + cell + 1], 2);
    b[o + cell + 1] = 1;
    assert_corrupt(scan(b, "s"), root, Some(cell as u64));
}

#[test]
fn p6_payload_size_inconsistent() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    let o = page_off(root);
    // The first cell sits at the end of the page; claim a 127-byte payload.
    let cell = u16::from_be_bytes([b[o + 8], b[o + 9]]) as usize;
    let mut m = b.clone();
    m[o + cell] = 0x7f;
    assert_corrupt(scan(m, "s"), root, Some(cell as u64));
    // Claim a 2 MB payload for the big row: more overflow pages than the file has.
    let (broot, _, _) = overflow_pages(&b, &p);
    let bo = page_off(broot);
    let bcell = u16::from_be_bytes([b[bo + 8], b[bo + 9]]) as usize;
    let mut m = b.clone();
    assert!(m[bo + bcell] >= 0x80 && m[bo + bcell + 1] >= 0x80 && m[bo + bcell + 2] < 0x80);
    m[bo + bcell..bo + bcell + 3].copy_from_slice(&[0xff, 0xff, 0x7f]);
    let e = scan(m, "big").unwrap_err();
    assert!(matches!(e.root(), SqliteError::TooLarge { .. }), "{e}");
}

fn overflow_pages(b: &[u8], p: &Path) -> (u32, usize, Vec<u32>) {
    let root = root_page(p, "big");
    let o = page_off(root);
    let cell = u16::from_be_bytes([b[o + 8], b[o + 9]]) as usize;
    // payload len varint (3 bytes for 20000+), rowid 1 byte, then local bytes, then pointer.
    let (plen, n) = {
        let mut v = 0u64;
        let mut i = 0;
        loop {
            let x = b[o + cell + i];
            v = (v << 7) | u64::from(x & 0x7f);
            i += 1;
            if x < 0x80 {
                break (v, i);
            }
        }
    };
    let usable = PS as u64;
    let m = ((usable - 12) * 32 / 255) - 23;
    let k = m + ((plen - m) % (usable - 4));
    let local = if k <= usable - 35 { k } else { m } as usize;
    let ptr_off = cell + n + 1 + local;
    let mut chain = Vec::new();
    let mut next = be32_at(b, o + ptr_off);
    while next != 0 {
        chain.push(next);
        next = be32_at(b, page_off(next));
    }
    (root, ptr_off, chain)
}

#[test]
fn p7_overflow_chains() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let (root, ptr_off, chain) = overflow_pages(&b, &p);
    assert_eq!(chain.len(), 4);
    // Cycle: the second page points back to the first.
    let mut m = b.clone();
    put32(&mut m, page_off(chain[1]), chain[0]);
    let e = scan(m, "big").unwrap_err();
    assert!(e.to_string().contains("appears twice"), "{e}");
    assert_corrupt(Err::<(), _>(e), chain[1], Some(0));
    // Ends early.
    let mut m = b.clone();
    put32(&mut m, page_off(chain[2]), 0);
    assert_corrupt(scan(m, "big"), chain[2], Some(0));
    // Longer than needed.
    let mut m = b.clone();
    put32(&mut m, page_off(chain[3]), 2);
    assert_corrupt(scan(m, "big"), chain[3], Some(0));
    // Pointer out of range, from the cell itself.
    let mut m = b.clone();
    put32(&mut m, page_off(root) + ptr_off, 999_999);
    assert_corrupt(scan(m, "big"), root, Some(ptr_off as u64));
}

#[test]
fn p8_freelist() {
    let d = tempfile::tempdir().unwrap();
    let (b, _) = bytes(d.path());
    let trunk = be32_at(&b, 32);
    assert!(trunk != 0);
    let t = page_off(trunk);
    // Trunk loop.
    let mut m = b.clone();
    put32(&mut m, t, trunk);
    let e = open_bytes(m).unwrap().freelist().unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    // Leaf count too big.
    let mut m = b.clone();
    put32(&mut m, t + 4, (PS / 4 - 1) as u32);
    assert_corrupt(open_bytes(m).unwrap().freelist(), trunk, Some(4));
    // Count mismatch.
    let mut m = b.clone();
    put32(&mut m, 36, be32_at(&b, 36) + 1);
    assert_corrupt(open_bytes(m).unwrap().freelist(), 1, Some(36));
}

// ---- R: records ----

#[test]
fn r1_record_header() {
    let d = tempfile::tempdir().unwrap();
    let (b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    let o = page_off(root);
    let cell = u16::from_be_bytes([b[o + 10], b[o + 11]]) as usize;
    // second cell: payload len, rowid 2, [hdr size=2, serial type 1, value 2]
    assert_eq!(&b[o + cell..o + cell + 5], &[3, 2, 2, 1, 2]);
    for (i, v) in [(2usize, 9u8), (3, 10), (3, 11), (3, 19)] {
        let mut m = b.clone();
        m[o + cell + i] = v;
        assert_corrupt(scan(m, "s"), root, Some(cell as u64));
    }
}

#[test]
fn r2_short_records_take_defaults() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r2.db");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(
        "CREATE TABLE t(a);
         INSERT INTO t VALUES (1);
         ALTER TABLE t ADD COLUMN b INTEGER DEFAULT '42';
         ALTER TABLE t ADD COLUMN c TEXT DEFAULT 7;
         ALTER TABLE t ADD COLUMN d REAL DEFAULT 2;
         ALTER TABLE t ADD COLUMN e DEFAULT x'00ff';
         ALTER TABLE t ADD COLUMN f DEFAULT TRUE;
         ALTER TABLE t ADD COLUMN g DEFAULT -0x10;
         ALTER TABLE t ADD COLUMN h TEXT DEFAULT -5.50;
         ALTER TABLE t ADD COLUMN i NUMERIC DEFAULT '3.0';
         ALTER TABLE t ADD COLUMN j DEFAULT 1.0;
         ALTER TABLE t ADD COLUMN k;
         ALTER TABLE t ADD COLUMN l INT DEFAULT (-(-7));
         ALTER TABLE t ADD COLUMN m DEFAULT 'it''s';",
    )
    .unwrap();
    drop(conn);
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let ours = ours(&f).unwrap();
    assert_eq!(ours, oracle(&p));
}

#[test]
fn r2_non_constant_default_reads_null_like_sqlite() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r2b.db");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(
        "CREATE TABLE t(a); INSERT INTO t VALUES (1);
         PRAGMA writable_schema=ON;
         UPDATE sqlite_schema SET sql='CREATE TABLE t(a, b DEFAULT CURRENT_TIMESTAMP, c DEFAULT (1+2))' WHERE name='t';
         PRAGMA writable_schema=OFF;",
    )
    .unwrap();
    drop(conn);
    let f = sqlite::SqliteFile::open(&p).unwrap();
    assert_eq!(ours(&f).unwrap(), oracle(&p));
}

#[test]
fn r3_invalid_text_kept_as_bytes() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r3.db");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch("CREATE TABLE t(a TEXT); INSERT INTO t VALUES (CAST(x'ff00fe41' AS TEXT)), ('a' || char(0) || 'b');")
        .unwrap();
    drop(conn);
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let t = f.table("t").unwrap();
    let mut rows = f.rows(&t).unwrap();
    assert_eq!(
        rows.next_row().unwrap().unwrap().get(0),
        sqlite::ValueRef::Text(&[0xff, 0, 0xfe, 0x41])
    );
    assert_eq!(
        rows.next_row().unwrap().unwrap().get(0),
        sqlite::ValueRef::Text(b"a\0b")
    );
}

// ---- S1: schema ----

fn schema_edit(sql: &str) -> Result<(), SqliteError> {
    let d = tempfile::tempdir().unwrap();
    let p = base(d.path());
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA writable_schema=ON; {sql}; PRAGMA writable_schema=OFF;"
    ))
    .unwrap();
    drop(conn);
    let f = sqlite::SqliteFile::open(&p)?;
    read_all(&f).map(|_| ())
}

#[track_caller]
fn assert_schema(r: Result<(), SqliteError>, table: &str) {
    match r.as_ref().map_err(|e| e.root()) {
        Err(SqliteError::Schema { table: t, .. }) => {
            assert!(table.split('|').any(|x| x == t), "{t}")
        }
        other => panic!("expected Schema error for {table}, got {other:?}"),
    }
}

#[test]
fn s1_schema_objects() {
    assert_schema(
        schema_edit("UPDATE sqlite_schema SET rootpage=0 WHERE name='s'"),
        "s",
    );
    assert_schema(
        schema_edit(
            "UPDATE sqlite_schema SET rootpage=(SELECT rootpage FROM sqlite_schema WHERE name='x') WHERE name='s'",
        ),
        "s|x",
    );
    assert_schema(
        schema_edit("UPDATE sqlite_schema SET sql='CREATE TABLE s(((' WHERE name='s'"),
        "s",
    );
    assert_schema(
        schema_edit("UPDATE sqlite_schema SET rootpage=99999 WHERE name='s'"),
        "s",
    );
    // A rowid table whose root is an index b-tree is caught while scanning.
    let e = schema_edit(
        "UPDATE sqlite_schema SET sql='CREATE TABLE w(k TEXT PRIMARY KEY, v)' WHERE name='w'",
    )
    .unwrap_err();
    assert!(e.is_corrupt(), "{e}");
}

// ---- J1: hot journal ----

#[test]
fn j1_hot_journal_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = base(d.path());
    let j = sidecar(&p, "-journal");
    let mut journal = vec![0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    journal.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 10, 0, 0, 2, 0, 0, 0, 16, 0]);
    journal.resize(512 + 4 + PS + 4, 0);
    std::fs::write(&j, &journal).unwrap();
    match sqlite::SqliteFile::open(&p) {
        Err(SqliteError::HotJournal { path }) => assert_eq!(path, j),
        other => panic!("{other:?}"),
    }
    // Not hot: empty (TRUNCATE mode) or zeroed header (PERSIST mode).
    std::fs::write(&j, b"").unwrap();
    sqlite::SqliteFile::open(&p).unwrap();
    std::fs::write(&j, vec![0u8; 1024]).unwrap();
    sqlite::SqliteFile::open(&p).unwrap();
}

// ---- W: WAL ----

fn wal_db(dir: &Path) -> (PathBuf, PathBuf) {
    let path = dir.join("wal.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(a); INSERT INTO t VALUES (1);").unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    conn.execute_batch("INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);")
        .unwrap();
    let snap = dir.join("snap");
    std::fs::create_dir_all(&snap).unwrap();
    let copy = copy_db(&path, &snap, "wal.db");
    drop(conn);
    (copy.clone(), sidecar(&copy, "-wal"))
}

fn count_t(p: &Path) -> Result<u64, SqliteError> {
    let f = sqlite::SqliteFile::open(p)?;
    let t = f.table("t")?;
    f.row_count(&t)
}

#[test]
fn w1_w2_wal_ignored() {
    let d = tempfile::tempdir().unwrap();
    let (db, wal) = wal_db(d.path());
    let good = std::fs::read(&wal).unwrap();
    assert_eq!(count_t(&db).unwrap(), 3);
    type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<Mutation> = vec![
        Box::new(|w| w.clear()),
        Box::new(|w| w[0] = 0),
        Box::new(|w| w[25] ^= 1),
        Box::new(|w| put32(w, 8, 1000)),
    ];
    for c in cases {
        let mut w = good.clone();
        c(&mut w);
        std::fs::write(&wal, &w).unwrap();
        let f = sqlite::SqliteFile::open(&db).unwrap();
        assert!(f.wal_state().ignored_reason.is_some());
        assert_eq!(count_t(&db).unwrap(), 1);
    }
    std::fs::remove_file(&wal).unwrap();
    assert_eq!(count_t(&db).unwrap(), 1);
    assert!(!sqlite::SqliteFile::open(&db).unwrap().wal_state().present);
}

#[test]
fn w3_w4_wal_rejected() {
    let d = tempfile::tempdir().unwrap();
    let (db, wal) = wal_db(d.path());
    let good = std::fs::read(&wal).unwrap();
    // Version ≠ 3007000 (header checksum recomputed so only the version is wrong).
    let mut w = good.clone();
    put32(&mut w, 4, 3007001);
    let (s0, s1) = wal_checksum(false, &w[..24], 0, 0);
    put32(&mut w, 24, s0);
    put32(&mut w, 28, s1);
    std::fs::write(&wal, &w).unwrap();
    assert!(matches!(
        sqlite::SqliteFile::open(&db),
        Err(SqliteError::WalRejected { .. })
    ));
    // A valid WAL of another page size.
    let w = make_wal(1024, false, (5, 6), &[(2, 2, vec![0u8; 1024])]);
    std::fs::write(&wal, &w).unwrap();
    assert!(matches!(
        sqlite::SqliteFile::open(&db),
        Err(SqliteError::WalRejected { .. })
    ));
}

#[test]
fn w5_w7_w8_w9_uncommitted_broken_partial() {
    let d = tempfile::tempdir().unwrap();
    let (db, wal) = wal_db(d.path());
    let main = std::fs::read(&db).unwrap();
    let good = std::fs::read(&wal).unwrap();
    let ps = 4096;
    let frame = 24 + ps;
    let nframes = (good.len() - 32) / frame;
    assert!(nframes >= 2, "two commits");
    // W5: drop the commit flag of the last frame → last transaction ignored.
    let mut w = good.clone();
    let last = 32 + (nframes - 1) * frame;
    put32(&mut w, last + 4, 0);
    let f = sqlite::SqliteFile::from_bytes(main.clone(), Some(w)).unwrap();
    assert!(f.wal_state().committed_frames < nframes as u32);
    // W7: bit flip in the last frame's data.
    let mut w = good.clone();
    w[last + 24 + 100] ^= 1;
    let f = sqlite::SqliteFile::from_bytes(main.clone(), Some(w.clone())).unwrap();
    assert!(
        f.wal_state()
            .stop_reason
            .as_deref()
            .unwrap_or("")
            .contains("checksum")
    );
    std::fs::write(&wal, &w).unwrap();
    assert_eq!(count_t(&db).unwrap(), 2);
    // W8: partial trailing frame.
    let mut w = good.clone();
    w.truncate(last + 100);
    std::fs::write(&wal, &w).unwrap();
    assert_eq!(count_t(&db).unwrap(), 2);
    assert_eq!(oracle(&db)[0].1.len(), 2);
    // W9: page number 0 stops the scan.
    let mut w = good.clone();
    put32(&mut w, last, 0);
    let f = sqlite::SqliteFile::from_bytes(main, Some(w)).unwrap();
    assert!(
        f.wal_state()
            .stop_reason
            .as_deref()
            .unwrap_or("")
            .contains("page number 0")
    );
}

#[test]
fn w6_stale_frames_after_reset() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(a);")
        .unwrap();
    for i in 0..20 {
        conn.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
    }
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .unwrap();
    conn.execute("INSERT INTO t VALUES (100)", []).unwrap(); // restarts the WAL: new salts
    let snap = d.path().join("snap");
    std::fs::create_dir_all(&snap).unwrap();
    let copy = copy_db(&path, &snap, "r.db");
    drop(conn);
    let f = sqlite::SqliteFile::open(&copy).unwrap();
    let st = f.wal_state().clone();
    assert!(st.frames_total > st.committed_frames, "{st:?}");
    assert!(
        st.stop_reason.as_deref().unwrap_or("").contains("salt"),
        "{st:?}"
    );
    assert_eq!(ours(&f).unwrap(), oracle(&copy));
}

#[test]
fn w10_w11_w12_handmade_wal() {
    // Big-endian checksums, the same page in several commits, and a commit that shrinks
    // the database: the view must match SQLite reading the same files.
    let d = tempfile::tempdir().unwrap();
    let p = sample_db(d.path(), "h.db", 4096);
    let b = std::fs::read(&p).unwrap();
    let pages = (b.len() / 4096) as u32;
    let root = root_page(&p, "t");
    let page = |n: u32| b[(n as usize - 1) * 4096..n as usize * 4096].to_vec();
    // Commit 1: page 1 unchanged. Commit 2: page 1 again with user_version=7.
    let mut p1 = page(1);
    put32(&mut p1, 60, 7);
    for big in [false, true] {
        let wal = make_wal(
            4096,
            big,
            (11, 22),
            &[
                (root, 0, page(root)),
                (1, pages, page(1)),
                (1, pages, p1.clone()),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db");
        std::fs::write(&db, &b).unwrap();
        std::fs::write(sidecar(&db, "-wal"), &wal).unwrap();
        let f = sqlite::SqliteFile::open(&db).unwrap();
        assert_eq!(f.wal_state().commits, 2);
        assert_eq!(f.wal_state().big_endian_checksums, big);
        assert_eq!(f.header().user_version, 7);
        assert_eq!(ours(&f).unwrap(), oracle(&db));
        let conn = rusqlite::Connection::open(&db).unwrap();
        let uv: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(uv, 7);
    }
    // W10: a commit frame that shrinks the database below the tree's pages.
    let mut p1 = page(1);
    put32(&mut p1, 28, 2);
    let wal = make_wal(4096, false, (1, 1), &[(1, 2, p1)]);
    let f = sqlite::SqliteFile::from_bytes(b.clone(), Some(wal)).unwrap();
    assert_eq!(f.header().page_count, 2);
    let e = read_all(&f).unwrap_err();
    assert!(
        matches!(
            e.root(),
            SqliteError::Schema { .. } | SqliteError::Corrupt { .. }
        ),
        "{e}"
    );
}

#[test]
fn w13_w14_rollback_header_and_garbage_shm() {
    let d = tempfile::tempdir().unwrap();
    let (db, _wal) = wal_db(d.path());
    std::fs::write(sidecar(&db, "-shm"), vec![0xAB; 32768]).unwrap();
    let mut main = std::fs::read(&db).unwrap();
    main[18] = 1;
    main[19] = 1;
    std::fs::write(&db, &main).unwrap();
    let f = sqlite::SqliteFile::open(&db).unwrap();
    assert_eq!(count_t(&db).unwrap(), 3);
    // The WAL is used (as SQLite does) and the header's claim is reported.
    let w = f.wal_state();
    assert!(w.header_says_rollback, "{w:?}");
    assert!(
        w.present && w.ignored_reason.is_none() && w.commits > 0,
        "{w:?}"
    );
    let t = f.table("t").unwrap();
    let mut rows = f.rows(&t).unwrap();
    let mut got = Vec::new();
    while let Some(r) = rows.next_row() {
        got.push(from_ours(r.unwrap().get(0)));
    }
    assert_eq!(got, vec![V::Int(1), V::Int(2), V::Int(3)]);
}

#[test]
fn w15_many_frames() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("many.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=OFF; CREATE TABLE t(a);").unwrap();
    for i in 0..4200 {
        conn.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
    }
    let snap = d.path().join("snap");
    std::fs::create_dir_all(&snap).unwrap();
    let copy = copy_db(&path, &snap, "many.db");
    drop(conn);
    let f = sqlite::SqliteFile::open(&copy).unwrap();
    assert!(f.wal_state().committed_frames > 4079);
    assert_eq!(ours(&f).unwrap(), oracle(&copy));
}

#[test]
fn error_messages_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let (mut b, p) = bytes(d.path());
    let root = root_page(&p, "s");
    b[page_off(root)] = 7;
    std::fs::write(&p, &b).unwrap();
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let e = f.row_count(&f.table("s").unwrap()).unwrap_err();
    assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    assert!(matches!(e.root(), SqliteError::Corrupt { page, .. } if *page == root));
}
