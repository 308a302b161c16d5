//! SQL for the table API: key lookups, range scans in key order with
//! pages, counts, and the writes, built from a table's [`PgTable`] shape.
//!
//! A range is a row comparison on the leading key columns, compared and
//! ordered as the embedded store orders keys: NULL first, text bytewise
//! (`COLLATE "C"`), then by the primary key for non-unique indexes.

use super::shape::{PgCol, PgTable};
use crate::error::{Error, Result};
use crate::table::{Edge, IndexDef, KeyRange, Page, Value, keys};

/// A statement and its text parameters.
#[derive(Debug, Default)]
pub struct Stmt {
    /// The SQL text.
    pub sql: String,
    /// `$1…` as text (`None`: NULL).
    pub params: Vec<Option<String>>,
}

impl Stmt {
    fn bind(
        &mut self,
        col: &PgCol,
        v: &Value,
        in_index: bool,
        bound: Option<bool>,
    ) -> Result<String> {
        self.params.push(col.text(v.as_ref())?);
        Ok(col.param(self.params.len(), in_index, bound))
    }
}

/// The columns a key of `idx` (or the primary key) is made of.
pub fn key_cols<'t>(t: &'t PgTable, idx: Option<&IndexDef>) -> Vec<&'t PgCol> {
    let cols = idx.map_or(t.def.primary_key, |i| i.columns);
    cols.iter().map(|&c| &t.cols[c]).collect()
}

/// The order of a scan: the key columns, then the primary key when the
/// index is not unique (as the embedded store's index entries are).
fn order_cols<'t>(t: &'t PgTable, idx: Option<&IndexDef>) -> Vec<&'t PgCol> {
    let mut cols = key_cols(t, idx);
    if let Some(i) = idx
        && !i.unique
    {
        cols.extend(t.def.primary_key.iter().map(|&c| &t.cols[c]));
    }
    cols
}

fn decode(t: &PgTable, bytes: &[u8]) -> Result<Vec<Value>> {
    keys::decode(bytes).map_err(|e| {
        Error::InvalidArgument(format!(
            "table {}: a key that does not decode ({} at byte {})",
            t.name, e.what, e.offset
        ))
    })
}

/// `c1 = $1 AND …` for a whole key (NULL-safe).
pub fn key_equals(st: &mut Stmt, t: &PgTable, cols: &[&PgCol], key: &[u8]) -> Result<String> {
    let vals = decode(t, key)?;
    if vals.len() != cols.len() {
        return Err(Error::InvalidArgument(format!(
            "table {}: a key of {} values for {} columns",
            t.name,
            vals.len(),
            cols.len()
        )));
    }
    equals(st, cols, &vals)
}

/// Equality needs no `COLLATE "C"`: under every deterministic collation
/// (all a database or our columns can have) text is equal only when its
/// bytes are, and comparing under the column's own collation is what lets
/// PostgreSQL use the index on it (an index built under the database's
/// collation does not serve a condition under "C": that was a sequential
/// scan per key lookup).
fn equals(st: &mut Stmt, cols: &[&PgCol], vals: &[Value]) -> Result<String> {
    let mut parts = Vec::with_capacity(vals.len());
    for (c, v) in cols.iter().zip(vals) {
        if v.is_null() {
            parts.push(format!("{} IS NULL", c.q));
        } else {
            st.params.push(c.text(v.as_ref())?);
            parts.push(format!("{} = ${}::{}", c.q, st.params.len(), c.ty.sql()));
        }
    }
    Ok(if parts.is_empty() {
        "TRUE".into()
    } else {
        parts.join(" AND ")
    })
}

/// The condition of one edge of a range: `(c1, c2) >= ($1, $2)` and friends
/// (`in_index`: the columns are an index's, see [`PgCol::ordered`]).
fn edge(
    st: &mut Stmt,
    t: &PgTable,
    cols: &[&PgCol],
    e: &Edge,
    start: bool,
    in_index: bool,
) -> Result<String> {
    // Start: Before = ">=", After = ">"; end: Before = "<", After = "<=".
    let (p, op) = match e {
        Edge::Unbounded => return Ok("TRUE".into()),
        Edge::Before(p) => (p, if start { ">=" } else { "<" }),
        Edge::After(p) => (p, if start { ">" } else { "<=" }),
        Edge::Raw(_) => {
            return Err(Error::InvalidArgument(format!(
                "table {}: a range of raw encoded keys is for the embedded store only",
                t.name
            )));
        }
    };
    let vals = decode(t, p)?;
    if vals.len() > cols.len() {
        return Err(Error::InvalidArgument(format!(
            "table {}: a range bound of {} values on {} key columns",
            t.name,
            vals.len(),
            cols.len()
        )));
    }
    let lead = &cols[..vals.len()];
    // NULL sorts first: a bound that is NULL alone means "NULL rows" or
    // "no NULL rows"; equality prefixes with NULL are handled by
    // `range_where`. Other NULL bounds would compare as SQL's unknown.
    if let [Value::Null] = vals.as_slice() {
        let c = &lead[0].q;
        return Ok(match (e, start) {
            (Edge::Before(_), true) => "TRUE".to_string(),
            (Edge::After(_), true) => format!("{c} IS NOT NULL"),
            (Edge::Before(_), false) => "FALSE".to_string(),
            _ => format!("{c} IS NULL"),
        });
    }
    if vals.iter().any(Value::is_null) {
        return Err(Error::InvalidArgument(format!(
            "table {}: a range bound holding NULL is not supported on PostgreSQL",
            t.name
        )));
    }
    let lhs: Vec<String> = lead.iter().map(|c| c.ordered(in_index)).collect();
    // The last value compares a time by its instant alone (see
    // `PgCol::param`), as the embedded store's bounds do.
    let after = matches!(e, Edge::After(_));
    let rhs = lead
        .iter()
        .zip(&vals)
        .enumerate()
        .map(|(i, (c, v))| st.bind(c, v, in_index, (i + 1 == vals.len()).then_some(after)))
        .collect::<Result<Vec<String>>>()?;
    // Row comparison; a NULL column makes it unknown, so NULL rows are
    // admitted where NULL sorts: before every value.
    let nulls = if start {
        String::new()
    } else {
        format!(" OR {} IS NULL", lead[0].q)
    };
    Ok(format!(
        "(({}) {op} ({}){nulls})",
        lhs.join(", "),
        rhs.join(", ")
    ))
}

/// `WHERE …` of a range on the key columns of `idx` (or the primary key).
/// Rows with a NULL in a unique index's columns have no entry in it, as in
/// the embedded store.
pub fn range_where(
    st: &mut Stmt,
    t: &PgTable,
    idx: Option<&IndexDef>,
    range: &KeyRange,
) -> Result<String> {
    let cols = key_cols(t, idx);
    let (s, e) = range.edges();
    let mut parts = Vec::new();
    if let Some(a) = range.one_key() {
        let vals = decode(t, a)?;
        parts.push(equals(st, &cols[..vals.len().min(cols.len())], &vals)?);
    } else {
        parts.push(edge(st, t, &cols, s, true, idx.is_some())?);
        parts.push(edge(st, t, &cols, e, false, idx.is_some())?);
    }
    if let Some(i) = idx
        && i.unique
    {
        for c in &cols {
            parts.push(format!("{} IS NOT NULL", c.q));
        }
    }
    parts.retain(|p| p != "TRUE");
    Ok(if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    })
}

/// `ORDER BY … LIMIT … OFFSET …` of a page.
pub fn order_page(t: &PgTable, idx: Option<&IndexDef>, page: Page) -> String {
    let mut s = order_by(t, idx, page);
    if let Some(l) = page.limit {
        s.push_str(&format!(" LIMIT {l}"));
    }
    if page.offset > 0 {
        s.push_str(&format!(" OFFSET {}", page.offset));
    }
    s
}

/// The rows of a range (`cond`, from [`range_where`]) in key order, a
/// page of them: the primary key then every column, as text. With a
/// limit or an offset, the page is taken in a subquery and only its rows
/// are cast to text: PostgreSQL computes a select list before the sort
/// below it, so `SELECT c::text … ORDER BY … LIMIT 50` would convert
/// every row the sort reads (about 20% of a page of 50 users out of 200,
/// on the server). The outer `ORDER BY` keeps the order guaranteed (a
/// sort of the page's rows).
pub fn page_rows(t: &PgTable, idx: Option<&IndexDef>, cond: &str, page: Page) -> String {
    if page.limit.is_none() && page.offset == 0 {
        return format!(
            "SELECT {}, {} FROM {}{cond}{}",
            pk_select(t),
            t.select,
            t.q,
            order_by(t, idx, page)
        );
    }
    format!(
        "SELECT {}, {} FROM (SELECT * FROM {}{cond}{}) AS aragora_page{}",
        pk_select(t),
        t.select,
        t.q,
        order_page(t, idx, page),
        order_by(t, idx, page)
    )
}

/// `ORDER BY …` of a page (no limit, no offset).
fn order_by(t: &PgTable, idx: Option<&IndexDef>, page: Page) -> String {
    let dir = if page.reverse { "DESC" } else { "ASC" };
    // NULL sorts first, as in the embedded store. A column that cannot be
    // NULL here (NOT NULL, in the primary key, or in a unique index, whose
    // scans skip NULL rows) gets no NULLS clause: the order is the same,
    // and a plain ASC/DESC is what lets a btree index (NULLS LAST) serve
    // it instead of a sort.
    let unique = idx.is_some_and(|i| i.unique);
    let order: Vec<String> = order_cols(t, idx)
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let in_pk = t
                .def
                .primary_key
                .iter()
                .any(|&i| std::ptr::eq(&t.cols[i], *c));
            let in_unique = unique && idx.is_some_and(|i| n < i.columns.len());
            let nulls = if c.pg.not_null || in_pk || in_unique {
                ""
            } else if page.reverse {
                " NULLS LAST"
            } else {
                " NULLS FIRST"
            };
            let in_index = idx.is_some_and(|i| n < i.columns.len());
            format!("{} {dir}{nulls}", c.ordered(in_index))
        })
        .collect();
    format!(" ORDER BY {}", order.join(", "))
}

/// The primary-key columns as a select list.
pub fn pk_select(t: &PgTable) -> String {
    key_cols(t, None)
        .iter()
        .map(|c| format!("{}::text", c.q))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bound text of a row's undeclared columns: NULL when there are none.
fn extras_param(extras: &crate::table::Extras) -> Option<String> {
    (!extras.is_empty()).then(|| crate::export::extras_json(extras))
}

/// The column list of an insert: every declared column, then `_extra`.
fn insert_columns(t: &PgTable) -> String {
    t.cols
        .iter()
        .map(|c| c.q.as_str())
        .chain(std::iter::once(t.extra_q.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row's `($1::type, …, $n::jsonb)`, its values bound in `st`.
fn insert_tuple<'v>(
    st: &mut Stmt,
    t: &PgTable,
    vals: impl Iterator<Item = crate::table::ValueRef<'v>>,
    extras: &crate::table::Extras,
) -> Result<String> {
    let mut ps = Vec::with_capacity(t.cols.len() + 1);
    for (c, v) in t.cols.iter().zip(vals) {
        st.params.push(c.text(v)?);
        ps.push(format!("${}::{}", st.params.len(), c.ty.sql()));
    }
    st.params.push(extras_param(extras));
    ps.push(format!("${}::jsonb", st.params.len()));
    Ok(format!("({})", ps.join(", ")))
}

/// The temporary table a load's batches of `t` are copied into
/// (`PgRows::insert_new`): the same columns and types, so COPY parses each
/// value exactly as a `$n::type` parameter would be; dropped at commit.
pub fn load_table(t: &PgTable) -> String {
    crate::export::q(&format!("aragora_load_{}", t.name)).unwrap_or_else(|_| t.q.clone())
}

/// `CREATE` (or empty) the load table of `t`.
pub fn load_table_ready(t: &PgTable) -> String {
    let tmp = load_table(t);
    format!(
        "CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {}) ON COMMIT DROP; TRUNCATE {tmp}",
        t.q
    )
}

/// `COPY … FROM STDIN` into the load table, every declared column then
/// `_extra`.
pub fn load_copy(t: &PgTable) -> String {
    format!("COPY {} ({}) FROM STDIN", load_table(t), insert_columns(t))
}

/// Moves the copied rows into `t`, skipping each whose key (or any unique
/// value) is taken, returning the primary key of each row it inserted, as
/// text.
pub fn load_insert(t: &PgTable) -> String {
    let cols = insert_columns(t);
    format!(
        "INSERT INTO {} ({cols}) SELECT {cols} FROM {} ON CONFLICT DO NOTHING RETURNING {}",
        t.q,
        load_table(t),
        pk_select(t)
    )
}

/// Appends one row of COPY's text format: tab-separated fields, `\N` for
/// NULL, backslash escapes for backslash, tab, newline and carriage
/// return. Text holding a NUL byte cannot be stored in PostgreSQL and is
/// refused.
pub fn copy_row<'v>(
    out: &mut String,
    t: &PgTable,
    vals: impl Iterator<Item = crate::table::ValueRef<'v>>,
    extras: &crate::table::Extras,
) -> Result<()> {
    let mut first = true;
    let mut field = |out: &mut String, v: Option<String>| -> Result<()> {
        if !std::mem::take(&mut first) {
            out.push('\t');
        }
        let Some(v) = v else {
            out.push_str("\\N");
            return Ok(());
        };
        for ch in v.chars() {
            match ch {
                '\0' => {
                    return Err(Error::InvalidArgument(format!(
                        "table {}: PostgreSQL text cannot hold a NUL character (\\0)",
                        t.name
                    )));
                }
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        Ok(())
    };
    for (c, v) in t.cols.iter().zip(vals) {
        field(out, c.text(v)?)?;
    }
    field(out, extras_param(extras))?;
    out.push('\n');
    Ok(())
}

/// The rows whose primary key is one of `pks` (encoded keys), each as its
/// primary key then its columns: one statement for a batch of lookups
/// (`PgRows::rows_by_keys`). Primary-key columns are NOT NULL on
/// PostgreSQL, so `IN` on the key tuple is exact.
pub fn rows_by_keys(t: &PgTable, pks: &[&[u8]]) -> Result<Stmt> {
    let mut st = Stmt::default();
    let cols = key_cols(t, None);
    let mut tuples = Vec::with_capacity(pks.len());
    for pk in pks {
        let vals = decode(t, pk)?;
        let mut ps = Vec::with_capacity(cols.len());
        for (c, v) in cols.iter().zip(&vals) {
            st.params.push(c.text(v.as_ref())?);
            ps.push(format!("${}::{}", st.params.len(), c.ty.sql()));
        }
        tuples.push(format!("({})", ps.join(", ")));
    }
    let list = cols.iter().map(|c| c.q.as_str()).collect::<Vec<_>>();
    st.sql = format!(
        "SELECT {}, {} FROM {} WHERE ({}) IN ({})",
        pk_select(t),
        t.select,
        t.q,
        list.join(", "),
        tuples.join(", ")
    );
    Ok(st)
}

/// `INSERT` of one row (its undeclared columns into the `_extra` column).
pub fn insert(
    t: &PgTable,
    vals: &[crate::table::ValueRef<'_>],
    extras: &crate::table::Extras,
) -> Result<Stmt> {
    let mut st = Stmt::default();
    let tuple = insert_tuple(&mut st, t, vals.iter().copied(), extras)?;
    st.sql = format!("INSERT INTO {} ({}) VALUES {tuple}", t.q, insert_columns(t));
    Ok(st)
}

/// `UPDATE` of every non-key column (and the undeclared ones) of the row
/// with the same primary key.
pub fn update(
    t: &PgTable,
    vals: &[crate::table::ValueRef<'_>],
    extras: &crate::table::Extras,
) -> Result<Stmt> {
    let mut st = Stmt::default();
    let pk = t.def.primary_key;
    let mut sets = Vec::new();
    for (i, (c, v)) in t.cols.iter().zip(vals).enumerate() {
        if pk.contains(&i) {
            continue;
        }
        st.params.push(c.text(*v)?);
        sets.push(format!("{} = ${}::{}", c.q, st.params.len(), c.ty.sql()));
    }
    st.params.push(extras_param(extras));
    sets.push(format!("{} = ${}::jsonb", t.extra_q, st.params.len()));
    let mut conds = Vec::new();
    for &i in pk {
        let c = &t.cols[i];
        match c.text(vals[i])? {
            None => conds.push(format!("{} IS NULL", c.q)),
            Some(p) => {
                st.params.push(Some(p));
                conds.push(format!("{} = ${}::{}", c.q, st.params.len(), c.ty.sql()));
            }
        }
    }
    if sets.is_empty() {
        // A table of key columns only: touch the row to learn it exists.
        sets.push(format!("{0} = {0}", t.cols[pk[0]].q));
    }
    st.sql = format!(
        "UPDATE {} SET {} WHERE {}",
        t.q,
        sets.join(", "),
        conds.join(" AND ")
    );
    Ok(st)
}
