//! The calibration tracker (`agent_calibration.db`, `CalibrationTracker` in
//! the original's `aragora/agents/calibration.py`; consolidated
//! `analytics.db`, see docs/ORIGINAL.md, "consolidate.py").
//!
//! Owner: [`DatabaseType::Calibration`] (legacy `agent_calibration.db`,
//! consolidated `analytics.db`).
//!
//! `predictions` has two unrelated shapes with one name in the same
//! consolidated file: the tracker's (`agent, confidence, correct, domain,
//! debate_id, position_id, created_at`) and consolidated `analytics.sql`'s
//! (`agent, domain, predicted, actual, bucket, timestamp`). A real
//! `analytics.db` can even hold both at once: the tracker ALTER-appends its
//! columns to the consolidated table. So this is one table with the
//! union: only `id` and `agent` (NOT NULL in both) are required; every
//! other column is nullable. Where the shapes disagree on a default the
//! tracker's is kept (`domain = 'general'`, no default for `confidence` and
//! `correct`; consolidated: `''`, and the ALTER variant `0.0`/`0`).
//! `correct` is a 0/1 flag. The tracker writes `''` rather than NULL for a
//! missing `debate_id`/`position_id`; kept as is.
//!
//! Indexes of both shapes are kept: `idx_pred_*` (tracker) and
//! `idx_predictions_agent`, `idx_predictions_domain` (consolidated), even
//! where they cover the same columns.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const CALIBRATION_DB: DbTarget = DbTarget::Type(DatabaseType::Calibration);

table! {
    /// One prediction and whether it came true (or, consolidated shape, predicted vs actual).
    pub struct Prediction as PREDICTIONS {
        name: "predictions",
        owner: CALIBRATION_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            agent: String => Text,
            confidence: Option<f64> => Real,
            correct: Option<bool> => Bool,
            domain: Option<String> => Text = "'general'",
            debate_id: Option<String> => Text,
            position_id: Option<String> => Text,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            predicted: Option<f64> => Real,
            actual: Option<f64> => Real,
            bucket: Option<String> => Text = "'default'",
            timestamp: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_pred_agent (agent),
            index idx_pred_domain (domain),
            index idx_pred_confidence (confidence),
            index idx_pred_created (created_at),
            index idx_predictions_agent (agent),
            index idx_predictions_domain (agent, domain),
        },
        foreign_keys: {},
    }
}

table! {
    /// An agent's tuned temperature, overall and per domain.
    pub struct TemperatureParams as TEMPERATURE_PARAMS {
        name: "temperature_params",
        owner: CALIBRATION_DB,
        version: 1,
        columns: {
            agent: String => Text,
            temperature: Option<f64> => Real = "1.0",
            domain_temperatures: Option<String> => Json = "'{}'",
            last_tuned: Option<String> => Timestamp,
            predictions_at_tune: Option<i64> => Integer = "0",
        },
        primary_key: (agent),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}
