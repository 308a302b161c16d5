//! Replays the fuzz entry points on real fixtures and on a few thousand deterministic
//! random / mutated inputs: every call must return (no panic, no hang).
use aragora_db::sqlite;

use super::common::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let d = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for (i, (ps, enc, av)) in [
        (512u32, "UTF-8", 0),
        (1024, "UTF-16le", 1),
        (4096, "UTF-16be", 2),
        (512, "UTF-8", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let path = d.path().join(format!("seed{i}.db"));
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA page_size={ps}; PRAGMA encoding='{enc}'; PRAGMA auto_vacuum={av};
             PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT DEFAULT 'x', b REAL, c BLOB);
             CREATE INDEX ti ON t(a);
             CREATE TABLE w(k TEXT, v, PRIMARY KEY(k)) WITHOUT ROWID;
             CREATE TABLE s(x INTEGER PRIMARY KEY AUTOINCREMENT, y);"
        ))
        .unwrap();
        for j in 0..25i64 {
            conn.execute(
                "INSERT INTO t(a, b, c) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    format!("v{j}é"),
                    j as f64 * 1.5,
                    vec![j as u8; (j as usize * 97) % 1500]
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO w VALUES (?1, ?2)",
                rusqlite::params![format!("k{j}"), j],
            )
            .unwrap();
            conn.execute("INSERT INTO s(y) VALUES (?1)", [j]).unwrap();
        }
        conn.execute_batch(
            "ALTER TABLE t ADD COLUMN d INT DEFAULT 5; DELETE FROM t WHERE id % 3 = 0;",
        )
        .unwrap();
        let main = std::fs::read(&path).unwrap();
        let wal = std::fs::read(sidecar(&path, "-wal")).ok();
        drop(conn);
        out.push((main.clone(), wal));
        out.push((main, None));
    }
    for name in ["reserved_512_32.db", "reserved_4096_40.db"] {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sqlite")
            .join(name);
        out.push((std::fs::read(p).unwrap(), None));
    }
    out
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(v.len());
                if let Some(b) = v.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            // Hit the structural bytes: headers of page 1 and of random pages.
            for _ in 0..1 + rng.below(4) {
                let page = [512usize, 1024, 4096][rng.below(3)];
                let i = rng.below(v.len() / page + 1) * page + rng.below(16);
                if let Some(b) = v.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
        }
        2 => v.truncate(rng.below(v.len() + 1)),
        3 => {
            let i = rng.below(v.len());
            let j = rng.below(v.len());
            let n = rng.below(64).min(v.len() - i.max(j));
            let chunk: Vec<u8> = v[i..i + n].to_vec();
            v[j..j + n].copy_from_slice(&chunk);
        }
        _ => {
            let i = rng.below(v.len().saturating_sub(4));
            if i + 4 <= v.len() {
                let val = [0u32, 1, 2, 0xFFFF_FFFF, 0x7FFF_FFFF, rng.next() as u32][rng.below(6)];
                v[i..i + 4].copy_from_slice(&val.to_be_bytes());
            }
        }
    }
    v
}

#[test]
fn fuzz_entry_survives_fixtures_and_mutations() {
    let seeds = seeds();
    for (main, wal) in &seeds {
        sqlite::fuzz_file(main, wal.as_deref());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let n: usize = std::env::var("FUZZ_REPLAY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for i in 0..n {
        let (main, wal) = &seeds[i % seeds.len()];
        let m = mutate(&mut rng, main);
        if i % 3 == 0
            && let Some(w) = wal
        {
            sqlite::fuzz_file(main, Some(&mutate(&mut rng, w)));
        }
        sqlite::fuzz_file(&m, wal.as_deref());
        // Record and header parsers on slices of the file.
        let at = rng.below(m.len());
        let slice = &m[at..(at + 64).min(m.len())];
        sqlite::fuzz_record(slice);
        sqlite::fuzz_header(&m[..m.len().min(100)]);
        if let Some(w) = wal {
            sqlite::fuzz_wal(&mutate(&mut rng, &w[..w.len().min(20_000)]));
        }
    }
    for _ in 0..2000 {
        let len = rng.below(300);
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        sqlite::fuzz_entry(&data);
    }
}

#[test]
fn schema_sql_parser_survives_garbage() {
    let mut rng = Rng(12345);
    let base = [
        "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL DEFAULT 'x', c REAL CHECK(c>0), UNIQUE(b))",
        "CREATE TABLE \"q\"\"t\"([a b] `c` DEFAULT -1, 'd' UNSIGNED BIG INT, FOREIGN KEY(a) REFERENCES p(x)) WITHOUT ROWID",
        "CREATE INDEX i ON t(a DESC, lower(b)) WHERE a > 0",
    ];
    let mut panics = 0;
    for i in 0..3000 {
        let b = base[i % base.len()].as_bytes();
        let mut v = b.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(v.len());
            match rng.below(3) {
                0 => {
                    let alphabet = b"()'\"`[],;-*/ x0aZ\0\xff";
                    v[at] = alphabet[rng.below(alphabet.len())];
                }
                1 => {
                    v.remove(at);
                }
                _ => v.truncate(at),
            }
            if v.is_empty() {
                break;
            }
        }
        let r = std::panic::catch_unwind(|| sqlite::fuzz_schema_sql(&v));
        if r.is_err() {
            panics += 1;
        }
    }
    assert_eq!(panics, 0, "fuzz_schema_sql must contain parser panics");
}
