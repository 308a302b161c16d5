//! Finding the SQLite files of a source directory by their content.
//!
//! A file is a candidate when its first 16 bytes are SQLite's magic
//! (`SQLite format 3\0`), whatever its name: real data directories hold
//! files under names the catalog lists (§1.5) and others. `-wal`, `-shm`
//! and `-journal` files belong to their database and are read with it.
//! Directories named `backup` or `backups` hold copies of the same data
//! and are skipped, with a note in the report.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// SQLite's 16-byte header magic.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How deep below the source directory files are looked for.
const MAX_DEPTH: usize = 4;

/// A source file found by content.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Path relative to the source directory, `/`-separated (the name used
    /// in reports and in the importer's own tables).
    pub rel: String,
    /// Size of the file plus its `-wal`, in bytes.
    pub bytes: u64,
}

/// Something found that is not imported, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    /// Path relative to the source directory.
    pub path: String,
    /// Why it is not imported.
    pub reason: String,
}

/// Every SQLite file under `dir`, sorted by relative path, and what was
/// passed over on purpose.
pub fn find(dir: &Path) -> Result<(Vec<SourceFile>, Vec<Skipped>)> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io("read source directory", dir, e))?;
    if !meta.is_dir() {
        return Err(Error::Invalid(format!(
            "source {} is not a directory (expected a data directory such as .nomic)",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    walk(dir, dir, 0, &mut files, &mut skipped)?;
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, skipped))
}

fn rel_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    files: &mut Vec<SourceFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io("stat", &path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if kind.is_dir() {
            if name == "backup" || name == "backups" {
                skipped.push(Skipped {
                    path: rel_of(root, &path),
                    reason: "backup directory: copies of the same data are not imported (pass --source to import one)".into(),
                });
            } else if depth + 1 >= MAX_DEPTH {
                skipped.push(Skipped {
                    path: rel_of(root, &path),
                    reason: format!("deeper than {MAX_DEPTH} levels below the source directory"),
                });
            } else {
                walk(root, &path, depth + 1, files, skipped)?;
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if ["-wal", "-shm", "-journal"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            continue;
        }
        if !has_magic(&path)? {
            continue;
        }
        let mut bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        if let Ok(m) = std::fs::metadata(PathBuf::from(wal)) {
            bytes += m.len();
        }
        files.push(SourceFile {
            rel: rel_of(root, &path),
            path,
            bytes,
        });
    }
    Ok(())
}

fn has_magic(path: &Path) -> Result<bool> {
    let mut head = [0u8; 16];
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Error::io("open source file", path, e));
        }
        Err(_) => return Ok(false),
    };
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(Error::io("read source file", path, e)),
        }
    }
    Ok(got == head.len() && &head == MAGIC)
}
