//! Database types and the files they live in (docs/ORIGINAL.md, "Database types
//! and file names").
//!
//! Each database is declared once in [`database_types!`] or
//! [`standalone_stores!`]; the legacy file name, the consolidated file and the
//! `ARAGORA_DB_*` override names all come from that one row.

use std::fmt;

/// The four files of consolidated mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consolidated {
    /// `core.db`: debates, traces, tournaments, positions, evolution, onboarding.
    Core,
    /// `memory.db`: continuum, consensus, critique patterns.
    Memory,
    /// `analytics.db`: ELO, calibration, insights, billing.
    Analytics,
    /// `agents.db`: personas, relationships, laboratory, genesis.
    Agents,
}

impl Consolidated {
    /// All four, in documented order.
    pub const ALL: [Consolidated; 4] = [
        Consolidated::Core,
        Consolidated::Memory,
        Consolidated::Analytics,
        Consolidated::Agents,
    ];

    /// The original's file name, e.g. `analytics.db`.
    pub fn legacy_file_name(self) -> &'static str {
        match self {
            Consolidated::Core => "core.db",
            Consolidated::Memory => "memory.db",
            Consolidated::Analytics => "analytics.db",
            Consolidated::Agents => "agents.db",
        }
    }
}

macro_rules! database_types {
    ($( $variant:ident = $value:literal, $file:literal, $cons:ident $(, env $env:literal)?; )+) => {
        /// The original's `DatabaseType`: all 25 members, with their files.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DatabaseType { $(
            #[doc = concat!("`", $value, "`: legacy `", $file, "`.")]
            $variant,
        )+ }

        impl DatabaseType {
            /// Every member, in the original's order.
            pub const ALL: &'static [DatabaseType] = &[$(DatabaseType::$variant),+];

            /// The `.value` string, e.g. `"elo"`.
            pub fn value(self) -> &'static str {
                match self { $(DatabaseType::$variant => $value),+ }
            }

            /// The legacy SQLite file name (`LEGACY_DB_NAMES`).
            pub fn legacy_file_name(self) -> &'static str {
                match self { $(DatabaseType::$variant => $file),+ }
            }

            /// The consolidated file (`CONSOLIDATED_DB_MAPPING`).
            pub fn consolidated(self) -> Consolidated {
                match self { $(DatabaseType::$variant => Consolidated::$cons),+ }
            }

            /// The documented deprecated override variable, if any (docs/ORIGINAL.md,
            /// "Database types and file names").
            pub fn documented_env(self) -> Option<&'static str> {
                match self { $(DatabaseType::$variant => database_types!(@env $($env)?)),+ }
            }
        }
    };
    (@env) => { None };
    (@env $e:literal) => { Some($e) };
}

database_types! {
    Debates = "debates", "debates.db", Core;
    Traces = "traces", "traces.db", Core;
    Tournaments = "tournaments", "tournaments.db", Core;
    Embeddings = "embeddings", "debate_embeddings.db", Core;
    Positions = "positions", "grounded_positions.db", Core, env "ARAGORA_DB_POSITIONS";
    ContinuumMemory = "continuum_memory", "continuum.db", Memory, env "ARAGORA_DB_MEMORY";
    AgentMemories = "agent_memories", "agent_memories.db", Memory;
    ConsensusMemory = "consensus_memory", "consensus_memory.db", Memory, env "ARAGORA_DB_CONSENSUS";
    AgoraMemory = "agora_memory", "agora_memory.db", Memory;
    SemanticPatterns = "semantic_patterns", "semantic_patterns.db", Memory;
    SuggestionFeedback = "suggestion_feedback", "suggestion_feedback.db", Memory;
    Elo = "elo", "agent_elo.db", Analytics, env "ARAGORA_DB_ELO";
    Calibration = "calibration", "agent_calibration.db", Analytics, env "ARAGORA_DB_CALIBRATION";
    Insights = "insights", "aragora_insights.db", Analytics, env "ARAGORA_DB_INSIGHTS";
    PromptEvolution = "prompt_evolution", "prompt_evolution.db", Analytics;
    MetaLearning = "meta_learning", "meta_learning.db", Analytics;
    Personas = "personas", "agent_personas.db", Agents, env "ARAGORA_DB_PERSONAS";
    Relationships = "relationships", "agent_relationships.db", Agents;
    Laboratory = "laboratory", "persona_lab.db", Agents, env "ARAGORA_DB_LAB";
    TruthGrounding = "truth_grounding", "aragora_positions.db", Agents;
    Genesis = "genesis", "genesis.db", Agents, env "ARAGORA_DB_GENESIS";
    Genomes = "genomes", "genesis.db", Agents, env "ARAGORA_DB_GENESIS";
    Evolution = "evolution", "evolution.db", Core;
    Billing = "billing", "billing.db", Analytics;
    Onboarding = "onboarding", "onboarding.db", Core;
}

macro_rules! standalone_stores {
    ($( $variant:ident = $value:literal, $file:literal; )+) => {
        /// Stores that are not `DatabaseType`s: they keep their own file in both modes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Store { $(
            #[doc = concat!("`", $file, "`.")]
            $variant,
        )+ }

        impl Store {
            /// Every store.
            pub const ALL: &'static [Store] = &[$(Store::$variant),+];

            /// Short name, e.g. `"users"`.
            pub fn value(self) -> &'static str {
                match self { $(Store::$variant => $value),+ }
            }

            /// The original's file, relative to the data directory.
            pub fn legacy_file_name(self) -> &'static str {
                match self { $(Store::$variant => $file),+ }
            }
        }
    };
}

standalone_stores! {
    Users = "users", "users.db";
    TokenBlacklist = "token_blacklist", "token_blacklist.db";
    ExplainabilityBatchJobs = "explainability_batch_jobs", "explainability_batch_jobs.db";
    WebhookConfigs = "webhook_configs", "webhook_configs.db";
    WebhookEvents = "webhook_events", "webhook_events.db";
    Audit = "audit", "audit.db";
    ShareLinks = "share_links", "share_links.db";
    PolicyStore = "policy_store", "compliance/policy_store.db";
    Usage = "usage", "usage.db";
    Import = "import", "import.db";
}

/// Anything that owns a database file: a `DatabaseType` or a standalone store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DbTarget {
    /// One of the 25 documented database types.
    Type(DatabaseType),
    /// A store with its own file.
    Store(Store),
}

impl DbTarget {
    /// Whether the original application has PostgreSQL store classes of
    /// its own for this database (its user store, token blacklist, webhook,
    /// share-link, policy, audit, explainability, insight, ELO and debate
    /// stores; docs/POSTGRES.md, "How each of the original's PostgreSQL
    /// stores was checked"). Their tables take the PostgreSQL types those
    /// classes need; every other table keeps JSON and timestamps as text,
    /// byte for byte as our stores wrote them.
    pub fn shared_with_original_postgres(self) -> bool {
        match self {
            DbTarget::Store(s) => !matches!(s, Store::Import),
            DbTarget::Type(t) => matches!(
                t,
                DatabaseType::Debates | DatabaseType::Elo | DatabaseType::Insights
            ),
        }
    }

    /// Every target: the 25 types, then the stores.
    pub fn all() -> impl Iterator<Item = DbTarget> {
        DatabaseType::ALL
            .iter()
            .map(|&t| DbTarget::Type(t))
            .chain(Store::ALL.iter().map(|&s| DbTarget::Store(s)))
    }

    /// The short name (`elo`, `users`, ...).
    pub fn value(self) -> &'static str {
        match self {
            DbTarget::Type(t) => t.value(),
            DbTarget::Store(s) => s.value(),
        }
    }

    /// The legacy SQLite file name, relative to the data directory.
    pub fn legacy_file_name(self) -> &'static str {
        match self {
            DbTarget::Type(t) => t.legacy_file_name(),
            DbTarget::Store(s) => s.legacy_file_name(),
        }
    }

    /// The per-database override variable: `ARAGORA_DB_<VALUE>`.
    pub fn env_name(self) -> String {
        format!("ARAGORA_DB_{}", self.value().to_ascii_uppercase())
    }

    /// Looks a target up by short name or legacy file name.
    pub fn parse(name: &str) -> Option<DbTarget> {
        DbTarget::all().find(|t| {
            t.value() == name
                || t.legacy_file_name() == name
                || t.legacy_file_name().strip_suffix(".db") == Some(name)
        })
    }
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.value())
    }
}
