//! The `aragora-db` binary: paths, status, demo, and bad input.

use std::process::Output;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    crate::common::cli_env(args, env)
}

#[test]
fn paths_json_lists_every_database_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (mode, elo_file) in [
        ("legacy", "agent_elo.redb"),
        ("consolidated", "analytics.redb"),
    ] {
        let o = run(
            &["paths", "--json"],
            &[("ARAGORA_DATA_DIR", d), ("ARAGORA_DB_MODE", mode)],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["mode"], mode);
        assert_eq!(v["data_dir_source"], "ARAGORA_DATA_DIR");
        let dbs = v["databases"].as_array().unwrap();
        assert_eq!(
            dbs.iter().filter(|d| d["kind"] == "database_type").count(),
            25
        );
        let elo = dbs.iter().find(|d| d["name"] == "elo").unwrap();
        assert!(elo["path"].as_str().unwrap().ends_with(elo_file), "{elo}");
    }
}

#[test]
fn bad_mode_and_bad_flag_are_clear_errors() {
    let o = run(&["paths"], &[("ARAGORA_DB_MODE", "sharded")]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ARAGORA_DB_MODE") && err.contains("sharded"),
        "{err}"
    );
    let o = run(&["paths", "--mode", "sharded"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["status"], &[("DB_TIMEOUT", "soon")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("DB_TIMEOUT"));
}

#[test]
fn demo_writes_reads_and_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("fresh");
    let o = run(&["--data-dir", d.to_str().unwrap(), "demo"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("read back bob+"), "{text}");
    let o = run(
        &["--data-dir", d.to_str().unwrap(), "status", "--json"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let users = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["exists"] == true)
        .unwrap();
    let counts: std::collections::BTreeMap<String, u64> = users["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        (
            counts["users"],
            counts["organizations"],
            counts["audit_log"]
        ),
        (2, 1, 2)
    );
}

#[test]
fn sqlite_info_and_dump_read_a_file_written_by_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("legacy.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL);
         INSERT INTO t (name, v) VALUES ('a,\"b\"', 1.5), (NULL, -0.25);",
    )
    .unwrap();
    // The connection stays open, so the rows are still only in the -wal.
    let p = db.to_str().unwrap();
    let o = run(&["sqlite", "info", p], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("2 rows"), "{text}");
    let o = run(&["sqlite", "dump", p, "--table", "t"], &[]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["name"], "a,\"b\"");
    assert_eq!(lines[1]["v"], -0.25);
    let o = run(
        &["sqlite", "dump", p, "--format", "csv", "--table", "t"],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "id,name,v\r\n1,\"a,\"\"b\"\"\",1.5\r\n2,,-0.25\r\n"
    );
    let o = run(&["sqlite", "dump", p, "--table", "nope"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("legacy.db"));
    drop(conn);
}

#[test]
fn dump_uses_an_index_when_one_fits_and_prints_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(run(&["--data-dir", d, "demo"], &[]).status.success());
    let o = run(
        &[
            "--data-dir",
            d,
            "dump",
            "audit_log",
            "--where",
            "action=user.create",
            "--format",
            "jsonl",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["action"] == "user.create"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("via index idx_audit_action"));
    let o = run(
        &[
            "--data-dir",
            d,
            "dump",
            "users",
            "--where",
            "name=Bob",
            "--format",
            "csv",
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("id,email,"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("full scan"));
    let o = run(
        &[
            "--data-dir",
            d,
            "dump",
            "organizations",
            "--format",
            "table",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("analytical-engines"));
    // A table whose file does not exist yet: no file is created.
    let o = run(&["--data-dir", d, "dump", "ratings"], &[]);
    assert!(o.status.success());
    assert!(!dir.path().join("agent_elo.redb").exists());
    for (args, needle) in [
        (vec!["dump", "nope"], "unknown table"),
        (
            vec!["dump", "users", "--where", "bogus=1"],
            "unknown column",
        ),
        (
            vec!["dump", "users", "--where", "failed_login_count=abc"],
            "not an integer",
        ),
        (vec!["dump", "users", "--where", "novalue"], "COLUMN=VALUE"),
    ] {
        let mut full = vec!["--data-dir", d];
        // A malformed flag is bad usage (2); a flag naming what is not there fails (1).
        let code = if args.contains(&"novalue") { 2 } else { 1 };
        full.extend(args);
        let o = run(&full, &[]);
        assert_eq!(o.status.code(), Some(code));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(needle),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn a_foreign_redb_file_is_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join("users.redb")).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(redb::TableDefinition::<u64, u64>::new("something"))
            .unwrap();
        w.commit().unwrap();
    }
    let o = run(
        &["--data-dir", dir.path().to_str().unwrap(), "dump", "users"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("users.redb") && err.contains("not an aragora-db file"),
        "{err}"
    );
}

#[test]
fn dump_shows_extra_columns_when_only_some_rows_have_them() {
    use aragora_db::config::{Config, DbTarget, Store};
    use aragora_db::schema::tokens::TOKEN_BLACKLIST;
    use aragora_db::table::{Extras, Value};
    let dir = tempfile::tempdir().unwrap();
    {
        let db = aragora_db::Database::open(
            &Config::for_dir(dir.path()),
            DbTarget::Store(Store::TokenBlacklist),
        )
        .unwrap();
        let mut extras = Extras::new();
        extras.insert("legacy_note".into(), Value::Blob(vec![0xde, 0xad]));
        db.write(|w| {
            w.insert_values(
                &TOKEN_BLACKLIST,
                &[Value::Text("a".into()), Value::Real(2.0), Value::Real(1.0)],
                &extras,
            )?;
            w.insert_values(
                &TOKEN_BLACKLIST,
                &[
                    Value::Text("b".into()),
                    Value::Real(f64::INFINITY),
                    Value::Real(1.0),
                ],
                &Extras::new(),
            )
        })
        .unwrap();
    }
    let d = dir.path().to_str().unwrap();
    for format in ["table", "csv", "jsonl"] {
        let o = run(
            &[
                "--data-dir",
                d,
                "dump",
                "token_blacklist",
                "--format",
                format,
            ],
            &[],
        );
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("_extra") || format == "jsonl", "{text}");
        assert!(text.contains("legacy_note"), "{format}: {text}");
    }
    let o = run(
        &[
            "--data-dir",
            d,
            "dump",
            "token_blacklist",
            "--format",
            "jsonl",
        ],
        &[],
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["_extra"]["legacy_note"]["$blob_hex"], "dead");
    assert_eq!(rows[1]["expires_at"]["$real"], "inf");
    assert_eq!(rows[1]["_extra"], serde_json::Value::Null);
}
