//! Property test: random values of any storage class in columns of every
//! declared type (arbitrary strings incl. U+0000 and controls, arbitrary
//! bytes, every f64 class), with random undeclared columns, survive
//! export → psql → comparison, in COPY and INSERT mode. Cases:
//! `PROPTEST_CASES` (default 24; each case loads one script).

use crate::export::TEXTS;
use crate::export_pg::{TempDb, available, compare};
use aragora_db::config::{DbTarget, Store};
use aragora_db::export::{self, MemRows, MemTable, Options};
use aragora_db::table::{Extras, Value};
use proptest::prelude::*;

aragora_db::table! {
    /// One column of each declared type, each holding any value.
    pub struct AnyRow as ANY_VALUES {
        name: "prop_any_values",
        owner: DbTarget::Store(Store::Users),
        version: 1,
        columns: {
            id: i64 => Integer,
            t: Option<Value> => Text,
            i: Option<Value> => Integer,
            r: Option<Value> => Real,
            bl: Option<Value> => Blob,
            bo: Option<Value> => Bool,
            js: Option<Value> => Json,
            ts: Option<Value> => Timestamp,
            ep: Option<Value> => Epoch,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Integer),
        prop_oneof![Just(0i64), Just(1)].prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Real),
        prop_oneof![
            Just(-0.0f64),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(5e-324)
        ]
        .prop_map(Value::Real),
        any::<String>().prop_map(Value::Text),
        "[\\x00-\\x7f]{0,12}".prop_map(Value::Text),
        proptest::sample::select(TEXTS).prop_map(|s| Value::Text(s.to_string())),
        proptest::sample::select(
            &[
                "2026-01-05T10:00:00.123456+00:00",
                "2026-01-05 10:00:00",
                "1999-12-31T23:59:59Z",
                "{\"a\": [1, 2.5e3, null], \"b\": \"\\u00e9\"}",
                "[]",
                "12345678901234567890123",
            ][..]
        )
        .prop_map(|s| Value::Text(s.to_string())),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Blob),
    ]
}

fn rows() -> impl Strategy<Value = Vec<(Vec<Value>, Extras)>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any_value(), 8),
            proptest::collection::btree_map(any::<String>(), any_value(), 0..3),
        ),
        1..8,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (vals, extras))| {
                let mut v = vec![Value::Integer(i as i64)];
                v.extend(vals);
                (v, extras)
            })
            .collect()
    })
}

#[test]
fn random_values_survive_export_and_load() {
    if !available() {
        return;
    }
    let db = TempDb::new("prop");
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&(rows(), any::<bool>()), |(rows, inserts)| {
            db.load("DROP SCHEMA public CASCADE; CREATE SCHEMA public;\n");
            let mem = MemRows::new(vec![MemTable {
                def: &ANY_VALUES,
                rows,
            }]);
            let mut out = Vec::new();
            export::write_postgres(
                &mut out,
                &mem,
                &Options {
                    inserts,
                    ..Default::default()
                },
            )
            .unwrap();
            let sql = String::from_utf8(out).unwrap();
            crate::export::assert_no_meta_commands(&sql);
            db.load(&sql);
            compare(&db, &mem);
            Ok(())
        })
        .unwrap();
}
