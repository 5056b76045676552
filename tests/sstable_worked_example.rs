//! The worked example of FORMAT.md, section 5: a data block of three entries with restart
//! interval 2, stored uncompressed with its trailer. The bytes are part of the on-disk format;
//! if this test fails, either the code broke the format or FORMAT.md must change with a new
//! format version. Run with `--nocapture` to print the hex dump.

use std::sync::Arc;

use shaledb::SequenceNumber;
use shaledb::key::ValueKind;
use shaledb::key::internal_key;
use shaledb::sstable::format::{COMPRESSION_TYPE_NONE, block_checksum};
use shaledb::sstable::{Block, BlockBuilder};

fn example_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (
            internal_key(b"ab", SequenceNumber(3), ValueKind::Value),
            b"x".to_vec(),
        ),
        (
            internal_key(b"ac", SequenceNumber(2), ValueKind::Tombstone),
            Vec::new(),
        ),
        (
            internal_key(b"b", SequenceNumber(1), ValueKind::Value),
            b"yz".to_vec(),
        ),
    ]
}

fn stored_example_block() -> Vec<u8> {
    let mut builder = BlockBuilder::new(2);
    for (key, value) in example_entries() {
        builder.add(&key, &value);
    }
    let mut stored = builder.finish();
    let checksum = block_checksum(&stored, COMPRESSION_TYPE_NONE);
    stored.push(COMPRESSION_TYPE_NONE);
    stored.extend_from_slice(&checksum.to_le_bytes());
    stored
}

#[test]
fn worked_example_block_bytes() {
    let stored = stored_example_block();
    for (row, chunk) in stored.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        println!("{:04x}: {}", row * 16, hex.join(" "));
    }
    let expected_without_checksum: &[u8] = &[
        0x00, 0x0a, 0x01, b'a', b'b', 0x01, 0x03, 0, 0, 0, 0, 0, 0, b'x', // entry 0 (restart)
        0x01, 0x09, 0x00, b'c', 0x00, 0x02, 0, 0, 0, 0, 0, 0, // entry 1 shares "a"
        0x00, 0x09, 0x02, b'b', 0x01, 0x01, 0, 0, 0, 0, 0, 0, b'y', b'z', // entry 2 (restart)
        0x00, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00, // restart offsets 0 and 26
        0x02, 0x00, 0x00, 0x00, // restart count
        0x00, // compression type: none
    ];
    assert_eq!(&stored[..stored.len() - 4], expected_without_checksum);
    let checksum = crc32fast::hash(expected_without_checksum);
    assert_eq!(&stored[stored.len() - 4..], &checksum.to_le_bytes());
    let block = Arc::new(Block::decode_stored("example", 0, &stored, true).unwrap());
    let mut iterator = block.iter();
    iterator.seek_to_first().unwrap();
    for (key, value) in example_entries() {
        assert_eq!((iterator.key(), iterator.value()), (&key[..], &value[..]));
        iterator.next().unwrap();
    }
    assert!(!iterator.valid());
}
