//! A small blocking connection pool (a mutex and a condition variable).
//!
//! - At most `size + max_overflow` connections are open at once; `size` of
//!   them are kept when idle, the overflow ones are closed when returned
//!   (SQLAlchemy's `pool_size` / `max_overflow`, which the original's
//!   variables configure).
//! - [`Pool::get`] waits up to the pool timeout for a free connection, then
//!   fails with [`Error::PoolTimeout`] naming the limits and the wait.
//! - Connections are opened lazily. Opening one is bounded by the connect
//!   timeout as a whole (TCP, TLS and authentication), so a server that
//!   accepts but never answers cannot hang a caller. TCP keepalive is on,
//!   so a dead server is noticed on idle connections too.
//! - A connection found closed (killed by the server, a dropped network) is
//!   discarded and replaced: checked when it is returned, and pinged (an
//!   empty query, one round trip) before it is handed out again, except by
//!   [`Pool::get_recent`] when it was returned less than [`RECENT`] ago
//!   (its user then replaces it if its first round trip fails).
//! - Each connection keeps its prepared statements ([`StmtCache`]),
//!   dropped with it.
//! - A read-only transaction's `ROLLBACK` may be left to the connection's
//!   next user ([`Connection::defer_rollback`](crate::pg::rows::Connection::defer_rollback));
//!   [`Pool::get`] sends it before handing the connection out, and a
//!   sweeper thread sends it on a connection idle for [`DEFERRED`].
//! - Connections are not reset between users: a caller must finish its
//!   transactions (`postgres::Transaction` rolls back when dropped), and
//!   one that cannot tell (a failed `ROLLBACK`) asks for the connection
//!   to be closed instead (`rows::Connection::discard_when_dropped`).
//!
//! [`Pool::shared`] keeps one pool per server, database and credentials
//! for the whole process.

use crate::config::PgSettings;
use crate::error::{Error, Result};
use parking_lot::{Condvar, Mutex};
use postgres::{Client, NoTls};
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::cache::StmtCache;

/// TCP keepalive: probes start after a minute idle, every 10 s, and three
/// unanswered ones close the connection (a dead server is noticed in about
/// 90 s instead of the system's default of hours).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// A pool of connections to one PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    settings: PgSettings,
    /// The redacted DSN, for errors.
    target: String,
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Idle>,
    /// Connections open or being opened, idle included.
    open: u32,
    /// Idle connections the sweeper is rolling back right now.
    sweeping: u32,
    /// The sweeper thread runs.
    sweeper: bool,
}

/// What a pool holds right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (or being opened), idle included.
    pub open: u32,
    /// Idle connections ready to hand out.
    pub idle: u32,
    /// Connections kept when idle.
    pub size: u32,
    /// Extra connections allowed under load.
    pub max_overflow: u32,
}

/// An idle connection, its prepared statements, and when it came back.
struct Idle {
    client: Client,
    statements: StmtCache,
    /// When it was returned after its last use (which ended well).
    returned: Instant,
    /// Still inside the read-only transaction of its last user, whose
    /// `ROLLBACK` was left to the next one (see [`DEFERRED`]).
    rollback: bool,
}

/// A connection returned this recently is handed out by
/// [`Pool::get_recent`] without the liveness ping.
pub const RECENT: Duration = Duration::from_secs(1);

/// The longest a connection stays idle inside a finished read-only
/// transaction whose `ROLLBACK` was deferred onto its next user (saving a
/// round trip per read): past this (plus up to as much again) the pool's
/// sweeper thread rolls it back, so its snapshot and table locks never
/// linger (they would hold back VACUUM and make DDL wait).
pub const DEFERRED: Duration = Duration::from_millis(50);

static POOLS: LazyLock<Mutex<HashMap<[u8; 32], Pool>>> = LazyLock::new(Default::default);

impl Pool {
    /// The process-wide pool for these settings' server, database and
    /// credentials, created on first use (its limits are those of the
    /// first caller). Nothing is connected until [`Pool::get`].
    pub fn shared(settings: &PgSettings) -> Result<Pool> {
        let key = settings.dsn.identity();
        let mut pools = POOLS.lock();
        if let Some(p) = pools.get(&key) {
            return Ok(p.clone());
        }
        let p = Pool::new(settings.clone())?;
        pools.insert(key, p.clone());
        Ok(p)
    }

    /// A pool of its own, not shared with anyone (tests, tools). Fails
    /// only if the TLS setup does (e.g. an unreadable `sslrootcert`).
    pub fn new(settings: PgSettings) -> Result<Pool> {
        let tls = super::tls::connector(&settings.dsn)?;
        let mut config = settings.dsn.to_pg_config();
        if settings.dsn.application_name().is_none() {
            // Names us in pg_stat_activity and the server's logs.
            config.application_name("aragora-db");
        }
        config
            .connect_timeout(settings.connect_timeout)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        Ok(Pool {
            inner: Arc::new(Inner {
                target: settings.dsn.to_string(),
                settings,
                config,
                tls,
                state: Mutex::new(State {
                    idle: Vec::new(),
                    open: 0,
                    sweeping: 0,
                    sweeper: false,
                }),
                freed: Condvar::new(),
            }),
        })
    }

    /// The settings the pool was made with.
    pub fn settings(&self) -> &PgSettings {
        &self.inner.settings
    }

    /// Counts of open and idle connections.
    pub fn status(&self) -> PoolStatus {
        let s = self.inner.state.lock();
        PoolStatus {
            open: s.open,
            idle: s.idle.len() as u32 + s.sweeping,
            size: self.inner.settings.pool.size,
            max_overflow: self.inner.settings.pool.max_overflow,
        }
    }

    /// A connection: an idle one that is still alive, else a new one if the
    /// limit allows, else the next one returned within the pool timeout.
    pub fn get(&self) -> Result<PooledClient> {
        self.checkout(false)
    }

    /// As [`Pool::get`], but a connection returned less than [`RECENT`]
    /// ago is handed out without the liveness ping (one round trip less).
    /// It is marked unverified: a caller whose first statement fails for
    /// want of a connection (the server closed it meanwhile) asks for a
    /// verified one with [`Connection::reconnect`](crate::pg::rows::Connection::reconnect)
    /// and runs it again, which is safe only before anything of its own
    /// was done; the table API does so.
    pub fn get_recent(&self) -> Result<PooledClient> {
        self.checkout(true)
    }

    fn checkout(&self, recent_unpinged: bool) -> Result<PooledClient> {
        let inner = &self.inner;
        let limits = inner.settings.pool;
        let started = Instant::now();
        let deadline = started + limits.timeout;
        let mut state = inner.state.lock();
        loop {
            if let Some(mut idle) = state.idle.pop() {
                drop(state);
                if recent_unpinged && !idle.client.is_closed() && idle.returned.elapsed() < RECENT {
                    let mut c = self.guard(idle.client, idle.statements, false);
                    c.rollback = idle.rollback;
                    return Ok(c);
                }
                if alive(&mut idle.client, inner.settings.connect_timeout)
                    && (!idle.rollback || idle.client.batch_execute("ROLLBACK").is_ok())
                {
                    return Ok(self.guard(idle.client, idle.statements, true));
                }
                tracing::info!(server = %inner.target, "discarding a closed PostgreSQL connection");
                drop(idle);
                state = inner.state.lock();
                state.open -= 1;
                continue;
            }
            if state.open < limits.size.saturating_add(limits.max_overflow) {
                state.open += 1;
                drop(state);
                return match inner.connect() {
                    Ok(client) => Ok(self.guard(client, StmtCache::default(), true)),
                    Err(e) => {
                        inner.state.lock().open -= 1;
                        inner.freed.notify_one();
                        Err(e)
                    }
                };
            }
            // Checked after looking, so a connection freed just as the
            // wait timed out is still taken.
            if Instant::now() >= deadline {
                return Err(Error::PoolTimeout {
                    target: inner.target.clone(),
                    size: limits.size,
                    overflow: limits.max_overflow,
                    waited: started.elapsed(),
                });
            }
            inner.freed.wait_until(&mut state, deadline);
        }
    }

    fn guard(&self, client: Client, statements: StmtCache, verified: bool) -> PooledClient {
        PooledClient {
            client: Some(client),
            statements,
            verified,
            rollback: false,
            pool: self.inner.clone(),
            discard: false,
        }
    }
}

/// Whether an idle connection is still usable: not seen closed, and it
/// answers an empty query within `timeout` (one round trip, as
/// SQLAlchemy's `pool_pre_ping`). Reading the socket without a round trip
/// is not enough: the client's runtime only learns of a "terminating
/// connection" message when its reactor next waits.
fn alive(client: &mut Client, timeout: Duration) -> bool {
    !client.is_closed() && client.is_valid(timeout).is_ok()
}

impl Inner {
    /// Opens one connection, as a whole within the connect timeout (per host).
    fn connect(&self) -> Result<Client> {
        let config = self.config.clone();
        let tls = self.tls.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("aragora-pg-connect".into())
            .spawn(move || {
                let r = match tls {
                    Some(tls) => config.connect(tls),
                    None => config.connect(NoTls),
                };
                // If the caller gave up, the late client is dropped (closed).
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            return Err(Error::PgConnection {
                target: self.target.clone(),
                what: format!("cannot start a connection thread: {e}"),
            });
        }
        let hosts = self.settings.dsn.hosts().len().max(1) as u32;
        let budget = self.settings.connect_timeout * hosts + Duration::from_secs(1);
        match rx.recv_timeout(budget) {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(self.connect_error(e)),
            Err(_) => Err(Error::PgConnection {
                target: self.target.clone(),
                what: format!(
                    "cannot connect: no answer within {budget:?} (connect_timeout {:?} per host)",
                    self.settings.connect_timeout
                ),
            }),
        }
    }

    /// The target (redacted DSN) already names the hosts, ports, database
    /// and user; the context says what failed.
    fn connect_error(&self, e: postgres::Error) -> Error {
        let mode = self.settings.dsn.ssl_mode();
        let context = if crate::error::pg_message(&e).contains("server does not support TLS") {
            format!(
                "sslmode={}, but the server does not offer TLS",
                mode.as_str()
            )
        } else {
            "cannot connect".to_string()
        };
        Error::Postgres {
            target: self.target.clone(),
            context,
            source: e,
        }
    }

    /// Takes a connection back: kept if alive and under `size`, else closed.
    fn put_back(self: &Arc<Self>, client: Client, statements: StmtCache, rollback: bool) {
        let mut state = self.state.lock();
        let keep = !client.is_closed()
            && ((state.idle.len() + state.sweeping as usize) as u32) < self.settings.pool.size;
        let mut sweep = false;
        let discard = if keep {
            state.idle.push(Idle {
                client,
                statements,
                returned: Instant::now(),
                rollback,
            });
            if rollback && !state.sweeper {
                state.sweeper = true;
                sweep = true;
            }
            None
        } else {
            state.open -= 1;
            Some(client)
        };
        drop(state);
        self.freed.notify_one();
        if sweep {
            let weak = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("aragora-pg-sweep".into())
                .spawn(move || sweeper(weak));
            if spawned.is_err() {
                // No thread: the next user (or the ping) rolls back.
                self.state.lock().sweeper = false;
            }
        }
        // Closing talks to the server: never under the lock.
        drop(discard);
    }
}

/// Rolls back idle connections whose deferred `ROLLBACK` waited more than
/// [`DEFERRED`]; ends when none is left waiting (or the pool is gone).
fn sweeper(pool: std::sync::Weak<Inner>) {
    loop {
        std::thread::sleep(DEFERRED);
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let mut state = inner.state.lock();
        let (due, keep): (Vec<Idle>, Vec<Idle>) = std::mem::take(&mut state.idle)
            .into_iter()
            .partition(|i| i.rollback && i.returned.elapsed() >= DEFERRED);
        state.idle = keep;
        if due.is_empty() && !state.idle.iter().any(|i| i.rollback) {
            state.sweeper = false;
            return;
        }
        state.sweeping += due.len() as u32;
        drop(state);
        for mut idle in due {
            let ok = idle.client.batch_execute("ROLLBACK").is_ok();
            let mut state = inner.state.lock();
            state.sweeping -= 1;
            if ok {
                idle.rollback = false;
                state.idle.push(idle);
                drop(state);
            } else {
                state.open -= 1;
                drop(state);
                drop(idle);
            }
            inner.freed.notify_one();
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("target", &self.inner.target)
            .field("status", &self.status())
            .finish()
    }
}

/// A connection on loan from a [`Pool`]; it goes back when dropped.
/// Dereferences to [`postgres::Client`].
pub struct PooledClient {
    client: Option<Client>,
    /// Its prepared statements (they live and die with the connection).
    statements: StmtCache,
    /// Pinged or opened for this checkout (else handed out unpinged,
    /// having been returned healthy within [`RECENT`]).
    verified: bool,
    /// Inside a finished read-only transaction whose `ROLLBACK` is
    /// deferred (the next user sends it first, or the pool's sweeper).
    rollback: bool,
    pool: Arc<Inner>,
    /// Closed when dropped instead of returned (its state is unknown).
    discard: bool,
}

impl PooledClient {
    /// Closes the connection instead of returning it (after an error that
    /// may have left it in an unknown state).
    pub fn discard(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if let Some(c) = self.client.take() {
            self.pool.state.lock().open -= 1;
            self.pool.freed.notify_one();
            drop(c);
        }
    }

    /// The redacted DSN this connection is to, for error messages.
    pub fn target(&self) -> &str {
        &self.pool.target
    }
}

impl Deref for PooledClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until dropped")
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until dropped")
    }
}

impl crate::pg::rows::Connection for PooledClient {
    fn discard_when_dropped(&mut self) {
        self.discard = true;
    }

    fn split(&mut self) -> (&mut Client, Option<&mut StmtCache>) {
        (
            self.client.as_mut().expect("present until dropped"),
            Some(&mut self.statements),
        )
    }

    /// Only for a connection handed out unpinged: it is closed and
    /// replaced by a verified one (pinged or new) from the same pool.
    fn take_rollback(&mut self) -> bool {
        std::mem::take(&mut self.rollback)
    }

    fn defer_rollback(&mut self) -> bool {
        self.rollback = true;
        true
    }

    fn reconnect(&mut self) -> Option<Result<()>> {
        if self.verified {
            return None;
        }
        let pool = Pool {
            inner: self.pool.clone(),
        };
        self.close();
        self.discard = false;
        Some(pool.get().map(|mut fresh| {
            self.client = fresh.client.take();
            self.statements = std::mem::take(&mut fresh.statements);
            self.verified = true;
            self.rollback = false;
        }))
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        if self.discard {
            self.close();
        } else if let Some(c) = self.client.take() {
            self.pool
                .put_back(c, std::mem::take(&mut self.statements), self.rollback);
        }
    }
}

impl fmt::Debug for PooledClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledClient")
            .field("target", &self.pool.target)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::Dsn;

    fn settings(url: &str) -> PgSettings {
        PgSettings::new(Dsn::parse("TEST", url).unwrap())
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let mut s = settings("postgresql://u:Sup3rSecretPw@127.0.0.1:1/db?sslmode=disable");
        s.connect_timeout = Duration::from_secs(2);
        let pool = Pool::new(s.clone()).unwrap();
        let e = pool.get().unwrap_err();
        for shown in [
            format!("{pool:?}"),
            format!("{s:?}"),
            format!("{e}"),
            format!("{e:?}"),
            format!("{:?}", std::error::Error::source(&e)),
        ] {
            assert!(!shown.contains("Sup3rSecretPw"), "{shown}");
        }
        let shown = e.to_string();
        assert!(shown.contains("127.0.0.1:1"), "{shown}");
        assert_eq!(pool.status().open, 0, "a failed connect frees its slot");
    }

    #[test]
    fn pools_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Pool>();
        send::<PooledClient>();
    }

    #[test]
    fn shared_pools_are_per_credentials() {
        let a = Pool::shared(&settings("postgresql://u:a@h/db")).unwrap();
        let a2 = Pool::shared(&settings("postgresql://u:a@h/db")).unwrap();
        let b = Pool::shared(&settings("postgresql://u:b@h/db")).unwrap();
        let c = Pool::shared(&settings("postgresql://u:a@h/other")).unwrap();
        assert!(Arc::ptr_eq(&a.inner, &a2.inner));
        assert!(!Arc::ptr_eq(&a.inner, &b.inner));
        assert!(!Arc::ptr_eq(&a.inner, &c.inner));
    }
}
