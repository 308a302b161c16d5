//! `cleanup`: the retention rules of DATABASE.md ("Data Retention").
//!
//! * Audit events older than `ARAGORA_AUDIT_RETENTION_DAYS` (default 90)
//!   are deleted from every audit table: `audit_log` (users), and
//!   `audit_events`, `audit_store_log` (audit). The cutoff compares ISO
//!   timestamps as strings, as the original does.
//! * Usage events are aggregated into `usage_summary`, then raw events
//!   older than [`USAGE_RETENTION_DAYS`] are pruned; their counts stay in the
//!   summary ([`UsageStore::prune`]).
//! * Share links whose expiry has passed, and revoked tokens whose own
//!   expiry has passed (they can no longer be presented), are deleted.
//!
//! Files that do not exist are skipped, never created. A dry run counts
//! through the same index ranges that the deletion uses, on files opened
//! read-only (it writes nothing, not even redb's header).

use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::Result;
use crate::schema::audit_events::{AuditEvent, AuditStoreEntry};
use crate::schema::share_links::ShareLink;
use crate::schema::tokens::BlacklistedToken;
use crate::schema::users::{AuditEntry, UsageEvent};
use crate::store::{AuditLog, ShareLinkStore, TokenBlacklist, UsageStore};
use crate::table::Read;
use crate::table::{Index, KeyRange, Page, Row, Value};
use crate::time;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::ops::Bound;

/// Raw usage events are kept this long (DATABASE.md: "raw events older
/// than 90 days are pruned").
pub const USAGE_RETENTION_DAYS: u32 = 90;

/// What went (or would go) from one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The table.
    pub table: &'static str,
    /// The rule applied.
    pub rule: String,
    /// Rows removed (or that would be).
    pub rows: u64,
}

/// Applies every retention rule at `now`; with `dry_run` only counts.
pub fn cleanup(config: &Config, now: DateTime<Utc>, dry_run: bool) -> Result<Vec<Removed>> {
    let mut out = Vec::new();
    // A store on PostgreSQL is always there; an embedded one only once its
    // file exists (a retention run creates none).
    let exists = |s: Store| -> Result<bool> {
        let target = DbTarget::Store(s);
        Ok(
            config.backend.kind_for(target) == crate::config::BackendKind::Postgres
                || config.get_db_path(target)?.path.exists(),
        )
    };
    let days = config.audit_retention_days;
    let cutoff = time::format_iso(now - chrono::Duration::days(i64::from(days)));
    let audit_range = AuditLog::before(&cutoff);
    let audit_rule = format!("timestamp before {cutoff} (ARAGORA_AUDIT_RETENTION_DAYS={days})");
    let epoch = now.timestamp_millis() as f64 / 1000.0;
    // The stores that expire rows by their clock run on one fixed at `epoch`.
    let at_now = config.clone().with_clock(time::Clock::fixed(epoch));
    // A dry run only reads: the files are opened read-only.
    let open = |s: Store| -> Result<Database> {
        let target = DbTarget::Store(s);
        if dry_run {
            Database::open_target_read_only(config, target)
        } else {
            Database::open(config, target)
        }
    };
    if exists(Store::Users)? {
        let db = open(Store::Users)?;
        let rows = if dry_run {
            count(&db, AuditEntry::idx_audit_timestamp, &audit_range)?
        } else {
            AuditLog::open(config)?.delete_before(&cutoff)?
        };
        out.push(removed::<AuditEntry>(&audit_rule, rows));
        let usage_days = USAGE_RETENTION_DAYS;
        let usage_cut = now - chrono::Duration::days(i64::from(usage_days));
        let rows = if dry_run {
            let mut n = 0;
            db.read()?.scan_raw(
                UsageEvent::DEF,
                &KeyRange::all(),
                Page::default(),
                |k, v| {
                    let e = UsageEvent::decode(k, v)?;
                    n += u64::from(time::parse(&e.timestamp).is_some_and(|t| t < usage_cut));
                    Ok(true)
                },
            )?;
            n
        } else {
            UsageStore::open(config)?
                .prune(now, usage_days)?
                .pruned_rows
        };
        out.push(removed::<UsageEvent>(
            &format!("aggregated into usage_summary, then timestamp older than {usage_days} days"),
            rows,
        ));
    }
    if exists(Store::Audit)? {
        let db = open(Store::Audit)?;
        let rows = expire(&db, AuditEvent::idx_audit_timestamp, &audit_range, dry_run)?;
        out.push(removed::<AuditEvent>(&audit_rule, rows));
        let rows = expire(
            &db,
            AuditStoreEntry::idx_audit_timestamp,
            &audit_range,
            dry_run,
        )?;
        out.push(removed::<AuditStoreEntry>(&audit_rule, rows));
    }
    if exists(Store::ShareLinks)? {
        let db = open(Store::ShareLinks)?;
        let range = KeyRange::between(
            Bound::Excluded(Value::Null),
            Bound::Excluded(Value::Real(epoch)),
        );
        let rows = if dry_run {
            count(&db, ShareLink::idx_share_links_expires, &range)?
        } else {
            ShareLinkStore::open(&at_now)?.cleanup_expired()?
        };
        out.push(removed::<ShareLink>("expires_at has passed", rows));
    }
    if exists(Store::TokenBlacklist)? {
        let db = open(Store::TokenBlacklist)?;
        let range = KeyRange::between(Bound::Unbounded, Bound::Excluded(epoch));
        let rows = if dry_run {
            count(&db, BlacklistedToken::idx_blacklist_expires, &range)?
        } else {
            TokenBlacklist::open(&at_now)?.cleanup_expired()?
        };
        out.push(removed::<BlacklistedToken>(
            "the token's own expiry has passed",
            rows,
        ));
    }
    Ok(out)
}

fn removed<R: Row>(rule: &str, rows: u64) -> Removed {
    Removed {
        table: R::DEF.name,
        rule: rule.into(),
        rows,
    }
}

fn count<R: Row, K>(db: &Database, index: Index<R, K>, range: &KeyRange) -> Result<u64> {
    db.read()?.count_index(index, range.clone())
}

/// Deletes (or counts) the rows of `R` within `range` of `index`, in one
/// write transaction (for tables without a store of their own).
fn expire<R: Row, K>(
    db: &Database,
    index: Index<R, K>,
    range: &KeyRange,
    dry_run: bool,
) -> Result<u64> {
    if dry_run {
        return count(db, index, range);
    }
    db.write(|w| w.delete_in(index, range))
}
