//! `WriteBatch`: an ordered group of puts and deletes applied atomically, and its encoding.
//!
//! A batch is kept in its encoded form (FORMAT.md, "Write batches"), which is also the payload of
//! one write-ahead-log record: committing a batch stamps its first sequence number into the
//! header and appends the bytes to the log without re-encoding. One batch is one log record, so
//! the log's per-record checksum makes a batch all-or-nothing across crashes.
//!
//! Operations get consecutive sequence numbers in the order they were added, starting at the
//! batch's first sequence number; a later operation on the same key wins.

use crate::coding::{Cursor, DecodeError, put_length_prefixed, varint_length};
use crate::error::Result;
use crate::key::{
    KeyspaceId, MAX_KEY_SIZE, MAX_VALUE_SIZE, SequenceNumber, ValueKind, check_key, check_value,
};

/// Bytes of the batch header: first sequence number (u64) and operation count (u32).
pub const BATCH_HEADER_SIZE: usize = 12;
/// The operation byte of a range deletion (FORMAT.md 7); puts and deletes use their
/// [`ValueKind`] bytes. Part of the on-disk format; never change.
pub const RANGE_DELETE_OPERATION: u8 = 2;
/// The operation byte of a merge operand (FORMAT.md 7), in write-ahead logs of version 5 and
/// later. Part of the on-disk format; never change.
pub const MERGE_OPERATION: u8 = 3;
/// Set in an operation byte when a `varint32` keyspace id follows it (FORMAT.md 7): the
/// operation (the byte without this bit) belongs to that keyspace instead of the default one.
/// Part of the on-disk format; never change.
pub const KEYSPACE_OPERATION_BIT: u8 = 0x10;

/// An ordered group of writes that become visible together and survive a crash together.
///
/// ```
/// use shaledb::WriteBatch;
///
/// let mut batch = WriteBatch::new();
/// batch.put(b"apple", b"red")?;
/// batch.put(b"banana", b"yellow")?;
/// batch.delete(b"cherry")?;
/// assert_eq!(batch.len(), 3);
/// assert!(batch.approximate_size() > 0);
/// batch.clear();
/// assert!(batch.is_empty());
/// # Ok::<(), shaledb::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    /// The encoded batch: header, then operations.
    encoded: Vec<u8>,
    count: u32,
    /// Whether an operation belongs to the default keyspace.
    writes_default: bool,
    /// The other keyspaces the operations belong to, each once, in the order first used
    /// (empty, so never allocated, for the many batches of the default keyspace alone).
    other_keyspaces: Vec<KeyspaceId>,
    /// The engine (`Engine::instance`) whose keyspaces the operations of keyspaces other than
    /// the default one belong to, once there is one.
    owner: Option<u64>,
    /// The keyspaces that merge operations belong to, each once (empty for batches without
    /// merges), so that a commit can check their merge operators.
    merge_keyspaces: Vec<KeyspaceId>,
    /// How many of the operations are merges.
    merge_count: u32,
    /// A put whose 8-byte value is the operation's own sequence number, written when the
    /// batch is stamped (the record of a commit token, `commit_token.rs`): the offset of the
    /// value in `encoded`, and the operation's index in the batch.
    sequence_slot: Option<(usize, u32)>,
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("operations", &self.count)
            .field("bytes", &self.encoded.len())
            .finish()
    }
}

/// The encoded size of one operation of `keyspace` (FORMAT.md 7): a kind byte, the keyspace id
/// unless it is the default one, then the key and (for a put) the value, or (for a range
/// deletion) the start and end keys, each behind a varint32 length.
fn operation_size(keyspace: KeyspaceId, key: &[u8], value: Option<&[u8]>) -> usize {
    let prefixed = |bytes: &[u8]| varint_length(bytes.len() as u64) + bytes.len();
    let keyspace_bytes = match keyspace {
        KeyspaceId::DEFAULT => 0,
        KeyspaceId(id) => varint_length(u64::from(id)),
    };
    1 + keyspace_bytes + prefixed(key) + value.map_or(0, prefixed)
}

/// Refuses a value of a keyspace of expiring values too large to carry its expiry within
/// [`MAX_VALUE_SIZE`].
pub(crate) fn check_expiring_value(value: &[u8]) -> Result<()> {
    let limit = MAX_VALUE_SIZE - crate::compaction_filter::EXPIRY_SIZE;
    if value.len() > limit {
        return Err(crate::Error::InvalidArgument(format!(
            "a value of a keyspace with a time to live is at most {limit} bytes (the limit less \
             its 8-byte expiry); this one is {}",
            value.len()
        )));
    }
    Ok(())
}

/// One operation of a batch, borrowing its bytes.
///
/// ```
/// use shaledb::{BatchOperation, WriteBatch};
///
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1")?;
/// batch.delete(b"b")?;
/// let operations: Vec<BatchOperation<'_>> = batch.iter().collect();
/// assert_eq!(operations, [
///     BatchOperation::Put { key: b"a", value: b"1" },
///     BatchOperation::Delete { key: b"b" },
/// ]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOperation<'a> {
    /// Set `key` to `value`.
    Put {
        /// The user key.
        key: &'a [u8],
        /// The new value.
        value: &'a [u8],
    },
    /// Delete `key`.
    Delete {
        /// The user key.
        key: &'a [u8],
    },
    /// Delete every key in `[start, end)`.
    DeleteRange {
        /// The first key deleted.
        start: &'a [u8],
        /// The first key after the range: not deleted.
        end: &'a [u8],
    },
    /// Record `operand` for `key`, to be combined by the keyspace's merge operator.
    Merge {
        /// The user key.
        key: &'a [u8],
        /// The merge operand.
        operand: &'a [u8],
    },
}

impl WriteBatch {
    /// An empty batch.
    ///
    /// ```
    /// let batch = shaledb::WriteBatch::new();
    /// assert!(batch.is_empty());
    /// ```
    pub fn new() -> Self {
        WriteBatch {
            encoded: vec![0; BATCH_HEADER_SIZE],
            count: 0,
            writes_default: false,
            other_keyspaces: Vec::new(),
            owner: None,
            merge_keyspaces: Vec::new(),
            merge_count: 0,
            sequence_slot: None,
        }
    }

    /// An empty batch with room for `bytes` of encoded operations, so that filling it does not
    /// reallocate. A put takes about `key.len() + value.len() + 11` bytes, a delete
    /// `key.len() + 6`.
    ///
    /// ```
    /// let mut batch = shaledb::WriteBatch::with_capacity(100 * (16 + 100 + 11));
    /// for index in 0..100u32 {
    ///     batch.put(format!("key-{index:012}").as_bytes(), &[0u8; 100])?;
    /// }
    /// assert_eq!(batch.len(), 100);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn with_capacity(bytes: usize) -> Self {
        let mut encoded = Vec::with_capacity(BATCH_HEADER_SIZE + bytes);
        encoded.resize(BATCH_HEADER_SIZE, 0);
        WriteBatch {
            encoded,
            count: 0,
            writes_default: false,
            other_keyspaces: Vec::new(),
            owner: None,
            merge_keyspaces: Vec::new(),
            merge_count: 0,
            sequence_slot: None,
        }
    }

    /// A batch holding the one put `key` = `value` in `keyspace`, allocated once at its exact
    /// size (the single-write path of `Db::put` and `Keyspace::put`). Fails like
    /// [`put`](Self::put), before allocating.
    pub(crate) fn single_put(keyspace: KeyspaceId, key: &[u8], value: &[u8]) -> Result<Self> {
        check_key(key)?;
        check_value(value)?;
        let mut batch = Self::with_capacity(operation_size(keyspace, key, Some(value)));
        batch.push_in(keyspace, ValueKind::Value as u8, key, Some(value))?;
        Ok(batch)
    }

    /// A batch holding the one put `key` = `value` expiring at `expiry` (microseconds since the
    /// epoch) in a keyspace of expiring values (FORMAT.md 7.3). Fails like
    /// [`put`](Self::put), and for a value too large to carry its expiry.
    pub(crate) fn single_expiring_put(
        keyspace: KeyspaceId,
        key: &[u8],
        value: &[u8],
        expiry: u64,
    ) -> Result<Self> {
        check_key(key)?;
        check_expiring_value(value)?;
        let stored = crate::compaction_filter::with_expiry(expiry, value);
        let mut batch = Self::with_capacity(operation_size(keyspace, key, Some(&stored)));
        batch.push_in(keyspace, ValueKind::Value as u8, key, Some(&stored))?;
        Ok(batch)
    }

    /// A batch holding the one delete of `key` in `keyspace`, allocated once at its exact size.
    pub(crate) fn single_delete(keyspace: KeyspaceId, key: &[u8]) -> Result<Self> {
        check_key(key)?;
        let mut batch = Self::with_capacity(operation_size(keyspace, key, None));
        batch.push_in(keyspace, ValueKind::Tombstone as u8, key, None)?;
        Ok(batch)
    }

    /// Adds "set `key` to `value`". Fails with `Error::InvalidArgument` if the key or value is
    /// over its size limit ([`MAX_KEY_SIZE`],
    /// [`MAX_VALUE_SIZE`]) or the batch already holds `u32::MAX`
    /// operations; the batch is unchanged then.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"from", b"90")?;
    /// batch.put(b"to", b"110")?;
    /// // Both or neither, before and after any crash.
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(db.get(b"to")?.as_deref(), Some(&b"110"[..]));
    ///
    /// let too_long = vec![0u8; shaledb::MAX_KEY_SIZE + 1];
    /// assert!(WriteBatch::new().put(&too_long, b"v").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push(ValueKind::Value, key, Some(value))
    }

    /// Adds "delete `key`" (a tombstone). Fails like [`put`](Self::put) for an oversized key.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(b"old-name", b"value")?;
    /// // A rename: the delete and the put are applied together.
    /// let mut batch = WriteBatch::new();
    /// batch.delete(b"old-name")?;
    /// batch.put(b"new-name", b"value")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(db.get(b"old-name")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.push(ValueKind::Tombstone, key, None)
    }

    /// Adds "delete every key in `[start, end)`" (a range tombstone): the keys from `start`
    /// up to but not including `end`, as they are when the batch commits; keys written later
    /// are not affected. An empty range (`start == end`) deletes nothing. Fails with
    /// `Error::InvalidArgument` if a key is over [`MAX_KEY_SIZE`] or `start` sorts after `end`;
    /// the batch is unchanged then.
    ///
    /// ```
    /// use shaledb::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// for key in ["log/1", "log/2", "log/3", "state"] {
    ///     db.put(key.as_bytes(), b"")?;
    /// }
    /// // Truncate the log and record where it now starts, together.
    /// let mut batch = WriteBatch::new();
    /// batch.delete_range(b"log/1", b"log/3")?;
    /// batch.put(b"state", b"first log entry: 3")?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// let keys: Vec<Vec<u8>> = db.iter().map(|item| item.map(|(key, _)| key)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![b"log/3".to_vec(), b"state".to_vec()]);
    ///
    /// assert!(WriteBatch::new().delete_range(b"b", b"a").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        check_range(start, end)?;
        self.push_operation(RANGE_DELETE_OPERATION, start, Some(end))
    }

    /// Adds "merge `operand` into `key`" (a merge operand, combined with the value below it by
    /// the merge operator of the keyspace, [`Options::merge_operator`](crate::Options::merge_operator)
    /// for the default one). Fails like [`put`](Self::put) for an oversized key or operand;
    /// writing the batch fails with `Error::InvalidArgument` (and writes nothing) if the
    /// keyspace has no merge operator.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{CounterAdd, Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options { merge_operator: Some(Arc::new(CounterAdd)), ..Options::default() };
    /// let db = Db::open(dir.path(), options)?;
    /// let mut batch = WriteBatch::new();
    /// batch.merge(b"hits", &CounterAdd::encode(2))?;
    /// batch.merge(b"hits", &CounterAdd::encode(3))?;
    /// db.write(batch, &WriteOptions::SYNC)?;
    /// assert_eq!(db.get(b"hits")?.and_then(|value| CounterAdd::decode(&value)), Some(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&mut self, key: &[u8], operand: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(operand)?;
        self.push_in(KeyspaceId::DEFAULT, MERGE_OPERATION, key, Some(operand))
    }

    /// A batch holding the one merge of `operand` into `key` in `keyspace`, at its exact size.
    pub(crate) fn single_merge(keyspace: KeyspaceId, key: &[u8], operand: &[u8]) -> Result<Self> {
        check_key(key)?;
        check_value(operand)?;
        let mut batch = Self::with_capacity(operation_size(keyspace, key, Some(operand)));
        batch.push_in(keyspace, MERGE_OPERATION, key, Some(operand))?;
        Ok(batch)
    }

    /// How many of the batch's operations are merges.
    pub(crate) fn merge_count(&self) -> u32 {
        self.merge_count
    }

    /// The keyspaces that merge operations of the batch belong to, each once.
    pub(crate) fn merge_keyspaces(&self) -> &[KeyspaceId] {
        &self.merge_keyspaces
    }

    /// A batch holding the one range deletion `[start, end)` in `keyspace`, at its exact size.
    pub(crate) fn single_delete_range(
        keyspace: KeyspaceId,
        start: &[u8],
        end: &[u8],
    ) -> Result<Self> {
        check_range(start, end)?;
        let mut batch = Self::with_capacity(operation_size(keyspace, start, Some(end)));
        batch.push_in(keyspace, RANGE_DELETE_OPERATION, start, Some(end))?;
        Ok(batch)
    }

    fn push(&mut self, kind: ValueKind, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.push_operation(kind as u8, key, value)
    }

    fn push_operation(&mut self, operation: u8, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.push_in(KeyspaceId::DEFAULT, operation, key, value)
    }

    /// Adds an operation of `keyspace`: a put in it (`value` given), a delete, or a range
    /// deletion (`operation` [`RANGE_DELETE_OPERATION`], the end key as `value`). The caller
    /// checked the keys and values.
    pub(crate) fn push_in(
        &mut self,
        keyspace: KeyspaceId,
        operation: u8,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<()> {
        let count = self.count.checked_add(1).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "a write batch holds at most {} operations",
                u32::MAX
            ))
        })?;
        if keyspace == KeyspaceId::DEFAULT {
            self.encoded.push(operation);
        } else {
            self.encoded.push(operation | KEYSPACE_OPERATION_BIT);
            crate::coding::put_varint32(&mut self.encoded, keyspace.0);
        }
        if keyspace == KeyspaceId::DEFAULT {
            self.writes_default = true;
        } else if !self.other_keyspaces.contains(&keyspace) {
            self.other_keyspaces.push(keyspace);
        }
        if operation == MERGE_OPERATION {
            self.merge_count += 1;
            if !self.merge_keyspaces.contains(&keyspace) {
                self.merge_keyspaces.push(keyspace);
            }
        }
        put_length_prefixed(&mut self.encoded, key);
        if let Some(value) = value {
            put_length_prefixed(&mut self.encoded, value);
        }
        self.count = count;
        self.encoded[8..12].copy_from_slice(&count.to_le_bytes());
        Ok(())
    }

    /// How many operations the batch holds.
    ///
    /// ```
    /// let mut batch = shaledb::WriteBatch::new();
    /// batch.put(b"a", b"1")?;
    /// batch.delete(b"b")?;
    /// assert_eq!(batch.len(), 2);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the batch holds no operation (writing an empty batch does nothing).
    ///
    /// ```
    /// let mut batch = shaledb::WriteBatch::new();
    /// assert!(batch.is_empty());
    /// batch.delete(b"k")?;
    /// assert!(!batch.is_empty());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every operation, keeping the allocation for reuse.
    ///
    /// ```
    /// let mut batch = shaledb::WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// batch.clear();
    /// assert!(batch.is_empty());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.encoded.clear();
        self.encoded.resize(BATCH_HEADER_SIZE, 0);
        self.count = 0;
        self.writes_default = false;
        self.other_keyspaces.clear();
        self.owner = None;
        self.merge_keyspaces.clear();
        self.merge_count = 0;
        self.sequence_slot = None;
    }

    /// Adds, as the batch's last operation, a put of `key` in `keyspace` whose value is the
    /// operation's own sequence number (8 bytes, little-endian), filled in when the batch is
    /// stamped: what a commit token records (`commit_token.rs`). The caller checked the key,
    /// and adds nothing after it.
    pub(crate) fn push_sequence_record(&mut self, keyspace: KeyspaceId, key: &[u8]) -> Result<()> {
        let index = self.count;
        self.push_in(keyspace, ValueKind::Value as u8, key, Some(&[0; 8]))?;
        let offset = self.encoded.len() - 8;
        self.sequence_slot = Some((offset, index));
        Ok(())
    }

    /// The keyspaces the batch's operations belong to, each once.
    pub(crate) fn keyspaces(&self) -> impl Iterator<Item = KeyspaceId> + '_ {
        let default = self.writes_default.then_some(KeyspaceId::DEFAULT);
        default
            .into_iter()
            .chain(self.other_keyspaces.iter().copied())
    }

    /// The engine the batch's keyspaces belong to (`None`: only the default keyspace, which
    /// every database has).
    pub(crate) fn owner(&self) -> Option<u64> {
        self.owner
    }

    /// Records that an operation of a keyspace of engine `owner` is being added; refuses one of
    /// another engine than the batch's earlier ones.
    pub(crate) fn claim_owner(&mut self, owner: u64) -> Result<()> {
        match self.owner {
            Some(known) if known != owner => Err(crate::Error::InvalidArgument(
                "a write batch holds keyspaces of two databases; a batch is written to one".into(),
            )),
            _ => {
                self.owner = Some(owner);
                Ok(())
            }
        }
    }

    /// Bytes the batch takes in the write-ahead log (its encoded size).
    ///
    /// ```
    /// let mut batch = shaledb::WriteBatch::new();
    /// let empty = batch.approximate_size();
    /// batch.put(b"key", b"value")?;
    /// assert_eq!(batch.approximate_size(), empty + 1 + 1 + 3 + 1 + 5);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn approximate_size(&self) -> usize {
        self.encoded.len()
    }

    /// The operations in the order they were added.
    ///
    /// ```
    /// use shaledb::{BatchOperation, WriteBatch};
    ///
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"a", b"1")?;
    /// batch.delete(b"b")?;
    /// let operations: Vec<BatchOperation<'_>> = batch.iter().collect();
    /// assert_eq!(
    ///     operations,
    ///     vec![
    ///         BatchOperation::Put { key: b"a", value: b"1" },
    ///         BatchOperation::Delete { key: b"b" },
    ///     ]
    /// );
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = BatchOperation<'_>> + '_ {
        // The encoding was produced by `push`, so decoding cannot fail; an error here would be a
        // bug in this module, and ends the iteration rather than panicking.
        BatchReader::new(&self.encoded)
            .into_iter()
            .flatten()
            .map_while(Result::ok)
    }

    /// Stamps the first sequence number into the header (done by the commit path).
    pub(crate) fn set_first_sequence(&mut self, sequence: SequenceNumber) {
        self.encoded[..8].copy_from_slice(&sequence.0.to_le_bytes());
        if let Some((offset, index)) = self.sequence_slot {
            let own = sequence.0 + u64::from(index);
            self.encoded[offset..offset + 8].copy_from_slice(&own.to_le_bytes());
        }
    }

    /// The encoded bytes: the payload of one write-ahead-log record.
    ///
    /// ```
    /// use shaledb::WriteBatch;
    ///
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"k", b"v")?;
    /// let bytes = batch.encoded(); // FORMAT.md, "Write batches"
    /// assert_eq!(bytes.len(), 12 + 5); // the header, then kind, key length, key, value length, value
    /// assert_eq!(bytes[8..12], 1u32.to_le_bytes()); // the operation count
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

/// Decodes an encoded batch (a WAL record payload) without copying.
#[derive(Debug, Clone)]
pub struct BatchReader<'a> {
    first_sequence: SequenceNumber,
    count: u32,
    cursor: Cursor<'a>,
    decoded: u32,
    /// Set after the last item: the end, or an error. (A count past the declared one cannot
    /// mark this: the declared count may be `u32::MAX`.)
    finished: bool,
}

impl<'a> BatchReader<'a> {
    /// Reads the header of `encoded`; fails if it is shorter than the header or its sequence
    /// range would overflow.
    pub fn new(encoded: &'a [u8]) -> std::result::Result<Self, DecodeError> {
        let mut cursor = Cursor::new(encoded);
        let first_sequence = SequenceNumber(cursor.u64()?);
        let count = cursor.u32()?;
        let last = first_sequence.0.checked_add(u64::from(count));
        if last.is_none_or(|last| last > SequenceNumber::MAX.0 + 1) {
            return Err(DecodeError {
                offset: 0,
                reason: "batch sequence numbers overflow 56 bits",
            });
        }
        Ok(BatchReader {
            first_sequence,
            count,
            cursor,
            decoded: 0,
            finished: false,
        })
    }

    /// The sequence number of the first operation.
    pub fn first_sequence(&self) -> SequenceNumber {
        self.first_sequence
    }

    /// How many operations the header declares.
    #[cfg_attr(
        not(feature = "internals"),
        allow(dead_code, reason = "read by the `shale` program's WAL dump and the fuzz checks")
    )]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The next operation with the keyspace it belongs to (the [`Iterator`] yields the
    /// operations alone); after the declared count, an error if bytes are left over. After an
    /// error the iteration ends.
    pub fn next_in_keyspace(
        &mut self,
    ) -> Option<std::result::Result<(KeyspaceId, BatchOperation<'a>), DecodeError>> {
        if self.finished {
            return None;
        }
        if self.decoded == self.count {
            self.finished = true;
            if self.cursor.is_empty() {
                return None;
            }
            return Some(Err(self
                .cursor
                .error("bytes after the last operation of a write batch")));
        }
        match self.decode_one() {
            Ok(operation) => {
                self.decoded += 1;
                Some(Ok(operation))
            }
            Err(error) => {
                self.finished = true;
                Some(Err(error))
            }
        }
    }

    fn decode_one(
        &mut self,
    ) -> std::result::Result<(KeyspaceId, BatchOperation<'a>), DecodeError> {
        let tag_offset = self.cursor.position();
        let mut operation = self.cursor.u8()?;
        let mut keyspace = KeyspaceId::DEFAULT;
        if operation & KEYSPACE_OPERATION_BIT != 0 {
            operation &= !KEYSPACE_OPERATION_BIT;
            keyspace = KeyspaceId(self.cursor.varint32()?);
            if keyspace == KeyspaceId::DEFAULT {
                return Err(DecodeError {
                    offset: tag_offset,
                    reason: "operation names keyspace 0 explicitly",
                });
            }
        }
        self.decode_operation(operation, tag_offset)
            .map(|operation| (keyspace, operation))
    }

    fn decode_operation(
        &mut self,
        operation: u8,
        tag_offset: usize,
    ) -> std::result::Result<BatchOperation<'a>, DecodeError> {
        if operation == RANGE_DELETE_OPERATION {
            let start = self.length_prefixed_within(MAX_KEY_SIZE, "key over the size limit")?;
            let end = self.length_prefixed_within(MAX_KEY_SIZE, "key over the size limit")?;
            if start > end {
                return Err(DecodeError {
                    offset: tag_offset,
                    reason: "range deletion whose start sorts after its end",
                });
            }
            return Ok(BatchOperation::DeleteRange { start, end });
        }
        if operation == MERGE_OPERATION {
            let key = self.length_prefixed_within(MAX_KEY_SIZE, "key over the size limit")?;
            let operand =
                self.length_prefixed_within(MAX_VALUE_SIZE, "merge operand over the size limit")?;
            return Ok(BatchOperation::Merge { key, operand });
        }
        let kind = ValueKind::from_byte(operation).ok_or(DecodeError {
            offset: tag_offset,
            reason: "unknown operation kind in write batch",
        })?;
        let key = self.length_prefixed_within(MAX_KEY_SIZE, "key over the size limit")?;
        match kind {
            ValueKind::Value => {
                let value =
                    self.length_prefixed_within(MAX_VALUE_SIZE, "value over the size limit")?;
                Ok(BatchOperation::Put { key, value })
            }
            ValueKind::Tombstone => Ok(BatchOperation::Delete { key }),
            // Byte 2 is a range deletion in a batch (handled above).
            ValueKind::Merge => Err(DecodeError {
                offset: tag_offset,
                reason: "unknown operation kind in write batch",
            }),
        }
    }

    /// A length-prefixed key or value of at most `limit` bytes. A longer one was never written
    /// by `WriteBatch`, which checks the limits, and no table could hold it.
    fn length_prefixed_within(
        &mut self,
        limit: usize,
        reason: &'static str,
    ) -> std::result::Result<&'a [u8], DecodeError> {
        let offset = self.cursor.position();
        let bytes = self.cursor.length_prefixed()?;
        if bytes.len() > limit {
            return Err(DecodeError { offset, reason });
        }
        Ok(bytes)
    }
}

impl<'a> Iterator for BatchReader<'a> {
    type Item = std::result::Result<BatchOperation<'a>, DecodeError>;

    /// The next operation; after the declared count, an error if bytes are left over. After an
    /// error the iteration ends.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_in_keyspace()
            .map(|item| item.map(|(_, operation)| operation))
    }
}

/// Checks a range deletion's keys: each within [`MAX_KEY_SIZE`], the start not after the end.
pub(crate) fn check_range(start: &[u8], end: &[u8]) -> Result<()> {
    check_key(start)?;
    check_key(end)?;
    if start > end {
        return Err(crate::Error::InvalidArgument(format!(
            "delete_range: the start key \"{}\" sorts after the end key \"{}\"; the range is \
             [start, end), from start up to but not including end",
            start.escape_ascii(),
            end.escape_ascii()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_format_md() {
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v1").unwrap();
        batch.delete(b"gone").unwrap();
        batch.set_first_sequence(SequenceNumber(7));
        let expected: Vec<u8> = [
            &[7, 0, 0, 0, 0, 0, 0, 0][..],   // first sequence number
            &[2, 0, 0, 0],                   // count
            &[1, 1, b'k', 2, b'v', b'1'],    // put k = v1
            &[0, 4, b'g', b'o', b'n', b'e'], // delete gone
        ]
        .concat();
        assert_eq!(batch.encoded(), expected.as_slice());
    }

    #[test]
    fn round_trip_through_reader() {
        let mut batch = WriteBatch::new();
        batch.put(b"", b"").unwrap();
        batch.put(b"a", &[9; 300]).unwrap();
        batch.delete(b"a").unwrap();
        batch.set_first_sequence(SequenceNumber(100));
        let reader = BatchReader::new(batch.encoded()).unwrap();
        assert_eq!(reader.first_sequence(), SequenceNumber(100));
        let operations: Vec<_> = reader.map(|operation| operation.unwrap()).collect();
        assert_eq!(
            operations,
            vec![
                BatchOperation::Put {
                    key: b"",
                    value: b""
                },
                BatchOperation::Put {
                    key: b"a",
                    value: &[9; 300]
                },
                BatchOperation::Delete { key: b"a" },
            ]
        );
        assert_eq!(batch.iter().count(), 3);
    }

    #[test]
    fn oversized_key_is_refused_and_batch_unchanged() {
        let mut batch = WriteBatch::new();
        let error = batch
            .put(&vec![0; crate::key::MAX_KEY_SIZE + 1], b"v")
            .unwrap_err();
        assert!(matches!(error, crate::Error::InvalidArgument(_)));
        assert!(batch.is_empty());
        assert_eq!(batch.approximate_size(), BATCH_HEADER_SIZE);
    }

    #[test]
    fn damaged_batches_are_errors() {
        let mut batch = WriteBatch::new();
        batch.put(b"key", b"value").unwrap();
        let encoded = batch.encoded().to_vec();
        for cut in 0..encoded.len() {
            let truncated = &encoded[..cut];
            let outcome: std::result::Result<Vec<_>, _> =
                BatchReader::new(truncated).and_then(|reader| reader.collect());
            assert!(outcome.is_err(), "truncated at {cut} decoded");
        }
        let mut trailing = encoded.clone();
        trailing.push(0);
        assert!(
            BatchReader::new(&trailing)
                .unwrap()
                .any(|operation| operation.is_err())
        );
        // A key one byte over the limit, which `WriteBatch::delete` would have refused.
        let mut oversized_key = vec![0; 8];
        oversized_key.extend_from_slice(&1u32.to_le_bytes());
        oversized_key.push(ValueKind::Tombstone as u8);
        put_length_prefixed(&mut oversized_key, &vec![b'k'; MAX_KEY_SIZE + 1]);
        let error = BatchReader::new(&oversized_key)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(error.offset, BATCH_HEADER_SIZE + 1, "{error:?}");
        // With the largest declared count, an error still ends the iteration.
        let mut largest_count = vec![0; 8];
        largest_count.extend_from_slice(&u32::MAX.to_le_bytes());
        largest_count.extend_from_slice(&[0xff, 0xff]);
        let items: Vec<_> = BatchReader::new(&largest_count).unwrap().take(3).collect();
        assert_eq!(items.len(), 1, "{items:?}");
        let mut bad_kind = encoded;
        bad_kind[BATCH_HEADER_SIZE] = 9;
        let error = BatchReader::new(&bad_kind)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(error.offset, BATCH_HEADER_SIZE);
    }

    #[test]
    fn single_operation_batches_encode_like_built_ones_at_their_exact_size() {
        let value = vec![7u8; 300]; // a two-byte length prefix
        let mut built = WriteBatch::new();
        built.put(b"key", &value).unwrap();
        let single = WriteBatch::single_put(KeyspaceId::DEFAULT, b"key", &value).unwrap();
        assert_eq!(single.encoded, built.encoded);
        assert_eq!(single.encoded.capacity(), single.encoded.len());
        let mut built = WriteBatch::new();
        built.delete(b"gone").unwrap();
        let single = WriteBatch::single_delete(KeyspaceId::DEFAULT, b"gone").unwrap();
        assert_eq!(single.encoded, built.encoded);
        assert_eq!(single.encoded.capacity(), single.encoded.len());
        assert!(WriteBatch::single_put(KeyspaceId::DEFAULT, &vec![0u8; MAX_KEY_SIZE + 1], b"v").is_err());
    }
}
