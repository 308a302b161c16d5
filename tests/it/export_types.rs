//! The PostgreSQL type of every column of every declared table, as
//! PostgreSQL itself reports it (`information_schema.columns.data_type`)
//! after loading an export, against the mapping of docs/EXPORT.md computed
//! here from each column's declared [`SqlType`], not from the exporter.
//!
//! Needs PostgreSQL (see `export_pg.rs`): skipped with a message when it is
//! unreachable, a failure under `CI=true`.

use std::collections::BTreeMap;
use std::path::Path;

use aragora_db::config::Config;
use aragora_db::export::types::PgType;
use aragora_db::export::{self, MemRows, MemTable, Options, Part, Rows};
use aragora_db::import;
use aragora_db::ops::export_rows::StoreRows;
use aragora_db::schema::ALL_TABLES;
use aragora_db::table::{SqlType, TableDef};

use crate::export_pg::{TempDb, available};

/// docs/EXPORT.md's type table, in `information_schema.columns.data_type`'s words.
fn pg_type(sql: SqlType) -> &'static str {
    match sql {
        SqlType::Text => "text",
        SqlType::Integer => "bigint",
        SqlType::Real | SqlType::Epoch => "double precision",
        SqlType::Blob => "bytea",
        SqlType::Bool => "boolean",
        SqlType::Json => "jsonb",
        SqlType::Timestamp => "timestamp with time zone",
    }
}

/// A `[pg as …]` override, in `data_type`'s words.
fn pg_override(t: PgType) -> &'static str {
    match t {
        PgType::Boolean => "boolean",
        PgType::Integer => "integer",
        PgType::BigInt => "bigint",
        PgType::Double => "double precision",
        PgType::Timestamptz | PgType::TimestamptzEpoch => "timestamp with time zone",
        PgType::Jsonb => "jsonb",
        PgType::Text => "text",
        PgType::Bytea => "bytea",
    }
}

fn load(rows: &dyn Rows, part: Part, tag: &str) -> (TempDb, export::Report) {
    let mut out = Vec::new();
    let report = export::write_postgres(
        &mut out,
        rows,
        &Options {
            part,
            inserts: false,
        },
    )
    .unwrap();
    let db = TempDb::new(tag);
    db.load(&String::from_utf8(out).unwrap());
    (db, report)
}

/// Every declared table is there with exactly its declared columns, each
/// of its declared type, except the `widened` (table, column, type), then
/// the columns only PostgreSQL has and the undeclared-columns column
/// `_extra jsonb` every table has.
fn check_types(db: &TempDb, tables: &[&'static TableDef], widened: &[(&str, &str, &str)]) -> usize {
    let got = db.rows(
        "SELECT table_name, column_name, data_type FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    );
    let mut by_table: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in got {
        let [t, c, ty] = [0, 1, 2].map(|i| r[i].clone().unwrap());
        by_table.entry(t).or_default().push((c, ty));
    }
    let mut checked = 0;
    for def in tables {
        // The declaration's PostgreSQL names and type overrides, then the
        // columns only PostgreSQL has.
        let name = def.pg.name.unwrap_or(def.name);
        let cols = by_table
            .remove(name)
            .unwrap_or_else(|| panic!("table {name} ({}) is not in PostgreSQL", def.name));
        let mut want: Vec<(String, String)> = def
            .columns
            .iter()
            .map(|c| {
                let ty = widened
                    .iter()
                    .find(|(t, col, _)| *t == def.name && *col == c.name)
                    .map_or(
                        c.pg_type.map_or(
                            if !def.owner.shared_with_original_postgres()
                                && matches!(c.sql, SqlType::Json | SqlType::Timestamp)
                            {
                                // Tables no original PostgreSQL store reads keep
                                // JSON and timestamps as our stores wrote them.
                                "text"
                            } else {
                                pg_type(c.sql)
                            },
                            pg_override,
                        ),
                        |w| w.2,
                    );
                (c.pg_name.unwrap_or(c.name).to_string(), ty.to_string())
            })
            .collect();
        for o in def.pg.only {
            want.push((o.name.to_string(), pg_override(o.ty).to_string()));
        }
        want.push(("_extra".to_string(), "jsonb".to_string()));
        if let Some(sv) = def.pg.search {
            want.push((sv.column.to_string(), "tsvector".to_string()));
        }
        assert_eq!(cols, want, "{}: columns and types", def.name);
        checked += want.len();
    }
    assert!(
        by_table.is_empty(),
        "tables no declaration has: {:?}",
        by_table.keys()
    );
    checked
}

/// Notes about a column (a misfit value widening it, a NULL in a NOT NULL
/// column, a renamed column); index and constraint names may be shortened.
fn column_notes(report: &export::Report) -> Vec<&export::Note> {
    report
        .notes
        .iter()
        .filter(|n| n.message.starts_with("column "))
        .collect()
}

/// The schema alone (no rows, so nothing can be widened).
#[test]
fn every_declared_column_has_its_documented_type() {
    if !available() {
        return;
    }
    let rows = MemRows::new(
        ALL_TABLES
            .iter()
            .map(|&def| MemTable {
                def,
                rows: Vec::new(),
            })
            .collect(),
    );
    let (db, report) = load(&rows, Part::SchemaOnly, "types");
    assert!(column_notes(&report).is_empty(), "{:?}", report.notes);
    let n = check_types(&db, ALL_TABLES, &[]);
    let declared: usize = ALL_TABLES
        .iter()
        .map(|d| d.columns.len() + d.pg.only.len() + 1 + usize::from(d.pg.search.is_some()))
        .sum();
    assert_eq!(n, declared);
    assert!(ALL_TABLES.len() > 40);
}

/// An export of the imported committed fixture keeps every declared type,
/// except the columns where the fixture holds free text (the legacy files
/// have it: the original never checked), widened as docs/EXPORT.md says.
#[test]
fn imported_fixture_keeps_declared_types() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::for_dir(tmp.path());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-nomic");
    let rep = import::import(
        &config,
        &import::Options {
            source: src,
            dry_run: false,
        },
        &import::Silent,
    )
    .unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    let rows = StoreRows::open(&config, None).unwrap();
    let (db, report) = load(&rows, Part::All, "typesdata");
    assert!(report.rows() > 500, "{}", report.rows());
    const WIDENED: &[(&str, &str, &str)] = &[
        ("users", "locked_until", "text"), // timestamptz: free text
        // integer (summed by the original's store): the fixture's huge counters
        ("usage_events", "count", "bigint"),
        ("agent_performance_history", "critiques_given", "bigint"),
    ];
    let notes = column_notes(&report);
    for (t, c, ty) in WIDENED {
        assert!(
            notes.iter().any(|n| n.table == *t
                && n.message.starts_with(&format!("column {c}: "))
                && n.message.ends_with(&format!("column exported as {ty}"))),
            "{t}.{c} widened to {ty} is not reported: {notes:?}"
        );
    }
    assert_eq!(notes.len(), WIDENED.len(), "{notes:?}");
    // The exported tables: those of the stores the import created.
    assert!(rows.tables().len() > 40, "{}", rows.tables().len());
    check_types(&db, rows.tables(), WIDENED);
}
