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
use aragora_db::config::{BackendKind, Config, DbTarget};
use aragora_db::ops::raw::guarded;
use aragora_db::pg::admin;
use aragora_db::schema;
use aragora_db::table::TableDef;
use aragora_db::unreadable::{self, Unreadable};
use aragora_db::{Database, Migrations, OpenOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Each table's row count and version, and the open's notes.
fn read_file(
    config: &Config,
    path: &Path,
    tables: Vec<&'static TableDef>,
) -> aragora_db::Result<(Vec<serde_json::Value>, Vec<String>)> {
    // Versions as the file records them: pending migrations are reported
    // (`migrate --status`), not run in memory; only versions and row counts
    // are read.
    let opts = OpenOptions {
        migrations: Migrations::Leave,
        ..OpenOptions::from(config)
    };
    let db = Database::open_read_only(path, tables, &opts)?;
    let (versions, counts) = guarded(|| -> aragora_db::Result<_> {
        let versions: BTreeMap<String, u32> = db.schema_versions()?.into_iter().collect();
        Ok((versions, db.table_counts()?))
    })
    .map_err(|p| aragora_db::Error::damaged(path, p))??;
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
        // Stores on PostgreSQL are shown with their server, not a file.
        if config.backend.kind_for(t) == BackendKind::Embedded {
            files.entry(f.path).or_default().push(t);
        }
    }
    let pg = admin::server(config)?.map(|server| pg_status(&server));
    let pg_failed = pg
        .as_ref()
        .and_then(|p| p["problem"].as_str().map(str::to_string));
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
            "postgres": pg,
        }))?;
        return finish(&unreadable, pg_failed);
    }
    if let Some(p) = &pg {
        print_pg(p)?;
    }
    if files.is_empty() {
        return finish(&unreadable, pg_failed);
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
    finish(&unreadable, pg_failed)
}

fn finish(unreadable: &[Unreadable], pg_failed: Option<String>) -> aragora_db::Result<()> {
    if !unreadable.is_empty() {
        if let Some(p) = pg_failed {
            eprintln!("error: {p}");
        }
        return Err(unreadable::summary_error("status", unreadable));
    }
    match pg_failed {
        Some(p) => Err(aragora_db::Error::InvalidArgument(p)),
        None => Ok(()),
    }
}

/// The PostgreSQL server's part of the status: the (redacted) server, the
/// stores on it, the schema's version state and each table's row count
/// (one snapshot). Reads only: a database without the schema is reported
/// (`problem`), never migrated.
fn pg_status(server: &admin::Server) -> serde_json::Value {
    let name = server.name();
    let mut v = json!({
        "server": name,
        "dsn_source": server.dsn_source(),
        "databases": server.targets.iter().map(|t| t.value()).collect::<Vec<_>>(),
        "schema": null,
        "tables": [],
        "problem": null,
    });
    let read = (|| -> aragora_db::Result<_> {
        let mut client = server.pool.get()?;
        let st = admin::schema_state(&mut client, &name)?;
        if !st.versions_table {
            return Err(admin::no_schema(&name));
        }
        let counts = admin::row_counts(&mut client, &name, &st)?;
        Ok((st, counts))
    })();
    match read {
        Ok((st, counts)) => {
            let too_new = st.too_new().len();
            let state = if st.is_current() {
                "current"
            } else if too_new > 0 {
                "too new"
            } else {
                "pending"
            };
            v["schema"] = json!({
                "state": state,
                "tables": st.tables.len(),
                "current": st.tables.iter().filter(|t| t.state() == "current").count(),
            });
            v["tables"] = st
                .tables
                .iter()
                .map(|t| {
                    json!({
                        "table": t.pg_name,
                        "rows": counts.get(&t.pg_name),
                        "schema_version": t.recorded,
                        "declared_version": t.declared,
                        "state": t.state(),
                    })
                })
                .collect();
            if too_new > 0 {
                v["problem"] = json!(format!(
                    "PostgreSQL {name}: {too_new} tables are at a schema version newer than this binary knows"
                ));
            }
        }
        Err(e) => v["problem"] = json!(e.to_string()),
    }
    v
}

fn print_pg(p: &serde_json::Value) -> aragora_db::Result<()> {
    let dbs = p["databases"].as_array().map_or(0, Vec::len);
    out(format!(
        "PostgreSQL {} (from {}, {dbs} databases and stores)",
        p["server"].as_str().unwrap_or_default(),
        p["dsn_source"].as_str().unwrap_or_default()
    ))?;
    if let Some(s) = p["schema"].as_object() {
        out(format!(
            "  schema {}: {} of {} tables at the declared version",
            s["state"].as_str().unwrap_or_default(),
            s["current"],
            s["tables"]
        ))?;
    }
    for t in p["tables"].as_array().into_iter().flatten() {
        let version = match t["schema_version"].as_i64() {
            Some(v) => format!("schema v{v}"),
            None => "no version".into(),
        };
        let rows = match t["rows"].as_i64() {
            Some(n) => format!("{n:>10} rows"),
            None => format!("{:>15}", "missing"),
        };
        let state = match t["state"].as_str() {
            Some("current") | None => String::new(),
            Some(s) => format!("  ({s})"),
        };
        out(format!(
            "  {:<36} {rows}  {version}{state}",
            t["table"].as_str().unwrap_or_default()
        ))?;
    }
    Ok(())
}
