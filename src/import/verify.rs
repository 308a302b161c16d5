//! `import --verify`: every source row is read again, typed by the same
//! rules, and compared with what is stored, value by value (the row's
//! declared columns and its extra map). A row counts as accounted for when
//! it is stored equal, or when `import_rejects` holds it; anything else is
//! a mismatch.
//!
//! Each source file is read through first, as the import does, so a file
//! that cannot be read is listed (it has no rows to compare) instead of
//! stopping the check of the others halfway; this reads each file twice.

use super::discover;
use super::load::reader_error;
use super::plan::{self, Disposition};
use super::row;
use crate::config::{Config, DbTarget, Store};
use crate::db::{Database, OpenOptions};
use crate::error::Result;
use crate::schema::import::{IMPORT_RAW_ROWS, IMPORT_REJECTS, IMPORT_REKEYED};
use crate::table::{Reader, Value, embedded::read::RoTable, keys};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How many mismatches are listed one by one.
const LISTED: usize = 100;

/// One source table checked.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedTable {
    /// Source file.
    pub file: String,
    /// Source table.
    pub table: String,
    /// Rows read.
    pub checked: u64,
    /// Rows stored equal.
    pub matched: u64,
    /// Rows found in `import_rejects`.
    pub rejected: u64,
    /// Rows neither stored equal nor rejected.
    pub mismatched: u64,
}

/// One row that is not accounted for.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// Source file.
    pub file: String,
    /// Source table.
    pub table: String,
    /// Rowid (or ordinal).
    pub rowid: i64,
    /// What differs.
    pub what: String,
}

/// The outcome of `--verify`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Per source table (derived tables are not listed).
    pub tables: Vec<VerifiedTable>,
    /// The first mismatches.
    pub mismatches: Vec<Mismatch>,
    /// Total mismatches.
    pub mismatch_count: u64,
    /// Source files that could not be read, so none of their rows was
    /// checked (the same list as the import's `errors`).
    pub errors: Vec<super::report::FileError>,
}

impl VerifyReport {
    /// True when every source row is accounted for.
    pub fn ok(&self) -> bool {
        self.mismatch_count == 0 && self.errors.is_empty()
    }

    /// A short text summary.
    pub fn render(&self) -> String {
        let checked: u64 = self.tables.iter().map(|t| t.checked).sum();
        let matched: u64 = self.tables.iter().map(|t| t.matched).sum();
        let rejected: u64 = self.tables.iter().map(|t| t.rejected).sum();
        let mut out = format!(
            "verify: {checked} source rows in {} tables: {matched} stored equal, {rejected} in import_rejects, {} mismatched\n",
            self.tables.len(),
            self.mismatch_count
        );
        for m in &self.mismatches {
            out.push_str(&format!(
                "mismatch: {}:{} rowid {}: {}\n",
                m.file, m.table, m.rowid, m.what
            ));
        }
        // Shown after the import's report, which lists each of these files
        // with its reason already: named once is enough.
        if !self.errors.is_empty() {
            out.push_str(&format!(
                "verify: {} source file(s) not verified: they could not be read (see the errors above)\n",
                self.errors.len()
            ));
        }
        out
    }
}

struct Snapshots<'c> {
    config: &'c Config,
    open: HashMap<PathBuf, (Database, Reader)>,
}

impl Snapshots<'_> {
    fn reader(&mut self, owner: DbTarget) -> Result<&Reader> {
        let path = self.config.get_db_path(owner)?.path;
        self.reader_at(&path)
    }

    /// The file at `path`, one of the mode's files, with its tables.
    fn reader_at(&mut self, path: &Path) -> Result<&Reader> {
        if !self.open.contains_key(path) {
            let tables = crate::schema::tables_in_file(self.config, path)?;
            let db = Database::open_path(path, tables, &OpenOptions::from(self.config))?;
            let r = db.read()?;
            self.open.insert(path.to_path_buf(), (db, r));
        }
        Ok(&self.open[path].1)
    }
}

/// Compares every row of every SQLite file under `source` with the store.
pub fn verify(config: &Config, source: &Path) -> Result<VerifyReport> {
    let files = discover::find(source)?.files;
    let mut snaps = Snapshots {
        config,
        open: HashMap::new(),
    };
    let mut report = VerifyReport::default();
    for src in &files {
        // A file the import could not read is not verified but listed, so
        // that `--verify` fails for it as the import does.
        let db = match super::open_source(src) {
            Ok(Some((db, _))) => db,
            Ok(None) => continue,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        let tables = db.tables().map_err(|e| reader_error(src, e))?;
        for table in &tables {
            let plan = plan::plan(config, &src.rel, table, &tables)?;
            if matches!(plan, Disposition::Derived(_)) {
                continue;
            }
            let mut vt = VerifiedTable {
                file: src.rel.clone(),
                table: table.name.clone(),
                checked: 0,
                matched: 0,
                rejected: 0,
                mismatched: 0,
            };
            snaps.reader(DbTarget::Store(Store::Import))?;
            let target = match &plan {
                Disposition::Typed(m) => Some((m.def, m.target.clone())),
                _ => None,
            };
            if let Some((_, path)) = &target {
                snaps.reader_at(path)?;
            }
            let imp_r = &snaps.open[&config.get_db_path(DbTarget::Store(Store::Import))?.path].1;
            let rejects = imp_r.raw_table(IMPORT_REJECTS.name)?;
            let raw_rows = imp_r.raw_table(IMPORT_RAW_ROWS.name)?;
            let rekeyed = imp_r.raw_table(IMPORT_REKEYED.name)?;
            let typed_t = match target {
                Some((def, path)) => {
                    let r = &snaps.open[&path].1;
                    Some((r, r.raw_table(def.name)?))
                }
                None => None,
            };
            let mut rows = db.rows(table).map_err(|e| reader_error(src, e))?;
            let mut ordinal = 0i64;
            while let Some(r) = rows.next_row() {
                let r = r.map_err(|e| reader_error(src, e))?;
                ordinal += 1;
                vt.checked += 1;
                let rowid = r.rowid().unwrap_or(ordinal);
                let src_key = super::load::source_key(&src.rel, &table.name, rowid);
                let problem = match (&plan, &typed_t) {
                    (Disposition::Typed(m), Some((reader, t))) => {
                        match row::type_row(m, table, &r) {
                            Err(f) => Some(format!(
                                "untypable ({}), so it should be rejected",
                                f.reason
                            )),
                            Ok(mut typed) => {
                                if m.rekeys()
                                    && let Some((p, _)) =
                                        imp_r.get_values(&rekeyed, &IMPORT_REKEYED, &src_key)?
                                {
                                    typed.values[m.def.primary_key[0]] = p[4].clone();
                                }
                                let pk = keys::encode(
                                    m.def.primary_key.iter().map(|&c| typed.values[c].as_ref()),
                                );
                                match reader.get_values(t, m.def, &pk)? {
                                    Some((v, e))
                                        if e == typed.extras
                                            && super::secrets::rows_match(
                                                m.def,
                                                &v,
                                                &typed.values,
                                                config.column_key.as_ref(),
                                            ) =>
                                    {
                                        None
                                    }
                                    Some((v, _)) => Some(differs(m.def, &v, &typed.values)),
                                    None => Some(format!(
                                        "no row with key {} in {}",
                                        keys::render(&pk),
                                        m.def.name
                                    )),
                                }
                            }
                        }
                    }
                    _ => match imp_r.get_values(&raw_rows, &IMPORT_RAW_ROWS, &src_key)? {
                        Some((_, e)) if e == row::whole(table, &r) => None,
                        Some(_) => Some("raw row differs".to_string()),
                        None => Some("raw row missing from import_raw_rows".to_string()),
                    },
                };
                match problem {
                    None => vt.matched += 1,
                    Some(what) => {
                        if in_rejects(imp_r, &rejects, &src_key)? {
                            vt.rejected += 1;
                        } else {
                            vt.mismatched += 1;
                            report.mismatch_count += 1;
                            if report.mismatches.len() < LISTED {
                                report.mismatches.push(Mismatch {
                                    file: src.rel.clone(),
                                    table: table.name.clone(),
                                    rowid,
                                    what,
                                });
                            }
                        }
                    }
                }
            }
            report.tables.push(vt);
        }
    }
    Ok(report)
}

fn in_rejects(r: &Reader, t: &RoTable, key: &[u8]) -> Result<bool> {
    Ok(r.get_values(t, &IMPORT_REJECTS, key)?.is_some())
}

fn differs(def: &crate::table::TableDef, stored: &[Value], source: &[Value]) -> String {
    for ((c, a), b) in def.columns.iter().zip(stored).zip(source) {
        if a != b {
            return format!(
                "column {}: stored {} but the source has {}",
                c.name,
                a.as_ref(),
                b.as_ref()
            );
        }
    }
    "the extra columns differ".to_string()
}
