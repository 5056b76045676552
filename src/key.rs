//! Internal keys: a user key followed by an 8-byte trailer `(sequence number << 8) | kind`.
//!
//! Every entry in a memtable, SSTable or write batch is addressed by an internal key, so that the
//! engine can keep several versions of one user key and record deletes as tombstones. Internal
//! keys sort by user key ascending (bytewise), then by trailer **descending**, so that the newest
//! version of a key comes first. FORMAT.md, "Internal keys", is the source of truth for the bytes.
//!
//! This module also owns the size limits on user keys and values.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};

/// The largest user key shaledb accepts, in bytes (64 KiB).
///
/// ```
/// use shaledb::{MAX_KEY_SIZE, WriteBatch};
///
/// let mut batch = WriteBatch::new();
/// batch.put(&vec![b'k'; MAX_KEY_SIZE], b"the longest key")?;
/// assert!(batch.put(&vec![b'k'; MAX_KEY_SIZE + 1], b"").is_err()); // Error::InvalidArgument
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_KEY_SIZE: usize = 64 * 1024;
/// The largest value shaledb accepts, in bytes (64 MiB).
///
/// ```
/// use shaledb::{Error, MAX_VALUE_SIZE, WriteBatch};
///
/// let too_large = vec![0; MAX_VALUE_SIZE + 1];
/// let mut batch = WriteBatch::new();
/// let error = batch.put(b"k", &too_large).unwrap_err();
/// assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
/// assert!(batch.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_VALUE_SIZE: usize = 64 * 1024 * 1024;
/// Length of the trailer appended to a user key to form an internal key.
pub const TRAILER_SIZE: usize = 8;

/// A sequence number: the position of a write in the database's total order.
///
/// Sequence numbers occupy the upper 56 bits of an internal key's trailer.
///
/// ```
/// use shaledb::{Db, Options, SequenceNumber};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// assert_eq!(db.snapshot().sequence(), SequenceNumber(0)); // nothing written yet
/// db.put(b"a", b"1")?;
/// db.put(b"b", b"2")?;
/// assert_eq!(db.snapshot().sequence(), SequenceNumber(2)); // one number per operation
/// assert!(db.snapshot().sequence() < SequenceNumber::MAX);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SequenceNumber(pub u64);

impl SequenceNumber {
    /// The largest sequence number an internal key can hold (2^56 - 1).
    ///
    /// ```
    /// use shaledb::SequenceNumber;
    ///
    /// assert_eq!(SequenceNumber::MAX.0, (1 << 56) - 1); // 56 bits of an internal key's trailer
    /// assert!(SequenceNumber(1) < SequenceNumber::MAX);
    /// ```
    pub const MAX: SequenceNumber = SequenceNumber((1 << 56) - 1);
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A file number: names a WAL, SSTable or manifest file (`000042.sst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileNumber(pub u64);

impl fmt::Display for FileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A keyspace's number: which tree of the database an operation, a table or a memtable belongs
/// to. Keyspace 0 is the default keyspace, which every database has; the others are numbered as
/// they are created and never reused (FORMAT.md 6.1, tags 8 to 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KeyspaceId(pub u32);

impl KeyspaceId {
    /// The default keyspace, which every database has and none can drop.
    pub const DEFAULT: KeyspaceId = KeyspaceId(0);
}

impl fmt::Display for KeyspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest keyspace name, in bytes (FORMAT.md 6.1, tag 8).
pub const MAX_KEYSPACE_NAME: usize = 255;

/// The name of the default keyspace.
pub const DEFAULT_KEYSPACE_NAME: &str = "default";

/// What an entry records about its user key. The discriminants are part of the on-disk format;
/// never change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueKind {
    /// The key was deleted at this sequence number.
    Tombstone = 0,
    /// The key was set to a value at this sequence number.
    Value = 1,
    /// A merge operand for the key was recorded at this sequence number (`Db::merge`): its
    /// value is the operand, combined with the versions below it by the keyspace's merge
    /// operator when read.
    Merge = 2,
}

impl ValueKind {
    /// The kind for a trailer's low byte, if it is one shaledb knows.
    pub fn from_byte(byte: u8) -> Option<ValueKind> {
        match byte {
            0 => Some(ValueKind::Tombstone),
            1 => Some(ValueKind::Value),
            2 => Some(ValueKind::Merge),
            _ => None,
        }
    }
}

/// Packs a sequence number and kind into a trailer.
pub fn pack_trailer(sequence: SequenceNumber, kind: ValueKind) -> u64 {
    debug_assert!(
        sequence <= SequenceNumber::MAX,
        "sequence number {sequence} overflows 56 bits"
    );
    (sequence.0 << 8) | kind as u64
}

/// Appends the internal key for (`user_key`, `sequence`, `kind`) to `out`.
pub fn append_internal_key(
    out: &mut Vec<u8>,
    user_key: &[u8],
    sequence: SequenceNumber,
    kind: ValueKind,
) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&pack_trailer(sequence, kind).to_le_bytes());
}

/// The internal key for (`user_key`, `sequence`, `kind`).
pub fn internal_key(user_key: &[u8], sequence: SequenceNumber, kind: ValueKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_SIZE);
    append_internal_key(&mut out, user_key, sequence, kind);
    out
}

/// The internal key a table's key range starts with when a range tombstone starting at
/// `user_key` is its first item: (`user_key`, [`SequenceNumber::MAX`], tombstone), before every
/// entry of `user_key` (no write reaches that sequence number) and after every entry of a
/// smaller key, and after [`range_end_key`] of the same user key, so that a table ending with a
/// tombstone up to `user_key` and the next one starting with a tombstone from it do not overlap
/// (FORMAT.md 5.10).
pub fn range_start_key(user_key: &[u8]) -> Vec<u8> {
    internal_key(user_key, SequenceNumber::MAX, ValueKind::Tombstone)
}

/// The internal key a table's key range ends with when a range tombstone ending at `user_key`
/// (exclusive) is its last item: (`user_key`, [`SequenceNumber::MAX`], value), which sorts
/// before every entry of `user_key` and so stands for "up to, not including, `user_key`".
pub fn range_end_key(user_key: &[u8]) -> Vec<u8> {
    internal_key(user_key, SequenceNumber::MAX, ValueKind::Value)
}

/// An internal key split into its parts, borrowing the user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedInternalKey<'a> {
    /// The key the user wrote.
    pub user_key: &'a [u8],
    /// When it was written.
    pub sequence: SequenceNumber,
    /// Whether it is a value, a tombstone or a merge operand.
    pub kind: ValueKind,
}

/// Splits an internal key, or says why it is not one. Used on bytes read from disk.
pub fn parse_internal_key(key: &[u8]) -> std::result::Result<ParsedInternalKey<'_>, &'static str> {
    let Some(split) = key.len().checked_sub(TRAILER_SIZE) else {
        return Err("internal key shorter than its 8-byte trailer");
    };
    let (user_key, trailer_bytes) = key.split_at(split);
    let mut trailer = [0u8; TRAILER_SIZE];
    trailer.copy_from_slice(trailer_bytes);
    let trailer = u64::from_le_bytes(trailer);
    let kind = ValueKind::from_byte(trailer as u8).ok_or("unknown value kind in internal key")?;
    Ok(ParsedInternalKey {
        user_key,
        sequence: SequenceNumber(trailer >> 8),
        kind,
    })
}

/// The user-key part of an internal key (all of `key` if it is too short to have a trailer;
/// callers that read from disk validate with [`parse_internal_key`] first).
pub fn user_key(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(TRAILER_SIZE)]
}

fn trailer(key: &[u8]) -> u64 {
    let start = key.len().saturating_sub(TRAILER_SIZE);
    let mut trailer = [0u8; TRAILER_SIZE];
    let tail = &key[start..];
    trailer[..tail.len()].copy_from_slice(tail);
    u64::from_le_bytes(trailer)
}

/// Orders internal keys: user key ascending, then trailer (sequence, kind) descending.
pub fn compare_internal_keys(a: &[u8], b: &[u8]) -> Ordering {
    user_key(a)
        .cmp(user_key(b))
        .then_with(|| trailer(b).cmp(&trailer(a)))
}

/// Checks a user key against [`MAX_KEY_SIZE`].
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::InvalidArgument(format!(
            "key is {} bytes; the limit is {MAX_KEY_SIZE} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// Checks a value against [`MAX_VALUE_SIZE`].
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_SIZE {
        return Err(Error::InvalidArgument(format!(
            "value is {} bytes; the limit is {MAX_VALUE_SIZE} bytes",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_layout_is_little_endian_sequence_then_kind() {
        let key = internal_key(b"ab", SequenceNumber(0x0102), ValueKind::Value);
        assert_eq!(key, [b'a', b'b', 0x01, 0x02, 0x01, 0, 0, 0, 0, 0]);
        let parsed = parse_internal_key(&key).unwrap();
        assert_eq!(parsed.user_key, b"ab");
        assert_eq!(parsed.sequence, SequenceNumber(0x0102));
        assert_eq!(parsed.kind, ValueKind::Value);
    }

    #[test]
    fn newer_versions_sort_first() {
        let old = internal_key(b"k", SequenceNumber(5), ValueKind::Value);
        let new = internal_key(b"k", SequenceNumber(9), ValueKind::Tombstone);
        let next = internal_key(b"k\0", SequenceNumber(1), ValueKind::Value);
        assert_eq!(compare_internal_keys(&new, &old), Ordering::Less);
        assert_eq!(compare_internal_keys(&old, &next), Ordering::Less);
        assert_eq!(compare_internal_keys(&old, &old), Ordering::Equal);
    }

    #[test]
    fn bad_internal_keys_are_errors() {
        assert!(parse_internal_key(b"short").is_err());
        let mut key = internal_key(b"k", SequenceNumber(1), ValueKind::Value);
        key[1] = 7;
        assert_eq!(
            parse_internal_key(&key),
            Err("unknown value kind in internal key")
        );
    }

    #[test]
    fn size_limits_are_enforced() {
        assert!(check_key(&vec![0; MAX_KEY_SIZE]).is_ok());
        let error = check_key(&vec![0; MAX_KEY_SIZE + 1]).unwrap_err();
        assert!(error.to_string().contains("key is 65537 bytes"));
        assert!(check_value(&[]).is_ok());
    }
}
