//! Opening a database: the main file, its `-wal` and `-journal` (fileformat2 §1
//! "The Database File", §3 "The Rollback Journal", §4 "The Write-Ahead Log";
//! howtocorrupt §1–2 on copying a live database).
//!
//! Files are opened read-only and copied into memory at open, WAL *after* the main
//! file: while the WAL's salts stay the same, any page a checkpoint writes into the
//! main file during the copy is also in the copied WAL, so the view is one committed
//! snapshot. A WAL reset (new salts) or a hot journal appearing during the copy makes
//! the copy retry (three times, then [`SqliteError::Unstable`]). Nothing is ever
//! written: no `-shm`, no checkpoint, no rollback.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::cursor::TreeCursor;
use super::error::{Result, SqliteError};
use super::freelist::{self, FreelistInfo};
use super::header::DbHeader;
use super::journal;
use super::pager::Pager;
use super::rows::{RowPlan, Rows};
use super::schema::{self, IndexInfo, SchemaEntry, TableInfo, TableKind};
use super::value::ValueRef;
use super::wal::{self, WalState};

/// A read-only SQLite database held in memory.
#[derive(Debug)]
pub struct SqliteFile {
    path: PathBuf,
    pager: Pager,
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(mut f) => {
            let mut v = Vec::new();
            f.read_to_end(&mut v).map_err(|source| SqliteError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(Some(v))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SqliteError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_prefix(path: &Path, n: usize) -> Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(f) => {
            let mut v = Vec::with_capacity(n);
            f.take(n as u64)
                .read_to_end(&mut v)
                .map_err(|source| SqliteError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            Ok(Some(v))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SqliteError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn meta(path: &Path) -> Option<(u64, Option<SystemTime>)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

impl SqliteFile {
    /// Open `path` read-only, with its `-wal` (if any), refusing a hot `-journal`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteFile> {
        let path = path.as_ref();
        let wal_path = sidecar(path, "-wal");
        let journal_path = sidecar(path, "-journal");
        let mut last_reason = String::new();
        for _attempt in 0..3 {
            let check_journal = || -> Result<()> {
                if let Some(j) = read_prefix(&journal_path, 8)?
                    && journal::is_hot(&j)
                {
                    return Err(SqliteError::HotJournal {
                        path: journal_path.clone(),
                    });
                }
                Ok(())
            };
            check_journal()?;
            let salts_before =
                read_prefix(&wal_path, wal::WAL_HEADER_SIZE)?.and_then(|h| wal::header_salts(&h));
            let main_meta = meta(path);
            let main = match File::open(path) {
                Ok(mut f) => {
                    let mut v = Vec::new();
                    f.read_to_end(&mut v).map_err(|source| SqliteError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                    v
                }
                Err(source) => {
                    return Err(SqliteError::Io {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            };
            let wal_bytes = read_optional(&wal_path)?;
            check_journal()?;
            let salts_after = wal_bytes.as_deref().and_then(wal::header_salts);
            let main_changed = meta(path) != main_meta;
            if salts_before != salts_after {
                last_reason = "the WAL was reset or created".into();
                continue;
            }
            if main_changed && salts_after.is_none() {
                last_reason = "the main file was modified".into();
                continue;
            }
            return Self::build(path, main, wal_bytes, &wal_path);
        }
        Err(SqliteError::Unstable {
            path: path.to_path_buf(),
            reason: last_reason,
        })
    }

    fn build(
        path: &Path,
        main: Vec<u8>,
        wal: Option<Vec<u8>>,
        wal_path: &Path,
    ) -> Result<SqliteFile> {
        let pager = Pager::new(main, wal).map_err(|e| match e {
            SqliteError::NotADatabase { reason, .. } => SqliteError::NotADatabase {
                path: path.to_path_buf(),
                reason,
            },
            SqliteError::WalRejected { reason, .. } => SqliteError::WalRejected {
                path: wal_path.to_path_buf(),
                reason,
            },
            e => e.with_path(path),
        })?;
        Ok(SqliteFile {
            path: path.to_path_buf(),
            pager,
        })
    }

    /// Read a database from bytes (main file and optional `-wal`), for tests and fuzzing.
    pub fn from_bytes(main: Vec<u8>, wal: Option<Vec<u8>>) -> Result<SqliteFile> {
        Self::build(Path::new(""), main, wal, Path::new("-wal"))
    }

    /// The database path ("" for [`SqliteFile::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ctx<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.with_path(&self.path))
    }

    /// Header facts, with the page count SQLite would use.
    pub fn header(&self) -> &DbHeader {
        self.pager.header()
    }

    /// What was found in the `-wal` and how much of it was applied.
    pub fn wal_state(&self) -> &WalState {
        self.pager.wal_state()
    }

    /// Every row of `sqlite_schema`.
    pub fn schema_entries(&self) -> Result<Vec<SchemaEntry>> {
        self.ctx(schema::read_entries(&self.pager))
    }

    /// All tables (including `sqlite_sequence` and `sqlite_stat*`), in schema order.
    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let entries = self.schema_entries()?;
        self.ctx(schema::tables(&entries, &self.pager))
    }

    /// One table by name (ASCII case-insensitive, as SQLite matches names).
    pub fn table(&self, name: &str) -> Result<TableInfo> {
        let entries = self.schema_entries()?;
        let e = entries
            .iter()
            .find(|e| e.kind == "table" && e.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| SqliteError::NoSuchTable(name.to_string()))?;
        self.ctx(schema::table_from_entry(e, &self.pager))
    }

    /// Parse one schema entry of type "table" (lets a caller skip a broken object).
    pub fn table_from_entry(&self, entry: &SchemaEntry) -> Result<TableInfo> {
        self.ctx(schema::table_from_entry(entry, &self.pager))
    }

    /// All indexes.
    pub fn indexes(&self) -> Result<Vec<IndexInfo>> {
        let entries = self.schema_entries()?;
        self.ctx(schema::indexes(&entries, &self.pager))
    }

    /// Stream the rows of `table` (see [`Rows::next_row`]). Errors during the scan carry
    /// page and offset but not the path; wrap them with [`SqliteError::with_path`].
    pub fn rows(&self, table: &TableInfo) -> Result<Rows<'_>> {
        let plan = self.ctx(RowPlan::for_table(table))?;
        Ok(Rows::new(&self.pager, table.root_page, plan))
    }

    /// Number of rows in `table`, counted from the b-tree without decoding records.
    pub fn row_count(&self, table: &TableInfo) -> Result<u64> {
        if table.kind == TableKind::Virtual {
            return Err(SqliteError::Unsupported(format!(
                "table {:?} is a virtual table",
                table.name
            )));
        }
        self.ctx(TreeCursor::new(&self.pager, table.root_page).count())
    }

    /// Walk and validate the freelist.
    pub fn freelist(&self) -> Result<FreelistInfo> {
        self.ctx(freelist::walk(&self.pager))
    }

    /// AUTOINCREMENT counters from `sqlite_sequence` (empty if the table does not exist).
    pub fn sqlite_sequence(&self) -> Result<Vec<(String, i64)>> {
        let t = match self.table("sqlite_sequence") {
            Ok(t) => t,
            Err(e) if matches!(e.root(), SqliteError::NoSuchTable(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut rows = self.rows(&t)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next_row() {
            let r = self.ctx(r)?;
            if let (ValueRef::Text(n), ValueRef::Integer(s)) = (r.get(0), r.get(1)) {
                out.push((String::from_utf8_lossy(n).into_owned(), s));
            }
        }
        Ok(out)
    }
}
