//! Table dumps as JSON lines or CSV (output formats of our own; values follow the
//! storage classes of fileformat2 §2.1).
//!
//! JSON lines: one object per row, keys in declared column order, plus `"_rowid"`
//! first for rowid tables. INTEGER → JSON integer; REAL → JSON number with shortest
//! round-trip digits (always with a `.` or exponent, so it stays recognisably real),
//! or `{"$real":"inf"}` / `"-inf"` for infinities; TEXT → JSON string when valid UTF-8,
//! else `{"$text_hex":"…"}`; BLOB → `{"$blob_hex":"…"}`; NULL → `null`.
//!
//! CSV (RFC 4180): a header row of column names; NULL → empty field, empty text →
//! `""`; BLOB and invalid-UTF-8 TEXT → `\x` followed by lowercase hex (PostgreSQL
//! bytea style; CSV cannot tell the two apart — use JSON lines when that matters).

use std::io::Write;

use super::error::{Result, SqliteError};
use super::file::SqliteFile;
use super::schema::TableInfo;
use super::value::ValueRef;

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(
            DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            DIGITS.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    s
}

fn json_value<W: Write>(out: &mut W, v: ValueRef<'_>) -> std::io::Result<()> {
    match v {
        ValueRef::Null => out.write_all(b"null"),
        ValueRef::Integer(i) => write!(out, "{i}"),
        ValueRef::Real(r) if r.is_finite() => {
            let s = serde_json::to_string(&r).map_err(std::io::Error::other)?;
            out.write_all(s.as_bytes())
        }
        ValueRef::Real(r) => write!(
            out,
            "{{\"$real\":\"{}\"}}",
            if r > 0.0 { "inf" } else { "-inf" }
        ),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => serde_json::to_writer(&mut *out, s).map_err(std::io::Error::other),
            Err(_) => write!(out, "{{\"$text_hex\":\"{}\"}}", hex(t)),
        },
        ValueRef::Blob(b) => write!(out, "{{\"$blob_hex\":\"{}\"}}", hex(b)),
    }
}

/// Write every row of `table` as one JSON object per line. Returns the row count.
pub fn write_jsonl<W: Write>(file: &SqliteFile, table: &TableInfo, mut out: W) -> Result<u64> {
    let keys: Vec<String> = table
        .columns
        .iter()
        .map(|c| serde_json::to_string(&c.name).unwrap_or_else(|_| "\"?\"".into()))
        .collect();
    let mut rows = file.rows(table)?;
    let mut n = 0u64;
    while let Some(row) = rows.next_row() {
        let row = row.map_err(|e| e.with_path(file.path()))?;
        (|| -> std::io::Result<()> {
            out.write_all(b"{")?;
            let mut first = true;
            if let Some(r) = row.rowid() {
                write!(out, "\"_rowid\":{r}")?;
                first = false;
            }
            for (i, k) in keys.iter().enumerate() {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                out.write_all(k.as_bytes())?;
                out.write_all(b":")?;
                json_value(&mut out, row.get(i))?;
            }
            out.write_all(b"}\n")
        })()
        .map_err(SqliteError::Output)?;
        n += 1;
    }
    out.flush().map_err(SqliteError::Output)?;
    Ok(n)
}

fn csv_field<W: Write>(out: &mut W, s: &str) -> std::io::Result<()> {
    let needs = s.is_empty()
        || s.contains([',', '"', '\n', '\r'])
        || s.starts_with(' ')
        || s.ends_with(' ');
    if needs {
        write!(out, "\"{}\"", s.replace('"', "\"\""))
    } else {
        out.write_all(s.as_bytes())
    }
}

fn csv_value<W: Write>(out: &mut W, v: ValueRef<'_>) -> std::io::Result<()> {
    match v {
        ValueRef::Null => Ok(()),
        ValueRef::Integer(i) => write!(out, "{i}"),
        ValueRef::Real(r) => write!(out, "{r:?}"),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => csv_field(out, s),
            Err(_) => write!(out, "\\x{}", hex(t)),
        },
        ValueRef::Blob(b) => write!(out, "\\x{}", hex(b)),
    }
}

/// Write `table` as CSV with a header row. Returns the row count.
pub fn write_csv<W: Write>(file: &SqliteFile, table: &TableInfo, mut out: W) -> Result<u64> {
    let header = (|| -> std::io::Result<()> {
        for (i, c) in table.columns.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            csv_field(&mut out, &c.name)?;
        }
        out.write_all(b"\r\n")
    })();
    header.map_err(SqliteError::Output)?;
    let mut rows = file.rows(table)?;
    let mut n = 0u64;
    while let Some(row) = rows.next_row() {
        let row = row.map_err(|e| e.with_path(file.path()))?;
        (|| -> std::io::Result<()> {
            for i in 0..row.len() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                csv_value(&mut out, row.get(i))?;
            }
            out.write_all(b"\r\n")
        })()
        .map_err(SqliteError::Output)?;
        n += 1;
    }
    out.flush().map_err(SqliteError::Output)?;
    Ok(n)
}
