//! Behaviour of ConsensusStore: the topic hash, storing consensus records
//! and dissents, lookups by hash and topic, cruxes, deletes and the
//! archive of old records.

use crate::common::assert_consistent;
use crate::common::store_dir;
use aragora_db::schema::consensus::{Consensus, ConsensusArchive, Dissent, DissentArchive};
use aragora_db::store::consensus::{
    CleanupCounts, ConsensusInput, ConsensusStore, ConsensusStrength, DissentInput, DissentType,
    topic_hash,
};
use aragora_db::table::Read;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

fn store() -> (crate::common::StoreDir, ConsensusStore) {
    let (dir, cfg) = store_dir();
    (dir, ConsensusStore::open(&cfg).unwrap())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

fn is_uuid4(s: &str) -> bool {
    s.len() == 36 && s.as_bytes()[14] == b'4' && s.chars().filter(|c| *c == '-').count() == 4
}

#[test]
fn consensus_topic_hash_known_answer() {
    // python3 -c 'import hashlib; print(hashlib.sha256(" ".join(sorted(set("Should we use Rust or rust for the DB".lower().split()))).encode()).hexdigest()[:16])'
    assert_eq!(
        topic_hash("Should we use Rust or rust for the DB"),
        "051a90cb4986e138"
    );
    // Case, order, repeated words and extra whitespace do not matter.
    assert_eq!(
        topic_hash("  the DB for rust  should we USE or "),
        "051a90cb4986e138"
    );
    assert_ne!(topic_hash("Should we use Go"), "051a90cb4986e138");
    assert_eq!(topic_hash("x").len(), 16);
}

#[test]
fn consensus_store_and_lookup() {
    let (_d, s) = store();
    let mut input = ConsensusInput::new(
        "Should we use Rust",
        "Yes, for the DB layer",
        ConsensusStrength::Strong,
        0.85,
    );
    input.participating_agents = vec!["claude".into(), "gpt".into()];
    input.agreeing_agents = vec!["claude".into()];
    input.dissenting_agents = vec!["gpt".into()];
    input.key_claims = vec!["memory safety".into()];
    input.tags = vec!["lang".into(), "db".into()];
    input.debate_duration = 12.5;
    input.rounds = 3;
    input.metadata = json!({"b": 1, "a": "é"});
    let row = s
        .db()
        .clock()
        .at(t0(), || s.store_consensus(&input))
        .unwrap();
    assert!(is_uuid4(&row.id), "{}", row.id);
    let hash = topic_hash("Should we use Rust");
    assert_eq!(row.topic_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(row.strength.as_deref(), Some("strong"));
    assert_eq!(row.domain.as_deref(), Some("general"));
    assert_eq!(row.tags.as_deref(), Some(r#"["lang", "db"]"#));
    assert_eq!(row.timestamp.as_deref(), Some("2026-01-05T10:00:00+00:00"));
    let want = format!(
        concat!(
            r#"{{"id": "{id}", "topic": "Should we use Rust", "topic_hash": "{h}", "#,
            r#""conclusion": "Yes, for the DB layer", "strength": "strong", "confidence": 0.85, "#,
            r#""participating_agents": ["claude", "gpt"], "agreeing_agents": ["claude"], "#,
            r#""dissenting_agents": ["gpt"], "key_claims": ["memory safety"], "#,
            r#""supporting_evidence": [], "dissent_ids": [], "domain": "general", "#,
            r#""tags": ["lang", "db"], "timestamp": "2026-01-05T10:00:00+00:00", "#,
            r#""debate_duration_seconds": 12.5, "rounds": 3, "supersedes": null, "#,
            r#""superseded_by": null, "metadata": {{"a": "\u00e9", "b": 1}}}}"#
        ),
        id = row.id,
        h = hash
    );
    assert_eq!(row.data.as_deref(), Some(want.as_str()));
    assert_eq!(s.get_consensus(&row.id).unwrap().unwrap(), row);

    // A later record on the same topic (other case and order).
    let later = s
        .db()
        .clock()
        .at(t0() + Duration::hours(1), || {
            s.store_consensus(&ConsensusInput::new(
                "rust we use SHOULD",
                "Still yes",
                ConsensusStrength::Unanimous,
                1.0,
            ))
        })
        .unwrap();
    s.db()
        .clock()
        .at(t0(), || {
            s.store_consensus(&ConsensusInput::new(
                "Other topic",
                "No",
                ConsensusStrength::Weak,
                0.3,
            ))
        })
        .unwrap();
    let ids = |v: Vec<Consensus>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.find_by_topic("Should we use Rust").unwrap()),
        vec![later.id.clone(), row.id.clone()]
    );
    assert_eq!(
        ids(s.find_by_topic_hash(&hash).unwrap()),
        vec![later.id.clone(), row.id.clone()]
    );
    assert_eq!(
        s.latest_for_topic("use rust should we")
            .unwrap()
            .unwrap()
            .id,
        later.id
    );
    assert!(s.find_by_topic("nothing here").unwrap().is_empty());
    assert_eq!(s.count().unwrap(), 3);
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.store_consensus(&ConsensusInput::new(
                "t",
                "c",
                ConsensusStrength::Split,
                f64::NAN
            )))
            .is_err()
    );
    assert_consistent(s.db());
}

#[test]
fn consensus_dissents() {
    let (_d, s) = store();
    let c = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_consensus(&ConsensusInput::new(
                "topic",
                "yes",
                ConsensusStrength::Moderate,
                0.6,
            ))
        })
        .unwrap();
    let mut d1 = DissentInput::new(&c.id, "gpt", DissentType::RiskWarning, "risky", "because");
    d1.confidence = 0.7;
    let a = s
        .db()
        .clock()
        .at(t0() + Duration::minutes(2), || s.store_dissent(&d1))
        .unwrap();
    let b = s
        .db()
        .clock()
        .at(t0() + Duration::minutes(1), || {
            s.store_dissent(&DissentInput::new(
                &c.id,
                "gemini",
                DissentType::Abstention,
                "pass",
                "",
            ))
        })
        .unwrap();
    assert!(is_uuid4(&a.id));
    assert_eq!(a.debate_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(a.dissent_type.as_deref(), Some("risk_warning"));
    assert_eq!(a.reasoning.as_deref(), Some("because"));
    let want = format!(
        concat!(
            r#"{{"id": "{id}", "debate_id": "{c}", "agent_id": "gpt", "#,
            r#""dissent_type": "risk_warning", "content": "risky", "reasoning": "because", "#,
            r#""confidence": 0.7, "acknowledged": false, "rebuttal": "", "#,
            r#""timestamp": "2026-01-05T10:02:00+00:00", "metadata": {{}}}}"#
        ),
        id = a.id,
        c = c.id
    );
    assert_eq!(a.data.as_deref(), Some(want.as_str()));
    // Oldest first.
    let listed: Vec<String> = s
        .dissents(&c.id)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, vec![b.id.clone(), a.id.clone()]);
    assert_eq!(s.get_dissent(&a.id).unwrap().unwrap(), a);
    // The consensus's data lists the dissents in the order stored.
    let data = s.consensus_data(&c.id).unwrap().unwrap();
    let ids = &data.iter().find(|(k, _)| k == "dissent_ids").unwrap().1;
    assert_eq!(ids, &json!([a.id, b.id]));
    // Key order of data is kept.
    assert_eq!(data[0].0, "id");
    assert_eq!(data.last().unwrap().0, "metadata");

    // A dissent on a missing consensus fails and writes nothing.
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.store_dissent(&DissentInput::new(
                "missing",
                "x",
                DissentType::MinorQuibble,
                "c",
                "r"
            )))
            .is_err()
    );
    assert_eq!(s.read().unwrap().count::<Dissent>().unwrap(), 2);

    // Deleting a dissent takes it out of dissent_ids.
    assert!(s.delete_dissent(&b.id).unwrap());
    assert!(!s.delete_dissent(&b.id).unwrap());
    let data = s.consensus_data(&c.id).unwrap().unwrap();
    let ids = &data.iter().find(|(k, _)| k == "dissent_ids").unwrap().1;
    assert_eq!(ids, &json!([a.id]));

    // Cruxes: at most five kept.
    let cruxes: Vec<Value> = (0..7).map(|i| json!({"claim": i})).collect();
    assert!(s.update_cruxes(&c.id, &cruxes).unwrap());
    assert!(!s.update_cruxes("missing", &cruxes).unwrap());
    let data = s.consensus_data(&c.id).unwrap().unwrap();
    let kept = &data.iter().find(|(k, _)| k == "belief_cruxes").unwrap().1;
    assert_eq!(kept.as_array().unwrap().len(), 5);
    assert!(
        s.get_consensus(&c.id)
            .unwrap()
            .unwrap()
            .data
            .unwrap()
            .ends_with(r#""belief_cruxes": [{"claim": 0}, {"claim": 1}, {"claim": 2}, {"claim": 3}, {"claim": 4}]}"#)
    );
    assert_consistent(s.db());

    // Deleting the consensus cascades to its dissents.
    assert!(s.delete_consensus(&c.id).unwrap());
    assert!(!s.delete_consensus(&c.id).unwrap());
    assert!(s.dissents(&c.id).unwrap().is_empty());
    assert_eq!(s.read().unwrap().count::<Dissent>().unwrap(), 0);
    assert_consistent(s.db());
}

#[test]
fn consensus_cleanup_old_records() {
    let (_d, s) = store();
    let old = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_consensus(&ConsensusInput::new(
                "old",
                "c",
                ConsensusStrength::Weak,
                0.5,
            ))
        })
        .unwrap();
    let new = s
        .db()
        .clock()
        .at(t0() + Duration::days(100), || {
            s.store_consensus(&ConsensusInput::new(
                "new",
                "c",
                ConsensusStrength::Weak,
                0.5,
            ))
        })
        .unwrap();
    // A newer dissent on the old consensus, an old dissent on the new one.
    let d_old_parent = s
        .db()
        .clock()
        .at(t0() + Duration::days(99), || {
            s.store_dissent(&DissentInput::new(
                &old.id,
                "a",
                DissentType::MinorQuibble,
                "x",
                "y",
            ))
        })
        .unwrap();
    let d_old = s
        .db()
        .clock()
        .at(t0() + Duration::days(1), || {
            s.store_dissent(&DissentInput::new(
                &new.id,
                "b",
                DissentType::MinorQuibble,
                "x",
                "y",
            ))
        })
        .unwrap();
    let d_keep = s
        .db()
        .clock()
        .at(t0() + Duration::days(100), || {
            s.store_dissent(&DissentInput::new(
                &new.id,
                "c",
                DissentType::MinorQuibble,
                "x",
                "y",
            ))
        })
        .unwrap();
    let old = s.get_consensus(&old.id).unwrap().unwrap();
    let now = t0() + Duration::days(120);
    let n = s
        .db()
        .clock()
        .at(now, || s.cleanup_old_records(90, true))
        .unwrap();
    assert_eq!(
        n,
        CleanupCounts {
            consensus: 1,
            dissent: 2
        }
    );
    assert!(s.get_consensus(&old.id).unwrap().is_none());
    assert!(s.get_consensus(&new.id).unwrap().is_some());
    assert!(s.get_dissent(&d_old_parent.id).unwrap().is_none());
    assert!(s.get_dissent(&d_old.id).unwrap().is_none());
    assert!(s.get_dissent(&d_keep.id).unwrap().is_some());
    let a = s.archived_consensus(&old.id).unwrap().unwrap();
    assert_eq!(a.topic.as_deref(), Some("old"));
    assert_eq!(a.data, old.data);
    assert_eq!(a.archived_at.as_deref(), Some("2026-05-05T10:00:00+00:00"));
    for d in [&d_old_parent, &d_old] {
        let ad = s.archived_dissent(&d.id).unwrap().unwrap();
        assert_eq!(ad.data, d.data);
        assert_eq!(ad.agent_id.as_deref(), Some(d.agent_id.as_str()));
    }
    assert_consistent(s.db());

    // Without archive: removed, nothing archived.
    let n = s
        .db()
        .clock()
        .at(now + Duration::days(365), || {
            s.cleanup_old_records(90, false)
        })
        .unwrap();
    assert_eq!(
        n,
        CleanupCounts {
            consensus: 1,
            dissent: 1
        }
    );
    assert!(s.archived_consensus(&new.id).unwrap().is_none());
    let r = s.read().unwrap();
    assert_eq!(r.count::<Consensus>().unwrap(), 0);
    assert_eq!(r.count::<Dissent>().unwrap(), 0);
    assert_eq!(r.count::<ConsensusArchive>().unwrap(), 1);
    assert_eq!(r.count::<DissentArchive>().unwrap(), 2);
    drop(r);
    assert_consistent(s.db());
}

#[test]
fn consensus_enum_names() {
    for v in ConsensusStrength::ALL {
        assert_eq!(ConsensusStrength::parse(v.as_str()).unwrap(), *v);
    }
    for v in DissentType::ALL {
        assert_eq!(DissentType::parse(v.as_str()).unwrap(), *v);
    }
    assert_eq!(ConsensusStrength::ALL.len(), 6);
    assert_eq!(DissentType::ALL.len(), 6);
    assert!(DissentType::parse("rant").is_err());
}

#[test]
fn consensus_supersede() {
    let (_d, s) = store();
    let v1 = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_consensus(&ConsensusInput::new(
                "topic",
                "v1",
                ConsensusStrength::Weak,
                0.4,
            ))
        })
        .unwrap();
    let v2 = s
        .db()
        .clock()
        .at(t0() + Duration::hours(1), || {
            s.supersede_consensus(
                &v1.id,
                &ConsensusInput::new("topic", "v2", ConsensusStrength::Strong, 0.9),
            )
        })
        .unwrap();
    let field = |id: &str, k: &str| {
        s.consensus_data(id)
            .unwrap()
            .unwrap()
            .into_iter()
            .find(|(key, _)| key == k)
            .unwrap()
            .1
    };
    assert_eq!(field(&v2.id, "supersedes"), json!(v1.id));
    assert_eq!(field(&v2.id, "superseded_by"), Value::Null);
    assert_eq!(field(&v1.id, "superseded_by"), json!(v2.id));
    let v3 = s
        .db()
        .clock()
        .at(t0() + Duration::hours(2), || {
            s.supersede_consensus(
                &v2.id,
                &ConsensusInput::new("topic", "v3", ConsensusStrength::Unanimous, 1.0),
            )
        })
        .unwrap();
    assert_eq!(s.current_version(&v1.id).unwrap().unwrap().id, v3.id);
    assert_eq!(s.current_version(&v3.id).unwrap().unwrap().id, v3.id);
    assert_eq!(s.current_version("missing").unwrap(), None);
    // A missing old record fails and writes nothing.
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.supersede_consensus(
                "missing",
                &ConsensusInput::new("topic", "v4", ConsensusStrength::Weak, 0.1)
            ))
            .is_err()
    );
    assert_eq!(s.count().unwrap(), 3);
    assert_eq!(s.latest_for_topic("topic").unwrap().unwrap().id, v3.id);
    assert_consistent(s.db());
}
