//! # shaledb
//!
//! An embeddable LSM-tree key-value storage engine. Writes settle as layers — a write-ahead log
//! and a memtable, then sorted string tables (SSTables) in four levels — and compaction presses
//! them into fewer, larger ones.
//!
//! This release holds the foundation: the three on-disk formats, each specified byte by byte in
//! `FORMAT.md` and each with a reader that returns [`Error::Corruption`] (naming file and offset)
//! for damaged input instead of panicking or returning wrong data:
//!
//! - [`log`]: the record log shared by the write-ahead log and the manifest;
//! - [`sstable`]: sorted string tables with prefix-compressed blocks, LZ4, bloom filters;
//! - [`manifest`]: version edits and the `CURRENT` pointer.
//!
//! Keys are limited to [`MAX_KEY_SIZE`] bytes and values to [`MAX_VALUE_SIZE`] bytes.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
pub mod cache;
pub mod coding;
mod commit;
mod db;
pub mod error;
mod flush;
pub mod fs;
mod iterator;
pub mod key;
pub mod log;
pub mod manifest;
pub mod memtable;
mod options;
mod recovery;
mod snapshot;
pub mod sstable;
pub mod stats;
pub mod value;
mod version;

pub use batch::WriteBatch;
pub use db::Db;
pub use error::{Error, Result};
pub use iterator::{DbIterator, Key};
pub use key::{FileNumber, MAX_KEY_SIZE, MAX_VALUE_SIZE, SequenceNumber, ValueKind};
pub use options::{Options, ReadOptions, WalRecoveryMode, WriteOptions};
pub use snapshot::Snapshot;
pub use stats::{LatencySummary, LevelStats, Stats};
pub use value::Value;
