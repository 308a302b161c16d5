//! Entry points for fuzzing every parser in this module on arbitrary bytes (fileformat2:
//! header §1.3, records §2.1, WAL §4, schema SQL §2.6, whole files). None of them may panic,
//! hang or allocate beyond the input's size; the main crate's `fuzz/` targets and the
//! replay tests call them. Compiled only with the feature `testing` (and in unit tests).

use std::io::sink;
use std::path::Path;

use super::file::SqliteFile;
use super::header::{self, DbHeader};
use super::info::DbInfo;
use super::record;
use super::source::SliceSource;
use super::wal;
use super::{ddl, dump};

/// Parse a database header.
pub fn fuzz_header(data: &[u8]) {
    let _ = DbHeader::parse(data);
    let _ = header::page_size_of(data);
}

/// Parse a record and decode all of its values.
pub fn fuzz_record(data: &[u8]) {
    let mut fields = Vec::new();
    if record::parse_header(data, &mut fields, true).is_ok() {
        for f in &fields {
            let _ = record::decode(
                f.serial,
                data.get(f.start..f.start + f.len).unwrap_or_default(),
            );
        }
    }
}

/// Recover a WAL (page size taken from its own header, and 4096).
pub fn fuzz_wal(data: &[u8]) {
    let ps = data
        .get(8..12)
        .map_or(4096, |b| b.iter().fold(0u32, |a, &x| a << 8 | u32::from(x)));
    let src = SliceSource(data);
    let len = data.len() as u64;
    let _ = wal::recover(&src, len, ps, Path::new("-wal"));
    let _ = wal::recover(&src, len, 4096, Path::new("-wal"));
}

/// Parse CREATE TABLE / CREATE INDEX text.
pub fn fuzz_schema_sql(data: &[u8]) {
    let sql = String::from_utf8_lossy(data);
    let _ = ddl::parse_create_table("t", 2, &sql);
    let _ = ddl::parse_create_index("i", "t", 3, Some(&sql));
}

/// Open a database from bytes and read everything in it.
pub fn fuzz_file(main: &[u8], wal: Option<&[u8]>) {
    let Ok(file) = SqliteFile::from_bytes(main.to_vec(), wal.map(<[u8]>::to_vec)) else {
        return;
    };
    let _ = file.freelist();
    let _ = file.indexes();
    let _ = file.sqlite_sequence();
    let _ = DbInfo::gather(&file).map(|i| i.to_string());
    let Ok(entries) = file.schema_entries() else {
        return;
    };
    for e in entries.iter().filter(|e| e.kind == "table") {
        let Ok(t) = file.table_from_entry(e) else {
            continue;
        };
        let _ = file.row_count(&t);
        if let Ok(mut rows) = file.rows(&t) {
            while let Some(r) = rows.next_row() {
                match r {
                    Ok(row) => {
                        for v in row.values() {
                            let _ = v.type_name();
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        let _ = dump::write_jsonl(&file, &t, sink());
        let _ = dump::write_csv(&file, &t, sink());
    }
}

/// One entry point for everything: the first byte picks the target; for whole files the
/// next four bytes (big-endian) give the main-file length, the rest after it is the WAL.
pub fn fuzz_entry(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 6 {
        0 => fuzz_header(rest),
        1 => fuzz_record(rest),
        2 => fuzz_wal(rest),
        3 => fuzz_schema_sql(rest),
        4 => fuzz_file(rest, None),
        _ => {
            let len = rest.get(..4).map_or(0, |b| {
                b.iter().fold(0usize, |a, &x| a << 8 | usize::from(x))
            });
            let body = rest.get(4..).unwrap_or_default();
            let (main, wal) = body.split_at(len.min(body.len()));
            fuzz_file(main, Some(wal));
        }
    }
}
