//! Reads from one MVCC snapshot: gets by primary key and unique index,
//! range and prefix scans on any index, pagination and counts.

use super::codec::Extras;
use super::def::{IndexDef, Row, TableDef};
use super::handle::{Index, KeyOf, PrefixOf};
use super::keys::{self, IntoKey, RawKey};
use super::value::Value;
use super::write::{COUNT_KEY, ROWS, index_suffix, raw_def, read_count, spaced, unique_index};
use crate::error::{Error, Result};
use std::ops::Bound;
use std::path::PathBuf;

/// A read-only raw table (rows, index entries and metadata of one declared table).
pub type RoTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A range of encoded keys. Build it from values with the constructors; the
/// bounds compare whole column values even inside composite index keys.
#[derive(Debug, Clone)]
pub struct KeyRange {
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Everything.
    pub fn all() -> Self {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// Keys whose leading columns equal `prefix`.
    pub fn prefix(prefix: impl IntoKey) -> Self {
        let p = prefix.to_key();
        let end = match keys::prefix_end(&p) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        KeyRange {
            start: Bound::Included(p),
            end,
        }
    }

    /// Keys whose leading columns lie between `lo` and `hi`.
    pub fn between<K: IntoKey>(lo: Bound<K>, hi: Bound<K>) -> Self {
        let start = match lo {
            Bound::Included(k) => Bound::Included(k.to_key()),
            Bound::Excluded(k) => match keys::prefix_end(&k.to_key()) {
                Some(e) => Bound::Included(e),
                None => Bound::Excluded(vec![0xFF; 16]),
            },
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match hi {
            Bound::Included(k) => match keys::prefix_end(&k.to_key()) {
                Some(e) => Bound::Excluded(e),
                None => Bound::Unbounded,
            },
            Bound::Excluded(k) => Bound::Excluded(k.to_key()),
            Bound::Unbounded => Bound::Unbounded,
        };
        KeyRange { start, end }
    }

    /// A range of already-encoded keys.
    pub fn from_bounds(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Self {
        KeyRange { start, end }
    }

    /// The range inside one key space of a table (see [`write`](super::write)).
    pub fn within(&self, space: u8) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let start = match &self.start {
            Bound::Included(k) => Bound::Included(spaced(space, k)),
            Bound::Excluded(k) => Bound::Excluded(spaced(space, k)),
            Bound::Unbounded => Bound::Included(vec![space]),
        };
        let end = match &self.end {
            Bound::Included(k) => Bound::Included(spaced(space, k)),
            Bound::Excluded(k) => Bound::Excluded(spaced(space, k)),
            Bound::Unbounded if space == u8::MAX => Bound::Unbounded,
            Bound::Unbounded => Bound::Excluded(vec![space + 1]),
        };
        (start, end)
    }
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Which rows of a scan to return.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    /// Rows to skip.
    pub offset: usize,
    /// At most this many rows (`None` = all).
    pub limit: Option<usize>,
    /// Newest/largest first.
    pub reverse: bool,
}

impl Page {
    /// The first `limit` rows.
    pub fn first(limit: usize) -> Self {
        Page {
            limit: Some(limit),
            ..Page::default()
        }
    }

    /// Same page, largest keys first.
    pub fn reversed(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// Same page, skipping `offset` rows.
    pub fn skip(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }
}

/// A read snapshot. Cheap to create; hold it only as long as needed, since
/// a live snapshot keeps old pages from being reused.
pub struct Reader {
    txn: redb::ReadTransaction,
    path: PathBuf,
}

impl Reader {
    pub(crate) fn new(txn: redb::ReadTransaction, path: PathBuf) -> Self {
        Reader { txn, path }
    }

    /// The redb snapshot itself (for whole-file operations such as backup).
    pub(crate) fn txn(&self) -> &redb::ReadTransaction {
        &self.txn
    }

    fn st(&self, e: impl std::fmt::Display) -> Error {
        Error::storage(&self.path, e)
    }

    /// Opens a primary or index table by its redb name.
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

    /// A row by primary key.
    pub fn get<R: Row>(&self, key: impl IntoKey) -> Result<Option<R>> {
        let t = self.raw_table(R::DEF.name)?;
        let pk = key.to_key();
        self.get_in(&t, &pk)
    }

    fn get_in<R: Row>(&self, t: &RoTable, pk: &[u8]) -> Result<Option<R>> {
        let found = t.get(spaced(ROWS, pk).as_slice()).map_err(|e| self.st(e))?;
        match found {
            Some(g) => R::decode(pk, g.value()).map(Some),
            None => Ok(None),
        }
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

    /// A row by a unique index.
    pub fn get_by<R: Row, K>(&self, index: Index<R, K>, key: impl KeyOf<K>) -> Result<Option<R>> {
        let idx = unique_index(R::DEF, index.def())?;
        let t = self.raw_table(R::DEF.name)?;
        let mut k = vec![idx.space];
        key.encode_key(&mut k);
        let found = t.get(k.as_slice()).map_err(|e| self.st(e))?;
        match found {
            Some(pk) => self.get_in(&t, pk.value()),
            None => Ok(None),
        }
    }

    /// Rows in primary-key order within `range`.
    pub fn scan<R: Row>(&self, range: KeyRange, page: Page) -> Result<Vec<R>> {
        let mut out = Vec::new();
        self.scan_raw(R::DEF, &range, page, |k, v| {
            out.push(R::decode(k, v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Rows in index order within `range` of the index's columns.
    pub fn scan_index<R: Row, K>(
        &self,
        index: Index<R, K>,
        range: KeyRange,
        page: Page,
    ) -> Result<Vec<R>> {
        let idx = index.def();
        let mut out = Vec::new();
        self.index_rows::<R>(idx, &range, page, |row| {
            out.push(row);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Visits the rows of an index range in index order; covering indexes
    /// are read without touching the rows. The callback returns `false` to stop.
    pub fn index_rows<R: Row>(
        &self,
        idx: &IndexDef,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(R) -> Result<bool>,
    ) -> Result<()> {
        let def = R::DEF;
        let t = self.raw_table(def.name)?;
        let ncols = idx.columns.len();
        self.scan_in(&t, range.within(idx.space), page, |k, v| {
            if idx.unique {
                return f(self.row_for_index::<R>(&t, idx, v)?);
            }
            let pk = index_suffix(def.name, idx, k, ncols)?;
            if idx.covering {
                f(R::decode(pk, v)?)
            } else {
                f(self.row_for_index::<R>(&t, idx, pk)?)
            }
        })
    }

    /// The row an index entry points at; a dangling entry is corruption.
    pub fn row_for_index<R: Row>(&self, t: &RoTable, idx: &IndexDef, pk: &[u8]) -> Result<R> {
        self.get_in(t, pk)?.ok_or_else(|| Error::Corrupt {
            table: R::DEF.name,
            key: keys::render(pk),
            what: format!("index {} points at a missing row", idx.name),
        })
    }

    /// Rows whose index columns start with `prefix`.
    pub fn find<R: Row, K>(
        &self,
        index: Index<R, K>,
        prefix: impl PrefixOf<K>,
        page: Page,
    ) -> Result<Vec<R>> {
        self.scan_index(index, KeyRange::prefix(RawKey(&prefix.to_prefix())), page)
    }

    /// Number of rows in the table (O(1): a counter kept by every write).
    pub fn count<R: Row>(&self) -> Result<u64> {
        self.count_rows(R::DEF)
    }

    /// Number of rows of a table.
    pub fn count_rows(&self, def: &TableDef) -> Result<u64> {
        let t = self.raw_table(def.name)?;
        let found = t.get(COUNT_KEY).map_err(|e| self.st(e))?;
        match found {
            None => Ok(0),
            Some(b) => read_count(b.value()).ok_or_else(|| Error::Corrupt {
                table: def.name,
                key: "row count".into(),
                what: format!("expected 8 bytes, found {}", b.value().len()),
            }),
        }
    }

    /// Number of index entries within `range`.
    pub fn count_index<R: Row, K>(&self, index: Index<R, K>, range: KeyRange) -> Result<u64> {
        let idx = index.def();
        let mut n = 0;
        self.index_entries(R::DEF, idx, &range, Page::default(), |_| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    /// Visits raw `(primary key, stored row)` pairs of a table in key order.
    /// The callback returns `false` to stop.
    pub fn scan_raw(
        &self,
        def: &TableDef,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.scan_space(def.name, range.within(ROWS), page, |k, v| f(&k[1..], v))
    }

    /// Visits the primary keys of an index's entries within `range`.
    pub fn index_entries(
        &self,
        def: &TableDef,
        idx: &IndexDef,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        let ncols = idx.columns.len();
        self.scan_space(def.name, range.within(idx.space), page, |k, v| {
            if idx.unique {
                f(v)
            } else {
                f(index_suffix(def.name, idx, k, ncols)?)
            }
        })
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
}
