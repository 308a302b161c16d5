//! `INSERT` statements (`--inserts`), [`ROWS_PER_INSERT`] rows per statement, one row per line.
//!
//! Every value is an escape-string literal `E'…'`: backslash and quote are
//! escaped, and so is every ASCII control character (`\n`, `\r`, `\t`, `\xHH`),
//! so a statement is always one line, never holds a raw CR or LF, and reads
//! the same whether `standard_conforming_strings` is on or off. The literal
//! is untyped, so PostgreSQL reads it with the column's input function, as
//! COPY does.

use super::plan::TablePlan;
use super::row_fields;
use crate::error::Result;
use crate::table::{Extras, Value};
use std::io::Write;

/// Appends `E'…'` for `s`.
pub fn literal_into(out: &mut String, s: &str) {
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // C1 controls (U+0080–U+009F) stay raw: psql splits lines on LF only.
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// Rows per `INSERT` statement (pg_dump's `--rows-per-insert`): one
/// statement per row costs a round trip each when psql runs the script.
pub const ROWS_PER_INSERT: usize = 100;

/// `INSERT INTO "t" ("a", "b") VALUES` and a newline, for a table.
pub fn prefix(plan: &TablePlan) -> Result<String> {
    let (table, cols) = plan.quoted_names()?;
    Ok(format!("INSERT INTO {table} ({cols}) VALUES\n"))
}

/// Writes one row of an INSERT statement: `prefix` first when it is the
/// batch's first row (`nth == 0`), else a comma. The caller ends each
/// batch with [`END_INSERT`]. Every row is one line.
pub fn row(
    out: &mut (impl Write + ?Sized),
    prefix: &str,
    nth: usize,
    plan: &TablePlan,
    vals: &[Value],
    extras: &Extras,
    line: &mut String,
) -> std::io::Result<()> {
    line.clear();
    if nth == 0 {
        line.push_str(prefix);
    } else {
        line.push_str(",\n");
    }
    line.push('(');
    for (i, f) in row_fields(plan, vals, extras).enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        match f {
            None => line.push_str("NULL"),
            Some(s) => literal_into(line, &s),
        }
    }
    line.push(')');
    out.write_all(line.as_bytes())
}

/// The end of an INSERT statement.
pub const END_INSERT: &str = ";\n";

/// Reverses [`literal_into`] (for the fuzz target and tests): `None` if
/// `lit` is not a literal this module could have written.
pub fn unliteral(lit: &str) -> Option<String> {
    let body = lit.strip_prefix("E'")?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut it = body.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\'' => {
                if it.next()? != '\'' {
                    return None;
                }
                out.push('\'');
            }
            '\\' => match it.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '\\' => out.push('\\'),
                'x' => {
                    let h: String = [it.next()?, it.next()?].iter().collect();
                    out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_one_line_and_reversible() {
        for v in [
            "",
            "'",
            "''",
            "\\",
            "$$",
            "$tag$",
            "a\r\nb",
            "\u{1}\u{7f}\u{85}",
            "\\N",
            "\n\\! touch pwned",
        ] {
            let mut s = String::new();
            literal_into(&mut s, v);
            assert!(!s.chars().any(|c| c.is_ascii_control()), "{s:?}");
            assert_eq!(unliteral(&s).as_deref(), Some(v), "{s}");
        }
        let mut s = String::new();
        literal_into(&mut s, "it's");
        assert_eq!(s, "E'it''s'");
    }
}
