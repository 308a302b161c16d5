//! Trailer writes batched until the next sync.
//!
//! redb writes a commit's pages one call at a time, and each page has its
//! own 64-byte trailer. Writing every trailer at once would double the
//! write calls of a commit; instead the backend keeps them here and writes
//! each trailer block's changed span with one read and one write when it
//! syncs (or closes). Nothing orders unsynced writes anyway, so the crash
//! behaviour is unchanged: only a sync makes a trailer durable, before and
//! after. Reads never look at the file's trailers: the open keeps them all
//! in memory.

use super::layout::{BLOCK, GROUP, TRAILER, trailer_off};
use redb::StorageBackend;
use std::io;

/// Flush once this many trailers are pending (256 KiB of memory at most).
const MAX_PENDING: usize = 4096;

/// Trailers not yet written, in the order given: for one data block the
/// last one wins.
#[derive(Default)]
pub(crate) struct Pending(Vec<(u64, [u8; TRAILER])>);

impl Pending {
    pub fn put(&mut self, d: u64, trailer: [u8; TRAILER]) {
        self.0.push((d, trailer));
    }

    /// All-zero trailers (never written) for blocks `from..to`.
    pub fn zero(&mut self, from: u64, to: u64) {
        self.0.extend((from..to).map(|d| (d, [0; TRAILER])));
    }

    pub fn is_full(&self) -> bool {
        self.0.len() >= MAX_PENDING
    }

    /// Writes every pending trailer whose trailer block lies within the
    /// `phys` data blocks the storage holds (the others belong to blocks
    /// cut off the file, whose trailer blocks went with them).
    pub fn flush(&mut self, inner: &impl StorageBackend, phys: u64) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.0);
        // Stable: trailers of one block stay in the order they were given.
        pending.sort_by_key(|p| p.0);
        let last_of_each = pending
            .iter()
            .enumerate()
            .filter(|(i, p)| pending.get(i + 1).is_none_or(|next| next.0 != p.0))
            .map(|(_, p)| *p);
        let mut iter = last_of_each.peekable();
        let mut buf = Vec::new();
        while let Some((first, t)) = iter.next() {
            let group = first / GROUP;
            let mut run = vec![(first, t)];
            while let Some(&(d, t)) = iter.peek().filter(|(d, _)| d / GROUP == group) {
                run.push((d, t));
                iter.next();
            }
            if group * GROUP >= phys {
                continue;
            }
            let last = run.last().map_or(first, |r| r.0);
            let span = ((last - first + 1) as usize) * TRAILER;
            debug_assert!(span <= BLOCK as usize);
            buf.resize(span, 0);
            if run.len() < (last - first + 1) as usize {
                // Gaps: keep the trailers between the pending ones as they are.
                inner.read(trailer_off(first), &mut buf)?;
            }
            for (d, t) in run {
                let at = ((d - first) as usize) * TRAILER;
                buf[at..at + TRAILER].copy_from_slice(&t);
            }
            inner.write(trailer_off(first), &buf)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::layout::phys_len;
    use redb::backends::InMemoryBackend;

    #[test]
    fn flush_writes_pending_spans_and_keeps_the_gaps() {
        let inner = InMemoryBackend::new();
        inner.set_len(phys_len(70)).unwrap();
        // Bytes already in the file around and between the pending trailers.
        let old = vec![0xEEu8; BLOCK as usize];
        inner.write(trailer_off(0), &old).unwrap();
        let mut p = Pending::default();
        p.put(3, [1; TRAILER]);
        p.put(7, [2; TRAILER]);
        p.put(3, [3; TRAILER]); // a later trailer replaces an earlier one
        p.zero(65, 67);
        p.put(130, [9; TRAILER]); // group 2: not in a 70-block file
        p.flush(&inner, 70).unwrap();
        let mut page = vec![0u8; BLOCK as usize];
        inner.read(trailer_off(0), &mut page).unwrap();
        let slot = |d: usize| &page[d * TRAILER..(d + 1) * TRAILER];
        assert!(slot(3).iter().all(|&b| b == 3));
        assert!(slot(7).iter().all(|&b| b == 2));
        for d in [0, 2, 4, 6, 8, 63] {
            assert!(slot(d).iter().all(|&b| b == 0xEE), "trailer {d}");
        }
        let mut g1 = vec![0xAAu8; 3 * TRAILER];
        inner.read(trailer_off(64), &mut g1).unwrap();
        assert!(g1.iter().all(|&b| b == 0));
        assert_eq!(inner.len().unwrap(), phys_len(70));
        assert!(p.0.is_empty());
    }
}
