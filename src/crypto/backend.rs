//! [`EncryptedBackend`]: a redb `StorageBackend` that encrypts every 4 KiB
//! block with AES-256-GCM below redb. See `docs/ENCRYPTION.md` for the design.

use super::header::{COMMIT_SLOTS, Commit, FileKeys};
use super::keys::NoncePool;
use super::layout::{BLOCK, GROUP, Trailer, data_blocks, data_off, phys_len};
use super::trailers::Pending;
use crate::error::Error;
use parking_lot::RwLock;
use redb::{BackendError, StorageBackend};
use std::collections::{HashMap, HashSet};
use std::io;
use std::ops::Bound;
use std::path::PathBuf;

/// One data block as the open file knows it.
#[derive(Clone, Copy, Default)]
pub(crate) struct Entry {
    /// The current trailer (flags 0 = reads as zeros).
    pub tr: Trailer,
    /// The tag this block contributes to the summary, if any.
    pub sum: Option<[u8; 16]>,
}

pub(crate) struct State {
    pub len: u64,
    pub block0: Box<[u8; 4096]>,
    pub entries: Vec<Entry>,
    pub summary: [u8; 32],
    /// Last durable commit epoch; writes carry `epoch + 1`.
    pub epoch: u64,
    /// Tag as of the last durable commit of blocks whose entry does not
    /// hold it: cut off by a shrink, re-grown, or lost in a crash. A block
    /// written since the commit keeps it in its trailer (`committed_tag`).
    pub dirty: HashMap<u64, Option<[u8; 16]>>,
    /// Data blocks physically present in the inner storage.
    pub phys_blocks: u64,
    /// The inner storage ends with a partial block (see `recover::load`),
    /// cut off before the file grows over it.
    pub partial_tail: bool,
    /// The most data blocks the file ever held physically: stale trailers
    /// of truncated blocks can only lie below it (the commit's bound).
    pub phys_high: u64,
    /// Some trailer of epoch `epoch + 1` is durable, which proves the last
    /// commit's own sync completed (see `EncryptedBackend::write_run`).
    pub evidence: bool,
    /// How many bytes of each commit slot's region may be non-zero: a
    /// shorter slot written there is padded with zeros up to it.
    pub slot_tail: [usize; 2],
    /// redb's header block or the logical length changed since the last
    /// commit: the next sync writes a commit slot.
    pub changed: bool,
    /// The inner storage was written since its last sync.
    pub need_sync: bool,
    /// Trailers written at the next sync (see `trailers.rs`).
    pub pending: Pending,
    /// Random bytes for nonces, drawn from the OS 64 nonces at a time.
    pub nonce_pool: NoncePool,
    pub poisoned: Option<String>,
    /// Blocks whose trailer was damaged (opened for salvage only): reading
    /// one is an error until it is written again.
    pub unreadable: HashSet<u64>,
}

/// A redb storage backend that encrypts and authenticates every block.
pub struct EncryptedBackend<B: StorageBackend> {
    pub(crate) inner: B,
    pub(crate) name: PathBuf,
    pub(crate) keys: FileKeys,
    pub(crate) state: RwLock<State>,
    pub(crate) findings: Vec<String>,
}

impl<B: StorageBackend> std::fmt::Debug for EncryptedBackend<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedBackend")
            .field("file", &self.name)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Commit `c` opened from a file of `plen` bytes holding `phys` whole
    /// data blocks, before any block is filled in: no entries, an empty
    /// summary, nothing pending.
    pub(crate) fn at_commit(c: &Commit, phys: u64, plen: u64, slot_tail: [usize; 2]) -> State {
        State {
            len: c.len,
            block0: c.block0.clone(),
            entries: Vec::new(),
            summary: [0; 32],
            epoch: c.epoch,
            dirty: HashMap::new(),
            phys_blocks: phys,
            partial_tail: phys_len(phys) != plen,
            phys_high: c.phys_max.max(phys),
            evidence: false,
            slot_tail,
            changed: false,
            need_sync: false,
            pending: Pending::default(),
            nonce_pool: NoncePool::default(),
            poisoned: None,
            unreadable: HashSet::new(),
        }
    }

    /// Writes the batched trailers of blocks the storage still holds.
    pub(crate) fn flush_pending(&mut self, inner: &impl StorageBackend) -> io::Result<()> {
        self.pending.flush(inner, self.phys_blocks)
    }
}

/// Block `d`'s tag as of the last durable commit (`None`: it held nothing),
/// given its current entry `e`.
fn committed_tag(st: &State, d: u64, e: &Entry) -> Option<[u8; 16]> {
    if e.tr.flags != 0 && e.tr.epoch == st.epoch + 1 {
        // Written since the commit: its trailer carries the committed tag.
        (e.tr.prev != [0; 16]).then_some(e.tr.prev)
    } else if let Some(p) = st.dirty.get(&d) {
        *p
    } else {
        e.sum
    }
}

pub(crate) fn xor(acc: &mut [u8; 32], x: &[u8; 32]) {
    acc.iter_mut().zip(x).for_each(|(a, b)| *a ^= b);
}

impl<B: StorageBackend> EncryptedBackend<B> {
    pub(crate) fn auth_err(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            Error::Authentication {
                path: self.name.clone(),
                what,
            },
        )
    }

    /// Decrypts data blocks `d0..d0+n` (all in one group) into `out`.
    fn read_run(&self, st: &State, d0: u64, out: &mut [u8]) -> io::Result<()> {
        let n = out.len() as u64 / BLOCK;
        let any_written = (d0..d0 + n).any(|d| st.entries[d as usize].tr.flags == 1);
        if any_written {
            self.inner.read(data_off(d0), out)?;
        }
        for (k, chunk) in out.chunks_mut(BLOCK as usize).enumerate() {
            let d = d0 + k as u64;
            let tr = st.entries[d as usize].tr;
            if st.unreadable.contains(&d) {
                return Err(self.auth_err(format!(
                    "block {} (file bytes {}..{}) cannot be read: its trailer is damaged",
                    d + 1,
                    data_off(d),
                    data_off(d) + BLOCK
                )));
            }
            if tr.flags != 1 {
                chunk.fill(0);
                continue;
            }
            let aad = tr.aad(&self.keys.file_id, d);
            if !self.keys.aead.open(&tr.nonce, &aad, chunk, &tr.tag) {
                return Err(self.auth_err(format!(
                    "block {} (file bytes {}..{}) failed authentication: tampered, zeroed, swapped, replayed or truncated",
                    d + 1,
                    data_off(d),
                    data_off(d) + BLOCK
                )));
            }
        }
        Ok(())
    }

    /// Reads plaintext of whole logical blocks `b0..b0+n` into `out`.
    fn read_blocks(&self, st: &State, b0: u64, out: &mut [u8]) -> io::Result<()> {
        let mut b = b0;
        let mut rest = out;
        while !rest.is_empty() {
            if b == 0 {
                let (head, tail) = rest.split_at_mut(BLOCK as usize);
                head.copy_from_slice(&st.block0[..]);
                rest = tail;
                b = 1;
                continue;
            }
            let d = b - 1;
            let in_group = (GROUP - d % GROUP).min(rest.len() as u64 / BLOCK);
            let (run, tail) = rest.split_at_mut((in_group * BLOCK) as usize);
            self.read_run(st, d, run)?;
            rest = tail;
            b += in_group;
        }
        Ok(())
    }

    /// Encrypts and writes whole data blocks `d0..` (one group) from `plain`.
    fn write_run(&self, st: &mut State, d0: u64, plain: &[u8]) -> io::Result<()> {
        let mut buf = plain.to_vec();
        let epoch = st.epoch + 1;
        let mut overwrites_last_commit = false;
        for (k, chunk) in buf.chunks_mut(BLOCK as usize).enumerate() {
            let d = d0 + k as u64;
            let old = st.entries[d as usize];
            overwrites_last_commit |= old.tr.flags == 1 && old.tr.epoch == st.epoch;
            let prev = committed_tag(st, d, &old);
            let mut tr = Trailer {
                flags: 1,
                epoch,
                nonce: st.nonce_pool.next()?,
                tag: [0; 16],
                prev: prev.unwrap_or([0; 16]),
            };
            let aad = tr.aad(&self.keys.file_id, d);
            tr.tag = self.keys.aead.seal(&tr.nonce, &aad, chunk);
            if let Some(t) = old.sum {
                xor(&mut st.summary, &self.keys.prf(d, &t));
            }
            xor(&mut st.summary, &self.keys.prf(d, &tr.tag));
            st.entries[d as usize] = Entry {
                tr,
                sum: Some(tr.tag),
            };
            st.pending.put(d, tr.encoded());
            st.unreadable.remove(&d);
        }
        st.need_sync = true;
        if overwrites_last_commit && !st.evidence {
            // An open that finds no later trailer authenticates every block
            // of the last commit to confirm that its one sync completed.
            // Overwriting such a block (redb reuses a page allocated and
            // freed within that commit) needs durable evidence first: the
            // new trailers, synced before the data they replace is touched.
            st.flush_pending(&self.inner)?;
            self.inner.sync_data()?;
            st.evidence = true;
        }
        self.inner.write(data_off(d0), &buf)?;
        if st.pending.is_full() {
            st.flush_pending(&self.inner)?;
        }
        Ok(())
    }

    fn grow(&self, st: &mut State, new_len: u64) -> io::Result<()> {
        let (old_n, new_n) = (data_blocks(st.len), data_blocks(new_len));
        st.entries.resize(new_n as usize, Entry::default());
        // Blocks that still exist physically from before a shrink get an
        // "erased" trailer so a later open reads them as zeros.
        let epoch = st.epoch + 1;
        st.changed = true;
        st.need_sync = true;
        for d in old_n..new_n.min(st.phys_blocks) {
            let prev = *st.dirty.entry(d).or_insert(None);
            let tr = Trailer {
                flags: 2,
                epoch,
                prev: prev.unwrap_or([0; 16]),
                ..Trailer::default()
            };
            st.pending.put(d, tr.encoded());
        }
        if new_n > st.phys_blocks {
            let p = st.phys_blocks;
            if st.partial_tail {
                st.flush_pending(&self.inner)?;
                self.inner.set_len(phys_len(p))?;
                st.partial_tail = false;
            }
            self.inner.set_len(phys_len(new_n))?;
            // A truncation may have reached the disk without the zeroing of
            // the cut blocks' trailers, which share this trailer block: the
            // new blocks must not inherit them.
            if !p.is_multiple_of(GROUP) {
                st.pending.zero(p, p - p % GROUP + GROUP);
            }
            st.phys_blocks = new_n;
            st.phys_high = st.phys_high.max(new_n);
        }
        st.len = new_len;
        Ok(())
    }

    fn shrink(&self, st: &mut State, new_len: u64) -> io::Result<()> {
        st.changed = true;
        let new_n = data_blocks(new_len);
        for d in new_n..st.entries.len() as u64 {
            let e = st.entries[d as usize];
            let committed = committed_tag(st, d, &e);
            st.dirty.entry(d).or_insert(committed);
            if let Some(t) = e.sum {
                xor(&mut st.summary, &self.keys.prf(d, &t));
            }
        }
        st.entries.truncate(new_n as usize);
        // Bytes past the end of a partial last block must read as zeros later.
        let cut = (new_len % BLOCK) as usize;
        if new_len < BLOCK {
            st.block0[new_len as usize..].fill(0);
        } else if cut != 0 {
            let b = new_len / BLOCK;
            let mut blk = vec![0u8; BLOCK as usize];
            self.read_blocks(st, b, &mut blk)?;
            blk[cut..].fill(0);
            self.write_run(st, b - 1, &blk)?;
        }
        st.len = new_len;
        Ok(())
    }

    fn write_locked(&self, st: &mut State, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset + data.len() as u64;
        if end > st.len {
            self.grow(st, end)?;
        }
        let mut pos = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let b = pos / BLOCK;
            let within = (pos % BLOCK) as usize;
            if b == 0 {
                let n = rest.len().min(BLOCK as usize - within);
                st.block0[within..within + n].copy_from_slice(&rest[..n]);
                st.changed = true;
                pos += n as u64;
                rest = &rest[n..];
                continue;
            }
            let d = b - 1;
            if within == 0 && rest.len() >= BLOCK as usize {
                let full = ((GROUP - d % GROUP) as usize).min(rest.len() / BLOCK as usize);
                let n = full * BLOCK as usize;
                self.write_run(st, d, &rest[..n])?;
                pos += n as u64;
                rest = &rest[n..];
            } else {
                let n = rest.len().min(BLOCK as usize - within);
                let mut blk = vec![0u8; BLOCK as usize];
                self.read_blocks(st, b, &mut blk)?;
                blk[within..within + n].copy_from_slice(&rest[..n]);
                self.write_run(st, d, &blk)?;
                pos += n as u64;
                rest = &rest[n..];
            }
        }
        Ok(())
    }

    fn sync_locked(&self, st: &mut State) -> io::Result<()> {
        // Data written without a new redb header is not committed by redb
        // either: making it durable needs no commit slot.
        st.flush_pending(&self.inner)?;
        if !st.changed {
            if st.need_sync {
                self.inner.sync_data()?;
                st.need_sync = false;
            }
            return Ok(());
        }
        // One sync for data, trailers and the commit slot, as redb's own
        // one-phase commit: if the slot lands without some of the data, the
        // open finds out (summary, or authenticating the commit's blocks)
        // and falls back to the previous commit, which redb left intact.
        let n = data_blocks(st.len);
        st.phys_high = st.phys_high.max(n).max(st.phys_blocks);
        let commit = Commit {
            epoch: st.epoch + 1,
            len: st.len,
            phys_max: st.phys_high,
            summary: st.summary,
            block0: st.block0.clone(),
        };
        let mut sealed = self.keys.seal_commit(&commit).map_err(io::Error::other)?;
        let i = (commit.epoch % 2) as usize;
        sealed.resize(sealed.len().max(st.slot_tail[i]), 0);
        self.inner.write(COMMIT_SLOTS[i], &sealed)?;
        st.slot_tail[i] = sealed.len();
        self.inner.sync_data()?;
        st.epoch = commit.epoch;
        st.evidence = false;
        st.dirty.clear();
        st.changed = false;
        st.need_sync = false;
        if st.phys_blocks > n {
            // Safe now: the durable commit no longer covers these blocks.
            self.inner.set_len(phys_len(n))?;
            st.partial_tail = false;
            // Trailers of the cut blocks that share the last trailer block
            // (written with the next sync).
            if !n.is_multiple_of(GROUP) {
                st.pending.zero(n, n - n % GROUP + GROUP);
            }
            st.phys_blocks = n;
            st.need_sync = true;
        }
        Ok(())
    }

    /// Runs a mutating operation; any failure poisons the backend, since the
    /// file may then hold a half-applied change that only a reopen resolves.
    fn mutate(&self, f: impl FnOnce(&mut State) -> io::Result<()>) -> io::Result<()> {
        let mut st = self.state.write();
        if let Some(p) = &st.poisoned {
            return Err(io::Error::other(format!(
                "{}: an earlier write failed ({p}); reopen the database",
                self.name.display()
            )));
        }
        let r = f(&mut st);
        if let Err(e) = &r {
            st.poisoned = Some(e.to_string());
        }
        r
    }
}

impl<B: StorageBackend> StorageBackend for EncryptedBackend<B> {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state.read().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.state.read();
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&e| e <= st.len)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: read past the end", self.name.display()),
                )
            })?;
        if out.is_empty() {
            return Ok(());
        }
        let (b0, b1) = (offset / BLOCK, end.div_ceil(BLOCK));
        let skip = (offset % BLOCK) as usize;
        if skip == 0 && out.len() as u64 == (b1 - b0) * BLOCK {
            return self.read_blocks(&st, b0, out);
        }
        // Whole blocks past the logical end read as zeros (never written).
        let mut tmp = vec![0u8; ((b1 - b0) * BLOCK) as usize];
        self.read_blocks(&st, b0, &mut tmp)?;
        out.copy_from_slice(&tmp[skip..skip + out.len()]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.mutate(|st| {
            if len > st.len {
                self.grow(st, len)
            } else if len < st.len {
                self.shrink(st, len)
            } else {
                Ok(())
            }
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.mutate(|st| self.sync_locked(st))
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.mutate(|st| self.write_locked(st, offset, data))
    }

    fn close(&self) -> io::Result<()> {
        // Unsynced writes to a plain file survive a clean exit; keep that.
        let r = {
            let mut st = self.state.write();
            if st.poisoned.is_some() {
                Ok(())
            } else if st.changed {
                self.sync_locked(&mut st)
            } else {
                st.flush_pending(&self.inner)
            }
        };
        let c = self.inner.close();
        r.and(c)
    }

    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(s, e)
    }

    fn try_lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }

    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(s, e)
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
