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
}

impl Global {
    /// The environment's configuration with the flags applied.
    pub fn config(&self) -> aragora_db::Result<Config> {
        let mut c = Config::from_env()?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
            c.data_dir_source = "--data-dir";
        }
        if let Some(m) = &self.mode {
            c.mode = DatabaseMode::parse(m)?;
        }
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the data directory, the mode, and every database with its file.
    Paths {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show every database file: size, tables, row counts, schema versions.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a table's rows (any declared table; an index is used when one fits).
    Dump {
        /// The table, e.g. users, audit_log, ratings.
        table: String,
        /// Only rows whose COLUMN equals VALUE.
        #[arg(long = "where", value_name = "COLUMN=VALUE")]
        filter: Option<String>,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["jsonl", "csv", "table"])]
        format: String,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Create a data directory, write and read users, organizations and
    /// audit events, then print the status.
    Demo,
    /// Export every table as SQL for PostgreSQL or Supabase (see docs/EXPORT.md).
    Export {
        /// `postgres`: one psql script; `supabase`: a migration and seed.sql under --out DIR.
        #[arg(long, value_parser = ["postgres", "supabase"])]
        format: String,
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
        /// Output file (postgres; default stdout) or folder (supabase).
        #[arg(long, value_name = "FILE|DIR")]
        out: Option<PathBuf>,
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
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
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
