//! File-system helpers for the operational tools: private permissions
//! (files 0600, directories 0700, whatever the umask), atomic replacement
//! (temporary file + rename + fsync of the directory) and timestamps.

use crate::error::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

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
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create directory", d, e)),
        }
        set_mode(d, 0o700)?;
    }
    Ok(())
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
