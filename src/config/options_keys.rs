//! The key table of [`Options`] (see the [module documentation](super) for the syntax and the
//! table of keys) and the text entry points of `Options`. Ranges stay in [`Options::validate`].

use std::path::Path;
use std::time::Duration;

use super::text::{
    BOOLEAN_ACCEPTS, COUNT_ACCEPTS, SIZE_ACCEPTS, Setting, count, from_file, from_pairs, from_text,
    parse_bool, parse_duration, set_key, size,
};
use crate::commit_policy::CommitPolicy;
use crate::error::Result;
use crate::options::{Options, WalRecoveryMode};
use crate::sstable::Compression;

const WAL_RECOVERY_MODE_ACCEPTS: &str = "a WAL recovery mode; use tolerate_corrupted_tail_records, \
     absolute_consistency, point_in_time or skip_any_corrupted_records";
const COMPRESSION_ACCEPTS: &str = "a compression; use none or lz4";

/// Every key, in the order of the table in the module documentation. Adding a key is one entry
/// here, one row there, and one line in the round-trip test.
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
    /// Sets one key (see the [key table](crate::config)) from its text value. Only the syntax
    /// is checked here; call [`Options::validate`] once all keys are set, since a key's range
    /// can depend on another (`level0_stop_trigger` ≥ `level0_slowdown_trigger`).
    ///
    /// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the key and
    /// what it accepts, or, for an unknown key, naming the closest known key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        set_key(self, key, value)
    }

    /// Options from the defaults with each `(key, value)` pair applied in order (`commit.policy`
    /// first), then validated. A key given twice is refused: one of the two values would be
    /// silently ignored. `batch.*` keys are skipped: they configure a
    /// [`BatchWriter`](crate::BatchWriter).
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Options>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        from_pairs(pairs)
    }

    /// Options from the defaults with every `key = value` line of `text` applied (see the
    /// [file syntax](crate::config#file-syntax)), then validated. Errors about a line name its
    /// number, counted from 1. `batch.*` lines are skipped.
    pub fn from_config_str(text: &str) -> Result<Options> {
        from_text(text)
    }

    /// Options from the text file at `path`, as [`Options::from_config_str`]; errors name the
    /// file. A file that cannot be read is [`Error::Io`](crate::Error::Io); one that is not
    /// UTF-8 is [`Error::InvalidArgument`](crate::Error::InvalidArgument).
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
