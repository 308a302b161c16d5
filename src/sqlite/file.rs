//! Opening a database: the main file, its `-wal` and `-journal` (fileformat2 §1
//! "The Database File", §3 "The Rollback Journal", §4 "The Write-Ahead Log";
//! howtocorrupt §1–2 on reading a live database).
//!
//! Files are opened read-only. Open reads the header and indexes the WAL's committed
//! frames; pages are read later, on demand (see [`super::pager`]), and a database
//! that fits the page cache is read whole at open. Open records the files' state
//! ([`FileGuard`]) first and checks it again at the end: a change in between (WAL
//! reset, checkpoint of newer commits, write to a rollback database) or a hot journal
//! appearing makes open retry (three times, then [`SqliteError::Unstable`]). Nothing
//! is ever written: no `-shm`, no checkpoint, no rollback.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::cursor::TreeCursor;
use super::error::{Result, SqliteError};
use super::freelist::{self, FreelistInfo};
use super::header::DbHeader;
use super::journal;
use super::pager::{CacheStats, DEFAULT_CACHE_BYTES, Pager, Sources};
use super::rows::{RowPlan, Rows};
use super::schema::{self, IndexInfo, SchemaEntry, TableInfo, TableKind};
use super::snapshot::FileGuard;
use super::source::ReadAt;
use super::value::ValueRef;
use super::wal::WalState;

/// A read-only SQLite database: its header and WAL index in memory, pages read on
/// demand through a bounded cache.
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

fn open_optional(path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SqliteError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_prefix(path: &Path, n: usize) -> Result<Option<Vec<u8>>> {
    let Some(f) = open_optional(path)? else {
        return Ok(None);
    };
    let mut v = Vec::with_capacity(n);
    f.take(n as u64)
        .read_to_end(&mut v)
        .map_err(|source| SqliteError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Some(v))
}

fn check_journal(journal_path: &Path) -> Result<()> {
    if let Some(j) = read_prefix(journal_path, 8)?
        && journal::is_hot(&j)
    {
        return Err(SqliteError::HotJournal {
            path: journal_path.to_path_buf(),
        });
    }
    Ok(())
}

/// Give errors from building the pager the right file name.
fn name_errors(e: SqliteError, path: &Path, wal_path: &Path) -> SqliteError {
    match e {
        SqliteError::NotADatabase { reason, .. } => SqliteError::NotADatabase {
            path: path.to_path_buf(),
            reason,
        },
        SqliteError::WalRejected { reason, .. } => SqliteError::WalRejected {
            path: wal_path.to_path_buf(),
            reason,
        },
        e => e.with_path(path),
    }
}

impl SqliteFile {
    /// Open `path` read-only, with its `-wal` (if any), refusing a hot `-journal`, with
    /// a page cache of [`DEFAULT_CACHE_BYTES`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteFile> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`SqliteFile::open`] with a page cache of about `cache_bytes` (at least
    /// [`super::pager::MIN_CACHE_PAGES`] pages). A database no larger than the cache is
    /// read whole at open.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<SqliteFile> {
        let path = path.as_ref();
        let wal_path = sidecar(path, "-wal");
        let journal_path = sidecar(path, "-journal");
        let mut last_reason = String::new();
        for _attempt in 0..3 {
            check_journal(&journal_path)?;
            let main = File::open(path).map_err(|source| SqliteError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let wal = open_optional(&wal_path)?;
            let guard = FileGuard::capture(path, &main, &wal_path, wal.as_ref())?;
            let sources = Sources {
                main_len: guard.main_len(),
                main: Box::new(main),
                wal: wal
                    .zip(guard.wal_len())
                    .map(|(f, n)| (Box::new(f) as Box<dyn ReadAt>, n)),
                main_path: path.to_path_buf(),
                wal_path: wal_path.clone(),
                validator: Some(Box::new(guard.clone())),
            };
            let opened = Pager::open(sources, cache_bytes).and_then(|p| {
                check_journal(&journal_path)?;
                p.finish_open()?;
                Ok(p)
            });
            match opened {
                Ok(pager) => {
                    return Ok(SqliteFile {
                        path: path.to_path_buf(),
                        pager,
                    });
                }
                Err(SqliteError::Changed { what, .. }) => last_reason = what,
                // A torn read during open shows up as corruption: retry if the files moved.
                Err(e) => match guard.check() {
                    Err(SqliteError::Changed { what, .. }) => last_reason = what,
                    _ => return Err(name_errors(e, path, &wal_path)),
                },
            }
        }
        Err(SqliteError::Unstable {
            path: path.to_path_buf(),
            reason: last_reason,
        })
    }

    /// Read a database from bytes (main file and optional `-wal`), for tests and fuzzing.
    pub fn from_bytes(main: Vec<u8>, wal: Option<Vec<u8>>) -> Result<SqliteFile> {
        let pager =
            Pager::new(main, wal).map_err(|e| name_errors(e, Path::new(""), Path::new("-wal")))?;
        Ok(SqliteFile {
            path: PathBuf::new(),
            pager,
        })
    }

    /// Memory use of the page cache: bytes of pages resident now and at most, against
    /// the cache's bound (see [`CacheStats`]).
    pub fn cache_stats(&self) -> CacheStats {
        self.pager.cache_stats()
    }

    /// Bytes of page buffers alive now (cache plus pages held by live scans).
    pub fn resident_bytes(&self) -> u64 {
        self.pager.cache_stats().resident_bytes
    }

    /// Check that the files still hold the snapshot taken at open. Every scan does
    /// this when it ends and every [`super::pager::CHECK_EVERY_MISSES`] cache misses;
    /// call it to check at another moment.
    pub fn validate(&self) -> Result<()> {
        self.ctx(self.pager.validate())
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
