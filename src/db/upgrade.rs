//! Pending schema migrations run when a file is opened.
//!
//! A file records each table's schema version (`__schema`, see
//! [`super::meta`]). A table whose recorded version is older than this
//! binary's declaration may be laid out differently (an index whose
//! entries hold other bytes, see [`crate::table::fingerprint`]): reading
//! it with the new declaration would misread it. So an open brings every
//! table that is behind up to date before any store uses the file, with
//! the registered steps ([`crate::migrations::STEPS`]), exactly as
//! `aragora-db migrate` does ([`crate::ops::migrate::migrate_db`]): each
//! step in its own write transaction together with its version bump, so
//! an interrupted open leaves every table at a version it had and the next
//! open continues.
//!
//! * A read-write open ([`Database::open_path`](super::Database::open_path))
//!   writes the migrated file.
//! * A read-only open ([`Database::open_read_only`](super::Database::open_read_only))
//!   runs the same steps on its copy-on-write overlay: the handle reads the
//!   migrated tables and the file is not written (see [`super::readonly`]).
//! * A table behind with no registered path to its declared version is
//!   refused ([`Error::Layout`](crate::Error::Layout), naming the file, the
//!   table and both versions).
//!
//! One `tracing` line is logged per step run.

use super::{Database, Inner};
use crate::error::Result;
use crate::migrations::Step;
use crate::table::TableDef;
use std::path::Path;
use std::sync::Arc;

/// What an open does with tables behind their declaration
/// ([`OpenOptions::migrations`](super::OpenOptions::migrations)).
#[derive(Debug, Clone, Copy)]
pub enum Migrations {
    /// Runs these steps (by default the registered ones,
    /// [`crate::migrations::STEPS`]); a table behind with no path to its
    /// declared version is refused.
    Run(&'static [Step]),
    /// Leaves the file as it is: for `status` and `migrate`, which report
    /// and run the steps themselves. A handle opened so must not read or
    /// write a table that is behind (its rows or index entries may be laid
    /// out otherwise); only its versions and row counts.
    Leave,
}

impl Default for Migrations {
    fn default() -> Self {
        Migrations::Run(crate::migrations::STEPS)
    }
}

/// How [`run_pending`] may run steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A read-write open: the steps write the file.
    Write,
    /// A read-only open on its overlay: the steps stay in memory.
    InMemory,
    /// A read-only open given this process's read-write handle (opened
    /// leaving its pending steps): refused rather than written.
    Refuse,
}

/// Runs every pending step of the file `inner` holds (see the module
/// documentation). Called after [`super::meta::ensure_tables`], and again
/// when an open reuses a handle this process holds (which may have been
/// opened with [`Migrations::Leave`]).
pub(crate) fn run_pending(inner: &Arc<Inner>, what: &Migrations, mode: Mode) -> Result<()> {
    let steps = match what {
        Migrations::Run(steps) => *steps,
        Migrations::Leave => return Ok(()),
    };
    if inner.redb().is_err() {
        return Ok(());
    }
    // A handle that may write: on a read-only open its writes go to the
    // overlay, never to the file.
    let db = Database {
        inner: Arc::clone(inner),
        read_only: false,
        clock: crate::time::Clock::system(),
    };
    let pending = crate::ops::migrate::status_db(&db, steps)?
        .iter()
        .any(|t| t.state != "current" && t.state != "too_new");
    if !pending {
        return Ok(());
    }
    if mode == Mode::Refuse {
        return Err(crate::Error::Busy(format!(
            "{} is open read-write in this process with schema migrations pending; \
             run them (aragora-db migrate) or close that handle before reading",
            inner.set.origin().display()
        )));
    }
    for a in crate::ops::migrate::migrate_db(&db, steps, false)? {
        if mode == Mode::InMemory {
            tracing::info!(
                path = %a.file.display(), table = a.table, step = a.step,
                "migrated in memory on a read-only open (the file is not written)"
            );
        } else {
            tracing::info!(
                path = %a.file.display(), table = a.table, step = a.step, rows = a.rows,
                "migrated on open"
            );
        }
    }
    Ok(())
}

/// The tables of `tables` whose schema version recorded in the snapshot
/// `txn` is older than declared, as `(table, recorded, declared)`.
pub(crate) fn behind(
    txn: &redb::ReadTransaction,
    tables: &[&'static TableDef],
) -> Vec<(&'static str, u32, u32)> {
    let Ok(t) = txn.open_table(super::meta::SCHEMA) else {
        return Vec::new();
    };
    tables
        .iter()
        .filter_map(|def| {
            let v = t.get(def.name).ok().flatten()?.value();
            (v < def.version).then_some((def.name, v, def.version))
        })
        .collect()
}

/// A read-only handle on an in-memory image of `path` (redb over an
/// overlay, as `verify` opens it) with its pending steps run in memory:
/// what `verify` checks when a table is behind its declaration, since the
/// declaration describes the migrated layout, not the recorded one.
pub(crate) fn migrated_image(
    db: redb::Database,
    path: &Path,
    tables: &[&'static TableDef],
) -> Result<Database> {
    let inner = Arc::new(Inner::new(
        db,
        path.to_path_buf(),
        tables.to_vec(),
        &super::OpenOptions::default(),
    ));
    super::meta::ensure_tables(&inner)?;
    run_pending(&inner, &Migrations::default(), Mode::InMemory)?;
    Ok(Database {
        inner,
        read_only: true,
        clock: crate::time::Clock::system(),
    })
}
