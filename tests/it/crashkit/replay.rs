//! The replay driver of the crash test (R1, R3, R6, R18): records a
//! workload run, rebuilds crash images just before its journaled
//! operations, and checks each (and some crashed again during recovery).

use super::{Expect, Keys, Step, Store, check_image, drive, key, reference, workload};
use aragora_db::crypto::EncryptedBackend;
use aragora_db::storage::fault::{CrashOptions, FaultBackend, JournalOp, OpMask, SplitMix};
use redb::StorageBackend;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Crash options that vary with the point: nothing, half or everything of
/// the unsynced writes reached the disk, with and without torn writes.
pub fn crash_options(i: usize) -> CrashOptions {
    let keep = [0.0, 0.5, 1.0, 0.25, 0.75][i % 5];
    let torn = if i.is_multiple_of(3) { 0.0 } else { 0.2 };
    CrashOptions {
        keep,
        torn,
        torn_last: if i.is_multiple_of(2) { 0.7 } else { 0.0 },
        sector: if i.is_multiple_of(7) { 1 } else { 512 },
    }
}

/// A recorded run on `store` (journal on): the operation count at each
/// commit's return.
pub fn recorded_run(steps: &[Step], store: &Store) -> Vec<u64> {
    store.fault.record(true);
    let mut commits = Vec::new();
    drive(steps, store, |_| {
        commits.push(store.fault.op_count(OpMask::ALL))
    })
    .unwrap();
    commits
}

/// A crash during recovery (R3): opens `image` (under key `k` if encrypted)
/// on a recording backend, lets the encrypted backend and redb recover it
/// and run `check_integrity()`, then builds a crash image at a random point
/// of the writes that recovery made. `None` if recovery wrote nothing.
pub fn crash_during_recovery(
    image: &[u8],
    seed: u64,
    k: Option<usize>,
    opts: &CrashOptions,
) -> Option<Vec<u8>> {
    fn recover(b: impl StorageBackend) {
        if let Ok(mut db) = redb::Database::builder().create_with_backend(b) {
            let _ = db.check_integrity();
        }
    }
    let fault = FaultBackend::from_image(image);
    fault.record(true);
    let opened = catch_unwind(AssertUnwindSafe(|| match k {
        None => recover(fault.clone()),
        Some(k) => {
            if let Ok(enc) = EncryptedBackend::open(fault.clone(), Path::new(super::NAME), &key(k))
            {
                recover(enc)
            }
        }
    }));
    if opened.is_err() {
        // check_image reports the panic on the same image.
        return None;
    }
    let mut replay = fault.replay();
    let ops: Vec<u64> = replay.entries().iter().map(|e| e.op).collect();
    if ops.is_empty() {
        return None;
    }
    let j = SplitMix(seed).below(ops.len() as u64) as usize;
    replay.advance_to(ops[j]);
    Some(replay.crash_image(seed, opts))
}

/// How a replay test is run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub encrypted: bool,
    /// Check at least this many crash images (whole workload runs).
    pub points: usize,
    /// Images per crash position.
    pub images: usize,
    /// Some images tear writes at byte granularity; otherwise only at
    /// 512-byte sector boundaries.
    pub byte_tearing: bool,
}

impl Plan {
    /// The crash options of image `i`.
    pub fn options(&self, i: usize) -> CrashOptions {
        let o = crash_options(i);
        if self.byte_tearing {
            o
        } else {
            CrashOptions { sector: 512, ..o }
        }
    }
}

/// What a replay test saw.
#[derive(Debug, Default)]
pub struct Counts {
    pub checked: usize,
    pub positions: usize,
    pub runs: u64,
    pub double: usize,
    pub in_flight: usize,
    /// Encrypted images whose newest commit was discarded at open.
    pub fell_back: usize,
    pub unborn: usize,
    pub unsynced: usize,
    /// Images of a crash during the migration's window (between the commit
    /// before it and its own), and how many were migrated again.
    pub migration: usize,
    pub remigrated: usize,
    /// Images of a crash during a rotation, opened by the old / the new key.
    pub rotation: [usize; 2],
    pub failures: Vec<String>,
}

/// Runs seeded workloads until `plan.points` images are checked.
pub fn replay_test(plan: Plan) -> Counts {
    let mut c = Counts::default();
    while c.checked < plan.points {
        let run = c.runs;
        let steps = workload(run, 40);
        let states = reference(&steps);
        let store = Store::new(plan.encrypted);
        let commits = recorded_run(&steps, &store);
        assert_eq!(commits.len() + 1, states.len(), "runs disagree on commits");
        let rotations = store.rotations();
        assert_eq!(
            rotations.len(),
            usize::from(plan.encrypted),
            "rotations in the run"
        );
        let migrate = states.iter().position(|s| s.migrated).expect("migration");
        let mut replay = store.fault.replay();
        let ops: Vec<u64> = replay.entries().iter().map(|e| e.op).collect();
        let first_sync = replay
            .entries()
            .iter()
            .find(|e| matches!(e.kind, JournalOp::Sync))
            .map_or(u64::MAX, |e| e.op);
        assert!(
            ops.len() > 50,
            "workload too small: {} journaled ops",
            ops.len()
        );
        // From a rotation's first operation to the first sync after it
        // returned: the key slots may not be durable yet. Eight times the
        // images there (a few positions).
        let windows: Vec<(u64, u64)> = rotations
            .iter()
            .map(|&(start, end)| {
                let sync = replay
                    .entries()
                    .iter()
                    .find(|e| e.op >= end && matches!(e.kind, JournalOp::Sync));
                (start, sync.map_or(u64::MAX, |e| e.op))
            })
            .collect();
        let span = 8 * plan.images + 1;
        // Crash just before every journaled write, set_len and sync (and after the last).
        for j in 0..=ops.len() {
            let at = ops.get(j).copied().unwrap_or(u64::MAX);
            let committed = commits.iter().filter(|&&op| op <= at).count();
            let keys = Keys::at(plan.encrypted, &rotations, at);
            let focus = windows.iter().any(|w| w.0 < at && at <= w.1);
            replay.advance_to(at);
            c.positions += 1;
            let exp = Expect {
                states: &states,
                committed,
                keys,
            };
            for v in 0..if focus { span - 1 } else { plan.images } {
                let i = j * span + v;
                c.unsynced += replay.unsynced_ops();
                let seed = run << 32 | i as u64;
                let image = replay.crash_image(seed, &plan.options(i));
                let mut verdict = check_image(&image, &exp);
                if let Ok(got) = verdict
                    && i.is_multiple_of(4)
                    && let Some(again) =
                        crash_during_recovery(&image, seed, got.key, &plan.options(seed as usize))
                {
                    c.double += 1;
                    verdict = check_image(&again, &exp)
                        .map_err(|e| format!("crash during recovery: {e}"));
                }
                match verdict {
                    Ok(got) => {
                        c.in_flight += usize::from(got.state > committed);
                        c.fell_back += usize::from(got.fell_back);
                        c.migration += usize::from(committed + 1 == migrate);
                        c.remigrated += usize::from(got.remigrated);
                        if let (Keys::OneOf(k), Some(used)) = (keys, got.key) {
                            c.rotation[usize::from(used > k)] += 1;
                        }
                    }
                    // redb writes its magic number only once the new file's header
                    // is synced: a crash before that leaves a file redb refuses
                    // (finding 1); before the encrypted header's first sync the
                    // file holds nothing. No commit can be lost there; counted.
                    // A panic is never excused, not even there.
                    Err(e)
                        if committed == 0
                            && !e.starts_with("panicked")
                            && (e.contains("magic number mismatch")
                                || plan.encrypted && at <= first_sync) =>
                    {
                        c.unborn += 1
                    }
                    Err(e) => c.failures.push(format!(
                        "run {run} image {i} (before journal entry {j}, op {at}, {committed} \
                         commits, keys {keys:?}, options {:?}): {e}",
                        plan.options(i)
                    )),
                }
                c.checked += 1;
            }
        }
        c.runs += 1;
    }
    c
}
