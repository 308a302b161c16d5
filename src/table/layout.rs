//! How the embedded store lays a declared table out in redb: one place for
//! the key spaces, the metadata keys and the index-entry encoding, used by
//! reads, writes, verify, salvage and consolidate alike.
//!
//! Each declared table is **one** redb table (`&[u8] → &[u8]`), split into
//! key spaces by its first byte, so a lookup opens one table and a commit
//! touches one B-tree per declared table:
//!
//! ```text
//! 0x00 ++ pk                     → row envelope            (rows)
//! n    ++ columns                → pk      n = 1 + index position, unique index
//! n    ++ columns ++ pk          → (empty, or the row if covering)  other indexes
//! 0xFF ++ "count"                → row count, u64 LE       (metadata)
//! 0xFF ++ "seq"                  → last AUTOINCREMENT id, u64 LE
//! ```
//!
//! Keys use the order-preserving encoding of [`keys`]. Rows with a NULL in
//! a unique index's column have no entry in it (SQL treats NULLs as
//! distinct). A PostgreSQL backend has no key spaces: it keeps rows and
//! indexes as PostgreSQL tables and indexes (see docs/POSTGRES.md).

use super::def::{IndexDef, TableDef};
use super::keys;
use super::value::ValueRef;
use crate::error::{Error, Result};
use redb::TableDefinition;

/// Key-space byte of rows.
pub const ROWS: u8 = 0;
/// Key-space byte of per-table metadata.
pub const META: u8 = 0xFF;
/// Metadata key of the row count.
pub const COUNT_KEY: &[u8] = b"\xFFcount";
/// Metadata key of the AUTOINCREMENT sequence (highest id handed out).
pub const SEQ_KEY: &[u8] = b"\xFFseq";

/// The redb definition of a declared table (rows, index entries, metadata).
pub fn raw_def(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// `space ++ key`.
pub fn spaced(space: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(space);
    k.extend_from_slice(key);
    k
}

/// Decodes a stored row count or sequence value.
pub fn read_count(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// A stored row count or sequence value of `table` (`what` names it in
/// the error), which must be 8 bytes.
pub fn stored_count(table: &'static str, what: &str, bytes: &[u8]) -> Result<u64> {
    read_count(bytes).ok_or_else(|| Error::Corrupt {
        table,
        key: what.into(),
        what: format!("expected 8 bytes, found {}", bytes.len()),
    })
}

/// The encoded primary key of a row given as column values.
pub fn pk_of(def: &TableDef, vals: &[ValueRef<'_>]) -> Vec<u8> {
    keys::encode(def.primary_key.iter().map(|&c| vals[c]))
}

/// The full redb key of a row's entry in `idx` (`None`: a unique index
/// with a NULL column has no entry).
pub fn index_key(idx: &IndexDef, vals: &[ValueRef<'_>], pk: &[u8]) -> Option<Vec<u8>> {
    if idx.unique && idx.columns.iter().any(|&c| vals[c].is_null()) {
        return None;
    }
    let mut k = Vec::with_capacity(33 + pk.len());
    k.push(idx.space);
    for &c in idx.columns {
        keys::encode_into(&mut k, vals[c]);
    }
    if !idx.unique {
        k.extend_from_slice(pk);
    }
    Some(k)
}

/// A row's entries in every index of its table, in declaration order.
pub fn index_keys(def: &TableDef, vals: &[ValueRef<'_>], pk: &[u8]) -> Vec<Option<Vec<u8>>> {
    def.indexes
        .iter()
        .map(|idx| index_key(idx, vals, pk))
        .collect()
}

/// The value stored with an index entry: the primary key (unique), the
/// row (covering), or nothing.
pub fn entry_value<'a>(idx: &IndexDef, pk: &'a [u8], row: &'a [u8]) -> &'a [u8] {
    if idx.unique {
        pk
    } else if idx.covering {
        row
    } else {
        &[]
    }
}

/// The primary key at the end of a non-unique index entry (`space ++ columns ++ pk`).
pub fn index_suffix<'k>(
    table: &'static str,
    idx: &IndexDef,
    key: &'k [u8],
    ncols: usize,
) -> Result<&'k [u8]> {
    let body = key.get(1..).unwrap_or_default();
    let at = keys::prefix_len(body, ncols).map_err(|e| Error::Corrupt {
        table,
        key: format!("index {} entry of {} bytes", idx.name, key.len()),
        what: format!("expected {} at byte {}", e.what, e.offset + 1),
    })?;
    Ok(&body[at..])
}
