//! Command-line flags. Flags override the environment.

use aragora_db::config::{Config, DatabaseMode};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// aragora-db: Aragora's persistence layer on redb, in one binary.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// Data directory (default: ARAGORA_DATA_DIR, ARAGORA_NOMIC_DIR, NOMIC_DIR, then .nomic).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database mode (default: ARAGORA_DB_MODE, then legacy).
    #[arg(long, global = true, value_parser = ["legacy", "consolidated"])]
    pub mode: Option<String>,
    /// Print one JSON document on stdout instead of text (see docs/CLI.md;
    /// `dump` and `sqlite dump` print JSON lines, one row per line).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// The environment's configuration with the flags applied.
    ///
    /// A flag replaces its variable before the environment is read, so a
    /// bad `ARAGORA_DB_MODE` does not stop `--mode legacy` from working.
    pub fn config(&self) -> aragora_db::Result<Config> {
        let mode = self.mode.as_deref().map(DatabaseMode::parse).transpose()?;
        let mut c = Config::from_lookup(|k| match (k, mode) {
            ("ARAGORA_DB_MODE", Some(m)) => Some(m.as_str().to_string()),
            _ => std::env::var(k).ok(),
        })?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
            c.data_dir_source = "--data-dir";
        }
        // A data directory that does not exist yet is fine (it is created
        // when something is written); one that is a file is a mistake.
        if std::fs::metadata(&c.data_dir).is_ok_and(|m| !m.is_dir()) {
            return Err(aragora_db::Error::Config {
                name: c.data_dir_source.to_string(),
                value: c.data_dir.display().to_string(),
                expected: "a data directory, but it is not a directory".into(),
            });
        }
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the data directory, the mode, and every database with its file.
    Paths,
    /// Show every database file: size, tables, row counts, schema versions.
    Status,
    /// Print a table's rows (any declared table; an index is used when one fits).
    Dump {
        /// The table, e.g. users, audit_log, ratings.
        table: String,
        /// Only rows whose COLUMN equals VALUE.
        #[arg(long = "where", value_name = "COLUMN=VALUE", value_parser = column_eq_value)]
        filter: Option<String>,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["jsonl", "csv", "table"])]
        format: String,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Create a data directory, write and read users, organizations and
    /// audit events, then print the status. Refuses a data directory that
    /// is not empty (the demo's rows would mix with real data) unless --force.
    Demo {
        /// Write the demo's rows even into a data directory that has files.
        #[arg(long)]
        force: bool,
    },
    /// Check every database file: redb integrity, row CRCs, rows against
    /// indexes both ways, UNIQUE, NOT NULL, foreign keys. Exits 1 on any problem.
    Verify {
        /// List each dangling reference inherited from the original (recorded
        /// at import), not only their counts.
        #[arg(long)]
        show_inherited: bool,
    },
    /// Consistent online snapshot of every database file (one read
    /// transaction each) into DIR/YYYYMMDD_HHMMSS/ with a manifest.
    Backup {
        /// Directory that receives the backup directories (default: DATA/backup).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Remove backups in that directory older than this many days.
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        keep_days: u32,
    },
    /// Restore a backup directory: checks its manifest, every target (inside
    /// the data directory) and every table's digest first, refuses while a
    /// database is open, keeps a safety copy of the files it replaces in
    /// DATA/backup/pre-restore-*, and swaps the set through a journal so a
    /// crash leaves the old set or the new one.
    Restore {
        /// The backup directory (holding manifest.json).
        #[arg(required_unless_present = "recover")]
        backup: Option<PathBuf>,
        /// Do not copy the files being replaced to DATA/backup/pre-restore-*.
        #[arg(long, conflicts_with = "recover")]
        no_safety_copy: bool,
        /// Only complete a restore a crash interrupted (rolls it back or
        /// forward from the journal it left in the data directory).
        #[arg(long, conflicts_with = "backup")]
        recover: bool,
    },
    /// Apply retention: old audit events, aggregated-then-pruned usage
    /// events, expired share links and revoked tokens.
    Cleanup {
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy every readable row of a damaged file into a new file and list
    /// what could not be read (table, key, reason).
    Salvage {
        /// The damaged file (never modified).
        file: PathBuf,
        /// The new file to write (must not exist).
        #[arg(long, value_name = "NEW")]
        out: PathBuf,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Move every table between the legacy files and the four consolidated
    /// files (legacy -> consolidated; --reverse for the way back).
    #[command(group(clap::ArgGroup::new("consolidate_action").required(true).args(["dry_run", "migrate", "verify"])))]
    Consolidate {
        /// Show table by table what would move, with row counts.
        #[arg(long)]
        dry_run: bool,
        /// Move (backup first unless --no-backup).
        #[arg(long)]
        migrate: bool,
        /// Compare every entry of every moved table.
        #[arg(long)]
        verify: bool,
        /// Directory of the source files (default: the data directory).
        #[arg(long, value_name = "DIR")]
        source: Option<PathBuf>,
        /// Directory of the target files (default: the source).
        #[arg(long, value_name = "DIR")]
        target: Option<PathBuf>,
        /// Skip the backup before migrating.
        #[arg(long)]
        no_backup: bool,
        /// Consolidated -> legacy.
        #[arg(long)]
        reverse: bool,
    },
    /// Schema migrations: status, dry run, or run (a new step is scaffolded
    /// in the source tree by tools/new-migration).
    #[command(group(clap::ArgGroup::new("migrate_action").required(true).args(["status", "dry_run", "migrate"])))]
    Migrate {
        /// Each file's tables: recorded vs declared version, pending steps.
        #[arg(long)]
        status: bool,
        /// List the steps that would run.
        #[arg(long)]
        dry_run: bool,
        /// Run every pending step (each in one write transaction).
        #[arg(long)]
        migrate: bool,
        /// Only this database (e.g. elo, users).
        #[arg(long, value_name = "NAME")]
        db: Option<String>,
    },
    /// Export every table as SQL for PostgreSQL or Supabase (see docs/EXPORT.md).
    Export {
        /// `postgres`: one psql script; `supabase`: a migration and seed.sql under --out DIR.
        #[arg(long, value_parser = ["postgres", "supabase"], required_unless_present = "to")]
        format: Option<String>,
        /// Move every row into this live PostgreSQL database instead of
        /// writing SQL (one transaction, checked first, verified after; see
        /// docs/POSTGRES.md, "Moving a store to PostgreSQL").
        #[arg(long, value_name = "DSN", conflicts_with_all = ["format", "schema_only", "data_only", "inserts", "copy_seed", "out", "force"])]
        to: Option<String>,
        /// With --to: check every row, write nothing.
        #[arg(long, requires = "to")]
        dry_run: bool,
        /// Only the schema (tables, keys, indexes, foreign keys).
        #[arg(long, conflicts_with = "data_only")]
        schema_only: bool,
        /// Only the data.
        #[arg(long)]
        data_only: bool,
        /// Only these tables (comma-separated declared names).
        #[arg(long, value_delimiter = ',', value_name = "T,...")]
        tables: Option<Vec<String>>,
        /// INSERT statements instead of COPY blocks.
        #[arg(long)]
        inserts: bool,
        /// Supabase: write seed.sql as COPY blocks (loadable with psql only).
        #[arg(long, conflicts_with = "inserts")]
        copy_seed: bool,
        /// Output file (postgres; default stdout) or folder (supabase, required).
        #[arg(long, value_name = "FILE|DIR", required_if_eq("format", "supabase"))]
        out: Option<PathBuf>,
        /// Replace output files that exist with different content (else refused).
        #[arg(long)]
        force: bool,
    },
    /// Import a legacy `.nomic` directory of SQLite files into this store
    /// (idempotent; untypable rows go to import_rejects, unknown tables to
    /// import_raw_rows; source files are never modified).
    Import {
        /// The legacy data directory (default: the data directory).
        #[arg(long, value_name = "DIR")]
        source: Option<PathBuf>,
        /// Do everything but commit: show what would be imported.
        #[arg(long, conflicts_with = "verify")]
        dry_run: bool,
        /// Afterwards, re-read every source row and compare it with what is stored.
        #[arg(long)]
        verify: bool,
        /// With every store on PostgreSQL: where the private staging store
        /// is made (default: the system's temporary directory). It holds
        /// every imported row until the move ends.
        #[arg(long, value_name = "DIR")]
        staging: Option<PathBuf>,
    },
    /// Encrypt plain database files in place, atomically (key: ARAGORA_SQLITE_KEY
    /// or ARAGORA_ENCRYPTION_KEY). Default: every existing file of the mode.
    Encrypt {
        /// Files to encrypt (default: all of the configured mode).
        files: Vec<PathBuf>,
    },
    /// Decrypt encrypted database files in place, atomically.
    Decrypt {
        /// Files to decrypt (default: all of the configured mode).
        files: Vec<PathBuf>,
    },
    /// Replace the key of encrypted files (instant, atomic). Old key as for
    /// encrypt; new key from ARAGORA_NEW_SQLITE_KEY or ARAGORA_NEW_ENCRYPTION_KEY.
    Rekey {
        /// Files to rekey (default: all of the configured mode).
        files: Vec<PathBuf>,
    },
    /// Inspect legacy SQLite files with the built-in pure-Rust reader (read-only).
    #[command(subcommand)]
    Sqlite(SqliteCommand),
}

#[derive(Debug, Subcommand)]
pub enum SqliteCommand {
    /// Header facts, tables with row counts, and the WAL state.
    Info {
        /// The SQLite database file (its -wal is read too).
        file: PathBuf,
    },
    /// Print rows as JSON lines or CSV.
    Dump {
        /// The SQLite database file.
        file: PathBuf,
        /// Only this table (default: every table).
        #[arg(long)]
        table: Option<String>,
        /// Output format.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
        format: String,
    },
}

/// `--where COLUMN=VALUE`: the shape is checked here, so a malformed flag
/// is a usage error (exit 2) before any file is opened.
fn column_eq_value(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((c, _)) if !c.trim().is_empty() => Ok(s.to_string()),
        _ => Err(format!("expected COLUMN=VALUE, got {s:?}")),
    }
}

impl Command {
    /// The command's name, as typed (for `--json`'s `command`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Paths => "paths",
            Command::Status => "status",
            Command::Dump { .. } => "dump",
            Command::Demo { .. } => "demo",
            Command::Verify { .. } => "verify",
            Command::Backup { .. } => "backup",
            Command::Restore { .. } => "restore",
            Command::Cleanup { .. } => "cleanup",
            Command::Salvage { .. } => "salvage",
            Command::Consolidate { .. } => "consolidate",
            Command::Migrate { .. } => "migrate",
            Command::Export { .. } => "export",
            Command::Import { .. } => "import",
            Command::Encrypt { .. } => "encrypt",
            Command::Decrypt { .. } => "decrypt",
            Command::Rekey { .. } => "rekey",
            Command::Sqlite(SqliteCommand::Info { .. }) => "sqlite info",
            Command::Sqlite(SqliteCommand::Dump { .. }) => "sqlite dump",
        }
    }
}
