//! Opening an encrypted file that the normal open refuses, for `salvage`.
//!
//! The newest authentic commit slot gives the logical length and redb's
//! header. Every block with an intact trailer is then read and
//! authenticated on its own (its AES-GCM tag binds it to the file, its
//! position and its epoch), so a tampered block still fails. A block whose
//! trailer is malformed, or was written after that commit, cannot be read.
//! The block summary (replay detection) and the commit checks are skipped:
//! this is for copying rows out of a damaged file, never for normal use.

use super::backend::{EncryptedBackend, Entry, State, xor};
use super::header::FileKeys;
use super::keys::KeySource;
use super::layout::{blocks_within, data_blocks};
use super::open::{LockGuard, auth, io, unlock};
use super::recover::{read_commits, read_raw_trailers};
use crate::error::Result;
use parking_lot::RwLock;
use redb::StorageBackend;
use std::collections::HashSet;
use std::path::Path;

impl<B: StorageBackend> EncryptedBackend<B> {
    /// Opens `inner` for salvage (see the module docs). A wrong key is still
    /// `WrongKey`; without any authentic commit slot nothing can be read.
    /// What was skipped and which blocks cannot be read are in
    /// [`EncryptedBackend::findings`].
    pub fn open_for_salvage(inner: B, path: &Path, key: &KeySource) -> Result<Self> {
        let guard = LockGuard::take(&inner, path)?;
        let (slot, dek, mut findings) = unlock(&inner, path, key)?;
        let keys = FileKeys::new(&dek, slot.file_id);
        let state = load_for_salvage(&inner, path, &keys, &mut findings)?;
        drop(guard);
        Ok(EncryptedBackend {
            inner,
            name: path.to_path_buf(),
            keys,
            state: RwLock::new(state),
            findings,
        })
    }
}

fn load_for_salvage(
    inner: &impl StorageBackend,
    path: &Path,
    keys: &FileKeys,
    notes: &mut Vec<String>,
) -> Result<State> {
    notes.push(
        "opened for salvage: the block summary and commit checks were skipped; each block is authenticated on its own".into(),
    );
    let (valid, slot_tail) = read_commits(inner, path, keys, notes)?;
    let c = valid
        .into_iter()
        .next()
        .ok_or_else(|| auth(path, "no authentic commit slot: nothing can be read"))?;
    let plen = inner.len().map_err(io(path, "size"))?;
    let phys = blocks_within(plen).unwrap_or(0);
    let trailers = read_raw_trailers(inner, path, phys)?;
    let n = data_blocks(c.len);
    let mut entries = vec![Entry::default(); n as usize];
    let mut summary = [0u8; 32];
    let mut unreadable = HashSet::new();
    for d in 0..n {
        match trailers.get(d as usize).copied().flatten() {
            Some(tr) if tr.flags == 1 && tr.epoch <= c.epoch => {
                xor(&mut summary, &keys.prf(d, &tr.tag));
                entries[d as usize] = Entry {
                    tr,
                    sum: Some(tr.tag),
                };
            }
            // Never written, erased, or first written after the commit.
            Some(tr) if tr.flags == 0 || tr.epoch <= c.epoch || tr.prev == [0; 16] => {}
            // Malformed, missing, or overwritten after the commit.
            _ => {
                unreadable.insert(d);
            }
        }
    }
    if !unreadable.is_empty() {
        let mut list: Vec<u64> = unreadable.iter().map(|d| d + 1).collect();
        list.sort_unstable();
        let shown: Vec<String> = list.iter().take(10).map(u64::to_string).collect();
        notes.push(format!(
            "{} blocks cannot be read (damaged trailer, or overwritten after commit {}): {}{}",
            list.len(),
            c.epoch,
            shown.join(", "),
            if list.len() > 10 { ", ..." } else { "" }
        ));
    }
    Ok(State {
        entries,
        summary,
        unreadable,
        ..State::at_commit(&c, phys, plen, slot_tail)
    })
}
