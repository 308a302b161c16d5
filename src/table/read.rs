//! Reads from one MVCC snapshot: gets by primary key and unique index,
//! range and prefix scans on any index, pagination and counts.

use super::def::{IndexDef, Row, TableDef};
use super::keys::{self, IntoKey, RawKey};
use super::write::{find_unique_index, raw_def};
use crate::error::{Error, Result};
use redb::ReadableTableMetadata;
use std::ops::Bound;
use std::path::PathBuf;

type RoTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

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

    pub(crate) fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (as_slice(&self.start), as_slice(&self.end))
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
        let found = t.get(pk.as_slice()).map_err(|e| self.st(e))?;
        match found {
            Some(g) => R::decode(&pk, g.value()).map(Some),
            None => Ok(None),
        }
    }

    /// A row by a unique index.
    pub fn get_by<R: Row>(&self, index: &str, key: impl IntoKey) -> Result<Option<R>> {
        let idx = find_unique_index(R::DEF, index)?;
        let t = self.raw_table(idx.redb_name)?;
        let k = key.to_key();
        let found = t.get(k.as_slice()).map_err(|e| self.st(e))?;
        match found {
            Some(pk) => self.get::<R>(RawKey(pk.value())),
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
    pub fn scan_index<R: Row>(&self, index: &str, range: KeyRange, page: Page) -> Result<Vec<R>> {
        let idx = R::DEF.index(index)?;
        let primary = self.raw_table(R::DEF.name)?;
        let mut out = Vec::new();
        self.index_entries(R::DEF, idx, &range, page, |pk| {
            let row = primary
                .get(pk)
                .map_err(|e| self.st(e))?
                .ok_or_else(|| Error::Corrupt {
                    table: R::DEF.name,
                    key: keys::render(pk),
                    what: format!("index {} points at a missing row", idx.name),
                })?;
            out.push(R::decode(pk, row.value())?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Rows whose index columns start with `prefix`.
    pub fn find<R: Row>(&self, index: &str, prefix: impl IntoKey, page: Page) -> Result<Vec<R>> {
        self.scan_index(index, KeyRange::prefix(prefix), page)
    }

    /// Number of rows in the table (O(1)).
    pub fn count<R: Row>(&self) -> Result<u64> {
        let t = self.raw_table(R::DEF.name)?;
        t.len().map_err(|e| self.st(e))
    }

    /// Number of index entries within `range`.
    pub fn count_index<R: Row>(&self, index: &str, range: KeyRange) -> Result<u64> {
        let idx = R::DEF.index(index)?;
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
        let t = self.raw_table(def.name)?;
        let iter = t.range::<&[u8]>(range.bounds()).map_err(|e| self.st(e))?;
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

    /// Visits the primary keys of an index's entries within `range`.
    pub fn index_entries(
        &self,
        def: &TableDef,
        idx: &IndexDef,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        let t = self.raw_table(idx.redb_name)?;
        let iter = t.range::<&[u8]>(range.bounds()).map_err(|e| self.st(e))?;
        let iter: Box<dyn Iterator<Item = _>> = if page.reverse {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        };
        let limit = page.limit.unwrap_or(usize::MAX);
        for entry in iter.skip(page.offset).take(limit) {
            let (k, v) = entry.map_err(|e| self.st(e))?;
            let go = if idx.unique {
                f(v.value())?
            } else {
                let key = k.value();
                let at = keys::prefix_len(key, idx.columns.len()).map_err(|e| Error::Corrupt {
                    table: def.name,
                    key: format!("index {} entry of {} bytes", idx.name, key.len()),
                    what: format!("expected {} at byte {}", e.what, e.offset),
                })?;
                f(&key[at..])?
            };
            if !go {
                break;
            }
        }
        Ok(())
    }
}
