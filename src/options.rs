//! `Options` (how a database is opened and tuned), `WriteOptions` and `ReadOptions` (per call),
//! and their validation, which names the offending field.

use std::sync::Arc;
use std::time::Duration;

use crate::commit_policy::CommitPolicy;
use crate::error::{Error, Result};
use crate::keyspace_options::KeyspaceOptions;
use crate::snapshot::Snapshot;
use crate::sstable::TableOptions;
use crate::vfs::{FileSystem, OsFileSystem};

/// What recovery does with damage found in a write-ahead log. The names follow RocksDB's
/// `WALRecoveryMode`, whose users know them.
///
/// ```
/// use shaledb::{Db, Options, WalRecoveryMode};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"k", b"v")?;
/// db.close()?;
/// // Salvaging a damaged database: keep what precedes the first damage in its logs.
/// let salvage = Options { wal_recovery_mode: WalRecoveryMode::PointInTime, ..Options::default() };
/// let db = Db::open(dir.path(), salvage)?;
/// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
/// let from_text = Options::from_config_str("wal_recovery_mode = point_in_time")?;
/// assert_eq!(from_text.wal_recovery_mode, WalRecoveryMode::PointInTime);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalRecoveryMode {
    /// Accept a torn last record (a crash during an unacknowledged or unsynced write) and
    /// refuse to open on any other damage. The default.
    #[default]
    TolerateCorruptedTailRecords,
    /// Refuse to open on any damage, including a torn tail.
    AbsoluteConsistency,
    /// Recover up to the first damage and drop everything after it, in that log and in every
    /// later log: the database is as it was at some point in time, possibly missing recent
    /// writes.
    PointInTime,
    /// Skip every damaged record and keep going: may lose writes from the middle of the
    /// history. For salvaging data, not for normal operation.
    SkipAnyCorruptedRecords,
}

/// How a database is opened and tuned. Start from `Options::default()` and change fields, or
/// build it from `key = value` text: [`Options::from_config_file`] documents the syntax and
/// every key.
///
/// ```
/// let options = shaledb::Options {
///     write_buffer_size: 8 << 20,
///     ..shaledb::Options::default()
/// };
/// assert!(options.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the directory and an empty database if none exists. Default `true`.
    pub create_if_missing: bool,
    /// Fail to open if a database already exists. Default `false`.
    pub error_if_exists: bool,
    /// Default for [`WriteOptions::sync`]. Default `true`: an acknowledged write survives power
    /// loss. Group commit shares one fsync among concurrent writers, which keeps this affordable.
    pub sync_writes: bool,
    /// Bytes of writes a memtable takes before it is frozen and flushed to an L0 SSTable; also
    /// the size each write-ahead log file is preallocated to. Default 64 MiB.
    pub write_buffer_size: usize,
    /// Frozen memtables allowed to wait for their flush before writers wait too. Default 2.
    pub max_immutable_memtables: usize,
    /// Most bytes of batches one group commit writes to the log at once under
    /// `CommitPolicy::Immediate` (the other policies carry their own caps). Default 1 MiB.
    pub max_write_group_bytes: usize,
    /// How the leader of a group commit forms its group: commit at once, wait within a window,
    /// or adapt to a latency target (the default). See [`CommitPolicy`].
    pub commit_policy: CommitPolicy,
    /// Capacity of the block cache of decompressed SSTable blocks, in bytes. Default 64 MiB;
    /// 0 disables it.
    pub block_cache_capacity: usize,
    /// How SSTables are laid out: block size, restart interval, bloom filter bits per key,
    /// compression.
    pub table: TableOptions,
    /// What recovery does with damaged write-ahead logs.
    pub wal_recovery_mode: WalRecoveryMode,
    /// Level-0 files at which a compaction out of level 0 is due. Default 4.
    pub level0_compaction_trigger: usize,
    /// Level-0 bytes, in percent of the bytes in levels 1 to 3, at which a compaction out of
    /// level 0 is due once it holds two files — space amplification stays lower while the
    /// database is small, at the price of compacting more often (0, the default, disables).
    pub level0_size_percent_trigger: u64,
    /// Level-0 files from which each write group is delayed a little (more as the count grows),
    /// so that writers feel compaction debt before they outrun it. Default 20.
    pub level0_slowdown_trigger: usize,
    /// Level-0 files at which writes wait until compaction brings the count down. Default 36.
    pub level0_stop_trigger: usize,
    /// Target size of level 1 in bytes; each deeper level targets `level_size_multiplier`
    /// times the one above, and level 3, the last, has no bound. With `dynamic_level_sizes`
    /// (the default), the largest target of the base level instead. Default 256 MiB.
    pub level1_target_size: u64,
    /// Size ratio between consecutive levels. Default 10.
    pub level_size_multiplier: u64,
    /// Target size of one SSTable written by compaction, in bytes. Default 64 MiB.
    pub target_file_size: u64,
    /// Whether level targets follow the size of the last level (RocksDB's
    /// `level_compaction_dynamic_level_bytes`). Then level 3 holds what it holds, each level
    /// above targets a `level_size_multiplier`-th of the one below, and level 0 compacts into
    /// the *base level*: the highest level whose target is still over `level1_target_size`
    /// divided by the multiplier. While the data is small the base level is level 3 itself,
    /// and levels 1 and 2 stay empty. So the four levels suit any size of data and space
    /// amplification stays near 1.1. Off: level 1 targets `level1_target_size`, level 2 ten
    /// times that, level 3 the rest, whatever the size. Default true.
    pub dynamic_level_sizes: bool,
    /// Threads running compactions (flushes have their own). Default 2.
    pub background_threads: usize,
    /// Size in bytes past which the manifest is rewritten as a snapshot of the current state
    /// into a new file. Default 16 MiB.
    pub max_manifest_size: u64,
    /// Bytes of write-ahead logs past which the keyspaces whose unflushed writes keep the
    /// oldest log alive are flushed at the next log switch, so that a rarely written keyspace
    /// does not keep every log since its last flush (and make the next open replay them all).
    /// Default 256 MiB.
    pub max_total_wal_size: u64,
    /// How long, and how many, the commit tokens of [`Db::write_with_token`](crate::Db::write_with_token)
    /// are remembered, so that [`Db::was_committed`](crate::Db::was_committed) can answer for
    /// them. Default: a day, and at most a million tokens.
    pub commit_token_retention: CommitTokenRetention,
    /// The file system every file operation goes through. Default [`OsFileSystem`]; tests put
    /// a [`FaultFileSystem`](crate::vfs::FaultFileSystem) here to inject failures and power
    /// loss. Not settable from configuration text.
    pub file_system: Arc<dyn FileSystem>,
    /// How the default keyspace combines merge operands ([`Db::merge`](crate::Db::merge));
    /// `None` (the default) refuses merges. As
    /// [`KeyspaceOptions::merge_operator`]: once a merge is written, the database opens only
    /// with an operator of the same name. Not settable from configuration text.
    pub merge_operator: Option<crate::merge_operator::SharedMergeOperator>,
    /// The rule compactions of the default keyspace apply to its entries
    /// ([`KeyspaceOptions::compaction_filter`]). Not settable from configuration text.
    /// Default `None`.
    pub compaction_filter: Option<crate::compaction_filter::SharedCompactionFilter>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: true,
            error_if_exists: false,
            sync_writes: true,
            write_buffer_size: 64 << 20,
            max_immutable_memtables: 2,
            max_write_group_bytes: 1 << 20,
            commit_policy: CommitPolicy::default(),
            block_cache_capacity: 64 << 20,
            table: TableOptions::default(),
            wal_recovery_mode: WalRecoveryMode::default(),
            level0_compaction_trigger: 4,
            level0_size_percent_trigger: 0,
            level0_slowdown_trigger: 20,
            level0_stop_trigger: 36,
            level1_target_size: 256 << 20,
            level_size_multiplier: 10,
            target_file_size: 64 << 20,
            dynamic_level_sizes: true,
            background_threads: 2,
            max_manifest_size: 16 << 20,
            max_total_wal_size: 256 << 20,
            commit_token_retention: CommitTokenRetention::default(),
            file_system: Arc::new(OsFileSystem),
            merge_operator: None,
            compaction_filter: None,
        }
    }
}

impl Default for KeyspaceOptions {
    fn default() -> Self {
        KeyspaceOptions::from_options(&Options::default())
    }
}

impl KeyspaceOptions {
    /// The per-tree fields of `options`: what the default keyspace runs with.
    ///
    /// ```
    /// use shaledb::{KeyspaceOptions, Options};
    ///
    /// let options = Options { write_buffer_size: 8 << 20, ..Options::default() };
    /// assert_eq!(KeyspaceOptions::from_options(&options).write_buffer_size, 8 << 20);
    /// ```
    pub fn from_options(options: &Options) -> KeyspaceOptions {
        KeyspaceOptions {
            write_buffer_size: options.write_buffer_size,
            max_immutable_memtables: options.max_immutable_memtables,
            table: options.table.clone(),
            level0_compaction_trigger: options.level0_compaction_trigger,
            level0_size_percent_trigger: options.level0_size_percent_trigger,
            level0_slowdown_trigger: options.level0_slowdown_trigger,
            level0_stop_trigger: options.level0_stop_trigger,
            level1_target_size: options.level1_target_size,
            level_size_multiplier: options.level_size_multiplier,
            target_file_size: options.target_file_size,
            dynamic_level_sizes: options.dynamic_level_sizes,
            merge_operator: options.merge_operator.clone(),
            time_to_live: None,
            compaction_filter: options.compaction_filter.clone(),
        }
    }
}

fn check_range(field: &str, value: usize, minimum: usize, maximum: usize) -> Result<()> {
    if value < minimum || value > maximum {
        return Err(Error::InvalidArgument(format!(
            "Options::{field} is {value}; it must be between {minimum} and {maximum}"
        )));
    }
    Ok(())
}

impl Options {
    /// Checks every field; the error names the first field out of range.
    ///
    /// ```
    /// use shaledb::{Error, Options};
    ///
    /// assert!(Options::default().validate().is_ok());
    /// let backwards = Options { level0_stop_trigger: 10, level0_slowdown_trigger: 20, ..Options::default() };
    /// let Err(Error::InvalidArgument(message)) = backwards.validate() else { panic!("accepted") };
    /// assert!(message.contains("level0_stop_trigger"), "{message}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate(&self) -> Result<()> {
        KeyspaceOptions::from_options(self).validate_as("Options")?;
        check_range(
            "max_write_group_bytes",
            self.max_write_group_bytes,
            1 << 10,
            256 << 20,
        )?;
        self.commit_policy.validate()?;
        check_range("background_threads", self.background_threads, 1, 64)?;
        check_range(
            "max_manifest_size",
            self.max_manifest_size as usize,
            4 << 10,
            usize::MAX,
        )?;
        check_range(
            "max_total_wal_size",
            self.max_total_wal_size as usize,
            64 << 10,
            usize::MAX,
        )?;
        self.commit_token_retention.validate()?;
        Ok(())
    }
}

/// The window in which commit tokens are remembered ([`Options::commit_token_retention`]): a
/// token is forgotten once it is older than `max_age` (by the time its stamp names,
/// [`CommitToken::stamp_micros`](crate::CommitToken::stamp_micros)), or once more than
/// `max_count` newer tokens are remembered, whichever comes first. Within the window,
/// [`Db::was_committed`](crate::Db::was_committed) answers committed or not committed; past
/// it, unknown, and a write carrying such a token is refused (it could not be told apart from
/// a retry of one that did commit).
///
/// ```
/// use std::time::Duration;
/// use shaledb::{CommitTokenRetention, Options};
///
/// let hour = CommitTokenRetention { max_age: Duration::from_secs(3600), max_count: 100_000 };
/// let options = Options { commit_token_retention: hour, ..Options::default() };
/// assert!(options.validate().is_ok());
/// let none = CommitTokenRetention { max_count: 0, ..CommitTokenRetention::default() };
/// assert!(Options { commit_token_retention: none, ..Options::default() }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitTokenRetention {
    /// How long after its stamp a token is remembered. Default 24 hours; at least 1 second.
    pub max_age: Duration,
    /// How many tokens are remembered at most (the newest by stamp). Default 1,000,000; at
    /// least 1.
    pub max_count: u64,
}

impl Default for CommitTokenRetention {
    fn default() -> Self {
        CommitTokenRetention {
            max_age: Duration::from_secs(24 * 60 * 60),
            max_count: 1_000_000,
        }
    }
}

impl CommitTokenRetention {
    fn validate(&self) -> Result<()> {
        if self.max_age < Duration::from_secs(1) {
            return Err(Error::InvalidArgument(format!(
                "Options::commit_token_retention.max_age must be at least 1s, not {:?}",
                self.max_age
            )));
        }
        if self.max_count == 0 {
            return Err(Error::InvalidArgument(
                "Options::commit_token_retention.max_count must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Per-write options.
///
/// ```
/// use shaledb::{Db, Options, WriteBatch, WriteOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let mut batch = WriteBatch::new();
/// batch.put(b"cache-entry", b"rebuildable")?;
/// db.write(batch, &WriteOptions::NO_SYNC)?; // no fsync: fine for data that can be rebuilt
/// db.put_with(b"order", b"paid", &WriteOptions { sync: true })?; // on stable storage now
/// assert_eq!(WriteOptions::SYNC, WriteOptions { sync: true });
/// assert_eq!(db.stats().synced_groups, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// `true`: the batch is on stable storage (fdatasync) when the write returns, and survives
    /// power loss. `false`: it is in the operating system's cache when the write returns, and
    /// survives a crash of the process but not of the machine.
    pub sync: bool,
}

impl WriteOptions {
    /// Synced writes.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options { sync_writes: false, ..Options::default() })?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// db.write(batch, &WriteOptions::SYNC)?; // synced, whatever Options::sync_writes says
    /// assert_eq!(db.stats().synced_groups, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const SYNC: WriteOptions = WriteOptions { sync: true };
    /// Unsynced writes.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put_with(b"k", b"v", &WriteOptions::NO_SYNC)?; // no fdatasync: survives a process crash
    /// assert_eq!(db.stats().synced_groups, 0);
    /// db.sync_wal()?; // and now a power loss too
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const NO_SYNC: WriteOptions = WriteOptions { sync: false };
}

/// Per-read options.
///
/// ```
/// use shaledb::{Db, Options, ReadOptions};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// for key in [b"a", b"b", b"c", b"d"] {
///     db.put(key, b"")?;
/// }
/// let from_b_to_d = ReadOptions {
///     iterate_lower_bound: Some(b"b"),
///     iterate_upper_bound: Some(b"d"), // excluded
///     ..ReadOptions::default()
/// };
/// let keys: Vec<_> = db
///     .range_with(.., &from_b_to_d)
///     .map(|item| item.map(|(key, _)| key))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
/// // With a range too, the iterator keeps to both.
/// assert_eq!(db.range_with(b"c".as_slice().., &from_b_to_d).count(), 1);
/// assert_eq!(db.last_key_value_with(&from_b_to_d)?.map(|(key, _)| key), Some(b"c".to_vec()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions<'a> {
    /// Read the database as it was when this snapshot was taken; `None` reads the latest state.
    pub snapshot: Option<&'a Snapshot>,
    /// The smallest key an iterator may yield (included), as RocksDB's `iterate_lower_bound`:
    /// the iterator and its back end stop there without reading past it. Applies to
    /// iterators and to [`Db::first_key_value_with`](crate::Db::first_key_value_with) and
    /// [`Db::last_key_value_with`](crate::Db::last_key_value_with), together with the range
    /// given (the keys within both); not to point reads (`get`, `multi_get`,
    /// `contains_key`). Default `None`.
    pub iterate_lower_bound: Option<&'a [u8]>,
    /// The key before which an iterator stops (excluded), as RocksDB's
    /// `iterate_upper_bound`; otherwise as [`iterate_lower_bound`](Self::iterate_lower_bound).
    /// Default `None`.
    pub iterate_upper_bound: Option<&'a [u8]>,
    /// Keep blocks read from disk in the block cache. Turn off for large scans that would evict
    /// the working set. Default `true`.
    pub fill_cache: bool,
    /// Verify the checksum of every block read from disk (blocks found in the cache were verified
    /// when they were read). Default `true`.
    pub verify_checksums: bool,
}

impl Default for ReadOptions<'_> {
    fn default() -> Self {
        ReadOptions {
            snapshot: None,
            iterate_lower_bound: None,
            iterate_upper_bound: None,
            fill_cache: true,
            verify_checksums: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Options::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let options = Options {
            max_immutable_memtables: 0,
            ..Options::default()
        };
        let message = options.validate().unwrap_err().to_string();
        assert!(
            message.contains("Options::max_immutable_memtables is 0"),
            "{message}"
        );
        let mut options = Options::default();
        options.table.restart_interval = 0;
        let message = options.validate().unwrap_err().to_string();
        assert!(message.contains("restart_interval"), "{message}");
        let options = Options {
            write_buffer_size: 10,
            ..Options::default()
        };
        assert!(
            options
                .validate()
                .unwrap_err()
                .to_string()
                .contains("write_buffer_size")
        );
    }
}
