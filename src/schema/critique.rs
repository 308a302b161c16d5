//! The critique store (`agora_memory.db`, `CritiqueStore` in the original's
//! `aragora/memory/store.py`; consolidated `memory.db`).
//!
//! Owner: [`DatabaseType::AgoraMemory`] (legacy `agora_memory.db`,
//! consolidated `memory.db`).
//!
//! `debates` here is the CritiqueStore's table and keeps its name; the
//! unrelated web-debate table of consolidated `core.db` (also called
//! `debates`; docs/ORIGINAL.md, "The consolidated schema files") is declared
//! as `core_debates` in [`super::core`].
//!
//! Unions: `debates.grounded_verdict` is missing from files before
//! 2026-01-05 (docs/ORIGINAL.md, "Historical layouts") and from the
//! consolidated shape, so nullable. The columns
//! `_post_init` back-fills (`critiques.expected_usefulness` …,
//! `patterns.surprise_score` …, `agent_reputation.total_predictions` …)
//! are nullable with their defaults, as in every shape.
//! `led_to_improvement` is a 0/1 flag.
//!
//! `patterns_archive` has no primary key in the original (a pattern can be
//! archived twice); its implicit rowid is declared as `rowid` (the primary
//! key here), and the importer fills it from each source row's rowid, so
//! the table imports typed (`docs/ORIGINAL.md`).
//!
//! Foreign keys: `critiques.debate_id` → `debates` has no action in the DDL,
//! so `Restrict`. `pattern_embeddings.pattern_id` → `patterns` is `Cascade`:
//! an embedding is part of its pattern (the original's `delete_pattern`
//! deletes both).
//!
//! Consolidated-only indexes kept: `idx_debates_task`,
//! `idx_critiques_agent`, `idx_critiques_target`. Not representable: `DESC`
//! in `idx_patterns_success`, `idx_patterns_type_success`,
//! `idx_patterns_success_updated`, `idx_reputation_score` (ascending here).

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const AGORA_DB: DbTarget = DbTarget::Type(DatabaseType::AgoraMemory);

table! {
    /// A finished debate as the critique store records it.
    pub struct Debate as DEBATES {
        name: "debates",
        owner: AGORA_DB,
        version: 1,
        columns: {
            id: String => Text,
            task: String => Text,
            final_answer: Option<String> => Text,
            consensus_reached: Option<bool> => Bool,
            confidence: Option<f64> => Real,
            rounds_used: Option<i64> => Integer,
            duration_seconds: Option<f64> => Real,
            grounded_verdict: Option<String> => Json,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_debates_task (task),
        },
        foreign_keys: {},
        pg_name: "critique_debates",
    }
}

table! {
    /// One critique by an agent.
    pub struct Critique as CRITIQUES {
        name: "critiques",
        owner: AGORA_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            debate_id: Option<String> => Text,
            agent: String => Text,
            target_agent: Option<String> => Text,
            issues: Option<String> => Json,
            suggestions: Option<String> => Json,
            severity: Option<f64> => Real,
            reasoning: Option<String> => Text,
            led_to_improvement: Option<bool> => Bool = "0",
            expected_usefulness: Option<f64> => Real = "0.5",
            actual_usefulness: Option<f64> => Real,
            prediction_error: Option<f64> => Real,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_critiques_debate (debate_id),
            index idx_critiques_agent (agent),
            index idx_critiques_target (target_agent),
        },
        foreign_keys: {
            (debate_id) -> Debate: Restrict,
        },
    }
}

table! {
    /// A recurring issue and its fix (id = sha256 of the lower-cased issue, 12 hex).
    pub struct Pattern as PATTERNS {
        name: "patterns",
        owner: AGORA_DB,
        version: 1,
        columns: {
            id: String => Text,
            issue_type: String => Text,
            issue_text: String => Text,
            suggestion_text: Option<String> => Text,
            success_count: Option<i64> => Integer = "0",
            failure_count: Option<i64> => Integer = "0",
            avg_severity: Option<f64> => Real = "0.5",
            surprise_score: Option<f64> => Real = "0.0",
            base_rate: Option<f64> => Real = "0.5",
            avg_prediction_error: Option<f64> => Real = "0.0",
            prediction_count: Option<i64> => Integer = "0",
            example_task: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_patterns_type (issue_type),
            index idx_patterns_success (success_count),
            index idx_patterns_type_success (issue_type, success_count),
            index idx_patterns_success_updated (success_count, updated_at),
        },
        foreign_keys: {},
    }
}

table! {
    /// A pattern's embedding (little-endian float32 array).
    pub struct PatternEmbedding as PATTERN_EMBEDDINGS {
        name: "pattern_embeddings",
        owner: AGORA_DB,
        version: 1,
        columns: {
            pattern_id: String => Text,
            embedding: Option<Vec<u8>> => Blob,
        },
        primary_key: (pattern_id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {
            (pattern_id) -> Pattern: Cascade,
        },
    }
}

table! {
    /// An agent's proposal and critique record.
    pub struct AgentReputation as AGENT_REPUTATION {
        name: "agent_reputation",
        owner: AGORA_DB,
        version: 1,
        columns: {
            agent_name: String => Text,
            proposals_made: Option<i64> => Integer = "0",
            proposals_accepted: Option<i64> => Integer = "0",
            critiques_given: Option<i64> => Integer = "0",
            critiques_valuable: Option<i64> => Integer = "0",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            total_predictions: Option<i64> => Integer = "0",
            total_prediction_error: Option<f64> => Real = "0.0",
            calibration_score: Option<f64> => Real = "0.5",
        },
        primary_key: (agent_name),
        autoincrement: false,
        indexes: {
            index idx_reputation_score (proposals_accepted),
            index idx_reputation_agent (agent_name),
        },
        foreign_keys: {},
    }
}

table! {
    /// A pruned pattern. The original has no primary key: `rowid` is SQLite's implicit one.
    pub struct PatternArchive as PATTERNS_ARCHIVE {
        name: "patterns_archive",
        owner: AGORA_DB,
        version: 1,
        columns: {
            rowid: i64 => Integer,
            id: Option<String> => Text,
            issue_type: Option<String> => Text,
            issue_text: Option<String> => Text,
            suggestion_text: Option<String> => Text,
            success_count: Option<i64> => Integer,
            failure_count: Option<i64> => Integer,
            avg_severity: Option<f64> => Real,
            surprise_score: Option<f64> => Real,
            example_task: Option<String> => Text,
            created_at: Option<String> => Timestamp,
            updated_at: Option<String> => Timestamp,
            archived_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (rowid),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}
