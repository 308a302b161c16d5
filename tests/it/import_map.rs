//! Where imported rows go: a table the original keeps in several files
//! stays in each file in legacy mode; consolidated mode merges the copies
//! and reports every conflict; a table keyed by SQLite's implicit rowid
//! comes across typed. Uses the committed sample (`tests/fixtures/legacy-nomic`,
//! written by `tools/make-legacy-fixture --rows 12 --seed 1`) and hand-made files.

use aragora_db::Database;
use aragora_db::config::{Config, DatabaseMode, DatabaseType, DbTarget, Store};
use aragora_db::import::{self, ImportReport, Options, Silent};
use aragora_db::schema::ALL_TABLES;
use aragora_db::schema::critique::PatternArchive;
use aragora_db::schema::elo::AgentRelationship;
use aragora_db::schema::import::ImportReject;
use aragora_db::sqlite::{SqliteFile, ValueRef};
use aragora_db::table::Read;
use aragora_db::table::{KeyRange, Page};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic")
}

fn run(config: &Config, source: &Path) -> ImportReport {
    let opts = Options {
        source: source.to_path_buf(),
        dry_run: false,
    };
    import::import(config, &opts, &Silent).expect("import")
}

/// `agent_relationships` of one source file: (agent_a, agent_b) → debate_count.
fn source_relationships(file: &Path) -> BTreeMap<(String, String), Option<i64>> {
    let db = SqliteFile::open(file).unwrap();
    let tables = db.tables().unwrap();
    let t = tables
        .iter()
        .find(|t| t.name == "agent_relationships")
        .unwrap();
    let col = |n: &str| t.columns.iter().position(|c| c.name == n).unwrap();
    let (a, b, n) = (col("agent_a"), col("agent_b"), col("debate_count"));
    let text = |v: ValueRef<'_>| match v {
        ValueRef::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    let mut out = BTreeMap::new();
    let mut rows = db.rows(t).unwrap();
    while let Some(r) = rows.next_row() {
        let r = r.unwrap();
        let count = match r.get(n) {
            ValueRef::Integer(i) => Some(i),
            ValueRef::Null => None,
            other => panic!("{other:?}"),
        };
        out.insert((text(r.get(a)), text(r.get(b))), count);
    }
    out
}

fn stored_relationships(
    config: &Config,
    target: DatabaseType,
) -> BTreeMap<(String, String), Option<i64>> {
    let db = Database::open(config, DbTarget::Type(target)).unwrap();
    let rows: Vec<AgentRelationship> = db
        .read()
        .unwrap()
        .scan(KeyRange::all(), Page::default())
        .unwrap();
    rows.into_iter()
        .map(|r| ((r.agent_a, r.agent_b), r.debate_count))
        .collect()
}

const RELATIONSHIP_FILES: [(&str, DatabaseType); 3] = [
    ("agent_elo.db", DatabaseType::Elo),
    ("grounded_positions.db", DatabaseType::Positions),
    ("agent_relationships.db", DatabaseType::Relationships),
];

#[test]
fn legacy_import_of_the_sample_rejects_nothing_and_types_every_declared_table() {
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let report = run(&config, &sample());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.total(|t| t.rejected), 0, "{}", report.render());
    let declared = |name: &str| {
        ALL_TABLES.iter().any(|d| {
            d.name.eq_ignore_ascii_case(name)
                || d.sources.iter().any(|s| s.eq_ignore_ascii_case(name))
        })
    };
    for t in &report.tables {
        if t.kind == "raw" {
            assert!(
                !declared(&t.table),
                "{}:{} went raw: {}",
                t.file,
                t.table,
                t.raw_reason
            );
            assert!(t.raw_reason.contains("no declared table"), "{t:?}");
        }
    }
    let text = report.render();
    assert!(
        text.contains("agora_memory.db:patterns_archive has no primary key of its own"),
        "{text}"
    );
    assert!(
        text.contains(
            "kept untyped in import_raw_rows: no declared table is named _schema_versions"
        )
    );
    assert!(import::verify::verify(&config, &sample()).unwrap().ok());
}

#[test]
fn each_legacy_file_keeps_its_own_relationships() {
    let src = sample();
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let report = run(&config, &src);
    let mut by_file = Vec::new();
    for (file, target) in RELATIONSHIP_FILES {
        let t = report
            .tables
            .iter()
            .find(|t| t.file == file && t.table == "agent_relationships")
            .unwrap();
        let path = config.get_db_path(DbTarget::Type(target)).unwrap().path;
        assert_eq!(
            t.target,
            format!(
                "{}:agent_relationships",
                path.file_name().unwrap().to_string_lossy()
            )
        );
        assert_eq!((t.imported, t.rejected, t.rekeyed), (t.read, 0, 0), "{t:?}");
        let want = source_relationships(&src.join(file));
        assert_eq!(want.len() as u64, t.read);
        assert_eq!(stored_relationships(&config, target), want, "{file}");
        by_file.push(want);
    }
    // The ELO store reads its own file's copy, as the original's
    // EloSystem reads agent_elo.db.
    let elo = aragora_db::store::elo::EloStore::open(&config).unwrap();
    for ((a, b), n) in &by_file[0] {
        let r = elo.relationship(a, b).unwrap().unwrap();
        assert_eq!(&r.debate_count, n);
    }
    // The sample has pairs that two files hold with other counts: in the
    // original they are separate tables, and they stay separate here.
    let differing = by_file[0]
        .iter()
        .filter(|(k, v)| by_file[1].get(*k).is_some_and(|w| w != *v))
        .count();
    assert!(
        differing > 0,
        "the sample has no key held with other values"
    );
}

#[test]
fn consolidated_import_merges_the_copies_and_reports_each_conflict() {
    let src = sample();
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path()).with_mode(DatabaseMode::Consolidated);
    let report = run(&config, &src);
    let elo = source_relationships(&src.join("agent_elo.db"));
    let mut expected = elo.clone();
    for (file, _) in &RELATIONSHIP_FILES[1..] {
        let rows = source_relationships(&src.join(file));
        let same = rows.iter().filter(|(k, v)| elo.get(*k) == Some(v)).count() as u64;
        let other = rows
            .iter()
            .filter(|(k, v)| elo.get(*k).is_some_and(|w| w != *v))
            .count() as u64;
        assert!(same > 0 && other > 0, "{file}: the sample has both cases");
        let t = report
            .tables
            .iter()
            .find(|t| t.file == *file && t.table == "agent_relationships")
            .unwrap();
        assert_eq!(t.target, "analytics.redb:agent_relationships");
        // Identical rows dedupe; same key with other values is a conflict,
        // rejected with its reason; every other row is imported.
        assert_eq!(t.already_present, same, "{t:?}");
        assert_eq!((t.conflicts, t.rejected), (other, other), "{t:?}");
        assert_eq!(t.imported, t.read - same - other, "{t:?}");
        for (k, v) in rows {
            expected.entry(k).or_insert(v);
        }
        assert!(
            report.render().contains(&format!(
                "note: {file}:agent_relationships {other} rows not merged into analytics.redb:agent_relationships"
            )),
            "{}",
            report.render()
        );
    }
    assert_eq!(stored_relationships(&config, DatabaseType::Elo), expected);

    let imp = Database::open(&config, DbTarget::Store(Store::Import)).unwrap();
    let rejects: Vec<ImportReject> = imp
        .read()
        .unwrap()
        .scan(KeyRange::all(), Page::default())
        .unwrap();
    let conflicts = report.total(|t| t.conflicts);
    assert_eq!(rejects.len() as u64, report.total(|t| t.rejected));
    assert!(conflicts > 0);
    for r in rejects
        .iter()
        .filter(|r| r.target_table == "agent_relationships")
    {
        assert!(
            r.reason.starts_with(
                "conflict: analytics.redb:agent_relationships already holds a row with key"
            ),
            "{}",
            r.reason
        );
        assert!(r.reason.contains("from agent_elo.db"), "{}", r.reason);
    }
    assert!(import::verify::verify(&config, &src).unwrap().ok());
}

#[test]
fn a_rowid_keyed_table_comes_across_typed_with_its_rowids() {
    let src = tempfile::tempdir().unwrap();
    let c = rusqlite::Connection::open(src.path().join("agora_memory.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE patterns_archive (
        id TEXT,
        issue_type TEXT,
        issue_text TEXT,
        suggestion_text TEXT,
        success_count INTEGER,
        failure_count INTEGER,
        avg_severity REAL,
        surprise_score REAL,
        example_task TEXT,
        created_at TEXT,
        updated_at TEXT,
        archived_at TEXT DEFAULT CURRENT_TIMESTAMP
    );
    INSERT INTO patterns_archive (id, issue_type, success_count) VALUES ('p1', 'security', 3);
    INSERT INTO patterns_archive (id, issue_type, success_count) VALUES ('p2', 'clarity', 0);
    INSERT INTO patterns_archive (id, issue_type, success_count) VALUES ('p1', 'security', 4);
    INSERT INTO patterns_archive (id, issue_type, success_count) VALUES ('p3', NULL, NULL);
    DELETE FROM patterns_archive WHERE id = 'p2';
    INSERT INTO patterns_archive (rowid, id) VALUES (1000, 'p4');
    -- the same name without a rowid: nothing to key it by
    ",
    )
    .unwrap();
    drop(c);
    let other = rusqlite::Connection::open(src.path().join("elsewhere.db")).unwrap();
    other
        .execute_batch(
            "CREATE TABLE patterns_archive (id TEXT PRIMARY KEY, issue_type TEXT) WITHOUT ROWID;
             INSERT INTO patterns_archive VALUES ('q1', 'general');",
        )
        .unwrap();
    drop(other);

    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let report = run(&config, src.path());
    let t = report
        .tables
        .iter()
        .find(|t| t.file == "agora_memory.db")
        .unwrap();
    assert_eq!(t.kind, "typed", "{t:?}");
    assert_eq!(t.rowid_column, Some("rowid"));
    assert!(t.defaulted_columns.is_empty(), "{t:?}");
    assert_eq!((t.read, t.imported, t.rejected), (4, 4, 0));

    let db = Database::open(&config, DbTarget::Type(DatabaseType::AgoraMemory)).unwrap();
    let rows: Vec<PatternArchive> = db
        .read()
        .unwrap()
        .scan(KeyRange::all(), Page::default())
        .unwrap();
    let got: Vec<(i64, Option<&str>, Option<i64>)> = rows
        .iter()
        .map(|r| (r.rowid, r.id.as_deref(), r.success_count))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("p1"), Some(3)),
            (3, Some("p1"), Some(4)),
            (4, Some("p3"), None),
            (1000, Some("p4"), None),
        ]
    );

    // A WITHOUT ROWID table of that name has nothing to key it by: raw,
    // and the report says why.
    let raw = report
        .tables
        .iter()
        .find(|t| t.file == "elsewhere.db")
        .unwrap();
    assert_eq!(raw.kind, "raw");
    assert!(
        raw.raw_reason.contains("patterns_archive (no rowid)"),
        "{}",
        raw.raw_reason
    );
    assert!(report.render().contains(
        "note: elsewhere.db:patterns_archive kept untyped in import_raw_rows: declared table patterns_archive (no rowid) matches the name"
    ));
    assert!(import::verify::verify(&config, src.path()).unwrap().ok());
    // A second import finds every row already there.
    let again = run(&config, src.path());
    assert_eq!(again.total(|t| t.imported), 0, "{}", again.render());
}
