//! Order-preserving key encoding.
//!
//! Primary keys and index entries are byte strings whose bytewise order is
//! the SQL order of the values they encode, so redb's `&[u8]` ordering gives
//! correct range scans. Each value is self-delimiting, so a composite key is
//! the concatenation of its parts and any leading part is a valid prefix.
//!
//! ```text
//! NULL     0x01
//! INTEGER  0x02 + 8 bytes big-endian, sign bit flipped
//! REAL     0x03 + 8 bytes: IEEE-754 total order (negatives inverted)
//! TEXT     0x04 + bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
//! BLOB     0x05 + same escaping as TEXT
//! ```
//!
//! NULL sorts first, as in SQLite. A non-unique index entry is the encoded
//! index columns followed by the encoded primary key.

use super::value::{Value, ValueRef};

const NULL: u8 = 0x01;
const INT: u8 = 0x02;
const REAL: u8 = 0x03;
const TEXT: u8 = 0x04;
const BLOB: u8 = 0x05;

/// Appends one value's key encoding to `out`.
pub fn encode_into(out: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => out.push(NULL),
        ValueRef::Integer(i) => {
            out.push(INT);
            out.extend_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes());
        }
        ValueRef::Real(f) => {
            out.push(REAL);
            let bits = f.to_bits();
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits ^ (1 << 63)
            };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        ValueRef::Text(s) => {
            out.push(TEXT);
            escape_into(out, s.as_bytes());
        }
        ValueRef::Blob(b) => {
            out.push(BLOB);
            escape_into(out, b);
        }
    }
}

fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    // Usual text holds no NUL: one copy (`contains` on bytes is a memchr).
    if bytes.contains(&0) {
        for chunk in bytes.split_inclusive(|&b| b == 0) {
            out.extend_from_slice(chunk);
            if chunk.last() == Some(&0) {
                out.push(0xFF);
            }
        }
    } else {
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Encodes a sequence of values as one key.
pub fn encode<'a>(values: impl IntoIterator<Item = ValueRef<'a>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for v in values {
        encode_into(&mut out, v);
    }
    out
}

/// A key encoding that failed to parse (only possible with damaged bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected.
    pub what: &'static str,
}

/// Decodes one value from the front of `bytes`; returns it and its length.
pub fn decode_one(bytes: &[u8]) -> Result<(Value, usize), KeyError> {
    let err = |offset, what| KeyError { offset, what };
    let (&tag, rest) = bytes.split_first().ok_or(err(0, "a value tag"))?;
    match tag {
        NULL => Ok((Value::Null, 1)),
        INT | REAL => {
            let raw: [u8; 8] = rest
                .get(..8)
                .and_then(|s| s.try_into().ok())
                .ok_or(err(1, "8 bytes of number"))?;
            let n = u64::from_be_bytes(raw);
            let v = if tag == INT {
                Value::Integer((n ^ (1 << 63)) as i64)
            } else {
                let bits = if n >> 63 == 1 { n ^ (1 << 63) } else { !n };
                Value::Real(f64::from_bits(bits))
            };
            Ok((v, 9))
        }
        TEXT | BLOB => {
            let mut data = Vec::new();
            let mut i = 0;
            loop {
                let b = *rest.get(i).ok_or(err(1 + i, "an escaped byte"))?;
                if b != 0 {
                    data.push(b);
                    i += 1;
                    continue;
                }
                match rest.get(i + 1) {
                    Some(0xFF) => data.push(0),
                    Some(0x01) => break,
                    _ => return Err(err(2 + i, "0xFF or 0x01 after 0x00")),
                }
                i += 2;
            }
            let len = 1 + i + 2;
            if tag == BLOB {
                return Ok((Value::Blob(data), len));
            }
            String::from_utf8(data)
                .map(|s| (Value::Text(s), len))
                .map_err(|_| err(1, "UTF-8 text"))
        }
        _ => Err(err(0, "a value tag 0x01..=0x05")),
    }
}

/// Length in bytes of the first `n` values of `bytes`, without decoding them.
pub fn prefix_len(bytes: &[u8], n: usize) -> Result<usize, KeyError> {
    let mut at = 0;
    for _ in 0..n {
        at += skip_one(bytes.get(at..).unwrap_or_default()).map_err(|e| KeyError {
            offset: at + e.offset,
            what: e.what,
        })?;
    }
    Ok(at)
}

/// Length of the first encoded value of `bytes`.
fn skip_one(bytes: &[u8]) -> Result<usize, KeyError> {
    let err = |offset, what| KeyError { offset, what };
    match bytes.first() {
        Some(&NULL) => Ok(1),
        Some(&INT) | Some(&REAL) if bytes.len() >= 9 => Ok(9),
        Some(&INT) | Some(&REAL) => Err(err(1, "8 bytes of number")),
        Some(&TEXT) | Some(&BLOB) => {
            let mut i = 1;
            loop {
                let zero = bytes
                    .get(i..)
                    .and_then(|rest| rest.iter().position(|&b| b == 0))
                    .ok_or(err(i, "an escaped byte"))?;
                i += zero;
                match bytes.get(i + 1) {
                    Some(0xFF) => i += 2,
                    Some(0x01) => return Ok(i + 2),
                    _ => return Err(err(i + 1, "0xFF or 0x01 after 0x00")),
                }
            }
        }
        Some(_) => Err(err(0, "a value tag 0x01..=0x05")),
        None => Err(err(0, "a value tag")),
    }
}

/// Decodes a whole key into its values.
pub fn decode(bytes: &[u8]) -> Result<Vec<Value>, KeyError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (v, len) = decode_one(&bytes[at..]).map_err(|e| KeyError {
            offset: at + e.offset,
            what: e.what,
        })?;
        out.push(v);
        at += len;
    }
    Ok(out)
}

/// Renders a key for messages, e.g. `("a@b.c", 7)`.
pub fn render(bytes: &[u8]) -> String {
    match decode(bytes) {
        Ok(vals) if vals.len() == 1 => vals[0].to_string(),
        Ok(vals) => {
            let parts: Vec<String> = vals.iter().map(ToString::to_string).collect();
            format!("({})", parts.join(", "))
        }
        Err(_) => format!("<undecodable key {} bytes>", bytes.len()),
    }
}

/// The smallest byte string greater than every string starting with `prefix`.
/// `None` means "no upper bound" (the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Things that can be turned into a key: single values and tuples of them.
pub trait IntoKey {
    /// Appends the encoding to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);
    /// Encodes into a fresh vector.
    fn to_key(&self) -> Vec<u8> {
        // Room for a UUID or an email without growing.
        let mut out = Vec::with_capacity(64);
        self.encode_key(&mut out);
        out
    }
}

impl IntoKey for str {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, ValueRef::Text(self))
    }
}
impl IntoKey for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, ValueRef::Text(self))
    }
}
impl IntoKey for i64 {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, ValueRef::Integer(*self))
    }
}
impl IntoKey for f64 {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, ValueRef::Real(*self))
    }
}
impl IntoKey for bool {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, ValueRef::Integer(i64::from(*self)))
    }
}
impl IntoKey for [u8] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, ValueRef::Blob(self))
    }
}
impl IntoKey for Value {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, self.as_ref())
    }
}
impl IntoKey for ValueRef<'_> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_into(out, *self)
    }
}
impl<T: IntoKey + ?Sized> IntoKey for &T {
    fn encode_key(&self, out: &mut Vec<u8>) {
        (**self).encode_key(out)
    }
}
impl<T: IntoKey> IntoKey for Option<T> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.encode_key(out),
            None => encode_into(out, ValueRef::Null),
        }
    }
}
impl<T: IntoKey> IntoKey for [T] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        for v in self {
            v.encode_key(out);
        }
    }
}
/// A key that is already encoded.
#[derive(Debug, Clone, Copy)]
pub struct RawKey<'a>(pub &'a [u8]);

impl IntoKey for RawKey<'_> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0)
    }
}

impl<A: IntoKey, B: IntoKey> IntoKey for (A, B) {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.0.encode_key(out);
        self.1.encode_key(out);
    }
}
impl<A: IntoKey, B: IntoKey, C: IntoKey> IntoKey for (A, B, C) {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.0.encode_key(out);
        self.1.encode_key(out);
        self.2.encode_key(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            any::<f64>()
                .prop_filter("NaN has no order", |f| !f.is_nan())
                .prop_map(Value::Real),
            ".{0,12}".prop_map(Value::Text),
            "[\0a\u{ff}]{0,6}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Blob),
        ]
    }

    fn cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
        use Value::*;
        let rank = |v: &Value| match v {
            Null => 0,
            Integer(_) => 1,
            Real(_) => 2,
            Text(_) => 3,
            Blob(_) => 4,
        };
        match (a, b) {
            (Integer(x), Integer(y)) => Some(x.cmp(y)),
            (Real(x), Real(y)) => Some(x.total_cmp(y)),
            (Text(x), Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
            (Blob(x), Blob(y)) => Some(x.cmp(y)),
            _ => Some(rank(a).cmp(&rank(b))),
        }
    }

    proptest! {
        #[test]
        fn round_trips(vals in proptest::collection::vec(value(), 0..5)) {
            let key = encode(vals.iter().map(Value::as_ref));
            let back = decode(&key).unwrap();
            prop_assert_eq!(back.len(), vals.len());
            for (a, b) in back.iter().zip(&vals) {
                match (a, b) {
                    (Value::Real(x), Value::Real(y)) => prop_assert_eq!(x.to_bits(), y.to_bits()),
                    _ => prop_assert_eq!(a, b),
                }
            }
        }

        #[test]
        fn order_is_preserved(a in value(), b in value(), c in value(), d in value()) {
            let ka = encode([a.as_ref(), c.as_ref()]);
            let kb = encode([b.as_ref(), d.as_ref()]);
            let expected = cmp(&a, &b).unwrap().then_with(|| cmp(&c, &d).unwrap());
            prop_assert_eq!(ka.cmp(&kb), expected);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&bytes);
            let _ = prefix_len(&bytes, 2);
        }

        #[test]
        fn prefix_len_agrees_with_decoding(vals in proptest::collection::vec(value(), 1..5), extra in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut key = encode(vals.iter().map(Value::as_ref));
            let first_n = encode(vals.iter().take(vals.len() - 1).map(Value::as_ref)).len();
            key.extend_from_slice(&extra);
            prop_assert_eq!(prefix_len(&key, vals.len() - 1), Ok(first_n));
        }
    }

    #[test]
    fn edges_sort() {
        let ints = [i64::MIN, -1, 0, 1, i64::MAX];
        let keys: Vec<_> = ints.iter().map(|i| i.to_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let floats = [f64::NEG_INFINITY, -1.5, -0.0, 0.0, 1e-300, f64::INFINITY];
        let keys: Vec<_> = floats.iter().map(|f| f.to_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!("a".to_key() < "a\0".to_key());
        assert!("a\0".to_key() < "ab".to_key());
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
