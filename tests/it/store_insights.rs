//! InsightStore: debate insights, summaries, performance history,
//! patterns, usage and wisdom.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::store::insights::{
    AgentPerformanceInput, DebateInsights, InsightStore, NewInsight,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::json;

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

fn local(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 6, 1)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

fn utc(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, h, 0, 0).unwrap()
}

fn insight(
    id: &str,
    ty: &str,
    title: &str,
    conf: f64,
    debate: &str,
    agents: &[&str],
) -> NewInsight {
    NewInsight {
        id: id.into(),
        insight_type: ty.into(),
        title: title.into(),
        description: format!("about {title}"),
        confidence: conf,
        debate_id: debate.into(),
        agents_involved: agents.iter().map(|a| a.to_string()).collect(),
        evidence: vec!["msg 1".into()],
        metadata: vec![],
        created_at: None,
    }
}

fn perf(agent: &str, accepted: bool, score: f64) -> AgentPerformanceInput {
    AgentPerformanceInput {
        agent_name: agent.into(),
        proposals_made: 2,
        critiques_given: 1,
        critiques_received: 3,
        proposal_accepted: accepted,
        vote_aligned: !accepted,
        avg_critique_severity: 0.4,
        contribution_score: score,
    }
}

fn debate(
    id: &str,
    insights: Vec<NewInsight>,
    perfs: Vec<AgentPerformanceInput>,
) -> DebateInsights {
    DebateInsights {
        debate_id: id.into(),
        task: format!("task {id}"),
        consensus_reached: true,
        duration_seconds: 12.5,
        key_takeaway: "ship it".into(),
        insights,
        agent_performances: perfs,
    }
}

#[test]
fn store_and_query_debate_insights() {
    let (_d, cfg) = store_dir();
    let s = InsightStore::open(&cfg).unwrap();
    let mut pat = insight("i3", "pattern", "Missing tests", 0.6, "d1", &["gpt"]);
    pat.metadata = vec![
        ("category".into(), json!("quality")),
        ("severity".into(), json!(0.7)),
    ];
    let n = s
        .db()
        .clock()
        .at((local(9), utc(8)), || {
            s.store_debate_insights(&debate(
                "d1",
                vec![
                    insight(
                        "i1",
                        "consensus",
                        "Agreed on caching",
                        0.9,
                        "d1",
                        &["claude", "gpt"],
                    ),
                    insight("i2", "dissent", "Disagreed on \u{e9}", 0.4, "d1", &["gpt"]),
                    pat.clone(),
                ],
                vec![perf("claude", true, 0.8), perf("gpt", false, 0.3)],
            ))
        })
        .unwrap();
    assert_eq!(n, 3);

    let sum = s.get_debate_summary("d1").unwrap().unwrap();
    assert_eq!(sum.total_insights, Some(3));
    assert_eq!(sum.consensus_reached, Some(true));
    crate::common::assert_stored_time(sum.created_at.as_deref(), "2026-06-01 08:00:00");
    crate::common::assert_stored_json(
        sum.agent_performances.as_deref(),
        r#"[{"agent": "claude", "proposals": 2, "accepted": true, "score": 0.8}, {"agent": "gpt", "proposals": 2, "accepted": false, "score": 0.3}]"#,
    );

    let i1 = s.get_insight("i1").unwrap().unwrap();
    assert_eq!(i1.insight_type, "consensus");
    crate::common::assert_stored_json(i1.agents_involved.as_deref(), r#"["claude", "gpt"]"#);
    crate::common::assert_stored_json(i1.evidence.as_deref(), r#"["msg 1"]"#);
    assert_eq!(i1.metadata.as_deref(), Some("{}"));
    crate::common::assert_stored_time(i1.created_at.as_deref(), "2026-06-01T09:00:00");
    assert_eq!(
        s.get_insight("i2").unwrap().unwrap().title,
        "Disagreed on \u{e9}"
    );
    crate::common::assert_stored_json(
        s.get_insight("i3").unwrap().unwrap().metadata.as_deref(),
        r#"{"category": "quality", "severity": 0.7}"#,
    );

    let d1: Vec<String> = s
        .insights_for_debate("d1")
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(d1, ["i1", "i3", "i2"]);
    assert_eq!(s.insights_by_type("dissent", 10).unwrap().len(), 1);
    assert!(s.insights_by_type("decision", 10).unwrap().is_empty());
    let gpt: Vec<String> = s
        .insights_for_agent("gpt", 10)
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(gpt, ["i1", "i3", "i2"]);
    assert_eq!(s.insights_for_agent("claude", 10).unwrap().len(), 1);
    assert_eq!(s.insights_for_agent("gpt", 1).unwrap().len(), 1);

    // Performance history and stats.
    let h = s.agent_performance_history("claude", 10).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].proposal_accepted, Some(true));
    assert_eq!(h[0].vote_aligned, Some(false));
    assert_eq!(h[0].debate_id.as_deref(), Some("d1"));

    // A second debate: pattern seen again, more performance rows.
    let mut pat2 = insight("i4", "pattern", "Missing tests", 0.5, "d2", &[]);
    pat2.metadata = vec![("category".into(), json!("quality"))];
    let mut other = insight("i5", "pattern", "Slow CI", 0.5, "d2", &[]);
    other.created_at = Some(local(7));
    s.db()
        .clock()
        .at((local(10), utc(9)), || {
            s.store_debate_insights(&debate(
                "d2",
                vec![pat2, other],
                vec![perf("claude", false, 0.4)],
            ))
        })
        .unwrap();
    let pats = s.patterns(None).unwrap();
    assert_eq!(pats.len(), 2);
    assert_eq!(pats[0].pattern_text.as_deref(), Some("Missing tests"));
    assert_eq!(pats[0].occurrence_count, Some(2));
    assert_eq!(pats[0].avg_severity, Some(0.7));
    crate::common::assert_stored_json(pats[0].debate_ids.as_deref(), r#"["d1","d2"]"#);
    crate::common::assert_stored_time(pats[0].first_seen.as_deref(), "2026-06-01T09:00:00");
    crate::common::assert_stored_time(pats[0].last_seen.as_deref(), "2026-06-01T10:00:00");
    assert_eq!(pats[1].category.as_deref(), Some("general"));
    crate::common::assert_stored_json(pats[1].debate_ids.as_deref(), r#"["d2"]"#);
    crate::common::assert_stored_time(pats[1].first_seen.as_deref(), "2026-06-01T07:00:00");
    assert_eq!(s.patterns(Some("quality")).unwrap().len(), 1);

    let st = s.agent_stats("claude").unwrap();
    assert_eq!(st.debates, 2);
    assert_eq!(st.proposals_made, 4);
    assert_eq!(st.proposals_accepted, 1);
    assert_eq!(st.votes_aligned, 1);
    assert!((st.avg_contribution - 0.6).abs() < 1e-12);
    let recent: Vec<String> = s
        .recent_summaries(10)
        .unwrap()
        .into_iter()
        .map(|d| d.debate_id)
        .collect();
    assert_eq!(recent, ["d2", "d1"]);

    // Storing d1 again replaces its summary and insights, appends rows.
    s.db()
        .clock()
        .at((local(11), utc(10)), || {
            s.store_debate_insights(&debate("d1", vec![], vec![perf("claude", true, 0.9)]))
        })
        .unwrap();
    assert_eq!(
        s.get_debate_summary("d1").unwrap().unwrap().total_insights,
        Some(0)
    );
    assert_eq!(s.agent_performance_history("claude", 10).unwrap().len(), 3);
    assert_eq!(
        s.agent_performance_history("claude", 1).unwrap()[0].contribution_score,
        Some(0.9)
    );

    // Validation happens before anything is written.
    assert!(matches!(
        s.store_debate_insights(&debate(
            "d9",
            vec![insight("x", "gossip", "t", 0.5, "d9", &[])],
            vec![]
        )),
        Err(Error::InvalidArgument(_))
    ));
    assert!(s.get_debate_summary("d9").unwrap().is_none());
    assert!(matches!(
        s.store_insight(&insight("x", "decision", "t", 1.5, "d9", &[])),
        Err(Error::InvalidArgument(_))
    ));
    let single = s
        .store_insight(&insight("i9", "decision", "Go", 1.0, "d9", &["claude"]))
        .unwrap();
    let mut got = s.get_insight("i9").unwrap().unwrap();
    crate::common::assert_stored_time(
        got.created_at.as_deref(),
        single.created_at.as_deref().unwrap(),
    );
    got.created_at = single.created_at.clone();
    assert_eq!(got, single);
    assert_clean(s.db());
}

#[test]
fn usage_and_wisdom() {
    let (_d, cfg) = store_dir();
    let s = InsightStore::open(&cfg).unwrap();
    let u1 = s
        .db()
        .clock()
        .at(utc(8), || s.record_insight_usage("i1", "d1", false))
        .unwrap();
    s.db()
        .clock()
        .at(utc(9), || s.record_insight_usage("i1", "d2", true))
        .unwrap();
    let u3 = s
        .db()
        .clock()
        .at(utc(10), || s.record_insight_usage("i1", "d1", true))
        .unwrap();
    assert!(u3.id > u1.id, "INSERT OR REPLACE hands out a new id");
    crate::common::assert_stored_time(u3.created_at.as_deref(), "2026-06-01 10:00:00");
    assert_eq!(s.insight_usage_stats("i1").unwrap(), (2, 2));
    assert_eq!(s.insight_usage_stats("i2").unwrap(), (0, 0));
    s.record_insight_usage("i2", "d1", false).unwrap();
    assert_eq!(s.insight_usage_stats("i2").unwrap(), (1, 0));

    let long = "x".repeat(300);
    let w1 = s
        .add_wisdom_submission("L1", &long, None, Some("tag"))
        .unwrap();
    let w2 = s
        .add_wisdom_submission("L1", "be brief", Some("user-7"), None)
        .unwrap();
    s.add_wisdom_submission("L2", "other loop", None, None)
        .unwrap();
    let unused = s.unused_wisdom("L1").unwrap();
    assert_eq!(unused.len(), 2);
    assert_eq!(unused[0].text.chars().count(), 280);
    assert_eq!(unused[0].submitter_id.as_deref(), Some("anonymous"));
    assert_eq!(unused[1].submitter_id.as_deref(), Some("user-7"));
    assert!(s.mark_wisdom_used(w1).unwrap());
    assert!(!s.mark_wisdom_used(999).unwrap());
    let unused = s.unused_wisdom("L1").unwrap();
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0].id, w2);
    assert_clean(s.db());
}
