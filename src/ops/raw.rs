//! Opening redb files directly, outside the per-process registry, for the
//! tools that need the file to themselves (integrity checks, restore,
//! salvage). Bytes in a damaged file are untrusted: redb documents that a
//! plain open may panic on a file corrupted outside redb, so every direct
//! open and read here runs under `catch_unwind` and a panic becomes an
//! error naming the file.
//!
//! This module is the only place the operational tools open or create a
//! redb file other than through [`Database::open`](crate::Database::open),
//! so it is where a storage backend (encryption at rest) is plugged in:
//! backup snapshots are created through the encrypted backend when the
//! configuration has a key, and read back through it by restore.

use crate::crypto::Encryption;
use crate::error::{Error, Found, Result};
use redb::{ReadableDatabase, TableHandle};
use std::path::Path;
use std::time::Duration;

/// The outcome of a direct open.
pub enum Opened {
    /// Open; this process now holds the file's lock.
    Open(redb::Database),
    /// Another process (or another handle in this one) holds the file.
    Locked,
    /// The file could not be opened: redb's error, or [`Error::Damaged`]
    /// when redb stopped on damaged data.
    Failed(Error),
    /// The file was not shut down cleanly: a read-only open cannot run
    /// redb's crash recovery (a normal open does).
    NeedsRecovery,
}

/// Opens an existing redb file directly.
pub fn open(path: &Path) -> Opened {
    match guarded(|| redb::Builder::new().open(path)) {
        Ok(Ok(db)) => Opened::Open(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Opened::Locked,
        Ok(Err(e)) => Opened::Failed(Error::storage(path, e)),
        Err(panic) => Opened::Failed(Error::damaged(path, panic)),
    }
}

/// Opens an existing file read-only (nothing is written to it, not even
/// the header): holds off writers in other processes while it is open.
pub fn open_read_only(path: &Path) -> std::result::Result<redb::ReadOnlyDatabase, Opened> {
    match guarded(|| redb::Builder::new().open_read_only(path)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Err(Opened::Locked),
        Ok(Err(redb::DatabaseError::RepairAborted)) => Err(Opened::NeedsRecovery),
        Ok(Err(e)) => Err(Opened::Failed(Error::storage(path, e))),
        Err(panic) => Err(Opened::Failed(Error::damaged(path, panic))),
    }
}

/// Opens an existing file (an encrypted one through the encrypted backend
/// with `enc`), or fails with [`Error::Locked`] when another process holds
/// it, with [`Error::Storage`] or [`Error::Damaged`] when it cannot be read, and with
/// [`Error::Encryption`] / [`Error::WrongKey`] when it is encrypted and
/// `enc` is missing or wrong.
pub fn open_exclusive(path: &Path, enc: Option<&Encryption>) -> Result<redb::Database> {
    if crate::db::open_handle(path).is_some() {
        return Err(Error::Busy(format!(
            "{} is open in this process; close it first",
            path.display()
        )));
    }
    if crate::crypto::file_is_encrypted(path)? {
        return open_encrypted(path, enc);
    }
    match open(path) {
        Opened::Open(db) => Ok(db),
        Opened::Locked => Err(Error::Locked {
            path: path.to_path_buf(),
            waited: Duration::ZERO,
        }),
        Opened::Failed(e) => Err(e),
        Opened::NeedsRecovery => Err(Error::damaged(path, "needs crash recovery")),
    }
}

/// The error for a file a read-only open could not use.
pub fn read_only_error(path: &Path, e: Opened) -> Error {
    match e {
        Opened::Locked => Error::Locked {
            path: path.to_path_buf(),
            waited: Duration::ZERO,
        },
        Opened::Failed(e) => e,
        Opened::NeedsRecovery => Error::damaged(
            path,
            "was not shut down cleanly; open it once (e.g. `aragora-db status`) so redb recovers it",
        ),
        Opened::Open(_) => Error::damaged(path, "cannot open"),
    }
}

/// Creates a new, empty redb file at `path` with mode 0600.
pub fn create_private(path: &Path, enc: Option<&Encryption>) -> Result<redb::Database> {
    super::fsutil::private_file(path)?;
    crate::crypto::open_database(&redb::Builder::new(), path, enc)
}

/// Opens an existing encrypted file through the encrypted backend (a
/// normal open: this process holds the file until the handle is dropped).
/// Never creates a file; without `enc` the error names the file.
pub fn open_encrypted(path: &Path, enc: Option<&Encryption>) -> Result<redb::Database> {
    let enc = enc.ok_or_else(|| crate::crypto::no_key(path))?;
    if !path.is_file() {
        return Err(Error::layout(path, Found::Missing, "does not exist"));
    }
    guarded(|| crate::crypto::open_database(&redb::Builder::new(), path, Some(enc)))
        .map_err(|p| Error::damaged(path, p))?
}

/// A file opened for reading, never written: a plain file through redb's
/// read-only open; an encrypted file (or a plain one that needs crash
/// recovery, which redb's read-only open refuses) through a copy-on-write
/// overlay that keeps every write, the recovery's included, in memory
/// (`crate::db::readonly`).
pub enum ReadHandle {
    /// A plain file, read-only.
    Plain(redb::ReadOnlyDatabase),
    /// A file opened on an in-memory overlay.
    Overlay(redb::Database),
}

impl ReadHandle {
    /// Opens `path` for reading.
    pub fn open(path: &Path, enc: Option<&Encryption>) -> Result<ReadHandle> {
        use crate::db::readonly::{overlay_file, redb_over};
        const CACHE: usize = 64 << 20;
        if crate::crypto::file_is_encrypted(path)? {
            let enc = enc.ok_or_else(|| crate::crypto::no_key(path))?;
            let overlay = overlay_file(path)?;
            let backend =
                guarded(|| crate::crypto::EncryptedBackend::open(overlay, path, &enc.source))
                    .map_err(|p| Error::damaged(path, p))??;
            return redb_over(path, backend, CACHE).map(|(db, _)| ReadHandle::Overlay(db));
        }
        match open_read_only(path) {
            Ok(db) => Ok(ReadHandle::Plain(db)),
            Err(Opened::NeedsRecovery) => {
                redb_over(path, overlay_file(path)?, CACHE).map(|(db, _)| ReadHandle::Overlay(db))
            }
            Err(e) => Err(read_only_error(path, e)),
        }
    }

    /// A read transaction.
    pub fn begin_read(&self, path: &Path) -> Result<redb::ReadTransaction> {
        guarded(|| match self {
            ReadHandle::Plain(db) => db.begin_read(),
            ReadHandle::Overlay(db) => db.begin_read(),
        })
        .map_err(|p| Error::damaged(path, p))?
        .map_err(|e| Error::storage(path, e))
    }
}

/// Runs `f`, turning a panic into its message, without the panic hook
/// printing it (see [`crate::quiet`]).
pub fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    crate::quiet::quietly(f)
}

/// Names of every table in a snapshot.
pub fn table_names(txn: &redb::ReadTransaction, path: &Path) -> Result<Vec<String>> {
    let names = guarded(|| -> Result<Vec<String>> {
        Ok(txn
            .list_tables()
            .map_err(|e| Error::storage(path, e))?
            .map(|h| h.name().to_string())
            .collect())
    })
    .map_err(|p| Error::damaged(path, p))??;
    Ok(names)
}

/// A read snapshot of a directly opened file.
pub fn begin_read(db: &redb::Database, path: &Path) -> Result<redb::ReadTransaction> {
    guarded(|| db.begin_read())
        .map_err(|p| Error::damaged(path, p))?
        .map_err(|e| Error::storage(path, e))
}

/// A read snapshot of a file opened read-only.
pub fn begin_read_ro(db: &redb::ReadOnlyDatabase, path: &Path) -> Result<redb::ReadTransaction> {
    guarded(|| db.begin_read())
        .map_err(|p| Error::damaged(path, p))?
        .map_err(|e| Error::storage(path, e))
}
