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
//! n    ++ columns                → pk ++ row envelope      unique covering index
//! n    ++ columns ++ pk          → (empty, or the row if covering)  other indexes
//! 0xFF ++ "count"                → row count, u64 LE       (metadata)
//! 0xFF ++ "seq"                  → last AUTOINCREMENT id, u64 LE
//! ```
//!
//! A covering index holds a copy of each row with its entry, so a lookup
//! or a scan through it is one B-tree walk and reads no row from the rows
//! key space. A unique covering entry's value is the encoded primary key
//! followed by the row envelope: the key encoding is self-delimiting, so
//! the primary key's end is found without a length ([`unique_entry`]).
//! Every write that changes a row rewrites its copies in its covering
//! indexes, in the same transaction; `verify` compares each copy with the
//! row.
//!
//! Keys use the order-preserving encoding of [`keys`]. Rows with a NULL in
//! a unique index's column have no entry in it (SQL treats NULLs as
//! distinct). An index column declared `Timestamp` is keyed by the instant
//! it stands for, then by its text ([`keys::encode_time_into`]), so index
//! order is time order whatever shape the original wrote the time in; the
//! row keeps the text as written. That is layout 2 ([`LAYOUT_VERSION`]);
//! layout 1 keyed those columns as plain text, and a file still at layout 1
//! has its time indexes derived again when it is opened (in memory only,
//! for a read-only open; see `crate::db::meta`).
//!
//! A PostgreSQL backend has no key spaces: it keeps rows and indexes as
//! PostgreSQL tables and indexes, and orders a timestamp kept as text by a
//! function that gives the same order (docs/POSTGRES.md, "Time order").

use super::def::{IndexDef, SqlType, TableDef};
use super::keys;
use super::value::ValueRef;
use crate::error::{Error, Result};
use redb::TableDefinition;
use std::borrow::Cow;

/// The storage layout this binary reads and writes (each file records
/// its own in `__layout`, see `crate::db::meta`): 2 since `Timestamp`
/// index columns are keyed by time.
pub const LAYOUT_VERSION: u64 = 2;

/// The first layout whose `Timestamp` index columns are keyed by time.
pub const TIME_KEYED_SINCE: u64 = 2;

/// `"aragora-db"` → the storage layout version of the file.
pub const LAYOUT: TableDefinition<&str, u64> = TableDefinition::new("__layout");
/// The key of the layout marker in [`LAYOUT`].
pub const LAYOUT_KEY: &str = "aragora-db";

/// The layout a snapshot's file records (`None`: no marker, or unreadable).
pub fn recorded_layout(txn: &redb::ReadTransaction) -> Option<u64> {
    let t = txn.open_table(LAYOUT).ok()?;
    t.get(LAYOUT_KEY).ok()?.map(|g| g.value())
}

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

/// Whether column `c` of `def` is keyed by time in indexes of `layout`.
fn time_keyed(def: &TableDef, c: usize, layout: u64) -> bool {
    layout >= TIME_KEYED_SINCE && def.columns[c].sql == SqlType::Timestamp
}

/// Whether any column of `idx` is keyed by time (in this layout).
pub fn has_time_key(def: &TableDef, idx: &IndexDef) -> bool {
    idx.columns
        .iter()
        .any(|&c| time_keyed(def, c, LAYOUT_VERSION))
}

/// The full redb key of a row's entry in `idx` (`None`: a unique index
/// with a NULL column has no entry).
pub fn index_key(
    def: &TableDef,
    idx: &IndexDef,
    vals: &[ValueRef<'_>],
    pk: &[u8],
) -> Option<Vec<u8>> {
    index_key_in(LAYOUT_VERSION, def, idx, vals, pk)
}

/// [`index_key`] as storage layout `layout` encodes it (verify reads
/// files of an earlier layout as they are).
pub fn index_key_in(
    layout: u64,
    def: &TableDef,
    idx: &IndexDef,
    vals: &[ValueRef<'_>],
    pk: &[u8],
) -> Option<Vec<u8>> {
    if idx.unique && idx.columns.iter().any(|&c| vals[c].is_null()) {
        return None;
    }
    let mut k = Vec::with_capacity(33 + pk.len());
    k.push(idx.space);
    for &c in idx.columns {
        if time_keyed(def, c, layout) {
            keys::encode_time_into(&mut k, vals[c]);
        } else {
            keys::encode_into(&mut k, vals[c]);
        }
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
        .map(|idx| index_key(def, idx, vals, pk))
        .collect()
}

/// Leading values of a key of `idx` as the table API passes them (each
/// value plainly encoded, see [`keys`]), in the form the index stores
/// them: `Timestamp` columns keyed by time. Values already keyed by time
/// stay as they are, so this is idempotent. Bytes that do not decode are
/// returned unchanged (they match nothing).
pub fn probe<'k>(def: &TableDef, idx: &IndexDef, key: &'k [u8]) -> Cow<'k, [u8]> {
    if !has_time_key(def, idx) {
        return Cow::Borrowed(key);
    }
    let mut out = Vec::with_capacity(key.len() + 13);
    let mut at = 0;
    for &c in idx.columns {
        if at >= key.len() {
            break;
        }
        let Ok((v, len)) = keys::decode_one(&key[at..]) else {
            return Cow::Borrowed(key);
        };
        if time_keyed(def, c, LAYOUT_VERSION) {
            keys::encode_time_into(&mut out, v.as_ref());
        } else {
            out.extend_from_slice(&key[at..at + len]);
        }
        at += len;
    }
    out.extend_from_slice(&key[at..]);
    Cow::Owned(out)
}

/// A range bound on `idx` (leading values, plainly encoded) in the form
/// the index stores them ([`probe`]), where a time that is the bound's
/// last value stands for its instant alone: a bound compares instants,
/// not spellings, so "from 2026-01-05T00:00:00Z" includes a row written
/// `2026-01-05 00:00:00`. (`exact`: a range of one key, which finds that
/// key's text exactly, as an equality does.)
pub fn bound(def: &TableDef, idx: &IndexDef, key: &[u8], exact: bool) -> Vec<u8> {
    let mut k = probe(def, idx, key).into_owned();
    if exact {
        return k;
    }
    // The last value's start: skip all but one.
    let mut at = 0;
    while let Ok(len) = keys::prefix_len(&k[at..], 1) {
        if at + len >= k.len() {
            break;
        }
        at += len;
    }
    if keys::is_instant_tag(k.get(at).copied().unwrap_or(0)) && k.len() >= at + 13 {
        k.truncate(at + 13);
    }
    k
}

/// The value stored with an index entry: the primary key (unique), the
/// primary key then the row (unique covering), the row (covering), or
/// nothing.
pub fn entry_value<'a>(idx: &IndexDef, pk: &'a [u8], row: &'a [u8]) -> Cow<'a, [u8]> {
    match (idx.unique, idx.covering) {
        (true, false) => Cow::Borrowed(pk),
        (true, true) => {
            let mut v = Vec::with_capacity(pk.len() + row.len());
            v.extend_from_slice(pk);
            v.extend_from_slice(row);
            Cow::Owned(v)
        }
        (false, true) => Cow::Borrowed(row),
        (false, false) => Cow::Borrowed(&[]),
    }
}

/// The primary key and, for a covering index, the row copy a unique
/// index entry's value holds (`pk`, or `pk ++ row` when covering).
pub fn unique_entry<'v>(
    def: &TableDef,
    idx: &IndexDef,
    value: &'v [u8],
) -> Result<(&'v [u8], Option<&'v [u8]>)> {
    if !idx.covering {
        return Ok((value, None));
    }
    let at = keys::prefix_len(value, def.primary_key.len()).map_err(|e| Error::Corrupt {
        table: def.name,
        key: format!("index {} entry value of {} bytes", idx.name, value.len()),
        what: format!("expected {} at byte {}", e.what, e.offset),
    })?;
    let (pk, row) = value.split_at(at);
    Ok((pk, Some(row)))
}

/// The primary key and, for a covering index, the row copy of any index
/// entry `key → value` of `idx`.
pub fn entry_parts<'v>(
    def: &TableDef,
    idx: &IndexDef,
    key: &'v [u8],
    value: &'v [u8],
) -> Result<(&'v [u8], Option<&'v [u8]>)> {
    if idx.unique {
        unique_entry(def, idx, value)
    } else {
        let pk = index_suffix(def.name, idx, key, idx.columns.len())?;
        Ok((pk, idx.covering.then_some(value)))
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
