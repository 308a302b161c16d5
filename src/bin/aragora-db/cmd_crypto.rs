//! `aragora-db encrypt | decrypt | rekey [FILE...]`.
//!
//! Keys come from the environment only (never from flags, so they stay out
//! of shell history and process listings): the current key from
//! `ARAGORA_SQLITE_KEY` (passphrase) or `ARAGORA_ENCRYPTION_KEY` (raw), the
//! new key for `rekey` from `ARAGORA_NEW_SQLITE_KEY` or
//! `ARAGORA_NEW_ENCRYPTION_KEY`. Without FILE arguments every existing file
//! of the configured mode is converted; files already in the wanted state
//! are skipped and reported.

use crate::output::out;
use aragora_db::config::Config;
use aragora_db::crypto::{self, Encryption, KdfParams, Key, KeySource, convert};
use aragora_db::{Error, Result};
use std::path::PathBuf;

fn env_key(pass_var: &str, raw_var: &str) -> Result<Encryption> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(p) = get(pass_var) {
        return Ok(Encryption::passphrase(
            &zeroize::Zeroizing::new(p),
            KdfParams::default(),
        ));
    }
    if let Some(k) = get(raw_var) {
        return Ok(Encryption::raw(Key::parse(
            raw_var,
            &zeroize::Zeroizing::new(k),
        )?));
    }
    Err(Error::Config {
        name: format!("{pass_var} / {raw_var}"),
        value: String::new(),
        expected: "a passphrase or a 32-byte key (hex or base64)".into(),
    })
}

fn current_key(config: &Config) -> Result<Encryption> {
    match &config.encryption {
        Some(e) => Ok(e.clone()),
        None => env_key("ARAGORA_SQLITE_KEY", "ARAGORA_ENCRYPTION_KEY"),
    }
}

fn targets(config: &Config, files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return Ok(files.to_vec());
    }
    let mut all: Vec<PathBuf> = config
        .all_db_paths()?
        .into_iter()
        .map(|(_, f)| f.path)
        .filter(|p| p.exists())
        .collect();
    all.sort();
    all.dedup();
    Ok(all)
}

pub fn encrypt(config: &Config, files: &[PathBuf]) -> Result<()> {
    let enc = current_key(config)?;
    for f in targets(config, files)? {
        if crypto::file_is_encrypted(&f)? {
            out(format_args!("{}: already encrypted, skipped", f.display()))?;
            continue;
        }
        let n = convert::encrypt_file(&f, &enc)?;
        out(format_args!("{}: encrypted ({n} bytes)", f.display()))?;
    }
    Ok(())
}

pub fn decrypt(config: &Config, files: &[PathBuf]) -> Result<()> {
    let enc = current_key(config)?;
    for f in targets(config, files)? {
        if !crypto::file_is_encrypted(&f)? {
            out(format_args!("{}: not encrypted, skipped", f.display()))?;
            continue;
        }
        let n = convert::decrypt_file(&f, &enc.source)?;
        out(format_args!("{}: decrypted ({n} bytes)", f.display()))?;
    }
    Ok(())
}

pub fn rekey(config: &Config, files: &[PathBuf]) -> Result<()> {
    let old = current_key(config)?;
    let new = env_key("ARAGORA_NEW_SQLITE_KEY", "ARAGORA_NEW_ENCRYPTION_KEY")?;
    let new_source: &KeySource = &new.source;
    for f in targets(config, files)? {
        if !crypto::file_is_encrypted(&f)? {
            out(format_args!("{}: not encrypted, skipped", f.display()))?;
            continue;
        }
        convert::rekey_file(&f, &old.source, new_source, new.params)?;
        out(format_args!("{}: rekeyed", f.display()))?;
    }
    Ok(())
}
