//! The crate's top-level modules form layers: dependencies run downward
//! only (README.md, "Layers"). A module that reaches up — `table` using
//! `schema`, `crypto` using `ops` — makes the lower layer impossible to
//! reuse or reason about on its own, and each such edge has come back
//! before. This test reads every `crate::module` path in code (not
//! comments) under `src/`, builds the graph of top-level modules, and
//! fails on any cycle, naming an edge of it with file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The names `src/lib.rs` re-exports at the crate root (`pub use db::{Database,
/// OpenOptions};`), with the module each comes from: `crate::Database` is a
/// use of `db`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        let names = names.trim_start_matches('{').trim_end_matches('}');
        for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let n = n.rsplit(" as ").next().unwrap_or(n);
            out.insert(n.to_string(), module.to_string());
        }
    }
    out
}

/// Every `crate::NAME` in `line`, where NAME is a module identifier or (to
/// be mapped with [`root_reexports`]) a capitalised re-exported name.
fn crate_refs(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `aragora_db::crate::`, `$crate::`: not this crate's path
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push(&rest[..end]);
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn module_graph(src: &Path) -> Graph {
    let mut modules = BTreeSet::new();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let m = name.strip_suffix(".rs").unwrap_or(&name).to_string();
        if !matches!(m.as_str(), "bin" | "lib" | "main") {
            modules.insert(m);
        }
    }
    let reexports = root_reexports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut graph = Graph::new();
    for m in &modules {
        let (dir, file) = (src.join(m), src.join(format!("{m}.rs")));
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        if file.is_file() {
            files.push(file);
        }
        let edges = graph.entry(m.clone()).or_default();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for r in crate_refs(code) {
                    let r = reexports.get(r).map_or(r, String::as_str);
                    if r != m && modules.contains(r) {
                        edges
                            .entry(r.to_string())
                            .or_insert_with(|| format!("{}:{}", f.display(), i + 1));
                    }
                }
            }
        }
    }
    graph
}

/// A path from `from` to `to` in `graph`, if any (breadth first).
fn path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut prev: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from.to_string()]);
    while let Some(m) = queue.pop_front() {
        for n in graph.get(&m).into_iter().flat_map(|e| e.keys()) {
            if n == to {
                let mut out = vec![n.clone(), m.clone()];
                let mut cur = m.clone();
                while let Some(p) = prev.get(&cur) {
                    out.push(p.clone());
                    cur = p.clone();
                }
                out.reverse();
                return Some(out);
            }
            if n != from && !prev.contains_key(n) {
                prev.insert(n.clone(), m.clone());
                queue.push_back(n.clone());
            }
        }
    }
    None
}

fn cycles(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (a, edges) in graph {
        for (b, at) in edges {
            if let Some(back) = path(graph, b, a) {
                out.push(format!(
                    "{a} -> {b} ({at}) closes the cycle {}",
                    std::iter::once(a.as_str())
                        .chain(back.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ));
            }
        }
    }
    out
}

#[test]
fn modules_depend_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(graph.len() > 10, "found only {:?}", graph.keys());
    let found = cycles(&graph);
    assert!(found.is_empty(), "dependency cycles:\n{}", found.join("\n"));
}

#[test]
fn a_cycle_is_found_and_named() {
    let edge = |a: &str, b: &str| (b.to_string(), format!("src/{a}.rs:1"));
    let mut g = Graph::new();
    g.insert("table".into(), [edge("table", "config")].into());
    g.insert("config".into(), BTreeMap::new());
    g.insert("schema".into(), [edge("schema", "table")].into());
    assert!(cycles(&g).is_empty());
    g.get_mut("table")
        .unwrap()
        .extend([edge("table", "schema")]);
    let found = cycles(&g);
    assert!(
        found
            .iter()
            .any(|c| c.contains("table -> schema (src/table.rs:1)")),
        "{found:?}"
    );
    assert_eq!(
        crate_refs("use crate::db::x; $crate::table; crate::{a}; crate::Database"),
        ["db", "Database"]
    );
    let re = root_reexports("pub use db::{Database, OpenOptions};\npub use error::Error;\n");
    assert_eq!(re["Database"], "db");
    assert_eq!(re["Error"], "error");
}
