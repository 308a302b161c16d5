//! Consistency check of one table: every row decodes (CRC, format, types),
//! every row has exactly its index entries, every index entry points back at
//! a row that produces it, the row count is right, NOT NULL holds, foreign
//! keys resolve, and nothing lives in an undeclared key space.

use super::def::{Row, TableDef};
use super::keys;
use super::layout::{
    COUNT_KEY, LAYOUT_VERSION, META, ROWS, SEQ_KEY, entry_parts, entry_value, index_key_in, pk_of,
    recorded_layout,
};
use super::range::{KeyRange, Page};
use super::read::Reader;
use super::value::{Value, ValueRef};
use crate::error::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The table, or `table#index`.
    pub table: String,
    /// The key concerned, rendered.
    pub key: String,
    /// What is wrong.
    pub what: String,
    /// For a foreign key whose parent row is missing: which reference, so
    /// that `verify` can tell one the original left behind (recorded at
    /// import) from a new one.
    pub dangling: Option<Dangling>,
}

/// A reference whose parent row does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dangling {
    /// The child table.
    pub table: &'static str,
    /// The foreign key's position in the child's declaration.
    pub fk: usize,
    /// The child row's primary key (encoded).
    pub pk: Vec<u8>,
    /// The parent key it names (encoded).
    pub parent_key: Vec<u8>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]: {}", self.table, self.key, self.what)
    }
}

fn problem(table: &str, key: &[u8], what: impl Into<String>) -> Problem {
    Problem {
        table: table.to_string(),
        key: keys::render(key),
        what: what.into(),
        dangling: None,
    }
}

/// What the rows say the index entries must be.
#[derive(Default)]
struct Expected {
    /// Full entry key (with space byte) → (value, the row's pk): the value
    /// is what [`entry_value`] stores (pk, pk and row, row, or nothing).
    entries: BTreeMap<Vec<u8>, (Vec<u8>, Vec<u8>)>,
    /// (foreign key number, child pk, parent pk)
    fk_refs: Vec<(usize, Vec<u8>, Vec<u8>)>,
    rows: u64,
}

/// Checks one table in a snapshot. Returns every problem found.
pub fn check_table(r: &Reader, def: &'static TableDef) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let mut exp = Expected::default();
    // Index entries are checked as the file's own layout keys them.
    let layout = recorded_layout(r.txn()?).unwrap_or(LAYOUT_VERSION);
    r.scan_raw(def, &KeyRange::all(), Page::default(), |pk, bytes| {
        exp.rows += 1;
        check_row(layout, def, pk, bytes, &mut exp, &mut problems);
        Ok(true)
    })?;

    // Every stored index entry must be expected, with the right value.
    let mut seen = BTreeSet::new();
    let all = (Bound::Included(vec![ROWS + 1]), Bound::Excluded(vec![META]));
    r.scan_space(def.name, all, Page::default(), |k, v| {
        let space = k[0];
        let (idx, label) = match def.indexes.iter().find(|i| i.space == space) {
            Some(idx) => (idx, format!("{}#{}", def.name, idx.name)),
            None => {
                problems.push(problem(
                    def.name,
                    k,
                    format!("entry in undeclared key space {space}"),
                ));
                return Ok(true);
            }
        };
        match exp.entries.get(k) {
            None => problems.push(problem(&label, &k[1..], "index entry has no matching row")),
            Some((want, want_pk)) if want.as_slice() != v => {
                let what = match entry_parts(def, idx, k, v) {
                    Err(e) => e.to_string(),
                    Ok((pk, _)) if pk != want_pk.as_slice() => format!(
                        "entry points at {} instead of {}",
                        keys::render(pk),
                        keys::render(want_pk)
                    ),
                    Ok((_, Some(_))) => format!(
                        "the row copy of covering index {} differs from row {}",
                        idx.name,
                        keys::render(want_pk)
                    ),
                    Ok((_, None)) => {
                        format!("entry holds {} bytes, expected {}", v.len(), want.len())
                    }
                };
                problems.push(problem(&label, &k[1..], what))
            }
            Some(_) => {}
        }
        seen.insert(k.to_vec());
        Ok(true)
    })?;
    for missing in exp.entries.keys().filter(|k| !seen.contains(*k)) {
        let idx = def.indexes.iter().find(|i| i.space == missing[0]);
        let label = format!("{}#{}", def.name, idx.map_or("?", |i| i.name));
        problems.push(problem(&label, &missing[1..], "row has no index entry"));
    }

    let stored = r.count_rows(def);
    match stored {
        Ok(n) if n == exp.rows => {}
        Ok(n) => problems.push(problem(
            def.name,
            COUNT_KEY,
            format!("row count says {n}, table holds {}", exp.rows),
        )),
        Err(e) => problems.push(problem(def.name, COUNT_KEY, e.to_string())),
    }
    let meta = (Bound::Included(vec![META]), Bound::Unbounded);
    r.scan_space(def.name, meta, Page::default(), |k, _| {
        if k != COUNT_KEY && k != SEQ_KEY {
            problems.push(problem(def.name, k, "unknown metadata entry"));
        }
        Ok(true)
    })?;

    for d in resolve(r, def, exp.fk_refs)? {
        let fk = &def.foreign_keys[d.fk];
        let mut p = problem(
            def.name,
            &d.pk,
            format!(
                "{} = {} has no row in {}",
                def.column_list(fk.columns),
                keys::render(&d.parent_key),
                (fk.parent)().name
            ),
        );
        p.dangling = Some(d);
        problems.push(p);
    }
    Ok(problems)
}

fn check_row(
    layout: u64,
    def: &'static TableDef,
    pk: &[u8],
    bytes: &[u8],
    exp: &mut Expected,
    problems: &mut Vec<Problem>,
) {
    let values = match def.decode_values(pk, bytes) {
        Ok((v, _)) => v,
        Err(e) => {
            problems.push(problem(def.name, pk, e.to_string()));
            return;
        }
    };
    let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
    if pk_of(def, &vals) != pk {
        problems.push(problem(
            def.name,
            pk,
            "stored key differs from the row's primary-key columns",
        ));
    }
    for (col, v) in def.columns.iter().zip(&vals) {
        if v.is_null() && !col.nullable {
            problems.push(problem(
                def.name,
                pk,
                format!("NOT NULL column {} is NULL", col.name),
            ));
        } else if !v.is_null() && !(col.accepts)(*v) {
            problems.push(problem(
                def.name,
                pk,
                format!(
                    "column {} holds {}, expected {}",
                    col.name,
                    v.describe(),
                    col.expected
                ),
            ));
        }
    }
    for idx in def.indexes {
        if let Some(k) = index_key_in(layout, def, idx, &vals, pk) {
            let value = entry_value(idx, pk, bytes).into_owned();
            if let Some((_, other)) = exp.entries.insert(k.clone(), (value, pk.to_vec())) {
                let label = format!("{}#{}", def.name, idx.name);
                problems.push(problem(
                    &label,
                    &k[1..],
                    format!(
                        "UNIQUE violated: rows {} and {} share this key",
                        keys::render(&other),
                        keys::render(pk)
                    ),
                ));
            }
        }
    }
    push_refs(def, pk, &vals, &mut exp.fk_refs);
}

/// The references `(foreign key, child pk, parent key)` one row makes (a
/// reference with a NULL column makes none, as in SQL).
fn push_refs(
    def: &TableDef,
    pk: &[u8],
    vals: &[ValueRef<'_>],
    refs: &mut Vec<(usize, Vec<u8>, Vec<u8>)>,
) {
    for (n, fk) in def.foreign_keys.iter().enumerate() {
        if fk.columns.iter().all(|&c| !vals[c].is_null()) {
            refs.push((
                n,
                pk.to_vec(),
                keys::encode(fk.columns.iter().map(|&c| vals[c])),
            ));
        }
    }
}

/// The references `(foreign key, child pk, parent key)` whose parent row
/// is not in the snapshot.
fn resolve(
    r: &Reader,
    def: &'static TableDef,
    refs: Vec<(usize, Vec<u8>, Vec<u8>)>,
) -> Result<Vec<Dangling>> {
    let mut out = Vec::new();
    for (n, pk, parent_key) in refs {
        let parent = (def.foreign_keys[n].parent)();
        let mut found = false;
        r.scan_raw(
            parent,
            &KeyRange::prefix(keys::RawKey(&parent_key)),
            Page::first(1),
            |k, _| {
                found = k == parent_key.as_slice();
                Ok(false)
            },
        )?;
        if !found {
            out.push(Dangling {
                table: def.name,
                fk: n,
                pk,
                parent_key,
            });
        }
    }
    Ok(out)
}

/// Every reference of `def`'s rows whose parent row is missing (rows that
/// do not decode are passed over: [`check_table`] reports those).
pub fn dangling_refs(r: &Reader, def: &'static TableDef) -> Result<Vec<Dangling>> {
    if def.foreign_keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut refs = Vec::new();
    r.scan_raw(def, &KeyRange::all(), Page::default(), |pk, bytes| {
        if let Ok((values, _)) = def.decode_values(pk, bytes) {
            let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
            push_refs(def, pk, &vals, &mut refs);
        }
        Ok(true)
    })?;
    resolve(r, def, refs)
}

/// Checks a typed table.
pub fn check<R: Row>(r: &Reader) -> Result<Vec<Problem>> {
    check_table(r, R::DEF)
}
