//! R17: no (key, nonce) pair repeats across page writes.
//!
//! Drives the real write path: an [`EncryptedBackend`] over a recording
//! storage that decodes every trailer the backend writes (from the written
//! bytes, whatever the shape of the write calls) and keeps every nonce of a
//! "written" trailer in a set. One backend has one data key, so a repeated
//! nonce is a repeated (key, nonce) pair.
//!
//! `ARAGORA_R17_WRITES=10000000 cargo test --release --lib nonce` runs the
//! documented long run; the default is 10^6 block writes in release builds.

use super::header::DATA_START;
use super::layout::{BLOCK, GROUP, TRAILER, Trailer, trailer_off};
use super::{EncryptedBackend, KdfParams, Key, KeySource};
use redb::StorageBackend;
use redb::backends::InMemoryBackend;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What the recorder saw.
#[derive(Default)]
struct Seen {
    nonces: HashSet<[u8; 12]>,
    /// The last bytes seen in each trailer slot: writing the same trailer
    /// again (a batched trailer block) is not a new encryption.
    last: HashMap<u64, [u8; TRAILER]>,
    /// Trailers of blocks newly encrypted.
    written: u64,
    repeats: Vec<(u64, [u8; 12])>,
    malformed: Vec<u64>,
}

impl Seen {
    fn record(&mut self, off: u64, raw: [u8; TRAILER]) {
        if self.last.get(&off) == Some(&raw) {
            return;
        }
        self.last.insert(off, raw);
        match Trailer::decode(&raw) {
            Some(t) if t.flags == 1 => {
                self.written += 1;
                if !self.nonces.insert(t.nonce) {
                    self.repeats.push((off, t.nonce));
                }
            }
            Some(_) => {}
            None => self.malformed.push(off),
        }
    }
}

/// An in-memory storage that records every trailer written into it.
struct Recording {
    inner: InMemoryBackend,
    seen: Arc<Mutex<Seen>>,
}

const GROUP_BYTES: u64 = (GROUP + 1) * BLOCK;

impl Recording {
    fn new() -> (Recording, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let r = Recording {
            inner: InMemoryBackend::new(),
            seen: seen.clone(),
        };
        (r, seen)
    }

    /// Every trailer slot overlapping `[off, end)`, read back after the write.
    fn scan(&self, off: u64, end: u64) -> io::Result<()> {
        if end <= DATA_START {
            return Ok(());
        }
        let from = off.max(DATA_START) - DATA_START;
        let (g0, g1) = (from / GROUP_BYTES, (end - DATA_START - 1) / GROUP_BYTES);
        let mut seen = self.seen.lock().expect("recorder");
        for g in g0..=g1 {
            let tb = trailer_off(g * GROUP);
            let (lo, hi) = (off.max(tb), end.min(tb + BLOCK));
            if lo >= hi {
                continue;
            }
            let first = (lo - tb) / TRAILER as u64;
            let last = (hi - tb - 1) / TRAILER as u64;
            for s in first..=last {
                let at = tb + s * TRAILER as u64;
                let mut raw = [0u8; TRAILER];
                self.inner.read(at, &mut raw)?;
                seen.record(at, raw);
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recording")
    }
}

impl StorageBackend for Recording {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write(offset, data)?;
        self.scan(offset, offset + data.len() as u64)
    }
    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }
}

fn backend() -> (EncryptedBackend<Recording>, Arc<Mutex<Seen>>) {
    let (rec, seen) = Recording::new();
    let key = KeySource::Raw(Key::from_bytes([7; 32]));
    let b = EncryptedBackend::open_or_create(
        rec,
        Path::new("r17.redb"),
        &key,
        KdfParams::insecure_for_tests(),
    )
    .expect("open");
    (b, seen)
}

fn writes() -> u64 {
    let default = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    };
    std::env::var("ARAGORA_R17_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_nonce_repeats_across_block_writes() {
    let n = writes();
    // Block writes cycle over a working set; redb's header (block 0) is
    // rewritten and synced every `per_commit` writes, so commits happen as
    // they do under redb. The working set is a multiple of `per_commit`:
    // no block is written twice between two syncs, so every write must
    // leave exactly one new trailer however the backend batches them.
    let (set, per_commit) = (2048u64, 512u64);
    let (b, seen) = backend();
    b.set_len(BLOCK * (set + 1)).expect("grow");
    let mut page = vec![0u8; BLOCK as usize];
    let started = std::time::Instant::now();
    for i in 0..n {
        page[..8].copy_from_slice(&i.to_le_bytes());
        b.write(BLOCK * (1 + i % set), &page).expect("write");
        if (i + 1) % per_commit == 0 {
            page[8..16].copy_from_slice(&(i / per_commit).to_le_bytes());
            b.write(0, &page).expect("header");
            b.sync_data().expect("sync");
        }
    }
    b.sync_data().expect("sync");
    let seen = seen.lock().expect("recorder");
    eprintln!(
        "R17: {n} block writes, {} distinct nonces, {} repeats, {:.1} s",
        seen.nonces.len(),
        seen.repeats.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(seen.malformed, Vec::<u64>::new());
    assert!(
        seen.repeats.is_empty(),
        "{} repeated nonces, the first: {:?}",
        seen.repeats.len(),
        &seen.repeats[..seen.repeats.len().min(3)]
    );
    assert_eq!(seen.written, n, "writes without a recorded trailer");
    assert_eq!(seen.nonces.len() as u64, n);
}

#[test]
fn no_nonce_repeats_through_redb() {
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    let (b, seen) = backend();
    let db = redb::Builder::new().create_with_backend(b).expect("db");
    let value = vec![0x5au8; 700];
    let commits = 60u64;
    for c in 0..commits {
        let txn = db.begin_write().expect("txn");
        {
            let mut t = txn.open_table(T).expect("table");
            for k in 0..200u64 {
                t.insert((c * 97 + k) % 5000, value.as_slice())
                    .expect("insert");
            }
        }
        txn.commit().expect("commit");
    }
    drop(db);
    let seen = seen.lock().expect("recorder");
    assert_eq!(seen.malformed, Vec::<u64>::new());
    assert!(
        seen.repeats.is_empty(),
        "{} repeated nonces, the first: {:?}",
        seen.repeats.len(),
        &seen.repeats[..seen.repeats.len().min(3)]
    );
    // Every commit rewrites pages: more encryptions than commits.
    assert!(seen.written > commits, "{} trailers", seen.written);
    assert_eq!(seen.nonces.len() as u64, seen.written);
}

#[test]
fn the_recorder_catches_a_repeat() {
    // Guards the tests above: a trailer written twice with one nonce and
    // different contents is reported.
    let (rec, seen) = Recording::new();
    rec.set_len(DATA_START + 2 * BLOCK).expect("grow");
    let mut raw = [0u8; TRAILER];
    let mut t = Trailer {
        flags: 1,
        epoch: 1,
        nonce: [9; 12],
        tag: [1; 16],
        prev: [0; 16],
    };
    t.encode(&mut raw);
    rec.write(trailer_off(0), &raw).expect("write");
    rec.write(trailer_off(0), &raw).expect("same bytes again");
    t.tag = [2; 16];
    t.encode(&mut raw);
    rec.write(trailer_off(0) - 8, &[&[0u8; 8][..], &raw[..]].concat())
        .expect("write");
    let seen = seen.lock().expect("recorder");
    assert_eq!(seen.written, 2);
    assert_eq!(seen.repeats, vec![(trailer_off(0), [9; 12])]);
}
