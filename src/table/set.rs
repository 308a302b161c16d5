//! The declared tables of one database, and what `ON DELETE` reaches
//! among them: the context every write transaction checks against.

use super::def::{ForeignKeyDef, IndexDef, TableDef};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A foreign key pointing at a table, with the way to find its rows.
#[derive(Debug)]
pub struct Child {
    /// The referencing table.
    pub table: &'static TableDef,
    /// The foreign key.
    pub fk: &'static ForeignKeyDef,
    /// The index whose leading columns are the foreign-key columns, or
    /// `None` when they lead the referencing table's primary key.
    pub index: Option<&'static IndexDef>,
}

/// For each table, the foreign keys among `tables` that reference it (what
/// `ON DELETE` reaches in a file holding exactly these tables).
pub fn children_of(tables: &[&'static TableDef]) -> HashMap<&'static str, Vec<Child>> {
    let mut map: HashMap<&'static str, Vec<Child>> = HashMap::new();
    for &table in tables {
        for fk in table.foreign_keys {
            let index = table.indexes.iter().find(|i| finds_children(i, fk));
            map.entry((fk.parent)().name)
                .or_default()
                .push(Child { table, fk, index });
        }
    }
    map
}

/// Whether every row referencing a parent through `fk` has an entry in `idx`
/// that starts with the parent's key. A unique index qualifies only when it
/// covers exactly the foreign-key columns: it omits rows with other NULLs.
pub fn finds_children(idx: &IndexDef, fk: &ForeignKeyDef) -> bool {
    idx.columns.starts_with(fk.columns) && (!idx.unique || idx.columns.len() == fk.columns.len())
}

/// The tables of one database (a file, or a PostgreSQL schema).
#[derive(Debug)]
pub struct TableSet {
    origin: PathBuf,
    tables: Vec<&'static TableDef>,
    children: HashMap<&'static str, Vec<Child>>,
}

impl TableSet {
    /// The set of `tables`, named `origin` in errors.
    pub fn new(origin: PathBuf, tables: Vec<&'static TableDef>) -> Self {
        TableSet {
            origin,
            children: children_of(&tables),
            tables,
        }
    }

    /// What errors name: the file, or the redacted server and schema.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The declared tables.
    pub fn tables(&self) -> &[&'static TableDef] {
        &self.tables
    }

    /// The foreign keys of these tables that reference `parent`.
    pub fn referencing(&self, parent: &TableDef) -> &[Child] {
        self.children
            .get(parent.name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Refuses a table that is not in this set.
    pub fn declared(&self, def: &TableDef) -> Result<()> {
        if self.tables.iter().any(|t| t.name == def.name) {
            return Ok(());
        }
        Err(Error::Unknown {
            kind: "table",
            name: def.name.to_string(),
            hint: format!(" in {}", self.origin.display()),
        })
    }
}
