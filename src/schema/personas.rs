//! Personas (`agent_personas.db`, `PersonaManager` in the original's
//! `aragora/agents/personas/core.py`; consolidated `agents.db`).
//!
//! Owner: [`DatabaseType::Personas`] (legacy `agent_personas.db`,
//! consolidated `agents.db`). The same file often also holds the
//! InsightsDatabase tables ([`super::laboratory`]) and positions/flips
//! ([`super::positions`]); those have their own owners, and their copies in
//! `agent_personas.db` are import sources.
//!
//! Both shapes have identical columns. `performance_history.success` is a
//! 0/1 flag. The consolidated indexes `idx_performance_agent`,
//! `idx_performance_domain`, `idx_performance_action` are declared (the
//! legacy file has no indexes). No foreign keys in the original.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const PERSONAS_DB: DbTarget = DbTarget::Type(DatabaseType::Personas);

table! {
    /// An agent's persona: traits (JSON list) and expertise (JSON object domain → score).
    pub struct Persona as PERSONAS {
        name: "personas",
        owner: PERSONAS_DB,
        version: 1,
        columns: {
            agent_name: String => Text,
            description: Option<String> => Text,
            traits: Option<String> => Json,
            expertise: Option<String> => Json,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
            updated_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (agent_name),
        autoincrement: false,
        indexes: {},
        foreign_keys: {},
    }
}

table! {
    /// One action of an agent in a domain and whether it succeeded.
    pub struct PerformanceRecord as PERFORMANCE_HISTORY {
        name: "performance_history",
        owner: PERSONAS_DB,
        version: 1,
        columns: {
            id: i64 => Integer,
            agent_name: String => Text,
            debate_id: Option<String> => Text,
            domain: Option<String> => Text,
            action: Option<String> => Text,
            success: Option<bool> => Bool,
            created_at: Option<String> => Timestamp = "CURRENT_TIMESTAMP",
        },
        primary_key: (id),
        autoincrement: true,
        indexes: {
            index idx_performance_agent (agent_name),
            index idx_performance_domain (domain),
            index idx_performance_action (action),
        },
        foreign_keys: {},
    }
}
