//! `migrate`: frozen databases of each schema version migrate to the
//! latest; old rows read before and after; a newer file is a typed error.
//!
//! `tests/fixtures/migrate/` holds frozen files (regenerate with
//! `cargo test --test it -- --ignored regenerate_migration_fixtures`, only
//! when a new schema version is added — old fixtures must never change):
//! * `things_v1.redb`, `things_v2.redb`: a test table at versions 1 and 2,
//!   migrated by the test steps below to version 3;
//! * `schema_v1/`: a legacy data directory written through the stores with
//!   every real table at version 1 (by the binary before `users` version 2,
//!   whose email and organization indexes cover), migrated with the
//!   registered steps; `tests/it/ops/open_migrates.rs` also reads it.

use super::populate;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::ops::migrate::{self, Step};
use aragora_db::table::Read;
use aragora_db::table::{KeyRange, Page, TableDef, Writer};
use aragora_db::{Database, Error, Result, table};
use std::path::{Path, PathBuf};

/// Open options that leave pending steps alone: these tests run their own
/// steps with `migrate_db` (an ordinary open would run the registered
/// ones, which know nothing of these test tables, and refuse the file).
fn leave() -> aragora_db::OpenOptions {
    aragora_db::OpenOptions {
        migrations: aragora_db::Migrations::Leave,
        ..Default::default()
    }
}

table! {
    /// Version 1 of a test table.
    pub struct ThingV1 as THING_V1 {
        name: "things",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            name: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_things_name (name) },
        foreign_keys: {},
    }
}

table! {
    /// Version 2: a column appended (`safe_add_column`).
    pub struct ThingV2 as THING_V2 {
        name: "things",
        owner: DbTarget::Store(Store::Users),
        version: 2,
        columns: {
            id: i64 => Integer,
            name: String => Text,
            score: Option<i64> => Integer = "7",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_things_name (name) },
        foreign_keys: {},
    }
}

table! {
    /// Version 3: another column, backfilled from `name`, and indexed.
    pub struct ThingV3 as THING_V3 {
        name: "things",
        owner: DbTarget::Store(Store::Users),
        version: 3,
        columns: {
            id: i64 => Integer,
            name: String => Text,
            score: Option<i64> => Integer = "7",
            label: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_things_name (name), index idx_things_label (label) },
        foreign_keys: {},
    }
}

fn backfill_label(w: &mut Writer<'_>, _def: &'static TableDef) -> Result<u64> {
    let rows: Vec<ThingV3> = w.scan(KeyRange::all(), Page::default())?;
    for mut t in rows.iter().cloned() {
        t.label = Some(t.name.to_uppercase());
        w.update(&t)?;
    }
    Ok(rows.len() as u64)
}

static STEPS: &[Step] = &[
    Step {
        id: 1,
        name: "001_add_score_to_things",
        table: "things",
        to: 2,
        apply: migrate::add_column,
    },
    Step {
        id: 2,
        name: "002_add_label_to_things",
        table: "things",
        to: 3,
        apply: backfill_label,
    },
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/migrate")
}

fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixtures().join(name), &to).unwrap();
    to
}

#[test]
fn each_frozen_version_migrates_to_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    for (file, from) in [("things_v1.redb", 1u32), ("things_v2.redb", 2)] {
        let path = copy_fixture(file, dir.path());
        let db = Database::open_path(&path, vec![&THING_V3], &leave()).unwrap();
        // Old rows read before migrating: missing columns read their defaults.
        let before: Vec<ThingV3> = db
            .read()
            .unwrap()
            .scan(KeyRange::all(), Page::default())
            .unwrap();
        assert_eq!(before.len(), 5, "{file}");
        assert!(
            before
                .iter()
                .all(|t| t.score == Some(if from == 1 { 7 } else { t.id * 10 }))
        );
        assert!(before.iter().all(|t| t.label.is_none()));
        let st = migrate::status_db(&db, STEPS).unwrap();
        assert_eq!(
            (st[0].stored, st[0].declared, st[0].state),
            (from, 3, "pending")
        );
        assert_eq!(st[0].pending.len(), 3 - from as usize);
        let dry = migrate::migrate_db(&db, STEPS, true).unwrap();
        assert_eq!(dry.len(), 3 - from as usize);
        assert_eq!(
            migrate::status_db(&db, STEPS).unwrap()[0].state,
            "pending",
            "dry run changed the file"
        );
        let ran = migrate::migrate_db(&db, STEPS, false).unwrap();
        assert_eq!(ran.len(), 3 - from as usize);
        assert!(ran.iter().all(|a| a.rows == 5));
        assert_eq!(migrate::status_db(&db, STEPS).unwrap()[0].state, "current");
        assert!(
            migrate::migrate_db(&db, STEPS, false).unwrap().is_empty(),
            "rerun did work"
        );
        let after: Vec<ThingV3> = db
            .read()
            .unwrap()
            .scan(KeyRange::all(), Page::default())
            .unwrap();
        for (a, b) in after.iter().zip(&before) {
            assert_eq!((a.id, &a.name, a.score), (b.id, &b.name, b.score));
            assert_eq!(a.label.as_deref(), Some(a.name.to_uppercase().as_str()));
        }
        let by_label: Vec<ThingV3> = db
            .read()
            .unwrap()
            .find(ThingV3::idx_things_label, "THING-3", Page::default())
            .unwrap();
        assert_eq!(by_label.len(), 1);
        crate::common::assert_consistent(&db);
        // The fixture predates fingerprints; the last step records one.
        assert_eq!(
            db.recorded_fingerprint("things").unwrap(),
            Some(aragora_db::table::fingerprint::fingerprint(&THING_V3))
        );
        drop(db);
        // The migrated file is now newer than a version-1 binary: typed error.
        match Database::open_path(&path, vec![&THING_V1], &leave()) {
            Err(Error::SchemaTooNew {
                table,
                stored,
                supported,
                ..
            }) => {
                assert_eq!((table.as_str(), stored, supported), ("things", 3, 1));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}

#[test]
fn a_missing_step_is_an_error_naming_table_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture("things_v1.redb", dir.path());
    let db = Database::open_path(&path, vec![&THING_V3], &leave()).unwrap();
    let err = migrate::migrate_db(&db, &STEPS[1..], false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("things") && err.contains("version 2"), "{err}");
    assert_eq!(
        migrate::status_db(&db, &STEPS[1..]).unwrap()[0].state,
        "no_path"
    );
    assert_eq!(migrate::status_db(&db, STEPS).unwrap()[0].stored, 1);
}

#[test]
fn frozen_schema_v1_directory_migrates_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("schema_v1");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let cfg = Config::for_dir(dir.path());
    let applied = migrate::migrate(&cfg, None, false).unwrap();
    // Every real table is at version 1; users has one registered step.
    let steps: Vec<_> = applied.iter().map(|a| (a.table, a.step)).collect();
    assert_eq!(
        steps,
        [("users", "001_users_covering_lookups")],
        "{applied:?}"
    );
    for (file, st) in migrate::status(&cfg, None).unwrap() {
        let st = st.unwrap();
        assert!(
            st.iter().all(|t| t.state == "current"),
            "{}: {st:?}",
            file.display()
        );
    }
    for r in aragora_db::ops::verify::verify_all(&cfg).unwrap() {
        assert!(
            r.problems.is_empty(),
            "{}: {:?}",
            r.path.display(),
            r.problems
        );
    }
    let users = aragora_db::store::UserStore::open(&cfg).unwrap();
    assert!(users.get_user_by_email("u2@x.io").unwrap().is_some());
}

/// Runs `tools/new-migration` with `args` (None: python3 is missing and
/// this is not CI).
fn new_migration(args: &[&str]) -> Option<std::process::Output> {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/new-migration");
    match std::process::Command::new("python3")
        .arg(&tool)
        .args(args)
        .output()
    {
        Ok(o) => Some(o),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !crate::common::ci() => {
            eprintln!("SKIPPED: python3 not found; tools/new-migration not run");
            None
        }
        Err(e) => panic!("running python3 (CI=true requires it): {e}"),
    }
}

#[test]
fn new_migration_scaffolds_a_numbered_step_and_registers_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().to_str().unwrap();
    let modrs = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/migrations/mod.rs");
    std::fs::copy(&modrs, dir.path().join("mod.rs")).unwrap();
    let run = |args: &[&str]| new_migration(&[args, &["--src", src]].concat());
    let Some(o) = run(&["Add score to ratings!", "--table", "ratings"]) else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The registry holds step 001 (users): the next number is 002.
    let p = dir.path().join("m002_add_score_to_ratings.rs");
    let body = std::fs::read_to_string(&p).unwrap();
    assert!(
        body.contains("name: \"002_add_score_to_ratings\"")
            && body.contains("id: 2,")
            && body.contains("table: \"ratings\"")
            && body.contains("to: 2")
            && !body.contains("{{"),
        "{body}"
    );
    let m = std::fs::read_to_string(dir.path().join("mod.rs")).unwrap();
    assert!(
        m.contains("mod m002_add_score_to_ratings;")
            && m.contains("m002_add_score_to_ratings::STEP,"),
        "{m}"
    );
    let o = run(&["second", "--table", "matches"]).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("m003_second.rs").exists());
    let before = std::fs::read_to_string(dir.path().join("mod.rs")).unwrap();
    for bad in [
        &["x", "--table", "nope"][..],
        &["!!", "--table", "ratings"],
        &["x"],
    ] {
        let o = run(bad).unwrap();
        assert!(!o.status.success(), "{bad:?} was accepted");
    }
    let after = std::fs::read_to_string(dir.path().join("mod.rs")).unwrap();
    assert_eq!(before, after, "a refused input changed mod.rs");
}

/// The binary has no `migrate --create`: a source tree is changed only by
/// `tools/new-migration`.
#[test]
fn the_binary_does_not_scaffold_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::common::cli_env(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "migrate",
            "--create",
            "x",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unexpected argument '--create'"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
#[ignore = "writes tests/fixtures/migrate; run only when adding a schema version"]
fn regenerate_migration_fixtures() {
    let out = fixtures();
    std::fs::create_dir_all(out.join("schema_v1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("things_v1.redb");
    let db = Database::open_path(&v1, vec![&THING_V1], &leave()).unwrap();
    db.write(|w| {
        for i in 1..=5 {
            w.insert(&ThingV1 {
                id: i,
                name: format!("thing-{i}"),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let v2 = dir.path().join("things_v2.redb");
    let db = Database::open_path(&v2, vec![&THING_V2], &leave()).unwrap();
    db.write(|w| {
        for i in 1..=5 {
            w.insert(&ThingV2 {
                id: i,
                name: format!("thing-{i}"),
                score: Some(i * 10),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    std::fs::copy(&v1, out.join("things_v1.redb")).unwrap();
    std::fs::copy(&v2, out.join("things_v2.redb")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(data.path());
    populate(&cfg, 3);
    for e in std::fs::read_dir(data.path()).unwrap() {
        let e = e.unwrap();
        if e.path().extension().is_some_and(|x| x == "redb") {
            std::fs::copy(e.path(), out.join("schema_v1").join(e.file_name())).unwrap();
        }
    }
}

// ----- a migration that adds an index fills it --------------------------------

table! {
    /// Version 1: no index on `color`.
    pub struct WidgetV1 as WIDGET_V1 {
        name: "widgets",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            color: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// Version 2: a column appended and a plain index on the existing
    /// `color`, whose values the step does not change.
    pub struct WidgetV2 as WIDGET_V2 {
        name: "widgets",
        owner: DbTarget::Store(Store::Users),
        version: 2,
        columns: {
            id: i64 => Integer,
            color: String => Text,
            size: Option<i64> => Integer = "1",
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { index idx_widgets_color (color) },
        foreign_keys: {},
    }
}

table! {
    /// Version 2, other branch: `color` made UNIQUE.
    pub struct WidgetU2 as WIDGET_U2 {
        name: "widgets",
        owner: DbTarget::Store(Store::Users),
        version: 2,
        columns: {
            id: i64 => Integer,
            color: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_widgets_color_key (color) },
        foreign_keys: {},
    }
}

static WIDGET_STEPS: &[Step] = &[Step {
    id: 1,
    name: "001_index_widget_color",
    table: "widgets",
    to: 2,
    apply: migrate::add_column,
}];

const COLORS: [&str; 5] = ["red", "blue", "red", "green", "blue"];

/// A version-1 widgets file with `COLORS` (duplicates included).
fn widgets_v1(dir: &Path) -> PathBuf {
    let path = dir.join("widgets.redb");
    let db = Database::open_path(&path, vec![&WIDGET_V1], &leave()).unwrap();
    db.write(|w| {
        for (i, c) in COLORS.iter().enumerate() {
            w.insert(&WidgetV1 {
                id: i as i64 + 1,
                color: c.to_string(),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    path
}

/// Every raw entry of the widgets table and the meta tables, for "nothing changed".
fn raw_state(db: &Database) -> Vec<(Vec<u8>, Vec<u8>)> {
    let r = db.read().unwrap();
    let mut out = Vec::new();
    r.scan_space(
        "widgets",
        (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
        Page::default(),
        |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(true)
        },
    )
    .unwrap();
    out.push((
        b"__schema".to_vec(),
        format!("{:?}", db.schema_versions().unwrap()).into_bytes(),
    ));
    out.push((
        b"__fingerprint".to_vec(),
        format!("{:?}", db.recorded_fingerprint("widgets").unwrap()).into_bytes(),
    ));
    out
}

#[test]
fn a_migration_adding_an_index_fills_it_for_every_existing_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = widgets_v1(dir.path());
    let db = Database::open_path(&path, vec![&WIDGET_V2], &leave()).unwrap();
    let ran = migrate::migrate_db(&db, WIDGET_STEPS, false).unwrap();
    assert_eq!(ran.len(), 1);
    let r = db.read().unwrap();
    for color in ["red", "blue", "green"] {
        let found: Vec<WidgetV2> = r
            .find(WidgetV2::idx_widgets_color, color, Page::default())
            .unwrap();
        let want: Vec<i64> = COLORS
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == color)
            .map(|(i, _)| i as i64 + 1)
            .collect();
        assert_eq!(
            found.iter().map(|w| w.id).collect::<Vec<_>>(),
            want,
            "rows found through the new index for {color}"
        );
    }
    drop(r);
    crate::common::assert_consistent(&db);
    assert_eq!(
        db.recorded_fingerprint("widgets").unwrap().as_deref(),
        Some(aragora_db::table::fingerprint::fingerprint(&WIDGET_V2).as_str())
    );
}

#[test]
fn a_new_unique_index_over_duplicates_fails_the_migration_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = widgets_v1(dir.path());
    let db = Database::open_path(&path, vec![&WIDGET_U2], &leave()).unwrap();
    let before = raw_state(&db);
    match migrate::migrate_db(&db, WIDGET_STEPS, false) {
        Err(Error::Unique {
            table,
            columns,
            value,
            ..
        }) => {
            assert_eq!((table, columns.as_str()), ("widgets", "color"));
            assert!(value.contains("red") || value.contains("blue"), "{value}");
        }
        other => panic!("expected a Unique error, got {other:?}"),
    }
    assert_eq!(
        raw_state(&db),
        before,
        "the failed migration changed the file"
    );
    assert_eq!(migrate::status_db(&db, WIDGET_STEPS).unwrap()[0].stored, 1);
}

#[test]
fn rebuild_index_fills_an_index_the_rows_predate() {
    let dir = tempfile::tempdir().unwrap();
    let path = widgets_v1(dir.path());
    let db = Database::open_path(&path, vec![&WIDGET_V2], &leave()).unwrap();
    // Rows written at version 1 have no entry in the version-2 index.
    assert!(
        db.read()
            .unwrap()
            .find(WidgetV2::idx_widgets_color, "red", Page::default())
            .unwrap()
            .is_empty()
    );
    let n = db
        .write(|w| aragora_db::table::rebuild_index(w, &WIDGET_V2, "idx_widgets_color"))
        .unwrap();
    assert_eq!(n, COLORS.len() as u64);
    crate::common::assert_consistent(&db);
    // Unknown index: a typed error, nothing written.
    assert!(
        db.write(|w| aragora_db::table::rebuild_index(w, &WIDGET_V2, "nope"))
            .is_err()
    );
}

table! {
    /// Version 1 with two indexes.
    pub struct GizmoV1 as GIZMO_V1 {
        name: "gizmos",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            color: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { index idx_gizmos_color (color), unique idx_gizmos_color_id (color, id) },
        foreign_keys: {},
    }
}

table! {
    /// Version 2: the first index removed, so the second moves to key space 1.
    pub struct GizmoV2 as GIZMO_V2 {
        name: "gizmos",
        owner: DbTarget::Store(Store::Users),
        version: 2,
        columns: {
            id: i64 => Integer,
            color: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_gizmos_color_id (color, id) },
        foreign_keys: {},
    }
}

static GIZMO_STEPS: &[Step] = &[Step {
    id: 1,
    name: "001_drop_gizmo_color_index",
    table: "gizmos",
    to: 2,
    apply: migrate::add_column,
}];

#[test]
fn a_migration_removing_an_index_rebuilds_the_moved_one_and_empties_the_stale_key_space() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gizmos.redb");
    let db = Database::open_path(&path, vec![&GIZMO_V1], &leave()).unwrap();
    db.write(|w| {
        for (i, c) in COLORS.iter().enumerate() {
            w.insert(&GizmoV1 {
                id: i as i64 + 1,
                color: c.to_string(),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = Database::open_path(&path, vec![&GIZMO_V2], &leave()).unwrap();
    migrate::migrate_db(&db, GIZMO_STEPS, false).unwrap();
    crate::common::assert_consistent(&db);
    let got: Vec<GizmoV2> = db
        .read()
        .unwrap()
        .find(GizmoV2::idx_gizmos_color_id, "blue", Page::default())
        .unwrap();
    assert_eq!(got.iter().map(|g| g.id).collect::<Vec<_>>(), vec![2, 5]);
}

table! {
    /// Version 1: `name` is unique (key space 1).
    pub struct DoodadV1 as DOODAD_V1 {
        name: "doodads",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            name: String => Text,
            label: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_doodads_name (name) },
        foreign_keys: {},
    }
}

table! {
    /// Version 2: the unique index is on `label` instead, at the same key space.
    pub struct DoodadV2 as DOODAD_V2 {
        name: "doodads",
        owner: DbTarget::Store(Store::Users),
        version: 2,
        columns: {
            id: i64 => Integer,
            name: String => Text,
            label: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: { unique idx_doodads_label (label) },
        foreign_keys: {},
    }
}

/// label = name: the same keys the old index held at the same key space.
fn label_from_name(w: &mut Writer<'_>, _def: &'static TableDef) -> Result<u64> {
    let rows: Vec<DoodadV2> = w.scan(KeyRange::all(), Page::default())?;
    for d in &rows {
        w.update(&DoodadV2 {
            label: Some(d.name.clone()),
            ..d.clone()
        })?;
    }
    Ok(rows.len() as u64)
}

#[test]
fn a_step_is_not_refused_by_the_stale_entries_of_an_index_that_left_its_key_space() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doodads.redb");
    let db = Database::open_path(&path, vec![&DOODAD_V1], &leave()).unwrap();
    db.write(|w| {
        for i in 1..=3 {
            w.insert(&DoodadV1 {
                id: i,
                name: format!("d{i}"),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = Database::open_path(&path, vec![&DOODAD_V2], &leave()).unwrap();
    let steps: &'static [Step] = &[Step {
        id: 1,
        name: "001_unique_doodad_labels",
        table: "doodads",
        to: 2,
        apply: label_from_name,
    }];
    migrate::migrate_db(&db, steps, false).unwrap();
    crate::common::assert_consistent(&db);
    let d2: Option<DoodadV2> = db
        .read()
        .unwrap()
        .get_by(DoodadV2::idx_doodads_label, "d2")
        .unwrap();
    assert_eq!(d2.map(|d| d.id), Some(2));
}
