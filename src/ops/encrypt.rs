//! Whole-file conversions: `encrypt`, `decrypt`, `rekey`.
//!
//! `encrypt` and `decrypt` copy the redb image block by block into a new
//! file beside the original (`<name>.converting`), sync it, check it opens
//! with redb and passes its integrity check, then rename it over the
//! original and sync the directory. An interruption at any point leaves the
//! original untouched; a conversion that fails removes its copy, and a copy
//! left by a crash is overwritten by the next run.
//! The source is locked for the whole copy, so no process writes it meanwhile.
//!
//! Only our own files are converted ([`crate::crypto::check`] for the header, [`check_plain`] for a plain file): each function
//! identifies its file read-only before it writes anything. For a set of
//! files the CLI first runs [`plan_encrypt`] / [`plan_decrypt`] /
//! [`plan_rekey`] on every file and refuses the whole set if any file fails;
//! the plans accept a file already in the wanted state (skipped), which is
//! what makes an interrupted set finish when the same command runs again
//! (the protocol is in `docs/ENCRYPTION.md`).

use crate::crypto::check::{self, Kind};
use crate::crypto::{
    EncryptedBackend, Encryption, KdfParams, KeySource, LockGuard, open_database, rekey_backend,
};
use crate::error::{Error, Result};
use crate::ops::raw::{self, Opened};
use crate::quiet::quietly;
use redb::ReadableDatabase;
use redb::StorageBackend;
use redb::backends::FileBackend;
use std::path::{Path, PathBuf};

const CHUNK: usize = 1 << 20;

/// Opens `path`, or with `create` creates it empty (truncating a stale
/// one) with mode 0600 whatever the umask: a `.converting` file holds the
/// whole database, in plaintext while decrypting.
fn file_backend(path: &Path, create: bool) -> Result<FileBackend> {
    let file = if create {
        crate::fsutil::private_file(path)?
    } else {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?
    };
    FileBackend::new(file).map_err(|e| Error::storage(path, e))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".converting");
    path.with_file_name(name)
}

fn copy_image(
    src: &impl StorageBackend,
    dst: &impl StorageBackend,
    from: &Path,
    to: &Path,
) -> Result<u64> {
    let len = src.len().map_err(|e| Error::io("size", from, e))?;
    dst.set_len(len).map_err(|e| Error::io("size", to, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut off = 0;
    while off < len {
        let n = CHUNK.min((len - off) as usize);
        src.read(off, &mut buf[..n])
            .map_err(|e| Error::io("read", from, e))?;
        dst.write(off, &buf[..n])
            .map_err(|e| Error::io("write", to, e))?;
        off += n as u64;
    }
    dst.sync_data().map_err(|e| Error::io("sync", to, e))?;
    Ok(len)
}

/// The converted copy must open and pass redb's own integrity check before
/// it replaces anything. A file damaged in a way the read-only check before
/// the conversion could not see fails here (redb may even panic on it): the
/// error names the original, which is left as it was.
fn check_copy(tmp: &Path, path: &Path, enc: Option<&Encryption>) -> Result<()> {
    let checked = crate::quiet::quietly(|| -> Result<bool> {
        let mut db = open_database(&redb::Builder::new(), tmp, enc)?;
        db.check_integrity().map_err(|e| Error::storage(tmp, e))
    });
    let why = match checked {
        Ok(Ok(true)) => return Ok(()),
        Ok(Ok(false)) => "it fails redb's integrity check".to_string(),
        Ok(Err(e @ (Error::Storage { .. } | Error::Damaged { .. }))) => e.detail(),
        Ok(Err(e)) => return Err(e),
        Err(panic) => panic,
    };
    Err(Error::damaged(
        path,
        format!(
            "the file is damaged, so it was left as it was: redb cannot use its converted copy ({why}); check it with `aragora-db verify`, recover its rows with `aragora-db salvage`"
        ),
    ))
}

/// Runs a conversion into `tmp`; on any error `tmp` (a partial or
/// unusable copy, never the original) is removed.
fn removing_on_error<T>(tmp: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    f().inspect_err(|_| {
        let _ = std::fs::remove_file(tmp);
    })
}

fn finish(tmp: &Path, path: &Path, enc: Option<&Encryption>) -> Result<()> {
    check_copy(tmp, path, enc)?;
    std::fs::rename(tmp, path).map_err(|e| Error::io("rename", tmp, e))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", &dir, e))
}

/// What a conversion does with one file, decided before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Convert it.
    Convert,
    /// Already in the wanted state: leave it (the reason, for the report).
    Skip(&'static str),
    /// `rekey` only: the new key already opens it (an earlier run rekeyed
    /// it); [`finish_rekey`] completes an interrupted slot update.
    AlreadyRekeyed,
}

/// `encrypt` of `path` with `enc`: a plain aragora-db file is converted, a
/// file already encrypted under this key skipped; anything else (another
/// key, not our file) is an error naming the file. Read-only.
pub fn plan_encrypt(path: &Path, enc: &Encryption) -> Result<Plan> {
    match check::kind(path)? {
        Kind::Plain => check_plain(path).map(|()| Plan::Convert),
        Kind::Encrypted if check::key_opens(path, &enc.source)? => {
            Ok(Plan::Skip("already encrypted"))
        }
        Kind::Encrypted => Err(Error::Encryption {
            path: path.to_path_buf(),
            what: "is already encrypted, under another key than the one given".into(),
        }),
    }
}

/// `decrypt` of `path` with `key`: an encrypted file the key opens is
/// converted, a plain aragora-db file skipped; a wrong key or a file that
/// is not ours is an error naming the file. Read-only.
pub fn plan_decrypt(path: &Path, key: &KeySource) -> Result<Plan> {
    match check::kind(path)? {
        Kind::Plain => check_plain(path).map(|()| Plan::Skip("not encrypted")),
        Kind::Encrypted if check::key_opens(path, key)? => Ok(Plan::Convert),
        Kind::Encrypted => Err(Error::WrongKey {
            path: path.to_path_buf(),
        }),
    }
}

/// `rekey` of `path` from `old` to `new`: a file `old` opens is converted,
/// one `new` already opens is [`Plan::AlreadyRekeyed`], a plain aragora-db
/// file skipped; a file under a third key, or not ours, is an error naming
/// the file. Read-only.
pub fn plan_rekey(path: &Path, old: &KeySource, new: &KeySource) -> Result<Plan> {
    match check::kind(path)? {
        Kind::Plain => check_plain(path).map(|()| Plan::Skip("not encrypted")),
        Kind::Encrypted if check::key_opens(path, old)? => Ok(Plan::Convert),
        Kind::Encrypted if check::key_opens(path, new)? => Ok(Plan::AlreadyRekeyed),
        Kind::Encrypted => Err(Error::Encryption {
            path: path.to_path_buf(),
            what:
                "is encrypted under a third key: neither the current key nor the new key opens it"
                    .into(),
        }),
    }
}

/// Encrypts a plain aragora-db file in place (atomically). Returns its
/// logical size. Anything but a plain aragora-db file is refused unchanged.
pub fn encrypt_file(path: &Path, enc: &Encryption) -> Result<u64> {
    match check::kind(path)? {
        Kind::Plain => check_plain(path)?,
        Kind::Encrypted => {
            return Err(Error::Encryption {
                path: path.to_path_buf(),
                what: "is already encrypted".into(),
            });
        }
    }
    let src = file_backend(path, false)?;
    let _lock = LockGuard::take(&src, path)?;
    let tmp = temp_path(path);
    removing_on_error(&tmp, || {
        let dst = EncryptedBackend::open_or_create(
            file_backend(&tmp, true)?,
            &tmp,
            &enc.source,
            enc.params,
        )?;
        let len = copy_image(&src, &dst, path, &tmp)?;
        dst.close().map_err(|e| Error::io("close", &tmp, e))?;
        drop(dst);
        finish(&tmp, path, Some(enc))?;
        Ok(len)
    })
}

/// Decrypts an encrypted file in place (atomically). Returns its size.
/// Anything but our encrypted layout is refused unchanged.
pub fn decrypt_file(path: &Path, key: &KeySource) -> Result<u64> {
    require_encrypted(path)?;
    let src = EncryptedBackend::open(file_backend(path, false)?, path, key)?;
    let _lock = LockGuard::take(&src.inner, path)?;
    let tmp = temp_path(path);
    removing_on_error(&tmp, || {
        let len = {
            let dst = file_backend(&tmp, true)?;
            copy_image(&src, &dst, path, &tmp)?
        };
        finish(&tmp, path, None)?;
        Ok(len)
    })
}

/// Replaces an encrypted file's key-encryption key (instant, atomic).
/// Anything but our encrypted layout is refused unchanged.
pub fn rekey_file(path: &Path, old: &KeySource, new: &KeySource, params: KdfParams) -> Result<()> {
    require_encrypted(path)?;
    let fb = file_backend(path, false)?;
    rekey_backend(&fb, path, old, new, params)?;
    fb.close().map_err(|e| Error::io("close", path, e))
}

/// For a file `key` (the new key) already opens: completes a rekey a
/// crash interrupted between its two key-slot writes, so no slot keeps
/// the data key under the old key. Returns whether it wrote.
pub fn finish_rekey(path: &Path, key: &KeySource) -> Result<bool> {
    require_encrypted(path)?;
    let fb = file_backend(path, false)?;
    let wrote = crate::crypto::finish_rekey(&fb, path, key)?;
    fb.close().map_err(|e| Error::io("close", path, e))?;
    Ok(wrote)
}

fn require_encrypted(path: &Path) -> Result<()> {
    match check::kind(path)? {
        Kind::Encrypted => Ok(()),
        Kind::Plain => {
            check_plain(path)?;
            Err(Error::Encryption {
                path: path.to_path_buf(),
                what: "is not encrypted (a plain aragora-db file)".into(),
            })
        }
    }
}

/// Checks that a plain file is an aragora-db database this binary reads:
/// redb opens it read-only and it holds the `__layout` marker at this
/// binary's layout version. Nothing is written to the file.
pub fn check_plain(path: &Path) -> Result<()> {
    let not_ours = |what: String| Error::Encryption {
        path: path.to_path_buf(),
        what,
    };
    let opened = match quietly(|| redb::Builder::new().open_read_only(path)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Err(Opened::Locked),
        Ok(Err(redb::DatabaseError::RepairAborted)) => Err(Opened::NeedsRecovery),
        Ok(Err(e)) => Err(Opened::Failed(Error::storage(path, e))),
        Err(panic) => Err(Opened::Failed(Error::damaged(path, panic))),
    };
    let db = opened.map_err(|e| match e {
        Opened::Failed(e) => not_ours(format!(
            "has a redb header but redb cannot read it, so it is not a usable aragora-db database ({})",
            e.detail()
        )),
        e => raw::read_only_error(path, e),
    })?;
    let layout = quietly(|| -> std::result::Result<Option<u64>, String> {
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let t = match txn.open_table(crate::db::meta::LAYOUT) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        // The marker's key, as `db::meta` writes it.
        let v = t.get("aragora-db").map_err(|e| e.to_string())?;
        Ok(Some(v.map_or(0, |g| g.value())))
    });
    let version = crate::db::meta::LAYOUT_VERSION;
    match layout {
        // An earlier layout is ours too: encryption works on pages, and
        // the next read-write open upgrades the layout (crate::db::meta).
        Ok(Ok(Some(v))) if (1..=version).contains(&v) => Ok(()),
        Ok(Ok(Some(0))) => Err(not_ours(
            "is a redb database whose __layout table holds no aragora-db marker: not an aragora-db file".into(),
        )),
        Ok(Ok(Some(v))) => Err(not_ours(format!(
            "has aragora-db storage layout {v}, but this binary handles layout {version}: use the binary that wrote it"
        ))),
        Ok(Ok(None)) => Err(not_ours(
            "is a redb database but not an aragora-db file (no __layout marker table)".into(),
        )),
        Ok(Err(why)) | Err(why) => Err(not_ours(format!(
            "is a redb database whose __layout marker cannot be read ({why})"
        ))),
    }
}
