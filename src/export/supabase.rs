//! Supabase layout: `supabase/migrations/<version>_aragora_schema.sql`
//! holds the schema (tables, keys, indexes, foreign keys) and
//! `supabase/seed.sql` the data, as `supabase db reset` applies them:
//! migrations first, then the seed.
//!
//! The migration is guarded (`CREATE TABLE IF NOT EXISTS`, `CREATE INDEX IF
//! NOT EXISTS`, keys and foreign keys added only when missing), so it
//! applies again and after the original Aragora's own migration, which
//! creates some of the same tables. Its name is found, not made up, when
//! the folder has one: a re-export writes to the `*_aragora_schema.sql`
//! already there; only a folder without one gets a new version (the
//! current UTC time, or one past the newest migration if that is later,
//! so it applies after every migration already in the folder). The files
//! are written through [`super::files`]: the same bytes leave a file as it
//! was (nothing is written), different bytes are refused without `force`.
//!
//! The seed uses `INSERT` statements unless COPY is asked for explicitly:
//! the Supabase CLI runs `seed.sql` through its own driver, which has no
//! `COPY … FROM stdin`. Foreign keys are `DEFERRABLE INITIALLY DEFERRED`,
//! so the seed (one transaction) loads in table order regardless of
//! references; identity sequences are set with `setval`; a foreign key
//! whose data references missing parents is left out of the migration and
//! added `NOT VALID` at the end of the seed, after the deferred checks.

use super::files::{self, Outcome, Output};
use super::{
    END, Options, PREAMBLE, Report, Rows, plan_all, write_data, write_err, write_keys, write_tables,
};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// How the seed writes rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedData {
    /// `INSERT` statements (what the Supabase CLI can run).
    Inserts,
    /// COPY blocks (for loading the seed with psql).
    Copy,
}

/// What the migration file of an export is called, after its version.
pub const MIGRATION_SUFFIX: &str = "_aragora_schema.sql";

/// Writes the Supabase folder under `dir`; returns each file with what
/// happened to it. `timestamp` (`YYYYMMDDHHMMSS`) versions a new
/// migration. A file that exists with other content is an error naming it,
/// and nothing is written, unless `force`.
pub fn write(
    dir: &Path,
    rows: &dyn Rows,
    opts: &Options,
    seed: SeedData,
    timestamp: &str,
    force: bool,
) -> Result<(Vec<(PathBuf, Outcome)>, Report)> {
    let (plans, mut report) = plan_all(rows)?;
    let base = dir.join("supabase");
    let migrations = base.join("migrations");
    crate::fsutil::private_dir(&migrations)?;
    let mut outputs = Vec::new();
    if opts.part != super::Part::DataOnly {
        // The schema is small: made once (its notes go to the report once).
        let mut sql = PREAMBLE.as_bytes().to_vec();
        write_tables(&mut sql, &plans, &mut report, true)?;
        write_keys(&mut sql, &plans, false, true)?;
        sql.extend_from_slice(END.as_bytes());
        let dest = migration_path(&migrations, timestamp)?;
        outputs.push(Output {
            write: Box::new(move |w| w.write_all(&sql).map_err(write_err)),
            dest,
        });
    }
    if opts.part != super::Part::SchemaOnly {
        let plans = &plans;
        outputs.push(Output {
            dest: base.join("seed.sql"),
            write: Box::new(move |w| {
                w.write_all(PREAMBLE.as_bytes()).map_err(write_err)?;
                write_data(w, plans, rows, seed == SeedData::Inserts)?;
                write_keys(w, plans, true, true)?;
                w.write_all(END.as_bytes()).map_err(write_err)
            }),
        });
    }
    Ok((files::put(outputs, force)?, report))
}

/// The migration file: the folder's `<digits>_aragora_schema.sql` if it has
/// one, else a new one versioned `timestamp`, or one past the newest
/// migration of the folder when that is not earlier. Several of ours is an
/// error naming them (which one to write would be a guess).
pub fn migration_path(migrations: &Path, timestamp: &str) -> Result<PathBuf> {
    let mut ours = Vec::new();
    let mut newest: Option<u128> = None;
    let entries = std::fs::read_dir(migrations).map_err(|e| Error::io("list", migrations, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io("list", migrations, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || !name[digits.len()..].starts_with('_') || !name.ends_with(".sql") {
            continue;
        }
        if let Ok(v) = digits.parse::<u128>() {
            newest = newest.max(Some(v));
        }
        if name.len() == digits.len() + MIGRATION_SUFFIX.len() && name.ends_with(MIGRATION_SUFFIX) {
            ours.push(e.path());
        }
    }
    ours.sort();
    match ours.len() {
        0 => {}
        1 => return Ok(ours.remove(0)),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "{}: holds several aragora migrations ({}); expected at most one, remove the older ones",
                migrations.display(),
                ours.iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let version = match (timestamp.parse::<u128>(), newest) {
        (Ok(t), Some(n)) if n >= t => (n + 1).to_string(),
        _ => timestamp.to_string(),
    };
    Ok(migrations.join(format!("{version}{MIGRATION_SUFFIX}")))
}

/// A migration timestamp, `YYYYMMDDHHMMSS` in UTC (the Supabase CLI's form).
pub fn timestamp_now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()
}
