//! BatchJobStore: explainability batch jobs with expiry.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::store::explainability::{BatchJobStore, new_job};
use serde_json::json;

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

#[test]
fn jobs_lifecycle() {
    let (_d, cfg) = store_dir();
    let store = BatchJobStore::open(&cfg).unwrap();
    let t0 = 1_767_600_000.0;
    let job = new_job("b1", &["d1", "d2"], json!({"format": "full"}), t0);
    let saved = store.save_job(&job).unwrap();
    assert_eq!(saved.expires_at, t0 + 3600.0);
    assert_eq!(saved.debate_ids_json, r#"["d1", "d2"]"#);
    assert_eq!(saved.options_json, r#"{"format": "full"}"#);
    assert_eq!(
        store
            .db()
            .clock()
            .at(t0 + 1.0, || store.get_job("b1"))
            .unwrap(),
        Some(saved.clone())
    );

    let mut bad = job.clone();
    bad.status = "queued".into();
    assert!(matches!(
        store.save_job(&bad),
        Err(Error::InvalidArgument(_))
    ));
    let mut bad = job.clone();
    bad.options_json = "[]".into();
    assert!(matches!(
        store.save_job(&bad),
        Err(Error::InvalidArgument(_))
    ));

    let p = store
        .db()
        .clock()
        .at(t0 + 5.0, || store.update_status("b1", "processing", None))
        .unwrap()
        .unwrap();
    assert_eq!(p.started_at, Some(t0 + 5.0));
    store
        .add_result("b1", json!({"debate_id": "d1", "ok": true}))
        .unwrap();
    let j = store
        .add_result("b1", json!({"debate_id": "d2", "ok": false}))
        .unwrap()
        .unwrap();
    assert_eq!(j.processed_count, 2);
    assert_eq!(
        j.results_json,
        r#"[{"debate_id": "d1", "ok": true}, {"debate_id": "d2", "ok": false}]"#
    );
    let done = store
        .db()
        .clock()
        .at(t0 + 9.0, || {
            store.update_status("b1", "failed", Some("d2: timeout"))
        })
        .unwrap()
        .unwrap();
    assert_eq!(done.completed_at, Some(t0 + 9.0));
    assert_eq!(done.started_at, Some(t0 + 5.0));
    assert_eq!(done.error.as_deref(), Some("d2: timeout"));
    assert!(matches!(
        store
            .db()
            .clock()
            .at(t0, || store.update_status("b1", "done", None)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(
        store
            .update_status("missing", "failed", None)
            .unwrap()
            .is_none()
    );
    assert!(store.add_result("missing", json!({})).unwrap().is_none());

    // Expired jobs vanish on read.
    assert!(
        store
            .db()
            .clock()
            .at(t0 + 3600.0, || store.get_job("b1"))
            .unwrap()
            .is_none()
    );
    assert_eq!(store.count().unwrap(), 0);
    assert_clean(store.db());
}

#[test]
fn list_and_cleanup() {
    let (_d, cfg) = store_dir();
    let store = BatchJobStore::open_with_ttl(&cfg, 100.0).unwrap();
    let t0 = 1000.0;
    for (i, status) in ["pending", "completed", "pending", "processing"]
        .iter()
        .enumerate()
    {
        let mut j = new_job(&format!("b{i}"), &["d"], json!({}), t0 + 10.0 * i as f64);
        j.status = status.to_string();
        store.save_job(&j).unwrap();
    }
    let ids = |v: Vec<aragora_db::schema::explainability::BatchJob>| {
        v.into_iter().map(|j| j.batch_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .db()
            .clock()
            .at(t0, || store.list_jobs(None, 100))
            .unwrap()),
        vec!["b3", "b2", "b1", "b0"]
    );
    assert_eq!(
        ids(store
            .db()
            .clock()
            .at(t0, || store.list_jobs(Some("pending"), 100))
            .unwrap()),
        vec!["b2", "b0"]
    );
    assert_eq!(
        ids(store
            .db()
            .clock()
            .at(t0, || store.list_jobs(None, 2))
            .unwrap()),
        vec!["b3", "b2"]
    );
    // At t0+110, b0 (expires 1100) and b1 (1110) are expired: listing drops them.
    assert_eq!(
        ids(store
            .db()
            .clock()
            .at(t0 + 110.0, || store.list_jobs(None, 100))
            .unwrap()),
        vec!["b3", "b2"]
    );
    assert_eq!(store.count().unwrap(), 2);
    assert_eq!(
        store
            .db()
            .clock()
            .at(t0 + 125.0, || store.cleanup_expired())
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .db()
            .clock()
            .at(t0 + 125.0, || store.cleanup_expired())
            .unwrap(),
        0
    );
    assert!(store.delete_job("b3").unwrap());
    assert!(!store.delete_job("b3").unwrap());
    assert_eq!(store.cleanup_expired().unwrap(), 0);
    assert!(matches!(
        BatchJobStore::open_with_ttl(&cfg, -1.0),
        Err(Error::InvalidArgument(_))
    ));
    assert_clean(store.db());
}
