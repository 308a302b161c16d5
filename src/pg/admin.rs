//! What `aragora-db migrate`, `status` and `verify` do on PostgreSQL.
//!
//! Every store the configuration puts on PostgreSQL shares one schema on
//! one server ([`server`]). [`schema_state`] and [`verify`] only read the
//! system tables and the tables (nothing is created: a database without the
//! schema is reported as such); [`migrate`] runs the schema steps
//! ([`super::schema::steps`]) under a session advisory lock on
//! [`SCHEMA_LOCK`], so what it reports as created was created by this
//! process, even when another process migrates at the same moment.

use super::Pool;
use super::rows::SEQUENCES;
use crate::config::{BackendKind, Config, DbTarget};
use crate::error::{Error, Result};
use crate::export::pgshape::{self, PgTable, SCHEMA_LOCK, VERSIONS_TABLE};
use crate::export::types::PgType;
use crate::table::{OnDelete, TableDef};
use std::collections::BTreeMap;

/// The PostgreSQL server of a configuration and the stores it holds.
pub struct Server {
    /// The process-wide pool (connections opened on demand).
    pub pool: Pool,
    /// The databases and stores the configuration puts on it.
    pub targets: Vec<DbTarget>,
}

impl Server {
    /// The redacted DSN (`postgresql://user:***@host:5432/db`).
    pub fn name(&self) -> String {
        self.pool.settings().dsn.to_string()
    }

    /// The variable the DSN came from.
    pub fn dsn_source(&self) -> &'static str {
        self.pool.settings().dsn_source
    }
}

/// The server the configuration puts stores on, if any (opens no
/// connection).
pub fn server(config: &Config) -> Result<Option<Server>> {
    let targets: Vec<DbTarget> = DbTarget::all()
        .filter(|t| config.backend.kind_for(*t) == BackendKind::Postgres)
        .collect();
    let Some(&first) = targets.first() else {
        return Ok(None);
    };
    let pool = super::pool_for(config, first)?
        .ok_or_else(|| Error::InvalidArgument(format!("{}: not on PostgreSQL", first.value())))?;
    Ok(Some(Server { pool, targets }))
}

/// One declared table as found on the server.
#[derive(Debug, Clone)]
pub struct TableState {
    /// The declaration.
    pub def: &'static TableDef,
    /// Its PostgreSQL name.
    pub pg_name: String,
    /// Whether the table exists.
    pub exists: bool,
    /// The version this binary declares.
    pub declared: u32,
    /// The version recorded in the versions table, if any.
    pub recorded: Option<i64>,
    /// Columns, constraints and indexes it has (to tell what a migration added).
    pub objects: (i64, i64, i64),
}

impl TableState {
    /// `current`, `missing` (no table), `unrecorded` (no version),
    /// `pending` (older version) or `too new` (newer than this binary).
    pub fn state(&self) -> &'static str {
        match (self.exists, self.recorded) {
            (false, _) => "missing",
            (true, None) => "unrecorded",
            (true, Some(v)) if v < i64::from(self.declared) => "pending",
            (true, Some(v)) if v > i64::from(self.declared) => "too new",
            (true, Some(_)) => "current",
        }
    }
}

/// The schema as found on the server.
#[derive(Debug, Clone)]
pub struct SchemaState {
    /// Whether [`VERSIONS_TABLE`] exists (no schema at all when it does not).
    pub versions_table: bool,
    /// Whether the backend's own sequence table exists.
    pub sequences_table: bool,
    /// Every declared table, in registry order.
    pub tables: Vec<TableState>,
}

impl SchemaState {
    /// Everything declared is there at the declared version.
    pub fn is_current(&self) -> bool {
        self.versions_table
            && self.sequences_table
            && self.tables.iter().all(|t| t.state() == "current")
    }

    /// Tables whose recorded version is newer than this binary's.
    pub fn too_new(&self) -> Vec<&TableState> {
        self.tables
            .iter()
            .filter(|t| t.state() == "too new")
            .collect()
    }
}

fn pg_err(target: &str, what: &str, e: postgres::Error) -> Error {
    super::error(target, what.to_string(), e)
}

fn names(shapes: &[&PgTable]) -> Vec<String> {
    shapes.iter().map(|s| s.name.clone()).collect()
}

/// Reads the schema's state (pg_catalog and the versions table only; writes nothing).
pub fn schema_state(client: &mut postgres::Client, target: &str) -> Result<SchemaState> {
    let shapes = pgshape::all();
    let err = |e| pg_err(target, "read the schema state", e);
    let exists = |client: &mut postgres::Client, name: &str| -> Result<bool> {
        client
            .query_one(
                "SELECT to_regclass(quote_ident($1::text)) IS NOT NULL",
                &[&name],
            )
            .map(|r| r.get(0))
            .map_err(err)
    };
    let versions_table = exists(client, VERSIONS_TABLE)?;
    let sequences_table = exists(client, SEQUENCES)?;
    let mut recorded: BTreeMap<String, i64> = BTreeMap::new();
    if versions_table {
        for r in client
            .query(
                &format!("SELECT table_name, version::bigint FROM {VERSIONS_TABLE}"),
                &[],
            )
            .map_err(err)?
        {
            recorded.insert(r.get(0), r.get(1));
        }
    }
    let rows = client
        .query(
            "SELECT t.n, r.oid IS NOT NULL, \
               (SELECT count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped), \
               (SELECT count(*) FROM pg_catalog.pg_constraint c WHERE c.conrelid = r.oid), \
               (SELECT count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = r.oid) \
             FROM unnest($1::text[]) WITH ORDINALITY AS t(n, ord) \
             LEFT JOIN LATERAL (SELECT to_regclass(quote_ident(t.n))::oid AS oid) r ON true \
             ORDER BY t.ord",
            &[&names(&shapes)],
        )
        .map_err(err)?;
    let tables = shapes
        .iter()
        .zip(rows)
        .map(|(s, r)| TableState {
            def: s.def,
            pg_name: s.name.clone(),
            exists: r.get(1),
            declared: s.def.version,
            recorded: recorded.get(&s.name).copied(),
            objects: (r.get(2), r.get(3), r.get(4)),
        })
        .collect();
    Ok(SchemaState {
        versions_table,
        sequences_table,
        tables,
    })
}

/// The error for a database without the schema (status, verify and the
/// other reading commands do not create it).
pub fn no_schema(server: &str) -> Error {
    Error::InvalidArgument(format!(
        "PostgreSQL {server}: no aragora-db schema in this database ({VERSIONS_TABLE} does not exist): \
         run `aragora-db migrate --migrate` to create it"
    ))
}

/// What one [`migrate`] did.
#[derive(Debug, Clone)]
pub struct MigrateReport {
    /// Steps run (each one transaction).
    pub steps: usize,
    /// Tables created.
    pub created: Vec<String>,
    /// Tables that existed and gained columns, constraints or indexes:
    /// `(table, columns, constraints, indexes)` added.
    pub altered: Vec<(String, i64, i64, i64)>,
    /// Versions recorded (`table`, version) where none or an older one was.
    pub recorded: Vec<(String, i64)>,
    /// Whether the backend's sequence table was created.
    pub created_sequences: bool,
    /// The state afterwards.
    pub after: SchemaState,
}

impl MigrateReport {
    /// Nothing changed.
    pub fn nothing_done(&self) -> bool {
        self.created.is_empty()
            && self.altered.is_empty()
            && self.recorded.is_empty()
            && !self.created_sequences
    }
}

/// Brings the server's database to the declared schema: takes the session
/// advisory lock [`SCHEMA_LOCK`] (a second process waits for the first and
/// then finds nothing to do), reads the state, runs every step, reads the
/// state again and reports the difference. Idempotent.
pub fn migrate(pool: &Pool) -> Result<MigrateReport> {
    let mut client = pool.get()?;
    let target = client.target().to_string();
    client
        .batch_execute(&format!(
            "SELECT pg_catalog.pg_advisory_lock({SCHEMA_LOCK})"
        ))
        .map_err(|e| pg_err(&target, "take the schema lock", e))?;
    let run = (|| -> Result<(SchemaState, SchemaState, usize)> {
        let before = schema_state(&mut client, &target)?;
        if let Some(t) = before.too_new().first() {
            return Err(Error::InvalidArgument(format!(
                "PostgreSQL {target}: table {} is at schema version {} on this database, \
                 newer than this aragora-db knows ({}): upgrade aragora-db",
                t.pg_name,
                t.recorded.unwrap_or_default(),
                t.declared
            )));
        }
        let steps = super::schema::steps()?;
        for (i, sql) in steps.iter().enumerate() {
            client
                .batch_execute(sql)
                .map_err(|e| pg_err(&target, &format!("schema step {}", i + 1), e))?;
        }
        let after = schema_state(&mut client, &target)?;
        Ok((before, after, steps.len()))
    })();
    let (before, after, steps) = match run {
        Ok(r) => r,
        Err(e) => {
            // Closing the session releases the lock and ends any
            // transaction a failed step left open.
            client.discard();
            return Err(e);
        }
    };
    client
        .batch_execute(&format!(
            "SELECT pg_catalog.pg_advisory_unlock({SCHEMA_LOCK})"
        ))
        .map_err(|e| pg_err(&target, "release the schema lock", e))?;
    let mut report = MigrateReport {
        steps,
        created: Vec::new(),
        altered: Vec::new(),
        recorded: Vec::new(),
        created_sequences: !before.sequences_table && after.sequences_table,
        after,
    };
    for (b, a) in before.tables.iter().zip(&report.after.tables) {
        if !b.exists && a.exists {
            report.created.push(a.pg_name.clone());
        } else if a.objects != b.objects {
            report.altered.push((
                a.pg_name.clone(),
                a.objects.0 - b.objects.0,
                a.objects.1 - b.objects.1,
                a.objects.2 - b.objects.2,
            ));
        }
        if a.recorded != b.recorded
            && let Some(v) = a.recorded
        {
            report.recorded.push((a.pg_name.clone(), v));
        }
    }
    Ok(report)
}

/// Row counts of the tables that exist, from one snapshot (a read-only
/// repeatable-read transaction).
pub fn row_counts(
    client: &mut postgres::Client,
    target: &str,
    state: &SchemaState,
) -> Result<BTreeMap<String, i64>> {
    let err = |e| pg_err(target, "count rows", e);
    let mut txn = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(err)?;
    let mut out = BTreeMap::new();
    for t in state.tables.iter().filter(|t| t.exists) {
        let sql = format!("SELECT count(*) FROM {}", crate::export::q(&t.pg_name)?);
        let n: i64 = txn.query_one(&sql, &[]).map_err(err)?.get(0);
        out.insert(t.pg_name.clone(), n);
    }
    txn.commit().map_err(err)?;
    Ok(out)
}

/// The name `format_type` gives a type.
fn format_type_name(t: PgType) -> &'static str {
    match t {
        PgType::Timestamptz | PgType::TimestamptzEpoch => "timestamp with time zone",
        other => other.sql(),
    }
}

/// `pg_constraint.confdeltype` of a declared `ON DELETE`.
fn on_delete_code(o: OnDelete) -> &'static str {
    match o {
        OnDelete::Restrict => "r",
        OnDelete::Cascade => "c",
        OnDelete::SetNull => "n",
    }
}

fn on_delete_name(code: &str) -> &'static str {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "unknown",
    }
}

/// One difference [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The table (PostgreSQL name).
    pub table: String,
    /// The column or constraint concerned, if any.
    pub key: String,
    /// What is wrong.
    pub what: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Each declared table with its row count (`None`: missing).
    pub tables: Vec<(String, Option<i64>)>,
    /// Every difference from the declarations.
    pub problems: Vec<Problem>,
    /// Foreign keys a move or import added `NOT VALID` because the
    /// original left references without a parent (warnings).
    pub inherited: Vec<Problem>,
}

/// Checks the database against the declarations: every declared table
/// exists with every declared column (type, NOT NULL), its primary key,
/// every declared index (on the declared columns, UNIQUE where declared,
/// valid),
/// every declared foreign key present (to the declared parent, on the
/// declared columns, with the declared `ON DELETE`) and validated (`pg_constraint.convalidated`), the
/// full-text column, and each table's recorded version; counts the rows
/// (one snapshot). Reads only.
pub fn verify(client: &mut postgres::Client, target: &str) -> Result<VerifyReport> {
    let state = schema_state(client, target)?;
    if !state.versions_table {
        return Err(no_schema(target));
    }
    let shapes = pgshape::all();
    let err = |e| pg_err(target, "read pg_catalog", e);
    let table_names = names(&shapes);
    // (table, column) -> (type, not null)
    let mut columns: BTreeMap<(String, String), (String, bool)> = BTreeMap::new();
    for r in client
        .query(
            "SELECT t.n, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull \
             FROM unnest($1::text[]) AS t(n) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = to_regclass(quote_ident(t.n)) \
             WHERE a.attnum > 0 AND NOT a.attisdropped",
            &[&table_names],
        )
        .map_err(err)?
    {
        columns.insert((r.get(0), r.get(1)), (r.get(2), r.get(3)));
    }
    // table -> [(name, contype, parent, columns, validated, on delete, comment)]
    type Constraint = (
        String,
        String,
        Option<String>,
        Vec<String>,
        bool,
        String,
        Option<String>,
    );
    let mut constraints: BTreeMap<String, Vec<Constraint>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT t.n, c.conname::text, c.contype::text, \
               (SELECT p.relname::text FROM pg_catalog.pg_class p WHERE p.oid = c.confrelid), \
               ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord) \
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.ord), \
               c.convalidated, c.confdeltype::text, \
               pg_catalog.obj_description(c.oid, 'pg_constraint') \
             FROM unnest($1::text[]) AS t(n) \
             JOIN pg_catalog.pg_constraint c ON c.conrelid = to_regclass(quote_ident(t.n)) \
             WHERE c.contype IN ('p', 'f')",
            &[&table_names],
        )
        .map_err(err)?
    {
        constraints.entry(r.get(0)).or_default().push((
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
            r.get(7),
        ));
    }
    // table -> [(index name, unique, columns, valid, partial or on expressions)]
    type Idx = (String, bool, Vec<String>, bool, bool);
    let mut indexes: BTreeMap<String, Vec<Idx>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT t.n, c.relname::text, i.indisunique, \
               ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord) \
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.ord), \
               i.indisvalid, (i.indpred IS NOT NULL OR i.indexprs IS NOT NULL) \
             FROM unnest($1::text[]) AS t(n) \
             JOIN pg_catalog.pg_index i ON i.indrelid = to_regclass(quote_ident(t.n)) \
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid",
            &[&table_names],
        )
        .map_err(err)?
    {
        indexes
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)));
    }
    let counts = row_counts(client, target, &state)?;
    let mut problems = Vec::new();
    let mut inherited = Vec::new();
    let mut problem = |table: &str, key: &str, what: String| {
        problems.push(Problem {
            table: table.to_string(),
            key: key.to_string(),
            what,
        })
    };
    if !state.sequences_table {
        problem(
            SEQUENCES,
            "",
            "missing (run `aragora-db migrate --migrate`)".into(),
        );
    }
    let mut tables = Vec::new();
    for (s, st) in shapes.iter().zip(&state.tables) {
        tables.push((s.name.clone(), counts.get(&s.name).copied()));
        if !st.exists {
            problem(
                &s.name,
                "",
                "table missing (run `aragora-db migrate --migrate`)".into(),
            );
            continue;
        }
        match st.state() {
            "current" => {}
            "unrecorded" => problem(&s.name, "", "no schema version recorded".into()),
            other => problem(
                &s.name,
                "",
                format!(
                    "schema version {} recorded, {} declared ({other})",
                    st.recorded.unwrap_or_default(),
                    st.declared
                ),
            ),
        }
        for c in &s.columns {
            let want = format_type_name(c.ty);
            match columns.get(&(s.name.clone(), c.pg_name.clone())) {
                None => problem(&s.name, &c.pg_name, format!("column missing ({want})")),
                Some((ty, _)) if ty != want => problem(
                    &s.name,
                    &c.pg_name,
                    format!("column is {ty}, declared {want}"),
                ),
                Some((_, false)) if c.not_null => problem(
                    &s.name,
                    &c.pg_name,
                    "column is nullable, declared NOT NULL".into(),
                ),
                Some(_) => {}
            }
        }
        if let Some(search) = &s.search {
            match columns.get(&(s.name.clone(), search.column.clone())) {
                Some((ty, _)) if ty == "tsvector" => {}
                Some((ty, _)) => problem(
                    &s.name,
                    &search.column,
                    format!("column is {ty}, declared tsvector"),
                ),
                None => problem(&s.name, &search.column, "column missing (tsvector)".into()),
            }
        }
        let found = constraints.get(&s.name).map(Vec::as_slice).unwrap_or(&[]);
        if !s.primary_key.is_empty() {
            let want: Vec<String> = s
                .primary_key
                .iter()
                .map(|&i| s.columns[i].pg_name.clone())
                .collect();
            match found.iter().find(|c| c.1 == "p") {
                None => problem(
                    &s.name,
                    "",
                    format!("primary key ({}) missing", want.join(", ")),
                ),
                Some(c) if c.3 != want => problem(
                    &s.name,
                    &c.0,
                    format!(
                        "primary key is ({}), declared ({})",
                        c.3.join(", "),
                        want.join(", ")
                    ),
                ),
                Some(_) => {}
            }
        }
        // Each declared index, found by its columns (a name may differ on a
        // database the original's stores made): a missing UNIQUE index
        // means duplicates are no longer refused.
        let have = indexes.get(&s.name).map(Vec::as_slice).unwrap_or(&[]);
        for idx in &s.indexes {
            let cols: Vec<String> = idx
                .def
                .columns
                .iter()
                .map(|&i| s.columns[i].pg_name.clone())
                .collect();
            let kind = if idx.def.unique {
                "UNIQUE index"
            } else {
                "index"
            };
            let wanted = format!("{kind} {} ({})", idx.name, cols.join(", "));
            let usable = |i: &&Idx| i.2 == cols && !i.4 && (i.1 || !idx.def.unique);
            match have.iter().find(usable) {
                None => problem(
                    &s.name,
                    &idx.name,
                    if idx.def.unique {
                        format!("{wanted} missing: duplicate values are not refused")
                    } else {
                        format!("{wanted} missing: lookups by it scan the table")
                    },
                ),
                Some(i) if !i.3 => problem(
                    &s.name,
                    &i.0,
                    format!(
                        "{wanted} is not valid (a failed CREATE INDEX CONCURRENTLY?): REINDEX it"
                    ),
                ),
                Some(_) => {}
            }
        }
        for fk in &s.foreign_keys {
            let parent = pgshape::shape(fk.parent);
            let cols: Vec<String> = fk
                .columns
                .iter()
                .map(|&i| s.columns[i].pg_name.clone())
                .collect();
            let wanted = format!("foreign key ({}) -> {}", cols.join(", "), parent.name);
            let hit = found.iter().find(|c| {
                c.1 == "f" && c.2.as_deref() == Some(parent.name.as_str()) && c.3 == cols
            });
            let Some(c) = hit else {
                problem(&s.name, &fk.name, format!("{wanted} missing"));
                continue;
            };
            if !c.4 && c.6.as_deref() == Some(pgshape::INHERITED_NOT_VALID) {
                inherited.push(Problem {
                    table: s.name.clone(),
                    key: c.0.clone(),
                    what: format!(
                        "{wanted} is NOT VALID: its rows include references without a \
                         parent, left by the original and kept by a move or import"
                    ),
                });
            } else if !c.4 {
                problem(
                    &s.name,
                    &c.0,
                    format!(
                        "{wanted} is NOT VALID (existing rows were never checked; \
                         ALTER TABLE … VALIDATE CONSTRAINT {})",
                        c.0
                    ),
                );
            }
            if c.5 != on_delete_code(fk.on_delete) {
                problem(
                    &s.name,
                    &c.0,
                    format!(
                        "{wanted} is ON DELETE {}, declared {}",
                        on_delete_name(&c.5),
                        on_delete_name(on_delete_code(fk.on_delete))
                    ),
                );
            }
        }
    }
    Ok(VerifyReport {
        tables,
        problems,
        inherited,
    })
}
