//! In-order traversal of a whole b-tree (fileformat2 §1.6: table b-trees keep every
//! entry on leaves; index b-trees, which also hold WITHOUT ROWID tables, keep entries
//! on interior pages too, visited between the left subtree and the next cell).
//!
//! Safety rails: every page is visited at most once per traversal
//! (a revisit means a cycle or a cross-link), the depth is capped at 20 like SQLite's
//! `BTCURSOR_MAX_DEPTH`, all leaves must sit at the same depth, child pages must be of
//! the same tree family, and rowids must increase strictly.

use super::pageset::PageSet;

use super::btree::{BtreePage, Cell, CellPos};
use super::error::{Result, SqliteError};
use super::pager::Pager;

/// Maximum b-tree depth (root = depth 1), as SQLite's `BTCURSOR_MAX_DEPTH`.
pub const MAX_DEPTH: usize = 20;

#[derive(Debug)]
struct Frame {
    page: BtreePage,
    idx: usize,
    child_done: bool,
}

/// Walks one b-tree from its root, yielding cells that carry entries.
#[derive(Debug)]
pub struct TreeCursor<'a> {
    pager: &'a Pager,
    root: u32,
    stack: Vec<Frame>,
    visited: PageSet,
    leaf_depth: Option<usize>,
    last_rowid: Option<i64>,
    table: Option<bool>,
    started: bool,
    finished: bool,
}

impl<'a> TreeCursor<'a> {
    /// A cursor over the tree rooted at `root`.
    pub fn new(pager: &'a Pager, root: u32) -> TreeCursor<'a> {
        TreeCursor {
            pager,
            root,
            stack: Vec::with_capacity(MAX_DEPTH),
            visited: PageSet::default(),
            leaf_depth: None,
            last_rowid: None,
            table: None,
            started: false,
            finished: false,
        }
    }

    /// True once the root page has been read and found to be a table b-tree.
    pub fn is_table_tree(&self) -> Option<bool> {
        self.table
    }

    /// Page number of the page the cursor is on (for error context).
    pub fn current_page(&self) -> u32 {
        self.stack.last().map_or(self.root, |f| f.page.pgno)
    }

    fn push(&mut self, pgno: u32, from_page: u32, from_off: usize) -> Result<()> {
        if from_page != 0 {
            self.pager
                .check_pointer(pgno, from_page, from_off, "child page")?;
            if pgno == 1 {
                return Err(SqliteError::corrupt(
                    from_page,
                    from_off,
                    "child page pointer: points to page 1",
                ));
            }
        } else if pgno == 0 || pgno > self.pager.page_count() {
            return Err(SqliteError::corrupt(
                0,
                0,
                format!(
                    "root page: expected a page in 1..={}, found {pgno}",
                    self.pager.page_count()
                ),
            ));
        }
        if !self.visited.insert(pgno) {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!(
                    "child page pointer: page {pgno} reached a second time (cycle or cross-linked tree)"
                ),
            ));
        }
        let depth = self.stack.len() + 1;
        if depth > MAX_DEPTH {
            return Err(SqliteError::corrupt(
                from_page,
                from_off,
                format!(
                    "b-tree depth: expected at most {MAX_DEPTH}, reached {depth} at page {pgno}"
                ),
            ));
        }
        let page = BtreePage::parse(self.pager, pgno)?;
        match self.table {
            None => self.table = Some(page.kind.is_table()),
            Some(t) if t != page.kind.is_table() => {
                return Err(SqliteError::corrupt(
                    pgno,
                    if pgno == 1 { 100 } else { 0 },
                    format!(
                        "page type: child of a {} b-tree is a {:?} page",
                        if t { "table" } else { "index" },
                        page.kind
                    ),
                ));
            }
            Some(_) => {}
        }
        if page.kind.is_leaf() {
            match self.leaf_depth {
                None => self.leaf_depth = Some(depth),
                Some(d) if d != depth => {
                    return Err(SqliteError::corrupt(
                        from_page,
                        from_off,
                        format!(
                            "child page depth differs: leaf {pgno} at depth {depth}, earlier leaves at {d}"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        self.stack.push(Frame {
            page,
            idx: 0,
            child_done: false,
        });
        Ok(())
    }

    /// Next cell holding an entry (a row of a table b-tree, or a key of an index b-tree),
    /// with the page it is on. At the end of the tree the files are checked for
    /// concurrent change ([`Pager::validate`]).
    pub fn next_cell(&mut self) -> Result<Option<(&BtreePage, Cell<'_>)>> {
        if self.finished {
            return Ok(None);
        }
        let r = self.advance();
        match r {
            Ok(Some(pos)) => match self.stack.last() {
                Some(top) => Ok(Some((&top.page, top.page.bind(pos)))),
                None => Ok(None),
            },
            Ok(None) => {
                self.finished = true;
                self.pager.validate()?;
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                Err(self.pager.explain(e))
            }
        }
    }

    /// Advance to the next entry; it is on the page at the top of the stack.
    fn advance(&mut self) -> Result<Option<CellPos>> {
        if !self.started {
            self.started = true;
            self.push(self.root, 0, 0)?;
        }
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            let page = &top.page;
            let (kind, pgno, ncells) = (page.kind, page.pgno, page.ncells);
            if kind.is_leaf() {
                if top.idx < ncells {
                    let cell = page.cell_pos(top.idx)?;
                    top.idx += 1;
                    if kind.is_table() {
                        if let Some(last) = self.last_rowid
                            && cell.rowid() <= last
                        {
                            return Err(SqliteError::corrupt(
                                pgno,
                                cell.offset(),
                                format!("rowid order: expected > {last}, found {}", cell.rowid()),
                            ));
                        }
                        self.last_rowid = Some(cell.rowid());
                    }
                    return Ok(Some(cell));
                }
                self.stack.pop();
                continue;
            }
            if top.idx < ncells {
                let cell = page.cell_pos(top.idx)?;
                if !top.child_done {
                    top.child_done = true;
                    self.push(cell.left_child(), pgno, cell.offset())?;
                    continue;
                }
                top.child_done = false;
                top.idx += 1;
                if !kind.is_table() {
                    return Ok(Some(cell));
                }
            } else if top.idx == ncells {
                top.idx += 1;
                let (child, off) = (page.right_child, page.right_child_off);
                self.push(child, pgno, off)?;
            } else {
                self.stack.pop();
            }
        }
    }

    /// Count entries without decoding leaf cells (same checks on the tree shape).
    pub fn count(self) -> Result<u64> {
        let pager = self.pager;
        self.count_inner().map_err(|e| pager.explain(e))
    }

    fn count_inner(mut self) -> Result<u64> {
        self.started = true;
        self.push(self.root, 0, 0)?;
        let mut n: u64 = 0;
        loop {
            let Some(top) = self.stack.last_mut() else {
                self.pager.validate()?;
                return Ok(n);
            };
            let page = &top.page;
            let (kind, pgno, ncells) = (page.kind, page.pgno, page.ncells);
            if kind.is_leaf() {
                n += ncells as u64;
                self.stack.pop();
                continue;
            }
            if top.idx < ncells {
                let cell = page.cell_pos(top.idx)?;
                top.idx += 1;
                if !kind.is_table() {
                    n += 1;
                }
                self.push(cell.left_child(), pgno, cell.offset())?;
            } else if top.idx == ncells {
                top.idx += 1;
                let (child, off) = (page.right_child, page.right_child_off);
                self.push(child, pgno, off)?;
            } else {
                self.stack.pop();
            }
        }
    }
}
