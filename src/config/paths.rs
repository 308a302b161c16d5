//! `get_db_path`: which file each database lives in.
//!
//! Our files sit beside the legacy SQLite files, never on top of them: the
//! same stem with the extension `.redb` (`agent_elo.db` → `agent_elo.redb`,
//! consolidated `analytics.db` → `analytics.redb`).

use super::{Config, DatabaseMode, DbTarget};
use crate::error::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// A resolved database file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DbFile {
    /// Our redb file.
    pub path: PathBuf,
    /// The legacy SQLite file this one stands beside.
    pub sqlite_path: PathBuf,
    /// Where the path came from: `default`, `consolidated` or the override variable.
    pub source: String,
}

/// Maps a legacy SQLite path to ours: same stem, extension `.redb`.
pub fn redb_path_for(sqlite: &Path) -> PathBuf {
    match sqlite.extension().and_then(|e| e.to_str()) {
        Some("redb") => sqlite.to_path_buf(),
        Some("db") | Some("sqlite") | Some("sqlite3") => sqlite.with_extension("redb"),
        _ => {
            let mut s = sqlite.as_os_str().to_owned();
            s.push(".redb");
            PathBuf::from(s)
        }
    }
}

impl Config {
    /// Resolves the file of a database in the configured mode.
    ///
    /// In consolidated mode every `DatabaseType` maps to one of the four
    /// consolidated files and `ARAGORA_DB_*` overrides of those types are
    /// ignored (merged files cannot be split); standalone stores keep their
    /// own file, and their overrides, in both modes.
    pub fn get_db_path(&self, target: DbTarget) -> Result<DbFile> {
        let (sqlite_path, source) = match (self.mode, target) {
            (DatabaseMode::Consolidated, DbTarget::Type(t)) => (
                self.data_dir.join(t.consolidated().legacy_file_name()),
                "consolidated".to_string(),
            ),
            _ => match self.overrides.get(&target) {
                Some(p) => (self.under_data_dir(target, p)?, target.env_name()),
                None => (
                    self.data_dir.join(target.legacy_file_name()),
                    "default".to_string(),
                ),
            },
        };
        Ok(DbFile {
            path: redb_path_for(&sqlite_path),
            sqlite_path,
            source,
        })
    }

    /// Every target with its file, in declaration order.
    pub fn all_db_paths(&self) -> Result<Vec<(DbTarget, DbFile)>> {
        DbTarget::all()
            .map(|t| Ok((t, self.get_db_path(t)?)))
            .collect()
    }

    /// Relative override paths are re-rooted under the data directory and
    /// may not escape it (as the original's `resolve_db_path`).
    fn under_data_dir(&self, target: DbTarget, p: &Path) -> Result<PathBuf> {
        if p.is_absolute() {
            return Ok(p.to_path_buf());
        }
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(Error::Config {
                name: target.env_name(),
                value: p.display().to_string(),
                expected:
                    "an absolute path, or a relative path that stays inside the data directory"
                        .into(),
            });
        }
        Ok(self.data_dir.join(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Consolidated, DatabaseType, Store};

    #[test]
    fn legacy_and_consolidated_files() {
        let c = Config::for_dir("/data");
        let elo = DbTarget::Type(DatabaseType::Elo);
        assert_eq!(
            c.get_db_path(elo).unwrap().path,
            PathBuf::from("/data/agent_elo.redb")
        );
        let c = c.with_mode(DatabaseMode::Consolidated);
        assert_eq!(
            c.get_db_path(elo).unwrap().path,
            PathBuf::from("/data/analytics.redb")
        );
        let users = DbTarget::Store(Store::Users);
        assert_eq!(
            c.get_db_path(users).unwrap().path,
            PathBuf::from("/data/users.redb")
        );
        let policy = DbTarget::Store(Store::PolicyStore);
        assert_eq!(
            c.get_db_path(policy).unwrap().path,
            PathBuf::from("/data/compliance/policy_store.redb")
        );
    }

    #[test]
    fn twenty_five_types_map_to_four_files() {
        assert_eq!(DatabaseType::ALL.len(), 25);
        let c = Config::for_dir("/d").with_mode(DatabaseMode::Consolidated);
        let mut files: Vec<_> = DatabaseType::ALL
            .iter()
            .map(|&t| c.get_db_path(DbTarget::Type(t)).unwrap().path)
            .collect();
        files.sort();
        files.dedup();
        let expected: Vec<_> = {
            let mut v: Vec<_> = Consolidated::ALL
                .iter()
                .map(|k| redb_path_for(&PathBuf::from("/d").join(k.legacy_file_name())))
                .collect();
            v.sort();
            v
        };
        assert_eq!(files, expected);
    }

    #[test]
    fn overrides_resolve_and_cannot_escape() {
        let mut c = Config::for_dir("/d");
        let elo = DbTarget::Type(DatabaseType::Elo);
        c.overrides.insert(elo, PathBuf::from("ratings/elo.db"));
        assert_eq!(
            c.get_db_path(elo).unwrap().path,
            PathBuf::from("/d/ratings/elo.redb")
        );
        c.overrides.insert(elo, PathBuf::from("../elsewhere.db"));
        let err = c.get_db_path(elo).unwrap_err().to_string();
        assert!(err.contains("ARAGORA_DB_ELO"), "{err}");
        // Ignored in consolidated mode: the type lives in analytics.
        let c = c.with_mode(DatabaseMode::Consolidated);
        assert_eq!(
            c.get_db_path(elo).unwrap().path,
            PathBuf::from("/d/analytics.redb")
        );
    }

    #[test]
    fn redb_names_sit_beside_sqlite_names() {
        assert_eq!(
            redb_path_for(Path::new("a/x.db")),
            PathBuf::from("a/x.redb")
        );
        assert_eq!(redb_path_for(Path::new("a/x")), PathBuf::from("a/x.redb"));
        assert_eq!(
            redb_path_for(Path::new("a/x.redb")),
            PathBuf::from("a/x.redb")
        );
    }
}
