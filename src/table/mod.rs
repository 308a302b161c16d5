//! The typed-table machinery, independent of any particular table.
//!
//! * [`def`]: [`TableDef`] and friends, produced by [`table!`](crate::table!).
//! * [`value`]: [`Value`], [`ValueRef`] and the Rust field conversions.
//! * [`keys`]: order-preserving key encoding.
//! * [`codec`]: the stored row envelope (format byte, postcard, CRC32).
//! * [`write`](mod@write): [`Writer`], which keeps indexes and constraints in step.
//! * [`read`]: [`Reader`], gets, scans, pagination and counts.
//! * [`check`]: row ↔ index agreement and constraint checks.
//! * [`rebuild_index`]: an index derived again from the rows (migrations).

pub mod check;
pub mod codec;
pub mod def;
pub mod fingerprint;
pub mod handle;
pub mod keys;
pub mod macros;
pub mod read;
pub mod value;
pub mod write;

mod bulk;
mod rebuild;

pub use codec::{Extras, RowView};
pub use def::{
    ColumnDef, ForeignKeyDef, IndexDef, OnDelete, Row, SqlType, TableDef, column_position, field,
};
pub use handle::{Index, KeyArg, KeyOf, PrefixOf};
pub use keys::{IntoKey, RawKey};
pub use read::{KeyRange, Page, Reader};
pub use value::{ColumnValue, Value, ValueRef};
pub use write::{Writer, raw_def};

/// Drops every entry of one index of `def` and derives them again from
/// every row, checking UNIQUE (see [`Writer::rebuild_index`]). What a schema
/// migration that adds or changes an index must do: re-writing rows does
/// not fill a new index.
pub fn rebuild_index(
    w: &mut Writer<'_>,
    def: &'static TableDef,
    index: &str,
) -> crate::Result<u64> {
    w.rebuild_index(def, index)
}
