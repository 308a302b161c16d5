//! `PolicyStore`: compliance policies, their audit trail and violations
//! (`compliance/policy_store.db`; the original's
//! `aragora/compliance/policy_store.py`).
//!
//! Every create, update (toggle included) and delete of a policy writes a
//! `policy_audit` row in the same transaction: action `create`, `update`
//! or `delete`, `old_value`/`new_value` = the whole policy before/after as
//! Python-style JSON (rules and metadata embedded as parsed JSON). Times
//! are UTC-aware ISO (`datetime.now(timezone.utc).isoformat()`).
//!
//! Lists are newest first (`created_at`/`detected_at` descending, then id)
//! and read through the most selective declared index among the filters
//! given; the remaining filters and the page are applied in memory.

use super::users::new_uuid;
use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::pyjson::python_json;
use crate::schema::policy::{Policy, PolicyAudit, Violation};
use crate::store::query::{Order, by_time, instant, paginate};
use crate::table::Read;
use crate::table::{KeyRange, Page, Reader, Writer};
use crate::time;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Violation statuses after which `resolved_at` is set.
pub const RESOLVED_STATUSES: [&str; 2] = ["resolved", "false_positive"];

/// Filters of [`PolicyStore::list_policies`]; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct PolicyFilter {
    /// Only this workspace.
    pub workspace_id: Option<String>,
    /// Only this vertical.
    pub vertical_id: Option<String>,
    /// Only this framework.
    pub framework_id: Option<String>,
    /// Only enabled policies.
    pub enabled_only: bool,
}

/// Changes to a policy; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New level (`mandatory`, `recommended`, ...).
    pub level: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New rules (a JSON list).
    pub rules: Option<Value>,
    /// New metadata (a JSON object).
    pub metadata: Option<Value>,
}

/// Filters of [`PolicyStore::list_violations`]; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct ViolationFilter {
    /// Only this workspace.
    pub workspace_id: Option<String>,
    /// Only this vertical.
    pub vertical_id: Option<String>,
    /// Only this framework.
    pub framework_id: Option<String>,
    /// Only this policy.
    pub policy_id: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
}

impl ViolationFilter {
    fn holds(&self, v: &Violation) -> bool {
        fn eq(want: &Option<String>, have: Option<&str>) -> bool {
            want.as_deref().is_none_or(|w| have == Some(w))
        }
        eq(&self.workspace_id, Some(&v.workspace_id))
            && eq(&self.vertical_id, Some(&v.vertical_id))
            && eq(&self.framework_id, Some(&v.framework_id))
            && eq(&self.policy_id, v.policy_id.as_deref())
            && eq(&self.status, v.status.as_deref())
            && eq(&self.severity, v.severity.as_deref())
    }
}

/// Compliance policies and violations.
#[derive(Debug, Clone)]
pub struct PolicyStore {
    db: Database,
}

fn parse_json(what: &str, text: Option<&str>, object: bool) -> Result<Value> {
    let default = if object { "{}" } else { "[]" };
    let v: Value = serde_json::from_str(text.unwrap_or(default))
        .map_err(|e| Error::InvalidArgument(format!("{what} is not JSON: {e}")))?;
    if (object && !v.is_object()) || (!object && !v.is_array()) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be a JSON {}",
            if object { "object" } else { "list" }
        )));
    }
    Ok(v)
}

/// The policy as the JSON object kept in `policy_audit`.
pub fn policy_json(p: &Policy) -> String {
    let mut m = Map::new();
    m.insert("id".into(), p.id.clone().into());
    m.insert("name".into(), p.name.clone().into());
    m.insert("description".into(), p.description.clone().into());
    m.insert("framework_id".into(), p.framework_id.clone().into());
    m.insert("workspace_id".into(), p.workspace_id.clone().into());
    m.insert("vertical_id".into(), p.vertical_id.clone().into());
    m.insert("level".into(), p.level.clone().into());
    m.insert("enabled".into(), p.enabled.into());
    let rules = parse_json("rules_json", p.rules_json.as_deref(), false)
        .unwrap_or_else(|_| p.rules_json.clone().into());
    m.insert("rules".into(), rules);
    m.insert("created_at".into(), p.created_at.clone().into());
    m.insert("updated_at".into(), p.updated_at.clone().into());
    m.insert("created_by".into(), p.created_by.clone().into());
    let meta = parse_json("metadata_json", p.metadata_json.as_deref(), true)
        .unwrap_or_else(|_| p.metadata_json.clone().into());
    m.insert("metadata".into(), meta);
    python_json(&Value::Object(m), false)
}

fn audit(
    w: &mut Writer<'_>,
    policy_id: &str,
    action: &str,
    changed_by: Option<&str>,
    old: Option<&Policy>,
    new: Option<&Policy>,
    now: String,
) -> Result<()> {
    w.insert(&PolicyAudit {
        id: new_uuid(),
        policy_id: policy_id.to_string(),
        action: action.to_string(),
        changed_by: changed_by.map(str::to_string),
        changed_at: Some(now),
        old_value: old.map(policy_json),
        new_value: new.map(policy_json),
        extra: Default::default(),
    })
}

impl PolicyStore {
    /// Opens `compliance/policy_store.db`.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(PolicyStore {
            db: Database::open(config, DbTarget::Store(Store::PolicyStore))?,
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }

    // ----- policies --------------------------------------------------------

    /// Creates a policy. An empty id gets a fresh UUID; missing
    /// `created_at`/`updated_at`, `level`, `enabled`, `rules_json` and
    /// `metadata_json` get the column defaults (times = now). `rules_json`
    /// must be a JSON list and `metadata_json` a JSON object. Writes a
    /// `create` audit row by `created_by`.
    pub fn create_policy(&self, policy: Policy) -> Result<Policy> {
        let mut p = policy;
        if p.id.is_empty() {
            p.id = new_uuid();
        }
        let now = self.db.now_iso();
        p.created_at.get_or_insert_with(|| now.clone());
        p.updated_at.get_or_insert(now);
        p.level.get_or_insert_with(|| "recommended".into());
        p.enabled.get_or_insert(true);
        p.rules_json.get_or_insert_with(|| "[]".into());
        p.metadata_json.get_or_insert_with(|| "{}".into());
        parse_json("rules_json", p.rules_json.as_deref(), false)?;
        parse_json("metadata_json", p.metadata_json.as_deref(), true)?;
        let id = p.id.clone();
        self.db.op(
            "policy_create",
            || format!("id={id}"),
            || {
                self.db.write_retrying(|w| {
                    w.insert(&p)?;
                    audit(
                        w,
                        &p.id,
                        "create",
                        p.created_by.as_deref(),
                        None,
                        Some(&p),
                        self.db.now_iso(),
                    )
                })?;
                Ok(p)
            },
        )
    }

    /// A policy by id.
    pub fn get_policy(&self, id: &str) -> Result<Option<Policy>> {
        self.db
            .read_op("PolicyStore.get_policy", String::new, |r| r.get(id))
    }

    /// Policies matching the filter, newest first, then paged.
    pub fn list_policies(&self, filter: &PolicyFilter, page: Page) -> Result<Vec<Policy>> {
        self.db
            .read_op("PolicyStore.list_policies", String::new, |r| {
                let all: Vec<Policy> = if let Some(ws) = &filter.workspace_id {
                    r.find(Policy::idx_policies_workspace, ws.as_str(), Page::default())?
                } else if let Some(f) = &filter.framework_id {
                    r.find(Policy::idx_policies_framework, f.as_str(), Page::default())?
                } else if let Some(v) = &filter.vertical_id {
                    r.find(Policy::idx_policies_vertical, v.as_str(), Page::default())?
                } else {
                    r.scan(KeyRange::all(), Page::default())?
                };
                let eq =
                    |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
                let out: Vec<Policy> = all
                    .into_iter()
                    .filter(|p| eq(&filter.workspace_id, &p.workspace_id))
                    .filter(|p| eq(&filter.framework_id, &p.framework_id))
                    .filter(|p| eq(&filter.vertical_id, &p.vertical_id))
                    .filter(|p| !filter.enabled_only || p.enabled.unwrap_or(true))
                    .collect();
                let out = by_time(
                    out,
                    Order::Newest,
                    |p| instant(p.created_at.as_deref()),
                    |a, b| a.id.cmp(&b.id),
                );
                Ok(paginate(out, page))
            })
    }

    /// Applies changes to a policy, sets `updated_at`, and writes an
    /// `update` audit row with the policy before and after. `None` if
    /// there is no such policy.
    pub fn update_policy(
        &self,
        id: &str,
        changes: &PolicyUpdate,
        changed_by: Option<&str>,
    ) -> Result<Option<Policy>> {
        if let Some(rules) = &changes.rules
            && !rules.is_array()
        {
            return Err(Error::InvalidArgument(
                "policy rules must be a JSON list".into(),
            ));
        }
        if let Some(meta) = &changes.metadata
            && !meta.is_object()
        {
            return Err(Error::InvalidArgument(
                "policy metadata must be a JSON object".into(),
            ));
        }
        self.db.write_op(
            "policy_update",
            || format!("id={id}"),
            |w| {
                let Some(old) = w.get::<Policy>(id)? else {
                    return Ok(None);
                };
                let mut p = old.clone();
                if let Some(v) = &changes.name {
                    p.name = v.clone();
                }
                if let Some(v) = &changes.description {
                    p.description = Some(v.clone());
                }
                if let Some(v) = &changes.level {
                    p.level = Some(v.clone());
                }
                if let Some(v) = changes.enabled {
                    p.enabled = Some(v);
                }
                if let Some(v) = &changes.rules {
                    p.rules_json = Some(python_json(v, false));
                }
                if let Some(v) = &changes.metadata {
                    p.metadata_json = Some(python_json(v, false));
                }
                p.updated_at = Some(self.db.now_iso());
                w.update(&p)?;
                audit(
                    w,
                    id,
                    "update",
                    changed_by,
                    Some(&old),
                    Some(&p),
                    self.db.now_iso(),
                )?;
                Ok(Some(p))
            },
        )
    }

    /// Enables or disables a policy (an update, audited as such).
    pub fn toggle_policy(
        &self,
        id: &str,
        enabled: bool,
        changed_by: Option<&str>,
    ) -> Result<Option<Policy>> {
        let changes = PolicyUpdate {
            enabled: Some(enabled),
            ..PolicyUpdate::default()
        };
        self.update_policy(id, &changes, changed_by)
    }

    /// Deletes a policy and writes a `delete` audit row with its last
    /// state. Its violations and audit history stay. False if unknown.
    pub fn delete_policy(&self, id: &str, deleted_by: Option<&str>) -> Result<bool> {
        self.db.write_op(
            "policy_delete",
            || format!("id={id}"),
            |w| {
                let Some(old) = w.get::<Policy>(id)? else {
                    return Ok(false);
                };
                w.delete::<Policy>(id)?;
                audit(
                    w,
                    id,
                    "delete",
                    deleted_by,
                    Some(&old),
                    None,
                    self.db.now_iso(),
                )?;
                Ok(true)
            },
        )
    }

    /// The audit trail of a policy, oldest first.
    pub fn policy_history(&self, policy_id: &str) -> Result<Vec<PolicyAudit>> {
        self.db.op("PolicyStore.policy_history", String::new, || {
            let rows: Vec<PolicyAudit> =
                self.db
                    .read()?
                    .find(PolicyAudit::idx_audit_policy, policy_id, Page::default())?;
            Ok(by_time(
                rows,
                Order::Oldest,
                |a| instant(a.changed_at.as_deref()),
                |a, b| {
                    a.changed_at
                        .cmp(&b.changed_at)
                        .then_with(|| a.id.cmp(&b.id))
                },
            ))
        })
    }

    // ----- violations ------------------------------------------------------

    /// Records a violation. An empty id gets a fresh UUID; missing
    /// `severity` (`medium`), `status` (`open`), `detected_at` (now) and
    /// `metadata_json` (`{}`) get the column defaults.
    pub fn create_violation(&self, violation: Violation) -> Result<Violation> {
        let mut v = violation;
        if v.id.is_empty() {
            v.id = new_uuid();
        }
        v.severity.get_or_insert_with(|| "medium".into());
        v.status.get_or_insert_with(|| "open".into());
        v.detected_at.get_or_insert_with(time::now_iso);
        v.metadata_json.get_or_insert_with(|| "{}".into());
        parse_json("metadata_json", v.metadata_json.as_deref(), true)?;
        let id = v.id.clone();
        self.db.op(
            "violation_create",
            || format!("id={id}"),
            || {
                self.db.write_retrying(|w| w.insert(&v))?;
                Ok(v)
            },
        )
    }

    /// A violation by id.
    pub fn get_violation(&self, id: &str) -> Result<Option<Violation>> {
        self.db
            .read_op("PolicyStore.get_violation", String::new, |r| r.get(id))
    }

    fn matching_violations(&self, filter: &ViolationFilter) -> Result<Vec<Violation>> {
        let r = self.db.read()?;
        let all: Vec<Violation> = if let Some(p) = &filter.policy_id {
            r.find(
                Violation::idx_violations_policy,
                p.as_str(),
                Page::default(),
            )?
        } else if let Some(s) = &filter.status {
            r.find(
                Violation::idx_violations_status,
                s.as_str(),
                Page::default(),
            )?
        } else if let Some(ws) = &filter.workspace_id {
            r.find(
                Violation::idx_violations_workspace,
                ws.as_str(),
                Page::default(),
            )?
        } else if let Some(f) = &filter.framework_id {
            r.find(
                Violation::idx_violations_framework,
                f.as_str(),
                Page::default(),
            )?
        } else if let Some(s) = &filter.severity {
            r.find(
                Violation::idx_violations_severity,
                s.as_str(),
                Page::default(),
            )?
        } else {
            r.scan(KeyRange::all(), Page::default())?
        };
        Ok(all.into_iter().filter(|v| filter.holds(v)).collect())
    }

    /// Violations matching the filter, newest first, then paged.
    pub fn list_violations(&self, filter: &ViolationFilter, page: Page) -> Result<Vec<Violation>> {
        self.db.op("PolicyStore.list_violations", String::new, || {
            let out = by_time(
                self.matching_violations(filter)?,
                Order::Newest,
                |v| instant(v.detected_at.as_deref()),
                |a, b| a.id.cmp(&b.id),
            );
            Ok(paginate(out, page))
        })
    }

    /// Sets a violation's status. `resolved_at` becomes now for `resolved`
    /// and `false_positive` and NULL otherwise; `resolved_by` and
    /// `resolution_notes` are replaced by what is given. `None` if unknown.
    pub fn update_violation_status(
        &self,
        id: &str,
        status: &str,
        resolved_by: Option<&str>,
        notes: Option<&str>,
    ) -> Result<Option<Violation>> {
        self.db
            .op("PolicyStore.update_violation_status", String::new, || {
                if status.is_empty() {
                    return Err(Error::InvalidArgument(
                        "violation status must not be empty".into(),
                    ));
                }
                self.db.write_retrying(|w| {
                    let Some(mut v) = w.get::<Violation>(id)? else {
                        return Ok(None);
                    };
                    v.status = Some(status.to_string());
                    v.resolved_at = RESOLVED_STATUSES.contains(&status).then(time::now_iso);
                    v.resolved_by = resolved_by.map(str::to_string);
                    v.resolution_notes = notes.map(str::to_string);
                    w.update(&v)?;
                    Ok(Some(v))
                })
            })
    }

    /// Deletes a violation.
    pub fn delete_violation(&self, id: &str) -> Result<bool> {
        self.db
            .write_op("PolicyStore.delete_violation", String::new, |w| {
                w.delete::<Violation>(id)
            })
    }

    /// Number of violations per severity (NULL severity counted as
    /// `medium`, the column default), optionally restricted to a
    /// workspace, status and severity.
    pub fn count_violations(
        &self,
        workspace_id: Option<&str>,
        status: Option<&str>,
        severity: Option<&str>,
    ) -> Result<BTreeMap<String, u64>> {
        self.db.op("PolicyStore.count_violations", String::new, || {
            let filter = ViolationFilter {
                workspace_id: workspace_id.map(str::to_string),
                status: status.map(str::to_string),
                severity: severity.map(str::to_string),
                ..ViolationFilter::default()
            };
            let mut counts = BTreeMap::new();
            for v in self.matching_violations(&filter)? {
                let sev = v.severity.unwrap_or_else(|| "medium".into());
                *counts.entry(sev).or_insert(0) += 1;
            }
            Ok(counts)
        })
    }
}
