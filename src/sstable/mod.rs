//! Sorted string tables (SSTables): immutable files of internal keys and values in sorted order,
//! with prefix-compressed, optionally LZ4-compressed, checksummed blocks, a bloom filter over
//! user keys, a properties block and a fixed-size footer.
//!
//! FORMAT.md, section 5 ("SSTable format"), is the source of truth for every byte. The modules
//! come in builder/reader pairs:
//!
//! | concept | writer | reader |
//! |---|---|---|
//! | fixed parts (constants, handles, footer) | [`format`](mod@format) | [`format`](mod@format) |
//! | one block | [`BlockBuilder`] | [`Block`], [`BlockIterator`] |
//! | bloom filter | [`FilterBuilder`] | [`BloomFilter`] |
//! | properties | [`TableProperties::encode`] | [`TableProperties::decode`] |
//! | a whole table | [`TableBuilder`] | [`Table`], [`TableIterator`] |
//!
//! Readers never trust the bytes: checksums are checked before a block is used (unless the
//! caller turns that off), every length is bounds-checked, and damage is reported as
//! `Error::Corruption` naming the file and offset.

// Without the `internals` feature, the entry points that only the tools reach through it are
// dead code (the default build, where they are `pub`, still flags everything else).
#![cfg_attr(
    not(feature = "internals"),
    allow(
        dead_code,
        unused_imports,
        reason = "table readers and builders only the shale program, fuzzing and tests use"
    )
)]

pub mod block;
pub mod block_builder;
pub mod builder;
pub mod filter;
pub mod format;
pub mod iter;
pub mod options;
pub mod properties;
pub mod reader;
pub mod table_writer;

pub use block::{Block, BlockIterator};
pub use block_builder::BlockBuilder;
pub use builder::{TableBuilder, TableSummary};
pub use filter::{BloomFilter, FilterBuilder};
pub use format::{BlockHandle, Footer};
pub use iter::TableIterator;
pub use options::{Compression, TableOptions};
pub use properties::TableProperties;
pub use reader::{BlockReadOptions, LookupResult, Table};
pub use table_writer::{TableInfo, TableWriter};
