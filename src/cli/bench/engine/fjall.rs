//! fjall as an [`Engine`] of `shale bench --compare` (only with the `compare` feature): one
//! `Database` with one keyspace, opened with the same settings as shaledb (see
//! [`SETTINGS`](super::SETTINGS)): the journal on, the write buffer as the keyspace's
//! `max_memtable_size`, LZ4 on the data blocks of every level, 10 bloom bits per key on every
//! level, 4 KiB data blocks, and the block cache of the same size.
//!
//! Durability: an unsynced write is an `insert` (or a batch without durability), which flushes
//! the journal's buffer to the operating system, as a shaledb write with `sync: false` does. A
//! synced write is a batch committed with `PersistMode::SyncData`: the writing thread
//! fdatasyncs the journal under the journal's lock. fjall has no group commit, so concurrent
//! synced writers take turns; that is the difference `fillsync` measures.
//!
//! fjall has no multi-key read; `multi_get` is a loop of `get`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use fjall::config::{
    BlockSizePolicy, BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry,
};
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Engine, EngineKind, PutBatch};
use crate::cli::bench::config::BenchConfig;
use crate::cli::error::CliError;

/// The keyspace every benchmark write goes to.
const KEYSPACE: &str = "bench";
/// How often `settle` looks at fjall's background work.
const SETTLE_POLL: Duration = Duration::from_millis(10);
/// Consecutive idle looks after which `settle` believes compaction is done: fjall schedules a
/// compaction after a flush ends, so one idle look can fall between the two.
const SETTLE_IDLE_LOOKS: u32 = 20;
/// How long `settle` waits at most before it reports a failure rather than hang.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

fn failed(error: fjall::Error) -> CliError {
    CliError::Failed(format!("fjall: {error}"))
}

/// An open fjall database and its keyspace.
pub struct FjallEngine {
    database: Database,
    keyspace: Keyspace,
}

impl FjallEngine {
    /// Opens (or creates) a fjall database in `dir` with the settings of `config`.
    pub fn open(dir: &Path, config: &BenchConfig) -> Result<FjallEngine, CliError> {
        let options = config.db_options();
        let database = Database::builder(dir)
            .cache_size(options.block_cache_capacity as u64)
            .open()
            .map_err(failed)?;
        let keyspace_options = || {
            KeyspaceCreateOptions::default()
                .max_memtable_size(options.write_buffer_size as u64)
                .data_block_compression_policy(CompressionPolicy::all(CompressionType::Lz4))
                .filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(
                    BloomConstructionPolicy::BitsPerKey(options.table.bloom_bits_per_key as f32),
                )))
                .data_block_size_policy(BlockSizePolicy::all(options.table.block_size as u32))
        };
        let keyspace = database
            .keyspace(KEYSPACE, keyspace_options)
            .map_err(failed)?;
        Ok(FjallEngine { database, keyspace })
    }

    /// Whether fjall has a flush or compaction running or queued.
    fn busy(&self) -> bool {
        self.database.outstanding_flushes() > 0
            || self.database.active_compactions() > 0
            || self.keyspace.sealed_memtable_count() > 0
    }
}

impl Engine for FjallEngine {
    fn name(&self) -> &'static str {
        EngineKind::Fjall.name()
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), CliError> {
        self.keyspace.insert(key, value).map_err(failed)
    }

    fn write(&self, batch: &PutBatch, sync: bool) -> Result<(), CliError> {
        let mut write_batch = self
            .database
            .batch()
            .durability(sync.then_some(PersistMode::SyncData));
        for (key, value) in batch.iter() {
            write_batch.insert(&self.keyspace, key, value);
        }
        write_batch.commit().map_err(failed)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, CliError> {
        let value = self.keyspace.get(key).map_err(failed)?;
        Ok(value.map(|value| black_box(value).len()))
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<u64, CliError> {
        let mut found = 0;
        for key in keys {
            if self.get(key)?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    fn scan(&self, from: &[u8], limit: usize) -> Result<(u64, u64), CliError> {
        let (mut entries, mut bytes) = (0, 0);
        for guard in self.keyspace.range(from..).take(limit) {
            let (key, value) = guard.into_inner().map_err(failed)?;
            entries += 1;
            bytes += (black_box(key).len() + black_box(value).len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn settle(&self) -> Result<(), CliError> {
        self.keyspace.rotate_memtable_and_wait().map_err(failed)?;
        let start = Instant::now();
        let mut idle_looks = 0;
        while idle_looks < SETTLE_IDLE_LOOKS {
            if start.elapsed() > SETTLE_TIMEOUT {
                return Err(CliError::Failed(format!(
                    "fjall: flushes and compactions still running after {SETTLE_TIMEOUT:?}"
                )));
            }
            idle_looks = if self.busy() { 0 } else { idle_looks + 1 };
            std::thread::sleep(SETTLE_POLL);
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<(), CliError> {
        self.database
            .persist(PersistMode::SyncAll)
            .map_err(failed)?;
        // Dropping the last handle stops fjall's workers and waits for them.
        let FjallEngine { database, keyspace } = *self;
        drop(keyspace);
        drop(database);
        Ok(())
    }
}
