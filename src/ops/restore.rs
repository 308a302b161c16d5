//! `restore BACKUP`: puts a backup's files back into the data directory,
//! after checking everything, keeping a safety copy of what it replaces,
//! and swapping the whole set so that a crash leaves the old set or the new
//! one, never a mix.
//!
//! Why this much: the manifest is a user-editable file, so it may point
//! anywhere, and a restore is what someone runs when things have already
//! gone wrong, so it must neither make them worse nor lose the data it
//! replaces. Files replaced one after another would leave, after a crash,
//! a mix of two points in time that every tool reads as valid; and a lock
//! check that opens the databases through redb writes to the very files it
//! then refuses to touch.
//!
//! # Checks (nothing is written until all pass)
//!
//! 1. The manifest is read and validated ([`Manifest::parse`]): format,
//!    every `file` a plain relative `.redb` path inside the backup, every
//!    `target` a plain relative `.redb` path (absolute paths, `..`, `.` and
//!    empty names refused), no file or target listed twice.
//! 2. Every snapshot file must exist, resolve (symbolic links followed)
//!    inside the backup directory, be a regular file of the manifest's
//!    `bytes`, and hold exactly the listed tables, each with the listed
//!    rows, entries and CRC32. Its bytes are then fingerprinted (length and
//!    CRC32 of the whole file) and the copy made later must have the same
//!    fingerprint, so a backup changed after it was checked is refused.
//! 3. Every target must stay inside the data directory once symbolic links
//!    are resolved: its deepest existing ancestor must resolve inside the
//!    data directory and be a directory; an existing target must be a
//!    regular file (a symbolic link is refused: replacing it would change
//!    the set-up behind the user's back); two targets may not resolve to
//!    the same file.
//! 4. No target may be open, in this process (the handle registry) or in
//!    another one. On Linux, redb 4.6's file backend (without
//!    `experimental-api-5`) takes a `flock` on the file, exclusive for a
//!    writer and shared for a read-only handle, for as long as the handle
//!    is open, next to its byte-range locks; it gives the `flock` up only
//!    where `flock` and byte-range locks share one namespace (NFS), and
//!    there an exclusive `flock` conflicts with those range locks instead.
//!    So restore opens each target **read-only** and takes an exclusive
//!    `flock` without waiting (`File::try_lock`): if it would block,
//!    another process has the file; if it succeeds, it is held until the
//!    swap is done, and a redb open meanwhile fails (its `flock` would
//!    block). Nothing is written to the file, not even its mtime. A file
//!    system that cannot lock at all is refused.
//!
//! Every refusal names the manifest file and the entry (`files[i]` with
//! its file and target), and leaves the data directory as it was.
//!
//! # Safety copy
//!
//! Unless `--no-safety-copy` is given, every existing target is copied byte
//! for byte, while its lock is held, into
//! `DATA/backup/pre-restore-YYYYMMDD_HHMMSS/` (assembled as `.….partial`
//! and renamed when complete), with its own `manifest.json`, so it is
//! itself a backup `restore` accepts. A copy redb cannot read (a damaged
//! target, or an encrypted one without the key) is kept byte for byte under
//! `unreadable/` in that directory and left out of its manifest. Targets the
//! backup creates are not in the safety copy (restoring the copy leaves
//! them). Safety copies are never pruned by `backup --keep-days`.
//!
//! # Swapping the set (the journal protocol)
//!
//! Each new file is first written beside its target as
//! `.<name>.restore-new`; the renames are recorded in a journal,
//! `DATA/.restore-journal.json` (written as `.restore-journal.json.tmp`,
//! fsynced, renamed, directory fsynced). The journal lists every target with
//! the length and CRC32 of its new file. The steps:
//!
//! 1. journal, state `staging` (nothing staged yet);
//! 2. each new file copied to its staged name and fsynced, then its
//!    directory fsynced;
//! 3. journal rewritten with state `swapping`: **the commit point**;
//! 4. each staged file renamed over its target, each directory fsynced;
//! 5. journal removed, data directory fsynced.
//!
//! Recovery ([`recover`]; run by every `restore` before it starts, and by
//! `aragora-db restore --recover` alone) completes a journal left by a
//! crash. Under `staging` it **rolls back**: removes the staged files; the
//! targets were never touched. Under `swapping` it **rolls forward**: each
//! entry's staged file must be present with the journal's length and CRC32
//! (rename still to do), or else its target must have them (renamed
//! already); then the remaining renames are done. Anything else (a staged
//! file changed or missing and the target not the new file) is refused,
//! naming the journal and the entry, with nothing changed: the old files
//! are in the safety copy. A leftover `.restore-journal.json.tmp` is
//! removed, and then a safety copy a crash left half-written
//! (`DATA/backup/.pre-restore-*.partial`; the files it copied are still in
//! place). The journal is read as untrusted input: its targets pass the
//! same checks as a manifest's, and recovery refuses while a target is
//! open. Directories created for new targets stay after a roll-back.
//!
//! Only restore and `restore --recover` look for a journal (other code can
//! ask [`interrupted`]): after a crash during a restore, run
//! `aragora-db restore --recover` before starting the application. Two
//! restores of one data directory exclude each other by an exclusive
//! `flock` on the data directory itself (nothing is written).

use super::manifest::{
    self, Digest, FILE_NAME, FileEntry, Manifest, TableEntry, check_target, entry_name,
};
use super::{META_TABLES, fsutil, raw};
use crate::config::Config;
use crate::error::{Error, Found, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The journal's name in the data directory.
pub const JOURNAL: &str = ".restore-journal.json";
/// The suffix of a staged file (`.<name>` + this, beside its target).
const STAGED_SUFFIX: &str = ".restore-new";
/// The journal format this binary writes and reads.
const JOURNAL_FORMAT: u32 = 1;

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Do not keep a copy of the files replaced.
    pub no_safety_copy: bool,
    /// Test hook: stop (as a crash would) right after this step, leaving
    /// the files as they are. Only reachable through this field, which the
    /// command line never sets.
    #[doc(hidden)]
    pub stop_after: Option<Step>,
}

/// The steps of the swap, for [`RestoreOptions::stop_after`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The `staging` journal is written.
    JournalStaging,
    /// This many files are staged (fsynced).
    Staged(usize),
    /// The `swapping` journal is written (the commit point).
    JournalSwapping,
    /// This many staged files are renamed over their targets.
    Renamed(usize),
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The manifest restored.
    pub manifest: Manifest,
    /// The files replaced (or created).
    pub restored: Vec<PathBuf>,
    /// Where the files replaced were copied first (`None` with
    /// `no_safety_copy`, or when no target existed).
    pub safety_copy: Option<SafetyCopy>,
    /// An interrupted restore completed before this one.
    pub recovered: Option<Recovery>,
}

/// The copy of the replaced files.
#[derive(Debug, Clone)]
pub struct SafetyCopy {
    /// The directory (a backup with its own manifest).
    pub dir: PathBuf,
    /// Copies redb could not read, kept byte for byte but not in the
    /// manifest: the copy, and why.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// What [`recover`] did with a leftover journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The crash came before the commit point: staged files removed, the
    /// old set kept.
    RolledBack(Vec<PathBuf>),
    /// The crash came after it: every rename completed, the new set is in
    /// place.
    RolledForward(Vec<PathBuf>),
}

/// A file's length and the CRC32 of all its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    bytes: u64,
    crc32: u32,
}

/// Reads and checks a backup directory: the manifest, then every table of
/// every file against it (encrypted snapshots are read with `enc`).
/// Returns the manifest.
pub fn verify_backup(dir: &Path, enc: Option<&crate::crypto::Encryption>) -> Result<Manifest> {
    check_backup(dir, enc).map(|(m, _)| m)
}

/// [`verify_backup`], plus the fingerprint of every snapshot file.
fn check_backup(
    dir: &Path,
    enc: Option<&crate::crypto::Encryption>,
) -> Result<(Manifest, Vec<Fingerprint>)> {
    let mpath = dir.join(FILE_NAME);
    let bytes = fs::read(&mpath).map_err(|e| Error::io("read", &mpath, e))?;
    // The manifest's own errors name it by file name; name its path.
    let manifest = Manifest::parse(&bytes).map_err(|e| match e {
        Error::Layout { found, what, .. } => Error::layout(&mpath, found, what),
        e => e,
    })?;
    let canon_dir = dir
        .canonicalize()
        .map_err(|e| Error::io("resolve", dir, e))?;
    let mut prints = Vec::new();
    for (i, f) in manifest.files.iter().enumerate() {
        let refuse = |what: String| {
            Error::layout(
                &mpath,
                Found::Inconsistent,
                format!("{}: {what}", entry_name(i, f)),
            )
        };
        let path = dir.join(&f.file);
        let real = match path.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refuse(format!(
                    "the snapshot {} is missing from the backup",
                    path.display()
                )));
            }
            Err(e) => return Err(refuse(format!("cannot resolve {}: {e}", path.display()))),
        };
        if !real.starts_with(&canon_dir) {
            return Err(refuse(format!(
                "{} resolves to {}, outside the backup directory",
                path.display(),
                real.display()
            )));
        }
        let md = fs::metadata(&real).map_err(|e| Error::io("stat", &real, e))?;
        if !md.is_file() {
            return Err(refuse(format!("{} is not a regular file", path.display())));
        }
        if md.len() != f.bytes {
            return Err(refuse(format!(
                "{} is {} bytes, the manifest says {}",
                path.display(),
                md.len(),
                f.bytes
            )));
        }
        check_tables(&path, f, enc).map_err(|e| refuse(e.to_string()))?;
        let print = fingerprint(&path)?;
        if print.bytes != f.bytes {
            return Err(refuse(format!(
                "{} changed while it was checked",
                path.display()
            )));
        }
        prints.push(print);
    }
    Ok((manifest, prints))
}

/// The tables of one snapshot file against its manifest entry.
fn check_tables(path: &Path, f: &FileEntry, enc: Option<&crate::crypto::Encryption>) -> Result<()> {
    let db = raw::ReadHandle::open(path, enc)?;
    let txn = db.begin_read(path)?;
    let mut names = raw::table_names(&txn, path)?;
    names.sort();
    let mut listed: Vec<&str> = f.tables.iter().map(|t| t.name.as_str()).collect();
    listed.sort();
    if names != listed {
        return Err(Error::layout(
            path,
            Found::Inconsistent,
            format!(
                "holds tables [{}], the manifest lists [{}]",
                names.join(", "),
                listed.join(", ")
            ),
        ));
    }
    for t in &f.tables {
        let found = raw::guarded(|| super::backup::digest_table(&txn, &t.name, path))
            .map_err(|p| Error::damaged(path, p))??;
        if found != t.digest() {
            return Err(Error::layout(
                path,
                Found::Inconsistent,
                format!(
                    "table {}: the snapshot does not match its manifest: {} rows / {} entries / \
                 CRC32 {:#010x}, the manifest says {} / {} / {:#010x}",
                    t.name, found.rows, found.entries, found.crc32, t.rows, t.entries, t.crc32
                ),
            ));
        }
    }
    Ok(())
}

/// Where an entry of the manifest goes under `config` (targets are
/// relative to the data directory; [`Manifest::parse`] refuses others).
pub fn target_path(config: &Config, target: &str) -> PathBuf {
    config.data_dir.join(target)
}

/// A checked target.
struct Target {
    /// As written in the manifest (or journal).
    rel: String,
    /// Under the data directory.
    path: PathBuf,
    /// Its staged name beside it.
    staged: PathBuf,
    /// Whether the file exists now.
    exists: bool,
}

/// Checks where every target lands (see the module docs, step 3). `name`
/// says how a refusal names entry `i`.
fn check_targets(
    config: &Config,
    targets: &[&str],
    name: &dyn Fn(usize) -> String,
) -> Result<Vec<Target>> {
    let data = &config.data_dir;
    let canon_data = match data.canonicalize() {
        Ok(p) => Some(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("resolve", data, e)),
    };
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, rel) in targets.iter().enumerate() {
        let refuse = |what: String| Error::InvalidArgument(format!("{}: {what}", name(i)));
        check_target(rel).map_err(refuse)?;
        let path = data.join(rel);
        let staged = staged_name(&path);
        let mut exists = false;
        // The resolved path, for duplicates: the deepest existing ancestor
        // resolved, plus the components below it.
        let resolved = match &canon_data {
            None => path.clone(),
            Some(canon_data) => {
                match fs::symlink_metadata(&path) {
                    Ok(md) if md.file_type().is_symlink() => {
                        return Err(refuse(format!(
                            "{} is a symbolic link; restore replaces files, not links \
                             (put the file there instead of the link, or restore by hand)",
                            path.display()
                        )));
                    }
                    Ok(md) if !md.is_file() => {
                        return Err(refuse(format!("{} is not a regular file", path.display())));
                    }
                    Ok(_) => exists = true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("stat", &path, e)),
                }
                let mut ancestor = fsutil::parent_of(&path);
                let mut below = vec![path.file_name().map(PathBuf::from).unwrap_or_default()];
                // An entry that exists, even a dangling link, stops the walk
                // (and a dangling link then fails to resolve).
                while fs::symlink_metadata(&ancestor).is_err()
                    && ancestor.starts_with(data)
                    && &ancestor != data
                {
                    below.push(ancestor.file_name().map(PathBuf::from).unwrap_or_default());
                    ancestor = fsutil::parent_of(&ancestor);
                }
                let real = ancestor.canonicalize().map_err(|e| {
                    refuse(format!(
                        "{} cannot be resolved ({e}); a target's directory must lead to a \
                         directory inside the data directory",
                        ancestor.display()
                    ))
                })?;
                if !real.starts_with(canon_data) {
                    return Err(refuse(format!(
                        "{} resolves to {}, outside the data directory {}",
                        ancestor.display(),
                        real.display(),
                        canon_data.display()
                    )));
                }
                if !real.is_dir() {
                    return Err(refuse(format!("{} is not a directory", ancestor.display())));
                }
                below.iter().rev().fold(real, |p, c| p.join(c))
            }
        };
        if let Some(j) = seen.insert(resolved.clone(), i) {
            return Err(refuse(format!(
                "{} is the same file as the target of {}",
                resolved.display(),
                name(j)
            )));
        }
        out.push(Target {
            rel: rel.to_string(),
            path,
            staged,
            exists,
        });
    }
    Ok(out)
}

/// `.<name>.restore-new` beside `path`.
fn staged_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    fsutil::parent_of(path).join(format!(".{name}{STAGED_SUFFIX}"))
}

/// Locks of the targets, held until dropped.
struct Held {
    _files: Vec<File>,
}

/// Takes every existing target's `flock` without writing anything (module
/// docs, step 4), or refuses naming every busy one.
fn lock_targets(targets: &[Target], name: &dyn Fn(usize) -> String) -> Result<Held> {
    let mut files = Vec::new();
    let mut busy = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if crate::db::open_handle(&t.path).is_some() {
            busy.push(format!("{} (open in this process)", t.path.display()));
            continue;
        }
        if !t.exists {
            continue;
        }
        let f = File::open(&t.path).map_err(|e| Error::io("open", &t.path, e))?;
        match fsutil::try_lock_briefly(&f) {
            Ok(true) => files.push(f),
            Ok(false) => busy.push(format!(
                "{} (held by another process: stop it first)",
                t.path.display()
            )),
            Err(e) => {
                return Err(Error::Busy(format!(
                    "{}: cannot check whether another process has {} open (file lock: {e}); \
                     refusing to replace it",
                    name(i),
                    t.path.display()
                )));
            }
        }
    }
    if !busy.is_empty() {
        return Err(Error::Busy(format!(
            "refusing to restore while databases are open: {}",
            busy.join(", ")
        )));
    }
    Ok(Held { _files: files })
}

/// Excludes other restores of the data directory: an exclusive `flock` on
/// the directory itself (nothing is written). `None` when the directory
/// does not exist (nothing to recover, nothing to replace yet).
fn lock_data_dir(config: &Config) -> Result<Option<File>> {
    let data = &config.data_dir;
    let dir = match File::open(data) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open", data, e)),
    };
    match fsutil::try_lock_briefly(&dir) {
        Ok(true) => Ok(Some(dir)),
        Ok(false) => Err(Error::Busy(format!(
            "{}: another restore is running on this data directory",
            data.display()
        ))),
        Err(e) => Err(Error::io("lock", data, e)),
    }
}

/// Verifies the backup in `dir`, then replaces every target file with its
/// snapshot, keeping a safety copy. Refuses while any target is open.
pub fn restore(config: &Config, dir: &Path) -> Result<RestoreReport> {
    restore_with(config, dir, &RestoreOptions::default())
}

/// [`restore`] with options.
pub fn restore_with(config: &Config, dir: &Path, opts: &RestoreOptions) -> Result<RestoreReport> {
    let mut dir_lock = lock_data_dir(config)?;
    let recovered = if dir_lock.is_some() {
        recover_locked(config)?
    } else {
        None
    };
    let mpath = dir.join(FILE_NAME);
    let (manifest, prints) = check_backup(dir, config.encryption.as_ref())?;
    let name = |i: usize| format!("{}: {}", mpath.display(), entry_name(i, &manifest.files[i]));
    let rels: Vec<&str> = manifest.files.iter().map(|f| f.target.as_str()).collect();
    let targets = check_targets(config, &rels, &name)?;
    let held = lock_targets(&targets, &name)?;
    // Everything is checked: from here on the data directory changes.
    if dir_lock.is_none() {
        fsutil::private_dir(&config.data_dir)?;
        dir_lock = lock_data_dir(config)?;
    }
    let safety_copy = if opts.no_safety_copy || !targets.iter().any(|t| t.exists) {
        None
    } else {
        Some(safety_copy(config, &targets)?)
    };
    let sources: Vec<PathBuf> = manifest.files.iter().map(|f| dir.join(&f.file)).collect();
    swap(config, dir, &targets, &sources, &prints, opts)?;
    drop(held);
    drop(dir_lock);
    Ok(RestoreReport {
        restored: targets.into_iter().map(|t| t.path).collect(),
        manifest,
        safety_copy,
        recovered,
    })
}

/// The journal (module docs).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    format: u32,
    state: JournalState,
    /// The backup restored (informational).
    backup: String,
    entries: Vec<JournalEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum JournalState {
    Staging,
    Swapping,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalEntry {
    /// Relative to the data directory.
    target: String,
    /// Length of the new file.
    bytes: u64,
    /// CRC32 of all its bytes.
    crc32: u32,
}

fn write_journal(config: &Config, j: &Journal) -> Result<()> {
    let path = config.data_dir.join(JOURNAL);
    let tmp = config.data_dir.join(format!("{JOURNAL}.tmp"));
    let text = serde_json::to_vec_pretty(j).unwrap_or_default();
    let mut f = fsutil::private_file(&tmp)?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", &tmp, e))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(|e| Error::io("rename into place", &path, e))?;
    fsutil::sync_parent(&path)
}

/// Why the swap stopped early: the test hook, or an error.
enum Halt {
    Hook(Step),
    Failed(Error),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Halt {
        Halt::Failed(e)
    }
}

impl From<Halt> for Error {
    fn from(h: Halt) -> Error {
        match h {
            Halt::Hook(step) => {
                Error::Incomplete(format!("restore stopped after {step:?} (test hook)"))
            }
            Halt::Failed(e) => e,
        }
    }
}

fn stop(opts: &RestoreOptions, step: Step) -> std::result::Result<(), Halt> {
    match opts.stop_after {
        Some(s) if s == step => Err(Halt::Hook(step)),
        _ => Ok(()),
    }
}

/// Steps 1–5 of the module docs.
fn swap(
    config: &Config,
    backup: &Path,
    targets: &[Target],
    sources: &[PathBuf],
    prints: &[Fingerprint],
    opts: &RestoreOptions,
) -> std::result::Result<(), Halt> {
    let mut journal = Journal {
        format: JOURNAL_FORMAT,
        state: JournalState::Staging,
        backup: backup.display().to_string(),
        entries: targets
            .iter()
            .zip(prints)
            .map(|(t, p)| JournalEntry {
                target: t.rel.clone(),
                bytes: p.bytes,
                crc32: p.crc32,
            })
            .collect(),
    };
    write_journal(config, &journal)?;
    stop(opts, Step::JournalStaging)?;
    match stage_all(targets, sources, prints, opts) {
        Ok(()) => {}
        Err(Halt::Hook(s)) => return Err(Halt::Hook(s)),
        // Before the commit point: undo, so the old set stays alone.
        Err(Halt::Failed(e)) => {
            return Err(Halt::Failed(match roll_back(config, targets) {
                Ok(_) => e,
                Err(r) => Error::Incomplete(format!(
                    "{e}; removing the staged files failed too ({r}): run \
                     `aragora-db restore --recover`"
                )),
            }));
        }
    }
    journal.state = JournalState::Swapping;
    write_journal(config, &journal)?;
    stop(opts, Step::JournalSwapping)?;
    match rename_all(config, targets, opts) {
        Err(Halt::Failed(e)) => Err(Halt::Failed(Error::Incomplete(format!(
            "{e}; the restore is committed but not complete: run `aragora-db restore --recover` \
             to finish it"
        )))),
        other => other,
    }
}

fn stage_all(
    targets: &[Target],
    sources: &[PathBuf],
    prints: &[Fingerprint],
    opts: &RestoreOptions,
) -> std::result::Result<(), Halt> {
    for (n, ((t, src), want)) in targets.iter().zip(sources).zip(prints).enumerate() {
        fsutil::private_dir(&fsutil::parent_of(&t.path))?;
        let got = copy_fingerprinted(src, &t.staged)?;
        if got != *want {
            return Err(Halt::Failed(Error::Conflict(format!(
                "{}: changed since it was checked ({} bytes, CRC32 {:#010x}; checked: {} bytes, \
                 CRC32 {:#010x})",
                src.display(),
                got.bytes,
                got.crc32,
                want.bytes,
                want.crc32
            ))));
        }
        fsutil::sync_parent(&t.staged)?;
        stop(opts, Step::Staged(n + 1))?;
    }
    Ok(())
}

fn rename_all(
    config: &Config,
    targets: &[Target],
    opts: &RestoreOptions,
) -> std::result::Result<(), Halt> {
    for (n, t) in targets.iter().enumerate() {
        fs::rename(&t.staged, &t.path).map_err(|e| Error::io("rename into place", &t.path, e))?;
        fsutil::sync_parent(&t.path)?;
        stop(opts, Step::Renamed(n + 1))?;
    }
    let j = config.data_dir.join(JOURNAL);
    fs::remove_file(&j).map_err(|e| Error::io("remove", &j, e))?;
    fsutil::sync_parent(&j)?;
    Ok(())
}

/// Removes every staged file and the journal (before the commit point).
fn roll_back(config: &Config, targets: &[Target]) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for t in targets {
        if t.staged.exists() {
            fsutil::remove_if_exists(&t.staged)?;
            fsutil::sync_parent(&t.staged)?;
            removed.push(t.staged.clone());
        }
    }
    let j = config.data_dir.join(JOURNAL);
    fsutil::remove_if_exists(&j)?;
    fsutil::sync_parent(&j)?;
    Ok(removed)
}

/// The journal of a restore a crash interrupted, if the data directory
/// holds one: until [`recover`] completes it, the database files may be a
/// mix of the old set and the new one. (For commands and applications
/// that want to refuse to start meanwhile; only restore checks it today.)
pub fn interrupted(config: &Config) -> Option<PathBuf> {
    let j = config.data_dir.join(JOURNAL);
    fs::symlink_metadata(&j).is_ok().then_some(j)
}

/// Completes a restore a crash interrupted (module docs): rolls back
/// before the commit point, forward after it. `Ok(None)` when there is
/// nothing to recover.
pub fn recover(config: &Config) -> Result<Option<Recovery>> {
    match lock_data_dir(config)? {
        Some(_lock) => recover_locked(config),
        None => Ok(None),
    }
}

fn recover_locked(config: &Config) -> Result<Option<Recovery>> {
    let done = recover_journal(config)?;
    remove_partial_safety_copies(config)?;
    Ok(done)
}

fn recover_journal(config: &Config) -> Result<Option<Recovery>> {
    let path = config.data_dir.join(JOURNAL);
    let tmp = config.data_dir.join(format!("{JOURNAL}.tmp"));
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if tmp.exists() {
                // A crash while the first journal was written: nothing was
                // staged yet.
                fsutil::remove_if_exists(&tmp)?;
                fsutil::sync_parent(&tmp)?;
            }
            return Ok(None);
        }
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let refuse = |what: String| {
        Error::layout(
            &path,
            Found::Inconsistent,
            format!(
                "{what}; nothing was changed (the journal of an interrupted restore: the files \
                 it replaced are in the newest backup/pre-restore-* directory, unless \
                 --no-safety-copy was given)"
            ),
        )
    };
    let journal: Journal = serde_json::from_slice(&bytes)
        .map_err(|e| refuse(format!("not a restore journal: {e}")))?;
    if journal.format != JOURNAL_FORMAT {
        return Err(refuse(format!(
            "format {}, this binary reads format {JOURNAL_FORMAT}",
            journal.format
        )));
    }
    let rels: Vec<&str> = journal.entries.iter().map(|e| e.target.as_str()).collect();
    let entry = |i: usize| format!("entries[{i}] (target {:?})", journal.entries[i].target);
    let name = |i: usize| format!("{}: {}", path.display(), entry(i));
    let targets = check_targets(config, &rels, &name)?;
    let _held = lock_targets(&targets, &name)?;
    if journal.state == JournalState::Staging {
        let removed = roll_back(config, &targets)?;
        fsutil::remove_if_exists(&tmp)?;
        return Ok(Some(Recovery::RolledBack(removed)));
    }
    // Classify every entry before renaming anything.
    let mut todo = Vec::new();
    for (i, (t, e)) in targets.iter().zip(&journal.entries).enumerate() {
        let want = Fingerprint {
            bytes: e.bytes,
            crc32: e.crc32,
        };
        if t.staged.is_file() && fingerprint(&t.staged)? == want {
            todo.push(t);
        } else if t.exists && fingerprint(&t.path)? == want {
            // Renamed before the crash.
        } else {
            return Err(refuse(format!(
                "{}: neither the staged file {} nor the target {} is the new file the journal \
                 records ({} bytes, CRC32 {:#010x})",
                entry(i),
                t.staged.display(),
                t.path.display(),
                e.bytes,
                e.crc32
            )));
        }
    }
    for t in todo {
        fs::rename(&t.staged, &t.path).map_err(|e| Error::io("rename into place", &t.path, e))?;
        fsutil::sync_parent(&t.path)?;
    }
    fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
    fsutil::sync_parent(&path)?;
    fsutil::remove_if_exists(&tmp)?;
    Ok(Some(Recovery::RolledForward(
        targets.into_iter().map(|t| t.path).collect(),
    )))
}

/// Removes `DATA/backup/.pre-restore-*.partial` directories: safety copies
/// a crash interrupted. The data directory's lock is held, so no restore
/// is writing one, and a crash while one was written came before the swap
/// began: the files it copied are still in place.
fn remove_partial_safety_copies(config: &Config) -> Result<()> {
    let base = config.data_dir.join("backup");
    let Ok(entries) = fs::read_dir(&base) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && name.starts_with(".pre-restore-") && name.ends_with(".partial") {
            fs::remove_dir_all(e.path()).map_err(|err| Error::io("remove", e.path(), err))?;
        }
    }
    Ok(())
}

/// Length and CRC32 of a whole file.
fn fingerprint(path: &Path) -> Result<Fingerprint> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    hash_copy(&mut f, None, path, path)
}

/// Copies `from` into a new private file `to` (fsynced), returning the
/// fingerprint of the bytes copied.
fn copy_fingerprinted(from: &Path, to: &Path) -> Result<Fingerprint> {
    let mut src = File::open(from).map_err(|e| Error::io("open", from, e))?;
    // A link left under the staged name is replaced, never written through.
    fsutil::remove_if_exists(to)?;
    let mut dst = fsutil::private_file(to)?;
    let p = hash_copy(&mut src, Some(&mut dst), from, to)?;
    dst.sync_all().map_err(|e| Error::io("fsync", to, e))?;
    Ok(p)
}

fn hash_copy(
    src: &mut File,
    mut dst: Option<&mut File>,
    from: &Path,
    to: &Path,
) -> Result<Fingerprint> {
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", from, e)),
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
        if let Some(d) = dst.as_deref_mut() {
            d.write_all(&buf[..n])
                .map_err(|e| Error::io("write", to, e))?;
        }
    }
    Ok(Fingerprint {
        bytes,
        crc32: hasher.finalize(),
    })
}

/// Copies every existing target into `DATA/backup/pre-restore-<stamp>/`
/// with a manifest (module docs). The targets' locks are held.
fn safety_copy(config: &Config, targets: &[Target]) -> Result<SafetyCopy> {
    let base = config.data_dir.join("backup");
    fsutil::private_dir(&base)?;
    let stamp = format!("pre-restore-{}", fsutil::stamp(chrono::Utc::now()));
    let mut name = stamp.clone();
    let mut n = 1;
    while base.join(&name).exists() || base.join(format!(".{name}.partial")).exists() {
        name = format!("{stamp}_{n}");
        n += 1;
    }
    let dir = base.join(&name);
    let partial = base.join(format!(".{name}.partial"));
    fsutil::new_private_dir(&partial)?;
    match fill_safety_copy(config, targets, &partial) {
        Ok(unreadable) => {
            fs::rename(&partial, &dir).map_err(|e| Error::io("rename into place", &dir, e))?;
            fsutil::sync_parent(&dir)?;
            let unreadable = unreadable
                .into_iter()
                .map(|(p, why)| (dir.join(p.strip_prefix(&partial).unwrap_or(&p)), why))
                .collect();
            Ok(SafetyCopy { dir, unreadable })
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

fn fill_safety_copy(
    config: &Config,
    targets: &[Target],
    partial: &Path,
) -> Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for t in targets.iter().filter(|t| t.exists) {
        let dest = partial.join(&t.rel);
        fsutil::private_dir(&fsutil::parent_of(&dest))?;
        fsutil::copy_private(&t.path, &dest)?;
        match digest_copy(&dest, config.encryption.as_ref()) {
            Ok(tables) => {
                let bytes = fs::metadata(&dest)
                    .map_err(|e| Error::io("stat", &dest, e))?
                    .len();
                files.push(FileEntry {
                    file: t.rel.clone(),
                    target: t.rel.clone(),
                    bytes,
                    tables,
                    skipped: Vec::new(),
                });
            }
            Err(why) => {
                let moved = partial.join("unreadable").join(&t.rel);
                fsutil::private_dir(&fsutil::parent_of(&moved))?;
                fs::rename(&dest, &moved).map_err(|e| Error::io("rename", &moved, e))?;
                unreadable.push((moved, why.to_string()));
            }
        }
    }
    let m = Manifest {
        format: manifest::FORMAT,
        tool: "aragora-db".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        mode: config.mode.as_str().into(),
        data_dir: config.data_dir.display().to_string(),
        files,
    };
    let mpath = partial.join(FILE_NAME);
    let mut f = fsutil::private_file(&mpath)?;
    f.write_all(&m.to_json())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", &mpath, e))?;
    fsutil::sync_parent(&mpath)?;
    Ok(unreadable)
}

/// Every table of a safety copy with its digest, read from the copy (a
/// private file: a normal open, which recovers it if its original was not
/// shut down cleanly).
fn digest_copy(path: &Path, enc: Option<&crate::crypto::Encryption>) -> Result<Vec<TableEntry>> {
    use redb::ReadableTable;
    let db = raw::open_exclusive(path, enc)?;
    let txn = raw::begin_read(&db, path)?;
    let names = raw::table_names(&txn, path)?;
    let versions: HashMap<String, u32> = raw::guarded(|| -> Result<HashMap<String, u32>> {
        let st = |e: redb::Error| Error::storage(path, e);
        let t = match txn.open_table(crate::db::meta::SCHEMA) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(HashMap::new()),
            Err(e) => return Err(st(e.into())),
        };
        let mut out = HashMap::new();
        for e in t.iter().map_err(|e| st(e.into()))? {
            let (k, v) = e.map_err(|e| st(e.into()))?;
            out.insert(k.value().to_string(), v.value());
        }
        Ok(out)
    })
    .map_err(|p| Error::damaged(path, p))??;
    let mut tables = Vec::new();
    for name in names {
        let d: Digest = raw::guarded(|| super::backup::digest_table(&txn, &name, path))
            .map_err(|p| Error::damaged(path, p))??;
        tables.push(TableEntry {
            schema_version: if META_TABLES.contains(&name.as_str()) {
                None
            } else {
                versions.get(&name).copied()
            },
            name,
            rows: d.rows,
            entries: d.entries,
            crc32: d.crc32,
        });
    }
    Ok(tables)
}
