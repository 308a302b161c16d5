//! `aragora-db export`: a populated store (every declared table, the stores'
//! own rows, and adversarial values for each known trap of SQLite-to-PostgreSQL
//! export: quoting, NUL and invalid UTF-8, extreme numbers, timestamps, identifiers)
//! loaded into a fresh PostgreSQL database with `psql -v ON_ERROR_STOP=1`
//! and compared row by row, in COPY and INSERT mode and in the Supabase
//! layout. See tests/it/export_pg.rs for the comparison.

use crate::common::data_dir;
use crate::export_pg::{TempDb, available, compare};
use aragora_db::Database;
use aragora_db::config::Config;
use aragora_db::export::{self, Note, Options, Part};
use aragora_db::ops::export_rows::StoreRows;
use aragora_db::schema::{self, ALL_TABLES};
use aragora_db::table::layout::{ROWS, spaced};
use aragora_db::table::{Extras, SqlType, TableDef, Value, codec, keys, raw_def};
use std::collections::HashSet;

/// Text values PostgreSQL must keep byte for byte.
pub const TEXTS: &[&str] = &[
    "'",
    "''",
    "\"",
    "\\",
    "\\\\",
    "\\N",
    "\\.",
    "$$",
    "$tag$ x $tag$",
    " lead",
    "trail ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "a\nb\r\nc\rd",
    "\u{8}\u{c}\u{b}",
    "\u{1}\u{2}\u{1f}\u{7f}",
    "\u{85}\u{2028}\u{2029}",
    "\u{feff}bom",
    "e\u{301}",
    "\u{202e}rtl",
    "👩\u{200d}👩\u{200d}👧",
    "𝄞 astral",
    "\n\\! touch pwned",
    "",
    "null",
    "NULL",
    "-- comment",
    "/* c */",
    ";",
    "E'x'",
    "U&\"x\"",
    ":var :'v'",
];

fn is_indexed(def: &TableDef, col: usize) -> bool {
    def.primary_key.contains(&col) || def.indexes.iter().any(|i| i.columns.contains(&col))
}

fn unique(def: &TableDef, col: usize) -> bool {
    def.primary_key.contains(&col)
        || def
            .indexes
            .iter()
            .any(|i| i.unique && i.columns.contains(&col))
}

/// Row `r` of a declared table: every column a fitting value of its type,
/// row-dependent so keys and unique indexes hold, adversarial in content.
pub fn synthetic_row(def: &TableDef, r: usize) -> Vec<Value> {
    def.columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            if col.nullable && !is_indexed(def, c) && (r + c) % 5 == 4 {
                return Value::Null;
            }
            let k = r + c;
            match col.sql {
                SqlType::Text if r == 5 && !unique(def, c) => Value::Text(String::new()),
                SqlType::Blob if r == 5 => Value::Blob(Vec::new()),
                SqlType::Text => {
                    let t = TEXTS[k % TEXTS.len()];
                    let first_free = (0..def.columns.len())
                        .find(|&i| def.columns[i].sql == SqlType::Text && !is_indexed(def, i));
                    if r == 3 && first_free == Some(c) {
                        // Long values only where no btree index must hold
                        // them: 1 MB in users, 20 kB (past TOAST) elsewhere.
                        let n = if def.name == "users" { 130_000 } else { 2_500 };
                        Value::Text(format!("{t}{}", "long ✓ ".repeat(n)))
                    } else {
                        Value::Text(format!("{t}#{r}"))
                    }
                }
                SqlType::Integer => Value::Integer(match r {
                    0 => i64::MIN,
                    1 => i64::MAX,
                    2 => -1,
                    3 => 0,
                    _ => r as i64 * 7 + c as i64,
                }),
                SqlType::Bool => Value::Integer((k % 2) as i64),
                SqlType::Real | SqlType::Epoch => {
                    let specials = [
                        -0.0,
                        f64::NAN,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                        5e-324,
                        f64::MAX,
                        f64::MIN_POSITIVE,
                        0.1 + 0.2,
                        1_700_000_000.123_456_7,
                    ];
                    if r < specials.len() && !unique(def, c) {
                        Value::Real(specials[r])
                    } else {
                        Value::Real(r as f64 * 1.25 + c as f64)
                    }
                }
                SqlType::Blob => Value::Blob(match r {
                    0 => Vec::new(),
                    1 => (0..=255u8).collect(),
                    _ => vec![0, r as u8, b'\\', b'\n', 0xff, c as u8],
                }),
                SqlType::Json => Value::Text(match r % 4 {
                    0 => format!("{{\"r\": {r}, \"s\": \"\\n\\t\\\\ \\u00e9 '\\\"\", \"n\": [1, 2.5, -0, 1e300]}}"),
                    1 => format!("[{r}, null, true, \"$$\"]"),
                    2 => format!("\"text {r}\""),
                    _ => "{}".to_string(),
                }),
                SqlType::Timestamp => Value::Text(
                    [
                        format!("2026-01-05T10:00:{:02}.123456+00:00", r % 60),
                        format!("2026-01-05 10:{:02}:00", r % 60),
                        format!("2026-01-05T10:00:{:02}Z", r % 60),
                        format!("2026-03-29T02:30:{:02}.5-05:30", r % 60),
                        format!("1999-12-{:02}", 1 + r % 28),
                    ][k % 5]
                        .clone(),
                ),
            }
        })
        .collect()
}

/// Writes `n` synthetic rows into every declared table (foreign keys off:
/// references may dangle, as in legacy files).
pub fn populate_all(config: &Config, n: usize) {
    // One write transaction per file.
    let mut files: Vec<(std::path::PathBuf, Vec<&'static TableDef>)> = Vec::new();
    for &def in ALL_TABLES {
        let path = config.get_db_path(def.owner).unwrap().path;
        match files.iter_mut().find(|(p, _)| *p == path) {
            Some((_, defs)) => defs.push(def),
            None => files.push((path, vec![def])),
        }
    }
    for (_, defs) in files {
        let db = Database::open(config, defs[0].owner).unwrap();
        db.write(|w| {
            w.set_foreign_keys(false)?;
            for &def in &defs {
                for r in 0..n {
                    w.insert_values(def, &synthetic_row(def, r), &Extras::new())
                        .map_err(|e| {
                            aragora_db::Error::InvalidArgument(format!("{}: {e}", def.name))
                        })?;
                }
            }
            Ok(())
        })
        .unwrap();
    }
}

/// Writes rows straight into a table's redb table, bypassing every check,
/// as a foreign or older writer could (any value in any column). Every
/// handle on the file must be closed.
pub fn write_raw(config: &Config, def: &TableDef, rows: &[(Vec<Value>, Extras)]) {
    let path = config.get_db_path(def.owner).unwrap().path;
    let db = redb::Database::create(&path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(raw_def(def.name)).unwrap();
        for (vals, extras) in rows {
            let pk = keys::encode(def.primary_key.iter().map(|&c| vals[c].as_ref()));
            let bytes = codec::encode_values(vals, extras);
            t.insert(spaced(ROWS, &pk).as_slice(), bytes.as_slice())
                .unwrap();
        }
    }
    txn.commit().unwrap();
}

/// `n` bytes of pseudo-random text that does not compress.
fn noise(n: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut s = String::new();
    while s.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(char::from_u32(0x21 + (x % 0x5d) as u32).unwrap());
    }
    s
}

/// users rows with a value of the wrong kind in each trap column, and extras.
pub fn misfit_users() -> Vec<(Vec<Value>, Extras)> {
    let def = &schema::users::USERS;
    let col = |n: &str| def.column_index(n).unwrap();
    let mut rows = Vec::new();
    for r in 0..3 {
        let mut v = synthetic_row(def, 100 + r);
        v[col("id")] = Value::Text(format!("misfit-{r}"));
        v[col("email")] = Value::Text(format!("misfit{r}@example.com"));
        v[col("api_key")] = Value::Null;
        v[col("api_key_hash")] = Value::Null;
        if r == 0 {
            v[col("failed_login_count")] = Value::Text("toto".into()); // text in INTEGER
            v[col("name")] = Value::Integer(42); // integer in TEXT
            v[col("api_key_prefix")] = Value::Real(-0.0);
            v[col("email_verified")] = Value::Integer(7); // not 0/1
            v[col("preferences")] = Value::Text("not json".into());
            v[col("last_login_at")] = Value::Text("1700000000".into()); // epoch in TIMESTAMP
            v[col("avatar_url")] = Value::Text("nul\0inside".into());
            v[col("mfa_secret")] = Value::Blob(vec![0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, b'a']);
            v[col("password_salt")] = Value::Null; // NOT NULL column
        }
        if r == 2 {
            // Incompressible values past a btree entry's ~2.7 kB in the key
            // and a unique index.
            v[col("id")] = Value::Text(noise(3_000, 1));
            v[col("email")] = Value::Text(noise(5_000, 2));
        }
        let mut extras = Extras::new();
        if r < 2 {
            extras.insert("legacy_col".into(), Value::Integer(5));
            extras.insert("blob".into(), Value::Blob(vec![0, 1, 2]));
            extras.insert("nul".into(), Value::Text("x\0y".into()));
            extras.insert("negz".into(), Value::Real(-0.0));
            extras.insert("inf".into(), Value::Real(f64::INFINITY));
            extras.insert("text".into(), Value::Text("\\N\n'\"".into()));
        }
        rows.push((v, extras));
    }
    rows
}

fn script(config: &Config, opts: &Options) -> (String, export::Report) {
    let rows = StoreRows::open(config, None).unwrap();
    let mut out = Vec::new();
    let report = export::write_postgres(&mut out, &rows, opts).unwrap();
    (String::from_utf8(out).unwrap(), report)
}

fn has_note(notes: &[Note], table: &str, parts: &[&str]) -> bool {
    notes
        .iter()
        .any(|n| n.table == table && parts.iter().all(|p| n.message.contains(p)))
}

/// No line of a script may start with a backslash outside a COPY block,
/// and no line may carry a CR.
pub fn assert_no_meta_commands(sql: &str) {
    let mut in_copy = false;
    for line in sql.split('\n') {
        assert!(!line.contains('\r'), "raw CR in {line:?}");
        if in_copy {
            in_copy = line != "\\.";
            continue;
        }
        assert!(
            !line.starts_with('\\'),
            "line starts with a backslash: {line:?}"
        );
        in_copy = line.starts_with("COPY ") && line.ends_with("FROM stdin;");
    }
}

#[test]
fn every_table_with_adversarial_values_round_trips_in_copy_and_insert_mode() {
    if !available() {
        return;
    }
    let (_dir, config) = data_dir();
    populate_all(&config, 12);
    write_raw(&config, &schema::users::USERS, &misfit_users());
    for inserts in [false, true] {
        let (sql, report) = script(
            &config,
            &Options {
                part: Part::All,
                inserts,
            },
        );
        assert_no_meta_commands(&sql);
        let db = TempDb::new(if inserts { "ins" } else { "copy" });
        db.load(&sql);
        let rows = StoreRows::open(&config, None).unwrap();
        let n = compare(&db, &rows);
        assert_eq!(n as u64, report.rows());
        assert_eq!(n, ALL_TABLES.len() * 12 + 3);
        let tables: usize = db
            .scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .parse()
            .unwrap();
        assert_eq!(tables, ALL_TABLES.len());
        // Every trap has its note.
        let notes = &report.notes;
        for (col, outcome) in [
            ("failed_login_count", "exported as text"),
            ("name", "written as text"),
            ("api_key_prefix", "written as text"),
            ("email_verified", "exported as bigint"),
            ("preferences", "exported as text"),
            ("last_login_at", "exported as text"),
            ("avatar_url", "exported as bytea"),
            ("mfa_secret", "exported as bytea"),
        ] {
            assert!(
                has_note(notes, "users", &[&format!("column {col}:"), outcome]),
                "{col}: {notes:#?}"
            );
        }
        assert!(
            has_note(notes, "users", &["password_salt", "NOT NULL"]),
            "{notes:#?}"
        );
        assert!(
            has_note(notes, "users", &["undeclared columns", "_extra"]),
            "{notes:#?}"
        );
        assert!(
            has_note(notes, "users", &["foreign key (org_id)", "NOT VALID"]),
            "{notes:#?}"
        );
        // Widened columns really have the reported types.
        let ty = |c: &str| {
            db.scalar(&format!("SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = '{c}'"))
        };
        assert_eq!(ty("failed_login_attempts"), "text"); // failed_login_count
        assert_eq!(ty("avatar_url"), "bytea");
        assert_eq!(ty("email_verified"), "bigint");
        assert_eq!(ty("is_active"), "boolean");
        assert_eq!(ty("created_at"), "timestamp with time zone");
        assert_eq!(ty("_extra"), "jsonb");
        // Empty string, empty blob and NULL stay three different things.
        assert_eq!(
            db.scalar("SELECT count(*) FROM users WHERE password_hash = ''"),
            "1"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM users WHERE password_hash IS NULL"),
            "0"
        );
        let blobs = "SELECT count(*) FILTER (WHERE embedding = ''::bytea), count(*) FILTER (WHERE embedding IS NULL) FROM pattern_embeddings";
        let r = &db.rows(blobs)[0];
        assert!(
            r[0] != Some("0".into()) && r[1] != Some("0".into()),
            "{r:?}"
        );
        assert!(sql.contains("FOREIGN KEY"));
    }
}

#[test]
fn stores_export_with_valid_foreign_keys_and_defaults_work() {
    if !available() {
        return;
    }
    let (_dir, config) = data_dir();
    let users = aragora_db::store::UserStore::open(&config).unwrap();
    let ada = users
        .create_user("ada@example.com", "bcrypt:x", "", "Ada", None, "member")
        .unwrap();
    let audit = aragora_db::store::AuditLog::open(&config).unwrap();
    for i in 0..5 {
        audit
            .log_event(aragora_db::store::AuditEvent {
                action: format!("login {i}"),
                user_id: Some(ada.id.clone()),
                ..Default::default()
            })
            .unwrap();
    }
    drop((users, audit));
    let (sql, report) = script(&config, &Options::default());
    assert!(report.notes.is_empty(), "{:#?}", report.notes);
    assert!(!sql.contains("NOT VALID"));
    let db = TempDb::new("stores");
    db.load(&sql);
    compare(&db, &StoreRows::open(&config, None).unwrap());
    // The identity sequence continues after the highest id.
    let next = db.scalar("SELECT nextval(pg_get_serial_sequence('audit_log', 'id'))");
    assert_eq!(next, "6");
    // DEFAULTs are valid for their columns: a row of only the required columns.
    db.load("INSERT INTO users (id, email, password_hash, password_salt) VALUES ('u2', 'b@x', 'h', '');\n");
    assert_eq!(
        db.rows("SELECT is_active::text, token_version::text, role, preferences::text, created_at IS NOT NULL FROM users WHERE id = 'u2'")[0],
        ["true", "1", "member", "{}", "t"].map(|s| Some(s.to_string()))
    );
    // The foreign key holds: a dangling reference is refused at COMMIT.
    let err = db.load_fails("BEGIN; UPDATE users SET org_id = 'nope' WHERE id = 'u2'; COMMIT;\n");
    assert!(err.contains("foreign key"), "{err}");
}

#[test]
fn schema_only_then_data_only_equals_the_whole_script() {
    if !available() {
        return;
    }
    let (_dir, config) = data_dir();
    populate_all(&config, 4);
    let (schema_sql, _) = script(
        &config,
        &Options {
            part: Part::SchemaOnly,
            inserts: false,
        },
    );
    let (data_sql, _) = script(
        &config,
        &Options {
            part: Part::DataOnly,
            inserts: true,
        },
    );
    assert!(!schema_sql.contains("COPY ") && !schema_sql.contains("INSERT INTO"));
    assert!(!data_sql.contains("CREATE TABLE"));
    let db = TempDb::new("split");
    db.load(&schema_sql);
    db.load(&data_sql);
    compare(&db, &StoreRows::open(&config, None).unwrap());
}

#[test]
fn declared_types_cover_every_sql_type() {
    // The declaration alone decides the type when every value fits.
    let mut seen = HashSet::new();
    for &def in ALL_TABLES {
        for (_, t) in export::declared_types(def) {
            seen.insert(t.sql());
        }
    }
    for t in [
        "boolean",
        "bigint",
        "double precision",
        "timestamptz",
        "jsonb",
        "text",
        "bytea",
    ] {
        assert!(seen.contains(t), "{t}: {seen:?}");
    }
}

#[test]
fn insert_scripts_load_with_standard_conforming_strings_off() {
    if !available() {
        return;
    }
    let (_dir, config) = data_dir();
    populate_all(&config, 3);
    let (sql, _) = script(
        &config,
        &Options {
            part: Part::All,
            inserts: true,
        },
    );
    // Without the preamble's SET, under a server that has it off, the
    // E'' literals must still read the same.
    let set = "SET standard_conforming_strings = on;\n";
    assert!(sql.contains(set));
    let sql = sql.replacen(set, "", 1);
    let db = TempDb::new("scs_off");
    db.load_with(&sql, "-c standard_conforming_strings=off");
    compare(&db, &StoreRows::open(&config, None).unwrap());
}
