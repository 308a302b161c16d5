//! The target files of an import: one write transaction each, open for the
//! whole run, committed together at the end (or dropped on a dry run).

use crate::config::{Config, DbTarget};
use crate::db::{Database, Durability, OpenOptions};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Page cache of each target file during an import.
pub const IMPORT_CACHE: usize = 16 << 20;

/// One target file and its open transaction.
pub struct Target {
    /// The database.
    pub db: Database,
    /// The transaction every source row for this file goes into.
    pub txn: crate::db::WriteTxn,
}

/// The target files touched so far.
pub struct Targets<'c> {
    config: &'c Config,
    dry_run: bool,
    scratch: Option<PathBuf>,
    open: BTreeMap<PathBuf, Target>,
}

impl<'c> Targets<'c> {
    /// No file is opened until a row needs it.
    pub fn new(config: &'c Config, dry_run: bool) -> Self {
        Targets {
            config,
            dry_run,
            scratch: None,
            open: BTreeMap::new(),
        }
    }

    /// The file `owner`'s tables live in, opened (with a transaction) if
    /// it was not yet. On a dry run a file that does not exist is not
    /// created: a scratch copy in a temporary directory stands in for it.
    pub fn ensure(&mut self, owner: DbTarget) -> Result<PathBuf> {
        let path = self.config.get_db_path(owner)?.path;
        self.ensure_path(&path)
    }

    /// The file at `path` (one of the mode's files, with the tables
    /// [`crate::schema::tables_in_file`] names), opened as [`Self::ensure`]
    /// does.
    pub fn ensure_path(&mut self, path: &Path) -> Result<PathBuf> {
        let path = path.to_path_buf();
        if self.open.contains_key(&path) {
            return Ok(path);
        }
        let tables = crate::schema::tables_in_file(self.config, &path)?;
        let mut opts = OpenOptions::from(self.config);
        // Every target stays open for the whole run: a small page cache
        // each keeps the importer's memory bounded however much it writes
        // (redb flushes dirty pages beyond half the cache to the file).
        opts.cache_size = opts.cache_size.min(IMPORT_CACHE);
        let db = if self.dry_run && !path.exists() {
            let dir = self.scratch_dir()?;
            let name = path.file_name().unwrap_or_default();
            Database::open_path(&dir.join(name), tables, &opts)?
        } else {
            Database::open_path(&path, tables, &opts)?
        };
        let txn = db.begin_write(Durability::Immediate)?;
        self.open.insert(path.clone(), Target { db, txn });
        Ok(path)
    }

    /// The configuration the targets follow.
    pub fn config(&self) -> &'c Config {
        self.config
    }

    fn scratch_dir(&mut self) -> Result<PathBuf> {
        if let Some(d) = &self.scratch {
            return Ok(d.clone());
        }
        let d = std::env::temp_dir().join(format!(
            "aragora-db-import-dry-run-{}-{}",
            std::process::id(),
            crate::time::epoch_now().to_bits()
        ));
        // 0700 whatever the umask; never an existing directory of that name.
        crate::fsutil::new_private_dir(&d)?;
        self.scratch = Some(d.clone());
        Ok(d)
    }

    /// An open target.
    pub fn get(&self, path: &Path) -> &Target {
        &self.open[path]
    }

    /// Commits every transaction (or drops them on a dry run) and returns
    /// the files.
    /// The importer's own file commits first: a crash between commits can
    /// leave a re-keyed row's record without the row (the next run repairs
    /// that), never a row without its record.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let import = self
            .config
            .get_db_path(DbTarget::Store(crate::config::Store::Import))?
            .path;
        let mut open: Vec<(PathBuf, Target)> = std::mem::take(&mut self.open).into_iter().collect();
        open.sort_by_key(|(p, _)| *p != import);
        for (path, t) in open {
            if !self.dry_run {
                t.txn.commit().map_err(|e| Error::storage(&path, e))?;
                // What the original left dangling is kept and recorded, so
                // that `verify` tells it from damage (crate::db::inherited).
                t.db.record_inherited_refs()?;
            }
            out.push(path);
        }
        Ok(out)
    }
}

impl Drop for Targets<'_> {
    fn drop(&mut self) {
        if let Some(d) = &self.scratch {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
