//! Column-level secrets in the original's format (docs/ENCRYPTION.md, "Column secrets").
//!
//! The original's `EncryptionService` stores AES-256-GCM values as standard
//! base64 of
//! `0x01 ‖ len(key_id):u8 ‖ key_id ‖ key_version:u32be ‖ len(nonce):u8 ‖
//! nonce ‖ ciphertext ‖ tag[16]`, with a 12-byte random nonce and the record
//! id (e.g. `users.id`) as associated data. The key is
//! `ARAGORA_ENCRYPTION_KEY` (key id `master`, version 1). Values that do not
//! start with `A` (base64 of 0x01) are legacy plaintext.
//!
//! We write the same format, so the original can read our values with the
//! same key, and the importer calls [`reencrypt_legacy`] for each value.

use super::keys::{Key, fill_random};
use crate::error::{Error, Result};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Key id written into our blobs (the original's name for the env key).
pub const KEY_ID: &str = "master";

/// The columns that hold such blobs, as `(table, column, aad column)`.
pub const SECRET_COLUMNS: &[(&str, &str, Option<&str>)] = &[
    ("users", "mfa_secret", Some("id")),
    ("users", "mfa_backup_codes", Some("id")),
    ("webhook_configs", "secret", None),
];

/// A parsed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Key id.
    pub key_id: String,
    /// Key version.
    pub key_version: u32,
    /// Nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext with the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// Parses a stored value as a blob; `None` if it is not one (legacy plaintext).
pub fn parse(value: &str) -> Option<Blob> {
    if !value.starts_with('A') {
        return None;
    }
    let raw = STANDARD.decode(value.trim()).ok()?;
    let (&ver, rest) = raw.split_first()?;
    if ver != 1 {
        return None;
    }
    let (&kl, rest) = rest.split_first()?;
    let key_id = std::str::from_utf8(rest.get(..kl as usize)?)
        .ok()?
        .to_string();
    let rest = &rest[kl as usize..];
    let key_version = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let (&nl, rest) = rest[4..].split_first()?;
    let nonce = rest.get(..nl as usize)?.to_vec();
    let ciphertext = rest[nl as usize..].to_vec();
    (nl == 12 && ciphertext.len() >= 16).then_some(Blob {
        key_id,
        key_version,
        nonce,
        ciphertext,
    })
}

/// Encrypts `plain` under `key` with `aad` (the record id, or none).
pub fn encrypt(key: &Key, plain: &str, aad: Option<&str>) -> Result<String> {
    let mut nonce = [0u8; 12];
    fill_random(&mut nonce)?;
    let ct = Aes256Gcm::new(key.bytes().into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: aad.unwrap_or("").as_bytes(),
            },
        )
        .map_err(|_| Error::InvalidArgument("AES-GCM encryption failed".into()))?;
    let mut out = vec![1u8, KEY_ID.len() as u8];
    out.extend_from_slice(KEY_ID.as_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.push(12);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(STANDARD.encode(out))
}

/// Decrypts a blob value; `None` if the key or the associated data is wrong
/// or the value is not a blob.
pub fn decrypt(key: &Key, value: &str, aad: Option<&str>) -> Option<String> {
    let b = parse(value)?;
    let plain = Aes256Gcm::new(key.bytes().into())
        .decrypt(
            Nonce::from_slice(&b.nonce),
            Payload {
                msg: &b.ciphertext,
                aad: aad.unwrap_or("").as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

/// What [`reencrypt_legacy`] did with one value (the importer reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Decrypted with the legacy key and encrypted under ours.
    Reencrypted(String),
    /// Legacy plaintext, now encrypted under ours.
    EncryptedPlaintext(String),
    /// Kept exactly as it was; the reason says why.
    Kept {
        /// The value, unchanged.
        value: String,
        /// Why it was not converted.
        reason: &'static str,
    },
}

impl Outcome {
    /// The value to store.
    pub fn value(&self) -> &str {
        match self {
            Outcome::Reencrypted(v) | Outcome::EncryptedPlaintext(v) => v,
            Outcome::Kept { value, .. } => value,
        }
    }
}

/// Converts one legacy column value. `aad` is the record id the original
/// bound (users: `users.id`; webhook secrets: none). Without our key nothing
/// is ever decrypted into plaintext storage: values are kept as they are.
pub fn reencrypt_legacy(
    value: &str,
    aad: Option<&str>,
    legacy: Option<&Key>,
    ours: Option<&Key>,
) -> Result<Outcome> {
    let kept = |reason| {
        Ok(Outcome::Kept {
            value: value.to_string(),
            reason,
        })
    };
    let Some(ours) = ours else {
        return kept(
            "no column key configured (ARAGORA_ENCRYPTION_KEY): stored as in the legacy file",
        );
    };
    if parse(value).is_none() {
        return Ok(Outcome::EncryptedPlaintext(encrypt(ours, value, aad)?));
    }
    let Some(legacy) = legacy else {
        return kept("encrypted in the legacy file and no legacy key given: stored as it was");
    };
    // The original sometimes passed no record id; try both.
    let plain =
        decrypt(legacy, value, aad).or_else(|| aad.and_then(|_| decrypt(legacy, value, None)));
    match plain {
        Some(p) => Ok(Outcome::Reencrypted(encrypt(
            ours,
            &zeroize::Zeroizing::new(p),
            aad,
        )?)),
        None => kept("the legacy key does not decrypt this value: stored as it was"),
    }
}

/// Encrypts a value for storage when a key is configured; without one the
/// value is stored as given (the original's fallback).
pub fn seal(key: Option<&Key>, plain: &str, aad: Option<&str>) -> Result<String> {
    match key {
        Some(k) => encrypt(k, plain, aad),
        None => Ok(plain.to_string()),
    }
}

/// Reads a stored value: blobs are decrypted, anything else is legacy
/// plaintext and returned as is. `what` names the cell for the error.
pub fn open(key: Option<&Key>, stored: &str, aad: Option<&str>, what: &str) -> Result<String> {
    if parse(stored).is_none() {
        return Ok(stored.to_string());
    }
    let Some(k) = key else {
        return Err(Error::InvalidArgument(format!(
            "{what} is encrypted and ARAGORA_ENCRYPTION_KEY is not set"
        )));
    };
    decrypt(k, stored, aad)
        .or_else(|| aad.and_then(|_| decrypt(k, stored, None)))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{what} does not decrypt with ARAGORA_ENCRYPTION_KEY (wrong key or tampered value)"
            ))
        })
}
