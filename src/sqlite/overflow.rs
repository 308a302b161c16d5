//! Overflow page chains (fileformat2 §1.6, "Cell Payload Overflow Pages").
//!
//! ```text
//! overflow page:  0  u32 next overflow page (0 = last)
//!                 4  U−4 bytes of payload
//! ```
//! The walk is bounded by the number of pages the payload needs,
//! ⌈(P − local)/(U − 4)⌉; a chain that ends early, runs longer, revisits a page or
//! points outside the file is corrupt. Memory is bounded because the
//! required page count must not exceed the database's page count.

use std::collections::HashSet;

use super::btree::{Cell, be32};
use super::error::{Result, SqliteError};
use super::pager::Pager;

/// Assemble the full payload of `cell` (on page `pgno`) into `out` (cleared first).
pub fn read_payload(pager: &Pager, pgno: u32, cell: &Cell<'_>, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    let total = cell.payload_len;
    let per_page = (pager.usable() - 4) as u64;
    let remaining = total.saturating_sub(cell.local.len() as u64);
    let needed = remaining.div_ceil(per_page);
    if needed > u64::from(pager.page_count()) || total > pager.total_bytes() {
        return Err(SqliteError::TooLarge {
            page: pgno,
            offset: cell.offset as u64,
            size: total,
            limit: pager
                .total_bytes()
                .min(u64::from(pager.page_count()) * per_page),
        });
    }
    out.reserve_exact(total as usize);
    out.extend_from_slice(cell.local);
    let mut seen: HashSet<u32> = HashSet::new();
    let mut next = cell.overflow;
    let (mut from_page, mut from_off) = (pgno, cell.overflow_off);
    for i in 0..needed {
        if next == 0 {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!(
                    "overflow chain: ends after {i} pages, {needed} needed for a {total}-byte payload"
                ),
            ));
        }
        pager.check_pointer(next, from_page, from_off, "overflow page")?;
        if !seen.insert(next) {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!("overflow chain: page {next} appears twice (cycle)"),
            ));
        }
        let page = pager.page(next)?;
        let want = (total - out.len() as u64).min(per_page) as usize;
        let chunk = page
            .get(4..4 + want)
            .ok_or_else(|| SqliteError::corrupt(next, 4, "overflow page truncated"))?;
        out.extend_from_slice(chunk);
        from_page = next;
        from_off = 0;
        next = be32(&page, 0).unwrap_or(0);
    }
    if next != 0 {
        return Err(SqliteError::corrupt(
            from_page,
            0,
            format!("overflow chain: expected to end after {needed} pages, found next page {next}"),
        ));
    }
    Ok(())
}
