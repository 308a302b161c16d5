//! Which declared table a source table is, and how its columns map.
//!
//! A source table is identified by `sqlite_master`, not by the file it is
//! in: its name must be a declaration's name or one of its `sources`, and
//! among several candidates (the name `debates` is both the critique
//! store's table and consolidated `core.db`'s) the one whose columns match
//! best wins; the file name only breaks ties. Columns map by name
//! (case-insensitive, including declared aliases), never by position.

use crate::config::{DbTarget, Store};
use crate::schema::ALL_TABLES;
use crate::sqlite::{TableInfo, TableKind};
use crate::table::TableDef;

/// How one declared table is filled from one source table.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The target declaration.
    pub def: &'static TableDef,
    /// For each declared column, the source column it comes from.
    pub columns: Vec<Option<usize>>,
    /// Source columns the declaration lacks: kept in each row's extra map.
    pub extras: Vec<(usize, String)>,
}

impl Mapping {
    /// Whether the source file is this table's home (see [`file_hint`]).
    pub fn at_home(&self, rel: &str) -> bool {
        file_hint(rel, self.def.owner)
    }

    /// Whether rows of this table from `rel` may be given new ids.
    pub fn rekeys(&self, rel: &str) -> bool {
        self.def.autoincrement && !self.at_home(rel)
    }

    /// Declared columns the source lacks (they take their defaults).
    pub fn defaulted(&self) -> Vec<&'static str> {
        self.columns
            .iter()
            .zip(self.def.columns)
            .filter(|(src, _)| src.is_none())
            .map(|(_, c)| c.name)
            .collect()
    }
}

/// What happens to one source table.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Imported into a declared table.
    Typed(Mapping),
    /// No declaration matches: imported whole into the raw tables.
    Raw,
    /// Not imported, because its content is derived from other data
    /// (the reason says from what).
    Derived(String),
}

/// Decides what happens to `table` of the file `rel`, given every table of
/// that file (to recognise FTS shadow tables).
pub fn plan(rel: &str, table: &TableInfo, file_tables: &[TableInfo]) -> Disposition {
    let name = table.name.as_str();
    if name == "sqlite_sequence" {
        return Disposition::Derived(
            "SQLite's AUTOINCREMENT counters: applied to the imported tables' sequences".into(),
        );
    }
    if name.starts_with("sqlite_stat") {
        return Disposition::Derived("SQLite's query-planner statistics".into());
    }
    if table.kind == TableKind::Virtual {
        return Disposition::Derived(format!(
            "virtual table (its index is rebuilt from its content table): {}",
            first_line(&table.sql)
        ));
    }
    if let Some(vt) = file_tables.iter().find(|v| {
        v.kind == TableKind::Virtual
            && name.len() > v.name.len() + 1
            && name.starts_with(&v.name)
            && name.as_bytes()[v.name.len()] == b'_'
    }) {
        return Disposition::Derived(format!("shadow table of virtual table {}", vt.name));
    }
    let mut best: Option<(Score, Mapping)> = None;
    for &def in ALL_TABLES {
        let named = def.name.eq_ignore_ascii_case(name)
            || def.sources.iter().any(|s| s.eq_ignore_ascii_case(name));
        if !named || def.owner == DbTarget::Store(Store::Import) {
            continue;
        }
        let m = map_columns(def, table);
        let score = score(&m, rel, def);
        if score.complete_key && best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, m));
        }
    }
    match best {
        Some((_, m)) => Disposition::Typed(m),
        None => Disposition::Raw,
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or("")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    complete_key: bool,
    matched: usize,
    file_hint: bool,
    fewer_defaults: std::cmp::Reverse<usize>,
}

fn score(m: &Mapping, rel: &str, def: &TableDef) -> Score {
    let complete_key = def.primary_key.iter().all(|&c| m.columns[c].is_some());
    let matched = m.columns.iter().filter(|c| c.is_some()).count();
    Score {
        complete_key,
        matched,
        file_hint: file_hint(rel, def.owner),
        fewer_defaults: std::cmp::Reverse(m.columns.len() - matched),
    }
}

/// Whether `rel` is the file the owner's data normally lives in (legacy
/// name, or the consolidated file it merges into): the table's *home*.
/// Rows from other files are imported after every home file, and an
/// AUTOINCREMENT row whose id is taken there gets a new id.
pub fn file_hint(rel: &str, owner: DbTarget) -> bool {
    if rel == owner.legacy_file_name() {
        return true;
    }
    match owner {
        DbTarget::Type(t) => rel == t.consolidated().legacy_file_name(),
        DbTarget::Store(_) => false,
    }
}

/// Maps `table`'s columns onto `def` by name and alias.
pub fn map_columns(def: &'static TableDef, table: &TableInfo) -> Mapping {
    let mut columns = vec![None; def.columns.len()];
    let mut extras = Vec::new();
    for (j, c) in table.columns.iter().enumerate() {
        let hit = def.columns.iter().position(|d| {
            d.name.eq_ignore_ascii_case(&c.name)
                || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(&c.name))
        });
        match hit {
            Some(i) if columns[i].is_none() => columns[i] = Some(j),
            _ => extras.push((j, c.name.clone())),
        }
    }
    Mapping {
        def,
        columns,
        extras,
    }
}
