//! `BatchJobStore`: explainability batch jobs
//! (`explainability_batch_jobs.db`; the original's `SQLiteBatchJobStore`).
//!
//! A job is kept for a TTL after its creation (`expires_at = created_at +
//! ttl`, default 3600 s, the original's
//! `ARAGORA_EXPLAINABILITY_BATCH_TTL_SECONDS`). As in the original, reads
//! treat an expired job as gone and delete it. Times are REAL Unix epoch
//! seconds; `debate_ids_json` and `results_json` are JSON lists,
//! `options_json` a JSON object.

use super::query::{Real, find_or_scan, newest};
use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::python_json;
use crate::schema::explainability::BatchJob;
use crate::store::common::ttl;
use crate::table::KeyRange;
use crate::table::Read;
use serde_json::Value;
use std::ops::Bound;

/// Default lifetime of a job, in seconds.
pub const DEFAULT_JOB_TTL: f64 = 3600.0;

/// The job statuses of the original.
pub const JOB_STATUSES: [&str; 4] = ["pending", "processing", "completed", "failed"];

/// Explainability batch jobs.
#[derive(Debug, Clone)]
pub struct BatchJobStore {
    db: Database,
    ttl: f64,
}

/// A new job (`pending`, nothing processed yet).
pub fn new_job(batch_id: &str, debate_ids: &[&str], options: Value, created_at: f64) -> BatchJob {
    BatchJob {
        batch_id: batch_id.to_string(),
        status: "pending".into(),
        created_at,
        started_at: None,
        completed_at: None,
        processed_count: 0,
        debate_ids_json: python_json(&Value::from(debate_ids.to_vec()), false),
        results_json: "[]".into(),
        options_json: python_json(&options, false),
        error: None,
        expires_at: 0.0,
        extra: Default::default(),
    }
}

fn check_status(status: &str) -> Result<()> {
    if JOB_STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "batch job status {status:?} is not one of {}",
            JOB_STATUSES.join(", ")
        )))
    }
}

fn check_json(what: &str, text: &str, object: bool) -> Result<()> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Error::InvalidArgument(format!("{what} is not JSON: {e}")))?;
    if (object && !v.is_object()) || (!object && !v.is_array()) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be a JSON {}",
            if object { "object" } else { "list" }
        )));
    }
    Ok(())
}

impl BatchJobStore {
    /// Opens `explainability_batch_jobs.db` with the default TTL.
    pub fn open(config: &Config) -> Result<Self> {
        Self::open_with_ttl(config, DEFAULT_JOB_TTL)
    }

    /// Opens it with jobs kept for `ttl_seconds` after creation.
    pub fn open_with_ttl(config: &Config, ttl_seconds: f64) -> Result<Self> {
        Ok(BatchJobStore {
            db: Database::open(config, DbTarget::Store(Store::ExplainabilityBatchJobs))?,
            ttl: ttl("batch job", ttl_seconds)?,
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts or replaces a job; `expires_at` is set to `created_at + ttl`.
    /// The status and JSON columns are validated. Returns the stored row.
    pub fn save_job(&self, job: &BatchJob) -> Result<BatchJob> {
        check_status(&job.status)?;
        check_json("debate_ids_json", &job.debate_ids_json, false)?;
        check_json("results_json", &job.results_json, false)?;
        check_json("options_json", &job.options_json, true)?;
        let mut row = job.clone();
        row.expires_at = row.created_at + self.ttl;
        let id = row.batch_id.clone();
        self.db.op(
            "batch_job_save",
            || format!("id={id}"),
            || {
                self.db.write_retrying(|w| w.upsert(&row).map(drop))?;
                Ok(row)
            },
        )
    }

    /// A job, unless it expired by `now` (then it is deleted and `None`
    /// returned, as the original does).
    pub fn get_job(&self, batch_id: &str) -> Result<Option<BatchJob>> {
        self.db.op("BatchJobStore.get_job", String::new, || {
            let now = self.db.now_epoch();
            let job: Option<BatchJob> = self.db.read()?.get(batch_id)?;
            match job {
                Some(j) if j.expires_at <= now => {
                    self.db.write_retrying(|w| {
                        // Re-check inside the transaction: it may have been re-saved.
                        match w.get::<BatchJob>(batch_id)? {
                            Some(cur) if cur.expires_at <= now => {
                                w.delete::<BatchJob>(batch_id).map(drop)
                            }
                            _ => Ok(()),
                        }
                    })?;
                    Ok(None)
                }
                other => Ok(other),
            }
        })
    }

    /// Moves a job to `status` at time `at`: `processing` sets
    /// `started_at` (if unset), `completed`/`failed` set `completed_at`;
    /// `error` replaces the stored error when given. `None` if unknown.
    pub fn update_status(
        &self,
        batch_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<Option<BatchJob>> {
        self.db.op("BatchJobStore.update_status", String::new, || {
            let at = self.db.now_epoch();
            check_status(status)?;
            self.db.write_retrying(|w| {
                let Some(mut j) = w.get::<BatchJob>(batch_id)? else {
                    return Ok(None);
                };
                j.status = status.to_string();
                match status {
                    "processing" => {
                        j.started_at.get_or_insert(at);
                    }
                    "completed" | "failed" => j.completed_at = Some(at),
                    _ => {}
                }
                if let Some(e) = error {
                    j.error = Some(e.to_string());
                }
                w.update(&j)?;
                Ok(Some(j))
            })
        })
    }

    /// Appends one result (and counts it as processed). `None` if unknown.
    pub fn add_result(&self, batch_id: &str, result: Value) -> Result<Option<BatchJob>> {
        self.db
            .write_op("BatchJobStore.add_result", String::new, |w| {
                let Some(mut j) = w.get::<BatchJob>(batch_id)? else {
                    return Ok(None);
                };
                let mut results = match serde_json::from_str::<Value>(&j.results_json) {
                    Ok(Value::Array(items)) => items,
                    _ => {
                        return Err(Error::Corrupt {
                            table: "explainability_batch_jobs",
                            key: format!("{batch_id:?}"),
                            what: "results_json is not a JSON list".into(),
                        });
                    }
                };
                results.push(result.clone());
                j.results_json = python_json(&Value::Array(results), false);
                j.processed_count += 1;
                w.update(&j)?;
                Ok(Some(j))
            })
    }

    /// Deletes a job.
    pub fn delete_job(&self, batch_id: &str) -> Result<bool> {
        self.db
            .write_op("BatchJobStore.delete_job", String::new, |w| {
                w.delete::<BatchJob>(batch_id)
            })
    }

    /// Deletes expired jobs, then lists up to `limit` jobs, newest first,
    /// optionally of one status only.
    pub fn list_jobs(&self, status: Option<&str>, limit: usize) -> Result<Vec<BatchJob>> {
        self.db.op("BatchJobStore.list_jobs", String::new, || {
            self.cleanup_expired()?;
            let jobs = find_or_scan(
                &self.db.read()?,
                BatchJob::idx_explainability_batch_jobs_status,
                status,
            )?;
            Ok(newest(
                jobs,
                limit,
                |j| Real(j.created_at),
                |a, b| a.batch_id.cmp(&b.batch_id),
            ))
        })
    }

    /// Deletes jobs with `expires_at <= now`; returns how many.
    pub fn cleanup_expired(&self) -> Result<u64> {
        let now = self.db.now_epoch();
        self.db.write_op("batch_job_cleanup", String::new, |w| {
            let range = KeyRange::between(Bound::Unbounded, Bound::Included(now));
            w.delete_in(BatchJob::idx_explainability_batch_jobs_expires, &range)
        })
    }

    /// Number of stored jobs (expired or not).
    pub fn count(&self) -> Result<u64> {
        self.db.read_op("BatchJobStore.count", String::new, |r| {
            r.count::<BatchJob>()
        })
    }
}
