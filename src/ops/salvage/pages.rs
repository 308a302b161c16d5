//! A page-level reader of redb's on-disk format, for files redb itself
//! cannot open or walk (truncated, zero-filled, overwritten).
//!
//! Why our own reader: redb refuses a file whose length does not match its
//! header, and may panic on pages that do not parse. Our rows carry their own
//! CRC, so whatever pages still parse can be read without redb. This module
//! knows only the layout (the super-header with its two commit slots, the
//! regions of pages, B-tree leaf and branch pages with variable-width keys
//! and values, and the table tree's table definitions), as documented in
//! redb's `docs/design.md` and its `tree_store` sources.
//!
//! Every byte is untrusted: every offset is bounds-checked against the page
//! and the file, every length is checked before allocating (nothing larger
//! than the file), tree walks keep a visited set and a depth limit (a page
//! pointer cycle ends the walk of that branch instead of looping), and
//! nothing here panics on bad input. What this reader does not check:
//! redb's XXH3 page and commit-slot checksums (redb does not export its
//! hash), so a page is accepted when its structure parses and its keys lie
//! within the range its parent routes to it; rows are then accepted only
//! when their own CRC-32 checks.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

/// A redb leaf page.
const LEAF: u8 = 1;
/// A redb branch page.
const BRANCH: u8 = 2;
/// The magic number at the start of every redb file.
pub const MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// redb's default page size, used when the header is unreadable.
pub const DEFAULT_PAGE_SIZE: u64 = 4096;
/// The largest page order redb uses (pages of `page_size << order`).
const MAX_ORDER: u64 = 20;
/// Deeper trees than this are taken as a pointer cycle.
const MAX_DEPTH: usize = 48;

/// Where page bytes come from: a plain file or a decrypting backend.
pub trait Source {
    /// The file's (logical) length.
    fn file_len(&self) -> u64;
    /// Reads exactly `buf.len()` bytes at `off`; false when they cannot be
    /// read (past the end, an I/O error, a block that fails authentication).
    fn read(&self, off: u64, buf: &mut [u8]) -> bool;
}

/// A plain file, read-only.
pub struct PlainFile {
    file: Mutex<std::fs::File>,
    len: u64,
}

impl PlainFile {
    /// Opens `path` read-only.
    pub fn open(path: &std::path::Path) -> std::io::Result<PlainFile> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(PlainFile {
            file: Mutex::new(file),
            len,
        })
    }
}

impl Source for PlainFile {
    fn file_len(&self) -> u64 {
        self.len
    }
    fn read(&self, off: u64, buf: &mut [u8]) -> bool {
        if off
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        let Ok(mut f) = self.file.lock() else {
            return false;
        };
        f.seek(SeekFrom::Start(off)).is_ok() && f.read_exact(buf).is_ok()
    }
}

/// Any redb storage backend (the encrypted backend opened for salvage).
pub struct Backend<B>(pub B);

impl<B: redb::StorageBackend> Source for Backend<B> {
    fn file_len(&self) -> u64 {
        self.0.len().unwrap_or(0)
    }
    fn read(&self, off: u64, buf: &mut [u8]) -> bool {
        if off
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.file_len())
        {
            return false;
        }
        self.0.read(off, buf).is_ok()
    }
}

/// Page size and region geometry: what turns a page number into bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per order-0 page.
    pub page_size: u64,
    /// Header pages at the start of each region (0 in format 3).
    pub region_header_pages: u64,
    /// Data pages per full region.
    pub region_max_data_pages: u64,
}

impl Geometry {
    /// The byte range of a page given by its stored 8-byte number, or
    /// `None` when the number cannot be a page of this geometry.
    pub fn page_range(&self, raw: u64) -> Option<(u64, u64)> {
        let order = raw >> 59;
        if order > MAX_ORDER {
            return None;
        }
        let index = raw & (0x000F_FFFF >> order);
        let region = (raw >> 20) & 0x000F_FFFF;
        let len = self.page_size.checked_shl(order as u32)?;
        let region_len =
            (self.region_header_pages + self.region_max_data_pages).checked_mul(self.page_size)?;
        let in_region = index.checked_mul(len)?;
        if in_region.checked_add(len)? > self.region_max_data_pages.checked_mul(self.page_size)? {
            return None;
        }
        let off = self
            .page_size
            .checked_add(region.checked_mul(region_len)?)?
            .checked_add(self.region_header_pages.checked_mul(self.page_size)?)?
            .checked_add(in_region)?;
        Some((off, len))
    }
}

/// One commit slot of the super-header.
#[derive(Debug, Clone)]
pub struct Slot {
    /// 0 or 1.
    pub index: usize,
    /// Whether the god byte names this slot the primary.
    pub primary: bool,
    /// The last committed transaction id it records.
    pub txn: u64,
    /// The table tree's root page number, when non-null.
    pub table_tree: Option<u64>,
}

/// What the super-header says.
#[derive(Debug, Clone)]
pub struct Header {
    /// The page geometry, when the header fields are plausible.
    pub geometry: Option<Geometry>,
    /// The page size pages are scanned at.
    pub page_size: u64,
    /// Commit slots whose version byte is redb's format 3, newest first.
    pub slots: Vec<Slot>,
    /// The file length the header's region counts describe.
    pub described_len: Option<u64>,
    /// What was wrong with the header.
    pub notes: Vec<String>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Reads the super-header (the first 320 bytes). Never fails: an
/// unreadable header gives no geometry and no slots, and the file can
/// still be scanned page by page at the default page size.
pub fn read_header(src: &dyn Source) -> Header {
    let mut h = Header {
        geometry: None,
        page_size: DEFAULT_PAGE_SIZE,
        slots: Vec::new(),
        described_len: None,
        notes: Vec::new(),
    };
    let mut b = [0u8; 320];
    if !src.read(0, &mut b) {
        h.notes
            .push("the file header (bytes 0..320) cannot be read".into());
        return h;
    }
    if b[..9] != MAGIC {
        h.notes
            .push("the file header's magic number is damaged (bytes 0..9)".into());
    }
    let god = b[9];
    let fields = (
        u32_at(&b, 12).map(u64::from),
        u32_at(&b, 16).map(u64::from),
        u32_at(&b, 20).map(u64::from),
    );
    match fields {
        (Some(ps), Some(hp), Some(mp))
            if ps.is_power_of_two()
                && (512..=65536).contains(&ps)
                && hp <= 1 << 20
                && (1..=1 << 20).contains(&mp) =>
        {
            h.page_size = ps;
            if let (Some(full), Some(trailing)) = (u32_at(&b, 24), u32_at(&b, 28)) {
                let region = (hp + mp) * ps;
                let tail = if trailing > 0 {
                    (hp + u64::from(trailing)) * ps
                } else {
                    0
                };
                h.described_len = Some(ps + u64::from(full) * region + tail);
            }
            h.geometry = Some(Geometry {
                page_size: ps,
                region_header_pages: hp,
                region_max_data_pages: mp,
            });
        }
        _ => h.notes.push(format!(
            "the file header's page geometry (bytes 12..24) is implausible; pages are scanned at {DEFAULT_PAGE_SIZE} bytes without following page numbers"
        )),
    }
    for index in 0..2 {
        let s = &b[64 + 128 * index..64 + 128 * (index + 1)];
        if s[0] != 3 {
            h.notes.push(format!(
                "commit slot {index} has format version {}, expected 3; not used",
                s[0]
            ));
            continue;
        }
        let table_tree = if s[1] != 0 { u64_at(s, 8) } else { None };
        h.slots.push(Slot {
            index,
            primary: usize::from(god & 1) == index,
            txn: u64_at(s, 104).unwrap_or(0),
            table_tree,
        });
    }
    h.slots
        .sort_by(|a, b| b.txn.cmp(&a.txn).then(b.primary.cmp(&a.primary)));
    h
}

/// A parsed B-tree page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Key/value entries, keys strictly ascending.
    Leaf(Vec<(Vec<u8>, Vec<u8>)>),
    /// Child page numbers and the routing keys between them.
    Branch {
        /// `keys.len() + 1` child page numbers.
        children: Vec<u64>,
        /// Routing keys, ascending.
        keys: Vec<Vec<u8>>,
    },
}

/// The bytes a leaf with variable-width keys and values occupies, from its
/// header, or `None` when the header is not such a leaf's.
fn leaf_extent(page: &[u8]) -> Option<usize> {
    if *page.first()? != LEAF {
        return None;
    }
    let n = usize::from(u16_at(page, 2)?);
    if n == 0 {
        return None;
    }
    let end = u32_at(page, 4 + 4 * n + 4 * (n - 1))?;
    Some(end as usize)
}

/// Parses a leaf or branch page of a `&[u8] → &[u8]`-like tree (variable
/// width keys and values). `page` is the page's bytes; every offset is
/// checked against it.
pub fn parse_node(page: &[u8]) -> Result<Node, String> {
    match page.first() {
        Some(&LEAF) => parse_leaf(page),
        Some(&BRANCH) => parse_branch(page),
        Some(&t) => Err(format!("page type {t}, expected a leaf (1) or branch (2)")),
        None => Err("empty page".into()),
    }
}

fn parse_leaf(page: &[u8]) -> Result<Node, String> {
    let bad = |what: &str| Err(format!("malformed leaf: {what}"));
    let n = usize::from(u16_at(page, 2).unwrap_or(0));
    if n == 0 {
        return bad("no entries");
    }
    let mut pos = 4 + 8 * n;
    if pos > page.len() {
        return bad("entry count exceeds the page");
    }
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        let end = u32_at(page, 4 + 4 * i).unwrap_or(u32::MAX) as usize;
        if end < pos || end > page.len() {
            return bad("key offsets out of order or past the page");
        }
        keys.push(pos..end);
        pos = end;
    }
    let mut out = Vec::with_capacity(n);
    for (i, k) in keys.into_iter().enumerate() {
        let end = u32_at(page, 4 + 4 * n + 4 * i).unwrap_or(u32::MAX) as usize;
        if end < pos || end > page.len() {
            return bad("value offsets out of order or past the page");
        }
        let key = page[k].to_vec();
        if let Some((prev, _)) = out.last()
            && *prev >= key
        {
            return bad("keys not ascending");
        }
        out.push((key, page[pos..end].to_vec()));
        pos = end;
    }
    Ok(Node::Leaf(out))
}

fn parse_branch(page: &[u8]) -> Result<Node, String> {
    let bad = |what: &str| Err(format!("malformed branch: {what}"));
    let nk = usize::from(u16_at(page, 2).unwrap_or(0));
    if nk == 0 {
        return bad("no keys");
    }
    let c = nk + 1;
    let ends_at = 8 + 24 * c;
    let mut pos = ends_at + 4 * nk;
    if pos > page.len() {
        return bad("key count exceeds the page");
    }
    let children = (0..c)
        .map(|i| u64_at(page, 8 + 16 * c + 8 * i).unwrap_or(u64::MAX))
        .collect();
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(nk);
    for i in 0..nk {
        let end = u32_at(page, ends_at + 4 * i).unwrap_or(u32::MAX) as usize;
        if end < pos || end > page.len() {
            return bad("key offsets out of order or past the page");
        }
        let key = page[pos..end].to_vec();
        if keys.last().is_some_and(|p| *p >= key) {
            return bad("keys not ascending");
        }
        keys.push(key);
        pos = end;
    }
    Ok(Node::Branch { children, keys })
}

/// A key range `(lo, hi]` (`None`: unbounded) a page was routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Exclusive lower bound.
    pub lo: Option<Vec<u8>>,
    /// Inclusive upper bound.
    pub hi: Option<Vec<u8>>,
}

impl Range {
    /// Every key.
    pub fn all() -> Range {
        Range { lo: None, hi: None }
    }
    /// Whether `k` lies in the range.
    pub fn contains(&self, k: &[u8]) -> bool {
        self.lo.as_deref().is_none_or(|lo| k > lo) && self.hi.as_deref().is_none_or(|hi| k <= hi)
    }
}

/// A subtree that could not be read.
#[derive(Debug, Clone)]
pub struct Lost {
    /// The keys it held.
    pub range: Range,
    /// Its page number as stored in its parent (or the root's).
    pub page: u64,
    /// Its bytes in the file, when the page number maps to any.
    pub bytes: Option<(u64, u64)>,
    /// Why.
    pub why: String,
}

/// What a walk from one root read.
#[derive(Debug, Default)]
pub struct Walk {
    /// Entries of every readable leaf, with the leaf's byte offset.
    pub entries: Vec<(Vec<u8>, Vec<u8>, u64)>,
    /// Subtrees that could not be read.
    pub lost: Vec<Lost>,
}

/// Reads the page at `range` bytes.
fn read_page(src: &dyn Source, (off, len): (u64, u64)) -> Result<Vec<u8>, String> {
    if off.checked_add(len).is_none_or(|e| e > src.file_len()) {
        return Err(format!(
            "bytes {off}..{} lie past the end of the file ({} bytes)",
            off.saturating_add(len),
            src.file_len()
        ));
    }
    let mut buf = vec![0u8; len as usize];
    if !src.read(off, &mut buf) {
        return Err(format!("bytes {off}..{} cannot be read", off + len));
    }
    Ok(buf)
}

/// Walks the tree rooted at page number `root`, collecting the entries of
/// every leaf it reaches and the key range of every subtree it cannot read.
/// `seen` holds the byte offsets of pages already read by any walk: a page
/// met twice is a damaged pointer (a cycle or a shared page), not followed.
pub fn walk(src: &dyn Source, geo: &Geometry, root: u64, seen: &mut HashSet<u64>) -> Walk {
    let mut w = Walk::default();
    let mut stack = vec![(root, Range::all(), 0usize)];
    while let Some((page, range, depth)) = stack.pop() {
        let lost = |why: String, bytes| Lost {
            range: range.clone(),
            page,
            bytes,
            why,
        };
        let Some(bytes) = geo.page_range(page) else {
            w.lost.push(lost(
                format!("page number {page:#x} is not a page of this file"),
                None,
            ));
            continue;
        };
        if depth > MAX_DEPTH {
            w.lost.push(lost(
                "tree deeper than any redb tree (a pointer cycle)".into(),
                Some(bytes),
            ));
            continue;
        }
        if !seen.insert(bytes.0) {
            w.lost.push(lost(
                "page reached twice (a damaged page pointer)".into(),
                Some(bytes),
            ));
            continue;
        }
        let node = read_page(src, bytes).and_then(|b| parse_node(&b));
        if node.is_ok() {
            // The order-0 positions inside a larger page are not pages.
            let mut inner = bytes.0 + geo.page_size;
            while inner < bytes.0 + bytes.1 {
                seen.insert(inner);
                inner += geo.page_size;
            }
        }
        match node {
            Err(why) => w.lost.push(lost(why, Some(bytes))),
            Ok(Node::Leaf(entries)) => {
                if entries.iter().any(|(k, _)| !range.contains(k)) {
                    w.lost.push(lost(
                        "leaf holds keys outside the range its parent routes to it".into(),
                        Some(bytes),
                    ));
                    continue;
                }
                w.entries
                    .extend(entries.into_iter().map(|(k, v)| (k, v, bytes.0)));
            }
            Ok(Node::Branch { children, keys }) => {
                if keys.iter().any(|k| !range.contains(k)) {
                    w.lost.push(lost(
                        "branch holds routing keys outside the range its parent routes to it"
                            .into(),
                        Some(bytes),
                    ));
                    continue;
                }
                // Pushed last child first so leaves come out in key order.
                for (i, &child) in children.iter().enumerate().rev() {
                    let lo = if i == 0 {
                        range.lo.clone()
                    } else {
                        Some(keys[i - 1].clone())
                    };
                    let hi = if i == keys.len() {
                        range.hi.clone()
                    } else {
                        Some(keys[i].clone())
                    };
                    stack.push((child, Range { lo, hi }, depth + 1));
                }
            }
        }
    }
    w
}

/// A table definition in the table tree: the root page number of the
/// table's data tree (`None` for an empty table).
pub fn table_root(def: &[u8]) -> Result<Option<u64>, String> {
    if def.len() < 10 + 32 {
        return Err(format!(
            "table definition of {} bytes is too short",
            def.len()
        ));
    }
    if def[9] == 0 {
        return Ok(None);
    }
    Ok(u64_at(def, 10))
}

/// A leaf found by scanning, not by a walk.
#[derive(Debug)]
pub struct ScannedLeaf {
    /// Its byte offset.
    pub off: u64,
    /// Its entries.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every page that parses as a leaf.
    pub leaves: Vec<ScannedLeaf>,
    /// Positions that could not be read.
    pub unreadable: u64,
    /// Byte ranges of consecutive all-zero pages.
    pub zeros: Vec<(u64, u64)>,
}

/// Reads every `page_size`-aligned position of the file not in `skip` and
/// keeps what parses as a leaf. A leaf longer than one page (an order > 0
/// page) covers the positions after it, which are not read separately.
pub fn scan(src: &dyn Source, page_size: u64, skip: &HashSet<u64>) -> Scan {
    let mut found = Scan::default();
    let len = src.file_len();
    let mut off = page_size;
    let mut first = vec![0u8; page_size as usize];
    while off < len {
        let mut next = off + page_size;
        if skip.contains(&off) {
            off = next;
            continue;
        }
        let avail = (len - off).min(page_size) as usize;
        if !src.read(off, &mut first[..avail]) {
            found.unreadable += 1;
            off = next;
            continue;
        }
        if first[..avail].iter().all(|&b| b == 0) {
            let end = off + avail as u64;
            match found.zeros.last_mut() {
                Some(run) if run.1 == off => run.1 = end,
                _ => found.zeros.push((off, end)),
            }
            off = next;
            continue;
        }
        if let Some(extent) = leaf_extent(&first[..avail]) {
            let limit = page_size << MAX_ORDER;
            if (extent as u64) <= limit && off + extent as u64 <= len {
                let page = if extent <= avail {
                    Ok(first[..avail].to_vec())
                } else {
                    read_page(src, (off, extent as u64))
                };
                if let Ok(Node::Leaf(entries)) = page.and_then(|p| parse_leaf(&p)) {
                    if extent as u64 > page_size {
                        next = off + (extent as u64).div_ceil(page_size) * page_size;
                    }
                    found.leaves.push(ScannedLeaf { off, entries });
                }
            }
        }
        off = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let n = entries.len();
        let mut p = vec![LEAF, 0];
        p.extend((n as u16).to_le_bytes());
        let mut pos = 4 + 8 * n;
        for (k, _) in entries {
            pos += k.len();
            p.extend((pos as u32).to_le_bytes());
        }
        for (_, v) in entries {
            pos += v.len();
            p.extend((pos as u32).to_le_bytes());
        }
        for (k, _) in entries {
            p.extend_from_slice(k);
        }
        for (_, v) in entries {
            p.extend_from_slice(v);
        }
        p
    }

    #[test]
    fn a_leaf_parses_and_every_damaged_header_is_refused() {
        let p = leaf(&[(b"a", b"1"), (b"bc", b"22")]);
        assert_eq!(
            parse_node(&p).unwrap(),
            Node::Leaf(vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"bc".to_vec(), b"22".to_vec())
            ])
        );
        assert_eq!(leaf_extent(&p), Some(p.len()));
        // Every truncation and every single-byte change of the header is
        // either refused or parses within the page: never a panic.
        for cut in 0..p.len() {
            let _ = parse_node(&p[..cut]);
        }
        for i in 0..4 + 8 * 2 {
            for x in [0x01u8, 0x80, 0xFF] {
                let mut q = p.clone();
                q[i] ^= x;
                let _ = parse_node(&q);
            }
        }
        let mut q = p.clone();
        q[2] = 0xFF; // entry count past the page
        assert!(parse_node(&q).is_err());
        let mut q = p.clone();
        q[4] = 0xFF; // first key ends past the page
        assert!(parse_node(&q).is_err());
        assert!(
            parse_node(&leaf(&[(b"b", b""), (b"a", b"")])).is_err(),
            "unordered keys"
        );
    }

    #[test]
    fn a_pointer_cycle_ends_the_walk() {
        // Page 1 is a branch whose children are itself and page 2 (a leaf).
        let geo = Geometry {
            page_size: 512,
            region_header_pages: 0,
            region_max_data_pages: 16,
        };
        let mut file = vec![0u8; 512 * 4];
        let mut br = vec![BRANCH, 0, 1, 0, 0, 0, 0, 0];
        br.extend([0u8; 32]);
        br.extend(1u64.to_le_bytes());
        br.extend(2u64.to_le_bytes());
        br.extend(((8 + 48 + 4 + 1) as u32).to_le_bytes());
        br.push(b'm');
        let at = |n: u64| geo.page_range(n).unwrap().0 as usize;
        file[at(1)..at(1) + br.len()].copy_from_slice(&br);
        let l = leaf(&[(b"x", b"v")]);
        file[at(2)..at(2) + l.len()].copy_from_slice(&l);
        struct Mem(Vec<u8>);
        impl Source for Mem {
            fn file_len(&self) -> u64 {
                self.0.len() as u64
            }
            fn read(&self, off: u64, buf: &mut [u8]) -> bool {
                match self.0.get(off as usize..off as usize + buf.len()) {
                    Some(b) => {
                        buf.copy_from_slice(b);
                        true
                    }
                    None => false,
                }
            }
        }
        let w = walk(&Mem(file), &geo, 1, &mut HashSet::new());
        assert_eq!(w.entries.len(), 1, "{w:?}");
        assert_eq!(w.lost.len(), 1, "{w:?}");
        assert!(w.lost[0].why.contains("reached twice"), "{w:?}");
        assert_eq!(w.lost[0].range.hi.as_deref(), Some(&b"m"[..]));
    }
}
