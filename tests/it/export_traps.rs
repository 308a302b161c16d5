//! Exporter traps beyond the declared tables: hostile identifiers (quotes,
//! spaces, newlines before psql meta-commands, names past 63 bytes),
//! the Supabase layout, and the CLI in both modes.

use crate::common::data_dir;
use crate::export::{assert_no_meta_commands, populate_all};
use crate::export_pg::{TempDb, available, compare};
use aragora_db::config::{Config, DatabaseMode, DbTarget, Store};
use aragora_db::export::{self, MemRows, MemTable, Options, Part, Rows, files, supabase};
use aragora_db::ops::export_rows::StoreRows;
use aragora_db::table::{ColumnDef, Extras, IndexDef, SqlType, TableDef, Value};
use std::path::Path;
use std::process::Command;

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// A table with an integer key, the given extra columns, and one index
/// named `index` on the second column.
fn table(name: &str, cols: &[&str], index: &str) -> &'static TableDef {
    let mut columns = vec![ColumnDef {
        name: "id",
        sql: SqlType::Integer,
        nullable: false,
        default: None,
        aliases: &[],
        accepts: |_| true,
        expected: "any",
        pg_name: None,
        pg_type: None,
    }];
    for (i, c) in cols.iter().enumerate() {
        columns.push(ColumnDef {
            name: Box::leak(c.to_string().into_boxed_str()),
            sql: [
                SqlType::Text,
                SqlType::Integer,
                SqlType::Json,
                SqlType::Real,
            ][i % 4],
            nullable: true,
            default: Some(["'d''efault'", "7", "'{}'", "CURRENT_TIMESTAMP"][i % 4]),
            aliases: &[],
            accepts: |_| true,
            expected: "any",
            pg_name: None,
            pg_type: None,
        });
    }
    Box::leak(Box::new(TableDef {
        name: Box::leak(name.to_string().into_boxed_str()),
        version: 1,
        owner: DbTarget::Store(Store::Users),
        columns: leak(columns),
        primary_key: &[0],
        autoincrement: true,
        indexes: leak(vec![IndexDef {
            name: Box::leak(index.to_string().into_boxed_str()),
            space: 1,
            columns: &[1],
            unique: false,
            covering: false,
        }]),
        foreign_keys: &[],
        sources: &[],
        pg: aragora_db::table::def::PgTableDecl::NONE,
    }))
}

fn hostile_tables(sentinel: &Path) -> Vec<MemTable> {
    let s = sentinel.display();
    let long = |c: char| format!("{}{c}", "x".repeat(100));
    let names = vec![
        "order".to_string(),
        "user".into(),
        "User".into(),
        "MixedCase".into(),
        "references".into(),
        format!("t\n\\! touch {s}.1\n"),
        format!("q\"uote\\! touch {s}.2"),
        "dollar$name $$".into(),
        "tag $do$ in a name".into(),
        "emoji 👩\u{200d}👩\u{200d}👧".into(),
        "semi;colon -- x".into(),
        long('a'),
        long('b'),
        "x".repeat(63),
        "x".repeat(64),
        "é".repeat(40),
        "cr\r\\copy x from program 'touch /tmp/x'".into(),
    ];
    let cols = [
        "select".to_string(),
        format!("c\n\\! touch {s}.3"),
        "Order".into(),
        "_extra".into(),
        "y".repeat(70) + "1",
        "y".repeat(70) + "2",
        "U&\"x\"".into(),
    ];
    let col_refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    names
        .iter()
        .enumerate()
        .map(|(t, name)| {
            let def = table(name, &col_refs, &format!("idx\n\\! touch {s}.4"));
            let rows = (0..3)
                .map(|r| {
                    let mut v = vec![Value::Integer(r)];
                    for (i, _) in cols.iter().enumerate() {
                        v.push(match i % 4 {
                            0 => Value::Text(format!("v{t}\n\\! touch {s}.5")),
                            1 => Value::Integer(r * 10 + i as i64),
                            2 => Value::Text(format!("{{\"k\\n\": \"{t}\"}}")),
                            _ => Value::Real(r as f64 / 3.0),
                        });
                    }
                    let mut extras = Extras::new();
                    if r == 1 {
                        extras.insert("undeclared\n\\! x".into(), Value::Text("e".into()));
                    }
                    (v, extras)
                })
                .collect();
            MemTable { def, rows }
        })
        .collect()
}

#[test]
fn hostile_identifiers_load_without_meta_commands_or_collisions() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sentinel = dir.path().join("pwned");
    for inserts in [false, true] {
        let rows = MemRows::new(hostile_tables(&sentinel));
        let mut out = Vec::new();
        let report = export::write_postgres(
            &mut out,
            &rows,
            &Options {
                inserts,
                ..Default::default()
            },
        )
        .unwrap();
        let sql = String::from_utf8(out).unwrap();
        assert_no_meta_commands(&sql);
        let db = TempDb::new("idents");
        db.load(&sql);
        for i in 1..=5 {
            assert!(
                !Path::new(&format!("{}.{i}", sentinel.display())).exists(),
                "meta-command {i} ran"
            );
        }
        let n: usize = db
            .scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .parse()
            .unwrap();
        assert_eq!(n, rows.tables().len(), "a name was lost to truncation");
        let idx: usize = db
            .scalar("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisprimary")
            .parse()
            .unwrap();
        assert_eq!(
            idx,
            rows.tables().len(),
            "indexes with one name in every table"
        );
        compare(&db, &rows);
        let renamed = |from: &str| {
            report
                .notes
                .iter()
                .any(|n| n.message.contains(&format!("{from:?} exported as")))
        };
        assert!(renamed(&format!("{}a", "x".repeat(100))));
        assert!(renamed(&format!("{}b", "x".repeat(100))));
        assert!(renamed(&"x".repeat(64)));
        assert!(!renamed(&"x".repeat(63)));
        // Every identity sequence was set past the largest id (2), through
        // the table's name as a string.
        assert_eq!(
            db.scalar(
                "SELECT count(*) FROM pg_sequences WHERE schemaname = 'public' AND last_value = 2"
            ),
            rows.tables().len().to_string()
        );

        // The guarded parts (DO blocks and E'' names, a dollar-quote tag in
        // a name): schema twice, then the data.
        let part = |part: Part| {
            let mut out = Vec::new();
            export::write_postgres(&mut out, &rows, &Options { inserts, part }).unwrap();
            String::from_utf8(out).unwrap()
        };
        let (schema, data) = (part(Part::SchemaOnly), part(Part::DataOnly));
        assert!(schema.contains("DO $do2$"), "{schema}");
        assert_no_meta_commands(&schema);
        assert_no_meta_commands(&data);
        let db = TempDb::new("idents_split");
        db.load(&schema);
        db.load(&schema);
        db.load(&data);
        compare(&db, &rows);
        // A declared `_extra` column keeps its name; the undeclared columns go to `_extra_2`.
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.message.contains("in column _extra_2 (jsonb)")),
            "{:#?}",
            report.notes
        );
    }
}

#[test]
fn supabase_layout_loads_migration_then_seed() {
    if !available() {
        return;
    }
    let (_dir, config) = data_dir();
    populate_all(&config, 3);
    let out = tempfile::tempdir().unwrap();
    let rows = StoreRows::open(&config, None).unwrap();
    for (i, seed) in [supabase::SeedData::Inserts, supabase::SeedData::Copy]
        .into_iter()
        .enumerate()
    {
        let at = out.path().join(i.to_string());
        let (files, report) = supabase::write(
            &at,
            &rows,
            &Options::default(),
            seed,
            "20261126120000",
            false,
        )
        .unwrap();
        let migration = at.join("supabase/migrations/20261126120000_aragora_schema.sql");
        let seed_file = at.join("supabase/seed.sql");
        assert_eq!(
            files,
            vec![
                (migration.clone(), files::Outcome::Created),
                (seed_file.clone(), files::Outcome::Created)
            ]
        );
        let m = std::fs::read_to_string(&migration).unwrap();
        let s = std::fs::read_to_string(&seed_file).unwrap();
        assert!(m.contains("CREATE TABLE") && !m.contains("INSERT INTO") && !m.contains("COPY "));
        assert!(!s.contains("CREATE TABLE"));
        assert_eq!(
            s.contains("INSERT INTO"),
            seed == supabase::SeedData::Inserts
        );
        // Dangling references (synthetic rows) move their FK into the seed, NOT VALID.
        assert!(report.notes.iter().any(|n| n.message.contains("NOT VALID")));
        assert!(!m.contains("NOT VALID") && s.contains("NOT VALID"));
        let db = TempDb::new("supabase");
        db.load_file(&migration);
        db.load_file(&seed_file);
        compare(&db, &rows);
    }
}

fn cli(args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aragora-db"));
    for k in [
        "ARAGORA_DATA_DIR",
        "ARAGORA_NOMIC_DIR",
        "NOMIC_DIR",
        "ARAGORA_DB_MODE",
    ] {
        c.env_remove(k);
    }
    c.args(args).output().unwrap()
}

#[test]
fn cli_exports_both_modes_to_stdout_file_and_folder() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for mode in [DatabaseMode::Legacy, DatabaseMode::Consolidated] {
        let data = dir.path().join(mode.as_str());
        let config = Config::for_dir(&data).with_mode(mode);
        populate_all(&config, 2);
        let d = data.to_str().unwrap();
        let m = mode.as_str();
        let o = cli(&[
            "--data-dir",
            d,
            "--mode",
            m,
            "export",
            "--format",
            "postgres",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("note: users: foreign key (org_id)"), "{err}");
        let db = TempDb::new("cli");
        db.load(&String::from_utf8(o.stdout).unwrap());
        compare(&db, &StoreRows::open(&config, None).unwrap());

        let file = dir.path().join(format!("{m}.sql"));
        let o = cli(&[
            "--data-dir",
            d,
            "--mode",
            m,
            "export",
            "--format",
            "postgres",
            "--inserts",
            "--tables",
            "users,organizations",
            "--out",
            file.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let db = TempDb::new("cli_tables");
        db.load_file(&file);
        let tables = ["users".to_string(), "organizations".to_string()];
        compare(&db, &StoreRows::open(&config, Some(&tables)).unwrap());
        assert_eq!(
            db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
            "2"
        );

        let folder = dir.path().join(format!("{m}-supabase"));
        let o = cli(&[
            "--data-dir",
            d,
            "--mode",
            m,
            "export",
            "--format",
            "supabase",
            "--out",
            folder.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(folder.join("supabase/seed.sql").exists());
    }
    // Bad usage and unknown tables are clear errors; nothing is created.
    let empty = dir.path().join("empty");
    let e = empty.to_str().unwrap();
    let o = cli(&["--data-dir", e, "export", "--format", "supabase"]);
    assert_eq!(o.status.code(), Some(2), "bad usage");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
    let o = cli(&[
        "--data-dir",
        e,
        "export",
        "--format",
        "postgres",
        "--tables",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    let o = cli(&["--data-dir", e, "export", "--format", "postgres"]);
    assert!(o.status.success());
    assert!(
        !empty.join("users.redb").exists(),
        "export created a database file"
    );
}
