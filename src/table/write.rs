//! Writes: the only code that touches primary and index tables.
//!
//! Every insert, update, upsert and delete keeps every index entry in step
//! inside the same redb write transaction. Each operation checks all its
//! constraints (NOT NULL, types, UNIQUE, FOREIGN KEY) before writing
//! anything. Only a delete that cascades can fail after it started writing;
//! then the [`Writer`] is poisoned and the transaction cannot commit, so no
//! partial state is ever visible.
//!
//! Layout: each declared table is **one** redb table (`&[u8] → &[u8]`),
//! split into key spaces by its first byte, so a lookup opens one table and
//! a commit touches one B-tree per declared table:
//!
//! ```text
//! 0x00 ++ pk                     → row envelope            (rows)
//! n    ++ columns                → pk      n = 1 + index position, unique index
//! n    ++ columns ++ pk          → (empty)                 other indexes
//! 0xFF ++ "count"                → row count, u64 LE       (metadata)
//! 0xFF ++ "seq"                  → last AUTOINCREMENT id, u64 LE
//! ```
//!
//! Keys use the order-preserving encoding of [`keys`]. Rows with
//! a NULL in a unique index's column have no entry in it (SQL treats NULLs
//! as distinct).

use super::codec::{self, Extras};
use super::def::{ForeignKeyDef, IndexDef, OnDelete, Row, TableDef};
use super::handle::{Index, KeyOf, PrefixOf};
use super::keys::{self, IntoKey, RawKey};
use super::read::KeyRange;
use super::value::{Value, ValueRef};
use crate::db::Database;
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
    counts: HashMap<&'static str, i64>,
}

/// Key-space byte of rows.
pub const ROWS: u8 = 0;
/// Key-space byte of per-table metadata.
pub const META: u8 = 0xFF;
/// Metadata key of the row count.
pub const COUNT_KEY: &[u8] = b"\xFFcount";
/// Metadata key of the AUTOINCREMENT sequence (highest id handed out).
pub const SEQ_KEY: &[u8] = b"\xFFseq";

/// `space ++ key`.
pub fn spaced(space: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(space);
    k.extend_from_slice(key);
    k
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
            counts: HashMap::new(),
        }
    }

    /// Turns foreign-key enforcement (checks and cascades) on or off for the
    /// rest of this transaction, like SQLite's `PRAGMA foreign_keys`. The
    /// importer turns it off: legacy files hold dangling references that
    /// must be kept, not dropped.
    pub fn set_foreign_keys(&mut self, on: bool) {
        self.foreign_keys = on;
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some(table) = self.poisoned {
            return Err(Error::Poisoned { table });
        }
        let counts: Vec<_> = self.counts.drain().filter(|(_, d)| *d != 0).collect();
        for (name, delta) in counts {
            let old = match self.fetch(name, COUNT_KEY)? {
                Some(b) => read_count(&b).ok_or_else(|| Error::Corrupt {
                    table: name,
                    key: "row count".into(),
                    what: format!("expected 8 bytes, found {}", b.len()),
                })?,
                None => 0,
            };
            let new = (old as i64).saturating_add(delta).max(0) as u64;
            self.put(name, COUNT_KEY, &new.to_le_bytes())?;
        }
        Ok(())
    }

    pub(super) fn counted(&mut self, def: &TableDef, delta: i64) {
        *self.counts.entry(def.name).or_default() += delta;
    }

    fn st(&self, e: impl std::fmt::Display) -> Error {
        Error::storage(self.db.path(), e)
    }

    /// The redb transaction, for meta tables written with a migration step.
    pub(crate) fn raw_txn(&self) -> &'t redb::WriteTransaction {
        self.txn
    }

    /// The file, for errors.
    pub(crate) fn path(&self) -> &std::path::Path {
        self.db.path()
    }

    /// Notes that this operation has written (so a failure poisons the writer).
    pub(super) fn mark_written(&mut self) {
        self.wrote = true;
    }

    pub(super) fn table(&mut self, name: &'static str) -> Result<&mut RawTable<'t>> {
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
            if w.exists(R::DEF.name, &spaced(ROWS, &pk))? {
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
        match self.fetch(R::DEF.name, &spaced(ROWS, &pk))? {
            Some(bytes) => R::decode(&pk, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads a row by a unique index inside this transaction.
    pub fn get_by<R: Row, K>(
        &mut self,
        index: Index<R, K>,
        key: impl KeyOf<K>,
    ) -> Result<Option<R>> {
        let idx = unique_index(R::DEF, index.def())?;
        self.declared(R::DEF)?;
        match self.fetch(R::DEF.name, &spaced(idx.space, &key.to_key()))? {
            Some(pk) => self.get::<R>(keys::RawKey(&pk)),
            None => Ok(None),
        }
    }

    /// Primary keys of the rows whose index entry starts with `prefix`.
    pub fn keys_by<R: Row, K>(
        &mut self,
        index: Index<R, K>,
        prefix: impl PrefixOf<K>,
    ) -> Result<Vec<Vec<u8>>> {
        self.declared(R::DEF)?;
        self.index_pks(R::DEF, index.def(), &prefix.to_prefix())
    }

    /// The next AUTOINCREMENT id for a table (never reused, even after deletes).
    pub fn next_id<R: Row>(&mut self) -> Result<i64> {
        self.declared(R::DEF)?;
        let last = self.sequence(R::DEF)?;
        last.checked_add(1)
            .ok_or_else(|| Error::Invalid(format!("AUTOINCREMENT of {} exhausted", R::DEF.name)))
    }

    /// The highest id handed out so far (0 if none).
    fn sequence(&mut self, def: &TableDef) -> Result<i64> {
        match self.fetch(def.name, SEQ_KEY)? {
            None => Ok(0),
            Some(b) => read_count(&b)
                .map(|n| n as i64)
                .ok_or_else(|| Error::Corrupt {
                    table: def.name,
                    key: "AUTOINCREMENT sequence".into(),
                    what: format!("expected 8 bytes, found {}", b.len()),
                }),
        }
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

    /// The stored values and extras of a row, by encoded primary key
    /// (defaults filled for columns the row predates).
    pub fn get_values(
        &mut self,
        def: &'static TableDef,
        pk: &[u8],
    ) -> Result<Option<(Vec<Value>, Extras)>> {
        self.declared(def)?;
        match self.fetch(def.name, &spaced(ROWS, pk))? {
            Some(bytes) => def.decode_values(pk, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The next AUTOINCREMENT id of a table given by its declaration.
    pub fn next_id_for(&mut self, def: &'static TableDef) -> Result<i64> {
        self.declared(def)?;
        let last = self.sequence(def)?;
        last.checked_add(1)
            .ok_or_else(|| Error::Invalid(format!("AUTOINCREMENT of {} exhausted", def.name)))
    }

    /// Raises an AUTOINCREMENT table's sequence to at least `id`, as the
    /// importer does with a legacy file's `sqlite_sequence`.
    pub fn raise_sequence_to(&mut self, def: &'static TableDef, id: i64) -> Result<()> {
        self.op(def, |w| w.raise_sequence(def, id))
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
        if self.exists(def.name, &spaced(ROWS, &pk))? {
            return Err(unique_error(def, def.primary_key, vals));
        }
        let index_keys = index_keys(def, vals, &pk);
        for (idx, key) in def.indexes.iter().zip(&index_keys) {
            if let (true, Some(key)) = (idx.unique, key)
                && self.exists(def.name, key)?
            {
                return Err(unique_error(def, idx.columns, vals));
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
                self.put(def.name, key, entry_value(idx, pk, bytes))?;
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
        if id > self.sequence(def)? {
            self.put(def.name, SEQ_KEY, &(id as u64).to_le_bytes())?;
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
                && self.exists(def.name, n)?
            {
                return Err(unique_error(def, idx.columns, vals));
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
                self.put(def.name, n, entry_value(idx, pk, bytes))?;
            }
        }
        Ok(())
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
            if let Some(old) = old
                && fk.columns.iter().all(|&c| old[c] == vals[c])
            {
                continue;
            }
            let parent = (fk.parent)();
            self.declared(parent)?;
            let key = keys::encode(fk.columns.iter().map(|&c| vals[c]));
            if !self.exists(parent.name, &spaced(ROWS, &key))? {
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
        let row_key = spaced(ROWS, pk);
        let Some(old_bytes) = self.fetch(def.name, &row_key)? else {
            return Ok(false);
        };
        let (old_vals, _) = def.decode_values(pk, &old_bytes)?;
        let old: Vec<ValueRef<'_>> = old_vals.iter().map(Value::as_ref).collect();
        let db = self.db;
        let children = if self.foreign_keys {
            db.referencing(def)
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
    fn child_pks(&mut self, child: &Child, parent_pk: &[u8]) -> Result<Vec<Vec<u8>>> {
        match child.index {
            Some(idx) => self.index_pks(child.table, idx, parent_pk),
            None => {
                let range = KeyRange::prefix(RawKey(parent_pk));
                let mut out = Vec::new();
                self.visit(child.table.name, &range.within(ROWS), |k, _| {
                    out.push(k[1..].to_vec());
                    Ok(())
                })?;
                Ok(out)
            }
        }
    }

    /// Primary keys of the entries of `idx` whose key starts with `prefix`.
    fn index_pks(&mut self, def: &TableDef, idx: &IndexDef, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.index_range_pks(def, idx, &KeyRange::prefix(RawKey(prefix)))
    }

    fn index_range_pks(
        &mut self,
        def: &TableDef,
        idx: &IndexDef,
        range: &KeyRange,
    ) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let (ncols, unique, table) = (idx.columns.len(), idx.unique, def.name);
        self.visit(def.name, &range.within(idx.space), |k, v| {
            out.push(if unique {
                v.to_vec()
            } else {
                index_suffix(table, idx, k, ncols)?.to_vec()
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// Visits the entries of a redb table within raw bounds.
    fn visit(
        &mut self,
        name: &'static str,
        bounds: &(Bound<Vec<u8>>, Bound<Vec<u8>>),
        mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let path = self.db.path().to_path_buf();
        let t = self.table(name)?;
        let range = (as_slice(&bounds.0), as_slice(&bounds.1));
        for entry in t
            .range::<&[u8]>(range)
            .map_err(|e| Error::storage(&path, e))?
        {
            let (k, v) = entry.map_err(|e| Error::storage(&path, e))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    /// Primary keys of the rows whose index columns lie in `range`, in index order.
    pub fn keys_in_index<R: Row, K>(
        &mut self,
        index: Index<R, K>,
        range: &KeyRange,
    ) -> Result<Vec<Vec<u8>>> {
        self.declared(R::DEF)?;
        self.index_range_pks(R::DEF, index.def(), range)
    }

    pub(super) fn is_empty(&mut self, name: &'static str) -> Result<bool> {
        let t = self.table(name)?;
        let n = t.len();
        n.map(|n| n == 0).map_err(|e| self.st(e))
    }

    /// Number of rows in a table, inside this transaction.
    pub fn count<R: Row>(&mut self) -> Result<u64> {
        self.declared(R::DEF)?;
        let stored = match self.fetch(R::DEF.name, COUNT_KEY)? {
            Some(b) => read_count(&b).unwrap_or(0),
            None => 0,
        };
        let delta = self.counts.get(R::DEF.name).copied().unwrap_or(0);
        Ok((stored as i64 + delta).max(0) as u64)
    }
}

/// The value stored with an index entry: the primary key (unique), the
/// row (covering), or nothing.
pub(super) fn entry_value<'a>(idx: &IndexDef, pk: &'a [u8], row: &'a [u8]) -> &'a [u8] {
    if idx.unique {
        pk
    } else if idx.covering {
        row
    } else {
        &[]
    }
}

/// Decodes a stored row count.
pub fn read_count(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// The primary key at the end of a non-unique index entry (`space ++ columns ++ pk`).
pub(super) fn index_suffix<'k>(
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

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
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

pub(super) fn unique_index<'d>(def: &TableDef, idx: &'d IndexDef) -> Result<&'d IndexDef> {
    if !idx.unique {
        return Err(Error::Invalid(format!(
            "index {} on {} is not unique; use a scan",
            idx.name, def.name
        )));
    }
    Ok(idx)
}
