//! Behaviour of ContinuumStore: add/get/update, outcomes, tier moves and
//! their transitions, retrieval order, red lines, centroids, archive
//! atomicity and expiry.

use crate::common::assert_consistent;
use crate::common::store_dir;
use aragora_db::schema::continuum::{ContinuumMemory, ContinuumMemoryArchive, TierTransition};
use aragora_db::store::continuum::{
    ContinuumStore, MemoryTier, MemoryUpdate, NewMemory, pack_f32, unpack_f32,
};
use aragora_db::table::Read;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

fn store() -> (crate::common::StoreDir, ContinuumStore) {
    let (dir, cfg) = store_dir();
    (dir, ContinuumStore::open(&cfg).unwrap())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

#[test]
fn continuum_add_get_update() {
    let (_d, s) = store();
    let mut m = NewMemory::new("m1", "rust is fast")
        .tier(MemoryTier::Fast)
        .importance(0.8);
    m.metadata.push(("source".into(), json!("debate-1")));
    m.tenant_id = Some("acme".into());
    let row = s.db().clock().at(t0(), || s.add(&m)).unwrap();
    assert_eq!(row.update_count, Some(1));
    let got = s.get("m1").unwrap().unwrap();
    assert_eq!(got, row);
    assert_eq!(got.tier, "fast");
    assert_eq!(got.importance, Some(0.8));
    assert_eq!(
        got.metadata.as_deref(),
        Some(r#"{"source": "debate-1", "tenant_id": "acme"}"#)
    );
    assert_eq!(got.created_at.as_deref(), Some("2026-01-05T10:00:00+00:00"));
    assert_eq!(got.red_line, Some(false));
    assert_eq!(s.get("nope").unwrap(), None);

    // Defaults of NewMemory::new.
    let d = s
        .db()
        .clock()
        .at(t0(), || s.add(&NewMemory::new("m2", "x")))
        .unwrap();
    assert_eq!(d.tier, "slow");
    assert_eq!(d.importance, Some(0.5));
    assert_eq!(d.metadata.as_deref(), Some("{}"));

    let later = t0() + Duration::hours(1);
    let change = MemoryUpdate {
        content: Some("rust is very fast".into()),
        importance: Some(0.9),
        metadata: Some(vec![
            ("source".into(), json!("debate-2")),
            ("n".into(), json!(1.5)),
        ]),
        surprise_score: Some(0.25),
        consolidation_score: None,
    };
    assert!(
        s.db()
            .clock()
            .at(later, || s.update("m1", &change))
            .unwrap()
    );
    let got = s.get("m1").unwrap().unwrap();
    assert_eq!(got.content, "rust is very fast");
    assert_eq!(got.importance, Some(0.9));
    assert_eq!(got.surprise_score, Some(0.25));
    assert_eq!(got.consolidation_score, Some(0.0));
    assert_eq!(got.update_count, Some(2));
    assert_eq!(got.updated_at.as_deref(), Some("2026-01-05T11:00:00+00:00"));
    assert_eq!(got.created_at.as_deref(), Some("2026-01-05T10:00:00+00:00"));
    assert_eq!(
        got.metadata.as_deref(),
        Some(r#"{"source": "debate-2", "tenant_id": "acme", "n": 1.5}"#)
    );
    assert!(
        !s.db()
            .clock()
            .at(later, || s.update("nope", &change))
            .unwrap()
    );

    // Re-adding replaces (INSERT OR REPLACE).
    s.db()
        .clock()
        .at(later, || s.add(&NewMemory::new("m1", "again")))
        .unwrap();
    let got = s.get("m1").unwrap().unwrap();
    assert_eq!(got.content, "again");
    assert_eq!(got.update_count, Some(1));
    assert_eq!(s.count().unwrap(), 2);
    assert_consistent(s.db());
}

#[test]
fn continuum_update_outcome() {
    let (_d, s) = store();
    s.db()
        .clock()
        .at(t0(), || s.add(&NewMemory::new("m", "c")))
        .unwrap();
    // First outcome: expected 0.5, actual 1 → surprise 0.3 * 0.5.
    let sur = s
        .db()
        .clock()
        .at(t0(), || s.update_outcome("m", true, None))
        .unwrap()
        .unwrap();
    assert!((sur - 0.15).abs() < 1e-12);
    // Second: expected 1.0, actual 0 → 0.3 * 1 + 0.7 * 0.15.
    let sur2 = s
        .db()
        .clock()
        .at(t0(), || s.update_outcome("m", false, Some(0.0)))
        .unwrap()
        .unwrap();
    let want = 0.7 * (0.3 + 0.7 * 0.15);
    assert!((sur2 - want).abs() < 1e-12, "{sur2} vs {want}");
    let m = s.get("m").unwrap().unwrap();
    assert_eq!((m.success_count, m.failure_count), (Some(1), Some(1)));
    assert_eq!(m.update_count, Some(3));
    assert!(m.consolidation_score.unwrap() > 0.0);
    assert_eq!(
        s.db()
            .clock()
            .at(t0(), || s.update_outcome("x", true, None))
            .unwrap(),
        None
    );
    assert_consistent(s.db());
}

#[test]
fn continuum_tier_transitions() {
    let (_d, s) = store();
    s.db()
        .clock()
        .at(t0(), || {
            s.add(&NewMemory::new("m", "c").tier(MemoryTier::Glacial))
        })
        .unwrap();
    let t1 = t0() + Duration::minutes(1);
    assert_eq!(
        s.db().clock().at(t1, || s.promote_with("m", None)).unwrap(),
        Some(MemoryTier::Slow)
    );
    assert_eq!(
        s.db()
            .clock()
            .at(t1, || s.promote_with("m", Some("hot")))
            .unwrap(),
        Some(MemoryTier::Medium)
    );
    assert_eq!(
        s.db().clock().at(t1, || s.promote_with("m", None)).unwrap(),
        Some(MemoryTier::Fast)
    );
    // Already fastest: nothing happens, no transition.
    assert_eq!(
        s.db().clock().at(t1, || s.promote_with("m", None)).unwrap(),
        None
    );
    assert_eq!(
        s.db().clock().at(t1, || s.demote_with("m", None)).unwrap(),
        Some(MemoryTier::Medium)
    );
    assert_eq!(
        s.db()
            .clock()
            .at(t1, || s.transition("m", MemoryTier::Glacial, "manual"))
            .unwrap(),
        MemoryTier::Medium
    );
    assert!(
        s.db()
            .clock()
            .at(t1, || s.transition("m", MemoryTier::Glacial, "manual"))
            .is_err()
    );
    assert_eq!(
        s.db().clock().at(t1, || s.demote_with("m", None)).unwrap(),
        None
    );
    assert!(
        s.db()
            .clock()
            .at(t1, || s.promote_with("missing", None))
            .is_err()
    );

    let m = s.get("m").unwrap().unwrap();
    assert_eq!(m.tier, "glacial");
    assert_eq!(
        m.last_promotion_at.as_deref(),
        Some("2026-01-05T10:01:00+00:00")
    );
    assert_eq!(s.tier_of("m").unwrap(), Some(MemoryTier::Glacial));

    let tr = s.transitions("m").unwrap();
    let moves: Vec<(&str, &str, &str)> = tr
        .iter()
        .map(|t| {
            (
                t.from_tier.as_str(),
                t.to_tier.as_str(),
                t.reason.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            ("glacial", "slow", "high_surprise"),
            ("slow", "medium", "hot"),
            ("medium", "fast", "high_surprise"),
            ("fast", "medium", "high_stability"),
            ("medium", "glacial", "manual"),
        ]
    );
    assert_eq!(
        tr.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(tr[0].surprise_score, Some(0.0));
    assert_consistent(s.db());
}

#[test]
fn continuum_retrieval_order() {
    let (_d, s) = store();
    let add = |id: &str, tier, imp, minutes| {
        s.db()
            .clock()
            .at(t0() + Duration::minutes(minutes), || {
                s.add(&NewMemory::new(id, id).tier(tier).importance(imp))
            })
            .unwrap();
    };
    add("a", MemoryTier::Fast, 0.5, 0);
    add("b", MemoryTier::Fast, 0.9, 0);
    add("c", MemoryTier::Fast, 0.5, 5);
    add("d", MemoryTier::Slow, 0.95, 0);
    add("e", MemoryTier::Medium, 0.1, 0);
    let ids = |v: Vec<ContinuumMemory>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.by_tier(MemoryTier::Fast, 10).unwrap()),
        ["b", "c", "a"]
    );
    assert_eq!(ids(s.by_tier(MemoryTier::Fast, 2).unwrap()), ["b", "c"]);
    assert_eq!(
        ids(s
            .retrieve(&[MemoryTier::Fast, MemoryTier::Slow], 10, 0.0)
            .unwrap()),
        ["d", "b", "c", "a"]
    );
    assert_eq!(ids(s.retrieve(&[], 10, 0.5).unwrap()), ["d", "b", "c", "a"]);
    assert_eq!(ids(s.retrieve(&[], 10, 0.0).unwrap()).len(), 5);
    assert_eq!(ids(s.recent_in_tier(MemoryTier::Fast, 1).unwrap()), ["c"]);
    let counts = s.tier_counts().unwrap();
    assert_eq!(counts[&MemoryTier::Fast], 3);
    assert_eq!(counts[&MemoryTier::Medium], 1);
    assert_eq!(counts[&MemoryTier::Slow], 1);
    assert_eq!(counts[&MemoryTier::Glacial], 0);
    assert!(s.by_tier(MemoryTier::Glacial, 10).unwrap().is_empty());
    assert_consistent(s.db());
}

#[test]
fn continuum_centroid_blobs() {
    let v = [1.0f32, -0.5, 0.25, 3.0e-7];
    let b = pack_f32(&v);
    assert_eq!(b.len(), 16);
    assert_eq!(&b[0..4], &[0x00, 0x00, 0x80, 0x3f]); // struct.pack('<f', 1.0)
    assert_eq!(&b[4..8], &[0x00, 0x00, 0x00, 0xbf]); // struct.pack('<f', -0.5)
    assert_eq!(unpack_f32(&b).unwrap(), v);
    assert!(unpack_f32(&b[..5]).is_err());
    assert!(unpack_f32(&[]).unwrap().is_empty());

    let (_d, s) = store();
    s.db()
        .clock()
        .at(t0(), || s.add(&NewMemory::new("m", "c")))
        .unwrap();
    assert_eq!(s.centroid("m").unwrap(), None);
    assert!(s.set_centroid("m", &v).unwrap());
    assert!(!s.set_centroid("x", &v).unwrap());
    assert_eq!(s.centroid("m").unwrap().unwrap(), v);
    assert_eq!(
        s.get("m").unwrap().unwrap().semantic_centroid,
        Some(b.clone())
    );
    // The centroid travels into the archive.
    assert!(s.archive("m", "test").unwrap());
    assert_eq!(s.archived("m").unwrap().unwrap().semantic_centroid, Some(b));
    assert_consistent(s.db());
}

#[test]
fn continuum_archive_is_atomic() {
    let (_d, s) = store();
    s.db()
        .clock()
        .at(t0(), || {
            s.add(&NewMemory::new("m", "keep me").importance(0.7))
        })
        .unwrap();
    s.db()
        .clock()
        .at(t0(), || s.add(&NewMemory::new("other", "o")))
        .unwrap();
    s.db()
        .clock()
        .at(t0(), || s.promote_with("m", None))
        .unwrap();
    s.db()
        .clock()
        .at(t0(), || s.promote_with("other", None))
        .unwrap();
    let when = t0() + Duration::days(1);
    assert!(
        s.db()
            .clock()
            .at(when, || s.delete_with("m", true, "user_deleted", false))
            .unwrap()
    );
    assert_eq!(s.get("m").unwrap(), None);
    let a = s.archived("m").unwrap().unwrap();
    assert_eq!(a.content, "keep me");
    assert_eq!(a.tier, "medium");
    assert_eq!(a.importance, Some(0.7));
    assert_eq!(a.archive_reason.as_deref(), Some("user_deleted"));
    assert_eq!(a.archived_at.as_deref(), Some("2026-01-06T10:00:00+00:00"));
    assert_eq!(a.created_at.as_deref(), Some("2026-01-05T10:00:00+00:00"));
    // Transitions of the deleted memory go with it (cascade); others stay.
    assert!(s.transitions("m").unwrap().is_empty());
    assert_eq!(s.transitions("other").unwrap().len(), 1);
    assert!(
        !s.db()
            .clock()
            .at(when, || s.delete_with("m", true, "again", false))
            .unwrap()
    );

    // Without archive: gone, nothing archived.
    assert!(
        s.db()
            .clock()
            .at(when, || s.delete_with("other", false, "x", false))
            .unwrap()
    );
    assert_eq!(s.archived("other").unwrap(), None);

    // Red line: refused without force, and the failed call changed nothing.
    s.db()
        .clock()
        .at(t0(), || s.add(&NewMemory::new("r", "core value")))
        .unwrap();
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.mark_red_line("r", "safety"))
            .unwrap()
    );
    assert!(
        !s.db()
            .clock()
            .at(t0(), || s.mark_red_line("zz", "safety"))
            .unwrap()
    );
    assert!(s.delete("r").is_err());
    assert!(s.get("r").unwrap().is_some());
    assert_eq!(s.archived("r").unwrap(), None);
    let r = s.read().unwrap();
    assert_eq!(r.count::<ContinuumMemoryArchive>().unwrap(), 1);
    drop(r);
    assert!(
        s.db()
            .clock()
            .at(when, || s.delete_with("r", true, "forced", true))
            .unwrap()
    );
    assert_eq!(
        s.archived("r").unwrap().unwrap().archive_reason.as_deref(),
        Some("forced")
    );
    let r = s.read().unwrap();
    assert_eq!(r.count::<ContinuumMemory>().unwrap(), 0);
    assert_eq!(r.count::<ContinuumMemoryArchive>().unwrap(), 2);
    assert_eq!(r.count::<TierTransition>().unwrap(), 0);
    drop(r);
    assert_consistent(s.db());
}

#[test]
fn continuum_cleanup_expired() {
    let (_d, s) = store();
    for id in ["old", "new", "never", "red"] {
        s.db()
            .clock()
            .at(t0(), || s.add(&NewMemory::new(id, id)))
            .unwrap();
    }
    s.set_expires_at("old", Some(t0() + Duration::hours(1)))
        .unwrap();
    s.set_expires_at("new", Some(t0() + Duration::days(10)))
        .unwrap();
    s.set_expires_at("red", Some(t0())).unwrap();
    s.db()
        .clock()
        .at(t0(), || s.mark_red_line("red", "keep"))
        .unwrap();
    let n = s
        .db()
        .clock()
        .at(t0() + Duration::days(1), || s.cleanup_expired())
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.get("old").unwrap(), None);
    assert_eq!(
        s.archived("old")
            .unwrap()
            .unwrap()
            .archive_reason
            .as_deref(),
        Some("expired")
    );
    for id in ["new", "never", "red"] {
        assert!(s.get(id).unwrap().is_some(), "{id}");
    }
    assert_consistent(s.db());
}

#[test]
fn continuum_tier_names() {
    for t in MemoryTier::ALL {
        assert_eq!(MemoryTier::parse(t.as_str()).unwrap(), t);
    }
    assert!(MemoryTier::parse("warm").is_err());
    assert_eq!(MemoryTier::Fast.faster(), None);
    assert_eq!(MemoryTier::Glacial.slower(), None);
    assert_eq!(MemoryTier::Slow.to_string(), "slow");
}
