//! Log throughput: appending records to a file without sync, and replaying a log, in MB/s of
//! payload (FORMAT.md section 4). Run with `cargo bench --bench log`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shaledb::log::{LogEvent, LogFileKind, LogReader, LogWriter, encode_log};

/// Payload bytes written or replayed per benchmark iteration.
const BYTES_PER_ITERATION: usize = 4 * 1024 * 1024;

fn payloads(payload_size: usize) -> Vec<Vec<u8>> {
    let count = BYTES_PER_ITERATION / payload_size;
    (0..count)
        .map(|index| vec![(index % 251) as u8; payload_size])
        .collect()
}

fn write_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_write");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    let dir = tempfile::tempdir().expect("temporary directory");
    for payload_size in [100, 4096] {
        let records = payloads(payload_size);
        group.throughput(Throughput::Bytes(BYTES_PER_ITERATION as u64));
        group.bench_function(format!("add_record_{payload_size}B"), |bench| {
            bench.iter(|| {
                let path = dir.path().join("bench.wal");
                let mut writer = LogWriter::create(&path, LogFileKind::Wal).expect("create");
                for record in &records {
                    writer.add_record(black_box(record)).expect("add_record");
                }
                writer.offset()
            })
        });
        group.bench_function(
            format!("add_records_groups_of_64_{payload_size}B"),
            |bench| {
                bench.iter(|| {
                    let path = dir.path().join("bench.wal");
                    let mut writer = LogWriter::create(&path, LogFileKind::Wal).expect("create");
                    for group in records.chunks(64) {
                        writer.add_records(black_box(group)).expect("add_records");
                    }
                    writer.offset()
                })
            },
        );
    }
    group.finish();
}

fn read_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_read");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    for payload_size in [100, 4096] {
        let bytes = encode_log(LogFileKind::Wal, payloads(payload_size));
        group.throughput(Throughput::Bytes(BYTES_PER_ITERATION as u64));
        group.bench_function(format!("replay_{payload_size}B"), |bench| {
            bench.iter(|| {
                let reader = LogReader::from_bytes("bench.wal", bytes.clone(), LogFileKind::Wal)
                    .expect("valid header");
                let mut total = 0usize;
                for event in reader {
                    if let LogEvent::Record { payload, .. } = event {
                        total += payload.len();
                    }
                }
                assert_eq!(
                    total,
                    BYTES_PER_ITERATION - BYTES_PER_ITERATION % payload_size
                );
                black_box(total)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, write_throughput, read_throughput);
criterion_main!(benches);
