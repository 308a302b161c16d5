//! Fuzzing entry points: one function per `fuzz/` target, each taking arbitrary bytes.
//!
//! None of them may panic, hang or allocate far beyond the input's size on any input;
//! the only assertions are the key codec's invariants in [`key_decode`](crate::fuzzing::key_decode). The cargo-fuzz
//! targets in `fuzz/fuzz_targets/` and the replay test `tests/it/fuzz_corpus.rs` call
//! them (see `fuzz/README.md`). Compiled only with the feature `testing` (and in the
//! crate's own unit tests): the shipped library has none of it.

use crate::schema::users::{USERS, User};
use crate::sqlite::{self, cursor::TreeCursor, pager::Pager};
use crate::table::{Row, keys};

/// SQLite database header (first 100 bytes of page 1).
pub fn sqlite_header(data: &[u8]) {
    sqlite::fuzz_header(data);
}

/// One SQLite record (header of serial types, then values), every value decoded.
pub fn sqlite_record(data: &[u8]) {
    sqlite::fuzz_record(data);
}

/// A `-wal` file on its own: header, frame checksums, salts, commit frames.
pub fn sqlite_wal(data: &[u8]) {
    sqlite::fuzz_wal(data);
}

/// A CREATE TABLE / CREATE INDEX statement (lossily decoded as UTF-8).
pub fn sqlite_schema_sql(data: &[u8]) {
    sqlite::fuzz_schema_sql(data);
}

/// A whole database, read completely. Input starting with the SQLite magic is the main
/// file alone; anything else is a 4-byte big-endian main-file length, the main file, then
/// the `-wal` (the layout of [`sqlite::fuzz_entry`]'s selector 5).
pub fn sqlite_file(data: &[u8]) {
    if data.starts_with(b"SQLite format 3\0") {
        sqlite::fuzz_file(data, None);
    } else {
        sqlite::fuzz_entry(&[[5].as_slice(), data].concat());
    }
}

const PAGE: usize = 512;
/// Schema of the database that [`sqlite_page`] builds: (type, name, root page, SQL).
const PAGE_SCHEMA: [(&str, &str, u8, &str); 2] = [
    ("table", "t", 2, "CREATE TABLE t(a,b,c)"),
    ("index", "i", 3, "CREATE INDEX i ON t(a,b)"),
];
const MAX_PAGES: usize = 16;

/// B-tree pages: the input (at most 16 × 512 bytes, zero-padded) becomes pages 2.. of a
/// 512-byte-page database whose page 1 declares `t(a,b,c)` rooted at page 2 and index
/// `i ON t(a,b)` at page 3. The file is read as [`sqlite_file`] does, then every page is
/// walked as a b-tree root and each cell's local payload parsed as a record.
pub fn sqlite_page(data: &[u8]) {
    let body = &data[..data.len().min(MAX_PAGES * PAGE)];
    let pages = 1 + body.len().div_ceil(PAGE).max(1);
    let mut main = page_one(pages as u32);
    main.extend_from_slice(body);
    main.resize(pages * PAGE, 0);
    sqlite::fuzz_file(&main, None);
    let Ok(pager) = Pager::new(main, None) else {
        return;
    };
    for root in 2..=pages as u32 {
        let mut cursor = TreeCursor::new(&pager, root);
        while let Ok(Some((_, cell))) = cursor.next_cell() {
            sqlite::fuzz_record(cell.local);
        }
    }
}

/// Page 1 of [`sqlite_page`]'s database: header, then a `sqlite_schema` leaf holding
/// [`PAGE_SCHEMA`] (every length below 57, so every varint is one byte).
fn page_one(pages: u32) -> Vec<u8> {
    let mut p = vec![0u8; PAGE];
    p[..16].copy_from_slice(b"SQLite format 3\0");
    p[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    p[18..24].copy_from_slice(&[1, 1, 0, 64, 32, 32]);
    for (off, v) in [
        (24, 1),
        (28, pages),
        (44, 4),
        (56, 1),
        (92, 1),
        (96, 3_045_000),
    ] {
        p[off..off + 4].copy_from_slice(&v.to_be_bytes());
    }
    p[100] = 13;
    p[104] = PAGE_SCHEMA.len() as u8;
    let mut end = PAGE;
    for (i, (kind, name, root, sql)) in PAGE_SCHEMA.into_iter().enumerate() {
        let texts = [kind, name, "t"];
        let mut serials: Vec<u8> = texts.iter().map(|t| 13 + 2 * t.len() as u8).collect();
        serials.extend([1, 13 + 2 * sql.len() as u8]);
        let mut payload = vec![1 + serials.len() as u8];
        payload.extend(serials);
        payload.extend(texts.iter().flat_map(|t| t.bytes()));
        payload.push(root);
        payload.extend(sql.bytes());
        let cell = [&[payload.len() as u8, 1 + i as u8][..], &payload].concat();
        end -= cell.len();
        p[end..end + cell.len()].copy_from_slice(&cell);
        p[108 + 2 * i..110 + 2 * i].copy_from_slice(&(end as u16).to_be_bytes());
    }
    p[105..107].copy_from_slice(&(end as u16).to_be_bytes());
    p
}

/// A stored row envelope, as read by `RowView`, `Row::decode` and
/// `TableDef::decode_values` (both for `users`). Inputs of 5 bytes or more are decoded a
/// second time with their last 4 bytes replaced by the correct CRC-32, so the body
/// decoder is reached, not just the checksum.
pub fn row_decode(data: &[u8]) {
    decode_row(data);
    if data.len() >= 5 {
        let mut fixed = data.to_vec();
        let at = fixed.len() - 4;
        let crc = crc32fast::hash(&fixed[..at]);
        fixed[at..].copy_from_slice(&crc.to_le_bytes());
        decode_row(&fixed);
    }
}

fn decode_row(bytes: &[u8]) {
    let key = &bytes[..bytes.len().min(12)];
    let _ = crate::table::codec::with_view(bytes, |view| {
        let _ = view.extras();
        view.values().iter().for_each(|v| drop(v.describe()));
    });
    if let Err(e) = User::decode(key, bytes) {
        drop(e.to_string());
    }
    // The one-pass decode accepts exactly the rows the view decode accepts,
    // with the same result; everything else goes to the view decode.
    match (User::decode_fast(bytes), User::decode_view(key, bytes)) {
        (Some(fast), Ok(view)) => assert_eq!(fast, view, "one-pass and view decodes differ"),
        (None, Err(_)) => {}
        (Some(_), Err(e)) => {
            panic!("the one-pass decode accepted a row the view decode refuses: {e}")
        }
        (None, Ok(_)) => panic!("the one-pass decode refused a sound row"),
    }
    let _ = USERS.decode_values(key, bytes);
}

/// An order-preserving key: `decode_one` value by value, `decode`, `prefix_len` and
/// `render`. Asserts the codec's invariants: each decoded value re-encodes to exactly
/// the bytes it was decoded from, `prefix_len` (which skips without decoding) agrees
/// with `decode_one` on the values that decode, and `decode` succeeds exactly when the
/// values decoded one by one cover the whole input.
pub fn key_decode(data: &[u8]) {
    let _ = keys::render(data);
    let _ = keys::prefix_len(data, 3);
    let (mut at, mut n) = (0, 0);
    let mut again = Vec::new();
    while let Ok((v, len)) = keys::decode_one(&data[at..]) {
        // A time-keyed value (a `Timestamp` index column) re-encodes as one.
        let mut one = Vec::new();
        if keys::is_time_tag(data[at]) {
            keys::encode_time_into(&mut one, v.as_ref());
        } else {
            keys::encode_into(&mut one, v.as_ref());
        }
        assert_eq!(one, data[at..at + len], "value {n} re-encoded");
        again.extend_from_slice(&one);
        (at, n) = (at + len, n + 1);
    }
    assert_eq!(
        keys::prefix_len(data, n),
        Ok(at),
        "prefix_len of {n} values"
    );
    match keys::decode(data) {
        Ok(values) => {
            assert_eq!(at, data.len(), "decode accepted a key decode_one stops in");
            assert_eq!(values.len(), n, "decode and decode_one count values alike");
            assert_eq!(again, data);
        }
        Err(_) => assert!(at < data.len(), "decode refused a valid key"),
    }
}

/// A backup manifest (`manifest.json`), parsed and validated as restore does.
pub fn backup_manifest(data: &[u8]) {
    if let Ok(m) = crate::ops::manifest::Manifest::parse(data) {
        // A manifest that parses re-serializes to one that parses the same.
        let again = crate::ops::manifest::Manifest::parse(&m.to_json());
        assert!(again.as_ref().is_ok_and(|a| *a == m), "manifest round trip");
    }
}

/// The SQL exporter's quoting (input read as lossy UTF-8). Asserts that an
/// identifier is quoted (or refused only for U+0000), holds no control
/// character and unquotes to the name; that a COPY field holds no tab, CR
/// or LF, is never `\N` for a value, and de-escapes to the value; that an
/// `E'…'` literal holds no ASCII control character and reads back as the
/// value; that a claimed name is at most 63 bytes; and that a timestamp the
/// exporter accepts keeps its instant through its canonical form.
pub fn export_quote(data: &[u8]) {
    use crate::export::{copy, ident, inserts, types};
    let s = String::from_utf8_lossy(data);
    match ident::quote_ident(&s) {
        Ok(q) => {
            assert!(!q.chars().any(char::is_control), "control char in {q:?}");
            assert_eq!(unquote_ident(&q).as_deref(), Some(&*s), "identifier {q:?}");
        }
        Err(_) => assert!(s.contains('\0')),
    }
    let mut f = String::new();
    copy::field(&mut f, Some(&s));
    assert!(!f.contains(['\t', '\n', '\r']), "COPY field {f:?}");
    assert_ne!(f, "\\N");
    assert_eq!(copy::unescape(&f).as_deref(), Some(&*s), "COPY field {f:?}");
    let mut lit = String::new();
    inserts::literal_into(&mut lit, &s);
    assert!(
        !lit.chars().any(|c| c.is_ascii_control()),
        "literal {lit:?}"
    );
    assert_eq!(
        inserts::unliteral(&lit).as_deref(),
        Some(&*s),
        "literal {lit:?}"
    );
    let mut names = ident::Names::new();
    for _ in 0..3 {
        assert!(names.claim(&s).len() <= ident::MAX_IDENT);
    }
    if let Some(t) = types::parse_timestamp(&s) {
        let again = types::parse_timestamp(&t.canonical()).expect("canonical form parses");
        assert_eq!(again.epoch_micros(), t.epoch_micros());
    }
    let _ = types::json_fits(&s);
}

/// Reverses `quote_ident`: `"…"` with `""`, or `U&"…"` with `\XXXX` and `\\`.
fn unquote_ident(q: &str) -> Option<String> {
    let (unicode, body) = match q.strip_prefix("U&\"") {
        Some(b) => (true, b.strip_suffix('"')?),
        None => (false, q.strip_prefix('"')?.strip_suffix('"')?),
    };
    let mut out = String::new();
    let mut it = body.chars();
    while let Some(c) = it.next() {
        match c {
            '"' => {
                if it.next()? != '"' {
                    return None;
                }
                out.push('"');
            }
            '\\' if unicode => match it.next()? {
                '\\' => out.push('\\'),
                h => {
                    let hex: String = std::iter::once(h).chain(it.by_ref().take(3)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
            },
            c => out.push(c),
        }
    }
    Some(out)
}

pub use crate::crypto::FUZZ_KEY;

/// An encrypted aragora-db file (the whole physical image), opened with
/// [`FUZZ_KEY`]: header and trailer parsing, verification of every block,
/// then a redb open and a scan of table `t` (`&[u8]` → `&[u8]`).
pub fn encrypted_file(data: &[u8]) {
    use crate::crypto::{EncryptedBackend, Key, KeySource};
    use redb::{ReadableDatabase, ReadableTable, StorageBackend};
    const T: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("t");
    let key = KeySource::Raw(Key::from_bytes(FUZZ_KEY));
    let mem = || crate::storage::fault::memory_backend(data);
    let name = std::path::Path::new("fuzz");
    let Ok(enc) = EncryptedBackend::open(mem(), name, &key) else {
        // What the open refuses, salvage opens leniently. Only our backend
        // is exercised there: redb may panic on pages that authenticate but
        // do not belong together, which `salvage` catches (ops::raw::guarded).
        if let Ok(enc) = EncryptedBackend::open_for_salvage(mem(), name, &key) {
            let _ = enc.verify();
            let len = enc.len().unwrap_or(0).min(1 << 24) as usize;
            let mut all = vec![0u8; len];
            let _ = enc.read(0, &mut all);
        }
        return;
    };
    let _ = enc.verify();
    let len = enc.len().unwrap_or(0).min(1 << 24) as usize;
    let mut all = vec![0u8; len];
    let _ = enc.read(0, &mut all);
    let Ok(db) = redb::Builder::new().create_with_backend(enc) else {
        return;
    };
    if let Ok(r) = db.begin_read()
        && let Ok(t) = r.open_table(T)
        && let Ok(it) = t.iter()
    {
        for e in it.take(100_000) {
            if e.is_err() {
                break;
            }
        }
    }
}

/// The head of a file as `encrypt` / `decrypt` / `rekey` identify it before
/// converting (`crypto::check`): what kind of file it is, the read-only key
/// check with [`FUZZ_KEY`] over the input as a whole file image (key slots,
/// then the commit slots under the unwrapped data key), and the input on its
/// own as a key slot, a commit slot at either position and trailers.
pub fn crypto_header(data: &[u8]) {
    crate::crypto::check::fuzz_header(data, &crate::crypto::Key::from_bytes(FUZZ_KEY));
}
