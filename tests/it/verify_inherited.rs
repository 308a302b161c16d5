//! References the original leaves dangling (archived consensus rows keep
//! their dissents, pruned memories keep their transitions) come across as
//! they are, and `verify` reports them as inherited warnings, exiting 0;
//! a dangling reference that was not recorded at import still fails it.

use crate::common::cli_env;
use crate::misuse::describe;

fn sample() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy-nomic")
}

fn verify_json(d: &str, extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut args = vec!["--data-dir", d, "verify", "--json"];
    args.extend_from_slice(extra);
    let o = cli_env(&args, &[]);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("verify --json: {e}: {}", describe(&o)));
    (o, v)
}

#[test]
fn inherited_dangling_references_are_warnings_and_new_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    let d = d.to_str().unwrap();
    let o = cli_env(&["--data-dir", d, "import", "--source", sample()], &[]);
    assert!(o.status.success(), "{}", describe(&o));

    let (o, v) = verify_json(d, &[]);
    assert!(
        o.status.success(),
        "verify after a clean import: {}",
        describe(&o)
    );
    assert_eq!(v["problems"], 0, "{v}");
    let inherited: u64 = v["inherited"].as_u64().unwrap_or(0);
    assert!(inherited > 0, "the sample holds dangling references: {v}");
    // The text output names them as warnings, with counts.
    let o = cli_env(&["--data-dir", d, "verify"], &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("inherited"), "{text}");
    // --show-inherited lists each one.
    let o = cli_env(&["--data-dir", d, "verify", "--show-inherited"], &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let listed = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("has no row in"))
        .count() as u64;
    assert_eq!(listed, inherited, "{}", describe(&o));

    // Forget the record of one: it is now a dangling reference nobody
    // accounted for, and verify fails on it.
    let consensus = std::fs::read_dir(dir.path().join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let Ok(db) = redb::ReadOnlyDatabase::open(p) else {
                return false;
            };
            let r = redb::ReadableDatabase::begin_read(&db).unwrap();
            let t = r.open_table(INHERITED);
            t.is_ok_and(|t| redb::ReadableTableMetadata::len(&t).unwrap() > 0)
        })
        .expect("a file with inherited references");
    {
        let db = redb::Database::open(&consensus).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(INHERITED).unwrap();
            let first = redb::ReadableTable::first(&t)
                .unwrap()
                .unwrap()
                .0
                .value()
                .to_vec();
            t.remove(first.as_slice()).unwrap();
        }
        w.commit().unwrap();
    }
    let (o, v) = verify_json(d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert_eq!(v["problems"], 1, "{v}");
    assert_eq!(v["inherited"].as_u64(), Some(inherited - 1), "{v}");
}

const INHERITED: redb::TableDefinition<&[u8], &[u8]> =
    redb::TableDefinition::new("__inherited_refs");

#[test]
fn consolidate_moves_the_record_with_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    let d = d.to_str().unwrap();
    let o = cli_env(&["--data-dir", d, "import", "--source", sample()], &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let (_, before) = verify_json(d, &[]);
    let o = cli_env(
        &["--data-dir", d, "consolidate", "--migrate", "--no-backup"],
        &[],
    );
    assert!(o.status.success(), "{}", describe(&o));
    let o = cli_env(
        &[
            "--mode",
            "consolidated",
            "--data-dir",
            d,
            "verify",
            "--json",
        ],
        &[],
    );
    assert!(
        o.status.success(),
        "verify after consolidate: {}",
        describe(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["problems"], 0, "{v}");
    assert_eq!(v["inherited"], before["inherited"], "{v}");
}
