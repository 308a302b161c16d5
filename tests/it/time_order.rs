//! Index order is time order (src/table/keys.rs, "Timestamps in
//! indexes"): an index column declared `Timestamp` is keyed by the instant
//! its text stands for, whatever shape the original wrote it in, then by
//! the text; NULL first, then text that is no time.
//!
//! * Through a store, on both backends (`store_…`: the PostgreSQL run of
//!   the store suite runs it there, where a timestamp kept as text is
//!   ordered by `aragora_time_key_v1`).
//! * PostgreSQL's function and the embedded keys order the same corpus of
//!   awkward spellings the same way.
//! * A file of layout 1 (timestamps keyed as plain text) reads in time
//!   order after its open upgrades it: in memory for a read-only open,
//!   which leaves every byte of the file as it was; in the file, in one
//!   transaction, for a read-write open; `verify` checks it as layout 1
//!   until then, and `consolidate` derives its time indexes again in the
//!   file it moves them to.

use crate::common::{data_dir, store_dir};
use crate::export_pg::{TempDb, available};
use aragora_db::Database;
use aragora_db::config::{DatabaseType, DbTarget};
use aragora_db::schema::genesis::{GENESIS_EVENTS, GenesisEvent};
use aragora_db::store::genesis::GenesisLedger;
use aragora_db::table::keys::{self, encode_time_into};
use aragora_db::table::layout::{self, LAYOUT, LAYOUT_KEY, raw_def};
use aragora_db::table::{KeyRange, Page, Read, Value, ValueRef};
use redb::{ReadableDatabase, ReadableTable};
use std::ops::Bound;
use std::path::Path;

/// Timestamps as the original wrote them, oldest first (ties by text);
/// each a distinct event.
const OLDEST_FIRST: &[&str] = &[
    "2026-01-05T00:00:00+01:00",
    "2026-01-04 23:59:59",
    "2026-01-05",
    "2026-01-05 00:00:00",
    "2026-01-05T00:00:00",
    "2026-01-05T09:30:00.250000+00:00",
    "1767607200",
    "2026-01-05T12:00:00+02:00",
    "2026-01-05T10:00:00.5",
    "2026-01-06 00:00:00",
];

fn event(id: usize, ts: &str) -> GenesisEvent {
    GenesisEvent {
        event_id: format!("e{id:02}"),
        event_type: "tick".into(),
        timestamp: ts.into(),
        content_hash: format!("h{id}"),
        ..Default::default()
    }
}

fn ledger_with(db: &Database, stamps: &[&str]) {
    db.write(|w| {
        // Inserted newest first, so that neither insertion order nor id
        // order is the time order.
        for (i, ts) in stamps.iter().enumerate().rev() {
            w.insert(&event(stamps.len() - i, ts))?;
        }
        Ok(())
    })
    .unwrap();
}

fn stamps(events: &[GenesisEvent]) -> Vec<&str> {
    events.iter().map(|e| e.timestamp.as_str()).collect()
}

#[test]
fn store_index_order_is_time_order_whatever_the_shape() {
    let (_dir, cfg) = store_dir();
    let db = Database::open(&cfg, DbTarget::Type(DatabaseType::Genesis)).unwrap();
    // Text that is no time sorts before every time (PostgreSQL keeps it
    // too: the column is text there).
    let mut stored: Vec<&str> = OLDEST_FIRST.to_vec();
    stored.push("soon");
    ledger_with(&db, &stored);
    let ledger = GenesisLedger::from_db(db.clone());

    let mut want: Vec<&str> = vec!["soon"];
    want.extend_from_slice(OLDEST_FIRST);
    let all = ledger.events(None, Page::default()).unwrap();
    assert_eq!(stamps(&all), want, "the whole index, oldest first");

    let newest = ledger.events(None, Page::first(3).reversed()).unwrap();
    assert_eq!(
        stamps(&newest),
        [
            "2026-01-06 00:00:00",
            "2026-01-05T10:00:00.5",
            "2026-01-05T12:00:00+02:00"
        ],
        "the newest three, read from the end of the index"
    );

    // A range bound compares instants too: the 5th of January (UTC),
    // however each row spells it, and only times (not "soon").
    let day: Vec<GenesisEvent> = db
        .read()
        .unwrap()
        .scan_index(
            GenesisEvent::idx_genesis_events_timestamp,
            KeyRange::between(
                Bound::Included("2026-01-05T00:00:00Z"),
                Bound::Excluded("2026-01-06"),
            ),
            Page::default(),
        )
        .unwrap();
    // Every stamp of the 5th (UTC): all but the first two and the last.
    assert_eq!(
        stamps(&day),
        OLDEST_FIRST[2..OLDEST_FIRST.len() - 1],
        "rows of one day in any shape: a bound compares instants, not spellings"
    );
    // An exact key still finds exactly its text.
    let one: Vec<GenesisEvent> = db
        .read()
        .unwrap()
        .find(
            GenesisEvent::idx_genesis_events_timestamp,
            "2026-01-05",
            Page::default(),
        )
        .unwrap();
    assert_eq!(stamps(&one), ["2026-01-05"]);
}

/// Awkward spellings: what `crate::time::parse` reads and what it does not.
const CORPUS: &[&str] = &[
    "2026-01-05 10:00:00",
    "2026-01-05T10:00:00",
    "2026-01-05t10:00:00Z",
    "2026-01-05 10:00:00Z",
    "2026-01-05T10:00:00z",
    "2026-01-05T10:00:00.000001",
    "2026-01-05T10:00:00.1+00:00",
    "2026-01-05T11:00:00+01:00",
    "2026-01-05T04:30:00-05:30",
    "2026-01-05",
    " 2026-01-05 ",
    "1767607200",
    "1767607200.5",
    "+1767607200",
    "1.7676072e9",
    ".5",
    "-86400",
    "0",
    "1e13",
    "1e14",
    "inf",
    "NaN",
    "2026-02-30",
    "2026-13-01 00:00:00",
    "2026-01-05T25:00:00",
    "2026-1-5",
    "2026-1-5 1:2:3",
    "2026-01-05T1:02:03.5+00:00",
    "2026-01-05t10:00:00",
    "2026-01-05 10:00:00 +00:00",
    "2026-01-05T10:00:00+0100",
    "2026-01-05T10:00:00.123456789",
    "20260105",
    "yesterday",
    "",
    "2026-01-05T10:00",
    "Mon, 05 Jan 2026 10:00:00 GMT",
];

/// PostgreSQL's `aragora_time_key_v1` orders the corpus exactly as the
/// embedded keys do.
#[test]
fn postgres_time_key_orders_as_the_embedded_keys() {
    if !available() {
        assert!(!crate::common::ci(), "CI needs PostgreSQL");
        eprintln!("SKIPPED: no PostgreSQL");
        return;
    }
    let db = TempDb::new("timekey");
    db.load(&aragora_db::pg::schema::time_key_function());
    let mut lits = Vec::new();
    for t in CORPUS {
        let mut l = String::new();
        aragora_db::export::inserts::literal_into(&mut l, t);
        lits.push(l);
    }
    let got: Vec<String> = db
        .rows(&format!(
            "SELECT t FROM unnest(ARRAY[{}]::text[]) AS t ORDER BY aragora_time_key_v1(t) COLLATE \"C\"",
            lits.join(", ")
        ))
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    let mut want: Vec<&str> = CORPUS.to_vec();
    want.sort_by_key(|t| {
        let mut k = Vec::new();
        encode_time_into(&mut k, ValueRef::Text(t));
        k
    });
    assert_eq!(got, want);
}

/// Rewrites every `Timestamp` index of the ledger as layout 1 keyed them
/// (plain text), and the marker to 1: the file an earlier binary wrote.
fn downgrade_to_layout_1(path: &Path) {
    let def = &GENESIS_EVENTS;
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(raw_def(def.name)).unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = t
            .range(&[0u8][..]..&[1u8][..])
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.value().to_vec(), v.value().to_vec())
            })
            .collect();
        for idx in def.indexes.iter().filter(|i| layout::has_time_key(def, i)) {
            let space = [idx.space];
            let end = [idx.space + 1];
            let old: Vec<Vec<u8>> = t
                .range(&space[..]..&end[..])
                .unwrap()
                .map(|e| e.unwrap().0.value().to_vec())
                .collect();
            assert!(!old.is_empty());
            for k in old {
                t.remove(k.as_slice()).unwrap();
            }
            for (k, bytes) in &rows {
                let pk = &k[1..];
                let (values, _) = def.decode_values(pk, bytes).unwrap();
                let vals: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
                let entry = layout::index_key_in(1, def, idx, &vals, pk).unwrap();
                t.insert(entry.as_slice(), &*layout::entry_value(idx, pk, bytes))
                    .unwrap();
            }
        }
        let mut marker = txn.open_table(LAYOUT).unwrap();
        marker.insert(LAYOUT_KEY, 1).unwrap();
    }
    txn.commit().unwrap();
}

fn recorded_layout(path: &Path) -> u64 {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    layout::recorded_layout(&txn).unwrap()
}

/// The text of the first entry of the ledger's timestamp index, as stored.
fn first_entry_is_time_keyed(path: &Path) -> bool {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(raw_def(GENESIS_EVENTS.name)).unwrap();
    let idx = GenesisEvent::idx_genesis_events_timestamp.def();
    let space = [idx.space];
    let (k, _) = t.range(&space[..]..).unwrap().next().unwrap().unwrap();
    keys::is_time_tag(k.value()[1])
}

fn verify(path: &Path, cfg: &aragora_db::config::Config) -> aragora_db::ops::verify::FileReport {
    let tables = aragora_db::schema::tables_in_file(cfg, path).unwrap();
    aragora_db::ops::verify::verify_file(path, &tables, std::time::Duration::from_secs(5), None)
        .unwrap()
}

#[test]
fn a_layout_1_file_is_upgraded_on_open_and_read_in_time_order() {
    let (_dir, cfg) = data_dir();
    let target = DbTarget::Type(DatabaseType::Genesis);
    let path = cfg.get_db_path(target).unwrap().path;
    {
        let db = Database::open(&cfg, target).unwrap();
        ledger_with(&db, OLDEST_FIRST);
    }
    downgrade_to_layout_1(&path);
    assert_eq!(recorded_layout(&path), 1);
    assert!(!first_entry_is_time_keyed(&path));
    let before = std::fs::read(&path).unwrap();

    // verify checks it as layout 1: no problem, a note.
    let report = verify(&path, &cfg);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report.notes.iter().any(|n| n.contains("storage layout 1")),
        "{:?}",
        report.notes
    );

    // consolidate moves the table's raw entries and derives its time
    // index again in the consolidated file (a copy of the legacy dir).
    let legacy = tempfile::tempdir().unwrap();
    std::fs::copy(&path, legacy.path().join(path.file_name().unwrap())).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (src, dst) =
        aragora_db::ops::consolidate::sides_from(&cfg, legacy.path(), out.path(), false);
    aragora_db::ops::consolidate::migrate(&src, &dst, true).unwrap();
    {
        let db = Database::open_target_read_only(&dst, target).unwrap();
        let all = GenesisLedger::from_db(db)
            .events(None, Page::default())
            .unwrap();
        assert_eq!(stamps(&all), OLDEST_FIRST, "the consolidated file");
    }
    let moved = dst.get_db_path(target).unwrap().path;
    assert_eq!(recorded_layout(&moved), layout::LAYOUT_VERSION);
    assert!(first_entry_is_time_keyed(&moved));
    let report = verify(&moved, &dst);
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Read-only: time order, and the file is left as it was.
    {
        let ro = Database::open_target_read_only(&cfg, target).unwrap();
        let all = GenesisLedger::from_db(ro)
            .events(None, Page::default())
            .unwrap();
        assert_eq!(stamps(&all), OLDEST_FIRST);
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a read-only open wrote"
    );

    // Read-write: upgraded in the file.
    {
        let db = Database::open(&cfg, target).unwrap();
        let all = GenesisLedger::from_db(db)
            .events(None, Page::default())
            .unwrap();
        assert_eq!(stamps(&all), OLDEST_FIRST);
    }
    assert_eq!(recorded_layout(&path), layout::LAYOUT_VERSION);
    assert!(first_entry_is_time_keyed(&path));
    let report = verify(&path, &cfg);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

fn audit_event(ts: &str) -> aragora_db::store::audit::AuditEvent {
    aragora_db::store::audit::AuditEvent {
        action: "login".into(),
        user_id: Some("u".into()),
        timestamp: Some(ts.into()),
        ..Default::default()
    }
}

/// Retention compares instants, whatever shape each row's time is in,
/// and (on the embedded store, where such text can be stored) keeps a
/// row whose time it cannot read instead of deleting it as "early".
#[test]
fn store_audit_retention_compares_instants_and_keeps_undated_rows() {
    let (_dir, cfg) = store_dir();
    let log = aragora_db::store::audit::AuditLog::open(&cfg).unwrap();
    let mut stamps = vec![
        "2026-01-02 23:59:59",       // before the cutoff
        "2026-01-02T23:00:00-02:00", // 2026-01-03 01:00 UTC: after
        "2026-01-03",                // the cutoff itself: kept
    ];
    // PostgreSQL keeps this table's times as timestamptz, which holds
    // neither epoch text nor text that is no time.
    if crate::common::test_backend_is_postgres() {
        stamps.push("2026-01-01T00:00:00Z");
    } else {
        stamps.push("1767225600"); // 2026-01-01: before
        stamps.push("someday");
    }
    for ts in &stamps {
        log.log_event(audit_event(ts)).unwrap();
    }
    let cutoff = "2026-01-03T00:00:00+00:00";
    let counted = {
        let db = Database::open(&cfg, DbTarget::Store(aragora_db::config::Store::Users)).unwrap();
        db.read()
            .unwrap()
            .count_index(
                aragora_db::schema::users::AuditEntry::idx_audit_timestamp,
                aragora_db::store::audit::AuditLog::before(cutoff),
            )
            .unwrap()
    };
    assert_eq!(counted, 2, "what a dry run counts");
    assert_eq!(log.delete_before(cutoff).unwrap(), 2);
    let left: Vec<String> = log
        .query(&aragora_db::store::audit::AuditQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.timestamp)
        .collect();
    assert_eq!(left.len(), stamps.len() - 2, "{left:?}");
    if !crate::common::test_backend_is_postgres() {
        assert!(left.iter().any(|t| t == "someday"), "{left:?}");
    }
}
