//! The crate's error type.
//!
//! Every variant says *where* (file, table, column, key) and *what* was
//! expected, so a message can be acted on without a debugger. Keys and values
//! are rendered with [`crate::table::Value`]'s `Display`, which truncates long
//! values.

use std::path::PathBuf;
use std::time::Duration;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in aragora-db.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value (environment variable or flag) is malformed.
    #[error("invalid configuration: {name}={value:?}: expected {expected}")]
    Config {
        /// The variable or flag.
        name: String,
        /// What was given.
        value: String,
        /// What was expected instead.
        expected: String,
    },

    /// An I/O error on a named file.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing ("create directory", "open", ...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// Another process holds the database and did not release it in time.
    #[error("database {path} is locked by another process; gave up after {waited:?} (DB_TIMEOUT)")]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },

    /// An error reported by redb, with the file it concerns.
    #[error("storage error in {path}: {message}")]
    Storage {
        /// The database file.
        path: PathBuf,
        /// redb's message.
        message: String,
    },

    /// A stored row or index entry failed its checks.
    #[error("corrupt row in table {table} at key {key}: {what}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key, rendered.
        key: String,
        /// What was wrong (checksum, version, type...).
        what: String,
    },

    /// A UNIQUE or PRIMARY KEY constraint would be violated.
    #[error("UNIQUE constraint failed: {table}({columns}) = {value} already exists")]
    Unique {
        /// The table.
        table: &'static str,
        /// The constrained columns, comma separated.
        columns: String,
        /// The duplicate value, rendered.
        value: String,
    },

    /// A NOT NULL column was given NULL.
    #[error("NOT NULL constraint failed: {table}.{column}")]
    NotNull {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
    },

    /// A foreign key points at a row that does not exist.
    #[error("FOREIGN KEY constraint failed: {table}.{column} = {value} has no row in {parent}")]
    ForeignKey {
        /// The child table.
        table: &'static str,
        /// The child column(s).
        column: String,
        /// The dangling value.
        value: String,
        /// The parent table.
        parent: &'static str,
    },

    /// A row cannot be deleted because other rows still reference it.
    #[error(
        "FOREIGN KEY constraint failed: {parent} row {key} is still referenced by {table}.{column}"
    )]
    Referenced {
        /// The parent table whose row was being deleted.
        parent: &'static str,
        /// The parent's key, rendered.
        key: String,
        /// The referencing table.
        table: &'static str,
        /// The referencing column(s).
        column: String,
    },

    /// A value does not fit the column's declared type.
    #[error("type mismatch in {table}.{column}: expected {expected}, found {found}")]
    Type {
        /// The table.
        table: &'static str,
        /// The column.
        column: String,
        /// What the declaration wants.
        expected: &'static str,
        /// What was given.
        found: String,
    },

    /// A row that was expected to exist does not.
    #[error("no row in {table} with key {key}")]
    NotFound {
        /// The table.
        table: &'static str,
        /// The key, rendered.
        key: String,
    },

    /// A name (table, index, column, database) is not known.
    #[error("unknown {kind} {name:?}{hint}")]
    Unknown {
        /// "table", "index", "column", "database".
        kind: &'static str,
        /// The name given.
        name: String,
        /// Extra help, e.g. the list of known names.
        hint: String,
    },

    /// A write transaction was used after one of its operations failed halfway.
    #[error("transaction aborted: an earlier operation on {table} failed after partial writes")]
    Poisoned {
        /// The table whose operation failed.
        table: &'static str,
    },

    /// The file was written by a newer version of aragora-db.
    #[error(
        "{path}: table {table} has schema version {stored}, this binary supports up to {supported}; upgrade aragora-db"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// Version in the file.
        stored: u32,
        /// Version this binary declares.
        supported: u32,
    },

    /// A table's declaration differs from the one that wrote the file, at
    /// the same schema version: reading on would misread rows or index
    /// entries (they are stored by position). Bump the table's `version`
    /// and register a migration step. Nothing was written.
    #[error(
        "{path}: table {table} was written by a different declaration at schema version {version}: {what}; bump its version and add a migration step"
    )]
    SchemaMismatch {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The schema version both claim.
        version: u32,
        /// What changed, e.g. ``column 3 was `email TEXT`, now `name TEXT` ``.
        what: String,
    },

    /// The key does not open this encrypted file. Nothing was written.
    #[error(
        "{path}: wrong encryption key (the key does not unlock this file; nothing was written)"
    )]
    WrongKey {
        /// The database file.
        path: PathBuf,
    },

    /// An encrypted file failed authentication: a block or header was
    /// tampered with, zeroed, swapped, replayed, truncated or appended.
    #[error("{path}: authentication failed: {what}")]
    Authentication {
        /// The database file.
        path: PathBuf,
        /// Which block or header, and what was wrong.
        what: String,
    },

    /// Encryption is configured but the file is plain, or the reverse, or the
    /// file's encryption header is of an unsupported kind.
    #[error("{path} {what}")]
    Encryption {
        /// The database file.
        path: PathBuf,
        /// What was found and what to do.
        what: String,
    },

    /// A bad argument to an API call.
    #[error("{0}")]
    InvalidArgument(String),

    /// A PostgreSQL connection string is malformed. The message never
    /// holds the password, nor any part of the string that could.
    #[error("invalid PostgreSQL connection string in {var}: {what}")]
    Dsn {
        /// The variable (or flag) it came from, e.g. `DATABASE_URL`.
        var: String,
        /// What is wrong.
        what: String,
    },

    /// PostgreSQL, or the connection to it, reported an error.
    #[error("PostgreSQL {target}: {context}: {}", pg_message(.source))]
    Postgres {
        /// The server: a redacted DSN (`postgresql://user:***@host:5432/db`).
        target: String,
        /// What we were doing.
        context: String,
        /// The client library's error (the server's message, if any).
        source: postgres::Error,
    },

    /// A PostgreSQL connection could not be set up (TLS roots, a connect
    /// that did not finish in time, ...), with no client error behind it.
    #[error("PostgreSQL {target}: {what}")]
    PgConnection {
        /// The server: a redacted DSN.
        target: String,
        /// What went wrong and what to do.
        what: String,
    },

    /// Every connection of a PostgreSQL pool stayed in use for the whole
    /// pool timeout.
    #[error(
        "PostgreSQL pool for {target} exhausted: all {size}+{overflow} connections (ARAGORA_DB_POOL_SIZE+ARAGORA_DB_POOL_MAX_OVERFLOW) in use; gave up after {waited:.1?} (ARAGORA_DB_POOL_TIMEOUT)"
    )]
    PoolTimeout {
        /// The server: a redacted DSN.
        target: String,
        /// Connections kept open.
        size: u32,
        /// Extra connections allowed under load.
        overflow: u32,
        /// How long we waited.
        waited: Duration,
    },
}

impl Error {
    /// Wraps an `io::Error` with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Wraps any redb error with the database path.
    pub fn storage(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Error::Storage {
            path: path.into(),
            message: err.to_string(),
        }
    }

    /// True for a PostgreSQL deadlock (`40P01`) or serialization failure
    /// (`40001`): the server rolled the transaction back, so running it
    /// again from the start is safe ([`crate::Database::write_retrying`]).
    pub fn is_transient_conflict(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            Error::Postgres { source, .. } => source.code().is_some_and(|c| {
                *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
            }),
            _ => false,
        }
    }

    /// True for constraint violations (UNIQUE, NOT NULL, FOREIGN KEY).
    pub fn is_constraint(&self) -> bool {
        matches!(
            self,
            Error::Unique { .. }
                | Error::NotNull { .. }
                | Error::ForeignKey { .. }
                | Error::Referenced { .. }
        )
    }
}

/// A client error with its causes, which its `Display` leaves out: the
/// server's `SEVERITY: message`, detail, hint and SQLSTATE for a database
/// error, else the kind and the chain (`error connecting to server:
/// Connection refused`).
pub(crate) fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            m.push_str(&format!(" (DETAIL: {d})"));
        }
        if let Some(h) = db.hint() {
            m.push_str(&format!(" (HINT: {h})"));
        }
        m.push_str(&format!(" [SQLSTATE {}]", db.code().code()));
        return m;
    }
    let mut m = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        m.push_str(": ");
        m.push_str(&c.to_string());
        cause = c.source();
    }
    m
}
