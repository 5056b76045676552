//! Fuzz check for configuration from text (`src/config/`).
//!
//! `options_text` reads the input as UTF-8 text (other inputs are skipped) and uses it twice:
//! - as a configuration file for `Options::from_config_str`. It must not panic; an error must be
//!   `InvalidArgument`; an accepted file must give options that pass `Options::validate`, that
//!   do not change when the file's pairs are applied to them again, that `Options::from_pairs`
//!   gives from the same pairs, and that survive being written back as text and parsed again;
//! - as `key=value` lines for `Options::set`, one call per line on the same options, without
//!   trimming or comment handling. It must not panic; an error must be `InvalidArgument` naming
//!   the key; if the result validates, it must survive being written back as text.
//!
//! Writing options back as text uses [`RENDERERS`], one line per configuration key; a key that
//! `shaledb::config::keys()` lists without a renderer fails the check, so a new key (such as a
//! future `batch.*` key) is covered by adding its line there.

use shaledb::config::{batch_keys, keys};
use shaledb::{BatchWriterOptions, CommitPolicy, Compression, Error, Options, WalRecoveryMode};

/// Arbitrary text as a configuration file and as `Options::set` calls.
pub fn options_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_config_file(text);
    check_set_calls(text);
    check_batch_writer_config(text);
}

/// The same text configures a `BatchWriter` (its `batch.*` keys): accepted options validate
/// and `BatchWriterOptions::from_pairs` agrees with `BatchWriterOptions::from_config_str`.
fn check_batch_writer_config(text: &str) {
    let options = match BatchWriterOptions::from_config_str(text) {
        Ok(options) => options,
        Err(error) => return check_error(&error, None),
    };
    assert!(
        options.validate().is_ok(),
        "accepted batch writer options do not validate"
    );
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| {
            let content = line.split_once('#').map_or(line, |(before, _)| before);
            let (key, value) = content.trim().split_once('=')?;
            Some((key.trim(), value.trim()))
        })
        .collect();
    assert_eq!(
        BatchWriterOptions::from_pairs(pairs).ok(),
        Some(options),
        "BatchWriterOptions::from_pairs disagrees with from_config_str"
    );
}

fn check_config_file(text: &str) {
    let options = match Options::from_config_str(text) {
        Ok(options) => options,
        Err(error) => return check_error(&error, None),
    };
    assert!(
        options.validate().is_ok(),
        "accepted options do not validate"
    );
    let pairs = pairs_of(text);
    let mut again = options.clone();
    for (key, value) in &pairs {
        assert!(again.set(key, value).is_ok(), "re-applying {key} failed");
    }
    assert_eq!(
        snapshot(&again),
        snapshot(&options),
        "re-applying the pairs changed the options"
    );
    let from_pairs = Options::from_pairs(pairs.iter().copied());
    assert_eq!(
        from_pairs.as_ref().map(snapshot).ok(),
        Some(snapshot(&options)),
        "Options::from_pairs disagrees with Options::from_config_str"
    );
    check_text_round_trip(&options);
}

fn check_set_calls(text: &str) {
    let mut options = Options::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if let Err(error) = options.set(key, value) {
            check_error(&error, Some(key));
        }
    }
    if options.validate().is_ok() {
        check_text_round_trip(&options);
    }
}

/// A refused configuration is an `InvalidArgument` error with a message, naming `key` if given.
fn check_error(error: &Error, key: Option<&str>) {
    let Error::InvalidArgument(message) = error else {
        panic!("configuration text gave an error other than InvalidArgument: {error}");
    };
    assert!(!message.is_empty(), "an error without a message");
    if let Some(key) = key {
        assert!(message.contains(key), "the error does not name the key");
    }
}

/// The `(key, value)` pairs of an accepted configuration file, in the order they are applied:
/// `commit.policy` first, as `Options::from_config_str` does. The `batch.*` keys, which
/// `Options` skips, are left out.
fn pairs_of(text: &str) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| {
            let content = line.split_once('#').map_or(line, |(before, _)| before);
            let (key, value) = content.trim().split_once('=')?;
            Some((key.trim(), value.trim()))
        })
        .filter(|(key, _)| !batch_keys().any(|batch_key| batch_key == *key))
        .collect();
    pairs.sort_by_key(|(key, _)| *key != "commit.policy");
    pairs
}

/// Options written back as a configuration file parse to the same options.
fn check_text_round_trip(options: &Options) {
    let text = render(options);
    let parsed = Options::from_config_str(&text)
        .unwrap_or_else(|error| panic!("rendered options do not parse: {error}\n{text}"));
    assert_eq!(
        snapshot(&parsed),
        snapshot(options),
        "rendered options parse differently:\n{text}"
    );
}

/// Every field's value, for comparing options (`Options` has no `PartialEq`).
fn snapshot(options: &Options) -> String {
    format!("{options:?}")
}

/// Options as a configuration file, one line per key that applies to them.
fn render(options: &Options) -> String {
    let mut text = String::new();
    for key in keys() {
        let Some((_, renderer)) = RENDERERS.iter().find(|(name, _)| *name == key) else {
            panic!("configuration key {key} has no renderer in fuzz/checks/config.rs");
        };
        if let Some(value) = renderer(options) {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text
}

/// How each configuration key's value is written as text; `None` when the key does not apply
/// (a commit-policy parameter the current policy kind does not have).
type Renderer = fn(&Options) -> Option<String>;

/// One line per key of `shaledb::config::keys()`.
const RENDERERS: &[(&str, Renderer)] = &[
    ("create_if_missing", |o| {
        Some(o.create_if_missing.to_string())
    }),
    ("error_if_exists", |o| Some(o.error_if_exists.to_string())),
    ("sync_writes", |o| Some(o.sync_writes.to_string())),
    ("write_buffer_size", |o| {
        Some(o.write_buffer_size.to_string())
    }),
    ("max_immutable_memtables", |o| {
        Some(o.max_immutable_memtables.to_string())
    }),
    ("max_write_group_bytes", |o| {
        Some(o.max_write_group_bytes.to_string())
    }),
    ("block_cache_capacity", |o| {
        Some(o.block_cache_capacity.to_string())
    }),
    ("wal_recovery_mode", |o| {
        Some(wal_recovery_mode(o.wal_recovery_mode).into())
    }),
    ("level0_compaction_trigger", |o| {
        Some(o.level0_compaction_trigger.to_string())
    }),
    ("level0_size_percent_trigger", |o| {
        Some(o.level0_size_percent_trigger.to_string())
    }),
    ("level0_slowdown_trigger", |o| {
        Some(o.level0_slowdown_trigger.to_string())
    }),
    ("level0_stop_trigger", |o| {
        Some(o.level0_stop_trigger.to_string())
    }),
    ("level1_target_size", |o| {
        Some(o.level1_target_size.to_string())
    }),
    ("level_size_multiplier", |o| {
        Some(o.level_size_multiplier.to_string())
    }),
    ("dynamic_level_sizes", |o| {
        Some(o.dynamic_level_sizes.to_string())
    }),
    ("target_file_size", |o| Some(o.target_file_size.to_string())),
    ("background_threads", |o| {
        Some(o.background_threads.to_string())
    }),
    ("max_manifest_size", |o| {
        Some(o.max_manifest_size.to_string())
    }),
    ("max_total_wal_size", |o| {
        Some(o.max_total_wal_size.to_string())
    }),
    ("commit_token_retention.max_age", |o| {
        Some(format!("{}ns", o.commit_token_retention.max_age.as_nanos()))
    }),
    ("commit_token_retention.max_count", |o| {
        Some(o.commit_token_retention.max_count.to_string())
    }),
    ("table.block_size", |o| Some(o.table.block_size.to_string())),
    ("table.restart_interval", |o| {
        Some(o.table.restart_interval.to_string())
    }),
    ("table.bloom_bits_per_key", |o| {
        Some(o.table.bloom_bits_per_key.to_string())
    }),
    ("table.compression", |o| {
        Some(compression(o.table.compression).into())
    }),
    ("commit.policy", |o| {
        Some(policy_kind(&o.commit_policy).into())
    }),
    ("commit.max_wait", |o| match o.commit_policy {
        CommitPolicy::Window { max_wait, .. } => Some(format!("{}ns", max_wait.as_nanos())),
        _ => None,
    }),
    ("commit.target_latency", |o| match o.commit_policy {
        CommitPolicy::Adaptive { target_latency, .. } => {
            Some(format!("{}ns", target_latency.as_nanos()))
        }
        _ => None,
    }),
    ("commit.max_batches", |o| match o.commit_policy {
        CommitPolicy::Window { max_batches, .. } | CommitPolicy::Adaptive { max_batches, .. } => {
            Some(max_batches.to_string())
        }
        CommitPolicy::Immediate => None,
    }),
    ("commit.max_bytes", |o| match o.commit_policy {
        CommitPolicy::Window { max_bytes, .. } | CommitPolicy::Adaptive { max_bytes, .. } => {
            Some(max_bytes.to_string())
        }
        CommitPolicy::Immediate => None,
    }),
];

fn wal_recovery_mode(mode: WalRecoveryMode) -> &'static str {
    match mode {
        WalRecoveryMode::TolerateCorruptedTailRecords => "tolerate_corrupted_tail_records",
        WalRecoveryMode::AbsoluteConsistency => "absolute_consistency",
        WalRecoveryMode::PointInTime => "point_in_time",
        WalRecoveryMode::SkipAnyCorruptedRecords => "skip_any_corrupted_records",
    }
}

fn compression(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
    }
}

fn policy_kind(policy: &CommitPolicy) -> &'static str {
    match policy {
        CommitPolicy::Immediate => "immediate",
        CommitPolicy::Window { .. } => "window",
        CommitPolicy::Adaptive { .. } => "adaptive",
    }
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[("options_text", options_text)];
