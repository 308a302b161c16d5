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
//! A body of [`COMPRESS_MIN`] bytes or more (debate transcripts, JSON,
//! embeddings) is stored LZ4-compressed when that saves at least an eighth:
//! format byte 2, the body's length as a varint, the LZ4 block, the CRC of
//! all of it. [`with_view`] reads both formats.
//! Columns are stored in declaration order. A row with fewer columns than
//! the table now declares (written before a column was added) reads the
//! missing columns as their declared defaults, the way SQLite reads records
//! older than an `ALTER TABLE ADD COLUMN`. Columns that no declaration names
//! (from other versions of the original) live in the extras map.
//!
//! Every read checks the CRC and the format byte before decoding anything,
//! and every decode is bounds-checked: damaged bytes give [`EnvelopeError`],
//! never a panic.

use super::value::{ColumnValue, Value, ValueRef};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The envelope format of an uncompressed row.
pub const FORMAT: u8 = 1;
/// The envelope format of a row whose body is LZ4-compressed.
pub const FORMAT_LZ4: u8 = 2;
/// Bodies at least this long are compressed when that saves an eighth.
pub const COMPRESS_MIN: usize = 256;
/// The largest body a compressed row may claim: a bound on what damaged
/// bytes can make a decode allocate.
const MAX_BODY: u64 = 1 << 30;

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
            EnvelopeError::Format(v) => write!(
                f,
                "unknown row format {v}, expected {FORMAT} or {FORMAT_LZ4}"
            ),
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
        put_value(out, get(i));
    }
    if extras.is_empty() {
        out.push(0);
    } else {
        // Serializing a map of owned values into a Vec cannot fail.
        let _ = postcard::to_io(extras, &mut *out);
    }
    if out.len() > COMPRESS_MIN {
        compress_in_place(out);
    }
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Encodes owned values (the generic path used by imports and rewrites).
pub fn encode_values(values: &[Value], extras: &Extras) -> Vec<u8> {
    let mut out = Vec::new();
    encode_row(&mut out, values.len(), |i| values[i].as_ref(), extras);
    out
}

/// Replaces `[FORMAT, body...]` by its compressed form when that pays.
fn compress_in_place(out: &mut Vec<u8>) {
    let body = &out[1..];
    let packed = lz4_flex::block::compress(body);
    let mut head = Vec::with_capacity(11);
    head.push(FORMAT_LZ4);
    push_varint(&mut head, body.len() as u64);
    if head.len() + packed.len() + body.len() / 8 <= body.len() {
        out.clear();
        out.extend_from_slice(&head);
        out.extend_from_slice(&packed);
    }
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

/// Appends one value in postcard's encoding of [`ValueRef`]: the variant
/// index as a varint, then zigzag varint (Integer), 8 little-endian bytes
/// (Real) or a varint length and the bytes (Text, Blob). Hand-written for
/// speed; a property test checks it byte for byte against postcard.
fn put_value(out: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => out.push(0),
        ValueRef::Integer(i) => {
            out.push(1);
            push_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        }
        ValueRef::Real(f) => {
            out.push(2);
            out.extend_from_slice(&f.to_le_bytes());
        }
        ValueRef::Text(s) => {
            out.push(3);
            push_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        ValueRef::Blob(b) => {
            out.push(4);
            push_varint(out, b.len() as u64);
            out.extend_from_slice(b);
        }
    }
}

fn take_varint(buf: &[u8]) -> Result<(u64, &[u8]), EnvelopeError> {
    let mut n: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        let bits = u64::from(b & 0x7F);
        if i == 9 && b > 1 {
            break;
        }
        n |= bits << (7 * i);
        if b & 0x80 == 0 {
            return Ok((n, &buf[i + 1..]));
        }
    }
    Err(EnvelopeError::Body("bad varint".into()))
}

fn take_bytes(buf: &[u8]) -> Result<(&[u8], &[u8]), EnvelopeError> {
    let (len, rest) = take_varint(buf)?;
    if len > rest.len() as u64 {
        return Err(EnvelopeError::Body(format!(
            "length {len} exceeds the {} remaining bytes",
            rest.len()
        )));
    }
    Ok(rest.split_at(len as usize))
}

/// Reads one value written by [`put_value`] (or by postcard).
fn take_value(buf: &[u8]) -> Result<(ValueRef<'_>, &[u8]), EnvelopeError> {
    let (tag, rest) = take_varint(buf)?;
    match tag {
        0 => Ok((ValueRef::Null, rest)),
        1 => {
            let (z, rest) = take_varint(rest)?;
            Ok((
                ValueRef::Integer(((z >> 1) as i64) ^ -((z & 1) as i64)),
                rest,
            ))
        }
        2 => {
            let raw: [u8; 8] = rest
                .get(..8)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| EnvelopeError::Body("truncated REAL".into()))?;
            Ok((ValueRef::Real(f64::from_le_bytes(raw)), &rest[8..]))
        }
        3 => {
            let (bytes, rest) = take_bytes(rest)?;
            let s = std::str::from_utf8(bytes)
                .map_err(|e| EnvelopeError::Body(format!("TEXT is not UTF-8: {e}")))?;
            Ok((ValueRef::Text(s), rest))
        }
        4 => {
            let (bytes, rest) = take_bytes(rest)?;
            Ok((ValueRef::Blob(bytes), rest))
        }
        other => Err(EnvelopeError::Body(format!("unknown value tag {other}"))),
    }
}

/// Checks the envelope (length, CRC, format) and returns the body,
/// decompressed if it was stored compressed.
pub fn body(bytes: &[u8]) -> Result<Cow<'_, [u8]>, EnvelopeError> {
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
        FORMAT => Ok(Cow::Borrowed(&data[1..])),
        FORMAT_LZ4 => {
            let (n, packed) = take_varint(&data[1..])?;
            if n > MAX_BODY || n > (packed.len() as u64).saturating_mul(255) + 16 {
                return Err(EnvelopeError::Body(format!(
                    "compressed body claims {n} bytes from {} packed bytes",
                    packed.len()
                )));
            }
            let mut out = vec![0u8; n as usize];
            let got = lz4_flex::block::decompress_into(packed, &mut out)
                .map_err(|e| EnvelopeError::Body(format!("LZ4: {e}")))?;
            if got as u64 != n {
                return Err(EnvelopeError::Body(format!(
                    "compressed body is {got} bytes, its header says {n}"
                )));
            }
            Ok(Cow::Owned(out))
        }
        other => Err(EnvelopeError::Format(other)),
    }
}

/// Checks a stored row of either format and hands its columns, in one
/// forward pass, to `f` (the typed decode of [`Row::decode`](super::Row::decode)).
/// The same checks as [`with_view`], nothing parsed twice, no value
/// array. `None` when anything is wrong (envelope, body, or `f` gives
/// `None`): the caller then reads the row through [`with_view`], which
/// names the problem. The fast path carries no error to build.
#[inline]
pub fn with_columns<T>(bytes: &[u8], f: impl FnOnce(&mut Columns<'_>) -> Option<T>) -> Option<T> {
    let body = body(bytes).ok()?;
    let (n, rest) = take_varint(&body).ok()?;
    // Each value takes at least one byte: refuse counts the body can't hold.
    if n > rest.len() as u64 {
        return None;
    }
    // One UTF-8 check of the whole body instead of one per text value: a
    // row of ASCII text and small integers is valid UTF-8 throughout, and
    // a text value inside a valid prefix is then a slice of it (checked
    // against char boundaries by `str::get`). A row that is not (a REAL,
    // a blob, a long value) keeps its longest valid prefix; text past it is
    // checked on its own.
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default(),
    };
    f(&mut Columns {
        rest,
        left: n,
        size: body.len(),
        text,
    })
}

/// The stored columns of a checked body, read one at a time in storage
/// order, then the extras map. Every read is bounds-checked.
pub struct Columns<'a> {
    /// What is left of the body.
    rest: &'a [u8],
    /// Columns not read yet.
    left: u64,
    /// Length of the whole body: `rest` starts at `size - rest.len()`.
    size: usize,
    /// The longest prefix of the body that is valid UTF-8.
    text: &'a str,
}

impl<'a> Columns<'a> {
    /// The next column converted to `T`; a row written before the column
    /// was added gives `default()` converted. `None` if the bytes are
    /// malformed or the value does not fit `T`.
    #[inline(always)]
    pub fn next_column<T: ColumnValue>(&mut self, default: impl FnOnce() -> Value) -> Option<T> {
        if self.left == 0 {
            return T::from_value(default().as_ref());
        }
        let v = self.take_value_fast()?;
        self.left -= 1;
        T::from_value(v)
    }

    /// Checks the columns not read yet (a row that stores more than the
    /// table declares) and the extras map, and returns the map.
    #[inline]
    pub fn finish(&mut self) -> Option<Extras> {
        while self.left > 0 {
            self.rest = take_value(self.rest).ok()?.1;
            self.left -= 1;
        }
        extras_of(self.rest).ok()
    }

    /// Reads one value as [`take_value`] does, with the one-byte tag and
    /// length of every usual value read inline.
    #[inline(always)]
    fn take_value_fast(&mut self) -> Option<ValueRef<'a>> {
        let (v, rest) = match self.rest {
            [0, rest @ ..] => (ValueRef::Null, rest),
            [1, z, rest @ ..] if *z < 0x80 => {
                let z = u64::from(*z);
                (
                    ValueRef::Integer(((z >> 1) as i64) ^ -((z & 1) as i64)),
                    rest,
                )
            }
            [3, len, tail @ ..] if *len < 0x80 && usize::from(*len) <= tail.len() => {
                let (bytes, rest) = tail.split_at(usize::from(*len));
                let start = self.size - tail.len();
                let s = match self.text.get(start..start + bytes.len()) {
                    Some(s) => s,
                    None => std::str::from_utf8(bytes).ok()?,
                };
                (ValueRef::Text(s), rest)
            }
            other => take_value(other).ok()?,
        };
        self.rest = rest;
        Some(v)
    }
}

/// Decodes an extras map as stored after the columns.
fn extras_of(at: &[u8]) -> Result<Extras, EnvelopeError> {
    if at == [0] {
        return Ok(Extras::new());
    }
    let (map, rest) = postcard::take_from_bytes::<Extras>(at)
        .map_err(|e| EnvelopeError::Body(format!("extras: {e}")))?;
    if !rest.is_empty() {
        return Err(EnvelopeError::Body(format!(
            "{} trailing bytes after the extras map",
            rest.len()
        )));
    }
    Ok(map)
}

/// Checks and decodes a stored row of either format and hands its view to
/// `f`. This is how rows are read as values (tools, imports, checks).
pub fn with_view<T>(bytes: &[u8], f: impl FnOnce(&RowView<'_>) -> T) -> Result<T, EnvelopeError> {
    let body = body(bytes)?;
    let view = RowView::parse_body(&body)?;
    Ok(f(&view))
}

/// A borrowed, zero-copy view of a row's columns.
#[derive(Debug)]
pub struct RowView<'a> {
    values: Values<'a>,
    extras_at: &'a [u8],
}

/// Up to [`INLINE`] values live on the stack: decoding a row allocates
/// nothing but the caller's own copies.
const INLINE: usize = 40;

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "the inline variant is the point: it lives on the stack of one decode"
)]
enum Values<'a> {
    Inline([ValueRef<'a>; INLINE], usize),
    Heap(Vec<ValueRef<'a>>),
}

impl<'a> Values<'a> {
    fn with_capacity(n: usize) -> Self {
        if n <= INLINE {
            Values::Inline([ValueRef::Null; INLINE], 0)
        } else {
            Values::Heap(Vec::with_capacity(n))
        }
    }

    fn push(&mut self, v: ValueRef<'a>) {
        match self {
            Values::Inline(arr, len) if *len < INLINE => {
                arr[*len] = v;
                *len += 1;
            }
            Values::Inline(arr, len) => {
                let mut vec = arr[..*len].to_vec();
                vec.push(v);
                *self = Values::Heap(vec);
            }
            Values::Heap(vec) => vec.push(v),
        }
    }

    fn as_slice(&self) -> &[ValueRef<'a>] {
        match self {
            Values::Inline(arr, len) => &arr[..*len],
            Values::Heap(vec) => vec,
        }
    }
}

impl<'a> RowView<'a> {
    /// Checks and parses a stored row without copying any text or blob.
    /// A compressed row cannot be viewed in place: read rows with
    /// [`with_view`], which handles both formats.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        match body(bytes)? {
            Cow::Borrowed(b) => Self::parse_body(b),
            Cow::Owned(_) => Err(EnvelopeError::Body(
                "the row is compressed: read it with codec::with_view".into(),
            )),
        }
    }

    /// Parses a checked body (see [`body`]).
    pub fn parse_body(body: &'a [u8]) -> Result<Self, EnvelopeError> {
        let (n, mut rest) = take_varint(body)?;
        // Each value takes at least one byte: refuse counts the body can't hold.
        if n > rest.len() as u64 {
            return Err(EnvelopeError::Body(format!(
                "column count {n} exceeds the {} remaining bytes",
                rest.len()
            )));
        }
        let mut values = Values::with_capacity(n as usize);
        for _ in 0..n {
            let (v, r) = take_value(rest)?;
            values.push(v);
            rest = r;
        }
        Ok(RowView {
            values,
            extras_at: rest,
        })
    }

    /// A view over values that did not come from a stored row (rows read
    /// from SQLite, the importer's column mapping).
    pub fn from_values(values: Vec<ValueRef<'a>>) -> Self {
        RowView {
            values: Values::Heap(values),
            extras_at: &[0],
        }
    }

    /// Number of stored columns (may be fewer than the table declares).
    pub fn len(&self) -> usize {
        self.values.as_slice().len()
    }

    /// True when the row stores no columns.
    pub fn is_empty(&self) -> bool {
        self.values.as_slice().is_empty()
    }

    /// Column `i`, or `None` if this row predates that column.
    pub fn get(&self, i: usize) -> Option<ValueRef<'a>> {
        self.values.as_slice().get(i).copied()
    }

    /// The stored columns.
    pub fn values(&self) -> &[ValueRef<'a>] {
        self.values.as_slice()
    }

    /// Decodes the extras map (owned).
    pub fn extras(&self) -> Result<Extras, EnvelopeError> {
        extras_of(self.extras_at)
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
        let body = body(&bytes).unwrap();
        let direct = postcard::to_allocvec(&(vals.clone(), extras.clone())).unwrap();
        assert_eq!(&body[..], &direct[..]);
        let view = RowView::parse(&bytes).unwrap();
        assert_eq!(view.len(), 3);
        assert_eq!(view.get(0), Some(ValueRef::Text("x")));
        assert_eq!(view.get(3), None);
        assert_eq!(view.extras().unwrap(), extras);
    }

    proptest::proptest! {
        #[test]
        fn hand_encoding_is_postcard(vals in proptest::collection::vec(value(), 0..8)) {
            let bytes = encode_values(&vals, &Extras::new());
            let body = body(&bytes).unwrap();
            let by_postcard = postcard::to_allocvec(&(vals.clone(), Extras::new())).unwrap();
            proptest::prop_assert_eq!(&body[..], &by_postcard[..]);
            let seen = with_view(&bytes, |view| {
                view.values().iter().map(|a| format!("{a:?}")).collect::<Vec<_>>()
            }).unwrap();
            let want: Vec<String> = vals.iter().map(|b| format!("{:?}", b.as_ref())).collect();
            proptest::prop_assert_eq!(seen, want);
        }

        #[test]
        fn parse_never_panics(mut bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = with_view(&bytes, |v| v.extras());
            // Also with a valid CRC, so the body decoders themselves are exercised.
            for format in [FORMAT, FORMAT_LZ4] {
                if !bytes.is_empty() {
                    bytes[0] = format;
                    let mut b = bytes.clone();
                    let crc = crc32fast::hash(&b);
                    b.extend_from_slice(&crc.to_le_bytes());
                    let _ = with_view(&b, |v| v.extras());
                }
            }
        }
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            any::<f64>().prop_map(Value::Real),
            ".{0,20}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Blob),
        ]
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
    fn large_rows_are_compressed_and_read_back() {
        let text = "the debate went on and on; ".repeat(200);
        let vals = vec![Value::Text(text.clone()), Value::Integer(7)];
        let mut extras = Extras::new();
        extras.insert("legacy".into(), Value::Text(text.clone()));
        let bytes = encode_values(&vals, &extras);
        assert_eq!(bytes[0], FORMAT_LZ4);
        assert!(bytes.len() < text.len() / 4, "{} bytes", bytes.len());
        let (first, ex) =
            with_view(&bytes, |v| (v.get(0).map(|x| x.to_owned()), v.extras())).unwrap();
        assert_eq!(first, Some(Value::Text(text)));
        assert_eq!(ex.unwrap(), extras);
        // Incompressible bodies stay uncompressed.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..2000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert_eq!(
            encode_values(&[Value::Blob(noise)], &Extras::new())[0],
            FORMAT
        );
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(
                with_view(&b, |_| ()).is_err(),
                "flip of bit {i} not detected"
            );
        }
    }

    #[test]
    fn a_compressed_row_cannot_claim_a_huge_body() {
        let mut raw = vec![FORMAT_LZ4, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x10, 0x41];
        let crc = crc32fast::hash(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            with_view(&raw, |_| ()),
            Err(EnvelopeError::Body(_))
        ));
    }

    #[test]
    fn huge_column_count_is_refused_without_allocating() {
        let mut raw = vec![FORMAT, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
        let crc = crc32fast::hash(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(RowView::parse(&raw), Err(EnvelopeError::Body(_))));
    }
}
