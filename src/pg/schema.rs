//! Bringing a PostgreSQL database to the declared schema: the exporter's
//! migration steps (every declared table, with its keys, UNIQUE indexes and
//! foreign keys with their ON DELETE actions, so PostgreSQL enforces what
//! the embedded store enforces; versions recorded; two processes starting
//! at once serialised by an advisory lock), and the backend's own
//! AUTOINCREMENT sequence table.

use super::rows::{SEQUENCES, pg_error};
use crate::error::Result;
use crate::export::pgshape::{SCHEMA_LOCK, VERSIONS_TABLE, all, c_collated, migration_steps};
use std::path::Path;

/// The SQL that brings a database to the declared schema, step by step
/// (each a whole transaction; idempotent).
pub fn steps() -> Result<Vec<String>> {
    let mut out: Vec<String> = migration_steps()?.into_iter().map(|s| s.sql).collect();
    out.push(format!(
        "BEGIN;\nSELECT pg_catalog.pg_advisory_xact_lock({SCHEMA_LOCK});\n\
         CREATE TABLE IF NOT EXISTS {SEQUENCES} (table_name text PRIMARY KEY, last_id bigint NOT NULL);\n\
         COMMIT;\n"
    ));
    Ok(out)
}

/// Whether the database is already at the declared schema: every
/// declared table recorded at its version (the migration step records them
/// in the same transaction that creates them) and the sequence table
/// there. Plain reads, no lock taken.
pub fn up_to_date(client: &mut postgres::Client, origin: &Path) -> Result<bool> {
    let tables = all();
    let mut values = Vec::with_capacity(tables.len());
    for t in &tables {
        let mut lit = String::new();
        crate::export::inserts::literal_into(&mut lit, &t.name);
        values.push(format!("({lit}, {})", t.def.version));
    }
    let sql = format!(
        "SELECT count(*) = {n} FROM (VALUES {vals}) AS d(table_name, version) \
         WHERE EXISTS (SELECT 1 FROM {VERSIONS_TABLE} v \
         WHERE v.table_name = d.table_name AND v.version = d.version)",
        n = tables.len(),
        vals = values.join(", ")
    );
    // A query naming a missing table fails: look for the tables first.
    let exists: bool = client
        .query_one(
            &format!(
                "SELECT to_regclass('{VERSIONS_TABLE}') IS NOT NULL \
                 AND to_regclass('{SEQUENCES}') IS NOT NULL"
            ),
            &[],
        )
        .map_err(|e| pg_error(origin, "read the schema versions", e))?
        .get(0);
    if !exists {
        return Ok(false);
    }
    let row = client
        .query_one(&sql, &[])
        .map_err(|e| pg_error(origin, "read the schema versions", e))?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    // Every column of every shape, too: a database created before a
    // column joined the shapes (`_extra`) is brought up to date by the
    // same guarded step, which adds the columns a table lacks.
    let (names, columns): (Vec<String>, Vec<String>) = tables
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(|c| c.pg_name.clone())
                .chain(t.search.iter().map(|s| s.column.clone()))
                .map(|c| (t.name.clone(), c))
        })
        .unzip();
    let row = client
        .query_one(
            "SELECT count(*) = cardinality($1::text[]) FROM unnest($1::text[], $2::text[]) AS d(t, c) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = to_regclass(quote_ident(d.t)) \
             AND a.attname = d.c AND NOT a.attisdropped",
            &[&names, &columns],
        )
        .map_err(|e| pg_error(origin, "read the schema's columns", e))?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    // Every text key column "C": a table made before they were (or by the
    // original's migration) is altered by the same guarded step. A key
    // column of another type there (an older table's `uuid`) is left be.
    let (names, columns): (Vec<String>, Vec<String>) = tables
        .iter()
        .flat_map(|t| c_collated(t).map(|c| (t.name.clone(), c.to_string())))
        .unzip();
    let row = client
        .query_one(
            "SELECT NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS d(t, c) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = to_regclass(quote_ident(d.t)) \
             AND a.attname = d.c AND a.atttypid = 'pg_catalog.text'::regtype \
             AND a.attcollation <> 'pg_catalog.\"C\"'::regcollation)",
            &[&names, &columns],
        )
        .map_err(|e| pg_error(origin, "read the key columns' collations", e))?;
    Ok(row.get(0))
}

/// Runs [`steps`] on the database `client` is connected to, unless it is
/// [`up_to_date`]: the steps' `ALTER TABLE … IF NOT EXISTS` take an ACCESS
/// EXCLUSIVE lock on every table even when they change nothing, so a
/// process starting while others work would wait for their transactions,
/// block everyone behind it, and deadlock with their row locks.
pub fn create(client: &mut postgres::Client, origin: &Path) -> Result<()> {
    if up_to_date(client, origin)? {
        return Ok(());
    }
    for sql in steps()? {
        client
            .batch_execute(&sql)
            .map_err(|e| pg_error(origin, "bring the schema up to date", e))?;
    }
    Ok(())
}
