//! Behaviour of CritiqueStore: debates with critiques, pattern ids and
//! upserts, failures, retrieval order, embeddings, reputation and
//! prediction outcomes.

use crate::common::assert_consistent;
use crate::common::store_dir;
use aragora_db::schema::critique::{Critique, Debate, PatternEmbedding};
use aragora_db::store::critique::{
    CritiqueInput, CritiqueStore, DebateInput, ReputationDelta, categorize_issue, pattern_id,
    success_rate,
};
use aragora_db::table::Read;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

fn store() -> (crate::common::StoreDir, CritiqueStore) {
    let (dir, cfg) = store_dir();
    (dir, CritiqueStore::open(&cfg).unwrap())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

fn critique(agent: &str, issues: &[&str], severity: f64) -> CritiqueInput {
    CritiqueInput {
        agent: agent.into(),
        target_agent: Some("target".into()),
        issues: issues.iter().map(|s| s.to_string()).collect(),
        suggestions: vec!["fix it".into()],
        severity,
        reasoning: "because".into(),
    }
}

#[test]
fn critique_pattern_id_known_answer() {
    // python3 -c 'import hashlib; print(hashlib.sha256("SQL injection in login form".lower().encode()).hexdigest()[:12])'
    assert_eq!(pattern_id("SQL injection in login form"), "915f34370c69");
    assert_eq!(pattern_id("sql INJECTION in login form"), "915f34370c69");
    assert_eq!(categorize_issue("SQL injection in login form"), "security");
    assert_eq!(categorize_issue("Loop is too slow"), "performance");
    assert_eq!(categorize_issue("No unit tests"), "testing");
    assert_eq!(categorize_issue("Off-by-one bug"), "correctness");
    assert_eq!(categorize_issue("Missing input range"), "completeness");
    assert_eq!(
        categorize_issue("Tight coupling of modules"),
        "architecture"
    );
    assert_eq!(categorize_issue("Confusing variable naming"), "clarity");
    assert_eq!(categorize_issue("Hmm"), "general");
}

#[test]
fn critique_debates_and_critiques() {
    let (_d, s) = store();
    let debate = DebateInput {
        id: "d1".into(),
        task: "Design a cache".into(),
        final_answer: Some("LRU".into()),
        consensus_reached: true,
        confidence: 0.8,
        rounds_used: 3,
        duration_seconds: 42.5,
        grounded_verdict: Some(json!({"score": 0.5, "citations": ["a"]})),
        critiques: vec![
            critique("claude", &["slow lookup", "no tests"], 0.4),
            critique("gpt", &["naïve eviction"], 0.6),
        ],
    };
    let ids = s.db().clock().at(t0(), || s.store_debate(&debate)).unwrap();
    assert_eq!(ids, vec![1, 2]);
    let d = s.get_debate("d1").unwrap().unwrap();
    assert_eq!(d.consensus_reached, Some(true));
    assert_eq!(
        d.grounded_verdict.as_deref(),
        Some(r#"{"citations": ["a"], "score": 0.5}"#)
    );
    assert_eq!(d.created_at.as_deref(), Some("2026-01-05T10:00:00+00:00"));
    let cs = s.critiques_for_debate("d1").unwrap();
    assert_eq!(cs.len(), 2);
    assert_eq!(
        cs[0].issues.as_deref(),
        Some(r#"["slow lookup", "no tests"]"#)
    );
    assert_eq!(cs[1].issues.as_deref(), Some(r#"["na\u00efve eviction"]"#));
    assert_eq!(cs[0].suggestions.as_deref(), Some(r#"["fix it"]"#));
    assert_eq!(cs[0].expected_usefulness, Some(0.5));
    assert_eq!(cs[0].led_to_improvement, Some(false));

    // A standalone critique, and one on a missing debate (refused).
    let lone = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_critique(&critique("claude", &["x"], 0.1), None)
        })
        .unwrap();
    assert_eq!(lone, 3);
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.store_critique(
                &critique("claude", &["x"], 0.1),
                Some("nope")
            ))
            .is_err()
    );
    assert_eq!(
        s.critiques_by_agent("claude")
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(s.get_critique(3).unwrap().unwrap().debate_id, None);

    // Replacing the debate keeps earlier critiques and adds the new ones.
    let mut again = debate.clone();
    again.final_answer = Some("LFU".into());
    again.critiques = vec![critique("gemini", &[], 0.2)];
    // The refused insert rolled back and used no id.
    assert_eq!(
        s.db().clock().at(t0(), || s.store_debate(&again)).unwrap(),
        vec![4]
    );
    assert_eq!(
        s.get_debate("d1").unwrap().unwrap().final_answer.as_deref(),
        Some("LFU")
    );
    assert_eq!(s.critiques_for_debate("d1").unwrap().len(), 3);
    assert_consistent(s.db());

    // Deleting the debate removes its critiques, not the standalone one.
    assert!(s.delete_debate("d1").unwrap());
    assert!(!s.delete_debate("d1").unwrap());
    let r = s.read().unwrap();
    assert_eq!(r.count::<Debate>().unwrap(), 0);
    assert_eq!(r.count::<Critique>().unwrap(), 1);
    drop(r);
    assert_consistent(s.db());
}

#[test]
fn critique_pattern_upserts() {
    let (_d, s) = store();
    let c1 = critique(
        "claude",
        &["SQL injection in login form", "Loop too slow"],
        0.8,
    );
    let long_task = "t".repeat(600);
    let ids = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_pattern(&c1, "use parameters", Some(&long_task))
        })
        .unwrap();
    assert_eq!(ids[0], "915f34370c69");
    let p = s.get_pattern("915f34370c69").unwrap().unwrap();
    assert_eq!(p.issue_type, "security");
    assert_eq!(p.issue_text, "SQL injection in login form");
    assert_eq!(p.suggestion_text.as_deref(), Some("use parameters"));
    assert_eq!((p.success_count, p.failure_count), (Some(1), Some(0)));
    assert_eq!(p.avg_severity, Some(0.8));
    assert_eq!(p.example_task.as_deref().unwrap().len(), 500);
    assert_eq!(
        s.get_pattern(&ids[1]).unwrap().unwrap().issue_type,
        "performance"
    );

    // Same issue (other case) again: success + 1, running mean of severity.
    let later = t0() + Duration::hours(1);
    let c2 = critique("gpt", &["sql injection IN LOGIN FORM"], 0.2);
    s.db()
        .clock()
        .at(later, || s.store_pattern(&c2, "other fix", None))
        .unwrap();
    let p = s
        .pattern_for_issue("SQL injection in login form")
        .unwrap()
        .unwrap();
    assert_eq!(p.success_count, Some(2));
    assert!((p.avg_severity.unwrap() - 0.5).abs() < 1e-12);
    // The first text and fix are kept.
    assert_eq!(p.issue_text, "SQL injection in login form");
    assert_eq!(p.suggestion_text.as_deref(), Some("use parameters"));
    assert_eq!(p.updated_at.as_deref(), Some("2026-01-05T11:00:00+00:00"));
    assert_eq!(p.created_at.as_deref(), Some("2026-01-05T10:00:00+00:00"));

    // Failures.
    assert_eq!(
        s.db()
            .clock()
            .at(later, || s
                .fail_pattern("SQL injection in login form", None))
            .unwrap(),
        "915f34370c69"
    );
    let p = s.get_pattern("915f34370c69").unwrap().unwrap();
    assert_eq!((p.success_count, p.failure_count), (Some(2), Some(1)));
    assert!((success_rate(&p) - 2.0 / 3.0).abs() < 1e-12);
    let fid = s
        .db()
        .clock()
        .at(later, || {
            s.fail_pattern("Weird thing", Some("architecture"))
        })
        .unwrap();
    let f = s.get_pattern(&fid).unwrap().unwrap();
    assert_eq!(f.issue_type, "architecture");
    assert_eq!((f.success_count, f.failure_count), (Some(0), Some(1)));
    assert_eq!(success_rate(&f), 0.0);

    // Retrieval: most successful first, then most recently updated.
    let all: Vec<String> = s
        .retrieve_patterns(None, 0, 10)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(
        all,
        vec!["915f34370c69".to_string(), ids[1].clone(), fid.clone()]
    );
    let sec = s.retrieve_patterns(Some("security"), 0, 10).unwrap();
    assert_eq!(sec.len(), 1);
    assert_eq!(s.retrieve_patterns(None, 1, 10).unwrap().len(), 2);
    assert_eq!(s.retrieve_patterns(None, 0, 1).unwrap().len(), 1);
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.store_pattern(
                &critique("x", &["y"], f64::NAN),
                "f",
                None
            ))
            .is_err()
    );
    assert_consistent(s.db());
}

#[test]
fn critique_pattern_embeddings() {
    let (_d, s) = store();
    let ids = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_pattern(&critique("a", &["Missing docs"], 0.5), "fix", None)
        })
        .unwrap();
    let v = [0.5f32, -1.0, 2.25];
    assert_eq!(s.pattern_embedding(&ids[0]).unwrap(), None);
    s.set_pattern_embedding(&ids[0], &v).unwrap();
    assert_eq!(s.pattern_embedding(&ids[0]).unwrap().unwrap(), v);
    let raw: PatternEmbedding = s.read().unwrap().get(ids[0].as_str()).unwrap().unwrap();
    // struct.pack('<3f', 0.5, -1.0, 2.25)
    assert_eq!(
        raw.embedding.unwrap(),
        vec![0, 0, 0, 0x3f, 0, 0, 0x80, 0xbf, 0, 0, 0x10, 0x40]
    );
    s.set_pattern_embedding(&ids[0], &[1.0]).unwrap();
    assert_eq!(s.pattern_embedding(&ids[0]).unwrap().unwrap(), [1.0]);
    // An embedding needs its pattern.
    assert!(s.set_pattern_embedding("000000000000", &v).is_err());
    assert_consistent(s.db());
    // Deleting the pattern deletes its embedding.
    assert!(s.delete_pattern(&ids[0]).unwrap());
    assert!(!s.delete_pattern(&ids[0]).unwrap());
    assert_eq!(s.read().unwrap().count::<PatternEmbedding>().unwrap(), 0);
    assert_consistent(s.db());
}

#[test]
fn critique_reputation_and_predictions() {
    let (_d, s) = store();
    assert_eq!(s.get_reputation("claude").unwrap(), None);
    let made = ReputationDelta {
        proposal_made: true,
        ..Default::default()
    };
    let accepted = ReputationDelta {
        proposal_made: true,
        proposal_accepted: true,
        critique_given: true,
        critique_valuable: true,
    };
    s.db()
        .clock()
        .at(t0(), || s.update_reputation("claude", made))
        .unwrap();
    s.db()
        .clock()
        .at(t0() + Duration::minutes(1), || {
            s.update_reputation("claude", accepted)
        })
        .unwrap();
    s.db()
        .clock()
        .at(t0(), || s.update_reputation("gpt", made))
        .unwrap();
    let r = s.get_reputation("claude").unwrap().unwrap();
    assert_eq!(r.proposals_made, Some(2));
    assert_eq!(r.proposals_accepted, Some(1));
    assert_eq!(r.critiques_given, Some(1));
    assert_eq!(r.critiques_valuable, Some(1));
    assert_eq!(r.calibration_score, Some(0.5));
    assert_eq!(r.updated_at.as_deref(), Some("2026-01-05T10:01:00+00:00"));
    let names: Vec<String> = s
        .reputations()
        .unwrap()
        .into_iter()
        .map(|r| r.agent_name)
        .collect();
    assert_eq!(names, ["claude", "gpt"]);

    let cid = s
        .db()
        .clock()
        .at(t0(), || {
            s.store_critique(&critique("claude", &["x"], 0.5), None)
        })
        .unwrap();
    let err = s
        .db()
        .clock()
        .at(t0(), || s.update_prediction_outcome(cid, 0.9, None))
        .unwrap()
        .unwrap();
    assert!((err - 0.4).abs() < 1e-12);
    let c = s.get_critique(cid).unwrap().unwrap();
    assert_eq!(c.actual_usefulness, Some(0.9));
    assert!((c.prediction_error.unwrap() - 0.4).abs() < 1e-12);
    let r = s.get_reputation("claude").unwrap().unwrap();
    assert_eq!(r.total_predictions, Some(1));
    assert!((r.calibration_score.unwrap() - 0.6).abs() < 1e-12);
    // An explicit agent, new to the table, gets a row.
    s.db()
        .clock()
        .at(t0(), || {
            s.update_prediction_outcome(cid, 0.5, Some("judge"))
        })
        .unwrap();
    let j = s.get_reputation("judge").unwrap().unwrap();
    assert_eq!(j.total_predictions, Some(1));
    assert_eq!(j.calibration_score, Some(1.0));
    assert_eq!(j.proposals_made, Some(0));
    assert_eq!(
        s.db()
            .clock()
            .at(t0(), || s.update_prediction_outcome(999, 0.5, None))
            .unwrap(),
        None
    );
    assert!(
        s.db()
            .clock()
            .at(t0(), || s.update_prediction_outcome(cid, f64::NAN, None))
            .is_err()
    );
    assert_consistent(s.db());
}

#[test]
fn critique_prune_stale_patterns() {
    let (_d, s) = store();
    let old = t0();
    let ids = s
        .db()
        .clock()
        .at(old, || {
            s.store_pattern(
                &critique("a", &["Missing docs", "Bug here"], 0.5),
                "f",
                None,
            )
        })
        .unwrap();
    // "Missing docs": 1 success, 3 failures (rate 0.25) → pruned;
    // "Bug here": rate 1.0 → kept; "Fresh fail": recent → kept.
    for _ in 0..3 {
        s.db()
            .clock()
            .at(old, || s.fail_pattern("Missing docs", None))
            .unwrap();
    }
    s.set_pattern_embedding(&ids[0], &[1.0, 2.0]).unwrap();
    let now = old + Duration::days(100);
    let fresh = s
        .db()
        .clock()
        .at(now, || s.fail_pattern("Fresh fail", None))
        .unwrap();
    assert_eq!(
        s.db()
            .clock()
            .at(now, || s.prune_stale_patterns(90, 0.3, true))
            .unwrap(),
        1
    );
    assert!(s.get_pattern(&ids[0]).unwrap().is_none());
    assert!(s.get_pattern(&ids[1]).unwrap().is_some());
    assert!(s.get_pattern(&fresh).unwrap().is_some());
    assert_eq!(s.pattern_embedding(&ids[0]).unwrap(), None);
    let a = s.archived_patterns().unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rowid, 1);
    assert_eq!(a[0].id.as_deref(), Some(ids[0].as_str()));
    assert_eq!((a[0].success_count, a[0].failure_count), (Some(1), Some(3)));
    assert_consistent(s.db());
    // Later: everything stale below 1.01 goes; rowids continue.
    let later = now + Duration::days(100);
    assert_eq!(
        s.db()
            .clock()
            .at(later, || s.prune_stale_patterns(90, 1.01, true))
            .unwrap(),
        2
    );
    let rowids: Vec<i64> = s
        .archived_patterns()
        .unwrap()
        .iter()
        .map(|a| a.rowid)
        .collect();
    assert_eq!(rowids, vec![1, 2, 3]);
    // Without archive nothing is copied.
    s.db()
        .clock()
        .at(old, || s.fail_pattern("Another", None))
        .unwrap();
    assert_eq!(
        s.db()
            .clock()
            .at(later, || s.prune_stale_patterns(90, 0.3, false))
            .unwrap(),
        1
    );
    assert_eq!(s.archived_patterns().unwrap().len(), 3);
    assert_consistent(s.db());
}
