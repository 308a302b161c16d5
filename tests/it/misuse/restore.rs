//! Misuse cases: see `super`. `restore` given an edited manifest (absolute
//! or `..` targets, a target directory that is a symbolic link leading out
//! of the data directory, a target listed twice, a tampered digest, a
//! snapshot missing, a manifest that is not JSON), a database another
//! process holds, and a swap interrupted after each of its steps.

use super::{assert_unchanged, describe, snapshot};
use crate::common::{cli_env, user};
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::ops::backup::{self, BackupOptions};
use aragora_db::ops::manifest::FILE_NAME;
use aragora_db::ops::restore::{self, Recovery, RestoreOptions, Step};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A data directory with a backup of it (outside it, in `ROOT/backups`)
/// and changes made after the backup, so a restore changes something.
struct Setup {
    root: TempDir,
    cfg: Config,
    backup: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let root = tempfile::tempdir().unwrap();
        let cfg = Config::for_dir(root.path().join("data"));
        crate::ops::populate(&cfg, 3);
        let report = backup::backup(
            &cfg,
            &BackupOptions {
                out: Some(root.path().join("backups")),
                keep_days: None,
                now: chrono::Utc::now(),
            },
            &mut |_| {},
        )
        .unwrap();
        // After the backup: one more user, one share link fewer.
        let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        db.write(|w| w.insert(&user("late", "late@x.io", None)))
            .unwrap();
        drop(db);
        aragora_db::store::ShareLinkStore::open(&cfg)
            .unwrap()
            .delete("d1")
            .unwrap();
        Setup {
            root,
            cfg,
            backup: report.dir,
        }
    }

    fn data(&self) -> &Path {
        &self.cfg.data_dir
    }

    fn manifest(&self) -> PathBuf {
        self.backup.join(FILE_NAME)
    }

    /// `aragora-db --data-dir DATA restore ARGS...`
    fn restore(&self, args: &[&str]) -> Output {
        let mut a = vec!["--data-dir", self.data().to_str().unwrap(), "restore"];
        a.extend_from_slice(args);
        cli_env(&a, &[])
    }

    fn edit_manifest(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.manifest()).unwrap()).unwrap();
        f(&mut m);
        std::fs::write(self.manifest(), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }

    /// The index of the manifest entry whose target is `target`.
    fn entry(&self, target: &str) -> usize {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.manifest()).unwrap()).unwrap();
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .position(|f| f["target"] == target)
            .unwrap()
    }
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every raw entry of every declared table of every database file.
fn contents(cfg: &Config) -> Vec<(String, String, Entries)> {
    let mut out = Vec::new();
    for set in aragora_db::ops::files(cfg).unwrap() {
        if !set.path.exists() {
            continue;
        }
        let db = Database::open_path(&set.path, set.tables.clone(), &Default::default()).unwrap();
        let r = db.read().unwrap();
        for def in &set.tables {
            let t = r.raw_table(def.name).unwrap();
            let mut rows = Vec::new();
            for e in redb::ReadableTable::iter(&t).unwrap() {
                let (k, v) = e.unwrap();
                rows.push((k.value().to_vec(), v.value().to_vec()));
            }
            out.push((set.path.display().to_string(), def.name.to_string(), rows));
        }
    }
    out
}

/// Runs a restore that must be refused: exit 1, stderr naming the
/// manifest and each of `names`, the data directory untouched.
#[track_caller]
fn refused(s: &Setup, names: &[&str], what: &str) -> String {
    let before = snapshot(s.data());
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{what}: {}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains(s.manifest().to_str().unwrap()),
        "{what}: the error does not name the manifest: {err}"
    );
    for n in names {
        assert!(
            err.contains(n),
            "{what}: the error does not say {n:?}: {err}"
        );
    }
    assert_unchanged(s.data(), &before, what);
    err
}

#[test]
fn an_absolute_target_is_refused_and_nothing_is_written_outside() {
    let s = Setup::new();
    let outside = s.root.path().join("outside").join("users.redb");
    let i = s.entry("users.redb");
    s.edit_manifest(|m| m["files"][i]["target"] = outside.to_str().unwrap().into());
    refused(
        &s,
        &[
            &format!("files[{i}]"),
            "absolute",
            outside.to_str().unwrap(),
        ],
        "absolute target",
    );
    assert!(!outside.exists() && !outside.parent().unwrap().exists());
}

#[test]
fn a_dotdot_target_is_refused_and_nothing_is_written_outside() {
    let s = Setup::new();
    let i = s.entry("users.redb");
    s.edit_manifest(|m| m["files"][i]["target"] = "../escaped.redb".into());
    refused(
        &s,
        &[&format!("files[{i}]"), "../escaped.redb", "'..'"],
        "../ target",
    );
    assert!(!s.root.path().join("escaped.redb").exists());
    // Hidden in the middle of the path too.
    s.edit_manifest(|m| m["files"][i]["target"] = "sub/../../escaped.redb".into());
    refused(&s, &[&format!("files[{i}]"), "'..'"], "a/../../ target");
    assert!(!s.root.path().join("escaped.redb").exists());
}

#[cfg(unix)]
#[test]
fn a_target_directory_linked_outside_the_data_directory_is_refused() {
    let s = Setup::new();
    let elsewhere = s.root.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.data().join("linked")).unwrap();
    let i = s.entry("users.redb");
    s.edit_manifest(|m| m["files"][i]["target"] = "linked/users.redb".into());
    refused(
        &s,
        &[&format!("files[{i}]"), "outside the data directory"],
        "symlinked target directory",
    );
    assert!(!elsewhere.join("users.redb").exists());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // A link deeper down, below a directory that does not exist yet, is
    // found the same way (the deepest existing ancestor is resolved).
    s.edit_manifest(|m| m["files"][i]["target"] = "linked/new/users.redb".into());
    refused(
        &s,
        &[&format!("files[{i}]"), "outside the data directory"],
        "symlinked ancestor",
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // A dangling link on the way is refused too (creating the directory
    // through it would lead outside).
    let missing = s.root.path().join("missing");
    std::os::unix::fs::symlink(missing.join("dir"), s.data().join("dangling")).unwrap();
    s.edit_manifest(|m| m["files"][i]["target"] = "dangling/users.redb".into());
    refused(
        &s,
        &[&format!("files[{i}]"), "cannot be resolved"],
        "dangling symlinked directory",
    );
    assert!(!missing.exists());
    // A target that is itself a link is refused: replacing it would
    // change the set-up.
    s.edit_manifest(|m| m["files"][i]["target"] = "users.redb".into());
    let real = s.data().join("users.redb");
    let moved = elsewhere.join("real-users.redb");
    std::fs::rename(&real, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &real).unwrap();
    let before_moved = std::fs::read(&moved).unwrap();
    refused(
        &s,
        &[&format!("files[{i}]"), "symbolic link"],
        "symlinked target",
    );
    assert_eq!(std::fs::read(&moved).unwrap(), before_moved);
}

#[test]
fn a_target_listed_twice_is_refused() {
    let s = Setup::new();
    let i = s.entry("users.redb");
    let j = usize::from(i == 0); // another entry
    s.edit_manifest(|m| m["files"][j]["target"] = "users.redb".into());
    refused(
        &s,
        &[
            &format!("files[{j}]"),
            &format!("files[{i}]"),
            "listed twice",
        ],
        "duplicate target",
    );
    // Other spellings of the same file (`.` components, empty names) are
    // refused as such.
    s.edit_manifest(|m| m["files"][j]["target"] = ".//users.redb".into());
    refused(
        &s,
        &[&format!("files[{j}]")],
        "duplicate target, other spelling",
    );
    #[cfg(unix)]
    {
        // Through a link that stays inside the data directory.
        std::os::unix::fs::symlink(s.data(), s.data().join("alias")).unwrap();
        s.edit_manifest(|m| m["files"][j]["target"] = "alias/users.redb".into());
        refused(
            &s,
            &[&format!("files[{j}]"), &format!("files[{i}]"), "same file"],
            "duplicate target through a link",
        );
    }
}

#[test]
fn a_tampered_digest_is_refused() {
    let s = Setup::new();
    let i = s.entry("users.redb");
    s.edit_manifest(|m| {
        let tables = m["files"][i]["tables"].as_array_mut().unwrap();
        let t = tables.iter_mut().find(|t| t["name"] == "users").unwrap();
        t["crc32"] = (t["crc32"].as_u64().unwrap() ^ 1).into();
    });
    refused(
        &s,
        &[&format!("files[{i}]"), "table users", "does not match"],
        "tampered digest",
    );
}

#[test]
fn a_snapshot_missing_from_the_backup_is_refused() {
    let s = Setup::new();
    let i = s.entry("users.redb");
    std::fs::remove_file(s.backup.join("users.redb")).unwrap();
    refused(&s, &[&format!("files[{i}]"), "missing"], "missing snapshot");
}

#[test]
fn a_snapshot_of_another_size_is_refused() {
    let s = Setup::new();
    let i = s.entry("users.redb");
    s.edit_manifest(|m| {
        m["files"][i]["bytes"] = (m["files"][i]["bytes"].as_u64().unwrap() + 1).into()
    });
    refused(&s, &[&format!("files[{i}]"), "bytes"], "wrong size");
}

#[test]
fn a_manifest_that_is_not_json_is_refused() {
    let s = Setup::new();
    std::fs::write(s.manifest(), b"{ this is not json").unwrap();
    refused(&s, &["not a backup manifest"], "manifest not JSON");
}

/// A child process (this test binary's `process::child_holds_database`)
/// that opens `users.redb` in `data` and holds it until killed.
struct Holder(Child);

impl Holder {
    fn spawn(data: &Path, ready: &Path) -> Holder {
        let mut child = Holder(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "process::child_holds_database",
                    "--exact",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env("ARAGORA_TEST_HOLD", data)
                .env("ARAGORA_TEST_READY", ready)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "child never opened"
            );
            assert!(child.0.try_wait().unwrap().is_none(), "child exited early");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_database_another_process_holds_is_refused_without_touching_any_file() {
    let s = Setup::new();
    let ready = s.root.path().join("ready");
    let holder = Holder::spawn(s.data(), &ready);
    let before = snapshot(s.data());
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("users.redb") && err.contains("another process"),
        "{err}"
    );
    // The check wrote nothing: not to the held file, nor to the others it
    // looked at.
    assert_unchanged(s.data(), &before, "restore refused for a held database");
    drop(holder);
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
}

/// The line `safety copy of the files replaced: DIR (…)` of a restore.
fn safety_dir(o: &Output) -> PathBuf {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("safety copy of the files replaced: "))
        .unwrap_or_else(|| panic!("no safety copy line:\n{out}"));
    PathBuf::from(line.rsplit_once(" (").unwrap().0)
}

#[test]
fn a_restore_keeps_a_safety_copy_that_restores_back() {
    let s = Setup::new();
    let before = contents(&s.cfg);
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    let restored = contents(&s.cfg);
    assert_ne!(restored, before);
    let copy = safety_dir(&o);
    assert_eq!(copy.parent().unwrap(), s.data().join("backup"));
    assert!(
        copy.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("pre-restore-"),
        "{}",
        copy.display()
    );
    assert!(copy.join(FILE_NAME).is_file());
    // The safety copy is a backup: restoring it gives back the data as it
    // was before the restore.
    let o = s.restore(&[copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(contents(&s.cfg), before);
    // And restoring the backup again gives its data; without a safety copy
    // when asked.
    let copies = |s: &Setup| {
        std::fs::read_dir(s.data().join("backup"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("pre-restore-")
            })
            .count()
    };
    let n = copies(&s);
    let o = s.restore(&["--no-safety-copy", s.backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("safety copy"));
    assert_eq!(copies(&s), n);
    assert_eq!(contents(&s.cfg), restored);
}

/// Names left in the data directory by the swap: staged files, journal.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".restore-new") || n.starts_with(".restore-journal")
        })
        .collect()
}

#[test]
fn an_interrupted_swap_recovers_to_all_old_or_all_new() {
    // The number of files, from one setup.
    let n = {
        let s = Setup::new();
        restore::verify_backup(&s.backup, None).unwrap().files.len()
    };
    assert!(n >= 3, "{n}");
    let steps = [
        (Step::JournalStaging, false),
        (Step::Staged(1), false),
        (Step::Staged(n - 1), false),
        (Step::Staged(n), false),
        (Step::JournalSwapping, true),
        (Step::Renamed(1), true),
        (Step::Renamed(n - 1), true),
        (Step::Renamed(n), true),
    ];
    for (k, (step, forward)) in steps.into_iter().enumerate() {
        let s = Setup::new();
        let old = contents(&s.cfg);
        let opts = RestoreOptions {
            no_safety_copy: false,
            stop_after: Some(step),
        };
        let err = restore::restore_with(&s.cfg, &s.backup, &opts).unwrap_err();
        assert!(err.to_string().contains("test hook"), "{step:?}: {err}");
        assert!(
            s.data().join(restore::JOURNAL).exists() && restore::interrupted(&s.cfg).is_some(),
            "{step:?}: no journal"
        );
        // Recovery: by `restore --recover` for some steps, by the next
        // restore (of another backup: the safety copy) for the others.
        if k % 2 == 0 {
            let o = s.restore(&["--recover"]);
            assert!(o.status.success(), "{step:?}: {}", describe(&o));
            let said = String::from_utf8_lossy(&o.stdout);
            let expect = if forward { "completed" } else { "rolled back" };
            assert!(said.contains(expect), "{step:?}: {said}");
            let want = if forward {
                restore_new(&s)
            } else {
                old.clone()
            };
            assert_eq!(contents(&s.cfg), want, "{step:?}: not all old or all new");
            // Nothing left to recover.
            let o = s.restore(&["--recover"]);
            assert!(o.status.success(), "{step:?}: {}", describe(&o));
            assert!(String::from_utf8_lossy(&o.stdout).contains("no interrupted restore"));
        } else {
            let r = restore::recover(&s.cfg).unwrap();
            match (&r, forward) {
                (Some(Recovery::RolledForward(f)), true) => assert_eq!(f.len(), n),
                (Some(Recovery::RolledBack(_)), false) => {}
                _ => panic!("{step:?}: {r:?}"),
            }
            let want = if forward {
                restore_new(&s)
            } else {
                old.clone()
            };
            assert_eq!(contents(&s.cfg), want, "{step:?}: not all old or all new");
        }
        assert!(
            leftovers(s.data()).is_empty(),
            "{step:?}: {:?}",
            leftovers(s.data())
        );
        assert_eq!(restore::interrupted(&s.cfg), None, "{step:?}");
    }
}

/// The contents of the backup (a fresh data directory restored from it).
fn restore_new(s: &Setup) -> Vec<(String, String, Entries)> {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = s.cfg.clone();
    cfg.data_dir = dir.path().join("data");
    restore::restore(&cfg, &s.backup).unwrap();
    let mut c = contents(&cfg);
    // Same files, named under the data directory of `s`.
    for e in &mut c {
        e.0 =
            e.0.replace(cfg.data_dir.to_str().unwrap(), s.data().to_str().unwrap());
    }
    c
}

#[test]
fn a_restore_completes_an_interrupted_one_first() {
    let s = Setup::new();
    let opts = RestoreOptions {
        no_safety_copy: true,
        stop_after: Some(Step::Renamed(1)),
    };
    restore::restore_with(&s.cfg, &s.backup, &opts).unwrap_err();
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("interrupted restore was completed"),
        "{}",
        describe(&o)
    );
    assert_eq!(contents(&s.cfg), restore_new(&s));
    assert!(leftovers(s.data()).is_empty());
}

#[test]
fn a_journal_whose_staged_file_changed_is_refused_and_nothing_moves() {
    let s = Setup::new();
    let opts = RestoreOptions {
        no_safety_copy: true,
        stop_after: Some(Step::JournalSwapping),
    };
    restore::restore_with(&s.cfg, &s.backup, &opts).unwrap_err();
    let staged = s.data().join(".users.redb.restore-new");
    let mut bytes = std::fs::read(&staged).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&staged, bytes).unwrap();
    let before = snapshot(s.data());
    let o = s.restore(&["--recover"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(restore::JOURNAL) && err.contains("users.redb") && err.contains("entries["),
        "{err}"
    );
    assert_unchanged(s.data(), &before, "recovery refused");
    // A journal that is not one is refused the same way.
    std::fs::write(s.data().join(restore::JOURNAL), b"garbage").unwrap();
    let before = snapshot(s.data());
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a restore journal"));
    assert_unchanged(s.data(), &before, "garbage journal");
}

#[test]
fn a_damaged_target_is_replaced_and_kept_byte_for_byte_in_the_safety_copy() {
    let s = Setup::new();
    let damaged = b"not a redb file at all".repeat(100);
    std::fs::write(s.data().join("users.redb"), &damaged).unwrap();
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("not restorable"),
        "{}",
        describe(&o)
    );
    let copy = safety_dir(&o);
    assert_eq!(
        std::fs::read(copy.join("unreadable").join("users.redb")).unwrap(),
        damaged
    );
    // The readable files of the copy form a backup restore accepts.
    let m = restore::verify_backup(&copy, None).unwrap();
    assert!(m.files.iter().all(|f| f.target != "users.redb"));
    assert!(!m.files.is_empty());
    assert_eq!(contents(&s.cfg), restore_new(&s));
}

#[cfg(unix)]
#[test]
fn a_snapshot_linked_from_outside_the_backup_is_refused() {
    let s = Setup::new();
    let i = s.entry("users.redb");
    // A valid snapshot, but outside the backup directory, linked in.
    let outside = s.root.path().join("outside-users.redb");
    std::fs::rename(s.backup.join("users.redb"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, s.backup.join("users.redb")).unwrap();
    refused(
        &s,
        &[&format!("files[{i}]"), "outside the backup directory"],
        "snapshot linked from outside",
    );
}

#[test]
fn a_safety_copy_a_crash_left_half_written_is_removed_by_recovery() {
    let s = Setup::new();
    let partial = s
        .data()
        .join("backup")
        .join(".pre-restore-20260101_000000.partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("users.redb"), b"half").unwrap();
    // Not what restore names it: kept.
    let other = s.data().join("backup").join(".20260101_000000.partial");
    std::fs::create_dir_all(&other).unwrap();
    let o = s.restore(&["--recover"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(!partial.exists());
    assert!(other.exists());
}

#[test]
fn a_second_restore_of_the_same_data_directory_is_refused() {
    let s = Setup::new();
    // What a running restore holds: the data directory's flock.
    let dir = std::fs::File::open(s.data()).unwrap();
    dir.try_lock().unwrap();
    let before = snapshot(s.data());
    for args in [vec![s.backup.to_str().unwrap()], vec!["--recover"]] {
        let o = s.restore(&args);
        assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("another restore is running"),
            "{}",
            describe(&o)
        );
    }
    assert_unchanged(s.data(), &before, "restore while another runs");
    drop(dir);
    let o = s.restore(&[s.backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
}

#[test]
fn a_lock_released_moments_later_is_waited_for_not_refused() {
    // A child forked by another thread keeps this process's just-released
    // flock alive until it reaches exec; a restore right after another one
    // must wait that out, not report "another restore is running".
    let s = Setup::new();
    let dir = std::fs::File::open(s.data()).unwrap();
    dir.try_lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(dir);
    });
    let done = restore::restore(&s.cfg, &s.backup);
    release.join().unwrap();
    done.unwrap();
    assert_eq!(contents(&s.cfg), restore_new(&s));
}
