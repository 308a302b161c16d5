//! The export's source: every declared table of every existing database
//! file of a configuration, each file read through one snapshot so that
//! both passes of the export (data, then the checks it needs) see the same
//! rows. Above the database layer, so the SQL generation in `export` stays
//! below the PostgreSQL backend that shares it.

use crate::Database;
use crate::config::Config;
use crate::error::Result;
use crate::export::{Rows, Visitor};
use crate::schema;
use crate::table::layout::{ROWS, SEQ_KEY, spaced};
use crate::table::{KeyRange, Page, Reader, TableDef};
use crate::unreadable::Unreadable;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// Every declared table of every existing database file of a configuration.
pub struct StoreRows {
    tables: Vec<&'static TableDef>,
    /// Reader index of each table.
    at: Vec<usize>,
    readers: Vec<Reader>,
    /// Files that hold the requested tables but do not exist (not created).
    pub missing: Vec<(PathBuf, Vec<&'static str>)>,
    /// Legacy mode: the copies of a table the original also keeps in
    /// another file (`schema::ALSO_IN`) that hold rows, with their row
    /// counts. They are not exported (PostgreSQL has one table of each
    /// name: the owner's file's), and the caller must say so.
    pub copies: Vec<(PathBuf, &'static str, u64)>,
    /// Files that exist but could not be read (damaged...): not exported.
    pub unreadable: Vec<Unreadable>,
    /// What the opens noticed (e.g. a file that needs crash recovery).
    pub notes: Vec<(PathBuf, String)>,
    _dbs: Vec<Database>,
}

impl StoreRows {
    /// Opens every existing file of `config`'s mode that holds a table in
    /// `only` (every declared table when `None`) and takes a read snapshot.
    pub fn open(config: &Config, only: Option<&[String]>) -> Result<StoreRows> {
        let wanted: Option<HashSet<&str>> = match only {
            Some(names) => {
                for n in names {
                    schema::table(n)?;
                }
                Some(names.iter().map(String::as_str).collect())
            }
            None => None,
        };
        let mut files = BTreeMap::new();
        for (target, file) in config.all_db_paths()? {
            files.entry(file.path).or_insert(target);
        }
        let mut s = StoreRows {
            tables: Vec::new(),
            at: Vec::new(),
            readers: Vec::new(),
            missing: Vec::new(),
            copies: Vec::new(),
            unreadable: Vec::new(),
            notes: Vec::new(),
            _dbs: Vec::new(),
        };
        // Registry order, so the script reads like the declarations.
        let mut by_file: Vec<(PathBuf, Vec<&'static TableDef>)> = Vec::new();
        for &def in schema::ALL_TABLES {
            if wanted.as_ref().is_some_and(|w| !w.contains(def.name)) {
                continue;
            }
            let path = config.get_db_path(def.owner)?.path;
            match by_file.iter_mut().find(|(p, _)| *p == path) {
                Some((_, v)) => v.push(def),
                None => by_file.push((path, vec![def])),
            }
        }
        let mut opened: Vec<PathBuf> = Vec::new();
        for (path, defs) in by_file {
            if !path.exists() {
                s.missing
                    .push((path, defs.iter().map(|d| d.name).collect()));
                continue;
            }
            if !files.contains_key(&path) {
                continue;
            }
            // Read-only: exporting never writes to a database file. A file
            // that cannot be read is reported and skipped, the rest exported.
            let tables = schema::tables_in_file(config, &path)?;
            let db = Database::open_read_only(&path, tables, &config.into()).and_then(|db| {
                let r = db.read()?;
                Ok((db, r))
            });
            let (db, r) = match db {
                Ok(x) => x,
                Err(e) => {
                    s.unreadable.push(Unreadable::from_error(&path, &e));
                    continue;
                }
            };
            s.notes
                .extend(db.notes().iter().map(|n| (path.clone(), n.clone())));
            opened.push(path);
            s.readers.push(r);
            s._dbs.push(db);
            for def in defs {
                s.tables.push(def);
                s.at.push(s.readers.len() - 1);
            }
        }
        if config.mode == crate::config::DatabaseMode::Legacy {
            for &(target, defs) in schema::ALSO_IN {
                let path = config.get_db_path(target)?.path;
                if !path.exists() {
                    continue;
                }
                // Read-only, as above; a damaged file is reported there
                // (or here, if no exported table lives in it).
                let opened = schema::tables_in_file(config, &path).and_then(|tables| {
                    let db = Database::open_read_only(&path, tables, &config.into())?;
                    let r = db.read()?;
                    Ok((db, r))
                });
                let (_db, r) = match opened {
                    Ok(x) => x,
                    Err(e) => {
                        if !s.unreadable.iter().any(|u| u.path == path) {
                            s.unreadable.push(Unreadable::from_error(&path, &e));
                        }
                        continue;
                    }
                };
                for def in defs {
                    if wanted.as_ref().is_some_and(|w| !w.contains(def.name)) {
                        continue;
                    }
                    let n = r.count_rows(def)?;
                    if n > 0 {
                        s.copies.push((path.clone(), def.name, n));
                    }
                }
            }
        }
        Ok(s)
    }
}

impl Rows for StoreRows {
    fn tables(&self) -> &[&'static TableDef] {
        &self.tables
    }

    fn visit(&self, t: usize, f: &mut Visitor<'_>) -> Result<()> {
        let def = self.tables[t];
        self.readers[self.at[t]].scan_raw(def, &KeyRange::all(), Page::default(), |k, b| {
            let (vals, extras) = def.decode_values(k, b)?;
            f(k, &vals, &extras)?;
            Ok(true)
        })
    }

    fn has_parent(&self, t: usize, fk: usize, key: &[u8]) -> Result<bool> {
        let parent = (self.tables[t].foreign_keys[fk].parent)();
        let table = self.readers[self.at[t]].raw_table(parent.name)?;
        let found = table
            .get(spaced(ROWS, key).as_slice())
            .map_err(|e| crate::Error::storage(parent.name, e))?;
        Ok(found.is_some())
    }

    fn sequence(&self, t: usize) -> Result<i64> {
        let def = self.tables[t];
        let table = self.readers[self.at[t]].raw_table(def.name)?;
        let found = table
            .get(SEQ_KEY)
            .map_err(|e| crate::Error::storage(def.name, e))?;
        Ok(found
            .and_then(|g| g.value().try_into().ok().map(u64::from_le_bytes))
            .map_or(0, |v| v.min(i64::MAX as u64) as i64))
    }
}
