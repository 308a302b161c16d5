//! Misuse cases for `export --to DSN` (see `super`): the move only reads
//! the embedded store, so the data directory keeps every byte and mtime —
//! after a move, a dry run, a refused move, with read-only files in a
//! read-only directory, as an unprivileged user, and when the server
//! cannot be reached (a clear error naming the host, no password, no hang).

use super::readonly::{as_nobody, populated, run, running_as_root, set_modes};
use super::{assert_unchanged, describe, snapshot};
use crate::export_pg::{TempDb, available};
use std::path::Path;
use std::time::{Duration, Instant};

fn url(db: &TempDb) -> String {
    format!("postgresql://postgres@127.0.0.1:5432/{}", db.name)
}

/// `export --to` into a new database; the exit code.
fn move_into(data: &Path, extra: &[&str]) -> (std::process::Output, TempDb) {
    let tmp = TempDb::new("misuse_to");
    let dsn = url(&tmp);
    let mut args = vec!["export", "--to", dsn.as_str()];
    args.extend_from_slice(extra);
    (run(data, &args), tmp)
}

#[test]
fn a_move_a_dry_run_and_a_refused_move_change_no_byte() {
    if !available() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // demo only: every value fits PostgreSQL's columns, the move succeeds.
    let data = populated(root.path(), false);
    let before = snapshot(&data);
    let (o, _db) = move_into(&data, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "dry run: {}", describe(&o));
    assert_unchanged(&data, &before, "export --to --dry-run");
    let (o, _db) = move_into(&data, &[]);
    assert_eq!(o.status.code(), Some(0), "move: {}", describe(&o));
    assert_unchanged(&data, &before, "export --to");

    // The legacy fixture holds values PostgreSQL's typed columns cannot
    // hold: the move is refused, and still nothing local changes.
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), true);
    let before = snapshot(&data);
    let (o, _db) = move_into(&data, &[]);
    assert_eq!(o.status.code(), Some(1), "fixture move: {}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_unchanged(&data, &before, "export --to (fixture)");
}

#[test]
fn read_only_files_in_a_read_only_directory_move_unchanged() {
    if !available() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), false);
    set_modes(&data, 0o444, 0o555);
    let before = snapshot(&data);
    let (o, _db) = move_into(&data, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert_unchanged(&data, &before, "export --to (read-only files)");

    // An unprivileged user really cannot write: the move still works.
    if running_as_root() {
        std::fs::set_permissions(
            root.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let tmp = TempDb::new("misuse_to_nobody");
        let dsn = url(&tmp);
        if let Some(o) = as_nobody(&data, &["export", "--to", &dsn]) {
            assert_eq!(o.status.code(), Some(0), "as nobody: {}", describe(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!err.contains("ermission denied"), "{err}");
            assert_unchanged(&data, &before, "export --to as nobody");
        }
    }
    set_modes(&data, 0o600, 0o700);
}

#[test]
fn an_unreachable_server_is_a_clear_error_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = populated(root.path(), false);
    let before = snapshot(&data);
    // Port 1 on the loopback refuses at once; the password must not show.
    let started = Instant::now();
    let o = run(
        &data,
        &[
            "export",
            "--to",
            "postgresql://postgres:s3cret@127.0.0.1:1/nowhere?connect_timeout=5",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(60), "it hung");
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("127.0.0.1"), "names the host: {err}");
    assert!(!err.contains("s3cret"), "shows the password: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_unchanged(&data, &before, "export --to (unreachable)");
}
