//! `aragora-db import`: a generated legacy directory (tools/make-legacy-fixture)
//! and hand-made SQLite files with every awkward value, imported in both modes.

use aragora_db::Database;
use aragora_db::config::{Config, DatabaseMode, DbTarget, Store};
use aragora_db::import::{self, ImportReport, Options, Progress, Silent};
use aragora_db::schema::import::{IMPORT_RAW_ROWS, IMPORT_REJECTS};
use aragora_db::schema::users::USERS;
use aragora_db::table::Read;
use aragora_db::table::{KeyRange, Page, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One generated legacy directory per test process (built once, read only).
pub fn fixture() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("import-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/make-legacy-fixture");
        match Command::new("python3")
            .arg(&tool)
            .arg(&dir)
            .args(["--rows", "60", "--seed", "11"])
            .output()
        {
            Ok(o) if o.status.success() => Some(dir),
            Ok(o) => panic!(
                "make-legacy-fixture failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !crate::common::ci() => {
                eprintln!("SKIPPED: python3 not found; generated legacy directory not imported");
                None
            }
            Err(e) => panic!("running python3 (CI=true requires it): {e}"),
        }
    })
    .as_deref()
}

/// sha256 of every file under `dir`, by path.
pub fn hashes(dir: &Path) -> BTreeMap<PathBuf, [u8; 32]> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), Sha256::digest(std::fs::read(&p).unwrap()).into());
            }
        }
    }
    out
}

fn run(config: &Config, source: &Path, dry_run: bool) -> ImportReport {
    let opts = Options {
        source: source.to_path_buf(),
        dry_run,
    };
    import::import(config, &opts, &Silent).expect("import")
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap()).unwrap()
}

fn check_accounting(report: &ImportReport, dir: &Path) {
    assert!(report.errors.is_empty(), "file errors: {:?}", report.errors);
    let m = manifest(dir);
    let mut seen = 0;
    for (file, f) in m["files"].as_object().unwrap() {
        for (table, n) in f["tables"].as_object().unwrap() {
            let t = report
                .tables
                .iter()
                .find(|t| &t.file == file && &t.table == table)
                .unwrap_or_else(|| panic!("{file}:{table} is not in the report"));
            assert_eq!(t.read, n.as_u64().unwrap(), "{file}:{table} rows read");
            if t.kind != "derived" {
                assert_eq!(
                    t.imported + t.already_present + t.rejected,
                    t.read,
                    "{file}:{table}: every row read is imported, present or rejected"
                );
            }
            seen += 1;
        }
    }
    let virtuals: usize = m["files"]
        .as_object()
        .unwrap()
        .values()
        .map(|f| f["virtual_tables"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        seen + virtuals,
        report.tables.len(),
        "no table outside the manifest"
    );
}

#[test]
fn fixture_imports_verifies_and_is_idempotent() {
    let Some(src) = fixture() else { return };
    let before = hashes(src);
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());

    let first = run(&config, src, false);
    check_accounting(&first, src);
    let imported = first.total(|t| t.imported);
    assert!(imported > 1000, "imported only {imported} rows");
    // The only rejects the generated directory holds: ELO rows that
    // grounded_positions.db shares by key, with other values, with
    // agent_elo.db (the tables' home, imported first). The generator writes
    // no untypable value (import_values.rs checks each reject's row).
    let rejected = first.total(|t| t.rejected);
    {
        let imp = Database::open(&config, DbTarget::Store(Store::Import)).unwrap();
        let ir = imp.read().unwrap();
        let rejects: Vec<aragora_db::schema::import::ImportReject> =
            ir.scan(KeyRange::all(), Page::default()).unwrap();
        assert_eq!(rejects.len() as u64, rejected);
        for r in &rejects {
            assert_eq!(r.source_file, "grounded_positions.db", "{r:?}");
            assert!(r.reason.contains("already holds a row with key"), "{r:?}");
        }
        assert!(rejected < 20, "{rejected} key collisions");
    }
    assert_eq!(
        imported + first.total(|t| t.already_present) + rejected,
        first.total(|t| if t.kind == "derived" { 0 } else { t.read }),
        "every row read is imported, present or rejected"
    );
    assert!(
        first.tables.iter().any(|t| t.kind == "raw"),
        "_schema_versions is kept raw"
    );
    assert_eq!(
        first.total(|t| t.rekeyed),
        0,
        "legacy mode: each file's InsightsDatabase tables stay in its own file"
    );
    assert_eq!(first.total(|t| t.rejected), 0, "{}", first.render());

    let v = import::verify::verify(&config, src).unwrap();
    assert!(v.ok(), "{}", v.render());
    let checked: u64 = v.tables.iter().map(|t| t.checked).sum();
    assert_eq!(
        checked,
        first.total(|t| if t.kind == "derived" { 0 } else { t.read })
    );

    let counts = all_counts(&config);
    let second = run(&config, src, false);
    assert_eq!(
        second.total(|t| t.imported),
        0,
        "a second import writes nothing new"
    );
    assert_eq!(
        second.total(|t| t.already_present),
        imported + first.total(|t| t.already_present)
    );
    assert_eq!(second.total(|t| t.rejected), first.total(|t| t.rejected));
    assert_eq!(
        all_counts(&config),
        counts,
        "no duplicates after a second import"
    );

    assert_eq!(
        hashes(src),
        before,
        "the source directory is unchanged (no -shm, no checkpoint)"
    );
}

fn all_counts(config: &Config) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (t, f) in config.all_db_paths().unwrap() {
        if f.path.exists() {
            let db = Database::open(config, t).unwrap();
            for (def, n) in db.table_counts().unwrap() {
                out.push((format!("{}:{}", f.path.display(), def.name), n));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_committed_sample_imports_with_every_row_accounted_for() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic");
    let before = hashes(&src);
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let report = run(&config, &src, false);
    check_accounting(&report, &src);
    assert_eq!(report.total(|t| t.rejected), 0, "{}", report.render());
    let v = import::verify::verify(&config, &src).unwrap();
    assert!(v.ok(), "{}", v.render());
    assert_eq!(hashes(&src), before);
}

#[test]
fn consolidated_mode_imports_into_the_four_files() {
    let Some(src) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path()).with_mode(DatabaseMode::Consolidated);
    let report = run(&config, src, false);
    check_accounting(&report, src);
    for f in ["core.redb", "memory.redb", "analytics.redb", "agents.redb"] {
        assert!(
            report.targets.iter().any(|t| t.ends_with(f)),
            "{f} not written: {:?}",
            report.targets
        );
    }
    assert!(!tmp.path().join("agent_elo.redb").exists());
    assert!(
        report.total(|t| t.rekeyed) > 0,
        "InsightsDatabase tables of several files share AUTOINCREMENT ids"
    );
    let v = import::verify::verify(&config, src).unwrap();
    assert!(v.ok(), "{}", v.render());
}

#[test]
fn dry_run_writes_nothing_and_counts_the_same() {
    let Some(src) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let dry = run(&config, src, true);
    assert!(dry.dry_run);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "a dry run created {left:?}");
    let real = run(&config, src, false);
    assert_eq!(dry.total(|t| t.imported), real.total(|t| t.imported));
    assert_eq!(dry.total(|t| t.rejected), real.total(|t| t.rejected));
}

/// Panics after `n` progress steps: an import interrupted halfway.
struct Interrupt(std::cell::Cell<u32>);
impl Progress for Interrupt {
    fn advance(&self, _: u64) {
        let left = self.0.get();
        if left == 0 {
            panic!("interrupted");
        }
        self.0.set(left - 1);
    }
}

#[test]
fn an_interrupted_import_leaves_nothing_behind() {
    let Some(src) = fixture() else { return };
    for steps in [0, 3, 9, 17] {
        let tmp = tempfile::tempdir().unwrap();
        let config = Config::for_dir(tmp.path());
        let opts = Options {
            source: src.to_path_buf(),
            dry_run: false,
        };
        let p = Interrupt(std::cell::Cell::new(steps));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            import::import(&config, &opts, &p)
        }));
        assert!(r.is_err(), "the import was not interrupted at step {steps}");
        let rows: u64 = all_counts(&config).iter().map(|(_, n)| n).sum();
        assert_eq!(
            rows, 0,
            "rows were committed by an import interrupted at step {steps}"
        );
        let report = run(&config, src, false);
        check_accounting(&report, src);
        assert!(import::verify::verify(&config, src).unwrap().ok());
    }
}

/// A hand-made legacy file: old column order, an undeclared column, values
/// that cannot be typed, and a table nobody declares.
fn awkward_source(dir: &Path) {
    let c = rusqlite::Connection::open(dir.join("users.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE users (email TEXT UNIQUE, id TEXT PRIMARY KEY, password_hash TEXT,
             password_salt TEXT, name TEXT, org_id TEXT, role TEXT, failed_login_attempts INTEGER,
             created_at TEXT, updated_at TEXT, favourite_colour TEXT);
         CREATE TABLE scratchpad (k TEXT, v BLOB);",
    )
    .unwrap();
    let mut ins = c
        .prepare("INSERT INTO users VALUES (?1, ?2, 'h', 's', ?3, NULL, 'member', ?4, '2024-01-02 03:04:05', ?5, ?6)")
        .unwrap();
    use rusqlite::types::Value as V;
    let rows: Vec<[V; 6]> = vec![
        // ok: unicode, naive ISO, an undeclared column
        [
            V::Text("a@x".into()),
            V::Text("u1".into()),
            V::Text("Zoë 🤖".into()),
            V::Integer(0),
            V::Text("2024-01-02T03:04:05.123456".into()),
            V::Text("teal".into()),
        ],
        // ok: integer stored as text is exactly an integer
        [
            V::Text("b@x".into()),
            V::Text("u2".into()),
            V::Text("B".into()),
            V::Text("7".into()),
            V::Text("2024-01-02T03:04:05+00:00".into()),
            V::Null,
        ],
        // reject: text in an INTEGER column
        [
            V::Text("c@x".into()),
            V::Text("u3".into()),
            V::Text("C".into()),
            V::Text("lots".into()),
            V::Text("2024-05-06 07:08:09".into()),
            V::Null,
        ],
        // reject: NULL email (NOT NULL in the declaration)
        [
            V::Null,
            V::Text("u4".into()),
            V::Text("D".into()),
            V::Integer(1),
            V::Text("2024-05-06 07:08:09".into()),
            V::Null,
        ],
        // reject: invalid UTF-8 in the name (kept as its raw bytes)
        [
            V::Text("e@x".into()),
            V::Text("u5".into()),
            V::Blob(vec![0x66, 0xff, 0x6f]),
            V::Integer(0),
            V::Text("2024-05-06 07:08:09".into()),
            V::Null,
        ],
    ];
    for r in rows {
        ins.execute(rusqlite::params_from_iter(r)).unwrap();
    }
    // The blob above was bound as a BLOB; make it TEXT with invalid UTF-8.
    c.execute(
        "UPDATE users SET name = CAST(name AS TEXT) WHERE id = 'u5'",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO scratchpad VALUES ('k1', x'00ff10'), (NULL, 3.5)",
        [],
    )
    .unwrap();
}

#[test]
fn awkward_values_are_typed_rejected_or_kept_raw_never_lost() {
    let src = tempfile::tempdir().unwrap();
    awkward_source(src.path());
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let report = run(&config, src.path(), false);
    let users = report.tables.iter().find(|t| t.table == "users").unwrap();
    assert_eq!(
        (users.read, users.imported, users.rejected),
        (5, 2, 3),
        "{users:?}"
    );
    assert_eq!(users.extra_columns, vec!["favourite_colour"]);

    let db = Database::open(&config, DbTarget::Store(Store::Users)).unwrap();
    let r = db.read().unwrap();
    let u1: aragora_db::schema::users::User = r.get("u1").unwrap().unwrap();
    assert_eq!(u1.name.as_deref(), Some("Zoë 🤖"));
    assert_eq!(
        u1.extra.get("favourite_colour"),
        Some(&Value::Text("teal".into()))
    );
    let u2: aragora_db::schema::users::User = r.get("u2").unwrap().unwrap();
    assert_eq!(u2.failed_login_count, Some(7));
    assert_eq!(r.count_rows(&USERS).unwrap(), 2);

    let imp = Database::open(&config, DbTarget::Store(Store::Import)).unwrap();
    let ir = imp.read().unwrap();
    let rejects: Vec<aragora_db::schema::import::ImportReject> =
        ir.scan(KeyRange::all(), Page::default()).unwrap();
    assert_eq!(rejects.len(), 3);
    let by_id = |id: &str| {
        rejects
            .iter()
            .find(|x| x.extra.get("id") == Some(&Value::Text(id.into())))
            .unwrap_or_else(|| panic!("no reject for {id}"))
    };
    let lots = by_id("u3");
    assert_eq!(lots.column_name.as_deref(), Some("failed_login_attempts"));
    assert_eq!(lots.raw_value, Value::Text("lots".into()));
    assert_eq!(lots.raw_type, "text");
    assert!(lots.reason.contains("expected INTEGER"), "{}", lots.reason);
    assert_eq!(lots.extra.len(), 11, "the whole source row is kept");
    let null_email = by_id("u4");
    assert!(
        null_email.reason.contains("NOT NULL"),
        "{}",
        null_email.reason
    );
    let bad = by_id("u5");
    assert_eq!(bad.raw_value, Value::Blob(vec![0x66, 0xff, 0x6f]));
    assert!(bad.reason.contains("UTF-8"), "{}", bad.reason);
    assert_eq!(ir.count_rows(&IMPORT_REJECTS).unwrap(), 3);

    let raw: Vec<aragora_db::schema::import::ImportRawRow> =
        ir.scan(KeyRange::all(), Page::default()).unwrap();
    assert_eq!(raw.len(), 2);
    assert_eq!(
        raw[0].extra.get("v"),
        Some(&Value::Blob(vec![0, 0xff, 0x10]))
    );
    assert_eq!(raw[1].extra.get("k"), Some(&Value::Null));
    assert_eq!(raw[1].extra.get("v"), Some(&Value::Real(3.5)));
    assert_eq!(ir.count_rows(&IMPORT_RAW_ROWS).unwrap(), 2);

    let v = import::verify::verify(&config, src.path()).unwrap();
    assert!(v.ok(), "{}", v.render());
    assert_eq!(v.tables.iter().map(|t| t.rejected).sum::<u64>(), 3);
}

#[test]
fn verify_finds_a_row_changed_after_the_import() {
    let src = tempfile::tempdir().unwrap();
    awkward_source(src.path());
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    run(&config, src.path(), false);
    let db = Database::open(&config, DbTarget::Store(Store::Users)).unwrap();
    db.write(|w| {
        let mut u: aragora_db::schema::users::User = w.get("u1")?.unwrap();
        u.name = Some("changed".into());
        w.update(&u)
    })
    .unwrap();
    let v = import::verify::verify(&config, src.path()).unwrap();
    assert_eq!(v.mismatch_count, 1, "{}", v.render());
    assert!(v.mismatches[0].what.contains("name"), "{:?}", v.mismatches);
    // Importing again does not overwrite the change: the source row is rejected instead.
    let again = run(&config, src.path(), false);
    let users = again.tables.iter().find(|t| t.table == "users").unwrap();
    assert_eq!(users.rejected, 4, "{users:?}");
}

#[test]
fn a_damaged_file_is_reported_and_the_others_still_import() {
    let src = tempfile::tempdir().unwrap();
    awkward_source(src.path());
    let good = std::fs::read(src.path().join("users.db")).unwrap();
    let mut bad = good.clone();
    // Page 2 is the users table's root: make it an invalid page type.
    bad[4096] = 0x42;
    std::fs::write(src.path().join("broken.db"), &bad).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let report = run(&config, src.path(), false);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].file, "broken.db");
    assert!(
        report.errors[0].error.contains("page"),
        "{}",
        report.errors[0].error
    );
    assert!(report.tables.iter().all(|t| t.file == "users.db"));
    assert_eq!(report.total(|t| t.imported), 4);
}

fn secret_source(dir: &Path, key: &aragora_db::crypto::Key) -> String {
    let sealed = aragora_db::crypto::column::encrypt(key, "JBSWY3DPEHPK3PXP", Some("s1")).unwrap();
    let c = rusqlite::Connection::open(dir.join("users.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, password_hash TEXT,
             password_salt TEXT, name TEXT, role TEXT, created_at TEXT, updated_at TEXT,
             mfa_secret TEXT, mfa_backup_codes TEXT);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO users VALUES ('s1', 'a@x', 'h', 's', 'A', 'member', '2024-01-01 00:00:00', '2024-01-01 00:00:00', ?1, '[\"plain-code\"]')",
        [&sealed],
    )
    .unwrap();
    sealed
}

fn stored_user(config: &Config) -> aragora_db::schema::users::User {
    let db = Database::open(config, DbTarget::Store(Store::Users)).unwrap();
    db.read().unwrap().get("s1").unwrap().unwrap()
}

#[test]
fn column_secrets_are_reencrypted_with_the_key_and_kept_without_it() {
    let key = aragora_db::crypto::Key::from_bytes([7; 32]);
    let src = tempfile::tempdir().unwrap();
    let sealed = secret_source(src.path(), &key);

    // No key: kept exactly as they were, and reported.
    let plain = tempfile::tempdir().unwrap();
    let config = Config::for_dir(plain.path());
    let r = run(&config, src.path(), false);
    let users = r.tables.iter().find(|t| t.table == "users").unwrap();
    assert_eq!((users.secrets.kept, users.secrets.reencrypted), (2, 0));
    let u = stored_user(&config);
    assert_eq!(u.mfa_secret.as_deref(), Some(sealed.as_str()));
    assert_eq!(u.mfa_backup_codes.as_deref(), Some("[\"plain-code\"]"));

    // With the key: re-encrypted under ours (fresh nonce), plaintext encrypted.
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::for_dir(tmp.path());
    config.column_key = Some(key.clone());
    let r = run(&config, src.path(), false);
    let users = r.tables.iter().find(|t| t.table == "users").unwrap();
    assert_eq!(
        (
            users.secrets.reencrypted,
            users.secrets.encrypted,
            users.secrets.kept
        ),
        (1, 1, 0)
    );
    let u = stored_user(&config);
    let stored = u.mfa_secret.unwrap();
    assert_ne!(stored, sealed, "a fresh nonce");
    assert_eq!(
        aragora_db::crypto::column::decrypt(&key, &stored, Some("s1")).as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
    let codes = u.mfa_backup_codes.unwrap();
    assert!(
        !codes.contains("plain-code"),
        "backup codes are encrypted now: {codes}"
    );
    // Verify and a second import see the same secrets, not a conflict.
    assert!(import::verify::verify(&config, src.path()).unwrap().ok());
    let again = run(&config, src.path(), false);
    assert_eq!(again.total(|t| t.rejected), 0, "{}", again.render());
    assert_eq!(again.total(|t| t.imported), 0);
}
