//! The constants and small codecs of the log format: block size, file header, fragment header
//! and fragment types. FORMAT.md, section 4 "Log format", is the source of truth; every constant
//! here is **part of the on-disk format; never change** it (a change is a new format version).
//!
//! Invariants: a fragment never crosses a block boundary; the file header occupies the first
//! [`FILE_HEADER_SIZE`] bytes of block 0; fragment header offsets are absolute file offsets.

use std::fmt;

/// Size of a log block. Fragments never cross a block boundary, so a reader can always resume
/// at the next multiple of this offset. Part of the on-disk format; never change.
pub const BLOCK_SIZE: usize = 32 * 1024;

/// Size of a fragment header: CRC32 (4) + payload length (2) + fragment type (1).
/// Part of the on-disk format; never change.
pub const FRAGMENT_HEADER_SIZE: usize = 7;

/// Size of the file header at the start of block 0: magic (8) + version (2) + kind (1) +
/// reserved (1) + CRC32 (4). Part of the on-disk format; never change.
pub const FILE_HEADER_SIZE: usize = 16;

/// The magic number that opens every log file: the ASCII bytes `shaleLOG`.
/// Part of the on-disk format; never change.
pub const LOG_MAGIC: [u8; 8] = *b"shaleLOG";

/// The first log format version: the framing of this section, used by every log. Manifests are
/// still written with it. Part of the on-disk format; never change.
pub const LOG_FORMAT_VERSION: u16 = 1;

/// The log format version of write-ahead logs this build writes: version 1 framing, the
/// records may include sync markers (FORMAT.md 7.1, since version 2), and batches may hold range
/// deletions (FORMAT.md 7, since version 3), which a reader of version 2 would take for damage,
/// and operations may name a keyspace (FORMAT.md 7, since version 4), and batches may hold
/// merge operands (FORMAT.md 7, operation `0x03`, since version 5).
/// Write-ahead logs of versions 1 to 4 are still read. Part of the on-disk format; never
/// change.
pub const WAL_FORMAT_VERSION: u16 = 5;

/// Every log format version this build reads for logs of `kind`.
pub fn readable_versions(kind: LogFileKind) -> &'static [u16] {
    match kind {
        LogFileKind::Wal => &[LOG_FORMAT_VERSION, 2, 3, 4, WAL_FORMAT_VERSION],
        LogFileKind::Manifest => &[LOG_FORMAT_VERSION],
    }
}

/// The log format version this build writes for logs of `kind`.
pub fn format_version(kind: LogFileKind) -> u16 {
    match kind {
        LogFileKind::Wal => WAL_FORMAT_VERSION,
        LogFileKind::Manifest => LOG_FORMAT_VERSION,
    }
}

/// Whether this build reads logs of `kind` written with format `version`.
pub fn reads_version(kind: LogFileKind, version: u16) -> bool {
    readable_versions(kind).contains(&version)
}

/// Which kind of file a log is; stored in the file header so that a manifest can never be
/// replayed as a write-ahead log or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFileKind {
    /// A write-ahead log (`NNNNNN.wal`); stored as `1`.
    Wal,
    /// A manifest (`MANIFEST-NNNNNN`); stored as `2`.
    Manifest,
}

impl LogFileKind {
    /// The byte stored in the file header. Part of the on-disk format; never change.
    pub fn to_byte(self) -> u8 {
        match self {
            LogFileKind::Wal => 1,
            LogFileKind::Manifest => 2,
        }
    }

    /// The kind stored as `byte`, or `None` for a byte no version-1 writer produces.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(LogFileKind::Wal),
            2 => Some(LogFileKind::Manifest),
            _ => None,
        }
    }
}

impl fmt::Display for LogFileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogFileKind::Wal => f.write_str("WAL"),
            LogFileKind::Manifest => f.write_str("MANIFEST"),
        }
    }
}

/// The type byte of a fragment: how the fragment's payload relates to its record.
/// The discriminants are part of the on-disk format; never change them. `0` is never a
/// fragment type: it is what zero-filled (preallocated or padding) bytes read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FragmentType {
    /// The whole record.
    Full = 1,
    /// The first fragment of a record that continues in the next block.
    First = 2,
    /// A fragment inside a record: neither its first nor its last.
    Middle = 3,
    /// The last fragment of a record.
    Last = 4,
}

impl FragmentType {
    /// The fragment type stored as `byte`, or `None` for an unknown type.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }

    /// Whether a fragment of this type starts a record (`FULL` or `FIRST`).
    pub fn starts_record(self) -> bool {
        matches!(self, FragmentType::Full | FragmentType::First)
    }
}

impl fmt::Display for FragmentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FragmentType::Full => f.write_str("FULL"),
            FragmentType::First => f.write_str("FIRST"),
            FragmentType::Middle => f.write_str("MIDDLE"),
            FragmentType::Last => f.write_str("LAST"),
        }
    }
}

/// The CRC32 stored in a fragment header: over the type byte, then the payload.
pub fn fragment_checksum(fragment_type: u8, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[fragment_type]);
    hasher.update(payload);
    hasher.finalize()
}

/// The 16 bytes of the file header this build writes for a log of `kind`.
pub fn encode_file_header(kind: LogFileKind) -> [u8; FILE_HEADER_SIZE] {
    encode_file_header_version(kind, format_version(kind))
}

/// The 16 bytes of the file header of a log of `kind` in format `version`.
pub fn encode_file_header_version(kind: LogFileKind, version: u16) -> [u8; FILE_HEADER_SIZE] {
    let mut header = [0u8; FILE_HEADER_SIZE];
    header[..8].copy_from_slice(&LOG_MAGIC);
    header[8..10].copy_from_slice(&version.to_le_bytes());
    header[10] = kind.to_byte();
    // Byte 11 is reserved and stays zero in versions 1 and 2.
    let checksum = crc32fast::hash(&header[..12]);
    header[12..].copy_from_slice(&checksum.to_le_bytes());
    header
}

/// The logical end of a record of `payload_length` bytes whose first fragment header is at
/// file offset `offset` (as a reader reports a record): the offset right after its last
/// fragment, where a writer continues (with padding first if the block tail is too short).
pub fn record_end(offset: u64, payload_length: usize) -> u64 {
    let block = BLOCK_SIZE as u64;
    let mut offset = offset;
    let mut remaining = payload_length as u64;
    loop {
        let left_in_block = block - offset % block;
        let available = left_in_block.saturating_sub(FRAGMENT_HEADER_SIZE as u64);
        let taken = remaining.min(available);
        remaining -= taken;
        offset += FRAGMENT_HEADER_SIZE as u64 + taken;
        if remaining == 0 {
            return offset;
        }
    }
}

/// The offset of the first block boundary strictly after `offset`.
pub fn next_block_start(offset: usize) -> usize {
    (offset / BLOCK_SIZE + 1) * BLOCK_SIZE
}
