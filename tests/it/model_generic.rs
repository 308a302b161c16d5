//! Model-based property test of every declared table, through the untyped
//! write API, with crash points.
//!
//! Why: the hand-written model test (`model.rs`) covers three tables of
//! one file. Constraints are enforced by generic code driven by each
//! table's declaration, so the model here is generic too: for every
//! database file (each target's file in legacy mode with all the tables
//! it holds, then the consolidated files whose table sets differ) it
//! derives everything from the declarations — the columns, their types
//! and nullability, the primary key, UNIQUE indexes, foreign keys with
//! their ON DELETE action, AUTOINCREMENT — and nothing lists a table,
//! column or index by name.
//!
//! The rules are SQLite's as the store documents them (`table::api`):
//! each operation checks everything before it writes (a row may reference
//! itself: the key it names is its own), RESTRICT is checked before any
//! cascade and ignores a row's reference to itself; NULLs are distinct in UNIQUE indexes; a foreign key
//! with a NULL column is not checked, nor one an update leaves unchanged.
//!
//! Each case is a random sequence of write transactions. Their operations
//! go through [`Writer`]'s untyped surface (`insert_values`,
//! `update_values`, `delete_raw`, `get_values`, `next_id_for`,
//! `raise_sequence_to`, `set_foreign_keys` as the importer uses it, and
//! through [`Read`] counts and range scans of the primary key and of every
//! index, with pages), with values from small domains so duplicate keys,
//! UNIQUE collisions, dangling references, NULLs in NOT NULL columns and
//! values of the wrong type happen often. A
//! transaction keeps going after a failed operation (which must leave it
//! as it was) and ends by committing (durably or not) or by aborting.
//! The in-memory reference model applies the same rules and predicts every
//! result: which operations succeed, which error each failure gives, rows
//! read back, counts and AUTOINCREMENT ids, and the transaction's end (a
//! cascade that fails halfway poisons the transaction; no declared schema
//! lets that happen today, the model keeps the rule). After every
//! transaction the rows of every table of the file equal the model's, the
//! row counts match, each index lists exactly the rows the model says in
//! its key order, the transaction's reads give the same on a snapshot, and
//! `check_table` finds nothing but the references left dangling while
//! foreign keys were off (exactly those).
//!
//! Crash points, as redb's fuzzer does with its reference model: each case
//! also crashes the same run, in one of two ways, and reopens what is left
//! (after redb's integrity check, with `check_table` on every table):
//!
//! * a recorded run (the fault backend's journal), rebuilt just before a
//!   few random journaled writes, syncs and `set_len`s into crash images
//!   (a seeded subset of the unsynced writes landed, some torn), some of
//!   them crashed again during their own recovery;
//! * a second run whose backend fails at a random write (once, or from then
//!   on, like a dead disk), stopped at the first I/O error, then imaged as
//!   the process died (every issued write landed) and as the power went
//!   (a subset did).
//!
//! The reopened file must hold exactly the model's state after some prefix
//! of the committed transactions: at least every transaction whose durable
//! commit returned `Ok` before the crash, at most those plus the one whose
//! commit was in flight (non-durable commits may be lost, but only from
//! the end). A transaction is never partly there. The recovered file must
//! then take one more transaction exactly as the model says (counters and
//! sequences survived).
//!
//! A failing case reports the file, the concrete operations of every
//! transaction and the first divergence; proptest shrinks it first.
//! `ARAGORA_MODEL_CASES` sets the cases per file (default 12; half as many
//! for a file without foreign keys, up to 3.5 times as many for one with
//! several: about 15 s in a debug build); raise it for long runs, e.g.
//! `ARAGORA_MODEL_CASES=200 cargo test --release --test it -- model_generic`.

use crate::crashkit::{crash_during_recovery, crash_options};
use aragora_db::config::{Config, DatabaseMode, DbTarget};
use aragora_db::db::{Durability, OpenOptions};
use aragora_db::schema::{ALL_TABLES, tables_in_file};
use aragora_db::storage::fault::{CrashOptions, FailMode, FaultBackend, OpMask, SplitMix};
use aragora_db::storage::fault::{JournalOp, memory_backend};
use aragora_db::table::check::{Dangling, Problem, check_table};
use aragora_db::table::{ColumnDef, Extras, IndexDef, KeyRange, OnDelete, Page, Read};
use aragora_db::table::{Edge, RowSource, TableDef, Value, Writer};
use aragora_db::table::{keys, layout};
use aragora_db::{Database, Error};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use redb::backends::InMemoryBackend;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

/// What the runs exercised, printed at the end (a model test that never
/// sees a cascade proves little about cascades).
static SEEN: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn seen(what: impl Into<String>) {
    *SEEN.lock().unwrap().entry(what.into()).or_default() += 1;
}

// ----- value domains -------------------------------------------------------

const INTS: [i64; 5] = [-1, 0, 1, 2, 3];
const REALS: [f64; 4] = [0.0, 0.5, 1.5, -2.25];
/// Text, and times whose text order is not their time order (an index on
/// a `Timestamp` column orders them by instant: src/table/keys.rs).
const TEXTS: [&str; 8] = [
    "",
    "a",
    "b",
    "c",
    "a\0",
    "2026-01-05T11:00:00+02:00",
    "2026-01-05 10:00:00",
    "1767607200",
];
const BLOBS: [&[u8]; 3] = [b"", b"\0", b"ab"];

fn domain() -> Vec<Value> {
    let mut out: Vec<Value> = INTS.iter().map(|&i| Value::Integer(i)).collect();
    out.extend(REALS.iter().map(|&f| Value::Real(f)));
    out.extend(TEXTS.iter().map(|&s| Value::Text(s.into())));
    out.extend(BLOBS.iter().map(|&b| Value::Blob(b.to_vec())));
    out
}

/// The storage class SQLite gives a declared type (for columns whose Rust
/// type takes any value).
fn native(col: &ColumnDef, v: &Value) -> bool {
    use aragora_db::table::SqlType::*;
    match col.sql {
        Text | Json | Timestamp => matches!(v, Value::Text(_)),
        Integer | Bool => matches!(v, Value::Integer(_)),
        Real | Epoch => matches!(v, Value::Real(_)),
        Blob => matches!(v, Value::Blob(_)),
    }
}

/// The values of the domain a column accepts, and those it refuses.
fn column_domain(col: &ColumnDef) -> (Vec<Value>, Vec<Value>) {
    let (mut ok, bad): (Vec<Value>, Vec<Value>) = domain()
        .into_iter()
        .partition(|v| (col.accepts)(v.as_ref()));
    if bad.is_empty() {
        ok.retain(|v| native(col, v));
    }
    (ok, bad)
}

fn pick<'a, T>(rng: &mut SplitMix, xs: &'a [T]) -> &'a T {
    &xs[rng.below(xs.len() as u64) as usize]
}

// ----- the file under test ---------------------------------------------------

/// One database file with its tables, and what the declarations say about
/// them.
struct File {
    name: String,
    tables: Vec<&'static TableDef>,
    /// For each table, the foreign keys referencing it: (child table, fk).
    children: Vec<Vec<(usize, usize)>>,
    /// For each table, its foreign keys' parent tables.
    parents: Vec<Vec<usize>>,
    /// For each table and column: accepted and refused domain values.
    domains: Vec<Vec<(Vec<Value>, Vec<Value>)>>,
}

impl File {
    fn new(name: String, tables: Vec<&'static TableDef>) -> File {
        let pos = |name: &str| {
            tables
                .iter()
                .position(|t| t.name == name)
                .unwrap_or_else(|| panic!("parent {name} is not in the file"))
        };
        let mut children = vec![Vec::new(); tables.len()];
        let mut parents = vec![Vec::new(); tables.len()];
        for (c, def) in tables.iter().enumerate() {
            for (f, fk) in def.foreign_keys.iter().enumerate() {
                let p = pos((fk.parent)().name);
                children[p].push((c, f));
                parents[c].push(p);
            }
        }
        let domains = tables
            .iter()
            .map(|d| d.columns.iter().map(column_domain).collect())
            .collect();
        File {
            name,
            tables,
            children,
            parents,
            domains,
        }
    }
}

/// Every database file, in both modes (legacy: one per target, with the
/// tables other targets' code also creates there; consolidated: four merged
/// files and the stores), each with every table it holds. A table set seen
/// already is not tested again.
fn files() -> Vec<File> {
    let dir = "/nonexistent-model-dir";
    let mut out: Vec<File> = Vec::new();
    for mode in [DatabaseMode::Legacy, DatabaseMode::Consolidated] {
        let mut cfg = Config::for_dir(dir);
        cfg.mode = mode;
        for target in DbTarget::all() {
            let path = cfg.get_db_path(target).unwrap().path;
            let tables = tables_in_file(&cfg, &path).unwrap();
            let same = |f: &File| {
                f.tables.len() == tables.len()
                    && f.tables.iter().zip(&tables).all(|(a, b)| a.name == b.name)
            };
            if tables.is_empty() || out.iter().any(same) {
                continue;
            }
            let name = path.strip_prefix(dir).unwrap_or(&path).display();
            out.push(File::new(format!("{name} ({mode:?})"), tables));
        }
    }
    for def in ALL_TABLES {
        assert!(
            out.iter()
                .any(|f| f.tables.iter().any(|t| t.name == def.name)),
            "table {} is in no file",
            def.name
        );
    }
    out
}

// ----- operations ------------------------------------------------------------

/// One operation of a transaction, concrete.
#[derive(Debug, Clone)]
enum Op {
    Insert(usize, Vec<Value>, Extras),
    /// Insert with the primary key from `next_id_for` (AUTOINCREMENT).
    InsertNext(usize, Vec<Value>, Extras),
    Update(usize, Vec<Value>, Extras),
    Delete(usize, Vec<u8>),
    Get(usize, Vec<u8>),
    Count(usize),
    /// A range scan of the rows (index `None`) or of an index, a page of it,
    /// and the count of the range.
    Scan(usize, Option<usize>, Bound, Bound, Page),
    RaiseSeq(usize, i64),
    /// Foreign-key checks and actions on or off for the rest of the
    /// transaction (what the importer does).
    ForeignKeys(bool),
}

/// One end of a scan's range: leading key columns, and whether the end
/// includes keys that start with them.
#[derive(Debug, Clone)]
enum Bound {
    Unbounded,
    /// Start: at or after; end: before.
    Before(Vec<Value>),
    /// Start: after; end: at or before.
    After(Vec<Value>),
}

impl Bound {
    fn edge(&self) -> Edge {
        let enc = |v: &[Value]| keys::encode(v.iter().map(Value::as_ref));
        match self {
            Bound::Unbounded => Edge::Unbounded,
            Bound::Before(v) => Edge::Before(enc(v)),
            Bound::After(v) => Edge::After(enc(v)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Abort,
    Commit(bool),
}

#[derive(Debug, Clone)]
struct Txn {
    ops: Vec<Op>,
    end: End,
}

fn show_op(f: &File, op: &Op) -> String {
    let name = |t: &usize| f.tables[*t].name;
    let vals = |v: &[Value], e: &Extras| {
        let mut s = v
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if !e.is_empty() {
            write!(s, " extras {e:?}").unwrap();
        }
        s
    };
    match op {
        Op::Insert(t, v, e) => format!("insert {} ({})", name(t), vals(v, e)),
        Op::InsertNext(t, v, e) => format!("insert {} next id ({})", name(t), vals(v, e)),
        Op::Update(t, v, e) => format!("update {} ({})", name(t), vals(v, e)),
        Op::Delete(t, pk) => format!("delete {} {}", name(t), keys::render(pk)),
        Op::Get(t, pk) => format!("get {} {}", name(t), keys::render(pk)),
        Op::Count(t) => format!("count {}", name(t)),
        Op::Scan(t, idx, lo, hi, page) => format!(
            "scan {} by {} from {lo:?} to {hi:?}, {page:?}",
            name(t),
            idx.map_or("primary key", |i| f.tables[*t].indexes[i].name)
        ),
        Op::RaiseSeq(t, id) => format!("raise sequence of {} to {id}", name(t)),
        Op::ForeignKeys(on) => format!("foreign keys {}", if *on { "on" } else { "off" }),
    }
}

fn show_txns(f: &File, txns: &[Txn]) -> String {
    let mut s = String::new();
    for (i, t) in txns.iter().enumerate() {
        writeln!(s, "  txn {i} ({:?}):", t.end).unwrap();
        for op in &t.ops {
            writeln!(s, "    {}", show_op(f, op)).unwrap();
        }
    }
    s
}

/// What a case is made of, before it meets a state: proptest generates and
/// shrinks these; [`Model::concrete`] turns each into an [`Op`].
#[derive(Debug, Clone)]
struct OpSpec {
    kind: u8,
    table: u16,
    seed: u64,
}

#[derive(Debug, Clone)]
struct CaseSpec {
    /// The table most operations are about (with its parents and children).
    focus: u16,
    txns: Vec<(Vec<OpSpec>, u8)>,
    /// Fail a second run at an I/O error instead of imaging the recorded one.
    fail: bool,
    once: bool,
    /// Where (per mille of the run's writes, or of its journal).
    at: u16,
    seed: u64,
}

fn case_spec() -> impl Strategy<Value = CaseSpec> {
    let op = (0u8..100, any::<u16>(), any::<u64>()).prop_map(|(kind, table, seed)| OpSpec {
        kind,
        table,
        seed,
    });
    let txn = (proptest::collection::vec(op, 1..10), 0u8..8);
    (
        any::<u16>(),
        proptest::collection::vec(txn, 1..10),
        any::<bool>(),
        any::<bool>(),
        0u16..1000,
        any::<u64>(),
    )
        .prop_map(|(focus, txns, fail, once, at, seed)| CaseSpec {
            focus,
            txns,
            fail,
            once,
            at,
            seed,
        })
}

// ----- the reference model ---------------------------------------------------

type Rows = BTreeMap<Vec<u8>, (Vec<Value>, Extras)>;

/// Every table's rows (by encoded primary key) and AUTOINCREMENT sequence.
#[derive(Debug, Clone, PartialEq)]
struct State {
    rows: Vec<Rows>,
    seq: Vec<i64>,
}

impl State {
    fn empty(n: usize) -> State {
        State {
            rows: vec![BTreeMap::new(); n],
            seq: vec![0; n],
        }
    }
}

fn encode_cols(cols: &[usize], vals: &[Value]) -> Vec<u8> {
    keys::encode(cols.iter().map(|&c| vals[c].as_ref()))
}

/// A row's key in a unique index: none when a column is NULL.
fn unique_key(idx: &IndexDef, vals: &[Value]) -> Option<Vec<u8>> {
    if idx.columns.iter().any(|&c| vals[c].is_null()) {
        return None;
    }
    Some(encode_cols(idx.columns, vals))
}

/// A row's index columns as the index orders them: a `Timestamp` column
/// by its instant first (src/table/keys.rs, "Timestamps in indexes").
fn index_cols(def: &TableDef, idx: &IndexDef, vals: &[Value]) -> Vec<u8> {
    let mut k = Vec::new();
    for &c in idx.columns {
        if def.columns[c].sql == aragora_db::table::SqlType::Timestamp {
            keys::encode_time_into(&mut k, vals[c].as_ref());
        } else {
            keys::encode_into(&mut k, vals[c].as_ref());
        }
    }
    k
}

/// The primary keys an index lists, in its key order.
fn index_order(def: &TableDef, idx: &IndexDef, rows: &Rows) -> Vec<Vec<u8>> {
    let mut keyed: Vec<(Vec<u8>, Vec<u8>)> = rows
        .iter()
        .filter_map(|(pk, (vals, _))| {
            if idx.unique {
                unique_key(idx, vals).map(|_| (index_cols(def, idx, vals), pk.clone()))
            } else {
                let mut k = index_cols(def, idx, vals);
                k.extend_from_slice(pk);
                Some((k, pk.clone()))
            }
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, pk)| pk).collect()
}

/// What a transaction carries from one operation to the next.
struct Cx {
    /// The table of the operation that failed halfway.
    poisoned: Option<&'static str>,
    /// Foreign-key checks and actions are on.
    fk: bool,
}

impl Cx {
    fn new() -> Cx {
        Cx {
            poisoned: None,
            fk: true,
        }
    }
}

struct Model<'f> {
    f: &'f File,
}

/// What the model predicts for a transaction: each operation's result
/// (`None`: not predicted) and the end.
type Prediction = (Vec<Option<String>>, String);

/// An operation's failure in the model: the error, and whether the store
/// had written something before it (which poisons the transaction).
type Fail = (String, bool);

impl Model<'_> {
    fn def(&self, t: usize) -> &'static TableDef {
        self.f.tables[t]
    }

    fn random_row(&self, t: usize, rng: &mut SplitMix) -> Vec<Value> {
        let def = self.def(t);
        def.columns
            .iter()
            .enumerate()
            .map(|(c, col)| {
                let ok = &self.f.domains[t][c].0;
                if col.nullable && rng.chance(0.25) || ok.is_empty() {
                    Value::Null
                } else {
                    pick(rng, ok).clone()
                }
            })
            .collect()
    }

    /// Points most foreign keys of a row at existing parent rows (as an
    /// application does), so that deletes have children to reach.
    fn link(&self, s: &State, t: usize, row: &mut [Value], rng: &mut SplitMix) {
        for (fk, &p) in self.def(t).foreign_keys.iter().zip(&self.f.parents[t]) {
            let parents = &s.rows[p];
            if parents.is_empty() || !rng.chance(0.7) {
                continue;
            }
            let (prow, _) = parents
                .values()
                .nth(rng.below(parents.len() as u64) as usize)
                .unwrap();
            for (&c, &pc) in fk.columns.iter().zip(self.def(p).primary_key) {
                row[c] = prow[pc].clone();
            }
        }
    }

    /// Sometimes breaks a row: a NULL where NOT NULL, a value of the wrong
    /// type, or the wrong number of values.
    fn maybe_break(&self, t: usize, row: &mut Vec<Value>, rng: &mut SplitMix, lengths: bool) {
        if !rng.chance(0.1) {
            return;
        }
        let c = rng.below(row.len() as u64) as usize;
        match rng.below(if lengths { 3 } else { 2 }) {
            0 if !self.def(t).columns[c].nullable => row[c] = Value::Null,
            1 if !self.f.domains[t][c].1.is_empty() => {
                row[c] = pick(rng, &self.f.domains[t][c].1).clone()
            }
            2 => {
                row.pop();
            }
            _ => {}
        }
    }

    fn extras(rng: &mut SplitMix) -> Extras {
        let mut e = Extras::new();
        if rng.chance(0.15) {
            e.insert("model_extra_column".into(), pick(rng, &domain()).clone());
        }
        e
    }

    fn some_pk(&self, s: &State, t: usize, rng: &mut SplitMix) -> Vec<u8> {
        let rows = &s.rows[t];
        if !rows.is_empty() && rng.chance(0.8) {
            return rows
                .keys()
                .nth(rng.below(rows.len() as u64) as usize)
                .unwrap()
                .clone();
        }
        let row = self.random_row(t, rng);
        encode_cols(self.def(t).primary_key, &row)
    }

    fn table_of(&self, focus: u16, spec: &OpSpec) -> usize {
        let n = self.f.tables.len();
        let focus = focus as usize % n;
        let mut near = vec![focus];
        near.extend(self.f.parents[focus].iter().copied());
        near.extend(self.f.children[focus].iter().map(|&(c, _)| c));
        if spec.kind.is_multiple_of(5) {
            spec.table as usize % n
        } else {
            near[spec.table as usize % near.len()]
        }
    }

    /// Turns a generated operation into a concrete one against state `s`.
    fn concrete(&self, s: &State, focus: u16, spec: &OpSpec) -> Op {
        let t = self.table_of(focus, spec);
        let def = self.def(t);
        let rng = &mut SplitMix(spec.seed);
        let auto = def.autoincrement;
        match spec.kind {
            0..40 => {
                let mut row = self.random_row(t, rng);
                self.link(s, t, &mut row, rng);
                if auto && rng.chance(0.4) {
                    self.maybe_break(t, &mut row, rng, false);
                    Op::InsertNext(t, row, Self::extras(rng))
                } else {
                    self.maybe_break(t, &mut row, rng, true);
                    Op::Insert(t, row, Self::extras(rng))
                }
            }
            40..60 => {
                let pk = self.some_pk(s, t, rng);
                let mut fresh = self.random_row(t, rng);
                self.link(s, t, &mut fresh, rng);
                let mut row = match s.rows[t].get(&pk) {
                    // Change some columns of an existing row, keep the rest.
                    Some((old, _)) => old
                        .iter()
                        .zip(fresh)
                        .enumerate()
                        .map(|(c, (o, n))| {
                            if def.primary_key.contains(&c) || rng.chance(0.5) {
                                o.clone()
                            } else {
                                n
                            }
                        })
                        .collect(),
                    None => fresh,
                };
                self.maybe_break(t, &mut row, rng, true);
                Op::Update(t, row, Self::extras(rng))
            }
            60..80 => {
                // Often a row that other rows reference: the ON DELETE paths.
                let referenced: Vec<&Vec<u8>> = s.rows[t]
                    .keys()
                    .filter(|pk| {
                        self.f.children[t]
                            .iter()
                            .any(|&(c, f)| !self.referencing(s, c, f, pk).is_empty())
                    })
                    .collect();
                if !referenced.is_empty() && rng.chance(0.6) {
                    Op::Delete(t, (*pick(rng, &referenced)).clone())
                } else {
                    Op::Delete(t, self.some_pk(s, t, rng))
                }
            }
            80..86 => Op::Get(t, self.some_pk(s, t, rng)),
            86..95 => {
                let n = def.indexes.len() as u64;
                let idx = rng.below(n + 1).checked_sub(1).map(|i| i as usize);
                let cols = idx.map_or(def.primary_key, |i| def.indexes[i].columns);
                let mut bound = || {
                    let k = 1 + rng.below(cols.len() as u64) as usize;
                    let row = self.random_row(t, rng);
                    let vals = cols[..k].iter().map(|&c| row[c].clone()).collect();
                    match rng.below(4) {
                        0 | 1 => Bound::Unbounded,
                        2 => Bound::Before(vals),
                        _ => Bound::After(vals),
                    }
                };
                let (lo, hi) = (bound(), bound());
                let page = Page {
                    offset: rng.below(4).saturating_sub(2) as usize,
                    limit: rng.chance(0.5).then(|| 1 + rng.below(3) as usize),
                    reverse: rng.chance(0.5),
                };
                Op::Scan(t, idx, lo, hi, page)
            }
            95..98 if auto => Op::RaiseSeq(t, s.seq[t] + rng.below(3) as i64 - 1),
            98..100 => Op::ForeignKeys(rng.chance(0.25)),
            _ => Op::Count(t),
        }
    }

    fn check_row(&self, t: usize, vals: &[Value]) -> Result<(), String> {
        let def = self.def(t);
        if vals.len() != def.columns.len() {
            return Err("Invalid".into());
        }
        for (col, v) in def.columns.iter().zip(vals) {
            if v.is_null() {
                if !col.nullable {
                    return Err(format!("NotNull {}.{}", def.name, col.name));
                }
            } else if !(col.accepts)(v.as_ref()) {
                return Err(format!("Type {}.{}", def.name, col.name));
            }
        }
        Ok(())
    }

    fn check_parents(
        &self,
        s: &State,
        t: usize,
        vals: &[Value],
        old: Option<&[Value]>,
    ) -> Result<(), String> {
        let def = self.def(t);
        for (fk, &p) in def.foreign_keys.iter().zip(&self.f.parents[t]) {
            if fk.columns.iter().any(|&c| vals[c].is_null()) {
                continue;
            }
            if old.is_some_and(|old| fk.columns.iter().all(|&c| old[c] == vals[c])) {
                continue;
            }
            let key = encode_cols(fk.columns, vals);
            // A row may reference itself (SQLite checks once it is written).
            let itself = p == t && key == encode_cols(def.primary_key, vals);
            if !itself && !s.rows[p].contains_key(&key) {
                return Err(format!(
                    "ForeignKey {}.{} -> {}",
                    def.name,
                    def.column_list(fk.columns),
                    self.def(p).name
                ));
            }
        }
        Ok(())
    }

    fn unique_error(&self, t: usize, cols: &[usize]) -> String {
        let def = self.def(t);
        format!("Unique {}({})", def.name, def.column_list(cols))
    }

    fn insert(
        &self,
        s: &mut State,
        t: usize,
        vals: &[Value],
        extras: &Extras,
        fk: bool,
    ) -> Result<(), String> {
        let def = self.def(t);
        self.check_row(t, vals)?;
        let pk = encode_cols(def.primary_key, vals);
        if s.rows[t].contains_key(&pk) {
            return Err(self.unique_error(t, def.primary_key));
        }
        for idx in def.indexes.iter().filter(|i| i.unique) {
            if let Some(k) = unique_key(idx, vals)
                && s.rows[t]
                    .values()
                    .any(|(r, _)| unique_key(idx, r) == Some(k.clone()))
            {
                return Err(self.unique_error(t, idx.columns));
            }
        }
        if fk {
            self.check_parents(s, t, vals, None)?;
        }
        s.rows[t].insert(pk, (vals.to_vec(), extras.clone()));
        if def.autoincrement
            && let Value::Integer(id) = vals[def.primary_key[0]]
        {
            s.seq[t] = s.seq[t].max(id);
        }
        Ok(())
    }

    fn update(
        &self,
        s: &mut State,
        t: usize,
        vals: &[Value],
        extras: &Extras,
        fk: bool,
    ) -> Result<(), String> {
        let def = self.def(t);
        self.check_row(t, vals)?;
        let pk = encode_cols(def.primary_key, vals);
        let Some((old, _)) = s.rows[t].get(&pk).cloned() else {
            return Err(format!("NotFound {}", def.name));
        };
        for idx in def.indexes.iter().filter(|i| i.unique) {
            let new = unique_key(idx, vals);
            if new.is_some()
                && new != unique_key(idx, &old)
                && s.rows[t].values().any(|(r, _)| unique_key(idx, r) == new)
            {
                return Err(self.unique_error(t, idx.columns));
            }
        }
        if fk {
            self.check_parents(s, t, vals, Some(&old))?;
        }
        s.rows[t].insert(pk, (vals.to_vec(), extras.clone()));
        Ok(())
    }

    /// Rows of table `c` whose foreign key `f` names the parent key `pk`.
    fn referencing(&self, s: &State, c: usize, f: usize, pk: &[u8]) -> Vec<Vec<u8>> {
        let fk = &self.def(c).foreign_keys[f];
        s.rows[c]
            .iter()
            .filter(|(_, (v, _))| {
                fk.columns.iter().all(|&i| !v[i].is_null()) && encode_cols(fk.columns, v) == pk
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// SQLite's ON DELETE: RESTRICT refuses while a row references the
    /// parent, CASCADE deletes the referencing rows (recursively), SET NULL
    /// clears their foreign-key columns.
    /// With foreign keys off, nothing is refused, cascaded or cleared.
    fn delete(
        &self,
        s: &mut State,
        t: usize,
        pk: &[u8],
        depth: usize,
        fk_on: bool,
    ) -> Result<bool, Fail> {
        let def = self.def(t);
        if depth > 64 {
            return Err(("Invalid".into(), true));
        }
        if !s.rows[t].contains_key(pk) {
            return Ok(false);
        }
        let children: &[(usize, usize)] = if fk_on { &self.f.children[t] } else { &[] };
        for &(c, f) in children {
            let fk = &self.def(c).foreign_keys[f];
            let mut referencing = self.referencing(s, c, f, pk);
            if c == t {
                // The row's reference to itself goes with it.
                referencing.retain(|k| k.as_slice() != pk);
            }
            if fk.on_delete == OnDelete::Restrict && !referencing.is_empty() {
                let e = format!(
                    "Referenced {} by {}.{}",
                    def.name,
                    self.def(c).name,
                    self.def(c).column_list(fk.columns)
                );
                return Err((e, depth > 0));
            }
        }
        s.rows[t].remove(pk);
        for &(c, f) in children {
            let child = self.def(c);
            let fk = &child.foreign_keys[f];
            for cpk in self.referencing(s, c, f, pk) {
                match fk.on_delete {
                    OnDelete::Cascade => {
                        seen("model: cascaded delete");
                        self.delete(s, c, &cpk, depth + 1, fk_on)
                            .map_err(|(e, _)| (e, true))?;
                    }
                    OnDelete::SetNull => {
                        if let Some(&col) = fk.columns.iter().find(|&&i| !child.columns[i].nullable)
                        {
                            let e = format!("NotNull {}.{}", child.name, child.columns[col].name);
                            return Err((e, true));
                        }
                        seen("model: set null");
                        let row = s.rows[c].get_mut(&cpk).unwrap();
                        for &i in fk.columns {
                            row.0[i] = Value::Null;
                        }
                    }
                    OnDelete::Restrict => {}
                }
            }
        }
        Ok(true)
    }

    /// A scan: the entries of the primary key or index in key order (an
    /// index entry's key is its columns, then the primary key unless
    /// unique), those whose leading columns lie in the range, then the page.
    fn scan(
        &self,
        s: &State,
        t: usize,
        idx: Option<usize>,
        lo: &Bound,
        hi: &Bound,
        page: Page,
    ) -> String {
        let rows = &s.rows[t];
        let order = match idx {
            None => rows.keys().cloned().collect(),
            Some(i) => index_order(self.def(t), &self.def(t).indexes[i], rows),
        };
        let key = |pk: &Vec<u8>| match idx {
            None => pk.clone(),
            Some(i) => {
                let idx = &self.def(t).indexes[i];
                let mut k = index_cols(self.def(t), idx, &rows[pk].0);
                if !idx.unique {
                    k.extend_from_slice(pk);
                }
                k
            }
        };
        // A bound on an index is in the index's form; one that ends with
        // a time compares its instant alone, unless the range is one key
        // (src/table/layout.rs, `bound`).
        let (lo, hi) = (lo.edge(), hi.edge());
        let exact = matches!((&lo, &hi), (Edge::Before(a), Edge::After(b)) if a == b);
        let form = |p: Vec<u8>| match idx {
            None => p,
            Some(i) => layout::bound(self.def(t), &self.def(t).indexes[i], &p, exact),
        };
        let (lo, hi) = (
            match lo {
                Edge::Before(p) => Edge::Before(form(p)),
                Edge::After(p) => Edge::After(form(p)),
                e => e,
            },
            match hi {
                Edge::Before(p) => Edge::Before(form(p)),
                Edge::After(p) => Edge::After(form(p)),
                e => e,
            },
        );
        let starts = |k: &[u8], p: &[u8]| k.starts_with(p);
        let inside: Vec<&Vec<u8>> = order
            .iter()
            .filter(|pk| {
                let k = key(pk);
                let after_lo = match &lo {
                    Edge::Before(p) => k >= *p,
                    Edge::After(p) => k > *p && !starts(&k, p),
                    _ => true,
                };
                let before_hi = match &hi {
                    Edge::Before(p) => k < *p,
                    Edge::After(p) => k < *p || starts(&k, p),
                    _ => true,
                };
                after_lo && before_hi
            })
            .collect();
        let count = inside.len();
        let mut paged = inside;
        if page.reverse {
            paged.reverse();
        }
        let rows: Vec<(String, &Vec<Value>)> = paged
            .into_iter()
            .skip(page.offset)
            .take(page.limit.unwrap_or(usize::MAX))
            .map(|pk| (keys::render(pk), &rows[pk].0))
            .collect();
        format!("scan {rows:?} of {count}")
    }

    /// Applies one operation; `None` where the result is not predicted (a
    /// read of a poisoned transaction's half-done state).
    fn apply(&self, s: &mut State, cx: &mut Cx, op: &Op) -> Option<String> {
        let show = |r: Result<(), String>| r.map_or_else(|e| e, |()| "ok".into());
        if let Op::ForeignKeys(on) = op {
            cx.fk = *on;
            return Some("ok".into());
        }
        let fk = cx.fk;
        if let Some(p) = cx.poisoned {
            return match op {
                Op::Insert(..) | Op::Update(..) | Op::Delete(..) | Op::RaiseSeq(..) => {
                    Some(format!("Poisoned {p}"))
                }
                _ => None,
            };
        }
        Some(match op {
            Op::Insert(t, v, e) => show(self.insert(s, *t, v, e, fk)),
            Op::InsertNext(t, v, e) => {
                let id = s.seq[*t] + 1;
                let mut v = v.clone();
                v[self.def(*t).primary_key[0]] = Value::Integer(id);
                format!("id {id}: {}", show(self.insert(s, *t, &v, e, fk)))
            }
            Op::Update(t, v, e) => show(self.update(s, *t, v, e, fk)),
            Op::Delete(t, pk) => match self.delete(s, *t, pk, 0, fk) {
                Ok(b) => format!("deleted {b}"),
                Err((e, wrote)) => {
                    if wrote {
                        cx.poisoned = Some(self.def(*t).name);
                    }
                    e
                }
            },
            Op::Get(t, pk) => format!("{:?}", s.rows[*t].get(pk)),
            Op::Count(t) => format!("count {}", s.rows[*t].len()),
            Op::Scan(t, idx, lo, hi, page) => self.scan(s, *t, *idx, lo, hi, *page),
            Op::RaiseSeq(t, id) => {
                s.seq[*t] = s.seq[*t].max(*id);
                "ok".into()
            }
            Op::ForeignKeys(_) => unreachable!("handled above"),
        })
    }

    /// Runs a transaction on `s`: the expected result of each operation and
    /// of its end; `s` becomes the state after it.
    fn run(&self, s: &mut State, txn: &Txn) -> Prediction {
        let mut work = s.clone();
        let mut cx = Cx::new();
        let outs = txn
            .ops
            .iter()
            .map(|op| self.apply(&mut work, &mut cx, op))
            .collect();
        let end = match (txn.end, cx.poisoned) {
            (End::Abort, _) => "aborted".to_string(),
            (End::Commit(_), Some(p)) => format!("Poisoned {p}"),
            (End::Commit(_), None) => {
                *s = work;
                "committed".to_string()
            }
        };
        (outs, end)
    }
}

// ----- the store ---------------------------------------------------------------

fn error_kind(e: &Error) -> String {
    match e {
        Error::Unique { table, columns, .. } => format!("Unique {table}({columns})"),
        Error::NotNull { table, column } => format!("NotNull {table}.{column}"),
        Error::ForeignKey {
            table,
            column,
            parent,
            ..
        } => format!("ForeignKey {table}.{column} -> {parent}"),
        Error::Referenced {
            parent,
            table,
            column,
            ..
        } => format!("Referenced {parent} by {table}.{column}"),
        Error::Type { table, column, .. } => format!("Type {table}.{column}"),
        Error::NotFound { table, .. } => format!("NotFound {table}"),
        Error::Poisoned { table } => format!("Poisoned {table}"),
        Error::InvalidArgument(_) => "Invalid".into(),
        other => format!("unexpected error: {other}"),
    }
}

const ABORT: &str = "model: abort";

fn exec(w: &mut Writer<'_>, f: &File, op: &Op) -> Result<String, Error> {
    let def = |t: &usize| f.tables[*t];
    let r = match op {
        Op::Insert(t, v, e) => w.insert_values(def(t), v, e).map(|_| "ok".to_string()),
        Op::InsertNext(t, v, e) => w.next_id_for(def(t)).and_then(|id| {
            let mut v = v.clone();
            v[def(t).primary_key[0]] = Value::Integer(id);
            match w.insert_values(def(t), &v, e) {
                Ok(_) => Ok(format!("id {id}: ok")),
                Err(e @ Error::Storage { .. }) => Err(e),
                Err(e) => Ok(format!("id {id}: {}", error_kind(&e))),
            }
        }),
        Op::Update(t, v, e) => w.update_values(def(t), v, e).map(|()| "ok".to_string()),
        Op::Delete(t, pk) => w.delete_raw(def(t), pk).map(|b| format!("deleted {b}")),
        Op::Get(t, pk) => w
            .get_values(def(t), pk)
            .map(|r| format!("{:?}", r.as_ref())),
        Op::Count(t) => w
            .source()
            .count(def(t), None, &KeyRange::all())
            .map(|n| format!("count {n}")),
        Op::RaiseSeq(t, id) => w.raise_sequence_to(def(t), *id).map(|()| "ok".into()),
        Op::Scan(t, idx, lo, hi, page) => scan(w.source(), def(t), *idx, lo, hi, *page),
        Op::ForeignKeys(on) => w.set_foreign_keys(*on).map(|()| "ok".into()),
    };
    match r {
        Err(e @ Error::Storage { .. }) => Err(e),
        r => Ok(r.unwrap_or_else(|e| error_kind(&e))),
    }
}

/// A read-only operation on a snapshot (the other implementation of the
/// read surface); `None` for writes.
fn exec_read(src: &dyn RowSource, f: &File, op: &Op) -> Option<Result<String, Error>> {
    let def = |t: &usize| f.tables[*t];
    Some(match op {
        Op::Get(t, pk) => {
            let mut out = None;
            src.row(def(t), pk, &mut |bytes| {
                out = Some(def(t).decode_values(pk, bytes)?);
                Ok(())
            })
            .map(|_| format!("{:?}", out.as_ref()))
        }
        Op::Count(t) => src
            .count(def(t), None, &KeyRange::all())
            .map(|n| format!("count {n}")),
        Op::Scan(t, idx, lo, hi, page) => scan(src, def(t), *idx, lo, hi, *page),
        _ => return None,
    })
}

/// A scan on the store, shown as [`Model::scan`] shows it.
fn scan(
    src: &dyn RowSource,
    def: &'static TableDef,
    idx: Option<usize>,
    lo: &Bound,
    hi: &Bound,
    page: Page,
) -> Result<String, Error> {
    let idx = idx.map(|i| &def.indexes[i]);
    let range = KeyRange::from_edges(lo.edge(), hi.edge());
    let mut rows = Vec::new();
    src.rows(def, idx, &range, page, &mut |pk, bytes| {
        rows.push((keys::render(pk), def.decode_values(pk, bytes)?.0));
        Ok(true)
    })?;
    let count = src.count(def, idx, &range)?;
    let rows: Vec<(String, &Vec<Value>)> = rows.iter().map(|(k, v)| (k.clone(), v)).collect();
    Ok(format!("scan {rows:?} of {count}"))
}

/// A transaction's run on the store: each operation's result and the end,
/// or the I/O error that stopped it.
struct Ran {
    outs: Vec<String>,
    end: Result<String, String>,
}

fn run_store(db: &Database, f: &File, txn: &Txn) -> Ran {
    let mut outs = Vec::new();
    let mut io = None;
    let durability = match txn.end {
        End::Commit(false) => Durability::None,
        _ => Durability::Immediate,
    };
    let r = db.write_with(durability, |w| {
        for op in &txn.ops {
            match exec(w, f, op) {
                Ok(o) => outs.push(o),
                Err(e) => {
                    io = Some(e.to_string());
                    return Err(Error::InvalidArgument(ABORT.into()));
                }
            }
        }
        if txn.end == End::Abort {
            return Err(Error::InvalidArgument(ABORT.into()));
        }
        Ok(())
    });
    let end = match (io, r) {
        (Some(io), _) => Err(io),
        (None, Ok(())) => Ok("committed".into()),
        (None, Err(Error::InvalidArgument(m))) if m == ABORT => Ok("aborted".into()),
        (None, Err(e @ Error::Storage { .. })) => Err(e.to_string()),
        (None, Err(e)) => Ok(error_kind(&e)),
    };
    Ran { outs, end }
}

/// Compares a transaction's run with the model's prediction.
fn compare(ran: &Ran, want: &Prediction) -> Result<(), String> {
    for (i, (got, want)) in ran.outs.iter().zip(&want.0).enumerate() {
        if let Some(want) = want
            && got != want
        {
            return Err(format!("operation {i}: store {got}, model {want}"));
        }
    }
    match &ran.end {
        Ok(end) if *end != want.1 => Err(format!("end: store {end}, model {}", want.1)),
        _ => Ok(()),
    }
}

/// Everything the store holds, checked for consistency on the way: row
/// counts, every index's entries in order, `check_table`.
fn read_state(db: &Database, f: &File) -> Result<State, String> {
    let e = |what: &str, e: Error| format!("{what}: {e}");
    let r = db.read().map_err(|x| e("read", x))?;
    let mut s = State::empty(f.tables.len());
    let mut found = BTreeSet::new();
    for (t, &def) in f.tables.iter().enumerate() {
        let rows = &mut s.rows[t];
        r.scan_raw(def, &KeyRange::all(), Page::default(), |pk, bytes| {
            rows.insert(pk.to_vec(), def.decode_values(pk, bytes)?);
            Ok(true)
        })
        .map_err(|x| e(def.name, x))?;
        let count = r.count_rows(def).map_err(|x| e(def.name, x))?;
        if count != rows.len() as u64 {
            return Err(format!(
                "{}: row count {count}, {} rows",
                def.name,
                rows.len()
            ));
        }
        for idx in def.indexes {
            let mut got = Vec::new();
            r.index_entries(def, idx, &KeyRange::all(), Page::default(), |pk| {
                got.push(pk.to_vec());
                Ok(true)
            })
            .map_err(|x| e(idx.name, x))?;
            let want = index_order(def, idx, rows);
            if got != want {
                let render = |v: &[Vec<u8>]| v.iter().map(|k| keys::render(k)).collect::<Vec<_>>();
                return Err(format!(
                    "{}: index {} lists {:?}, the rows say {:?}",
                    def.name,
                    idx.name,
                    render(&got),
                    render(&want)
                ));
            }
        }
        let (dangling, problems): (Vec<Problem>, Vec<Problem>) = check_table(&r, def)
            .map_err(|x| e(def.name, x))?
            .into_iter()
            .partition(|p| p.dangling.is_some());
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            return Err(format!("check_table {}: {}", def.name, list.join("; ")));
        }
        found.extend(dangling.into_iter().filter_map(|p| p.dangling));
    }
    // References left dangling while foreign keys were off: exactly those
    // `check_table` reports.
    let mut want = BTreeSet::new();
    for (t, def) in f.tables.iter().enumerate() {
        for (n, (fk, &p)) in def.foreign_keys.iter().zip(&f.parents[t]).enumerate() {
            for (pk, (vals, _)) in &s.rows[t] {
                let key = encode_cols(fk.columns, vals);
                if fk.columns.iter().all(|&c| !vals[c].is_null()) && !s.rows[p].contains_key(&key) {
                    want.insert(Dangling {
                        table: def.name,
                        fk: n,
                        pk: pk.clone(),
                        parent_key: key,
                    });
                }
            }
        }
    }
    if !want.is_empty() {
        seen("state checked with references left dangling (foreign keys off)");
    }
    if found != want {
        return Err(format!(
            "check_table reports dangling references {found:?}, the rows hold {want:?}"
        ));
    }
    drop(r);
    let mut seq = Vec::new();
    let r = db.write(|w| {
        for &def in &f.tables {
            seq.push(if def.autoincrement {
                w.next_id_for(def)? - 1
            } else {
                0
            });
        }
        Err::<(), _>(Error::InvalidArgument(ABORT.into()))
    });
    match r {
        Err(Error::InvalidArgument(m)) if m == ABORT => {}
        other => return Err(format!("reading sequences: {other:?}")),
    }
    s.seq = seq;
    Ok(s)
}

fn diff(f: &File, store: &State, model: &State) -> String {
    let mut s = String::new();
    for (t, def) in f.tables.iter().enumerate() {
        if store.rows[t] != model.rows[t] {
            let show = |rows: &Rows| {
                rows.values()
                    .map(|(v, e)| {
                        let mut r = v
                            .iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(", ");
                        if !e.is_empty() {
                            write!(r, " {e:?}").unwrap();
                        }
                        format!("({r})")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            writeln!(
                s,
                "  {}: store {}\n  {}  model {}",
                def.name,
                show(&store.rows[t]),
                " ".repeat(def.name.len()),
                show(&model.rows[t])
            )
            .unwrap();
        }
        if store.seq[t] != model.seq[t] {
            writeln!(
                s,
                "  {}: sequence store {}, model {}",
                def.name, store.seq[t], model.seq[t]
            )
            .unwrap();
        }
    }
    s
}

fn opts() -> OpenOptions {
    OpenOptions {
        cache_size: 4 << 20,
        ..OpenOptions::default()
    }
}

const NAME: &str = "model.redb";

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// ----- one case ----------------------------------------------------------------

/// Where a run's transactions ended.
#[derive(Debug, Default, Clone)]
struct Track {
    /// Per transaction that the model commits: its state's index, whether
    /// durable, the operation count before it began, and at its return
    /// (`None`: it did not return `Ok`).
    commits: Vec<(usize, bool, u64, Option<u64>)>,
    /// Writes, `set_len`s and syncs the transactions issued (not the checks
    /// between them).
    writes: u64,
}

/// The states a crash at operation `at` may leave: from the last durable
/// commit that returned to the commit in flight.
fn window(track: &Track, at: u64) -> (usize, usize) {
    let mut lo = 0;
    let mut hi = 0;
    for &(k, durable, start, ret) in &track.commits {
        match ret {
            Some(r) if r <= at => {
                if durable {
                    lo = k;
                }
                hi = k;
            }
            _ if start <= at => {
                hi = k;
                break;
            }
            _ => break,
        }
    }
    (lo, hi)
}

struct Case<'f> {
    f: &'f File,
    model: Model<'f>,
    txns: Vec<Txn>,
    /// `states[k]`: after the model's `k`th commit.
    states: Vec<State>,
    /// Per transaction: the model's prediction, and its state index after.
    want: Vec<(Prediction, usize)>,
}

impl<'f> Case<'f> {
    fn new(f: &'f File, spec: &CaseSpec) -> Case<'f> {
        let model = Model { f };
        let mut s = State::empty(f.tables.len());
        let mut states = vec![s.clone()];
        let mut txns = Vec::new();
        let mut want = Vec::new();
        for (ops, end) in &spec.txns {
            // Concrete operations meet the state the transaction sees so far.
            let mut work = s.clone();
            let mut cx = Cx::new();
            let ops: Vec<Op> = ops
                .iter()
                .map(|o| {
                    let op = model.concrete(&work, spec.focus, o);
                    model.apply(&mut work, &mut cx, &op);
                    op
                })
                .collect();
            let end = match end {
                0 => End::Abort,
                1 | 2 => End::Commit(false),
                _ => End::Commit(true),
            };
            let txn = Txn { ops, end };
            let w = model.run(&mut s, &txn);
            if w.1 == "committed" {
                states.push(s.clone());
            }
            want.push((w, states.len() - 1));
            txns.push(txn);
        }
        Case {
            f,
            model,
            txns,
            states,
            want,
        }
    }

    fn fail(&self, upto: usize, what: String) -> TestCaseError {
        TestCaseError::fail(format!(
            "file {}: {what}\ntransactions:\n{}",
            self.f.name,
            show_txns(self.f, &self.txns[..upto.min(self.txns.len())])
        ))
    }

    /// Runs every transaction on `db`, comparing each with the model and
    /// (`check`) the whole state after it. Stops at the first I/O error.
    /// Returns where commits ended, and whether an I/O error stopped it.
    fn drive(
        &self,
        db: &Database,
        fault: &FaultBackend,
        check: bool,
    ) -> Result<(Track, bool), TestCaseError> {
        let mut track = Track::default();
        for (i, txn) in self.txns.iter().enumerate() {
            let start = fault.op_count(OpMask::ALL);
            let writes = fault.op_count(OpMask::WRITES);
            let ran = run_store(db, self.f, txn);
            track.writes += fault.op_count(OpMask::WRITES) - writes;
            let (want, k) = &self.want[i];
            let committing = want.1 == "committed";
            compare(&ran, want).map_err(|e| self.fail(i + 1, format!("transaction {i}: {e}")))?;
            for o in ran.outs.iter().chain(ran.end.as_ref().ok()) {
                let word = o.split([' ', '(']).next().unwrap_or_default();
                let word = match word {
                    "id" => "insert next id",
                    "scan" if o.starts_with("scan [(") => "scan (a page with rows)",
                    "scan" => "scan (an empty page)",
                    w => w,
                };
                seen(format!("result: {word}"));
            }
            let ret = (ran.end.is_ok() && committing).then(|| fault.op_count(OpMask::ALL));
            if committing {
                let durable = txn.end == End::Commit(true);
                track.commits.push((*k, durable, start, ret));
            }
            if ran.end.is_err() {
                return Ok((track, true));
            }
            if check {
                let got = read_state(db, self.f)
                    .map_err(|e| self.fail(i + 1, format!("after transaction {i}: {e}")))?;
                if got != self.states[*k] {
                    return Err(self.fail(
                        i + 1,
                        format!(
                            "after transaction {i} the store differs from the model:\n{}",
                            diff(self.f, &got, &self.states[*k])
                        ),
                    ));
                }
                // The transaction's reads again, on a snapshot of the result.
                let r = db
                    .read()
                    .map_err(|e| self.fail(i + 1, format!("read: {e}")))?;
                for op in &txn.ops {
                    let Some(got) = exec_read(r.source(), self.f, op) else {
                        continue;
                    };
                    let got = got.unwrap_or_else(|e| error_kind(&e));
                    let want = self
                        .model
                        .apply(&mut self.states[*k].clone(), &mut Cx::new(), op);
                    if Some(&got) != want.as_ref() {
                        return Err(self.fail(
                            i + 1,
                            format!(
                                "after transaction {i}, on a snapshot: {}: store {got}, model {}",
                                show_op(self.f, op),
                                want.unwrap_or_default()
                            ),
                        ));
                    }
                }
            }
        }
        Ok((track, false))
    }

    /// Opens a crash image: it must pass redb's integrity check and hold one
    /// of `states[lo..=hi]`, then take one more transaction as the model
    /// says. Returns the state it held. (Runs start on a created file: no
    /// crash interrupts the file's creation here.)
    fn check_image(&self, image: &[u8], lo: usize, hi: usize) -> Result<usize, String> {
        catch_unwind(AssertUnwindSafe(|| self.check_image_inner(image, lo, hi)))
            .unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(p))))
    }

    fn check_image_inner(&self, image: &[u8], lo: usize, hi: usize) -> Result<usize, String> {
        let mut raw = redb::Database::builder()
            .create_with_backend(memory_backend(image))
            .map_err(|e| format!("redb cannot open the image: {e}"))?;
        match raw.check_integrity() {
            Ok(true) => {}
            Ok(false) => return Err("redb integrity check failed (repaired)".into()),
            Err(e) => return Err(format!("redb integrity check: {e}")),
        }
        drop(raw);
        let db =
            Database::open_backend(NAME, memory_backend(image), self.f.tables.clone(), &opts())
                .map_err(|e| format!("open: {e}"))?;
        let got = read_state(&db, self.f)?;
        let Some(k) = (lo..=hi).find(|&k| self.states[k] == got) else {
            let near = self.states.iter().position(|s| *s == got);
            return Err(format!(
                "expected the state after commit {lo}..={hi}, found {}:\n{}",
                near.map_or("no committed state".into(), |k| format!(
                    "the state after commit {k}"
                )),
                diff(self.f, &got, &self.states[hi])
            ));
        };
        // One more transaction on the recovered file: the first one that
        // commits, made durable.
        if let Some(txn) = self.txns.iter().find(|t| t.end != End::Abort) {
            let txn = Txn {
                ops: txn.ops.clone(),
                end: End::Commit(true),
            };
            let mut s = self.states[k].clone();
            let want = self.model.run(&mut s, &txn);
            let ran = run_store(&db, self.f, &txn);
            if let Err(io) = &ran.end {
                return Err(format!("after recovery: {io}"));
            }
            compare(&ran, &want).map_err(|e| format!("after recovery to state {k}: {e}"))?;
            let after = read_state(&db, self.f)?;
            if after != s {
                return Err(format!(
                    "after recovery to state {k} and one more transaction:\n{}",
                    diff(self.f, &after, &s)
                ));
            }
        }
        Ok(k)
    }

    fn image_error(&self, what: String) -> TestCaseError {
        self.fail(self.txns.len(), what)
    }
}

fn run_case(f: &File, spec: &CaseSpec) -> Result<(), TestCaseError> {
    let case = Case::new(f, spec);
    let fault = FaultBackend::new(InMemoryBackend::new()).unwrap();
    let db = Database::open_backend(NAME, fault.clone(), f.tables.clone(), &opts()).unwrap();
    fault.record(true);
    let (track, io) = case.drive(&db, &fault, true)?;
    prop_assert!(!io, "an I/O error without injected faults");
    drop(db);
    let mut rng = SplitMix(spec.seed);
    if !spec.fail {
        // Crash images of the recorded run, just before a few random
        // journaled operations (and after the last).
        let mut replay = fault.replay();
        let ops: Vec<u64> = replay.entries().iter().map(|e| e.op).collect();
        let mut points: Vec<usize> = (0..3)
            .map(|i| {
                if i == 0 {
                    spec.at as usize * (ops.len() + 1) / 1000
                } else {
                    rng.below(ops.len() as u64 + 1) as usize
                }
            })
            .collect();
        points.sort();
        for (n, j) in points.into_iter().enumerate() {
            let at = ops.get(j).copied().unwrap_or(u64::MAX);
            replay.advance_to(at);
            let (lo, hi) = window(&track, at);
            let seed = spec.seed ^ n as u64;
            let opts = crash_options(rng.below(1 << 20) as usize);
            let mut image = replay.crash_image(seed, &opts);
            let mut what = format!(
                "crash before journal entry {j} of {} ({:?}), options {opts:?}",
                ops.len(),
                ops.get(j).map(|_| &replay.entries()[j].kind).map(kind)
            );
            if n == 1
                && let Some(again) = crash_during_recovery(&image, seed, None, &opts)
            {
                image = again;
                what.push_str(", crashed again during recovery");
            }
            let k = case
                .check_image(&image, lo, hi)
                .map_err(|e| case.image_error(format!("{what}: {e}")))?;
            seen(format!("crash image (replay): {}", image_kind(lo, hi, k)));
        }
    } else {
        // A second run on a backend that fails at a random write.
        let writes = track.writes;
        let fault = FaultBackend::new(InMemoryBackend::new()).unwrap();
        let db = Database::open_backend(NAME, fault.clone(), f.tables.clone(), &opts()).unwrap();
        let n = fault.op_count(OpMask::WRITES) + spec.at as u64 * writes / 1000;
        let mode = if spec.once {
            FailMode::Once
        } else {
            FailMode::FromThenOn
        };
        fault.fail_at(n, mode, OpMask::WRITES);
        let (track, io) = case.drive(&db, &fault, false)?;
        fault.heal();
        seen(if io {
            "run stopped by the injected I/O error"
        } else {
            "run that ended before the planned I/O error"
        });
        let (lo, hi) = window(&track, u64::MAX);
        drop(db);
        let all = CrashOptions {
            keep: 1.0,
            torn: 0.0,
            torn_last: 0.0,
            sector: 512,
        };
        let power = crash_options(rng.below(1 << 20) as usize);
        for (what, image) in [
            ("process crash", fault.crash_image(spec.seed, &all)),
            ("power loss", fault.crash_image(spec.seed, &power)),
        ] {
            let k = case.check_image(&image, lo, hi).map_err(|e| {
                case.image_error(format!(
                    "{what} after an I/O error at write {n} ({mode:?}), options {power:?}: {e}"
                ))
            })?;
            seen(format!("crash image ({what}): {}", image_kind(lo, hi, k)));
        }
    }
    Ok(())
}

fn image_kind(lo: usize, hi: usize, k: usize) -> &'static str {
    match (lo == hi, k == lo) {
        (true, _) => "one state allowed",
        (false, true) => "held the oldest allowed state",
        (false, false) => "held a later allowed state",
    }
}

fn kind(op: &JournalOp) -> &'static str {
    match op {
        JournalOp::Write { .. } => "write",
        JournalOp::SetLen(_) => "set_len",
        JournalOp::Sync => "sync",
    }
}

fn cases() -> u32 {
    std::env::var("ARAGORA_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

/// Every file, with its tables, against the model (see the module docs).
#[test]
fn every_declared_table_follows_the_model_through_crashes() {
    let files = files();
    let cases = cases();
    let started = std::time::Instant::now();
    for f in &files {
        // Files with more foreign keys get more cases: that is where the
        // rules interact (cascades, SET NULL, RESTRICT).
        let fks = f.tables.iter().map(|t| t.foreign_keys.len()).sum::<usize>();
        let mut runner = TestRunner::new(RunnerConfig {
            cases: (cases * (1 + fks.min(6) as u32)).div_ceil(2),
            failure_persistence: None,
            ..RunnerConfig::default()
        });
        if let Err(e) = runner.run(&case_spec(), |spec| run_case(f, &spec)) {
            panic!("{}: {e}", f.name);
        }
    }
    println!(
        "{} files, {} tables, {cases} cases per file (half as many without foreign keys, up to 3.5 times as many with several), in {:?}",
        files.len(),
        files.iter().map(|f| f.tables.len()).sum::<usize>(),
        started.elapsed()
    );
    for (what, n) in SEEN.lock().unwrap().iter() {
        println!("  {what}: {n}");
    }
}
