//! `consolidate`: every declared table moves from the legacy files to the
//! consolidated files and back, entry for entry; reruns are safe; a
//! conflicting target is refused before anything is written.

use super::{cli, populate, raw_edit};
use crate::common::{assert_consistent, data_dir};
use aragora_db::Database;
use aragora_db::config::{Config, DatabaseMode, DatabaseType, DbTarget};
use aragora_db::ops::consolidate::{self, Action};
use aragora_db::schema::ALL_TABLES;
use aragora_db::store::elo::EloStore;
use aragora_db::table::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One row in every declared table (foreign keys off), through the write path.
fn one_row_everywhere(cfg: &Config) {
    let candidates = [
        Value::Integer(987_654),
        Value::Text("2026-01-01T00:00:00+00:00".into()),
        Value::Text("{}".into()),
        Value::Real(1.5),
        Value::Blob(vec![1, 2, 3]),
        Value::Integer(1),
    ];
    let mut by_file: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for &def in ALL_TABLES {
        by_file
            .entry(cfg.get_db_path(def.owner).unwrap().path)
            .or_default()
            .push(def);
    }
    for (path, defs) in by_file {
        let tables = aragora_db::schema::tables_in_file(cfg, &path).unwrap();
        let db = Database::open_path(&path, tables, &Default::default()).unwrap();
        db.write(|w| {
            w.set_foreign_keys(false)?;
            for def in defs {
                let values: Vec<Value> = def
                    .columns
                    .iter()
                    .map(|c| {
                        candidates
                            .iter()
                            .find(|v| (c.accepts)(v.as_ref()))
                            .cloned()
                            .unwrap_or(Value::Null)
                    })
                    .collect();
                w.insert_values(def, &values, &Default::default())
                    .unwrap_or_else(|e| panic!("{}: {e}", def.name));
            }
            Ok(())
        })
        .unwrap();
    }
}

/// Every raw entry of every table, by table name (files do not matter).
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn by_table(cfg: &Config) -> BTreeMap<String, Entries> {
    let mut out = BTreeMap::new();
    for set in aragora_db::ops::files(cfg).unwrap() {
        if !set.path.exists() {
            continue;
        }
        let db = Database::open_path(&set.path, set.tables.clone(), &Default::default()).unwrap();
        let r = db.read().unwrap();
        for def in &set.tables {
            let Ok(t) = r.raw_table(def.name) else {
                continue;
            };
            let rows: Vec<_> = redb::ReadableTable::iter(&t)
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.value().to_vec(), v.value().to_vec())
                })
                .collect();
            if !rows.is_empty() {
                out.insert(def.name.to_string(), rows);
            }
        }
    }
    out
}

fn leaderboard(cfg: &Config) -> Vec<Option<f64>> {
    let elo = EloStore::open(cfg).unwrap();
    ["alice", "bob"]
        .iter()
        .map(|a| elo.get_rating(a).unwrap().and_then(|r| r.elo))
        .collect()
}

#[test]
fn every_table_moves_to_consolidated_and_back() {
    let (_d, legacy) = data_dir();
    populate(&legacy, 4);
    one_row_everywhere(&legacy);
    let board = leaderboard(&legacy);
    let before = by_table(&legacy);
    assert_eq!(before.len(), ALL_TABLES.len(), "every table holds rows");
    let dir = legacy.data_dir.clone();
    let (src, dst) = consolidate::sides(&dir, &dir, false);
    let plan = consolidate::plan(&src, &dst).unwrap();
    assert!(plan.cannot_move.is_empty(), "{:?}", plan.cannot_move);
    let moving = plan
        .tables
        .iter()
        .filter(|t| t.action == Action::Move)
        .count();
    let stores = ALL_TABLES
        .iter()
        .filter(|d| matches!(d.owner, DbTarget::Store(_)))
        .count();
    assert_eq!(moving + stores, ALL_TABLES.len());
    for t in &plan.tables {
        assert_eq!(
            t.rows as usize,
            before[t.table].iter().filter(|(k, _)| k[0] == 0).count()
        );
    }
    let report = consolidate::migrate(&src, &dst, false).unwrap();
    assert_eq!(report.backups.len(), 2);
    assert!(report.written.iter().all(|p| p.exists()));
    let checks = consolidate::verify(&src, &dst).unwrap();
    assert_eq!(checks.len(), moving);
    assert!(checks.iter().all(|c| c.different == 0), "{checks:?}");
    // Consolidated mode sees exactly the same data, consistently.
    let cons = legacy.clone().with_mode(DatabaseMode::Consolidated);
    assert_eq!(by_table(&cons), before);
    assert_eq!(leaderboard(&cons), board);
    for set in aragora_db::ops::files(&cons).unwrap() {
        assert_consistent(
            &Database::open_path(&set.path, set.tables.clone(), &Default::default()).unwrap(),
        );
    }
    // A rerun is safe and changes nothing.
    consolidate::migrate(&src, &dst, true).unwrap();
    assert_eq!(by_table(&cons), before);
    // The reverse direction, into an empty directory.
    let back = tempfile::tempdir().unwrap();
    let (csrc, ldst) = consolidate::sides(&dir, back.path(), true);
    consolidate::migrate(&csrc, &ldst, true).unwrap();
    assert!(
        consolidate::verify(&csrc, &ldst)
            .unwrap()
            .iter()
            .all(|c| c.different == 0)
    );
    let back_cfg = Config::for_dir(back.path());
    // Into another directory the standalone stores are copied too: everything came back.
    assert_eq!(by_table(&back_cfg), before);
    assert_eq!(leaderboard(&back_cfg), board);
}

#[test]
fn a_conflicting_target_is_refused_and_reported_by_verify() {
    let (_d, legacy) = data_dir();
    populate(&legacy, 3);
    let dir = legacy.data_dir.clone();
    let (src, dst) = consolidate::sides(&dir, &dir, false);
    consolidate::migrate(&src, &dst, true).unwrap();
    // Someone changes a rating in the consolidated file.
    let analytics = dst
        .get_db_path(DbTarget::Type(DatabaseType::Elo))
        .unwrap()
        .path;
    raw_edit(&analytics, "ratings", |t| {
        t.insert(b"\x00zz-new".as_slice(), b"junk".as_slice())
            .unwrap();
    });
    let snapshot = std::fs::read(&analytics).unwrap();
    let err = consolidate::migrate(&src, &dst, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ratings") && err.contains("analytics.redb"),
        "{err}"
    );
    assert!(
        std::fs::read(&analytics).unwrap() == snapshot,
        "target was rewritten"
    );
    let checks = consolidate::verify(&src, &dst).unwrap();
    let ratings = checks.iter().find(|c| c.table == "ratings").unwrap();
    assert_eq!(ratings.different, 1);
    assert!(
        ratings.differences[0].contains("only in target"),
        "{:?}",
        ratings.differences
    );
    let o = cli(&[
        "--data-dir",
        dir.to_str().unwrap(),
        "consolidate",
        "--verify",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("only in target"));
}

#[test]
fn dry_run_lists_tables_with_counts_and_writes_nothing() {
    let (_d, legacy) = data_dir();
    populate(&legacy, 2);
    let files = |p: &Path| std::fs::read_dir(p).unwrap().count();
    let n = files(&legacy.data_dir);
    let o = cli(&[
        "--data-dir",
        legacy.data_dir.to_str().unwrap(),
        "consolidate",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("ratings")
            && l.contains("agent_elo.redb -> ")
            && l.contains("analytics.redb")),
        "{text}"
    );
    assert_eq!(files(&legacy.data_dir), n);
}

#[test]
fn overrides_are_honoured_on_both_sides() {
    let (_d, mut legacy) = data_dir();
    // A store and a legacy database placed elsewhere by ARAGORA_DB_* overrides.
    legacy.overrides.insert(
        DbTarget::Store(aragora_db::config::Store::ShareLinks),
        "links/shared.db".into(),
    );
    legacy
        .overrides
        .insert(DbTarget::Type(DatabaseType::Elo), "ratings/elo.db".into());
    populate(&legacy, 2);
    assert!(legacy.data_dir.join("ratings/elo.redb").exists());
    let dir = legacy.data_dir.clone();
    let (src, dst) = consolidate::sides_from(&legacy, &dir, &dir, false);
    let plan = consolidate::plan(&src, &dst).unwrap();
    let links = plan
        .tables
        .iter()
        .find(|t| t.table == "share_links")
        .unwrap();
    assert_eq!(links.action, Action::Stays, "{links:?}");
    let ratings = plan.tables.iter().find(|t| t.table == "ratings").unwrap();
    assert_eq!(ratings.action, Action::Move);
    assert!(
        ratings.from.ends_with("ratings/elo.redb") && ratings.rows == 2,
        "{ratings:?}"
    );
    consolidate::migrate(&src, &dst, true).unwrap();
    assert!(
        consolidate::verify(&src, &dst)
            .unwrap()
            .iter()
            .all(|c| c.different == 0)
    );
    assert_eq!(leaderboard(&dst), leaderboard(&src));
}

#[test]
fn a_legacy_files_own_copy_with_rows_is_listed_as_left_in_place() {
    // The committed sample imported in legacy mode: grounded_positions.redb
    // and agent_relationships.redb hold their own agent_relationships rows.
    let (_d, legacy) = data_dir();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic");
    aragora_db::import::import(
        &legacy,
        &aragora_db::import::Options {
            source: sample,
            dry_run: false,
        },
        &aragora_db::import::Silent,
    )
    .unwrap();
    // Every copy with rows, by file and table.
    let mut copies = Vec::new();
    for &(target, defs) in aragora_db::schema::ALSO_IN {
        let path = legacy.get_db_path(target).unwrap().path;
        let db = Database::open(&legacy, target).unwrap();
        let r = db.read().unwrap();
        for def in defs {
            let n = r.count_rows(def).unwrap();
            if n > 0 {
                copies.push(format!(
                    "{}: table {} ({n} rows) is this file's own copy of the table",
                    path.display(),
                    def.name
                ));
            }
        }
        drop(r);
    }
    assert!(
        copies
            .iter()
            .any(|c| c.contains("grounded_positions.redb: table agent_relationships (12 rows)"))
    );
    assert!(
        copies
            .iter()
            .any(|c| c.contains("agent_relationships.redb: table agent_relationships (12 rows)"))
    );
    let dir = legacy.data_dir.clone();
    let (src, dst) = consolidate::sides(&dir, &dir, false);
    let plan = consolidate::plan(&src, &dst).unwrap();
    // Each is listed as left in place, naming the file the moved table
    // comes from; the empty copies (the rest of the ELO schema in those
    // files) are not listed, and nothing else is.
    assert_eq!(
        plan.cannot_move.len(),
        copies.len(),
        "{:?}",
        plan.cannot_move
    );
    for c in &copies {
        assert!(
            plan.cannot_move
                .iter()
                .any(|m| m.starts_with(c.as_str()) && m.contains("left in place")),
            "{c} not in {:?}",
            plan.cannot_move
        );
    }
    assert!(
        plan.cannot_move
            .iter()
            .filter(|m| m.contains("table agent_relationships ("))
            .all(|m| m.contains("moved from ") && m.contains("agent_elo.redb")),
        "{:?}",
        plan.cannot_move
    );
}
