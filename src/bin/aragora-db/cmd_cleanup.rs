//! `aragora-db cleanup [--dry-run]`: applies the retention rules (see
//! `aragora_db::ops::cleanup`) and prints what went, table by table.

use crate::output::{out, record};
use aragora_db::Result;
use aragora_db::config::Config;
use aragora_db::ops::cleanup;

pub fn run(config: &Config, dry_run: bool) -> Result<()> {
    let removed = cleanup::cleanup(config, chrono::Utc::now(), dry_run)?;
    let verb = if dry_run { "would remove" } else { "removed" };
    for r in &removed {
        record(
            format!("{:<18} {verb} {:>8} rows  ({})", r.table, r.rows, r.rule),
            serde_json::json!({
                "table": r.table,
                "rows": r.rows,
                "rule": r.rule.to_string(),
                "dry_run": dry_run,
            }),
        )?;
    }
    if removed.is_empty() {
        out("no database with retention rules exists yet")?;
    }
    Ok(())
}
