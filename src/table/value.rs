//! Column values: the owned [`Value`], the borrowed [`ValueRef`], and the
//! [`ColumnValue`] conversions between them and Rust field types.
//!
//! `Value` and `ValueRef` have the same variants in the same order, so their
//! postcard encodings are byte-identical: a row written from borrowed values
//! can be read back as owned values and vice versa (tested below).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An owned SQL value, with SQLite's five storage classes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL.
    #[default]
    Null,
    /// A 64-bit signed integer (also booleans, as 0/1).
    Integer(i64),
    /// An IEEE-754 double.
    Real(f64),
    /// UTF-8 text (JSON and timestamps are text, kept byte for byte).
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

/// A borrowed SQL value; decoding a row into `ValueRef`s copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// An IEEE-754 double.
    Real(f64),
    /// UTF-8 text.
    Text(#[serde(borrow)] &'a str),
    /// Raw bytes.
    Blob(#[serde(borrow)] &'a [u8]),
}

impl Value {
    /// Borrows this value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }

    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl ValueRef<'_> {
    /// Copies this value into an owned [`Value`].
    pub fn to_owned(&self) -> Value {
        match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(s) => Value::Text(s.to_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// The storage class name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Integer(_) => "INTEGER",
            ValueRef::Real(_) => "REAL",
            ValueRef::Text(_) => "TEXT",
            ValueRef::Blob(_) => "BLOB",
        }
    }

    /// Renders the value for a message: kind and a truncated literal.
    pub fn describe(&self) -> String {
        format!("{} {}", self.kind(), self)
    }
}

impl ValueRef<'_> {
    /// The value as JSON for exports and dumps. Blobs and non-finite reals,
    /// which JSON cannot hold, become tagged objects (`{"$blob_hex": …}`,
    /// `{"$real": "inf"}`), so nothing is lost or confused with text.
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(i) => i.into(),
            ValueRef::Real(f) => serde_json::Number::from_f64(f)
                .map_or_else(|| serde_json::json!({ "$real": f.to_string() }), Into::into),
            ValueRef::Text(s) => s.into(),
            ValueRef::Blob(b) => serde_json::json!({ "$blob_hex": hex(b) }),
        }
    }

    /// The value as one RFC 4180 CSV field: NULL is an empty field, the
    /// empty string is `""`, blobs are `\x` and hex (PostgreSQL's bytea
    /// form, as `sqlite dump` writes them), reals keep full precision, and
    /// text with a separator, quote, line break or edge space is quoted.
    pub fn to_csv_field(&self) -> String {
        let s = match *self {
            ValueRef::Null => return String::new(),
            ValueRef::Integer(i) => return i.to_string(),
            ValueRef::Real(f) => return format!("{f:?}"),
            ValueRef::Text(s) => s.to_string(),
            ValueRef::Blob(b) => return format!("\\x{}", hex(b)),
        };
        if s.is_empty()
            || s.contains([',', '"', '\n', '\r'])
            || s.starts_with(' ')
            || s.ends_with(' ')
        {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 80;
        match self {
            ValueRef::Null => f.write_str("NULL"),
            ValueRef::Integer(i) => write!(f, "{i}"),
            ValueRef::Real(r) => write!(f, "{r:?}"),
            ValueRef::Text(s) => {
                if s.len() > MAX {
                    let cut = (0..=MAX)
                        .rev()
                        .find(|&i| s.is_char_boundary(i))
                        .unwrap_or(0);
                    write!(f, "{:?}…({} bytes)", &s[..cut], s.len())
                } else {
                    write!(f, "{s:?}")
                }
            }
            ValueRef::Blob(b) => {
                f.write_str("x'")?;
                for byte in b.iter().take(MAX / 2) {
                    write!(f, "{byte:02x}")?;
                }
                if b.len() > MAX / 2 {
                    write!(f, "…({} bytes)", b.len())?;
                }
                f.write_str("'")
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// A Rust type that can live in a column.
///
/// The conversions are strict: an `i64` column never silently accepts text,
/// and a `bool` only accepts 0 and 1. The importer turns everything else into
/// an import reject instead of guessing.
pub trait ColumnValue: Sized {
    /// Whether NULL is representable (true only for `Option<T>`).
    const NULLABLE: bool;
    /// The name of the expected storage class, for messages.
    const EXPECTED: &'static str;
    /// Borrows the field as a value.
    fn to_value(&self) -> ValueRef<'_>;
    /// Converts a stored value; `None` means the value does not fit.
    fn from_value(v: ValueRef<'_>) -> Option<Self>;
    /// Whether [`ColumnValue::from_value`] would succeed, without allocating.
    fn accepts(v: ValueRef<'_>) -> bool;
}

impl ColumnValue for String {
    const NULLABLE: bool = false;
    const EXPECTED: &'static str = "TEXT";
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Text(s) => Some(s.to_owned()),
            _ => None,
        }
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        matches!(v, ValueRef::Text(_))
    }
}

impl ColumnValue for i64 {
    const NULLABLE: bool = false;
    const EXPECTED: &'static str = "INTEGER";
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Integer(*self)
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Integer(i) => Some(i),
            _ => None,
        }
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        matches!(v, ValueRef::Integer(_))
    }
}

impl ColumnValue for f64 {
    const NULLABLE: bool = false;
    const EXPECTED: &'static str = "REAL";
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Real(*self)
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Real(f) => Some(f),
            _ => None,
        }
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        matches!(v, ValueRef::Real(_))
    }
}

impl ColumnValue for bool {
    const NULLABLE: bool = false;
    const EXPECTED: &'static str = "INTEGER 0 or 1";
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Integer(i64::from(*self))
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Integer(0) => Some(false),
            ValueRef::Integer(1) => Some(true),
            _ => None,
        }
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        matches!(v, ValueRef::Integer(0 | 1))
    }
}

impl ColumnValue for Vec<u8> {
    const NULLABLE: bool = false;
    const EXPECTED: &'static str = "BLOB";
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Blob(self)
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Blob(b) => Some(b.to_vec()),
            _ => None,
        }
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        matches!(v, ValueRef::Blob(_))
    }
}

impl ColumnValue for Value {
    const NULLABLE: bool = true;
    const EXPECTED: &'static str = "any value";
    fn to_value(&self) -> ValueRef<'_> {
        self.as_ref()
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        Some(v.to_owned())
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        let _ = v;
        true
    }
}

impl<T: ColumnValue> ColumnValue for Option<T> {
    const NULLABLE: bool = true;
    const EXPECTED: &'static str = T::EXPECTED;
    fn to_value(&self) -> ValueRef<'_> {
        match self {
            Some(v) => v.to_value(),
            None => ValueRef::Null,
        }
    }
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
    fn accepts(v: ValueRef<'_>) -> bool {
        v.is_null() || T::accepts(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_borrowed_encodings_are_identical() {
        let owned = vec![
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Real(-0.0),
            Value::Text("héllo\0".into()),
            Value::Blob(vec![0, 255, 7]),
        ];
        for v in &owned {
            let a = postcard::to_allocvec(v).unwrap();
            let b = postcard::to_allocvec(&v.as_ref()).unwrap();
            assert_eq!(a, b, "{v:?}");
            let back: ValueRef<'_> = postcard::from_bytes(&a).unwrap();
            assert_eq!(back.to_owned().as_ref(), v.as_ref());
        }
    }

    #[test]
    fn bool_is_strict() {
        assert_eq!(bool::from_value(ValueRef::Integer(1)), Some(true));
        assert_eq!(bool::from_value(ValueRef::Integer(2)), None);
        assert_eq!(<Option<bool>>::from_value(ValueRef::Null), Some(None));
    }

    #[test]
    fn display_truncates_on_char_boundary() {
        let s = "é".repeat(100);
        let shown = ValueRef::Text(&s).to_string();
        assert!(shown.contains("200 bytes"), "{shown}");
    }
}
