//! `aragora-db salvage FILE --out NEW`: copies every readable row of a
//! damaged file into a new file and lists what could not be read (see
//! `aragora_db::ops::salvage`). Exits 1 when something was lost. With
//! encryption configured the input is read, and the output written,
//! through the encrypted backend.

use crate::output::out;
use aragora_db::config::Config;
use aragora_db::ops::salvage;
use aragora_db::{Error, Result};
use std::path::Path;

pub fn run(config: &Config, file: &Path, out_file: &Path) -> Result<()> {
    let report = crate::cmd_backup::with_spinner("salvaging rows", || {
        salvage::salvage(file, out_file, config.encryption.as_ref())
    })?;
    for t in &report.tables {
        out(format!(
            "{:<28} {:>10} rows copied {:>6} lost",
            t.table, t.copied, t.lost
        ))?;
    }
    for p in &report.problems {
        out(format!("  {p}"))?;
    }
    out(format!("wrote {}", report.out.display()))?;
    if !report.problems.is_empty() {
        return Err(Error::Invalid(format!(
            "{} rows or ranges of {} could not be salvaged (listed above)",
            report.problems.len(),
            file.display()
        )));
    }
    Ok(())
}
