//! Importing a legacy `.nomic` directory of SQLite files, with nothing lost.
//!
//! ```text
//! discover   every SQLite file under the source directory, by content
//! plan       source table → declaration (name, then columns), columns by name
//! row        one row typed by the lossless rules of convert
//! load       rows → the target files' open write transactions;
//!            what cannot be typed → import_rejects, unknown tables → import_raw_*
//! targets    one write transaction per target file, committed together
//! verify     every source row re-read and compared with what is stored
//! secrets    the original's encrypted columns, re-encrypted under our key
//! report     per source table: read, imported, already present, rejected, time
//! ```
//!
//! Source files are only ever read (the SQLite reader opens them read-only,
//! takes each file and its `-wal` as one snapshot and writes no `-shm`).
//! Each source file is read through once before anything from it is
//! written, so a damaged file is reported (naming the page) and skipped
//! whole while the others import; any later failure aborts the run with
//! nothing committed.
//!
//! What a run did not read is always in the report, in one of three lists:
//! `errors` (a source that could not be read: damaged, not SQLite although
//! named like a database, unreadable; the command exits 1), `warnings`
//! (what SQLite itself would not read either, so the import holds exactly
//! what SQLite would show: a `-wal` with a bad header, WAL frames after the
//! last valid commit, a `-wal` without its database, an empty file, a
//! database without tables; the command exits 0) and `skipped` (passed
//! over on purpose: backup directories, files that are not databases).
//!
//! Running an import again is idempotent: rows already stored with the same
//! values are counted as present, never duplicated.

pub mod convert;
pub mod discover;
pub mod load;
pub mod plan;
pub mod report;
pub mod row;
pub mod secrets;
pub mod targets;
pub mod verify;

pub use report::ImportReport;
pub use verify::VerifyReport;

use crate::config::Config;
use crate::error::Result;
use crate::sqlite::SqliteFile;
use load::Pass;
use std::path::{Path, PathBuf};
use std::time::Instant;
use std::time::SystemTime;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The legacy data directory.
    pub source: PathBuf,
    /// Do everything but commit.
    pub dry_run: bool,
}

/// Where progress goes (a terminal progress bar in the CLI). Units are
/// bytes of source files.
pub trait Progress {
    /// The total amount of work.
    fn start(&self, _total: u64) {}
    /// What is being worked on.
    fn message(&self, _msg: &str) {}
    /// Work done since the last call.
    fn advance(&self, _delta: u64) {}
    /// All done.
    fn finish(&self) {}
}

/// No progress display.
pub struct Silent;
impl Progress for Silent {}

/// Imports every SQLite file of `opts.source` into the store `config`
/// describes (its mode decides the target files).
pub fn import(config: &Config, opts: &Options, progress: &dyn Progress) -> Result<ImportReport> {
    let started = Instant::now();
    let discover::Found {
        files,
        skipped,
        warnings,
    } = discover::find(&opts.source)?;
    let mut report = ImportReport {
        source: opts.source.display().to_string(),
        data_dir: config.data_dir.display().to_string(),
        mode: config.mode.as_str().to_string(),
        dry_run: opts.dry_run,
        skipped,
        warnings,
        ..ImportReport::default()
    };
    progress.start(files.iter().map(|f| f.bytes).sum());
    let mut targets = targets::Targets::new(config, opts.dry_run);
    let mut notes = Vec::new();
    {
        let mut run = load::Run {
            targets: &mut targets,
            notes: &mut notes,
            progress,
            now: crate::time::now_iso(),
            key: config.column_key.as_ref(),
            writers: Default::default(),
        };
        let mut away = Vec::new();
        let mut stamps = Vec::new();
        for src in &files {
            progress.message(&src.rel);
            tracing::info!(file = %src.rel, bytes = src.bytes, "reading source");
            let stamp = Stamp::of(&src.path);
            let (db, counts) = match open_source(src) {
                Ok(Some(opened)) => opened,
                Ok(None) => {
                    report.warnings.push(report::Warning::empty(src));
                    progress.advance(src.bytes);
                    continue;
                }
                Err(e) => {
                    tracing::info!(file = %src.rel, error = %e.error, "source not read");
                    report.errors.push(e);
                    progress.advance(src.bytes);
                    continue;
                }
            };
            tracing::debug!(file = %src.rel, tables = counts.len(), "source read through");
            report
                .warnings
                .extend(report::Warning::wal(src, db.wal_state()));
            if counts.is_empty() {
                report.warnings.push(report::Warning::no_tables(src));
            }
            if load::import_file(&mut run, src, &db, &counts, Pass::Home, &mut report.tables)? {
                away.push((src, counts));
                stamps.push(stamp);
            }
        }
        if !away.is_empty() {
            let total: u64 = files.iter().map(|f| f.bytes).sum::<u64>()
                + away.iter().map(|(f, _)| f.bytes).sum::<u64>();
            progress.start(total);
        }
        for ((src, counts), stamp) in away.iter().zip(&stamps) {
            progress.message(&src.rel);
            let db = SqliteFile::open(&src.path).map_err(|e| load::reader_error(src, e))?;
            if Stamp::of(&src.path) != *stamp {
                return Err(crate::Error::Conflict(format!(
                    "{} changed while it was being imported (is the application still running?); nothing was committed",
                    src.path.display()
                )));
            }
            load::import_file(&mut run, src, &db, counts, Pass::Away, &mut report.tables)?;
        }
    }
    report.rejects = notes;
    report.targets = targets
        .finish()?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    progress.finish();
    report.millis = started.elapsed().as_millis() as u64;
    tracing::info!(
        files = files.len(),
        errors = report.errors.len(),
        warnings = report.warnings.len(),
        millis = report.millis,
        dry_run = opts.dry_run,
        "import finished"
    );
    Ok(report)
}

/// Opens `src` and reads it through (see [`load::read_through`]): the
/// database and each table's row count, `None` for an empty file (which
/// SQLite reads as a database with no tables), or why it cannot be read.
pub fn open_source(
    src: &discover::SourceFile,
) -> std::result::Result<Option<(SqliteFile, Vec<u64>)>, report::FileError> {
    if src.len == 0 && std::fs::metadata(&src.path).is_ok_and(|m| m.len() == 0) {
        return Ok(None);
    }
    let db = SqliteFile::open(&src.path).map_err(|e| report::FileError::of(src, &e))?;
    match load::read_through(&db) {
        Ok(counts) => Ok(Some((db, counts))),
        Err(e) => {
            let mut err = report::FileError::of(src, &e);
            err.error.push_str(" (nothing from this file was imported)");
            Err(err)
        }
    }
}

/// Size and modification time of a file and its `-wal`: a source file read
/// twice (home and away passes) must not change in between.
#[derive(Debug, PartialEq)]
struct Stamp(Vec<Option<(u64, Option<SystemTime>)>>);

impl Stamp {
    fn of(path: &Path) -> Stamp {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Stamp(
            [path.to_path_buf(), PathBuf::from(wal)]
                .iter()
                .map(|p| {
                    std::fs::metadata(p)
                        .ok()
                        .map(|m| (m.len(), m.modified().ok()))
                })
                .collect(),
        )
    }
}
