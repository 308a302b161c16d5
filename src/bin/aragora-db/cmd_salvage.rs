//! `aragora-db salvage FILE --out NEW [--json]`: copies every readable row
//! of a damaged file into a new file and lists what could not be read (see
//! `aragora_db::ops::salvage`): per table the rows copied, how many of them
//! came from unreferenced pages only (may be stale), and what was lost, by
//! key, key range or page. Exits 1 when something was lost. With
//! encryption configured the input is read, and the output written,
//! through the encrypted backend.

use crate::output::{json, out};
use aragora_db::config::Config;
use aragora_db::ops::salvage;
use aragora_db::{Error, Result};
use std::path::Path;

pub fn run(config: &Config, file: &Path, out_file: &Path, as_json: bool) -> Result<()> {
    let report = crate::cmd_backup::with_spinner("salvaging rows", || {
        salvage::salvage(file, out_file, config.encryption.as_ref())
    })?;
    if as_json {
        let v = serde_json::to_value(&report).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        json(&v)?;
    } else {
        if report.method == salvage::Method::Pages {
            out(format!(
                "{} read page by page (redb could not read it)",
                file.display()
            ))?;
        }
        for t in &report.tables {
            let unreferenced = if t.from_unreferenced > 0 {
                format!(
                    " ({} from unreferenced pages, may be stale)",
                    t.from_unreferenced
                )
            } else {
                String::new()
            };
            out(format!(
                "{:<28} {:>10} rows copied {:>6} lost{unreferenced}",
                t.table, t.copied, t.lost
            ))?;
        }
        for p in &report.problems {
            out(format!("  {p}"))?;
        }
        out(format!("wrote {}", report.out.display()))?;
    }
    if !report.problems.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} rows or ranges of {} could not be salvaged, or may be stale (listed above)",
            report.problems.len(),
            file.display()
        )));
    }
    Ok(())
}
