//! The 100-byte database header (fileformat2 §1.3 "The Database Header").
//!
//! ```text
//! off size field                         off size field
//!   0  16  "SQLite format 3\0"            40   4  schema cookie
//!  16   2  page size (1 = 65536)          44   4  schema format (1..=4)
//!  18   1  write version (1 legacy, 2 WAL) 48   4  default page cache size
//!  19   1  read version                   52   4  largest root page (auto-vacuum)
//!  20   1  reserved bytes per page        56   4  text encoding (1 UTF-8, 2 LE, 3 BE)
//!  21   3  payload fractions 64/32/32     60   4  user_version
//!  24   4  file change counter            64   4  incremental-vacuum flag
//!  28   4  database size in pages         68   4  application_id
//!  32   4  first freelist trunk page      72  20  reserved (zero)
//!  36   4  freelist page count            92   4  version-valid-for
//!                                         96   4  SQLITE_VERSION_NUMBER
//! ```
//! All integers are big-endian. Validated: the page size, the read/write versions, the
//! reserved bytes (usable size at least 480), the payload fractions 64/32/32, the
//! in-header page count, the text encoding, the schema format and the auto-vacuum fields.

use super::error::{Result, SqliteError};

/// The 16-byte magic string at offset 0.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Size of the header.
pub const HEADER_SIZE: usize = 100;

/// Text encoding of every TEXT value (and of the schema SQL) in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// 1
    Utf8,
    /// 2
    Utf16le,
    /// 3
    Utf16be,
}

impl std::fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf16le => "UTF-16le",
            TextEncoding::Utf16be => "UTF-16be",
        })
    }
}

/// Auto-vacuum mode, from header offsets 52 and 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoVacuum {
    /// No ptrmap pages.
    None,
    /// `PRAGMA auto_vacuum=FULL`.
    Full,
    /// `PRAGMA auto_vacuum=INCREMENTAL`.
    Incremental,
}

/// Parsed and validated database header, plus the page count the reader settled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbHeader {
    /// Page size in bytes (512..=65536).
    pub page_size: u32,
    /// Offset 18: 1 = rollback journal, 2 = WAL.
    pub write_version: u8,
    /// Offset 19: 1 = rollback journal, 2 = WAL.
    pub read_version: u8,
    /// Reserved bytes at the end of each page (offset 20).
    pub reserved: u8,
    /// File change counter (offset 24).
    pub change_counter: u32,
    /// Database size in pages as stored at offset 28 (may be stale, see `page_count`).
    pub db_size_in_header: u32,
    /// First freelist trunk page (offset 32).
    pub first_freelist_trunk: u32,
    /// Number of freelist pages (offset 36).
    pub freelist_count: u32,
    /// Schema cookie (offset 40).
    pub schema_cookie: u32,
    /// Schema format number (offset 44); 0 is read as 1, as SQLite does.
    pub schema_format: u32,
    /// Default page cache size (offset 48).
    pub default_cache_size: u32,
    /// Largest root b-tree page in auto-vacuum mode, else 0 (offset 52).
    pub largest_root_page: u32,
    /// Text encoding (offset 56); 0 is read as UTF-8, as SQLite does.
    pub text_encoding: TextEncoding,
    /// `PRAGMA user_version` (offset 60).
    pub user_version: i32,
    /// Incremental-vacuum flag (offset 64).
    pub incremental_vacuum: u32,
    /// `PRAGMA application_id` (offset 68).
    pub application_id: i32,
    /// Version-valid-for number (offset 92).
    pub version_valid_for: u32,
    /// SQLITE_VERSION_NUMBER of the last writer (offset 96).
    pub sqlite_version_number: u32,
    /// Number of pages in the database as SQLite computes it (header size when valid,
    /// else file size or the WAL commit size).
    pub page_count: u32,
}

fn be32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn byte(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

/// A short description of bytes that should have been the magic, for errors:
/// zeros, text (quoted, escaped) or hex.
pub fn describe_bytes(b: &[u8]) -> String {
    if b.iter().all(|&c| c == 0) {
        return format!("{} zero bytes", b.len());
    }
    if b.iter()
        .all(|&c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        return format!("text {:?}", String::from_utf8_lossy(b));
    }
    let hex: Vec<String> = b.iter().map(|c| format!("{c:02x}")).collect();
    format!("bytes {}", hex.join(" "))
}

/// Page size from the two bytes at offset 16, validated (a power of two from 512 to
/// 32768, or 1 for 65536).
pub fn page_size_of(h: &[u8]) -> Result<u32> {
    let raw = u32::from(byte(h, 16)) << 8 | u32::from(byte(h, 17));
    let size = if raw == 1 { 65536 } else { raw };
    if !(512..=65536).contains(&size) || !size.is_power_of_two() {
        return Err(SqliteError::corrupt(
            1,
            16,
            format!("page size: expected a power of two in 512..=32768 or 1 (65536), found {raw}"),
        ));
    }
    Ok(size)
}

impl DbHeader {
    /// Parse and validate the first 100 bytes of page 1. `page_count` is filled in by the pager.
    pub fn parse(h: &[u8]) -> Result<DbHeader> {
        if h.len() < HEADER_SIZE {
            return Err(SqliteError::corrupt(
                1,
                0,
                format!("header: expected 100 bytes, found {}", h.len()),
            ));
        }
        if h.get(..16) != Some(MAGIC.as_slice()) {
            return Err(SqliteError::corrupt(
                1,
                0,
                "header magic: expected \"SQLite format 3\\0\"",
            ));
        }
        let page_size = page_size_of(h)?;
        let write_version = byte(h, 18);
        let read_version = byte(h, 19);
        if read_version > 2 {
            return Err(SqliteError::Unsupported(format!(
                "file format read version {read_version} (this reader knows 1 and 2)"
            )));
        }
        let reserved = byte(h, 20);
        let usable = page_size - u32::from(reserved);
        if usable < 480 {
            return Err(SqliteError::corrupt(
                1,
                20,
                format!(
                    "reserved bytes: usable page size must be >= 480, found {page_size} - {reserved} = {usable}"
                ),
            ));
        }
        if h.get(21..24) != Some(&[64u8, 32, 32][..]) {
            return Err(SqliteError::corrupt(
                1,
                21,
                format!(
                    "payload fractions: expected 64/32/32, found {}/{}/{}",
                    byte(h, 21),
                    byte(h, 22),
                    byte(h, 23)
                ),
            ));
        }
        let schema_format = match be32(h, 44) {
            0 => 1,
            f @ 1..=4 => f,
            f => {
                return Err(SqliteError::corrupt(
                    1,
                    44,
                    format!("schema format: expected 1..=4, found {f}"),
                ));
            }
        };
        let text_encoding = match be32(h, 56) {
            0 | 1 => TextEncoding::Utf8,
            2 => TextEncoding::Utf16le,
            3 => TextEncoding::Utf16be,
            e => {
                return Err(SqliteError::corrupt(
                    1,
                    56,
                    format!("text encoding: expected 1, 2 or 3, found {e}"),
                ));
            }
        };
        let largest_root_page = be32(h, 52);
        let incremental_vacuum = be32(h, 64);
        if largest_root_page == 0 && incremental_vacuum != 0 {
            return Err(SqliteError::corrupt(
                1,
                64,
                format!(
                    "incremental-vacuum flag: expected 0 when largest root page is 0, found {incremental_vacuum}"
                ),
            ));
        }
        Ok(DbHeader {
            page_size,
            write_version,
            read_version,
            reserved,
            change_counter: be32(h, 24),
            db_size_in_header: be32(h, 28),
            first_freelist_trunk: be32(h, 32),
            freelist_count: be32(h, 36),
            schema_cookie: be32(h, 40),
            schema_format,
            default_cache_size: be32(h, 48),
            largest_root_page,
            text_encoding,
            user_version: be32(h, 60) as i32,
            incremental_vacuum,
            application_id: be32(h, 68) as i32,
            version_valid_for: be32(h, 92),
            sqlite_version_number: be32(h, 96),
            page_count: 0,
        })
    }

    /// Usable bytes per page (page size minus reserved bytes).
    pub fn usable_size(&self) -> u32 {
        self.page_size - u32::from(self.reserved)
    }

    /// Auto-vacuum mode.
    pub fn auto_vacuum(&self) -> AutoVacuum {
        match (self.largest_root_page, self.incremental_vacuum) {
            (0, _) => AutoVacuum::None,
            (_, 0) => AutoVacuum::Full,
            _ => AutoVacuum::Incremental,
        }
    }

    /// True if the header says WAL mode (read/write versions 2).
    pub fn is_wal_mode(&self) -> bool {
        self.read_version == 2 || self.write_version == 2
    }

    /// The in-header page count is trusted only when non-zero and the change counter
    /// equals the version-valid-for number (fileformat2 §1.3.6).
    pub fn header_size_valid(&self) -> bool {
        self.db_size_in_header != 0 && self.change_counter == self.version_valid_for
    }
}
