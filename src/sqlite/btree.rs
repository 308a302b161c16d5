//! B-tree pages and cells (fileformat2 §1.6 "B-tree Pages").
//!
//! ```text
//! page header (8 bytes on leaves, 12 on interior pages; at offset 100 on page 1):
//!   0  type: 2 index interior, 5 table interior, 10 index leaf, 13 table leaf
//!   1  first freeblock (u16)      3  cell count (u16)
//!   5  cell content start (u16, 0 = 65536)   7  fragmented free bytes
//!   8  right-most child page (u32, interior only)
//! then the cell pointer array (u16 offsets), free space, cell content area.
//!
//! cells:  table leaf      varint payload-len, varint rowid, payload, [u32 first overflow]
//!         table interior  u32 left child, varint rowid
//!         index leaf      varint payload-len, payload, [u32 first overflow]
//!         index interior  u32 left child, varint payload-len, payload, [u32 first overflow]
//! ```
//! Local/overflow split (fileformat2 §1.6): U = usable size, X = U−35 (table leaf) or
//! ((U−12)·64/255)−23 (index), M = ((U−12)·32/255)−23, K = M+((P−M) mod (U−4));
//! local = P if P ≤ X, else K if K ≤ X, else M.
//! Every offset read from the page is bounds-checked: the page type, the cell count and
//! cell pointers, the freeblock chain and the local/overflow split.

use super::cache::Page;
use super::error::{Result, SqliteError};
use super::pager::Pager;
use super::varint;

/// Largest payload a single cell may claim (SQLite's default SQLITE_MAX_LENGTH is 1e9).
pub const MAX_PAYLOAD: u64 = 1_000_000_000;

/// B-tree page type (the first byte of the page header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// 0x02
    IndexInterior,
    /// 0x05
    TableInterior,
    /// 0x0a
    IndexLeaf,
    /// 0x0d
    TableLeaf,
}

impl PageKind {
    /// True for leaf pages.
    pub fn is_leaf(self) -> bool {
        matches!(self, PageKind::IndexLeaf | PageKind::TableLeaf)
    }
    /// True for table (rowid) b-tree pages.
    pub fn is_table(self) -> bool {
        matches!(self, PageKind::TableInterior | PageKind::TableLeaf)
    }
}

/// A parsed b-tree page header; holds the page (shared with the cache).
#[derive(Clone, Debug)]
pub struct BtreePage {
    /// Page number.
    pub pgno: u32,
    page: Page,
    usable: usize,
    /// Page type.
    pub kind: PageKind,
    /// Number of cells.
    pub ncells: usize,
    /// Offset of the cell pointer array.
    ptr_array: usize,
    /// Right-most child (interior pages), else 0.
    pub right_child: u32,
    /// Offset of the right-child field (for error reports).
    pub right_child_off: usize,
}

/// Where a cell sits in its page: a [`Cell`] without the borrow, so a cursor can
/// keep it across a call that needs `&mut self`.
#[derive(Clone, Copy, Debug)]
pub struct CellPos {
    offset: usize,
    left_child: u32,
    rowid: i64,
    payload_len: u64,
    local_off: usize,
    local_len: usize,
    overflow: u32,
    overflow_off: usize,
}

impl CellPos {
    /// Left child page (interior cells), else 0.
    pub fn left_child(&self) -> u32 {
        self.left_child
    }
    /// Rowid / integer key (table cells), else 0.
    pub fn rowid(&self) -> i64 {
        self.rowid
    }
    /// Offset of the cell in its page.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// One cell of a b-tree page.
#[derive(Clone, Copy, Debug)]
pub struct Cell<'a> {
    /// Offset of the cell in its page.
    pub offset: usize,
    /// Left child page (interior cells), else 0.
    pub left_child: u32,
    /// Rowid / integer key (table cells), else 0.
    pub rowid: i64,
    /// Total payload length.
    pub payload_len: u64,
    /// The payload bytes stored on this page.
    pub local: &'a [u8],
    /// Offset of `local` in the page.
    pub local_off: usize,
    /// First overflow page, 0 if none.
    pub overflow: u32,
    /// Offset of the overflow pointer (for error reports).
    pub overflow_off: usize,
}

fn be16(b: &[u8], off: usize) -> Option<usize> {
    match b.get(off..off + 2) {
        Some(&[x, y]) => Some(usize::from(u16::from_be_bytes([x, y]))),
        _ => None,
    }
}

/// Big-endian u32 at `off`, or `None` past the end.
pub fn be32(b: &[u8], off: usize) -> Option<u32> {
    match b.get(off..off + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// Bytes of payload kept on the b-tree page for a payload of `p` bytes.
pub fn local_size(usable: usize, p: u64, table_leaf: bool) -> usize {
    let u = usable as u64;
    let x = if table_leaf {
        u - 35
    } else {
        ((u - 12) * 64 / 255) - 23
    };
    if p <= x {
        return p as usize;
    }
    let m = ((u - 12) * 32 / 255) - 23;
    let k = m + ((p - m) % (u - 4));
    (if k <= x { k } else { m }) as usize
}

impl BtreePage {
    /// Read and validate the header of b-tree page `pgno`.
    pub fn parse(pager: &Pager, pgno: u32) -> Result<BtreePage> {
        let page = pager.page(pgno)?;
        let usable = pager.usable().min(page.len());
        let data = page.get(..usable).unwrap_or_default();
        let h = if pgno == 1 { 100 } else { 0 };
        let corrupt = |off: usize, what: String| SqliteError::corrupt(pgno, off, what);
        let type_byte = *data
            .get(h)
            .ok_or_else(|| corrupt(h, "page header past end of page".into()))?;
        let kind = match type_byte {
            2 => PageKind::IndexInterior,
            5 => PageKind::TableInterior,
            10 => PageKind::IndexLeaf,
            13 => PageKind::TableLeaf,
            t => {
                return Err(corrupt(
                    h,
                    format!("b-tree page type: expected 2, 5, 10 or 13, found {t}"),
                ));
            }
        };
        let hdr_len = if kind.is_leaf() { 8 } else { 12 };
        let ncells =
            be16(data, h + 3).ok_or_else(|| corrupt(h + 3, "page header truncated".into()))?;
        let ptr_array = h + hdr_len;
        let ptr_end = ptr_array + 2 * ncells;
        if ptr_end > usable {
            return Err(corrupt(
                h + 3,
                format!(
                    "cell count {ncells}: pointer array would end at {ptr_end}, past usable size {usable}"
                ),
            ));
        }
        let content = match be16(data, h + 5) {
            Some(0) => 65536,
            Some(c) => c,
            None => return Err(corrupt(h + 5, "page header truncated".into())),
        };
        if content > usable || (ncells > 0 && content < ptr_end) {
            return Err(corrupt(
                h + 5,
                format!("cell content start: expected {ptr_end}..={usable}, found {content}"),
            ));
        }
        let frag = data.get(h + 7).copied().unwrap_or(0);
        if frag > 60 {
            return Err(corrupt(
                h + 7,
                format!("fragmented bytes: expected <= 60, found {frag}"),
            ));
        }
        // Freeblock chain: strictly ascending, each at least 4 bytes, inside the page.
        let mut fb = be16(data, h + 1).unwrap_or(0);
        let mut prev_end = ptr_end;
        let mut fb_ref = h + 1;
        while fb != 0 {
            if fb < prev_end || fb + 4 > usable {
                return Err(corrupt(
                    fb_ref,
                    format!(
                        "freeblock offset: expected {prev_end}..={}, found {fb}",
                        usable - 4
                    ),
                ));
            }
            let size = be16(data, fb + 2).unwrap_or(0);
            if size < 4 || fb + size > usable {
                return Err(corrupt(
                    fb + 2,
                    format!("freeblock size {size} at {fb}: must be >= 4 and inside the page"),
                ));
            }
            prev_end = fb + size;
            fb_ref = fb;
            fb = be16(data, fb).unwrap_or(0);
        }
        let (right_child, right_child_off) = if kind.is_leaf() {
            (0, 0)
        } else {
            (be32(data, h + 8).unwrap_or(0), h + 8)
        };
        Ok(BtreePage {
            pgno,
            page,
            usable,
            kind,
            ncells,
            ptr_array,
            right_child,
            right_child_off,
        })
    }

    /// The usable bytes of the page.
    #[inline]
    pub fn data(&self) -> &[u8] {
        self.page.get(..self.usable).unwrap_or_default()
    }

    /// The whole page, shared.
    pub fn page(&self) -> &Page {
        &self.page
    }

    fn corrupt(&self, off: usize, what: String) -> SqliteError {
        SqliteError::corrupt(self.pgno, off, what)
    }

    /// Parse cell `i` (0-based).
    pub fn cell(&self, i: usize) -> Result<Cell<'_>> {
        let pos = self.cell_pos(i)?;
        Ok(self.bind(pos))
    }

    /// The cell at `pos` (found by [`BtreePage::cell_pos`] on this page).
    #[inline]
    pub fn bind(&self, pos: CellPos) -> Cell<'_> {
        let local = self
            .data()
            .get(pos.local_off..pos.local_off + pos.local_len)
            .unwrap_or_default();
        Cell {
            offset: pos.offset,
            left_child: pos.left_child,
            rowid: pos.rowid,
            payload_len: pos.payload_len,
            local,
            local_off: pos.local_off,
            overflow: pos.overflow,
            overflow_off: pos.overflow_off,
        }
    }

    /// Parse cell `i` (0-based) into offsets.
    pub fn cell_pos(&self, i: usize) -> Result<CellPos> {
        let data = self.data();
        let usable = data.len();
        let ptr_off = self.ptr_array + 2 * i;
        let off = be16(data, ptr_off)
            .ok_or_else(|| self.corrupt(ptr_off, "cell pointer past page".into()))?;
        let min = self.ptr_array + 2 * self.ncells;
        if off < min || off + 4 > usable {
            return Err(self.corrupt(
                ptr_off,
                format!(
                    "cell {i} pointer: expected {min}..={}, found {off}",
                    usable.saturating_sub(4)
                ),
            ));
        }
        let mut pos = off;
        let trunc =
            |pos: usize| self.corrupt(pos, format!("cell {i} runs past the end of the page"));
        let mut left_child = 0;
        if !self.kind.is_leaf() {
            left_child = be32(data, pos).ok_or_else(|| trunc(pos))?;
            pos += 4;
        }
        if self.kind == PageKind::TableInterior {
            let (key, n) = varint::read_at(data, pos).ok_or_else(|| trunc(pos))?;
            return Ok(CellPos {
                offset: off,
                left_child,
                rowid: key as i64,
                payload_len: 0,
                local_off: pos + n,
                local_len: 0,
                overflow: 0,
                overflow_off: pos + n,
            });
        }
        let (payload_len, n) = varint::read_at(data, pos).ok_or_else(|| trunc(pos))?;
        pos += n;
        let mut rowid = 0;
        if self.kind == PageKind::TableLeaf {
            let (key, n) = varint::read_at(data, pos).ok_or_else(|| trunc(pos))?;
            rowid = key as i64;
            pos += n;
        }
        if payload_len > MAX_PAYLOAD {
            return Err(SqliteError::TooLarge {
                page: self.pgno,
                offset: off as u64,
                size: payload_len,
                limit: MAX_PAYLOAD,
            });
        }
        let local_len = local_size(usable, payload_len, self.kind == PageKind::TableLeaf);
        data.get(pos..pos + local_len).ok_or_else(|| {
            self.corrupt(
                off,
                format!("cell {i}: {local_len} local payload bytes at {pos} run past the page"),
            )
        })?;
        let mut overflow = 0;
        let overflow_off = pos + local_len;
        if (local_len as u64) < payload_len {
            overflow = be32(data, overflow_off).ok_or_else(|| trunc(overflow_off))?;
        }
        Ok(CellPos {
            offset: off,
            left_child,
            rowid,
            payload_len,
            local_off: pos,
            local_len,
            overflow,
            overflow_off,
        })
    }
}
