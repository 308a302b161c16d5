//! `CalibrationTracker`: agents' confidence predictions and how well
//! calibrated they are, plus tuned temperatures (the original's
//! `aragora/agents/calibration.py`).
//!
//! Faithful to the original's writer: a prediction's confidence is clamped
//! to [0, 1] (NaN is rejected), `correct` is a 0/1 flag, the domain
//! defaults to `"general"`, and a missing `debate_id`/`position_id` is
//! stored as `''`, not NULL. `created_at` is written as UTC ISO with an
//! explicit offset (the original wrote naive local time).
//!
//! Our addition: a prediction may be recorded before its outcome is known
//! (`correct` NULL, which the union schema allows) and resolved later with
//! [`CalibrationTracker::resolve_prediction`]. Unresolved rows, and rows of
//! the consolidated `analytics.sql` shape (no `confidence`), are left out of
//! the summary.
//!
//! The summary's expected calibration error uses 10 equal-width buckets
//! (`[0, 0.1)`, …, `[0.9, 1.0]`): `ECE = Σ_b (n_b / N) × |accuracy_b −
//! mean_confidence_b|`.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{parse_object, py_object_values};
use crate::schema::calibration::{Prediction, TemperatureParams};
use crate::store::elo::bucket_key;
use crate::table::Page;
use crate::table::Read;
use crate::time;

/// A prediction to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewPrediction<'a> {
    /// The predicting agent.
    pub agent: &'a str,
    /// Its confidence; clamped to [0, 1].
    pub confidence: f64,
    /// Whether it came true; `None` if not known yet.
    pub correct: Option<bool>,
    /// The domain (the original's default is `"general"`).
    pub domain: &'a str,
    /// The debate, if any.
    pub debate_id: Option<&'a str>,
    /// The position, if any.
    pub position_id: Option<&'a str>,
}

impl<'a> NewPrediction<'a> {
    /// A resolved prediction in the `"general"` domain.
    pub fn new(agent: &'a str, confidence: f64, correct: bool) -> Self {
        NewPrediction {
            agent,
            confidence,
            correct: Some(correct),
            domain: "general",
            debate_id: None,
            position_id: None,
        }
    }

    /// The same prediction in another domain.
    pub fn in_domain(mut self, domain: &'a str) -> Self {
        self.domain = domain;
        self
    }

    /// The same prediction with its outcome not yet known.
    pub fn pending(mut self) -> Self {
        self.correct = None;
        self
    }
}

/// One confidence bucket of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSummary {
    /// `"0.7-0.8"`.
    pub key: String,
    /// Scored predictions in the bucket.
    pub count: u64,
    /// How many came true.
    pub correct: u64,
    /// Their mean confidence (0 when empty).
    pub mean_confidence: f64,
    /// `correct / count` (0 when empty).
    pub accuracy: f64,
}

/// How well calibrated an agent is.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSummary {
    /// The agent.
    pub agent: String,
    /// Scored (resolved) predictions.
    pub total_predictions: u64,
    /// How many came true.
    pub correct: u64,
    /// Predictions recorded but not yet resolved.
    pub pending: u64,
    /// `correct / total` (0 with no predictions).
    pub accuracy: f64,
    /// Mean of `(confidence − outcome)²` (0 with no predictions).
    pub brier_score: f64,
    /// Expected calibration error over the 10 buckets.
    pub ece: f64,
    /// The 10 buckets, lowest confidence first.
    pub buckets: Vec<BucketSummary>,
}

/// The calibration tracker, in the file that holds [`DatabaseType::Calibration`].
#[derive(Debug, Clone)]
pub struct CalibrationTracker {
    db: Database,
}

impl CalibrationTracker {
    /// Opens the calibration database of a configuration
    /// (`agent_calibration.db`, or `analytics.db` in consolidated mode).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(CalibrationTracker {
            db: Database::open(config, DbTarget::Type(DatabaseType::Calibration))?,
        })
    }

    /// Wraps an already open calibration database.
    pub fn from_db(db: Database) -> Self {
        CalibrationTracker { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Records a prediction now; returns its id.
    pub fn record_prediction(&self, p: &NewPrediction<'_>) -> Result<i64> {
        let now = self.db.now();
        if p.confidence.is_nan() {
            return Err(Error::InvalidArgument(
                "record_prediction: confidence is NaN, expected a number in [0, 1]".into(),
            ));
        }
        if p.agent.is_empty() {
            return Err(Error::InvalidArgument(
                "record_prediction: agent is empty".into(),
            ));
        }
        self.db.write_op(
            "record_prediction",
            || format!("agent={}", p.agent),
            |w| {
                let id = w.next_id::<Prediction>()?;
                w.insert(&Prediction {
                    id,
                    agent: p.agent.into(),
                    confidence: Some(p.confidence.clamp(0.0, 1.0)),
                    correct: p.correct,
                    domain: Some(p.domain.into()),
                    debate_id: Some(p.debate_id.unwrap_or("").into()),
                    position_id: Some(p.position_id.unwrap_or("").into()),
                    created_at: Some(time::format_iso(now)),
                    ..Default::default()
                })?;
                Ok(id)
            },
        )
    }

    /// Sets whether a prediction came true; `None` for an unknown id.
    pub fn resolve_prediction(&self, id: i64, correct: bool) -> Result<Option<Prediction>> {
        self.db.write_op(
            "resolve_prediction",
            || format!("id={id}"),
            |w| {
                let Some(mut p) = w.get::<Prediction>(id)? else {
                    return Ok(None);
                };
                p.correct = Some(correct);
                w.update(&p)?;
                Ok(Some(p))
            },
        )
    }

    /// A prediction by id.
    pub fn get_prediction(&self, id: i64) -> Result<Option<Prediction>> {
        self.db
            .op("CalibrationTracker.get_prediction", String::new, || {
                self.db.read()?.get(id)
            })
    }

    /// An agent's predictions (optionally in one domain), in id order.
    pub fn predictions(&self, agent: &str, domain: Option<&str>) -> Result<Vec<Prediction>> {
        self.db
            .op("CalibrationTracker.predictions", String::new, || {
                let r = self.db.read()?;
                match domain {
                    None => r.find(Prediction::idx_pred_agent, agent, Page::default()),
                    Some(d) => r.find(
                        Prediction::idx_predictions_domain,
                        (agent, d),
                        Page::default(),
                    ),
                }
            })
    }

    /// An agent's calibration (optionally in one domain): count, accuracy,
    /// Brier score and expected calibration error over 10 buckets.
    pub fn calibration_summary(
        &self,
        agent: &str,
        domain: Option<&str>,
    ) -> Result<CalibrationSummary> {
        self.db.op(
            "calibration_summary",
            || format!("agent={agent}"),
            || {
                let rows = self.predictions(agent, domain)?;
                let mut counts = [0u64; 10];
                let mut corrects = [0u64; 10];
                let mut conf_sums = [0f64; 10];
                let (mut total, mut correct, mut pending, mut brier_sum) = (0u64, 0u64, 0u64, 0f64);
                for p in &rows {
                    let Some(c) = p.confidence else { continue };
                    let Some(ok) = p.correct else {
                        pending += 1;
                        continue;
                    };
                    let b = ((c * 10.0).floor() as usize).min(9);
                    counts[b] += 1;
                    corrects[b] += u64::from(ok);
                    conf_sums[b] += c;
                    total += 1;
                    correct += u64::from(ok);
                    brier_sum += (c - if ok { 1.0 } else { 0.0 }).powi(2);
                }
                let ratio = |a: f64, n: u64| if n == 0 { 0.0 } else { a / n as f64 };
                let buckets: Vec<BucketSummary> = (0..10)
                    .map(|b| BucketSummary {
                        key: bucket_key(b as f64 / 10.0),
                        count: counts[b],
                        correct: corrects[b],
                        mean_confidence: ratio(conf_sums[b], counts[b]),
                        accuracy: ratio(corrects[b] as f64, counts[b]),
                    })
                    .collect();
                let ece = buckets
                    .iter()
                    .map(|b| ratio(b.count as f64, total) * (b.accuracy - b.mean_confidence).abs())
                    .sum();
                Ok(CalibrationSummary {
                    agent: agent.into(),
                    total_predictions: total,
                    correct,
                    pending,
                    accuracy: ratio(correct as f64, total),
                    brier_score: ratio(brier_sum, total),
                    ece,
                    buckets,
                })
            },
        )
    }

    /// An agent's temperature parameters; the defaults (temperature 1.0, no
    /// domain temperatures, never tuned) when none are stored.
    pub fn get_temperature_params(&self, agent: &str) -> Result<TemperatureParams> {
        Ok(self
            .db
            .read()?
            .get::<TemperatureParams>(agent)?
            .unwrap_or_else(|| default_params(agent)))
    }

    /// The temperature to use for an agent in a domain: the domain's if
    /// tuned, else the agent's overall one (1.0 by default).
    pub fn temperature_for(&self, agent: &str, domain: Option<&str>) -> Result<f64> {
        let p = self.get_temperature_params(agent)?;
        let overall = p.temperature.unwrap_or(1.0);
        let Some(d) = domain else {
            return Ok(overall);
        };
        let obj = domain_temps(&p)?;
        Ok(obj
            .iter()
            .find(|(k, _)| k == d)
            .and_then(|(_, v)| v.as_f64())
            .unwrap_or(overall))
    }

    /// Stores an agent's parameters as given (the original's
    /// `save_temperature_params`, `INSERT OR REPLACE`).
    pub fn save_temperature_params(&self, params: &TemperatureParams) -> Result<()> {
        check_temperature(params.temperature.unwrap_or(1.0), "temperature")?;
        for (k, v) in domain_temps(params)? {
            match v.as_f64() {
                Some(t) => check_temperature(t, &format!("domain_temperatures[{k:?}]"))?,
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "save_temperature_params: domain_temperatures[{k:?}] is {v}, expected a number"
                    )));
                }
            }
        }
        self.db.write_op(
            "save_temperature_params",
            || format!("agent={}", params.agent),
            |w| w.upsert(params).map(drop),
        )
    }

    /// Sets an agent's overall temperature (`domain` None) or one domain's,
    /// marking it tuned now with the current number of predictions.
    pub fn set_temperature(
        &self,
        agent: &str,
        domain: Option<&str>,
        temperature: f64,
    ) -> Result<TemperatureParams> {
        let now = self.db.now();
        check_temperature(temperature, "temperature")?;
        self.db.write_op(
            "set_temperature",
            || format!("agent={agent}"),
            |w| {
                let mut p = w
                    .get::<TemperatureParams>(agent)?
                    .unwrap_or_else(|| default_params(agent));
                match domain {
                    None => p.temperature = Some(temperature),
                    Some(d) => {
                        let mut obj = domain_temps(&p)?;
                        let v = serde_json::Value::from(temperature);
                        match obj.iter_mut().find(|(k, _)| k == d) {
                            Some(slot) => slot.1 = v,
                            None => obj.push((d.to_string(), v)),
                        }
                        p.domain_temperatures = Some(py_object_values(&obj));
                    }
                }
                let n = w.keys_by(Prediction::idx_pred_agent, agent)?.len();
                p.last_tuned = Some(time::format_iso(now));
                p.predictions_at_tune = Some(n as i64);
                w.upsert(&p)?;
                Ok(p)
            },
        )
    }

    /// Deletes an agent's predictions and temperature parameters; returns
    /// the number of rows deleted.
    pub fn delete_agent_data(&self, agent: &str) -> Result<u64> {
        self.db.write_op(
            "delete_agent_data",
            || format!("agent={agent}"),
            |w| {
                let mut n = w.delete_by(Prediction::idx_pred_agent, agent)?;
                n += u64::from(w.delete::<TemperatureParams>(agent)?);
                Ok(n)
            },
        )
    }
}

fn default_params(agent: &str) -> TemperatureParams {
    TemperatureParams {
        agent: agent.into(),
        temperature: Some(1.0),
        domain_temperatures: Some("{}".into()),
        last_tuned: None,
        predictions_at_tune: Some(0),
        extra: Default::default(),
    }
}

fn domain_temps(p: &TemperatureParams) -> Result<Vec<(String, serde_json::Value)>> {
    match p.domain_temperatures.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(t) => parse_object(t).map_err(|e| {
            Error::InvalidArgument(format!(
                "temperature_params of {:?}: domain_temperatures is not a JSON object: {e}",
                p.agent
            ))
        }),
    }
}

fn check_temperature(t: f64, field: &str) -> Result<()> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "temperature_params: {field} is {t}, expected a positive finite number"
        )))
    }
}
