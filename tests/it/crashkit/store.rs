//! Where the workload runs: a [`FaultBackend`], plain or under the
//! encrypted backend (`EncryptedBackend<FaultBackend>`), and the key
//! rotation of the encrypted file.

use super::opts;
use aragora_db::crypto::{EncryptedBackend, KdfParams, Key, KeySource, rekey_backend};
use aragora_db::storage::fault::{FaultBackend, OpMask};
use aragora_db::table::TableDef;
use aragora_db::{Database, Result};
use redb::backends::InMemoryBackend;
use std::cell::{Cell, RefCell};
use std::path::Path;

/// The name the file goes by in errors (and in the encrypted header's checks).
pub const NAME: &str = "crash.redb";

/// Raw key number `i`: key 0 creates an encrypted file, rotation `i` moves
/// it from key `i - 1` to key `i`.
pub fn key(i: usize) -> KeySource {
    KeySource::Raw(Key::from_bytes(std::array::from_fn(|b| {
        (i as u8).wrapping_mul(37).wrapping_add(b as u8)
    })))
}

/// Argon2id parameters for new files and rotations (unused by raw keys).
pub fn params() -> KdfParams {
    KdfParams::insecure_for_tests()
}

/// A fault backend the workload runs on; clones of `fault` share its state.
pub struct Store {
    pub fault: FaultBackend,
    encrypted: bool,
    /// Rotations completed: the file is under `key(rotated)`.
    rotated: Cell<usize>,
    /// Operation counts (`OpMask::ALL`) before and after each rotation.
    spans: RefCell<Vec<(u64, u64)>>,
    /// A rotation that returned an error (an injected I/O failure): from
    /// this key to the next, either may open the file.
    failed: Cell<Option<usize>>,
}

impl Store {
    /// An empty in-memory store, plain or encrypted.
    pub fn new(encrypted: bool) -> Store {
        Store {
            fault: FaultBackend::new(InMemoryBackend::new()).expect("in-memory backend"),
            encrypted,
            rotated: Cell::new(0),
            spans: RefCell::new(Vec::new()),
            failed: Cell::new(None),
        }
    }

    /// Opens the database with a table set (creating the file if empty).
    pub fn open(&self, tables: Vec<&'static TableDef>) -> Result<Database> {
        if !self.encrypted {
            return Database::open_backend(NAME, self.fault.clone(), tables, &opts());
        }
        let enc = EncryptedBackend::open_or_create(
            self.fault.clone(),
            Path::new(NAME),
            &key(self.rotated.get()),
            params(),
        )?;
        Database::open_backend(NAME, enc, tables, &opts())
    }

    /// Rotates the key of the closed file through the public rekey API
    /// (`rekey_backend`, as `aragora-db rekey` does) and records the
    /// operations it took. A plain store has no key: `Ok(false)`.
    pub fn rotate(&self) -> Result<bool> {
        if !self.encrypted {
            return Ok(false);
        }
        let start = self.fault.op_count(OpMask::ALL);
        let k = self.rotated.get();
        if let Err(e) = rekey_backend(&self.fault, Path::new(NAME), &key(k), &key(k + 1), params())
        {
            self.failed.set(Some(k));
            return Err(e);
        }
        self.rotated.set(k + 1);
        let end = self.fault.op_count(OpMask::ALL);
        self.spans.borrow_mut().push((start, end));
        Ok(true)
    }

    /// The keys that may open the file as the run left it (for runs with
    /// injected I/O failures, which stop at the first error).
    pub fn keys_now(&self) -> Keys {
        match (self.encrypted, self.failed.get()) {
            (false, _) => Keys::Plain,
            (true, Some(k)) => Keys::OneOf(k),
            (true, None) => Keys::Only(self.rotated.get()),
        }
    }

    /// `(first operation, operation count at return)` of each rotation.
    pub fn rotations(&self) -> Vec<(u64, u64)> {
        self.spans.borrow().clone()
    }
}

/// Which keys may open a crash image taken just before operation `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// A plain file.
    Plain,
    /// Exactly this key; the keys before and after it give `WrongKey`.
    Only(usize),
    /// A crash during the rotation from key `k` to key `k + 1`: exactly one
    /// of the two opens, the other gives `WrongKey`.
    OneOf(usize),
}

impl Keys {
    /// The keys for a crash before operation `at` of a run with `rotations`.
    pub fn at(encrypted: bool, rotations: &[(u64, u64)], at: u64) -> Keys {
        if !encrypted {
            return Keys::Plain;
        }
        let done = rotations.iter().filter(|r| r.1 <= at).count();
        if rotations.iter().any(|r| r.0 < at && at < r.1) {
            Keys::OneOf(done)
        } else {
            Keys::Only(done)
        }
    }
}
