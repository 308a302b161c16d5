//! PositionLedger and FlipDetector: positions, resolution, reversals, flip
//! detection and classification, summaries.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::store::positions::{FlipDetector, PositionLedger, classify_flip};
use chrono::{NaiveDate, NaiveDateTime};

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

fn at(h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 2, 1)
        .unwrap()
        .and_hms_micro_opt(h, m, 0, if m.is_multiple_of(2) { 0 } else { 250 })
        .unwrap()
}

#[test]
fn record_get_and_list_positions() {
    let (_d, cfg) = store_dir();
    let ledger = PositionLedger::open(&cfg).unwrap();
    let p1 = ledger
        .db()
        .clock()
        .at(at(10, 0), || {
            ledger.record_position("claude", "Rust is safe", 0.8, "d1", 1, Some("tech"))
        })
        .unwrap();
    let p2 = ledger
        .db()
        .clock()
        .at(at(10, 1), || {
            ledger.record_position("claude", "Go is simple", 0.6, "d1", 2, None)
        })
        .unwrap();
    ledger
        .db()
        .clock()
        .at(at(10, 2), || {
            ledger.record_position("gpt", "Rust is slow", 0.4, "d1", 1, None)
        })
        .unwrap();
    assert_eq!(p1.id.len(), 8);
    assert!(p1.id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(p1.outcome.as_deref(), Some("pending"));
    assert_eq!(p1.reversed, Some(false));
    assert_eq!(p1.created_at.as_deref(), Some("2026-02-01T10:00:00"));
    assert_eq!(p2.created_at.as_deref(), Some("2026-02-01T10:01:00.000250"));
    assert_eq!(ledger.get_position(&p1.id).unwrap().unwrap(), p1);
    assert!(ledger.get_position("nope").unwrap().is_none());
    assert_eq!(ledger.count().unwrap(), 3);

    let mine = ledger.agent_positions("claude", None, None).unwrap();
    assert_eq!(
        mine.iter().map(|p| p.claim.as_str()).collect::<Vec<_>>(),
        ["Go is simple", "Rust is safe"]
    );
    assert_eq!(
        ledger
            .agent_positions("claude", None, Some(1))
            .unwrap()
            .len(),
        1
    );
    let debate = ledger.debate_positions("d1").unwrap();
    assert_eq!(debate.len(), 3);
    assert_eq!(debate[2].round_num, 2);

    // Bad confidence is rejected.
    assert!(matches!(
        ledger.record_position("claude", "x", 1.5, "d1", 1, None),
        Err(Error::InvalidArgument(_))
    ));
    assert_clean(ledger.db());
}

#[test]
fn resolve_and_stats() {
    let (_d, cfg) = store_dir();
    let ledger = PositionLedger::open(&cfg).unwrap();
    let a = ledger
        .db()
        .clock()
        .at(at(9, 0), || {
            ledger.record_position("a", "one", 0.5, "d1", 0, None)
        })
        .unwrap();
    let b = ledger
        .db()
        .clock()
        .at(at(9, 2), || {
            ledger.record_position("a", "two", 0.5, "d1", 1, None)
        })
        .unwrap();
    ledger
        .db()
        .clock()
        .at(at(9, 4), || {
            ledger.record_position("a", "three", 0.5, "d2", 0, None)
        })
        .unwrap();
    assert!(
        ledger
            .db()
            .clock()
            .at(at(11, 0), || ledger.resolve_position(&a.id, "correct"))
            .unwrap()
    );
    assert!(
        ledger
            .db()
            .clock()
            .at(at(11, 0), || ledger.resolve_position(&b.id, "incorrect"))
            .unwrap()
    );
    assert!(
        !ledger
            .db()
            .clock()
            .at(at(11, 0), || ledger.resolve_position("missing", "correct"))
            .unwrap()
    );
    assert!(matches!(
        ledger.resolve_position(&a.id, "maybe"),
        Err(Error::InvalidArgument(_))
    ));
    let got = ledger.get_position(&a.id).unwrap().unwrap();
    assert_eq!(got.outcome.as_deref(), Some("correct"));
    assert_eq!(got.resolved_at.as_deref(), Some("2026-02-01T11:00:00"));
    let correct = ledger.agent_positions("a", Some("correct"), None).unwrap();
    assert_eq!(correct.len(), 1);
    assert_eq!(correct[0].id, a.id);
    assert_eq!(
        ledger
            .agent_positions("a", Some("pending"), None)
            .unwrap()
            .len(),
        1
    );

    assert!(ledger.record_reversal("a", &a.id, "d2").unwrap());
    assert!(!ledger.record_reversal("a", "missing", "d2").unwrap());
    assert!(matches!(
        ledger.record_reversal("someone-else", &a.id, "d2"),
        Err(Error::InvalidArgument(_))
    ));
    let s = ledger.position_stats("a").unwrap();
    assert_eq!(s.total, 3);
    assert_eq!(s.reversed, 1);
    assert_eq!(s.by_outcome.get("correct"), Some(&1));
    assert_eq!(s.by_outcome.get("incorrect"), Some(&1));
    assert_eq!(s.by_outcome.get("pending"), Some(&1));
    assert_eq!(ledger.position_stats("nobody").unwrap().total, 0);
    assert_clean(ledger.db());
}

#[test]
fn classification_rule() {
    assert_eq!(
        classify_flip("Rust is safe", "Rust is not safe", 0.8, 0.8).0,
        "contradiction"
    );
    assert_eq!(
        classify_flip("alpha beta", "gamma delta", 0.5, 0.5).0,
        "contradiction"
    );
    assert_eq!(
        classify_flip(
            "we should use postgres for storage",
            "we should use sqlite files",
            0.5,
            0.5
        )
        .0,
        "retraction"
    );
    let (kind, sim) = classify_flip(
        "caching improves latency a lot",
        "caching improves latency a bit",
        0.9,
        0.6,
    );
    assert_eq!(kind, "qualification");
    assert!((sim - 4.0 / 6.0).abs() < 1e-12);
    assert_eq!(
        classify_flip(
            "caching improves latency",
            "caching improves latency greatly",
            0.6,
            0.9
        )
        .0,
        "refinement"
    );
    // "isn't" counts as a negation.
    assert_eq!(
        classify_flip("the plan is sound", "the plan isn't sound", 0.6, 0.6).0,
        "contradiction"
    );
}

#[test]
fn detect_and_summarise_flips() {
    let (_d, cfg) = store_dir();
    let ledger = PositionLedger::open(&cfg).unwrap();
    let flips: FlipDetector = ledger.flips();
    let orig = ledger
        .db()
        .clock()
        .at(at(10, 0), || {
            ledger.record_position("claude", "Rust is safe", 0.8, "d1", 1, Some("tech"))
        })
        .unwrap();
    ledger
        .db()
        .clock()
        .at(at(11, 0), || {
            ledger.record_position("claude", "early draft", 0.3, "d2", 0, None)
        })
        .unwrap();
    let new = ledger
        .db()
        .clock()
        .at(at(11, 2), || {
            ledger.record_position("claude", "Rust is not safe", 0.7, "d2", 2, None)
        })
        .unwrap();
    // Another agent's position in d2 is not paired.
    ledger
        .db()
        .clock()
        .at(at(11, 4), || {
            ledger.record_position("gpt", "Rust is safe indeed", 0.9, "d2", 3, None)
        })
        .unwrap();
    let g1 = ledger
        .db()
        .clock()
        .at(at(10, 0), || {
            ledger.record_position("gpt", "tabs are better", 0.9, "d1", 1, None)
        })
        .unwrap();
    ledger
        .db()
        .clock()
        .at(at(12, 0), || {
            ledger.record_position("gpt", "tabs are better mostly", 0.5, "d3", 1, None)
        })
        .unwrap();

    // Nothing reversed yet: nothing detected.
    assert!(
        flips
            .db()
            .clock()
            .at(at(12, 0), || flips.detect_flips_for_agent("claude", 50))
            .unwrap()
            .is_empty()
    );
    ledger.record_reversal("claude", &orig.id, "d2").unwrap();
    ledger.record_reversal("gpt", &g1.id, "d3").unwrap();

    let found = flips
        .db()
        .clock()
        .at(at(12, 30), || flips.detect_flips_for_agent("claude", 50))
        .unwrap();
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.id, format!("flip-{}", orig.id));
    assert_eq!(f.new_position_id.as_deref(), Some(new.id.as_str()));
    assert_eq!(f.original_claim, "Rust is safe");
    assert_eq!(f.new_claim, "Rust is not safe");
    assert_eq!(f.flip_type.as_deref(), Some("contradiction"));
    assert_eq!(f.original_debate_id.as_deref(), Some("d1"));
    assert_eq!(f.new_debate_id.as_deref(), Some("d2"));
    assert_eq!(f.domain.as_deref(), Some("tech"));
    assert_eq!(f.detected_at.as_deref(), Some("2026-02-01T12:30:00"));
    assert_eq!(flips.get_flip(&f.id).unwrap().as_ref(), Some(f));

    // Re-detection replaces (same id), detected_at moves.
    let again = flips.detect_flips_for_agent("claude", 50).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, f.id);
    assert_eq!(flips.agent_flips("claude", None).unwrap().len(), 1);

    // A lookback that excludes the reversed position finds nothing.
    assert!(
        flips
            .db()
            .clock()
            .at(at(13, 0), || flips.detect_flips_for_agent("claude", 2))
            .unwrap()
            .is_empty()
    );

    let g = flips
        .db()
        .clock()
        .at(at(13, 0), || flips.detect_flips_for_agent("gpt", 50))
        .unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].flip_type.as_deref(), Some("qualification"));

    assert_eq!(flips.flips_by_type("contradiction").unwrap().len(), 1);
    assert_eq!(flips.flips_by_type("qualification").unwrap().len(), 1);
    assert!(flips.flips_by_type("refinement").unwrap().is_empty());
    let s = flips.flip_summary().unwrap();
    assert_eq!(s.total, 2);
    assert_eq!(s.by_agent.get("claude"), Some(&1));
    assert_eq!(s.by_agent.get("gpt"), Some(&1));
    assert_eq!(s.by_type.get("contradiction"), Some(&1));
    assert_clean(ledger.db());

    // A detector opened separately sees the same file.
    let other = FlipDetector::open(&cfg).unwrap();
    assert_eq!(other.flip_summary().unwrap(), s);
}
