//! Consolidated-only tables of `memory.db` (the original's
//! `aragora/persistence/schemas/memory.sql`; docs/ORIGINAL.md, "The
//! consolidated schema files" and "consolidate.py"): agent memories,
//! reflection schedules, semantic embeddings and suggestion feedback. No
//! current legacy code creates them; `consolidate.py` copies them from the
//! legacy files named below.
//!
//! Owners (all consolidate to `memory.db`): `memories`,
//! `reflection_schedule` → [`DatabaseType::AgentMemories`]
//! (`agent_memories.db`); `semantic_embeddings` →
//! [`DatabaseType::SemanticPatterns`] (`semantic_patterns.db`);
//! `suggestion_injections`, `contributor_stats` →
//! [`DatabaseType::SuggestionFeedback`] (`suggestion_feedback.db`).
//!
//! Rename: `semantic_patterns.db` calls the embeddings table `embeddings`,
//! which is also core's table ([`super::core`]); the consolidated name
//! `semantic_embeddings` is used and importers must map
//! `semantic_patterns.db:embeddings` to it. Its implicit UNIQUE reuses
//! `idx_semantic_hash`, declared unique. `accepted` is a 0/1 flag. No
//! foreign keys in the original; no additions.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const AGENT_MEMORIES_DB: DbTarget = DbTarget::Type(DatabaseType::AgentMemories);
const SUGGESTIONS_DB: DbTarget = DbTarget::Type(DatabaseType::SuggestionFeedback);

table! {
    /// One agent memory.
    pub struct Memory as MEMORIES {
        name: "memories",
        owner: AGENT_MEMORIES_DB,
        version: 1,
        columns: {
            id: String => Text,
            agent_name: String => Text,
            memory_type: String => Text,
            content: String => Text,
            context: Option<String> => Text,
            importance: Option<f64> => Real = "0.5",
            decay_rate: Option<f64> => Real = "0.1",
            embedding: Option<Vec<u8>> => Blob,
            debate_id: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            expires_at: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_memories_agent (agent_name),
            index idx_memories_type (memory_type),
            index idx_memories_debate (debate_id),
            index idx_memories_expires (expires_at),
        },
        foreign_keys: {},
    }
}

table! {
    /// A scheduled reflection over an agent's memories.
    pub struct ReflectionSchedule as REFLECTION_SCHEDULE {
        name: "reflection_schedule",
        owner: AGENT_MEMORIES_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            agent_name: String => Text,
            reflection_type: String => Text,
            scheduled_for: String => Timestamp,
            completed_at: Option<String> => Timestamp,
            memory_ids: Option<String> => Text,
            result: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_reflection_agent (agent_name),
            index idx_reflection_scheduled (scheduled_for),
        },
        foreign_keys: {},
    }
}

table! {
    /// A cached embedding for semantic pattern matching (`semantic_patterns.db:embeddings`).
    pub struct SemanticEmbedding as SEMANTIC_EMBEDDINGS {
        name: "semantic_embeddings",
        sources: ["embeddings"],
        owner: DbTarget::Type(DatabaseType::SemanticPatterns),
        version: 1,
        columns: {
            id: String => Text,
            text_hash: Option<String> => Text,
            text: Option<String> => Text,
            embedding: Option<Vec<u8>> => Blob,
            provider: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique idx_semantic_hash (text_hash),
        },
        foreign_keys: {},
    }
}

table! {
    /// A user suggestion injected into a debate.
    pub struct SuggestionInjection as SUGGESTION_INJECTIONS {
        name: "suggestion_injections",
        owner: SUGGESTIONS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            debate_id: String => Text,
            user_id: Option<String> => Text,
            suggestion_type: String => Text,
            content: String => Text,
            target_agent: Option<String> => Text,
            accepted: Option<bool> => Bool = "0",
            impact_score: Option<f64> => Real,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_suggestions_debate (debate_id),
            index idx_suggestions_user (user_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// A contributor's suggestion totals.
    pub struct ContributorStats as CONTRIBUTOR_STATS {
        name: "contributor_stats",
        owner: SUGGESTIONS_DB,
        version: 1,
        columns: {
            user_id: String => Text,
            suggestions_total: Option<i64> => Integer = "0",
            suggestions_accepted: Option<i64> => Integer = "0",
            acceptance_rate: Option<f64> => Real = "0.0",
            impact_score_sum: Option<f64> => Real = "0.0",
            last_contribution_at: Option<String> => Timestamp,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (user_id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}
