//! `migrate`: schema migrations, numbered `NNN_description`.
//!
//! Each file records every table's schema version in `__schema`. A table
//! whose recorded version is older than its declaration is brought up by
//! the registered [`Step`]s for that table (`crate::migrations::STEPS`),
//! one after another, each in **one write transaction together with the
//! version bump** — an interrupted run leaves every table at a version it
//! had, and a rerun continues from there. A file whose recorded version is
//! newer than this binary's declaration is refused when opened
//! ([`Error::SchemaTooNew`](crate::Error::SchemaTooNew)); status reports it.
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
pub use crate::db::upgrade::{Applied, TableStatus, chain, migrate_db, status_db};
use crate::error::Result;
pub use crate::migrations::{Step, add_column};
use std::path::PathBuf;

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

/// One file's status, or the error opening it gave (e.g. [`Error::SchemaTooNew`](crate::Error::SchemaTooNew)).
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
