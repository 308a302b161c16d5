//! `consolidate`: moves every table between the legacy files (one per
//! database) and the four consolidated files (core, memory, analytics,
//! agents), in either direction.
//!
//! Which file a table lives in follows from its declared owner and the
//! mode ([`Config::get_db_path`]); a table keeps its name in both modes,
//! so moving is copying its redb table (rows, index entries, count and
//! AUTOINCREMENT sequence) and its `__schema` version. Standalone stores
//! (users, audit, ...) keep their file in both modes: with the same source
//! and target directory they stay where they are.
//!
//! * Plan ([`plan`]): every declared table with its source and target file
//!   and row count; tables in source files that no declaration names are
//!   reported as not movable (nothing is dropped silently, and sources are
//!   never modified or deleted).
//! * Migrate ([`migrate`]): optional backup of both sides first; then a
//!   pre-pass refuses if a target file already holds one of the moved
//!   tables with *different* contents (identical contents are a previous
//!   run: a rerun is safe); then each target file is rebuilt in a
//!   temporary file, in one write transaction (its existing other tables
//!   carried over), and renamed over the target: a target file is complete
//!   or unchanged, whatever interrupts the run.
//! * Verify ([`verify`]): every entry of every moved table compared, both
//!   ways, between source and target.
//!
//! Encrypted files (docs/ENCRYPTION.md) are read through the encrypted backend with
//! the configured key; with a key configured every target file, and its
//! temporary, is written encrypted (plain sources included: a store with
//! encryption on opens only encrypted files; the backup taken first reads
//! plain sources as they are and writes its snapshots encrypted). An
//! encrypted file met without the key is an error naming it.

use super::backup::{self, BackupOptions, copy_meta, copy_raw, digest_table};
use super::{META_TABLES, fsutil, raw};
use crate::config::{Config, DatabaseMode};
use crate::db::fingerprint::FINGERPRINT;
use crate::db::meta::{LAYOUT, LAYOUT_VERSION, SCHEMA};
use crate::error::{Error, Found, Result};
use crate::schema::ALL_TABLES;
use crate::table::{TableDef, raw_def};
use redb::ReadableTable;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What happens to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Copied to another file.
    Move,
    /// Source and target are the same file.
    Stays,
    /// Not in the source (no file, or the file lacks the table).
    Absent,
}

/// One row of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct TableMove {
    /// The table.
    pub table: &'static str,
    /// Its source file.
    pub from: PathBuf,
    /// Its target file.
    pub to: PathBuf,
    /// What happens.
    pub action: Action,
    /// Rows in the source.
    pub rows: u64,
}

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Every declared table.
    pub tables: Vec<TableMove>,
    /// What cannot move, and why.
    pub cannot_move: Vec<String>,
}

/// The configurations of the two sides: legacy → consolidated, or reversed.
pub fn sides(source: &Path, target: &Path, reverse: bool) -> (Config, Config) {
    sides_from(&Config::for_dir(source), source, target, reverse)
}

/// [`sides`] keeping `base`'s other settings (timeouts, and the
/// `ARAGORA_DB_*` overrides: a standalone store or a legacy database placed
/// elsewhere is found there on both sides).
pub fn sides_from(base: &Config, source: &Path, target: &Path, reverse: bool) -> (Config, Config) {
    let (from, to) = if reverse {
        (DatabaseMode::Consolidated, DatabaseMode::Legacy)
    } else {
        (DatabaseMode::Legacy, DatabaseMode::Consolidated)
    };
    let mut src = base.clone().with_mode(from);
    src.data_dir = source.to_path_buf();
    let mut dst = base.clone().with_mode(to);
    dst.data_dir = target.to_path_buf();
    (src, dst)
}

/// Plans the move from `src`'s files to `dst`'s files.
pub fn plan(src: &Config, dst: &Config) -> Result<Plan> {
    let mut tables = Vec::new();
    // Each source file is opened once: its tables and their row counts.
    let mut present: BTreeMap<PathBuf, BTreeMap<String, u64>> = BTreeMap::new();
    for set in super::files(src)? {
        if set.path.exists() {
            let db = read_only(&set.path, src)?;
            let txn = db.begin_read(&set.path)?;
            let mut found = BTreeMap::new();
            for n in raw::table_names(&txn, &set.path)? {
                let rows = if set.tables.iter().any(|d| d.name == n) {
                    digest_table(&txn, &n, &set.path)?.rows
                } else {
                    0
                };
                found.insert(n, rows);
            }
            present.insert(set.path.clone(), found);
        }
    }
    for &def in ALL_TABLES {
        let from = src.get_db_path(def.owner)?.path;
        let to = dst.get_db_path(def.owner)?.path;
        let rows = present.get(&from).and_then(|n| n.get(def.name)).copied();
        let (action, rows) = match rows {
            None => (Action::Absent, 0),
            Some(rows) => {
                let same = fsutil::parent_of(&from).canonicalize().ok()
                    == fsutil::parent_of(&to).canonicalize().ok()
                    && from.file_name() == to.file_name();
                (if same { Action::Stays } else { Action::Move }, rows)
            }
        };
        tables.push(TableMove {
            table: def.name,
            from,
            to,
            action,
            rows,
        });
    }
    let mut cannot_move = Vec::new();
    for (file, names) in &present {
        for (n, &rows) in names {
            let declared = tables.iter().any(|t| t.table == n && &t.from == file);
            let copy = tables.iter().find(|t| t.table == n && &t.from != file);
            // A copy the original also keeps in this file (legacy mode,
            // `schema::ALSO_IN`): the consolidated files hold one table of
            // that name, the owner's.
            if !declared && let Some(owner) = copy.filter(|_| in_file(src, file, n)) {
                if rows > 0 {
                    cannot_move.push(format!(
                        "{}: table {n} ({rows} rows) is this file's own copy of the table; the consolidated files hold one {n}, moved from {}; left in place (import the legacy SQLite files with --mode consolidated to merge the copies, conflicts reported)",
                        file.display(),
                        owner.from.display()
                    ));
                }
                continue;
            }
            if !declared && !META_TABLES.contains(&n.as_str()) {
                cannot_move.push(format!(
                    "{}: table {n} is not declared for this file; left in place",
                    file.display()
                ));
            }
        }
    }
    Ok(Plan {
        tables,
        cannot_move,
    })
}

/// Whether `file` holds table `name` in `cfg`'s mode.
fn in_file(cfg: &Config, file: &Path, name: &str) -> bool {
    crate::schema::tables_in_file(cfg, file).is_ok_and(|t| t.iter().any(|d| d.name == name))
}

/// Whether a file's index entries predate time-keyed timestamps (storage
/// layout 1, see `crate::table::layout`): its tables' time indexes are
/// derived again in the file they move to.
fn keyed_as_text(txn: &redb::ReadTransaction) -> bool {
    crate::table::layout::recorded_layout(txn)
        .is_some_and(|v| v < crate::table::layout::TIME_KEYED_SINCE)
}

/// Derives again, in the target's transaction, every time-keyed index of
/// `tables` (copied raw from a file of layout 1), so the target is the
/// layout its marker says.
fn rekey_time_indexes(
    wtxn: &redb::WriteTransaction,
    path: &Path,
    tables: &[&'static TableDef],
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let set = crate::table::TableSet::new(path.to_path_buf(), tables.to_vec());
    let mut w = crate::table::embedded::write::Txn::new(wtxn, &set);
    for &def in tables {
        w.rebuild_time_indexes(def)?;
    }
    w.finish()
}

/// Opens a file of either side for reading: plain files read-only, an
/// encrypted file through the encrypted backend with `cfg`'s key (an error
/// naming the file without it).
fn read_only(path: &Path, cfg: &Config) -> Result<raw::ReadHandle> {
    if let Some(_db) = crate::db::open_handle(path) {
        return Err(Error::Busy(format!(
            "{} is open in this process; close it first",
            path.display()
        )));
    }
    raw::ReadHandle::open(path, cfg.encryption.as_ref())
}

/// What a migration did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    /// The plan carried out.
    pub plan: Plan,
    /// Target files written.
    pub written: Vec<PathBuf>,
    /// Backup directories made first.
    pub backups: Vec<PathBuf>,
}

/// Carries out [`plan`]: backup (unless `no_backup`), conflict pre-pass,
/// then one temporary file per target, renamed into place.
pub fn migrate(src: &Config, dst: &Config, no_backup: bool) -> Result<MigrateReport> {
    let plan = plan(src, dst)?;
    let mut by_target: BTreeMap<PathBuf, Vec<&TableMove>> = BTreeMap::new();
    for m in plan.tables.iter().filter(|m| m.action == Action::Move) {
        by_target.entry(m.to.clone()).or_default().push(m);
    }
    // Pre-pass: an existing target may hold a moved table only unchanged.
    for (target, moves) in &by_target {
        if !target.exists() {
            continue;
        }
        let tdb = read_only(target, dst)?;
        let ttxn = tdb.begin_read(target)?;
        let names = raw::table_names(&ttxn, target)?;
        for m in moves.iter().filter(|m| names.iter().any(|n| n == m.table)) {
            let theirs = digest_table(&ttxn, m.table, target)?;
            let sdb = read_only(&m.from, src)?;
            let ours = digest_table(&sdb.begin_read(&m.from)?, m.table, &m.from)?;
            if theirs.entries > 0 && theirs != ours {
                return Err(Error::Conflict(format!(
                    "{}: table {} already holds {} rows that differ from {}; nothing was written \
                     (compare with --verify, or move the target file away)",
                    target.display(),
                    m.table,
                    theirs.rows,
                    m.from.display()
                )));
            }
        }
        for n in &names {
            let declared = crate::schema::table(n).is_ok() || META_TABLES.contains(&n.as_str());
            if !declared {
                return Err(Error::layout(
                    target,
                    Found::Inconsistent,
                    format!("holds undeclared table {n}; refusing to rewrite the file"),
                ));
            }
        }
    }
    let mut backups = Vec::new();
    if !no_backup && !by_target.is_empty() {
        let now = chrono::Utc::now();
        let out = Some(src.data_dir.join("backup"));
        for cfg in [src, dst] {
            if super::files(cfg)?.iter().any(|f| f.path.exists()) {
                let opts = BackupOptions {
                    out: out.clone(),
                    keep_days: None,
                    now,
                };
                let report = backup::backup(cfg, &opts, &mut |_| {})?;
                // Never move tables without a backup of every file.
                if !report.unreadable.is_empty() {
                    return Err(crate::unreadable::summary_error(
                        "backup before consolidate",
                        &report.unreadable,
                    ));
                }
                backups.push(report.dir);
            }
        }
    }
    let mut written = Vec::new();
    for (target, moves) in &by_target {
        build_target(target, moves, src, dst)?;
        written.push(target.clone());
    }
    Ok(MigrateReport {
        plan,
        written,
        backups,
    })
}

/// Rebuilds `target` with its existing tables plus `moves`, in a temporary
/// file renamed over it. With a key configured the new file (temporary
/// included) is written through the encrypted backend, so no plaintext
/// reaches the disk; without one it is plain.
fn build_target(target: &Path, moves: &[&TableMove], src: &Config, dst: &Config) -> Result<()> {
    fsutil::private_dir(&fsutil::parent_of(target))?;
    let held = if target.exists() {
        Some(raw::open_exclusive(target, dst.encryption.as_ref())?)
    } else {
        None
    };
    let tmp = fsutil::temp_sibling(target, "consolidate");
    fsutil::remove_if_exists(&tmp)?;
    let out = raw::create_private(&tmp, dst.encryption.as_ref())?;
    let st = |e: redb::Error| Error::storage(&tmp, e);
    let wtxn = out.begin_write().map_err(|e| st(e.into()))?;
    // Tables copied from a file of layout 1, whose time indexes are
    // derived again below.
    let mut stale: Vec<&'static TableDef> = Vec::new();
    if let Some(db) = &held {
        let rtxn = raw::begin_read(db, target)?;
        let old = keyed_as_text(&rtxn);
        for n in raw::table_names(&rtxn, target)? {
            if META_TABLES.contains(&n.as_str()) {
                copy_meta(&rtxn, &wtxn, &n, target, &tmp)?;
            } else if !moves.iter().any(|m| m.table == n) {
                copy_raw(&rtxn, &wtxn, &n, target, &tmp)?;
                if let (true, Ok(def)) = (old, crate::schema::table(&n)) {
                    stale.push(def);
                }
            }
        }
    }
    let mut sources: BTreeMap<&Path, Vec<&TableMove>> = BTreeMap::new();
    for m in moves {
        sources.entry(m.from.as_path()).or_default().push(m);
    }
    for (from, ms) in sources {
        let sdb = read_only(from, src)?;
        let rtxn = sdb.begin_read(from)?;
        let old = keyed_as_text(&rtxn);
        let versions = schema_versions(&rtxn, from)?;
        let prints = fingerprints(&rtxn, from)?;
        let mut schema = wtxn.open_table(SCHEMA).map_err(|e| st(e.into()))?;
        let mut printed = wtxn.open_table(FINGERPRINT).map_err(|e| st(e.into()))?;
        for m in ms {
            copy_raw(&rtxn, &wtxn, m.table, from, &tmp)?;
            let def = crate::schema::table(m.table)?;
            if old {
                stale.push(def);
            }
            let v = versions.get(m.table).copied().unwrap_or(def.version);
            schema.insert(m.table, v).map_err(|e| st(e.into()))?;
            // The table's fingerprint travels with it; a source without
            // one leaves none (the next open records it).
            match prints.get(m.table) {
                Some(text) => printed.insert(m.table, text.as_str()).map(drop),
                None => printed.remove(m.table).map(drop),
            }
            .map_err(|e| st(e.into()))?;
            // So does its part of the record of inherited dangling
            // references (crate::db::inherited): keys start with its name.
            move_inherited(&rtxn, &wtxn, m.table, from, &tmp)?;
        }
    }
    rekey_time_indexes(&wtxn, &tmp, &stale)?;
    wtxn.open_table(LAYOUT)
        .and_then(|mut t| {
            t.insert("aragora-db", LAYOUT_VERSION)
                .map(drop)
                .map_err(Into::into)
        })
        .map_err(|e| st(e.into()))?;
    wtxn.commit().map_err(|e| st(e.into()))?;
    drop(out);
    fsutil::replace(&tmp, target)?;
    drop(held);
    Ok(())
}

fn schema_versions(txn: &redb::ReadTransaction, path: &Path) -> Result<BTreeMap<String, u32>> {
    let st = |e: redb::Error| Error::storage(path, e);
    let t = match txn.open_table(SCHEMA) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
        Err(e) => return Err(st(e.into())),
    };
    let mut out = BTreeMap::new();
    for e in t.iter().map_err(|e| st(e.into()))? {
        let (k, v) = e.map_err(|e| st(e.into()))?;
        out.insert(k.value().to_string(), v.value());
    }
    Ok(out)
}

fn fingerprints(txn: &redb::ReadTransaction, path: &Path) -> Result<BTreeMap<String, String>> {
    let st = |e: redb::Error| Error::storage(path, e);
    let t = match txn.open_table(FINGERPRINT) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
        Err(e) => return Err(st(e.into())),
    };
    let mut out = BTreeMap::new();
    for e in t.iter().map_err(|e| st(e.into()))? {
        let (k, v) = e.map_err(|e| st(e.into()))?;
        out.insert(k.value().to_string(), v.value().to_string());
    }
    Ok(out)
}

/// One table's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub rows: u64,
    /// Differences (first 20), each naming the key.
    pub differences: Vec<String>,
    /// All differences.
    pub different: u64,
}

/// Compares every entry of every moved table between source and target.
pub fn verify(src: &Config, dst: &Config) -> Result<Vec<TableCheck>> {
    let plan = plan(src, dst)?;
    let mut out = Vec::new();
    for m in plan.tables.iter().filter(|m| m.action == Action::Move) {
        let mut check = TableCheck {
            table: m.table,
            rows: m.rows,
            differences: Vec::new(),
            different: 0,
        };
        let mut note = |what: String| {
            check.different += 1;
            if check.differences.len() < 20 {
                check.differences.push(what);
            }
        };
        if !m.to.exists() {
            note(format!("{} does not exist", m.to.display()));
            out.push(check);
            continue;
        }
        let a = entries(&m.from, m.table, src)?;
        let b = match entries(&m.to, m.table, dst) {
            Ok(b) => b,
            Err(e @ (Error::Encryption { .. } | Error::WrongKey { .. })) => return Err(e),
            Err(e) => {
                note(format!("{}: {e}", m.to.display()));
                out.push(check);
                continue;
            }
        };
        for (k, v) in &a {
            match b.get(k) {
                None => note(format!("{} missing in target", render(k))),
                Some(w) if w != v => note(format!("{} differs", render(k))),
                Some(_) => {}
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k)) {
            note(format!("{} only in target", render(k)));
        }
        out.push(check);
    }
    Ok(out)
}

fn render(k: &[u8]) -> String {
    match k.split_first() {
        Some((0, pk)) => format!("row {}", crate::table::keys::render(pk)),
        Some((0xFF, m)) => format!("metadata {}", String::from_utf8_lossy(m)),
        Some((s, rest)) => format!("index entry {s}:{}", crate::table::keys::render(rest)),
        None => "empty key".into(),
    }
}

fn entries(path: &Path, table: &str, cfg: &Config) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let db = read_only(path, cfg)?;
    let txn = db.begin_read(path)?;
    let t = txn
        .open_table(raw_def(table))
        .map_err(|e| Error::storage_in(path, format!("table {table}"), e))?;
    let mut out = BTreeMap::new();
    for e in t.iter().map_err(|e| Error::storage(path, e))? {
        let (k, v) = e.map_err(|e| Error::storage(path, e))?;
        out.insert(k.value().to_vec(), v.value().to_vec());
    }
    Ok(out)
}

/// Copies `table`'s entries of `__inherited_refs` from a source snapshot.
fn move_inherited(
    rtxn: &redb::ReadTransaction,
    wtxn: &redb::WriteTransaction,
    table: &str,
    from: &Path,
    to: &Path,
) -> Result<()> {
    use crate::db::inherited::INHERITED;
    let src = match rtxn.open_table(INHERITED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(Error::storage(from, e)),
    };
    let mut prefix = table.as_bytes().to_vec();
    prefix.push(0);
    let mut dst = wtxn
        .open_table(INHERITED)
        .map_err(|e| Error::storage(to, e))?;
    for entry in src
        .range(prefix.as_slice()..)
        .map_err(|e| Error::storage(from, e))?
    {
        let (k, v) = entry.map_err(|e| Error::storage(from, e))?;
        if !k.value().starts_with(&prefix) {
            break;
        }
        dst.insert(k.value(), v.value())
            .map_err(|e| Error::storage(to, e))?;
    }
    Ok(())
}
