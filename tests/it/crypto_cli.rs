//! `aragora-db encrypt | rekey | decrypt` end to end, and the file lock.

use aragora_db::Error;
use aragora_db::config::Config;
use aragora_db::crypto::{self, Encryption, Key};
use aragora_db::store::UserStore;

const HEX: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut c = crate::common::bin();
    c.args(args).env("ARAGORA_DATA_DIR", dir);
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn config(dir: &std::path::Path, vars: &[(&str, &str)]) -> Config {
    let d = dir.to_str().unwrap().to_string();
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(move |k| {
        if k == "ARAGORA_DATA_DIR" {
            return Some(d.clone());
        }
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .unwrap()
}

#[test]
fn encrypt_rekey_decrypt_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let users = UserStore::open(&Config::for_dir(dir.path())).unwrap();
        users
            .create_user("cli@example.com", "h", "", "Cli", None, "member")
            .unwrap()
            .id
    };
    let file = dir.path().join("users.redb");
    assert!(!crypto::file_is_encrypted(&file).unwrap());

    let (ok, out) = run(dir.path(), &["encrypt"], &[("ARAGORA_ENCRYPTION_KEY", HEX)]);
    assert!(ok, "{out}");
    assert!(out.contains("users.redb: encrypted"), "{out}");
    assert!(crypto::file_is_encrypted(&file).unwrap());
    assert!(!std::fs::read_dir(dir.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".converting")
    }));
    let enc_raw = [
        ("ARAGORA_SQLITE_ENCRYPTION", "1"),
        ("ARAGORA_ENCRYPTION_KEY", HEX),
    ];
    {
        let users = UserStore::open(&config(dir.path(), &enc_raw)).unwrap();
        assert_eq!(
            users.get_user_by_id(&id).unwrap().unwrap().email,
            "cli@example.com"
        );
    }
    let (ok, out) = run(dir.path(), &["encrypt"], &[("ARAGORA_ENCRYPTION_KEY", HEX)]);
    assert!(ok && out.contains("already encrypted"), "{out}");

    let (ok, out) = run(
        dir.path(),
        &["rekey"],
        &[
            ("ARAGORA_ENCRYPTION_KEY", HEX),
            ("ARAGORA_NEW_SQLITE_KEY", "new passphrase"),
        ],
    );
    assert!(ok && out.contains("rekeyed"), "{out}");
    let err = aragora_db::ops::encrypt::rekey_file(
        &file,
        &Encryption::raw(Key::parse("k", HEX).unwrap()).source,
        &Encryption::raw(Key::random().unwrap()).source,
        Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::WrongKey { ref path } if path == &file),
        "{err}"
    );
    let (ok, out) = run(
        dir.path(),
        &["decrypt"],
        &[("ARAGORA_SQLITE_KEY", "wrong passphrase")],
    );
    assert!(
        !ok && out.contains("wrong encryption key") && out.contains("users.redb"),
        "{out}"
    );
    assert!(crypto::file_is_encrypted(&file).unwrap());

    let (ok, out) = run(
        dir.path(),
        &["decrypt"],
        &[("ARAGORA_SQLITE_KEY", "new passphrase")],
    );
    assert!(ok && out.contains("decrypted"), "{out}");
    assert!(!crypto::file_is_encrypted(&file).unwrap());
    let users = UserStore::open(&Config::for_dir(dir.path())).unwrap();
    assert_eq!(
        users.get_user_by_id(&id).unwrap().unwrap().email,
        "cli@example.com"
    );
}

#[test]
fn two_opens_of_one_encrypted_file_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.redb");
    let enc = Encryption::raw(Key::parse("k", HEX).unwrap());
    let b = redb::Builder::new();
    let first = crypto::open_database(&b, &path, Some(&enc)).unwrap();
    match crypto::open_database(&b, &path, Some(&enc)) {
        Err(Error::Locked { .. }) => {}
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("opened twice"),
    }
    drop(first);
    crypto::open_database(&b, &path, Some(&enc)).unwrap();
}
