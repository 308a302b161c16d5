//! Consolidated-only tables of `analytics.db` (the original's
//! `aragora/persistence/schemas/analytics.sql`; docs/ORIGINAL.md, "The
//! consolidated schema files" and "consolidate.py"): prompt evolution and
//! meta-learning. No current legacy code creates them; `consolidate.py`
//! copies them from the legacy files named below.
//!
//! Owners (both consolidate to `analytics.db`): `prompt_versions`,
//! `evolution_history`, `extracted_patterns` →
//! [`DatabaseType::PromptEvolution`] (`prompt_evolution.db`);
//! `meta_hyperparams`, `meta_efficiency_log` →
//! [`DatabaseType::MetaLearning`] (`meta_learning.db`).
//!
//! `evolution_history` here is the prompt-evolution table and keeps its
//! name; the InsightsDatabase table of the same legacy name is declared as
//! `agent_evolution_history` ([`super::laboratory`]). The implicit UNIQUE of
//! `prompt_versions` is the unique index
//! `prompt_versions_prompt_name_version_key`. `idx_patterns_type` exists on
//! both `extracted_patterns` and the critique store's `patterns`;
//! index names are per table here, so both keep it. No foreign keys in the
//! original (`parent_version`, `from_version`, `to_version` are not
//! declared references); no additions.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const PROMPT_DB: DbTarget = DbTarget::Type(DatabaseType::PromptEvolution);
const META_DB: DbTarget = DbTarget::Type(DatabaseType::MetaLearning);

table! {
    /// One version of a named prompt.
    pub struct PromptVersion as PROMPT_VERSIONS {
        name: "prompt_versions",
        owner: PROMPT_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            prompt_name: String => Text,
            version: i64 => Integer,
            content: String => Text,
            parent_version: Option<i64> => Integer,
            fitness_score: Option<f64> => Real,
            usage_count: Option<i64> => Integer = "0",
            success_rate: Option<f64> => Real,
            metadata: Option<String> => Json = "'{}'",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique prompt_versions_prompt_name_version_key (prompt_name, version),
            index idx_prompt_versions_name (prompt_name),
        },
        foreign_keys: {},
    }
}

table! {
    /// One step of a prompt's evolution.
    pub struct PromptEvolution as EVOLUTION_HISTORY {
        name: "evolution_history",
        owner: PROMPT_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            prompt_name: String => Text,
            from_version: i64 => Integer,
            to_version: i64 => Integer,
            mutation_type: Option<String> => Text,
            fitness_delta: Option<f64> => Real,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_evolution_prompt (prompt_name),
        },
        foreign_keys: {},
    }
}

table! {
    /// A pattern extracted from debates or critiques.
    pub struct ExtractedPattern as EXTRACTED_PATTERNS {
        name: "extracted_patterns",
        owner: PROMPT_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            source_type: String => Text,
            source_id: Option<String> => Text,
            pattern_text: String => Text,
            pattern_type: Option<String> => Text,
            frequency: Option<i64> => Integer = "1",
            effectiveness_score: Option<f64> => Real,
            embedding: Option<Vec<u8>> => Blob,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_patterns_type (pattern_type),
        },
        foreign_keys: {},
    }
}

table! {
    /// A meta-learning hyperparameter and how well it worked.
    pub struct MetaHyperparam as META_HYPERPARAMS {
        name: "meta_hyperparams",
        owner: META_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            param_name: String => Text,
            param_value: f64 => Real,
            context: Option<String> => Text,
            effectiveness: Option<f64> => Real,
            sample_size: Option<i64> => Integer = "0",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// Learning efficiency of one meta-learning cycle.
    pub struct MetaEfficiency as META_EFFICIENCY_LOG {
        name: "meta_efficiency_log",
        owner: META_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            cycle_id: String => Text,
            learning_rate: Option<f64> => Real,
            pattern_retention_rate: Option<f64> => Real,
            forgetting_rate: Option<f64> => Real,
            convergence_speed: Option<f64> => Real,
            hyperparams_snapshot: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_meta_efficiency_cycle (cycle_id),
        },
        foreign_keys: {},
    }
}
