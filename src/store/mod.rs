//! Stores: the original's store classes, each a thin layer over the
//! [`table`](mod@crate::table) machinery. Stores never touch index tables.

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
