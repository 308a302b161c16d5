//! Bulk inserts: check everything first, then write each table in key order.
//!
//! Inserting keys in sorted order fills redb's B-tree pages front to back
//! instead of splitting pages all over the tree, and writing one table at a
//! time keeps its pages hot in the cache. The result is identical to
//! inserting the rows one by one.

use super::super::api::check_row;
use super::super::codec;
use super::super::def::Row;
use super::super::keys;
use super::super::layout::{ROWS, entry_value, index_keys, pk_of, spaced, unique_entry};
use super::super::writer::row_values;
use super::write::Txn;
use crate::error::{Error, Result};
use std::borrow::Cow;

/// An index entry to write: its key and its value.
type Entry<'a> = (&'a [u8], Cow<'a, [u8]>);

struct Prepared {
    pk: Vec<u8>,
    bytes: Vec<u8>,
    index_keys: Vec<Option<Vec<u8>>>,
}

impl Txn<'_> {
    /// Inserts many rows in one go. All constraints are checked (including
    /// duplicates inside the batch) before anything is written.
    pub fn insert_many<R: Row>(&mut self, rows: &[R]) -> Result<()> {
        let def = R::DEF;
        self.op(def, |w| {
            let mut prepared = Vec::with_capacity(rows.len());
            for row in rows {
                let vals = row_values(row);
                check_row(def, &vals, false)?;
                w.check_parents(def, &vals, None)?;
                let pk = pk_of(def, &vals);
                let index_keys = index_keys(def, &vals, &pk);
                let mut bytes = Vec::with_capacity(128);
                codec::encode_row(&mut bytes, def.columns.len(), |i| vals[i], row.extras());
                prepared.push(Prepared {
                    pk,
                    bytes,
                    index_keys,
                });
            }
            prepared.sort_unstable_by(|a, b| a.pk.cmp(&b.pk));
            if let Some(dup) = prepared.windows(2).find(|p| p[0].pk == p[1].pk) {
                return Err(Error::Unique {
                    table: def.name,
                    columns: def.column_list(def.primary_key),
                    value: keys::render(&dup[0].pk),
                    existing: None,
                });
            }
            let empty = w.is_empty(def.name)?;
            if !empty {
                for p in &prepared {
                    if w.exists(def.name, &spaced(ROWS, &p.pk))? {
                        return Err(Error::Unique {
                            table: def.name,
                            columns: def.column_list(def.primary_key),
                            value: keys::render(&p.pk),
                            existing: None,
                        });
                    }
                }
            }
            let mut per_index: Vec<Vec<Entry<'_>>> = Vec::with_capacity(def.indexes.len());
            for (n, idx) in def.indexes.iter().enumerate() {
                let mut entries: Vec<Entry<'_>> = prepared
                    .iter()
                    .filter_map(|p| {
                        let k = p.index_keys[n].as_deref()?;
                        Some((k, entry_value(idx, &p.pk, &p.bytes)))
                    })
                    .collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                if idx.unique {
                    if let Some(d) = entries.windows(2).find(|e| e[0].0 == e[1].0) {
                        return Err(dup_index(def, idx.columns, d[0].0));
                    }
                    if !empty {
                        for (k, _) in &entries {
                            if let Some(v) = w.fetch(def.name, k)? {
                                let (pk, _) = unique_entry(def, idx, &v)?;
                                return Err(
                                    dup_index(def, idx.columns, k).held_by(keys::render(pk))
                                );
                            }
                        }
                    }
                }
                per_index.push(entries);
            }
            let mut key = Vec::with_capacity(64);
            for p in &prepared {
                key.clear();
                key.push(ROWS);
                key.extend_from_slice(&p.pk);
                w.put(def.name, &key, &p.bytes)?;
            }
            for entries in &per_index {
                for (k, v) in entries {
                    w.put(def.name, k, v)?;
                }
            }
            w.counted(def, prepared.len() as i64);
            if def.autoincrement
                && let Some(last) = rows
                    .iter()
                    .filter_map(|r| match r.value(def.primary_key[0]) {
                        super::super::ValueRef::Integer(i) => Some(i),
                        _ => None,
                    })
                    .max()
            {
                w.raise_sequence(def, last)?;
            }
            Ok(())
        })
    }
}

fn dup_index(def: &'static super::super::TableDef, cols: &[usize], key: &[u8]) -> Error {
    Error::Unique {
        table: def.name,
        columns: def.column_list(cols),
        value: keys::render(key.get(1..).unwrap_or_default()),
        existing: None,
    }
}
