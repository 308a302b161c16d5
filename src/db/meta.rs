//! Per-file metadata tables.
//!
//! * `__layout`: `"aragora-db"` → the storage layout version of the file
//!   (how rows, indexes and metadata are laid out; see
//!   [`crate::table::layout`]). A file without it, or with another version,
//!   is refused instead of being misread.
//! * `__schema`: table name → schema version of the declaration that created
//!   or last migrated it (the `_schema_versions` of the original).
//! * `__fingerprint`: table name → the fingerprint of that declaration
//!   (see [`super::fingerprint`]); an open refuses a table whose declaration
//!   changed at the same version.
//!
//! Row counts and AUTOINCREMENT sequences live in each table's own
//! metadata key space (see [`crate::table::layout`]).

use super::Inner;
use crate::error::{Error, Found, Result};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

pub use crate::table::layout::{LAYOUT, LAYOUT_VERSION};
use crate::table::layout::{LAYOUT_KEY, TIME_KEYED_SINCE};

/// Table name → schema version.
pub const SCHEMA: TableDefinition<&str, u32> = TableDefinition::new("__schema");

/// Creates every declared table (primary and index tables) that does not
/// exist yet and records its version. Refuses files from newer versions.
pub(crate) fn ensure_tables(inner: &Inner) -> Result<()> {
    let path = inner.set.origin();
    let st = |e: redb::Error| Error::storage(path, e);
    let layout = stored_layout(inner)?;
    let versions = stored_versions(inner)?;
    // A file of an earlier layout is brought to this one below, in the
    // write transaction that records the marker.
    let upgrade = matches!(layout, Some(v) if (1..LAYOUT_VERSION).contains(&v));
    match layout {
        Some(LAYOUT_VERSION) => {}
        Some(_) if upgrade => {}
        Some(other) => {
            return Err(Error::layout(
                path,
                Found::OtherVersion,
                format!("storage layout {other}, but this binary reads layout {LAYOUT_VERSION}"),
            ));
        }
        None if !is_empty(inner)? => {
            return Err(Error::layout(
                path,
                Found::Foreign,
                format!(
                    "not an aragora-db file (no {LAYOUT_KEY} layout marker); refusing to misread it"
                ),
            ));
        }
        None => {}
    }
    // A declaration changed at the same version is refused before anything
    // is written (see `fingerprint`).
    let prints = super::fingerprint::stored(inner)?;
    super::fingerprint::check(inner, &versions, &prints)?;
    let mut missing = layout.is_none()
        || upgrade
        || inner
            .set
            .tables()
            .iter()
            .any(|def| super::fingerprint::unrecorded(def, &versions, &prints));
    for def in inner.set.tables() {
        match versions.iter().find(|(n, _)| n == def.name) {
            Some((_, v)) if *v > def.version => {
                return Err(Error::SchemaTooNew {
                    path: path.to_path_buf(),
                    table: def.name.to_string(),
                    stored: *v,
                    supported: def.version,
                });
            }
            Some(_) => {}
            None => missing = true,
        }
    }
    if !missing {
        return Ok(());
    }
    let txn = inner.begin_write()?;
    {
        let mut marker = txn.open_table(LAYOUT).map_err(|e| st(e.into()))?;
        marker
            .insert(LAYOUT_KEY, LAYOUT_VERSION)
            .map_err(|e| st(e.into()))?;
        let mut schema = txn.open_table(SCHEMA).map_err(|e| st(e.into()))?;
        for def in inner.set.tables() {
            if schema.get(def.name).map_err(|e| st(e.into()))?.is_some() {
                continue;
            }
            txn.open_table(crate::table::raw_def(def.name))
                .map_err(|e| st(e.into()))?;
            schema
                .insert(def.name, def.version)
                .map_err(|e| st(e.into()))?;
        }
    }
    if let Some(from) = layout.filter(|_| upgrade) {
        upgrade_layout(inner, &txn, from, &versions)?;
    }
    // Fingerprints of the tables created above, and of tables at their
    // declared version in a file written before fingerprints existed.
    for def in inner.set.tables() {
        if super::fingerprint::unrecorded(def, &versions, &prints) {
            super::fingerprint::record(&txn, def).map_err(&st)?;
        }
    }
    txn.commit().map_err(|e| st(e.into()))?;
    Ok(())
}

/// Brings a file of layout `from` to [`LAYOUT_VERSION`], inside the write
/// transaction that records the new marker (so a file is at one layout or
/// the other, never between): from layout 1, every index with a
/// `Timestamp` column of a table the file already holds is derived again,
/// keyed by time (see [`crate::table::layout`]). A read-only open runs
/// this on its in-memory overlay and leaves the file as it was.
fn upgrade_layout(
    inner: &Inner,
    txn: &redb::WriteTransaction,
    from: u64,
    versions: &[(String, u32)],
) -> Result<()> {
    let mut w = crate::table::embedded::write::Txn::new(txn, &inner.set);
    let mut rebuilt = 0u64;
    if from < TIME_KEYED_SINCE {
        for def in inner.set.tables() {
            if !versions.iter().any(|(n, _)| n == def.name) {
                continue;
            }
            rebuilt += w.rebuild_time_indexes(def)?;
        }
    }
    w.finish()?;
    tracing::info!(
        file = %inner.set.origin().display(),
        from,
        to = LAYOUT_VERSION,
        entries = rebuilt,
        "storage layout upgraded (time-keyed indexes derived again)"
    );
    Ok(())
}

fn stored_layout(inner: &Inner) -> Result<Option<u64>> {
    let st = |e: redb::Error| Error::storage(inner.set.origin(), e);
    let txn = inner.redb()?.begin_read().map_err(|e| st(e.into()))?;
    match txn.open_table(LAYOUT) {
        Ok(t) => Ok(t
            .get(LAYOUT_KEY)
            .map_err(|e| st(e.into()))?
            .map(|g| g.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(st(e.into())),
    }
}

fn is_empty(inner: &Inner) -> Result<bool> {
    let st = |e: redb::Error| Error::storage(inner.set.origin(), e);
    let txn = inner.redb()?.begin_read().map_err(|e| st(e.into()))?;
    let mut tables = txn.list_tables().map_err(|e| st(e.into()))?;
    Ok(tables.next().is_none())
}

/// The versions recorded in the file.
pub(crate) fn stored_versions(inner: &Inner) -> Result<Vec<(String, u32)>> {
    let path = inner.set.origin();
    let st = |e: redb::Error| Error::storage(path, e);
    let txn = inner.redb()?.begin_read().map_err(|e| st(e.into()))?;
    let table = match txn.open_table(SCHEMA) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(st(e.into())),
    };
    let mut out = Vec::new();
    for entry in table.iter().map_err(|e| st(e.into()))? {
        let (k, v) = entry.map_err(|e| st(e.into()))?;
        out.push((k.value().to_string(), v.value()));
    }
    Ok(out)
}

impl super::Database {
    /// Schema version of each table, as recorded in the file.
    pub fn schema_versions(&self) -> Result<Vec<(String, u32)>> {
        stored_versions(self.inner())
    }
}
