//! NomicStore: cycles, debate artifacts, stream events, metrics, loop
//! summary, rollbacks, cycle evolution and file changes.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::config::DatabaseMode;
use aragora_db::db::Database;
use aragora_db::schema::evolution::CycleFileChange;
use aragora_db::schema::supabase::{AgentMetrics, NomicCycle};
use aragora_db::store::nomic::{
    EventQuery, NewCycleEvolution, NewDebateArtifact, NewRollback, NewStreamEvent, NomicStore,
};
use aragora_db::table::Page;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, h, m, 0).unwrap()
}

fn cycle(loop_id: &str, n: i64, phase: &str, started: &str, success: Option<bool>) -> NomicCycle {
    NomicCycle {
        loop_id: loop_id.into(),
        cycle_number: n,
        phase: phase.into(),
        stage: Some("proposing".into()),
        started_at: started.into(),
        success,
        ..NomicCycle::default()
    }
}

#[test]
fn cycles_save_get_list() {
    let (_d, cfg) = store_dir();
    let s = NomicStore::open(&cfg).unwrap();
    let id = s
        .save_cycle(&cycle(
            "L1",
            1,
            "debate",
            "2026-05-01T10:00:00+00:00",
            Some(true),
        ))
        .unwrap();
    assert_eq!(id.len(), 36);
    s.save_cycle(&cycle("L1", 1, "design", "2026-05-01T10:05:00+00:00", None))
        .unwrap();
    s.save_cycle(&cycle(
        "L1",
        2,
        "debate",
        "2026-05-01T11:00:00.500000+00:00",
        Some(false),
    ))
    .unwrap();
    s.save_cycle(&cycle(
        "L2",
        1,
        "debate",
        "2026-05-01T09:00:00+00:00",
        Some(true),
    ))
    .unwrap();

    let c1 = s.get_cycle("L1", 1).unwrap();
    assert_eq!(
        c1.iter().map(|c| c.phase.as_str()).collect::<Vec<_>>(),
        ["debate", "design"]
    );
    assert_eq!(c1[0].id, id);
    assert!(c1[0].created_at.as_deref().unwrap().ends_with("+00:00"));
    let mut upd = c1[1].clone();
    upd.success = Some(true);
    upd.completed_at = Some("2026-05-01T10:30:00+00:00".into());
    upd.completed_tasks = Some(3);
    assert_eq!(s.save_cycle(&upd).unwrap(), upd.id);
    let got = s.get_cycle_phase("L1", 1, "design").unwrap().unwrap();
    assert_eq!(got, upd);
    assert!(s.get_cycle_phase("L1", 1, "verify").unwrap().is_none());
    // A second row for the same (loop, cycle, phase) is refused.
    assert!(
        s.save_cycle(&cycle("L1", 1, "debate", "2026-05-01T12:00:00+00:00", None))
            .is_err()
    );

    let l1 = s.list_cycles(Some("L1"), Page::default()).unwrap();
    assert_eq!(
        l1.iter()
            .map(|c| (c.cycle_number, c.phase.as_str()))
            .collect::<Vec<_>>(),
        [(2, "debate"), (1, "design"), (1, "debate")]
    );
    assert_eq!(s.list_cycles(None, Page::default()).unwrap().len(), 4);
    let page = s.list_cycles(None, Page::first(2).skip(1)).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].phase, "design");

    let sum = s.loop_summary("L1").unwrap();
    assert_eq!(sum.total_cycles, 2);
    assert_eq!(sum.successful_cycles, 1);
    assert_eq!(sum.success_rate, 0.5);
    assert_eq!(sum.phases_completed[0], ("debate".to_string(), 1));
    assert_eq!(sum.phases_completed[1], ("design".to_string(), 1));
    assert_clean(s.db());
}

#[test]
fn debates_events_metrics() {
    let (_d, cfg) = store_dir();
    let s = NomicStore::open(&cfg).unwrap();
    let d = s
        .save_debate(&NewDebateArtifact {
            loop_id: "L1".into(),
            cycle_number: 1,
            phase: "debate".into(),
            task: "Improve caching".into(),
            agents: vec!["claude".into(), "gpt".into()],
            transcript: vec![json!({"agent": "claude", "content": "caf\u{e9}"})],
            consensus_reached: true,
            confidence: 0.85,
            vote_tally: Some(vec![("gpt".into(), json!(1)), ("claude".into(), json!(2))]),
            created_at: Some(t(10, 0)),
            ..NewDebateArtifact::default()
        })
        .unwrap();
    assert_eq!(d.agents, r#"["claude", "gpt"]"#);
    assert_eq!(
        d.transcript,
        r#"[{"agent": "claude", "content": "caf\u00e9"}]"#
    );
    assert_eq!(d.vote_tally.as_deref(), Some(r#"{"gpt": 1, "claude": 2}"#));
    assert_eq!(d.created_at.as_deref(), Some("2026-05-01T10:00:00+00:00"));
    assert!(d.consensus_reached);
    let mut got = s.get_debate(&d.id).unwrap().unwrap();
    crate::common::assert_stored_json(Some(&got.transcript), &d.transcript);
    got.transcript = d.transcript.clone();
    assert_eq!(got, d);
    assert_eq!(s.increment_views(&d.id).unwrap(), Some(1));
    assert_eq!(s.increment_views("nope").unwrap(), None);
    s.save_debate(&NewDebateArtifact {
        loop_id: "L1".into(),
        cycle_number: 2,
        phase: "design".into(),
        task: "Design".into(),
        created_at: Some(t(11, 0)),
        ..NewDebateArtifact::default()
    })
    .unwrap();
    let all = s.list_debates(Some("L1"), None, 50).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].phase, "design");
    assert_eq!(all[1].view_count, Some(1));
    assert_eq!(s.list_debates(None, Some("debate"), 50).unwrap().len(), 1);
    assert_eq!(
        s.list_debates(Some("L1"), Some("design"), 50)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.list_debates(None, None, 1).unwrap().len(), 1);

    let ev = |cycle, ty: &str, m| NewStreamEvent {
        loop_id: "L1".into(),
        cycle,
        event_type: ty.into(),
        event_data: vec![("phase".into(), json!("debate")), ("n".into(), json!(m))],
        agent: None,
        timestamp: Some(t(12, m as u32)),
    };
    let first = s.save_event(&ev(1, "cycle_start", 0)).unwrap();
    assert_eq!(first.event_data, r#"{"phase": "debate", "n": 0}"#);
    assert_eq!(
        s.save_events_batch(&[
            ev(1, "phase_start", 5),
            ev(2, "cycle_start", 10),
            ev(2, "error", 3)
        ])
        .unwrap(),
        4 - 1
    );
    let all = s.get_events("L1", &EventQuery::default()).unwrap();
    assert_eq!(
        all.iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["cycle_start", "error", "phase_start", "cycle_start"]
    );
    let q = EventQuery {
        cycle: Some(2),
        ..EventQuery::default()
    };
    assert_eq!(s.get_events("L1", &q).unwrap().len(), 2);
    let q = EventQuery {
        event_type: Some("cycle_start"),
        since: Some(t(12, 1)),
        ..EventQuery::default()
    };
    let got = s.get_events("L1", &q).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].cycle, 2);
    let q = EventQuery {
        limit: Some(1),
        ..EventQuery::default()
    };
    assert_eq!(s.get_events("L1", &q).unwrap()[0].id, first.id);
    assert!(
        s.get_events("L9", &EventQuery::default())
            .unwrap()
            .is_empty()
    );

    let mid = s
        .save_metrics(&AgentMetrics {
            loop_id: "L1".into(),
            cycle: 1,
            agent_name: "claude".into(),
            model: "opus".into(),
            phase: "debate".into(),
            proposals_made: Some(2),
            avg_response_time_ms: Some(1234.5),
            ..AgentMetrics::default()
        })
        .unwrap();
    let m = s.agent_metrics("claude", 10).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].id, mid);
    assert!(m[0].timestamp.is_some());

    let sum = s.loop_summary("L1").unwrap();
    assert_eq!(sum.total_debates, 2);
    assert_eq!(sum.consensus_rate, 0.5);
    assert_clean(s.db());
}

#[test]
fn rollbacks_evolution_file_changes() {
    let (_d, cfg) = store_dir();
    let s = NomicStore::open(&cfg).unwrap();
    let rb = s
        .save_rollback(&NewRollback {
            loop_id: "L1".into(),
            cycle_number: 3,
            phase: "verify".into(),
            reason: "verify_failure".into(),
            severity: "high".into(),
            files_affected: vec!["a.py".into(), "b.py".into()],
            created_at: Some(t(9, 0)),
            ..NewRollback::default()
        })
        .unwrap();
    assert_eq!(rb.files_affected.as_deref(), Some(r#"["a.py", "b.py"]"#));
    assert_eq!(rb.diff_summary.as_deref(), Some(""));
    assert!(matches!(
        s.save_rollback(&NewRollback {
            reason: "boredom".into(),
            severity: "low".into(),
            ..NewRollback::default()
        }),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(s.rollbacks("L1").unwrap(), std::slice::from_ref(&rb));

    let ev = s
        .save_cycle_evolution(&NewCycleEvolution {
            loop_id: "L1".into(),
            cycle_number: 3,
            files_changed: vec!["a.py".into()],
            rollback_id: Some(rb.id.clone()),
            ..NewCycleEvolution::default()
        })
        .unwrap();
    assert_eq!(s.cycle_evolution("L1", 3).unwrap(), Some(ev.clone()));
    assert!(s.cycle_evolution("L1", 4).unwrap().is_none());
    // The rollback reference is enforced.
    assert!(
        s.save_cycle_evolution(&NewCycleEvolution {
            loop_id: "L1".into(),
            cycle_number: 5,
            rollback_id: Some("missing".into()),
            ..NewCycleEvolution::default()
        })
        .is_err()
    );

    let fc = |cycle, path: &str, kind: &str| CycleFileChange {
        loop_id: "L1".into(),
        cycle_number: cycle,
        file_path: path.into(),
        change_type: kind.into(),
        insertions: Some(3),
        deletions: Some(1),
        ..CycleFileChange::default()
    };
    s.save_file_change(&fc(3, "b.py", "modified")).unwrap();
    s.save_file_change(&fc(3, "a.py", "added")).unwrap();
    s.save_file_change(&fc(4, "a.py", "deleted")).unwrap();
    s.save_file_change(&fc(3, "a.py", "renamed")).unwrap();
    assert!(matches!(
        s.save_file_change(&fc(3, "c.py", "exploded")),
        Err(Error::InvalidArgument(_))
    ));
    let c3 = s.file_changes("L1", 3).unwrap();
    assert_eq!(
        c3.iter()
            .map(|c| (c.file_path.as_str(), c.change_type.as_str()))
            .collect::<Vec<_>>(),
        [("a.py", "renamed"), ("b.py", "modified")]
    );
    assert_eq!(s.file_history("a.py").unwrap().len(), 2);
    assert_clean(s.evolution_db());
}

#[test]
fn consolidated_mode_shares_core() {
    let (_d, cfg) = store_dir();
    let s = NomicStore::open(&cfg.with_mode(DatabaseMode::Consolidated)).unwrap();
    assert!(s.db().same_handle(s.evolution_db()));
    s.save_cycle(&cycle("L1", 1, "debate", "2026-05-01T10:00:00+00:00", None))
        .unwrap();
    assert_eq!(s.get_cycle("L1", 1).unwrap().len(), 1);
    assert_clean(s.db());
}
