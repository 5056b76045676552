//! The fixed parts of the SSTable format: constants, block handles, the block trailer and the
//! footer.
//!
//! Everything in this file is part of the on-disk format; never change it. FORMAT.md, section 5
//! ("SSTable format"), is the source of truth: a change to a layout here changes FORMAT.md in the
//! same commit. Decoders never index blindly; they go through [`Cursor`] or check lengths first,
//! and report damage as `Error::Corruption` naming the file and the byte offset.

use std::path::Path;

use crate::coding::{Cursor, DecodeError, put_u32, put_u64, put_varint64};
use crate::error::{Error, Result};

/// The last 8 bytes of every SSTable. Part of the on-disk format; never change.
pub const TABLE_MAGIC: [u8; 8] = *b"SHALESST";
/// The SSTable format version of a table without range deletions: this code writes it for
/// every such table and reads it. Part of the on-disk format.
pub const FORMAT_VERSION: u32 = 1;
/// The SSTable format version of a table with a range-deletion block (FORMAT.md 5.10), which a
/// reader of version 1 alone would ignore: it must refuse such a table instead. Part of the
/// on-disk format.
pub const FORMAT_VERSION_RANGE_DELETIONS: u32 = 2;
/// The SSTable format version of a table holding merge operands (internal-key kind `0x02`,
/// FORMAT.md 3), with or without a range-deletion block: a reader of version 2 would not know
/// the kind, so it must refuse the table by its version. Part of the on-disk format.
pub const FORMAT_VERSION_MERGES: u32 = 3;
/// Size of the footer at the end of every SSTable. Part of the on-disk format; never change.
pub const FOOTER_SIZE: usize = 64;
/// Bytes after every stored block: compression type (`u8`) and CRC32 (`u32`). Part of the
/// on-disk format; never change.
pub const BLOCK_TRAILER_SIZE: usize = 5;
/// Compression type byte of a block stored as is. Part of the on-disk format; never change.
pub const COMPRESSION_TYPE_NONE: u8 = 0;
/// Compression type byte of an LZ4 block (`varint32` uncompressed length, then an LZ4 block).
/// Part of the on-disk format; never change.
pub const COMPRESSION_TYPE_LZ4: u8 = 1;
/// The largest decoded block a reader accepts (128 MiB), and the largest a writer produces.
/// A data block holds at most one entry over the target size, so it stays below
/// `MAX_KEY_SIZE + MAX_VALUE_SIZE` plus a few bytes; only a pathological index could grow past
/// this, and the writer refuses it.
pub const MAX_BLOCK_SIZE: usize = 128 << 20;
/// An LZ4 block expands at most about 255 times (each extra match-length byte adds 255 output
/// bytes), so a claimed uncompressed length above `stored * 256 + 1024` is corruption. This
/// bound keeps a damaged length from allocating more than the file can justify.
pub const MAX_LZ4_EXPANSION: usize = 256;

/// Where a block lives in the file: the offset of its first byte and the size of its stored
/// bytes, not counting the 5-byte trailer that follows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockHandle {
    /// Offset of the block's first byte in the file.
    pub offset: u64,
    /// Stored size of the block, without its trailer.
    pub size: u64,
}

impl BlockHandle {
    /// Appends the handle as `varint64 offset, varint64 size` (index block values).
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint64(out, self.offset);
        put_varint64(out, self.size);
    }

    /// Reads a handle written by [`BlockHandle::encode_to`].
    pub fn decode_from(cursor: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let offset = cursor.varint64()?;
        let size = cursor.varint64()?;
        Ok(BlockHandle { offset, size })
    }

    /// The offset just past the block's trailer, or `None` if that overflows.
    pub fn end_with_trailer(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_SIZE as u64)
    }
}

/// The CRC32 stored in a block trailer: it covers the stored block bytes, then the type byte.
pub fn block_checksum(stored: &[u8], compression_type: u8) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(stored);
    hasher.update(&[compression_type]);
    hasher.finalize()
}

/// The fixed-size end of an SSTable: where the meta blocks are, the version, a checksum and the
/// magic number.
///
/// Layout (all little-endian): index handle (`u64` offset, `u64` size) at 0, filter handle at 16,
/// properties handle at 32, format version `u32` at 48, CRC32 of bytes 0..52 at 52, magic at 56.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: BlockHandle,
    /// The bloom filter block; `{offset: 0, size: 0}` when the table has no filter.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
    /// [`FORMAT_VERSION`], or [`FORMAT_VERSION_RANGE_DELETIONS`] for a table with range
    /// deletions.
    pub version: u32,
}

impl Default for Footer {
    fn default() -> Self {
        Footer {
            index: BlockHandle::default(),
            filter: BlockHandle::default(),
            properties: BlockHandle::default(),
            version: FORMAT_VERSION,
        }
    }
}

const FOOTER_VERSION_OFFSET: usize = 48;
const FOOTER_CHECKSUM_OFFSET: usize = 52;
const FOOTER_MAGIC_OFFSET: usize = 56;

impl Footer {
    /// The footer's 64 bytes.
    pub fn encode(&self) -> [u8; FOOTER_SIZE] {
        let mut out = Vec::with_capacity(FOOTER_SIZE);
        for handle in [self.index, self.filter, self.properties] {
            put_u64(&mut out, handle.offset);
            put_u64(&mut out, handle.size);
        }
        put_u32(&mut out, self.version);
        let checksum = crc32fast::hash(&out);
        put_u32(&mut out, checksum);
        out.extend_from_slice(&TABLE_MAGIC);
        let mut bytes = [0u8; FOOTER_SIZE];
        bytes.copy_from_slice(&out);
        bytes
    }

    /// Decodes the footer at the end of `table` (the whole file), checking in order: length,
    /// magic, version, checksum. Errors name `file` and the offset of the bad field.
    pub fn decode(file: &Path, table: &[u8]) -> Result<Footer> {
        let Some(start) = table.len().checked_sub(FOOTER_SIZE) else {
            return Err(Error::corruption(
                file,
                0,
                format!(
                    "file is {} bytes, shorter than the {FOOTER_SIZE}-byte SSTable footer",
                    table.len()
                ),
            ));
        };
        let footer = &table[start..];
        let at = |field_offset: usize| (start + field_offset) as u64;
        if footer[FOOTER_MAGIC_OFFSET..] != TABLE_MAGIC {
            return Err(Error::corruption(
                file,
                at(FOOTER_MAGIC_OFFSET),
                "bad magic number: not an SSTable, or truncated",
            ));
        }
        let mut cursor = Cursor::new(&footer[FOOTER_VERSION_OFFSET..FOOTER_MAGIC_OFFSET]);
        let version = cursor.u32().map_err(|e| e.into_corruption(file, at(48)))?;
        let stored_checksum = cursor.u32().map_err(|e| e.into_corruption(file, at(52)))?;
        if ![
            FORMAT_VERSION,
            FORMAT_VERSION_RANGE_DELETIONS,
            FORMAT_VERSION_MERGES,
        ]
        .contains(&version)
        {
            return Err(Error::corruption(
                file,
                at(FOOTER_VERSION_OFFSET),
                format!(
                    "unknown SSTable format version {version} (this build reads versions \
                     {FORMAT_VERSION} to {FORMAT_VERSION_MERGES}); a newer shaledb wrote it"
                ),
            ));
        }
        if crc32fast::hash(&footer[..FOOTER_CHECKSUM_OFFSET]) != stored_checksum {
            return Err(Error::corruption(
                file,
                at(FOOTER_CHECKSUM_OFFSET),
                "footer checksum mismatch",
            ));
        }
        let mut cursor = Cursor::new(&footer[..FOOTER_VERSION_OFFSET]);
        let mut handle = || -> Result<BlockHandle, DecodeError> {
            Ok(BlockHandle {
                offset: cursor.u64()?,
                size: cursor.u64()?,
            })
        };
        let decode_error = |e: DecodeError| e.into_corruption(file, start as u64);
        Ok(Footer {
            index: handle().map_err(decode_error)?,
            filter: handle().map_err(decode_error)?,
            properties: handle().map_err(decode_error)?,
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trip_and_layout() {
        let footer = Footer {
            index: BlockHandle { offset: 1, size: 2 },
            filter: BlockHandle { offset: 3, size: 4 },
            properties: BlockHandle { offset: 5, size: 6 },
            version: FORMAT_VERSION,
        };
        let bytes = footer.encode();
        assert_eq!(&bytes[56..], b"SHALESST");
        assert_eq!(&bytes[48..52], &[1, 0, 0, 0]);
        assert_eq!(Footer::decode(Path::new("t"), &bytes).unwrap(), footer);
        let mut damaged = bytes;
        damaged[3] ^= 1;
        let error = Footer::decode(Path::new("t"), &damaged).unwrap_err();
        assert!(error.to_string().contains("footer checksum"), "{error}");
    }

    #[test]
    fn unknown_version_is_named() {
        let mut bytes = Footer::default().encode();
        bytes[48] = 7;
        let error = Footer::decode(Path::new("t"), &bytes).unwrap_err();
        assert!(error.to_string().contains("version 7"), "{error}");
    }
}
