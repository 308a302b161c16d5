//! `aragora-db paths [--json]`.

use crate::output::{json, out};
use aragora_db::config::{Config, DbTarget};
use serde_json::json;

pub fn run(config: &Config, as_json: bool) -> aragora_db::Result<()> {
    let all = config.all_db_paths()?;
    // The server is shown redacted (a password never appears); nothing is
    // connected to.
    let pg = config
        .backend
        .dsn
        .as_ref()
        .map(|(dsn, source)| json!({ "server": dsn.to_string(), "dsn_source": source }));
    let backend = |t: DbTarget| config.backend.kind_for(t).as_str();
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
                    "backend": backend(*t),
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
            "postgres": pg,
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
    if let Some(p) = &pg {
        out(format!(
            "PostgreSQL:     {} (from {})",
            p["server"].as_str().unwrap_or_default(),
            p["dsn_source"].as_str().unwrap_or_default()
        ))?;
    }
    out("")?;
    out(format!(
        "{:<27} {:<14} {:<9} {:<50} {}",
        "database", "kind", "backend", "file", "source"
    ))?;
    for (t, f) in &all {
        let kind = match t {
            DbTarget::Type(_) => "DatabaseType",
            DbTarget::Store(_) => "store",
        };
        out(format!(
            "{:<27} {:<14} {:<9} {:<50} {}",
            t.value(),
            kind,
            backend(*t),
            f.path.display(),
            f.source
        ))?;
    }
    Ok(())
}
