//! `cleanup`: retention removes exactly what is older than its rule, the
//! dry run counts exactly that, and nothing is created.

use super::cli;
use crate::common::data_dir;
use aragora_db::Database;
use aragora_db::config::{DbTarget, Store};
use aragora_db::ops::cleanup::{self, USAGE_RETENTION_DAYS};
use aragora_db::schema::audit_events::AuditEvent;
use aragora_db::schema::share_links::ShareLink;
use aragora_db::schema::users::UsageSummary;
use aragora_db::store::{self, AuditLog, ShareLinkStore, TokenBlacklist, UsageStore};
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

#[test]
fn retention_removes_what_the_dry_run_counted() {
    let (_d, mut cfg) = data_dir();
    cfg.audit_retention_days = 30;
    let now = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
    let day = |n: i64| now - chrono::Duration::days(n);
    let iso = |n: i64| aragora_db::time::format_iso(day(n));
    let ages = [1i64, 10, 29, 31, 45, 89, 91, 200];
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    {
        let audit = AuditLog::open(&cfg).unwrap();
        let usage = UsageStore::open(&cfg).unwrap();
        let links = ShareLinkStore::open(&cfg).unwrap();
        let tokens = TokenBlacklist::open(&cfg).unwrap();
        let audit_db = Database::open(&cfg, DbTarget::Store(Store::Audit)).unwrap();
        let owner = store::UserStore::open(&cfg)
            .unwrap()
            .create_user("o@x.io", "h", "", "O", None, "member")
            .unwrap()
            .id;
        let org = store::OrganizationStore::open(&cfg)
            .unwrap()
            .create_organization("Org", &owner, None, "free")
            .unwrap()
            .id;
        let epoch = |n: i64| day(n).timestamp() as f64;
        for (i, &age) in ages.iter().enumerate() {
            audit
                .log_event(store::AuditEvent {
                    action: "a".into(),
                    timestamp: Some(iso(age)),
                    ..Default::default()
                })
                .unwrap();
            audit_db
                .write(|w| {
                    w.insert(&AuditEvent {
                        id: format!("e{i}"),
                        timestamp: iso(age),
                        event_hash: format!("h{i}"),
                        ..Default::default()
                    })
                })
                .unwrap();
            usage
                .db()
                .clock()
                .at(&iso(age), || {
                    usage.record_usage_event(&org, "debate", 2, None)
                })
                .unwrap();
            // Links and tokens expire `age - 50` days from now: the older half has expired.
            links
                .save(ShareLink {
                    debate_id: format!("d{i}"),
                    visibility: "public".into(),
                    created_at: 1.0,
                    expires_at: Some(epoch(age - 50)),
                    ..Default::default()
                })
                .unwrap();
            tokens
                .db()
                .clock()
                .at(0.0, || tokens.revoke(&format!("j{i}"), epoch(age - 50)))
                .unwrap();
            *want.entry("audit_log").or_default() += u64::from(age > 30);
            *want.entry("audit_events").or_default() += u64::from(age > 30);
            *want.entry("usage_events").or_default() +=
                u64::from(age > i64::from(USAGE_RETENTION_DAYS));
            *want.entry("share_links").or_default() += u64::from(age > 50);
            *want.entry("token_blacklist").or_default() += u64::from(age > 50);
        }
        // A link without expiry never goes.
        links
            .save(ShareLink {
                debate_id: "forever".into(),
                visibility: "public".into(),
                created_at: 1.0,
                ..Default::default()
            })
            .unwrap();
    }
    want.insert("audit_store_log", 0);
    let as_map = |v: Vec<cleanup::Removed>| -> BTreeMap<&str, u64> {
        v.into_iter().map(|r| (r.table, r.rows)).collect()
    };
    let dry = as_map(cleanup::cleanup(&cfg, now, true).unwrap());
    assert_eq!(dry, want);
    assert_eq!(
        as_map(cleanup::cleanup(&cfg, now, true).unwrap()),
        want,
        "dry run removed something"
    );
    let done = as_map(cleanup::cleanup(&cfg, now, false).unwrap());
    assert_eq!(done, want);
    let again = as_map(cleanup::cleanup(&cfg, now, true).unwrap());
    assert!(again.values().all(|&n| n == 0), "{again:?}");
    // The pruned usage counts live on in the summary.
    let usage = UsageStore::open(&cfg).unwrap();
    let org = store::OrganizationStore::open(&cfg)
        .unwrap()
        .get_organization_by_slug("org")
        .unwrap()
        .unwrap()
        .id;
    let summary: Vec<UsageSummary> = usage.monthly_summary(&org).unwrap();
    let pruned: i64 = summary.iter().map(|s| s.pruned_count).sum();
    assert_eq!(pruned, 2 * want["usage_events"] as i64);
    let links = ShareLinkStore::open(&cfg).unwrap();
    assert!(links.get("forever").unwrap().is_some());
    for db in [
        Store::Users,
        Store::Audit,
        Store::ShareLinks,
        Store::TokenBlacklist,
    ] {
        crate::common::assert_consistent(&Database::open(&cfg, DbTarget::Store(db)).unwrap());
    }
}

#[test]
fn cleanup_creates_no_files() {
    let (_d, cfg) = data_dir();
    let o = cli(&[
        "--data-dir",
        cfg.data_dir.to_str().unwrap(),
        "cleanup",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_dir(&cfg.data_dir).unwrap().count(), 0);
}
