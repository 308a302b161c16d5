//! Bringing a PostgreSQL database to the declared schema: the exporter's
//! migration steps (every declared table, with its keys, UNIQUE indexes and
//! foreign keys with their ON DELETE actions, so PostgreSQL enforces what
//! the embedded store enforces; versions recorded; two processes starting
//! at once serialised by an advisory lock), and the backend's own
//! AUTOINCREMENT sequence table.

use super::rows::{SEQUENCES, pg_error};
use crate::error::Result;
use crate::export::pgshape::{SCHEMA_LOCK, migration_steps};
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

/// Runs [`steps`] on the database `client` is connected to.
pub fn create(client: &mut postgres::Client, origin: &Path) -> Result<()> {
    for sql in steps()? {
        client
            .batch_execute(&sql)
            .map_err(|e| pg_error(origin, "bring the schema up to date", e))?;
    }
    Ok(())
}
