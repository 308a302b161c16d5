//! SQL export for PostgreSQL and Supabase (`aragora-db export`).
//!
//! The schema comes from the table declarations ([`crate::schema::ALL_TABLES`]);
//! one pass over the rows ([`plan`]) settles what the declarations cannot
//! promise, and a second pass over the same read snapshot writes the data
//! as `COPY … FROM stdin` blocks ([`copy`]) or `INSERT` statements
//! ([`inserts`]). A PostgreSQL script is, in order: a pg_dump-style
//! preamble, `BEGIN`, the tables, the data, identity sequences (`setval`),
//! keys and indexes, foreign keys, `COMMIT`, so `psql -v ON_ERROR_STOP=1`
//! loads all or nothing. Supabase output ([`supabase`]) splits the same
//! pieces into a migration (schema, guarded so it applies again) and
//! `seed.sql` (data); [`files`] writes them without replacing a different
//! file silently.
//!
//! Nothing is dropped or altered silently: each value PostgreSQL cannot
//! hold in the declared type, each NULL in a NOT NULL column, each row with
//! undeclared columns, each dangling foreign key and each renamed identifier
//! becomes a [`Note`] in the [`Report`]. See `docs/EXPORT.md`.

pub mod copy;
pub mod ddl;
pub mod files;
pub mod ident;
pub mod inserts;
pub mod pgshape;
pub mod plan;
pub mod source;
pub mod supabase;
pub mod types;

use crate::error::{Error, Result};
use crate::table::{Extras, TableDef, Value, ValueRef};
use plan::TablePlan;
use std::borrow::Cow;
use std::io::Write;
use types::{PgType, real_text, text_form_cow};

pub use source::{MemRows, MemTable, Rows, Visitor};

/// Which parts of the script to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    /// Schema and data.
    #[default]
    All,
    /// Tables, keys, indexes and foreign keys only.
    SchemaOnly,
    /// Data (and identity sequences) only.
    DataOnly,
}

impl Part {
    fn schema(self) -> bool {
        self != Part::DataOnly
    }
    fn data(self) -> bool {
        self != Part::SchemaOnly
    }
}

/// Export options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Which parts to write.
    pub part: Part,
    /// `INSERT` statements instead of COPY blocks.
    pub inserts: bool,
}

/// Something the reader of the export must know: a widened column, a
/// NULL in a NOT NULL column, undeclared columns, a dangling foreign key, a
/// renamed identifier, a default left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The declared table.
    pub table: String,
    /// What happened.
    pub message: String,
}

/// What an export did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `(table, rows)` for every exported table.
    pub tables: Vec<(String, u64)>,
    /// Everything that did not map one to one.
    pub notes: Vec<Note>,
}

impl Report {
    /// Total rows exported.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.1).sum()
    }
}

/// The planning pass: every table of `rows`, settled, with the notes.
pub fn plan_all(rows: &dyn Rows) -> Result<(Vec<TablePlan>, Report)> {
    let mut plans = Vec::new();
    let mut report = Report::default();
    let shapes = pgshape::shapes(rows.tables());
    for ((t, def), shape) in rows.tables().iter().enumerate().zip(shapes) {
        let mut p = TablePlan::from_shape(shape);
        let mut parent = |fk: usize, key: &[u8]| rows.has_parent(t, fk, key);
        rows.visit(t, &mut |key, vals, extras| {
            p.observe(key, vals, extras, &mut parent)
        })?;
        if def.autoincrement {
            p.sequence = p.sequence.max(rows.sequence(t)?);
        }
        for message in p.settle() {
            report.notes.push(Note {
                table: def.name.into(),
                message,
            });
        }
        report.tables.push((def.name.into(), p.rows));
        plans.push(p);
    }
    for (table, message) in plan::settle_foreign_keys(&mut plans) {
        report.notes.push(Note {
            table: table.into(),
            message,
        });
    }
    Ok((plans, report))
}

/// The pg_dump-style preamble (no names in it, so nothing to inject).
pub const PREAMBLE: &str = "-- aragora-db export for PostgreSQL (psql -X -v ON_ERROR_STOP=1 -f FILE)\n\
SET statement_timeout = 0;\n\
SET lock_timeout = 0;\n\
SET client_encoding = 'UTF8';\n\
SET standard_conforming_strings = on;\n\
SET check_function_bodies = false;\n\
SET client_min_messages = warning;\n\
BEGIN;\n\n";

/// The end of every script.
pub const END: &str = "\nCOMMIT;\n";

/// Writes a whole PostgreSQL script for `rows` (the `postgres` format).
///
/// The whole script (`Part::All`) creates its tables plainly, so loading it
/// twice fails at the first `CREATE TABLE`. The parts are for databases
/// that hold things already: `--schema-only` is guarded (it applies again,
/// and over tables that exist), and `--data-only` adds its `NOT VALID`
/// foreign keys the same way.
pub fn write_postgres(out: &mut dyn Write, rows: &dyn Rows, opts: &Options) -> Result<Report> {
    let (plans, mut report) = plan_all(rows)?;
    let guarded = opts.part != Part::All;
    let w = |out: &mut dyn Write, s: &str| out.write_all(s.as_bytes()).map_err(write_err);
    w(out, PREAMBLE)?;
    if opts.part.schema() {
        write_tables(out, &plans, &mut report, guarded)?;
    }
    if opts.part.data() {
        write_data(out, &plans, rows, opts.inserts)?;
    }
    if opts.part.schema() {
        write_keys(out, &plans, false, guarded)?;
    }
    if opts.part.data() {
        write_keys(out, &plans, true, guarded)?;
    }
    w(out, END)?;
    out.flush().map_err(write_err)?;
    Ok(report)
}

/// `CREATE TABLE` for every plan (`IF NOT EXISTS` when `guarded`); notes
/// about left-out defaults go to the report.
pub fn write_tables(
    out: &mut dyn Write,
    plans: &[TablePlan],
    report: &mut Report,
    guarded: bool,
) -> Result<()> {
    for p in plans {
        let mut notes = Vec::new();
        let sql = ddl::create_table(p, &mut notes, guarded)?;
        out.write_all(sql.as_bytes()).map_err(write_err)?;
        for s in ddl::search_trigger(p)? {
            out.write_all(s.as_bytes()).map_err(write_err)?;
        }
        out.write_all(b"\n").map_err(write_err)?;
        report.notes.extend(notes.into_iter().map(|message| Note {
            table: p.def.name.into(),
            message,
        }));
    }
    Ok(())
}

/// What ends the data part before its `ALTER TABLE`s: the deferred
/// foreign-key checks of the rows just loaded run here (as they would at
/// `COMMIT`), because PostgreSQL refuses `ALTER TABLE` on a table with
/// pending deferred-constraint events.
pub const CHECK_DEFERRED: &str = "SET CONSTRAINTS ALL IMMEDIATE;\n";

/// Keys, indexes and foreign keys (`dangling == false`), or only the
/// foreign keys whose data has dangling references, `NOT VALID`
/// (`dangling == true`, part of the data, after [`CHECK_DEFERRED`]).
/// `guarded`: each is skipped when it exists (see [`ddl`]).
pub fn write_keys(
    out: &mut dyn Write,
    plans: &[TablePlan],
    dangling: bool,
    guarded: bool,
) -> Result<()> {
    let all: Vec<&TablePlan> = plans.iter().collect();
    let mut sql = String::new();
    if !dangling {
        for p in plans {
            sql.push_str(&ddl::primary_key(p, guarded)?);
            sql.push_str(&ddl::indexes(p, guarded)?);
        }
    }
    for p in plans {
        sql.push_str(&ddl::foreign_keys(p, &all, dangling, guarded)?);
    }
    if !sql.is_empty() {
        if dangling {
            sql.insert_str(0, CHECK_DEFERRED);
        }
        sql.push('\n');
    }
    out.write_all(sql.as_bytes()).map_err(write_err)
}

/// The rows of every table, then the identity sequences.
pub fn write_data(
    out: &mut dyn Write,
    plans: &[TablePlan],
    rows: &dyn Rows,
    inserts: bool,
) -> Result<()> {
    let mut line = String::new();
    for (t, p) in plans.iter().enumerate() {
        if inserts {
            let prefix = inserts::prefix(p)?;
            let mut nth = 0;
            rows.visit(t, &mut |_, vals, extras| {
                inserts::row(out, &prefix, nth, p, vals, extras, &mut line).map_err(write_err)?;
                nth += 1;
                if nth == inserts::ROWS_PER_INSERT {
                    out.write_all(inserts::END_INSERT.as_bytes())
                        .map_err(write_err)?;
                    nth = 0;
                }
                Ok(())
            })?;
            if nth > 0 {
                out.write_all(inserts::END_INSERT.as_bytes())
                    .map_err(write_err)?;
            }
            if p.rows > 0 {
                out.write_all(b"\n").map_err(write_err)?;
            }
        } else {
            out.write_all(copy::header(p)?.as_bytes())
                .map_err(write_err)?;
            rows.visit(t, &mut |_, vals, extras| {
                copy::row(out, p, vals, extras, &mut line).map_err(write_err)
            })?;
            out.write_all(copy::END.as_bytes()).map_err(write_err)?;
            out.write_all(b"\n").map_err(write_err)?;
        }
    }
    for p in plans {
        if let Some(s) = ddl::sequence_reset(p)? {
            out.write_all(s.as_bytes()).map_err(write_err)?;
        }
    }
    Ok(())
}

/// The text form of each exported field of a row (declared columns, then `_extra`).
pub(crate) fn row_fields<'a>(
    plan: &'a TablePlan,
    vals: &'a [Value],
    extras: &'a Extras,
) -> impl Iterator<Item = Option<Cow<'a, str>>> + 'a {
    plan.columns
        .iter()
        .enumerate()
        .map(|(i, c)| text_form_cow(vals.get(i).map_or(ValueRef::Null, Value::as_ref), c.ty))
        .chain(plan.extra_column.as_ref().map(|_| {
            if extras.is_empty() {
                None
            } else {
                Some(Cow::Owned(extras_json(extras)))
            }
        }))
}

/// Undeclared columns as a JSON object `jsonb` accepts. Values JSON or
/// `jsonb` would alter are tagged: blobs `{"$blob_hex": …}`, text with
/// U+0000 `{"$text_hex": …}`, non-finite reals, -0.0 and reals whose
/// shortest form has no decimal point (`1e18`, which `jsonb` would print
/// as an integer) `{"$real": …}`; a key holding U+0000 becomes
/// `"$key_hex:<hex>"`. [`extras_from_json`] reads it back exactly.
pub fn extras_json(extras: &Extras) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut map = serde_json::Map::new();
    for (k, v) in extras {
        let key = if k.contains('\0') {
            format!("$key_hex:{}", hex(k.as_bytes()))
        } else {
            k.clone()
        };
        let json = match v.as_ref() {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(i) => i.into(),
            ValueRef::Real(f)
                if f.is_finite()
                    && !(f == 0.0 && f.is_sign_negative())
                    && serde_json::Value::from(f).to_string().contains('.') =>
            {
                serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
            }
            ValueRef::Real(f) => serde_json::json!({ "$real": real_text(f) }),
            ValueRef::Text(s) if s.contains('\0') => {
                serde_json::json!({ "$text_hex": hex(s.as_bytes()) })
            }
            ValueRef::Text(s) => s.into(),
            ValueRef::Blob(b) => serde_json::json!({ "$blob_hex": hex(b) }),
        };
        map.insert(key, json);
    }
    serde_json::Value::Object(map).to_string()
}

/// The undeclared columns [`extras_json`] wrote (as text, possibly in
/// `jsonb`'s normal form), or an error saying what is not in that form.
pub fn extras_from_json(text: &str) -> Result<Extras> {
    let bad = |what: String| Error::InvalidArgument(format!("undeclared columns (_extra): {what}"));
    let unhex = |h: &str| -> Result<Vec<u8>> {
        if !h.len().is_multiple_of(2) {
            return Err(bad(format!("odd-length hex {h:?}")));
        }
        (0..h.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(h.get(i..i + 2).unwrap_or(""), 16)
                    .map_err(|_| bad(format!("not hex: {h:?}")))
            })
            .collect()
    };
    let utf8 = |b: Vec<u8>| String::from_utf8(b).map_err(|e| bad(format!("not UTF-8: {e}")));
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let serde_json::Value::Object(map) = json else {
        return Err(bad(format!("not a JSON object: {text:.60}")));
    };
    let mut out = Extras::new();
    for (k, v) in map {
        let key = match k.strip_prefix("$key_hex:") {
            Some(h) => utf8(unhex(h)?)?,
            None => k,
        };
        let value = match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                None => Value::Real(
                    n.as_f64()
                        .ok_or_else(|| bad(format!("{key}: number {n} out of range")))?,
                ),
            },
            serde_json::Value::String(s) => Value::Text(s),
            serde_json::Value::Object(o) if o.len() == 1 => {
                let (tag, inner) = o.into_iter().next().unwrap_or_default();
                let inner = inner
                    .as_str()
                    .ok_or_else(|| bad(format!("{key}: tag {tag} without a string")))?;
                match tag.as_str() {
                    "$blob_hex" => Value::Blob(unhex(inner)?),
                    "$text_hex" => Value::Text(utf8(unhex(inner)?)?),
                    // `real_text`: Rust's shortest form, `NaN`, `Infinity`.
                    "$real" => Value::Real(
                        inner
                            .parse::<f64>()
                            .map_err(|_| bad(format!("{key}: {inner:?} is not a real")))?,
                    ),
                    _ => return Err(bad(format!("{key}: unknown tag {tag}"))),
                }
            }
            other => return Err(bad(format!("{key}: {other:.60} is not a stored value"))),
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// Quotes an identifier for the script.
pub(crate) fn q(name: &str) -> Result<String> {
    ident::quote_ident(name).map_err(ident_err)
}

pub(crate) fn ident_err(e: ident::IdentError) -> Error {
    Error::InvalidArgument(e.to_string())
}

pub(crate) fn write_err(e: std::io::Error) -> Error {
    Error::io("write", "<export output>", e)
}

/// The exported type of each column of a declared table when every value
/// fits (the declaration's mapping), for documentation and tests.
pub fn declared_types(def: &TableDef) -> Vec<(&'static str, PgType)> {
    def.columns
        .iter()
        .map(|c| (c.name, pgshape::column_type(def, c)))
        .collect()
}
