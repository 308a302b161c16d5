//! Read-only handles: what `status`, `dump`, `export`, `verify`, `backup`
//! and `cleanup --dry-run` open a file with.
//!
//! A command that only reads must leave every byte and the modification
//! time of the file as it found them: on a read-only file (mode 0444, or a
//! file of another user) it must still work, and on a damaged file it must
//! not make things worse before someone salvages it. A normal open writes:
//! redb flags the header on open and writes it back on close, repairs a
//! file that was not closed cleanly, and [`super::meta::ensure_tables`]
//! creates missing tables and records versions. So a read-only handle is
//! opened on a copy-on-write [`Overlay`] of a read-only file descriptor:
//! redb and the table set-up run exactly as for a normal open, and what
//! they write stays in memory and is gone when the handle is dropped.
//! Declared tables missing from the file therefore read as empty, a file
//! that needs crash recovery is recovered in memory (and says so in
//! [`Database::notes`]; the next read-write open does it for real), and a
//! file newer than this binary is still refused. A file with tables at an
//! older schema version is migrated in memory ([`super::upgrade`]): the
//! handle reads them as this binary declares them.
//!
//! An encrypted file is read the same way, with the overlay under the
//! encrypted backend: whatever that backend would write on open (erasing a
//! discarded commit, flushing trailers) stays in memory too.
//!
//! Nothing is created: a missing file is [`Error::Storage`] "does not
//! exist", and an empty (0-byte) file, which a normal open would turn into
//! a database, is refused as not a database.
//!
//! The per-process registry keeps read-only handles apart from read-write
//! ones. A read-only open of a file this process holds read-write gets a
//! read-only view of that handle (it sees the writer's commits); a
//! read-write open of a file held read-only here is refused at once,
//! rather than waiting on our own lock.

use super::upgrade::{Mode, run_pending};
use super::{Database, Inner, OPEN, OpenOptions, meta};
use crate::error::{Error, Found, Result};
use crate::storage::overlay::Overlay;
use crate::table::TableDef;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::{Duration, Instant};

/// Read-only handles open in this process, by canonical path.
pub(super) static OPEN_RO: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The note a file that needed crash recovery carries.
pub const NEEDS_RECOVERY: &str = "was not closed cleanly (a crash, or a writer still running): \
     recovered in memory for reading; the next read-write open recovers the file itself";

/// Why a file cannot be opened read-only before redb is even asked.
fn check_file(path: &Path) -> Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(Error::layout(
            path,
            Found::Empty,
            "is empty (0 bytes): not a database (left as it is)",
        )),
        Ok(m) if m.is_file() => match crate::crypto::check::foreign(path)? {
            Some(what) => Err(Error::layout(path, Found::Foreign, what)),
            None => Ok(m.len()),
        },
        Ok(_) => Err(Error::layout(
            path,
            Found::NotAFile,
            "is not a regular file",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::layout(path, Found::Missing, "does not exist"))
        }
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

/// The registry key of an existing file, creating nothing.
fn existing_key(path: &Path) -> Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = parent
        .canonicalize()
        .map_err(|e| Error::io("resolve directory", &parent, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a file path", path.display())))?;
    Ok(parent.join(name))
}

fn same_tables(inner: &Inner, tables: &[&'static TableDef]) -> bool {
    inner.set.tables().len() == tables.len()
        && inner
            .set
            .tables()
            .iter()
            .zip(tables)
            .all(|(a, b)| a.name == b.name)
}

fn different_tables(path: &Path) -> Error {
    Error::Busy(format!(
        "{} is already open in this process with a different set of tables",
        path.display()
    ))
}

impl Database {
    /// Opens an existing file for reading only: nothing is written to it,
    /// created or repaired (see the module documentation). The handle's
    /// reads work as usual; [`Database::write`] and every other write
    /// return an error saying the file was opened read-only.
    pub fn open_read_only(
        path: &Path,
        tables: Vec<&'static TableDef>,
        opts: &OpenOptions,
    ) -> Result<Database> {
        check_file(path)?;
        let key = existing_key(path)?;
        // Both registries stay locked (always in this order) until the
        // handle is registered, so a writer cannot open the file in between.
        let writers = OPEN.lock();
        if let Some(inner) = writers.get(&key).and_then(Weak::upgrade) {
            if !same_tables(&inner, &tables) {
                return Err(different_tables(path));
            }
            run_pending(&inner, &opts.migrations, Mode::Refuse)?;
            return Ok(Database {
                inner,
                read_only: true,
                clock: crate::time::Clock::system(),
            });
        }
        let mut open = OPEN_RO.lock();
        if let Some(inner) = open.get(&key).and_then(Weak::upgrade) {
            if !same_tables(&inner, &tables) {
                return Err(different_tables(path));
            }
            // That handle may have been opened leaving pending steps.
            run_pending(&inner, &opts.migrations, Mode::InMemory)?;
            return Ok(Database {
                inner,
                read_only: true,
                clock: crate::time::Clock::system(),
            });
        }
        open.retain(|_, w| w.strong_count() > 0);
        let (db, notes) = open_overlay_with_timeout(&key, opts)?;
        let mut inner = Inner::new(db, key.clone(), tables, opts);
        inner.notes = notes;
        let inner = Arc::new(inner);
        crate::quiet::quietly(|| meta::ensure_tables(&inner))
            .map_err(|p| Error::damaged(&key, p))??;
        // Pending migrations run on the overlay: in memory only.
        crate::quiet::quietly(|| run_pending(&inner, &opts.migrations, Mode::InMemory))
            .map_err(|p| Error::damaged(&key, p))??;
        tracing::info!(path = %key.display(), tables = inner.set.tables().len(), "opened read-only");
        open.insert(key, Arc::downgrade(&inner));
        Ok(Database {
            inner,
            read_only: true,
            clock: crate::time::Clock::system(),
        })
    }

    /// Whether this handle refuses writes.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// What the open noticed about the file that a reader should be told
    /// (e.g. that it needs crash recovery); empty for a healthy file.
    pub fn notes(&self) -> &[String] {
        &self.inner.notes
    }

    pub(super) fn refuse_read_only(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::InvalidArgument(format!(
                "{} was opened read-only; this command does not write to it",
                self.inner.set.origin().display()
            )));
        }
        Ok(())
    }
}

/// Refuses a read-write open of a file held read-only in this process.
pub(super) fn refuse_if_read_only_here(key: &Path) -> Result<()> {
    if OPEN_RO.lock().get(key).and_then(Weak::upgrade).is_some() {
        return Err(Error::Busy(format!(
            "{} is open read-only in this process; close that handle before writing",
            key.display()
        )));
    }
    Ok(())
}

/// Runs `open` until it returns something other than [`Error::Locked`],
/// or `timeout` has passed (then [`Error::Locked`] with the time waited).
pub(crate) fn retry_locked<T>(
    path: &Path,
    timeout: Duration,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    let mut announced = false;
    loop {
        match open() {
            Err(Error::Locked { .. }) => {
                let waited = start.elapsed();
                // Waiting silently for the whole DB_TIMEOUT looks like a hang.
                if !announced && waited >= Duration::from_secs(1) && waited < timeout {
                    tracing::warn!(
                        "waiting for {}, held by another process (DB_TIMEOUT={}s)",
                        path.display(),
                        timeout.as_secs_f64()
                    );
                    announced = true;
                }
                if waited >= timeout {
                    return Err(Error::Locked {
                        path: path.to_path_buf(),
                        waited,
                    });
                }
                std::thread::sleep(pause.min(timeout.saturating_sub(waited)));
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

fn open_overlay_with_timeout(
    path: &Path,
    opts: &OpenOptions,
) -> Result<(redb::Database, Vec<String>)> {
    retry_locked(path, opts.timeout, || open_overlay(path, opts))
}

/// `path` through a read-only descriptor, with an in-memory overlay for
/// whatever is written to it.
pub(crate) fn overlay_file(path: &Path) -> Result<Overlay<redb::backends::FileBackend>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open for reading", path, e))?;
    let fb = redb::backends::FileBackend::new(file).map_err(|e| Error::storage(path, e))?;
    Overlay::new(fb).map_err(|e| Error::io("size", path, e))
}

/// redb on `backend` (an overlay, or the encrypted backend over one);
/// also says whether redb had to recover the file (in memory).
pub(crate) fn redb_over(
    path: &Path,
    backend: impl redb::StorageBackend,
    cache_size: usize,
) -> Result<(redb::Database, bool)> {
    let repaired = Arc::new(AtomicBool::new(false));
    let mut builder = redb::Builder::new();
    builder.set_cache_size(cache_size);
    let flag = repaired.clone();
    builder.set_repair_callback(move |_| flag.store(true, Ordering::Relaxed));
    let db = crate::quiet::quietly(|| builder.create_with_backend(backend))
        .map_err(|p| Error::damaged(path, p))?
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked {
                path: path.to_path_buf(),
                waited: Duration::ZERO,
            },
            e => Error::storage(path, e),
        })?;
    Ok((db, repaired.load(Ordering::Relaxed)))
}

/// The error for a plain file met with a key configured.
fn plain_with_key(path: &Path) -> Error {
    Error::Encryption {
        path: path.to_path_buf(),
        what: "is a plain (unencrypted) redb file; encrypt it with `aragora-db encrypt` or turn encryption off".into(),
    }
}

/// Opens `path` through a read-only descriptor and an in-memory overlay
/// (under the encrypted backend when the file is encrypted).
pub(crate) fn open_overlay(
    path: &Path,
    opts: &OpenOptions,
) -> Result<(redb::Database, Vec<String>)> {
    let encrypted = crate::crypto::file_is_encrypted(path)?;
    let overlay = overlay_file(path)?;
    let mut notes = Vec::new();
    let (db, repaired) = match (encrypted, opts.encryption.as_ref()) {
        (true, None) => return Err(crate::crypto::no_key(path)),
        (false, Some(_)) => return Err(plain_with_key(path)),
        (true, Some(enc)) => {
            let backend = crate::quiet::quietly(|| {
                crate::crypto::EncryptedBackend::open(overlay, path, &enc.source)
            })
            .map_err(|p| Error::damaged(path, p))??;
            notes.extend(
                backend
                    .findings()
                    .iter()
                    .map(|f| format!("encryption: {f}")),
            );
            redb_over(path, backend, opts.cache_size)?
        }
        (false, None) => redb_over(path, overlay, opts.cache_size)?,
    };
    if repaired {
        notes.insert(0, NEEDS_RECOVERY.to_string());
    }
    Ok((db, notes))
}
