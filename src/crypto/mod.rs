//! Encryption at rest, key rotation and column-level secrets.
//!
//! * [`EncryptedBackend`]: a redb `StorageBackend` that encrypts every 4 KiB
//!   block with AES-256-GCM; design and threat model in `docs/ENCRYPTION.md`.
//! * [`Encryption`]: the configured key (`ARAGORA_SQLITE_ENCRYPTION=1` with
//!   `ARAGORA_SQLITE_KEY` or `ARAGORA_ENCRYPTION_KEY`).
//! * [`check`]: what a file's header says it is, and whether a key opens
//!   it, read-only; the whole-file conversions built on it (`encrypt`,
//!   `decrypt`, `rekey`) are in `ops::encrypt`.
//! * [`mod@column`]: the original's AES-256-GCM column format; [`fernet`]: Fernet.

mod aead;
mod backend;
pub mod check;
pub mod column;
pub mod fernet;
mod header;
mod keys;
mod layout;
#[cfg(test)]
mod nonce_tests;
mod open;
mod recover;
mod salvage_open;
#[cfg(test)]
mod slot_tests;
mod trailers;

pub use backend::EncryptedBackend;
pub use header::{file_is_encrypted, is_encrypted_head};
pub use keys::{KdfParams, Key, KeySource};
pub(crate) use open::LockGuard;
pub use open::{finish_rekey, rekey_backend};

use crate::error::{Error, Result};

/// Key of the encrypted-file fuzz target's seed images (32 bytes of 0x42).
#[doc(hidden)]
#[cfg(any(test, feature = "testing"))]
pub const FUZZ_KEY: [u8; 32] = [0x42; 32];
use std::path::Path;

/// At-rest encryption settings: where the key comes from and, for new files,
/// the Argon2id cost. `Debug` never shows key material.
#[derive(Debug, Clone)]
pub struct Encryption {
    /// The key-encryption key's source.
    pub source: KeySource,
    /// Argon2id parameters written into new files' headers.
    pub params: KdfParams,
}

impl Encryption {
    /// Encryption with a raw key and default parameters.
    pub fn raw(key: Key) -> Self {
        Encryption {
            source: KeySource::Raw(key),
            params: KdfParams::default(),
        }
    }

    /// Encryption with a passphrase and the given Argon2id parameters.
    pub fn passphrase(p: &str, params: KdfParams) -> Self {
        Encryption {
            source: KeySource::passphrase(p),
            params,
        }
    }

    /// Reads `ARAGORA_SQLITE_ENCRYPTION`, `ARAGORA_SQLITE_KEY` and
    /// `ARAGORA_ENCRYPTION_KEY` through `get`. `Ok(None)` when encryption is off.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Encryption>> {
        let flag = get("ARAGORA_SQLITE_ENCRYPTION").unwrap_or_default();
        let on = match flag.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "no" | "off" => false,
            "1" | "true" | "yes" | "on" => true,
            _ => {
                return Err(Error::Config {
                    name: "ARAGORA_SQLITE_ENCRYPTION".into(),
                    value: flag,
                    expected: "1/true/yes/on or 0/false/no/off".into(),
                });
            }
        };
        if !on {
            return Ok(None);
        }
        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        if let Some(p) = nonempty("ARAGORA_SQLITE_KEY") {
            let p = zeroize::Zeroizing::new(p);
            return Ok(Some(Encryption::passphrase(&p, KdfParams::default())));
        }
        if let Some(k) = nonempty("ARAGORA_ENCRYPTION_KEY") {
            let k = zeroize::Zeroizing::new(k);
            return Ok(Some(Encryption::raw(Key::parse(
                "ARAGORA_ENCRYPTION_KEY",
                &k,
            )?)));
        }
        Err(Error::Config {
            name: "ARAGORA_SQLITE_ENCRYPTION".into(),
            value: flag,
            expected: "a key as well: set ARAGORA_SQLITE_KEY (passphrase) or ARAGORA_ENCRYPTION_KEY (32 bytes, hex or base64)".into(),
        })
    }
}

/// Opens (creating if needed) a redb database at `path`, encrypted when
/// `enc` is given. A plain file opened with a key, or an encrypted file
/// opened without one, is an [`Error::Encryption`]. Another process holding
/// the file gives [`Error::Locked`] with `waited` zero (the caller retries).
pub fn open_database(
    builder: &redb::Builder,
    path: &Path,
    enc: Option<&Encryption>,
) -> Result<redb::Database> {
    let map = |e: redb::DatabaseError| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked {
            path: path.to_path_buf(),
            waited: std::time::Duration::ZERO,
        },
        e => Error::storage(path, e),
    };
    let Some(enc) = enc else {
        if file_is_encrypted(path)? {
            return Err(no_key(path));
        }
        if let Some(what) = check::foreign(path)? {
            return Err(Error::layout(path, crate::error::Found::Foreign, what));
        }
        return builder.create(path).map_err(map);
    };
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    // A file created here is 0600 whatever the umask (R21).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let file = o.open(path).map_err(|e| Error::io("open", path, e))?;
    let fb = redb::backends::FileBackend::new(file).map_err(map)?;
    let backend = EncryptedBackend::open_or_create(fb, path, &enc.source, enc.params)?;
    builder.create_with_backend(backend).map_err(map)
}

/// The error for an encrypted file met without a configured key.
pub fn no_key(path: &Path) -> Error {
    Error::Encryption {
        path: path.to_path_buf(),
        what: "is encrypted: set ARAGORA_SQLITE_ENCRYPTION=1 and its key (ARAGORA_SQLITE_KEY or ARAGORA_ENCRYPTION_KEY)".into(),
    }
}

/// Opens an existing encrypted file's backend (never creates one), naming
/// it `name` in every message (a tool working on a private copy names the
/// original). Wrong key: [`Error::WrongKey`]; damage the open cannot get
/// past: [`Error::Authentication`]. The caller can run
/// [`EncryptedBackend::verify`] and then hand it to redb.
pub fn open_backend(
    path: &Path,
    name: &Path,
    key: &KeySource,
) -> Result<EncryptedBackend<redb::backends::FileBackend>> {
    let fb = file_backend(path)?;
    EncryptedBackend::open(fb, name, key)
}

/// [`open_backend`] for `salvage`: opens a file the normal open refuses,
/// reading what still authenticates (see [`EncryptedBackend::open_for_salvage`]).
pub fn open_backend_for_salvage(
    path: &Path,
    name: &Path,
    key: &KeySource,
) -> Result<EncryptedBackend<redb::backends::FileBackend>> {
    EncryptedBackend::open_for_salvage(file_backend(path)?, name, key)
}

/// An existing file opened read-write as a redb file backend.
fn file_backend(path: &Path) -> Result<redb::backends::FileBackend> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    redb::backends::FileBackend::new(file).map_err(|e| Error::storage(path, e))
}

/// A file's whole-file lock, held without opening the file through redb or
/// the encrypted backend (nothing is written): keeps every other open,
/// reader or writer, out while a tool copies the file. Released on drop.
pub struct FileLock {
    fb: redb::backends::FileBackend,
    locked: bool,
}

impl FileLock {
    /// Takes the lock, or [`Error::Locked`] (waited zero) when another
    /// handle holds any part of the file.
    pub fn take(path: &Path) -> Result<FileLock> {
        use redb::StorageBackend;
        use std::ops::Bound;
        let fb = file_backend(path)?;
        let locked = match fb.try_lock_range(Bound::Unbounded, Bound::Unbounded) {
            Ok(true) => true,
            Ok(false) => {
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                    waited: std::time::Duration::ZERO,
                });
            }
            Err(redb::BackendError::Unsupported) => false,
            Err(e) => return Err(Error::io("lock", path, e.into())),
        };
        Ok(FileLock { fb, locked })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use redb::StorageBackend;
        use std::ops::Bound;
        if self.locked {
            let _ = self.fb.unlock_range(Bound::Unbounded, Bound::Unbounded);
        }
    }
}
