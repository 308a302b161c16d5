//! References the original left dangling, recorded at import.
//!
//! The original Aragora declares foreign keys but never enforces them
//! (SQLite's `foreign_keys` pragma is off by default), and its own flows
//! leave references without a parent: archiving moves consensus rows away
//! and keeps their dissents, memory pruning keeps tier transitions of
//! entries it deleted (docs/ORIGINAL.md). An import must keep those rows as
//! they are, and `verify` must not fail on them forever after, or a
//! scheduled `verify` always fails and real damage drowns in the noise.
//!
//! So when an import commits a file it records every dangling reference
//! that file then holds in the meta table `__inherited_refs` (key: child
//! table, 0, foreign-key position, child primary key; value: the parent key
//! it names). `verify` reports a dangling reference found there, naming the
//! same parent, as an inherited warning, and any other as a problem: a
//! reference our own stores left, or one that changed since the import.
//!
//! The record is written in its own transaction right after the import's:
//! a crash in between leaves the references unrecorded, which `verify`
//! reports as problems (the safe side) until the import is run again.

use super::Database;
use crate::error::{Error, Result};
use crate::table::Reader;
use crate::table::check::{Dangling, dangling_refs};
use redb::{ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;

/// Child table, 0, foreign-key position, child pk → parent key.
pub const INHERITED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("__inherited_refs");

fn entry_key(d: &Dangling) -> Vec<u8> {
    let mut k = d.table.as_bytes().to_vec();
    k.push(0);
    k.push(u8::try_from(d.fk).unwrap_or(u8::MAX));
    k.extend_from_slice(&d.pk);
    k
}

impl Database {
    /// Records every dangling reference of this file's tables as inherited
    /// from the original, replacing what was recorded before. Returns how
    /// many there are.
    pub fn record_inherited_refs(&self) -> Result<u64> {
        let found: Vec<Dangling> = {
            let r = self.read()?;
            let mut all = Vec::new();
            for &def in self.tables() {
                all.extend(dangling_refs(&r, def)?);
            }
            all
        };
        let path = self.path();
        let st = |e: redb::Error| Error::storage(path, e);
        let txn = self.begin_write(redb::Durability::Immediate)?;
        {
            let mut t = txn.open_table(INHERITED).map_err(|e| st(e.into()))?;
            t.retain(|_, _| false).map_err(|e| st(e.into()))?;
            for d in &found {
                t.insert(entry_key(d).as_slice(), d.parent_key.as_slice())
                    .map_err(|e| st(e.into()))?;
            }
        }
        txn.commit().map_err(|e| st(e.into()))?;
        Ok(found.len() as u64)
    }
}

/// The inherited references recorded in the file `r` reads (none for a
/// file without the table: one never imported into).
pub fn load(r: &Reader, path: &Path) -> Result<InheritedRefs> {
    let st = |e: redb::Error| Error::storage(path, e);
    let t = match r.txn()?.open_table(INHERITED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(InheritedRefs::default()),
        Err(e) => return Err(st(e.into())),
    };
    let mut map = HashMap::new();
    for entry in t.iter().map_err(|e| st(e.into()))? {
        let (k, v) = entry.map_err(|e| st(e.into()))?;
        map.insert(k.value().to_vec(), v.value().to_vec());
    }
    Ok(InheritedRefs(map))
}

/// The recorded inherited references of one file.
#[derive(Debug, Default)]
pub struct InheritedRefs(HashMap<Vec<u8>, Vec<u8>>);

impl InheritedRefs {
    /// Whether `d` was recorded at import, naming the same parent.
    pub fn contains(&self, d: &Dangling) -> bool {
        self.0.get(&entry_key(d)) == Some(&d.parent_key)
    }
}
