//! `aragora-db import` as a user runs it: report, JSON, exit codes, and a
//! writer killed at random moments.

use super::import::{fixture, hashes};
use crate::common::bin;
use std::collections::BTreeMap;
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

/// Every file's row count per table, as `status --json` reads it (files
/// that do not exist are left out).
fn counts(dir: &std::path::Path) -> BTreeMap<String, BTreeMap<String, u64>> {
    let o = bin()
        .arg("--data-dir")
        .arg(dir)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut out = BTreeMap::new();
    for f in v["files"].as_array().unwrap() {
        if f["exists"] != true {
            continue;
        }
        let name = std::path::Path::new(f["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let tables = f["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["table"].as_str().unwrap().to_string(),
                    t["rows"].as_u64().unwrap(),
                )
            })
            .collect();
        out.insert(name, tables);
    }
    out
}

/// An import killed while it runs (after it has started reading, before it
/// exits) leaves each target file with either every row a complete import
/// gives it or none: checked on the state the kill left, before any re-run.
#[test]
fn an_import_killed_at_random_moments_commits_whole_files_or_nothing() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let Some(src) = fixture() else { return };
    let before = hashes(src);
    // What a complete import gives, and how long it takes.
    let reference = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let o = bin()
        .arg("--data-dir")
        .arg(reference.path())
        .args(["import", "--source"])
        .arg(src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let span = started.elapsed().as_millis().max(1) as u64;
    let full = counts(reference.path());
    let empty = |t: &BTreeMap<String, u64>| t.values().all(|&n| n == 0);
    let mut seed = 0x9e37_79b9_u64;
    let (mut mid_import, mut partial_sets) = (0, 0);
    for _ in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let tmp = tempfile::tempdir().unwrap();
        let mut child = bin()
            .arg("--data-dir")
            .arg(tmp.path())
            .args(["import", "--source"])
            .arg(src)
            .env("ARAGORA_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until it has started reading sources, then kill it at a
        // random moment within a complete import's duration.
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().contains("reading source") {
                break;
            }
        }
        let drain = std::thread::spawn(move || lines.for_each(drop));
        std::thread::sleep(Duration::from_millis(seed % span));
        let _ = child.kill();
        let status = child.wait().unwrap();
        drain.join().unwrap();
        if status.signal() != Some(9) {
            continue; // it finished first: not a kill mid-import
        }
        mid_import += 1;
        let left = counts(tmp.path());
        let mut whole = 0;
        for (file, tables) in &left {
            let want = full.get(file);
            assert!(
                empty(tables) || want == Some(tables),
                "{file}: a killed import left part of a file: {tables:?}, a complete one gives {want:?}"
            );
            whole += usize::from(!empty(tables));
        }
        partial_sets += usize::from(whole > 0 && whole < full.len());
        // A completing run finishes it, and every row checks out.
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
        assert_eq!(counts(tmp.path()), full, "after the completing run");
    }
    eprintln!(
        "{mid_import} of 8 kills landed mid-import ({partial_sets} left some files committed, others not)"
    );
    assert!(
        mid_import >= 3,
        "too few kills landed mid-import: {mid_import}"
    );
    assert_eq!(hashes(src), before, "the source is never modified");
}
