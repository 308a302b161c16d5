//! `aragora-db migrate --status | --dry-run | --migrate [--db NAME]` (see
//! `aragora_db::ops::migrate`; new steps come from `tools/new-migration`).

use crate::output::{out, record};
use aragora_db::config::{Config, DbTarget};
use aragora_db::ops::migrate;
use aragora_db::{Error, Result};

pub struct Args<'a> {
    pub status: bool,
    pub dry_run: bool,
    pub migrate: bool,
    pub db: Option<&'a str>,
}

fn target(name: Option<&str>) -> Result<Option<DbTarget>> {
    name.map(|n| {
        DbTarget::parse(n).ok_or_else(|| Error::Unknown {
            kind: "database",
            name: n.into(),
            hint: " (see `aragora-db paths`)".into(),
        })
    })
    .transpose()
}

pub fn run(config: &Config, a: Args<'_>) -> Result<()> {
    let only = target(a.db)?;
    if a.migrate || a.dry_run {
        let applied = migrate::migrate(config, only, a.dry_run)?;
        let verb = if a.dry_run { "would run" } else { "ran" };
        for s in &applied {
            record(
                format!(
                    "{} {:<24} {verb} {} ({} rows)",
                    s.file.display(),
                    s.table,
                    s.step,
                    s.rows
                ),
                serde_json::json!({
                    "file": s.file,
                    "table": s.table,
                    "step": s.step.to_string(),
                    "rows": s.rows,
                    "dry_run": a.dry_run,
                }),
            )?;
        }
        out(format!("{} steps {verb}", applied.len()))?;
        return Ok(());
    }
    let _ = a.status;
    let mut problems = 0;
    for (file, st) in migrate::status(config, only)? {
        match st {
            Ok(tables) => {
                let pending: Vec<_> = tables.iter().filter(|t| t.state != "current").collect();
                let value = serde_json::json!({
                    "file": file,
                    "tables": tables.iter().map(|t| serde_json::json!({
                        "table": t.table,
                        "stored": t.stored,
                        "declared": t.declared,
                        "state": t.state,
                        "pending": t.pending,
                    })).collect::<Vec<_>>(),
                });
                let mut text = format!(
                    "{}: {} tables, {} up to date",
                    file.display(),
                    tables.len(),
                    tables.len() - pending.len()
                );
                for t in pending {
                    problems += usize::from(t.state != "pending");
                    text.push_str(&format!(
                        "\n  {:<28} v{} -> v{}  {}  {}",
                        t.table,
                        t.stored,
                        t.declared,
                        t.state,
                        t.pending.join(", ")
                    ));
                }
                record(text, value)?;
            }
            Err(e) => {
                problems += 1;
                record(
                    format!("{}: {e}", file.display()),
                    serde_json::json!({ "file": file, "error": e.to_string() }),
                )?;
            }
        }
    }
    if problems > 0 {
        return Err(Error::Invalid(format!(
            "{problems} files or tables cannot be migrated by this binary"
        )));
    }
    Ok(())
}
