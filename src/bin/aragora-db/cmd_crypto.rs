//! `aragora-db encrypt | decrypt | rekey [FILE...]`.
//!
//! Keys come from the environment only (never from flags, so they stay out
//! of shell history and process listings): the current key from
//! `ARAGORA_SQLITE_KEY` (passphrase) or `ARAGORA_ENCRYPTION_KEY` (raw), the
//! new key for `rekey` from `ARAGORA_NEW_SQLITE_KEY` or
//! `ARAGORA_NEW_ENCRYPTION_KEY`. Without FILE arguments every existing file
//! of the configured mode is converted.
//!
//! All or nothing across the set: every file is checked first (that it is
//! our own file, and that the key opens it), and if any fails the command
//! refuses the whole set, listing every failing file, before anything is
//! written. Files already in the wanted state (encrypted under the key,
//! plain, opened by the new key) pass the check and are skipped, so after
//! an interruption the same command finishes the set.

use crate::output::out;
use aragora_db::config::Config;
use aragora_db::crypto::{Encryption, KdfParams, Key, KeySource};
use aragora_db::ops::encrypt::{self as convert, Plan};
use aragora_db::{Error, Result};
use std::path::{Path, PathBuf};

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
    if files.is_empty() {
        crate::files_only::check(
            config,
            "encryption at rest",
            "PostgreSQL's data at rest is the server's to encrypt (its storage), and \
             connections use TLS (sslmode, docs/POSTGRES.md)",
        )?;
    }
    if !files.is_empty() {
        // A file named twice (or by two spellings) is converted once.
        let mut seen = std::collections::HashSet::new();
        return Ok(files
            .iter()
            .filter(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| (*f).clone())))
            .cloned()
            .collect());
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

/// Checks every file before any is changed: the plan of each, or (if any
/// file fails) one error listing every failing file, with nothing changed.
fn preflight(
    verb: &str,
    files: Vec<PathBuf>,
    plan: impl Fn(&Path) -> Result<Plan>,
) -> Result<Vec<(PathBuf, Plan)>> {
    let mut plans = Vec::new();
    let mut bad = Vec::new();
    for f in files {
        match plan(&f) {
            Ok(p) => plans.push((f, p)),
            Err(e) => bad.push(e.to_string()),
        }
    }
    if bad.is_empty() {
        return Ok(plans);
    }
    let total = plans.len() + bad.len();
    Err(Error::InvalidArgument(format!(
        "{verb} refused: {} of {total} file{} cannot be {verb}ed, so nothing was changed:\n  {}",
        bad.len(),
        if total == 1 { "" } else { "s" },
        bad.join("\n  ")
    )))
}

/// Runs `convert` on every planned file in order and prints the line it
/// returns. A failed conversion stops the run with an error that says how
/// far it got: every file is in its old or its new state (each conversion
/// is atomic), and the same command finishes the set. A failure to print
/// (a closed pipe) does not stop the conversions; it is returned at the end.
fn convert_all(
    verb: &str,
    plans: &[(PathBuf, Plan)],
    mut convert: impl FnMut(&Path, Plan) -> Result<String>,
) -> Result<()> {
    let mut printed = Ok(());
    // A bar of files on a terminal (off in pipes and logs), 80 columns.
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let b = indicatif::ProgressBar::new(plans.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:20}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_prefix(verb.to_string());
        b
    });
    for (i, (f, plan)) in plans.iter().enumerate() {
        if let Some(b) = &bar {
            b.set_message(
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        let done = convert(f, *plan);
        if let Some(b) = &bar {
            b.inc(1);
        }
        match done {
            Ok(line) => {
                if printed.is_ok() {
                    printed = out(format_args!("{}: {line}", f.display()));
                }
            }
            Err(e) if i == 0 => return Err(e),
            Err(e) => {
                return Err(Error::InvalidArgument(format!(
                    "{e}\n  {verb} stopped there: the {i} file{} before it {} done, it and the {} after it are unchanged; run the same command again to finish",
                    if i == 1 { "" } else { "s" },
                    if i == 1 { "is" } else { "are" },
                    plans.len() - i - 1
                )));
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    printed
}

fn skipped(why: &str) -> Result<String> {
    Ok(format!("{why}, skipped"))
}

pub fn encrypt(config: &Config, files: &[PathBuf]) -> Result<()> {
    let enc = current_key(config)?;
    let plans = preflight("encrypt", targets(config, files)?, |f| {
        convert::plan_encrypt(f, &enc)
    })?;
    convert_all("encrypt", &plans, |f, plan| match plan {
        Plan::Convert => {
            let n = convert::encrypt_file(f, &enc)?;
            Ok(format!("encrypted ({n} bytes)"))
        }
        Plan::Skip(why) => skipped(why),
        Plan::AlreadyRekeyed => skipped("already encrypted"),
    })
}

pub fn decrypt(config: &Config, files: &[PathBuf]) -> Result<()> {
    let enc = current_key(config)?;
    let plans = preflight("decrypt", targets(config, files)?, |f| {
        convert::plan_decrypt(f, &enc.source)
    })?;
    convert_all("decrypt", &plans, |f, plan| match plan {
        Plan::Convert => {
            let n = convert::decrypt_file(f, &enc.source)?;
            Ok(format!("decrypted ({n} bytes)"))
        }
        Plan::Skip(why) => skipped(why),
        Plan::AlreadyRekeyed => skipped("not encrypted"),
    })
}

pub fn rekey(config: &Config, files: &[PathBuf]) -> Result<()> {
    let old = current_key(config)?;
    let new = env_key("ARAGORA_NEW_SQLITE_KEY", "ARAGORA_NEW_ENCRYPTION_KEY")?;
    let new_source: &KeySource = &new.source;
    let plans = preflight("rekey", targets(config, files)?, |f| {
        convert::plan_rekey(f, &old.source, new_source)
    })?;
    convert_all("rekey", &plans, |f, plan| {
        match plan {
        Plan::Convert => {
            convert::rekey_file(f, &old.source, new_source, new.params)?;
            Ok("rekeyed".into())
        }
        Plan::AlreadyRekeyed if convert::finish_rekey(f, new_source)? => Ok(
            "already rekeyed (the new key opens it; finished its interrupted key-slot update), skipped".into(),
        ),
        Plan::AlreadyRekeyed => skipped("already rekeyed (the new key opens it)"),
        Plan::Skip(why) => skipped(why),
    }
    })
}
