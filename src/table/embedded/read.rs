//! Reads of the embedded store from one redb MVCC snapshot.

use super::super::api::{FoundRow, RowSource, RowVisitor, dangling};
use super::super::codec::Extras;
use super::super::def::{IndexDef, TableDef};
use super::super::layout::{
    COUNT_KEY, ROWS, entry_parts, probe, raw_def, spaced, stored_count, unique_entry,
};
use super::super::range::{KeyRange, Page};
use super::super::value::Value;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A read-only raw table (rows, index entries and metadata of one declared table).
pub type RoTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A redb read snapshot of one file.
///
/// The redb tables it opens for typed reads stay open for its lifetime:
/// opening one walks redb's table tree by name, so a snapshot that serves
/// many lookups (or one shared by [`Database::read`](crate::Database::read)
/// until the next commit) pays for it once per table.
pub struct Snapshot {
    txn: redb::ReadTransaction,
    path: PathBuf,
    /// Tables opened so far, by declared name (a handful per file).
    tables: Mutex<Vec<(&'static str, Arc<RoTable>)>>,
}

/// Keys up to this length are spaced on the stack, not in a fresh vector.
const STACK_KEY: usize = 128;

/// Runs `f` on `space ++ key` without allocating for keys of usual length.
fn with_spaced<T>(space: u8, key: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let mut buf = [0u8; STACK_KEY];
    match buf.get_mut(1..=key.len()) {
        Some(tail) => {
            tail.copy_from_slice(key);
            buf[0] = space;
            f(&buf[..=key.len()])
        }
        None => f(&spaced(space, key)),
    }
}

impl Snapshot {
    pub(crate) fn new(txn: redb::ReadTransaction, path: PathBuf) -> Self {
        Snapshot {
            txn,
            path,
            tables: Mutex::new(Vec::new()),
        }
    }

    /// A declared table's redb table, opened once per snapshot.
    fn table(&self, name: &'static str) -> Result<Arc<RoTable>> {
        let mut open = self.tables.lock();
        if let Some((_, t)) = open.iter().find(|(n, _)| *n == name) {
            return Ok(Arc::clone(t));
        }
        let t = Arc::new(self.raw_table(name)?);
        open.push((name, Arc::clone(&t)));
        Ok(t)
    }

    /// The redb snapshot itself (for whole-file operations such as backup).
    pub(crate) fn txn(&self) -> &redb::ReadTransaction {
        &self.txn
    }

    fn st(&self, e: impl Into<redb::Error>) -> Error {
        Error::storage(&self.path, e)
    }

    /// Opens a declared table's redb table by name.
    pub fn raw_table(&self, name: &str) -> Result<RoTable> {
        self.txn.open_table(raw_def(name)).map_err(|e| match e {
            redb::TableError::TableDoesNotExist(_) => Error::Unknown {
                kind: "table",
                name: name.to_string(),
                hint: format!(" in {}", self.path.display()),
            },
            other => self.st(other),
        })
    }

    /// A row's stored values and extras by encoded primary key, defaults
    /// filled for columns the row predates (what the importer compares).
    pub fn get_values(
        &self,
        t: &RoTable,
        def: &TableDef,
        pk: &[u8],
    ) -> Result<Option<(Vec<Value>, Extras)>> {
        let found = t.get(spaced(ROWS, pk).as_slice()).map_err(|e| self.st(e))?;
        match found {
            Some(g) => def.decode_values(pk, g.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Visits raw entries of a redb table within bounds.
    pub fn scan_space(
        &self,
        name: &str,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        page: Page,
        f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let t = self.raw_table(name)?;
        self.scan_in(&t, bounds, page, f)
    }

    fn scan_in(
        &self,
        t: &RoTable,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        page: Page,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let iter = t
            .range::<&[u8]>((as_slice(&bounds.0), as_slice(&bounds.1)))
            .map_err(|e| self.st(e))?;
        let iter: Box<dyn Iterator<Item = _>> = if page.reverse {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        };
        let limit = page.limit.unwrap_or(usize::MAX);
        for entry in iter.skip(page.offset).take(limit) {
            let (k, v) = entry.map_err(|e| self.st(e))?;
            if !f(k.value(), v.value())? {
                break;
            }
        }
        Ok(())
    }

    fn row_in(
        &self,
        t: &RoTable,
        pk: &[u8],
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        let found = with_spaced(ROWS, pk, |k| t.get(k)).map_err(|e| self.st(e))?;
        match found {
            Some(g) => f(g.value()).map(|()| true),
            None => Ok(false),
        }
    }
}

impl RowSource for Snapshot {
    fn origin(&self) -> &Path {
        &self.path
    }

    fn row(
        &self,
        def: &'static TableDef,
        pk: &[u8],
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        let t = self.table(def.name)?;
        self.row_in(&t, pk, f)
    }

    fn unique(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let t = self.table(def.name)?;
        let key = probe(def, idx, key);
        let found = with_spaced(idx.space, &key, |k| t.get(k)).map_err(|e| self.st(e))?;
        match found {
            Some(g) => Ok(Some(unique_entry(def, idx, g.value())?.0.to_vec())),
            None => Ok(None),
        }
    }

    fn unique_row(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
        f: FoundRow<'_>,
    ) -> Result<bool> {
        let t = self.table(def.name)?;
        let key = probe(def, idx, key);
        let found = with_spaced(idx.space, &key, |k| t.get(k)).map_err(|e| self.st(e))?;
        match found {
            Some(entry) => match unique_entry(def, idx, entry.value())? {
                // Covering: the entry holds the row, one B-tree walk.
                (pk, Some(row)) => f(pk, row).map(|()| true),
                (pk, None) => self.row_in(&t, pk, &mut |row| f(pk, row)),
            },
            None => Ok(false),
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
        let t = self.table(def.name)?;
        let Some(idx) = idx else {
            return self.scan_in(&t, range.within(ROWS), page, |k, v| f(&k[1..], v));
        };
        self.scan_in(&t, range.within_index(def, idx), page, |k, v| {
            let (pk, copy) = entry_parts(def, idx, k, v)?;
            if let Some(row) = copy {
                return f(pk, row);
            }
            let mut go = true;
            if !self.row_in(&t, pk, &mut |row| {
                go = f(pk, row)?;
                Ok(())
            })? {
                return Err(dangling(def, idx, pk));
            }
            Ok(go)
        })
    }

    fn keys(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        let Some(idx) = idx else {
            let t = self.table(def.name)?;
            return self.scan_in(&t, range.within(ROWS), page, |k, _| f(&k[1..]));
        };
        let t = self.table(def.name)?;
        self.scan_in(&t, range.within_index(def, idx), page, |k, v| {
            f(entry_parts(def, idx, k, v)?.0)
        })
    }

    fn count(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
    ) -> Result<u64> {
        if idx.is_none() && range.is_all() {
            let t = self.table(def.name)?;
            let found = t.get(COUNT_KEY).map_err(|e| self.st(e))?;
            return match found {
                None => Ok(0),
                Some(b) => stored_count(def.name, "row count", b.value()),
            };
        }
        let bounds = match idx {
            Some(idx) => range.within_index(def, idx),
            None => range.within(ROWS),
        };
        let mut n = 0;
        let t = self.table(def.name)?;
        self.scan_in(&t, bounds, Page::default(), |_, _| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }
}

pub(crate) fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
