//! The one-sync commit protocol of the encrypted backend, driven below redb
//! so each case is exact: a commit whose blocks did not all land falls back
//! to the previous one, a discarded commit never comes back, and
//! overwriting a block of the last commit never costs that commit.

use super::crypto_common::*;
use aragora_db::crypto::{EncryptedBackend, KeySource};
use aragora_db::storage::fault::{CrashOptions, FaultBackend, OpMask};
use redb::StorageBackend;
use redb::backends::InMemoryBackend;
use std::path::Path;

const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
const B: usize = 4096;

/// A redb-like header block (the open keeps a file only if it has redb's
/// magic) carrying `tag` as the commit's identity.
fn header(tag: u8) -> Vec<u8> {
    let mut h = vec![0u8; B];
    h[..9].copy_from_slice(&REDB_MAGIC);
    h[100] = tag;
    h
}

fn block(tag: u8) -> Vec<u8> {
    vec![tag; B]
}

/// Writes `blocks` (logical block number, fill byte) and the header, then syncs.
fn commit(b: &impl StorageBackend, head: u8, blocks: &[(u64, u8)]) {
    for &(i, tag) in blocks {
        b.write(i * B as u64, &block(tag)).unwrap();
    }
    b.write(0, &header(head)).unwrap();
    b.sync_data().unwrap();
}

fn read_block(b: &impl StorageBackend, i: u64) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; B];
    b.read(i * B as u64, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The header tag of the commit an image opens to, and the open backend.
fn opened(image: &[u8], key: &KeySource) -> (u8, EncryptedBackend<InMemoryBackend>) {
    let e = open_image(image, key).unwrap_or_else(|err| panic!("open: {err}"));
    let h = read_block(&e, 0).unwrap();
    assert_eq!(h[..9], REDB_MAGIC);
    (h[100], e)
}

fn options(seed: u64) -> CrashOptions {
    CrashOptions {
        keep: [0.0, 0.3, 0.6, 1.0][seed as usize % 4],
        torn: 0.3,
        torn_last: 0.5,
        sector: 512,
    }
}

/// Every crash image between `from` and the end of the recorded journal.
fn images(fault: &FaultBackend, seeds: u64) -> Vec<(u64, u64, Vec<u8>)> {
    let total = fault.op_count(OpMask::ALL);
    let mut replay = fault.replay();
    let first = replay.entries().first().map_or(total, |e| e.op);
    let mut out = Vec::new();
    for op in first..=total {
        replay.advance_to(op);
        for seed in 0..seeds {
            out.push((
                op,
                seed,
                replay.crash_image(op * 101 + seed, &options(seed)),
            ));
        }
    }
    out
}

#[test]
fn a_commit_whose_blocks_did_not_all_land_falls_back_one_commit() {
    let key = raw_key(21);
    let (enc, fault) = fresh(&key);
    commit(&enc, 1, &[(1, 0xA1), (2, 0xB1)]);
    fault.record(true);
    commit(&enc, 2, &[(3, 0xA2), (4, 0xB2), (5, 0xC2)]);
    let (mut fell_back, mut newest) = (0, 0);
    for (op, seed, image) in images(&fault, 24) {
        let (tag, e) = opened(&image, &key);
        let at = format!("crash at op {op} seed {seed}");
        assert_eq!(read_block(&e, 1).unwrap(), block(0xA1), "{at}");
        assert_eq!(read_block(&e, 2).unwrap(), block(0xB1), "{at}");
        let findings = e.verify().join("; ");
        match tag {
            2 => {
                newest += 1;
                for (i, t) in [(3, 0xA2), (4, 0xB2), (5, 0xC2)] {
                    assert_eq!(read_block(&e, i), Ok(block(t)), "{at}: block {i}");
                }
            }
            1 => {
                if findings.contains("commit 3 was discarded") {
                    fell_back += 1;
                    // The discarded slot is erased (and synced) by the open.
                    let raw = image_of(&e.into_inner());
                    assert!(
                        raw[12288..12288 + 4220].iter().all(|&x| x == 0),
                        "{at}: discarded slot not erased"
                    );
                }
            }
            t => panic!("{at}: opened an unknown commit {t}"),
        }
    }
    assert!(newest > 0 && fell_back > 0, "{newest} {fell_back}");
}

#[test]
fn a_discarded_commit_never_comes_back() {
    let key = raw_key(22);
    let (enc, fault) = fresh(&key);
    commit(&enc, 1, &[(1, 0xA1)]);
    fault.record(true);
    commit(&enc, 2, &[(2, 0xA2), (3, 0xB2)]);
    let mut second = 0;
    for (op, seed, image) in images(&fault, 32) {
        let (tag, e) = opened(&image, &key);
        if tag != 1 || !e.verify().join(";").contains("was discarded") {
            continue;
        }
        // Reopened after the fallback: commit again, crash anywhere, and the
        // file must hold commit 1 or the new commit, never the discarded 2.
        let repaired = image_of(&e.into_inner());
        let fault2 = FaultBackend::from_image(&repaired);
        let enc2 = EncryptedBackend::open(fault2.clone(), Path::new(NAME), &key).unwrap();
        fault2.record(true);
        commit(&enc2, 3, &[(2, 0xA3)]);
        for (op2, seed2, image2) in images(&fault2, 6) {
            let (tag2, e2) = opened(&image2, &key);
            let at = format!("crash at op {op} seed {seed}, then at op {op2} seed {seed2}");
            assert!(tag2 == 1 || tag2 == 3, "{at}: commit with header {tag2}");
            if tag2 == 3 {
                assert_eq!(read_block(&e2, 2), Ok(block(0xA3)), "{at}");
            }
            second += 1;
        }
    }
    assert!(second > 0, "no image fell back");
}

#[test]
fn overwriting_a_block_of_the_last_commit_keeps_that_commit() {
    // redb may reuse, in the next transaction, a page it allocated and freed
    // within the last commit. The open authenticates the last commit's
    // blocks unless a later trailer proves that commit's sync completed; the
    // backend makes that proof durable before such an overwrite.
    let key = raw_key(23);
    let (enc, fault) = fresh(&key);
    commit(&enc, 1, &[(1, 0xA1)]);
    commit(&enc, 2, &[(2, 0xA2), (3, 0xB2)]);
    fault.record(true);
    enc.write(3 * B as u64, &block(0xC3)).unwrap();
    enc.write(4 * B as u64, &block(0xD3)).unwrap();
    let mut n = 0;
    for (op, seed, image) in images(&fault, 24) {
        let at = format!("crash at op {op} seed {seed}");
        let (tag, e) = opened(&image, &key);
        assert_eq!(tag, 2, "{at}: lost the durable commit");
        assert_eq!(read_block(&e, 2), Ok(block(0xA2)), "{at}");
        let b3 = read_block(&e, 3).unwrap_or_else(|err| panic!("{at}: {err}"));
        assert!(b3 == block(0xB2) || b3 == block(0), "{at}: block 3");
        n += 1;
    }
    assert!(n > 20, "{n}");
}
