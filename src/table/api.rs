//! The backend interface and the one read surface.
//!
//! Two layers, one name per operation:
//!
//! * **Untyped** ([`RowSource`], [`RowSink`]): what a backend implements.
//!   Keys are encoded values (see [`keys`]), rows are stored
//!   envelopes (see [`codec`](super::codec)), tables and indexes are their
//!   declarations. The embedded store implements it on redb; a SQL backend
//!   turns each call into statements.
//! * **Typed** ([`Read`], and [`Writer`](super::Writer)'s writes): what
//!   stores call, with row types and typed index handles. Every method is
//!   written once, here, on top of the untyped layer, so a store runs
//!   unchanged on any backend.
//!
//! ## Semantics every backend keeps
//!
//! * A read snapshot ([`Reader`](super::Reader)) sees one consistent state
//!   and nothing committed after it began.
//! * A write transaction ([`Writer`](super::Writer)) sees its own writes;
//!   it commits all of them or none; writers to one database are
//!   serialised (the embedded store has one writer at a time; PostgreSQL
//!   locks each row a write transaction reads, see docs/POSTGRES.md).
//! * Each write operation checks NOT NULL, UNIQUE and FOREIGN KEY before it
//!   changes anything and fails with [`Error::Unique`],
//!   [`Error::ForeignKey`],
//!   [`Error::NotNull`] or
//!   [`Error::Referenced`]; a failed operation
//!   leaves the transaction as it was before that operation.
//! * Scans return rows in key order (index columns, then primary key),
//!   comparing values as SQLite does: NULL first, numbers by value, text
//!   and blobs bytewise.

use super::codec::Extras;
use super::def::{IndexDef, Row, TableDef};
use super::handle::{Index, KeyOf, PrefixOf};
use super::keys::{self, IntoKey, RawKey};
use super::range::{KeyRange, Page};
use super::value::ValueRef;
use crate::error::{Error, Result};
use std::path::Path;

/// Visits `(encoded primary key, stored row)`; returns `false` to stop.
pub type RowVisitor<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<bool>;

/// Takes `(encoded primary key, stored row)` of the one row a lookup found.
pub type FoundRow<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<()>;

/// Untyped reads: what a backend implements for snapshots and transactions.
pub trait RowSource {
    /// What errors name: the file, or the redacted server and schema.
    fn origin(&self) -> &Path;

    /// The stored row with this encoded primary key, handed to `f`.
    /// Returns whether there was one.
    fn row(
        &self,
        def: &'static TableDef,
        pk: &[u8],
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool>;

    /// The encoded primary key of the row whose unique index `idx` has
    /// this encoded key.
    fn unique(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>>;

    /// The stored row whose unique index `idx` has this encoded key,
    /// handed to `f` with its encoded primary key. Returns whether there
    /// was one (an entry pointing at no row counts as none, as
    /// [`unique`](Self::unique) then [`row`](Self::row) would).
    ///
    /// The default is exactly that pair of calls; a backend that can do
    /// both in one step overrides it (the embedded store: one table open
    /// serves the index entry and the row).
    fn unique_row(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
        f: FoundRow<'_>,
    ) -> Result<bool> {
        match self.unique(def, idx, key)? {
            Some(pk) => self.row(def, &pk, &mut |bytes| f(&pk, bytes)),
            None => Ok(false),
        }
    }

    /// The stored rows of those of `pks` (encoded primary keys) that
    /// exist, each handed to `f` with its key, in no particular order; `f`
    /// returns `false` to stop. The default looks each key up; a backend
    /// that can fetch many in one statement overrides it (PostgreSQL: one
    /// round trip for the lot).
    fn rows_of(&self, def: &'static TableDef, pks: &[&[u8]], f: RowVisitor<'_>) -> Result<()> {
        for pk in pks {
            let mut go = true;
            self.row(def, pk, &mut |bytes| {
                go = f(pk, bytes)?;
                Ok(())
            })?;
            if !go {
                break;
            }
        }
        Ok(())
    }

    /// Rows in key order of `idx` (the primary key when `None`) within `range`.
    fn rows(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: RowVisitor<'_>,
    ) -> Result<()>;

    /// Encoded primary keys in key order of `idx` (or of the primary key)
    /// within `range`, without reading rows where the backend can avoid it.
    fn keys(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()>;

    /// Number of rows (of index entries of `idx`) within `range`.
    fn count(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
    ) -> Result<u64>;
}

/// Untyped writes: what a backend implements for write transactions.
pub trait RowSink: RowSource {
    /// Inserts a row given as column values; returns its encoded primary
    /// key. `check_types`: also check each value against its column's Rust
    /// type (values that did not come from a typed row).
    fn insert(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<Vec<u8>>;

    /// Replaces the row with the same primary key; [`Error::NotFound`] if none.
    fn update(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<()>;

    /// Inserts or replaces; returns true if a row was replaced.
    fn upsert(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
    ) -> Result<bool>;

    /// Deletes by encoded primary key, applying ON DELETE actions; returns
    /// false if there was no such row.
    fn delete(&mut self, def: &'static TableDef, pk: &[u8]) -> Result<bool>;

    /// The next AUTOINCREMENT id (never reused, even after deletes).
    fn next_id(&mut self, def: &'static TableDef) -> Result<i64>;

    /// Raises an AUTOINCREMENT sequence to at least `id`.
    fn raise_sequence_to(&mut self, def: &'static TableDef, id: i64) -> Result<()>;

    /// Turns foreign-key checks and actions on or off for the rest of the
    /// transaction (the importer keeps the dangling references legacy files hold).
    fn set_foreign_keys(&mut self, on: bool) -> Result<()>;
}

/// The one read surface, for read snapshots and write transactions alike.
pub trait Read {
    /// The untyped layer underneath.
    fn source(&self) -> &dyn RowSource;

    /// A row by primary key.
    fn get<R: Row>(&self, key: impl IntoKey) -> Result<Option<R>> {
        let pk = key.to_key();
        let mut out = None;
        self.source().row(R::DEF, &pk, &mut |bytes| {
            out = Some(R::decode(&pk, bytes)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// A row by a unique index.
    fn get_by<R: Row, K>(&self, index: Index<R, K>, key: impl KeyOf<K>) -> Result<Option<R>> {
        let idx = unique_index(R::DEF, index.def())?;
        let mut out = None;
        self.source()
            .unique_row(R::DEF, idx, &key.to_key(), &mut |pk, bytes| {
                out = Some(R::decode(pk, bytes)?);
                Ok(())
            })?;
        Ok(out)
    }

    /// Rows in primary-key order within `range`.
    fn scan<R: Row>(&self, range: KeyRange, page: Page) -> Result<Vec<R>> {
        collect(self.source(), None, &range, page)
    }

    /// Rows in index order within `range` of the index's columns.
    fn scan_index<R: Row, K>(
        &self,
        index: Index<R, K>,
        range: KeyRange,
        page: Page,
    ) -> Result<Vec<R>> {
        collect(self.source(), Some(index.def()), &range, page)
    }

    /// Rows whose index columns start with `prefix`, in index order.
    fn find<R: Row, K>(
        &self,
        index: Index<R, K>,
        prefix: impl PrefixOf<K>,
        page: Page,
    ) -> Result<Vec<R>> {
        let range = KeyRange::prefix(RawKey(&prefix.to_prefix()));
        collect(self.source(), Some(index.def()), &range, page)
    }

    /// Visits rows in order of `idx` (of the primary key when `None`)
    /// within `range`; the callback returns `false` to stop.
    fn each<R: Row>(
        &self,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(R) -> Result<bool>,
    ) -> Result<()> {
        self.source()
            .rows(R::DEF, idx, range, page, &mut |pk, bytes| {
                f(R::decode(pk, bytes)?)
            })
    }

    /// Encoded primary keys of the rows within `range` of an index, in
    /// index order (for deleting them in the same transaction).
    fn keys_in<R: Row, K>(&self, index: Index<R, K>, range: &KeyRange) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.source().keys(
            R::DEF,
            Some(index.def()),
            range,
            Page::default(),
            &mut |pk| {
                out.push(pk.to_vec());
                Ok(true)
            },
        )?;
        Ok(out)
    }

    /// Number of rows in the table.
    fn count<R: Row>(&self) -> Result<u64> {
        self.source().count(R::DEF, None, &KeyRange::all())
    }

    /// Number of rows within `range` of an index.
    fn count_index<R: Row, K>(&self, index: Index<R, K>, range: KeyRange) -> Result<u64> {
        self.source().count(R::DEF, Some(index.def()), &range)
    }
}

fn collect<R: Row>(
    src: &dyn RowSource,
    idx: Option<&'static IndexDef>,
    range: &KeyRange,
    page: Page,
) -> Result<Vec<R>> {
    let mut out = Vec::with_capacity(page.limit.unwrap_or(0).min(1024));
    src.rows(R::DEF, idx, range, page, &mut |pk, bytes| {
        out.push(R::decode(pk, bytes)?);
        Ok(true)
    })?;
    Ok(out)
}

/// `idx` if it is unique; a lookup of one row needs a unique index.
pub fn unique_index<'d>(def: &TableDef, idx: &'d IndexDef) -> Result<&'d IndexDef> {
    if !idx.unique {
        return Err(Error::InvalidArgument(format!(
            "index {} on {} is not unique; use a scan",
            idx.name, def.name
        )));
    }
    Ok(idx)
}

/// The error of a dangling index entry (one that points at no row).
pub fn dangling(def: &'static TableDef, idx: &IndexDef, pk: &[u8]) -> Error {
    Error::Corrupt {
        table: def.name,
        key: keys::render(pk),
        what: format!("index {} points at a missing row", idx.name),
    }
}

/// Checks a row given as values before a write: the column count, NOT
/// NULL, and (`check_types`) each value against its column's Rust type.
pub fn check_row(def: &'static TableDef, vals: &[ValueRef<'_>], check_types: bool) -> Result<()> {
    if vals.len() != def.columns.len() {
        return Err(Error::InvalidArgument(format!(
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

/// The UNIQUE violation of `vals` on the columns `cols` of `def`.
pub fn unique_error(def: &'static TableDef, cols: &[usize], vals: &[ValueRef<'_>]) -> Error {
    Error::Unique {
        table: def.name,
        columns: def.column_list(cols),
        value: keys::render(&keys::encode(cols.iter().map(|&c| vals[c]))),
        existing: None,
    }
}
