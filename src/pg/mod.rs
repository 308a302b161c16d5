//! PostgreSQL as a backend of the table API: the same stores, on a live
//! database (see docs/POSTGRES.md).
//!
//! * [`shape`]: each declared table's names and types on PostgreSQL, and
//!   the conversion of values.
//! * [`sql`]: the statements of the table API.
//! * [`rows`]: snapshots and write transactions implementing
//!   [`RowSource`](crate::table::RowSource) and
//!   [`RowSink`](crate::table::RowSink).
//! * [`schema`]: creating the declared tables.

pub mod rows;
pub mod schema;
pub mod shape;
pub mod sql;
