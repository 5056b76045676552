//! What a commit token costs a write: synced single-put batches from 1 and 16 threads, written
//! with `Db::write` (`plain`) and with `Db::write_with_token` (`token`: one more operation in the
//! batch, a point read of the token keyspace before the commit and one after), each on a fresh
//! database, in the same run. Compare the two as a ratio:
//! `cargo bench --bench commit_tokens`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shaledb::{CommitToken, Db, Options, WriteBatch, WriteOptions};

const PUTS_PER_THREAD: u64 = 64;

fn write_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit_tokens");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    for threads in [1u64, 16] {
        for with_token in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
            group.throughput(Throughput::Elements(threads * PUTS_PER_THREAD));
            let name = if with_token { "token" } else { "plain" };
            group.bench_function(format!("{name}/{threads}_threads"), |bencher| {
                bencher.iter_custom(|iterations| {
                    let started = Instant::now();
                    for iteration in 0..iterations {
                        let workers: Vec<_> = (0..threads)
                            .map(|thread| {
                                let db = Arc::clone(&db);
                                std::thread::spawn(move || {
                                    for put in 0..PUTS_PER_THREAD {
                                        let index =
                                            (iteration * threads + thread) * PUTS_PER_THREAD + put;
                                        let mut batch = WriteBatch::new();
                                        batch.put(&index.to_be_bytes(), &[b'v'; 100]).unwrap();
                                        if with_token {
                                            db.write_with_token(
                                                batch,
                                                CommitToken::new(),
                                                &WriteOptions::SYNC,
                                            )
                                            .unwrap();
                                        } else {
                                            db.write(batch, &WriteOptions::SYNC).unwrap();
                                        }
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
    }
    group.finish();
}

criterion_group!(benches, write_sync);
criterion_main!(benches);
