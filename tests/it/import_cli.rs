//! `aragora-db import` as a user runs it: report, JSON, exit codes, and a
//! writer killed at random moments.

use super::import::{fixture, hashes};
use crate::common::bin;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn import_verify_json_reports_every_table_and_no_progress_bar_off_a_terminal() {
    let Some(src) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["import", "--verify", "--json", "--source"])
        .arg(src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr is not a terminal, so no progress: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verify"]["mismatch_count"], 0);
    let tables = v["import"]["tables"].as_array().unwrap();
    assert!(tables.len() > 50);
    for t in tables {
        for k in [
            "file",
            "table",
            "read",
            "imported",
            "already_present",
            "rejected",
            "millis",
        ] {
            assert!(!t[k].is_null(), "{k} missing in {t}");
        }
    }

    let text = bin()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["import", "--source"])
        .arg(src)
        .output()
        .unwrap();
    assert!(text.status.success());
    let s = String::from_utf8(text.stdout).unwrap();
    assert!(s.contains("agent_elo.db") && s.contains("total"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.starts_with("total") && l.contains(" 0 ")),
        "second run imports nothing: {s}"
    );
}

#[test]
fn bad_usage_and_a_missing_source_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["import", "--dry-run", "--verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["import", "--source", "/nonexistent/nomic"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/nomic"), "{err}");
}

#[test]
fn an_import_killed_at_random_moments_commits_whole_files_or_nothing() {
    let Some(src) = fixture() else { return };
    let before = hashes(src);
    let tmp = tempfile::tempdir().unwrap();
    let mut seed = 0x9e37_79b9_u64;
    for _ in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = bin()
            .arg("--data-dir")
            .arg(tmp.path())
            .args(["import", "--source"])
            .arg(src)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(seed % 400));
        let _ = child.kill();
        let _ = child.wait();
    }
    // Whatever was committed, a final run completes it and every row checks out.
    let out = bin()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["import", "--verify", "--json", "--source"])
        .arg(src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verify"]["mismatch_count"], 0, "{}", v["verify"]);
    let check = bin()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["import", "--json", "--source"])
        .arg(src)
        .output()
        .unwrap();
    let again: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let imported: u64 = again["import"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["imported"].as_u64().unwrap())
        .sum();
    assert_eq!(imported, 0, "no duplicates after the killed runs");
    assert_eq!(hashes(src), before, "the source is never modified");
}
