//! Which declared table a source table is, and how its columns map.
//!
//! A source table is identified by `sqlite_master`, not by the file it is
//! in: its name must be a declaration's name or one of its `sources`, and
//! among several candidates (the name `debates` is both the critique
//! store's table and consolidated `core.db`'s) the one whose columns match
//! best wins; the file name only breaks ties. Columns map by name
//! (case-insensitive, including declared aliases), never by position. A
//! declared column named `rowid` that the source lacks takes the source
//! row's rowid: that is how a table the original created without a primary
//! key (`patterns_archive`) keeps its identity.
//!
//! Where the rows go: in legacy mode a source file that is one of the
//! original's legacy files goes to its own `.redb` counterpart for every
//! table that file holds (its owner's tables and the copies the original
//! also creates there, [`crate::schema::ALSO_IN`]), so the same table in
//! three files stays three tables, as in the original. Otherwise (a file of
//! another name, or consolidated mode) rows go to the table's owner file:
//! the table's home file first, then the others, whose rows merge by the
//! rules in `docs/ORIGINAL.md`.

use crate::config::{Config, DatabaseMode, DbTarget, Store};
use crate::error::Result;
use crate::schema::ALL_TABLES;
use crate::sqlite::{TableInfo, TableKind};
use crate::table::TableDef;
use std::path::PathBuf;

/// How one declared table is filled from one source table.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The target declaration.
    pub def: &'static TableDef,
    /// For each declared column, the source column it comes from.
    pub columns: Vec<Option<usize>>,
    /// Source columns the declaration lacks: kept in each row's extra map.
    pub extras: Vec<(usize, String)>,
    /// The declared column filled with the source row's rowid (a table the
    /// original created without a primary key of its own).
    pub rowid: Option<usize>,
    /// The file the rows go to.
    pub target: PathBuf,
    /// Whether the source file is the table's home for this target: its
    /// rows keep their keys and its `sqlite_sequence` applies. Rows from
    /// other files are imported after every home file (see [`file_hint`]).
    pub home: bool,
    /// The table's store is on PostgreSQL (an import through a staging
    /// store, `ops::to_postgres`): a row is typed only if PostgreSQL's
    /// column types also hold every value (`pgshape::param`); else it is
    /// rejected, kept whole in `import_rejects`, as an untypable row is.
    pub postgres: bool,
}

impl Mapping {
    /// Whether the source file is this table's home.
    pub fn at_home(&self) -> bool {
        self.home
    }

    /// Whether rows of this table may be given new ids (an AUTOINCREMENT
    /// table merged from a file that is not its home).
    pub fn rekeys(&self) -> bool {
        self.def.autoincrement && !self.home
    }

    /// Declared columns the source lacks (they take their defaults).
    pub fn defaulted(&self) -> Vec<&'static str> {
        self.columns
            .iter()
            .zip(self.def.columns)
            .enumerate()
            .filter(|(i, (src, _))| src.is_none() && self.rowid != Some(*i))
            .map(|(_, (_, c))| c.name)
            .collect()
    }

    /// Whether every primary-key column has a source.
    pub fn complete_key(&self) -> bool {
        self.def
            .primary_key
            .iter()
            .all(|&c| self.columns[c].is_some() || self.rowid == Some(c))
    }
}

/// What happens to one source table.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Imported into a declared table.
    Typed(Mapping),
    /// No declaration matches: imported whole into the raw tables (the
    /// reason says why).
    Raw(String),
    /// Not imported, because its content is derived from other data
    /// (the reason says from what).
    Derived(String),
}

/// Decides what happens to `table` of the file `rel`, given every table of
/// that file (to recognise FTS shadow tables), for an import into `config`.
pub fn plan(
    config: &Config,
    rel: &str,
    table: &TableInfo,
    file_tables: &[TableInfo],
) -> Result<Disposition> {
    let name = table.name.as_str();
    if name == "sqlite_sequence" {
        return Ok(Disposition::Derived(
            "SQLite's AUTOINCREMENT counters: applied to the imported tables' sequences".into(),
        ));
    }
    if name.starts_with("sqlite_stat") {
        return Ok(Disposition::Derived(
            "SQLite's query-planner statistics".into(),
        ));
    }
    if table.kind == TableKind::Virtual {
        return Ok(Disposition::Derived(format!(
            "virtual table (its index is rebuilt from its content table): {}",
            first_line(&table.sql)
        )));
    }
    if let Some(vt) = file_tables.iter().find(|v| {
        v.kind == TableKind::Virtual
            && name.len() > v.name.len() + 1
            && name.starts_with(&v.name)
            && name.as_bytes()[v.name.len()] == b'_'
    }) {
        return Ok(Disposition::Derived(format!(
            "shadow table of virtual table {}",
            vt.name
        )));
    }
    let mut best: Option<(Score, Mapping)> = None;
    let mut incomplete = Vec::new();
    for &def in ALL_TABLES {
        let named = def.name.eq_ignore_ascii_case(name)
            || def.sources.iter().any(|s| s.eq_ignore_ascii_case(name));
        if !named || def.owner == DbTarget::Store(Store::Import) {
            continue;
        }
        let (target, home) = route(config, rel, def)?;
        let mut m = map_columns(def, table, target, home);
        m.postgres = config.backend.kind_for(def.owner) == crate::config::BackendKind::Postgres;
        let score = score(&m);
        if !score.complete_key {
            let missing: Vec<&str> = def
                .primary_key
                .iter()
                .filter(|&&c| m.columns[c].is_none() && m.rowid != Some(c))
                .map(|&c| def.columns[c].name)
                .collect();
            incomplete.push(format!("{} (no {})", def.name, missing.join(", ")));
        } else if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, m));
        }
    }
    Ok(match best {
        Some((_, m)) => Disposition::Typed(m),
        None if incomplete.is_empty() => Disposition::Raw(format!(
            "no declared table is named {name} (nor has it as a source name)"
        )),
        None => Disposition::Raw(format!(
            "declared table {} matches the name, but the source lacks its primary-key column",
            incomplete.join(", ")
        )),
    })
}

/// The file `def`'s rows from the source file `rel` go to, and whether
/// `rel` is their home there (see the module docs).
pub fn route(config: &Config, rel: &str, def: &'static TableDef) -> Result<(PathBuf, bool)> {
    if config.mode == DatabaseMode::Legacy {
        for t in DbTarget::all() {
            if t.legacy_file_name() != rel {
                continue;
            }
            let path = config.get_db_path(t)?.path;
            if crate::schema::tables_in_file(config, &path)?
                .iter()
                .any(|d| d.name == def.name)
            {
                return Ok((path, true));
            }
        }
    }
    Ok((
        config.get_db_path(def.owner)?.path,
        file_hint(rel, def.owner),
    ))
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

fn score(m: &Mapping) -> Score {
    let matched = m.columns.iter().filter(|c| c.is_some()).count();
    Score {
        complete_key: m.complete_key(),
        matched,
        file_hint: m.home,
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

/// Maps `table`'s columns onto `def` by name and alias, for rows going to
/// `target`.
pub fn map_columns(
    def: &'static TableDef,
    table: &TableInfo,
    target: PathBuf,
    home: bool,
) -> Mapping {
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
    // SQLite's implicit rowid, when the declaration names it and the source
    // has no column of that name (a rowid alias is a real column).
    let rowid = if table.without_rowid() {
        None
    } else {
        def.columns
            .iter()
            .enumerate()
            .position(|(i, d)| columns[i].is_none() && d.name.eq_ignore_ascii_case("rowid"))
    };
    Mapping {
        def,
        columns,
        extras,
        rowid,
        target,
        home,
        postgres: false,
    }
}
