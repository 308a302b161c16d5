//! The insight store (`aragora_insights.db`, `InsightStore` in the
//! original's `aragora/insights/store.py`; consolidated `analytics.db`).
//!
//! Owner: [`DatabaseType::Insights`] (legacy `aragora_insights.db`,
//! consolidated `analytics.db`).
//!
//! Renamed column: `insights.type` is a Rust keyword, so the column is
//! `insight_type` with the alias `type` (the macro takes identifiers).
//!
//! Unions: `debate_summaries`, `pattern_clusters` and
//! `agent_performance_history` have entirely different consolidated shapes
//! under the same names, and the running application writes the
//! legacy shapes into consolidated `analytics.db` (docs/ORIGINAL.md,
//! "Consolidated mode writes legacy shapes"), so each is one
//! table holding both column sets; only the key and the columns NOT NULL
//! in both shapes (`agent_performance_history.agent_name`) are required.
//! Where both shapes have a column with different defaults the legacy one
//! is kept (`debate_summaries.consensus_reached`: none; `insights.metadata`:
//! none, consolidated `'{}'`). 0/1 flags: `consensus_reached`,
//! `proposal_accepted`, `vote_aligned`, `used`, `was_successful`.
//!
//! Implicit UNIQUE constraints as unique indexes:
//! `pattern_clusters_category_pattern_text_key`,
//! `insight_usage_insight_id_debate_id_key`.
//!
//! `agent_performance_history.debate_id` → `debate_summaries` has no action
//! in the DDL: `Restrict`. `insight_usage` has no foreign keys in the
//! original, so none here.
//!
//! Not representable: `DESC` in `idx_insights_confidence`,
//! `idx_insights_type_confidence`, `idx_debate_summaries_created`,
//! `idx_pattern_last_seen` (ascending here). `wisdom_events.jsonl` is a
//! side file, not a table.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const INSIGHTS_DB: DbTarget = DbTarget::Type(DatabaseType::Insights);

table! {
    /// One insight extracted from a debate.
    pub struct Insight as INSIGHTS {
        name: "insights",
        owner: INSIGHTS_DB,
        version: 1,
        columns: {
            id: String => Text,
            insight_type: String => Text [aka "type"] [pg "type"],
            title: String => Text,
            description: Option<String> => Text,
            confidence: Option<f64> => Real = "0.5",
            debate_id: String => Text,
            agents_involved: Option<String> => Json,
            evidence: Option<String> => Json,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            metadata: Option<String> => Json,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_insights_type (insight_type),
            index idx_insights_debate (debate_id),
            index idx_insights_confidence (confidence),
            index idx_insights_type_confidence (insight_type, confidence),
        },
        foreign_keys: {},
        pg_search: "search_vector" (title, description)
            "update_insight_search_vector" "insight_search_vector_trigger",
    }
}

table! {
    /// A debate's summary (legacy and consolidated columns).
    pub struct DebateSummary as DEBATE_SUMMARIES {
        name: "debate_summaries",
        owner: INSIGHTS_DB,
        version: 1,
        columns: {
            debate_id: String => Text,
            task: Option<String> => Text,
            consensus_reached: Option<bool> => Bool,
            duration_seconds: Option<f64> => Real,
            total_insights: Option<i64> => Integer,
            key_takeaway: Option<String> => Text,
            agent_performances: Option<String> => Json,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            topic: Option<String> => Text,
            summary: Option<String> => Text,
            key_arguments: Option<String> => Text,
            final_positions: Option<String> => Text,
            rounds_completed: Option<i64> => Integer,
        },
        primary_key: (debate_id),
        autoincrement: false,
        indexes: {
            index idx_debate_summaries_created (created_at),
        },
        foreign_keys: {},
    }
}

table! {
    /// Per-debate agent performance (legacy) or a periodic metric (consolidated).
    pub struct AgentPerformance as AGENT_PERFORMANCE_HISTORY {
        name: "agent_performance_history",
        owner: INSIGHTS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            agent_name: String => Text,
            debate_id: Option<String> => Text,
            proposals_made: Option<i64> => Integer = "0" [pg as Integer],
            critiques_given: Option<i64> => Integer = "0" [pg as Integer],
            critiques_received: Option<i64> => Integer = "0" [pg as Integer],
            proposal_accepted: Option<bool> => Bool = "0",
            vote_aligned: Option<bool> => Bool = "0",
            avg_critique_severity: Option<f64> => Real = "0.0",
            contribution_score: Option<f64> => Real = "0.5",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            metric_name: Option<String> => Text,
            metric_value: Option<f64> => Real,
            period: Option<String> => Text,
            period_start: Option<String> => Timestamp,
            period_end: Option<String> => Timestamp,
            sample_size: Option<i64> => Integer = "0",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_agent_perf_name (agent_name),
            index idx_agent_perf_debate (debate_id),
            index idx_agent_perf_name_debate (agent_name, debate_id),
            index idx_perf_history_agent (agent_name),
            index idx_perf_history_period (period_start),
        },
        foreign_keys: {
            (debate_id) -> DebateSummary: Restrict,
        },
    }
}

table! {
    /// A recurring pattern (legacy: category + text) or a pattern cluster (consolidated).
    pub struct PatternCluster as PATTERN_CLUSTERS {
        name: "pattern_clusters",
        owner: INSIGHTS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            category: Option<String> => Text,
            pattern_text: Option<String> => Text,
            occurrence_count: Option<i64> => Integer = "1",
            avg_severity: Option<f64> => Real = "0.5",
            debate_ids: Option<String> => Json,
            first_seen: Option<String> => Timestamp,
            last_seen: Option<String> => Timestamp,
            cluster_name: Option<String> => Text,
            pattern_type: Option<String> => Text,
            centroid: Option<Vec<u8>> => Blob,
            member_count: Option<i64> => Integer = "0",
            sample_patterns: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique pattern_clusters_category_pattern_text_key (category, pattern_text),
            index idx_pattern_category (category),
            index idx_pattern_last_seen (last_seen),
        },
        foreign_keys: {},
    }
}

table! {
    /// Audience wisdom submitted to a loop (text cut to 280 characters).
    pub struct WisdomSubmission as WISDOM_SUBMISSIONS {
        name: "wisdom_submissions",
        owner: INSIGHTS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            loop_id: String => Text,
            text: String => Text,
            submitter_id: Option<String> => Text = "'anonymous'",
            context_tags: Option<String> => Text,
            used: Option<bool> => Bool = "0",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_wisdom_loop_id (loop_id, used),
        },
        foreign_keys: {},
    }
}

table! {
    /// One use of an insight in a later debate.
    pub struct InsightUsage as INSIGHT_USAGE {
        name: "insight_usage",
        owner: INSIGHTS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            insight_id: String => Text,
            debate_id: String => Text,
            was_successful: Option<bool> => Bool = "0",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique insight_usage_insight_id_debate_id_key (insight_id, debate_id),
        },
        foreign_keys: {},
    }
}
