//! Commands that work on the embedded files (`backup`, `restore`,
//! `consolidate`, `encrypt`, `decrypt`, `rekey`, `export --format`) and a
//! configuration that puts stores on PostgreSQL. Those stores' rows are on
//! the server, not in any file: a backup that quietly left them out would
//! be taken for a complete one. So such a command names what it leaves
//! out: with every store on PostgreSQL it refuses (exit 1, nothing done)
//! and says what does the job there; with some, it notes the stores it
//! does not cover on stderr and goes on with the files.

use aragora_db::config::{Config, DbTarget};
use aragora_db::{Error, Result};

/// Checks `config` for `command`, which on PostgreSQL is done by
/// `instead`.
pub fn check(config: &Config, command: &str, instead: &str) -> Result<()> {
    let Some(server) = aragora_db::pg::admin::server(config)? else {
        return Ok(());
    };
    let (on_pg, server) = (server.targets.clone(), server.name());
    if on_pg.len() == DbTarget::all().count() {
        return Err(Error::InvalidArgument(format!(
            "{command} works on the embedded files, but every store is on PostgreSQL {server} \
             (ARAGORA_DB_BACKEND): nothing was done; {instead}"
        )));
    }
    let names: Vec<&str> = on_pg.iter().map(|t| t.value()).collect();
    eprintln!(
        "note: {command} covers the embedded files only; {} on PostgreSQL {server} are not \
         included ({}): {instead}",
        names.len(),
        names.join(", ")
    );
    Ok(())
}
