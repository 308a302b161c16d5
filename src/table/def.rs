//! Table metadata: what one [`table!`](crate::table!) declaration produces.
//!
//! A [`TableDef`] is a `static` describing columns, keys, indexes and foreign
//! keys. The importer, exporter, `status`, `verify` and backup all read it;
//! nothing else lists a table's columns.

use super::codec::{self, Extras, RowView};
use super::value::{Value, ValueRef};
use crate::config::DbTarget;
use crate::error::{Error, Result};

/// The SQL type of a column, as the original declares it and as exports map it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// TEXT.
    Text,
    /// INTEGER.
    Integer,
    /// REAL.
    Real,
    /// BLOB.
    Blob,
    /// INTEGER holding 0/1 (PostgreSQL `boolean`).
    Bool,
    /// TEXT holding JSON (PostgreSQL `jsonb`); kept byte for byte.
    Json,
    /// TEXT holding a timestamp in one of the original's formats.
    Timestamp,
    /// REAL Unix epoch seconds.
    Epoch,
}

impl SqlType {
    /// The SQLite declared type.
    pub fn sqlite_name(self) -> &'static str {
        match self {
            SqlType::Text | SqlType::Json | SqlType::Timestamp => "TEXT",
            SqlType::Integer | SqlType::Bool => "INTEGER",
            SqlType::Real | SqlType::Epoch => "REAL",
            SqlType::Blob => "BLOB",
        }
    }
}

/// What happens to referencing rows when the parent row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Refuse the delete while references exist.
    Restrict,
    /// Delete the referencing rows too.
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
}

/// One column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    /// The column name (the documented name where docs and files disagree).
    pub name: &'static str,
    /// The SQL type.
    pub sql: SqlType,
    /// Whether NULL is allowed (derived from the Rust field type).
    pub nullable: bool,
    /// The SQL DEFAULT expression, if any (e.g. `'member'`, `0`, `CURRENT_TIMESTAMP`).
    pub default: Option<&'static str>,
    /// Other names real files use for this column (e.g. `lockout_until`).
    pub aliases: &'static [&'static str],
    /// Whether a non-NULL value fits the column's Rust type.
    pub accepts: fn(ValueRef<'_>) -> bool,
    /// The storage class the Rust type expects, for messages.
    pub expected: &'static str,
    /// The column's PostgreSQL name when it differs from `name`: the name
    /// the original's running code uses (`[pg "failed_login_attempts"]`).
    pub pg_name: Option<&'static str>,
    /// The column's PostgreSQL type when it differs from what `sql` maps
    /// to: the type the original's PostgreSQL store uses (`[pg as Integer]`).
    pub pg_type: Option<PgType>,
}

/// One secondary index. Its entries live in the table's redb table under
/// the key-space byte `space` (see [`layout`](super::layout)).
#[derive(Debug, Clone, Copy)]
pub struct IndexDef {
    /// The index name, as in the original DDL.
    pub name: &'static str,
    /// Key-space byte of the entries: 1 + the index's position.
    pub space: u8,
    /// Indexed columns, by position.
    pub columns: &'static [usize],
    /// UNIQUE: at most one row per non-NULL key. Rows with a NULL in any
    /// indexed column have no entry (SQL treats NULLs as distinct).
    pub unique: bool,
    /// Covering: each entry also holds the whole row, so a scan of this
    /// index reads no primary rows (for hot range queries; costs space).
    pub covering: bool,
}

/// One foreign key. It always references the parent's primary key.
#[derive(Debug, Clone, Copy)]
pub struct ForeignKeyDef {
    /// Referencing columns, by position.
    pub columns: &'static [usize],
    /// The parent table.
    pub parent: fn() -> &'static TableDef,
    /// What a parent delete does.
    pub on_delete: OnDelete,
}

/// Everything about one table.
#[derive(Debug)]
pub struct TableDef {
    /// Table name (unique across the registry).
    pub name: &'static str,
    /// Other names this table has in the original's SQLite files. The
    /// importer matches a source table by its name or one of these, then
    /// picks among candidates by their columns.
    pub sources: &'static [&'static str],
    /// Schema version of this table's declaration.
    pub version: u32,
    /// The database that owns the table (decides its file in each mode).
    pub owner: DbTarget,
    /// Columns in storage order.
    pub columns: &'static [ColumnDef],
    /// Primary-key columns, by position.
    pub primary_key: &'static [usize],
    /// INTEGER PRIMARY KEY AUTOINCREMENT: ids come from a sequence and are never reused.
    pub autoincrement: bool,
    /// Secondary indexes.
    pub indexes: &'static [IndexDef],
    /// Foreign keys.
    pub foreign_keys: &'static [ForeignKeyDef],
    /// What differs on PostgreSQL (name, columns only PostgreSQL has).
    pub pg: PgTableDecl,
}

/// The PostgreSQL-only part of a table's declaration (see
/// [`crate::export::pgshape`]). Everything else of the PostgreSQL shape
/// follows from the rest of the declaration.
#[derive(Debug, Clone, Copy)]
pub struct PgTableDecl {
    /// The PostgreSQL table name when it differs from the declared name
    /// (`pg_name: "elo_ratings"`).
    pub name: Option<&'static str>,
    /// Columns only PostgreSQL has, after the declared ones: the
    /// original's stores read or index them, our rows never hold them.
    pub only: &'static [PgOnlyColumn],
    /// A `tsvector` column kept up by a trigger (`pg_search:`).
    pub search: Option<PgSearch>,
}

impl PgTableDecl {
    /// Nothing differs.
    pub const NONE: PgTableDecl = PgTableDecl {
        name: None,
        only: &[],
        search: None,
    };
}

/// A column only PostgreSQL has (always nullable; our rows leave it to its
/// default).
#[derive(Debug, Clone, Copy)]
pub struct PgOnlyColumn {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: PgType,
    /// Its DEFAULT, a PostgreSQL expression.
    pub default: Option<&'static str>,
}

/// A full-text `tsvector` column that a `BEFORE INSERT OR UPDATE` trigger
/// computes from text columns, weighted A, B, C, D in order (the
/// original's `update_*_search_vector` functions).
#[derive(Debug, Clone, Copy)]
pub struct PgSearch {
    /// The `tsvector` column.
    pub column: &'static str,
    /// The declared columns it is computed from, by position.
    pub from: &'static [usize],
    /// The trigger function's name.
    pub function: &'static str,
    /// The trigger's name.
    pub trigger: &'static str,
}

impl TableDef {
    /// Position of a column by name or alias.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name || c.aliases.contains(&name))
    }

    /// An index by name.
    pub fn index(&self, name: &str) -> Result<&IndexDef> {
        self.indexes
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::Unknown {
                kind: "index",
                name: name.to_string(),
                hint: format!(
                    " on table {} (known: {})",
                    self.name,
                    self.indexes
                        .iter()
                        .map(|i| i.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Column names joined with commas, for messages.
    pub fn column_list(&self, cols: &[usize]) -> String {
        cols.iter()
            .map(|&c| self.columns[c].name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The value a column takes when a stored row predates it.
    pub fn default_value(&self, col: usize) -> Value {
        let c = &self.columns[col];
        let Some(text) = c.default else {
            return Value::Null;
        };
        // Apply the column's affinity, as SQLite does for defaults.
        match (c.sql, parse_default(text)) {
            (_, None) => Value::Null,
            (SqlType::Real | SqlType::Epoch, Some(Value::Integer(i))) => Value::Real(i as f64),
            (
                SqlType::Text | SqlType::Json | SqlType::Timestamp,
                Some(Value::Integer(_) | Value::Real(_)),
            ) => Value::Text(text.trim().to_string()),
            (_, Some(v)) => v,
        }
    }

    /// Wraps an envelope error with this table and a key.
    pub fn corrupt(&self, key: &[u8], err: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            table: self.name,
            key: super::keys::render(key),
            what: err.to_string(),
        }
    }

    /// Decodes a stored row into owned values, filling defaults for columns
    /// the row predates.
    pub fn decode_values(&self, key: &[u8], bytes: &[u8]) -> Result<(Vec<Value>, Extras)> {
        codec::with_view(bytes, |view| {
            let values = (0..self.columns.len())
                .map(|i| match view.get(i) {
                    Some(v) => v.to_owned(),
                    None => self.default_value(i),
                })
                .collect();
            let extras = view.extras().map_err(|e| self.corrupt(key, e))?;
            Ok((values, extras))
        })
        .map_err(|e| self.corrupt(key, e))?
    }
}

/// Parses a constant SQL DEFAULT. Non-constant defaults give `None`.
pub fn parse_default(text: &str) -> Option<Value> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("NULL") {
        return Some(Value::Null);
    }
    if let Some(inner) = t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(Value::Text(inner.replace("''", "'")));
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Integer(i));
    }
    if let Ok(f) = t.parse::<f64>() {
        return Some(Value::Real(f));
    }
    match t.to_ascii_uppercase().as_str() {
        "TRUE" => Some(Value::Integer(1)),
        "FALSE" => Some(Value::Integer(0)),
        _ => None,
    }
}

/// A typed row of a declared table. Implemented by [`table!`](crate::table!).
pub trait Row: Sized + Clone + std::fmt::Debug {
    /// The table's metadata.
    const DEF: &'static TableDef;
    /// Column `i` of this row, borrowed.
    fn value(&self, i: usize) -> ValueRef<'_>;
    /// Columns this table does not declare.
    fn extras(&self) -> &Extras;
    /// Builds a row from a parsed view; missing columns take their defaults.
    fn from_view(view: &RowView<'_>, extras: Extras) -> std::result::Result<Self, String>;

    /// Encodes the row into its stored envelope.
    fn encode(&self, out: &mut Vec<u8>) {
        codec::encode_row(
            out,
            Self::DEF.columns.len(),
            |i| self.value(i),
            self.extras(),
        );
    }

    /// Decodes a stored row in one pass when it is sound (CRC, format,
    /// body and every column's type check out); `None` otherwise, and
    /// [`Row::decode`] then finds and names the problem. Must return
    /// `Some` only for rows [`Row::decode_view`] accepts, and then the same
    /// row (checked by `tests/it/decode.rs` and the `row_decode` fuzz target).
    /// [`table!`](crate::table!) implements it; the default is always `None`.
    fn decode_fast(bytes: &[u8]) -> Option<Self> {
        let _ = bytes;
        None
    }

    /// Decodes a stored row, checking CRC, format and types.
    #[inline]
    fn decode(key: &[u8], bytes: &[u8]) -> Result<Self> {
        match Self::decode_fast(bytes) {
            Some(row) => Ok(row),
            None => Self::decode_view(key, bytes),
        }
    }

    /// [`Row::decode`] through a [`RowView`]: parses every column first,
    /// then converts; the reference the one-pass decode must agree with,
    /// and what names a damaged row's problem.
    #[cold]
    fn decode_view(key: &[u8], bytes: &[u8]) -> Result<Self> {
        let def = Self::DEF;
        codec::with_view(bytes, |view| {
            let extras = view.extras().map_err(|e| def.corrupt(key, e))?;
            Self::from_view(view, extras).map_err(|what| def.corrupt(key, what))
        })
        .map_err(|e| def.corrupt(key, e))?
    }
}

/// Converts column `i` of a view for a typed row (used by the macro).
pub fn field<T: super::value::ColumnValue>(
    def: &TableDef,
    view: &RowView<'_>,
    i: usize,
) -> std::result::Result<T, String> {
    let fill;
    let v = match view.get(i) {
        Some(v) => v,
        None => {
            fill = def.default_value(i);
            fill.as_ref()
        }
    };
    T::from_value(v).ok_or_else(|| {
        format!(
            "column {} holds {}, expected {}",
            def.columns[i].name,
            v.describe(),
            T::EXPECTED
        )
    })
}

/// Key-space byte of the index called `name` among `names` (1-based),
/// evaluated at compile time by [`table!`](crate::table!).
pub const fn index_space(names: &[&str], name: &str) -> u8 {
    let pos = column_position(names, name);
    assert!(pos < 254, "at most 254 indexes per table");
    (pos + 1) as u8
}

/// Position of `name` in `names`, evaluated at compile time by [`table!`](crate::table!).
/// An unknown name fails the build.
pub const fn column_position(names: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < names.len() {
        if const_str_eq(names[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("table! declaration names a column that is not declared")
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_take_the_column_affinity() {
        let col = |sql, default| ColumnDef {
            name: "c",
            sql,
            nullable: true,
            default: Some(default),
            aliases: &[],
            accepts: |_| true,
            expected: "any",
            pg_name: None,
            pg_type: None,
        };
        static COLS: std::sync::OnceLock<Vec<ColumnDef>> = std::sync::OnceLock::new();
        let cols = COLS.get_or_init(|| {
            vec![
                col(SqlType::Real, "1500"),
                col(SqlType::Text, "0"),
                col(SqlType::Integer, "'x'"),
                col(SqlType::Timestamp, "CURRENT_TIMESTAMP"),
            ]
        });
        let def = TableDef {
            name: "t",
            sources: &[],
            version: 1,
            owner: DbTarget::Store(crate::config::Store::Users),
            columns: cols,
            primary_key: &[],
            autoincrement: false,
            indexes: &[],
            foreign_keys: &[],
            pg: PgTableDecl::NONE,
        };
        assert_eq!(def.default_value(0), Value::Real(1500.0));
        assert_eq!(def.default_value(1), Value::Text("0".into()));
        assert_eq!(def.default_value(2), Value::Text("x".into()));
        assert_eq!(def.default_value(3), Value::Null);
    }
}

/// A PostgreSQL column type (a `[pg as …]` override in a declaration; the
/// exporter and the PostgreSQL backend give it its methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PgType {
    /// `boolean` (0/1).
    Boolean,
    /// `integer` (32 bits): where the original's store sums the column
    /// (`SUM(bigint)` would give Python a `Decimal`).
    Integer,
    /// `bigint`.
    BigInt,
    /// `double precision` (IEEE double, bit-exact incl. -0, NaN, ±Infinity).
    Double,
    /// `timestamptz` holding timestamp text; text without a zone is UTC.
    Timestamptz,
    /// `timestamptz` holding epoch seconds (a REAL column declared
    /// `[pg as Timestamptz]`), rounded to microseconds; ±Infinity are
    /// `infinity`/`-infinity`.
    TimestamptzEpoch,
    /// `jsonb`.
    Jsonb,
    /// `text`.
    Text,
    /// `bytea`.
    Bytea,
}
