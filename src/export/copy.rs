//! COPY text format (`COPY … FROM stdin`).
//!
//! Backslash, tab, newline and carriage return are backslash-escaped, as
//! the COPY docs require; NULL is `\N`. So a data line never holds a raw
//! line break, a value `\N` or `\.` is written `\\N` / `\\.` and can't be
//! taken for NULL or the end marker, and `bytea`'s `\x…` hex form gets its
//! backslash doubled (COPY de-escapes before `byteain` runs).

use super::plan::TablePlan;
use super::row_fields;
use crate::error::Result;
use crate::table::{Extras, Value};
use std::io::Write;

/// Appends `s` escaped for one COPY text field.
pub fn escape_into(out: &mut String, s: &str) {
    // The four bytes are ASCII, so the runs between them are whole chars.
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            b'\r' => "\\r",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// One COPY field: `\N` for NULL, else the escaped text form.
pub fn field(out: &mut String, text: Option<&str>) {
    match text {
        None => out.push_str("\\N"),
        Some(s) => escape_into(out, s),
    }
}

/// `COPY "t" ("a", "b") FROM stdin;`.
pub fn header(plan: &TablePlan) -> Result<String> {
    let (table, cols) = plan.quoted_names()?;
    Ok(format!("COPY {table} ({cols}) FROM stdin;\n"))
}

/// Writes one data line.
pub fn row(
    out: &mut (impl Write + ?Sized),
    plan: &TablePlan,
    vals: &[Value],
    extras: &Extras,
    line: &mut String,
) -> std::io::Result<()> {
    line.clear();
    for (i, f) in row_fields(plan, vals, extras).enumerate() {
        if i > 0 {
            line.push('\t');
        }
        field(line, f.as_deref());
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// The end-of-data marker.
pub const END: &str = "\\.\n";

/// Reverses [`escape_into`] for one field (`None` for `\N`); used by the
/// fuzz target and tests. Follows PostgreSQL's COPY de-escaping for the
/// escapes this module writes.
pub fn unescape(field: &str) -> Option<String> {
    if field == "\\N" {
        return None;
    }
    let mut out = String::new();
    let mut it = field.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_four_characters() {
        let mut s = String::new();
        escape_into(&mut s, "a\\b\tc\nd\re");
        assert_eq!(s, "a\\\\b\\tc\\nd\\re");
        let mut s = String::new();
        field(&mut s, Some("\\N"));
        assert_eq!(s, "\\\\N");
        let mut s = String::new();
        field(&mut s, Some("\\."));
        assert_eq!(s, "\\\\.");
        let mut s = String::new();
        field(&mut s, None);
        assert_eq!(s, "\\N");
        let mut s = String::new();
        field(&mut s, Some(""));
        assert_eq!(s, "");
    }

    #[test]
    fn unescape_reverses() {
        for v in ["", "\\N", "\\.", "a\tb\r\n\\\\x00", "é\u{2028}\u{feff}"] {
            let mut s = String::new();
            field(&mut s, Some(v));
            assert!(!s.contains(['\n', '\r', '\t']));
            assert_eq!(unescape(&s).as_deref(), Some(v));
        }
    }
}
