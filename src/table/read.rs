//! [`Reader`]: a read snapshot on any backend. Its typed reads are the
//! [`Read`] surface; the untyped helpers here serve whole-table tools
//! (verify, export, dump), and [`Reader::embedded`] reaches the redb
//! snapshot for those that only the embedded store has.

use super::api::{Read, RowSource};
use super::codec::Extras;
use super::def::{IndexDef, TableDef};
use super::embedded::read::{RoTable, Snapshot};
use super::range::{KeyRange, Page};
use super::value::Value;
use crate::error::{Error, Result};
use std::ops::Bound;
use std::sync::Arc;

/// A read snapshot. Cheap to create; hold it only as long as needed, since
/// a live snapshot keeps old pages from being reused (embedded) or a
/// pooled connection busy (PostgreSQL).
pub struct Reader {
    imp: Imp,
}

enum Imp {
    Embedded(Arc<Snapshot>),
    Other(Box<dyn RowSource + Send>),
}

impl Reader {
    pub(crate) fn new(txn: redb::ReadTransaction, path: std::path::PathBuf) -> Self {
        Reader {
            imp: Imp::Embedded(Arc::new(Snapshot::new(txn, path))),
        }
    }

    /// A reader over an embedded snapshot other readers may share.
    pub(crate) fn shared(snap: Arc<Snapshot>) -> Self {
        Reader {
            imp: Imp::Embedded(snap),
        }
    }

    /// A reader over another backend's snapshot.
    pub fn other(source: Box<dyn RowSource + Send>) -> Self {
        Reader {
            imp: Imp::Other(source),
        }
    }

    /// The embedded (redb) snapshot, for tools that read the file itself.
    pub fn embedded(&self) -> Result<&Snapshot> {
        match &self.imp {
            Imp::Embedded(s) => Ok(&**s),
            Imp::Other(s) => Err(Error::InvalidArgument(format!(
                "{}: this operation needs an embedded (redb) database",
                s.origin().display()
            ))),
        }
    }

    /// The redb snapshot itself (for whole-file operations such as backup).
    pub(crate) fn txn(&self) -> Result<&redb::ReadTransaction> {
        Ok(self.embedded()?.txn())
    }

    /// Opens a declared table's redb table by name (embedded store).
    pub fn raw_table(&self, name: &str) -> Result<RoTable> {
        self.embedded()?.raw_table(name)
    }

    /// A row's stored values and extras by encoded primary key, defaults
    /// filled for columns the row predates (what the importer compares).
    pub fn get_values(
        &self,
        t: &RoTable,
        def: &TableDef,
        pk: &[u8],
    ) -> Result<Option<(Vec<Value>, Extras)>> {
        self.embedded()?.get_values(t, def, pk)
    }

    /// Visits raw entries of a redb table within bounds (embedded store).
    pub fn scan_space(
        &self,
        name: &str,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        page: Page,
        f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.embedded()?.scan_space(name, bounds, page, f)
    }

    /// Visits `(encoded primary key, stored row)` pairs of a table in key
    /// order. The callback returns `false` to stop.
    pub fn scan_raw(
        &self,
        def: &'static TableDef,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.source().rows(def, None, range, page, &mut f)
    }

    /// Visits the encoded primary keys of an index's entries within `range`.
    pub fn index_entries(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        range: &KeyRange,
        page: Page,
        mut f: impl FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.source().keys(def, Some(idx), range, page, &mut f)
    }

    /// Number of rows of a table (O(1) in the embedded store: a counter
    /// kept by every write).
    pub fn count_rows(&self, def: &'static TableDef) -> Result<u64> {
        self.source().count(def, None, &KeyRange::all())
    }
}

impl Read for Reader {
    fn source(&self) -> &dyn RowSource {
        match &self.imp {
            Imp::Embedded(s) => &**s,
            Imp::Other(s) => s.as_ref(),
        }
    }
}
