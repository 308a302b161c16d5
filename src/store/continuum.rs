//! `ContinuumStore`: the continuum memory's tiers, tier transitions and
//! archive (the original's `ContinuumMemory`, `aragora/memory/continuum/`).
//!
//! # Tiers
//!
//! Four tiers, fastest first: `fast`, `medium`, `slow`, `glacial`
//! ([`MemoryTier`]). Promoting moves a memory one tier faster (reason
//! `high_surprise` unless given), demoting one tier slower (reason
//! `high_stability` unless given); every move sets `last_promotion_at`
//! and writes a `tier_transitions` row in the same transaction.
//!
//! # Stored formats
//!
//! `metadata` is a JSON object written like Python's `json.dumps` (a
//! tenant id goes into `metadata["tenant_id"]`, as in the original).
//! Timestamps: the original writes naive local ISO; we write UTC ISO with
//! an explicit offset (`2026-01-05T10:00:00.123456+00:00`), which every
//! reader parses unambiguously. Every mutating method reads the time from
//! the store's clock ([`Config::with_clock`](crate::config::Config::with_clock)).
//!
//! `semantic_centroid` is a raw little-endian float32 array with no
//! header ([`pack_f32`] / [`unpack_f32`]).
//!
//! # Archive
//!
//! [`ContinuumStore::delete_with`] with `archive` copies the row into
//! `continuum_memory_archive` (replacing an earlier archive row with the
//! same id) and deletes the live row in one transaction; the memory's
//! `tier_transitions` rows go with it (the schema's `ON DELETE CASCADE`).
//! The original leaves them behind (it never enforces foreign keys), so
//! imported files can hold transitions of memories it pruned: those are
//! kept as they are and `verify` reports them as inherited warnings
//! (`crate::db::inherited`); this store is stricter and never leaves one.
//! Red-line memories are refused unless `force` is set.

use crate::config::{Config, DatabaseType, DbTarget};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::{parse_object, py_object_values};
use crate::schema::continuum::{ContinuumMemory, ContinuumMemoryArchive, TierTransition};
use crate::store::common::not_found;
use crate::store::query::{Real, instant, newest};
use crate::table::Read;
use crate::table::{KeyRange, Page, Reader, Writer};
use crate::time;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Bound;

/// A continuum tier, fastest (most volatile) first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryTier {
    /// `fast`: updated every event.
    Fast,
    /// `medium`: per round.
    Medium,
    /// `slow`: per debate (the default tier).
    Slow,
    /// `glacial`: long-lived knowledge.
    Glacial,
}

impl MemoryTier {
    /// Every tier, fastest first.
    pub const ALL: [MemoryTier; 4] = [
        MemoryTier::Fast,
        MemoryTier::Medium,
        MemoryTier::Slow,
        MemoryTier::Glacial,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryTier::Fast => "fast",
            MemoryTier::Medium => "medium",
            MemoryTier::Slow => "slow",
            MemoryTier::Glacial => "glacial",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<MemoryTier> {
        MemoryTier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown memory tier {s:?}")))
    }

    /// The next faster tier (`None` for `fast`).
    pub fn faster(self) -> Option<MemoryTier> {
        match self {
            MemoryTier::Fast => None,
            MemoryTier::Medium => Some(MemoryTier::Fast),
            MemoryTier::Slow => Some(MemoryTier::Medium),
            MemoryTier::Glacial => Some(MemoryTier::Slow),
        }
    }

    /// The next slower tier (`None` for `glacial`).
    pub fn slower(self) -> Option<MemoryTier> {
        match self {
            MemoryTier::Fast => Some(MemoryTier::Medium),
            MemoryTier::Medium => Some(MemoryTier::Slow),
            MemoryTier::Slow => Some(MemoryTier::Glacial),
            MemoryTier::Glacial => None,
        }
    }
}

impl std::fmt::Display for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Packs floats as a raw little-endian float32 array (Python's
/// `struct.pack(f"{n}f")` on a little-endian machine).
pub fn pack_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Unpacks a raw little-endian float32 array; its length must be a
/// multiple of 4.
pub fn unpack_f32(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::InvalidArgument(format!(
            "float32 array of {} bytes is not a multiple of 4",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A memory to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMemory {
    /// The memory id (caller-chosen, as in the original).
    pub id: String,
    /// The content.
    pub content: String,
    /// The tier (default `slow`).
    pub tier: MemoryTier,
    /// Importance in [0, 1] (default 0.5).
    pub importance: f64,
    /// Metadata entries, in order.
    pub metadata: Vec<(String, Value)>,
    /// A tenant, stored as `metadata["tenant_id"]`.
    pub tenant_id: Option<String>,
}

impl NewMemory {
    /// A memory with the original's defaults (`slow`, importance 0.5).
    pub fn new(id: &str, content: &str) -> NewMemory {
        NewMemory {
            id: id.into(),
            content: content.into(),
            tier: MemoryTier::Slow,
            importance: 0.5,
            metadata: Vec::new(),
            tenant_id: None,
        }
    }

    /// Same memory in another tier.
    pub fn tier(mut self, tier: MemoryTier) -> NewMemory {
        self.tier = tier;
        self
    }

    /// Same memory with another importance.
    pub fn importance(mut self, importance: f64) -> NewMemory {
        self.importance = importance;
        self
    }
}

/// Changes to a memory; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryUpdate {
    /// New content.
    pub content: Option<String>,
    /// New importance.
    pub importance: Option<f64>,
    /// Metadata entries to set (merged into the stored object).
    pub metadata: Option<Vec<(String, Value)>>,
    /// New surprise score.
    pub surprise_score: Option<f64>,
    /// New consolidation score.
    pub consolidation_score: Option<f64>,
}

/// Weight of a new observation in the surprise moving average of
/// [`ContinuumStore::update_outcome`] (our choice).
pub const SURPRISE_ALPHA: f64 = 0.3;

/// The continuum memory store, in the file of [`DatabaseType::ContinuumMemory`].
#[derive(Debug, Clone)]
pub struct ContinuumStore {
    db: Database,
}

fn merge_metadata(stored: Option<&str>, entries: &[(String, Value)]) -> String {
    let mut obj = stored
        .and_then(|s| parse_object(s).ok())
        .unwrap_or_default();
    for (k, v) in entries {
        match obj.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v.clone(),
            None => obj.push((k.clone(), v.clone())),
        }
    }
    py_object_values(&obj)
}

impl ContinuumStore {
    /// Opens the continuum database of a configuration (`continuum.db`, or
    /// `memory.db` in consolidated mode).
    pub fn open(config: &Config) -> Result<Self> {
        Ok(ContinuumStore {
            db: Database::open(config, DbTarget::Type(DatabaseType::ContinuumMemory))?,
        })
    }

    /// Wraps an already open continuum database.
    pub fn from_db(db: Database) -> Self {
        ContinuumStore { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    // ----- writes ------------------------------------------------------------

    /// Adds (or replaces, like `INSERT OR REPLACE`) a memory.
    ///
    /// `update_count` 1,
    /// created/updated now, scores at their defaults. A replaced memory keeps
    /// its tier transitions.
    pub fn add(&self, memory: &NewMemory) -> Result<ContinuumMemory> {
        let now = self.db.now();
        self.db.op(
            "continuum_add",
            || format!("id={}", memory.id),
            || {
                let mut meta = memory.metadata.clone();
                if let Some(t) = &memory.tenant_id {
                    meta.retain(|(k, _)| k != "tenant_id");
                    meta.push(("tenant_id".into(), Value::String(t.clone())));
                }
                let now = time::format_iso(now);
                let row = ContinuumMemory {
                    id: memory.id.clone(),
                    tier: memory.tier.as_str().into(),
                    content: memory.content.clone(),
                    importance: Some(memory.importance),
                    surprise_score: Some(0.0),
                    consolidation_score: Some(0.0),
                    update_count: Some(1),
                    success_count: Some(0),
                    failure_count: Some(0),
                    semantic_centroid: None,
                    last_promotion_at: None,
                    created_at: Some(now.clone()),
                    updated_at: Some(now),
                    metadata: Some(py_object_values(&meta)),
                    expires_at: None,
                    red_line: Some(false),
                    red_line_reason: Some(String::new()),
                    extra: Default::default(),
                };
                self.db.write_retrying(|w| w.upsert(&row).map(drop))?;
                Ok(row)
            },
        )
    }

    /// Updates a memory; false if there is none.
    ///
    /// Applies the given
    /// fields, increments `update_count` and sets `updated_at`.
    pub fn update(&self, id: &str, change: &MemoryUpdate) -> Result<bool> {
        let now = self.db.now();
        self.db.write_op(
            "continuum_update",
            || format!("id={id}"),
            |w| {
                let Some(mut row) = w.get::<ContinuumMemory>(id)? else {
                    return Ok(false);
                };
                if let Some(c) = &change.content {
                    row.content = c.clone();
                }
                if let Some(v) = change.importance {
                    row.importance = Some(v);
                }
                if let Some(v) = change.surprise_score {
                    row.surprise_score = Some(v);
                }
                if let Some(v) = change.consolidation_score {
                    row.consolidation_score = Some(v);
                }
                if let Some(m) = &change.metadata {
                    row.metadata = Some(merge_metadata(row.metadata.as_deref(), m));
                }
                row.update_count = Some(row.update_count.unwrap_or(0) + 1);
                row.updated_at = Some(time::format_iso(now));
                w.update(&row)?;
                Ok(true)
            },
        )
    }

    /// Records an outcome; returns the new surprise score (`None` if no such
    /// memory).
    ///
    ///
    ///
    /// Our arithmetic (the original's is not known here): the
    /// surprise of an outcome is `|actual − expected success rate|` (before
    /// counting it), averaged into `surprise_score` with weight
    /// [`SURPRISE_ALPHA`]; a given `prediction_error` in [0, 1] is averaged
    /// in with the same weight. `consolidation_score` is
    /// `min(1, ln(1 + update_count) / ln(101))`.
    pub fn update_outcome(
        &self,
        id: &str,
        success: bool,
        prediction_error: Option<f64>,
    ) -> Result<Option<f64>> {
        let now = self.db.now();
        self.db.write_op(
            "continuum_update_outcome",
            || format!("id={id}"),
            |w| {
                let Some(mut row) = w.get::<ContinuumMemory>(id)? else {
                    return Ok(None);
                };
                let s = row.success_count.unwrap_or(0);
                let f = row.failure_count.unwrap_or(0);
                let expected = if s + f == 0 {
                    0.5
                } else {
                    s as f64 / (s + f) as f64
                };
                let actual = if success { 1.0 } else { 0.0 };
                let mut surprise = SURPRISE_ALPHA * (actual - expected).abs()
                    + (1.0 - SURPRISE_ALPHA) * row.surprise_score.unwrap_or(0.0);
                if let Some(e) = prediction_error {
                    surprise =
                        SURPRISE_ALPHA * e.clamp(0.0, 1.0) + (1.0 - SURPRISE_ALPHA) * surprise;
                }
                if success {
                    row.success_count = Some(s + 1);
                } else {
                    row.failure_count = Some(f + 1);
                }
                let updates = row.update_count.unwrap_or(0) + 1;
                row.update_count = Some(updates);
                row.surprise_score = Some(surprise);
                row.consolidation_score =
                    Some(((1.0 + updates as f64).ln() / 101f64.ln()).min(1.0));
                row.updated_at = Some(time::format_iso(now));
                w.update(&row)?;
                Ok(Some(surprise))
            },
        )
    }

    /// Moves a memory to another tier, recording the transition; returns
    /// the tier it left. Moving to its own tier is an error.
    pub fn transition(&self, id: &str, to: MemoryTier, reason: &str) -> Result<MemoryTier> {
        let now = self.db.now();
        self.db.op(
            "continuum_transition",
            || format!("id={id} to={to}"),
            || {
                self.db
                    .write_retrying(|w| move_tier(w, id, |_| Some(to), reason, now))?
                    .map(|(from, _)| from)
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!("memory {id:?} is already in tier {to}"))
                    })
            },
        )
    }

    /// Promotes a memory one tier faster (reason `high_surprise`).
    pub fn promote(&self, id: &str) -> Result<Option<MemoryTier>> {
        self.promote_with(id, None)
    }

    /// [`ContinuumStore::promote`] with an explicit reason;
    /// returns the new tier, `None` for a memory already in `fast`. A missing
    /// memory is an error.
    pub fn promote_with(&self, id: &str, reason: Option<&str>) -> Result<Option<MemoryTier>> {
        let now = self.db.now();
        self.db.op(
            "continuum_promote",
            || format!("id={id}"),
            || {
                let reason = reason.unwrap_or("high_surprise");
                Ok(self
                    .db
                    .write_retrying(|w| move_tier(w, id, MemoryTier::faster, reason, now))?
                    .map(|(_, to)| to))
            },
        )
    }

    /// Demotes a memory one tier slower (reason `high_stability`).
    pub fn demote(&self, id: &str) -> Result<Option<MemoryTier>> {
        self.demote_with(id, None)
    }

    /// [`ContinuumStore::demote`] with an explicit reason;
    /// returns the new tier, `None` for a memory already in `glacial`.
    pub fn demote_with(&self, id: &str, reason: Option<&str>) -> Result<Option<MemoryTier>> {
        let now = self.db.now();
        self.db.op(
            "continuum_demote",
            || format!("id={id}"),
            || {
                let reason = reason.unwrap_or("high_stability");
                Ok(self
                    .db
                    .write_retrying(|w| move_tier(w, id, MemoryTier::slower, reason, now))?
                    .map(|(_, to)| to))
            },
        )
    }

    /// Marks a memory as red-line (protected from deletion); false if none.
    pub fn mark_red_line(&self, id: &str, reason: &str) -> Result<bool> {
        self.db.op("ContinuumStore.mark_red_line", String::new, || {
            let now = self.db.now();
            self.db.write_retrying(|w| {
                let Some(mut row) = w.get::<ContinuumMemory>(id)? else {
                    return Ok(false);
                };
                row.red_line = Some(true);
                row.red_line_reason = Some(reason.into());
                row.updated_at = Some(time::format_iso(now));
                w.update(&row)?;
                Ok(true)
            })
        })
    }

    /// Sets (or with `None`, clears) a memory's expiry time.
    pub fn set_expires_at(&self, id: &str, expires_at: Option<DateTime<Utc>>) -> Result<bool> {
        self.db
            .op("ContinuumStore.set_expires_at", String::new, || {
                self.db.write_retrying(|w| {
                    let Some(mut row) = w.get::<ContinuumMemory>(id)? else {
                        return Ok(false);
                    };
                    row.expires_at = expires_at.map(time::format_iso);
                    w.update(&row)?;
                    Ok(true)
                })
            })
    }

    /// Stores a memory's semantic centroid (little-endian float32); false if
    /// there is no such memory.
    pub fn set_centroid(&self, id: &str, centroid: &[f32]) -> Result<bool> {
        self.db
            .write_op("ContinuumStore.set_centroid", String::new, |w| {
                let Some(mut row) = w.get::<ContinuumMemory>(id)? else {
                    return Ok(false);
                };
                row.semantic_centroid = Some(pack_f32(centroid));
                w.update(&row)?;
                Ok(true)
            })
    }

    /// A memory's semantic centroid, if it has one.
    pub fn centroid(&self, id: &str) -> Result<Option<Vec<f32>>> {
        match self.get(id)?.and_then(|r| r.semantic_centroid) {
            Some(b) => unpack_f32(&b).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes a memory, archiving it first with reason `user_deleted`.
    pub fn delete(&self, id: &str) -> Result<bool> {
        self.delete_with(id, true, "user_deleted", false)
    }

    /// Archives a memory: [`ContinuumStore::delete_with`] with `archive`.
    pub fn archive(&self, id: &str, reason: &str) -> Result<bool> {
        self.delete_with(id, true, reason, false)
    }

    /// Deletes a memory; with `archive` the row is first copied into
    /// `continuum_memory_archive` (`archived_at` now, `archive_reason`), all
    /// in one transaction. Returns false if there is no such memory. A
    /// red-line memory is an error unless `force`.
    pub fn delete_with(&self, id: &str, archive: bool, reason: &str, force: bool) -> Result<bool> {
        let now = self.db.now();
        self.db.op(
            "continuum_delete",
            || format!("id={id} archive={archive}"),
            || {
                self.db
                    .write_retrying(|w| delete_memory(w, id, archive, reason, force, now))
            },
        )
    }

    /// Archives (reason `expired`) and deletes the memories whose
    /// `expires_at` lies before `now`, red-line memories excepted; returns
    /// how many.
    pub fn cleanup_expired(&self) -> Result<u64> {
        let now = self.db.now();
        self.db.op("continuum_cleanup_expired", String::new, || {
            let expired: Vec<String> = {
                // The index is in time order (src/table/keys.rs): what
                // expires before now, past the memories that never do
                // (NULL); text that is no time sorts before every time and
                // is left alone by the check below.
                let r = self.db.read()?;
                let now_iso = time::format_iso(now);
                let rows: Vec<ContinuumMemory> = r.scan_index(
                    ContinuumMemory::idx_continuum_expires,
                    KeyRange::between(
                        Bound::Excluded(crate::table::Value::Null),
                        Bound::Excluded(crate::table::Value::Text(now_iso)),
                    ),
                    Page::default(),
                )?;
                rows.into_iter()
                    .filter(|m| !m.red_line.unwrap_or(false))
                    .filter(|m| instant(m.expires_at.as_deref()).is_some_and(|t| t < now))
                    .map(|m| m.id)
                    .collect()
            };
            self.db.write_retrying(|w| {
                let mut n = 0;
                for id in &expired {
                    // Re-checked inside the transaction: a memory marked
                    // red-line since the scan is skipped, not an error.
                    let still = w.get::<ContinuumMemory>(id.as_str())?.is_some_and(|m| {
                        !m.red_line.unwrap_or(false)
                            && instant(m.expires_at.as_deref()).is_some_and(|t| t < now)
                    });
                    if still && delete_memory(w, id, true, "expired", false, now)? {
                        n += 1;
                    }
                }
                Ok(n)
            })
        })
    }

    // ----- reads -------------------------------------------------------------

    /// A memory by id.
    pub fn get(&self, id: &str) -> Result<Option<ContinuumMemory>> {
        self.db
            .read_op("continuum_get", || format!("id={id}"), |r| r.get(id))
    }

    /// A memory's tier.
    pub fn tier_of(&self, id: &str) -> Result<Option<MemoryTier>> {
        self.get(id)?
            .map(|m| MemoryTier::parse(&m.tier))
            .transpose()
    }

    /// An archived memory by id.
    pub fn archived(&self, id: &str) -> Result<Option<ContinuumMemoryArchive>> {
        self.db
            .read_op("ContinuumStore.archived", String::new, |r| r.get(id))
    }

    /// The memories of a tier, by importance (highest first), then most
    /// recently updated, then id; at most `limit`.
    pub fn by_tier(&self, tier: MemoryTier, limit: usize) -> Result<Vec<ContinuumMemory>> {
        self.retrieve(&[tier], limit, 0.0)
    }

    /// Memories of the given tiers (all tiers if empty) with importance at
    /// least `min_importance`, by importance (highest first), then most
    /// recently updated; at most `limit`.
    pub fn retrieve(
        &self,
        tiers: &[MemoryTier],
        limit: usize,
        min_importance: f64,
    ) -> Result<Vec<ContinuumMemory>> {
        self.db.read_op(
            "continuum_retrieve",
            || format!("tiers={tiers:?} limit={limit}"),
            |r| {
                let tiers: &[MemoryTier] = if tiers.is_empty() {
                    &MemoryTier::ALL
                } else {
                    tiers
                };
                let mut out = Vec::new();
                for t in tiers {
                    let rows: Vec<ContinuumMemory> = r.scan_index(
                        ContinuumMemory::idx_continuum_tier_importance,
                        KeyRange::prefix(t.as_str()),
                        Page::default(),
                    )?;
                    out.extend(
                        rows.into_iter()
                            .filter(|m| m.importance.unwrap_or(0.0) >= min_importance),
                    );
                }
                // `(importance DESC, updated_at DESC)` then id: the
                // original's retrieval order.
                Ok(newest(
                    out,
                    limit,
                    |m| {
                        let importance = Real(m.importance.unwrap_or(0.0));
                        (importance, instant(m.updated_at.as_deref()))
                    },
                    |a, b| a.id.cmp(&b.id),
                ))
            },
        )
    }

    /// The most recently updated memories of a tier, newest first.
    pub fn recent_in_tier(&self, tier: MemoryTier, limit: usize) -> Result<Vec<ContinuumMemory>> {
        self.db
            .op("ContinuumStore.recent_in_tier", String::new, || {
                self.db.read()?.scan_index(
                    ContinuumMemory::idx_continuum_tier_updated,
                    KeyRange::prefix(tier.as_str()),
                    Page::first(limit).reversed(),
                )
            })
    }

    /// Number of memories per tier (every tier present, possibly 0).
    pub fn tier_counts(&self) -> Result<BTreeMap<MemoryTier, u64>> {
        self.db
            .read_op("ContinuumStore.tier_counts", String::new, |r| {
                let mut out = BTreeMap::new();
                for t in MemoryTier::ALL {
                    let n = r.count_index(
                        ContinuumMemory::idx_continuum_tier,
                        KeyRange::prefix(t.as_str()),
                    )?;
                    out.insert(t, n);
                }
                Ok(out)
            })
    }

    /// Number of live memories.
    pub fn count(&self) -> Result<u64> {
        self.db.read_op("ContinuumStore.count", String::new, |r| {
            r.count::<ContinuumMemory>()
        })
    }

    /// A memory's tier transitions, oldest first.
    pub fn transitions(&self, memory_id: &str) -> Result<Vec<TierTransition>> {
        self.db
            .read_op("ContinuumStore.transitions", String::new, |r| {
                let mut rows: Vec<TierTransition> = r.find(
                    TierTransition::idx_tier_transitions_memory,
                    memory_id,
                    Page::default(),
                )?;
                rows.sort_by_key(|t| t.id);
                Ok(rows)
            })
    }
}

/// Moves `id` to `to(current)`; `None` when there is nowhere to go.
fn move_tier(
    w: &mut Writer<'_>,
    id: &str,
    to: impl FnOnce(MemoryTier) -> Option<MemoryTier>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<(MemoryTier, MemoryTier)>> {
    let mut row = w
        .get::<ContinuumMemory>(id)?
        .ok_or_else(|| not_found("continuum_memory", id))?;
    let from = MemoryTier::parse(&row.tier)?;
    let Some(target) = to(from).filter(|t| *t != from) else {
        return Ok(None);
    };
    let now = time::format_iso(now);
    row.tier = target.as_str().into();
    row.last_promotion_at = Some(now.clone());
    row.updated_at = Some(now.clone());
    w.update(&row)?;
    let tid = w.next_id::<TierTransition>()?;
    w.insert(&TierTransition {
        id: tid,
        memory_id: id.into(),
        from_tier: from.as_str().into(),
        to_tier: target.as_str().into(),
        reason: Some(reason.into()),
        surprise_score: row.surprise_score,
        created_at: Some(now),
        extra: Default::default(),
    })?;
    Ok(Some((from, target)))
}

fn delete_memory(
    w: &mut Writer<'_>,
    id: &str,
    archive: bool,
    reason: &str,
    force: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(row) = w.get::<ContinuumMemory>(id)? else {
        return Ok(false);
    };
    if row.red_line.unwrap_or(false) && !force {
        return Err(Error::InvalidArgument(format!(
            "memory {id:?} is red-line protected ({}); pass force to delete it",
            row.red_line_reason.as_deref().unwrap_or("")
        )));
    }
    if archive {
        w.upsert(&ContinuumMemoryArchive {
            id: row.id.clone(),
            tier: row.tier.clone(),
            content: row.content.clone(),
            importance: row.importance,
            surprise_score: row.surprise_score,
            consolidation_score: row.consolidation_score,
            update_count: row.update_count,
            success_count: row.success_count,
            failure_count: row.failure_count,
            semantic_centroid: row.semantic_centroid.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
            archived_at: Some(time::format_iso(now)),
            archive_reason: Some(reason.into()),
            metadata: row.metadata.clone(),
            extra: Default::default(),
        })?;
    }
    w.delete::<ContinuumMemory>(id)?;
    Ok(true)
}
