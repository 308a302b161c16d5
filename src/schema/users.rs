//! `users.db`: users, organizations, audit log, usage events, OAuth links
//! and invitations (`UserStore` in the original's
//! `aragora/storage/user_store/sqlite_store.py`; docs/ORIGINAL.md, "Where
//! DATABASE.md and the code disagree").
//!
//! Each table holds the union of the documented columns and the columns real
//! files have. Where the two disagree the documented name is the column and
//! the real name is an alias (`locked_until` / `lockout_until`,
//! `failed_login_count` / `failed_login_attempts`, `usage_events.timestamp` /
//! `created_at`). A column is NOT NULL only if it is NOT NULL in every shape.
//!
//! Our additions, each to serve a foreign key or a documented lookup:
//! `idx_orgs_owner`, `idx_orgs_subscription`, `idx_invitations_invited_by`,
//! `idx_invitations_accepted_by`, and the `usage_summary` table. The audit
//! indexes carry `timestamp` as a second column so that per-user,
//! per-organization and per-action queries come back in time order.
//! `audit_log` has no foreign keys, as documented: audit entries outlive the
//! users and organizations they mention.

use crate::config::{DbTarget, Store};
use crate::table;

const USERS_DB: DbTarget = DbTarget::Store(Store::Users);

table! {
    /// A user account.
    pub struct User as USERS {
        name: "users",
        owner: USERS_DB,
        version: 2,
        columns: {
            id: String => Text,
            email: String => Text,
            password_hash: String => Text,
            password_salt: String => Text,
            name: Option<String> => Text = "''",
            org_id: Option<String> => Text,
            role: Option<String> => Text = "'member'",
            created_at: String => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: String => Timestamp = "CURRENT_TIMESTAMP",
            last_login_at: Option<String> => Timestamp,
            is_active: Option<bool> => Bool = "1",
            email_verified: Option<bool> => Bool = "0",
            avatar_url: Option<String> => Text,
            preferences: Option<String> => Json = "'{}'",
            locked_until: Option<String> => Timestamp [aka "lockout_until"] [pg "lockout_until"],
            failed_login_count: Option<i64> => Integer = "0" [aka "failed_login_attempts"]
                [pg "failed_login_attempts"],
            lockout_reason: Option<String> => Text,
            last_activity_at: Option<String> => Timestamp,
            last_debate_at: Option<String> => Timestamp,
            api_key: Option<String> => Text,
            api_key_hash: Option<String> => Text,
            api_key_prefix: Option<String> => Text,
            api_key_created_at: Option<String> => Timestamp,
            api_key_expires_at: Option<String> => Timestamp,
            mfa_secret: Option<String> => Text,
            mfa_enabled: Option<bool> => Bool = "0",
            mfa_backup_codes: Option<String> => Text,
            token_version: Option<i64> => Integer = "1",
            last_failed_login_at: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique idx_users_email (email) covering,
            unique idx_users_api_key (api_key),
            unique idx_users_api_key_hash (api_key_hash),
            index idx_users_org (org_id) covering,
            index idx_users_org_role (org_id, role),
        },
        foreign_keys: {
            (org_id) -> Organization: SetNull,
        },
    }
}

table! {
    /// An organization (tenant).
    pub struct Organization as ORGANIZATIONS {
        name: "organizations",
        owner: USERS_DB,
        version: 1,
        columns: {
            id: String => Text,
            name: String => Text,
            slug: String => Text,
            tier: Option<String> => Text = "'free'",
            owner_id: Option<String> => Text,
            stripe_customer_id: Option<String> => Text,
            stripe_subscription_id: Option<String> => Text,
            debates_used_this_month: Option<i64> => Integer = "0" [pg as Integer],
            billing_cycle_start: Option<String> => Timestamp,
            settings: Option<String> => Json = "'{}'",
            created_at: String => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: String => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique idx_orgs_slug (slug),
            index idx_orgs_stripe (stripe_customer_id),
            index idx_orgs_subscription (stripe_subscription_id),
            index idx_orgs_owner (owner_id),
        },
        foreign_keys: {
            (owner_id) -> User: SetNull,
        },
    }
}

table! {
    /// One audit event. Append-only through the store API.
    pub struct AuditEntry as AUDIT_LOG {
        name: "audit_log",
        owner: USERS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            timestamp: String => Timestamp,
            user_id: Option<String> => Text,
            org_id: Option<String> => Text,
            action: String => Text,
            resource_type: Option<String> => Text,
            resource_id: Option<String> => Text,
            details: Option<String> => Json = "'{}'" [pg as Text],
            ip_address: Option<String> => Text,
            user_agent: Option<String> => Text,
            old_value: Option<String> => Json [pg as Text],
            new_value: Option<String> => Json [pg as Text],
            metadata: Option<String> => Json = "'{}'" [pg as Text],
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_audit_user (user_id, timestamp),
            index idx_audit_org (org_id, timestamp),
            index idx_audit_timestamp (timestamp) covering,
            index idx_audit_action (action, timestamp),
        },
        foreign_keys: {},
    }
}

table! {
    /// A raw usage event (pruned after aggregation into `usage_summary`).
    pub struct UsageEvent as USAGE_EVENTS {
        name: "usage_events",
        owner: USERS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            org_id: String => Text,
            event_type: String => Text,
            count: Option<i64> => Integer = "1" [pg as Integer],
            metadata: Option<String> => Json = "'{}'",
            timestamp: String => Timestamp = "CURRENT_TIMESTAMP" [aka "created_at"] [pg "created_at"],
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_usage_org (org_id),
            index idx_usage_timestamp (timestamp),
            index idx_usage_org_type (org_id, event_type),
        },
        foreign_keys: {
            (org_id) -> Organization: Cascade,
        },
    }
}

table! {
    /// Monthly usage totals per organization and event type.
    ///
    /// `total_count` covers every event of the month, live or pruned;
    /// `pruned_count` is the part whose raw rows were deleted, so
    /// `total_count - pruned_count` always equals the live rows' sum.
    pub struct UsageSummary as USAGE_SUMMARY {
        name: "usage_summary",
        owner: USERS_DB,
        version: 1,
        columns: {
            org_id: String => Text,
            month: String => Text,
            event_type: String => Text,
            total_count: i64 => Integer = "0",
            event_rows: i64 => Integer = "0",
            pruned_count: i64 => Integer = "0",
            pruned_rows: i64 => Integer = "0",
            updated_at: String => Timestamp,
        },
        primary_key: (org_id, month, event_type),
        autoincrement: false,
        indexes: {},
        foreign_keys: {
            (org_id) -> Organization: Cascade,
        },
    }
}

table! {
    /// A linked OAuth identity.
    pub struct OAuthProvider as OAUTH_PROVIDERS {
        name: "oauth_providers",
        owner: USERS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            user_id: String => Text,
            provider: String => Text,
            provider_user_id: String => Text,
            email: Option<String> => Text,
            linked_at: Option<String> => Timestamp,
            access_token: Option<String> => Text,
            refresh_token: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique idx_oauth_provider (provider, provider_user_id),
            index idx_oauth_user (user_id),
        },
        foreign_keys: {
            (user_id) -> User: Cascade,
        },
    }
}

table! {
    /// An invitation to join an organization.
    pub struct OrgInvitation as ORG_INVITATIONS {
        name: "org_invitations",
        owner: USERS_DB,
        version: 1,
        columns: {
            id: String => Text,
            org_id: String => Text,
            email: String => Text,
            role: Option<String> => Text = "'member'",
            token: String => Text,
            invited_by: Option<String> => Text,
            status: Option<String> => Text = "'pending'",
            created_at: String => Timestamp = "CURRENT_TIMESTAMP",
            expires_at: Option<String> => Timestamp,
            accepted_at: Option<String> => Timestamp,
            accepted_by: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_invitations_org (org_id),
            index idx_invitations_email (email),
            unique idx_invitations_token (token),
            index idx_invitations_status (status),
            index idx_invitations_invited_by (invited_by),
            index idx_invitations_accepted_by (accepted_by),
        },
        foreign_keys: {
            (org_id) -> Organization: Cascade,
            (invited_by) -> User: SetNull,
            (accepted_by) -> User: SetNull,
        },
    }
}
