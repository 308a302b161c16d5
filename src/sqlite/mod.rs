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
//! SqliteFile::open(path)             reads main file + -wal into memory, refuses a hot -journal
//!   ├─ header() / wal_state()        header facts, WAL frames used / ignored and why
//!   ├─ tables() / indexes()          sqlite_schema + CREATE statements parsed
//!   ├─ rows(&table)                  streaming scan: Row { rowid, get(i) -> ValueRef }
//!   └─ row_count(&table)
//! dump::{write_jsonl, write_csv}     table → JSON lines / CSV
//! info::DbInfo                       `aragora-db sqlite info FILE`
//! ```
//!
//! Module layout: every file refers to its siblings only as `super::x`, so this
//! directory can be moved under another crate unchanged.
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
pub mod cursor;
pub mod ddl;
pub mod defaults;
pub mod dump;
pub mod error;
pub mod file;
pub mod freelist;
pub mod fuzz;
pub mod header;
pub mod info;
pub mod journal;
pub mod overflow;
pub mod pager;
pub mod record;
pub mod rows;
pub mod schema;
pub mod text;
pub mod value;
pub mod varint;
pub mod wal;

pub use self::error::{Result, SqliteError};
pub use self::file::SqliteFile;
pub use self::freelist::FreelistInfo;
pub use self::fuzz::{fuzz_entry, fuzz_file, fuzz_header, fuzz_record, fuzz_schema_sql, fuzz_wal};
pub use self::header::{AutoVacuum, DbHeader, TextEncoding};
pub use self::info::DbInfo;
pub use self::rows::{OwnedRow, Row, Rows};
pub use self::schema::{
    Affinity, ColumnInfo, DefaultValue, ForeignKey, Generated, IndexInfo, SchemaEntry, TableInfo,
    TableKind,
};
pub use self::value::{Value, ValueRef};
pub use self::wal::WalState;
