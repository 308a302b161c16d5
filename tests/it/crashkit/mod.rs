//! Support for the crash-consistency harness (tests/it/crash.rs): the test
//! tables, a seeded workload of transactions, a reference run, and the check
//! of one crash image.
//!
//! The workload runs on a fault backend, plain or encrypted ([`Store`]).
//! The expected state after each commit comes from running the same
//! workload on a plain in-memory backend (the reference run), so nothing
//! about the expected data is hard-coded: a crash image must reopen to the
//! state after the last commit that returned, or (if the crash hit the
//! commit in flight) the one after it, under the key the file must have
//! then ([`check_image`]).

use aragora_db::db::OpenOptions;
use aragora_db::ops::migrate::migrate_db;
use aragora_db::schema::core::{Trace, TraceEvent};
use aragora_db::storage::fault::SplitMix;
use aragora_db::table::Read;
use aragora_db::table::{KeyRange, Page};
use aragora_db::{Database, Result};

mod check;
mod replay;
mod store;
mod tables;
pub use check::*;
pub use replay::*;
pub use store::*;
pub use tables::*;

/// Everything a database holds, read through the v2 declarations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// `crash_notes` is recorded at schema version 2 in `__schema`.
    pub migrated: bool,
    pub accounts: Vec<Account>,
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
    pub traces: Vec<Trace>,
    pub events: Vec<TraceEvent>,
}

pub fn snapshot(db: &Database) -> Result<Snapshot> {
    let migrated = db
        .schema_versions()?
        .iter()
        .any(|(t, v)| t == NOTES.name && *v >= 2);
    let r = db.read()?;
    Ok(Snapshot {
        migrated,
        accounts: r.scan(KeyRange::all(), Page::default())?,
        entries: r.scan(KeyRange::all(), Page::default())?,
        notes: r.scan(KeyRange::all(), Page::default())?,
        traces: r.scan(KeyRange::all(), Page::default())?,
        events: r.scan(KeyRange::all(), Page::default())?,
    })
}

/// One transaction of the workload.
#[derive(Debug, Clone)]
pub enum Step {
    /// Insert accounts (two indexes each) and notes.
    Seed { accounts: i64, notes: i64 },
    /// Move `amount` from one account to another (both balance index keys
    /// move) and write two ledger entries: one transaction over two tables.
    Transfer {
        from: i64,
        to: i64,
        amount: i64,
        entry: i64,
    },
    /// Rename an account (its unique name index key moves).
    Rename { id: i64, name: String },
    /// Delete an account and its entries, and a trace whose events go with
    /// it (ON DELETE CASCADE), in one transaction.
    Delete { id: i64, trace: i64 },
    /// The migration: reopen with the v2 declarations (an added column), then
    /// run the registered step ([`NOTE_STEPS`]) through
    /// `ops::migrate::migrate_db`: one transaction with the version bump.
    Migrate,
    /// Key rotation: close the database, replace the key of the encrypted
    /// file (`crypto::rekey_backend`), reopen with the new key. Commits no
    /// data; on a plain store only the close and reopen happen.
    RotateKey,
}

/// A seeded workload of about `len` transactions.
pub fn workload(seed: u64, len: usize) -> Vec<Step> {
    let mut rng = SplitMix(seed);
    let accounts = 24;
    let mut live: Vec<i64> = (0..accounts).collect();
    let mut steps = vec![Step::Seed {
        accounts,
        notes: NOTES_N,
    }];
    let mut entry = 0;
    let migrate_at = len / 2;
    for i in 1..len {
        if i == migrate_at {
            steps.push(Step::Migrate);
            continue;
        }
        if i == migrate_at + 1 {
            steps.push(Step::RotateKey);
            continue;
        }
        let pick = rng.below(10);
        if pick < 6 && live.len() >= 2 {
            let a = rng.below(live.len() as u64) as usize;
            let b = (a + 1 + rng.below(live.len() as u64 - 1) as usize) % live.len();
            steps.push(Step::Transfer {
                from: live[a],
                to: live[b],
                amount: 1 + rng.below(50) as i64,
                entry,
            });
            entry += 2;
        } else if pick < 8 && !live.is_empty() {
            let id = live[rng.below(live.len() as u64) as usize];
            steps.push(Step::Rename {
                id,
                name: format!("acct-{id}-r{i}"),
            });
        } else if live.len() > 4 {
            let id = live.remove(rng.below(live.len() as u64) as usize);
            steps.push(Step::Delete { id, trace: id });
        }
    }
    steps
}

fn get<R: aragora_db::table::Row>(w: &mut aragora_db::table::Writer<'_>, id: i64) -> Result<R> {
    w.get::<R>(id)?
        .ok_or_else(|| aragora_db::Error::InvalidArgument(format!("row {id} vanished")))
}

/// Notes seeded by the workload.
pub const NOTES_N: i64 = 20;

/// Runs one step's transaction. Returns whether it commits one.
pub fn run_step(db: &Database, step: &Step) -> Result<bool> {
    match step {
        Step::Seed { accounts, notes } => db.write(|w| {
            for id in 0..*accounts {
                w.insert(&Account {
                    id,
                    name: format!("acct-{id}"),
                    balance: 1000,
                    ..Account::default()
                })?;
            }
            for id in 0..*accounts {
                w.insert(&Trace {
                    trace_id: format!("t{id}"),
                    task: Some(format!("task {id}")),
                    ..Trace::default()
                })?;
                for e in 0..3 {
                    w.insert(&TraceEvent {
                        event_id: format!("t{id}-e{e}"),
                        trace_id: format!("t{id}"),
                        event_type: ["start", "message", "end"][e].into(),
                        ..TraceEvent::default()
                    })?;
                }
            }
            for id in 0..*notes {
                let body = "word ".repeat(id as usize % 7 + 1);
                w.insert(&NoteV1 {
                    id,
                    body,
                    ..NoteV1::default()
                })?;
            }
            Ok(())
        })?,
        Step::Transfer {
            from,
            to,
            amount,
            entry,
        } => db.write(|w| {
            let mut a: Account = get(w, *from)?;
            let mut b: Account = get(w, *to)?;
            a.balance -= amount;
            b.balance += amount;
            w.update(&a)?;
            w.update(&b)?;
            for (id, account_id, amount) in [(*entry, *from, -amount), (entry + 1, *to, *amount)] {
                w.insert(&Entry {
                    id,
                    account_id,
                    amount,
                    ..Entry::default()
                })?;
            }
            Ok(())
        })?,
        Step::Rename { id, name } => db.write(|w| {
            let mut a: Account = get(w, *id)?;
            a.name = name.clone();
            w.update(&a)
        })?,
        Step::Delete { id, trace } => db.write(|w| {
            for pk in w.keys_by(Entry::idx_crash_entries_account, *id)? {
                w.delete_raw(&ENTRIES, &pk)?;
            }
            w.delete::<Account>(*id)?;
            w.delete::<Trace>(format!("t{trace}"))?;
            Ok(())
        })?,
        // The caller has reopened with the v2 declarations.
        Step::Migrate => {
            let applied = migrate_db(db, NOTE_STEPS, false)?;
            if applied.len() != 1 {
                return Err(aragora_db::Error::InvalidArgument(format!(
                    "the migration applied {} steps, expected 1",
                    applied.len()
                )));
            }
        }
        // The caller has rotated the key of the closed file (if encrypted);
        // no data changes.
        Step::RotateKey => return Ok(false),
    }
    Ok(true)
}

/// Runs the workload on `store`: opens with the v1 tables, closes and
/// reopens with v2 at the migration step, closes, rotates the key and
/// reopens at the rotation step, and calls `committed` after each step that
/// committed. Stops at the first error.
pub fn drive(steps: &[Step], store: &Store, mut committed: impl FnMut(&Database)) -> Result<()> {
    let mut tables = tables_v1();
    let mut db = store.open(tables.clone())?;
    for step in steps {
        match step {
            Step::Migrate => {
                drop(db);
                tables = tables_v2();
                db = store.open(tables.clone())?;
            }
            Step::RotateKey => {
                drop(db);
                store.rotate()?;
                db = store.open(tables.clone())?;
            }
            _ => {}
        }
        if run_step(&db, step)? {
            committed(&db);
        }
    }
    Ok(())
}

/// The reference run: the state before any step and after each committing step.
pub fn reference(steps: &[Step]) -> Vec<Snapshot> {
    let store = Store::new(false);
    let mut states = vec![Snapshot::default()];
    drive(steps, &store, |db| states.push(snapshot(db).unwrap())).unwrap();
    states
}

/// Opens leave pending steps alone: the workload runs its own step
/// ([`NOTE_STEPS`]) with `migrate_db` at a chosen point, and the checker
/// opens crash images taken before it (an ordinary open would run the
/// registered steps, which know nothing of these tables, and refuse them).
pub fn opts() -> OpenOptions {
    OpenOptions {
        cache_size: 4 << 20,
        migrations: aragora_db::Migrations::Leave,
        ..OpenOptions::default()
    }
}
