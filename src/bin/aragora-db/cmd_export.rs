//! `aragora-db export --format postgres|supabase [--schema-only|--data-only]
//! [--tables T,...] [--inserts] [--out FILE|DIR] [--force]`.
//!
//! Exports every declared table of every existing database file of the
//! current mode (files that do not exist are reported, not created). The
//! `postgres` script goes to stdout unless `--out FILE`; `supabase` writes
//! `DIR/supabase/migrations/<version>_aragora_schema.sql` (the one already
//! there, if any) and `DIR/supabase/seed.sql`. A file that exists with the
//! same content is left as it is; with different content the export is
//! refused, naming it, unless `--force`. Every note of the report (widened columns,
//! undeclared columns, dangling references, renamed identifiers) is printed
//! on stderr. See docs/EXPORT.md.
//!
//! Files are opened read-only. A file that cannot be read (damaged) is
//! reported on stderr and its tables left out; the others are exported and
//! the exit status is 1.

use aragora_db::config::Config;
use aragora_db::export::{self, Options, Part, files, supabase};
use aragora_db::ops::export_rows::StoreRows;
use aragora_db::{Error, Result};
use std::path::PathBuf;

pub struct Args {
    pub format: String,
    pub schema_only: bool,
    pub data_only: bool,
    pub tables: Option<Vec<String>>,
    pub inserts: bool,
    pub copy_seed: bool,
    pub out: Option<PathBuf>,
    pub force: bool,
}

pub fn run(config: &Config, a: Args) -> Result<()> {
    crate::files_only::check(
        config,
        "export",
        "the stores on PostgreSQL are there already (pg_dump writes a script of them)",
    )?;
    let opts = Options {
        part: match (a.schema_only, a.data_only) {
            (true, _) => Part::SchemaOnly,
            (_, true) => Part::DataOnly,
            _ => Part::All,
        },
        inserts: a.inserts,
    };
    let rows = StoreRows::open(config, a.tables.as_deref())?;
    if !rows.missing.is_empty() {
        let names: Vec<String> = rows
            .missing
            .iter()
            .map(|(p, t)| format!("{} ({} tables)", p.display(), t.len()))
            .collect();
        eprintln!(
            "note: {} database file(s) do not exist and are not exported: {}",
            names.len(),
            names.join(", ")
        );
    }
    for (path, table, n) in &rows.copies {
        eprintln!(
            "note: {}: its own {table} ({n} rows, the original's copy in that file) is not exported: the export has one {table}, from the table's owner file",
            path.display()
        );
    }
    for (p, n) in &rows.notes {
        eprintln!("note: {}: {n}", p.display());
    }
    for u in &rows.unreadable {
        for line in u.lines() {
            eprintln!("{line}");
        }
    }
    if !rows.unreadable.is_empty() {
        eprintln!(
            "note: the tables of {} unreadable file(s) are not exported; the other files are",
            rows.unreadable.len()
        );
    }
    let report = if a.format == "supabase" {
        let dir = a.out.ok_or_else(|| {
            Error::InvalidArgument("--format supabase writes a folder: give --out DIR".into())
        })?;
        // The Supabase CLI cannot run COPY FROM stdin: the seed is INSERTs
        // unless --copy-seed asks for COPY blocks (for loading with psql).
        let seed = if a.copy_seed {
            supabase::SeedData::Copy
        } else {
            supabase::SeedData::Inserts
        };
        let (files, report) = crate::cmd_backup::with_spinner("exporting every table", || {
            supabase::write(
                &dir,
                &rows,
                &opts,
                seed,
                &supabase::timestamp_now(),
                a.force,
            )
        })?;
        for (f, outcome) in files {
            eprintln!("{} {}", outcome.verb(), f.display());
        }
        report
    } else {
        match &a.out {
            Some(path) => {
                // 0600 whatever the umask: the script holds every row. An
                // existing file with other content is refused unless --force.
                let mut report = None;
                let out = files::Output {
                    dest: path.clone(),
                    write: Box::new(|w| {
                        report = Some(export::write_postgres(w, &rows, &opts)?);
                        Ok(())
                    }),
                };
                let put = crate::cmd_backup::with_spinner("exporting every table", || {
                    files::put(vec![out], a.force)
                })?;
                for (f, outcome) in put {
                    eprintln!("{} {}", outcome.verb(), f.display());
                }
                report.ok_or_else(|| Error::InvalidArgument("export wrote nothing".into()))?
            }
            None => {
                let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                export::write_postgres(&mut w, &rows, &opts)?
            }
        }
    };
    for n in &report.notes {
        eprintln!("note: {}: {}", n.table, n.message);
    }
    eprintln!(
        "exported {} table(s), {} row(s); {} note(s)",
        report.tables.len(),
        report.rows(),
        report.notes.len()
    );
    if !rows.unreadable.is_empty() {
        return Err(aragora_db::unreadable::summary_error(
            "export",
            &rows.unreadable,
        ));
    }
    Ok(())
}

/// `export --to DSN`: every row of the embedded store into a live
/// PostgreSQL database (`ops::to_postgres`).
pub fn run_to(
    config: &Config,
    dsn: &str,
    tables: Option<Vec<String>>,
    dry_run: bool,
) -> Result<()> {
    // A malformed string is refused before anything is read.
    let target = aragora_db::config::dsn::Dsn::parse("--to", dsn)?.to_string();
    let open = || aragora_db::db::pg::open_dsn(config, "--to", dsn);
    let opts = aragora_db::ops::to_postgres::Options { tables, dry_run };
    let report = crate::cmd_backup::with_spinner("moving every table to PostgreSQL", || {
        aragora_db::ops::to_postgres::to_postgres(config, &target, &open, &opts)
    })?;
    if crate::output::json_mode() {
        let v = serde_json::to_value(&report).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        crate::output::json(&serde_json::json!({ "command": "export", "move": v }))?;
    } else {
        eprint!("{}", report.render());
    }
    Ok(())
}
