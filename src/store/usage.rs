//! Usage events: record, aggregate monthly, prune (DATABASE.md "Usage Event
//! Aggregation"; docs/ORIGINAL.md, "Where DATABASE.md and the code disagree").
//!
//! The original documents monthly aggregation and a 90-day prune but never
//! implemented either. Ours keeps one invariant so no count is ever lost:
//! for every (organization, month, event type),
//!
//! ```text
//! usage_summary.total_count == usage_summary.pruned_count + Σ live usage_events.count
//! ```
//!
//! [`UsageStore::aggregate`] recomputes `total_count` from the live rows and
//! the pruned part; [`UsageStore::prune`] aggregates first and then, in the
//! same transaction, moves each old event's count into `pruned_count`
//! before deleting it. Events whose timestamp cannot be parsed are never
//! pruned.

use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::Result;
use crate::schema::users::{UsageEvent, UsageSummary};
use crate::table::Read;
use crate::table::{KeyRange, Page, Writer};
use crate::time;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Raw events deleted.
    pub pruned_rows: u64,
    /// Sum of their counts (now kept in `usage_summary.pruned_count`).
    pub pruned_count: i64,
    /// Old-looking events kept because their timestamp could not be parsed.
    pub undated_rows: u64,
}

/// Usage events and their monthly summary, in `users.db`.
#[derive(Debug, Clone)]
pub struct UsageStore {
    db: Database,
}

type Key = (String, String, String);

impl UsageStore {
    /// Opens the users database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(UsageStore {
            db: Database::open(config, DbTarget::Store(Store::Users))?,
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Records an event now; returns its id.
    pub fn record_usage_event(
        &self,
        org_id: &str,
        event_type: &str,
        count: i64,
        metadata: Option<&str>,
    ) -> Result<i64> {
        let timestamp = self.db.now_iso();
        let timestamp = timestamp.as_str();
        self.db.write_op(
            "record_usage_event",
            || format!("org={org_id} type={event_type}"),
            |w| {
                let id = w.next_id::<UsageEvent>()?;
                w.insert(&UsageEvent {
                    id,
                    org_id: org_id.into(),
                    event_type: event_type.into(),
                    count: Some(count),
                    metadata: Some(metadata.unwrap_or("{}").into()),
                    timestamp: timestamp.into(),
                    extra: Default::default(),
                })?;
                Ok(id)
            },
        )
    }

    /// Recomputes every month's totals from the live events; returns the
    /// number of summary rows written.
    pub fn aggregate(&self) -> Result<usize> {
        self.db.op("aggregate_usage", String::new, || {
            self.db
                .write_retrying(|w| aggregate_in(w, self.db.now_iso()))
        })
    }

    /// Aggregates, then deletes events older than `days` days (relative to
    /// `now`), keeping their counts in the summary.
    pub fn prune(&self, now: DateTime<Utc>, days: u32) -> Result<PruneReport> {
        self.db.op(
            "prune_usage",
            || format!("days={days}"),
            || {
                let cutoff = now - chrono::Duration::days(i64::from(days));
                self.db.write_retrying(|w| {
                    aggregate_in(w, self.db.now_iso())?;
                    let mut report = PruneReport::default();
                    let mut moved: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
                    let pks = w.keys_in(UsageEvent::idx_usage_timestamp, &KeyRange::all())?;
                    for pk in pks {
                        let Some(e) = w.get::<UsageEvent>(crate::table::RawKey(&pk))? else {
                            continue;
                        };
                        match time::parse(&e.timestamp) {
                            Some(t) if t < cutoff => {
                                let month = t.format("%Y-%m").to_string();
                                let slot = moved
                                    .entry((e.org_id.clone(), month, e.event_type.clone()))
                                    .or_default();
                                slot.0 += e.count.unwrap_or(1);
                                slot.1 += 1;
                                report.pruned_rows += 1;
                                report.pruned_count += e.count.unwrap_or(1);
                                w.delete::<UsageEvent>(crate::table::RawKey(&pk))?;
                            }
                            Some(_) => {}
                            None => report.undated_rows += 1,
                        }
                    }
                    let now_s = self.db.now_iso();
                    for ((org, month, ty), (count, rows)) in moved {
                        let mut s = summary(w, org, month, ty)?;
                        s.pruned_count += count;
                        s.pruned_rows += rows;
                        s.updated_at = now_s.clone();
                        w.upsert(&s)?;
                    }
                    Ok(report)
                })
            },
        )
    }

    /// Monthly totals of one organization, by month then event type.
    pub fn monthly_summary(&self, org_id: &str) -> Result<Vec<UsageSummary>> {
        self.db.op("UsageStore.monthly_summary", String::new, || {
            self.db
                .read()?
                .scan(KeyRange::prefix(org_id), Page::default())
        })
    }

    /// Sum of live (not yet pruned) event counts per (org, month, type).
    pub fn live_totals(&self) -> Result<BTreeMap<Key, i64>> {
        self.db.read_op("UsageStore.live_totals", String::new, |r| {
            let events: Vec<UsageEvent> = r.scan(KeyRange::all(), Page::default())?;
            let mut out = BTreeMap::new();
            for e in events {
                let month = time::month_of(&e.timestamp).unwrap_or_else(|| "unknown".into());
                *out.entry((e.org_id, month, e.event_type)).or_default() += e.count.unwrap_or(1);
            }
            Ok(out)
        })
    }
}

/// Sets `total_count = pruned_count + live sum` for every month seen.
fn aggregate_in(w: &mut Writer<'_>, now: String) -> Result<usize> {
    let mut live: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    let pks = w.keys_in(UsageEvent::idx_usage_timestamp, &KeyRange::all())?;
    for pk in pks {
        let Some(e) = w.get::<UsageEvent>(crate::table::RawKey(&pk))? else {
            continue;
        };
        let Some(month) = time::month_of(&e.timestamp) else {
            continue;
        };
        let slot = live.entry((e.org_id, month, e.event_type)).or_default();
        slot.0 += e.count.unwrap_or(1);
        slot.1 += 1;
    }
    let n = live.len();
    for ((org, month, ty), (count, rows)) in live {
        let mut s = summary(w, org, month, ty)?;
        s.total_count = s.pruned_count + count;
        s.event_rows = s.pruned_rows + rows;
        s.updated_at = now.clone();
        w.upsert(&s)?;
    }
    Ok(n)
}

/// The summary row of (org, month, type), or a fresh zeroed one.
fn summary(w: &mut Writer<'_>, org: String, month: String, ty: String) -> Result<UsageSummary> {
    Ok(w.get::<UsageSummary>((&org, &month, &ty))?
        .unwrap_or(UsageSummary {
            org_id: org,
            month,
            event_type: ty,
            ..Default::default()
        }))
}
