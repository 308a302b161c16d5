//! Whole-file conversions: `encrypt`, `decrypt`, `rekey`.
//!
//! `encrypt` and `decrypt` copy the redb image block by block into a new
//! file beside the original (`<name>.converting`), sync it, check it opens
//! with redb and passes its integrity check, then rename it over the
//! original and sync the directory. An interruption at any point leaves the
//! original untouched (a stale `.converting` file is removed by the next run).
//! The source is locked for the whole copy, so no process writes it meanwhile.

use super::open::LockGuard;
use super::{EncryptedBackend, Encryption, KdfParams, KeySource, rekey_backend};
use crate::error::{Error, Result};
use redb::StorageBackend;
use redb::backends::FileBackend;
use std::path::{Path, PathBuf};

const CHUNK: usize = 1 << 20;

/// Opens `path`, or with `create` creates it empty (truncating a stale
/// one) with mode 0600 whatever the umask: a `.converting` file holds the
/// whole database, in plaintext while decrypting.
fn file_backend(path: &Path, create: bool) -> Result<FileBackend> {
    let file = if create {
        crate::ops::fsutil::private_file(path)?
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

fn finish(tmp: &Path, path: &Path, enc: Option<&Encryption>) -> Result<()> {
    // The copy must open and pass redb's own check before it replaces anything.
    {
        let mut db = super::open_database(&redb::Builder::new(), tmp, enc)?;
        let ok = db.check_integrity().map_err(|e| Error::storage(tmp, e))?;
        if !ok {
            return Err(Error::storage(
                tmp,
                "the converted copy failed redb's integrity check",
            ));
        }
    }
    std::fs::rename(tmp, path).map_err(|e| Error::io("rename", tmp, e))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", &dir, e))
}

/// Encrypts a plain redb file in place (atomically). Returns its logical size.
pub fn encrypt_file(path: &Path, enc: &Encryption) -> Result<u64> {
    if super::file_is_encrypted(path)? {
        return Err(Error::Encryption {
            path: path.to_path_buf(),
            what: "is already encrypted".into(),
        });
    }
    let src = file_backend(path, false)?;
    let _lock = LockGuard::take(&src, path)?;
    let tmp = temp_path(path);
    let len = {
        let dst = EncryptedBackend::open_or_create(
            file_backend(&tmp, true)?,
            &tmp,
            &enc.source,
            enc.params,
        )?;
        let len = copy_image(&src, &dst, path, &tmp)?;
        dst.close().map_err(|e| Error::io("close", &tmp, e))?;
        len
    };
    finish(&tmp, path, Some(enc)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(len)
}

/// Decrypts an encrypted file in place (atomically). Returns its size.
pub fn decrypt_file(path: &Path, key: &KeySource) -> Result<u64> {
    let src = EncryptedBackend::open(file_backend(path, false)?, path, key)?;
    let _lock = LockGuard::take(&src.inner, path)?;
    let tmp = temp_path(path);
    let len = {
        let dst = file_backend(&tmp, true)?;
        copy_image(&src, &dst, path, &tmp)?
    };
    finish(&tmp, path, None).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(len)
}

/// Replaces an encrypted file's key-encryption key (instant, atomic).
pub fn rekey_file(path: &Path, old: &KeySource, new: &KeySource, params: KdfParams) -> Result<()> {
    let fb = file_backend(path, false)?;
    rekey_backend(&fb, path, old, new, params)?;
    fb.close().map_err(|e| Error::io("close", path, e))
}
