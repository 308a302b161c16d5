//! Finding the SQLite files of a source directory by their content.
//!
//! A file is a source when its first 16 bytes are SQLite's magic
//! (`SQLite format 3\0`), whatever its name: real data directories hold
//! files under the names in docs/ORIGINAL.md ("Database types and file names")
//! and others. A file named like a
//! database (`.db`, `.sqlite`, `.sqlite3`, `.db3`) is a source whatever its
//! content: when such a file is empty, damaged or not SQLite at all, the
//! user expected data in it, so the importer must say it could not read
//! it rather than pass over it. Other files are not data; they are counted
//! in one `skipped` line. A file that cannot even be opened is a source too,
//! so the open error is reported against it.
//!
//! `-wal`, `-shm` and `-journal` files belong to their database and are read
//! with it; a `-wal` without a source beside it is reported (SQLite discards
//! such a WAL, so its frames are not data anyone can read).
//! Directories named `backup` or `backups` hold copies of the same data
//! and are skipped, with a note in the report; symbolic links are not
//! followed (a link to a folder could loop or leave the source) and are
//! listed as skipped too.

use super::report::Warning;
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// SQLite's 16-byte header magic.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How deep below the source directory files are looked for.
const MAX_DEPTH: usize = 4;

/// File name endings of database files: a file named so is a source even
/// when it is not SQLite (then reported as unreadable).
pub const DB_EXTENSIONS: [&str; 4] = [".db", ".sqlite", ".sqlite3", ".db3"];

/// How many names a `skipped` line for non-SQLite files lists.
const NAMES_LISTED: usize = 3;

/// A source file found by content or by name.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Path relative to the source directory, `/`-separated (the name used
    /// in reports and in the importer's own tables).
    pub rel: String,
    /// Size of the file plus its `-wal`, in bytes.
    pub bytes: u64,
    /// Size of the file alone, in bytes.
    pub len: u64,
    /// Size of its `-wal`, if it has one.
    pub wal_len: Option<u64>,
}

impl SourceFile {
    /// The report name of its `-wal`.
    pub fn wal_rel(&self) -> String {
        format!("{}-wal", self.rel)
    }
}

/// Something found that is not imported, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    /// Path relative to the source directory.
    pub path: String,
    /// Why it is not imported.
    pub reason: String,
}

/// What [`find`] found.
#[derive(Debug, Default)]
pub struct Found {
    /// Every source file, sorted by relative path.
    pub files: Vec<SourceFile>,
    /// What was passed over on purpose.
    pub skipped: Vec<Skipped>,
    /// Files SQLite itself would not read (a `-wal` without its database).
    pub warnings: Vec<Warning>,
}

/// Every source file under `dir`, what was passed over on purpose, and
/// orphaned `-wal` files.
pub fn find(dir: &Path) -> Result<Found> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io("read source directory", dir, e))?;
    if !meta.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "source {} is not a directory (expected a data directory such as .nomic)",
            dir.display()
        )));
    }
    let mut w = Walk {
        root: dir,
        found: Found::default(),
        wals: Vec::new(),
        others: BTreeMap::new(),
    };
    w.walk(dir, 0)?;
    let Walk {
        mut found,
        wals,
        others,
        ..
    } = w;
    let sources: BTreeSet<&Path> = found.files.iter().map(|f| f.path.as_path()).collect();
    for (wal, base, len) in &wals {
        if sources.contains(base.as_path()) {
            continue;
        }
        let why = if base.exists() {
            "its database file is not a SQLite file"
        } else {
            "there is no database file beside it"
        };
        found.warnings.push(Warning {
            file: rel_of(dir, wal),
            reason: format!(
                "not read ({len} bytes): {why}, and SQLite discards the WAL of a database it cannot find"
            ),
            frames: None,
            offset: None,
        });
    }
    for (folder, names) in others {
        let n = names.len();
        let mut listed: Vec<&str> = names
            .iter()
            .take(NAMES_LISTED)
            .map(String::as_str)
            .collect();
        if n > NAMES_LISTED {
            listed.push("…");
        }
        found.skipped.push(Skipped {
            path: if folder.is_empty() {
                ".".into()
            } else {
                folder
            },
            reason: format!(
                "{n} file{} not SQLite (no SQLite header, not named {}): {}",
                if n == 1 { "" } else { "s" },
                DB_EXTENSIONS.join("/"),
                listed.join(", ")
            ),
        });
    }
    found.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    found.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    found.warnings.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(found)
}

fn rel_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// True when `name` ends like a database file.
pub fn db_named(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    DB_EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

struct Walk<'a> {
    root: &'a Path,
    found: Found,
    /// Every `-wal` seen: its path, its database's path, its length.
    wals: Vec<(PathBuf, PathBuf, u64)>,
    /// Non-SQLite files by folder (relative), by name.
    others: BTreeMap<String, BTreeSet<String>>,
}

impl Walk<'_> {
    fn walk(&mut self, dir: &Path, depth: usize) -> Result<()> {
        let root = self.root;
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io("stat", &path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                if name == "backup" || name == "backups" {
                    self.found.skipped.push(Skipped {
                        path: rel_of(root, &path),
                        reason: "backup directory: copies of the same data are not imported (pass --source to import one)".into(),
                    });
                } else if depth + 1 >= MAX_DEPTH {
                    self.found.skipped.push(Skipped {
                        path: rel_of(root, &path),
                        reason: format!(
                            "deeper than {MAX_DEPTH} levels below the source directory"
                        ),
                    });
                } else {
                    self.walk(&path, depth + 1)?;
                }
                continue;
            }
            if !kind.is_file() {
                let what = if kind.is_symlink() {
                    "a symbolic link: not followed (import its target with --source, or copy the file here)"
                } else {
                    "not a regular file"
                };
                self.found.skipped.push(Skipped {
                    path: rel_of(root, &path),
                    reason: what.into(),
                });
                continue;
            }
            if let Some(base) = name.strip_suffix("-wal") {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                self.wals.push((path.clone(), dir.join(base), len));
                continue;
            }
            if ["-shm", "-journal"].iter().any(|s| name.ends_with(s)) {
                continue;
            }
            // A file that cannot be opened is a source: opening it again
            // reports the error against it.
            let magic = has_magic(&path).unwrap_or(true);
            if !magic && !db_named(&name) {
                self.others
                    .entry(rel_of(root, dir))
                    .or_default()
                    .insert(name);
                continue;
            }
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            let wal_len = std::fs::metadata(PathBuf::from(wal)).ok().map(|m| m.len());
            self.found.files.push(SourceFile {
                rel: rel_of(root, &path),
                path,
                bytes: len + wal_len.unwrap_or(0),
                len,
                wal_len,
            });
        }
        Ok(())
    }
}

/// Whether the file starts with [`MAGIC`]; an error when it cannot be read.
fn has_magic(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got == head.len() && &head == MAGIC)
}
