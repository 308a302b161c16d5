//! PersonaManager: personas with JSON traits/expertise, updates,
//! performance history and expertise evolution.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::schema::personas::Persona;
use aragora_db::store::personas::PersonaManager;
use aragora_db::table::Read;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

fn local(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_micro_opt(h, 0, 0, 123)
        .unwrap()
}

fn utc(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
}

#[test]
fn create_get_update_list() {
    let (_d, cfg) = store_dir();
    let pm = PersonaManager::open(&cfg).unwrap();
    let v = pm
        .db()
        .clock()
        .at(local(9), || {
            pm.create_persona(
                "claude",
                "Careful reviewer \u{e9}",
                &["thorough", "direct", "thorough", " "],
                &[("security", 0.8), ("testing", 1.7), ("api_design", -0.2)],
            )
        })
        .unwrap();
    assert_eq!(v.traits, ["thorough", "direct"]);
    assert_eq!(
        v.expertise,
        [
            ("security".to_string(), 0.8),
            ("testing".to_string(), 1.0),
            ("api_design".to_string(), 0.0)
        ]
    );
    // Stored text is Python's json.dumps, insertion order.
    let raw: Persona = pm.read().unwrap().get("claude").unwrap().unwrap();
    assert_eq!(raw.traits.as_deref(), Some(r#"["thorough", "direct"]"#));
    assert_eq!(
        raw.expertise.as_deref(),
        Some(r#"{"security": 0.8, "testing": 1.0, "api_design": 0.0}"#)
    );
    assert_eq!(
        raw.created_at.as_deref(),
        Some("2026-03-01T09:00:00.000123")
    );
    assert_eq!(pm.get_persona("claude").unwrap(), Some(v.clone()));
    assert!(pm.get_persona("nobody").unwrap().is_none());
    assert!(matches!(
        pm.create_persona("x", "", &[], &[("d", f64::NAN)]),
        Err(Error::InvalidArgument(_))
    ));

    let u = pm
        .db()
        .clock()
        .at(local(10), || {
            pm.update_persona(
                "claude",
                Some("New description"),
                None,
                Some(&[("testing", 0.4), ("frontend", 0.3)]),
            )
        })
        .unwrap()
        .unwrap();
    assert_eq!(u.description, "New description");
    assert_eq!(u.traits, ["thorough", "direct"]);
    assert_eq!(u.expertise_in("testing"), Some(0.4));
    assert_eq!(u.expertise_in("security"), Some(0.8));
    assert_eq!(u.expertise.last().unwrap().0, "frontend");
    assert_eq!(u.created_at.as_deref(), Some("2026-03-01T09:00:00.000123"));
    assert_eq!(u.updated_at.as_deref(), Some("2026-03-01T10:00:00.000123"));
    assert!(
        pm.update_persona("nobody", Some("x"), None, None)
            .unwrap()
            .is_none()
    );

    // Re-creating keeps created_at and replaces everything else.
    let again = pm
        .db()
        .clock()
        .at(local(11), || {
            pm.create_persona("claude", "Reset", &["pragmatic"], &[])
        })
        .unwrap();
    assert_eq!(
        again.created_at.as_deref(),
        Some("2026-03-01T09:00:00.000123")
    );
    assert!(again.expertise.is_empty());

    pm.create_persona("gpt", "", &[], &[]).unwrap();
    let names: Vec<String> = pm
        .list_personas()
        .unwrap()
        .into_iter()
        .map(|p| p.agent_name)
        .collect();
    assert_eq!(names, ["claude", "gpt"]);
    assert!(pm.delete_persona("gpt").unwrap());
    assert!(!pm.delete_persona("gpt").unwrap());
    assert_clean(pm.db());
}

#[test]
fn performance_history_and_expertise() {
    let (_d, cfg) = store_dir();
    let pm = PersonaManager::open(&cfg).unwrap();
    // No persona yet: one is created with only name, expertise, updated_at.
    let e1 = pm
        .db()
        .clock()
        .at((local(9), utc(8)), || {
            pm.record_performance("gemini", "security", true, "critique", Some("d1"))
        })
        .unwrap();
    // 0.7 * 0.5 + 0.3 * 1.0
    assert_eq!(e1, 0.7 * 0.5 + 0.3 * 1.0);
    let raw: Persona = pm.read().unwrap().get("gemini").unwrap().unwrap();
    assert_eq!(raw.description, None);
    assert_eq!(raw.traits, None);
    assert_eq!(raw.created_at.as_deref(), Some("2026-03-01 08:00:00"));
    assert_eq!(
        raw.updated_at.as_deref(),
        Some("2026-03-01T09:00:00.000123")
    );
    assert_eq!(
        raw.expertise.as_deref(),
        Some(r#"{"security": 0.6499999999999999}"#)
    ); // as Python computes it

    let e2 = pm
        .db()
        .clock()
        .at((local(10), utc(9)), || {
            pm.record_performance("gemini", "security", false, "proposal", None)
        })
        .unwrap();
    // rate = 0.9 / 1.9 (newest failure weight 1, older success 0.9)
    let rate = 0.9 / 1.9;
    assert!((e2 - (0.7 * 0.65 + 0.3 * rate)).abs() < 1e-12);
    pm.db()
        .clock()
        .at((local(11), utc(10)), || {
            pm.record_performance("gemini", "testing", true, "critique", None)
        })
        .unwrap();
    assert!(matches!(
        pm.record_performance("gemini", " ", true, "critique", None),
        Err(Error::InvalidArgument(_))
    ));

    let hist = pm.performance_history("gemini", None, None).unwrap();
    assert_eq!(hist.len(), 3);
    assert_eq!(hist[0].domain.as_deref(), Some("testing"));
    assert_eq!(hist[2].created_at.as_deref(), Some("2026-03-01 08:00:00"));
    assert_eq!(hist[2].success, Some(true));
    assert_eq!(hist[2].debate_id.as_deref(), Some("d1"));
    assert_eq!(hist[1].action.as_deref(), Some("proposal"));
    assert_eq!(
        pm.performance_history("gemini", Some("security"), Some(1))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        pm.domain_success("gemini").unwrap(),
        [
            ("security".to_string(), 1, 2),
            ("testing".to_string(), 1, 1)
        ]
    );
    let v = pm.get_persona("gemini").unwrap().unwrap();
    assert_eq!(
        v.expertise
            .iter()
            .map(|(d, _)| d.as_str())
            .collect::<Vec<_>>(),
        ["security", "testing"]
    );
    assert_clean(pm.db());
}
