//! `aragora-db status [--json]`: every database file of the current mode,
//! with its size and each table's row count and schema version. Files that
//! do not exist yet are listed as such and not created.

use crate::output::{json, out, size};
use aragora_db::Database;
use aragora_db::config::{Config, DbTarget};
use aragora_db::schema;
use serde_json::json;
use std::collections::BTreeMap;

pub fn run(config: &Config, as_json: bool) -> aragora_db::Result<()> {
    let mut files: BTreeMap<std::path::PathBuf, Vec<DbTarget>> = BTreeMap::new();
    for (t, f) in config.all_db_paths()? {
        files.entry(f.path).or_default().push(t);
    }
    let mut report = Vec::new();
    for (path, owners) in &files {
        let tables = schema::tables_in_file(config, path)?;
        let exists = path.exists();
        let mut rows = Vec::new();
        if exists && !tables.is_empty() {
            let db = Database::open(config, owners[0])?;
            let versions: BTreeMap<String, u32> = db.schema_versions()?.into_iter().collect();
            for (def, n) in db.table_counts()? {
                rows.push(json!({
                    "table": def.name,
                    "rows": n,
                    "schema_version": versions.get(def.name).copied().unwrap_or(def.version),
                }));
            }
        }
        let bytes = std::fs::metadata(path).map(|m| m.len()).ok();
        report.push(json!({
            "path": path,
            "databases": owners.iter().map(|t| t.value()).collect::<Vec<_>>(),
            "exists": exists,
            "size_bytes": bytes,
            "mode": config.mode.as_str(),
            "declared_tables": tables.len(),
            "tables": rows,
        }));
    }
    if as_json {
        return json(
            &json!({ "data_dir": config.data_dir, "mode": config.mode.as_str(), "files": report }),
        );
    }
    out(format!(
        "data directory {} ({} mode)",
        config.data_dir.display(),
        config.mode.as_str()
    ))?;
    let mut absent = Vec::new();
    for f in &report {
        let path = f["path"].as_str().unwrap_or_default();
        let dbs = f["databases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        if f["exists"] != true {
            absent.push(dbs);
            continue;
        }
        let sz = f["size_bytes"].as_u64().map(size).unwrap_or_default();
        out(format!("\n{path}  {sz}  {}  [{dbs}]", config.mode.as_str()))?;
        for t in f["tables"].as_array().into_iter().flatten() {
            out(format!(
                "  {:<24} {:>10} rows  schema v{}",
                t["table"].as_str().unwrap_or_default(),
                t["rows"],
                t["schema_version"]
            ))?;
        }
    }
    if !absent.is_empty() {
        out(format!(
            "\nnot created yet ({} files): {}",
            absent.len(),
            absent.join(", ")
        ))?;
    }
    Ok(())
}
