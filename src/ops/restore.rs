//! `restore BACKUP`: puts a backup's files back, after checking them.
//!
//! 1. The manifest is parsed and validated ([`Manifest::parse`]), and every
//!    snapshot file is re-read: each table's entry count, row count and
//!    CRC32 must equal the manifest's, and no table may be missing or extra.
//!    Nothing is touched if any check fails.
//! 2. Every target file must be free: not open in this process, and not
//!    held by another process (redb's file lock). The targets stay locked
//!    by this process until they are replaced.
//! 3. Each file is copied beside its target under a temporary name (0600),
//!    fsynced, renamed over the target, and the directory fsynced: a
//!    reader sees the old file or the new one, never a mix. (Files are
//!    replaced one after another; each replacement is atomic.)

use super::manifest::{FILE_NAME, Manifest};
use super::{META_TABLES, fsutil, raw};
use crate::config::Config;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The manifest restored.
    pub manifest: Manifest,
    /// The files replaced (or created).
    pub restored: Vec<PathBuf>,
}

/// Reads and checks a backup directory: the manifest, then every table of
/// every file against it (encrypted snapshots are read with `enc`).
/// Returns the manifest.
pub fn verify_backup(dir: &Path, enc: Option<&crate::crypto::Encryption>) -> Result<Manifest> {
    let mpath = dir.join(FILE_NAME);
    let bytes = std::fs::read(&mpath).map_err(|e| Error::io("read", &mpath, e))?;
    let manifest =
        Manifest::parse(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", mpath.display())))?;
    for f in &manifest.files {
        let path = dir.join(&f.file);
        let db = raw::ReadHandle::open(&path, enc)?;
        let txn = db.begin_read(&path)?;
        let mut names = raw::table_names(&txn, &path)?;
        names.sort();
        let mut listed: Vec<&str> = f.tables.iter().map(|t| t.name.as_str()).collect();
        listed.sort();
        if names != listed {
            return Err(Error::Invalid(format!(
                "{}: holds tables [{}], the manifest lists [{}]",
                path.display(),
                names.join(", "),
                listed.join(", ")
            )));
        }
        for t in &f.tables {
            let found = raw::guarded(|| super::backup::digest_table(&txn, &t.name, &path))
                .map_err(|p| Error::storage(&path, p))??;
            if found != t.digest() {
                return Err(Error::Corrupt {
                    table: leak_name(&t.name),
                    key: path.display().to_string(),
                    what: format!(
                        "backup does not match its manifest: {} rows / {} entries / CRC32 {:#010x}, manifest says {} / {} / {:#010x}",
                        found.rows, found.entries, found.crc32, t.rows, t.entries, t.crc32
                    ),
                });
            }
        }
    }
    Ok(manifest)
}

/// `Error::Corrupt` names tables by `&'static str`; a declared table's name
/// is static already, a meta table's too, anything else is reported as such.
fn leak_name(name: &str) -> &'static str {
    crate::schema::ALL_TABLES
        .iter()
        .map(|t| t.name)
        .chain(META_TABLES)
        .find(|n| *n == name)
        .unwrap_or("(undeclared table)")
}

/// Where an entry of the manifest goes under `config`.
pub fn target_path(config: &Config, target: &str) -> PathBuf {
    let t = Path::new(target);
    if t.is_absolute() {
        t.to_path_buf()
    } else {
        config.data_dir.join(t)
    }
}

/// Verifies the backup in `dir`, then replaces every target file with its
/// snapshot. Refuses while any target is open.
pub fn restore(config: &Config, dir: &Path) -> Result<RestoreReport> {
    let manifest = verify_backup(dir, config.encryption.as_ref())?;
    // Take every target's lock before replacing any.
    let mut held = Vec::new();
    let mut busy = Vec::new();
    for f in &manifest.files {
        let target = target_path(config, &f.target);
        if crate::db::open_handle(&target).is_some() {
            busy.push(format!("{} (open in this process)", target.display()));
            continue;
        }
        if !target.exists() {
            continue;
        }
        if crate::crypto::file_is_encrypted(&target).unwrap_or(false) {
            // Hold its lock through the encrypted backend (a plain open
            // cannot read it); a wrong or missing key is an error here.
            match crate::crypto::open_database(
                &redb::Builder::new(),
                &target,
                config.encryption.as_ref(),
            ) {
                Ok(db) => held.push(db),
                Err(Error::Locked { .. }) => busy.push(format!(
                    "{} (held by another process: stop it first)",
                    target.display()
                )),
                Err(e) => return Err(e),
            }
            continue;
        }
        match raw::open(&target) {
            raw::Opened::Open(db) => held.push(db),
            raw::Opened::Locked => busy.push(format!(
                "{} (held by another process: stop it first)",
                target.display()
            )),
            // A damaged target is what restores are for: replace it.
            raw::Opened::Failed(_) | raw::Opened::NeedsRecovery => {}
        }
    }
    if !busy.is_empty() {
        return Err(Error::Invalid(format!(
            "refusing to restore while databases are open: {}",
            busy.join(", ")
        )));
    }
    let mut restored = Vec::new();
    for f in &manifest.files {
        let target = target_path(config, &f.target);
        fsutil::private_dir(&fsutil::parent_of(&target))?;
        let tmp = fsutil::temp_sibling(&target, "restore");
        fsutil::copy_private(&dir.join(&f.file), &tmp)?;
        fsutil::replace(&tmp, &target)?;
        restored.push(target);
    }
    drop(held);
    Ok(RestoreReport { manifest, restored })
}
