//! Genesis: the event ledger, genomes and populations (`genesis.db`;
//! `GenesisDatabase` in the original's `aragora/genesis/database.py`;
//! consolidated `agents.db`).
//!
//! Owners: `genesis_events` → [`DatabaseType::Genesis`] (`GenesisLedger`);
//! `genomes`, `populations`, `active_population` →
//! [`DatabaseType::Genomes`] (`GenomeStore`, `PopulationManager`). Both
//! types share `genesis.db` (legacy) and `agents.db` (consolidated), so all
//! four tables live in one file in either mode.
//!
//! Shapes: same columns in both (order differs). Index names differ
//! (`idx_events_*` legacy, `idx_genesis_events_*` consolidated); both sets
//! are kept. `idx_populations_generation` is consolidated-only.
//!
//! Foreign keys, all without an action in the DDL, hence `Restrict`:
//! `genesis_events.parent_event_id` → `genesis_events` (legacy and
//! consolidated; the ledger is append-only) and
//! `active_population.population_id` → `populations` (consolidated only;
//! the active population cannot be deleted). Our additions, to serve them:
//! `idx_genesis_events_parent_event_id`,
//! `idx_active_population_population_id`.
//!
//! Not representable: `CHECK (id = 1)` on `active_population` (a singleton;
//! the store must only write id 1), `DESC` in `idx_genomes_fitness`.
//! `genomes.traits` is a JSON object (trait → weight) although the
//! consolidated comments call it an array.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const GENESIS_DB: DbTarget = DbTarget::Type(DatabaseType::Genesis);
const GENOMES_DB: DbTarget = DbTarget::Type(DatabaseType::Genomes);

table! {
    /// One ledger event; `content_hash` is the sha256 of its canonical JSON.
    pub struct GenesisEvent as GENESIS_EVENTS {
        name: "genesis_events",
        owner: GENESIS_DB,
        version: 1,
        columns: {
            event_id: String => Text,
            event_type: String => Text,
            timestamp: String => Timestamp,
            parent_event_id: Option<String> => Text,
            content_hash: String => Text,
            data: Option<String> => Json,
        },
        primary_key: (event_id),
        autoincrement: false,
        indexes: {
            index idx_events_type (event_type),
            index idx_events_timestamp (timestamp),
            index idx_genesis_events_type (event_type),
            index idx_genesis_events_timestamp (timestamp),
            index idx_genesis_events_parent_event_id (parent_event_id),
        },
        foreign_keys: {
            (parent_event_id) -> GenesisEvent: Restrict,
        },
    }
}

table! {
    /// An agent genome (id = sha256 hex, 12 chars).
    pub struct Genome as GENOMES {
        name: "genomes",
        owner: GENOMES_DB,
        version: 1,
        columns: {
            genome_id: String => Text,
            name: String => Text,
            traits: Option<String> => Json,
            expertise: Option<String> => Json,
            model_preference: Option<String> => Text,
            parent_genomes: Option<String> => Json,
            generation: Option<i64> => Integer = "0",
            fitness_score: Option<f64> => Real = "0.5",
            birth_debate_id: Option<String> => Text,
            created_at: Option<String> => Timestamp,
            updated_at: Option<String> => Timestamp,
            consensus_contributions: Option<i64> => Integer = "0",
            critiques_accepted: Option<i64> => Integer = "0",
            predictions_correct: Option<i64> => Integer = "0",
            debates_participated: Option<i64> => Integer = "0",
        },
        primary_key: (genome_id),
        autoincrement: false,
        indexes: {
            index idx_genomes_fitness (fitness_score),
            index idx_genomes_generation (generation),
        },
        foreign_keys: {},
    }
}

table! {
    /// A population of genomes (`pop-YYYYMMDD-HHMMSS`).
    pub struct Population as POPULATIONS {
        name: "populations",
        owner: GENOMES_DB,
        version: 1,
        columns: {
            population_id: String => Text,
            genome_ids: Option<String> => Json,
            generation: Option<i64> => Integer = "0",
            created_at: Option<String> => Timestamp,
            debate_history: Option<String> => Json,
        },
        primary_key: (population_id),
        autoincrement: false,
        indexes: {
            index idx_populations_generation (generation),
        },
        foreign_keys: {},
    }
}

table! {
    /// The singleton row (id 1) naming the active population.
    pub struct ActivePopulation as ACTIVE_POPULATION {
        name: "active_population",
        owner: GENOMES_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            population_id: Option<String> => Text,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_active_population_population_id (population_id),
        },
        foreign_keys: {
            (population_id) -> Population: Restrict,
        },
    }
}
