//! File-system helpers for the operational tools: private permissions
//! (files 0600, directories 0700, whatever the umask), atomic replacement
//! (temporary file + rename + fsync of the directory) and timestamps.

use crate::error::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Creates `dir` and any missing parents; every directory this call
/// creates is set to 0700 (`set_permissions` is not subject to the umask).
pub fn private_dir(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        p = d.parent();
    }
    for d in missing.iter().rev() {
        match dir_builder().create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create directory", d, e)),
        }
        set_mode(d, 0o700)?;
    }
    Ok(())
}

/// Creates a directory that must not exist yet, 0700 whatever the umask.
/// For scratch directories in shared places (the system temporary
/// directory): an existing one may belong to someone else, so it is an
/// error rather than reused.
pub fn new_private_dir(dir: &Path) -> Result<()> {
    dir_builder()
        .create(dir)
        .map_err(|e| Error::io("create directory", dir, e))?;
    set_mode(dir, 0o700)
}

/// Creates directories 0700 (less what the umask removes; callers then set
/// 0700 exactly), so a directory is never wider than 0700, not even before
/// its mode is set.
fn dir_builder() -> fs::DirBuilder {
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    b.mode(0o700);
    b
}

/// Removes the `.<name>.creating-<pid>` files a process killed while it
/// created `path` left beside it ([`crate::Database::open_path`] creates a
/// new file under that name and links it into place). Best effort, and
/// cautious: only where `/proc` shows whether a process runs (Linux), only
/// files of processes that no longer run, and only files untouched for
/// ten minutes (creating a file takes well under a second; the age guards
/// against a creator in another PID namespace sharing the directory).
pub fn remove_stale_creating(path: &Path) {
    const AGE: std::time::Duration = std::time::Duration::from_secs(600);
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.creating-");
    let Ok(entries) = fs::read_dir(parent_of(path)) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= AGE);
        if old {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Creates (or truncates) an empty file with mode 0600.
pub fn private_file(path: &Path) -> Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).read(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let f = o.open(path).map_err(|e| Error::io("create", path, e))?;
    set_mode(path, 0o600)?;
    Ok(f)
}

/// Sets the permission bits (no-op off Unix).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions of", path, e))?;
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// fsyncs a file.
pub fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("fsync", path, e))
}

/// fsyncs the directory holding `path`, so a rename in it is durable.
pub fn sync_parent(path: &Path) -> Result<()> {
    let dir = parent_of(path);
    #[cfg(unix)]
    fs::File::open(&dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("fsync directory", &dir, e))?;
    Ok(())
}

/// The directory holding `path` (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A sibling temporary name: `.<name>.<tag>-<pid>`.
pub fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_of(path).join(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Moves a finished temporary file over `dest` atomically: fsync the file,
/// rename, fsync the directory. Readers see the old file or the new one.
pub fn replace(tmp: &Path, dest: &Path) -> Result<()> {
    sync_file(tmp)?;
    fs::rename(tmp, dest).map_err(|e| Error::io("rename into place", dest, e))?;
    sync_parent(dest)
}

/// Copies a file byte for byte into a new private (0600) file.
pub fn copy_private(from: &Path, to: &Path) -> Result<u64> {
    let mut src = fs::File::open(from).map_err(|e| Error::io("open", from, e))?;
    let mut dst = private_file(to)?;
    let n = std::io::copy(&mut src, &mut dst).map_err(|e| Error::io("copy to", to, e))?;
    dst.sync_all().map_err(|e| Error::io("fsync", to, e))?;
    Ok(n)
}

/// Removes a file if it exists.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// The backup directory name of an instant: `YYYYMMDD_HHMMSS` (UTC).
pub fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%d_%H%M%S").to_string()
}

/// Parses a [`stamp`].
pub fn parse_stamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d_%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// How long [`try_lock_briefly`] keeps trying a lock that is held.
///
/// A `flock` belongs to an open file description, and a `fork` in any
/// thread of this process duplicates every descriptor until the child
/// reaches `exec` (where close-on-exec drops them). A lock this process has
/// just released can therefore still look held for the few milliseconds a
/// child spends between `fork` and `exec` — longer on a loaded machine.
/// A real holder (another restore, a running server) holds it for far
/// longer than this, so waiting this long before refusing costs nothing.
pub const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Takes `file`'s exclusive `flock`, trying again for up to [`LOCK_GRACE`]
/// while it is held elsewhere. `Ok(false)` when it is still held after that.
pub fn try_lock_briefly(file: &fs::File) -> std::io::Result<bool> {
    use std::fs::TryLockError;
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_GRACE => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}
