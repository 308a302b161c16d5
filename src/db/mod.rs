//! Open databases: one handle per file per process (the documented
//! `DatabaseManager`), shared by all threads.
//!
//! A [`Database`] wraps a redb file and knows which declared tables live in
//! it. Writes go through [`Database::write`], which runs a closure in one
//! redb write transaction and commits only if the closure succeeds, so a
//! failed operation leaves nothing behind. Reads take an MVCC snapshot with
//! [`Database::read`]; any number of readers run beside the one writer.

pub mod fingerprint;
pub mod inherited;
pub mod meta;
pub mod pg;
pub(crate) mod readonly;
pub mod slow;
pub mod upgrade;

pub use readonly::NEEDS_RECOVERY;

use crate::config::{Config, DbTarget};
use crate::error::{Error, Result};
use crate::table::embedded::read::Snapshot;
use crate::table::set::Child;
use crate::table::{Reader, TableDef, TableSet, Writer};
use parking_lot::Mutex;
use redb::ReadableDatabase;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

pub use redb::Durability;
pub use upgrade::Migrations;

/// Options for opening a database file directly.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long to wait while another process holds the file.
    pub timeout: Duration,
    /// Slow-operation threshold.
    pub slow_threshold: Duration,
    /// redb cache size in bytes.
    pub cache_size: usize,
    /// Encryption at rest, if on.
    pub encryption: Option<crate::crypto::Encryption>,
    /// What an open does with tables whose schema version is behind this
    /// binary's declaration (see [`upgrade`]): by default it runs the
    /// registered steps.
    pub migrations: Migrations,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            timeout: Duration::from_secs(30),
            slow_threshold: Duration::from_millis(500),
            cache_size: 256 << 20,
            encryption: None,
            migrations: Migrations::default(),
        }
    }
}

impl From<&Config> for OpenOptions {
    fn from(c: &Config) -> Self {
        OpenOptions {
            timeout: c.timeout,
            slow_threshold: c.slow_threshold,
            cache_size: c.cache_size,
            encryption: c.encryption.clone(),
            migrations: Migrations::default(),
        }
    }
}

pub(crate) struct Inner {
    /// The read snapshot [`Database::read`] hands out until the next
    /// commit (embedded store). Declared first: dropped before the engine.
    pub(crate) snapshots: Arc<Snapshots>,
    pub(crate) engine: Engine,
    /// The file (or server) and its declared tables (what `ON DELETE` reaches).
    pub(crate) set: Arc<TableSet>,
    pub(crate) slow_threshold: Duration,
    /// What a read-only open noticed (see [`Database::notes`]).
    pub(crate) notes: Vec<String>,
}

/// Where the tables live.
pub(crate) enum Engine {
    /// An embedded redb file.
    Redb(redb::Database),
    /// A PostgreSQL database.
    Postgres(pg::PgEngine),
}

impl Inner {
    /// The redb database, for what only the embedded store has. Write
    /// transactions begin through [`Inner::begin_write`] instead, whose
    /// commit tells [`Database::read`] that its shared snapshot is stale.
    pub(crate) fn redb(&self) -> Result<&redb::Database> {
        match &self.engine {
            Engine::Redb(db) => Ok(db),
            Engine::Postgres(_) => Err(Error::InvalidArgument(format!(
                "{}: this operation needs an embedded (redb) database, not PostgreSQL",
                self.set.origin().display()
            ))),
        }
    }

    /// Begins a redb write transaction; commit it with [`WriteTxn::commit`].
    pub(crate) fn begin_write(&self) -> Result<WriteTxn> {
        let txn = self
            .redb()?
            .begin_write()
            .map_err(|e| Error::storage(self.set.origin(), e))?;
        Ok(WriteTxn {
            txn,
            snapshots: Arc::clone(&self.snapshots),
        })
    }

    fn new(
        db: redb::Database,
        path: PathBuf,
        tables: Vec<&'static TableDef>,
        opts: &OpenOptions,
    ) -> Inner {
        Inner {
            snapshots: Arc::default(),
            engine: Engine::Redb(db),
            set: Arc::new(TableSet::new(path, tables)),
            slow_threshold: opts.slow_threshold,
            notes: Vec::new(),
        }
    }
}

/// The snapshot [`Database::read`] shares between reads that begin while
/// nothing has been committed since it was taken.
///
/// A read snapshot must see every commit made before it begins. Each
/// commit (through [`WriteTxn::commit`], the only way this crate commits
/// to a file it has open, and redb locks the file against other
/// processes) bumps `generation` before and after it, so the generation
/// is odd while a commit is under way and changes with every commit. A
/// snapshot taken with the generation even and unchanged from before
/// `begin_read` to after it has every commit up to that generation; while
/// the generation stays the same it is still the newest state and a new
/// read may share it. Each commit drops the shared one, so it keeps no
/// old pages alive beyond what a reader in flight holds.
#[derive(Default)]
pub(crate) struct Snapshots {
    generation: AtomicU64,
    current: Mutex<Option<(u64, Arc<Snapshot>)>>,
}

impl Snapshots {
    /// The shared snapshot, if it is still the newest state.
    fn current(&self, generation: u64) -> Option<Arc<Snapshot>> {
        if generation & 1 != 0 {
            return None;
        }
        match &*self.current.lock() {
            Some((g, s)) if *g == generation => Some(Arc::clone(s)),
            _ => None,
        }
    }

    /// Shares `snap`, begun after `generation` was read, if no commit has
    /// started since.
    fn offer(&self, generation: u64, snap: &Arc<Snapshot>) {
        if generation & 1 != 0 {
            return;
        }
        let mut current = self.current.lock();
        if self.generation.load(Ordering::SeqCst) == generation {
            *current = Some((generation, Arc::clone(snap)));
        }
    }

    /// Runs a commit, marking the shared snapshot stale around it.
    fn commit<T>(&self, commit: impl FnOnce() -> T) -> T {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let out = commit();
        self.generation.fetch_add(1, Ordering::SeqCst);
        // Dropped outside the lock (a snapshot's drop ends a redb read).
        let stale = self.current.lock().take();
        drop(stale);
        out
    }
}

/// A redb write transaction on an open [`Database`]'s file. It derefs to
/// redb's, but commits only through [`WriteTxn::commit`], so that no read
/// begun after the commit is served an older shared snapshot.
pub struct WriteTxn {
    txn: redb::WriteTransaction,
    snapshots: Arc<Snapshots>,
}

impl WriteTxn {
    /// Commits, marking the snapshot [`Database::read`] shares as stale.
    pub fn commit(self) -> std::result::Result<(), redb::CommitError> {
        let WriteTxn { txn, snapshots } = self;
        snapshots.commit(|| txn.commit())
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = redb::WriteTransaction;
    fn deref(&self) -> &redb::WriteTransaction {
        &self.txn
    }
}

impl std::ops::DerefMut for WriteTxn {
    fn deref_mut(&mut self) -> &mut redb::WriteTransaction {
        &mut self.txn
    }
}

/// A shared handle to one open database file.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
    /// Refuses writes (see [`Database::open_read_only`]).
    read_only: bool,
    /// Where this handle's stores read the time: the opening
    /// configuration's clock (handles of one file share the file, not
    /// the clock).
    clock: crate::time::Clock,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.inner.set.origin())
            .field("tables", &self.inner.set.tables().len())
            .field("read_only", &self.read_only)
            .finish()
    }
}

static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How many times [`Database::write_retrying`] runs a transaction at most.
pub const WRITE_ATTEMPTS: u32 = 5;

impl Database {
    /// Opens (creating if needed) the file that holds `target` in the
    /// configured mode, with every table that lives in that file.
    pub fn open(config: &Config, target: DbTarget) -> Result<Database> {
        if let Some(db) = pg::open_configured(config, target)? {
            return Ok(db.with_clock(config.clock.clone()));
        }
        let file = config.get_db_path(target)?;
        let tables = crate::schema::tables_in_file(config, &file.path)?;
        Ok(
            Self::open_path(&file.path, tables, &OpenOptions::from(config))?
                .with_clock(config.clock.clone()),
        )
    }

    /// Opens the database that holds `target` read-only: on PostgreSQL
    /// without creating anything (the schema must be there, see
    /// [`pg::open_configured_read_only`]), else the file read-only
    /// ([`Database::open_read_only`]; it must exist).
    pub fn open_target_read_only(config: &Config, target: DbTarget) -> Result<Database> {
        if let Some(db) = pg::open_configured_read_only(config, target)? {
            return Ok(db.with_clock(config.clock.clone()));
        }
        let file = config.get_db_path(target)?;
        let tables = crate::schema::tables_in_file(config, &file.path)?;
        Ok(
            Self::open_read_only(&file.path, tables, &OpenOptions::from(config))?
                .with_clock(config.clock.clone()),
        )
    }

    /// Opens a file with an explicit table set. A second open of the same
    /// file in this process returns the same handle (its table set must match).
    pub fn open_path(
        path: &Path,
        tables: Vec<&'static TableDef>,
        opts: &OpenOptions,
    ) -> Result<Database> {
        let key = registry_key(path)?;
        let mut open = OPEN.lock();
        if let Some(inner) = open.get(&key).and_then(Weak::upgrade) {
            let same = inner.set.tables().len() == tables.len()
                && inner
                    .set
                    .tables()
                    .iter()
                    .zip(&tables)
                    .all(|(a, b)| a.name == b.name);
            if !same {
                return Err(Error::Busy(format!(
                    "{} is already open in this process with a different set of tables",
                    path.display()
                )));
            }
            // That handle may have been opened leaving pending steps.
            upgrade::run_pending(&inner, &opts.migrations, upgrade::Mode::Write)?;
            return Ok(Database {
                inner,
                read_only: false,
                clock: crate::time::Clock::system(),
            });
        }
        readonly::refuse_if_read_only_here(&key)?;
        open.retain(|_, w| w.strong_count() > 0);
        if !key.exists() {
            create_new(&key, &tables, opts)?;
        }
        let db = open_with_timeout(&key, opts)?;
        crate::fsutil::remove_stale_creating(&key);
        let inner = Arc::new(Inner::new(db, key.clone(), tables, opts));
        meta::ensure_tables(&inner)?;
        upgrade::run_pending(&inner, &opts.migrations, upgrade::Mode::Write)?;
        tracing::info!(path = %key.display(), tables = inner.set.tables().len(), "opened read-write");
        open.insert(key, Arc::downgrade(&inner));
        Ok(Database {
            inner,
            read_only: false,
            clock: crate::time::Clock::system(),
        })
    }

    /// Opens a database on a custom redb storage backend (e.g. the crash
    /// tests' fault injector, `storage::fault`). `name` stands in for the file
    /// path in errors. The handle is not in the per-process registry: every
    /// call opens a new database.
    pub fn open_backend(
        name: &str,
        backend: impl redb::StorageBackend,
        tables: Vec<&'static TableDef>,
        opts: &OpenOptions,
    ) -> Result<Database> {
        let path = PathBuf::from(name);
        let mut builder = redb::Builder::new();
        builder.set_cache_size(opts.cache_size);
        let db = builder
            .create_with_backend(backend)
            .map_err(|e| Error::storage(&path, e))?;
        let inner = Arc::new(Inner::new(db, path, tables, opts));
        meta::ensure_tables(&inner)?;
        upgrade::run_pending(&inner, &opts.migrations, upgrade::Mode::Write)?;
        Ok(Database {
            inner,
            read_only: false,
            clock: crate::time::Clock::system(),
        })
    }

    /// Whether two handles share one open file (the registry guarantees one
    /// handle per file per process).
    pub fn same_handle(&self, other: &Database) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.inner.set.origin()
    }

    /// The file and its declared tables.
    pub(crate) fn set(&self) -> &TableSet {
        self.inner.set.as_ref()
    }

    /// The declared tables in this file.
    pub fn tables(&self) -> &[&'static TableDef] {
        self.inner.set.tables()
    }

    /// The foreign keys of this file's tables that reference `parent`.
    pub fn referencing(&self, parent: &TableDef) -> &[Child] {
        self.inner.set.referencing(parent)
    }

    /// This handle reading the time from `clock`.
    pub fn with_clock(mut self, clock: crate::time::Clock) -> Database {
        self.clock = clock;
        self
    }

    /// Where this handle reads the time.
    pub fn clock(&self) -> &crate::time::Clock {
        &self.clock
    }

    /// Now, in UTC ([`Clock::now`](crate::time::Clock::now)).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Now, as Unix epoch seconds ([`Clock::epoch`](crate::time::Clock::epoch)).
    pub fn now_epoch(&self) -> f64 {
        self.clock.epoch()
    }

    /// Now, as ISO text ([`Clock::iso`](crate::time::Clock::iso)).
    pub fn now_iso(&self) -> String {
        self.clock.iso()
    }

    /// Now, as local wall-clock time ([`Clock::local`](crate::time::Clock::local)).
    pub fn now_local(&self) -> chrono::NaiveDateTime {
        self.clock.local()
    }

    /// The slow-operation threshold.
    pub fn slow_threshold(&self) -> Duration {
        self.inner.slow_threshold
    }

    /// Starts timing an operation for the slow log. Stores do not call
    /// this: [`Database::op`], [`Database::read_op`] and
    /// [`Database::write_op`] time a whole operation.
    pub fn timed<'a, F: FnOnce() -> String>(&self, op: &'a str, ctx: F) -> slow::SlowGuard<'a, F> {
        slow::SlowGuard::new(op, self.inner.slow_threshold, ctx)
    }

    /// Runs one named store operation, timed as a whole for the slow log
    /// (`op` is the original's operation name; `ctx`, built only if the
    /// operation was slow, says which rows it concerned). For an operation
    /// that reads and then writes, or calls other operations' helpers;
    /// one that only reads or only writes uses [`Database::read_op`] or
    /// [`Database::write_op`].
    ///
    /// An operation run inside another on the same thread (a store
    /// operation built on another) is part of the outer one: only the
    /// outer one is timed, so a slow operation is logged once, under the
    /// name the caller used.
    pub fn op<R>(
        &self,
        op: &str,
        ctx: impl FnOnce() -> String,
        f: impl FnOnce() -> Result<R>,
    ) -> Result<R> {
        thread_local! {
            static IN_OP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        /// Clears the flag when the outer operation ends, even by a panic.
        struct Outer;
        impl Drop for Outer {
            fn drop(&mut self) {
                IN_OP.with(|c| c.set(false));
            }
        }
        if IN_OP.with(|c| c.replace(true)) {
            return f();
        }
        let _outer = Outer;
        let _timed = self.timed(op, ctx);
        f()
    }

    /// [`Database::op`] over one read snapshot.
    ///
    /// `f` is `Fn`: on PostgreSQL it may run twice. A read that sends one
    /// statement runs without a transaction (one statement sees one
    /// snapshot); if `f` sends a second one, what it did is thrown away
    /// and it runs again in a snapshot, and so do later calls of the same
    /// `op` (docs/POSTGRES.md, "Round trips"). So `f` must have no effect
    /// but its result: a read that writes as it goes (an export to a
    /// stream) takes [`Database::read`] inside [`Database::op`] instead.
    pub fn read_op<R>(
        &self,
        op: &str,
        ctx: impl FnOnce() -> String,
        f: impl Fn(&Reader) -> Result<R>,
    ) -> Result<R> {
        if let Engine::Postgres(pg) = &self.inner.engine {
            return self.op(op, ctx, || pg.read_op(&self.inner.set, op, &f));
        }
        self.op(op, ctx, || f(&self.read()?))
    }

    /// [`Database::op`] in one write transaction, run again on PostgreSQL
    /// after a deadlock or serialization failure
    /// ([`Database::write_retrying`]): `f` is `Fn`, so it cannot consume
    /// or change what it captures, and a store's closure has no effect
    /// outside its transaction.
    pub fn write_op<R>(
        &self,
        op: &str,
        ctx: impl FnOnce() -> String,
        f: impl Fn(&mut Writer<'_>) -> Result<R>,
    ) -> Result<R> {
        self.op(op, ctx, || self.write_retrying(&f))
    }

    /// Runs `f` in one durable write transaction. Nothing is committed
    /// unless `f` returns `Ok`.
    pub fn write<R>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<R>) -> Result<R> {
        self.write_with(Durability::Immediate, f)
    }

    /// [`Database::write`] for a transaction that may be run again: on
    /// PostgreSQL a deadlock or serialization failure
    /// ([`Error::is_transient_conflict`], which the server reports only
    /// after rolling the whole transaction back) runs `f` again, up to
    /// [`WRITE_ATTEMPTS`] times, after a short growing pause. `f` must have
    /// no effect outside the transaction that a second run would repeat
    /// (docs/POSTGRES.md, "What is retried"). The embedded store has no
    /// such failures: one run.
    pub fn write_retrying<R>(&self, f: impl Fn(&mut Writer<'_>) -> Result<R>) -> Result<R> {
        let mut attempt = 1;
        loop {
            match self.write(&f) {
                Err(e) if e.is_transient_conflict() && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "transaction rolled back by the server; again");
                    // 1, 2, 4, 8 ms, plus up to as much again so that two
                    // transactions that deadlocked do not meet again.
                    let base = 1u64 << (attempt - 1);
                    let jitter = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.subsec_nanos()),
                    ) % (base * 1000);
                    std::thread::sleep(Duration::from_micros(base * 1000 + jitter));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// [`Database::write`] with an explicit durability.
    pub fn write_with<R>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R>,
    ) -> Result<R> {
        if let Engine::Postgres(pg) = &self.inner.engine {
            self.refuse_read_only()?;
            return pg.write(&self.inner.set, f);
        }
        let path = self.inner.set.origin();
        let txn = self.begin_write(durability)?;
        let out = {
            let mut w = Writer::embedded(&txn, self.inner.set.as_ref());
            let out = f(&mut w)?;
            w.finish()?;
            out
        };
        txn.commit().map_err(|e| Error::storage(path, e))?;
        Ok(out)
    }

    /// [`Database::write`] that also records `version` as `table`'s schema
    /// version in `__schema`, in the same transaction (one migration step).
    pub(crate) fn write_versioned<R>(
        &self,
        table: &str,
        version: u32,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R>,
    ) -> Result<R> {
        self.refuse_read_only()?;
        let path = self.inner.set.origin();
        let st = |e: redb::Error| Error::storage(path, e);
        let txn = self.inner.begin_write()?;
        let out = {
            let mut w = Writer::embedded(&txn, self.inner.set.as_ref());
            let out = f(&mut w)?;
            w.finish()?;
            out
        };
        txn.open_table(meta::SCHEMA)
            .and_then(|mut t| t.insert(table, version).map(drop).map_err(Into::into))
            .map_err(|e| st(e.into()))?;
        txn.commit().map_err(|e| st(e.into()))?;
        Ok(out)
    }

    /// Begins a write transaction the caller drives with
    /// [`Writer`]s and commits itself (the importer keeps one open per
    /// target file while it reads the source files one by one).
    pub(crate) fn begin_write(&self, durability: Durability) -> Result<WriteTxn> {
        self.refuse_read_only()?;
        let path = self.inner.set.origin();
        let mut txn = self.inner.begin_write()?;
        txn.set_durability(durability)
            .map_err(|e| Error::storage(path, e))?;
        Ok(txn)
    }

    /// Takes a read snapshot.
    pub fn read(&self) -> Result<Reader> {
        if let Engine::Postgres(pg) = &self.inner.engine {
            return pg.read(&self.inner.set);
        }
        // Shared while nothing has been committed since it began (see
        // `Snapshots`): no redb read transaction, no table opens per call.
        let snapshots = &self.inner.snapshots;
        let generation = snapshots.generation.load(Ordering::SeqCst);
        if let Some(snap) = snapshots.current(generation) {
            return Ok(Reader::shared(snap));
        }
        let txn = self
            .inner
            .redb()?
            .begin_read()
            .map_err(|e| Error::storage(self.inner.set.origin(), e))?;
        let snap = Arc::new(Snapshot::new(txn, self.inner.set.origin().to_path_buf()));
        snapshots.offer(generation, &snap);
        Ok(Reader::shared(snap))
    }

    /// Row count of every table in this file, from one snapshot.
    pub fn table_counts(&self) -> Result<Vec<(&'static TableDef, u64)>> {
        let r = self.read()?;
        self.inner
            .set
            .tables()
            .iter()
            .map(|&def| Ok((def, r.count_rows(def)?)))
            .collect()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// The handle of `path` if this process has the file open (no file is
/// opened or created by asking).
pub fn open_handle(path: &Path) -> Option<Database> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let key = parent.canonicalize().ok()?.join(path.file_name()?);
    let inner = OPEN.lock().get(&key).and_then(Weak::upgrade)?;
    Some(Database {
        inner,
        read_only: false,
        clock: crate::time::Clock::system(),
    })
}

fn registry_key(path: &Path) -> Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // New directories are 0700 whatever the umask; existing ones are left as they are.
    crate::fsutil::private_dir(&parent)?;
    let parent = parent
        .canonicalize()
        .map_err(|e| Error::io("resolve directory", &parent, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a file path", path.display())))?;
    Ok(parent.join(name))
}

/// Creates a new database file whole or not at all. redb writes its magic
/// number only in its second header write, so a crash while it creates a
/// file in place can leave a file no open accepts. The file is created and
/// set up under a temporary name, then linked into place (`link` never
/// replaces an existing file, so two processes creating it at once cannot
/// lose each other's data) and the directory synced.
fn create_new(path: &Path, tables: &[&'static TableDef], opts: &OpenOptions) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.creating-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let made = (|| {
        // 0600 whatever the umask (redb initializes an empty file).
        crate::fsutil::private_file(&tmp)?;
        let db = open_with_timeout(&tmp, opts)?;
        let inner = Inner::new(db, tmp.clone(), tables.to_vec(), opts);
        meta::ensure_tables(&inner)
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("link new database into place", path, e)),
    }
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn open_with_timeout(path: &Path, opts: &OpenOptions) -> Result<redb::Database> {
    readonly::retry_locked(path, opts.timeout, || {
        let mut builder = redb::Builder::new();
        builder.set_cache_size(opts.cache_size);
        crate::crypto::open_database(&builder, path, opts.encryption.as_ref())
    })
}
