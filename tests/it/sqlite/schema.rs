//! Schema parsing: quoting styles, comments, rowid-alias rules, constraints — each
//! checked against what SQLite itself does with the same DDL.
use aragora_db::sqlite;

use super::common::*;

fn db_with(ddl: &str, inserts: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.db");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(ddl).unwrap();
    conn.execute_batch(inserts).unwrap();
    drop(conn);
    (d, p)
}

#[test]
fn rowid_alias_rules_match_sqlite() {
    let cases = [
        ("CREATE TABLE t(x INTEGER PRIMARY KEY, y)", true),
        ("CREATE TABLE t(x integer primary key asc, y)", true),
        ("CREATE TABLE t(x INTEGER PRIMARY KEY DESC, y)", false),
        ("CREATE TABLE t(x INTEGER, y, PRIMARY KEY(x DESC))", true),
        ("CREATE TABLE t(x INT PRIMARY KEY, y)", false),
        ("CREATE TABLE t(x INTEGER(8) PRIMARY KEY, y)", false),
        ("CREATE TABLE t(x INTEGER, y, PRIMARY KEY(x, y))", false),
        (
            "CREATE TABLE t(x INTEGER PRIMARY KEY AUTOINCREMENT, y)",
            true,
        ),
    ];
    for (ddl, alias) in cases {
        let (_d, p) = db_with(
            ddl,
            "INSERT INTO t VALUES (5, 'a'); INSERT INTO t VALUES (-3, 'b'); INSERT INTO t(y) VALUES ('c');",
        );
        let f = sqlite::SqliteFile::open(&p).unwrap();
        let t = f.table("t").unwrap();
        assert_eq!(t.rowid_alias.is_some(), alias, "{ddl}");
        assert_eq!(ours(&f).unwrap(), oracle(&p), "{ddl}");
    }
}

#[test]
fn quoting_comments_and_constraints() {
    let ddl = r#"CREATE TABLE "my ""table"" " ( -- comment
        [order] INTEGER PRIMARY KEY AUTOINCREMENT, /* block
        comment */ `select` TEXT NOT NULL UNIQUE COLLATE NOCASE DEFAULT 'x''y',
        'quoted' UNSIGNED BIG INT DEFAULT -12 REFERENCES other(id) ON DELETE CASCADE,
        plain,
        amount NUMERIC(10,2) CHECK (amount >= 0) DEFAULT 1.50,
        flag BOOLEAN DEFAULT FALSE,
        stamp TEXT DEFAULT CURRENT_TIMESTAMP,
        UNIQUE(plain),
        FOREIGN KEY(plain, amount) REFERENCES parent(a, b)
    )"#;
    let (_d, p) = db_with(
        ddl,
        r#"PRAGMA foreign_keys=OFF; INSERT INTO "my ""table"" "(plain) VALUES (1);"#,
    );
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let t = f.table("my \"table\" ").unwrap();
    let names: Vec<&str> = t.column_names().collect();
    assert_eq!(
        names,
        [
            "order", "select", "quoted", "plain", "amount", "flag", "stamp"
        ]
    );
    assert_eq!(t.rowid_alias, Some(0));
    assert!(t.autoincrement);
    let c = &t.columns[1];
    assert!(c.not_null && c.unique);
    assert_eq!(c.collate.as_deref(), Some("NOCASE"));
    assert_eq!(
        c.default.as_ref().unwrap().value,
        Some(sqlite::Value::Text(b"x'y".to_vec()))
    );
    assert_eq!(t.columns[2].decl_type, "UNSIGNED BIG INT");
    assert_eq!(t.columns[2].affinity, sqlite::Affinity::Integer);
    assert_eq!(
        t.columns[2].default.as_ref().unwrap().value,
        Some(sqlite::Value::Integer(-12))
    );
    assert_eq!(t.columns[2].references.as_ref().unwrap().table, "other");
    assert!(t.columns[3].unique);
    assert_eq!(t.columns[4].affinity, sqlite::Affinity::Numeric);
    assert_eq!(
        t.columns[5].default.as_ref().unwrap().value,
        Some(sqlite::Value::Integer(0))
    );
    assert_eq!(t.columns[6].default.as_ref().unwrap().value, None);
    assert_eq!(t.foreign_keys.len(), 2);
    assert_eq!(t.primary_key, vec![0]);
    assert_eq!(t.columns[0].pk_position, Some(1));
    assert_eq!(ours(&f).unwrap(), oracle(&p));
    assert_eq!(
        f.sqlite_sequence().unwrap(),
        vec![("my \"table\" ".to_string(), 1)]
    );
}

#[test]
fn without_rowid_and_generated_columns() {
    let (_d, p) = db_with(
        "CREATE TABLE w(a TEXT, b INT, c REAL, PRIMARY KEY(b, a)) WITHOUT ROWID;
         CREATE TABLE g(a INT, b INT GENERATED ALWAYS AS (a * 2) STORED, c TEXT, d REAL AS (a + 0.5) VIRTUAL, e);
         CREATE INDEX wi ON w(c);
         CREATE VIEW v AS SELECT * FROM w;
         CREATE TRIGGER tr AFTER INSERT ON w BEGIN SELECT 1; END;",
        "INSERT INTO w VALUES ('x', 2, 1.0), ('y', 1, 2), ('a', 1, NULL);
         INSERT INTO g(a, c, e) VALUES (1, 'one', x'01'), (2, 'two', 3.5);",
    )
    ;
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let w = f.table("w").unwrap();
    assert!(w.without_rowid());
    assert_eq!(w.primary_key, vec![1, 0]);
    let g = f.table("g").unwrap();
    assert_eq!(g.columns[3].generated, Some(sqlite::Generated::Virtual));
    // VIRTUAL generated columns are not stored: the reader returns NULL for them.
    let t = f.table("g").unwrap();
    let mut rows = f.rows(&t).unwrap();
    let r = rows.next_row().unwrap().unwrap();
    assert_eq!(r.get(0), sqlite::ValueRef::Integer(1));
    assert_eq!(r.get(1), sqlite::ValueRef::Integer(2));
    assert_eq!(r.get(2), sqlite::ValueRef::Text(b"one"));
    assert_eq!(r.get(3), sqlite::ValueRef::Null);
    assert_eq!(r.get(4), sqlite::ValueRef::Blob(&[1]));
    let idx = f.indexes().unwrap();
    assert!(idx.iter().any(|i| i.name == "wi" && i.columns == ["c"]));
    let expected = oracle(&p);
    let got = ours(&f).unwrap();
    assert_eq!(got[0], expected[0]);
}

#[test]
fn dump_and_info() {
    let (_d, p) = db_with(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT, r REAL, b BLOB, n);",
        "INSERT INTO t VALUES (1, 'he said \"hi\", ok', 0.1, x'00ff', NULL),
                              (2, CAST(x'ff41' AS TEXT), 1e300, x'', 7),
                              (3, '', 1.0, NULL, 9e999);",
    );
    let f = sqlite::SqliteFile::open(&p).unwrap();
    let t = f.table("t").unwrap();
    let mut out = Vec::new();
    assert_eq!(sqlite::dump::write_jsonl(&f, &t, &mut out).unwrap(), 3);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"_rowid":1,"id":1,"s":"he said \"hi\", ok","r":0.1,"b":{"$blob_hex":"00ff"},"n":null}"#
    );
    assert_eq!(
        lines[1],
        r#"{"_rowid":2,"id":2,"s":{"$text_hex":"ff41"},"r":1e+300,"b":{"$blob_hex":""},"n":7}"#
    );
    assert_eq!(
        lines[2],
        r#"{"_rowid":3,"id":3,"s":"","r":1.0,"b":null,"n":{"$real":"inf"}}"#
    );
    for l in &lines {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    let mut out = Vec::new();
    sqlite::dump::write_csv(&f, &t, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "id,s,r,b,n\r\n1,\"he said \"\"hi\"\", ok\",0.1,\\x00ff,\r\n2,\\xff41,1e300,\\x,7\r\n3,\"\",1.0,,inf\r\n"
    );
    let info = sqlite::DbInfo::gather(&f).unwrap();
    let s = info.to_string();
    assert!(s.contains("page size:        4096"), "{s}");
    assert!(s.contains("t ") && s.contains("3 rows"), "{s}");
}
