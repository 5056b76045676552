//! Replays every fuzz corpus under `fuzz/corpus/<target>/` through the same check the fuzz target
//! runs, on stable Rust, so that CI keeps every input the fuzzers found interesting passing
//! without a nightly toolchain. Run the fuzzers themselves with `cargo +nightly fuzz run <target>`.

#[allow(dead_code)]
#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

fn all_targets() -> Vec<checks::Target> {
    let mut targets = Vec::new();
    targets.extend_from_slice(checks::batch::TARGETS);
    targets.extend_from_slice(checks::config::TARGETS);
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

/// Writes `inputs` as the files `fuzz/corpus/<target>/<name>`.
fn write_corpus(target: &str, inputs: &[(String, Vec<u8>)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in inputs {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Valid batches of a few shapes, then damaged copies of one of them.
fn write_batch_seeds() -> Vec<(String, Vec<u8>)> {
    use shaledb::WriteBatch;
    let mut shapes: Vec<(&str, WriteBatch)> = Vec::new();
    let mut batch = WriteBatch::new();
    shapes.push(("empty", batch.clone()));
    batch.put(b"key", b"value").unwrap();
    shapes.push(("one-put", batch.clone()));
    batch.delete(b"key").unwrap();
    shapes.push(("put-then-delete", batch.clone()));
    batch.put(b"", b"").unwrap();
    batch.put(b"long", &[7; 300]).unwrap();
    shapes.push(("empty-key-and-long-value", batch.clone()));
    let mut many = WriteBatch::new();
    for index in 0..40u32 {
        let key = format!("key-{index:03}");
        match index % 3 {
            0 => many.delete(key.as_bytes()).unwrap(),
            _ => many.put(key.as_bytes(), &index.to_le_bytes()).unwrap(),
        }
    }
    shapes.push(("forty-operations", many));
    let mut inputs: Vec<(String, Vec<u8>)> = shapes
        .iter()
        .map(|(name, batch)| (format!("valid-{name}"), batch.encoded().to_vec()))
        .collect();
    let base = batch.encoded().to_vec();
    let mut damaged = |name: &str, bytes: Vec<u8>| inputs.push((format!("damaged-{name}"), bytes));
    for cut in [0, 5, 11, 12, 13, 15, 20, base.len() - 1] {
        damaged(&format!("truncated-at-{cut}"), base[..cut].to_vec());
    }
    let mut bytes = base.clone();
    bytes[12] = 9;
    damaged("unknown-kind", bytes);
    let mut bytes = base.clone();
    bytes[8] += 1;
    damaged("count-too-large", bytes);
    let mut bytes = base.clone();
    bytes[8] -= 1;
    damaged("count-too-small", bytes);
    let mut bytes = base.clone();
    bytes.push(0);
    damaged("trailing-byte", bytes);
    let mut bytes = base.clone();
    bytes[..8].copy_from_slice(&((1u64 << 56) - 2).to_le_bytes());
    damaged("sequence-overflow", bytes);
    // A valid batch whose key length 3 is spelled with a two-byte varint (0x83 0x00).
    let mut bytes = shapes[1].1.encoded().to_vec();
    bytes.splice(13..14, [0x83, 0x00]);
    damaged("overlong-varint", bytes);
    inputs
}

/// Configuration files: every documented key, each policy kind, and refused ones.
fn options_text_seeds() -> Vec<(String, Vec<u8>)> {
    let texts: &[(&str, &str)] = &[
        (
            "valid-every-key",
            "create_if_missing = true\nerror_if_exists = false\nsync_writes = false\n\
             write_buffer_size = 16MiB\nmax_immutable_memtables = 3\n\
             max_write_group_bytes = 512KiB\nblock_cache_capacity = 0\n\
             wal_recovery_mode = point_in_time\nlevel0_compaction_trigger = 8\n\
             level0_size_percent_trigger = 0\nlevel0_slowdown_trigger = 24\n\
             level0_stop_trigger = 40\nlevel1_target_size = 1 GiB\nlevel_size_multiplier = 8\n\
             target_file_size = 32mib\nbackground_threads = 4\nmax_manifest_size = 4KiB\n\
             table.block_size = 16KiB\ntable.restart_interval = 32\n\
             table.bloom_bits_per_key = 0\ntable.compression = none\n\
             commit.max_batches = 64\ncommit.max_bytes = 2MiB\n\
             commit.target_latency = 500us\ncommit.policy = adaptive\n",
        ),
        (
            "valid-window",
            "# group commits in a window\ncommit.policy = window\n\
             commit.max_wait = 250µs  # at most 1 s\ncommit.max_bytes = 1KiB\n",
        ),
        (
            "valid-immediate",
            "commit.policy = immediate\n\n   \n# nothing else\n",
        ),
        (
            "valid-recovery-modes",
            "wal_recovery_mode = skip_any_corrupted_records\ntable.compression = lz4\n",
        ),
        ("valid-empty", ""),
        ("bad-decimal-unit", "write_buffer_size = 64MB\n"),
        ("bad-fraction", "write_buffer_size = 1.5GiB\n"),
        (
            "bad-duration-without-unit",
            "commit.policy = window\ncommit.max_wait = 10\n",
        ),
        ("bad-negative", "background_threads = -1\n"),
        (
            "bad-overflow",
            "level1_target_size = 99999999999999999999TiB\n",
        ),
        ("bad-out-of-range", "write_buffer_size = 1KiB\n"),
        (
            "bad-triggers-out-of-order",
            "level0_slowdown_trigger = 2\nlevel0_stop_trigger = 1\n",
        ),
        ("bad-unknown-key", "write_bufer_size = 16MiB\n"),
        ("bad-unprefixed-key", "block_size = 16KiB\n"),
        ("bad-duplicate", "sync_writes = true\nsync_writes = false\n"),
        ("bad-no-equals", "sync_writes\n"),
        ("bad-empty-key", "= 5\n"),
        (
            "bad-parameter-of-other-policy",
            "commit.policy = immediate\ncommit.max_bytes = 1MiB\n",
        ),
        ("bad-boolean", "sync_writes = yes\n"),
        (
            "valid-both-tables",
            "write_buffer_size = 16MiB\ncommit.policy = adaptive\ncommit.target_latency = 2ms\n\
             batch.strategy = time_window\nbatch.window = 5ms\n",
        ),
        (
            "valid-batch-every-key",
            "batch.strategy = adaptive\nbatch.min_operations = 8\nbatch.max_operations = 512\n\
             batch.target_latency = 3ms\nbatch.max_in_flight_bytes = 8MiB\nbatch.sync = false\n\
             batch.retry.max_attempts = 4\nbatch.retry.initial_backoff = 500us\n\
             batch.retry.max_backoff = 20ms\n",
        ),
        (
            "bad-batch-parameter-of-other-strategy",
            "batch.strategy = fixed_size\nbatch.window = 5ms\n",
        ),
        ("bad-batch-typo", "batch.windw = 5ms\n"),
    ];
    texts
        .iter()
        .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
        .collect()
}

#[test]
#[ignore = "writes the seed corpora of write_batch and options_text; run by hand after a format change"]
fn write_batch_and_options_text_seed_corpora() {
    write_corpus("write_batch", &write_batch_seeds());
    write_corpus("options_text", &options_text_seeds());
}

/// The seeds are what their names say: valid configurations are accepted and bad ones refused,
/// so the fuzzer starts from both sides of the parser.
#[test]
fn options_text_seeds_are_what_their_names_say() {
    for (name, bytes) in options_text_seeds() {
        let text = String::from_utf8(bytes).unwrap();
        // A valid file configures both the database and a batch writer.
        let outcome = shaledb::Options::from_config_str(&text)
            .and_then(|_| shaledb::BatchWriterOptions::from_config_str(&text));
        assert_eq!(
            outcome.is_ok(),
            name.starts_with("valid-"),
            "{name}: {outcome:?}"
        );
    }
}
