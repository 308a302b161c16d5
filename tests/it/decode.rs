//! The one-pass row decode (`Row::decode_fast`) agrees with the decode
//! through a `RowView` (`Row::decode_view`) on every row: the same row when
//! both accept it, and it refuses (so that the view decode names the
//! problem) exactly the rows the view decode refuses.

use aragora_db::schema::users::{USERS, User};
use aragora_db::table::codec::{Extras, encode_values};
use aragora_db::table::{Row, Value};
use proptest::prelude::*;

/// Values of every shape the decoder reads differently: one-byte and
/// longer varints, short and long (≥ 128 bytes) text, non-ASCII text.
fn candidates() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Integer(0),
        Value::Integer(1),
        Value::Integer(-70),
        Value::Integer(i64::MAX),
        Value::Text(String::new()),
        Value::Text("member".into()),
        Value::Text("é ✓".into()),
        Value::Text("x".repeat(200)),
        Value::Real(1.5),
        Value::Blob(vec![0, 255]),
    ]
}

fn both(bytes: &[u8]) -> (Option<User>, aragora_db::Result<User>) {
    (User::decode_fast(bytes), User::decode_view(b"k", bytes))
}

fn agree(bytes: &[u8]) {
    match both(bytes) {
        (Some(fast), Ok(view)) => assert_eq!(fast, view),
        (None, Err(_)) => {}
        (fast, view) => panic!("decodes disagree: {fast:?} / {view:?}"),
    }
}

proptest! {
    /// Rows of any column count (fewer than declared: defaults; more:
    /// ignored), each column a fitting value or, sometimes, one that does
    /// not fit; with or without extras; then one byte damaged with the
    /// checksum fixed, so the body decoder meets malformed input.
    #[test]
    fn one_pass_decode_agrees_with_the_view_decode(
        len in prop_oneof![3 => Just(USERS.columns.len()), 1 => 0..USERS.columns.len() + 5],
        picks in proptest::collection::vec((0usize..64, 0u8..100), 34),
        with_extras in any::<bool>(),
        damage in proptest::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let pool = candidates();
        let values: Vec<Value> = picks[..len]
            .iter()
            .enumerate()
            .map(|(i, &(pick, misfit))| {
                let fits: Vec<&Value> = match USERS.columns.get(i) {
                    Some(col) if misfit != 0 => {
                        pool.iter().filter(|v| (col.accepts)(v.as_ref())).collect()
                    }
                    _ => pool.iter().collect(),
                };
                fits[pick % fits.len()].clone()
            })
            .collect();
        let mut extras = Extras::new();
        if with_extras {
            extras.insert("legacy".into(), Value::Text("old".into()));
        }
        let mut bytes = encode_values(&values, &extras);
        agree(&bytes);
        if len == USERS.columns.len() && picks[..len].iter().all(|p| p.1 != 0) {
            prop_assert!(both(&bytes).0.is_some(), "a sound row was refused");
        }
        if let Some((at, x)) = damage {
            let n = bytes.len() - 4;
            bytes[at.index(n)] ^= x;
            agree(&bytes);
            let crc = crc32fast::hash(&bytes[..n]);
            bytes[n..].copy_from_slice(&crc.to_le_bytes());
            agree(&bytes);
        }
    }
}

/// A row the typed decode refuses is still a `Corrupt` error naming the
/// column, read through the view decode.
#[test]
fn a_misfit_column_is_corrupt_naming_the_column() {
    let mut values: Vec<Value> = (0..USERS.columns.len()).map(|_| Value::Null).collect();
    values[0] = Value::Text("u".into());
    values[1] = Value::Integer(5); // email must be TEXT
    let bytes = encode_values(&values, &Extras::new());
    assert!(User::decode_fast(&bytes).is_none());
    match User::decode(b"k", &bytes) {
        Err(aragora_db::Error::Corrupt { table, what, .. }) => {
            assert_eq!(table, "users");
            assert!(what.contains("column email"), "{what}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
