//! Consistency check of one table: every row decodes (CRC, format, types),
//! every row has exactly its index entries, every index entry points back at
//! a row that produces it, NOT NULL holds, and foreign keys resolve.

use super::def::{Row, TableDef};
use super::keys;
use super::read::KeyRange;
use super::read::{Page, Reader};
use super::value::{Value, ValueRef};
use super::write::{index_key, pk_of};
use crate::error::Result;
use redb::ReadableTable;
use std::collections::BTreeSet;

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The table (or `table#index`).
    pub table: String,
    /// The key concerned, rendered.
    pub key: String,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]: {}", self.table, self.key, self.what)
    }
}

/// Checks one table in a snapshot. Returns every problem found.
pub fn check_table(r: &Reader, def: &'static TableDef) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let mut expected: Vec<BTreeSet<Vec<u8>>> = vec![BTreeSet::new(); def.indexes.len()];
    let mut unique_targets: Vec<Vec<(Vec<u8>, Vec<u8>)>> = vec![Vec::new(); def.indexes.len()];
    let mut fk_refs: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::new();
    let problem = |table: &str, key: &[u8], what: String| Problem {
        table: table.to_string(),
        key: keys::render(key),
        what,
    };

    r.scan_raw(def, &KeyRange::all(), Page::default(), |pk, bytes| {
        let (values, _) = match def.decode_values(pk, bytes) {
            Ok(v) => v,
            Err(e) => {
                problems.push(problem(def.name, pk, e.to_string()));
                return Ok(true);
            }
        };
        let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
        if pk_of(def, &vals) != pk {
            problems.push(problem(
                def.name,
                pk,
                "stored key differs from the row's primary-key columns".into(),
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
        for (n, idx) in def.indexes.iter().enumerate() {
            if let Some(k) = index_key(idx, &vals, pk) {
                if idx.unique {
                    unique_targets[n].push((k.clone(), pk.to_vec()));
                }
                if !expected[n].insert(k.clone()) {
                    problems.push(problem(
                        idx.redb_name,
                        &k,
                        "UNIQUE violated: two rows share this key".into(),
                    ));
                }
            }
        }
        for (n, fk) in def.foreign_keys.iter().enumerate() {
            if fk.columns.iter().all(|&c| !vals[c].is_null()) {
                fk_refs.push((
                    n,
                    pk.to_vec(),
                    keys::encode(fk.columns.iter().map(|&c| vals[c])),
                ));
            }
        }
        Ok(true)
    })?;

    for (n, idx) in def.indexes.iter().enumerate() {
        let t = r.raw_table(idx.redb_name)?;
        let mut seen = BTreeSet::new();
        for entry in t
            .iter()
            .map_err(|e| crate::error::Error::Invalid(e.to_string()))?
        {
            let (k, _) = entry.map_err(|e| crate::error::Error::Invalid(e.to_string()))?;
            let key = k.value().to_vec();
            if !expected[n].contains(&key) {
                problems.push(problem(
                    idx.redb_name,
                    &key,
                    "index entry has no matching row".into(),
                ));
            }
            seen.insert(key);
        }
        for missing in expected[n].difference(&seen) {
            problems.push(problem(
                idx.redb_name,
                missing,
                "row has no index entry".into(),
            ));
        }
        if idx.unique {
            for (k, pk) in &unique_targets[n] {
                if let Some(stored) = t
                    .get(k.as_slice())
                    .map_err(|e| crate::error::Error::Invalid(e.to_string()))?
                {
                    if stored.value() != pk.as_slice() {
                        problems.push(problem(
                            idx.redb_name,
                            k,
                            format!(
                                "unique entry points at {} instead of {}",
                                keys::render(stored.value()),
                                keys::render(pk)
                            ),
                        ));
                    }
                }
            }
        }
    }

    for (n, pk, parent_key) in fk_refs {
        let fk = &def.foreign_keys[n];
        let parent = (fk.parent)();
        let t = r.raw_table(parent.name)?;
        let found = t
            .get(parent_key.as_slice())
            .map_err(|e| crate::error::Error::Invalid(e.to_string()))?;
        if found.is_none() {
            problems.push(problem(
                def.name,
                &pk,
                format!(
                    "{} = {} has no row in {}",
                    def.column_list(fk.columns),
                    keys::render(&parent_key),
                    parent.name
                ),
            ));
        }
    }
    Ok(problems)
}

/// Checks a typed table.
pub fn check<R: Row>(r: &Reader) -> Result<Vec<Problem>> {
    check_table(r, R::DEF)
}
