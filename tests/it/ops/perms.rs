//! R21: everything the binary creates (databases, temporaries, backups,
//! exports, conversion and salvage outputs, directories) is 0600 / 0700
//! whatever the umask; existing files and directories keep their mode; and
//! leftovers of killed creators are cleaned up.

use aragora_db::config::Config;
use aragora_db::store::UserStore;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HEX: &str = "5a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70717273747576777879";

/// The binary run by `sh` under `umask`, with a clean environment plus `env`.
fn run(umask: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_aragora-db"))
        .args(args);
    crate::common::clean_env(&mut c);
    c.envs(env.iter().copied());
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "umask {umask} {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every path under `root` (not `root` itself) with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), m.permissions().mode() & 0o7777, m.is_dir()));
        if m.is_dir() {
            out.extend(modes(&p));
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn every_operation_creates_private_paths(umask: &str) {
    // The umask is in force: the shell's own file gets the umask's mode.
    let control = tempfile::tempdir().unwrap();
    let f = control.path().join("f");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; : > \"$0\""))
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        mode(&f),
        0o666 & !u32::from_str_radix(umask, 8).unwrap(),
        "umask {umask}"
    );

    let root = tempfile::tempdir().unwrap();
    let r = |p: &str| root.path().join(p).to_str().unwrap().to_string();
    let data = r("data/deep");
    let key = [("ARAGORA_ENCRYPTION_KEY", HEX)];
    let on = [
        ("ARAGORA_SQLITE_ENCRYPTION", "1"),
        ("ARAGORA_ENCRYPTION_KEY", HEX),
    ];
    let d = |args: &[&str]| {
        let mut v = vec!["--data-dir", data.as_str()];
        v.extend_from_slice(args);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let go = |args: Vec<String>, env: &[(&str, &str)]| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run(umask, &a, env)
    };
    // A fresh store (new data directory and its parent).
    go(d(&["demo"]), &[]);
    // Conversions: `<file>.converting` and the file renamed over the original.
    go(d(&["encrypt"]), &key);
    go(d(&["verify"]), &on);
    go(d(&["backup", "--out", &r("backups")]), &on);
    let stamp = std::fs::read_dir(root.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    go(d(&["restore", stamp.to_str().unwrap()]), &on);
    go(
        d(&[
            "salvage",
            &format!("{data}/users.redb"),
            "--out",
            &r("salvaged/a/users.redb"),
        ]),
        &on,
    );
    go(
        d(&["consolidate", "--migrate", "--target", &r("cons")]),
        &on,
    );
    go(d(&["decrypt"]), &key);
    go(
        d(&["export", "--format", "postgres", "--out", &r("export.sql")]),
        &[],
    );
    go(
        d(&["export", "--format", "supabase", "--out", &r("supa/x")]),
        &[],
    );
    if let Some(src) = crate::import::fixture() {
        let src = src.to_str().unwrap();
        let imported = r("imported/new");
        run(
            umask,
            &["--data-dir", &imported, "import", "--source", src],
            &[],
        );
    }
    let found = modes(root.path());
    assert!(found.len() > 20, "{found:#?}");
    for name in ["users.redb", "export.sql", "manifest.json"] {
        assert!(
            found.iter().any(|(p, _, _)| p.ends_with(name)),
            "no {name} in {found:#?}"
        );
    }
    let wrong: Vec<_> = found
        .iter()
        .filter(|(_, m, dir)| *m != if *dir { 0o700 } else { 0o600 })
        .map(|(p, m, _)| format!("{:o} {}", m, p.display()))
        .collect();
    assert!(wrong.is_empty(), "umask {umask}: {wrong:#?}");
}

#[test]
fn every_operation_creates_private_paths_under_umask_000() {
    every_operation_creates_private_paths("000");
}

#[test]
fn every_operation_creates_private_paths_under_umask_022() {
    every_operation_creates_private_paths("022");
}

#[test]
fn existing_files_and_directories_keep_their_mode() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    UserStore::open(&Config::for_dir(&data))
        .unwrap()
        .create_user("a@b.io", "h", "", "A", None, "member")
        .unwrap();
    let users = data.join("users.redb");
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
    for args in [&["cleanup"][..], &["verify"], &["status"]] {
        let mut a = vec!["--data-dir", data.to_str().unwrap()];
        a.extend_from_slice(args);
        run("000", &a, &[]);
    }
    assert_eq!(mode(&users), 0o640);
    assert_eq!(mode(&data), 0o750);
    // The files the operations created beside it are private.
    for (p, m, dir) in modes(&data) {
        if p != users {
            assert_eq!(m, if dir { 0o700 } else { 0o600 }, "{}", p.display());
        }
    }
}

#[test]
fn leftovers_of_killed_creators_are_removed_and_live_ones_kept() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(root.path());
    // A pid that no longer runs: a child that has exited and been reaped.
    let dead = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    assert!(!Path::new(&format!("/proc/{dead}")).exists());
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let make = |pid: u32, aged: bool| {
        let p = root.path().join(format!(".users.redb.creating-{pid}"));
        let f = std::fs::File::create(&p).unwrap();
        if aged {
            f.set_modified(old).unwrap();
        }
        p
    };
    // A process that runs for the whole test.
    let mut live = Command::new("sleep").arg("60").spawn().unwrap();
    let stale = make(dead, true);
    let recent = make(dead + 1_000_000, false);
    let alive = make(live.id(), true);
    let other = root.path().join(format!(".audit.redb.creating-{dead}"));
    std::fs::File::create(&other)
        .unwrap()
        .set_modified(old)
        .unwrap();
    UserStore::open(&cfg).unwrap();
    assert!(!stale.exists(), "a killed creator's file is left");
    assert!(recent.exists(), "a recent file was removed");
    assert!(alive.exists(), "a running creator's file was removed");
    assert!(other.exists(), "another file's leftover was touched");
    live.kill().unwrap();
    live.wait().unwrap();
}
