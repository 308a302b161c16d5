//! Crash consistency (reliability matrix R1–R3, R6, R18): a seeded workload
//! (inserts with indexes, transfers over two tables, renames that move
//! unique index keys, deletes that cascade, a real migration step, a key
//! rotation) runs on the fault-injecting backend, plain and under the
//! encrypted backend; every crash image must reopen to a committed state
//! under the right key (`crashkit::check_image`).
//!
//! The replay tests crash just before every journaled write, `set_len` and
//! sync of a workload run, building `ARAGORA_CRASH_IMAGES` (default 2) images
//! at each, and repeat with new workload seeds until `ARAGORA_CRASH_POINTS`
//! (plain; default 1200, 200 in a debug build) or `ARAGORA_CRASH_ENC_POINTS`
//! (encrypted; default 600, 60 in debug) images are checked; every fourth
//! image is also crashed again
//! during its own recovery (R3). `ARAGORA_CRASH_FAILS` (default 40) sets the
//! runs with an injected I/O error (R2). The long runs are in RELIABILITY.md.

use crate::crashkit::{Counts, Expect, Keys, Plan, Store, check_image, drive, replay_test};
use crate::crashkit::{crash_options, open_encrypted, recorded_run, reference, workload};
use aragora_db::storage::fault::{CrashOptions, FailMode, FaultBackend, OpMask};
use redb::backends::InMemoryBackend;
use redb::{StorageBackend, TableDefinition};
use std::panic::{AssertUnwindSafe, catch_unwind};

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(what: &str, c: &Counts, images: usize) {
    println!(
        "{what}: crash images checked: {} ({} crash positions x {images} images, 8 times \
         as many from a key rotation to the next sync; {} workload runs); {} crashes during \
         recovery checked; {} showed the commit in flight; {} fell back from a newest commit \
         whose blocks had not all landed; {} in the migration's window; {} \
         just before the migration's commit were migrated again; {} during the key rotation \
         ({} opened by the old key, {} by the new); {} hit the creation of the file (refused \
         to open, nothing committed yet); {} unsynced writes in total at the crash points; \
         failures: {}",
        c.checked,
        c.positions,
        c.runs,
        c.double,
        c.in_flight,
        c.fell_back,
        c.migration,
        c.remigrated,
        c.rotation[0] + c.rotation[1],
        c.rotation[0],
        c.rotation[1],
        c.unborn,
        c.unsynced,
        c.failures.len()
    );
    assert!(
        c.failures.is_empty(),
        "{} of {} crash images failed:\n{}",
        c.failures.len(),
        c.checked,
        c.failures[..c.failures.len().min(10)].join("\n")
    );
    assert!(
        c.remigrated > 0,
        "no image was taken just before the migration's commit"
    );
}

#[test]
fn every_crash_image_reopens_to_a_committed_state() {
    let images = env_count("ARAGORA_CRASH_IMAGES", 2).max(1);
    let c = replay_test(Plan {
        encrypted: false,
        points: env_count(
            "ARAGORA_CRASH_POINTS",
            if cfg!(debug_assertions) { 200 } else { 1200 },
        ),
        images,
        byte_tearing: true,
    });
    report("plain", &c, images);
}

/// The same workload on `EncryptedBackend<FaultBackend>`, with a real key
/// rotation at its `RotateKey` step (R18). Writes tear at 512-byte sectors only:
/// byte-granular tearing is finding 3 (the ignored test below).
#[test]
fn every_encrypted_crash_image_reopens_under_the_right_key() {
    encrypted_replay(false);
}

/// Finding 3 (RELIABILITY.md): a write torn inside a 512-byte sector can
/// leave an encrypted file that refuses to open ("block summary mismatch").
#[test]
#[ignore = "finding 3: the encrypted backend assumes writes tear at sector boundaries"]
fn encrypted_crash_images_with_byte_torn_writes() {
    encrypted_replay(true);
}

fn encrypted_replay(byte_tearing: bool) {
    let images = env_count("ARAGORA_CRASH_IMAGES", 2).max(1);
    let c = replay_test(Plan {
        encrypted: true,
        points: env_count(
            "ARAGORA_CRASH_ENC_POINTS",
            if cfg!(debug_assertions) { 60 } else { 600 },
        ),
        images,
        byte_tearing,
    });
    report("encrypted", &c, images);
    assert!(
        c.rotation[0] > 0 && c.rotation[1] > 0,
        "crashes during the rotation should leave either key working, across images: {:?}",
        c.rotation
    );
}

#[test]
fn io_errors_leave_a_committed_state() {
    io_errors(false);
}

/// R2 on the encrypted backend: the failing operation is one of the
/// encrypted file's own (trailer, data, commit-slot or key-slot writes).
#[test]
fn io_errors_leave_a_committed_state_encrypted() {
    io_errors(true);
}

fn io_errors(encrypted: bool) {
    let runs = env_count("ARAGORA_CRASH_FAILS", 40);
    let steps = workload(7, 30);
    let states = reference(&steps);
    let store = Store::new(encrypted);
    recorded_run(&steps, &store);
    let fault = store.fault.clone();
    let writes = fault.op_count(OpMask::WRITES);
    let all = CrashOptions {
        keep: 1.0,
        torn: 0.0,
        torn_last: 0.0,
        sector: 512,
    };
    // R2's leak check: pages left allocated once every table is deleted must
    // not exceed what the complete clean run leaves.
    let baseline = pages_after_emptying(&fault.crash_image(0, &all), store.keys_now()).unwrap();
    let creation = creation_writes(encrypted);
    let mut failures = Vec::new();
    let (mut errored, mut unborn) = (0, 0);
    for i in 0..runs {
        let mode = if i % 2 == 0 {
            FailMode::FromThenOn
        } else {
            FailMode::Once
        };
        // Both modes, at failure points spread evenly over the run's writes.
        let n = (i as u64 / 2) * writes / (runs as u64).div_ceil(2).max(1);
        let store = Store::new(encrypted);
        let fault = store.fault.clone();
        fault.fail_at(n, mode, OpMask::WRITES);
        let mut committed = 0;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            drive(&steps, &store, |_| committed += 1)
        }));
        match outcome {
            Err(_) => failures.push(format!("fail at write {n} ({mode:?}): panicked")),
            Ok(Ok(())) => {}
            Ok(Err(_)) => errored += 1,
        }
        fault.heal();
        // All issued writes landed (the process died, the OS did not) ...
        // ... or the machine crashed too.
        let mut power_loss = crash_options(i);
        if encrypted {
            // Finding 3: the encrypted backend needs sector-atomic writes.
            power_loss.sector = 512;
        }
        for (what, image) in [
            ("process crash", fault.crash_image(0, &all)),
            ("power loss", fault.crash_image(i as u64, &power_loss)),
        ] {
            let exp = Expect {
                states: &states,
                committed,
                keys: store.keys_now(),
            };
            match check_image(&image, &exp) {
                Ok(_) => match pages_after_emptying(&image, store.keys_now()) {
                    Ok(p) if p <= baseline => {}
                    other => failures.push(format!(
                        "fail at write {n} ({mode:?}), {what}: {other:?} pages allocated once \
                         emptied, more than the clean run's {baseline} (leak)"
                    )),
                },
                // The failure hit the file's creation (finding 1's class:
                // nothing was committed; `Database::open_path` creates files
                // under a temporary name, so a real path never holds this).
                // A panic is never excused, not even there.
                Err(e) if committed == 0 && n < creation && !e.starts_with("panicked") => {
                    unborn += 1
                }
                Err(e) => failures.push(format!("fail at write {n} ({mode:?}), {what}: {e}")),
            }
        }
    }
    let kind = if encrypted { "encrypted" } else { "plain" };
    println!(
        "injected-failure runs ({kind}): {runs} over {writes} write operations ({errored} reported an error); images checked (state, \
         integrity and leaked pages): {}; {unborn} refused to open (a failure during the file's first {creation} writes: creation interrupted, nothing committed); failures: {}",
        2 * runs,
        failures.len()
    );
    assert!(
        errored > runs / 2,
        "most injected failures must surface as errors"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const T: TableDefinition<u64, u64> = TableDefinition::new("t");

#[test]
fn fault_backend_fails_once_or_from_then_on() {
    let mem = FaultBackend::new(InMemoryBackend::new()).unwrap();
    mem.set_len(4096).unwrap();
    let at = mem.op_count(OpMask::WRITE);
    mem.fail_at(at + 1, FailMode::Once, OpMask::WRITE);
    assert!(mem.write(0, b"a").is_ok());
    let err = mem.write(0, b"b").unwrap_err();
    assert!(err.to_string().contains("injected fault at write"), "{err}");
    assert!(mem.write(0, b"c").is_ok());
    // Reads are not counted by a WRITE plan.
    mem.fail_at(
        mem.op_count(OpMask::WRITE),
        FailMode::FromThenOn,
        OpMask::WRITE,
    );
    let mut buf = [0u8; 1];
    mem.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"c");
    assert!(mem.write(0, b"d").is_err() && mem.write(0, b"e").is_err());
    assert_eq!(mem.failures(), 3);
}

#[test]
fn crash_images_hold_synced_data_and_a_seeded_subset_of_the_rest() {
    let fault = FaultBackend::new(InMemoryBackend::new()).unwrap();
    fault.set_len(8192).unwrap();
    fault.write(0, &[1u8; 4096]).unwrap();
    fault.sync_data().unwrap();
    fault.write(4096, &[2u8; 4096]).unwrap();
    assert_eq!(fault.unsynced_ops(), 1);
    let none = CrashOptions {
        keep: 0.0,
        ..CrashOptions::default()
    };
    let image = fault.crash_image(1, &none);
    assert_eq!(image.len(), 8192);
    assert!(image[..4096].iter().all(|&b| b == 1) && image[4096..].iter().all(|&b| b == 0));
    // Same seed, same image; across seeds, torn writes keep whole sectors only.
    let torn = CrashOptions {
        keep: 1.0,
        torn: 1.0,
        torn_last: 1.0,
        sector: 512,
    };
    assert_eq!(fault.crash_image(9, &torn), fault.crash_image(9, &torn));
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let image = fault.crash_image(seed, &torn);
        let landed = image[4096..].iter().take_while(|&&b| b == 2).count();
        assert_eq!(landed % 512, 0);
        assert!(image[4096 + landed..].iter().all(|&b| b == 0));
        lengths.insert(landed);
    }
    assert!(lengths.len() > 3, "tearing never varies: {lengths:?}");
    // A real redb commit survives a crash image taken after it.
    let fault = FaultBackend::new(InMemoryBackend::new()).unwrap();
    let db = redb::Database::builder()
        .create_with_backend(fault.clone())
        .unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(T).unwrap().insert(1, 2).unwrap();
    txn.commit().unwrap();
    let image = fault.crash_image(3, &CrashOptions::default());
    drop(db);
    let db = redb::Database::builder()
        .create_with_backend(FaultBackend::from_image(&image))
        .unwrap();
    let r = redb::ReadableDatabase::begin_read(&db).unwrap();
    assert_eq!(r.open_table(T).unwrap().get(1).unwrap().unwrap().value(), 2);
}

/// Write operations that creating an empty database file takes (the
/// encrypted header and commit slots, redb's header, the tables' setup).
fn creation_writes(encrypted: bool) -> u64 {
    let store = Store::new(encrypted);
    drop(store.open(crate::crashkit::tables_v1()).unwrap());
    store.fault.op_count(OpMask::WRITES)
}

/// Allocated pages once every table is deleted and freed pages are reclaimed
/// (redb's fuzzer leak check).
fn pages_after_emptying(image: &[u8], keys: Keys) -> Result<u64, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let builder = redb::Database::builder();
    let db = match keys {
        Keys::Plain => {
            builder.create_with_backend(aragora_db::storage::fault::memory_backend(image))
        }
        Keys::Only(k) => builder.create_with_backend(open_encrypted(image, k).map_err(|x| e(&x))?),
        Keys::OneOf(k) => builder.create_with_backend(
            open_encrypted(image, k)
                .or_else(|_| open_encrypted(image, k + 1))
                .map_err(|x| e(&x))?,
        ),
    }
    .map_err(|x| e(&x))?;
    let txn = db.begin_write().map_err(|x| e(&x))?;
    let names: Vec<_> = txn.list_tables().map_err(|x| e(&x))?.collect();
    for h in names {
        txn.delete_table(h).map_err(|x| e(&x))?;
    }
    txn.commit().map_err(|x| e(&x))?;
    let mut last = u64::MAX;
    for _ in 0..8 {
        let t = db.begin_write().map_err(|x| e(&x))?;
        let n = t.stats().map_err(|x| e(&x))?.allocated_pages();
        t.commit().map_err(|x| e(&x))?;
        if n == last {
            break;
        }
        last = n;
    }
    Ok(last)
}
