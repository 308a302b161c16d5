//! `verify`: everything that can be checked about a database file.
//!
//! 1. redb's own integrity check (page checksums, tree structure,
//!    allocator state). It needs a `&mut redb::Database` with no live
//!    transaction and may *repair* what it checks, so it never runs on the
//!    file itself: the file is opened through a read-only descriptor with a
//!    copy-on-write overlay ([`crate::storage::overlay`]) that keeps every
//!    write in memory. redb's crash recovery (for a file not closed
//!    cleanly, reported as a note) and the check's repairs happen there;
//!    the file is not changed and nothing is created beside it, so verify
//!    works on read-only files and directories. The overlay holds shared
//!    locks on the file, so no writer changes it during the check.
//! 2. On that image: the layout marker and schema versions, the
//!    recorded fingerprints (a table declared differently than the
//!    declaration that wrote it, at the same version), tables that
//!    no declaration names, and for every declared table
//!    [`check_table`]: every row's CRC and
//!    decoding, rows ↔ index entries both ways, UNIQUE, NOT NULL, types,
//!    row counts, foreign keys.
//!
//! An encrypted file is read the same way, the overlay under the encrypted
//! backend with the configured key; the backend's own check (every block
//! authenticated, damaged header copies, bytes that must be zero) is
//! reported as `(file)` problems starting `encryption:`. Without a key the
//! error names the file.
//!
//! For a file this process already has open, step 1 is reported as
//! skipped and step 2 reads a snapshot of the open handle. A file another
//! process holds for writing gives [`Error::Locked`].

use super::raw;
use super::{DbFileSet, META_TABLES};
use crate::config::Config;
use crate::crypto::Encryption;
use crate::db::meta::LAYOUT_VERSION;
use crate::db::readonly;
use crate::error::{Error, Result};
use crate::table::check::{Problem, check_table};
use crate::table::{Reader, TableDef};
use crate::unreadable::{plain_reason, salvage_command};
use redb::ReadableTable;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The outcome of redb's integrity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    /// Passed.
    Ok,
    /// Failed; redb could repair a copy (the damage is listed as a problem).
    Repaired,
    /// Failed and could not be repaired.
    Failed,
    /// Not run, with the reason.
    Skipped(String),
}

/// One table's row count as found by the check.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    /// The table.
    pub table: String,
    /// Rows in it (`None` when absent from the file).
    pub rows: Option<u64>,
}

/// Everything found in one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// redb's integrity check.
    pub integrity: Integrity,
    /// Each declared table.
    pub tables: Vec<TableSummary>,
    /// Every problem.
    pub problems: Vec<ProblemOut>,
    /// Dangling references the original left, recorded at import
    /// (`crate::db::inherited`): warnings, not problems.
    pub inherited: Vec<ProblemOut>,
    /// What the open noticed that is not a problem (e.g. the file needs
    /// crash recovery, which the check did in memory).
    pub notes: Vec<String>,
    /// The command that recovers the readable rows of a damaged file.
    pub salvage: Option<String>,
}

/// A problem as reported (serializable form of [`Problem`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemOut {
    /// The table, `table#index`, or `(file)`.
    pub table: String,
    /// The key, rendered.
    pub key: String,
    /// What is wrong.
    pub what: String,
}

impl From<Problem> for ProblemOut {
    fn from(p: Problem) -> Self {
        ProblemOut {
            table: p.table,
            key: p.key,
            what: p.what,
        }
    }
}

impl std::fmt::Display for ProblemOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]: {}", self.table, self.key, self.what)
    }
}

fn file_problem(what: impl Into<String>) -> ProblemOut {
    ProblemOut {
        table: "(file)".into(),
        key: String::new(),
        what: what.into(),
    }
}

/// Verifies every existing database file of the configured mode.
pub fn verify_all(config: &Config) -> Result<Vec<FileReport>> {
    super::files(config)?
        .into_iter()
        .filter(|f| f.path.exists())
        .map(|f: DbFileSet| {
            verify_file(
                &f.path,
                &f.tables,
                config.timeout,
                config.encryption.as_ref(),
            )
        })
        .collect()
}

/// Verifies one file holding `tables`, waiting up to `timeout` while
/// another process holds it (then [`Error::Locked`]). An encrypted file is
/// read with `enc` ([`Error::Encryption`] naming it without a key,
/// [`Error::WrongKey`] with the wrong one).
pub fn verify_file(
    path: &Path,
    tables: &[&'static TableDef],
    timeout: std::time::Duration,
    enc: Option<&Encryption>,
) -> Result<FileReport> {
    let mut report = FileReport {
        path: path.to_path_buf(),
        integrity: Integrity::Ok,
        tables: Vec::new(),
        problems: Vec::new(),
        inherited: Vec::new(),
        notes: Vec::new(),
        salvage: None,
    };
    if let Some(db) = crate::db::open_handle(path) {
        report.integrity = Integrity::Skipped("the file is open in this process".into());
        check_contents(&db.read()?, path, tables, &mut report)?;
        return Ok(report);
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        // redb would see an empty storage and start a new database.
        report.integrity = Integrity::Failed;
        report.problems.push(file_problem(
            "empty (0 bytes): not a database; nothing to verify (left as it is)",
        ));
        return Ok(report);
    }
    let encrypted = crate::crypto::file_is_encrypted(path)?;
    if encrypted && enc.is_none() {
        return Err(crate::crypto::no_key(path));
    }
    // A legacy SQLite file where a store was expected is not damage:
    // salvage has nothing to recover, import does.
    if let Some(what) = crate::crypto::check::foreign(path)? {
        report.integrity = Integrity::Failed;
        report.problems.push(file_problem(what.to_string()));
        return Ok(report);
    }
    // The overlay holds shared locks on the file while the check runs, so
    // no writer changes it meanwhile (and a writer elsewhere is waited for).
    // The encrypted backend's own findings, kept even when redb then
    // cannot open the file (they say which blocks are damaged).
    let mut found: Vec<ProblemOut> = Vec::new();
    let opened = readonly::retry_locked(path, timeout, || {
        let overlay = readonly::overlay_file(path)?;
        match enc.filter(|_| encrypted) {
            None => readonly::redb_over(path, overlay, CACHE),
            Some(enc) => {
                let backend = raw::guarded(|| {
                    crate::crypto::EncryptedBackend::open(overlay, path, &enc.source)
                })
                .map_err(|p| Error::damaged(path, p))?;
                let backend = match backend {
                    Ok(b) => b,
                    Err(
                        e @ (Error::WrongKey { .. }
                        | Error::Encryption { .. }
                        | Error::Locked { .. }),
                    ) => {
                        return Err(e);
                    }
                    Err(e) => {
                        return Err(Error::Authentication {
                            path: path.to_path_buf(),
                            what: format!("the encrypted file cannot be opened: {e}"),
                        });
                    }
                };
                found = backend
                    .verify()
                    .into_iter()
                    .map(|f| file_problem(format!("encryption: {f}")))
                    .collect();
                readonly::redb_over(path, backend, CACHE)
            }
        }
    });
    report.problems.append(&mut found);
    let (db, repaired) = match opened {
        Ok(x) => x,
        Err(e @ (Error::Locked { .. } | Error::WrongKey { .. } | Error::Encryption { .. })) => {
            return Err(e);
        }
        Err(Error::Authentication { what, .. }) => {
            report.integrity = Integrity::Failed;
            report.problems.push(file_problem(what));
            report.salvage = Some(salvage_command(path));
            return Ok(report);
        }
        Err(e) => {
            report.integrity = Integrity::Failed;
            let why = match &e {
                Error::Storage { .. } | Error::Damaged { .. } => e.detail(),
                e => e.to_string(),
            };
            report.problems.push(file_problem(format!(
                "damaged: {}: redb cannot open the file: {why}",
                plain_reason(&why)
            )));
            report.salvage = Some(salvage_command(path));
            return Ok(report);
        }
    };
    if repaired {
        report.notes.push(crate::db::NEEDS_RECOVERY.to_string());
    }
    check_copy(db, path, tables, report)
}

/// redb's page cache for the check (the file is read once).
const CACHE: usize = 64 << 20;

/// Step 1 and 2 on the in-memory image of `path`.
fn check_copy(
    mut db: redb::Database,
    path: &Path,
    tables: &[&'static TableDef],
    mut report: FileReport,
) -> Result<FileReport> {
    match raw::guarded(|| db.check_integrity()) {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            report.integrity = Integrity::Repaired;
            report.salvage = Some(salvage_command(path));
            report.problems.push(file_problem(
                "redb integrity check failed (damaged pages or allocator state); \
                 the rows below were read from a repaired copy",
            ));
        }
        Ok(Err(e)) => {
            report.integrity = Integrity::Failed;
            report
                .problems
                .push(file_problem(format!("redb integrity check failed: {e}")));
            report.salvage = Some(salvage_command(path));
            return Ok(report);
        }
        Err(panic) => {
            report.integrity = Integrity::Failed;
            report.problems.push(file_problem(panic));
            report.salvage = Some(salvage_command(path));
            return Ok(report);
        }
    }
    let reader = Reader::new(raw::begin_read(&db, path)?, path.to_path_buf());
    let behind = reader
        .txn()
        .map(|t| crate::db::upgrade::behind(t, tables))
        .unwrap_or_default();
    if behind.is_empty() {
        check_contents(&reader, path, tables, &mut report)?;
        return Ok(report);
    }
    // A table at an older schema version is laid out as that version
    // declared it; this binary knows only its own declaration, so the
    // check reads the tables migrated in memory, as every open does (the
    // file is not written; the next read-write open migrates it).
    drop(reader);
    for (table, stored, declared) in &behind {
        report.notes.push(format!(
            "table {table} is at schema version {stored}, declared {declared}: \
             checked as migrated in memory (the next read-write open migrates the file)"
        ));
    }
    match raw::guarded(|| crate::db::upgrade::migrated_image(db, path, tables)) {
        Ok(Ok(migrated)) => {
            check_contents(&migrated.read()?, path, tables, &mut report)?;
        }
        Ok(Err(e)) => report.problems.push(file_problem(format!(
            "the pending schema migrations cannot run (in memory): {e}"
        ))),
        Err(p) => report.problems.push(file_problem(format!(
            "the pending schema migrations cannot run (in memory): {p}"
        ))),
    }
    Ok(report)
}

/// Step 2 on a snapshot.
fn check_contents(
    r: &Reader,
    path: &Path,
    tables: &[&'static TableDef],
    report: &mut FileReport,
) -> Result<()> {
    let names = raw::table_names(r.txn()?, path)?;
    let problems = &mut report.problems;
    if names.is_empty() {
        problems.push(file_problem("the file holds no tables at all"));
    }
    for n in &names {
        if !META_TABLES.contains(&n.as_str()) && !tables.iter().any(|d| d.name == n) {
            problems.push(ProblemOut {
                table: n.clone(),
                key: String::new(),
                what: "table is not declared for this file".into(),
            });
        }
    }
    let inherited = match crate::db::inherited::load(r, path) {
        Ok(i) => i,
        Err(e) => {
            problems.push(file_problem(format!(
                "the record of inherited references cannot be read: {e}"
            )));
            Default::default()
        }
    };
    let versions = check_meta(r, path, &names, problems, &mut report.notes);
    let prints = recorded_fingerprints(r, path, &names, problems);
    for &def in tables {
        if !names.iter().any(|n| n == def.name) {
            report.tables.push(TableSummary {
                table: def.name.into(),
                rows: None,
            });
            continue;
        }
        match versions.iter().find(|(n, _)| n == def.name) {
            None => problems.push(ProblemOut {
                table: def.name.into(),
                key: String::new(),
                what: "no schema version recorded in __schema".into(),
            }),
            Some((_, v)) if *v > def.version => problems.push(ProblemOut {
                table: def.name.into(),
                key: String::new(),
                what: format!(
                    "schema version {v} is newer than this binary's {}",
                    def.version
                ),
            }),
            Some((_, v)) => {
                let recorded = prints.iter().find(|(n, _)| n == def.name);
                if let Some(what) =
                    recorded.and_then(|(_, t)| crate::db::fingerprint::mismatch(def, *v, t))
                {
                    problems.push(ProblemOut {
                        table: def.name.into(),
                        key: String::new(),
                        what: format!(
                            "written by a different declaration at schema version {v}: {what}"
                        ),
                    });
                }
            }
        }
        let mut rows = 0u64;
        let counted = raw::guarded(|| {
            r.scan_raw(
                def,
                &crate::table::KeyRange::all(),
                Default::default(),
                |_, _| {
                    rows += 1;
                    Ok(true)
                },
            )
        });
        report.tables.push(TableSummary {
            table: def.name.into(),
            rows: Some(rows),
        });
        match counted {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(table_error(def, e.to_string())),
            Err(p) => problems.push(table_error(def, p)),
        }
        match raw::guarded(|| check_table(r, def)) {
            Ok(Ok(found)) => {
                for p in found {
                    match &p.dangling {
                        Some(d) if inherited.contains(d) => {
                            report.inherited.push(ProblemOut::from(p));
                        }
                        _ => problems.push(ProblemOut::from(p)),
                    }
                }
            }
            Ok(Err(e)) => problems.push(table_error(def, format!("check stopped: {e}"))),
            Err(p) => problems.push(table_error(def, format!("check stopped: {p}"))),
        }
    }
    Ok(())
}

fn table_error(def: &TableDef, what: String) -> ProblemOut {
    ProblemOut {
        table: def.name.into(),
        key: String::new(),
        what,
    }
}

/// `__fingerprint`, if the file has one (files from before fingerprints
/// existed have none, which is not a problem).
fn recorded_fingerprints(
    r: &Reader,
    path: &Path,
    names: &[String],
    problems: &mut Vec<ProblemOut>,
) -> Vec<(String, String)> {
    if !names.iter().any(|n| n == "__fingerprint") {
        return Vec::new();
    }
    let Ok(txn) = r.txn() else {
        return Vec::new();
    };
    let prints = raw::guarded(|| -> Result<Vec<(String, String)>> {
        let t = txn
            .open_table(crate::db::fingerprint::FINGERPRINT)
            .map_err(|e| Error::storage(path, e))?;
        let mut out = Vec::new();
        for e in t.iter().map_err(|e| Error::storage(path, e))? {
            let (k, v) = e.map_err(|e| Error::storage(path, e))?;
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
    });
    match prints {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            problems.push(file_problem(format!("__fingerprint unreadable: {e}")));
            Vec::new()
        }
        Err(p) => {
            problems.push(file_problem(format!("__fingerprint unreadable: {p}")));
            Vec::new()
        }
    }
}

/// The layout marker must say this binary's layout; returns `__schema`.
fn check_meta(
    r: &Reader,
    path: &Path,
    names: &[String],
    problems: &mut Vec<ProblemOut>,
    notes: &mut Vec<String>,
) -> Vec<(String, u32)> {
    let Ok(txn) = r.txn() else {
        return Vec::new();
    };
    if names.iter().any(|n| n == "__layout") {
        let layout = raw::guarded(|| -> Result<Option<u64>> {
            let t = txn
                .open_table(crate::db::meta::LAYOUT)
                .map_err(|e| Error::storage(path, e))?;
            Ok(t.get("aragora-db")
                .map_err(|e| Error::storage(path, e))?
                .map(|g| g.value()))
        });
        match layout {
            Ok(Ok(Some(LAYOUT_VERSION))) => {}
            // Checked as its own layout keys its indexes; the next
            // read-write open upgrades it (crate::db::meta).
            Ok(Ok(Some(v))) if (1..LAYOUT_VERSION).contains(&v) => notes.push(format!(
                "storage layout {v}, checked as such; the next read-write open upgrades it to {LAYOUT_VERSION}"
            )),
            Ok(Ok(Some(v))) => problems.push(file_problem(format!(
                "storage layout {v}, this binary reads {LAYOUT_VERSION}"
            ))),
            Ok(Ok(None)) => problems.push(file_problem("__layout holds no aragora-db marker")),
            Ok(Err(e)) => problems.push(file_problem(format!("__layout unreadable: {e}"))),
            Err(p) => problems.push(file_problem(format!("__layout unreadable: {p}"))),
        }
    } else if !names.is_empty() {
        problems.push(file_problem("no __layout marker table"));
    }
    if !names.iter().any(|n| n == "__schema") {
        return Vec::new();
    }
    let versions = raw::guarded(|| -> Result<Vec<(String, u32)>> {
        let t = txn
            .open_table(crate::db::meta::SCHEMA)
            .map_err(|e| Error::storage(path, e))?;
        let mut out = Vec::new();
        for e in t.iter().map_err(|e| Error::storage(path, e))? {
            let (k, v) = e.map_err(|e| Error::storage(path, e))?;
            out.push((k.value().to_string(), v.value()));
        }
        Ok(out)
    });
    match versions {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            problems.push(file_problem(format!("__schema unreadable: {e}")));
            Vec::new()
        }
        Err(p) => {
            problems.push(file_problem(format!("__schema unreadable: {p}")));
            Vec::new()
        }
    }
}
