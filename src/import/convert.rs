//! Typing one SQLite value into a declared column.
//!
//! The only conversions made are the ones that lose nothing and that
//! SQLite's own column affinity would make:
//!
//! | column | accepted as is | converted |
//! |---|---|---|
//! | TEXT, JSON | text | integer → its decimal text |
//! | timestamp text | text in any format (kept byte for byte) | integer or real epoch → its shortest round-trip decimal text |
//! | INTEGER | integer | real with an exact integer value; text that is exactly an integer's decimal form |
//! | boolean | integer 0 or 1 | real 0.0 / 1.0; text `0` / `1` |
//! | REAL, epoch | real | integer up to ±2⁵³; text that is exactly a real's shortest decimal form |
//! | BLOB | blob | — |
//!
//! Anything else is a reject: the row goes whole to `import_rejects` with
//! the offending value's raw bytes and the reason.

use crate::sqlite::ValueRef as Src;
use crate::table::{ColumnDef, SqlType, Value};

/// Why a value could not be typed.
pub type Reason = String;

/// The SQLite storage class of a value, as `typeof()` names it.
pub fn storage_class(v: Src<'_>) -> &'static str {
    match v {
        Src::Null => "null",
        Src::Integer(_) => "integer",
        Src::Real(_) => "real",
        Src::Text(_) => "text",
        Src::Blob(_) => "blob",
    }
}

/// A source value kept as it is (for extra columns and raw tables): text
/// that is not UTF-8 cannot be kept as text.
pub fn keep(v: Src<'_>) -> Result<Value, Reason> {
    Ok(match v {
        Src::Null => Value::Null,
        Src::Integer(i) => Value::Integer(i),
        Src::Real(f) => Value::Real(f),
        Src::Text(t) => Value::Text(utf8(t)?),
        Src::Blob(b) => Value::Blob(b.to_vec()),
    })
}

/// The bytes of a value for the rejects table: text that is not UTF-8 is
/// kept as a blob (the reason says it was text).
pub fn raw(v: Src<'_>) -> Value {
    match v {
        Src::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_string()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        other => keep(other).unwrap_or(Value::Null),
    }
}

fn utf8(t: &[u8]) -> Result<String, Reason> {
    match std::str::from_utf8(t) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(format!(
            "text is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )),
    }
}

/// Whether a conversion happened (for the report's `converted` count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Taken as it is.
    AsIs,
    /// Converted by one of the rules above.
    Converted,
}

const EXACT_F64: i64 = 1 << 53;

/// Types `v` for `col`. The result always satisfies the column's type.
pub fn convert(col: &ColumnDef, v: Src<'_>) -> Result<(Value, How), Reason> {
    let (out, how) = match (col.sql, v) {
        (_, Src::Null) => (Value::Null, How::AsIs),
        (_, Src::Text(t)) if std::str::from_utf8(t).is_err() => return Err(utf8(t).unwrap_err()),
        (SqlType::Text | SqlType::Json, Src::Integer(i)) => {
            (Value::Text(i.to_string()), How::Converted)
        }
        (SqlType::Timestamp, Src::Integer(i)) => (Value::Text(i.to_string()), How::Converted),
        (SqlType::Timestamp, Src::Real(f)) if f.is_finite() => {
            (Value::Text(f.to_string()), How::Converted)
        }
        (SqlType::Integer | SqlType::Bool, Src::Real(f))
            if f.fract() == 0.0 && f.abs() < EXACT_F64 as f64 =>
        {
            (Value::Integer(f as i64), How::Converted)
        }
        (SqlType::Integer | SqlType::Bool, Src::Text(t)) => {
            let s = std::str::from_utf8(t).unwrap_or_default();
            match s.parse::<i64>() {
                Ok(i) if i.to_string() == s => (Value::Integer(i), How::Converted),
                _ => (keep(v)?, How::AsIs),
            }
        }
        (SqlType::Real | SqlType::Epoch, Src::Integer(i)) if i.abs() <= EXACT_F64 => {
            (Value::Real(i as f64), How::Converted)
        }
        (SqlType::Real | SqlType::Epoch, Src::Text(t)) => {
            let s = std::str::from_utf8(t).unwrap_or_default();
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() && f.to_string() == s => (Value::Real(f), How::Converted),
                _ => (keep(v)?, How::AsIs),
            }
        }
        _ => (keep(v)?, How::AsIs),
    };
    if (col.accepts)(out.as_ref()) {
        Ok((out, how))
    } else if out.is_null() {
        Err(format!(
            "NULL in column {}, which the declaration says is NOT NULL",
            col.name
        ))
    } else {
        Err(format!(
            "{} value {} does not fit column {} (expected {})",
            storage_class(v),
            out.as_ref(),
            col.name,
            col.expected
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tokens::TOKEN_BLACKLIST;
    use crate::schema::users::USERS;

    fn col(def: &crate::table::TableDef, name: &str) -> ColumnDef {
        def.columns[def.column_index(name).unwrap()]
    }

    #[test]
    fn epochs_become_reals_and_text_stays_text() {
        let c = col(&TOKEN_BLACKLIST, "expires_at");
        assert_eq!(
            convert(&c, Src::Integer(1_700_000_000)).unwrap(),
            (Value::Real(1.7e9), How::Converted)
        );
        assert_eq!(
            convert(&c, Src::Real(1.5)).unwrap(),
            (Value::Real(1.5), How::AsIs)
        );
        assert!(convert(&c, Src::Text(b"soon")).is_err());
        assert!(convert(&c, Src::Integer(i64::MAX)).is_err());
        let t = col(&USERS, "email");
        assert_eq!(
            convert(&t, Src::Text(b"a\xc3\xa9")).unwrap().0,
            Value::Text("aé".into())
        );
        assert!(
            convert(&t, Src::Text(b"a\xff"))
                .unwrap_err()
                .contains("UTF-8")
        );
        assert!(convert(&t, Src::Null).unwrap_err().contains("NOT NULL"));
        assert!(convert(&t, Src::Blob(b"x")).is_err());
    }

    #[test]
    fn integers_only_from_exact_forms() {
        let c = col(&USERS, "failed_login_count");
        assert_eq!(convert(&c, Src::Real(3.0)).unwrap().0, Value::Integer(3));
        assert!(convert(&c, Src::Real(3.5)).is_err());
        assert_eq!(convert(&c, Src::Text(b"42")).unwrap().0, Value::Integer(42));
        assert!(convert(&c, Src::Text(b"042")).is_err());
        assert!(convert(&c, Src::Text(b" 42")).is_err());
    }
}
