//! Billing: the token/cost ledger of `usage.db` (`UsageTracker`, a table
//! apart from `users.db`'s `usage_events`) and the Stripe sync state of `billing.db`
//! (`UsageSyncService`, [`DatabaseType::Billing`]).
//!
//! The DDL is the original's
//! (`aragora/billing/usage.py`, `aragora/billing/usage_sync.py`, read from
//! the public source).
//!
//! Owners: the ledger → [`Store::Usage`] (`usage.db` in both modes: the
//! tracker opens `<data>/usage.db` directly, not through `get_db_path`);
//! the sync tables → [`DatabaseType::Billing`] (legacy `billing.db`,
//! consolidated `analytics.db`).
//!
//! Rename: the ledger's table is `usage_events` in `usage.db`, which
//! collides with `users.db`'s `usage_events` ([`super::users`]), a
//! different table; it is declared as `billing_usage_events` and importers
//! must map `usage.db:usage_events` to it. `cost_usd` is a decimal kept as
//! text (`str(Decimal)`), as the original stores it. The implicit UNIQUE
//! on `usage_sync_records.idempotency_key` is the unique index
//! `usage_sync_records_idempotency_key_key`. No foreign keys in the
//! original; no additions.

use crate::config::{DatabaseType, DbTarget, Store};
use crate::table;

const BILLING_DB: DbTarget = DbTarget::Type(DatabaseType::Billing);

table! {
    /// One metered usage event (tokens and cost); original name `usage_events` in `usage.db`.
    pub struct BillingUsageEvent as BILLING_USAGE_EVENTS {
        name: "billing_usage_events",
        sources: ["usage_events"],
        owner: DbTarget::Store(Store::Usage),
        version: 1,
        columns: {
            id: String => Text,
            user_id: String => Text,
            org_id: String => Text,
            event_type: String => Text,
            debate_id: Option<String> => Text,
            tokens_in: Option<i64> => Integer = "0",
            tokens_out: Option<i64> => Integer = "0",
            provider: Option<String> => Text,
            model: Option<String> => Text,
            cost_usd: Option<String> => Text = "'0'",
            metadata: Option<String> => Json = "'{}'",
            created_at: String => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_usage_org_created (org_id, created_at),
            index idx_usage_user_created (user_id, created_at),
            index idx_usage_debate (debate_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// Usage already reported to Stripe per organization and billing period.
    pub struct UsageSyncWatermark as USAGE_SYNC_WATERMARKS {
        name: "usage_sync_watermarks",
        owner: BILLING_DB,
        version: 1,
        columns: {
            org_id: String => Text,
            tokens_in: Option<i64> => Integer = "0",
            tokens_out: Option<i64> => Integer = "0",
            debates: Option<i64> => Integer = "0",
            period_start: String => Timestamp,
            updated_at: String => Timestamp,
        },
        primary_key: (org_id, period_start),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// One two-phase usage report to Stripe.
    pub struct UsageSyncRecord as USAGE_SYNC_RECORDS {
        name: "usage_sync_records",
        owner: BILLING_DB,
        version: 1,
        columns: {
            id: String => Text,
            org_id: String => Text,
            sync_type: String => Text,
            period_start: String => Timestamp,
            quantity_reported: i64 => Integer,
            cumulative_total: i64 => Integer,
            idempotency_key: String => Text,
            status: String => Text = "'pending'",
            stripe_record_id: Option<String> => Text,
            created_at: String => Timestamp,
            completed_at: Option<String> => Timestamp,
            error: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique usage_sync_records_idempotency_key_key (idempotency_key),
            index idx_sync_records_status (status),
            index idx_sync_records_org_period (org_id, period_start),
        },
        foreign_keys: {},
    }
}

table! {
    /// Key/value state of the sync service (e.g. `last_billing_period`).
    pub struct UsageSyncState as USAGE_SYNC_STATE {
        name: "usage_sync_state",
        owner: BILLING_DB,
        version: 1,
        columns: {
            key: String => Text,
            value: String => Text,
            updated_at: String => Timestamp,
        },
        primary_key: (key),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}
