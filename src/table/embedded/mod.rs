//! The embedded backend: declared tables on redb, laid out as
//! [`layout`](super::layout) describes.
//!
//! * [`read`]: [`Snapshot`](read::Snapshot), a redb read snapshot.
//! * [`write`](mod@write): [`Txn`](write::Txn), a redb write transaction that keeps
//!   indexes, counts, sequences and foreign keys in step.
//! * `bulk`: sorted bulk inserts; `rebuild`: index rebuilds for migrations.

pub mod read;
pub mod write;

mod bulk;
mod rebuild;
