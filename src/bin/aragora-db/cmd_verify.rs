//! `aragora-db verify [--json]`: checks every existing database file of the
//! current mode (see `aragora_db::ops::verify`) and lists every problem.
//! Exits non-zero when there is one.

use crate::output::{json, out};
use aragora_db::config::Config;
use aragora_db::ops::verify::{self, Integrity};
use aragora_db::{Error, Result};

pub fn run(config: &Config, as_json: bool) -> Result<()> {
    let reports = crate::cmd_backup::with_spinner(
        "verifying (integrity check, every row and index entry)",
        || verify::verify_all(config),
    )?;
    let problems: usize = reports.iter().map(|r| r.problems.len()).sum();
    if as_json {
        let v = serde_json::json!({
            "data_dir": config.data_dir,
            "mode": config.mode.as_str(),
            "files": reports,
            "problems": problems,
        });
        json(&v)?;
    } else {
        for r in &reports {
            let integrity = match &r.integrity {
                Integrity::Ok => "ok".to_string(),
                Integrity::Repaired => "FAILED (repairable)".to_string(),
                Integrity::Failed => "FAILED".to_string(),
                Integrity::Skipped(why) => format!("skipped: {why}"),
            };
            let rows: u64 = r.tables.iter().filter_map(|t| t.rows).sum();
            let damaged = if r.salvage.is_some() {
                " (damaged)"
            } else {
                ""
            };
            out(format!(
                "{}: {} tables, {rows} rows, redb integrity {integrity}, {} problems{damaged}",
                r.path.display(),
                r.tables.len(),
                r.problems.len()
            ))?;
            for n in &r.notes {
                out(format!("  note: {n}"))?;
            }
            for p in &r.problems {
                out(format!("  {p}"))?;
            }
            if let Some(cmd) = &r.salvage {
                out(format!("  run {cmd} to recover its readable rows"))?;
            }
        }
        if reports.is_empty() {
            out(format!(
                "no database files in {} ({} mode)",
                config.data_dir.display(),
                config.mode.as_str()
            ))?;
        }
    }
    if problems > 0 {
        return Err(Error::Invalid(format!(
            "verify found {problems} problems in {} files",
            reports.iter().filter(|r| !r.problems.is_empty()).count()
        )));
    }
    Ok(())
}
