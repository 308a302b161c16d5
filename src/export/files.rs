//! Export files are written beside their destination first and never
//! replace a different file silently.
//!
//! Each file is written in full to a temporary sibling (0600). Once every
//! file of the export is written, each is compared with what its
//! destination holds: a destination with the same bytes is left untouched
//! (re-exporting unchanged data changes nothing), a missing one is created,
//! and a different one is replaced only with `force`. Without `force`, one
//! different destination refuses the whole export: every temporary file is
//! removed and nothing is written. Replacing is a rename, so a reader sees
//! the old file or the new one.

use crate::error::{Error, Result};
use crate::ops::fsutil;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What happened to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was written.
    Created,
    /// It held the same bytes and was left as it was.
    Unchanged,
    /// It held something else and was replaced (`force`).
    Replaced,
}

impl Outcome {
    /// `wrote`, `unchanged`, `replaced`: for messages.
    pub fn verb(self) -> &'static str {
        match self {
            Outcome::Created => "wrote",
            Outcome::Unchanged => "unchanged (same content)",
            Outcome::Replaced => "replaced",
        }
    }
}

/// A file being written beside its destination; the temporary file is
/// removed when this is dropped before [`commit`].
pub struct Staged {
    dest: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Staged {
    /// Starts writing the file that will become `dest`.
    pub fn new(dest: &Path) -> Result<Staged> {
        let tmp = fsutil::temp_sibling(dest, "export");
        let f = fsutil::private_file(&tmp)?;
        Ok(Staged {
            dest: dest.to_path_buf(),
            tmp,
            out: Some(BufWriter::new(f)),
        })
    }

    /// Where the file goes.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The writer of the temporary file.
    pub fn writer(&mut self) -> &mut dyn Write {
        self.out.as_mut().expect("written after finish")
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(mut w) = self.out.take() {
            w.flush().map_err(|e| Error::io("write", &self.tmp, e))?;
            w.get_ref()
                .sync_all()
                .map_err(|e| Error::io("fsync", &self.tmp, e))?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        self.out = None;
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Puts every staged file in place, or none (see the module docs).
pub fn commit(mut staged: Vec<Staged>, force: bool) -> Result<Vec<(PathBuf, Outcome)>> {
    let mut outcomes = Vec::new();
    let mut conflicts = Vec::new();
    for s in &mut staged {
        s.finish()?;
        let outcome = match std::fs::symlink_metadata(&s.dest) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Created,
            Err(e) => return Err(Error::io("inspect", &s.dest, e)),
            Ok(m) if !m.is_file() => {
                return Err(Error::Invalid(format!(
                    "{}: exists and is not a regular file; expected a file to write the export to",
                    s.dest.display()
                )));
            }
            Ok(_) if same_content(&s.tmp, &s.dest)? => Outcome::Unchanged,
            Ok(_) => Outcome::Replaced,
        };
        if outcome == Outcome::Replaced && !force {
            conflicts.push(s.dest.display().to_string());
        }
        outcomes.push(outcome);
    }
    if !conflicts.is_empty() {
        return Err(Error::Invalid(format!(
            "{} already exist{} with different content; nothing was written (--force replaces {})",
            conflicts.join(", "),
            if conflicts.len() == 1 { "s" } else { "" },
            if conflicts.len() == 1 { "it" } else { "them" },
        )));
    }
    let mut done = Vec::new();
    for (s, outcome) in staged.iter().zip(outcomes) {
        if outcome == Outcome::Replaced {
            // A replaced file keeps its mode, as every existing file does.
            let perm = std::fs::metadata(&s.dest)
                .map_err(|e| Error::io("inspect", &s.dest, e))?
                .permissions();
            std::fs::set_permissions(&s.tmp, perm)
                .map_err(|e| Error::io("set permissions of", &s.tmp, e))?;
        }
        if outcome != Outcome::Unchanged {
            fsutil::replace(&s.tmp, &s.dest)?;
        }
        done.push((s.dest.clone(), outcome));
    }
    Ok(done)
}

/// Whether two files hold the same bytes.
fn same_content(a: &Path, b: &Path) -> Result<bool> {
    let open = |p: &Path| File::open(p).map_err(|e| Error::io("open", p, e));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let len = |f: &File, p: &Path| {
        f.metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io("inspect", p, e))
    };
    if len(&fa, a)? != len(&fb, b)? {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(|e| Error::io("read", a, e))?;
        let m = read_full(&mut fb, &mut bb).map_err(|e| Error::io("read", b, e))?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the end of the file.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
