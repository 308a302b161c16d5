//! Consolidated-only tables of `agents.db` (the original's
//! `aragora/persistence/schemas/agents.sql`; docs/ORIGINAL.md, "The
//! consolidated schema files").
//!
//! Everything else in `agents.sql` is a legacy table declared with its
//! legacy module ([`super::personas`], [`super::laboratory`],
//! [`super::genesis`], [`super::elo`] for `agent_relationships`).
//!
//! `calibration_predictions` of `agents.sql` is a CalibrationTracker-style
//! table (`agent, confidence, correct, domain, debate_id, position_id`)
//! that collides with the ELO tournament-prediction table of the same name
//! in `agent_elo.db`/`analytics.db`, which keeps the name
//! ([`super::elo`]). This one is `agents_calibration_predictions`;
//! importers must map `agents.db:calibration_predictions` to it. Owner:
//! [`DatabaseType::Personas`], one of the types that consolidate to
//! `agents.db` (nothing writes the table; no legacy file has it). `correct`
//! is a 0/1 flag. No foreign keys; no additions.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

table! {
    /// A calibration prediction (agents.sql `calibration_predictions`).
    pub struct AgentsCalibrationPrediction as AGENTS_CALIBRATION_PREDICTIONS {
        name: "agents_calibration_predictions",
        sources: ["calibration_predictions"],
        owner: DbTarget::Type(DatabaseType::Personas),
        version: 1,
        columns: {
            id: i64 => Integer,
            agent: String => Text,
            confidence: f64 => Real,
            correct: bool => Bool,
            domain: Option<String> => Text = "'general'",
            debate_id: Option<String> => Text,
            position_id: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_cal_pred_agent (agent),
            index idx_cal_pred_domain (domain),
            index idx_cal_pred_confidence (confidence),
        },
        foreign_keys: {},
    }
}
