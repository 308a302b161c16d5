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
//!   migrated tables and the file is not written (see `db::readonly`).
//! * A table behind with no registered path to its declared version is
//!   refused ([`Error::Layout`], naming the file, the
//!   table and both versions).
//!
//! One `tracing` line is logged per step run.

use super::{Database, Inner};
use crate::error::{Error, Found, Result};
use crate::migrations::Step;
use crate::table::{IndexDef, TableDef, Writer, fingerprint};
use serde::Serialize;
use std::path::{Path, PathBuf};
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
    let pending = status_db(&db, steps)?
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
    for a in migrate_db(&db, steps, false)? {
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

// ----- the steps' runner (also `aragora-db migrate`, crate::ops::migrate) -----

/// The start of a step's transaction, before its work: empties key spaces
/// no declared index uses any more, and the key spaces of the indexes the
/// migration added or changed (those whose line in the fingerprint
/// recorded for the file's version differs, or all of them when none is
/// recorded). Returns those indexes, which [`finish_step`] derives again.
/// Emptying them first keeps stale entries (another index's, at a key space
/// that changed hands) out of the step's own UNIQUE checks; during the step
/// they are empty, so a step reads rows by primary key or by scan, not
/// through an index it adds or changes.
fn prepare_step(
    w: &mut Writer<'_>,
    def: &'static TableDef,
    old_print: Option<&str>,
) -> Result<Vec<&'static IndexDef>> {
    for space in w.undeclared_key_spaces(def)? {
        w.drop_key_space(def, space)?;
    }
    let rebuild = fingerprint::indexes_to_rebuild(old_print, def);
    for idx in &rebuild {
        w.clear_index(def, idx.name)?;
    }
    Ok(rebuild)
}

/// The end of a step's transaction: derives again every index
/// [`prepare_step`] emptied ([`Writer::rebuild_index`]: re-writing rows
/// does not fill a new index, nor check a new UNIQUE one against the rows
/// already there), then records the declaration's fingerprint if the step
/// reaches the declared version, or removes the recorded one (which no
/// longer describes the file) if it reaches an intermediate version.
fn finish_step(
    w: &mut Writer<'_>,
    def: &'static TableDef,
    to: u32,
    rebuild: &[&'static IndexDef],
) -> Result<()> {
    for idx in rebuild {
        crate::table::rebuild_index(w, def, idx.name)?;
    }
    let path = w.embedded_txn()?.path().to_path_buf();
    let st = |e: redb::Error| Error::storage(&path, e);
    if to == def.version {
        crate::db::fingerprint::record(w.raw_txn()?, def).map_err(st)
    } else {
        crate::db::fingerprint::forget(w.raw_txn()?, def.name).map_err(st)
    }
}

/// Where one table stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStatus {
    /// The table.
    pub table: &'static str,
    /// Version recorded in the file.
    pub stored: u32,
    /// Version this binary declares.
    pub declared: u32,
    /// Steps still to run, in order.
    pub pending: Vec<&'static str>,
    /// `current`, `pending`, `too_new` or `no_path` (a step is missing).
    pub state: &'static str,
}

/// The steps that bring `def` from `stored` to its declared version, or
/// the first missing version.
pub fn chain(
    steps: &'static [Step],
    def: &TableDef,
    stored: u32,
) -> std::result::Result<Vec<&'static Step>, u32> {
    (stored + 1..=def.version)
        .map(|v| {
            steps
                .iter()
                .find(|s| s.table == def.name && s.to == v)
                .ok_or(v)
        })
        .collect()
}

/// Status of every table of an open file.
pub fn status_db(db: &Database, steps: &'static [Step]) -> Result<Vec<TableStatus>> {
    let versions = db.schema_versions()?;
    Ok(db
        .tables()
        .iter()
        .map(|&def| {
            let stored = versions
                .iter()
                .find(|(n, _)| n == def.name)
                .map_or(def.version, |v| v.1);
            let (pending, state) = if stored > def.version {
                (Vec::new(), "too_new")
            } else {
                match chain(steps, def, stored) {
                    Ok(c) if c.is_empty() => (Vec::new(), "current"),
                    Ok(c) => (c.iter().map(|s| s.name).collect(), "pending"),
                    Err(_) => (Vec::new(), "no_path"),
                }
            };
            TableStatus {
                table: def.name,
                stored,
                declared: def.version,
                pending,
                state,
            }
        })
        .collect())
}

/// A step carried out (or, in a dry run, to be carried out).
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The file.
    pub file: PathBuf,
    /// The table.
    pub table: &'static str,
    /// The step.
    pub step: &'static str,
    /// Rows touched (0 in a dry run).
    pub rows: u64,
}

/// Runs every pending step of an open file, each in one write transaction
/// with its version bump. A missing step is an error naming the table and
/// the version (nothing after it runs for that table).
pub fn migrate_db(db: &Database, steps: &'static [Step], dry_run: bool) -> Result<Vec<Applied>> {
    let mut out = Vec::new();
    for st in status_db(db, steps)? {
        let def: &'static TableDef = crate::schema::table(st.table).or_else(|_| {
            db.tables()
                .iter()
                .copied()
                .find(|d| d.name == st.table)
                .ok_or_else(|| Error::Unknown {
                    kind: "table",
                    name: st.table.to_string(),
                    hint: format!(" in {}", db.path().display()),
                })
        })?;
        let chain = match chain(steps, def, st.stored) {
            Ok(c) => c,
            Err(v) => {
                return Err(Error::layout(
                    db.path(),
                    Found::OtherVersion,
                    format!(
                        "table {} is at schema version {}, declared {}, but no migration step produces version {v}",
                        def.name, st.stored, def.version
                    ),
                ));
            }
        };
        // The fingerprint of the declaration the file was written with, if
        // it is recorded at the file's version: it tells which indexes the
        // migration adds or changes.
        let mut old_print = db
            .recorded_fingerprint(def.name)?
            .filter(|t| fingerprint::version_of(t) == Some(st.stored));
        for step in chain {
            let rows = if dry_run {
                0
            } else {
                let rows = db.write_versioned(def.name, step.to, |w| {
                    let rebuild = prepare_step(w, def, old_print.as_deref())?;
                    let rows = (step.apply)(w, def)?;
                    finish_step(w, def, step.to, &rebuild)?;
                    Ok(rows)
                })?;
                // The indexes now match the declaration: later steps of
                // this run rebuild nothing (a rerun after an interruption
                // finds no fingerprint and rebuilds them all).
                old_print = Some(fingerprint::fingerprint(def));
                rows
            };
            out.push(Applied {
                file: db.path().to_path_buf(),
                table: def.name,
                step: step.name,
                rows,
            });
        }
    }
    Ok(out)
}
