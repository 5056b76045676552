//! The key table of [`Options`] and the text entry points of `Options`; the syntax and the table
//! of keys are documented for users on [`Options::from_config_file`]. Ranges stay in
//! [`Options::validate`].

use std::path::Path;
use std::time::Duration;

use super::text::{
    BOOLEAN_ACCEPTS, COUNT_ACCEPTS, DURATION_ACCEPTS, SIZE_ACCEPTS, Setting, count, from_file, from_pairs, from_text,
    parse_bool, parse_duration, set_key, size,
};
use crate::commit_policy::CommitPolicy;
use crate::error::Result;
use crate::options::{Options, WalRecoveryMode};
use crate::sstable::Compression;
#[cfg(doc)]
use crate::{BatchStrategy, BatchWriterOptions, RetryPolicy};

const WAL_RECOVERY_MODE_ACCEPTS: &str = "a WAL recovery mode; use tolerate_corrupted_tail_records, \
     absolute_consistency, point_in_time or skip_any_corrupted_records";
const COMPRESSION_ACCEPTS: &str = "a compression; use none or lz4";

/// Every key, in the order of the key table documented on [`Options::from_config_file`]. Adding
/// a key is one entry here, one row there, and one line in the round-trip test.
pub(super) const SETTINGS: &[Setting<Options>] = &[
    Setting {
        key: "create_if_missing",
        accepts: BOOLEAN_ACCEPTS,
        apply: |options, value| parse_bool(value).map(|parsed| options.create_if_missing = parsed),
    },
    Setting {
        key: "error_if_exists",
        accepts: BOOLEAN_ACCEPTS,
        apply: |options, value| parse_bool(value).map(|parsed| options.error_if_exists = parsed),
    },
    Setting {
        key: "sync_writes",
        accepts: BOOLEAN_ACCEPTS,
        apply: |options, value| parse_bool(value).map(|parsed| options.sync_writes = parsed),
    },
    Setting {
        key: "write_buffer_size",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.write_buffer_size = parsed),
    },
    Setting {
        key: "max_immutable_memtables",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.max_immutable_memtables = parsed),
    },
    Setting {
        key: "max_write_group_bytes",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.max_write_group_bytes = parsed),
    },
    Setting {
        key: "block_cache_capacity",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.block_cache_capacity = parsed),
    },
    Setting {
        key: "wal_recovery_mode",
        accepts: WAL_RECOVERY_MODE_ACCEPTS,
        apply: |options, value| {
            parse_wal_recovery_mode(value).map(|parsed| options.wal_recovery_mode = parsed)
        },
    },
    Setting {
        key: "level0_compaction_trigger",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| {
            count(value).map(|parsed| options.level0_compaction_trigger = parsed)
        },
    },
    Setting {
        key: "level0_size_percent_trigger",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| {
            count(value).map(|parsed| options.level0_size_percent_trigger = parsed)
        },
    },
    Setting {
        key: "level0_slowdown_trigger",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.level0_slowdown_trigger = parsed),
    },
    Setting {
        key: "level0_stop_trigger",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.level0_stop_trigger = parsed),
    },
    Setting {
        key: "level1_target_size",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.level1_target_size = parsed),
    },
    Setting {
        key: "level_size_multiplier",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.level_size_multiplier = parsed),
    },
    Setting {
        key: "target_file_size",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.target_file_size = parsed),
    },
    Setting {
        key: "dynamic_level_sizes",
        accepts: BOOLEAN_ACCEPTS,
        apply: |options, value| {
            parse_bool(value).map(|parsed| options.dynamic_level_sizes = parsed)
        },
    },
    Setting {
        key: "background_threads",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.background_threads = parsed),
    },
    Setting {
        key: "max_manifest_size",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.max_manifest_size = parsed),
    },
    Setting {
        key: "max_total_wal_size",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.max_total_wal_size = parsed),
    },
    Setting {
        key: "commit_token_retention.max_age",
        accepts: DURATION_ACCEPTS,
        apply: |options, value| {
            parse_duration(value).map(|parsed| options.commit_token_retention.max_age = parsed)
        },
    },
    Setting {
        key: "commit_token_retention.max_count",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| {
            count(value).map(|parsed| options.commit_token_retention.max_count = parsed)
        },
    },
    Setting {
        key: "table.block_size",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.table.block_size = parsed),
    },
    Setting {
        key: "table.restart_interval",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.table.restart_interval = parsed),
    },
    Setting {
        key: "table.bloom_bits_per_key",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| {
            count(value).map(|parsed| options.table.bloom_bits_per_key = parsed)
        },
    },
    Setting {
        key: "table.compression",
        accepts: COMPRESSION_ACCEPTS,
        apply: |options, value| {
            parse_compression(value).map(|parsed| options.table.compression = parsed)
        },
    },
    Setting {
        key: "commit.policy",
        accepts: "a commit policy; use immediate, window or adaptive",
        apply: |options, value| set_policy_kind(&mut options.commit_policy, value),
    },
    Setting {
        key: "commit.max_wait",
        accepts: "a duration (e.g. 1ms), with commit.policy = window",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Window { max_wait, .. } => {
                parse_duration(value).map(|parsed| *max_wait = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "commit.target_latency",
        accepts: "a duration (e.g. 2ms), with commit.policy = adaptive",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Adaptive { target_latency, .. } => {
                parse_duration(value).map(|parsed| *target_latency = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "commit.max_batches",
        accepts: "a count, with commit.policy = window or adaptive",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Window { max_batches, .. }
            | CommitPolicy::Adaptive { max_batches, .. } => {
                count(value).map(|parsed| *max_batches = parsed)
            }
            CommitPolicy::Immediate => None,
        },
    },
    Setting {
        key: "commit.max_bytes",
        accepts: "a size, with commit.policy = window or adaptive",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Window { max_bytes, .. } | CommitPolicy::Adaptive { max_bytes, .. } => {
                size(value).map(|parsed| *max_bytes = parsed)
            }
            CommitPolicy::Immediate => None,
        },
    },
];

/// Switches the policy's kind, keeping its caps where the new kind has them.
fn set_policy_kind(policy: &mut CommitPolicy, value: &str) -> Option<()> {
    // An immediate policy has no caps of its own: a new window or adaptive one starts from the
    // default caps.
    let (max_batches, max_bytes) = match *policy {
        CommitPolicy::Immediate => CommitPolicy::default().caps(0),
        current => current.caps(0),
    };
    *policy = match value {
        "immediate" => CommitPolicy::Immediate,
        "window" => CommitPolicy::Window {
            max_wait: Duration::from_millis(1),
            max_batches,
            max_bytes,
        },
        "adaptive" => match CommitPolicy::default() {
            CommitPolicy::Adaptive { target_latency, .. } => CommitPolicy::Adaptive {
                target_latency,
                max_batches,
                max_bytes,
            },
            other => other,
        },
        _ => return None,
    };
    Some(())
}

impl Options {
    /// Sets one key (see the key table of [`Options::from_config_file`]) from its text value.
    /// Only the syntax is checked here; call [`Options::validate`] once all keys are set, since
    /// a key's range can depend on another (`level0_stop_trigger` ≥ `level0_slowdown_trigger`).
    ///
    /// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the key and
    /// what it accepts, or, for an unknown key, naming the closest known key.
    ///
    /// ```
    /// use shaledb::{Error, Options};
    ///
    /// let mut options = Options::default();
    /// options.set("write_buffer_size", "16MiB")?;
    /// options.set("table.compression", "none")?;
    /// assert_eq!(options.write_buffer_size, 16 << 20);
    /// let Err(Error::InvalidArgument(message)) = options.set("write_bufer_size", "1MiB") else {
    ///     panic!("a misspelt key was accepted")
    /// };
    /// assert!(message.contains("write_buffer_size"), "{message}"); // the closest known key
    /// options.validate()?; // ranges are checked once every key is set
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        set_key(self, key, value)
    }

    /// Options from the defaults with each `(key, value)` pair applied in order (`commit.policy`
    /// first), then validated. A key given twice is refused: one of the two values would be
    /// silently ignored. `batch.*` keys are skipped: they configure a
    /// [`BatchWriter`](crate::BatchWriter).
    ///
    /// ```
    /// use shaledb::Options;
    ///
    /// let options = Options::from_pairs([("sync_writes", "false"), ("background_threads", "4")])?;
    /// assert!(!options.sync_writes);
    /// assert_eq!(options.background_threads, 4);
    /// assert!(Options::from_pairs([("sync_writes", "false"), ("sync_writes", "true")]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Options>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        from_pairs(pairs)
    }

    /// Options from the defaults with every `key = value` line of `text` applied (see the file
    /// syntax of [`Options::from_config_file`]), then validated. Errors about a line name its
    /// number, counted from 1. `batch.*` lines are skipped.
    ///
    /// ```
    /// use shaledb::Options;
    ///
    /// let options = Options::from_config_str("# tuned for tests\nwrite_buffer_size = 1MiB\n")?;
    /// assert_eq!(options.write_buffer_size, 1 << 20);
    /// let error = Options::from_config_str("sync_writes = true\nwrite_buffer_size = 64MB\n").unwrap_err();
    /// assert!(error.to_string().contains("line 2"), "{error}"); // decimal units are refused
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config_str(text: &str) -> Result<Options> {
        from_text(text)
    }

    /// Options from the text file at `path`, as [`Options::from_config_str`]; errors name the
    /// file. A file that cannot be read is [`Error::Io`](crate::Error::Io); one that is not
    /// UTF-8 is [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    ///
    /// One file can hold both kinds of keys: this skips the `batch.*` keys and
    /// [`BatchWriterOptions::from_config_file`] skips the others. A key that neither knows is
    /// an error in both, so a typo is never silently ignored.
    ///
    /// # File syntax
    ///
    /// One `key = value` per line. Everything after a `#` is a comment; blank lines are ignored;
    /// whitespace around keys and values is trimmed. A line without `=`, an unknown key, a value
    /// that does not parse, and a key given twice are errors naming the line number and the key.
    ///
    /// ```text
    /// # a small, write-heavy database
    /// write_buffer_size = 16MiB
    /// sync_writes = false
    /// wal_recovery_mode = point_in_time
    /// table.block_size = 16KiB
    /// table.compression = none
    /// level0_compaction_trigger = 8
    /// level0_slowdown_trigger = 24
    /// commit.policy = adaptive
    /// commit.target_latency = 2ms
    /// batch.strategy = time_window
    /// batch.window = 5ms
    /// ```
    ///
    /// # Value syntax
    ///
    /// - **size**: a whole number of bytes (`4096`), or a whole number with a binary unit `B`,
    ///   `KiB`, `MiB`, `GiB` or `TiB` (`64MiB`, `64 MiB`; units are case-insensitive). Decimal
    ///   units (`KB`, `MB`, `GB`, `TB`) are refused, because people write `64MB` meaning both
    ///   64 000 000 and 64 × 2²⁰; fractions (`1.5GiB`) are refused too. A size that overflows, or
    ///   that does not fit the field's type, is an error.
    /// - **count**: a whole number without unit.
    /// - **boolean**: `true` or `false`.
    /// - **duration** (for keys that take one): a whole number with a unit `ns`, `us` (or `µs`),
    ///   `ms`, `s`, `m` or `h` (`500us`, `10ms`, `2s`, `1m`). A plain number is refused: its unit
    ///   would be a guess.
    ///
    /// # Keys
    ///
    /// | key | value | field | default |
    /// |---|---|---|---|
    /// | `create_if_missing` | boolean | [`Options::create_if_missing`] | `true` |
    /// | `error_if_exists` | boolean | [`Options::error_if_exists`] | `false` |
    /// | `sync_writes` | boolean | [`Options::sync_writes`] | `true` |
    /// | `write_buffer_size` | size, 64 KiB ..= 4 GiB | [`Options::write_buffer_size`] | `64MiB` |
    /// | `max_immutable_memtables` | count, 1 ..= 64 | [`Options::max_immutable_memtables`] | `2` |
    /// | `max_write_group_bytes` | size, 1 KiB ..= 256 MiB | [`Options::max_write_group_bytes`] | `1MiB` |
    /// | `block_cache_capacity` | size, 0 disables | [`Options::block_cache_capacity`] | `64MiB` |
    /// | `wal_recovery_mode` | `tolerate_corrupted_tail_records`, `absolute_consistency`, `point_in_time`, `skip_any_corrupted_records` | [`Options::wal_recovery_mode`] | `tolerate_corrupted_tail_records` |
    /// | `level0_compaction_trigger` | count, 1 ..= 1024 | [`Options::level0_compaction_trigger`] | `4` |
    /// | `level0_size_percent_trigger` | count (percent), 0 ..= 10000, 0 disables | [`Options::level0_size_percent_trigger`] | `0` |
    /// | `level0_slowdown_trigger` | count, `level0_compaction_trigger` ..= 1024 | [`Options::level0_slowdown_trigger`] | `20` |
    /// | `level0_stop_trigger` | count, `level0_slowdown_trigger` ..= 1024 | [`Options::level0_stop_trigger`] | `36` |
    /// | `level1_target_size` | size, at least 1 KiB | [`Options::level1_target_size`] | `256MiB` |
    /// | `level_size_multiplier` | count, 2 ..= 1000 | [`Options::level_size_multiplier`] | `10` |
    /// | `target_file_size` | size, at least 1 KiB | [`Options::target_file_size`] | `64MiB` |
    /// | `dynamic_level_sizes` | boolean | [`Options::dynamic_level_sizes`] | `true` |
    /// | `background_threads` | count, 1 ..= 64 | [`Options::background_threads`] | `2` |
    /// | `max_manifest_size` | size, at least 4 KiB | [`Options::max_manifest_size`] | `16MiB` |
    /// | `max_total_wal_size` | size, at least 64 KiB | [`Options::max_total_wal_size`] | `256MiB` |
    /// | `commit_token_retention.max_age` | duration, at least 1 s | [`CommitTokenRetention::max_age`](crate::CommitTokenRetention::max_age) | `24h` |
    /// | `commit_token_retention.max_count` | count, at least 1 | [`CommitTokenRetention::max_count`](crate::CommitTokenRetention::max_count) | `1000000` |
    /// | `table.block_size` | size, 64 B ..= 16 MiB | [`TableOptions::block_size`](crate::TableOptions::block_size) | `4KiB` |
    /// | `table.restart_interval` | count, 1 ..= 1024 | [`TableOptions::restart_interval`](crate::TableOptions::restart_interval) | `16` |
    /// | `table.bloom_bits_per_key` | count, 0 ..= 64, 0 writes no filter | [`TableOptions::bloom_bits_per_key`](crate::TableOptions::bloom_bits_per_key) | `10` |
    /// | `table.compression` | `none`, `lz4` | [`TableOptions::compression`](crate::TableOptions::compression) | `lz4` |
    /// | `commit.policy` | `immediate`, `window`, `adaptive` (applied before the keys below, wherever it stands) | [`Options::commit_policy`] | `adaptive` |
    /// | `commit.max_wait` | duration, at most 1 s; with `window` | [`CommitPolicy::Window`] | `1ms` |
    /// | `commit.target_latency` | duration, at most 1 s; with `adaptive` | [`CommitPolicy::Adaptive`] | `2ms` |
    /// | `commit.max_batches` | count, at least 1; with `window` or `adaptive` | batches per group | `1024` |
    /// | `commit.max_bytes` | size, at least 1 KiB; with `window` or `adaptive` | bytes per group | `1MiB` |
    /// | `batch.strategy` | `fixed_size`, `time_window`, `memory_bound`, `adaptive`, `low_latency` (applied before the keys below, wherever it stands) | [`BatchWriterOptions::strategy`] | `low_latency` |
    /// | `batch.operations` | count, at least 1; with `fixed_size` | [`BatchStrategy::FixedSize`] | `1000` |
    /// | `batch.window` | duration, more than zero; with `time_window` | [`BatchStrategy::TimeWindow`] | `5ms` |
    /// | `batch.bytes` | size, at least 1 B; with `memory_bound` | [`BatchStrategy::MemoryBound`] | `1MiB` |
    /// | `batch.min_operations` | count, at least 1; with `adaptive` | [`BatchStrategy::Adaptive`] | `16` |
    /// | `batch.max_operations` | count, at least `batch.min_operations`; with `adaptive` | [`BatchStrategy::Adaptive`] | `4096` |
    /// | `batch.target_latency` | duration, more than zero; with `adaptive` | [`BatchStrategy::Adaptive`] | `2ms` |
    /// | `batch.max_in_flight_bytes` | size, at least 1 B | [`BatchWriterOptions::max_in_flight_bytes`] | `64MiB` |
    /// | `batch.sync` | boolean | [`BatchWriterOptions::sync`] | `true` |
    /// | `batch.retry.max_attempts` | count, at least 1 (1 = no retry) | [`RetryPolicy::max_attempts`] | `1` |
    /// | `batch.retry.initial_backoff` | duration | [`RetryPolicy::initial_backoff`] | `1ms` |
    /// | `batch.retry.max_backoff` | duration, at least `batch.retry.initial_backoff` | [`RetryPolicy::max_backoff`] | `100ms` |
    /// | `batch.retry.commit_tokens` | boolean | [`RetryPolicy::commit_tokens`] | `true` |
    ///
    /// Ranges are checked by [`Options::validate`] / [`BatchWriterOptions::validate`] once all
    /// keys are applied (by `from_pairs`, `from_config_str` and `from_config_file`); a single
    /// `set` only checks the syntax, because a range may depend on a key set later. A parameter
    /// of another kind of policy or strategy (`batch.window` with `batch.strategy = fixed_size`)
    /// is an error naming the kind it needs.
    ///
    /// ```
    /// let options = shaledb::Options::from_config_str(
    ///     "write_buffer_size = 16MiB  # small memtables\n\
    ///      table.compression = none\n",
    /// )?;
    /// assert_eq!(options.write_buffer_size, 16 << 20);
    /// assert_eq!(options.table.compression, shaledb::Compression::None);
    ///
    /// let text = "commit.policy = window\ncommit.max_wait = 500us\nbatch.strategy = fixed_size\n";
    /// let batching = shaledb::BatchWriterOptions::from_config_str(text)?;
    /// assert_eq!(batching.strategy, shaledb::BatchStrategy::FixedSize(1000));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Options> {
        from_file(path.as_ref())
    }
}

fn parse_wal_recovery_mode(text: &str) -> Option<WalRecoveryMode> {
    match text {
        "tolerate_corrupted_tail_records" => Some(WalRecoveryMode::TolerateCorruptedTailRecords),
        "absolute_consistency" => Some(WalRecoveryMode::AbsoluteConsistency),
        "point_in_time" => Some(WalRecoveryMode::PointInTime),
        "skip_any_corrupted_records" => Some(WalRecoveryMode::SkipAnyCorruptedRecords),
        _ => None,
    }
}

fn parse_compression(text: &str) -> Option<Compression> {
    match text {
        "none" => Some(Compression::None),
        "lz4" => Some(Compression::Lz4),
        _ => None,
    }
}
