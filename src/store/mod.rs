//! Stores: the original's store classes, each a thin layer over the
//! [`table`](crate::table) machinery. Stores never touch index tables.

pub mod audit;
pub mod orgs;
pub mod usage;
pub mod users;

pub use audit::{AuditEvent, AuditLog, AuditQuery};
pub use orgs::OrganizationStore;
pub use usage::UsageStore;
pub use users::{LockoutInfo, UserStore};
