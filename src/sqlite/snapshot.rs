//! Noticing that the files changed under a reader that reads pages on demand
//! (fileformat2 §1.3.2 file change counter, §4 WAL salts and checkpoints; howtocorrupt
//! §2 on reading a live database without its locks).
//!
//! Without SQLite's locks (this reader takes none and never creates `-shm`), a writer
//! or checkpointer may change the files while pages are still to be read. The pages
//! can only come from after the open-time snapshot if the **main file** changed:
//!
//! * Rollback-journal databases are written in place: any change moves the main
//!   file's size, mtime or ctime, and the change counter (bytes 24..28), which SQLite
//!   writes with page 1, the first page of every commit.
//! * In WAL mode the main file changes only by checkpoints, which copy committed WAL
//!   frames. If the `-wal` still has the salts, inode and length it had at open, no
//!   transaction committed since, so a checkpoint can only have copied frames this
//!   reader indexed and reads from the WAL anyway: the main file's other pages are
//!   untouched. A WAL that grew, was reset (new salts), truncated or deleted, together
//!   with a changed main file, is reported as a change (possibly a false alarm).
//!
//! WAL frames themselves are checked on every read (salts and page number in the
//! frame header, see [`super::wal::frame_matches`]).

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{Result, SqliteError};
use super::pager::Validator;
use super::wal::{self, WAL_HEADER_SIZE};

#[derive(Clone, Debug, PartialEq, Eq)]
struct MainSig {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    change_counter: [u8; 4],
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct WalSig {
    dev: u64,
    ino: u64,
    len: u64,
    salts: Option<(u32, u32)>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SqliteError + '_ {
    move |source| SqliteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn main_sig(f: &File, path: &Path) -> Result<MainSig> {
    let m = f.metadata().map_err(io(path))?;
    let mut change_counter = [0u8; 4];
    if m.len() >= 28 {
        f.read_exact_at(&mut change_counter, 24).map_err(io(path))?;
    }
    Ok(MainSig {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
        change_counter,
    })
}

fn wal_sig_of(f: &File, path: &Path) -> Result<WalSig> {
    let m = f.metadata().map_err(io(path))?;
    let mut hdr = [0u8; WAL_HEADER_SIZE];
    let salts = if m.len() >= WAL_HEADER_SIZE as u64 {
        f.read_exact_at(&mut hdr, 0).map_err(io(path))?;
        wal::header_salts(&hdr)
    } else {
        None
    };
    Ok(WalSig {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        salts,
    })
}

/// The `-wal` at `path` now, `None` if there is none.
fn wal_sig_at(path: &Path) -> Result<Option<WalSig>> {
    match File::open(path) {
        Ok(f) => wal_sig_of(&f, path).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// The open-time state of a database's files, and the check against it.
#[derive(Debug)]
pub struct FileGuard {
    main_path: PathBuf,
    wal_path: PathBuf,
    main_file: File,
    main: MainSig,
    wal: Option<WalSig>,
}

impl FileGuard {
    /// Record the state of `main` (open on `main_path`) and of `wal`, the open `-wal`.
    pub fn capture(
        main_path: &Path,
        main: &File,
        wal_path: &Path,
        wal: Option<&File>,
    ) -> Result<Arc<FileGuard>> {
        let main_file = main.try_clone().map_err(io(main_path))?;
        Ok(Arc::new(FileGuard {
            main: main_sig(&main_file, main_path)?,
            wal: wal.map(|f| wal_sig_of(f, wal_path)).transpose()?,
            main_path: main_path.to_path_buf(),
            wal_path: wal_path.to_path_buf(),
            main_file,
        }))
    }

    /// Main file length at open.
    pub fn main_len(&self) -> u64 {
        self.main.len
    }

    /// `-wal` length at open (None: no `-wal`).
    pub fn wal_len(&self) -> Option<u64> {
        self.wal.as_ref().map(|w| w.len)
    }

    /// See the module docs.
    pub fn check(&self) -> Result<()> {
        if main_sig(&self.main_file, &self.main_path)? == self.main {
            return Ok(());
        }
        let what = match &self.wal {
            Some(w) if w.salts.is_some() => {
                if wal_sig_at(&self.wal_path)?.as_ref() == Some(w) {
                    return Ok(());
                }
                "the main file was modified (a checkpoint) while the WAL gained frames, was reset or removed"
            }
            _ => "the main file was modified",
        };
        Err(SqliteError::Changed {
            path: self.main_path.clone(),
            what: what.to_string(),
        })
    }
}

impl Validator for Arc<FileGuard> {
    fn check(&self) -> Result<()> {
        FileGuard::check(self)
    }
}
