//! Nomic loop evolution records (`evolution.db`, `EvolutionRepository`;
//! `aragora/persistence/evolution.py` in the original; docs/ORIGINAL.md,
//! "Where DATABASE.md and the code disagree"). These are the SQLite homes of the
//! `NomicRollback`, `CycleEvolution` and `CycleFileChange` dataclasses.
//!
//! Owner: [`DatabaseType::Evolution`] (legacy `evolution.db`, consolidated
//! `core.db`).
//!
//! Rename: DATABASE.md lists `cycle_evolution`; the file's table is
//! `cycle_evolutions`. Documented names win, so the table is
//! `cycle_evolution` and importers must map `cycle_evolutions` to it. Its
//! implicit UNIQUE is the unique index `cycle_evolution_loop_id_cycle_number_key`.
//!
//! `files_affected` and `files_changed` are JSON lists; timestamps are ISO
//! text. `cycle_evolution.rollback_id` → `nomic_rollbacks` has no action in
//! the DDL, so `Restrict`; `idx_cycle_evolution_rollback_id` is our addition
//! to serve it. `cycle_file_changes` has no declared reference to its cycle.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

const EVOLUTION_DB: DbTarget = DbTarget::Type(DatabaseType::Evolution);

table! {
    /// A rollback of one nomic cycle phase.
    pub struct NomicRollback as NOMIC_ROLLBACKS {
        name: "nomic_rollbacks",
        owner: EVOLUTION_DB,
        version: 1,
        columns: {
            id: String => Text,
            loop_id: String => Text,
            cycle_number: i64 => Integer,
            phase: String => Text,
            reason: String => Text,
            severity: String => Text,
            rolled_back_commit: Option<String> => Text,
            preserved_branch: Option<String> => Text,
            files_affected: Option<String> => Json,
            diff_summary: Option<String> => Text,
            error_message: Option<String> => Text,
            created_at: String => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_rollbacks_loop (loop_id, cycle_number),
            index idx_rollbacks_severity (severity),
        },
        foreign_keys: {},
    }
}

table! {
    /// What one nomic cycle changed (file table name `cycle_evolutions`).
    pub struct CycleEvolution as CYCLE_EVOLUTION {
        name: "cycle_evolution",
        sources: ["cycle_evolutions"],
        owner: EVOLUTION_DB,
        version: 1,
        columns: {
            id: String => Text,
            loop_id: String => Text,
            cycle_number: i64 => Integer,
            debate_artifact_id: Option<String> => Text,
            winning_proposal_summary: Option<String> => Text,
            files_changed: Option<String> => Json,
            git_commit: Option<String> => Text,
            rollback_id: Option<String> => Text,
            created_at: String => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            unique cycle_evolution_loop_id_cycle_number_key (loop_id, cycle_number),
            index idx_cycle_evolution_rollback_id (rollback_id),
        },
        foreign_keys: {
            (rollback_id) -> NomicRollback: Restrict,
        },
    }
}

table! {
    /// One file changed by a nomic cycle.
    pub struct CycleFileChange as CYCLE_FILE_CHANGES {
        name: "cycle_file_changes",
        owner: EVOLUTION_DB,
        version: 1,
        columns: {
            loop_id: String => Text,
            cycle_number: i64 => Integer,
            file_path: String => Text,
            change_type: String => Text,
            insertions: Option<i64> => Integer = "0",
            deletions: Option<i64> => Integer = "0",
        },
        primary_key: (loop_id, cycle_number, file_path),
        autoincrement: false,
        indexes: {
            index idx_file_changes_path (file_path),
        },
        foreign_keys: {},
    }
}
