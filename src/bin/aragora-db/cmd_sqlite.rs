//! `aragora-db sqlite info FILE` and `aragora-db sqlite dump FILE`: look at
//! legacy SQLite files without sqlite3 installed. Nothing is ever written.

use aragora_db::Error;
use aragora_db::sqlite::{SqliteError, SqliteFile, dump, info::DbInfo};
use std::io::Write;
use std::path::Path;

/// Converts a reader error, making sure the message names the file.
fn err(file: &Path) -> impl Fn(SqliteError) -> Error + '_ {
    move |e| match e.root() {
        SqliteError::Output(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Error::io(
            "write",
            "<stdout>",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        ),
        // The message names the file once, however the reader wrapped it.
        _ => Error::sqlite(file, e),
    }
}

pub fn info(file: &Path) -> aragora_db::Result<()> {
    let f = SqliteFile::open(file).map_err(err(file))?;
    let summary = DbInfo::gather(&f).map_err(err(file))?;
    let tables: Vec<_> = summary
        .tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "table": t.name,
                "kind": format!("{:?}", t.kind),
                "root_page": t.root_page,
                "columns": t.columns,
                "rows": t.rows.as_ref().ok(),
                "error": t.rows.as_ref().err(),
            })
        })
        .collect();
    let w = &summary.wal;
    let value = serde_json::json!({
        "path": summary.path,
        "page_size": summary.header.page_size,
        "pages_in_header": summary.header.db_size_in_header,
        "user_version": summary.header.user_version,
        "wal": {
            "present": w.present,
            "bytes": w.bytes,
            "frames_total": w.frames_total,
            "valid_frames": w.valid_frames,
            "committed_frames": w.committed_frames,
            "ignored_frames": w.ignored_frames,
            "commits": w.commits,
        },
        "tables": tables,
        "indexes": summary.indexes,
        "sequence": summary.sequence,
    });
    crate::output::record(&summary, value)
}

pub fn dump(file: &Path, table: Option<&str>, format: &str) -> aragora_db::Result<()> {
    let f = SqliteFile::open(file).map_err(err(file))?;
    let tables = match table {
        Some(t) => vec![f.table(t).map_err(err(file))?],
        None => f.tables().map_err(err(file))?,
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    for t in &tables {
        if table.is_none() && tables.len() > 1 && format == "csv" {
            writeln!(w, "# table {}", t.name).map_err(|e| Error::io("write", "<stdout>", e))?;
        }
        let _ = match format {
            "csv" => dump::write_csv(&f, t, &mut w),
            _ => dump::write_jsonl(&f, t, &mut w),
        }
        .map_err(err(file))?;
    }
    w.flush().map_err(|e| Error::io("write", "<stdout>", e))
}
