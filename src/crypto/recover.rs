//! Finding an encrypted file's committed state at open, and the repairs a
//! crash leaves to do.
//!
//! A commit writes data, trailers and its commit slot, then syncs once. So
//! after a crash the newest commit slot may have landed without some of its
//! blocks. The open therefore checks the newest commit, and if that fails,
//! falls back to the one before it (redb's one-phase commit never
//! overwrites the pages the previous durable commit uses):
//!
//! 1. the block summary, recomputed from the trailers, must match; blocks
//!    written after the commit (epoch + 1) count with their previous tag;
//! 2. every block written by the commit itself must authenticate, unless a
//!    trailer of a later epoch is on disk: later writes start only after the
//!    commit's sync returned, so one of them proves the commit durable. (The
//!    backend makes such evidence durable before it overwrites a block of
//!    the last commit.)
//!
//! A fallback erases the discarded commit slot and syncs, so that commit
//! can never come back, and is reported as a finding.

use super::backend::{Entry, State, xor};
use super::header::{COMMIT_MAX, COMMIT_SLOTS, Commit, FileKeys};
use super::layout::{
    BLOCK, GROUP, TRAILER, Trailer, blocks_within, data_blocks, data_off, phys_len, trailer_off,
};
use super::open::{auth, io};
use crate::error::Result;
use redb::StorageBackend;
use std::collections::HashMap;
use std::path::Path;

/// A commit checked against the trailers.
struct Checked {
    entries: Vec<Entry>,
    summary: [u8; 32],
    dirty: HashMap<u64, Option<[u8; 16]>>,
    /// Blocks written after the commit, with their committed tag.
    lost: Vec<(u64, [u8; 16])>,
    /// A trailer of a later epoch is on disk.
    evidence: bool,
}

/// Reads the commit slots and every trailer, and picks the current commit.
pub(super) fn load(
    inner: &impl StorageBackend,
    path: &Path,
    keys: &FileKeys,
) -> Result<(State, Vec<String>)> {
    let mut notes = Vec::new();
    let (valid, slot_tail) = read_commits(inner, path, keys, &mut notes)?;
    let newest = valid
        .first()
        .ok_or_else(|| auth(path, format!("no valid commit slot: {}", notes.join("; "))))?;
    let plen = inner.len().map_err(io(path, "size"))?;
    // Only a file cut inside its header has no whole block count; the open
    // already refused those. A length between two block boundaries is an
    // interrupted growth (the extension did not land, a torn write past it
    // did) or appended bytes: the partial block is ignored, and reported.
    let phys = blocks_within(plen).unwrap_or(0);
    if phys_len(phys) != plen {
        notes.push(format!(
            "file length {plen} ends {} bytes past the last whole block (byte {}): an interrupted growth, or appended bytes",
            plen - phys_len(phys),
            phys_len(phys)
        ));
    }
    let trailers = read_trailers(inner, path, phys)?;
    let (c, checked, discarded) = match check(inner, keys, newest, &trailers, true) {
        Ok(ok) => (newest, ok, None),
        Err(why) => {
            let prev = valid
                .get(1)
                .filter(|p| p.epoch + 1 == newest.epoch)
                .ok_or_else(|| auth(path, why.clone()))?;
            let ok = check(inner, keys, prev, &trailers, false).map_err(|why2| {
                auth(
                    path,
                    format!(
                        "neither commit opens: commit {}: {why}; commit {}: {why2}",
                        newest.epoch, prev.epoch
                    ),
                )
            })?;
            (prev, ok, Some((newest.epoch, why)))
        }
    };
    if let Some((epoch, why)) = &discarded {
        let note = format!(
            "commit {epoch} was discarded and commit {} is current: {why} (a crash before the commit's sync completed, or tampering)",
            c.epoch
        );
        tracing::warn!(file = %path.display(), "{note}");
        notes.push(note);
    }
    let mut state = State {
        entries: checked.entries,
        summary: checked.summary,
        dirty: checked.dirty,
        ..State::at_commit(c, phys, plen, slot_tail)
    };
    repair(
        inner,
        path,
        &mut state,
        &checked.lost,
        discarded.map(|d| d.0),
    )?;
    state.evidence = checked.evidence || !checked.lost.is_empty();
    Ok((state, notes))
}

/// The authentic commit slots, newest first (damaged ones noted), and how
/// many bytes of each slot's region may be non-zero.
pub(super) fn read_commits(
    inner: &impl StorageBackend,
    path: &Path,
    keys: &FileKeys,
    notes: &mut Vec<String>,
) -> Result<(Vec<Commit>, [usize; 2])> {
    let mut valid: Vec<Commit> = Vec::new();
    let mut slot_tail = [0; 2];
    for (i, &o) in COMMIT_SLOTS.iter().enumerate() {
        let mut b = vec![0u8; COMMIT_MAX];
        inner.read(o, &mut b).map_err(io(path, "read"))?;
        slot_tail[i] = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
        match keys.open_commit(i, &b) {
            Ok(c) => valid.push(c),
            Err(why) => notes.push(format!("commit slot {i} at byte {o}: {why}")),
        }
    }
    valid.sort_by_key(|c| std::cmp::Reverse(c.epoch));
    Ok((valid, slot_tail))
}

/// Every trailer of the `phys` physical data blocks, decoded.
fn read_trailers(inner: &impl StorageBackend, path: &Path, phys: u64) -> Result<Vec<Trailer>> {
    read_raw_trailers(inner, path, phys)?
        .into_iter()
        .zip(1u64..)
        .map(|(t, b)| t.ok_or_else(|| auth(path, format!("trailer of block {b} is malformed"))))
        .collect()
}

/// Every trailer of the `phys` physical data blocks; `None` where malformed.
pub(super) fn read_raw_trailers(
    inner: &impl StorageBackend,
    path: &Path,
    phys: u64,
) -> Result<Vec<Option<Trailer>>> {
    let mut out = Vec::with_capacity(phys as usize);
    let mut tb = vec![0u8; BLOCK as usize];
    for d in 0..phys {
        if d % GROUP == 0 {
            inner
                .read(trailer_off(d), &mut tb)
                .map_err(io(path, "read"))?;
        }
        out.push(Trailer::decode(
            &tb[(d % GROUP) as usize * TRAILER..][..TRAILER],
        ));
    }
    Ok(out)
}

/// Checks commit `c` against the trailers; with `confirm`, also that the
/// blocks it wrote reached the disk (unless later writes prove it).
fn check(
    inner: &impl StorageBackend,
    keys: &FileKeys,
    c: &Commit,
    trailers: &[Trailer],
    confirm: bool,
) -> std::result::Result<Checked, String> {
    let n = data_blocks(c.len);
    let phys = trailers.len() as u64;
    if phys < n {
        return Err(format!(
            "file is truncated: commit {} needs {n} data blocks, the file holds {phys} (block {} onwards missing)",
            c.epoch,
            phys + 1
        ));
    }
    let mut out = Checked {
        entries: vec![Entry::default(); n as usize],
        summary: [0; 32],
        dirty: HashMap::new(),
        lost: Vec::new(),
        evidence: false,
    };
    let mut expect = [0u8; 32];
    let mut recent = Vec::new();
    for (d, tr) in (0u64..).zip(trailers) {
        let later = tr.flags != 0 && tr.epoch == c.epoch + 1;
        out.evidence |= later;
        if d >= n {
            if d >= c.phys_max && tr.flags != 0 && !later {
                return Err(format!(
                    "block {} was appended after commit {}",
                    d + 1,
                    c.epoch
                ));
            }
            continue;
        }
        if tr.flags != 0 && tr.epoch > c.epoch + 1 {
            return Err(format!(
                "block {} claims a future commit {} (current {})",
                d + 1,
                tr.epoch,
                c.epoch
            ));
        }
        if later {
            // Written after the commit: count its committed predecessor.
            let prev = (tr.prev != [0; 16]).then_some(tr.prev);
            if let Some(p) = prev {
                xor(&mut expect, &keys.prf(d, &p));
            }
            out.dirty.insert(d, prev);
            out.lost.push((d, tr.prev));
            continue;
        }
        if tr.flags == 1 {
            let term = keys.prf(d, &tr.tag);
            xor(&mut expect, &term);
            xor(&mut out.summary, &term);
            out.entries[d as usize] = Entry {
                tr: *tr,
                sum: Some(tr.tag),
            };
            if tr.epoch == c.epoch {
                recent.push(d);
            }
        }
    }
    if expect != c.summary {
        return Err(format!(
            "block summary mismatch in commit {}: one of blocks 1..={n} was replayed from an older version, removed or zeroed",
            c.epoch
        ));
    }
    if confirm && !out.evidence {
        let mut blk = vec![0u8; BLOCK as usize];
        for d in recent {
            let tr = trailers[d as usize];
            let ok = inner.read(data_off(d), &mut blk).is_ok()
                && keys
                    .aead
                    .open(&tr.nonce, &tr.aad(&keys.file_id, d), &mut blk, &tr.tag);
            if !ok {
                return Err(format!(
                    "block {} (file bytes {}..{}), written by commit {}, failed authentication",
                    d + 1,
                    data_off(d),
                    data_off(d) + BLOCK,
                    c.epoch
                ));
            }
        }
    }
    Ok(out)
}

/// Makes a crash's leftovers harmless, then syncs, so that what the open
/// saw is durable before anything new is written (stale trailers past the
/// physical end, left by a truncation whose trailer zeroing did not land,
/// stay for `verify` to report; the backend zeroes them before it grows
/// the file over them):
/// * blocks written after the commit read as zeros from the next commit on
///   (an "erased" trailer that keeps the committed tag until then);
/// * a discarded commit slot is erased.
fn repair(
    inner: &impl StorageBackend,
    path: &Path,
    st: &mut State,
    lost: &[(u64, [u8; 16])],
    discarded: Option<u64>,
) -> Result<()> {
    let w = io(path, "recover after a crash");
    for &(d, prev) in lost {
        let tr = Trailer {
            flags: 2,
            epoch: st.epoch + 1,
            prev,
            ..Trailer::default()
        };
        let mut b = [0u8; TRAILER];
        tr.encode(&mut b);
        inner.write(trailer_off(d), &b).map_err(&w)?;
    }
    if let Some(epoch) = discarded {
        let slot = COMMIT_SLOTS[(epoch % 2) as usize];
        inner.write(slot, &[0u8; COMMIT_MAX]).map_err(&w)?;
        st.slot_tail[(epoch % 2) as usize] = 0;
    }
    inner.sync_data().map_err(&w)
}
