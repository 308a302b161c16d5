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
//! is where it is restored: relative to the data directory, or absolute for
//! a file that an override placed outside it. `entries` counts every
//! key/value of the table's redb table (rows, index entries, metadata);
//! `rows` counts the rows; `crc32` runs over every entry in key order as
//! `len(key) u32 LE, key, len(value) u32 LE, value`.
//!
//! The manifest is read from disk before a restore, so [`Manifest::parse`]
//! treats it as untrusted: unknown formats, paths that leave the backup or
//! data directory, duplicate files or tables are refused.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Component, Path};

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
    /// Where it is restored (relative to the data directory, or absolute).
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
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::Invalid(format!("{FILE_NAME}: not a backup manifest: {e}")))?;
        m.validate()?;
        Ok(m)
    }

    /// Checks what [`Manifest::parse`] promises.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Invalid(format!("{FILE_NAME}: {what}")));
        if self.format != FORMAT {
            return bad(format!(
                "format {}, this binary reads format {FORMAT}",
                self.format
            ));
        }
        if self.tool != "aragora-db" {
            return bad(format!("written by {:?}, expected aragora-db", self.tool));
        }
        let mut files = HashSet::new();
        let mut targets = HashSet::new();
        for f in &self.files {
            if !is_plain_relative(Path::new(&f.file)) || !f.file.ends_with(".redb") {
                return bad(format!(
                    "file {:?} must be a relative .redb path inside the backup",
                    f.file
                ));
            }
            let t = Path::new(&f.target);
            if !(t.is_absolute() || is_plain_relative(t)) || !f.target.ends_with(".redb") {
                return bad(format!(
                    "target {:?} must be a .redb path inside the data directory, or absolute",
                    f.target
                ));
            }
            if t.is_absolute() && t.components().any(|c| matches!(c, Component::ParentDir)) {
                return bad(format!("target {:?} contains '..'", f.target));
            }
            if !files.insert(&f.file) || !targets.insert(&f.target) {
                return bad(format!("{:?} is listed twice", f.file));
            }
            let mut names = HashSet::new();
            for t in &f.tables {
                if t.name.is_empty() || !names.insert(&t.name) {
                    return bad(format!(
                        "{}: table {:?} empty or listed twice",
                        f.file, t.name
                    ));
                }
                if t.rows > t.entries {
                    return bad(format!(
                        "{}: table {} has more rows ({}) than entries ({})",
                        f.file, t.name, t.rows, t.entries
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

/// Only normal components (no root, no `..`, no `.`), at least one.
fn is_plain_relative(p: &Path) -> bool {
    p.components().count() > 0 && p.components().all(|c| matches!(c, Component::Normal(_)))
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
        ] {
            let mut m = sample();
            match field {
                "file" => m.files[0].file = value.into(),
                _ => m.files[0].target = value.into(),
            }
            let err = Manifest::parse(&m.to_json()).unwrap_err().to_string();
            assert!(err.contains(value), "{err}");
        }
        let mut m = sample();
        m.format = 9;
        assert!(Manifest::parse(&m.to_json()).is_err());
        assert!(Manifest::parse(b"{").is_err());
    }
}
