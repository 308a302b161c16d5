//! JSON exactly as Python's `json` module writes and reads it.
//!
//! The original writes JSON text with `json.dumps` defaults (separators
//! `", "` and `": "`, `ensure_ascii=True`, floats as `repr`), and hashes
//! some of it (`genesis_events.content_hash`), so stores that write JSON the
//! original will read, or hash, use these functions. Known answers produced
//! by the real Python are in `tests/it/store_genesis.rs`.

use crate::error::{Error, Result};
use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// Serializes like Python's `json.dumps(value, sort_keys=sort_keys)` with
/// its defaults: separators `", "` and `": "`, `ensure_ascii=True`
/// (non-ASCII as `\uXXXX`, astral characters as surrogate pairs), floats
/// as `repr` prints them (`1.0`, `0.5`, `1e-07`, `1e+16`).
pub fn python_json(value: &Value, sort_keys: bool) -> String {
    let mut out = String::new();
    write_py(&mut out, value, sort_keys);
    out
}

fn write_py(out: &mut String, v: &Value, sort_keys: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&py_number(n)),
        Value::String(s) => py_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(out, item, sort_keys);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort_keys {
                // Python compares str by code point; UTF-8 byte order agrees.
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_string(out, k);
                out.push_str(": ");
                write_py(out, item, sort_keys);
            }
            out.push('}');
        }
    }
}

fn py_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        py_float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A float as Python's `repr` prints it: the shortest round-tripping
/// digits, positional notation when the decimal exponent is in
/// `-4 < decpt <= 16`, else `d.ddde±XX`; `.0` added to whole numbers.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` prints the shortest round-tripping digits, as Python does.
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let decpt = exp + 1;
    let body = if decpt <= -4 || decpt > 16 {
        let m = if digits.len() == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(decpt as usize - digits.len()))
    } else {
        let d = decpt as usize;
        format!("{}.{}", &digits[..d], &digits[d..])
    };
    if neg { format!("-{body}") } else { body }
}

/// Appends `s` as a JSON string the way Python escapes it (`ensure_ascii`).
pub fn py_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Parses JSON text the way Python's `json.loads` does for the values a
/// `serde_json::Value` can hold: floats correctly rounded (serde_json's
/// default parser may be one ULP off, which would break a re-computed
/// hash), duplicate keys keep the last value. NaN, ±Infinity and integers
/// beyond 64 bits are rejected.
pub fn parse_python_json(text: &str) -> Result<Value> {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn err(&self, what: &str) -> Error {
        Error::InvalidArgument(format!("JSON: {what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > 512 {
            return Err(self.err("nesting too deep"));
        }
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'{') => {
                self.i += 1;
                let mut map = Map::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Value::Object(map));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return Err(self.err("expected ':'"));
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    map.insert(k, v);
                    self.ws();
                    if self.eat("}") {
                        return Ok(Value::Object(map));
                    }
                    if !self.eat(",") {
                        return Err(self.err("expected ',' or '}'"));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Value::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    if !self.eat(",") {
                        return Err(self.err("expected ',' or ']'"));
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(_) if self.eat("null") => Ok(Value::Null),
            Some(_) if self.eat("true") => Ok(Value::Bool(true)),
            Some(_) if self.eat("false") => Ok(Value::Bool(false)),
            Some(_) => self.number(),
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.i;
        let mut float = false;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.i += 1;
        }
        let tok = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if tok.is_empty() {
            return Err(self.err("unexpected character"));
        }
        if !float {
            if let Ok(i) = tok.parse::<i64>() {
                return Ok(Value::Number(i.into()));
            }
            if let Ok(u) = tok.parse::<u64>() {
                return Ok(Value::Number(u.into()));
            }
            return Err(self.err("integer out of 64-bit range"));
        }
        let f: f64 = tok.parse().map_err(|_| self.err("bad number"))?;
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| self.err("non-finite number"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("short \\u"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad \\u"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.s.get(self.i).is_some_and(|&b| b != b'"' && b != b'\\') {
                self.i += 1;
            }
            let chunk = std::str::from_utf8(&self.s[start..self.i])
                .map_err(|_| self.err("invalid UTF-8"))?;
            out.push_str(chunk);
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {
                    self.i += 1;
                    let esc = *self.s.get(self.i).ok_or_else(|| self.err("bad escape"))?;
                    self.i += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) && self.eat("\\u") {
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    return Err(self.err("unpaired surrogate"));
                                }
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).ok_or_else(|| self.err("lone surrogate"))?);
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
            }
        }
    }
}

// ----- times and hashes ----------------------------------------------------

/// `s` as a quoted Python-JSON string.
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    py_string(&mut out, s);
    out
}

/// A value as `json.dumps` writes it, keys in the map's order.
pub fn py_value(v: &Value) -> String {
    python_json(v, false)
}

/// Parses a JSON object keeping its key order.
pub fn parse_object(text: &str) -> serde_json::Result<Vec<(String, serde_json::Value)>> {
    struct Ordered(Vec<(String, serde_json::Value)>);
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Ordered;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Ordered, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                out.push(entry);
            }
            Ok(Ordered(out))
        }
    }
    impl<'de> serde::Deserialize<'de> for Ordered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            d.deserialize_map(Visit)
        }
    }
    serde_json::from_str::<Ordered>(text).map(|o| o.0)
}

/// A list of strings as `json.dumps` writes it.
pub fn py_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let parts: Vec<String> = items.into_iter().map(py_str).collect();
    format!("[{}]", parts.join(", "))
}

/// An object of floats, in the given order, as `json.dumps` writes it.
pub fn py_object<'a>(items: impl IntoIterator<Item = (&'a str, f64)>) -> String {
    let parts: Vec<String> = items
        .into_iter()
        .map(|(k, v)| format!("{}: {}", py_str(k), py_float(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// An ordered object of JSON values as `json.dumps` writes it.
pub fn py_object_values(items: &[(String, serde_json::Value)]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}
