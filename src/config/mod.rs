//! Configuration from text: [`Options`] and [`BatchWriterOptions`] built from `key = value`
//! pairs, from a small text file, or changed one key at a time with [`Options::set`] /
//! [`BatchWriterOptions::set`].
//!
//! This module owns the syntax (lines, comments, sizes, durations, booleans) and the generic
//! steps every entry point shares (unknown-key suggestions, duplicates, keys applied first,
//! validation at the end); the tables mapping key names to fields live beside it, one per
//! options type (`options_keys.rs`, `batch_keys.rs`). It never decides what a valid setting is
//! beyond its syntax: ranges and relations between fields (level-0 triggers in order, …) stay
//! in [`Options::validate`] and [`BatchWriterOptions::validate`], which every
//! whole-configuration entry point runs at the end, so a configuration from text can never be
//! more permissive than one built in code.
//!
//! One file can hold both kinds of keys: [`Options::from_config_file`] skips the `batch.*` keys
//! and [`BatchWriterOptions::from_config_file`] skips the others. A key that neither table
//! knows is an error in both, so a typo is never silently ignored.
//!
//! # File syntax
//!
//! One `key = value` per line. Everything after a `#` is a comment; blank lines are ignored;
//! whitespace around keys and values is trimmed. A line without `=`, an unknown key, a value
//! that does not parse, and a key given twice are errors naming the line number and the key.
//!
//! ```text
//! # a small, write-heavy database
//! write_buffer_size = 16MiB
//! sync_writes = false
//! wal_recovery_mode = point_in_time
//! table.block_size = 16KiB
//! table.compression = none
//! level0_compaction_trigger = 8
//! level0_slowdown_trigger = 24
//! commit.policy = adaptive
//! commit.target_latency = 2ms
//! batch.strategy = time_window
//! batch.window = 5ms
//! ```
//!
//! # Value syntax
//!
//! - **size**: a whole number of bytes (`4096`), or a whole number with a binary unit `B`, `KiB`,
//!   `MiB`, `GiB` or `TiB` (`64MiB`, `64 MiB`; units are case-insensitive). Decimal units (`KB`,
//!   `MB`, `GB`, `TB`) are refused, because people write `64MB` meaning both 64 000 000
//!   and 64 × 2²⁰; fractions (`1.5GiB`) are refused too. A size that overflows, or that does not fit
//!   the field's type, is an error.
//! - **count**: a whole number without unit.
//! - **boolean**: `true` or `false`.
//! - **duration** (for keys that take one): a whole number with a unit `ns`, `us` (or `µs`), `ms`,
//!   `s`, `m` or `h` (`500us`, `10ms`, `2s`, `1m`). A plain number is refused: its unit would be a
//!   guess. Parsed by [`parse_duration`].
//!
//! # Keys
//!
//! | key | value | field | default |
//! |---|---|---|---|
//! | `create_if_missing` | boolean | [`Options::create_if_missing`] | `true` |
//! | `error_if_exists` | boolean | [`Options::error_if_exists`] | `false` |
//! | `sync_writes` | boolean | [`Options::sync_writes`] | `true` |
//! | `write_buffer_size` | size, 64 KiB ..= 4 GiB | [`Options::write_buffer_size`] | `64MiB` |
//! | `max_immutable_memtables` | count, 1 ..= 64 | [`Options::max_immutable_memtables`] | `2` |
//! | `max_write_group_bytes` | size, 1 KiB ..= 256 MiB | [`Options::max_write_group_bytes`] | `1MiB` |
//! | `block_cache_capacity` | size, 0 disables | [`Options::block_cache_capacity`] | `64MiB` |
//! | `wal_recovery_mode` | `tolerate_corrupted_tail_records`, `absolute_consistency`, `point_in_time`, `skip_any_corrupted_records` | [`Options::wal_recovery_mode`] | `tolerate_corrupted_tail_records` |
//! | `level0_compaction_trigger` | count, 1 ..= 1024 | [`Options::level0_compaction_trigger`] | `4` |
//! | `level0_size_percent_trigger` | count (percent), 0 ..= 10000, 0 disables | [`Options::level0_size_percent_trigger`] | `25` |
//! | `level0_slowdown_trigger` | count, `level0_compaction_trigger` ..= 1024 | [`Options::level0_slowdown_trigger`] | `20` |
//! | `level0_stop_trigger` | count, `level0_slowdown_trigger` ..= 1024 | [`Options::level0_stop_trigger`] | `36` |
//! | `level1_target_size` | size, at least 1 KiB | [`Options::level1_target_size`] | `256MiB` |
//! | `level_size_multiplier` | count, 2 ..= 1000 | [`Options::level_size_multiplier`] | `10` |
//! | `target_file_size` | size, at least 1 KiB | [`Options::target_file_size`] | `64MiB` |
//! | `background_threads` | count, 1 ..= 64 | [`Options::background_threads`] | `2` |
//! | `max_manifest_size` | size, at least 4 KiB | [`Options::max_manifest_size`] | `16MiB` |
//! | `table.block_size` | size, 64 B ..= 16 MiB | [`TableOptions::block_size`](crate::sstable::TableOptions::block_size) | `4KiB` |
//! | `table.restart_interval` | count, 1 ..= 1024 | [`TableOptions::restart_interval`](crate::sstable::TableOptions::restart_interval) | `16` |
//! | `table.bloom_bits_per_key` | count, 0 ..= 64, 0 writes no filter | [`TableOptions::bloom_bits_per_key`](crate::sstable::TableOptions::bloom_bits_per_key) | `10` |
//! | `table.compression` | `none`, `lz4` | [`TableOptions::compression`](crate::sstable::TableOptions::compression) | `lz4` |
//! | `commit.policy` | `immediate`, `window`, `adaptive` (applied before the keys below, wherever it stands) | [`Options::commit_policy`] | `adaptive` |
//! | `commit.max_wait` | duration, at most 1 s; with `window` | [`CommitPolicy::Window`] | `1ms` |
//! | `commit.target_latency` | duration, at most 1 s; with `adaptive` | [`CommitPolicy::Adaptive`] | `2ms` |
//! | `commit.max_batches` | count, at least 1; with `window` or `adaptive` | batches per group | `1024` |
//! | `commit.max_bytes` | size, at least 1 KiB; with `window` or `adaptive` | bytes per group | `1MiB` |
//! | `batch.strategy` | `fixed_size`, `time_window`, `memory_bound`, `adaptive`, `low_latency` (applied before the keys below, wherever it stands) | [`BatchWriterOptions::strategy`] | `low_latency` |
//! | `batch.operations` | count, at least 1; with `fixed_size` | [`BatchStrategy::FixedSize`] | `1000` |
//! | `batch.window` | duration, more than zero; with `time_window` | [`BatchStrategy::TimeWindow`] | `5ms` |
//! | `batch.bytes` | size, at least 1 B; with `memory_bound` | [`BatchStrategy::MemoryBound`] | `1MiB` |
//! | `batch.min_operations` | count, at least 1; with `adaptive` | [`BatchStrategy::Adaptive`] | `16` |
//! | `batch.max_operations` | count, at least `batch.min_operations`; with `adaptive` | [`BatchStrategy::Adaptive`] | `4096` |
//! | `batch.target_latency` | duration, more than zero; with `adaptive` | [`BatchStrategy::Adaptive`] | `2ms` |
//! | `batch.max_in_flight_bytes` | size, at least 1 B | [`BatchWriterOptions::max_in_flight_bytes`] | `64MiB` |
//! | `batch.sync` | boolean | [`BatchWriterOptions::sync`] | `true` |
//! | `batch.retry.max_attempts` | count, at least 1 (1 = no retry) | [`RetryPolicy::max_attempts`] | `1` |
//! | `batch.retry.initial_backoff` | duration | [`RetryPolicy::initial_backoff`] | `1ms` |
//! | `batch.retry.max_backoff` | duration, at least `batch.retry.initial_backoff` | [`RetryPolicy::max_backoff`] | `100ms` |
//!
//! Ranges are checked by [`Options::validate`] / [`BatchWriterOptions::validate`] once all keys
//! are applied (by `from_pairs`, `from_config_str` and `from_config_file`); a single `set` only
//! checks the syntax, because a range may depend on a key set later. A parameter of another kind
//! of policy or strategy (`batch.window` with `batch.strategy = fixed_size`) is an error naming
//! the kind it needs.
//!
//! ```
//! let options = shaledb::Options::from_config_str(
//!     "write_buffer_size = 16MiB  # small memtables\n\
//!      table.compression = none\n",
//! )?;
//! assert_eq!(options.write_buffer_size, 16 << 20);
//! assert_eq!(options.table.compression, shaledb::sstable::Compression::None);
//!
//! let text = "commit.policy = window\ncommit.max_wait = 500us\nbatch.strategy = fixed_size\n";
//! let batching = shaledb::BatchWriterOptions::from_config_str(text)?;
//! assert_eq!(batching.strategy, shaledb::BatchStrategy::FixedSize(1000));
//! # Ok::<(), shaledb::Error>(())
//! ```

mod batch_keys;
mod options_keys;
mod text;

use crate::batch_writer::BatchWriterOptions;
use crate::error::Result;
use crate::options::Options;

use text::{Configurable, Setting};
pub use text::{parse_bool, parse_duration, parse_size};

/// The names of every configurable key of [`Options`], in the order of the key table.
pub fn keys() -> impl Iterator<Item = &'static str> {
    options_keys::SETTINGS.iter().map(|setting| setting.key)
}

/// The names of every configurable key of [`BatchWriterOptions`], in the order of the key table.
pub fn batch_keys() -> impl Iterator<Item = &'static str> {
    batch_keys::SETTINGS.iter().map(|setting| setting.key)
}

/// Every key of both tables, for suggestions.
fn all_keys() -> impl Iterator<Item = &'static str> {
    keys().chain(batch_keys())
}

impl Configurable for Options {
    const SETTINGS: &'static [Setting<Self>] = options_keys::SETTINGS;

    fn is_other_key(key: &str) -> bool {
        batch_keys().any(|known| known == key)
    }

    fn applied_first(key: &str) -> bool {
        key == "commit.policy"
    }

    fn validate(&self) -> Result<()> {
        Options::validate(self)
    }

    fn all_keys() -> Vec<&'static str> {
        all_keys().collect()
    }
}

impl Configurable for BatchWriterOptions {
    const SETTINGS: &'static [Setting<Self>] = batch_keys::SETTINGS;

    fn is_other_key(key: &str) -> bool {
        keys().any(|known| known == key)
    }

    fn applied_first(key: &str) -> bool {
        key == "batch.strategy"
    }

    fn validate(&self) -> Result<()> {
        BatchWriterOptions::validate(self)
    }

    fn all_keys() -> Vec<&'static str> {
        all_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use text::edit_distance;

    #[test]
    fn every_key_is_in_the_documentation_table() {
        let source = include_str!("mod.rs");
        for key in all_keys() {
            let row = format!("//! | `{key}` |");
            assert!(source.contains(&row), "{key} has no row in the key table");
        }
    }

    /// The field names of a pretty `Debug` output of a struct: its own fields, and the fields
    /// of those named in `nested` as `outer.inner`.
    fn debug_fields(debug: &str, nested: &[&str]) -> Vec<String> {
        let mut fields = Vec::new();
        let mut outer: Option<String> = None;
        for line in debug.lines() {
            let Some((name, _)) = line.trim().split_once(':') else {
                continue;
            };
            match line.len() - line.trim_start().len() {
                4 => {
                    outer = nested.contains(&name).then(|| name.to_string());
                    fields.push(name.to_string());
                }
                8 => {
                    if let Some(outer) = &outer {
                        fields.push(format!("{outer}.{name}"));
                    }
                }
                _ => {}
            }
        }
        fields
    }

    /// Every field of `Options` and `TableOptions` has a key: the field names are read from the
    /// pretty `Debug` output, so a new field fails this test until it gets a key.
    #[test]
    fn every_field_has_a_key() {
        let fields = debug_fields(&format!("{:#?}", crate::Options::default()), &["table"]);
        assert!(fields.len() > 20, "{fields:?}");
        // The file system is code, not configuration.
        for field in fields.into_iter().filter(|field| field != "file_system") {
            // The commit policy's keys are `commit.*`, shorter than the field's name.
            let field = if field == "commit_policy" {
                "commit".to_string()
            } else {
                field
            };
            let covered = keys().any(|key| key == field || key.starts_with(&format!("{field}.")));
            assert!(covered, "Options field {field} has no configuration key");
        }
    }

    /// Every field of `BatchWriterOptions` and `RetryPolicy` has a `batch.*` key.
    #[test]
    fn every_batch_writer_field_has_a_key() {
        let debug = format!("{:#?}", crate::BatchWriterOptions::default());
        let fields = debug_fields(&debug, &["retry"]);
        assert!(fields.len() >= 6, "{fields:?}");
        for field in fields {
            let key = format!("batch.{field}");
            let covered =
                batch_keys().any(|known| known == key || known.starts_with(&format!("{key}.")));
            assert!(
                covered,
                "BatchWriterOptions field {field} has no configuration key"
            );
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
