//! The check of one crash image (plain or encrypted).

use super::{Keys, NAME, NOTE_STEPS, NOTES, Snapshot, key, opts, snapshot, tables_v2};
use aragora_db::crypto::EncryptedBackend;
use aragora_db::db::meta::SCHEMA;
use aragora_db::ops::migrate::migrate_db;
use aragora_db::storage::fault::memory_backend;
use aragora_db::table::check::check_table;
use aragora_db::{Database, Error};
use redb::backends::InMemoryBackend;
use redb::{ReadableDatabase, StorageBackend};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// What a crash image must hold.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The reference states (`states[0]` before any commit).
    pub states: &'a [Snapshot],
    /// Commits acknowledged before the crash.
    pub committed: usize,
    /// The keys that must (or may) open it.
    pub keys: Keys,
}

/// What a crash image held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The reference state it equals.
    pub state: usize,
    /// The key that opened it (`None`: plain).
    pub key: Option<usize>,
    /// The migration was run again on it (it was just before the migration's commit).
    pub remigrated: bool,
    /// The encrypted open discarded the newest commit (its blocks had not
    /// all landed) and fell back to the one before.
    pub fell_back: bool,
}

/// Checks one crash image. The right key opens it, and no other: key
/// `k` outside a rotation, exactly one of `k` and `k + 1` during one (then
/// the data is the pre-rotation data: no commit is in flight), the other
/// giving `WrongKey`. redb integrity is clean; the database opens; its state
/// is `states[committed]` or (the commit in flight) `states[committed + 1]`,
/// with `crash_notes` at schema version 1 and old rows or at version 2 and
/// every row migrated (the version is part of the state); every table passes
/// `check_table` (rows decode with valid CRCs, rows and indexes agree both
/// ways, counts, foreign keys); an image just before the migration's commit
/// is migrated again and must then equal the state after it, and a migrated
/// image has nothing left to migrate; nothing panics.
pub fn check_image(image: &[u8], exp: &Expect<'_>) -> Result<Verdict, String> {
    match catch_unwind(AssertUnwindSafe(|| check_inner(image, exp))) {
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

/// The image under encryption key `k`.
pub fn open_encrypted(
    image: &[u8],
    k: usize,
) -> aragora_db::Result<EncryptedBackend<InMemoryBackend>> {
    EncryptedBackend::open(memory_backend(image), Path::new(NAME), &key(k))
}

/// `Ok` if key `k` gives `WrongKey` on the image.
fn refused(image: &[u8], k: usize) -> Result<(), String> {
    match open_encrypted(image, k) {
        Err(Error::WrongKey { .. }) => Ok(()),
        Ok(_) => Err(format!("key {k} opens it too")),
        Err(e) => Err(format!("key {k}: expected WrongKey, got: {e}")),
    }
}

fn discarded(enc: &EncryptedBackend<InMemoryBackend>) -> bool {
    enc.findings().iter().any(|f| f.contains("was discarded"))
}

fn check_inner(image: &[u8], exp: &Expect<'_>) -> Result<Verdict, String> {
    let mut fell_back = false;
    let key = match exp.keys {
        Keys::Plain => None,
        Keys::Only(k) => {
            let enc = open_encrypted(image, k).map_err(|e| format!("key {k}: {e}"))?;
            fell_back = discarded(&enc);
            if k > 0 {
                refused(image, k - 1).map_err(|e| format!("after rotation {k}: {e}"))?;
            }
            refused(image, k + 1)?;
            Some(k)
        }
        Keys::OneOf(k) => {
            let which = match (open_encrypted(image, k), open_encrypted(image, k + 1)) {
                (Ok(enc), Err(Error::WrongKey { .. })) => {
                    fell_back = discarded(&enc);
                    k
                }
                (Err(Error::WrongKey { .. }), Ok(enc)) => {
                    fell_back = discarded(&enc);
                    k + 1
                }
                (old, new) => {
                    return Err(format!(
                        "during rotation {} exactly one of the old and new keys must open it, \
                         the other giving WrongKey: old {:?}, new {:?}",
                        k + 1,
                        old.err().map(|e| e.to_string()),
                        new.err().map(|e| e.to_string())
                    ));
                }
            };
            Some(which)
        }
    };
    let (state, remigrated) = match key {
        None => check_db(&|| Ok(memory_backend(image)), exp)?,
        Some(k) => check_db(&|| open_encrypted(image, k).map_err(|e| e.to_string()), exp)?,
    };
    if matches!(exp.keys, Keys::OneOf(_)) && state != exp.committed {
        return Err(format!(
            "a crash during the rotation shows state {state}, not the pre-rotation state {}",
            exp.committed
        ));
    }
    Ok(Verdict {
        state,
        key,
        remigrated,
        fell_back,
    })
}

/// Checks the database on a fresh backend from `make` (called twice).
fn check_db<B: StorageBackend>(
    make: &dyn Fn() -> Result<B, String>,
    exp: &Expect<'_>,
) -> Result<(usize, bool), String> {
    let mut raw = redb::Database::builder()
        .create_with_backend(make()?)
        .map_err(|e| format!("redb cannot open the image: {e}"))?;
    match raw.check_integrity() {
        Ok(true) => {}
        Ok(false) => return Err("redb integrity check failed (repaired)".into()),
        Err(e) => return Err(format!("redb integrity check: {e}")),
    }
    // As stored, before our open records versions for a file that has none.
    let migrated = stored_version(&raw)?.is_some_and(|v| v >= 2);
    drop(raw);
    let db = Database::open_backend(NAME, make()?, tables_v2(), &opts())
        .map_err(|e| format!("open: {e}"))?;
    let r = db.read().map_err(|e| format!("read: {e}"))?;
    for &def in db.tables() {
        let problems = check_table(&r, def).map_err(|e| format!("check {}: {e}", def.name))?;
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            return Err(format!("{}: {}", def.name, list.join("; ")));
        }
    }
    drop(r);
    let mut got = snapshot(&db).map_err(|e| format!("snapshot: {e}"))?;
    got.migrated = migrated;
    let states = exp.states;
    let committed = exp.committed;
    let Some(k) = [committed, committed + 1]
        .into_iter()
        .find(|&k| states.get(k) == Some(&got))
    else {
        let near = states
            .iter()
            .position(|s| *s == got)
            .map_or("no reference state".to_string(), |k| format!("state {k}"));
        let mixed = if got.migrated {
            "version 2"
        } else {
            "version 1"
        };
        let filled = got.notes.iter().filter(|n| n.words.is_some()).count();
        return Err(format!(
            "expected state {committed} (or {} in flight), found {near}: {} accounts, {} \
             entries, crash_notes at {mixed} with {filled} of {} notes migrated",
            committed + 1,
            got.accounts.len(),
            got.entries.len(),
            got.notes.len()
        ));
    };
    // The migration, run again after the crash, completes it (or finds nothing to do).
    let Some(m) = states.iter().position(|s| s.migrated) else {
        return Ok((k, false));
    };
    if k + 1 < m {
        return Ok((k, false));
    }
    let applied = migrate_db(&db, NOTE_STEPS, false).map_err(|e| format!("migrate again: {e}"))?;
    let want = if k + 1 == m { 1 } else { 0 };
    if applied.len() != want {
        return Err(format!(
            "state {k}: migrating again applied {} steps, expected {want}",
            applied.len()
        ));
    }
    let after = snapshot(&db).map_err(|e| format!("snapshot after migrating: {e}"))?;
    if after != states[k.max(m)] {
        return Err(format!(
            "state {k}: migrating again did not give state {}",
            k.max(m)
        ));
    }
    Ok((k, want == 1))
}

/// `crash_notes`'s version in `__schema`, if recorded.
fn stored_version(db: &redb::Database) -> Result<Option<u32>, String> {
    let r = db.begin_read().map_err(|e| format!("read: {e}"))?;
    match r.open_table(SCHEMA) {
        Ok(t) => t
            .get(NOTES.name)
            .map(|g| g.map(|v| v.value()))
            .map_err(|e| format!("read __schema: {e}")),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(format!("open __schema: {e}")),
    }
}
