//! Migration step 001_users_covering_lookups: users covering lookups
//!
//! Table `users` (database `DbTarget::Store(Store::Users)`), schema version 1 -> 2.
//!
//! Version 2 declares `idx_users_email` UNIQUE COVERING (each entry holds
//! the primary key and a copy of the row) and `idx_users_org` COVERING
//! (each entry holds a copy of the row), so a lookup by email and a list
//! by organization are one B-tree walk (see `crate::table::layout`).
//! Rows are unchanged. The step has nothing to do itself: the migration
//! run empties every index whose fingerprint line changed (these two)
//! before the step and derives it again from the rows after it, in the
//! step's transaction (`crate::db::upgrade`).

use crate::error::Result;
use crate::migrations::Step;
use crate::table::{TableDef, Writer};

/// The step.
pub const STEP: Step = Step {
    id: 1,
    name: "001_users_covering_lookups",
    table: "users",
    to: 2,
    apply,
};

/// Runs inside the step's write transaction; returns the rows touched
/// (none: the indexes are rebuilt around it).
fn apply(_w: &mut Writer<'_>, _def: &'static TableDef) -> Result<u64> {
    Ok(0)
}
