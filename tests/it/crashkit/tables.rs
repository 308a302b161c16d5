//! The tables of the crash workload: two of our own (accounts with a unique
//! and a non-unique index, ledger entries with a foreign key), a table
//! declared twice for the migration step with the step that migrates it,
//! and the schema's `traces` / `trace_events` for cascades.

use aragora_db::config::{DbTarget, Store};
use aragora_db::ops::migrate::Step;
use aragora_db::schema::core::{TRACE_EVENTS, TRACES};
use aragora_db::table::Read;
use aragora_db::table::{KeyRange, Page, TableDef, Writer};
use aragora_db::{Result, table};

const OWNER: DbTarget = DbTarget::Store(Store::Users);

table! {
    /// An account: transfers move `balance`, renames move `name`.
    pub struct Account as ACCOUNTS {
        name: "crash_accounts",
        owner: OWNER,
        version: 1,
        columns: {
            id: i64 => Integer,
            name: String => Text,
            balance: i64 => Integer,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique idx_crash_accounts_name (name),
            index idx_crash_accounts_balance (balance),
        },
        foreign_keys: {},
    }
}

table! {
    /// A ledger entry of an account; deleting the account cascades.
    pub struct Entry as ENTRIES {
        name: "crash_entries",
        owner: OWNER,
        version: 1,
        columns: {
            id: i64 => Integer,
            account_id: i64 => Integer,
            amount: i64 => Integer,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_crash_entries_account (account_id),
        },
        // Declared, and checked on insert; but ON DELETE actions only reach
        // tables in schema::ALL_TABLES (see the report in RELIABILITY.md), so
        // the Delete step removes entries itself and tests cascades on
        // `traces` -> `trace_events`.
        foreign_keys: {
            (account_id) -> Account: Cascade,
        },
    }
}

table! {
    /// A note before the migration step.
    pub struct NoteV1 as NOTES_V1 {
        name: "crash_notes",
        owner: OWNER,
        version: 1,
        columns: {
            id: i64 => Integer,
            body: String => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// A note after the migration step: an added column, filled by
    /// [`NOTE_STEPS`].
    pub struct Note as NOTES {
        name: "crash_notes",
        owner: OWNER,
        version: 2,
        columns: {
            id: i64 => Integer,
            body: String => Text,
            words: Option<i64> => Integer,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

/// The table set before the migration step.
pub fn tables_v1() -> Vec<&'static TableDef> {
    vec![&ACCOUNTS, &ENTRIES, &NOTES_V1, &TRACES, &TRACE_EVENTS]
}

/// The table set after it (the checker always opens with this one).
pub fn tables_v2() -> Vec<&'static TableDef> {
    vec![&ACCOUNTS, &ENTRIES, &NOTES, &TRACES, &TRACE_EVENTS]
}

/// The workload's migration, registered as `crate::migrations::STEPS` are
/// and run by `ops::migrate::migrate_db` (the code path of `aragora-db
/// migrate`): `crash_notes` v1 -> v2 fills the added column `words`, in one
/// write transaction together with the version bump.
pub static NOTE_STEPS: &[Step] = &[Step {
    id: 1,
    name: "001_crash_notes_words",
    table: "crash_notes",
    to: 2,
    apply: count_words,
}];

/// Step 001: `words` = the number of words in `body`, for every note.
fn count_words(w: &mut Writer<'_>, _def: &'static TableDef) -> Result<u64> {
    let notes: Vec<Note> = w.scan(KeyRange::all(), Page::default())?;
    for n in &notes {
        w.update(&Note {
            words: Some(n.body.split_whitespace().count() as i64),
            ..n.clone()
        })?;
    }
    Ok(notes.len() as u64)
}
