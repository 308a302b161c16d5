//! `backup`: a consistent online snapshot of every database file.
//!
//! Each file is copied from **one read transaction** (an MVCC snapshot, so
//! writers keep going) into a fresh redb file: every declared table's raw
//! key/values (rows, index entries, metadata) and the meta tables
//! (`__layout`, `__schema`, `__fingerprint`), in one write transaction. The copy is written
//! under a temporary name and renamed when complete; the backup directory
//! itself is assembled as `.<stamp>.partial` and renamed to `<stamp>` once
//! its [`Manifest`] is written, so a backup directory is complete or absent.
//! Files are 0600 and directories 0700 whatever the umask.
//!
//! Copying through redb rather than copying bytes gives a consistent image
//! without stopping writers, compacts free pages away, and (once the
//! encrypted storage backend is used for new files) keeps the copy encrypted.
//!
//! A file is opened read-only ([`Database::open_read_only`]): nothing in
//! the data directory is written, created or repaired; only the backup
//! directory is. Inside a running server the backup reads through the
//! server's open handle. redb allows one writing process per file: from
//! another process the backup waits for the file like any open
//! (`DB_TIMEOUT`) and then fails with [`Error::Locked`], leaving no backup.
//! A file that cannot be read for another reason (damaged) is listed in
//! [`BackupReport::unreadable`] and left out, and every other file is
//! backed up.

use super::fsutil;
use super::manifest::{Digest, Digester, FILE_NAME, FileEntry, Manifest, TableEntry};
use super::{META_TABLES, raw};
use crate::config::Config;
use crate::db::fingerprint::FINGERPRINT;
use crate::db::meta::{LAYOUT, SCHEMA};
use crate::db::{Database, OpenOptions};
use crate::error::{Error, Result};
use crate::table::raw_def;
use crate::unreadable::Unreadable;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, TableHandle};
use std::path::{Path, PathBuf};

/// What to back up and where.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The directory that receives `<YYYYMMDD_HHMMSS>/` (default `<data>/backup`).
    pub out: Option<PathBuf>,
    /// Remove backups in `out` older than this many days (`None`: keep all).
    pub keep_days: Option<u32>,
    /// The time stamped on the backup.
    pub now: DateTime<Utc>,
}

/// What a backup did.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The new backup directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Older backups removed.
    pub pruned: Vec<PathBuf>,
    /// Files that could not be read (damaged...): not in the backup.
    pub unreadable: Vec<Unreadable>,
}

/// Backs up every existing database file of the configured mode.
/// `progress` is told each file as it starts.
pub fn backup(
    config: &Config,
    opts: &BackupOptions,
    progress: &mut dyn FnMut(&Path),
) -> Result<BackupReport> {
    let base = opts
        .out
        .clone()
        .unwrap_or_else(|| config.data_dir.join("backup"));
    fsutil::private_dir(&base)?;
    let (name, dir) = free_name(&base, &fsutil::stamp(opts.now));
    let partial = base.join(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| Error::io("remove", &partial, e))?;
    }
    fsutil::private_dir(&partial)?;
    let mut unreadable = Vec::new();
    let files = match snapshot_all(config, &partial, progress, &mut unreadable) {
        Ok(f) => f,
        Err(e) => {
            // Leave no half-written backup behind.
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let manifest = Manifest {
        format: super::manifest::FORMAT,
        tool: "aragora-db".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        mode: config.mode.as_str().into(),
        data_dir: config.data_dir.display().to_string(),
        files,
    };
    let mpath = partial.join(FILE_NAME);
    {
        use std::io::Write;
        let mut f = fsutil::private_file(&mpath)?;
        f.write_all(&manifest.to_json())
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io("write", &mpath, e))?;
    }
    fsutil::sync_parent(&mpath)?;
    std::fs::rename(&partial, &dir).map_err(|e| Error::io("rename into place", &dir, e))?;
    fsutil::sync_parent(&dir)?;
    let pruned = match opts.keep_days {
        Some(days) => prune(&base, days, opts.now, &dir)?,
        None => Vec::new(),
    };
    Ok(BackupReport {
        dir,
        manifest,
        pruned,
        unreadable,
    })
}

/// Snapshots every existing file of the mode into `partial`.
fn snapshot_all(
    config: &Config,
    partial: &Path,
    progress: &mut dyn FnMut(&Path),
    unreadable: &mut Vec<Unreadable>,
) -> Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    for set in super::files(config)? {
        if !set.path.exists() {
            continue;
        }
        progress(&set.path);
        let (file, target) = names_for(config, &set.path, files.len());
        let dest = partial.join(&file);
        fsutil::private_dir(&fsutil::parent_of(&dest))?;
        let mut opts = OpenOptions::from(config);
        if opts.encryption.is_some() && !crate::crypto::file_is_encrypted(&set.path)? {
            // A plain file under a configuration with a key (e.g. the
            // sources of `consolidate --migrate` turning encryption on):
            // read it as it is; its snapshot is still written encrypted.
            opts.encryption = None;
        }
        // Read-only: a backup never writes to the files it copies. A file
        // that cannot be read is reported and left out; the rest is backed up.
        let copied = Database::open_read_only(&set.path, set.tables.clone(), &opts)
            .and_then(|db| snapshot(&db, &dest, config.encryption.as_ref()));
        let (tables, skipped) = match copied {
            Ok(c) => c,
            // A file in use elsewhere is not damaged: the backup is retried
            // later, whole, rather than made without it.
            Err(e @ Error::Locked { .. }) => return Err(e),
            Err(e) => {
                unreadable.push(Unreadable::from_error(&set.path, &e));
                continue;
            }
        };
        let bytes = std::fs::metadata(&dest)
            .map_err(|e| Error::io("stat", &dest, e))?
            .len();
        files.push(FileEntry {
            file,
            target,
            bytes,
            tables,
            skipped,
        });
    }
    Ok(files)
}

/// `<stamp>`, or `<stamp>_N` when a backup of that second exists.
fn free_name(base: &Path, stamp: &str) -> (String, PathBuf) {
    let mut name = stamp.to_string();
    let mut n = 1;
    while base.join(&name).exists() {
        name = format!("{stamp}_{n}");
        n += 1;
    }
    let dir = base.join(&name);
    (name, dir)
}

/// Where a file goes inside the backup, and where it is restored.
fn names_for(config: &Config, path: &Path, n: usize) -> (String, String) {
    match path.strip_prefix(&config.data_dir) {
        Ok(rel) => {
            let rel = rel.to_string_lossy().replace('\\', "/");
            (rel.clone(), rel)
        }
        Err(_) => {
            let name = path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file.redb".into());
            (
                format!("external/{n:02}_{name}"),
                path.display().to_string(),
            )
        }
    }
}

/// Copies one open database, from one snapshot, into a new file at `dest`
/// (encrypted with `enc` when given, so backups of encrypted databases
/// stay encrypted). Returns the digest of every copied table and the
/// tables not copied.
pub fn snapshot(
    db: &Database,
    dest: &Path,
    enc: Option<&crate::crypto::Encryption>,
) -> Result<(Vec<TableEntry>, Vec<String>)> {
    let src = db.path();
    let reader = db.read()?;
    let rtxn = reader.txn()?;
    let names = raw::table_names(rtxn, src)?;
    let versions = read_versions(rtxn, src)?;
    let tmp = fsutil::temp_sibling(dest, "partial");
    let out = raw::create_private(&tmp, enc)?;
    let st = |e: redb::Error| Error::storage(&tmp, e);
    let wtxn = out.begin_write().map_err(|e| st(e.into()))?;
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let digest = if META_TABLES.contains(&name.as_str()) {
            copy_meta(rtxn, &wtxn, name, src, &tmp)?
        } else if db.tables().iter().any(|d| d.name == name) {
            copy_raw(rtxn, &wtxn, name, src, &tmp)?
        } else {
            skipped.push(format!("{name}: not declared for this file"));
            continue;
        };
        tables.push(TableEntry {
            name: name.clone(),
            rows: digest.rows,
            entries: digest.entries,
            crc32: digest.crc32,
            schema_version: versions.iter().find(|(n, _)| n == name).map(|v| v.1),
        });
    }
    wtxn.commit().map_err(|e| st(e.into()))?;
    drop(out);
    drop(reader);
    fsutil::replace(&tmp, dest)?;
    fsutil::set_mode(dest, 0o600)?;
    Ok((tables, skipped))
}

fn read_versions(txn: &redb::ReadTransaction, path: &Path) -> Result<Vec<(String, u32)>> {
    let st = |e: redb::Error| Error::storage(path, e);
    let t = match txn.open_table(SCHEMA) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(st(e.into())),
    };
    let mut out = Vec::new();
    for e in t.iter().map_err(|e| st(e.into()))? {
        let (k, v) = e.map_err(|e| st(e.into()))?;
        out.push((k.value().to_string(), v.value()));
    }
    Ok(out)
}

pub(crate) fn copy_raw(
    rtxn: &redb::ReadTransaction,
    wtxn: &redb::WriteTransaction,
    name: &str,
    src: &Path,
    dst: &Path,
) -> Result<Digest> {
    let from = rtxn
        .open_table(raw_def(name))
        .map_err(|e| Error::storage_in(src, format!("table {name}"), e))?;
    let mut to = wtxn
        .open_table(raw_def(name))
        .map_err(|e| Error::storage(dst, e))?;
    let mut d = Digester::default();
    for e in from.iter().map_err(|e| Error::storage(src, e))? {
        let (k, v) = e.map_err(|e| Error::storage_in(src, format!("table {name}"), e))?;
        let (k, v) = (k.value(), v.value());
        d.add(k, v, k.first() == Some(&0));
        to.insert(k, v).map_err(|e| Error::storage(dst, e))?;
    }
    Ok(d.finish())
}

pub(crate) fn copy_meta(
    rtxn: &redb::ReadTransaction,
    wtxn: &redb::WriteTransaction,
    name: &str,
    src: &Path,
    dst: &Path,
) -> Result<Digest> {
    if name == crate::db::inherited::INHERITED.name() {
        // Bytes to bytes, like a declared table's raw table.
        return copy_raw(rtxn, wtxn, name, src, dst);
    }
    let mut d = Digester::default();
    let se = |e: redb::Error| Error::storage_in(src, format!("table {name}"), e);
    let de = |e: redb::Error| Error::storage(dst, e);
    if name == LAYOUT.name() {
        let from = rtxn.open_table(LAYOUT).map_err(|e| se(e.into()))?;
        let mut to = wtxn.open_table(LAYOUT).map_err(|e| de(e.into()))?;
        for e in from.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value().as_bytes(), &v.value().to_le_bytes(), true);
            to.insert(k.value(), v.value()).map_err(|e| de(e.into()))?;
        }
    } else if name == FINGERPRINT.name() {
        let from = rtxn.open_table(FINGERPRINT).map_err(|e| se(e.into()))?;
        let mut to = wtxn.open_table(FINGERPRINT).map_err(|e| de(e.into()))?;
        for e in from.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value().as_bytes(), v.value().as_bytes(), true);
            to.insert(k.value(), v.value()).map_err(|e| de(e.into()))?;
        }
    } else {
        let from = rtxn.open_table(SCHEMA).map_err(|e| se(e.into()))?;
        let mut to = wtxn.open_table(SCHEMA).map_err(|e| de(e.into()))?;
        for e in from.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value().as_bytes(), &v.value().to_le_bytes(), true);
            to.insert(k.value(), v.value()).map_err(|e| de(e.into()))?;
        }
    }
    Ok(d.finish())
}

/// The digest of one table of a snapshot (as [`snapshot`] computes it).
pub fn digest_table(txn: &redb::ReadTransaction, name: &str, path: &Path) -> Result<Digest> {
    let se = |e: redb::Error| Error::storage_in(path, format!("table {name}"), e);
    let mut d = Digester::default();
    if name == LAYOUT.name() {
        let t = txn.open_table(LAYOUT).map_err(|e| se(e.into()))?;
        for e in t.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value().as_bytes(), &v.value().to_le_bytes(), true);
        }
    } else if name == SCHEMA.name() {
        let t = txn.open_table(SCHEMA).map_err(|e| se(e.into()))?;
        for e in t.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value().as_bytes(), &v.value().to_le_bytes(), true);
        }
    } else if name == FINGERPRINT.name() {
        let t = txn.open_table(FINGERPRINT).map_err(|e| se(e.into()))?;
        for e in t.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value().as_bytes(), v.value().as_bytes(), true);
        }
    } else {
        let t = txn.open_table(raw_def(name)).map_err(|e| se(e.into()))?;
        for e in t.iter().map_err(|e| se(e.into()))? {
            let (k, v) = e.map_err(|e| se(e.into()))?;
            d.add(k.value(), v.value(), k.value().first() == Some(&0));
        }
    }
    Ok(d.finish())
}

/// Removes backups under `base` older than `days` (by the time in their
/// name), never `keep`. Only directories named like a backup and holding a
/// manifest are touched, plus abandoned `.…partial` directories.
pub fn prune(base: &Path, days: u32, now: DateTime<Utc>, keep: &Path) -> Result<Vec<PathBuf>> {
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(base).map_err(|e| Error::io("list", base, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", base, e))?;
        let path = entry.path();
        if path == keep || !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let (stamp, partial) = match name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".partial"))
        {
            Some(s) => (s.to_string(), true),
            None => (name.clone(), false),
        };
        let Some(at) = stamp.get(..15).and_then(fsutil::parse_stamp) else {
            continue;
        };
        if at >= cutoff || (!partial && !path.join(FILE_NAME).is_file()) {
            continue;
        }
        std::fs::remove_dir_all(&path).map_err(|e| Error::io("remove", &path, e))?;
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}
