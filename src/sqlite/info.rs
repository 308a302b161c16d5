//! Summary of a database for `aragora-db sqlite info FILE`: the header facts
//! (fileformat2 §1.3), the WAL state (§4), the freelist (§1.5) and every table
//! from the schema (§2.6) with its row count.

use std::fmt;
use std::path::PathBuf;

use super::error::Result;
use super::file::SqliteFile;
use super::freelist::FreelistInfo;
use super::header::{AutoVacuum, DbHeader};
use super::schema::TableKind;
use super::wal::WalState;

/// One table in the summary.
#[derive(Clone, Debug)]
pub struct TableSummary {
    /// Table name.
    pub name: String,
    /// Kind.
    pub kind: TableKind,
    /// Root page.
    pub root_page: u32,
    /// Number of columns.
    pub columns: usize,
    /// Row count, or the error that stopped counting.
    pub rows: std::result::Result<u64, String>,
}

/// Everything `sqlite info` prints.
#[derive(Clone, Debug)]
pub struct DbInfo {
    /// Database path.
    pub path: PathBuf,
    /// Header facts.
    pub header: DbHeader,
    /// WAL state.
    pub wal: WalState,
    /// Freelist shape, or the error found walking it.
    pub freelist: std::result::Result<FreelistInfo, String>,
    /// Tables.
    pub tables: Vec<TableSummary>,
    /// Number of indexes.
    pub indexes: usize,
    /// AUTOINCREMENT counters.
    pub sequence: Vec<(String, i64)>,
}

impl DbInfo {
    /// Gather the summary. Fails only if the schema cannot be read; per-table problems
    /// are recorded in [`TableSummary::rows`].
    pub fn gather(file: &SqliteFile) -> Result<DbInfo> {
        let tables = file.tables()?;
        let summaries = tables
            .iter()
            .map(|t| TableSummary {
                name: t.name.clone(),
                kind: t.kind,
                root_page: t.root_page,
                columns: t.columns.len(),
                rows: if t.kind == TableKind::Virtual {
                    Err("virtual table".into())
                } else {
                    file.row_count(t).map_err(|e| e.root().to_string())
                },
            })
            .collect();
        Ok(DbInfo {
            path: file.path().to_path_buf(),
            header: file.header().clone(),
            wal: file.wal_state().clone(),
            freelist: file.freelist().map_err(|e| e.root().to_string()),
            tables: summaries,
            indexes: file.indexes().map(|v| v.len()).unwrap_or(0),
            sequence: file.sqlite_sequence().unwrap_or_default(),
        })
    }
}

impl fmt::Display for DbInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(f, "file:             {}", self.path.display())?;
        writeln!(
            f,
            "page size:        {} ({} reserved, {} usable)",
            h.page_size,
            h.reserved,
            h.usable_size()
        )?;
        writeln!(f, "pages:            {}", h.page_count)?;
        writeln!(f, "text encoding:    {}", h.text_encoding)?;
        writeln!(
            f,
            "journal mode:     {}",
            if h.is_wal_mode() { "wal" } else { "rollback" }
        )?;
        writeln!(f, "schema format:    {}", h.schema_format)?;
        writeln!(f, "user_version:     {}", h.user_version)?;
        writeln!(f, "application_id:   {}", h.application_id)?;
        writeln!(f, "change counter:   {}", h.change_counter)?;
        let av = match h.auto_vacuum() {
            AutoVacuum::None => "none",
            AutoVacuum::Full => "full",
            AutoVacuum::Incremental => "incremental",
        };
        writeln!(f, "auto-vacuum:      {av}")?;
        match &self.freelist {
            Ok(fl) => writeln!(
                f,
                "freelist:         {} pages ({} trunk, {} leaf)",
                fl.total(),
                fl.trunk_pages,
                fl.leaf_pages
            )?,
            Err(e) => writeln!(
                f,
                "freelist:         header says {} pages; ERROR {e}",
                h.freelist_count
            )?,
        }
        let w = &self.wal;
        if !w.present {
            writeln!(f, "wal:              none")?;
        } else if let Some(r) = &w.ignored_reason {
            writeln!(f, "wal:              {} bytes, ignored: {r}", w.bytes)?;
        } else {
            writeln!(
                f,
                "wal:              {} bytes, {} frames, {} applied ({} commits), {} ignored",
                w.bytes, w.frames_total, w.committed_frames, w.commits, w.ignored_frames
            )?;
            if let Some(r) = &w.stop_reason {
                writeln!(f, "                  scan stopped: {r}")?;
            }
            if w.header_says_rollback {
                writeln!(
                    f,
                    "                  note: header says rollback mode, WAL applied as SQLite would"
                )?;
            }
        }
        writeln!(f, "indexes:          {}", self.indexes)?;
        writeln!(f, "tables:           {}", self.tables.len())?;
        for t in &self.tables {
            let kind = match t.kind {
                TableKind::Ordinary => "",
                TableKind::WithoutRowid => " (WITHOUT ROWID)",
                TableKind::Virtual => " (virtual)",
            };
            match &t.rows {
                Ok(n) => writeln!(
                    f,
                    "  {:<32} {:>12} rows  {} columns{kind}",
                    t.name, n, t.columns
                )?,
                Err(e) => writeln!(f, "  {:<32} ERROR {e}{kind}", t.name)?,
            }
        }
        for (name, seq) in &self.sequence {
            writeln!(f, "sequence:         {name} = {seq}")?;
        }
        Ok(())
    }
}
