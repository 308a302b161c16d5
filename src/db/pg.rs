//! A [`Database`] whose tables live in PostgreSQL: the same handle, read
//! snapshots and write transactions as an embedded file, so every store
//! runs on it unchanged (see docs/POSTGRES.md).

use super::{Database, Engine, Inner, OpenOptions};
use crate::config::{Config, DbTarget};
use crate::error::Result;
use crate::pg::rows::PgRows;
use crate::table::{Reader, TableDef, TableSet, Writer};
use std::ops::DerefMut;
use std::path::PathBuf;
use std::sync::Arc;

/// A connection to hand to one snapshot or transaction (a pooled client
/// goes back to its pool when dropped).
pub struct PgClient(pub Box<dyn DerefMut<Target = postgres::Client> + Send>);

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
}

impl PgEngine {
    pub(crate) fn read(&self, set: &Arc<TableSet>) -> Result<Reader> {
        let rows = PgRows::snapshot((self.connect)()?, set.clone())?;
        Ok(Reader::other(Box::new(rows)))
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
            engine: Engine::Postgres(PgEngine { connect }),
            set,
            slow_threshold: opts.slow_threshold,
            notes: Vec::new(),
        };
        Ok(Database {
            inner: Arc::new(inner),
            read_only: false,
        })
    }
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
        }));
    }
    let connect: Connect = Box::new(move || Ok(PgClient(Box::new(pool.get()?))));
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
