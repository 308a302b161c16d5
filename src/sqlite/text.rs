//! Text encodings (fileformat2 §1.3.13 "Text encoding"; conversion as SQLite's
//! `sqlite3VdbeMemTranslate` in its default build, i.e. without
//! SQLITE_REPLACE_INVALID_UTF).
//!
//! UTF-16 text is converted to UTF-8 exactly as `sqlite3_column_text` would return
//! it: an odd trailing byte is dropped, and any unit in D800..DFFF followed by another
//! unit is combined with it by SQLite's formula without checking that it is a proper
//! surrogate pair; a lone trailing surrogate is written as a 3-byte sequence. The result
//! is therefore not always valid UTF-8, which is kept as bytes (garbage in, garbage out).

use super::header::TextEncoding;

/// Append the UTF-8 encoding of code point `c` (any value up to 0x1FFFFF) to `out`.
fn write_utf8(out: &mut Vec<u8>, c: u32) {
    if c < 0x80 {
        out.push(c as u8);
    } else if c < 0x800 {
        out.push(0xC0 | ((c >> 6) & 0x1F) as u8);
        out.push(0x80 | (c & 0x3F) as u8);
    } else if c < 0x10000 {
        out.push(0xE0 | ((c >> 12) & 0x0F) as u8);
        out.push(0x80 | ((c >> 6) & 0x3F) as u8);
        out.push(0x80 | (c & 0x3F) as u8);
    } else {
        out.push(0xF0 | ((c >> 18) & 0x07) as u8);
        out.push(0x80 | ((c >> 12) & 0x3F) as u8);
        out.push(0x80 | ((c >> 6) & 0x3F) as u8);
        out.push(0x80 | (c & 0x3F) as u8);
    }
}

/// Convert UTF-16 bytes in `enc` to UTF-8 bytes, appending to `out`.
/// For [`TextEncoding::Utf8`] the bytes are appended unchanged.
pub fn to_utf8(enc: TextEncoding, input: &[u8], out: &mut Vec<u8>) {
    let big = match enc {
        TextEncoding::Utf8 => {
            out.extend_from_slice(input);
            return;
        }
        TextEncoding::Utf16le => false,
        TextEncoding::Utf16be => true,
    };
    let unit = |p: &[u8]| -> u32 {
        match p {
            &[a, b] => {
                if big {
                    u32::from(a) << 8 | u32::from(b)
                } else {
                    u32::from(b) << 8 | u32::from(a)
                }
            }
            _ => 0,
        }
    };
    out.reserve(input.len());
    let mut units = input.chunks_exact(2);
    while let Some(u) = units.next() {
        let mut c = unit(u);
        if (0xD800..0xE000).contains(&c)
            && let Some(u2) = units.next()
        {
            let c2 = unit(u2);
            c = (c2 & 0x03FF) + ((c & 0x003F) << 10) + (((c & 0x03C0) + 0x0040) << 10);
        }
        write_utf8(out, c);
    }
}

/// Convert text in `enc` to a Rust `String` (lossy where the bytes are not valid UTF-8).
pub fn to_string_lossy(enc: TextEncoding, input: &[u8]) -> String {
    let mut v = Vec::new();
    to_utf8(enc, input, &mut v);
    match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_pairs_and_lone_surrogates() {
        let mut out = Vec::new();
        // "a😀" in UTF-16LE
        to_utf8(
            TextEncoding::Utf16le,
            &[0x61, 0, 0x3d, 0xd8, 0x00, 0xde],
            &mut out,
        );
        assert_eq!(out, "a😀".as_bytes());
        out.clear();
        to_utf8(
            TextEncoding::Utf16be,
            &[0, 0x61, 0xd8, 0x3d, 0xde, 0x00, 0x00],
            &mut out,
        );
        assert_eq!(out, "a😀".as_bytes());
        out.clear();
        to_utf8(TextEncoding::Utf16le, &[0x3d, 0xd8], &mut out);
        assert_eq!(out, [0xed, 0xa0, 0xbd]);
    }
}
