//! Misuse cases: see `super`. `import` given a source directory where one
//! file cannot be read (damaged, not SQLite, empty) or has a `-wal` SQLite
//! ignores in whole or in part, beside a healthy file.
//!
//! Each case runs `import` as a user would, in every flavour (`--dry-run`,
//! plain, `--verify`, text and `--json`), and checks: the exit code (1 when
//! a source could not be read, 0 when only a warning is due), the file named
//! once with its reason in the text output and once in the JSON lists, the
//! healthy file's rows imported, and every source file unchanged.

use super::{assert_unchanged, describe, snapshot};
use crate::common::bin;
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::schema::users::USERS;
use serde_json::Value;
use std::path::Path;

/// Rows of the healthy file.
const GOOD_ROWS: u64 = 3;

/// `good.db`: a users table the importer knows, with three rows.
fn healthy(dir: &Path) {
    let c = rusqlite::Connection::open(dir.join("good.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, password_hash TEXT,
             password_salt TEXT, name TEXT, role TEXT, created_at TEXT, updated_at TEXT);
         INSERT INTO users VALUES ('g1', 'g1@x', 'h', 's', 'G1', 'member', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
         INSERT INTO users VALUES ('g2', 'g2@x', 'h', 's', 'G2', 'member', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
         INSERT INTO users VALUES ('g3', 'g3@x', 'h', 's', 'G3', 'member', '2024-01-01 00:00:00', '2024-01-01 00:00:00');",
    )
    .unwrap();
}

/// A valid SQLite file with one table the importer does not know, `rows`
/// rows of about 100 bytes each.
fn other_db(path: &Path, rows: usize) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
        .unwrap();
    for i in 0..rows {
        c.execute(
            "INSERT INTO notes (body) VALUES (?1)",
            [format!("{i:0>100}")],
        )
        .unwrap();
    }
}

/// Deterministic pseudo-random bytes (xorshift).
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Where the case's file must be listed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Listed {
    /// `errors`, exit 1, not verified.
    Error,
    /// `warnings`, exit 0.
    Warning,
}

/// What a case expects of the file it damaged.
struct Expect<'a> {
    /// Name of the file, as the report shows it.
    file: &'a str,
    listed: Listed,
    /// Pieces the reason must contain.
    reason: &'a [&'a str],
}

fn import(src: &Path, data: &Path, flags: &[&str]) -> std::process::Output {
    bin()
        .arg("--data-dir")
        .arg(data)
        .arg("import")
        .args(flags)
        .arg("--source")
        .arg(src)
        .output()
        .unwrap()
}

fn occurrences(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// Runs every flavour of `import` on `src` (which holds `good.db` and the
/// case's files) and checks `expect`. Returns the JSON of the plain run.
fn check(src: &Path, expect: &Expect<'_>) -> Value {
    let before = snapshot(src);
    let data = tempfile::tempdir().unwrap();
    let code = match expect.listed {
        Listed::Error => 1,
        Listed::Warning => 0,
    };
    let mut plain = Value::Null;
    // Dry run first (nothing committed), then the import, then again with
    // --verify (everything already present).
    for flags in [&["--dry-run"][..], &[], &["--verify"]] {
        // Text: the file named exactly once, on its error or warning line.
        let out = import(src, data.path(), flags);
        let what = format!("import {flags:?}\n{}", describe(&out));
        assert_eq!(out.status.code(), Some(code), "{what}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(occurrences(&text, expect.file), 1, "{what}");
        let prefix = match expect.listed {
            Listed::Error => "error: ",
            Listed::Warning => "warning: ",
        };
        let line = text
            .lines()
            .find(|l| l.contains(expect.file))
            .unwrap_or_default();
        assert!(
            line.starts_with(&format!("{prefix}{}: ", expect.file)),
            "{what}"
        );
        for r in expect.reason {
            assert!(line.contains(r), "{r:?} missing in {line:?}\n{what}");
        }
        if code == 1 {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("could not be imported"),
                "{what}"
            );
        }

        // JSON: the same, once, with the reason, and the healthy file.
        let mut json_flags = flags.to_vec();
        json_flags.push("--json");
        let out = import(src, data.path(), &json_flags);
        let what = format!("import {json_flags:?}\n{}", describe(&out));
        assert_eq!(out.status.code(), Some(code), "{what}");
        let v: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {what}"));
        let imp = &v["import"];
        let mut entries = Vec::new();
        for (list, key) in [("errors", "error"), ("warnings", "reason")] {
            for e in imp[list].as_array().unwrap() {
                if e["file"] == expect.file {
                    entries.push((list, e[key].as_str().unwrap().to_string(), e.clone()));
                }
            }
        }
        assert_eq!(entries.len(), 1, "{what}");
        let (list, reason, entry) = &entries[0];
        let want = match expect.listed {
            Listed::Error => "errors",
            Listed::Warning => "warnings",
        };
        assert_eq!(*list, want, "{what}");
        assert!(!reason.contains(expect.file), "file named twice: {reason}");
        for r in expect.reason {
            assert!(reason.contains(r), "{r:?} missing in {reason:?}");
        }
        if expect.listed == Listed::Error {
            assert_eq!(
                imp["errors"].as_array().unwrap().len(),
                1,
                "only the damaged file: {what}"
            );
            assert!(entry.get("page").is_some() && entry.get("offset").is_some());
        }
        let good = imp["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["file"] == "good.db" && t["table"] == "users")
            .unwrap_or_else(|| panic!("good.db:users not imported: {what}"));
        assert_eq!(good["read"], GOOD_ROWS, "{what}");
        assert_eq!(
            good["imported"].as_u64().unwrap() + good["already_present"].as_u64().unwrap(),
            GOOD_ROWS,
            "{what}"
        );
        if flags.contains(&"--verify") {
            let ver = &v["verify"];
            assert_eq!(ver["mismatch_count"], 0, "{what}");
            let unread: Vec<&Value> = ver["errors"].as_array().unwrap().iter().collect();
            match expect.listed {
                Listed::Error => {
                    assert_eq!(unread.len(), 1, "{what}");
                    assert_eq!(unread[0]["file"], expect.file, "{what}");
                }
                Listed::Warning => assert!(unread.is_empty(), "{what}"),
            }
        }
        if flags.is_empty() {
            plain = v;
        }
    }
    let config = Config::for_dir(data.path());
    let db = Database::open(&config, DbTarget::Store(Store::Users)).unwrap();
    assert_eq!(db.read().unwrap().count_rows(&USERS).unwrap(), GOOD_ROWS);
    drop(db);
    assert_unchanged(src, &before, "import");
    plain
}

#[test]
fn a_zeroed_header_is_an_error_naming_the_file_and_offset() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    let p = src.path().join("users.db");
    other_db(&p, 10);
    let mut b = std::fs::read(&p).unwrap();
    b[..100].fill(0);
    std::fs::write(&p, b).unwrap();
    let v = check(
        src.path(),
        &Expect {
            file: "users.db",
            listed: Listed::Error,
            reason: &["not a SQLite database", "offset 0", "16 zero bytes"],
        },
    );
    assert_eq!(v["import"]["errors"][0]["offset"], 0);
}

#[test]
fn random_bytes_are_an_error() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    std::fs::write(src.path().join("x.db"), noise(8192, 0x9e37_79b9_7f4a_7c15)).unwrap();
    check(
        src.path(),
        &Expect {
            file: "x.db",
            listed: Listed::Error,
            reason: &["not a SQLite database", "offset 0", "bytes "],
        },
    );
}

#[test]
fn text_is_an_error_long_or_short() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    std::fs::write(
        src.path().join("y.db"),
        "These are my notes, not a database.\n".repeat(10),
    )
    .unwrap();
    check(
        src.path(),
        &Expect {
            file: "y.db",
            listed: Listed::Error,
            reason: &["not a SQLite database", "text \"These are my not\""],
        },
    );
    std::fs::remove_file(src.path().join("y.db")).unwrap();
    std::fs::write(src.path().join("short.sqlite"), "hi\n").unwrap();
    check(
        src.path(),
        &Expect {
            file: "short.sqlite",
            listed: Listed::Error,
            reason: &["not a SQLite database", "text \"hi\\n\""],
        },
    );
}

#[test]
fn an_empty_file_is_a_warning() {
    // SQLite opens a 0-byte file as a database without tables: nothing is
    // lost, but the user is told.
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    std::fs::write(src.path().join("empty.db"), b"").unwrap();
    check(
        src.path(),
        &Expect {
            file: "empty.db",
            listed: Listed::Warning,
            reason: &["empty file (0 bytes)"],
        },
    );
}

#[test]
fn a_database_without_tables_is_a_warning() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    let c = rusqlite::Connection::open(src.path().join("blank.db")).unwrap();
    c.execute_batch("PRAGMA user_version = 7;").unwrap();
    drop(c);
    assert!(
        std::fs::metadata(src.path().join("blank.db"))
            .unwrap()
            .len()
            > 0
    );
    check(
        src.path(),
        &Expect {
            file: "blank.db",
            listed: Listed::Warning,
            reason: &["no tables"],
        },
    );
}

#[test]
fn a_truncated_file_cut_mid_page_is_an_error_naming_the_page() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    let p = src.path().join("cut.db");
    other_db(&p, 300);
    let b = std::fs::read(&p).unwrap();
    assert!(b.len() >= 6 * 4096, "{}", b.len());
    std::fs::write(&p, &b[..3 * 4096 + 1000]).unwrap();
    let v = check(
        src.path(),
        &Expect {
            file: "cut.db",
            listed: Listed::Error,
            reason: &["page 1", "the file holds 4"],
        },
    );
    let e = &v["import"]["errors"][0];
    assert_eq!(
        (&e["page"], &e["offset"]),
        (&Value::from(1), &Value::from(28))
    );
}

#[test]
fn a_damaged_page_is_an_error_naming_the_page_and_verify_still_reports() {
    // The header is intact, so the file opens; the damage is found while
    // reading it through (and --verify must list it, not stop at it).
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    let p = src.path().join("bad.db");
    other_db(&p, 300);
    let mut b = std::fs::read(&p).unwrap();
    assert!(b.len() >= 6 * 4096, "{}", b.len());
    // Page 5 is a leaf of the notes table: an invalid page type.
    b[4 * 4096] = 0x42;
    std::fs::write(&p, &b).unwrap();
    let v = check(
        src.path(),
        &Expect {
            file: "bad.db",
            listed: Listed::Error,
            reason: &["page 5", "nothing from this file was imported"],
        },
    );
    let e = &v["import"]["errors"][0];
    assert_eq!(
        (&e["page"], &e["offset"]),
        (&Value::from(5), &Value::from(0))
    );
}

/// Copies `name` and its `-wal` from `scratch` into `src` while `c` (the
/// connection that wrote them) is still open, so the WAL is not
/// checkpointed away.
fn copy_live(c: &rusqlite::Connection, scratch: &Path, src: &Path, name: &str) {
    for f in [name.to_string(), format!("{name}-wal")] {
        std::fs::copy(scratch.join(&f), src.join(&f)).unwrap();
    }
    let _ = c;
}

/// Rows of `notes` that SQLite itself reads from a copy of `name` (and its
/// `-wal`): the oracle for "exactly what SQLite would read".
fn sqlite_reads(src: &Path, name: &str) -> i64 {
    let copy = tempfile::tempdir().unwrap();
    for f in [name.to_string(), format!("{name}-wal")] {
        if src.join(&f).exists() {
            std::fs::copy(src.join(&f), copy.path().join(&f)).unwrap();
        }
    }
    let c = rusqlite::Connection::open(copy.path().join(name)).unwrap();
    c.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .unwrap()
}

fn rows_read(v: &Value, file: &str, table: &str) -> u64 {
    v["import"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["file"] == file && t["table"] == table)
        .unwrap_or_else(|| panic!("{file}:{table} not in the report"))["read"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_garbage_wal_beside_a_valid_db_is_ignored_and_reported() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    let p = src.path().join("w.db");
    other_db(&p, 5);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    drop(c); // the last close checkpoints and removes the WAL
    assert!(!src.path().join("w.db-wal").exists());
    std::fs::write(src.path().join("w.db-wal"), noise(5000, 7)).unwrap();
    let v = check(
        src.path(),
        &Expect {
            file: "w.db-wal",
            listed: Listed::Warning,
            reason: &["ignored whole", "bad WAL magic", "5000 bytes not read"],
        },
    );
    assert_eq!(v["import"]["warnings"][0]["offset"], 0);
    // The main file's rows, exactly what SQLite reads.
    assert_eq!(rows_read(&v, "w.db", "notes"), 5);
    assert_eq!(sqlite_reads(src.path(), "w.db"), 5);
}

/// Frames of a WAL: (whole frames, index of the last commit frame among them).
fn wal_frames(wal: &[u8]) -> (usize, usize) {
    let be = |o: usize| u32::from_be_bytes(wal[o..o + 4].try_into().unwrap());
    let page = be(8) as usize;
    let (mut n, mut last_commit) = (0, 0);
    let mut off = 32;
    while off + 24 + page <= wal.len() {
        n += 1;
        if be(off + 4) != 0 {
            last_commit = n;
        }
        off += 24 + page;
    }
    (n, last_commit)
}

#[test]
fn a_wal_with_a_torn_tail_is_read_up_to_its_last_commit_and_the_rest_reported() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    let scratch = tempfile::tempdir().unwrap();
    let p = scratch.path().join("t.db");
    other_db(&p, 2);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         INSERT INTO notes (body) VALUES ('committed in the WAL');",
    )
    .unwrap();
    // The last transaction spans several frames (overflow pages); its
    // commit frame is the one torn.
    c.execute(
        "INSERT INTO notes (body) VALUES (?1)",
        ["x".repeat(5 * 4096)],
    )
    .unwrap();
    copy_live(&c, scratch.path(), src.path(), "t.db");
    drop(c);
    let wal_path = src.path().join("t.db-wal");
    let wal = std::fs::read(&wal_path).unwrap();
    let (frames, last) = wal_frames(&wal);
    assert_eq!(last, frames, "the WAL ends with a commit frame");
    let cut = wal.len() - 2000;
    std::fs::write(&wal_path, &wal[..cut]).unwrap();
    let (frames, last) = wal_frames(&wal[..cut]);
    let torn = frames - last;
    assert!(torn >= 3, "{frames} frames, last commit {last}");
    let v = check(
        src.path(),
        &Expect {
            file: "t.db-wal",
            listed: Listed::Warning,
            reason: &[
                &format!("{torn} of {frames} frames not applied"),
                &format!("{torn} valid frames after the last commit"),
                "trailing bytes form a partial frame",
            ],
        },
    );
    let w = &v["import"]["warnings"][0];
    assert_eq!(w["frames"], torn as u64);
    assert_eq!(w["offset"], 32 + last as u64 * (24 + 4096));
    // Up to the last whole commit: the three committed rows, as SQLite.
    assert_eq!(rows_read(&v, "t.db", "notes"), 3);
    assert_eq!(sqlite_reads(src.path(), "t.db"), 3);
}

#[test]
fn a_wal_without_its_database_is_reported() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    std::fs::write(src.path().join("gone.db-wal"), noise(4200, 3)).unwrap();
    check(
        src.path(),
        &Expect {
            file: "gone.db-wal",
            listed: Listed::Warning,
            reason: &["no database file beside it", "4200 bytes"],
        },
    );
}

#[test]
fn links_and_other_files_are_listed_as_skipped() {
    let src = tempfile::tempdir().unwrap();
    healthy(src.path());
    std::os::unix::fs::symlink(src.path().join("good.db"), src.path().join("link.db")).unwrap();
    std::fs::write(src.path().join("state.json"), "{}").unwrap();
    let before = snapshot(src.path());
    let data = tempfile::tempdir().unwrap();
    let out = import(src.path(), data.path(), &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped = v["import"]["skipped"].as_array().unwrap();
    let reason = |path: &str| {
        skipped
            .iter()
            .find(|s| s["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in {skipped:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("link.db").contains("symbolic link"));
    assert!(reason(".").contains("state.json"));
    assert_unchanged(src.path(), &before, "import");
}
