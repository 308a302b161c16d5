//! The command-line contract (docs/CLI.md): usage errors exit 2 before any
//! file is opened, flags override the environment, a closed pipe is
//! success, `demo` refuses a populated directory, `--limit 0` means none.

use super::{assert_unchanged, describe, snapshot};
use crate::common::cli_env;

fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let o = cli_env(&["--data-dir", d.to_str().unwrap(), "demo"], &[]);
    assert!(o.status.success(), "{}", describe(&o));
    dir
}

#[test]
fn usage_errors_exit_2_and_touch_nothing() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    let before = snapshot(dir.path());
    for args in [
        vec!["--data-dir", d, "dump", "users", "--where", "email"],
        vec!["--data-dir", d, "dump", "users", "--where", "=x"],
        vec!["--data-dir", d, "migrate"],
        vec!["--data-dir", d, "export", "--format", "supabase"],
        vec!["--data-dir", d, "--mode", "sharded", "status"],
        vec!["--data-dir", d, "no-such-command"],
    ] {
        let o = cli_env(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", describe(&o));
        assert_unchanged(dir.path(), &before, &format!("{args:?}"));
    }
}

#[test]
fn mode_flag_overrides_a_bad_environment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let env = [("ARAGORA_DB_MODE", "sharded")];
    let bad = cli_env(&["--data-dir", d, "paths"], &env);
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ARAGORA_DB_MODE"));
    let ok = cli_env(&["--data-dir", d, "--mode", "legacy", "paths"], &env);
    assert!(ok.status.success(), "{}", describe(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("legacy"));
}

#[test]
fn demo_refuses_a_populated_directory() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    let before = snapshot(dir.path());
    let o = cli_env(&["--data-dir", d.to_str().unwrap(), "demo"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_unchanged(dir.path(), &before, "demo on a populated directory");
    let forced = cli_env(&["--data-dir", d.to_str().unwrap(), "demo", "--force"], &[]);
    assert!(forced.status.success(), "{}", describe(&forced));
}

#[test]
fn limit_zero_returns_no_row() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    for format in ["jsonl", "csv", "table"] {
        let o = cli_env(
            &[
                "--data-dir",
                d.to_str().unwrap(),
                "dump",
                "users",
                "--limit",
                "0",
                "--format",
                format,
            ],
            &[],
        );
        assert!(o.status.success(), "{}", describe(&o));
        let rows = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("@example.com"))
            .count();
        assert_eq!(rows, 0, "{format}: {}", describe(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("0 row(s)"));
    }
}

#[test]
fn a_closed_pipe_is_success() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = demo_dir();
    let d = dir.path().join("d");
    // Enough rows that the output outgrows the pipe's buffer.
    let log = aragora_db::store::AuditLog::open(&aragora_db::config::Config::for_dir(&d)).unwrap();
    let events = (0..3000)
        .map(|i| aragora_db::store::AuditEvent {
            action: "demo.action".into(),
            resource_id: Some(format!("u{i}")),
            ..Default::default()
        })
        .collect();
    log.log_events(events).unwrap();
    drop(log);
    for format in ["jsonl", "csv", "table"] {
        let mut child = crate::common::bin()
            .args([
                "--data-dir",
                d.to_str().unwrap(),
                "dump",
                "audit_log",
                "--format",
                format,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take()); // the reader goes away, as `head` does
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?} {err}", out.status);
        assert!(
            !err.contains("Broken pipe") && !err.contains("error"),
            "{format}: {err}"
        );
    }
}

#[test]
fn a_short_hex_key_is_called_hex() {
    let dir = tempfile::tempdir().unwrap();
    let key = "ab".repeat(31);
    let o = cli_env(
        &["--data-dir", dir.path().to_str().unwrap(), "paths"],
        &[("ARAGORA_ENCRYPTION_KEY", &key)],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("62 hex digits"), "{err}");
    assert!(!err.contains(&key), "the key must never be shown: {err}");
}

#[test]
fn io_errors_name_the_path_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    let o = cli_env(&["sqlite", "info", missing.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("nothing-here.db").count(), 1, "{err}");
    assert!(!err.contains("caused by"), "{err}");
}

/// Every command's `--json` output is exactly one JSON document (JSON lines
/// for the two dumps), whatever else it has to say.
#[test]
fn json_is_one_document_on_every_command() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    let fresh = dir.path().join("fresh");
    let sqlite = dir.path().join("legacy.db");
    {
        let c = rusqlite::Connection::open(&sqlite).unwrap();
        c.execute_batch("CREATE TABLE t(a INTEGER, b BLOB); INSERT INTO t VALUES (1, x'00ff');")
            .unwrap();
    }
    let sqlite = sqlite.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--data-dir", d, "paths", "--json"],
        vec!["--json", "--data-dir", d, "status"],
        vec!["--data-dir", d, "verify", "--json"],
        vec!["--data-dir", d, "cleanup", "--dry-run", "--json"],
        vec!["--data-dir", d, "migrate", "--status", "--json"],
        vec!["--data-dir", d, "consolidate", "--dry-run", "--json"],
        vec!["--data-dir", fresh.to_str().unwrap(), "demo", "--json"],
        vec!["sqlite", "info", sqlite, "--json"],
    ];
    for args in cases {
        let o = cli_env(&args, &[]);
        assert!(o.status.success(), "{args:?}: {}", describe(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {}", describe(&o)));
        assert!(v.is_object(), "{args:?}: {v}");
    }
    for args in [
        vec!["--data-dir", d, "dump", "users", "--json"],
        vec!["sqlite", "dump", sqlite, "--json"],
    ] {
        let o = cli_env(&args, &[]);
        assert!(o.status.success(), "{args:?}: {}", describe(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.lines().count() >= 1, "{args:?}: {text}");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v.is_object(), "{args:?}: {line}");
        }
    }
    // A failing command still prints one document, with ok = false.
    let o = cli_env(&["migrate", "--status", "--db", "nope", "--json"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
}

#[test]
fn verify_and_backup_of_nothing_fail() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = dir.path().join("missing");
    for d in [&empty, &missing] {
        let before = snapshot(dir.path());
        let d = d.to_str().unwrap();
        for args in [
            vec!["--data-dir", d, "verify"],
            vec!["--data-dir", d, "backup"],
        ] {
            let o = cli_env(&args, &[]);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", describe(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("no database files"), "{args:?}: {err}");
            assert_unchanged(dir.path(), &before, &format!("{args:?}"));
        }
    }
}

#[test]
fn a_data_dir_that_is_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"hello").unwrap();
    let before = snapshot(dir.path());
    let f = file.to_str().unwrap();
    for cmd in ["paths", "status", "verify", "backup"] {
        let o = cli_env(&["--data-dir", f, cmd], &[]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not a directory"), "{cmd}: {err}");
        assert_unchanged(dir.path(), &before, cmd);
    }
}

#[test]
fn waiting_for_a_lock_is_announced() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    let config = aragora_db::config::Config::for_dir(&d);
    let held = aragora_db::store::UserStore::open(&config).unwrap();
    let start = std::time::Instant::now();
    let o = cli_env(
        &["--data-dir", d.to_str().unwrap(), "dump", "users"],
        &[("DB_TIMEOUT", "2")],
    );
    drop(held);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("waiting for"), "{err}");
    assert!(
        err.contains("users.redb") && err.contains("DB_TIMEOUT"),
        "{err}"
    );
    assert!(start.elapsed() >= std::time::Duration::from_secs(2));
}

#[test]
fn log_filter_shows_what_status_and_import_do() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    let o = cli_env(&["--data-dir", d, "status"], &[("ARAGORA_LOG", "info")]);
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("users.redb") && err.contains("INFO"), "{err}");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy-nomic");
    let store = dir.path().join("imported");
    let o = cli_env(
        &[
            "--data-dir",
            store.to_str().unwrap(),
            "import",
            "--source",
            fixture,
            "--dry-run",
        ],
        &[("ARAGORA_LOG", "info")],
    );
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("reading source") && err.contains("import finished"),
        "{err}"
    );
}

#[test]
fn commands_refuse_a_data_dir_with_an_interrupted_restore() {
    let dir = demo_dir();
    let d = dir.path().join("d");
    // What a crash in the middle of a restore leaves (ops::restore's journal).
    std::fs::write(d.join(".restore-journal.json"), b"{}").unwrap();
    let before = snapshot(dir.path());
    let d = d.to_str().unwrap();
    for args in [
        vec!["--data-dir", d, "status"],
        vec!["--data-dir", d, "dump", "users"],
        vec!["--data-dir", d, "verify"],
        vec!["--data-dir", d, "demo", "--force"],
    ] {
        let o = cli_env(&args, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("restore --recover"), "{args:?}: {err}");
        assert_unchanged(dir.path(), &before, &format!("{args:?}"));
    }
}

#[test]
fn backup_says_which_files_restore_will_not_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let users = elsewhere.join("users.redb");
    let env = [("ARAGORA_DB_USERS", users.to_str().unwrap())];
    let o = cli_env(&["--data-dir", d.to_str().unwrap(), "demo"], &env);
    assert!(o.status.success(), "{}", describe(&o));
    let o = cli_env(&["--data-dir", d.to_str().unwrap(), "backup"], &env);
    assert!(o.status.success(), "{}", describe(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("outside the data directory") && text.contains(users.to_str().unwrap()),
        "{text}"
    );
}
