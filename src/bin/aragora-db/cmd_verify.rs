//! `aragora-db verify [--show-inherited] [--json]`: checks every existing
//! database file of the current mode (see `aragora_db::ops::verify`) and
//! lists every problem. Exits non-zero when there is one, or when there is
//! no database file to verify (a wrong data directory must not pass).
//!
//! Dangling references the original left and the import recorded
//! (`aragora_db::db::inherited`) are warnings: counted per table and
//! foreign key, listed one by one with `--show-inherited`.

use crate::output::{json, out};
use aragora_db::config::{BackendKind, Config};
use aragora_db::ops::verify::{self, Integrity};
use aragora_db::pg::admin;
use aragora_db::{Error, Result};

pub fn run(config: &Config, as_json: bool, show_inherited: bool) -> Result<()> {
    // Files of the stores on the embedded backend; the stores on
    // PostgreSQL are checked on the server (one report for it).
    let embedded: std::collections::BTreeSet<_> = config
        .all_db_paths()?
        .into_iter()
        .filter(|(t, _)| config.backend.kind_for(*t) == BackendKind::Embedded)
        .map(|(_, f)| f.path)
        .collect();
    let server = admin::server(config)?;
    let reports = crate::cmd_backup::with_spinner(
        "verifying (integrity check, every row and index entry)",
        || -> Result<Vec<verify::FileReport>> {
            let mut out = Vec::new();
            if let Some(server) = &server {
                out.push(verify_pg(server)?);
            }
            if !embedded.is_empty() {
                out.extend(
                    verify::verify_all(config)?
                        .into_iter()
                        .filter(|r| embedded.contains(&r.path)),
                );
            }
            Ok(out)
        },
    )?;
    let problems: usize = reports.iter().map(|r| r.problems.len()).sum();
    let inherited: usize = reports.iter().map(|r| r.inherited.len()).sum();
    if as_json {
        let v = serde_json::json!({
            "data_dir": config.data_dir,
            "mode": config.mode.as_str(),
            "files": reports,
            "problems": problems,
            "inherited": inherited,
        });
        json(&v)?;
    } else {
        for (i, r) in reports.iter().enumerate() {
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
            let integrity = if server.is_some() && i == 0 {
                "checked against pg_catalog".to_string()
            } else {
                format!("redb integrity {integrity}")
            };
            out(format!(
                "{}: {} tables, {rows} rows, {integrity}, {} problems{damaged}",
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
            if !r.inherited.is_empty() {
                out(format!(
                    "  warning: {} inherited dangling references (left by the original, recorded at import){}",
                    r.inherited.len(),
                    if show_inherited {
                        ""
                    } else {
                        "; --show-inherited lists them"
                    }
                ))?;
                let mut by_table = std::collections::BTreeMap::<&str, usize>::new();
                for p in &r.inherited {
                    *by_table.entry(p.table.as_str()).or_default() += 1;
                }
                for (table, n) in by_table {
                    out(format!("    {table}: {n}"))?;
                }
                if show_inherited {
                    for p in &r.inherited {
                        out(format!("    inherited: {p}"))?;
                    }
                }
            }
            if let Some(cmd) = &r.salvage {
                out(format!("  run {cmd} to recover its readable rows"))?;
            }
        }
    }
    if reports.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no database files in {} ({} mode): nothing to verify (is the data directory right?)",
            config.data_dir.display(),
            config.mode.as_str()
        )));
    }
    if problems > 0 {
        return Err(Error::InvalidArgument(format!(
            "verify found {problems} problems in {} files",
            reports.iter().filter(|r| !r.problems.is_empty()).count()
        )));
    }
    Ok(())
}

/// The PostgreSQL server's report, in the shape of a file's: its path is
/// the redacted DSN; tables, columns, keys and versions are checked against
/// the declarations in pg_catalog (no redb integrity check applies).
fn verify_pg(server: &admin::Server) -> Result<verify::FileReport> {
    let name = server.name();
    let mut client = server.pool.get()?;
    let r = admin::verify(&mut client, &name)?;
    Ok(verify::FileReport {
        path: name.into(),
        integrity: Integrity::Skipped(
            "PostgreSQL: tables, columns, keys and versions checked against pg_catalog".into(),
        ),
        tables: r
            .tables
            .into_iter()
            .map(|(table, rows)| verify::TableSummary {
                table,
                rows: rows.map(|n| n as u64),
            })
            .collect(),
        problems: r.problems.into_iter().map(problem_out).collect(),
        inherited: r.inherited.into_iter().map(problem_out).collect(),
        notes: Vec::new(),
        salvage: None,
    })
}

fn problem_out(p: admin::Problem) -> verify::ProblemOut {
    verify::ProblemOut {
        table: p.table,
        key: p.key,
        what: p.what,
    }
}
