//! The live PostgreSQL schema (`export::pgshape`): the schema step applied
//! to a fresh database creates exactly what the declarations say (names,
//! types, NOT NULL, primary keys, UNIQUE indexes, foreign keys with their
//! `ON DELETE`), applies again as a no-op, runs from two processes at once,
//! carries the names and types the original's PostgreSQL stores use, and
//! accepts statements shaped like theirs; the value codec round-trips
//! through a real server.
//!
//! The expected side is read from the declarations (`TableDef` and its
//! `pg` items) with this file's own type table, not from `pgshape`.
//! Needs PostgreSQL (see `export_pg.rs`).

use crate::export_pg::{TempDb, available};
use aragora_db::export::inserts::literal_into;
use aragora_db::export::pgshape::{self, PgColumn, migration_steps};
use aragora_db::export::types::PgType;
use aragora_db::schema::{self, ALL_TABLES};
use aragora_db::table::{ColumnDef, OnDelete, SqlType, TableDef, Value, ValueRef};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn schema_sql() -> String {
    migration_steps()
        .unwrap()
        .into_iter()
        .map(|s| s.sql)
        .collect()
}

fn migrated(tag: &str) -> TempDb {
    let db = TempDb::new(tag);
    db.load(&schema_sql());
    db
}

/// `information_schema.columns.data_type` of a declared column, from the
/// declaration: the `[pg as …]` override, else the SQL type's mapping, with
/// JSON and timestamps as text in tables no original PostgreSQL store reads.
fn data_type(def: &TableDef, c: &ColumnDef) -> &'static str {
    let verbatim = !def.owner.shared_with_original_postgres();
    let t = c.pg_type.unwrap_or(match c.sql {
        SqlType::Json | SqlType::Timestamp if verbatim => PgType::Text,
        SqlType::Text => PgType::Text,
        SqlType::Integer => PgType::BigInt,
        SqlType::Real | SqlType::Epoch => PgType::Double,
        SqlType::Blob => PgType::Bytea,
        SqlType::Bool => PgType::Boolean,
        SqlType::Json => PgType::Jsonb,
        SqlType::Timestamp => PgType::Timestamptz,
    });
    words(t)
}

fn words(t: PgType) -> &'static str {
    match t {
        PgType::Boolean => "boolean",
        PgType::Integer => "integer",
        PgType::BigInt => "bigint",
        PgType::Double => "double precision",
        PgType::Timestamptz | PgType::TimestamptzEpoch => "timestamp with time zone",
        PgType::Jsonb => "jsonb",
        PgType::Text => "text",
        PgType::Bytea => "bytea",
    }
}

fn pg_table(def: &TableDef) -> &'static str {
    def.pg.name.unwrap_or(def.name)
}

fn pg_cols(def: &TableDef, cols: &[usize]) -> Vec<String> {
    cols.iter()
        .map(|&c| {
            let c = &def.columns[c];
            c.pg_name.unwrap_or(c.name).to_string()
        })
        .collect()
}

/// A foreign key: columns, parent table, parent columns, delete action
/// (`pg_constraint.confdeltype`).
type Fk = (Vec<String>, String, Vec<String>, String);

/// What pg_catalog says about the public schema, per table: columns
/// (name, type, NOT NULL) in order, the primary key, the UNIQUE indexes'
/// column lists, and the foreign keys (columns, parent, parent columns,
/// delete action).
#[derive(Debug, Default, PartialEq)]
struct SchemaView {
    columns: BTreeMap<String, Vec<(String, String, bool)>>,
    pk: BTreeMap<String, Vec<String>>,
    unique: BTreeMap<String, BTreeSet<Vec<String>>>,
    fks: BTreeMap<String, BTreeSet<Fk>>,
    triggers: BTreeSet<(String, String)>,
}

fn schema_view(db: &TempDb) -> SchemaView {
    let mut c = SchemaView::default();
    for r in db.rows(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    ) {
        let f = |i: usize| r[i].clone().unwrap();
        c.columns
            .entry(f(0))
            .or_default()
            .push((f(1), f(2), f(3) == "NO"));
    }
    // Index columns in index order (`indkey`), primary keys and UNIQUE.
    for r in db.rows(
        "SELECT t.relname, i.indisprimary, array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ',') \
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace \
         WHERE s.nspname = 'public' AND i.indisunique",
    ) {
        let t = r[0].clone().unwrap();
        let cols: Vec<String> = r[2]
            .clone()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        if r[1].as_deref() == Some("t") {
            c.pk.insert(t, cols);
        } else {
            c.unique.entry(t).or_default().insert(cols);
        }
    }
    let cols_of = |rel: &str, keys: &str| {
        format!(
            "array_to_string(ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY k(n, o) \
             JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.n ORDER BY k.o), ',')"
        )
    };
    for r in db.rows(&format!(
        "SELECT t.relname, {}, p.relname, {}, f.confdeltype::text, f.condeferrable::text || f.condeferred::text \
         FROM pg_constraint f JOIN pg_class t ON t.oid = f.conrelid JOIN pg_class p ON p.oid = f.confrelid \
         JOIN pg_namespace s ON s.oid = t.relnamespace WHERE s.nspname = 'public' AND f.contype = 'f'",
        cols_of("t.oid", "f.conkey"),
        cols_of("p.oid", "f.confkey")
    )) {
        let f = |i: usize| r[i].clone().unwrap();
        assert_eq!(f(5), "truetrue", "{}: foreign keys are deferrable, deferred", f(0));
        let split = |s: String| s.split(',').map(str::to_string).collect::<Vec<_>>();
        c.fks
            .entry(f(0))
            .or_default()
            .insert((split(f(1)), f(2), split(f(3)), f(4)));
    }
    for r in db.rows(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal",
    ) {
        c.triggers
            .insert((r[0].clone().unwrap(), r[1].clone().unwrap()));
    }
    c
}

/// The schema the declarations promise.
fn declared() -> SchemaView {
    let mut c = SchemaView::default();
    let versions = pgshape::VERSIONS_TABLE.to_string();
    c.columns.insert(
        versions.clone(),
        vec![
            ("table_name".into(), "text".into(), true),
            ("version".into(), "integer".into(), true),
            ("updated_at".into(), "timestamp with time zone".into(), true),
        ],
    );
    c.pk.insert(versions, vec!["table_name".into()]);
    for &def in ALL_TABLES {
        let t = pg_table(def).to_string();
        let mut cols: Vec<(String, String, bool)> = def
            .columns
            .iter()
            .map(|col| {
                (
                    col.pg_name.unwrap_or(col.name).to_string(),
                    data_type(def, col).to_string(),
                    !col.nullable,
                )
            })
            .collect();
        cols.extend(
            def.pg
                .only
                .iter()
                .map(|o| (o.name.to_string(), words(o.ty).to_string(), false)),
        );
        // Every table keeps undeclared columns in `_extra`.
        cols.push(("_extra".into(), "jsonb".into(), false));
        if let Some(sv) = def.pg.search {
            cols.push((sv.column.to_string(), "tsvector".into(), false));
            c.triggers.insert((t.clone(), sv.trigger.to_string()));
        }
        c.columns.insert(t.clone(), cols);
        c.pk.insert(t.clone(), pg_cols(def, def.primary_key));
        for i in def.indexes.iter().filter(|i| i.unique) {
            c.unique
                .entry(t.clone())
                .or_default()
                .insert(pg_cols(def, i.columns));
        }
        for fk in def.foreign_keys {
            let parent = (fk.parent)();
            let action = match fk.on_delete {
                OnDelete::Cascade => "c",
                OnDelete::SetNull => "n",
                OnDelete::Restrict => "r",
            };
            c.fks.entry(t.clone()).or_default().insert((
                pg_cols(def, fk.columns),
                pg_table(parent).to_string(),
                pg_cols(parent, parent.primary_key),
                action.to_string(),
            ));
        }
    }
    c
}

fn assert_same(got: &SchemaView, want: &SchemaView) {
    let keys = |m: &BTreeMap<String, Vec<(String, String, bool)>>| {
        m.keys().cloned().collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&got.columns), keys(&want.columns), "tables");
    for (t, cols) in &want.columns {
        assert_eq!(&got.columns[t], cols, "{t}: columns (name, type, NOT NULL)");
    }
    assert_eq!(got.pk, want.pk, "primary keys");
    assert_eq!(got.unique, want.unique, "UNIQUE indexes");
    assert_eq!(got.fks, want.fks, "foreign keys");
    assert_eq!(got.triggers, want.triggers, "triggers");
}

#[test]
fn schema_step_creates_exactly_the_declared_tables() {
    if !available() {
        return;
    }
    let db = migrated("pgschema");
    assert_same(&schema_view(&db), &declared());
    let versions = db.rows("SELECT table_name, version FROM aragora_schema_versions");
    assert_eq!(versions.len(), ALL_TABLES.len());
    for &def in ALL_TABLES {
        assert!(
            versions
                .iter()
                .any(|r| r[0].as_deref() == Some(pg_table(def))
                    && r[1] == Some(def.version.to_string())),
            "{}: version not recorded",
            def.name
        );
    }
}

#[test]
fn schema_step_applies_twice_and_from_two_processes_at_once() {
    if !available() {
        return;
    }
    let db = migrated("pgtwice");
    let before = schema_view(&db);
    db.load(&schema_sql());
    assert_eq!(schema_view(&db), before, "a second run changed the schema");

    // Two processes on a fresh database at the same moment.
    let fresh = TempDb::new("pgrace");
    let sql = schema_sql();
    std::thread::scope(|s| {
        let a = s.spawn(|| fresh.load(&sql));
        let b = s.spawn(|| fresh.load(&sql));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_eq!(schema_view(&fresh), before);
    assert_eq!(
        fresh.scalar("SELECT count(*) FROM aragora_schema_versions"),
        ALL_TABLES.len().to_string()
    );

    // A newer recorded version is refused, naming the table.
    fresh.load("UPDATE aragora_schema_versions SET version = 99 WHERE table_name = 'users'");
    let err = fresh.load_fails(&sql);
    assert!(err.contains("table users is at schema version 99"), "{err}");
}

/// The names and types the original's PostgreSQL stores need, spelled out.
#[test]
fn names_and_types_the_original_stores_use() {
    if !available() {
        return;
    }
    let db = migrated("pgnames");
    let cat = schema_view(&db);
    let ty = |t: &str, c: &str| -> String {
        cat.columns
            .get(t)
            .unwrap_or_else(|| panic!("no table {t}"))
            .iter()
            .find(|x| x.0 == c)
            .unwrap_or_else(|| panic!("no column {t}.{c}"))
            .1
            .clone()
    };
    for (t, c, want) in [
        ("users", "failed_login_attempts", "bigint"),
        ("users", "lockout_until", "timestamp with time zone"),
        ("users", "preferences", "jsonb"),
        ("usage_events", "created_at", "timestamp with time zone"),
        ("usage_events", "count", "integer"),
        ("organizations", "debates_used_this_month", "integer"),
        ("audit_log", "old_value", "text"),
        ("audit_log", "new_value", "text"),
        ("audit_log", "metadata", "text"),
        ("audit_events", "details", "text"),
        ("insights", "type", "text"),
        ("insights", "search_vector", "tsvector"),
        ("agent_performance_history", "proposals_made", "integer"),
        ("token_blacklist", "expires_at", "timestamp with time zone"),
        ("token_blacklist", "revoked_at", "timestamp with time zone"),
        ("webhook_configs", "created_at", "timestamp with time zone"),
        (
            "webhook_configs",
            "last_delivery_at",
            "timestamp with time zone",
        ),
        ("webhook_events", "processed_at", "timestamp with time zone"),
        ("share_links", "allow_comments", "integer"),
        ("share_links", "allow_forking", "integer"),
        ("share_links", "created_at", "double precision"),
        ("policies", "enabled", "integer"),
        ("policies", "rules_json", "text"),
        ("policies", "created_at", "text"),
        ("violations", "detected_at", "text"),
        ("policy_audit", "changed_at", "text"),
        ("explainability_batch_jobs", "results_json", "text"),
        (
            "explainability_batch_jobs",
            "created_at",
            "double precision",
        ),
        ("elo_ratings", "elo", "double precision"),
        ("elo_matches", "participants", "jsonb"),
        ("debates", "slug", "text"),
        ("debates", "artifact_json", "jsonb"),
        ("debates", "org_id", "text"),
        ("debates", "is_public", "boolean"),
        ("debates", "search_vector", "tsvector"),
        ("critique_debates", "task", "text"),
    ] {
        assert_eq!(ty(t, c), want, "{t}.{c}");
    }
    for gone in ["ratings", "matches", "core_debates", "agent_relationships"] {
        assert!(!cat.columns.contains_key(gone), "{gone} is still there");
    }
    for gone in [
        ("users", "failed_login_count"),
        ("users", "locked_until"),
        ("usage_events", "timestamp"),
        ("insights", "insight_type"),
    ] {
        assert!(
            !cat.columns[gone.0].iter().any(|c| c.0 == gone.1),
            "{gone:?} is still there"
        );
    }
    // The triggers keep search_vector up.
    db.load(
        "INSERT INTO insights (id, type, title, description, debate_id) VALUES ('i1', 'pattern', 'Rate limiting', 'token buckets', 'd1');\n\
         INSERT INTO debates (id, slug, task, agents, artifact_json) VALUES ('d1', 'rate-limits', 'Design rate limiting', '[]', '{}');",
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM insights WHERE search_vector @@ plainto_tsquery('english', 'bucket')"),
        "1"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM debates WHERE search_vector @@ plainto_tsquery('english', 'limiting')"),
        "1"
    );
}

/// Statements shaped like those of the original's PostgreSQL stores (our
/// own wording of the columns, types and operators each one uses; see
/// docs/POSTGRES.md), prepared against the schema: PostgreSQL checks every
/// name and operator type at PREPARE.
#[test]
fn statements_like_the_original_stores_prepare() {
    if !available() {
        return;
    }
    let db = migrated("pgstores");
    let stmts: &[(&str, &str)] = &[
        // PostgresUserStore
        (
            "users",
            "SELECT id, email, failed_login_attempts, lockout_until, last_failed_login_at, preferences, is_active, mfa_enabled, token_version FROM users WHERE email = $1",
        ),
        (
            "users",
            "UPDATE users SET failed_login_attempts = failed_login_attempts + 1, last_failed_login_at = now(), lockout_until = CASE WHEN failed_login_attempts + 1 >= $2 THEN now() + interval '15 minutes' ELSE lockout_until END WHERE email = $1 RETURNING failed_login_attempts",
        ),
        (
            "users",
            "SELECT count(*) FROM users WHERE lockout_until > now()",
        ),
        (
            "users",
            "UPDATE users SET preferences = $2::jsonb, updated_at = now() WHERE id = $1",
        ),
        (
            "users",
            "SELECT SUM(debates_used_this_month)::bigint FROM organizations",
        ),
        (
            "users",
            "INSERT INTO usage_events (org_id, event_type, count, metadata, created_at) VALUES ($1, $2, $3, $4::jsonb, now())",
        ),
        (
            "users",
            "SELECT event_type, SUM(count) FROM usage_events WHERE org_id = $1 AND created_at >= $2 GROUP BY event_type",
        ),
        (
            "users",
            "INSERT INTO oauth_providers (user_id, provider, provider_user_id, email, linked_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT (provider, provider_user_id) DO UPDATE SET user_id = EXCLUDED.user_id",
        ),
        (
            "users",
            "INSERT INTO audit_log (timestamp, user_id, org_id, action, resource_type, resource_id, old_value, new_value, metadata, ip_address, user_agent) VALUES (now(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        ),
        (
            "users",
            "SELECT id, org_id, email, role, token, invited_by, status, created_at, expires_at, accepted_at, accepted_by FROM org_invitations WHERE token = $1",
        ),
        // PostgresBlacklist
        (
            "token_blacklist",
            "INSERT INTO token_blacklist (jti, expires_at, revoked_at) VALUES ($1, to_timestamp($2), now()) ON CONFLICT (jti) DO UPDATE SET expires_at = to_timestamp($2), revoked_at = now()",
        ),
        (
            "token_blacklist",
            "DELETE FROM token_blacklist WHERE expires_at < now()",
        ),
        // PostgresWebhookConfigStore / PostgresWebhookStore
        (
            "webhooks",
            "INSERT INTO webhook_configs (id, url, events_json, secret, active, created_at, updated_at, name) VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7), $8)",
        ),
        (
            "webhooks",
            "SELECT id, EXTRACT(EPOCH FROM created_at), EXTRACT(EPOCH FROM last_delivery_at), delivery_count, failure_count FROM webhook_configs WHERE active = true",
        ),
        (
            "webhooks",
            "UPDATE webhook_configs SET last_delivery_at = now(), last_delivery_status = $2, delivery_count = delivery_count + 1 WHERE id = $1",
        ),
        (
            "webhooks",
            "SELECT 1 FROM webhook_events WHERE event_id = $1 AND processed_at > now() - interval '1 second' * $2",
        ),
        (
            "webhooks",
            "INSERT INTO webhook_events (event_id, processed_at, result) VALUES ($1, now(), $2) ON CONFLICT (event_id) DO UPDATE SET processed_at = now(), result = $2",
        ),
        // PostgresInsightStore
        (
            "insights",
            "INSERT INTO insights (id, type, title, description, confidence, debate_id, agents_involved, evidence, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        ),
        (
            "insights",
            "SELECT id, type, title FROM insights WHERE type = $1 AND search_vector @@ plainto_tsquery('english', $2) ORDER BY confidence DESC",
        ),
        (
            "insights",
            "SELECT COALESCE(SUM(proposals_made), 0), COALESCE(SUM(critiques_given), 0), COALESCE(SUM(CASE WHEN proposal_accepted THEN 1 ELSE 0 END), 0) FROM agent_performance_history WHERE agent_name = $1",
        ),
        (
            "insights",
            "INSERT INTO debate_summaries (debate_id, task, consensus_reached, duration_seconds, total_insights, key_takeaway, agent_performances) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (debate_id) DO NOTHING",
        ),
        (
            "insights",
            "INSERT INTO insight_usage (insight_id, debate_id, was_successful) VALUES ($1, $2, $3) ON CONFLICT (insight_id, debate_id) DO UPDATE SET was_successful = EXCLUDED.was_successful",
        ),
        (
            "insights",
            "INSERT INTO pattern_clusters (category, pattern_text, occurrence_count, avg_severity) VALUES ($1, $2, 1, $3) ON CONFLICT (category, pattern_text) DO UPDATE SET occurrence_count = pattern_clusters.occurrence_count + 1",
        ),
        (
            "insights",
            "INSERT INTO wisdom_submissions (loop_id, text, submitter_id, context_tags) VALUES ($1, $2, $3, $4) RETURNING id",
        ),
        // PostgresEloDatabase
        (
            "elo",
            "INSERT INTO elo_ratings (agent_name, elo, domain_elos, wins, losses, draws, debates_count, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, now()) ON CONFLICT (agent_name) DO UPDATE SET elo = EXCLUDED.elo",
        ),
        (
            "elo",
            "INSERT INTO elo_matches (debate_id, winner, participants, domain, scores, elo_changes) VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6::jsonb) ON CONFLICT (debate_id) DO NOTHING",
        ),
        (
            "elo",
            "SELECT agent_name, elo, domain_elos FROM elo_ratings WHERE domain_elos ? $1 ORDER BY elo DESC",
        ),
        (
            "elo",
            "SELECT id FROM elo_matches WHERE participants ? $1 ORDER BY created_at DESC",
        ),
        (
            "elo",
            "INSERT INTO elo_history (agent_name, elo, debate_id) VALUES ($1, $2, $3)",
        ),
        (
            "elo",
            "INSERT INTO elo_calibration_predictions (tournament_id, predictor_agent, predicted_winner, confidence) VALUES ($1, $2, $3, $4) ON CONFLICT (tournament_id, predictor_agent) DO UPDATE SET confidence = EXCLUDED.confidence",
        ),
        (
            "elo",
            "INSERT INTO elo_domain_calibration (agent_name, domain, total_predictions, total_correct, brier_sum) VALUES ($1, $2, 1, $3, $4) ON CONFLICT (agent_name, domain) DO UPDATE SET total_predictions = elo_domain_calibration.total_predictions + 1",
        ),
        (
            "elo",
            "INSERT INTO elo_calibration_buckets (agent_name, domain, bucket_key, predictions, correct, brier_sum) VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (agent_name, domain, bucket_key) DO NOTHING",
        ),
        (
            "elo",
            "INSERT INTO elo_agent_relationships (agent_a, agent_b, debate_count) VALUES ($1, $2, 1) ON CONFLICT (agent_a, agent_b) DO UPDATE SET debate_count = elo_agent_relationships.debate_count + 1",
        ),
        // PostgresDebateStorage
        (
            "debates",
            "INSERT INTO debates (id, slug, task, agents, artifact_json, consensus_reached, confidence, org_id, is_public) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        ),
        (
            "debates",
            "SELECT slug, id, task, agents, consensus_reached, confidence, created_at, view_count FROM debates WHERE search_vector @@ plainto_tsquery('english', $1) AND org_id = $2 ORDER BY created_at DESC",
        ),
        (
            "debates",
            "UPDATE debates SET view_count = view_count + 1 WHERE slug = $1 RETURNING artifact_json",
        ),
        // ShareLinkStore (psycopg2: %s, 1/0 flags, REAL epochs)
        (
            "share_links",
            "INSERT INTO share_links (token, debate_id, visibility, owner_id, org_id, created_at, expires_at, allow_comments, allow_forking, view_count) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, 0) ON CONFLICT (debate_id) DO UPDATE SET token = EXCLUDED.token",
        ),
        (
            "share_links",
            "DELETE FROM share_links WHERE expires_at IS NOT NULL AND expires_at < $1",
        ),
        (
            "share_links",
            "UPDATE share_links SET token = NULL WHERE debate_id = $1",
        ),
        // PostgresBatchJobStore
        (
            "explainability",
            "INSERT INTO explainability_batch_jobs (batch_id, status, created_at, started_at, completed_at, processed_count, debate_ids_json, results_json, options_json, error, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (batch_id) DO UPDATE SET status = EXCLUDED.status",
        ),
        (
            "explainability",
            "DELETE FROM explainability_batch_jobs WHERE expires_at < $1",
        ),
        // PostgresPolicyStore (SELECT * by position; enabled = 1)
        (
            "policy",
            "INSERT INTO policies VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12)",
        ),
        (
            "policy",
            "SELECT * FROM policies WHERE enabled = 1 AND workspace_id = $1",
        ),
        (
            "policy",
            "INSERT INTO violations VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        ),
        (
            "policy",
            "INSERT INTO policy_audit VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ),
        (
            "policy",
            "INSERT INTO policy_audit (id, policy_id, action, changed_by, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)",
        ),
        // AuditLog / audit.persistence.PostgresBackend
        (
            "audit",
            "INSERT INTO audit_events (id, timestamp, category, action, actor_id, resource_type, resource_id, outcome, ip_address, user_agent, correlation_id, org_id, workspace_id, details, reason, previous_hash, event_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        ),
        (
            "audit",
            "SELECT id FROM audit_events WHERE details ILIKE $1 OR action ILIKE $1 ORDER BY timestamp DESC",
        ),
        (
            "audit",
            "SELECT event_hash FROM audit_events ORDER BY timestamp DESC LIMIT 1",
        ),
        // AuditStore (psycopg2, table audit_log, text JSON)
        (
            "audit_store",
            "INSERT INTO audit_log (timestamp, user_id, org_id, action, resource_type, resource_id, old_value, new_value, metadata, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        ),
        (
            "audit_store",
            "SELECT id, timestamp, old_value, new_value, metadata FROM audit_log WHERE metadata LIKE $1 ORDER BY timestamp DESC",
        ),
    ];
    let mut failures = Vec::new();
    for (n, (store, sql)) in stmts.iter().enumerate() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), format!("PREPARE s{n} AS {sql};\n")).unwrap();
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(std::env::var("ARAGORA_TEST_PG_HOST").unwrap_or("127.0.0.1".into()))
            .arg("-p")
            .arg(std::env::var("ARAGORA_TEST_PG_PORT").unwrap_or("5432".into()))
            .arg("-U")
            .arg(std::env::var("ARAGORA_TEST_PG_USER").unwrap_or("postgres".into()))
            .arg("-d")
            .arg(&db.name)
            .arg("-f")
            .arg(f.path())
            .output()
            .unwrap();
        if !out.status.success() {
            failures.push(format!(
                "{store}: {sql}\n  {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------
// The codec through a real server.

/// A registered column of each kind the codec handles: (shape column,
/// declaration).
fn column(table: &'static TableDef, pg_name: &str) -> (&'static PgColumn, &'static ColumnDef) {
    let s = pgshape::shape(table);
    let c = s
        .column(pg_name)
        .unwrap_or_else(|| panic!("{}.{pg_name}", table.name));
    (c, &table.columns[c.decl.unwrap()])
}

/// Binds each value's text as `$n::type` would (a typed literal), reads
/// it back as `::text` under `timezone`, and decodes it.
fn through_server(
    db: &TempDb,
    col: &PgColumn,
    def_col: &ColumnDef,
    vals: &[Value],
    timezone: &str,
) -> Vec<Value> {
    // The text travels as hex, so nothing in COPY's escaping is in the way.
    let mut sql = String::from("COPY (SELECT encode(convert_to(x, 'UTF8'), 'hex') FROM (VALUES ");
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("({i}, "));
        match pgshape::param(v.as_ref(), col).unwrap() {
            Some(t) => literal_into(&mut sql, &t),
            None => sql.push_str("NULL"),
        }
        sql.push_str(&format!("::{}::text)", col.ty.sql()));
    }
    sql.push_str(") AS v(n, x) ORDER BY n) TO STDOUT;\n");
    let out = db.load_with(&sql, &format!("-c TimeZone={timezone}"));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), vals.len(), "{text}");
    lines
        .iter()
        .map(|l| {
            let f = (*l != "\\N").then(|| {
                let b: Vec<u8> = (0..l.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                    .collect();
                String::from_utf8(b).unwrap()
            });
            pgshape::value(f.as_deref(), col, def_col).unwrap()
        })
        .collect()
}

fn real_bits(v: &Value) -> Option<u64> {
    match v {
        Value::Real(f) => Some(f.to_bits()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn codec_round_trips_through_postgres(
        texts in prop::collection::vec("[^\u{0}]{0,20}", 1..30),
        ints in prop::collection::vec(any::<i64>(), 1..30),
        small in prop::collection::vec(any::<i32>(), 1..30),
        reals in prop::collection::vec(any::<f64>(), 1..30),
        blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..20),
        epochs in prop::collection::vec(-62_000_000_000.0f64..253_000_000_000.0, 1..30),
        stamps in prop::collection::vec((0i64..250_000_000_000_000_000, -15i32..=15, 0i32..60, 0u8..4), 1..30),
        zone in prop::sample::select(&["UTC", "Asia/Kolkata", "America/St_Johns"][..]),
    ) {
        if !available() {
            return Ok(());
        }
        let db = TempDb::new("codec");
        // text: byte for byte (every character but U+0000).
        let (c, d) = column(&schema::users::USERS, "name");
        let vals: Vec<Value> = texts.into_iter().map(Value::Text).chain([Value::Null]).collect();
        prop_assert_eq!(&through_server(&db, c, d, &vals, zone), &vals);
        // bigint, integer, 0/1 as integer, boolean.
        let (c, d) = column(&schema::users::USERS, "token_version");
        let vals: Vec<Value> = ints.into_iter().chain([i64::MIN, i64::MAX]).map(Value::Integer).collect();
        prop_assert_eq!(&through_server(&db, c, d, &vals, zone), &vals);
        let (c, d) = column(&schema::users::USAGE_EVENTS, "count");
        let vals: Vec<Value> = small.into_iter().chain([i32::MIN, i32::MAX]).map(|i| Value::Integer(i.into())).collect();
        prop_assert_eq!(&through_server(&db, c, d, &vals, zone), &vals);
        for (t, name) in [(&schema::share_links::SHARE_LINKS, "allow_comments"), (&schema::users::USERS, "is_active")] {
            let (c, d) = column(t, name);
            let vals = vec![Value::Integer(0), Value::Integer(1), Value::Null];
            prop_assert_eq!(&through_server(&db, c, d, &vals, zone), &vals);
        }
        // double precision: bit for bit, with -0.0, ±Infinity and NaN.
        let (c, d) = column(&schema::elo::ELO_HISTORY, "elo");
        let vals: Vec<Value> = reals.into_iter()
            .chain([-0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 5e-324, f64::MAX])
            .map(Value::Real).collect();
        let back = through_server(&db, c, d, &vals, zone);
        prop_assert_eq!(back.iter().map(real_bits).collect::<Vec<_>>(), vals.iter().map(real_bits).collect::<Vec<_>>());
        // bytea.
        let (c, d) = column(&schema::insights::PATTERN_CLUSTERS, "centroid");
        let vals: Vec<Value> = blobs.into_iter().map(Value::Blob).collect();
        prop_assert_eq!(&through_server(&db, c, d, &vals, zone), &vals);
        // Epoch seconds in timestamptz: rounded to microseconds, then stable.
        let (c, d) = column(&schema::tokens::TOKEN_BLACKLIST, "expires_at");
        let vals: Vec<Value> = epochs.into_iter().chain([f64::INFINITY, f64::NEG_INFINITY, 1767225600.123456]).map(Value::Real).collect();
        let back = through_server(&db, c, d, &vals, zone);
        for (v, b) in vals.iter().zip(&back) {
            let (Value::Real(f), Value::Real(g)) = (v, b) else { panic!("{v:?} -> {b:?}") };
            if f.is_infinite() {
                prop_assert_eq!(f, g);
            } else {
                // Rounded to a microsecond: at most half of one away, plus
                // the rounding of f * 1e6 itself near a half (1 µs in all;
                // whole microseconds are not exact in f64 past 2^52 µs).
                let (fm, gm) = (f * 1e6, g * 1e6);
                prop_assert!((gm - fm).abs() <= 1.0, "{} came back as {}", f, g);
            }
        }
        prop_assert_eq!(&through_server(&db, c, d, &back, zone), &back);
        // Timestamp text in timestamptz: the same instant, canonical UTC text.
        let (c, d) = column(&schema::users::USERS, "created_at");
        let vals: Vec<Value> = stamps.iter().map(|&(micros, h, m, form)| {
            let off = chrono::FixedOffset::east_opt(h * 3600 + m * 60 * h.signum()).unwrap();
            let t = chrono::DateTime::from_timestamp_micros(micros - 62_000_000_000_000_000).unwrap().with_timezone(&off);
            Value::Text(match form {
                0 => t.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string(),
                1 => t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string(),
                2 => t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
                _ => t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            })
        }).collect();
        let back = through_server(&db, c, d, &vals, zone);
        for (v, b) in vals.iter().zip(&back) {
            let (Value::Text(v), Value::Text(b)) = (v, b) else { panic!("{v:?} -> {b:?}") };
            prop_assert_eq!(crate::export_pg::ts_micros(v), crate::export_pg::ts_micros(b), "{} came back as {}", v, b);
            prop_assert!(b.ends_with("+00:00") && b.as_bytes()[10] == b'T', "{}", b);
        }
        prop_assert_eq!(&through_server(&db, c, d, &back, zone), &back);
    }
}

#[test]
fn codec_jsonb_keeps_the_value_and_refuses_what_jsonb_cannot_hold() {
    if !available() {
        return;
    }
    let db = TempDb::new("codecjson");
    let (c, d) = column(&schema::users::USERS, "preferences");
    let vals: Vec<Value> = [
        r#"{"b": 1, "a": [1, 2.50, "\u00e9"], "c": {"d": null}}"#,
        "[]",
        "\"text\"",
        "1e2",
    ]
    .iter()
    .map(|s| Value::Text(s.to_string()))
    .collect();
    let back = through_server(&db, c, d, &vals, "UTC");
    for (v, b) in vals.iter().zip(&back) {
        let (Value::Text(v), Value::Text(b)) = (v, b) else {
            panic!()
        };
        let (v, b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(v).unwrap(),
            serde_json::from_str(b).unwrap(),
        );
        assert!(crate::export_pg::json_eq(&v, &b), "{v} came back as {b}");
    }
    // The canonical form is PostgreSQL's, and stable.
    assert_eq!(through_server(&db, c, d, &back, "UTC"), back);
    for bad in ["not json", r#"{"a": "\u0000"}"#] {
        let err = pgshape::param(ValueRef::Text(bad), c)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("users.preferences") && err.contains("jsonb"),
            "{err}"
        );
    }
}

/// Tables that exist before, with fewer columns and other types (as the
/// original's own Supabase migration leaves them): the step adds what they
/// lack, and the indexes and foreign keys on those columns then apply.
#[test]
fn schema_step_applies_over_older_tables_of_the_same_names() {
    if !available() {
        return;
    }
    let db = TempDb::new("pgolder");
    db.load(
        "CREATE TABLE continuum_memory (id TEXT PRIMARY KEY, content TEXT, importance REAL DEFAULT 0.5);\n\
         CREATE TABLE organizations (id TEXT PRIMARY KEY, name TEXT NOT NULL);\n\
         INSERT INTO organizations VALUES ('o1', 'Org');\n",
    );
    db.load(&schema_sql());
    let cat = schema_view(&db);
    for (t, def) in [
        ("continuum_memory", &schema::continuum::CONTINUUM_MEMORY),
        ("organizations", &schema::users::ORGANIZATIONS),
    ] {
        for c in def.columns {
            let name = c.pg_name.unwrap_or(c.name);
            assert!(
                cat.columns[t].iter().any(|x| x.0 == name),
                "{t}.{name} was not added"
            );
        }
    }
    assert_eq!(
        db.scalar("SELECT name FROM organizations WHERE id = 'o1'"),
        "Org"
    );
    // The foreign keys to it hold.
    db.load_fails(
        "INSERT INTO usage_events (org_id, event_type) VALUES ('no such org', 'debate');\n",
    );
    // Their text keys, made under the database's collation, are "C" now.
    for (t, c) in [("organizations", "id"), ("continuum_memory", "id")] {
        assert_eq!(
            db.scalar(&format!(
                "SELECT collname FROM pg_attribute a JOIN pg_collation l ON l.oid = a.attcollation \
                 WHERE attrelid = '{t}'::regclass AND attname = '{c}'"
            )),
            "C",
            "{t}.{c}"
        );
    }
}

/// A text key column of another collation (a database made before key
/// columns were "C") makes the schema out of date; opening it brings the
/// column to "C", and ordered scans still see every row.
#[test]
fn a_key_column_of_another_collation_is_brought_to_c() {
    if !available() {
        return;
    }
    let db = migrated("pgcollate");
    let dsn = format!("postgresql://postgres@127.0.0.1:5432/{}", db.name);
    let mut client = postgres::Client::connect(
        &format!("host=127.0.0.1 port=5432 user=postgres dbname={}", db.name),
        postgres::NoTls,
    )
    .unwrap();
    let origin = std::path::Path::new("test");
    aragora_db::pg::schema::create(&mut client, origin).unwrap();
    assert!(aragora_db::pg::schema::up_to_date(&mut client, origin).unwrap());
    db.load("ALTER TABLE users ALTER COLUMN email TYPE text COLLATE \"default\";\n");
    assert!(!aragora_db::pg::schema::up_to_date(&mut client, origin).unwrap());
    let cfg = aragora_db::config::Config::for_dir(std::env::temp_dir());
    let pg = aragora_db::db::pg::open_dsn(&cfg, "--to", &dsn).unwrap();
    drop(pg);
    assert!(aragora_db::pg::schema::up_to_date(&mut client, origin).unwrap());
    assert_eq!(
        db.scalar(
            "SELECT collname FROM pg_attribute a JOIN pg_collation l ON l.oid = a.attcollation \
             WHERE attrelid = 'users'::regclass AND attname = 'email'"
        ),
        "C"
    );
}
