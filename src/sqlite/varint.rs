//! Variable-length integers (fileformat2 §1.6, "A variable-length integer or varint").
//!
//! A varint is 1–9 bytes, big-endian, seven bits per byte with the high bit set on
//! every byte but the last; the ninth byte contributes all eight bits. Decoding is
//! bounds-checked: running off the end of the buffer returns `None`, never panics.

/// Decode a varint at the start of `buf`. Returns the value and the number of bytes used,
/// or `None` if `buf` ends before the varint does.
#[inline]
pub fn read(buf: &[u8]) -> Option<(u64, usize)> {
    // Fast path: one byte.
    let first = *buf.first()?;
    if first < 0x80 {
        return Some((u64::from(first), 1));
    }
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().take(8).enumerate() {
        v = (v << 7) | u64::from(b & 0x7f);
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    let ninth = *buf.get(8)?;
    Some(((v << 8) | u64::from(ninth), 9))
}

/// Decode a varint starting at `pos` in `buf`.
#[inline]
pub fn read_at(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    read(buf.get(pos..)?)
}

#[cfg(test)]
mod tests {
    use super::read;

    fn encode(mut v: u64) -> Vec<u8> {
        if v > 0x00ff_ffff_ffff_ffff {
            let mut out = vec![0u8; 9];
            out[8] = v as u8;
            v >>= 8;
            for i in (0..8).rev() {
                out[i] = (v as u8 & 0x7f) | 0x80;
                v >>= 7;
            }
            return out;
        }
        let mut bytes = Vec::new();
        loop {
            bytes.push((v & 0x7f) as u8);
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        bytes.reverse();
        let n = bytes.len();
        for b in bytes.iter_mut().take(n - 1) {
            *b |= 0x80;
        }
        bytes
    }

    #[test]
    fn round_trip() {
        for v in [
            0u64,
            1,
            127,
            128,
            240,
            2287,
            16383,
            16384,
            1 << 32,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
        ] {
            let e = encode(v);
            assert_eq!(read(&e), Some((v, e.len())), "{v}");
            assert_eq!(read(&e[..e.len() - 1]), None);
        }
        assert_eq!(read(&[]), None);
        assert_eq!(read(&[0xff; 9]), Some((u64::MAX, 9)));
    }
}
