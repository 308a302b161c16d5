//! Column-level secrets (docs/ENCRYPTION.md, "Column secrets"): `users.mfa_secret`,
//! `users.mfa_backup_codes` and `webhook_configs.secret` hold AES-256-GCM
//! blobs in the original. With `ARAGORA_ENCRYPTION_KEY` set (the original's
//! key, and ours) the importer decrypts each value and encrypts it again
//! under our key; without it the value is kept exactly as it was. Every
//! value's outcome is counted in the report.

use crate::crypto::Key;
use crate::crypto::column::{self, Outcome, SECRET_COLUMNS};
use crate::error::Result;
use crate::table::{TableDef, Value};

/// The secret columns of `def`: (column position, position of the column
/// bound as associated data).
pub fn columns(def: &TableDef) -> Vec<(usize, Option<usize>)> {
    SECRET_COLUMNS
        .iter()
        .filter(|(t, _, _)| *t == def.name)
        .filter_map(|(_, c, aad)| {
            let at = def.column_index(c)?;
            Some((at, aad.and_then(|a| def.column_index(a))))
        })
        .collect()
}

/// Counts of what happened to secret values.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct SecretCounts {
    /// Decrypted with the legacy key and encrypted under ours.
    pub reencrypted: u64,
    /// Plaintext in the legacy file, now encrypted under ours.
    pub encrypted: u64,
    /// Kept exactly as they were (no key, or a key that does not decrypt them).
    pub kept: u64,
}

fn aad_of(values: &[Value], aad: Option<usize>) -> Option<String> {
    match aad.map(|i| &values[i]) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Converts the secret columns of one typed row in place.
pub fn convert(
    def: &TableDef,
    values: &mut [Value],
    key: Option<&Key>,
    counts: &mut SecretCounts,
) -> Result<()> {
    for (at, aad) in columns(def) {
        let Value::Text(v) = &values[at] else {
            continue;
        };
        let aad = aad_of(values, aad);
        let outcome = column::reencrypt_legacy(v, aad.as_deref(), key, key)?;
        match &outcome {
            Outcome::Reencrypted(_) => counts.reencrypted += 1,
            Outcome::EncryptedPlaintext(_) => counts.encrypted += 1,
            Outcome::Kept { .. } => counts.kept += 1,
        }
        values[at] = Value::Text(outcome.value().to_string());
    }
    Ok(())
}

/// Whether a stored secret holds the same secret as the source value
/// (re-encryption uses a fresh nonce, so the bytes differ).
pub fn same(stored: &str, source: &str, aad: Option<&str>, key: Option<&Key>) -> bool {
    if stored == source {
        return true;
    }
    let Some(key) = key else { return false };
    let open = |v: &str| {
        if column::parse(v).is_none() {
            return Some(v.to_string());
        }
        column::decrypt(key, v, aad).or_else(|| column::decrypt(key, v, None))
    };
    matches!((open(stored), open(source)), (Some(a), Some(b)) if a == b)
}

/// Compares a stored row with a source row, secrets by what they hold.
pub fn rows_match(def: &TableDef, stored: &[Value], source: &[Value], key: Option<&Key>) -> bool {
    let secret = columns(def);
    stored.iter().zip(source).enumerate().all(|(i, (a, b))| {
        if a == b {
            return true;
        }
        match (secret.iter().find(|(at, _)| *at == i), a, b) {
            (Some((_, aad)), Value::Text(x), Value::Text(y)) => {
                same(x, y, aad_of(source, *aad).as_deref(), key)
            }
            _ => false,
        }
    })
}
