//! The continuum memory (`continuum.db`, which the server names
//! `continuum_memory.db`; `ContinuumMemory` in the original's
//! `aragora/memory/continuum/`; consolidated `memory.db`).
//!
//! Owner: [`DatabaseType::ContinuumMemory`] (legacy `continuum.db`,
//! consolidated `memory.db`). `continuum_memory.db` is an import source for
//! the same tables.
//!
//! Unions: `continuum_memory` holds every column of the three historical
//! layouts and the consolidated one; `expires_at`, `red_line` and
//! `red_line_reason` are nullable because older files and the consolidated
//! schema lack them (docs/ORIGINAL.md, "Historical layouts" and "The
//! consolidated schema files"). `red_line` is a 0/1 flag.
//!
//! `tier_transitions.memory_id` → `continuum_memory` is `Cascade`, the
//! consolidated action (the legacy FK has none; orphans are normal in real
//! files and are kept by the importer, which disables enforcement).
//! `idx_tier_transitions_memory` is the consolidated index; the legacy
//! composite tier indexes and `idx_continuum_red_line` are kept too.
//!
//! Not representable: `DESC` in `idx_continuum_surprise`,
//! `idx_continuum_importance`, `idx_continuum_tier_importance` and
//! `idx_continuum_tier_surprise`; our indexes are ascending and are scanned
//! in reverse for descending order.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const CONTINUUM: DbTarget = DbTarget::Type(DatabaseType::ContinuumMemory);

table! {
    /// One memory in a tier (`fast`, `medium`, `slow`, `glacial`).
    pub struct ContinuumMemory as CONTINUUM_MEMORY {
        name: "continuum_memory",
        owner: CONTINUUM,
        version: 1,
        columns: {
            id: String => Text,
            tier: String => Text = "'slow'",
            content: String => Text,
            importance: Option<f64> => Real = "0.5",
            surprise_score: Option<f64> => Real = "0.0",
            consolidation_score: Option<f64> => Real = "0.0",
            update_count: Option<i64> => Integer = "0",
            success_count: Option<i64> => Integer = "0",
            failure_count: Option<i64> => Integer = "0",
            semantic_centroid: Option<Vec<u8>> => Blob,
            last_promotion_at: Option<String> => Timestamp,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            metadata: Option<String> => Json = "'{}'",
            expires_at: Option<String> => Timestamp,
            red_line: Option<bool> => Bool = "0",
            red_line_reason: Option<String> => Text = "''",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_continuum_tier (tier),
            index idx_continuum_surprise (surprise_score),
            index idx_continuum_importance (importance),
            index idx_continuum_tier_updated (tier, updated_at),
            index idx_continuum_tier_importance (tier, importance),
            index idx_continuum_tier_surprise (tier, surprise_score),
            index idx_continuum_expires (expires_at),
            index idx_continuum_red_line (red_line),
        },
        foreign_keys: {},
    }
}

table! {
    /// A snapshot of the meta-learner's hyperparameters.
    pub struct MetaLearningState as META_LEARNING_STATE {
        name: "meta_learning_state",
        owner: CONTINUUM,
        version: 1,
        columns: {
            id: i64 => Integer,
            hyperparams: String => Json,
            learning_efficiency: Option<f64> => Real,
            pattern_retention_rate: Option<f64> => Real,
            forgetting_rate: Option<f64> => Real,
            cycles_evaluated: Option<i64> => Integer = "0",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// A memory's move between tiers.
    pub struct TierTransition as TIER_TRANSITIONS {
        name: "tier_transitions",
        owner: CONTINUUM,
        version: 1,
        columns: {
            id: i64 => Integer,
            memory_id: String => Text,
            from_tier: String => Text,
            to_tier: String => Text,
            reason: Option<String> => Text,
            surprise_score: Option<f64> => Real,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_tier_transitions_memory (memory_id),
        },
        foreign_keys: {
            (memory_id) -> ContinuumMemory: Cascade,
        },
    }
}

table! {
    /// A deleted memory, kept with the reason it was archived.
    pub struct ContinuumMemoryArchive as CONTINUUM_MEMORY_ARCHIVE {
        name: "continuum_memory_archive",
        owner: CONTINUUM,
        version: 1,
        columns: {
            id: String => Text,
            tier: String => Text,
            content: String => Text,
            importance: Option<f64> => Real,
            surprise_score: Option<f64> => Real,
            consolidation_score: Option<f64> => Real,
            update_count: Option<i64> => Integer,
            success_count: Option<i64> => Integer,
            failure_count: Option<i64> => Integer,
            semantic_centroid: Option<Vec<u8>> => Blob,
            created_at: Option<String> => Timestamp,
            updated_at: Option<String> => Timestamp,
            archived_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            archive_reason: Option<String> => Text,
            metadata: Option<String> => Json,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_archive_tier (tier),
            index idx_archive_archived_at (archived_at),
        },
        foreign_keys: {},
    }
}
