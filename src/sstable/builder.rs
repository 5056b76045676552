//! [`TableBuilder`]: writes a sorted run of internal keys and values as one SSTable.
//!
//! FORMAT.md, section 5, is the source of truth for the bytes. File layout, in write order:
//! data blocks, filter block (if any), index block, properties block, footer. Every block is
//! followed by its trailer (compression type, CRC32).
//!
//! Invariants: keys are added in strictly increasing internal-key order (checked: out-of-order
//! input is `Error::InvalidArgument`); each index entry's key is >= every key of its data block
//! and < every key of the next one; the file is complete and fsynced only when `finish` returns
//! `Ok`. After any error the builder must be abandoned.

use std::cmp::Ordering;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::coding::put_varint32;
use crate::error::{Error, Result};
use crate::key::{
    SequenceNumber, ValueKind, append_internal_key, check_key, check_value,
    compare_internal_keys, parse_internal_key, range_end_key, range_start_key, user_key,
};
use crate::range_tombstone::Fragments;
use crate::sstable::block_builder::BlockBuilder;
use crate::sstable::filter::FilterBuilder;
use crate::sstable::format::{
    BLOCK_TRAILER_SIZE, BlockHandle, COMPRESSION_TYPE_LZ4, COMPRESSION_TYPE_NONE,
    FORMAT_VERSION_MERGES, FORMAT_VERSION_RANGE_DELETIONS, Footer, MAX_BLOCK_SIZE, block_checksum,
};
use crate::sstable::options::{Compression, TableOptions};
use crate::sstable::properties::TableProperties;
use crate::vfs::{FileSystem, OsFileSystem, WritableFile};

/// Index blocks restart at every entry: their keys rarely share prefixes, and it makes the
/// binary search land exactly on the block.
const INDEX_RESTART_INTERVAL: usize = 1;

/// What a finished table is: its size, its properties and its key range (for the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// Size of the file in bytes.
    pub file_size: u64,
    /// The properties written into the table.
    pub properties: TableProperties,
    /// The smallest internal key of the table's key range: its first entry, or the
    /// [`range_start_key`] of its first range tombstone's start if that sorts first. Empty for
    /// a table with neither.
    pub smallest: Vec<u8>,
    /// The largest internal key of its key range: its last entry, or the [`range_end_key`] of
    /// its last range tombstone's end (exclusive) if that sorts last.
    pub largest: Vec<u8>,
}

/// The key range a table holding entries from `properties`' smallest to largest key and
/// `tombstones` covers (see [`TableSummary`]); empty keys when it holds nothing.
pub fn table_key_range(properties: &TableProperties, tombstones: &Fragments) -> (Vec<u8>, Vec<u8>) {
    let mut smallest = properties.smallest_key.clone();
    let mut largest = properties.largest_key.clone();
    if let Some((start, end)) = tombstones.key_range() {
        let start = range_start_key(start);
        let end = range_end_key(end);
        if smallest.is_empty() || compare_internal_keys(&start, &smallest) == Ordering::Less {
            smallest = start;
        }
        if largest.is_empty() || compare_internal_keys(&end, &largest) == Ordering::Greater {
            largest = end;
        }
    }
    (smallest, largest)
}

/// `std::io::Write` over a [`WritableFile`], so that a `BufWriter` can batch small writes.
struct FileWriter(Box<dyn WritableFile>);

impl Write for FileWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Sink {
    File {
        path: PathBuf,
        file_system: Arc<dyn FileSystem>,
        writer: BufWriter<FileWriter>,
    },
    Memory(Vec<u8>),
}

/// Writes one SSTable. Create it, [`add`](Self::add) entries in order, then
/// [`finish`](Self::finish) or [`abandon`](Self::abandon).
pub struct TableBuilder {
    options: TableOptions,
    sink: Sink,
    offset: u64,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    filter: Option<FilterBuilder>,
    /// The last data block written, waiting for the next key to choose its index separator.
    pending_handle: Option<BlockHandle>,
    last_key: Vec<u8>,
    properties: TableProperties,
    /// The range deletions the table will hold (FORMAT.md 5.10).
    range_tombstones: Fragments,
    /// Whether a merge operand was added: the table is then of format version 3.
    has_merges: bool,
    /// Reused output of block compression (`compress_if_worth_it`).
    compression_scratch: Vec<u8>,
}

impl TableBuilder {
    /// Creates (or truncates) the file at `path` and starts a table in it.
    pub fn create(path: &Path, options: TableOptions) -> Result<Self> {
        Self::create_on(Arc::new(OsFileSystem), path, options)
    }

    /// [`create`](Self::create) through `file_system`.
    pub fn create_on(
        file_system: Arc<dyn FileSystem>,
        path: &Path,
        options: TableOptions,
    ) -> Result<Self> {
        options.validate()?;
        let file = file_system
            .create(path)
            .map_err(|error| Error::io(path, error))?;
        let sink = Sink::File {
            path: path.to_path_buf(),
            file_system,
            writer: BufWriter::with_capacity(64 * 1024, FileWriter(file)),
        };
        Ok(Self::with_sink(sink, options))
    }

    /// Starts a table held in memory; finish it with [`finish_into_vec`](Self::finish_into_vec).
    /// For tests, fuzzing and tools.
    pub fn in_memory(options: TableOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self::with_sink(Sink::Memory(Vec::new()), options))
    }

    fn with_sink(sink: Sink, options: TableOptions) -> Self {
        let filter = (options.bloom_bits_per_key > 0)
            .then(|| FilterBuilder::new(options.bloom_bits_per_key));
        TableBuilder {
            data_block: BlockBuilder::new(options.restart_interval),
            index_block: BlockBuilder::new(INDEX_RESTART_INTERVAL),
            filter,
            sink,
            offset: 0,
            pending_handle: None,
            last_key: Vec::new(),
            properties: TableProperties::default(),
            range_tombstones: Fragments::empty(),
            has_merges: false,
            compression_scratch: Vec::new(),
            options,
        }
    }

    /// Makes the table hold the range deletions `tombstones` (replacing any set before), in a
    /// range-deletion block written by [`finish`](Self::finish).
    pub fn set_range_tombstones(&mut self, tombstones: Fragments) {
        self.range_tombstones = tombstones;
    }

    /// Whether the table will hold nothing: no entry and no range deletion.
    pub fn is_empty(&self) -> bool {
        self.properties.entry_count == 0 && self.range_tombstones.is_empty()
    }

    /// Adds an entry. `internal_key` must be a valid internal key (user key of at most
    /// `MAX_KEY_SIZE` bytes, known kind) sorting strictly after the previous one, and `value` at
    /// most `MAX_VALUE_SIZE` bytes; otherwise `Error::InvalidArgument` and nothing is added.
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<()> {
        let parsed = parse_internal_key(internal_key).map_err(|reason| {
            Error::InvalidArgument(format!(
                "table builder was given a bad internal key: {reason}"
            ))
        })?;
        check_key(parsed.user_key)?;
        check_value(value)?;
        let is_first = self.properties.entry_count == 0;
        if !is_first && compare_internal_keys(&self.last_key, internal_key) != Ordering::Less {
            return Err(Error::InvalidArgument(
                "table builder keys must strictly increase in internal-key order".to_string(),
            ));
        }
        if let Some(handle) = self.pending_handle.take() {
            let separator = shortest_separator(&self.last_key, internal_key);
            self.add_index_entry(&separator, handle);
        }
        if is_first || parsed.user_key != user_key(&self.last_key) {
            self.properties.user_key_count += 1;
            if let Some(filter) = &mut self.filter {
                filter.add_key(parsed.user_key);
            }
        }
        self.record_entry(internal_key, value, parsed.sequence, parsed.kind);
        self.data_block.add(internal_key, value);
        if self.data_block.size_estimate() >= self.options.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    fn record_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        sequence: SequenceNumber,
        kind: ValueKind,
    ) {
        let properties = &mut self.properties;
        if properties.entry_count == 0 {
            properties.smallest_key = key.to_vec();
            properties.smallest_sequence = sequence;
            properties.largest_sequence = sequence;
        }
        properties.entry_count += 1;
        if kind == ValueKind::Tombstone {
            properties.tombstone_count += 1;
        }
        self.has_merges |= kind == ValueKind::Merge;
        properties.smallest_sequence = properties.smallest_sequence.min(sequence);
        properties.largest_sequence = properties.largest_sequence.max(sequence);
        properties.raw_key_size += key.len() as u64;
        properties.raw_value_size += value.len() as u64;
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
    }

    /// Entries added so far.
    pub fn entry_count(&self) -> u64 {
        self.properties.entry_count
    }

    /// Bytes the file would have if finished now, not counting meta blocks (for deciding when
    /// to start a new output table).
    pub fn approximate_size(&self) -> u64 {
        let buffered = if self.data_block.is_empty() {
            0
        } else {
            self.data_block.size_estimate()
        };
        self.offset + buffered as u64
    }

    fn add_index_entry(&mut self, separator: &[u8], handle: BlockHandle) {
        let mut encoded = Vec::with_capacity(20);
        handle.encode_to(&mut encoded);
        self.index_block.add(separator, &encoded);
    }

    fn flush_data_block(&mut self) -> Result<()> {
        debug_assert!(self.pending_handle.is_none());
        let contents = self.data_block.finish();
        let (handle, compressed) = self.write_block(&contents, self.options.compression)?;
        self.properties.raw_data_size += contents.len() as u64;
        self.properties.data_size += handle.size + BLOCK_TRAILER_SIZE as u64;
        self.properties.data_block_count += 1;
        self.properties.compressed_data_block_count += u64::from(compressed);
        self.pending_handle = Some(handle);
        Ok(())
    }

    /// Writes `contents` as a stored block with its trailer; returns its handle and whether it
    /// was compressed.
    fn write_block(
        &mut self,
        contents: &[u8],
        compression: Compression,
    ) -> Result<(BlockHandle, bool)> {
        if contents.len() > MAX_BLOCK_SIZE {
            return Err(Error::InvalidArgument(format!(
                "a table block would be {} bytes, over the {MAX_BLOCK_SIZE}-byte limit; \
                 split the table",
                contents.len()
            )));
        }
        // The scratch buffer is taken out of `self` while its bytes are written, and put back.
        let mut scratch = std::mem::take(&mut self.compression_scratch);
        let compressed = match compression {
            Compression::None => None,
            Compression::Lz4 => compress_if_worth_it(contents, &mut scratch),
        };
        let (stored, compression_type) = match compressed {
            Some(range) => (scratch.get(range).unwrap_or(&[]), COMPRESSION_TYPE_LZ4),
            None => (contents, COMPRESSION_TYPE_NONE),
        };
        let handle = BlockHandle {
            offset: self.offset,
            size: stored.len() as u64,
        };
        let mut trailer = [0u8; BLOCK_TRAILER_SIZE];
        trailer[0] = compression_type;
        trailer[1..].copy_from_slice(&block_checksum(stored, compression_type).to_le_bytes());
        let written = self.write(stored).and_then(|()| self.write(&trailer));
        let was_compressed = compression_type == COMPRESSION_TYPE_LZ4;
        self.compression_scratch = scratch;
        written?;
        Ok((handle, was_compressed))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.sink {
            Sink::File { path, writer, .. } => {
                writer
                    .write_all(bytes)
                    .map_err(|error| Error::io(&*path, error))?;
            }
            Sink::Memory(buffer) => buffer.extend_from_slice(bytes),
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Writes the remaining data, filter, index, properties and footer, then flushes and fsyncs
    /// the file. The caller must fsync the directory before relying on the file's name
    /// (`crate::fs::sync_dir`).
    pub fn finish(mut self) -> Result<TableSummary> {
        self.write_meta_blocks()?;
        let file_size = self.offset;
        let (smallest, largest) = table_key_range(&self.properties, &self.range_tombstones);
        if let Sink::File { path, writer, .. } = &mut self.sink {
            writer.flush().map_err(|error| Error::io(&*path, error))?;
            writer
                .get_mut()
                .0
                .sync_all()
                .map_err(|error| Error::io(&*path, error))?;
        }
        Ok(TableSummary {
            file_size,
            properties: self.properties,
            smallest,
            largest,
        })
    }

    /// Finishes a builder made by [`in_memory`](Self::in_memory) and returns the table's bytes.
    ///
    /// # Panics
    /// If the builder writes to a file (a programmer error).
    pub fn finish_into_vec(mut self) -> Result<(TableSummary, Vec<u8>)> {
        assert!(
            matches!(self.sink, Sink::Memory(_)),
            "finish_into_vec on a file-backed table builder"
        );
        self.write_meta_blocks()?;
        let (smallest, largest) = table_key_range(&self.properties, &self.range_tombstones);
        let summary = TableSummary {
            file_size: self.offset,
            properties: self.properties,
            smallest,
            largest,
        };
        match self.sink {
            Sink::Memory(bytes) => Ok((summary, bytes)),
            Sink::File { .. } => unreachable!("checked above"),
        }
    }

    fn write_meta_blocks(&mut self) -> Result<()> {
        if !self.data_block.is_empty() {
            self.flush_data_block()?;
        }
        if let Some(handle) = self.pending_handle.take() {
            let separator = short_successor(&self.last_key);
            self.add_index_entry(&separator, handle);
        }
        let mut footer = Footer::default();
        if let Some(filter) = self.filter.take() {
            let (handle, _) = self.write_block(&filter.finish(), Compression::None)?;
            self.properties.filter_size = handle.size + BLOCK_TRAILER_SIZE as u64;
            footer.filter = handle;
        }
        let index_contents = self.index_block.finish();
        let (handle, _) = self.write_block(&index_contents, self.options.compression)?;
        self.properties.index_size = handle.size + BLOCK_TRAILER_SIZE as u64;
        footer.index = handle;
        if !self.range_tombstones.is_empty() {
            let contents = self.range_tombstones.encode();
            let (handle, _) = self.write_block(&contents, Compression::None)?;
            self.properties.range_deletion_count = self.range_tombstones.len() as u64;
            self.properties.range_deletion_handle = handle;
            if let Some((smallest, largest)) = self.range_tombstones.sequence_range() {
                let points = self.properties.entry_count > 0;
                self.properties.smallest_sequence = if points {
                    self.properties.smallest_sequence.min(smallest)
                } else {
                    smallest
                };
                self.properties.largest_sequence = self.properties.largest_sequence.max(largest);
            }
            footer.version = FORMAT_VERSION_RANGE_DELETIONS;
        }
        if self.has_merges {
            footer.version = FORMAT_VERSION_MERGES;
        }
        self.properties.largest_key = self.last_key.clone();
        self.properties.bloom_bits_per_key = self.options.bloom_bits_per_key;
        self.properties.restart_interval = self.options.restart_interval as u32;
        self.properties.block_size = self.options.block_size as u64;
        let properties = self.properties.encode();
        footer.properties = self.write_block(&properties, Compression::None)?.0;
        self.write(&footer.encode())
    }

    /// Stops writing and removes the partial file.
    pub fn abandon(self) -> Result<()> {
        match self.sink {
            Sink::File {
                path,
                file_system,
                writer,
            } => {
                drop(writer);
                file_system
                    .remove(&path)
                    .map_err(|error| Error::io(&path, error))
            }
            Sink::Memory(_) => Ok(()),
        }
    }
}

/// `varint32 uncompressed length || LZ4 block`, if that is at most 7/8 of the raw size: the
/// range of `scratch` holding it. `scratch` is reused from block to block (it only grows, so
/// no block pays for allocating and zeroing LZ4's worst-case output): the block is compressed
/// at offset 5, and the length's varint (at most 5 bytes) written just before it.
fn compress_if_worth_it(
    contents: &[u8],
    scratch: &mut Vec<u8>,
) -> Option<std::ops::Range<usize>> {
    const HEADER_ROOM: usize = 5;
    let length = u32::try_from(contents.len()).ok()?;
    let needed = HEADER_ROOM + lz4_flex::block::get_maximum_output_size(contents.len());
    if scratch.len() < needed {
        scratch.resize(needed, 0);
    }
    let payload_length =
        lz4_flex::block::compress_into(contents, scratch.get_mut(HEADER_ROOM..)?).ok()?;
    let mut header = Vec::with_capacity(HEADER_ROOM);
    put_varint32(&mut header, length);
    let start = HEADER_ROOM.checked_sub(header.len())?;
    scratch.get_mut(start..HEADER_ROOM)?.copy_from_slice(&header);
    let stored = header.len() + payload_length;
    (stored <= contents.len() - contents.len() / 8).then_some(start..HEADER_ROOM + payload_length)
}

/// The largest trailer a valid internal key can have: for a given user key, the internal key
/// with this trailer sorts before every other version.
fn first_version_of(user_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(user_key.len() + 8);
    append_internal_key(&mut key, user_key, SequenceNumber::MAX, ValueKind::Value);
    key
}

/// A key `s` with `last <= s < next` in internal-key order, as short as cheaply possible:
/// shortens the user key of `last` when a byte can be incremented below `next`'s.
pub(crate) fn shortest_separator(last: &[u8], next: &[u8]) -> Vec<u8> {
    let (last_user, next_user) = (user_key(last), user_key(next));
    let shared = last_user
        .iter()
        .zip(next_user)
        .take_while(|(a, b)| a == b)
        .count();
    if shared < last_user.len().min(next_user.len()) {
        let byte = last_user[shared];
        if byte < 0xff && byte + 1 < next_user[shared] {
            let mut shortened = last_user[..=shared].to_vec();
            shortened[shared] = byte + 1;
            debug_assert!(shortened.as_slice() > last_user && shortened.as_slice() < next_user);
            return first_version_of(&shortened);
        }
    }
    last.to_vec()
}

/// A short key `s >= last` in internal-key order (the index key of the last data block).
pub(crate) fn short_successor(last: &[u8]) -> Vec<u8> {
    let last_user = user_key(last);
    match last_user.iter().position(|&byte| byte != 0xff) {
        Some(index) if index + 1 < last_user.len() => {
            let mut shortened = last_user[..=index].to_vec();
            shortened[index] += 1;
            first_version_of(&shortened)
        }
        _ => last.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::internal_key;

    fn key(user: &[u8], sequence: u64) -> Vec<u8> {
        internal_key(user, SequenceNumber(sequence), ValueKind::Value)
    }

    #[test]
    fn separators_sit_between_their_neighbours() {
        let cases: &[(&[u8], u64, &[u8], u64)] = &[
            (b"abcdef", 5, b"abzzz", 3),
            (b"abc", 5, b"abc", 3),
            (b"abc", 5, b"abcd", 9),
            (b"ab\xff", 1, b"ac", 1),
            (b"a", 1, b"b", 1),
            (b"", 1, b"x", 1),
        ];
        for &(last_user, last_sequence, next_user, next_sequence) in cases {
            let (last, next) = (key(last_user, last_sequence), key(next_user, next_sequence));
            let separator = shortest_separator(&last, &next);
            assert_ne!(compare_internal_keys(&separator, &last), Ordering::Less);
            assert_eq!(compare_internal_keys(&separator, &next), Ordering::Less);
        }
        let separator = shortest_separator(&key(b"abcdef", 5), &key(b"abzzz", 3));
        assert_eq!(user_key(&separator), b"abd");
    }

    #[test]
    fn successor_is_not_smaller() {
        for user in [&b"abc"[..], b"\xff\xff", b"\xffa", b""] {
            let last = key(user, 7);
            let successor = short_successor(&last);
            assert_ne!(compare_internal_keys(&successor, &last), Ordering::Less);
        }
        assert_eq!(user_key(&short_successor(&key(b"abc", 1))), b"b");
    }
}
