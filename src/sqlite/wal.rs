//! The write-ahead log (fileformat2 §4 "The Write-Ahead Log", walformat §1; recovery as
//! in SQLite's `walIndexRecover` / `walDecodeFrame`).
//!
//! ```text
//! WAL header (32 bytes, big-endian u32s):       frame header (24 bytes):
//!   0 magic 0x377f0682 (LE sums) / 0x377f0683 (BE)   0 page number (0 = invalid)
//!   4 format version 3007000                          4 db size in pages after commit, or 0
//!   8 page size                                       8 salt-1   12 salt-2  (= header's)
//!  12 checkpoint sequence                            16 checksum-1  20 checksum-2
//!  16 salt-1   20 salt-2                          followed by one page of data.
//!  24 checksum-1   28 checksum-2 (over bytes 0..24)
//! ```
//! Checksums are cumulative: each frame's covers the header, every earlier frame, the
//! first 8 bytes of its own header and its page. Only frames up to the last valid commit
//! frame count; the first invalid frame (salt mismatch, page 0, checksum) ends the log.

use std::collections::HashMap;
use std::path::Path;

use super::error::{Result, SqliteError};
use super::source::ReadAt;

/// WAL header size.
pub const WAL_HEADER_SIZE: usize = 32;
/// Frame header size.
pub const FRAME_HEADER_SIZE: usize = 24;
const WAL_MAGIC: u32 = 0x377f_0682;
const WAL_VERSION: u32 = 3_007_000;

/// What the reader found in the `-wal` file and how much of it it used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalState {
    /// A `-wal` file (or WAL bytes) was supplied.
    pub present: bool,
    /// Its length in bytes.
    pub bytes: u64,
    /// Whole frames physically present after the header.
    pub frames_total: u32,
    /// Frames that passed the salt, page-number and checksum tests (a prefix).
    pub valid_frames: u32,
    /// Frames up to and including the last valid commit frame: the ones applied.
    pub committed_frames: u32,
    /// Frames present but not applied (uncommitted, torn, stale or invalid).
    pub ignored_frames: u32,
    /// Number of commit frames applied.
    pub commits: u32,
    /// Database size in pages from the last applied commit frame.
    pub db_size_after_commit: Option<u32>,
    /// Checkpoint sequence number from the header.
    pub checkpoint_sequence: u32,
    /// Salt-1 and salt-2 from the header.
    pub salts: (u32, u32),
    /// Page size from the header (0 when the header was not usable).
    pub page_size: u32,
    /// Checksums are computed on big-endian words (magic 0x377f0683).
    pub big_endian_checksums: bool,
    /// Set when the whole WAL was ignored, with the reason.
    pub ignored_reason: Option<String>,
    /// Why the frame scan stopped before the end of the file, if it did.
    pub stop_reason: Option<String>,
    /// The database header says rollback mode (bytes 18/19 = 1) although a WAL was used
    /// (SQLite opens a present WAL regardless, and so does this reader).
    pub header_says_rollback: bool,
}

impl WalState {
    /// Byte offset of frame `n` (1-based) in the `-wal` file.
    pub fn frame_offset(&self, n: u32) -> u64 {
        WAL_HEADER_SIZE as u64
            + u64::from(n.saturating_sub(1))
                * (FRAME_HEADER_SIZE as u64 + u64::from(self.page_size))
    }
}

/// The committed view of a WAL: which frame holds the newest copy of each page.
#[derive(Debug, Default)]
pub struct WalIndex {
    /// Page number → offset of the newest committed frame (its 24-byte header) for it.
    pub pages: HashMap<u32, u64>,
    /// Database size after the last applied commit, if any.
    pub db_size: Option<u32>,
    /// Summary.
    pub state: WalState,
}

fn be32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// SQLite's WAL checksum (`walChecksumBytes`): Fibonacci-weighted sums over pairs of
/// 32-bit words. `data.len()` must be a multiple of 8 (it always is: 8, 24 or a page).
fn checksum(big_endian: bool, data: &[u8], mut s0: u32, mut s1: u32) -> (u32, u32) {
    for chunk in data.chunks_exact(8) {
        let (x0, x1) = match chunk {
            &[a, b, c, d, e, f, g, h] => {
                if big_endian {
                    (
                        u32::from_be_bytes([a, b, c, d]),
                        u32::from_be_bytes([e, f, g, h]),
                    )
                } else {
                    (
                        u32::from_le_bytes([a, b, c, d]),
                        u32::from_le_bytes([e, f, g, h]),
                    )
                }
            }
            _ => (0, 0),
        };
        s0 = s0.wrapping_add(x0).wrapping_add(s1);
        s1 = s1.wrapping_add(x1).wrapping_add(s0);
    }
    (s0, s1)
}

/// Rebuild the committed view of the `len`-byte WAL in `wal` as SQLite's recovery
/// does, reading one frame at a time (memory: the page map plus the frames of the
/// last, uncommitted transaction). `path` names the WAL in I/O errors.
///
/// Returns an error only where SQLite refuses to open (unknown version, page size
/// different from the database's) or the WAL cannot be read; every other defect just
/// shortens the usable prefix.
pub fn recover(wal: &dyn ReadAt, len: u64, db_page_size: u32, path: &Path) -> Result<WalIndex> {
    let io = |off: u64| move |e: std::io::Error| super::load::read_error(path, e, off);
    let mut idx = WalIndex::default();
    let st = &mut idx.state;
    st.present = true;
    st.bytes = len;
    if len <= WAL_HEADER_SIZE as u64 {
        st.ignored_reason = Some(format!("WAL is {len} bytes, no frames"));
        return Ok(idx);
    }
    let mut hdr = [0u8; WAL_HEADER_SIZE];
    wal.read_exact_at(&mut hdr, 0).map_err(io(0))?;
    let magic = be32(&hdr, 0);
    let page_size = be32(&hdr, 8);
    if magic & 0xFFFF_FFFE != WAL_MAGIC {
        st.ignored_reason = Some(format!("bad WAL magic {magic:#010x}"));
        return Ok(idx);
    }
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        st.ignored_reason = Some(format!("bad WAL page size {page_size}"));
        return Ok(idx);
    }
    let big = magic & 1 == 1;
    st.big_endian_checksums = big;
    st.page_size = page_size;
    st.checkpoint_sequence = be32(&hdr, 12);
    st.salts = (be32(&hdr, 16), be32(&hdr, 20));
    let (mut s0, mut s1) = checksum(big, hdr.get(..24).unwrap_or_default(), 0, 0);
    if (s0, s1) != (be32(&hdr, 24), be32(&hdr, 28)) {
        st.ignored_reason = Some("WAL header checksum mismatch".to_string());
        return Ok(idx);
    }
    let version = be32(&hdr, 4);
    if version != WAL_VERSION {
        return Err(SqliteError::WalRejected {
            path: path.to_path_buf(),
            reason: format!("WAL format version: expected {WAL_VERSION}, found {version}"),
        });
    }
    let frame_size = (FRAME_HEADER_SIZE + page_size as usize) as u64;
    let salt = hdr.get(16..24).unwrap_or_default();
    st.frames_total = ((len - WAL_HEADER_SIZE as u64) / frame_size).min(u64::from(u32::MAX)) as u32;
    let mut frame = vec![0u8; frame_size as usize];
    let mut pending: Vec<(u32, u64)> = Vec::new();
    let (mut valid, mut mx_frame, mut commits) = (0u32, 0u32, 0u32);
    let mut off = WAL_HEADER_SIZE as u64;
    while off + frame_size <= len && valid < st.frames_total {
        wal.read_exact_at(&mut frame, off).map_err(io(off))?;
        let (fh, data) = frame.split_at(FRAME_HEADER_SIZE);
        let n = valid + 1;
        if fh.get(8..16) != Some(salt) {
            st.stop_reason = Some(format!(
                "frame {n}: salt differs from the WAL header (stale frame)"
            ));
            break;
        }
        let pgno = be32(fh, 0);
        if pgno == 0 {
            st.stop_reason = Some(format!("frame {n}: page number 0"));
            break;
        }
        let (c0, c1) = checksum(big, fh.get(..8).unwrap_or_default(), s0, s1);
        let (c0, c1) = checksum(big, data, c0, c1);
        if (c0, c1) != (be32(fh, 16), be32(fh, 20)) {
            st.stop_reason = Some(format!("frame {n}: checksum mismatch"));
            break;
        }
        (s0, s1) = (c0, c1);
        valid = n;
        pending.push((pgno, off));
        let commit_size = be32(fh, 4);
        if commit_size != 0 {
            mx_frame = valid;
            idx.db_size = Some(commit_size);
            commits += 1;
            idx.pages.extend(pending.drain(..));
        }
        off += frame_size;
    }
    if st.stop_reason.is_none() && off < len {
        st.stop_reason = Some(format!("{} trailing bytes form a partial frame", len - off));
    }
    st.valid_frames = valid;
    st.committed_frames = mx_frame;
    st.ignored_frames = st.frames_total.saturating_sub(mx_frame);
    st.commits = commits;
    st.db_size_after_commit = idx.db_size;
    if mx_frame > 0 && page_size != db_page_size {
        return Err(SqliteError::WalRejected {
            path: path.to_path_buf(),
            reason: format!(
                "WAL page size {page_size} differs from the database page size {db_page_size}"
            ),
        });
    }
    Ok(idx)
}

/// Check the header of the frame read for page `pgno` (salts of this WAL, same page
/// number): a mismatch means the WAL was reset and rewritten after recovery.
pub fn frame_matches(frame_header: &[u8], pgno: u32, salts: (u32, u32)) -> bool {
    be32(frame_header, 0) == pgno && (be32(frame_header, 8), be32(frame_header, 12)) == salts
}

/// Salts of a WAL header, if it has one (used to detect a WAL reset during the copy).
pub fn header_salts(wal: &[u8]) -> Option<(u32, u32)> {
    if wal.len() < WAL_HEADER_SIZE {
        return None;
    }
    Some((be32(wal, 16), be32(wal, 20)))
}
