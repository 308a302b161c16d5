//! Rebuilding an index from the rows: what a schema migration does when it
//! adds an index or changes one.
//!
//! The ordinary write path keeps index entries in step *incrementally*: an
//! update compares the row's old and new entry keys and leaves an entry
//! alone when they are equal (see [`write`](super::write)). That is right
//! while every index already holds its entries, and wrong the moment a
//! declaration gains an index: re-writing each row then adds nothing,
//! because the "old" key computed under the new declaration equals the new
//! one, and a new UNIQUE index is never checked against the rows already
//! there. So a migration must not rely on re-writing rows; it drops the
//! index's whole key space and derives every entry again from every row,
//! checking UNIQUE as it goes ([`Txn::rebuild_index`]). Key spaces no
//! declared index uses any more (an index removed, or moved to another
//! position) are emptied with [`Txn::drop_key_space`], so a later index
//! declared at that position never starts with someone else's entries.
//!
//! Both run inside the caller's write transaction: a UNIQUE violation is an
//! [`Error::Unique`] naming the table, the columns and the duplicate value,
//! and the writer is poisoned, so nothing of the rebuild (or of anything
//! else in that transaction) is committed.
//!
//! Rows are read in batches from the transaction itself (so a rebuild after
//! a backfill in the same transaction sees the backfilled values), which
//! keeps memory bounded on large tables.

use super::super::def::{IndexDef, TableDef};
use super::super::layout::{META, ROWS, entry_value, index_key};
use super::super::range::Page;
use super::super::value::{Value, ValueRef};
use super::write::Txn;
use crate::error::{Error, Result};
use std::ops::Bound;

/// Rows read per batch while rebuilding.
const BATCH: usize = 512;

impl Txn<'_> {
    /// Drops every entry of index `index` of `def` and derives them again
    /// from every row, checking UNIQUE. Returns the number of entries
    /// written. A duplicate under a UNIQUE index is [`Error::Unique`] and
    /// poisons this writer (the transaction cannot commit).
    pub fn rebuild_index(&mut self, def: &'static TableDef, index: &str) -> Result<u64> {
        let idx = *def.index(index)?;
        self.op(def, |w| w.rebuild(def, &idx))
    }

    /// Derives again every index of `def` with a `Timestamp` column (the
    /// indexes a file of storage layout 1 keyed as plain text, see
    /// [`layout`](super::super::layout)). Returns the entries written.
    pub fn rebuild_time_indexes(&mut self, def: &'static TableDef) -> Result<u64> {
        let mut n = 0;
        for idx in def.indexes {
            if super::super::layout::has_time_key(def, idx) {
                n += self.rebuild_index(def, idx.name)?;
            }
        }
        Ok(n)
    }

    /// Removes every entry of index `index` of `def`, leaving it empty
    /// until [`Txn::rebuild_index`] (a migration empties the indexes it
    /// adds or changes before its step writes rows). Returns the entries
    /// removed.
    pub fn clear_index(&mut self, def: &'static TableDef, index: &str) -> Result<u64> {
        let space = def.index(index)?.space;
        self.op(def, |w| w.clear_space(def.name, space))
    }

    /// Removes every entry of key space `space` of `def`'s table (an index
    /// the declaration no longer has at that position). Refuses the row and
    /// metadata key spaces and the space of a declared index (use
    /// [`Txn::rebuild_index`] for those). Returns the entries removed.
    pub fn drop_key_space(&mut self, def: &'static TableDef, space: u8) -> Result<u64> {
        if space == ROWS || space == META {
            return Err(Error::InvalidArgument(format!(
                "table {}: key space {space} holds rows or metadata, not an index",
                def.name
            )));
        }
        if let Some(idx) = def.indexes.iter().find(|i| i.space == space) {
            return Err(Error::InvalidArgument(format!(
                "table {}: key space {space} is index {}; rebuild it instead of dropping it",
                def.name, idx.name
            )));
        }
        self.op(def, |w| w.clear_space(def.name, space))
    }

    /// Key spaces other than rows and metadata that hold entries but belong
    /// to no declared index of `def`.
    pub fn undeclared_key_spaces(&mut self, def: &'static TableDef) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for space in ROWS + 1..META {
            if def.indexes.iter().any(|i| i.space == space) {
                continue;
            }
            let range = (
                Bound::Included(vec![space]),
                Bound::Excluded(vec![space + 1]),
            );
            if !self.batch(def.name, &range, 1)?.is_empty() {
                out.push(space);
            }
        }
        Ok(out)
    }

    fn rebuild(&mut self, def: &'static TableDef, idx: &IndexDef) -> Result<u64> {
        self.clear_space(def.name, idx.space)?;
        let mut written = 0u64;
        let mut lower = Bound::Included(vec![ROWS]);
        loop {
            let range = (lower, Bound::Excluded(vec![ROWS + 1]));
            let rows = self.batch(def.name, &range, BATCH)?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            lower = Bound::Excluded(last.clone());
            for (key, bytes) in &rows {
                let pk = &key[1..];
                let (values, _) = def.decode_values(pk, bytes)?;
                let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
                let Some(entry) = index_key(def, idx, &vals, pk) else {
                    continue;
                };
                if idx.unique {
                    self.refuse_taken(def, idx, &entry, &vals)?;
                }
                self.put(def.name, &entry, &entry_value(idx, pk, bytes))?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Removes every entry whose key starts with `space`.
    fn clear_space(&mut self, name: &'static str, space: u8) -> Result<u64> {
        let lower = [space];
        let upper = [space + 1];
        let mut removed = 0u64;
        self.mark_written();
        self.with_table(name, |t| {
            t.retain_in::<&[u8], _>(&lower[..]..&upper[..], |_, _| {
                removed += 1;
                false
            })
        })?;
        Ok(removed)
    }

    /// Up to `n` entries of `name` within `range`, copied out.
    fn batch(
        &self,
        name: &'static str,
        range: &(Bound<Vec<u8>>, Bound<Vec<u8>>),
        n: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.visit(name, range, Page::first(n), |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(true)
        })?;
        Ok(out)
    }
}
