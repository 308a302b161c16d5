//! Pages of the database as SQLite's pager sees them (fileformat2 §1.1 "Pages",
//! §1.3.6 "In-header database size", §1.4 "The Lock-Byte Page", §1.5 "The Freelist"
//! pointer rules, §1.8 "Pointer Map or Ptrmap Pages"; WAL overlay per §4.4 "Reader
//! Algorithm").
//!
//! The whole main file and `-wal` are held in memory (copied once at open), so a page
//! is a borrowed slice and later writes by another process cannot tear the view.
//! Page `P` is read from the newest committed WAL frame for `P`, else from the main
//! file; a page inside the database but past the end of the main file reads as zeros,
//! as SQLite's short-read rule does.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use std::collections::HashMap;

use super::error::{Result, SqliteError};
use super::header::{self, DbHeader, HEADER_SIZE, MAGIC};
use super::wal::{self, WalState};

/// Byte offset of the lock-byte page (1 GiB); the page holding it is never used.
const PENDING_BYTE: u64 = 0x4000_0000;

/// The paged view of a database file plus its committed WAL frames.
#[derive(Debug)]
pub struct Pager {
    main: Vec<u8>,
    wal: Vec<u8>,
    wal_pages: HashMap<u32, usize>,
    zero_page: Vec<u8>,
    page_size: usize,
    usable: usize,
    header: DbHeader,
    wal_state: WalState,
}

impl Pager {
    /// Build the view from the main file bytes and optional `-wal` bytes.
    pub fn new(mut main: Vec<u8>, wal_bytes: Option<Vec<u8>>) -> Result<Pager> {
        if main.len() < HEADER_SIZE {
            return Err(SqliteError::NotADatabase {
                path: "".into(),
                reason: format!(
                    "file is {} bytes, shorter than the 100-byte header",
                    main.len()
                ),
            });
        }
        if main.get(..16) != Some(MAGIC.as_slice()) {
            return Err(SqliteError::NotADatabase {
                path: "".into(),
                reason: "the first 16 bytes are not \"SQLite format 3\\0\" (encrypted, or another format)"
                    .to_string(),
            });
        }
        let page_size = header::page_size_of(&main)?;
        let ps = page_size as usize;
        let (wal_bytes, idx) = match wal_bytes {
            Some(w) if !w.is_empty() => {
                let idx = wal::recover(&w, page_size)?;
                (w, idx)
            }
            Some(_) => {
                let idx = wal::WalIndex {
                    state: WalState {
                        present: true,
                        ignored_reason: Some("WAL is empty".into()),
                        ..WalState::default()
                    },
                    ..wal::WalIndex::default()
                };
                (Vec::new(), idx)
            }
            None => (Vec::new(), wal::WalIndex::default()),
        };
        // Round the file up to whole pages; the missing tail reads as zeros (SQLite's rule).
        let rem = main.len() % ps;
        if rem != 0 {
            main.resize(main.len() + (ps - rem), 0);
        }
        let file_pages = u32::try_from(main.len() / ps).unwrap_or(u32::MAX);
        let n_page_file = idx.db_size.unwrap_or(file_pages);
        let mut pager = Pager {
            main,
            wal: wal_bytes,
            wal_pages: idx.pages,
            zero_page: vec![0u8; ps],
            page_size: ps,
            usable: ps,
            header: placeholder_header(page_size),
            wal_state: idx.state,
        };
        let page1 = pager.raw_page(1);
        let mut hdr = DbHeader::parse(page1.get(..HEADER_SIZE).unwrap_or_default())?;
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

    fn raw_page(&self, pgno: u32) -> &[u8] {
        if let Some(&off) = self.wal_pages.get(&pgno)
            && let Some(p) = self.wal.get(off..off + self.page_size)
        {
            return p;
        }
        let start = (pgno as usize)
            .saturating_sub(1)
            .saturating_mul(self.page_size);
        self.main
            .get(start..start.saturating_add(self.page_size))
            .unwrap_or(&self.zero_page)
    }

    /// Page `pgno` (1-based). Errors if the number is 0 or past the database size.
    pub fn page(&self, pgno: u32) -> Result<&[u8]> {
        if pgno == 0 || pgno > self.header.page_count {
            return Err(SqliteError::corrupt(
                pgno,
                0,
                format!(
                    "page number: expected 1..={}, found {pgno}",
                    self.header.page_count
                ),
            ));
        }
        Ok(self.raw_page(pgno))
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

    /// Total bytes held (main file + WAL), a bound for any single value.
    pub fn total_bytes(&self) -> u64 {
        (self.main.len() + self.wal.len()) as u64
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
