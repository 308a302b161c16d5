//! The crate's error type.
//!
//! Every variant says *where* (file, table, column, key) and *what* was
//! expected, so a message can be acted on without a debugger. Keys and values
//! are rendered with [`crate::table::Value`]'s `Display`, which truncates long
//! values.
//!
//! The variants are the kinds (README.md, "Library", lists them with their
//! `is_*` checks): a caller decides what to do from the variant, never from
//! the text. An error from below — redb, the legacy SQLite reader, the OS,
//! the PostgreSQL client — is kept whole as the `source()`, so the chain is
//! there for whoever needs it; the message names each path once.

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

    /// An error reported by redb, kept whole as the source, with the file
    /// and what was being done (`table users`, or empty).
    #[error("storage error in {}: {}{source}", path.display(), context_prefix(.context))]
    Storage {
        /// The database file.
        path: PathBuf,
        /// What was being done, e.g. `table users`; may be empty.
        context: String,
        /// redb's error (boxed: it is large, and every `Result` would pay).
        #[source]
        source: Box<redb::Error>,
    },

    /// redb could not read the file: it stopped on damaged data, the file
    /// fails its integrity check, or it needs a crash recovery that this
    /// (read-only) open does not run. `aragora-db salvage` reads what is left.
    #[error("{}: {what}", path.display())]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What redb found.
        what: String,
    },

    /// A file is not laid out as this binary expects: missing, empty, not a
    /// regular file, another format, another layout version, or contents
    /// that disagree with what lists them (a backup manifest, the declared
    /// tables). Nothing was written.
    #[error("{}: {what}", path.display())]
    Layout {
        /// The file (or directory).
        path: PathBuf,
        /// Which of those it is.
        found: Found,
        /// What was found, and what was expected.
        what: String,
    },

    /// The legacy SQLite reader refused a file: damaged, not SQLite, a WAL
    /// it cannot trust, a file that kept changing. Nothing was written.
    #[error("{}: {}", path.display(), source.detail(path))]
    Sqlite {
        /// The legacy database file.
        path: PathBuf,
        /// The reader's error (boxed, as `Storage`'s).
        #[source]
        source: Box<crate::sqlite::SqliteError>,
    },

    /// Something this command needs is in use: a file open in this process
    /// or another, another restore running. Nothing was changed; try again
    /// when it is free.
    #[error("{0}")]
    Busy(String),

    /// The data disagrees with data already there (rows that differ, a
    /// verification that found mismatches). Nothing was written.
    #[error("{0}")]
    Conflict(String),

    /// An operation stopped after a point of no return and must be finished
    /// with the command the message names (e.g. `restore --recover`).
    #[error("{0}")]
    Incomplete(String),

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
    #[error(
        "UNIQUE constraint failed: {table}({columns}) = {value} already exists{}",
        held_by_text(existing)
    )]
    Unique {
        /// The table.
        table: &'static str,
        /// The constrained columns, comma separated.
        columns: String,
        /// The duplicate value, rendered.
        value: String,
        /// The primary key of the row that holds the value, rendered, when
        /// the backend knows it (the embedded store reads it from the
        /// index entry).
        existing: Option<String>,
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

    /// A bad argument: to an API call, on the command line, or a value a
    /// column cannot hold.
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

    /// Wraps a redb error with the database path, keeping it as the source.
    pub fn storage(path: impl Into<PathBuf>, err: impl Into<redb::Error>) -> Self {
        Error::Storage {
            path: path.into(),
            context: String::new(),
            source: Box::new(err.into()),
        }
    }

    /// [`Error::storage`] with what was being done (`table users`).
    pub fn storage_in(
        path: impl Into<PathBuf>,
        context: impl Into<String>,
        err: impl Into<redb::Error>,
    ) -> Self {
        Error::Storage {
            path: path.into(),
            context: context.into(),
            source: Box::new(err.into()),
        }
    }

    /// A file redb cannot read ([`Error::Damaged`]).
    pub fn damaged(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Damaged {
            path: path.into(),
            what: what.into(),
        }
    }

    /// A file not laid out as expected ([`Error::Layout`]).
    pub fn layout(path: impl Into<PathBuf>, found: Found, what: impl Into<String>) -> Self {
        Error::Layout {
            path: path.into(),
            found,
            what: what.into(),
        }
    }

    /// A legacy-reader error about `path` ([`Error::Sqlite`]); a wrapper
    /// naming the same file is unwrapped so the message names it once.
    pub fn sqlite(path: impl Into<PathBuf>, source: crate::sqlite::SqliteError) -> Self {
        Error::Sqlite {
            path: path.into(),
            source: Box::new(source),
        }
    }

    /// The message without the file it names first (for a report that
    /// names the file itself): redb's or the reader's own words.
    pub fn detail(&self) -> String {
        match self {
            Error::Storage {
                context, source, ..
            } => format!("{}{source}", context_prefix(context)),
            Error::Damaged { what, .. } | Error::Layout { what, .. } => what.clone(),
            Error::Sqlite { path, source } => source.detail(path),
            e => e.to_string(),
        }
    }

    /// True for a bad argument ([`Error::InvalidArgument`], [`Error::Config`],
    /// [`Error::Dsn`], an unknown name).
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            Error::InvalidArgument(_)
                | Error::Config { .. }
                | Error::Dsn { .. }
                | Error::Unknown { .. }
        )
    }

    /// True when a row that was asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True for a UNIQUE or PRIMARY KEY violation.
    pub fn is_unique(&self) -> bool {
        matches!(self, Error::Unique { .. })
    }

    /// True when stored bytes are damaged: a row or index entry, a file redb
    /// cannot read, an encrypted block that fails authentication, or a
    /// damaged legacy SQLite file.
    pub fn is_corrupt(&self) -> bool {
        match self {
            Error::Corrupt { .. } | Error::Damaged { .. } | Error::Authentication { .. } => true,
            Error::Storage { source, .. } => matches!(**source, redb::Error::Corrupted(_)),
            Error::Sqlite { source, .. } => source.is_corrupt(),
            _ => false,
        }
    }

    /// True when a file is not one this binary reads as given
    /// ([`Error::Layout`]), whatever [`Found`].
    pub fn is_layout(&self) -> bool {
        matches!(self, Error::Layout { .. })
    }

    /// True when something needed is held elsewhere: a file lock
    /// ([`Error::Locked`]), a busy resource ([`Error::Busy`]), every pooled
    /// PostgreSQL connection. Trying again later may succeed.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Error::Locked { .. } | Error::Busy(_) | Error::PoolTimeout { .. }
        )
    }

    /// True when the PostgreSQL server could not be reached or the
    /// connection broke (as opposed to the server refusing a statement).
    pub fn is_connection(&self) -> bool {
        match self {
            Error::PgConnection { .. } | Error::PoolTimeout { .. } => true,
            Error::Postgres { source, .. } => source.as_db_error().is_none(),
            _ => false,
        }
    }

    /// True for an I/O error from the operating system.
    pub fn is_io(&self) -> bool {
        match self {
            Error::Io { .. } => true,
            Error::Storage { source, .. } => matches!(**source, redb::Error::Io(_)),
            Error::Sqlite { source, .. } => {
                matches!(source.root(), crate::sqlite::SqliteError::Io { .. })
            }
            _ => false,
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

/// What [`Error::Layout`] found where a database file was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// No file at that path.
    Missing,
    /// Something other than a regular file (a directory, a socket, ...).
    NotAFile,
    /// A file of 0 bytes.
    Empty,
    /// A file of another format (SQLite, a redb file not of this tool, an
    /// unknown encryption header, not a backup manifest).
    Foreign,
    /// An aragora-db file of another storage layout version.
    OtherVersion,
    /// Contents that disagree with what describes them: a backup snapshot
    /// and its manifest, a file holding tables not declared for it.
    Inconsistent,
}

fn context_prefix(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
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

/// The end of an [`Error::Unique`] message naming the row that holds the value.
fn held_by_text(existing: &Option<String>) -> String {
    existing
        .as_ref()
        .map_or(String::new(), |pk| format!(" (row {pk})"))
}

impl Error {
    /// An [`Error::Unique`] that names the existing row holding the value
    /// (its primary key, rendered); other errors unchanged.
    pub fn held_by(self, existing: String) -> Error {
        match self {
            Error::Unique {
                table,
                columns,
                value,
                ..
            } => Error::Unique {
                table,
                columns,
                value,
                existing: Some(existing),
            },
            other => other,
        }
    }
}
