//! The split exports load into PostgreSQL with `psql -v ON_ERROR_STOP=1`
//! when their foreign keys hold: the committed legacy sample imported, plus
//! users, an organization with members, invitations and OAuth links made
//! through the stores. The seed (or `--data-only` script) inserts rows
//! under the schema's deferred foreign keys and then, in the same
//! transaction, sets identity sequences and adds `NOT VALID` keys, which
//! PostgreSQL refuses as `ALTER TABLE` while deferred checks are pending.
//! Also: the migration applies twice and over tables that already exist,
//! and re-exporting into the same folder changes nothing or refuses.

use crate::common::{bin, data_dir};
use crate::export_pg::{TempDb, available, compare};
use crate::misuse::{assert_unchanged, describe, snapshot};
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::export::{Options, supabase};
use aragora_db::ops::export_rows::StoreRows;
use aragora_db::schema::supabase::NomicCycle;
use aragora_db::schema::users::{OAuthProvider, OrgInvitation};
use aragora_db::store::nomic::NomicStore;
use aragora_db::store::{OrganizationStore, UserStore};
use aragora_db::{Database, import};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The legacy sample imported (with `fixture`), then users, an
/// organization, members, invitations and OAuth links (an AUTOINCREMENT
/// table with a foreign key) whose references all hold, and a nomic cycle.
/// The sample's own references dangle, so its foreign keys are added
/// `NOT VALID` by the seed; without it every foreign key is in the schema.
/// Every handle is closed on return.
fn populated(fixture: bool) -> (TempDir, Config) {
    let (dir, config) = data_dir();
    if fixture {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic");
        let report = import::import(
            &config,
            &import::Options {
                source: src,
                dry_run: false,
            },
            &import::Silent,
        )
        .unwrap();
        assert!(report.tables.iter().map(|t| t.imported).sum::<u64>() > 50);
    }
    let users = UserStore::open(&config).unwrap();
    let orgs = OrganizationStore::open(&config).unwrap();
    let mut ids = Vec::new();
    for name in ["ada", "bob", "cyd", "dee"] {
        let u = users
            .create_user(
                &format!("{name}@load.example"),
                "bcrypt:x",
                "",
                name,
                None,
                "member",
            )
            .unwrap();
        ids.push(u.id);
    }
    let org = orgs
        .create_organization("Load Test", &ids[0], None, "free")
        .unwrap();
    orgs.add_user_to_org(&ids[1], &org.id, "admin").unwrap();
    orgs.add_user_to_org(&ids[2], &org.id, "member").unwrap();
    drop((users, orgs));
    // A dashboard table the original's own Supabase migration creates too.
    let nomic = NomicStore::open(&config).unwrap();
    nomic
        .save_cycle(&NomicCycle {
            loop_id: "L1".into(),
            cycle_number: 1,
            phase: "debate".into(),
            started_at: "2026-01-02T03:04:05+00:00".into(),
            success: Some(true),
            ..NomicCycle::default()
        })
        .unwrap();
    drop(nomic);
    let db = Database::open(&config, DbTarget::Store(Store::Users)).unwrap();
    db.write(|w| {
        for (i, accepted) in [None, Some(&ids[3])].into_iter().enumerate() {
            w.insert(&OrgInvitation {
                id: format!("inv-{i}"),
                org_id: org.id.clone(),
                email: format!("guest{i}@load.example"),
                token: format!("token-{i}"),
                invited_by: Some(ids[0].clone()),
                created_at: "2026-01-02T03:04:05+00:00".into(),
                accepted_by: accepted.cloned(),
                ..Default::default()
            })?;
        }
        for (i, user) in ids.iter().enumerate() {
            let id = w.next_id::<OAuthProvider>()?;
            w.insert(&OAuthProvider {
                id,
                user_id: user.clone(),
                provider: "github".into(),
                provider_user_id: format!("gh-{i}"),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    (dir, config)
}

/// Runs the binary on `config`'s data directory.
fn export(config: &Config, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--data-dir")
        .arg(&config.data_dir)
        .arg("export")
        .args(args)
        .output()
        .unwrap()
}

fn export_ok(config: &Config, args: &[&str]) -> String {
    let o = export(config, args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "export {args:?} failed: {err}");
    err
}

/// The files of `supabase/migrations` (names, sorted), temporaries included.
fn migrations(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("supabase/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn the_migration(out: &Path) -> PathBuf {
    let m = migrations(out);
    assert_eq!(m.len(), 1, "{m:?}");
    out.join("supabase/migrations").join(&m[0])
}

/// Every row the store holds is in PostgreSQL, and no other.
fn assert_loaded(db: &TempDb, config: &Config) {
    let rows = StoreRows::open(config, None).unwrap();
    let n = compare(db, &rows);
    assert!(n >= 12, "only {n} rows compared");
    assert_eq!(
        db.scalar("SELECT count(*) FROM org_invitations WHERE id IN ('inv-0', 'inv-1') AND invited_by IS NOT NULL"),
        "2"
    );
    // The identity sequence continues after the highest id (ours, the last
    // handed out).
    assert_eq!(
        db.scalar("SELECT nextval(pg_get_serial_sequence('oauth_providers', 'id')) = max(id) + 1 FROM oauth_providers"),
        "t"
    );
}

#[test]
fn supabase_migration_then_seed_loads_with_foreign_keys_that_hold() {
    if !available() {
        return;
    }
    for fixture in [true, false] {
        let (_dir, config) = populated(fixture);
        for copy in [false, true] {
            let out = tempfile::tempdir().unwrap();
            let o = out.path().to_str().unwrap();
            let mut args = vec!["--format", "supabase", "--out", o];
            if copy {
                args.push("--copy-seed");
            }
            export_ok(&config, &args);
            let seed = std::fs::read_to_string(out.path().join("supabase/seed.sql")).unwrap();
            assert!(!seed.contains("RESTART"), "{seed}");
            let db = TempDb::new("sb_load");
            db.load_file(&the_migration(out.path()));
            db.load_file(&out.path().join("supabase/seed.sql"));
            assert_loaded(&db, &config);
            // The foreign keys are there and hold.
            let err = db.load_fails(
                "INSERT INTO org_invitations (id, org_id, email, token) VALUES ('x', 'no such org', 'e', 't');\n",
            );
            assert!(err.contains("violates foreign key"), "{err}");
        }
    }
}

#[test]
fn schema_only_then_data_only_loads_with_foreign_keys_that_hold() {
    if !available() {
        return;
    }
    for fixture in [true, false] {
        split_load(fixture);
    }
}

fn split_load(fixture: bool) {
    let (dir, config) = populated(fixture);
    let schema = dir.path().join("schema.sql");
    export_ok(
        &config,
        &[
            "--format",
            "postgres",
            "--schema-only",
            "--out",
            schema.to_str().unwrap(),
        ],
    );
    for inserts in [false, true] {
        let data = dir.path().join(format!("data-{inserts}.sql"));
        let mut args = vec![
            "--format",
            "postgres",
            "--data-only",
            "--out",
            data.to_str().unwrap(),
        ];
        if inserts {
            args.push("--inserts");
        }
        export_ok(&config, &args);
        let db = TempDb::new("split_load");
        db.load_file(&schema);
        // The schema part is guarded: it applies again.
        db.load_file(&schema);
        db.load_file(&data);
        assert_loaded(&db, &config);
    }
}

#[test]
fn migration_applies_twice_and_over_tables_that_exist() {
    if !available() {
        return;
    }
    let (_dir, config) = populated(true);
    let out = tempfile::tempdir().unwrap();
    export_ok(
        &config,
        &[
            "--format",
            "supabase",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    let migration = the_migration(out.path());
    let db = TempDb::new("sb_twice");
    db.load_file(&migration);
    let shape = "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace), (SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace)";
    let before = db.rows(shape);
    db.load_file(&migration);
    assert_eq!(db.rows(shape), before, "the second run added something");
    db.load_file(&out.path().join("supabase/seed.sql"));
    assert_loaded(&db, &config);

    // A database where a dashboard table exists already, made by another
    // migration in its own shape (uuid key, an inline UNIQUE, an index of
    // the same name): ours applies and leaves that table as it is.
    let db = TempDb::new("sb_existing");
    db.load(
        "CREATE TABLE nomic_cycles (id uuid PRIMARY KEY, loop_id text NOT NULL, cycle_number integer NOT NULL, \
         phase text NOT NULL, stage text, started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz, \
         success boolean, git_commit text, task_description text, total_tasks integer DEFAULT 0, \
         completed_tasks integer DEFAULT 0, error_message text, created_at timestamptz DEFAULT now(), \
         UNIQUE (loop_id, cycle_number, phase));\n\
         CREATE INDEX idx_nomic_cycles_loop ON nomic_cycles (loop_id, started_at DESC);\n",
    );
    db.load_file(&migration);
    db.load_file(&migration);
    assert_eq!(
        db.scalar("SELECT data_type FROM information_schema.columns WHERE table_name = 'nomic_cycles' AND column_name = 'id'"),
        "uuid"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = 'nomic_cycles'::regclass AND contype = 'p'"),
        "1"
    );
    let tables: usize = db
        .scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .parse()
        .unwrap();
    let exported = StoreRows::open(&config, None).unwrap();
    let exported = aragora_db::export::Rows::tables(&exported);
    assert!(exported.iter().any(|t| t.name == "nomic_cycles"));
    assert_eq!(tables, exported.len());
    // The seed loads into it too (text uuids read as uuid).
    db.load_file(&out.path().join("supabase/seed.sql"));
    assert_eq!(db.scalar("SELECT count(*) FROM nomic_cycles"), "1");
    assert_eq!(
        db.scalar("SELECT count(*) FROM org_invitations WHERE id LIKE 'inv-%'"),
        "2"
    );
}

#[test]
fn re_export_into_the_same_folder_is_idempotent_or_refused() {
    let (_dir, config) = populated(true);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // A migration of the project is there already, versioned in the
    // future: ours must sort after it.
    let theirs = out
        .path()
        .join("supabase/migrations/99990101000000_theirs.sql");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, "SELECT 1;\n").unwrap();
    export_ok(&config, &["--format", "supabase", "--out", o]);
    let ours = out
        .path()
        .join("supabase/migrations/99990101000001_aragora_schema.sql");
    assert_eq!(
        migrations(out.path()),
        [
            "99990101000000_theirs.sql",
            "99990101000001_aragora_schema.sql"
        ]
    );
    std::fs::remove_file(&theirs).unwrap();
    let seed = out.path().join("supabase/seed.sql");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let (m1, s1) = (read(&ours), read(&seed));

    // Same data: the same two files, untouched; nothing in the folder is
    // written, not even a temporary file (content, mtime, mode of every
    // file and directory).
    let before = snapshot(out.path());
    let err = export_ok(&config, &["--format", "supabase", "--out", o]);
    assert_eq!(err.matches("unchanged").count(), 2, "{err}");
    assert_unchanged(out.path(), &before, "export of the same data");
    assert_eq!(
        migrations(out.path()),
        ["99990101000001_aragora_schema.sql"]
    );
    assert_eq!((read(&ours), read(&seed)), (m1.clone(), s1.clone()));

    // Other data: refused, naming the seed once, and nothing changes.
    UserStore::open(&config)
        .unwrap()
        .create_user("late@load.example", "h", "", "Late", None, "member")
        .unwrap();
    let o2 = export(&config, &["--format", "supabase", "--out", o]);
    let err = String::from_utf8_lossy(&o2.stderr);
    assert_eq!(o2.status.code(), Some(1), "{}", describe(&o2));
    assert_unchanged(out.path(), &before, "refused export");
    assert_eq!(err.matches("seed.sql").count(), 1, "{err}");
    assert!(
        err.contains("different content") && err.contains("--force"),
        "{err}"
    );
    assert!(
        !err.contains("aragora_schema"),
        "the schema did not change: {err}"
    );
    assert_eq!(
        migrations(out.path()),
        ["99990101000001_aragora_schema.sql"]
    );
    assert_eq!((read(&ours), read(&seed)), (m1.clone(), s1.clone()));
    let left: Vec<_> = std::fs::read_dir(out.path().join("supabase"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "temporaries left: {left:?}");

    // --force replaces the seed; the migration is still the one file.
    let err = export_ok(&config, &["--format", "supabase", "--out", o, "--force"]);
    assert!(
        err.contains("replaced") && err.contains("seed.sql"),
        "{err}"
    );
    assert_eq!(
        migrations(out.path()),
        ["99990101000001_aragora_schema.sql"]
    );
    assert_eq!(read(&ours), m1);
    assert_ne!(read(&seed), s1);

    // The same rule for a postgres script written to a file.
    let script = out.path().join("dump.sql");
    let s = script.to_str().unwrap();
    std::fs::write(&script, "user's file\n").unwrap();
    let o3 = export(&config, &["--format", "postgres", "--out", s]);
    let err = String::from_utf8_lossy(&o3.stderr);
    assert_eq!(o3.status.code(), Some(1), "{err}");
    assert!(err.contains("dump.sql") && err.contains("--force"), "{err}");
    assert_eq!(read(&script), b"user's file\n");
    export_ok(&config, &["--format", "postgres", "--out", s, "--force"]);
    let dump = read(&script);
    let err = export_ok(&config, &["--format", "postgres", "--out", s]);
    assert!(err.contains("unchanged"), "{err}");
    assert_eq!(read(&script), dump);

    // Two migrations of ours: which to write is a guess, so refused.
    let second = out
        .path()
        .join("supabase/migrations/99990101000002_aragora_schema.sql");
    std::fs::copy(&ours, &second).unwrap();
    let rows = StoreRows::open(&config, None).unwrap();
    let e = supabase::write(
        out.path(),
        &rows,
        &Options::default(),
        supabase::SeedData::Inserts,
        "20260101000000",
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("several aragora migrations"), "{e}");
    std::fs::remove_file(&second).unwrap();

    if !available() {
        return;
    }
    // What --force wrote loads.
    let db = TempDb::new("sb_forced");
    db.load_file(&ours);
    db.load_file(&seed);
    let n = compare(&db, &rows);
    assert!(n > 50);
}
