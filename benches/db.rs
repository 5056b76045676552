//! End-to-end engine benchmarks (db_bench style), 16-byte keys and 100-byte values:
//! `fillrandom` (unsynced single puts), `readrandom` (point reads of present keys on a prefilled
//! database), and `fillsync/<threads>` (synced single puts from 1, 4, 16 and 64 threads, where
//! group commit shares fsyncs). `cargo run --release -- bench` prints the same workloads with
//! fsyncs per second and mean group sizes.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shaledb::{Db, Options, WriteBatch, WriteOptions};

const KEY_SIZE: usize = 16;
const VALUE_SIZE: usize = 100;
const PREFILLED_ENTRIES: u64 = 200_000;

/// SplitMix64, so key order is random but repeatable.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn key(index: u64) -> [u8; KEY_SIZE] {
    let mut key = [0u8; KEY_SIZE];
    key[..8].copy_from_slice(&mix(index).to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

fn value(index: u64) -> [u8; VALUE_SIZE] {
    let mut value = [b'v'; VALUE_SIZE];
    value[..8].copy_from_slice(&index.to_le_bytes());
    value
}

fn options() -> Options {
    Options {
        sync_writes: false,
        ..Options::default()
    }
}

fn fill_random(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut next = 0u64;
    let mut group = c.benchmark_group("db");
    group
        .throughput(Throughput::Elements(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    group.bench_function("fillrandom", |bencher| {
        bencher.iter(|| {
            next += 1;
            db.put(&key(next), &value(next)).unwrap();
        })
    });
    group.finish();
}

fn read_random(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for index in 0..PREFILLED_ENTRIES {
        db.put(&key(index), &value(index)).unwrap();
    }
    db.flush().unwrap();
    let mut next = 0u64;
    let mut group = c.benchmark_group("db");
    group
        .throughput(Throughput::Elements(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    group.bench_function("readrandom", |bencher| {
        bencher.iter(|| {
            next += 1;
            let index = mix(next) % PREFILLED_ENTRIES;
            black_box(db.get(&key(index)).unwrap().expect("prefilled key"));
        })
    });
    group.finish();
}

fn fill_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("db/fillsync");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    for threads in [1u64, 4, 16, 64] {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path(), options()).unwrap());
        let puts_per_thread = 64;
        group.throughput(Throughput::Elements(threads * puts_per_thread));
        group.bench_function(format!("{threads}_threads"), |bencher| {
            bencher.iter_custom(|iterations| {
                let started = Instant::now();
                for iteration in 0..iterations {
                    let workers: Vec<_> = (0..threads)
                        .map(|thread| {
                            let db = Arc::clone(&db);
                            std::thread::spawn(move || {
                                for put in 0..puts_per_thread {
                                    let index =
                                        (iteration * threads + thread) * puts_per_thread + put;
                                    let mut batch = WriteBatch::new();
                                    batch.put(&key(index), &value(index)).unwrap();
                                    db.write(batch, &WriteOptions::SYNC).unwrap();
                                }
                            })
                        })
                        .collect();
                    for worker in workers {
                        worker.join().unwrap();
                    }
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fill_random, read_random, fill_sync);
criterion_main!(benches);
