//! `Options` (how a database is opened and tuned), `WriteOptions` and `ReadOptions` (per call),
//! and their validation, which names the offending field.

use crate::error::{Error, Result};
use crate::snapshot::Snapshot;
use crate::sstable::TableOptions;

/// What recovery does with damage found in a write-ahead log. The names follow RocksDB's
/// `WALRecoveryMode`, whose users know them.
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

/// How a database is opened and tuned. Start from `Options::default()` and change fields.
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
    /// Most bytes of batches one group commit writes to the log at once. Default 1 MiB.
    pub max_write_group_bytes: usize,
    /// Capacity of the block cache of decompressed SSTable blocks, in bytes. Default 64 MiB;
    /// 0 disables it.
    pub block_cache_capacity: usize,
    /// How SSTables are laid out: block size, restart interval, bloom filter bits per key,
    /// compression.
    pub table: TableOptions,
    /// What recovery does with damaged write-ahead logs.
    pub wal_recovery_mode: WalRecoveryMode,
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
            block_cache_capacity: 64 << 20,
            table: TableOptions::default(),
            wal_recovery_mode: WalRecoveryMode::default(),
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
    pub fn validate(&self) -> Result<()> {
        check_range(
            "write_buffer_size",
            self.write_buffer_size,
            64 << 10,
            4 << 30,
        )?;
        check_range(
            "max_immutable_memtables",
            self.max_immutable_memtables,
            1,
            64,
        )?;
        check_range(
            "max_write_group_bytes",
            self.max_write_group_bytes,
            1 << 10,
            256 << 20,
        )?;
        self.table.validate()?;
        Ok(())
    }
}

/// Per-write options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// `true`: the batch is on stable storage (fdatasync) when the write returns, and survives
    /// power loss. `false`: it is in the operating system's cache when the write returns, and
    /// survives a crash of the process but not of the machine.
    pub sync: bool,
}

impl WriteOptions {
    /// Synced writes.
    pub const SYNC: WriteOptions = WriteOptions { sync: true };
    /// Unsynced writes.
    pub const NO_SYNC: WriteOptions = WriteOptions { sync: false };
}

/// Per-read options.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions<'a> {
    /// Read the database as it was when this snapshot was taken; `None` reads the latest state.
    pub snapshot: Option<&'a Snapshot>,
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
