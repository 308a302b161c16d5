//! Moving an embedded store into a live PostgreSQL database
//! (`aragora-db export --to DSN`; `import --source DIR` on the PostgreSQL
//! backend runs the embedded import into a staging directory, then this).
//!
//! Nothing is written until every row has been checked against what the
//! PostgreSQL tables can hold:
//!
//! * every value goes through the live backend's codec
//!   (`pgshape::param`, docs/POSTGRES.md "The value codec"): a value it
//!   refuses (text holding U+0000, an integer beyond a 32-bit column, a
//!   timestamp it cannot read) stops the move, naming table, key and
//!   column;
//! * a row's undeclared columns go with it, into the table's `_extra`
//!   column (docs/POSTGRES.md, "Undeclared columns");
//! * references without a parent row (the original never enforced its
//!   foreign keys) are counted per foreign key; those keys are dropped for
//!   the load and added back `NOT VALID`, as the exporter adds them, so
//!   `verify` names them until the data is fixed.
//!
//! Then every row goes in through the table API in one PostgreSQL
//! transaction (`Database::load_postgres`): all or nothing. A row whose key
//! is already there with the same values counts as already present, so a
//! move run again (after a failure, or to top up) is idempotent; the same
//! key with other values is a conflict, and any conflict rolls the whole
//! move back, listing them. AUTOINCREMENT sequences are raised to the
//! source's. Afterwards every source row is read back from PostgreSQL in
//! one snapshot and compared with what the codec promises: the same value,
//! or for the documented changes of form (timestamps in canonical spelling,
//! JSON as `jsonb`'s normal form, epoch seconds rounded to the microsecond)
//! the same value in that form; each such change is counted in the report.

use crate::config::Config;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::export::Rows;
use crate::export::pgshape::{self, PgColumn};
use crate::export::types::PgType;
use crate::ops::export_rows::StoreRows;
use crate::table::{Extras, Read, Reader, TableDef, Value, keys};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// What to move.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these tables (every declared table when `None`).
    pub tables: Option<Vec<String>>,
    /// Check everything, write nothing.
    pub dry_run: bool,
}

/// One table's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableMove {
    /// The declared table.
    pub table: &'static str,
    /// Rows in the embedded store.
    pub read: u64,
    /// Rows written to PostgreSQL.
    pub copied: u64,
    /// Rows PostgreSQL already held with the same values.
    pub already_present: u64,
    /// Values PostgreSQL keeps in its own form (docs/POSTGRES.md, "The
    /// value codec"): the same value, another spelling.
    pub reformed: u64,
    /// Rows verified equal after the commit.
    pub verified: u64,
}

/// What a move did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MoveReport {
    /// The database written to (redacted).
    pub target: String,
    /// Per table, in declaration order (tables without rows are left out).
    pub tables: Vec<TableMove>,
    /// Foreign keys added back `NOT VALID`: `table.constraint: n references
    /// without a parent`.
    pub not_valid: Vec<String>,
    /// Files of the mode that do not exist (nothing to move from them).
    pub missing: Vec<String>,
    /// Legacy copies of a table in another file, not moved (the owner
    /// file's table is).
    pub copies: Vec<String>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Wall time.
    pub millis: u64,
}

impl MoveReport {
    /// Rows written.
    pub fn copied(&self) -> u64 {
        self.tables.iter().map(|t| t.copied).sum()
    }

    /// The report as text: notes, one line per table, a summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for m in &self.missing {
            out.push_str(&format!(
                "note: {m} does not exist: nothing to move from it\n"
            ));
        }
        for c in &self.copies {
            out.push_str(&format!(
                "note: {c}: the original's copy in that file is not moved (the owner file's table is)\n"
            ));
        }
        for t in &self.tables {
            out.push_str(&format!(
                "  {:<40} {:>8} read {:>8} copied {:>8} already present {:>8} verified{}\n",
                t.table,
                t.read,
                t.copied,
                t.already_present,
                t.verified,
                if t.reformed > 0 {
                    format!(" ({} values in PostgreSQL's form)", t.reformed)
                } else {
                    String::new()
                }
            ));
        }
        for n in &self.not_valid {
            out.push_str(&format!("note: foreign key added NOT VALID: {n}\n"));
        }
        let rows = if self.dry_run {
            self.tables.iter().map(|t| t.read).sum::<u64>()
        } else {
            self.copied()
        };
        out.push_str(&format!(
            "{} {rows} row(s) of {} table(s) to {} in {} ms{}\n",
            if self.dry_run { "checked" } else { "moved" },
            self.tables.len(),
            self.target,
            self.millis,
            if self.dry_run {
                "; nothing was written (--dry-run)"
            } else {
                ""
            }
        ));
        out
    }
}

/// The first problems found, and how many there were.
struct Problems {
    shown: Vec<String>,
    total: u64,
}

impl Problems {
    const SHOWN: usize = 20;

    fn new() -> Self {
        Problems {
            shown: Vec::new(),
            total: 0,
        }
    }

    fn push(&mut self, p: String) {
        self.total += 1;
        if self.shown.len() < Self::SHOWN {
            self.shown.push(p);
        }
    }

    /// `Err` of `kind` listing them as `{target}: {total} {what}:` and one
    /// per line.
    fn into_error(self, target: &str, what: &str, kind: fn(String) -> Error) -> Result<()> {
        if self.total == 0 {
            return Ok(());
        }
        let more = self.total - self.shown.len() as u64;
        Err(kind(format!(
            "{target}: {} {what}:\n  {}{}",
            self.total,
            self.shown.join("\n  "),
            if more > 0 {
                format!("\n  … and {more} more")
            } else {
                String::new()
            }
        )))
    }
}

/// Moves every row of `config`'s embedded files into the PostgreSQL
/// database `target` names (redacted; for messages), which `open` opens —
/// only once every row has been checked, so a refused move neither
/// connects nor creates the schema (see the module docs).
pub fn to_postgres(
    config: &Config,
    target: &str,
    open: &dyn Fn() -> Result<Database>,
    opts: &Options,
) -> Result<MoveReport> {
    let started = Instant::now();
    let target = target.to_string();
    let rows = StoreRows::open(config, opts.tables.as_deref())?;
    if !rows.unreadable.is_empty() {
        return Err(crate::unreadable::summary_error(
            "the move to PostgreSQL (nothing was written)",
            &rows.unreadable,
        ));
    }
    let mut report = MoveReport {
        target: target.clone(),
        dry_run: opts.dry_run,
        missing: rows
            .missing
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect(),
        copies: rows
            .copies
            .iter()
            .map(|(p, t, n)| format!("{}: {t} ({n} rows)", p.display()))
            .collect(),
        ..MoveReport::default()
    };
    let tables = rows.tables().to_vec();
    let loose = check(&rows, &target, &mut report)?;
    if opts.dry_run {
        report.millis = started.elapsed().as_millis() as u64;
        return Ok(report);
    }
    let dst = open()?;
    let mut conflicts = Problems::new();
    dst.load_postgres(&loose, |load| {
        for (t, &def) in tables.iter().enumerate() {
            let mut tm = TableMove::default();
            let mut batch: Vec<(Vec<u8>, Vec<Value>, Extras)> = Vec::with_capacity(BATCH);
            rows.visit(t, &mut |pk, vals, extras| {
                batch.push((pk.to_vec(), vals.to_vec(), extras.clone()));
                if batch.len() == BATCH {
                    load_batch(load, def, &mut batch, &mut tm, &mut conflicts)?;
                }
                Ok(())
            })?;
            load_batch(load, def, &mut batch, &mut tm, &mut conflicts)?;
            let seq = rows.sequence(t)?;
            if def.autoincrement && seq > 0 {
                load.writer().raise_sequence_to(def, seq)?;
            }
            if let Some(m) = report.tables.iter_mut().find(|m| m.table == def.name) {
                m.copied = tm.copied;
                m.already_present = tm.already_present;
            }
        }
        // Dropping the transaction rolls every row back.
        std::mem::replace(&mut conflicts, Problems::new()).into_error(
            &target,
            "conflict(s) with rows PostgreSQL already holds; nothing was written",
            Error::Conflict,
        )
    })?;
    verify(&rows, &dst, &mut report)?;
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Rows per batch: one COPY stream, one `INSERT … SELECT`, and one
/// lookup of the rows it skipped. The lookup binds each skipped row's key
/// (at most 3 columns here), well under PostgreSQL's 65,535 parameters.
const BATCH: usize = 4096;

/// Inserts `batch` in one statement, then looks at each row it skipped:
/// the same values already there, or a conflict.
fn load_batch(
    load: &mut crate::db::pg::PgLoad<'_>,
    def: &'static TableDef,
    batch: &mut Vec<(Vec<u8>, Vec<Value>, Extras)>,
    tm: &mut TableMove,
    conflicts: &mut Problems,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let refs: Vec<(&[Value], &Extras)> = batch.iter().map(|(_, v, x)| (v.as_slice(), x)).collect();
    let done = load.insert_new(def, &refs)?;
    // What holds the keys of the rows that were not inserted, in one
    // statement: a re-run skips every row, and a lookup each was most of
    // its time.
    let skipped: Vec<&[u8]> = batch
        .iter()
        .zip(&done)
        .filter(|(_, inserted)| !**inserted)
        .map(|((pk, _, _), _)| pk.as_slice())
        .collect();
    let existing = load.existing(def, &skipped)?;
    for ((pk, vals, extras), inserted) in batch.iter().zip(done) {
        if inserted {
            tm.copied += 1;
            continue;
        }
        match existing.get(pk) {
            Some((have, have_extras))
                if same_extras(have_extras, extras) && same_row(def, vals, have)? =>
            {
                tm.already_present += 1
            }
            Some(_) => conflicts.push(format!(
                "{} {}: PostgreSQL holds a row with this key and other values",
                def.name,
                keys::render(pk)
            )),
            None => conflicts.push(format!(
                "{} {}: another row holds one of its unique values",
                def.name,
                keys::render(pk)
            )),
        }
    }
    batch.clear();
    Ok(())
}

/// Checks every row before anything is written: undeclared columns and
/// values the codec refuses stop the move; returns the foreign keys with
/// references that have no parent, and reports them.
fn check(
    rows: &StoreRows,
    target: &str,
    report: &mut MoveReport,
) -> Result<Vec<(&'static TableDef, usize)>> {
    let mut refused = Problems::new();
    let mut dangling: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for (t, &def) in rows.tables().iter().enumerate() {
        let shape = pgshape::shape(def);
        let mut read = 0;
        rows.visit(t, &mut |pk, vals, _| {
            read += 1;
            for (v, col) in vals.iter().zip(shape.declared()) {
                if let Err(e) = pgshape::param(v.as_ref(), col) {
                    refused.push(format!("{} {}: {e}", def.name, keys::render(pk)));
                }
            }
            for (i, fk) in def.foreign_keys.iter().enumerate() {
                if fk.columns.iter().any(|&c| vals[c].is_null()) {
                    continue;
                }
                let key = keys::encode(fk.columns.iter().map(|&c| vals[c].as_ref()));
                if !rows.has_parent(t, i, &key)? {
                    *dangling.entry((t, i)).or_default() += 1;
                }
            }
            Ok(())
        })?;
        if read > 0 {
            report.tables.push(TableMove {
                table: def.name,
                read,
                ..TableMove::default()
            });
        }
    }
    refused.into_error(
        target,
        "problem(s) in rows PostgreSQL cannot hold as they are; nothing was written",
        Error::InvalidArgument,
    )?;
    let mut loose = Vec::new();
    for ((t, i), n) in dangling {
        let def = rows.tables()[t];
        let name = pgshape::shape(def)
            .foreign_keys
            .iter()
            .find(|f| f.index == i)
            .map_or_else(|| format!("foreign key {i}"), |f| f.name.clone());
        report.not_valid.push(format!(
            "{}.{name}: {n} reference(s) without a parent row",
            def.name
        ));
        loose.push((def, i));
    }
    Ok(loose)
}

/// Whether a row PostgreSQL holds equals the source row under the codec.
/// The importer's own records (`import_rejects`, `import_raw_tables`) carry
/// the time of the import that wrote them: another run's record of the same
/// source row is the same record, so that column is not compared.
fn same_row(def: &'static TableDef, src: &[Value], have: &[Value]) -> Result<bool> {
    let shape = pgshape::shape(def);
    let stamp = run_stamp(def);
    for (i, ((s, h), col)) in src.iter().zip(have).zip(shape.declared()).enumerate() {
        if Some(i) != stamp && compare(s, h, col, def)? == Same::No {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The column of an import record holding the time of the run: the
/// importer's own tables declare exactly one timestamp, that one.
fn run_stamp(def: &'static TableDef) -> Option<usize> {
    use crate::config::{DbTarget, Store};
    if def.owner != DbTarget::Store(Store::Import) {
        return None;
    }
    def.columns
        .iter()
        .position(|c| c.sql == crate::table::SqlType::Timestamp)
}

#[derive(Debug, PartialEq, Eq)]
enum Same {
    /// Equal as stored.
    Exactly,
    /// The same value in PostgreSQL's form.
    Reformed,
    No,
}

/// Compares a source value with what PostgreSQL returned for it: equal, or
/// equal to what the codec promises it becomes.
fn compare(src: &Value, got: &Value, col: &PgColumn, def: &'static TableDef) -> Result<Same> {
    if src == got || (is_nan(src) && is_nan(got)) {
        return Ok(Same::Exactly);
    }
    let expected = match pgshape::param(src.as_ref(), col)? {
        None => Value::Null,
        Some(text) => match col.decl {
            Some(i) => pgshape::value(Some(&text), col, &def.columns[i])?,
            None => return Ok(Same::No),
        },
    };
    let same = match (col.ty, &expected, got) {
        (PgType::Jsonb, Value::Text(a), Value::Text(b)) => {
            serde_json::from_str::<serde_json::Value>(a).ok()
                == serde_json::from_str::<serde_json::Value>(b).ok()
        }
        _ => expected == *got || (is_nan(&expected) && is_nan(got)),
    };
    Ok(if same { Same::Reformed } else { Same::No })
}

/// Undeclared columns compare exactly (their JSON form is tagged so that
/// `jsonb` keeps every value), a NaN equal to a NaN.
fn same_extras(a: &Extras, b: &Extras) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && (va == vb || (is_nan(va) && is_nan(vb))))
}

fn is_nan(v: &Value) -> bool {
    matches!(v, Value::Real(f) if f.is_nan())
}

/// Source rows compared per batch: one statement fetches a batch's rows
/// back from PostgreSQL, and memory holds one batch, however large the
/// table.
const VERIFY_BATCH: usize = 4096;

/// Reads every source row back from PostgreSQL in one snapshot, a batch
/// of keys per statement.
fn verify(rows: &StoreRows, dst: &Database, report: &mut MoveReport) -> Result<()> {
    let r = dst.read()?;
    let mut wrong = Problems::new();
    for (t, &def) in rows.tables().iter().enumerate() {
        let Some(tm) = report.tables.iter_mut().find(|m| m.table == def.name) else {
            continue;
        };
        let mut batch: Vec<(Vec<u8>, Vec<Value>, Extras)> = Vec::with_capacity(VERIFY_BATCH);
        rows.visit(t, &mut |pk, vals, extras| {
            batch.push((pk.to_vec(), vals.to_vec(), extras.clone()));
            if batch.len() == VERIFY_BATCH {
                verify_batch(&r, def, &batch, tm, &mut wrong)?;
                batch.clear();
            }
            Ok(())
        })?;
        verify_batch(&r, def, &batch, tm, &mut wrong)?;
    }
    let target = report.target.clone();
    wrong.into_error(
        &target,
        "rows differ after the move (it was committed: compare them and run the move again)",
        Error::Conflict,
    )
}

/// Compares one batch of source rows with what PostgreSQL holds for
/// their keys.
fn verify_batch(
    r: &Reader,
    def: &'static TableDef,
    batch: &[(Vec<u8>, Vec<Value>, Extras)],
    tm: &mut TableMove,
    wrong: &mut Problems,
) -> Result<()> {
    let shape = pgshape::shape(def);
    let pks: Vec<&[u8]> = batch.iter().map(|(pk, ..)| pk.as_slice()).collect();
    let mut held: std::collections::HashMap<Vec<u8>, Vec<u8>> =
        std::collections::HashMap::with_capacity(pks.len());
    r.source().rows_of(def, &pks, &mut |pk, bytes| {
        held.insert(pk.to_vec(), bytes.to_vec());
        Ok(true)
    })?;
    let stamp = run_stamp(def);
    for (pk, vals, extras) in batch {
        let Some(bytes) = held.get(pk) else {
            wrong.push(format!("{} {}: missing", def.name, keys::render(pk)));
            continue;
        };
        let (got, got_extras) = def.decode_values(pk, bytes)?;
        if !same_extras(extras, &got_extras) {
            wrong.push(format!(
                "{} {}: undeclared columns differ in PostgreSQL",
                def.name,
                keys::render(pk)
            ));
        }
        let mut reformed = 0;
        for (i, ((s, g), col)) in vals.iter().zip(&got).zip(shape.declared()).enumerate() {
            if Some(i) == stamp {
                continue;
            }
            match compare(s, g, col, def)? {
                Same::Exactly => {}
                Same::Reformed => reformed += 1,
                Same::No => wrong.push(format!(
                    "{} {}: column {} is {} in PostgreSQL, {} in the embedded store",
                    def.name,
                    keys::render(pk),
                    col.decl_name,
                    g.as_ref().describe(),
                    s.as_ref().describe()
                )),
            }
        }
        tm.reformed += reformed;
        tm.verified += 1;
    }
    Ok(())
}

/// What `import` on the PostgreSQL backend did: the import into the
/// staging store, its verification against the sources (when asked), and
/// the move of the staging store into PostgreSQL (verified row by row).
#[derive(Debug, Serialize)]
pub struct ImportToPostgres {
    /// The import of the legacy files (into the staging store).
    pub import: crate::import::ImportReport,
    /// Every source row compared with the staging store.
    pub verify: Option<crate::import::VerifyReport>,
    /// The staging store moved into PostgreSQL.
    pub r#move: MoveReport,
}

/// Removes the staging directory however the import ends.
struct Staging(std::path::PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `import --source DIR` with every store on PostgreSQL: the legacy files
/// go through the embedded importer into a private staging directory
/// (typing, rejects, unknown tables, re-keyed AUTOINCREMENT rows, secret
/// columns: everything the embedded import does), are verified there when
/// `verify` is set, and then moved into PostgreSQL in one transaction
/// ([`to_postgres`], which checks every row first and verifies every row
/// after). Running it again is idempotent: rows already in PostgreSQL with
/// the same values count as present. A dry run imports into the staging
/// store and checks the move, writing nothing to PostgreSQL. A
/// configuration with some stores embedded and some on PostgreSQL is
/// refused (import into the embedded store, then move with `export --to`).
/// The staging directory is made in `staging_in` (default: the system's
/// temporary directory) and removed at the end.
pub fn import_to_postgres(
    config: &Config,
    opts: &crate::import::Options,
    verify: bool,
    staging_in: Option<&Path>,
    progress: &dyn crate::import::Progress,
) -> Result<ImportToPostgres> {
    use crate::config::DbTarget;
    let on_pg = crate::pg::admin::server(config)?.map_or(0, |s| s.targets.len());
    if on_pg != DbTarget::all().count() {
        return Err(Error::InvalidArgument(format!(
            "import into PostgreSQL needs every store there, but {} of {} databases and stores \
             are embedded (a store's *_BACKEND variable): import with the embedded backend, \
             then move the stores you want with `aragora-db export --to DSN --tables …`",
            DbTarget::all().count() - on_pg,
            DbTarget::all().count()
        )));
    }
    let users = DbTarget::Store(crate::config::Store::Users);
    let target = match config.backend_for(users)? {
        crate::config::Backend::Postgres(s) => s.dsn.to_string(),
        crate::config::Backend::Embedded => {
            return Err(Error::InvalidArgument(
                "the users store is not on PostgreSQL".into(),
            ));
        }
    };
    let open = || {
        crate::db::pg::open_configured(config, users)?
            .ok_or_else(|| Error::InvalidArgument("the users store is not on PostgreSQL".into()))
    };
    let parent = match staging_in {
        Some(p) if !p.is_dir() => {
            return Err(Error::InvalidArgument(format!(
                "--staging {}: not a directory (expected an existing directory to make the \
                 staging store in)",
                p.display()
            )));
        }
        Some(p) => p.to_path_buf(),
        None => std::env::temp_dir(),
    };
    let dir = parent.join(format!(
        "aragora-db-import-staging-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    // 0700, never an existing directory: it holds every imported row.
    crate::fsutil::new_private_dir(&dir)?;
    let staging = Staging(dir);
    // The staging configuration keeps the backend settings: the importer
    // and the move open the staging files by path (never through the
    // configured backend), and the importer types each row for where it
    // is going — a value PostgreSQL's column cannot hold makes the row a
    // reject, kept whole in import_rejects, as an untypable value does.
    // Consolidated: PostgreSQL has one table of each name, and the
    // consolidated import merges the copies the original keeps of some
    // tables in several files into that one (re-keying AUTOINCREMENT rows
    // from the other files, rejecting conflicts), where the legacy layout
    // would keep them apart and the move would have to leave them out.
    let mut staged = config.clone();
    staged.data_dir = staging.0.clone();
    staged.mode = crate::config::DatabaseMode::Consolidated;
    let import_opts = crate::import::Options {
        source: opts.source.clone(),
        dry_run: false,
    };
    let mut import = crate::import::import(&staged, &import_opts, progress)?;
    let verified = if verify {
        let v = crate::import::verify::verify(&staged, &opts.source)?;
        if !v.ok() {
            return Err(Error::Conflict(format!(
                "{}\nverify found {} mismatched row(s) and {} unreadable file(s) between the \
                 sources and the staging store; nothing was written to PostgreSQL",
                v.render().trim_end(),
                v.mismatch_count,
                v.errors.len()
            )));
        }
        Some(v)
    } else {
        None
    };
    let moved = to_postgres(
        &staged,
        &target,
        &open,
        &Options {
            tables: None,
            dry_run: opts.dry_run,
        },
    )?;
    import.dry_run = opts.dry_run;
    import.data_dir = moved.target.clone();
    import.targets = vec![moved.target.clone()];
    Ok(ImportToPostgres {
        import,
        verify: verified,
        r#move: moved,
    })
}
