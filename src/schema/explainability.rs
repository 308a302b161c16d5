//! Explainability batch jobs (`explainability_batch_jobs.db`,
//! `SQLiteBatchJobStore` in the original's
//! `aragora/server/handlers/explainability_store.py`).
//!
//! Owner: [`Store::ExplainabilityBatchJobs`], its own file in both modes.
//! One shape; `*_at` are REAL Unix epoch seconds; `debate_ids_json`,
//! `results_json`, `options_json` are JSON text. No foreign keys, no
//! additions.

use crate::config::{DbTarget, Store};
use crate::table;

table! {
    /// A batch of explanation requests and its results.
    pub struct BatchJob as EXPLAINABILITY_BATCH_JOBS {
        name: "explainability_batch_jobs",
        owner: DbTarget::Store(Store::ExplainabilityBatchJobs),
        version: 1,
        columns: {
            batch_id: String => Text,
            status: String => Text,
            created_at: f64 => Epoch,
            started_at: Option<f64> => Epoch,
            completed_at: Option<f64> => Epoch,
            processed_count: i64 => Integer = "0",
            debate_ids_json: String => Json [pg as Text],
            results_json: String => Json [pg as Text],
            options_json: String => Json [pg as Text],
            error: Option<String> => Text,
            expires_at: f64 => Epoch,
        },
        primary_key: (batch_id),
        autoincrement: false,
        indexes: {
            index idx_explainability_batch_jobs_status (status),
            index idx_explainability_batch_jobs_expires (expires_at),
        },
        foreign_keys: {},
    }
}
