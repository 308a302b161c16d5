//! Writes of the embedded store: the only code that touches redb tables
//! of declared tables (their layout is in [`layout`](super::super::layout)).
//!
//! Every insert, update, upsert and delete keeps every index entry in step
//! inside the same redb write transaction. Each operation checks all its
//! constraints (NOT NULL, types, UNIQUE, FOREIGN KEY) before writing
//! anything. Only a delete that cascades can fail after it started writing;
//! then the transaction is poisoned and cannot commit, so no partial state
//! is ever visible.

use super::super::api::{RowSink, RowSource, RowVisitor, check_row, dangling, unique_error};
use super::super::codec::{self, Extras};
use super::super::def::{ForeignKeyDef, IndexDef, OnDelete, TableDef};
use super::super::keys::{self, RawKey};
use super::super::layout::{
    COUNT_KEY, ROWS, SEQ_KEY, entry_parts, entry_value, index_keys, pk_of, probe, raw_def, spaced,
    stored_count, unique_entry,
};
use super::super::range::{KeyRange, Page};
use super::super::set::{Child, TableSet};
use super::super::value::{Value, ValueRef};
use super::read::as_slice;
use crate::error::{Error, Result};
use redb::{ReadableTable, ReadableTableMetadata};
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Bound;
use std::path::Path;

type RawTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// An embedded write transaction in progress (inside a [`Writer`](super::super::Writer)).
pub struct Txn<'t> {
    txn: &'t redb::WriteTransaction,
    set: &'t TableSet,
    open: RefCell<HashMap<&'static str, RawTable<'t>>>,
    foreign_keys: bool,
    poisoned: Option<&'static str>,
    wrote: bool,
    buf: Vec<u8>,
    counts: HashMap<&'static str, i64>,
}

impl<'t> Txn<'t> {
    pub(crate) fn new(txn: &'t redb::WriteTransaction, set: &'t TableSet) -> Self {
        Txn {
            txn,
            set,
            open: RefCell::new(HashMap::new()),
            foreign_keys: true,
            poisoned: None,
            wrote: false,
            buf: Vec::with_capacity(256),
            counts: HashMap::new(),
        }
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some(table) = self.poisoned {
            return Err(Error::Poisoned { table });
        }
        let counts: Vec<_> = self.counts.drain().filter(|(_, d)| *d != 0).collect();
        for (name, delta) in counts {
            let old = match self.fetch(name, COUNT_KEY)? {
                Some(b) => stored_count(name, "row count", &b)?,
                None => 0,
            };
            let new = (old as i64).saturating_add(delta).max(0) as u64;
            self.put(name, COUNT_KEY, &new.to_le_bytes())?;
        }
        Ok(())
    }

    pub(crate) fn counted(&mut self, def: &TableDef, delta: i64) {
        *self.counts.entry(def.name).or_default() += delta;
    }

    fn st(&self, e: impl Into<redb::Error>) -> Error {
        Error::storage(self.set.origin(), e)
    }

    /// The redb transaction, for meta tables written with a migration step.
    pub(crate) fn raw_txn(&self) -> &'t redb::WriteTransaction {
        self.txn
    }

    /// The file, for errors.
    pub(crate) fn path(&self) -> &Path {
        self.set.origin()
    }

    /// Notes that this operation has written (so a failure poisons the writer).
    pub(crate) fn mark_written(&mut self) {
        self.wrote = true;
    }

    /// Runs `f` on a declared table's redb table, opened once per transaction.
    pub(crate) fn with_table<T>(
        &self,
        name: &'static str,
        f: impl FnOnce(&mut RawTable<'t>) -> std::result::Result<T, redb::StorageError>,
    ) -> Result<T> {
        let mut open = self.open.borrow_mut();
        let t = match open.entry(name) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let t = self
                    .txn
                    .open_table(raw_def(name))
                    .map_err(|err| Error::storage(self.set.origin(), err))?;
                e.insert(t)
            }
        };
        f(t).map_err(|e| self.st(e))
    }

    fn declared(&self, def: &TableDef) -> Result<()> {
        self.set.declared(def)
    }

    pub(crate) fn exists(&self, name: &'static str, key: &[u8]) -> Result<bool> {
        self.with_table(name, |t| t.get(key).map(|g| g.is_some()))
    }

    pub(crate) fn fetch(&self, name: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table(name, |t| t.get(key).map(|g| g.map(|v| v.value().to_vec())))
    }

    pub(crate) fn put(&mut self, name: &'static str, key: &[u8], value: &[u8]) -> Result<()> {
        self.wrote = true;
        self.with_table(name, |t| t.insert(key, value).map(drop))
    }

    pub(crate) fn remove(&mut self, name: &'static str, key: &[u8]) -> Result<()> {
        self.wrote = true;
        self.with_table(name, |t| t.remove(key).map(drop))
    }

    /// Runs one public operation, poisoning the writer if it fails after
    /// having written something.
    pub(crate) fn op<T>(
        &mut self,
        def: &TableDef,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if let Some(table) = self.poisoned {
            return Err(Error::Poisoned { table });
        }
        self.declared(def)?;
        self.wrote = false;
        let out = f(self);
        if out.is_err() && self.wrote {
            self.poisoned = Some(def.name);
        }
        out
    }

    // ----- the core ----------------------------------------------------------

    pub(crate) fn insert_vals(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<Vec<u8>> {
        check_row(def, vals, check_types)?;
        let pk = pk_of(def, vals);
        if self.exists(def.name, &spaced(ROWS, &pk))? {
            return Err(unique_error(def, def.primary_key, vals));
        }
        let index_keys = index_keys(def, vals, &pk);
        for (idx, key) in def.indexes.iter().zip(&index_keys) {
            if let (true, Some(key)) = (idx.unique, key) {
                self.refuse_taken(def, idx, key, vals)?;
            }
        }
        self.check_parents(def, vals, None)?;
        let mut bytes = std::mem::take(&mut self.buf);
        codec::encode_row(&mut bytes, def.columns.len(), |i| vals[i], extras);
        let r = self.write_new(def, &pk, &bytes, &index_keys);
        self.buf = bytes;
        r?;
        self.counted(def, 1);
        if def.autoincrement {
            self.bump_sequence(def, vals)?;
        }
        Ok(pk)
    }

    fn write_new(
        &mut self,
        def: &'static TableDef,
        pk: &[u8],
        bytes: &[u8],
        index_keys: &[Option<Vec<u8>>],
    ) -> Result<()> {
        self.put(def.name, &spaced(ROWS, pk), bytes)?;
        for (idx, key) in def.indexes.iter().zip(index_keys) {
            if let Some(key) = key {
                self.put(def.name, key, &entry_value(idx, pk, bytes))?;
            }
        }
        Ok(())
    }

    /// [`Error::Unique`] naming the row that holds `key` in unique index
    /// `idx` already, if one does.
    pub(crate) fn refuse_taken(
        &self,
        def: &'static TableDef,
        idx: &IndexDef,
        key: &[u8],
        vals: &[ValueRef<'_>],
    ) -> Result<()> {
        match self.fetch(def.name, key)? {
            None => Ok(()),
            Some(v) => {
                let (pk, _) = unique_entry(def, idx, &v)?;
                Err(unique_error(def, idx.columns, vals).held_by(keys::render(pk)))
            }
        }
    }

    fn bump_sequence(&mut self, def: &TableDef, vals: &[ValueRef<'_>]) -> Result<()> {
        match def.primary_key.first().map(|&c| vals[c]) {
            Some(ValueRef::Integer(id)) => self.raise_sequence(def, id),
            _ => Ok(()),
        }
    }

    /// Raises a table's AUTOINCREMENT sequence to at least `id`.
    pub(crate) fn raise_sequence(&mut self, def: &TableDef, id: i64) -> Result<()> {
        if id > self.sequence(def)? {
            self.put(def.name, SEQ_KEY, &(id as u64).to_le_bytes())?;
        }
        Ok(())
    }

    pub(crate) fn update_vals(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<()> {
        check_row(def, vals, check_types)?;
        let pk = pk_of(def, vals);
        let row_key = spaced(ROWS, &pk);
        let old_bytes = self
            .fetch(def.name, &row_key)?
            .ok_or_else(|| Error::NotFound {
                table: def.name,
                key: keys::render(&pk),
            })?;
        let (old_vals, _) = def.decode_values(&pk, &old_bytes)?;
        let old: Vec<ValueRef<'_>> = old_vals.iter().map(Value::as_ref).collect();
        let old_keys = index_keys(def, &old, &pk);
        let new_keys = index_keys(def, vals, &pk);
        for ((idx, o), n) in def.indexes.iter().zip(&old_keys).zip(&new_keys) {
            if let (true, Some(n)) = (idx.unique, n)
                && Some(n) != o.as_ref()
            {
                self.refuse_taken(def, idx, n, vals)?;
            }
        }
        self.check_parents(def, vals, Some(&old))?;
        let mut bytes = std::mem::take(&mut self.buf);
        codec::encode_row(&mut bytes, def.columns.len(), |i| vals[i], extras);
        let r = self.move_entries(def, &pk, &bytes, &old_keys, &new_keys);
        if let Err(e) = r {
            self.buf = bytes;
            return Err(e);
        }
        let r = self.put(def.name, &row_key, &bytes);
        self.buf = bytes;
        r
    }

    fn move_entries(
        &mut self,
        def: &'static TableDef,
        pk: &[u8],
        bytes: &[u8],
        old_keys: &[Option<Vec<u8>>],
        new_keys: &[Option<Vec<u8>>],
    ) -> Result<()> {
        for ((idx, o), n) in def.indexes.iter().zip(old_keys).zip(new_keys) {
            if o == n && !idx.covering {
                continue;
            }
            if let Some(o) = o.as_ref().filter(|o| Some(*o) != n.as_ref()) {
                self.remove(def.name, o)?;
            }
            if let Some(n) = n {
                self.put(def.name, n, &entry_value(idx, pk, bytes))?;
            }
        }
        Ok(())
    }

    pub(crate) fn check_parents(
        &mut self,
        def: &TableDef,
        vals: &[ValueRef<'_>],
        old: Option<&[ValueRef<'_>]>,
    ) -> Result<()> {
        if !self.foreign_keys {
            return Ok(());
        }
        for fk in def.foreign_keys {
            if fk.columns.iter().any(|&c| vals[c].is_null()) {
                continue;
            }
            if let Some(old) = old
                && fk.columns.iter().all(|&c| old[c] == vals[c])
            {
                continue;
            }
            let parent = (fk.parent)();
            self.declared(parent)?;
            let key = keys::encode(fk.columns.iter().map(|&c| vals[c]));
            // A row may reference itself (a genesis event its own parent):
            // SQLite checks the key once the statement has written the row.
            let itself = std::ptr::eq(parent, def) && key == pk_of(def, vals);
            if !itself && !self.exists(parent.name, &spaced(ROWS, &key))? {
                return Err(Error::ForeignKey {
                    table: def.name,
                    column: def.column_list(fk.columns),
                    value: keys::render(&key),
                    parent: parent.name,
                });
            }
        }
        Ok(())
    }

    fn delete_key(&mut self, def: &'static TableDef, pk: &[u8], depth: usize) -> Result<bool> {
        if depth > 64 {
            return Err(Error::InvalidArgument(format!(
                "ON DELETE cascade from {} is deeper than 64 levels",
                def.name
            )));
        }
        let row_key = spaced(ROWS, pk);
        let Some(old_bytes) = self.fetch(def.name, &row_key)? else {
            return Ok(false);
        };
        let (old_vals, _) = def.decode_values(pk, &old_bytes)?;
        let old: Vec<ValueRef<'_>> = old_vals.iter().map(Value::as_ref).collect();
        let set = self.set;
        let children = if self.foreign_keys {
            set.referencing(def)
        } else {
            &[]
        };
        for child in children
            .iter()
            .filter(|c| c.fk.on_delete == OnDelete::Restrict)
        {
            // The row's reference to itself goes with it.
            let mut referencing = self.child_pks(child, pk)?;
            if std::ptr::eq(child.table, def) {
                referencing.retain(|c| c.as_slice() != pk);
            }
            if !referencing.is_empty() {
                return Err(Error::Referenced {
                    parent: def.name,
                    key: keys::render(pk),
                    table: child.table.name,
                    column: child.table.column_list(child.fk.columns),
                });
            }
        }
        for key in index_keys(def, &old, pk).into_iter().flatten() {
            self.remove(def.name, &key)?;
        }
        self.remove(def.name, &row_key)?;
        self.counted(def, -1);
        for child in children {
            let child_pks = self.child_pks(child, pk)?;
            for cpk in child_pks {
                match child.fk.on_delete {
                    OnDelete::Cascade => {
                        self.delete_key(child.table, &cpk, depth + 1)?;
                    }
                    OnDelete::SetNull => self.set_null(child.table, child.fk, &cpk)?,
                    OnDelete::Restrict => {}
                }
            }
        }
        Ok(true)
    }

    fn set_null(&mut self, def: &'static TableDef, fk: &ForeignKeyDef, pk: &[u8]) -> Result<()> {
        let Some(bytes) = self.fetch(def.name, &spaced(ROWS, pk))? else {
            return Ok(());
        };
        let (mut vals, extras) = def.decode_values(pk, &bytes)?;
        for &c in fk.columns {
            vals[c] = Value::Null;
        }
        let refs: Vec<ValueRef<'_>> = vals.iter().map(Value::as_ref).collect();
        self.update_vals(def, &refs, &extras, false)
    }

    /// Primary keys of the rows of `child` that reference `parent_pk`.
    fn child_pks(&self, child: &Child, parent_pk: &[u8]) -> Result<Vec<Vec<u8>>> {
        match child.index {
            Some(idx) => self.index_pks(child.table, idx, parent_pk),
            None => {
                let range = KeyRange::prefix(RawKey(parent_pk));
                let mut out = Vec::new();
                self.visit(
                    child.table.name,
                    &range.within(ROWS),
                    Page::default(),
                    |k, _| {
                        out.push(k[1..].to_vec());
                        Ok(true)
                    },
                )?;
                Ok(out)
            }
        }
    }

    /// Primary keys of the entries of `idx` whose key starts with `prefix`.
    fn index_pks(&self, def: &TableDef, idx: &IndexDef, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.index_range_pks(def, idx, &KeyRange::prefix(RawKey(prefix)))
    }

    fn index_range_pks(
        &self,
        def: &TableDef,
        idx: &IndexDef,
        range: &KeyRange,
    ) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.index_range_keys(def, idx, range, Page::default(), &mut |pk| {
            out.push(pk.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    fn index_range_keys(
        &self,
        def: &TableDef,
        idx: &IndexDef,
        range: &KeyRange,
        page: Page,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.visit(def.name, &range.within_index(def, idx), page, |k, v| {
            f(entry_parts(def, idx, k, v)?.0)
        })
    }

    /// The highest id handed out so far (0 if none).
    fn sequence(&self, def: &TableDef) -> Result<i64> {
        match self.fetch(def.name, SEQ_KEY)? {
            None => Ok(0),
            Some(b) => stored_count(def.name, "AUTOINCREMENT sequence", &b).map(|n| n as i64),
        }
    }

    /// Visits the entries of a redb table within raw bounds (the callback
    /// runs while the table is borrowed: it must not read through `self`).
    pub(crate) fn visit(
        &self,
        name: &'static str,
        bounds: &(Bound<Vec<u8>>, Bound<Vec<u8>>),
        page: Page,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let range = (as_slice(&bounds.0), as_slice(&bounds.1));
        let mut failed = None;
        self.with_table(name, |t| {
            let iter = t.range::<&[u8]>(range)?;
            let iter: Box<dyn Iterator<Item = _>> = if page.reverse {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
            for entry in iter
                .skip(page.offset)
                .take(page.limit.unwrap_or(usize::MAX))
            {
                let (k, v) = entry?;
                match f(k.value(), v.value()) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            Ok(())
        })?;
        failed.map_or(Ok(()), Err)
    }

    pub(crate) fn is_empty(&self, name: &'static str) -> Result<bool> {
        self.with_table(name, |t| t.len().map(|n| n == 0))
    }

    /// Number of rows in a table, inside this transaction.
    fn row_count(&self, def: &TableDef) -> Result<u64> {
        let stored = match self.fetch(def.name, COUNT_KEY)? {
            Some(b) => stored_count(def.name, "row count", &b)?,
            None => 0,
        };
        let delta = self.counts.get(def.name).copied().unwrap_or(0);
        Ok((stored as i64 + delta).max(0) as u64)
    }
}

impl RowSource for Txn<'_> {
    fn origin(&self) -> &Path {
        self.set.origin()
    }

    fn row(
        &self,
        def: &'static TableDef,
        pk: &[u8],
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        self.declared(def)?;
        match self.fetch(def.name, &spaced(ROWS, pk))? {
            Some(bytes) => f(&bytes).map(|()| true),
            None => Ok(false),
        }
    }

    fn unique(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        self.declared(def)?;
        match self.fetch(def.name, &spaced(idx.space, &probe(def, idx, key)))? {
            Some(v) => Ok(Some(unique_entry(def, idx, &v)?.0.to_vec())),
            None => Ok(None),
        }
    }

    fn rows(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: RowVisitor<'_>,
    ) -> Result<()> {
        self.declared(def)?;
        // Collected first: the callback may read through this transaction.
        let mut entries = Vec::new();
        match idx {
            None => self.visit(def.name, &range.within(ROWS), page, |k, v| {
                entries.push((k[1..].to_vec(), Some(v.to_vec())));
                Ok(true)
            })?,
            Some(idx) => self.visit(def.name, &range.within_index(def, idx), page, |k, v| {
                let (pk, copy) = entry_parts(def, idx, k, v)?;
                entries.push((pk.to_vec(), copy.map(<[u8]>::to_vec)));
                Ok(true)
            })?,
        }
        for (pk, row) in entries {
            let go = match row {
                Some(row) => f(&pk, &row)?,
                None => {
                    let row = self.fetch(def.name, &spaced(ROWS, &pk))?;
                    let idx = idx.expect("only index entries lack the row");
                    f(&pk, &row.ok_or_else(|| dangling(def, idx, &pk))?)?
                }
            };
            if !go {
                break;
            }
        }
        Ok(())
    }

    fn keys(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.declared(def)?;
        match idx {
            Some(idx) => self.index_range_keys(def, idx, range, page, f),
            None => self.visit(def.name, &range.within(ROWS), page, |k, _| f(&k[1..])),
        }
    }

    fn count(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
    ) -> Result<u64> {
        self.declared(def)?;
        if idx.is_none() && range.is_all() {
            return self.row_count(def);
        }
        let mut n = 0;
        self.keys(def, idx, range, Page::default(), &mut |_| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }
}

impl RowSink for Txn<'_> {
    fn insert(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<Vec<u8>> {
        self.op(def, |w| w.insert_vals(def, vals, extras, check_types))
    }

    fn update(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<()> {
        self.op(def, |w| w.update_vals(def, vals, extras, check_types))
    }

    fn upsert(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
    ) -> Result<bool> {
        self.op(def, |w| {
            let pk = pk_of(def, vals);
            if w.exists(def.name, &spaced(ROWS, &pk))? {
                w.update_vals(def, vals, extras, false)?;
                Ok(true)
            } else {
                w.insert_vals(def, vals, extras, false)?;
                Ok(false)
            }
        })
    }

    fn delete(&mut self, def: &'static TableDef, pk: &[u8]) -> Result<bool> {
        self.op(def, |w| w.delete_key(def, pk, 0))
    }

    fn next_id(&mut self, def: &'static TableDef) -> Result<i64> {
        self.declared(def)?;
        let last = self.sequence(def)?;
        last.checked_add(1).ok_or_else(|| {
            Error::InvalidArgument(format!("AUTOINCREMENT of {} exhausted", def.name))
        })
    }

    fn raise_sequence_to(&mut self, def: &'static TableDef, id: i64) -> Result<()> {
        self.op(def, |w| w.raise_sequence(def, id))
    }

    fn set_foreign_keys(&mut self, on: bool) -> Result<()> {
        self.foreign_keys = on;
        Ok(())
    }
}
