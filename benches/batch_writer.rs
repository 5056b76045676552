//! `BatchWriter` against hand-built batches: one producer writing single puts through a
//! `BatchWriter` (keeping a window of durable tickets outstanding) compared with the same puts
//! grouped by hand into 1,000-operation `WriteBatch`es, every commit synced. The ratio of the two
//! throughputs is the number that matters; the target is at least one half.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shaledb::{
    BatchStrategy, BatchWriter, BatchWriterOptions, Db, Options, Ticket, WriteBatch, WriteOptions,
};

/// Puts per benchmark iteration.
const OPERATIONS: usize = 10_000;
/// Operations per hand-built batch.
const HAND_BUILT_BATCH: usize = 1_000;
/// Tickets the pipelined producer keeps outstanding before it waits on the oldest.
const OUTSTANDING_TICKETS: usize = 4_000;
const VALUE: [u8; 100] = [0x5a; 100];

fn key(index: usize) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(b"batchkey");
    key[8..].copy_from_slice(&(index as u64).to_be_bytes());
    key
}

fn hand_built(db: &Db) {
    let mut batch = WriteBatch::new();
    for index in 0..OPERATIONS {
        batch.put(&key(index), &VALUE).expect("valid put");
        if batch.len() == HAND_BUILT_BATCH {
            db.write(std::mem::take(&mut batch), &WriteOptions::SYNC)
                .expect("write");
        }
    }
    db.write(batch, &WriteOptions::SYNC).expect("write");
}

fn pipelined(writer: &BatchWriter) {
    let mut tickets: VecDeque<Ticket> = VecDeque::with_capacity(OUTSTANDING_TICKETS);
    for index in 0..OPERATIONS {
        if tickets.len() == OUTSTANDING_TICKETS
            && let Some(oldest) = tickets.pop_front()
        {
            oldest.wait().expect("durable");
        }
        tickets.push_back(writer.put(&key(index), &VALUE).expect("put"));
    }
    // FixedSize holds a last partial batch until a flush.
    writer.flush().expect("flush");
    for ticket in tickets {
        ticket.wait().expect("durable");
    }
}

fn bench_batch_writer(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Arc::new(Db::open(dir.path(), Options::default()).expect("open"));
    let mut group = c.benchmark_group("batch_writer");
    group.sample_size(10);
    group.throughput(Throughput::Elements(OPERATIONS as u64));
    group.bench_function("hand_built_1000_sync", |b| {
        b.iter(|| hand_built(black_box(&db)))
    });
    let strategies = [
        ("low_latency", BatchStrategy::LowLatency),
        ("fixed_1000", BatchStrategy::FixedSize(1000)),
        (
            "adaptive",
            BatchStrategy::Adaptive {
                min_operations: 64,
                max_operations: 4096,
                target_latency: std::time::Duration::from_millis(5),
            },
        ),
    ];
    for (name, strategy) in strategies {
        let options = BatchWriterOptions {
            strategy,
            ..BatchWriterOptions::default()
        };
        let writer = BatchWriter::new(Arc::clone(&db), options).expect("writer");
        group.bench_function(format!("pipelined_{name}"), |b| {
            b.iter(|| pipelined(black_box(&writer)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_batch_writer);
criterion_main!(benches);
