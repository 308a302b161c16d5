//! The row envelope: how one row is stored as a redb value.
//!
//! ```text
//! +---------+---------------------------------------------+--------------+
//! | format  | postcard body                               | CRC-32 (LE)  |
//! | 1 byte  | varint n, n x Value, varint m, m x (String, | of format +  |
//! |  = 1    | Value)   -- columns, then the extras map    | body         |
//! +---------+---------------------------------------------+--------------+
//! ```
//!
//! The body is exactly `postcard((Vec<Value>, BTreeMap<String, Value>))`.
//! Columns are stored in declaration order. A row with fewer columns than
//! the table now declares (written before a column was added) reads the
//! missing columns as their declared defaults, the way SQLite reads records
//! older than an `ALTER TABLE ADD COLUMN`. Columns that no declaration names
//! (from other versions of the original) live in the extras map.
//!
//! Every read checks the CRC and the format byte before decoding anything,
//! and every decode is bounds-checked: damaged bytes give [`EnvelopeError`],
//! never a panic.

use super::value::{Value, ValueRef};
use std::collections::BTreeMap;

/// The current envelope format.
pub const FORMAT: u8 = 1;

/// Columns a row carries that its table does not declare.
pub type Extras = BTreeMap<String, Value>;

/// Why a stored row could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Shorter than format byte + CRC.
    TooShort(usize),
    /// The stored checksum does not match the bytes.
    Checksum {
        /// CRC stored in the row.
        stored: u32,
        /// CRC computed over the row.
        computed: u32,
    },
    /// An unknown format byte.
    Format(u8),
    /// The postcard body is malformed.
    Body(String),
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeError::TooShort(n) => write!(f, "row is {n} bytes, shorter than its envelope"),
            EnvelopeError::Checksum { stored, computed } => write!(
                f,
                "CRC32 mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            EnvelopeError::Format(v) => write!(f, "unknown row format {v}, expected {FORMAT}"),
            EnvelopeError::Body(m) => write!(f, "malformed row body: {m}"),
        }
    }
}

/// Writes a row from a column accessor. `get(i)` must be valid for `0..ncols`.
pub fn encode_row<'a>(
    out: &mut Vec<u8>,
    ncols: usize,
    get: impl Fn(usize) -> ValueRef<'a>,
    extras: &Extras,
) {
    out.clear();
    out.push(FORMAT);
    push_varint(out, ncols as u64);
    for i in 0..ncols {
        // Serializing a ValueRef into a Vec cannot fail.
        let _ = postcard::to_io(&get(i), &mut *out);
    }
    let _ = postcard::to_io(extras, &mut *out);
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Encodes owned values (the generic path used by imports and rewrites).
pub fn encode_values(values: &[Value], extras: &Extras) -> Vec<u8> {
    let mut out = Vec::new();
    encode_row(&mut out, values.len(), |i| values[i].as_ref(), extras);
    out
}

fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Checks the envelope and returns the body.
pub fn open(bytes: &[u8]) -> Result<&[u8], EnvelopeError> {
    if bytes.len() < 5 {
        return Err(EnvelopeError::TooShort(bytes.len()));
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(EnvelopeError::Checksum { stored, computed });
    }
    match data[0] {
        FORMAT => Ok(&data[1..]),
        other => Err(EnvelopeError::Format(other)),
    }
}

/// A borrowed, zero-copy view of a row's columns.
#[derive(Debug)]
pub struct RowView<'a> {
    values: Vec<ValueRef<'a>>,
    extras_at: &'a [u8],
}

impl<'a> RowView<'a> {
    /// Checks and parses a stored row. Copies no text or blob.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let body = open(bytes)?;
        let bad = |e: postcard::Error| EnvelopeError::Body(e.to_string());
        let (n, mut rest) = postcard::take_from_bytes::<u64>(body).map_err(bad)?;
        // Each value takes at least one byte: refuse counts the body can't hold.
        if n > rest.len() as u64 {
            return Err(EnvelopeError::Body(format!(
                "column count {n} exceeds the {} remaining bytes",
                rest.len()
            )));
        }
        let mut values = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (v, r) = postcard::take_from_bytes::<ValueRef<'a>>(rest).map_err(bad)?;
            values.push(v);
            rest = r;
        }
        Ok(RowView {
            values,
            extras_at: rest,
        })
    }

    /// Number of stored columns (may be fewer than the table declares).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the row stores no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Column `i`, or `None` if this row predates that column.
    pub fn get(&self, i: usize) -> Option<ValueRef<'a>> {
        self.values.get(i).copied()
    }

    /// The stored columns.
    pub fn values(&self) -> &[ValueRef<'a>] {
        &self.values
    }

    /// Decodes the extras map (owned).
    pub fn extras(&self) -> Result<Extras, EnvelopeError> {
        let (map, rest) = postcard::take_from_bytes::<Extras>(self.extras_at)
            .map_err(|e| EnvelopeError::Body(format!("extras: {e}")))?;
        if !rest.is_empty() {
            return Err(EnvelopeError::Body(format!(
                "{} trailing bytes after the extras map",
                rest.len()
            )));
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_body_is_postcard_tuple() {
        let vals = vec![Value::Text("x".into()), Value::Null, Value::Real(f64::NAN)];
        let mut extras = Extras::new();
        extras.insert("legacy_col".into(), Value::Integer(3));
        let bytes = encode_values(&vals, &extras);
        let body = open(&bytes).unwrap();
        let direct = postcard::to_allocvec(&(vals.clone(), extras.clone())).unwrap();
        assert_eq!(body, &direct[..]);
        let view = RowView::parse(&bytes).unwrap();
        assert_eq!(view.len(), 3);
        assert_eq!(view.get(0), Some(ValueRef::Text("x")));
        assert_eq!(view.get(3), None);
        assert_eq!(view.extras().unwrap(), extras);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode_values(&[Value::Text("hello".into())], &Extras::new());
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(RowView::parse(&b).is_err(), "flip of bit {i} not detected");
        }
    }

    #[test]
    fn huge_column_count_is_refused_without_allocating() {
        let mut raw = vec![FORMAT, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
        let crc = crc32fast::hash(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(RowView::parse(&raw), Err(EnvelopeError::Body(_))));
    }
}
