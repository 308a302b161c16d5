//! A fault-injecting [`StorageBackend`] that wraps any other backend.
//!
//! [`FaultBackend`] passes every operation through to its inner backend and
//! can do two things on top:
//!
//! - **fail at I/O operation N**, once or from then on ([`FaultBackend::fail_at`]),
//!   counting only the operation kinds selected by an [`OpMask`];
//! - **build crash images** ([`FaultBackend::crash_image`]): the state as of the last
//!   `sync_data`, plus a seeded random subset of the writes issued since,
//!   some of them torn (only a prefix of their sectors reached the disk).
//!
//! With [`FaultBackend::record`] it also keeps a journal of every mutating
//! operation, from which [`Replay`] rebuilds a crash image at *any* earlier
//! operation index, so one run of a workload yields thousands of crash points.
//!
//! The handle is cheap to clone and every clone shares the same state: give
//! one clone to redb and keep another to steer and inspect it.
//!
//! Compiled only with the feature `testing` (and in the crate's own unit
//! tests), which the integration tests, benches and `fuzz/` turn on: the
//! shipped library has no fault injector.
//!
//! ```
//! use aragora_db::storage::fault::{CrashOptions, FailMode, FaultBackend, OpMask};
//! use redb::{backends::InMemoryBackend, TableDefinition};
//! const T: TableDefinition<u64, u64> = TableDefinition::new("t");
//!
//! let fault = FaultBackend::new(InMemoryBackend::new())?;
//! let db = redb::Database::builder().create_with_backend(fault.clone())?;
//! let txn = db.begin_write()?;
//! txn.open_table(T)?.insert(1, 10)?;
//! txn.commit()?;
//!
//! // Every write from now on fails: the next commit reports an error.
//! fault.fail_at(fault.op_count(OpMask::WRITES), FailMode::FromThenOn, OpMask::WRITES);
//! let txn = db.begin_write()?;
//! txn.open_table(T)?.insert(2, 20)?;
//! assert!(txn.commit().is_err());
//!
//! // A crash image still holds the committed row.
//! let image = fault.crash_image(7, &CrashOptions::default());
//! drop(db);
//! let db = redb::Database::builder().create_with_backend(FaultBackend::from_image(&image))?;
//! let read = redb::ReadableDatabase::begin_read(&db)?;
//! assert_eq!(read.open_table(T)?.get(1)?.unwrap().value(), 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use parking_lot::Mutex;
use redb::StorageBackend;
use redb::backends::InMemoryBackend;
use std::io;
use std::sync::Arc;

pub use super::image::{CrashOptions, JournalEntry, JournalOp, Replay, SplitMix};
use super::image::{apply, build_image};

/// The kinds of backend operation, as a bit set (combine with `|`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpMask(u8);

impl OpMask {
    /// `len`.
    pub const LEN: OpMask = OpMask(1);
    /// `read`.
    pub const READ: OpMask = OpMask(2);
    /// `write`.
    pub const WRITE: OpMask = OpMask(4);
    /// `set_len`.
    pub const SET_LEN: OpMask = OpMask(8);
    /// `sync_data`.
    pub const SYNC: OpMask = OpMask(16);
    /// Everything that changes or persists the storage: write, set_len, sync_data.
    pub const WRITES: OpMask = OpMask(4 | 8 | 16);
    /// Every operation.
    pub const ALL: OpMask = OpMask(31);

    /// Whether any kind in `other` is in `self`.
    pub fn contains(self, other: OpMask) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for OpMask {
    type Output = OpMask;
    fn bitor(self, rhs: OpMask) -> OpMask {
        OpMask(self.0 | rhs.0)
    }
}

/// Whether an injected failure happens once or persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Only operation N fails; later ones succeed.
    Once,
    /// Operation N and every later counted operation fail (a dead disk).
    FromThenOn,
}

#[derive(Debug, Default)]
struct State {
    counts: [u64; 5],
    total: u64,
    fail: Option<(u64, FailMode, OpMask)>,
    failures: u64,
    synced: Vec<u8>,
    pending: Vec<JournalOp>,
    syncs: u64,
    record: bool,
    journal: Vec<JournalEntry>,
    base: Vec<u8>,
}

struct Shared<B> {
    inner: B,
    state: Mutex<State>,
}

/// A [`StorageBackend`] wrapper that injects failures and builds crash images.
/// Clones share one state.
pub struct FaultBackend<B: StorageBackend = InMemoryBackend> {
    shared: Arc<Shared<B>>,
}

impl<B: StorageBackend> Clone for FaultBackend<B> {
    fn clone(&self) -> Self {
        FaultBackend {
            shared: self.shared.clone(),
        }
    }
}

impl<B: StorageBackend> std::fmt::Debug for FaultBackend<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.shared.state.lock();
        f.debug_struct("FaultBackend")
            .field("inner", &self.shared.inner)
            .field("ops", &s.total)
            .field("syncs", &s.syncs)
            .field("unsynced", &s.pending.len())
            .field("fail", &s.fail)
            .finish()
    }
}

impl FaultBackend<InMemoryBackend> {
    /// A fault backend over an in-memory backend holding `image` (e.g. a crash image).
    pub fn from_image(image: &[u8]) -> Self {
        FaultBackend {
            shared: Arc::new(Shared {
                inner: memory_backend(image),
                state: Mutex::new(State {
                    base: image.to_vec(),
                    synced: image.to_vec(),
                    ..State::default()
                }),
            }),
        }
    }
}

/// An [`InMemoryBackend`] holding `image`.
pub fn memory_backend(image: &[u8]) -> InMemoryBackend {
    let mem = InMemoryBackend::new();
    // Resizing and writing a fresh in-memory backend within its length cannot fail.
    let _ = mem.set_len(image.len() as u64);
    let _ = mem.write(0, image);
    mem
}

fn kind_index(kind: OpMask) -> usize {
    kind.0.trailing_zeros() as usize
}

fn injected(op: u64, kind: OpMask) -> io::Error {
    let name = ["len", "read", "write", "set_len", "sync_data"][kind_index(kind)];
    io::Error::other(format!("injected fault at {name} (operation {op})"))
}

impl<B: StorageBackend> FaultBackend<B> {
    /// Wraps `inner`. Its current content counts as synced (read once, here).
    pub fn new(inner: B) -> io::Result<Self> {
        let len = inner.len()?;
        let mut synced = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        if len > 0 {
            inner.read(0, &mut synced)?;
        }
        Ok(FaultBackend {
            shared: Arc::new(Shared {
                inner,
                state: Mutex::new(State {
                    base: synced.clone(),
                    synced,
                    ..State::default()
                }),
            }),
        })
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.shared.inner
    }

    /// Makes the `n`th operation (0-based) among the kinds in `ops` fail, once
    /// or from then on. Replaces any earlier plan. Counting is over the whole
    /// life of the backend, so pass `op_count(ops) + k` to fail `k` operations from now.
    pub fn fail_at(&self, n: u64, mode: FailMode, ops: OpMask) {
        self.shared.state.lock().fail = Some((n, mode, ops));
    }

    /// Cancels any planned failure.
    pub fn heal(&self) {
        self.shared.state.lock().fail = None;
    }

    /// How many operations of the kinds in `ops` have been issued so far
    /// (failed ones included).
    pub fn op_count(&self, ops: OpMask) -> u64 {
        let s = self.shared.state.lock();
        (0..5)
            .filter(|i| ops.contains(OpMask(1 << i)))
            .map(|i| s.counts[i])
            .sum()
    }

    /// How many operations failed by injection.
    pub fn failures(&self) -> u64 {
        self.shared.state.lock().failures
    }

    /// How many `sync_data` calls succeeded.
    pub fn syncs(&self) -> u64 {
        self.shared.state.lock().syncs
    }

    /// How many writes and `set_len`s were issued since the last successful sync.
    pub fn unsynced_ops(&self) -> usize {
        self.shared.state.lock().pending.len()
    }

    /// The content as of the last successful `sync_data`.
    pub fn synced_image(&self) -> Vec<u8> {
        self.shared.state.lock().synced.clone()
    }

    /// Starts (or stops) journaling every mutating operation for [`Replay`].
    /// The journal starts from the current synced state.
    pub fn record(&self, on: bool) {
        let mut s = self.shared.state.lock();
        s.record = on;
        s.journal.clear();
        s.base = s.synced.clone();
        let pending = s.pending.clone();
        let total = s.total;
        s.journal.extend(
            pending
                .into_iter()
                .map(|kind| JournalEntry { op: total, kind }),
        );
    }

    /// The journal so far, with the synced state it starts from.
    pub fn replay(&self) -> Replay {
        let s = self.shared.state.lock();
        Replay::new(s.base.clone(), s.journal.clone())
    }

    /// A crash image of the current moment: the synced state plus a random
    /// subset (seeded) of the unsynced writes, some torn.
    pub fn crash_image(&self, seed: u64, opts: &CrashOptions) -> Vec<u8> {
        let s = self.shared.state.lock();
        build_image(&s.synced, &s.pending, seed, opts)
    }

    /// Counts an operation and decides whether it fails.
    fn enter(&self, s: &mut State, kind: OpMask) -> io::Result<()> {
        let i = kind_index(kind);
        let n = s.counts[i];
        let index_in_mask = |mask: OpMask| -> u64 {
            (0..5)
                .filter(|j| mask.contains(OpMask(1 << j)))
                .map(|j| s.counts[j])
                .sum()
        };
        let fail = match s.fail {
            Some((at, mode, mask)) if mask.contains(kind) => {
                let idx = index_in_mask(mask);
                match mode {
                    FailMode::Once => idx == at,
                    FailMode::FromThenOn => idx >= at,
                }
            }
            _ => false,
        };
        let total = s.total;
        s.counts[i] = n + 1;
        s.total += 1;
        if fail {
            s.failures += 1;
            return Err(injected(total, kind));
        }
        Ok(())
    }

    fn log(s: &mut State, op: u64, kind: JournalOp) {
        if s.record {
            s.journal.push(JournalEntry {
                op,
                kind: kind.clone(),
            });
        }
        match kind {
            JournalOp::Sync => {
                let pending = std::mem::take(&mut s.pending);
                for p in &pending {
                    apply(&mut s.synced, p, usize::MAX);
                }
            }
            other => s.pending.push(other),
        }
    }
}

impl<B: StorageBackend> StorageBackend for FaultBackend<B> {
    fn len(&self) -> Result<u64, io::Error> {
        self.enter(&mut self.shared.state.lock(), OpMask::LEN)?;
        self.shared.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.enter(&mut self.shared.state.lock(), OpMask::READ)?;
        self.shared.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut s = self.shared.state.lock();
        self.enter(&mut s, OpMask::SET_LEN)?;
        self.shared.inner.set_len(len)?;
        let op = s.total - 1;
        Self::log(&mut s, op, JournalOp::SetLen(len));
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut s = self.shared.state.lock();
        self.enter(&mut s, OpMask::SYNC)?;
        self.shared.inner.sync_data()?;
        s.syncs += 1;
        let op = s.total - 1;
        Self::log(&mut s, op, JournalOp::Sync);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut s = self.shared.state.lock();
        self.enter(&mut s, OpMask::WRITE)?;
        self.shared.inner.write(offset, data)?;
        let op = s.total - 1;
        Self::log(
            &mut s,
            op,
            JournalOp::Write {
                offset,
                data: data.to_vec(),
            },
        );
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        self.shared.inner.close()
    }
}
