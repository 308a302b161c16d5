//! `aragora-db`: the command-line tool.
//!
//! Exit codes: 0 success, 1 failure (the message names the file, table or
//! row), 2 bad usage. A closed pipe (`aragora-db dump … | head`) is success.

mod args;
mod cmd_demo;
mod cmd_paths;
mod cmd_status;
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> aragora_db::Result<()> {
    let config = cli.global.config()?;
    match cli.command {
        args::Command::Paths { json } => cmd_paths::run(&config, json),
        args::Command::Status { json } => cmd_status::run(&config, json),
        args::Command::Demo => cmd_demo::run(&config),
    }
}
