//! Bringing a PostgreSQL database to the declared schema: the exporter's
//! migration steps (every declared table, with its keys, UNIQUE indexes and
//! foreign keys with their ON DELETE actions, so PostgreSQL enforces what
//! the embedded store enforces; versions recorded; two processes starting
//! at once serialised by an advisory lock), and the backend's own
//! AUTOINCREMENT sequence table.

use super::rows::{SEQUENCES, pg_error};
use super::shape::{TIME_BOUND, TIME_KEY};
use crate::error::Result;
use crate::export::pgshape::{SCHEMA_LOCK, VERSIONS_TABLE, all, c_collated, migration_steps};
use std::path::Path;

/// The function that orders a timestamp kept as `text` as the embedded
/// store's index keys do ([`crate::table::keys::encode_time_into`]): NULL
/// stays NULL (ordered first, as every NULL); text that is no time is
/// `'0' || text`; a time is `'1'`, its instant in microseconds as 22 fixed
/// digits (offset so that they are never negative), then the text. Under
/// the "C" collation that is NULL, then what is no time (by text), then
/// instants (ties by text), as the embedded keys order. It reads the
/// shapes `crate::time::parse` reads: ISO dates and times with `T` or a
/// space, an optional fraction, and `Z` or a `±HH:MM` offset (UTC when
/// there is none), a date alone, and Unix epoch seconds; anything
/// PostgreSQL itself cannot take as a time (out of its range, or a
/// fraction finer than a microsecond, which it rounds) may order
/// differently from the embedded store (docs/POSTGRES.md, "Time order").
/// Its name carries a version: a changed body is a new function, so a
/// database never mixes two orders.
///
/// A range bound on such a column compares instants, not spellings, as
/// the embedded store's bounds do (`crate::table::layout::bound`): the
/// second function gives the key of the bound's instant alone (`after`:
/// the key just past every key of that instant; no key equals either).
pub fn time_key_function() -> String {
    format!(
        r#"CREATE OR REPLACE FUNCTION {TIME_KEY}(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $aragora$
DECLARE
  s text := pg_catalog.btrim(t, E' \t\n\r\f\v');
  at timestamptz;
  n double precision;
BEGIN
  IF s ~ '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}[Tt ][0-9]{{1,2}}:[0-9]{{1,2}}:[0-9]{{1,2}}(\.[0-9]+)?([Zz]|[+-][0-9]{{2}}:?[0-9]{{2}})$' THEN
    at := s::timestamptz;
  ELSIF s ~ '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}[T ][0-9]{{1,2}}:[0-9]{{1,2}}:[0-9]{{1,2}}(\.[0-9]+)?$' THEN
    at := (s || '+00')::timestamptz;
  ELSIF s ~ '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}$' THEN
    at := (s || ' 00:00:00+00')::timestamptz;
  ELSIF s ~* '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$' THEN
    n := s::double precision;
    IF n <> n OR abs(floor(n)) > 1e13 THEN
      RETURN '0' || t;
    END IF;
    at := pg_catalog.to_timestamp(n);
  ELSE
    RETURN '0' || t;
  END IF;
  RETURN '1' || pg_catalog.lpad((trunc(extract(epoch FROM at) * 1000000) + 100000000000000000000)::text, 22, '0') || t;
EXCEPTION WHEN others THEN
  RETURN '0' || t;
END
$aragora$;
CREATE OR REPLACE FUNCTION {TIME_BOUND}(t text, after boolean) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $aragora$
  SELECT CASE
    WHEN left(k, 1) <> '1' THEN k
    WHEN after THEN left(k, 22) || chr(ascii(substr(k, 23, 1)) + 1)
    ELSE left(k, 23)
  END
  FROM (SELECT {TIME_KEY}(t) AS k) AS key
$aragora$;"#
    )
}

/// The SQL that brings a database to the declared schema, step by step
/// (each a whole transaction; idempotent).
pub fn steps() -> Result<Vec<String>> {
    let mut out: Vec<String> = migration_steps()?.into_iter().map(|s| s.sql).collect();
    out.push(format!(
        "BEGIN;\nSELECT pg_catalog.pg_advisory_xact_lock({SCHEMA_LOCK});\n{}\nCOMMIT;\n",
        time_key_function()
    ));
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
                 AND to_regclass('{SEQUENCES}') IS NOT NULL \
                 AND to_regprocedure('{TIME_BOUND}(text, boolean)') IS NOT NULL"
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
