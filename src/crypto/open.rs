//! Creating, opening, verifying and rekeying an encrypted file.

use super::backend::EncryptedBackend;
use super::header::{COMMIT_SLOTS, Commit, DATA_START, FileKeys, KEY_SLOT_LEN, KEY_SLOTS, KeySlot};
use super::keys::{KdfParams, Key, KeySource, fill_random};
use super::layout::{BLOCK, GROUP, TRAILER, trailer_off};
use crate::error::{Error, Result};
use parking_lot::RwLock;
use redb::StorageBackend;
use std::ops::Bound;
use std::path::Path;

/// First bytes of a plain redb file.
pub(super) const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

pub(super) fn io<'a>(path: &'a Path, op: &'static str) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::io(op, path, e)
}

pub(super) fn auth(path: &Path, what: impl Into<String>) -> Error {
    Error::Authentication {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Holds the inner storage's whole-file lock while a header is examined, so
/// two processes never initialise or rekey one file at the same time.
pub(crate) struct LockGuard<'a, B: StorageBackend>(&'a B, bool);

impl<'a, B: StorageBackend> LockGuard<'a, B> {
    pub(crate) fn take(inner: &'a B, path: &Path) -> Result<Self> {
        match inner.try_lock_range(Bound::Unbounded, Bound::Unbounded) {
            Ok(true) => Ok(LockGuard(inner, true)),
            Ok(false) => Err(Error::Locked {
                path: path.to_path_buf(),
                waited: std::time::Duration::ZERO,
            }),
            Err(redb::BackendError::Unsupported) => Ok(LockGuard(inner, false)),
            Err(e) => Err(Error::io("lock", path, e.into())),
        }
    }
}

impl<B: StorageBackend> Drop for LockGuard<'_, B> {
    fn drop(&mut self) {
        if self.1 {
            let _ = self.0.unlock_range(Bound::Unbounded, Bound::Unbounded);
        }
    }
}

/// Reads both key slots; returns the current one and notes about the other.
fn current_key_slot(
    inner: &impl StorageBackend,
    path: &Path,
) -> Result<(usize, KeySlot, Vec<String>)> {
    let len = inner.len().map_err(io(path, "size"))?;
    let mut head = vec![0u8; (len.min(DATA_START)) as usize];
    inner.read(0, &mut head).map_err(io(path, "read"))?;
    let magic = |o: usize| head.len() >= o + 16 && head[o..o + 16] == super::header::MAGIC;
    if !magic(0) && !magic(2048) {
        let what = if head.starts_with(&REDB_MAGIC) {
            "is a plain (unencrypted) redb file; encrypt it with `aragora-db encrypt` or turn encryption off"
        } else {
            "is not an encrypted aragora-db file (no encryption header)"
        };
        return Err(Error::Encryption {
            path: path.to_path_buf(),
            what: what.into(),
        });
    }
    if len < DATA_START {
        return Err(auth(
            path,
            format!("file is truncated to {len} bytes, inside its {DATA_START}-byte header"),
        ));
    }
    let slots: Vec<_> = KEY_SLOTS
        .iter()
        .map(|&o| KeySlot::decode(&head[o as usize..o as usize + KEY_SLOT_LEN]))
        .collect();
    let mut notes = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        if let Err(why) = s {
            notes.push(format!("key slot {i} at byte {}: {why}", KEY_SLOTS[i]));
        }
    }
    let best = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().ok().map(|s| (i, s)))
        .max_by_key(|(i, s)| (s.seq, std::cmp::Reverse(*i)));
    let (i, slot) = best.ok_or_else(|| {
        auth(
            path,
            format!("both key slots are damaged: {}", notes.join("; ")),
        )
    })?;
    if let [Ok(a), Ok(b)] = &slots[..]
        && a.file_id != b.file_id
    {
        return Err(auth(path, "the two key slots belong to different files"));
    }
    if let [Ok(a), Ok(b)] = &slots[..]
        && a.seq != b.seq
    {
        notes.push("key slots differ: an interrupted rekey; run rekey again to finish it".into());
    }
    Ok((i, slot.clone(), notes))
}

/// Unwraps the data key, or `WrongKey`.
pub(super) fn unlock(
    inner: &impl StorageBackend,
    path: &Path,
    key: &KeySource,
) -> Result<(KeySlot, Key, Vec<String>)> {
    let (_, slot, notes) = current_key_slot(inner, path)?;
    match slot.open(key)? {
        Some(dek) => Ok((slot, dek, notes)),
        None => Err(Error::WrongKey {
            path: path.to_path_buf(),
        }),
    }
}

/// Whether `key` opens an existing encrypted file, checked read-only (no
/// lock is taken and nothing is written, not even a crash repair): the
/// current key slot unwraps with it, and a commit slot authenticates under
/// the data key it unwraps. `Ok(false)`: another key. A header no key
/// could get past (damaged slots, truncated) is an error naming the file.
pub(crate) fn key_opens(inner: &impl StorageBackend, path: &Path, key: &KeySource) -> Result<bool> {
    let (_, slot, _) = current_key_slot(inner, path)?;
    let Some(dek) = slot.open(key)? else {
        return Ok(false);
    };
    let keys = FileKeys::new(&dek, slot.file_id);
    let mut notes = Vec::new();
    let (valid, _) = super::recover::read_commits(inner, path, &keys, &mut notes)?;
    if valid.is_empty() {
        return Err(auth(
            path,
            format!("no valid commit slot: {}", notes.join("; ")),
        ));
    }
    Ok(true)
}

impl<B: StorageBackend> EncryptedBackend<B> {
    /// Opens an existing encrypted file, or initialises an empty one.
    /// Nothing is written unless the key is right (or the storage is empty).
    pub fn open_or_create(
        inner: B,
        path: &Path,
        key: &KeySource,
        params: KdfParams,
    ) -> Result<Self> {
        let guard = LockGuard::take(&inner, path)?;
        if inner.len().map_err(io(path, "size"))? == 0 {
            create(&inner, path, key, params)?;
        }
        let (slot, dek, notes) = unlock(&inner, path, key)?;
        let keys = FileKeys::new(&dek, slot.file_id);
        let (state, more) = super::recover::load(&inner, path, &keys)?;
        let fresh = state.block0[..9] != REDB_MAGIC && state.len > 0;
        drop(guard);
        let mut findings = notes;
        findings.extend(more);
        let backend = EncryptedBackend {
            inner,
            name: path.to_path_buf(),
            keys,
            state: RwLock::new(state),
            findings,
        };
        if fresh {
            // redb writes its magic number last when it creates a database;
            // without it (a crash during creation) redb refuses the file.
            // Nothing was ever committed: start empty instead.
            backend.set_len(0).map_err(io(path, "reset"))?;
        }
        Ok(backend)
    }

    /// Opens an existing encrypted file (never creates one).
    pub fn open(inner: B, path: &Path, key: &KeySource) -> Result<Self> {
        if inner.len().map_err(io(path, "size"))? == 0 {
            return Err(Error::Encryption {
                path: path.to_path_buf(),
                what: "is empty, not an encrypted aragora-db file".into(),
            });
        }
        Self::open_or_create(inner, path, key, KdfParams::default())
    }

    /// Decrypts and authenticates every block; returns every problem found,
    /// including damaged redundant header copies that the open tolerated.
    pub fn verify(&self) -> Vec<String> {
        let mut out = self.findings.clone();
        {
            // Trailers still batched in memory belong to what is checked.
            let mut st = self.state.write();
            if st.poisoned.is_none()
                && let Err(e) = st.flush_pending(&self.inner)
            {
                out.push(format!("writing batched trailers: {e}"));
            }
        }
        let (n, phys, never) = {
            let st = self.state.read();
            let never: Vec<u64> = (0..st.entries.len() as u64)
                .filter(|&d| st.entries[d as usize].tr.flags == 0)
                .collect();
            (st.entries.len() as u64, st.phys_blocks, never)
        };
        let mut blk = vec![0u8; BLOCK as usize];
        for b in 1..=n {
            if let Err(e) = self.read(b * BLOCK, &mut blk) {
                out.push(e.to_string());
            }
        }
        // Bytes no reader looks at must still be as written: zeros.
        let mut zero_ranges: Vec<(u64, u64, String)> = Vec::new();
        for (i, &o) in KEY_SLOTS.iter().enumerate() {
            zero_ranges.push((
                o + KEY_SLOT_LEN as u64,
                o + 2048,
                format!("padding after key slot {i}"),
            ));
        }
        for (i, &o) in COMMIT_SLOTS.iter().enumerate() {
            let mut b = vec![0u8; super::header::COMMIT_MAX];
            let len = match self.inner.read(o, &mut b) {
                Ok(()) => super::header::commit_len(&b).unwrap_or(b.len()),
                Err(_) => b.len(),
            } as u64;
            zero_ranges.push((o + len, o + 8192, format!("padding after commit slot {i}")));
        }
        if !phys.is_multiple_of(GROUP) {
            let d = phys;
            zero_ranges.push((
                trailer_off(d),
                trailer_off(d - d % GROUP) + BLOCK,
                "unused trailers".into(),
            ));
        }
        let mut tb = [0u8; TRAILER];
        let beyond = (n..phys).filter(|&d| {
            self.inner.read(trailer_off(d), &mut tb).is_ok() && tb.iter().all(|&x| x == 0)
        });
        let never: Vec<u64> = never
            .into_iter()
            .chain(beyond.collect::<Vec<_>>())
            .collect();
        for d in never {
            if d < phys {
                let o = super::layout::data_off(d);
                zero_ranges.push((o, o + BLOCK, format!("never-written block {}", d + 1)));
            }
        }
        for (from, to, what) in zero_ranges {
            let mut b = vec![0u8; (to - from) as usize];
            match self.inner.read(from, &mut b) {
                Ok(()) if b.iter().all(|&x| x == 0) => {}
                Ok(()) => out.push(format!(
                    "{what} (bytes {from}..{to}) is not zero: tampered, or an unsynced write cut short by a crash"
                )),
                Err(e) => out.push(format!("{what}: {e}")),
            }
        }
        out
    }

    /// What the open found and tolerated: damaged redundant header copies,
    /// a partial last block, and a newest commit it discarded (falling
    /// back to the one before). `verify` reports these too.
    pub fn findings(&self) -> &[String] {
        &self.findings
    }

    /// Which AES-256-GCM implementation this file uses: "graviola" or
    /// "aes-gcm" (see `crypto::aead`).
    pub fn aead_implementation(&self) -> &'static str {
        self.keys.aead.name()
    }

    /// Consumes the backend and returns the inner storage (tests).
    pub fn into_inner(self) -> B {
        self.inner
    }
}

fn create(
    inner: &impl StorageBackend,
    path: &Path,
    key: &KeySource,
    params: KdfParams,
) -> Result<()> {
    let dek = Key::random()?;
    let mut file_id = [0u8; 16];
    fill_random(&mut file_id)?;
    let slot = KeySlot::seal(1, file_id, key, params, &dek)?.encode();
    let keys = FileKeys::new(&dek, file_id);
    let w = io(path, "initialise encrypted file");
    inner.set_len(DATA_START).map_err(&w)?;
    for o in KEY_SLOTS {
        inner.write(o, &slot).map_err(&w)?;
    }
    for epoch in [0u64, 1] {
        let c = Commit {
            epoch,
            len: 0,
            phys_max: 0,
            summary: [0; 32],
            block0: Box::new([0; 4096]),
        };
        inner
            .write(COMMIT_SLOTS[epoch as usize], &keys.seal_commit(&c)?)
            .map_err(&w)?;
    }
    inner.sync_data().map_err(&w)
}

/// Replaces the key-encryption key of a closed encrypted file: one key-slot
/// write, synced, then the same bytes into the other slot. After a crash at
/// any point exactly one of the old and new keys opens the file.
pub fn rekey_backend(
    inner: &impl StorageBackend,
    path: &Path,
    old: &KeySource,
    new: &KeySource,
    params: KdfParams,
) -> Result<()> {
    let _guard = LockGuard::take(inner, path)?;
    let (cur, slot, _) = current_key_slot(inner, path)?;
    let dek = match slot.open(old)? {
        Some(k) => k,
        None => {
            return Err(Error::WrongKey {
                path: path.to_path_buf(),
            });
        }
    };
    let fresh = KeySlot::seal(slot.seq + 1, slot.file_id, new, params, &dek)?.encode();
    let other = 1 - cur;
    let w = io(path, "rekey");
    for i in [other, cur] {
        inner.write(KEY_SLOTS[i], &fresh).map_err(&w)?;
        inner.sync_data().map_err(&w)?;
    }
    Ok(())
}

/// Completes a rekey that a crash interrupted between its two key-slot
/// writes. `key` (the new key) must open the current slot; if the other
/// slot is not the same bytes (it still wraps the data key under the old
/// key, or is torn), the current slot is copied over it and synced.
/// Returns whether anything was written. Without this, a file that the new
/// key already opens would keep a copy of its data key under the old one.
pub fn finish_rekey(inner: &impl StorageBackend, path: &Path, key: &KeySource) -> Result<bool> {
    let _guard = LockGuard::take(inner, path)?;
    let (cur, slot, _) = current_key_slot(inner, path)?;
    if slot.open(key)?.is_none() {
        return Err(Error::WrongKey {
            path: path.to_path_buf(),
        });
    }
    let fresh = slot.encode();
    let other = 1 - cur;
    let mut stale = [0u8; KEY_SLOT_LEN];
    inner
        .read(KEY_SLOTS[other], &mut stale)
        .map_err(io(path, "read"))?;
    if stale == fresh {
        return Ok(false);
    }
    let w = io(path, "rekey");
    inner.write(KEY_SLOTS[other], &fresh).map_err(&w)?;
    inner.sync_data().map_err(&w)?;
    Ok(true)
}
