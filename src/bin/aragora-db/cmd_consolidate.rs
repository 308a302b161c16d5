//! `aragora-db consolidate --dry-run | --migrate | --verify [--source DIR]
//! [--target DIR] [--no-backup] [--reverse]` (see
//! `aragora_db::ops::consolidate`). Source and target default to the data
//! directory; `--reverse` goes from consolidated back to legacy.

use crate::output::{out, record};
use aragora_db::config::Config;
use aragora_db::ops::consolidate::{self, Action};
use aragora_db::{Error, Result};
use std::path::Path;

pub struct Args<'a> {
    pub source: &'a Path,
    pub target: &'a Path,
    pub dry_run: bool,
    pub migrate: bool,
    pub verify: bool,
    pub no_backup: bool,
    pub reverse: bool,
}

pub fn run(config: &Config, a: Args<'_>) -> Result<()> {
    crate::files_only::check(
        config,
        "consolidate",
        "on PostgreSQL every table is in one database already",
    )?;
    let (src, dst) = consolidate::sides_from(config, a.source, a.target, a.reverse);
    if a.verify {
        let checks = crate::cmd_backup::with_spinner("comparing every entry", || {
            consolidate::verify(&src, &dst)
        })?;
        let mut bad = 0;
        for c in &checks {
            let state = if c.different == 0 {
                "identical".to_string()
            } else {
                format!("{} differences", c.different)
            };
            let mut text = format!("{:<30} {:>10} rows  {state}", c.table, c.rows);
            for d in &c.differences {
                text.push_str(&format!("\n    {d}"));
            }
            record(
                text,
                serde_json::json!({
                    "table": c.table,
                    "rows": c.rows,
                    "different": c.different,
                    "differences": c.differences.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                }),
            )?;
            bad += c.different;
        }
        if bad > 0 {
            return Err(Error::InvalidArgument(format!(
                "{bad} entries differ between source and target"
            )));
        }
        out(format!(
            "{} tables compared entry by entry: identical",
            checks.len()
        ))?;
        return Ok(());
    }
    if a.migrate {
        let report = crate::cmd_backup::with_spinner("backing up and moving tables", || {
            consolidate::migrate(&src, &dst, a.no_backup)
        })?;
        for b in &report.backups {
            out(format!("backup {}", b.display()))?;
        }
        print_plan(&report.plan)?;
        for w in &report.written {
            out(format!("wrote {}", w.display()))?;
        }
        return Ok(());
    }
    let _ = a.dry_run;
    print_plan(&consolidate::plan(&src, &dst)?)
}

fn print_plan(plan: &consolidate::Plan) -> Result<()> {
    for t in &plan.tables {
        let (what, action) = match t.action {
            Action::Move => (
                format!("{} -> {}", t.from.display(), t.to.display()),
                "move",
            ),
            Action::Stays => (format!("stays in {}", t.from.display()), "stays"),
            Action::Absent => continue,
        };
        record(
            format!("{:<30} {:>10} rows  {what}", t.table, t.rows),
            serde_json::json!({
                "table": t.table,
                "rows": t.rows,
                "action": action,
                "from": t.from,
                "to": t.to,
            }),
        )?;
    }
    let absent = plan
        .tables
        .iter()
        .filter(|t| t.action == Action::Absent)
        .count();
    out(format!("{absent} declared tables absent from the source"))?;
    for c in &plan.cannot_move {
        out(format!("CANNOT MOVE: {c}"))?;
    }
    Ok(())
}
