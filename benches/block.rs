//! Block encode and decode throughput (MB/s of uncompressed block contents), for compressible
//! and incompressible values, stored raw and LZ4-compressed. Decode means: check the trailer's
//! checksum, decompress if needed, and iterate every entry.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shaledb::SequenceNumber;
use shaledb::key::ValueKind;
use shaledb::key::internal_key;
use shaledb::sstable::format::{
    BLOCK_TRAILER_SIZE, COMPRESSION_TYPE_LZ4, COMPRESSION_TYPE_NONE, block_checksum,
};
use shaledb::sstable::{Block, BlockBuilder};

/// A deterministic generator (SplitMix64), so runs compare.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn value(&mut self, length: usize, compressible: bool) -> Vec<u8> {
        if compressible {
            (0..length)
                .map(|index| b'a' + ((index / 16) % 4) as u8)
                .collect()
        } else {
            (0..length).map(|_| self.next() as u8).collect()
        }
    }
}

/// Entries filling about 4 KiB: 16-byte user keys, 100-byte values.
fn entries(compressible: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut generator = Generator(42);
    (0..34u64)
        .map(|index| {
            let key = internal_key(
                format!("user-key-{index:07}").as_bytes(),
                SequenceNumber(index),
                ValueKind::Value,
            );
            (key, generator.value(100, compressible))
        })
        .collect()
}

fn encode(entries: &[(Vec<u8>, Vec<u8>)], lz4: bool) -> Vec<u8> {
    let mut builder = BlockBuilder::new(16);
    for (key, value) in entries {
        builder.add(key, value);
    }
    let contents = builder.finish();
    let (mut stored, compression_type) = if lz4 {
        let mut payload = Vec::new();
        shaledb::coding::put_varint32(&mut payload, contents.len() as u32);
        payload.extend_from_slice(&lz4_flex::block::compress(&contents));
        (payload, COMPRESSION_TYPE_LZ4)
    } else {
        (contents, COMPRESSION_TYPE_NONE)
    };
    let checksum = block_checksum(&stored, compression_type);
    stored.push(compression_type);
    stored.extend_from_slice(&checksum.to_le_bytes());
    stored
}

fn decode_and_iterate(stored: &[u8]) -> usize {
    let block = Arc::new(Block::decode_stored("bench", 0, stored, true).unwrap());
    let mut iterator = block.iter();
    iterator.seek_to_first().unwrap();
    let mut total = 0;
    while iterator.valid() {
        total += iterator.key().len() + iterator.value().len();
        iterator.next().unwrap();
    }
    total
}

fn block_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("block");
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for (values, compressible) in [("compressible", true), ("incompressible", false)] {
        let entries = entries(compressible);
        let raw_size = {
            let mut builder = BlockBuilder::new(16);
            entries
                .iter()
                .for_each(|(key, value)| builder.add(key, value));
            builder.finish().len()
        };
        group.throughput(Throughput::Bytes(raw_size as u64));
        for (compression, lz4) in [("none", false), ("lz4", true)] {
            group.bench_function(format!("encode/{values}/{compression}"), |b| {
                b.iter(|| encode(black_box(&entries), lz4))
            });
            let stored = encode(&entries, lz4);
            assert!(stored.len() > BLOCK_TRAILER_SIZE);
            group.bench_function(format!("decode/{values}/{compression}"), |b| {
                b.iter(|| decode_and_iterate(black_box(&stored)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, block_benches);
criterion_main!(benches);
