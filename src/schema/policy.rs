//! Compliance policies (`compliance/policy_store.db`, `PolicyStore` in the
//! original's `aragora/compliance/policy_store.py`).
//!
//! Owner: [`Store::PolicyStore`], its own file (in the `compliance/`
//! subdirectory) in both modes. One shape each. `enabled` is a 0/1 flag;
//! `rules_json` is a JSON list, `metadata_json` a JSON object;
//! `policy_audit.old_value`/`new_value` are kept as text.
//!
//! No foreign keys: the original declares none (`violations.policy_id` and
//! `policy_audit.policy_id` name policies, but violations can come from
//! policies that no longer exist and the audit outlives them). No
//! additions.

use crate::config::{DbTarget, Store};
use crate::table;

const POLICY_DB: DbTarget = DbTarget::Store(Store::PolicyStore);

table! {
    /// A compliance policy in a workspace.
    pub struct Policy as POLICIES {
        name: "policies",
        owner: POLICY_DB,
        version: 1,
        columns: {
            id: String => Text,
            name: String => Text,
            description: Option<String> => Text,
            framework_id: String => Text,
            workspace_id: String => Text = "'default'",
            vertical_id: String => Text,
            level: Option<String> => Text = "'recommended'",
            enabled: Option<bool> => Bool = "1" [pg as Integer],
            rules_json: Option<String> => Json = "'[]'" [pg as Text],
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP" [pg as Text],
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP" [pg as Text],
            created_by: Option<String> => Text,
            metadata_json: Option<String> => Json = "'{}'" [pg as Text],
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_policies_workspace (workspace_id),
            index idx_policies_framework (framework_id),
            index idx_policies_vertical (vertical_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// A detected policy violation.
    pub struct Violation as VIOLATIONS {
        name: "violations",
        owner: POLICY_DB,
        version: 1,
        columns: {
            id: String => Text,
            policy_id: Option<String> => Text,
            rule_id: String => Text,
            rule_name: Option<String> => Text,
            framework_id: String => Text,
            vertical_id: String => Text,
            workspace_id: String => Text = "'default'",
            severity: Option<String> => Text = "'medium'",
            status: Option<String> => Text = "'open'",
            description: Option<String> => Text,
            source: Option<String> => Text,
            detected_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP" [pg as Text],
            resolved_at: Option<String> => Timestamp [pg as Text],
            resolved_by: Option<String> => Text,
            resolution_notes: Option<String> => Text,
            metadata_json: Option<String> => Json = "'{}'" [pg as Text],
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_violations_workspace (workspace_id),
            index idx_violations_framework (framework_id),
            index idx_violations_status (status),
            index idx_violations_severity (severity),
            index idx_violations_policy (policy_id),
        },
        foreign_keys: {},
    }
}

table! {
    /// A change to a policy.
    pub struct PolicyAudit as POLICY_AUDIT {
        name: "policy_audit",
        owner: POLICY_DB,
        version: 1,
        columns: {
            id: String => Text,
            policy_id: String => Text,
            action: String => Text,
            changed_by: Option<String> => Text,
            changed_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP" [pg as Text],
            old_value: Option<String> => Text,
            new_value: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_audit_policy (policy_id),
        },
        foreign_keys: {},
    }
}
