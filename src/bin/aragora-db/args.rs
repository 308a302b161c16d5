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
