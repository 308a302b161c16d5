//! `AuditLog`: the append-only audit trail in `users.db` (the original's
//! `UserStore.log_audit_event` and `AuditStore` in
//! `aragora/storage/audit_store.py`, whose `cleanup_old_entries` keeps 90
//! days by default).
//!
//! There is no update or single-row delete: events are appended, queried,
//! exported, and removed only by retention. Queries pick the index that
//! fits: user, organization or action (each ordered by time), else time.

use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::schema::users::AuditEntry;
use crate::store::query::time_range;
use crate::table::Read;
use crate::table::{IndexDef, KeyRange, Page, Reader, Row};
use crate::time;
use std::io::Write;

/// A new event.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// What happened, e.g. `user.login`.
    pub action: String,
    /// The kind of thing acted on.
    pub resource_type: Option<String>,
    /// Its id.
    pub resource_id: Option<String>,
    /// Who did it.
    pub user_id: Option<String>,
    /// In which organization.
    pub org_id: Option<String>,
    /// JSON of the value before.
    pub old_value: Option<String>,
    /// JSON of the value after.
    pub new_value: Option<String>,
    /// JSON object of anything else.
    pub metadata: Option<String>,
    /// Client address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Event time; now if `None`.
    pub timestamp: Option<String>,
}

impl AuditEvent {
    /// The stored row of this event under `id`; time defaults to now and
    /// metadata to `{}`, as the original does.
    fn into_entry(self, id: i64) -> AuditEntry {
        AuditEntry {
            id,
            timestamp: self.timestamp.unwrap_or_else(time::now_iso),
            user_id: self.user_id,
            org_id: self.org_id,
            action: self.action,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            details: None,
            ip_address: self.ip_address,
            user_agent: self.user_agent,
            old_value: self.old_value,
            new_value: self.new_value,
            metadata: Some(self.metadata.unwrap_or_else(|| "{}".into())),
            extra: Default::default(),
        }
    }
}

/// A query; all given filters must hold. `since` is inclusive, `until` exclusive.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this user's events.
    pub user_id: Option<String>,
    /// Only this organization's events.
    pub org_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// At or after this timestamp.
    pub since: Option<String>,
    /// Before this timestamp.
    pub until: Option<String>,
    /// Which rows, in time order (reverse = newest first).
    pub page: Page,
}

/// The audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    db: Database,
    retention_days: u32,
}

impl AuditLog {
    /// Opens the users database; retention comes from `ARAGORA_AUDIT_RETENTION_DAYS`.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(AuditLog {
            db: Database::open(config, DbTarget::Store(Store::Users))?,
            retention_days: config.audit_retention_days,
        })
    }

    /// Appends an event; returns its id.
    pub fn log_event(&self, e: AuditEvent) -> Result<i64> {
        let action = e.action.clone();
        self.db.write_op(
            "log_audit_event",
            || format!("action={action}"),
            |w| {
                let id = w.next_id::<AuditEntry>()?;
                let entry = e.clone().into_entry(id);
                w.insert(&entry)?;
                Ok(id)
            },
        )
    }

    /// Appends many events in one transaction (bulk loads, imports).
    pub fn log_events(&self, events: Vec<AuditEvent>) -> Result<Vec<i64>> {
        self.db.write_op("AuditLog.log_events", String::new, |w| {
            let first = w.next_id::<AuditEntry>()?;
            let rows: Vec<AuditEntry> = events
                .iter()
                .cloned()
                .zip(first..)
                .map(|(e, id)| e.into_entry(id))
                .collect();
            w.insert_many(&rows)?;
            Ok(rows.iter().map(|r| r.id).collect())
        })
    }

    /// Events matching a query, in time order.
    pub fn query(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.db.read_op(
            "get_audit_log",
            || format!("{q:?}"),
            |r| {
                let mut out = Vec::new();
                visit(r, q, |e| {
                    out.push(e);
                    Ok(true)
                })?;
                Ok(out)
            },
        )
    }

    /// Number of events matching a query (ignores its page).
    pub fn count(&self, q: &AuditQuery) -> Result<u64> {
        self.db.read_op("AuditLog.count", String::new, |r| {
            let mut all = q.clone();
            all.page = Page::default();
            let mut n = 0;
            visit(r, &all, |_| {
                n += 1;
                Ok(true)
            })?;
            Ok(n)
        })
    }

    /// Writes matching events as JSON lines, one object per event with every
    /// column. Returns the number written.
    pub fn export_jsonl(&self, q: &AuditQuery, out: &mut dyn Write) -> Result<u64> {
        // Not `read_op`: this writes as it reads, so it must run once.
        self.db.op("AuditLog.export_jsonl", String::new, || {
            let r = self.db.read()?;
            let mut n = 0;
            visit(&r, q, |e| {
                let mut obj = serde_json::Map::new();
                for (i, col) in AuditEntry::DEF.columns.iter().enumerate() {
                    obj.insert(col.name.into(), e.value(i).to_json());
                }
                serde_json::to_writer(&mut *out, &obj)
                    .map_err(|err| Error::InvalidArgument(err.to_string()))?;
                out.write_all(b"\n")
                    .map_err(|err| Error::io("write", "<export>", err))?;
                n += 1;
                Ok(true)
            })?;
            Ok(n)
        })
    }

    /// Writes matching events as CSV (RFC 4180) with a header row of every
    /// column. NULL is an empty field. Returns the number written.
    pub fn export_csv(&self, q: &AuditQuery, out: &mut dyn Write) -> Result<u64> {
        self.db.op("AuditLog.export_csv", String::new, || {
            let io = |err| Error::io("write", "<export>", err);
            let header: Vec<&str> = AuditEntry::DEF.columns.iter().map(|c| c.name).collect();
            writeln!(out, "{}", header.join(",")).map_err(io)?;
            let r = self.db.read()?;
            let mut n = 0;
            visit(&r, q, |e| {
                let fields: Vec<String> = (0..header.len())
                    .map(|i| e.value(i).to_csv_field())
                    .collect();
                writeln!(out, "{}", fields.join(",")).map_err(io)?;
                n += 1;
                Ok(true)
            })?;
            Ok(n)
        })
    }

    /// Deletes events older than `days` days; returns how many.
    pub fn cleanup_old_entries(&self, days: u32) -> Result<u64> {
        let cutoff = time::format_iso(self.db.now() - chrono::Duration::days(i64::from(days)));
        self.delete_before(&cutoff)
    }

    /// Applies the configured retention (`ARAGORA_AUDIT_RETENTION_DAYS`, default 90).
    pub fn apply_retention(&self) -> Result<u64> {
        self.cleanup_old_entries(self.retention_days)
    }

    /// Deletes events whose time is before `cutoff`. Returns how many.
    /// The original compares the text (`timestamp < ?`); here instants
    /// are compared, whatever shape each is written in, and a row whose
    /// time cannot be read is kept ([`time::EARLIEST`]).
    pub fn delete_before(&self, cutoff: &str) -> Result<u64> {
        self.db.op(
            "cleanup_old_entries",
            || format!("before={cutoff}"),
            || {
                let range = Self::before(cutoff);
                self.db
                    .write_retrying(|w| w.delete_in(AuditEntry::idx_audit_timestamp, &range))
            },
        )
    }

    /// The range of an audit table's timestamp index that retention
    /// deletes: times before `cutoff`.
    pub fn before(cutoff: &str) -> KeyRange {
        time_range(None, Some(time::EARLIEST), Some(cutoff))
    }
}

/// Runs a query against a snapshot, choosing the best index.
fn visit(r: &Reader, q: &AuditQuery, mut f: impl FnMut(AuditEntry) -> Result<bool>) -> Result<()> {
    let (idx, lead): (&IndexDef, Option<&str>) = if let Some(u) = &q.user_id {
        (AuditEntry::idx_audit_user.def(), Some(u))
    } else if let Some(o) = &q.org_id {
        (AuditEntry::idx_audit_org.def(), Some(o))
    } else if let Some(a) = &q.action {
        (AuditEntry::idx_audit_action.def(), Some(a))
    } else {
        (AuditEntry::idx_audit_timestamp.def(), None)
    };
    let range = time_range(lead, q.since.as_deref(), q.until.as_deref());
    let mut skipped = 0;
    let mut taken = 0;
    let limit = q.page.limit.unwrap_or(usize::MAX);
    let scan = Page {
        reverse: q.page.reverse,
        ..Page::default()
    };
    r.each::<AuditEntry>(Some(idx), &range, scan, |e| {
        let keep = q
            .user_id
            .as_ref()
            .is_none_or(|u| e.user_id.as_ref() == Some(u))
            && q.org_id
                .as_ref()
                .is_none_or(|o| e.org_id.as_ref() == Some(o))
            && q.action.as_ref().is_none_or(|a| &e.action == a);
        if !keep {
            return Ok(true);
        }
        if skipped < q.page.offset {
            skipped += 1;
            return Ok(true);
        }
        if taken >= limit {
            return Ok(false);
        }
        taken += 1;
        f(e)
    })
}
