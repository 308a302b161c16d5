//! A [`Database`] whose tables live in PostgreSQL: the same handle, read
//! snapshots and write transactions as an embedded file, so every store
//! runs on it unchanged (see docs/POSTGRES.md).

use super::{Database, Engine, Inner, OpenOptions};
use crate::config::{Config, DbTarget};
use crate::error::Result;
use crate::pg::rows::{Connection, PgRows};
use crate::table::{Reader, TableDef, TableSet, Writer};
use parking_lot::RwLock;
use std::collections::HashSet;
use std::ops::DerefMut;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A connection to hand to one snapshot or transaction (a pooled client
/// goes back to its pool when dropped, unless the transaction found its
/// state unknown: then it is closed).
pub struct PgClient(pub Box<dyn Connection + Send>);

impl Connection for PgClient {
    fn discard_when_dropped(&mut self) {
        self.0.discard_when_dropped();
    }

    fn split(
        &mut self,
    ) -> (
        &mut postgres::Client,
        Option<&mut crate::pg::cache::StmtCache>,
    ) {
        self.0.split()
    }

    fn reconnect(&mut self) -> Option<Result<()>> {
        self.0.reconnect()
    }

    fn take_rollback(&mut self) -> bool {
        self.0.take_rollback()
    }

    fn defer_rollback(&mut self) -> bool {
        self.0.defer_rollback()
    }
}

impl std::ops::Deref for PgClient {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self.0
    }
}

impl DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.0
    }
}

/// Where connections come from.
pub type Connect = Box<dyn Fn() -> Result<PgClient> + Send + Sync>;

/// The PostgreSQL side of a [`Database`].
pub(crate) struct PgEngine {
    connect: Connect,
    /// The read operations ([`Database::read_op`] names) seen to send
    /// more than one statement: they run in a snapshot from the start.
    multi: RwLock<HashSet<Box<str>>>,
}

impl PgEngine {
    fn new(connect: Connect) -> PgEngine {
        PgEngine {
            connect,
            multi: RwLock::default(),
        }
    }

    pub(crate) fn read(&self, set: &Arc<TableSet>) -> Result<Reader> {
        let rows = PgRows::snapshot((self.connect)()?, set.clone())?;
        Ok(Reader::other(Box::new(rows)))
    }

    /// Runs the read operation `op`. One PostgreSQL statement sees one
    /// snapshot, so a read that sends one statement needs no transaction:
    /// `f` runs first on a [`PgRows::single`] read (no `BEGIN`, no
    /// `ROLLBACK`). If it sends a second statement, that one is refused,
    /// whatever `f` made of it is thrown away, and `f` runs again in a
    /// snapshot; `op` is remembered, so its next calls start there.
    pub(crate) fn read_op<R>(
        &self,
        set: &Arc<TableSet>,
        op: &str,
        f: &impl Fn(&Reader) -> Result<R>,
    ) -> Result<R> {
        if !self.multi.read().contains(op) {
            let tripped = Arc::new(AtomicBool::new(false));
            let rows = PgRows::single((self.connect)()?, set.clone(), tripped.clone())?;
            let out = f(&Reader::other(Box::new(rows)));
            if !tripped.load(Ordering::Relaxed) {
                return out;
            }
            tracing::debug!(
                op,
                "a read of more than one statement: again, in a snapshot"
            );
            self.multi.write().insert(op.into());
        }
        f(&self.read(set)?)
    }

    pub(crate) fn write<R>(
        &self,
        set: &Arc<TableSet>,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut rows = PgRows::transaction((self.connect)()?, set.clone())?;
        let out = {
            let mut w = Writer::other(&mut rows);
            let out = f(&mut w)?;
            w.finish()?;
            out
        };
        rows.commit()?;
        Ok(out)
    }
}

impl Database {
    /// A database whose `tables` live in PostgreSQL, reached through
    /// `connect`; `origin` names it in errors (a redacted DSN). The tables
    /// are created if missing.
    pub fn open_postgres(
        origin: &str,
        connect: Connect,
        tables: Vec<&'static TableDef>,
        opts: &OpenOptions,
    ) -> Result<Database> {
        let path = PathBuf::from(origin);
        {
            let mut client = connect()?;
            crate::pg::schema::create(&mut client, &path)?;
        }
        let set = Arc::new(TableSet::new(path, tables));
        let inner = Inner {
            snapshots: Default::default(),
            engine: Engine::Postgres(PgEngine::new(connect)),
            set,
            slow_threshold: opts.slow_threshold,
            notes: Vec::new(),
        };
        Ok(Database {
            inner: Arc::new(inner),
            read_only: false,
            clock: crate::time::Clock::system(),
        })
    }
}

/// The transaction of [`Database::load_postgres`]: the table API, and
/// inserts of many rows in one statement.
pub struct PgLoad<'a> {
    rows: &'a mut PgRows<PgClient>,
}

/// A row's stored values and undeclared columns.
pub type StoredRow = (Vec<crate::table::Value>, crate::table::Extras);

impl PgLoad<'_> {
    /// The table API on the load's transaction.
    pub fn writer(&mut self) -> Writer<'_> {
        Writer::other(self.rows)
    }

    /// Inserts `rows` of `def` in one statement, skipping each whose key or
    /// unique value is taken; per row, whether it was inserted.
    pub fn insert_new(
        &mut self,
        def: &'static TableDef,
        rows: &[(&[crate::table::Value], &crate::table::Extras)],
    ) -> Result<Vec<bool>> {
        self.rows.insert_new(def, rows)
    }

    /// The stored values and extras of those of `pks` (encoded primary
    /// keys) that exist, in one statement.
    pub fn existing(
        &mut self,
        def: &'static TableDef,
        pks: &[&[u8]],
    ) -> Result<std::collections::HashMap<Vec<u8>, StoredRow>> {
        self.rows
            .rows_by_keys(def, pks)?
            .into_iter()
            .map(|(pk, bytes)| {
                let v = def.decode_values(&pk, &bytes)?;
                Ok((pk, v))
            })
            .collect()
    }
}

impl Database {
    /// PostgreSQL only: one write transaction for moving rows in
    /// (`ops::to_postgres`). Foreign keys are checked when `f` is done,
    /// not per write, so rows go in in any table order; the foreign keys
    /// in `loose` (table, position among its declared foreign keys: those
    /// whose data references rows that do not exist) are dropped first and
    /// added back `NOT VALID` before the commit, as the exporter adds them
    /// for such data. Nothing is committed unless every step succeeds.
    pub fn load_postgres<R>(
        &self,
        loose: &[(&'static TableDef, usize)],
        f: impl FnOnce(&mut PgLoad<'_>) -> Result<R>,
    ) -> Result<R> {
        let Engine::Postgres(engine) = &self.inner.engine else {
            return Err(crate::error::Error::InvalidArgument(format!(
                "{}: not a PostgreSQL database",
                self.path().display()
            )));
        };
        let (mut drops, mut adds) = (Vec::new(), Vec::new());
        for &(def, fk) in loose {
            let (d, a) = crate::export::pgshape::loose_foreign_keys(def, &[fk])?;
            drops.extend(d);
            adds.extend(a);
        }
        let mut rows = PgRows::transaction((engine.connect)()?, self.inner.set.clone())?;
        rows.execute_batch("SET CONSTRAINTS ALL DEFERRED")?;
        if !drops.is_empty() {
            rows.execute_batch(&drops.join("\n"))?;
        }
        let out = f(&mut PgLoad { rows: &mut rows })?;
        // Every deferred check runs here; then no trigger event is pending
        // and the constraints can be added.
        rows.execute_batch("SET CONSTRAINTS ALL IMMEDIATE")?;
        if !adds.is_empty() {
            rows.execute_batch(&adds.join("\n"))?;
        }
        rows.commit()?;
        Ok(out)
    }
}

/// The PostgreSQL database a connection string names (a flag's value:
/// `flag` names it in errors, e.g. `--to`), with every declared table,
/// created if missing; the pool has the configuration's limits.
pub fn open_dsn(config: &Config, flag: &'static str, raw: &str) -> Result<Database> {
    let dsn = crate::config::dsn::Dsn::parse(flag, raw)?;
    let mut settings = crate::config::PgSettings::new(dsn);
    settings.dsn_source = flag;
    settings.pool = config.backend.pool;
    let pool = crate::pg::pool::Pool::shared(&settings)?;
    let origin = settings.dsn.to_string();
    let connect: Connect = Box::new(move || Ok(PgClient(Box::new(pool.get()?))));
    Database::open_postgres(
        &origin,
        connect,
        crate::schema::ALL_TABLES.to_vec(),
        &OpenOptions::from(config),
    )
}

/// The PostgreSQL database of a configuration's `target`, when the
/// configuration puts that store on PostgreSQL (`None`: embedded). Every
/// store on one server shares one pool and one handle, and the schema is
/// created once per process (every declared table, so that foreign keys
/// between stores hold).
pub fn open_configured(config: &Config, target: DbTarget) -> Result<Option<Database>> {
    use parking_lot::Mutex;
    use std::collections::HashMap;
    use std::sync::{LazyLock, Weak};
    static OPEN: LazyLock<Mutex<HashMap<String, Weak<Inner>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let Some(pool) = crate::pg::pool_for(config, target)? else {
        return Ok(None);
    };
    let origin = pool.settings().dsn.to_string();
    let mut open = OPEN.lock();
    if let Some(inner) = open.get(&origin).and_then(Weak::upgrade) {
        return Ok(Some(Database {
            inner,
            read_only: false,
            clock: crate::time::Clock::system(),
        }));
    }
    let connect: Connect = Box::new(move || Ok(PgClient(Box::new(pool.get_recent()?))));
    let db = Database::open_postgres(
        &origin,
        connect,
        crate::schema::ALL_TABLES.to_vec(),
        &OpenOptions::from(config),
    )?;
    open.retain(|_, w| w.strong_count() > 0);
    open.insert(origin, Arc::downgrade(&db.inner));
    Ok(Some(db))
}

/// The PostgreSQL database of a configuration's `target`, read-only, when
/// the configuration puts that store on PostgreSQL (`None`: embedded).
/// Nothing is created: the schema must be there (every declared table, at
/// a version this binary knows), else the error says so and names the
/// command that creates it. Writes through the handle are refused, and
/// each read is a read-only snapshot. For `dump` and the other reading
/// commands.
pub fn open_configured_read_only(config: &Config, target: DbTarget) -> Result<Option<Database>> {
    let Some(pool) = crate::pg::pool_for(config, target)? else {
        return Ok(None);
    };
    let origin = pool.settings().dsn.to_string();
    {
        let mut client = pool.get()?;
        let st = crate::pg::admin::schema_state(&mut client, &origin)?;
        if !st.versions_table {
            return Err(crate::pg::admin::no_schema(&origin));
        }
        if let Some(t) = st.too_new().first() {
            return Err(crate::error::Error::SchemaTooNew {
                path: PathBuf::from(format!("PostgreSQL {origin}")),
                table: t.pg_name.clone(),
                stored: u32::try_from(t.recorded.unwrap_or_default()).unwrap_or(u32::MAX),
                supported: t.declared,
            });
        }
        let missing: Vec<&str> = st
            .tables
            .iter()
            .filter(|t| !t.exists)
            .map(|t| t.pg_name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(crate::error::Error::layout(
                format!("PostgreSQL {origin}"),
                crate::error::Found::Inconsistent,
                format!(
                    "tables missing ({}): run `aragora-db migrate --migrate`",
                    missing.join(", ")
                ),
            ));
        }
    }
    let connect: Connect = Box::new(move || Ok(PgClient(Box::new(pool.get_recent()?))));
    let set = Arc::new(TableSet::new(
        PathBuf::from(&origin),
        crate::schema::ALL_TABLES.to_vec(),
    ));
    let inner = Inner {
        engine: Engine::Postgres(PgEngine::new(connect)),
        set,
        slow_threshold: OpenOptions::from(config).slow_threshold,
        notes: Vec::new(),
        snapshots: Arc::default(),
    };
    Ok(Some(Database {
        inner: Arc::new(inner),
        read_only: true,
        clock: crate::time::Clock::system(),
    }))
}
