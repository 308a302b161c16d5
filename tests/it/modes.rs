//! Legacy and consolidated mode: the same scenario through several stores
//! gives the same observable results; only the files differ, and each
//! table lands in the file `schema::tables_in_file` names.

use aragora_db::config::{Config, DatabaseMode, DatabaseType, DbTarget};
use aragora_db::db::Database;
use aragora_db::schema::tables_in_file;
use aragora_db::store::elo::{EloStore, MatchInput};
use aragora_db::store::genesis::GenesisLedger;
use aragora_db::store::personas::{PersonaManager, PersonaView};
use aragora_db::store::positions::{FlipSummary, PositionLedger, PositionStats};
use aragora_db::table::check::check_table;
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The types the scenario touches, with one table each must hold.
const TOUCHED: [(DatabaseType, &str); 4] = [
    (DatabaseType::Elo, "ratings"),
    (DatabaseType::Genesis, "genesis_events"),
    (DatabaseType::Positions, "positions"),
    (DatabaseType::Personas, "personas"),
];

fn at(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 4, 1)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

#[derive(Debug, PartialEq)]
struct Observed {
    elo_changes: Vec<(String, f64)>,
    ratings: Vec<(String, String)>,
    matches: u64,
    lineage: Vec<(String, Option<String>)>,
    chain_problems: usize,
    genesis_count: u64,
    claims: Vec<(String, f64, i64)>,
    stats: PositionStats,
    flips: Vec<(String, String, String)>,
    flip_summary: FlipSummary,
    persona: PersonaView,
    expertise: f64,
    history: usize,
}

fn scenario(cfg: &Config) -> (Observed, Vec<Database>) {
    let elo = EloStore::open(cfg).unwrap();
    let when = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
    let changes = elo
        .db()
        .clock()
        .at(when, || {
            elo.record_match(&MatchInput::head_to_head(
                "d1", "claude", "gpt", false, None,
            ))
        })
        .unwrap();
    elo.db()
        .clock()
        .at(when, || {
            elo.record_match(&MatchInput::new(
                "d2",
                &[("claude", 0.2), ("gpt", 0.9)],
                Some("code"),
            ))
        })
        .unwrap();
    let ratings = elo
        .ratings()
        .unwrap()
        .into_iter()
        .map(|r| (r.agent_name.clone(), format!("{r:?}")))
        .collect();

    let genesis = GenesisLedger::open(cfg).unwrap();
    let root = genesis
        .db()
        .clock()
        .at(at(9), || {
            genesis.record("debate_start", None, json!({"task": "t"}))
        })
        .unwrap();
    let child = genesis
        .db()
        .clock()
        .at(at(10), || {
            genesis.record(
                "consensus_reached",
                Some(&root.event_id),
                json!({"confidence": 0.75, "agents": ["claude", "gpt"]}),
            )
        })
        .unwrap();
    // Ids are random: compare the content, not the ids.
    let lineage = genesis
        .lineage(&child.event_id)
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.data))
        .collect();

    let ledger = PositionLedger::open(cfg).unwrap();
    let p = ledger
        .db()
        .clock()
        .at(at(9), || {
            ledger.record_position("claude", "Tabs are better", 0.8, "d1", 1, Some("style"))
        })
        .unwrap();
    ledger
        .db()
        .clock()
        .at(at(10), || {
            ledger.record_position("claude", "Tabs are not better", 0.6, "d2", 1, None)
        })
        .unwrap();
    ledger.record_reversal("claude", &p.id, "d2").unwrap();
    let flips = ledger
        .flips()
        .db()
        .clock()
        .at(at(11), || {
            ledger.flips().detect_flips_for_agent("claude", 50)
        })
        .unwrap()
        .into_iter()
        .map(|f| {
            (
                f.original_claim,
                f.new_claim,
                f.flip_type.unwrap_or_default(),
            )
        })
        .collect();

    let pm = PersonaManager::open(cfg).unwrap();
    pm.db()
        .clock()
        .at(at(9), || {
            pm.create_persona("claude", "Reviewer", &["thorough"], &[("security", 0.5)])
        })
        .unwrap();
    let expertise = pm
        .db()
        .clock()
        .at((at(10), when), || {
            pm.record_performance("claude", "security", true, "critique", Some("d1"))
        })
        .unwrap();

    let observed = Observed {
        elo_changes: changes.into_iter().collect(),
        ratings,
        matches: elo.count_matches().unwrap(),
        lineage,
        chain_problems: genesis.verify_chain().unwrap().len(),
        genesis_count: genesis.count().unwrap(),
        claims: ledger
            .agent_positions("claude", None, None)
            .unwrap()
            .into_iter()
            .map(|p| (p.claim, p.confidence, p.round_num))
            .collect(),
        stats: ledger.position_stats("claude").unwrap(),
        flips,
        flip_summary: ledger.flips().flip_summary().unwrap(),
        persona: pm.get_persona("claude").unwrap().unwrap(),
        expertise,
        history: pm.performance_history("claude", None, None).unwrap().len(),
    };
    let dbs = vec![
        elo.db().clone(),
        genesis.db().clone(),
        ledger.db().clone(),
        pm.db().clone(),
    ];
    (observed, dbs)
}

fn redb_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "redb"))
        .map(|p| p.canonicalize().unwrap())
        .collect()
}

fn expected_files(cfg: &Config) -> BTreeSet<PathBuf> {
    TOUCHED
        .iter()
        .map(|(t, _)| cfg.get_db_path(DbTarget::Type(*t)).unwrap().path)
        .collect()
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs the scenario in one mode and checks where everything landed.
fn run(mode: DatabaseMode) -> Observed {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(dir.path())
        .with_mode(mode)
        .with_clock(aragora_db::time::Clock::manual());
    let other_mode = match mode {
        DatabaseMode::Legacy => DatabaseMode::Consolidated,
        DatabaseMode::Consolidated => DatabaseMode::Legacy,
    };
    let other = cfg.clone().with_mode(other_mode);
    let (observed, dbs) = scenario(&cfg);

    // Exactly the files this mode names, none of the other mode's.
    let expected: BTreeSet<PathBuf> = expected_files(&cfg)
        .into_iter()
        .map(|p| p.canonicalize().expect("expected file exists"))
        .collect();
    let found = redb_files(dir.path());
    assert_eq!(found, expected, "{mode:?}");
    for p in expected_files(&other) {
        if !expected.iter().any(|e| name_of(e) == name_of(&p)) {
            assert!(!p.exists(), "{mode:?} created {}", p.display());
        }
    }

    // Each table is in the file tables_in_file says, holds rows there, and
    // is in no other file of this mode.
    for (db, (ty, table)) in dbs.iter().zip(TOUCHED) {
        let path = cfg.get_db_path(DbTarget::Type(ty)).unwrap().path;
        assert_eq!(
            db.path().canonicalize().unwrap(),
            path.canonicalize().unwrap()
        );
        let in_file = tables_in_file(&cfg, &path).unwrap();
        assert!(
            in_file.iter().any(|d| d.name == table),
            "{table} not in {}",
            path.display()
        );
        let names: Vec<&str> = db.tables().iter().map(|d| d.name).collect();
        let want: Vec<&str> = in_file.iter().map(|d| d.name).collect();
        assert_eq!(names, want);
        let def = db.tables().iter().find(|d| d.name == table).unwrap();
        let r = db.read().unwrap();
        assert!(r.count_rows(def).unwrap() > 0, "{table} empty");
        for f in &expected {
            if f != &path.canonicalize().unwrap() {
                let others = tables_in_file(&cfg, f).unwrap();
                // Only where the original keeps a copy of its own (legacy).
                let copy = mode == DatabaseMode::Legacy
                    && aragora_db::schema::ALSO_IN.iter().any(|(t, defs)| {
                        cfg.get_db_path(*t)
                            .unwrap()
                            .path
                            .canonicalize()
                            .ok()
                            .as_ref()
                            == Some(f)
                            && defs.iter().any(|d| d.name == table)
                    });
                assert_eq!(
                    others.iter().any(|d| d.name == table),
                    copy,
                    "{table} in {}",
                    f.display()
                );
            }
        }
        for def in db.tables() {
            let problems = check_table(&r, def).unwrap();
            assert!(problems.is_empty(), "{}: {problems:?}", def.name);
        }
    }
    observed
}

#[test]
fn same_results_in_both_modes() {
    let legacy = run(DatabaseMode::Legacy);
    let consolidated = run(DatabaseMode::Consolidated);
    assert_eq!(legacy, consolidated);
    assert_eq!(legacy.matches, 2);
    assert_eq!(legacy.genesis_count, 2);
    assert_eq!(legacy.chain_problems, 0);
    assert_eq!(legacy.flips.len(), 1);
    assert_eq!(legacy.flips[0].2, "contradiction");
    assert_eq!(legacy.history, 1);
}

#[test]
fn file_names_per_mode() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = Config::for_dir(dir.path()).with_clock(aragora_db::time::Clock::manual());
    let cons = legacy.clone().with_mode(DatabaseMode::Consolidated);
    let names = |cfg: &Config| -> BTreeSet<String> {
        expected_files(cfg).iter().map(|p| name_of(p)).collect()
    };
    let l = names(&legacy);
    let c = names(&cons);
    for n in [
        "agent_elo.redb",
        "genesis.redb",
        "grounded_positions.redb",
        "agent_personas.redb",
    ] {
        assert!(l.contains(n), "{n}");
        assert!(!c.contains(n), "{n}");
    }
    for n in ["analytics.redb", "agents.redb", "core.redb"] {
        assert!(c.contains(n), "{n}");
        assert!(!l.contains(n), "{n}");
    }
    // Personas and genesis share agents.redb in consolidated mode.
    assert_eq!(
        cons.get_db_path(DbTarget::Type(DatabaseType::Personas))
            .unwrap()
            .path,
        cons.get_db_path(DbTarget::Type(DatabaseType::Genesis))
            .unwrap()
            .path
    );
}

#[cfg(unix)]
#[test]
fn new_database_files_are_0600_and_new_directories_0700() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nested/.nomic");
    let config = aragora_db::config::Config::for_dir(&data);
    aragora_db::store::UserStore::open(&config).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("users.redb")), 0o600);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&tmp.path().join("nested")), 0o700);
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".creating-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn export_files_are_0600_and_their_new_directories_0700() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = aragora_db::config::Config::for_dir(&data);
    aragora_db::store::UserStore::open(&config).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let run = |args: &[&str]| {
        let out = crate::common::bin()
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let script = tmp.path().join("dump.sql");
    run(&[
        "export",
        "--format",
        "postgres",
        "--schema-only",
        "--out",
        script.to_str().unwrap(),
    ]);
    assert_eq!(mode(&script), 0o600);
    let dir = tmp.path().join("sb");
    run(&[
        "export",
        "--format",
        "supabase",
        "--schema-only",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let migrations = dir.join("supabase/migrations");
    assert_eq!(mode(&migrations), 0o700);
    for f in std::fs::read_dir(&migrations).unwrap() {
        assert_eq!(mode(&f.unwrap().path()), 0o600);
    }
}
