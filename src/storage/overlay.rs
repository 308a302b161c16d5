//! A copy-on-write overlay: a storage backend that reads a file and keeps
//! every write in memory, so the file itself is never changed.
//!
//! The read-only commands (`status`, `dump`, `export`, `verify`, `backup`,
//! `cleanup --dry-run`) must not write a byte to the files they read: not on
//! a healthy file, not on a file that is read-only on disk, and above all
//! not on a damaged file someone still has to salvage. redb's own read-only
//! open refuses a file that was not closed cleanly (it needs a repair, which
//! writes), and redb's normal open writes on open (the header's recovery
//! flag), on close, and whenever it repairs. Under this overlay redb opens
//! the file normally and does all of that in memory: its repair, its
//! integrity check (which may repair too) and our own metadata set-up run
//! on the in-memory image and vanish when the handle is dropped. The next
//! read-write open repairs the file for real.
//!
//! The inner file is opened for reading only, so the kernel itself refuses
//! any write; the overlay never calls the inner storage's `write`,
//! `set_len` or `sync_data`.
//!
//! Locks: redb takes exclusive byte-range locks for a writer, which a file
//! opened read-only cannot hold (and which would shut out other readers).
//! The overlay turns them into shared locks: readers share the file with
//! each other and with redb's own read-only handles, and a process that
//! holds the file for writing still excludes them (and they it).

use parking_lot::RwLock;
use redb::{BackendError, StorageBackend};
use std::collections::HashMap;
use std::io;
use std::ops::Bound;

const BLOCK: u64 = 4096;

/// A backend over `inner` whose writes stay in memory.
#[derive(Debug)]
pub struct Overlay<B: StorageBackend> {
    inner: B,
    state: RwLock<State>,
}

#[derive(Debug)]
struct State {
    /// The length redb sees.
    len: u64,
    /// Bytes of `inner` below this offset are still visible (a shrink hides
    /// the rest: they read as zero if the storage grows again).
    visible: u64,
    /// Blocks written, by block number.
    blocks: HashMap<u64, Box<[u8]>>,
}

impl<B: StorageBackend> Overlay<B> {
    /// Wraps `inner`, whose current length is the overlay's.
    pub fn new(inner: B) -> io::Result<Self> {
        let len = inner.len()?;
        Ok(Overlay {
            inner,
            state: RwLock::new(State {
                len,
                visible: len,
                blocks: HashMap::new(),
            }),
        })
    }

    /// Bytes held in memory (written blocks).
    pub fn memory_bytes(&self) -> u64 {
        self.state.read().blocks.len() as u64 * BLOCK
    }

    /// The block `b` as the storage holds it now (from memory, the file, or zeros).
    fn load(&self, st: &State, b: u64) -> io::Result<Box<[u8]>> {
        if let Some(data) = st.blocks.get(&b) {
            return Ok(data.clone());
        }
        let mut data = vec![0u8; BLOCK as usize].into_boxed_slice();
        let start = b * BLOCK;
        let end = (start + BLOCK).min(st.visible);
        if end > start {
            self.inner
                .read(start, &mut data[..(end - start) as usize])?;
        }
        Ok(data)
    }
}

fn past_end(offset: u64, n: usize, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("read of {n} bytes at {offset} past the end ({len} bytes)"),
    )
}

impl<B: StorageBackend> StorageBackend for Overlay<B> {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state.read().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.state.read();
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&e| e <= st.len)
            .ok_or_else(|| past_end(offset, out.len(), st.len))?;
        // Fast path: nothing written in range and all of it in the file.
        let (first, last) = (offset / BLOCK, end.saturating_sub(1) / BLOCK);
        if end <= st.visible && (first..=last).all(|b| !st.blocks.contains_key(&b)) {
            return self.inner.read(offset, out);
        }
        let mut pos = offset;
        while pos < end {
            let b = pos / BLOCK;
            let within = (pos - b * BLOCK) as usize;
            let n = ((BLOCK - within as u64).min(end - pos)) as usize;
            let dst = &mut out[(pos - offset) as usize..][..n];
            match st.blocks.get(&b) {
                Some(data) => dst.copy_from_slice(&data[within..within + n]),
                None => {
                    dst.fill(0);
                    let avail = st.visible.saturating_sub(pos).min(n as u64) as usize;
                    if avail > 0 {
                        self.inner.read(pos, &mut dst[..avail])?;
                    }
                }
            }
            pos += n as u64;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.state.write();
        if len < st.len {
            st.visible = st.visible.min(len);
            st.blocks.retain(|&b, _| b * BLOCK < len);
            let b = len / BLOCK;
            let within = (len - b * BLOCK) as usize;
            if let Some(data) = st.blocks.get_mut(&b) {
                data[within..].fill(0);
            }
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.state.write();
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "write past u64"))?;
        let mut pos = offset;
        while pos < end {
            let b = pos / BLOCK;
            let within = (pos - b * BLOCK) as usize;
            let n = ((BLOCK - within as u64).min(end - pos)) as usize;
            let mut block = self.load(&st, b)?;
            block[within..within + n].copy_from_slice(&data[(pos - offset) as usize..][..n]);
            st.blocks.insert(b, block);
            pos += n as u64;
        }
        st.len = st.len.max(end);
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }

    fn try_lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }

    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(s, e)
    }

    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(s, e)
    }

    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(s, e)
    }

    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(s, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::backends::InMemoryBackend;

    /// Random writes, shrinks and growths through the overlay read back as
    /// a plain in-memory model does, and the inner storage never changes.
    #[test]
    fn behaves_like_storage_and_never_writes_through() {
        let inner = InMemoryBackend::new();
        let base: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        inner.set_len(base.len() as u64).unwrap();
        inner.write(0, &base).unwrap();
        let o = Overlay::new(inner).unwrap();
        let mut model = base.clone();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..2000 {
            match next(4) {
                0 => {
                    let len = next(30_000);
                    o.set_len(len).unwrap();
                    model.resize(len as usize, 0);
                }
                1 | 2 => {
                    let off = next(30_000);
                    let n = next(9000) as usize;
                    let data: Vec<u8> = (0..n).map(|_| next(256) as u8).collect();
                    o.write(off, &data).unwrap();
                    if model.len() < off as usize + n {
                        model.resize(off as usize + n, 0);
                    }
                    model[off as usize..off as usize + n].copy_from_slice(&data);
                }
                _ => {
                    let off = next(model.len() as u64 + 1);
                    let n = next(model.len() as u64 - off + 1) as usize;
                    let mut out = vec![0xAA; n];
                    o.read(off, &mut out).unwrap();
                    assert_eq!(out, model[off as usize..off as usize + n]);
                }
            }
            assert_eq!(o.len().unwrap(), model.len() as u64);
        }
        let mut past = [0u8; 1];
        assert!(o.read(model.len() as u64, &mut past).is_err());
        let mut all = vec![0u8; base.len()];
        o.inner.read(0, &mut all).unwrap();
        assert_eq!(all, base, "the inner storage was written");
        assert_eq!(o.inner.len().unwrap(), base.len() as u64);
    }
}
