//! Stores: the original's store classes, each a thin layer over the
//! [`table`](mod@crate::table) machinery. Stores never touch index tables.
//!
//! What every store needs is written once, outside the stores, so that a
//! store holds only what is its own:
//!
//! - timing: each operation runs through
//!   [`Database::op`](crate::db::Database::op) (or `read_op` /
//!   `write_op`) under its name, which times and slow-logs it as a whole;
//! - the time: read from the configuration's [`Clock`](crate::time::Clock)
//!   through [`Database::now`](crate::db::Database::now) and its siblings,
//!   so tests set a manual clock instead of passing the time to every call;
//! - queries: rows of an index key or of the whole table in time order,
//!   the newest few or a page (`query`);
//! - checks and errors worded alike (`common`).

pub mod audit;
pub mod calibration;
pub(crate) mod common;
pub mod consensus;
pub mod continuum;
pub mod critique;
pub mod elo;
pub mod explainability;
pub mod genesis;
pub mod insights;
pub mod nomic;
pub mod orgs;
pub mod personas;
pub mod policy;
pub mod positions;
pub(crate) mod query;
pub mod share_links;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod webhooks;

pub use audit::{AuditEvent, AuditLog, AuditQuery};
pub use orgs::OrganizationStore;
pub use share_links::ShareLinkStore;
pub use tokens::TokenBlacklist;
pub use usage::UsageStore;
pub use users::{LockoutInfo, UserStore};
