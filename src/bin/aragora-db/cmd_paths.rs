//! `aragora-db paths [--json]`.

use crate::output::{json, out};
use aragora_db::config::{Config, DbTarget};
use serde_json::json;

pub fn run(config: &Config, as_json: bool) -> aragora_db::Result<()> {
    let all = config.all_db_paths()?;
    if as_json {
        let dbs: Vec<_> = all
            .iter()
            .map(|(t, f)| {
                json!({
                    "name": t.value(),
                    "kind": match t { DbTarget::Type(_) => "database_type", DbTarget::Store(_) => "store" },
                    "path": f.path,
                    "legacy_sqlite_path": f.sqlite_path,
                    "source": f.source,
                })
            })
            .collect();
        return json(&json!({
            "data_dir": config.data_dir,
            "data_dir_source": config.data_dir_source,
            "mode": config.mode.as_str(),
            "timeout_seconds": config.timeout.as_secs_f64(),
            "slow_query_ms": config.slow_threshold.as_millis() as u64,
            "databases": dbs,
        }));
    }
    out(format!(
        "data directory: {} (from {})",
        config.data_dir.display(),
        config.data_dir_source
    ))?;
    out(format!("mode:           {}", config.mode.as_str()))?;
    out(format!("DB_TIMEOUT:     {:?}", config.timeout))?;
    out(format!("slow query:     {:?}", config.slow_threshold))?;
    out("")?;
    out(format!(
        "{:<27} {:<14} {:<50} {}",
        "database", "kind", "file", "source"
    ))?;
    for (t, f) in &all {
        let kind = match t {
            DbTarget::Type(_) => "DatabaseType",
            DbTarget::Store(_) => "store",
        };
        out(format!(
            "{:<27} {:<14} {:<50} {}",
            t.value(),
            kind,
            f.path.display(),
            f.source
        ))?;
    }
    Ok(())
}
