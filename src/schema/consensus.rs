//! Consensus memory (`consensus_memory.db`, `ConsensusMemory` in the
//! original's `aragora/memory/consensus.py`; consolidated `memory.db`, see
//! docs/ORIGINAL.md, "The consolidated schema files").
//!
//! Owner: [`DatabaseType::ConsensusMemory`] (legacy `consensus_memory.db`,
//! consolidated `memory.db`).
//!
//! Unions:
//! * `consensus`: legacy NOT NULL `topic_hash`, `conclusion`, `strength`,
//!   `data` are nullable in the consolidated shape, so nullable here; the
//!   consolidated-only `supporting_agents` … `updated_at` are nullable.
//!   Where the shapes' defaults differ the legacy one is kept (`confidence`
//!   has none; consolidated says `0.5`), since the legacy code writes the data.
//! * `dissent`: legacy NOT NULL `debate_id`, `dissent_type`, `content`,
//!   `data` are nullable in the consolidated shape; `reasoning`, `strength`,
//!   `resolved` (0/1), `resolved_at`, `created_at` are consolidated-only.
//! * `consensus_archive`/`dissent_archive`: the current layout plus the
//!   2026-01-11 layout (docs/ORIGINAL.md, "Historical layouts"): `debate_id`,
//!   `agent_votes`, `supersedes`, `superseded_by`, `created_at` (consensus),
//!   `rationale`, `created_at` (dissent). The old layout names the dissenting
//!   agent `agent`, an alias of `agent_id`. Only the old layouts' column
//!   names are known, not their constraints, so every non-key column present
//!   in them is nullable here.
//!
//! Foreign keys: `dissent.debate_id` → `consensus` is `Cascade` (the
//! consolidated action; `debate_id` holds the consensus id).
//! `verified_proofs.debate_id` → `consensus` has no action in the DDL, so
//! `Restrict`; the original passes a debate id there that need not be a
//! consensus id, and the importer keeps such dangling rows.
//!
//! Not representable: `DESC` in `idx_consensus_confidence_ts`,
//! `idx_dissent_timestamp`, `idx_consensus_confidence` (ascending here,
//! scanned in reverse).

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const CONSENSUS_DB: DbTarget = DbTarget::Type(DatabaseType::ConsensusMemory);

table! {
    /// A consensus reached on a topic; `data` is the whole record as JSON.
    pub struct Consensus as CONSENSUS {
        name: "consensus",
        owner: CONSENSUS_DB,
        version: 1,
        columns: {
            id: String => Text,
            topic: String => Text,
            topic_hash: Option<String> => Text,
            conclusion: Option<String> => Text,
            strength: Option<String> => Text,
            confidence: Option<f64> => Real,
            domain: Option<String> => Text,
            tags: Option<String> => Json,
            timestamp: Option<String> => Timestamp,
            data: Option<String> => Json,
            supporting_agents: Option<String> => Text,
            opposing_agents: Option<String> => Text,
            evidence: Option<String> => Text,
            debate_ids: Option<String> => Text,
            stability_score: Option<f64> => Real = "0.5",
            last_challenged_at: Option<String> => Timestamp,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_consensus_topic_hash (topic_hash),
            index idx_consensus_domain (domain),
            index idx_consensus_confidence_ts (confidence, timestamp),
            index idx_consensus_topic (topic),
            index idx_consensus_confidence (confidence),
        },
        foreign_keys: {},
    }
}

table! {
    /// A dissenting view on a consensus (`debate_id` is the consensus id).
    pub struct Dissent as DISSENT {
        name: "dissent",
        owner: CONSENSUS_DB,
        version: 1,
        columns: {
            id: String => Text,
            debate_id: Option<String> => Text,
            agent_id: String => Text,
            dissent_type: Option<String> => Text,
            content: Option<String> => Text,
            confidence: Option<f64> => Real,
            timestamp: Option<String> => Timestamp,
            data: Option<String> => Json,
            reasoning: Option<String> => Text,
            strength: Option<f64> => Real = "0.5",
            resolved: Option<bool> => Bool = "0",
            resolved_at: Option<String> => Timestamp,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_dissent_debate (debate_id),
            index idx_dissent_type (dissent_type),
            index idx_dissent_timestamp (timestamp),
            index idx_dissent_agent (agent_id),
        },
        foreign_keys: {
            (debate_id) -> Consensus: Cascade,
        },
    }
}

table! {
    /// A formal proof attempt for a debate's conclusion.
    pub struct VerifiedProof as VERIFIED_PROOFS {
        name: "verified_proofs",
        owner: CONSENSUS_DB,
        version: 1,
        columns: {
            id: String => Text,
            debate_id: String => Text,
            proof_status: String => Text,
            language: Option<String> => Text,
            formal_statement: Option<String> => Text,
            is_verified: Option<bool> => Bool = "0",
            proof_hash: Option<String> => Text,
            translation_time_ms: Option<f64> => Real,
            proof_search_time_ms: Option<f64> => Real,
            prover_version: Option<String> => Text,
            error_message: Option<String> => Text,
            timestamp: String => Timestamp,
            data: String => Json,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_verified_proofs_debate (debate_id),
            index idx_verified_proofs_status (proof_status),
            index idx_verified_proofs_verified (is_verified),
        },
        foreign_keys: {
            (debate_id) -> Consensus: Restrict,
        },
    }
}

table! {
    /// A consensus record moved out by `cleanup_old_records`.
    pub struct ConsensusArchive as CONSENSUS_ARCHIVE {
        name: "consensus_archive",
        owner: CONSENSUS_DB,
        version: 1,
        columns: {
            id: String => Text,
            topic: Option<String> => Text,
            topic_hash: Option<String> => Text,
            conclusion: Option<String> => Text,
            strength: Option<String> => Text,
            confidence: Option<f64> => Real,
            domain: Option<String> => Text,
            tags: Option<String> => Json,
            timestamp: Option<String> => Timestamp,
            data: Option<String> => Json,
            archived_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            debate_id: Option<String> => Text,
            agent_votes: Option<String> => Text,
            supersedes: Option<String> => Text,
            superseded_by: Option<String> => Text,
            created_at: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// A dissent record moved out by `cleanup_old_records`.
    pub struct DissentArchive as DISSENT_ARCHIVE {
        name: "dissent_archive",
        owner: CONSENSUS_DB,
        version: 1,
        columns: {
            id: String => Text,
            debate_id: Option<String> => Text,
            agent_id: Option<String> => Text [aka "agent"],
            dissent_type: Option<String> => Text,
            content: Option<String> => Text,
            confidence: Option<f64> => Real,
            timestamp: Option<String> => Timestamp,
            data: Option<String> => Json,
            archived_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            rationale: Option<String> => Text,
            created_at: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}
