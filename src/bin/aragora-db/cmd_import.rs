//! `aragora-db import [--source DIR] [--dry-run] [--verify] [--json]`.
//!
//! Exit status: 0 when every source file was read and (with `--verify`)
//! every source row is accounted for; 1 otherwise, so a script never takes
//! an import that left a damaged or non-SQLite `.db` behind for a complete
//! one. Rejected rows are not a failure: they are kept in `import_rejects`
//! and listed in the report. Warnings are not a failure either: they name
//! what SQLite itself would not read (an ignored `-wal` or WAL frames, an
//! empty file), so the import holds exactly what SQLite would show.

use crate::output::{json, out, size};
use aragora_db::Database;
use aragora_db::config::Config;
use aragora_db::import::{self, Options, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

pub struct Args {
    pub source: Option<PathBuf>,
    pub dry_run: bool,
    pub verify: bool,
    pub staging: Option<PathBuf>,
    pub json: bool,
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar(Some(pb))
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(pb) = &self.0 {
            pb.set_length(total);
        }
    }
    fn message(&self, msg: &str) {
        if let Some(pb) = &self.0 {
            pb.set_message(msg.to_string());
        }
    }
    fn advance(&self, delta: u64) {
        if let Some(pb) = &self.0 {
            pb.inc(delta);
        }
    }
    fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// One line per target file: its size, tables and rows after the import.
fn short_status(config: &Config, report: &import::ImportReport) -> aragora_db::Result<()> {
    out(format!("status ({} mode):", config.mode.as_str()))?;
    let mut seen = std::collections::BTreeSet::new();
    for (target, file) in config.all_db_paths()? {
        let shown = file.path.display().to_string();
        if !report.targets.contains(&shown) || !seen.insert(shown.clone()) {
            continue;
        }
        let db = Database::open(config, target)?;
        let counts = db.table_counts()?;
        let rows: u64 = counts.iter().map(|(_, n)| n).sum();
        let bytes = std::fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
        out(format!(
            "  {shown:<48} {:>10}  {:>3} tables  {rows:>8} rows",
            size(bytes),
            counts.len()
        ))?;
    }
    Ok(())
}

pub fn run(config: &Config, args: Args) -> aragora_db::Result<()> {
    let source = args.source.unwrap_or_else(|| config.data_dir.clone());
    let opts = Options {
        source: source.clone(),
        dry_run: args.dry_run,
    };
    // With every store on PostgreSQL the rows go through a staging store
    // (ops::to_postgres::import_to_postgres); the report is the same.
    if aragora_db::pg::admin::server(config)?.is_some() {
        let done = aragora_db::ops::to_postgres::import_to_postgres(
            config,
            &opts,
            args.verify,
            args.staging.as_deref(),
            &Bar::new(),
        )?;
        if args.json {
            json(&serde_json::json!(done))?;
        } else {
            out(done.import.render().trim_end())?;
            if let Some(v) = &done.verify {
                out(v.render().trim_end())?;
            }
            out(done.r#move.render().trim_end())?;
        }
        if !done.import.errors.is_empty() {
            return Err(aragora_db::Error::InvalidArgument(format!(
                "{} source file(s) could not be imported",
                done.import.errors.len()
            )));
        }
        return Ok(());
    }
    if let Some(dir) = &args.staging {
        return Err(aragora_db::Error::InvalidArgument(format!(
            "--staging {}: a staging store is made only for an import into PostgreSQL \
             (ARAGORA_DB_BACKEND=postgres); this import writes into the data directory",
            dir.display()
        )));
    }
    let report = import::import(config, &opts, &Bar::new())?;
    let verified = if args.verify {
        Some(import::verify::verify(config, &source)?)
    } else {
        None
    };
    if args.json {
        json(&serde_json::json!({ "import": report, "verify": verified }))?;
    } else {
        out(report.render().trim_end())?;
        if let Some(v) = &verified {
            out(v.render().trim_end())?;
        }
        if !report.dry_run {
            short_status(config, &report)?;
        }
    }
    let mut failures = Vec::new();
    if !report.errors.is_empty() {
        failures.push(format!(
            "{} source file(s) could not be imported",
            report.errors.len()
        ));
    }
    if let Some(v) = &verified
        && !v.ok()
    {
        failures.push(format!(
            "verify found {} mismatched row(s) and {} unreadable file(s)",
            v.mismatch_count,
            v.errors.len()
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(aragora_db::Error::InvalidArgument(failures.join("; ")))
    }
}
