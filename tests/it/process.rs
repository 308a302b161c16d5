//! A database held by another process gives a clear error after DB_TIMEOUT.
//!
//! The test re-runs this test binary as the child, selecting the ignored
//! `child_holds_database` test with `ARAGORA_TEST_HOLD` set.

use aragora_db::config::{DbTarget, Store};
use aragora_db::table::Read;
use aragora_db::{Database, Error};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_holder(data: &std::path::Path, ready: &std::path::Path) -> KillOnDrop {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([
            "process::child_holds_database",
            "--exact",
            "--ignored",
            "--nocapture",
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
fn held_database_times_out_with_clear_error_then_opens_after_release() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let data = dir.path().join("data");
    let mut holder = spawn_holder(&data, &ready);
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child never opened the database"
        );
        if let Some(status) = holder.0.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut cfg = aragora_db::config::Config::for_dir(&data);
    cfg.timeout = Duration::from_millis(300);
    let err = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap_err();
    match &err {
        Error::Locked { path, waited } => {
            assert!(path.ends_with("users.redb"), "{}", path.display());
            assert!(*waited >= cfg.timeout);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("users.redb") && msg.contains("DB_TIMEOUT"),
        "{msg}"
    );
    drop(holder);
    // Once the holder is gone the file opens and its data is intact.
    cfg.timeout = Duration::from_secs(10);
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let u: Option<aragora_db::schema::users::User> = db.read().unwrap().get("held").unwrap();
    assert_eq!(u.unwrap().email, "held@x.io");
}

#[test]
#[ignore = "run as a child process by held_database_times_out_with_clear_error_then_opens_after_release"]
fn child_holds_database() {
    let Some(data) = std::env::var_os("ARAGORA_TEST_HOLD") else {
        return;
    };
    let ready = PathBuf::from(std::env::var_os("ARAGORA_TEST_READY").unwrap());
    let cfg = aragora_db::config::Config::for_dir(PathBuf::from(data));
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    db.write(|w| w.insert(&crate::common::user("held", "held@x.io", None)))
        .unwrap();
    std::fs::write(&ready, b"1").unwrap();
    // Hold the lock until killed (bounded, so an orphan cannot live forever).
    std::thread::sleep(Duration::from_secs(120));
}
