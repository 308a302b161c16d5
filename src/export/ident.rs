//! Identifiers: quoting, the 63-byte limit, and collisions.
//!
//! Every identifier is double-quoted, so reserved words (`user`, `order`)
//! and mixed case survive. A name with a control character (a newline that
//! could start a psql meta-command line, a CR, a tab…) is written in
//! PostgreSQL's Unicode-escape form `U&"a\000Ab"`, so the script never
//! holds a raw control character outside data. PostgreSQL silently
//! truncates names to 63 bytes (NAMEDATALEN − 1), which can make two names
//! one; [`Names`] shortens long names itself, deterministically (a prefix
//! and a hash of the whole name) and disambiguates collisions, and records
//! every change for the report.

use std::collections::HashSet;

/// PostgreSQL's identifier limit in bytes.
pub const MAX_IDENT: usize = 63;

/// Why a name cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentError(pub String);

impl std::fmt::Display for IdentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "identifier {:?} holds U+0000, which PostgreSQL identifiers cannot",
            self.0
        )
    }
}

/// Whether a character must be written as a Unicode escape in an identifier
/// or as a backslash escape in a literal: C0 and C1 controls and DEL.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Double-quotes an identifier. Names with control characters use the
/// `U&"…"` form (which needs `standard_conforming_strings = on`, set by the
/// script preamble). U+0000 cannot be written at all.
pub fn quote_ident(name: &str) -> Result<String, IdentError> {
    if name.contains('\0') {
        return Err(IdentError(name.to_string()));
    }
    let mut out = String::with_capacity(name.len() + 2);
    if !name.chars().any(is_control) {
        out.push('"');
        for c in name.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
        return Ok(out);
    }
    out.push_str("U&\"");
    for c in name.chars() {
        match c {
            '"' => out.push_str("\"\""),
            '\\' => out.push_str("\\\\"),
            c if is_control(c) => out.push_str(&format!("\\{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A namespace of PostgreSQL names (a schema's relations, or one table's
/// columns). Gives each source name a unique name of at most 63 bytes.
#[derive(Debug, Default)]
pub struct Names {
    used: HashSet<String>,
    /// `(source name, name given)` for every name that had to change.
    pub renamed: Vec<(String, String)>,
}

impl Names {
    /// A fresh namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves a name, or a shortened/disambiguated one if it is too long
    /// or taken. Case matters (names are always quoted).
    pub fn claim(&mut self, name: &str) -> String {
        let base = if name.len() > MAX_IDENT {
            shorten(name, MAX_IDENT)
        } else {
            name.to_string()
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while self.used.contains(&candidate) {
            let suffix = format!("_{n}");
            candidate = format!("{}{suffix}", prefix(&base, MAX_IDENT - suffix.len()));
            n += 1;
        }
        if candidate != name {
            self.renamed.push((name.to_string(), candidate.clone()));
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

/// The longest prefix of `s` of at most `max` bytes on a char boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `prefix_XXXXXXXX`: a prefix and the CRC-32 of the whole name, `max` bytes at most.
fn shorten(name: &str, max: usize) -> String {
    let hash = format!("_{:08x}", crc32fast::hash(name.as_bytes()));
    format!("{}{hash}", prefix(name, max - hash.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("user").unwrap(), "\"user\"");
        assert_eq!(quote_ident("Mixed\"Case").unwrap(), "\"Mixed\"\"Case\"");
        assert_eq!(
            quote_ident("a\n\\! touch pwned").unwrap(),
            "U&\"a\\000A\\\\! touch pwned\""
        );
        assert!(quote_ident("a\0b").is_err());
        assert!(!quote_ident("x\r\ny").unwrap().contains(['\n', '\r']));
    }

    #[test]
    fn long_names_never_collide() {
        let mut ns = Names::new();
        let a = format!("{}a", "x".repeat(70));
        let b = format!("{}b", "x".repeat(70));
        let (na, nb) = (ns.claim(&a), ns.claim(&b));
        assert!(na.len() <= MAX_IDENT && nb.len() <= MAX_IDENT);
        assert_ne!(na, nb);
        assert_eq!(ns.claim("t"), "t");
        assert_eq!(ns.claim("t"), "t_2");
        let e = "é".repeat(40);
        let ne = ns.claim(&e);
        assert!(ne.len() <= MAX_IDENT, "{ne}");
        assert_eq!(ns.renamed.len(), 4);
        // Deterministic.
        let mut again = Names::new();
        assert_eq!(again.claim(&a), na);
    }
}
