//! Creating the declared tables in a PostgreSQL database, with the same
//! DDL generator as the exporter (keys, UNIQUE indexes, foreign keys with
//! their ON DELETE actions), so PostgreSQL enforces what the embedded
//! store enforces.

use super::rows::pg_error;
use super::shape::live_type;
use crate::error::Result;
use crate::export::{ddl, ident, plan};
use crate::table::TableDef;
use std::path::Path;

/// The statements that create `tables` (and skip what exists).
pub fn statements(tables: &[&'static TableDef]) -> Result<Vec<String>> {
    let mut relations = ident::Names::new();
    let mut plans: Vec<plan::TablePlan> = tables
        .iter()
        .map(|&def| {
            let mut p = plan::TablePlan::new(def);
            let _ = p.settle(&mut relations);
            for c in &mut p.columns {
                c.ty = live_type(c.def.sql);
                c.declared = c.ty;
            }
            p
        })
        .collect();
    let _ = plan::settle_foreign_keys(&mut plans);
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for p in &plans {
        out.push(ddl::create_table(p, &mut notes, true)?);
    }
    for p in &plans {
        out.push(ddl::primary_key(p, true)?);
        out.push(ddl::indexes(p, true)?);
    }
    let all: Vec<&plan::TablePlan> = plans.iter().collect();
    for p in &plans {
        out.push(ddl::foreign_keys(p, &all, false, true)?);
    }
    out.retain(|s| !s.trim().is_empty());
    Ok(out)
}

/// Creates `tables` in the database `client` is connected to, in one
/// transaction, serialised against other processes doing the same.
pub fn create(
    client: &mut postgres::Client,
    origin: &Path,
    tables: &[&'static TableDef],
) -> Result<()> {
    let mut sql = String::from("BEGIN;\nSELECT pg_advisory_xact_lock(7215402117);\n");
    sql.push_str(&format!(
        "CREATE TABLE IF NOT EXISTS {} (table_name text PRIMARY KEY, last_id bigint NOT NULL);\n",
        super::rows::SEQUENCES
    ));
    for s in statements(tables)? {
        sql.push_str(&s);
        sql.push('\n');
    }
    sql.push_str("COMMIT;\n");
    client
        .batch_execute(&sql)
        .map_err(|e| pg_error(origin, "create the schema", e))
}
