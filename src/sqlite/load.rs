//! Reading pages into the cache (fileformat2 §1.1 "Pages": page `P` starts at byte
//! (P−1)·page size; §4.4: a WAL frame is a 24-byte header and one page). Split from
//! [`super::pager`], which owns the state; see its docs for the memory bound.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::cache::{Page, PageBuf};
use super::error::{Result, SqliteError};
use super::pager::{CHECK_EVERY_MISSES, Pager, READ_AHEAD_PAGES};
use super::wal::{self, FRAME_HEADER_SIZE};

impl Pager {
    /// Page `pgno` (1-based). Errors if the number is 0 or past the database size, if
    /// it cannot be read, or if the files changed since open.
    pub fn page(&self, pgno: u32) -> Result<Page> {
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
        if let Some(p) = self.cache.lock().get(pgno) {
            return Ok(p);
        }
        let sequential = self.next_seq.load(Ordering::Relaxed) == pgno;
        let page = if sequential && !self.wal_pages.contains_key(&pgno) {
            self.load_run(pgno)?
        } else {
            self.load(pgno)?
        };
        if self.misses.fetch_add(1, Ordering::Relaxed) % CHECK_EVERY_MISSES
            == CHECK_EVERY_MISSES - 1
        {
            self.validate()?;
        }
        self.cache.lock().insert(pgno, page.clone());
        Ok(page)
    }

    /// Read page `pgno` from the WAL or the main file, bypassing the cache.
    pub(super) fn load(&self, pgno: u32) -> Result<Page> {
        let ps = self.page_size;
        self.pages_read.fetch_add(1, Ordering::Relaxed);
        if let (Some(&off), Some((wal, _))) = (self.wal_pages.get(&pgno), &self.src.wal) {
            let mut buf = vec![0u8; FRAME_HEADER_SIZE + ps].into_boxed_slice();
            wal.read_exact_at(&mut buf, off)
                .map_err(|e| read_error(&self.src.wal_path, e, off))?;
            if !wal::frame_matches(&buf, pgno, self.wal_state.salts) {
                return Err(SqliteError::Changed {
                    path: self.src.wal_path.clone(),
                    what: format!(
                        "the WAL frame at byte {off} no longer holds page {pgno} (the WAL was reset and rewritten)"
                    ),
                });
            }
            return Ok(Arc::new(PageBuf::new(
                buf,
                FRAME_HEADER_SIZE,
                self.residency.clone(),
            )));
        }
        self.next_seq
            .store(pgno.saturating_add(1), Ordering::Relaxed);
        let mut buf = vec![0u8; ps].into_boxed_slice();
        let start = u64::from(pgno.saturating_sub(1)) * ps as u64;
        if start < self.src.main_len {
            let n = (self.src.main_len - start).min(ps as u64) as usize;
            let dst = buf.get_mut(..n).unwrap_or_default();
            self.src
                .main
                .read_exact_at(dst, start)
                .map_err(|e| read_error(&self.src.main_path, e, start))?;
        }
        Ok(Arc::new(PageBuf::new(buf, 0, self.residency.clone())))
    }

    /// Read main-file page `pgno` and up to [`READ_AHEAD_PAGES`] − 1 following pages
    /// in one read, caching the followers that are neither cached nor in the WAL.
    fn load_run(&self, pgno: u32) -> Result<Page> {
        let ps = self.page_size as u64;
        let start = u64::from(pgno.saturating_sub(1)) * ps;
        let last = pgno
            .saturating_add(READ_AHEAD_PAGES - 1)
            .min(self.header.page_count);
        let end = (u64::from(last) * ps).min(self.src.main_len);
        if end <= start + ps {
            return self.load(pgno);
        }
        let mut run = vec![0u8; (end - start) as usize];
        self.src
            .main
            .read_exact_at(&mut run, start)
            .map_err(|e| read_error(&self.src.main_path, e, start))?;
        self.next_seq
            .store(last.saturating_add(1), Ordering::Relaxed);
        self.pages_read
            .fetch_add(end.div_ceil(ps) - start / ps, Ordering::Relaxed);
        let mut pages = run.chunks(self.page_size).zip(pgno..);
        let make = |bytes: &[u8]| {
            let mut buf = vec![0u8; self.page_size].into_boxed_slice();
            if let Some(dst) = buf.get_mut(..bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            Arc::new(PageBuf::new(buf, 0, self.residency.clone()))
        };
        let first = pages
            .next()
            .map_or_else(|| self.load(pgno), |(b, _)| Ok(make(b)))?;
        let mut cache = self.cache.lock();
        for (bytes, p) in pages {
            if !self.wal_pages.contains_key(&p) && !cache.contains(p) {
                cache.insert(p, make(bytes));
            }
        }
        Ok(first)
    }
}

/// A failed read: a short read means the file shrank after open.
pub(crate) fn read_error(path: &Path, e: std::io::Error, offset: u64) -> SqliteError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        SqliteError::Changed {
            path: path.to_path_buf(),
            what: format!("the file ends before byte {offset} it had at open (truncated)"),
        }
    } else {
        SqliteError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}
