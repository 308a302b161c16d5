//! `audit.db`: the hash-chained `AuditLog` events (the original's
//! `aragora/audit/log.py`) and the simple `AuditStore` table
//! (`aragora/storage/audit_store.py`); both default to this file.
//!
//! Owner: [`Store::Audit`] for both, its own file in both modes.
//!
//! Rename: `AuditStore`'s table is called `audit_log` in the original, which
//! collides with `users.db`'s `audit_log` ([`super::users`]); it is
//! declared as `audit_store_log`. Importers must map `audit.db:audit_log`
//! to it. Its `id` is a plain `INTEGER PRIMARY KEY` (rowid alias, no
//! AUTOINCREMENT). `AuditStore` creates five indexes; when `AuditLog` ran
//! first, `idx_audit_timestamp`, `idx_audit_org` and `idx_audit_resource`
//! already existed on `audit_events` and were silently skipped, so real
//! files may lack them on `audit_log`. All five are declared here, with
//! the columns `AuditStore` gives them (`idx_audit_timestamp` is `DESC`
//! there; ascending here, scanned in reverse).
//!
//! `audit_events.details` is a JSON object; `timestamp` is UTC-aware ISO.
//!
//! Not representable: the FTS5 virtual table `audit_fts` with its shadow
//! tables (`audit_fts_data`, `_idx`, `_docsize`, `_config`) and the
//! trigger `audit_ai` that fills it; they are derived data, rebuilt from
//! `audit_events` rather than declared. No foreign keys in the original.

use crate::config::{DbTarget, Store};
use crate::table;

const AUDIT_DB: DbTarget = DbTarget::Store(Store::Audit);

table! {
    /// One immutable audit event (`event_hash` chains to `previous_hash`).
    pub struct AuditEvent as AUDIT_EVENTS {
        name: "audit_events",
        owner: AUDIT_DB,
        version: 1,
        columns: {
            id: String => Text,
            timestamp: String => Timestamp,
            category: String => Text,
            action: String => Text,
            actor_id: String => Text,
            resource_type: Option<String> => Text,
            resource_id: Option<String> => Text,
            outcome: String => Text,
            ip_address: Option<String> => Text,
            user_agent: Option<String> => Text,
            correlation_id: Option<String> => Text,
            org_id: Option<String> => Text,
            workspace_id: Option<String> => Text,
            details: Option<String> => Json = "'{}'" [pg as Text],
            reason: Option<String> => Text,
            previous_hash: Option<String> => Text,
            event_hash: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_audit_timestamp (timestamp),
            index idx_audit_category (category),
            index idx_audit_actor (actor_id),
            index idx_audit_org (org_id),
            index idx_audit_resource (resource_type, resource_id),
            index idx_audit_outcome (outcome),
        },
        foreign_keys: {},
    }
}

table! {
    /// One `AuditStore` entry (original table name `audit_log` in `audit.db`).
    pub struct AuditStoreEntry as AUDIT_STORE_LOG {
        name: "audit_store_log",
        sources: ["audit_log"],
        owner: AUDIT_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            timestamp: String => Timestamp,
            user_id: Option<String> => Text,
            org_id: Option<String> => Text,
            action: String => Text,
            resource_type: String => Text,
            resource_id: Option<String> => Text,
            old_value: Option<String> => Json [pg as Text],
            new_value: Option<String> => Json [pg as Text],
            metadata: Option<String> => Json [pg as Text],
            ip_address: Option<String> => Text,
            user_agent: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_audit_user (user_id),
            index idx_audit_action (action),
            index idx_audit_timestamp (timestamp),
            index idx_audit_org (org_id),
            index idx_audit_resource (resource_type, resource_id),
        },
        foreign_keys: {},
    }
}
