//! SQLite values as the reader returns them (fileformat2 §2.1 storage classes:
//! NULL, INTEGER, REAL, TEXT, BLOB).
//!
//! TEXT is bytes, not `str`: SQLite stores invalid UTF-8 and NUL bytes as given
//! (garbage in, garbage out), and the reader hands them back unchanged.

/// A borrowed value, valid while the row it came from is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// NULL
    Null,
    /// 64-bit signed integer.
    Integer(i64),
    /// IEEE 754 double.
    Real(f64),
    /// Text as UTF-8 bytes (converted from UTF-16 in UTF-16 databases); may be invalid UTF-8.
    Text(&'a [u8]),
    /// Blob bytes.
    Blob(&'a [u8]),
}

/// An owned value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// NULL
    Null,
    /// 64-bit signed integer.
    Integer(i64),
    /// IEEE 754 double.
    Real(f64),
    /// Text bytes (UTF-8 when valid).
    Text(Vec<u8>),
    /// Blob bytes.
    Blob(Vec<u8>),
}

impl<'a> ValueRef<'a> {
    /// Copy into an owned [`Value`].
    pub fn to_owned(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(t.to_vec()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    /// Storage-class name as `typeof()` reports it.
    pub fn type_name(self) -> &'static str {
        match self {
            ValueRef::Null => "null",
            ValueRef::Integer(_) => "integer",
            ValueRef::Real(_) => "real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "blob",
        }
    }

    /// The text as `&str` when it is valid UTF-8.
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }
}

impl Value {
    /// Borrow as a [`ValueRef`].
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Value {
        v.to_owned()
    }
}
