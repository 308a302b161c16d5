//! Rollback journal detection (fileformat2 §3 "The Rollback Journal"; "hot journal"
//! rule of SQLite's `hasHotJournal`).
//!
//! ```text
//! journal header: 0  8 bytes magic d9 d5 05 f9 20 a1 63 d7
//!                 8  page count   12 nonce   16 initial db size
//!                20  sector size  24 page size
//! ```
//! A `-journal` that exists, is non-empty and whose first byte is non-zero means a
//! write transaction was interrupted: the main file may be half-written. The reader
//! refuses such a database rather than rolling it back in memory.

/// Journal header magic.
pub const MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// True if a journal with these leading bytes is hot (SQLite reads only the first byte).
pub fn is_hot(first_bytes: &[u8]) -> bool {
    first_bytes.first().is_some_and(|&b| b != 0)
}

/// True if the bytes start with the journal magic.
pub fn has_magic(first_bytes: &[u8]) -> bool {
    first_bytes.get(..8) == Some(MAGIC.as_slice())
}
