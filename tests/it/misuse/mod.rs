//! The misuse suite: every command given what a user gets wrong (files that
//! are not ours, damaged sources, read-only files, edited manifests, bad
//! flags). Each case checks the exit code, that the error names the file,
//! and — wherever the command refused or only reads — that every file in
//! the data directory is byte-for-byte and mtime-for-mtime what it was.

mod cli_contract;
mod crypto;
mod damaged;
mod import;
mod readonly;
mod restore;
mod salvage;
mod to_postgres;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a file looked like: its content hash, length, mtime and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub sha256: [u8; 32],
    pub len: u64,
    pub mtime: SystemTime,
    pub mode: u32,
}

/// Every file below `dir` (recursively), with its state; directories are
/// listed too (with an empty hash) so that a created folder shows up.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, FileState> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let sha256 = if md.is_file() {
                Sha256::digest(std::fs::read(&p).unwrap()).into()
            } else {
                [0; 32]
            };
            if md.is_dir() {
                stack.push(p.clone());
            }
            out.insert(
                p,
                FileState {
                    sha256,
                    len: md.len(),
                    mtime: md.modified().unwrap(),
                    mode: md.mode(),
                },
            );
        }
    }
    out
}

/// Panics with the differing paths unless `dir` is exactly as `before`.
#[track_caller]
pub fn assert_unchanged(dir: &Path, before: &BTreeMap<PathBuf, FileState>, what: &str) {
    let after = snapshot(dir);
    if &after == before {
        return;
    }
    let mut diffs = Vec::new();
    for (p, s) in before {
        match after.get(p) {
            None => diffs.push(format!("removed {}", p.display())),
            Some(a) if a != s => diffs.push(format!("changed {}: {s:?} -> {a:?}", p.display())),
            _ => {}
        }
    }
    for p in after.keys().filter(|p| !before.contains_key(*p)) {
        diffs.push(format!("created {}", p.display()));
    }
    panic!("{what} changed the data directory:\n{}", diffs.join("\n"));
}

/// Exit code, stdout and stderr of a finished command, for messages.
pub fn describe(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
