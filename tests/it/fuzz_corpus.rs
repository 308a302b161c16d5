//! Replays the cargo-fuzz seed corpora (`fuzz/corpus/<target>/`) and crash regressions
//! (`fuzz/regressions/<target>/`) through `aragora_db::fuzzing`, then a deterministic
//! batch of mutations of the seeds: every call must return without panicking.
use aragora_db::fuzzing;
use std::path::Path;

/// Mutated inputs per target (cheap targets get three times as many).
const MUTATIONS: usize = 5000;

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

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    match rng.below(5) {
        0 | 1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(v.len());
                if let Some(b) = v.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        2 => v.truncate(rng.below(v.len() + 1)),
        3 => {
            // Interesting values over a random 1-, 2- or 4-byte field.
            let w = [1, 2, 4][rng.below(3)];
            let i = rng.below(v.len().saturating_sub(w - 1));
            let val = [0u32, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, u32::MAX][rng.below(8)];
            if let Some(s) = v.get_mut(i..i + w) {
                s.copy_from_slice(&val.to_be_bytes()[4 - w..]);
            }
        }
        _ => {
            let i = rng.below(v.len());
            let n = rng.below(16);
            let fill = rng.next() as u8;
            v.splice(i..i, std::iter::repeat_n(fill, n));
        }
    }
    v
}

fn replay(target: &str, entry: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = files(&root.join("corpus").join(target));
    assert!(!seeds.is_empty(), "fuzz/corpus/{target} holds no seeds");
    for input in seeds
        .iter()
        .chain(&files(&root.join("regressions").join(target)))
    {
        entry(input);
    }
    let cheap = seeds.iter().map(Vec::len).max().unwrap_or(0) < 1024;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    for i in 0..MUTATIONS * if cheap { 3 } else { 1 } {
        let mut m = mutate(&mut rng, &seeds[i % seeds.len()]);
        for _ in 0..rng.below(3) {
            m = mutate(&mut rng, &m);
        }
        entry(&m);
    }
}

#[test]
fn sqlite_header() {
    replay("sqlite_header", fuzzing::sqlite_header);
}

#[test]
fn sqlite_record() {
    replay("sqlite_record", fuzzing::sqlite_record);
}

#[test]
fn sqlite_wal() {
    replay("sqlite_wal", fuzzing::sqlite_wal);
}

#[test]
fn sqlite_file() {
    replay("sqlite_file", fuzzing::sqlite_file);
}

#[test]
fn sqlite_schema_sql() {
    replay("sqlite_schema_sql", fuzzing::sqlite_schema_sql);
}

#[test]
fn sqlite_page() {
    replay("sqlite_page", fuzzing::sqlite_page);
}

#[test]
fn row_decode() {
    replay("row_decode", fuzzing::row_decode);
}

#[test]
fn key_decode() {
    replay("key_decode", fuzzing::key_decode);
}

#[test]
fn backup_manifest() {
    replay("backup_manifest", fuzzing::backup_manifest);
}

#[test]
fn export_quote() {
    replay("export_quote", fuzzing::export_quote);
}

#[test]
fn encrypted_file() {
    replay("encrypted_file", fuzzing::encrypted_file);
}

#[test]
fn crypto_header() {
    replay("crypto_header", fuzzing::crypto_header);
}
