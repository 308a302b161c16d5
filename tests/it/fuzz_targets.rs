//! Every cargo-fuzz target is wired up (R9): declared in fuzz/Cargo.toml (so
//! `tools/fuzz-all` builds and runs it), seeded in fuzz/corpus/<target>, and
//! replayed by `cargo test` (tests/it/fuzz_corpus.rs), so that a target added
//! later cannot silently miss the corpus replay or the fuzz-all run.

use std::path::Path;

#[test]
fn every_fuzz_target_is_built_seeded_and_replayed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
    let replays = std::fs::read_to_string(root.join("tests/it/fuzz_corpus.rs")).unwrap();
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(root.join("fuzz/fuzz_targets")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            targets.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(!targets.is_empty(), "no fuzz targets found");
    let mut problems = Vec::new();
    for t in &targets {
        if !manifest.contains(&format!("name = \"{t}\"")) {
            problems.push(format!("{t}: no [[bin]] in fuzz/Cargo.toml"));
        }
        if !replays.contains(&format!("replay(\"{t}\"")) {
            problems.push(format!("{t}: not replayed in tests/it/fuzz_corpus.rs"));
        }
        let seeds = std::fs::read_dir(root.join("fuzz/corpus").join(t)).map_or(0, Iterator::count);
        if seeds == 0 {
            problems.push(format!("{t}: fuzz/corpus/{t} holds no seeds"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
