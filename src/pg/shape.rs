//! How a declared table looks to the live backend, from the one PostgreSQL
//! shape the exporter also uses ([`pgshape`]): quoted names, and each
//! declared column with its type and the conversion of its values.
//!
//! Every value is sent as text with an explicit cast (`$1::bigint`) and
//! read back as `column::text`, so one conversion per type covers every
//! statement ([`pgshape::param`], [`pgshape::value`]); docs/POSTGRES.md
//! lists where a PostgreSQL type keeps the value but not its spelling.

use crate::error::Result;
use crate::export::pgshape::{self, PgColumn};
use crate::export::types::PgType;
use crate::table::{ColumnDef, SqlType, TableDef, Value, ValueRef};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// One declared column as the backend sees it.
#[derive(Debug)]
pub struct PgCol {
    /// The quoted PostgreSQL column name.
    pub q: String,
    /// The PostgreSQL type.
    pub ty: PgType,
    /// The column's PostgreSQL shape.
    pub pg: &'static PgColumn,
    /// The declared column.
    pub decl: &'static ColumnDef,
}

/// The SQL function that orders a timestamp kept as text as the embedded
/// store's index keys do: by the instant it stands for, then by the text
/// (see [`super::schema::time_key_function`]).
pub const TIME_KEY: &str = "aragora_time_key_v1";

/// The SQL function that gives a range bound on such a column: the key of
/// its instant alone (see [`super::schema::time_key_function`]).
pub const TIME_BOUND: &str = "aragora_time_bound_v1";

impl PgCol {
    /// Whether, as an index column, this column is ordered by time: a
    /// `Timestamp` column kept as `text` (a `timestamptz` column already
    /// orders by its instant).
    pub fn time_keyed(&self) -> bool {
        self.decl.sql == SqlType::Timestamp && self.ty == PgType::Text
    }

    /// The column as an expression that sorts and compares as the
    /// embedded store orders keys (text bytewise, under the "C" collation;
    /// as an index column, a text timestamp by its instant first).
    pub fn ordered(&self, in_index: bool) -> String {
        if in_index && self.time_keyed() {
            format!("{TIME_KEY}({}) COLLATE \"C\"", self.q)
        } else if self.ty == PgType::Text {
            format!("{} COLLATE \"C\"", self.q)
        } else {
            self.q.clone()
        }
    }

    /// Parameter `n`, cast to this column's type, to compare with
    /// [`ordered`](Self::ordered). `bound`: the last value of a range
    /// bound, which compares a time by its instant alone, `Some(after)`
    /// saying which side of that instant's keys it stands for.
    pub fn param(&self, n: usize, in_index: bool, bound: Option<bool>) -> String {
        if in_index && self.time_keyed() {
            match bound {
                Some(after) => format!("{TIME_BOUND}(${n}::text, {after}) COLLATE \"C\""),
                None => format!("{TIME_KEY}(${n}::text) COLLATE \"C\""),
            }
        } else if self.ty == PgType::Text {
            format!("${n}::text COLLATE \"C\"")
        } else {
            format!("${n}::{}", self.ty.sql())
        }
    }

    /// The text bound for `v` (`None`: NULL).
    pub fn text(&self, v: ValueRef<'_>) -> Result<Option<String>> {
        pgshape::param(v, self.pg)
    }

    /// The value of this column read back as text.
    pub fn value(&self, text: Option<&str>) -> Result<Value> {
        pgshape::value(text, self.pg, self.decl)
    }
}

/// A declared table as the backend sees it.
#[derive(Debug)]
pub struct PgTable {
    /// The declaration.
    pub def: &'static TableDef,
    /// The quoted table name.
    pub q: String,
    /// The PostgreSQL table name, unquoted.
    pub name: String,
    /// The declared columns, in declaration order.
    pub cols: Vec<PgCol>,
    /// The quoted `jsonb` column of the row's undeclared columns
    /// ([`pgshape::PgTable::extra`]).
    pub extra_q: String,
    /// `c1::text, c2::text, …, _extra::text`: every declared column, then
    /// the undeclared ones, read back as text.
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
    let pg = pgshape::shape(def);
    let q = crate::export::q;
    let cols = pg
        .declared()
        .iter()
        .zip(def.columns)
        .map(|(c, decl)| {
            Ok(PgCol {
                q: q(&c.pg_name)?,
                ty: c.ty,
                pg: c,
                decl,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let extra_q = q(&pg.extra)?;
    let select = cols
        .iter()
        .map(|c| format!("{}::text", c.q))
        .chain(std::iter::once(format!("{extra_q}::text")))
        .collect::<Vec<_>>()
        .join(", ");
    let t: &'static PgTable = Box::leak(Box::new(PgTable {
        def,
        q: q(&pg.name)?,
        name: pg.name.clone(),
        cols,
        extra_q,
        select,
    }));
    cache.insert(def.name, t);
    Ok(t)
}
