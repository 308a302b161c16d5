//! Import throughput: `aragora-db import` of a generated legacy directory
//! against copying the same data SQLite to SQLite (rusqlite reads every
//! table and inserts it into a fresh WAL database with the same schema and
//! indexes, one transaction per file, `synchronous=FULL` so both sides are
//! durable at commit), in the same run.
//!
//! `cargo bench --bench import` uses 300 rows per table; under `cargo test`
//! (smoke mode) 10. `ARAGORA_BENCH_ROWS` overrides.

use aragora_db::config::Config;
use aragora_db::import::{self, Options, Silent};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use std::process::Command;

fn rows() -> usize {
    if let Ok(n) = std::env::var("ARAGORA_BENCH_ROWS") {
        return n.parse().expect("ARAGORA_BENCH_ROWS is a number");
    }
    if std::env::args().any(|a| a == "--bench") {
        300
    } else {
        10
    }
}

fn fixture(dir: &Path, rows: usize) -> Option<PathBuf> {
    let out = dir.join("nomic");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/make-legacy-fixture");
    let ok = Command::new("python3")
        .arg(tool)
        .arg(&out)
        .args(["--rows", &rows.to_string(), "--seed", "9"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(out)
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "import bench: python3 or the fixture generator failed, and CI=true requires them"
        );
        eprintln!("import bench SKIPPED: python3 or the fixture generator failed");
        None
    }
}

fn sqlite_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sqlite_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "db") {
            out.push(p);
        }
    }
}

/// The baseline: every table copied into a fresh WAL database with the same
/// schema, through prepared statements.
fn sqlite_copy(src: &Path, dst: &Path) -> u64 {
    let mut files = Vec::new();
    sqlite_files(src, &mut files);
    let mut rows = 0u64;
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let from =
            rusqlite::Connection::open_with_flags(&f, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut out = rusqlite::Connection::open(&to).unwrap();
        out.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
        )
        .unwrap();
        let schema: Vec<(String, String, String)> = from
            .prepare(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL \
                 AND name NOT LIKE 'sqlite_%' \
                 ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let tx = out.transaction().unwrap();
        let mut shadow = Vec::new();
        for (kind, name, sql) in &schema {
            if kind == "table" && sql.to_ascii_uppercase().contains("VIRTUAL TABLE") {
                shadow.push(name.clone());
            }
        }
        let is_shadow = |n: &str| shadow.iter().any(|v| n.starts_with(&format!("{v}_")));
        for (_, name, sql) in &schema {
            if !is_shadow(name) {
                tx.execute_batch(sql).unwrap();
            }
        }
        for (kind, name, sql) in &schema {
            if kind != "table" || is_shadow(name) || sql.to_ascii_uppercase().contains("VIRTUAL") {
                continue;
            }
            let q = format!("\"{}\"", name.replace('"', "\"\""));
            let mut sel = from.prepare(&format!("SELECT * FROM {q}")).unwrap();
            let n = sel.column_count();
            let marks = vec!["?"; n].join(", ");
            let mut ins = tx
                .prepare(&format!("INSERT INTO {q} VALUES ({marks})"))
                .unwrap();
            let mut it = sel.query([]).unwrap();
            while let Some(r) = it.next().unwrap() {
                let vals: Vec<rusqlite::types::Value> = (0..n).map(|i| r.get(i).unwrap()).collect();
                ins.execute(rusqlite::params_from_iter(vals)).unwrap();
                rows += 1;
            }
        }
        tx.commit().unwrap();
    }
    rows
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(src) = fixture(tmp.path(), rows()) else {
        return;
    };
    let mut files = Vec::new();
    sqlite_files(&src, &mut files);
    let bytes: u64 = files
        .iter()
        .flat_map(|f| [f.clone(), PathBuf::from(format!("{}-wal", f.display()))])
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let probe = tempfile::tempdir().unwrap();
    let report = import::import(
        &Config::for_dir(probe.path()),
        &Options {
            source: src.clone(),
            dry_run: false,
        },
        &Silent,
    )
    .unwrap();
    let rows_read = report.total(|t| t.read);
    eprintln!(
        "import bench: {} source files, {:.1} MB, {rows_read} rows",
        files.len(),
        bytes as f64 / 1e6
    );

    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("aragora_import", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let r = import::import(
                    &Config::for_dir(dir.path()),
                    &Options {
                        source: src.clone(),
                        dry_run: false,
                    },
                    &Silent,
                )
                .unwrap();
                assert!(r.errors.is_empty());
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("sqlite_to_sqlite_copy", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                sqlite_copy(&src, dir.path());
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
