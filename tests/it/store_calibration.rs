//! Behaviour of CalibrationTracker: recording and resolving predictions,
//! the per-agent summary (accuracy, Brier score, ECE) and temperatures.

use crate::common::assert_consistent;
use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::schema::calibration::TemperatureParams;
use aragora_db::store::calibration::{CalibrationTracker, NewPrediction};
use chrono::{TimeZone, Utc};

const EPS: f64 = 1e-9;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

fn tracker() -> (crate::common::StoreDir, CalibrationTracker) {
    let (dir, cfg) = store_dir();
    (dir, CalibrationTracker::open(&cfg).unwrap())
}

#[test]
fn record_stores_the_original_shapes() {
    let (_d, t) = tracker();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
    let id = t
        .db()
        .clock()
        .at(now, || {
            t.record_prediction(&NewPrediction::new("a", 1.7, true))
        })
        .unwrap();
    let p = t.get_prediction(id).unwrap().unwrap();
    assert_eq!(p.confidence, Some(1.0)); // clamped
    assert_eq!(p.correct, Some(true));
    assert_eq!(p.domain.as_deref(), Some("general"));
    assert_eq!(p.debate_id.as_deref(), Some("")); // '' rather than NULL
    assert_eq!(p.position_id.as_deref(), Some(""));
    assert_eq!(p.created_at.as_deref(), Some("2026-03-01T09:30:00+00:00"));
    let id2 = t
        .record_prediction(&NewPrediction {
            debate_id: Some("deb-1"),
            ..NewPrediction::new("a", -0.2, false).in_domain("math")
        })
        .unwrap();
    assert!(id2 > id);
    let p = t.get_prediction(id2).unwrap().unwrap();
    assert_eq!(p.confidence, Some(0.0));
    assert_eq!(p.debate_id.as_deref(), Some("deb-1"));
    assert_eq!(t.predictions("a", None).unwrap().len(), 2);
    assert_eq!(t.predictions("a", Some("math")).unwrap().len(), 1);
    assert!(matches!(
        t.record_prediction(&NewPrediction::new("a", f64::NAN, true)),
        Err(Error::InvalidArgument(m)) if m.contains("confidence")
    ));
    assert!(matches!(
        t.record_prediction(&NewPrediction::new("", 0.5, true)),
        Err(Error::InvalidArgument(m)) if m.contains("agent")
    ));
    assert_consistent(t.db());
}

#[test]
fn summary_accuracy_brier_and_ece() {
    let (_d, t) = tracker();
    // Bucket 0.8-0.9: 0.8 ✓, 0.8 ✓, 0.8 ✗, 0.8 ✓ → accuracy 0.75, mean 0.8.
    // Bucket 0.2-0.3: 0.2 ✗, 0.2 ✓ → accuracy 0.5, mean 0.2.
    for (c, ok) in [
        (0.8, true),
        (0.8, true),
        (0.8, false),
        (0.8, true),
        (0.2, false),
        (0.2, true),
    ] {
        t.record_prediction(&NewPrediction::new("a", c, ok))
            .unwrap();
    }
    t.record_prediction(&NewPrediction::new("b", 0.9, true))
        .unwrap();
    let pending = t
        .record_prediction(&NewPrediction::new("a", 0.6, true).pending())
        .unwrap();

    let s = t.calibration_summary("a", None).unwrap();
    assert_eq!((s.total_predictions, s.correct, s.pending), (6, 4, 1));
    assert!(close(s.accuracy, 4.0 / 6.0));
    let brier = (3.0 * 0.04 + 0.64 + 0.04 + 0.64) / 6.0;
    assert!(close(s.brier_score, brier), "{}", s.brier_score);
    let ece = 4.0 / 6.0 * (0.75f64 - 0.8).abs() + 2.0 / 6.0 * (0.5f64 - 0.2).abs();
    assert!(close(s.ece, ece), "{}", s.ece);
    assert_eq!(s.buckets.len(), 10);
    assert_eq!(s.buckets[8].key, "0.8-0.9");
    assert_eq!((s.buckets[8].count, s.buckets[8].correct), (4, 3));
    assert_eq!(s.buckets[2].count, 2);
    assert_eq!(s.buckets[9].key, "0.9-1.0");

    // Resolving the pending one moves it into the numbers.
    let p = t.resolve_prediction(pending, false).unwrap().unwrap();
    assert_eq!(p.correct, Some(false));
    assert_eq!(t.resolve_prediction(9999, true).unwrap(), None);
    let s = t.calibration_summary("a", None).unwrap();
    assert_eq!((s.total_predictions, s.correct, s.pending), (7, 4, 0));
    assert_eq!(s.buckets[6].count, 1);

    // A perfectly calibrated agent; an unknown agent.
    let s = t.calibration_summary("b", None).unwrap();
    assert!(close(s.brier_score, 0.01) && close(s.accuracy, 1.0));
    assert!(close(s.ece, 0.1));
    let s = t.calibration_summary("nobody", None).unwrap();
    assert_eq!(
        (s.total_predictions, s.accuracy, s.brier_score, s.ece),
        (0, 0.0, 0.0, 0.0)
    );
    assert_consistent(t.db());
}

#[test]
fn summary_by_domain() {
    let (_d, t) = tracker();
    t.record_prediction(&NewPrediction::new("a", 0.9, true).in_domain("math"))
        .unwrap();
    t.record_prediction(&NewPrediction::new("a", 0.9, false).in_domain("law"))
        .unwrap();
    let math = t.calibration_summary("a", Some("math")).unwrap();
    let law = t.calibration_summary("a", Some("law")).unwrap();
    assert_eq!((math.total_predictions, math.correct), (1, 1));
    assert_eq!((law.total_predictions, law.correct), (1, 0));
    assert!(close(law.brier_score, 0.81));
    assert_eq!(
        t.calibration_summary("a", None).unwrap().total_predictions,
        2
    );
    assert_consistent(t.db());
}

#[test]
fn temperatures() {
    let (_d, t) = tracker();
    let p = t.get_temperature_params("a").unwrap();
    assert_eq!(p.temperature, Some(1.0));
    assert_eq!(p.domain_temperatures.as_deref(), Some("{}"));
    assert_eq!(t.temperature_for("a", Some("math")).unwrap(), 1.0);

    t.record_prediction(&NewPrediction::new("a", 0.5, true))
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    t.db()
        .clock()
        .at(now, || t.set_temperature("a", None, 1.25))
        .unwrap();
    t.db()
        .clock()
        .at(now, || t.set_temperature("a", Some("math"), 0.8))
        .unwrap();
    let p = t
        .db()
        .clock()
        .at(now, || t.set_temperature("a", Some("law"), 2.0))
        .unwrap();
    assert_eq!(
        p.domain_temperatures.as_deref(),
        Some(r#"{"math": 0.8, "law": 2.0}"#)
    );
    assert_eq!(p.last_tuned.as_deref(), Some("2026-03-02T00:00:00+00:00"));
    assert_eq!(p.predictions_at_tune, Some(1));
    t.db()
        .clock()
        .at(now, || t.set_temperature("a", Some("math"), 0.9))
        .unwrap();
    assert_eq!(t.temperature_for("a", Some("math")).unwrap(), 0.9);
    assert_eq!(t.temperature_for("a", Some("chess")).unwrap(), 1.25);
    assert_eq!(t.temperature_for("a", None).unwrap(), 1.25);
    assert_eq!(
        t.get_temperature_params("a")
            .unwrap()
            .domain_temperatures
            .as_deref(),
        Some(r#"{"math": 0.9, "law": 2.0}"#)
    );

    // Saved as given.
    let row = TemperatureParams {
        agent: "b".into(),
        temperature: Some(0.7),
        domain_temperatures: Some(r#"{"x": 1.5}"#.into()),
        last_tuned: None,
        predictions_at_tune: Some(3),
        extra: Default::default(),
    };
    t.save_temperature_params(&row).unwrap();
    assert_eq!(t.get_temperature_params("b").unwrap(), row);

    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            t.set_temperature("a", None, bad),
            Err(Error::InvalidArgument(m)) if m.contains("temperature")
        ));
    }
    let bad = TemperatureParams {
        domain_temperatures: Some(r#"{"x": "hot"}"#.into()),
        ..row.clone()
    };
    assert!(matches!(
        t.save_temperature_params(&bad),
        Err(Error::InvalidArgument(m)) if m.contains("domain_temperatures")
    ));
    assert_eq!(t.get_temperature_params("b").unwrap(), row);

    // Deleting an agent's data removes its predictions and parameters.
    assert_eq!(t.delete_agent_data("a").unwrap(), 2);
    assert!(t.predictions("a", None).unwrap().is_empty());
    assert_eq!(
        t.get_temperature_params("a").unwrap().temperature,
        Some(1.0)
    );
    assert_consistent(t.db());
}

#[test]
fn consolidated_mode_shares_analytics_db_with_elo() {
    use aragora_db::config::DatabaseMode;
    use aragora_db::store::elo::{EloStore, MatchInput};
    let (_d, cfg) = store_dir();
    let cfg = cfg.with_mode(DatabaseMode::Consolidated);
    let t = CalibrationTracker::open(&cfg).unwrap();
    let e = EloStore::open(&cfg).unwrap();
    assert_eq!(t.db().path(), e.db().path());
    // On PostgreSQL both live in the one database.
    assert!(t.db().path().ends_with("analytics.redb") || crate::common::test_backend_is_postgres());
    t.record_prediction(&NewPrediction::new("a", 0.6, true))
        .unwrap();
    e.record_match(&MatchInput::head_to_head("d", "a", "b", false, None))
        .unwrap();
    assert_eq!(
        t.calibration_summary("a", None).unwrap().total_predictions,
        1
    );
    assert_eq!(e.count_matches().unwrap(), 1);
    assert_consistent(t.db());
}
