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
    inputs.extend(keyspace_batch_seeds());
    inputs
}

/// Batches naming keyspaces (FORMAT.md 7, bit `0x10`), built through `Keyspace` handles of a
/// real database, then damaged copies of them.
fn keyspace_batch_seeds() -> Vec<(String, Vec<u8>)> {
    use shaledb::{Db, KeyspaceOptions, Options, WriteBatch};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let [one, two, three] =
        ["one", "two", "three"].map(|name| db.keyspace(name, KeyspaceOptions::default()).unwrap());
    let mut put = WriteBatch::new();
    put.put_in(&three, b"k", b"v").unwrap();
    // FORMAT.md 7's example: a put of v under k in keyspace 3.
    assert_eq!(put.encoded()[12..], [0x11, 0x03, 0x01, b'k', 0x01, b'v']);
    let mut across = WriteBatch::new();
    across.put(b"default-key", b"default value").unwrap();
    across.put_in(&one, b"row", b"cells").unwrap();
    across.delete_in(&two, b"index-entry").unwrap();
    across.delete_range_in(&three, b"a", b"m").unwrap();
    across.delete_range(b"x", b"y").unwrap();
    across
        .put_in(&db.default_keyspace(), b"through-a-handle", b"")
        .unwrap();
    let mut inputs = vec![
        ("valid-keyspace-put".to_string(), put.encoded().to_vec()),
        (
            "valid-across-keyspaces".to_string(),
            across.encoded().to_vec(),
        ),
    ];
    let base = put.encoded().to_vec();
    let mut variant = |name: &str, operation: &[u8]| {
        inputs.push((name.to_string(), [&base[..12], operation].concat()));
    };
    // Keyspace 300: a two-byte varint id.
    variant(
        "valid-keyspace-id-300",
        &[0x11, 0xac, 0x02, 1, b'k', 1, b'v'],
    );
    // Keyspace 3 spelled with a two-byte varint: accepted, re-encoded shorter.
    variant(
        "valid-keyspace-id-overlong",
        &[0x11, 0x83, 0x00, 1, b'k', 1, b'v'],
    );
    variant("damaged-keyspace-0", &[0x11, 0x00, 1, b'k', 1, b'v']);
    variant("damaged-keyspace-id-truncated", &[0x11]);
    variant("damaged-keyspace-id-unterminated", &[0x11, 0x83]);
    variant(
        "damaged-keyspace-id-over-32-bits",
        &[0x11, 0xff, 0xff, 0xff, 0xff, 0x1f, 1, b'k', 1, b'v'],
    );
    // Kind 3 (a merge) is known since write-ahead log version 5; kind 4 is not.
    variant(
        "damaged-keyspace-unknown-kind",
        &[0x14, 0x03, 1, b'k', 1, b'v'],
    );
    variant("valid-keyspace-merge", &[0x13, 0x03, 1, b'k', 1, b'v']);
    variant("damaged-keyspace-bit-0x20", &[0x21, 0x03, 1, b'k', 1, b'v']);
    variant(
        "damaged-keyspace-range-backwards",
        &[0x12, 0x03, 1, b'z', 1, b'a'],
    );
    inputs
}

/// The keyspace seeds of write_batch are what their names say: valid ones decode whole, with the
/// keyspaces they name; damaged ones do not.
#[test]
fn keyspace_batch_seeds_are_what_their_names_say() {
    use shaledb::batch::BatchReader;
    use shaledb::key::KeyspaceId;
    for (name, bytes) in keyspace_batch_seeds() {
        let decoded = BatchReader::new(&bytes).and_then(|mut reader| {
            let mut keyspaces = Vec::new();
            while let Some(item) = reader.next_in_keyspace() {
                keyspaces.push(item?.0);
            }
            Ok(keyspaces)
        });
        let expected = match name.as_str() {
            "valid-keyspace-put" | "valid-keyspace-id-overlong" | "valid-keyspace-merge" => {
                Some(vec![KeyspaceId(3)])
            }
            "valid-keyspace-id-300" => Some(vec![KeyspaceId(300)]),
            "valid-across-keyspaces" => Some([0, 1, 2, 3, 0, 0].map(KeyspaceId).to_vec()),
            _ => None,
        };
        assert_eq!(decoded.ok(), expected, "{name}");
        assert_eq!(name.starts_with("valid-"), expected.is_some(), "{name}");
        checks::batch::write_batch(&bytes);
    }
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

#[test]
#[ignore = "writes the keyspace seeds of db_model; run by hand after the program's bytes change"]
fn db_model_keyspace_seed_corpus() {
    write_corpus("db_model", &db_model::keyspace_seeds());
}

/// The keyspace seeds run what their names say: keyspaces created and used, and the kinds of
/// operation each is about.
#[test]
fn db_model_keyspace_seeds_are_what_their_names_say() {
    for (name, program) in db_model::keyspace_seeds() {
        let summary = checks::db::run_program(&program);
        println!("{name}: {summary:?}");
        let ran = |kind: &str| summary.keyspace_operations.get(kind).copied().unwrap_or(0);
        assert!(summary.operations < 400, "{name} is cut short: {summary:?}");
        assert!(summary.keyspaces_created >= 2, "{name}: {summary:?}");
        assert!(summary.reopens >= 1, "{name}: {summary:?}");
        let about = match name.as_str() {
            "keyspaces-isolation" => ran("Put") >= 20 && ran("Get") >= 6 && ran("Scan") >= 2,
            "keyspaces-cross-batches" => {
                summary.cross_keyspace_batches >= 4 && ran("SnapshotRead") >= 6
            }
            "keyspaces-drop-and-recreate" => {
                summary.keyspaces_dropped >= 2
                    && summary.dropped_handle_uses >= 3
                    && summary.keyspaces_created >= 3
            }
            "keyspaces-flush-compact" => {
                ran("Compact") >= 2 && ran("Checkpoint") >= 1 && ran("ReadOnly") >= 1
            }
            "keyspaces-reconfigure" => summary.keyspaces_reconfigured >= 2,
            "keyspaces-hot-and-cold" => ran("Put") >= 150,
            other => panic!("a seed without a check: {other}"),
        };
        assert!(about, "{name} does not do what its name says: {summary:?}");
    }
}

/// Regression: the check kept the handle of a keyspace dropped before a reopen and named it in a
/// batch beside a keyspace of the reopened database, which `WriteBatch::put_in` refuses at once
/// ("a write batch holds keyspaces of two databases"): the program panicked in the check, not
/// in the engine. The check now forgets dropped keyspaces' handles at a reopen. The program
/// (also in the corpus, as `stale-dropped-handle-after-reopen-in-cross-keyspace-batch`):
/// create `ks-a`, drop it, reopen, then a batch putting into `ks-b` and into `ks-a` through a
/// keyspace byte of 128 or more (which would pick the dropped handle).
#[test]
fn a_dropped_keyspace_handle_from_before_a_reopen_is_not_reused() {
    let program = [
        255, 8, 0, // create ks-a
        255, 9, 0,  // drop ks-a
        11, // reopen
        255, 3, 2, // a batch across keyspaces of two operations:
        2, 5, 3, 65, // a put into ks-b (created)
        129, 6, 3, 66, // a put into ks-a (created again: no dropped handle is known)
    ];
    let on_disk = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/db_model/stale-dropped-handle-after-reopen-in-cross-keyspace-batch"),
    )
    .unwrap();
    assert_eq!(on_disk, program, "the corpus file is this program");
    let summary = checks::db::run_program(&program);
    assert_eq!(summary.reopens, 1, "{summary:?}");
    assert_eq!(summary.keyspaces_dropped, 1, "{summary:?}");
    assert_eq!(summary.cross_keyspace_batches, 1, "{summary:?}");
    assert_eq!(summary.dropped_handle_uses, 0, "{summary:?}");
}

/// Programs of the `db_model` target about keyspaces, spelled with the operation bytes that
/// `fuzz/checks/db.rs` documents.
mod db_model {
    /// A put into the default keyspace: key `key`, a value of `length` × 8 bytes of `fill`.
    fn put(key: u8, length: u8, fill: u8) -> Vec<u8> {
        vec![0, key, length, fill]
    }

    /// Operations 8, 10 and 11 of the default keyspace: flush (every keyspace), snapshot,
    /// reopen.
    const FLUSH: u8 = 8;
    const SNAPSHOT: u8 = 10;
    const REOPEN: u8 = 11;

    /// Keyspace operations: byte 255, then their number in `KeyspaceOperation`.
    const PUT: [u8; 2] = [255, 0];
    const DELETE: [u8; 2] = [255, 2];
    const BATCH: [u8; 2] = [255, 3];
    const GET: [u8; 2] = [255, 4];
    const SCAN: [u8; 2] = [255, 5];
    const KEYSPACE_FLUSH: [u8; 2] = [255, 6];
    const COMPACT: [u8; 2] = [255, 7];
    const CREATE: [u8; 2] = [255, 8];
    const DROP: [u8; 2] = [255, 9];
    const MULTI_GET: [u8; 2] = [255, 10];
    const SNAPSHOT_READ: [u8; 2] = [255, 11];
    const ENDS: [u8; 2] = [255, 12];
    const CHECKPOINT: [u8; 2] = [255, 13];
    const READ_ONLY: [u8; 2] = [255, 14];
    const VERIFY: [u8; 2] = [255, 15];

    /// Keyspace operation `operation` with its argument bytes.
    fn op(operation: [u8; 2], arguments: &[u8]) -> Vec<u8> {
        [&operation[..], arguments].concat()
    }

    /// The keyspace byte of `ks-a`, `ks-b`, `ks-c` (index 0, 1, 2) in a single-keyspace
    /// operation; plus 129 (a multiple of 3, at least 128) for the dropped keyspace's handle.
    fn keyspace(index: u8) -> u8 {
        index
    }

    fn dropped(index: u8) -> u8 {
        129 + index
    }

    /// The create byte of keyspace `index` with the options `options` picks (bit 0: a 128 KiB
    /// write buffer, bit 1: level-0 trigger 2, bit 2: 512-byte blocks, bit 3: no compression,
    /// bit 4: no bloom filter).
    fn create(index: u8, options: u8) -> Vec<u8> {
        op(CREATE, &[options * 3 + index])
    }

    /// A whole-range forward scan of keyspace byte `target`, of scan kind `kind` (0 plain, 1
    /// with option bounds, 2 seek, 3 reseek).
    fn scan(target: u8, kind: u8, reverse: bool) -> Vec<u8> {
        // Bound selector 2 is unbounded; the keys are ignored then.
        op(
            SCAN,
            &[target, 2, 0, 2, 0, kind * 2 + u8::from(reverse) + 8 * 10],
        )
    }

    /// A batch: up to 7 of (keyspace byte, key, length, fill). A keyspace byte of 0 modulo 4 is
    /// the default keyspace, 1 + i is `NAMES[i]`, plus 128 to pick a dropped keyspace's handle.
    /// Lengths: even, a delete; 1 modulo 8, a range delete to the key `fill % 48`; else a put.
    fn batch(operations: &[(u8, u8, u8, u8)]) -> Vec<u8> {
        let mut bytes = op(BATCH, &[operations.len() as u8]);
        for &(target, key, length, fill) in operations {
            bytes.extend_from_slice(&[target, key, length, fill]);
        }
        bytes
    }

    fn keyspace_put(target: u8, key: u8, length: u8, fill: u8) -> Vec<u8> {
        op(PUT, &[target, key, length, fill])
    }

    fn program(parts: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
        parts.into_iter().flatten().collect()
    }

    /// The same keys in the default keyspace and two others, read, scanned, flushed and
    /// reopened: nothing leaks from one keyspace into another.
    fn isolation() -> Vec<u8> {
        let mut parts = vec![create(0, 0), create(1, 5)];
        for key in 0..10 {
            parts.push(put(key, 3, b'd'));
            parts.push(keyspace_put(keyspace(0), key, 5, b'a'));
            parts.push(keyspace_put(keyspace(1), key + 5, 7, b'b'));
        }
        parts.push(op(DELETE, &[keyspace(0), 3]));
        parts.push(op(DELETE, &[keyspace(1), 200])); // a range delete
        for key in [0, 3, 9, 12] {
            parts.push(op(GET, &[keyspace(0), key]));
            parts.push(op(GET, &[keyspace(1), key]));
        }
        parts.push(scan(keyspace(0), 0, false));
        parts.push(scan(keyspace(1), 1, true));
        parts.push(op(KEYSPACE_FLUSH, &[keyspace(0)]));
        parts.push(op(MULTI_GET, &[keyspace(0), 4, 0, 3, 3, 9]));
        parts.push(vec![REOPEN]);
        parts.push(op(GET, &[keyspace(0), 9]));
        parts.push(op(GET, &[keyspace(1), 9]));
        parts.push(scan(keyspace(1), 2, false));
        parts.push(scan(keyspace(0), 3, true));
        parts.push(op(ENDS, &[keyspace(1)]));
        program(parts)
    }

    /// Batches across the default keyspace and three others (puts, deletes, range deletes),
    /// snapshots read in every keyspace before and after flushes, compactions and more batches.
    fn cross_batches() -> Vec<u8> {
        let mut parts = vec![create(0, 0), create(1, 2), create(2, 4)];
        for round in 0..4u8 {
            let fill = b'a' + round;
            parts.push(batch(&[
                (0, round, 3, fill),
                (1, round + 1, 5, fill),
                (2, round + 2, 7, fill),
                (3, round + 3, 11, fill),
                (1, 20 + round, 3, fill),
            ]));
        }
        parts.push(vec![SNAPSHOT]);
        parts.push(batch(&[
            (0, 1, 2, 0),      // delete in the default keyspace
            (1, 2, 1, 30),     // range delete in ks-a: k02..k30
            (2, 3, 4, 0),      // delete in ks-b
            (3, 0, 9, 47),     // range delete in ks-c: k00..k47
            (2, 40, 13, b'z'), // put in ks-b
        ]));
        for target in 0..4 {
            parts.push(op(SNAPSHOT_READ, &[target, 0, 3]));
        }
        parts.push(vec![FLUSH]);
        parts.push(vec![SNAPSHOT]);
        parts.push(batch(&[
            (1, 5, 15, b'q'),
            (2, 5, 15, b'r'),
            (0, 5, 15, b's'),
        ]));
        parts.push(op(COMPACT, &[keyspace(1)]));
        for target in 0..4 {
            parts.push(op(SNAPSHOT_READ, &[target, 1, 5]));
        }
        parts.push(vec![REOPEN]);
        for target in 0..3 {
            parts.push(scan(keyspace(target), 0, target == 1));
        }
        program(parts)
    }

    /// A keyspace with tables dropped under a snapshot, its handle used after the drop (and in
    /// a batch, which must write nothing), created again empty, dropped again, reopened.
    fn drop_and_recreate() -> Vec<u8> {
        let mut parts = vec![create(0, 0), create(1, 0)];
        for key in 0..12 {
            parts.push(keyspace_put(keyspace(0), key, 200, key));
        }
        parts.push(op(KEYSPACE_FLUSH, &[keyspace(0)]));
        parts.push(keyspace_put(keyspace(0), 30, 3, b'm')); // in the memtable
        parts.push(keyspace_put(keyspace(1), 1, 3, b'b'));
        parts.push(vec![SNAPSHOT]);
        parts.push(op(DROP, &[0]));
        parts.push(op(GET, &[dropped(0), 1]));
        parts.push(keyspace_put(dropped(0), 1, 3, b'x'));
        // Both or neither: the part for ks-b is not written either.
        parts.push(batch(&[
            (2, 7, 3, b'y'),
            (1 + 128, 7, 3, b'y'),
            (0, 7, 3, b'y'),
        ]));
        parts.push(op(GET, &[keyspace(1), 7]));
        parts.push(op(DROP, &[0])); // not live: refused
        parts.push(create(0, 6)); // a new, empty ks-a
        parts.push(op(SNAPSHOT_READ, &[1, 0, 1]));
        parts.push(op(SNAPSHOT_READ, &[2, 0, 1]));
        parts.push(keyspace_put(keyspace(0), 2, 5, b'n'));
        parts.push(vec![FLUSH]);
        parts.push(vec![REOPEN]);
        parts.push(op(DROP, &[0]));
        parts.push(op(DROP, &[1]));
        parts.push(op(MULTI_GET, &[dropped(1), 1, 1]));
        parts.push(vec![REOPEN]);
        parts.push(keyspace_put(keyspace(0), 3, 5, b'o')); // created by its first use
        parts.push(op(GET, &[keyspace(0), 2]));
        program(parts)
    }

    /// Enough writes to one keyspace (512-byte blocks, level-0 trigger 2) for flushes and
    /// compactions, range deletes over tables, then verify, a checkpoint and a read-only handle.
    fn flush_compact() -> Vec<u8> {
        let mut parts = vec![create(0, 6), create(2, 1)];
        for round in 0..3u8 {
            for key in 0..40 {
                parts.push(keyspace_put(keyspace(0), key, 240 + round, round));
            }
            parts.push(keyspace_put(keyspace(2), round, 3, round));
            parts.push(op(DELETE, &[keyspace(0), 192 + 10 * round]));
        }
        parts.push(op(COMPACT, &[keyspace(0)]));
        parts.push(op(VERIFY, &[0]));
        parts.push(op(CHECKPOINT, &[0]));
        parts.push(op(READ_ONLY, &[0]));
        parts.push(op(DELETE, &[keyspace(0), 195]));
        parts.push(op(COMPACT, &[keyspace(0)]));
        parts.push(scan(keyspace(0), 2, true));
        parts.push(vec![REOPEN]);
        parts.push(op(READ_ONLY, &[0]));
        parts.push(scan(keyspace(0), 3, false));
        program(parts)
    }

    /// A keyspace given new options twice, with writes between, read back by a read-only
    /// handle (which reads the options from the manifest) and after a reopen.
    fn reconfigure() -> Vec<u8> {
        let mut parts = vec![create(1, 0), create(2, 16)];
        for key in 0..8 {
            parts.push(keyspace_put(keyspace(1), key, 50, key));
        }
        parts.push(create(1, 9));
        parts.push(op(READ_ONLY, &[0]));
        for key in 4..12 {
            parts.push(keyspace_put(keyspace(1), key, 60, key));
        }
        parts.push(vec![REOPEN]);
        parts.push(create(1, 22));
        parts.push(op(KEYSPACE_FLUSH, &[keyspace(1)]));
        parts.push(op(CHECKPOINT, &[0]));
        parts.push(op(READ_ONLY, &[0]));
        program(parts)
    }

    /// A cold keyspace written once and a hot one written past `Options::max_total_wal_size`
    /// (256 KiB in the target), so that a log switch flushes the cold one; then a reopen.
    fn hot_and_cold() -> Vec<u8> {
        let mut parts = vec![create(2, 0), keyspace_put(keyspace(2), 7, 3, b'c')];
        parts.push(create(0, 0));
        for index in 0..160u8 {
            parts.push(keyspace_put(keyspace(0), index % 48, 255, index));
        }
        parts.push(op(GET, &[keyspace(2), 7]));
        parts.push(vec![REOPEN]);
        parts.push(op(GET, &[keyspace(2), 7]));
        parts.push(op(VERIFY, &[0]));
        program(parts)
    }

    /// Every seed with its file name.
    pub fn keyspace_seeds() -> Vec<(String, Vec<u8>)> {
        [
            ("keyspaces-isolation", isolation()),
            ("keyspaces-cross-batches", cross_batches()),
            ("keyspaces-drop-and-recreate", drop_and_recreate()),
            ("keyspaces-flush-compact", flush_compact()),
            ("keyspaces-reconfigure", reconfigure()),
            ("keyspaces-hot-and-cold", hot_and_cold()),
        ]
        .into_iter()
        .map(|(name, program)| (name.to_string(), program))
        .collect()
    }
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
