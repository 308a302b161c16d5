//! Rows out of a file read page by page (see [`pages`]),
//! and the rule that decides which of them may be copied.
//!
//! redb is copy-on-write: every commit writes new copies of the pages it
//! changes, and the old copies stay in the file, unreferenced, until their
//! space is reused. A scan of every page therefore finds current rows, old
//! versions of updated rows and rows deleted since. The rule:
//!
//! 1. **Tree rows.** The table tree is read from the newest commit slot (by
//!    transaction id; the primary on a tie), and each table's data tree is
//!    walked from the root it names. A row reached this way is the current
//!    row for its key; it is copied when its CRC checks, and reported
//!    otherwise (an older copy is never substituted for it).
//! 2. **Unreadable ranges.** A subtree that cannot be read (past the end of
//!    the file, zeroed, malformed, keys outside the range its parent routes
//!    to it, a pointer cycle) leaves the key range its parent routed to it
//!    unknown; so does a whole table when the table tree cannot be read.
//! 3. **Rows from unreferenced pages.** Only for keys in an unknown range
//!    of the table, leaves found by scanning every page of the file are
//!    used. A scanned leaf belongs to a table when its rows decode for it:
//!    each row's primary-key columns re-encode to its key, every value has
//!    its column's type and nullability, and it has no more values than the
//!    table has columns. A leaf is attributed when exactly one candidate
//!    table takes every row with exactly its column count, or, if none
//!    does, exactly one takes them all with fewer (rows written before
//!    columns were added); otherwise it is reported as ambiguous and not
//!    used. A key found on several unreferenced pages with different row
//!    bytes cannot be dated (no commit id is stored in a leaf), so none of
//!    its versions is copied and the conflict is reported; a key found with
//!    one version only is copied and reported separately as "recovered
//!    from unreferenced pages, may be stale": it may be an old version of a
//!    row updated since, or a row deleted since, in a range whose current
//!    pages are lost.

use super::pages::{self, Header, Lost, Range, Source};
use crate::ops::verify::ProblemOut;
use crate::table::codec;
use crate::table::value::ValueRef;
use crate::table::{Extras, TableDef, Value, keys, layout::ROWS};
use std::collections::{BTreeMap, HashSet};

/// A row: (primary key, values, extras).
pub type Row = (Vec<u8>, Vec<Value>, Extras);

/// One table's rows read page by page.
#[derive(Debug)]
pub struct TableRows {
    /// The table.
    pub def: &'static TableDef,
    /// Rows reached from the newest commit's tree.
    pub tree: Vec<Row>,
    /// Rows found only on unreferenced pages, in ranges the tree lost.
    pub scanned: Vec<Row>,
    /// What could not be read or copied (each counts as lost).
    pub problems: Vec<ProblemOut>,
}

/// Everything read page by page.
#[derive(Debug, Default)]
pub struct PageRecovery {
    /// Per table, candidates first.
    pub tables: Vec<TableRows>,
    /// File-level findings (header, slots, ambiguous pages, undeclared tables).
    pub notes: Vec<String>,
}

/// The distinct row bytes found for one key, each with the byte offsets
/// of the pages holding it.
type Versions = Vec<(Vec<u8>, Vec<u64>)>;

/// Renders a key-range bound (routing keys may be truncated keys).
fn bound(k: &[u8]) -> String {
    match k.split_first() {
        Some((&ROWS, pk)) if keys::decode(pk).is_ok() => keys::render(pk),
        _ => {
            let hex: String = k.iter().take(24).map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}{}", if k.len() > 24 { "…" } else { "" })
        }
    }
}

fn range_text(r: &Range) -> String {
    format!(
        "({}, {}]",
        r.lo.as_deref().map_or("start".into(), bound),
        r.hi.as_deref().map_or("end".into(), bound)
    )
}

/// Whether a range can hold row keys (`0x00 ++ pk`).
fn holds_rows(r: &Range) -> bool {
    r.lo.as_deref()
        .is_none_or(|l| l.first().is_none_or(|&b| b == ROWS))
        && r.hi.as_deref().is_none_or(|h| !h.is_empty())
}

fn lost_problem(table: &str, l: &Lost) -> ProblemOut {
    let at = match l.bytes {
        Some((off, len)) => format!("page {:#x} (bytes {off}..{})", l.page, off + len),
        None => format!("page {:#x}", l.page),
    };
    ProblemOut {
        table: table.into(),
        key: range_text(&l.range),
        what: format!(
            "rows in this key range unreadable from the tree: {at}: {}",
            l.why
        ),
    }
}

fn problem(table: &str, pk: &[u8], what: String) -> ProblemOut {
    ProblemOut {
        table: table.into(),
        key: keys::render(pk),
        what,
    }
}

/// How a row fits a table: `None` if it does not, else whether it has
/// exactly the table's column count.
fn fits(def: &TableDef, pk: &[u8], vals: &[ValueRef<'_>]) -> Option<bool> {
    if vals.len() > def.columns.len() || def.primary_key.iter().any(|&c| c >= vals.len()) {
        return None;
    }
    for (v, c) in vals.iter().zip(def.columns) {
        let ok = match v {
            ValueRef::Null => c.nullable,
            v => (c.accepts)(*v),
        };
        if !ok {
            return None;
        }
    }
    if keys::encode(def.primary_key.iter().map(|&c| vals[c])) != pk {
        return None;
    }
    Some(vals.len() == def.columns.len())
}

/// The table a scanned leaf's rows belong to (see the module docs), or
/// the tables it is ambiguous between.
fn attribute(
    rows: &[(&[u8], &[u8])],
    candidates: &[&'static TableDef],
) -> Result<&'static TableDef, Vec<&'static str>> {
    let mut exact = Vec::new();
    let mut loose = Vec::new();
    for &def in candidates {
        let mut all_exact = true;
        let ok = rows.iter().all(|(pk, v)| {
            codec::with_view(v, |view| fits(def, pk, view.values()))
                .ok()
                .flatten()
                .inspect(|e| all_exact &= *e)
                .is_some()
        });
        if ok {
            if all_exact {
                exact.push(def);
            } else {
                loose.push(def);
            }
        }
    }
    match (exact.as_slice(), loose.as_slice()) {
        ([one], _) | ([], [one]) => Ok(one),
        _ => Err(exact.iter().chain(&loose).map(|d| d.name).collect()),
    }
}

/// Reads from `src` page by page every declared table the table tree
/// names, plus `known` (tables known to be in the file) and `candidates`
/// (tables the file may hold). When the table tree cannot be read, a
/// candidate that is not known and of which no row is found is left out of
/// the result (it may never have been in the file), with a note.
pub fn recover(
    src: &dyn Source,
    known: &[&'static TableDef],
    candidates: &[&'static TableDef],
) -> PageRecovery {
    let mut rec = PageRecovery::default();
    let header: Header = pages::read_header(src);
    rec.notes.extend(header.notes.iter().cloned());
    if let Some(described) = header.described_len.filter(|&d| d > src.file_len()) {
        rec.notes.push(format!(
            "the file is {} bytes, its header describes {described}: bytes {}..{described} are missing",
            src.file_len(),
            src.file_len()
        ));
    }
    let mut seen: HashSet<u64> = HashSet::new();
    // The table tree of the newest commit.
    let mut tables: Option<BTreeMap<String, Option<u64>>> = None;
    let mut tree_complete = false;
    match (&header.geometry, header.slots.first()) {
        (Some(geo), Some(slot)) => match slot.table_tree {
            None => {
                tables = Some(BTreeMap::new());
                tree_complete = true;
            }
            Some(root) => {
                let w = pages::walk(src, geo, root, &mut seen);
                let mut map = BTreeMap::new();
                for (k, v, _) in w.entries {
                    let Ok(name) = String::from_utf8(k) else {
                        rec.notes
                            .push("the table tree holds a name that is not UTF-8".into());
                        continue;
                    };
                    match pages::table_root(&v) {
                        Ok(root) => {
                            map.insert(name, root);
                        }
                        Err(e) => rec.notes.push(format!("table {name}: {e}")),
                    }
                }
                tree_complete = w.lost.is_empty();
                for l in &w.lost {
                    let p = lost_problem("(table tree)", l);
                    rec.notes.push(format!(
                        "the table tree of commit slot {} (transaction {}) is partly unreadable: names {} {}",
                        slot.index, slot.txn, p.key, p.what
                    ));
                }
                if !map.is_empty() || tree_complete {
                    tables = Some(map);
                }
            }
        },
        (Some(_), None) => rec
            .notes
            .push("no usable commit slot: the tables cannot be found from the header".into()),
        (None, _) => {}
    }
    let mut known: Vec<&'static TableDef> = known.to_vec();
    if let Some(map) = &tables {
        for name in map.keys() {
            match crate::schema::table(name) {
                Ok(def) if !known.iter().any(|d| d.name == def.name) => known.push(def),
                Ok(_) => {}
                Err(_) if crate::ops::META_TABLES.contains(&name.as_str()) => {}
                Err(_) => rec
                    .notes
                    .push(format!("table {name}: not a declared table; not copied")),
            }
        }
    }
    let mut defs = known.clone();
    for &def in candidates {
        if !defs.iter().any(|d| d.name == def.name) {
            defs.push(def);
        }
    }
    // Tree rows and unknown ranges, per table.
    let mut unknown: Vec<Vec<Range>> = Vec::new();
    for &def in &defs {
        let mut t = TableRows {
            def,
            tree: Vec::new(),
            scanned: Vec::new(),
            problems: Vec::new(),
        };
        let mut ranges = Vec::new();
        let root = tables.as_ref().and_then(|m| m.get(def.name).copied());
        match (root, &header.geometry) {
            (Some(Some(root)), Some(geo)) => {
                let w = pages::walk(src, geo, root, &mut seen);
                for (k, v, _) in w.entries {
                    let Some((&ROWS, pk)) = k.split_first() else {
                        continue;
                    };
                    match def.decode_values(pk, &v) {
                        Ok((values, extras)) => t.tree.push((pk.to_vec(), values, extras)),
                        Err(e) => t.problems.push(problem(def.name, pk, e.to_string())),
                    }
                }
                for l in w.lost.iter().filter(|l| holds_rows(&l.range)) {
                    t.problems.push(lost_problem(def.name, l));
                    ranges.push(l.range.clone());
                }
            }
            // Empty, or absent from a table tree read whole.
            (Some(None), _) => {}
            (None, _) if tree_complete => {}
            _ => {
                t.problems.push(ProblemOut {
                    table: def.name.into(),
                    key: String::new(),
                    what: "the table's root cannot be found (table tree or header unreadable); its rows can only come from unreferenced pages".into(),
                });
                ranges.push(Range::all());
            }
        }
        unknown.push(ranges);
        rec.tables.push(t);
    }
    if unknown.iter().all(Vec::is_empty) {
        return rec;
    }
    scan_unknown(src, &header, &seen, &defs, &unknown, &mut rec);
    let (absent, kept): (Vec<TableRows>, Vec<TableRows>) =
        std::mem::take(&mut rec.tables).into_iter().partition(|t| {
            !known.iter().any(|d| d.name == t.def.name) && t.tree.is_empty() && t.scanned.is_empty()
        });
    rec.tables = kept;
    if !absent.is_empty() {
        let names: Vec<&str> = absent.iter().map(|t| t.def.name).collect();
        let which = if names.len() > 12 {
            format!("{} other declared tables", names.len())
        } else {
            names.join(", ")
        };
        rec.notes.push(format!(
            "no rows found of {which} (tables this file may hold; without its table tree, whether they were in it is unknown)"
        ));
    }
    rec
}

/// Fills the unknown ranges from leaves found by scanning (see the module
/// docs). `unknown[i]` are the ranges of `defs[i]` and `rec.tables[i]`.
fn scan_unknown(
    src: &dyn Source,
    header: &Header,
    seen: &HashSet<u64>,
    defs: &[&'static TableDef],
    unknown: &[Vec<Range>],
    rec: &mut PageRecovery,
) {
    // Rows from unreferenced pages, only for the unknown ranges.
    let scan = pages::scan(src, header.page_size, seen);
    if scan.unreadable > 0 {
        rec.notes.push(format!(
            "{} pages of {} bytes could not be read while scanning",
            scan.unreadable, header.page_size
        ));
    }
    if !scan.zeros.is_empty() {
        let shown: Vec<String> = scan
            .zeros
            .iter()
            .take(8)
            .map(|(a, b)| format!("{a}..{b}"))
            .collect();
        let more = scan.zeros.len().saturating_sub(8);
        rec.notes.push(format!(
            "all-zero pages (free, or zero-filled by damage) at bytes {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more ranges")
            } else {
                String::new()
            }
        ));
    }
    let leaves = scan.leaves;
    let in_unknown = |k: &[u8]| unknown.iter().any(|rs| rs.iter().any(|r| r.contains(k)));
    // (table index, key) -> distinct row bytes, with the pages holding them.
    let mut found: BTreeMap<(usize, Vec<u8>), Versions> = BTreeMap::new();
    for leaf in &leaves {
        let rows: Vec<(&[u8], &[u8])> = leaf
            .entries
            .iter()
            .filter_map(|(k, v)| match k.split_first() {
                Some((&ROWS, pk)) if !pk.is_empty() && codec::body(v).is_ok() => {
                    Some((pk, v.as_slice()))
                }
                _ => None,
            })
            .collect();
        if rows.is_empty() || !leaf.entries.iter().any(|(k, _)| in_unknown(k)) {
            continue;
        }
        let def = match attribute(&rows, defs) {
            Ok(def) => def,
            Err(names) if names.is_empty() => {
                rec.notes.push(format!(
                    "unreferenced page at byte {}: {} rows that fit no declared table; not copied",
                    leaf.off,
                    rows.len()
                ));
                continue;
            }
            Err(names) => {
                rec.notes.push(format!(
                    "unreferenced page at byte {}: {} rows that fit several tables ({}); not copied",
                    leaf.off,
                    rows.len(),
                    names.join(", ")
                ));
                continue;
            }
        };
        let ti = defs.iter().position(|d| d.name == def.name).unwrap_or(0);
        for (k, v) in &leaf.entries {
            if k.first() != Some(&ROWS) || !unknown[ti].iter().any(|r| r.contains(k)) {
                continue;
            }
            if codec::body(v).is_err() {
                continue;
            }
            let versions = found.entry((ti, k[1..].to_vec())).or_default();
            match versions.iter_mut().find(|(b, _)| b == v) {
                Some((_, offs)) => offs.push(leaf.off),
                None => versions.push((v.clone(), vec![leaf.off])),
            }
        }
    }
    for ((ti, pk), versions) in found {
        let t = &mut rec.tables[ti];
        if t.tree.iter().any(|r| r.0 == pk) {
            continue;
        }
        if let [(bytes, _)] = versions.as_slice() {
            match t.def.decode_values(&pk, bytes) {
                Ok((values, extras)) => t.scanned.push((pk, values, extras)),
                Err(e) => t.problems.push(problem(t.def.name, &pk, e.to_string())),
            }
        } else {
            let at: Vec<String> = versions
                .iter()
                .map(|(_, offs)| {
                    offs.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .collect();
            t.problems.push(problem(
                t.def.name,
                &pk,
                format!(
                    "{} different versions on unreferenced pages (at bytes {}) and the current one unreadable; none copied",
                    versions.len(),
                    at.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::users::{AUDIT_LOG, ORGANIZATIONS, USERS};

    fn stored(def: &TableDef, values: &[Value]) -> (Vec<u8>, Vec<u8>) {
        let key = keys::encode(def.primary_key.iter().map(|&c| values[c].as_ref()));
        (key, codec::encode_values(values, &Extras::new()))
    }

    fn full(def: &TableDef, id: Value) -> Vec<Value> {
        let mut v: Vec<Value> = (0..def.columns.len())
            .map(|c| match def.default_value(c) {
                Value::Null if !def.columns[c].nullable => Value::Text("x".into()),
                d => d,
            })
            .collect();
        v[def.primary_key[0]] = id;
        v
    }

    fn view(r: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
        r.iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect()
    }

    #[test]
    fn a_page_goes_to_the_one_table_its_rows_fit() {
        let tables: [&'static TableDef; 3] = [&USERS, &ORGANIZATIONS, &AUDIT_LOG];
        let u = stored(&USERS, &full(&USERS, Value::Text("u1".into())));
        let o = stored(
            &ORGANIZATIONS,
            &full(&ORGANIZATIONS, Value::Text("o1".into())),
        );
        let rows = |r: &[&(Vec<u8>, Vec<u8>)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            r.iter().map(|x| (*x).clone()).collect()
        };
        let page = rows(&[&u]);
        assert_eq!(
            attribute(&view(&page), &tables).map(|d| d.name),
            Ok("users")
        );
        let page = rows(&[&o]);
        assert_eq!(
            attribute(&view(&page), &tables).map(|d| d.name),
            Ok("organizations")
        );
        // Rows of two tables on one page: no table takes them all.
        let page = rows(&[&o, &u]);
        assert_eq!(
            attribute(&view(&page), &tables).map(|d| d.name),
            Err(vec![])
        );
        // A row holding only a text id fits both with defaults: ambiguous.
        let short = stored(&USERS, &[Value::Text("u2".into())]);
        let page = rows(&[&short]);
        assert_eq!(
            attribute(&view(&page), &tables).map(|d| d.name),
            Err(vec!["users", "organizations"])
        );
        // A key that is not the row's own primary key: no table.
        let page = vec![(
            keys::encode([Value::Text("other".into()).as_ref()]),
            u.1.clone(),
        )];
        assert_eq!(
            attribute(&view(&page), &tables).map(|d| d.name),
            Err(vec![])
        );
    }
}
