//! # aragora-db
//!
//! A pure-Rust embedded store for Aragora's persistence layer, on redb.
//!
//! Every table is declared once with [`table!`]; the declaration produces
//! the Rust row type, the redb tables for rows and secondary indexes, and the
//! column metadata the importer, exporter and checks use. Writes maintain
//! every index and constraint in the same transaction.
//!
//! ```
//! use aragora_db::{config::Config, store::UserStore};
//! let dir = tempfile::tempdir()?;
//! let users = UserStore::open(&Config::for_dir(dir.path()))?;
//! let u = users.create_user("ada@example.com", "bcrypt:$2b$12$x", "", "Ada", None, "member")?;
//! assert_eq!(users.get_user_by_email("ada@example.com")?.unwrap().id, u.id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod export;
pub mod fsutil;
/// Fuzzing entry points (one per `fuzz/` target) that must never panic
/// (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod fuzzing;
pub mod import;
pub mod migrations;
pub mod ops;
pub mod pg;
pub mod pyjson;
pub mod quiet;
pub mod schema;
pub mod sqlite;
pub mod storage;
pub mod store;
pub mod table;
pub mod time;
pub mod unreadable;

pub use db::{Database, Migrations, OpenOptions};
pub use error::{Error, Found, Result};
