//! The repository's docs and comments stand on their own: they cite only
//! documents inside the repository (docs/, README.md, RELIABILITY.md, the
//! source), never the section numbers or row ids of a document that is not
//! in it, nor issue numbers. Checked over every text file of src/, tests/,
//! benches/, docs/, tools/, fuzz/, .ci/ and the top-level documents.
//!
//! Section signs are allowed only on a line naming the SQLite document they
//! number, or just after one (fileformat2, datatype3, walformat, howtocorrupt: SQLite's
//! published file-format documents); reliability row ids (`R` and a number)
//! must be rows of RELIABILITY.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SECTION: char = '\u{a7}';
const SQLITE_DOCS: [&str; 4] = ["fileformat2", "datatype3", "walformat", "howtocorrupt"];
const TOP: [&str; 5] = [
    "README.md",
    "RELIABILITY.md",
    "BENCHMARKS.md",
    "Cargo.toml",
    "Cargo.lock",
];
const DIRS: [&str; 7] = ["src", "tests", "benches", "docs", "tools", "fuzz", ".ci"];
/// Inputs, not prose: binary fixtures and fuzz inputs.
const SKIP_DIRS: [&str; 3] = ["fixtures", "corpus", "target"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !SKIP_DIRS.contains(&e.file_name().to_string_lossy().as_ref()) {
                files(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// Tokens `R<digits>` standing as words in `line`.
fn row_ids(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        if b[i] != b'R' || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) {
            continue;
        }
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let end = i + 1 + digits;
        if digits > 0 && !(end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_')) {
            out.push(line[i..end].to_string());
        }
    }
    out
}

/// What is wrong with `line`, if anything. `context` is the line with the
/// two before it (a SQLite document named there covers a section sign).
fn problems(line: &str, context: &str, rows: &BTreeSet<String>, check_rows: bool) -> Vec<String> {
    let mut out = Vec::new();
    // ASCII lower case keeps byte offsets, so they index `line` too.
    let lower = line.to_ascii_lowercase();
    let context = context.to_lowercase();
    if line.contains(SECTION) && !SQLITE_DOCS.iter().any(|d| context.contains(d)) {
        out.push("a section number of a document not in the repository".into());
    }
    for (i, _) in lower.match_indices("issue") {
        let rest = lower[i + "issue".len()..].trim_start_matches('s');
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let rest = rest.strip_prefix('#').unwrap_or(rest);
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            out.push("an issue number".into());
        }
    }
    for (i, _) in line.match_indices("(#") {
        if line[i + 2..].starts_with(|c: char| c.is_ascii_digit()) {
            out.push("an issue number".into());
        }
    }
    for (i, _) in lower.match_indices("catalogue ") {
        let rest = &line.as_bytes()[i + "catalogue ".len()..];
        if rest.len() > 1 && rest[0].is_ascii_uppercase() && rest[1].is_ascii_digit() {
            out.push("a row of a catalogue not in the repository".into());
        }
    }
    for (i, _) in lower.match_indices("catalog") {
        let before = &lower[..i];
        if !before.ends_with("pg_") && !before.ends_with("table ") {
            out.push("the shared catalog, which is not in the repository".into());
        }
    }
    let shared = concat!("shared", "/reference");
    let their_reliability = concat!("reliab", "ility.md");
    if line.contains(shared) || line.contains(their_reliability) {
        out.push("a document not in the repository".into());
    }
    if check_rows {
        for id in row_ids(line) {
            if !rows.contains(&id) {
                out.push(format!("{id}, which is not a row of RELIABILITY.md"));
            }
        }
    }
    out
}

#[test]
fn docs_and_comments_cite_only_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reliability = std::fs::read_to_string(root.join("RELIABILITY.md")).unwrap();
    let rows: BTreeSet<String> = reliability.lines().flat_map(row_ids).collect();
    assert!(rows.contains("R1"), "RELIABILITY.md has no rows");
    let mut all: Vec<PathBuf> = TOP.iter().map(|f| root.join(f)).collect();
    for d in DIRS {
        files(&root.join(d), &mut all);
    }
    let mut found = Vec::new();
    for path in &all {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let rel = path.strip_prefix(root).unwrap();
        if rel == Path::new(file!()) {
            continue; // this file's examples of what is refused
        }
        let md = rel.extension().is_some_and(|e| e == "md");
        let rs = rel.extension().is_some_and(|e| e == "rs");
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let context = lines[n.saturating_sub(2)..=n].join("\n");
            // Row ids: in prose (Markdown, Rust comments) other than their
            // own list.
            let prose = md || (rs && line.trim_start().starts_with("//"));
            let check_rows = prose && rel != Path::new("RELIABILITY.md");
            for p in problems(line, &context, &rows, check_rows) {
                found.push(format!("{}:{}: {p}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} lines cite what the repository does not hold:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_recognises_each_kind_of_citation() {
    let rows: BTreeSet<String> = ["R1".to_string()].into();
    let sec = SECTION;
    for bad in [
        format!("//! Consensus memory (catalog {sec}3.3)."),
        format!("//! consolidated `memory.db` {sec}4, {sec}4.2)."),
        "//! Encryption at rest (issue 7).".to_string(),
        "//! see issues #12".to_string(),
        "//! fixed (#12)".to_string(),
        "//! bounds-checked (catalogue P1-P3).".to_string(),
        format!("//! the matrix in {}", concat!("shared", "/reference")),
        "//! hostile identifiers (R23)".to_string(),
        "//! the catalog does not record the original's K-factor".to_string(),
    ] {
        assert!(!problems(&bad, &bad, &rows, true).is_empty(), "{bad}");
    }
    for good in [
        format!("//! The header (fileformat2 {sec}1.3 \"The Database Header\")."),
        "//! Crash consistency (R1): see docs/ORIGINAL.md, 'Connection settings'.".to_string(),
        "//! its table catalog is damaged; pg_catalog.pg_constraint".to_string(),
        "//! one issue at a time; R1x and xR2 are not ids".to_string(),
    ] {
        assert_eq!(
            problems(&good, &good, &rows, true),
            Vec::<String>::new(),
            "{good}"
        );
    }
}
