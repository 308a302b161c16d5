//! The backup manifest (`manifest.json` in every backup directory): what
//! was backed up, from where, and the digests that restore checks before
//! it touches anything.
//!
//! ```json
//! { "format": 1, "tool": "aragora-db", "tool_version": "0.1.0",
//!   "created": "2026-11-26T15:04:05Z", "mode": "legacy", "data_dir": "/srv/.nomic",
//!   "files": [ { "file": "users.redb", "target": "users.redb", "bytes": 73728,
//!                "tables": [ { "name": "users", "rows": 3, "entries": 9,
//!                              "crc32": 305419896, "schema_version": 1 } ],
//!                "skipped": [] } ] }
//! ```
//!
//! `file` is where the snapshot lies inside the backup directory; `target`
//! is where it is restored, relative to the data directory. (Backup writes
//! an absolute target for a file an `ARAGORA_DB_*` override placed outside
//! the data directory; restore refuses such a manifest, because a manifest
//! is user-editable and restore only ever writes inside the data
//! directory: such a file is put back by hand.) `entries` counts every
//! key/value of the table's redb table (rows, index entries, metadata);
//! `rows` counts the rows; `crc32` runs over every entry in key order as
//! `len(key) u32 LE, key, len(value) u32 LE, value`.
//!
//! The manifest is read from disk before a restore, so [`Manifest::parse`]
//! treats it as untrusted: unknown formats, paths that leave the backup or
//! data directory (absolute, `..`, empty names), duplicate files, targets
//! or tables are refused, each refusal naming the entry. What needs the
//! file system (symbolic links leading out of either directory, sizes,
//! digests) is checked by `ops::restore` before it writes anything.

use crate::error::{Error, Found, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

/// The manifest format this binary writes and reads.
pub const FORMAT: u32 = 1;
/// The manifest's file name inside a backup directory.
pub const FILE_NAME: &str = "manifest.json";

/// A backup's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// `aragora-db`.
    pub tool: String,
    /// The version of the tool that wrote it.
    pub tool_version: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created: String,
    /// The database mode of the files.
    pub mode: String,
    /// The data directory backed up (informational).
    pub data_dir: String,
    /// One entry per database file.
    pub files: Vec<FileEntry>,
}

/// One backed-up database file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path of the snapshot inside the backup directory.
    pub file: String,
    /// Where it is restored, relative to the data directory.
    pub target: String,
    /// Size of the snapshot file.
    pub bytes: u64,
    /// Every table copied, meta tables included.
    pub tables: Vec<TableEntry>,
    /// Tables found in the file that were not copied, with the reason.
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// Digest of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    /// Rows (key space 0) for declared tables; all entries for meta tables.
    pub rows: u64,
    /// Every key/value.
    pub entries: u64,
    /// CRC32 over every entry (see the module docs).
    pub crc32: u32,
}

/// One table of a backed-up file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    /// The table (`__layout` and `__schema` for the meta tables).
    pub name: String,
    /// Rows (key space 0) for declared tables; all entries for meta tables.
    pub rows: u64,
    /// Every key/value.
    pub entries: u64,
    /// CRC32 over every entry.
    pub crc32: u32,
    /// Schema version recorded in the file (`None` for meta tables).
    pub schema_version: Option<u32>,
}

impl TableEntry {
    /// The digest part.
    pub fn digest(&self) -> Digest {
        Digest {
            rows: self.rows,
            entries: self.entries,
            crc32: self.crc32,
        }
    }
}

/// Running digest of a table's entries.
#[derive(Default)]
pub struct Digester {
    hasher: crc32fast::Hasher,
    digest: Digest,
}

impl Digester {
    /// Adds one entry; `row` says whether it counts as a row.
    pub fn add(&mut self, key: &[u8], value: &[u8], row: bool) {
        self.hasher.update(&(key.len() as u32).to_le_bytes());
        self.hasher.update(key);
        self.hasher.update(&(value.len() as u32).to_le_bytes());
        self.hasher.update(value);
        self.digest.entries += 1;
        self.digest.rows += u64::from(row);
    }

    /// The digest so far.
    pub fn finish(self) -> Digest {
        Digest {
            crc32: self.hasher.finalize(),
            ..self.digest
        }
    }
}

impl Manifest {
    /// Parses and validates a manifest read from disk.
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| {
            Error::layout(
                FILE_NAME,
                Found::Foreign,
                format!("not a backup manifest: {e}"),
            )
        })?;
        m.validate()?;
        Ok(m)
    }

    /// Checks what [`Manifest::parse`] promises. Each refusal names the
    /// entry (`files[i]`, with its `file` and `target`) and what was
    /// expected.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::layout(FILE_NAME, Found::Inconsistent, what));
        if self.format != FORMAT {
            return bad(format!(
                "format {}, this binary reads format {FORMAT}",
                self.format
            ));
        }
        if self.tool != "aragora-db" {
            return bad(format!("written by {:?}, expected aragora-db", self.tool));
        }
        let mut files: HashMap<PathBuf, usize> = HashMap::new();
        let mut targets: HashMap<PathBuf, usize> = HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            let entry = entry_name(i, f);
            if !is_plain_relative(Path::new(&f.file)) || !is_redb_name(&f.file) {
                return bad(format!(
                    "{entry}: file {:?} must be a relative .redb path inside the backup \
                     (no '/' at the start, no '..' or '.', no empty name)",
                    f.file
                ));
            }
            check_target(&f.target).or_else(|why| bad(format!("{entry}: {why}")))?;
            if let Some(j) = files.insert(normal(&f.file), i) {
                return bad(format!(
                    "{entry}: file {:?} is listed twice (also files[{j}])",
                    f.file
                ));
            }
            if let Some(j) = targets.insert(normal(&f.target), i) {
                return bad(format!(
                    "{entry}: target {:?} is listed twice (also files[{j}])",
                    f.target
                ));
            }
            let mut names = HashSet::new();
            for t in &f.tables {
                if t.name.is_empty() || !names.insert(&t.name) {
                    return bad(format!("{entry}: table {:?} empty or listed twice", t.name));
                }
                if t.rows > t.entries {
                    return bad(format!(
                        "{entry}: table {} has more rows ({}) than entries ({})",
                        t.name, t.rows, t.entries
                    ));
                }
            }
        }
        Ok(())
    }

    /// The manifest as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// How a refusal names entry `i`: `files[i] (file "…", target "…")`.
pub fn entry_name(i: usize, f: &FileEntry) -> String {
    format!("files[{i}] (file {:?}, target {:?})", f.file, f.target)
}

/// Checks a restore target as written in a manifest (or a restore
/// journal): a plain relative `.redb` path, which therefore stays inside
/// the data directory once symbolic links are ruled out (restore checks
/// those against the directory itself). The reason when it is not.
pub fn check_target(target: &str) -> std::result::Result<(), String> {
    let t = Path::new(target);
    if t.is_absolute() {
        return Err(format!(
            "target {target:?} is absolute; restore writes only inside the data directory, \
             so a target must be a path relative to it"
        ));
    }
    if t.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "target {target:?} contains '..'; a target must stay inside the data directory"
        ));
    }
    if !is_plain_relative(t) || !is_redb_name(target) {
        return Err(format!(
            "target {target:?} must be a relative .redb path inside the data directory \
             (no '.' component, no empty name)"
        ));
    }
    Ok(())
}

/// Only normal components (no root, no `..`, no `.`, no empty name
/// between two slashes), at least one; no NUL byte.
fn is_plain_relative(p: &Path) -> bool {
    let s = p.as_os_str().to_string_lossy();
    p.components().count() > 0
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !s.contains("//")
        && !s.contains('\0')
}

/// Ends in `.redb` after a non-empty stem, and not in a slash.
fn is_redb_name(s: &str) -> bool {
    Path::new(s)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.len() > ".redb".len() && n.ends_with(".redb"))
        && s.ends_with(".redb")
}

/// A path as its components, so that `a/b.redb` and `a//b.redb` compare
/// equal.
fn normal(s: &str) -> PathBuf {
    Path::new(s).components().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT,
            tool: "aragora-db".into(),
            tool_version: "0.1.0".into(),
            created: "2026-01-01T00:00:00Z".into(),
            mode: "legacy".into(),
            data_dir: "/d".into(),
            files: vec![FileEntry {
                file: "compliance/policy_store.redb".into(),
                target: "compliance/policy_store.redb".into(),
                bytes: 1,
                tables: vec![TableEntry {
                    name: "policies".into(),
                    rows: 1,
                    entries: 2,
                    crc32: 7,
                    schema_version: Some(1),
                }],
                skipped: vec![],
            }],
        }
    }

    #[test]
    fn roundtrip_and_refusals() {
        let m = sample();
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
        for (field, value) in [
            ("file", "../escape.redb"),
            ("file", "/abs.redb"),
            ("target", "../../etc/x.redb"),
            ("target", "users.db"),
            ("target", "/abs/users.redb"),
            ("target", "a/../users.redb"),
            ("target", "./users.redb"),
            ("target", ".redb"),
            ("target", "a\0b.redb"),
        ] {
            let mut m = sample();
            match field {
                "file" => m.files[0].file = value.into(),
                _ => m.files[0].target = value.into(),
            }
            let err = Manifest::parse(&m.to_json()).unwrap_err().to_string();
            assert!(err.contains(&format!("{value:?}")), "{err}");
        }
        // The same target twice; the same file twice.
        let mut m = sample();
        let mut twin = m.files[0].clone();
        twin.file = "other.redb".into();
        m.files.push(twin);
        let err = Manifest::parse(&m.to_json()).unwrap_err().to_string();
        assert!(
            err.contains("files[1]") && err.contains("files[0]"),
            "{err}"
        );
        let mut m = sample();
        let mut twin = m.files[0].clone();
        twin.target = "other.redb".into();
        m.files.push(twin);
        let err = Manifest::parse(&m.to_json()).unwrap_err().to_string();
        assert!(
            err.contains("files[1]") && err.contains("listed twice"),
            "{err}"
        );
        let mut m = sample();
        m.format = 9;
        assert!(Manifest::parse(&m.to_json()).is_err());
        assert!(Manifest::parse(b"{").is_err());
    }
}
