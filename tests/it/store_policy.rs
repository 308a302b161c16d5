//! PolicyStore: policies with their audit trail, and violations.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::schema::policy::{Policy, Violation};
use aragora_db::store::policy::{PolicyFilter, PolicyStore, PolicyUpdate, ViolationFilter};
use aragora_db::table::Page;
use serde_json::json;

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

fn policy(id: &str, ws: &str, framework: &str, vertical: &str, created: &str) -> Policy {
    Policy {
        id: id.into(),
        name: format!("Policy {id}"),
        framework_id: framework.into(),
        workspace_id: ws.into(),
        vertical_id: vertical.into(),
        rules_json: Some(r#"[{"id": "r1", "pattern": "ssn"}]"#.into()),
        created_at: Some(created.into()),
        created_by: Some("alice".into()),
        ..Policy::default()
    }
}

#[test]
fn policies_crud_with_audit() {
    let (_d, cfg) = store_dir();
    let store = PolicyStore::open(&cfg).unwrap();
    let p1 = store
        .create_policy(policy(
            "p1",
            "default",
            "hipaa",
            "health",
            "2026-01-01T00:00:00+00:00",
        ))
        .unwrap();
    assert_eq!(p1.level.as_deref(), Some("recommended"));
    assert_eq!(p1.enabled, Some(true));
    assert_eq!(p1.metadata_json.as_deref(), Some("{}"));
    assert!(p1.updated_at.is_some());
    store
        .create_policy(policy(
            "p2",
            "default",
            "gdpr",
            "legal",
            "2026-01-02T00:00:00+00:00",
        ))
        .unwrap();
    store
        .create_policy(policy(
            "p3",
            "ws2",
            "hipaa",
            "health",
            "2026-01-03T00:00:00+00:00",
        ))
        .unwrap();
    let generated = store
        .create_policy(Policy {
            name: "generated".into(),
            ..policy("", "ws3", "sox", "finance", "2026-01-04T00:00:00+00:00")
        })
        .unwrap();
    assert_eq!(generated.id.len(), 36);
    assert!(matches!(
        store.create_policy(policy(
            "p1",
            "default",
            "x",
            "y",
            "2026-01-05T00:00:00+00:00"
        )),
        Err(Error::Unique { .. })
    ));
    let mut bad = policy("p9", "default", "x", "y", "2026-01-05T00:00:00+00:00");
    bad.rules_json = Some(r#"{"not": "a list"}"#.into());
    assert!(matches!(
        store.create_policy(bad),
        Err(Error::InvalidArgument(_))
    ));
    // The failed creates left no audit rows behind.
    assert!(store.policy_history("p9").unwrap().is_empty());
    assert_eq!(store.policy_history("p1").unwrap().len(), 1);

    let ids = |v: Vec<Policy>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let all = PolicyFilter::default();
    assert_eq!(
        ids(store.list_policies(&all, Page::default()).unwrap()),
        vec![generated.id.clone(), "p3".into(), "p2".into(), "p1".into()]
    );
    let hipaa = PolicyFilter {
        framework_id: Some("hipaa".into()),
        ..PolicyFilter::default()
    };
    assert_eq!(
        ids(store.list_policies(&hipaa, Page::default()).unwrap()),
        vec!["p3", "p1"]
    );
    let default_health = PolicyFilter {
        workspace_id: Some("default".into()),
        vertical_id: Some("health".into()),
        ..PolicyFilter::default()
    };
    assert_eq!(
        ids(store
            .list_policies(&default_health, Page::default())
            .unwrap()),
        vec!["p1"]
    );
    assert_eq!(
        ids(store.list_policies(&all, Page::first(2).skip(1)).unwrap()),
        vec!["p3", "p2"]
    );

    // Update: audit has before and after.
    let updated = store
        .update_policy(
            "p1",
            &PolicyUpdate {
                name: Some("HIPAA PHI".into()),
                level: Some("mandatory".into()),
                rules: Some(json!([{"id": "r2"}])),
                metadata: Some(json!({"owner": "compliance"})),
                ..PolicyUpdate::default()
            },
            Some("bob"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "HIPAA PHI");
    assert_eq!(updated.rules_json.as_deref(), Some(r#"[{"id": "r2"}]"#));
    assert_eq!(
        updated.metadata_json.as_deref(),
        Some(r#"{"owner": "compliance"}"#)
    );
    assert!(matches!(
        store.update_policy(
            "p1",
            &PolicyUpdate {
                rules: Some(json!({})),
                ..PolicyUpdate::default()
            },
            None
        ),
        Err(Error::InvalidArgument(_))
    ));
    assert!(
        store
            .update_policy("nope", &PolicyUpdate::default(), None)
            .unwrap()
            .is_none()
    );

    // Toggle is an audited update.
    let off = store
        .toggle_policy("p2", false, Some("carol"))
        .unwrap()
        .unwrap();
    assert_eq!(off.enabled, Some(false));
    let enabled_only = PolicyFilter {
        workspace_id: Some("default".into()),
        enabled_only: true,
        ..PolicyFilter::default()
    };
    assert_eq!(
        ids(store.list_policies(&enabled_only, Page::default()).unwrap()),
        vec!["p1"]
    );

    assert!(store.delete_policy("p1", Some("dave")).unwrap());
    assert!(!store.delete_policy("p1", Some("dave")).unwrap());
    assert!(store.get_policy("p1").unwrap().is_none());

    let history = store.policy_history("p1").unwrap();
    let actions: Vec<_> = history.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["create", "update", "delete"]);
    assert_eq!(history[0].changed_by.as_deref(), Some("alice"));
    assert!(history[0].old_value.is_none());
    let created: serde_json::Value =
        serde_json::from_str(history[0].new_value.as_deref().unwrap()).unwrap();
    assert_eq!(created["name"], "Policy p1");
    assert_eq!(created["rules"], json!([{"id": "r1", "pattern": "ssn"}]));
    let (old, new): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(history[1].old_value.as_deref().unwrap()).unwrap(),
        serde_json::from_str(history[1].new_value.as_deref().unwrap()).unwrap(),
    );
    assert_eq!(
        (old["level"].as_str(), new["level"].as_str()),
        (Some("recommended"), Some("mandatory"))
    );
    assert_eq!(history[1].changed_by.as_deref(), Some("bob"));
    assert_eq!(history[2].changed_by.as_deref(), Some("dave"));
    assert!(history[2].old_value.is_some() && history[2].new_value.is_none());
    let toggles = store.policy_history("p2").unwrap();
    assert_eq!(toggles.len(), 2);
    assert_eq!(toggles[1].action, "update");
    assert_eq!(toggles[1].changed_by.as_deref(), Some("carol"));
    assert_clean(store.db());
}

fn violation(id: &str, policy: &str, ws: &str, severity: &str, detected: &str) -> Violation {
    Violation {
        id: id.into(),
        policy_id: Some(policy.into()),
        rule_id: "r1".into(),
        rule_name: Some("No SSNs".into()),
        framework_id: "hipaa".into(),
        vertical_id: "health".into(),
        workspace_id: ws.into(),
        severity: Some(severity.into()),
        description: Some("SSN found".into()),
        source: Some("debate-1".into()),
        detected_at: Some(detected.into()),
        ..Violation::default()
    }
}

#[test]
fn violations_lifecycle_and_counts() {
    let (_d, cfg) = store_dir();
    let store = PolicyStore::open(&cfg).unwrap();
    store
        .create_violation(violation(
            "v1",
            "p1",
            "default",
            "high",
            "2026-01-01 10:00:00",
        ))
        .unwrap();
    store
        .create_violation(violation(
            "v2",
            "p1",
            "default",
            "low",
            "2026-01-02 10:00:00",
        ))
        .unwrap();
    store
        .create_violation(violation(
            "v3",
            "p2",
            "default",
            "high",
            "2026-01-03 10:00:00",
        ))
        .unwrap();
    store
        .create_violation(violation(
            "v4",
            "p2",
            "ws2",
            "critical",
            "2026-01-04 10:00:00",
        ))
        .unwrap();
    let defaulted = store
        .create_violation(Violation {
            severity: None,
            detected_at: None,
            ..violation("", "p3", "default", "x", "")
        })
        .unwrap();
    assert_eq!(defaulted.severity.as_deref(), Some("medium"));
    assert_eq!(defaulted.status.as_deref(), Some("open"));
    assert!(defaulted.detected_at.is_some());
    assert_eq!(defaulted.id.len(), 36);

    let ids = |v: Vec<Violation>| v.into_iter().map(|v| v.id).collect::<Vec<_>>();
    let by_policy = ViolationFilter {
        policy_id: Some("p1".into()),
        ..ViolationFilter::default()
    };
    assert_eq!(
        ids(store.list_violations(&by_policy, Page::default()).unwrap()),
        vec!["v2", "v1"]
    );
    let high_default = ViolationFilter {
        workspace_id: Some("default".into()),
        severity: Some("high".into()),
        ..ViolationFilter::default()
    };
    assert_eq!(
        ids(store
            .list_violations(&high_default, Page::default())
            .unwrap()),
        vec!["v3", "v1"]
    );
    let all = store
        .list_violations(&ViolationFilter::default(), Page::first(2))
        .unwrap();
    assert_eq!(all[0].id, defaulted.id);
    assert_eq!(all[1].id, "v4");

    // Resolution sets resolved_at; reopening clears it.
    let r = store
        .update_violation_status("v1", "resolved", Some("erin"), Some("redacted"))
        .unwrap()
        .unwrap();
    assert!(r.resolved_at.is_some());
    assert_eq!(r.resolved_by.as_deref(), Some("erin"));
    assert_eq!(r.resolution_notes.as_deref(), Some("redacted"));
    let fp = store
        .update_violation_status("v2", "false_positive", Some("erin"), None)
        .unwrap()
        .unwrap();
    assert!(fp.resolved_at.is_some());
    let inv = store
        .update_violation_status("v1", "investigating", None, None)
        .unwrap()
        .unwrap();
    assert!(inv.resolved_at.is_none());
    assert!(
        store
            .update_violation_status("nope", "resolved", None, None)
            .unwrap()
            .is_none()
    );
    let open = ViolationFilter {
        status: Some("open".into()),
        ..ViolationFilter::default()
    };
    assert_eq!(
        ids(store.list_violations(&open, Page::default()).unwrap()),
        vec![defaulted.id.clone(), "v4".into(), "v3".into()]
    );

    let counts = store.count_violations(Some("default"), None, None).unwrap();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![
            ("high".to_string(), 2),
            ("low".to_string(), 1),
            ("medium".to_string(), 1)
        ]
    );
    let counts = store.count_violations(None, Some("open"), None).unwrap();
    assert_eq!(counts.get("critical"), Some(&1));
    assert_eq!(counts.get("high"), Some(&1));
    assert_eq!(counts.get("low"), None);
    let counts = store.count_violations(None, None, Some("high")).unwrap();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![("high".to_string(), 2)]
    );

    assert!(store.delete_violation("v4").unwrap());
    assert!(!store.delete_violation("v4").unwrap());
    assert!(store.get_violation("v4").unwrap().is_none());
    assert_eq!(
        store
            .get_violation("v3")
            .unwrap()
            .unwrap()
            .rule_name
            .as_deref(),
        Some("No SSNs")
    );
    assert_clean(store.db());
}

/// Violations come newest first by the instant their `detected_at` text
/// stands for, whatever its shape (text order would differ), rows at one
/// instant by id; pages are cut from that order.
#[test]
fn violations_order_by_instant_across_timestamp_shapes() {
    let (_d, cfg) = store_dir();
    let store = PolicyStore::open(&cfg).unwrap();
    for (id, at) in [
        ("a", "2026-01-05T11:30:00+02:00"),
        ("b", "2026-01-05 10:00:00"),
        ("c", "2026-01-05T09:45:00"),
        ("d", "2026-01-05T10:00:00+00:00"),
        ("e", "2026-01-04T23:00:00-02:00"),
    ] {
        store
            .create_violation(violation(id, "p1", "default", "high", at))
            .unwrap();
    }
    let ids = |page: Page| -> Vec<String> {
        store
            .list_violations(&ViolationFilter::default(), page)
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect()
    };
    assert_eq!(ids(Page::default()), ["b", "d", "c", "a", "e"]);
    let page = Page {
        offset: 1,
        limit: Some(2),
        reverse: false,
    };
    assert_eq!(ids(page), ["d", "c"]);
    assert_eq!(ids(Page::first(2).reversed()), ["e", "a"]);
}
