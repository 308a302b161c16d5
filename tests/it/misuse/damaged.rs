//! Misuse cases: see `super`. A damaged database file never blocks the
//! others: `status`, `backup`, `export` and `verify` name it once with a
//! plain reason, point to `salvage`, go on with every healthy file, exit 1,
//! and leave the data directory as it was.

use super::{assert_unchanged, describe, snapshot};
use crate::common::cli_env;
use std::path::{Path, PathBuf};
use std::process::Output;

fn run(data: &Path, args: &[&str]) -> Output {
    cli_env(args, &[("ARAGORA_DATA_DIR", data.to_str().unwrap())])
}

/// A populated data directory with `users.redb` truncated and one bit
/// flipped in every page of `audit.redb` after its header.
fn damaged_dir(root: &Path) -> PathBuf {
    let data = root.join("data");
    let out = run(&data, &["demo"]);
    assert!(out.status.success(), "demo: {}", describe(&out));
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy-nomic");
    let out = run(&data, &["import", "--source", fixture]);
    assert!(out.status.success(), "import: {}", describe(&out));

    let users = std::fs::OpenOptions::new()
        .write(true)
        .open(data.join("users.redb"))
        .unwrap();
    users.set_len(5000).unwrap();
    drop(users);

    let audit = data.join("audit.redb");
    let mut bytes = std::fs::read(&audit).unwrap();
    let pages = bytes.len() / 4096;
    for p in 1..pages {
        bytes[p * 4096 + (p * 13) % 64] ^= 1 << (p % 8);
    }
    std::fs::write(&audit, bytes).unwrap();
    data
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The damaged files are each reported once, as damaged, with the salvage
/// command; no raw redb type message leaks out.
fn assert_reports_damage(data: &Path, args: &[&str], o: &Output) {
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", describe(o));
    let t = text(o);
    for name in ["users.redb", "audit.redb"] {
        let reports = t
            .lines()
            .filter(|l| l.contains(name) && l.contains("damaged"))
            .count();
        assert_eq!(
            reports,
            1,
            "{args:?}: {name} reported once: {}",
            describe(o)
        );
        let advice = format!("aragora-db salvage {} --out NEW", data.join(name).display());
        assert!(t.contains(&advice), "{args:?}: {advice}: {}", describe(o));
    }
    assert!(!t.contains("has key type"), "{args:?}: {}", describe(o));
    assert!(!t.contains("panicked at"), "{args:?}: {}", describe(o));
}

#[test]
fn status_lists_healthy_files_and_names_damaged_ones() {
    let root = tempfile::tempdir().unwrap();
    let data = damaged_dir(root.path());
    let before = snapshot(&data);

    let o = run(&data, &["status"]);
    assert_reports_damage(&data, &["status"], &o);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("agent_elo.redb"), "{}", describe(&o));
    assert!(t.contains("ratings"), "{}", describe(&o));
    assert!(t.contains("webhook_events.redb"), "{}", describe(&o));
    assert_unchanged(&data, &before, "status");

    let o = run(&data, &["status", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let bad = v["unreadable"].as_array().unwrap();
    assert_eq!(bad.len(), 2, "{v}");
    for b in bad {
        assert_eq!(b["trouble"], "damaged", "{b}");
        assert!(
            b["reason"].as_str().unwrap().starts_with("damaged: "),
            "{b}"
        );
        assert!(b["salvage"].as_str().unwrap().contains("salvage"), "{b}");
    }
    let healthy = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "ok")
        .count();
    assert!(healthy > 10, "{v}");
    assert_unchanged(&data, &before, "status --json");
}

#[test]
fn backup_export_and_verify_go_on_past_damaged_files() {
    let root = tempfile::tempdir().unwrap();
    let data = damaged_dir(root.path());
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let before = snapshot(&data);

    let bk = out.join("bk");
    let args = ["backup", "--out", bk.to_str().unwrap()];
    let o = run(&data, &args);
    assert_reports_damage(&data, &args, &o);
    let made: Vec<PathBuf> = std::fs::read_dir(&bk)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].join("agent_elo.redb").is_file());
    assert!(made[0].join("manifest.json").is_file());
    assert!(!made[0].join("users.redb").exists());
    assert_unchanged(&data, &before, "backup");

    let sql = out.join("x.sql");
    let args = [
        "export",
        "--format",
        "postgres",
        "--out",
        sql.to_str().unwrap(),
    ];
    let o = run(&data, &args);
    assert_reports_damage(&data, &args, &o);
    let script = std::fs::read_to_string(&sql).unwrap();
    assert!(script.contains("ratings"), "healthy tables exported");
    assert_unchanged(&data, &before, "export");

    let o = run(&data, &["verify"]);
    assert_reports_damage(&data, &["verify"], &o);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.lines()
            .any(|l| l.contains("agent_elo.redb") && l.contains("integrity ok")),
        "{}",
        describe(&o)
    );
    assert_unchanged(&data, &before, "verify");

    let o = run(&data, &["verify", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let with_salvage: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["salvage"].is_string())
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(with_salvage.len(), 2, "{with_salvage:?}");
    assert_unchanged(&data, &before, "verify --json");
}
