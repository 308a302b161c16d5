//! Supabase layout: `supabase/migrations/<timestamp>_aragora_schema.sql`
//! holds the schema (tables, keys, indexes, foreign keys) and
//! `supabase/seed.sql` the data, as `supabase db reset` applies them:
//! migrations first, then the seed.
//!
//! The seed uses `INSERT` statements unless COPY is asked for explicitly:
//! the Supabase CLI runs `seed.sql` through its own driver, which has no
//! `COPY … FROM stdin`. Foreign keys are `DEFERRABLE INITIALLY DEFERRED`,
//! so the seed (one transaction) loads in table order regardless of
//! references; a foreign key whose data references missing parents is
//! left out of the migration and added `NOT VALID` at the end of the seed.

use super::{END, Options, PREAMBLE, Report, Rows, plan_all, write_data, write_keys, write_tables};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How the seed writes rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedData {
    /// `INSERT` statements (what the Supabase CLI can run).
    Inserts,
    /// COPY blocks (for loading the seed with psql).
    Copy,
}

/// Writes the Supabase folder under `dir`; returns the files written.
pub fn write(
    dir: &Path,
    rows: &dyn Rows,
    opts: &Options,
    seed: SeedData,
    timestamp: &str,
) -> Result<(Vec<PathBuf>, Report)> {
    let (plans, mut report) = plan_all(rows)?;
    let base = dir.join("supabase");
    let migrations = base.join("migrations");
    crate::ops::fsutil::private_dir(&migrations)?;
    let mut files = Vec::new();
    if opts.part != super::Part::DataOnly {
        let path = migrations.join(format!("{timestamp}_aragora_schema.sql"));
        let mut f = create(&path)?;
        f.write_all(PREAMBLE.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        write_tables(&mut f, &plans, &mut report)?;
        write_keys(&mut f, &plans, false)?;
        f.write_all(END.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        f.flush().map_err(|e| Error::io("write", &path, e))?;
        files.push(path);
    }
    if opts.part != super::Part::SchemaOnly {
        let path = base.join("seed.sql");
        let mut f = create(&path)?;
        f.write_all(PREAMBLE.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        write_data(&mut f, &plans, rows, seed == SeedData::Inserts)?;
        write_keys(&mut f, &plans, true)?;
        f.write_all(END.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        f.flush().map_err(|e| Error::io("write", &path, e))?;
        files.push(path);
    }
    Ok((files, report))
}

/// Creates a file 0600 whatever the umask (exports hold every row).
fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    crate::ops::fsutil::private_file(path).map(std::io::BufWriter::new)
}

/// A migration timestamp, `YYYYMMDDHHMMSS` in UTC (the Supabase CLI's form).
pub fn timestamp_now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()
}
