//! Consolidated-only tables of `core.db` (the original's
//! `aragora/persistence/schemas/core.sql`; docs/ORIGINAL.md, "The
//! consolidated schema files" and "consolidate.py"): web debates, traces,
//! tournaments and embeddings. No current legacy code creates them;
//! `consolidate.py` copies them from the legacy files named below.
//!
//! Owners (legacy file per the consolidation map; all consolidate to
//! `core.db`): `core_debates`, `debate_metadata` →
//! [`DatabaseType::Debates`] (`debates.db`; the map reads `debate_metadata`
//! from `aragora_debates.db`, which is no `DatabaseType` and is an import
//! source); `traces`, `trace_events` → [`DatabaseType::Traces`]
//! (`traces.db`; also `traces/debate_traces.db`); `tournaments`,
//! `tournament_matches` → [`DatabaseType::Tournaments`]; `embeddings` →
//! [`DatabaseType::Embeddings`] (`debate_embeddings.db`).
//!
//! Rename: core's `debates` collides with the CritiqueStore's `debates` of
//! `agora_memory.db`/`memory.db`, which keeps the name
//! ([`super::critique`]); this one is `core_debates`. Importers must map
//! `debates.db:debates` and `core.db:debates` to it.
//!
//! Implicit UNIQUE constraints reuse the explicit indexes on the same
//! columns, declared unique: `idx_debates_slug`, `idx_embeddings_hash`.
//! `consensus_reached` (BOOLEAN) is a 0/1 flag; `TIMESTAMP` columns are
//! timestamps.
//!
//! Foreign keys with the consolidated actions: `debate_metadata.debate_id`
//! → `core_debates` `Cascade`, `trace_events.trace_id` → `traces` `Cascade`,
//! `tournament_matches.tournament_id` → `tournaments` `Cascade`. Not
//! declared: `traces.debate_id` → `debates` `ON DELETE SET NULL`, because
//! traces and debates come from different legacy files (`traces.db`,
//! `debates.db`) and a reference must stay within one file.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const DEBATES_DB: DbTarget = DbTarget::Type(DatabaseType::Debates);
const TRACES_DB: DbTarget = DbTarget::Type(DatabaseType::Traces);
const TOURNAMENTS_DB: DbTarget = DbTarget::Type(DatabaseType::Tournaments);

table! {
    /// A published web debate (core.sql `debates`).
    pub struct CoreDebate as CORE_DEBATES {
        name: "core_debates",
        sources: ["debates"],
        owner: DEBATES_DB,
        version: 1,
        columns: {
            id: String => Text,
            slug: String => Text,
            task: String => Text,
            agents: String => Text,
            artifact_json: String => Json,
            consensus_reached: Option<bool> => Bool,
            confidence: Option<f64> => Real,
            view_count: Option<i64> => Integer = "0",
            audio_path: Option<String> => Text,
            audio_generated_at: Option<String> => Timestamp,
            audio_duration_seconds: Option<i64> => Integer,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique idx_debates_slug (slug),
            index idx_debates_created (created_at),
            index idx_debates_consensus (consensus_reached),
        },
        foreign_keys: {},
        pg_name: "debates",
        pg_only: { "org_id": Text, "is_public": Boolean = "false" },
        pg_search: "search_vector" (task, slug)
            "update_debate_search_vector" "debate_search_vector_trigger",
    }
}

table! {
    /// Hashes and metadata of a debate's configuration.
    pub struct DebateMetadata as DEBATE_METADATA {
        name: "debate_metadata",
        owner: DEBATES_DB,
        version: 1,
        columns: {
            debate_id: String => Text,
            config_hash: Option<String> => Text,
            task_hash: Option<String> => Text,
            metadata_json: Option<String> => Json,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (debate_id),
        autoincrement: false,
        indexes: {
            index idx_metadata_config_hash (config_hash),
            index idx_metadata_task_hash (task_hash),
        },
        foreign_keys: {
            (debate_id) -> CoreDebate: Cascade,
        },
    }
}

table! {
    /// A replayable debate trace.
    pub struct Trace as TRACES {
        name: "traces",
        owner: TRACES_DB,
        version: 1,
        columns: {
            trace_id: String => Text,
            debate_id: Option<String> => Text,
            task: Option<String> => Text,
            agents: Option<String> => Text,
            random_seed: Option<i64> => Integer,
            checksum: Option<String> => Text,
            trace_json: Option<String> => Json,
            started_at: Option<String> => Timestamp,
            completed_at: Option<String> => Timestamp,
        },
        primary_key: (trace_id),
        autoincrement: false,
        indexes: {
            index idx_traces_debate (debate_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// One event of a trace.
    pub struct TraceEvent as TRACE_EVENTS {
        name: "trace_events",
        owner: TRACES_DB,
        version: 1,
        columns: {
            event_id: String => Text,
            trace_id: String => Text,
            event_type: String => Text,
            round_num: Option<i64> => Integer,
            agent: Option<String> => Text,
            content: Option<String> => Text,
            timestamp: Option<String> => Timestamp,
        },
        primary_key: (event_id),
        autoincrement: false,
        indexes: {
            index idx_trace_events_trace (trace_id),
            index idx_trace_events_type (event_type),
        },
        foreign_keys: {
            (trace_id) -> Trace: Cascade,
        },
    }
}

table! {
    /// A tournament between agents.
    pub struct Tournament as TOURNAMENTS {
        name: "tournaments",
        owner: TOURNAMENTS_DB,
        version: 1,
        columns: {
            tournament_id: String => Text,
            name: Option<String> => Text,
            format: Option<String> => Text,
            agents: Option<String> => Text,
            tasks: Option<String> => Text,
            standings: Option<String> => Text,
            champion: Option<String> => Text,
            started_at: Option<String> => Timestamp,
            completed_at: Option<String> => Timestamp,
        },
        primary_key: (tournament_id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// One match of a tournament.
    pub struct TournamentMatch as TOURNAMENT_MATCHES {
        name: "tournament_matches",
        owner: TOURNAMENTS_DB,
        version: 1,
        columns: {
            match_id: String => Text,
            tournament_id: String => Text,
            round_num: Option<i64> => Integer,
            participants: Option<String> => Text,
            task_id: Option<String> => Text,
            scores: Option<String> => Text,
            winner: Option<String> => Text,
            started_at: Option<String> => Timestamp,
            completed_at: Option<String> => Timestamp,
        },
        primary_key: (match_id),
        autoincrement: false,
        indexes: {
            index idx_tournament_matches_tournament (tournament_id),
            index idx_tournament_matches_round (round_num),
        },
        foreign_keys: {
            (tournament_id) -> Tournament: Cascade,
        },
    }
}

table! {
    /// A cached text embedding (little-endian float32 array).
    pub struct Embedding as EMBEDDINGS {
        name: "embeddings",
        owner: DbTarget::Type(DatabaseType::Embeddings),
        version: 1,
        columns: {
            id: String => Text,
            text_hash: Option<String> => Text,
            text: Option<String> => Text,
            embedding: Vec<u8> => Blob,
            provider: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique idx_embeddings_hash (text_hash),
        },
        foreign_keys: {},
    }
}
