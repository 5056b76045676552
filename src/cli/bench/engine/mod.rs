//! The storage engines `shale bench` can drive, behind one small trait, so that every timed
//! loop is written once and runs unchanged on shaledb and on its peers: fjall with the `compare`
//! feature, RocksDB with `compare-rocksdb` (each peer is one more implementation of [`Engine`]).
//!
//! The trait holds only what the db_bench-style workloads need: unsynced puts, batches with or
//! without a durable sync, point reads, multi-key reads, a forward scan, "flush and wait for
//! compaction", and close. The YCSB core workloads need nothing more: an update and an insert
//! are puts, and a read-modify-write is a `get` then a `put` of the same key, as YCSB's client
//! issues it (no engine here has a native one). Reads return value lengths rather than values, so that no engine
//! pays for a copy the others do not; the value itself stays alive behind `black_box` inside
//! each implementation.
//!
//! Invariant: every engine is opened from the same [`BenchConfig`](super::config::BenchConfig)
//! with the same settings (WAL on, write buffer, LZ4, 10 bloom bits per key, 4 KiB blocks, block
//! cache size); the mapping of each setting is [`SETTINGS`], which `shale bench --help` and the
//! README repeat.
//!
//! This file holds the trait and what every engine shares (its kind, its batches, the settings
//! table); each engine is one file that imports it ([`shaledb`], `fjall`, `rocksdb`), and
//! [`open`] is the one place that names every engine's type.

#[cfg(feature = "compare")]
mod fjall;
pub(super) mod open;
#[cfg(feature = "compare-rocksdb")]
mod rocksdb;
pub(super) mod shaledb;

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

#[cfg(test)]
mod tests {
    use super::*;

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
