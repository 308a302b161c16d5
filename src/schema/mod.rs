//! The registry of every declared table.
//!
//! [`ALL_TABLES`] is the one list that `status`, `verify`, backup, the
//! importer and the exporter iterate. Each table's file follows from its
//! owner and the mode; nothing here lists columns.

pub mod agents;
pub mod analytics;
pub mod audit_events;
pub mod billing;
pub mod calibration;
pub mod consensus;
pub mod continuum;
pub mod core;
pub mod critique;
pub mod elo;
pub mod evolution;
pub mod explainability;
pub mod genesis;
pub mod import;
pub mod insights;
pub mod laboratory;
pub mod memory;
pub mod onboarding;
pub mod personas;
pub mod policy;
pub mod positions;
pub mod share_links;
pub mod supabase;
pub mod tokens;
pub mod users;
pub mod webhooks;

use crate::config::{Config, DatabaseMode, DatabaseType, DbTarget};
use crate::error::{Error, Result};
use crate::table::TableDef;
use std::path::Path;

/// Every declared table.
pub static ALL_TABLES: &[&TableDef] = &[
    // users.rs
    &users::USERS,
    &users::ORGANIZATIONS,
    &users::AUDIT_LOG,
    &users::USAGE_EVENTS,
    &users::USAGE_SUMMARY,
    &users::OAUTH_PROVIDERS,
    &users::ORG_INVITATIONS,
    // elo.rs
    &elo::RATINGS,
    &elo::MATCHES,
    &elo::ELO_HISTORY,
    &elo::CALIBRATION_PREDICTIONS,
    &elo::DOMAIN_CALIBRATION,
    &elo::CALIBRATION_BUCKETS,
    &elo::AGENT_RELATIONSHIPS,
    // continuum.rs
    &continuum::CONTINUUM_MEMORY,
    &continuum::META_LEARNING_STATE,
    &continuum::TIER_TRANSITIONS,
    &continuum::CONTINUUM_MEMORY_ARCHIVE,
    // consensus.rs
    &consensus::CONSENSUS,
    &consensus::DISSENT,
    &consensus::VERIFIED_PROOFS,
    &consensus::CONSENSUS_ARCHIVE,
    &consensus::DISSENT_ARCHIVE,
    // critique.rs
    &critique::DEBATES,
    &critique::CRITIQUES,
    &critique::PATTERNS,
    &critique::PATTERN_EMBEDDINGS,
    &critique::AGENT_REPUTATION,
    &critique::PATTERNS_ARCHIVE,
    // calibration.rs
    &calibration::PREDICTIONS,
    &calibration::TEMPERATURE_PARAMS,
    // insights.rs
    &insights::INSIGHTS,
    &insights::DEBATE_SUMMARIES,
    &insights::AGENT_PERFORMANCE_HISTORY,
    &insights::PATTERN_CLUSTERS,
    &insights::WISDOM_SUBMISSIONS,
    &insights::INSIGHT_USAGE,
    // personas.rs
    &personas::PERSONAS,
    &personas::PERFORMANCE_HISTORY,
    // laboratory.rs
    &laboratory::POSITION_HISTORY,
    &laboratory::DEBATE_OUTCOMES,
    &laboratory::EXPERIMENTS,
    &laboratory::EMERGENT_TRAITS,
    &laboratory::TRAIT_TRANSFERS,
    &laboratory::AGENT_EVOLUTION_HISTORY,
    // positions.rs
    &positions::POSITIONS,
    &positions::DETECTED_FLIPS,
    // genesis.rs
    &genesis::GENESIS_EVENTS,
    &genesis::GENOMES,
    &genesis::POPULATIONS,
    &genesis::ACTIVE_POPULATION,
    // evolution.rs
    &evolution::NOMIC_ROLLBACKS,
    &evolution::CYCLE_EVOLUTION,
    &evolution::CYCLE_FILE_CHANGES,
    // onboarding.rs
    &onboarding::ONBOARDING_FLOWS,
    // billing.rs
    &billing::BILLING_USAGE_EVENTS,
    &billing::USAGE_SYNC_WATERMARKS,
    &billing::USAGE_SYNC_RECORDS,
    &billing::USAGE_SYNC_STATE,
    // core.rs
    &core::CORE_DEBATES,
    &core::DEBATE_METADATA,
    &core::TRACES,
    &core::TRACE_EVENTS,
    &core::TOURNAMENTS,
    &core::TOURNAMENT_MATCHES,
    &core::EMBEDDINGS,
    // memory.rs
    &memory::MEMORIES,
    &memory::REFLECTION_SCHEDULE,
    &memory::SEMANTIC_EMBEDDINGS,
    &memory::SUGGESTION_INJECTIONS,
    &memory::CONTRIBUTOR_STATS,
    // analytics.rs
    &analytics::PROMPT_VERSIONS,
    &analytics::EVOLUTION_HISTORY,
    &analytics::EXTRACTED_PATTERNS,
    &analytics::META_HYPERPARAMS,
    &analytics::META_EFFICIENCY_LOG,
    // agents.rs
    &agents::AGENTS_CALIBRATION_PREDICTIONS,
    // supabase.rs
    &supabase::NOMIC_CYCLES,
    &supabase::DEBATE_ARTIFACTS,
    &supabase::STREAM_EVENTS,
    &supabase::AGENT_METRICS,
    // tokens.rs
    &tokens::TOKEN_BLACKLIST,
    // explainability.rs
    &explainability::EXPLAINABILITY_BATCH_JOBS,
    // webhooks.rs
    &webhooks::WEBHOOK_CONFIGS,
    &webhooks::WEBHOOK_EVENTS,
    // audit_events.rs
    &audit_events::AUDIT_EVENTS,
    &audit_events::AUDIT_STORE_LOG,
    // share_links.rs
    &share_links::SHARE_LINKS,
    // policy.rs
    &policy::POLICIES,
    &policy::VIOLATIONS,
    &policy::POLICY_AUDIT,
    // import.rs
    &import::IMPORT_REJECTS,
    &import::IMPORT_RAW_TABLES,
    &import::IMPORT_RAW_ROWS,
    &import::IMPORT_REKEYED,
];

/// A table by name.
pub fn table(name: &str) -> Result<&'static TableDef> {
    ALL_TABLES
        .iter()
        .copied()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::Unknown {
            kind: "table",
            name: name.to_string(),
            hint: format!(
                " (known: {})",
                ALL_TABLES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The ELO schema, which `RelationshipTracker` creates whole in any file it
/// is pointed at.
const ELO_SCHEMA: &[&TableDef] = &[
    &elo::RATINGS,
    &elo::MATCHES,
    &elo::ELO_HISTORY,
    &elo::CALIBRATION_PREDICTIONS,
    &elo::DOMAIN_CALIBRATION,
    &elo::CALIBRATION_BUCKETS,
    &elo::AGENT_RELATIONSHIPS,
];

/// Declared tables the original also creates in another database's legacy
/// file than their owner's (`docs/ORIGINAL.md`, "Tables in several
/// files"). In legacy mode each of these files holds its own copy, exactly
/// as the original's: a store opened on that file reads it, and the
/// importer puts a source file's rows into its own counterpart. The owner's
/// file stays the one our stores read; in consolidated mode every table
/// lives in its owner's consolidated file only.
pub static ALSO_IN: &[(DbTarget, &[&TableDef])] = &[
    // PositionLedger / FlipDetector (server handlers) open an
    // InsightsDatabase on it; RelationshipTracker adds the ELO schema.
    (
        DbTarget::Type(DatabaseType::Positions),
        &[
            &laboratory::POSITION_HISTORY,
            &laboratory::DEBATE_OUTCOMES,
            &laboratory::EXPERIMENTS,
            &laboratory::EMERGENT_TRAITS,
            &laboratory::TRAIT_TRANSFERS,
            &laboratory::AGENT_EVOLUTION_HISTORY,
            &elo::RATINGS,
            &elo::MATCHES,
            &elo::ELO_HISTORY,
            &elo::CALIBRATION_PREDICTIONS,
            &elo::DOMAIN_CALIBRATION,
            &elo::CALIBRATION_BUCKETS,
            &elo::AGENT_RELATIONSHIPS,
        ],
    ),
    // RelationshipTracker pointed at agent_relationships.db.
    (DbTarget::Type(DatabaseType::Relationships), ELO_SCHEMA),
    // PositionLedger() and FlipDetector() with their default path.
    (
        DbTarget::Type(DatabaseType::Personas),
        &[
            &laboratory::POSITION_HISTORY,
            &laboratory::DEBATE_OUTCOMES,
            &laboratory::EXPERIMENTS,
            &laboratory::EMERGENT_TRAITS,
            &laboratory::TRAIT_TRANSFERS,
            &laboratory::AGENT_EVOLUTION_HISTORY,
            &positions::POSITIONS,
            &positions::DETECTED_FLIPS,
        ],
    ),
    // PositionTracker's InsightsDatabase; the server's init_position_ledger.
    (
        DbTarget::Type(DatabaseType::TruthGrounding),
        &[
            &laboratory::EXPERIMENTS,
            &laboratory::EMERGENT_TRAITS,
            &laboratory::TRAIT_TRANSFERS,
            &laboratory::AGENT_EVOLUTION_HISTORY,
            &positions::POSITIONS,
        ],
    ),
    // PersonaLaboratory's InsightsDatabase.
    (
        DbTarget::Type(DatabaseType::Laboratory),
        &[&laboratory::POSITION_HISTORY, &laboratory::DEBATE_OUTCOMES],
    ),
];

/// The declared tables the original also creates in `target`'s legacy file
/// (see [`ALSO_IN`]).
pub fn also_in(target: DbTarget) -> &'static [&'static TableDef] {
    ALSO_IN
        .iter()
        .find(|(t, _)| *t == target)
        .map_or(&[], |(_, defs)| *defs)
}

/// The tables stored in `file` under `config`'s mode, in registry order:
/// those whose owner lives there, and in legacy mode the ones [`ALSO_IN`]
/// lists for a database whose file it is.
pub fn tables_in_file(config: &Config, file: &Path) -> Result<Vec<&'static TableDef>> {
    let mut extra: Vec<&'static TableDef> = Vec::new();
    if config.mode == DatabaseMode::Legacy {
        for &(target, defs) in ALSO_IN {
            if config.get_db_path(target)?.path == file {
                extra.extend(defs.iter().copied());
            }
        }
    }
    let mut out = Vec::new();
    for &def in ALL_TABLES {
        if config.get_db_path(def.owner)?.path == file || extra.iter().any(|e| e.name == def.name) {
            out.push(def);
        }
    }
    Ok(out)
}

pub use crate::table::set::{Child, children_of};

/// Problems with the declarations themselves (tested to be empty).
pub fn registry_problems() -> Vec<String> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for &(target, defs) in ALSO_IN {
        for d in defs {
            if d.owner == target {
                out.push(format!("{}: listed in ALSO_IN for its own owner", d.name));
            }
            if !ALL_TABLES.iter().any(|t| t.name == d.name) {
                out.push(format!("{}: listed in ALSO_IN but not registered", d.name));
            }
        }
    }
    for &t in ALL_TABLES {
        if !names.insert(t.name) {
            out.push(format!("table {} is registered twice", t.name));
        }
        if t.name.starts_with("__") || t.name.contains('#') {
            out.push(format!(
                "table name {} uses a reserved prefix or '#'",
                t.name
            ));
        }
        if t.autoincrement
            && (t.primary_key.len() != 1
                || t.columns[t.primary_key[0]].sql != crate::table::SqlType::Integer)
        {
            out.push(format!(
                "{}: AUTOINCREMENT needs a single INTEGER primary key",
                t.name
            ));
        }
        let mut idx_names = std::collections::HashSet::new();
        for i in t.indexes {
            if !idx_names.insert(i.name) {
                out.push(format!("{}: index {} declared twice", t.name, i.name));
            }
        }
        for fk in t.foreign_keys {
            let parent = (fk.parent)();
            if !ALL_TABLES.iter().any(|p| p.name == parent.name) {
                out.push(format!(
                    "{}: parent {} is not registered",
                    t.name, parent.name
                ));
            }
            if parent.primary_key.len() != fk.columns.len() {
                out.push(format!(
                    "{}: foreign key arity differs from {}'s key",
                    t.name, parent.name
                ));
            }
            let indexed = t
                .indexes
                .iter()
                .any(|i| crate::table::set::finds_children(i, fk))
                || t.primary_key.starts_with(fk.columns);
            if !indexed {
                out.push(format!(
                    "{}: foreign key ({}) has no index leading with its columns",
                    t.name,
                    t.column_list(fk.columns)
                ));
            }
            for &(target, defs) in ALSO_IN {
                if defs.iter().any(|d| d.name == t.name)
                    && parent.owner != target
                    && !defs.iter().any(|d| d.name == parent.name)
                {
                    out.push(format!(
                        "{}: also in {}'s file, but its parent {} is not",
                        t.name, target, parent.name
                    ));
                }
            }
            if parent.owner.legacy_file_name() != t.owner.legacy_file_name() {
                out.push(format!(
                    "{}: parent {} lives in another file",
                    t.name, parent.name
                ));
            }
        }
    }
    out
}
