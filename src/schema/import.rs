//! The importer's own tables (`import.redb`, both modes): what it could not
//! type and what it does not know, kept whole so that nothing a legacy file
//! holds is lost.
//!
//! Every source row is addressed by (file relative to the source
//! directory, table, rowid). WITHOUT ROWID tables use the row's ordinal in
//! key order instead of a rowid. The row's values are kept in the row's
//! extra map, one entry per source column, exactly as SQLite stored them
//! (text that is not valid UTF-8 is kept as a blob and named in the reason).

use crate::config::{DbTarget, Store};
use crate::table;
use crate::table::Value;

const IMPORT: DbTarget = DbTarget::Store(Store::Import);

table! {
    /// A source row that could not be typed into its table.
    pub struct ImportReject as IMPORT_REJECTS {
        name: "import_rejects",
        owner: IMPORT,
        version: 1,
        columns: {
            source_file: String => Text,
            source_table: String => Text,
            source_rowid: i64 => Integer,
            target_table: String => Text,
            column_name: Option<String> => Text,
            reason: String => Text,
            raw_value: Value => Blob,
            raw_type: String => Text,
            imported_at: String => Timestamp,
        },
        primary_key: (source_file, source_table, source_rowid),
        autoincrement: false,
        indexes: {
            index idx_import_rejects_target (target_table),
        },
        foreign_keys: {},
    }
}

table! {
    /// A source table no declaration matches, with its CREATE statement.
    pub struct ImportRawTable as IMPORT_RAW_TABLES {
        name: "import_raw_tables",
        owner: IMPORT,
        version: 1,
        columns: {
            source_file: String => Text,
            source_table: String => Text,
            sql: String => Text,
            columns: String => Json,
            row_count: i64 => Integer,
            imported_at: String => Timestamp,
        },
        primary_key: (source_file, source_table),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// One row of a raw table; its values are in the extra map.
    pub struct ImportRawRow as IMPORT_RAW_ROWS {
        name: "import_raw_rows",
        owner: IMPORT,
        version: 1,
        columns: {
            source_file: String => Text,
            source_table: String => Text,
            source_rowid: i64 => Integer,
        },
        primary_key: (source_file, source_table, source_rowid),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
        }
}

table! {
    /// A source row given a new id: an AUTOINCREMENT row from a file that
    /// is not its table's usual home, whose id was already taken by another
    /// row (the InsightsDatabase tables live in several files, each with
    /// its own ids). Lets a later import find it again.
    pub struct ImportRekeyed as IMPORT_REKEYED {
        name: "import_rekeyed",
        owner: IMPORT,
        version: 1,
        columns: {
            source_file: String => Text,
            source_table: String => Text,
            source_rowid: i64 => Integer,
            target_table: String => Text,
            target_id: i64 => Integer,
        },
        primary_key: (source_file, source_table, source_rowid),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}
