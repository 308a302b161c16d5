//! Writes: the only code that touches primary and index tables.
//!
//! Every insert, update, upsert and delete keeps every index entry in step
//! inside the same redb write transaction. Each operation checks all its
//! constraints (NOT NULL, types, UNIQUE, FOREIGN KEY) before writing
//! anything. Only a delete that cascades can fail after it started writing;
//! then the [`Writer`] is poisoned and the transaction cannot commit, so no
//! partial state is ever visible.
//!
//! Index layout (see [`keys`](super::keys)):
//! * unique index: key = indexed columns, value = primary key; rows with a
//!   NULL in an indexed column have no entry;
//! * other indexes: key = indexed columns ++ primary key, value = empty.

use super::codec::{self, Extras};
use super::def::{ForeignKeyDef, IndexDef, OnDelete, Row, TableDef};
use super::keys::{self, IntoKey};
use super::read::KeyRange;
use super::value::{Value, ValueRef};
use crate::db::{Database, meta};
use crate::error::{Error, Result};
use crate::schema::Child;
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Bound;

type RawTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// The redb definition of a primary or index table.
pub fn raw_def(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// A write transaction in progress. Obtained from [`Database::write`].
pub struct Writer<'t> {
    txn: &'t redb::WriteTransaction,
    db: &'t Database,
    open: HashMap<&'static str, RawTable<'t>>,
    foreign_keys: bool,
    poisoned: Option<&'static str>,
    wrote: bool,
    buf: Vec<u8>,
}

impl<'t> Writer<'t> {
    pub(crate) fn new(txn: &'t redb::WriteTransaction, db: &'t Database) -> Self {
        Writer {
            txn,
            db,
            open: HashMap::new(),
            foreign_keys: true,
            poisoned: None,
            wrote: false,
            buf: Vec::with_capacity(256),
        }
    }

    /// Turns foreign-key enforcement (checks and cascades) on or off for the
    /// rest of this transaction, like SQLite's `PRAGMA foreign_keys`. The
    /// importer turns it off: legacy files hold dangling references that
    /// must be kept, not dropped.
    pub fn set_foreign_keys(&mut self, on: bool) {
        self.foreign_keys = on;
    }

    pub(crate) fn finish(self) -> Result<()> {
        match self.poisoned {
            Some(table) => Err(Error::Poisoned { table }),
            None => Ok(()),
        }
    }

    fn st(&self, e: impl std::fmt::Display) -> Error {
        Error::storage(self.db.path(), e)
    }

    fn table(&mut self, name: &'static str) -> Result<&mut RawTable<'t>> {
        match self.open.entry(name) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let t = self
                    .txn
                    .open_table(raw_def(name))
                    .map_err(|err| Error::storage(self.db.path(), err))?;
                Ok(e.insert(t))
            }
        }
    }

    fn declared(&self, def: &TableDef) -> Result<()> {
        if self.db.tables().iter().any(|t| t.name == def.name) {
            return Ok(());
        }
        Err(Error::Unknown {
            kind: "table",
            name: def.name.to_string(),
            hint: format!(" in {}", self.db.path().display()),
        })
    }

    pub(super) fn exists(&mut self, name: &'static str, key: &[u8]) -> Result<bool> {
        let t = self.table(name)?;
        let found = t.get(key).map(|g| g.is_some());
        found.map_err(|e| self.st(e))
    }

    fn fetch(&mut self, name: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.table(name)?;
        let found = t.get(key).map(|g| g.map(|v| v.value().to_vec()));
        found.map_err(|e| self.st(e))
    }

    pub(super) fn put(&mut self, name: &'static str, key: &[u8], value: &[u8]) -> Result<()> {
        self.wrote = true;
        let t = self.table(name)?;
        let r = t.insert(key, value).map(drop);
        r.map_err(|e| self.st(e))
    }

    fn remove(&mut self, name: &'static str, key: &[u8]) -> Result<()> {
        self.wrote = true;
        let t = self.table(name)?;
        let r = t.remove(key).map(drop);
        r.map_err(|e| self.st(e))
    }

    /// Runs one public operation, poisoning the writer if it fails after
    /// having written something.
    pub(super) fn op<T>(
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

    // ----- typed API -------------------------------------------------------

    /// Inserts a new row. Fails on a duplicate key or a broken constraint.
    pub fn insert<R: Row>(&mut self, row: &R) -> Result<()> {
        let vals = row_values(row);
        self.op(R::DEF, |w| {
            w.insert_vals(R::DEF, &vals, row.extras(), false).map(drop)
        })
    }

    /// Replaces an existing row (found by its primary key).
    pub fn update<R: Row>(&mut self, row: &R) -> Result<()> {
        let vals = row_values(row);
        self.op(R::DEF, |w| {
            w.update_vals(R::DEF, &vals, row.extras(), false)
        })
    }

    /// Inserts the row, or replaces the row with the same primary key.
    /// Returns true if a row was replaced.
    pub fn upsert<R: Row>(&mut self, row: &R) -> Result<bool> {
        let vals = row_values(row);
        self.op(R::DEF, |w| {
            let pk = pk_of(R::DEF, &vals);
            if w.exists(R::DEF.name, &pk)? {
                w.update_vals(R::DEF, &vals, row.extras(), false)?;
                Ok(true)
            } else {
                w.insert_vals(R::DEF, &vals, row.extras(), false)?;
                Ok(false)
            }
        })
    }

    /// Deletes the row with this primary key, applying ON DELETE actions.
    /// Returns false if there was no such row.
    pub fn delete<R: Row>(&mut self, key: impl IntoKey) -> Result<bool> {
        let pk = key.to_key();
        self.op(R::DEF, |w| w.delete_key(R::DEF, &pk, 0))
    }

    /// Reads a row inside this transaction.
    pub fn get<R: Row>(&mut self, key: impl IntoKey) -> Result<Option<R>> {
        let pk = key.to_key();
        self.declared(R::DEF)?;
        match self.fetch(R::DEF.name, &pk)? {
            Some(bytes) => R::decode(&pk, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads a row by a unique index inside this transaction.
    pub fn get_by<R: Row>(&mut self, index: &str, key: impl IntoKey) -> Result<Option<R>> {
        let idx = find_unique_index(R::DEF, index)?;
        self.declared(R::DEF)?;
        match self.fetch(idx.redb_name, &key.to_key())? {
            Some(pk) => self.get::<R>(keys::RawKey(&pk)),
            None => Ok(None),
        }
    }

    /// Primary keys of the rows whose index entry starts with `prefix`.
    pub fn keys_by<R: Row>(&mut self, index: &str, prefix: impl IntoKey) -> Result<Vec<Vec<u8>>> {
        let idx = R::DEF.index(index)?;
        self.declared(R::DEF)?;
        self.index_pks(idx, &prefix.to_key())
    }

    /// The next AUTOINCREMENT id for a table (never reused, even after deletes).
    pub fn next_id<R: Row>(&mut self) -> Result<i64> {
        self.declared(R::DEF)?;
        let seq = self
            .txn
            .open_table(meta::SEQUENCE)
            .map_err(|e| self.st(e))?;
        let last = seq
            .get(R::DEF.name)
            .map_err(|e| self.st(e))?
            .map(|g| g.value());
        let last = last.unwrap_or(0);
        last.checked_add(1)
            .ok_or_else(|| Error::Invalid(format!("AUTOINCREMENT of {} exhausted", R::DEF.name)))
    }

    // ----- generic API (importer, migrations, SET NULL) ----------------------

    /// Inserts a row given as owned values in column order, checking every
    /// value against its column's Rust type. Returns the encoded primary key.
    pub fn insert_values(
        &mut self,
        def: &'static TableDef,
        values: &[Value],
        extras: &Extras,
    ) -> Result<Vec<u8>> {
        let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
        self.op(def, |w| w.insert_vals(def, &vals, extras, true))
    }

    /// Replaces a row given as owned values, checking types.
    pub fn update_values(
        &mut self,
        def: &'static TableDef,
        values: &[Value],
        extras: &Extras,
    ) -> Result<()> {
        let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
        self.op(def, |w| w.update_vals(def, &vals, extras, true))
    }

    /// Deletes a row by encoded primary key.
    pub fn delete_raw(&mut self, def: &'static TableDef, pk: &[u8]) -> Result<bool> {
        self.op(def, |w| w.delete_key(def, pk, 0))
    }

    // ----- the core ----------------------------------------------------------

    pub(super) fn insert_vals(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<Vec<u8>> {
        check_row(def, vals, check_types)?;
        let pk = pk_of(def, vals);
        if self.exists(def.name, &pk)? {
            return Err(unique_error(def, def.primary_key, vals));
        }
        let index_keys = index_keys(def, vals, &pk);
        for (idx, key) in def.indexes.iter().zip(&index_keys) {
            if let (true, Some(key)) = (idx.unique, key) {
                if self.exists(idx.redb_name, key)? {
                    return Err(unique_error(def, idx.columns, vals));
                }
            }
        }
        self.check_parents(def, vals, None)?;
        let mut bytes = std::mem::take(&mut self.buf);
        codec::encode_row(&mut bytes, def.columns.len(), |i| vals[i], extras);
        let r = self.write_new(def, &pk, &bytes, &index_keys);
        self.buf = bytes;
        r?;
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
        self.put(def.name, pk, bytes)?;
        for (idx, key) in def.indexes.iter().zip(index_keys) {
            if let Some(key) = key {
                let value: &[u8] = if idx.unique { pk } else { &[] };
                self.put(idx.redb_name, key, value)?;
            }
        }
        Ok(())
    }

    fn bump_sequence(&mut self, def: &TableDef, vals: &[ValueRef<'_>]) -> Result<()> {
        match def.primary_key.first().map(|&c| vals[c]) {
            Some(ValueRef::Integer(id)) => self.raise_sequence(def, id),
            _ => Ok(()),
        }
    }

    /// Raises a table's AUTOINCREMENT sequence to at least `id`.
    pub(super) fn raise_sequence(&mut self, def: &TableDef, id: i64) -> Result<()> {
        let mut seq = self
            .txn
            .open_table(meta::SEQUENCE)
            .map_err(|e| self.st(e))?;
        let last = seq
            .get(def.name)
            .map_err(|e| self.st(e))?
            .map(|g| g.value());
        if last.is_none_or(|l| id > l) {
            seq.insert(def.name, id).map_err(|e| self.st(e))?;
        }
        Ok(())
    }

    pub(super) fn update_vals(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<()> {
        check_row(def, vals, check_types)?;
        let pk = pk_of(def, vals);
        let old_bytes = self.fetch(def.name, &pk)?.ok_or_else(|| Error::NotFound {
            table: def.name,
            key: keys::render(&pk),
        })?;
        let (old_vals, _) = def.decode_values(&pk, &old_bytes)?;
        let old: Vec<ValueRef<'_>> = old_vals.iter().map(Value::as_ref).collect();
        let old_keys = index_keys(def, &old, &pk);
        let new_keys = index_keys(def, vals, &pk);
        for ((idx, o), n) in def.indexes.iter().zip(&old_keys).zip(&new_keys) {
            if let (true, Some(n)) = (idx.unique, n) {
                if Some(n) != o.as_ref() && self.exists(idx.redb_name, n)? {
                    return Err(unique_error(def, idx.columns, vals));
                }
            }
        }
        self.check_parents(def, vals, Some(&old))?;
        for ((idx, o), n) in def.indexes.iter().zip(&old_keys).zip(&new_keys) {
            if o == n {
                continue;
            }
            if let Some(o) = o {
                self.remove(idx.redb_name, o)?;
            }
            if let Some(n) = n {
                let value: &[u8] = if idx.unique { &pk } else { &[] };
                self.put(idx.redb_name, n, value)?;
            }
        }
        let mut bytes = std::mem::take(&mut self.buf);
        codec::encode_row(&mut bytes, def.columns.len(), |i| vals[i], extras);
        let r = self.put(def.name, &pk, &bytes);
        self.buf = bytes;
        r
    }

    pub(super) fn check_parents(
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
            if let Some(old) = old {
                if fk.columns.iter().all(|&c| old[c] == vals[c]) {
                    continue;
                }
            }
            let parent = (fk.parent)();
            self.declared(parent)?;
            let key = keys::encode(fk.columns.iter().map(|&c| vals[c]));
            if !self.exists(parent.name, &key)? {
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
            return Err(Error::Invalid(format!(
                "ON DELETE cascade from {} is deeper than 64 levels",
                def.name
            )));
        }
        let Some(old_bytes) = self.fetch(def.name, pk)? else {
            return Ok(false);
        };
        let (old_vals, _) = def.decode_values(pk, &old_bytes)?;
        let old: Vec<ValueRef<'_>> = old_vals.iter().map(Value::as_ref).collect();
        let children = if self.foreign_keys {
            crate::schema::referencing(def)
        } else {
            &[]
        };
        for child in children
            .iter()
            .filter(|c| c.fk.on_delete == OnDelete::Restrict)
        {
            if !self.child_pks(child, pk)?.is_empty() {
                return Err(Error::Referenced {
                    parent: def.name,
                    key: keys::render(pk),
                    table: child.table.name,
                    column: child.table.column_list(child.fk.columns),
                });
            }
        }
        for (idx, key) in def.indexes.iter().zip(index_keys(def, &old, pk)) {
            if let Some(key) = key {
                self.remove(idx.redb_name, &key)?;
            }
        }
        self.remove(def.name, pk)?;
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
        let Some(bytes) = self.fetch(def.name, pk)? else {
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
    fn child_pks(&mut self, child: &Child, parent_pk: &[u8]) -> Result<Vec<Vec<u8>>> {
        if let Some(idx) = child.index {
            return self.index_pks(idx, parent_pk);
        }
        let end = keys::prefix_end(parent_pk);
        let path = self.db.path().to_path_buf();
        let t = self.table(child.table.name)?;
        let range = match &end {
            Some(end) => t.range::<&[u8]>(parent_pk..end.as_slice()),
            None => t.range::<&[u8]>(parent_pk..),
        };
        let mut out = Vec::new();
        for entry in range.map_err(|e| Error::storage(&path, e))? {
            let (k, _) = entry.map_err(|e| Error::storage(&path, e))?;
            out.push(k.value().to_vec());
        }
        Ok(out)
    }

    /// Primary keys of the entries of `idx` whose key starts with `prefix`.
    fn index_pks(&mut self, idx: &IndexDef, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let end = match keys::prefix_end(prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        self.index_range_pks(
            idx,
            &KeyRange::from_bounds(Bound::Included(prefix.to_vec()), end),
        )
    }

    fn index_range_pks(&mut self, idx: &IndexDef, range: &KeyRange) -> Result<Vec<Vec<u8>>> {
        let ncols = idx.columns.len();
        let unique = idx.unique;
        let name = idx.redb_name;
        let path = self.db.path().to_path_buf();
        let t = self.table(name)?;
        let mut out = Vec::new();
        for entry in t
            .range::<&[u8]>(range.bounds())
            .map_err(|e| Error::storage(&path, e))?
        {
            let (k, v) = entry.map_err(|e| Error::storage(&path, e))?;
            if unique {
                out.push(v.value().to_vec());
            } else {
                let key = k.value();
                let at = keys::prefix_len(key, ncols).map_err(|e| Error::Corrupt {
                    table: name,
                    key: format!("{} bytes", key.len()),
                    what: format!("index key: expected {} at byte {}", e.what, e.offset),
                })?;
                out.push(key[at..].to_vec());
            }
        }
        Ok(out)
    }

    /// Primary keys of the rows whose index columns lie in `range`, in index order.
    pub fn keys_in_index<R: Row>(&mut self, index: &str, range: &KeyRange) -> Result<Vec<Vec<u8>>> {
        let idx = R::DEF.index(index)?;
        self.declared(R::DEF)?;
        self.index_range_pks(idx, range)
    }

    pub(super) fn is_empty(&mut self, name: &'static str) -> Result<bool> {
        let t = self.table(name)?;
        let n = t.len();
        n.map(|n| n == 0).map_err(|e| self.st(e))
    }

    /// Number of rows in a table, inside this transaction.
    pub fn count<R: Row>(&mut self) -> Result<u64> {
        self.declared(R::DEF)?;
        let t = self.table(R::DEF.name)?;
        let n = t.len();
        n.map_err(|e| self.st(e))
    }
}

/// Column values of a typed row.
pub(super) fn row_values<R: Row>(row: &R) -> Vec<ValueRef<'_>> {
    (0..R::DEF.columns.len()).map(|i| row.value(i)).collect()
}

pub(super) fn pk_of(def: &TableDef, vals: &[ValueRef<'_>]) -> Vec<u8> {
    keys::encode(def.primary_key.iter().map(|&c| vals[c]))
}

pub(super) fn index_key(idx: &IndexDef, vals: &[ValueRef<'_>], pk: &[u8]) -> Option<Vec<u8>> {
    if idx.unique && idx.columns.iter().any(|&c| vals[c].is_null()) {
        return None;
    }
    let mut k = Vec::with_capacity(32 + pk.len());
    for &c in idx.columns {
        keys::encode_into(&mut k, vals[c]);
    }
    if !idx.unique {
        k.extend_from_slice(pk);
    }
    Some(k)
}

pub(super) fn index_keys(def: &TableDef, vals: &[ValueRef<'_>], pk: &[u8]) -> Vec<Option<Vec<u8>>> {
    def.indexes
        .iter()
        .map(|idx| index_key(idx, vals, pk))
        .collect()
}

pub(super) fn check_row(
    def: &'static TableDef,
    vals: &[ValueRef<'_>],
    check_types: bool,
) -> Result<()> {
    if vals.len() != def.columns.len() {
        return Err(Error::Invalid(format!(
            "table {} has {} columns, got {} values",
            def.name,
            def.columns.len(),
            vals.len()
        )));
    }
    for (col, v) in def.columns.iter().zip(vals) {
        if v.is_null() {
            if !col.nullable {
                return Err(Error::NotNull {
                    table: def.name,
                    column: col.name,
                });
            }
            continue;
        }
        if check_types && !(col.accepts)(*v) {
            return Err(Error::Type {
                table: def.name,
                column: col.name.to_string(),
                expected: col.expected,
                found: v.describe(),
            });
        }
    }
    Ok(())
}

pub(super) fn unique_error(def: &'static TableDef, cols: &[usize], vals: &[ValueRef<'_>]) -> Error {
    Error::Unique {
        table: def.name,
        columns: def.column_list(cols),
        value: keys::render(&keys::encode(cols.iter().map(|&c| vals[c]))),
    }
}

pub(super) fn find_unique_index<'d>(def: &'d TableDef, name: &str) -> Result<&'d IndexDef> {
    let idx = def.index(name)?;
    if !idx.unique {
        return Err(Error::Invalid(format!(
            "index {name} on {} is not unique; use a scan",
            def.name
        )));
    }
    Ok(idx)
}
