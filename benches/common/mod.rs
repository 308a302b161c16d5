//! Shared benchmark plumbing: the SQLite side of every comparison.
//!
//! The SQLite schema is generated from the same table declarations as ours
//! (same columns, primary keys, UNIQUE constraints and indexes), so the two
//! engines always do the same work. Rows cross over through the generic
//! column accessors, and SQLite rows are decoded into the same Rust structs.
#![allow(dead_code)]

use aragora_db::schema::users::User;
use aragora_db::table::{Extras, Row, RowView, TableDef, ValueRef};
use rusqlite::Connection;
use rusqlite::types::ValueRef as SqlRef;
use std::path::Path;

/// `CREATE TABLE` + `CREATE INDEX` for a declaration.
pub fn sqlite_ddl(def: &TableDef) -> String {
    let mut cols: Vec<String> = def
        .columns
        .iter()
        .map(|c| {
            let mut s = format!("\"{}\" {}", c.name, c.sql.sqlite_name());
            if !c.nullable {
                s.push_str(" NOT NULL");
            }
            if let Some(d) = c.default {
                s.push_str(&format!(" DEFAULT {d}"));
            }
            s
        })
        .collect();
    if def.autoincrement {
        let pk = def.columns[def.primary_key[0]].name;
        let i = def.primary_key[0];
        cols[i] = format!("\"{pk}\" INTEGER PRIMARY KEY AUTOINCREMENT");
    } else {
        cols.push(format!("PRIMARY KEY ({})", quoted(def, def.primary_key)));
    }
    let mut sql = format!("CREATE TABLE \"{}\" ({});\n", def.name, cols.join(", "));
    for idx in def.indexes {
        // A covering index of ours holds the whole row; SQLite's equivalent
        // is an index over the key columns followed by every other column,
        // so both sides answer a range from the index alone.
        let columns = if idx.covering && !idx.unique {
            let rest: Vec<usize> = (0..def.columns.len())
                .filter(|c| !idx.columns.contains(c))
                .collect();
            format!("{}, {}", quoted(def, idx.columns), quoted(def, &rest))
        } else {
            quoted(def, idx.columns)
        };
        sql.push_str(&format!(
            "CREATE {}INDEX \"{}\" ON \"{}\" ({});\n",
            if idx.unique { "UNIQUE " } else { "" },
            idx.name,
            def.name,
            columns
        ));
    }
    sql
}

fn quoted(def: &TableDef, cols: &[usize]) -> String {
    cols.iter()
        .map(|&c| format!("\"{}\"", def.columns[c].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO t (all columns) VALUES (?, ...)`.
pub fn insert_sql(def: &TableDef) -> String {
    let names: Vec<_> = def
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let marks: Vec<_> = (1..=def.columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        def.name,
        names.join(", "),
        marks.join(", ")
    )
}

/// `SELECT all columns FROM t WHERE <col> = ?1` (plus an optional suffix).
pub fn select_sql(def: &TableDef, where_sql: &str) -> String {
    let names: Vec<_> = def
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    format!(
        "SELECT {} FROM \"{}\" WHERE {where_sql}",
        names.join(", "),
        def.name
    )
}

/// A WAL connection with the given `synchronous` setting.
pub fn open_sqlite(path: &Path, synchronous: &str, defs: &[&TableDef]) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", synchronous)
        .unwrap();
    for def in defs {
        conn.execute_batch(&sqlite_ddl(def)).unwrap();
    }
    conn
}

/// Binds a typed row to a prepared INSERT.
pub fn insert_row<R: Row>(stmt: &mut rusqlite::Statement<'_>, row: &R) {
    for i in 0..R::DEF.columns.len() {
        let v = row.value(i);
        let idx = i + 1;
        match v {
            ValueRef::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null),
            ValueRef::Integer(n) => stmt.raw_bind_parameter(idx, n),
            ValueRef::Real(f) => stmt.raw_bind_parameter(idx, f),
            ValueRef::Text(s) => stmt.raw_bind_parameter(idx, s),
            ValueRef::Blob(b) => stmt.raw_bind_parameter(idx, b),
        }
        .unwrap();
    }
    stmt.raw_execute().unwrap();
}

/// Decodes a SQLite result row into our struct.
pub fn from_sqlite<R: Row>(row: &rusqlite::Row<'_>) -> R {
    let vals: Vec<ValueRef<'_>> = (0..R::DEF.columns.len())
        .map(|i| match row.get_ref(i).unwrap() {
            SqlRef::Null => ValueRef::Null,
            SqlRef::Integer(n) => ValueRef::Integer(n),
            SqlRef::Real(f) => ValueRef::Real(f),
            SqlRef::Text(t) => ValueRef::Text(std::str::from_utf8(t).unwrap()),
            SqlRef::Blob(b) => ValueRef::Blob(b),
        })
        .collect();
    R::from_view(&RowView::from_values(vals), Extras::new()).unwrap()
}

/// Scale factor for datasets: `ARAGORA_BENCH_SCALE` (default 1.0; CI smoke runs use less).
pub fn scale(n: usize) -> usize {
    let f: f64 = std::env::var("ARAGORA_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64) * f).max(10.0) as usize
}

/// Whether criterion runs for figures (`cargo bench`) rather than once per
/// benchmark as a smoke test (`cargo test`).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `n` rows under `cargo bench` (times `ARAGORA_BENCH_SCALE`); `n /
/// smoke_div`, at least 20, under `cargo test`.
pub fn size(n: usize, smoke_div: usize) -> usize {
    if benchmarking() {
        scale(n)
    } else {
        (n / smoke_div).max(20)
    }
}

/// A `users` row shaped like the original's (UUID id, bcrypt hash,
/// microsecond timestamps). Benchmarks override fields with `..sample_user(i)`.
pub fn sample_user(i: usize) -> User {
    User {
        id: format!(
            "{:08x}-0000-4000-8000-{:012x}",
            i.wrapping_mul(2654435761) as u32,
            i
        ),
        email: format!("user{i}@example.com"),
        password_hash: "bcrypt:$2b$12$abcdefghijklmnopqrstuv".into(),
        name: Some(format!("User {i}")),
        role: Some("member".into()),
        created_at: "2026-01-05T10:00:00.123456+00:00".into(),
        updated_at: "2026-01-05T10:00:00.123456+00:00".into(),
        is_active: Some(true),
        preferences: Some("{}".into()),
        token_version: Some(1),
        ..User::default()
    }
}
