//! RocksDB as an [`Engine`] of `shale bench --compare` (only with the `compare-rocksdb`
//! feature): one database in the default column family, opened with the same settings as
//! shaledb (see [`SETTINGS`](super::SETTINGS)): the WAL on, the write buffer as
//! `write_buffer_size` with as many memtables as shaledb may hold, LZ4 on every level, a full
//! bloom filter of 10 bits per key, 4 KiB blocks, an LRU block cache of the same size, and three
//! background jobs (RocksDB gives one to flushes and two to compactions, as shaledb has).
//! Everything else keeps RocksDB's defaults, whose level shape (compaction of level 0 at four
//! files, 256 MiB in level 1, ten times more per level, 64 MiB tables) is also shaledb's.
//!
//! Durability: an unsynced write uses the default `WriteOptions` (`sync: false`), which writes
//! the WAL record to the operating system before it returns, as a shaledb write with
//! `sync: false` does. A synced write sets `sync: true`: RocksDB fdatasyncs the WAL before it
//! returns (`use_fsync` stays off), and shares that sync among the writers of one write group
//! (its own group commit).
//!
//! Reads avoid copies the other engines do not make either: `get` and `multi_get` use pinned
//! slices (`get_pinned`, `batched_multi_get_cf`, RocksDB's batched multi-key read), and `scan`
//! is a raw iterator's seek and nexts.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType,
    DEFAULT_COLUMN_FAMILY_NAME, Options, WaitForCompactOptions, WriteBatch, WriteOptions,
};

use super::{Engine, EngineKind, PutBatch};
use crate::cli::bench::config::BenchConfig;
use crate::cli::error::CliError;

/// Background jobs: RocksDB gives a quarter of them (at least one) to flushes, so three is one
/// flush thread and two compaction threads, shaledb's defaults.
const BACKGROUND_JOBS: i32 = 3;
/// How long `settle` waits at most before it reports a failure rather than hang.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

fn failed(error: rocksdb::Error) -> CliError {
    CliError::Failed(format!("rocksdb: {error}"))
}

/// An open RocksDB database and the write options of unsynced and synced writes.
pub struct RocksEngine {
    database: DB,
    unsynced: WriteOptions,
    synced: WriteOptions,
}

impl RocksEngine {
    /// Opens (or creates) a RocksDB database in `dir` with the settings of `config`.
    pub fn open(dir: &Path, config: &BenchConfig) -> Result<RocksEngine, CliError> {
        let options = rocks_options(config)?;
        // The default column family is opened by name so that `multi_get` has its handle for
        // the batched read; it gets the same options as the database.
        let column_family =
            ColumnFamilyDescriptor::new(DEFAULT_COLUMN_FAMILY_NAME, options.clone());
        let database = DB::open_cf_descriptors(&options, dir, [column_family]).map_err(failed)?;
        let mut synced = WriteOptions::default();
        synced.set_sync(true);
        Ok(RocksEngine {
            database,
            unsynced: WriteOptions::default(),
            synced,
        })
    }
}

/// RocksDB's options for `config`: the settings every engine of the comparison shares.
fn rocks_options(config: &BenchConfig) -> Result<Options, CliError> {
    let shale = config.db_options();
    let background_memtables = i32::try_from(shale.max_immutable_memtables)
        .map_err(|_| CliError::Usage("too many immutable memtables for RocksDB".into()))?;
    let mut table = BlockBasedOptions::default();
    table.set_block_size(shale.table.block_size);
    table.set_bloom_filter(f64::from(shale.table.bloom_bits_per_key), false);
    table.set_block_cache(&Cache::new_lru_cache(shale.block_cache_capacity));
    let mut options = Options::default();
    options.create_if_missing(true);
    options.set_write_buffer_size(shale.write_buffer_size);
    options.set_max_write_buffer_number(1 + background_memtables);
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_max_background_jobs(BACKGROUND_JOBS);
    options.set_block_based_table_factory(&table);
    Ok(options)
}

impl Engine for RocksEngine {
    fn name(&self) -> &'static str {
        EngineKind::Rocksdb.name()
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), CliError> {
        self.database
            .put_opt(key, value, &self.unsynced)
            .map_err(failed)
    }

    fn write(&self, batch: &PutBatch, sync: bool) -> Result<(), CliError> {
        let mut write_batch = WriteBatch::default();
        for (key, value) in batch.iter() {
            write_batch.put(key, value);
        }
        let options = if sync { &self.synced } else { &self.unsynced };
        self.database
            .write_opt(write_batch, options)
            .map_err(failed)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, CliError> {
        let value = self.database.get_pinned(key).map_err(failed)?;
        Ok(value.map(|value| black_box(value).len()))
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<u64, CliError> {
        let Some(column_family) = self.database.cf_handle(DEFAULT_COLUMN_FAMILY_NAME) else {
            return Err(CliError::Failed(
                "rocksdb: the default column family has no handle (a bug)".into(),
            ));
        };
        let mut found = 0;
        for value in self
            .database
            .batched_multi_get_cf(column_family, keys, false)
        {
            if black_box(value.map_err(failed)?).is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    fn scan(&self, from: &[u8], limit: usize) -> Result<(u64, u64), CliError> {
        let (mut entries, mut bytes) = (0, 0);
        let mut iterator = self.database.raw_iterator();
        iterator.seek(from);
        while entries < limit as u64 {
            let (Some(key), Some(value)) = (iterator.key(), iterator.value()) else {
                break;
            };
            entries += 1;
            bytes += (black_box(key).len() + black_box(value).len()) as u64;
            iterator.next();
        }
        // An iterator that stops early because of an error is no longer valid; its status
        // tells an error from the end of the data.
        iterator.status().map_err(failed)?;
        Ok((entries, bytes))
    }

    fn settle(&self) -> Result<(), CliError> {
        let mut options = WaitForCompactOptions::default();
        options.set_flush(true);
        options.set_timeout(SETTLE_TIMEOUT.as_micros() as u64);
        self.database.wait_for_compact(&options).map_err(|error| {
            CliError::Failed(format!(
                "rocksdb: waiting for flushes and compactions (at most {SETTLE_TIMEOUT:?}): \
                 {error}"
            ))
        })
    }

    fn close(self: Box<Self>) -> Result<(), CliError> {
        self.database.flush_wal(true).map_err(failed)?;
        // Dropping the database cancels its queued background work, waits for the running
        // jobs and closes its files.
        drop(self);
        Ok(())
    }
}
