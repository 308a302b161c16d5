//! The `aragora-db` binary on PostgreSQL: `migrate`, `status`, `verify`,
//! `paths`, and bad configuration (docs/CLI.md, docs/POSTGRES.md "The
//! command line on PostgreSQL"). Each test has a database of its own
//! (`export_pg::TempDb`); without a server they skip (fail under CI=true).

use crate::export_pg::{TempDb, available};
use aragora_db::export::pgshape;
use std::process::Output;
use std::time::{Duration, Instant};

fn url(db: &TempDb) -> String {
    format!("postgresql://postgres@127.0.0.1:5432/{}", db.name)
}

/// Runs the binary with every store on PostgreSQL at `dsn`, in an empty
/// data directory.
fn run_dsn(dsn: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    crate::common::cli_env(
        args,
        &[
            ("ARAGORA_DATA_DIR", dir.path().to_str().unwrap()),
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("ARAGORA_POSTGRES_DSN", dsn),
        ],
    )
}

fn run(db: &TempDb, args: &[&str]) -> Output {
    run_dsn(&url(db), args)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout {}\nstderr {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn has_schema(db: &TempDb) -> bool {
    db.scalar("SELECT to_regclass('aragora_schema_versions') IS NOT NULL") == "t"
}

fn user_tables(db: &TempDb) -> usize {
    db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .parse()
        .unwrap()
}

/// The `results` of one action (`created`, `recorded`, …).
fn actions(v: &serde_json::Value, action: &str) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .map(|r| r["table"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn migrate_creates_records_then_has_nothing_to_do() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_migrate");
    let declared = pgshape::all().len();

    let o = run(&db, &["migrate", "--status", "--json"]);
    ok(&o);
    let v = json(&o);
    assert_eq!(v["results"][0]["versions_table"], false, "{v}");
    assert!(!has_schema(&db), "migrate --status created the schema");

    let o = run(&db, &["migrate", "--migrate", "--json"]);
    ok(&o);
    let v = json(&o);
    assert_eq!(actions(&v, "created").len(), declared, "{v}");
    assert_eq!(actions(&v, "recorded").len(), declared, "{v}");
    assert!(has_schema(&db));
    // The declared tables, the versions table and the sequence table.
    assert_eq!(user_tables(&db), declared + 2);
    let recorded: usize = db
        .scalar("SELECT count(*) FROM aragora_schema_versions")
        .parse()
        .unwrap();
    assert_eq!(recorded, declared);

    // Second run: nothing to do.
    let o = run(&db, &["migrate", "--migrate"]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("nothing to do"), "{text}");
    assert!(!text.contains("created table"), "{text}");

    let o = run(&db, &["migrate", "--status", "--json"]);
    ok(&o);
    let v = json(&o);
    let tables = v["results"][0]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), declared);
    assert!(tables.iter().all(|t| t["state"] == "current"), "{v}");

    // A table dropped since is created again, and only it.
    db.load("DROP TABLE token_blacklist;");
    let o = run(&db, &["migrate", "--migrate", "--json"]);
    ok(&o);
    let v = json(&o);
    assert_eq!(actions(&v, "created"), ["token_blacklist"], "{v}");
    assert!(actions(&v, "recorded").is_empty(), "{v}");
}

#[test]
fn migrate_dry_run_prints_the_sql_and_runs_nothing() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_dry");
    let o = run(&db, &["migrate", "--dry-run"]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("CREATE TABLE IF NOT EXISTS") && text.contains("pg_advisory_xact_lock"),
        "{text}"
    );
    assert!(!has_schema(&db), "a dry run created the schema");
    assert_eq!(user_tables(&db), 0);
    // The printed SQL is what migrate runs: loading it creates the schema.
    let sql: String = text
        .lines()
        .filter(|l| !l.starts_with("-- "))
        .collect::<Vec<_>>()
        .join("\n");
    db.load(&sql);
    let o = run(&db, &["migrate", "--migrate"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to do"));
}

#[test]
fn two_concurrent_migrates_create_everything_once() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_race");
    let declared = pgshape::all().len();
    let spawn = || {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::common::bin();
        c.args(["migrate", "--migrate", "--json"])
            .env("ARAGORA_DATA_DIR", dir.path())
            .env("ARAGORA_DB_BACKEND", "postgres")
            .env("ARAGORA_POSTGRES_DSN", url(&db))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        (dir, c.spawn().unwrap())
    };
    let (_d1, a) = spawn();
    let (_d2, b) = spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    ok(&a);
    ok(&b);
    let (va, vb) = (json(&a), json(&b));
    let mut created = actions(&va, "created");
    created.extend(actions(&vb, "created"));
    // Each table reported created exactly once, by one of the two.
    let n = created.len();
    created.sort();
    created.dedup();
    assert_eq!((n, created.len()), (declared, declared), "{va}\n{vb}");
    assert!(
        actions(&va, "created").is_empty() || actions(&vb, "created").is_empty(),
        "both created tables: {va}\n{vb}"
    );
    assert_eq!(user_tables(&db), declared + 2);
}

#[test]
fn status_is_read_only_and_reports_server_versions_and_rows() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_status");
    // No schema: said so, exit 1, and nothing is created.
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["verify"],
        &["dump", "users"],
    ] {
        let o = run(&db, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("no aragora-db schema") && err.contains("migrate --migrate"),
            "{args:?}: {err}"
        );
        assert!(!has_schema(&db), "{args:?} created the schema");
        assert_eq!(user_tables(&db), 0, "{args:?} created tables");
    }

    ok(&run(&db, &["migrate", "--migrate"]));
    db.load(
        "INSERT INTO token_blacklist (jti, expires_at, revoked_at) VALUES \
         ('a', now(), now()), ('b', now(), now());",
    );
    let o = run(&db, &["status", "--json"]);
    ok(&o);
    let v = json(&o);
    let pg = &v["postgres"];
    assert_eq!(pg["server"], url(&db), "{v}");
    assert_eq!(pg["dsn_source"], "ARAGORA_POSTGRES_DSN");
    assert_eq!(pg["schema"]["state"], "current", "{v}");
    let tables = pg["tables"].as_array().unwrap();
    assert_eq!(tables.len(), pgshape::all().len());
    let tb = tables
        .iter()
        .find(|t| t["table"] == "token_blacklist")
        .unwrap();
    assert_eq!(
        (tb["rows"].as_i64(), tb["schema_version"].as_i64()),
        (Some(2), Some(1))
    );
    // Every store is on PostgreSQL: no embedded file is listed.
    assert!(v["files"].as_array().unwrap().is_empty(), "{v}");

    let o = run(&db, &["status"]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("PostgreSQL {}", url(&db))), "{text}");
    assert!(text.contains("schema current"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("token_blacklist") && l.contains(" 2 rows")),
        "{text}"
    );

    // dump reads the table on the server (read-only snapshot).
    let o = run(
        &db,
        &["dump", "token_blacklist", "--where", "jti=b", "--json"],
    );
    ok(&o);
    let line = String::from_utf8_lossy(&o.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains(r#""jti":"b""#), "{line}");
    assert!(stderr(&o).contains(&url(&db)), "{}", stderr(&o));

    // A recorded version newer than this binary's: status says so, exit 1.
    db.load(
        "UPDATE aragora_schema_versions SET version = 99 WHERE table_name = 'token_blacklist';",
    );
    let o = run(&db, &["status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("newer"), "{}", stderr(&o));
}

#[test]
fn status_with_one_store_on_postgres_lists_the_other_files_too() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_mixed");
    ok(&run(&db, &["migrate", "--migrate"]));
    let dir = tempfile::tempdir().unwrap();
    let o = crate::common::cli_env(
        &["status", "--json"],
        &[
            ("ARAGORA_DATA_DIR", dir.path().to_str().unwrap()),
            ("ARAGORA_AUDIT_STORE_BACKEND", "postgres"),
            ("DATABASE_URL", &url(&db)),
        ],
    );
    ok(&o);
    let v = json(&o);
    assert_eq!(
        v["postgres"]["databases"],
        serde_json::json!(["audit"]),
        "{v}"
    );
    assert_eq!(v["postgres"]["dsn_source"], "DATABASE_URL");
    assert!(!v["files"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn verify_checks_tables_columns_and_validated_foreign_keys() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_verify");
    ok(&run(&db, &["migrate", "--migrate"]));
    let o = run(&db, &["verify", "--json"]);
    ok(&o);
    let v = json(&o);
    assert_eq!(v["problems"], 0, "{v}");
    let report = &v["files"][0];
    assert_eq!(report["path"], url(&db));
    assert_eq!(
        report["tables"].as_array().unwrap().len(),
        pgshape::all().len()
    );
    let o = run(&db, &["verify"]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("checked against pg_catalog, 0 problems"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // A foreign key re-added NOT VALID, a dropped column, a column of
    // another type, a missing table.
    let (child, fk) = pgshape::all()
        .into_iter()
        .find_map(|t| t.foreign_keys.first().map(|fk| (t, fk)))
        .unwrap();
    let cols: Vec<String> = fk
        .columns
        .iter()
        .map(|&i| format!("\"{}\"", child.columns[i].pg_name))
        .collect();
    let parent = pgshape::shape(fk.parent);
    let pk: Vec<String> = parent
        .primary_key
        .iter()
        .map(|&i| format!("\"{}\"", parent.columns[i].pg_name))
        .collect();
    db.load(&format!(
        "ALTER TABLE \"{t}\" DROP CONSTRAINT \"{c}\";\n\
         ALTER TABLE \"{t}\" ADD CONSTRAINT \"{c}\" FOREIGN KEY ({cols}) REFERENCES \"{p}\" ({pk}) NOT VALID;\n\
         ALTER TABLE token_blacklist DROP COLUMN revoked_at;\n\
         ALTER TABLE token_blacklist ALTER COLUMN jti TYPE varchar(40);\n\
         DROP TABLE share_links;\n\
         DROP INDEX idx_users_email;\n\
         CREATE INDEX idx_users_email ON users (email);\n\
         DROP INDEX idx_users_org;\n",
        t = child.name,
        c = fk.name,
        cols = cols.join(", "),
        p = parent.name,
        pk = pk.join(", "),
    ));
    let o = run(&db, &["verify", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let problems: Vec<String> = v["files"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} [{}]: {}", p["table"], p["key"], p["what"]))
        .collect();
    let has = |needle: &[&str]| {
        assert!(
            problems
                .iter()
                .any(|p| needle.iter().all(|n| p.contains(n))),
            "{needle:?} not in {problems:#?}"
        )
    };
    has(&[&child.name, &fk.name, "NOT VALID"]);
    // Re-added without its ON DELETE action, too.
    has(&[&child.name, &fk.name, "is ON DELETE NO ACTION, declared"]);
    has(&["token_blacklist", "revoked_at", "column missing"]);
    has(&[
        "token_blacklist",
        "jti",
        "character varying(40)",
        "declared text",
    ]);
    has(&["share_links", "table missing"]);
    // A UNIQUE index replaced by a plain one, an index dropped.
    has(&[
        "users",
        "UNIQUE index idx_users_email (email) missing: duplicate values are not refused",
    ]);
    has(&["users", "index idx_users_org (org_id) missing"]);
    assert_eq!(v["problems"], problems.len());
    assert!(stderr(&o).contains("verify found"), "{}", stderr(&o));

    // A foreign key dropped altogether.
    db.load(&format!(
        "ALTER TABLE \"{}\" DROP CONSTRAINT \"{}\";",
        child.name, fk.name
    ));
    let o = run(&db, &["verify"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains(&child.name) && l.contains("missing") && l.contains("foreign key")),
        "{text}"
    );
}

/// Runs `import` with every store on PostgreSQL at `db`, in an empty data
/// directory; returns the output and the directory (which must stay empty).
fn import_into(
    db: &TempDb,
    source: &std::path::Path,
    extra: &[&str],
) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["import", "--source", source.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = crate::common::cli_env(
        &args,
        &[
            ("ARAGORA_DATA_DIR", dir.path().to_str().unwrap()),
            ("ARAGORA_DB_BACKEND", "postgres"),
            ("ARAGORA_POSTGRES_DSN", &url(db)),
        ],
    );
    (o, dir)
}

/// A legacy users.db (with a row whose organization is gone, and a users
/// table of an older column order).
fn clean_source(dir: &std::path::Path) {
    let c = rusqlite::Connection::open(dir.join("users.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE organizations (id TEXT PRIMARY KEY, name TEXT NOT NULL, slug TEXT UNIQUE NOT NULL,
             tier TEXT, owner_id TEXT, created_at TEXT, updated_at TEXT);
         CREATE TABLE users (email TEXT UNIQUE NOT NULL, id TEXT PRIMARY KEY, password_hash TEXT,
             password_salt TEXT, name TEXT, org_id TEXT, role TEXT, created_at TEXT, updated_at TEXT);
         INSERT INTO organizations VALUES ('o1', 'One', 'one', 'free', 'a', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
         INSERT INTO users VALUES ('a@x', 'a', 'h', 's', 'A', 'o1', 'owner', '2024-01-01 00:00:00', '2024-01-02 00:00:00');
         INSERT INTO users VALUES ('b@x', 'b', 'h', 's', 'B', NULL, 'member', '2024-01-01 00:00:00', '2024-01-02 00:00:00');",
    )
    .unwrap();
}

#[test]
fn import_goes_straight_into_postgres_verified_and_idempotent() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_import");
    let src = tempfile::tempdir().unwrap();
    clean_source(src.path());
    let (o, dir) = import_into(&db, src.path(), &["--verify"]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("moved 3 row(s)"), "{text}");
    assert_eq!(
        db.scalar("SELECT string_agg(email, ',' ORDER BY id) FROM users"),
        "a@x,b@x"
    );
    assert_eq!(db.scalar("SELECT slug FROM organizations"), "one");
    // Nothing in the data directory: the staging store was temporary.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let (o, _dir) = import_into(&db, src.path(), &[]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("moved 0 row(s)"), "{text}");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "2");
    // A dry run checks and writes nothing: not even the schema.
    let empty = TempDb::new("cli_import_dry");
    let (o, _dir) = import_into(&empty, src.path(), &["--dry-run"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("checked 3 row(s)"));
    assert!(!has_schema(&empty), "a dry run created the schema");
}

#[test]
fn the_legacy_fixture_imports_into_postgres_with_every_row_accounted_for() {
    if !available() {
        return;
    }
    // The fixture holds values PostgreSQL's typed columns cannot take
    // (text in a timestamptz column, 64-bit counts in integer columns):
    // those rows become rejects, kept whole; unknown tables and undeclared
    // columns go to import_raw_rows and `_extra`; copies of a table in
    // several files are merged.
    let db = TempDb::new("cli_import_fixture");
    let fixture = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/legacy-nomic"
    ));
    let (o, dir) = import_into(&db, fixture, &["--verify", "--json"]);
    ok(&o);
    let v = json(&o);
    assert_eq!(v["verify"]["mismatch_count"], 0, "{}", v["verify"]);
    let rejected = v["verify"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rejected"].as_u64().unwrap())
        .sum::<u64>();
    assert!(rejected > 0);
    assert_eq!(
        db.scalar("SELECT count(*) FROM import_rejects"),
        rejected.to_string()
    );
    assert!(
        db.scalar(
            "SELECT count(*) FROM import_rejects WHERE reason LIKE 'PostgreSQL cannot hold it:%'"
        )
        .parse::<u64>()
        .unwrap()
            > 0
    );
    let moved: u64 = v["move"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["copied"].as_u64().unwrap())
        .sum();
    let verified: u64 = v["move"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["verified"].as_u64().unwrap())
        .sum();
    assert_eq!(moved, verified);
    assert!(
        v["move"]["copies"].as_array().unwrap().is_empty(),
        "{}",
        v["move"]
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "import wrote files"
    );
    // Again: nothing new.
    let (o, _dir) = import_into(&db, fixture, &["--json"]);
    ok(&o);
    let v = json(&o);
    let again: u64 = v["move"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["copied"].as_u64().unwrap())
        .sum();
    assert_eq!(again, 0);
}

const SECRET: &str = "Sup3rS3cretPw";

#[test]
fn a_password_never_appears_and_an_unreachable_server_fails_fast() {
    // No server needed: port 1 refuses at once.
    let dsn = format!("postgresql://aragora:{SECRET}@127.0.0.1:1/aragora");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["verify"],
        &["verify", "--json"],
        &["migrate", "--migrate"],
        &["migrate", "--status", "--json"],
        &["dump", "users"],
    ] {
        let t = Instant::now();
        let o = run_dsn(&dsn, args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains(SECRET), "{args:?} showed the password: {all}");
        if args[0] != "dump" {
            assert_eq!(o.status.code(), Some(1), "{args:?}: {all}");
            assert!(
                all.contains("postgresql://aragora:***@127.0.0.1:1/aragora"),
                "{args:?}: {all}"
            );
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
    let o = run_dsn(&dsn, &["paths"]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        text.contains("postgresql://aragora:***@127.0.0.1:1/aragora (from ARAGORA_POSTGRES_DSN)"),
        "{text}"
    );
    let o = run_dsn(&dsn, &["paths", "--json"]);
    ok(&o);
    let v = json(&o);
    assert!(!v.to_string().contains(SECRET));
    assert_eq!(
        v["postgres"]["server"],
        "postgresql://aragora:***@127.0.0.1:1/aragora"
    );
    assert!(
        v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["backend"] == "postgres"),
        "{v}"
    );
}

#[test]
fn bad_backend_configuration_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    /// The variables set, and what the error must name.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[("ARAGORA_DB_BACKEND", "mongo")],
            &["ARAGORA_DB_BACKEND", "mongo"],
        ),
        (
            &[("ARAGORA_POLICY_STORE_BACKEND", "supabase")],
            &["ARAGORA_POLICY_STORE_BACKEND", "postgres"],
        ),
        (
            &[("ARAGORA_DB_BACKEND", "postgres")],
            &["ARAGORA_POSTGRES_DSN", "DATABASE_URL", "none is set"],
        ),
        (
            &[
                ("ARAGORA_DB_BACKEND", "postgres"),
                (
                    "ARAGORA_POSTGRES_DSN",
                    "postgresql://u:Sup3rS3cretPw@h:notaport/db",
                ),
            ],
            &["ARAGORA_POSTGRES_DSN"],
        ),
        (
            &[
                ("ARAGORA_DB_BACKEND", "postgres"),
                ("DATABASE_URL", "mysql://u:Sup3rS3cretPw@h/db"),
            ],
            &["DATABASE_URL"],
        ),
    ];
    for (env, want) in cases {
        for cmd in [
            &["status"][..],
            &["migrate", "--migrate"],
            &["verify"],
            &["paths"],
        ] {
            let mut e = vec![("ARAGORA_DATA_DIR", d)];
            e.extend_from_slice(env);
            let o = crate::common::cli_env(cmd, &e);
            assert_eq!(o.status.code(), Some(1), "{env:?} {cmd:?}: {}", stderr(&o));
            let err = stderr(&o);
            for w in *want {
                assert!(err.contains(w), "{env:?} {cmd:?}: {w} not in {err}");
            }
            assert!(!err.contains(SECRET), "{err}");
        }
    }
    // A bad flag is still a usage error (2), whatever the backend.
    let o = crate::common::cli_env(
        &["migrate", "--nonsense"],
        &[("ARAGORA_DB_BACKEND", "postgres")],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_server_that_does_not_answer_is_given_up_on_in_the_connect_timeout() {
    // A listener that accepts and never speaks: the connect timeout (2 s
    // here) bounds the whole connection set-up.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let dsn = format!("postgresql://u:{SECRET}@127.0.0.1:{port}/db?connect_timeout=2");
    let t = Instant::now();
    let o = run_dsn(&dsn, &["status"]);
    let took = t.elapsed();
    drop(l);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {err}");
}

/// The configuration the binary builds from these variables, in-process.
fn pg_config(dir: &std::path::Path, vars: &[(&str, &str)]) -> aragora_db::config::Config {
    let mut map: std::collections::BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.insert("ARAGORA_DATA_DIR".into(), dir.to_str().unwrap().into());
    aragora_db::config::Config::from_lookup(|k| map.get(k).cloned()).unwrap()
}

#[test]
fn file_commands_refuse_or_name_the_stores_on_postgres() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_files_only");
    let all = [
        ("ARAGORA_DB_BACKEND", "postgres"),
        ("ARAGORA_POSTGRES_DSN", &url(&db) as &str),
    ];
    let dir = tempfile::tempdir().unwrap();
    let env = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
        let mut v = vec![(
            "ARAGORA_DATA_DIR".to_string(),
            dir.path().to_str().unwrap().to_string(),
        )];
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
        v
    };
    let run_with = |args: &[&str], vars: &[(String, String)]| {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        crate::common::cli_env(args, &vars)
    };
    // Every store on PostgreSQL: refused, nothing done, the way named.
    for (args, instead) in [
        (vec!["backup"], "pg_dump"),
        (vec!["consolidate", "--dry-run"], "one database already"),
        (vec!["export", "--format", "postgres"], "pg_dump"),
        (vec!["restore", "/nonexistent"], "pg_restore"),
    ] {
        let o = run_with(&args, &env(&all));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("every store is on PostgreSQL") && err.contains(instead),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a refused command wrote files"
    );
    // Only the audit store there: the backup covers the files and says what it leaves out.
    let mixed = [
        ("ARAGORA_AUDIT_STORE_BACKEND", "postgres"),
        ("ARAGORA_POSTGRES_DSN", &url(&db) as &str),
    ];
    let cfg = pg_config(dir.path(), &mixed);
    drop(
        aragora_db::Database::open(
            &cfg,
            aragora_db::config::DbTarget::Store(aragora_db::config::Store::Users),
        )
        .unwrap(),
    );
    let o = run_with(&["backup"], &env(&mixed));
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("backup covers the embedded files only; 1 on PostgreSQL")
            && err.contains("(audit)"),
        "{err}"
    );
}

#[test]
fn cleanup_applies_retention_on_postgres() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_cleanup");
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("ARAGORA_DB_BACKEND", "postgres"),
        ("ARAGORA_POSTGRES_DSN", &url(&db) as &str),
    ];
    let cfg = pg_config(dir.path(), &vars).with_clock(aragora_db::time::Clock::manual());
    let tokens = aragora_db::store::TokenBlacklist::open(&cfg).unwrap();
    tokens
        .db()
        .clock()
        .at(900.0, || tokens.revoke("old", 1_000.0))
        .unwrap();
    tokens
        .db()
        .clock()
        .at(900.0, || tokens.revoke("live", 4_000_000_000.0))
        .unwrap();
    drop(tokens);
    let run = |args: &[&str]| {
        crate::common::cli_env(
            args,
            &[
                ("ARAGORA_DATA_DIR", dir.path().to_str().unwrap()),
                ("ARAGORA_DB_BACKEND", "postgres"),
                ("ARAGORA_POSTGRES_DSN", &url(&db)),
            ],
        )
    };
    let o = run(&["--json", "cleanup", "--dry-run"]);
    ok(&o);
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(said.contains("token_blacklist"), "{said}");
    assert_eq!(db.scalar("SELECT count(*) FROM token_blacklist"), "2");
    let o = run(&["cleanup"]);
    ok(&o);
    assert_eq!(
        db.scalar("SELECT string_agg(jti, ',') FROM token_blacklist"),
        "live"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "cleanup wrote files"
    );
}

/// `--staging DIR` puts the staging store there (and removes it); a
/// missing directory, or `--staging` for an embedded import, is refused
/// before anything is written.
#[test]
fn import_stages_where_told() {
    if !available() {
        return;
    }
    let db = TempDb::new("cli_import_staging");
    let src = tempfile::tempdir().unwrap();
    clean_source(src.path());
    let staging = tempfile::tempdir().unwrap();
    let s = staging.path().to_str().unwrap();
    let (o, _dir) = import_into(&db, src.path(), &["--staging", s]);
    ok(&o);
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "2");
    assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);

    let other = TempDb::new("cli_import_staging_missing");
    let missing = staging.path().join("nope");
    let (o, _dir) = import_into(
        &other,
        src.path(),
        &["--staging", missing.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--staging") && err.contains("nope"), "{err}");
    assert_eq!(
        other.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'users'"),
        "0"
    );

    let data = tempfile::tempdir().unwrap();
    let o = crate::common::cli_env(
        &[
            "import",
            "--source",
            src.path().to_str().unwrap(),
            "--staging",
            s,
        ],
        &[("ARAGORA_DATA_DIR", data.path().to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only for an import into PostgreSQL"));
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
}

/// A staging directory the importing user cannot write is a clear error
/// naming it, and nothing reaches PostgreSQL. Run as the unprivileged user
/// 65534 (root ignores permission bits); skipped when not root or without
/// `setpriv`.
#[test]
fn import_with_an_unwritable_staging_directory_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    if !available() {
        return;
    }
    let root_uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if root_uid.ok() != Some(0) || !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("not root or no setpriv: skipped");
        return;
    }
    let db = TempDb::new("cli_import_staging_ro");
    let top = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(top.path(), 0o755);
    let src = top.path().join("nomic");
    std::fs::create_dir(&src).unwrap();
    clean_source(&src);
    mode(&src.join("users.db"), 0o644);
    let staging = top.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    mode(&staging, 0o555);
    let data = top.path().join("data");
    std::fs::create_dir(&data).unwrap();
    mode(&data, 0o777);
    let mut cmd = std::process::Command::new("/usr/bin/setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    cmd.arg(crate::common::bin().get_program());
    for k in crate::common::CLI_VARS {
        cmd.env_remove(k);
    }
    cmd.env("ARAGORA_DATA_DIR", &data)
        .env("ARAGORA_DB_BACKEND", "postgres")
        .env("ARAGORA_POSTGRES_DSN", url(&db))
        .args(["import", "--source", src.to_str().unwrap()])
        .args(["--staging", staging.to_str().unwrap()]);
    let o = cmd.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(staging.to_str().unwrap()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let users = db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'users'");
    if users == "1" {
        assert_eq!(db.scalar("SELECT count(*) FROM users"), "0");
    }
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}
