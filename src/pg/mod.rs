//! PostgreSQL as a backend of the table API: the same stores, on a live
//! database (see docs/POSTGRES.md).
//!
//! The original documents PostgreSQL as its production backend, selected by
//! `ARAGORA_DB_BACKEND=postgres` (or per store) with the server in
//! `DATABASE_URL`. This module turns that configuration
//! ([`crate::config::backend`]) into connections:
//!
//! - [`dsn`]: the connection string, parsed once and printed only redacted
//!   (`postgresql://user:***@host:5432/db`), in errors and `Debug` alike;
//! - [`tls`]: libpq's `sslmode`s on rustls with graviola's pure-Rust
//!   crypto, so the build stays free of C;
//! - [`pool`]: a small blocking pool, one per server and database per
//!   process, whose waits and connects are all bounded in time;
//! - [`shape`]: each declared table's names and types on PostgreSQL, and
//!   the conversion of values; [`sql`]: the statements of the table API;
//! - [`rows`]: snapshots and write transactions implementing
//!   [`RowSource`](crate::table::RowSource) and
//!   [`RowSink`](crate::table::RowSink); [`schema`]: creating the tables.
//!
//! The client is the `postgres` crate (a synchronous API over
//! `tokio-postgres`, each connection with its own small runtime), which
//! fits a crate whose store layer is synchronous.
//!
//! ```no_run
//! use aragora_db::config::{Config, DbTarget, Store};
//! let config = Config::from_env()?;
//! if let Some(pool) = aragora_db::pg::pool_for(&config, DbTarget::Store(Store::Audit))? {
//!     let mut client = pool.get()?;
//!     let one: i32 = client.query_one("SELECT 1", &[])
//!         .map_err(|e| aragora_db::pg::error(client.target(), "SELECT 1", e))?
//!         .get(0);
//!     assert_eq!(one, 1);
//! }
//! # Ok::<(), aragora_db::Error>(())
//! ```

pub mod admin;
pub mod cache;
pub use crate::config::dsn;
pub mod pool;
pub mod rows;
pub mod schema;
pub mod shape;
pub mod sql;
pub mod tls;

pub use dsn::Dsn;
pub use pool::{Pool, PoolStatus, PooledClient};
pub use tls::SslMode;

use crate::config::{Backend, Config, DbTarget};
use crate::error::{Error, Result};

/// The process-wide pool for a database or store when the configuration
/// puts it on PostgreSQL; `None` when it uses the embedded store.
pub fn pool_for(config: &Config, target: DbTarget) -> Result<Option<Pool>> {
    match config.backend_for(target)? {
        Backend::Embedded => Ok(None),
        Backend::Postgres(settings) => Pool::shared(&settings).map(Some),
    }
}

/// Wraps a client error with the (redacted) server it came from and what
/// was being done, e.g. `error(client.target(), "insert audit event", e)`.
pub fn error(target: &str, context: impl Into<String>, source: postgres::Error) -> Error {
    Error::Postgres {
        target: target.to_string(),
        context: context.into(),
        source,
    }
}
