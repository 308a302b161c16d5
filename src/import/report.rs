//! What an import did, table by table: as a table for people and as JSON.

use super::discover::Skipped;
use serde::Serialize;
use std::fmt::Write as _;

/// The outcome of one source table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableReport {
    /// Source file, relative to the source directory.
    pub file: String,
    /// Source table.
    pub table: String,
    /// `typed`, `raw` or `derived`.
    pub kind: &'static str,
    /// Where it went: `<target file>:<table>`, or why it was not imported.
    pub target: String,
    /// Rows read from the source.
    pub read: u64,
    /// Rows newly written.
    pub imported: u64,
    /// Rows that were already stored with the same values (an earlier import).
    pub already_present: u64,
    /// Rows imported under a new id because theirs was taken (listed in
    /// `import_rekeyed`).
    pub rekeyed: u64,
    /// Rows that went to `import_rejects`.
    pub rejected: u64,
    /// Of the rejected rows, those whose key another row of the same
    /// target table already holds with other values (rows of one table
    /// merged from several source files, or changed since an earlier import).
    pub conflicts: u64,
    /// Values converted by one of the lossless rules (epochs, exact numbers).
    pub converted: u64,
    /// What happened to the original's encrypted column values.
    pub secrets: super::secrets::SecretCounts,
    /// Declared columns the source lacks (filled with their defaults).
    pub defaulted_columns: Vec<&'static str>,
    /// Source columns the declaration lacks (kept in each row's extra map).
    pub extra_columns: Vec<String>,
    /// The declared column that holds the source's rowid, for a table the
    /// original created without a primary key.
    pub rowid_column: Option<&'static str>,
    /// For a raw table: why no declared table took it.
    pub raw_reason: String,
    /// Time spent on the table, in milliseconds.
    pub millis: u64,
}

/// A rejected row, for the report (the full row is in `import_rejects`).
#[derive(Debug, Clone, Serialize)]
pub struct RejectNote {
    /// Source file.
    pub file: String,
    /// Source table.
    pub table: String,
    /// Rowid (or ordinal in a WITHOUT ROWID table).
    pub rowid: i64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Why.
    pub reason: String,
}

/// A source file that could not be imported at all.
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    /// Source file.
    pub file: String,
    /// What went wrong (names the page or table when the reader does; never
    /// the file again).
    pub error: String,
    /// The page at fault, when the reader found a structural fault.
    pub page: Option<u32>,
    /// The byte offset of the fault: inside `page` when there is one, else
    /// in the file.
    pub offset: Option<u64>,
}

impl FileError {
    /// The error `e` met reading `src`, named once.
    pub fn of(src: &super::discover::SourceFile, e: &crate::sqlite::SqliteError) -> FileError {
        let (page, offset) = match e.location() {
            Some((p, o)) => (Some(p), Some(o)),
            None if matches!(e.root(), crate::sqlite::SqliteError::NotADatabase { .. }) => {
                (None, Some(0))
            }
            None => (None, None),
        };
        FileError {
            file: src.rel.clone(),
            error: e.detail(&src.path),
            page,
            offset,
        }
    }
}

/// Something SQLite itself would not read either, so nothing read was
/// lost, but the user may have expected data there: a `-wal` ignored whole
/// or in part, an empty database file, a database with no tables.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// The file concerned (a `-wal` is named as such), relative to the
    /// source directory.
    pub file: String,
    /// What was not read, and why.
    pub reason: String,
    /// WAL frames not applied, when the warning is about frames.
    pub frames: Option<u32>,
    /// Byte offset in `file` of the first byte not used, when known.
    pub offset: Option<u64>,
}

/// Everything one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The source directory.
    pub source: String,
    /// The target data directory.
    pub data_dir: String,
    /// `legacy` or `consolidated`.
    pub mode: String,
    /// True when nothing was committed.
    pub dry_run: bool,
    /// Per source table, in file and table order.
    pub tables: Vec<TableReport>,
    /// Files not read, and why.
    pub skipped: Vec<Skipped>,
    /// Files that could not be read (nothing from them was imported).
    pub errors: Vec<FileError>,
    /// What SQLite would not read either (ignored WAL files and frames,
    /// empty files, files without tables); not a failure.
    pub warnings: Vec<Warning>,
    /// The first rejects (all of them are in `import_rejects`).
    pub rejects: Vec<RejectNote>,
    /// Target files written (committed unless `dry_run`).
    pub targets: Vec<String>,
    /// Total time, in milliseconds.
    pub millis: u64,
}

/// How many rejects the report lists one by one.
pub const REJECT_NOTES: usize = 50;

impl ImportReport {
    /// Sum of a column over every table.
    pub fn total(&self, f: impl Fn(&TableReport) -> u64) -> u64 {
        self.tables.iter().map(f).sum()
    }

    /// The report as an aligned text table with totals and notes.
    pub fn render(&self) -> String {
        let mut rows = vec![[
            "file".to_string(),
            "table".into(),
            "target".into(),
            "read".into(),
            "imported".into(),
            "present".into(),
            "rejected".into(),
            "ms".into(),
        ]];
        for t in &self.tables {
            rows.push([
                t.file.clone(),
                t.table.clone(),
                if t.kind == "derived" {
                    "(derived, not imported)".into()
                } else {
                    t.target.clone()
                },
                t.read.to_string(),
                t.imported.to_string(),
                t.already_present.to_string(),
                t.rejected.to_string(),
                t.millis.to_string(),
            ]);
        }
        rows.push([
            "total".into(),
            format!("{} tables", self.tables.len()),
            String::new(),
            self.total(|t| t.read).to_string(),
            self.total(|t| t.imported).to_string(),
            self.total(|t| t.already_present).to_string(),
            self.total(|t| t.rejected).to_string(),
            self.millis.to_string(),
        ]);
        let mut width = [0usize; 8];
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (n, r) in rows.iter().enumerate() {
            if n == rows.len() - 1 {
                let total: usize = width.iter().sum::<usize>() + 2 * 7;
                let _ = writeln!(out, "{}", "-".repeat(total));
            }
            for (i, (w, c)) in width.iter().zip(r).enumerate() {
                let pad = w - c.chars().count();
                if i >= 3 {
                    let _ = write!(out, "{}{c}", " ".repeat(pad));
                } else {
                    let _ = write!(out, "{c}{}", " ".repeat(pad));
                }
                out.push_str(if i == 7 { "\n" } else { "  " });
            }
        }
        self.render_notes(&mut out);
        out
    }

    fn render_notes(&self, out: &mut String) {
        for t in &self.tables {
            if t.kind == "derived" {
                let _ = writeln!(
                    out,
                    "note: {}:{} not imported: {}",
                    t.file, t.table, t.target
                );
            }
            let sc = t.secrets;
            if sc.reencrypted + sc.encrypted + sc.kept > 0 {
                let _ = writeln!(
                    out,
                    "note: {}:{} secret columns: {} re-encrypted under our key, {} plaintext encrypted, {} kept exactly as they were (no key, or a key that does not open them)",
                    t.file, t.table, sc.reencrypted, sc.encrypted, sc.kept
                );
            }
            if t.kind == "raw" {
                let _ = writeln!(
                    out,
                    "note: {}:{} kept untyped in import_raw_rows: {}",
                    t.file, t.table, t.raw_reason
                );
            }
            if let Some(c) = t.rowid_column {
                let _ = writeln!(
                    out,
                    "note: {}:{} has no primary key of its own: each row's rowid is kept as column {c}",
                    t.file, t.table
                );
            }
            if t.conflicts > 0 {
                let _ = writeln!(
                    out,
                    "note: {}:{} {} rows not merged into {}: their key is already held by a row with other values (kept in import_rejects, with the reason)",
                    t.file, t.table, t.conflicts, t.target
                );
            }
            if t.rekeyed > 0 {
                let _ = writeln!(
                    out,
                    "note: {}:{} {} rows got new ids (their ids were taken by rows of the table's home file; see import_rekeyed)",
                    t.file, t.table, t.rekeyed
                );
            }
            if !t.extra_columns.is_empty() {
                let _ = writeln!(
                    out,
                    "note: {}:{} columns kept in each row's extra map: {}",
                    t.file,
                    t.table,
                    t.extra_columns.join(", ")
                );
            }
            if !t.defaulted_columns.is_empty() {
                let _ = writeln!(
                    out,
                    "note: {}:{} lacks declared columns (defaults used): {}",
                    t.file,
                    t.table,
                    t.defaulted_columns.join(", ")
                );
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "skipped: {}: {}", s.path, s.reason);
        }
        for r in &self.rejects {
            let _ = writeln!(
                out,
                "rejected: {}:{} rowid {}{}: {}",
                r.file,
                r.table,
                r.rowid,
                r.column
                    .as_deref()
                    .map(|c| format!(" column {c}"))
                    .unwrap_or_default(),
                r.reason
            );
        }
        let rejected = self.total(|t| t.rejected);
        if rejected as usize > self.rejects.len() {
            let _ = writeln!(
                out,
                "... {} more rejects: aragora-db dump import_rejects",
                rejected as usize - self.rejects.len()
            );
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {}: {}", w.file, w.reason);
        }
        for e in &self.errors {
            let _ = writeln!(out, "error: {}: {}", e.file, e.error);
        }
        if self.dry_run {
            let _ = writeln!(out, "dry run: nothing was written");
        }
    }
}

impl Warning {
    /// What of `src`'s `-wal` was not applied (`None` when all of it was,
    /// or when there is nothing in it). The reader applies exactly what
    /// SQLite's recovery would; this only says what that leaves out.
    pub fn wal(src: &super::discover::SourceFile, w: &crate::sqlite::WalState) -> Option<Warning> {
        if !w.present || w.bytes == 0 {
            return None;
        }
        let file = src.wal_rel();
        if let Some(why) = &w.ignored_reason {
            return Some(Warning {
                file,
                reason: format!(
                    "ignored whole, as SQLite ignores it: {why} (offset 0; {} bytes not read)",
                    w.bytes
                ),
                frames: None,
                offset: Some(0),
            });
        }
        if w.ignored_frames == 0 && w.stop_reason.is_none() {
            return None;
        }
        let (c, v, t) = (w.committed_frames, w.valid_frames, w.frames_total);
        let mut parts = Vec::new();
        if v > c {
            let which = if v - c == 1 {
                format!("frame {v}")
            } else {
                format!("frames {}-{v}", c + 1)
            };
            parts.push(format!(
                "{} valid frame{} after the last commit ({which}): a transaction that never committed, or whose commit frame is missing",
                v - c,
                plural(v - c),
            ));
        }
        if let Some(why) = &w.stop_reason {
            let first = format!("frame {}: ", v + 1);
            let why = why.strip_prefix(&first).unwrap_or(why);
            if t > v {
                parts.push(format!(
                    "{} frame{} from frame {} (offset {}) on not used: {why}",
                    t - v,
                    plural(t - v),
                    v + 1,
                    w.frame_offset(v + 1)
                ));
            } else {
                parts.push(format!("{why} (offset {})", w.frame_offset(t + 1)));
            }
        }
        Some(Warning {
            file,
            reason: format!(
                "{} of {t} frame{} not applied, as SQLite would not apply them ({} commit{} applied): {}",
                w.ignored_frames,
                plural(t),
                w.commits,
                plural(w.commits),
                parts.join("; ")
            ),
            frames: Some(w.ignored_frames),
            offset: Some(w.frame_offset(c + 1)),
        })
    }

    /// `src` is a zero-byte file.
    pub fn empty(src: &super::discover::SourceFile) -> Warning {
        let wal = match src.wal_len {
            Some(n) if n > 0 => format!(
                "; its -wal ({n} bytes) is not read either: SQLite discards the WAL of an empty database"
            ),
            _ => String::new(),
        };
        Warning {
            file: src.rel.clone(),
            reason: format!(
                "empty file (0 bytes): SQLite opens it as a database with no tables; nothing to import{wal}"
            ),
            frames: None,
            offset: None,
        }
    }

    /// `src` is a SQLite database without a single table.
    pub fn no_tables(src: &super::discover::SourceFile) -> Warning {
        Warning {
            file: src.rel.clone(),
            reason: "a SQLite database with no tables; nothing to import".into(),
            frames: None,
            offset: None,
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}
