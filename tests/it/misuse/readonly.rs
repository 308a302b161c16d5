//! Misuse cases: see `super`. Read-only commands (`status`, `dump`,
//! `export`, `verify`, `backup`, `cleanup --dry-run`, `paths`) never write,
//! create or repair a file of the data directory: not on healthy files, not
//! on read-only files in a read-only directory, not on an empty file, not
//! on a file left needing crash recovery.

use super::{assert_unchanged, describe, snapshot};
use crate::common::{bin, cli_env};
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::{Database, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

pub(super) fn run(data: &Path, args: &[&str]) -> Output {
    cli_env(args, &[("ARAGORA_DATA_DIR", data.to_str().unwrap())])
}

/// A data directory filled by `demo` and, with `import`, by an import of
/// the legacy fixture.
pub(super) fn populated(root: &Path, import: bool) -> PathBuf {
    let data = root.join("data");
    let out = run(&data, &["demo"]);
    assert!(out.status.success(), "demo: {}", describe(&out));
    if import {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy-nomic");
        let out = run(&data, &["import", "--source", fixture]);
        assert!(out.status.success(), "import: {}", describe(&out));
    }
    data
}

/// Every read-only command, with where it may write (`out`, outside the
/// data directory), and whether it may exit 1 on a healthy directory
/// (none may: the fixture's dangling references are inherited warnings).
fn commands(out: &Path) -> Vec<(Vec<String>, bool)> {
    let o = |p: &str| out.join(p).display().to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (v(&["status"]), false),
        (v(&["status", "--json"]), false),
        (v(&["paths"]), false),
        (v(&["paths", "--json"]), false),
        (v(&["dump", "users"]), false),
        (v(&["dump", "audit_log", "--format", "jsonl"]), false),
        (v(&["dump", "webhook_configs", "--format", "csv"]), false),
        (
            v(&["export", "--format", "postgres", "--out", &o("pg.sql")]),
            false,
        ),
        (
            v(&["export", "--format", "supabase", "--out", &o("supabase")]),
            false,
        ),
        (v(&["verify"]), false),
        (v(&["verify", "--json"]), false),
        (v(&["backup", "--out", &o("backups")]), false),
        (v(&["cleanup", "--dry-run"]), false),
        (v(&["migrate", "--status"]), false),
        (v(&["migrate", "--dry-run"]), false),
        (v(&["consolidate", "--dry-run"]), false),
    ]
}

fn run_all_unchanged(data: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let before = snapshot(data);
    for (args, may_fail) in commands(out) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(data, &a);
        let code = o.status.code();
        assert!(
            code == Some(0) || (may_fail && code == Some(1)),
            "{args:?}: {}",
            describe(&o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("ermission denied"),
            "{args:?}: {}",
            describe(&o)
        );
        assert_unchanged(data, &before, &args.join(" "));
    }
}

#[test]
fn read_only_commands_change_no_byte_and_no_mtime() {
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), true);
    let out = root.path().join("out");
    run_all_unchanged(&data, &out);
}

pub(super) fn set_modes(dir: &Path, file: u32, d: u32) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            set_modes(&p, file, d);
        } else {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(file)).unwrap();
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(d)).unwrap();
}

pub(super) fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `cmd` as the unprivileged user 65534 (nobody), if this test runs as
/// root and `setpriv` exists.
pub(super) fn as_nobody(data: &Path, args: &[&str]) -> Option<Output> {
    if !running_as_root() || !Path::new("/usr/bin/setpriv").exists() {
        return None;
    }
    let mut cmd = std::process::Command::new("/usr/bin/setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    cmd.arg(bin().get_program());
    for k in crate::common::CLI_VARS {
        cmd.env_remove(k);
    }
    cmd.env("ARAGORA_DATA_DIR", data).args(args);
    Some(cmd.output().unwrap())
}

#[test]
fn read_only_files_in_a_read_only_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), true);
    set_modes(&data, 0o444, 0o555);
    // Root ignores permission bits: the snapshot is what catches a write.
    let out = root.path().join("out");
    run_all_unchanged(&data, &out);

    // An unprivileged user really cannot write: the commands still work.
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody_out = root.path().join("nobody-out");
    std::fs::create_dir(&nobody_out).unwrap();
    std::fs::set_permissions(&nobody_out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = snapshot(&data);
    let bk = nobody_out.join("bk").display().to_string();
    let sql = nobody_out.join("x.sql").display().to_string();
    let cases: Vec<(Vec<&str>, bool)> = vec![
        (vec!["status"], false),
        (vec!["dump", "users"], false),
        (vec!["verify"], true),
        (vec!["backup", "--out", &bk], false),
        (vec!["export", "--format", "postgres", "--out", &sql], false),
        (vec!["cleanup", "--dry-run"], false),
    ];
    for (args, may_fail) in cases {
        let Some(o) = as_nobody(&data, &args) else {
            eprintln!("not root or no setpriv: the unprivileged run is skipped");
            break;
        };
        let code = o.status.code();
        assert!(
            code == Some(0) || (may_fail && code == Some(1)),
            "as nobody {args:?}: {}",
            describe(&o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("ermission denied"), "{args:?}: {err}");
        assert_unchanged(&data, &before, &format!("as nobody: {}", args.join(" ")));
    }
    if running_as_root() && Path::new("/usr/bin/setpriv").exists() {
        let o = as_nobody(&data, &["status"]).unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("users.redb") && text.contains("rows"),
            "{text}"
        );
    }
    set_modes(&data, 0o600, 0o700);
}

#[test]
fn an_empty_file_stays_empty_and_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), false);
    let empty = data.join("token_blacklist.redb");
    std::fs::write(&empty, b"").unwrap();
    let before = snapshot(&data);
    let o = run(&data, &["status"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("empty (0 bytes)"), "{}", describe(&o));
    assert!(text.contains("users.redb"), "healthy files still listed");
    assert_unchanged(&data, &before, "status");
    for args in [
        vec!["dump", "token_blacklist"],
        vec!["verify"],
        vec!["cleanup", "--dry-run"],
    ] {
        let o = run(&data, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", describe(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("empty (0 bytes)")
                || String::from_utf8_lossy(&o.stderr).contains("empty (0 bytes)"),
            "{args:?}: {}",
            describe(&o)
        );
        assert_unchanged(&data, &before, &args.join(" "));
    }
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
}

/// A copy of `users.redb` taken while a writer had it open: redb must
/// recover it before reading it.
fn needs_recovery(root: &Path) -> PathBuf {
    let data = populated(root, false);
    let copy = root.join("copy");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
        }
    }
    let cfg = Config::for_dir(&data);
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let users = aragora_db::store::UserStore::open(&cfg).unwrap();
    users
        .create_user("late@example.com", "bcrypt:x", "", "Late", None, "member")
        .unwrap();
    std::fs::copy(data.join("users.redb"), copy.join("users.redb")).unwrap();
    drop(users);
    drop(db);
    copy
}

#[test]
fn a_file_needing_recovery_is_read_and_left_as_it_is() {
    let root = tempfile::tempdir().unwrap();
    let data = needs_recovery(root.path());
    // redb's own read-only open refuses it: it really needs recovery.
    let ro = redb::Builder::new().open_read_only(data.join("users.redb"));
    assert!(
        matches!(ro, Err(redb::DatabaseError::RepairAborted)),
        "the copy should need recovery: {:?}",
        ro.err()
    );
    let before = snapshot(&data);
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for (args, may_fail) in commands(&out) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&data, &a);
        let code = o.status.code();
        assert!(
            code == Some(0) || (may_fail && code == Some(1)),
            "{args:?}: {}",
            describe(&o)
        );
        assert_unchanged(&data, &before, &args.join(" "));
    }
    let o = run(&data, &["status"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("not closed cleanly"), "{}", describe(&o));
    let o = run(&data, &["dump", "users", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not closed cleanly"),
        "{}",
        describe(&o)
    );
    let o = run(&data, &["verify"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("not closed cleanly"),
        "{}",
        describe(&o)
    );
    assert_unchanged(&data, &before, "status, dump, verify");
}

#[test]
fn backup_writes_only_under_its_out_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), false);
    let before = snapshot(&data);
    let out = root.path().join("elsewhere");
    let o = run(&data, &["backup", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_unchanged(&data, &before, "backup --out");
    let made: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(made.len(), 1, "one backup directory: {made:?}");
    let entries: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 2, "only data/ and elsewhere/: {entries:?}");
}

/// The library API: a read-only handle refuses writes, missing tables read
/// as empty without being created, and the registry never hands one kind
/// of handle to the other.
#[test]
fn read_only_handles_refuse_writes_and_keep_apart_from_writers() {
    let root = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(root.path());
    let path = root.path().join("users.redb");
    let all = aragora_db::schema::tables_in_file(&cfg, &path).unwrap();
    // A file holding only the first table.
    drop(Database::open_path(&path, all[..1].to_vec(), &OpenOptions::default()).unwrap());
    let before = snapshot(root.path());

    let ro = Database::open_read_only(&path, all.clone(), &OpenOptions::default()).unwrap();
    assert!(ro.is_read_only());
    let counts = ro.table_counts().unwrap();
    assert_eq!(counts.len(), all.len());
    assert!(counts.iter().all(|(_, n)| *n == 0));
    let err = ro.write(|_| Ok(())).unwrap_err().to_string();
    assert!(err.contains("opened read-only"), "{err}");
    let err = Database::open_path(&path, all.clone(), &OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("open read-only in this process"), "{err}");
    drop(ro);
    assert_unchanged(root.path(), &before, "a read-only handle");

    let rw = Database::open_path(&path, all.clone(), &OpenOptions::default()).unwrap();
    assert!(!rw.is_read_only());
    let view = Database::open_read_only(&path, all.clone(), &OpenOptions::default()).unwrap();
    assert!(view.is_read_only() && view.same_handle(&rw));
    assert!(view.write(|_| Ok(())).is_err());
    rw.write(|_| Ok(())).unwrap();

    let missing = root.path().join("nothing.redb");
    let err = Database::open_read_only(&missing, all, &OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn encrypted_files_are_read_without_writing() {
    let key = "7f".repeat(32);
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let env = |d: &Path| {
        vec![
            ("ARAGORA_DATA_DIR", d.to_str().unwrap().to_string()),
            ("ARAGORA_SQLITE_ENCRYPTION", "1".to_string()),
            ("ARAGORA_ENCRYPTION_KEY", key.clone()),
        ]
    };
    let run_enc = |args: &[&str]| {
        let e = env(&data);
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cli_env(args, &e)
    };
    let o = run_enc(&["demo"]);
    assert!(o.status.success(), "demo: {}", describe(&o));
    assert!(aragora_db::crypto::file_is_encrypted(&data.join("users.redb")).unwrap());
    set_modes(&data, 0o444, 0o555);
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let before = snapshot(&data);
    for (args, may_fail) in commands(&out) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_enc(&a);
        let code = o.status.code();
        assert!(
            code == Some(0) || (may_fail && code == Some(1)),
            "{args:?}: {}",
            describe(&o)
        );
        assert_unchanged(&data, &before, &args.join(" "));
    }
    let o = run_enc(&["dump", "users", "--format", "jsonl"]);
    assert!(
        o.status.success() && !o.stdout.is_empty(),
        "{}",
        describe(&o)
    );
    set_modes(&data, 0o600, 0o700);
}

/// A legacy SQLite file where a store was expected (copied over
/// `users.redb`): the read-only commands say what it is and how to bring
/// its rows in (`import`), not that it is damaged (`salvage`), and leave it.
#[test]
fn a_sqlite_file_in_place_of_a_store_is_named_not_salvaged() {
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), false);
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/legacy-nomic/agent_elo.db"
    );
    std::fs::copy(fixture, data.join("users.redb")).unwrap();
    let before = snapshot(&data);
    for args in [vec!["status"], vec!["dump", "users"], vec!["verify"]] {
        let o = run(&data, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", describe(&o));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            text.contains("is a SQLite database") && text.contains("aragora-db import"),
            "{args:?}: {text}"
        );
        assert!(!text.contains("salvage"), "{args:?}: {text}");
        assert_unchanged(&data, &before, &args.join(" "));
    }
}

/// A data directory whose `users.redb` is at schema version 1 (the frozen
/// fixture of tests/it/ops/migrate.rs, written before `users` version 2):
/// every read-only command reads it migrated in memory and leaves every
/// byte as it was; `verify` finds nothing wrong; `encrypt` and
/// `consolidate` keep its version, and the next open migrates it.
#[test]
fn a_v1_file_is_read_migrated_in_memory_and_left_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/migrate/schema_v1"
    );
    for e in std::fs::read_dir(fixture).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join(e.file_name())).unwrap();
    }
    let out = root.path().join("out");
    run_all_unchanged(&data, &out);
    let before = snapshot(&data);
    let o = run(&data, &["dump", "users", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("u2@x.io"));
    let o = run(&data, &["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = run(&data, &["migrate", "--status"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("001_users_covering_lookups"),
        "status reports the pending step: {}",
        describe(&o)
    );
    assert_unchanged(&data, &before, "dump, verify, migrate --status");

    // Writing commands on the v1 file.
    let o = run(&data, &["consolidate", "--migrate", "--no-backup"]);
    assert!(o.status.success(), "consolidate: {}", describe(&o));
    let o = cli_env(
        &["--mode", "consolidated", "verify"],
        &[("ARAGORA_DATA_DIR", data.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    const HEX: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
    let enc = [
        ("ARAGORA_DATA_DIR", data.to_str().unwrap()),
        ("ARAGORA_ENCRYPTION_KEY", HEX),
    ];
    let o = cli_env(&["encrypt"], &enc);
    assert!(o.status.success(), "encrypt: {}", describe(&o));
    let enc = [enc[0], enc[1], ("ARAGORA_SQLITE_ENCRYPTION", "1")];
    let o = cli_env(&["verify"], &enc);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("migrated in memory"),
        "the encrypted file kept version 1: {}",
        describe(&o)
    );
    let o = cli_env(&["dump", "users"], &enc);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("u2@x.io"),
        "{}",
        describe(&o)
    );
}
