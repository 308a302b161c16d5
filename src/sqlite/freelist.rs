//! The freelist (fileformat2 §1.5 "The Freelist").
//!
//! ```text
//! trunk page:  0 u32 next trunk page (0 = last)   4 u32 leaf count L
//!              8 L × u32 leaf page numbers, L ≤ usable/4 − 2
//! ```
//! The walk is bounded: each page may appear once (cycle detection), every number must
//! be a real page, and the total must match the header count at offset 36.

use std::collections::HashSet;

use super::btree::be32;
use super::error::{Result, SqliteError};
use super::pager::Pager;

/// Shape of the freelist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreelistInfo {
    /// Trunk pages.
    pub trunk_pages: u32,
    /// Leaf pages.
    pub leaf_pages: u32,
}

impl FreelistInfo {
    /// Trunk + leaf pages.
    pub fn total(&self) -> u32 {
        self.trunk_pages + self.leaf_pages
    }
}

/// Walk and validate the freelist.
pub fn walk(pager: &Pager) -> Result<FreelistInfo> {
    walk_inner(pager).map_err(|e| pager.explain(e))
}

fn walk_inner(pager: &Pager) -> Result<FreelistInfo> {
    let h = pager.header();
    let max_leaves = (pager.usable() / 4 - 2) as u32;
    let mut info = FreelistInfo::default();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut next = h.first_freelist_trunk;
    let (mut from_page, mut from_off) = (1u32, 32usize);
    while next != 0 {
        pager.check_pointer(next, from_page, from_off, "freelist trunk")?;
        if !seen.insert(next) {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!("freelist: trunk page {next} appears twice (cycle)"),
            ));
        }
        let page = pager.page(next)?;
        let n = be32(&page, 4).unwrap_or(0);
        if n > max_leaves {
            return Err(SqliteError::corrupt(
                next,
                4,
                format!("freelist leaf count: expected <= {max_leaves}, found {n}"),
            ));
        }
        for i in 0..n as usize {
            let off = 8 + 4 * i;
            let leaf = be32(&page, off).unwrap_or(0);
            pager.check_pointer(leaf, next, off, "freelist leaf")?;
            if !seen.insert(leaf) {
                return Err(SqliteError::corrupt(
                    next,
                    off,
                    format!("freelist: page {leaf} appears twice"),
                ));
            }
        }
        info.trunk_pages += 1;
        info.leaf_pages += n;
        from_page = next;
        from_off = 0;
        next = be32(&page, 0).unwrap_or(0);
    }
    pager.validate()?;
    if info.total() != h.freelist_count {
        return Err(SqliteError::corrupt(
            1,
            36,
            format!(
                "freelist count: header says {}, the list holds {}",
                h.freelist_count,
                info.total()
            ),
        ));
    }
    Ok(info)
}
