//! `aragora-db sqlite info FILE` and `aragora-db sqlite dump FILE`: look at
//! legacy SQLite files without sqlite3 installed. Nothing is ever written.

use crate::output::out;
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
        _ if matches!(e, SqliteError::InFile { .. }) => Error::Invalid(e.to_string()),
        _ => Error::Invalid(format!("{}: {e}", file.display())),
    }
}

pub fn info(file: &Path) -> aragora_db::Result<()> {
    let f = SqliteFile::open(file).map_err(err(file))?;
    let summary = DbInfo::gather(&f).map_err(err(file))?;
    out(summary)
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
