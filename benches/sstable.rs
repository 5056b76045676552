//! Table build throughput (MB/s of keys and values) and random point lookups (operations per
//! second) on a 100,000-entry table, through the memory map, with and without LZ4.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shaledb::key::internal_key;
use shaledb::key::{FileNumber, ValueKind};
use shaledb::sstable::{Table, TableBuilder};
use shaledb::{Compression, SequenceNumber, TableOptions};

const ENTRY_COUNT: u64 = 100_000;
const VALUE_SIZE: usize = 100;

fn user_key(index: u64) -> Vec<u8> {
    format!("user-key-{index:010}").into_bytes()
}

fn value(index: u64) -> Vec<u8> {
    // Half-compressible values: a repeated tag and the index's bytes.
    let mut value = vec![b'v'; VALUE_SIZE / 2];
    value.extend(
        (0..VALUE_SIZE / 2)
            .map(|position| (index.wrapping_mul(2_654_435_761) >> (position % 32)) as u8),
    );
    value
}

fn build(path: &std::path::Path, compression: Compression) -> u64 {
    let options = TableOptions {
        compression,
        ..TableOptions::default()
    };
    let mut builder = TableBuilder::create(path, options).unwrap();
    for index in 0..ENTRY_COUNT {
        let key = internal_key(
            &user_key(index),
            SequenceNumber(index + 1),
            ValueKind::Value,
        );
        builder.add(&key, &value(index)).unwrap();
    }
    builder.finish().unwrap().file_size
}

fn sstable_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("sstable");
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    let input_bytes = ENTRY_COUNT * (user_key(0).len() as u64 + 8 + VALUE_SIZE as u64);
    for (name, compression) in [("none", Compression::None), ("lz4", Compression::Lz4)] {
        let path = dir.path().join(format!("{name}.sst"));
        group.throughput(Throughput::Bytes(input_bytes));
        group.bench_function(format!("build_100k/{name}"), |b| {
            b.iter(|| build(&path, compression))
        });
        let table = Table::open(&path, FileNumber(1)).unwrap();
        group.throughput(Throughput::Elements(1));
        let mut state = 1u64;
        group.bench_function(format!("get_random_present/{name}"), |b| {
            b.iter(|| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let found = table
                    .get(&user_key((state >> 33) % ENTRY_COUNT), SequenceNumber::MAX)
                    .unwrap();
                black_box(found)
            })
        });
        group.bench_function(format!("get_random_absent/{name}"), |b| {
            b.iter(|| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let found = table
                    .get(&user_key(ENTRY_COUNT + (state >> 33)), SequenceNumber::MAX)
                    .unwrap();
                black_box(found)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sstable_benches);
criterion_main!(benches);
