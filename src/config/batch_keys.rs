//! The key table of [`BatchWriterOptions`] (the `batch.*` rows of the key table documented on
//! [`Options::from_config_file`](crate::Options::from_config_file)) and its text entry points.
//! Ranges stay in [`BatchWriterOptions::validate`].

use std::path::Path;
use std::time::Duration;

use super::text::{
    BOOLEAN_ACCEPTS, COUNT_ACCEPTS, DURATION_ACCEPTS, SIZE_ACCEPTS, Setting, count, from_file,
    from_pairs, from_text, parse_bool, parse_duration, set_key, size,
};
use crate::batch_writer::{BatchStrategy, BatchWriterOptions};
use crate::error::Result;

/// The parameters a strategy starts with when `batch.strategy` selects it; the other keys
/// change them. They match the key table documented on `Options::from_config_file`.
const DEFAULT_FIXED_SIZE: usize = 1000;
const DEFAULT_WINDOW: Duration = Duration::from_millis(5);
const DEFAULT_MEMORY_BOUND: usize = 1 << 20;
const DEFAULT_MIN_OPERATIONS: usize = 16;
const DEFAULT_MAX_OPERATIONS: usize = 4096;
const DEFAULT_TARGET_LATENCY: Duration = Duration::from_millis(2);

/// Every `batch.*` key, in the order of the key table documented on `Options::from_config_file`.
pub(super) const SETTINGS: &[Setting<BatchWriterOptions>] = &[
    Setting {
        key: "batch.strategy",
        accepts: "a batching strategy; use fixed_size, time_window, memory_bound, adaptive or \
                  low_latency",
        apply: |options, value| set_strategy_kind(&mut options.strategy, value),
    },
    Setting {
        key: "batch.operations",
        accepts: "a count, with batch.strategy = fixed_size",
        apply: |options, value| match &mut options.strategy {
            BatchStrategy::FixedSize(operations) => count(value).map(|parsed| *operations = parsed),
            _ => None,
        },
    },
    Setting {
        key: "batch.window",
        accepts: "a duration (e.g. 5ms), with batch.strategy = time_window",
        apply: |options, value| match &mut options.strategy {
            BatchStrategy::TimeWindow(window) => {
                parse_duration(value).map(|parsed| *window = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "batch.bytes",
        accepts: "a size (e.g. 1MiB), with batch.strategy = memory_bound",
        apply: |options, value| match &mut options.strategy {
            BatchStrategy::MemoryBound(bytes) => size(value).map(|parsed| *bytes = parsed),
            _ => None,
        },
    },
    Setting {
        key: "batch.min_operations",
        accepts: "a count, with batch.strategy = adaptive",
        apply: |options, value| match &mut options.strategy {
            BatchStrategy::Adaptive { min_operations, .. } => {
                count(value).map(|parsed| *min_operations = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "batch.max_operations",
        accepts: "a count, with batch.strategy = adaptive",
        apply: |options, value| match &mut options.strategy {
            BatchStrategy::Adaptive { max_operations, .. } => {
                count(value).map(|parsed| *max_operations = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "batch.target_latency",
        accepts: "a duration (e.g. 2ms), with batch.strategy = adaptive",
        apply: |options, value| match &mut options.strategy {
            BatchStrategy::Adaptive { target_latency, .. } => {
                parse_duration(value).map(|parsed| *target_latency = parsed)
            }
            _ => None,
        },
    },
    Setting {
        key: "batch.max_in_flight_bytes",
        accepts: SIZE_ACCEPTS,
        apply: |options, value| size(value).map(|parsed| options.max_in_flight_bytes = parsed),
    },
    Setting {
        key: "batch.sync",
        accepts: BOOLEAN_ACCEPTS,
        apply: |options, value| parse_bool(value).map(|parsed| options.sync = parsed),
    },
    Setting {
        key: "batch.retry.max_attempts",
        accepts: COUNT_ACCEPTS,
        apply: |options, value| count(value).map(|parsed| options.retry.max_attempts = parsed),
    },
    Setting {
        key: "batch.retry.initial_backoff",
        accepts: DURATION_ACCEPTS,
        apply: |options, value| {
            parse_duration(value).map(|parsed| options.retry.initial_backoff = parsed)
        },
    },
    Setting {
        key: "batch.retry.max_backoff",
        accepts: DURATION_ACCEPTS,
        apply: |options, value| {
            parse_duration(value).map(|parsed| options.retry.max_backoff = parsed)
        },
    },
    Setting {
        key: "batch.retry.commit_tokens",
        accepts: BOOLEAN_ACCEPTS,
        apply: |options, value| {
            parse_bool(value).map(|parsed| options.retry.commit_tokens = parsed)
        },
    },
];

/// Switches the strategy's kind. Selecting the kind already set keeps its parameters; another
/// kind starts from the defaults of the key table.
fn set_strategy_kind(strategy: &mut BatchStrategy, value: &str) -> Option<()> {
    let selected = match value {
        "fixed_size" => BatchStrategy::FixedSize(DEFAULT_FIXED_SIZE),
        "time_window" => BatchStrategy::TimeWindow(DEFAULT_WINDOW),
        "memory_bound" => BatchStrategy::MemoryBound(DEFAULT_MEMORY_BOUND),
        "adaptive" => BatchStrategy::Adaptive {
            min_operations: DEFAULT_MIN_OPERATIONS,
            max_operations: DEFAULT_MAX_OPERATIONS,
            target_latency: DEFAULT_TARGET_LATENCY,
        },
        "low_latency" => BatchStrategy::LowLatency,
        _ => return None,
    };
    if std::mem::discriminant(strategy) != std::mem::discriminant(&selected) {
        *strategy = selected;
    }
    Some(())
}

impl BatchWriterOptions {
    /// Sets one `batch.*` key (see the key table of
    /// [`Options::from_config_file`](crate::Options::from_config_file)) from its text value.
    /// Only the syntax is checked here; call [`BatchWriterOptions::validate`] once all keys are
    /// set.
    ///
    /// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the key and
    /// what it accepts (a parameter of another strategy than the one set is refused), or, for
    /// an unknown key, naming the closest known key.
    ///
    /// ```
    /// use shaledb::{BatchStrategy, BatchWriterOptions};
    ///
    /// let mut options = BatchWriterOptions::default();
    /// options.set("batch.strategy", "fixed_size")?;
    /// options.set("batch.operations", "500")?;
    /// assert_eq!(options.strategy, BatchStrategy::FixedSize(500));
    /// assert!(options.set("batch.window", "5ms").is_err()); // a parameter of time_window
    /// options.validate()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        set_key(self, key, value)
    }

    /// Options from the defaults with each `(key, value)` pair applied in order
    /// (`batch.strategy` first), then validated. A key given twice is refused; keys of
    /// [`Options`](crate::Options) are skipped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use shaledb::{BatchStrategy, BatchWriterOptions};
    ///
    /// let options = BatchWriterOptions::from_pairs([
    ///     ("batch.window", "2ms"), // applied after batch.strategy, wherever it stands
    ///     ("batch.strategy", "time_window"),
    ///     ("write_buffer_size", "8MiB"), // an Options key: skipped
    /// ])?;
    /// assert_eq!(options.strategy, BatchStrategy::TimeWindow(Duration::from_millis(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<BatchWriterOptions>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        from_pairs(pairs)
    }

    /// Options from the defaults with every `batch.* = value` line of `text` applied (see the
    /// file syntax of [`Options::from_config_file`](crate::Options::from_config_file)), then
    /// validated; lines with keys of [`Options`](crate::Options) are skipped, so one file can
    /// configure both.
    ///
    /// ```
    /// use shaledb::{BatchWriterOptions, Options};
    ///
    /// let text = "sync_writes = false\nbatch.sync = false\nbatch.max_in_flight_bytes = 1MiB\n";
    /// let batching = BatchWriterOptions::from_config_str(text)?;
    /// let options = Options::from_config_str(text)?; // the same text configures both
    /// assert!(!batching.sync && !options.sync_writes);
    /// assert_eq!(batching.max_in_flight_bytes, 1 << 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config_str(text: &str) -> Result<BatchWriterOptions> {
        from_text(text)
    }

    /// Options from the text file at `path`, as [`BatchWriterOptions::from_config_str`]; errors
    /// name the file.
    ///
    /// ```
    /// use shaledb::{BatchStrategy, BatchWriterOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("shaledb.conf");
    /// std::fs::write(&path, "batch.strategy = memory_bound\nbatch.bytes = 256KiB\n")?;
    /// let options = BatchWriterOptions::from_config_file(&path)?;
    /// assert_eq!(options.strategy, BatchStrategy::MemoryBound(256 << 10));
    /// let missing = BatchWriterOptions::from_config_file(dir.path().join("missing.conf"));
    /// assert!(missing.unwrap_err().to_string().contains("missing.conf"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<BatchWriterOptions> {
        from_file(path.as_ref())
    }
}
