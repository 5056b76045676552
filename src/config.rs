//! Configuration from text: [`Options`] built from `key = value` pairs, from a small text file,
//! or changed one key at a time with [`Options::set`].
//!
//! This module owns the mapping from key names to `Options` fields (one private table of key,
//! accepted values and setter) and the parsers of sizes, durations and booleans. It never
//! decides what a valid setting is beyond its syntax: the ranges and the relations between
//! fields (level-0 triggers in order, …) stay in [`Options::validate`], which every
//! whole-configuration entry point runs at the end, so a configuration from text can never be
//! more permissive than one built in code.
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
//! | `commit_policy` | `immediate`, `window`, `adaptive` (applied before the keys below, wherever it stands) | [`Options::commit_policy`] | `adaptive` |
//! | `commit_policy.max_wait` | duration, at most 1 s; with `window` | [`crate::CommitPolicy::Window`] | `1ms` |
//! | `commit_policy.target_latency` | duration, at most 1 s; with `adaptive` | [`crate::CommitPolicy::Adaptive`] | `2ms` |
//! | `commit_policy.max_batches` | count, at least 1; with `window` or `adaptive` | batches per group | `1024` |
//! | `commit_policy.max_bytes` | size, at least 1 KiB; with `window` or `adaptive` | bytes per group | `1MiB` |
//!
//! Ranges are checked by [`Options::validate`] once all keys are applied (by
//! [`Options::from_pairs`], [`Options::from_config_str`] and [`Options::from_config_file`]); a
//! single [`Options::set`] only checks the syntax, because a range may depend on a key set later.
//!
//! ```
//! let options = shaledb::Options::from_config_str(
//!     "write_buffer_size = 16MiB  # small memtables\n\
//!      table.compression = none\n",
//! )?;
//! assert_eq!(options.write_buffer_size, 16 << 20);
//! assert_eq!(options.table.compression, shaledb::sstable::Compression::None);
//! # Ok::<(), shaledb::Error>(())
//! ```

use std::path::Path;
use std::time::Duration;

use crate::commit_policy::CommitPolicy;
use crate::error::{Error, Result};
use crate::options::{Options, WalRecoveryMode};
use crate::sstable::Compression;

/// What a value of each kind looks like, for error messages.
const SIZE_ACCEPTS: &str = "a size; use bytes or a unit: KiB, MiB, GiB, TiB (e.g. 64MiB)";
const COUNT_ACCEPTS: &str = "a count; use a whole number (e.g. 4)";
const BOOLEAN_ACCEPTS: &str = "a boolean; use true or false";
const WAL_RECOVERY_MODE_ACCEPTS: &str = "a WAL recovery mode; use tolerate_corrupted_tail_records, \
     absolute_consistency, point_in_time or skip_any_corrupted_records";
const COMPRESSION_ACCEPTS: &str = "a compression; use none or lz4";

/// One configurable key: its name, what its value looks like (for error messages), and how it
/// is stored. `apply` returns `None` when the value does not parse or does not fit the field.
struct Setting {
    key: &'static str,
    accepts: &'static str,
    apply: fn(&mut Options, &str) -> Option<()>,
}

/// Every key, in the order of the table in the module documentation. Adding a key is one entry
/// here, one row there, and one line in the round-trip test.
const SETTINGS: &[Setting] = &[
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
        key: "commit_policy",
        accepts: "a commit policy; use immediate, window or adaptive",
        apply: |options, value| set_policy_kind(&mut options.commit_policy, value),
    },
    Setting {
        key: "commit_policy.max_wait",
        accepts: "a duration (e.g. 1ms), with commit_policy = window",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Window { max_wait, .. } => {
                parse_duration(value).map(|parsed| *max_wait = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "commit_policy.target_latency",
        accepts: "a duration (e.g. 2ms), with commit_policy = adaptive",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Adaptive { target_latency, .. } => {
                parse_duration(value).map(|parsed| *target_latency = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "commit_policy.max_batches",
        accepts: "a count, with commit_policy = window or adaptive",
        apply: |options, value| match &mut options.commit_policy {
            CommitPolicy::Window { max_batches, .. }
            | CommitPolicy::Adaptive { max_batches, .. } => {
                count(value).map(|parsed| *max_batches = parsed)
            }
            CommitPolicy::Immediate => None,
        },
    },
    Setting {
        key: "commit_policy.max_bytes",
        accepts: "a size, with commit_policy = window or adaptive",
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

/// Keys applied before all others, whatever their position: the parameters of a policy only
/// make sense once its kind is known.
fn applied_first(key: &str) -> bool {
    key == "commit_policy"
}

/// The names of every configurable key, in the order of the table in the module documentation.
pub fn keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|setting| setting.key)
}

impl Options {
    /// Sets one key (see the [key table](crate::config)) from its text value. Only the syntax
    /// is checked here; call [`Options::validate`] once all keys are set, since a key's range
    /// can depend on another (`level0_stop_trigger` ≥ `level0_slowdown_trigger`).
    ///
    /// Fails with [`Error::InvalidArgument`] naming the key and what it accepts, or, for an
    /// unknown key, naming the closest known key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let Some(setting) = SETTINGS.iter().find(|setting| setting.key == key) else {
            return Err(Error::InvalidArgument(unknown_key_message(key)));
        };
        (setting.apply)(self, value.trim()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{key}: {value:?} is not {accepts}",
                accepts = setting.accepts
            ))
        })
    }

    /// Options from the defaults with each `(key, value)` pair applied in order, then validated.
    /// A key given twice is refused: one of the two values would be silently ignored.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Options>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut options = Options::default();
        let mut seen: Vec<String> = Vec::new();
        let mut pairs: Vec<(K, V)> = pairs.into_iter().collect();
        pairs.sort_by_key(|(key, _)| !applied_first(key.as_ref().trim()));
        for (key, value) in pairs {
            let key = key.as_ref().trim();
            if seen.iter().any(|earlier| earlier == key) {
                return Err(Error::InvalidArgument(format!("{key}: given twice")));
            }
            options.set(key, value.as_ref())?;
            seen.push(key.to_string());
        }
        options.validate()?;
        Ok(options)
    }

    /// Options from the defaults with every `key = value` line of `text` applied (see the
    /// [file syntax](crate::config#file-syntax)), then validated. Errors about a line name its
    /// number, counted from 1.
    pub fn from_config_str(text: &str) -> Result<Options> {
        let mut options = Options::default();
        // (key, line number) of every key applied so far, to name both lines of a duplicate.
        let mut seen: Vec<(&str, usize)> = Vec::new();
        let mut lines: Vec<(usize, &str)> = text.lines().enumerate().collect();
        lines.sort_by_key(|(_, line)| {
            let key = line
                .split('#')
                .next()
                .unwrap_or("")
                .split('=')
                .next()
                .unwrap_or("");
            !applied_first(key.trim())
        });
        for (index, line) in lines {
            let line_number = index + 1;
            let Some((key, value)) = split_line(line, line_number)? else {
                continue;
            };
            if let Some((_, earlier)) = seen.iter().find(|(earlier_key, _)| *earlier_key == key) {
                return Err(Error::InvalidArgument(format!(
                    "line {line_number}: {key}: already set on line {earlier}"
                )));
            }
            options
                .set(key, value)
                .map_err(|error| prefix_message(error, &format!("line {line_number}")))?;
            seen.push((key, line_number));
        }
        options.validate()?;
        Ok(options)
    }

    /// Options from the text file at `path`, as [`Options::from_config_str`]; errors name the
    /// file. A file that cannot be read is [`Error::Io`]; one that is not UTF-8 is
    /// [`Error::InvalidArgument`].
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Options> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| Error::io(path, error))?;
        let text = String::from_utf8(bytes).map_err(|error| {
            Error::InvalidArgument(format!(
                "{}: not UTF-8 text (invalid byte at offset {})",
                path.display(),
                error.utf8_error().valid_up_to()
            ))
        })?;
        Options::from_config_str(&text)
            .map_err(|error| prefix_message(error, &path.display().to_string()))
    }
}

/// The key and value of one line, `None` for a blank or comment-only line.
fn split_line(line: &str, line_number: usize) -> Result<Option<(&str, &str)>> {
    let content = line
        .split_once('#')
        .map_or(line, |(before, _)| before)
        .trim();
    if content.is_empty() {
        return Ok(None);
    }
    let Some((key, value)) = content.split_once('=') else {
        return Err(Error::InvalidArgument(format!(
            "line {line_number}: {content:?} is not `key = value`"
        )));
    };
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "line {line_number}: no key before `=`"
        )));
    }
    Ok(Some((key, value)))
}

/// `error` with `prefix: ` in front of its message, when it is an invalid-argument error.
fn prefix_message(error: Error, prefix: &str) -> Error {
    match error {
        Error::InvalidArgument(message) => Error::InvalidArgument(format!("{prefix}: {message}")),
        other => other,
    }
}

/// The message for an unknown key, suggesting the closest known key when one is close.
fn unknown_key_message(key: &str) -> String {
    let closest = SETTINGS
        .iter()
        .map(|setting| (edit_distance(key, setting.key), setting.key))
        .min();
    let unprefixed = SETTINGS
        .iter()
        .find(|setting| setting.key.strip_prefix("table.") == Some(key));
    match (unprefixed, closest) {
        (Some(setting), _) => format!("{key}: unknown key; did you mean {}?", setting.key),
        (None, Some((distance, known))) if distance <= key.len().max(known.len()) / 3 => {
            format!("{key}: unknown key; did you mean {known}?")
        }
        _ => format!(
            "{key}: unknown key; known keys: {}",
            keys().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Levenshtein distance between two strings, in characters.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_char) in left.chars().enumerate() {
        let mut current = Vec::with_capacity(right.len() + 1);
        current.push(row + 1);
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != *right_char);
            let deletion = previous[column + 1] + 1;
            let insertion = current[column] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[right.len()]
}

/// A size converted to the field's integer type, `None` if it does not parse or fit.
fn size<T: TryFrom<u64>>(value: &str) -> Option<T> {
    T::try_from(parse_size(value)?).ok()
}

/// A count converted to the field's integer type, `None` if it does not parse or fit.
fn count<T: TryFrom<u64>>(value: &str) -> Option<T> {
    T::try_from(parse_whole_number(value)?).ok()
}

/// A whole decimal number of ASCII digits, `None` on anything else or on overflow.
fn parse_whole_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Splits `"64 MiB"` into `("64", "MiB")`: the leading digits and the trimmed rest.
fn split_number_and_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    (number, unit.trim())
}

/// Parses a size in bytes: a whole number, optionally followed by a binary unit `B`, `KiB`,
/// `MiB`, `GiB` or `TiB` (case-insensitive, optionally separated by spaces). `None` for anything
/// else, including decimal units (`MB`), fractions and values that overflow a `u64`.
///
/// ```
/// use shaledb::config::parse_size;
/// assert_eq!(parse_size("64MiB"), Some(64 << 20));
/// assert_eq!(parse_size("4096"), Some(4096));
/// assert_eq!(parse_size("64MB"), None);
/// ```
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = split_number_and_unit(text);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    parse_whole_number(number)?.checked_mul(multiplier)
}

/// Parses a duration: a whole number followed by a unit `ns`, `us` (or `µs`), `ms`, `s`, `m`
/// (minutes) or `h` (optionally separated by spaces). A plain number has no unit and gives
/// `None`, as does anything else or a value past `u64::MAX` nanoseconds (about 584 years).
///
/// ```
/// use std::time::Duration;
/// use shaledb::config::parse_duration;
/// assert_eq!(parse_duration("500us"), Some(Duration::from_micros(500)));
/// assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
/// assert_eq!(parse_duration("10"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = split_number_and_unit(text);
    let nanoseconds_per_unit: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    };
    let nanoseconds = parse_whole_number(number)?.checked_mul(nanoseconds_per_unit)?;
    Some(Duration::from_nanos(nanoseconds))
}

/// Parses `true` or `false`; `None` for anything else.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_the_documentation_table() {
        let source = include_str!("config.rs");
        for key in keys() {
            let row = format!("//! | `{key}` |");
            assert!(source.contains(&row), "{key} has no row in the key table");
        }
    }

    /// Every field of `Options` and `TableOptions` has a key: the field names are read from the
    /// pretty `Debug` output, so a new field fails this test until it gets a key.
    #[test]
    fn every_field_has_a_key() {
        let debug = format!("{:#?}", Options::default());
        let mut fields = Vec::new();
        let mut in_table = false;
        for line in debug.lines() {
            let Some((name, _)) = line.trim().split_once(':') else {
                continue;
            };
            let depth = line.len() - line.trim_start().len();
            match depth {
                4 => {
                    in_table = name == "table";
                    fields.push(name.to_string());
                }
                8 if in_table => fields.push(format!("table.{name}")),
                _ => {}
            }
        }
        assert!(fields.len() > 20, "{fields:?}");
        // The file system is code, not configuration.
        for field in fields.into_iter().filter(|field| field != "file_system") {
            let covered = keys().any(|key| key == field || key.starts_with(&format!("{field}.")));
            assert!(covered, "Options field {field} has no configuration key");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
