//! [`Block`]: a decoded block (data or index) and [`BlockIterator`], which walks its entries in
//! both directions and seeks by internal key.
//!
//! FORMAT.md, section 5 ("Blocks" and "Stored blocks"), is the source of truth. A block is
//! validated when it is constructed (restart array in bounds, first restart at 0, restarts
//! strictly increasing); entries are validated as the iterator decodes them (lengths in bounds,
//! a restart entry shares nothing, no entry straddles a restart point). Any violation is an
//! `Error::Corruption` naming the file and offset; nothing here panics on bad bytes.
//!
//! A block is immutable and shared through `Arc`, so a block cache can hand the same decoded block
//! to many iterators. Uncompressed blocks read from a table point into the table's bytes (the
//! memory map) instead of copying them.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::coding::Cursor;
use crate::error::{Error, Result};
use crate::key::{MAX_KEY_SIZE, TRAILER_SIZE, compare_internal_keys};
use crate::sstable::format::{
    BLOCK_TRAILER_SIZE, COMPRESSION_TYPE_LZ4, COMPRESSION_TYPE_NONE, MAX_BLOCK_SIZE,
    MAX_LZ4_EXPANSION, block_checksum,
};
use crate::value::{SharedBuffer, Value};

/// The largest key a block may hold: an internal key of the largest user key.
const MAX_BLOCK_KEY_SIZE: usize = MAX_KEY_SIZE + TRAILER_SIZE;

/// Bytes shared between a table and the blocks decoded from it (a memory map or a vector).
pub type SharedBytes = SharedBuffer;

/// The bytes of a decoded block: owned (decompressed or copied), or a range of a table's bytes.
#[derive(Clone)]
pub enum BlockData {
    /// Bytes the block owns.
    Owned(Vec<u8>),
    /// `start..end` of a table's bytes, kept alive by the `Arc`.
    Shared {
        /// The whole table.
        bytes: SharedBytes,
        /// First byte of the block contents.
        start: usize,
        /// One past the last byte of the block contents.
        end: usize,
    },
}

impl BlockData {
    /// The block contents.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            BlockData::Owned(bytes) => bytes,
            BlockData::Shared { bytes, start, end } => {
                // The reader builds `Shared` only from a range it bounds-checked.
                (**bytes).as_ref().get(*start..*end).unwrap_or(&[])
            }
        }
    }
}

impl fmt::Debug for BlockData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockData({} bytes)", self.as_slice().len())
    }
}

/// Where a block came from, so that errors can name the file and offset.
#[derive(Debug, Clone)]
pub struct BlockOrigin {
    /// The file the block was read from.
    pub file: Arc<Path>,
    /// Offset of the block's stored bytes in the file.
    pub offset: u64,
    /// Whether the block was decompressed (then offsets inside it are not file offsets).
    pub compressed: bool,
}

impl BlockOrigin {
    /// A corruption error at byte `position` of the decoded block.
    pub fn corruption(&self, position: usize, reason: &str) -> Error {
        if self.compressed {
            Error::corruption(
                &self.file,
                self.offset,
                format!("{reason} (at byte {position} of the block decompressed from here)"),
            )
        } else {
            Error::corruption(&self.file, self.offset + position as u64, reason)
        }
    }
}

/// Checks a stored block's trailer and decompresses it if needed. `stored_with_trailer` holds the
/// stored bytes followed by the 5-byte trailer; `offset` is where it starts in `file`. Returns
/// `None` when the block is stored uncompressed (its contents are the stored bytes).
pub(crate) fn decode_stored_payload(
    file: &Path,
    offset: u64,
    stored_with_trailer: &[u8],
    verify_checksums: bool,
) -> Result<Option<Vec<u8>>> {
    let Some(stored_size) = stored_with_trailer.len().checked_sub(BLOCK_TRAILER_SIZE) else {
        return Err(Error::corruption(
            file,
            offset,
            "block shorter than its trailer",
        ));
    };
    let (stored, trailer) = stored_with_trailer.split_at(stored_size);
    let trailer_offset = offset + stored_size as u64;
    let mut cursor = Cursor::new(trailer);
    let compression_type = cursor
        .u8()
        .map_err(|e| e.into_corruption(file, trailer_offset))?;
    let checksum = cursor
        .u32()
        .map_err(|e| e.into_corruption(file, trailer_offset))?;
    if verify_checksums && block_checksum(stored, compression_type) != checksum {
        return Err(Error::corruption(
            file,
            offset,
            format!("block checksum mismatch (block of {stored_size} stored bytes)"),
        ));
    }
    match compression_type {
        COMPRESSION_TYPE_NONE => Ok(None),
        COMPRESSION_TYPE_LZ4 => decompress_lz4(file, offset, stored).map(Some),
        other => Err(Error::corruption(
            file,
            trailer_offset,
            format!("unknown block compression type {other}"),
        )),
    }
}

fn decompress_lz4(file: &Path, offset: u64, stored: &[u8]) -> Result<Vec<u8>> {
    let mut cursor = Cursor::new(stored);
    let length = cursor
        .varint32()
        .map_err(|e| e.into_corruption(file, offset))? as usize;
    let compressed = cursor
        .bytes(cursor.remaining())
        .map_err(|e| e.into_corruption(file, offset))?;
    let bound = compressed
        .len()
        .saturating_mul(MAX_LZ4_EXPANSION)
        .saturating_add(1024)
        .min(MAX_BLOCK_SIZE);
    if length > bound {
        return Err(Error::corruption(
            file,
            offset,
            format!(
                "LZ4 block claims {length} uncompressed bytes, more than {bound} possible from {} stored bytes",
                compressed.len()
            ),
        ));
    }
    let mut contents = vec![0u8; length];
    match lz4_flex::block::decompress_into(compressed, &mut contents) {
        Ok(written) if written == length => Ok(contents),
        Ok(written) => Err(Error::corruption(
            file,
            offset,
            format!("LZ4 block decompressed to {written} bytes, expected {length}"),
        )),
        Err(error) => Err(Error::corruption(
            file,
            offset,
            format!("LZ4 decompression failed: {error}"),
        )),
    }
}

/// A decoded block: entries, then the restart array, then the restart count.
#[derive(Debug)]
pub struct Block {
    data: BlockData,
    restarts_offset: usize,
    restart_count: usize,
    origin: BlockOrigin,
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        self.contents()
    }
}

impl Block {
    /// Validates the restart array of `data` and wraps it.
    pub fn new(data: BlockData, origin: BlockOrigin) -> Result<Block> {
        let contents = data.as_slice();
        let length = contents.len();
        let Some(count_offset) = length.checked_sub(4) else {
            return Err(origin.corruption(0, "block shorter than its restart count"));
        };
        let mut cursor = Cursor::new(&contents[count_offset..]);
        let restart_count = cursor
            .u32()
            .map_err(|_| origin.corruption(count_offset, "bad restart count"))?
            as usize;
        let restarts_offset = restart_count
            .checked_mul(4)
            .and_then(|size| count_offset.checked_sub(size))
            .filter(|_| restart_count >= 1)
            .ok_or_else(|| {
                origin.corruption(
                    count_offset,
                    &format!("restart count {restart_count} does not fit in a {length}-byte block"),
                )
            })?;
        let block = Block {
            data,
            restarts_offset,
            restart_count,
            origin,
        };
        block.check_restarts()?;
        Ok(block)
    }

    /// A block from raw contents (no trailer, uncompressed); errors name `file`, offsets count
    /// from the start of `contents`.
    pub fn from_contents(file: impl Into<PathBuf>, contents: Vec<u8>) -> Result<Block> {
        let origin = BlockOrigin {
            file: Arc::from(file.into()),
            offset: 0,
            compressed: false,
        };
        Block::new(BlockData::Owned(contents), origin)
    }

    /// A block from its stored bytes followed by the 5-byte trailer, as found at `offset` in
    /// `file`: checks the checksum (if asked), decompresses, validates.
    pub fn decode_stored(
        file: impl Into<PathBuf>,
        offset: u64,
        stored_with_trailer: &[u8],
        verify_checksums: bool,
    ) -> Result<Block> {
        let file: Arc<Path> = Arc::from(file.into());
        let payload = decode_stored_payload(&file, offset, stored_with_trailer, verify_checksums)?;
        let compressed = payload.is_some();
        let contents = payload.unwrap_or_else(|| {
            let stored_size = stored_with_trailer.len() - BLOCK_TRAILER_SIZE;
            stored_with_trailer[..stored_size].to_vec()
        });
        let origin = BlockOrigin {
            file,
            offset,
            compressed,
        };
        Block::new(BlockData::Owned(contents), origin)
    }

    /// The decoded contents, restart array included.
    pub fn contents(&self) -> &[u8] {
        self.data.as_slice()
    }

    /// Decoded size in bytes (what a block cache charges for it).
    pub fn size(&self) -> usize {
        self.contents().len()
    }

    /// Where the block came from.
    pub fn origin(&self) -> &BlockOrigin {
        &self.origin
    }

    /// An iterator over the block's entries, not yet positioned.
    pub fn iter(self: &Arc<Self>) -> BlockIterator {
        BlockIterator::new(Arc::clone(self))
    }

    fn restart(&self, index: usize) -> usize {
        let position = self.restarts_offset + 4 * index;
        let mut word = [0u8; 4];
        if let Some(bytes) = self.contents().get(position..position + 4) {
            word.copy_from_slice(bytes);
        }
        u32::from_le_bytes(word) as usize
    }

    fn check_restarts(&self) -> Result<()> {
        if self.restart(0) != 0 {
            return Err(self
                .origin
                .corruption(self.restarts_offset, "first restart point is not 0"));
        }
        for index in 1..self.restart_count {
            let restart = self.restart(index);
            if restart <= self.restart(index - 1) || restart >= self.restarts_offset {
                return Err(self.origin.corruption(
                    self.restarts_offset + 4 * index,
                    &format!("restart point {index} at {restart} is out of order or out of bounds"),
                ));
            }
        }
        Ok(())
    }
}

/// One decoded entry header: where the key delta and the value are.
struct EntryHeader {
    shared: usize,
    delta_start: usize,
    value_start: usize,
    value_end: usize,
}

/// Walks a [`Block`]'s entries. Every step returns `Err` on damage and leaves the iterator
/// invalid; it never panics on bad bytes.
#[derive(Debug)]
pub struct BlockIterator {
    block: Arc<Block>,
    /// Offset of the current entry; `restarts_offset` when not valid.
    current: usize,
    next_offset: usize,
    restart_index: usize,
    key: Vec<u8>,
    value_start: usize,
    value_end: usize,
}

impl BlockIterator {
    fn new(block: Arc<Block>) -> Self {
        let end = block.restarts_offset;
        BlockIterator {
            block,
            current: end,
            next_offset: end,
            restart_index: 0,
            key: Vec::new(),
            value_start: 0,
            value_end: 0,
        }
    }

    /// Whether the iterator is at an entry.
    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_offset
    }

    /// The current entry's key. Only meaningful when [`valid`](Self::valid).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current entry's value. Only meaningful when [`valid`](Self::valid).
    pub fn value(&self) -> &[u8] {
        self.block
            .contents()
            .get(self.value_start..self.value_end)
            .unwrap_or(&[])
    }

    /// The block being iterated.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    /// The current entry's value as a [`Value`] that shares the block instead of copying it
    /// (empty when not valid).
    pub fn shared_value(&self) -> Value {
        if self.value_start <= self.value_end && self.value_end <= self.block.contents().len() {
            let owner: SharedBuffer = Arc::clone(&self.block) as SharedBuffer;
            Value::from_shared_buffer(owner, self.value_start..self.value_end)
        } else {
            Value::from(Vec::new())
        }
    }

    /// Positions at the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.seek_to_restart(0);
        self.parse_next()
    }

    /// Positions at the last entry (invalid if the block is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        self.seek_to_restart(self.block.restart_count - 1);
        self.parse_next()?;
        while self.valid() && self.next_offset < self.block.restarts_offset {
            self.parse_next()?;
        }
        Ok(())
    }

    /// Positions at the first entry whose key is >= `target` in internal-key order (invalid if
    /// there is none).
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        let mut left = 0;
        let mut right = self.block.restart_count - 1;
        while left < right {
            let middle = (left + right).div_ceil(2);
            let key = self.key_at_restart(middle)?;
            if compare_internal_keys(key, target) == Ordering::Less {
                left = middle;
            } else {
                right = middle - 1;
            }
        }
        self.seek_to_restart(left);
        loop {
            self.parse_next()?;
            if !self.valid() || compare_internal_keys(&self.key, target) != Ordering::Less {
                return Ok(());
            }
        }
    }

    /// Moves to the next entry (invalid after the last). A no-op when not valid.
    // The lint only looks at exported methods: without `internals` this one is crate-private.
    #[cfg_attr(
        feature = "internals",
        expect(
            clippy::should_implement_trait,
            reason = "a fallible cursor step, not an Iterator: it returns Result and yields nothing"
        )
    )]
    pub fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.parse_next()
    }

    /// Moves to the previous entry (invalid before the first). A no-op when not valid.
    pub fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        let original = self.current;
        let mut index = self.restart_index;
        while self.block.restart(index) >= original {
            if index == 0 {
                self.invalidate();
                return Ok(());
            }
            index -= 1;
        }
        self.seek_to_restart(index);
        loop {
            self.parse_next()?;
            if !self.valid() || self.next_offset > original {
                return Err(self.fail(original, "entries do not lead back to the current entry"));
            }
            if self.next_offset == original {
                return Ok(());
            }
        }
    }

    fn seek_to_restart(&mut self, index: usize) {
        self.key.clear();
        self.restart_index = index;
        self.current = self.block.restarts_offset;
        self.next_offset = self.block.restart(index);
    }

    fn invalidate(&mut self) {
        self.current = self.block.restarts_offset;
        self.next_offset = self.block.restarts_offset;
        self.key.clear();
    }

    fn fail(&mut self, position: usize, reason: &str) -> Error {
        self.invalidate();
        self.block.origin.corruption(position, reason)
    }

    /// Decodes the entry at `next_offset` into the current position.
    fn parse_next(&mut self) -> Result<()> {
        let offset = self.next_offset;
        if offset >= self.block.restarts_offset {
            self.invalidate();
            return Ok(());
        }
        self.advance_restart_index(offset)?;
        let header = self.decode_header(offset)?;
        let at_restart = self.block.restart(self.restart_index) == offset;
        if header.shared > self.key.len() || (at_restart && header.shared != 0) {
            return Err(self.fail(
                offset,
                "entry shares more key bytes than the previous key has",
            ));
        }
        if header.shared + (header.value_start - header.delta_start) > MAX_BLOCK_KEY_SIZE {
            return Err(self.fail(offset, "entry key longer than the largest internal key"));
        }
        let contents = self.block.data.as_slice();
        self.key.truncate(header.shared);
        self.key
            .extend_from_slice(&contents[header.delta_start..header.value_start]);
        self.current = offset;
        self.next_offset = header.value_end;
        self.value_start = header.value_start;
        self.value_end = header.value_end;
        Ok(())
    }

    /// Moves `restart_index` to the restart region holding `offset`; an entry that started
    /// before a restart point and ends after it is corruption.
    fn advance_restart_index(&mut self, offset: usize) -> Result<()> {
        while self.restart_index + 1 < self.block.restart_count {
            let next_restart = self.block.restart(self.restart_index + 1);
            if next_restart > offset {
                break;
            }
            if next_restart < offset {
                return Err(self.fail(next_restart, "an entry straddles a restart point"));
            }
            self.restart_index += 1;
        }
        Ok(())
    }

    fn decode_header(&mut self, offset: usize) -> Result<EntryHeader> {
        let end = self.block.restarts_offset;
        let entries = self.block.data.as_slice().get(offset..end).unwrap_or(&[]);
        let mut cursor = Cursor::new(entries);
        let decoded = (|| {
            let (shared, unshared, value_length) = match entries {
                // Fast path: with small keys and values all three lengths take one byte each.
                &[shared, unshared, value_length, ..]
                    if (shared | unshared | value_length) < 0x80 =>
                {
                    cursor.bytes(3)?;
                    (shared as usize, unshared as usize, value_length as usize)
                }
                _ => (
                    cursor.varint32()? as usize,
                    cursor.varint32()? as usize,
                    cursor.varint32()? as usize,
                ),
            };
            let delta_start = cursor.position();
            cursor.bytes(unshared)?;
            let value_start = cursor.position();
            cursor.bytes(value_length)?;
            Ok::<_, crate::coding::DecodeError>(EntryHeader {
                shared,
                delta_start: offset + delta_start,
                value_start: offset + value_start,
                value_end: offset + cursor.position(),
            })
        })();
        decoded.map_err(|error| self.fail(offset + error.offset, error.reason))
    }

    /// The full key of the entry at restart point `index` (which must share nothing).
    fn key_at_restart(&mut self, index: usize) -> Result<&[u8]> {
        let offset = self.block.restart(index);
        let header = self.decode_header(offset)?;
        if header.shared != 0 {
            return Err(self.fail(offset, "restart entry shares key bytes"));
        }
        Ok(&self.block.data.as_slice()[header.delta_start..header.value_start])
    }
}
