//! `__fingerprint`: per file, table name → the fingerprint of the
//! declaration that created or last migrated the table (see
//! [`crate::table::fingerprint`] for what it holds and why).
//!
//! * **Recorded** when a table is created (in the transaction that creates
//!   it) and by each migration step that brings a table to its declared
//!   version (in the step's transaction, with the version bump). A step to
//!   an intermediate version removes the entry: this binary only knows its
//!   own declaration, not the intermediate ones.
//! * **Checked** on every open: a table whose recorded schema version equals
//!   the declared one, with a fingerprint recorded at that version that
//!   differs from the declaration's, is [`Error::SchemaMismatch`] naming the
//!   file, the table and what changed. At the same version there is no
//!   migration path, so reading on would misread rows or index entries. A
//!   table at an older version is not compared (its migration is pending
//!   and records the new fingerprint); a newer one is already refused as
//!   [`Error::SchemaTooNew`].
//! * **Files written before fingerprints existed** (no `__fingerprint`, or
//!   no entry for a table, or an entry left at an older version by a binary
//!   that migrated the table without recording one) are never refused. The
//!   next read-write open records the current declaration's fingerprint for
//!   every table at its declared version: such a file was written by a
//!   binary whose declaration at that version is *assumed* to be this one —
//!   nothing in the file can tell otherwise, and refusing every existing
//!   file would be worse. From then on it is checked. A read-only open
//!   must only check, never record (the recording is part of the one write
//!   transaction `ensure_tables` opens, after the check).

use super::Inner;
use crate::error::{Error, Result};
use crate::table::TableDef;
use crate::table::fingerprint::{differences, fingerprint, version_of};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

/// Table name → fingerprint text.
pub const FINGERPRINT: TableDefinition<&str, &str> = TableDefinition::new("__fingerprint");

/// The fingerprints recorded in the file (empty for a file written before
/// fingerprints existed).
pub(crate) fn stored(inner: &Inner) -> Result<Vec<(String, String)>> {
    let st = |e: redb::Error| Error::storage(inner.set.origin(), e);
    let txn = inner.redb()?.begin_read().map_err(|e| st(e.into()))?;
    let table = match txn.open_table(FINGERPRINT) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(Error::storage_in(inner.set.origin(), FINGERPRINT.name(), e)),
    };
    let mut out = Vec::new();
    for entry in table.iter().map_err(|e| st(e.into()))? {
        let (k, v) = entry.map_err(|e| st(e.into()))?;
        out.push((k.value().to_string(), v.value().to_string()));
    }
    Ok(out)
}

/// What differs between `def` and the fingerprint `text` recorded for its
/// table, when the table is recorded at schema version `version` — `None`
/// when they agree or are not comparable (the table is at another version
/// than declared, or the fingerprint was recorded at another version).
pub fn mismatch(def: &TableDef, version: u32, text: &str) -> Option<String> {
    if version != def.version || version_of(text) != Some(def.version) {
        return None;
    }
    let declared = fingerprint(def);
    if text == declared {
        return None;
    }
    let what = differences(text, &declared);
    Some(if what.is_empty() {
        "the recorded definition differs from the declaration".into()
    } else {
        what.join("; ")
    })
}

/// Refuses the first table whose recorded fingerprint, at the declared
/// version, differs from its declaration.
pub(crate) fn check(
    inner: &Inner,
    versions: &[(String, u32)],
    prints: &[(String, String)],
) -> Result<()> {
    for def in inner.set.tables() {
        let Some((_, version)) = versions.iter().find(|(n, _)| n == def.name) else {
            continue;
        };
        let Some((_, text)) = prints.iter().find(|(n, _)| n == def.name) else {
            continue;
        };
        if let Some(what) = mismatch(def, *version, text) {
            return Err(Error::SchemaMismatch {
                path: inner.set.origin().to_path_buf(),
                table: def.name.to_string(),
                version: def.version,
                what,
            });
        }
    }
    Ok(())
}

/// Whether `def` needs its fingerprint recorded: it is at (or about to be
/// created at) its declared version and the file holds no fingerprint of
/// that declaration.
pub(crate) fn unrecorded(
    def: &TableDef,
    versions: &[(String, u32)],
    prints: &[(String, String)],
) -> bool {
    let version = versions
        .iter()
        .find(|(n, _)| n == def.name)
        .map_or(def.version, |v| v.1);
    version == def.version
        && prints
            .iter()
            .find(|(n, _)| n == def.name)
            .is_none_or(|(_, t)| *t != fingerprint(def))
}

/// Records `def`'s fingerprint in a write transaction.
pub(crate) fn record(txn: &redb::WriteTransaction, def: &TableDef) -> Result<(), redb::Error> {
    let mut t = txn.open_table(FINGERPRINT)?;
    t.insert(def.name, fingerprint(def).as_str())?;
    Ok(())
}

/// Removes `table`'s fingerprint in a write transaction.
pub(crate) fn forget(txn: &redb::WriteTransaction, table: &str) -> Result<(), redb::Error> {
    let mut t = txn.open_table(FINGERPRINT)?;
    t.remove(table)?;
    Ok(())
}

impl super::Database {
    /// The fingerprint recorded for `table` in this file, if any.
    pub fn recorded_fingerprint(&self, table: &str) -> Result<Option<String>> {
        Ok(stored(self.inner())?
            .into_iter()
            .find(|(n, _)| n == table)
            .map(|(_, t)| t))
    }
}
