//! Files a read-only command could not read, and how to say so.
//!
//! `status`, `backup`, `export` and `verify` go through every database file
//! of the mode. One damaged file must not hide the others: each command
//! reports it (its name, a plain reason, and how to recover its rows with
//! `salvage`), carries on with every other file, and fails at the end. The
//! raw redb message (e.g. `__schema has key type &str and value type e32`
//! after a bit flip) says nothing to an operator, so it is kept only as the
//! detail behind a plain reason.

use crate::error::{Error, Found};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What kind of trouble a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trouble {
    /// The bytes are damaged: salvage can recover the readable rows.
    Damaged,
    /// A 0-byte file: nothing to read, nothing to recover.
    Empty,
    /// Another process holds it.
    Locked,
    /// Encrypted without a key, the wrong key, a newer schema, a foreign
    /// file: the file may be fine, this run cannot read it.
    Unreadable,
}

/// A file a command could not read.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    /// The file.
    pub path: PathBuf,
    /// What kind of trouble.
    pub trouble: Trouble,
    /// The plain reason ("damaged: cannot be opened (truncated)").
    pub reason: String,
    /// The underlying error.
    pub detail: String,
    /// The command that recovers its rows, when salvage applies.
    pub salvage: Option<String>,
}

impl Unreadable {
    /// Classifies the error that stopped a read of `path`.
    pub fn from_error(path: &Path, e: &Error) -> Unreadable {
        let detail = strip_path(&e.to_string(), path);
        let (trouble, reason) = match e {
            Error::Locked { .. } => (
                Trouble::Locked,
                "locked: another process has it open for writing".to_string(),
            ),
            Error::WrongKey { .. } | Error::Encryption { .. } | Error::SchemaTooNew { .. } => {
                (Trouble::Unreadable, format!("cannot be read: {detail}"))
            }
            Error::Layout {
                found: Found::Empty,
                ..
            } => (
                Trouble::Empty,
                "empty (0 bytes): not a database; left as it is".to_string(),
            ),
            Error::Layout {
                found: Found::Missing,
                ..
            } => (Trouble::Unreadable, "does not exist".to_string()),
            Error::Layout {
                found: Found::Foreign,
                what,
                ..
            } => (Trouble::Unreadable, format!("cannot be read: {what}")),
            Error::Layout {
                found: Found::OtherVersion,
                ..
            } => (Trouble::Unreadable, format!("cannot be read: {detail}")),
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => (
                Trouble::Unreadable,
                format!("cannot be read: permission denied ({detail})"),
            ),
            _ => (
                Trouble::Damaged,
                format!("damaged: {}", plain_reason(&detail)),
            ),
        };
        let salvage = (trouble == Trouble::Damaged).then(|| salvage_command(path));
        Unreadable {
            path: path.to_path_buf(),
            trouble,
            reason,
            detail,
            salvage,
        }
    }

    /// The report lines for a terminal: the file and reason, then the
    /// salvage advice when it applies.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("{}  {}", self.path.display(), self.reason)];
        if self.trouble != Trouble::Empty
            && self.reason != self.detail
            && !self.reason.ends_with(&self.detail)
        {
            out.push(format!("  detail: {}", self.detail));
        }
        if let Some(cmd) = &self.salvage {
            out.push(format!("  run {cmd} to recover its readable rows"));
        }
        out
    }
}

/// `aragora-db salvage FILE --out NEW`, for `path`.
pub fn salvage_command(path: &Path) -> String {
    format!("aragora-db salvage {} --out NEW", path.display())
}

/// The summary error a command returns after reporting unreadable files
/// (each was named in its own report line; the summary does not repeat them).
pub fn summary_error(what: &str, files: &[Unreadable]) -> Error {
    let damaged = files
        .iter()
        .filter(|f| f.trouble == Trouble::Damaged)
        .count();
    let mut msg = format!(
        "{what}: {} database file(s) could not be read (listed above)",
        files.len()
    );
    if damaged > 0 {
        msg.push_str(&format!(
            "; {damaged} damaged: `aragora-db salvage FILE --out NEW` recovers their readable rows"
        ));
    }
    Error::InvalidArgument(msg)
}

/// The error message without the file's path (the report names it).
fn strip_path(msg: &str, path: &Path) -> String {
    let p = path.display().to_string();
    let msg = msg
        .replace(&format!("storage error in {p}: "), "")
        .replace(&format!("{p}: "), "")
        .replace(&format!(" {p}"), "");
    msg.trim().to_string()
}

/// A plain reason for a redb or decoding error.
pub fn plain_reason(detail: &str) -> String {
    let d = detail.to_ascii_lowercase();
    let why = if d.contains("authentication") || d.contains("authenticate") {
        "cannot be opened (blocks fail authentication)"
    } else if d.contains("past the end") {
        "cannot be opened (a page reference points past the end of the file)"
    } else if d.contains("fill whole buffer")
        || d.contains("unexpected end of file")
        || d.contains("unexpectedeof")
        || d.contains("truncated")
    {
        "cannot be opened (truncated)"
    } else if d.contains("header") && d.contains("checksum") {
        "cannot be opened (header checksum mismatch)"
    } else if d.contains("checksum") || d.contains("crc") {
        "checksum mismatch (damaged pages or rows)"
    } else if d.contains("has key type") || d.contains("type mismatch") {
        "cannot be opened (its table catalog is damaged)"
    } else if d.contains("invalid data") || d.contains("magic") {
        "cannot be opened (not a valid redb header)"
    } else if d.contains("stopped on damaged") || d.contains("panicked") {
        "cannot be read (redb stopped on damaged bytes)"
    } else {
        "cannot be opened"
    };
    why.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_reasons() {
        assert_eq!(
            plain_reason("I/O error: failed to fill whole buffer"),
            "cannot be opened (truncated)"
        );
        assert_eq!(
            plain_reason("__schema has key type &str and value type e32"),
            "cannot be opened (its table catalog is damaged)"
        );
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "failed to fill whole buffer",
        );
        let e = Error::storage("/d/users.redb", redb::Error::Io(eof));
        let u = Unreadable::from_error(Path::new("/d/users.redb"), &e);
        assert_eq!(u.trouble, Trouble::Damaged);
        assert_eq!(u.reason, "damaged: cannot be opened (truncated)");
        assert!(!u.detail.contains("/d/users.redb"));
        assert_eq!(
            u.salvage.as_deref(),
            Some("aragora-db salvage /d/users.redb --out NEW")
        );
    }
}
