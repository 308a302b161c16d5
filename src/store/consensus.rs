//! `ConsensusStore`: consensus records, their dissents, belief cruxes and
//! the archive of old records (the original's `ConsensusMemory`,
//! `aragora/memory/consensus.py`).
//!
//! # Identifiers
//!
//! Consensus and dissent ids are `str(uuid4())`. `topic_hash` is
//! [`topic_hash`]: the first 16 hex digits of the SHA-256 of the topic's
//! lower-cased, de-duplicated, sorted words joined by single spaces
//! (`" ".join(sorted(set(topic.lower().split())))`), so topics that differ
//! only in case, word order or repeated words share a hash.
//!
//! # Stored formats
//!
//! `data` is the whole record as JSON written like Python's `json.dumps`,
//! with the original's keys in the original's order; `tags` is a JSON list.
//! Nested objects given as [`serde_json::Value`] (`metadata`) are written
//! with their keys sorted (serde_json's map order). `timestamp` is UTC ISO
//! with an explicit offset (the original writes naive local ISO). A
//! dissent's `reasoning` is stored in `data` (as the original does) and
//! also in the consolidated `reasoning` column.
//!
//! [`ConsensusStore::supersede_consensus`] links a new record to the one
//! it replaces through `data.supersedes` / `data.superseded_by`.
//!
//! # Deletion and archive
//!
//! `dissent.debate_id` holds the consensus id and the schema's foreign key
//! cascades, so deleting a consensus deletes its dissents.
//! [`ConsensusStore::cleanup_old_records`] archives (when asked, keeping
//! an already archived copy, like `INSERT OR IGNORE`) and deletes the
//! records older than the cutoff in one transaction; the dissents of a
//! removed consensus are archived with it even when they are newer, since
//! the cascade would otherwise drop them unarchived. The archive tables
//! always exist here.
//!
//! This is stricter than the original, which never enforces its foreign
//! keys: its cleanup deletes old consensus rows and leaves their newer
//! dissents pointing at nothing. Rows it left that way are imported as they
//! are and `verify` reports them as inherited warnings
//! (`crate::db::inherited`); this store itself never creates one, so that a
//! dangling reference in a file it wrote is always damage.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{parse_object, py_list, py_object_values};
use crate::schema::consensus::{Consensus, ConsensusArchive, Dissent, DissentArchive};
use crate::store::common::{finite, not_found};
use crate::store::query::{Order, by_time, instant};
use crate::store::users::new_uuid;
use crate::table::Read;
use crate::table::{Index, KeyRange, Page, RawKey, Reader, Row, Writer};
use crate::time;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The topic hash of the original: SHA-256 hex, first 16 digits, of the
/// sorted, de-duplicated, lower-cased words joined by spaces.
pub fn topic_hash(topic: &str) -> String {
    let lower = topic.to_lowercase();
    let words: BTreeSet<&str> = lower.split_whitespace().collect();
    let joined = words.into_iter().collect::<Vec<_>>().join(" ");
    let digest = Sha256::digest(joined.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..16].to_string()
}

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)*
                }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Result<$name> {
                match s {
                    $($s => Ok($name::$v),)*
                    _ => Err(Error::InvalidArgument(format!(
                        concat!("unknown ", stringify!($name), " {:?}"),
                        s
                    ))),
                }
            }
        }
    };
}

str_enum! {
    /// How strong a consensus is.
    ConsensusStrength {
        /// `unanimous`.
        Unanimous = "unanimous",
        /// `strong`.
        Strong = "strong",
        /// `moderate`.
        Moderate = "moderate",
        /// `weak`.
        Weak = "weak",
        /// `split`.
        Split = "split",
        /// `contested`.
        Contested = "contested",
    }
}

str_enum! {
    /// The kind of a dissent.
    DissentType {
        /// `minor_quibble`.
        MinorQuibble = "minor_quibble",
        /// `alternative_approach`.
        AlternativeApproach = "alternative_approach",
        /// `fundamental_disagreement`.
        FundamentalDisagreement = "fundamental_disagreement",
        /// `edge_case_concern`.
        EdgeCaseConcern = "edge_case_concern",
        /// `risk_warning`.
        RiskWarning = "risk_warning",
        /// `abstention`.
        Abstention = "abstention",
    }
}

/// A consensus to store (the arguments of `store_consensus`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsensusInput {
    /// The topic.
    pub topic: String,
    /// The conclusion reached.
    pub conclusion: String,
    /// Its strength.
    pub strength: ConsensusStrength,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Every participating agent.
    pub participating_agents: Vec<String>,
    /// The agents that agreed.
    pub agreeing_agents: Vec<String>,
    /// The agents that dissented.
    pub dissenting_agents: Vec<String>,
    /// Key claims.
    pub key_claims: Vec<String>,
    /// Domain (default `general`).
    pub domain: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Debate duration in seconds.
    pub debate_duration: f64,
    /// Rounds used.
    pub rounds: i64,
    /// Free metadata (a JSON object; `{}` by default).
    pub metadata: Value,
}

impl ConsensusInput {
    /// A consensus with the original's defaults for everything else.
    pub fn new(
        topic: &str,
        conclusion: &str,
        strength: ConsensusStrength,
        confidence: f64,
    ) -> ConsensusInput {
        ConsensusInput {
            topic: topic.into(),
            conclusion: conclusion.into(),
            strength,
            confidence,
            participating_agents: Vec::new(),
            agreeing_agents: Vec::new(),
            dissenting_agents: Vec::new(),
            key_claims: Vec::new(),
            domain: "general".into(),
            tags: Vec::new(),
            debate_duration: 0.0,
            rounds: 0,
            metadata: Value::Object(Default::default()),
        }
    }
}

/// A dissent to store (the arguments of `store_dissent`).
#[derive(Debug, Clone, PartialEq)]
pub struct DissentInput {
    /// The consensus it dissents from (stored as `debate_id`).
    pub consensus_id: String,
    /// The dissenting agent.
    pub agent_id: String,
    /// Its kind.
    pub dissent_type: DissentType,
    /// What the agent says.
    pub content: String,
    /// Why.
    pub reasoning: String,
    /// Confidence (default 0.0).
    pub confidence: f64,
    /// Whether the majority acknowledged it.
    pub acknowledged: bool,
    /// The majority's rebuttal (default empty).
    pub rebuttal: String,
    /// Free metadata (a JSON object).
    pub metadata: Value,
}

impl DissentInput {
    /// A dissent with the original's defaults for everything else.
    pub fn new(
        consensus_id: &str,
        agent_id: &str,
        dissent_type: DissentType,
        content: &str,
        reasoning: &str,
    ) -> DissentInput {
        DissentInput {
            consensus_id: consensus_id.into(),
            agent_id: agent_id.into(),
            dissent_type,
            content: content.into(),
            reasoning: reasoning.into(),
            confidence: 0.0,
            acknowledged: false,
            rebuttal: String::new(),
            metadata: Value::Object(Default::default()),
        }
    }
}

/// What [`ConsensusStore::cleanup_old_records`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupCounts {
    /// Consensus rows removed.
    pub consensus: u64,
    /// Dissent rows removed.
    pub dissent: u64,
}

/// Most cruxes kept by [`ConsensusStore::update_cruxes`].
pub const MAX_CRUXES: usize = 5;

/// The consensus memory store, in the file of [`DatabaseType::ConsensusMemory`].
#[derive(Debug, Clone)]
pub struct ConsensusStore {
    db: Database,
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn entry(k: &str, v: Value) -> (String, Value) {
    (k.to_string(), v)
}

fn set_entry(obj: &mut Vec<(String, Value)>, k: &str, v: Value) {
    match obj.iter_mut().find(|(ok, _)| ok == k) {
        Some(slot) => slot.1 = v,
        None => obj.push((k.into(), v)),
    }
}

fn data_of(row: &Consensus) -> Result<Vec<(String, Value)>> {
    match row.data.as_deref() {
        None => Ok(Vec::new()),
        Some(t) => parse_object(t).map_err(|e| {
            Error::InvalidArgument(format!("consensus {} has bad data JSON: {e}", row.id))
        }),
    }
}

fn is_before(ts: Option<&str>, cutoff: DateTime<Utc>) -> bool {
    instant(ts).is_some_and(|t| t < cutoff)
}

impl ConsensusStore {
    /// Opens the consensus database of a configuration
    /// (`consensus_memory.db`, or `memory.db` in consolidated mode).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(ConsensusStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::ConsensusMemory))?,
        })
    }

    /// Wraps an already open consensus database.
    pub fn from_db(db: Database) -> Self {
        ConsensusStore { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    /// Stores a consensus; returns the row written.
    pub fn store_consensus(&self, input: &ConsensusInput) -> Result<Consensus> {
        let now = self.db.now();
        self.db.op(
            "store_consensus",
            || format!("topic={}", input.topic),
            || {
                let row = build_consensus(input, now, None)?;
                self.db.write_retrying(|w| w.insert(&row))?;
                Ok(row)
            },
        )
    }

    /// Stores a new consensus that replaces `old_id`: the new record's
    /// `data.supersedes` is the old id and the old record's
    /// `data.superseded_by` the new id, in one transaction. A missing old
    /// record is an error.
    pub fn supersede_consensus(&self, old_id: &str, input: &ConsensusInput) -> Result<Consensus> {
        let now = self.db.now();
        self.db.op(
            "supersede_consensus",
            || format!("old={old_id}"),
            || {
                let row = build_consensus(input, now, Some(old_id))?;
                self.db.write_retrying(|w| {
                    let mut old = w
                        .get::<Consensus>(old_id)?
                        .ok_or_else(|| not_found("consensus", old_id))?;
                    let mut obj = data_of(&old)?;
                    set_entry(&mut obj, "superseded_by", Value::String(row.id.clone()));
                    old.data = Some(py_object_values(&obj));
                    w.update(&old)?;
                    w.insert(&row)
                })?;
                Ok(row)
            },
        )
    }

    /// Follows `data.superseded_by` from a consensus to the newest record
    /// replacing it (the record itself if none does).
    pub fn current_version(&self, id: &str) -> Result<Option<Consensus>> {
        self.db
            .op("ConsensusStore.current_version", String::new, || {
                let r = self.db.read()?;
                let Some(mut row) = r.get::<Consensus>(id)? else {
                    return Ok(None);
                };
                let mut seen = BTreeSet::new();
                while seen.insert(row.id.clone()) {
                    let next = data_of(&row)?
                        .into_iter()
                        .find(|(k, _)| k == "superseded_by")
                        .and_then(|(_, v)| v.as_str().map(str::to_string));
                    match next.map(|n| r.get::<Consensus>(n.as_str())).transpose()? {
                        Some(Some(n)) => row = n,
                        _ => break,
                    }
                }
                Ok(Some(row))
            })
    }

    /// Stores a dissent and appends its id to the consensus's
    /// `data.dissent_ids`, in one transaction. A missing consensus is an
    /// error.
    pub fn store_dissent(&self, input: &DissentInput) -> Result<Dissent> {
        let now = self.db.now();
        self.db.op(
            "store_dissent",
            || format!("consensus={} agent={}", input.consensus_id, input.agent_id),
            || {
                let id = new_uuid();
                let ts = time::format_iso(now);
                let data = vec![
                    entry("id", Value::String(id.clone())),
                    entry("debate_id", Value::String(input.consensus_id.clone())),
                    entry("agent_id", Value::String(input.agent_id.clone())),
                    entry(
                        "dissent_type",
                        Value::String(input.dissent_type.as_str().into()),
                    ),
                    entry("content", Value::String(input.content.clone())),
                    entry("reasoning", Value::String(input.reasoning.clone())),
                    entry("confidence", Value::from(input.confidence)),
                    entry("acknowledged", Value::Bool(input.acknowledged)),
                    entry("rebuttal", Value::String(input.rebuttal.clone())),
                    entry("timestamp", Value::String(ts.clone())),
                    entry("metadata", input.metadata.clone()),
                ];
                let row = Dissent {
                    id: id.clone(),
                    debate_id: Some(input.consensus_id.clone()),
                    agent_id: input.agent_id.clone(),
                    dissent_type: Some(input.dissent_type.as_str().into()),
                    content: Some(input.content.clone()),
                    confidence: Some(input.confidence),
                    timestamp: Some(ts),
                    data: Some(py_object_values(&data)),
                    reasoning: Some(input.reasoning.clone()),
                    ..Dissent::default()
                };
                self.db.write_retrying(|w| {
                    let mut parent = w
                        .get::<Consensus>(&input.consensus_id)?
                        .ok_or_else(|| not_found("consensus", &input.consensus_id))?;
                    w.insert(&row)?;
                    let mut obj = data_of(&parent)?;
                    let mut ids = match obj.iter().find(|(k, _)| k == "dissent_ids") {
                        Some((_, Value::Array(a))) => a.clone(),
                        _ => Vec::new(),
                    };
                    ids.push(Value::String(id.clone()));
                    set_entry(&mut obj, "dissent_ids", Value::Array(ids));
                    parent.data = Some(py_object_values(&obj));
                    w.update(&parent)
                })?;
                Ok(row)
            },
        )
    }

    /// Sets a consensus's `data.belief_cruxes` (at most [`MAX_CRUXES`], the
    /// rest dropped); false if there is no such consensus.
    pub fn update_cruxes(&self, consensus_id: &str, cruxes: &[Value]) -> Result<bool> {
        self.db
            .write_op("ConsensusStore.update_cruxes", String::new, |w| {
                let Some(mut row) = w.get::<Consensus>(consensus_id)? else {
                    return Ok(false);
                };
                let mut obj = data_of(&row)?;
                let kept = cruxes.iter().take(MAX_CRUXES).cloned().collect();
                set_entry(&mut obj, "belief_cruxes", Value::Array(kept));
                row.data = Some(py_object_values(&obj));
                w.update(&row)?;
                Ok(true)
            })
    }

    /// A consensus by id.
    pub fn get_consensus(&self, id: &str) -> Result<Option<Consensus>> {
        self.db
            .read_op("ConsensusStore.get_consensus", String::new, |r| r.get(id))
    }

    /// A consensus's `data` object, keys in stored order.
    pub fn consensus_data(&self, id: &str) -> Result<Option<Vec<(String, Value)>>> {
        self.get_consensus(id)?.map(|r| data_of(&r)).transpose()
    }

    /// A dissent by id.
    pub fn get_dissent(&self, id: &str) -> Result<Option<Dissent>> {
        self.db
            .read_op("ConsensusStore.get_dissent", String::new, |r| r.get(id))
    }

    /// The consensus records with this topic hash, newest first.
    pub fn find_by_topic_hash(&self, hash: &str) -> Result<Vec<Consensus>> {
        self.db.op(
            "find_by_topic_hash",
            || format!("hash={hash}"),
            || {
                let rows: Vec<Consensus> = self.db.read()?.find(
                    Consensus::idx_consensus_topic_hash,
                    hash,
                    Page::default(),
                )?;
                Ok(by_time(
                    rows,
                    Order::Newest,
                    |c| instant(c.timestamp.as_deref()),
                    |a, b| a.id.cmp(&b.id),
                ))
            },
        )
    }

    /// The consensus records on a topic (same [`topic_hash`]), newest first.
    pub fn find_by_topic(&self, topic: &str) -> Result<Vec<Consensus>> {
        self.find_by_topic_hash(&topic_hash(topic))
    }

    /// The newest consensus on a topic.
    pub fn latest_for_topic(&self, topic: &str) -> Result<Option<Consensus>> {
        Ok(self.find_by_topic(topic)?.into_iter().next())
    }

    /// The dissents of a consensus, oldest first.
    pub fn dissents(&self, consensus_id: &str) -> Result<Vec<Dissent>> {
        self.db.op("ConsensusStore.dissents", String::new, || {
            let rows: Vec<Dissent> =
                self.db
                    .read()?
                    .find(Dissent::idx_dissent_debate, consensus_id, Page::default())?;
            Ok(by_time(
                rows,
                Order::Oldest,
                |d| instant(d.timestamp.as_deref()),
                |a, b| a.id.cmp(&b.id),
            ))
        })
    }

    /// Number of consensus records.
    pub fn count(&self) -> Result<u64> {
        self.db.read_op("ConsensusStore.count", String::new, |r| {
            r.count::<Consensus>()
        })
    }

    /// Deletes a consensus and (by the cascade) its dissents; false if
    /// there was none.
    pub fn delete_consensus(&self, id: &str) -> Result<bool> {
        self.db
            .op("ConsensusStore.delete_consensus", String::new, || {
                self.db.write_retrying(|w| w.delete::<Consensus>(id))
            })
    }

    /// Deletes a dissent and removes its id from the consensus's
    /// `data.dissent_ids`; false if there was none.
    pub fn delete_dissent(&self, id: &str) -> Result<bool> {
        self.db
            .op("ConsensusStore.delete_dissent", String::new, || {
                self.db.write_retrying(|w| {
                    let Some(d) = w.get::<Dissent>(id)? else {
                        return Ok(false);
                    };
                    w.delete::<Dissent>(id)?;
                    if let Some(cid) = &d.debate_id
                        && let Some(mut parent) = w.get::<Consensus>(cid)?
                    {
                        let mut obj = data_of(&parent)?;
                        if let Some((_, Value::Array(a))) =
                            obj.iter_mut().find(|(k, _)| k == "dissent_ids")
                        {
                            a.retain(|v| v.as_str() != Some(id));
                            parent.data = Some(py_object_values(&obj));
                            w.update(&parent)?;
                        }
                    }
                    Ok(true)
                })
            })
    }

    /// Removes (and with `archive`, first archives) records whose
    /// `timestamp` is older than `max_age_days` before `now`.
    pub fn cleanup_old_records(&self, max_age_days: i64, archive: bool) -> Result<CleanupCounts> {
        let now = self.db.now();
        self.db.op(
            "cleanup_old_records",
            || format!("days={max_age_days}"),
            || {
                let cutoff = now - Duration::days(max_age_days);
                let archived_at = time::format_iso(now);
                self.db.write_retrying(|w| {
                    let consensus = old_rows(w, Consensus::idx_consensus_topic_hash, |c| {
                        is_before(c.timestamp.as_deref(), cutoff)
                    })?;
                    let doomed: BTreeSet<&str> = consensus.iter().map(|c| c.id.as_str()).collect();
                    let dissents = old_rows(w, Dissent::idx_dissent_debate, |d| {
                        is_before(d.timestamp.as_deref(), cutoff)
                            || d.debate_id.as_deref().is_some_and(|p| doomed.contains(p))
                    })?;
                    if archive {
                        for d in &dissents {
                            if w.get::<DissentArchive>(&d.id)?.is_none() {
                                w.insert(&DissentArchive {
                                    id: d.id.clone(),
                                    debate_id: d.debate_id.clone(),
                                    agent_id: Some(d.agent_id.clone()),
                                    dissent_type: d.dissent_type.clone(),
                                    content: d.content.clone(),
                                    confidence: d.confidence,
                                    timestamp: d.timestamp.clone(),
                                    data: d.data.clone(),
                                    archived_at: Some(archived_at.clone()),
                                    ..DissentArchive::default()
                                })?;
                            }
                        }
                        for c in &consensus {
                            if w.get::<ConsensusArchive>(&c.id)?.is_none() {
                                w.insert(&ConsensusArchive {
                                    id: c.id.clone(),
                                    topic: Some(c.topic.clone()),
                                    topic_hash: c.topic_hash.clone(),
                                    conclusion: c.conclusion.clone(),
                                    strength: c.strength.clone(),
                                    confidence: c.confidence,
                                    domain: c.domain.clone(),
                                    tags: c.tags.clone(),
                                    timestamp: c.timestamp.clone(),
                                    data: c.data.clone(),
                                    archived_at: Some(archived_at.clone()),
                                    ..ConsensusArchive::default()
                                })?;
                            }
                        }
                    }
                    for d in &dissents {
                        w.delete::<Dissent>(&d.id)?;
                    }
                    for c in &consensus {
                        w.delete::<Consensus>(&c.id)?;
                    }
                    Ok(CleanupCounts {
                        consensus: consensus.len() as u64,
                        dissent: dissents.len() as u64,
                    })
                })
            },
        )
    }

    /// An archived consensus by id.
    pub fn archived_consensus(&self, id: &str) -> Result<Option<ConsensusArchive>> {
        self.db
            .op("ConsensusStore.archived_consensus", String::new, || {
                self.db.read()?.get(id)
            })
    }

    /// An archived dissent by id.
    pub fn archived_dissent(&self, id: &str) -> Result<Option<DissentArchive>> {
        self.db
            .op("ConsensusStore.archived_dissent", String::new, || {
                self.db.read()?.get(id)
            })
    }
}

/// The row `store_consensus` writes (see the module docs).
fn build_consensus(
    input: &ConsensusInput,
    now: DateTime<Utc>,
    supersedes: Option<&str>,
) -> Result<Consensus> {
    finite("confidence", input.confidence)?;
    let id = new_uuid();
    let hash = topic_hash(&input.topic);
    let ts = time::format_iso(now);
    let data = vec![
        entry("id", Value::String(id.clone())),
        entry("topic", Value::String(input.topic.clone())),
        entry("topic_hash", Value::String(hash.clone())),
        entry("conclusion", Value::String(input.conclusion.clone())),
        entry("strength", Value::String(input.strength.as_str().into())),
        entry("confidence", Value::from(input.confidence)),
        entry("participating_agents", strings(&input.participating_agents)),
        entry("agreeing_agents", strings(&input.agreeing_agents)),
        entry("dissenting_agents", strings(&input.dissenting_agents)),
        entry("key_claims", strings(&input.key_claims)),
        entry("supporting_evidence", Value::Array(Vec::new())),
        entry("dissent_ids", Value::Array(Vec::new())),
        entry("domain", Value::String(input.domain.clone())),
        entry("tags", strings(&input.tags)),
        entry("timestamp", Value::String(ts.clone())),
        entry(
            "debate_duration_seconds",
            Value::from(input.debate_duration),
        ),
        entry("rounds", Value::from(input.rounds)),
        entry(
            "supersedes",
            supersedes.map_or(Value::Null, |s| Value::String(s.into())),
        ),
        entry("superseded_by", Value::Null),
        entry("metadata", input.metadata.clone()),
    ];
    Ok(Consensus {
        id,
        topic: input.topic.clone(),
        topic_hash: Some(hash),
        conclusion: Some(input.conclusion.clone()),
        strength: Some(input.strength.as_str().into()),
        confidence: Some(input.confidence),
        domain: Some(input.domain.clone()),
        tags: Some(py_list(input.tags.iter().map(String::as_str))),
        timestamp: Some(ts),
        data: Some(py_object_values(&data)),
        ..Consensus::default()
    })
}

/// Rows of a table matching `keep`, read inside the write transaction.
/// `index` must cover every row (no index here is partial).
fn old_rows<R: Row, K>(
    w: &mut Writer<'_>,
    index: Index<R, K>,
    keep: impl Fn(&R) -> bool,
) -> Result<Vec<R>> {
    let mut out = Vec::new();
    let pks = w.keys_in(index, &KeyRange::all())?;
    for pk in pks {
        if let Some(r) = w.get::<R>(RawKey(&pk))?
            && keep(&r)
        {
            out.push(r);
        }
    }
    Ok(out)
}
