//! [`Table`]: an open, immutable SSTable — point lookups through the bloom filter and index, and
//! iterators over all entries.
//!
//! FORMAT.md, section 5, is the source of truth for the bytes. Opening a table checks, in order:
//! the footer (magic, version, checksum), the properties, filter and index blocks (checksums,
//! then contents), and that the blocks tile the file exactly as the writer lays them out. Data
//! blocks are read lazily through [`Table::read_block`], which checks each block's checksum when
//! asked (the default) before decoding it. Every damage is `Error::Corruption` naming the file and
//! offset; nothing here panics on bad bytes.
//!
//! A `Table` is cheap to clone and safe to share between threads. [`Table::read_block`] is the
//! one place blocks are decoded, so a block cache keyed by (file number, block offset) goes in
//! front of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::{BlockCache, BlockKey};
use crate::coding::Cursor;
use crate::error::{Error, Result};
use crate::key::{
    FileNumber, SequenceNumber, ValueKind, compare_internal_keys, internal_key, parse_internal_key,
};
use crate::sstable::block::{Block, BlockData, BlockOrigin, SharedBytes, decode_stored_payload};
use crate::sstable::filter::BloomFilter;
use crate::sstable::format::{BLOCK_TRAILER_SIZE, BlockHandle, FOOTER_SIZE, Footer};
use crate::sstable::properties::TableProperties;
use crate::range_tombstone::Fragments;
use crate::sstable::format::{
    FORMAT_VERSION, FORMAT_VERSION_MERGES, FORMAT_VERSION_RANGE_DELETIONS,
};
use crate::value::Value;
use crate::vfs::{FileSystem, OsFileSystem};

/// How a read treats the blocks it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockReadOptions {
    /// Verify each block's checksum when it is read from the file (default `true`).
    pub verify_checksums: bool,
    /// Keep blocks read from the file in the table's block cache, if it has one (default
    /// `true`).
    pub fill_cache: bool,
}

impl Default for BlockReadOptions {
    fn default() -> Self {
        BlockReadOptions {
            verify_checksums: true,
            fill_cache: true,
        }
    }
}

impl BlockReadOptions {
    /// Reads that skip checksum verification (and so never fill the cache).
    pub const UNVERIFIED: BlockReadOptions = BlockReadOptions {
        verify_checksums: false,
        fill_cache: false,
    };
}

/// What a table knows about a user key at a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupResult {
    /// The newest visible entry sets the key to this value (sharing the block it was read
    /// from).
    Value(Value),
    /// The newest visible entry is a tombstone: the key is deleted as of the snapshot.
    Deleted,
    /// The newest visible entry is this merge operand: the versions below it count too.
    Merge(Value),
}

/// The file's bytes and footer: enough to read blocks.
struct TableFile {
    file: Arc<Path>,
    bytes: SharedBytes,
    footer: Footer,
}

struct TableInner {
    source: TableFile,
    file_number: FileNumber,
    cache: Option<Arc<BlockCache<Block>>>,
    index: Arc<Block>,
    filter: Option<BloomFilter>,
    properties: TableProperties,
    range_tombstones: Arc<Fragments>,
}

/// A table read at a global sequence number: every entry and range tombstone at `sequence`.
#[derive(Debug)]
pub(crate) struct GlobalSequence {
    pub sequence: SequenceNumber,
    pub range_tombstones: Arc<Fragments>,
}

/// An open SSTable. Clones share the same bytes and metadata.
#[derive(Clone)]
pub struct Table {
    inner: Arc<TableInner>,
    /// Set by [`at_global_sequence`](Table::at_global_sequence): the sequence number every
    /// entry is read at instead of the one its file holds.
    global: Option<Arc<GlobalSequence>>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("file", &self.inner.source.file)
            .field("file_number", &self.inner.file_number)
            .field("file_size", &self.file_size())
            .finish()
    }
}

impl Table {
    /// Opens the finished table at `path` by mapping it into memory.
    pub fn open(path: &Path, file_number: FileNumber) -> Result<Table> {
        Self::open_with_cache(path, file_number, None)
    }

    /// [`open`](Self::open), keeping decoded blocks in `cache` under (`file_number`, offset).
    pub fn open_with_cache(
        path: &Path,
        file_number: FileNumber,
        cache: Option<Arc<BlockCache<Block>>>,
    ) -> Result<Table> {
        Self::open_on(&OsFileSystem, path, file_number, cache)
    }

    /// [`open_with_cache`](Self::open_with_cache) through `file_system`, whose
    /// [`map`](FileSystem::map) gives the bytes (a memory map for the operating system's).
    pub fn open_on(
        file_system: &dyn FileSystem,
        path: &Path,
        file_number: FileNumber,
        cache: Option<Arc<BlockCache<Block>>>,
    ) -> Result<Table> {
        // SSTables are immutable once finished: shaledb never writes to, truncates or reuses a
        // table file after `TableBuilder::finish`, and only deletes it, as `map` requires.
        let bytes = file_system
            .map(path)
            .map_err(|error| Error::io(path, error))?;
        let length = (*bytes).as_ref().len();
        if length < FOOTER_SIZE {
            return Err(Error::corruption(
                path,
                0,
                format!(
                    "file is {length} bytes, shorter than the {FOOTER_SIZE}-byte SSTable footer"
                ),
            ));
        }
        Self::from_shared(path.to_path_buf(), file_number, bytes, cache)
    }

    /// Opens a table held in memory; `name` is used in error messages. File number 0.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Table> {
        Self::from_shared(name.into(), FileNumber(0), Arc::new(bytes), None)
    }

    fn from_shared(
        file: PathBuf,
        file_number: FileNumber,
        bytes: SharedBytes,
        cache: Option<Arc<BlockCache<Block>>>,
    ) -> Result<Table> {
        let file: Arc<Path> = Arc::from(file);
        let footer = Footer::decode(&file, (*bytes).as_ref())?;
        let source = TableFile {
            file,
            bytes,
            footer,
        };
        source.check_layout()?;
        let properties = source.read_properties()?;
        source.check_range_deletion_layout(&properties)?;
        let filter = source.read_filter(&properties)?;
        let index = source.read_block(footer.index, true)?;
        source.check_index(&index, &properties)?;
        let range_tombstones = Arc::new(source.read_range_tombstones(&properties)?);
        let inner = TableInner {
            source,
            file_number,
            cache,
            index,
            filter,
            properties,
            range_tombstones,
        };
        Ok(Table {
            inner: Arc::new(inner),
            global: None,
        })
    }

    /// This table read at global sequence number `sequence` (FORMAT.md 6.1, tag 14): every
    /// entry is seen at `sequence` and every range tombstone at `sequence - 1`, whatever its
    /// file holds (so its tombstones delete what came before the table, not its own entries). Only for a
    /// table that holds each user key at most once and sequence number 0 throughout (what
    /// [`TableWriter`](crate::TableWriter) and a large batch write): refused otherwise, since
    /// two versions of a key at one sequence number would be ambiguous.
    pub fn at_global_sequence(mut self, sequence: SequenceNumber) -> Result<Table> {
        let properties = &self.inner.properties;
        if properties.largest_sequence != SequenceNumber(0)
            || properties.user_key_count != properties.entry_count
        {
            return Err(Error::corruption(
                self.file(),
                self.footer_offset(),
                format!(
                    "a table read at a global sequence number must hold each key once at \
                     sequence 0; this one holds {} entries of {} keys at sequence numbers \
                     up to {}",
                    properties.entry_count,
                    properties.user_key_count,
                    properties.largest_sequence
                ),
            ));
        }
        // A range tombstone at `sequence` would share its sequence number with the entries
        // it must not delete; one below them deletes exactly what came before the table.
        let tombstone_sequence = SequenceNumber(sequence.0.saturating_sub(1));
        let range_tombstones =
            Arc::new(self.inner.range_tombstones.at_sequence(tombstone_sequence));
        self.global = Some(Arc::new(GlobalSequence {
            sequence,
            range_tombstones,
        }));
        Ok(self)
    }

    /// The global sequence number the table is read at, if any
    /// ([`at_global_sequence`](Self::at_global_sequence)).
    pub fn global_sequence(&self) -> Option<SequenceNumber> {
        self.global.as_ref().map(|global| global.sequence)
    }

    /// The largest sequence number a reader sees in the table: the global one if it has one,
    /// else its properties'.
    pub fn largest_sequence(&self) -> SequenceNumber {
        self.global_sequence()
            .unwrap_or(self.inner.properties.largest_sequence)
    }

    fn footer_offset(&self) -> u64 {
        self.file_size().saturating_sub(FOOTER_SIZE as u64)
    }

    /// This table opened again over the bytes it already holds, without a block cache: the
    /// footer, properties, filter and index are checked afresh and every block is read from
    /// the bytes. For checking a table whose file may be gone (removed files stay readable
    /// while their bytes are mapped).
    pub(crate) fn reopen_uncached(&self) -> Result<Table> {
        let source = &self.inner.source;
        let table = Self::from_shared(
            source.file.to_path_buf(),
            self.inner.file_number,
            Arc::clone(&source.bytes),
            None,
        )?;
        match self.global_sequence() {
            Some(sequence) => table.at_global_sequence(sequence),
            None => Ok(table),
        }
    }

    /// The file this table was opened from (or the name given to [`from_bytes`](Self::from_bytes)).
    pub fn file(&self) -> &Path {
        &self.inner.source.file
    }

    /// The table's file number (0 for tables from [`from_bytes`](Self::from_bytes)).
    pub fn file_number(&self) -> FileNumber {
        self.inner.file_number
    }

    /// Size of the table in bytes.
    pub fn file_size(&self) -> u64 {
        (*self.inner.source.bytes).as_ref().len() as u64
    }

    /// The table's properties, read when it was opened.
    pub fn properties(&self) -> &TableProperties {
        &self.inner.properties
    }

    /// The footer, read when the table was opened.
    pub fn footer(&self) -> Footer {
        self.inner.source.footer
    }

    /// The index block, decoded when the table was opened: one entry per data block, keyed by a
    /// separator, valued by the encoded [`BlockHandle`].
    pub fn index_block(&self) -> &Arc<Block> {
        &self.inner.index
    }

    /// False if `user_key` is certainly absent; true if it may be present (always true when the
    /// table has no filter).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.inner
            .filter
            .as_ref()
            .is_none_or(|filter| filter.may_contain(user_key))
    }

    /// The block at `handle`: from the block cache if the table has one and holds it, else
    /// read, checked (if `options.verify_checksums`) and decoded, then cached if
    /// `options.fill_cache` and the checksum was verified (so that a cached block is always a
    /// verified one). Uncompressed blocks point into the table's bytes; compressed ones are
    /// decompressed into a new buffer.
    pub fn read_block(&self, handle: BlockHandle, options: BlockReadOptions) -> Result<Arc<Block>> {
        let Some(cache) = &self.inner.cache else {
            return self
                .inner
                .source
                .read_block(handle, options.verify_checksums);
        };
        let key = BlockKey {
            file: self.inner.file_number,
            offset: handle.offset,
        };
        if let Some(block) = cache.get(&key) {
            return Ok(block);
        }
        let block = self
            .inner
            .source
            .read_block(handle, options.verify_checksums)?;
        if options.fill_cache && options.verify_checksums {
            cache.insert(key, Arc::clone(&block), block.size());
        }
        Ok(block)
    }

    /// The table's range deletions (FORMAT.md 5.10), read and checked when it was opened (at
    /// the global sequence number, if the table has one).
    pub fn range_tombstones(&self) -> &Arc<Fragments> {
        match &self.global {
            Some(global) => &global.range_tombstones,
            None => &self.inner.range_tombstones,
        }
    }

    /// The table's key range as the manifest records it: its entries' and its range
    /// tombstones' (see [`TableSummary`](crate::sstable::TableSummary)).
    pub fn key_range(&self) -> (Vec<u8>, Vec<u8>) {
        let Some(global) = &self.global else {
            return crate::sstable::builder::table_key_range(
                &self.inner.properties,
                &self.inner.range_tombstones,
            );
        };
        let mut properties = self.inner.properties.clone();
        for key in [&mut properties.smallest_key, &mut properties.largest_key] {
            set_sequence(key, global.sequence);
        }
        crate::sstable::builder::table_key_range(&properties, &global.range_tombstones)
    }

    /// The newest entry for `user_key` with a sequence number <= `snapshot`, checking block
    /// checksums. `None` when the table holds no such entry.
    pub fn get(&self, user_key: &[u8], snapshot: SequenceNumber) -> Result<Option<LookupResult>> {
        self.get_with(user_key, snapshot, BlockReadOptions::default())
    }

    /// [`get`](Self::get), with checksum verification and caching as parameters.
    pub fn get_with(
        &self,
        user_key: &[u8],
        snapshot: SequenceNumber,
        options: BlockReadOptions,
    ) -> Result<Option<LookupResult>> {
        Ok(self
            .lookup_with(user_key, snapshot, options)?
            .map(|(_, result)| result))
    }

    /// [`get_with`](Self::get_with), with the sequence number of the entry found.
    pub fn lookup_with(
        &self,
        user_key: &[u8],
        snapshot: SequenceNumber,
        options: BlockReadOptions,
    ) -> Result<Option<(SequenceNumber, LookupResult)>> {
        if !self.may_contain(user_key) {
            return Ok(None);
        }
        let mut found = None;
        self.visit_versions(user_key, snapshot, options, |sequence, kind, value| {
            let result = match kind {
                ValueKind::Value => LookupResult::Value(value),
                ValueKind::Tombstone => LookupResult::Deleted,
                ValueKind::Merge => LookupResult::Merge(value),
            };
            found = Some((sequence, result));
            false
        })?;
        Ok(found)
    }

    /// Calls `visit` with the entries of `user_key` with a sequence number <= `snapshot`, newest
    /// first (sequence number, kind, value), while it returns true. Reads nothing if the filter
    /// rules the key out.
    pub fn visit_versions(
        &self,
        user_key: &[u8],
        snapshot: SequenceNumber,
        options: BlockReadOptions,
        mut visit: impl FnMut(SequenceNumber, ValueKind, Value) -> bool,
    ) -> Result<()> {
        if !self.may_contain(user_key) {
            return Ok(());
        }
        let snapshot = snapshot.min(SequenceNumber::MAX);
        // The merge kind has the largest trailer, so this is the first key of `user_key` at or
        // below `snapshot` in internal-key order.
        let target = internal_key(user_key, snapshot, ValueKind::Merge);
        let mut iterator = self.iter_with(options);
        iterator.seek(&target)?;
        while iterator.valid() {
            let parsed = parse_internal_key(iterator.key())
                .map_err(|reason| Error::corruption(self.file(), 0, reason))?;
            if parsed.user_key != user_key
                || !visit(parsed.sequence, parsed.kind, iterator.shared_value())
            {
                return Ok(());
            }
            iterator.next()?;
        }
        Ok(())
    }
}

impl TableFile {
    fn corruption(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::corruption(&self.file, offset, reason)
    }

    fn data_end(&self) -> u64 {
        ((*self.bytes).as_ref().len() - FOOTER_SIZE) as u64
    }

    /// The stored bytes and trailer of the block at `handle`, bounds-checked against the file.
    fn stored_with_trailer(&self, handle: BlockHandle) -> Result<(usize, usize)> {
        let end = handle
            .end_with_trailer()
            .filter(|&end| end <= self.data_end())
            .ok_or_else(|| {
                self.corruption(
                    handle.offset.min(self.data_end()),
                    format!(
                        "block handle (offset {}, size {}) runs past the end of the blocks at {}",
                        handle.offset,
                        handle.size,
                        self.data_end()
                    ),
                )
            })?;
        Ok((handle.offset as usize, end as usize))
    }

    fn read_data(&self, handle: BlockHandle, verify_checksums: bool) -> Result<(BlockData, bool)> {
        let (start, end) = self.stored_with_trailer(handle)?;
        let table = (*self.bytes).as_ref();
        let stored = table.get(start..end).unwrap_or(&[]);
        let payload = decode_stored_payload(&self.file, handle.offset, stored, verify_checksums)?;
        Ok(match payload {
            Some(contents) => (BlockData::Owned(contents), true),
            None => (
                BlockData::Shared {
                    bytes: Arc::clone(&self.bytes),
                    start,
                    end: end - BLOCK_TRAILER_SIZE,
                },
                false,
            ),
        })
    }

    fn read_block(&self, handle: BlockHandle, verify_checksums: bool) -> Result<Arc<Block>> {
        let (data, compressed) = self.read_data(handle, verify_checksums)?;
        let origin = BlockOrigin {
            file: Arc::clone(&self.file),
            offset: handle.offset,
            compressed,
        };
        Ok(Arc::new(Block::new(data, origin)?))
    }

    fn read_properties(&self) -> Result<TableProperties> {
        let handle = self.footer.properties;
        let (data, compressed) = self.read_data(handle, true)?;
        let offset_of =
            |position: usize| handle.offset + if compressed { 0 } else { position as u64 };
        TableProperties::decode(data.as_slice()).map_err(|error| {
            self.corruption(
                offset_of(error.offset),
                format!("properties block: {}", error.reason),
            )
        })
    }

    fn read_filter(&self, properties: &TableProperties) -> Result<Option<BloomFilter>> {
        let handle = self.footer.filter;
        if handle == BlockHandle::default() {
            if properties.bloom_bits_per_key != 0 {
                return Err(self.corruption(self.data_end(), "filter block missing"));
            }
            return Ok(None);
        }
        if properties.bloom_bits_per_key == 0 {
            return Err(self.corruption(
                handle.offset,
                "filter block present in a table built without a filter",
            ));
        }
        let (data, _) = self.read_data(handle, true)?;
        BloomFilter::decode(data.as_slice())
            .map(Some)
            .map_err(|(position, reason)| {
                self.corruption(
                    handle.offset + position as u64,
                    format!("filter block: {reason}"),
                )
            })
    }

    /// The writer puts data blocks, filter, index and properties back to back before the footer;
    /// anything else is corruption (and would otherwise hide damaged bytes between blocks).
    fn check_layout(&self) -> Result<()> {
        let Footer {
            index,
            filter,
            properties,
            ..
        } = self.footer;
        let filter_in_place =
            filter == BlockHandle::default() || filter.end_with_trailer() == Some(index.offset);
        // A range-deletion block sits between the index and the properties; where exactly is
        // checked once the properties (which hold its handle) are read.
        let index_in_place = match self.footer.version {
            FORMAT_VERSION => index.end_with_trailer() == Some(properties.offset),
            _ => index
                .end_with_trailer()
                .is_some_and(|end| end <= properties.offset),
        };
        if !filter_in_place
            || !index_in_place
            || properties.end_with_trailer() != Some(self.data_end())
        {
            return Err(self.corruption(
                self.data_end(),
                "footer block handles do not tile the end of the file",
            ));
        }
        Ok(())
    }

    /// A table of version 2 has a range-deletion block, exactly between the index and the
    /// properties; one of version 1 has none (an older reader would not see it).
    fn check_range_deletion_layout(&self, properties: &TableProperties) -> Result<()> {
        let handle = properties.range_deletion_handle;
        let has_block = properties.range_deletion_count > 0;
        let in_place = self.footer.index.end_with_trailer() == Some(handle.offset)
            && handle.end_with_trailer() == Some(self.footer.properties.offset);
        let consistent = match self.footer.version {
            FORMAT_VERSION => !has_block,
            FORMAT_VERSION_RANGE_DELETIONS => has_block && in_place,
            FORMAT_VERSION_MERGES => !has_block || in_place,
            _ => false,
        };
        if !consistent {
            return Err(self.corruption(
                self.footer.properties.offset,
                format!(
                    "range-deletion block (offset {}, size {}, {} tombstones) does not fit a \
                     table of format version {} between its index and properties",
                    handle.offset,
                    handle.size,
                    properties.range_deletion_count,
                    self.footer.version
                ),
            ));
        }
        Ok(())
    }

    /// The range tombstones, decoded and checked against the properties (count, sequence
    /// range).
    fn read_range_tombstones(&self, properties: &TableProperties) -> Result<Fragments> {
        if properties.range_deletion_count == 0 {
            return Ok(Fragments::empty());
        }
        let handle = properties.range_deletion_handle;
        let (data, compressed) = self.read_data(handle, true)?;
        let offset_of =
            |position: usize| handle.offset + if compressed { 0 } else { position as u64 };
        let fragments = Fragments::decode(data.as_slice()).map_err(|error| {
            self.corruption(
                offset_of(error.offset),
                format!("range-deletion block: {}", error.reason),
            )
        })?;
        let in_sequence_range = fragments.sequence_range().is_some_and(|(low, high)| {
            properties.smallest_sequence <= low && high <= properties.largest_sequence
        });
        if fragments.len() as u64 != properties.range_deletion_count || !in_sequence_range {
            return Err(self.corruption(
                handle.offset,
                format!(
                    "range-deletion block holds {} tombstones; the properties say {} within \
                     sequence numbers {}..={}",
                    fragments.len(),
                    properties.range_deletion_count,
                    properties.smallest_sequence,
                    properties.largest_sequence
                ),
            ));
        }
        Ok(fragments)
    }

    /// Checks that the index lists contiguous data blocks from offset 0 up to the meta blocks,
    /// with strictly increasing keys, as many as the properties say.
    fn check_index(&self, index: &Arc<Block>, properties: &TableProperties) -> Result<()> {
        let data_end = if self.footer.filter == BlockHandle::default() {
            self.footer.index.offset
        } else {
            self.footer.filter.offset
        };
        let mut iterator = index.iter();
        iterator.seek_to_first()?;
        let (mut expected_offset, mut count, mut previous_key) = (0u64, 0u64, Vec::new());
        while iterator.valid() {
            let handle = decode_handle(&iterator)?;
            let ordered =
                count == 0 || compare_internal_keys(&previous_key, iterator.key()).is_lt();
            if handle.offset != expected_offset
                || !ordered
                || parse_internal_key(iterator.key()).is_err()
            {
                return Err(self.corruption(
                    self.footer.index.offset,
                    format!("index entry {count} is out of order or not contiguous"),
                ));
            }
            expected_offset = handle.end_with_trailer().unwrap_or(u64::MAX);
            count += 1;
            previous_key.clear();
            previous_key.extend_from_slice(iterator.key());
            iterator.next()?;
        }
        if count != properties.data_block_count
            || expected_offset != data_end
            || expected_offset != properties.data_size
        {
            return Err(self.corruption(
                self.footer.index.offset,
                format!(
                    "index lists {count} data blocks ending at {expected_offset}; properties say {} \
                     blocks of {} bytes, meta blocks start at {data_end}",
                    properties.data_block_count, properties.data_size
                ),
            ));
        }
        Ok(())
    }
}

/// Replaces the sequence number in the trailer of internal key `key`, keeping its kind (a key
/// shorter than a trailer, which no valid table holds, is left alone).
pub(crate) fn set_sequence(key: &mut [u8], sequence: SequenceNumber) {
    let Some(start) = key.len().checked_sub(crate::key::TRAILER_SIZE) else {
        return;
    };
    let Some(trailer) = key.get_mut(start..) else {
        return;
    };
    let kind = u64::from(trailer.first().copied().unwrap_or(0));
    trailer.copy_from_slice(&((sequence.0 << 8) | kind).to_le_bytes());
}

/// Decodes the block handle in an index entry's value.
pub(crate) fn decode_handle(index: &crate::sstable::block::BlockIterator) -> Result<BlockHandle> {
    let mut cursor = Cursor::new(index.value());
    let handle = BlockHandle::decode_from(&mut cursor);
    match handle {
        Ok(handle) if cursor.is_empty() => Ok(handle),
        _ => Err(index
            .block()
            .origin()
            .corruption(0, "index entry value is not a block handle")),
    }
}
