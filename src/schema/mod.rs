//! The registry of every declared table.
//!
//! [`ALL_TABLES`] is the one list that `status`, `verify`, backup, the
//! importer and the exporter iterate. Each table's file follows from its
//! owner and the mode; nothing here lists columns.

pub mod users;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::table::{ForeignKeyDef, IndexDef, TableDef};
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

/// Every declared table.
pub static ALL_TABLES: &[&TableDef] = &[
    &users::USERS,
    &users::ORGANIZATIONS,
    &users::AUDIT_LOG,
    &users::USAGE_EVENTS,
    &users::USAGE_SUMMARY,
    &users::OAUTH_PROVIDERS,
    &users::ORG_INVITATIONS,
];

/// A table by name.
pub fn table(name: &str) -> Result<&'static TableDef> {
    ALL_TABLES
        .iter()
        .copied()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::Unknown {
            kind: "table",
            name: name.to_string(),
            hint: format!(
                " (known: {})",
                ALL_TABLES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The tables stored in `file` under `config`'s mode, in registry order.
pub fn tables_in_file(config: &Config, file: &Path) -> Result<Vec<&'static TableDef>> {
    let mut out = Vec::new();
    for &def in ALL_TABLES {
        if config.get_db_path(def.owner)?.path == file {
            out.push(def);
        }
    }
    Ok(out)
}

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

static CHILDREN: LazyLock<HashMap<&'static str, Vec<Child>>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, Vec<Child>> = HashMap::new();
    for &table in ALL_TABLES {
        for fk in table.foreign_keys {
            let index = table.indexes.iter().find(|i| finds_children(i, fk));
            map.entry((fk.parent)().name)
                .or_default()
                .push(Child { table, fk, index });
        }
    }
    map
});

/// Whether every row referencing a parent through `fk` has an entry in `idx`
/// that starts with the parent's key. A unique index qualifies only when it
/// covers exactly the foreign-key columns: it omits rows with other NULLs.
fn finds_children(idx: &IndexDef, fk: &ForeignKeyDef) -> bool {
    idx.columns.starts_with(fk.columns) && (!idx.unique || idx.columns.len() == fk.columns.len())
}

/// The foreign keys that reference `parent`.
pub fn referencing(parent: &TableDef) -> &'static [Child] {
    CHILDREN.get(parent.name).map(Vec::as_slice).unwrap_or(&[])
}

/// Problems with the declarations themselves (tested to be empty).
pub fn registry_problems() -> Vec<String> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for &t in ALL_TABLES {
        if !names.insert(t.name) {
            out.push(format!("table {} is registered twice", t.name));
        }
        if t.name.starts_with("__") || t.name.contains('#') {
            out.push(format!(
                "table name {} uses a reserved prefix or '#'",
                t.name
            ));
        }
        if t.autoincrement
            && (t.primary_key.len() != 1
                || t.columns[t.primary_key[0]].sql != crate::table::SqlType::Integer)
        {
            out.push(format!(
                "{}: AUTOINCREMENT needs a single INTEGER primary key",
                t.name
            ));
        }
        let mut idx_names = std::collections::HashSet::new();
        for i in t.indexes {
            if i.unique && i.covering {
                out.push(format!(
                    "{}: index {} cannot be both unique and covering",
                    t.name, i.name
                ));
            }
            if !idx_names.insert(i.name) {
                out.push(format!("{}: index {} declared twice", t.name, i.name));
            }
        }
        for fk in t.foreign_keys {
            let parent = (fk.parent)();
            if !ALL_TABLES.iter().any(|p| p.name == parent.name) {
                out.push(format!(
                    "{}: parent {} is not registered",
                    t.name, parent.name
                ));
            }
            if parent.primary_key.len() != fk.columns.len() {
                out.push(format!(
                    "{}: foreign key arity differs from {}'s key",
                    t.name, parent.name
                ));
            }
            let indexed = t.indexes.iter().any(|i| finds_children(i, fk))
                || t.primary_key.starts_with(fk.columns);
            if !indexed {
                out.push(format!(
                    "{}: foreign key ({}) has no index leading with its columns",
                    t.name,
                    t.column_list(fk.columns)
                ));
            }
            if parent.owner.legacy_file_name() != t.owner.legacy_file_name() {
                out.push(format!(
                    "{}: parent {} lives in another file",
                    t.name, parent.name
                ));
            }
        }
    }
    out
}
