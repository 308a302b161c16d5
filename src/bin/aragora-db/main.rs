//! `aragora-db`: the command-line tool.
//!
//! Exit codes: 0 success, 1 failure (the message names the file, table or
//! row), 2 bad usage. A closed pipe (`aragora-db dump … | head`) is success.

mod args;
mod cmd_backup;
mod cmd_cleanup;
mod cmd_consolidate;
mod cmd_crypto;
mod cmd_demo;
mod cmd_dump;
mod cmd_export;
mod cmd_import;
mod cmd_migrate;
mod cmd_paths;
mod cmd_salvage;
mod cmd_sqlite;
mod cmd_status;
mod cmd_verify;
mod files_only;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARAGORA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_target(false)
        .init();
    output::set_json_mode(cli.global.json);
    let command = cli.command.name();
    let result = run(cli);
    let finished = output::finish(command, result.as_ref().err().map(|e| e.to_string()));
    match result.and(finished) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut shown = e.to_string();
            eprintln!("error: {shown}");
            // A cause whose text the message already carries (an I/O
            // error's `{op} {path}: {source}`) is not repeated.
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                    shown = text;
                }
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> aragora_db::Result<()> {
    // Commands that read a SQLite file need no configuration, so it is
    // resolved (and validated) only by the commands that use it.
    // Until an interrupted restore is completed the files may be a mix of
    // two sets: every command but restore (which completes it) and paths
    // (which opens nothing) refuses to run on them.
    let completes_restore = matches!(
        cli.command,
        args::Command::Restore { .. } | args::Command::Paths
    );
    let config = || {
        let config = cli.global.config()?;
        if !completes_restore && let Some(journal) = aragora_db::ops::restore::interrupted(&config)
        {
            return Err(aragora_db::Error::InvalidArgument(format!(
                "a restore into {} was interrupted ({} is still there): \
                 run `aragora-db restore --recover` to complete it first",
                config.data_dir.display(),
                journal.display()
            )));
        }
        Ok(config)
    };
    let json = cli.global.json;
    match cli.command {
        args::Command::Paths => cmd_paths::run(&config()?, json),
        args::Command::Status => cmd_status::run(&config()?, json),
        args::Command::Demo { force } => cmd_demo::run(&config()?, force),
        args::Command::Dump {
            ref table,
            ref filter,
            ref format,
            limit,
        } => cmd_dump::run(
            &config()?,
            cmd_dump::Args {
                table,
                filter: filter.as_deref(),
                // `--json` means JSON lines, a row per line.
                format: if json { "jsonl" } else { format },
                limit,
            },
        ),
        args::Command::Verify { show_inherited } => {
            cmd_verify::run(&config()?, json, show_inherited)
        }
        args::Command::Backup { ref out, keep_days } => {
            cmd_backup::backup(&config()?, out.clone(), Some(keep_days))
        }
        args::Command::Restore {
            ref backup,
            no_safety_copy,
            recover,
        } => cmd_backup::restore(&config()?, backup.as_deref(), no_safety_copy, recover),
        args::Command::Cleanup { dry_run } => cmd_cleanup::run(&config()?, dry_run),
        args::Command::Salvage {
            ref file,
            ref out,
            json,
        } => cmd_salvage::run(&config()?, file, out, json),
        args::Command::Consolidate {
            dry_run,
            migrate,
            verify,
            ref source,
            ref target,
            no_backup,
            reverse,
        } => {
            let config = config()?;
            let source = source.clone().unwrap_or_else(|| config.data_dir.clone());
            let target = target.clone().unwrap_or_else(|| source.clone());
            cmd_consolidate::run(
                &config,
                cmd_consolidate::Args {
                    source: &source,
                    target: &target,
                    dry_run,
                    migrate,
                    verify,
                    no_backup,
                    reverse,
                },
            )
        }
        args::Command::Migrate {
            status,
            dry_run,
            migrate,
            ref db,
        } => cmd_migrate::run(
            &config()?,
            cmd_migrate::Args {
                status,
                dry_run,
                migrate,
                db: db.as_deref(),
            },
        ),
        args::Command::Export {
            format,
            to,
            dry_run,
            schema_only,
            data_only,
            tables,
            inserts,
            copy_seed,
            out,
            force,
        } => match to {
            Some(dsn) => cmd_export::run_to(&config()?, &dsn, tables, dry_run),
            None => cmd_export::run(
                &config()?,
                cmd_export::Args {
                    format: format.unwrap_or_default(),
                    schema_only,
                    data_only,
                    tables,
                    inserts,
                    copy_seed,
                    out,
                    force,
                },
            ),
        },
        args::Command::Import {
            source,
            dry_run,
            verify,
            staging,
        } => cmd_import::run(
            &config()?,
            cmd_import::Args {
                source,
                dry_run,
                verify,
                staging,
                json,
            },
        ),
        args::Command::Sqlite(args::SqliteCommand::Info { ref file }) => cmd_sqlite::info(file),
        args::Command::Sqlite(args::SqliteCommand::Dump {
            ref file,
            ref table,
            ref format,
        }) => cmd_sqlite::dump(file, table.as_deref(), if json { "jsonl" } else { format }),
        args::Command::Encrypt { ref files } => cmd_crypto::encrypt(&config()?, files),
        args::Command::Decrypt { ref files } => cmd_crypto::decrypt(&config()?, files),
        args::Command::Rekey { ref files } => cmd_crypto::rekey(&config()?, files),
    }
}
