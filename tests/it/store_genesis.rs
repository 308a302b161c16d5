//! GenesisLedger and GenomeStore: Python-compatible hashes, chain
//! verification, lineage, genomes and populations.

use crate::common::store_dir;
use aragora_db::Error;
use aragora_db::db::Database;
use aragora_db::pyjson::{parse_python_json, py_float, python_json};
use aragora_db::schema::genesis::{GenesisEvent, Genome};
use aragora_db::store::genesis::{ChainIssue, GenesisLedger, content_hash, naive_iso};
use aragora_db::table::Page;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

fn assert_clean(db: &Database) {
    crate::common::assert_consistent(db);
}

fn at(h: u32, m: u32, s: u32, micro: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 1, 5)
        .unwrap()
        .and_hms_micro_opt(h, m, s, micro)
        .unwrap()
}

#[test]
fn python_json_known_answers() {
    // python3 -c 'import json; print(json.dumps([0.5,1.0,1e-07,1e16,0.1+0.2,123456.789,
    //   -0.0,1e22,5e-324,1e15,0.0001,1e-05,-1.5,2**63,-2**63,18446744073709551615]))'
    let v = json!([
        0.5,
        1.0,
        1e-07,
        1e16,
        0.1 + 0.2,
        123456.789,
        -0.0,
        1e22,
        5e-324,
        1e15,
        0.0001,
        1e-05,
        -1.5,
        9223372036854775808u64,
        i64::MIN,
        u64::MAX
    ]);
    assert_eq!(
        python_json(&v, false),
        "[0.5, 1.0, 1e-07, 1e+16, 0.30000000000000004, 123456.789, -0.0, 1e+22, 5e-324, \
         1000000000000000.0, 0.0001, 1e-05, -1.5, 9223372036854775808, -9223372036854775808, \
         18446744073709551615]"
    );
    assert_eq!(py_float(1.0), "1.0");
    assert_eq!(py_float(1e-7), "1e-07");
    assert_eq!(py_float(1e16), "1e+16");
    assert_eq!(naive_iso(at(10, 0, 1, 0)), "2026-01-05T10:00:01");
    assert_eq!(
        naive_iso(at(10, 0, 0, 123456)),
        "2026-01-05T10:00:00.123456"
    );
    assert_eq!(naive_iso(at(10, 0, 0, 42)), "2026-01-05T10:00:00.000042");
}

#[test]
fn content_hash_known_answers() {
    // python3 -c 'import json,hashlib; s=json.dumps({"event_id":"abc123def456",
    //   "event_type":"debate_start","timestamp":"2026-01-05T10:00:00.123456",
    //   "parent_event_id":None,"data":{"topic":"Is AI safe?","agents":["claude","gpt"],
    //   "rounds":3,"score":0.5}},sort_keys=True); print(s);
    //   print(hashlib.sha256(s.encode()).hexdigest())'
    let data =
        json!({"topic": "Is AI safe?", "agents": ["claude", "gpt"], "rounds": 3, "score": 0.5});
    let canonical = json!({
        "event_id": "abc123def456", "event_type": "debate_start",
        "timestamp": "2026-01-05T10:00:00.123456", "parent_event_id": null, "data": data,
    });
    assert_eq!(
        python_json(&canonical, true),
        r#"{"data": {"agents": ["claude", "gpt"], "rounds": 3, "score": 0.5, "topic": "Is AI safe?"}, "event_id": "abc123def456", "event_type": "debate_start", "parent_event_id": null, "timestamp": "2026-01-05T10:00:00.123456"}"#
    );
    assert_eq!(
        content_hash(
            "abc123def456",
            "debate_start",
            "2026-01-05T10:00:00.123456",
            None,
            &data
        ),
        "dcefe2b69863311e9acc459b793e941bc06a96d7f46093d32c4690fd1a0112aa"
    );

    // Non-ASCII, astral, escapes, floats, nesting, a parent:
    // python3 -c 'import json,hashlib; s=json.dumps({"event_id":"0123456789ab",
    //   "event_type":"agent_birth","timestamp":"2026-01-05T10:00:01",
    //   "parent_event_id":"abc123def456","data":{"name":"café ☕ 😀","w":1.0,"tiny":1e-07,
    //   "big":1e16,"nested":{"z":1,"a":[True,None]},"q":"quote\" back\\ nl\n\t\x01\x7f"}},
    //   sort_keys=True); print(s); print(hashlib.sha256(s.encode()).hexdigest())'
    let data = json!({
        "name": "café ☕ 😀", "w": 1.0, "tiny": 1e-07, "big": 1e16,
        "nested": {"z": 1, "a": [true, null]}, "q": "quote\" back\\ nl\n\t\u{1}\u{7f}",
    });
    let canonical = json!({
        "event_id": "0123456789ab", "event_type": "agent_birth",
        "timestamp": "2026-01-05T10:00:01", "parent_event_id": "abc123def456", "data": data,
    });
    assert_eq!(
        python_json(&canonical, true),
        r#"{"data": {"big": 1e+16, "name": "caf\u00e9 \u2615 \ud83d\ude00", "nested": {"a": [true, null], "z": 1}, "q": "quote\" back\\ nl\n\t\u0001\u007f", "tiny": 1e-07, "w": 1.0}, "event_id": "0123456789ab", "event_type": "agent_birth", "parent_event_id": "abc123def456", "timestamp": "2026-01-05T10:00:01"}"#
    );
    assert_eq!(
        content_hash(
            "0123456789ab",
            "agent_birth",
            "2026-01-05T10:00:01",
            Some("abc123def456"),
            &data
        ),
        "fcbdd6114b6adc55516bf8ae6cd9a0123bde403960bbd9fbcabec9d129a51fa5"
    );
    // The stored text parses back to the same value.
    let text = python_json(&data, false);
    assert_eq!(parse_python_json(&text).unwrap(), data);
}

#[test]
fn record_validates_and_hashes() {
    let (_d, cfg) = store_dir();
    let ledger = GenesisLedger::open(&cfg).unwrap();
    let data = json!({"debate_id": "d1", "score": 0.5});
    let root = ledger
        .db()
        .clock()
        .at(at(10, 0, 0, 0), || {
            ledger.record("debate_start", None, data.clone())
        })
        .unwrap();
    assert_eq!(root.event_id.len(), 12);
    // `str(uuid4())[:12]`: 8 hex digits, a dash, 3 hex digits.
    assert_eq!(&root.event_id[8..9], "-");
    assert!(
        root.event_id
            .chars()
            .filter(|&c| c != '-')
            .all(|c| c.is_ascii_hexdigit())
    );
    assert_eq!(root.timestamp, "2026-01-05T10:00:00");
    assert_eq!(
        root.data.as_deref(),
        Some(r#"{"debate_id": "d1", "score": 0.5}"#)
    );
    assert_eq!(
        root.content_hash,
        content_hash(&root.event_id, "debate_start", &root.timestamp, None, &data)
    );
    assert_eq!(
        ledger.get_event(&root.event_id).unwrap(),
        Some(root.clone())
    );

    assert!(matches!(
        ledger.record("debate_begin", None, json!({})),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ledger.record("debate_end", Some("000000000000"), json!({})),
        Err(Error::ForeignKey { .. })
    ));
    assert_eq!(ledger.count().unwrap(), 1);

    // `record` with the real clock: naive local ISO.
    let now = ledger
        .record("debate_end", Some(&root.event_id), json!({"ok": true}))
        .unwrap();
    assert!(aragora_db::time::parse(&now.timestamp).is_some());
    assert!(!now.timestamp.contains('+'));
    assert!(ledger.verify_chain().unwrap().is_empty());
    assert_clean(ledger.db());
}

#[test]
fn lineage_children_and_events() {
    let (_d, cfg) = store_dir();
    let ledger = GenesisLedger::open(&cfg).unwrap();
    let root = ledger
        .db()
        .clock()
        .at(at(10, 0, 0, 0), || {
            ledger.record("debate_start", None, json!({"n": 0}))
        })
        .unwrap();
    let a = ledger
        .db()
        .clock()
        .at(at(10, 0, 1, 0), || {
            ledger.record("debate_spawn", Some(&root.event_id), json!({"n": 1}))
        })
        .unwrap();
    let b = ledger
        .db()
        .clock()
        .at(at(10, 0, 2, 0), || {
            ledger.record("debate_spawn", Some(&root.event_id), json!({"n": 2}))
        })
        .unwrap();
    let c = ledger
        .db()
        .clock()
        .at(at(10, 0, 3, 5), || {
            ledger.record("debate_merge", Some(&a.event_id), json!({"n": 3}))
        })
        .unwrap();

    let ids = |v: Vec<GenesisEvent>| v.into_iter().map(|e| e.event_id).collect::<Vec<_>>();
    assert_eq!(
        ids(ledger.lineage(&c.event_id).unwrap()),
        vec![
            c.event_id.clone(),
            a.event_id.clone(),
            root.event_id.clone()
        ]
    );
    assert!(ledger.lineage("nope").unwrap().is_empty());
    assert_eq!(
        ids(ledger.children(&root.event_id).unwrap()),
        vec![a.event_id.clone(), b.event_id.clone()]
    );
    assert!(ledger.children(&c.event_id).unwrap().is_empty());
    assert_eq!(
        ids(ledger.events(None, Page::default()).unwrap()),
        vec![
            root.event_id.clone(),
            a.event_id.clone(),
            b.event_id.clone(),
            c.event_id.clone()
        ]
    );
    assert_eq!(
        ids(ledger.events(None, Page::first(2).reversed()).unwrap()),
        vec![c.event_id.clone(), b.event_id.clone()]
    );
    assert_eq!(
        ids(ledger
            .events(Some("debate_spawn"), Page::default())
            .unwrap()),
        vec![a.event_id.clone(), b.event_id.clone()]
    );
    assert_eq!(
        ids(ledger
            .events(Some("debate_spawn"), Page::first(1).skip(1))
            .unwrap()),
        vec![b.event_id.clone()]
    );
    // The ledger is append-only: a parent cannot be deleted under its children.
    assert!(matches!(
        ledger
            .db()
            .write(|w| w.delete::<GenesisEvent>(root.event_id.as_str())),
        Err(Error::Referenced { .. })
    ));
    assert!(ledger.verify_chain().unwrap().is_empty());
    assert_clean(ledger.db());
}

#[test]
fn verify_chain_detects_tampering() {
    let (_d, cfg) = store_dir();
    let ledger = GenesisLedger::open(&cfg).unwrap();
    let root = ledger
        .db()
        .clock()
        .at(at(9, 0, 0, 0), || {
            ledger.record("debate_start", None, json!({"topic": "t"}))
        })
        .unwrap();
    let child = ledger
        .db()
        .clock()
        .at(at(9, 30, 0, 250_000), || {
            ledger.record(
                "consensus_reached",
                Some(&root.event_id),
                json!({"confidence": 0.9, "winner": "claude"}),
            )
        })
        .unwrap();
    let late = ledger
        .db()
        .clock()
        .at(at(11, 0, 0, 0), || {
            ledger.record("debate_end", Some(&root.event_id), json!({}))
        })
        .unwrap();
    assert!(ledger.verify_chain().unwrap().is_empty());

    // Change one event's data, keeping the old hash.
    let mut forged = child.clone();
    forged.data = Some(r#"{"confidence": 0.9, "winner": "gpt"}"#.into());
    ledger.db().write(|w| w.update(&forged)).unwrap();
    let problems = ledger.verify_chain().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].event_id, child.event_id);
    assert!(matches!(
        &problems[0].issue,
        ChainIssue::HashMismatch { stored, .. } if *stored == child.content_hash
    ));
    // Restoring the data makes the ledger verify again.
    ledger.db().write(|w| w.update(&child)).unwrap();
    assert!(ledger.verify_chain().unwrap().is_empty());

    // A parent newer than its child (timestamps rewritten together with a
    // recomputed hash, so only the ordering is wrong).
    let mut moved = root.clone();
    moved.timestamp = "2026-01-05T10:00:00".into();
    moved.content_hash = content_hash(
        &moved.event_id,
        &moved.event_type,
        &moved.timestamp,
        None,
        &json!({"topic": "t"}),
    );
    ledger.db().write(|w| w.update(&moved)).unwrap();
    let problems = ledger.verify_chain().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].event_id, child.event_id);
    assert!(matches!(problems[0].issue, ChainIssue::ParentNewer { .. }));
    ledger.db().write(|w| w.update(&root)).unwrap();

    // A dangling parent, written with foreign keys off (as an import might).
    let mut orphan = late.clone();
    orphan.parent_event_id = Some("ffffffffffff".into());
    orphan.content_hash = content_hash(
        &orphan.event_id,
        &orphan.event_type,
        &orphan.timestamp,
        orphan.parent_event_id.as_deref(),
        &json!({}),
    );
    ledger
        .db()
        .write(|w| {
            w.set_foreign_keys(false)?;
            w.update(&orphan)
        })
        .unwrap();
    let problems = ledger.verify_chain().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].issue,
        ChainIssue::MissingParent("ffffffffffff".into())
    );
    assert_eq!(ledger.lineage(&late.event_id).unwrap().len(), 1);
    ledger.db().write(|w| w.update(&late)).unwrap();
    assert!(ledger.verify_chain().unwrap().is_empty());
    assert_clean(ledger.db());
}

#[test]
fn cycles_are_reported_not_followed() {
    let (_d, cfg) = store_dir();
    let ledger = GenesisLedger::open(&cfg).unwrap();
    let a = ledger
        .db()
        .clock()
        .at(at(8, 0, 0, 0), || {
            ledger.record("agent_birth", None, json!({}))
        })
        .unwrap();
    let b = ledger
        .db()
        .clock()
        .at(at(8, 0, 0, 0), || {
            ledger.record("agent_mutation", Some(&a.event_id), json!({}))
        })
        .unwrap();
    let mut looped = a.clone();
    looped.parent_event_id = Some(b.event_id.clone());
    ledger.db().write(|w| w.update(&looped)).unwrap();
    assert!(matches!(
        ledger.lineage(&b.event_id),
        Err(Error::Corrupt { .. })
    ));
    let problems = ledger.verify_chain().unwrap();
    let cycles = problems
        .iter()
        .filter(|p| p.issue == ChainIssue::Cycle)
        .count();
    assert_eq!(cycles, 2, "{problems:?}");
    // `a` was rewritten without a new hash.
    assert!(problems.iter().any(
        |p| p.event_id == a.event_id && matches!(p.issue, ChainIssue::HashMismatch { .. })
    ));
    assert_clean(ledger.db());
}

fn genome(id: &str, fitness: f64) -> Genome {
    Genome {
        genome_id: id.into(),
        name: format!("agent-{id}"),
        traits: Some(r#"{"curiosity": 0.7, "rigor": 0.4}"#.into()),
        expertise: Some(r#"{"security": 0.9}"#.into()),
        model_preference: Some("claude".into()),
        parent_genomes: Some("[]".into()),
        generation: Some(0),
        fitness_score: Some(fitness),
        ..Genome::default()
    }
}

#[test]
fn genomes_and_populations() {
    let (_d, cfg) = store_dir();
    let ledger = GenesisLedger::open(&cfg).unwrap();
    let store = ledger.genomes();
    // Both types share one file and one handle.
    let other = aragora_db::store::genesis::GenomeStore::open(&cfg).unwrap();
    assert_eq!(other.db().path(), ledger.db().path());

    let g1 = store.save_genome(&genome("aaaaaaaaaaaa", 0.5)).unwrap();
    assert!(g1.created_at.is_some() && g1.updated_at.is_some());
    store.save_genome(&genome("bbbbbbbbbbbb", 0.9)).unwrap();
    store.save_genome(&genome("cccccccccccc", 0.2)).unwrap();
    let mut bad = genome("dddddddddddd", 0.1);
    bad.traits = Some(r#"["curiosity"]"#.into());
    assert!(matches!(
        store.save_genome(&bad),
        Err(Error::InvalidArgument(_))
    ));
    bad.traits = None;
    bad.parent_genomes = Some(r#"{"a": 1}"#.into());
    assert!(matches!(
        store.save_genome(&bad),
        Err(Error::InvalidArgument(_))
    ));

    // Upsert keeps created_at when given.
    let mut again = g1.clone();
    again.name = "renamed".into();
    let again = store.save_genome(&again).unwrap();
    assert_eq!(again.created_at, g1.created_at);
    assert_eq!(
        store.get_genome("aaaaaaaaaaaa").unwrap().unwrap().name,
        "renamed"
    );

    let top: Vec<_> = store
        .top_genomes(2)
        .unwrap()
        .into_iter()
        .map(|g| g.genome_id)
        .collect();
    assert_eq!(top, vec!["bbbbbbbbbbbb", "aaaaaaaaaaaa"]);
    let updated = store.update_fitness("cccccccccccc", 0.95).unwrap().unwrap();
    assert_eq!(updated.fitness_score, Some(0.95));
    assert_eq!(store.top_genomes(1).unwrap()[0].genome_id, "cccccccccccc");
    assert!(store.update_fitness("missing", 0.1).unwrap().is_none());

    assert!(store.active_population().unwrap().is_none());
    let t = NaiveDate::from_ymd_opt(2026, 2, 3)
        .unwrap()
        .and_hms_opt(4, 5, 6)
        .unwrap();
    let pop = store
        .db()
        .clock()
        .at(t, || {
            store.create_population(&["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
        })
        .unwrap();
    assert_eq!(pop.population_id, "pop-20260203-040506");
    assert_eq!(
        pop.genome_ids.as_deref(),
        Some(r#"["aaaaaaaaaaaa", "bbbbbbbbbbbb"]"#)
    );
    assert_eq!(store.active_population().unwrap(), Some(pop.clone()));
    assert!(matches!(
        store
            .db()
            .clock()
            .at(t, || store.create_population(&["aaaaaaaaaaaa"])),
        Err(Error::Unique { .. })
    ));
    assert!(matches!(
        store
            .db()
            .clock()
            .at(t + chrono::Duration::seconds(1), || store
                .create_population(&["nope"])),
        Err(Error::NotFound { .. })
    ));

    store.record_debate(&pop.population_id, "debate-1").unwrap();
    let p = store.record_debate(&pop.population_id, "debate-2").unwrap();
    assert_eq!(
        p.debate_history.as_deref(),
        Some(r#"["debate-1", "debate-2"]"#)
    );
    assert!(matches!(
        store.record_debate("pop-x", "d"),
        Err(Error::NotFound { .. })
    ));
    let evolved = store
        .evolve_population(&pop.population_id, &["cccccccccccc"])
        .unwrap();
    assert_eq!(evolved.generation, Some(1));

    let second = store
        .db()
        .clock()
        .at(t + chrono::Duration::hours(1), || {
            store.create_population(&["cccccccccccc"])
        })
        .unwrap();
    assert_eq!(
        store.active_population().unwrap().unwrap().population_id,
        second.population_id
    );
    store.set_active_population(&pop.population_id).unwrap();
    assert_eq!(
        store.active_population().unwrap().unwrap().population_id,
        pop.population_id
    );
    // The active population cannot be deleted (FK from active_population).
    assert!(matches!(
        store.db().write(
            |w| w.delete::<aragora_db::schema::genesis::Population>(pop.population_id.as_str())
        ),
        Err(Error::Referenced { .. })
    ));
    assert!(store.delete_genome("cccccccccccc").unwrap());
    assert_clean(store.db());
}

/// A row may reference itself, as SQLite allows (the original's
/// `genesis_events.parent_event_id` can name the event's own id): the
/// insert is accepted, and a RESTRICT delete is not blocked by the row's
/// reference to itself, on both backends. Another child still blocks it.
#[test]
fn store_an_event_that_is_its_own_parent_inserts_and_deletes() {
    let (_d, cfg) = store_dir();
    let db = Database::open(
        &cfg,
        aragora_db::config::DbTarget::Type(aragora_db::config::DatabaseType::Genesis),
    )
    .unwrap();
    let ev = |id: &str, parent: &str| GenesisEvent {
        event_id: id.into(),
        event_type: "tick".into(),
        timestamp: "2026-01-05T10:00:00".into(),
        parent_event_id: Some(parent.into()),
        content_hash: format!("h-{id}"),
        ..Default::default()
    };
    db.write(|w| w.insert(&ev("root", "root"))).unwrap();
    db.write(|w| w.insert(&ev("kid", "root"))).unwrap();
    let e = db.write(|w| w.delete::<GenesisEvent>("root")).unwrap_err();
    assert!(matches!(e, Error::Referenced { .. }), "{e}");
    assert!(db.write(|w| w.delete::<GenesisEvent>("kid")).unwrap());
    assert!(db.write(|w| w.delete::<GenesisEvent>("root")).unwrap());
    assert_clean(&db);
}
