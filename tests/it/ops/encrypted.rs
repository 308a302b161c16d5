//! verify, salvage and consolidate on encrypted stores (docs/ENCRYPTION.md): the same
//! results as on plain stores, no plaintext in any file they write, a clear
//! error naming the file without the key (or with the wrong one), and
//! verify reports a block that fails authentication.

use super::{cli_env, populate};
use crate::crypto_common::{data_off, trailer_off};
use aragora_db::Error;
use aragora_db::config::{Config, DatabaseMode, DbTarget, Store};
use aragora_db::crypto::{self, Encryption, Key};
use aragora_db::ops::{consolidate, salvage, verify};
use aragora_db::store::UserStore;
use std::path::{Path, PathBuf};

const HEX: &str = "3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b";
const OTHER: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
/// Every canary starts with this; one scan finds them all.
const CANARY: &str = "cAnArYops7";

fn enc(hex: &str) -> Encryption {
    Encryption::raw(Key::parse("test key", hex).unwrap())
}

fn config(dir: &Path, mode: DatabaseMode, key: Option<&str>) -> Config {
    let mut c = Config::for_dir(dir).with_mode(mode);
    c.encryption = key.map(enc);
    c
}

/// `populate` plus users, ratings and audit rows carrying canaries.
fn fill(cfg: &Config) {
    populate(cfg, 6);
    let users = UserStore::open(cfg).unwrap();
    for i in 0..4 {
        users
            .create_user(
                &format!("{CANARY}{i}@example.com"),
                &format!("{CANARY}-hash-{i}"),
                "",
                &format!("{CANARY} name {i}"),
                None,
                "member",
            )
            .unwrap();
    }
}

/// Every regular file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Files under `dir` holding the canary (UTF-8 or UTF-16).
fn leaking(dir: &Path) -> Vec<PathBuf> {
    let utf16: Vec<u8> = CANARY
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    walk(dir)
        .into_iter()
        .filter(|f| {
            let b = std::fs::read(f).unwrap();
            contains(&b, CANARY.as_bytes()) || contains(&b, &utf16)
        })
        .collect()
}

/// The redb files under `dir` (everything but backup manifests).
fn redb_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|f| f.file_name().unwrap() != "manifest.json")
        .collect()
}

/// (file name, integrity, table row counts, problems) of every file.
type Summary = Vec<(String, String, Vec<(String, Option<u64>)>, Vec<String>)>;

fn verify_summary(cfg: &Config) -> Summary {
    verify::verify_all(cfg)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.path.file_name().unwrap().to_string_lossy().into_owned(),
                format!("{:?}", r.integrity),
                r.tables.into_iter().map(|t| (t.table, t.rows)).collect(),
                r.problems.into_iter().map(|p| p.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn verify_on_an_encrypted_store_matches_the_plain_run_in_both_modes() {
    for mode in [DatabaseMode::Legacy, DatabaseMode::Consolidated] {
        let (pd, ed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let plain = config(pd.path(), mode, None);
        let encrypted = config(ed.path(), mode, Some(HEX));
        fill(&plain);
        fill(&encrypted);
        // The scan can fail: the plain store shows the canary.
        assert!(!leaking(pd.path()).is_empty(), "{mode:?}");
        for f in redb_files(ed.path()) {
            assert!(crypto::file_is_encrypted(&f).unwrap(), "{}", f.display());
        }
        let want = verify_summary(&plain);
        let got = verify_summary(&encrypted);
        assert!(want.len() >= 2, "{mode:?}: {want:?}");
        assert_eq!(got, want, "{mode:?}");
        assert!(got.iter().all(|f| f.3.is_empty()), "{got:?}");
        // Nothing left behind, nothing in plaintext.
        assert_eq!(leaking(ed.path()), Vec::<PathBuf>::new(), "{mode:?}");
        assert_eq!(walk(ed.path()).len(), want.len(), "{:?}", walk(ed.path()));
    }
}

#[test]
fn verify_without_the_key_or_with_the_wrong_one_names_the_file() {
    let d = tempfile::tempdir().unwrap();
    fill(&config(d.path(), DatabaseMode::Legacy, Some(HEX)));
    let users = config(d.path(), DatabaseMode::Legacy, None)
        .get_db_path(DbTarget::Store(Store::Users))
        .unwrap()
        .path;
    match verify::verify_all(&config(d.path(), DatabaseMode::Legacy, None)) {
        Err(e @ Error::Encryption { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(".redb") && msg.contains("ARAGORA_SQLITE_ENCRYPTION"));
        }
        other => panic!("expected an encryption error, got {other:?}"),
    }
    match verify::verify_all(&config(d.path(), DatabaseMode::Legacy, Some(OTHER))) {
        Err(Error::WrongKey { path }) => assert!(path.starts_with(d.path()), "{path:?}"),
        other => panic!("expected WrongKey, got {other:?}"),
    }
    let o = cli_env(
        &["verify"],
        &[("ARAGORA_DATA_DIR", d.path().to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(".redb"), "{err}");
    assert!(err.contains("is encrypted"), "{err}");
    // The wrong key wrote nothing: the right key still verifies cleanly.
    let again = verify_summary(&config(d.path(), DatabaseMode::Legacy, Some(HEX)));
    assert!(again.iter().all(|f| f.3.is_empty()), "{again:?}");
    assert!(crypto::file_is_encrypted(&users).unwrap());
}

#[test]
fn verify_reports_a_tampered_block_of_an_encrypted_file() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), DatabaseMode::Legacy, Some(HEX));
    fill(&cfg);
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    let mut img = std::fs::read(&path).unwrap();
    // The last data block with a "written" trailer.
    let d_max = (0..)
        .take_while(|&d| data_off(d) + 4096 <= img.len())
        .filter(|&d| img[trailer_off(d)] == 1)
        .last()
        .expect("a written block");
    img[data_off(d_max) + 100] ^= 0x04;
    std::fs::write(&path, &img).unwrap();
    let reports = verify::verify_all(&cfg).unwrap();
    let r = reports.iter().find(|r| r.path == path).unwrap();
    let want = format!("block {} ", d_max + 1);
    assert!(
        r.problems.iter().any(|p| p.table == "(file)"
            && p.what.starts_with("encryption:")
            && p.what.contains(&want)
            && p.what.contains("failed authentication")),
        "{want}: {:#?}",
        r.problems
    );
    // The other files are untouched and clean.
    assert!(
        reports
            .iter()
            .filter(|r| r.path != path)
            .all(|r| r.problems.is_empty())
    );
    assert_eq!(std::fs::read(&path).unwrap(), img, "verify wrote the file");
}

#[test]
fn salvage_of_an_encrypted_file_writes_an_encrypted_file_with_the_same_rows() {
    let (pd, ed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let runs: Vec<_> = [(pd.path(), None), (ed.path(), Some(HEX))]
        .into_iter()
        .map(|(dir, key)| {
            let cfg = config(dir, DatabaseMode::Legacy, key);
            fill(&cfg);
            let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
            let out = dir.join("salvaged").join("users.redb");
            let report = salvage::salvage(&path, &out, cfg.encryption.as_ref()).unwrap();
            assert!(report.problems.is_empty(), "{:?}", report.problems);
            let tables: Vec<_> = report
                .tables
                .iter()
                .map(|t| (t.table.clone(), t.copied, t.lost))
                .collect();
            let mut out_cfg = cfg.clone();
            out_cfg.data_dir = dir.join("salvaged");
            let users = UserStore::open(&out_cfg).unwrap();
            let found = users
                .get_user_by_email(&format!("{CANARY}2@example.com"))
                .unwrap()
                .map(|u| u.name);
            (tables, found, crypto::file_is_encrypted(&out).unwrap())
        })
        .collect();
    assert!(!runs[0].0.is_empty());
    assert_eq!(runs[1].0, runs[0].0);
    assert_eq!(runs[1].1, runs[0].1);
    assert_eq!(runs[0].1, Some(Some(format!("{CANARY} name 2"))));
    assert_eq!((runs[0].2, runs[1].2), (false, true));
    assert!(!leaking(pd.path()).is_empty());
    assert_eq!(leaking(ed.path()), Vec::<PathBuf>::new());
    // No temporaries left beside the output.
    assert_eq!(
        walk(&ed.path().join("salvaged")),
        vec![ed.path().join("salvaged").join("users.redb")]
    );
    // Without the key: a clear error naming the file, nothing written.
    let path = ed.path().join("users.redb");
    let out = ed.path().join("again.redb");
    let err = salvage::salvage(&path, &out, None).unwrap_err();
    assert!(
        matches!(&err, Error::Encryption { path: p, .. } if p == &path),
        "{err}"
    );
    let err = salvage::salvage(&path, &out, Some(&enc(OTHER))).unwrap_err();
    assert!(
        matches!(&err, Error::WrongKey { path: p } if p == &path),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(leaking(ed.path()), Vec::<PathBuf>::new());
    let o = cli_env(
        &[
            "salvage",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[("ARAGORA_DATA_DIR", ed.path().to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("users.redb"), "{err}");
    let o = cli_env(
        &[
            "salvage",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[
            ("ARAGORA_DATA_DIR", ed.path().to_str().unwrap()),
            ("ARAGORA_SQLITE_ENCRYPTION", "1"),
            ("ARAGORA_ENCRYPTION_KEY", HEX),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(crypto::file_is_encrypted(&out).unwrap());
    assert_eq!(leaking(ed.path()), Vec::<PathBuf>::new());
}

/// (table, action, rows) of a plan.
fn plan_rows(p: &consolidate::Plan) -> Vec<(String, String, u64)> {
    p.tables
        .iter()
        .map(|t| (t.table.to_string(), format!("{:?}", t.action), t.rows))
        .collect()
}

#[test]
fn consolidate_of_encrypted_files_writes_encrypted_files_both_ways() {
    let (pd, ed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut results = Vec::new();
    for (dir, key) in [(pd.path(), None), (ed.path(), Some(HEX))] {
        let legacy = dir.join("legacy");
        let base = config(&legacy, DatabaseMode::Legacy, key);
        fill(&base);
        let cons = dir.join("consolidated");
        let (src, dst) = consolidate::sides_from(&base, &legacy, &cons, false);
        let report = consolidate::migrate(&src, &dst, false).unwrap();
        assert!(!report.written.is_empty() && !report.backups.is_empty());
        let checks = consolidate::verify(&src, &dst).unwrap();
        assert!(checks.iter().all(|c| c.different == 0), "{checks:?}");
        // And back to legacy files in a third directory.
        let back = dir.join("back");
        let (src2, dst2) = consolidate::sides_from(&base, &cons, &back, true);
        consolidate::migrate(&src2, &dst2, true).unwrap();
        let checks2 = consolidate::verify(&src2, &dst2).unwrap();
        assert!(checks2.iter().all(|c| c.different == 0), "{checks2:?}");
        let users = UserStore::open(&dst).unwrap();
        let name = users
            .get_user_by_email(&format!("{CANARY}1@example.com"))
            .unwrap()
            .unwrap()
            .name;
        drop(users);
        results.push((
            plan_rows(&report.plan),
            checks.iter().map(|c| (c.table, c.rows)).collect::<Vec<_>>(),
            checks2
                .iter()
                .map(|c| (c.table, c.rows))
                .collect::<Vec<_>>(),
            name,
        ));
    }
    assert!(results[0].1.iter().any(|c| c.1 > 0), "{:?}", results[0].1);
    assert_eq!(results[1], results[0]);
    assert!(!leaking(pd.path()).is_empty());
    assert_eq!(leaking(ed.path()), Vec::<PathBuf>::new());
    for f in redb_files(ed.path()) {
        assert!(crypto::file_is_encrypted(&f).unwrap(), "{}", f.display());
    }
    // Without the key: an error naming an encrypted file.
    let legacy = ed.path().join("legacy");
    let (src, dst) = consolidate::sides(&legacy, &ed.path().join("other"), false);
    match consolidate::plan(&src, &dst) {
        Err(e @ Error::Encryption { .. }) => {
            assert!(e.to_string().contains(legacy.to_str().unwrap()), "{e}")
        }
        other => panic!("expected an encryption error, got {other:?}"),
    }
    let base = config(&legacy, DatabaseMode::Legacy, Some(OTHER));
    let (src, dst) = consolidate::sides_from(&base, &legacy, &ed.path().join("other"), false);
    assert!(matches!(
        consolidate::migrate(&src, &dst, true),
        Err(Error::WrongKey { .. })
    ));
    assert!(!ed.path().join("other").exists());
}

/// Turning encryption on while consolidating: plain legacy files, a
/// configuration with a key. The backup taken first reads the plain
/// sources as they are (and writes encrypted snapshots); the consolidated
/// files are encrypted and hold the same rows.
#[test]
fn consolidate_of_plain_files_with_a_key_backs_up_and_encrypts() {
    let d = tempfile::tempdir().unwrap();
    let legacy = d.path().join("legacy");
    fill(&config(&legacy, DatabaseMode::Legacy, None));
    let base = config(&legacy, DatabaseMode::Legacy, Some(HEX));
    let cons = d.path().join("consolidated");
    let (src, dst) = consolidate::sides_from(&base, &legacy, &cons, false);
    let report = consolidate::migrate(&src, &dst, false).unwrap();
    assert!(!report.backups.is_empty() && !report.written.is_empty());
    let checks = consolidate::verify(&src, &dst).unwrap();
    assert!(checks.iter().any(|c| c.rows > 0), "{checks:?}");
    assert!(checks.iter().all(|c| c.different == 0), "{checks:?}");
    for dir in report.backups.iter().chain([&cons]) {
        let files = redb_files(dir);
        assert!(!files.is_empty(), "{}", dir.display());
        for f in files {
            assert!(crypto::file_is_encrypted(&f).unwrap(), "{}", f.display());
        }
    }
    assert_eq!(leaking(&cons), Vec::<PathBuf>::new());
}

#[test]
fn salvage_reads_an_encrypted_file_whose_open_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), DatabaseMode::Legacy, Some(HEX));
    fill(&cfg);
    let path = cfg.get_db_path(DbTarget::Store(Store::Users)).unwrap().path;
    let clean = salvage::salvage(
        &path,
        &dir.path().join("clean.redb"),
        cfg.encryption.as_ref(),
    )
    .unwrap();
    // The last block's trailer made malformed (as a torn or tampered
    // trailer leaves it): the open refuses the file.
    let mut img = std::fs::read(&path).unwrap();
    let d = (0..)
        .take_while(|&d| data_off(d) + 4096 <= img.len())
        .last()
        .unwrap();
    img[trailer_off(d)] = 9;
    std::fs::write(&path, &img).unwrap();
    let key = &cfg.encryption.as_ref().unwrap().source;
    let err = crypto::open_backend(&path, &path, key).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    let out = dir.path().join("salvaged.redb");
    let report = salvage::salvage(&path, &out, cfg.encryption.as_ref()).unwrap();
    let tables = |r: &salvage::SalvageReport| -> Vec<_> {
        r.tables
            .iter()
            .map(|t| (t.table.clone(), t.copied, t.lost))
            .collect()
    };
    // Rows come out of a file that no longer opens; at most the rows the
    // damaged block held are lost.
    let copied = |r: &salvage::SalvageReport| r.tables.iter().map(|t| t.copied).sum::<u64>();
    assert!(copied(&report) > 0 && copied(&report) <= copied(&clean));
    assert_eq!(
        tables(&report)
            .iter()
            .map(|t| t.0.clone())
            .collect::<Vec<_>>(),
        tables(&clean)
            .iter()
            .map(|t| t.0.clone())
            .collect::<Vec<_>>()
    );
    let notes: Vec<_> = report
        .problems
        .iter()
        .map(|p| format!("{} {}", p.table, p.what))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("(file) the encrypted file fails its checks")),
        "{notes:?}"
    );
    let unreadable = "cannot be read (damaged trailer, or overwritten after commit";
    assert!(
        notes
            .iter()
            .any(|n| n.contains(unreadable) && n.contains(&(d + 1).to_string())),
        "{notes:?}"
    );
    assert!(crypto::file_is_encrypted(&out).unwrap());
    // The damaged input is untouched.
    assert_eq!(std::fs::read(&path).unwrap(), img);
}
