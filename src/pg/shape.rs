//! How a declared table looks on PostgreSQL to the live backend: its
//! quoted name, each column's name and type, and the conversion of our
//! values to the text PostgreSQL's input functions read and back.
//!
//! Every value is sent as text with an explicit cast (`$1::bigint`) and
//! read back as `column::text`, so one conversion per type covers every
//! statement. The conversion round-trips every value a typed row can hold;
//! docs/POSTGRES.md lists where a PostgreSQL type normalises text.

use crate::error::{Error, Result};
use crate::export::types::{PgType, text_form};
use crate::table::{SqlType, TableDef, Value, ValueRef};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// One column as the backend sees it.
#[derive(Debug)]
pub struct PgCol {
    /// The quoted column name.
    pub q: String,
    /// The PostgreSQL type.
    pub ty: PgType,
    /// The declared SQL type (what a value read back becomes).
    pub sql: SqlType,
}

impl PgCol {
    /// The column as an expression that sorts and compares bytewise (text
    /// under the "C" collation, as the embedded store orders it).
    pub fn ordered(&self) -> String {
        if self.ty == PgType::Text {
            format!("{} COLLATE \"C\"", self.q)
        } else {
            self.q.clone()
        }
    }

    /// A parameter cast to this column's type.
    pub fn param(&self, n: usize) -> String {
        if self.ty == PgType::Text {
            format!("${n}::text COLLATE \"C\"")
        } else {
            format!("${n}::{}", self.ty.sql())
        }
    }
}

/// A declared table as the backend sees it.
#[derive(Debug)]
pub struct PgTable {
    /// The declaration.
    pub def: &'static TableDef,
    /// The quoted table name.
    pub q: String,
    /// The table name, unquoted (for `pg_get_serial_sequence`).
    pub name: String,
    /// Columns in declaration order.
    pub cols: Vec<PgCol>,
    /// `c1::text, c2::text, …`: every column, read back as text.
    pub select: String,
}

/// The shape of `def` (computed once per process).
pub fn shape(def: &'static TableDef) -> Result<&'static PgTable> {
    static CACHE: LazyLock<Mutex<HashMap<&'static str, &'static PgTable>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut cache = CACHE.lock();
    if let Some(t) = cache.get(def.name) {
        return Ok(t);
    }
    let q = crate::export::q;
    let cols = def
        .columns
        .iter()
        .map(|c| {
            let ty = live_type(c.sql);
            Ok(PgCol {
                q: q(c.name)?,
                ty,
                sql: c.sql,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let select = cols
        .iter()
        .map(|c| format!("{}::text", c.q))
        .collect::<Vec<_>>()
        .join(", ");
    let t: &'static PgTable = Box::leak(Box::new(PgTable {
        def,
        q: q(def.name)?,
        name: def.name.to_string(),
        cols,
        select,
    }));
    cache.insert(def.name, t);
    Ok(t)
}

/// The type the live backend stores a declared type as. Timestamps and
/// JSON stay text here, so that what a store wrote comes back byte for byte.
pub fn live_type(sql: SqlType) -> PgType {
    match sql {
        SqlType::Timestamp | SqlType::Json => PgType::Text,
        other => PgType::of(other),
    }
}

/// The text bound for `v` in a column of type `ty` (`None`: NULL).
pub fn param(v: ValueRef<'_>, ty: PgType) -> Option<String> {
    text_form(v, ty)
}

/// The value of a column read back as text.
pub fn value(table: &str, col: &PgCol, text: Option<&str>) -> Result<Value> {
    let Some(t) = text else {
        return Ok(Value::Null);
    };
    let bad = |what: &str| {
        Error::Invalid(format!(
            "PostgreSQL returned {t:?} for {table}.{}: expected {what}",
            col.q
        ))
    };
    Ok(match col.ty {
        PgType::BigInt => Value::Integer(t.parse().map_err(|_| bad("an integer"))?),
        PgType::Double => Value::Real(match t {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => t.parse().map_err(|_| bad("a number"))?,
        }),
        PgType::Boolean => Value::Integer(match t {
            "true" | "t" => 1,
            "false" | "f" => 0,
            _ => return Err(bad("a boolean")),
        }),
        PgType::Bytea => Value::Blob(unhex(t).ok_or_else(|| bad("bytea hex"))?),
        PgType::Text | PgType::Jsonb | PgType::Timestamptz => Value::Text(t.to_string()),
    })
}

fn unhex(t: &str) -> Option<Vec<u8>> {
    let h = t.strip_prefix("\\x")?.as_bytes();
    if h.len() % 2 != 0 {
        return None;
    }
    let d = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    h.chunks(2)
        .map(|p| Some(d(p[0])? << 4 | d(p[1])?))
        .collect()
}
