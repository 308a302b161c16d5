//! A table declaration's fingerprint: the canonical text of everything that
//! decides how its stored bytes are read.
//!
//! Rows are stored by column *position* and each index's entries live in the
//! key space numbered by the index's *position* in the declaration (see
//! [`layout`](super::layout)). Nothing in a row or an entry names its column
//! or its index. So a declaration that reorders, renames or retypes a
//! column, or inserts an index before another, reads an old file wrongly
//! — silently — unless its schema `version` was bumped and a migration
//! step converts the file. The version number is bumped by hand; the
//! fingerprint is the check that it was. Each file records, per table, the
//! fingerprint of the declaration that wrote it (`__fingerprint`, see
//! [`crate::db::fingerprint`]); an open compares it with this binary's
//! declaration at the same version and refuses a difference with
//! [`Error::SchemaMismatch`](crate::Error::SchemaMismatch), naming what
//! changed.
//!
//! The text is line-oriented so that a difference can be described, not
//! just detected:
//!
//! ```text
//! version 3
//! column id INTEGER NOT NULL
//! column score INTEGER DEFAULT 7
//! primary key (id)
//! index idx_things_name key space 1 UNIQUE (name)
//! index idx_things_label key space 2 (label)
//! ```
//!
//! It holds the columns in order (name, SQL type, NOT NULL, DEFAULT — the
//! default is what a row written before the column existed reads), the
//! primary key (and AUTOINCREMENT), and each index's name, key-space byte,
//! kind (UNIQUE entries hold the primary key, COVERING ones the row,
//! UNIQUE COVERING ones the primary key then the row) and
//! columns. Aliases, foreign keys and sources are left out: they change
//! what is accepted or imported, not how stored bytes are read. **This text
//! is part of the file format**: changing how it is rendered makes every
//! existing file look changed, so it never changes for an unchanged
//! declaration.

use super::def::{IndexDef, SqlType, TableDef};
use std::fmt::Write as _;

/// The fingerprint of a declaration.
pub fn fingerprint(def: &TableDef) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "version {}", def.version);
    for c in def.columns {
        let _ = writeln!(s, "column {}", column_text(def, c));
    }
    let _ = writeln!(
        s,
        "primary key ({}){}",
        def.column_list(def.primary_key),
        if def.autoincrement {
            " AUTOINCREMENT"
        } else {
            ""
        }
    );
    for idx in def.indexes {
        let _ = writeln!(s, "index {}", index_text(def, idx));
    }
    s
}

fn type_name(t: SqlType) -> &'static str {
    match t {
        SqlType::Text => "TEXT",
        SqlType::Integer => "INTEGER",
        SqlType::Real => "REAL",
        SqlType::Blob => "BLOB",
        SqlType::Bool => "BOOLEAN",
        SqlType::Json => "JSON",
        SqlType::Timestamp => "TIMESTAMP",
        SqlType::Epoch => "EPOCH",
    }
}

fn column_text(_def: &TableDef, c: &super::def::ColumnDef) -> String {
    let mut s = format!("{} {}", c.name, type_name(c.sql));
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = c.default {
        // One line whatever the default holds.
        let _ = write!(s, " DEFAULT {}", d.escape_debug());
    }
    s
}

fn index_text(def: &TableDef, idx: &IndexDef) -> String {
    // Unchanged kinds render as they always have (the text is part of the
    // file format); UNIQUE COVERING entries hold the primary key and the row.
    let kind = match (idx.unique, idx.covering) {
        (true, true) => " UNIQUE COVERING",
        (true, false) => " UNIQUE",
        (false, true) => " COVERING",
        (false, false) => "",
    };
    format!(
        "{} key space {}{kind} ({})",
        idx.name,
        idx.space,
        def.column_list(idx.columns)
    )
}

/// The schema version a fingerprint text records, if it is one.
pub fn version_of(text: &str) -> Option<u32> {
    text.lines().next()?.strip_prefix("version ")?.parse().ok()
}

/// A fingerprint text taken apart.
#[derive(Default)]
struct Parts<'a> {
    columns: Vec<&'a str>,
    primary_key: Option<&'a str>,
    /// (name, the rest of the line)
    indexes: Vec<(&'a str, &'a str)>,
    other: Vec<&'a str>,
}

fn parts(text: &str) -> Parts<'_> {
    let mut p = Parts::default();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("column ") {
            p.columns.push(c);
        } else if let Some(k) = line.strip_prefix("primary key ") {
            p.primary_key = Some(k);
        } else if let Some(i) = line.strip_prefix("index ") {
            let (name, rest) = i.split_once(' ').unwrap_or((i, ""));
            p.indexes.push((name, rest));
        } else if !line.starts_with("version ") {
            p.other.push(line);
        }
    }
    p
}

/// The key-space byte in the rest of an index line.
fn space_of(rest: &str) -> Option<&str> {
    rest.strip_prefix("key space ")?.split(' ').next()
}

/// What differs from fingerprint `old` (stored) to `new` (declared), one
/// sentence each, e.g. ``column 3 was `email TEXT`, now `name TEXT` `` or
/// `index users_email_key was key space 2, now 3`. Empty when they agree
/// (the version lines are not compared).
pub fn differences(old: &str, new: &str) -> Vec<String> {
    let (o, n) = (parts(old), parts(new));
    let mut out = Vec::new();
    for i in 0..o.columns.len().max(n.columns.len()) {
        match (o.columns.get(i), n.columns.get(i)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!("column {} was `{a}`, now `{b}`", i + 1))
            }
            (Some(a), None) => out.push(format!("column {} `{a}` was removed", i + 1)),
            (None, Some(b)) => out.push(format!("column {} `{b}` was added", i + 1)),
            _ => {}
        }
    }
    if o.primary_key != n.primary_key {
        out.push(format!(
            "primary key was `{}`, now `{}`",
            o.primary_key.unwrap_or("none"),
            n.primary_key.unwrap_or("none")
        ));
    }
    for (name, rest) in &o.indexes {
        match n.indexes.iter().find(|(m, _)| m == name) {
            None => out.push(format!("index {name} `{rest}` was removed")),
            Some((_, now)) if now != rest => {
                let (sa, sb) = (space_of(rest), space_of(now));
                if sa != sb {
                    out.push(format!(
                        "index {name} was key space {}, now {}",
                        sa.unwrap_or("?"),
                        sb.unwrap_or("?")
                    ));
                }
                let strip = |r: &'_ str| {
                    r.strip_prefix("key space ")
                        .and_then(|r| r.split_once(' '))
                        .map_or(r.to_string(), |(_, tail)| tail.to_string())
                };
                if strip(rest) != strip(now) {
                    out.push(format!(
                        "index {name} was `{}`, now `{}`",
                        strip(rest),
                        strip(now)
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for (name, rest) in &n.indexes {
        if !o.indexes.iter().any(|(m, _)| m == name) {
            out.push(format!("index {name} `{rest}` was added"));
        }
    }
    for line in &o.other {
        if !n.other.contains(line) {
            out.push(format!("`{line}` is no longer declared"));
        }
    }
    for line in &n.other {
        if !o.other.contains(line) {
            out.push(format!("`{line}` was not recorded"));
        }
    }
    out
}

/// The indexes of `def` whose entries a migration from a file described by
/// fingerprint `old` must derive again: all of them when `old` is unknown
/// or the primary key changed (entries hold the primary key), otherwise
/// those whose index line is new or different.
pub fn indexes_to_rebuild<'d>(old: Option<&str>, def: &'d TableDef) -> Vec<&'d IndexDef> {
    let new = fingerprint(def);
    let Some(old) = old else {
        return def.indexes.iter().collect();
    };
    let (o, n) = (parts(old), parts(&new));
    if o.primary_key != n.primary_key {
        return def.indexes.iter().collect();
    }
    def.indexes
        .iter()
        .zip(&n.indexes)
        .filter(|(_, (name, rest))| !o.indexes.contains(&(*name, *rest)))
        .map(|(idx, _)| idx)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "version 1\ncolumn id INTEGER NOT NULL\ncolumn email TEXT\nprimary key (id)\nindex a key space 1 UNIQUE (email)\nindex b key space 2 (id)\n";

    #[test]
    fn differences_name_what_changed() {
        assert!(differences(A, A).is_empty());
        let b = A.replace("column email TEXT", "column name TEXT");
        assert_eq!(
            differences(A, &b),
            vec!["column 2 was `email TEXT`, now `name TEXT`"]
        );
        let c = "version 1\ncolumn id INTEGER NOT NULL\ncolumn email TEXT\nprimary key (id)\nindex c key space 1 (email)\nindex a key space 2 UNIQUE (email)\nindex b key space 3 (id)\n";
        assert_eq!(
            differences(A, c),
            vec![
                "index a was key space 1, now 2",
                "index b was key space 2, now 3",
                "index c `key space 1 (email)` was added",
            ]
        );
        let d = A.replace("UNIQUE (email)", "(email)");
        assert_eq!(
            differences(A, &d),
            vec!["index a was `UNIQUE (email)`, now `(email)`"]
        );
        let e = A.replace("column email TEXT\n", "");
        assert_eq!(
            differences(A, &e),
            vec!["column 2 `email TEXT` was removed"]
        );
    }

    crate::table! {
        /// A table with two indexes, declared here so this layer's tests
        /// need nothing from the schema above it.
        pub struct Probe as PROBE {
            name: "probe",
            owner: crate::config::DbTarget::Store(crate::config::Store::Users),
            version: 1,
            columns: {
                id: String => Text,
                email: String => Text,
                org_id: Option<String> => Text,
            },
            primary_key: (id),
            autoincrement: false,
            indexes: {
                unique idx_probe_email (email),
                index idx_probe_org (org_id),
            },
            foreign_keys: {},
        }
    }

    #[test]
    fn indexes_to_rebuild_are_the_new_and_changed_ones() {
        let def = &PROBE;
        let all: Vec<&str> = def.indexes.iter().map(|i| i.name).collect();
        let names = |v: Vec<&IndexDef>| v.into_iter().map(|i| i.name).collect::<Vec<_>>();
        assert_eq!(
            all,
            [Probe::idx_probe_email.name(), Probe::idx_probe_org.name()]
        );
        assert_eq!(names(indexes_to_rebuild(None, def)), all);
        let same = fingerprint(def);
        assert!(indexes_to_rebuild(Some(&same), def).is_empty());
        // The first index recorded at another key space, the second absent.
        let first = format!("index {} key space 1", all[0]);
        let second = format!("index {} ", all[1]);
        let old: String = same
            .lines()
            .filter(|l| !l.starts_with(&second))
            .map(|l| {
                if l.starts_with(&first) {
                    l.replacen("key space 1", "key space 9", 1)
                } else {
                    l.to_string()
                }
            })
            .map(|l| l + "\n")
            .collect();
        assert_eq!(
            names(indexes_to_rebuild(Some(&old), def)),
            all[..2].to_vec()
        );
        // A changed primary key: every index (entries hold the primary key).
        let pk = same.replace("primary key (", "primary key (x, ");
        assert_eq!(names(indexes_to_rebuild(Some(&pk), def)), all);
    }

    crate::table! {
        /// Every index kind, for the rendering of each.
        pub struct Kinds as KINDS {
            name: "kinds",
            owner: crate::config::DbTarget::Store(crate::config::Store::Users),
            version: 1,
            columns: {
                id: String => Text,
                a: String => Text,
                b: Option<String> => Text,
            },
            primary_key: (id),
            autoincrement: false,
            indexes: {
                unique kinds_a (a),
                unique kinds_a_cov (a) covering,
                index kinds_b (b),
                index kinds_b_cov (b) covering,
            },
            foreign_keys: {},
        }
    }

    /// The text is part of the file format: the kinds that existed before
    /// UNIQUE COVERING render exactly as they did.
    #[test]
    fn each_index_kind_renders_its_own_line() {
        let text = fingerprint(&KINDS);
        let names = [
            Kinds::kinds_a.name(),
            Kinds::kinds_a_cov.name(),
            Kinds::kinds_b.name(),
            Kinds::kinds_b_cov.name(),
        ];
        assert_eq!(names, ["kinds_a", "kinds_a_cov", "kinds_b", "kinds_b_cov"]);
        for line in [
            "index kinds_a key space 1 UNIQUE (a)\n",
            "index kinds_a_cov key space 2 UNIQUE COVERING (a)\n",
            "index kinds_b key space 3 (b)\n",
            "index kinds_b_cov key space 4 COVERING (b)\n",
        ] {
            assert!(text.contains(line), "{line:?} not in {text}");
        }
        let old = text.replace("UNIQUE COVERING (a)", "UNIQUE (a)");
        assert_eq!(
            differences(&old, &text),
            vec!["index kinds_a_cov was `UNIQUE (a)`, now `UNIQUE COVERING (a)`"]
        );
    }

    #[test]
    fn version_is_the_first_line() {
        assert_eq!(version_of(A), Some(1));
        assert_eq!(version_of("nonsense"), None);
    }
}
