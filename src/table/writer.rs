//! [`Writer`]: a write transaction on any backend, with typed writes.
//! Its reads are the [`Read`] surface, like a snapshot's.

use super::api::{Read, RowSink, RowSource};
use super::codec::Extras;
use super::def::{Row, TableDef};
use super::embedded::write::Txn;
use super::handle::{Index, PrefixOf};
use super::keys::{IntoKey, RawKey};
use super::range::KeyRange;
use super::set::TableSet;
use super::value::{Value, ValueRef};
use crate::error::{Error, Result};

/// A write transaction in progress. Obtained from
/// [`Database::write`](crate::db::Database::write); everything it did
/// commits when the closure returns `Ok`, nothing otherwise.
pub struct Writer<'t> {
    imp: Imp<'t>,
}

enum Imp<'t> {
    Embedded(Txn<'t>),
    Other(&'t mut dyn RowSink),
}

impl<'t> Writer<'t> {
    pub(crate) fn embedded(txn: &'t redb::WriteTransaction, set: &'t TableSet) -> Self {
        Writer {
            imp: Imp::Embedded(Txn::new(txn, set)),
        }
    }

    /// A writer over another backend's transaction.
    pub fn other(sink: &'t mut dyn RowSink) -> Self {
        Writer {
            imp: Imp::Other(sink),
        }
    }

    fn sink(&mut self) -> &mut dyn RowSink {
        match &mut self.imp {
            Imp::Embedded(t) => t,
            Imp::Other(s) => *s,
        }
    }

    /// The embedded transaction, for operations only the embedded store
    /// has (bulk loads, index rebuilds, meta tables).
    pub(crate) fn embedded_txn(&mut self) -> Result<&mut Txn<'t>> {
        match &mut self.imp {
            Imp::Embedded(t) => Ok(t),
            Imp::Other(s) => Err(Error::InvalidArgument(format!(
                "{}: this operation needs an embedded (redb) database",
                s.origin().display()
            ))),
        }
    }

    /// Checks what the transaction left (e.g. a poisoned transaction
    /// cannot commit) and writes its row counts.
    pub(crate) fn finish(self) -> Result<()> {
        match self.imp {
            Imp::Embedded(t) => t.finish(),
            Imp::Other(_) => Ok(()),
        }
    }

    /// The redb transaction, for meta tables written with a migration step.
    pub(crate) fn raw_txn(&mut self) -> Result<&'t redb::WriteTransaction> {
        Ok(self.embedded_txn()?.raw_txn())
    }

    /// Turns foreign-key enforcement (checks and cascades) on or off for the
    /// rest of this transaction, like SQLite's `PRAGMA foreign_keys`. The
    /// importer turns it off: legacy files hold dangling references that
    /// must be kept, not dropped.
    pub fn set_foreign_keys(&mut self, on: bool) -> Result<()> {
        self.sink().set_foreign_keys(on)
    }

    /// Inserts a new row. Fails on a duplicate key or a broken constraint.
    pub fn insert<R: Row>(&mut self, row: &R) -> Result<()> {
        let vals = row_values(row);
        self.sink()
            .insert(R::DEF, &vals, row.extras(), false)
            .map(drop)
    }

    /// Replaces an existing row (found by its primary key).
    pub fn update<R: Row>(&mut self, row: &R) -> Result<()> {
        let vals = row_values(row);
        self.sink().update(R::DEF, &vals, row.extras(), false)
    }

    /// Inserts the row, or replaces the row with the same primary key.
    /// Returns true if a row was replaced.
    pub fn upsert<R: Row>(&mut self, row: &R) -> Result<bool> {
        let vals = row_values(row);
        self.sink().upsert(R::DEF, &vals, row.extras())
    }

    /// Deletes the row with this primary key, applying ON DELETE actions.
    /// Returns false if there was no such row.
    pub fn delete<R: Row>(&mut self, key: impl IntoKey) -> Result<bool> {
        let pk = key.to_key();
        self.sink().delete(R::DEF, &pk)
    }

    /// Deletes every row whose index columns start with `prefix`; returns how many.
    pub fn delete_by<R: Row, K>(
        &mut self,
        index: Index<R, K>,
        prefix: impl PrefixOf<K>,
    ) -> Result<u64> {
        let pks = self.keys_by(index, prefix)?;
        self.delete_keys::<R>(&pks)
    }

    /// Deletes every row within `range` of an index; returns how many.
    pub fn delete_in<R: Row, K>(&mut self, index: Index<R, K>, range: &KeyRange) -> Result<u64> {
        let pks = self.keys_in(index, range)?;
        self.delete_keys::<R>(&pks)
    }

    fn delete_keys<R: Row>(&mut self, pks: &[Vec<u8>]) -> Result<u64> {
        let mut n = 0;
        for pk in pks {
            n += u64::from(self.sink().delete(R::DEF, pk)?);
        }
        Ok(n)
    }

    /// Encoded primary keys of the rows whose index entry starts with `prefix`.
    pub fn keys_by<R: Row, K>(
        &mut self,
        index: Index<R, K>,
        prefix: impl PrefixOf<K>,
    ) -> Result<Vec<Vec<u8>>> {
        self.keys_in(index, &KeyRange::prefix(RawKey(&prefix.to_prefix())))
    }

    /// The next AUTOINCREMENT id for a table (never reused, even after deletes).
    pub fn next_id<R: Row>(&mut self) -> Result<i64> {
        self.sink().next_id(R::DEF)
    }

    // ----- untyped (importer, migrations) ------------------------------------

    /// Inserts a row given as owned values in column order, checking every
    /// value against its column's Rust type. Returns the encoded primary key.
    pub fn insert_values(
        &mut self,
        def: &'static TableDef,
        values: &[Value],
        extras: &Extras,
    ) -> Result<Vec<u8>> {
        let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
        self.sink().insert(def, &vals, extras, true)
    }

    /// Replaces a row given as owned values, checking types.
    pub fn update_values(
        &mut self,
        def: &'static TableDef,
        values: &[Value],
        extras: &Extras,
    ) -> Result<()> {
        let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
        self.sink().update(def, &vals, extras, true)
    }

    /// The stored values and extras of a row, by encoded primary key
    /// (defaults filled for columns the row predates).
    pub fn get_values(
        &mut self,
        def: &'static TableDef,
        pk: &[u8],
    ) -> Result<Option<(Vec<Value>, Extras)>> {
        let mut out = None;
        self.sink().row(def, pk, &mut |bytes| {
            out = Some(def.decode_values(pk, bytes)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The next AUTOINCREMENT id of a table given by its declaration.
    pub fn next_id_for(&mut self, def: &'static TableDef) -> Result<i64> {
        self.sink().next_id(def)
    }

    /// Raises an AUTOINCREMENT table's sequence to at least `id`, as the
    /// importer does with a legacy file's `sqlite_sequence`.
    pub fn raise_sequence_to(&mut self, def: &'static TableDef, id: i64) -> Result<()> {
        self.sink().raise_sequence_to(def, id)
    }

    /// Deletes a row by encoded primary key.
    pub fn delete_raw(&mut self, def: &'static TableDef, pk: &[u8]) -> Result<bool> {
        self.sink().delete(def, pk)
    }

    /// Inserts many rows in one go; all constraints are checked (including
    /// duplicates inside the batch) before anything is written. The
    /// embedded store writes each table in key order.
    pub fn insert_many<R: Row>(&mut self, rows: &[R]) -> Result<()> {
        match &mut self.imp {
            Imp::Embedded(t) => t.insert_many(rows),
            Imp::Other(s) => {
                for row in rows {
                    s.insert(R::DEF, &row_values(row), row.extras(), false)?;
                }
                Ok(())
            }
        }
    }
}

impl Writer<'_> {
    /// Drops every entry of index `index` of `def` and derives them again
    /// from every row, checking UNIQUE (embedded store; a migration that
    /// adds or changes an index must do this: re-writing rows does not fill
    /// a new index). Returns the number of entries written.
    pub fn rebuild_index(&mut self, def: &'static TableDef, index: &str) -> Result<u64> {
        self.embedded_txn()?.rebuild_index(def, index)
    }

    /// Removes every entry of an index, leaving it empty until
    /// [`Writer::rebuild_index`]. Returns the entries removed.
    pub fn clear_index(&mut self, def: &'static TableDef, index: &str) -> Result<u64> {
        self.embedded_txn()?.clear_index(def, index)
    }

    /// Removes every entry of a key space that belongs to no declared index.
    pub fn drop_key_space(&mut self, def: &'static TableDef, space: u8) -> Result<u64> {
        self.embedded_txn()?.drop_key_space(def, space)
    }

    /// Key spaces that hold entries but belong to no declared index of `def`.
    pub fn undeclared_key_spaces(&mut self, def: &'static TableDef) -> Result<Vec<u8>> {
        self.embedded_txn()?.undeclared_key_spaces(def)
    }
}

impl Read for Writer<'_> {
    fn source(&self) -> &dyn RowSource {
        match &self.imp {
            Imp::Embedded(t) => t,
            Imp::Other(s) => *s,
        }
    }
}

/// Column values of a typed row.
pub(crate) fn row_values<R: Row>(row: &R) -> Vec<ValueRef<'_>> {
    (0..R::DEF.columns.len()).map(|i| row.value(i)).collect()
}
