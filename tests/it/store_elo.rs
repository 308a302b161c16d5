//! Behaviour of EloStore: the ELO arithmetic, history, leaderboards,
//! per-domain ratings, idempotent matches, tournament and domain
//! calibration, relationships and input validation.

use crate::common::assert_consistent;
use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::schema::elo::{EloHistory, Match, Rating};
use aragora_db::store::elo::{
    ELO_INITIAL_RATING, ELO_K_FACTOR, EloStore, MatchInput, RelationshipDelta, bucket_key,
    compute_changes, domain_elo, expected_score,
};
use aragora_db::table::Read;
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

const EPS: f64 = 1e-9;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

fn store() -> (crate::common::StoreDir, EloStore) {
    let (dir, cfg) = store_dir();
    (dir, EloStore::open(&cfg).unwrap())
}

fn elo(s: &EloStore, agent: &str) -> f64 {
    s.get_rating(agent).unwrap().unwrap().elo.unwrap()
}

fn counts(s: &EloStore) -> (u64, u64) {
    let r = s.read().unwrap();
    (
        r.count::<Match>().unwrap(),
        r.count::<EloHistory>().unwrap(),
    )
}

#[test]
fn elo_formula() {
    assert!(close(expected_score(1500.0, 1500.0), 0.5));
    assert!(close(
        expected_score(1900.0, 1500.0),
        1.0 / (1.0 + 10f64.powf(-1.0))
    ));
    assert_eq!(ELO_K_FACTOR, 32.0);
    assert_eq!(ELO_INITIAL_RATING, 1500.0);
    // Sum of changes is zero for any ratings and scores.
    let ch = compute_changes(
        &[1612.0, 1433.5, 1500.0, 1777.0],
        &[3.0, 9.0, 3.0, 1.0],
        ELO_K_FACTOR,
    );
    assert!(ch.iter().sum::<f64>().abs() < 1e-9, "{ch:?}");
}

#[test]
fn two_players_equal_then_unequal_then_draw() {
    let (_d, s) = store();
    assert_eq!(s.get_rating("alice").unwrap(), None);

    // Equal ratings: ±K/2.
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
    let ch = s
        .db()
        .clock()
        .at(t0, || {
            s.record_match(&MatchInput::head_to_head("d1", "alice", "bob", false, None))
        })
        .unwrap();
    assert_eq!(
        ch,
        BTreeMap::from([("alice".into(), 16.0), ("bob".into(), -16.0)])
    );
    assert_eq!(elo(&s, "alice"), 1516.0);
    assert_eq!(elo(&s, "bob"), 1484.0);
    let m = s.get_match("d1").unwrap().unwrap();
    assert_eq!(m.winner.as_deref(), Some("alice"));
    crate::common::assert_stored_json(m.participants.as_deref(), r#"["alice", "bob"]"#);
    crate::common::assert_stored_json(m.scores.as_deref(), r#"{"alice": 1.0, "bob": 0.0}"#);
    crate::common::assert_stored_json(m.elo_changes.as_deref(), r#"{"alice": 16.0, "bob": -16.0}"#);
    crate::common::assert_stored_time(m.created_at.as_deref(), "2026-01-05 10:00:00");
    let a = s.get_rating("alice").unwrap().unwrap();
    assert_eq!(
        (a.wins, a.losses, a.draws, a.debates_count),
        (Some(1), Some(0), Some(0), Some(1))
    );
    crate::common::assert_stored_time(a.updated_at.as_deref(), "2026-01-05T10:00:00+00:00");
    assert_eq!(a.domain_elos.as_deref(), Some("{}"));

    // Unequal ratings (1484 beats 1516): 32 × (1 − 1/(1 + 10^(−32/400))).
    let ch = s
        .record_match(&MatchInput::new(
            "d2",
            &[("alice", 2.0), ("bob", 7.5)],
            None,
        ))
        .unwrap();
    let gain = 17.469501528975478;
    assert!(close(ch["bob"], gain), "{ch:?}");
    assert!(close(ch["alice"], -gain), "{ch:?}");
    assert!(close(elo(&s, "bob"), 1484.0 + gain));
    assert!(close(elo(&s, "alice"), 1516.0 - gain));
    assert_eq!(
        s.get_match("d2").unwrap().unwrap().winner.as_deref(),
        Some("bob")
    );

    // A draw between 1516 and 1484: the higher rated loses 32 × (0.5 − E).
    let (_d2, s2) = store();
    s2.record_match(&MatchInput::head_to_head("x", "alice", "bob", false, None))
        .unwrap();
    let ch = s2
        .record_match(&MatchInput::head_to_head("y", "alice", "bob", true, None))
        .unwrap();
    assert!(close(ch["alice"], -1.4695015289754778), "{ch:?}");
    assert!(close(ch["bob"], 1.4695015289754778), "{ch:?}");
    assert_eq!(s2.get_match("y").unwrap().unwrap().winner, None);
    let b = s2.get_rating("bob").unwrap().unwrap();
    assert_eq!(
        (b.wins, b.losses, b.draws, b.debates_count),
        (Some(0), Some(1), Some(1), Some(2))
    );
    assert!(ch.values().sum::<f64>().abs() < EPS);
    assert_consistent(s.db());
    assert_consistent(s2.db());
}

#[test]
fn three_player_matches() {
    let (_d, s) = store();
    // All at 1500: pairwise, K/(n−1) = 16 per unit of (actual − expected).
    let ch = s
        .record_match(&MatchInput::new(
            "m1",
            &[("x", 3.0), ("y", 2.0), ("z", 1.0)],
            None,
        ))
        .unwrap();
    assert_eq!(
        ch,
        BTreeMap::from([("x".into(), 16.0), ("y".into(), 0.0), ("z".into(), -16.0)])
    );
    let r = |a: &str| s.get_rating(a).unwrap().unwrap();
    assert_eq!(
        (r("x").wins, r("y").losses, r("z").losses),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        s.get_match("m1").unwrap().unwrap().winner.as_deref(),
        Some("x")
    );

    // Tie for top among fresh agents: both draw, the third loses.
    let ch = s
        .record_match(&MatchInput::new(
            "m2",
            &[("p", 2.0), ("q", 2.0), ("r", 1.0)],
            None,
        ))
        .unwrap();
    assert_eq!(
        ch,
        BTreeMap::from([("p".into(), 8.0), ("q".into(), 8.0), ("r".into(), -16.0)])
    );
    assert_eq!(
        (r("p").draws, r("q").draws, r("r").losses),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(s.get_match("m2").unwrap().unwrap().winner, None);

    // Unequal ratings now: the changes match compute_changes and sum to zero.
    let before = [elo(&s, "x"), elo(&s, "y"), elo(&s, "z")];
    let ch = s
        .record_match(&MatchInput::new(
            "m3",
            &[("z", 5.0), ("x", 4.0), ("y", 0.5)],
            None,
        ))
        .unwrap();
    let want = compute_changes(&[before[2], before[0], before[1]], &[5.0, 4.0, 0.5], 32.0);
    assert!(close(ch["z"], want[0]) && close(ch["x"], want[1]) && close(ch["y"], want[2]));
    // By hand: z (1484) beats x (1516) and y (1500); x beats y.
    let e = expected_score;
    let hand_z = 16.0 * ((1.0 - e(1484.0, 1516.0)) + (1.0 - e(1484.0, 1500.0)));
    assert!(close(ch["z"], hand_z));
    assert!(ch.values().sum::<f64>().abs() < EPS);
    assert!(close(elo(&s, "z"), 1484.0 + hand_z));
    assert_consistent(s.db());
}

#[test]
fn history_newest_first_and_leaderboard_order() {
    let (_d, s) = store();
    s.record_match(&MatchInput::head_to_head("d1", "a", "b", false, None))
        .unwrap();
    s.record_match(&MatchInput::head_to_head("d2", "a", "c", false, None))
        .unwrap();
    s.record_match(&MatchInput::head_to_head("d3", "b", "a", false, None))
        .unwrap();
    let h = s.history("a", 10).unwrap();
    assert_eq!(
        h.iter()
            .map(|e| e.debate_id.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["d3", "d2", "d1"]
    );
    assert_eq!(h[0].elo, elo(&s, "a"));
    assert_eq!(h[2].elo, 1516.0);
    assert_eq!(s.history("a", 1).unwrap().len(), 1);
    assert!(s.history("nobody", 5).unwrap().is_empty());

    // Ties on elo are broken by name: d and e both at 1500 after a draw.
    s.record_match(&MatchInput::head_to_head("d4", "e", "d", true, None))
        .unwrap();
    let names: Vec<String> = s
        .ratings()
        .unwrap()
        .into_iter()
        .map(|r| r.agent_name)
        .collect();
    let mut want: Vec<(f64, String)> = s
        .ratings()
        .unwrap()
        .into_iter()
        .map(|r| (r.elo.unwrap(), r.agent_name))
        .collect();
    want.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    assert_eq!(names, want.into_iter().map(|x| x.1).collect::<Vec<_>>());
    let pos = |n: &str| names.iter().position(|x| x == n).unwrap();
    assert_eq!(pos("d") + 1, pos("e"));
    let top2 = s.leaderboard(2, None).unwrap();
    assert_eq!(top2.len(), 2);
    assert_eq!(top2[0].agent_name, names[0]);
    assert!(top2[0].elo >= top2[1].elo);
    assert_consistent(s.db());
}

#[test]
fn per_domain_ratings() {
    let (_d, s) = store();
    s.record_match(&MatchInput::head_to_head(
        "d1",
        "a",
        "b",
        false,
        Some("math"),
    ))
    .unwrap();
    s.record_match(&MatchInput::head_to_head(
        "d2",
        "a",
        "b",
        false,
        Some("math"),
    ))
    .unwrap();
    s.record_match(&MatchInput::head_to_head(
        "d3",
        "c",
        "a",
        false,
        Some("poetry"),
    ))
    .unwrap();
    s.record_match(&MatchInput::head_to_head("d4", "b", "c", false, None))
        .unwrap();

    let a = s.get_rating("a").unwrap().unwrap();
    // math: a +16, then +32(1 − E(1516, 1484)) = +14.53…
    let second = 32.0 * (1.0 - expected_score(1516.0, 1484.0));
    assert!(close(domain_elo(&a, "math").unwrap(), 1516.0 + second));
    assert_eq!(domain_elo(&a, "poetry"), Some(1484.0));
    // Insertion order, Python json.dumps shape.
    let text = a.domain_elos.clone().unwrap();
    assert!(text.starts_with(r#"{"math": 1530.5"#), "{text}");
    assert!(text.ends_with(r#", "poetry": 1484.0}"#), "{text}");
    // A domain-less match leaves domain ratings alone.
    let c = s.get_rating("c").unwrap().unwrap();
    crate::common::assert_stored_json(c.domain_elos.as_deref(), r#"{"poetry": 1516.0}"#);
    assert_eq!(
        s.get_match("d1").unwrap().unwrap().domain.as_deref(),
        Some("math")
    );

    let math = s.leaderboard(10, Some("math")).unwrap();
    assert_eq!(
        math.iter()
            .map(|e| e.agent_name.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(close(math[0].elo, 1516.0 + second));
    assert!(close(math[1].elo, 1484.0 - second));
    let poetry = s.leaderboard(10, Some("poetry")).unwrap();
    assert_eq!(
        poetry
            .iter()
            .map(|e| (e.agent_name.as_str(), e.elo))
            .collect::<Vec<_>>(),
        [("c", 1516.0), ("a", 1484.0)]
    );
    assert!(s.leaderboard(10, Some("chess")).unwrap().is_empty());
    assert_consistent(s.db());
}

#[test]
fn duplicate_debate_id_is_idempotent() {
    let (_d, s) = store();
    let first = s
        .record_match(&MatchInput::new(
            "dup",
            &[("a", 1.0), ("b", 0.0), ("c", 0.5)],
            Some("law"),
        ))
        .unwrap();
    let ratings: Vec<Rating> = s.ratings().unwrap();
    let before = counts(&s);
    assert_eq!(before, (1, 3));
    // Same id, different content: the stored changes come back, nothing moves.
    let again = s
        .record_match(&MatchInput::head_to_head("dup", "b", "a", false, None))
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(counts(&s), before);
    assert_eq!(s.ratings().unwrap(), ratings);
    assert_consistent(s.db());
}

#[test]
fn tournament_calibration_brier_sums() {
    let (_d, s) = store();
    s.record_winner_prediction("t1", "p1", "alice", 0.9)
        .unwrap();
    s.record_winner_prediction("t1", "p2", "bob", 0.6).unwrap();
    // Replaced (unique tournament, predictor): only the latest counts.
    s.record_winner_prediction("t1", "p3", "alice", 0.2)
        .unwrap();
    s.record_winner_prediction("t1", "p3", "bob", 0.7).unwrap();
    s.record_winner_prediction("t2", "p1", "carol", 1.0)
        .unwrap();
    assert_eq!(s.winner_predictions("t1").unwrap().len(), 3);

    let t = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
    let res = s
        .db()
        .clock()
        .at(t, || s.resolve_tournament_calibration("t1", "alice"))
        .unwrap();
    assert_eq!(res.len(), 3);
    let by: BTreeMap<&str, (bool, f64)> = res
        .iter()
        .map(|r| (r.predictor_agent.as_str(), (r.correct, r.brier)))
        .collect();
    assert!(by["p1"].0 && close(by["p1"].1, 0.01));
    assert!(!by["p2"].0 && close(by["p2"].1, 0.36));
    assert!(!by["p3"].0 && close(by["p3"].1, 0.49));

    let p1 = s.get_rating("p1").unwrap().unwrap();
    assert_eq!(
        (p1.calibration_correct, p1.calibration_total),
        (Some(1), Some(1))
    );
    assert!(close(p1.calibration_brier_sum.unwrap(), 0.01));
    assert_eq!(p1.elo, Some(1500.0));
    for p in s.winner_predictions("t1").unwrap() {
        assert_eq!(p.actual_winner.as_deref(), Some("alice"));
        crate::common::assert_stored_time(p.resolved_at.as_deref(), "2026-02-01T12:00:00+00:00");
    }
    // Resolving again counts nothing twice.
    assert!(
        s.resolve_tournament_calibration("t1", "bob")
            .unwrap()
            .is_empty()
    );
    // A second tournament adds to the sums.
    s.resolve_tournament_calibration("t2", "dave").unwrap();
    let p1 = s.get_rating("p1").unwrap().unwrap();
    assert_eq!(
        (p1.calibration_correct, p1.calibration_total),
        (Some(1), Some(2))
    );
    assert!(close(p1.calibration_brier_sum.unwrap(), 1.01));
    assert!(s.winner_predictions("t2").unwrap()[0].resolved_at.is_some());
    assert_consistent(s.db());
}

#[test]
fn domain_calibration_and_buckets() {
    let (_d, s) = store();
    s.record_domain_prediction("a", "math", 0.75, true).unwrap();
    s.record_domain_prediction("a", "math", 0.7, false).unwrap();
    s.record_domain_prediction("a", "math", 1.0, true).unwrap();
    s.record_domain_prediction("a", "math", 0.05, false)
        .unwrap();
    s.record_domain_prediction("a", "law", 0.95, true).unwrap();

    let dc = s.domain_calibration("a", "math").unwrap().unwrap();
    assert_eq!((dc.total_predictions, dc.total_correct), (Some(4), Some(2)));
    let want = 0.25f64.powi(2) + 0.7f64.powi(2) + 0.0 + 0.05f64.powi(2);
    assert!(close(dc.brier_sum.unwrap(), want));

    let buckets = s.calibration_buckets("a", "math").unwrap();
    let got: Vec<(&str, Option<i64>, Option<i64>)> = buckets
        .iter()
        .map(|b| (b.bucket_key.as_str(), b.predictions, b.correct))
        .collect();
    assert_eq!(
        got,
        [
            ("0.0-0.1", Some(1), Some(0)),
            ("0.7-0.8", Some(2), Some(1)),
            ("0.9-1.0", Some(1), Some(1)),
        ]
    );
    assert!(close(buckets[1].brier_sum.unwrap(), 0.0625 + 0.49));
    assert_eq!(s.calibration_buckets("a", "law").unwrap().len(), 1);
    assert_eq!(bucket_key(0.3), "0.3-0.4");
    assert_consistent(s.db());
}

#[test]
fn relationships_are_stored_in_canonical_order() {
    let (_d, s) = store();
    let d = RelationshipDelta {
        debates: 1,
        critiques_a_to_b: 3,
        critiques_accepted_a_to_b: 2,
        position_changes_b_after_a: 1,
        a_wins_over_b: 1,
        ..Default::default()
    };
    // Given as (zed, amy): stored as (amy, zed) with directions swapped.
    let r = s.update_relationship("zed", "amy", d).unwrap();
    assert_eq!((r.agent_a.as_str(), r.agent_b.as_str()), ("amy", "zed"));
    assert_eq!(r.critique_count_b_to_a, Some(3));
    assert_eq!(r.critique_count_a_to_b, Some(0));
    assert_eq!(r.critique_accepted_b_to_a, Some(2));
    assert_eq!(r.position_changes_a_after_b, Some(1));
    assert_eq!(r.b_wins_over_a, Some(1));
    // Given as (amy, zed): added as is.
    let r = s
        .update_relationship(
            "amy",
            "zed",
            RelationshipDelta {
                debates: 1,
                agreements: 1,
                a_wins_over_b: 1,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (
            r.debate_count,
            r.agreement_count,
            r.a_wins_over_b,
            r.b_wins_over_a
        ),
        (Some(2), Some(1), Some(1), Some(1))
    );
    assert_eq!(s.relationship("zed", "amy").unwrap(), Some(r.clone()));
    assert_eq!(s.relationship("amy", "zed").unwrap(), Some(r));
    assert_eq!(
        s.read()
            .unwrap()
            .count::<aragora_db::schema::elo::AgentRelationship>()
            .unwrap(),
        1
    );
    assert!(matches!(
        s.update_relationship("amy", "amy", d),
        Err(Error::InvalidArgument(m)) if m.contains("agent_b")
    ));
    assert!(matches!(
        s.update_relationship("amy", "bo", RelationshipDelta { debates: -1, ..Default::default() }),
        Err(Error::InvalidArgument(m)) if m.contains("debates")
    ));
    assert_consistent(s.db());
}

#[test]
fn invalid_inputs_are_rejected_and_write_nothing() {
    let (_d, s) = store();
    let invalid = |r: aragora_db::Result<BTreeMap<String, f64>>, field: &str| match r {
        Err(Error::InvalidArgument(m)) => assert!(m.contains(field), "{m} should name {field}"),
        other => panic!("expected InvalidArgument naming {field}, got {other:?}"),
    };
    invalid(
        s.record_match(&MatchInput::new("d", &[], None)),
        "participants",
    );
    invalid(
        s.record_match(&MatchInput::new("d", &[("a", 1.0)], None)),
        "participants",
    );
    let mut m = MatchInput::new("d", &[("a", 1.0), ("b", 0.0)], None);
    m.scores.remove("b");
    invalid(s.record_match(&m), "scores");
    invalid(
        s.record_match(&MatchInput::new("d", &[("a", f64::NAN), ("b", 0.0)], None)),
        "scores",
    );
    invalid(
        s.record_match(&MatchInput::new("d", &[("a", 1.0), ("a", 0.0)], None)),
        "participants",
    );
    let mut m = MatchInput::new("d", &[("a", 1.0), ("b", 0.0)], None);
    m.scores.insert("ghost".into(), 3.0);
    invalid(s.record_match(&m), "scores");
    invalid(
        s.record_match(&MatchInput::new("", &[("a", 1.0), ("b", 0.0)], None)),
        "debate_id",
    );

    for c in [-0.1, 1.5, f64::NAN] {
        assert!(matches!(
            s.record_winner_prediction("t", "p", "w", c),
            Err(Error::InvalidArgument(m)) if m.contains("confidence")
        ));
        assert!(matches!(
            s.record_domain_prediction("a", "d", c, true),
            Err(Error::InvalidArgument(m)) if m.contains("confidence")
        ));
    }
    for (def, n) in s.db().table_counts().unwrap() {
        assert_eq!(n, 0, "{}", def.name);
    }
    assert_consistent(s.db());
}
