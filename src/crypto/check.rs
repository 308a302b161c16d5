//! What a file is, found out read-only before `encrypt`, `decrypt` or
//! `rekey` writes anything.
//!
//! These commands rewrite a file in place, so a file that is not ours must
//! be refused, not converted: copied block by block as if it were a redb
//! image, a SQLite file "encrypts" without complaint and "decrypts" into an
//! empty redb file, and its data is gone. So a file is identified by its
//! content, never by its name:
//!
//! * a plain file must carry redb's magic; the conversions then check that
//!   it opens read-only with redb and holds this binary's `__layout` marker
//!   (`ops::encrypt`, which sits above the database layer that owns the
//!   marker);
//! * an encrypted file must carry our encryption magic, and its current key
//!   slot must unwrap with the key and a commit slot authenticate, again
//!   without a lock or a write.
//!
//! Anything else is an [`Error::Encryption`] naming the file and what it is
//! (empty, a SQLite database, no known header). The header bytes are
//! untrusted: every parser below takes any length and any content
//! (`fuzz/` target `crypto_header` feeds it arbitrary bytes).

use super::header::{MAGIC, is_encrypted_head};
use super::keys::KeySource;
use super::open::REDB_MAGIC;
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// What a file's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plain redb file (not yet checked to be ours: see `ops::encrypt::check_plain`).
    Plain,
    /// Our encrypted layout (key not yet checked: see [`key_opens`]).
    Encrypted,
}

/// Bytes of a file's head that [`kind_of_head`] looks at (the encryption
/// magic may be in the second key slot when the first is damaged).
pub const HEAD: usize = 2048 + 16;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What a file of `len` bytes starting with `head` (its first [`HEAD`]
/// bytes, or all of them if shorter) is; `Err` says what it is instead,
/// worded to follow the file's name.
pub fn kind_of_head(head: &[u8], len: u64) -> std::result::Result<Kind, &'static str> {
    if len == 0 {
        return Err("is empty, not an aragora-db database");
    }
    if head.starts_with(&REDB_MAGIC) {
        return Ok(Kind::Plain);
    }
    if is_encrypted_head(head) || head.get(2048..2064) == Some(&MAGIC[..]) {
        return Ok(Kind::Encrypted);
    }
    if head.starts_with(SQLITE_MAGIC) {
        return Err(
            "is a SQLite database, not an aragora-db file: import it with `aragora-db import`",
        );
    }
    Err("is not an aragora-db database (no redb header and no aragora-db encryption header)")
}

/// The first [`HEAD`] bytes of an open file (all of it if shorter).
fn read_head(f: &mut std::fs::File, path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD);
    f.take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(head)
}

/// [`kind_of_head`] of the file at `path`.
pub fn kind(path: &Path) -> Result<Kind> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let md = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !md.is_file() {
        return Err(Error::Encryption {
            path: path.to_path_buf(),
            what: "is not a regular file".into(),
        });
    }
    let head = read_head(&mut f, path)?;
    kind_of_head(&head, md.len()).map_err(|what| Error::Encryption {
        path: path.to_path_buf(),
        what: what.into(),
    })
}

/// `Some(what it is)` when the file at `path` is a SQLite database (a
/// legacy file where a store was expected): opening it would only get
/// redb's "magic number mismatch". Other bytes without redb's header are
/// not called foreign: they may be a store whose header was damaged,
/// which `salvage` reads page by page. `None` for anything else.
pub fn foreign(path: &Path) -> Result<Option<&'static str>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let md = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !md.is_file() || md.len() == 0 {
        return Ok(None);
    }
    let head = read_head(&mut f, path)?;
    if !head.starts_with(SQLITE_MAGIC) {
        return Ok(None);
    }
    Ok(kind_of_head(&head, md.len()).err())
}

/// Whether `key` opens the encrypted file at `path` (read-only, no lock:
/// see `open::key_opens`). `Ok(false)`: it is under another key.
pub fn key_opens(path: &Path, key: &KeySource) -> Result<bool> {
    // Opened for reading only: a write through the backend would fail.
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let fb = redb::backends::FileBackend::new(file).map_err(|e| Error::storage(path, e))?;
    super::open::key_opens(&fb, path, key)
}

/// Fuzzing entry point (`fuzzing::crypto_header`): `data` as the head of a
/// file. Classifies it, runs the read-only key check with `key` over it as
/// a whole file image, and decodes it as a key slot, as a commit slot of
/// either position and as trailers, each on the input as it is (any length).
#[doc(hidden)]
#[cfg(any(test, feature = "testing"))]
pub fn fuzz_header(data: &[u8], key: &super::Key) {
    use super::header::{FileKeys, KeySlot, commit_len};
    use super::layout::{TRAILER, Trailer};
    let _ = kind_of_head(&data[..data.len().min(HEAD)], data.len() as u64);
    let source = KeySource::Raw(super::Key::from_bytes(*key.bytes()));
    let mem = crate::storage::fault::memory_backend(data);
    let _ = super::open::key_opens(&mem, Path::new("fuzz"), &source);
    if let Ok(slot) = KeySlot::decode(data) {
        let _ = slot.open(&source);
        let _ = slot.encode();
    }
    let _ = commit_len(data);
    let keys = FileKeys::new(
        key,
        data.get(28..44).map_or([0; 16], |b| {
            let mut id = [0u8; 16];
            id.copy_from_slice(b);
            id
        }),
    );
    for slot in 0..2 {
        let _ = keys.open_commit(slot, data);
    }
    let _ = Trailer::decode(data);
    for t in data.chunks(TRAILER) {
        let _ = Trailer::decode(t);
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::{COMMIT_SLOTS, DATA_START, KEY_SLOT_LEN, commit_len};
    use super::super::layout::Trailer;
    use super::super::{EncryptedBackend, KdfParams, Key, KeySource};
    use super::REDB_MAGIC;
    use redb::StorageBackend;
    use redb::backends::InMemoryBackend;
    use std::path::Path;

    /// The header (first `DATA_START` bytes) of an encrypted file under
    /// the fuzz key whose redb header block is `block0`.
    fn header_image(block0: &[u8]) -> Vec<u8> {
        let key = KeySource::Raw(Key::from_bytes(crate::crypto::FUZZ_KEY));
        let enc = EncryptedBackend::open_or_create(
            InMemoryBackend::new(),
            Path::new("seed"),
            &key,
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        enc.write(0, block0).unwrap();
        enc.sync_data().unwrap();
        let mut img = vec![0u8; DATA_START as usize];
        enc.inner.read(0, &mut img).unwrap();
        img
    }

    fn redb_header(fill: u8, used: usize) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..used].fill(fill);
        b[..9].copy_from_slice(&REDB_MAGIC);
        b
    }

    #[test]
    fn key_opens_checks_the_key_slot_and_a_commit_slot_without_writing() {
        let img = header_image(&redb_header(0x11, 320));
        let mem = crate::storage::fault::memory_backend(&img);
        let name = Path::new("h");
        let fuzz = KeySource::Raw(Key::from_bytes(crate::crypto::FUZZ_KEY));
        let other = KeySource::Raw(Key::from_bytes([1; 32]));
        assert!(super::super::open::key_opens(&mem, name, &fuzz).unwrap());
        assert!(!super::super::open::key_opens(&mem, name, &other).unwrap());
        // Both commit slots damaged: the key opens the slot, but no commit.
        let mut bad = img.clone();
        for o in COMMIT_SLOTS {
            bad[o as usize + 40] ^= 1;
        }
        let mem2 = crate::storage::fault::memory_backend(&bad);
        let e = super::super::open::key_opens(&mem2, name, &fuzz).unwrap_err();
        assert!(e.to_string().contains("no valid commit slot"), "{e}");
        let mut after = vec![0u8; img.len()];
        mem.read(0, &mut after).unwrap();
        assert_eq!(after, img, "the check wrote to the file");
        use super::{Kind, kind_of_head};
        assert_eq!(kind_of_head(&img, img.len() as u64), Ok(Kind::Encrypted));
        let mut b_only = img.clone();
        b_only[..16].fill(0);
        assert_eq!(
            kind_of_head(&b_only[..super::HEAD], 20480),
            Ok(Kind::Encrypted)
        );
        assert_eq!(kind_of_head(&REDB_MAGIC, 9), Ok(Kind::Plain));
        assert!(kind_of_head(b"", 0).unwrap_err().contains("is empty"));
        assert!(
            kind_of_head(b"SQLite format 3\0", 4096)
                .unwrap_err()
                .contains("SQLite")
        );
        assert!(
            kind_of_head(b"hello", 5)
                .unwrap_err()
                .contains("no redb header")
        );
    }

    /// Regenerates the `crypto_header` fuzz seeds and its regression:
    /// `cargo test --lib write_crypto_header_seeds -- --ignored`.
    #[test]
    #[ignore = "writes fuzz/corpus/crypto_header"]
    fn write_crypto_header_seeds() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let seeds = root.join("corpus/crypto_header");
        std::fs::create_dir_all(&seeds).unwrap();
        let seed =
            |name: &str, b: &[u8]| std::fs::write(seeds.join(format!("seed-{name}")), b).unwrap();
        let img = header_image(&redb_header(0x11, 320));
        seed("header", &img);
        seed("key-slot", &img[..KEY_SLOT_LEN]);
        let o = COMMIT_SLOTS[0] as usize;
        seed("commit-slot", &img[o..o + commit_len(&img[o..]).unwrap()]);
        let mut b_only = img.clone();
        b_only[..KEY_SLOT_LEN].fill(0);
        seed("second-key-slot-only", &b_only);
        seed("truncated-header", &img[..4096 + 512]);
        let mut trailers = Vec::new();
        for flags in [1u8, 2, 0] {
            let t = Trailer {
                flags,
                epoch: 3,
                nonce: if flags == 1 { [7; 12] } else { [0; 12] },
                tag: if flags == 1 { [9; 16] } else { [0; 16] },
                prev: [5; 16],
            };
            trailers.extend_from_slice(&t.encoded());
        }
        seed("trailers", &trailers);
        let mut sqlite = b"SQLite format 3\0".to_vec();
        sqlite.extend_from_slice(&[16, 0, 1, 1, 0, 64, 32, 32]);
        sqlite.resize(100, 0);
        seed("sqlite", &sqlite);
        seed("redb", &redb_header(0, 512)[..512]);
        // A header block used to its last byte: a 4,224-byte commit slot
        // (readers once read 4,220 bytes and panicked).
        let regressions = root.join("regressions/crypto_header");
        std::fs::create_dir_all(&regressions).unwrap();
        std::fs::write(
            regressions.join("full-header-block"),
            header_image(&redb_header(0xA5, 4096)),
        )
        .unwrap();
    }
}
