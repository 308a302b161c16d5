//! Encrypted files: round trips, keys, plain/encrypted mix-ups, leakage.

use super::crypto_common::*;
use aragora_db::Error;
use aragora_db::config::Config;
use aragora_db::crypto::{self, KeySource};
use aragora_db::store::UserStore;
use std::collections::BTreeMap;

#[test]
fn round_trip_through_redb() {
    let key = raw_key(1);
    let img = build(&key, 500, 50);
    let enc = open_image(&img, &key).unwrap();
    assert!(enc.verify().is_empty(), "{:?}", enc.verify());
    let db = redb::Builder::new().create_with_backend(enc).unwrap();
    assert_eq!(read_all(&db).unwrap(), expected(500));
    insert(&db, 500, 600, 100);
    assert_eq!(read_all(&db).unwrap(), expected(600));
}

fn encrypted_config(dir: &std::path::Path, extra: &[(&str, &str)]) -> aragora_db::Result<Config> {
    let mut map: BTreeMap<String, String> = [
        ("ARAGORA_DATA_DIR", dir.to_str().unwrap()),
        ("ARAGORA_SQLITE_ENCRYPTION", "1"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    map.retain(|_, v| !v.is_empty());
    Config::from_lookup(|k| map.get(k).cloned())
}

const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

#[test]
fn database_opens_encrypted_from_config_and_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = encrypted_config(dir.path(), &[("ARAGORA_ENCRYPTION_KEY", HEX)]).unwrap();
    let canaries: Vec<String> = (0..60)
        .map(|i| format!("cAnArY{i:04}zq{}", i * 7919))
        .collect();
    {
        let users = UserStore::open(&cfg).unwrap();
        for (i, c) in canaries.iter().enumerate() {
            // Email is indexed: the canary is a key, a value and an index entry.
            users
                .create_user(&format!("{c}@example.com"), c, "", c, None, "member")
                .unwrap_or_else(|e| panic!("user {i}: {e}"));
        }
    }
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for f in &files {
        assert!(
            crypto::file_is_encrypted(f).unwrap(),
            "{} is not encrypted",
            f.display()
        );
        let bytes = std::fs::read(f).unwrap();
        // Every canary starts with this prefix: one scan covers them all.
        for c in ["cAnArY", "example.com"] {
            let utf16: Vec<u8> = c.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            assert!(!contains(&bytes, c.as_bytes()), "{c} in {}", f.display());
            assert!(!contains(&bytes, &utf16), "{c} (UTF-16) in {}", f.display());
        }
        // The test can fail: the same rows in a plain file do show up.
    }
    let users = UserStore::open(&cfg).unwrap();
    let u = users
        .get_user_by_email(&format!("{}@example.com", canaries[17]))
        .unwrap()
        .unwrap();
    assert_eq!(u.name.as_deref(), Some(canaries[17].as_str()));
    drop(users);
    // Opened without encryption: a clear error, not garbage.
    let plain = Config::for_dir(dir.path());
    let err = UserStore::open(&plain).unwrap_err();
    assert!(matches!(err, Error::Encryption { .. }), "{err}");
    assert!(err.to_string().contains("is encrypted"), "{err}");
}

#[test]
fn canaries_are_visible_in_a_plain_file() {
    // Guards the leakage test: with encryption off the canary is found.
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(dir.path());
    UserStore::open(&cfg)
        .unwrap()
        .create_user("plainCANARY@example.com", "x", "", "n", None, "member")
        .unwrap();
    let found = std::fs::read_dir(dir.path())
        .unwrap()
        .any(|e| contains(&std::fs::read(e.unwrap().path()).unwrap(), b"plainCANARY"));
    assert!(found);
}

#[test]
fn plain_file_opened_as_encrypted_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    UserStore::open(&Config::for_dir(dir.path())).unwrap();
    let cfg = encrypted_config(dir.path(), &[("ARAGORA_ENCRYPTION_KEY", HEX)]).unwrap();
    let err = UserStore::open(&cfg).unwrap_err();
    assert!(matches!(err, Error::Encryption { .. }), "{err}");
    assert!(err.to_string().contains("plain"), "{err}");
}

#[test]
fn config_rejects_malformed_keys_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["abc", "zz".repeat(32).as_str(), "c2VjcmV0LXRvby1zaG9ydA=="] {
        let err = encrypted_config(dir.path(), &[("ARAGORA_ENCRYPTION_KEY", bad)]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("ARAGORA_ENCRYPTION_KEY") && !msg.contains(bad),
            "{msg}"
        );
    }
    let err = encrypted_config(dir.path(), &[]).unwrap_err().to_string();
    assert!(err.contains("ARAGORA_SQLITE_KEY"), "{err}");
    let err = encrypted_config(dir.path(), &[("ARAGORA_SQLITE_ENCRYPTION", "maybe")]);
    assert!(err.is_err());
    // A passphrase wins over the raw key for at-rest encryption.
    let c = encrypted_config(
        dir.path(),
        &[
            ("ARAGORA_SQLITE_KEY", "pw"),
            ("ARAGORA_ENCRYPTION_KEY", HEX),
        ],
    )
    .unwrap();
    assert!(matches!(
        c.encryption.unwrap().source,
        KeySource::Passphrase(_)
    ));
    assert!(format!("{:?}", c.column_key).contains("redacted"));
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn backups_of_encrypted_databases_stay_encrypted_and_restore() {
    use aragora_db::ops::{backup, restore};
    let dir = tempfile::tempdir().unwrap();
    let cfg = encrypted_config(dir.path(), &[("ARAGORA_ENCRYPTION_KEY", HEX)]).unwrap();
    {
        let users = UserStore::open(&cfg).unwrap();
        users
            .create_user("bAcKuPcAnArY@example.com", "h", "", "B", None, "member")
            .unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let report = backup::backup(
        &cfg,
        &backup::BackupOptions {
            out: Some(out.path().to_path_buf()),
            keep_days: None,
            now: chrono::Utc::now(),
        },
        &mut |_| {},
    )
    .unwrap();
    let mut snapshots = Vec::new();
    for e in std::fs::read_dir(&report.dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "redb") {
            snapshots.push(p);
        }
    }
    assert!(
        !snapshots.is_empty(),
        "no snapshot in {}",
        report.dir.display()
    );
    for p in &snapshots {
        assert!(
            crypto::file_is_encrypted(p).unwrap(),
            "{} is plaintext",
            p.display()
        );
        assert!(!contains(&std::fs::read(p).unwrap(), b"bAcKuPcAnArY"));
    }
    // Without the key the backup cannot be checked.
    assert!(restore::verify_backup(&report.dir, None).is_err());
    restore::verify_backup(&report.dir, cfg.encryption.as_ref()).unwrap();
    std::fs::remove_file(dir.path().join("users.redb")).unwrap();
    restore::restore(&cfg, &report.dir).unwrap();
    let users = UserStore::open(&cfg).unwrap();
    assert!(
        users
            .get_user_by_email("bAcKuPcAnArY@example.com")
            .unwrap()
            .is_some()
    );
}
