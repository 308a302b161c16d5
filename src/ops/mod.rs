//! Operational tools: verify, backup and restore, retention cleanup,
//! salvage. Each works on the database files of a [`Config`]'s mode and
//! derives everything about tables from their declarations
//! ([`crate::schema::ALL_TABLES`]).
//!
//! * [`verify`]: redb integrity, row CRCs, rows ↔ indexes, constraints.
//! * [`backup`] / [`restore`]: online snapshots with a [`manifest`].
//! * [`cleanup`]: retention of audit events, usage events, share links,
//!   revoked tokens.
//! * [`salvage`]: every readable row out of a damaged file.
//! * [`consolidate`]: tables between legacy and consolidated files.
//! * [`migrate`]: schema migration steps.
//! * `unreadable` (a crate-level leaf): how the read-only commands report a file they cannot read.

pub mod backup;
pub mod cleanup;
pub mod consolidate;
pub mod encrypt;
pub mod export_rows;
pub use crate::fsutil;
pub mod manifest;
pub mod migrate;
pub mod raw;
pub mod restore;
pub mod salvage;
pub mod to_postgres;
pub mod verify;

use crate::config::{Config, DbTarget};
use crate::error::Result;
use crate::table::TableDef;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One database file of a mode with what lives in it.
#[derive(Debug, Clone)]
pub struct DbFileSet {
    /// Our redb file.
    pub path: PathBuf,
    /// The databases stored in it.
    pub owners: Vec<DbTarget>,
    /// The declared tables stored in it, in registry order.
    pub tables: Vec<&'static TableDef>,
}

/// Every database file of the configured mode (existing or not), in path order.
pub fn files(config: &Config) -> Result<Vec<DbFileSet>> {
    let mut by_path: BTreeMap<PathBuf, Vec<DbTarget>> = BTreeMap::new();
    for (t, f) in config.all_db_paths()? {
        by_path.entry(f.path).or_default().push(t);
    }
    by_path
        .into_iter()
        .map(|(path, owners)| {
            let tables = crate::schema::tables_in_file(config, &path)?;
            Ok(DbFileSet {
                path,
                owners,
                tables,
            })
        })
        .filter(|f: &Result<DbFileSet>| f.as_ref().map_or(true, |f| !f.tables.is_empty()))
        .collect()
}

/// The meta tables every file carries beside its declared tables.
pub const META_TABLES: [&str; 4] = ["__layout", "__schema", "__fingerprint", "__inherited_refs"];
