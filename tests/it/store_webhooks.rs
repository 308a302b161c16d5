//! WebhookStore (idempotency records) and WebhookConfigStore.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::store::webhooks::{
    NewWebhook, WebhookConfigStore, WebhookStore, WebhookUpdate, config_events,
};

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

#[test]
fn events_are_processed_within_ttl() {
    let (_d, cfg) = store_dir();
    let store = WebhookStore::open(&cfg).unwrap();
    assert_eq!(store.ttl(), 86_400.0);
    let t0 = 1_767_600_000.0;
    assert!(
        !store
            .db()
            .clock()
            .at(t0, || store.is_processed("evt_1"))
            .unwrap()
    );
    store
        .db()
        .clock()
        .at(t0, || store.mark_processed("evt_1", "success"))
        .unwrap();
    store
        .db()
        .clock()
        .at(t0 + 100.0, || {
            store.mark_processed("evt_2", "error: timeout")
        })
        .unwrap();
    assert!(
        store
            .db()
            .clock()
            .at(t0, || store.is_processed("evt_1"))
            .unwrap()
    );
    assert!(
        store
            .db()
            .clock()
            .at(t0 + 86_399.0, || store.is_processed("evt_1"))
            .unwrap()
    );
    assert!(
        !store
            .db()
            .clock()
            .at(t0 + 86_400.0, || store.is_processed("evt_1"))
            .unwrap()
    );
    assert_eq!(store.size().unwrap(), 2);
    assert_eq!(
        store.get("evt_2").unwrap().unwrap().result,
        "error: timeout"
    );

    // Marking again replaces (INSERT OR REPLACE) and refreshes the time.
    store
        .db()
        .clock()
        .at(t0 + 90_000.0, || store.mark_processed("evt_1", "success"))
        .unwrap();
    assert_eq!(store.size().unwrap(), 2);
    assert!(
        store
            .db()
            .clock()
            .at(t0 + 90_001.0, || store.is_processed("evt_1"))
            .unwrap()
    );

    // At t0+100+86400 evt_2 is exactly at the cutoff: expired and removed.
    assert_eq!(
        store
            .db()
            .clock()
            .at(t0 + 86_500.0, || store.cleanup_expired())
            .unwrap(),
        1
    );
    assert!(store.get("evt_2").unwrap().is_none());
    assert_eq!(store.size().unwrap(), 1);
    assert_eq!(
        store
            .db()
            .clock()
            .at(t0 + 86_500.0, || store.cleanup_expired())
            .unwrap(),
        0
    );

    // The real clock.
    store.mark_processed("evt_now", "success").unwrap();
    assert!(store.is_processed("evt_now").unwrap());
    assert_eq!(store.cleanup_expired().unwrap(), 1); // evt_1, long ago
    assert_clean(store.db());
}

#[test]
fn ttl_is_configurable() {
    let (_d, cfg) = store_dir();
    let store = WebhookStore::open_with_ttl(&cfg, 60.0).unwrap();
    store
        .db()
        .clock()
        .at(1000.0, || store.mark_processed("e", "success"))
        .unwrap();
    assert!(
        store
            .db()
            .clock()
            .at(1059.0, || store.is_processed("e"))
            .unwrap()
    );
    assert!(
        !store
            .db()
            .clock()
            .at(1060.0, || store.is_processed("e"))
            .unwrap()
    );
    assert!(matches!(
        WebhookStore::open_with_ttl(&cfg, f64::NAN),
        Err(Error::InvalidArgument(_))
    ));
    assert_clean(store.db());
}

fn hook(url: &str, events: &[&str], user: Option<&str>, ws: Option<&str>) -> NewWebhook {
    NewWebhook {
        url: url.into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        name: Some(format!("hook {url}")),
        description: None,
        user_id: user.map(Into::into),
        workspace_id: ws.map(Into::into),
    }
}

#[test]
fn configs_register_list_update_delete() {
    let (_d, cfg) = store_dir();
    let store = WebhookConfigStore::open(&cfg).unwrap();
    let a = store
        .db()
        .clock()
        .at(1000.0, || {
            store.register(hook(
                "https://a.example/h",
                &["debate_end", "consensus"],
                Some("u1"),
                Some("w1"),
            ))
        })
        .unwrap();
    assert_eq!(a.id.len(), 36);
    assert_eq!(a.events_json, r#"["debate_end", "consensus"]"#);
    assert_eq!(a.secret.len(), 43);
    assert!(a.active);
    assert_eq!((a.created_at, a.updated_at), (1000.0, 1000.0));
    assert_eq!((a.delivery_count, a.failure_count), (Some(0), Some(0)));
    let b = store
        .db()
        .clock()
        .at(2000.0, || {
            store.register(hook("https://b.example/h", &["*"], Some("u2"), Some("w1")))
        })
        .unwrap();
    let c = store
        .db()
        .clock()
        .at(3000.0, || {
            store.register(hook("https://c.example/h", &["vote"], Some("u1"), None))
        })
        .unwrap();
    assert!(matches!(
        store.register(hook(" ", &[], None, None)),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(store.get(&a.id).unwrap(), Some(a.clone()));

    let ids = |v: Vec<aragora_db::schema::webhooks::WebhookConfig>| {
        v.into_iter().map(|c| c.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.list(None, None, false).unwrap()),
        vec![c.id.clone(), b.id.clone(), a.id.clone()]
    );
    assert_eq!(
        ids(store.list(Some("u1"), None, false).unwrap()),
        vec![c.id.clone(), a.id.clone()]
    );
    assert_eq!(
        ids(store.list(None, Some("w1"), false).unwrap()),
        vec![b.id.clone(), a.id.clone()]
    );
    assert_eq!(
        ids(store.list(Some("u1"), Some("w1"), false).unwrap()),
        vec![a.id.clone()]
    );

    // Matching: explicit events, "*" (known events only), active only.
    assert_eq!(
        ids(store.get_for_event("debate_end").unwrap()),
        vec![b.id.clone(), a.id.clone()]
    );
    assert_eq!(
        ids(store.get_for_event("vote").unwrap()),
        vec![c.id.clone(), b.id.clone()]
    );
    assert!(store.get_for_event("not_an_event").unwrap().is_empty());

    let updated = store
        .db()
        .clock()
        .at(2500.0, || {
            store.update(
                &b.id,
                WebhookUpdate {
                    active: Some(false),
                    events: Some(vec!["vote".into()]),
                    description: Some("paused".into()),
                    ..WebhookUpdate::default()
                },
            )
        })
        .unwrap()
        .unwrap();
    assert!(!updated.active);
    assert_eq!(config_events(&updated), vec!["vote".to_string()]);
    assert_eq!(updated.updated_at, 2500.0);
    assert_eq!(updated.created_at, 2000.0);
    assert_eq!(updated.secret, b.secret);
    assert_eq!(
        ids(store.get_for_event("debate_end").unwrap()),
        vec![a.id.clone()]
    );
    assert_eq!(
        ids(store.list(None, None, true).unwrap()),
        vec![c.id.clone(), a.id.clone()]
    );
    assert!(
        store
            .update("missing", WebhookUpdate::default())
            .unwrap()
            .is_none()
    );

    assert!(
        store
            .db()
            .clock()
            .at(4000.0, || store.record_delivery(&a.id, 200, true))
            .unwrap()
    );
    assert!(
        store
            .db()
            .clock()
            .at(4100.0, || store.record_delivery(&a.id, 503, false))
            .unwrap()
    );
    let a2 = store.get(&a.id).unwrap().unwrap();
    assert_eq!(a2.last_delivery_at, Some(4100.0));
    assert_eq!(a2.last_delivery_status, Some(503));
    assert_eq!((a2.delivery_count, a2.failure_count), (Some(2), Some(1)));
    assert!(!store.record_delivery("missing", 200, true).unwrap());

    assert!(store.delete(&c.id).unwrap());
    assert!(!store.delete(&c.id).unwrap());
    assert_eq!(store.count().unwrap(), 2);
    assert_clean(store.db());
}
