//! The registered schema migration steps, oldest first.
//!
//! A table's schema version lives in its declaration (`version:` in
//! [`table!`](crate::table!)) and, per file, in `__schema`. Changing a
//! declaration means: bump its `version`, and register one step per new
//! version here, `NNN_description` (`tools/new-migration "description"
//! --table TABLE` scaffolds the file and its line below). Each
//! step runs in one write transaction together with the version bump
//! (`crate::ops::migrate`). Appending a column needs no rewrite: rows
//! written before it read the column's declared default (see
//! [`codec`](crate::table::codec)); [`add_column`]
//! is the step for that case. A new or changed index needs nothing in the
//! step: re-writing rows would not fill it, so the run empties every index
//! the declaration added or changed before the first step's work and
//! derives it from the rows after it, in its transaction, checking UNIQUE
//! ([`crate::table::rebuild_index`]); the step cannot use those indexes
//! while it runs. A read-write open runs the pending steps of a file
//! before anything uses it, and a read-only open runs them in memory
//! (`crate::db::upgrade`).

use crate::error::Result;
use crate::table::{KeyRange, Page, Read, TableDef, Writer};

/// One migration step: brings `table` to schema version `to` (from `to - 1`).
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Its number (`NNN`).
    pub id: u32,
    /// `NNN_description`.
    pub name: &'static str,
    /// The table it migrates.
    pub table: &'static str,
    /// The version it produces.
    pub to: u32,
    /// The work, inside the step's write transaction (it reads the rows
    /// through the same writer); returns rows touched.
    pub apply: fn(&mut Writer<'_>, &'static TableDef) -> Result<u64>,
}

/// The `safe_add_column` equivalent: every row is re-encoded with the
/// declared columns (old rows get the declared default of each column they
/// lack). Returns the rows rewritten.
pub fn add_column(w: &mut Writer<'_>, def: &'static TableDef) -> Result<u64> {
    let mut rows = Vec::new();
    w.source().rows(
        def,
        None,
        &KeyRange::all(),
        Page::default(),
        &mut |pk, bytes| {
            let (values, extras) = def.decode_values(pk, bytes)?;
            rows.push((values, extras));
            Ok(true)
        },
    )?;
    for (values, extras) in &rows {
        w.update_values(def, values, extras)?;
    }
    Ok(rows.len() as u64)
}

// Generated modules go here (one line each): `mod m001_description;`
mod m001_users_covering_lookups;
// @migration-modules

/// Every step, in order.
pub static STEPS: &[Step] = &[
    // Generated entries go here (one line each): `m001_description::STEP,`
    m001_users_covering_lookups::STEP,
    // @migration-steps
];
