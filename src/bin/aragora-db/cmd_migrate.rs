//! `aragora-db migrate --status | --dry-run | --migrate [--db NAME]` (see
//! `aragora_db::ops::migrate`; new steps come from `tools/new-migration`).

use crate::output::{out, record};
use aragora_db::config::{BackendKind, Config, DbTarget};
use aragora_db::ops::migrate;
use aragora_db::pg::admin;
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
    let server = aragora_db::pg::admin::server(config)?;
    let on_pg = |t: DbTarget| config.backend.kind_for(t) == BackendKind::Postgres;
    let embedded = match only {
        Some(t) => !on_pg(t),
        None => DbTarget::all().any(|t| !on_pg(t)),
    };
    if let Some(server) = &server
        && only.is_none_or(on_pg)
    {
        pg(server, &a)?;
    }
    if embedded {
        run_embedded(config, only, &a)?;
    }
    Ok(())
}

/// `migrate` on the PostgreSQL server (one schema for every store on it).
fn pg(server: &admin::Server, a: &Args<'_>) -> Result<()> {
    let name = server.name();
    if a.dry_run {
        // Prints the SQL only: nothing is run, no connection is opened.
        let steps = aragora_db::pg::schema::steps()?;
        for (i, sql) in steps.iter().enumerate() {
            record(
                format!("-- {name}: step {} of {}\n{sql}", i + 1, steps.len()),
                serde_json::json!({ "server": name, "step": i + 1, "sql": sql, "dry_run": true }),
            )?;
        }
        return Ok(());
    }
    if a.migrate {
        let r = crate::cmd_backup::with_spinner("migrating the PostgreSQL schema", || {
            admin::migrate(&server.pool)
        })?;
        for t in &r.created {
            record(
                format!("{name}: created table {t}"),
                serde_json::json!({ "server": name, "table": t, "action": "created" }),
            )?;
        }
        for (t, c, k, i) in &r.altered {
            record(
                format!("{name}: table {t}: added {c} columns, {k} constraints, {i} indexes"),
                serde_json::json!({ "server": name, "table": t, "action": "altered",
                    "columns": c, "constraints": k, "indexes": i }),
            )?;
        }
        for (t, v) in &r.recorded {
            record(
                format!("{name}: recorded {t} at schema version {v}"),
                serde_json::json!({ "server": name, "table": t, "action": "recorded", "version": v }),
            )?;
        }
        if r.nothing_done() {
            out(format!(
                "{name}: schema up to date ({} tables): nothing to do",
                r.after.tables.len()
            ))?;
        } else {
            out(format!(
                "{name}: {} tables created, {} altered, {} versions recorded ({} steps run)",
                r.created.len(),
                r.altered.len(),
                r.recorded.len(),
                r.steps
            ))?;
        }
        return Ok(());
    }
    let mut client = server.pool.get()?;
    let st = admin::schema_state(&mut client, &name)?;
    let tables: Vec<_> = st
        .tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "table": t.pg_name,
                "declared": t.declared,
                "recorded": t.recorded,
                "state": t.state(),
            })
        })
        .collect();
    let current = st.tables.iter().filter(|t| t.state() == "current").count();
    let mut text = if st.versions_table {
        format!("{name}: {} tables, {current} up to date", st.tables.len())
    } else {
        format!(
            "{name}: no schema ({} does not exist): `migrate --migrate` creates {} tables",
            admin_versions_table(),
            st.tables.len()
        )
    };
    for t in st
        .tables
        .iter()
        .filter(|t| st.versions_table && t.state() != "current")
    {
        text.push_str(&format!(
            "\n  {:<36} recorded {:<5} declared v{}  {}",
            t.pg_name,
            t.recorded.map_or("-".to_string(), |v| format!("v{v}")),
            t.declared,
            t.state()
        ));
    }
    record(
        text,
        serde_json::json!({
            "server": name,
            "versions_table": st.versions_table,
            "tables": tables,
        }),
    )?;
    let too_new = st.too_new();
    if !too_new.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "PostgreSQL {name}: {} tables are at a schema version newer than this binary knows ({})",
            too_new.len(),
            too_new
                .iter()
                .map(|t| t.pg_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

fn admin_versions_table() -> &'static str {
    aragora_db::export::pgshape::VERSIONS_TABLE
}

fn run_embedded(config: &Config, only: Option<DbTarget>, a: &Args<'_>) -> Result<()> {
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
        return Err(Error::InvalidArgument(format!(
            "{problems} files or tables cannot be migrated by this binary"
        )));
    }
    Ok(())
}
