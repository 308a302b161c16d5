//! The ELO schema (`agent_elo.db`, `EloDatabase` in the original's
//! `aragora/ranking/database.py`; consolidated `analytics.db` and
//! `agents.db`): ratings, matches, rating history, tournament
//! predictions, per-domain calibration and agent relationships.
//!
//! Owner: [`DatabaseType::Elo`] for all seven tables, so they live in
//! `agent_elo.db` in legacy mode and in `analytics.db` in consolidated mode,
//! which is where the running application writes them in both modes
//! (docs/ORIGINAL.md, "Consolidated mode writes legacy shapes").
//! `RelationshipTracker` also creates the whole ELO schema in
//! `grounded_positions.db` and `agent_relationships.db` and writes its own
//! `agent_relationships` there: in legacy mode those files hold their own
//! copies ([`super::ALSO_IN`], `docs/ORIGINAL.md`), so the same pair of
//! agents can have other counts in each file, as in the original. A
//! consolidated `agents.db` has an `agent_relationships` with the same DDL
//! (`consolidate.py` never fills it: docs/ORIGINAL.md, "consolidate.py"),
//! imported into the owner's table.
//!
//! Unions (docs/ORIGINAL.md, "The consolidated schema files"): the
//! consolidated `calibration_predictions` adds `actual_winner` and
//! `resolved_at`, nullable here. `ratings` has the same columns in both
//! shapes (the calibration columns are ALTER-appended in legacy files, which
//! does not matter: columns are matched by name).
//!
//! Not representable: `CHECK (agent_a < agent_b)` on `agent_relationships`
//! (the store must keep the canonical order). Our indexes are ascending;
//! none of these are DESC in the original.
//!
//! The implicit UNIQUE constraints become unique indexes
//! `matches_debate_id_key` and
//! `calibration_predictions_tournament_id_predictor_agent_key`. No foreign
//! keys: the original declares none. `REAL DEFAULT 1500` is copied as
//! written (`1500`).

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const ELO: DbTarget = DbTarget::Type(DatabaseType::Elo);

table! {
    /// An agent's overall and per-domain rating.
    pub struct Rating as RATINGS {
        name: "ratings",
        owner: ELO,
        version: 1,
        columns: {
            agent_name: String => Text,
            elo: Option<f64> => Real = "1500",
            domain_elos: Option<String> => Json,
            wins: Option<i64> => Integer = "0",
            losses: Option<i64> => Integer = "0",
            draws: Option<i64> => Integer = "0",
            debates_count: Option<i64> => Integer = "0",
            critiques_accepted: Option<i64> => Integer = "0",
            critiques_total: Option<i64> => Integer = "0",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            calibration_correct: Option<i64> => Integer = "0",
            calibration_total: Option<i64> => Integer = "0",
            calibration_brier_sum: Option<f64> => Real = "0.0",
        },
        primary_key: (agent_name),
        autoincrement: false,
        indexes: {
            index idx_ratings_agent (agent_name),
        },
        foreign_keys: {},
        pg_name: "elo_ratings",
    }
}

table! {
    /// One recorded match (a debate's outcome for ELO).
    pub struct Match as MATCHES {
        name: "matches",
        owner: ELO,
        version: 1,
        columns: {
            id: i64 => Integer,
            debate_id: Option<String> => Text,
            winner: Option<String> => Text,
            participants: Option<String> => Json,
            domain: Option<String> => Text,
            scores: Option<String> => Json,
            elo_changes: Option<String> => Json,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique matches_debate_id_key (debate_id),
            index idx_matches_winner (winner),
            index idx_matches_created (created_at),
            index idx_matches_domain (domain),
        },
        foreign_keys: {},
        pg_name: "elo_matches",
    }
}

table! {
    /// An agent's rating after one debate.
    pub struct EloHistory as ELO_HISTORY {
        name: "elo_history",
        owner: ELO,
        version: 1,
        columns: {
            id: i64 => Integer,
            agent_name: String => Text,
            elo: f64 => Real,
            debate_id: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_elo_history_agent (agent_name),
            index idx_elo_history_created (created_at),
            index idx_elo_history_debate (debate_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// An agent's prediction of a tournament winner.
    pub struct CalibrationPrediction as CALIBRATION_PREDICTIONS {
        name: "calibration_predictions",
        owner: ELO,
        version: 1,
        columns: {
            id: i64 => Integer,
            tournament_id: String => Text,
            predictor_agent: String => Text,
            predicted_winner: String => Text,
            confidence: f64 => Real,
            actual_winner: Option<String> => Text,
            resolved_at: Option<String> => Timestamp,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique calibration_predictions_tournament_id_predictor_agent_key (tournament_id, predictor_agent),
            index idx_calibration_pred_tournament (tournament_id),
        },
        foreign_keys: {},
        pg_name: "elo_calibration_predictions",
    }
}

table! {
    /// Calibration totals per agent and domain.
    pub struct DomainCalibration as DOMAIN_CALIBRATION {
        name: "domain_calibration",
        owner: ELO,
        version: 1,
        columns: {
            agent_name: String => Text,
            domain: String => Text,
            total_predictions: Option<i64> => Integer = "0",
            total_correct: Option<i64> => Integer = "0",
            brier_sum: Option<f64> => Real = "0.0",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (agent_name, domain),
        autoincrement: false,
        indexes: {
            index idx_domain_cal_agent (agent_name),
            index idx_domain_cal_agent_domain (agent_name, domain),
        },
        foreign_keys: {},
        pg_name: "elo_domain_calibration",
    }
}

table! {
    /// Calibration totals per agent, domain and confidence bucket (`"0.7-0.8"`).
    pub struct CalibrationBucket as CALIBRATION_BUCKETS {
        name: "calibration_buckets",
        owner: ELO,
        version: 1,
        columns: {
            agent_name: String => Text,
            domain: String => Text,
            bucket_key: String => Text,
            predictions: Option<i64> => Integer = "0",
            correct: Option<i64> => Integer = "0",
            brier_sum: Option<f64> => Real = "0.0",
        },
        primary_key: (agent_name, domain, bucket_key),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
        pg_name: "elo_calibration_buckets",
    }
}

table! {
    /// Pairwise statistics between two agents, stored once with `agent_a < agent_b`.
    pub struct AgentRelationship as AGENT_RELATIONSHIPS {
        name: "agent_relationships",
        owner: ELO,
        version: 1,
        columns: {
            agent_a: String => Text,
            agent_b: String => Text,
            debate_count: Option<i64> => Integer = "0",
            agreement_count: Option<i64> => Integer = "0",
            critique_count_a_to_b: Option<i64> => Integer = "0",
            critique_count_b_to_a: Option<i64> => Integer = "0",
            critique_accepted_a_to_b: Option<i64> => Integer = "0",
            critique_accepted_b_to_a: Option<i64> => Integer = "0",
            position_changes_a_after_b: Option<i64> => Integer = "0",
            position_changes_b_after_a: Option<i64> => Integer = "0",
            a_wins_over_b: Option<i64> => Integer = "0",
            b_wins_over_a: Option<i64> => Integer = "0",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (agent_a, agent_b),
        autoincrement: false,
        indexes: {
            index idx_relationships_a (agent_a),
            index idx_relationships_b (agent_b),
        },
        foreign_keys: {},
        pg_name: "elo_agent_relationships",
        pg_only: {
            "avg_critique_severity_a_to_b": Double = "0.0",
            "avg_critique_severity_b_to_a": Double = "0.0",
        },
    }
}
