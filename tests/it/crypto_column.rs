//! Column secrets and Fernet, against vectors made by Python's
//! `cryptography` 48 (`Fernet._encrypt_from_parts`, `AESGCM`) in the
//! original's blob layout (docs/ENCRYPTION.md, "Column secrets").

use aragora_db::crypto::Key;
use aragora_db::crypto::column::{self, Outcome};
use aragora_db::crypto::fernet::{Fernet, InvalidToken};

const FERNET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// (timestamp, iv, plaintext, token)
const VECTORS: &[(u64, [u8; 16], &[u8], &str)] = &[
    (
        499162800,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        b"hello",
        "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD4_9EBVfNSDZ7XtRxaHNdkW99QsUAt9pmRctkSzQxwX8ezo1JYkB0XAhlhuGaD6Beg==",
    ),
    (
        1700000000,
        [0xA5; 16],
        b"",
        "gAAAAABlU_EApaWlpaWlpaWlpaWlpaWlpZ-uhSg0pG36W2gflra_V55vdCx5KgK9JDa62jTVM9PuN5GGT95h75HM1ZNgqXjCEA==",
    ),
    (
        1767225600,
        [
            100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115,
        ],
        "0123456789abcdefsécret ✓".as_bytes(),
        "gAAAAABpVbkAZGVmZ2hpamtsbW5vcHFyc8lSLa-QKMFJ_TAJOA-SkR9AYBuAsUbV_Y4Em4MGeEdwkdCpLPrGhVepBsfW4bpV8WI6_KF-f-YPG7tNozaIRzs=",
    ),
];

#[test]
fn fernet_matches_python() {
    let f = Fernet::new(FERNET_KEY).unwrap();
    for &(ts, iv, plain, token) in VECTORS {
        assert_eq!(f.encrypt_at(plain, ts, iv), token);
        assert_eq!(f.decrypt_at(token, None, ts + 10).unwrap(), plain);
        assert_eq!(f.decrypt_at(token, Some(60), ts + 10).unwrap(), plain);
        assert_eq!(
            f.decrypt_at(token, Some(5), ts + 10),
            Err(InvalidToken::Expired)
        );
    }
}

#[test]
fn fernet_refuses_tampering_and_other_keys() {
    let f = Fernet::new(FERNET_KEY).unwrap();
    let (ts, _, _, token) = VECTORS[0];
    let mut raw = base64_url(token);
    for i in 0..raw.len() {
        raw[i] ^= 1;
        let t = b64_url_encode(&raw);
        assert!(f.decrypt_at(&t, None, ts).is_err(), "byte {i}");
        raw[i] ^= 1;
    }
    let other = Fernet::new(&Fernet::generate_key().unwrap()).unwrap();
    assert_eq!(
        other.decrypt_at(token, None, ts),
        Err(InvalidToken::Signature)
    );
    assert_eq!(
        f.decrypt_at("not a token", None, ts),
        Err(InvalidToken::Malformed)
    );
    let fresh = f.encrypt(b"round trip").unwrap();
    assert_eq!(f.decrypt(&fresh, Some(60)).unwrap(), b"round trip");
    assert!(Fernet::new("c2hvcnQ=").is_err());
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.decode(s).unwrap()
}
fn b64_url_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.encode(b)
}

fn key(seed: u8) -> Key {
    Key::from_bytes(std::array::from_fn(|i| seed.wrapping_add(i as u8)))
}

/// users.mfa_secret for user "user-1" (AAD = user id), and a webhook secret
/// without AAD, both under the key 00 01 .. 1f.
const MFA: &str = "AQZtYXN0ZXIAAAABDAABAgMEBQYHCAkKCw1AhUyc1oZLyAnHwIK5ID1rfjaQq0fMoRGyGg7PNb2X";
const WEBHOOK: &str = "AQZtYXN0ZXIAAAABDAABAgMEBQYHCAkKCzBqpX6muqN57izjIeaL7hWTKwu3hCCObRk=";

#[test]
fn original_column_blobs_decrypt() {
    let k = key(0);
    let b = column::parse(MFA).unwrap();
    assert_eq!(
        (b.key_id.as_str(), b.key_version, b.nonce.len()),
        ("master", 1, 12)
    );
    assert_eq!(
        column::decrypt(&k, MFA, Some("user-1")).as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
    assert_eq!(
        column::decrypt(&k, MFA, Some("user-2")),
        None,
        "AAD binds the row"
    );
    assert_eq!(column::decrypt(&key(1), MFA, Some("user-1")), None);
    assert_eq!(
        column::decrypt(&k, WEBHOOK, None).as_deref(),
        Some("whsec_abc")
    );
    assert!(
        column::parse("JBSWY3DPEHPK3PXP").is_none(),
        "legacy plaintext"
    );
    // Ours round-trip and use the same layout.
    let ours = column::encrypt(&k, "s3cret", Some("u9")).unwrap();
    assert!(ours.starts_with('A'));
    assert_eq!(
        column::decrypt(&k, &ours, Some("u9")).as_deref(),
        Some("s3cret")
    );
}

#[test]
fn reencrypt_legacy_reports_what_it_did() {
    let (legacy, ours) = (key(0), key(9));
    let out = column::reencrypt_legacy(MFA, Some("user-1"), Some(&legacy), Some(&ours)).unwrap();
    let Outcome::Reencrypted(v) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        column::decrypt(&ours, v, Some("user-1")).as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
    // Webhook secrets carry no AAD; giving one still works (falls back).
    let out = column::reencrypt_legacy(WEBHOOK, Some("wh-1"), Some(&legacy), Some(&ours)).unwrap();
    assert!(matches!(out, Outcome::Reencrypted(_)), "{out:?}");
    // No legacy key, wrong legacy key, no key of ours: kept exactly.
    for (l, o) in [
        (None, Some(&ours)),
        (Some(&key(5)), Some(&ours)),
        (Some(&legacy), None),
    ] {
        let out = column::reencrypt_legacy(MFA, Some("user-1"), l, o).unwrap();
        assert!(
            matches!(&out, Outcome::Kept { value, .. } if value == MFA),
            "{out:?}"
        );
    }
    // Legacy plaintext gets encrypted under ours.
    let out =
        column::reencrypt_legacy("JBSWY3DPEHPK3PXP", Some("user-1"), None, Some(&ours)).unwrap();
    let Outcome::EncryptedPlaintext(v) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        column::decrypt(&ours, v, Some("user-1")).as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
}

fn config_with_key(dir: &std::path::Path, key_hex: Option<&str>) -> aragora_db::config::Config {
    let d = dir.to_str().unwrap().to_string();
    let k = key_hex.map(str::to_string);
    aragora_db::config::Config::from_lookup(move |v| match v {
        "ARAGORA_DATA_DIR" => Some(d.clone()),
        "ARAGORA_ENCRYPTION_KEY" => k.clone(),
        _ => None,
    })
    .unwrap()
}

const HEX0: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

#[test]
fn stores_keep_secrets_encrypted_at_the_column_level() {
    use aragora_db::store::UserStore;
    use aragora_db::store::webhooks::{NewWebhook, WebhookConfigStore};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with_key(dir.path(), Some(HEX0));
    let users = UserStore::open(&cfg).unwrap();
    let u = users
        .create_user("m@example.com", "h", "", "M", None, "member")
        .unwrap();
    let u = users
        .set_mfa(&u.id, Some("JBSWY3DPEHPK3PXP"), Some("[\"a1\",\"b2\"]"))
        .unwrap();
    let stored = users.get_user_by_id(&u.id).unwrap().unwrap();
    let raw = stored.mfa_secret.clone().unwrap();
    assert!(column::parse(&raw).is_some(), "{raw}");
    // Readable by the original's format with AAD = user id.
    assert_eq!(
        column::decrypt(&key(0), &raw, Some(&u.id)).as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
    let (s, c) = users.mfa(&stored).unwrap();
    assert_eq!(
        (s.as_deref(), c.as_deref()),
        (Some("JBSWY3DPEHPK3PXP"), Some("[\"a1\",\"b2\"]"))
    );

    let hooks = WebhookConfigStore::open(&cfg).unwrap();
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        events: vec!["debate.end".into()],
        ..Default::default()
    };
    let w = hooks.register(new).unwrap();
    let stored = hooks.get(&w.id).unwrap().unwrap();
    assert_ne!(stored.secret, w.secret);
    assert!(column::parse(&stored.secret).is_some());
    assert_eq!(hooks.secret(&stored).unwrap(), w.secret);
    drop((users, hooks));

    // Without the key: an encrypted cell is a clear error, never garbage.
    let plain = config_with_key(dir.path(), None);
    let users = UserStore::open(&plain).unwrap();
    let stored = users.get_user_by_id(&u.id).unwrap().unwrap();
    let e = users.mfa(&stored).unwrap_err().to_string();
    assert!(
        e.contains("mfa_secret") && e.contains("ARAGORA_ENCRYPTION_KEY"),
        "{e}"
    );
}

/// The stored row of `pk` in `def`, read through `Database::read` and the
/// raw table API (the envelope decoded, no store involved), plus its bytes.
fn raw_row(
    db: &aragora_db::Database,
    def: &'static aragora_db::table::TableDef,
    pk: &str,
) -> (Vec<aragora_db::table::Value>, Vec<u8>) {
    use aragora_db::table::{IntoKey, KeyRange, Page};
    let want = pk.to_key();
    let mut found = None;
    db.read()
        .unwrap()
        .scan_raw(def, &KeyRange::all(), Page::default(), |k, bytes| {
            if k == want.as_slice() {
                found = Some((def.decode_values(k, bytes)?.0, bytes.to_vec()));
            }
            Ok(true)
        })
        .unwrap();
    found.unwrap_or_else(|| panic!("no row {pk} in {}", def.name))
}

/// A column of a raw row holds a sealed blob (not the plaintext, which
/// appears nowhere in the stored bytes) that opens to `plain` under the key.
fn assert_sealed(
    def: &'static aragora_db::table::TableDef,
    row: &(Vec<aragora_db::table::Value>, Vec<u8>),
    col: &str,
    aad: Option<&str>,
    plain: &str,
) {
    let v = match &row.0[def.column_index(col).unwrap()] {
        aragora_db::table::Value::Text(t) => t.clone(),
        other => panic!("{}.{col} holds {other:?}", def.name),
    };
    assert_ne!(v, plain, "{}.{col} stored in plaintext", def.name);
    assert!(column::parse(&v).is_some(), "{}.{col}: {v}", def.name);
    assert_eq!(column::decrypt(&key(0), &v, aad).as_deref(), Some(plain));
    assert!(
        !row.1.windows(plain.len()).any(|w| w == plain.as_bytes()),
        "{}.{col}: the plaintext is in the stored bytes",
        def.name
    );
}

#[test]
fn every_store_constructor_seals_secrets_when_a_key_is_configured() {
    use aragora_db::config::{DbTarget, Store};
    use aragora_db::schema::users::USERS;
    use aragora_db::schema::webhooks::WEBHOOK_CONFIGS;
    use aragora_db::store::UserStore;
    use aragora_db::store::webhooks::{NewWebhook, WebhookConfigStore};
    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";
    const CODES: &str = "[\"code-a1b2c3\",\"code-d4e5f6\"]";
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with_key(dir.path(), Some(HEX0));
    // Every constructor of UserStore (WebhookConfigStore has only `open`).
    let open = || UserStore::open(&cfg).unwrap();
    let from_db = || {
        let db = aragora_db::Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        UserStore::from_db(db, &cfg)
    };
    let constructors: [(&str, &dyn Fn() -> UserStore); 2] =
        [("UserStore::open", &open), ("UserStore::from_db", &from_db)];
    for (name, make) in &constructors {
        let users = make();
        let u = users
            .create_user(&format!("{name}@x.io"), "h", "", "M", None, "member")
            .unwrap();
        users.set_mfa(&u.id, Some(SECRET), Some(CODES)).unwrap();
        let row = raw_row(users.db(), &USERS, &u.id);
        eprintln!("checking {name}");
        assert_sealed(&USERS, &row, "mfa_secret", Some(&u.id), SECRET);
        assert_sealed(&USERS, &row, "mfa_backup_codes", Some(&u.id), CODES);
        let stored = users.get_user_by_id(&u.id).unwrap().unwrap();
        assert_eq!(
            users.mfa(&stored).unwrap(),
            (Some(SECRET.into()), Some(CODES.into())),
            "{name}"
        );
    }

    let hooks = WebhookConfigStore::open(&cfg).unwrap();
    let w = hooks
        .register(NewWebhook {
            url: "https://example.com/hook".into(),
            events: vec!["debate.end".into()],
            ..Default::default()
        })
        .unwrap();
    let row = raw_row(hooks.db(), &WEBHOOK_CONFIGS, &w.id);
    assert_sealed(&WEBHOOK_CONFIGS, &row, "secret", None, &w.secret);
    let stored = hooks.get(&w.id).unwrap().unwrap();
    assert_eq!(hooks.secret(&stored).unwrap(), w.secret);
}

#[test]
fn a_store_refuses_to_write_a_plaintext_secret_while_a_key_is_configured() {
    use aragora_db::config::{DbTarget, Store};
    use aragora_db::schema::users::{USERS, User};
    use aragora_db::store::UserStore;
    let dir = tempfile::tempdir().unwrap();
    // A row with a plaintext secret, written before a key was configured.
    let plain = config_with_key(dir.path(), None);
    let users = UserStore::open(&plain).unwrap();
    let old = users
        .create_user("old@x.io", "h", "", "Old", None, "member")
        .unwrap();
    users.set_mfa(&old.id, Some("LEGACYSECRET"), None).unwrap();
    let u = users
        .create_user("new@x.io", "h", "", "New", None, "member")
        .unwrap();
    drop(users);

    let cfg = config_with_key(dir.path(), Some(HEX0));
    let db = aragora_db::Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let users = UserStore::from_db(db, &cfg);
    let before = raw_row(users.db(), &USERS, &u.id);
    // Through update_user and modify_user: refused, nothing written.
    let mut changed: User = users.get_user_by_id(&u.id).unwrap().unwrap();
    changed.mfa_secret = Some("PLAINTEXT".into());
    let e = users.update_user(&changed).unwrap_err().to_string();
    assert!(
        e.contains("users.mfa_secret") && e.contains("plaintext") && e.contains(&u.id),
        "{e}"
    );
    let e = users
        .modify_user(&u.id, |x| x.mfa_backup_codes = Some("[\"c\"]".into()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("users.mfa_backup_codes"), "{e}");
    assert_eq!(raw_row(users.db(), &USERS, &u.id), before);
    // A row whose plaintext secret predates the key stays updatable.
    let renamed = users
        .modify_user(&old.id, |x| x.name = Some("Renamed".into()))
        .unwrap();
    assert_eq!(renamed.mfa_secret.as_deref(), Some("LEGACYSECRET"));
    // set_mfa seals.
    users.set_mfa(&u.id, Some("NEWSECRET"), None).unwrap();
    let row = raw_row(users.db(), &USERS, &u.id);
    assert_sealed(&USERS, &row, "mfa_secret", Some(&u.id), "NEWSECRET");
}
