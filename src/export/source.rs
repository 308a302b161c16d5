//! Where exported rows come from: anything that implements [`Rows`] — the
//! database files of a configuration (`ops::export_rows::StoreRows`, one
//! read snapshot per file for both passes, above the database layer) or
//! rows in memory ([`MemTable`], for tests and property tests).

use crate::error::Result;
use crate::table::{Extras, TableDef, Value, keys};

/// The callback of [`Rows::visit`]: encoded primary key, values, extras.
pub type Visitor<'a> = dyn FnMut(&[u8], &[Value], &Extras) -> Result<()> + 'a;

/// A set of tables and their rows. Every visit of a table must yield the
/// same rows in the same order (a snapshot).
pub trait Rows {
    /// The tables, in export order.
    fn tables(&self) -> &[&'static TableDef];
    /// Visits every row of table `t`: encoded primary key, values, extras.
    fn visit(&self, t: usize, f: &mut Visitor<'_>) -> Result<()>;
    /// Whether foreign key `fk` of table `t` finds a parent row for `key`
    /// (the encoded referencing values).
    fn has_parent(&self, t: usize, fk: usize, key: &[u8]) -> Result<bool>;
    /// The stored AUTOINCREMENT sequence of table `t` (0 if none).
    fn sequence(&self, t: usize) -> Result<i64>;
}

/// One table's rows in memory.
#[derive(Debug, Clone)]
pub struct MemTable {
    /// The table.
    pub def: &'static TableDef,
    /// Rows: values in column order, and undeclared columns.
    pub rows: Vec<(Vec<Value>, Extras)>,
}

/// In-memory tables (the order given is the export order).
pub struct MemRows {
    tables: Vec<&'static TableDef>,
    data: Vec<MemTable>,
}

impl MemRows {
    /// Wraps tables. Rows are kept in the order given.
    pub fn new(data: Vec<MemTable>) -> Self {
        MemRows {
            tables: data.iter().map(|t| t.def).collect(),
            data,
        }
    }
}

impl Rows for MemRows {
    fn tables(&self) -> &[&'static TableDef] {
        &self.tables
    }

    fn visit(&self, t: usize, f: &mut Visitor<'_>) -> Result<()> {
        let def = self.tables[t];
        for (vals, extras) in &self.data[t].rows {
            let key = keys::encode(def.primary_key.iter().map(|&c| vals[c].as_ref()));
            f(&key, vals, extras)?;
        }
        Ok(())
    }

    fn has_parent(&self, t: usize, fk: usize, key: &[u8]) -> Result<bool> {
        let parent = (self.tables[t].foreign_keys[fk].parent)();
        Ok(self.data.iter().any(|m| {
            m.def.name == parent.name
                && m.rows.iter().any(|(v, _)| {
                    keys::encode(parent.primary_key.iter().map(|&c| v[c].as_ref())) == key
                })
        }))
    }

    fn sequence(&self, _t: usize) -> Result<i64> {
        Ok(0)
    }
}
