//! # shaledb
//!
//! An embeddable LSM-tree key-value storage engine. Writes settle as layers — a write-ahead log
//! and a memtable, then sorted string tables (SSTables) on disk — and compaction presses them
//! into fewer, larger ones.
//!
//! Guarantees:
//! - A write acknowledged with `sync` survives a crash or power loss; an unsynced one survives a
//!   crash of the process.
//! - You choose when to pay for the fsync: [`Db::sync_wal`] makes every earlier write durable,
//!   and [`Db::write_durable`] returns once a batch is visible, with a [`DurableTicket`] that
//!   completes when a shared fsync has made it durable (in commit order).
//! - A [`WriteBatch`] is applied whole or not at all: readers never see part of it, before or
//!   after a crash.
//! - Damaged files give [`Error::Corruption`] naming the file and the byte offset, never a panic
//!   or wrong data. Every byte layout is specified in `FORMAT.md`.
//!
//! ```
//! use shaledb::{Db, Options};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put(b"key", b"value")?;
//! assert_eq!(db.get(b"key")?.as_deref(), Some(&b"value"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Start at [`Db`]. The public API is what this page lists:
//!
//! - the database: [`Db`], [`Snapshot`] (and the [`SequenceNumber`] it reads at),
//!   [`DbIterator`] (and its [`Key`]), [`Value`] (and the [`SharedBuffer`] one can be built
//!   from), [`VerifyReport`], [`CheckpointReport`];
//! - writes: [`WriteBatch`] (and the [`BatchOperation`]s it yields), [`WriteOptions`], the
//!   [`DurableTicket`] of a write made visible before it is durable
//!   ([`Db::write_durable`]), and [`BatchWriter`], which batches many small writes, with its
//!   options and [`Ticket`]s;
//! - configuration: [`Options`] (with [`TableOptions`], [`Compression`], [`CommitPolicy`],
//!   [`WalRecoveryMode`]) and [`ReadOptions`], in code or from `key = value` text
//!   ([`Options::from_config_file`] documents the syntax and every key);
//! - observation: [`Stats`], [`LevelStats`], [`LatencySummary`], [`Pressure`];
//! - errors: [`Error`], [`Result`];
//! - the file-system seam, [`vfs`]: the [`FileSystem`](vfs::FileSystem) every file operation
//!   goes through, the real one ([`OsFileSystem`](vfs::OsFileSystem)) and one that injects
//!   failures, full disks and power loss ([`FaultFileSystem`](vfs::FaultFileSystem)), to
//!   fault-test a program built on shaledb.
//!
//! Keys are limited to [`MAX_KEY_SIZE`] bytes and values to [`MAX_VALUE_SIZE`] bytes.
//!
//! # Cargo features
//!
//! - `cli` (default): the `shale` command-line program (benchmark, `get`/`put`/`scan`, `dump`).
//!   Library users turn it off with `default-features = false`, which drops its dependencies.
//! - `internals` (off by default; `cli` turns it on): makes the engine's format modules — the
//!   record log of write-ahead logs and manifests, SSTables, manifests, the memtable, the block
//!   cache, the key and varint encodings, the batch decoder, file naming, the configuration
//!   parsers — public for the `shale` program's dumps, the fuzz targets and the format tests.
//!   **They are not API**: not covered by semver, hidden from this documentation, and may
//!   change or disappear in any release. `FORMAT.md` specifies the bytes they read and write.
//! - `raft` (off by default): `shaledb::raft`, shaledb as the log and state-machine storage of an
//!   openraft 0.9 node. It brings in openraft, tokio, serde and postcard; without it none of
//!   them is built, and this module and its documentation are absent.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

/// Declares an internal module: with the `internals` feature `pub` and `#[doc(hidden)]` (for
/// the `shale` program, the fuzz targets and the format tests; never API), `pub(crate)`
/// without it.
macro_rules! internal_mod {
    ($($(#[$attribute:meta])* $name:ident;)*) => {$(
        $(#[$attribute])*
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$attribute])*
        #[cfg(not(feature = "internals"))]
        pub(crate) mod $name;
    )*};
}

internal_mod! {
    batch;
    cache;
    coding;
    config;
    fs;
    key;
    log;
    manifest;
    memtable;
    range_tombstone;
    sstable;
    stats;
    sync_marker;
}

mod batch_writer;
mod checkpoint;
mod commit;
mod commit_policy;
mod commit_token;
mod compaction;
mod compaction_filter;
mod db;
mod db_iterator;
mod durability;
mod engine;
mod error;
mod flush;
mod ingest;
mod integrity;
mod iterator;
mod key_range;
mod keyspace;
mod keyspace_admin;
mod keyspace_options;
mod large_batch;
mod memtable_arena;
mod merge_operator;
mod merging_iterator;
mod options;
mod outcome_slot;
#[cfg(feature = "raft")]
pub mod raft;
mod read_only;
mod read_view;
mod recovery;
mod snapshot;
#[cfg(test)]
mod test_hook;
mod value;
mod verify;
mod version;
mod version_set;
pub mod vfs;
mod wal_sync;
mod write;

pub use batch::{BatchOperation, WriteBatch};
pub use batch_writer::{
    BatchStrategy, BatchWriter, BatchWriterOptions, BatchWriterStats, OPERATION_OVERHEAD_BYTES,
    RetryPolicy, Ticket,
};
pub use checkpoint::CheckpointReport;
pub use commit_policy::CommitPolicy;
pub use commit_token::{CommitStatus, CommitToken, TokenWrite};
pub use compaction_filter::{CompactionFilter, FilterDecision};
pub use db::Db;
pub use db_iterator::{DbIterator, Key};
pub use durability::DurableTicket;
pub use error::{Error, Result};
pub use ingest::{IngestOptions, IngestReport};
pub use key::{MAX_KEY_SIZE, MAX_VALUE_SIZE, SequenceNumber};
pub use key_range::KeyRange;
pub use keyspace::Keyspace;
pub use keyspace_options::KeyspaceOptions;
pub use large_batch::{LargeBatch, LargeBatchOptions};
pub use merge_operator::{CounterAdd, ListAppend, MergeError, MergeOperator, SharedMergeOperator};
pub use options::{CommitTokenRetention, Options, ReadOptions, WalRecoveryMode, WriteOptions};
pub use snapshot::Snapshot;
pub use sstable::{Compression, TableInfo, TableOptions, TableWriter};
pub use stats::{
    DroppedTail, KeyspaceStats, LatencySummary, LevelStats, Pressure, RecoveryReport, Stats,
};
pub use value::{SharedBuffer, Value};
pub use verify::VerifyReport;

/// The README's example, compiled as a doc test so that it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
