//! Differential tests: real SQLite writes random databases, and the reader must return
//! exactly what SQLite returns — value for value, storage class for storage class.
use aragora_db::sqlite;
use proptest::prelude::*;
use rusqlite::types::Value as SqlValue;

use super::common::*;

#[derive(Clone, Debug)]
enum Gen {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    BadText(Vec<u8>),
    Blob(Vec<u8>),
}

fn gen_value() -> impl Strategy<Value = Gen> {
    prop_oneof![
        2 => Just(Gen::Null),
        3 => prop_oneof![
            any::<i64>(),
            -200i64..200,
            Just(i64::MIN),
            Just(i64::MAX),
            Just(1i64 << 47),
            Just(-(1i64 << 23))
        ]
        .prop_map(Gen::Int),
        2 => prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            Just(0.5f64),
            Just(-0.0f64),
            Just(3.0f64),
            Just(f64::INFINITY),
            Just(1e300)
        ]
        .prop_map(Gen::Real),
        3 => prop_oneof![
            "[a-z ]{0,20}",
            "\\PC{0,30}",
            "[a-z\u{0}\u{e9}\u{1F600}]{0,10}",
            Just("123".to_string()),
            Just("4.5".to_string()),
        ]
        .prop_map(Gen::Text),
        1 => (0usize..5000).prop_map(|n| Gen::Text("é".repeat(n / 2) + &"z".repeat(n % 7))),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Gen::BadText),
        2 => prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            (0usize..70000).prop_map(|n| (0..n).map(|i| (i * 7 % 251) as u8).collect()),
        ]
        .prop_map(Gen::Blob),
    ]
}

const TYPES: &[&str] = &[
    "INTEGER",
    "TEXT",
    "REAL",
    "BLOB",
    "NUMERIC",
    "",
    "VARCHAR(10)",
    "DOUBLE",
    "INT",
];

#[derive(Clone, Debug)]
enum Shape {
    Plain,
    IntPk,
    IntPkAutoinc,
    CompositePk,
    WithoutRowid,
}

#[derive(Clone, Debug)]
struct TableSpec {
    types: Vec<usize>,
    shape: Shape,
    rows: Vec<Vec<Gen>>,
    delete_every: usize,
    add_columns: Vec<(usize, Gen)>,
    more_rows: Vec<Vec<Gen>>,
}

fn table_spec() -> impl Strategy<Value = TableSpec> {
    (1usize..6)
        .prop_flat_map(|ncols| {
            (
                prop::collection::vec(0..TYPES.len(), ncols),
                prop_oneof![
                    Just(Shape::Plain),
                    Just(Shape::IntPk),
                    Just(Shape::IntPkAutoinc),
                    Just(Shape::CompositePk),
                    Just(Shape::WithoutRowid)
                ],
                prop::collection::vec(prop::collection::vec(gen_value(), ncols + 2), 0..40),
                0usize..4,
                prop::collection::vec((0..TYPES.len(), gen_value()), 0..3),
                prop::collection::vec(prop::collection::vec(gen_value(), ncols + 5), 0..10),
            )
        })
        .prop_map(
            |(types, shape, rows, delete_every, add_columns, more_rows)| TableSpec {
                types,
                shape,
                rows,
                delete_every,
                add_columns,
                more_rows,
            },
        )
}

#[derive(Clone, Debug)]
struct DbSpec {
    page_size: u32,
    encoding: &'static str,
    auto_vacuum: u8,
    wal: bool,
    checkpoint_midway: bool,
    tables: Vec<TableSpec>,
}

fn db_spec() -> impl Strategy<Value = DbSpec> {
    (
        prop_oneof![
            Just(512u32),
            Just(1024),
            Just(4096),
            Just(8192),
            Just(32768),
            Just(65536)
        ],
        prop_oneof![Just("UTF-8"), Just("UTF-16le"), Just("UTF-16be")],
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(table_spec(), 1..3),
    )
        .prop_map(
            |(page_size, encoding, auto_vacuum, wal, checkpoint_midway, tables)| DbSpec {
                page_size,
                encoding,
                auto_vacuum,
                wal,
                checkpoint_midway,
                tables,
            },
        )
}

fn default_sql(g: &Gen) -> String {
    match g {
        Gen::Null => "NULL".into(),
        Gen::Int(i) => format!("{i}"),
        Gen::Real(r) if r.is_finite() => format!("{r:?}"),
        Gen::Real(_) => "1e999".into(),
        Gen::Text(s) => format!("'{}'", s.replace('\0', "").replace('\'', "''")),
        Gen::BadText(_) => "TRUE".into(),
        Gen::Blob(b) => format!(
            "x'{}'",
            b.iter()
                .take(16)
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
        ),
    }
}

fn insert(conn: &rusqlite::Connection, table: &str, ncols: usize, skip_first: bool, vals: &[Gen]) {
    let start = usize::from(skip_first);
    let cols: Vec<String> = (start..ncols).map(|i| format!("c{i}")).collect();
    let mut exprs = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    for v in vals.iter().skip(start).take(ncols - start) {
        match v {
            Gen::BadText(b) => {
                exprs.push("CAST(? AS TEXT)".to_string());
                params.push(SqlValue::Blob(b.clone()));
            }
            other => {
                exprs.push("?".to_string());
                params.push(match other {
                    Gen::Null => SqlValue::Null,
                    Gen::Int(i) => SqlValue::Integer(*i),
                    Gen::Real(r) => SqlValue::Real(*r),
                    Gen::Text(s) => SqlValue::Text(s.clone()),
                    Gen::Blob(b) => SqlValue::Blob(b.clone()),
                    Gen::BadText(_) => SqlValue::Null,
                });
            }
        }
    }
    let sql = format!(
        "INSERT OR IGNORE INTO {table}({}) VALUES ({})",
        cols.join(","),
        exprs.join(",")
    );
    if cols.is_empty() {
        conn.execute(&format!("INSERT INTO {table} DEFAULT VALUES"), [])
            .unwrap();
        return;
    }
    conn.execute(&sql, rusqlite::params_from_iter(params))
        .unwrap();
}

fn alias_first(t: &TableSpec) -> bool {
    matches!(t.shape, Shape::IntPk)
        || (matches!(t.shape, Shape::CompositePk)
            && t.types.len() == 1
            && TYPES[t.types[0]] == "INTEGER")
}

fn build(spec: &DbSpec, dir: &std::path::Path) -> (rusqlite::Connection, std::path::PathBuf) {
    let path = dir.join("gen.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA page_size={}; PRAGMA encoding='{}'; PRAGMA auto_vacuum={};",
        spec.page_size, spec.encoding, spec.auto_vacuum
    ))
    .unwrap();
    if spec.wal {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("PRAGMA wal_autocheckpoint=0;").unwrap();
    }
    for (ti, t) in spec.tables.iter().enumerate() {
        let name = format!("t{ti}");
        let ncols = t.types.len();
        let mut cols: Vec<String> = t
            .types
            .iter()
            .enumerate()
            .map(|(i, &ty)| format!("c{i} {}", TYPES[ty]))
            .collect();
        let mut skip_first = false;
        let mut suffix = "";
        match t.shape {
            Shape::Plain => {}
            Shape::IntPk => {
                cols[0] = "c0 INTEGER PRIMARY KEY".into();
            }
            Shape::IntPkAutoinc => {
                cols[0] = "c0 INTEGER PRIMARY KEY AUTOINCREMENT".into();
                skip_first = true;
            }
            Shape::CompositePk => {
                let k = ncols.min(2);
                cols.push(format!(
                    "PRIMARY KEY({})",
                    (0..k)
                        .map(|i| format!("c{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            Shape::WithoutRowid => {
                let k = ncols.min(2);
                cols.push(format!(
                    "PRIMARY KEY({})",
                    (0..k)
                        .rev()
                        .map(|i| format!("c{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
                suffix = " WITHOUT ROWID";
            }
        }
        conn.execute_batch(&format!(
            "CREATE TABLE {name}({}){suffix};",
            cols.join(", ")
        ))
        .unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for r in &t.rows {
            let mut r = r.clone();
            if alias_first(t) && !matches!(r[0], Gen::Int(_) | Gen::Null) {
                r[0] = Gen::Null;
            }
            insert(&conn, &name, ncols, skip_first, &r);
        }
        conn.execute_batch("COMMIT").unwrap();
        if spec.checkpoint_midway && spec.wal {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .unwrap();
        }
        if t.delete_every > 0 {
            // Which rows go is a function of their values (no random()), so
            // a failing case replays exactly from its proptest seed.
            let all = (0..ncols)
                .map(|i| format!("quote(c{i})"))
                .collect::<Vec<_>>()
                .join(" || ");
            conn.execute(
                &format!(
                    "DELETE FROM {name} WHERE (length({all}) + {ti}) % {} = 0",
                    t.delete_every + 1
                ),
                [],
            )
            .unwrap();
        }
        let mut total = ncols;
        for (ty, def) in &t.add_columns {
            conn.execute_batch(&format!(
                "ALTER TABLE {name} ADD COLUMN c{total} {} DEFAULT {}",
                TYPES[*ty],
                default_sql(def)
            ))
            .unwrap();
            total += 1;
        }
        for r in &t.more_rows {
            let mut r = r.clone();
            if alias_first(t) && !matches!(r[0], Gen::Int(_) | Gen::Null) {
                r[0] = Gen::Null;
            }
            insert(&conn, &name, total, skip_first, &r);
        }
    }
    (conn, path)
}

fn check_equal(
    ours_res: Result<TableRows, sqlite::SqliteError>,
    expected: &TableRows,
) -> Result<(), TestCaseError> {
    let got = ours_res.map_err(|e| TestCaseError::fail(format!("reader error: {e}")))?;
    prop_assert_eq!(got.len(), expected.len());
    for ((gn, gr), (en, er)) in got.iter().zip(expected) {
        prop_assert_eq!(gn, en);
        prop_assert_eq!(gr.len(), er.len(), "row count of {}", gn);
        for (a, b) in gr.iter().zip(er) {
            prop_assert_eq!(a, b, "table {}", gn);
        }
    }
    Ok(())
}

/// 40 cases by default; `DIFF_CASES=N` for a longer run.
fn cases() -> u32 {
    std::env::var("DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn reader_matches_sqlite(spec in db_spec()) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, path) = build(&spec, dir.path());
        // Copy while the writer is still open: committed frames stay in the -wal.
        let snap = tempfile::tempdir().unwrap();
        let copy = copy_db(&path, snap.path(), "copy.db");
        if spec.wal {
            prop_assert!(sidecar(&copy, "-wal").exists());
        }
        drop(conn);
        let file = sqlite::SqliteFile::open(&copy).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = ours(&file);
        let expected = oracle(&copy);
        check_equal(got, &expected)?;
        // The freelist must walk cleanly and match the header.
        file.freelist().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn torn_and_corrupted_wal_matches_sqlite(spec in db_spec(), cut in 0.0f64..1.0, flip in any::<bool>()) {
        let mut spec = spec;
        spec.wal = true;
        let dir = tempfile::tempdir().unwrap();
        let (conn, path) = build(&spec, dir.path());
        let snap = tempfile::tempdir().unwrap();
        let copy = copy_db(&path, snap.path(), "copy.db");
        drop(conn);
        let wal_path = sidecar(&copy, "-wal");
        let mut wal = std::fs::read(&wal_path).unwrap();
        if wal.len() > 32 {
            let pos = 32 + ((wal.len() - 32) as f64 * cut) as usize;
            if flip {
                // Corrupt one byte inside a frame: frames from there on must be ignored.
                if let Some(b) = wal.get_mut(pos) { *b ^= 0x55; }
            } else {
                wal.truncate(pos);
            }
            std::fs::write(&wal_path, &wal).unwrap();
        }
        let file = sqlite::SqliteFile::open(&copy);
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                // Acceptable only if SQLite also cannot read this state.
                let ok = std::panic::catch_unwind(|| oracle(&copy)).is_ok();
                prop_assert!(!ok, "reader refused a file SQLite reads: {}", e);
                return Ok(());
            }
        };
        let got = ours(&file);
        let expected = oracle(&copy);
        check_equal(got, &expected)?;
    }
}
