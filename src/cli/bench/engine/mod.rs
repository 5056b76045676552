//! The storage engines `shale bench` can drive, behind one small trait, so that every timed
//! loop is written once and runs unchanged on shaledb and on its peers: fjall with the `compare`
//! feature, RocksDB with `compare-rocksdb` (each peer is one more implementation of [`Engine`]).
//!
//! The trait holds only what the db_bench-style workloads need: unsynced puts, batches with or
//! without a durable sync, point reads, multi-key reads, a forward scan, "flush and wait for
//! compaction", and close. Reads return value lengths rather than values, so that no engine
//! pays for a copy the others do not; the value itself stays alive behind `black_box` inside
//! each implementation.
//!
//! Invariant: every engine is opened from the same [`BenchConfig`] with the same settings (WAL
//! on, write buffer, LZ4, 10 bloom bits per key, 4 KiB blocks, block cache size); the mapping of
//! each setting is [`SETTINGS`], which `shale bench --help` and the README repeat.

#[cfg(feature = "compare")]
mod fjall;
#[cfg(feature = "compare-rocksdb")]
mod rocksdb;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use shaledb::{Db, Options, WriteBatch, WriteOptions};

use crate::cli::bench::config::BenchConfig;
use crate::cli::error::CliError;

/// One shared setting and how each engine is given it, as printed by `shale bench --compare`.
#[derive(Debug)]
pub struct Setting {
    /// What is shared.
    pub name: &'static str,
    /// How each engine gets it, in the order of [`SETTING_ENGINES`].
    pub per_engine: [&'static str; SETTING_ENGINES.len()],
}

/// The engines the columns of [`SETTINGS`] belong to, whether or not this build has them.
pub const SETTING_ENGINES: [&str; 3] = ["shaledb", "fjall", "rocksdb"];

impl Setting {
    /// How `engine` gets this setting.
    pub fn for_engine(&self, engine: EngineKind) -> &'static str {
        SETTING_ENGINES
            .iter()
            .position(|name| *name == engine.name())
            .and_then(|index| self.per_engine.get(index))
            .copied()
            .unwrap_or("?")
    }
}

/// How each shared setting maps to each engine, as printed by `shale bench --compare`.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "write-ahead log",
        per_engine: ["always on", "journal always on", "WAL on (the default)"],
    },
    Setting {
        name: "unsynced write",
        per_engine: [
            "WriteOptions { sync: false }: in the OS cache",
            "insert / batch commit: journal flushed to the OS",
            "WriteOptions::default() (sync false): WAL written to the OS",
        ],
    },
    Setting {
        name: "synced write",
        per_engine: [
            "WriteOptions::SYNC (fdatasync, group commit)",
            "batch.durability(Some(PersistMode::SyncData))",
            "WriteOptions::set_sync(true) (fdatasync, write groups)",
        ],
    },
    Setting {
        name: "write buffer",
        per_engine: [
            "Options::write_buffer_size",
            "KeyspaceCreateOptions::max_memtable_size",
            "write_buffer_size; max_write_buffer_number = 3",
        ],
    },
    Setting {
        name: "compression",
        per_engine: [
            "TableOptions::compression = Lz4",
            "data_block_compression_policy = all(Lz4)",
            "set_compression_type(Lz4): every level",
        ],
    },
    Setting {
        name: "bloom filter",
        per_engine: [
            "TableOptions::bloom_bits_per_key = 10",
            "filter_policy = all(Bloom(BitsPerKey(10.0)))",
            "BlockBasedOptions::set_bloom_filter(10.0, false)",
        ],
    },
    Setting {
        name: "block size",
        per_engine: [
            "TableOptions::block_size = 4096",
            "data_block_size_policy = all(4096)",
            "BlockBasedOptions::set_block_size(4096)",
        ],
    },
    Setting {
        name: "block cache",
        per_engine: [
            "Options::block_cache_capacity",
            "Database::builder().cache_size",
            "Cache::new_lru_cache(same bytes)",
        ],
    },
    Setting {
        name: "background threads",
        per_engine: [
            "background_threads = 2 (compaction) + 1 flush thread",
            "worker_threads = min(cores, 4) (flush and compaction)",
            "max_background_jobs = 3 (1 flush + 2 compaction)",
        ],
    },
    Setting {
        name: "multi-key read",
        per_engine: ["Db::multi_get", "a loop of get", "batched_multi_get_cf"],
    },
];

/// The engines this build can run, in the order `--compare` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// This crate.
    Shaledb,
    /// fjall, the closest pure-Rust peer.
    #[cfg(feature = "compare")]
    Fjall,
    /// RocksDB, through the rocksdb crate (C++).
    #[cfg(feature = "compare-rocksdb")]
    Rocksdb,
}

impl EngineKind {
    /// Every engine of this build; shaledb first.
    pub fn all() -> Vec<EngineKind> {
        vec![
            EngineKind::Shaledb,
            #[cfg(feature = "compare")]
            EngineKind::Fjall,
            #[cfg(feature = "compare-rocksdb")]
            EngineKind::Rocksdb,
        ]
    }

    /// The engine's name in tables and JSON, also its directory under the benchmark's.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Shaledb => "shaledb",
            #[cfg(feature = "compare")]
            EngineKind::Fjall => "fjall",
            #[cfg(feature = "compare-rocksdb")]
            EngineKind::Rocksdb => "rocksdb",
        }
    }

    /// Opens (or creates) this engine's database in `dir` with the settings of `config`.
    pub fn open(self, dir: &Path, config: &BenchConfig) -> Result<Box<dyn Engine>, CliError> {
        match self {
            EngineKind::Shaledb => Ok(Box::new(ShaleEngine::open(dir, config.db_options())?)),
            #[cfg(feature = "compare")]
            EngineKind::Fjall => Ok(Box::new(self::fjall::FjallEngine::open(dir, config)?)),
            #[cfg(feature = "compare-rocksdb")]
            EngineKind::Rocksdb => Ok(Box::new(self::rocksdb::RocksEngine::open(dir, config)?)),
        }
    }
}

/// Puts of one batch, engine-neutral: the keys and values are copied in once, and each engine
/// copies them into its own batch type when it writes.
#[derive(Debug, Default)]
pub struct PutBatch {
    bytes: Vec<u8>,
    /// `(key start, key end, value end)` into `bytes`; the value starts at the key's end.
    entries: Vec<(usize, usize, usize)>,
}

impl PutBatch {
    /// Adds a put of `key` = `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.entries.push((start, key_end, self.bytes.len()));
    }

    /// The puts in the order they were added, as `(key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(|&(start, key_end, value_end)| {
            (&self.bytes[start..key_end], &self.bytes[key_end..value_end])
        })
    }
}

/// One open database of some engine, shared by the benchmark's threads.
pub trait Engine: Send + Sync {
    /// The engine's name, as [`EngineKind::name`].
    fn name(&self) -> &'static str;
    /// Puts `key` = `value` without waiting for a sync (the WAL still gets the write).
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), CliError>;
    /// Writes `batch` atomically; with `sync`, it is on stable storage when this returns.
    fn write(&self, batch: &PutBatch, sync: bool) -> Result<(), CliError>;
    /// The length of `key`'s value, or `None` if the key is absent.
    fn get(&self, key: &[u8]) -> Result<Option<usize>, CliError>;
    /// How many of `keys` are present, read in one call where the engine has one.
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<u64, CliError>;
    /// Reads up to `limit` entries from `from` on; returns how many and their bytes.
    fn scan(&self, from: &[u8], limit: usize) -> Result<(u64, u64), CliError>;
    /// Flushes the memtable and waits until background compaction has nothing left to do.
    fn settle(&self) -> Result<(), CliError>;
    /// Closes the database, waiting for its background work; the directory can be reopened.
    fn close(self: Box<Self>) -> Result<(), CliError>;
}

/// shaledb as an [`Engine`]: a thin layer over [`Db`], sharing it with the caller (the
/// single-engine benchmark keeps its own handle for statistics and amplification).
pub struct ShaleEngine {
    db: Arc<Db>,
}

impl ShaleEngine {
    /// Opens the database in `dir` with `options`.
    pub fn open(dir: &Path, options: Options) -> Result<ShaleEngine, CliError> {
        Ok(ShaleEngine {
            db: Arc::new(Db::open(dir, options)?),
        })
    }

    /// Wraps an open database.
    pub fn new(db: Arc<Db>) -> ShaleEngine {
        ShaleEngine { db }
    }
}

impl Engine for ShaleEngine {
    fn name(&self) -> &'static str {
        EngineKind::Shaledb.name()
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), CliError> {
        Ok(self.db.put(key, value)?)
    }

    fn write(&self, batch: &PutBatch, sync: bool) -> Result<(), CliError> {
        let mut write_batch = WriteBatch::new();
        for (key, value) in batch.iter() {
            write_batch.put(key, value)?;
        }
        let options = if sync {
            WriteOptions::SYNC
        } else {
            WriteOptions::NO_SYNC
        };
        Ok(self.db.write(write_batch, &options)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, CliError> {
        Ok(self.db.get(key)?.map(|value| black_box(value).len()))
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<u64, CliError> {
        let values = black_box(self.db.multi_get(keys)?);
        Ok(values.iter().filter(|value| value.is_some()).count() as u64)
    }

    fn scan(&self, from: &[u8], limit: usize) -> Result<(u64, u64), CliError> {
        let (mut entries, mut bytes) = (0, 0);
        for item in self.db.range(from..).take(limit) {
            let (key, value) = item?;
            entries += 1;
            bytes += (black_box(key).len() + black_box(value).len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn settle(&self) -> Result<(), CliError> {
        self.db.flush()?;
        Ok(self.db.wait_for_compaction()?)
    }

    fn close(self: Box<Self>) -> Result<(), CliError> {
        Ok(self.db.close()?)
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test fails on the first error, which unwrap shows"
)]
mod tests {
    use super::*;
    use crate::cli::bench::config::{BenchConfig, default_args};

    fn small_config() -> BenchConfig {
        let mut arguments = default_args().unwrap();
        arguments.write_buffer_size = 64 << 10;
        BenchConfig::from_args(&arguments).unwrap()
    }

    /// What every engine must do for the workloads to measure the right work: unsynced and
    /// synced writes are readable, absent keys are absent, scans start at their key and stop at
    /// their limit, and everything survives settle, close and reopen.
    fn check_contract(kind: EngineKind) {
        let config = small_config();
        let dir = tempfile::tempdir().unwrap();
        let key = |number: u32| format!("{number:08}").into_bytes();
        let engine = kind.open(dir.path(), &config).unwrap();
        assert_eq!(engine.name(), kind.name());
        for number in (0..2_000).step_by(2) {
            engine.put(&key(number), &[7u8; 100]).unwrap();
        }
        let mut batch = PutBatch::default();
        for number in (2_000..2_100).step_by(2) {
            batch.put(&key(number), &[8u8; 50]);
        }
        engine.write(&batch, true).unwrap();
        engine.settle().unwrap();
        assert_eq!(engine.get(&key(10)).unwrap(), Some(100), "{}", kind.name());
        assert_eq!(
            engine.get(&key(2_050)).unwrap(),
            Some(50),
            "{}",
            kind.name()
        );
        assert_eq!(engine.get(&key(11)).unwrap(), None, "{}", kind.name());
        let keys = vec![key(0), key(1), key(1_998), key(2_098), key(5_000)];
        assert_eq!(engine.multi_get(&keys).unwrap(), 3, "{}", kind.name());
        assert_eq!(
            engine.scan(&key(1), 3).unwrap(),
            (3, 3 * 108),
            "{}",
            kind.name()
        );
        assert_eq!(
            engine.scan(&key(2_097), 10).unwrap(),
            (1, 58),
            "{}",
            kind.name()
        );
        engine.close().unwrap();
        let engine = kind.open(dir.path(), &config).unwrap();
        assert_eq!(
            engine.get(&key(2_098)).unwrap(),
            Some(50),
            "{}",
            kind.name()
        );
        assert_eq!(
            engine.scan(&key(0), 5_000).unwrap().0,
            1_050,
            "{}",
            kind.name()
        );
        engine.close().unwrap();
    }

    #[test]
    fn every_engine_of_this_build_keeps_the_contract() {
        for kind in EngineKind::all() {
            check_contract(kind);
        }
    }

    #[test]
    fn every_engine_of_this_build_has_a_settings_column() {
        for kind in EngineKind::all() {
            assert!(SETTING_ENGINES.contains(&kind.name()), "{}", kind.name());
            for setting in SETTINGS {
                assert_ne!(setting.for_engine(kind), "?", "{}", kind.name());
            }
        }
    }

    #[test]
    fn put_batches_keep_order_and_boundaries() {
        let mut batch = PutBatch::default();
        batch.put(b"k1", b"");
        batch.put(b"", b"v2");
        batch.put(b"key3", b"value3");
        let entries: Vec<_> = batch.iter().collect();
        assert_eq!(
            entries,
            vec![
                (&b"k1"[..], &b""[..]),
                (&b""[..], &b"v2"[..]),
                (&b"key3"[..], &b"value3"[..]),
            ]
        );
    }
}
