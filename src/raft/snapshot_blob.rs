//! The snapshot blob (FORMAT.md 9.4): the state keyspace's entries and the session table at
//! one point, as the bytes openraft sends from a leader to a follower and a node keeps as its
//! current snapshot.
//!
//! ```text
//! header    magic "SHALESNP" (8 bytes) | version u32 = 2
//! entries   key length u32 | value length u32 | key | value      (keys strictly ascending)
//! sessions  the same, key = client id u64 big-endian             (keys strictly ascending)
//! trailer   entry count u64 | session count u64 | CRC32 u32 of every byte before it
//! ```
//!
//! Version 1, which has no sessions and no session count, is still read.
//!
//! Pure: [`BlobWriter`] appends entries as they are streamed from a snapshot of the keyspace,
//! then the sessions, and [`BlobReader::new`] checks a whole blob (length, magic, version,
//! checksum, every length, the key order, the counts) before it yields a single entry, so that
//! installing a damaged blob fails before it changes anything. Tested through the state
//! machine, against blobs made from FORMAT.md alone, in `tests/raft_storage.rs`.

use openraft::AnyError;

use crate::key::{MAX_KEY_SIZE, MAX_VALUE_SIZE};

/// The first bytes of every snapshot blob. Part of the format; never change.
pub(crate) const MAGIC: [u8; 8] = *b"SHALESNP";
/// The version this code writes: the entries, then the sessions.
pub(crate) const VERSION: u32 = 2;
/// The version before sessions, still read: the entries alone.
pub(crate) const VERSION_WITHOUT_SESSIONS: u32 = 1;
const HEADER_SIZE: usize = 12;
/// The smallest trailer, version 1's: the entry count and the checksum.
const TRAILER_SIZE_MIN: usize = 12;
/// Bytes of an entry besides its key and value: the two lengths.
const ENTRY_OVERHEAD: usize = 8;
/// The length of a session's key: the client id.
const SESSION_KEY_SIZE: usize = 8;

/// Builds a blob entry by entry, then session by session.
pub(crate) struct BlobWriter {
    bytes: Vec<u8>,
    count: u64,
    session_count: u64,
}

impl BlobWriter {
    pub fn new() -> BlobWriter {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        BlobWriter {
            bytes,
            count: 0,
            session_count: 0,
        }
    }

    /// Appends one entry. The caller gives keys in strictly ascending order, each within
    /// shaledb's limits (they come from a keyspace, which holds no others), and every entry
    /// before the first session.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(key.len() <= MAX_KEY_SIZE && value.len() <= MAX_VALUE_SIZE);
        debug_assert_eq!(self.session_count, 0, "an entry after a session");
        self.push(key, value);
        self.count += 1;
    }

    /// Appends `client`'s session, `value` as the metadata keyspace holds it (FORMAT.md 9.3).
    /// The caller gives clients in strictly ascending order.
    pub fn add_session(&mut self, client: u64, value: &[u8]) {
        self.push(&client.to_be_bytes(), value);
        self.session_count += 1;
    }

    fn push(&mut self, key: &[u8], value: &[u8]) {
        self.bytes.reserve(ENTRY_OVERHEAD + key.len() + value.len());
        self.bytes.extend_from_slice(&length(key).to_le_bytes());
        self.bytes.extend_from_slice(&length(value).to_le_bytes());
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
    }

    /// The finished blob: the entries and sessions, then the counts and the checksum.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&self.count.to_le_bytes());
        self.bytes
            .extend_from_slice(&self.session_count.to_le_bytes());
        let crc = crc32fast::hash(&self.bytes);
        self.bytes.extend_from_slice(&crc.to_le_bytes());
        self.bytes
    }
}

/// A key or value length as stored: shaledb's limits keep both far below `u32::MAX`.
fn length(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}

/// The entries and sessions of a checked blob, each in key order.
pub(crate) struct BlobReader<'a> {
    entries: &'a [u8],
    sessions: &'a [u8],
}

impl<'a> BlobReader<'a> {
    /// Checks all of `blob` and returns its entries and sessions, or says what is wrong with
    /// it.
    pub fn new(blob: &'a [u8]) -> Result<BlobReader<'a>, AnyError> {
        if blob.len() < HEADER_SIZE + TRAILER_SIZE_MIN {
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
        let counts_size = match version {
            VERSION => 16,
            VERSION_WITHOUT_SESSIONS => 8,
            _ => return Err(damaged(format!("unknown snapshot blob version {version}"))),
        };
        let Some((body, counts)) = rest
            .len()
            .checked_sub(counts_size)
            .and_then(|at| rest.split_at_checked(at))
        else {
            return Err(damaged(format!(
                "{} bytes, shorter than a header and a version {version} trailer",
                blob.len()
            )));
        };
        let count = u64::from_le_bytes(fixed(&counts[..8])?);
        let session_count = match counts.get(8..) {
            Some(session_count) if !session_count.is_empty() => {
                u64::from_le_bytes(fixed(session_count)?)
            }
            _ => 0,
        };
        let entries_size = check_section(body, HEADER_SIZE, count, ENTRIES, None)?;
        let (entries, sessions) = body.split_at(entries_size);
        let sessions_size = check_section(
            sessions,
            HEADER_SIZE + entries_size,
            session_count,
            SESSIONS,
            Some(SESSION_KEY_SIZE),
        )?;
        if sessions_size != sessions.len() {
            return Err(damaged(format!(
                "{} bytes after the {count} entries and {session_count} sessions the trailer counts",
                sessions.len() - sessions_size
            )));
        }
        Ok(BlobReader { entries, sessions })
    }

    /// The entries, in key order (checked by [`new`](Self::new)).
    pub fn entries(&self) -> impl Iterator<Item = BlobEntry<'a>> + 'a {
        walk(self.entries)
    }

    /// The sessions, as `(client id big-endian, value)`, in client order (checked by
    /// [`new`](Self::new)); none in a version-1 blob.
    pub fn sessions(&self) -> impl Iterator<Item = BlobEntry<'a>> + 'a {
        walk(self.sessions)
    }
}

/// The entries of `bytes`, checked before (so that no offset is needed for an error).
fn walk<'a>(bytes: &'a [u8]) -> impl Iterator<Item = BlobEntry<'a>> + 'a {
    let mut entries = BlobEntries {
        rest: bytes,
        offset: 0,
    };
    std::iter::from_fn(move || entries.next_checked().ok().flatten())
}

/// The names of a section's items in errors: one, several.
type Names = (&'static str, &'static str);
const ENTRIES: Names = ("entry", "entries");
const SESSIONS: Names = ("session", "sessions");

/// Walks the first `count` entries of `section` (at `offset` in the blob) once: lengths within
/// the limits and the blob, keys ascending (and `key_size` long, if given); returns their size.
fn check_section(
    section: &[u8],
    offset: usize,
    count: u64,
    (one, several): Names,
    key_size: Option<usize>,
) -> Result<usize, AnyError> {
    let mut entries = BlobEntries {
        rest: section,
        offset,
    };
    let mut previous: Option<&[u8]> = None;
    for seen in 0..count {
        let Some((key, _)) = entries.next_checked()? else {
            return Err(damaged(format!(
                "the trailer counts {count} {several}, the blob ends after {seen}"
            )));
        };
        if let Some(size) = key_size
            && size != key.len()
        {
            return Err(damaged(format!(
                "{one} {seen} has a key of {} bytes, not {size}",
                key.len()
            )));
        }
        if previous.is_some_and(|previous| previous >= key) {
            return Err(damaged(format!(
                "{one} {seen} is not after the one before it"
            )));
        }
        previous = Some(key);
    }
    Ok(section.len() - entries.rest.len())
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
