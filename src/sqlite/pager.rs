//! Pages of the database as SQLite's pager sees them (fileformat2 §1.1 "Pages",
//! §1.3.6 "In-header database size", §1.4 "The Lock-Byte Page", §1.5 "The Freelist"
//! pointer rules, §1.8 "Pointer Map or Ptrmap Pages"; WAL overlay per §4.4 "Reader
//! Algorithm").
//!
//! Page `P` is read from the newest committed WAL frame for `P`, else from the main
//! file; a page inside the database but past the end of the main file reads as zeros,
//! as SQLite's short-read rule does. Pages are read on demand (positioned reads of
//! one page, or one WAL frame with its header) into a [`PageCache`] of a fixed number
//! of pages; the only other per-database memory is the WAL index (page number →
//! frame offset, one entry per distinct committed page). Memory after open is thus
//! O(cache + WAL index), whatever the file size. When misses are sequential, up to
//! [`READ_AHEAD_PAGES`] main-file pages are read with one call (through a transient
//! buffer of that size) and the followers cached.
//!
//! Databases that fit the cache are read whole by [`Pager::finish_open`] and never
//! touch the files again. For the others, [`Pager::validate`] asks the [`Validator`]
//! (for files: [`super::snapshot::FileGuard`]) whether the snapshot still holds; it
//! runs when a scan ends, every [`CHECK_EVERY_MISSES`] cache misses, and before any
//! error is reported ([`Pager::explain`]), since a concurrent write can look like
//! corruption.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::cache::{PageCache, Residency};
use super::error::{Result, SqliteError};
use super::header::{self, DbHeader, HEADER_SIZE, MAGIC};
use super::source::ReadAt;
use super::wal::{self, WalState};

/// Byte offset of the lock-byte page (1 GiB); the page holding it is never used.
const PENDING_BYTE: u64 = 0x4000_0000;

/// Default page cache size in bytes.
pub const DEFAULT_CACHE_BYTES: usize = 8 << 20;

/// The cache always holds at least this many pages, whatever the byte budget.
pub const MIN_CACHE_PAGES: usize = 32;

/// Pages read at once from the main file when reads are sequential.
pub const READ_AHEAD_PAGES: u32 = 16;

/// Cache misses between two consistency checks of the files (see [`Validator`]).
pub const CHECK_EVERY_MISSES: u64 = 256;

/// Decides whether the files still hold the snapshot taken at open.
pub trait Validator: fmt::Debug + Send + Sync {
    /// `Ok` if every page read so far, and every page still to be read, belongs to the
    /// open-time snapshot; else [`SqliteError::Changed`] naming the file.
    fn check(&self) -> Result<()>;
}

/// What the pager reads from.
#[derive(Debug)]
pub struct Sources {
    /// The main database file.
    pub main: Box<dyn ReadAt>,
    /// Its length in bytes (pages past it read as zeros).
    pub main_len: u64,
    /// The `-wal` and its length, if there is one.
    pub wal: Option<(Box<dyn ReadAt>, u64)>,
    /// Names used in I/O and change errors ("" for in-memory input).
    pub main_path: PathBuf,
    /// Name of the WAL in errors.
    pub wal_path: PathBuf,
    /// Consistency check for files that can change under the reader.
    pub validator: Option<Box<dyn Validator>>,
}

/// Memory use of the page cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// The cache's bound in bytes (pages × page size).
    pub capacity_bytes: u64,
    /// Bytes of page buffers alive now: cached pages plus pages that cursors still
    /// hold after eviction (at most [`super::cursor::MAX_DEPTH`] + 1 per live scan).
    pub resident_bytes: u64,
    /// The highest `resident_bytes` since open.
    pub peak_resident_bytes: u64,
    /// Page lookups answered from the cache.
    pub hits: u64,
    /// Page lookups that read the files.
    pub misses: u64,
    /// Pages read from the files (misses plus pages read ahead).
    pub pages_read: u64,
    /// The whole database fitted the cache and was read at open.
    pub fully_resident: bool,
}

/// The paged view of a database file plus its committed WAL frames.
pub struct Pager {
    pub(super) src: Sources,
    pub(super) wal_pages: HashMap<u32, u64>,
    pub(super) cache: Mutex<PageCache>,
    pub(super) residency: Arc<Residency>,
    pub(super) page_size: usize,
    usable: usize,
    pub(super) header: DbHeader,
    pub(super) wal_state: WalState,
    fully_resident: AtomicBool,
    pub(super) misses: AtomicU64,
    pub(super) pages_read: AtomicU64,
    /// One past the last page read from the main file (sequential-read detection).
    pub(super) next_seq: AtomicU32,
    changed: OnceLock<SqliteError>,
}

impl fmt::Debug for Pager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("main", &self.src.main_path)
            .field("page_size", &self.page_size)
            .field("pages", &self.header.page_count)
            .field("wal_pages", &self.wal_pages.len())
            .field("cache", &self.cache_stats())
            .finish()
    }
}

fn not_db(reason: String) -> SqliteError {
    SqliteError::NotADatabase {
        path: "".into(),
        reason,
    }
}

impl Pager {
    /// Build the view from the main file bytes and optional `-wal` bytes (in memory).
    pub fn new(main: Vec<u8>, wal_bytes: Option<Vec<u8>>) -> Result<Pager> {
        let main_len = main.len() as u64;
        let wal = wal_bytes.map(|w| {
            let len = w.len() as u64;
            (Box::new(w) as Box<dyn ReadAt>, len)
        });
        Pager::open(
            Sources {
                main: Box::new(main),
                main_len,
                wal,
                main_path: PathBuf::new(),
                wal_path: PathBuf::from("-wal"),
                validator: None,
            },
            DEFAULT_CACHE_BYTES,
        )
    }

    /// Build the view over `src`, reading the header and the WAL frame index now and
    /// pages later, on demand, through a cache of about `cache_bytes`.
    pub fn open(src: Sources, cache_bytes: usize) -> Result<Pager> {
        let mut first = [0u8; HEADER_SIZE];
        let head_len = src.main_len.min(HEADER_SIZE as u64) as usize;
        let head = first.get_mut(..head_len).unwrap_or_default();
        src.main
            .read_exact_at(head, 0)
            .map_err(|e| super::load::read_error(&src.main_path, e, 0))?;
        let magic_len = head_len.min(MAGIC.len());
        let start = first.get(..magic_len).unwrap_or_default();
        if start != MAGIC.get(..magic_len).unwrap_or_default() {
            return Err(not_db(format!(
                "offset 0: expected the magic \"SQLite format 3\\0\", found {} (a zeroed header, encryption, or another format)",
                header::describe_bytes(start)
            )));
        }
        if src.main_len < HEADER_SIZE as u64 {
            return Err(not_db(format!(
                "file is {} bytes, shorter than the 100-byte header",
                src.main_len
            )));
        }
        let page_size = header::page_size_of(&first)?;
        let ps = page_size as usize;
        let idx = match &src.wal {
            Some((w, len)) if *len > 0 => wal::recover(w.as_ref(), *len, page_size, &src.wal_path)?,
            Some(_) => wal::WalIndex {
                state: WalState {
                    present: true,
                    ignored_reason: Some("WAL is empty".into()),
                    ..WalState::default()
                },
                ..wal::WalIndex::default()
            },
            None => wal::WalIndex::default(),
        };
        let file_pages = u32::try_from(src.main_len.div_ceil(ps as u64)).unwrap_or(u32::MAX);
        let n_page_file = idx.db_size.unwrap_or(file_pages);
        let capacity = (cache_bytes / ps).max(MIN_CACHE_PAGES);
        let mut pager = Pager {
            src,
            wal_pages: idx.pages,
            cache: Mutex::new(PageCache::new(capacity)),
            residency: Arc::new(Residency::default()),
            page_size: ps,
            usable: ps,
            header: placeholder_header(page_size),
            wal_state: idx.state,
            fully_resident: AtomicBool::new(false),
            misses: AtomicU64::new(0),
            pages_read: AtomicU64::new(0),
            next_seq: AtomicU32::new(0),
            changed: OnceLock::new(),
        };
        let page1 = pager.load(1)?;
        let mut hdr = DbHeader::parse(page1.get(..HEADER_SIZE).unwrap_or_default())?;
        drop(page1);
        if hdr.page_size != page_size {
            return Err(SqliteError::corrupt(
                1,
                16,
                format!(
                    "page size in the WAL copy of page 1 is {}, main file says {page_size}",
                    hdr.page_size
                ),
            ));
        }
        let page_count = if hdr.header_size_valid() {
            hdr.db_size_in_header
        } else {
            n_page_file
        };
        if page_count > n_page_file {
            return Err(SqliteError::corrupt(
                1,
                28,
                format!(
                    "database size: header says {page_count} pages, the file holds {n_page_file}"
                ),
            ));
        }
        hdr.page_count = page_count;
        pager.usable = hdr.usable_size() as usize;
        pager.wal_state.header_says_rollback =
            pager.wal_state.committed_frames > 0 && !hdr.is_wal_mode();
        pager.header = hdr;
        Ok(pager)
    }

    /// For files: if the whole database fits the cache, read every page now (so later
    /// reads cannot see a concurrent writer), then check the snapshot is still intact.
    pub fn finish_open(&self) -> Result<()> {
        let cap = self.cache.lock().capacity();
        let fits = (self.header.page_count as usize) <= cap;
        if fits && self.src.validator.is_some() {
            for pgno in 1..=self.header.page_count {
                let page = self.load(pgno)?;
                self.cache.lock().insert(pgno, page);
            }
        }
        self.validate()?;
        if fits {
            self.fully_resident.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Check that the files still hold the open-time snapshot (a no-op for in-memory
    /// input and for databases read whole at open). Once a change is seen, every later
    /// call fails too.
    pub fn validate(&self) -> Result<()> {
        if self.fully_resident.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(e) = self.changed.get() {
            return Err(e.clone_changed());
        }
        let Some(v) = &self.src.validator else {
            return Ok(());
        };
        v.check().inspect_err(|e| {
            if matches!(e, SqliteError::Changed { .. }) {
                let _ = self.changed.set(e.clone_changed());
            }
        })
    }

    /// `e`, unless the files changed since open: then the change, since a concurrent
    /// write (not the file) may be what made the data look wrong.
    pub fn explain(&self, e: SqliteError) -> SqliteError {
        if matches!(e, SqliteError::Changed { .. }) {
            return e;
        }
        match self.validate() {
            Err(changed @ SqliteError::Changed { .. }) => changed,
            _ => e,
        }
    }

    /// Memory use and hit rate of the page cache.
    pub fn cache_stats(&self) -> CacheStats {
        let c = self.cache.lock();
        let counts = c.counts();
        CacheStats {
            capacity_bytes: (c.capacity() * self.page_size) as u64,
            resident_bytes: self.residency.live(),
            peak_resident_bytes: self.residency.peak(),
            hits: counts.hits,
            misses: counts.misses,
            pages_read: self.pages_read.load(Ordering::Relaxed),
            fully_resident: self.fully_resident.load(Ordering::Relaxed),
        }
    }

    /// Validate a page pointer read at `from_page`/`from_off`: in range, not the
    /// lock-byte page, not a ptrmap page.
    pub fn check_pointer(
        &self,
        pgno: u32,
        from_page: u32,
        from_off: usize,
        kind: &str,
    ) -> Result<()> {
        if pgno == 0 || pgno > self.header.page_count {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!(
                    "{kind} pointer: expected a page in 1..={}, found {pgno}",
                    self.header.page_count
                ),
            ));
        }
        if pgno == self.lock_byte_page() {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!("{kind} pointer: points to the lock-byte page {pgno}"),
            ));
        }
        if self.is_ptrmap_page(pgno) {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!("{kind} pointer: points to ptrmap page {pgno}"),
            ));
        }
        Ok(())
    }

    /// Page number of the lock-byte page (never holds data).
    pub fn lock_byte_page(&self) -> u32 {
        u32::try_from(PENDING_BYTE / self.page_size as u64 + 1).unwrap_or(u32::MAX)
    }

    /// True if `pgno` is a pointer-map page (only in auto-vacuum databases).
    pub fn is_ptrmap_page(&self, pgno: u32) -> bool {
        if self.header.largest_root_page == 0 || pgno < 2 {
            return false;
        }
        let per = self.usable as u64 / 5 + 1;
        let i = (u64::from(pgno) - 2) / per;
        let mut map_page = i * per + 2;
        if map_page == u64::from(self.lock_byte_page()) {
            map_page += 1;
        }
        map_page == u64::from(pgno)
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Usable bytes per page.
    pub fn usable(&self) -> usize {
        self.usable
    }

    /// Number of pages in the database.
    pub fn page_count(&self) -> u32 {
        self.header.page_count
    }

    /// The validated header (from page 1 as seen through the WAL).
    pub fn header(&self) -> &DbHeader {
        &self.header
    }

    /// What happened to the WAL.
    pub fn wal_state(&self) -> &WalState {
        &self.wal_state
    }

    /// Size of the main file plus the WAL at open, a bound for any single value.
    pub fn total_bytes(&self) -> u64 {
        let wal = self.src.wal.as_ref().map_or(0, |(_, n)| *n);
        self.src.main_len.saturating_add(wal)
    }
}

fn placeholder_header(page_size: u32) -> DbHeader {
    DbHeader {
        page_size,
        write_version: 1,
        read_version: 1,
        reserved: 0,
        change_counter: 0,
        db_size_in_header: 0,
        first_freelist_trunk: 0,
        freelist_count: 0,
        schema_cookie: 0,
        schema_format: 4,
        default_cache_size: 0,
        largest_root_page: 0,
        text_encoding: header::TextEncoding::Utf8,
        user_version: 0,
        incremental_vacuum: 0,
        application_id: 0,
        version_valid_for: 0,
        sqlite_version_number: 0,
        page_count: 0,
    }
}
