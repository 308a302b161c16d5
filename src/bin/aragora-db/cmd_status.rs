//! `aragora-db status [--json]`: every database file of the current mode,
//! with its size and each table's row count and schema version. Files that
//! do not exist yet are listed as such and not created.
//!
//! Status only reads: each file is opened read-only (nothing is written,
//! created or repaired, so it works on read-only files and leaves a damaged
//! file as it is for `salvage`). A file that cannot be read is reported
//! with a plain reason and the others are still shown; the exit status is
//! then 1.

use crate::output::{json, out, size};
use aragora_db::config::{Config, DbTarget};
use aragora_db::ops::raw::guarded;
use aragora_db::ops::unreadable::{self, Unreadable};
use aragora_db::schema;
use aragora_db::table::TableDef;
use aragora_db::{Database, OpenOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Each table's row count and version, and the open's notes.
fn read_file(
    config: &Config,
    path: &Path,
    tables: Vec<&'static TableDef>,
) -> aragora_db::Result<(Vec<serde_json::Value>, Vec<String>)> {
    let db = Database::open_read_only(path, tables, &OpenOptions::from(config))?;
    let (versions, counts) = guarded(|| -> aragora_db::Result<_> {
        let versions: BTreeMap<String, u32> = db.schema_versions()?.into_iter().collect();
        Ok((versions, db.table_counts()?))
    })
    .map_err(|p| aragora_db::Error::storage(path, p))??;
    let rows = counts
        .into_iter()
        .map(|(def, n)| {
            json!({
                "table": def.name,
                "rows": n,
                "schema_version": versions.get(def.name).copied().unwrap_or(def.version),
            })
        })
        .collect();
    Ok((rows, db.notes().to_vec()))
}

pub fn run(config: &Config, as_json: bool) -> aragora_db::Result<()> {
    let mut files: BTreeMap<std::path::PathBuf, Vec<DbTarget>> = BTreeMap::new();
    for (t, f) in config.all_db_paths()? {
        files.entry(f.path).or_default().push(t);
    }
    let mut report = Vec::new();
    let mut unreadable: Vec<Unreadable> = Vec::new();
    for (path, owners) in &files {
        let tables = schema::tables_in_file(config, path)?;
        let exists = path.exists();
        let mut rows = Vec::new();
        let mut notes = Vec::new();
        let mut problem = None;
        if exists && !tables.is_empty() {
            match read_file(config, path, tables.clone()) {
                Ok((r, n)) => (rows, notes) = (r, n),
                Err(e) => {
                    let u = Unreadable::from_error(path, &e);
                    problem = Some(serde_json::to_value(&u).unwrap_or_default());
                    unreadable.push(u);
                }
            }
        }
        let bytes = std::fs::metadata(path).map(|m| m.len()).ok();
        let state = match (&problem, exists) {
            (_, false) => "absent",
            (Some(p), _) => p["trouble"].as_str().unwrap_or("unreadable"),
            (None, true) => "ok",
        };
        report.push(json!({
            "path": path,
            "databases": owners.iter().map(|t| t.value()).collect::<Vec<_>>(),
            "exists": exists,
            "state": state,
            "size_bytes": bytes,
            "mode": config.mode.as_str(),
            "declared_tables": tables.len(),
            "tables": rows,
            "notes": notes,
            "problem": problem,
        }));
    }
    if as_json {
        json(&json!({
            "data_dir": config.data_dir,
            "mode": config.mode.as_str(),
            "files": report,
            "unreadable": unreadable,
        }))?;
        return finish(&unreadable);
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
        if let Some(u) = unreadable
            .iter()
            .find(|u| u.path.as_path() == Path::new(path))
        {
            out("")?;
            for line in u.lines() {
                out(line)?;
            }
            continue;
        }
        out(format!("\n{path}  {sz}  {}  [{dbs}]", config.mode.as_str()))?;
        for n in f["notes"].as_array().into_iter().flatten() {
            out(format!("  note: {}", n.as_str().unwrap_or_default()))?;
        }
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
    finish(&unreadable)
}

fn finish(unreadable: &[Unreadable]) -> aragora_db::Result<()> {
    if unreadable.is_empty() {
        return Ok(());
    }
    Err(unreadable::summary_error("status", unreadable))
}
