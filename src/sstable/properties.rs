//! [`TableProperties`]: what a table holds, in numbers a compaction picker and the manifest can
//! use without reading the data (key range, sequence range, counts, sizes).
//!
//! FORMAT.md, section 5 ("Properties block"), is the source of truth. The block is a
//! `varint32` properties version (1), then the fields below in order. A version-1 reader ignores
//! bytes after the last field it knows, so later writers may append fields without a new
//! version; changing or removing a field needs a new version, which old readers refuse.

use std::cmp::Ordering;

use crate::coding::{Cursor, DecodeError, put_length_prefixed, put_varint32, put_varint64};
use crate::key::{
    MAX_KEY_SIZE, SequenceNumber, TRAILER_SIZE, compare_internal_keys, parse_internal_key,
};

/// The properties encoding this code writes and reads. Part of the on-disk format.
pub const PROPERTIES_VERSION: u32 = 1;

/// Facts about one table, written by the builder and read back when the table is opened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableProperties {
    /// Entries (values and tombstones).
    pub entry_count: u64,
    /// Entries that are tombstones.
    pub tombstone_count: u64,
    /// Distinct user keys (the number of keys in the bloom filter).
    pub user_key_count: u64,
    /// The first internal key; empty when the table has no entries.
    pub smallest_key: Vec<u8>,
    /// The last internal key; empty when the table has no entries.
    pub largest_key: Vec<u8>,
    /// The lowest sequence number of any entry (0 when empty).
    pub smallest_sequence: SequenceNumber,
    /// The highest sequence number of any entry (0 when empty).
    pub largest_sequence: SequenceNumber,
    /// Sum of internal key lengths.
    pub raw_key_size: u64,
    /// Sum of value lengths.
    pub raw_value_size: u64,
    /// Sum of data block sizes before compression (entries and restart arrays).
    pub raw_data_size: u64,
    /// Bytes the data blocks take in the file, trailers included.
    pub data_size: u64,
    /// Number of data blocks.
    pub data_block_count: u64,
    /// Number of data blocks stored LZ4-compressed.
    pub compressed_data_block_count: u64,
    /// Bytes the index block takes in the file, trailer included.
    pub index_size: u64,
    /// Bytes the filter block takes in the file, trailer included (0 without a filter).
    pub filter_size: u64,
    /// Bloom filter bits per key the table was built with (0: no filter).
    pub bloom_bits_per_key: u32,
    /// Restart interval of the data blocks.
    pub restart_interval: u32,
    /// Target data block size the table was built with.
    pub block_size: u64,
    /// Range tombstones in the range-deletion block ((piece, sequence number) pairs; 0: no
    /// such block). Field 19, appended after version 1's first 18.
    pub range_deletion_count: u64,
    /// Where the range-deletion block is (offset and size 0 without one). Fields 20 and 21.
    pub range_deletion_handle: crate::sstable::format::BlockHandle,
}

impl TableProperties {
    /// The properties block contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.smallest_key.len() + self.largest_key.len());
        put_varint32(&mut out, PROPERTIES_VERSION);
        for value in [self.entry_count, self.tombstone_count, self.user_key_count] {
            put_varint64(&mut out, value);
        }
        put_length_prefixed(&mut out, &self.smallest_key);
        put_length_prefixed(&mut out, &self.largest_key);
        for value in [
            self.smallest_sequence.0,
            self.largest_sequence.0,
            self.raw_key_size,
            self.raw_value_size,
            self.raw_data_size,
            self.data_size,
            self.data_block_count,
            self.compressed_data_block_count,
            self.index_size,
            self.filter_size,
        ] {
            put_varint64(&mut out, value);
        }
        put_varint32(&mut out, self.bloom_bits_per_key);
        put_varint32(&mut out, self.restart_interval);
        put_varint64(&mut out, self.block_size);
        // Appended fields: written only when set, so that a table without range deletions
        // keeps the bytes older builds wrote.
        if self.range_deletion_count > 0 {
            put_varint64(&mut out, self.range_deletion_count);
            put_varint64(&mut out, self.range_deletion_handle.offset);
            put_varint64(&mut out, self.range_deletion_handle.size);
        }
        out
    }

    /// Decodes a properties block and checks that its fields agree with each other.
    pub fn decode(contents: &[u8]) -> Result<TableProperties, DecodeError> {
        let mut cursor = Cursor::new(contents);
        let version = cursor.varint32()?;
        if version != PROPERTIES_VERSION {
            return Err(DecodeError {
                offset: 0,
                reason: "unknown properties version",
            });
        }
        let properties = TableProperties {
            entry_count: cursor.varint64()?,
            tombstone_count: cursor.varint64()?,
            user_key_count: cursor.varint64()?,
            smallest_key: cursor.length_prefixed()?.to_vec(),
            largest_key: cursor.length_prefixed()?.to_vec(),
            smallest_sequence: SequenceNumber(cursor.varint64()?),
            largest_sequence: SequenceNumber(cursor.varint64()?),
            raw_key_size: cursor.varint64()?,
            raw_value_size: cursor.varint64()?,
            raw_data_size: cursor.varint64()?,
            data_size: cursor.varint64()?,
            data_block_count: cursor.varint64()?,
            compressed_data_block_count: cursor.varint64()?,
            index_size: cursor.varint64()?,
            filter_size: cursor.varint64()?,
            bloom_bits_per_key: cursor.varint32()?,
            restart_interval: cursor.varint32()?,
            block_size: cursor.varint64()?,
            range_deletion_count: 0,
            range_deletion_handle: Default::default(),
        };
        let mut properties = properties;
        if !cursor.is_empty() {
            properties.range_deletion_count = cursor.varint64()?;
            properties.range_deletion_handle = crate::sstable::format::BlockHandle {
                offset: cursor.varint64()?,
                size: cursor.varint64()?,
            };
        }
        properties.check().map_err(|reason| cursor.error(reason))?;
        Ok(properties)
    }

    /// Whether the fields are consistent with each other.
    fn check(&self) -> Result<(), &'static str> {
        if self.tombstone_count > self.entry_count
            || self.user_key_count > self.entry_count
            || self.compressed_data_block_count > self.data_block_count
            || self.smallest_sequence > self.largest_sequence
        {
            return Err("inconsistent counts or sequence range in properties");
        }
        if (self.range_deletion_count == 0)
            != (self.range_deletion_handle == crate::sstable::format::BlockHandle::default())
        {
            return Err("range-deletion count and block handle disagree in properties");
        }
        if self.entry_count == 0 {
            let empty = self.smallest_key.is_empty() && self.largest_key.is_empty();
            return if empty && self.data_block_count == 0 {
                Ok(())
            } else {
                Err("properties of an empty table name keys or blocks")
            };
        }
        if self.data_block_count == 0 || self.user_key_count == 0 {
            return Err("properties of a non-empty table count no blocks or keys");
        }
        for key in [&self.smallest_key, &self.largest_key] {
            if key.len() > MAX_KEY_SIZE + TRAILER_SIZE || parse_internal_key(key).is_err() {
                return Err("properties hold a malformed smallest or largest key");
            }
        }
        if compare_internal_keys(&self.smallest_key, &self.largest_key) == Ordering::Greater {
            return Err("properties' smallest key sorts after the largest");
        }
        Ok(())
    }
}
