//! # shaledb
//!
//! An embeddable LSM-tree key-value storage engine. Writes settle as layers — a write-ahead log
//! and a memtable, then sorted string tables (SSTables) on disk — and compaction presses them
//! into fewer, larger ones.
//!
//! Guarantees:
//! - A write acknowledged with `sync` survives a crash or power loss; an unsynced one survives a
//!   crash of the process.
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
//! Start at [`Db`]. The on-disk formats are public for tools and fuzzing: [`log`] (the record log
//! of write-ahead logs and manifests), [`sstable`], [`manifest`].
//!
//! Keys are limited to [`MAX_KEY_SIZE`] bytes and values to [`MAX_VALUE_SIZE`] bytes.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
mod batch_writer;
pub mod cache;
pub mod coding;
mod commit;
mod commit_policy;
mod compaction;
pub mod config;
mod db;
mod db_iterator;
mod engine;
pub mod error;
mod flush;
pub mod fs;
mod integrity;
mod iterator;
pub mod key;
pub mod log;
pub mod manifest;
pub mod memtable;
mod memtable_arena;
mod merging_iterator;
mod options;
mod read_only;
mod read_view;
mod recovery;
mod snapshot;
pub mod sstable;
pub mod stats;
#[cfg(test)]
mod test_hook;
pub mod value;
mod verify;
mod version;
mod version_set;
pub mod vfs;
mod write;

pub use batch::WriteBatch;
pub use batch_writer::{
    BatchStrategy, BatchWriter, BatchWriterOptions, BatchWriterStats, OPERATION_OVERHEAD_BYTES,
    RetryPolicy, Ticket,
};
pub use commit_policy::CommitPolicy;
pub use db::Db;
pub use db_iterator::{DbIterator, Key};
pub use error::{Error, Result};
pub use key::{FileNumber, MAX_KEY_SIZE, MAX_VALUE_SIZE, SequenceNumber, ValueKind};
pub use options::{Options, ReadOptions, WalRecoveryMode, WriteOptions};
pub use snapshot::Snapshot;
pub use stats::{LatencySummary, LevelStats, Pressure, Stats};
pub use value::Value;
pub use verify::VerifyReport;

/// The README's example, compiled as a doc test so that it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
