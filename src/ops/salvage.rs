//! `salvage FILE --out NEW`: every readable row out of a damaged file.
//!
//! The damaged file is never written: it is copied to a private temporary
//! file, and redb opens (and if needed repairs) the copy. Every declared
//! table found in it is read row by row: a row whose envelope fails its
//! CRC or does not decode is reported and skipped; a redb error or panic
//! part-way through a table is reported, and the table is then read again
//! backwards from its end down to the last good row, so the rows after a
//! damaged page are kept too. Index entries and counters are not copied:
//! the rows are inserted into a fresh file through the normal write path,
//! which rebuilds every index and count (foreign keys are not enforced, as
//! on import; a row that breaks a UNIQUE index or its column types is
//! reported). The new file is written under a temporary name and renamed
//! when complete.
//!
//! Encrypted files (issue 7): the damaged file is opened through the
//! encrypted backend with the configured key (an error naming it without
//! one), and with a key configured the new file is encrypted; its
//! temporaries (the copy of the input, the file being built) are encrypted
//! too, so no plaintext reaches the disk. A block that fails
//! authentication reads as an error, like a damaged page: the rows behind
//! it are reported as lost.

use super::raw::{self, Opened};
use super::verify::ProblemOut;
use super::{META_TABLES, fsutil};
use crate::crypto::Encryption;
use crate::db::{Database, OpenOptions};
use crate::error::{Error, Result};
use crate::table::{TableDef, keys, raw_def, write::ROWS};
use serde::Serialize;
use std::ops::Bound;
use std::path::{Path, PathBuf};

/// One table's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TableSalvage {
    /// The table.
    pub table: String,
    /// Rows copied.
    pub copied: u64,
    /// Rows (or ranges) that could not be copied.
    pub lost: u64,
}

/// What a salvage did.
#[derive(Debug, Clone, Serialize)]
pub struct SalvageReport {
    /// The new file.
    pub out: PathBuf,
    /// Each declared table found.
    pub tables: Vec<TableSalvage>,
    /// Everything that could not be read or written, with the reason.
    pub problems: Vec<ProblemOut>,
}

struct TempCopy(PathBuf);
impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A row read from the damaged file: (primary key, decoded values, extras).
type Salvaged = (Vec<u8>, Vec<crate::table::Value>, crate::table::Extras);

/// Copies every readable row of `file` into the new file `out` (encrypted
/// with `enc` when given; an encrypted `file` needs `enc`).
pub fn salvage(file: &Path, out: &Path, enc: Option<&Encryption>) -> Result<SalvageReport> {
    if out.exists() {
        return Err(Error::Invalid(format!(
            "{} exists; salvage writes a new file",
            out.display()
        )));
    }
    if !file.is_file() {
        return Err(Error::Invalid(format!("{} is not a file", file.display())));
    }
    let encrypted = crate::crypto::file_is_encrypted(file)?;
    if encrypted && enc.is_none() {
        return Err(crate::crypto::no_key(file));
    }
    let copy = TempCopy(fsutil::temp_sibling(out, "salvage-src"));
    fsutil::private_dir(&fsutil::parent_of(out))?;
    fsutil::copy_private(file, &copy.0)?;
    // An encrypted file that fails its open checks (a damaged trailer or
    // summary) is opened again for salvage: each block authenticated on its own.
    let mut salvage_notes = Vec::new();
    let opened = if encrypted {
        let key = &enc.expect("checked").source;
        match raw::guarded(|| {
            let b = match crate::crypto::open_backend(&copy.0, file, key) {
                Err(Error::Authentication { what, .. }) => {
                    let b = crate::crypto::open_backend_for_salvage(&copy.0, file, key)?;
                    salvage_notes.push(format!("the encrypted file fails its checks: {what}"));
                    salvage_notes.extend(b.findings().iter().cloned());
                    b
                }
                other => other?,
            };
            redb::Builder::new()
                .create_with_backend(b)
                .map_err(|e| Error::storage(file, e))
        }) {
            Ok(Ok(db)) => Opened::Open(db),
            Ok(Err(e @ (Error::WrongKey { .. } | Error::Encryption { .. }))) => return Err(e),
            Ok(Err(e)) => Opened::Failed(e.to_string()),
            Err(p) => Opened::Failed(p),
        }
    } else {
        raw::open(&copy.0)
    };
    let src = match opened {
        Opened::Open(db) => db,
        Opened::Locked | Opened::NeedsRecovery => {
            return Err(Error::storage(&copy.0, "temporary copy cannot be opened"));
        }
        Opened::Failed(why) => {
            return Err(Error::storage(
                file,
                format!("redb cannot open the file even after repair, nothing can be read: {why}"),
            ));
        }
    };
    let txn = raw::begin_read(&src, file)?;
    let names = raw::table_names(&txn, file)?;
    let mut report = SalvageReport {
        out: out.to_path_buf(),
        tables: Vec::new(),
        problems: salvage_notes
            .into_iter()
            .map(|what| ProblemOut {
                table: "(file)".into(),
                key: String::new(),
                what,
            })
            .collect(),
    };
    let mut defs: Vec<&'static TableDef> = Vec::new();
    for n in &names {
        match crate::schema::table(n) {
            Ok(def) => defs.push(def),
            Err(_) if META_TABLES.contains(&n.as_str()) => {}
            Err(_) => report.problems.push(ProblemOut {
                table: n.clone(),
                key: String::new(),
                what: "not a declared table; not copied".into(),
            }),
        }
    }
    let tmp = fsutil::temp_sibling(out, "salvage");
    fsutil::remove_if_exists(&tmp)?;
    fsutil::private_file(&tmp)?;
    {
        let opts = OpenOptions {
            encryption: enc.cloned(),
            ..OpenOptions::default()
        };
        let db = Database::open_path(&tmp, defs.clone(), &opts)?;
        db.write(|w| {
            w.set_foreign_keys(false);
            for &def in &defs {
                let rows = read_rows(&txn, def, file, &mut report.problems);
                let mut t = TableSalvage {
                    table: def.name.into(),
                    copied: 0,
                    lost: 0,
                };
                for (pk, values, extras) in rows {
                    match w.insert_values(def, &values, &extras) {
                        Ok(_) => t.copied += 1,
                        Err(e) => {
                            t.lost += 1;
                            report.problems.push(problem(
                                def.name,
                                &pk,
                                format!("not written: {e}"),
                            ));
                        }
                    }
                }
                t.lost += report
                    .problems
                    .iter()
                    .filter(|p| p.table == def.name && !p.what.starts_with("not written"))
                    .count() as u64;
                report.tables.push(t);
            }
            Ok(())
        })?;
    }
    drop(txn);
    drop(src);
    fsutil::replace(&tmp, out)?;
    Ok(report)
}

fn problem(table: &str, pk: &[u8], what: String) -> ProblemOut {
    ProblemOut {
        table: table.into(),
        key: keys::render(pk),
        what,
    }
}

/// Reads the rows of one table, forwards, and after an error backwards
/// from the end down to the last row read.
fn read_rows(
    txn: &redb::ReadTransaction,
    def: &'static TableDef,
    path: &Path,
    problems: &mut Vec<ProblemOut>,
) -> Vec<Salvaged> {
    let mut rows: Vec<Salvaged> = Vec::new();
    let table = match raw::guarded(|| txn.open_table(raw_def(def.name))) {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            problems.push(problem(def.name, &[], format!("table unreadable: {e}")));
            return rows;
        }
        Err(p) => {
            problems.push(problem(def.name, &[], format!("table unreadable: {p}")));
            return rows;
        }
    };
    let end = Bound::Excluded(vec![ROWS + 1]);
    let mut last: Option<Vec<u8>> = None;
    let take = |k: &[u8], v: &[u8], rows: &mut Vec<Salvaged>, problems: &mut Vec<ProblemOut>| {
        let pk = &k[1..];
        match def.decode_values(pk, v) {
            Ok((values, extras)) => rows.push((pk.to_vec(), values, extras)),
            Err(e) => problems.push(problem(def.name, pk, e.to_string())),
        }
    };
    // Forwards.
    let failed = raw::guarded(|| -> std::result::Result<(), String> {
        let start = Bound::Included(vec![ROWS]);
        let range = table
            .range::<&[u8]>((as_ref(&start), as_ref(&end)))
            .map_err(|e| e.to_string())?;
        for entry in range {
            let (k, v) = entry.map_err(|e| e.to_string())?;
            take(k.value(), v.value(), &mut rows, problems);
            last = Some(k.value().to_vec());
        }
        Ok(())
    });
    let err = match failed {
        Ok(Ok(())) => return rows,
        Ok(Err(e)) => e,
        Err(p) => p,
    };
    let after = last.clone().unwrap_or_else(|| vec![ROWS]);
    problems.push(problem(
        def.name,
        after.get(1..).unwrap_or_default(),
        format!("rows after this key unreadable ({}): {err}", path.display()),
    ));
    // Backwards from the end down to the last good key.
    let floor = match &last {
        Some(k) => Bound::Excluded(k.clone()),
        None => Bound::Included(vec![ROWS]),
    };
    let back = raw::guarded(|| -> std::result::Result<(), String> {
        let range = table
            .range::<&[u8]>((as_ref(&floor), as_ref(&end)))
            .map_err(|e| e.to_string())?;
        for entry in range.rev() {
            let (k, v) = entry.map_err(|e| e.to_string())?;
            take(k.value(), v.value(), &mut rows, problems);
        }
        Ok(())
    });
    match back {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(problem(
            def.name,
            &[],
            format!("reading backwards stopped: {e}"),
        )),
        Err(p) => problems.push(problem(
            def.name,
            &[],
            format!("reading backwards stopped: {p}"),
        )),
    }
    rows
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
