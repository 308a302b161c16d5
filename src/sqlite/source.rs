//! Where page bytes come from: a byte buffer in memory or a file read with positioned
//! reads (no seek state, so one handle serves every cursor). Implements no part of
//! the file format; the pager (fileformat2 §1.1 "Pages") and WAL recovery (§4) sit on
//! top of it.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;

/// A readable, fixed-length byte source.
pub trait ReadAt: std::fmt::Debug + Send + Sync {
    /// Fill `buf` from byte `offset`; `UnexpectedEof` if the source is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

fn read_slice(src: &[u8], buf: &mut [u8], offset: u64) -> io::Result<()> {
    let eof = || io::Error::from(ErrorKind::UnexpectedEof);
    let start = usize::try_from(offset).map_err(|_| eof())?;
    let bytes = start
        .checked_add(buf.len())
        .and_then(|end| src.get(start..end))
        .ok_or_else(eof)?;
    buf.copy_from_slice(bytes);
    Ok(())
}

impl ReadAt for Vec<u8> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_slice(self, buf, offset)
    }
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

/// A borrowed byte slice as a source (WAL recovery of in-memory bytes, fuzzing).
#[derive(Debug)]
pub struct SliceSource<'a>(pub &'a [u8]);

impl ReadAt for SliceSource<'_> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_slice(self.0, buf, offset)
    }
}
