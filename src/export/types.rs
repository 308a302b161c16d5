//! The PostgreSQL type of each column and the text form of each value.
//!
//! A column's type comes from its declared [`SqlType`]. A value *fits* a
//! type when PostgreSQL can hold it without loss; a column with a value
//! that does not fit is *widened* along a fixed chain (see
//! [`PgType::widenings`]) and the export report says so. The text form
//! ([`text_form`]) is what PostgreSQL's input function for the type reads;
//! COPY and INSERT only differ in how they escape it.

use crate::table::{SqlType, ValueRef};
use chrono::{Datelike, NaiveDate, NaiveTime};

pub use crate::table::def::PgType;

impl PgType {
    /// The type a declared column starts from.
    pub fn of(sql: SqlType) -> PgType {
        match sql {
            SqlType::Text => PgType::Text,
            SqlType::Integer => PgType::BigInt,
            SqlType::Real | SqlType::Epoch => PgType::Double,
            SqlType::Blob => PgType::Bytea,
            SqlType::Bool => PgType::Boolean,
            SqlType::Json => PgType::Jsonb,
            SqlType::Timestamp => PgType::Timestamptz,
        }
    }

    /// The SQL spelling.
    pub fn sql(self) -> &'static str {
        match self {
            PgType::Boolean => "boolean",
            PgType::Integer => "integer",
            PgType::BigInt => "bigint",
            PgType::Double => "double precision",
            PgType::Timestamptz | PgType::TimestamptzEpoch => "timestamptz",
            PgType::Jsonb => "jsonb",
            PgType::Text => "text",
            PgType::Bytea => "bytea",
        }
    }

    /// The types tried, in order, when a column holds a value that does not
    /// fit this one. `bytea` accepts every value, so the chain always ends.
    pub fn widenings(self) -> &'static [PgType] {
        match self {
            PgType::Boolean | PgType::Integer => &[PgType::BigInt, PgType::Text, PgType::Bytea],
            PgType::Text => &[PgType::Bytea],
            // NaN and instants beyond year 9999 fit double precision.
            PgType::TimestamptzEpoch => &[PgType::Double, PgType::Text, PgType::Bytea],
            PgType::Bytea => &[PgType::Bytea],
            _ => &[PgType::Text, PgType::Bytea],
        }
    }

    /// Whether `v` is of this type's own kind: [`PgType::fits`] without the
    /// text conversion of numbers. A value that fits but is not exact (an
    /// integer in a text column) is written as text and reported.
    pub fn exact(self, v: ValueRef<'_>) -> bool {
        self.exact_if_fits(v, self.fits(v))
    }

    /// [`PgType::exact`] given `fits == self.fits(v)`.
    pub fn exact_if_fits(self, v: ValueRef<'_>, fits: bool) -> bool {
        match (self, v) {
            (PgType::Text, ValueRef::Integer(_) | ValueRef::Real(_)) => false,
            (PgType::Bytea, ValueRef::Blob(_) | ValueRef::Null) => true,
            (PgType::Bytea, _) => false,
            _ => fits,
        }
    }

    /// Whether PostgreSQL holds `v` in this type without loss. NULL fits
    /// everywhere (NOT NULL is checked separately).
    pub fn fits(self, v: ValueRef<'_>) -> bool {
        match (self, v) {
            (_, ValueRef::Null) => true,
            (PgType::Boolean, ValueRef::Integer(i)) => i == 0 || i == 1,
            (PgType::Integer, ValueRef::Integer(i)) => i32::try_from(i).is_ok(),
            (PgType::BigInt, ValueRef::Integer(_)) => true,
            (PgType::Double, ValueRef::Real(_)) => true,
            (PgType::Timestamptz, ValueRef::Text(s)) => parse_timestamp(s).is_some(),
            (PgType::TimestamptzEpoch, ValueRef::Real(f)) => {
                f.is_infinite() || super::pgshape::epoch_micros(f).is_some()
            }
            (PgType::Jsonb, ValueRef::Text(s)) => json_fits(s),
            // Integers and reals keep their digits as text (SQLite's CAST).
            (PgType::Text, ValueRef::Text(s)) => !s.contains('\0'),
            (PgType::Text, ValueRef::Integer(_) | ValueRef::Real(_)) => true,
            (PgType::Bytea, _) => true,
            _ => false,
        }
    }
}

/// Whether `s` is JSON that `jsonb` accepts: it parses, and no string or
/// key holds U+0000 (jsonb rejects `\u0000`).
pub fn json_fits(s: &str) -> bool {
    fn no_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => !s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().all(no_nul),
            serde_json::Value::Object(o) => o.iter().all(|(k, v)| !k.contains('\0') && no_nul(v)),
            _ => true,
        }
    }
    if !s.contains("u0000") {
        // No `\u0000` escape is possible: validate without building a tree.
        return serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok();
    }
    serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| no_nul(&v))
}

/// The text of a real as PostgreSQL's `float8in` reads it: shortest
/// round-trip digits, `NaN`, `Infinity`, `-Infinity`, `-0`.
pub fn real_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

/// [`text_form`] without a copy when the value's own text is its text form
/// (text and JSON), which is most of the bytes of an export.
pub fn text_form_cow(v: ValueRef<'_>, ty: PgType) -> Option<std::borrow::Cow<'_, str>> {
    match (ty, v) {
        (PgType::Text | PgType::Jsonb, ValueRef::Text(s)) => Some(std::borrow::Cow::Borrowed(s)),
        _ => text_form(v, ty).map(std::borrow::Cow::Owned),
    }
}

/// The text form of a value for a column of type `ty`, or `None` for NULL.
/// `bytea` is in hex input format (`\x0a0b`); text in a `bytea` column is
/// its UTF-8 bytes, numbers their digits. The value must fit `ty`.
pub fn text_form(v: ValueRef<'_>, ty: PgType) -> Option<String> {
    Some(match (ty, v) {
        (_, ValueRef::Null) => return None,
        (PgType::Boolean, ValueRef::Integer(i)) => if i != 0 { "t" } else { "f" }.into(),
        (PgType::Timestamptz, ValueRef::Text(s)) => match parse_timestamp(s) {
            Some(ts) => ts.canonical(),
            None => s.to_string(),
        },
        (PgType::TimestamptzEpoch, ValueRef::Real(f)) => {
            super::pgshape::epoch_text(f).unwrap_or_else(|| real_text(f))
        }
        (PgType::Bytea, v) => {
            let mut out = String::from("\\x");
            let digits = |out: &mut String, b: &[u8]| {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.reserve(2 * b.len());
                for &x in b {
                    out.push(HEX[usize::from(x >> 4)] as char);
                    out.push(HEX[usize::from(x & 15)] as char);
                }
            };
            match v {
                ValueRef::Blob(b) => digits(&mut out, b),
                ValueRef::Text(s) => digits(&mut out, s.as_bytes()),
                ValueRef::Integer(i) => digits(&mut out, i.to_string().as_bytes()),
                ValueRef::Real(f) => digits(&mut out, real_text(f).as_bytes()),
                ValueRef::Null => {}
            }
            out
        }
        (_, ValueRef::Integer(i)) => i.to_string(),
        (_, ValueRef::Real(f)) => real_text(f),
        (_, ValueRef::Text(s)) => s.to_string(),
        (_, ValueRef::Blob(b)) => String::from_utf8_lossy(b).into_owned(),
    })
}

/// A timestamp in one of the forms the original writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Date and wall-clock time.
    pub local: chrono::NaiveDateTime,
    /// Offset from UTC in seconds; `None` when the text has no zone (read as UTC).
    pub offset: Option<i32>,
}

impl Timestamp {
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM`, which PostgreSQL reads the same
    /// way under every `DateStyle` and `TimeZone`.
    pub fn canonical(&self) -> String {
        let off = self.offset.unwrap_or(0);
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        let frac = self.local.and_utc().timestamp_subsec_micros();
        let base = self.local.format("%Y-%m-%d %H:%M:%S");
        let frac = if frac == 0 {
            String::new()
        } else {
            format!(".{frac:06}")
        };
        format!("{base}{frac}{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
    }

    /// Microseconds since the Unix epoch (UTC).
    pub fn epoch_micros(&self) -> i64 {
        self.local.and_utc().timestamp_micros() - i64::from(self.offset.unwrap_or(0)) * 1_000_000
    }
}

/// Parses `YYYY-MM-DD`, or that followed by `T` or a space, `HH:MM`,
/// optional `:SS`, optional `.` and 1–6 fraction digits, and an optional
/// zone `Z`, `±HH`, `±HHMM` or `±HH:MM` (at most ±15:59, PostgreSQL's
/// limit). Anything else (more fraction digits, leap seconds, epoch
/// numbers, empty text) is `None`: such a column is exported as text.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        if d.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(d).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    if date.year() < 1 {
        return None;
    }
    if b.len() == 10 {
        let local = date.and_hms_opt(0, 0, 0)?;
        return Some(Timestamp {
            local,
            offset: None,
        });
    }
    if !matches!(b.get(10), Some(b'T' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (h, m) = (num(11..13)?, num(14..16)?);
    let mut at = 16;
    let mut sec = 0;
    let mut micros = 0;
    if b.get(at) == Some(&b':') {
        sec = num(at + 1..at + 3)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let digits = b[at + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits == 0 || digits > 6 {
                return None;
            }
            micros = num(at + 1..at + 1 + digits)? * 10u32.pow(6 - digits as u32);
            at += 1 + digits;
        }
    }
    if sec > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_micro_opt(h, m, sec, micros)?;
    let offset = match &b[at..] {
        [] => None,
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hh, mm) = match rest.len() {
                2 => (num(at + 1..at + 3)?, 0),
                4 => (num(at + 1..at + 3)?, num(at + 3..at + 5)?),
                5 if rest[2] == b':' => (num(at + 1..at + 3)?, num(at + 4..at + 6)?),
                _ => return None,
            };
            if hh > 15 || mm > 59 {
                return None;
            }
            let secs = (hh * 3600 + mm * 60) as i32;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => return None,
    };
    Some(Timestamp {
        local: date.and_time(time),
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_and_without_zone() {
        let t = parse_timestamp("2026-01-05T10:00:00.123456+00:00").unwrap();
        assert_eq!(t.canonical(), "2026-01-05 10:00:00.123456+00:00");
        let t = parse_timestamp("2026-01-05 10:00:00").unwrap();
        assert_eq!(t.offset, None);
        assert_eq!(t.canonical(), "2026-01-05 10:00:00+00:00");
        let t = parse_timestamp("2026-01-05T10:00:00.5-05:30").unwrap();
        assert_eq!(t.canonical(), "2026-01-05 10:00:00.500000-05:30");
        assert_eq!(
            t.epoch_micros(),
            parse_timestamp("2026-01-05T15:30:00.5Z")
                .unwrap()
                .epoch_micros()
        );
        assert_eq!(
            parse_timestamp("2026-02-01").unwrap().canonical(),
            "2026-02-01 00:00:00+00:00"
        );
        for bad in [
            "",
            "1700000000",
            "2026-02-30 00:00:00",
            "2026-01-01 00:00:60",
            "2026-01-01 00:00:00.1234567",
            "2026-01-01 00:00:00+16:00",
            "0000-01-01",
            "2026-01-01 00:00:00 UTC",
            "2026-1-1",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn fits_and_widening_chain() {
        assert!(PgType::Boolean.fits(ValueRef::Integer(1)));
        assert!(!PgType::Boolean.fits(ValueRef::Integer(2)));
        assert!(!PgType::BigInt.fits(ValueRef::Text("12")));
        assert!(PgType::Text.fits(ValueRef::Integer(12)));
        assert!(!PgType::Text.fits(ValueRef::Text("a\0b")));
        assert!(!PgType::Text.fits(ValueRef::Blob(b"ab")));
        assert!(PgType::Jsonb.fits(ValueRef::Text("{\"a\": [1, 2.5e3]}")));
        assert!(!PgType::Jsonb.fits(ValueRef::Text("{\"a\": \"\\u0000\"}")));
        assert!(!PgType::Jsonb.fits(ValueRef::Text("")));
        for t in [
            PgType::Boolean,
            PgType::Integer,
            PgType::BigInt,
            PgType::Double,
            PgType::Timestamptz,
            PgType::TimestamptzEpoch,
            PgType::Jsonb,
            PgType::Text,
            PgType::Bytea,
        ] {
            assert_eq!(t.widenings().last(), Some(&PgType::Bytea));
        }
    }

    #[test]
    fn text_forms() {
        assert_eq!(real_text(-0.0), "-0.0");
        assert_eq!(real_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(real_text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(
            text_form(ValueRef::Blob(&[0, 0xff]), PgType::Bytea).unwrap(),
            "\\x00ff"
        );
        assert_eq!(
            text_form(ValueRef::Text("a\0"), PgType::Bytea).unwrap(),
            "\\x6100"
        );
        assert_eq!(
            text_form(ValueRef::Integer(1), PgType::Boolean).unwrap(),
            "t"
        );
        assert_eq!(text_form(ValueRef::Null, PgType::Text), None);
    }
}
