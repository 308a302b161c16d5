//! `salvage FILE --out NEW`: every readable row out of a damaged file.
//!
//! The damaged file is never written. Two ways of reading it:
//!
//! 1. **Through redb**, on a private copy (redb may repair the copy): every
//!    declared table is read row by row. When the file opens and every
//!    table reads to its end, this is the whole salvage: a row whose
//!    envelope fails its CRC or does not decode is reported and skipped.
//! 2. **Page by page** ([`pages`], [`recover`]), when redb cannot open the
//!    file (truncated, zero-filled, a damaged header), panics, or fails
//!    part-way through a table: the file's own pages are parsed without
//!    redb, each table's tree is walked from the newest commit, and the
//!    key ranges of subtrees that cannot be read are filled, under a strict
//!    rule, from leaves found by scanning every page (old page copies stay
//!    in a copy-on-write file; see [`recover`] for why and when they are
//!    trusted). The report counts rows from the tree and rows "from
//!    unreferenced pages" separately.
//!
//! redb is only ever called on the untrusted file under [`crate::quiet::quietly`],
//! so a redb panic becomes an error naming the file and prints nothing.
//!
//! Index entries and counters are not copied: the rows are inserted into a
//! fresh file through the normal write path, which rebuilds every index and
//! count and checks UNIQUE and column types (a row that breaks them is
//! reported, never dropped silently). Foreign keys are not enforced, as on
//! import: a salvage that lost a parent row keeps its children. The new
//! file is written under a temporary name and renamed when complete.
//!
//! Encrypted files: the damaged file is opened through the encrypted
//! backend with the configured key (an error naming it without one), and
//! with a key configured the new file is encrypted; its temporaries (the
//! copies of the input, the file being built) are encrypted too, so no
//! plaintext reaches the disk. The page-by-page reader reads an encrypted
//! file through the backend opened for salvage (each block authenticated
//! on its own): a block that fails authentication reads as a damaged page.

pub mod pages;
pub mod recover;

use super::verify::ProblemOut;
use super::{META_TABLES, fsutil};
use crate::config::{Config, DatabaseMode};
use crate::crypto::Encryption;
use crate::db::{Database, OpenOptions};
use crate::error::{Error, Found, Result};
use crate::table::{TableDef, keys, layout::ROWS, raw_def};
use redb::ReadableDatabase;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One table's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TableSalvage {
    /// The table.
    pub table: String,
    /// Rows copied (from the tree and from unreferenced pages).
    pub copied: u64,
    /// Rows copied that were read from the newest commit's tree (all of
    /// them when redb read the file).
    pub from_tree: u64,
    /// Rows copied that were read from unreferenced pages only: each may
    /// be an old version of its row, or a row deleted since.
    pub from_unreferenced: u64,
    /// Rows (or ranges) that could not be copied.
    pub lost: u64,
}

/// How the damaged file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// redb opened it and read every table to its end.
    Redb,
    /// redb could not: read page by page.
    Pages,
}

/// What a salvage did.
#[derive(Debug, Clone, Serialize)]
pub struct SalvageReport {
    /// The new file.
    pub out: PathBuf,
    /// How the damaged file was read.
    pub method: Method,
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

/// One table's rows as read, before writing.
struct ReadTable {
    def: &'static TableDef,
    tree: Vec<Salvaged>,
    scanned: Vec<Salvaged>,
    problems: Vec<ProblemOut>,
}

fn file_problem(what: String) -> ProblemOut {
    ProblemOut {
        table: "(file)".into(),
        key: String::new(),
        what,
    }
}

/// Copies every readable row of `file` into the new file `out` (encrypted
/// with `enc` when given; an encrypted `file` needs `enc`).
pub fn salvage(file: &Path, out: &Path, enc: Option<&Encryption>) -> Result<SalvageReport> {
    if out.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} exists; salvage writes a new file",
            out.display()
        )));
    }
    if !file.is_file() {
        let found = if file.exists() {
            Found::NotAFile
        } else {
            Found::Missing
        };
        return Err(Error::layout(file, found, "is not a file"));
    }
    let len = std::fs::metadata(file)
        .map_err(|e| Error::io("stat", file, e))?
        .len();
    if len == 0 {
        return Err(Error::layout(
            file,
            Found::Empty,
            "is empty: there is nothing to salvage",
        ));
    }
    let encrypted = crate::crypto::file_is_encrypted(file)?;
    if encrypted && enc.is_none() {
        return Err(crate::crypto::no_key(file));
    }
    fsutil::private_dir(&fsutil::parent_of(out))?;
    let mut notes: Vec<String> = Vec::new();
    let mut method = Method::Redb;
    let mut read = match through_redb(file, out, enc, &mut notes)? {
        Ok(tables) => tables,
        Err((why, declared)) => {
            method = Method::Pages;
            notes.push(format!("{why}; read page by page instead"));
            let tables = through_pages(file, out, enc, declared, &mut notes)?;
            if tables
                .iter()
                .all(|t| t.tree.is_empty() && t.scanned.is_empty())
                && !starts_with_magic(file)
            {
                return Err(Error::layout(
                    file,
                    Found::Foreign,
                    "is not a database file of this tool (no redb header, no readable row); nothing written",
                ));
            }
            tables
        }
    };
    let mut report = SalvageReport {
        out: out.to_path_buf(),
        method,
        tables: Vec::new(),
        problems: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    report.problems.extend(
        notes
            .into_iter()
            .filter(|n| seen.insert(n.clone()))
            .map(file_problem),
    );
    let defs: Vec<&'static TableDef> = read.iter().map(|t| t.def).collect();
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
            w.set_foreign_keys(false)?;
            for t in &mut read {
                let def = t.def;
                let mut out = TableSalvage {
                    table: def.name.into(),
                    copied: 0,
                    from_tree: 0,
                    from_unreferenced: 0,
                    lost: t.problems.len() as u64,
                };
                let tree = std::mem::take(&mut t.tree).into_iter().map(|r| (r, false));
                let scanned = std::mem::take(&mut t.scanned).into_iter().map(|r| (r, true));
                for ((pk, values, extras), unreferenced) in tree.chain(scanned) {
                    match w.insert_values(def, &values, &extras) {
                        Ok(_) => {
                            out.copied += 1;
                            out.from_unreferenced += u64::from(unreferenced);
                            out.from_tree += u64::from(!unreferenced);
                        }
                        Err(e) => {
                            out.lost += 1;
                            t.problems
                                .push(problem(def.name, &pk, format!("not written: {e}")));
                        }
                    }
                }
                if out.from_unreferenced > 0 {
                    t.problems.push(ProblemOut {
                        table: def.name.into(),
                        key: String::new(),
                        what: format!(
                            "{} rows recovered from unreferenced pages, may be stale (an old version, or deleted since)",
                            out.from_unreferenced
                        ),
                    });
                }
                report.problems.append(&mut t.problems);
                report.tables.push(out);
            }
            Ok(())
        })?;
        if method == Method::Pages {
            dangling(&db, &defs, &mut report.problems);
        }
    }
    fsutil::replace(&tmp, out)?;
    Ok(report)
}

/// Whether the file starts with redb's magic number (an encrypted file
/// keeps redb's header in its first logical block, so it counts as one).
fn starts_with_magic(file: &Path) -> bool {
    if crate::crypto::file_is_encrypted(file).unwrap_or(false) {
        return true;
    }
    let mut head = [0u8; 9];
    std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == pages::MAGIC
}

/// Reports rows of the new file whose foreign key names a row it does not
/// hold: after a page-by-page read, a parent lost with its page leaves its
/// children dangling. They are kept (as on import), and listed.
fn dangling(db: &Database, defs: &[&'static TableDef], problems: &mut Vec<ProblemOut>) {
    let r = match db.read() {
        Ok(r) => r,
        Err(e) => {
            problems.push(file_problem(format!("the new file cannot be checked: {e}")));
            return;
        }
    };
    for &def in defs.iter().filter(|d| !d.foreign_keys.is_empty()) {
        let missing: Vec<&str> = def
            .foreign_keys
            .iter()
            .map(|fk| (fk.parent)().name)
            .filter(|p| !defs.iter().any(|d| d.name == *p))
            .collect();
        if !missing.is_empty() {
            problems.push(ProblemOut {
                table: def.name.into(),
                key: String::new(),
                what: format!(
                    "foreign keys not checked in the new file: it has no table {} (no row of it was recovered)",
                    missing.join(", ")
                ),
            });
            continue;
        }
        match crate::table::check::check_table(&r, def) {
            Ok(found) => problems.extend(
                found
                    .into_iter()
                    .filter(|p| p.what.contains("has no row in"))
                    .map(|p| ProblemOut {
                        table: p.table,
                        key: p.key,
                        what: format!("copied, but {} (its parent row was not recovered)", p.what),
                    }),
            ),
            Err(e) => problems.push(ProblemOut {
                table: def.name.into(),
                key: String::new(),
                what: format!("foreign keys not checked in the new file: {e}"),
            }),
        }
    }
}

/// Through redb: `Ok(tables)` when the file opened and every table read
/// to its end; otherwise why not, with the declared tables the file's
/// table tree named (if it could be listed).
#[allow(clippy::type_complexity)]
fn through_redb(
    file: &Path,
    out: &Path,
    enc: Option<&Encryption>,
    notes: &mut Vec<String>,
) -> Result<std::result::Result<Vec<ReadTable>, (String, Vec<&'static TableDef>)>> {
    let copy = TempCopy(fsutil::temp_sibling(out, "salvage-src"));
    fsutil::copy_private(file, &copy.0)?;
    let opened = if let Some(enc) =
        enc.filter(|_| crate::crypto::file_is_encrypted(file).unwrap_or(false))
    {
        let key = &enc.source;
        // An encrypted file that fails its open checks (a damaged trailer
        // or summary) is opened again for salvage: each block on its own.
        crate::quiet::quietly(|| {
            let b = match crate::crypto::open_backend(&copy.0, file, key) {
                Err(Error::Authentication { what, .. }) => {
                    let b = crate::crypto::open_backend_for_salvage(&copy.0, file, key)?;
                    notes.push(format!("the encrypted file fails its checks: {what}"));
                    notes.extend(b.findings().iter().cloned());
                    b
                }
                other => other?,
            };
            redb::Builder::new()
                .create_with_backend(b)
                .map_err(|e| Error::storage(file, e))
        })
        .map_err(|p| Error::damaged(file, p))
        .and_then(|r| r)
    } else {
        match crate::quiet::quietly(|| redb::Builder::new().open(&copy.0)) {
            Ok(Ok(db)) => Ok(db),
            Ok(Err(e)) => Err(Error::storage(file, e)),
            Err(p) => Err(Error::damaged(file, p)),
        }
    };
    let src = match opened {
        Ok(db) => db,
        Err(e @ (Error::WrongKey { .. } | Error::Encryption { .. })) => return Err(e),
        Err(e) => return Ok(Err((format!("redb cannot open the file: {e}"), Vec::new()))),
    };
    let names = match crate::quiet::quietly(|| -> std::result::Result<Vec<String>, String> {
        let txn = src.begin_read().map_err(|e| e.to_string())?;
        let list = txn.list_tables().map_err(|e| e.to_string())?;
        Ok(list
            .map(|h| redb::TableHandle::name(&h).to_string())
            .collect())
    }) {
        Ok(Ok(n)) => n,
        Ok(Err(e)) | Err(e) => {
            return Ok(Err((
                format!("redb cannot list the tables of {}: {e}", file.display()),
                Vec::new(),
            )));
        }
    };
    let mut defs: Vec<&'static TableDef> = Vec::new();
    for n in &names {
        match crate::schema::table(n) {
            Ok(def) => defs.push(def),
            Err(_) if META_TABLES.contains(&n.as_str()) => {}
            Err(_) => notes.push(format!("table {n}: not a declared table; not copied")),
        }
    }
    let txn = match crate::quiet::quietly(|| src.begin_read()) {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            return Ok(Err((
                format!("redb cannot read {}: {e}", file.display()),
                defs,
            )));
        }
        Err(p) => return Ok(Err((format!("{p} ({})", file.display()), defs))),
    };
    let mut tables = Vec::new();
    for &def in &defs {
        let mut problems = Vec::new();
        let rows = match read_rows(&txn, def, file, &mut problems) {
            Ok(rows) => rows,
            Err(why) => {
                return Ok(Err((
                    format!(
                        "redb fails reading table {} of {}: {why}",
                        def.name,
                        file.display()
                    ),
                    defs,
                )));
            }
        };
        tables.push(ReadTable {
            def,
            tree: rows,
            scanned: Vec::new(),
            problems,
        });
    }
    Ok(Ok(tables))
}

/// Page by page (see [`recover`]); `declared` are tables redb listed.
fn through_pages(
    file: &Path,
    out: &Path,
    enc: Option<&Encryption>,
    declared: Vec<&'static TableDef>,
    notes: &mut Vec<String>,
) -> Result<Vec<ReadTable>> {
    let candidates = tables_named_by(file);
    let rec = if let Some(enc) =
        enc.filter(|_| crate::crypto::file_is_encrypted(file).unwrap_or(false))
    {
        let copy = TempCopy(fsutil::temp_sibling(out, "salvage-pages"));
        fsutil::copy_private(file, &copy.0)?;
        let backend = match crate::crypto::open_backend_for_salvage(&copy.0, file, &enc.source) {
            Ok(b) => b,
            Err(e @ (Error::WrongKey { .. } | Error::Encryption { .. })) => return Err(e),
            Err(e) => {
                notes.push(format!(
                    "the encrypted file cannot be read block by block: {e}"
                ));
                return Ok(Vec::new());
            }
        };
        notes.extend(backend.findings().iter().cloned());
        recover::recover(&pages::Backend(backend), &declared, &candidates)
    } else {
        let src = pages::PlainFile::open(file).map_err(|e| Error::io("open", file, e))?;
        recover::recover(&src, &declared, &candidates)
    };
    notes.extend(rec.notes);
    let mut tables = rec.tables;
    // The order redb lists tables in, as on the other path.
    tables.sort_by_key(|t| t.def.name);
    Ok(tables
        .into_iter()
        .map(|t| ReadTable {
            def: t.def,
            tree: t.tree,
            scanned: t.scanned,
            problems: t.problems,
        })
        .collect())
}

/// The tables a file of this name holds in either mode (`users.redb`: the
/// users tables), or every declared table for a file of another name: the
/// candidates a page's rows are matched against when the file's own table
/// tree cannot be read.
fn tables_named_by(file: &Path) -> Vec<&'static TableDef> {
    let mut out: Vec<&'static TableDef> = Vec::new();
    let dir = fsutil::parent_of(file);
    for mode in [DatabaseMode::Legacy, DatabaseMode::Consolidated] {
        let mut cfg = Config::for_dir(&dir);
        cfg.mode = mode;
        for &def in crate::schema::ALL_TABLES {
            let named = cfg
                .get_db_path(def.owner)
                .is_ok_and(|p| p.path.file_name() == file.file_name());
            if named && !out.iter().any(|d| d.name == def.name) {
                out.push(def);
            }
        }
    }
    if out.is_empty() {
        out = crate::schema::ALL_TABLES.to_vec();
    }
    out
}

fn problem(table: &str, pk: &[u8], what: String) -> ProblemOut {
    ProblemOut {
        table: table.into(),
        key: keys::render(pk),
        what,
    }
}

/// Reads the rows of one table through redb; a redb error or panic
/// part-way is `Err` (the file is then read page by page).
fn read_rows(
    txn: &redb::ReadTransaction,
    def: &'static TableDef,
    path: &Path,
    problems: &mut Vec<ProblemOut>,
) -> std::result::Result<Vec<Salvaged>, String> {
    let mut rows: Vec<Salvaged> = Vec::new();
    let done = crate::quiet::quietly(|| -> std::result::Result<(), String> {
        let table = txn
            .open_table(raw_def(def.name))
            .map_err(|e| format!("table unreadable: {e}"))?;
        let range = table
            .range::<&[u8]>(&[ROWS][..]..&[ROWS + 1][..])
            .map_err(|e| e.to_string())?;
        for entry in range {
            let (k, v) = entry.map_err(|e| e.to_string())?;
            let pk = &k.value()[1..];
            match def.decode_values(pk, v.value()) {
                Ok((values, extras)) => rows.push((pk.to_vec(), values, extras)),
                Err(e) => problems.push(problem(def.name, pk, e.to_string())),
            }
        }
        Ok(())
    });
    match done {
        Ok(Ok(())) => Ok(rows),
        Ok(Err(e)) | Err(e) => Err(format!("{e} ({})", path.display())),
    }
}
