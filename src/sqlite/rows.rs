//! Streaming rows of one table (fileformat2 §2.1 records in §1.6 b-tree cells; column
//! mapping per lang_createtable: the INTEGER PRIMARY KEY alias is stored as NULL and
//! read from the rowid, WITHOUT ROWID records hold the PRIMARY KEY columns first, VIRTUAL
//! generated columns are not stored, and a record shorter than the table — left by
//! `ALTER TABLE ADD COLUMN` — takes the column DEFAULT for the missing tail; a column
//! with REAL affinity reads a stored integer back as a real, as `OP_RealAffinity` does).
//!
//! [`Rows::next_row`] is a lending iterator: a [`Row`] borrows the page (or the
//! reassembled overflow payload) and decodes values on demand, so a full scan allocates
//! nothing per row. [`Rows`] also implements [`Iterator`] yielding owned rows.

use std::sync::Arc;

use super::cache::Page;
use super::cursor::TreeCursor;
use super::error::{Result, SqliteError};
use super::header::TextEncoding;
use super::overflow;
use super::pager::Pager;
use super::record::{self, Field};
use super::schema::{Affinity, Generated, TableInfo, TableKind};
use super::text;
use super::value::{Value, ValueRef};

#[derive(Clone, Debug, PartialEq)]
enum Source {
    Rowid,
    Slot(usize),
    Absent,
}

#[derive(Clone, Debug)]
struct ColPlan {
    source: Source,
    real: bool,
    default: Value,
}

/// How record fields map to declared columns.
#[derive(Clone, Debug)]
pub struct RowPlan {
    cols: Vec<ColPlan>,
    table_tree: bool,
    name: String,
}

impl RowPlan {
    /// The plan for a table parsed from the schema.
    pub fn for_table(t: &TableInfo) -> Result<RowPlan> {
        if t.kind == TableKind::Virtual {
            return Err(SqliteError::Unsupported(format!(
                "table {:?} is a virtual table; its rows live in its module's shadow tables",
                t.name
            )));
        }
        let stored = |i: usize| {
            t.columns
                .get(i)
                .is_some_and(|c| c.generated != Some(Generated::Virtual))
        };
        let mut order: Vec<usize> = Vec::with_capacity(t.columns.len());
        if t.kind == TableKind::WithoutRowid {
            order.extend(t.primary_key.iter().copied());
        }
        for i in 0..t.columns.len() {
            if stored(i) && !order.contains(&i) {
                order.push(i);
            }
        }
        let cols = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let source = if t.rowid_alias == Some(i) {
                    Source::Rowid
                } else if let Some(slot) = order.iter().position(|&o| o == i) {
                    Source::Slot(slot)
                } else {
                    Source::Absent
                };
                ColPlan {
                    source,
                    real: c.affinity == Affinity::Real,
                    default: c
                        .default
                        .as_ref()
                        .and_then(|d| d.value.clone())
                        .unwrap_or(Value::Null),
                }
            })
            .collect();
        Ok(RowPlan {
            cols,
            table_tree: t.kind != TableKind::WithoutRowid,
            name: t.name.clone(),
        })
    }

    /// A plan reading the first `n` record fields as-is from a rowid table (sqlite_schema).
    pub fn raw(name: &str, n: usize) -> RowPlan {
        let cols = (0..n)
            .map(|i| ColPlan {
                source: Source::Slot(i),
                real: false,
                default: Value::Null,
            })
            .collect();
        RowPlan {
            cols,
            table_tree: true,
            name: name.to_string(),
        }
    }
}

/// A streaming scan over one table.
#[derive(Debug)]
pub struct Rows<'db> {
    pager: &'db Pager,
    cursor: TreeCursor<'db>,
    plan: RowPlan,
    enc: TextEncoding,
    format4: bool,
    fields: Vec<Field>,
    spill: Vec<u8>,
    page: Option<Page>,
    local: (usize, usize),
    spilled: bool,
    text: Vec<u8>,
    rowid: Option<i64>,
    failed: bool,
}

/// One row, borrowed from its [`Rows`] until the next call to [`Rows::next_row`].
#[derive(Clone, Copy, Debug)]
pub struct Row<'r> {
    rowid: Option<i64>,
    payload: &'r [u8],
    text: &'r [u8],
    fields: &'r [Field],
    plan: &'r RowPlan,
}

/// An owned row.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedRow {
    /// The rowid (None for WITHOUT ROWID tables).
    pub rowid: Option<i64>,
    /// Values in declared column order.
    pub values: Vec<Value>,
}

impl<'db> Rows<'db> {
    /// Scan the b-tree rooted at `root` with `plan`.
    pub fn new(pager: &'db Pager, root: u32, plan: RowPlan) -> Rows<'db> {
        let h = pager.header();
        Rows {
            pager,
            cursor: TreeCursor::new(pager, root),
            plan,
            enc: h.text_encoding,
            format4: h.schema_format >= 4,
            fields: Vec::new(),
            spill: Vec::new(),
            page: None,
            local: (0, 0),
            spilled: false,
            text: Vec::new(),
            rowid: None,
            failed: false,
        }
    }

    /// The next row, or `None` at the end. After an error the scan is over.
    #[allow(clippy::should_implement_trait)]
    pub fn next_row(&mut self) -> Option<Result<Row<'_>>> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(true) => Some(Ok(Row {
                rowid: self.rowid,
                payload: self.payload(),
                text: &self.text,
                fields: &self.fields,
                plan: &self.plan,
            })),
            Ok(false) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(self.pager.explain(e)))
            }
        }
    }

    /// The current record: reassembled overflow payload, or the bytes on the page.
    #[inline]
    fn payload(&self) -> &[u8] {
        if self.spilled {
            return &self.spill;
        }
        let (start, len) = self.local;
        self.page
            .as_deref()
            .and_then(|p| p.get(start..start + len))
            .unwrap_or_default()
    }

    fn advance(&mut self) -> Result<bool> {
        let Some((page, cell)) = self.cursor.next_cell()? else {
            self.page = None;
            return Ok(false);
        };
        if page.kind.is_table() != self.plan.table_tree {
            return Err(SqliteError::corrupt(
                page.pgno,
                if page.pgno == 1 { 100 } else { 0 },
                format!(
                    "table {:?} is a {} table but its b-tree holds {:?} pages",
                    self.plan.name,
                    if self.plan.table_tree {
                        "rowid"
                    } else {
                        "WITHOUT ROWID"
                    },
                    page.kind
                ),
            ));
        }
        let (pgno, rowid, cell_off) = (page.pgno, cell.rowid, cell.offset);
        if cell.overflow == 0 {
            if !self
                .page
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, page.page()))
            {
                self.page = Some(page.page().clone());
            }
            self.local = (cell.local_off, cell.local.len());
            self.spilled = false;
        } else {
            overflow::read_payload(self.pager, pgno, &cell, &mut self.spill)?;
            self.spilled = true;
        }
        let payload: &[u8] = if self.spilled {
            &self.spill
        } else {
            let (start, len) = self.local;
            self.page
                .as_deref()
                .and_then(|p| p.get(start..start + len))
                .unwrap_or_default()
        };
        let table_tree = self.plan.table_tree;
        record::parse_header(payload, &mut self.fields, self.format4).map_err(|e| {
            let whose = if table_tree {
                format!("rowid {rowid}")
            } else {
                "entry".to_string()
            };
            SqliteError::corrupt(
                pgno,
                cell_off,
                format!(
                    "record of {whose} in {:?}: {} (record byte {})",
                    self.plan.name, e.what, e.offset
                ),
            )
        })?;
        if self.enc != TextEncoding::Utf8 {
            self.text.clear();
            for f in &mut self.fields {
                if record::is_text(f.serial) {
                    let start = self.text.len();
                    text::to_utf8(
                        self.enc,
                        payload.get(f.start..f.start + f.len).unwrap_or_default(),
                        &mut self.text,
                    );
                    *f = Field {
                        serial: f.serial,
                        start,
                        len: self.text.len() - start,
                        converted: true,
                    };
                }
            }
        }
        self.rowid = table_tree.then_some(rowid);
        Ok(true)
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<OwnedRow>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().map(|r| r.map(|row| row.to_owned()))
    }
}

impl<'r> Row<'r> {
    /// The rowid (None for WITHOUT ROWID tables).
    pub fn rowid(&self) -> Option<i64> {
        self.rowid
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.plan.cols.len()
    }

    /// True if the table has no columns.
    pub fn is_empty(&self) -> bool {
        self.plan.cols.is_empty()
    }

    /// Number of fields physically in the record (fewer than the columns after ADD COLUMN).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Value of column `i` in declared order (NULL past the last column).
    #[inline]
    pub fn get(&self, i: usize) -> ValueRef<'r> {
        let Some(c) = self.plan.cols.get(i) else {
            return ValueRef::Null;
        };
        let v = match c.source {
            Source::Rowid => ValueRef::Integer(self.rowid.unwrap_or(0)),
            Source::Slot(j) => match self.fields.get(j) {
                Some(f) => {
                    let buf = if f.converted { self.text } else { self.payload };
                    record::decode(
                        f.serial,
                        buf.get(f.start..f.start + f.len).unwrap_or_default(),
                    )
                }
                None => c.default.as_ref(),
            },
            Source::Absent => ValueRef::Null,
        };
        match v {
            ValueRef::Integer(i) if c.real => ValueRef::Real(i as f64),
            v => v,
        }
    }

    /// All values in declared column order.
    pub fn values(&self) -> impl Iterator<Item = ValueRef<'r>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Copy into an [`OwnedRow`].
    pub fn to_owned(&self) -> OwnedRow {
        OwnedRow {
            rowid: self.rowid,
            values: self.values().map(ValueRef::to_owned).collect(),
        }
    }
}
