//! An end-to-end value check of `import`, independent of `src/import/`:
//! every column of every row of every source table, as real SQLite
//! (rusqlite, on copies of the source files so the `-wal` is applied by
//! SQLite itself) reads it, against what the store returns through its
//! public read API.
//!
//! The documented conversions (README "Importing", the table in
//! `src/import/convert.rs`'s module doc) are written out again here from
//! the column's declared SQL type; nothing from `import::convert` is called.
//! A row whose value cannot be typed must be in `import_rejects`, a table no
//! declaration matches in `import_raw_rows`, each with the whole source row.

use aragora_db::table::Read;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use aragora_db::Database;
use aragora_db::config::{Config, DatabaseMode, DbTarget, Store};
use aragora_db::import::{self, ImportReport, Options, Silent};
use aragora_db::schema::ALL_TABLES;
use aragora_db::schema::import::{ImportRawRow, ImportReject, ImportRekeyed};
use aragora_db::table::{KeyRange, Page, SqlType, TableDef, Value, keys};
use rusqlite::types::ValueRef as Sq;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn sqlite_files(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sqlite_files(&p, base, out);
        } else if p.extension().is_some_and(|e| e == "db") {
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, p));
        }
    }
}

/// A source value kept as SQLite stored it (extras, rejects, raw rows).
fn kept(v: Sq<'_>) -> Value {
    match v {
        Sq::Null => Value::Null,
        Sq::Integer(i) => Value::Integer(i),
        Sq::Real(f) => Value::Real(f),
        Sq::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_string()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        Sq::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// The documented conversion of one source value into a column of declared
/// type `sql`; `None` when the value cannot be typed (the row is a reject).
fn expected(sql: SqlType, nullable: bool, v: Sq<'_>) -> Option<Value> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let text = |t: &[u8]| std::str::from_utf8(t).ok().map(str::to_string);
    match v {
        Sq::Null => return nullable.then_some(Value::Null),
        Sq::Text(t) if std::str::from_utf8(t).is_err() => return None,
        _ => {}
    }
    match sql {
        // TEXT, JSON: text as is; an integer becomes its decimal text.
        SqlType::Text | SqlType::Json => match v {
            Sq::Text(t) => text(t).map(Value::Text),
            Sq::Integer(i) => Some(Value::Text(format!("{i}"))),
            _ => None,
        },
        // Timestamps: text in any format byte for byte; an epoch becomes
        // its shortest round-trip decimal text.
        SqlType::Timestamp => match v {
            Sq::Text(t) => text(t).map(Value::Text),
            Sq::Integer(i) => Some(Value::Text(format!("{i}"))),
            Sq::Real(f) if f.is_finite() => Some(Value::Text(format!("{f}"))),
            _ => None,
        },
        // INTEGER: integers; reals with an exact integer value; text that is
        // exactly an integer's decimal form.
        SqlType::Integer => match v {
            Sq::Integer(i) => Some(Value::Integer(i)),
            Sq::Real(f) if f.trunc() == f && f.abs() < EXACT => Some(Value::Integer(f as i64)),
            Sq::Text(t) => {
                let s = text(t)?;
                let i: i64 = s.parse().ok()?;
                (format!("{i}") == s).then_some(Value::Integer(i))
            }
            _ => None,
        },
        // Booleans: 0/1 as integer, real or text.
        SqlType::Bool => match v {
            Sq::Integer(i @ (0 | 1)) => Some(Value::Integer(i)),
            Sq::Real(f) if f == 0.0 || f == 1.0 => Some(Value::Integer(f as i64)),
            Sq::Text(b"0") => Some(Value::Integer(0)),
            Sq::Text(b"1") => Some(Value::Integer(1)),
            _ => None,
        },
        // REAL, epoch: reals; integers up to ±2^53; text that is exactly a
        // real's shortest decimal form.
        SqlType::Real | SqlType::Epoch => match v {
            Sq::Real(f) => Some(Value::Real(f)),
            Sq::Integer(i) if (i as f64).abs() <= EXACT && i.unsigned_abs() <= 1 << 53 => {
                Some(Value::Real(i as f64))
            }
            Sq::Text(t) => {
                let s = text(t)?;
                let f: f64 = s.parse().ok()?;
                (f.is_finite() && format!("{f}") == s).then_some(Value::Real(f))
            }
            _ => None,
        },
        SqlType::Blob => match v {
            Sq::Blob(b) => Some(Value::Blob(b.to_vec())),
            _ => None,
        },
    }
}

fn def_named(name: &str) -> &'static TableDef {
    ALL_TABLES
        .iter()
        .copied()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no declaration named {name}"))
}

/// A row key of the importer's own tables: (file, table, rowid).
type SrcKey = (String, String, i64);

/// Source tables whose rows may collide by key with a row of the same
/// table from another file (rejected, never overwritten): (file, table, why).
fn allowed_collisions(label: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    match label {
        // Consolidated mode merges every file's copy of a table into one:
        // the fixture gives some relationship keys other values in
        // grounded_positions.db and agent_relationships.db than in
        // agent_elo.db (as the original can), and each is a reported
        // conflict (docs/ORIGINAL.md).
        "legacy-nomic (consolidated)" => vec![
            (
                "grounded_positions.db",
                "agent_relationships",
                "relationship also in agent_elo.db with other values",
            ),
            (
                "agent_relationships.db",
                "agent_relationships",
                "relationship also in agent_elo.db with other values",
            ),
        ],
        // Legacy mode keeps each file's copy in that file's own store, as
        // the original does: nothing collides.
        _ => vec![],
    }
}

/// What [`check_dir`] checked.
#[derive(Debug)]
struct Counts {
    /// Rows found, value for value, in their typed table.
    typed: u64,
    /// Rows found whole in `import_rejects`.
    rejects: u64,
    /// Of those, rows with a value that cannot be typed.
    untyped: u64,
    /// Rows found whole in `import_raw_rows`.
    raw: u64,
    /// Values stored in another storage class than the source's.
    converted: u64,
}

/// Imports `src` into a fresh store and checks every source row.
fn check_dir(src: &Path, label: &str) -> Counts {
    check_dir_in(src, label, DatabaseMode::Legacy)
}

/// [`check_dir`] in a given storage mode.
fn check_dir_in(src: &Path, label: &str, mode: DatabaseMode) -> Counts {
    let tmp = tempfile::tempdir().unwrap();
    let sq_copy = tmp.path().join("sqlite-copy");
    copy_dir(src, &sq_copy);
    let mut config = Config::for_dir(tmp.path().join("store"));
    config.mode = mode;
    let report: ImportReport = import::import(
        &config,
        &Options {
            source: src.to_path_buf(),
            dry_run: false,
        },
        &Silent,
    )
    .expect("import");
    assert!(report.errors.is_empty(), "{label}: {:?}", report.errors);

    let imp = Database::open(&config, DbTarget::Store(Store::Import)).unwrap();
    let ir = imp.read().unwrap();
    let rejects: BTreeMap<SrcKey, ImportReject> = ir
        .scan::<ImportReject>(KeyRange::all(), Page::default())
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                (
                    r.source_file.clone(),
                    r.source_table.clone(),
                    r.source_rowid,
                ),
                r,
            )
        })
        .collect();
    let raw_rows: BTreeMap<SrcKey, ImportRawRow> = ir
        .scan::<ImportRawRow>(KeyRange::all(), Page::default())
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                (
                    r.source_file.clone(),
                    r.source_table.clone(),
                    r.source_rowid,
                ),
                r,
            )
        })
        .collect();
    let rekeyed: BTreeMap<SrcKey, ImportRekeyed> = ir
        .scan::<ImportRekeyed>(KeyRange::all(), Page::default())
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                (
                    r.source_file.clone(),
                    r.source_table.clone(),
                    r.source_rowid,
                ),
                r,
            )
        })
        .collect();

    let mut files = Vec::new();
    sqlite_files(&sq_copy, &sq_copy, &mut files);
    files.sort();
    assert!(!files.is_empty(), "{label}: no source files");

    let mut seen_rejects = BTreeSet::new();
    let mut seen_raw = BTreeSet::new();
    // Target rows the source accounts for, per table, by encoded key.
    let mut targets: BTreeMap<(PathBuf, &'static str), BTreeSet<Vec<u8>>> = BTreeMap::new();
    let (mut typed_rows, mut values_checked) = (0u64, 0u64);
    let mut dbs: BTreeMap<PathBuf, Database> = BTreeMap::new();
    let mut collisions: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut untyped_rejects = 0u64;
    let mut converted = 0u64;

    for (rel, path) in &files {
        let conn = rusqlite::Connection::open(path).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for table in tables {
            let rep = report
                .tables
                .iter()
                .find(|t| &t.file == rel && t.table == table)
                .unwrap_or_else(|| panic!("{label}: {rel}:{table} not in the report"));
            if rep.kind == "derived" {
                continue; // sqlite_sequence, FTS5 tables: rebuilt, not imported
            }
            let mut stmt = conn
                .prepare(&format!("SELECT rowid, * FROM \"{table}\""))
                .unwrap();
            let names: Vec<String> = stmt.column_names().skip(1).map(|s| s.to_string()).collect();
            let mut rows = stmt.query([]).unwrap();
            let mut n = 0u64;
            while let Some(row) = rows.next().unwrap() {
                n += 1;
                let rowid: i64 = row.get(0).unwrap();
                let at = format!("{label}: {rel}:{table} rowid {rowid}");
                let whole: BTreeMap<String, Value> = names
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), kept(row.get_ref(i + 1).unwrap())))
                    .collect();
                let key = (rel.clone(), table.clone(), rowid);

                if rep.kind == "raw" {
                    let raw = raw_rows
                        .get(&key)
                        .unwrap_or_else(|| panic!("{at}: not in import_raw_rows"));
                    assert_eq!(raw.extra, whole, "{at}: raw row payload");
                    seen_raw.insert(key);
                    continue;
                }
                assert_eq!(rep.kind, "typed", "{at}");
                // The report names the target as `file.redb:table`.
                let target = rep.target.rsplit(':').next().unwrap();
                let def = def_named(target);

                // Each declared column from the source column of its name or alias.
                let mut want = Vec::with_capacity(def.columns.len());
                let mut untyped: Option<String> = None;
                let mut mapped = BTreeSet::new();
                for col in def.columns {
                    let src_i = names
                        .iter()
                        .position(|n| n == col.name || col.aliases.contains(&n.as_str()));
                    match src_i {
                        Some(i) => {
                            mapped.insert(names[i].clone());
                            let v = row.get_ref(i + 1).unwrap();
                            match expected(col.sql, col.nullable, v) {
                                Some(x) => {
                                    if std::mem::discriminant(&x)
                                        != std::mem::discriminant(&kept(v))
                                    {
                                        converted += 1;
                                    }
                                    want.push(Some(x))
                                }
                                None => {
                                    untyped.get_or_insert(names[i].clone());
                                    want.push(None);
                                }
                            }
                        }
                        // A rowid-keyed table: the source's rowid is the key.
                        None if col.name == "rowid" => want.push(Some(Value::Integer(rowid))),
                        None => want.push(None), // defaulted
                    }
                }
                // Where the documented rule (docs/ORIGINAL.md) puts this
                // table's rows, and the report must say the same.
                let home = documented_home(&config, rel, def);
                assert_eq!(
                    rep.target.split(':').next(),
                    home.file_name().and_then(|n| n.to_str()),
                    "{at}: target file"
                );

                if let Some(r) = rejects.get(&key) {
                    seen_rejects.insert(key.clone());
                    assert_eq!(
                        r.extra, whole,
                        "{at}: reject payload is the whole source row"
                    );
                    assert_eq!(r.target_table, def.name, "{at}");
                    match &untyped {
                        Some(c) => {
                            untyped_rejects += 1;
                            assert_eq!(r.column_name.as_deref(), Some(c.as_str()), "{at}");
                            assert_eq!(&r.raw_value, &whole[c], "{at}: raw_value");
                            let class = match whole[c] {
                                Value::Null => "null",
                                Value::Integer(_) => "integer",
                                Value::Real(_) => "real",
                                Value::Text(_) => "text",
                                Value::Blob(_) => "blob",
                            };
                            assert_eq!(r.raw_type, class, "{at}: raw_type");
                        }
                        None => {
                            // A key collision: a row from another file holds this
                            // key with other values. Check that it really does.
                            assert!(
                                r.reason.contains("already holds a row with key"),
                                "{at}: rejected ({}) although every value types",
                                r.reason
                            );
                            let stored = stored_row(&config, &mut dbs, &home, def, &want, &at)
                                .unwrap_or_else(|| panic!("{at}: collides with a missing row"));
                            assert!(
                                want.iter()
                                    .zip(&stored.0)
                                    .any(|(w, g)| w.as_ref().is_some_and(|w| !same(w, g))),
                                "{at}: rejected as a collision, but the stored row is equal"
                            );
                            *collisions.entry((rel.clone(), table.clone())).or_default() += 1;
                        }
                    }
                    continue;
                }
                assert!(
                    untyped.is_none(),
                    "{at}: column {} cannot be typed, yet the row is not a reject",
                    untyped.unwrap()
                );

                // The row in its table, by its primary key (a rekeyed row by its new id).
                let mut want: Vec<Option<Value>> = want;
                if let Some(rk) = rekeyed.get(&key) {
                    assert_eq!(rk.target_table, def.name, "{at}");
                    assert_eq!(
                        def.primary_key.len(),
                        1,
                        "{at}: rekeyed needs one id column"
                    );
                    want[def.primary_key[0]] = Some(Value::Integer(rk.target_id));
                }
                let (got, extras, pk) = stored_row(&config, &mut dbs, &home, def, &want, &at)
                    .unwrap_or_else(|| panic!("{at}: no row in {}", def.name));
                for (i, col) in def.columns.iter().enumerate() {
                    match &want[i] {
                        Some(w) => {
                            assert!(
                                same(w, &got[i]),
                                "{at}: {}.{}: stored {:?}, source gives {:?}",
                                def.name,
                                col.name,
                                got[i],
                                w
                            );
                            values_checked += 1;
                        }
                        None => {
                            // A column the source lacks takes its constant default.
                            let d = col.default.unwrap_or("NULL");
                            if !d.to_ascii_uppercase().contains("CURRENT") {
                                assert!(
                                    same(&def.default_value(i), &got[i]),
                                    "{at}: {}.{} (not in the source): {:?}",
                                    def.name,
                                    col.name,
                                    got[i]
                                );
                            }
                        }
                    }
                }
                // Source columns the declaration lacks are kept in the extra map.
                let want_extras: BTreeMap<String, Value> = whole
                    .iter()
                    .filter(|(k, _)| !mapped.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(extras, want_extras, "{at}: extra columns");
                targets
                    .entry((home.clone(), def.name))
                    .or_default()
                    .insert(pk);
                typed_rows += 1;
            }
            assert_eq!(n, rep.read, "{label}: {rel}:{table}: rows read");
        }
    }

    // Nothing in the importer's tables that no source row accounts for.
    let extra_rejects: Vec<_> = rejects
        .keys()
        .filter(|k| !seen_rejects.contains(*k))
        .collect();
    assert!(
        extra_rejects.is_empty(),
        "{label}: unexplained rejects {extra_rejects:?}"
    );
    let extra_raw: Vec<_> = raw_rows.keys().filter(|k| !seen_raw.contains(*k)).collect();
    assert!(
        extra_raw.is_empty(),
        "{label}: unexplained raw rows {extra_raw:?}"
    );
    // Each target table holds exactly the rows the sources account for.
    for ((path, name), keys) in &targets {
        let def = def_named(name);
        let db = &dbs[path];
        let stored = db.read().unwrap().count_rows(def).unwrap();
        assert_eq!(
            stored,
            keys.len() as u64,
            "{label}: rows in {name} of {}",
            path.display()
        );
    }
    assert!(values_checked > 0);
    eprintln!("{label}: key collisions {collisions:?}, {converted} values converted");
    let allowed = allowed_collisions(label);
    for (k, n) in &collisions {
        assert!(
            allowed.iter().any(|(f, t, _)| k.0 == *f && k.1 == *t),
            "{label}: {n} key collisions in {}:{}, not a known case",
            k.0,
            k.1
        );
    }
    // Every reject is either untypable or one of the known key collisions.
    assert_eq!(
        rejects.len() as u64,
        collisions.values().sum::<u64>() + untyped_rejects,
        "{label}: rejects"
    );
    Counts {
        typed: typed_rows,
        rejects: rejects.len() as u64,
        untyped: untyped_rejects,
        raw: raw_rows.len() as u64,
        converted,
    }
}

/// The stored row (values, extras, encoded key) at the primary key `want` gives.
fn stored_row(
    config: &Config,
    dbs: &mut BTreeMap<PathBuf, Database>,
    home: &Path,
    def: &'static TableDef,
    want: &[Option<Value>],
    at: &str,
) -> Option<(Vec<Value>, aragora_db::table::Extras, Vec<u8>)> {
    let pk_vals: Vec<Value> = def
        .primary_key
        .iter()
        .map(|&i| {
            want[i]
                .clone()
                .unwrap_or_else(|| panic!("{at}: primary key column has no source"))
        })
        .collect();
    let pk = keys::encode(pk_vals.iter().map(Value::as_ref));
    let db = dbs.entry(home.to_path_buf()).or_insert_with(|| {
        let tables = aragora_db::schema::tables_in_file(config, home).unwrap();
        Database::open_path(home, tables, &config.into()).unwrap()
    });
    let r = db.read().unwrap();
    let t = r.raw_table(def.name).unwrap();
    let (v, e) = r.get_values(&t, def, &pk).unwrap()?;
    Some((v, e, pk))
}

/// The documented home of a source table's rows: in legacy mode a file the
/// original names keeps its own copy of every declared table the original
/// creates there; everything else goes to the table's owner's file.
fn documented_home(config: &Config, rel: &str, def: &'static TableDef) -> PathBuf {
    if config.mode == DatabaseMode::Legacy {
        for t in DbTarget::all() {
            if t.legacy_file_name() != rel {
                continue;
            }
            let path = config.get_db_path(t).unwrap().path;
            let tables = aragora_db::schema::tables_in_file(config, &path).unwrap();
            if tables.iter().any(|d| d.name == def.name) {
                return path;
            }
        }
    }
    config.get_db_path(def.owner).unwrap().path
}

/// Equal values, reals compared by bits (so -0.0 and NaN are not glossed over).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

#[test]
fn committed_fixture_values_match_sqlite() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic");
    let c = check_dir(&src, "legacy-nomic");
    eprintln!("legacy-nomic: checked {c:?}");
    assert!(c.typed > 900, "{c:?}");
    assert_eq!(c.rejects, 0, "the committed fixture is clean");
    // _schema_versions of every file (one or two rows each) is kept raw.
    assert!(c.raw > 0);
}

#[test]
fn committed_fixture_values_match_sqlite_consolidated() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic");
    let c = check_dir_in(
        &src,
        "legacy-nomic (consolidated)",
        DatabaseMode::Consolidated,
    );
    assert!(c.typed > 900, "{c:?}");
    assert_eq!(
        c.untyped, 0,
        "the committed fixture holds only typable values"
    );
    assert_eq!(
        c.rejects, 6,
        "the fixture's six cross-file conflicts: {c:?}"
    );
}

#[test]
fn generated_fixture_values_match_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nomic");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/make-legacy-fixture");
    match Command::new("python3")
        .arg(&tool)
        .arg(&dir)
        .args(["--rows", "50", "--seed", "7"])
        .output()
    {
        Ok(o) => assert!(
            o.status.success(),
            "make-legacy-fixture failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !crate::common::ci() => {
            eprintln!("SKIPPED generated_fixture_values_match_sqlite: python3 not found");
            return;
        }
        Err(e) => panic!("running python3 (needed under CI=true): {e}"),
    }
    let c = check_dir(&dir, "generated");
    eprintln!("generated: checked {c:?}");
    assert!(c.typed > 1000, "{c:?}");
    assert_eq!(c.untyped, 0, "the generator writes only typable values");
    assert_eq!(c.rejects, 0, "legacy mode keeps each file's copies apart");
}

/// The committed fixture with, in the first row of every table, one column
/// overwritten by a value its declaration cannot take (a blob, or text that
/// is not UTF-8 where the column is a blob): those rows must be in
/// `import_rejects` with the whole source row, the others typed as before.
#[test]
fn untypable_values_are_rejected_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("nomic");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic"),
        &src,
    );
    let mut files = Vec::new();
    sqlite_files(&src, &src, &mut files);
    let mut spoiled = 0;
    for (_, path) in &files {
        let conn = rusqlite::Connection::open(path).unwrap();
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%fts%' AND name NOT LIKE '\\_%' ESCAPE '\\'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for table in tables {
            // The last column that is not a primary key or declared BLOB.
            let cols: Vec<(String, String, i64)> = conn
                .prepare(&format!(
                    "SELECT name, type, pk FROM pragma_table_info('{table}')"
                ))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let Some((col, _, _)) = cols
                .iter()
                .rev()
                .find(|(_, ty, pk)| *pk == 0 && !ty.eq_ignore_ascii_case("BLOB"))
            else {
                continue;
            };
            let n = conn
                .execute(
                    &format!(
                        "UPDATE \"{table}\" SET \"{col}\" = X'00FF10' \
                         WHERE rowid = (SELECT min(rowid) FROM \"{table}\")"
                    ),
                    [],
                )
                .unwrap_or(0);
            spoiled += n;
        }
        conn.pragma_update(None, "journal_mode", "DELETE").ok();
    }
    assert!(spoiled > 50, "{spoiled}");
    let c = check_dir(&src, "legacy-nomic");
    eprintln!("spoiled: checked {c:?}");
    assert!(c.untyped >= 50, "{c:?}");
    assert_eq!(c.rejects, c.untyped, "{c:?}");
}

/// The committed fixture rewritten so that the documented conversions are
/// needed: every table recreated with untyped columns (no affinity, so
/// SQLite keeps what it is given), then, by rowid, integers stored as their
/// decimal text or as reals, integer-looking text stored as integers, and
/// reals stored as SQLite's text for them. Each value must come out as the
/// conversion table says (or the row be rejected whole where it says so).
#[test]
fn values_in_other_storage_classes_convert_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("nomic");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic"),
        &src,
    );
    let mut files = Vec::new();
    sqlite_files(&src, &src, &mut files);
    for (_, path) in &files {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON;")
            .unwrap();
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%fts%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for table in tables {
            let cols: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let q: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
            let mut sql = format!(
                "BEGIN; CREATE TABLE \"{table}__untyped\"({cols}); \
                 INSERT INTO \"{table}__untyped\" SELECT {cols} FROM \"{table}\"; \
                 DROP TABLE \"{table}\"; \
                 ALTER TABLE \"{table}__untyped\" RENAME TO \"{table}\";",
                cols = q.join(", ")
            );
            for c in &q {
                sql.push_str(&format!(
                    "UPDATE \"{table}\" SET {c} = CAST({c} AS TEXT) \
                       WHERE typeof({c}) = 'integer' AND rowid % 4 = 1; \
                     UPDATE \"{table}\" SET {c} = CAST({c} AS REAL) \
                       WHERE typeof({c}) = 'integer' AND rowid % 4 = 2; \
                     UPDATE \"{table}\" SET {c} = CAST({c} AS INTEGER) \
                       WHERE typeof({c}) = 'text' AND rowid % 4 = 3 \
                       AND CAST(CAST({c} AS INTEGER) AS TEXT) = {c}; \
                     UPDATE \"{table}\" SET {c} = CAST({c} AS TEXT) \
                       WHERE typeof({c}) = 'real' AND rowid % 4 = 0;"
                ));
            }
            sql.push_str("COMMIT;");
            conn.execute_batch(&sql).unwrap();
        }
        let _: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
    }
    let c = check_dir(&src, "legacy-nomic");
    eprintln!("converted: checked {c:?}");
    assert!(c.converted > 100, "{c:?}");
    assert!(c.typed > 500, "{c:?}");
    assert_eq!(c.rejects, c.untyped, "{c:?}");
}
