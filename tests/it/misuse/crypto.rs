//! Misuse cases: see `super`.
//!
//! `encrypt`, `decrypt` and `rekey` given files that are not ours (SQLite
//! files, text, empty files, random bytes), files in the wrong state, and
//! sets where one file is under a third key: each is refused with exit 1,
//! a message naming the file, and every file of the directory unchanged.
//! A set interrupted halfway finishes when the same command runs again.

use super::{assert_unchanged, describe, snapshot};
use aragora_db::config::Config;
use aragora_db::crypto::{self, Encryption, KdfParams, Key, KeySource};
use aragora_db::ops::encrypt as convert;
use aragora_db::store::UserStore;
use std::path::{Path, PathBuf};
use std::process::Output;

const K1: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
const K2: &str = "2f2e2d2c2b2a292827262524232221202f2e2d2c2b2a29282726252423222120";
const K3: &str = "3f3e3d3c3b3a393837363534333231303f3e3d3c3b3a39383736353433323130";

fn key(hex: &str) -> KeySource {
    Encryption::raw(Key::parse("test key", hex).unwrap()).source
}

/// Runs the CLI on `dir` (as its data directory) with the given keys.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = crate::common::bin();
    c.arg("--data-dir").arg(dir).args(args);
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{}", describe(&out));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a refusal: exit 1, every `names` file and `what` in stderr (each
/// file named once), the directory as it was, no `.converting` left.
#[track_caller]
fn assert_refused(
    out: &Output,
    dir: &Path,
    before: &std::collections::BTreeMap<PathBuf, super::FileState>,
    names: &[&Path],
    what: &str,
) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    for n in names {
        let n = n.display().to_string();
        assert_eq!(
            err.matches(&n).count(),
            1,
            "{n} named once: {}",
            describe(out)
        );
    }
    assert!(err.contains(what), "expected {what:?}: {}", describe(out));
    assert_unchanged(dir, before, &format!("a refused run ({what})"));
    assert_no_converting(dir);
}

fn assert_no_converting(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().ends_with(".converting"),
            "{name:?} left behind"
        );
    }
}

/// A plain aragora-db file with one user at `dir/users.redb`.
fn aragora_file(dir: &Path) -> PathBuf {
    let users = UserStore::open(&Config::for_dir(dir)).unwrap();
    users
        .create_user("m@example.com", "h", "", "M", None, "member")
        .unwrap();
    drop(users);
    dir.join("users.redb")
}

/// A SQLite file at `path` with a table of `rows` rows of 100 bytes.
fn sqlite_file(path: &Path, rows: usize) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT);")
        .unwrap();
    for i in 0..rows {
        conn.execute("INSERT INTO t(body) VALUES (?1)", [format!("{i:0>100}")])
            .unwrap();
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Encryption of a file that is not an aragora-db database is refused,
/// whatever it is, and the file and its directory are left as they were.
#[test]
fn encrypt_refuses_files_that_are_not_aragora_db_files() {
    type Make = fn(&Path);
    let cases: [(&str, Make, &str); 5] = [
        (
            "small.db",
            |p| sqlite_file(p, 3),
            "is a SQLite database, not an aragora-db file: import it with `aragora-db import`",
        ),
        (
            "large.db",
            |p| {
                sqlite_file(p, 1500);
                assert!(std::fs::metadata(p).unwrap().len() > 100 * 1024);
            },
            "is a SQLite database, not an aragora-db file",
        ),
        (
            "notes.txt",
            |p| std::fs::write(p, "meeting notes\nnot a database\n").unwrap(),
            "is not an aragora-db database (no redb header",
        ),
        (
            "empty.redb",
            |p| std::fs::write(p, b"").unwrap(),
            "is empty, not an aragora-db database",
        ),
        (
            "random.redb",
            |p| std::fs::write(p, random_bytes(4096)).unwrap(),
            "is not an aragora-db database (no redb header",
        ),
    ];
    for (name, make, what) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        make(&file);
        let before = snapshot(dir.path());
        let out = run(
            dir.path(),
            &["encrypt", file.to_str().unwrap()],
            &[("ARAGORA_ENCRYPTION_KEY", K1)],
        );
        assert_refused(&out, dir.path(), &before, &[&file], what);
    }
}

/// A redb file that is not ours (no `__layout` marker) is refused too.
#[test]
fn encrypt_refuses_a_redb_file_without_the_aragora_db_marker() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&file).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(redb::TableDefinition::<&str, u64>::new("x"))
            .unwrap()
            .insert("k", 1)
            .unwrap();
        w.commit().unwrap();
    }
    let before = snapshot(dir.path());
    let out = run(
        dir.path(),
        &["encrypt", file.to_str().unwrap()],
        &[("ARAGORA_ENCRYPTION_KEY", K1)],
    );
    assert_refused(
        &out,
        dir.path(),
        &before,
        &[&file],
        "is a redb database but not an aragora-db file (no __layout marker table)",
    );
}

/// One bad file refuses the whole set, and the message lists every bad file.
#[test]
fn encrypt_of_a_set_with_bad_files_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = aragora_file(dir.path());
    let sqlite = dir.path().join("legacy.db");
    sqlite_file(&sqlite, 10);
    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    let before = snapshot(dir.path());
    let out = run(
        dir.path(),
        &[
            "encrypt",
            good.to_str().unwrap(),
            sqlite.to_str().unwrap(),
            empty.to_str().unwrap(),
        ],
        &[("ARAGORA_ENCRYPTION_KEY", K1)],
    );
    assert_refused(
        &out,
        dir.path(),
        &before,
        &[&sqlite, &empty],
        "2 of 3 files cannot be encrypted, so nothing was changed",
    );
    assert!(
        !stderr(&out).contains(good.to_str().unwrap()),
        "{}",
        describe(&out)
    );
    assert!(!crypto::file_is_encrypted(&good).unwrap());
}

#[test]
fn decrypt_refuses_files_that_are_not_encrypted_aragora_db_files() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("legacy.db");
    sqlite_file(&sqlite, 10);
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "plain text\n").unwrap();
    for (file, what) in [
        (&sqlite, "is a SQLite database, not an aragora-db file"),
        (&text, "is not an aragora-db database (no redb header"),
    ] {
        let before = snapshot(dir.path());
        let out = run(
            dir.path(),
            &["decrypt", file.to_str().unwrap()],
            &[("ARAGORA_ENCRYPTION_KEY", K1)],
        );
        assert_refused(&out, dir.path(), &before, &[file], what);
    }
}

/// A plain aragora-db file is already what `decrypt` makes: skipped, so
/// that an interrupted decrypt of a set finishes when run again. A set
/// holding a file that is not ours is refused whole first.
#[test]
fn decrypt_of_a_set_skips_plain_aragora_db_files_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let plain = aragora_file(dir.path());
    let encrypted = dir.path().join("copy.redb");
    std::fs::copy(&plain, &encrypted).unwrap();
    convert::encrypt_file(&encrypted, &Encryption::raw(Key::parse("k", K1).unwrap())).unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "plain text\n").unwrap();
    let arg = |p: &PathBuf| p.to_str().unwrap().to_string();
    let before = snapshot(dir.path());
    let env = [("ARAGORA_ENCRYPTION_KEY", K1)];
    let out = run(
        dir.path(),
        &["decrypt", &arg(&plain), &arg(&encrypted), &arg(&text)],
        &env,
    );
    assert_refused(
        &out,
        dir.path(),
        &before,
        &[&text],
        "1 of 3 files cannot be decrypted, so nothing was changed",
    );
    std::fs::remove_file(&text).unwrap();
    let before = snapshot(dir.path());
    let out = run(
        dir.path(),
        &["decrypt", &arg(&plain), &arg(&encrypted)],
        &env,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("users.redb: not encrypted, skipped"),
        "{text}"
    );
    assert!(text.contains("copy.redb: decrypted"), "{text}");
    assert_eq!(
        snapshot(dir.path())[&plain],
        before[&plain],
        "skipped file unchanged"
    );
    assert!(!crypto::file_is_encrypted(&encrypted).unwrap());
    assert_no_converting(dir.path());
}

/// Encrypting an encrypted file: skipped under the same key, refused under
/// another; the file is unchanged either way.
#[test]
fn encrypt_of_an_encrypted_file_skips_it_or_refuses_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = aragora_file(dir.path());
    convert::encrypt_file(&file, &Encryption::raw(Key::parse("k", K1).unwrap())).unwrap();
    let before = snapshot(dir.path());
    let out = run(dir.path(), &["encrypt"], &[("ARAGORA_ENCRYPTION_KEY", K1)]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout(&out).contains("users.redb: already encrypted, skipped"),
        "{}",
        describe(&out)
    );
    assert_unchanged(dir.path(), &before, "encrypt of an encrypted file");
    let out = run(dir.path(), &["encrypt"], &[("ARAGORA_ENCRYPTION_KEY", K2)]);
    assert_refused(
        &out,
        dir.path(),
        &before,
        &[&file],
        "is already encrypted, under another key",
    );
}

/// Damaged aragora-db files (one page's type byte overwritten, page by
/// page): `encrypt` either converts the file (the page was unused) or
/// refuses it with exit 1, naming it, leaving it as it was, no
/// `.converting` behind and no panic, whether the damage shows in the check
/// before the conversion or only in redb's check of the converted copy.
#[test]
fn encrypt_of_a_damaged_aragora_db_file_refuses_it_unchanged() {
    let seed = tempfile::tempdir().unwrap();
    let good = std::fs::read(aragora_file(seed.path())).unwrap();
    let (mut before_copy, mut at_copy) = (0, 0);
    for page in 1..good.len() / 4096 {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("page{page}.redb"));
        let mut img = good.clone();
        img[page * 4096] = 226;
        std::fs::write(&file, &img).unwrap();
        let before = snapshot(dir.path());
        let out = run(
            dir.path(),
            &["encrypt", file.to_str().unwrap()],
            &[("ARAGORA_ENCRYPTION_KEY", K1)],
        );
        if out.status.success() {
            continue;
        }
        let err = stderr(&out);
        if err.contains("redb cannot use its converted copy") {
            at_copy += 1;
            assert!(
                err.contains("the file is damaged, so it was left as it was"),
                "{err}"
            );
        } else {
            before_copy += 1;
        }
        assert_refused(&out, dir.path(), &before, &[&file], "");
    }
    assert!(before_copy > 0 && at_copy > 0, "{before_copy} {at_copy}");
}

/// A set whose second file turns out damaged only when its converted copy
/// is checked: the first file is done, the rest unchanged, and the error
/// says so; once the damaged file is replaced, the same command finishes
/// the set (the done file reported as already encrypted).
#[test]
fn encrypt_stopped_by_a_damaged_file_finishes_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(aragora_file(dir.path())).unwrap();
    std::fs::remove_file(dir.path().join("users.redb")).unwrap();
    let enc = Encryption::raw(Key::parse("k", K1).unwrap());
    // A page whose damage the check before converting does not see.
    let probe = dir.path().join("probe.redb");
    let damaged = (1..good.len() / 4096)
        .map(|page| {
            let mut img = good.clone();
            img[page * 4096] = 226;
            img
        })
        .find(|img| {
            std::fs::write(&probe, img).unwrap();
            convert::plan_encrypt(&probe, &enc).is_ok()
                && convert::encrypt_file(&probe, &enc).is_err()
        })
        .expect("a page damaged past the check");
    std::fs::remove_file(&probe).unwrap();
    let [a, b, c] = ["a.redb", "b.redb", "c.redb"].map(|n| dir.path().join(n));
    std::fs::write(&a, &good).unwrap();
    std::fs::write(&b, &damaged).unwrap();
    std::fs::write(&c, &good).unwrap();
    let args = |v: &[&PathBuf]| {
        let mut out = vec!["encrypt".to_string()];
        out.extend(v.iter().map(|p| p.to_str().unwrap().to_string()));
        out
    };
    let all = args(&[&a, &b, &c]);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let env = [("ARAGORA_ENCRYPTION_KEY", K1)];
    let before = snapshot(dir.path());
    let out = run(dir.path(), &all, &env);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: the file is damaged", b.display())),
        "{err}"
    );
    assert!(
        err.contains("the 1 file before it is done, it and the 1 after it are unchanged; run the same command again to finish"),
        "{err}"
    );
    let after = snapshot(dir.path());
    assert_ne!(after[&a], before[&a]);
    assert_eq!(after[&b], before[&b]);
    assert_eq!(after[&c], before[&c]);
    assert!(crypto::file_is_encrypted(&a).unwrap());
    assert_no_converting(dir.path());

    std::fs::write(&b, &good).unwrap();
    let out = run(dir.path(), &all, &env);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{}: already encrypted, skipped", a.display())),
        "{text}"
    );
    for f in [&b, &c] {
        assert!(
            text.contains(&format!("{}: encrypted", f.display())),
            "{text}"
        );
        assert!(opens_with(f, K1));
    }
}

/// A closed stdout (`aragora-db encrypt | head -1`) does not stop the set
/// halfway: every file is converted, and the exit is success as for any
/// closed pipe.
#[test]
fn encrypt_with_stdout_closed_converts_the_whole_set() {
    let dir = tempfile::tempdir().unwrap();
    let good = aragora_file(dir.path());
    let files: Vec<PathBuf> = ["a.redb", "b.redb", "c.redb"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    for f in &files {
        std::fs::copy(&good, f).unwrap();
    }
    std::fs::remove_file(&good).unwrap();
    let mut c = crate::common::bin();
    c.arg("--data-dir")
        .arg(dir.path())
        .arg("encrypt")
        .args(&files);
    c.env("ARAGORA_ENCRYPTION_KEY", K1);
    c.stdout(std::process::Stdio::piped());
    c.stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", describe(&out));
    for f in &files {
        assert!(opens_with(f, K1), "{} not encrypted", f.display());
    }
    assert_no_converting(dir.path());
}

/// Every file of the default set (the files of the mode), each a copy of
/// one aragora-db file encrypted under `K1`.
fn encrypted_set(dir: &Path, n: usize) -> Vec<PathBuf> {
    let seed = tempfile::tempdir().unwrap();
    let plain = aragora_file(seed.path());
    let enc = Encryption {
        source: key(K1),
        params: KdfParams::insecure_for_tests(),
    };
    let mut names: Vec<PathBuf> = Config::for_dir(dir)
        .all_db_paths()
        .unwrap()
        .into_iter()
        .map(|(_, f)| f.path)
        .collect();
    names.sort();
    names.dedup();
    names.truncate(n);
    assert_eq!(names.len(), n);
    for p in &names {
        std::fs::copy(&plain, p).unwrap();
        convert::encrypt_file(p, &enc).unwrap();
    }
    names
}

fn opens_with(path: &Path, hex: &str) -> bool {
    crypto::check::key_opens(path, &key(hex)).unwrap()
}

/// `rekey` of a set where one file is under a third key refuses the set:
/// no file is rekeyed, nothing changes, the odd file is named.
#[test]
fn rekey_of_a_set_with_a_file_under_a_third_key_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = encrypted_set(dir.path(), 4);
    let odd = &files[2];
    convert::rekey_file(odd, &key(K1), &key(K3), KdfParams::insecure_for_tests()).unwrap();
    let before = snapshot(dir.path());
    let out = run(
        dir.path(),
        &["rekey"],
        &[
            ("ARAGORA_ENCRYPTION_KEY", K1),
            ("ARAGORA_NEW_ENCRYPTION_KEY", K2),
        ],
    );
    assert_refused(
        &out,
        dir.path(),
        &before,
        &[odd],
        "is encrypted under a third key: neither the current key nor the new key opens it",
    );
    assert!(!stdout(&out).contains("rekeyed"), "{}", describe(&out));
    for f in &files {
        assert_eq!(opens_with(f, K1), f != odd, "{}", f.display());
    }
}

/// A rekey interrupted halfway through a set (some files rekeyed, one torn
/// between its two key-slot writes) finishes when the same command runs
/// again: the rekeyed files are reported and skipped, the torn one gets its
/// stale slot replaced, the others are rekeyed. A third run changes nothing.
#[test]
fn rekey_resumed_after_an_interruption_finishes_the_set() {
    let dir = tempfile::tempdir().unwrap();
    let files = encrypted_set(dir.path(), 4);
    let params = KdfParams::insecure_for_tests();
    // Files 0 and 1 were rekeyed before the interruption, and the crash
    // hit file 1 between its two slot writes: rekey writes the second slot
    // first, so the first slot still wraps the data key under the old key.
    let torn = &files[1];
    let old_slot = std::fs::read(torn).unwrap()[..168].to_vec();
    for f in &files[..2] {
        convert::rekey_file(f, &key(K1), &key(K2), params).unwrap();
    }
    let mut img = std::fs::read(torn).unwrap();
    img[..168].copy_from_slice(&old_slot);
    std::fs::write(torn, &img).unwrap();
    assert!(opens_with(torn, K2), "the torn file opens with the new key");

    let env = [
        ("ARAGORA_ENCRYPTION_KEY", K1),
        ("ARAGORA_NEW_ENCRYPTION_KEY", K2),
    ];
    let out = run(dir.path(), &["rekey"], &env);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    let name = |f: &PathBuf| f.display().to_string();
    assert!(
        text.contains(&format!(
            "{}: already rekeyed (the new key opens it), skipped",
            name(&files[0])
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}: already rekeyed (the new key opens it; finished its interrupted key-slot update)",
            name(torn)
        )),
        "{text}"
    );
    for f in &files[2..] {
        assert!(text.contains(&format!("{}: rekeyed", name(f))), "{text}");
    }
    for f in &files {
        assert!(opens_with(f, K2) && !opens_with(f, K1), "{}", f.display());
    }
    let img = std::fs::read(torn).unwrap();
    assert_eq!(img[..168], img[2048..2048 + 168], "stale slot replaced");
    assert_no_converting(dir.path());

    let before = snapshot(dir.path());
    let out = run(dir.path(), &["rekey"], &env);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out).matches("already rekeyed").count(),
        4,
        "{}",
        describe(&out)
    );
    assert_unchanged(dir.path(), &before, "a rekey with nothing left to do");
    // The rekeyed files hold their data.
    let cfg = Config::from_lookup(|k| match k {
        "ARAGORA_DATA_DIR" => Some(dir.path().to_str().unwrap().to_string()),
        "ARAGORA_DB_USERS" => Some(torn.to_str().unwrap().to_string()),
        "ARAGORA_SQLITE_ENCRYPTION" => Some("1".into()),
        "ARAGORA_ENCRYPTION_KEY" => Some(K2.into()),
        _ => None,
    })
    .unwrap();
    let users = UserStore::open(&cfg).unwrap();
    assert!(users.get_user_by_email("m@example.com").unwrap().is_some());
}
