//! Reading one source file into the open target transactions.

use super::Progress;
use super::convert;
use super::discover::SourceFile;
use super::plan::{Disposition, Mapping};
use super::report::{REJECT_NOTES, RejectNote, TableReport};
use super::row::{self, Typed};
use super::targets::Targets;
use crate::config::{DbTarget, Store};
use crate::error::{Error, Result};
use crate::schema::import::{IMPORT_RAW_ROWS, IMPORT_RAW_TABLES, IMPORT_REJECTS, IMPORT_REKEYED};
use crate::sqlite::{Row, SqliteFile, TableInfo};
use crate::table::{Extras, Value, Writer, keys};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

const IMPORT: DbTarget = DbTarget::Store(Store::Import);

/// State shared by every table of one run.
pub struct Run<'a, 'c> {
    /// The open targets.
    pub targets: &'a mut Targets<'c>,
    /// The first rejects, for the report.
    pub notes: &'a mut Vec<RejectNote>,
    /// Progress display.
    pub progress: &'a dyn Progress,
    /// Timestamp written into the importer's own rows.
    pub now: String,
    /// The column-secret key (`ARAGORA_ENCRYPTION_KEY`), if set.
    pub key: Option<&'a crate::crypto::Key>,
    /// For each target file and table, the source files whose rows went
    /// into it during this run (to say where a conflicting row came from).
    pub writers: BTreeMap<(PathBuf, &'static str), Vec<String>>,
}

/// Error from the SQLite reader, with the file named.
pub fn reader_error(file: &SourceFile, e: crate::sqlite::SqliteError) -> Error {
    Error::sqlite(&file.path, e)
}

/// Reads every row of every table once, so that a damaged file fails
/// before anything from it is written. Returns each table's row count.
pub fn read_through(db: &SqliteFile) -> crate::sqlite::Result<Vec<u64>> {
    let tables = db.tables()?;
    let mut counts = Vec::with_capacity(tables.len());
    for t in &tables {
        let mut n = 0u64;
        if t.root_page != 0 {
            let mut rows = db.rows(t)?;
            while let Some(r) = rows.next_row() {
                r?;
                n += 1;
            }
        }
        counts.push(n);
    }
    Ok(counts)
}

/// The two passes of a run: every table in its home file first, then the
/// copies of tables found in other files (see [`super::plan::file_hint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Tables in their home file, raw and derived tables.
    Home,
    /// Typed tables found outside their home file.
    Away,
}

/// Imports the tables of `file` (already opened as `db` and read through)
/// that belong to `pass`. Returns whether the file has tables for the
/// away pass.
pub fn import_file(
    run: &mut Run<'_, '_>,
    src: &SourceFile,
    db: &SqliteFile,
    counts: &[u64],
    pass: Pass,
    out: &mut Vec<TableReport>,
) -> Result<bool> {
    let tables = db.tables().map_err(|e| reader_error(src, e))?;
    let config = run.targets.config();
    let plans: Vec<Disposition> = tables
        .iter()
        .map(|t| super::plan::plan(config, &src.rel, t, &tables))
        .collect::<Result<_>>()?;
    let file_rows: u64 = counts.iter().sum::<u64>().max(1);
    let mut ticker = Ticker::new(src.bytes, file_rows);
    let mut has_away = false;
    for ((table, plan), count) in tables.iter().zip(&plans).zip(counts) {
        let this_pass = match plan {
            Disposition::Typed(m) if !m.at_home() => Pass::Away,
            _ => Pass::Home,
        };
        has_away |= this_pass == Pass::Away;
        if this_pass != pass {
            continue;
        }
        let started = Instant::now();
        let mut rep = TableReport {
            file: src.rel.clone(),
            table: table.name.clone(),
            ..TableReport::default()
        };
        run.progress.message(&format!("{}:{}", src.rel, table.name));
        match plan {
            Disposition::Typed(m) => {
                rep.kind = "typed";
                rep.defaulted_columns = m.defaulted();
                rep.extra_columns = m.extras.iter().map(|(_, n)| n.clone()).collect();
                rep.rowid_column = m.rowid.map(|i| m.def.columns[i].name);
                typed(run, src, db, table, m, &mut rep, &mut ticker)?;
            }
            Disposition::Raw(why) => {
                rep.kind = "raw";
                rep.raw_reason = why.clone();
                raw(run, src, db, table, *count, &mut rep, &mut ticker)?;
            }
            Disposition::Derived(why) => {
                rep.kind = "derived";
                rep.target = why.clone();
                rep.read = *count;
            }
        }
        rep.millis = started.elapsed().as_millis() as u64;
        out.push(rep);
    }
    if pass == Pass::Home {
        sequences(run, src, db, &tables, &plans)?;
    }
    ticker.done(run.progress);
    Ok(has_away)
}

/// Spreads a file's bytes over its rows for the progress bar.
struct Ticker {
    bytes: u64,
    rows: u64,
    seen: u64,
    shown: u64,
}

impl Ticker {
    fn new(bytes: u64, rows: u64) -> Self {
        Ticker {
            bytes,
            rows,
            seen: 0,
            shown: 0,
        }
    }

    fn row(&mut self, p: &dyn Progress) {
        self.seen += 1;
        if self.seen.is_multiple_of(4096) {
            let at =
                (self.bytes as u128 * self.seen.min(self.rows) as u128 / self.rows as u128) as u64;
            p.advance(at - self.shown);
            self.shown = at;
        }
    }

    fn done(&mut self, p: &dyn Progress) {
        p.advance(self.bytes - self.shown);
        self.shown = self.bytes;
    }
}

fn typed(
    run: &mut Run<'_, '_>,
    src: &SourceFile,
    db: &SqliteFile,
    table: &TableInfo,
    m: &Mapping,
    rep: &mut TableReport,
    ticker: &mut Ticker,
) -> Result<()> {
    let def = m.def;
    let target = run.targets.ensure_path(&m.target)?;
    let writers = run.writers.entry((target.clone(), def.name)).or_default();
    let others = writers.join(", ");
    if !writers.contains(&src.rel) {
        writers.push(src.rel.clone());
    }
    let import = run.targets.ensure(IMPORT)?;
    let (t, imp) = (run.targets.get(&target), run.targets.get(&import));
    rep.target = format!("{}:{}", file_name(&target), def.name);
    let mut w = Writer::embedded(&t.txn, t.db.set());
    w.set_foreign_keys(false)?;
    let mut rw = Writer::embedded(&imp.txn, imp.db.set());
    let mut rows = db.rows(table).map_err(|e| reader_error(src, e))?;
    let mut ordinal = 0i64;
    while let Some(r) = rows.next_row() {
        let r = r.map_err(|e| reader_error(src, e))?;
        ordinal += 1;
        rep.read += 1;
        ticker.row(run.progress);
        let rowid = r.rowid().unwrap_or(ordinal);
        let conflict = match row::type_row(m, table, &r) {
            Err(f) => Some((
                f.column,
                f.reason,
                raw_value(m, convert::raw(f.value)),
                convert::storage_class(f.value),
            )),
            Ok(Typed {
                mut values,
                extras,
                converted,
            }) => {
                rep.converted += converted;
                super::secrets::convert(def, &mut values, run.key, &mut rep.secrets)?;
                let rekeys = m.rekeys();
                let prov_key = source_key(&src.rel, &table.name, rowid);
                if rekeys && let Some((p, _)) = rw.get_values(&IMPORT_REKEYED, &prov_key)? {
                    values[def.primary_key[0]] = p[4].clone();
                }
                // The common case, a new row, costs one insert; only when
                // that fails is the stored row looked at.
                let first = insert(&mut w, def, &values, &extras)?;
                let pk = keys::encode(def.primary_key.iter().map(|&c| values[c].as_ref()));
                let stored = match first {
                    None => {
                        rep.imported += 1;
                        continue;
                    }
                    Some(_) => w.get_values(def, &pk)?,
                };
                match stored {
                    Some((old, old_extras))
                        if old_extras == extras
                            && super::secrets::rows_match(def, &old, &values, run.key) =>
                    {
                        rep.already_present += 1;
                        None
                    }
                    Some(_) if rekeys => {
                        let id = w.next_id_for(def)?;
                        values[def.primary_key[0]] = Value::Integer(id);
                        let fault = insert(&mut w, def, &values, &extras)?;
                        if fault.is_none() {
                            let prov = vec![
                                Value::Text(src.rel.clone()),
                                Value::Text(table.name.clone()),
                                Value::Integer(rowid),
                                Value::Text(def.name.to_string()),
                                Value::Integer(id),
                            ];
                            if rw.get_values(&IMPORT_REKEYED, &prov_key)?.is_some() {
                                rw.update_values(&IMPORT_REKEYED, &prov, &Extras::new())?;
                            } else {
                                rw.insert_values(&IMPORT_REKEYED, &prov, &Extras::new())?;
                            }
                            rep.rekeyed += 1;
                            rep.imported += 1;
                        }
                        fault
                    }
                    Some(_) => {
                        rep.conflicts += 1;
                        Some((
                            None,
                            format!(
                                "conflict: {}:{} already holds a row with key {} and other values ({}); \
                                 the stored row is kept and this one is not merged into it",
                                file_name(&target),
                                def.name,
                                keys::render(&pk),
                                if others.is_empty() {
                                    "changed since an earlier import".to_string()
                                } else {
                                    format!(
                                        "from {others} in this run, or changed since an earlier import"
                                    )
                                }
                            ),
                            Value::Null,
                            "row",
                        ))
                    }
                    None => first,
                }
            }
        };
        if let Some((column, reason, raw_value, raw_type)) = conflict {
            rep.rejected += 1;
            let reject = Reject {
                src,
                table,
                rowid,
                target: def.name,
                column,
                reason,
                raw_value,
                raw_type,
            };
            reject.store(&mut rw, &r, &run.now, run.notes)?;
        }
    }
    w.finish()?;
    rw.finish()?;
    Ok(())
}

type Conflict = (Option<String>, String, Value, &'static str);

/// Inserts a typed row; a broken constraint is a reject, not a failure.
fn insert(
    w: &mut Writer<'_>,
    def: &'static crate::table::TableDef,
    values: &[Value],
    extras: &Extras,
) -> Result<Option<Conflict>> {
    match w.insert_values(def, values, extras) {
        Ok(_) => Ok(None),
        Err(e @ (Error::Unique { .. } | Error::NotNull { .. } | Error::Type { .. })) => {
            Ok(Some((None, e.to_string(), Value::Null, "row")))
        }
        Err(e) => Err(e),
    }
}

/// The importer's key of a source row: (file, table, rowid).
pub fn source_key(rel: &str, table: &str, rowid: i64) -> Vec<u8> {
    keys::encode([
        crate::table::ValueRef::Text(rel),
        crate::table::ValueRef::Text(table),
        crate::table::ValueRef::Integer(rowid),
    ])
}

struct Reject<'a> {
    src: &'a SourceFile,
    table: &'a TableInfo,
    rowid: i64,
    target: &'a str,
    column: Option<String>,
    reason: String,
    raw_value: Value,
    raw_type: &'a str,
}

impl Reject<'_> {
    fn store(
        self,
        w: &mut Writer<'_>,
        r: &Row<'_>,
        now: &str,
        notes: &mut Vec<RejectNote>,
    ) -> Result<()> {
        if notes.len() < REJECT_NOTES {
            notes.push(RejectNote {
                file: self.src.rel.clone(),
                table: self.table.name.clone(),
                rowid: self.rowid,
                column: self.column.clone(),
                reason: self.reason.clone(),
            });
        }
        let values = vec![
            Value::Text(self.src.rel.clone()),
            Value::Text(self.table.name.clone()),
            Value::Integer(self.rowid),
            Value::Text(self.target.to_string()),
            self.column.map_or(Value::Null, Value::Text),
            Value::Text(self.reason),
            self.raw_value,
            Value::Text(self.raw_type.to_string()),
            Value::Text(now.to_string()),
        ];
        let pk = keys::encode(values[..3].iter().map(Value::as_ref));
        if w.get_values(&IMPORT_REJECTS, &pk)?.is_none() {
            w.insert_values(&IMPORT_REJECTS, &values, &row::whole(self.table, r))?;
        }
        Ok(())
    }
}

fn raw(
    run: &mut Run<'_, '_>,
    src: &SourceFile,
    db: &SqliteFile,
    table: &TableInfo,
    count: u64,
    rep: &mut TableReport,
    ticker: &mut Ticker,
) -> Result<()> {
    let import = run.targets.ensure(IMPORT)?;
    let imp = run.targets.get(&import);
    rep.target = format!("{}:{}", file_name(&import), IMPORT_RAW_ROWS.name);
    let mut w = Writer::embedded(&imp.txn, imp.db.set());
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let meta = vec![
        Value::Text(src.rel.clone()),
        Value::Text(table.name.clone()),
        Value::Text(table.sql.clone()),
        Value::Text(serde_json::to_string(&columns).unwrap_or_default()),
        Value::Integer(count as i64),
        Value::Text(run.now.clone()),
    ];
    let pk = keys::encode(meta[..2].iter().map(Value::as_ref));
    if w.get_values(&IMPORT_RAW_TABLES, &pk)?.is_some() {
        w.update_values(&IMPORT_RAW_TABLES, &meta, &Extras::new())?;
    } else {
        w.insert_values(&IMPORT_RAW_TABLES, &meta, &Extras::new())?;
    }
    let mut rows = db.rows(table).map_err(|e| reader_error(src, e))?;
    let mut ordinal = 0i64;
    while let Some(r) = rows.next_row() {
        let r = r.map_err(|e| reader_error(src, e))?;
        ordinal += 1;
        rep.read += 1;
        ticker.row(run.progress);
        let values = vec![
            Value::Text(src.rel.clone()),
            Value::Text(table.name.clone()),
            Value::Integer(r.rowid().unwrap_or(ordinal)),
        ];
        let extras = row::whole(table, &r);
        let pk = keys::encode(values.iter().map(Value::as_ref));
        match w.get_values(&IMPORT_RAW_ROWS, &pk)? {
            Some((_, old)) if old == extras => rep.already_present += 1,
            Some(_) => {
                w.update_values(&IMPORT_RAW_ROWS, &values, &extras)?;
                rep.imported += 1;
            }
            None => {
                w.insert_values(&IMPORT_RAW_ROWS, &values, &extras)?;
                rep.imported += 1;
            }
        }
    }
    w.finish()?;
    Ok(())
}

/// Applies `sqlite_sequence` to the AUTOINCREMENT tables imported from
/// this file, so ids are never reused after an import.
fn sequences(
    run: &mut Run<'_, '_>,
    src: &SourceFile,
    db: &SqliteFile,
    tables: &[TableInfo],
    plans: &[Disposition],
) -> Result<()> {
    if !tables.iter().any(|t| t.name == "sqlite_sequence") {
        return Ok(());
    }
    let seqs = db.sqlite_sequence().map_err(|e| reader_error(src, e))?;
    for (name, seq) in seqs {
        let Some(Disposition::Typed(m)) = tables
            .iter()
            .position(|t| t.name == name)
            .map(|i| &plans[i])
        else {
            continue;
        };
        if !m.def.autoincrement || !m.at_home() {
            continue;
        }
        let path = run.targets.ensure_path(&m.target)?;
        let t = run.targets.get(&path);
        let mut w = Writer::embedded(&t.txn, t.db.set());
        w.raise_sequence_to(m.def, seq)?;
        w.finish()?;
    }
    Ok(())
}

/// The offending value as `import_rejects.raw_value` holds it. On
/// PostgreSQL that column is `bytea`, so a value of another storage class
/// is kept as the bytes of its text form (text as UTF-8, numbers as their
/// digits); `raw_type` names the class, and the reject's undeclared
/// columns hold the whole source row exactly (docs/POSTGRES.md, "Moving a
/// store to PostgreSQL").
fn raw_value(m: &Mapping, v: Value) -> Value {
    if !m.postgres {
        return v;
    }
    match v {
        Value::Text(s) => Value::Blob(s.into_bytes()),
        Value::Integer(i) => Value::Blob(i.to_string().into_bytes()),
        Value::Real(f) => Value::Blob(crate::export::types::real_text(f).into_bytes()),
        Value::Null | Value::Blob(_) => v,
    }
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
