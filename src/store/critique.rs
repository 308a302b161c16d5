//! `CritiqueStore`: debates, critiques, recurring issue patterns, agent
//! reputation and pattern embeddings (the original's `CritiqueStore`,
//! `aragora/memory/store.py`).
//!
//! # Patterns
//!
//! A pattern's id is [`pattern_id`]: the first 12 hex digits of the SHA-256
//! of the lower-cased issue text. [`CritiqueStore::store_pattern`]
//! upserts one pattern per issue of a critique: a new pattern starts with
//! `success_count` 1 and the critique's severity; an existing one gets
//! `success_count + 1` and its `avg_severity` becomes the running mean
//! `(avg × n + severity) / (n + 1)` over the `n` successes so far.
//! [`CritiqueStore::fail_pattern`] does the same with `failure_count`
//! (a new pattern starts at 0 successes, 1 failure). `issue_type` comes
//! from [`categorize_issue`]; the original's categories are kept, but its
//! keywords are not known here, so the keyword lists are ours. `example_task` is cut to 500
//! characters, as in the original.
//!
//! [`CritiqueStore::prune_stale_patterns`] removes patterns not
//! updated for `max_age_days` whose success rate is below the threshold,
//! archiving them into `patterns_archive` when asked.
//!
//! # Reputation
//!
//! `update_reputation` is the original's `INSERT OR IGNORE` then
//! increments. Prediction outcomes set a critique's `actual_usefulness`
//! and `prediction_error = |expected − actual|`, and add to the agent's
//! `total_predictions`/`total_prediction_error`; its `calibration_score`
//! becomes `max(0, 1 − mean error)` (our formula).
//!
//! # Stored formats
//!
//! `issues`/`suggestions` are JSON lists and `grounded_verdict` JSON, as
//! Python's `json.dumps` writes them. Timestamps are UTC ISO with an
//! explicit offset (the original: naive local ISO or `CURRENT_TIMESTAMP`).
//! Embeddings are raw little-endian float32 arrays.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::Result;
use crate::pyjson::{py_list, python_json};
use crate::schema::critique::{
    AgentReputation, Critique, Debate, Pattern, PatternArchive, PatternEmbedding,
};
use crate::store::common::finite;
use crate::store::continuum::{pack_f32, unpack_f32};
use crate::store::query::{find_or_scan, instant, newest};
use crate::table::Read;
use crate::table::{KeyRange, Page, RawKey, Reader, Writer};
use crate::time;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A pattern's id: SHA-256 hex of the lower-cased issue text, first 12 digits.
pub fn pattern_id(issue: &str) -> String {
    let digest = Sha256::digest(issue.to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..12].to_string()
}

/// Keyword lists per issue category, checked in this order (ours).
pub const ISSUE_CATEGORIES: &[(&str, &[&str])] = &[
    (
        "security",
        &[
            "security",
            "vulnerab",
            "injection",
            "xss",
            "csrf",
            "auth",
            "password",
            "secret",
            "sanitiz",
            "exploit",
        ],
    ),
    (
        "performance",
        &[
            "performance",
            "slow",
            "latency",
            "efficien",
            "optimiz",
            "speed",
            "memory usage",
            "complexity",
            "bottleneck",
        ],
    ),
    ("testing", &["test", "coverage", "assert", "mock"]),
    (
        "correctness",
        &[
            "bug",
            "incorrect",
            "wrong",
            "error",
            "crash",
            "fail",
            "edge case",
            "logic",
            "race condition",
        ],
    ),
    (
        "completeness",
        &[
            "missing",
            "incomplete",
            "lacks",
            "not handled",
            "unhandled",
            "todo",
            "omit",
        ],
    ),
    (
        "architecture",
        &[
            "architecture",
            "design",
            "coupling",
            "modular",
            "structure",
            "abstraction",
            "separation of concerns",
        ],
    ),
    (
        "clarity",
        &[
            "unclear",
            "clarity",
            "confusing",
            "readab",
            "naming",
            "document",
            "comment",
            "verbose",
        ],
    ),
];

/// The category of an issue: the first of [`ISSUE_CATEGORIES`] with a
/// keyword in the lower-cased text, else `general`.
pub fn categorize_issue(issue: &str) -> &'static str {
    let lower = issue.to_lowercase();
    ISSUE_CATEGORIES
        .iter()
        .find(|(_, words)| words.iter().any(|w| lower.contains(w)))
        .map(|(c, _)| *c)
        .unwrap_or("general")
}

/// Longest `example_task` kept, in characters.
pub const EXAMPLE_TASK_MAX_CHARS: usize = 500;

/// A critique by one agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CritiqueInput {
    /// The critic.
    pub agent: String,
    /// The agent critiqued.
    pub target_agent: Option<String>,
    /// Issues found.
    pub issues: Vec<String>,
    /// Suggested fixes.
    pub suggestions: Vec<String>,
    /// Severity in [0, 1].
    pub severity: f64,
    /// The critic's reasoning.
    pub reasoning: String,
}

/// A finished debate to store with its critiques.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DebateInput {
    /// The debate id.
    pub id: String,
    /// The task debated.
    pub task: String,
    /// The final answer.
    pub final_answer: Option<String>,
    /// Whether consensus was reached.
    pub consensus_reached: bool,
    /// Confidence in the answer.
    pub confidence: f64,
    /// Rounds used.
    pub rounds_used: i64,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// The grounded verdict (evidence, citations, score), if any.
    pub grounded_verdict: Option<Value>,
    /// The debate's critiques.
    pub critiques: Vec<CritiqueInput>,
}

/// What happened in one reputation update (each flag adds 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReputationDelta {
    /// The agent made a proposal.
    pub proposal_made: bool,
    /// Its proposal was accepted.
    pub proposal_accepted: bool,
    /// It gave a critique.
    pub critique_given: bool,
    /// Its critique was valuable.
    pub critique_valuable: bool,
}

/// A pattern's success rate: successes / (successes + failures), 0 when
/// it has neither.
pub fn success_rate(p: &Pattern) -> f64 {
    let s = p.success_count.unwrap_or(0);
    let f = p.failure_count.unwrap_or(0);
    if s + f == 0 {
        0.0
    } else {
        s as f64 / (s + f) as f64
    }
}

/// The critique store, in the file of [`DatabaseType::AgoraMemory`].
#[derive(Debug, Clone)]
pub struct CritiqueStore {
    db: Database,
}

fn insert_critique(
    w: &mut Writer<'_>,
    c: &CritiqueInput,
    debate_id: Option<&str>,
    now: &str,
) -> Result<i64> {
    finite("severity", c.severity)?;
    let id = w.next_id::<Critique>()?;
    w.insert(&Critique {
        id,
        debate_id: debate_id.map(str::to_string),
        agent: c.agent.clone(),
        target_agent: c.target_agent.clone(),
        issues: Some(py_list(c.issues.iter().map(String::as_str))),
        suggestions: Some(py_list(c.suggestions.iter().map(String::as_str))),
        severity: Some(c.severity),
        reasoning: Some(c.reasoning.clone()),
        led_to_improvement: Some(false),
        expected_usefulness: Some(0.5),
        actual_usefulness: None,
        prediction_error: None,
        created_at: Some(now.into()),
        extra: Default::default(),
    })?;
    Ok(id)
}

fn reputation_row(w: &mut Writer<'_>, agent: &str, now: &str) -> Result<AgentReputation> {
    Ok(match w.get::<AgentReputation>(agent)? {
        Some(r) => r,
        None => AgentReputation {
            agent_name: agent.into(),
            proposals_made: Some(0),
            proposals_accepted: Some(0),
            critiques_given: Some(0),
            critiques_valuable: Some(0),
            updated_at: Some(now.into()),
            total_predictions: Some(0),
            total_prediction_error: Some(0.0),
            calibration_score: Some(0.5),
            extra: Default::default(),
        },
    })
}

fn bump(v: &mut Option<i64>, by: bool) {
    *v = Some(v.unwrap_or(0) + i64::from(by));
}

impl CritiqueStore {
    /// Opens the critique database of a configuration (`agora_memory.db`,
    /// or `memory.db` in consolidated mode).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(CritiqueStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::AgoraMemory))?,
        })
    }

    /// Wraps an already open critique database.
    pub fn from_db(db: Database) -> Self {
        CritiqueStore { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    // ----- debates and critiques ---------------------------------------------

    /// Stores (or replaces) a debate and inserts one critique row per
    /// critique; returns the critique ids.
    ///
    /// All in one
    /// transaction.
    pub fn store_debate(&self, debate: &DebateInput) -> Result<Vec<i64>> {
        let now = self.db.now();
        self.db.op(
            "store_debate",
            || format!("id={}", debate.id),
            || {
                let now = time::format_iso(now);
                let row = Debate {
                    id: debate.id.clone(),
                    task: debate.task.clone(),
                    final_answer: debate.final_answer.clone(),
                    consensus_reached: Some(debate.consensus_reached),
                    confidence: Some(debate.confidence),
                    rounds_used: Some(debate.rounds_used),
                    duration_seconds: Some(debate.duration_seconds),
                    grounded_verdict: debate
                        .grounded_verdict
                        .as_ref()
                        .map(|v| python_json(v, false)),
                    created_at: Some(now.clone()),
                    extra: Default::default(),
                };
                self.db.write_retrying(|w| {
                    w.upsert(&row)?;
                    debate
                        .critiques
                        .iter()
                        .map(|c| insert_critique(w, c, Some(&debate.id), &now))
                        .collect()
                })
            },
        )
    }

    /// Stores one critique; returns its id. A `debate_id` must name a
    /// stored debate.
    pub fn store_critique(&self, critique: &CritiqueInput, debate_id: Option<&str>) -> Result<i64> {
        let now = self.db.now();
        self.db.op(
            "store_critique",
            || format!("agent={}", critique.agent),
            || {
                let now = time::format_iso(now);
                self.db
                    .write_retrying(|w| insert_critique(w, critique, debate_id, &now))
            },
        )
    }

    /// A debate by id.
    pub fn get_debate(&self, id: &str) -> Result<Option<Debate>> {
        self.db
            .read_op("CritiqueStore.get_debate", String::new, |r| r.get(id))
    }

    /// A critique by id.
    pub fn get_critique(&self, id: i64) -> Result<Option<Critique>> {
        self.db
            .read_op("CritiqueStore.get_critique", String::new, |r| r.get(id))
    }

    /// The critiques of a debate, in insertion order.
    pub fn critiques_for_debate(&self, debate_id: &str) -> Result<Vec<Critique>> {
        self.db
            .op("CritiqueStore.critiques_for_debate", String::new, || {
                let mut rows: Vec<Critique> = self.db.read()?.find(
                    Critique::idx_critiques_debate,
                    debate_id,
                    Page::default(),
                )?;
                rows.sort_by_key(|c| c.id);
                Ok(rows)
            })
    }

    /// The critiques an agent gave, in insertion order.
    pub fn critiques_by_agent(&self, agent: &str) -> Result<Vec<Critique>> {
        self.db
            .op("CritiqueStore.critiques_by_agent", String::new, || {
                let mut rows: Vec<Critique> =
                    self.db
                        .read()?
                        .find(Critique::idx_critiques_agent, agent, Page::default())?;
                rows.sort_by_key(|c| c.id);
                Ok(rows)
            })
    }

    /// Deletes a debate and its critiques; false if there was no debate.
    pub fn delete_debate(&self, id: &str) -> Result<bool> {
        self.db
            .write_op("CritiqueStore.delete_debate", String::new, |w| {
                if w.get::<Debate>(id)?.is_none() {
                    return Ok(false);
                }
                w.delete_by(Critique::idx_critiques_debate, id)?;
                w.delete::<Debate>(id)
            })
    }

    // ----- patterns ------------------------------------------------------------

    /// Records a successful fix: one pattern per issue of the critique.
    /// Returns the pattern ids, in issue order.
    ///
    /// (see the
    /// [module docs](self) for the upsert).
    pub fn store_pattern(
        &self,
        critique: &CritiqueInput,
        successful_fix: &str,
        example_task: Option<&str>,
    ) -> Result<Vec<String>> {
        let now = self.db.now();
        self.db.op(
            "store_pattern",
            || format!("agent={}", critique.agent),
            || {
                finite("severity", critique.severity)?;
                let now = time::format_iso(now);
                let example: Option<String> =
                    example_task.map(|t| t.chars().take(EXAMPLE_TASK_MAX_CHARS).collect());
                self.db.write_retrying(|w| {
                    let mut ids = Vec::new();
                    for issue in &critique.issues {
                        let id = pattern_id(issue);
                        let row = match w.get::<Pattern>(&id)? {
                            Some(mut p) => {
                                let n = p.success_count.unwrap_or(0);
                                let avg = p.avg_severity.unwrap_or(0.5);
                                p.avg_severity =
                                    Some((avg * n as f64 + critique.severity) / (n + 1) as f64);
                                p.success_count = Some(n + 1);
                                p.updated_at = Some(now.clone());
                                p
                            }
                            None => new_pattern(
                                &id,
                                categorize_issue(issue),
                                issue,
                                Some(successful_fix),
                                (1, 0),
                                critique.severity,
                                example.clone(),
                                &now,
                            ),
                        };
                        w.upsert(&row)?;
                        ids.push(id);
                    }
                    Ok(ids)
                })
            },
        )
    }

    /// Records that a fix for an issue failed; returns the pattern id.
    ///
    /// A new
    /// pattern takes `issue_type`, or [`categorize_issue`] without one.
    pub fn fail_pattern(&self, issue_text: &str, issue_type: Option<&str>) -> Result<String> {
        self.db.op("CritiqueStore.fail_pattern", String::new, || {
            let now = self.db.now();
            let now = time::format_iso(now);
            let id = pattern_id(issue_text);
            self.db.write_retrying(|w| {
                let row = match w.get::<Pattern>(&id)? {
                    Some(mut p) => {
                        bump(&mut p.failure_count, true);
                        p.updated_at = Some(now.clone());
                        p
                    }
                    None => new_pattern(
                        &id,
                        issue_type.unwrap_or_else(|| categorize_issue(issue_text)),
                        issue_text,
                        None,
                        (0, 1),
                        0.5,
                        None,
                        &now,
                    ),
                };
                w.upsert(&row).map(drop)
            })?;
            Ok(id)
        })
    }

    /// A pattern by id.
    pub fn get_pattern(&self, id: &str) -> Result<Option<Pattern>> {
        self.db
            .read_op("CritiqueStore.get_pattern", String::new, |r| r.get(id))
    }

    /// The pattern of an issue text.
    pub fn pattern_for_issue(&self, issue: &str) -> Result<Option<Pattern>> {
        self.get_pattern(&pattern_id(issue))
    }

    /// Patterns (of one type, or all) with at least `min_success`
    /// successes, most successful first, then most recently updated; at
    /// most `limit`.
    pub fn retrieve_patterns(
        &self,
        issue_type: Option<&str>,
        min_success: i64,
        limit: usize,
    ) -> Result<Vec<Pattern>> {
        self.db.read_op(
            "retrieve_patterns",
            || format!("type={issue_type:?}"),
            |r| {
                let mut rows = find_or_scan(r, Pattern::idx_patterns_type, issue_type)?;
                rows.retain(|p| p.success_count.unwrap_or(0) >= min_success);
                // Most successful first; among those, most recently updated.
                Ok(newest(
                    rows,
                    limit,
                    |p| {
                        (
                            p.success_count.unwrap_or(0),
                            instant(p.updated_at.as_deref()),
                        )
                    },
                    |a, b| a.id.cmp(&b.id),
                ))
            },
        )
    }

    /// Removes stale, unsuccessful patterns: last updated more than
    /// `max_age_days` before `now` and with a [`success_rate`] below
    /// `min_success_rate`. With `archive` they are first copied into
    /// `patterns_archive` (rowid = the largest so far + 1, as SQLite
    /// assigns it). Their embeddings go with them. Returns how many; one
    /// transaction.
    pub fn prune_stale_patterns(
        &self,
        max_age_days: i64,
        min_success_rate: f64,
        archive: bool,
    ) -> Result<u64> {
        let now = self.db.now();
        self.db.op(
            "prune_stale_patterns",
            || format!("days={max_age_days}"),
            || {
                let cutoff = now - chrono::Duration::days(max_age_days);
                let archived_at = time::format_iso(now);
                self.db.write_retrying(|w| {
                    let mut doomed = Vec::new();
                    for pk in w.keys_in(Pattern::idx_patterns_type, &KeyRange::all())? {
                        if let Some(p) = w.get::<Pattern>(RawKey(&pk))?
                            && instant(p.updated_at.as_deref()).is_some_and(|t| t < cutoff)
                            && success_rate(&p) < min_success_rate
                        {
                            doomed.push(p);
                        }
                    }
                    if archive && !doomed.is_empty() {
                        // Writers are serialized, so a snapshot taken now holds
                        // everything committed before this transaction.
                        let last: Vec<PatternArchive> = self
                            .db
                            .read()?
                            .scan(KeyRange::all(), Page::first(1).reversed())?;
                        let first = last.first().map_or(0, |a| a.rowid) + 1;
                        for (rowid, p) in (first..).zip(&doomed) {
                            w.insert(&PatternArchive {
                                rowid,
                                id: Some(p.id.clone()),
                                issue_type: Some(p.issue_type.clone()),
                                issue_text: Some(p.issue_text.clone()),
                                suggestion_text: p.suggestion_text.clone(),
                                success_count: p.success_count,
                                failure_count: p.failure_count,
                                avg_severity: p.avg_severity,
                                surprise_score: p.surprise_score,
                                example_task: p.example_task.clone(),
                                created_at: p.created_at.clone(),
                                updated_at: p.updated_at.clone(),
                                archived_at: Some(archived_at.clone()),
                                extra: Default::default(),
                            })?;
                        }
                    }
                    for p in &doomed {
                        w.delete::<Pattern>(p.id.as_str())?;
                    }
                    Ok(doomed.len() as u64)
                })
            },
        )
    }

    /// The archived patterns, oldest archive row first.
    pub fn archived_patterns(&self) -> Result<Vec<PatternArchive>> {
        self.db
            .op("CritiqueStore.archived_patterns", String::new, || {
                self.db.read()?.scan(KeyRange::all(), Page::default())
            })
    }

    /// Deletes a pattern and (by the cascade) its embedding; false if none.
    pub fn delete_pattern(&self, id: &str) -> Result<bool> {
        self.db
            .write_op("CritiqueStore.delete_pattern", String::new, |w| {
                w.delete::<Pattern>(id)
            })
    }

    /// Stores (or replaces) a pattern's embedding; the pattern must exist.
    pub fn set_pattern_embedding(&self, pattern_id: &str, embedding: &[f32]) -> Result<()> {
        self.db
            .op("CritiqueStore.set_pattern_embedding", String::new, || {
                let row = PatternEmbedding {
                    pattern_id: pattern_id.into(),
                    embedding: Some(pack_f32(embedding)),
                    extra: Default::default(),
                };
                self.db.write_retrying(|w| w.upsert(&row).map(drop))
            })
    }

    /// A pattern's embedding, if it has one.
    pub fn pattern_embedding(&self, pattern_id: &str) -> Result<Option<Vec<f32>>> {
        self.db
            .op("CritiqueStore.pattern_embedding", String::new, || {
                let row: Option<PatternEmbedding> = self.db.read()?.get(pattern_id)?;
                match row.and_then(|r| r.embedding) {
                    Some(b) => unpack_f32(&b).map(Some),
                    None => Ok(None),
                }
            })
    }

    // ----- reputation ----------------------------------------------------------

    /// Adds one reputation event for an agent (creating its row).
    pub fn update_reputation(&self, agent: &str, delta: ReputationDelta) -> Result<()> {
        let now = self.db.now();
        self.db.op(
            "update_reputation",
            || format!("agent={agent}"),
            || {
                let now = time::format_iso(now);
                self.db.write_retrying(|w| {
                    let mut r = reputation_row(w, agent, &now)?;
                    bump(&mut r.proposals_made, delta.proposal_made);
                    bump(&mut r.proposals_accepted, delta.proposal_accepted);
                    bump(&mut r.critiques_given, delta.critique_given);
                    bump(&mut r.critiques_valuable, delta.critique_valuable);
                    r.updated_at = Some(now.clone());
                    w.upsert(&r).map(drop)
                })
            },
        )
    }

    /// An agent's reputation row.
    pub fn get_reputation(&self, agent: &str) -> Result<Option<AgentReputation>> {
        self.db
            .read_op("CritiqueStore.get_reputation", String::new, |r| {
                r.get(agent)
            })
    }

    /// Every reputation, most accepted proposals first, then name.
    pub fn reputations(&self) -> Result<Vec<AgentReputation>> {
        self.db.op("CritiqueStore.reputations", String::new, || {
            let mut rows: Vec<AgentReputation> =
                self.db.read()?.scan(KeyRange::all(), Page::default())?;
            rows.sort_by(|a, b| {
                b.proposals_accepted
                    .unwrap_or(0)
                    .cmp(&a.proposals_accepted.unwrap_or(0))
                    .then_with(|| a.agent_name.cmp(&b.agent_name))
            });
            Ok(rows)
        })
    }

    /// Records how useful a critique turned out; returns its prediction
    /// error (`None` if there is no such critique). The agent defaults to
    /// the critique's author.
    pub fn update_prediction_outcome(
        &self,
        critique_id: i64,
        actual_usefulness: f64,
        agent_name: Option<&str>,
    ) -> Result<Option<f64>> {
        self.db.op(
            "CritiqueStore.update_prediction_outcome",
            String::new,
            || {
                let now = self.db.now();
                finite("actual_usefulness", actual_usefulness)?;
                let now = time::format_iso(now);
                self.db.write_retrying(|w| {
                    let Some(mut c) = w.get::<Critique>(critique_id)? else {
                        return Ok(None);
                    };
                    let err = (c.expected_usefulness.unwrap_or(0.5) - actual_usefulness).abs();
                    c.actual_usefulness = Some(actual_usefulness);
                    c.prediction_error = Some(err);
                    w.update(&c)?;
                    let agent = agent_name.unwrap_or(&c.agent).to_string();
                    let mut r = reputation_row(w, &agent, &now)?;
                    let n = r.total_predictions.unwrap_or(0) + 1;
                    let total = r.total_prediction_error.unwrap_or(0.0) + err;
                    r.total_predictions = Some(n);
                    r.total_prediction_error = Some(total);
                    r.calibration_score = Some((1.0 - total / n as f64).max(0.0));
                    r.updated_at = Some(now.clone());
                    w.upsert(&r)?;
                    Ok(Some(err))
                })
            },
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn new_pattern(
    id: &str,
    issue_type: &str,
    issue: &str,
    suggestion: Option<&str>,
    (success, failure): (i64, i64),
    severity: f64,
    example_task: Option<String>,
    now: &str,
) -> Pattern {
    Pattern {
        id: id.into(),
        issue_type: issue_type.into(),
        issue_text: issue.into(),
        suggestion_text: suggestion.map(str::to_string),
        success_count: Some(success),
        failure_count: Some(failure),
        avg_severity: Some(severity),
        surprise_score: Some(0.0),
        base_rate: Some(0.5),
        avg_prediction_error: Some(0.0),
        prediction_count: Some(0),
        example_task,
        created_at: Some(now.into()),
        updated_at: Some(now.into()),
        extra: Default::default(),
    }
}
