//! `InsightStore`: insights extracted from debates, debate summaries, agent
//! performance history, recurring patterns, insight usage and audience
//! wisdom (`aragora_insights.db`, consolidated `analytics.db`; the original's
//! `InsightStore`, `aragora/insights/store.py`).
//!
//! Encodings as the original writes them: `agents_involved`/`evidence`
//! are `json.dumps` lists, `metadata` a `json.dumps` object (in the given
//! key order), `debate_summaries.agent_performances` a `json.dumps` list
//! of `{"agent", "proposals", "accepted", "score"}` objects; flags are 0/1.
//! `insights.created_at` and the pattern times are naive local ISO; the
//! summary, performance, usage and wisdom `created_at` have the
//! `CURRENT_TIMESTAMP` shape (`YYYY-MM-DD HH:MM:SS`, UTC), as their column
//! defaults write them. The legacy column set of the union tables is
//! written (as the running application does: docs/ORIGINAL.md,
//! "Consolidated mode writes legacy shapes").
//!
//! Choices of ours where the original's behaviour is not known: a pattern
//! insight creates its cluster with `avg_severity` = `metadata.severity` when
//! numeric (else 0.5) and later occurrences leave it unchanged; appended
//! `debate_ids` use SQLite's compact JSON (`["d1","d2"]`), as `json_insert`
//! writes it, and a debate already listed is not appended again. Storing a
//! debate's insights again replaces the summary and insights and appends new
//! performance rows (the original's plain `INSERT`).

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{py_list, py_object_values};
use crate::schema::insights::{
    AgentPerformance, DebateSummary, Insight, InsightUsage, PatternCluster, WisdomSubmission,
};
use crate::store::genesis::naive_iso;
use crate::store::query::{keep, newest};
use crate::table::Read;
use crate::table::{KeyRange, Page, Reader};
use chrono::NaiveDateTime;
use serde_json::Value;

/// The insight types the original writes.
pub const INSIGHT_TYPES: [&str; 7] = [
    "consensus",
    "dissent",
    "pattern",
    "convergence",
    "agent_perf",
    "failure_mode",
    "decision",
];

/// Longest wisdom text kept, in characters.
pub const WISDOM_MAX_CHARS: usize = 280;

/// An insight to store (the `Insight` dataclass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewInsight {
    /// The id.
    pub id: String,
    /// One of [`INSIGHT_TYPES`].
    pub insight_type: String,
    /// Title (the pattern text for `pattern` insights).
    pub title: String,
    /// Description.
    pub description: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The debate.
    pub debate_id: String,
    /// Agents involved.
    pub agents_involved: Vec<String>,
    /// Evidence.
    pub evidence: Vec<String>,
    /// Metadata object, in order.
    pub metadata: Vec<(String, Value)>,
    /// `None` for now (naive local).
    pub created_at: Option<NaiveDateTime>,
}

/// One agent's part in a debate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentPerformanceInput {
    /// The agent.
    pub agent_name: String,
    /// Proposals made.
    pub proposals_made: i64,
    /// Critiques given.
    pub critiques_given: i64,
    /// Critiques received.
    pub critiques_received: i64,
    /// Whether its proposal was accepted.
    pub proposal_accepted: bool,
    /// Whether its vote matched the outcome.
    pub vote_aligned: bool,
    /// Mean severity of its critiques.
    pub avg_critique_severity: f64,
    /// Contribution score.
    pub contribution_score: f64,
}

/// A debate's insights (the `DebateInsights` dataclass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DebateInsights {
    /// The debate.
    pub debate_id: String,
    /// The task.
    pub task: String,
    /// Whether consensus was reached.
    pub consensus_reached: bool,
    /// Duration.
    pub duration_seconds: f64,
    /// Key takeaway.
    pub key_takeaway: String,
    /// The insights.
    pub insights: Vec<NewInsight>,
    /// Per-agent performance.
    pub agent_performances: Vec<AgentPerformanceInput>,
}

/// An agent's aggregated performance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentStats {
    /// Performance rows.
    pub debates: u64,
    /// Sum of proposals.
    pub proposals_made: i64,
    /// Rows with an accepted proposal.
    pub proposals_accepted: u64,
    /// Rows with an aligned vote.
    pub votes_aligned: u64,
    /// Mean contribution score (0 without rows).
    pub avg_contribution: f64,
}

fn check_insight(i: &NewInsight) -> Result<()> {
    if !INSIGHT_TYPES.contains(&i.insight_type.as_str()) {
        return Err(Error::InvalidArgument(format!(
            "insight type {:?} is not one of {}",
            i.insight_type,
            INSIGHT_TYPES.join(", ")
        )));
    }
    if i.id.is_empty() || !(0.0..=1.0).contains(&i.confidence) {
        return Err(Error::InvalidArgument(format!(
            "insight {:?}: empty id or confidence {} outside [0, 1]",
            i.id, i.confidence
        )));
    }
    Ok(())
}

fn insight_row(i: &NewInsight, local: NaiveDateTime) -> Insight {
    Insight {
        id: i.id.clone(),
        insight_type: i.insight_type.clone(),
        title: i.title.clone(),
        description: Some(i.description.clone()),
        confidence: Some(i.confidence),
        debate_id: i.debate_id.clone(),
        agents_involved: Some(py_list(i.agents_involved.iter().map(String::as_str))),
        evidence: Some(py_list(i.evidence.iter().map(String::as_str))),
        created_at: Some(naive_iso(i.created_at.unwrap_or(local))),
        metadata: Some(py_object_values(&i.metadata)),
        extra: Default::default(),
    }
}

fn by_confidence(rows: &mut [Insight]) {
    rows.sort_by(|a, b| {
        b.confidence
            .unwrap_or(0.0)
            .total_cmp(&a.confidence.unwrap_or(0.0))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The insight store.
#[derive(Debug, Clone)]
pub struct InsightStore {
    db: Database,
}

impl InsightStore {
    /// Opens the insights database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(InsightStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::Insights))?,
        })
    }

    /// Wraps an already open insights database.
    pub fn from_db(db: Database) -> Self {
        InsightStore { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    /// Stores a debate's summary (replacing), its insights (replacing by
    /// id), one performance row per agent, and the pattern clusters of its
    /// `pattern` insights, in one transaction. `local` stamps insights
    /// without a time and pattern times; `utc` the `CURRENT_TIMESTAMP`
    /// columns. Returns the number of insights stored.
    pub fn store_debate_insights(&self, d: &DebateInsights) -> Result<usize> {
        let local = self.db.now_local();
        let utc = self.db.now();
        for i in &d.insights {
            check_insight(i)?;
        }
        let perf_text = format!(
            "[{}]",
            d.agent_performances
                .iter()
                .map(|p| {
                    py_object_values(&[
                        ("agent".into(), p.agent_name.clone().into()),
                        ("proposals".into(), p.proposals_made.into()),
                        ("accepted".into(), p.proposal_accepted.into()),
                        ("score".into(), p.contribution_score.into()),
                    ])
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.db.op(
            "store_debate_insights",
            || format!("debate={}", d.debate_id),
            || {
                let created = crate::time::format_sql(utc);
                self.db.write_retrying(|w| {
                    w.upsert(&DebateSummary {
                        debate_id: d.debate_id.clone(),
                        task: Some(d.task.clone()),
                        consensus_reached: Some(d.consensus_reached),
                        duration_seconds: Some(d.duration_seconds),
                        total_insights: Some(d.insights.len() as i64),
                        key_takeaway: Some(d.key_takeaway.clone()),
                        agent_performances: Some(perf_text.clone()),
                        created_at: Some(created.clone()),
                        ..DebateSummary::default()
                    })?;
                    for i in &d.insights {
                        w.upsert(&insight_row(i, local))?;
                        if i.insight_type == "pattern" {
                            upsert_pattern(w, i, &d.debate_id, local)?;
                        }
                    }
                    for p in &d.agent_performances {
                        let id = w.next_id::<AgentPerformance>()?;
                        w.insert(&AgentPerformance {
                            id,
                            agent_name: p.agent_name.clone(),
                            debate_id: Some(d.debate_id.clone()),
                            proposals_made: Some(p.proposals_made),
                            critiques_given: Some(p.critiques_given),
                            critiques_received: Some(p.critiques_received),
                            proposal_accepted: Some(p.proposal_accepted),
                            vote_aligned: Some(p.vote_aligned),
                            avg_critique_severity: Some(p.avg_critique_severity),
                            contribution_score: Some(p.contribution_score),
                            created_at: Some(created.clone()),
                            ..AgentPerformance::default()
                        })?;
                    }
                    Ok(d.insights.len())
                })
            },
        )
    }

    /// Stores (or replaces) one insight.
    pub fn store_insight(&self, i: &NewInsight) -> Result<Insight> {
        self.db.op("InsightStore.store_insight", String::new, || {
            check_insight(i)?;
            let row = insight_row(i, self.db.now_local());
            self.db.write_retrying(|w| {
                w.upsert(&row)?;
                Ok(row.clone())
            })
        })
    }

    /// An insight by id.
    pub fn get_insight(&self, id: &str) -> Result<Option<Insight>> {
        self.db
            .read_op("InsightStore.get_insight", String::new, |r| r.get(id))
    }

    /// Insights of one type, highest confidence first (ties by id).
    pub fn insights_by_type(&self, insight_type: &str, limit: usize) -> Result<Vec<Insight>> {
        self.db
            .op("InsightStore.insights_by_type", String::new, || {
                let mut rows: Vec<Insight> = self.db.read()?.find(
                    Insight::idx_insights_type,
                    insight_type,
                    Page::default(),
                )?;
                by_confidence(&mut rows);
                rows.truncate(limit);
                Ok(rows)
            })
    }

    /// A debate's insights, highest confidence first.
    pub fn insights_for_debate(&self, debate_id: &str) -> Result<Vec<Insight>> {
        self.db
            .op("InsightStore.insights_for_debate", String::new, || {
                let mut rows: Vec<Insight> = self.db.read()?.find(
                    Insight::idx_insights_debate,
                    debate_id,
                    Page::default(),
                )?;
                by_confidence(&mut rows);
                Ok(rows)
            })
    }

    /// Insights whose `agents_involved` list names the agent, highest
    /// confidence first (a full scan: there is no index on the list).
    pub fn insights_for_agent(&self, agent_name: &str, limit: usize) -> Result<Vec<Insight>> {
        self.db
            .op("InsightStore.insights_for_agent", String::new, || {
                let all: Vec<Insight> = self.db.read()?.scan(KeyRange::all(), Page::default())?;
                let mut rows: Vec<Insight> = all
                    .into_iter()
                    .filter(|i| {
                        i.agents_involved
                            .as_deref()
                            .and_then(|t| serde_json::from_str::<Vec<String>>(t).ok())
                            .is_some_and(|v| v.iter().any(|a| a == agent_name))
                    })
                    .collect();
                by_confidence(&mut rows);
                rows.truncate(limit);
                Ok(rows)
            })
    }

    /// A debate's summary.
    pub fn get_debate_summary(&self, debate_id: &str) -> Result<Option<DebateSummary>> {
        self.db
            .op("InsightStore.get_debate_summary", String::new, || {
                self.db.read()?.get(debate_id)
            })
    }

    /// The newest summaries (by `created_at`, then debate id descending).
    pub fn recent_summaries(&self, limit: usize) -> Result<Vec<DebateSummary>> {
        self.db
            .op("InsightStore.recent_summaries", String::new, || {
                self.db.read()?.scan_index(
                    DebateSummary::idx_debate_summaries_created,
                    KeyRange::all(),
                    Page::first(limit).reversed(),
                )
            })
    }

    /// An agent's performance rows, newest first.
    pub fn agent_performance_history(
        &self,
        agent_name: &str,
        limit: usize,
    ) -> Result<Vec<AgentPerformance>> {
        self.db.op(
            "InsightStore.agent_performance_history",
            String::new,
            || {
                let rows: Vec<AgentPerformance> = self.db.read()?.find(
                    AgentPerformance::idx_agent_perf_name,
                    agent_name,
                    Page::default(),
                )?;
                Ok(newest(rows, limit, |r| r.id, keep))
            },
        )
    }

    /// An agent's aggregated performance.
    pub fn agent_stats(&self, agent_name: &str) -> Result<AgentStats> {
        let rows = self.agent_performance_history(agent_name, usize::MAX)?;
        let mut s = AgentStats {
            debates: rows.len() as u64,
            ..AgentStats::default()
        };
        let mut total = 0.0;
        for r in &rows {
            s.proposals_made += r.proposals_made.unwrap_or(0);
            s.proposals_accepted += u64::from(r.proposal_accepted == Some(true));
            s.votes_aligned += u64::from(r.vote_aligned == Some(true));
            total += r.contribution_score.unwrap_or(0.5);
        }
        if !rows.is_empty() {
            s.avg_contribution = total / rows.len() as f64;
        }
        Ok(s)
    }

    /// Pattern clusters, most frequent first, optionally of one category.
    pub fn patterns(&self, category: Option<&str>) -> Result<Vec<PatternCluster>> {
        self.db.read_op("InsightStore.patterns", String::new, |r| {
            let mut rows: Vec<PatternCluster> = match category {
                Some(c) => r.find(PatternCluster::idx_pattern_category, c, Page::default())?,
                None => r.scan(KeyRange::all(), Page::default())?,
            };
            rows.sort_by(|a, b| {
                b.occurrence_count
                    .cmp(&a.occurrence_count)
                    .then_with(|| a.id.cmp(&b.id))
            });
            Ok(rows)
        })
    }

    /// Records a use, replacing an earlier record of the same insight in
    /// the same debate (`INSERT OR REPLACE`: the row gets a new id).
    pub fn record_insight_usage(
        &self,
        insight_id: &str,
        debate_id: &str,
        was_successful: bool,
    ) -> Result<InsightUsage> {
        self.db
            .op("InsightStore.record_insight_usage", String::new, || {
                let utc = self.db.now();
                self.db.write_retrying(|w| {
                    if let Some(old) = w.get_by(
                        InsightUsage::insight_usage_insight_id_debate_id_key,
                        (insight_id, debate_id),
                    )? {
                        w.delete::<InsightUsage>(old.id)?;
                    }
                    let row = InsightUsage {
                        id: w.next_id::<InsightUsage>()?,
                        insight_id: insight_id.into(),
                        debate_id: debate_id.into(),
                        was_successful: Some(was_successful),
                        created_at: Some(crate::time::format_sql(utc)),
                        extra: Default::default(),
                    };
                    w.insert(&row)?;
                    Ok(row)
                })
            })
    }

    /// `(uses, successful uses)` of an insight.
    pub fn insight_usage_stats(&self, insight_id: &str) -> Result<(u64, u64)> {
        self.db
            .op("InsightStore.insight_usage_stats", String::new, || {
                let rows: Vec<InsightUsage> = self.db.read()?.find(
                    InsightUsage::insight_usage_insight_id_debate_id_key,
                    insight_id,
                    Page::default(),
                )?;
                let ok = rows
                    .iter()
                    .filter(|u| u.was_successful == Some(true))
                    .count();
                Ok((rows.len() as u64, ok as u64))
            })
    }

    /// Adds audience wisdom to a loop (text cut to [`WISDOM_MAX_CHARS`]
    /// characters, submitter `anonymous` by default); returns its id.
    pub fn add_wisdom_submission(
        &self,
        loop_id: &str,
        text: &str,
        submitter_id: Option<&str>,
        context_tags: Option<&str>,
    ) -> Result<i64> {
        self.db
            .op("InsightStore.add_wisdom_submission", String::new, || {
                let text: String = text.chars().take(WISDOM_MAX_CHARS).collect();
                self.db.write_retrying(|w| {
                    let id = w.next_id::<WisdomSubmission>()?;
                    w.insert(&WisdomSubmission {
                        id,
                        loop_id: loop_id.into(),
                        text: text.clone(),
                        submitter_id: Some(submitter_id.unwrap_or("anonymous").into()),
                        context_tags: context_tags.map(str::to_string),
                        used: Some(false),
                        created_at: Some(crate::time::format_sql(self.db.now())),
                        extra: Default::default(),
                    })?;
                    Ok(id)
                })
            })
    }

    /// Marks wisdom used; false if there is no such submission.
    pub fn mark_wisdom_used(&self, id: i64) -> Result<bool> {
        self.db
            .op("InsightStore.mark_wisdom_used", String::new, || {
                self.db.write_retrying(|w| {
                    let Some(mut s) = w.get::<WisdomSubmission>(id)? else {
                        return Ok(false);
                    };
                    s.used = Some(true);
                    w.update(&s)?;
                    Ok(true)
                })
            })
    }

    /// A loop's unused wisdom, oldest first.
    pub fn unused_wisdom(&self, loop_id: &str) -> Result<Vec<WisdomSubmission>> {
        self.db
            .read_op("InsightStore.unused_wisdom", String::new, |r| {
                r.find(
                    WisdomSubmission::idx_wisdom_loop_id,
                    (loop_id, false),
                    Page::default(),
                )
            })
    }
}

fn upsert_pattern(
    w: &mut crate::table::Writer<'_>,
    i: &NewInsight,
    debate_id: &str,
    local: NaiveDateTime,
) -> Result<()> {
    let meta = |k: &str| i.metadata.iter().find(|(m, _)| m == k).map(|(_, v)| v);
    let category = meta("category")
        .and_then(Value::as_str)
        .unwrap_or("general")
        .to_string();
    let now = naive_iso(i.created_at.unwrap_or(local));
    let existing = w.get_by(
        PatternCluster::pattern_clusters_category_pattern_text_key,
        (category.as_str(), i.title.as_str()),
    )?;
    match existing {
        Some(mut p) => {
            p.occurrence_count = Some(p.occurrence_count.unwrap_or(1) + 1);
            let mut ids: Vec<Value> = p
                .debate_ids
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            if !ids.iter().any(|v| v.as_str() == Some(debate_id)) {
                ids.push(debate_id.into());
                p.debate_ids = Some(Value::Array(ids).to_string());
            }
            p.last_seen = Some(now);
            w.update(&p)
        }
        None => {
            let id = w.next_id::<PatternCluster>()?;
            w.insert(&PatternCluster {
                id,
                category: Some(category),
                pattern_text: Some(i.title.clone()),
                occurrence_count: Some(1),
                avg_severity: Some(meta("severity").and_then(Value::as_f64).unwrap_or(0.5)),
                debate_ids: Some(py_list([debate_id])),
                first_seen: Some(now.clone()),
                last_seen: Some(now),
                ..PatternCluster::default()
            })
        }
    }
}
