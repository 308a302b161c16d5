//! `migrate`: schema migrations, numbered `NNN_description`.
//!
//! Each file records every table's schema version in `__schema`. A table
//! whose recorded version is older than its declaration is brought up by
//! the registered [`Step`]s for that table (`crate::migrations::STEPS`),
//! one after another, each in **one write transaction together with the
//! version bump** — an interrupted run leaves every table at a version it
//! had, and a rerun continues from there. A file whose recorded version is
//! newer than this binary's declaration is refused when opened
//! ([`Error::SchemaTooNew`]); status reports it.
//!
//! Row formats are versioned twice: the envelope's format byte (how a row
//! is encoded) and the table's schema version (which columns it has). Rows
//! with fewer values than the declaration read the declared defaults, so
//! appending a column never breaks old rows; [`add_column`] is the step
//! that rewrites them to carry the column.
//!
//! Indexes are not kept by re-writing rows: the write path only moves an
//! entry whose key changed, so rows re-written under a declaration with a
//! new index get no entry in it and a new UNIQUE index is never checked
//! against them. So in the first step's transaction every index the
//! declaration added or changed (found by comparing the fingerprint
//! recorded for the old version, see [`crate::table::fingerprint`]; all of
//! them when none is recorded) is emptied before the step's work and
//! derived again from the rows after it, and key spaces no index uses any
//! more are emptied. A UNIQUE violation fails the step and nothing of it
//! is committed. The step that reaches the declared version records the
//! new fingerprint.
//!
//! This is a compiled tool, so a new step is code: the script
//! `tools/new-migration` writes `src/migrations/mNNN_slug.rs` from
//! `src/migrations/TEMPLATE.rs.txt` and registers it in
//! `src/migrations/mod.rs`; the developer then bumps the table's `version`
//! and rebuilds.

use crate::config::{Config, DbTarget};
use crate::db::Database;
use crate::error::{Error, Found, Result};
pub use crate::migrations::{Step, add_column};
use crate::table::{IndexDef, TableDef, Writer, fingerprint};
use serde::Serialize;
use std::path::PathBuf;

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
                    let rows = (step.apply)(db, w, def)?;
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

/// The configured open options, leaving pending steps to the caller.
fn leave(config: &Config) -> crate::db::OpenOptions {
    crate::db::OpenOptions {
        migrations: crate::db::Migrations::Leave,
        ..config.into()
    }
}

/// The existing files of the configured mode (only `only`'s file if given).
fn targets(config: &Config, only: Option<DbTarget>) -> Result<Vec<super::DbFileSet>> {
    let want = only.map(|t| config.get_db_path(t)).transpose()?;
    Ok(super::files(config)?
        .into_iter()
        .filter(|f| f.path.exists() && want.as_ref().is_none_or(|w| w.path == f.path))
        .collect())
}

/// One file's status, or the error opening it gave (e.g. [`Error::SchemaTooNew`]).
pub type FileStatus = (PathBuf, std::result::Result<Vec<TableStatus>, String>);

/// Status of every existing file.
pub fn status(config: &Config, only: Option<DbTarget>) -> Result<Vec<FileStatus>> {
    targets(config, only)?
        .into_iter()
        .map(|f| {
            // Read-only: a status never writes, creates or repairs a file;
            // and it reports the pending steps instead of running them.
            let st = Database::open_read_only(&f.path, f.tables.clone(), &leave(config))
                .and_then(|db| status_db(&db, crate::migrations::STEPS))
                .map_err(|e| e.to_string());
            Ok((f.path, st))
        })
        .collect()
}

/// Migrates every existing file (or `only`'s) with the registered steps.
pub fn migrate(config: &Config, only: Option<DbTarget>, dry_run: bool) -> Result<Vec<Applied>> {
    let mut out = Vec::new();
    for f in targets(config, only)? {
        // A dry run only reads (it lists the steps), so it opens read-only.
        // Opened leaving pending steps alone: this run carries them out
        // and reports each.
        let db = if dry_run {
            Database::open_read_only(&f.path, f.tables.clone(), &leave(config))?
        } else {
            Database::open_path(&f.path, f.tables.clone(), &leave(config))?
        };
        out.extend(migrate_db(&db, crate::migrations::STEPS, dry_run)?);
    }
    Ok(out)
}

/// Problems with a set of steps (tested to be empty for the registry):
/// unknown tables, duplicate numbers or names, and declared versions
/// without a complete chain of steps from version 1.
pub fn registry_problems(steps: &'static [Step]) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for s in steps {
        if !ids.insert(s.id) {
            out.push(format!("step number {} used twice", s.id));
        }
        if !s.name.starts_with(&format!("{:03}_", s.id)) {
            out.push(format!(
                "step {} is not named {:03}_description",
                s.name, s.id
            ));
        }
        match crate::schema::table(s.table) {
            Ok(def) if s.to > def.version || s.to < 2 => out.push(format!(
                "step {} produces {} version {}, declared {}",
                s.name, s.table, s.to, def.version
            )),
            Ok(_) => {}
            Err(_) => out.push(format!("step {} names unknown table {}", s.name, s.table)),
        }
    }
    for def in crate::schema::ALL_TABLES {
        if let Err(v) = chain(steps, def, 1) {
            out.push(format!(
                "{} is declared at version {} but no step produces version {v}",
                def.name, def.version
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registry_is_complete() {
        assert_eq!(
            super::registry_problems(crate::migrations::STEPS),
            Vec::<String>::new()
        );
    }
}
