//! Crash injection under the encrypted backend (storage::fault from the
//! reliability branch): crash images at every journaled operation of a run
//! of commits and of a rekey, with random subsets of unsynced and torn writes.

use super::crypto_common::*;
use aragora_db::crypto::{EncryptedBackend, KeySource, rekey_backend};
use aragora_db::storage::fault::{CrashOptions, FailMode, FaultBackend, OpMask, memory_backend};
use std::path::Path;

fn state_of(image: &[u8], key: &KeySource) -> Result<Rows, String> {
    let enc = open_image(image, key).map_err(|e| e.to_string())?;
    let db = redb::Builder::new()
        .create_with_backend(enc)
        .map_err(|e| e.to_string())?;
    read_all(&db)
}

#[test]
fn a_crash_at_any_point_of_a_commit_recovers_a_committed_state() {
    let key = raw_key(3);
    let (enc, fault) = fresh(&key);
    fault.record(true);
    let db = redb::Builder::new().create_with_backend(enc).unwrap();
    // Commit k holds rows 0..10k; its ops run from start[k] to end[k].
    let mut spans = Vec::new();
    for k in 1..=6u32 {
        let start = fault.op_count(OpMask::ALL);
        insert(&db, 10 * (k - 1), 10 * k, 10);
        spans.push((start, fault.op_count(OpMask::ALL), k));
    }
    drop(db);
    let total = fault.op_count(OpMask::ALL);
    let mut replay = fault.replay();
    let opts = CrashOptions {
        keep: 0.5,
        torn: 0.3,
        torn_last: 0.5,
        sector: 512,
    };
    let mut checked = 0;
    for op in 0..=total {
        replay.advance_to(op);
        // Allowed states: the last commit finished before `op`, or the one in flight.
        let done = spans
            .iter()
            .filter(|s| s.1 <= op)
            .map(|s| s.2)
            .max()
            .unwrap_or(0);
        let inflight = spans.iter().find(|s| s.0 < op && op < s.1).map(|s| s.2);
        for seed in 0..3 {
            let img = replay.crash_image(op * 31 + seed, &opts);
            if img.is_empty() {
                continue; // crashed before the file was initialised
            }
            let got = state_of(&img, &key)
                .unwrap_or_else(|e| panic!("crash at op {op} seed {seed}: {e}"));
            let n = got.len() as u32 / 10;
            assert!(
                got == expected(10 * done) || inflight.is_some_and(|k| got == expected(10 * k)),
                "crash at op {op} (seed {seed}): {} rows, expected commit {done} or {inflight:?}",
                got.len()
            );
            let _ = n;
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn failed_io_during_a_commit_loses_only_that_commit() {
    let key = raw_key(4);
    for n in (0..40).step_by(3) {
        let (enc, fault) = fresh(&key);
        let db = redb::Builder::new().create_with_backend(enc).unwrap();
        insert(&db, 0, 20, 20);
        fault.fail_at(
            fault.op_count(OpMask::WRITES) + n,
            FailMode::FromThenOn,
            OpMask::WRITES,
        );
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            for j in 20..40 {
                let (k, v) = row(j);
                t.insert(&k[..], &v[..]).unwrap();
            }
        }
        let committed = txn.commit().is_ok();
        drop(db);
        let img = fault.crash_image(n, &CrashOptions::default());
        let got = state_of(&img, &key).unwrap_or_else(|e| panic!("fail at write {n}: {e}"));
        if committed {
            assert!(
                got == expected(40) || got == expected(20),
                "fail at {n}: {} rows",
                got.len()
            );
        } else {
            assert_eq!(got, expected(20), "fail at write {n}");
        }
    }
}

#[test]
fn a_crash_during_rekey_leaves_exactly_one_key_working() {
    let (old, new) = (raw_key(5), raw_key(6));
    let img = build(&old, 30, 10);
    let fault = FaultBackend::from_image(&img);
    fault.record(true);
    rekey_backend(&fault, Path::new(NAME), &old, &new, params()).unwrap();
    let total = fault.op_count(OpMask::ALL);
    let mut replay = fault.replay();
    let opts = CrashOptions {
        keep: 0.5,
        torn: 0.5,
        torn_last: 0.7,
        sector: 1,
    };
    let mut saw = [false; 2];
    for op in 0..=total {
        replay.advance_to(op);
        for seed in 0..20 {
            let image = replay.crash_image(seed * 1000 + op, &opts);
            let opens: Vec<bool> = [&old, &new]
                .iter()
                .map(|k| EncryptedBackend::open(memory_backend(&image), Path::new(NAME), k).is_ok())
                .collect();
            assert_eq!(
                opens.iter().filter(|&&o| o).count(),
                1,
                "op {op} seed {seed}: {opens:?}"
            );
            let which = if opens[0] { &old } else { &new };
            saw[usize::from(opens[1])] = true;
            assert_eq!(
                state_of(&image, which).unwrap(),
                expected(30),
                "op {op} seed {seed}"
            );
        }
    }
    assert_eq!(
        saw,
        [true, true],
        "both outcomes should occur across crash points"
    );
}
