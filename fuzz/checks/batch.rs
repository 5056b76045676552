//! Fuzz check for the write-batch encoding (FORMAT.md section 7), which recovery decodes from
//! every write-ahead-log record.
//!
//! `write_batch` feeds arbitrary bytes to `BatchReader`, as recovery does. It must not panic; its
//! iteration must end after the first error; and a batch it decodes whole must hold exactly the
//! declared number of operations, each within the key and value limits (so `WriteBatch::put`
//! and `delete` accept them), and must re-encode through `WriteBatch` to the same operations.
//! The re-encoding is byte for byte the input unless the input spelled a length with a longer
//! varint than needed, which the shared varint reader accepts (FORMAT.md section 1 bounds a
//! varint's length, not its minimality); then it is shorter and decodes to the same operations.
//!
//! Keyspaces (FORMAT.md 7, bit `0x10`): the reader is driven through
//! `BatchReader::next_in_keyspace`, which must yield the same operations as the plain iterator,
//! each with its keyspace (keyspace 0 is never spelled out: the decoder refuses it). A batch
//! decoded whole is encoded again by a reference encoder written from FORMAT.md, not the
//! engine's, which must give the input back byte for byte (or, with overlong varints, a shorter
//! batch that decodes to the same operations in the same keyspaces); for a batch of the default
//! keyspace alone, `WriteBatch` must produce exactly the reference encoding. `WriteBatch` names
//! a keyspace only through a `Keyspace` handle of an open database, so batches across keyspaces
//! built through the API are checked by the `db_model` target and by the seeds that
//! `tests/fuzz_corpus.rs` writes from such handles.

use shaledb::batch::{BATCH_HEADER_SIZE, BatchOperation, BatchReader};
use shaledb::key::KeyspaceId;
use shaledb::{MAX_KEY_SIZE, MAX_VALUE_SIZE, WriteBatch};

/// An operation with the keyspace it belongs to.
type Operation<'a> = (KeyspaceId, BatchOperation<'a>);

/// Arbitrary bytes as one encoded write batch (a WAL record payload).
pub fn write_batch(data: &[u8]) {
    let Ok(reader) = BatchReader::new(data) else {
        assert!(
            data.len() < BATCH_HEADER_SIZE || sequence_range_overflows(data),
            "a header was refused for no documented reason"
        );
        return;
    };
    let declared = BatchReader::count(&reader);
    let plain = reader.clone().collect::<Vec<_>>();
    let Some(operations) = decode_whole(reader, data.len()) else {
        return;
    };
    assert!(
        plain
            .iter()
            .map(|item| item.as_ref().ok())
            .eq(operations.iter().map(|(_, operation)| Some(operation))),
        "the plain iterator and next_in_keyspace decode differently"
    );
    assert_eq!(
        operations.len(),
        declared as usize,
        "a batch decoded whole holds a different number of operations than its header declares"
    );
    check_reference_encoding(data, &operations);
    let in_default = operations
        .iter()
        .all(|(keyspace, _)| *keyspace == KeyspaceId::DEFAULT);
    let without_keyspaces: Vec<_> = operations.iter().map(|&(_, operation)| operation).collect();
    let rebuilt = rebuild(&without_keyspaces);
    assert!(
        rebuilt.iter().eq(without_keyspaces.iter().copied()),
        "WriteBatch::iter differs from the operations it was built from"
    );
    if in_default {
        let reference = reference_encoding(&data[..8], &operations);
        assert_eq!(
            &rebuilt.encoded()[8..],
            &reference[8..],
            "WriteBatch encodes a batch of the default keyspace other than FORMAT.md says"
        );
    }
}

/// The reference encoding of `operations` is the input, or (with overlong varints in the
/// input) shorter and decoding to the same operations.
fn check_reference_encoding(data: &[u8], operations: &[Operation<'_>]) {
    let encoded = reference_encoding(&data[..8], operations);
    if encoded == data {
        return;
    }
    // Only overlong varints may make the input longer than its canonical encoding.
    assert!(
        encoded.len() < data.len(),
        "re-encoding differs from the input and is not shorter"
    );
    let again = BatchReader::new(&encoded).expect("a re-encoded batch's header decodes");
    let again = decode_whole(again, encoded.len()).expect("a re-encoded batch decodes");
    assert_eq!(again, operations, "the re-encoding decodes differently");
}

/// `operations` encoded as FORMAT.md section 7 says, behind the 8-byte `first_sequence`.
fn reference_encoding(first_sequence: &[u8], operations: &[Operation<'_>]) -> Vec<u8> {
    let mut out = first_sequence.to_vec();
    let count = u32::try_from(operations.len()).expect("at most u32::MAX operations");
    out.extend_from_slice(&count.to_le_bytes());
    for &(keyspace, operation) in operations {
        let (kind, key, second) = match operation {
            BatchOperation::Delete { key } => (0x00, key, None),
            BatchOperation::Put { key, value } => (0x01, key, Some(value)),
            BatchOperation::DeleteRange { start, end } => (0x02, start, Some(end)),
            BatchOperation::Merge { key, operand } => (0x03, key, Some(operand)),
        };
        if keyspace == KeyspaceId::DEFAULT {
            out.push(kind);
        } else {
            out.push(kind | 0x10);
            leb128(&mut out, u64::from(keyspace.0));
        }
        for bytes in std::iter::once(key).chain(second) {
            leb128(&mut out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// Appends `value` as unsigned LEB128 (FORMAT.md section 1).
fn leb128(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Whether the header's first sequence plus its count would pass 2^56.
fn sequence_range_overflows(data: &[u8]) -> bool {
    let (Some(first), Some(count)) = (data.get(..8), data.get(8..12)) else {
        return false;
    };
    let first = u64::from_le_bytes(first.try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(count.try_into().expect("4 bytes"));
    first
        .checked_add(u64::from(count))
        .is_none_or(|last| last > shaledb::SequenceNumber::MAX.0 + 1)
}

/// Every operation with its keyspace, or `None` after an error; checks that nothing follows an
/// error and that every decoded operation is within the limits and names a keyspace as
/// FORMAT.md 7 allows.
fn decode_whole(mut reader: BatchReader<'_>, length: usize) -> Option<Vec<Operation<'_>>> {
    let mut operations = Vec::new();
    let mut failed = false;
    while let Some(item) = reader.next_in_keyspace() {
        assert!(!failed, "the batch reader went on after an error");
        match item {
            Ok((keyspace, operation)) => {
                check_limits(&operation);
                operations.push((keyspace, operation));
            }
            Err(error) => {
                assert!(error.offset <= length, "error offset past the input");
                failed = true;
            }
        }
    }
    (!failed).then_some(operations)
}

fn check_limits(operation: &BatchOperation<'_>) {
    let (key, value) = match *operation {
        BatchOperation::Put { key, value } => (key, value),
        BatchOperation::Delete { key } => (key, &[][..]),
        BatchOperation::DeleteRange { start, end } => {
            assert!(
                start <= end,
                "decoded a range deletion ending before its start"
            );
            assert!(end.len() <= MAX_KEY_SIZE, "decoded a key over the limit");
            (start, &[][..])
        }
        BatchOperation::Merge { key, operand } => (key, operand),
    };
    assert!(key.len() <= MAX_KEY_SIZE, "decoded a key over the limit");
    assert!(
        value.len() <= MAX_VALUE_SIZE,
        "decoded a value over the limit"
    );
}

/// The operations added to a fresh `WriteBatch`, which must accept every one.
fn rebuild(operations: &[BatchOperation<'_>]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for operation in operations {
        let added = match *operation {
            BatchOperation::Put { key, value } => batch.put(key, value),
            BatchOperation::Delete { key } => batch.delete(key),
            BatchOperation::DeleteRange { start, end } => batch.delete_range(start, end),
            BatchOperation::Merge { key, operand } => batch.merge(key, operand),
        };
        assert!(added.is_ok(), "WriteBatch refused a decoded operation");
    }
    batch
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[("write_batch", write_batch)];
