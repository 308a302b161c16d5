//! Where logical blocks live in the physical file, and the per-block trailer.
//!
//! Logical block 0 (redb's header) lives inside the commit slots. Logical
//! block `i >= 1` is data block `d = i - 1`. Data blocks come in groups of
//! 64, each group led by one 4 KiB trailer block holding the 64 trailers of
//! its blocks (so an open reads every trailer with one read per 256 KiB):
//!
//! ```text
//! DATA_START + g*65*4096:         trailer block of group g (64 x 64 bytes)
//! DATA_START + g*65*4096 + 4096:  data block 64g, 64g+1, ... (4096 bytes each)
//!
//! trailer: flags:u8 pad[7] epoch:u64 nonce[12] tag[16] prev_tag[16] pad[4]
//! ```
//! `flags` 0 = never written (the whole trailer is zero), 1 = written,
//! 2 = erased (reads as zeros from this epoch on). `prev_tag` is the block's
//! tag as of the last durable commit before `epoch` (zero if none), which
//! lets an open after a crash recompute the committed summary.

use super::header::DATA_START;

/// Logical and physical block size.
pub const BLOCK: u64 = 4096;
/// Data blocks per group.
pub const GROUP: u64 = 64;
/// Bytes of one trailer.
pub const TRAILER: usize = 64;

/// Data blocks needed for a logical length.
pub fn data_blocks(len: u64) -> u64 {
    len.saturating_sub(BLOCK).div_ceil(BLOCK)
}

/// Physical offset of data block `d`.
pub fn data_off(d: u64) -> u64 {
    DATA_START + (d / GROUP) * (GROUP + 1) * BLOCK + BLOCK + (d % GROUP) * BLOCK
}

/// Physical offset of the trailer of data block `d`.
pub fn trailer_off(d: u64) -> u64 {
    DATA_START + (d / GROUP) * (GROUP + 1) * BLOCK + (d % GROUP) * TRAILER as u64
}

/// Physical length of a file with `n` data blocks.
pub fn phys_len(n: u64) -> u64 {
    if n == 0 {
        DATA_START
    } else {
        data_off(n - 1) + BLOCK
    }
}

/// The most data blocks wholly present in a file of `len` bytes (the
/// largest `n` with `phys_len(n) <= len`); `None` inside the header.
pub fn blocks_within(len: u64) -> Option<u64> {
    if len < DATA_START {
        return None;
    }
    let rest = len - DATA_START;
    let full = rest / ((GROUP + 1) * BLOCK);
    let tail = rest % ((GROUP + 1) * BLOCK);
    Some(full * GROUP + (tail / BLOCK).saturating_sub(1))
}

/// A block's trailer.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Trailer {
    /// 0 never written, 1 written, 2 erased.
    pub flags: u8,
    /// Commit epoch the write belongs to.
    pub epoch: u64,
    /// AES-GCM nonce.
    pub nonce: [u8; 12],
    /// AES-GCM tag.
    pub tag: [u8; 16],
    /// Tag as of the last durable commit before `epoch`.
    pub prev: [u8; 16],
}

impl Trailer {
    /// Encodes into 64 bytes.
    pub fn encode(&self, out: &mut [u8]) {
        out[..TRAILER].fill(0);
        if self.flags == 0 {
            return;
        }
        out[0] = self.flags;
        out[8..16].copy_from_slice(&self.epoch.to_le_bytes());
        out[16..28].copy_from_slice(&self.nonce);
        out[28..44].copy_from_slice(&self.tag);
        out[44..60].copy_from_slice(&self.prev);
    }

    /// The 64 encoded bytes.
    pub fn encoded(&self) -> [u8; TRAILER] {
        let mut b = [0u8; TRAILER];
        self.encode(&mut b);
        b
    }

    /// Decodes 64 bytes; `None` if malformed or shorter.
    pub fn decode(b: &[u8]) -> Option<Trailer> {
        let b = b.get(..TRAILER)?;
        let t = Trailer {
            flags: b[0],
            epoch: u64::from_le_bytes(b[8..16].try_into().ok()?),
            nonce: b[16..28].try_into().ok()?,
            tag: b[28..44].try_into().ok()?,
            prev: b[44..60].try_into().ok()?,
        };
        let pads_zero = b[1..8].iter().chain(&b[60..64]).all(|&x| x == 0);
        let ok = match t.flags {
            0 => b[..TRAILER].iter().all(|&x| x == 0),
            1 => pads_zero,
            2 => pads_zero && t.nonce == [0; 12] && t.tag == [0; 16],
            _ => false,
        };
        ok.then_some(t)
    }

    /// Associated data binding a block's ciphertext to its file, position,
    /// epoch and predecessor.
    pub fn aad(&self, file_id: &[u8; 16], d: u64) -> [u8; 56] {
        let mut a = [0u8; 56];
        a[..8].copy_from_slice(b"ADBBLK01");
        a[8..24].copy_from_slice(file_id);
        a[24..32].copy_from_slice(&d.to_le_bytes());
        a[32..40].copy_from_slice(&self.epoch.to_le_bytes());
        a[40..56].copy_from_slice(&self.prev);
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        for n in 0..300 {
            assert_eq!(blocks_within(phys_len(n)), Some(n), "{n}");
            assert_eq!(blocks_within(phys_len(n) + 1), Some(n), "{n}");
            assert_eq!(blocks_within(phys_len(n + 1) - 1), Some(n), "{n}");
        }
        assert_eq!(blocks_within(DATA_START - 1), None);
        assert_eq!(data_blocks(0), 0);
        assert_eq!(data_blocks(4096), 0);
        assert_eq!(data_blocks(4097), 1);
        assert_eq!(data_blocks(3 * 4096), 2);
        assert!(trailer_off(63) + 64 <= data_off(0));
        assert_eq!(data_off(64), data_off(63) + 2 * BLOCK);
    }
}
