//! `PositionLedger` and `FlipDetector`: agents' claims in debates and the
//! detected changes of position (the original's `aragora/agents/positions.py`
//! and `aragora/insights/flip_detector.py`; ids as in docs/ORIGINAL.md,
//! "Value encodings").
//!
//! Both live in one file (legacy `grounded_positions.db`, consolidated
//! `core.db`) and share one [`Database`] handle.
//!
//! Ids: a position is `str(uuid4())[:8]`; a flip is `flip-` + the original
//! position's id, so re-detecting replaces the earlier flip (the
//! original's `INSERT OR REPLACE`). Timestamps (`created_at`,
//! `resolved_at`, `detected_at`) are naive local ISO
//! (`datetime.now().isoformat()`).
//!
//! Flip detection follows the original's join: a position the agent
//! marked reversed ([`PositionLedger::record_reversal`]) is paired with the
//! agent's position in the reversal debate (the latest round, then the
//! latest written, when there are several). The original's four flip types
//! are kept; its rule that picks one is not known here, so ours ([`classify_flip`]):
//! * `contradiction` — exactly one of the two claims is negated (an odd
//!   number of `not`/`no`/`never`/`cannot`/`n't` words differs), or the
//!   claims share less than 10% of their words;
//! * `retraction` — otherwise, the claims share less than 40% of their
//!   words (the agent abandoned the claim for a different one);
//! * `qualification` — otherwise, the new confidence is lower;
//! * `refinement` — otherwise.
//!
//! `similarity_score` is the Jaccard similarity of the claims' lower-cased
//! word sets (words = runs of alphanumeric characters, negations included).

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::schema::positions::{DetectedFlip, Position};
use crate::store::genesis::naive_iso;
use crate::store::query::{Order, by_time, instant};
use crate::table::Read;
use crate::table::{KeyRange, Page, Reader};
use std::collections::{BTreeMap, BTreeSet};

/// The outcomes [`PositionLedger::resolve_position`] accepts.
pub const OUTCOMES: [&str; 3] = ["correct", "incorrect", "unresolved"];

/// The flip types [`classify_flip`] produces.
pub const FLIP_TYPES: [&str; 4] = ["contradiction", "retraction", "qualification", "refinement"];

/// Words that negate a claim, for [`classify_flip`].
const NEGATIONS: [&str; 7] = ["not", "no", "never", "cannot", "none", "nor", "without"];

/// An agent's position counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionStats {
    /// All positions.
    pub total: u64,
    /// Positions per outcome (`pending`, `correct`, …; NULL as `pending`).
    pub by_outcome: BTreeMap<String, u64>,
    /// Positions marked reversed.
    pub reversed: u64,
}

/// Counts of detected flips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlipSummary {
    /// All flips.
    pub total: u64,
    /// Flips per type.
    pub by_type: BTreeMap<String, u64>,
    /// Flips per agent.
    pub by_agent: BTreeMap<String, u64>,
}

/// The position ledger.
#[derive(Debug, Clone)]
pub struct PositionLedger {
    db: Database,
}

fn sort_newest_first(rows: &mut Vec<Position>) {
    *rows = by_time(
        std::mem::take(rows),
        Order::Newest,
        |p| instant(p.created_at.as_deref()),
        |a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.round_num.cmp(&a.round_num))
                .then_with(|| a.id.cmp(&b.id))
        },
    );
}

impl PositionLedger {
    /// Opens the positions database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(PositionLedger {
            db: Database::open(config, DbTarget::Type(DatabaseType::Positions))?,
        })
    }

    /// Wraps an already open positions database.
    pub fn from_db(db: Database) -> Self {
        PositionLedger { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    /// The flip detector of the same file.
    pub fn flips(&self) -> FlipDetector {
        FlipDetector {
            db: self.db.clone(),
        }
    }

    /// Records a position at the local time now: a fresh
    /// 8-character id, outcome `pending`, not reversed. Confidence must be
    /// a finite number in [0, 1].
    #[allow(clippy::too_many_arguments)]
    pub fn record_position(
        &self,
        agent_name: &str,
        claim: &str,
        confidence: f64,
        debate_id: &str,
        round_num: i64,
        domain: Option<&str>,
    ) -> Result<Position> {
        let at = self.db.now_local();
        if !(0.0..=1.0).contains(&confidence) {
            return Err(Error::InvalidArgument(format!(
                "confidence {confidence} is not between 0 and 1"
            )));
        }
        self.db.write_op(
            "positions_record",
            || format!("agent={agent_name}, debate={debate_id}"),
            |w| {
                for _ in 0..16 {
                    let id = crate::store::users::new_uuid()[..8].to_string();
                    if w.get::<Position>(id.as_str())?.is_some() {
                        continue;
                    }
                    let row = Position {
                        id,
                        agent_name: agent_name.into(),
                        claim: claim.into(),
                        confidence,
                        debate_id: debate_id.into(),
                        round_num,
                        outcome: Some("pending".into()),
                        reversed: Some(false),
                        reversal_debate_id: None,
                        domain: domain.map(str::to_string),
                        created_at: Some(naive_iso(at)),
                        resolved_at: None,
                        extra: Default::default(),
                    };
                    w.insert(&row)?;
                    return Ok(row);
                }
                Err(Error::InvalidArgument(
                    "could not find a free position id".into(),
                ))
            },
        )
    }

    /// A position by id.
    pub fn get_position(&self, id: &str) -> Result<Option<Position>> {
        self.db
            .read_op("PositionLedger.get_position", String::new, |r| r.get(id))
    }

    /// Sets a position's outcome (one of [`OUTCOMES`]) and `resolved_at`.
    /// Returns false if there is no such position.
    pub fn resolve_position(&self, id: &str, outcome: &str) -> Result<bool> {
        let at = self.db.now_local();
        if !OUTCOMES.contains(&outcome) {
            return Err(Error::InvalidArgument(format!(
                "outcome {outcome:?} is not one of {}",
                OUTCOMES.join(", ")
            )));
        }
        self.db.write_op(
            "positions_resolve",
            || format!("id={id}"),
            |w| {
                let Some(mut p) = w.get::<Position>(id)? else {
                    return Ok(false);
                };
                p.outcome = Some(outcome.into());
                p.resolved_at = Some(naive_iso(at));
                w.update(&p)?;
                Ok(true)
            },
        )
    }

    /// Marks an agent's position reversed in a later debate. Returns false
    /// if there is no such position; a position of another agent is
    /// [`Error::InvalidArgument`] (the original's `WHERE id = ? AND agent_name = ?`
    /// would silently match nothing).
    pub fn record_reversal(
        &self,
        agent_name: &str,
        original_position_id: &str,
        new_debate_id: &str,
    ) -> Result<bool> {
        self.db.write_op(
            "positions_reversal",
            || format!("id={original_position_id}"),
            |w| {
                let Some(mut p) = w.get::<Position>(original_position_id)? else {
                    return Ok(false);
                };
                if p.agent_name != agent_name {
                    return Err(Error::InvalidArgument(format!(
                        "position {original_position_id} belongs to {:?}, not {agent_name:?}",
                        p.agent_name
                    )));
                }
                p.reversed = Some(true);
                p.reversal_debate_id = Some(new_debate_id.into());
                w.update(&p)?;
                Ok(true)
            },
        )
    }

    /// An agent's positions, newest first, optionally of one outcome only.
    pub fn agent_positions(
        &self,
        agent_name: &str,
        outcome: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Position>> {
        self.db
            .op("PositionLedger.agent_positions", String::new, || {
                let mut rows: Vec<Position> = self.db.read()?.find(
                    Position::idx_positions_agent,
                    agent_name,
                    Page::default(),
                )?;
                if let Some(o) = outcome {
                    rows.retain(|p| p.outcome.as_deref().unwrap_or("pending") == o);
                }
                sort_newest_first(&mut rows);
                if let Some(n) = limit {
                    rows.truncate(n);
                }
                Ok(rows)
            })
    }

    /// A debate's positions, by round, then time of writing.
    pub fn debate_positions(&self, debate_id: &str) -> Result<Vec<Position>> {
        self.db
            .op("PositionLedger.debate_positions", String::new, || {
                let mut rows: Vec<Position> = self.db.read()?.find(
                    Position::idx_positions_debate,
                    debate_id,
                    Page::default(),
                )?;
                sort_newest_first(&mut rows);
                rows.reverse();
                rows.sort_by_key(|p| p.round_num);
                Ok(rows)
            })
    }

    /// An agent's position counts.
    pub fn position_stats(&self, agent_name: &str) -> Result<PositionStats> {
        let rows = self.agent_positions(agent_name, None, None)?;
        let mut s = PositionStats {
            total: rows.len() as u64,
            ..PositionStats::default()
        };
        for p in &rows {
            *s.by_outcome
                .entry(p.outcome.clone().unwrap_or_else(|| "pending".into()))
                .or_default() += 1;
            if p.reversed == Some(true) {
                s.reversed += 1;
            }
        }
        Ok(s)
    }

    /// Number of positions.
    pub fn count(&self) -> Result<u64> {
        self.db.read_op("PositionLedger.count", String::new, |r| {
            r.count::<Position>()
        })
    }
}

// ----- flips ----------------------------------------------------------------

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn negations(ws: &[String]) -> usize {
    ws.iter()
        .filter(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't"))
        .count()
}

/// Jaccard similarity of two claims' lower-cased word sets (1.0 for two
/// claims without words).
pub fn claim_similarity(a: &str, b: &str) -> f64 {
    let sa: BTreeSet<String> = words(a).into_iter().collect();
    let sb: BTreeSet<String> = words(b).into_iter().collect();
    let union = sa.union(&sb).count();
    if union == 0 {
        return 1.0;
    }
    sa.intersection(&sb).count() as f64 / union as f64
}

/// Classifies a change of position (see the module documentation);
/// returns the flip type and the similarity score.
pub fn classify_flip(
    original_claim: &str,
    new_claim: &str,
    original_confidence: f64,
    new_confidence: f64,
) -> (&'static str, f64) {
    let sim = claim_similarity(original_claim, new_claim);
    let negated = negations(&words(original_claim)) % 2 != negations(&words(new_claim)) % 2;
    let kind = if negated || sim < 0.1 {
        "contradiction"
    } else if sim < 0.4 {
        "retraction"
    } else if new_confidence < original_confidence {
        "qualification"
    } else {
        "refinement"
    };
    (kind, sim)
}

/// The flip detector.
#[derive(Debug, Clone)]
pub struct FlipDetector {
    db: Database,
}

impl FlipDetector {
    /// Opens the positions database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(PositionLedger::open(config)?.flips())
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Among the agent's `lookback_positions` newest positions, pairs every
    /// reversed one with the agent's position in the reversal debate,
    /// classifies the change and stores it (replacing an earlier flip of
    /// the same original position). Returns the flips stored, newest
    /// original position first.
    pub fn detect_flips_for_agent(
        &self,
        agent_name: &str,
        lookback_positions: usize,
    ) -> Result<Vec<DetectedFlip>> {
        let at = self.db.now_local();
        self.db.op(
            "flips_detect",
            || format!("agent={agent_name}"),
            || {
                let detected_at = naive_iso(at);
                self.db.write_retrying(|w| {
                    let keys = w.keys_by(Position::idx_positions_agent, agent_name)?;
                    let mut mine = Vec::with_capacity(keys.len());
                    for k in &keys {
                        if let Some(p) = w.get::<Position>(crate::table::RawKey(k))? {
                            mine.push(p);
                        }
                    }
                    sort_newest_first(&mut mine);
                    mine.truncate(lookback_positions);
                    let mut out = Vec::new();
                    for orig in mine.iter().filter(|p| p.reversed == Some(true)) {
                        let Some(new_debate) = orig.reversal_debate_id.as_deref() else {
                            continue;
                        };
                        let keys = w.keys_by(Position::idx_positions_debate, new_debate)?;
                        let mut candidates = Vec::new();
                        for k in &keys {
                            if let Some(p) = w.get::<Position>(crate::table::RawKey(k))?
                                && p.agent_name == agent_name
                                && p.id != orig.id
                            {
                                candidates.push(p);
                            }
                        }
                        sort_newest_first(&mut candidates);
                        candidates.sort_by_key(|p| std::cmp::Reverse(p.round_num));
                        let Some(new) = candidates.first() else {
                            continue;
                        };
                        let (flip_type, sim) =
                            classify_flip(&orig.claim, &new.claim, orig.confidence, new.confidence);
                        let flip = DetectedFlip {
                            id: format!("flip-{}", orig.id),
                            agent_name: agent_name.into(),
                            original_claim: orig.claim.clone(),
                            new_claim: new.claim.clone(),
                            original_confidence: Some(orig.confidence),
                            new_confidence: Some(new.confidence),
                            original_debate_id: Some(orig.debate_id.clone()),
                            new_debate_id: Some(new.debate_id.clone()),
                            original_position_id: Some(orig.id.clone()),
                            new_position_id: Some(new.id.clone()),
                            similarity_score: Some(sim),
                            flip_type: Some(flip_type.into()),
                            domain: orig.domain.clone().or_else(|| new.domain.clone()),
                            detected_at: Some(detected_at.clone()),
                            extra: Default::default(),
                        };
                        w.upsert(&flip)?;
                        out.push(flip);
                    }
                    Ok(out)
                })
            },
        )
    }

    /// A flip by id.
    pub fn get_flip(&self, id: &str) -> Result<Option<DetectedFlip>> {
        self.db
            .read_op("FlipDetector.get_flip", String::new, |r| r.get(id))
    }

    /// An agent's flips, most recently detected first (ties by id).
    pub fn agent_flips(&self, agent_name: &str, limit: Option<usize>) -> Result<Vec<DetectedFlip>> {
        self.db.op("FlipDetector.agent_flips", String::new, || {
            let mut rows: Vec<DetectedFlip> =
                self.db
                    .read()?
                    .find(DetectedFlip::idx_flips_agent, agent_name, Page::default())?;
            sort_flips(&mut rows);
            if let Some(n) = limit {
                rows.truncate(n);
            }
            Ok(rows)
        })
    }

    /// Flips of one type, most recently detected first.
    pub fn flips_by_type(&self, flip_type: &str) -> Result<Vec<DetectedFlip>> {
        self.db.op("FlipDetector.flips_by_type", String::new, || {
            let mut rows: Vec<DetectedFlip> =
                self.db
                    .read()?
                    .find(DetectedFlip::idx_flips_type, flip_type, Page::default())?;
            sort_flips(&mut rows);
            Ok(rows)
        })
    }

    /// Counts of all flips, per type and per agent.
    pub fn flip_summary(&self) -> Result<FlipSummary> {
        self.db
            .read_op("FlipDetector.flip_summary", String::new, |r| {
                let rows: Vec<DetectedFlip> = r.scan(KeyRange::all(), Page::default())?;
                let mut s = FlipSummary {
                    total: rows.len() as u64,
                    ..FlipSummary::default()
                };
                for f in rows {
                    *s.by_type
                        .entry(f.flip_type.unwrap_or_default())
                        .or_default() += 1;
                    *s.by_agent.entry(f.agent_name).or_default() += 1;
                }
                Ok(s)
            })
    }
}

fn sort_flips(rows: &mut Vec<DetectedFlip>) {
    *rows = by_time(
        std::mem::take(rows),
        Order::Newest,
        |f| instant(f.detected_at.as_deref()),
        |a, b| a.id.cmp(&b.id),
    );
}
