//! `EloStore`: agent ratings, matches, rating history, tournament winner
//! predictions, per-domain calibration and agent relationships (the
//! original's `EloSystem`/`EloDatabase` in `aragora/ranking/`, and
//! `RelationshipTracker`).
//!
//! # Arithmetic
//!
//! Standard Elo with every agent starting at [`ELO_INITIAL_RATING`]. The
//! original's K-factor is not known here; ours is [`ELO_K_FACTOR`]
//! (32, the classic chess value). A match with `n` participants is scored as
//! all `n(n-1)/2` pairwise games, each worth 1 / 0.5 / 0 to the agent with
//! the higher / equal / lower score, and an agent's change is
//!
//! ```text
//! Δ_i = K / (n - 1) × Σ_{j≠i} (actual_ij − expected_ij)
//! expected_ij = 1 / (1 + 10^((R_j − R_i) / 400))
//! ```
//!
//! so a two-player match is classic Elo and the changes of a match always
//! sum to zero. All changes of a match are computed from the ratings before
//! it. When a domain is given, the same arithmetic runs on the agents'
//! ratings in that domain (`ratings.domain_elos`, a JSON object domain →
//! elo, each starting at 1500) alongside the overall rating.
//!
//! # Stored formats
//!
//! JSON text is written like Python's `json.dumps` defaults (docs/ORIGINAL.md,
//! "Value encodings"):
//! `", "`/`": "` separators, ASCII-only, insertion order (participant
//! order), floats as Python's `repr`. `created_at` columns, left to
//! `CURRENT_TIMESTAMP` by the original, are written in that shape
//! (`YYYY-MM-DD HH:MM:SS`, UTC); the `updated_at`/`resolved_at` columns the
//! original fills with naive local ISO get UTC ISO with an explicit offset
//! (same shape plus `+00:00`), which every reader parses unambiguously.
//!
//! # Idempotency
//!
//! `matches.debate_id` is unique: recording a debate a second time returns
//! the changes stored the first time and writes nothing. Resolving a
//! tournament marks its predictions resolved (`actual_winner`,
//! `resolved_at`), and already resolved predictions are skipped, so a
//! tournament is never counted twice (the legacy original could not mark
//! them and would double count).

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{parse_object, py_list, py_object, py_object_values};
use crate::schema::elo::{
    AgentRelationship, CalibrationBucket, CalibrationPrediction, DomainCalibration, EloHistory,
    Match, Rating,
};
use crate::table::Read;
use crate::table::{KeyRange, Page, RawKey, Reader, Writer};
use crate::time;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The rating of an agent that has never played (`ELO_INITIAL_RATING`).
pub const ELO_INITIAL_RATING: f64 = 1500.0;

/// K-factor: the largest change one two-player game can make. Our choice
/// (the classic chess value); the original's is not known here.
pub const ELO_K_FACTOR: f64 = 32.0;

/// A debate's outcome to record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchInput {
    /// The debate; unique across matches.
    pub debate_id: String,
    /// The agents, in the order they are reported (kept in the JSON).
    pub participants: Vec<String>,
    /// Each participant's score; higher is better.
    pub scores: BTreeMap<String, f64>,
    /// The debate's domain, for per-domain ratings.
    pub domain: Option<String>,
}

impl MatchInput {
    /// A match between participants with scores.
    pub fn new(debate_id: &str, scores: &[(&str, f64)], domain: Option<&str>) -> MatchInput {
        MatchInput {
            debate_id: debate_id.into(),
            participants: scores.iter().map(|(a, _)| a.to_string()).collect(),
            scores: scores.iter().map(|(a, s)| (a.to_string(), *s)).collect(),
            domain: domain.map(str::to_string),
        }
    }

    /// The original's legacy `winner=`, `loser=`, `draw=` form: a
    /// two-player match scored 1/0, or 0.5/0.5 for a draw.
    pub fn head_to_head(
        debate_id: &str,
        winner: &str,
        loser: &str,
        draw: bool,
        domain: Option<&str>,
    ) -> MatchInput {
        let (w, l) = if draw { (0.5, 0.5) } else { (1.0, 0.0) };
        MatchInput::new(debate_id, &[(winner, w), (loser, l)], domain)
    }
}

/// One row of a leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardEntry {
    /// The agent.
    pub agent_name: String,
    /// The rating the board is sorted by (overall or the domain's).
    pub elo: f64,
    /// The agent's whole rating row.
    pub rating: Rating,
}

/// The effect of resolving one tournament prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPrediction {
    /// The predicting agent.
    pub predictor_agent: String,
    /// Whether it predicted the actual winner.
    pub correct: bool,
    /// `(confidence − outcome)²`.
    pub brier: f64,
}

/// Increments to an agent pair's statistics, from the point of view of
/// the `(a, b)` order they are given in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelationshipDelta {
    /// Debates both took part in.
    pub debates: i64,
    /// Debates where they agreed.
    pub agreements: i64,
    /// Critiques a gave b.
    pub critiques_a_to_b: i64,
    /// Critiques b gave a.
    pub critiques_b_to_a: i64,
    /// Critiques by a that b accepted.
    pub critiques_accepted_a_to_b: i64,
    /// Critiques by b that a accepted.
    pub critiques_accepted_b_to_a: i64,
    /// Times a changed position after b.
    pub position_changes_a_after_b: i64,
    /// Times b changed position after a.
    pub position_changes_b_after_a: i64,
    /// Wins of a over b.
    pub a_wins_over_b: i64,
    /// Wins of b over a.
    pub b_wins_over_a: i64,
}

impl RelationshipDelta {
    /// The same increments seen from `(b, a)`.
    pub fn swapped(self) -> RelationshipDelta {
        RelationshipDelta {
            debates: self.debates,
            agreements: self.agreements,
            critiques_a_to_b: self.critiques_b_to_a,
            critiques_b_to_a: self.critiques_a_to_b,
            critiques_accepted_a_to_b: self.critiques_accepted_b_to_a,
            critiques_accepted_b_to_a: self.critiques_accepted_a_to_b,
            position_changes_a_after_b: self.position_changes_b_after_a,
            position_changes_b_after_a: self.position_changes_a_after_b,
            a_wins_over_b: self.b_wins_over_a,
            b_wins_over_a: self.a_wins_over_b,
        }
    }

    fn fields(&self) -> [(&'static str, i64); 10] {
        [
            ("debates", self.debates),
            ("agreements", self.agreements),
            ("critiques_a_to_b", self.critiques_a_to_b),
            ("critiques_b_to_a", self.critiques_b_to_a),
            ("critiques_accepted_a_to_b", self.critiques_accepted_a_to_b),
            ("critiques_accepted_b_to_a", self.critiques_accepted_b_to_a),
            (
                "position_changes_a_after_b",
                self.position_changes_a_after_b,
            ),
            (
                "position_changes_b_after_a",
                self.position_changes_b_after_a,
            ),
            ("a_wins_over_b", self.a_wins_over_b),
            ("b_wins_over_a", self.b_wins_over_a),
        ]
    }
}

/// The expected score of a player rated `ra` against one rated `rb`.
pub fn expected_score(ra: f64, rb: f64) -> f64 {
    1.0 / (1.0 + 10f64.powf((rb - ra) / 400.0))
}

/// Rating changes of one match (see the [module docs](self)): `ratings[i]`
/// and `scores[i]` belong to the same agent; `k` is the K-factor.
pub fn compute_changes(ratings: &[f64], scores: &[f64], k: f64) -> Vec<f64> {
    let n = ratings.len();
    if n < 2 {
        return vec![0.0; n];
    }
    (0..n)
        .map(|i| {
            let sum: f64 = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let actual = if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] < scores[j] {
                        0.0
                    } else {
                        0.5
                    };
                    actual - expected_score(ratings[i], ratings[j])
                })
                .sum();
            k / (n - 1) as f64 * sum
        })
        .collect()
}

/// The calibration bucket of a confidence in [0, 1]: `"0.7-0.8"`; 1.0
/// goes into `"0.9-1.0"`.
pub fn bucket_key(confidence: f64) -> String {
    let b = ((confidence * 10.0).floor() as i64).clamp(0, 9);
    format!("{:.1}-{:.1}", b as f64 / 10.0, (b + 1) as f64 / 10.0)
}

/// An agent's rating in a domain, from `ratings.domain_elos`, if it has one.
pub fn domain_elo(rating: &Rating, domain: &str) -> Option<f64> {
    let text = rating.domain_elos.as_deref()?;
    let obj = parse_object(text).ok()?;
    obj.into_iter()
        .find(|(k, _)| k == domain)
        .and_then(|(_, v)| v.as_f64())
}

/// The ELO store, in the file that holds [`DatabaseType::Elo`].
#[derive(Debug, Clone)]
pub struct EloStore {
    db: Database,
}

impl EloStore {
    /// Opens the ELO database of a configuration (`agent_elo.db`, or
    /// `analytics.db` in consolidated mode).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(EloStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::Elo))?,
        })
    }

    /// Wraps an already open ELO database.
    pub fn from_db(db: Database) -> Self {
        EloStore { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    // ----- ratings -----------------------------------------------------------

    /// An agent's rating; `None` for an agent that never played.
    pub fn get_rating(&self, agent: &str) -> Result<Option<Rating>> {
        self.db
            .read_op("get_rating", || format!("agent={agent}"), |r| r.get(agent))
    }

    /// Every rating, by overall elo (highest first), then name.
    pub fn ratings(&self) -> Result<Vec<Rating>> {
        self.db.op("ratings", String::new, || {
            let mut all: Vec<Rating> = self.db.read()?.scan(KeyRange::all(), Page::default())?;
            all.sort_by(|a, b| {
                elo_of(b)
                    .total_cmp(&elo_of(a))
                    .then_with(|| a.agent_name.cmp(&b.agent_name))
            });
            Ok(all)
        })
    }

    /// The top `limit` agents by overall elo or, for a domain, by their
    /// rating in that domain (agents without one are left out); ties by name.
    pub fn leaderboard(&self, limit: usize, domain: Option<&str>) -> Result<Vec<LeaderboardEntry>> {
        self.db.op(
            "leaderboard",
            || format!("limit={limit} domain={domain:?}"),
            || {
                let all: Vec<Rating> = self.db.read()?.scan(KeyRange::all(), Page::default())?;
                let mut board: Vec<LeaderboardEntry> = all
                    .into_iter()
                    .filter_map(|r| {
                        let elo = match domain {
                            None => elo_of(&r),
                            Some(d) => domain_elo(&r, d)?,
                        };
                        Some(LeaderboardEntry {
                            agent_name: r.agent_name.clone(),
                            elo,
                            rating: r,
                        })
                    })
                    .collect();
                board.sort_by(|a, b| {
                    b.elo
                        .total_cmp(&a.elo)
                        .then_with(|| a.agent_name.cmp(&b.agent_name))
                });
                board.truncate(limit);
                Ok(board)
            },
        )
    }

    // ----- matches -----------------------------------------------------------

    /// Records a match now; returns each participant's overall rating
    /// change. A `debate_id` already recorded returns its stored changes
    /// and writes nothing.
    pub fn record_match(&self, input: &MatchInput) -> Result<BTreeMap<String, f64>> {
        let now = self.db.now();
        validate_match(input)?;
        self.db.write_op(
            "record_match",
            || {
                format!(
                    "debate={} participants={}",
                    input.debate_id,
                    input.participants.len()
                )
            },
            |w| {
                if let Some(m) = w.get_by(Match::matches_debate_id_key, input.debate_id.as_str())? {
                    return stored_changes(&m);
                }
                record_match_in(w, input, now)
            },
        )
    }

    /// The match of a debate.
    pub fn get_match(&self, debate_id: &str) -> Result<Option<Match>> {
        self.db.op("EloStore.get_match", String::new, || {
            self.db
                .read()?
                .get_by(Match::matches_debate_id_key, debate_id)
        })
    }

    /// Number of recorded matches.
    pub fn count_matches(&self) -> Result<u64> {
        self.db.read_op("EloStore.count_matches", String::new, |r| {
            r.count::<Match>()
        })
    }

    /// An agent's rating after each of its last `limit` debates, newest first.
    pub fn history(&self, agent: &str, limit: usize) -> Result<Vec<EloHistory>> {
        self.db.read_op(
            "elo_history",
            || format!("agent={agent}"),
            |r| {
                r.find(
                    EloHistory::idx_elo_history_agent,
                    agent,
                    Page::first(limit).reversed(),
                )
            },
        )
    }

    // ----- tournament winner predictions ----------------------------------

    /// Records (or replaces, like the original's `INSERT OR REPLACE`) an
    /// agent's prediction of a tournament's winner.
    pub fn record_winner_prediction(
        &self,
        tournament_id: &str,
        predictor: &str,
        predicted_winner: &str,
        confidence: f64,
    ) -> Result<CalibrationPrediction> {
        check_confidence(confidence)?;
        self.db.op(
            "record_winner_prediction",
            || format!("tournament={tournament_id} predictor={predictor}"),
            || {
                let now = self.db.now();
                self.db.write_retrying(|w| {
                    let old = w.get_by(
                CalibrationPrediction::calibration_predictions_tournament_id_predictor_agent_key,
                (tournament_id, predictor),
            )?;
                    if let Some(old) = old {
                        w.delete::<CalibrationPrediction>(old.id)?;
                    }
                    let id = w.next_id::<CalibrationPrediction>()?;
                    let row = CalibrationPrediction {
                        id,
                        tournament_id: tournament_id.into(),
                        predictor_agent: predictor.into(),
                        predicted_winner: predicted_winner.into(),
                        confidence,
                        actual_winner: None,
                        resolved_at: None,
                        created_at: Some(crate::time::format_sql(now)),
                        extra: Default::default(),
                    };
                    w.insert(&row)?;
                    Ok(row)
                })
            },
        )
    }

    /// The predictions made for a tournament, in id order.
    pub fn winner_predictions(&self, tournament_id: &str) -> Result<Vec<CalibrationPrediction>> {
        self.db
            .read_op("EloStore.winner_predictions", String::new, |r| {
                r.find(
                    CalibrationPrediction::idx_calibration_pred_tournament,
                    tournament_id,
                    Page::default(),
                )
            })
    }

    /// Scores every unresolved prediction of a tournament against its
    /// actual winner: adds to each predictor's `ratings.calibration_correct`,
    /// `calibration_total` and `calibration_brier_sum` (Brier =
    /// (confidence − outcome)², outcome 1 when the prediction was right),
    /// and marks the prediction resolved.
    pub fn resolve_tournament_calibration(
        &self,
        tournament_id: &str,
        actual_winner: &str,
    ) -> Result<Vec<ResolvedPrediction>> {
        let now = self.db.now();
        self.db.op(
            "resolve_tournament_calibration",
            || format!("tournament={tournament_id}"),
            || {
                let stamp = time::format_iso(now);
                self.db.write_retrying(|w| {
                    let pks = w.keys_by(
                        CalibrationPrediction::idx_calibration_pred_tournament,
                        tournament_id,
                    )?;
                    let mut out = Vec::new();
                    for pk in pks {
                        let Some(mut p) = w.get::<CalibrationPrediction>(RawKey(&pk))? else {
                            continue;
                        };
                        if p.resolved_at.is_some() {
                            continue;
                        }
                        let correct = p.predicted_winner == actual_winner;
                        let brier = brier(p.confidence, correct);
                        let mut r = rating_or_new(w, &p.predictor_agent)?;
                        r.calibration_correct =
                            Some(r.calibration_correct.unwrap_or(0) + i64::from(correct));
                        r.calibration_total = Some(r.calibration_total.unwrap_or(0) + 1);
                        r.calibration_brier_sum =
                            Some(r.calibration_brier_sum.unwrap_or(0.0) + brier);
                        r.updated_at = Some(stamp.clone());
                        w.upsert(&r)?;
                        p.actual_winner = Some(actual_winner.into());
                        p.resolved_at = Some(stamp.clone());
                        w.update(&p)?;
                        out.push(ResolvedPrediction {
                            predictor_agent: p.predictor_agent,
                            correct,
                            brier,
                        });
                    }
                    Ok(out)
                })
            },
        )
    }

    // ----- per-domain calibration -------------------------------------------

    /// Adds one prediction's outcome to an agent's calibration in a domain
    /// and to its confidence bucket.
    pub fn record_domain_prediction(
        &self,
        agent: &str,
        domain: &str,
        confidence: f64,
        correct: bool,
    ) -> Result<(DomainCalibration, CalibrationBucket)> {
        let now = self.db.now();
        check_confidence(confidence)?;
        self.db.op(
            "record_domain_prediction",
            || format!("agent={agent} domain={domain}"),
            || {
                let b = brier(confidence, correct);
                let key = bucket_key(confidence);
                self.db.write_retrying(|w| {
                    let mut dc =
                        w.get::<DomainCalibration>((agent, domain))?
                            .unwrap_or_else(|| DomainCalibration {
                                agent_name: agent.into(),
                                domain: domain.into(),
                                ..Default::default()
                            });
                    dc.total_predictions = Some(dc.total_predictions.unwrap_or(0) + 1);
                    dc.total_correct = Some(dc.total_correct.unwrap_or(0) + i64::from(correct));
                    dc.brier_sum = Some(dc.brier_sum.unwrap_or(0.0) + b);
                    dc.updated_at = Some(time::format_iso(now));
                    w.upsert(&dc)?;
                    let mut bucket = w
                        .get::<CalibrationBucket>((agent, domain, key.as_str()))?
                        .unwrap_or_else(|| CalibrationBucket {
                            agent_name: agent.into(),
                            domain: domain.into(),
                            bucket_key: key.clone(),
                            ..Default::default()
                        });
                    bucket.predictions = Some(bucket.predictions.unwrap_or(0) + 1);
                    bucket.correct = Some(bucket.correct.unwrap_or(0) + i64::from(correct));
                    bucket.brier_sum = Some(bucket.brier_sum.unwrap_or(0.0) + b);
                    w.upsert(&bucket)?;
                    Ok((dc, bucket))
                })
            },
        )
    }

    /// An agent's calibration totals in a domain.
    pub fn domain_calibration(
        &self,
        agent: &str,
        domain: &str,
    ) -> Result<Option<DomainCalibration>> {
        self.db
            .read_op("EloStore.domain_calibration", String::new, |r| {
                r.get((agent, domain))
            })
    }

    /// An agent's confidence buckets in a domain, by bucket key.
    pub fn calibration_buckets(&self, agent: &str, domain: &str) -> Result<Vec<CalibrationBucket>> {
        self.db.op("EloStore.calibration_buckets", String::new, || {
            self.db
                .read()?
                .scan(KeyRange::prefix((agent, domain)), Page::default())
        })
    }

    // ----- relationships ------------------------------------------------------

    /// Adds increments to the statistics of a pair of agents. The pair is
    /// stored once, as `agent_a < agent_b`; given `(b, a)` the directional
    /// increments are swapped. Returns the stored (canonical) row.
    pub fn update_relationship(
        &self,
        a: &str,
        b: &str,
        delta: RelationshipDelta,
    ) -> Result<AgentRelationship> {
        let now = self.db.now();
        if a == b {
            return Err(invalid(
                "update_relationship",
                "agent_b",
                "must differ from agent_a",
            ));
        }
        if let Some((name, _)) = delta.fields().into_iter().find(|(_, v)| *v < 0) {
            return Err(invalid("update_relationship", name, "must not be negative"));
        }
        let (a, b, d) = if a < b {
            (a, b, delta)
        } else {
            (b, a, delta.swapped())
        };
        self.db.write_op(
            "update_relationship",
            || format!("a={a} b={b}"),
            |w| {
                let mut r =
                    w.get::<AgentRelationship>((a, b))?
                        .unwrap_or_else(|| AgentRelationship {
                            agent_a: a.into(),
                            agent_b: b.into(),
                            ..Default::default()
                        });
                let add = |x: &mut Option<i64>, by: i64| *x = Some(x.unwrap_or(0) + by);
                add(&mut r.debate_count, d.debates);
                add(&mut r.agreement_count, d.agreements);
                add(&mut r.critique_count_a_to_b, d.critiques_a_to_b);
                add(&mut r.critique_count_b_to_a, d.critiques_b_to_a);
                add(&mut r.critique_accepted_a_to_b, d.critiques_accepted_a_to_b);
                add(&mut r.critique_accepted_b_to_a, d.critiques_accepted_b_to_a);
                add(
                    &mut r.position_changes_a_after_b,
                    d.position_changes_a_after_b,
                );
                add(
                    &mut r.position_changes_b_after_a,
                    d.position_changes_b_after_a,
                );
                add(&mut r.a_wins_over_b, d.a_wins_over_b);
                add(&mut r.b_wins_over_a, d.b_wins_over_a);
                r.updated_at = Some(time::format_iso(now));
                w.upsert(&r)?;
                Ok(r)
            },
        )
    }

    /// The stored (canonical, `agent_a < agent_b`) row of a pair, given in
    /// either order.
    pub fn relationship(&self, a: &str, b: &str) -> Result<Option<AgentRelationship>> {
        self.db.op("EloStore.relationship", String::new, || {
            let (a, b) = if a < b { (a, b) } else { (b, a) };
            self.db.read()?.get((a, b))
        })
    }
}

// ----- record_match internals ------------------------------------------------

fn record_match_in(
    w: &mut Writer<'_>,
    input: &MatchInput,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, f64>> {
    let stamp = time::format_iso(now);
    let created = crate::time::format_sql(now);
    let agents = &input.participants;
    let scores: Vec<f64> = agents.iter().map(|a| input.scores[a]).collect();

    // Read (and, on PostgreSQL, lock) the ratings in name order, so that
    // two matches between the same agents lock them in the same order and
    // cannot deadlock; `rows` stays in participant order.
    let mut order: Vec<usize> = (0..agents.len()).collect();
    order.sort_by(|&a, &b| agents[a].cmp(&agents[b]));
    let mut slots: Vec<Option<Rating>> = vec![None; agents.len()];
    for i in order {
        slots[i] = Some(rating_or_new(w, &agents[i])?);
    }
    let mut rows: Vec<Rating> = slots.into_iter().flatten().collect();
    let overall: Vec<f64> = rows.iter().map(elo_of).collect();
    let changes = compute_changes(&overall, &scores, ELO_K_FACTOR);

    let mut domain_changes = match &input.domain {
        Some(d) => {
            let mut objs = Vec::with_capacity(rows.len());
            for r in &rows {
                objs.push(domain_elos_of(r)?);
            }
            let current: Vec<f64> = objs
                .iter()
                .map(|o| lookup(o, d).unwrap_or(ELO_INITIAL_RATING))
                .collect();
            let ch = compute_changes(&current, &scores, ELO_K_FACTOR);
            Some((objs, current, ch))
        }
        None => None,
    };

    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tops = scores.iter().filter(|&&s| s == top).count();
    let winner = if tops == 1 {
        agents
            .iter()
            .zip(&scores)
            .find(|(_, s)| **s == top)
            .map(|(a, _)| a.clone())
    } else {
        None
    };

    for (i, r) in rows.iter_mut().enumerate() {
        let new_elo = overall[i] + changes[i];
        r.elo = Some(new_elo);
        let s = scores[i];
        let inc = |x: &mut Option<i64>| *x = Some(x.unwrap_or(0) + 1);
        if s == top && tops == 1 {
            inc(&mut r.wins);
        } else if s == top {
            inc(&mut r.draws);
        } else {
            inc(&mut r.losses);
        }
        inc(&mut r.debates_count);
        if let (Some(d), Some((objs, current, ch))) = (&input.domain, domain_changes.as_mut()) {
            let obj = &mut objs[i];
            let value = serde_json::Value::from(current[i] + ch[i]);
            match obj.iter_mut().find(|(k, _)| k == d) {
                Some(slot) => slot.1 = value,
                None => obj.push((d.clone(), value)),
            }
            r.domain_elos = Some(py_object_values(obj));
        }
        r.updated_at = Some(stamp.clone());
        w.upsert(&*r)?;
        let id = w.next_id::<EloHistory>()?;
        w.insert(&EloHistory {
            id,
            agent_name: r.agent_name.clone(),
            elo: new_elo,
            debate_id: Some(input.debate_id.clone()),
            created_at: Some(created.clone()),
            extra: Default::default(),
        })?;
    }

    let id = w.next_id::<Match>()?;
    w.insert(&Match {
        id,
        debate_id: Some(input.debate_id.clone()),
        winner,
        participants: Some(py_list(agents.iter().map(String::as_str))),
        domain: input.domain.clone(),
        scores: Some(py_object(
            agents
                .iter()
                .map(String::as_str)
                .zip(scores.iter().copied()),
        )),
        elo_changes: Some(py_object(
            agents
                .iter()
                .map(String::as_str)
                .zip(changes.iter().copied()),
        )),
        created_at: Some(created),
        extra: Default::default(),
    })?;

    Ok(agents.iter().cloned().zip(changes).collect())
}

fn validate_match(m: &MatchInput) -> Result<()> {
    const OP: &str = "record_match";
    if m.debate_id.is_empty() {
        return Err(invalid(OP, "debate_id", "is empty"));
    }
    if m.participants.is_empty() {
        return Err(invalid(OP, "participants", "is empty"));
    }
    if m.participants.len() < 2 {
        return Err(invalid(OP, "participants", "needs at least two agents"));
    }
    let mut seen = BTreeSet::new();
    for a in &m.participants {
        if a.is_empty() {
            return Err(invalid(OP, "participants", "contains an empty agent name"));
        }
        if !seen.insert(a.as_str()) {
            return Err(invalid(OP, "participants", &format!("lists {a:?} twice")));
        }
        match m.scores.get(a) {
            None => return Err(invalid(OP, "scores", &format!("has no score for {a:?}"))),
            Some(s) if !s.is_finite() => {
                return Err(invalid(
                    OP,
                    "scores",
                    &format!("score of {a:?} is {s}, not a finite number"),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = m.scores.keys().find(|k| !seen.contains(k.as_str())) {
        return Err(invalid(
            OP,
            "scores",
            &format!("scores {extra:?}, who is not a participant"),
        ));
    }
    if m.domain.as_deref() == Some("") {
        return Err(invalid(OP, "domain", "is empty (use None for no domain)"));
    }
    Ok(())
}

fn stored_changes(m: &Match) -> Result<BTreeMap<String, f64>> {
    let text = m.elo_changes.as_deref().unwrap_or("{}");
    let obj = parse_object(text).map_err(|e| Error::Corrupt {
        table: "matches",
        key: format!("debate_id={:?}", m.debate_id),
        what: format!("elo_changes is not a JSON object: {e}"),
    })?;
    Ok(obj
        .into_iter()
        .filter_map(|(k, v)| v.as_f64().map(|f| (k, f)))
        .collect())
}

fn rating_or_new(w: &mut Writer<'_>, agent: &str) -> Result<Rating> {
    Ok(w.get::<Rating>(agent)?.unwrap_or_else(|| Rating {
        agent_name: agent.into(),
        elo: Some(ELO_INITIAL_RATING),
        domain_elos: Some("{}".into()),
        wins: Some(0),
        losses: Some(0),
        draws: Some(0),
        debates_count: Some(0),
        critiques_accepted: Some(0),
        critiques_total: Some(0),
        updated_at: None,
        calibration_correct: Some(0),
        calibration_total: Some(0),
        calibration_brier_sum: Some(0.0),
        extra: Default::default(),
    }))
}

fn elo_of(r: &Rating) -> f64 {
    r.elo.unwrap_or(ELO_INITIAL_RATING)
}

fn domain_elos_of(r: &Rating) -> Result<Vec<(String, serde_json::Value)>> {
    match r.domain_elos.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(t) => parse_object(t).map_err(|e| Error::Corrupt {
            table: "ratings",
            key: format!("{:?}", r.agent_name),
            what: format!("domain_elos is not a JSON object: {e}"),
        }),
    }
}

fn lookup(obj: &[(String, serde_json::Value)], key: &str) -> Option<f64> {
    obj.iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_f64())
}

fn brier(confidence: f64, correct: bool) -> f64 {
    let outcome = if correct { 1.0 } else { 0.0 };
    (confidence - outcome).powi(2)
}

fn check_confidence(confidence: f64) -> Result<()> {
    if (0.0..=1.0).contains(&confidence) {
        Ok(())
    } else {
        Err(invalid(
            "prediction",
            "confidence",
            &format!("is {confidence}, expected a number in [0, 1]"),
        ))
    }
}

fn invalid(op: &str, field: &str, what: &str) -> Error {
    Error::InvalidArgument(format!("{op}: {field} {what}"))
}

// ----- Python-compatible JSON ----------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::{py_float, py_str};

    #[test]
    fn floats_like_python_repr() {
        for (x, want) in [
            (16.0, "16.0"),
            (-16.0, "-16.0"),
            (1500.0, "1500.0"),
            (0.1, "0.1"),
            (1516.0, "1516.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e-7, "1.5e-07"),
            (12.345, "12.345"),
            (-0.5, "-0.5"),
        ] {
            assert_eq!(py_float(x), want, "{x}");
        }
    }

    #[test]
    fn strings_like_json_dumps() {
        assert_eq!(py_str("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(py_str("é😀\u{7f}"), r#""\u00e9\ud83d\ude00\u007f""#);
        assert_eq!(py_list(["a", "b"]), r#"["a", "b"]"#);
        assert_eq!(
            py_object([("a", 1.0), ("b", -0.5)]),
            r#"{"a": 1.0, "b": -0.5}"#
        );
    }

    #[test]
    fn ordered_objects_round_trip() {
        let text = r#"{"z": 1.0, "a": 1516.5, "m": [1, "x"]}"#;
        let obj = parse_object(text).unwrap();
        assert_eq!(py_object_values(&obj), text);
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket_key(0.0), "0.0-0.1");
        assert_eq!(bucket_key(0.75), "0.7-0.8");
        assert_eq!(bucket_key(0.7), "0.7-0.8");
        assert_eq!(bucket_key(0.3), "0.3-0.4");
        assert_eq!(bucket_key(1.0), "0.9-1.0");
    }
}
