//! Support for the crash-consistency harness (tests/it/crash.rs): the test
//! tables, a seeded workload of transactions, a reference run, and the check
//! of one crash image.
//!
//! The workload runs on a [`FaultBackend`]. The expected state after each
//! commit comes from running the same workload on a plain in-memory backend
//! (the reference run), so nothing about the expected data is hard-coded:
//! a crash image must reopen to the state after the last commit that
//! returned, or (if the crash hit the commit in flight) the one after it.

use aragora_db::db::OpenOptions;
use aragora_db::schema::core::{Trace, TraceEvent};
use aragora_db::storage::fault::{FaultBackend, SplitMix, memory_backend};
use aragora_db::table::check::check_table;
use aragora_db::table::{KeyRange, Page, TableDef};
use aragora_db::{Database, Result};

mod tables;
use redb::backends::InMemoryBackend;
use std::panic::{AssertUnwindSafe, catch_unwind};
pub use tables::*;

/// Everything a database holds, read through the v2 declarations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub accounts: Vec<Account>,
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
    pub traces: Vec<Trace>,
    pub events: Vec<TraceEvent>,
}

pub fn snapshot(db: &Database) -> Result<Snapshot> {
    let r = db.read()?;
    Ok(Snapshot {
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
    /// backfill it in one transaction through the Writer.
    Migrate,
    /// Key rotation. HOOK(crypto): encryption lands on branch `crypto`; once it
    /// is merged this step re-encrypts the file under a new key through the
    /// encrypted backend. Until then it commits nothing and is skipped.
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
        .ok_or_else(|| aragora_db::Error::Invalid(format!("row {id} vanished")))
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
            for pk in w.keys_by::<Entry>("idx_crash_entries_account", *id)? {
                w.delete_raw(&ENTRIES, &pk)?;
            }
            w.delete::<Account>(*id)?;
            w.delete::<Trace>(format!("t{trace}"))?;
            Ok(())
        })?,
        // The caller has reopened with the v2 declarations; backfill the new column.
        Step::Migrate => db.write(|w| {
            for id in 0..NOTES_N {
                let mut n: Note = get(w, id)?;
                n.words = Some(n.body.split_whitespace().count() as i64);
                w.update(&n)?;
            }
            Ok(())
        })?,
        Step::RotateKey => return Ok(false),
    }
    Ok(true)
}

/// Opens a database with a table set (on whatever backend the caller chose).
pub type Opener<'a> = dyn Fn(Vec<&'static TableDef>) -> Result<Database> + 'a;

/// Runs the workload: opens with the v1 tables, reopens with v2 at the
/// migration step (the old handle is closed first), and calls `committed`
/// after each step that committed. Stops at the first error.
pub fn drive(
    steps: &[Step],
    open: &Opener<'_>,
    mut committed: impl FnMut(&Database),
) -> Result<()> {
    let mut db = open(tables_v1())?;
    for step in steps {
        if matches!(step, Step::Migrate) {
            drop(db);
            db = open(tables_v2())?;
        }
        if run_step(&db, step)? {
            committed(&db);
        }
    }
    Ok(())
}

/// The reference run: the state before any step and after each committing step.
pub fn reference(steps: &[Step]) -> Vec<Snapshot> {
    let mem = FaultBackend::new(InMemoryBackend::new()).unwrap();
    let open = |tables| Database::open_backend("reference", mem.clone(), tables, &opts());
    let mut states = vec![Snapshot::default()];
    drive(steps, &open, |db| states.push(snapshot(db).unwrap())).unwrap();
    states
}

pub fn opts() -> OpenOptions {
    OpenOptions {
        cache_size: 4 << 20,
        ..OpenOptions::default()
    }
}

/// Checks one crash image: redb integrity is clean, the database opens, its
/// state is `states[committed]` or (the commit in flight) `states[committed + 1]`,
/// every table passes `check_table` (rows decode with valid CRCs, rows and
/// indexes agree both ways, counts, foreign keys), and nothing panics.
/// Returns which state it matched.
pub fn check_image(
    image: &[u8],
    states: &[Snapshot],
    committed: usize,
) -> std::result::Result<usize, String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        check_image_inner(image, states, committed)
    }));
    match outcome {
        Ok(r) => r,
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

fn check_image_inner(
    image: &[u8],
    states: &[Snapshot],
    committed: usize,
) -> std::result::Result<usize, String> {
    let mut raw = redb::Database::builder()
        .create_with_backend(memory_backend(image))
        .map_err(|e| format!("redb cannot open the image: {e}"))?;
    match raw.check_integrity() {
        Ok(true) => {}
        Ok(false) => return Err("redb integrity check failed (repaired)".into()),
        Err(e) => return Err(format!("redb integrity check: {e}")),
    }
    drop(raw);
    let db = Database::open_backend("crash-image", memory_backend(image), tables_v2(), &opts())
        .map_err(|e| format!("open: {e}"))?;
    let r = db.read().map_err(|e| format!("read: {e}"))?;
    for &def in db.tables() {
        let problems = check_table(&r, def).map_err(|e| format!("check {}: {e}", def.name))?;
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            return Err(format!("{}: {}", def.name, list.join("; ")));
        }
    }
    let got = snapshot(&db).map_err(|e| format!("snapshot: {e}"))?;
    for k in [committed, committed + 1] {
        if states.get(k) == Some(&got) {
            return Ok(k);
        }
    }
    let near = states
        .iter()
        .position(|s| *s == got)
        .map_or("no reference state".to_string(), |k| format!("state {k}"));
    Err(format!(
        "expected state {committed} (or {} in flight), found {near}: {} accounts, {} entries",
        committed + 1,
        got.accounts.len(),
        got.entries.len()
    ))
}
