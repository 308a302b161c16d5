//! The InsightsDatabase tables shared by PositionTracker, PositionLedger,
//! FlipDetector and PersonaLaboratory (`InsightsDatabase` in the original's
//! `aragora/insights/database.py`; consolidated `agents.db`, see
//! docs/ORIGINAL.md, "The consolidated schema files").
//!
//! Every file opened through `InsightsDatabase` gets all six tables
//! (`aragora_positions.db`, `persona_lab.db`, `agent_personas.db`,
//! `grounded_positions.db`, …), each file its own copy. In legacy mode those
//! files hold their copies too ([`super::ALSO_IN`], `docs/ORIGINAL.md`); one
//! canonical owner each, by the file that normally holds the data, is the
//! file our stores read and the one consolidated mode merges into:
//! * `position_history`, `debate_outcomes` → [`DatabaseType::TruthGrounding`]
//!   (`aragora_positions.db`, written by `PositionTracker`);
//! * `experiments`, `emergent_traits`, `trait_transfers`,
//!   `agent_evolution_history` → [`DatabaseType::Laboratory`]
//!   (`persona_lab.db`, written by `PersonaLaboratory`).
//!
//! Both consolidate to `agents.db`.
//!
//! Renames: the legacy table `evolution_history` is consolidated
//! `agent_evolution_history`; the consolidated name is used because
//! `evolution_history` is also the unrelated prompt-evolution table of
//! consolidated `analytics.db` ([`super::analytics`]). Importers must map
//! the legacy `evolution_history` of these files to this table. Column
//! `trait_transfers.trait` is a Rust keyword: the column is
//! `transferred_trait` with the alias `trait`.
//!
//! Shapes are otherwise identical (column order differs). 0/1 flags:
//! `was_winning_position`, `verified_correct`, `verification_result`
//! (written as `1 if result else 0`). `DEFAULT NULL` is copied as written.
//! The implicit UNIQUE of `position_history` is the unique index
//! `position_history_debate_id_agent_name_position_type_round_num_key`.
//! Index names of both shapes are kept (`idx_position_agent` legacy,
//! `idx_position_history_agent` consolidated, …), even on the same
//! columns. No foreign keys in the original.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const TRUTH_DB: DbTarget = DbTarget::Type(DatabaseType::TruthGrounding);
const LAB_DB: DbTarget = DbTarget::Type(DatabaseType::Laboratory);

table! {
    /// An agent's position in one round of a debate.
    pub struct PositionHistory as POSITION_HISTORY {
        name: "position_history",
        owner: TRUTH_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            debate_id: String => Text,
            agent_name: String => Text,
            position_type: String => Text,
            position_text: String => Text,
            round_num: Option<i64> => Integer = "0",
            confidence: Option<f64> => Real = "0.5",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            was_winning_position: Option<bool> => Bool = "NULL",
            verified_correct: Option<bool> => Bool = "NULL",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            unique position_history_debate_id_agent_name_position_type_round_num_key (debate_id, agent_name, position_type, round_num),
            index idx_position_agent (agent_name),
            index idx_position_debate (debate_id),
            index idx_position_history_agent (agent_name),
            index idx_position_history_debate (debate_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// A debate's winner and its later verification.
    pub struct DebateOutcome as DEBATE_OUTCOMES {
        name: "debate_outcomes",
        owner: TRUTH_DB,
        version: 1,
        columns: {
            debate_id: String => Text,
            winning_agent: Option<String> => Text,
            winning_position: Option<String> => Text,
            consensus_confidence: Option<f64> => Real,
            verified_at: Option<String> => Timestamp = "NULL",
            verification_result: Option<bool> => Bool = "NULL",
            verification_source: Option<String> => Text = "NULL",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (debate_id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// A persona A/B experiment (`experiment_id` = `exp_` + 8 hex).
    pub struct Experiment as EXPERIMENTS {
        name: "experiments",
        owner: LAB_DB,
        version: 1,
        columns: {
            experiment_id: String => Text,
            agent_name: String => Text,
            control_persona: String => Json,
            variant_persona: String => Json,
            hypothesis: Option<String> => Text,
            status: Option<String> => Text = "'running'",
            control_successes: Option<i64> => Integer = "0",
            control_trials: Option<i64> => Integer = "0",
            variant_successes: Option<i64> => Integer = "0",
            variant_trials: Option<i64> => Integer = "0",
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            completed_at: Option<String> => Timestamp,
        },
        primary_key: (experiment_id),
        autoincrement: false,
        indexes: {
            index idx_experiments_agent (agent_name),
            index idx_experiments_status (status),
        },
        foreign_keys: {},
    }
}

table! {
    /// A trait detected across agents (inserted on every detection).
    pub struct EmergentTrait as EMERGENT_TRAITS {
        name: "emergent_traits",
        owner: LAB_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            trait_name: String => Text,
            source_agents: String => Text,
            supporting_evidence: Option<String> => Text,
            confidence: Option<f64> => Real = "0.5",
            first_detected: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// A trait or expertise copied from one agent to another.
    pub struct TraitTransfer as TRAIT_TRANSFERS {
        name: "trait_transfers",
        owner: LAB_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            from_agent: String => Text,
            to_agent: String => Text,
            transferred_trait: String => Text [aka "trait"],
            expertise_domain: Option<String> => Text,
            success_rate_before: Option<f64> => Real,
            success_rate_after: Option<f64> => Real,
            transferred_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_trait_transfers_from (from_agent),
            index idx_trait_transfers_to (to_agent),
        },
        foreign_keys: {},
    }
}

table! {
    /// A persona mutation (legacy table name `evolution_history`).
    pub struct AgentEvolution as AGENT_EVOLUTION_HISTORY {
        name: "agent_evolution_history",
        sources: ["evolution_history"],
        owner: LAB_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            agent_name: String => Text,
            mutation_type: String => Text,
            before_state: String => Text,
            after_state: String => Text,
            reason: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_evolution_agent (agent_name),
        },
        foreign_keys: {},
    }
}
