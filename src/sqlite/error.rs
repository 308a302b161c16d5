//! Error type of the reader.
//!
//! Implements no section of the file format itself; it is the vocabulary every other
//! module uses to report a violation of one (fileformat2 §1.3 "Database header",
//! §1.6 "B-tree pages", §2.1 "Record format", WAL §4). A structural fault is always
//! [`SqliteError::Corrupt`] with the page number and byte offset where it was found;
//! the public API wraps errors in [`SqliteError::InFile`] so messages name the file.

use std::path::{Path, PathBuf};

/// Result alias used throughout the reader.
pub type Result<T, E = SqliteError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading a SQLite file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// Reading a file from disk failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a SQLite 3 database at all (no 16-byte magic, or shorter than
    /// the 100-byte header).
    #[error("{}: not a SQLite database: {reason}", path.display())]
    NotADatabase {
        /// The file ("" for in-memory input).
        path: PathBuf,
        /// Why (e.g. "file is 12 bytes, shorter than the 100-byte header").
        reason: String,
    },
    /// A structure in the file breaks the format (header, b-tree pages, overflow
    /// chains, freelist, records, schema).
    #[error("corrupt database: page {page}, offset {offset}: {what}")]
    Corrupt {
        /// 1-based page number (0 when the fault is not inside a page, e.g. a WAL header).
        page: u32,
        /// Byte offset inside that page (or inside the record payload, as `what` says).
        offset: u64,
        /// What was expected and what was found.
        what: String,
    },
    /// A valid but unsupported feature (future format version, virtual table contents…).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A hot rollback journal sits next to the database: the main file
    /// may be half-written, so it is refused rather than read.
    #[error(
        "{}: hot rollback journal present (a transaction was interrupted); open the database once with SQLite to roll it back, then retry",
        path.display()
    )]
    HotJournal {
        /// The `-journal` file.
        path: PathBuf,
    },
    /// The `-wal` file cannot be used and SQLite would refuse to open (a WAL format
    /// version other than 3007000, or a page size other than the database's).
    #[error("{}: WAL file rejected: {reason}", path.display())]
    WalRejected {
        /// The `-wal` file ("-wal" for in-memory input).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The files kept changing while they were being copied into memory.
    #[error("{}: the database kept changing while it was read ({reason}); retry when it is idle", path.display())]
    Unstable {
        /// The database file.
        path: PathBuf,
        /// What changed.
        reason: String,
    },
    /// A file changed after open in a way that could put data from after the open-time
    /// snapshot into what is read (see the guarantee in [`super`]'s docs). Rows already
    /// returned by the scan that fails may mix two versions: discard them.
    #[error("{}: changed while being read ({what}); retry when the database is idle", path.display())]
    Changed {
        /// The file that changed (main file or `-wal`).
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// A schema object could not be understood.
    #[error("schema of {table:?}: {message}")]
    Schema {
        /// Table (or index) name.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// No table of that name exists.
    #[error("no such table: {0:?}")]
    NoSuchTable(String),
    /// A value is larger than the configured per-value cap or than the file could hold.
    #[error(
        "page {page}, offset {offset}: value of {size} bytes exceeds the limit of {limit} bytes"
    )]
    TooLarge {
        /// Page of the cell.
        page: u32,
        /// Offset of the cell.
        offset: u64,
        /// Claimed size.
        size: u64,
        /// Limit that applied.
        limit: u64,
    },
    /// An error while writing a dump to the caller's writer.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    /// Another error, with the database file it happened in.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The database file.
        path: PathBuf,
        /// The error.
        #[source]
        source: Box<SqliteError>,
    },
}

impl SqliteError {
    /// Shorthand for [`SqliteError::Corrupt`].
    pub(crate) fn corrupt(page: u32, offset: usize, what: impl Into<String>) -> Self {
        SqliteError::Corrupt {
            page,
            offset: offset as u64,
            what: what.into(),
        }
    }

    /// A copy of a [`SqliteError::Changed`] (any other error becomes one carrying its text).
    pub(crate) fn clone_changed(&self) -> SqliteError {
        match self {
            SqliteError::Changed { path, what } => SqliteError::Changed {
                path: path.clone(),
                what: what.clone(),
            },
            other => SqliteError::Changed {
                path: PathBuf::new(),
                what: other.to_string(),
            },
        }
    }

    /// The error without any [`SqliteError::InFile`] wrapper.
    pub fn root(&self) -> &SqliteError {
        match self {
            SqliteError::InFile { source, .. } => source.root(),
            other => other,
        }
    }

    /// True if the file (or WAL) is structurally damaged.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self.root(),
            SqliteError::Corrupt { .. } | SqliteError::TooLarge { .. }
        )
    }

    /// The file this error's message starts with, if it starts with one.
    fn own_path(&self) -> Option<&Path> {
        match self {
            SqliteError::Io { path, .. }
            | SqliteError::NotADatabase { path, .. }
            | SqliteError::HotJournal { path }
            | SqliteError::WalRejected { path, .. }
            | SqliteError::Unstable { path, .. }
            | SqliteError::Changed { path, .. }
            | SqliteError::InFile { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The message for a report that names the database `main` itself: without
    /// `main`'s path (so a line reads `x.db: not a SQLite database: …`, not
    /// `x.db: /src/x.db: not a SQLite database: …`). A sidecar file (`-wal`,
    /// `-journal`) the error is about is still named, by its file name.
    pub fn detail(&self, main: &Path) -> String {
        if let SqliteError::InFile { path, source } = self
            && (path == main || path.as_os_str().is_empty())
        {
            return source.detail(main);
        }
        let text = self.to_string();
        let Some(path) = self.own_path() else {
            return text;
        };
        let shown = format!("{}: ", path.display());
        let Some(rest) = text.strip_prefix(&shown) else {
            return text;
        };
        if path == main || path.as_os_str().is_empty() {
            rest.to_string()
        } else {
            let name = path.file_name().unwrap_or(path.as_os_str());
            format!("{}: {rest}", name.to_string_lossy())
        }
    }

    /// Page and byte offset of a structural fault, when the error has them.
    pub fn location(&self) -> Option<(u32, u64)> {
        match self.root() {
            SqliteError::Corrupt { page, offset, .. }
            | SqliteError::TooLarge { page, offset, .. } => Some((*page, *offset)),
            _ => None,
        }
    }

    /// Attach the database path (no-op for errors that already name a file, or with an empty path).
    pub fn with_path(self, path: &Path) -> Self {
        if path.as_os_str().is_empty() {
            return self;
        }
        match self {
            e @ (SqliteError::Io { .. }
            | SqliteError::NotADatabase { .. }
            | SqliteError::HotJournal { .. }
            | SqliteError::WalRejected { .. }
            | SqliteError::Unstable { .. }
            | SqliteError::Changed { .. }
            | SqliteError::InFile { .. }) => e,
            e => SqliteError::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
        }
    }
}
