//! Export files never replace a different file silently, and an export
//! that changes nothing touches nothing.
//!
//! Each file is first generated against its destination, if there is one,
//! and compared byte for byte on the fly (nothing is written). The same
//! bytes: the destination is left as it is (re-exporting unchanged data
//! changes nothing, not even a directory). Different bytes: the export is
//! refused, naming every such file, before anything is written, unless
//! `force`. Then every file to create or replace is generated again in full
//! into a temporary sibling (0600) and, once all are written, each is
//! renamed into place, so a reader sees the old file or the new one.

use crate::error::{Error, Result};
use crate::fsutil;
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

/// What writes one file's whole content.
pub type Generate<'a> = Box<dyn FnMut(&mut dyn Write) -> Result<()> + 'a>;

/// One file of an export: its destination and what writes its content
/// (called once to compare with an existing destination and once more to
/// write it; it must write the same bytes each time).
pub struct Output<'a> {
    /// Where the file goes.
    pub dest: PathBuf,
    /// Writes the whole content.
    pub write: Generate<'a>,
}

/// A file being written beside its destination; the temporary file is
/// removed when this is dropped before it is put in place.
struct Staged {
    dest: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Staged {
    fn new(dest: &Path) -> Result<Staged> {
        let tmp = fsutil::temp_sibling(dest, "export");
        let f = fsutil::private_file(&tmp)?;
        Ok(Staged {
            dest: dest.to_path_buf(),
            tmp,
            out: Some(BufWriter::new(f)),
        })
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

/// Puts every output in place, or none (see the module docs).
pub fn put(mut outputs: Vec<Output<'_>>, force: bool) -> Result<Vec<(PathBuf, Outcome)>> {
    let mut outcomes = Vec::new();
    let mut conflicts = Vec::new();
    for o in &mut outputs {
        let outcome = match std::fs::symlink_metadata(&o.dest) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Created,
            Err(e) => return Err(Error::io("inspect", &o.dest, e)),
            Ok(m) if !m.is_file() => {
                return Err(Error::InvalidArgument(format!(
                    "{}: exists and is not a regular file; expected a file to write the export to",
                    o.dest.display()
                )));
            }
            Ok(_) if same_content(o)? => Outcome::Unchanged,
            Ok(_) => Outcome::Replaced,
        };
        if outcome == Outcome::Replaced && !force {
            conflicts.push(o.dest.display().to_string());
        }
        outcomes.push(outcome);
    }
    if !conflicts.is_empty() {
        return Err(Error::Conflict(format!(
            "{} already exist{} with different content; nothing was written (--force replaces {})",
            conflicts.join(", "),
            if conflicts.len() == 1 { "s" } else { "" },
            if conflicts.len() == 1 { "it" } else { "them" },
        )));
    }
    let mut staged = Vec::new();
    for (o, &outcome) in outputs.iter_mut().zip(&outcomes) {
        if outcome == Outcome::Unchanged {
            continue;
        }
        let mut s = Staged::new(&o.dest)?;
        (o.write)(s.out.as_mut().expect("new"))?;
        s.finish()?;
        if outcome == Outcome::Replaced {
            // A replaced file keeps its mode, as every existing file does.
            let perm = std::fs::metadata(&s.dest)
                .map_err(|e| Error::io("inspect", &s.dest, e))?
                .permissions();
            std::fs::set_permissions(&s.tmp, perm)
                .map_err(|e| Error::io("set permissions of", &s.tmp, e))?;
        }
        staged.push(s);
    }
    for s in &staged {
        fsutil::replace(&s.tmp, &s.dest)?;
    }
    Ok(outputs.into_iter().map(|o| o.dest).zip(outcomes).collect())
}

/// Whether an existing destination holds exactly what `o` writes.
fn same_content(o: &mut Output<'_>) -> Result<bool> {
    let f = File::open(&o.dest).map_err(|e| Error::io("open", &o.dest, e))?;
    let mut c = Comparer {
        file: f,
        same: true,
        buf: Vec::new(),
        err: None,
    };
    (o.write)(&mut c)?;
    if let Some(e) = c.err {
        return Err(Error::io("read", &o.dest, e));
    }
    if !c.same {
        return Ok(false);
    }
    let mut one = [0u8; 1];
    let n = read_full(&mut c.file, &mut one).map_err(|e| Error::io("read", &o.dest, e))?;
    Ok(n == 0)
}

/// A writer that compares what it is given with a file's bytes.
struct Comparer {
    file: File,
    same: bool,
    buf: Vec<u8>,
    err: Option<std::io::Error>,
}

impl Write for Comparer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.same {
            self.buf.resize(data.len(), 0);
            match read_full(&mut self.file, &mut self.buf) {
                Ok(n) => self.same = n == data.len() && self.buf[..n] == *data,
                Err(e) => {
                    self.same = false;
                    self.err = Some(e);
                }
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
