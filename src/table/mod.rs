//! The typed-table machinery, independent of any particular table, in
//! layers that depend only downward:
//!
//! * [`def`]: [`TableDef`] and friends, produced by [`table!`](crate::table!);
//!   [`handle`]: typed index handles; [`set`]: the tables of one database.
//! * [`value`], [`keys`], [`codec`]: values, their order-preserving key
//!   encoding, and the stored row envelope.
//! * [`range`]: [`KeyRange`] and [`Page`], what a scan asks for.
//! * [`api`]: the backend interface ([`RowSource`], [`RowSink`]) and the
//!   one typed read surface ([`Read`]).
//! * [`layout`] and [`embedded`]: the embedded backend on redb.
//! * [`Reader`] and [`Writer`]: a snapshot and a write transaction on any
//!   backend, with typed reads and writes.
//! * [`check`]: row ↔ index agreement and constraint checks (embedded).

pub mod api;
pub mod check;
pub mod codec;
pub mod def;
pub mod embedded;
pub mod fingerprint;
pub mod handle;
pub mod keys;
pub mod layout;
pub mod macros;
pub mod range;
pub mod read;
pub mod set;
pub mod value;
pub mod writer;

pub use api::{Read, RowSink, RowSource};
pub use codec::{Extras, RowView};
pub use def::{
    ColumnDef, ForeignKeyDef, IndexDef, OnDelete, Row, SqlType, TableDef, column_position, field,
};
pub use handle::{Index, KeyArg, KeyOf, PrefixOf};
pub use keys::{IntoKey, RawKey};
pub use layout::raw_def;
pub use range::{Edge, KeyRange, Page};
pub use read::Reader;
pub use set::TableSet;
pub use value::{ColumnValue, Value, ValueRef};
pub use writer::Writer;

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
