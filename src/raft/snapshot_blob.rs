//! The snapshot blob (FORMAT.md 9.4): the state keyspace's entries at one point, as the bytes
//! openraft sends from a leader to a follower and a node keeps as its current snapshot.
//!
//! ```text
//! header   magic "SHALESNP" (8 bytes) | version u32 = 1
//! entries  key length u32 | value length u32 | key | value      (keys strictly ascending)
//! trailer  entry count u64 | CRC32 u32 of every byte before it
//! ```
//!
//! Pure: [`BlobWriter`] appends entries as they are streamed from a snapshot of the keyspace,
//! and [`BlobReader::new`] checks a whole blob (length, magic, version, checksum, every length,
//! the key order, the count) before it yields a single entry, so that installing a damaged blob
//! fails before it changes anything. Tested through the state machine, against blobs made
//! from FORMAT.md alone, in `tests/raft_storage.rs`.

use openraft::AnyError;

use crate::key::{MAX_KEY_SIZE, MAX_VALUE_SIZE};

/// The first bytes of every snapshot blob. Part of the format; never change.
pub(crate) const MAGIC: [u8; 8] = *b"SHALESNP";
/// The version this code writes and the only one it reads.
pub(crate) const VERSION: u32 = 1;
const HEADER_SIZE: usize = 12;
const TRAILER_SIZE: usize = 12;
/// Bytes of an entry besides its key and value: the two lengths.
const ENTRY_OVERHEAD: usize = 8;

/// Builds a blob entry by entry.
pub(crate) struct BlobWriter {
    bytes: Vec<u8>,
    count: u64,
}

impl BlobWriter {
    pub fn new() -> BlobWriter {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        BlobWriter { bytes, count: 0 }
    }

    /// Appends one entry. The caller gives keys in strictly ascending order, each within
    /// shaledb's limits (they come from a keyspace, which holds no others).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(key.len() <= MAX_KEY_SIZE && value.len() <= MAX_VALUE_SIZE);
        self.bytes.reserve(ENTRY_OVERHEAD + key.len() + value.len());
        self.bytes.extend_from_slice(&length(key).to_le_bytes());
        self.bytes.extend_from_slice(&length(value).to_le_bytes());
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        self.count += 1;
    }

    /// The finished blob: the entries, then the count and the checksum.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&self.count.to_le_bytes());
        let crc = crc32fast::hash(&self.bytes);
        self.bytes.extend_from_slice(&crc.to_le_bytes());
        self.bytes
    }
}

/// A key or value length as stored: shaledb's limits keep both far below `u32::MAX`.
fn length(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}

/// The entries of a checked blob, in key order.
pub(crate) struct BlobReader<'a> {
    entries: &'a [u8],
    count: u64,
}

impl<'a> BlobReader<'a> {
    /// Checks all of `blob` and returns its entries, or says what is wrong with it.
    pub fn new(blob: &'a [u8]) -> Result<BlobReader<'a>, AnyError> {
        if blob.len() < HEADER_SIZE + TRAILER_SIZE {
            return Err(damaged(format!(
                "{} bytes, shorter than a header and a trailer",
                blob.len()
            )));
        }
        let (checked, crc) = blob.split_at(blob.len() - 4);
        let stored = u32::from_le_bytes(crc.try_into().map_err(|_| damaged("no checksum"))?);
        let computed = crc32fast::hash(checked);
        if stored != computed {
            return Err(damaged(format!(
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            )));
        }
        let (header, rest) = checked.split_at(HEADER_SIZE);
        if header[..8] != MAGIC {
            return Err(damaged("not a shaledb snapshot blob (bad magic)"));
        }
        let version = u32::from_le_bytes(fixed(&header[8..])?);
        if version != VERSION {
            return Err(damaged(format!("unknown snapshot blob version {version}")));
        }
        let (entries, count) = rest.split_at(rest.len() - 8);
        let count = u64::from_le_bytes(fixed(count)?);
        let reader = BlobReader { entries, count };
        reader.check_entries()?;
        Ok(reader)
    }

    /// Walks every entry once: lengths within the limits and the blob, keys ascending, the
    /// count as stored.
    fn check_entries(&self) -> Result<(), AnyError> {
        let mut entries = BlobEntries {
            rest: self.entries,
            offset: HEADER_SIZE,
        };
        let mut seen = 0u64;
        let mut previous: Option<&[u8]> = None;
        while let Some((key, _)) = entries.next_checked()? {
            if previous.is_some_and(|previous| previous >= key) {
                return Err(damaged(format!(
                    "entry {seen} is not after the one before it"
                )));
            }
            previous = Some(key);
            seen += 1;
        }
        if seen != self.count {
            return Err(damaged(format!(
                "{seen} entries, but the trailer says {}",
                self.count
            )));
        }
        Ok(())
    }

    /// The entries, in key order (checked by [`new`](Self::new)).
    pub fn entries(&self) -> impl Iterator<Item = BlobEntry<'a>> + 'a {
        let mut entries = BlobEntries {
            rest: self.entries,
            offset: HEADER_SIZE,
        };
        std::iter::from_fn(move || entries.next_checked().ok().flatten())
    }
}

/// A key and its value, in a blob.
type BlobEntry<'a> = (&'a [u8], &'a [u8]);

/// A cursor over the entry bytes of a blob.
struct BlobEntries<'a> {
    rest: &'a [u8],
    /// Offset of `rest` in the blob, for error messages.
    offset: usize,
}

impl<'a> BlobEntries<'a> {
    /// The next entry, `None` at the end, or what is wrong with it.
    fn next_checked(&mut self) -> Result<Option<BlobEntry<'a>>, AnyError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let Some((lengths, rest)) = self.rest.split_at_checked(ENTRY_OVERHEAD) else {
            return Err(damaged(format!("a torn entry at offset {}", self.offset)));
        };
        let key_length = u32::from_le_bytes(fixed(&lengths[..4])?) as usize;
        let value_length = u32::from_le_bytes(fixed(&lengths[4..])?) as usize;
        if key_length > MAX_KEY_SIZE || value_length > MAX_VALUE_SIZE {
            return Err(damaged(format!(
                "an entry at offset {} of {key_length} key bytes and {value_length} value bytes, over the limits",
                self.offset
            )));
        }
        let Some((key, rest)) = rest.split_at_checked(key_length) else {
            return Err(damaged(format!("a torn key at offset {}", self.offset)));
        };
        let Some((value, rest)) = rest.split_at_checked(value_length) else {
            return Err(damaged(format!("a torn value at offset {}", self.offset)));
        };
        self.rest = rest;
        self.offset += ENTRY_OVERHEAD + key_length + value_length;
        Ok(Some((key, value)))
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], AnyError> {
    bytes
        .try_into()
        .map_err(|_| damaged(format!("expected {N} bytes, found {}", bytes.len())))
}

fn damaged(reason: impl std::fmt::Display) -> AnyError {
    AnyError::error(format!("damaged snapshot blob: {reason}"))
}
