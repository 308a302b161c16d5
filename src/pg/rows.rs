//! The table API on PostgreSQL: a snapshot ([`PgRows::snapshot`]) and a
//! write transaction ([`PgRows::transaction`]) implementing
//! [`RowSource`] and [`RowSink`], so the stores run on it unchanged.
//!
//! * A snapshot is a `REPEATABLE READ READ ONLY` transaction: one
//!   consistent state, like a redb read transaction.
//! * A write transaction is `READ COMMITTED`; every row it reads by key is
//!   read `FOR UPDATE`, so a read-modify-write of one row cannot lose a
//!   concurrent update (the embedded store gets this from having one
//!   writer at a time).
//! * Each write runs inside a savepoint: a write that fails (a UNIQUE
//!   violation, say) leaves the transaction as it was before it, as in the
//!   embedded store, and its PostgreSQL error becomes our typed error.
//!   Round trips saved without changing that: a write's savepoint is
//!   released by the next write's `SAVEPOINT` (same round trip) or by
//!   `COMMIT`; and a write sent before any other statement needs none, as
//!   a failure rolls back the whole (empty) transaction and begins it anew.
//! * Statements are prepared once per connection ([`super::cache`]) and
//!   run with the simple query protocol as `EXECUTE aragora_N(…)`, values
//!   as escaped text literals cast by the statement, results as text. That
//!   lets one round trip carry what must precede a statement: `BEGIN` is
//!   not sent on its own but with the transaction's first statement
//!   (`BEGIN …; EXECUTE …`), a write's `SAVEPOINT` with the write, and the
//!   lock of an absent key with the lookup that follows it. A snapshot or
//!   transaction that sends nothing sends no `BEGIN` and no `ROLLBACK`.
//! * A connection the pool handed out unpinged (returned healthy moments
//!   ago) whose first round trip fails for want of a connection is
//!   replaced by a verified one and the round trip sent again: nothing of
//!   this transaction had happened yet.

use super::cache::{self, StmtCache};
use super::shape::{PgTable, shape};
use super::sql::{self, Stmt, key_cols};
use crate::error::{Error, Result};
use crate::table::api::{FoundRow, RowSink, RowSource, RowVisitor, check_row, unique_error};
use crate::table::codec::{self, Extras};
use crate::table::{IndexDef, KeyRange, Page, TableDef, TableSet, Value, ValueRef, keys};
use postgres::SimpleQueryMessage;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use std::cell::{Cell, RefCell};
use std::ops::DerefMut;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The rows of one statement, every column as text: from the simple
/// query protocol, or from the extended one (columns cast to `text`, so
/// their binary form is the text itself).
enum Rows {
    Simple(Vec<postgres::SimpleQueryRow>),
    Bound(Vec<postgres::Row>),
}

/// One row of [`Rows`].
#[derive(Clone, Copy)]
enum RowRef<'a> {
    Simple(&'a postgres::SimpleQueryRow),
    Bound(&'a postgres::Row),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Simple(v) => v.len(),
            Rows::Bound(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn first(&self) -> Option<RowRef<'_>> {
        self.get(0)
    }

    fn get(&self, i: usize) -> Option<RowRef<'_>> {
        match self {
            Rows::Simple(v) => v.get(i).map(RowRef::Simple),
            Rows::Bound(v) => v.get(i).map(RowRef::Bound),
        }
    }

    fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl<'a> RowRef<'a> {
    /// Column `i` as text (`None`: NULL).
    fn text(self, i: usize) -> std::result::Result<Option<&'a str>, postgres::Error> {
        match self {
            RowRef::Simple(r) => r.try_get(i),
            RowRef::Bound(r) => r.try_get(i),
        }
    }
}

/// Why a write inside a savepoint failed.
enum Fail {
    /// PostgreSQL refused it (typed after the rollback).
    Pg(postgres::Error),
    /// Ours, already typed.
    Api(Error),
}

/// A connection a [`PgRows`] runs on: a pooled client, or any owner of a
/// [`postgres::Client`].
pub trait Connection: DerefMut<Target = postgres::Client> {
    /// Asks that the connection be closed when dropped, never reused: its
    /// state is unknown (a failed `ROLLBACK` or `COMMIT`, a lost
    /// connection), so it may still be inside a transaction that the next
    /// user's `COMMIT` would commit. A pooled client closes instead of
    /// going back to its pool; an owned one is closed when dropped anyway.
    fn discard_when_dropped(&mut self) {}

    /// The client and its connection's prepared statements. Without a
    /// cache (the default), a [`PgRows`] prepares into one of its own and
    /// deallocates those statements when it ends.
    fn split(&mut self) -> (&mut postgres::Client, Option<&mut StmtCache>) {
        (&mut **self, None)
    }

    /// Replaces a connection that was handed out without being checked
    /// (see [`super::Pool::get_recent`]) by a checked one; `None` when it
    /// was checked (or cannot be replaced): its errors are real.
    fn reconnect(&mut self) -> Option<Result<()>> {
        None
    }

    /// Whether the connection is still inside a finished read-only
    /// transaction whose `ROLLBACK` was deferred to its next user (who
    /// must send it first); asking clears it.
    fn take_rollback(&mut self) -> bool {
        false
    }

    /// Asks the connection to end its current read-only transaction
    /// later: sent by its next user ahead of its first statement, or by
    /// the pool soon (see [`super::pool::DEFERRED`]). `false`: not
    /// supported, roll back now.
    fn defer_rollback(&mut self) -> bool {
        false
    }
}

impl Connection for Box<postgres::Client> {}

/// A connection with an open transaction, used through the table API.
pub struct PgRows<C: Connection> {
    client: RefCell<C>,
    set: Arc<TableSet>,
    write: bool,
    open: bool,
    /// AUTOINCREMENT tables whose sequence this transaction raised.
    raised: Vec<&'static TableDef>,
    /// `BEGIN` sent (it goes with the first statement, see the module
    /// documentation).
    began: Cell<bool>,
    /// Sent anything at all (a connection handed out unchecked is replaced
    /// only before that).
    sent: Cell<bool>,
    /// Statements to send ahead of the next one, in the same round trip
    /// (a savepoint, a key lock).
    ahead: RefCell<String>,
    /// The connection was lost and could not be replaced: nothing more
    /// is sent.
    broken: Cell<bool>,
    /// The connection's previous user left a read-only transaction open:
    /// `ROLLBACK` goes first in our first round trip.
    rollback_first: Cell<bool>,
    /// Prepared statements, when the connection brings no cache.
    own: RefCell<Option<StmtCache>>,
    /// `aragora_op` is set and not to be rolled back to any more (its
    /// write succeeded, or it was rolled back to already): the next
    /// savepoint releases it first, and `COMMIT` releases it anyway.
    releasable: bool,
    /// A read of one statement and no transaction ([`PgRows::single`]):
    /// set when a second statement was refused.
    single: Option<Arc<AtomicBool>>,
}

/// `BEGIN` of a write transaction. Foreign keys are created DEFERRABLE (so
/// a load can insert in any order); the table API checks each write when
/// it happens, as the embedded store does, so a failed write fails on its
/// own.
const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; SET CONSTRAINTS ALL IMMEDIATE";

/// The table of AUTOINCREMENT sequences (one row per table), kept in the
/// same transactions as the rows.
pub const SEQUENCES: &str = "aragora_sequences";

impl<C: Connection> PgRows<C> {
    /// Begins a read snapshot on `client`.
    pub fn snapshot(client: C, set: Arc<TableSet>) -> Result<Self> {
        Self::begin(client, set, false)
    }

    /// Begins a write transaction on `client`.
    pub fn transaction(client: C, set: Arc<TableSet>) -> Result<Self> {
        Self::begin(client, set, true)
    }

    /// A read of at most one statement, outside any transaction: one
    /// PostgreSQL statement sees one snapshot, so it needs no `BEGIN` and
    /// leaves no `ROLLBACK` behind. A second statement is refused (an
    /// error, nothing sent) and `tripped` set: whoever handed out this
    /// read must throw away what it computed and run it again in a
    /// [`PgRows::snapshot`] (`Database::read_op` does).
    pub fn single(client: C, set: Arc<TableSet>, tripped: Arc<AtomicBool>) -> Result<Self> {
        let mut rows = Self::begin(client, set, false)?;
        rows.single = Some(tripped);
        Ok(rows)
    }

    /// Nothing is sent yet: `BEGIN` goes with the first statement.
    fn begin(mut client: C, set: Arc<TableSet>, write: bool) -> Result<Self> {
        let own = client.split().1.is_none().then(StmtCache::default);
        let rollback_first = Cell::new(client.take_rollback());
        Ok(PgRows {
            client: RefCell::new(client),
            set,
            write,
            open: true,
            raised: Vec::new(),
            began: Cell::new(false),
            sent: Cell::new(false),
            ahead: RefCell::new(String::new()),
            broken: Cell::new(false),
            own: RefCell::new(own),
            rollback_first,
            releasable: false,
            single: None,
        })
    }

    fn begin_sql(&self) -> &'static str {
        if self.write {
            BEGIN_WRITE
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        }
    }

    /// Commits. Nothing is committed unless this returns `Ok`.
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        if self.broken.get() {
            return Err(Error::PgConnection {
                target: self.set.origin().display().to_string(),
                what: "commit: the connection was lost".into(),
            });
        }
        if !self.began.get() {
            // Nothing was sent: nothing to commit.
            self.ahead.get_mut().clear();
            return Ok(());
        }
        let r = self.client.get_mut().batch_execute("COMMIT");
        if let Err(e) = r {
            // Committed or not, the server's state is unknown to us.
            self.client.get_mut().discard_when_dropped();
            return Err(pg_error(self.set.origin(), "commit", e));
        }
        if !self.raised.is_empty()
            && let Err(e) = self.sync_identities()
        {
            // Committed already; only other clients' DEFAULT ids are affected.
            tracing::warn!(error = %e, "could not move identity sequences after a commit");
        }
        Ok(())
    }

    /// Runs `sql` (one or more statements, no parameters) inside this
    /// transaction: for the tools' loads (`Database::load_postgres`), which
    /// change constraints around the rows they write.
    pub fn execute_batch(&mut self, sql: &str) -> Result<()> {
        self.exec(sql)
    }

    /// Inserts `rows` of `def` (one COPY and one statement), skipping each
    /// row whose primary key or unique value is taken; returns, per row,
    /// whether it was inserted. For loads (`ops::to_postgres`), which then
    /// fetch the skipped rows with [`PgRows::rows_by_keys`] and compare. Values are checked as by
    /// `insert`; AUTOINCREMENT sequences are raised past the ids written.
    pub fn insert_new(
        &mut self,
        def: &'static TableDef,
        rows: &[(&[Value], &Extras)],
    ) -> Result<Vec<bool>> {
        let t = self.table(def)?;
        let mut max_id = None;
        for (vals, _) in rows {
            let refs: Vec<ValueRef<'_>> = vals.iter().map(Value::as_ref).collect();
            check_row(def, &refs, true)?;
            if def.autoincrement
                && let Some(Value::Integer(id)) = def.primary_key.first().map(|&c| &vals[c])
            {
                max_id = max_id.max(Some(*id));
            }
        }
        // COPY into a temporary table of the same columns, then one
        // INSERT … SELECT: the rows travel in COPY's stream instead of as
        // bound parameters of one statement per batch.
        let mut data = String::with_capacity(rows.len() * 128);
        for (vals, extras) in rows {
            sql::copy_row(&mut data, t, vals.iter().map(Value::as_ref), extras)?;
        }
        self.exec(&sql::load_table_ready(t))?;
        let copy = sql::load_copy(t);
        let copied = {
            let mut client = self.client.borrow_mut();
            let (client, _) = client.split();
            client.copy_in(&copy).map_err(Fail::Pg).and_then(|mut w| {
                use std::io::Write;
                w.write_all(data.as_bytes()).map_err(|e| {
                    Fail::Api(Error::PgConnection {
                        target: self.set.origin().display().to_string(),
                        what: format!("sending the rows of {} (COPY): {e}", t.name),
                    })
                })?;
                w.finish().map_err(Fail::Pg)
            })
        };
        match copied {
            Ok(_) => {}
            Err(Fail::Pg(e)) => {
                self.on_error(&e);
                return Err(pg_error(self.set.origin(), &copy, e));
            }
            Err(Fail::Api(e)) => {
                // The stream broke halfway: the transaction is unusable.
                self.broken.set(true);
                return Err(e);
            }
        }
        let got = self.query(&Stmt {
            sql: sql::load_insert(t),
            params: Vec::new(),
        })?;
        let mut inserted = std::collections::HashSet::with_capacity(got.len());
        for r in got.iter() {
            inserted.insert(Self::pk_of_row(t, r)?);
        }
        if let Some(id) = max_id {
            self.bump_sequence(t, id)?;
        }
        Ok(rows
            .iter()
            .map(|(vals, _)| {
                let refs: Vec<ValueRef<'_>> = vals.iter().map(Value::as_ref).collect();
                inserted.contains(&crate::table::layout::pk_of(def, &refs))
            })
            .collect())
    }

    /// The stored rows (as [`RowSource::row`] gives them) of those of
    /// `pks` that exist, by encoded primary key: one statement, where a
    /// lookup per key would cost a round trip each.
    pub fn rows_by_keys(
        &self,
        def: &'static TableDef,
        pks: &[&[u8]],
    ) -> Result<std::collections::HashMap<Vec<u8>, Vec<u8>>> {
        let mut out = std::collections::HashMap::with_capacity(pks.len());
        if pks.is_empty() {
            return Ok(out);
        }
        let t = self.table(def)?;
        let st = sql::rows_by_keys(t, pks)?;
        for row in self.query(&st)?.iter() {
            let pk = Self::pk_of_row(t, row)?;
            let mut buf = Vec::with_capacity(128);
            Self::envelope(t, row, def.primary_key.len(), &mut buf)?;
            out.insert(pk, buf);
        }
        Ok(out)
    }

    fn table(&self, def: &'static TableDef) -> Result<&'static PgTable> {
        self.set.declared(def)?;
        shape(def)
    }

    fn query(&self, st: &Stmt) -> Result<Rows> {
        self.run(&st.sql, &st.params).map_err(|e| match e {
            Fail::Pg(e) => pg_error(self.set.origin(), &st.sql, e),
            Fail::Api(e) => e,
        })
    }

    /// Runs one statement (prepared on first use on this connection), with
    /// `BEGIN` and whatever waits in `ahead` in the same round trip; the
    /// rows of the statement.
    fn run(&self, sql: &str, params: &[Option<String>]) -> std::result::Result<Rows, Fail> {
        if self.broken.get() {
            return Err(Fail::Api(Error::PgConnection {
                target: self.set.origin().display().to_string(),
                what: "the connection was lost".into(),
            }));
        }
        if let Some(tripped) = &self.single
            && self.sent.get()
        {
            // A second statement would see another snapshot: refused,
            // and the read run again in one (never seen by the caller).
            tripped.store(true, Ordering::Relaxed);
            return Err(Fail::Api(Error::InvalidArgument(format!(
                "{}: a second statement in a one-statement read (run again in a snapshot)",
                self.set.origin().display()
            ))));
        }
        for p in params.iter().flatten() {
            if p.contains('\0') {
                return Err(Fail::Api(nul_error()));
            }
        }
        tracing::debug!(sql = %sql, params = ?params.len(), "postgres query");
        let mut retried = false;
        loop {
            let first = !self.sent.get();
            let begin = self.open && !self.began.get() && self.single.is_none();
            let e = match self.attempt(sql, params, begin) {
                Ok(rows) => {
                    self.ahead.borrow_mut().clear();
                    return Ok(rows);
                }
                Err(e) => e,
            };
            if !retried && first && self.lost(&e) {
                // Handed out unchecked and found dead: nothing of ours
                // happened; again on a checked connection.
                let r = self.client.borrow_mut().reconnect();
                match r {
                    Some(Ok(())) => {
                        retried = true;
                        self.began.set(false);
                        self.sent.set(false);
                        self.rollback_first.set(false);
                        continue;
                    }
                    Some(Err(re)) => {
                        self.broken.set(true);
                        self.began.set(false);
                        self.ahead.borrow_mut().clear();
                        return Err(Fail::Api(re));
                    }
                    None => {}
                }
            }
            self.ahead.borrow_mut().clear();
            if !retried
                && e.code().is_some_and(|c| {
                    *c == SqlState::INVALID_SQL_STATEMENT_NAME
                        || *c == SqlState::FEATURE_NOT_SUPPORTED
                        || *c == SqlState::DUPLICATE_PSTATEMENT
                })
            {
                // Our statements are gone or stale (a `DISCARD ALL` or
                // `DEALLOCATE` by another user of the connection, a changed
                // result type): forget them, and close the connection when
                // done (some may linger on the server).
                self.forget_statements();
                if begin {
                    // Nothing of ours happened in this transaction: start
                    // it again, preparing anew.
                    retried = true;
                    if self.client.borrow_mut().batch_execute("ROLLBACK").is_ok() {
                        self.began.set(false);
                        continue;
                    }
                } else if self.single.is_some() {
                    // No transaction: nothing happened; again, preparing anew.
                    retried = true;
                    continue;
                }
            }
            self.on_error(&e);
            return Err(Fail::Pg(e));
        }
    }

    /// Whether a failed round trip shows the connection unusable: no
    /// answer from the server (closed, I/O) or a FATAL one.
    fn lost(&self, e: &postgres::Error) -> bool {
        e.as_db_error()
            .is_none_or(|d| matches!(d.severity(), "FATAL" | "PANIC"))
            || self.client.borrow().is_closed()
    }

    fn forget_statements(&self) {
        let mut c = self.client.borrow_mut();
        c.discard_when_dropped();
        if let Some(cache) = c.split().1 {
            cache.clear();
        }
        drop(c);
        if let Some(cache) = self.own.borrow_mut().as_mut() {
            cache.clear();
        }
    }

    /// One round trip, or two when the statement is new on this
    /// connection (`PREPARE` first, carrying `BEGIN` and `ahead`). A
    /// statement with nothing to send ahead of it goes on the extended
    /// protocol (see [`super::cache`]).
    fn attempt(
        &self,
        sql: &str,
        params: &[Option<String>],
        begin: bool,
    ) -> std::result::Result<Rows, postgres::Error> {
        let mut conn = self.client.borrow_mut();
        let mut own = self.own.borrow_mut();
        let (client, shared) = conn.split();
        let statements = match shared {
            Some(c) => c,
            None => own.get_or_insert_with(StmtCache::default),
        };
        self.sent.set(true);
        let rollback = self.rollback_first.get();
        if !rollback && !begin && self.ahead.borrow().is_empty() {
            let st = match statements.bound(sql) {
                Some(st) => st,
                None => {
                    let st = client.prepare_typed(sql, &vec![Type::TEXT; params.len()])?;
                    statements.insert_bound(sql, st.clone());
                    st
                }
            };
            let rows = client.query_raw(&st, params.iter().map(Option::as_deref))?;
            return Ok(Rows::Bound(FallibleIterator::collect(rows)?));
        }
        // What goes first: `BEGIN`, then the statements waiting ahead.
        let mut pre = String::new();
        if rollback {
            pre.push_str("ROLLBACK; ");
        }
        if begin {
            pre.push_str(self.begin_sql());
            pre.push_str("; ");
        }
        pre.push_str(&self.ahead.borrow());
        // After a batch that began the transaction was answered, it is
        // open (aborted, on an error: a rollback ends it).
        let began = |e: Option<&postgres::Error>| {
            if e.is_none_or(|e| e.as_db_error().is_some()) {
                if begin {
                    self.began.set(true);
                }
                if rollback {
                    self.rollback_first.set(false);
                }
            }
        };
        let n = match statements.get(sql) {
            Some(n) => n,
            None => {
                let (n, evict) = statements.reserve();
                let mut prep = std::mem::take(&mut pre);
                if let Some(old) = evict {
                    prep.push_str(&format!("DEALLOCATE {}; ", cache::name(old)));
                }
                prep.push_str("PREPARE ");
                prep.push_str(&cache::name(n));
                if !params.is_empty() {
                    prep.push_str(" (text");
                    for _ in 1..params.len() {
                        prep.push_str(", text");
                    }
                    prep.push(')');
                }
                prep.push_str(" AS ");
                prep.push_str(sql);
                let r = client.batch_execute(&prep);
                began(r.as_ref().err());
                r?;
                statements.insert(sql, n);
                n
            }
        };
        let mut batch = pre;
        batch.push_str("EXECUTE ");
        batch.push_str(&cache::name(n));
        for (i, p) in params.iter().enumerate() {
            batch.push_str(if i == 0 { "(" } else { ", " });
            literal(&mut batch, p.as_deref());
        }
        if !params.is_empty() {
            batch.push(')');
        }
        let r = client.simple_query(&batch);
        began(r.as_ref().err());
        // The rows of the last statement (those ahead may return some).
        let mut rows = Vec::new();
        for m in r? {
            match m {
                SimpleQueryMessage::RowDescription(_) => rows.clear(),
                SimpleQueryMessage::Row(r) => rows.push(r),
                _ => {}
            }
        }
        Ok(Rows::Simple(rows))
    }

    /// After any failed statement: an error that is not the server's
    /// answer to it (a lost connection, a protocol error) or a FATAL one
    /// (the server ends the session: `pg_terminate_backend`, a shutdown)
    /// leaves the connection unusable or its state unknown, so it is not
    /// to be reused.
    fn on_error(&self, e: &postgres::Error) {
        let fatal = e
            .as_db_error()
            .is_none_or(|d| matches!(d.severity(), "FATAL" | "PANIC"));
        if fatal {
            self.client.borrow_mut().discard_when_dropped();
        }
    }

    /// Runs a write inside a savepoint; on failure the transaction is as
    /// before, and a PostgreSQL error is turned into ours by `typed` after
    /// the rollback (which may query: the transaction is usable again).
    fn savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> std::result::Result<T, Fail>,
        typed: impl FnOnce(&Self, postgres::Error) -> Error,
    ) -> Result<T> {
        // Nothing sent in this transaction: the whole transaction is the
        // savepoint (no locks, settings or rows to keep), so none is set.
        // Else the savepoint goes with the write, in its round trip.
        let whole = !self.began.get();
        if !whole {
            self.ahead.get_mut().push_str(if self.releasable {
                "RELEASE SAVEPOINT aragora_op; SAVEPOINT aragora_op; "
            } else {
                "SAVEPOINT aragora_op; "
            });
        }
        let r = f(self);
        // Still waiting: nothing reached the server (`f` failed first).
        let unsent = !whole && !self.ahead.get_mut().is_empty();
        self.ahead.get_mut().clear();
        if !unsent {
            // Either way `aragora_op` (if set) is never rolled back to again.
            self.releasable = !whole;
        }
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                if whole {
                    if self.began.get() {
                        // Back to an empty transaction: none at all (the
                        // next statement begins one).
                        self.exec("ROLLBACK")?;
                        self.began.set(false);
                    }
                    self.raised.clear();
                } else if !unsent {
                    self.exec("ROLLBACK TO SAVEPOINT aragora_op")?;
                }
                Err(match e {
                    Fail::Pg(e) => typed(self, e),
                    Fail::Api(e) => e,
                })
            }
        }
    }

    /// Runs `sql` (no parameters, simple protocol) inside the transaction:
    /// with `BEGIN` if none is open yet, and what waits in `ahead`.
    fn exec(&self, sql: &str) -> Result<()> {
        if self.broken.get() {
            return Err(Error::PgConnection {
                target: self.set.origin().display().to_string(),
                what: "the connection was lost".into(),
            });
        }
        let begin = self.open && !self.began.get() && sql != "ROLLBACK";
        let rollback = self.rollback_first.get();
        let mut batch = String::new();
        if rollback {
            batch.push_str("ROLLBACK; ");
        }
        if begin {
            batch.push_str(self.begin_sql());
            batch.push_str("; ");
        }
        let ahead = std::mem::take(&mut *self.ahead.borrow_mut());
        batch.push_str(&ahead);
        batch.push_str(sql);
        let first = !self.sent.get();
        self.sent.set(true);
        let r = self.client.borrow_mut().batch_execute(&batch);
        if r.as_ref().err().is_none_or(|e| e.as_db_error().is_some()) {
            if begin {
                self.began.set(true);
            }
            self.rollback_first.set(false);
        }
        if let Err(e) = &r
            && first
            && self.lost(e)
        {
            // As in `run`: a connection handed out unchecked and found
            // dead by our first round trip is replaced, and it is sent
            // again (once: the new one is checked).
            let replaced = self.client.borrow_mut().reconnect();
            match replaced {
                Some(Ok(())) => {
                    self.began.set(false);
                    self.sent.set(false);
                    self.rollback_first.set(false);
                    *self.ahead.borrow_mut() = ahead;
                    return self.exec(sql);
                }
                Some(Err(re)) => {
                    self.broken.set(true);
                    self.began.set(false);
                    return Err(re);
                }
                None => {}
            }
        }
        r.map_err(|e| {
            self.on_error(&e);
            pg_error(self.set.origin(), sql, e)
        })
    }

    fn execute(&self, st: &Stmt) -> std::result::Result<u64, Fail> {
        let rows = self.run(&format!("{} RETURNING 1", st.sql), &st.params)?;
        Ok(rows.len() as u64)
    }

    /// Decodes one result row of every column (`t.select` from `from` on:
    /// the declared columns, then the undeclared ones) into a stored
    /// envelope.
    fn envelope(t: &PgTable, row: RowRef<'_>, from: usize, out: &mut Vec<u8>) -> Result<()> {
        let vals = Self::values(t, row, from)?;
        let extra: Option<&str> = row.text(from + t.cols.len()).map_err(|e| {
            Error::InvalidArgument(format!("reading {}.{}: {e}", t.name, t.extra_q))
        })?;
        let extras = match extra {
            None => Extras::default(),
            Some(text) => crate::export::extras_from_json(text).map_err(|e| {
                let refs: Vec<ValueRef<'_>> = vals.iter().map(Value::as_ref).collect();
                let pk = crate::table::layout::pk_of(t.def, &refs);
                Error::InvalidArgument(format!(
                    "{}.{} of row {}: {e}",
                    t.name,
                    t.extra_q,
                    keys::render(&pk)
                ))
            })?,
        };
        out.clear();
        codec::encode_row(out, vals.len(), |i| vals[i].as_ref(), &extras);
        Ok(())
    }

    fn values(t: &PgTable, row: RowRef<'_>, from: usize) -> Result<Vec<Value>> {
        t.cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let text: Option<&str> = row.text(from + i).map_err(|e| {
                    Error::InvalidArgument(format!("reading {}.{}: {e}", t.name, c.q))
                })?;
                c.value(text)
            })
            .collect()
    }

    /// The first column of the first row, as text (`None`: no row, or NULL).
    fn first_text<'r>(t: &PgTable, rows: &'r Rows, what: &str) -> Result<Option<&'r str>> {
        match rows.first() {
            None => Ok(None),
            Some(r) => r.text(0).map_err(|e| {
                Error::InvalidArgument(format!("reading the {what} of {}: {e}", t.name))
            }),
        }
    }

    fn pk_of_row(t: &PgTable, row: RowRef<'_>) -> Result<Vec<u8>> {
        let cols = key_cols(t, None);
        let mut vals = Vec::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            let text: Option<&str> = row
                .text(i)
                .map_err(|e| Error::InvalidArgument(format!("reading {}.{}: {e}", t.name, c.q)))?;
            vals.push(c.value(text)?);
        }
        Ok(keys::encode(vals.iter().map(Value::as_ref)))
    }

    /// The typed error of a failed write.
    fn write_error(
        &self,
        t: &PgTable,
        vals: Option<&[ValueRef<'_>]>,
        pk: &[u8],
        e: postgres::Error,
    ) -> Error {
        let def = t.def;
        let Some(db) = e.as_db_error() else {
            return pg_error(self.set.origin(), &format!("write to {}", t.name), e);
        };
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION
            && let Some(vals) = vals
        {
            let cols = db
                .constraint()
                .and_then(|c| def.indexes.iter().find(|i| i.name == c))
                .map_or(def.primary_key, |i| i.columns);
            return unique_error(def, cols, vals);
        }
        if *code == SqlState::FOREIGN_KEY_VIOLATION {
            if let Some(vals) = vals {
                // Which reference dangles: the first whose parent is missing.
                for fk in def.foreign_keys {
                    if fk.columns.iter().any(|&c| vals[c].is_null()) {
                        continue;
                    }
                    let key = keys::encode(fk.columns.iter().map(|&c| vals[c]));
                    let parent = (fk.parent)();
                    if !self.has_row(parent, &key).unwrap_or(true) {
                        return Error::ForeignKey {
                            table: def.name,
                            column: def.column_list(fk.columns),
                            value: keys::render(&key),
                            parent: parent.name,
                        };
                    }
                }
            } else {
                let child = db.table().and_then(|name| {
                    self.set
                        .referencing(def)
                        .iter()
                        .find(|c| c.table.name == name)
                });
                if let Some(child) = child {
                    return Error::Referenced {
                        parent: def.name,
                        key: keys::render(pk),
                        table: child.table.name,
                        column: child.table.column_list(child.fk.columns),
                    };
                }
            }
        }
        pg_error(self.set.origin(), &format!("write to {}", t.name), e)
    }

    /// Takes a transaction-scoped advisory lock on one key of a table (or
    /// of one of its unique indexes), held until commit or rollback: what
    /// a write transaction holds on a key it found absent, so that "read,
    /// then insert if missing" runs one transaction at a time per key, as
    /// on the embedded store. The lock id is a hash: two keys sharing one
    /// only wait for each other.
    fn lock_key(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        key: &[u8],
    ) -> Result<()> {
        // FNV-1a, 64 bits: stable across processes and versions.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let parts: [&[u8]; 3] = [
            def.name.as_bytes(),
            idx.map_or(b"", |i| i.name.as_bytes()),
            key,
        ];
        for part in parts {
            for &b in part.iter().chain(&[0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        // Sent with the statement that follows (the lookup again).
        self.ahead
            .borrow_mut()
            .push_str(&format!("SELECT pg_advisory_xact_lock({}); ", h as i64));
        Ok(())
    }

    fn has_row(&self, def: &'static TableDef, pk: &[u8]) -> Result<bool> {
        let t = shape(def)?;
        let mut st = Stmt::default();
        let cond = sql::key_equals(&mut st, t, &key_cols(t, None), pk)?;
        st.sql = format!("SELECT 1 FROM {} WHERE {cond}", t.q);
        Ok(!self.query(&st)?.is_empty())
    }

    /// Raises the table's AUTOINCREMENT sequence to at least `id`, inside
    /// this transaction (a rollback takes it back, as SQLite's
    /// `sqlite_sequence` and the embedded store's sequence key do).
    fn bump_sequence(&mut self, t: &PgTable, id: i64) -> Result<()> {
        let st = Stmt {
            sql: format!(
                "INSERT INTO {SEQUENCES} (table_name, last_id) VALUES ($1::text, $2::bigint) \
                 ON CONFLICT (table_name) DO UPDATE \
                 SET last_id = GREATEST({SEQUENCES}.last_id, EXCLUDED.last_id)"
            ),
            params: vec![Some(t.name.clone()), Some(id.to_string())],
        };
        self.query(&st)?;
        self.raised.push(t.def);
        Ok(())
    }

    /// After a commit: moves each identity sequence we wrote ids past up
    /// to them, so that inserts relying on the column's DEFAULT (the
    /// original's own stores) do not collide with our ids.
    fn sync_identities(&mut self) -> Result<()> {
        for def in std::mem::take(&mut self.raised) {
            let t = shape(def)?;
            let pk = &def.columns[def.primary_key[0]];
            let st = Stmt {
                sql: format!(
                    // A sequence cannot be set to 0: with no id used yet
                    // it is left to hand out 1 next.
                    "SELECT setval(s, GREATEST(v, 1), v >= 1) FROM ( \
                     SELECT s, GREATEST(l.last_id, COALESCE(pg_sequence_last_value(s), 0)) AS v \
                     FROM (SELECT pg_get_serial_sequence($1::text, $2::text)::regclass AS s) q, \
                     {SEQUENCES} l WHERE q.s IS NOT NULL AND l.table_name = $3::text) w"
                ),
                params: vec![
                    Some(t.q.clone()),
                    Some(pk.name.to_string()),
                    Some(t.name.clone()),
                ],
            };
            self.query(&st)?;
        }
        Ok(())
    }
}

impl<C: Connection> Drop for PgRows<C> {
    fn drop(&mut self) {
        if self.broken.get() {
            return;
        }
        let client = self.client.get_mut();
        let open = self.open && self.began.get();
        if open || self.rollback_first.get() {
            // Not committed: roll back (a read-only transaction, whose
            // rollback changes nothing, may leave that to the connection's
            // next user). If that fails the connection may still be in
            // this transaction: it must not be reused.
            let deferred = (!self.write || !open) && client.defer_rollback();
            if !deferred && client.batch_execute("ROLLBACK").is_err() {
                client.discard_when_dropped();
            }
        }
        // Statements prepared on a connection that keeps none: gone with
        // this transaction (best effort; a failure closes the connection).
        if let Some(own) = self.own.get_mut().take()
            && !own.is_empty()
        {
            let sql: String = own
                .numbers()
                .map(|n| format!("DEALLOCATE {};", cache::name(n)))
                .collect();
            if client.batch_execute(&sql).is_err() {
                client.discard_when_dropped();
            }
        }
    }
}

/// Text holding a NUL byte cannot be stored in PostgreSQL: refused
/// before anything is sent.
fn nul_error() -> Error {
    Error::InvalidArgument("PostgreSQL text cannot hold a NUL character (\\0)".into())
}

/// Appends `v` as an SQL literal: `NULL`, or an escaped string (`E'…'`,
/// correct whatever `standard_conforming_strings` says). `v` holds no NUL
/// (checked by `run`).
fn literal(out: &mut String, v: Option<&str>) {
    let Some(v) = v else {
        out.push_str("NULL");
        return;
    };
    out.reserve(v.len() + 3);
    out.push_str("E'");
    for ch in v.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

impl<C: Connection> RowSource for PgRows<C> {
    fn rows_of(&self, def: &'static TableDef, pks: &[&[u8]], f: RowVisitor<'_>) -> Result<()> {
        for (pk, bytes) in self.rows_by_keys(def, pks)? {
            if !f(&pk, &bytes)? {
                break;
            }
        }
        Ok(())
    }

    fn origin(&self) -> &Path {
        self.set.origin()
    }

    fn row(
        &self,
        def: &'static TableDef,
        pk: &[u8],
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::key_equals(&mut st, t, &key_cols(t, None), pk)?;
        let lock = if self.write { " FOR UPDATE" } else { "" };
        st.sql = format!("SELECT {} FROM {} WHERE {cond}{lock}", t.select, t.q);
        let mut rows = self.query(&st)?;
        if rows.is_empty() && self.write {
            // Absent: `FOR UPDATE` locked nothing, so two transactions
            // could both see the key free and both insert it (one then
            // fails UNIQUE: a lost "get or create"). Lock the key itself
            // until commit, then look again in a fresh statement (READ
            // COMMITTED: it sees what the lock's last holder committed).
            self.lock_key(def, None, pk)?;
            rows = self.query(&st)?;
        }
        let Some(row) = rows.first() else {
            return Ok(false);
        };
        let mut buf = Vec::with_capacity(128);
        Self::envelope(t, row, 0, &mut buf)?;
        f(&buf).map(|()| true)
    }

    fn unique(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::key_equals(&mut st, t, &key_cols(t, Some(idx)), key)?;
        st.sql = format!("SELECT {} FROM {} WHERE {cond}", sql::pk_select(t), t.q);
        let mut rows = self.query(&st)?;
        if rows.is_empty() && self.write {
            // As in `row`: an absent unique key is locked until commit.
            self.lock_key(def, Some(idx), key)?;
            rows = self.query(&st)?;
        }
        rows.first().map(|r| Self::pk_of_row(t, r)).transpose()
    }

    /// In a snapshot, one statement (the row by its unique key); in a
    /// write transaction, [`unique`](RowSource::unique) then
    /// [`row`](RowSource::row), for their locks.
    fn unique_row(
        &self,
        def: &'static TableDef,
        idx: &'static IndexDef,
        key: &[u8],
        f: FoundRow<'_>,
    ) -> Result<bool> {
        if self.write {
            return match self.unique(def, idx, key)? {
                Some(pk) => self.row(def, &pk, &mut |bytes| f(&pk, bytes)),
                None => Ok(false),
            };
        }
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::key_equals(&mut st, t, &key_cols(t, Some(idx)), key)?;
        st.sql = format!(
            "SELECT {}, {} FROM {} WHERE {cond}",
            sql::pk_select(t),
            t.select,
            t.q
        );
        let rows = self.query(&st)?;
        let Some(row) = rows.first() else {
            return Ok(false);
        };
        let pk = Self::pk_of_row(t, row)?;
        let mut buf = Vec::with_capacity(128);
        Self::envelope(t, row, def.primary_key.len(), &mut buf)?;
        f(&pk, &buf).map(|()| true)
    }

    fn rows(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: RowVisitor<'_>,
    ) -> Result<()> {
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::range_where(&mut st, t, idx, range)?;
        st.sql = sql::page_rows(t, idx, &cond, page);
        let npk = def.primary_key.len();
        let mut buf = Vec::with_capacity(128);
        let rows = self.query(&st)?;
        for row in rows.iter() {
            let pk = Self::pk_of_row(t, row)?;
            Self::envelope(t, row, npk, &mut buf)?;
            if !f(&pk, &buf)? {
                break;
            }
        }
        Ok(())
    }

    fn keys(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
        page: Page,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::range_where(&mut st, t, idx, range)?;
        st.sql = format!(
            "SELECT {} FROM {}{cond}{}",
            sql::pk_select(t),
            t.q,
            sql::order_page(t, idx, page)
        );
        let rows = self.query(&st)?;
        for row in rows.iter() {
            if !f(&Self::pk_of_row(t, row)?)? {
                break;
            }
        }
        Ok(())
    }

    fn count(
        &self,
        def: &'static TableDef,
        idx: Option<&'static IndexDef>,
        range: &KeyRange,
    ) -> Result<u64> {
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::range_where(&mut st, t, idx, range)?;
        st.sql = format!("SELECT count(*)::text FROM {}{cond}", t.q);
        let rows = self.query(&st)?;
        let n: i64 = Self::first_text(t, &rows, "count")?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        Ok(n as u64)
    }
}

impl<C: Connection> RowSink for PgRows<C> {
    fn insert(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<Vec<u8>> {
        let t = self.table(def)?;
        check_row(def, vals, check_types)?;
        let pk = crate::table::layout::pk_of(def, vals);
        let st = sql::insert(t, vals, extras)?;
        self.savepoint(
            |w| {
                w.execute(&st)?;
                if def.autoincrement
                    && let Some(ValueRef::Integer(id)) = def.primary_key.first().map(|&c| vals[c])
                {
                    w.bump_sequence(t, id).map_err(Fail::Api)?;
                }
                Ok(pk.clone())
            },
            |w, e| w.write_error(t, Some(vals), &pk, e),
        )
    }

    fn update(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
        check_types: bool,
    ) -> Result<()> {
        let t = self.table(def)?;
        check_row(def, vals, check_types)?;
        let pk = crate::table::layout::pk_of(def, vals);
        let st = sql::update(t, vals, extras)?;
        self.savepoint(
            |w| {
                let n = w.execute(&st)?;
                if n == 0 {
                    return Err(Fail::Api(Error::NotFound {
                        table: def.name,
                        key: keys::render(&pk),
                    }));
                }
                Ok(())
            },
            |w, e| w.write_error(t, Some(vals), &pk, e),
        )
    }

    fn upsert(
        &mut self,
        def: &'static TableDef,
        vals: &[ValueRef<'_>],
        extras: &Extras,
    ) -> Result<bool> {
        let pk = crate::table::layout::pk_of(def, vals);
        if self.has_row(def, &pk)? {
            self.update(def, vals, extras, false)?;
            Ok(true)
        } else {
            self.insert(def, vals, extras, false)?;
            Ok(false)
        }
    }

    fn delete(&mut self, def: &'static TableDef, pk: &[u8]) -> Result<bool> {
        let t = self.table(def)?;
        let mut st = Stmt::default();
        let cond = sql::key_equals(&mut st, t, &key_cols(t, None), pk)?;
        st.sql = format!("DELETE FROM {} WHERE {cond}", t.q);
        self.savepoint(
            |w| w.execute(&st).map(|n| n > 0),
            |w, e| w.write_error(t, None, pk, e),
        )
    }

    /// One more than the highest id ever handed out or stored. The table's
    /// row in the sequence table is locked until commit, so concurrent
    /// writers take ids one after another and a rollback gives an id back
    /// unused (PostgreSQL's own sequences are not transactional).
    fn next_id(&mut self, def: &'static TableDef) -> Result<i64> {
        let t = self.table(def)?;
        let pk = &t.cols[def.primary_key[0]];
        let st = Stmt {
            sql: format!(
                "INSERT INTO {SEQUENCES} (table_name, last_id) VALUES ($1::text, 0) \
                 ON CONFLICT (table_name) DO UPDATE SET last_id = {SEQUENCES}.last_id \
                 RETURNING (GREATEST(last_id, (SELECT COALESCE(max({}), 0) FROM {})) + 1)::text",
                pk.q, t.q
            ),
            params: vec![Some(t.name.clone())],
        };
        let rows = self.query(&st)?;
        Self::first_text(t, &rows, "next id")?
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| Error::InvalidArgument(format!("table {}: no next id", def.name)))
    }

    fn raise_sequence_to(&mut self, def: &'static TableDef, id: i64) -> Result<()> {
        let t = self.table(def)?;
        self.bump_sequence(t, id)
    }

    /// PostgreSQL checks foreign keys with triggers that only a session in
    /// the `replica` replication role skips; setting it needs a superuser
    /// (or, on PostgreSQL 15+, a role granted that setting). Without it
    /// this is an error naming the database, never a silent no-op.
    fn set_foreign_keys(&mut self, on: bool) -> Result<()> {
        let role = if on { "DEFAULT" } else { "replica" };
        self.exec(&format!("SET LOCAL session_replication_role = {role}"))
            .map_err(|e| {
                Error::InvalidArgument(format!(
                    "{}: turning foreign keys {} needs permission to set \
                     session_replication_role ({e})",
                    self.set.origin().display(),
                    if on { "on" } else { "off" }
                ))
            })
    }
}

/// A PostgreSQL error, naming the database (a redacted DSN) and what was
/// being done; the client's error stays the source.
pub fn pg_error(origin: &Path, context: &str, e: postgres::Error) -> Error {
    super::error(&origin.display().to_string(), context, e)
}
