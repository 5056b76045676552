//! Configuration from text: every key round-trips, units parse, and each kind of error names
//! the key or the line.

mod common;

use std::time::Duration;

use common::Rng;
use shaledb::config::{batch_keys, keys, parse_duration, parse_size};
use shaledb::{
    BatchStrategy, BatchWriterOptions, Compression, Options, RetryPolicy, WalRecoveryMode,
};

/// One key set to a non-default value, and a check that the field took it.
type RoundTrip = (&'static str, &'static str, fn(&Options) -> bool);

const ROUND_TRIPS: &[RoundTrip] = &[
    ("create_if_missing", "false", |o| !o.create_if_missing),
    ("error_if_exists", "true", |o| o.error_if_exists),
    ("sync_writes", "false", |o| !o.sync_writes),
    ("write_buffer_size", "16MiB", |o| {
        o.write_buffer_size == 16 << 20
    }),
    ("max_immutable_memtables", "5", |o| {
        o.max_immutable_memtables == 5
    }),
    ("max_write_group_bytes", "512KiB", |o| {
        o.max_write_group_bytes == 512 << 10
    }),
    ("block_cache_capacity", "0", |o| o.block_cache_capacity == 0),
    ("wal_recovery_mode", "point_in_time", |o| {
        o.wal_recovery_mode == WalRecoveryMode::PointInTime
    }),
    ("level0_compaction_trigger", "3", |o| {
        o.level0_compaction_trigger == 3
    }),
    ("level0_size_percent_trigger", "25", |o| {
        o.level0_size_percent_trigger == 25
    }),
    ("level0_slowdown_trigger", "30", |o| {
        o.level0_slowdown_trigger == 30
    }),
    ("level0_stop_trigger", "40", |o| o.level0_stop_trigger == 40),
    ("level1_target_size", "1GiB", |o| {
        o.level1_target_size == 1 << 30
    }),
    ("level_size_multiplier", "8", |o| {
        o.level_size_multiplier == 8
    }),
    ("dynamic_level_sizes", "false", |o| !o.dynamic_level_sizes),
    ("target_file_size", "32MiB", |o| {
        o.target_file_size == 32 << 20
    }),
    ("background_threads", "4", |o| o.background_threads == 4),
    ("max_manifest_size", "1MiB", |o| {
        o.max_manifest_size == 1 << 20
    }),
    ("max_total_wal_size", "1GiB", |o| {
        o.max_total_wal_size == 1 << 30
    }),
    ("commit_token_retention.max_age", "2h", |o| {
        o.commit_token_retention.max_age == Duration::from_secs(7200)
    }),
    ("commit_token_retention.max_count", "5000", |o| {
        o.commit_token_retention.max_count == 5000
    }),
    ("table.block_size", "16KiB", |o| {
        o.table.block_size == 16 << 10
    }),
    ("table.restart_interval", "32", |o| {
        o.table.restart_interval == 32
    }),
    ("table.bloom_bits_per_key", "0", |o| {
        o.table.bloom_bits_per_key == 0
    }),
    ("table.compression", "none", |o| {
        o.table.compression == Compression::None
    }),
];

fn invalid_argument_message(result: shaledb::Result<Options>) -> String {
    match result {
        Err(shaledb::Error::InvalidArgument(message)) => message,
        other => panic!("expected an invalid-argument error, got {other:?}"),
    }
}

#[test]
fn every_key_round_trips() {
    let tested: Vec<&str> = ROUND_TRIPS.iter().map(|(key, _, _)| *key).collect();
    for key in keys() {
        // The commit policy's keys depend on each other: `commit_policy_keys` tests them.
        if key.starts_with("commit.") {
            continue;
        }
        assert!(tested.contains(&key), "{key} has no round-trip case");
    }
    for (key, value, took) in ROUND_TRIPS {
        assert!(!took(&Options::default()), "{key}={value} is the default");
        let mut options = Options::default();
        options.set(key, value).unwrap();
        assert!(took(&options), "{key} = {value} did not reach its field");
        let options = Options::from_pairs([(*key, *value)]).unwrap();
        assert!(took(&options), "from_pairs {key} = {value}");
        let options = Options::from_config_str(&format!("  {key}={value}  # set\n")).unwrap();
        assert!(took(&options), "from_config_str {key} = {value}");
    }
}

#[test]
fn commit_policy_keys() {
    use shaledb::CommitPolicy;
    // The kind is applied first wherever it stands, so its parameters may come before it.
    let text = "commit.max_wait = 3ms\ncommit.max_batches = 64\ncommit.policy = window\n";
    let options = Options::from_config_str(text).unwrap();
    assert_eq!(
        options.commit_policy,
        CommitPolicy::Window {
            max_wait: Duration::from_millis(3),
            max_batches: 64,
            max_bytes: 1 << 20
        }
    );
    let options = Options::from_pairs([
        ("commit.target_latency", "500us"),
        ("commit.max_bytes", "256KiB"),
        ("commit.policy", "adaptive"),
    ])
    .unwrap();
    assert_eq!(
        options.commit_policy,
        CommitPolicy::Adaptive {
            target_latency: Duration::from_micros(500),
            max_batches: 1024,
            max_bytes: 256 << 10,
        }
    );
    let options = Options::from_pairs([("commit.policy", "immediate")]).unwrap();
    assert_eq!(options.commit_policy, CommitPolicy::Immediate);
    // A parameter of another kind is refused, naming the key and the kind it needs.
    let message = invalid_argument_message(Options::from_pairs([("commit.max_wait", "1ms")]));
    assert!(
        message.contains("commit.max_wait") && message.contains("window"),
        "{message}"
    );
    let message = invalid_argument_message(Options::from_pairs([
        ("commit.policy", "immediate"),
        ("commit.max_batches", "8"),
    ]));
    assert!(message.contains("commit.max_batches"), "{message}");
    let message = invalid_argument_message(Options::from_pairs([("commit.policy", "eventually")]));
    assert!(
        message.contains("immediate, window or adaptive"),
        "{message}"
    );
    // Ranges are the policy's own.
    let message = invalid_argument_message(Options::from_pairs([
        ("commit.policy", "window"),
        ("commit.max_wait", "5s"),
    ]));
    assert!(message.contains("max_wait"), "{message}");
}

#[test]
fn all_keys_at_once_round_trip() {
    let options = Options::from_pairs(ROUND_TRIPS.iter().map(|(key, value, _)| (key, value)))
        .expect("the round-trip values are valid together");
    for (key, value, took) in ROUND_TRIPS {
        assert!(took(&options), "{key} = {value}");
    }
}

#[test]
fn sizes_parse() {
    let cases: &[(&str, Option<u64>)] = &[
        ("0", Some(0)),
        ("4096", Some(4096)),
        ("4096B", Some(4096)),
        ("4KiB", Some(4 << 10)),
        ("4 KiB", Some(4 << 10)),
        ("4kib", Some(4 << 10)),
        ("64MiB", Some(64 << 20)),
        ("1GiB", Some(1 << 30)),
        ("2TiB", Some(2 << 40)),
        ("18446744073709551615", Some(u64::MAX)),
        ("18446744073709551616", None),
        ("16777216TiB", None),
        ("4KB", None),
        ("64MB", None),
        ("1.5GiB", None),
        ("-1", None),
        ("+1", None),
        ("", None),
        ("MiB", None),
        ("64 parsecs", None),
        ("1 000", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_size(text), *expected, "{text:?}");
    }
}

#[test]
fn durations_parse() {
    let cases: &[(&str, Option<Duration>)] = &[
        ("0s", Some(Duration::ZERO)),
        ("7ns", Some(Duration::from_nanos(7))),
        ("500us", Some(Duration::from_micros(500))),
        ("500µs", Some(Duration::from_micros(500))),
        ("10ms", Some(Duration::from_millis(10))),
        ("10 ms", Some(Duration::from_millis(10))),
        ("2s", Some(Duration::from_secs(2))),
        ("1m", Some(Duration::from_secs(60))),
        ("3h", Some(Duration::from_secs(3 * 3600))),
        ("10", None),
        ("0", None),
        ("1.5s", None),
        ("10MS", None),
        ("10 sec", None),
        ("99999999999999h", None),
        ("", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration(text), *expected, "{text:?}");
    }
}

#[test]
fn random_sizes_and_durations_parse() {
    let seed = common::test_seed("random_sizes_and_durations_parse");
    let mut rng = Rng::new(seed);
    let size_units: [(&str, u32); 5] = [("", 0), ("B", 0), ("KiB", 10), ("MiB", 20), ("GiB", 30)];
    let duration_units: [(&str, u64); 4] = [
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
    ];
    for _ in 0..10_000 {
        let bits = rng.below(40);
        let number = rng.below(1 << bits);
        let (unit, shift) = size_units[rng.below(5) as usize];
        let space = if rng.chance(1, 2) { " " } else { "" };
        let text = format!("{number}{space}{unit}");
        let expected = number.checked_mul(1 << shift);
        assert_eq!(parse_size(&text), expected, "{text:?} (seed {seed})");
        let (unit, nanoseconds) = duration_units[rng.below(4) as usize];
        let text = format!("{number}{space}{unit}");
        let expected = number.checked_mul(nanoseconds).map(Duration::from_nanos);
        assert_eq!(parse_duration(&text), expected, "{text:?} (seed {seed})");
    }
}

#[test]
fn a_full_example_file_parses() {
    let text = "\
# shaledb configuration for a write-heavy service

create_if_missing = true
sync_writes = false          # group commit without fsync
write_buffer_size = 128MiB
max_immutable_memtables = 4
max_write_group_bytes = 2MiB
block_cache_capacity = 1GiB
wal_recovery_mode = point_in_time

level0_compaction_trigger = 8
level0_size_percent_trigger = 50
level0_slowdown_trigger = 24
level0_stop_trigger = 48
level1_target_size = 512MiB
level_size_multiplier = 8
target_file_size = 128MiB
background_threads = 4
max_manifest_size = 64MiB

table.block_size = 16KiB
table.restart_interval = 32
table.bloom_bits_per_key = 12
table.compression = lz4
";
    let directory = common::temp_dir();
    let path = directory.path().join("shaledb.conf");
    std::fs::write(&path, text).unwrap();
    for options in [
        Options::from_config_str(text).unwrap(),
        Options::from_config_file(&path).unwrap(),
    ] {
        assert!(!options.sync_writes);
        assert_eq!(options.write_buffer_size, 128 << 20);
        assert_eq!(options.max_immutable_memtables, 4);
        assert_eq!(options.max_write_group_bytes, 2 << 20);
        assert_eq!(options.block_cache_capacity, 1 << 30);
        assert_eq!(options.wal_recovery_mode, WalRecoveryMode::PointInTime);
        assert_eq!(options.level0_compaction_trigger, 8);
        assert_eq!(options.level0_size_percent_trigger, 50);
        assert_eq!(options.level0_slowdown_trigger, 24);
        assert_eq!(options.level0_stop_trigger, 48);
        assert_eq!(options.level1_target_size, 512 << 20);
        assert_eq!(options.level_size_multiplier, 8);
        assert_eq!(options.target_file_size, 128 << 20);
        assert_eq!(options.background_threads, 4);
        assert_eq!(options.max_manifest_size, 64 << 20);
        assert_eq!(options.table.block_size, 16 << 10);
        assert_eq!(options.table.restart_interval, 32);
        assert_eq!(options.table.bloom_bits_per_key, 12);
        assert_eq!(options.table.compression, Compression::Lz4);
    }
    let empty = Options::from_config_str("# nothing\n\n   \n").unwrap();
    assert_eq!(format!("{empty:?}"), format!("{:?}", Options::default()));
}

#[test]
fn bad_values_name_the_key_and_what_it_accepts() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "write_buffer_size",
            "64 parsecs",
            "is not a size; use bytes or a unit: KiB, MiB, GiB",
        ),
        ("write_buffer_size", "64MB", "is not a size"),
        ("table.block_size", "1.5KiB", "is not a size"),
        ("level1_target_size", "99999999TiB", "is not a size"),
        ("background_threads", "4KiB", "is not a count"),
        ("table.bloom_bits_per_key", "4294967296", "is not a count"),
        ("sync_writes", "yes", "is not a boolean; use true or false"),
        ("wal_recovery_mode", "strict", "point_in_time"),
        ("table.compression", "zstd", "use none or lz4"),
    ];
    for (key, value, expected) in cases {
        let message = invalid_argument_message(Options::from_pairs([(*key, *value)]));
        assert!(
            message.starts_with(&format!("{key}: {value:?} ")),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
        let text = format!("# header\n\n{key} = {value}\n");
        let message = invalid_argument_message(Options::from_config_str(&text));
        assert!(
            message.starts_with(&format!("line 3: {key}: ")),
            "{message}"
        );
    }
}

#[test]
fn unknown_keys_suggest_the_closest() {
    let cases: &[(&str, &str)] = &[
        ("write_bufer_size", "did you mean write_buffer_size?"),
        ("block_size", "did you mean table.block_size?"),
        ("table.compresion", "did you mean table.compression?"),
        ("colour", "known keys: create_if_missing, "),
    ];
    for (key, expected) in cases {
        let message = invalid_argument_message(Options::from_pairs([(*key, "1")]));
        assert!(
            message.starts_with(&format!("{key}: unknown key")),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
    }
    let mut options = Options::default();
    assert!(options.set("nonsense", "1").is_err());
    let message = invalid_argument_message(Options::from_config_str(
        "sync_writes = true\nwritebuffersize = 1MiB",
    ));
    assert!(
        message.starts_with("line 2: writebuffersize: unknown key"),
        "{message}"
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let message = invalid_argument_message(Options::from_config_str(
        "sync_writes = true\n\n# c\nsync_writes true\n",
    ));
    assert!(message.starts_with("line 4: "), "{message}");
    assert!(message.contains("key = value"), "{message}");
    let message = invalid_argument_message(Options::from_config_str(" = 4\n"));
    assert!(message.starts_with("line 1: no key"), "{message}");
    let message = invalid_argument_message(Options::from_config_str(
        "sync_writes = false\nsync_writes = true\n",
    ));
    assert!(
        message.contains("line 2: sync_writes: already set on line 1"),
        "{message}"
    );
    let message = invalid_argument_message(Options::from_pairs([
        ("sync_writes", "false"),
        ("sync_writes", "true"),
    ]));
    assert!(message.contains("sync_writes: given twice"), "{message}");
}

#[test]
fn out_of_range_and_contradictory_values_name_the_field() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("write_buffer_size", "1KiB")],
            "write_buffer_size is 1024",
        ),
        (&[("table.block_size", "32")], "block_size is 32"),
        (&[("background_threads", "0")], "background_threads is 0"),
        (
            &[
                ("level0_compaction_trigger", "10"),
                ("level0_slowdown_trigger", "5"),
            ],
            "level0_slowdown_trigger is 5",
        ),
        (
            &[("level0_stop_trigger", "10")],
            "level0_stop_trigger is 10",
        ),
    ];
    for (pairs, expected) in cases {
        let message = invalid_argument_message(Options::from_pairs(pairs.iter().copied()));
        assert!(message.contains(expected), "{pairs:?}: {message}");
    }
    // A single `set` checks syntax only: the order of keys must not matter to a caller who
    // validates at the end.
    let mut options = Options::default();
    options.set("level0_stop_trigger", "10").unwrap();
    assert!(options.validate().is_err());
    options.set("level0_slowdown_trigger", "8").unwrap();
    options.validate().unwrap();
}

#[test]
fn file_errors_name_the_file() {
    let directory = common::temp_dir();
    let missing = directory.path().join("missing.conf");
    match Options::from_config_file(&missing) {
        Err(shaledb::Error::Io {
            path: Some(path), ..
        }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error naming the file, got {other:?}"),
    }
    let path = directory.path().join("bad.conf");
    std::fs::write(&path, "sync_writes = maybe\n").unwrap();
    let message = invalid_argument_message(Options::from_config_file(&path));
    assert!(
        message.starts_with(&format!("{}: line 1: sync_writes", path.display())),
        "{message}"
    );
    std::fs::write(&path, b"sync_writes = \xff\n").unwrap();
    let message = invalid_argument_message(Options::from_config_file(&path));
    assert!(
        message.contains("not UTF-8 text (invalid byte at offset 14)"),
        "{message}"
    );
}

fn batch_invalid_argument_message(result: shaledb::Result<BatchWriterOptions>) -> String {
    match result {
        Err(shaledb::Error::InvalidArgument(message)) => message,
        other => panic!("expected an invalid-argument error, got {other:?}"),
    }
}

/// Each `batch.*` key set with the strategy it needs, and the options it must give.
fn batch_cases() -> Vec<(Vec<(&'static str, &'static str)>, BatchWriterOptions)> {
    let with = |strategy| BatchWriterOptions {
        strategy,
        ..BatchWriterOptions::default()
    };
    vec![
        (
            vec![
                ("batch.strategy", "fixed_size"),
                ("batch.operations", "250"),
            ],
            with(BatchStrategy::FixedSize(250)),
        ),
        (
            vec![("batch.window", "7ms"), ("batch.strategy", "time_window")],
            with(BatchStrategy::TimeWindow(Duration::from_millis(7))),
        ),
        (
            vec![
                ("batch.strategy", "memory_bound"),
                ("batch.bytes", "256KiB"),
            ],
            with(BatchStrategy::MemoryBound(256 << 10)),
        ),
        (
            vec![
                ("batch.strategy", "adaptive"),
                ("batch.min_operations", "8"),
                ("batch.max_operations", "512"),
                ("batch.target_latency", "3ms"),
            ],
            with(BatchStrategy::Adaptive {
                min_operations: 8,
                max_operations: 512,
                target_latency: Duration::from_millis(3),
            }),
        ),
        (
            vec![
                ("batch.strategy", "low_latency"),
                ("batch.max_in_flight_bytes", "8MiB"),
                ("batch.sync", "false"),
                ("batch.retry.max_attempts", "4"),
                ("batch.retry.initial_backoff", "500us"),
                ("batch.retry.max_backoff", "20ms"),
                ("batch.retry.commit_tokens", "false"),
            ],
            BatchWriterOptions {
                strategy: BatchStrategy::LowLatency,
                max_in_flight_bytes: 8 << 20,
                sync: false,
                retry: RetryPolicy {
                    max_attempts: 4,
                    initial_backoff: Duration::from_micros(500),
                    max_backoff: Duration::from_millis(20),
                    commit_tokens: false,
                },
            },
        ),
    ]
}

#[test]
fn batch_writer_keys_round_trip() {
    let cases = batch_cases();
    for key in batch_keys() {
        let tested = cases
            .iter()
            .any(|(pairs, _)| pairs.iter().any(|(case_key, _)| *case_key == key));
        assert!(tested, "{key} has no round-trip case");
    }
    for (pairs, expected) in cases {
        assert_ne!(expected, BatchWriterOptions::default(), "{pairs:?}");
        let from_pairs = BatchWriterOptions::from_pairs(pairs.iter().copied()).unwrap();
        assert_eq!(from_pairs, expected, "{pairs:?}");
        let text: String = pairs
            .iter()
            .map(|(key, value)| format!("{key} = {value}\n"))
            .collect();
        assert_eq!(
            BatchWriterOptions::from_config_str(&text).unwrap(),
            expected,
            "{text}"
        );
    }
}

#[test]
fn one_file_configures_the_database_and_the_batch_writer() {
    let text = "\
write_buffer_size = 16MiB
commit.policy = adaptive
commit.target_latency = 2ms
batch.strategy = time_window
batch.window = 5ms
";
    let directory = common::temp_dir();
    let path = directory.path().join("shaledb.conf");
    std::fs::write(&path, text).unwrap();
    let options = Options::from_config_file(&path).unwrap();
    assert_eq!(options.write_buffer_size, 16 << 20);
    let batching = BatchWriterOptions::from_config_file(&path).unwrap();
    assert_eq!(
        batching.strategy,
        BatchStrategy::TimeWindow(Duration::from_millis(5))
    );
    // A typo is unknown to both tables, so neither skips it.
    let typo = format!("{text}batch.windw = 5ms\n");
    let message = invalid_argument_message(Options::from_config_str(&typo));
    assert!(message.contains("did you mean batch.window?"), "{message}");
    let message = batch_invalid_argument_message(BatchWriterOptions::from_config_str(&typo));
    assert!(
        message.starts_with("line 6: batch.windw: unknown key; did you mean batch.window?"),
        "{message}"
    );
    // `set` is for one table: a key of the other is refused, naming why.
    let message = batch_invalid_argument_message(
        BatchWriterOptions::default()
            .set("write_buffer_size", "1MiB")
            .map(|()| BatchWriterOptions::default()),
    );
    assert!(message.contains("other options type"), "{message}");
}

#[test]
fn batch_writer_keys_refuse_bad_values_and_contradictions() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("batch.strategy", "sometimes")],
            "fixed_size, time_window, memory_bound, adaptive or low_latency",
        ),
        (
            &[("batch.window", "5ms")],
            "with batch.strategy = time_window",
        ),
        (
            &[("batch.strategy", "fixed_size"), ("batch.bytes", "1MiB")],
            "batch.bytes",
        ),
        (
            &[("batch.strategy", "time_window"), ("batch.window", "5")],
            "with batch.strategy = time_window",
        ),
        (&[("batch.sync", "maybe")], "is not a boolean"),
        (
            &[("batch.strategy", "fixed_size"), ("batch.operations", "0")],
            "FixedSize must be at least 1",
        ),
        (
            &[
                ("batch.strategy", "adaptive"),
                ("batch.min_operations", "64"),
                ("batch.max_operations", "8"),
            ],
            "max_operations",
        ),
        (
            &[
                ("batch.retry.initial_backoff", "1s"),
                ("batch.retry.max_backoff", "1ms"),
            ],
            "max_backoff",
        ),
        (&[("batch.max_in_flight_bytes", "0")], "max_in_flight_bytes"),
    ];
    for (pairs, expected) in cases {
        let message =
            batch_invalid_argument_message(BatchWriterOptions::from_pairs(pairs.iter().copied()));
        assert!(message.contains(expected), "{pairs:?}: {message}");
    }
}
