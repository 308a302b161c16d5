//! Read-only, pure-Rust reader for SQLite 3 database files.
//!
//! Implements the on-disk format described in SQLite's "Database File Format"
//! document (fileformat2: header §1.3, b-trees §1.6, overflow §1.6, freelist §1.5,
//! ptrmap §1.8, records §2.1, schema §2.6, rollback journal §3, WAL §4) and reads a
//! `-wal` exactly as SQLite's WAL recovery does. It never writes: no `-shm`, no
//! checkpoint, no journal rollback. Every defect in the input becomes a typed
//! [`SqliteError`] carrying the page and offset; nothing in a file can make it panic,
//! loop forever or allocate more than the file could hold.
//!
//! ```text
//! SqliteFile::open(path)             header + WAL frame index; refuses a hot -journal
//!   ├─ cache_stats() / validate()    bounded page cache; snapshot still intact?
//!   ├─ header() / wal_state()        header facts, WAL frames used / ignored and why
//!   ├─ tables() / indexes()          sqlite_schema + CREATE statements parsed
//!   ├─ rows(&table)                  streaming scan: Row { rowid, get(i) -> ValueRef }
//!   └─ row_count(&table)
//! dump::{write_jsonl, write_csv}     table → JSON lines / CSV
//! info::DbInfo                       `aragora-db sqlite info FILE`
//! ```
//!
//! ## Memory
//!
//! Pages are read on demand through a page cache of [`pager::DEFAULT_CACHE_BYTES`]
//! (or [`SqliteFile::open_with_cache`]); the WAL is kept as an index of frame
//! offsets, frame contents are read when needed. Resident page bytes stay under the
//! cache bound plus the pages live scans hold (their b-tree path, at most
//! [`cursor::MAX_DEPTH`] + 1 pages each) — see [`CacheStats`]. A value spilling into
//! overflow pages is assembled in memory (at most the file size, and
//! [`btree::MAX_PAYLOAD`]). A database no larger than the cache is read whole at open.
//! [`SqliteFile::from_bytes`] reads from a buffer in memory through the same cache.
//!
//! ## Consistency with concurrent writers
//!
//! Each [`SqliteFile`] reads one committed snapshot: the main file plus the WAL's
//! committed frames as they were at open. Without SQLite's locks a writer can still
//! change the files while pages are still to be read. The guarantee is:
//!
//! * A scan ([`Rows`], [`SqliteFile::row_count`], the schema and freelist walks) that
//!   ends without error returned only snapshot data: when it ends, the files are
//!   checked ([`snapshot`] explains how), and a change that could let newer data in
//!   makes the scan end with [`SqliteError::Changed`] naming the file ("changed while
//!   being read") instead. Rows yielded before that error may mix versions; discard
//!   them (the importer fails the whole file).
//! * The same check runs every [`pager::CHECK_EVERY_MISSES`] cache misses and before
//!   any other error is returned, so a change is usually reported early, and a torn
//!   page is reported as a change rather than as corruption.
//! * Every WAL frame read is checked against the WAL's salts and its page number.
//! * Limits: a change is seen through the main file's size, inode, mtime, ctime and
//!   change counter, and the WAL's inode, size and salts. A checkpoint in WAL mode
//!   that changes neither the size nor the change counter and lands within the same
//!   filesystem timestamp tick as open (a few ms on coarse clocks) could go unseen.
//!   A checkpoint while a writer appends to the WAL is reported even when it only
//!   copied frames the snapshot already had (false alarm; retry).
//! * Databases read whole at open are immune: later writes are never seen.
//!
//! Module layout: every file refers to its siblings only as `super::x`, so this
//! directory can be moved under another crate unchanged. The lints below (no
//! indexing, unwrap, expect or panic outside tests) cover every file in it.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
#![forbid(unsafe_code)]

pub mod btree;
pub mod cache;
pub mod cursor;
pub mod ddl;
pub mod defaults;
pub mod dump;
pub mod error;
pub mod file;
pub mod freelist;
#[cfg(any(test, feature = "testing"))]
pub mod fuzz;
pub mod header;
pub mod info;
pub mod journal;
pub mod load;
pub mod overflow;
pub mod pager;
pub mod pageset;
pub mod record;
pub mod rows;
pub mod schema;
pub mod snapshot;
pub mod source;
pub mod text;
pub mod value;
pub mod varint;
pub mod wal;

pub use self::error::{Result, SqliteError};
pub use self::file::SqliteFile;
pub use self::freelist::FreelistInfo;
#[cfg(any(test, feature = "testing"))]
pub use self::fuzz::{fuzz_entry, fuzz_file, fuzz_header, fuzz_record, fuzz_schema_sql, fuzz_wal};
pub use self::header::{AutoVacuum, DbHeader, TextEncoding};
pub use self::info::DbInfo;
pub use self::pager::CacheStats;
pub use self::rows::{OwnedRow, Row, Rows};
pub use self::schema::{
    Affinity, ColumnInfo, DefaultValue, ForeignKey, Generated, IndexInfo, SchemaEntry, TableInfo,
    TableKind,
};
pub use self::value::{Value, ValueRef};
pub use self::wal::WalState;
