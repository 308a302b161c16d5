//! A bounded page cache (CLOCK replacement) and the page buffers it hands out.
//! Implements no part of the file format; it keeps the pager's memory independent of
//! the database size (fileformat2 §1.1 "Pages" are read one at a time).
//!
//! A [`Page`] is a shared, immutable buffer. The cache holds at most `capacity` of
//! them; a page evicted while a cursor still holds it lives until that cursor lets go.
//! Every live buffer is counted in a [`Residency`], so callers can see the bytes
//! actually resident (cache + pages pinned by cursors), not an estimate.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of page buffers alive right now, and the most ever alive at once.
#[derive(Debug, Default)]
pub struct Residency {
    live: AtomicU64,
    peak: AtomicU64,
}

impl Residency {
    /// Bytes alive now.
    pub fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }
    /// Highest value of [`Residency::live`] so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
    fn add(&self, n: u64) {
        let now = self.live.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
}

/// One page's bytes (`buf[start..]`; a WAL frame keeps its 24-byte header in front).
#[derive(Debug)]
pub struct PageBuf {
    buf: Box<[u8]>,
    start: usize,
    residency: Arc<Residency>,
}

impl PageBuf {
    /// Wrap `buf`, whose page bytes begin at `start`, counting it in `residency`.
    pub fn new(buf: Box<[u8]>, start: usize, residency: Arc<Residency>) -> PageBuf {
        residency.add(buf.len() as u64);
        PageBuf {
            buf,
            start,
            residency,
        }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        self.residency
            .live
            .fetch_sub(self.buf.len() as u64, Ordering::Relaxed);
    }
}

impl Deref for PageBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// A shared page.
pub type Page = Arc<PageBuf>;

#[derive(Debug)]
struct Slot {
    pgno: u32,
    page: Page,
    referenced: bool,
}

/// Hit and miss counts of a cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to read the page.
    pub misses: u64,
}

/// CLOCK cache of at most `capacity` pages.
#[derive(Debug)]
pub struct PageCache {
    map: HashMap<u32, usize>,
    slots: Vec<Slot>,
    hand: usize,
    capacity: usize,
    counts: CacheCounts,
}

impl PageCache {
    /// An empty cache holding at most `capacity` (at least 1) pages.
    pub fn new(capacity: usize) -> PageCache {
        PageCache {
            map: HashMap::new(),
            slots: Vec::new(),
            hand: 0,
            capacity: capacity.max(1),
            counts: CacheCounts::default(),
        }
    }

    /// Maximum number of pages held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hit / miss counts so far.
    pub fn counts(&self) -> CacheCounts {
        self.counts
    }

    /// The cached page `pgno`, marking it recently used.
    #[inline]
    pub fn get(&mut self, pgno: u32) -> Option<Page> {
        let found = self
            .map
            .get(&pgno)
            .and_then(|&i| self.slots.get_mut(i))
            .map(|s| {
                s.referenced = true;
                s.page.clone()
            });
        if found.is_some() {
            self.counts.hits += 1;
        } else {
            self.counts.misses += 1;
        }
        found
    }

    /// True if `pgno` is cached (not counted as a lookup).
    pub fn contains(&self, pgno: u32) -> bool {
        self.map.contains_key(&pgno)
    }

    /// Add `page` as `pgno`, evicting a page not used since the hand last passed it.
    pub fn insert(&mut self, pgno: u32, page: Page) {
        if let Some(slot) = self.map.get(&pgno).and_then(|&i| self.slots.get_mut(i)) {
            slot.page = page;
            return;
        }
        if self.slots.len() < self.capacity {
            self.map.insert(pgno, self.slots.len());
            self.slots.push(Slot {
                pgno,
                page,
                referenced: false,
            });
            return;
        }
        // At most two sweeps: the first clears every reference bit.
        for _ in 0..2 * self.slots.len() {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let Some(slot) = self.slots.get_mut(i) else {
                break;
            };
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            self.map.remove(&slot.pgno);
            *slot = Slot {
                pgno,
                page,
                referenced: false,
            };
            self.map.insert(pgno, i);
            return;
        }
    }

    /// Number of pages held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if no page is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(r: &Arc<Residency>, n: usize) -> Page {
        Arc::new(PageBuf::new(vec![0u8; n].into_boxed_slice(), 0, r.clone()))
    }

    #[test]
    fn never_holds_more_than_capacity_and_counts_bytes() {
        let r = Arc::new(Residency::default());
        let mut c = PageCache::new(4);
        for pgno in 1..=100 {
            if c.get(pgno).is_none() {
                c.insert(pgno, page(&r, 512));
            }
            c.get(1);
            assert!(c.len() <= 4);
            assert!(r.live() <= 4 * 512);
        }
        // Page 1 is touched on every round: CLOCK keeps it.
        assert!(c.get(1).is_some());
        // A full cache plus the page being inserted.
        assert_eq!(r.peak(), 5 * 512);
        drop(c);
        assert_eq!(r.live(), 0);
    }

    #[test]
    fn pinned_pages_outlive_eviction_and_stay_counted() {
        let r = Arc::new(Residency::default());
        let mut c = PageCache::new(1);
        let pinned = page(&r, 100);
        c.insert(1, pinned.clone());
        c.insert(2, page(&r, 100));
        assert!(c.get(1).is_none());
        assert_eq!(r.live(), 200);
        drop(pinned);
        assert_eq!(r.live(), 100);
    }
}
