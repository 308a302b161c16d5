//! Webhook configurations (`webhook_configs.db`, `SQLiteWebhookConfigStore`
//! in the original's `aragora/storage/webhook_config_store.py`) and
//! processed-event idempotency records (`webhook_events.db`,
//! `SQLiteWebhookStore` in `aragora/storage/webhook_store.py`).
//!
//! Owners: [`Store::WebhookConfigs`] and [`Store::WebhookEvents`], each its
//! own file in both modes. One shape each; times are REAL Unix epoch
//! seconds; `active` is a 0/1 flag; `events_json` is a JSON list;
//! `secret` is an AES-GCM blob in base64 text when encryption is available
//! (docs/ENCRYPTION.md, "Column secrets"), kept as text. No foreign keys, no additions.

use crate::config::{DbTarget, Store};
use crate::table;

table! {
    /// A registered webhook endpoint.
    pub struct WebhookConfig as WEBHOOK_CONFIGS {
        name: "webhook_configs",
        owner: DbTarget::Store(Store::WebhookConfigs),
        version: 1,
        columns: {
            id: String => Text,
            url: String => Text,
            events_json: String => Json,
            secret: String => Text,
            active: bool => Bool = "1",
            created_at: f64 => Epoch [pg as Timestamptz],
            updated_at: f64 => Epoch [pg as Timestamptz],
            name: Option<String> => Text,
            description: Option<String> => Text,
            last_delivery_at: Option<f64> => Epoch [pg as Timestamptz],
            last_delivery_status: Option<i64> => Integer,
            delivery_count: Option<i64> => Integer = "0",
            failure_count: Option<i64> => Integer = "0",
            user_id: Option<String> => Text,
            workspace_id: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_webhook_configs_user (user_id),
            index idx_webhook_configs_workspace (workspace_id),
            index idx_webhook_configs_active (active),
        },
        foreign_keys: {},
    }
}

table! {
    /// An inbound webhook event already processed (for idempotency).
    pub struct WebhookEvent as WEBHOOK_EVENTS {
        name: "webhook_events",
        owner: DbTarget::Store(Store::WebhookEvents),
        version: 1,
        columns: {
            event_id: String => Text,
            processed_at: f64 => Epoch [pg as Timestamptz],
            result: String => Text,
        },
        primary_key: (event_id),
        autoincrement: false,
        indexes: {
            index idx_webhook_processed_at (processed_at),
        },
        foreign_keys: {},
    }
}
