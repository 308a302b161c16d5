//! Positions and flips (`PositionLedger` in the original's
//! `aragora/agents/positions.py`, `FlipDetector` in
//! `aragora/insights/flip_detector.py`; consolidated `core.db`).
//!
//! `PositionLedger` and `FlipDetector` add these two tables to whatever
//! InsightsDatabase file they are given: `grounded_positions.db` (server
//! handlers, [`DatabaseType::Positions`]), `agent_personas.db` (their
//! default), `aragora_positions.db` (the server's `init_position_ledger`).
//! One declaration each, owned by [`DatabaseType::Positions`]: legacy
//! `grounded_positions.db`, consolidated `core.db`, where `consolidate.py`
//! puts them. In legacy mode the other files keep their own copies
//! ([`super::ALSO_IN`], `docs/ORIGINAL.md`); consolidated mode merges them.
//!
//! Legacy and consolidated DDL and indexes are identical; there is no
//! union. `reversed` is a 0/1 flag. No foreign keys in the original
//! (`detected_flips.original_position_id`/`new_position_id` name positions
//! but are not declared as references).

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const POSITIONS_DB: DbTarget = DbTarget::Type(DatabaseType::Positions);

table! {
    /// A claim an agent made in a debate round (id = first 8 chars of a uuid4).
    pub struct Position as POSITIONS {
        name: "positions",
        owner: POSITIONS_DB,
        version: 1,
        columns: {
            id: String => Text,
            agent_name: String => Text,
            claim: String => Text,
            confidence: f64 => Real,
            debate_id: String => Text,
            round_num: i64 => Integer,
            outcome: Option<String> => Text = "'pending'",
            reversed: Option<bool> => Bool = "0",
            reversal_debate_id: Option<String> => Text,
            domain: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            resolved_at: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_positions_agent (agent_name),
            index idx_positions_debate (debate_id),
            index idx_positions_outcome (outcome),
        },
        foreign_keys: {},
    }
}

table! {
    /// A detected change of position (`flip-` + position id).
    pub struct DetectedFlip as DETECTED_FLIPS {
        name: "detected_flips",
        owner: POSITIONS_DB,
        version: 1,
        columns: {
            id: String => Text,
            agent_name: String => Text,
            original_claim: String => Text,
            new_claim: String => Text,
            original_confidence: Option<f64> => Real,
            new_confidence: Option<f64> => Real,
            original_debate_id: Option<String> => Text,
            new_debate_id: Option<String> => Text,
            original_position_id: Option<String> => Text,
            new_position_id: Option<String> => Text,
            similarity_score: Option<f64> => Real,
            flip_type: Option<String> => Text,
            domain: Option<String> => Text,
            detected_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_flips_agent (agent_name),
            index idx_flips_type (flip_type),
        },
        foreign_keys: {},
    }
}
