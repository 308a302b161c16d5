//! Generic checks over every declared table: file placement in both modes,
//! and a round trip of extreme values through `insert_values`/`scan_raw`.

use crate::common::data_dir;
use aragora_db::Database;
use aragora_db::config::{Config, DatabaseMode, DatabaseType, DbTarget};
use aragora_db::schema::{ALL_TABLES, ALSO_IN, registry_problems, tables_in_file};
use aragora_db::table::{ColumnDef, Extras, KeyRange, Page, SqlType, TableDef, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const MODES: [DatabaseMode; 2] = [DatabaseMode::Legacy, DatabaseMode::Consolidated];

/// `DatabaseType` value → consolidated file (docs/ORIGINAL.md, "Database types
/// and file names").
fn documented_consolidated_file(t: DatabaseType) -> &'static str {
    match t.value() {
        "debates" | "traces" | "tournaments" | "embeddings" | "positions" | "evolution"
        | "onboarding" => "core.db",
        "continuum_memory"
        | "agent_memories"
        | "consensus_memory"
        | "agora_memory"
        | "semantic_patterns"
        | "suggestion_feedback" => "memory.db",
        "elo" | "calibration" | "insights" | "prompt_evolution" | "meta_learning" | "billing" => {
            "analytics.db"
        }
        "personas" | "relationships" | "laboratory" | "truth_grounding" | "genesis" | "genomes" => {
            "agents.db"
        }
        other => panic!("DatabaseType {other} is not in docs/ORIGINAL.md"),
    }
}

#[test]
fn registry_is_consistent() {
    assert_eq!(registry_problems(), Vec::<String>::new());
}

#[test]
fn every_table_lives_in_its_owner_file_and_the_originals_copies_per_mode() {
    let (dir, cfg) = data_dir();
    for mode in MODES {
        let cfg = cfg.clone().with_mode(mode);
        let files: BTreeSet<PathBuf> = cfg
            .all_db_paths()
            .unwrap()
            .into_iter()
            .map(|(_, f)| f.path)
            .collect();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for file in &files {
            for def in tables_in_file(&cfg, file).unwrap() {
                *seen.entry(def.name).or_default() += 1;
            }
        }
        for def in ALL_TABLES {
            // Legacy mode: also the files where the original keeps its own
            // copy of the table (ALSO_IN); consolidated mode: one file.
            let copies = match mode {
                DatabaseMode::Legacy => ALSO_IN
                    .iter()
                    .filter(|(_, defs)| defs.iter().any(|d| d.name == def.name))
                    .count(),
                DatabaseMode::Consolidated => 0,
            };
            assert_eq!(
                seen.get(def.name),
                Some(&(1 + copies)),
                "{} in {mode:?}",
                def.name
            );
        }
        if mode == DatabaseMode::Legacy {
            let elo = |t| {
                let path = cfg.get_db_path(DbTarget::Type(t)).unwrap().path;
                tables_in_file(&cfg, &path)
                    .unwrap()
                    .iter()
                    .any(|d| d.name == "agent_relationships")
            };
            assert!(
                elo(DatabaseType::Elo)
                    && elo(DatabaseType::Positions)
                    && elo(DatabaseType::Relationships)
            );
        }
        for def in ALL_TABLES {
            let got = cfg.get_db_path(def.owner).unwrap().path;
            let expected_sqlite = match (mode, def.owner) {
                (DatabaseMode::Consolidated, DbTarget::Type(t)) => {
                    documented_consolidated_file(t).to_string()
                }
                (_, owner) => owner.legacy_file_name().to_string(),
            };
            let expected = aragora_db::config::redb_path_for(&dir.path().join(expected_sqlite));
            assert_eq!(got, expected, "{} in {mode:?}", def.name);
        }
    }
}

const ROWS: usize = 5;

fn text_value(col: &ColumnDef, row: usize) -> String {
    match col.sql {
        SqlType::Json => [
            r#"{"k": "caf\u00e9 \ud83d\ude80", "n": [1, 2.5, null], "row": 0}"#.to_string(),
            r#"[]"#.to_string(),
            r#"{"nested": {"a": "\"quoted\" \\ back"}, "row": 2}"#.to_string(),
            format!(r#"["{}"]"#, "\\u00fc".repeat(900)),
            r#"{}"#.to_string(),
        ][row]
            .clone(),
        SqlType::Timestamp => [
            "2026-01-01 00:00:00",
            "2026-01-01T12:34:56.789012",
            "2026-01-01T12:34:56.789012+00:00",
            "1970-01-01T00:00:00",
            "9999-12-31 23:59:59",
        ][row]
            .to_string(),
        _ => match row {
            0 => "héllo wörld ✓ 日本語 🚀 \u{0}nul".to_string(),
            1 => format!("{}-{}", "ü€𝄞".repeat(600), col.name),
            2 => String::new(),
            3 => "'quote'; DROP TABLE x; --".to_string(),
            _ => format!("row{row}"),
        },
    }
}

fn value_for(def: &TableDef, ci: usize, row: usize) -> Value {
    let col = &def.columns[ci];
    let in_pk = def.primary_key.contains(&ci);
    if col.nullable && !in_pk && row == ROWS - 1 {
        return Value::Null;
    }
    match col.expected {
        "TEXT" => Value::Text(text_value(col, row)),
        "INTEGER" => Value::Integer([i64::MIN, i64::MAX, 0, -1, 42][row]),
        "INTEGER 0 or 1" => Value::Integer((row % 2) as i64),
        "REAL" => Value::Real(
            [
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                f64::from_bits(1), // smallest subnormal
            ][row],
        ),
        "BLOB" => Value::Blob(match row {
            0 => Vec::new(),
            1 => [1.0f32, -2.5, f32::MAX, f32::MIN_POSITIVE]
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect(),
            2 => vec![0, 0xFF, 0, 1, 0],
            3 => (0..5000).map(|i| (i % 251) as u8).collect(),
            _ => vec![row as u8],
        }),
        "any value" => [
            Value::Integer(i64::MIN),
            Value::Real(-0.0),
            Value::Text("untyped ✓".into()),
            Value::Blob(vec![0, 1, 2]),
            Value::Integer(row as i64),
        ][row]
            .clone(),
        other => panic!("{}.{}: unexpected column kind {other}", def.name, col.name),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn round_trip(cfg: &Config) {
    // One open per file; every table of that file goes through it.
    let mut by_file: BTreeMap<PathBuf, Vec<&'static TableDef>> = BTreeMap::new();
    for &def in ALL_TABLES {
        by_file
            .entry(cfg.get_db_path(def.owner).unwrap().path)
            .or_default()
            .push(def);
    }
    for defs in by_file.values() {
        let db = Database::open(cfg, defs[0].owner).unwrap();
        let names: BTreeSet<&str> = db.tables().iter().map(|d| d.name).collect();
        for &def in defs {
            assert!(names.contains(def.name), "{} not opened", def.name);
            let mut extras = Extras::new();
            extras.insert("legacy_only_ü".into(), Value::Text("kept \u{1F680}".into()));
            extras.insert("legacy_real".into(), Value::Real(-0.0));
            let rows: Vec<Vec<Value>> = (0..ROWS)
                .map(|r| {
                    (0..def.columns.len())
                        .map(|c| value_for(def, c, r))
                        .collect()
                })
                .collect();
            let mut written = BTreeMap::new();
            db.write(|w| {
                w.set_foreign_keys(false)?;
                for row in &rows {
                    let pk = w.insert_values(def, row, &extras)?;
                    written.insert(pk, row.clone());
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: insert failed: {e}", def.name));
            assert_eq!(written.len(), ROWS, "{}: duplicate keys", def.name);

            let r = db.read().unwrap();
            let mut read = 0;
            r.scan_raw(def, &KeyRange::all(), Page::default(), |k, v| {
                let (values, got_extras) = def.decode_values(k, v)?;
                let want = written
                    .get(k)
                    .unwrap_or_else(|| panic!("{}: unexpected key", def.name));
                assert_eq!(values.len(), want.len(), "{}", def.name);
                for (i, (g, w)) in values.iter().zip(want).enumerate() {
                    assert!(
                        same(g, w),
                        "{}.{}: wrote {w:?}, read {g:?}",
                        def.name,
                        def.columns[i].name
                    );
                }
                assert_eq!(got_extras.len(), extras.len(), "{}", def.name);
                for (k, w) in &extras {
                    assert!(same(&got_extras[k], w), "{}: extra {k}", def.name);
                }
                read += 1;
                Ok(true)
            })
            .unwrap();
            assert_eq!(read, ROWS, "{}", def.name);
            assert_eq!(r.count_rows(def).unwrap(), ROWS as u64, "{}", def.name);
        }
        let r = db.read().unwrap();
        for &def in defs {
            // Parents are absent on purpose (foreign keys were off), so
            // dangling references are expected; everything else must hold.
            let problems: Vec<_> = aragora_db::table::check::check_table(&r, def)
                .unwrap()
                .into_iter()
                .filter(|p| !p.what.contains(" has no row in "))
                .collect();
            assert!(problems.is_empty(), "{}: {problems:?}", def.name);
        }
    }
}

#[test]
fn every_table_round_trips_extreme_values_in_legacy_mode() {
    let (_dir, cfg) = data_dir();
    round_trip(&cfg.with_mode(DatabaseMode::Legacy));
}

#[test]
fn every_table_round_trips_extreme_values_in_consolidated_mode() {
    let (_dir, cfg) = data_dir();
    round_trip(&cfg.with_mode(DatabaseMode::Consolidated));
}
