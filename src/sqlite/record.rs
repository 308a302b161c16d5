//! Record format (fileformat2 §2.1 "Record Format").
//!
//! ```text
//! varint header-size (counts itself) | varint serial type × N | body
//! serial  0 NULL   1..6 BE int of 1,2,3,4,6,8 bytes   7 BE f64
//!         8 int 0   9 int 1 (schema format 4 only)    10,11 reserved
//!         N≥12 even: BLOB of (N−12)/2 bytes   N≥13 odd: TEXT of (N−13)/2 bytes
//! ```
//! The header is parsed once per row into a reusable `Vec<Field>`; values are then
//! decoded lazily as borrowed slices of the payload.

use super::value::ValueRef;
use super::varint;

/// Largest record header SQLite accepts (`OP_Column`: 98307 bytes).
pub const MAX_HEADER: u64 = 98_307;

/// Location of one value in a record payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Field {
    /// Serial type.
    pub serial: u64,
    /// Start of the value's bytes in the payload (or in the converted-text buffer).
    pub start: usize,
    /// Length of the value's bytes.
    pub len: usize,
    /// The bytes live in the row's converted-text buffer (UTF-16 databases).
    pub converted: bool,
}

/// Byte length of a value of serial type `serial`, or `None` for the reserved types 10/11.
#[inline]
pub fn serial_len(serial: u64) -> Option<u64> {
    Some(match serial {
        0 | 8 | 9 => 0,
        1..=4 => serial,
        5 => 6,
        6 | 7 => 8,
        10 | 11 => return None,
        n => (n - 12) / 2,
    })
}

/// A record-level defect: byte offset inside the payload and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Offset in the payload.
    pub offset: usize,
    /// Description (expected vs found).
    pub what: String,
}

/// Parse the record header of `payload` into `fields` (cleared first).
/// `format4` allows serial types 8 and 9 (schema format 4).
pub fn parse_header(
    payload: &[u8],
    fields: &mut Vec<Field>,
    format4: bool,
) -> Result<(), RecordError> {
    fields.clear();
    let err = |offset: usize, what: String| Err(RecordError { offset, what });
    let Some((hdr_size, n)) = varint::read(payload) else {
        return err(
            0,
            format!(
                "header size varint runs past the {}-byte payload",
                payload.len()
            ),
        );
    };
    if hdr_size > MAX_HEADER || hdr_size > payload.len() as u64 || hdr_size < n as u64 {
        return err(
            0,
            format!(
                "header size: expected {n}..={}, found {hdr_size}",
                payload.len().min(MAX_HEADER as usize)
            ),
        );
    }
    let hdr_end = hdr_size as usize;
    let header = payload.get(..hdr_end).unwrap_or_default();
    let mut pos = n;
    let mut body = hdr_end;
    while pos < hdr_end {
        let Some((serial, m)) = varint::read_at(header, pos) else {
            return err(pos, "serial type varint runs past the record header".into());
        };
        let Some(len) = serial_len(serial) else {
            return err(pos, format!("serial type {serial} is reserved"));
        };
        if !format4 && (serial == 8 || serial == 9) {
            return err(pos, format!("serial type {serial} needs schema format 4"));
        }
        let end = body as u64 + len;
        if end > payload.len() as u64 {
            return err(
                pos,
                format!(
                    "field {} (serial type {serial}): ends at byte {end}, past the {}-byte payload",
                    fields.len(),
                    payload.len()
                ),
            );
        }
        fields.push(Field {
            serial,
            start: body,
            len: len as usize,
            converted: false,
        });
        body = end as usize;
        pos += m;
    }
    Ok(())
}

/// Decode a value of serial type `serial` from exactly its bytes.
/// (A NaN real reads as NULL, as in SQLite's `sqlite3VdbeSerialGet`.)
#[inline]
pub fn decode(serial: u64, b: &[u8]) -> ValueRef<'_> {
    match serial {
        0 => ValueRef::Null,
        1..=6 => {
            let mut v: i64 = match b.first() {
                Some(&x) if x & 0x80 != 0 => -1,
                _ => 0,
            };
            for &x in b {
                v = (v << 8) | i64::from(x);
            }
            ValueRef::Integer(v)
        }
        7 => {
            let mut v: u64 = 0;
            for &x in b {
                v = (v << 8) | u64::from(x);
            }
            let f = f64::from_bits(v);
            if f.is_nan() {
                ValueRef::Null
            } else {
                ValueRef::Real(f)
            }
        }
        8 => ValueRef::Integer(0),
        9 => ValueRef::Integer(1),
        n if n >= 12 && n % 2 == 0 => ValueRef::Blob(b),
        n if n >= 13 => ValueRef::Text(b),
        _ => ValueRef::Null,
    }
}

/// True for TEXT serial types.
#[inline]
pub fn is_text(serial: u64) -> bool {
    serial >= 13 && serial % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_sign_extend() {
        assert_eq!(decode(1, &[0xff]), ValueRef::Integer(-1));
        assert_eq!(decode(3, &[0x80, 0, 0]), ValueRef::Integer(-8_388_608));
        assert_eq!(decode(5, &[0, 0, 0, 0, 1, 0]), ValueRef::Integer(256));
        assert_eq!(
            decode(6, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            ValueRef::Integer(i64::MAX)
        );
    }

    #[test]
    fn header_errors() {
        let mut f = Vec::new();
        assert!(parse_header(&[2, 10], &mut f, true).is_err());
        assert!(parse_header(&[5, 1], &mut f, true).is_err());
        assert!(parse_header(&[2, 8], &mut f, false).is_err());
        assert!(parse_header(&[3, 1, 17, 5, b'a', b'b'], &mut f, true).is_ok());
        assert_eq!(f.len(), 2);
        assert!(parse_header(&[2, 19, b'a'], &mut f, true).is_err());
    }
}
