//! `backup` and `restore`: a snapshot taken while a writer keeps writing is
//! consistent and matches its manifest; restore checks before it touches
//! anything, refuses open databases, and gives back exactly the backup.

use super::{cli, populate};
use crate::common::{assert_consistent, data_dir, user};
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::ops::backup::{self, BackupOptions};
use aragora_db::ops::manifest::FILE_NAME;
use aragora_db::ops::restore;
use aragora_db::schema::users::{USERS, User};
use aragora_db::table::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn opts(out: Option<PathBuf>) -> BackupOptions {
    BackupOptions {
        out,
        keep_days: None,
        now: chrono::Utc::now(),
    }
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every raw entry of every declared table of every file, by file name.
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

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn snapshot_under_a_running_writer_is_consistent_and_matches_its_manifest() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 5);
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                db.write(|w| w.insert(&user(&format!("w{n}"), &format!("w{n}@x.io"), None)))
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    // Let the writer get going, then back up twice while it runs.
    while db.read().unwrap().count::<User>().unwrap() < 20 {
        std::thread::yield_now();
    }
    let first = backup::backup(&cfg, &opts(None), &mut |_| {}).unwrap();
    let second = backup::backup(&cfg, &opts(None), &mut |_| {}).unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    drop(db);
    assert!(written > 0);
    assert_ne!(first.dir, second.dir);
    for report in [&first, &second] {
        assert_eq!(report.dir.parent().unwrap(), cfg.data_dir.join("backup"));
        let manifest = restore::verify_backup(&report.dir, None).unwrap();
        assert_eq!(manifest, report.manifest);
        assert!(manifest.files.len() >= 4);
        for f in &manifest.files {
            assert!(f.skipped.is_empty(), "{:?}", f.skipped);
            let path = report.dir.join(&f.file);
            let target = restore::target_path(&cfg, &f.target);
            let tables = aragora_db::schema::tables_in_file(&cfg, &target).unwrap();
            let snap = Database::open_path(&path, tables.clone(), &Default::default()).unwrap();
            assert_consistent(&snap);
            for (def, rows) in snap.table_counts().unwrap() {
                let listed = f.tables.iter().find(|t| t.name == def.name).unwrap();
                assert_eq!(listed.rows, rows, "{} {}", f.file, def.name);
            }
            #[cfg(unix)]
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        #[cfg(unix)]
        {
            assert_eq!(mode(&report.dir), 0o700);
            assert_eq!(mode(&report.dir.join(FILE_NAME)), 0o600);
            assert_eq!(mode(report.dir.parent().unwrap()), 0o700);
        }
    }
    let users_in = |r: &backup::BackupReport| {
        r.manifest
            .files
            .iter()
            .find(|f| f.file == "users.redb")
            .unwrap()
            .tables
            .iter()
            .find(|t| t.name == USERS.name)
            .unwrap()
            .rows
    };
    // The second snapshot saw more of the writer's work than the first.
    assert!(users_in(&second) > users_in(&first));
}

#[test]
fn restore_gives_back_exactly_the_backup() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 4);
    let before = contents(&cfg);
    let out = cfg.data_dir.join("elsewhere");
    let report = backup::backup(&cfg, &opts(Some(out.clone())), &mut |_| {}).unwrap();
    assert!(report.dir.starts_with(&out));
    // Change things after the backup: more rows, fewer rows.
    populate_more(&cfg);
    assert_ne!(contents(&cfg), before);
    let r = restore::restore(&cfg, &report.dir).unwrap();
    assert_eq!(r.restored.len(), report.manifest.files.len());
    assert_eq!(contents(&cfg), before);
    #[cfg(unix)]
    for p in &r.restored {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    // And through the command line.
    populate_more(&cfg);
    let o = cli(&[
        "--data-dir",
        cfg.data_dir.to_str().unwrap(),
        "restore",
        report.dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(contents(&cfg), before);
}

fn populate_more(cfg: &Config) {
    let db = Database::open(cfg, DbTarget::Store(Store::Users)).unwrap();
    db.write(|w| w.insert(&user("late", "late@x.io", None)))
        .unwrap();
    let links = aragora_db::store::ShareLinkStore::open(cfg).unwrap();
    links.delete("d1").unwrap();
}

#[test]
fn restore_refuses_a_tampered_backup_and_touches_nothing() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 3);
    let report = backup::backup(&cfg, &opts(None), &mut |_| {}).unwrap();
    populate_more(&cfg);
    let live = contents(&cfg);
    // Change one row in the backup's users file (a valid redb write).
    let file = report.dir.join("users.redb");
    super::raw_edit(&file, "users", |t| {
        t.insert(b"\x00zz".as_slice(), b"x".as_slice()).unwrap();
    });
    let err = restore::restore(&cfg, &report.dir).unwrap_err().to_string();
    assert!(err.contains("users") && err.contains("manifest"), "{err}");
    assert_eq!(contents(&cfg), live);
    // A manifest that points outside the data directory is refused too.
    let m = report.dir.join(FILE_NAME);
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(
        &m,
        text.replacen(
            "\"target\": \"users.redb\"",
            "\"target\": \"../users.redb\"",
            1,
        ),
    )
    .unwrap();
    let err = restore::restore(&cfg, &report.dir).unwrap_err().to_string();
    assert!(err.contains("../users.redb"), "{err}");
    assert_eq!(contents(&cfg), live);
}

#[test]
fn restore_refuses_while_a_database_is_open() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 2);
    let report = backup::backup(&cfg, &opts(None), &mut |_| {}).unwrap();
    // Open in this process.
    {
        let _db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        let err = restore::restore(&cfg, &report.dir).unwrap_err().to_string();
        assert!(err.contains("users.redb") && err.contains("open"), "{err}");
    }
    // Held by another process.
    let ready = cfg.data_dir.join("ready");
    let mut holder = spawn_holder(&cfg.data_dir, &ready);
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child never opened"
        );
        assert!(holder.0.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = cli(&[
        "--data-dir",
        cfg.data_dir.to_str().unwrap(),
        "restore",
        report.dir.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("users.redb") && err.contains("another process"),
        "{err}"
    );
    drop(holder);
    assert!(restore::restore(&cfg, &report.dir).is_ok());
}

pub(super) struct KillOnDrop(pub(super) Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Re-runs this test binary's `process::child_holds_database`, which opens
/// users.redb in `data` and holds it until killed.
pub(super) fn spawn_holder(data: &Path, ready: &Path) -> KillOnDrop {
    let child = Command::new(std::env::current_exe().unwrap())
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
        .unwrap();
    KillOnDrop(child)
}

#[test]
fn old_backups_are_pruned_and_nothing_else() {
    let (_d, cfg) = data_dir();
    populate(&cfg, 1);
    let base = cfg.data_dir.join("backup");
    let now = chrono::Utc::now();
    let old = backup::backup(
        &cfg,
        &BackupOptions {
            out: None,
            keep_days: None,
            now: now - chrono::Duration::days(10),
        },
        &mut |_| {},
    )
    .unwrap();
    let recent = backup::backup(
        &cfg,
        &BackupOptions {
            out: None,
            keep_days: None,
            now: now - chrono::Duration::days(2),
        },
        &mut |_| {},
    )
    .unwrap();
    let unrelated = base.join("20000101_000000");
    std::fs::create_dir_all(&unrelated).unwrap(); // old name, but no manifest
    let fresh = backup::backup(
        &cfg,
        &BackupOptions {
            out: None,
            keep_days: Some(7),
            now,
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(fresh.pruned, vec![old.dir.clone()]);
    assert!(!old.dir.exists() && recent.dir.exists() && fresh.dir.exists());
    assert!(unrelated.exists());
}

#[test]
fn a_failed_backup_leaves_nothing_behind() {
    let (_d, mut cfg) = data_dir();
    populate(&cfg, 1);
    let ready = cfg.data_dir.join("ready");
    let mut holder = spawn_holder(&cfg.data_dir, &ready);
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child never opened"
        );
        assert!(holder.0.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    cfg.timeout = Duration::from_millis(300);
    let err = backup::backup(&cfg, &opts(None), &mut |_| {}).unwrap_err();
    assert!(matches!(err, aragora_db::Error::Locked { .. }), "{err}");
    drop(holder);
    let left: Vec<_> = std::fs::read_dir(cfg.data_dir.join("backup"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
