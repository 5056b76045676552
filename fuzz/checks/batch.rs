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

use shaledb::batch::{BATCH_HEADER_SIZE, BatchOperation, BatchReader};
use shaledb::{MAX_KEY_SIZE, MAX_VALUE_SIZE, WriteBatch};

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
    let Some(operations) = decode_whole(reader, data.len()) else {
        return;
    };
    assert_eq!(
        operations.len(),
        declared as usize,
        "a batch decoded whole holds a different number of operations than its header declares"
    );
    let rebuilt = rebuild(&operations);
    assert!(
        rebuilt.iter().eq(operations.iter().copied()),
        "WriteBatch::iter differs from the operations it was built from"
    );
    let encoded = &rebuilt.encoded()[8..];
    let input = &data[8..];
    if encoded != input {
        // Only overlong varints may make the input longer than its canonical encoding.
        assert!(
            encoded.len() < input.len(),
            "re-encoding differs from the input and is not shorter"
        );
        let again = BatchReader::new(rebuilt.encoded())
            .expect("a rebuilt batch's header decodes")
            .collect::<Result<Vec<_>, _>>()
            .expect("a rebuilt batch decodes");
        assert_eq!(again, operations, "the re-encoding decodes differently");
    }
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

/// Every operation, or `None` after an error; checks that nothing follows an error and that
/// every decoded operation is within the limits.
fn decode_whole(reader: BatchReader<'_>, length: usize) -> Option<Vec<BatchOperation<'_>>> {
    let mut operations = Vec::new();
    let mut failed = false;
    for item in reader {
        assert!(!failed, "the batch reader went on after an error");
        match item {
            Ok(operation) => {
                check_limits(&operation);
                operations.push(operation);
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
        };
        assert!(added.is_ok(), "WriteBatch refused a decoded operation");
    }
    batch
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[("write_batch", write_batch)];
