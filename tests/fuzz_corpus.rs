//! Replays every fuzz corpus under `fuzz/corpus/<target>/` through the same check the fuzz target
//! runs, on stable Rust, so that CI keeps every input the fuzzers found interesting passing
//! without a nightly toolchain. Run the fuzzers themselves with `cargo +nightly fuzz run <target>`.

#[allow(dead_code)]
#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

fn all_targets() -> Vec<checks::Target> {
    let mut targets = Vec::new();
    targets.extend_from_slice(checks::db::TARGETS);
    targets.extend_from_slice(checks::log::TARGETS);
    targets.extend_from_slice(checks::manifest::TARGETS);
    targets.extend_from_slice(checks::sstable::TARGETS);
    targets
}

#[test]
fn every_fuzz_target_has_a_binary_and_a_corpus() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, _) in all_targets() {
        let binary = fuzz_dir.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(
            binary.is_file(),
            "fuzz target {name} has no {}",
            binary.display()
        );
        let corpus = fuzz_dir.join("corpus").join(name);
        let inputs = std::fs::read_dir(&corpus)
            .unwrap_or_else(|error| panic!("no corpus for {name} at {}: {error}", corpus.display()))
            .count();
        assert!(inputs > 0, "the corpus of {name} is empty");
    }
}

#[test]
fn fuzz_corpora_replay_cleanly() {
    let corpus_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    let mut replayed = 0;
    for (name, check) in all_targets() {
        let Ok(entries) = std::fs::read_dir(corpus_root.join(name)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} fails on {}",
                path.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no corpus input was replayed");
}
