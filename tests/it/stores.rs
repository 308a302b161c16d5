//! Behaviour of UserStore, OrganizationStore, AuditLog and UsageStore.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::store::{
    AuditEvent, AuditLog, AuditQuery, OrganizationStore, UsageStore, UserStore,
};
use aragora_db::table::Page;

#[test]
fn user_lifecycle() {
    let (_d, cfg) = store_dir();
    let users = UserStore::open(&cfg).unwrap();
    let orgs = OrganizationStore::open(&cfg).unwrap();
    let ada = users
        .create_user("ada@x.io", "bcrypt:h", "", "Ada", None, "member")
        .unwrap();
    assert_eq!(ada.id.len(), 36);
    assert_eq!(
        users.get_user_by_id(&ada.id).unwrap().unwrap().email,
        "ada@x.io"
    );
    assert!(matches!(
        users.create_user("ada@x.io", "h", "", "Dup", None, "member"),
        Err(Error::Unique { .. })
    ));
    let org = orgs
        .create_organization("Analytical Engines", &ada.id, None, "free")
        .unwrap();
    assert_eq!(org.slug, "analytical-engines");
    let again = orgs
        .create_organization("Analytical Engines", &ada.id, None, "free")
        .unwrap();
    assert!(
        again.slug.starts_with("analytical-engines-")
            && again.slug.len() == "analytical-engines-".len() + 8
    );
    let owner = users.get_user_by_id(&ada.id).unwrap().unwrap();
    assert_eq!(
        (owner.org_id.as_deref(), owner.role.as_deref()),
        (Some(again.id.as_str()), Some("owner"))
    );
    let bob = users
        .create_user("bob@x.io", "h", "", "Bob", Some(&org.id), "member")
        .unwrap();
    let members = users.list_users_by_org(&org.id, Page::default()).unwrap();
    assert_eq!(
        members.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        vec![bob.id.as_str()]
    );
    assert_eq!(orgs.get_org_members(&org.id).unwrap().len(), 1);
    assert_eq!(
        orgs.get_organization_by_slug("analytical-engines")
            .unwrap()
            .unwrap()
            .id,
        org.id
    );
    orgs.set_stripe(&org.id, Some("cus_1"), Some("sub_1"))
        .unwrap();
    assert_eq!(
        orgs.get_organization_by_stripe_customer("cus_1")
            .unwrap()
            .unwrap()
            .id,
        org.id
    );
    assert_eq!(
        orgs.get_organization_by_subscription("sub_1")
            .unwrap()
            .unwrap()
            .id,
        org.id
    );
    assert_eq!(
        orgs.change_tier(&org.id, "enterprise")
            .unwrap()
            .tier
            .as_deref(),
        Some("enterprise")
    );
    assert!(orgs.change_tier(&org.id, "platinum").is_err());
    assert_eq!(orgs.increment_usage(&org.id, 3).unwrap(), 3);
    let moved = orgs.remove_user_from_org(&bob.id).unwrap();
    assert_eq!(moved.org_id, None);
    orgs.add_user_to_org(&bob.id, &org.id, "admin").unwrap();
    assert!(users.deactivate_user(&bob.id).unwrap().is_active == Some(false));
    assert!(users.delete_user(&bob.id).unwrap());
    assert!(users.get_user_by_email("bob@x.io").unwrap().is_none());
    assert!(orgs.get_org_members(&org.id).unwrap().is_empty());
    assert!(orgs.delete_organization(&org.id).unwrap());
    assert_eq!(
        users
            .get_user_by_id(&ada.id)
            .unwrap()
            .unwrap()
            .org_id
            .as_deref(),
        Some(again.id.as_str())
    );
}

#[test]
fn lockout_counts_and_unlocks() {
    let (_d, cfg) = store_dir();
    let users = UserStore::open(&cfg).unwrap();
    let u = users
        .create_user("eve@x.io", "h", "", "Eve", None, "member")
        .unwrap();
    for n in 1..=4 {
        let info = users.record_failed_login("eve@x.io").unwrap().unwrap();
        assert_eq!((info.failed_login_count, info.locked), (n, false));
    }
    let info = users.record_failed_login("eve@x.io").unwrap().unwrap();
    assert!(info.locked && info.locked_until.is_some());
    let stored = users.get_user_by_id(&u.id).unwrap().unwrap();
    assert_eq!(stored.failed_login_count, Some(5));
    assert!(stored.lockout_reason.as_deref().unwrap().contains("5"));
    assert!(users.is_account_locked("eve@x.io").unwrap().unwrap().locked);
    let unlocked = users.unlock_user(&u.id).unwrap();
    assert_eq!(
        (unlocked.failed_login_count, unlocked.locked_until),
        (Some(0), None)
    );
    assert!(!users.is_account_locked("eve@x.io").unwrap().unwrap().locked);
    assert!(users.record_failed_login("nobody@x.io").unwrap().is_none());
    users.record_failed_login("eve@x.io").unwrap();
    assert!(users.reset_failed_login_attempts("eve@x.io").unwrap());
    let after = users.get_user_by_id(&u.id).unwrap().unwrap();
    assert_eq!(after.failed_login_count, Some(0));
    assert!(after.last_login_at.is_some());
}

fn event(action: &str, user: &str, org: &str, ts: &str) -> AuditEvent {
    AuditEvent {
        action: action.into(),
        resource_type: Some("debate".into()),
        user_id: Some(user.into()),
        org_id: Some(org.into()),
        timestamp: Some(ts.into()),
        metadata: Some("{\"k\": \"v,\\\"q\\\"\"}".into()),
        ..AuditEvent::default()
    }
}

#[test]
fn audit_append_query_export_retention() {
    let (_d, cfg) = store_dir();
    let log = AuditLog::open(&cfg).unwrap();
    let a = log
        .log_event(event("login", "u1", "o1", "2026-01-01T00:00:00+00:00"))
        .unwrap();
    let b = log
        .log_event(event("logout", "u1", "o1", "2026-01-02T00:00:00+00:00"))
        .unwrap();
    let ids = log
        .log_events(vec![
            event("login", "u2", "o1", "2026-01-03T00:00:00+00:00"),
            event("login", "u1", "o2", "2026-01-04T00:00:00+00:00"),
        ])
        .unwrap();
    assert_eq!((a, b, ids.clone()), (1, 2, vec![3, 4]));
    let by_user = log
        .query(&AuditQuery {
            user_id: Some("u1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        by_user.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    let q = AuditQuery {
        user_id: Some("u1".into()),
        since: Some("2026-01-02".into()),
        until: Some("2026-01-04".into()),
        ..Default::default()
    };
    assert_eq!(
        log.query(&q)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        vec![2]
    );
    let by_action = log
        .query(&AuditQuery {
            action: Some("login".into()),
            org_id: Some("o1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        by_action.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![1, 3]
    );
    let newest = log
        .query(&AuditQuery {
            page: Page::first(1).reversed(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(newest[0].id, 4);
    assert_eq!(
        log.count(&AuditQuery {
            org_id: Some("o1".into()),
            ..Default::default()
        })
        .unwrap(),
        3
    );

    let mut jsonl = Vec::new();
    assert_eq!(
        log.export_jsonl(&AuditQuery::default(), &mut jsonl)
            .unwrap(),
        4
    );
    let first: serde_json::Value =
        serde_json::from_slice(jsonl.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["action"], "login");
    assert_eq!(first["resource_id"], serde_json::Value::Null);
    let mut csv = Vec::new();
    log.export_csv(&AuditQuery::default(), &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("id,timestamp,user_id,org_id,action,"));
    assert!(
        csv.contains("\"{\"\"k\"\": \"\"v,\\\"\"q\\\"\"\"\"}\""),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5);

    assert_eq!(log.delete_before("2026-01-03").unwrap(), 2);
    assert_eq!(log.count(&AuditQuery::default()).unwrap(), 2);
    // Ids are never reused after deletes.
    assert_eq!(
        log.log_event(event("x", "u", "o", "2026-02-01")).unwrap(),
        5
    );
    // Retention by days: everything here is older than 90 days relative to now.
    let recent = aragora_db::time::now_iso();
    log.log_event(event("fresh", "u", "o", &recent)).unwrap();
    assert_eq!(log.apply_retention().unwrap(), 3);
    assert_eq!(log.count(&AuditQuery::default()).unwrap(), 1);
}

#[test]
fn usage_aggregates_then_prunes_without_losing_counts() {
    use chrono::TimeZone;
    let (_d, cfg) = store_dir();
    let users = UserStore::open(&cfg).unwrap();
    let orgs = OrganizationStore::open(&cfg).unwrap();
    let usage = UsageStore::open(&cfg).unwrap();
    let u = users
        .create_user("o@x.io", "h", "", "O", None, "member")
        .unwrap();
    let org = orgs.create_organization("O", &u.id, None, "free").unwrap();
    for (ts, n) in [
        ("2026-01-05 10:00:00", 2),
        ("2026-01-20T00:00:00", 3),
        ("2026-03-10T00:00:00+00:00", 7),
        ("2026-05-30T00:00:00+00:00", 1),
    ] {
        usage
            .db()
            .clock()
            .at(ts, || usage.record_usage_event(&org.id, "debate", n, None))
            .unwrap();
    }
    assert!(matches!(
        usage.record_usage_event("missing-org", "debate", 1, None),
        Err(Error::ForeignKey { .. })
    ));
    let now = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let report = usage.prune(now, 90).unwrap();
    assert_eq!((report.pruned_rows, report.pruned_count), (2, 5));
    let summary = usage.monthly_summary(&org.id).unwrap();
    let totals: Vec<_> = summary
        .iter()
        .map(|s| (s.month.as_str(), s.total_count, s.pruned_count))
        .collect();
    assert_eq!(
        totals,
        vec![("2026-01", 5, 5), ("2026-03", 7, 0), ("2026-05", 1, 0)]
    );
    // Re-aggregating after the prune keeps the January total.
    usage.aggregate().unwrap();
    assert_eq!(usage.monthly_summary(&org.id).unwrap()[0].total_count, 5);
    // A late event in a pruned month adds to it.
    usage
        .db()
        .clock()
        .at("2026-01-31T00:00:00", || {
            usage.record_usage_event(&org.id, "debate", 4, None)
        })
        .unwrap();
    usage.aggregate().unwrap();
    assert_eq!(usage.monthly_summary(&org.id).unwrap()[0].total_count, 9);
}

#[test]
fn token_blacklist_expiry_and_cleanup() {
    use aragora_db::store::TokenBlacklist;
    let (_d, cfg) = store_dir();
    let bl = TokenBlacklist::open(&cfg).unwrap();
    let now = 1_767_600_000.0;
    bl.db()
        .clock()
        .at(now, || bl.revoke("a", now + 60.0))
        .unwrap();
    bl.db()
        .clock()
        .at(now - 100.0, || bl.revoke("b", now - 1.0))
        .unwrap();
    assert!(bl.db().clock().at(now, || bl.is_revoked("a")).unwrap());
    assert!(
        !bl.db()
            .clock()
            .at(now + 61.0, || bl.is_revoked("a"))
            .unwrap(),
        "expired entries no longer count"
    );
    assert!(!bl.db().clock().at(now, || bl.is_revoked("b")).unwrap());
    assert!(!bl.db().clock().at(now, || bl.is_revoked("never")).unwrap());
    // Re-revoking replaces the entry.
    bl.db()
        .clock()
        .at(now, || bl.revoke("b", now + 10.0))
        .unwrap();
    assert!(bl.db().clock().at(now, || bl.is_revoked("b")).unwrap());
    assert_eq!(bl.size().unwrap(), 2);
    assert_eq!(
        bl.db()
            .clock()
            .at(now + 30.0, || bl.cleanup_expired())
            .unwrap(),
        1
    );
    assert_eq!(bl.size().unwrap(), 1);
    assert!(
        bl.db()
            .clock()
            .at(now + 30.0, || bl.is_revoked("a"))
            .unwrap()
    );
}

#[test]
fn share_links_expire_and_revoke() {
    use aragora_db::schema::share_links::ShareLink;
    use aragora_db::store::ShareLinkStore;
    let (_d, cfg) = store_dir();
    let links = ShareLinkStore::open(&cfg).unwrap();
    let now = 1_767_600_000.0;
    let link = |debate: &str, expires: Option<f64>| ShareLink {
        debate_id: debate.into(),
        visibility: "public".into(),
        created_at: now,
        expires_at: expires,
        ..Default::default()
    };
    let live = links.save(link("d1", Some(now + 3600.0))).unwrap();
    let token = live.token.clone().unwrap();
    assert_eq!(token.len(), 43);
    let old = links.save(link("d2", Some(now - 1.0))).unwrap();
    let forever = links.save(link("d3", None)).unwrap();
    assert_eq!(
        links
            .db()
            .clock()
            .at(now, || links.get_by_token(&token))
            .unwrap()
            .unwrap()
            .debate_id,
        "d1"
    );
    assert!(
        links
            .db()
            .clock()
            .at(now, || links.get_by_token(old.token.as_deref().unwrap()))
            .unwrap()
            .is_none(),
        "expired links are not returned"
    );
    assert!(
        links
            .db()
            .clock()
            .at(now + 7200.0, || links.get_by_token(&token))
            .unwrap()
            .is_none()
    );
    assert!(
        links
            .db()
            .clock()
            .at(now + 1e9, || links
                .get_by_token(forever.token.as_deref().unwrap()))
            .unwrap()
            .is_some()
    );
    assert!(
        links
            .save(ShareLink {
                visibility: "everyone".into(),
                ..link("d4", None)
            })
            .is_err()
    );
    // Saving again keeps one link per debate.
    let replaced = links
        .save(ShareLink {
            token: None,
            ..link("d1", None)
        })
        .unwrap();
    assert_ne!(replaced.token, live.token);
    assert!(
        links
            .db()
            .clock()
            .at(now, || links.get_by_token(&token))
            .unwrap()
            .is_none()
    );
    assert!(links.increment_view_count("d3").unwrap());
    assert_eq!(links.get("d3").unwrap().unwrap().view_count, Some(1));
    // Revoking clears the token, keeps the row; two revoked links coexist.
    assert!(links.revoke_token("d1").unwrap());
    assert!(links.revoke_token("d3").unwrap());
    assert!(links.get("d1").unwrap().unwrap().token.is_none());
    assert!(
        links
            .db()
            .clock()
            .at(now, || links
                .get_by_token(forever.token.as_deref().unwrap()))
            .unwrap()
            .is_none()
    );
    assert_eq!(links.count().unwrap(), 3);
    assert_eq!(
        links
            .db()
            .clock()
            .at(now, || links.cleanup_expired())
            .unwrap(),
        1
    );
    assert!(links.get("d2").unwrap().is_none());
    assert!(links.delete("d3").unwrap());
    assert_eq!(links.count().unwrap(), 1);
}
