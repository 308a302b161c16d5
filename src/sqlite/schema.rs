//! The schema table (fileformat2 §2.6 "Storage Of The SQL Database Schema"):
//! `sqlite_schema(type, name, tbl_name, rootpage, sql)` is the table b-tree rooted at
//! page 1; its `sql` column is parsed by [`super::ddl`] into [`TableInfo`] /
//! [`IndexInfo`]. Bad root pages, shared roots and unparsable SQL are
//! reported per object.

use std::collections::HashMap;

use super::ddl;
use super::error::{Result, SqliteError};
use super::pager::Pager;
use super::rows::{RowPlan, Rows};
use super::value::{Value, ValueRef};

/// Column affinity (datatype3 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// No conversion (BLOB or no type).
    Blob,
    /// TEXT
    Text,
    /// NUMERIC
    Numeric,
    /// INTEGER
    Integer,
    /// REAL
    Real,
}

/// Kind of table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// A rowid table.
    Ordinary,
    /// `WITHOUT ROWID`: stored in an index b-tree keyed by the PRIMARY KEY.
    WithoutRowid,
    /// `CREATE VIRTUAL TABLE`: no b-tree of its own.
    Virtual,
}

/// Generated-column kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    /// Computed on read, not stored (the reader returns NULL for it).
    Virtual,
    /// Stored in the record.
    Stored,
}

/// A column DEFAULT clause.
#[derive(Clone, Debug, PartialEq)]
pub struct DefaultValue {
    /// The expression as written (normalised by the parser).
    pub text: String,
    /// Its value when it is a constant, with the column affinity applied; `None` for
    /// non-constant defaults such as CURRENT_TIMESTAMP (SQLite reads NULL for those
    /// in short records).
    pub value: Option<Value>,
}

/// A FOREIGN KEY (column or table constraint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    /// Referencing columns.
    pub from: Vec<String>,
    /// Referenced table.
    pub table: String,
    /// Referenced columns (empty = the referenced table's primary key).
    pub to: Vec<String>,
}

/// One declared column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    /// Column name (unquoted).
    pub name: String,
    /// Declared type as written (may be empty).
    pub decl_type: String,
    /// Affinity derived from the declared type.
    pub affinity: Affinity,
    /// NOT NULL constraint.
    pub not_null: bool,
    /// DEFAULT clause.
    pub default: Option<DefaultValue>,
    /// 1-based position in the PRIMARY KEY.
    pub pk_position: Option<usize>,
    /// UNIQUE (column constraint or single-column table constraint).
    pub unique: bool,
    /// COLLATE name.
    pub collate: Option<String>,
    /// REFERENCES clause.
    pub references: Option<ForeignKey>,
    /// Generated column.
    pub generated: Option<Generated>,
}

/// A table from the schema.
#[derive(Clone, Debug, PartialEq)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Root page of its b-tree (0 for virtual tables).
    pub root_page: u32,
    /// CREATE statement.
    pub sql: String,
    /// Kind.
    pub kind: TableKind,
    /// Columns in declared order.
    pub columns: Vec<ColumnInfo>,
    /// STRICT table.
    pub strict: bool,
    /// Index of the INTEGER PRIMARY KEY column that aliases the rowid.
    pub rowid_alias: Option<usize>,
    /// AUTOINCREMENT.
    pub autoincrement: bool,
    /// PRIMARY KEY column indexes, in key order.
    pub primary_key: Vec<usize>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
}

impl TableInfo {
    /// True for WITHOUT ROWID tables.
    pub fn without_rowid(&self) -> bool {
        self.kind == TableKind::WithoutRowid
    }
    /// Column names.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }
}

/// An index from the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexInfo {
    /// Index name.
    pub name: String,
    /// Table it indexes.
    pub table: String,
    /// Root page.
    pub root_page: u32,
    /// CREATE INDEX text (None for automatic indexes of UNIQUE/PRIMARY KEY constraints).
    pub sql: Option<String>,
    /// UNIQUE index.
    pub unique: bool,
    /// Indexed column names (or expression text).
    pub columns: Vec<String>,
    /// Has a WHERE clause.
    pub partial: bool,
}

/// One row of `sqlite_schema`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaEntry {
    /// "table", "index", "view" or "trigger".
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Table the object belongs to.
    pub tbl_name: String,
    /// Root page (0 for views, triggers and virtual tables).
    pub root_page: i64,
    /// CREATE statement (None for automatic indexes).
    pub sql: Option<String>,
}

fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

/// Read every row of `sqlite_schema`.
pub fn read_entries(pager: &Pager) -> Result<Vec<SchemaEntry>> {
    let mut rows = Rows::new(pager, 1, RowPlan::raw("sqlite_schema", 5));
    let mut out = Vec::new();
    while let Some(row) = rows.next_row() {
        let row = row?;
        let rowid = row.rowid().unwrap_or(0);
        let bad = |what: &str| SqliteError::Schema {
            table: "sqlite_schema".into(),
            message: format!("row {rowid}: {what}"),
        };
        let root_page = match row.get(3) {
            ValueRef::Integer(i) => i,
            ValueRef::Null => 0,
            _ => return Err(bad("rootpage is not an integer")),
        };
        out.push(SchemaEntry {
            kind: text_of(row.get(0)).ok_or_else(|| bad("type is not text"))?,
            name: text_of(row.get(1)).ok_or_else(|| bad("name is not text"))?,
            tbl_name: text_of(row.get(2)).unwrap_or_default(),
            root_page,
            sql: text_of(row.get(4)),
        });
    }
    Ok(out)
}

fn root_of(e: &SchemaEntry, pager: &Pager) -> Result<u32> {
    match u32::try_from(e.root_page) {
        Ok(r) if r >= 1 && r <= pager.page_count() => Ok(r),
        _ => Err(SqliteError::Schema {
            table: e.name.clone(),
            message: format!(
                "root page: expected 1..={}, found {}",
                pager.page_count(),
                e.root_page
            ),
        }),
    }
}

/// Parse one `table` entry.
pub fn table_from_entry(e: &SchemaEntry, pager: &Pager) -> Result<TableInfo> {
    let sql = e.sql.as_deref().ok_or_else(|| SqliteError::Schema {
        table: e.name.clone(),
        message: "table has no CREATE statement".into(),
    })?;
    let is_virtual = sql
        .trim_start()
        .get(..14)
        .is_some_and(|p| p.eq_ignore_ascii_case("create virtual"));
    let root = if is_virtual { 0 } else { root_of(e, pager)? };
    let mut t = ddl::parse_create_table(&e.name, root, sql)?;
    t.root_page = root;
    Ok(t)
}

/// All tables, with shared-root detection across tables and indexes.
pub fn tables(entries: &[SchemaEntry], pager: &Pager) -> Result<Vec<TableInfo>> {
    check_roots(entries, pager)?;
    entries
        .iter()
        .filter(|e| e.kind == "table")
        .map(|e| table_from_entry(e, pager))
        .collect()
}

/// All indexes.
pub fn indexes(entries: &[SchemaEntry], pager: &Pager) -> Result<Vec<IndexInfo>> {
    check_roots(entries, pager)?;
    entries
        .iter()
        .filter(|e| e.kind == "index")
        .map(|e| {
            ddl::parse_create_index(&e.name, &e.tbl_name, root_of(e, pager)?, e.sql.as_deref())
        })
        .collect()
}

fn check_roots(entries: &[SchemaEntry], pager: &Pager) -> Result<()> {
    let mut seen: HashMap<i64, &str> = HashMap::new();
    for e in entries
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "table" | "index") && e.root_page != 0)
    {
        if let Some(other) = seen.insert(e.root_page, &e.name) {
            return Err(SqliteError::Schema {
                table: e.name.clone(),
                message: format!("root page {} is also the root of {other:?}", e.root_page),
            });
        }
        if e.root_page == 1 {
            return Err(SqliteError::Schema {
                table: e.name.clone(),
                message: "root page 1 belongs to sqlite_schema".into(),
            });
        }
        root_of(e, pager)?;
    }
    Ok(())
}
