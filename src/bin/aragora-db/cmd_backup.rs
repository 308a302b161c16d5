//! `aragora-db backup [--out DIR] [--keep-days N]` and `aragora-db restore
//! BACKUP` (see `aragora_db::ops::backup` and `aragora_db::ops::restore`).

use crate::output::out;
use aragora_db::Result;
use aragora_db::config::Config;
use aragora_db::ops::{backup, restore};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub fn backup(config: &Config, out_dir: Option<PathBuf>, keep_days: Option<u32>) -> Result<()> {
    crate::files_only::check(
        config,
        "backup",
        "back up the PostgreSQL database with pg_dump (docs/POSTGRES.md)",
    )?;
    // A backup of nothing is a mistake (a wrong data directory or mode),
    // not a success: refuse it before creating the backup directory.
    let any = config
        .all_db_paths()?
        .into_iter()
        .any(|(_, f)| f.path.exists());
    if !any {
        return Err(aragora_db::Error::InvalidArgument(format!(
            "no database files in {} ({} mode): nothing to back up (is the data directory right?)",
            config.data_dir.display(),
            config.mode.as_str()
        )));
    }
    let bar = spinner();
    let opts = backup::BackupOptions {
        out: out_dir,
        keep_days,
        now: chrono::Utc::now(),
    };
    let report = backup::backup(config, &opts, &mut |p: &Path| {
        if let Some(b) = &bar {
            b.set_message(format!("backing up {}", p.display()));
            b.tick();
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out(format!("backup {}", report.dir.display()))?;
    for f in &report.manifest.files {
        let rows: u64 = f
            .tables
            .iter()
            .filter(|t| !t.name.starts_with("__"))
            .map(|t| t.rows)
            .sum();
        out(format!(
            "  {:<36} {:>3} tables {:>10} rows {:>10} bytes",
            f.file,
            f.tables.len(),
            rows,
            f.bytes
        ))?;
        for s in &f.skipped {
            out(format!("    not copied: {s}"))?;
        }
        if Path::new(&f.target).is_absolute() {
            // Restore writes only inside the data directory (a manifest is
            // user-editable), so it refuses this entry: say so now, not at
            // restore time.
            out(format!(
                "    note: {} lies outside the data directory (an ARAGORA_DB_* override): \
                 restore refuses to write there; put {} back by hand",
                f.target, f.file
            ))?;
        }
    }
    for p in &report.pruned {
        out(format!("pruned {}", p.display()))?;
    }
    if !report.unreadable.is_empty() {
        out(format!(
            "not backed up ({} file(s) could not be read):",
            report.unreadable.len()
        ))?;
        for u in &report.unreadable {
            for line in u.lines() {
                out(format!("  {line}"))?;
            }
        }
        return Err(aragora_db::unreadable::summary_error(
            "backup",
            &report.unreadable,
        ));
    }
    Ok(())
}

/// `restore BACKUP [--no-safety-copy]` and `restore --recover`. A journal
/// left by an interrupted restore is completed first, and said so.
pub fn restore(
    config: &Config,
    dir: Option<&Path>,
    no_safety_copy: bool,
    recover_only: bool,
) -> Result<()> {
    if !recover_only {
        crate::files_only::check(
            config,
            "restore",
            "restore the PostgreSQL database with pg_restore or psql from its dump",
        )?;
    }
    let recovered = restore::recover(config)?;
    match &recovered {
        Some(restore::Recovery::RolledBack(staged)) => {
            out(format!(
                "an interrupted restore was rolled back (it had not replaced anything): removed {} staged file(s)",
                staged.len()
            ))?;
        }
        Some(restore::Recovery::RolledForward(files)) => {
            out("an interrupted restore was completed (rolled forward):".to_string())?;
            for p in files {
                out(format!("  {}", p.display()))?;
            }
        }
        None if recover_only => out("no interrupted restore to recover".to_string())?,
        None => {}
    }
    let Some(dir) = dir else {
        return Ok(());
    };
    let opts = restore::RestoreOptions {
        no_safety_copy,
        ..Default::default()
    };
    let report = restore::restore_with(config, dir, &opts)?;
    if let Some(copy) = &report.safety_copy {
        out(format!(
            "safety copy of the files replaced: {} (restore it to undo)",
            copy.dir.display()
        ))?;
        for (p, why) in &copy.unreadable {
            out(format!(
                "  kept byte for byte, not restorable by `restore` (unreadable: {why}): {}",
                p.display()
            ))?;
        }
    }
    out(format!(
        "restored backup of {} ({} mode) from {}",
        report.manifest.created,
        report.manifest.mode,
        dir.display()
    ))?;
    for p in &report.restored {
        out(format!("  {}", p.display()))?;
    }
    Ok(())
}

/// A spinner on stderr, only when stderr is a terminal (shared by the
/// long-running operations: backup, verify, consolidate, salvage).
pub fn spinner() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new_spinner();
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(b)
}

/// Runs `f` with a spinner saying `msg` (on a terminal only).
pub fn with_spinner<T>(msg: &'static str, f: impl FnOnce() -> T) -> T {
    let bar = spinner();
    if let Some(b) = &bar {
        b.set_message(msg);
    }
    let out = f();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out
}
