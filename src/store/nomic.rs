//! `NomicStore`: the nomic-loop records of the Supabase dashboard (the
//! original's `aragora/persistence/supabase_client.py`): cycles, debate
//! artifacts, stream events and agent metrics in the debates database (legacy
//! `debates.db`, consolidated `core.db`), and rollbacks, cycle evolutions and
//! file changes in the evolution database (legacy `evolution.db`,
//! consolidated `core.db`).
//!
//! Encodings as `to_dict` writes them: `datetime` → ISO with `+00:00`
//! (microseconds only when non-zero), bools → 0/1, lists and dicts →
//! Python's `json.dumps` text (keys in the given order). Ids are
//! `str(uuid4())` where PostgreSQL's `uuid_generate_v4()` would make one.
//!
//! Choices of ours where the original's behaviour is not known: `get_cycle`
//! returns every phase of a cycle (the table is unique per `(loop_id,
//! cycle_number, phase)`, the original's `.single()` would fail on several);
//! `get_events(since)` keeps events at or after `since`; `save_cycle` of a
//! cycle whose `(loop_id, cycle_number, phase)` already exists under another
//! id fails with the unique-index error, as PostgreSQL would.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{py_list, py_object_values, python_json};
use crate::schema::evolution::{CycleEvolution, CycleFileChange, NomicRollback};
use crate::schema::supabase::{AgentMetrics, DebateArtifact, NomicCycle, StreamEvent};
use crate::store::common::finite;
use crate::store::query::{
    Order, by_time, find_or_scan, instant_then_text, keep, newest, paginate, time_range,
};
use crate::store::users::new_uuid;
use crate::table::Read;
use crate::table::{KeyRange, Page};
use crate::time::format_iso;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

/// The phases of a cycle.
pub const PHASES: [&str; 5] = ["debate", "design", "implement", "verify", "commit"];

/// Rollback reasons.
pub const ROLLBACK_REASONS: [&str; 4] = [
    "verify_failure",
    "manual_intervention",
    "timeout",
    "conflict",
];

/// Rollback severities.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// File change types.
pub const CHANGE_TYPES: [&str; 4] = ["added", "modified", "deleted", "renamed"];

/// A debate transcript to save (the `DebateArtifact` dataclass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewDebateArtifact {
    /// `None` for a fresh uuid.
    pub id: Option<String>,
    /// The loop.
    pub loop_id: String,
    /// The cycle.
    pub cycle_number: i64,
    /// The phase.
    pub phase: String,
    /// The task debated.
    pub task: String,
    /// Agent names.
    pub agents: Vec<String>,
    /// Messages, each a JSON object.
    pub transcript: Vec<Value>,
    /// Whether consensus was reached.
    pub consensus_reached: bool,
    /// Consensus confidence.
    pub confidence: f64,
    /// The winning proposal.
    pub winning_proposal: Option<String>,
    /// Votes per agent, in order.
    pub vote_tally: Option<Vec<(String, Value)>>,
    /// `None` for now.
    pub created_at: Option<DateTime<Utc>>,
}

/// A stream event to save (the `StreamEvent` dataclass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewStreamEvent {
    /// The loop.
    pub loop_id: String,
    /// The cycle.
    pub cycle: i64,
    /// `cycle_start`, `phase_start`, `task_complete`, `error`, …
    pub event_type: String,
    /// The payload, as an ordered object.
    pub event_data: Vec<(String, Value)>,
    /// The agent, if any.
    pub agent: Option<String>,
    /// `None` for now.
    pub timestamp: Option<DateTime<Utc>>,
}

/// A rollback to save (the `NomicRollback` dataclass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRollback {
    /// `None` for a fresh uuid.
    pub id: Option<String>,
    /// The loop.
    pub loop_id: String,
    /// The cycle.
    pub cycle_number: i64,
    /// The phase.
    pub phase: String,
    /// One of [`ROLLBACK_REASONS`].
    pub reason: String,
    /// One of [`SEVERITIES`].
    pub severity: String,
    /// The commit rolled back.
    pub rolled_back_commit: Option<String>,
    /// The branch the work was kept on.
    pub preserved_branch: Option<String>,
    /// Files affected.
    pub files_affected: Vec<String>,
    /// Diff summary.
    pub diff_summary: String,
    /// Error message.
    pub error_message: Option<String>,
    /// `None` for now.
    pub created_at: Option<DateTime<Utc>>,
}

/// A cycle's evolution record to save (the `CycleEvolution` dataclass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewCycleEvolution {
    /// `None` for a fresh uuid.
    pub id: Option<String>,
    /// The loop.
    pub loop_id: String,
    /// The cycle.
    pub cycle_number: i64,
    /// The debate artifact.
    pub debate_artifact_id: Option<String>,
    /// Summary of the winning proposal.
    pub winning_proposal_summary: Option<String>,
    /// Files changed.
    pub files_changed: Vec<String>,
    /// Resulting commit.
    pub git_commit: Option<String>,
    /// The rollback, if the cycle was rolled back.
    pub rollback_id: Option<String>,
    /// `None` for now.
    pub created_at: Option<DateTime<Utc>>,
}

/// Which stream events to return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery<'a> {
    /// Only this cycle.
    pub cycle: Option<i64>,
    /// Only this type.
    pub event_type: Option<&'a str>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (the original's default is 100).
    pub limit: Option<usize>,
}

/// `get_loop_summary`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoopSummary {
    /// Distinct cycle numbers.
    pub total_cycles: u64,
    /// Distinct cycle numbers with a successful phase row.
    pub successful_cycles: u64,
    /// `successful_cycles / total_cycles` (0 without cycles).
    pub success_rate: f64,
    /// Debate artifacts of the loop.
    pub total_debates: u64,
    /// Share of those with consensus (0 without debates).
    pub consensus_rate: f64,
    /// Per phase of [`PHASES`], how many cycle rows completed it (`success` true).
    pub phases_completed: Vec<(String, u64)>,
}

fn ts(t: Option<DateTime<Utc>>, db: &Database) -> String {
    format_iso(t.unwrap_or_else(|| db.now()))
}

fn check_in(what: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} {value:?} is not one of {}",
            allowed.join(", ")
        )))
    }
}

/// The nomic-loop store.
#[derive(Debug, Clone)]
pub struct NomicStore {
    db: Database,
    evo: Database,
}

impl NomicStore {
    /// Opens the debates and evolution databases of a configuration (one
    /// file, `core.redb`, in consolidated mode).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(NomicStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::Debates))?,
            evo: Database::open(config, DbTarget::Type(DatabaseType::Evolution))?,
        })
    }

    /// The debates database (cycles, artifacts, events, metrics).
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The evolution database (rollbacks, cycle evolution, file changes).
    pub fn evolution_db(&self) -> &Database {
        &self.evo
    }

    // ----- cycles --------------------------------------------------------------

    /// Saves a cycle phase: updates the row with its id, or inserts it with
    /// a fresh id when `id` is empty. An empty `started_at` becomes now, a
    /// missing `created_at` too. Returns the id.
    pub fn save_cycle(&self, cycle: &NomicCycle) -> Result<String> {
        self.db.op(
            "save_cycle",
            || format!("cycle={}", cycle.cycle_number),
            || {
                let mut row = cycle.clone();
                if row.id.is_empty() {
                    row.id = new_uuid();
                }
                if row.started_at.is_empty() {
                    row.started_at = ts(None, &self.db);
                }
                if row.created_at.is_none() {
                    row.created_at = Some(ts(None, &self.db));
                }
                self.db.write_retrying(|w| {
                    w.upsert(&row)?;
                    Ok(row.id.clone())
                })
            },
        )
    }

    /// Every phase row of a cycle, by `started_at`.
    pub fn get_cycle(&self, loop_id: &str, cycle_number: i64) -> Result<Vec<NomicCycle>> {
        self.db.read_op("NomicStore.get_cycle", String::new, |r| {
            let rows: Vec<NomicCycle> = r.find(
                NomicCycle::nomic_cycles_loop_id_cycle_number_phase_key,
                (loop_id, cycle_number),
                Page::default(),
            )?;
            Ok(by_time(
                rows,
                Order::Oldest,
                |c| instant_then_text(Some(&c.started_at)),
                keep,
            ))
        })
    }

    /// One phase of a cycle.
    pub fn get_cycle_phase(
        &self,
        loop_id: &str,
        cycle_number: i64,
        phase: &str,
    ) -> Result<Option<NomicCycle>> {
        self.db
            .read_op("NomicStore.get_cycle_phase", String::new, |r| {
                r.get_by(
                    NomicCycle::nomic_cycles_loop_id_cycle_number_phase_key,
                    (loop_id, cycle_number, phase),
                )
            })
    }

    /// Cycle rows, newest `started_at` first (oldest first with a reversed
    /// page), of one loop or all.
    pub fn list_cycles(&self, loop_id: Option<&str>, page: Page) -> Result<Vec<NomicCycle>> {
        self.db.read_op(
            "list_cycles",
            || format!("limit={:?}, loop_id={loop_id:?}", page.limit),
            |r| {
                let rows = find_or_scan(r, NomicCycle::idx_nomic_cycles_loop, loop_id)?;
                let rows = by_time(
                    rows,
                    Order::Newest,
                    |c| instant_then_text(Some(&c.started_at)),
                    keep,
                );
                Ok(paginate(rows, page))
            },
        )
    }

    // ----- debates -------------------------------------------------------------

    /// Saves a debate artifact (replacing one with the same id).
    pub fn save_debate(&self, d: &NewDebateArtifact) -> Result<DebateArtifact> {
        finite("confidence", d.confidence)?;
        let transcript = python_json(&Value::Array(d.transcript.clone()), false);
        let row = DebateArtifact {
            id: d.id.clone().unwrap_or_else(new_uuid),
            loop_id: d.loop_id.clone(),
            cycle_number: d.cycle_number,
            phase: d.phase.clone(),
            task: d.task.clone(),
            agents: py_list(d.agents.iter().map(String::as_str)),
            transcript,
            consensus_reached: d.consensus_reached,
            confidence: d.confidence,
            winning_proposal: d.winning_proposal.clone(),
            vote_tally: d.vote_tally.as_deref().map(py_object_values),
            created_at: Some(ts(d.created_at, &self.db)),
            view_count: Some(0),
            extra: Default::default(),
        };
        self.db.write_op(
            "save_debate",
            || format!("id={}", row.id),
            |w| {
                if let Some(old) = w.get::<DebateArtifact>(row.id.as_str())? {
                    let mut row = row.clone();
                    row.view_count = old.view_count;
                    w.update(&row)?;
                    return Ok(row);
                }
                w.insert(&row)?;
                Ok(row.clone())
            },
        )
    }

    /// A debate artifact by id.
    pub fn get_debate(&self, id: &str) -> Result<Option<DebateArtifact>> {
        self.db
            .read_op("NomicStore.get_debate", String::new, |r| r.get(id))
    }

    /// Adds one to a debate's `view_count`; returns the new count, or
    /// `None` for an unknown debate.
    pub fn increment_views(&self, id: &str) -> Result<Option<i64>> {
        self.db
            .write_op("NomicStore.increment_views", String::new, |w| {
                let Some(mut d) = w.get::<DebateArtifact>(id)? else {
                    return Ok(None);
                };
                let n = d.view_count.unwrap_or(0) + 1;
                d.view_count = Some(n);
                w.update(&d)?;
                Ok(Some(n))
            })
    }

    /// Debate artifacts, newest first, optionally of one loop and/or phase.
    pub fn list_debates(
        &self,
        loop_id: Option<&str>,
        phase: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DebateArtifact>> {
        self.db.read_op(
            "list_debates",
            || format!("limit={limit}, loop_id={loop_id:?}, phase={phase:?}"),
            |r| {
                let mut rows: Vec<DebateArtifact> = match (loop_id, phase) {
                    (Some(l), _) => r.find(
                        DebateArtifact::idx_debate_artifacts_loop,
                        l,
                        Page::default(),
                    )?,
                    (None, Some(p)) => r.find(
                        DebateArtifact::idx_debate_artifacts_phase,
                        p,
                        Page::default(),
                    )?,
                    (None, None) => r.scan(KeyRange::all(), Page::default())?,
                };
                if let Some(p) = phase {
                    rows.retain(|d| d.phase == p);
                }
                Ok(newest(
                    rows,
                    limit,
                    |d| instant_then_text(d.created_at.as_deref()),
                    |a, b| a.id.cmp(&b.id),
                ))
            },
        )
    }

    // ----- events --------------------------------------------------------------

    fn event_row(&self, e: &NewStreamEvent) -> StreamEvent {
        StreamEvent {
            id: new_uuid(),
            loop_id: e.loop_id.clone(),
            cycle: e.cycle,
            event_type: e.event_type.clone(),
            event_data: py_object_values(&e.event_data),
            agent: e.agent.clone(),
            timestamp: ts(e.timestamp, &self.db),
            extra: Default::default(),
        }
    }

    /// Saves one stream event.
    pub fn save_event(&self, e: &NewStreamEvent) -> Result<StreamEvent> {
        self.db.op("NomicStore.save_event", String::new, || {
            let row = self.event_row(e);
            self.db.write_retrying(|w| {
                w.insert(&row)?;
                Ok(row.clone())
            })
        })
    }

    /// Saves events in one transaction; returns how many.
    pub fn save_events_batch(&self, events: &[NewStreamEvent]) -> Result<usize> {
        self.db.write_op(
            "save_events_batch",
            || format!("n={}", events.len()),
            |w| {
                for e in events {
                    w.insert(&self.event_row(e))?;
                }
                Ok(events.len())
            },
        )
    }

    /// A loop's events in ascending time (ties by id), filtered.
    pub fn get_events(&self, loop_id: &str, q: &EventQuery<'_>) -> Result<Vec<StreamEvent>> {
        self.db.op(
            "get_events",
            || format!("loop_id={loop_id}, cycle={:?}", q.cycle),
            || {
                // The index is (loop, time) in time order, ties by text
                // then id: read from `since` until `limit` rows match.
                let since = q.since.map(format_iso);
                let range = time_range(Some(loop_id), since.as_deref(), None);
                let limit = q.limit.unwrap_or(usize::MAX);
                let mut rows = Vec::new();
                let index = StreamEvent::idx_stream_events_loop_time.def();
                self.db
                    .read()?
                    .each(Some(index), &range, Page::default(), |e: StreamEvent| {
                        if q.cycle.is_none_or(|c| e.cycle == c)
                            && q.event_type.is_none_or(|t| e.event_type == t)
                        {
                            rows.push(e);
                        }
                        Ok(rows.len() < limit)
                    })?;
                Ok(rows)
            },
        )
    }

    // ----- metrics -------------------------------------------------------------

    /// Saves an agent's metrics row (fresh id when empty, timestamp now
    /// when missing); returns the id.
    pub fn save_metrics(&self, m: &AgentMetrics) -> Result<String> {
        self.db.op("NomicStore.save_metrics", String::new, || {
            let mut row = m.clone();
            if row.id.is_empty() {
                row.id = new_uuid();
            }
            if row.timestamp.is_none() {
                row.timestamp = Some(ts(None, &self.db));
            }
            self.db.write_retrying(|w| {
                w.upsert(&row)?;
                Ok(row.id.clone())
            })
        })
    }

    /// An agent's metrics rows, newest first.
    pub fn agent_metrics(&self, agent_name: &str, limit: usize) -> Result<Vec<AgentMetrics>> {
        self.db
            .read_op("NomicStore.agent_metrics", String::new, |r| {
                // (agent, time) in time order: the newest from its end.
                r.find(
                    AgentMetrics::idx_agent_metrics_agent,
                    agent_name,
                    Page::first(limit).reversed(),
                )
            })
    }

    /// `get_loop_summary`.
    pub fn loop_summary(&self, loop_id: &str) -> Result<LoopSummary> {
        self.db
            .read_op("NomicStore.loop_summary", String::new, |r| {
                let cycles: Vec<NomicCycle> =
                    r.find(NomicCycle::idx_nomic_cycles_loop, loop_id, Page::default())?;
                let debates: Vec<DebateArtifact> = r.find(
                    DebateArtifact::idx_debate_artifacts_loop,
                    loop_id,
                    Page::default(),
                )?;
                let all: BTreeSet<i64> = cycles.iter().map(|c| c.cycle_number).collect();
                let ok: BTreeSet<i64> = cycles
                    .iter()
                    .filter(|c| c.success == Some(true))
                    .map(|c| c.cycle_number)
                    .collect();
                let consensus = debates.iter().filter(|d| d.consensus_reached).count();
                let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                Ok(LoopSummary {
                    total_cycles: all.len() as u64,
                    successful_cycles: ok.len() as u64,
                    success_rate: ratio(ok.len(), all.len()),
                    total_debates: debates.len() as u64,
                    consensus_rate: ratio(consensus, debates.len()),
                    phases_completed: PHASES
                        .iter()
                        .map(|p| {
                            let n = cycles
                                .iter()
                                .filter(|c| c.phase == *p && c.success == Some(true))
                                .count();
                            (p.to_string(), n as u64)
                        })
                        .collect(),
                })
            })
    }

    // ----- evolution -----------------------------------------------------------

    /// Saves a rollback (replacing one with the same id).
    pub fn save_rollback(&self, r: &NewRollback) -> Result<NomicRollback> {
        self.db.op("NomicStore.save_rollback", String::new, || {
            check_in("reason", &r.reason, &ROLLBACK_REASONS)?;
            check_in("severity", &r.severity, &SEVERITIES)?;
            let row = NomicRollback {
                id: r.id.clone().unwrap_or_else(new_uuid),
                loop_id: r.loop_id.clone(),
                cycle_number: r.cycle_number,
                phase: r.phase.clone(),
                reason: r.reason.clone(),
                severity: r.severity.clone(),
                rolled_back_commit: r.rolled_back_commit.clone(),
                preserved_branch: r.preserved_branch.clone(),
                files_affected: Some(py_list(r.files_affected.iter().map(String::as_str))),
                diff_summary: Some(r.diff_summary.clone()),
                error_message: r.error_message.clone(),
                created_at: ts(r.created_at, &self.db),
                extra: Default::default(),
            };
            self.evo.write_retrying(|w| {
                w.upsert(&row)?;
                Ok(row.clone())
            })
        })
    }

    /// A loop's rollbacks, by cycle then time.
    pub fn rollbacks(&self, loop_id: &str) -> Result<Vec<NomicRollback>> {
        self.db.op("NomicStore.rollbacks", String::new, || {
            let rows: Vec<NomicRollback> = self.evo.read()?.find(
                NomicRollback::idx_rollbacks_loop,
                loop_id,
                Page::default(),
            )?;
            Ok(by_time(
                rows,
                Order::Oldest,
                |r| (r.cycle_number, instant_then_text(Some(&r.created_at))),
                keep,
            ))
        })
    }

    /// Saves a cycle's evolution record (one per loop and cycle; replacing
    /// one with the same id). A `rollback_id` must name a saved rollback.
    pub fn save_cycle_evolution(&self, e: &NewCycleEvolution) -> Result<CycleEvolution> {
        self.db
            .op("NomicStore.save_cycle_evolution", String::new, || {
                let row = CycleEvolution {
                    id: e.id.clone().unwrap_or_else(new_uuid),
                    loop_id: e.loop_id.clone(),
                    cycle_number: e.cycle_number,
                    debate_artifact_id: e.debate_artifact_id.clone(),
                    winning_proposal_summary: e.winning_proposal_summary.clone(),
                    files_changed: Some(py_list(e.files_changed.iter().map(String::as_str))),
                    git_commit: e.git_commit.clone(),
                    rollback_id: e.rollback_id.clone(),
                    created_at: ts(e.created_at, &self.db),
                    extra: Default::default(),
                };
                self.evo.write_retrying(|w| {
                    w.upsert(&row)?;
                    Ok(row.clone())
                })
            })
    }

    /// The evolution record of a cycle.
    pub fn cycle_evolution(
        &self,
        loop_id: &str,
        cycle_number: i64,
    ) -> Result<Option<CycleEvolution>> {
        self.db.op("NomicStore.cycle_evolution", String::new, || {
            self.evo.read()?.get_by(
                CycleEvolution::cycle_evolution_loop_id_cycle_number_key,
                (loop_id, cycle_number),
            )
        })
    }

    /// Records (or replaces) a file change of a cycle.
    pub fn save_file_change(&self, c: &CycleFileChange) -> Result<()> {
        self.db.op("NomicStore.save_file_change", String::new, || {
            check_in("change_type", &c.change_type, &CHANGE_TYPES)?;
            self.evo.write_retrying(|w| w.upsert(c).map(drop))
        })
    }

    /// The file changes of a cycle, by path.
    pub fn file_changes(&self, loop_id: &str, cycle_number: i64) -> Result<Vec<CycleFileChange>> {
        self.db.op("NomicStore.file_changes", String::new, || {
            self.evo
                .read()?
                .scan(KeyRange::prefix((loop_id, cycle_number)), Page::default())
        })
    }

    /// Every recorded change of one file, across loops and cycles.
    pub fn file_history(&self, file_path: &str) -> Result<Vec<CycleFileChange>> {
        self.db.op("NomicStore.file_history", String::new, || {
            self.evo.read()?.find(
                CycleFileChange::idx_file_changes_path,
                file_path,
                Page::default(),
            )
        })
    }
}
