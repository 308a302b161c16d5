//! What each table becomes in PostgreSQL, decided from its declaration and
//! one pass over its rows (a read snapshot; the data pass reads the same one).
//!
//! A plan starts from the table's PostgreSQL shape ([`pgshape`]: names,
//! types, keys, indexes and foreign keys from the declaration alone, the
//! same a live database gets); the pass only changes what the data does not
//! fit. It finds what the declaration alone cannot promise: values that do
//! not fit their column's type (the column is widened, see
//! [`PgType::widenings`]), NULLs in NOT NULL or primary-key columns (the
//! constraint is left out), rows with undeclared columns (an `_extra jsonb`
//! column is added), foreign-key values without a parent row (the
//! constraint is added `NOT VALID`), and the AUTOINCREMENT high-water mark.
//! Every such decision becomes a [`Note`](super::Note).

use super::ident::Names;
use super::pgshape::{self, PgTable};
use super::types::PgType;
use crate::table::{ColumnDef, Extras, IndexDef, TableDef, Value, ValueRef, keys};

/// Index entries whose columns may together exceed this many bytes are
/// built on `md5(...)` of their text and bytea columns: a btree entry holds
/// at most about 2.7 kB (PostgreSQL's limit is a third of a page).
pub const MAX_INDEX_BYTES: usize = 2000;

/// One column's outcome.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// The declaration.
    pub def: &'static ColumnDef,
    /// Its PostgreSQL name.
    pub pg_name: String,
    /// The type the declaration maps to.
    pub declared: PgType,
    /// The type exported (differs when a value did not fit).
    pub ty: PgType,
    /// NOT NULL is emitted (declared NOT NULL and no NULL found).
    pub not_null: bool,
    /// Longest stored text or blob, in bytes (for index entry sizes).
    pub max_len: usize,
    viable: Vec<PgType>,
    misfits: u64,
    first_misfit: Option<String>,
    nulls: u64,
}

/// One foreign key's outcome.
#[derive(Debug, Clone)]
pub struct FkPlan {
    /// Index into the table's declared foreign keys.
    pub index: usize,
    /// Rows whose key has no parent row.
    pub dangling: u64,
    /// Constraint name.
    pub pg_name: String,
    /// Why the constraint is left out, if it is.
    pub skip: Option<String>,
}

/// One table's outcome.
#[derive(Debug)]
pub struct TablePlan {
    /// The declaration.
    pub def: &'static TableDef,
    /// The shape from the declaration alone (what a live database has).
    pub shape: PgTable,
    /// Its PostgreSQL name.
    pub pg_name: String,
    /// Columns in declaration order.
    pub columns: Vec<ColumnPlan>,
    /// The `_extra jsonb` column's name, when some row has undeclared columns.
    pub extra_column: Option<String>,
    /// Rows carrying undeclared columns.
    pub extras_rows: u64,
    /// Rows seen.
    pub rows: u64,
    /// Primary-key constraint (or index) name.
    pub pk_name: String,
    /// A key column holds NULL: the key becomes a UNIQUE index, not a PRIMARY KEY.
    pub pk_unique_only: bool,
    /// Indexes with their PostgreSQL names.
    pub indexes: Vec<(&'static IndexDef, String)>,
    /// Foreign keys.
    pub fks: Vec<FkPlan>,
    /// For AUTOINCREMENT tables: the highest id handed out (stored sequence
    /// or largest key), to which the identity sequence is set.
    pub sequence: i64,
    pk_nulls: u64,
}

impl TablePlan {
    /// A plan before any row is seen, from the table's registered shape
    /// ([`pgshape::shape`]).
    pub fn new(def: &'static TableDef) -> Self {
        Self::from_shape(pgshape::shape(def).clone())
    }

    /// A plan before any row is seen, from a shape.
    pub fn from_shape(shape: PgTable) -> Self {
        let def = shape.def;
        let columns = def
            .columns
            .iter()
            .zip(shape.declared())
            .map(|(c, pc)| {
                let declared = pc.ty;
                let mut viable = vec![declared];
                viable.extend(declared.widenings().iter().filter(|t| **t != declared));
                ColumnPlan {
                    def: c,
                    pg_name: pc.pg_name.clone(),
                    declared,
                    ty: declared,
                    not_null: pc.not_null,
                    max_len: 0,
                    viable,
                    misfits: 0,
                    first_misfit: None,
                    nulls: 0,
                }
            })
            .collect();
        TablePlan {
            def,
            pg_name: shape.name.clone(),
            columns,
            extra_column: None,
            extras_rows: 0,
            rows: 0,
            pk_name: shape.pk_name.clone(),
            pk_unique_only: false,
            indexes: shape
                .indexes
                .iter()
                .map(|i| (i.def, i.name.clone()))
                .collect(),
            fks: shape
                .foreign_keys
                .iter()
                .map(|f| FkPlan {
                    index: f.index,
                    dangling: 0,
                    pg_name: f.name.clone(),
                    skip: None,
                })
                .collect(),
            sequence: 0,
            pk_nulls: 0,
            shape,
        }
    }

    /// Records one row. `key` is its encoded primary key (for messages);
    /// `has_parent(fk, key)` says whether a foreign key's parent row exists.
    pub fn observe(
        &mut self,
        key: &[u8],
        vals: &[Value],
        extras: &Extras,
        has_parent: &mut dyn FnMut(usize, &[u8]) -> crate::Result<bool>,
    ) -> crate::Result<()> {
        self.rows += 1;
        for (c, v) in self.columns.iter_mut().zip(vals) {
            let v = v.as_ref();
            if let ValueRef::Text(t) = v {
                c.max_len = c.max_len.max(t.len());
            } else if let ValueRef::Blob(b) = v {
                c.max_len = c.max_len.max(b.len());
            }
            if v.is_null() {
                c.nulls += 1;
                continue;
            }
            // One check against the declared type (JSON and timestamp
            // parsing is the costly part), reused for `exact`.
            let declared = c.declared;
            let fits = declared.fits(v);
            if !declared.exact_if_fits(v, fits) {
                c.misfits += 1;
                if c.first_misfit.is_none() {
                    c.first_misfit = Some(format!("key {}: {}", keys::render(key), v.describe()));
                }
            }
            c.viable
                .retain(|&t| if t == declared { fits } else { t.fits(v) });
        }
        if !extras.is_empty() {
            self.extras_rows += 1;
        }
        if self.def.primary_key.iter().any(|&i| vals[i].is_null()) {
            self.pk_nulls += 1;
        }
        if self.def.autoincrement
            && let Some(Value::Integer(id)) = vals.get(self.def.primary_key[0])
        {
            self.sequence = self.sequence.max(*id);
        }
        for (i, fk) in self.def.foreign_keys.iter().enumerate() {
            if fk.columns.iter().any(|&c| vals[c].is_null()) {
                continue;
            }
            let k = keys::encode(fk.columns.iter().map(|&c| vals[c].as_ref()));
            if !has_parent(i, &k)? {
                self.fks[i].dangling += 1;
            }
        }
        Ok(())
    }

    /// Settles types once every row is seen (names come from the shape);
    /// returns the notes.
    pub fn settle(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut cols = Names::new();
        for c in &self.shape.columns {
            cols.claim(&c.pg_name);
        }
        if let Some(s) = &self.shape.search {
            cols.claim(&s.column);
        }
        for c in &mut self.columns {
            // `bytea` takes every value, so the list is never empty.
            c.ty = c.viable.first().copied().unwrap_or(PgType::Bytea);
            if c.misfits > 0 {
                let outcome = if c.ty == c.declared {
                    format!("written as {} (digits or bytes)", c.ty.sql())
                } else {
                    format!("column exported as {}", c.ty.sql())
                };
                notes.push(format!(
                    "column {}: {} value(s) are not {} (first at {}); {outcome}",
                    c.def.name,
                    c.misfits,
                    c.declared.sql(),
                    c.first_misfit.as_deref().unwrap_or("?"),
                ));
            }
            if c.not_null && c.nulls > 0 {
                c.not_null = false;
                notes.push(format!(
                    "column {}: declared NOT NULL but {} row(s) hold NULL; exported without NOT NULL",
                    c.def.name, c.nulls
                ));
            }
        }
        if self.extras_rows > 0 {
            let name = self.shape.extra.clone();
            notes.push(format!(
                "{} row(s) carry undeclared columns; kept as JSON in column {name} (jsonb)",
                self.extras_rows
            ));
            self.extra_column = Some(name);
        }
        for (from, to) in &self.shape.renamed {
            notes.push(format!(
                "name {from:?} exported as {to:?} (63-byte limit or taken by another table, index, constraint or column)"
            ));
        }
        if self.pk_nulls == 0 && self.oversized(self.def.primary_key) {
            self.pk_unique_only = true;
            notes.push(format!(
                "primary key ({}) holds values longer than {MAX_INDEX_BYTES} bytes; exported as a UNIQUE index on md5 of its text and bytea columns, and foreign keys to it are left out",
                self.def.column_list(self.def.primary_key)
            ));
        }
        for i in self.def.indexes {
            if self.oversized(i.columns) {
                notes.push(format!(
                    "index {} ({}) holds values longer than {MAX_INDEX_BYTES} bytes; built on md5 of its text and bytea columns",
                    i.name,
                    self.def.column_list(i.columns)
                ));
            }
        }
        if self.pk_nulls > 0 {
            self.pk_unique_only = true;
            notes.push(format!(
                "{} row(s) hold NULL in the primary key ({}); exported with a UNIQUE index instead of PRIMARY KEY",
                self.pk_nulls,
                self.def.column_list(self.def.primary_key)
            ));
        }
        notes
    }

    /// Whether the longest values of `cols` together may exceed a btree entry.
    pub fn oversized(&self, cols: &[usize]) -> bool {
        cols.iter().map(|&c| self.columns[c].max_len).sum::<usize>() > MAX_INDEX_BYTES
    }

    /// True when the identity column's sequence must be set after the data.
    pub fn identity(&self) -> bool {
        self.def.autoincrement && self.columns[self.def.primary_key[0]].ty == PgType::BigInt
    }

    /// The exported column names, in order (declared columns, then `_extra`).
    pub fn pg_columns(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .map(|c| c.pg_name.as_str())
            .chain(self.extra_column.as_deref())
    }

    /// The quoted table name and the quoted, comma-separated column list
    /// (what `COPY` and `INSERT` both start with).
    pub fn quoted_names(&self) -> crate::error::Result<(String, String)> {
        use super::ident::quote_ident;
        let cols = self
            .pg_columns()
            .map(|c| quote_ident(c).map_err(super::ident_err))
            .collect::<crate::error::Result<Vec<_>>>()?;
        let table = quote_ident(&self.pg_name).map_err(super::ident_err)?;
        Ok((table, cols.join(", ")))
    }
}

/// Decides which foreign keys can be emitted, once every table is settled.
/// Returns `(table, note)` pairs.
pub fn settle_foreign_keys(plans: &mut [TablePlan]) -> Vec<(&'static str, String)> {
    let mut notes = Vec::new();
    let shapes: Vec<(&str, bool, Vec<PgType>)> = plans
        .iter()
        .map(|p| {
            (
                p.def.name,
                !p.pk_unique_only,
                p.columns.iter().map(|c| c.ty).collect(),
            )
        })
        .collect();
    for p in plans.iter_mut() {
        for fk in &mut p.fks {
            let d = &p.def.foreign_keys[fk.index];
            let parent = (d.parent)();
            let what = format!(
                "foreign key ({}) -> {}",
                p.def.column_list(d.columns),
                parent.name
            );
            let Some((_, has_pk, types)) = shapes.iter().find(|s| s.0 == parent.name) else {
                fk.skip = Some(format!(
                    "{what}: not exported, the parent table is not exported"
                ));
                notes.push((p.def.name, fk.skip.clone().unwrap_or_default()));
                continue;
            };
            let mismatch = d
                .columns
                .iter()
                .zip(parent.primary_key)
                .any(|(&c, &pc)| p.columns[c].ty != types[pc]);
            if !has_pk || mismatch {
                let why = if mismatch {
                    "column types differ after widening"
                } else {
                    "the parent has no primary key"
                };
                fk.skip = Some(format!("{what}: not exported, {why}"));
                notes.push((p.def.name, fk.skip.clone().unwrap_or_default()));
            } else if fk.dangling > 0 {
                notes.push((
                    p.def.name,
                    format!(
                        "{what}: {} row(s) reference a missing parent row (kept); constraint added NOT VALID after the data",
                        fk.dangling
                    ),
                ));
            }
        }
    }
    notes
}
