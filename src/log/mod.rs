//! The record log shared by the write-ahead log and the manifest: a file of fixed 32 KiB blocks
//! holding checksummed fragments of records. FORMAT.md, section 4 "Log format", is the source of
//! truth for every byte.
//!
//! - [`format`](mod@self::format): constants and the small codecs (part of the on-disk format).
//! - [`LogWriter`]: appends records, one `write` per call (group commit), `fdatasync` on
//!   [`LogWriter::sync`]; optional preallocation with zeros; poisoned after a failed write or
//!   sync.
//! - [`LogReader`]: an iterator of [`LogEvent`]s that returns only intact records and tells a
//!   clean end from a torn tail (damage running to the end of the data, as a crash leaves it)
//!   and from corruption in the middle (damage followed by valid data).
//!
//! A record is an arbitrary byte string, empty or many MiB long. The log does not interpret it.
//!
//! ```
//! # // Outside the crate, this module is reachable only with the `internals` feature.
//! # #[cfg(feature = "internals")] {
//! use shaledb::log::{LogEvent, LogFileKind, LogReader, LogWriter};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("000001.wal");
//! let mut writer = LogWriter::create(&path, LogFileKind::Wal)?;
//! writer.add_records([&b"first"[..], b"second"])?;
//! writer.sync()?;
//!
//! let payloads: Vec<Vec<u8>> = LogReader::open(&path, LogFileKind::Wal)?
//!     .map(|event| match event {
//!         LogEvent::Record { payload, .. } => payload,
//!         damage => panic!("{damage:?}"),
//!     })
//!     .collect();
//! assert_eq!(payloads, [b"first".to_vec(), b"second".to_vec()]);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Without the `internals` feature, the entry points that only the tools reach through it are
// dead code (the default build, where they are `pub`, still flags everything else).
#![cfg_attr(
    not(feature = "internals"),
    allow(
        dead_code,
        unused_imports,
        reason = "log readers and writers only the shale program, fuzzing and tests use"
    )
)]

pub mod format;
mod reader;
mod writer;

pub use format::{
    BLOCK_SIZE, FILE_HEADER_SIZE, FRAGMENT_HEADER_SIZE, FragmentType, LOG_FORMAT_VERSION,
    LOG_MAGIC, LogFileKind,
};
pub use reader::{LogEvent, LogReader, scan_full_fragments};
pub use writer::{LogWriter, encode_log, preallocated_length};
